/*
 * node_msg.c — messages to and from proxy ports: a send to a proxy goes
 * over the link and completes on the other node's ACK (up to RSEND_WINDOW
 * plain sends pipelined per task); a message from a link is queued here
 * and ACKed, at once or riding with the next frame the other way.
 */
#include <stdio.h>
#include <stdlib.h>
#include "log.h"
#include "node_int.h"

/* The task no longer waits for rs. */
static void
rsend_detach(struct rsend *rs)
{
	LIST_REMOVE(rs, tlink);
	rs->task->nrsends--;
	rs->task = NULL;
}

/* Fail what waits on the link. */
void
node_msg_fail_pending(struct rnode *rn)
{
	size_t i = 0;
	uint64_t k;
	void *v;

	while (map_iter(&rn->pending, &i, &k, &v)) {
		struct rsend *rs = v;
		struct task *t = rs->task;
		if (t != NULL) {
			rsend_detach(rs);
			rs->done(t, rs->op, rs->frame_id, MX_ERR_NODEDOWN, rs->rpc_reply, rs->rpc_timeout, rs->stalls);
		}
		ipc_port_unref(rs->dest);
		free(rs);
	}
	map_free(&rn->pending);
	i = 0;
	while (map_iter(&rn->specials, &i, &k, &v)) {
		struct rspecial *sp = v;
		if (sp->task != NULL)
			sp->done(sp->task, sp->frame_id, MX_ERR_NODEDOWN, NULL);
		free(sp);
	}
	map_free(&rn->specials);
}

int
node_msg_send(struct task *t, const struct mx_frame_hdr *h, struct kmsg *km, int dest_so, uint32_t timeout_ms,
    mx_name_t rpc_reply, uint32_t rpc_timeout, node_done_fn *done)
{
	static struct wbuf w;	/* kept between messages: no malloc per send */
	struct port *dest = km->dest;
	struct rnode *rn = dest->rnode;
	struct gid g;
	struct rsend *rs;
	uint64_t seq;
	uint32_t i;
	size_t tl;
	int r = 0;

	if (rn->lk == NULL) {
		ipc_kmsg_destroy(km, 0);
		return -MX_ERR_NODEDOWN;
	}
	for (i = 0; i < km->nrights; i++)
		if (km->rights[i].right == MX_RIGHT_RECEIVE)
			r = -MX_ERR_NOTSUP;
	if (r < 0) {
		ipc_kmsg_destroy(km, 0);
		return r;
	}
	seq = ++rn->next_seq;
	w.len = 0;
	wb_u64(&w, seq);
	wb_u64(&w, rn->inc);
	wb_u64(&w, dest->rid);
	wb_u32(&w, km->msgid);
	wb_u32(&w, timeout_ms);
	wb_u8(&w, dest_so ? RMSGF_DEST_SO : 0);
	wb_u8(&w, km->reply.port != NULL);
	wb_u16(&w, (uint16_t)km->nrights);
	wb_need(&w, MX_TRAILER_MAX);
	tl = trailer_pack(w.p + w.len, &km->tr);
	w.len += tl;
	if (km->reply.port != NULL) {
		wb_u8(&w, km->reply.right);
		node_peer_gid(km->reply.port, &g);
		wb_gid(&w, &g);
	}
	for (i = 0; i < km->nrights; i++) {
		wb_u32(&w, km->rights[i].off);
		wb_u8(&w, km->rights[i].right);
		node_peer_gid(km->rights[i].port, &g);
		wb_gid(&w, &g);
	}
	wb_u32(&w, km->len);
	if (node_peer_send(rn, LF_MSG, &w, km->items, km->len) < 0) {
		ipc_kmsg_destroy(km, 0);
		return -MX_ERR_NODEDOWN;
	}
	/* Send-once rights to our ports now live there: count them, for if it dies. */
	for (i = 0; i <= km->nrights; i++) {
		struct kright *kr = i < km->nrights ? &km->rights[i] : &km->reply;
		struct soexp *se;
		if (kr->port == NULL || kr->right != MX_RIGHT_SEND_ONCE || kr->port->rnode || kr->port->dead)
			continue;
		if ((se = map_get(&rn->soexp, kr->port->id)) == NULL) {
			if ((se = calloc(1, sizeof(*se))) == NULL)
				fatal("soexp");
			se->p = kr->port;
			ipc_port_ref(se->p);
			if (map_put(&rn->soexp, kr->port->id, se) < 0)
				fatal("soexp");
		}
		se->count++;
	}
	if ((rs = calloc(1, sizeof(*rs))) == NULL)
		fatal("rsend");
	rs->task = t;
	rs->dest = dest;
	ipc_port_ref(dest);
	rs->frame_id = h->id;
	rs->op = h->type;
	rs->rpc_reply = rpc_reply;
	rs->rpc_timeout = rpc_timeout;
	rs->done = done;
	if (map_put(&rn->pending, seq, rs) < 0)
		fatal("rsend");
	LIST_INSERT_HEAD(&t->rsends, rs, tlink);
	t->nrsends++;
	/* The rights went with it: let go of ours without side effects. */
	ipc_kmsg_destroy(km, 0);
	/* Complete only once the other node has queued it. */
	if (h->type != MX_OP_SEND) {
		rs->stalls = 1;
		return NODE_STALL;
	}
	return t->nrsends >= RSEND_WINDOW ? NODE_WINDOW : 0;
}

