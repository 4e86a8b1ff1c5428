/* port.c — ports: queues, waiting receivers and senders, death. */
#include <stdlib.h>
#include "log.h"
#include "portd.h"

static uint64_t next_port_id;
static struct port *specials[MX_SPECIAL__MAX];

static void waiter_timeout(struct ev_timer *tm);

struct port *
port_new(void)
{
	struct port *p = calloc(1, sizeof(*p));

	if (p == NULL)
		fatal("port");
	p->id = ++next_port_id;
	p->refs = 1;
	p->qlimit = conf.qlimit;
	TAILQ_INIT(&p->queue);
	TAILQ_INIT(&p->blocked);
	LIST_INIT(&p->dnreqs);
	ev_timer_init(&p->waiter.timer, waiter_timeout, p);
	ports_index(p);
	return p;
}

void
port_ref(struct port *p)
{
	p->refs++;
}

void
port_unref(struct port *p)
{
	if (--p->refs > 0)
		return;
	if (!p->dead)
		fatalx("port %llu freed alive", (unsigned long long)p->id);
	ports_unindex(p);
	free(p);
}

struct port *
special_get(int which)
{
	if (which <= 0 || which >= MX_SPECIAL__MAX)
		return NULL;
	return specials[which];
}

void
special_set(int which, struct port *p)
{
	if (specials[which] != NULL) {
		specials[which]->special = 0;
		port_unref(specials[which]);
	}
	specials[which] = p;
	if (p != NULL) {
		port_ref(p);
		p->special = which;
	}
}

/* ---- receiving ---- */

static void
waiter_clear(struct port *p)
{
	ev_timer_disarm(loop, &p->waiter.timer);
	p->waiter.task = NULL;
	p->waiter.credit = 0;
}

static void
waiter_arm(struct port *p)
{
	if (p->waiter.timeout_ms != MX_FOREVER)
		ev_timer_arm(loop, &p->waiter.timer, ev_now() + p->waiter.timeout_ms);
}

static void
waiter_timeout(struct ev_timer *tm)
{
	struct port *p = tm->arg;
	struct task *t = p->waiter.task;

	if (t == NULL)
		return;
	task_reply(t, MX_OP_RECV, p->waiter.frame_id, MX_ERR_TIMEOUT, NULL, 0);
	waiter_clear(p);
}

void
port_cancel_waiter(struct port *p, int err)
{
	if (p->waiter.task == NULL)
		return;
	if (!p->waiter.task->closing)
		task_reply(p->waiter.task, MX_OP_RECV, p->waiter.frame_id, (uint32_t)err, NULL, 0);
	waiter_clear(p);
}

/* Hand km to the waiting receiver. */
static void
give(struct port *p, struct kmsg *km)
{
	kmsg_copyout(p->waiter.task, km, p->waiter.frame_id);
	if (--p->waiter.credit == 0)
		waiter_clear(p);
	else
		waiter_arm(p);
}

static int
waiter_ready(const struct port *p)
{
	return p->waiter.task != NULL && !p->waiter.task->closing && p->receiver == p->waiter.task;
}

static int
room(const struct port *p, const struct kmsg *km)
{
	return p->nqueued < p->qlimit && p->qbytes + km->len <= conf.qlimit_bytes;
}

/* Let blocked senders in while there is room, in the order they came. */
static void
unblock_senders(struct port *p)
{
	struct psend *ps;

	while ((ps = TAILQ_FIRST(&p->blocked)) != NULL && room(p, ps->km)) {
		TAILQ_REMOVE(&p->blocked, ps, link);
		port_enqueue(p, ps->km, 1);
		ps->km = NULL;
		psend_complete(ps, 0);
	}
}

int
port_enqueue(struct port *p, struct kmsg *km, int always)
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

void
port_deliver_waiting(struct port *p)
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
port_recv(struct port *p, struct task *t, uint32_t frame_id, uint32_t credit, uint32_t timeout_ms)
{
	if (p->waiter.task != NULL)
		port_cancel_waiter(p, MX_ERR_INVAL);
	p->waiter.task = t;
	p->waiter.frame_id = frame_id;
	p->waiter.credit = credit ? credit : 1;
	p->waiter.timeout_ms = timeout_ms;
	port_deliver_waiting(p);
	if (p->waiter.task == NULL || p->waiter.credit < (credit ? credit : 1))
		return;
	/* Nothing was there: wait, or answer at once when asked not to wait. */
	if (timeout_ms == 0)
		waiter_timeout(&p->waiter.timer);
	else
		waiter_arm(p);
}

/* ---- death ---- */

void
port_notify_dead(struct port *p, struct port *notify, mx_name_t name)
{
	struct kmsg *km;

	(void)p;
	if (notify->dead)
		return;
	km = kmsg_notice(notify, MX_MSGID_DEAD_NAME, name);
	if (port_enqueue(notify, km, 1) < 0)
		kmsg_destroy(km, 0);
}

void
port_destroy(struct port *p)
{
	struct kmsg *km;
	struct psend *ps;
	struct dnreq *dn;

	if (p->dead)
		return;
	p->dead = 1;
	port_ref(p);
	log_debug("port %llu died", (unsigned long long)p->id);
	if (p->special)
		special_set(p->special, NULL);
	port_cancel_waiter(p, MX_ERR_DEAD);
	while ((km = TAILQ_FIRST(&p->queue)) != NULL) {
		TAILQ_REMOVE(&p->queue, km, link);
		p->nqueued--;
		p->qbytes -= km->len;
		kmsg_destroy(km, 1);
	}
	while ((ps = TAILQ_FIRST(&p->blocked)) != NULL) {
		TAILQ_REMOVE(&p->blocked, ps, link);
		psend_complete(ps, -MX_ERR_DEAD);
	}
	while ((dn = LIST_FIRST(&p->dnreqs)) != NULL) {
		LIST_REMOVE(dn, link);
		port_notify_dead(p, dn->notify, dn->name);
		port_unref(dn->notify);
		free(dn);
	}
	remote_port_died(p);
	port_unref(p);
}
