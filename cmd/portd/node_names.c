/*
 * node_names.c — name resolution between nodes (the Masix paper's
 * protocol): questions and answers over the links and by signed broadcast,
 * handed to namesrv; how nodes find each other (broadcast announcements,
 * and linked nodes telling each other where the others listen); keysrv
 * told of linked nodes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <arpa/inet.h>
#include "bcast.h"
#include "crypto.h"
#include "keys.h"
#include "log.h"
#include "names.h"
#include "node_int.h"

/* Malformed frames of another node: throttled, it may send any number. */
static struct log_throttle bad_thr = LOG_THROTTLE_INIT("node: malformed frames", LOG_WARNING);

/* Hand the identity a node vouches for to namesrv, as INT, INT, BYTES, STRING. */
static void
add_ident(struct mx_msg *m, const struct rident *id)
{
	mx_msg_add_int(m, id->uid);
	mx_msg_add_int(m, id->gid);
	mx_msg_add_bytes(m, id->hash, id->has_hash ? RIDENT_HASH_LEN : 0);
	mx_msg_add_string(m, id->unit);
}

static struct port *
namesrv_port(void)
{
	struct port *ns = ipc_port_special_get(MX_SPECIAL_NAME);

	return ns == NULL || ns->dead ? NULL : ns;
}

/* An answer for our namesrv, with the identity its node vouches for when it carries one. */
static void
answer_to_namesrv(const char *name, const char *from, struct port *right, const struct rident *id)
{
	struct port *ns = namesrv_port();
	struct mx_msg *m;

	if (ns == NULL || !mx_name_valid(name)) {
		/* Held by nothing here: a proxy gives it back at once. */
		ipc_port_send_add(right, 1);
		ipc_port_send_drop(right, 1);
		ipc_port_unref(right);
		return;
	}
	if ((m = mx_msg_new(NS_NET_ANSWER)) == NULL)
		fatal("to_namesrv");
	mx_msg_add_string(m, name);
	mx_msg_add_string(m, from);
	mx_msg_add_port(m, 1, MX_DISP_COPY_SEND);	/* the name is rewritten on delivery */
	if (id->present)
		add_ident(m, id);
	ipc_kmsg_notice_items(ns, NS_NET_ANSWER, m, right);
	mx_msg_free(m);
	ipc_port_unref(right);	/* the notice holds its own reference */
}

/* A question for our namesrv: service is the asker's, checked against our list ("" none). */
static void
query_to_namesrv(const char *name, const char *from, const char *service, int direct)
{
	struct port *ns = namesrv_port();
	struct mx_msg *m;

	if (ns == NULL || !mx_name_valid(name))
		return;
	if ((m = mx_msg_new(NS_NET_QUERY)) == NULL)
		fatal("to_namesrv");
	mx_msg_add_string(m, name);
	mx_msg_add_string(m, from);
	mx_msg_add_string(m, service);
	mx_msg_add_int(m, direct);
	ipc_kmsg_notice_items(ns, NS_NET_QUERY, m, NULL);
	mx_msg_free(m);
}

/* The send right an answer carries: its home counts it for us. */
static struct port *
imported(const struct gid *g)
{
	struct port *p = node_peer_import(g);

	node_export_received(p, MX_RIGHT_SEND);
	return p;
}

/*
 * The asker's service is believed as far as our own copy of the list
 * allows that identity that name, as for a message's sender (node_vouch.c).
 */
static const char *
asker_service(const struct rnode *rn, const struct rquery *q)
{
	struct mx_trailer tr;
	struct rvouch v;

	if (!(q->flags & RQUERY_ASKER))
		return "";
	memset(&tr, 0, sizeof(tr));
	tr.uid = q->asker.uid;
	tr.gid = q->asker.gid;
	memcpy(tr.service, q->service, sizeof(tr.service));
	v.has_hash = q->asker.has_hash;
	memcpy(v.hash, q->asker.hash, sizeof(v.hash));
	memcpy(v.unit, q->asker.unit, sizeof(v.unit));
	return node_vouch_check(rn, &tr, &v) ? q->service : "";
}

void
node_names_on_query(struct rnode *rn, const uint8_t *p, size_t n)
{
	struct rquery q;

	if (rmsg_query(p, n, &q) < 0) {
		log_throttled(&bad_thr, "node %s: malformed name query", rn->name);
		return;
	}
	query_to_namesrv(q.name, rn->name, asker_service(rn, &q), (q.flags & RQUERY_DIRECT) != 0);
}

