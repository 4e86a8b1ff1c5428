/* ops.c — what each request frame from a task does. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "log.h"
#include "portd.h"

static const char *const opnames[MX_OP__MAX] = {
	[MX_OP_PORT_ALLOC] = "PORT_ALLOC", [MX_OP_PORT_DESTROY] = "PORT_DESTROY",
	[MX_OP_RIGHT_DEALLOC] = "RIGHT_DEALLOC", [MX_OP_SEND] = "SEND", [MX_OP_RECV] = "RECV",
	[MX_OP_MSG] = "MSG", [MX_OP_SPECIAL_GET] = "SPECIAL_GET", [MX_OP_SPECIAL_SET] = "SPECIAL_SET",
	[MX_OP_NOTIFY_DEAD] = "NOTIFY_DEAD", [MX_OP_QLIMIT] = "QLIMIT", [MX_OP_HELLO] = "HELLO",
	[MX_OP_RPC] = "RPC", [MX_OP_NET_QUERY] = "NET_QUERY", [MX_OP_NET_ANSWER] = "NET_ANSWER",
};

static int
want_len(const struct mx_frame_hdr *h, uint32_t n)
{
	return h->len == n ? 0 : -MX_ERR_PROTO;
}

static void
reply_name(struct task *t, const struct mx_frame_hdr *h, mx_name_t name)
{
	uint8_t b[4];

	put_u32(b, name);
	task_reply(t, h->type, h->id, 0, b, sizeof(b));
}

void
psend_timeout(struct ev_timer *tm)
{
	struct psend *ps = tm->arg;
	struct port *p = ps->km->dest;

	TAILQ_REMOVE(&p->blocked, ps, link);
	psend_complete(ps, -MX_ERR_TIMEOUT);
}

/* A blocked send is over: queued (err 0), timed out, or its port died. */
void
psend_complete(struct psend *ps, int err)
{
	struct task *t = ps->task;

	if (t == NULL) {
		remote_psend_done(ps, err);	/* it came from another node: ACK it there */
		return;
	}
	ev_timer_disarm(loop, &ps->timer);
	t->psend = NULL;
	if (err < 0) {
		if (ps->km)
			kmsg_destroy(ps->km, 0);
		task_reply(t, ps->rpc ? MX_OP_RPC : MX_OP_SEND, ps->frame_id, (uint32_t)-err, NULL, 0);
	} else if (ps->rpc) {
		struct entry *e = space_lookup(t, ps->rpc_reply);
		if (e != NULL && e->recv)
			port_recv(e->port, t, ps->frame_id, 1, ps->rpc_timeout);
		else
			task_reply(t, MX_OP_RPC, ps->frame_id, MX_ERR_BADNAME, NULL, 0);
	} else {
		task_reply(t, MX_OP_SEND, ps->frame_id, 0, NULL, 0);
	}
	free(ps);
	task_resume(t);
}

/* The task goes away with a send still blocked. */
void
psend_cancel(struct task *t)
{
	struct psend *ps = t->psend;

	if (ps == NULL)
		return;
	t->psend = NULL;
	TAILQ_REMOVE(&ps->km->dest->blocked, ps, link);
	ev_timer_disarm(loop, &ps->timer);
	kmsg_destroy(ps->km, 0);
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
	struct psend *ps;
	struct entry *re = NULL;
	uint32_t timeout, rpc_timeout = 0, len = h->len;
	mx_name_t reply = 0;
	int r, always, rpc = h->type == MX_OP_RPC;

	if (rpc) {
		struct mx_msg_hdr mh;
		if (len < 4 + MX_MSG_HDR)
			return -MX_ERR_PROTO;
		rpc_timeout = get_u32(p);
		p += 4;
		len -= 4;
		msg_hdr_unpack(p, &mh);
		/* The reply comes back to a port of ours, through a send-once right. */
		reply = mh.reply;
		re = space_lookup(t, reply);
		if (re == NULL || !re->recv || mh.reply_disp != MX_DISP_MAKE_SEND_ONCE)
			return -MX_ERR_BADNAME;
	}
	if (len < MX_MSG_HDR)
		return -MX_ERR_PROTO;
	{
		struct entry *de = space_lookup(t, get_u32(p));
		always = de != NULL && de->so;	/* replies never wait for room */
		if (de != NULL && de->port->rnode != NULL && carries_receive(p, len))
			return -MX_ERR_NOTSUP;	/* a receive right does not leave its node */
	}
	if ((r = kmsg_copyin(t, p, len, steal, &km, &timeout)) < 0)
		return r;
	if (km->dest->rnode != NULL) {
		r = remote_send(t, h, km, always, timeout, reply, rpc_timeout);
		if (r < 0)
			task_reply(t, h->type, h->id, (uint32_t)-r, NULL, 0);
		return steal ? 1 : 0;
	}
	r = port_enqueue(km->dest, km, always);
	if (r == -MX_ERR_FULL && timeout != 0) {
		if ((ps = calloc(1, sizeof(*ps))) == NULL)
			fatal("psend");
		ps->km = km;
		ps->task = t;
		ps->frame_id = h->id;
		ps->rpc = rpc;
		ps->rpc_reply = reply;
		ps->rpc_timeout = rpc_timeout;
		ev_timer_init(&ps->timer, psend_timeout, ps);
		if (timeout != MX_FOREVER)
			ev_timer_arm(loop, &ps->timer, ev_now() + timeout);
		TAILQ_INSERT_TAIL(&km->dest->blocked, ps, link);
		t->psend = ps;
		t->stalled = 1;	/* FIFO per sender: nothing of ours overtakes it */
		return steal ? 1 : 0;
	}
	if (r < 0) {
		kmsg_destroy(km, 0);
		task_reply(t, h->type, h->id, (uint32_t)-r, NULL, 0);
		return steal ? 1 : 0;
	}
	if (rpc) {
		/* The send may have killed nothing of ours, but look the port up again anyway. */
		re = space_lookup(t, reply);
		if (re != NULL && re->recv)
			port_recv(re->port, t, h->id, 1, rpc_timeout);
		else
			task_reply(t, h->type, h->id, MX_ERR_BADNAME, NULL, 0);
	} else {
		task_reply(t, h->type, h->id, 0, NULL, 0);
	}
	return steal ? 1 : 0;
}

