/*
 * ipc_check.c — the core's invariants, checked after every request in
 * debug and ASan builds (-DMX_CHECK_INVARIANTS) and by the unit tests. A
 * broken one is a bug of portd: fatalx names it.
 */
#include "ipc_int.h"
#include <stdint.h>
#include "log.h"

#ifdef MX_CHECK_INVARIANTS

#define want(cond, ...) do { if (!(cond)) fatalx("invariant: " __VA_ARGS__); } while (0)

void
ipc_check_space(struct ipc_space *s)
{
	size_t i = 0, n = 0;
	uint64_t k;
	void *v;

	while (map_iter(&s->names, &i, &k, &v)) {
		struct entry *e = v;
		struct port *p = e->port;
		n++;
		want(e->name == k, "entry %llu filed under name %u", (unsigned long long)k, e->name);
		want(p != NULL && p->refs > 0, "name %u: no port", e->name);
		want(e->recv || e->so || e->srefs > 0, "name %u: an entry with no right", e->name);
		if (e->so) {
			want(!e->recv && e->srefs == 0, "name %u: a send-once right shares its name", e->name);
			want(map_get(&s->byport, p->id) != e, "name %u: send-once right indexed by port", e->name);
		} else {
			want(map_get(&s->byport, p->id) == e, "name %u: not indexed by its port", e->name);
		}
		if (e->recv) {
			want(!p->dead, "name %u: receive right of a dead port", e->name);
			want(p->receiver == s && p->recv_name == e->name, "name %u: port %llu does not know its receiver",
			    e->name, (unsigned long long)p->id);
		}
		ipc_check_port(p);
	}
	want(n == s->nentries, "space counts %u entries, holds %zu", s->nentries, n);
	i = 0;
	while (map_iter(&s->byport, &i, &k, &v)) {
		struct entry *e = v;
		want(e->port->id == k && map_get(&s->names, e->name) == e, "port index %llu: stale entry",
		    (unsigned long long)k);
	}
}

void
ipc_check_port(struct port *p)
{
	struct kmsg *km;
	struct psend *ps;
	uint32_t n = 0;
	size_t bytes = 0;

	want(p->refs > 0, "port %llu: %d references", (unsigned long long)p->id, p->refs);
	want(ipc_port_by_id(p->id) == p, "port %llu: not indexed", (unsigned long long)p->id);
	TAILQ_FOREACH(km, &p->queue, link) {
		want(km->dest == p, "port %llu: queues a message for another port", (unsigned long long)p->id);
		n++;
		bytes += km->len;
	}
	want(n == p->nqueued && bytes == p->qbytes, "port %llu: counts %u messages %zu bytes, holds %u and %zu",
	    (unsigned long long)p->id, p->nqueued, p->qbytes, n, bytes);
	TAILQ_FOREACH(ps, &p->blocked, link)
		want(ps->km != NULL && ps->km->dest == p, "port %llu: a blocked send for another port",
		    (unsigned long long)p->id);
	if (p->dead) {
		want(n == 0 && TAILQ_EMPTY(&p->blocked) && LIST_EMPTY(&p->dnreqs) && p->waiter.space == NULL,
		    "port %llu: dead but still holds messages, senders, requests or a receiver",
		    (unsigned long long)p->id);
	} else if (p->waiter.space != NULL) {
		want(p->waiter.space == p->receiver, "port %llu: a waiter that is not its receiver",
		    (unsigned long long)p->id);
		want(p->waiter.credit > 0, "port %llu: a waiter with no credit", (unsigned long long)p->id);
	}
	if (p->special)
		want(ipc_port_special_get(p->special) == p, "port %llu: special %d not filed",
		    (unsigned long long)p->id, p->special);
}

/* fn(km, arg) for every message portd holds: queued on a port, or blocked sending. */
static void
each_kmsg(void (*fn)(const struct kmsg *, void *), void *arg)
{
	size_t i = 0;
	uint64_t k;
	void *v;

	while (map_iter(&ipc_ports, &i, &k, &v)) {
		struct port *p = v;
		struct psend *ps;
		struct kmsg *km;
		TAILQ_FOREACH(km, &p->queue, link)
			fn(km, arg);
		TAILQ_FOREACH(ps, &p->blocked, link)
			fn(ps->km, arg);
	}
}

