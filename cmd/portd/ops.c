/* ops.c — what each request frame from a task does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "log.h"
#include "node.h"
#include "ops.h"
#include "rbuf.h"
#include "task.h"

static struct ops_conf ops_conf;

static const char *const opnames[MX_OP__MAX] = {
	[MX_OP_PORT_ALLOC] = "PORT_ALLOC", [MX_OP_PORT_DESTROY] = "PORT_DESTROY",
	[MX_OP_RIGHT_DEALLOC] = "RIGHT_DEALLOC", [MX_OP_SEND] = "SEND", [MX_OP_RECV] = "RECV",
	[MX_OP_MSG] = "MSG", [MX_OP_SPECIAL_GET] = "SPECIAL_GET", [MX_OP_SPECIAL_SET] = "SPECIAL_SET",
	[MX_OP_NOTIFY_DEAD] = "NOTIFY_DEAD", [MX_OP_QLIMIT] = "QLIMIT", [MX_OP_HELLO] = "HELLO",
	[MX_OP_RPC] = "RPC", [MX_OP_NET_QUERY] = "NET_QUERY", [MX_OP_NET_ANSWER] = "NET_ANSWER",
	[MX_OP_NAME_KEEP] = "NAME_KEEP", [MX_OP_NOTIFY_NOSENDERS] = "NOTIFY_NOSENDERS",
	[MX_OP_WHO_HOLDS] = "WHO_HOLDS", [MX_OP_SERVICE_SET] = "SERVICE_SET", [MX_OP_LIST_LOADED] = "LIST_LOADED",
};

/* A request of n u32 fields and nothing more (rbuf.h): 0 with v[] filled, or -MX_ERR_PROTO. */
static int
get_u32s(const struct mx_frame_hdr *h, const uint8_t *p, uint32_t *v, int n)
{
	struct rbuf r;
	int i;

	rbuf_init(&r, p, h->len);
	for (i = 0; i < n; i++)
		v[i] = rbuf_u32(&r);
	return rbuf_end(&r) < 0 ? -MX_ERR_PROTO : 0;
}

/* What is left of r as a string of 1..max bytes: 0, -MX_ERR_PROTO (length) or -MX_ERR_INVAL (a NUL). */
static int
get_tail(struct rbuf *r, char *out, size_t max)
{
	size_t n = rbuf_left(r);
	const uint8_t *a;

	if (n == 0 || n > max || (a = rbuf_take(r, n)) == NULL)
		return -MX_ERR_PROTO;
	memcpy(out, a, n);
	out[n] = '\0';
	return strlen(out) == n ? 0 : -MX_ERR_INVAL;
}

static void
reply_name(struct task *t, const struct mx_frame_hdr *h, mx_name_t name)
{
	uint8_t b[4];

	put_u32(b, name);
	task_reply(t, h->type, h->id, 0, b, sizeof(b));
}

/*
 * The RPC continuation, the one home of how a send ends for its task
 * (local or remote): the answer, or for an RPC that was queued the receive
 * on its reply port. status is 0 or a positive MX_ERR_*.
 */
static void
ops_send_done(struct task *t, uint8_t op, uint32_t frame_id, uint32_t status, mx_name_t rpc_reply,
    uint32_t rpc_timeout)
{
	struct entry *e;

	if (status != 0 || op != MX_OP_RPC) {
		task_reply(t, op, frame_id, status, NULL, 0);
		return;
	}
	/* The send may have killed nothing of ours, but look the port up again anyway. */
	e = ipc_space_lookup(&t->space, rpc_reply);
	if (e != NULL && e->recv)
		ipc_port_recv(e->port, &t->space, frame_id, 1, rpc_timeout);
	else
		task_reply(t, MX_OP_RPC, frame_id, MX_ERR_BADNAME, NULL, 0);
}

/* A send to another node is over (its ACK, or the node went away). */
static void
node_done(struct task *t, uint8_t op, uint32_t frame_id, uint32_t status, mx_name_t rpc_reply,
    uint32_t rpc_timeout, int stalled)
{
	ops_send_done(t, op, frame_id, status, rpc_reply, rpc_timeout);
	task_send_ended(t, stalled);
}

