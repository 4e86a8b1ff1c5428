/*
 * authz.c — who may take a name: the check every registration goes
 * through (doc/trust.md). portd says who holds the receive right of the
 * port being registered (pinned identity: uid, binary hash, unit); keysrv
 * says what the signed list makes of it. keysrv is asked without blocking
 * the name service: the registration waits, charged to its uid like a
 * waiting lookup, and goes on when the answer comes (or fails closed when
 * it does not come in time and the name is protected).
 *
 * What is protected is known from keysrv: every answer carries the list's
 * generation, and namesrv keeps the rules' names of the last one, so that a
 * protected name fails closed while keysrv is down and an open one does not.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>
#include "crypto.h"
#include "ev.h"
#include "keys.h"
#include "log.h"
#include "names.h"
#include "namesrv.h"

#define AUTHZ_TIMEOUT_MS	2000	/* keysrv answers at once; past this it is stuck */
#define AUTHZ_PENDING_MAX	1024	/* registrations waiting for keysrv, all uids */
#define AUDIT_THROTTLES		64	/* audit lines are throttled per uid (hashed) */

struct pending {
	TAILQ_ENTRY(pending) link;
	int64_t cookie;
	uint64_t deadline;
	struct mx_msg *req;		/* holds the reply right and the port right */
	mx_name_t right;
	uint32_t uid, pid;		/* who asked (charged) */
	struct ns_ident who;		/* who holds the port's receive right */
	int has_who;
	int asked;			/* the question went to keysrv */
	char name[MX_NAME_LEN_MAX + 1];
};

struct pattern {
	char *name;
	int private;
	char *audience;			/* private: the services that see its names ("" any verified service) */
};

static TAILQ_HEAD(, pending) pendings = TAILQ_HEAD_INITIALIZER(pendings);
static unsigned npending;
static struct mx_conn *conn;
static mx_name_t reply_port, key_port;
static int64_t next_cookie;
static authz_resume_fn resume;

/* The last list keysrv told us of: its generation, rules' names, strict. */
static int64_t known_gen;		/* 0: none yet */
static struct pattern *patterns;
static size_t npatterns, patterns_cap, nprivate;	/* nprivate: lookups skip the rules when 0 */
static int known_strict;

/* The decision that lets a registration through once, when it comes back. */
static struct {
	int set;
	mx_name_t right;
	int service;
	char name[MX_NAME_LEN_MAX + 1];
} passed;

static struct log_throttle audit_lt[AUDIT_THROTTLES];
static struct log_throttle lt_ks = LOG_THROTTLE_INIT("keysrv errors", LOG_WARNING);

void
authz_init(struct mx_conn *c, mx_name_t port, authz_resume_fn fn)
{
	int i;

	conn = c;
	reply_port = port;
	resume = fn;
	for (i = 0; i < AUDIT_THROTTLES; i++)
		audit_lt[i] = (struct log_throttle)LOG_THROTTLE_INIT("audit lines", LOG_NOTICE);
}

static void
hexhash(const struct ns_ident *w, char out[7 + 64 + 1])
{
	static const char hex[] = "0123456789abcdef";
	int i;

	memcpy(out, "sha256:", 7);
	for (i = 0; i < 32; i++) {
		out[7 + 2 * i] = hex[w->hash[i] >> 4];
		out[7 + 2 * i + 1] = hex[w->hash[i] & 0xf];
	}
	out[7 + 64] = '\0';
}

/* One line per decision: name, who, the verdict and the rule that decided. */
static void
audit(const struct pending *p, const char *verdict, const char *rule, const char *why)
{
	char hash[72] = "-";

	if (p->has_who && p->who.has_hash)
		hexhash(&p->who, hash);
	log_throttled(&audit_lt[p->uid % AUDIT_THROTTLES],
	    "audit: register '%s' uid %u pid %u exe %s unit %s: %s, rule %s%s%s", p->name,
	    p->has_who ? p->who.uid : p->uid, p->has_who ? p->who.pid : p->pid, hash,
	    p->has_who && p->who.unit[0] ? p->who.unit : "-", verdict, rule[0] ? rule : "-", why[0] ? ": " : "",
	    why);
}

