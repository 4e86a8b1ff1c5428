/*
 * ops_ident.c — the identity requests of namesrv (the NAME holder only):
 * who holds the receive right of the port a send right names (the paper's
 * "ask the process server for the owner of the port"), and "the task
 * holding that receive right is service S" once namesrv accepted its
 * protected registration. And the stamp of each message a task sends.
 */
#include <stdio.h>
#include <string.h>
#include "log.h"
#include "names.h"
#include "ops.h"
#include "rbuf.h"
#include "rmsg.h"
#include "task.h"

static int
from_namesrv(struct task *t)
{
	struct port *ns = ipc_port_special_get(MX_SPECIAL_NAME);

	return ns != NULL && !ns->dead && ns->receiver == &t->space;
}

/* The local task holding the receive right of the port t's send right names, or NULL with *err. */
static struct task *
holder(struct task *t, uint32_t name, int *err)
{
	struct entry *e = ipc_space_lookup(&t->space, name);

	if (e == NULL) {
		*err = -MX_ERR_BADNAME;
		return NULL;
	}
	if (e->port->dead) {
		*err = -MX_ERR_DEAD;
		return NULL;
	}
	if (e->port->rnode != NULL || e->port->receiver == NULL || e->port->receiver->closing) {
		*err = -MX_ERR_NOTSUP;	/* on another node, or its receive right travels */
		return NULL;
	}
	return task_of(e->port->receiver);
}

static void
put_str8(uint8_t *b, size_t *o, const char *s)
{
	size_t n = strlen(s);	/* every caller's buffer holds 255 bytes at most */

	b[(*o)++] = (uint8_t)n;
	memcpy(b + *o, s, n);
	*o += n;
}

/*
 * MX_OP_WHO_HOLDS: u32 send right, u32 notify port, u64 cookie. The
 * answer is a message on notify (NS_WHO_HOLDS), so that namesrv asks
 * without waiting: it stays pipelined however many register at once.
 */
int
ops_ident_who(struct task *t, const struct mx_frame_hdr *h, const uint8_t *p)
{
	uint8_t b[MX_IDENT_MAX];
	struct ident_info info;
	struct task *ht;
	struct mx_msg *m;
	struct entry *ne;
	struct rbuf r;
	uint32_t name, notify;
	uint64_t cookie;
	size_t o = 0;
	int err = 0;

	if (!from_namesrv(t))
		return -MX_ERR_PERM;
	rbuf_init(&r, p, h->len);
	name = rbuf_u32(&r);
	notify = rbuf_u32(&r);
	cookie = rbuf_u64(&r);
	if (rbuf_end(&r) < 0)
		return -MX_ERR_PROTO;
	if ((ne = ipc_space_lookup(&t->space, notify)) == NULL || ne->port->receiver != &t->space)
		return -MX_ERR_BADNAME;	/* the answer goes to a port of namesrv's own */
	if ((ht = holder(t, name, &err)) != NULL) {
		identity_get(&ht->ident, ht->uid, &info);
		put_u32(b, ht->uid);
		put_u32(b + 4, ht->gid);
		put_u32(b + 8, (uint32_t)ht->pid);
		o = 12;
		b[o++] = (uint8_t)info.has_hash;
		memcpy(b + o, info.hash, MX_IDENT_HASH_LEN);
		o += MX_IDENT_HASH_LEN;
		put_str8(b, &o, info.unit);
		put_str8(b, &o, info.has_hash ? "" : info.why);
	}
	if ((m = mx_msg_new(NS_WHO_HOLDS)) == NULL || mx_msg_add_int(m, (int64_t)cookie) < 0 ||
	    mx_msg_add_int(m, -err) < 0 || mx_msg_add_bytes(m, b, o) < 0)
		fatal("who holds");
	ipc_kmsg_notice_items(ne->port, NS_WHO_HOLDS, m, NULL);
	mx_msg_free(m);
	task_reply(t, h->type, h->id, 0, NULL, 0);
	return 0;
}

/*
 * Who holds the receive right of the port t's send right names, as a name
 * answer carries it to other nodes (out->present 0: nobody we can vouch
 * for: a proxy, or its receive right travels).
 */
void
ops_ident_answer(struct task *t, uint32_t right, struct rident *out)
{
	struct ident_info info;
	struct task *ht;
	int err;

	memset(out, 0, sizeof(*out));
	if ((ht = holder(t, right, &err)) == NULL)
		return;
	out->present = 1;
	out->uid = ht->uid;
	out->gid = ht->gid;
	/* An exec'd or gone process has no binary identity (identity_get says why). */
	if (identity_get(&ht->ident, ht->uid, &info) == 0 && info.has_hash) {
		out->has_hash = 1;
		memcpy(out->hash, info.hash, RIDENT_HASH_LEN);
	}
	snprintf(out->unit, sizeof(out->unit), "%s", info.unit);
	for (size_t i = 0; out->unit[i] != '\0'; i++)
		if (out->unit[i] <= ' ' || out->unit[i] > '~')
			out->unit[0] = '\0';	/* not a unit name a node may send (rmsg.c): none */
}

int
ops_ident_service(struct task *t, const struct mx_frame_hdr *h, const uint8_t *p)
{
	char svc[MX_SERVICE_MAX + 1];
	struct task *ht;
	struct rbuf r;
	uint32_t name;
	size_t n;
	int err;

	if (!from_namesrv(t))
		return -MX_ERR_PERM;
	rbuf_init(&r, p, h->len);
	name = rbuf_u32(&r);
	if (r.bad || (n = rbuf_left(&r)) > MX_SERVICE_MAX)
		return -MX_ERR_PROTO;
	if (n > 0)
		memcpy(svc, rbuf_take(&r, n), n);
	svc[n] = '\0';
	if (strlen(svc) != n || (n > 0 && !mx_name_valid(svc)))
		return -MX_ERR_INVAL;
	if ((ht = holder(t, name, &err)) == NULL)
		return err;
	if (identity_service_set(&ht->ident, ht->uid, svc) < 0)
		return -MX_ERR_PERM;	/* exec'd or gone since it registered */
	task_reply(t, h->type, h->id, 0, NULL, 0);
	return 0;
}

/*
 * The identity of the task holding service, as a query carries it to
 * other nodes: what namesrv verified it with (identity_service_set), while
 * its process still runs that binary. 0, or -1: nobody we can vouch for.
 */
int
ops_ident_asker(const char *service, struct rident *out)
{
	struct task *st = task_with_service(service);

	memset(out, 0, sizeof(*out));
	if (st == NULL || !identity_same_exe(&st->ident))
		return -1;
	out->present = 1;
	out->uid = st->uid;
	out->gid = st->gid;
	out->has_hash = st->ident.vouch.has_hash;
	memcpy(out->hash, st->ident.vouch.hash, RIDENT_HASH_LEN);
	snprintf(out->unit, sizeof(out->unit), "%s", st->ident.vouch.unit);
	return 0;
}