/* Another node's service port: its send right, or why not. */
static void
node_special_done(struct task *t, uint32_t frame_id, uint32_t status, struct port *p)
{
	mx_name_t name;
	uint8_t b[4];

	if (status != 0) {
		task_reply(t, MX_OP_SPECIAL_GET, frame_id, status, NULL, 0);
		return;
	}
	if (ipc_space_insert(&t->space, p, MX_RIGHT_SEND, &name) < 0) {
		/* No room: the right its home counted for us goes back. */
		ipc_port_send_add(p, 1);
		ipc_port_send_drop(p, 1);
		ipc_port_unref(p);
		task_reply(t, MX_OP_SPECIAL_GET, frame_id, MX_ERR_BUDGET, NULL, 0);
		return;
	}
	put_u32(b, name);
	task_reply(t, MX_OP_SPECIAL_GET, frame_id, 0, b, sizeof(b));
}

/* A task's blocked send is over: queued (err 0), timed out, or its port died. */
static void
psend_done(struct psend *base, int err)
{
	struct ops_psend *ps = (struct ops_psend *)base;
	struct task *t = ps->task;

	t->psend = NULL;
	ops_send_done(t, ps->rpc ? MX_OP_RPC : MX_OP_SEND, ps->frame_id, (uint32_t)(err < 0 ? -err : 0),
	    ps->rpc_reply, ps->rpc_timeout);
	free(ps);
	task_send_ended(t, 1);
}

/* The task goes away with a send still blocked. */
static void
psend_cancel(struct task *t)
{
	struct ops_psend *ps = t->psend;

	if (ps == NULL)
		return;
	t->psend = NULL;
	ipc_port_unblock(&ps->ps);
	free(ps);
}

static int
carries_receive(const uint8_t *p, uint32_t len)
{
	struct mx_item it;
	size_t pos = 0;

	while (items_next(p + MX_MSG_HDR, len - MX_MSG_HDR, &pos, &it) > 0)
		if (it.type == MX_ITEM_PORT && it.right == MX_DISP_MOVE_RECEIVE)
			return 1;
	return 0;
}

