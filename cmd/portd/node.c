/*
 * node.c — ports on other nodes. A proxy port stands for a port of
 * another node; sending to it sends over the link to that node, and the
 * sender's send completes when that node has queued the message (its ACK).
 * Rights inside a message travel as global ids (node, incarnation, port id)
 * and become proxies (or the real port, back home) on arrival. This file
 * is the node layer's face: its init, the link callbacks that hand each
 * frame to its handler, deaths and special ports; the table of nodes and
 * the global ids are in node_peer.c, messages in node_msg.c, name
 * resolution in node_names.c.
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

static void
on_dead(struct rnode *rn, const uint8_t *b, size_t n)
{
	uint64_t inc, id;
	struct port *p;

	if (rmsg_port_event(b, n, &inc, &id) < 0 || inc != rn->inc || (p = map_del(&rn->proxies, id)) == NULL)
		return;
	log_debug("node %s: port %llu died", rn->name, (unsigned long long)id);
	node_peer_proxy_gone(p);
	ipc_port_destroy(p);
	ipc_port_unref(p);
}

static void
on_so_gone(struct rnode *rn, const uint8_t *b, size_t n)
{
	uint64_t inc, id;

	if (rmsg_port_event(b, n, &inc, &id) < 0 || inc != node_peers.conf->incarnation)
		return;
	/* Only against a send-once right to a port of ours that rn holds (node_export.c). */
	if (node_export_so_gone(rn, id))
		ipc_kmsg_no_reply(ipc_port_by_id(id));
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
		node_export_add(rn, sp, MX_RIGHT_SEND);
		wb_u32(&w, 0);
		wb_u64(&w, sp->id);
	}
	node_peer_send(rn, LF_SPECIAL_ANS, &w, NULL, 0);
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
	if (status == 0) {
		snprintf(g.node, sizeof(g.node), "%s", rn->name);
		g.inc = rn->inc;
		g.id = id;
		p = node_peer_import(&g);
		node_export_received(p, MX_RIGHT_SEND);
		if (sp->task != NULL) {
			sp->done(sp->task, sp->frame_id, 0, p);
		} else {
			/* The asker is gone: the right rn counted for us goes back at once. */
			ipc_port_send_add(p, 1);
			ipc_port_send_drop(p, 1);
			ipc_port_unref(p);
		}
	} else if (sp->task != NULL) {
		sp->done(sp->task, sp->frame_id, status, NULL);
	}
	free(sp);
}

/* ---- link callbacks ---- */

/*
 * A member may come and go as often as it likes: its links' lines are
 * throttled (libcommon/log.h), with a burst that a real cluster's
 * comings and goings never reach.
 */
static struct log_throttle links_thr = { .what = "node: links", .pri = LOG_INFO, .burst = 64 };

static void
link_up(struct link *l, const char *node, uint64_t inc)
{
	struct rnode *rn = node_peer_get(node, NODE_MAKE_ALWAYS);

	if (rn->inc != 0 && rn->inc != inc) {
		log_throttled(&links_thr, "node %s: restarted (new incarnation): its old ports are dead here", node);
		node_peer_reset(rn, "restarted");
	}
	ev_timer_disarm(node_peers.loop, &rn->gone);
	rn->inc = inc;
	rn->lk = l;
	link_set_data(l, rn);
	log_throttled(&links_thr, "node %s: linked", node);
	node_names_tell_keysrv(l, node);
	node_names_here_send(rn);
	node_names_hints_send(rn);
}

static void
link_down(struct link *l, const char *why)
{
	struct rnode *rn = link_data(l);

	if (rn == NULL || rn->lk != l)
		return;
	rn->nacks = 0;
	ev_timer_disarm(node_peers.loop, &rn->acktimer);
	rn->lk = NULL;
	log_throttled(&links_thr, "node %s: link down: %s", rn->name, why);
	node_export_link_down(rn);
	node_msg_fail_pending(rn);
	ev_timer_arm(node_peers.loop, &rn->gone, ev_now() + node_peers.conf->node_timeout_ms);
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
	case LF_RELEASE: node_export_on_release(rn, p, len); break;
	case LF_XFER: node_export_on_xfer(rn, p, len); break;
	case LF_XFER_ACK: node_export_on_xfer_ack(rn, p, len); break;
	default: {
		static struct log_throttle thr = LOG_THROTTLE_INIT("node: unknown frames", LOG_WARNING);
		log_throttled(&thr, "node %s: unknown frame type %u: closing the link", rn->name, type);
		link_close(l, "unknown frame type");
		break;
	}
	}
}