static int
op_recv(struct task *t, const struct mx_frame_hdr *h, const uint8_t *p)
{
	struct entry *e;

	if (want_len(h, 12) < 0)
		return -MX_ERR_PROTO;
	if ((e = space_lookup(t, get_u32(p))) == NULL || !e->recv)
		return -MX_ERR_BADNAME;
	port_recv(e->port, t, h->id, get_u32(p + 8), get_u32(p + 4));
	return 0;
}

static int
may_hold_special(const struct task *t)
{
	return t->uid == 0 || t->uid == geteuid() || (conf.has_trusted_uid && t->uid == conf.trusted_uid);
}

static int
op_special(struct task *t, const struct mx_frame_hdr *h, const uint8_t *p)
{
	uint32_t which;
	struct port *sp;
	struct entry *e;
	mx_name_t name;

	if (h->type == MX_OP_SPECIAL_GET && h->len > 4) {
		/* Another node's service port: u32 which, then its node name. */
		char node[MX_NODE_MAX + 1];
		if (h->len - 4 > MX_NODE_MAX)
			return -MX_ERR_PROTO;
		memcpy(node, p + 4, h->len - 4);
		node[h->len - 4] = '\0';
		which = get_u32(p);
		if (which == 0 || which >= MX_SPECIAL__MAX || strlen(node) != h->len - 4)
			return -MX_ERR_INVAL;
		if (strcmp(node, conf.node) != 0)
			return remote_special_get(t, h, which, node) < 0 ? -MX_ERR_NODEDOWN : 0;
	} else if (want_len(h, h->type == MX_OP_SPECIAL_GET ? 4 : 8) < 0) {
		return -MX_ERR_PROTO;
	}
	which = get_u32(p);
	if (which == 0 || which >= MX_SPECIAL__MAX)
		return -MX_ERR_INVAL;
	sp = special_get((int)which);
	if (h->type == MX_OP_SPECIAL_GET) {
		if (sp == NULL || sp->dead)
			return -MX_ERR_UNAVAIL;
		port_ref(sp);
		space_insert(t, sp, MX_RIGHT_SEND, &name);
		reply_name(t, h, name);
		return 0;
	}
	if (!may_hold_special(t)) {
		log_warnx("task %llu (pid %d uid %u): refused special port %u: not permitted",
		    (unsigned long long)t->id, (int)t->pid, (unsigned)t->uid, which);
		return -MX_ERR_PERM;
	}
	if ((e = space_lookup(t, get_u32(p + 4))) == NULL || !e->recv)
		return -MX_ERR_BADNAME;
	if (sp != NULL && !sp->dead && sp != e->port)
		return -MX_ERR_EXISTS;
	special_set((int)which, e->port);
	log_info("special port %u held by pid %d", which, (int)t->pid);
	task_reply(t, h->type, h->id, 0, NULL, 0);
	if (which == MX_SPECIAL_KEY)
		remote_keysrv_ready();
	return 0;
}

