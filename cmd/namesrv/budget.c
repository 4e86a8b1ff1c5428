/*
 * budget.c — what each uid makes namesrv hold: names it registered and
 * lookups it keeps waiting. One record per uid holding anything, found by
 * hash, freed when it holds nothing; so the cost is O(1) per request.
 * Root, namesrv's own uid and portd's trusted uid are not limited: they
 * run the node's services, and no other user's use can take their room.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "log.h"
#include "namesrv.h"

struct account {
	struct hnode node;
	uint32_t uid;
	uint32_t held[2];		/* by enum budget_kind */
	struct log_throttle lt;		/* "over budget" lines: one per interval */
	char what[40];
};

static struct budget_conf conf = { .names = 1024, .lookups = 1024, .cached = 4096 };
static struct htab accounts;
static const char *const kind_name[2] = { "names", "waiting lookups" };
/*
 * Over all uids, on top of each one's line per interval: a record goes
 * with the last object its uid holds, and its throttle with it, so a uid
 * that holds nothing (a budget of 0) or empties its budget between
 * refusals would get a fresh throttle each time.
 */
static struct log_throttle lt_all = LOG_THROTTLE_INIT("over budget", LOG_WARNING);

void
budget_init(const struct budget_conf *bc)
{
	conf = *bc;
}

static int
unlimited(uint32_t uid)
{
	return uid == 0 || uid == (uint32_t)geteuid() || (conf.has_trusted_uid && uid == conf.trusted_uid);
}

static struct account *
find(uint32_t uid)
{
	struct hnode *n;

	for (n = htab_first(&accounts, hash_u32(uid)); n != NULL; n = htab_next(n)) {
		struct account *a = hnode_entry(n, struct account, node);
		if (a->uid == uid)
			return a;
	}
	return NULL;
}

int
budget_take(uint32_t uid, uint32_t pid, enum budget_kind kind, char *why, size_t whysz)
{
	uint32_t max = kind == BUDGET_NAMES ? conf.names : conf.lookups;
	struct account *a;

	if (unlimited(uid))
		return 0;
	if ((a = find(uid)) == NULL) {
		if ((a = calloc(1, sizeof(*a))) == NULL)
			fatalx("out of memory");
		a->uid = uid;
		snprintf(a->what, sizeof(a->what), "over budget: uid %u", uid);
		a->lt = (struct log_throttle)LOG_THROTTLE_INIT(a->what, LOG_WARNING);
		a->lt.burst = 1;
		htab_add(&accounts, &a->node, hash_u32(uid));
	}
	if (a->held[kind] >= max) {
		snprintf(why, whysz, "over budget: uid %u %s %u", uid, kind_name[kind], max);
		if (log_throttle(&lt_all, "over budget"))
			log_throttled(&a->lt, "%s (pid %u refused)", why, pid);
		if (a->held[0] == 0 && a->held[1] == 0)
			budget_give(uid, kind);	/* a budget of 0: nothing held, no record */
		return -MX_ERR_BUDGET;
	}
	a->held[kind]++;
	return 0;
}

void
budget_give(uint32_t uid, enum budget_kind kind)
{
	struct account *a;

	if (unlimited(uid) || (a = find(uid)) == NULL)
		return;
	if (a->held[kind] > 0)
		a->held[kind]--;
	if (a->held[0] == 0 && a->held[1] == 0) {
		log_throttle_forget(&a->lt);
		htab_del(&accounts, &a->node);
		free(a);
	}
}

/*
 * Answers cached from other nodes, counted per node: a member node that
 * announces names without end fills its own share, not namesrv's memory,
 * and other nodes' answers are still cached.
 */
struct node_account {
	struct hnode node;
	uint32_t held;
	char name[MX_NODE_MAX + 1];
};

static struct htab node_accounts;
static struct log_throttle lt_node = LOG_THROTTLE_INIT("over budget: node", LOG_WARNING);

static struct node_account *
node_find(const char *node)
{
	struct hnode *n;

	for (n = htab_first(&node_accounts, hash_bytes(node, strlen(node))); n != NULL; n = htab_next(n)) {
		struct node_account *a = hnode_entry(n, struct node_account, node);
		if (strcmp(a->name, node) == 0)
			return a;
	}
	return NULL;
}

int
budget_node_take(const char *node)
{
	struct node_account *a = node_find(node);
	size_t len = strlen(node);

	if (len > MX_NODE_MAX)
		return -MX_ERR_INVAL;
	if (a != NULL && a->held >= conf.cached) {
		log_throttled(&lt_node, "over budget: node %s cached names %u", node, conf.cached);
		return -MX_ERR_BUDGET;
	}
	if (a == NULL) {
		if (conf.cached == 0) {
			log_throttled(&lt_node, "over budget: node %s cached names 0", node);
			return -MX_ERR_BUDGET;
		}
		if ((a = calloc(1, sizeof(*a))) == NULL)
			fatalx("out of memory");
		memcpy(a->name, node, len + 1);
		htab_add(&node_accounts, &a->node, hash_bytes(node, len));
	}
	a->held++;
	return 0;
}

void
budget_node_give(const char *node)
{
	struct node_account *a = node_find(node);

	if (a == NULL)
		return;
	if (a->held > 0)
		a->held--;
	if (a->held == 0) {
		htab_del(&node_accounts, &a->node);
		free(a);
	}
}
