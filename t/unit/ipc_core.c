/*
 * ipc_core.c — unit tests of portd's IPC core (cmd/portd/ipc_*.c), driven
 * directly: name spaces, rights, messages, queues, blocked senders,
 * waiters, death. The core is linked alone, with the hooks of this file in
 * place of the layers above it, and the invariant checker runs after every
 * step (built with -DMX_CHECK_INVARIANTS).
 */
#include <stdlib.h>
#include <string.h>
#include "ipc.h"
#include "log.h"
#include "unit.h"

static struct ev_loop *loop;

/* What the core told us. */
static int ndeliver, nrecv_end, nso_gone, ndied;
static uint32_t last_status, last_frame, last_msgid;
static struct ipc_space *last_space;

static void
hook_deliver(struct ipc_space *s, const uint8_t *hdr, size_t hlen, struct kmsg *km)
{
	struct mx_msg_hdr mh;

	msg_hdr_unpack(hdr + hlen - MX_MSG_HDR, &mh);
	ndeliver++;
	last_space = s;
	last_msgid = mh.msgid;
	ipc_kmsg_unref(km);
}

static void
hook_recv_end(struct ipc_space *s, uint32_t frame_id, uint32_t status)
{
	nrecv_end++;
	last_space = s;
	last_frame = frame_id;
	last_status = status;
}

static void hook_so_gone(struct port *proxy) { (void)proxy; nso_gone++; }
static void hook_died(struct port *p) { (void)p; ndied++; }
static int nproxy_ns;
static void hook_proxy_ns(struct port *p) { (void)p; nproxy_ns++; }

static void
reset_hooks(void)
{
	ndeliver = nrecv_end = nso_gone = ndied = 0;
	last_status = last_frame = last_msgid = 0;
	last_space = NULL;
}

/* ---- helpers ---- */

static struct ipc_space *
space_uid(uid_t uid)
{
	struct ipc_space *s = calloc(1, sizeof(*s));

	if (s == NULL)
		abort();
	ipc_space_init(s, uid, uid, 4242);
	return s;
}

static struct ipc_space *
space_new(void)
{
	return space_uid(1000);
}

static void
space_free(struct ipc_space *s)
{
	s->closing = 1;
	ipc_space_destroy(s);
	free(s);
}

static mx_name_t
port_alloc(struct ipc_space *s)
{
	mx_name_t n;

	ipc_space_insert(s, ipc_port_new(), MX_RIGHT_RECEIVE, &n);
	return n;
}

/* Give to a right of kind right to the port that owner calls name. */
static mx_name_t
grant(struct ipc_space *owner, mx_name_t name, struct ipc_space *to, uint8_t right)
{
	struct entry *e = ipc_space_lookup(owner, name);
	mx_name_t n;

	ipc_port_ref(e->port);
	ipc_space_insert(to, e->port, right, &n);
	return n;
}

static struct port *
port_of(struct ipc_space *s, mx_name_t name)
{
	struct entry *e = ipc_space_lookup(s, name);

	return e ? e->port : NULL;
}

struct item { mx_name_t name; uint8_t disp; };

/* Copy a message in from s and queue it: 0, or the error of copy-in or the queue. */
static int
send_msg(struct ipc_space *s, mx_name_t dest, mx_name_t reply, uint8_t reply_disp, const struct item *it,
    int nit, size_t body)
{
	struct mx_msg *m = mx_msg_new(0);
	struct mx_msg_hdr h = { .dest = dest, .reply = reply, .reply_disp = reply_disp };
	struct kmsg *km;
	uint8_t *payload;
	uint32_t timeout;
	int i, r;

	for (i = 0; i < nit; i++)
		mx_msg_add_port(m, it[i].name, (enum mx_disp)it[i].disp);
	if (body > 0) {
		uint8_t *b = calloc(1, body);
		mx_msg_add_bytes(m, b, body);
		free(b);
	}
	if ((payload = malloc(MX_MSG_HDR + m->len)) == NULL)
		abort();
	msg_hdr_pack(payload, &h);
	if (m->len > 0)
		memcpy(payload + MX_MSG_HDR, m->items, m->len);
	r = ipc_kmsg_copyin(s, payload, (uint32_t)(MX_MSG_HDR + m->len), NULL, &km, &timeout);
	free(payload);
	mx_msg_free(m);
	if (r < 0)
		return r;
	if ((r = ipc_port_enqueue(km->dest, km, 0)) < 0)
		ipc_kmsg_destroy(km, 0);
	return r;
}

/* A space's rights, to tell whether a refused message left it unchanged. */
struct snap {
	int n;
	struct { mx_name_t name; uint8_t recv, so; uint32_t srefs; uint64_t port; } e[16];
};

static void
snap_take(struct ipc_space *s, struct snap *sn)
{
	size_t i = 0;
	uint64_t k;
	void *v;

	sn->n = 0;
	while (map_iter(&s->names, &i, &k, &v) && sn->n < 16) {
		struct entry *e = v;
		sn->e[sn->n].name = e->name;
		sn->e[sn->n].recv = e->recv;
		sn->e[sn->n].so = e->so;
		sn->e[sn->n].srefs = e->srefs;
		sn->e[sn->n].port = e->port->id;
		sn->n++;
	}
}