/* SEND and RPC: copy the message in, queue it, or block until room. */
static int
op_send(struct task *t, const struct mx_frame_hdr *h, const uint8_t *p, uint8_t *steal)
{
	struct kmsg *km;
	struct ops_psend *ps;
	struct entry *re = NULL;
	uint32_t timeout, rpc_timeout = 0, len = h->len;
	mx_name_t reply = 0;
	int r, always, rpc = h->type == MX_OP_RPC;

	if (rpc) {
		struct mx_msg_hdr mh;
		struct rbuf r4;
		rbuf_init(&r4, p, len);
		rpc_timeout = rbuf_u32(&r4);
		if (rbuf_take(&r4, MX_MSG_HDR) == NULL)
			return -MX_ERR_PROTO;
		p += 4;
		len -= 4;
		msg_hdr_unpack(p, &mh);
		/* The reply comes back to a port of ours, through a send-once right. */
		reply = mh.reply;
		re = ipc_space_lookup(&t->space, reply);
		if (re == NULL || !re->recv || mh.reply_disp != MX_DISP_MAKE_SEND_ONCE)
			return -MX_ERR_BADNAME;
	}
	if (len < MX_MSG_HDR)
		return -MX_ERR_PROTO;
	{
		struct entry *de = ipc_space_lookup(&t->space, get_u32(p));	/* dest: len >= MX_MSG_HDR */
		/*
		 * A reply never waits for room: the receiver made the send-once
		 * right and gave it away. Sent by the receiver itself, it is no
		 * reply but a way around its own queue limit, and waits. (Its
		 * bytes are charged to the sender either way.)
		 */
		always = de != NULL && de->so && de->port->receiver != &t->space;
		if (de != NULL && de->port->rnode != NULL && carries_receive(p, len))
			return -MX_ERR_NOTSUP;	/* a receive right does not leave its node */
	}
	if ((r = ipc_kmsg_copyin(&t->space, p, len, steal, &km, &timeout)) < 0)
		return r;
	if (t->ident.procfd >= 0)	/* a verified service: on what its process wrote, binary unchanged */
		snprintf(km->tr.service, sizeof(km->tr.service), "%s", task_stamp(t));
	if (km->dest->rnode != NULL) {
		r = node_msg_send(t, h, km, always, timeout, reply, rpc_timeout, node_done);
		if (r < 0)
			task_reply(t, h->type, h->id, (uint32_t)-r, NULL, 0);
		else if (r > 0)
			task_stall(t, r == NODE_WINDOW);
		return steal ? 1 : 0;
	}
	r = ipc_port_enqueue(km->dest, km, always);
	if (r == -MX_ERR_FULL && timeout != 0) {
		if ((ps = calloc(1, sizeof(*ps))) == NULL)
			fatal("psend");
		ps->ps.km = km;
		ps->ps.done = psend_done;
		ps->task = t;
		ps->frame_id = h->id;
		ps->rpc = rpc;
		ps->rpc_reply = reply;
		ps->rpc_timeout = rpc_timeout;
		ipc_port_block(&ps->ps, timeout);
		t->psend = ps;
		task_stall(t, 0);	/* FIFO per sender: nothing of ours overtakes it */
		return steal ? 1 : 0;
	}
	if (r < 0) {
		ipc_kmsg_destroy(km, 0);
		task_reply(t, h->type, h->id, (uint32_t)-r, NULL, 0);
		return steal ? 1 : 0;
	}
	ops_send_done(t, h->type, h->id, 0, reply, rpc_timeout);
	return steal ? 1 : 0;
}

static int
op_recv(struct task *t, const struct mx_frame_hdr *h, const uint8_t *p)
{
	struct entry *e;
	uint32_t v[3];		/* port, timeout, credit */

	if (get_u32s(h, p, v, 3) < 0)
		return -MX_ERR_PROTO;
	if ((e = ipc_space_lookup(&t->space, v[0])) == NULL || !e->recv)
		return -MX_ERR_BADNAME;
	ipc_port_recv(e->port, &t->space, h->id, v[2], v[1]);
	return 0;
}

static int
may_hold_special(const struct task *t)
{
	return t->uid == 0 || t->uid == geteuid() || (ops_conf.has_trusted_uid && t->uid == ops_conf.trusted_uid);
}

static int
op_special(struct task *t, const struct mx_frame_hdr *h, const uint8_t *p)
{
	uint32_t which, v[2];	/* which, port (SET) */
	struct port *sp;
	struct entry *e;
	mx_name_t name;
	struct rbuf r;

	if (h->type == MX_OP_SPECIAL_GET && h->len > 4) {
		/* Another node's service port: u32 which, then its node name. */
		char node[MX_NODE_MAX + 1];
		int ret;
		rbuf_init(&r, p, h->len);
		which = rbuf_u32(&r);
		if ((ret = get_tail(&r, node, MX_NODE_MAX)) == -MX_ERR_PROTO)
			return ret;
		if (which == 0 || which >= MX_SPECIAL__MAX || ret < 0)
			return -MX_ERR_INVAL;
		if (strcmp(node, ops_conf.node) != 0)
			return node_special_get(t, h, which, node, node_special_done) < 0 ? -MX_ERR_NODEDOWN : 0;
		v[0] = which;
	} else if (get_u32s(h, p, v, h->type == MX_OP_SPECIAL_GET ? 1 : 2) < 0) {
		return -MX_ERR_PROTO;
	}
	which = v[0];
	if (which == 0 || which >= MX_SPECIAL__MAX)
		return -MX_ERR_INVAL;
	sp = ipc_port_special_get((int)which);
	if (h->type == MX_OP_SPECIAL_GET) {
		if (sp == NULL || sp->dead)
			return -MX_ERR_UNAVAIL;
		ipc_port_ref(sp);
		if (ipc_space_insert(&t->space, sp, MX_RIGHT_SEND, &name) < 0) {
			ipc_port_unref(sp);
			return -MX_ERR_BUDGET;
		}
		reply_name(t, h, name);
		return 0;
	}
	if (!may_hold_special(t)) {
		static struct log_throttle thr;

		if (log_throttle(&thr, "refused special port"))
			log_warnx("task %llu (pid %d uid %u): refused special port %u: not permitted",
		    (unsigned long long)t->id, (int)t->pid, (unsigned)t->uid, which);
		return -MX_ERR_PERM;
	}
	if ((e = ipc_space_lookup(&t->space, v[1])) == NULL || !e->recv)
		return -MX_ERR_BADNAME;
	if (sp != NULL && !sp->dead && sp != e->port)
		return -MX_ERR_EXISTS;
	ipc_port_special_set((int)which, e->port);
	log_info("special port %u held by pid %d", which, (int)t->pid);
	task_reply(t, h->type, h->id, 0, NULL, 0);
	if (which == MX_SPECIAL_KEY)
		node_names_keysrv_ready();
	if (which == MX_SPECIAL_NAME && sp != e->port)
		ops_names_restore(e->port);	/* a new namesrv: the names kept, before any request */
	return 0;
}

