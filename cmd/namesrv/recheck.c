/*
 * recheck.c — names registered before the list changed are checked again.
 *
 * A registration is checked against the list in force when it is made. A
 * new list may protect a name that was open (someone took it before the
 * admin listed it), or no longer admit the identity that holds a protected
 * name (its rule removed, or narrowed). So when the rules known change,
 * every locally registered name the new list protects is checked again the
 * way a registration is: portd says who holds the port's receive right
 * now, keysrv what the list makes of that identity. Refused, the name is
 * dropped (portd forgets it too) with an audit line; allowed, its holder
 * is the service; the holder is not told. A name that cannot be checked
 * (its port gone, keysrv away) stays: the next list change checks it again.
 *
 * At most RECHECK_WINDOW checks are out at once, so a node with many names
 * does not flood portd's or keysrv's queues; a new change restarts the
 * pass with the names bound then (answers to the old pass are ignored).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "crypto.h"
#include "keys.h"
#include "log.h"
#include "names.h"
#include "namesrv.h"

#define RECHECK_WINDOW	64	/* checks out at once */

struct job {
	char *name;
	mx_name_t right;
	uint32_t uid, pid;		/* who registered it */
	int64_t cookie;			/* 0: not asked yet */
	struct ns_ident who;
};

static struct mx_conn *conn;
static mx_name_t port;
static struct job *queued, *jobs;	/* queued: for the next pass; jobs: this pass */
static size_t nqueued, queued_cap, njobs, next_job, out, checked, dropped, unchecked;
static int64_t next_cookie, first_cookie;	/* answers below first_cookie are of an old pass */
static struct log_throttle audit_lt = LOG_THROTTLE_INIT("recheck audit lines", LOG_NOTICE);

void
recheck_init(struct mx_conn *c, mx_name_t p)
{
	conn = c;
	port = p;
	/* Room for every answer of a full window, whatever queue_limit says: keysrv drops a reply it cannot queue. */
	masix_port_set_qlimit(c, p, 2 * RECHECK_WINDOW);
}

void
recheck_add(const char *name, mx_name_t right, uint32_t uid, uint32_t pid)
{
	if (nqueued == queued_cap &&
	    (queued = reallocarray(queued, queued_cap = queued_cap ? 2 * queued_cap : 64, sizeof(*queued))) == NULL)
		fatalx("out of memory");
	memset(&queued[nqueued], 0, sizeof(*queued));
	if ((queued[nqueued].name = strdup(name)) == NULL)
		fatalx("out of memory");
	queued[nqueued].right = right;
	queued[nqueued].uid = uid;
	queued[nqueued++].pid = pid;
}

static void
jobs_free(struct job *j, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(j[i].name);
	free(j);
}

static void
pass_end(const char *why)
{
	if (njobs > 0 && why != NULL)
		log_warnx("list changed: checking registered names again stopped after %zu of %zu: %s", checked,
		    njobs, why);
	else if (njobs > 0 && unchecked > 0)
		log_info("list changed: %zu registered protected name%s checked again, %zu dropped, %zu left as "
		    "they were (could not be checked)", njobs, njobs == 1 ? "" : "s", dropped, unchecked);
	else if (njobs > 0)
		log_info("list changed: %zu registered protected name%s checked again, %zu dropped", njobs,
		    njobs == 1 ? "" : "s", dropped);
	jobs_free(jobs, njobs);
	jobs = NULL;
	njobs = next_job = out = checked = dropped = unchecked = 0;
	first_cookie = next_cookie + 1;	/* whatever is still out is of no pass now */
}

/* One job settled: the next goes out; the pass ends with the last. */
static void settle(struct job *j);

static void
launch(void)
{
	struct job *j;
	int r;

	while (out < RECHECK_WINDOW && next_job < njobs) {
		j = &jobs[next_job++];
		j->cookie = ++next_cookie;
		out++;
		if ((r = ns_who_holds_ask(conn, j->right, port, j->cookie)) < 0) {
			unchecked++;
			settle(j);	/* the port is gone: nothing to check */
		}
	}
}

static void
settle(struct job *j)
{
	j->cookie = 0;
	out--;
	checked++;
	if (checked == njobs)
		pass_end(NULL);
}

