/*
 * remote.c — ports on other nodes. A proxy port stands for a port of
 * another node; sending to it sends over the link to that node, and the
 * sender's send completes when that node has queued the message (its ACK).
 * Rights inside a message travel as global ids (node, incarnation, port id)
 * and become proxies (or the real port, back home) on arrival.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <string.h>
#include "bcast.h"
#include "link.h"
#include "log.h"
#include "names.h"
#include "keys.h"
#include "portd.h"
#include "rmsg.h"

/* Frame types on a link (1..99 are ours, the link layer keeps 100 and up). */
enum {
	LF_MSG = 1,		/* a message for one of the peer's ports */
	LF_ACK = 2,		/* u64 seq, u32 status: the message was queued, or why not */
	LF_DEAD = 3,		/* u64 inc, u64 id: a port of the sender died */
	LF_SO_GONE = 4,		/* u64 inc, u64 id: a send-once right to it died unused */
	LF_SPECIAL_REQ = 5,	/* u64 req, u32 which */
	LF_SPECIAL_ANS = 6,	/* u64 req, u32 status, u64 id */
	LF_QUERY = 7,		/* name: who has it? */
	LF_ANSWER = 8,		/* name, gid: this port has it */
};


struct soexp {			/* send-once rights to a port of ours held on a node */
	struct port *p;
	uint32_t count;
};

struct rnode {
	LIST_ENTRY(rnode) link;
	char name[MX_NODE_MAX + 1];
	uint64_t inc;			/* 0: not known yet */
	struct link *lk;		/* NULL while unreachable */
	char addr[128];			/* where it said it listens, if known */
	struct map proxies;		/* its port id -> our proxy */
	struct map pending;		/* seq -> rsend waiting for its ACK */
	struct map soexp;		/* our port id -> soexp */
	struct map specials;		/* req -> rspecial */
	uint64_t next_seq, next_req;
	struct ev_timer gone;
	uint8_t *acks;			/* delayed ACKs: u64 seq, u32 status each */
	size_t nacks, capacks;
	struct ev_timer acktimer;
};

/*
 * ACKs of requests and replies wait up to this long for another frame to
 * that node (the reply, the next request) to ride with, saving a record and
 * two wake-ups per round trip; other ACKs go at once.
 */
#define ACK_DELAY_MS 1

/*
 * Plain sends to other nodes a task may have in flight: each completes on
 * its ACK, in the meantime the task goes on (its next frames are taken).
 * The link keeps them in order and the other node queues them in order,
 * waiting ones included, so FIFO per sender holds. An RPC, or a send past
 * the window, stalls the task as a local full queue does.
 */
#define RSEND_WINDOW 256

struct rsend {
	LIST_ENTRY(rsend) tlink;	/* the task's rsends */
	struct task *task;		/* NULL once the task is gone */
	int stalls;			/* the task waits for this one */
	struct port *dest;		/* the proxy, referenced */
	uint32_t frame_id;
	uint8_t op;
	mx_name_t rpc_reply;
	uint32_t rpc_timeout;
};

struct rspecial {
	struct task *task;
	uint32_t frame_id;
};

static LIST_HEAD(, rnode) rnodes = LIST_HEAD_INITIALIZER(rnodes);
static struct map ports_by_id;
static int have_links, have_bcast;

/* ---- the index of this node's ports by id ---- */

void ports_index(struct port *p) { if (map_put(&ports_by_id, p->id, p) < 0) fatal("port index"); }
void ports_unindex(struct port *p) { map_del(&ports_by_id, p->id); }
struct port *port_by_id(uint64_t id) { return map_get(&ports_by_id, id); }

/* ---- encoding ---- */

struct wbuf {
	uint8_t *p;
	size_t len, cap;
};

static void
wb_need(struct wbuf *w, size_t n)
{
	if (w->len + n <= w->cap)
		return;
	while (w->cap < w->len + n)
		w->cap = w->cap ? w->cap * 2 : 256;
	if ((w->p = realloc(w->p, w->cap)) == NULL)
		fatal("wbuf");
}

static void wb_u8(struct wbuf *w, uint8_t v) { wb_need(w, 1); w->p[w->len++] = v; }
static void wb_u16(struct wbuf *w, uint16_t v) { wb_need(w, 2); put_u16(w->p + w->len, v); w->len += 2; }
static void wb_u32(struct wbuf *w, uint32_t v) { wb_need(w, 4); put_u32(w->p + w->len, v); w->len += 4; }
static void wb_u64(struct wbuf *w, uint64_t v) { wb_need(w, 8); put_u64(w->p + w->len, v); w->len += 8; }