static int
snap_same(struct ipc_space *s, const struct snap *sn)
{
	int i;

	if ((uint32_t)sn->n != s->nentries)
		return 0;
	for (i = 0; i < sn->n; i++) {
		struct entry *e = ipc_space_lookup(s, sn->e[i].name);
		if (e == NULL || e->recv != sn->e[i].recv || e->so != sn->e[i].so || e->srefs != sn->e[i].srefs ||
		    e->port->id != sn->e[i].port)
			return 0;
	}
	return 1;
}

static void
check(struct ipc_space *a, struct ipc_space *b)
{
	if (a)
		ipc_check_space(a);
	if (b)
		ipc_check_space(b);
	ipc_check_acct(0);	/* deliveries are freed at once here: nothing is held outside the core */
}

/* ---- rights bookkeeping ---- */

static void
test_rights(void)
{
	struct ipc_space *a = space_new(), *b = space_new();
	mx_name_t p, s1, s2, x, o1, o2;
	struct entry *e;

	unit_case = "rights";
	p = port_alloc(a);
	e = ipc_space_lookup(a, p);
	EXPECT(e != NULL && e->recv && e->srefs == 0 && !e->so);
	/* A send right to a port we receive on merges into its name. */
	s1 = grant(a, p, a, MX_RIGHT_SEND);
	s2 = grant(a, p, a, MX_RIGHT_SEND);
	EXPECT_EQ(s1, p);
	EXPECT_EQ(s2, p);
	EXPECT_EQ(ipc_space_lookup(a, p)->srefs, 2);
	EXPECT_EQ(a->nentries, 1);
	ipc_space_release_send(a, ipc_space_lookup(a, p));
	ipc_space_release_send(a, ipc_space_lookup(a, p));
	e = ipc_space_lookup(a, p);
	EXPECT(e != NULL && e->recv && e->srefs == 0);	/* the receive right stays */
	check(a, b);

	/* User references in another space: the name goes with the last one. */
	x = grant(a, p, b, MX_RIGHT_SEND);
	EXPECT_EQ(grant(a, p, b, MX_RIGHT_SEND), x);
	EXPECT_EQ(ipc_space_lookup(b, x)->srefs, 2);
	ipc_space_release_send(b, ipc_space_lookup(b, x));
	EXPECT_EQ(ipc_space_lookup(b, x)->srefs, 1);
	ipc_space_release_send(b, ipc_space_lookup(b, x));
	EXPECT(ipc_space_lookup(b, x) == NULL);
	EXPECT_EQ(b->nentries, 0);
	check(a, b);

	/* Send-once rights: one name each; one dropped unused tells the port. */
	o1 = grant(a, p, b, MX_RIGHT_SEND_ONCE);
	o2 = grant(a, p, b, MX_RIGHT_SEND_ONCE);
	EXPECT(o1 != o2);
	EXPECT(ipc_space_lookup(b, o1)->so && ipc_space_lookup(b, o2)->so);
	EXPECT_EQ(b->nentries, 2);
	ipc_space_drop(b, ipc_space_lookup(b, o1));
	EXPECT_EQ(port_of(a, p)->nqueued, 1);
	EXPECT_EQ(TAILQ_FIRST(&port_of(a, p)->queue)->msgid, MX_MSGID_NO_REPLY);
	/* Used by a send, it sends instead: no notice. */
	EXPECT_EQ(send_msg(b, o2, 0, 0, NULL, 0, 0), 0);
	EXPECT(ipc_space_lookup(b, o2) == NULL);
	EXPECT_EQ(port_of(a, p)->nqueued, 2);
	EXPECT_EQ(TAILQ_LAST(&port_of(a, p)->queue, kmsgq)->msgid, 0);
	check(a, b);

	/* Dead names: the port dies, b's send right stays as a dead name. */
	reset_hooks();
	x = grant(a, p, b, MX_RIGHT_SEND);
	EXPECT_EQ(grant(a, p, b, MX_RIGHT_SEND), x);
	ipc_space_drop(a, ipc_space_lookup(a, p));
	EXPECT_EQ(ndied, 1);
	e = ipc_space_lookup(b, x);
	EXPECT(e != NULL && e->port->dead && e->srefs == 2);
	EXPECT_EQ(send_msg(b, x, 0, 0, NULL, 0, 0), -MX_ERR_DEAD);
	/* Releasing one reference of a dead name drops the name. */
	ipc_space_release_send(b, e);
	EXPECT(ipc_space_lookup(b, x) == NULL);
	check(a, b);
	space_free(a);
	space_free(b);
}

/* ---- one right named twice in a message: every pair of dispositions ---- */

static const uint8_t disps[] = {
	MX_DISP_MOVE_RECEIVE, MX_DISP_MOVE_SEND, MX_DISP_MOVE_SEND_ONCE,
	MX_DISP_COPY_SEND, MX_DISP_MAKE_SEND, MX_DISP_MAKE_SEND_ONCE,
};

/* A model of a name's rights, taken in order, independent of the core's code. */
struct shadow { int recv, so, srefs; };

