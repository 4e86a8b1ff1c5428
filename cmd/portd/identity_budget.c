/*
 * identity_budget.c — how many bytes of binaries portd hashes for each
 * uid. Hashing runs in portd's event loop (about 2 GB/s), and any local
 * user can make portd hash a new file by registering a name from a fresh
 * copy of a binary (a sparse one costs it no disk). So each uid has a
 * bucket: it holds exe_hash_max bytes (one binary of the largest size
 * hashed) and refills at an eighth of that per second. A uid over it gets
 * no binary identity for that request, with the time to wait; others are
 * not slowed beyond one binary's hashing.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include "ev.h"
#include "identity.h"

#define BUDGET_UIDS	256	/* uids tracked; an idle bucket (full) is reused for another */
#define REFILL_DIV	8	/* the bucket refills in 8 s */

struct bucket {
	uid_t uid;
	int used;
	uint64_t bytes;		/* what may be hashed now */
	uint64_t stamp;		/* ms: bytes was computed then */
};

static struct bucket buckets[BUDGET_UIDS];
static struct bucket shared;	/* every uid past BUDGET_UIDS busy ones: they share it */

static void
refill(struct bucket *b, uint64_t cap, uint64_t now)
{
	uint64_t add = (now - b->stamp) * (cap / REFILL_DIV) / 1000;

	b->bytes = b->bytes + add > cap ? cap : b->bytes + add;
	b->stamp = now;
}

static struct bucket *
bucket_of(uid_t uid, uint64_t cap, uint64_t now)
{
	struct bucket *b, *idle = NULL;
	size_t i;

	for (i = 0; i < BUDGET_UIDS; i++) {
		b = &buckets[i];
		if (b->used && b->uid == uid)
			return b;
		if (idle == NULL) {
			if (b->used)
				refill(b, cap, now);
			if (!b->used || b->bytes == cap)
				idle = b;	/* as good as new: nothing of its uid's is owed */
		}
	}
	if (idle == NULL) {
		if (shared.stamp == 0)
			shared = (struct bucket){ 0, 1, cap, now };
		return &shared;
	}
	*idle = (struct bucket){ uid, 1, cap, now };
	return idle;
}

int
identity_budget_take(uid_t uid, uint64_t size, uint64_t cap, char *why, size_t whysz)
{
	uint64_t now = ev_now();
	struct bucket *b = bucket_of(uid, cap, now);

	refill(b, cap, now);
	if (size <= b->bytes) {
		b->bytes -= size;
		return 0;
	}
	snprintf(why, whysz, "uid %u had %llu MiB of binaries hashed lately: its hash budget is back in %llu s",
	    (unsigned)uid, (unsigned long long)(cap >> 20),
	    (unsigned long long)((size - b->bytes) * 1000 / (cap / REFILL_DIV) / 1000 + 1));
	return -1;
}