static void
wb_str(struct wbuf *w, const char *s)
{
	size_t n = strnlen(s, 255);

	wb_u8(w, (uint8_t)n);
	wb_need(w, n);
	memcpy(w->p + w->len, s, n);
	w->len += n;
}

static void
wb_gid(struct wbuf *w, const struct gid *g)
{
	wb_str(w, g->node);
	wb_u64(w, g->inc);
	wb_u64(w, g->id);
}

/* ---- nodes ---- */

static void rnode_reset(struct rnode *rn, const char *why);
static void acktimer_cb(struct ev_timer *tm);

static void
gone_timeout(struct ev_timer *tm)
{
	struct rnode *rn = tm->arg;

	log_info("node %s: unreachable for %u s: its ports are dead here", rn->name, conf.node_timeout_ms / 1000);
	rnode_reset(rn, "gone");
}

static struct rnode *
rnode_get(const char *name, int create)
{
	struct rnode *rn;

	LIST_FOREACH(rn, &rnodes, link)
		if (strcmp(rn->name, name) == 0)
			return rn;
	if (!create)
		return NULL;
	if ((rn = calloc(1, sizeof(*rn))) == NULL)
		fatal("rnode");
	snprintf(rn->name, sizeof(rn->name), "%s", name);
	ev_timer_init(&rn->gone, gone_timeout, rn);
	ev_timer_init(&rn->acktimer, acktimer_cb, rn);
	LIST_INSERT_HEAD(&rnodes, rn, link);
	return rn;
}

static void
acks_flush(struct rnode *rn)
{
	size_t i;

	ev_timer_disarm(loop, &rn->acktimer);
	for (i = 0; rn->lk != NULL && i < rn->nacks; i++)
		link_send(rn->lk, LF_ACK, rn->acks + i * 12, 12, NULL, 0);
	rn->nacks = 0;
}

static void
acktimer_cb(struct ev_timer *tm)
{
	acks_flush(tm->arg);
}

static void
ack_later(struct rnode *rn, uint64_t seq)
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
		ev_timer_arm(loop, &rn->acktimer, ev_now() + ACK_DELAY_MS);
}

static int
send_frame(struct rnode *rn, uint8_t type, const struct wbuf *w, const void *b, size_t blen)
{
	if (rn->lk == NULL)
		return -1;
	if (rn->nacks > 0)
		acks_flush(rn);	/* in order, and they ride in the same write */
	return link_send(rn->lk, type, w->p, w->len, b, blen);
}

/* A notice from portd itself, with items built by the caller. */
static void
deliver_kernel(struct port *dest, uint32_t msgid, struct mx_msg *items, struct port *right)
{
	struct kmsg *km = kmsg_notice(dest, msgid, 0);
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
	if (port_enqueue(dest, km, 1) < 0)
		kmsg_destroy(km, 0);
}

static void
notify_no_reply(struct port *p)
{
	struct kmsg *km;

	if (p->dead || p->rnode)
		return;
	km = kmsg_notice(p, MX_MSGID_NO_REPLY, 0);
	if (port_enqueue(p, km, 1) < 0)
		kmsg_destroy(km, 0);
}

/* The node is gone, or came back as a new life: what stood for its ports dies. */
static void
rnode_reset(struct rnode *rn, const char *why)
{
	size_t i = 0;
	uint64_t k;
	void *v;
	struct port **all;
	size_t n = 0, cap = rn->proxies.count;

	ev_timer_disarm(loop, &rn->gone);
	if (cap > 0) {
		if ((all = calloc(cap, sizeof(*all))) == NULL)
			fatal("rnode_reset");
		while (map_iter(&rn->proxies, &i, &k, &v) && n < cap)
			all[n++] = v;
		map_free(&rn->proxies);
		for (i = 0; i < n; i++) {
			port_destroy(all[i]);
			port_unref(all[i]);
		}
		free(all);
	}
	map_free(&rn->proxies);
	/* Send-once rights it held for our ports will never be used. */
	i = 0;
	while (map_iter(&rn->soexp, &i, &k, &v)) {
		struct soexp *se = v;
		while (se->count-- > 0)
			notify_no_reply(se->p);
		port_unref(se->p);
		free(se);
	}
	map_free(&rn->soexp);
	log_debug("node %s: %s: %zu proxies dead", rn->name, why, n);
}