static int
shadow_take(struct shadow *s, uint8_t d)
{
	switch (d) {
	case MX_DISP_MOVE_RECEIVE: if (!s->recv) return 0; s->recv = 0; return 1;
	case MX_DISP_MOVE_SEND: if (s->srefs == 0) return 0; s->srefs--; return 1;
	case MX_DISP_COPY_SEND: return s->srefs > 0;
	case MX_DISP_MAKE_SEND: case MX_DISP_MAKE_SEND_ONCE: return s->recv;
	case MX_DISP_MOVE_SEND_ONCE: if (!s->so) return 0; s->so = 0; return 1;
	}
	return 0;
}

/* The message is good iff the two uses succeed in either order. */
static int
model_ok(struct shadow st, uint8_t d1, uint8_t d2)
{
	struct shadow a = st, b = st;

	return shadow_take(&a, d1) && shadow_take(&a, d2) && shadow_take(&b, d2) && shadow_take(&b, d1);
}

static int
consumes(uint8_t d)
{
	return d == MX_DISP_MOVE_RECEIVE || d == MX_DISP_MOVE_SEND || d == MX_DISP_MOVE_SEND_ONCE;
}

/* Make a name in s with the rights of st (a port owned by o when s holds no receive right). */
static mx_name_t
name_with(struct ipc_space *s, struct ipc_space *o, struct shadow st)
{
	mx_name_t n, p;
	int i;

	if (st.so) {
		p = port_alloc(o);
		return grant(o, p, s, MX_RIGHT_SEND_ONCE);
	}
	if (st.recv) {
		n = port_alloc(s);
		for (i = 0; i < st.srefs; i++)
			grant(s, n, s, MX_RIGHT_SEND);
		return n;
	}
	p = port_alloc(o);
	n = 0;
	for (i = 0; i < st.srefs; i++)
		n = grant(o, p, s, MX_RIGHT_SEND);
	return n;
}

static void
test_same_right(void)
{
	static const struct shadow states[] = {
		{ 1, 0, 0 }, { 1, 0, 1 }, { 0, 0, 1 }, { 0, 0, 2 }, { 0, 1, 0 },
	};
	char what[128];
	size_t si, i, j;
	int as_reply;

	for (si = 0; si < sizeof(states) / sizeof(states[0]); si++)
	for (i = 0; i < sizeof(disps); i++)
	for (j = 0; j < sizeof(disps); j++)
	for (as_reply = 0; as_reply < 2; as_reply++) {
		struct ipc_space *s = space_new(), *o = space_new();
		struct shadow st = states[si];
		uint8_t d1 = disps[i], d2 = disps[j];
		struct item it[2];
		struct snap before;
		mx_name_t dest, n;
		int r, want_ok;

		snprintf(what, sizeof(what), "same right: recv %d so %d srefs %d, %u then %s %u", st.recv, st.so,
		    st.srefs, d1, as_reply ? "reply" : "item", d2);
		unit_case = what;
		dest = port_alloc(s);
		n = name_with(s, o, st);
		/* Each use alone must be valid, or the pair is not about this bug. */
		{
			struct shadow a = st, b = st;
			if (!shadow_take(&a, d1) || !shadow_take(&b, d2)) {
				space_free(s);
				space_free(o);
				continue;
			}
		}
		want_ok = model_ok(st, d1, d2);
		if (as_reply && (d2 == MX_DISP_MOVE_RECEIVE || (consumes(d1) && consumes(d2))))
			want_ok = -1;	/* the reply rules of their own: never a receive right, one consumer */
		it[0] = (struct item){ n, d1 };
		it[1] = (struct item){ n, d2 };
		snap_take(s, &before);
		r = as_reply ? send_msg(s, dest, n, d2, it, 1, 0) : send_msg(s, dest, 0, 0, it, 2, 0);
		if (want_ok == 1) {
			EXPECT_EQ(r, 0);
		} else if (want_ok == 0) {
			EXPECT_EQ(r, -MX_ERR_BADNAME);
			EXPECT(snap_same(s, &before));
		} else {
			EXPECT(r == -MX_ERR_BADNAME || r == -MX_ERR_INVAL);
			EXPECT(snap_same(s, &before));
		}
		check(s, o);
		space_free(s);
		space_free(o);
	}
}

/* A dead name moved goes whole: it cannot be named again in the message. */
static void
test_dead_name_twice(void)
{
	struct ipc_space *a = space_new(), *b = space_new();
	struct item it[2];
	struct snap before;
	mx_name_t p, x, dest;

	unit_case = "dead name twice";
	p = port_alloc(a);
	x = grant(a, p, b, MX_RIGHT_SEND);
	grant(a, p, b, MX_RIGHT_SEND);
	dest = port_alloc(b);
	ipc_space_drop(a, ipc_space_lookup(a, p));
	it[0] = (struct item){ x, MX_DISP_MOVE_SEND };
	it[1] = (struct item){ x, MX_DISP_MOVE_SEND };
	snap_take(b, &before);
	EXPECT_EQ(send_msg(b, dest, 0, 0, it, 2, 0), -MX_ERR_BADNAME);
	EXPECT(snap_same(b, &before));
	it[1].disp = MX_DISP_COPY_SEND;
	EXPECT_EQ(send_msg(b, dest, 0, 0, it, 2, 0), -MX_ERR_BADNAME);
	EXPECT(snap_same(b, &before));
	/* Alone it travels, as a dead name. */
	EXPECT_EQ(send_msg(b, dest, 0, 0, it, 1, 0), 0);
	EXPECT(ipc_space_lookup(b, x) == NULL);
	check(a, b);
	space_free(a);
	space_free(b);
}

