/*
 * node_vouch.c — a service name from another node is believed only as far
 * as this node's own copy of the admin's signed list allows it. The sending
 * node vouches for its task's identity (uid, binary hash, unit: rmsg.h,
 * RMSGF_VOUCH); a member node may lie about its own tasks, but it cannot
 * make this node stamp a service the list does not give that identity.
 *
 * The list is STATE_DIR/signatures.list, verified with ca.crt's key, read
 * at start and on SIGHUP (a refused list leaves the previous one in force,
 * as in keysrv). The verdicts are cached per (service, uid, hash, unit) and
 * list generation, so the message path does a few compares, no syscall
 * and no allocation. The verdict does not depend on which node vouches:
 * the list names identities, not nodes.
 */
#include <stdio.h>
#include <string.h>
#include "crypto.h"
#include "node_int.h"

#define VOUCH_CACHE	64	/* verdicts kept, direct-mapped; a miss costs one pass over the list */

struct verdict {
	uint64_t gen;		/* list generation it was decided under; 0: empty slot */
	uint32_t uid;
	int has_hash, allow;
	uint8_t hash[RMSG_HASH_LEN];
	char service[MX_SERVICE_MAX + 1];
	char unit[RMSG_UNIT_MAX + 1];
};

static struct {
	struct siglist *list;	/* NULL: none loaded, no service from another node is believed */
	uint64_t gen;		/* bumped at each list loaded */
	char why[CRYPTO_WHY_MAX + 32];	/* list NULL: why */
	struct verdict cache[VOUCH_CACHE];
} V;

static int
path_of(char *out, size_t outsz, const char *file, char *why, size_t whysz)
{
	int k = snprintf(out, outsz, "%s/%s", node_peers.conf->state_dir, file);

	if (k < 0 || (size_t)k >= outsz)
		return crypto_fail(why, whysz, -1, "%s/%s: path too long", node_peers.conf->state_dir, file);
	return 0;
}

void
node_vouch_load(void)
{
	char lpath[512], spath[512], capath[512], why[CRYPTO_WHY_MAX];
	struct siglist *l = NULL;
	X509 *ca = NULL;
	size_t i, rules = 0;
	int r;

	if ((r = path_of(capath, sizeof(capath), "ca.crt", why, sizeof(why))) == 0 &&
	    (r = path_of(lpath, sizeof(lpath), "signatures.list", why, sizeof(why))) == 0 &&
	    (r = path_of(spath, sizeof(spath), "signatures.list.sig", why, sizeof(why))) == 0 &&
	    (r = crypto_cert_load(capath, &ca, why, sizeof(why))) == 0)
		r = siglist_load(lpath, spath, X509_get0_pubkey(ca), &l, why, sizeof(why));
	X509_free(ca);
	if (r == 0) {
		for (i = 0; i < l->n; i++)
			rules += l->ent[i].line == NULL;
		siglist_free(V.list);
		V.list = l;
		V.gen++;	/* every cached verdict is of an older list now */
		log_info("%s: signature verified, %zu rule%s: services from other nodes are checked against it",
		    lpath, rules, rules == 1 ? "" : "s");
		return;
	}
	if (V.list != NULL) {
		log_warnx("%s: refused, the previous signature list stays in force", why);
		return;
	}
	snprintf(V.why, sizeof(V.why), "no signature list (%s)", why);
	log_info("%s: no service from another node is believed", V.why);
}

void
node_vouch_free(void)
{
	siglist_free(V.list);
	V.list = NULL;
}

/* A cheap spread of the key over the slots: the hash bytes are random already. */
static size_t
slot_of(const struct mx_trailer *tr, const struct rvouch *v)
{
	uint32_t k = get_u32(v->hash) ^ tr->uid;
	const char *s;

	for (s = tr->service; *s != '\0'; s++)
		k = (k ^ (uint8_t)*s) * 16777619u;
	return k % VOUCH_CACHE;
}

static void
decide(const struct mx_trailer *tr, const struct rvouch *v, struct siglist_verdict *out)
{
	struct siglist_who w = { v->has_hash, { 0 }, (uid_t)tr->uid, v->unit };

	memcpy(w.hash, v->hash, sizeof(w.hash));
	siglist_decide(V.list, &w, tr->service, 0, out);
}

/* The audit line of a refused claim: why, from the list (only when the throttle lets it out). */
static void
audit(const struct rnode *rn, const struct mx_trailer *tr, const struct rvouch *v)
{
	static struct log_throttle thr;
	char hash[CRYPTO_HASH_STRLEN + 1];
	struct siglist_verdict *vd;
	static struct siglist_verdict verdict;	/* large: kept off the stack */
	const char *why;

	if (!log_throttle(&thr, "node: services not vouched for"))
		return;
	vd = &verdict;
	if (V.list == NULL) {
		why = V.why;
	} else {
		decide(tr, v, vd);
		if (vd->kind == SIGLIST_OPEN)
			why = "no rule of the signature list covers it";
		else
			why = vd->why;
	}
	if (v->has_hash)
		crypto_hash_format(v->hash, hash);
	else
		snprintf(hash, sizeof(hash), "no hashed binary");
	log_warnx("node %s: audit: service '%s' claimed for uid %u running %s unit %s: not vouched for: %s", rn->name,
	    tr->service, tr->uid, hash, v->unit[0] != '\0' ? v->unit : "-", why);
}

int
node_vouch_check(const struct rnode *rn, const struct mx_trailer *tr, const struct rvouch *v)
{
	static struct siglist_verdict vd;	/* large: kept off the stack */
	struct verdict *c;

	if (V.list == NULL) {
		audit(rn, tr, v);
		return 0;
	}
	c = &V.cache[slot_of(tr, v)];
	if (c->gen != V.gen || c->uid != tr->uid || c->has_hash != v->has_hash ||
	    memcmp(c->hash, v->hash, sizeof(c->hash)) != 0 || strcmp(c->service, tr->service) != 0 ||
	    strcmp(c->unit, v->unit) != 0) {
		/* Only a rule that admits this identity for this name vouches: an open name is no service. */
		decide(tr, v, &vd);
		c->gen = V.gen;
		c->uid = tr->uid;
		c->has_hash = v->has_hash;
		c->allow = vd.kind == SIGLIST_ALLOW;
		memcpy(c->hash, v->hash, sizeof(c->hash));
		memcpy(c->service, tr->service, sizeof(c->service));
		memcpy(c->unit, v->unit, sizeof(c->unit));
	}
	if (!c->allow)
		audit(rn, tr, v);
	return c->allow;
}
