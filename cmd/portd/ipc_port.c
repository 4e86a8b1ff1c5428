/* ipc_port.c — ports: queues, waiting receivers and senders, death. */
#include <stdlib.h>
#include "ipc_int.h"
#include "log.h"

static uint64_t next_port_id;
static struct port *specials[MX_SPECIAL__MAX];
struct map ipc_ports;		/* every live struct port, by id */

static void waiter_timeout(struct ev_timer *tm);

struct port *
ipc_port_new(void)
{
	struct port *p = calloc(1, sizeof(*p));

	if (p == NULL)
		fatal("port");
	p->id = ++next_port_id;
	p->refs = 1;
	p->qlimit = ipc_env.conf.qlimit;
	TAILQ_INIT(&p->queue);
	TAILQ_INIT(&p->blocked);
	LIST_INIT(&p->dnreqs);
	ev_timer_init(&p->waiter.timer, waiter_timeout, p);
	if (map_put(&ipc_ports, p->id, p) < 0)
		fatal("port index");
	return p;
}

void
ipc_port_ref(struct port *p)
{
	p->refs++;
}

void
ipc_port_unref(struct port *p)
{
	if (--p->refs > 0)
		return;
	if (!p->dead)
		fatalx("port %llu freed alive", (unsigned long long)p->id);
	map_del(&ipc_ports, p->id);
	free(p);
}

struct port *
ipc_port_by_id(uint64_t id)
{
	return map_get(&ipc_ports, id);
}

struct port *
ipc_port_special_get(int which)
{
	if (which <= 0 || which >= MX_SPECIAL__MAX)
		return NULL;
	return specials[which];
}

void
ipc_port_special_set(int which, struct port *p)
{
	if (specials[which] != NULL) {
		specials[which]->special = 0;
		ipc_port_unref(specials[which]);
	}
	specials[which] = p;
	if (p != NULL) {
		ipc_port_ref(p);
		p->special = which;
	}
}

/* ---- receiving ---- */

static void
waiter_clear(struct port *p)
{
	ev_timer_disarm(ipc_env.conf.loop, &p->waiter.timer);
	p->waiter.space = NULL;
	p->waiter.credit = 0;
}

static void
waiter_arm(struct port *p)
{
	if (p->waiter.timeout_ms != MX_FOREVER)
		ev_timer_arm(ipc_env.conf.loop, &p->waiter.timer, ev_now() + p->waiter.timeout_ms);
}

static void
waiter_timeout(struct ev_timer *tm)
{
	struct port *p = tm->arg;
	struct ipc_space *s = p->waiter.space;

	if (s == NULL)
		return;
	ipc_env.hooks.recv_end(s, p->waiter.frame_id, MX_ERR_TIMEOUT);
	waiter_clear(p);
}

void
ipc_port_cancel_waiter(struct port *p, int err)
{
	if (p->waiter.space == NULL)
		return;
	if (!p->waiter.space->closing)
		ipc_env.hooks.recv_end(p->waiter.space, p->waiter.frame_id, (uint32_t)-err);	/* the wire's status is positive */
	waiter_clear(p);
}

/* Hand km to the waiting receiver. */
static void
give(struct port *p, struct kmsg *km)
{
	ipc_kmsg_copyout(p->waiter.space, km, p->waiter.frame_id);
	if (--p->waiter.credit == 0)
		waiter_clear(p);
	else
		waiter_arm(p);
}

/* A receiver whose output queue is past out_max takes nothing more until it reads. */
static int
waiter_ready(const struct port *p)
{
	return p->waiter.space != NULL && !p->waiter.space->closing && p->receiver == p->waiter.space &&
	    p->waiter.space->outbytes < ipc_env.conf.out_max;
}

static int
room(const struct port *p, const struct kmsg *km)
{
	return p->nqueued < p->qlimit && p->qbytes + km->len <= ipc_env.conf.qlimit_bytes;
}

/* A blocked send is over: err 0 (queued), or why not (its message destroyed). */
static void
psend_end(struct psend *ps, int err)
{
	ev_timer_disarm(ipc_env.conf.loop, &ps->timer);
	if (err < 0 && ps->km != NULL) {
		ipc_kmsg_destroy(ps->km, 0);
		ps->km = NULL;
	}
	ps->done(ps, err);
}