/* ---- queues ---- */

struct tsend {
	struct psend ps;
	int done, err;
};

static void
tsend_done(struct psend *ps, int err)
{
	struct tsend *t = (struct tsend *)ps;

	t->done++;
	t->err = err;
}

/* A kmsg from s to dest, copied in, not queued. */
static struct kmsg *
copyin(struct ipc_space *s, mx_name_t dest, size_t body)
{
	struct mx_msg *m = mx_msg_new(0);
	struct mx_msg_hdr h = { .dest = dest };
	uint8_t payload[MX_MSG_HDR + 4096];
	struct kmsg *km = NULL;
	uint32_t timeout;

	if (body > 0) {
		static uint8_t zero[2048];
		mx_msg_add_bytes(m, zero, body);
	}
	msg_hdr_pack(payload, &h);
	if (m->len > 0)
		memcpy(payload + MX_MSG_HDR, m->items, m->len);
	if (ipc_kmsg_copyin(s, payload, (uint32_t)(MX_MSG_HDR + m->len), NULL, &km, &timeout) < 0)
		abort();
	mx_msg_free(m);
	return km;
}

static void
on_break(struct ev_timer *t)
{
	(void)t;
	ev_break(loop);
}

static void
run_loop_ms(uint32_t ms)
{
	struct ev_timer t;

	ev_timer_init(&t, on_break, NULL);
	ev_timer_arm(loop, &t, ev_now() + ms);
	ev_run(loop);
	ev_timer_disarm(loop, &t);
}

static void
test_queue_limits(void)
{
	struct ipc_space *a = space_new(), *b = space_new();
	struct tsend ts = { 0 }, tt = { 0 };
	struct kmsg *km;
	mx_name_t p, x, o;
	struct port *port;

	unit_case = "queue limits";
	p = port_alloc(a);
	port = port_of(a, p);
	x = grant(a, p, b, MX_RIGHT_SEND);
	EXPECT_EQ(port->qlimit, 2);		/* from ipc_conf */
	EXPECT_EQ(send_msg(b, x, 0, 0, NULL, 0, 0), 0);
	EXPECT_EQ(send_msg(b, x, 0, 0, NULL, 0, 0), 0);
	EXPECT_EQ(send_msg(b, x, 0, 0, NULL, 0, 0), -MX_ERR_FULL);
	EXPECT_EQ(port->nqueued, 2);
	/* A reply through a send-once right never waits for room. */
	o = grant(a, p, b, MX_RIGHT_SEND_ONCE);
	km = copyin(b, o, 0);
	EXPECT_EQ(ipc_port_enqueue(km->dest, km, 1), 0);
	EXPECT_EQ(port->nqueued, 3);
	check(a, b);

	/* A blocked sender gets in once the receiver takes one. */
	ts.ps.km = copyin(b, x, 0);
	ts.ps.done = tsend_done;
	ipc_port_block(&ts.ps, MX_FOREVER);
	reset_hooks();
	ipc_port_recv(port, a, 7, 2, MX_FOREVER);
	EXPECT_EQ(ndeliver, 2);
	EXPECT(last_space == a);
	EXPECT_EQ(ts.done, 1);
	EXPECT_EQ(ts.err, 0);
	EXPECT_EQ(port->nqueued, 2);	/* 3 - 2 taken + 1 let in */
	check(a, b);

	/* Past its timeout it gives up, and its message is gone. */
	tt.ps.km = copyin(b, x, 0);
	tt.ps.done = tsend_done;
	ipc_port_block(&tt.ps, 20);
	run_loop_ms(200);
	EXPECT_EQ(tt.done, 1);
	EXPECT_EQ(tt.err, -MX_ERR_TIMEOUT);
	EXPECT(tt.ps.km == NULL);
	EXPECT(TAILQ_EMPTY(&port->blocked));
	check(a, b);

	/* The byte limit: one message past it is refused, even on an empty queue. */
	ipc_port_recv(port, a, 8, 2, MX_FOREVER);
	EXPECT_EQ(port->nqueued, 0);
	ipc_port_cancel_waiter(port, -MX_ERR_INVAL);
	EXPECT_EQ(send_msg(b, x, 0, 0, NULL, 0, 2000), -MX_ERR_FULL);
	EXPECT_EQ(send_msg(b, x, 0, 0, NULL, 0, 500), 0);
	check(a, b);
	space_free(a);
	space_free(b);
}

/* ---- death ---- */

