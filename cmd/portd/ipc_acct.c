/*
 * ipc_acct.c — what each uid makes portd hold, against its budgets.
 *
 * The rule: whoever makes portd hold something pays for it while it is
 * held — a message's bytes are the sender's until the message is freed
 * (queued, blocked or being written out), an input buffer is its task's,
 * a name or a dead-name request is its holder's. Charging the sender,
 * not the receiver, means a flood costs the flooder and nobody else; a
 * receiver that never reads only stops its senders' messages from moving
 * (its output queue is bounded). Each record rides with what it paid for
 * (kmsg->acct, space->acct), so a charge is a few additions: O(1).
 */
#include <stdio.h>
#include <stdlib.h>
#include "ipc_int.h"
#include "log.h"

#define LOG_INTERVAL_MS	10000	/* one "over budget" line per uid and budget per interval */
#define TASK_RESERVE	16	/* connections only root and the trusted uid may take */

struct map ipc_accts;		/* uid + 1 -> struct ipc_acct, kept for portd's life (one per user) */
static uint64_t totals[ACCT__MAX];
static char why[128];

static const char *const what_name[ACCT__MAX] = { "queued bytes", "rights", "connections" };

struct ipc_acct *
ipc_acct_get(uid_t uid)
{
	struct ipc_acct *a = map_get(&ipc_accts, (uint64_t)uid + 1);

	if (a != NULL)
		return a;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		fatal("acct");
	a->uid = uid;
	/* The node's owners, as for the special ports: namesrv and keysrv run as one of them. */
	a->exempt = uid == 0 || uid == ipc_env.conf.owner_uid ||
	    (ipc_env.conf.has_trusted_uid && uid == ipc_env.conf.trusted_uid);
	if (map_put(&ipc_accts, (uint64_t)uid + 1, a) < 0)
		fatal("acct");
	return a;
}

/* The line, and the log once per interval per uid and budget. */
static void
say(struct ipc_acct *a, int slot)
{
	uint64_t now = ev_now();

	if (a->logged[slot] == 0 || now - a->logged[slot] >= LOG_INTERVAL_MS) {
		a->logged[slot] = now ? now : 1;
		log_warnx("%s", why);
	}
}

void
ipc_acct_refuse_names(struct ipc_acct *a)
{
	snprintf(why, sizeof(why), "over budget: uid %u names per task %u", (unsigned)a->uid,
	    (unsigned)ipc_env.conf.max_names);
	say(a, ACCT__MAX);
}

static void
refuse(struct ipc_acct *a, int what)
{
	uint64_t b = ipc_env.conf.budget[what];

	if (what == ACCT_BYTES && b % (1u << 20) == 0)
		snprintf(why, sizeof(why), "over budget: uid %u %s %llu MiB", (unsigned)a->uid, what_name[what],
		    (unsigned long long)(b >> 20));
	else
		snprintf(why, sizeof(why), "over budget: uid %u %s %llu", (unsigned)a->uid, what_name[what],
		    (unsigned long long)b);
	say(a, what);
}

int
ipc_acct_charge(struct ipc_acct *a, int what, uint64_t n)
{
	if (!a->exempt && a->held[what] + n > ipc_env.conf.budget[what]) {
		refuse(a, what);
		return -MX_ERR_BUDGET;
	}
	ipc_acct_force(a, what, n);
	return 0;
}

void
ipc_acct_force(struct ipc_acct *a, int what, uint64_t n)
{
	a->held[what] += n;
	totals[what] += n;
}

void
ipc_acct_uncharge(struct ipc_acct *a, int what, uint64_t n)
{
	if (a->held[what] < n)
		fatalx("uid %u: %s uncharged below zero", (unsigned)a->uid, what_name[what]);
	a->held[what] -= n;
	totals[what] -= n;
}

/*
 * A new connection of uid: within its budget, and the last TASK_RESERVE
 * slots of max_tasks kept for root and the trusted uid, so the NAME and
 * KEY services can always come back however many idle connections others
 * hold. The connection is charged by ipc_space_init.
 */
int
ipc_acct_admit(uid_t uid, uint32_t ntasks, uint32_t max_tasks)
{
	struct ipc_acct *a = ipc_acct_get(uid);
	uint32_t reserve = max_tasks > 2 * TASK_RESERVE ? TASK_RESERVE : 0;

	if (ntasks >= max_tasks || (!a->exempt && ntasks >= max_tasks - reserve)) {
		snprintf(why, sizeof(why), "over budget: uid %u refused, %u tasks already (max_tasks %u)",
		    (unsigned)uid, (unsigned)ntasks, (unsigned)max_tasks);
		say(a, ACCT_CONNS);
		return -MX_ERR_BUDGET;
	}
	if (!a->exempt && a->held[ACCT_CONNS] + 1 > ipc_env.conf.budget[ACCT_CONNS]) {
		refuse(a, ACCT_CONNS);
		return -MX_ERR_BUDGET;
	}
	return 0;
}

const char *
ipc_acct_why(void)
{
	return why;
}

uint64_t
ipc_acct_total(int what)
{
	return totals[what];
}

/*
 * Records of the layer above kept in the table under keys past every
 * uid's (another node's messages, charged to that node): the checks
 * count their bytes with the uids'.
 */
void
ipc_acct_track(struct ipc_acct *a, uint64_t key)
{
	if (map_put(&ipc_accts, key + (1ull << 32), a) < 0)
		fatal("acct");
}

void
ipc_acct_untrack(uint64_t key)
{
	map_del(&ipc_accts, key + (1ull << 32));
}