static void
add_charged(const struct kmsg *km, void *arg)
{
	*(uint64_t *)arg += km->charged;
}

static void
count_kmsg(const struct kmsg *km, void *arg)
{
	struct map *m = arg;
	uint32_t i;

	for (i = 0; i <= km->nrights; i++) {
		const struct kright *kr = i < km->nrights ? &km->rights[i] : &km->reply;
		if (kr->port != NULL && kr->right == MX_RIGHT_SEND &&
		    map_put(m, kr->port->id, (void *)((uintptr_t)map_get(m, kr->port->id) + 1)) < 0)
			fatal("check");
	}
}

/*
 * No-senders: every port's nsend is the user references of send rights in
 * every space plus the send rights carried by queued and blocked messages;
 * a live port of ours with a request and no sender anywhere has been told.
 */
void
ipc_check_senders(void)
{
	struct map held = { 0 };
	struct ipc_space *s;
	size_t i;
	uint64_t k;
	void *v;

	LIST_FOREACH(s, &ipc_spaces, all) {
		i = 0;
		while (map_iter(&s->names, &i, &k, &v)) {
			struct entry *e = v;
			if (e->srefs > 0 && map_put(&held, e->port->id,
			    (void *)((uintptr_t)map_get(&held, e->port->id) + e->srefs)) < 0)
				fatal("check");
		}
	}
	each_kmsg(count_kmsg, &held);
	i = 0;
	while (map_iter(&ipc_ports, &i, &k, &v)) {
		struct port *p = v;
		uintptr_t n = (uintptr_t)map_get(&held, p->id);
		want(p->nsend == n + p->held_above, "port %llu: counts %u send rights, %zu held", (unsigned long long)p->id,
		    p->nsend, (size_t)n + p->held_above);
		want(p->dead || p->rnode != NULL || p->nsnotify == NULL || p->nsend > 0 || p->xsend > 0,
		    "port %llu: no sender left and not told", (unsigned long long)p->id);
		want(!p->dead || p->nsnotify == NULL, "port %llu: dead with a no-senders request",
		    (unsigned long long)p->id);
	}
	map_free(&held);
}

/*
 * The charges: each uid's rights are its names and dead-name requests,
 * its connections its spaces; every uid's queued bytes together are the
 * bodies queued or blocked on ports plus what the caller holds outside
 * the core (output queues, input buffers).
 */
void
ipc_check_acct(uint64_t outside)
{
	struct ipc_space *s;
	struct ipc_acct *a;
	size_t i = 0;
	uint64_t k, bytes = 0, sum = 0;
	void *v;

	while (map_iter(&ipc_accts, &i, &k, &v)) {
		uint64_t rights = 0, conns = 0;
		a = v;
		LIST_FOREACH(s, &ipc_spaces, all) {
			if (s->acct != a)
				continue;
			conns++;
			rights += s->nentries + s->dnreqs.count;
		}
		want(a->held[ACCT_RIGHTS] == rights, "uid %u charged %llu rights, holds %llu", (unsigned)a->uid,
		    (unsigned long long)a->held[ACCT_RIGHTS], (unsigned long long)rights);
		want(a->held[ACCT_CONNS] == conns, "uid %u charged %llu connections, holds %llu", (unsigned)a->uid,
		    (unsigned long long)a->held[ACCT_CONNS], (unsigned long long)conns);
		sum += a->held[ACCT_BYTES];
	}
	each_kmsg(add_charged, &bytes);
	want(sum == bytes + outside, "queued bytes charged %llu, held %llu", (unsigned long long)sum,
	    (unsigned long long)(bytes + outside));
	want(sum == ipc_acct_total(ACCT_BYTES), "queued bytes: uids %llu, total %llu", (unsigned long long)sum,
	    (unsigned long long)ipc_acct_total(ACCT_BYTES));
	ipc_check_senders();
}

#endif
