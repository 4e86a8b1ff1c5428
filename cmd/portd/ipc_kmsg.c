/*
 * ipc_kmsg.c — messages inside portd. Copy-in checks every right the sender
 * names and takes it out of the sender's space; copy-out puts the rights in
 * the receiver's space and rewrites the names in place.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ipc_int.h"
#include "log.h"

#define KMSG_MAX_RIGHTS 1024

/* What right a disposition makes, given the sender's entry; 0 if not held. */
static uint8_t
disp_right(const struct entry *e, uint8_t disp)
{
	switch (disp) {
	case MX_DISP_MOVE_RECEIVE:
		return e->recv ? MX_RIGHT_RECEIVE : 0;
	case MX_DISP_MOVE_SEND:
	case MX_DISP_COPY_SEND:
		return e->srefs > 0 ? MX_RIGHT_SEND : 0;
	case MX_DISP_MAKE_SEND:
		return e->recv ? MX_RIGHT_SEND : 0;
	case MX_DISP_MOVE_SEND_ONCE:
		return e->so ? MX_RIGHT_SEND_ONCE : 0;
	case MX_DISP_MAKE_SEND_ONCE:
		return e->recv ? MX_RIGHT_SEND_ONCE : 0;
	}
	return 0;
}

static int
consumes(uint8_t disp)
{
	return disp == MX_DISP_MOVE_RECEIVE || disp == MX_DISP_MOVE_SEND || disp == MX_DISP_MOVE_SEND_ONCE;
}

struct want { mx_name_t name; uint8_t disp; uint32_t off; };

/* Check one right against the space: held, and allowed to travel. */
static int
check_right(struct ipc_space *t, const struct want *w, struct port *dest)
{
	struct entry *e = ipc_space_lookup(t, w->name);

	if (e == NULL || disp_right(e, w->disp) == 0)
		return -MX_ERR_BADNAME;
	if (w->disp == MX_DISP_MOVE_RECEIVE && (e->port == dest || e->port->special))
		return -MX_ERR_INVAL;	/* a port cannot carry its own receive right; services stay put */
	return 0;
}

/*
 * The message as a whole against one name (the first want naming it): the
 * references its items and reply consume must be held, and a name used
 * without consuming (COPY_SEND, MAKE_SEND, MAKE_SEND_ONCE) must still hold
 * its right once every consuming use is done, in whatever order the items
 * come. Copy-in takes the rights in order; this is what keeps every later
 * item from finding an entry an earlier one freed.
 */
static int
check_name(struct ipc_space *t, const struct want *w, const struct want *all, uint32_t n)
{
	const struct entry *e = ipc_space_lookup(t, w->name);
	uint32_t i, move_send = 0, copy_send = 0, move_recv = 0, make = 0, move_so = 0;

	for (i = 0; i < n; i++) {
		if (all[i].name != w->name)
			continue;
		switch (all[i].disp) {
		case MX_DISP_MOVE_SEND: move_send++; break;
		case MX_DISP_COPY_SEND: copy_send++; break;
		case MX_DISP_MOVE_RECEIVE: move_recv++; break;
		case MX_DISP_MAKE_SEND: case MX_DISP_MAKE_SEND_ONCE: make++; break;
		case MX_DISP_MOVE_SEND_ONCE: move_so++; break;
		}
	}
	if (move_so > 1 || move_recv > 1)
		return -MX_ERR_BADNAME;
	if (move_send > e->srefs || (copy_send > 0 && move_send >= e->srefs))
		return -MX_ERR_BADNAME;
	if (move_recv > 0 && make > 0)
		return -MX_ERR_BADNAME;	/* the receive right leaves before a right is made from it */
	if (e->port->dead && move_send > 0 && move_send + copy_send > 1)
		return -MX_ERR_BADNAME;	/* a dead name moves whole: nothing is left to name again */
	return 0;
}

/* Take the right out of the sender's space into *kr (which then holds a ref). */
static void
take_right(struct ipc_space *t, const struct want *w, struct kright *kr)
{
	struct entry *e = ipc_space_lookup(t, w->name);
	struct port *p = e->port;

	kr->port = p;
	kr->right = disp_right(e, w->disp);
	kr->off = w->off;
	ipc_port_ref(p);
	if (kr->right == MX_RIGHT_SEND)
		ipc_port_send_add(p, 1);	/* first: a moved last right never leaves p without one */
	switch (w->disp) {
	case MX_DISP_MOVE_RECEIVE:
		ipc_port_cancel_waiter(p, -MX_ERR_BADNAME);
		p->receiver = NULL;
		p->recv_name = 0;
		e->recv = 0;
		if (e->srefs == 0)
			ipc_space_drop(t, e);
		break;
	case MX_DISP_MOVE_SEND:
		ipc_space_release_send(t, e);
		break;
	case MX_DISP_MOVE_SEND_ONCE:
		e->so = 0;	/* moved, not destroyed: no notice */
		ipc_space_drop(t, e);
		break;
	}
}