void
recheck_run(void)
{
	if (njobs > 0)
		log_info("list changed again: checking the registered names again from the start");
	jobs_free(jobs, njobs);
	jobs = queued;
	njobs = nqueued;
	queued = NULL;
	nqueued = queued_cap = 0;
	next_job = out = checked = dropped = unchecked = 0;
	first_cookie = next_cookie + 1;
	if (njobs == 0) {
		free(jobs);
		jobs = NULL;
		return;
	}
	launch();
}

/* A pass gives its jobs cookies in order from first_cookie: the job is found in O(1). */
static struct job *
job_of(int64_t cookie)
{
	size_t i;

	if (cookie < first_cookie || (uint64_t)(cookie - first_cookie) >= next_job)
		return NULL;
	i = (size_t)(cookie - first_cookie);
	return jobs[i].cookie == cookie ? &jobs[i] : NULL;	/* 0 once settled */
}

/* portd said who holds the port: now keysrv, as for a registration. */
static void
ask_keysrv(struct job *j)
{
	char hash[CRYPTO_HASH_STRLEN + 1] = "-";
	struct mx_msg *m;
	int r;

	if (j->who.has_hash)
		crypto_hash_format(j->who.hash, hash);
	if ((m = mx_msg_new(KS_MAY_REGISTER)) == NULL || mx_msg_add_string(m, hash) < 0 ||
	    mx_msg_add_int(m, j->who.uid) < 0 || mx_msg_add_string(m, j->name) < 0 ||
	    mx_msg_add_string(m, j->who.unit) < 0 || mx_msg_add_int(m, j->cookie) < 0 || mx_msg_add_int(m, -1) < 0)
		fatalx("out of memory");
	r = authz_keysrv_ask(m, port);
	mx_msg_free(m);
	if (r < 0)
		pass_end(r == -MX_ERR_UNAVAIL ? "keysrv is not running" : mx_strerror(r));
}

static void
verdict(struct mx_msg *m)
{
	char reason[KS_REASON_MAX + 1], rule[KS_REASON_MAX + 1], hash[CRYPTO_HASH_STRLEN + 1] = "-";
	int64_t status, kind, priv, strict, cookie, gen;
	struct job *j;

	if (mx_msg_get_int(m, &status) < 0 || mx_msg_get_string(m, reason, sizeof(reason)) < 0 ||
	    mx_msg_get_int(m, &kind) < 0 || mx_msg_get_string(m, rule, sizeof(rule)) < 0 ||
	    mx_msg_get_int(m, &priv) < 0 || mx_msg_get_int(m, &strict) < 0 || mx_msg_get_int(m, &cookie) < 0 ||
	    mx_msg_get_int(m, &gen) < 0 || (j = job_of(cookie)) == NULL)
		return;
	/* A verdict of another list than the one known: the change it came with starts a new pass. */
	if (gen == authz_known_gen() && registry_recheck_verdict(j->name, j->right, (int)kind)) {
		dropped++;
		if (j->who.has_hash)
			crypto_hash_format(j->who.hash, hash);
		log_throttled(&audit_lt, "audit: recheck '%s' uid %u pid %u exe %s unit %s: dropped, rule %s: %s",
		    j->name, j->who.uid, j->who.pid, hash, j->who.unit[0] ? j->who.unit : "-", rule[0] ? rule : "-",
		    reason);
	}
	settle(j);
}

void
recheck_reply(struct mx_msg *m)
{
	struct ns_ident who;
	struct job *j;
	int64_t cookie;
	int r;

	if (m->msgid == NS_WHO_HOLDS) {
		if ((r = ns_who_holds_answer(m, &cookie, &who)) == -MX_ERR_PROTO)
			fatalx("malformed identity from portd");	/* between portd and us: a bug */
		if ((j = job_of(cookie)) == NULL)
			return;
		if (r < 0) {
			/*
			 * No task holds it now (in transit, gone): left as it is.
			 * A holder with no binary identity (over the hash limit,
			 * or its uid's hash budget spent: a squatter can spend its
			 * own) is judged as such, as at registration.
			 */
			unchecked++;
			settle(j);
		} else {
			j->who = who;
			ask_keysrv(j);
		}
	} else if (m->msgid == MX_MSGID_NO_REPLY) {
		pass_end("keysrv went away");	/* our questions died with it */
		return;
	} else if (m->msgid == MX_MSGID_REPLY) {
		verdict(m);
	}
	launch();
}

void
recheck_free(void)
{
	jobs_free(jobs, njobs);
	jobs_free(queued, nqueued);
	jobs = queued = NULL;
	njobs = nqueued = 0;
}