/* The task no longer waits for rs. */
static void
rsend_detach(struct rsend *rs)
{
	LIST_REMOVE(rs, tlink);
	rs->task->nrsends--;
	rs->task = NULL;
}

/* Fail what waits on the link. */
static void
rnode_fail_pending(struct rnode *rn)
{
	size_t i = 0;
	uint64_t k;
	void *v;

	while (map_iter(&rn->pending, &i, &k, &v)) {
		struct rsend *rs = v;
		struct task *t = rs->task;
		if (t != NULL) {
			rsend_detach(rs);
			task_reply(t, rs->op, rs->frame_id, MX_ERR_NODEDOWN, NULL, 0);
			if (rs->stalls || t->rwindow) {
				t->rwindow = 0;
				task_resume(t);
			}
		}
		port_unref(rs->dest);
		free(rs);
	}
	map_free(&rn->pending);
	i = 0;
	while (map_iter(&rn->specials, &i, &k, &v)) {
		struct rspecial *sp = v;
		if (sp->task != NULL)
			task_reply(sp->task, MX_OP_SPECIAL_GET, sp->frame_id, MX_ERR_NODEDOWN, NULL, 0);
		free(sp);
	}
	map_free(&rn->specials);
}

/* ---- global ids ---- */

static void
gid_of(struct port *p, struct gid *g)
{
	if (p->rnode != NULL) {
		snprintf(g->node, sizeof(g->node), "%s", p->rnode->name);
		g->inc = p->rnode->inc;
		g->id = p->dead ? 0 : p->rid;
	} else {
		snprintf(g->node, sizeof(g->node), "%s", conf.node);
		g->inc = conf.incarnation;
		g->id = p->dead ? 0 : p->id;
		p->exported = 1;
	}
}

static struct port *
dead_port(void)
{
	struct port *p = port_new();

	p->dead = 1;
	return p;
}

/* The port a global id names here, referenced: ours, a proxy, or a dead name. */
static struct port *
import(const struct gid *g)
{
	struct rnode *rn;
	struct port *p;

	if (strcmp(g->node, conf.node) == 0) {
		p = g->inc == conf.incarnation && g->id != 0 ? port_by_id(g->id) : NULL;
		if (p == NULL || p->dead || p->rnode != NULL)
			return dead_port();
		port_ref(p);
		return p;
	}
	if (g->id == 0)
		return dead_port();
	rn = rnode_get(g->node, 1);
	if (rn->inc == 0)
		rn->inc = g->inc;
	if (g->inc != rn->inc)
		return dead_port();	/* a port of another life of that node */
	if ((p = map_get(&rn->proxies, g->id)) == NULL) {
		p = port_new();		/* the map holds this first reference */
		p->rnode = rn;
		p->rid = g->id;
		if (map_put(&rn->proxies, g->id, p) < 0)
			fatal("proxy");
	}
	port_ref(p);
	return p;
}

/* ---- sending to a proxy ---- */

int
remote_send(struct task *t, const struct mx_frame_hdr *h, struct kmsg *km, int dest_so, uint32_t timeout_ms,
    mx_name_t rpc_reply, uint32_t rpc_timeout)
{
	struct port *dest = km->dest;
	struct rnode *rn = dest->rnode;
	struct wbuf w = { 0 };
	struct gid g;
	struct rsend *rs;
	uint64_t seq;
	uint32_t i;
	size_t tl;
	int r = 0;

	if (rn->lk == NULL) {
		kmsg_destroy(km, 0);
		return -MX_ERR_NODEDOWN;
	}
	for (i = 0; i < km->nrights; i++)
		if (km->rights[i].right == MX_RIGHT_RECEIVE)
			r = -MX_ERR_NOTSUP;
	if (r < 0) {
		kmsg_destroy(km, 0);
		return r;
	}
	seq = ++rn->next_seq;
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
		gid_of(km->reply.port, &g);
		wb_gid(&w, &g);
	}
	for (i = 0; i < km->nrights; i++) {
		wb_u32(&w, km->rights[i].off);
		wb_u8(&w, km->rights[i].right);
		gid_of(km->rights[i].port, &g);
		wb_gid(&w, &g);
	}
	wb_u32(&w, km->len);
	if (send_frame(rn, LF_MSG, &w, km->items, km->len) < 0) {
		free(w.p);
		kmsg_destroy(km, 0);
		return -MX_ERR_NODEDOWN;
	}
	free(w.p);
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
			port_ref(se->p);
			if (map_put(&rn->soexp, kr->port->id, se) < 0)
				fatal("soexp");
		}
		se->count++;
	}
	if ((rs = calloc(1, sizeof(*rs))) == NULL)
		fatal("rsend");
	rs->task = t;
	rs->dest = dest;
	port_ref(dest);
	rs->frame_id = h->id;
	rs->op = h->type;
	rs->rpc_reply = rpc_reply;
	rs->rpc_timeout = rpc_timeout;
	if (map_put(&rn->pending, seq, rs) < 0)
		fatal("rsend");
	LIST_INSERT_HEAD(&t->rsends, rs, tlink);
	t->nrsends++;
	/* Complete only once the other node has queued it. */
	if (h->type != MX_OP_SEND) {
		rs->stalls = 1;
		t->stalled = 1;
	} else if (t->nrsends >= RSEND_WINDOW) {
		t->rwindow = 1;
		t->stalled = 1;
	}
	/* The rights went with it: let go of ours without side effects. */
	kmsg_destroy(km, 0);
	return 0;
}