void
node_names_on_answer(struct rnode *rn, const uint8_t *p, size_t n)
{
	char name[MX_NAME_LEN_MAX + 1];
	struct rident id;
	struct gid g;

	if (rmsg_answer(p, n, name, &g, &id) < 0 || strcmp(g.node, rn->name) != 0 || g.inc != rn->inc) {
		log_throttled(&bad_thr, "node %s: malformed or foreign name answer", rn->name);
		return;
	}
	answer_to_namesrv(name, rn->name, imported(&g), &id);
}

/* keysrv keeps the directory of known nodes: give it the certificate the link verified. */
void
node_names_tell_keysrv(struct link *l, const char *node)
{
	struct port *ks = ipc_port_special_get(MX_SPECIAL_KEY);
	struct mx_msg *m;
	size_t len;
	char *pem;

	if (ks == NULL || ks->dead || (pem = link_peer_cert_pem(l, &len)) == NULL)
		return;
	if ((m = mx_msg_new(KS_PEER_LINKED)) == NULL)
		fatal("node_names_tell_keysrv");
	mx_msg_add_bytes(m, pem, len);
	mx_msg_add_string(m, node);
	ipc_kmsg_notice_items(ks, KS_PEER_LINKED, m, NULL);
	mx_msg_free(m);
	free(pem);
}

/* keysrv (re)started: tell it of every node linked now. */
void
node_names_keysrv_ready(void)
{
	struct rnode *rn;

	LIST_FOREACH(rn, &node_peers.list, link)
		if (rn->lk != NULL)
			node_names_tell_keysrv(rn->lk, rn->name);
}

/*
 * A broadcast answer is only a hint. Anyone on the LAN may hear it, so the
 * send right it names is counted by no one: it is not used. The node that
 * heard it links to the owner and asks again over the link, where the
 * answer carries a right the owner counts for it (node_export.c) and gives
 * back with LF_RELEASE. The names wait on the owner's record until the link
 * is up: at most HINTS_MAX, the oldest dropped first.
 */
#define HINTS_MAX 16

static struct log_throttle hint_thr = LOG_THROTTLE_INIT("node: broadcast answers", LOG_INFO);

static void
hint_add(struct rnode *rn, const char *name)
{
	unsigned i;

	for (i = 0; i < rn->nhints; i++)
		if (strcmp(rn->hints[i], name) == 0)
			return;
	if (rn->hints == NULL && (rn->hints = calloc(HINTS_MAX, sizeof(*rn->hints))) == NULL)
		fatal("hint");
	if (rn->nhints == HINTS_MAX)
		memmove(rn->hints, rn->hints + 1, --rn->nhints * sizeof(*rn->hints));
	snprintf(rn->hints[rn->nhints++], sizeof(*rn->hints), "%s", name);
}

void
node_names_bcast_recv(const char *node, uint64_t inc, uint8_t type, const uint8_t *p, size_t n,
    const struct sockaddr_in *from)
{
	struct rnode *rn = node_peer_get(node, NODE_MAKE_ALWAYS);
	char host[INET_ADDRSTRLEN], name[MX_NAME_LEN_MAX + 1];
	struct rquery q;
	uint16_t port;
	struct rident id;
	struct gid g;

	/* The payloads are those of LF_HERE, LF_QUERY and LF_ANSWER: the same decoders. */
	if (type == BCAST_ANNOUNCE && rmsg_here(p, n, &port) == 0 &&
	    inet_ntop(AF_INET, &from->sin_addr, host, sizeof(host))) {
		snprintf(rn->addr, sizeof(rn->addr), "%s:%u", host, port);
		if (rn->lk == NULL && node_peers.have_links)
			links_connect(node, rn->addr);
		return;
	}
	if (type == BCAST_QUERY) {
		/* Linked nodes ask over the link; who asks is told there only, where a node vouches for it. */
		if (rmsg_query(p, n, &q) == 0 && rn->lk == NULL)
			query_to_namesrv(q.name, node, "", 0);
	} else if (type == BCAST_ANSWER && rn->lk == NULL) {
		/* Linked nodes answer over the link; this one is not linked yet: link, then ask it there. */
		if (rmsg_answer(p, n, name, &g, &id) < 0 || strcmp(g.node, node) != 0 || g.inc != inc)
			return;
		if (rn->inc != 0 && rn->inc != inc)
			node_peer_reset(rn, "restarted");
		rn->inc = inc;
		log_throttled(&hint_thr, "node %s: answer for '%s' heard by broadcast: asked again once linked",
		    node, name);
		hint_add(rn, name);
		if (rn->addr[0] != '\0' && node_peers.have_links)
			links_connect(node, rn->addr);
	}
}