void
node_msg_on_ack(struct rnode *rn, const uint8_t *p, size_t n)
{
	uint64_t seq;
	uint32_t status;
	struct rsend *rs;
	struct task *t;

	if (rmsg_ack(p, n, &seq, &status) < 0 || (rs = map_del(&rn->pending, seq)) == NULL) {
		log_warnx("node %s: unexpected ACK", rn->name);
		return;
	}
	if (status == MX_ERR_DEAD && !rs->dest->dead && rs->dest->rnode == rn) {
		map_del(&rn->proxies, rs->dest->rid);
		ipc_port_destroy(rs->dest);
		ipc_port_unref(rs->dest);	/* the map's */
	}
	if ((t = rs->task) != NULL) {
		rsend_detach(rs);
		rs->done(t, rs->op, rs->frame_id, status, rs->rpc_reply, rs->rpc_timeout, rs->stalls);
	}
	ipc_port_unref(rs->dest);
	free(rs);
}

void
node_msg_task_gone(struct task *t)
{
	struct rnode *rn;
	size_t i;
	uint64_t k;
	void *v;

	while (!LIST_EMPTY(&t->rsends))
		rsend_detach(LIST_FIRST(&t->rsends));
	LIST_FOREACH(rn, &node_peers.list, link) {
		i = 0;
		while (map_iter(&rn->specials, &i, &k, &v))
			if (((struct rspecial *)v)->task == t)
				((struct rspecial *)v)->task = NULL;
	}
}

static void
send_ack(struct rnode *rn, uint64_t seq, uint32_t status)
{
	uint8_t b[12];
	struct wbuf w = { b, sizeof(b), sizeof(b) };	/* on the stack: one per message */

	put_u64(b, seq);
	put_u32(b + 8, status);
	node_peer_send(rn, LF_ACK, &w, NULL, 0);
}

/* A message of rn's that waited for room here is over: ACK it there. */
static void
psend_done(struct psend *base, int err)
{
	struct node_psend *ps = (struct node_psend *)base;

	send_ack(ps->rn, ps->seq, (uint32_t)(err < 0 ? -err : err));
	free(ps);
}

void
node_msg_on_msg(struct rnode *rn, const uint8_t *p, size_t n)
{
	struct rmsg m;
	struct port *dest;
	struct kmsg *km;
	struct node_psend *ps;
	uint32_t i;
	int ret;

	if (rmsg_decode(p, n, &m) < 0) {
		log_warnx("node %s: malformed message frame", rn->name);
		send_ack(rn, m.seq, MX_ERR_PROTO);
		return;
	}
	dest = m.dest_inc == node_peers.conf->incarnation ? ipc_port_by_id(m.dest_id) : NULL;
	if (dest == NULL || dest->dead || dest->rnode != NULL) {
		rmsg_free(&m);
		send_ack(rn, m.seq, MX_ERR_DEAD);
		return;
	}
	if ((km = calloc(1, sizeof(*km))) == NULL)
		fatal("kmsg");
	km->refs = 1;
	km->dest = dest;
	ipc_port_ref(dest);
	km->msgid = m.msgid;
	km->tr = m.tr;
	/* The sender's node is the one on the link, whatever the trailer says. */
	snprintf(km->tr.node, sizeof(km->tr.node), "%s", rn->name);
	/* A service is vouched for only by this node's own check (identity.c): none comes over a link. */
	km->tr.service[0] = '\0';
	km->tr.port_id = dest->id;
	if (m.has_reply) {
		km->reply.right = m.reply.right;
		km->reply.port = node_peer_import(&m.reply.gid);
	}
	if (m.nrights > 0 && (km->rights = calloc(m.nrights, sizeof(*km->rights))) == NULL)
		fatal("kmsg");
	for (i = 0; i < m.nrights; i++)
		km->rights[i] = (struct kright){ node_peer_import(&m.rights[i].gid), m.rights[i].right, m.rights[i].off };
	km->nrights = m.nrights;
	km->len = m.ilen;
	if ((km->mem = malloc(m.ilen ? m.ilen : 1)) == NULL)
		fatal("kmsg");
	memcpy(km->mem, m.items, m.ilen);
	km->items = km->mem;
	rmsg_free(&m);
	if (m.flags & RMSGF_DEST_SO) {
		struct soexp *se = map_get(&rn->soexp, dest->id);
		if (se != NULL && se->count > 0 && --se->count == 0) {
			map_del(&rn->soexp, dest->id);
			ipc_port_unref(se->p);
			free(se);
		}
	}
	ret = ipc_port_enqueue(dest, km, m.flags & RMSGF_DEST_SO);
	if (ret == -MX_ERR_FULL && m.timeout_ms != 0) {
		if ((ps = calloc(1, sizeof(*ps))) == NULL)
			fatal("psend");
		ps->ps.km = km;
		ps->ps.done = psend_done;
		ps->rn = rn;
		ps->seq = m.seq;
		ipc_port_block(&ps->ps, m.timeout_ms);
		return;
	}
	if (ret < 0) {
		ipc_kmsg_destroy(km, 0);
		send_ack(rn, m.seq, (uint32_t)-ret);
	} else if ((m.has_reply && m.reply.right == MX_RIGHT_SEND_ONCE) || (m.flags & RMSGF_DEST_SO)) {
		node_peer_ack_later(rn, m.seq);	/* a request or a reply: the other way's frame comes soon */
	} else {
		send_ack(rn, m.seq, 0);
	}
}
