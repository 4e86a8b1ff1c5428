/*
 * authz_remote.c — answers from other nodes obey the signed list
 * (doc/trust.md). A name another node answers for, or announces, comes
 * with the identity that node vouches for: who holds the port there (uid,
 * gid, binary SHA-256, systemd unit, as its portd pinned them). Before
 * namesrv caches or uses the answer, keysrv says what OUR copy of the list
 * makes of that identity for that name, exactly as for a registration
 * here: allowed or open, it is cached; refused, or a protected name with
 * no identity, it is dropped with one audit line (throttled per node).
 * keysrv down or silent: a name known to be protected fails closed, any
 * other is cached as before. A local registration is never shadowed: an
 * answer for a name bound here is given back (registry.c).
 *
 * While it waits, an answer holds its right and is charged to the share
 * of its node (names_per_node, like a cached answer); at most
 * REMOTE_PENDING_NODE wait per node, REMOTE_PENDING_MAX in all, one per
 * name: a node cannot crowd out the others' answers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>
#include "ev.h"
#include "keys.h"
#include "log.h"
#include "names.h"
#include "namesrv.h"

#define REMOTE_TIMEOUT_MS	2000	/* keysrv answers at once; past this it is stuck */
#define REMOTE_PENDING_MAX	1024	/* answers waiting for keysrv, all nodes */
#define REMOTE_PENDING_NODE	16	/* ... from one node */
#define REMOTE_THROTTLES	64	/* audit lines are throttled per node (hashed) */
#define NO_UID			4294967294u	/* asked for an answer without identity: no uid */

struct rcheck {
	TAILQ_ENTRY(rcheck) link;
	int64_t cookie;
	uint64_t deadline;
	mx_name_t right;		/* the answer's send right, ours while it waits */
	struct remote_ident id;
	char name[MX_NAME_LEN_MAX + 1];
	char node[MX_NODE_MAX + 1];
};

static TAILQ_HEAD(, rcheck) checks = TAILQ_HEAD_INITIALIZER(checks);
static unsigned nchecks;
static struct mx_conn *conn;
static int64_t next_cookie;
static struct log_throttle audit_lt[REMOTE_THROTTLES];
static struct log_throttle lt_full = LOG_THROTTLE_INIT("answers waiting for keysrv", LOG_WARNING);
static struct log_throttle lt_debug = { .what = "debug lines", .pri = LOG_DEBUG, .burst = 100 };

void
authz_remote_init(struct mx_conn *c)
{
	int i;

	conn = c;
	for (i = 0; i < REMOTE_THROTTLES; i++)
		audit_lt[i] = (struct log_throttle)LOG_THROTTLE_INIT("audit lines (answers)", LOG_NOTICE);
}

/* "sha256:HEX", or "-" without a binary identity. */
static void
hash_text(const struct remote_ident *id, char out[7 + 64 + 1])
{
	static const char hex[] = "0123456789abcdef";
	int i;

	if (!id->present || !id->has_hash) {
		snprintf(out, 7 + 64 + 1, "-");
		return;
	}
	memcpy(out, "sha256:", 7);
	for (i = 0; i < 32; i++) {
		out[7 + 2 * i] = hex[id->hash[i] >> 4];
		out[7 + 2 * i + 1] = hex[id->hash[i] & 0xf];
	}
	out[7 + 64] = '\0';
}

/* One line per decision on a protected name: name, node, who, verdict, rule. */
static void
audit(const struct rcheck *c, const char *verdict, const char *rule, const char *why)
{
	char hash[72], uid[16] = "-";

	hash_text(&c->id, hash);
	if (c->id.present)
		snprintf(uid, sizeof(uid), "%u", c->id.uid);
	log_throttled(&audit_lt[hash_str(c->node) % REMOTE_THROTTLES],
	    "audit: answer '%s' from node %s uid %s exe %s unit %s: %s, rule %s%s%s", c->name, c->node, uid, hash,
	    c->id.present && c->id.unit[0] ? c->id.unit : "-", verdict, rule[0] ? rule : "-", why[0] ? ": " : "",
	    why);
}

/* Cache the answer (ok) or give it back, then forget the check. */
static void
finish(struct rcheck *c, int ok)
{
	if (!ok || !registry_cache(c->name, c->node, c->right)) {
		budget_node_give(c->node);
		masix_right_dealloc(conn, c->right);
	}
	TAILQ_REMOVE(&checks, c, link);
	nchecks--;
	free(c);
}

/* keysrv cannot say: a name known to be protected fails closed, others are cached. */
static void
fail_closed(struct rcheck *c, const char *why)
{
	if (!authz_protected(c->name)) {
		log_throttled(&lt_debug, "answer '%s' from node %s taken unchecked: %s", c->name, c->node, why);
		finish(c, 1);
		return;
	}
	audit(c, "dropped", "", why);
	finish(c, 0);
}

/* Ask keysrv what our list makes of c's identity for c's name: 0, or a negative MX_ERR_*. */
static int
ask(struct rcheck *c)
{
	char hash[72];
	struct mx_msg *m;
	int r;

	hash_text(&c->id, hash);
	if ((m = mx_msg_new(KS_MAY_REGISTER)) == NULL)
		fatalx("out of memory");
	/* With the generation authz.c knows: a new list's rules' names come back (what is protected). */
	if (mx_msg_add_string(m, hash) < 0 || mx_msg_add_int(m, c->id.present ? c->id.uid : NO_UID) < 0 ||
	    mx_msg_add_string(m, c->name) < 0 || mx_msg_add_string(m, c->id.present ? c->id.unit : "") < 0 ||
	    mx_msg_add_int(m, c->cookie) < 0 || mx_msg_add_int(m, authz_known_gen()) < 0)
		fatalx("out of memory");
	r = authz_keysrv_send(m);
	mx_msg_free(m);
	return r;
}