int
ipc_kmsg_copyin(struct ipc_space *t, const uint8_t *payload, uint32_t len, uint8_t *steal,
    struct kmsg **out, uint32_t *timeout_ms)
{
	struct mx_msg_hdr h;
	struct want wants[64], *w = wants, reply;
	struct entry *de;
	struct kmsg *km;
	struct mx_item it;
	const uint8_t *items;
	uint32_t ilen, n = 0, cap = 64, i;
	size_t pos = 0;
	int r;

	if (len < MX_MSG_HDR)
		return -MX_ERR_PROTO;
	msg_hdr_unpack(payload, &h);
	items = payload + MX_MSG_HDR;
	ilen = len - MX_MSG_HDR;
	if (ilen > MX_BODY_MAX)
		return -MX_ERR_TOOBIG;
	if (h.flags != 0 || h.reserved != 0)
		return -MX_ERR_PROTO;
	if (h.msgid >= MX_MSGID_KERNEL)
		return -MX_ERR_PERM;	/* only portd speaks in that range */
	/* The form first: a malformed body is a protocol error, whatever it names. */
	while ((r = items_next(items, ilen, &pos, &it)) > 0)
		;
	if (r < 0)
		return r;
	pos = 0;
	if ((de = ipc_space_lookup(t, h.dest)) == NULL || (!de->recv && !de->so && de->srefs == 0))
		return -MX_ERR_BADNAME;
	if (de->port->dead) {
		if (de->so)
			ipc_space_drop(t, de);
		return -MX_ERR_DEAD;
	}
	/* Pass 1: the items are well formed and every right is held. */
	while ((r = items_next(items, ilen, &pos, &it)) > 0) {
		if (it.type != MX_ITEM_PORT)
			continue;
		if (n == KMSG_MAX_RIGHTS) {
			r = -MX_ERR_TOOBIG;
			break;
		}
		if (n == cap) {
			struct want *nw = malloc(sizeof(*nw) * (cap *= 4));
			if (nw == NULL)
				fatal("copyin");
			memcpy(nw, w, sizeof(*w) * n);
			if (w != wants)
				free(w);
			w = nw;
		}
		w[n].name = it.name;
		w[n].disp = it.right;
		w[n].off = (uint32_t)(it.data - items) - MX_ITEM_HDR;
		n++;
		if ((r = check_right(t, &w[n - 1], de->port)) < 0)
			break;
	}
	if (r == 0 && h.reply != MX_NAME_NULL) {
		reply = (struct want){ h.reply, h.reply_disp, UINT32_MAX };
		if (h.reply_disp == MX_DISP_MOVE_RECEIVE)
			r = -MX_ERR_INVAL;
		else
			r = check_right(t, &reply, de->port);
		if (r == 0 && consumes(h.reply_disp)) {
			for (i = 0; i < n; i++)
				if (w[i].name == h.reply && consumes(w[i].disp))
					r = -MX_ERR_BADNAME;
		}
	} else if (r == 0 && h.reply_disp != 0) {
		r = -MX_ERR_PROTO;
	}
	/* Then the whole message, the reply included, name by name. */
	if (r == 0 && h.reply != MX_NAME_NULL) {
		if (n == cap) {
			struct want *nw = malloc(sizeof(*nw) * (n + 1));
			if (nw == NULL)
				fatal("copyin");
			memcpy(nw, w, sizeof(*w) * n);
			if (w != wants)
				free(w);
			w = nw;
			cap = n + 1;
		}
		w[n] = reply;	/* past the items: taken last, as pass 2 does */
	}
	for (i = 0; r == 0 && i < n + (h.reply != MX_NAME_NULL); i++) {
		uint32_t j;
		for (j = 0; j < i && w[j].name != w[i].name; j++)
			;
		if (j == i)
			r = check_name(t, &w[i], w, n + (h.reply != MX_NAME_NULL));
	}
	/* A send-once destination is used up by this send: it cannot travel too. */
	if (r == 0 && de->so) {
		for (i = 0; i < n; i++)
			if (w[i].name == h.dest)
				r = -MX_ERR_BADNAME;
		if (h.reply == h.dest)
			r = -MX_ERR_BADNAME;
	}
	/* The sender pays for the body while portd holds it. */
	if (r == 0)
		r = ipc_acct_charge(t->acct, ACCT_BYTES, ilen);
	if (r < 0) {
		if (w != wants)
			free(w);
		return r;
	}