static int
op_notify_dead(struct task *t, const struct mx_frame_hdr *h, const uint8_t *p)
{
	struct entry *e, *ne;
	struct dnreq *dn;

	if (want_len(h, 8) < 0)
		return -MX_ERR_PROTO;
	if ((e = space_lookup(t, get_u32(p))) == NULL || (ne = space_lookup(t, get_u32(p + 4))) == NULL ||
	    !ne->recv)
		return -MX_ERR_BADNAME;
	if (e->port->dead) {
		port_notify_dead(e->port, ne->port, e->name);
	} else {
		if ((dn = calloc(1, sizeof(*dn))) == NULL)
			fatal("dnreq");
		dn->notify = ne->port;
		port_ref(ne->port);
		dn->name = e->name;
		LIST_INSERT_HEAD(&e->port->dnreqs, dn, link);
	}
	task_reply(t, h->type, h->id, 0, NULL, 0);
	return 0;
}

/* Name resolution over the network: only for the task holding the NAME port. */
static int
op_net(struct task *t, const struct mx_frame_hdr *h, const uint8_t *p)
{
	struct port *ns = special_get(MX_SPECIAL_NAME);
	char name[MX_NAME_LEN_MAX + 1];
	size_t off = h->type == MX_OP_NET_ANSWER ? 4 : 0;
	uint8_t b[4];
	int r;

	if (ns == NULL || ns->receiver != t)
		return -MX_ERR_PERM;
	if (h->len <= off || h->len - off > MX_NAME_LEN_MAX)
		return -MX_ERR_PROTO;
	memcpy(name, p + off, h->len - off);
	name[h->len - off] = '\0';
	if (!mx_name_valid(name))
		return -MX_ERR_INVAL;
	if (h->type == MX_OP_NET_QUERY) {
		put_u32(b, (uint32_t)remote_net_query(t, name));
		task_reply(t, h->type, h->id, 0, b, sizeof(b));
		return 0;
	}
	if ((r = remote_net_answer(t, name, get_u32(p))) < 0)
		return r;
	task_reply(t, h->type, h->id, 0, NULL, 0);
	return 0;
}

int
task_dispatch(struct task *t, const struct mx_frame_hdr *h, const uint8_t *p, uint8_t *steal)
{
	struct entry *e;
	struct port *np;
	mx_name_t name;
	int r = 0;

	if (h->flags != 0 || h->status != 0) {
		r = -MX_ERR_PROTO;
		goto done;
	}
	switch (h->type) {
	case MX_OP_HELLO:
		if ((r = want_len(h, 0)) < 0)
			break;
		task_reply(t, h->type, h->id, 0, conf.node, strlen(conf.node));
		break;
	case MX_OP_PORT_ALLOC:
		if ((r = want_len(h, 0)) < 0)
			break;
		if (t->nentries >= conf.max_names) {
			r = -MX_ERR_NOMEM;
			break;
		}
		np = port_new();
		space_insert(t, np, MX_RIGHT_RECEIVE, &name);
		reply_name(t, h, name);
		break;
	case MX_OP_PORT_DESTROY:
	case MX_OP_RIGHT_DEALLOC:
		if ((r = want_len(h, 4)) < 0)
			break;
		if ((e = space_lookup(t, get_u32(p))) == NULL) {
			r = -MX_ERR_BADNAME;
			break;
		}
		if (h->type == MX_OP_PORT_DESTROY)
			space_drop(t, e);
		else if (e->recv && e->srefs == 0)
			r = -MX_ERR_BADNAME;	/* a receive right goes with PORT_DESTROY */
		else
			space_release_send(t, e);
		if (r == 0)
			task_reply(t, h->type, h->id, 0, NULL, 0);
		break;
	case MX_OP_QLIMIT:
		if ((r = want_len(h, 8)) < 0)
			break;
		if ((e = space_lookup(t, get_u32(p))) == NULL || !e->recv) {
			r = -MX_ERR_BADNAME;
			break;
		}
		if (get_u32(p + 4) == 0 || get_u32(p + 4) > 65536) {
			r = -MX_ERR_INVAL;
			break;
		}
		e->port->qlimit = get_u32(p + 4);
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
	default:
		r = -MX_ERR_PROTO;
		break;
	}
done:
	if (r < 0) {
		/* Malformed input is logged; refused rights and the like are ordinary answers. */
		if (r == -MX_ERR_PROTO || r == -MX_ERR_TOOBIG)
			log_warnx("task %llu (pid %d): %s: %s", (unsigned long long)t->id, (int)t->pid,
			    opnames[h->type], mx_strerror(r));
		task_reply(t, h->type, h->id, (uint32_t)-r, NULL, 0);
		return 0;
	}
	return r;
}