static void
test_death(void)
{
	struct ipc_space *a = space_new(), *b = space_new();
	struct tsend ts = { 0 };
	mx_name_t p, x, n, q, o;
	struct item it;

	/* A waiting receiver learns the port died. */
	unit_case = "death: waiter";
	p = port_alloc(a);
	reset_hooks();
	ipc_port_recv(port_of(a, p), a, 11, 1, MX_FOREVER);
	EXPECT_EQ(nrecv_end, 0);
	ipc_space_drop(a, ipc_space_lookup(a, p));
	EXPECT_EQ(nrecv_end, 1);
	EXPECT_EQ(last_frame, 11);
	EXPECT_EQ(last_status, MX_ERR_DEAD);
	EXPECT_EQ(ndied, 1);
	check(a, b);

	/*
	 * A full port with a blocked sender, a dead-name request and a queued
	 * message carrying a send-once right: it dies, the sender hears DEAD,
	 * the requester gets its notice, the send-once right its "no reply".
	 */
	unit_case = "death: senders, requests, rights in queued messages";
	p = port_alloc(a);
	x = grant(a, p, b, MX_RIGHT_SEND);
	n = port_alloc(b);			/* b's notify port */
	q = port_alloc(b);			/* b's reply port */
	EXPECT_EQ(ipc_port_request_dead(b, ipc_space_lookup(b, x), port_of(b, n)), 0);
	it = (struct item){ q, MX_DISP_MAKE_SEND_ONCE };
	EXPECT_EQ(send_msg(b, x, 0, 0, &it, 1, 0), 0);
	EXPECT_EQ(send_msg(b, x, 0, 0, NULL, 0, 0), 0);
	ts.ps.km = copyin(b, x, 0);
	ts.ps.done = tsend_done;
	ipc_port_block(&ts.ps, MX_FOREVER);
	reset_hooks();
	ipc_space_drop(a, ipc_space_lookup(a, p));
	EXPECT_EQ(ndied, 1);
	EXPECT_EQ(ts.done, 1);
	EXPECT_EQ(ts.err, -MX_ERR_DEAD);
	EXPECT_EQ(port_of(b, n)->nqueued, 1);
	EXPECT_EQ(TAILQ_FIRST(&port_of(b, n)->queue)->msgid, MX_MSGID_DEAD_NAME);
	EXPECT_EQ(port_of(b, q)->nqueued, 1);
	EXPECT_EQ(TAILQ_FIRST(&port_of(b, q)->queue)->msgid, MX_MSGID_NO_REPLY);
	EXPECT(ipc_space_lookup(b, x) != NULL && port_of(b, x)->dead);
	/* Asked after the death, the notice comes at once. */
	EXPECT_EQ(ipc_port_request_dead(b, ipc_space_lookup(b, x), port_of(b, n)), 0);
	EXPECT_EQ(port_of(b, n)->nqueued, 2);
	check(a, b);

	/* A send-once right to a proxy dies: the node layer is told, no local notice. */
	unit_case = "death: proxy send-once right";
	p = port_alloc(a);
	port_of(a, p)->rnode = (struct rnode *)&ts;	/* any non-NULL: a proxy */
	o = grant(a, p, b, MX_RIGHT_SEND_ONCE);
	reset_hooks();
	ipc_space_drop(b, ipc_space_lookup(b, o));
	EXPECT_EQ(nso_gone, 1);
	EXPECT_EQ(port_of(a, p)->nqueued, 0);
	check(a, b);

	/* A task goes: its ports die, its send-once rights notify. */
	unit_case = "death: space destroyed";
	p = port_alloc(a);
	o = grant(a, p, b, MX_RIGHT_SEND_ONCE);
	reset_hooks();
	space_free(b);
	EXPECT_EQ(ndied, 2);			/* n and q */
	EXPECT_EQ(port_of(a, p)->nqueued, 1);
	check(a, NULL);
	space_free(a);
}

/* ---- budgets ---- */

static struct ipc_acct *
acct(uid_t uid)
{
	return ipc_acct_get(uid);
}

static void
test_budget_bytes(void)
{
	struct ipc_space *a = space_new(), *r = space_uid(0);
	mx_name_t p[12];
	int i;

	/* Each port holds 1000 bytes of a's: the ninth passes 8 KiB and is refused, the queues unchanged. */
	unit_case = "budget: queued bytes over every port of a uid";
	for (i = 0; i < 12; i++)
		p[i] = port_alloc(a);
	for (i = 0; i < 8; i++)
		EXPECT_EQ(send_msg(a, p[i], 0, 0, NULL, 0, 1000 - MX_ITEM_HDR), 0);
	EXPECT_EQ(acct(1000)->held[ACCT_BYTES], 8000);
	EXPECT_EQ(send_msg(a, p[8], 0, 0, NULL, 0, 1000 - MX_ITEM_HDR), -MX_ERR_BUDGET);
	EXPECT_EQ(port_of(a, p[8])->nqueued, 0);
	EXPECT_EQ(acct(1000)->held[ACCT_BYTES], 8000);
	EXPECT_EQ(strcmp(ipc_acct_why(), "over budget: uid 1000 queued bytes 8192"), 0);
	check(a, r);

	/* Root is counted, never refused; what root holds is not charged to a. */
	unit_case = "budget: root keeps its reserve";
	for (i = 0; i < 9; i++) {
		mx_name_t x = port_alloc(r);
		EXPECT_EQ(send_msg(r, x, 0, 0, NULL, 0, 1000 - MX_ITEM_HDR), 0);
	}
	EXPECT_EQ(acct(0)->held[ACCT_BYTES], 9000);
	EXPECT_EQ(acct(1000)->held[ACCT_BYTES], 8000);
	check(a, r);

	/* Freed with the messages: the port dies, its queue goes, the charge with it. */
	unit_case = "budget: uncharged when the messages go";
	ipc_space_drop(a, ipc_space_lookup(a, p[0]));
	EXPECT_EQ(acct(1000)->held[ACCT_BYTES], 7000);
	EXPECT_EQ(send_msg(a, p[8], 0, 0, NULL, 0, 1000 - MX_ITEM_HDR), 0);
	check(a, r);
	space_free(a);
	space_free(r);
	EXPECT_EQ(acct(1000)->held[ACCT_BYTES], 0);
	EXPECT_EQ(acct(0)->held[ACCT_BYTES], 0);
	check(NULL, NULL);
}