/* Does rule (a name, or a prefix then "/" "*") cover name? As crypto_siglist.c, without its OpenSSL. */
static int
covers(const char *rule, const char *name)
{
	size_t n = strlen(rule);

	if (n > 2 && strcmp(rule + n - 2, "/*") == 0)
		return strncmp(name, rule, n - 1) == 0 && name[n - 1] != '\0';
	return strcmp(rule, name) == 0;
}

/*
 * Is name covered by a rule of the last list keysrv told us of? Before
 * keysrv ever answered (a node without keysrv, or one that never came up
 * since namesrv started) no name is known to be protected.
 */
static int
known_protected(const char *name, int *private)
{
	size_t i;
	int r = 0;

	*private = 0;
	for (i = 0; i < npatterns; i++)
		if (covers(patterns[i].name, name)) {
			r = 1;
			*private |= patterns[i].private;
		}
	return r || known_strict;
}

static void
pending_free(struct pending *p)
{
	TAILQ_REMOVE(&pendings, p, link);
	npending--;
	free(p);
}

/* Go on with the registration (ok) or answer it refused, then forget it. */
static void
finish(struct pending *p, int status, const char *why, int service)
{
	struct mx_msg *req = p->req;

	if (status == 0) {
		passed.set = 1;
		passed.right = p->right;
		passed.service = service;
		snprintf(passed.name, sizeof(passed.name), "%s", p->name);
		resume(p->name, p->right, p->uid, p->pid, req, 0);
		passed.set = 0;
	} else if (req == NULL) {
		/* A binding portd kept for us, refused now: not restored, portd lets go too. */
		budget_give(p->uid, BUDGET_NAMES);
		resume(p->name, p->right, p->uid, p->pid, NULL, -status);
	} else {
		budget_give(p->uid, BUDGET_NAMES);	/* what it would have held */
		authz_refuse(req, status, why);
		masix_msg_release_rights(conn, req, MX_NAME_NULL);
		mx_msg_free(req);
	}
	pending_free(p);
}

/* keysrv cannot answer: a protected name (or any, when we know no list) fails closed. */
static void
fail_closed(struct pending *p, const char *why)
{
	char text[1024];
	int priv;

	if (!known_protected(p->name, &priv)) {
		audit(p, "open", "", known_gen == 0 ? "no signature list known yet" : why);
		finish(p, 0, NULL, 0);
		return;
	}
	snprintf(text, sizeof(text), "cannot check who may register '%s': %s", p->name, why);
	audit(p, "failed closed", "", why);
	finish(p, MX_ERR_UNAVAIL, text, 0);
}

static void
learn(struct mx_msg *m, int64_t gen, int64_t strict)
{
	int64_t n, priv;
	char name[MX_NAME_LEN_MAX + 1], audience[SIGLIST_LINE_MAX + 1];
	size_t i;

	if (mx_msg_get_int(m, &n) < 0 || n < 0 || n > 10000000)
		return;
	authz_known_reset(gen, (int)(strict != 0), (size_t)n);
	for (i = 0; i < (size_t)n; i++) {
		if (mx_msg_get_string(m, name, sizeof(name)) < 0 || mx_msg_get_int(m, &priv) < 0 ||
		    mx_msg_get_string(m, audience, sizeof(audience)) < 0)
			break;
		authz_known_add(name, priv != 0, audience);
	}
	listwatch_learned(gen, npatterns, nprivate);	/* what is bound follows the new rules too */
}

/*
 * Our send right to keysrv's KEY port, fetched once per keysrv life: its
 * death comes to our reply port as a dead-name notice (keysrv_gone).
 */