static void
on_ack(struct rnode *rn, struct rbuf *r)
{
	uint64_t seq = rb_u64(r);
	uint32_t status = rb_u32(r);
	struct rsend *rs;
	struct task *t;

	if (r->bad || (rs = map_del(&rn->pending, seq)) == NULL) {
		log_warnx("node %s: unexpected ACK", rn->name);
		return;
	}
	if (status == MX_ERR_DEAD && !rs->dest->dead && rs->dest->rnode == rn) {
		map_del(&rn->proxies, rs->dest->rid);
		port_destroy(rs->dest);
		port_unref(rs->dest);	/* the map's */
	}
	if ((t = rs->task) != NULL) {
		rsend_detach(rs);
		if (status != 0 || rs->op != MX_OP_RPC) {
			task_reply(t, rs->op, rs->frame_id, status, NULL, 0);
		} else {
			struct entry *e = space_lookup(t, rs->rpc_reply);
			if (e != NULL && e->recv)
				port_recv(e->port, t, rs->frame_id, 1, rs->rpc_timeout);
			else
				task_reply(t, MX_OP_RPC, rs->frame_id, MX_ERR_BADNAME, NULL, 0);
		}
		if (rs->stalls || t->rwindow) {
			t->rwindow = 0;
			task_resume(t);
		}
	}
	port_unref(rs->dest);
	free(rs);
}

void
remote_task_gone(struct task *t)
{
	struct rnode *rn;
	size_t i;
	uint64_t k;
	void *v;

	while (!LIST_EMPTY(&t->rsends))
		rsend_detach(LIST_FIRST(&t->rsends));
	LIST_FOREACH(rn, &rnodes, link) {
		i = 0;
		while (map_iter(&rn->specials, &i, &k, &v))
			if (((struct rspecial *)v)->task == t)
				((struct rspecial *)v)->task = NULL;
	}
}

/* ---- receiving from a link ---- */

static void
send_ack(struct rnode *rn, uint64_t seq, uint32_t status)
{
	struct wbuf w = { 0 };

	wb_u64(&w, seq);
	wb_u32(&w, status);
	send_frame(rn, LF_ACK, &w, NULL, 0);
	free(w.p);
}

void
remote_psend_done(struct psend *ps, int err)
{
	if (ps->km)
		kmsg_destroy(ps->km, 0);
	send_ack(ps->rn, ps->seq, (uint32_t)(err < 0 ? -err : err));
	ev_timer_disarm(loop, &ps->timer);
	free(ps);
}

static void
rpsend_timeout(struct ev_timer *tm)
{
	struct psend *ps = tm->arg;

	TAILQ_REMOVE(&ps->km->dest->blocked, ps, link);
	remote_psend_done(ps, -MX_ERR_TIMEOUT);
}