/* Let blocked senders in while there is room, in the order they came. */
static void
unblock_senders(struct port *p)
{
	struct psend *ps;

	while ((ps = TAILQ_FIRST(&p->blocked)) != NULL && room(p, ps->km)) {
		TAILQ_REMOVE(&p->blocked, ps, link);
		ipc_port_enqueue(p, ps->km, 1);
		ps->km = NULL;
		psend_end(ps, 0);
	}
}

static void
psend_timeout(struct ev_timer *tm)
{
	struct psend *ps = tm->arg;

	TAILQ_REMOVE(&ps->km->dest->blocked, ps, link);
	psend_end(ps, -MX_ERR_TIMEOUT);
}

void
ipc_port_block(struct psend *ps, uint32_t timeout_ms)
{
	ev_timer_init(&ps->timer, psend_timeout, ps);
	if (timeout_ms != MX_FOREVER)
		ev_timer_arm(ipc_env.conf.loop, &ps->timer, ev_now() + timeout_ms);
	TAILQ_INSERT_TAIL(&ps->km->dest->blocked, ps, link);
}

void
ipc_port_unblock(struct psend *ps)
{
	TAILQ_REMOVE(&ps->km->dest->blocked, ps, link);
	ev_timer_disarm(ipc_env.conf.loop, &ps->timer);
	ipc_kmsg_destroy(ps->km, 0);
	ps->km = NULL;
}

int
ipc_port_enqueue(struct port *p, struct kmsg *km, int always)
{
	if (p->dead)
		return -MX_ERR_DEAD;
	if (TAILQ_EMPTY(&p->queue) && waiter_ready(p)) {
		give(p, km);
		return 0;
	}
	if (!always && (!room(p, km) || !TAILQ_EMPTY(&p->blocked)))
		return -MX_ERR_FULL;
	TAILQ_INSERT_TAIL(&p->queue, km, link);
	p->nqueued++;
	p->qbytes += km->len;
	return 0;
}

static void
deliver_waiting(struct port *p)
{
	struct kmsg *km;

	while (waiter_ready(p) && (km = TAILQ_FIRST(&p->queue)) != NULL) {
		TAILQ_REMOVE(&p->queue, km, link);
		p->nqueued--;
		p->qbytes -= km->len;
		give(p, km);
		unblock_senders(p);
	}
}

void
ipc_port_kick(struct port *p)
{
	deliver_waiting(p);
}

void
ipc_port_recv(struct port *p, struct ipc_space *s, uint32_t frame_id, uint32_t credit, uint32_t timeout_ms)
{
	if (p->waiter.space != NULL)
		ipc_port_cancel_waiter(p, -MX_ERR_INVAL);
	p->waiter.space = s;
	p->waiter.frame_id = frame_id;
	p->waiter.credit = credit ? credit : 1;
	p->waiter.timeout_ms = timeout_ms;
	deliver_waiting(p);
	if (p->waiter.space == NULL || p->waiter.credit < (credit ? credit : 1))
		return;
	/* Nothing was there: wait, or answer at once when asked not to wait. */
	if (timeout_ms == 0)
		waiter_timeout(&p->waiter.timer);
	else
		waiter_arm(p);
}

/* ---- no-senders ---- */

static void
nosenders_check(struct port *p)
{
	struct port *n = p->nsnotify;
	struct kmsg *km;

	if (p->dead || p->nsend != 0)
		return;
	if (p->rnode != NULL) {
		ipc_env.hooks.proxy_no_senders(p);	/* gives back xsend, what its home counts for us */
		return;
	}
	if (p->xsend != 0)
		return;
	if (n == NULL)
		return;
	p->nsnotify = NULL;	/* one notice per request, as Mach's */
	if (!n->dead) {
		/* The port's name in its receiver's space (0 while its receive right travels). */
		km = ipc_kmsg_notice(n, MX_MSGID_NO_SENDERS, p->receiver != NULL ? p->recv_name : 0);
		if (ipc_port_enqueue(n, km, 1) < 0)
			ipc_kmsg_destroy(km, 0);
	}
	ipc_port_unref(n);
}