static int
key_port_get(void)
{
	int r;

	if (key_port != MX_NAME_NULL)
		return 0;
	if ((r = masix_special_get(conn, MX_SPECIAL_KEY, &key_port)) < 0)
		return r;
	if ((r = masix_request_dead_notify(conn, key_port, reply_port)) < 0) {
		masix_right_dealloc(conn, key_port);	/* died already */
		key_port = MX_NAME_NULL;
		return r == -MX_ERR_DEAD ? -MX_ERR_UNAVAIL : r;
	}
	return 0;
}

int
authz_keysrv_send(struct mx_msg *m)
{
	return authz_keysrv_ask(m, reply_port);
}

int
authz_keysrv_ask(struct mx_msg *m, mx_name_t reply)
{
	int r;

	if ((r = key_port_get()) < 0)
		return r;
	m->dest = key_port;
	m->reply = reply;
	m->reply_disp = MX_DISP_MAKE_SEND_ONCE;
	/* Never wait for room on the KEY port: a full one is a stuck keysrv, and the deadline answers. */
	return masix_send_nowait(conn, m, 0);
}

/*
 * Send the question to keysrv: 0, or a negative MX_ERR_* (keysrv down).
 * Without waiting for portd, so that registrations stay pipelined: a
 * question queued to a keysrv that died is asked again (keysrv_gone).
 */
static int
ask(struct pending *p)
{
	char hash[72] = "-";
	struct mx_msg *m;
	int r;

	if (p->has_who && p->who.has_hash)
		hexhash(&p->who, hash);
	if ((m = mx_msg_new(KS_MAY_REGISTER)) == NULL)
		fatalx("out of memory");
	if (mx_msg_add_string(m, hash) < 0 || mx_msg_add_int(m, p->has_who ? p->who.uid : 4294967294u) < 0 ||
	    mx_msg_add_string(m, p->name) < 0 || mx_msg_add_string(m, p->has_who ? p->who.unit : "") < 0 ||
	    mx_msg_add_int(m, p->cookie) < 0 || mx_msg_add_int(m, known_gen) < 0)
		fatalx("out of memory");
	r = authz_keysrv_send(m);
	mx_msg_free(m);
	if (r == 0)
		p->asked = 1;
	return r;
}

/* The question to keysrv, or the verdict without it when keysrv cannot be asked. */
static void
ask_keysrv(struct pending *p)
{
	int r;

	if ((r = ask(p)) < 0)
		fail_closed(p, r == -MX_ERR_UNAVAIL ? "keysrv is not running" : mx_strerror(r));
}

/* keysrv died: the questions it had are lost with it; ask them again (a new keysrv, or fail closed). */
static void
keysrv_gone(void)
{
	struct pending *p, *next;

	masix_right_dealloc(conn, key_port);
	key_port = MX_NAME_NULL;
	for (p = TAILQ_FIRST(&pendings); p != NULL; p = next) {
		next = TAILQ_NEXT(p, link);	/* p may be answered and freed now */
		if (p->asked)
			ask_keysrv(p);
	}
}

int
authz_passed(const char *name, mx_name_t right, int *service)
{
	*service = 0;
	if (!passed.set || passed.right != right || strcmp(passed.name, name) != 0)
		return 0;
	*service = passed.service;
	passed.set = 0;
	return 1;
}

int
authz_check(const char *name, mx_name_t right, uint32_t uid, uint32_t pid, struct mx_msg *req)
{
	struct pending *p;
	int r;

	if (npending >= AUTHZ_PENDING_MAX) {
		authz_refuse(req, MX_ERR_BUDGET, "too many registrations waiting for keysrv");
		return -MX_ERR_BUDGET;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL)
		fatalx("out of memory");
	p->cookie = ++next_cookie;
	p->deadline = ev_now() + AUTHZ_TIMEOUT_MS;
	p->req = req;
	p->right = right;
	p->uid = uid;
	p->pid = pid;
	snprintf(p->name, sizeof(p->name), "%s", name);
	TAILQ_INSERT_TAIL(&pendings, p, link);
	npending++;
	/*
	 * The paper's "ask the process server for the owner of the port":
	 * portd, not the trailer. Its answer comes as a message (authz_who),
	 * then keysrv is asked.
	 */
	if ((r = ns_who_holds_ask(conn, right, reply_port, p->cookie)) < 0) {
		snprintf(p->who.why, sizeof(p->who.why), "%s", mx_strerror(r));
		ask_keysrv(p);
	}
	return 0;
}

