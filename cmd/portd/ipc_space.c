/* ipc_space.c — a task's port name space: names to rights, and back. */
#include <stdlib.h>
#include "ipc_int.h"
#include "log.h"

struct ipc_spaces ipc_spaces = LIST_HEAD_INITIALIZER(ipc_spaces);

/* A new connection's space: it is charged one connection of its uid until destroyed. */
void
ipc_space_init(struct ipc_space *s, uid_t uid, gid_t gid, pid_t pid)
{
	s->uid = uid;
	s->gid = gid;
	s->pid = pid;
	s->acct = ipc_acct_get(uid);
	ipc_acct_force(s->acct, ACCT_CONNS, 1);
	LIST_INSERT_HEAD(&ipc_spaces, s, all);
}

struct entry *
ipc_space_lookup(struct ipc_space *t, mx_name_t name)
{
	return map_get(&t->names, name);
}

struct entry *
ipc_space_find_port(struct ipc_space *t, struct port *p)
{
	return map_get(&t->byport, p->id);
}

/* A new name: within max_names and the uid's rights, or NULL (refused, logged). */
static struct entry *
entry_new(struct ipc_space *t, struct port *p)
{
	struct entry *e;

	if (t->nentries >= ipc_env.conf.max_names) {
		ipc_acct_refuse_names(t->acct);
		return NULL;
	}
	if (ipc_acct_charge(t->acct, ACCT_RIGHTS, 1) < 0)
		return NULL;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		fatal("entry");
	/* Names are never reused within a task, so a stale name cannot alias. */
	if (++t->next_name == 0)
		t->next_name = 1;
	e->name = t->next_name;
	e->port = p;
	if (map_put(&t->names, e->name, e) < 0)
		fatal("name space");
	t->nentries++;
	return e;
}

int
ipc_space_insert(struct ipc_space *t, struct port *p, uint8_t right, mx_name_t *out)
{
	struct entry *e = NULL;

	if (right != MX_RIGHT_SEND_ONCE)
		e = ipc_space_find_port(t, p);
	if (e != NULL) {
		ipc_port_unref(p);	/* the entry already holds one */
	} else {
		if ((e = entry_new(t, p)) == NULL)
			return -MX_ERR_BUDGET;
		if (right != MX_RIGHT_SEND_ONCE && map_put(&t->byport, p->id, e) < 0)
			fatal("name space");
	}
	switch (right) {
	case MX_RIGHT_RECEIVE:
		e->recv = 1;
		p->receiver = t;
		p->recv_name = e->name;
		break;
	case MX_RIGHT_SEND:
		e->srefs++;
		ipc_port_send_add(p, 1);
		break;
	case MX_RIGHT_SEND_ONCE:
		e->so = 1;
		break;
	}
	*out = e->name;
	return 0;
}

static void
entry_remove(struct ipc_space *t, struct entry *e)
{
	ipc_space_cancel_dead(t, e->name);
	map_del(&t->names, e->name);
	if (map_get(&t->byport, e->port->id) == e)
		map_del(&t->byport, e->port->id);
	t->nentries--;
	ipc_acct_uncharge(t->acct, ACCT_RIGHTS, 1);
	ipc_port_unref(e->port);
	free(e);
}

/* The name's dead-name request, if any, goes with it (it is the requester's). */
void
ipc_space_cancel_dead(struct ipc_space *t, mx_name_t name)
{
	struct dnreq *dn = map_del(&t->dnreqs, name);

	if (dn == NULL)
		return;
	LIST_REMOVE(dn, link);
	ipc_acct_uncharge(t->acct, ACCT_RIGHTS, 1);
	ipc_port_unref(dn->notify);
	free(dn);
}

/*
 * Its output queue drained below out_max: the receives it waits on move
 * messages again. Walks its names, but only when the queue crosses the
 * mark, not per message.
 */
void
ipc_space_kick_recv(struct ipc_space *t)
{
	size_t i = 0;
	uint64_t k;
	void *v;
	struct port **ps = NULL;
	size_t n = 0, cap = 0;

	while (map_iter(&t->names, &i, &k, &v)) {
		struct entry *e = v;
		if (!e->recv || e->port->waiter.space != t)
			continue;
		if (n == cap) {
			struct port **np = realloc(ps, (cap = cap ? cap * 2 : 8) * sizeof(*ps));
			if (np == NULL)
				fatal("kick");
			ps = np;
		}
		ipc_port_ref(e->port);
		ps[n++] = e->port;
	}
	/* Collected first: a delivery may insert names while we go. */
	for (i = 0; i < n; i++) {
		ipc_port_kick(ps[i]);
		ipc_port_unref(ps[i]);
	}
	free(ps);
}

void
ipc_space_drop(struct ipc_space *t, struct entry *e)
{
	struct port *p = e->port;

	ipc_port_ref(p);
	if (e->srefs > 0) {
		uint32_t n = e->srefs;
		e->srefs = 0;
		ipc_port_send_drop(p, n);
	}
	if (e->so)
		ipc_kmsg_no_reply(p);
	if (e->recv) {
		p->receiver = NULL;
		ipc_port_destroy(p);
	}
	entry_remove(t, e);
	ipc_port_unref(p);
}

void
ipc_space_release_send(struct ipc_space *t, struct entry *e)
{
	if (e->so || e->port->dead) {
		ipc_space_drop(t, e);
		return;
	}
	if (e->srefs > 0) {
		e->srefs--;
		ipc_port_send_drop(e->port, 1);
	}
	if (e->srefs == 0 && !e->recv)
		entry_remove(t, e);
}

void
ipc_space_destroy(struct ipc_space *t)
{
	struct entry **all;
	size_t i = 0, nrecv = 0, nother = 0, cap = t->names.count;
	uint64_t k;
	void *v;

	if (cap > 0) {
		if ((all = calloc(cap, sizeof(*all))) == NULL)
			fatal("ipc_space_destroy");
		/*
		 * Collect first, receive rights at the front: their ports die
		 * before our send-once rights are dropped, so those do not
		 * notify ports that are about to die anyway.
		 */
		while (map_iter(&t->names, &i, &k, &v) && nrecv + nother < cap) {
			struct entry *e = v;
			if (e->recv)
				all[nrecv++] = e;
			else
				all[cap - ++nother] = e;
		}
		for (i = 0; i < nrecv; i++)
			ipc_space_drop(t, all[i]);
		for (i = cap - nother; i < cap; i++)
			ipc_space_drop(t, all[i]);
		free(all);
	}
	map_free(&t->names);
	map_free(&t->byport);
	map_free(&t->dnreqs);
	ipc_acct_uncharge(t->acct, ACCT_CONNS, 1);
	LIST_REMOVE(t, all);
}
