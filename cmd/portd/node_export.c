/*
 * node_export.c — what a node may do with our ports, and no-senders across
 * nodes (NORMA IPC's transit counts, kept simple). A port of ours is
 * reachable from node N only once a right to it was carried to N: in a
 * message (its items, the reply right of an RPC), as a name-resolution
 * answer over a link or a service port (a broadcast answer carries no
 * right: node_names.c). Per (node, port) we count the send and
 * send-once rights carried there, in a hash map of the node's record keyed
 * by port id: one lookup per message. A message from N to a port it holds
 * no right to is refused; a send-once delivery or LF_SO_GONE uses one of
 * N's send-once rights; a right of ours coming home must be one N held.
 *
 * N gives send rights back with LF_RELEASE (batched per loop turn) when
 * the last right to its proxy is gone here, and all of them when it goes
 * away past node_timeout. A right to a third node's port moving from here
 * to N is first counted there (LF_XFER, then its ACK), and the message to N
 * waits for that ACK, so N never uses a right its home does not know of,
 * and the home never sees the last sender go while the right travels.
 *
 * Bounded: a node holds records only for live ports of ours, at most
 * EXPORTS_MAX of them; a record is freed when its counts reach 0 or its
 * port dies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "node_int.h"

static struct log_throttle lt_refused = LOG_THROTTLE_INIT("refused link frames", LOG_WARNING);
static struct log_throttle lt_full = LOG_THROTTLE_INIT("export records full", LOG_WARNING);

static struct export *
export_get(struct rnode *rn, struct port *p, int create)
{
	struct export *x = map_get(&rn->exports, p->id);

	if (x != NULL || !create)
		return x;
	if (rn->exports.count >= EXPORTS_MAX) {
		log_throttled(&lt_full, "node %s: holds rights to %d ports of ours: no more are counted", rn->name,
		    EXPORTS_MAX);
		return NULL;
	}
	if ((x = calloc(1, sizeof(*x))) == NULL)
		fatal("export");
	x->p = p;
	ipc_port_ref(p);
	if (map_put(&rn->exports, p->id, x) < 0)
		fatal("export");
	return x;
}

static void
export_put(struct rnode *rn, struct export *x)
{
	if (x->send > 0 || x->so > 0)
		return;
	map_del(&rn->exports, x->p->id);
	ipc_port_unref(x->p);
	free(x);
}

/* A right to p, a port of ours, now lives on rn. */
void
node_export_add(struct rnode *rn, struct port *p, uint8_t right)
{
	struct export *x;

	if (p->rnode != NULL || p->dead || (x = export_get(rn, p, 1)) == NULL)
		return;
	p->exported = 1;
	if (right == MX_RIGHT_SEND) {
		if (x->send == UINT32_MAX || p->xsend == UINT32_MAX)
			return;	/* saturated: counted as held for good */
		x->send++;
		p->xsend++;
	} else if (x->so < UINT32_MAX) {
		x->so++;
	}
}

/* A send right from the wire: the proxy's home node counts it for us, we give it back. */
void
node_export_received(struct port *p, uint8_t right)
{
	if (p->rnode != NULL && right == MX_RIGHT_SEND && p->xsend < UINT32_MAX)
		p->xsend++;
}

/* Use up one of rn's send-once rights to p: 0, or -1 when it holds none. */
static int
use_so(struct rnode *rn, struct port *p)
{
	struct export *x = export_get(rn, p, 0);

	if (x == NULL || x->so == 0)
		return -1;
	x->so--;
	export_put(rn, x);
	return 0;
}

static int
holds_send(struct rnode *rn, struct port *p)
{
	struct export *x;

	return (x = export_get(rn, p, 0)) != NULL && x->send > 0;
}

/* A right in a message from rn that names a port of ours: the port, or NULL. */
static struct port *
ours(const struct gid *g)
{
	struct port *p;

	if (strcmp(g->node, node_peers.conf->node) != 0 || g->inc != node_peers.conf->incarnation)
		return NULL;
	p = ipc_port_by_id(g->id);
	return p != NULL && !p->dead && p->rnode == NULL ? p : NULL;
}

/*
 * May rn's message m go to dest, a live port of ours? A send through a
 * send-once right uses one of rn's; a plain send needs a send right; a
 * right of ours it carries home must be one rn holds (a send-once right is
 * used up by the trip). 0, or -MX_ERR_PERM (logged, throttled).
 */
int
node_export_msg_ok(struct rnode *rn, struct port *dest, const struct rmsg *m)
{
	const char *why = NULL;
	uint32_t i;

	if (m->flags & RMSGF_DEST_SO) {
		if (use_so(rn, dest) < 0)
			why = "a send-once right it does not hold";
	} else if (!holds_send(rn, dest)) {
		why = "a port never exported to it";
	}
	for (i = 0; why == NULL && i <= m->nrights; i++) {
		const struct rright *r = i < m->nrights ? &m->rights[i] : m->has_reply ? &m->reply : NULL;
		struct port *p = r != NULL ? ours(&r->gid) : NULL;
		if (p == NULL)
			continue;
		if (r->right == MX_RIGHT_SEND_ONCE ? use_so(rn, p) < 0 : !holds_send(rn, p))
			why = "a right to a port of ours it does not hold";
	}
	if (why == NULL)
		return 0;
	log_throttled(&lt_refused, "node %s: message to port %llu refused: %s", rn->name,
	    (unsigned long long)dest->id, why);
	return -MX_ERR_PERM;
}