/* ---- what portd's other parts ask ---- */

void
node_port_died(struct port *p)
{
	struct rnode *rn;
	struct wbuf w = { 0 };

	if (p->rnode != NULL)
		return;
	node_export_port_died(p);
	if (!p->exported)
		return;
	wb_u64(&w, node_peers.conf->incarnation);
	wb_u64(&w, p->id);
	LIST_FOREACH(rn, &node_peers.list, link)
		node_peer_send(rn, LF_DEAD, &w, NULL, 0);
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
	node_peer_send(proxy->rnode, LF_SO_GONE, &w, NULL, 0);
	free(w.p);
}

int
node_special_get(struct task *t, const struct mx_frame_hdr *h, uint32_t which, const char *node,
    node_special_fn *done)
{
	struct rnode *rn = node_peer_get(node, NODE_FIND);
	struct rspecial *sp;
	struct wbuf w = { 0 };
	uint64_t req;

	if (rn == NULL || rn->lk == NULL) {
		if (rn != NULL && rn->addr[0] != '\0' && node_peers.have_links)
			links_connect(node, rn->addr);
		return -MX_ERR_NODEDOWN;
	}
	req = ++rn->next_req;
	wb_u64(&w, req);
	wb_u32(&w, which);
	if (node_peer_send(rn, LF_SPECIAL_REQ, &w, NULL, 0) < 0) {
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
	node_peers.conf = c;
	node_peers.loop = l;
	snprintf(crt, sizeof(crt), "%s/node.crt", node_peers.conf->state_dir);
	if (node_peers.conf->nlistens == 0 && access(crt, R_OK) == 0) {
		snprintf(node_peers.conf->listens[0], sizeof(node_peers.conf->listens[0]), ":%u", LINK_DEFAULT_PORT);
		node_peers.conf->nlistens = 1;
		default_listen = 1;
	}
	if (node_peers.conf->nlistens == 0 && node_peers.conf->npeers == 0 && node_peers.conf->broadcast[0] == '\0')
		return 0;	/* a node on its own */
	if (links_init(node_peers.loop, &lc, &cb, why, whysz) < 0)
		return -1;
	node_peers.have_links = 1;
	node_vouch_load();
	for (i = 0; i < node_peers.conf->nlistens; i++) {
		if (links_listen(node_peers.conf->listens[i], why, whysz) == 0)
			continue;
		if (!default_listen)
			return -1;
		/* Another node of this machine has the default port: links go out only. */
		log_warnx("%s: not listening for links", why);
		node_peers.conf->nlistens = 0;
	}
	for (i = 0; i < node_peers.conf->npeers; i++)
		if (links_add_peer(node_peers.conf->peers[i], why, whysz) < 0)
			return -1;
	if (node_peers.conf->broadcast[0] != '\0') {
		if (bcast_init(node_peers.loop, &bc, node_names_bcast_recv, why, whysz) < 0)
			return -1;
		node_peers.have_bcast = 1;
		ev_timer_init(&announce_timer, node_names_announce, NULL);
		ev_timer_arm(node_peers.loop, &announce_timer, ev_now());
	}
	return 0;
}

void
node_flush(void)
{
	if (node_peers.have_links) {
		node_export_flush();	/* the batch's releases, one frame per node */
		links_flush();
	}
}

void
node_reload(void)
{
	if (node_peers.have_links) {
		links_reload();
		node_vouch_load();
	}
	if (node_peers.have_bcast)
		bcast_reload();
}

void
node_shutdown(void)
{
	if (node_peers.have_links) {
		links_close_all();
		node_vouch_free();
	}
	if (node_peers.have_bcast)
		bcast_close();
}