static void
test_budget_rights(void)
{
	struct ipc_space *a = space_new(), *b = space_new(), *r = space_uid(0);
	mx_name_t n = 0, nb = 0, p, q, s1;
	struct entry *e;
	struct item it;
	int i, ok = 0;

	/* Every name of a uid counts, over all its spaces: 32 in all. */
	unit_case = "budget: rights per uid, over its spaces";
	for (i = 0; i < 20; i++)
		port_alloc(a);
	for (i = 0; i < 20; i++) {
		struct port *np = ipc_port_new();
		if (ipc_space_insert(b, np, MX_RIGHT_RECEIVE, &nb) == 0) {
			ok++;
		} else {
			ipc_port_destroy(np);	/* refused: the caller still holds it */
			ipc_port_unref(np);
		}
	}
	EXPECT_EQ(ok, 12);
	EXPECT_EQ(acct(1000)->held[ACCT_RIGHTS], 32);
	EXPECT_EQ(strcmp(ipc_acct_why(), "over budget: uid 1000 rights 32"), 0);
	check(a, b);

	/* Root's space: not refused by the uid budget, but max_names (64) holds for it too. */
	unit_case = "budget: max_names on every insert";
	ok = 0;
	for (i = 0; i < 70; i++) {
		struct port *np = ipc_port_new();
		if (ipc_space_insert(r, np, MX_RIGHT_RECEIVE, &n) == 0) {
			ok++;
		} else {
			ipc_port_destroy(np);
			ipc_port_unref(np);
		}
	}
	EXPECT_EQ(ok, 64);
	EXPECT_EQ(r->nentries, 64);
	check(a, r);

	/*
	 * A message carrying rights to a receiver with no room: each arrives as
	 * name 0 and is destroyed, a send-once right says "no reply".
	 */
	unit_case = "budget: copy-out to a full space";
	space_free(r);
	r = space_uid(0);
	q = port_alloc(r);			/* root's reply port */
	ipc_space_drop(b, ipc_space_lookup(b, nb));
	p = port_alloc(b);			/* b is at 32 rights again */
	s1 = grant(b, p, r, MX_RIGHT_SEND);
	EXPECT_EQ(acct(1000)->held[ACCT_RIGHTS], 32);
	reset_hooks();
	ipc_port_recv(port_of(b, p), b, 2, 1, MX_FOREVER);
	it = (struct item){ q, MX_DISP_MAKE_SEND };
	EXPECT_EQ(send_msg(r, s1, q, MX_DISP_MAKE_SEND_ONCE, &it, 1, 0), 0);
	EXPECT_EQ(ndeliver, 1);
	EXPECT_EQ(acct(1000)->held[ACCT_RIGHTS], 32);	/* neither right found room */
	/* The send-once right was destroyed unused: root's reply port hears "no reply". */
	EXPECT_EQ(port_of(r, q)->nqueued, 1);
	EXPECT_EQ(TAILQ_FIRST(&port_of(r, q)->queue)->msgid, MX_MSGID_NO_REPLY);
	e = ipc_space_lookup(r, q);
	EXPECT_EQ(e->srefs, 0);			/* the send right made for b is gone too */
	check(a, b);
	check(r, NULL);
	space_free(a);
	space_free(b);
	space_free(r);
	EXPECT_EQ(acct(1000)->held[ACCT_RIGHTS], 0);
	check(NULL, NULL);
}

static void
test_dead_name_requests(void)
{
	struct ipc_space *a = space_new(), *b = space_new();
	mx_name_t p, x, n1, n2;

	/* Requests on a port b does not own: b's, coalesced per name, freed with b. */
	unit_case = "dead-name requests: coalesced, the requester's";
	p = port_alloc(a);
	x = grant(a, p, b, MX_RIGHT_SEND);
	n1 = port_alloc(b);
	n2 = port_alloc(b);
	EXPECT_EQ(acct(1000)->held[ACCT_RIGHTS], 4);
	EXPECT_EQ(ipc_port_request_dead(b, ipc_space_lookup(b, x), port_of(b, n1)), 0);
	EXPECT_EQ(ipc_port_request_dead(b, ipc_space_lookup(b, x), port_of(b, n1)), 0);
	EXPECT_EQ(ipc_port_request_dead(b, ipc_space_lookup(b, x), port_of(b, n2)), 0);
	EXPECT_EQ(acct(1000)->held[ACCT_RIGHTS], 5);
	EXPECT_EQ(b->dnreqs.count, 1);
	check(a, b);

	unit_case = "dead-name requests: freed when the requester goes";
	space_free(b);
	EXPECT(LIST_EMPTY(&port_of(a, p)->dnreqs));
	EXPECT_EQ(acct(1000)->held[ACCT_RIGHTS], 1);
	check(a, NULL);

	/* The latest notify port hears the death, once. */
	unit_case = "dead-name requests: the latest notify port hears it";
	b = space_new();
	x = grant(a, p, b, MX_RIGHT_SEND);
	n1 = port_alloc(b);
	n2 = port_alloc(b);
	EXPECT_EQ(ipc_port_request_dead(b, ipc_space_lookup(b, x), port_of(b, n1)), 0);
	EXPECT_EQ(ipc_port_request_dead(b, ipc_space_lookup(b, x), port_of(b, n2)), 0);
	ipc_space_drop(a, ipc_space_lookup(a, p));
	EXPECT_EQ(port_of(b, n1)->nqueued, 0);
	EXPECT_EQ(port_of(b, n2)->nqueued, 1);
	EXPECT_EQ(b->dnreqs.count, 0);
	check(a, b);

	/* Dropping the name drops its request. */
	unit_case = "dead-name requests: go with the name";
	p = port_alloc(a);
	x = grant(a, p, b, MX_RIGHT_SEND);
	EXPECT_EQ(ipc_port_request_dead(b, ipc_space_lookup(b, x), port_of(b, n1)), 0);
	ipc_space_release_send(b, ipc_space_lookup(b, x));
	EXPECT(LIST_EMPTY(&port_of(a, p)->dnreqs));
	EXPECT_EQ(b->dnreqs.count, 0);
	check(a, b);
	space_free(a);
	space_free(b);
	check(NULL, NULL);
}

