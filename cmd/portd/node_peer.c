/*
 * node_peer.c — the other nodes as this node knows them: the table of
 * nodes (incarnation, link, address, proxies), frames to them with the
 * ACKs that ride along, a node's reset, and global ids both ways (a port
 * of ours as a gid; a gid as our port, a proxy or a dead name). The rest of
 * the node layer (node.c, node_msg.c, node_names.c) builds on this file;
 * it calls none of them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "crypto.h"
#include "link.h"
#include "log.h"
#include "node_int.h"

struct node_peers node_peers = { .list = LIST_HEAD_INITIALIZER(node_peers.list) };

/* ---- nodes ---- */

static void acktimer_cb(struct ev_timer *tm);

static void
gone_timeout(struct ev_timer *tm)
{
	static struct log_throttle thr = { .what = "node: gone", .pri = LOG_INFO, .burst = 64 };
	struct rnode *rn = tm->arg;

	log_throttled(&thr, "node %s: unreachable for %u s: its ports are dead here", rn->name,
	    node_peers.conf->node_timeout_ms / 1000);
	node_peer_reset(rn, "gone");
}

/* What a dead proxy names once its node's record may be gone: no node ("", a dead name everywhere). */
static struct rnode gone_node;

void
node_peer_proxy_gone(struct port *p)
{
	p->rnode = &gone_node;
}

static void
rnode_free(struct rnode *rn)
{
	LIST_REMOVE(rn, link);
	node_peers.count--;
	ev_timer_disarm(node_peers.loop, &rn->gone);
	ev_timer_disarm(node_peers.loop, &rn->acktimer);
	map_free(&rn->proxies);
	map_free(&rn->pending);
	map_free(&rn->exports);
	map_free(&rn->xfers);
	free(rn->rel.p);
	map_free(&rn->specials);
	free(rn->acks);
	free(rn->hints);
	ipc_acct_untrack(rn->acct_key);
	free(rn);
}

/*
 * Free rn if nothing refers to it: no link, no proxy anyone holds (a proxy
 * only the table holds goes first), no send-once right, request or message
 * of its in flight, nothing of its queued here. 1 if it was freed.
 */
static int
rnode_reap(struct rnode *rn)
{
	size_t i = 0, n = 0;
	uint64_t k;
	void *v;
	struct port **unused;

	if (rn->lk != NULL)
		return 0;
	if (rn->proxies.count > 0) {
		if ((unused = calloc(rn->proxies.count, sizeof(*unused))) == NULL)
			fatal("rnode_reap");
		while (map_iter(&rn->proxies, &i, &k, &v))
			if (((struct port *)v)->refs == 1)
				unused[n++] = v;
		while (n > 0) {
			struct port *p = unused[--n];
			map_del(&rn->proxies, p->rid);
			node_peer_proxy_gone(p);
			ipc_port_destroy(p);
			ipc_port_unref(p);
		}
		free(unused);
	}
	/* Rights it holds to our ports keep it (until it is given up); unsent releases go. */
	if (rn->proxies.count > 0 || rn->exports.count > 0 || rn->xfers.count > 0 || !TAILQ_EMPTY(&rn->held) ||
	    rn->pending.count > 0 || rn->specials.count > 0 ||
	    rn->npsends > 0 || rn->acct.held[ACCT_BYTES] > 0)
		return 0;
	rnode_free(rn);
	return 1;
}

/* At the cap: free the unused records (a full pass, then room for as many new ones as were freed). */
static void
rnode_sweep(void)
{
	static struct log_throttle thr = LOG_THROTTLE_INIT("node records", LOG_INFO);
	struct rnode *rn, *next;
	uint32_t freed = 0;

	for (rn = LIST_FIRST(&node_peers.list); rn != NULL; rn = next) {
		next = LIST_NEXT(rn, link);
		freed += (uint32_t)rnode_reap(rn);
	}
	log_throttled(&thr, "node records: %u unused freed, %u in use (at most %u)", freed, node_peers.count,
	    NODE_RECORDS_MAX);
}

struct rnode *
node_peer_get(const char *name, int how)
{
	static struct log_throttle full_thr = LOG_THROTTLE_INIT("node records full", LOG_WARNING);
	struct rnode *rn;

	LIST_FOREACH(rn, &node_peers.list, link)
		if (strcmp(rn->name, name) == 0)
			return rn;
	if (how == NODE_FIND || !crypto_node_name_valid(name))
		return NULL;
	/* A full table is swept at most once a second: a flood of new names costs no more. */
	if (node_peers.count >= NODE_RECORDS_MAX && ev_now() - node_peers.swept >= 1000) {
		node_peers.swept = ev_now();
		rnode_sweep();
	}
	if (node_peers.count >= NODE_RECORDS_MAX && how != NODE_MAKE_ALWAYS) {
		log_throttled(&full_thr, "node records: %u in use, none unused: node '%s' taken as gone",
		    node_peers.count, name);
		return NULL;
	}
	if ((rn = calloc(1, sizeof(*rn))) == NULL)
		fatal("rnode");
	snprintf(rn->name, sizeof(rn->name), "%s", name);
	ev_timer_init(&rn->gone, gone_timeout, rn);
	ev_timer_init(&rn->acktimer, acktimer_cb, rn);
	TAILQ_INIT(&rn->held);
	rn->acct.uid = (uid_t)-1;
	rn->acct_key = ++node_peers.next_key;
	ipc_acct_track(&rn->acct, rn->acct_key);
	LIST_INSERT_HEAD(&node_peers.list, rn, link);
	node_peers.count++;
	return rn;
}