static int
op_notify_dead(struct task *t, const struct mx_frame_hdr *h, const uint8_t *p)
{
	struct entry *e, *ne;
	uint32_t v[2];		/* name, notify */

	if (get_u32s(h, p, v, 2) < 0)
		return -MX_ERR_PROTO;
	if ((e = ipc_space_lookup(&t->space, v[0])) == NULL || (ne = ipc_space_lookup(&t->space, v[1])) == NULL ||
	    !ne->recv)
		return -MX_ERR_BADNAME;
	if (ipc_port_request_dead(&t->space, e, ne->port) < 0)
		return -MX_ERR_BUDGET;
	task_reply(t, h->type, h->id, 0, NULL, 0);
	return 0;
}

/* No-senders: both names receive rights of the task (the core counts the senders). */
static int
op_notify_nosenders(struct task *t, const struct mx_frame_hdr *h, const uint8_t *p)
{
	struct entry *e, *ne;
	uint32_t v[2];		/* port, notify */

	if (get_u32s(h, p, v, 2) < 0)
		return -MX_ERR_PROTO;
	if ((e = ipc_space_lookup(&t->space, v[0])) == NULL || !e->recv ||
	    (ne = ipc_space_lookup(&t->space, v[1])) == NULL || !ne->recv)
		return -MX_ERR_BADNAME;
	task_reply(t, h->type, h->id, 0, NULL, 0);	/* before a notice it may queue at once */
	ipc_port_request_nosenders(e->port, ne->port);
	return 0;
}

/* A u8-length string of op_net: "" allowed; else valid() says (NULL: any). */
static int
get_str8(struct rbuf *rb, char *out, size_t outsz, int (*valid)(const char *))
{
	if (rbuf_str(rb, out, outsz) < 0)
		return -MX_ERR_PROTO;
	return out[0] == '\0' || valid == NULL || valid(out) ? 0 : -MX_ERR_INVAL;
}

/*
 * Name resolution over the network: only for the task holding the NAME
 * port. NET_QUERY: u8 len + node ("" every node), u8 len + the asker's
 * service ("" none), the name -> u32 nodes asked. NET_ANSWER: u32 send
 * right, u8 len + node ("" every node), the name.
 */
