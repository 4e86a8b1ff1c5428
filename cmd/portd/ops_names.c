/*
 * ops_names.c — the names portd keeps for namesrv, so that a namesrv
 * killed and started again serves the same names.
 *
 * namesrv tells portd of every name it binds to a registration of this
 * node, and of every one it lets go (MX_OP_NAME_KEEP). portd keeps the
 * binding (the name, a send right of its own to the port, the uid and pid
 * that registered it) as long as the port lives: a port that dies takes
 * its bindings with it, so a server that died while namesrv was away is
 * never handed back. When a task takes the NAME port, portd queues on it,
 * ahead of any client's request, one NS_RESTORE message per binding, then
 * NS_RESTORE_END; namesrv binds them again through its one registration
 * path (checks, budgets, dead-name notices, announcements).
 *
 * Why here: portd outlives namesrv and already holds every port; a send
 * right it keeps costs one reference, and only the NAME holder (root, the
 * trusted uid, portd's own uid) ever sees the rights again.
 *
 * Each binding's bytes are charged to the uid that registered it (queued
 * bytes, like a message it made portd hold) and refused over its budget;
 * namesrv keeps at most names_per_uid of them per uid, and portd keeps only
 * what namesrv holds (a name is replaced or dropped, never duplicated).
 * Found by a keyed hash of the name and by port id: O(1) per request and
 * per port death.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <openssl/evp.h>
#include "log.h"
#include "names.h"
#include "ops.h"
#include "rbuf.h"
#include "task.h"

/* A doubly linked chain whose first element a map holds: O(1) unlinking anywhere. */
struct chain {
	struct kept *prev, *next;
};

struct kept {
	struct chain by_hash;		/* the bindings of the same name hash */
	struct chain by_port;		/* the bindings of the same port */
	TAILQ_ENTRY(kept) all;		/* in the order namesrv kept them */
	struct port *port;		/* a reference: portd's send right */
	struct ipc_acct *acct;		/* the registrant's uid, charged */
	uint32_t charged;
	uint64_t hash;
	uint32_t uid, pid;
	char name[];
};

static TAILQ_HEAD(, kept) kept_all = TAILQ_HEAD_INITIALIZER(kept_all);
static struct map by_hash;		/* name hash -> first kept of that hash */
static struct map by_port;		/* port id -> first kept of that port */
static uint8_t hash_key[16];		/* random: names a client picks cannot collide on purpose */
static uint64_t kept_bytes;

/* A keyed hash of name: SHA-256 (in every OpenSSL provider) of a random key and the name. */
static uint64_t
name_hash(const char *name)
{
	static int seeded;
	uint8_t in[sizeof(hash_key) + MX_NAME_LEN_MAX], out[EVP_MAX_MD_SIZE];
	size_t n = strlen(name);
	unsigned outlen = 0;
	uint64_t h;

	if (!seeded) {
		if (getrandom(hash_key, sizeof(hash_key), 0) != (ssize_t)sizeof(hash_key))
			fatal("getrandom");
		seeded = 1;
	}
	memcpy(in, hash_key, sizeof(hash_key));
	memcpy(in + sizeof(hash_key), name, n);	/* n <= MX_NAME_LEN_MAX: a valid name */
	if (!EVP_Digest(in, sizeof(hash_key) + n, out, &outlen, EVP_sha256(), NULL) || outlen < 8)
		fatalx("SHA-256 failed");
	memcpy(&h, out, 8);
	return h;
}

static struct kept *
find(const char *name, uint64_t h)
{
	struct kept *k;

	for (k = map_get(&by_hash, h); k != NULL; k = k->by_hash.next)
		if (strcmp(k->name, name) == 0)
			return k;
	return NULL;
}

#define CHAIN(k, off) ((struct chain *)(void *)((char *)(k) + (off)))

/* Put k first in the chain of key in m (its chain at offset off in struct kept). */
static void
chain_add(struct map *m, uint64_t key, struct kept *k, size_t off)
{
	struct kept *first = map_get(m, key);

	CHAIN(k, off)->prev = NULL;
	CHAIN(k, off)->next = first;
	if (first != NULL)
		CHAIN(first, off)->prev = k;
	if (map_put(m, key, k) < 0)
		fatal("kept name");
}

static void
chain_del(struct map *m, uint64_t key, struct kept *k, size_t off)
{
	struct chain *c = CHAIN(k, off);

	if (c->next != NULL)
		CHAIN(c->next, off)->prev = c->prev;
	if (c->prev != NULL)
		CHAIN(c->prev, off)->next = c->next;
	else if (c->next == NULL)
		map_del(m, key);
	else if (map_put(m, key, c->next) < 0)
		fatal("kept name");
}

static void
drop(struct kept *k)
{
	chain_del(&by_hash, k->hash, k, offsetof(struct kept, by_hash));
	chain_del(&by_port, k->port->id, k, offsetof(struct kept, by_port));
	TAILQ_REMOVE(&kept_all, k, all);
	ipc_acct_uncharge(k->acct, ACCT_BYTES, k->charged);
	kept_bytes -= k->charged;
	k->port->held_above--;
	ipc_port_send_drop(k->port, 1);
	ipc_port_unref(k->port);
	free(k);
}