int
authz_remote_check(const char *name, const char *node, mx_name_t right, const struct remote_ident *id)
{
	struct rcheck *c;
	unsigned from_node = 0;
	int r;

	TAILQ_FOREACH(c, &checks, link) {
		if (strcmp(c->name, name) == 0)
			return 0;	/* one answer per name at a time: this one is given back */
		from_node += strcmp(c->node, node) == 0;
	}
	if (nchecks >= REMOTE_PENDING_MAX || from_node >= REMOTE_PENDING_NODE) {
		log_throttled(&lt_full, "answer '%s' from node %s dropped: %u of its answers (%u in all) wait for "
		    "keysrv", name, node, from_node, nchecks);
		return 0;
	}
	if (budget_node_take(node) < 0)
		return 0;	/* that node's share is full (logged): not cached */
	if ((c = calloc(1, sizeof(*c))) == NULL)
		fatalx("out of memory");
	c->cookie = --next_cookie;	/* negative: authz.c's are positive, on the same port */
	c->deadline = ev_now() + REMOTE_TIMEOUT_MS;
	c->right = right;
	c->id = *id;
	snprintf(c->name, sizeof(c->name), "%s", name);
	snprintf(c->node, sizeof(c->node), "%s", node);
	TAILQ_INSERT_TAIL(&checks, c, link);
	nchecks++;
	if ((r = ask(c)) < 0)
		fail_closed(c, r == -MX_ERR_UNAVAIL ? "keysrv is not running" : mx_strerror(r));
	return 1;
}

/* keysrv's answer on authz.c's port: 1 when it is a verdict on one of ours (negative cookie). */
int
authz_remote_reply(struct mx_msg *m)
{
	char reason[KS_REASON_MAX + 1], rule[KS_REASON_MAX + 1];
	int64_t status, verdict, priv, strict, cookie, gen;
	struct rcheck *c;

	if (m->msgid != MX_MSGID_REPLY || mx_msg_get_int(m, &status) < 0 ||
	    mx_msg_get_string(m, reason, sizeof(reason)) < 0 || mx_msg_get_int(m, &verdict) < 0 ||
	    mx_msg_get_string(m, rule, sizeof(rule)) < 0 || mx_msg_get_int(m, &priv) < 0 ||
	    mx_msg_get_int(m, &strict) < 0 || mx_msg_get_int(m, &cookie) < 0 || mx_msg_get_int(m, &gen) < 0 ||
	    cookie >= 0) {
		m->rpos = 0;	/* authz.c's, or an error it logs */
		return 0;
	}
	authz_learn(m, gen, strict);
	TAILQ_FOREACH(c, &checks, link)
		if (c->cookie == cookie)
			break;
	if (c == NULL)
		return 1;	/* timed out meanwhile: decided already */
	switch (verdict) {
	case KS_VERDICT_ALLOW:
		audit(c, "allowed", rule, "");
		finish(c, 1);
		break;
	case KS_VERDICT_OPEN:
		finish(c, 1);
		break;
	case KS_VERDICT_DENY:
		audit(c, "dropped", rule, c->id.present ? reason : "the node vouched for no identity");
		finish(c, 0);
		break;
	default:
		fail_closed(c, reason);
		break;
	}
	return 1;
}

uint64_t
authz_remote_next_deadline(void)
{
	struct rcheck *c = TAILQ_FIRST(&checks);

	return c != NULL ? c->deadline : UINT64_MAX;
}

void
authz_remote_expire(uint64_t now)
{
	struct rcheck *c;

	/* One timeout for all: the oldest is first. */
	while ((c = TAILQ_FIRST(&checks)) != NULL && c->deadline <= now)
		fail_closed(c, "keysrv did not answer in time");
}

void
authz_remote_free(void)
{
	struct rcheck *c;

	while ((c = TAILQ_FIRST(&checks)) != NULL)
		finish(c, 0);
}

/* The identity items portd adds to NS_NET_ANSWER after the right: 0 (none is fine), or -1. */
int
authz_remote_ident(struct mx_msg *m, struct remote_ident *id)
{
	const uint8_t *h;
	int64_t uid, gid;
	size_t n;

	memset(id, 0, sizeof(*id));
	if (mx_msg_end(m) == 0)
		return 0;	/* from a node that vouches for nobody: only open names pass */
	if (mx_msg_get_int(m, &uid) < 0 || mx_msg_get_int(m, &gid) < 0 || mx_msg_get_bytes(m, &h, &n) < 0 ||
	    mx_msg_get_string(m, id->unit, sizeof(id->unit)) < 0 || mx_msg_end(m) < 0 || uid < 0 ||
	    uid > NO_UID || gid < 0 || gid > UINT32_MAX || (n != 0 && n != sizeof(id->hash)))
		return -1;
	id->present = 1;
	id->uid = (uint32_t)uid;
	id->gid = (uint32_t)gid;
	id->has_hash = n != 0;
	if (n != 0)
		memcpy(id->hash, h, n);
	return 0;
}