static void
test_output_bound(void)
{
	struct ipc_space *a = space_new();
	mx_name_t p;

	/* A receiver with a full output queue takes nothing more, whatever its credit. */
	unit_case = "output bound: a huge credit moves no more than out_max allows";
	p = port_alloc(a);
	port_of(a, p)->qlimit = 100;
	reset_hooks();
	a->outbytes = 4096;
	ipc_port_recv(port_of(a, p), a, 5, 1000000, MX_FOREVER);
	EXPECT_EQ(send_msg(a, p, 0, 0, NULL, 0, 100), 0);
	EXPECT_EQ(send_msg(a, p, 0, 0, NULL, 0, 100), 0);
	EXPECT_EQ(ndeliver, 0);
	EXPECT_EQ(port_of(a, p)->nqueued, 2);
	check(a, NULL);

	unit_case = "output bound: drained, the receive goes on";
	a->outbytes = 0;
	ipc_space_kick_recv(a);
	EXPECT_EQ(ndeliver, 2);
	EXPECT_EQ(port_of(a, p)->nqueued, 0);
	check(a, NULL);
	space_free(a);
}

static void
test_admit(void)
{
	struct ipc_space *s[4];
	int i;

	unit_case = "budget: connections per uid, a reserve for root";
	for (i = 0; i < 4; i++) {
		EXPECT_EQ(ipc_acct_admit(1000, (uint32_t)i, 100), 0);
		s[i] = space_new();
	}
	EXPECT_EQ(ipc_acct_admit(1000, 4, 100), -MX_ERR_BUDGET);
	EXPECT_EQ(strcmp(ipc_acct_why(), "over budget: uid 1000 connections 4"), 0);
	EXPECT_EQ(ipc_acct_admit(1001, 83, 100), 0);
	EXPECT_EQ(ipc_acct_admit(1001, 84, 100), -MX_ERR_BUDGET);	/* the last 16 are root's */
	EXPECT_EQ(ipc_acct_admit(0, 99, 100), 0);
	EXPECT_EQ(ipc_acct_admit(0, 100, 100), -MX_ERR_BUDGET);
	check(NULL, NULL);
	for (i = 0; i < 4; i++)
		space_free(s[i]);
	EXPECT_EQ(ipc_acct_admit(1000, 0, 100), 0);
	check(NULL, NULL);
}

/* The notices queued on p with msgid, counted. */
static int
notices(struct port *p, uint32_t msgid)
{
	struct kmsg *km;
	int n = 0;

	TAILQ_FOREACH(km, &p->queue, link)
		n += km->msgid == msgid;
	return n;
}

