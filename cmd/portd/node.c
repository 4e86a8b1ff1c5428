/*
 * node.c — ports on other nodes. A proxy port stands for a port of
 * another node; sending to it sends over the link to that node, and the
 * sender's send completes when that node has queued the message (its ACK).
 * Rights inside a message travel as global ids (node, incarnation, port id)
 * and become proxies (or the real port, back home) on arrival. This file
 * keeps the nodes, ids, deaths, special ports and the link callbacks;
 * messages are in node_msg.c, name resolution in node_names.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include "bcast.h"
#include "link.h"
#include "log.h"
#include "rmsg.h"
#include "node_int.h"

struct rnodelist node_list = LIST_HEAD_INITIALIZER(node_list);
int node_have_links, node_have_bcast;
struct node_conf *node_conf;
struct ev_loop *node_loop;

/* ---- nodes ---- */

static void acktimer_cb(struct ev_timer *tm);

static void
gone_timeout(struct ev_timer *tm)
{
	struct rnode *rn = tm->arg;

	log_info("node %s: unreachable for %u s: its ports are dead here", rn->name, node_conf->node_timeout_ms / 1000);
	node_reset(rn, "gone");
}

struct rnode *
node_get(const char *name, int create)
{
	struct rnode *rn;

	LIST_FOREACH(rn, &node_list, link)
		if (strcmp(rn->name, name) == 0)
			return rn;
	if (!create)
		return NULL;
	if ((rn = calloc(1, sizeof(*rn))) == NULL)
		fatal("rnode");
	snprintf(rn->name, sizeof(rn->name), "%s", name);
	ev_timer_init(&rn->gone, gone_timeout, rn);
	ev_timer_init(&rn->acktimer, acktimer_cb, rn);
	LIST_INSERT_HEAD(&node_list, rn, link);
	return rn;
}

static void
acks_flush(struct rnode *rn)
{
	size_t i;

	ev_timer_disarm(node_loop, &rn->acktimer);
	for (i = 0; rn->lk != NULL && i < rn->nacks; i++)
		link_send(rn->lk, LF_ACK, rn->acks + i * 12, 12, NULL, 0);
	rn->nacks = 0;
}

static void
acktimer_cb(struct ev_timer *tm)
{
	acks_flush(tm->arg);
}

void
node_ack_later(struct rnode *rn, uint64_t seq)
{
	if (rn->nacks * 12 == rn->capacks) {
		rn->capacks = rn->capacks ? rn->capacks * 2 : 12 * 16;
		if ((rn->acks = realloc(rn->acks, rn->capacks)) == NULL)
			fatal("acks");
	}
	put_u64(rn->acks + rn->nacks * 12, seq);
	put_u32(rn->acks + rn->nacks * 12 + 8, 0);
	rn->nacks++;
	if (!ev_timer_armed(&rn->acktimer))
		ev_timer_arm(node_loop, &rn->acktimer, ev_now() + ACK_DELAY_MS);
}

int
node_send_frame(struct rnode *rn, uint8_t type, const struct wbuf *w, const void *b, size_t blen)
{
	if (rn->lk == NULL)
		return -1;
	if (rn->nacks > 0)
		acks_flush(rn);	/* in order, and they ride in the same write */
	return link_send(rn->lk, type, w->p, w->len, b, blen);
}

/* A notice from portd itself, with items built by the caller. */
void
node_deliver_kernel(struct port *dest, uint32_t msgid, struct mx_msg *items, struct port *right)
{
	struct kmsg *km = ipc_kmsg_notice(dest, msgid, 0);
	struct mx_item it;
	size_t pos = 0;

	km->len = (uint32_t)items->len;
	if ((km->mem = malloc(items->len ? items->len : 1)) == NULL)
		fatal("kmsg");
	memcpy(km->mem, items->items, items->len);
	km->items = km->mem;
	if (right != NULL) {
		/* The one PORT item carries it. */
		if ((km->rights = calloc(1, sizeof(*km->rights))) == NULL)
			fatal("kmsg");
		while (items_next(km->items, km->len, &pos, &it) > 0) {
			if (it.type == MX_ITEM_PORT) {
				km->rights[0] = (struct kright){ right, MX_RIGHT_SEND,
				    (uint32_t)(it.data - km->items) - MX_ITEM_HDR };
				km->nrights = 1;
			}
		}
	}
	if (ipc_port_enqueue(dest, km, 1) < 0)
		ipc_kmsg_destroy(km, 0);
}