void
ipc_port_send_add(struct port *p, uint32_t n)
{
	if (p->nsend > UINT32_MAX - n)
		fatalx("port %llu: send rights overflow", (unsigned long long)p->id);
	p->nsend += n;
}

void
ipc_port_send_drop(struct port *p, uint32_t n)
{
	if (n == 0)
		return;
	if (n > p->nsend)
		fatalx("port %llu: %u send rights dropped, %u held", (unsigned long long)p->id, n, p->nsend);
	p->nsend -= n;
	if (p->nsend == 0)
		nosenders_check(p);
}

void
ipc_port_xsend_drop(struct port *p, uint32_t n)
{
	if (n == 0)
		return;
	p->xsend -= n < p->xsend ? n : p->xsend;
	if (p->xsend == 0)
		nosenders_check(p);
}

void
ipc_port_request_nosenders(struct port *p, struct port *notify)
{
	ipc_port_ref(notify);
	if (p->nsnotify != NULL)
		ipc_port_unref(p->nsnotify);
	p->nsnotify = notify;
	nosenders_check(p);
}

/* ---- death ---- */

void
ipc_port_notify_dead(struct port *notify, mx_name_t name)
{
	struct kmsg *km;

	if (notify->dead)
		return;
	km = ipc_kmsg_notice(notify, MX_MSGID_DEAD_NAME, name);
	if (ipc_port_enqueue(notify, km, 1) < 0)
		ipc_kmsg_destroy(km, 0);
}

/*
 * Tell notify when e's port dies (at once if it is dead): 0, or
 * -MX_ERR_BUDGET. The request is s's: one per name (a new one replaces
 * the old notify port), charged as a right, freed with the name or s.
 */
int
ipc_port_request_dead(struct ipc_space *s, struct entry *e, struct port *notify)
{
	struct port *p = e->port;
	struct dnreq *dn;

	if (p->dead) {
		ipc_port_notify_dead(notify, e->name);
		return 0;
	}
	if ((dn = map_get(&s->dnreqs, e->name)) != NULL) {
		ipc_port_ref(notify);
		ipc_port_unref(dn->notify);
		dn->notify = notify;
		return 0;
	}
	if (ipc_acct_charge(s->acct, ACCT_RIGHTS, 1) < 0)
		return -MX_ERR_BUDGET;
	if ((dn = calloc(1, sizeof(*dn))) == NULL)
		fatal("dnreq");
	dn->notify = notify;
	ipc_port_ref(notify);
	dn->name = e->name;
	dn->watched = p;
	dn->owner = s;
	if (map_put(&s->dnreqs, e->name, dn) < 0)
		fatal("dnreq");
	LIST_INSERT_HEAD(&p->dnreqs, dn, link);
	return 0;
}

void
ipc_port_destroy(struct port *p)
{
	struct kmsg *km;
	struct psend *ps;
	struct dnreq *dn;

	if (p->dead)
		return;
	p->dead = 1;
	ipc_port_ref(p);
	log_debug("port %llu died", (unsigned long long)p->id);
	if (p->special)
		ipc_port_special_set(p->special, NULL);
	ipc_port_cancel_waiter(p, -MX_ERR_DEAD);
	while ((km = TAILQ_FIRST(&p->queue)) != NULL) {
		TAILQ_REMOVE(&p->queue, km, link);
		p->nqueued--;
		p->qbytes -= km->len;
		ipc_kmsg_destroy(km, 1);
	}
	while ((ps = TAILQ_FIRST(&p->blocked)) != NULL) {
		TAILQ_REMOVE(&p->blocked, ps, link);
		psend_end(ps, -MX_ERR_DEAD);
	}
	while ((dn = LIST_FIRST(&p->dnreqs)) != NULL) {
		LIST_REMOVE(dn, link);
		map_del(&dn->owner->dnreqs, dn->name);
		ipc_acct_uncharge(dn->owner->acct, ACCT_RIGHTS, 1);
		ipc_port_notify_dead(dn->notify, dn->name);
		ipc_port_unref(dn->notify);
		free(dn);
	}
	if (p->nsnotify != NULL) {
		ipc_port_unref(p->nsnotify);
		p->nsnotify = NULL;
	}
	ipc_env.hooks.port_died(p);
	ipc_port_unref(p);
}