static void
add(const char *name, uint64_t h, struct port *p, uint32_t uid, uint32_t pid)
{
	size_t len = strlen(name);
	struct ipc_acct *a = ipc_acct_get(uid);
	uint32_t cost = (uint32_t)(sizeof(struct kept) + len + 1);
	struct kept *k;

	/*
	 * Charged whatever the budget: namesrv caps the names of each uid
	 * (names_per_uid), and answers the registration without waiting for
	 * this, so a refusal here would come too late to tell anyone.
	 */
	ipc_acct_force(a, ACCT_BYTES, cost);
	if ((k = calloc(1, sizeof(*k) + len + 1)) == NULL)
		fatal("kept name");
	memcpy(k->name, name, len + 1);
	k->hash = h;
	k->port = p;
	ipc_port_ref(p);
	/* A send right like any other: the port's server sees no "no senders" while namesrv is away. */
	ipc_port_send_add(p, 1);
	p->held_above++;
	k->acct = a;
	k->charged = cost;
	k->uid = uid;
	k->pid = pid;
	chain_add(&by_hash, h, k, offsetof(struct kept, by_hash));
	chain_add(&by_port, p->id, k, offsetof(struct kept, by_port));
	TAILQ_INSERT_TAIL(&kept_all, k, all);
	kept_bytes += cost;
}

/*
 * MX_OP_NAME_KEEP, from the NAME holder only: u32 keep (1) or drop (0),
 * u32 its send right (0 to drop), u32 uid, u32 pid (0 to drop), the name.
 */
int
ops_names_keep(struct task *t, const struct mx_frame_hdr *h, const uint8_t *p)
{
	struct port *ns = ipc_port_special_get(MX_SPECIAL_NAME);
	char name[MX_NAME_LEN_MAX + 1];
	uint32_t keep, right, uid, pid;
	struct kept *k;
	struct entry *e;
	struct rbuf r;
	uint64_t hv;
	size_t n;

	if (ns == NULL || ns->dead || ns->receiver != &t->space)
		return -MX_ERR_PERM;
	rbuf_init(&r, p, h->len);
	keep = rbuf_u32(&r);
	right = rbuf_u32(&r);
	uid = rbuf_u32(&r);
	pid = rbuf_u32(&r);
	n = rbuf_left(&r);
	if (r.bad || n == 0 || n > MX_NAME_LEN_MAX)
		return -MX_ERR_PROTO;
	memcpy(name, rbuf_take(&r, n), n);
	name[n] = '\0';
	if (keep > 1 || strlen(name) != n || !mx_name_valid(name))
		return -MX_ERR_INVAL;
	hv = name_hash(name);
	k = find(name, hv);
	if (!keep) {
		if (right != 0 || uid != 0 || pid != 0)
			return -MX_ERR_INVAL;
		if (k == NULL)
			return -MX_ERR_NOENT;
		drop(k);
	} else {
		if ((e = ipc_space_lookup(&t->space, right)) == NULL || e->srefs == 0)
			return -MX_ERR_BADNAME;
		if (e->port->dead)
			return -MX_ERR_DEAD;
		if (k != NULL && k->port == e->port) {
			k->uid = uid;	/* the same binding: nothing more to hold */
			k->pid = pid;
		} else {
			/* namesrv is the authority: what it binds now replaces what was kept. */
			add(name, hv, e->port, uid, pid);
			if (k != NULL)
				drop(k);
		}
	}
	task_reply(t, h->type, h->id, 0, NULL, 0);
	return 0;
}

/* ns just became the NAME port: hand it every binding kept, then the end marker. */
void
ops_names_restore(struct port *ns)
{
	struct mx_msg *m;
	struct kept *k;
	int64_t n = 0;

	TAILQ_FOREACH(k, &kept_all, all) {
		if (k->port->dead)
			continue;	/* not yet told: its hook drops it */
		if ((m = mx_msg_new(NS_RESTORE)) == NULL)
			fatal("restore");
		mx_msg_add_string(m, k->name);
		mx_msg_add_int(m, k->uid);
		mx_msg_add_int(m, k->pid);
		mx_msg_add_port(m, 1, MX_DISP_COPY_SEND);	/* the name is rewritten on delivery */
		ipc_kmsg_notice_items(ns, NS_RESTORE, m, k->port);
		mx_msg_free(m);
		n++;
	}
	if ((m = mx_msg_new(NS_RESTORE_END)) == NULL)
		fatal("restore");
	mx_msg_add_int(m, n);
	ipc_kmsg_notice_items(ns, NS_RESTORE_END, m, NULL);
	mx_msg_free(m);
	if (n > 0)
		log_info("NAME port: kept names handed back: %lld", (long long)n);
}

/* p died: its bindings go, so a dead server is never handed back. */
void
ops_names_port_died(struct port *p)
{
	struct kept *k;

	while ((k = map_get(&by_port, p->id)) != NULL)
		drop(k);
}

uint64_t
ops_names_bytes(void)
{
	return kept_bytes;
}