/* rn is linked now: ask it for the names its broadcast answers named. */
void
node_names_hints_send(struct rnode *rn)
{
	struct wbuf w = { 0 };
	unsigned i;

	for (i = 0; i < rn->nhints; i++) {
		w.len = 0;
		wb_str(&w, rn->hints[i]);
		node_peer_send(rn, LF_QUERY, &w, NULL, 0);
	}
	free(w.p);
	free(rn->hints);
	rn->hints = NULL;
	rn->nhints = 0;
}

int
node_names_peer_count(void)
{
	struct rnode *rn;
	int n = 0;

	LIST_FOREACH(rn, &node_peers.list, link)
		n += rn->lk != NULL;
	return n + node_peers.have_bcast;
}

static void
wb_ident(struct wbuf *w, const struct rident *id)
{
	wb_u32(w, id->uid);
	wb_u32(w, id->gid);
	wb_u8(w, (uint8_t)id->has_hash);
	wb_need(w, RIDENT_HASH_LEN);
	memcpy(w->p + w->len, id->hash, RIDENT_HASH_LEN);
	w->len += RIDENT_HASH_LEN;
	wb_str(w, id->unit);
}

/* node's record when it is linked; else NULL, and it is dialled when we know where it listens. */
static struct rnode *
linked(const char *node)
{
	struct rnode *rn = node_peer_get(node, NODE_FIND);

	if (rn != NULL && rn->lk != NULL)
		return rn;
	if (rn != NULL && rn->addr[0] != '\0' && node_peers.have_links)
		links_connect(node, rn->addr);
	return NULL;
}

int
node_names_query(const char *name, const char *node, const char *service, const struct rident *asker)
{
	struct rnode *rn, *to = NULL;
	struct wbuf w = { 0 };
	uint8_t flags = 0;
	int n = 1;

	if (node != NULL && (to = linked(node)) == NULL)
		return -MX_ERR_NODEDOWN;
	wb_str(&w, name);
	if (to != NULL)
		flags |= RQUERY_DIRECT;
	if (asker != NULL && asker->present)
		flags |= RQUERY_ASKER;
	if (flags != 0)
		wb_u8(&w, flags);
	if (flags & RQUERY_ASKER) {
		wb_str(&w, service);
		wb_ident(&w, asker);
	}
	if (to != NULL) {
		if (node_peer_send(to, LF_QUERY, &w, NULL, 0) < 0)
			n = -MX_ERR_NODEDOWN;
		free(w.p);
		return n;
	}
	LIST_FOREACH(rn, &node_peers.list, link)
		node_peer_send(rn, LF_QUERY, &w, NULL, 0);
	if (node_peers.have_bcast && !(flags & RQUERY_ASKER))
		bcast_send(BCAST_QUERY, w.p, w.len);	/* who asks is told over links only */
	free(w.p);
	return node_names_peer_count();
}

int
node_names_answer(struct task *t, const char *name, mx_name_t right, const struct rident *id, const char *node)
{
	struct entry *e = ipc_space_lookup(&t->space, right);
	struct rnode *rn, *to = NULL;
	struct wbuf w = { 0 };
	struct gid g;

	if (e == NULL || e->port->rnode != NULL || e->port->dead)
		return -MX_ERR_BADNAME;
	if (node != NULL && (to = linked(node)) == NULL)
		return -MX_ERR_NODEDOWN;
	node_peer_gid(e->port, &g);
	wb_str(&w, name);
	wb_gid(&w, &g);
	if (id->present)
		wb_ident(&w, id);
	if (to != NULL) {
		/* To the node that asked alone: a private name, or a NAME@NODE lookup. */
		if (node_peer_send(to, LF_ANSWER, &w, NULL, 0) == 0)
			node_export_add(to, e->port, MX_RIGHT_SEND);
		free(w.p);
		return 0;
	}
	/* The owner tells every node it can reach, so they all cache the answer: a right for each. */
	LIST_FOREACH(rn, &node_peers.list, link)
		if (node_peer_send(rn, LF_ANSWER, &w, NULL, 0) == 0)
			node_export_add(rn, e->port, MX_RIGHT_SEND);
	if (node_peers.have_bcast)
		bcast_send(BCAST_ANSWER, w.p, w.len);	/* a hint: who heard it asks again over a link */
	free(w.p);
	return 0;
}