/* portd's NS_WHO_HOLDS: who holds the port a waiting registration names; now keysrv is asked. */
static void
authz_who(struct mx_msg *m)
{
	struct ns_ident who;
	struct pending *p;
	int64_t cookie;
	int r;

	if ((r = ns_who_holds_answer(m, &cookie, &who)) == -MX_ERR_PROTO)
		fatalx("malformed identity from portd");	/* between portd and us: a bug */
	TAILQ_FOREACH(p, &pendings, link)
		if (p->cookie == cookie)
			break;
	if (p == NULL)
		return;	/* timed out meanwhile: already failed closed */
	if (r == 0) {
		p->who = who;
		p->has_who = 1;
	} else
		snprintf(p->who.why, sizeof(p->who.why), "%s", mx_strerror(r));
	ask_keysrv(p);
}

/* An answer on our reply port: portd's (who holds the port) or keysrv's (the verdict). */
void
authz_reply(struct mx_msg *m)
{
	char reason[KS_REASON_MAX + 1], rule[KS_REASON_MAX + 1], text[1024];
	int64_t status, verdict, priv, strict, cookie, gen;
	struct pending *p;

	if (m->msgid == NS_WHO_HOLDS) {
		authz_who(m);
		return;
	}
	if (m->msgid == MX_MSGID_DEAD_NAME) {
		if (mx_msg_get_int(m, &status) == 0 && key_port != MX_NAME_NULL && status == key_port)
			keysrv_gone();
		return;
	}
	if (m->msgid == MX_MSGID_NO_REPLY)
		return;	/* a question lost with a dead keysrv: its dead-name notice asks again */
	if (m->msgid != MX_MSGID_REPLY || mx_msg_get_int(m, &status) < 0 ||
	    mx_msg_get_string(m, reason, sizeof(reason)) < 0) {
		log_throttled(&lt_ks, "malformed answer %#x from keysrv", m->msgid);
		return;
	}
	if (mx_msg_get_int(m, &verdict) < 0 || mx_msg_get_string(m, rule, sizeof(rule)) < 0 ||
	    mx_msg_get_int(m, &priv) < 0 || mx_msg_get_int(m, &strict) < 0 || mx_msg_get_int(m, &cookie) < 0 ||
	    mx_msg_get_int(m, &gen) < 0) {
		/* An error keysrv gives before any verdict ("malformed request"): nothing to match it to. */
		log_throttled(&lt_ks, "keysrv: %s", reason);
		return;
	}
	TAILQ_FOREACH(p, &pendings, link)
		if (p->cookie == cookie)
			break;
	if (gen != known_gen)
		learn(m, gen, strict);
	if (p == NULL)
		return;	/* timed out meanwhile: already failed closed */
	switch (verdict) {
	case KS_VERDICT_ALLOW:
		audit(p, "allowed", rule, "");
		finish(p, 0, NULL, 1);
		break;
	case KS_VERDICT_OPEN:
		audit(p, "open", "", "");
		finish(p, 0, NULL, 0);
		break;
	case KS_VERDICT_DENY:
		if (!p->has_who)
			snprintf(text, sizeof(text), "not permitted: the port's receive right is held by no task of "
			    "this node (%s)", p->who.why);
		else if (!p->who.has_hash)
			snprintf(text, sizeof(text), "not permitted: %s (no binary identity: %s)", reason, p->who.why);
		else
			snprintf(text, sizeof(text), "not permitted: %s", reason);
		audit(p, "refused", rule, p->has_who ? reason : p->who.why);
		finish(p, MX_ERR_PERM, text, 0);
		break;
	default:
		fail_closed(p, reason);
		break;
	}
}