	/* Pass 2: build the message and take the rights. */
	if ((km = calloc(1, sizeof(*km))) == NULL)
		fatal("kmsg");
	km->refs = 1;
	km->msgid = h.msgid;
	km->len = ilen;
	km->acct = t->acct;
	km->charged = ilen;
	if (steal != NULL) {
		km->mem = steal;
		km->items = (uint8_t *)items;
	} else if (ilen > 0) {
		if ((km->mem = malloc(ilen)) == NULL)
			fatal("kmsg");
		memcpy(km->mem, items, ilen);
		km->items = km->mem;
	}
	if (n > 0 && (km->rights = calloc(n, sizeof(*km->rights))) == NULL)
		fatal("kmsg");
	/* The destination first: a send-once destination is consumed by the send. */
	km->dest = de->port;
	ipc_port_ref(km->dest);
	if (de->so) {
		de->so = 0;
		ipc_space_drop(t, de);
	}
	for (i = 0; i < n; i++)
		take_right(t, &w[i], &km->rights[i]);
	km->nrights = n;
	if (h.reply != MX_NAME_NULL)
		take_right(t, &reply, &km->reply);
	km->tr.uid = t->uid;
	km->tr.gid = t->gid;
	km->tr.pid = (uint32_t)t->pid;
	km->tr.port_id = km->dest->id;
	snprintf(km->tr.node, sizeof(km->tr.node), "%s", ipc_env.conf.node);
	if (w != wants)
		free(w);
	*timeout_ms = h.timeout_ms;
	*out = km;
	return 0;
}

static void release_right(struct kright *kr, int notify);

/*
 * Put kr's right in t: its name, or MX_NAME_NULL when t has no room for
 * it (max_names, or its uid's rights budget): the right is destroyed then
 * (a receive right kills its port, a send-once right says "no reply").
 */
static mx_name_t
insert_right(struct ipc_space *t, struct kright *kr)
{
	mx_name_t name = MX_NAME_NULL;

	if (ipc_space_insert(t, kr->port, kr->right, &name) < 0) {
		release_right(kr, 1);
		return MX_NAME_NULL;
	}
	if (kr->right == MX_RIGHT_SEND)
		ipc_port_send_drop(kr->port, 1);	/* the entry counts it now */
	kr->port = NULL;
	return name;
}

void
ipc_kmsg_copyout(struct ipc_space *t, struct kmsg *km, uint32_t frame_id)
{
	uint8_t hdr[MX_FRAME_HDR + MX_TRAILER_MAX + MX_MSG_HDR];
	struct mx_frame_hdr fh = { .type = MX_OP_MSG, .flags = MX_F_REPLY, .id = frame_id };
	struct mx_msg_hdr mh = { .msgid = km->msgid };
	size_t tl;
	uint32_t i;

	for (i = 0; i < km->nrights; i++) {
		struct kright *kr = &km->rights[i];
		mx_name_t name = insert_right(t, kr);
		km->items[kr->off + 1] = kr->right;
		put_u32(km->items + kr->off + MX_ITEM_HDR, name);
	}
	km->nrights = 0;
	if (km->reply.port != NULL) {
		mh.reply_disp = km->reply.right;
		mh.reply = insert_right(t, &km->reply);
		if (mh.reply == MX_NAME_NULL)
			mh.reply_disp = 0;
	}
	mh.dest = km->dest->recv_name;
	tl = trailer_pack(hdr + MX_FRAME_HDR, &km->tr);
	msg_hdr_pack(hdr + MX_FRAME_HDR + tl, &mh);
	fh.len = (uint32_t)(tl + MX_MSG_HDR + km->len);
	frame_hdr_pack(hdr, &fh);
	ipc_env.hooks.deliver(t, hdr, MX_FRAME_HDR + tl + MX_MSG_HDR, km);
}

static void
release_right(struct kright *kr, int notify)
{
	struct port *p = kr->port;

	if (p == NULL)
		return;
	kr->port = NULL;
	if (kr->right == MX_RIGHT_SEND)
		ipc_port_send_drop(p, 1);
	if (kr->right == MX_RIGHT_RECEIVE)
		ipc_port_destroy(p);
	else if (kr->right == MX_RIGHT_SEND_ONCE && notify)
		ipc_kmsg_no_reply(p);
	ipc_port_unref(p);
}