/*
 * A message of rn's refused before it was built: its rights die here as
 * they would in a destroyed message. Proxies give their send rights back
 * and send-once rights to other nodes' ports tell their homes; a right of
 * ours counts only if rn held it (a send-once one then says "no reply").
 */
void
node_export_drop_rights(struct rnode *rn, const struct rmsg *m)
{
	uint32_t i;

	for (i = 0; i <= m->nrights; i++) {
		const struct rright *r = i < m->nrights ? &m->rights[i] : m->has_reply ? &m->reply : NULL;
		struct port *p;
		if (r == NULL || r->gid.id == 0)
			continue;
		if (strcmp(r->gid.node, node_peers.conf->node) == 0) {
			if ((p = ours(&r->gid)) != NULL && r->right == MX_RIGHT_SEND_ONCE && use_so(rn, p) == 0)
				ipc_kmsg_no_reply(p);
			continue;
		}
		p = node_peer_import(&r->gid);
		if (r->right == MX_RIGHT_SEND) {
			node_export_received(p, MX_RIGHT_SEND);
			ipc_port_send_add(p, 1);
			ipc_port_send_drop(p, 1);	/* its last one here: given back to its home */
		} else {
			ipc_kmsg_no_reply(p);
		}
		ipc_port_unref(p);
	}
}

/* ---- sending: rights moving on to another node ---- */

/*
 * Send the LF_MSG frame w (then km's body) to rn. Rights km carries to
 * ports of third nodes are first counted there (LF_XFER), and the frame
 * waits in rn's held queue for their ACKs. Rights to our own ports are
 * counted for rn. 0, or -1 when rn's link is down.
 */
int
node_export_send(struct rnode *rn, struct kmsg *km, const struct wbuf *w)
{
	struct held *h = NULL;
	struct wbuf x = { 0 };
	uint32_t i;

	if (rn->lk == NULL)
		return -1;
	for (i = 0; i <= km->nrights; i++) {
		struct kright *kr = i < km->nrights ? &km->rights[i] : &km->reply;
		struct rnode *home;
		uint64_t xseq;
		if (kr->port == NULL || kr->port->dead)
			continue;
		if ((home = kr->port->rnode) == NULL) {
			node_export_add(rn, kr->port, kr->right);
			continue;
		}
		if (home == rn || home->lk == NULL)
			continue;	/* going home; or to a node we cannot tell (the right is no use there) */
		if (h == NULL) {
			h = node_peer_hold(rn, LF_MSG, w, km->items, km->len);
			node_peer_hold_wait(h);	/* until every LF_XFER is out */
		}
		xseq = ++home->next_xseq;
		x.len = 0;
		wb_u64(&x, xseq);
		wb_u64(&x, home->inc);
		wb_u64(&x, kr->port->rid);
		wb_u8(&x, kr->right);
		wb_str(&x, rn->name);
		if (node_peer_send_now(home, LF_XFER, &x) < 0 || map_put(&home->xfers, xseq, h) < 0)
			continue;
		node_peer_hold_wait(h);
	}
	free(x.p);
	if (h != NULL) {
		node_peer_hold_done(h);
		return 0;
	}
	return node_peer_send(rn, LF_MSG, w, km->items, km->len);
}

/* rn asks us to count a right it holds to a port of ours for another node. */
void
node_export_on_xfer(struct rnode *rn, const uint8_t *b, size_t n)
{
	char node[MX_NODE_MAX + 1];
	uint64_t xseq, inc, id;
	uint8_t right;
	uint32_t status = MX_ERR_PERM;
	struct rnode *to;
	struct export *x;
	struct port *p;
	struct wbuf w = { 0 };

	if (rmsg_xfer(b, n, &xseq, &inc, &id, &right, node) < 0) {
		log_warnx("node %s: malformed XFER frame", rn->name);
		return;
	}
	p = inc == node_peers.conf->incarnation ? ipc_port_by_id(id) : NULL;
	if (p == NULL || p->dead || p->rnode != NULL) {
		status = MX_ERR_DEAD;
	} else if ((to = node_peer_get(node, 0)) != NULL && to != rn &&
	    (x = export_get(rn, p, 0)) != NULL && (right == MX_RIGHT_SEND ? x->send > 0 : x->so > 0)) {
		/* A send right is copied (rn gives its own back later); a send-once right moves. */
		if (right == MX_RIGHT_SEND_ONCE) {
			x->so--;
			export_put(rn, x);
		}
		node_export_add(to, p, right);
		status = 0;
	} else {
		log_throttled(&lt_refused, "node %s: transfer of port %llu to %s refused: a right it does not hold",
		    rn->name, (unsigned long long)id, node);
	}
	wb_u64(&w, xseq);
	wb_u32(&w, status);
	node_peer_send_now(rn, LF_XFER_ACK, &w);
	free(w.p);
}

