/*
 * node_msg.c — messages to and from proxy ports: a send to a proxy goes
 * over the link and completes on the other node's ACK (up to RSEND_WINDOW
 * plain sends pipelined per task); a message from a link is queued here
 * and ACKed, at once or riding with the next frame the other way.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	const struct ident_vouch *vouch;
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
	/* A stamped service goes with the identity it was verified with (doc/trust.md). */
	vouch = km->tr.service[0] != '\0' ? &t->ident.vouch : NULL;
	wb_u8(&w, (dest_so ? RMSGF_DEST_SO : 0) | (vouch != NULL ? RMSGF_VOUCH : 0));
	wb_u8(&w, km->reply.port != NULL);
	wb_u16(&w, (uint16_t)km->nrights);
	wb_need(&w, MX_TRAILER_MAX);
	tl = trailer_pack(w.p + w.len, &km->tr);
	w.len += tl;
	if (vouch != NULL) {
		wb_u8(&w, (uint8_t)vouch->has_hash);
		wb_need(&w, sizeof(vouch->hash));
		memcpy(w.p + w.len, vouch->hash, sizeof(vouch->hash));
		w.len += sizeof(vouch->hash);
		wb_str(&w, vouch->unit);
	}
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
	/* Counts the rights it carries where they are owed (node_export.c), then sends. */
	if (node_export_send(rn, km, &w) < 0) {
		ipc_kmsg_destroy(km, 0);
		return -MX_ERR_NODEDOWN;
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
		static struct log_throttle thr = LOG_THROTTLE_INIT("node: unexpected ACKs", LOG_WARNING);
		log_throttled(&thr, "node %s: unexpected ACK", rn->name);
		return;
	}
	if (status == MX_ERR_DEAD && !rs->dest->dead && rs->dest->rnode == rn) {
		map_del(&rn->proxies, rs->dest->rid);
		node_peer_proxy_gone(rs->dest);
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

	ps->rn->npsends--;
	send_ack(ps->rn, ps->seq, (uint32_t)(err < 0 ? -err : err));
	free(ps);
}

/* A right from the wire now held by a message here: counted for no-senders. */
static void
took_right(struct kright *kr)
{
	if (kr->right != MX_RIGHT_SEND)
		return;
	node_export_received(kr->port, MX_RIGHT_SEND);
	ipc_port_send_add(kr->port, 1);
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
		static struct log_throttle thr = LOG_THROTTLE_INIT("node: malformed frames", LOG_WARNING);
		log_throttled(&thr, "node %s: malformed message frame", rn->name);
		send_ack(rn, m.seq, MX_ERR_PROTO);
		return;
	}
	/* Notices (dead names, no reply, namesrv's and keysrv's news) are portd's own, never a node's. */
	if (m.msgid >= MX_MSGID_KERNEL) {
		static struct log_throttle kernel_thr = LOG_THROTTLE_INIT("node: kernel message ids", LOG_WARNING);
		log_throttled(&kernel_thr, "node %s: message id %#x refused: kernel message ids come only from portd",
		    rn->name, m.msgid);
		rmsg_free(&m);
		send_ack(rn, m.seq, MX_ERR_PERM);
		return;
	}
	dest = m.dest_inc == node_peers.conf->incarnation ? ipc_port_by_id(m.dest_id) : NULL;
	if (dest == NULL || dest->dead || dest->rnode != NULL || (ret = node_export_msg_ok(rn, dest, &m)) < 0) {
		node_export_drop_rights(rn, &m);
		rmsg_free(&m);
		send_ack(rn, m.seq, dest == NULL || dest->dead || dest->rnode != NULL ? MX_ERR_DEAD : MX_ERR_PERM);
		return;
	}
	/* What a node makes us hold is its own budget's, as a uid's is (portd(8), node_queued_mib). */
	if (rn->acct.held[ACCT_BYTES] + m.ilen > node_peers.conf->node_budget_bytes) {
		static struct log_throttle budget_thr = LOG_THROTTLE_INIT("node: over budget", LOG_WARNING);
		log_throttled(&budget_thr, "node %s: over budget: queued bytes %llu MiB (node_queued_mib)", rn->name,
		    (unsigned long long)(node_peers.conf->node_budget_bytes >> 20));
		rmsg_free(&m);
		send_ack(rn, m.seq, MX_ERR_BUDGET);
		return;
	}
	if ((km = calloc(1, sizeof(*km))) == NULL)
		fatal("kmsg");
	km->refs = 1;
	km->dest = dest;
	ipc_port_ref(dest);
	km->msgid = m.msgid;
	km->acct = &rn->acct;
	km->charged = m.ilen;
	ipc_acct_force(&rn->acct, ACCT_BYTES, m.ilen);
	/*
	 * The trailer is what the sending node vouches for about its own task
	 * (uid, gid, pid), no more: the node is the one on the link. A service
	 * name stays only with the identity it was verified with, and only when
	 * this node's own copy of the signed list gives it that identity.
	 */
	km->tr = m.tr;
	snprintf(km->tr.node, sizeof(km->tr.node), "%s", rn->name);
	if (!(m.flags & RMSGF_VOUCH) || !node_vouch_check(rn, &m.tr, &m.vouch))
		km->tr.service[0] = '\0';
	km->tr.port_id = dest->id;
	if (m.has_reply) {
		km->reply.right = m.reply.right;
		km->reply.port = node_peer_import(&m.reply.gid);
		took_right(&km->reply);
	}
	if (m.nrights > 0 && (km->rights = calloc(m.nrights, sizeof(*km->rights))) == NULL)
		fatal("kmsg");
	for (i = 0; i < m.nrights; i++) {
		km->rights[i] = (struct kright){ node_peer_import(&m.rights[i].gid), m.rights[i].right, m.rights[i].off };
		took_right(&km->rights[i]);
	}
	km->nrights = m.nrights;
	km->len = m.ilen;
	if ((km->mem = malloc(m.ilen ? m.ilen : 1)) == NULL)
		fatal("kmsg");
	memcpy(km->mem, m.items, m.ilen);
	km->items = km->mem;
	rmsg_free(&m);
	ret = ipc_port_enqueue(dest, km, m.flags & RMSGF_DEST_SO);
	if (ret == -MX_ERR_FULL && m.timeout_ms != 0) {
		if ((ps = calloc(1, sizeof(*ps))) == NULL)
			fatal("psend");
		ps->ps.km = km;
		ps->ps.done = psend_done;
		ps->rn = rn;
		rn->npsends++;
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