static int
op_net(struct task *t, const struct mx_frame_hdr *h, const uint8_t *p)
{
	struct port *ns = ipc_port_special_get(MX_SPECIAL_NAME);
	char name[MX_NAME_LEN_MAX + 1], node[MX_NODE_MAX + 1], svc[MX_SERVICE_MAX + 1] = "";
	mx_name_t right = 0;
	struct rident id;
	struct rbuf rb;
	uint8_t b[4];
	int r;

	if (ns == NULL || ns->receiver != &t->space)
		return -MX_ERR_PERM;
	rbuf_init(&rb, p, h->len);
	if (h->type == MX_OP_NET_ANSWER)
		right = rbuf_u32(&rb);
	/* A node name that is not linked is "node unreachable", whatever its spelling. */
	if ((r = get_str8(&rb, node, sizeof(node), NULL)) < 0 ||
	    (h->type == MX_OP_NET_QUERY && (r = get_str8(&rb, svc, sizeof(svc), mx_name_valid)) < 0))
		return r;
	if (rb.bad || (r = get_tail(&rb, name, MX_NAME_LEN_MAX)) == -MX_ERR_PROTO)
		return -MX_ERR_PROTO;
	if (r < 0 || !mx_name_valid(name) || strcmp(node, ops_conf.node) == 0)
		return -MX_ERR_INVAL;
	if (h->type == MX_OP_NET_QUERY) {
		/* The asker's identity goes with the question only when a service asks. */
		int has_asker = svc[0] != '\0' && ops_ident_asker(svc, &id) == 0;

		if ((r = node_names_query(name, node[0] ? node : NULL, svc, has_asker ? &id : NULL)) < 0)
			return r;
		put_u32(b, (uint32_t)r);
		task_reply(t, h->type, h->id, 0, b, sizeof(b));
		return 0;
	}
	/* Who registered it, vouched for with the answer; not looked up when nobody hears it. */
	if (node_names_peer_count() > 0)
		ops_ident_answer(t, right, &id);
	else
		memset(&id, 0, sizeof(id));
	if ((r = node_names_answer(t, name, right, &id, node[0] ? node : NULL)) < 0)
		return r;
	task_reply(t, h->type, h->id, 0, NULL, 0);
	return 0;
}

static int
dispatch(struct task *t, const struct mx_frame_hdr *h, const uint8_t *p, uint8_t *steal)
{
	struct entry *e;
	struct port *np;
	mx_name_t name;
	uint32_t v[2];
	int r = 0;

	if (h->flags != 0 || h->status != 0) {
		r = -MX_ERR_PROTO;
		goto done;
	}
	switch (h->type) {
	case MX_OP_HELLO:
		if ((r = get_u32s(h, p, v, 0)) < 0)
			break;
		task_reply(t, h->type, h->id, 0, ops_conf.node, strlen(ops_conf.node));
		break;
	case MX_OP_PORT_ALLOC:
		if ((r = get_u32s(h, p, v, 0)) < 0)
			break;
		np = ipc_port_new();
		if ((r = ipc_space_insert(&t->space, np, MX_RIGHT_RECEIVE, &name)) < 0) {
			ipc_port_destroy(np);	/* max_names or the uid's rights: never held */
			ipc_port_unref(np);
			break;
		}
		reply_name(t, h, name);
		break;
	case MX_OP_PORT_DESTROY:
	case MX_OP_RIGHT_DEALLOC:
		if ((r = get_u32s(h, p, v, 1)) < 0)
			break;
		if ((e = ipc_space_lookup(&t->space, v[0])) == NULL) {
			r = -MX_ERR_BADNAME;
			break;
		}
		if (h->type == MX_OP_PORT_DESTROY)
			ipc_space_drop(&t->space, e);
		else if (e->recv && e->srefs == 0)
			r = -MX_ERR_BADNAME;	/* a receive right goes with PORT_DESTROY */
		else
			ipc_space_release_send(&t->space, e);
		if (r == 0)
			task_reply(t, h->type, h->id, 0, NULL, 0);
		break;
	case MX_OP_QLIMIT:
		if ((r = get_u32s(h, p, v, 2)) < 0)	/* port, limit */
			break;
		if ((e = ipc_space_lookup(&t->space, v[0])) == NULL || !e->recv) {
			r = -MX_ERR_BADNAME;
			break;
		}
		if (v[1] == 0 || v[1] > 65536) {
			r = -MX_ERR_INVAL;
			break;
		}
		e->port->qlimit = v[1];
		task_reply(t, h->type, h->id, 0, NULL, 0);
		break;
	case MX_OP_SEND:
	case MX_OP_RPC:
		r = op_send(t, h, p, steal);
		break;
	case MX_OP_RECV:
		r = op_recv(t, h, p);
		break;
	case MX_OP_SPECIAL_GET:
	case MX_OP_SPECIAL_SET:
		r = op_special(t, h, p);
		break;
	case MX_OP_NOTIFY_DEAD:
		r = op_notify_dead(t, h, p);
		break;
	case MX_OP_NET_QUERY:
	case MX_OP_NET_ANSWER:
		r = op_net(t, h, p);
		break;
	case MX_OP_NAME_KEEP:
		r = ops_names_keep(t, h, p);
		break;
	case MX_OP_NOTIFY_NOSENDERS:
		r = op_notify_nosenders(t, h, p);
		break;
	case MX_OP_WHO_HOLDS:
		r = ops_ident_who(t, h, p);
		break;
	case MX_OP_SERVICE_SET:
		r = ops_ident_service(t, h, p);
		break;
	case MX_OP_LIST_LOADED:
		r = ops_list_loaded(t, h, p);
		break;
	default:
		r = -MX_ERR_PROTO;
		break;
	}
done:
	if (r < 0) {
		/* Malformed input is logged; refused rights and the like are ordinary answers. */
		static struct log_throttle thr;

		if ((r == -MX_ERR_PROTO || r == -MX_ERR_TOOBIG) && log_throttle(&thr, "malformed request"))
			log_warnx("task %llu (pid %d): %s: %s", (unsigned long long)t->id, (int)t->pid,
			    opnames[h->type], mx_strerror(r));
		task_reply(t, h->type, h->id, (uint32_t)-r, NULL, 0);
		return 0;
	}
	return r;
}