void
node_export_on_xfer_ack(struct rnode *rn, const uint8_t *b, size_t n)
{
	uint64_t xseq;
	uint32_t status;
	struct held *h;

	if (rmsg_ack(b, n, &xseq, &status) < 0 || (h = map_del(&rn->xfers, xseq)) == NULL) {
		log_warnx("node %s: unexpected XFER ACK", rn->name);
		return;
	}
	node_peer_hold_done(h);	/* sent whatever the status: a refused right is of no use there */
}

/* ---- giving send rights back ---- */

static void
rel_send(struct rnode *rn)
{
	struct wbuf w = { 0 };

	if (rn->nrel == 0 || rn->lk == NULL)
		return;
	wb_u64(&w, rn->inc);
	wb_u16(&w, rn->nrel);
	node_peer_send(rn, LF_RELEASE, &w, rn->rel.p, rn->rel.len);
	free(w.p);
	rn->rel.len = 0;
	rn->nrel = 0;
}

/* The last send right to proxy here is gone: give its home node back what it counts for us. */
void
node_proxy_no_senders(struct port *proxy)
{
	struct rnode *rn = proxy->rnode;

	if (proxy->xsend == 0)
		return;
	wb_u64(&rn->rel, proxy->rid);
	wb_u32(&rn->rel, proxy->xsend);
	proxy->xsend = 0;
	if (++rn->nrel == RMSG_RELEASE_MAX)
		rel_send(rn);
}

void
node_export_flush(void)
{
	struct rnode *rn;

	LIST_FOREACH(rn, &node_peers.list, link)
		rel_send(rn);
}

static void
release_one(uint64_t id, uint32_t count, void *arg)
{
	struct rnode *rn = arg;
	struct port *p = ipc_port_by_id(id);
	struct export *x;

	if (p == NULL || (x = export_get(rn, p, 0)) == NULL)
		return;
	if (count > x->send)
		count = x->send;	/* never more than it was given */
	x->send -= count;
	ipc_port_xsend_drop(p, count);
	export_put(rn, x);
}

void
node_export_on_release(struct rnode *rn, const uint8_t *b, size_t n)
{
	uint64_t inc;

	if (rmsg_release(b, n, &inc, NULL, NULL) < 0) {
		log_warnx("node %s: malformed RELEASE frame", rn->name);
		return;
	}
	if (inc == node_peers.conf->incarnation)
		rmsg_release(b, n, &inc, release_one, rn);
}

/* ---- send-once rights, deaths, nodes gone ---- */

int
node_export_so_gone(struct rnode *rn, uint64_t id)
{
	struct port *p = ipc_port_by_id(id);

	if (p == NULL || p->rnode != NULL || use_so(rn, p) < 0) {
		log_throttled(&lt_refused, "node %s: SO_GONE for port %llu refused: a send-once right it does not hold",
		    rn->name, (unsigned long long)id);
		return 0;
	}
	return 1;
}

void
node_export_port_died(struct port *p)
{
	struct rnode *rn;
	struct export *x;

	LIST_FOREACH(rn, &node_peers.list, link) {
		if ((x = map_del(&rn->exports, p->id)) != NULL) {
			ipc_port_unref(x->p);
			free(x);
		}
	}
}

/* rn is gone or came back as a new life: every right it held is given back. */
void
node_export_reset(struct rnode *rn)
{
	size_t i = 0, n = 0, cap = rn->exports.count;
	uint64_t k;
	void *v;
	struct export **all;

	rn->rel.len = 0;
	rn->nrel = 0;
	if (cap == 0)
		return;
	if ((all = calloc(cap, sizeof(*all))) == NULL)
		fatal("export reset");
	while (map_iter(&rn->exports, &i, &k, &v) && n < cap)
		all[n++] = v;
	map_free(&rn->exports);
	/* Collected first: a notice may run code that looks at the map. */
	for (i = 0; i < n; i++) {
		struct export *x = all[i];
		while (x->so-- > 0)
			ipc_kmsg_no_reply(x->p);
		ipc_port_xsend_drop(x->p, x->send);
		ipc_port_unref(x->p);
		free(x);
	}
	free(all);
}

/* rn's link went down: frames held for it go (their sends fail), and what waited on its ACKs goes on. */
void
node_export_link_down(struct rnode *rn)
{
	size_t i = 0;
	uint64_t k;
	void *v;

	node_peer_held_drop(rn);
	while (map_iter(&rn->xfers, &i, &k, &v))
		node_peer_hold_done(v);
	map_free(&rn->xfers);
}