static void
acks_flush(struct rnode *rn)
{
	size_t i;

	ev_timer_disarm(node_peers.loop, &rn->acktimer);
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
node_peer_ack_later(struct rnode *rn, uint64_t seq)
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
		ev_timer_arm(node_peers.loop, &rn->acktimer, ev_now() + ACK_DELAY_MS);
}

int
node_peer_send(struct rnode *rn, uint8_t type, const struct wbuf *w, const void *b, size_t blen)
{
	if (rn->lk == NULL)
		return -1;
	if (!TAILQ_EMPTY(&rn->held)) {
		node_peer_hold(rn, type, w, b, blen);	/* behind what waits: in order */
		return 0;
	}
	if (rn->nacks > 0)
		acks_flush(rn);	/* in order, and they ride in the same write */
	return link_send(rn->lk, type, w->p, w->len, b, blen);
}

/* LF_XFER and its ACK go at once: held frames wait for them, never the other way round. */
int
node_peer_send_now(struct rnode *rn, uint8_t type, const struct wbuf *w)
{
	if (rn->lk == NULL)
		return -1;
	if (rn->nacks > 0)
		acks_flush(rn);
	return link_send(rn->lk, type, w->p, w->len, NULL, 0);
}

/* ---- frames held until other nodes counted the rights they carry ---- */

static void
held_unref(struct held *h)
{
	if (--h->refs == 0)
		free(h);
}

struct held *
node_peer_hold(struct rnode *rn, uint8_t type, const struct wbuf *w, const void *b, size_t blen)
{
	struct held *h = malloc(sizeof(*h) + w->len + blen);

	if (h == NULL)
		fatal("held");
	h->rn = rn;
	h->refs = 1;
	h->waiting = 0;
	h->type = type;
	h->len = w->len + blen;
	memcpy(h->data, w->p, w->len);
	if (blen > 0)
		memcpy(h->data + w->len, b, blen);
	TAILQ_INSERT_TAIL(&rn->held, h, link);
	return h;
}

void
node_peer_hold_wait(struct held *h)
{
	h->waiting++;
	h->refs++;
}

/* Send what is no longer waiting, in order. */
static void
held_drain(struct rnode *rn)
{
	struct held *h;

	while ((h = TAILQ_FIRST(&rn->held)) != NULL && h->waiting == 0) {
		TAILQ_REMOVE(&rn->held, h, link);
		h->rn = NULL;
		if (rn->lk != NULL) {
			if (rn->nacks > 0)
				acks_flush(rn);
			link_send(rn->lk, h->type, h->data, h->len, NULL, 0);
		}
		held_unref(h);
	}
}

void
node_peer_hold_done(struct held *h)
{
	struct rnode *rn = h->rn;

	h->waiting--;
	if (rn != NULL)
		held_drain(rn);
	held_unref(h);
}

void
node_peer_held_drop(struct rnode *rn)
{
	struct held *h;

	while ((h = TAILQ_FIRST(&rn->held)) != NULL) {
		TAILQ_REMOVE(&rn->held, h, link);
		h->rn = NULL;
		held_unref(h);
	}
}

/* The node is gone, or came back as a new life: what stood for its ports dies. */
void
node_peer_reset(struct rnode *rn, const char *why)
{
	size_t i = 0;
	uint64_t k;
	void *v;
	struct port **all;
	size_t n = 0, cap = rn->proxies.count;

	ev_timer_disarm(node_peers.loop, &rn->gone);
	if (cap > 0) {
		if ((all = calloc(cap, sizeof(*all))) == NULL)
			fatal("node_reset");
		while (map_iter(&rn->proxies, &i, &k, &v) && n < cap)
			all[n++] = v;
		map_free(&rn->proxies);
		for (i = 0; i < n; i++) {
			node_peer_proxy_gone(all[i]);
			ipc_port_destroy(all[i]);
			ipc_port_unref(all[i]);
		}
		free(all);
	}
	map_free(&rn->proxies);
	/* The rights it held to our ports are given back: send-once rights say "no reply". */
	node_export_reset(rn);
	log_debug("node %s: %s: %zu proxies dead", rn->name, why, n);
}

/* ---- global ids ---- */

void
node_peer_gid(struct port *p, struct gid *g)
{
	if (p->rnode != NULL) {
		snprintf(g->node, sizeof(g->node), "%s", p->rnode->name);
		g->inc = p->rnode->inc;
		g->id = p->dead ? 0 : p->rid;
	} else {
		snprintf(g->node, sizeof(g->node), "%s", node_peers.conf->node);
		g->inc = node_peers.conf->incarnation;
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
node_peer_import(const struct gid *g)
{
	struct rnode *rn;
	struct port *p;

	if (strcmp(g->node, node_peers.conf->node) == 0) {
		p = g->inc == node_peers.conf->incarnation && g->id != 0 ? ipc_port_by_id(g->id) : NULL;
		if (p == NULL || p->dead || p->rnode != NULL)
			return dead_port();
		ipc_port_ref(p);
		return p;
	}
	if (g->id == 0 || (rn = node_peer_get(g->node, NODE_MAKE)) == NULL)
		return dead_port();	/* a dead name, a name no node may have, or no room for one more node */
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