/* The node is gone, or came back as a new life: what stood for its ports dies. */
void
node_reset(struct rnode *rn, const char *why)
{
	size_t i = 0;
	uint64_t k;
	void *v;
	struct port **all;
	size_t n = 0, cap = rn->proxies.count;

	ev_timer_disarm(node_loop, &rn->gone);
	if (cap > 0) {
		if ((all = calloc(cap, sizeof(*all))) == NULL)
			fatal("node_reset");
		while (map_iter(&rn->proxies, &i, &k, &v) && n < cap)
			all[n++] = v;
		map_free(&rn->proxies);
		for (i = 0; i < n; i++) {
			ipc_port_destroy(all[i]);
			ipc_port_unref(all[i]);
		}
		free(all);
	}
	map_free(&rn->proxies);
	/* Send-once rights it held for our ports will never be used. */
	i = 0;
	while (map_iter(&rn->soexp, &i, &k, &v)) {
		struct soexp *se = v;
		while (se->count-- > 0)
			ipc_kmsg_no_reply(se->p);
		ipc_port_unref(se->p);
		free(se);
	}
	map_free(&rn->soexp);
	log_debug("node %s: %s: %zu proxies dead", rn->name, why, n);
}

/* ---- global ids ---- */

void
node_gid_of(struct port *p, struct gid *g)
{
	if (p->rnode != NULL) {
		snprintf(g->node, sizeof(g->node), "%s", p->rnode->name);
		g->inc = p->rnode->inc;
		g->id = p->dead ? 0 : p->rid;
	} else {
		snprintf(g->node, sizeof(g->node), "%s", node_conf->node);
		g->inc = node_conf->incarnation;
		g->id = p->dead ? 0 : p->id;
		p->exported = 1;
	}
}

static struct port *
dead_port(void)
{
	struct port *p = ipc_port_new();

	p->dead = 1;
	return p;
}

/* The port a global id names here, referenced: ours, a proxy, or a dead name. */
struct port *
node_import(const struct gid *g)
{
	struct rnode *rn;
	struct port *p;

	if (strcmp(g->node, node_conf->node) == 0) {
		p = g->inc == node_conf->incarnation && g->id != 0 ? ipc_port_by_id(g->id) : NULL;
		if (p == NULL || p->dead || p->rnode != NULL)
			return dead_port();
		ipc_port_ref(p);
		return p;
	}
	if (g->id == 0)
		return dead_port();
	rn = node_get(g->node, 1);
	if (rn->inc == 0)
		rn->inc = g->inc;
	if (g->inc != rn->inc)
		return dead_port();	/* a port of another life of that node */
	if ((p = map_get(&rn->proxies, g->id)) == NULL) {
		p = ipc_port_new();		/* the map holds this first reference */
		p->rnode = rn;
		p->rid = g->id;
		if (map_put(&rn->proxies, g->id, p) < 0)
			fatal("proxy");
	}
	ipc_port_ref(p);
	return p;
}

static void
on_dead(struct rnode *rn, const uint8_t *b, size_t n)
{
	uint64_t inc, id;
	struct port *p;

	if (rmsg_port_event(b, n, &inc, &id) < 0 || inc != rn->inc || (p = map_del(&rn->proxies, id)) == NULL)
		return;
	log_debug("node %s: port %llu died", rn->name, (unsigned long long)id);
	ipc_port_destroy(p);
	ipc_port_unref(p);
}

static void
on_so_gone(struct rnode *rn, const uint8_t *b, size_t n)
{
	uint64_t inc, id;
	struct soexp *se;
	struct port *p;

	if (rmsg_port_event(b, n, &inc, &id) < 0 || inc != node_conf->incarnation)
		return;
	if ((se = map_get(&rn->soexp, id)) != NULL && se->count > 0 && --se->count == 0) {
		map_del(&rn->soexp, id);
		ipc_port_unref(se->p);
		free(se);
	}
	if ((p = ipc_port_by_id(id)) != NULL && p->rnode == NULL)
		ipc_kmsg_no_reply(p);	/* only ours: a node speaks for its own ports */
}