static void
on_msg(struct rnode *rn, struct rbuf *r)
{
	struct rmsg m;
	struct port *dest;
	struct kmsg *km;
	struct psend *ps;
	uint32_t i;
	int ret;

	if (rmsg_decode(r->p, r->len, &m) < 0) {
		log_warnx("node %s: malformed message frame", rn->name);
		send_ack(rn, m.seq, MX_ERR_PROTO);
		return;
	}
	dest = m.dest_inc == conf.incarnation ? port_by_id(m.dest_id) : NULL;
	if (dest == NULL || dest->dead || dest->rnode != NULL) {
		rmsg_free(&m);
		send_ack(rn, m.seq, MX_ERR_DEAD);
		return;
	}
	if ((km = calloc(1, sizeof(*km))) == NULL)
		fatal("kmsg");
	km->refs = 1;
	km->dest = dest;
	port_ref(dest);
	km->msgid = m.msgid;
	km->tr = m.tr;
	/* The sender's node is the one on the link, whatever the trailer says. */
	snprintf(km->tr.node, sizeof(km->tr.node), "%s", rn->name);
	km->tr.port_id = dest->id;
	if (m.has_reply) {
		km->reply.right = m.reply.right;
		km->reply.port = import(&m.reply.gid);
	}
	if (m.nrights > 0 && (km->rights = calloc(m.nrights, sizeof(*km->rights))) == NULL)
		fatal("kmsg");
	for (i = 0; i < m.nrights; i++)
		km->rights[i] = (struct kright){ import(&m.rights[i].gid), m.rights[i].right, m.rights[i].off };
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
			port_unref(se->p);
			free(se);
		}
	}
	ret = port_enqueue(dest, km, m.flags & RMSGF_DEST_SO);
	if (ret == -MX_ERR_FULL && m.timeout_ms != 0) {
		if ((ps = calloc(1, sizeof(*ps))) == NULL)
			fatal("psend");
		ps->km = km;
		ps->rn = rn;
		ps->seq = m.seq;
		ev_timer_init(&ps->timer, rpsend_timeout, ps);
		if (m.timeout_ms != MX_FOREVER)
			ev_timer_arm(loop, &ps->timer, ev_now() + m.timeout_ms);
		TAILQ_INSERT_TAIL(&dest->blocked, ps, link);
		return;
	}
	if (ret < 0) {
		kmsg_destroy(km, 0);
		send_ack(rn, m.seq, (uint32_t)-ret);
	} else if ((m.has_reply && m.reply.right == MX_RIGHT_SEND_ONCE) || (m.flags & RMSGF_DEST_SO)) {
		ack_later(rn, m.seq);	/* a request or a reply: the other way's frame comes soon */
	} else {
		send_ack(rn, m.seq, 0);
	}
}

static void
on_dead(struct rnode *rn, struct rbuf *r)
{
	uint64_t inc = rb_u64(r), id = rb_u64(r);
	struct port *p;

	if (r->bad || inc != rn->inc || (p = map_del(&rn->proxies, id)) == NULL)
		return;
	log_debug("node %s: port %llu died", rn->name, (unsigned long long)id);
	port_destroy(p);
	port_unref(p);
}

static void
on_so_gone(struct rnode *rn, struct rbuf *r)
{
	uint64_t inc = rb_u64(r), id = rb_u64(r);
	struct soexp *se;
	struct port *p;

	if (r->bad || inc != conf.incarnation)
		return;
	if ((se = map_get(&rn->soexp, id)) != NULL && se->count > 0 && --se->count == 0) {
		map_del(&rn->soexp, id);
		port_unref(se->p);
		free(se);
	}
	if ((p = port_by_id(id)) != NULL)
		notify_no_reply(p);
}

static void
on_special_req(struct rnode *rn, struct rbuf *r)
{
	uint64_t req = rb_u64(r);
	uint32_t which = rb_u32(r);
	struct port *sp = r->bad ? NULL : special_get((int)which);
	struct wbuf w = { 0 };

	wb_u64(&w, req);
	if (sp == NULL || sp->dead) {
		wb_u32(&w, MX_ERR_UNAVAIL);
		wb_u64(&w, 0);
	} else {
		sp->exported = 1;
		wb_u32(&w, 0);
		wb_u64(&w, sp->id);
	}
	send_frame(rn, LF_SPECIAL_ANS, &w, NULL, 0);
	free(w.p);
}

static void
on_special_ans(struct rnode *rn, struct rbuf *r)
{
	uint64_t req = rb_u64(r), id;
	uint32_t status = rb_u32(r);
	struct rspecial *sp;
	struct gid g;
	struct port *p;
	mx_name_t name;
	uint8_t b[4];

	id = rb_u64(r);
	if (r->bad || (sp = map_del(&rn->specials, req)) == NULL)
		return;
	if (sp->task != NULL) {
		if (status != 0) {
			task_reply(sp->task, MX_OP_SPECIAL_GET, sp->frame_id, status, NULL, 0);
		} else {
			snprintf(g.node, sizeof(g.node), "%s", rn->name);
			g.inc = rn->inc;
			g.id = id;
			p = import(&g);
			space_insert(sp->task, p, MX_RIGHT_SEND, &name);
			put_u32(b, name);
			task_reply(sp->task, MX_OP_SPECIAL_GET, sp->frame_id, 0, b, sizeof(b));
		}
	}
	free(sp);
}