int
ops_dispatch(struct task *t, const struct mx_frame_hdr *h, const uint8_t *p, uint8_t *steal)
{
	int r = dispatch(t, h, p, steal);

#ifdef MX_CHECK_INVARIANTS
	if (!t->closing)
		ipc_check_space(&t->space);
#endif
	return r;
}

/* ---- what the core tells us ---- */

static void
hook_deliver(struct ipc_space *s, const uint8_t *hdr, size_t hlen, struct kmsg *km)
{
	task_queue_msg(task_of(s), hdr, hlen, km);
}

static void
hook_recv_end(struct ipc_space *s, uint32_t frame_id, uint32_t status)
{
	task_reply(task_of(s), MX_OP_RECV, frame_id, status, NULL, 0);
}

/* A port died: the names kept for it go, and the nodes it was exported to are told. */
static void
hook_port_died(struct port *p)
{
	ops_names_port_died(p);
	node_port_died(p);
}

/* A connection is gone: its blocked send, its remote sends, then its rights. */
static void
task_closed(struct task *t)
{
	psend_cancel(t);
	node_msg_task_gone(t);
	identity_drop(&t->ident);
	/* Its rights die with it: ports it received on die, send-once rights notify. */
	ipc_space_destroy(&t->space);
}

void
ops_init(const struct ops_conf *c)
{
	static const struct ipc_hooks hooks = { hook_deliver, hook_recv_end, node_so_gone, node_proxy_no_senders,
	    hook_port_died };
	struct ipc_conf ic = { c->loop, c->node, c->qlimit, c->qlimit_bytes, c->max_names,
	    { c->budget_bytes, c->budget_rights, c->budget_conns }, c->out_max, c->trusted_uid,
	    c->has_trusted_uid, geteuid() };
	struct task_conf tc = { c->loop, c->max_tasks, c->out_max, c->frame_timeout_ms, ops_dispatch, task_closed };

	ops_conf = *c;
	identity_init(c->exe_hash_max);
	ipc_init(&ic, &hooks);
	task_init(&tc);
}