static void
on_special_req(struct rnode *rn, const uint8_t *b, size_t n)
{
	uint64_t req;
	uint32_t which;
	struct port *sp;
	struct wbuf w = { 0 };

	sp = rmsg_special_req(b, n, &req, &which) < 0 ? NULL : ipc_port_special_get((int)which);

	wb_u64(&w, req);
	if (sp == NULL || sp->dead) {
		wb_u32(&w, MX_ERR_UNAVAIL);
		wb_u64(&w, 0);
	} else {
		sp->exported = 1;
		wb_u32(&w, 0);
		wb_u64(&w, sp->id);
	}
	node_send_frame(rn, LF_SPECIAL_ANS, &w, NULL, 0);
	free(w.p);
}

static void
on_special_ans(struct rnode *rn, const uint8_t *b, size_t n)
{
	uint64_t req, id;
	uint32_t status;
	struct rspecial *sp;
	struct gid g;
	struct port *p;

	if (rmsg_special_ans(b, n, &req, &status, &id) < 0 || (sp = map_del(&rn->specials, req)) == NULL)
		return;
	if (sp->task != NULL) {
		if (status != 0) {
			sp->done(sp->task, sp->frame_id, status, NULL);
		} else {
			snprintf(g.node, sizeof(g.node), "%s", rn->name);
			g.inc = rn->inc;
			g.id = id;
			p = node_import(&g);
			sp->done(sp->task, sp->frame_id, 0, p);
		}
	}
	free(sp);
}

/* ---- link callbacks ---- */

static void
link_up(struct link *l, const char *node, uint64_t inc)
{
	struct rnode *rn = node_get(node, 1);

	if (rn->inc != 0 && rn->inc != inc) {
		log_info("node %s: restarted (new incarnation): its old ports are dead here", node);
		node_reset(rn, "restarted");
	}
	ev_timer_disarm(node_loop, &rn->gone);
	rn->inc = inc;
	rn->lk = l;
	link_set_data(l, rn);
	log_info("node %s: linked", node);
	node_names_tell_keysrv(l, node);
	node_names_here_send(rn);
}

static void
link_down(struct link *l, const char *why)
{
	struct rnode *rn = link_data(l);

	if (rn == NULL || rn->lk != l)
		return;
	rn->nacks = 0;
	ev_timer_disarm(node_loop, &rn->acktimer);
	rn->lk = NULL;
	log_info("node %s: link down: %s", rn->name, why);
	node_msg_fail_pending(rn);
	ev_timer_arm(node_loop, &rn->gone, ev_now() + node_conf->node_timeout_ms);
}

static void
link_frame(struct link *l, uint8_t type, const uint8_t *p, uint32_t len)
{
	struct rnode *rn = link_data(l);

	if (rn == NULL || rn->lk != l)
		return;
	switch (type) {
	case LF_MSG: node_msg_on_msg(rn, p, len); break;
	case LF_ACK: node_msg_on_ack(rn, p, len); break;
	case LF_DEAD: on_dead(rn, p, len); break;
	case LF_SO_GONE: on_so_gone(rn, p, len); break;
	case LF_SPECIAL_REQ: on_special_req(rn, p, len); break;
	case LF_SPECIAL_ANS: on_special_ans(rn, p, len); break;
	case LF_QUERY: node_names_on_query(rn, p, len); break;
	case LF_ANSWER: node_names_on_answer(rn, p, len); break;
	case LF_HERE: node_names_on_here(rn, p, len); break;
	case LF_NODES: node_names_on_nodes(rn, p, len); break;
	default:
		log_warnx("node %s: unknown frame type %u: closing the link", rn->name, type);
		link_close(l, "unknown frame type");
		break;
	}
}

/* ---- what portd's other parts ask ---- */

void
node_port_died(struct port *p)
{
	struct rnode *rn;
	struct wbuf w = { 0 };
	struct soexp *se;

	if (p->rnode != NULL)
		return;
	LIST_FOREACH(rn, &node_list, link) {
		if ((se = map_del(&rn->soexp, p->id)) != NULL) {
			ipc_port_unref(se->p);
			free(se);
		}
	}
	if (!p->exported)
		return;
	wb_u64(&w, node_conf->incarnation);
	wb_u64(&w, p->id);
	LIST_FOREACH(rn, &node_list, link)
		node_send_frame(rn, LF_DEAD, &w, NULL, 0);
	free(w.p);
}