void
authz_refuse(struct mx_msg *req, int status, const char *why)
{
	struct mx_msg *m;
	int r;

	if (req == NULL || req->reply == MX_NAME_NULL)
		return;
	/* The reply right is used up: whoever frees req will not find it. */
	char text[256];	/* what a client reads: masix_errdetail() holds 255 bytes */

	snprintf(text, sizeof(text), "%s", why != NULL ? why : "");
	if ((m = mx_msg_new(MX_MSGID_REPLY)) == NULL || mx_msg_add_int(m, status) < 0 ||
	    (why != NULL && mx_msg_add_string(m, text) < 0))
		fatalx("out of memory");
	m->dest = req->reply;
	m->reply = MX_NAME_NULL;
	if ((r = masix_send_nowait(conn, m, 0)) < 0)
		log_throttled(&lt_ks, "reply to pid %u: %s", req->trailer.pid, mx_strerror(r));
	mx_msg_free(m);
	req->reply = MX_NAME_NULL;
}

uint64_t
authz_next_deadline(void)
{
	struct pending *p = TAILQ_FIRST(&pendings);

	return p != NULL ? p->deadline : UINT64_MAX;
}

void
authz_expire(uint64_t now)
{
	struct pending *p;

	/* One timeout for all: the oldest is first. */
	while ((p = TAILQ_FIRST(&pendings)) != NULL && p->deadline <= now)
		fail_closed(p, "keysrv did not answer in time");
}

int
authz_private(const char *name)
{
	int priv;

	return nprivate > 0 && known_protected(name, &priv) && priv;
}

int
authz_protected(const char *name)
{
	int priv;

	return known_protected(name, &priv);
}

int64_t
authz_known_gen(void)
{
	return known_gen;
}

void
authz_learn(struct mx_msg *m, int64_t gen, int64_t strict)
{
	if (gen != known_gen)
		learn(m, gen, strict);
}

void
authz_free(void)
{
	struct pending *p;

	while ((p = TAILQ_FIRST(&pendings)) != NULL) {
		budget_give(p->uid, BUDGET_NAMES);
		if (p->req != NULL)
			masix_msg_release_rights(conn, p->req, MX_NAME_NULL);
		mx_msg_free(p->req);
		pending_free(p);
	}
	authz_known_reset(0, 0, 0);
	free(patterns);
	patterns = NULL;
}

/*
 * What is protected and what is private: forget it and start again, from
 * the list of generation gen (keysrv's, or AUTHZ_GEN_OWN: namesrv's own
 * copy), with room for n rules.
 */
void
authz_known_reset(int64_t gen, int strict, size_t n)
{
	size_t i;

	for (i = 0; i < npatterns; i++) {
		free(patterns[i].name);
		free(patterns[i].audience);
	}
	free(patterns);
	npatterns = 0;
	if ((patterns = calloc(n + 1, sizeof(*patterns))) == NULL)
		fatalx("out of memory");
	patterns_cap = n;
	nprivate = 0;
	known_gen = gen;
	known_strict = strict;
}

void
authz_known_add(const char *name, int private, const char *audience)
{
	if (npatterns == patterns_cap)
		return;	/* more than announced: a bug of the caller */
	if ((patterns[npatterns].name = strdup(name)) == NULL ||
	    (patterns[npatterns].audience = strdup(private ? audience : "")) == NULL)
		fatalx("out of memory");
	patterns[npatterns++].private = private;
	nprivate += private != 0;
}

/*
 * May a task whose verified service is service ("" none) learn that name
 * is bound? Yes unless a rule covering it is private; then only when one of
 * the private rules covering it admits that service (doc/trust.md).
 */
int
authz_visible(const char *name, const char *service)
{
	int hidden = 0;
	size_t i;

	for (i = 0; nprivate > 0 && i < npatterns; i++) {
		if (!patterns[i].private || !covers(patterns[i].name, name))
			continue;
		if (siglist_audience_admits(patterns[i].audience, service))
			return 1;
		hidden = 1;
	}
	return !hidden;
}