/* Hand a name-resolution question or answer to our namesrv. */
static void
to_namesrv(uint32_t msgid, const char *name, const char *from, struct port *right)
{
	struct port *ns = special_get(MX_SPECIAL_NAME);
	struct mx_msg *m;

	if (ns == NULL || ns->dead || !mx_name_valid(name)) {
		if (right)
			port_unref(right);
		return;
	}
	if ((m = mx_msg_new(msgid)) == NULL)
		fatal("to_namesrv");
	mx_msg_add_string(m, name);
	mx_msg_add_string(m, from);
	if (right != NULL)
		mx_msg_add_port(m, 1, MX_DISP_COPY_SEND);	/* the name is rewritten on delivery */
	deliver_kernel(ns, msgid, m, right);
	mx_msg_free(m);
}

static void
on_query(struct rnode *rn, const uint8_t *p, size_t n)
{
	struct rbuf r = { p, n, 0, 0 };
	char name[MX_NAME_LEN_MAX + 1];

	rb_str(&r, name, sizeof(name));
	if (r.bad || r.pos != n) {
		log_warnx("node %s: malformed name query", rn->name);
		return;
	}
	to_namesrv(NS_NET_QUERY, name, rn->name, NULL);
}

static void
on_answer(struct rnode *rn, const uint8_t *p, size_t n)
{
	struct rbuf r = { p, n, 0, 0 };
	char name[MX_NAME_LEN_MAX + 1];
	struct gid g;

	rb_str(&r, name, sizeof(name));
	rb_gid(&r, &g);
	if (r.bad || r.pos != n || strcmp(g.node, rn->name) != 0 || g.inc != rn->inc) {
		log_warnx("node %s: malformed or foreign name answer", rn->name);
		return;
	}
	to_namesrv(NS_NET_ANSWER, name, rn->name, import(&g));
}

/* keysrv keeps the directory of known nodes: give it the certificate the link verified. */
static void
tell_keysrv(struct link *l, const char *node)
{
	struct port *ks = special_get(MX_SPECIAL_KEY);
	struct mx_msg *m;
	size_t len;
	char *pem;

	if (ks == NULL || ks->dead || (pem = link_peer_cert_pem(l, &len)) == NULL)
		return;
	if ((m = mx_msg_new(KS_PEER_LINKED)) == NULL)
		fatal("tell_keysrv");
	mx_msg_add_bytes(m, pem, len);
	mx_msg_add_string(m, node);
	deliver_kernel(ks, KS_PEER_LINKED, m, NULL);
	mx_msg_free(m);
	free(pem);
}

/* keysrv (re)started: tell it of every node linked now. */
void
remote_keysrv_ready(void)
{
	struct rnode *rn;

	LIST_FOREACH(rn, &rnodes, link)
		if (rn->lk != NULL)
			tell_keysrv(rn->lk, rn->name);
}

/* ---- link callbacks ---- */

static void
link_up(struct link *l, const char *node, uint64_t inc)
{
	struct rnode *rn = rnode_get(node, 1);

	if (rn->inc != 0 && rn->inc != inc) {
		log_info("node %s: restarted (new incarnation): its old ports are dead here", node);
		rnode_reset(rn, "restarted");
	}
	ev_timer_disarm(loop, &rn->gone);
	rn->inc = inc;
	rn->lk = l;
	log_info("node %s: linked", node);
	tell_keysrv(l, node);
}

static void
link_down(struct link *l, const char *why)
{
	struct rnode *rn;

	LIST_FOREACH(rn, &rnodes, link) {
		if (rn->lk != l)
			continue;
		rn->nacks = 0;
		ev_timer_disarm(loop, &rn->acktimer);
		rn->lk = NULL;
		log_info("node %s: link down: %s", rn->name, why);
		rnode_fail_pending(rn);
		ev_timer_arm(loop, &rn->gone, ev_now() + conf.node_timeout_ms);
	}
}