static void
test_no_senders(void)
{
	struct ipc_space *a = space_new(), *b = space_new(), *c = space_new();
	mx_name_t p, n, x, y, q;
	struct port *pp, *np;
	struct item it;

	unit_case = "no-senders";
	p = port_alloc(a);
	n = port_alloc(a);
	pp = port_of(a, p);
	np = port_of(a, n);
	/* No sender at the request: told at once, with the port's name. */
	ipc_port_request_nosenders(pp, np);
	EXPECT_EQ(notices(np, MX_MSGID_NO_SENDERS), 1);
	EXPECT(pp->nsnotify == NULL);
	check(a, b);

	/* Send rights in two spaces and in a queued message: told after the last. */
	x = grant(a, p, b, MX_RIGHT_SEND);
	EXPECT_EQ(grant(a, p, b, MX_RIGHT_SEND), x);
	ipc_port_request_nosenders(pp, np);
	EXPECT_EQ(pp->nsend, 2);
	q = port_alloc(c);
	y = grant(c, q, b, MX_RIGHT_SEND);
	it = (struct item){ x, MX_DISP_MOVE_SEND };
	EXPECT_EQ(send_msg(b, y, 0, 0, &it, 1, 0), 0);	/* one reference moves into a message */
	EXPECT_EQ(pp->nsend, 2);
	check(a, b);
	ipc_space_release_send(b, ipc_space_lookup(b, x));
	EXPECT_EQ(notices(np, MX_MSGID_NO_SENDERS), 1);	/* the message still carries one */
	it = (struct item){ p, MX_DISP_MAKE_SEND };
	EXPECT_EQ(send_msg(a, grant(c, q, a, MX_RIGHT_SEND), 0, 0, &it, 1, 0), 0);	/* a second, made by the receiver */
	EXPECT_EQ(pp->nsend, 2);
	/* The first message is destroyed unread: its right goes; the second is still queued. */
	{
		struct kmsg *km = TAILQ_FIRST(&port_of(c, q)->queue);
		TAILQ_REMOVE(&port_of(c, q)->queue, km, link);
		port_of(c, q)->nqueued--;
		port_of(c, q)->qbytes -= km->len;
		ipc_kmsg_destroy(km, 0);
	}
	EXPECT_EQ(notices(np, MX_MSGID_NO_SENDERS), 1);
	check(a, b);
	/* Received: the right lands in c's space; released there, the notice comes. */
	ipc_port_recv(port_of(c, q), c, 7, 1, MX_FOREVER);
	EXPECT_EQ(pp->nsend, 1);
	x = 0;
	{
		size_t i = 0;
		uint64_t k;
		void *v;
		while (map_iter(&c->names, &i, &k, &v))
			if (((struct entry *)v)->port == pp)
				x = ((struct entry *)v)->name;
	}
	EXPECT(x != 0);
	ipc_space_release_send(c, ipc_space_lookup(c, x));
	EXPECT_EQ(notices(np, MX_MSGID_NO_SENDERS), 2);
	EXPECT(pp->nsnotify == NULL);
	check(a, c);

	/* Rights counted elsewhere (another node's) hold it off too; a proxy tells the node layer. */
	ipc_port_request_nosenders(pp, np);
	EXPECT_EQ(notices(np, MX_MSGID_NO_SENDERS), 3);
	x = grant(a, p, b, MX_RIGHT_SEND);
	pp->xsend = 2;
	ipc_port_request_nosenders(pp, np);
	ipc_space_release_send(b, ipc_space_lookup(b, x));
	EXPECT_EQ(notices(np, MX_MSGID_NO_SENDERS), 3);
	ipc_port_xsend_drop(pp, 1);
	EXPECT_EQ(notices(np, MX_MSGID_NO_SENDERS), 3);
	ipc_port_xsend_drop(pp, 5);	/* clamped */
	EXPECT_EQ(pp->xsend, 0);
	EXPECT_EQ(notices(np, MX_MSGID_NO_SENDERS), 4);
	check(a, b);
	{
		struct port *proxy = ipc_port_new();
		mx_name_t pn;
		proxy->rnode = (struct rnode *)proxy;	/* only tested for NULL */
		ipc_port_ref(proxy);	/* ours; the entry takes the other */
		ipc_space_insert(b, proxy, MX_RIGHT_SEND, &pn);
		proxy->xsend = 3;	/* what its home node counts for us: the hook gives it back */
		nproxy_ns = 0;
		ipc_space_release_send(b, ipc_space_lookup(b, pn));
		EXPECT_EQ(nproxy_ns, 1);
		ipc_port_destroy(proxy);
		ipc_port_unref(proxy);
	}

	/* A request dies with its port; a dead notify port gets nothing. */
	x = grant(a, p, b, MX_RIGHT_SEND);
	ipc_port_request_nosenders(pp, np);
	ipc_space_drop(a, ipc_space_lookup(a, n));
	ipc_space_release_send(b, ipc_space_lookup(b, x));
	EXPECT(pp->nsnotify == NULL);
	x = grant(a, p, b, MX_RIGHT_SEND);
	n = port_alloc(a);
	ipc_port_request_nosenders(pp, port_of(a, n));
	ipc_space_drop(a, ipc_space_lookup(a, p));
	EXPECT(pp->nsnotify == NULL);
	EXPECT_EQ(notices(port_of(a, n), MX_MSGID_NO_SENDERS), 0);
	check(a, b);
	space_free(a);
	space_free(b);
	space_free(c);
	check(NULL, NULL);
}

int
main(void)
{
	struct ipc_hooks hooks = { hook_deliver, hook_recv_end, hook_so_gone, hook_proxy_ns, hook_died };
	/* Small budgets, so that the tests reach them: 8 KiB queued, 32 rights, 4 connections per uid. */
	struct ipc_conf conf = { NULL, "unit", 2, 1024, 64, { 8192, 32, 4 }, 4096, 0, 0, 0 };

	log_init("ipc_core", 0, 0);
	if ((loop = ev_new()) == NULL)
		abort();
	conf.loop = loop;
	ipc_init(&conf, &hooks);
	test_rights();
	test_same_right();
	test_dead_name_twice();
	test_queue_limits();
	test_death();
	test_budget_bytes();
	test_budget_rights();
	test_dead_name_requests();
	test_output_bound();
	test_admit();
	test_no_senders();
	EXPECT_EQ(ipc_acct_total(ACCT_BYTES), 0);
	EXPECT_EQ(ipc_acct_total(ACCT_RIGHTS), 0);
	EXPECT_EQ(ipc_acct_total(ACCT_CONNS), 0);
	ev_free(loop);
	return unit_end();
}