void
node_so_gone(struct port *proxy)
{
	struct wbuf w = { 0 };

	if (proxy->dead || proxy->rnode == NULL)
		return;
	wb_u64(&w, proxy->rnode->inc);
	wb_u64(&w, proxy->rid);
	node_send_frame(proxy->rnode, LF_SO_GONE, &w, NULL, 0);
	free(w.p);
}

int
node_special_get(struct task *t, const struct mx_frame_hdr *h, uint32_t which, const char *node,
    node_special_fn *done)
{
	struct rnode *rn = node_get(node, 0);
	struct rspecial *sp;
	struct wbuf w = { 0 };
	uint64_t req;

	if (rn == NULL || rn->lk == NULL) {
		if (rn != NULL && rn->addr[0] != '\0' && node_have_links)
			links_connect(node, rn->addr);
		return -MX_ERR_NODEDOWN;
	}
	req = ++rn->next_req;
	wb_u64(&w, req);
	wb_u32(&w, which);
	if (node_send_frame(rn, LF_SPECIAL_REQ, &w, NULL, 0) < 0) {
		free(w.p);
		return -MX_ERR_NODEDOWN;
	}
	free(w.p);
	if ((sp = calloc(1, sizeof(*sp))) == NULL)
		fatal("rspecial");
	sp->task = t;
	sp->frame_id = h->id;
	sp->done = done;
	if (map_put(&rn->specials, req, sp) < 0)
		fatal("rspecial");
	return 1;	/* answered later */
}

int
node_init(struct node_conf *c, struct ev_loop *l, char *why, size_t whysz)
{
	static const struct link_cb cb = { link_up, link_frame, link_down };
	static struct ev_timer announce_timer;
	struct link_conf lc = { c->node, c->incarnation, c->state_dir };
	struct bcast_conf bc = { c->node, c->incarnation, c->state_dir, c->broadcast };
	int i;

	char crt[sizeof(c->state_dir) + 16];
	int default_listen = 0;

	/* A certified node listens on the default port unless told otherwise. */
	node_conf = c;
	node_loop = l;
	snprintf(crt, sizeof(crt), "%s/node.crt", node_conf->state_dir);
	if (node_conf->nlistens == 0 && access(crt, R_OK) == 0) {
		snprintf(node_conf->listens[0], sizeof(node_conf->listens[0]), ":%u", LINK_DEFAULT_PORT);
		node_conf->nlistens = 1;
		default_listen = 1;
	}
	if (node_conf->nlistens == 0 && node_conf->npeers == 0 && node_conf->broadcast[0] == '\0')
		return 0;	/* a node on its own */
	if (links_init(node_loop, &lc, &cb, why, whysz) < 0)
		return -1;
	node_have_links = 1;
	for (i = 0; i < node_conf->nlistens; i++) {
		if (links_listen(node_conf->listens[i], why, whysz) == 0)
			continue;
		if (!default_listen)
			return -1;
		/* Another node of this machine has the default port: links go out only. */
		log_warnx("%s: not listening for links", why);
		node_conf->nlistens = 0;
	}
	for (i = 0; i < node_conf->npeers; i++)
		if (links_add_peer(node_conf->peers[i], why, whysz) < 0)
			return -1;
	if (node_conf->broadcast[0] != '\0') {
		if (bcast_init(node_loop, &bc, node_names_bcast_recv, why, whysz) < 0)
			return -1;
		node_have_bcast = 1;
		ev_timer_init(&announce_timer, node_names_announce, NULL);
		ev_timer_arm(node_loop, &announce_timer, ev_now());
	}
	return 0;
}

void
node_flush(void)
{
	if (node_have_links)
		links_flush();
}

void
node_reload(void)
{
	if (node_have_links)
		links_reload();
	if (node_have_bcast)
		bcast_reload();
}

void
node_shutdown(void)
{
	if (node_have_links)
		links_close_all();
	if (node_have_bcast)
		bcast_close();
}