static void
link_frame(struct link *l, uint8_t type, const uint8_t *p, uint32_t len)
{
	struct rnode *rn;
	struct rbuf r = { p, len, 0, 0 };

	LIST_FOREACH(rn, &rnodes, link)
		if (rn->lk == l)
			break;
	if (rn == NULL)
		return;
	switch (type) {
	case LF_MSG: on_msg(rn, &r); break;
	case LF_ACK: on_ack(rn, &r); break;
	case LF_DEAD: on_dead(rn, &r); break;
	case LF_SO_GONE: on_so_gone(rn, &r); break;
	case LF_SPECIAL_REQ: on_special_req(rn, &r); break;
	case LF_SPECIAL_ANS: on_special_ans(rn, &r); break;
	case LF_QUERY: on_query(rn, p, len); break;
	case LF_ANSWER: on_answer(rn, p, len); break;
	default:
		log_warnx("node %s: unknown frame type %u: closing the link", rn->name, type);
		link_close(l, "unknown frame type");
		break;
	}
}

/* ---- broadcast ---- */

static void
bcast_recv(const char *node, uint64_t inc, uint8_t type, const uint8_t *p, size_t n,
    const struct sockaddr_in *from)
{
	struct rnode *rn = rnode_get(node, 1);
	char host[INET_ADDRSTRLEN];

	if (type == BCAST_ANNOUNCE && n == 2 && inet_ntop(AF_INET, &from->sin_addr, host, sizeof(host))) {
		snprintf(rn->addr, sizeof(rn->addr), "%s:%u", host, get_u16(p));
		if (rn->lk == NULL && have_links)
			links_connect(node, rn->addr);
		return;
	}
	if (type == BCAST_QUERY) {
		struct rbuf r = { p, n, 0, 0 };
		char name[MX_NAME_LEN_MAX + 1];
		rb_str(&r, name, sizeof(name));
		if (!r.bad && r.pos == n && rn->lk == NULL)	/* linked nodes ask over the link */
			to_namesrv(NS_NET_QUERY, name, node, NULL);
	} else if (type == BCAST_ANSWER && rn->lk == NULL) {
		/* Linked nodes answer over the link; this one is not linked yet: link, and take the answer. */
		struct rbuf r = { p, n, 0, 0 };
		char name[MX_NAME_LEN_MAX + 1];
		struct gid g;

		rb_str(&r, name, sizeof(name));
		rb_gid(&r, &g);
		if (r.bad || r.pos != n || strcmp(g.node, node) != 0 || g.inc != inc)
			return;
		if (rn->inc != 0 && rn->inc != inc)
			rnode_reset(rn, "restarted");
		rn->inc = inc;
		if (rn->addr[0] != '\0' && have_links)
			links_connect(node, rn->addr);
		to_namesrv(NS_NET_ANSWER, name, node, import(&g));
	}
}

/* ---- what portd's other parts ask ---- */

void
remote_port_died(struct port *p)
{
	struct rnode *rn;
	struct wbuf w = { 0 };
	struct soexp *se;

	if (p->rnode != NULL)
		return;
	LIST_FOREACH(rn, &rnodes, link) {
		if ((se = map_del(&rn->soexp, p->id)) != NULL) {
			port_unref(se->p);
			free(se);
		}
	}
	if (!p->exported)
		return;
	wb_u64(&w, conf.incarnation);
	wb_u64(&w, p->id);
	LIST_FOREACH(rn, &rnodes, link)
		send_frame(rn, LF_DEAD, &w, NULL, 0);
	free(w.p);
}

void
remote_so_gone(struct port *proxy)
{
	struct wbuf w = { 0 };

	if (proxy->dead || proxy->rnode == NULL)
		return;
	wb_u64(&w, proxy->rnode->inc);
	wb_u64(&w, proxy->rid);
	send_frame(proxy->rnode, LF_SO_GONE, &w, NULL, 0);
	free(w.p);
}

int
remote_special_get(struct task *t, const struct mx_frame_hdr *h, uint32_t which, const char *node)
{
	struct rnode *rn = rnode_get(node, 0);
	struct rspecial *sp;
	struct wbuf w = { 0 };
	uint64_t req;

	if (rn == NULL || rn->lk == NULL) {
		if (rn != NULL && rn->addr[0] != '\0' && have_links)
			links_connect(node, rn->addr);
		return -MX_ERR_NODEDOWN;
	}
	req = ++rn->next_req;
	wb_u64(&w, req);
	wb_u32(&w, which);
	if (send_frame(rn, LF_SPECIAL_REQ, &w, NULL, 0) < 0) {
		free(w.p);
		return -MX_ERR_NODEDOWN;
	}
	free(w.p);
	if ((sp = calloc(1, sizeof(*sp))) == NULL)
		fatal("rspecial");
	sp->task = t;
	sp->frame_id = h->id;
	if (map_put(&rn->specials, req, sp) < 0)
		fatal("rspecial");
	return 1;	/* answered later */
}

