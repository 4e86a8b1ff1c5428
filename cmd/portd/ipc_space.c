/* ipc_space.c — a task's port name space: names to rights, and back. */
#include <stdlib.h>
#include "ipc_int.h"
#include "log.h"

void
ipc_space_init(struct ipc_space *s, uid_t uid, gid_t gid, pid_t pid)
{
	s->uid = uid;
	s->gid = gid;
	s->pid = pid;
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

static struct entry *
entry_new(struct ipc_space *t, struct port *p)
{
	struct entry *e = calloc(1, sizeof(*e));

	if (e == NULL)
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
		e = entry_new(t, p);
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
	map_del(&t->names, e->name);
	if (map_get(&t->byport, e->port->id) == e)
		map_del(&t->byport, e->port->id);
	t->nentries--;
	ipc_port_unref(e->port);
	free(e);
}

void
ipc_space_drop(struct ipc_space *t, struct entry *e)
{
	struct port *p = e->port;

	ipc_port_ref(p);
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
	if (e->srefs > 0)
		e->srefs--;
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
}