static void
kmsg_free(struct kmsg *km)
{
	uint32_t i;

	for (i = 0; i < km->nrights; i++)
		release_right(&km->rights[i], 0);
	release_right(&km->reply, 0);
	if (km->dest)
		ipc_port_unref(km->dest);
	if (km->acct != NULL)
		ipc_acct_uncharge(km->acct, ACCT_BYTES, km->charged);
	free(km->rights);
	free(km->mem);
	free(km);
}

/*
 * A message that will never be received: its rights die with it. With
 * notify, destroyed send-once rights tell their ports no reply will come
 * (a receive right it carried kills that port either way).
 */
void
ipc_kmsg_destroy(struct kmsg *km, int notify)
{
	uint32_t i;

	for (i = 0; i < km->nrights; i++)
		release_right(&km->rights[i], notify);
	release_right(&km->reply, notify);
	ipc_kmsg_unref(km);
}

void
ipc_kmsg_unref(struct kmsg *km)
{
	if (--km->refs == 0)
		kmsg_free(km);
}

struct kmsg *
ipc_kmsg_notice(struct port *dest, uint32_t msgid, int64_t ival)
{
	struct kmsg *km = calloc(1, sizeof(*km));

	if (km == NULL)
		fatal("kmsg");
	km->refs = 1;
	km->dest = dest;
	ipc_port_ref(dest);
	km->msgid = msgid;
	if (msgid == MX_MSGID_DEAD_NAME || msgid == MX_MSGID_NO_SENDERS) {
		if ((km->mem = malloc(MX_ITEM_HDR + 8)) == NULL)
			fatal("kmsg");
		km->items = km->mem;
		km->items[0] = MX_ITEM_INT;
		km->items[1] = 0;
		put_u16(km->items + 2, 0);
		put_u32(km->items + 4, 8);
		put_u64(km->items + MX_ITEM_HDR, (uint64_t)ival);
		km->len = MX_ITEM_HDR + 8;
	}
	/* A notice is paid by the receiver that asked for it (portd's own uid when in transit). */
	km->acct = ipc_acct_get(dest->receiver != NULL ? dest->receiver->uid : geteuid());
	km->charged = km->len;
	ipc_acct_force(km->acct, ACCT_BYTES, km->charged);
	km->tr.uid = geteuid();
	km->tr.gid = getegid();
	km->tr.pid = (uint32_t)getpid();
	km->tr.port_id = dest->id;
	snprintf(km->tr.node, sizeof(km->tr.node), "%s", ipc_env.conf.node);
	return km;
}

/* A message from portd itself to dest: items built by the caller, right in its one PORT item. */
void
ipc_kmsg_notice_items(struct port *dest, uint32_t msgid, const struct mx_msg *items, struct port *right)
{
	struct kmsg *km = ipc_kmsg_notice(dest, msgid, 0);
	struct mx_item it;
	size_t pos = 0;
	int found = 0;

	if ((km->mem = malloc(items->len ? items->len : 1)) == NULL)
		fatal("kmsg");
	memcpy(km->mem, items->items, items->len);
	km->items = km->mem;
	km->len = (uint32_t)items->len;
	/* Paid like any notice: by the port's receiver, which asked for it by taking the port. */
	ipc_acct_force(km->acct, ACCT_BYTES, km->len);
	km->charged += km->len;
	if (right == NULL)
		goto queue;
	while (!found && items_next(km->items, km->len, &pos, &it) > 0)
		found = it.type == MX_ITEM_PORT;
	if (!found)
		fatalx("notice %#x: a right but no PORT item", msgid);
	if ((km->rights = calloc(1, sizeof(*km->rights))) == NULL)
		fatal("kmsg");
	ipc_port_ref(right);
	km->rights[0] = (struct kright){ right, MX_RIGHT_SEND, (uint32_t)(it.data - km->items) - MX_ITEM_HDR };
	km->nrights = 1;
	ipc_port_send_add(right, 1);	/* a send right in a message counts as a sender */
queue:
	if (ipc_port_enqueue(dest, km, 1) < 0)
		ipc_kmsg_destroy(km, 0);
}

/* A send-once right to p died unused: "no reply will come" (the one place it is built). */
void
ipc_kmsg_no_reply(struct port *p)
{
	struct kmsg *km;

	if (p->dead)
		return;
	if (p->rnode != NULL) {
		ipc_env.hooks.proxy_so_gone(p);	/* its home node sends the notice */
		return;
	}
	km = ipc_kmsg_notice(p, MX_MSGID_NO_REPLY, 0);
	if (ipc_port_enqueue(p, km, 1) < 0)
		ipc_kmsg_destroy(km, 0);
}