int
remote_peer_count(void)
{
	struct rnode *rn;
	int n = 0;

	LIST_FOREACH(rn, &rnodes, link)
		n += rn->lk != NULL;
	return n + have_bcast;
}

int
remote_net_query(struct task *t, const char *name)
{
	struct rnode *rn;
	struct wbuf w = { 0 };

	(void)t;
	wb_str(&w, name);
	LIST_FOREACH(rn, &rnodes, link)
		send_frame(rn, LF_QUERY, &w, NULL, 0);
	if (have_bcast)
		bcast_send(BCAST_QUERY, w.p, w.len);
	free(w.p);
	return remote_peer_count();
}

int
remote_net_answer(struct task *t, const char *name, mx_name_t right)
{
	struct entry *e = space_lookup(t, right);
	struct rnode *rn;
	struct wbuf w = { 0 };
	struct gid g;

	if (e == NULL || e->port->rnode != NULL || e->port->dead)
		return -MX_ERR_BADNAME;
	gid_of(e->port, &g);
	wb_str(&w, name);
	wb_gid(&w, &g);
	/* The owner tells every node it can reach, so they all cache the answer. */
	LIST_FOREACH(rn, &rnodes, link)
		send_frame(rn, LF_ANSWER, &w, NULL, 0);
	if (have_bcast)
		bcast_send(BCAST_ANSWER, w.p, w.len);
	free(w.p);
	return 0;
}

static void
announce(struct ev_timer *tm)
{
	static uint8_t b[2];
	/* Nodes that hear us dial the port of our first listen line. */
	const char *colon = conf.nlistens > 0 ? strrchr(conf.listens[0], ':') : NULL;
	unsigned long port = colon ? strtoul(colon + 1, NULL, 10) : LINK_DEFAULT_PORT;

	put_u16(b, (uint16_t)port);
	bcast_send(BCAST_ANNOUNCE, b, sizeof(b));
	ev_timer_arm(loop, tm, ev_now() + 10000);
}

int
remote_init(char *why, size_t whysz)
{
	static const struct link_cb cb = { link_up, link_frame, link_down };
	static struct ev_timer announce_timer;
	struct link_conf lc = { conf.node, conf.incarnation, conf.state_dir };
	struct bcast_conf bc = { conf.node, conf.incarnation, conf.state_dir, conf.broadcast };
	int i;

	char crt[sizeof(conf.state_dir) + 16];
	int default_listen = 0;

	/* A certified node listens on the default port unless told otherwise. */
	snprintf(crt, sizeof(crt), "%s/node.crt", conf.state_dir);
	if (conf.nlistens == 0 && access(crt, R_OK) == 0) {
		snprintf(conf.listens[0], sizeof(conf.listens[0]), ":%u", LINK_DEFAULT_PORT);
		conf.nlistens = 1;
		default_listen = 1;
	}
	if (conf.nlistens == 0 && conf.npeers == 0 && conf.broadcast[0] == '\0')
		return 0;	/* a node on its own */
	if (links_init(loop, &lc, &cb, why, whysz) < 0)
		return -1;
	have_links = 1;
	for (i = 0; i < conf.nlistens; i++) {
		if (links_listen(conf.listens[i], why, whysz) == 0)
			continue;
		if (!default_listen)
			return -1;
		/* Another node of this machine has the default port: links go out only. */
		log_warnx("%s: not listening for links", why);
		conf.nlistens = 0;
	}
	for (i = 0; i < conf.npeers; i++)
		if (links_add_peer(conf.peers[i], why, whysz) < 0)
			return -1;
	if (conf.broadcast[0] != '\0') {
		if (bcast_init(loop, &bc, bcast_recv, why, whysz) < 0)
			return -1;
		have_bcast = 1;
		ev_timer_init(&announce_timer, announce, NULL);
		ev_timer_arm(loop, &announce_timer, ev_now());
	}
	return 0;
}

void
remote_flush(void)
{
	if (have_links)
		links_flush();
}

void
remote_reload(void)
{
	if (have_links)
		links_reload();
	if (have_bcast)
		bcast_reload();
}

void
remote_shutdown(void)
{
	if (have_links)
		links_close_all();
	if (have_bcast)
		bcast_close();
}