/* Our link port, or 0 when we accept no link. */
static unsigned
listen_port(void)
{
	const char *colon = node_peers.conf->nlistens > 0 ? strrchr(node_peers.conf->listens[0], ':') : NULL;

	return colon ? (unsigned)strtoul(colon + 1, NULL, 10) : 0;
}

void
node_names_announce(struct ev_timer *tm)
{
	static uint8_t b[2];
	/* Nodes that hear us dial the port of our first listen line. */
	unsigned port = listen_port();

	put_u16(b, (uint16_t)(port ? port : LINK_DEFAULT_PORT));
	bcast_send(BCAST_ANNOUNCE, b, sizeof(b));
	ev_timer_arm(node_peers.loop, tm, ev_now() + 10000);
}

/*
 * ---- nodes telling each other where they listen ----
 *
 * Once linked, each node says on which port it listens (LF_HERE); the
 * other pairs it with the address the link comes from, and tells its other
 * linked nodes (LF_NODES), which link to it in turn. So a node whose
 * configuration names one node of the cluster links to all of them, with
 * or without broadcast.
 */

#define NODES_MAX 256		/* entries in one LF_NODES */

void
node_names_here_send(struct rnode *rn)
{
	struct wbuf w = { 0 };

	wb_u16(&w, (uint16_t)listen_port());
	node_peer_send(rn, LF_HERE, &w, NULL, 0);
	free(w.p);
}

/* Tell to (or every linked node but about, when to is NULL) where about's nodes listen. */
static void
nodes_send(struct rnode *to, struct rnode *about)
{
	struct wbuf w = { 0 };
	struct rnode *rn, *dst;
	uint16_t n = 0;

	wb_u16(&w, 0);
	if (to != NULL) {
		LIST_FOREACH(rn, &node_peers.list, link) {
			if (rn == to || rn->lk == NULL || rn->addr[0] == '\0' || n == NODES_MAX)
				continue;
			wb_str(&w, rn->name);
			wb_str(&w, rn->addr);
			n++;
		}
	} else {
		wb_str(&w, about->name);
		wb_str(&w, about->addr);
		n = 1;
	}
	put_u16(w.p, n);
	if (to != NULL) {
		if (n > 0)
			node_peer_send(to, LF_NODES, &w, NULL, 0);
	} else {
		LIST_FOREACH(dst, &node_peers.list, link)
			if (dst != about && dst->lk != NULL)
				node_peer_send(dst, LF_NODES, &w, NULL, 0);
	}
	free(w.p);
}

void
node_names_on_here(struct rnode *rn, const uint8_t *p, size_t n)
{
	uint16_t port;
	const char *from = link_addr(rn->lk), *colon = strrchr(from, ':');

	if (rmsg_here(p, n, &port) < 0) {
		log_throttled(&bad_thr, "node %s: malformed HERE frame", rn->name);
		return;
	}
	/* The host part of the address the link comes from: "a.b.c.d" or "[v6]". */
	if (port != 0 && colon != NULL && colon > from)
		snprintf(rn->addr, sizeof(rn->addr), "%.*s:%u", (int)(colon - from), from, port);
	nodes_send(rn, NULL);		/* the others, to it */
	if (port != 0)
		nodes_send(NULL, rn);	/* it, to the others */
}

/* One node a linked node told us of: link to it unless we are, or it is us. */
static void
node_heard(const char *name, const char *addr, void *arg)
{
	struct rnode *o;
	char why[128];

	(void)arg;
	if (strcmp(name, node_peers.conf->node) == 0 || !crypto_node_name_valid(name) ||
	    link_addr_check(addr, -1, why, sizeof(why)) < 0)
		return;
	if ((o = node_peer_get(name, NODE_FIND)) != NULL && o->lk != NULL)
		return;
	/* The node's certificate must carry that name, or the link is refused. */
	if (node_peers.have_links)
		links_connect(name, addr);
}

void
node_names_on_nodes(struct rnode *rn, const uint8_t *p, size_t n)
{
	if (rmsg_nodes(p, n, node_heard, NULL) < 0)
		log_throttled(&bad_thr, "node %s: malformed NODES frame", rn->name);
}
