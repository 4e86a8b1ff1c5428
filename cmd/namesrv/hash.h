/*
 * hash.h — namesrv's tables: an intrusive chained hash table keyed by a
 * SipHash of the key under a random key, so names a client picks cannot be
 * made to collide on purpose. The table grows and shrinks with its load.
 */
#ifndef NAMESRV_HASH_H
#define NAMESRV_HASH_H

#include <stddef.h>
#include <stdint.h>

struct hnode {
	struct hnode *next, **pprev;
	uint64_t h;
};

struct htab {
	struct hnode **b;
	size_t mask;		/* buckets - 1; 0 with no buckets yet */
	size_t n;
};

void hash_seed(void);				/* once, before any hash */
uint64_t hash_bytes(const void *p, size_t n);
uint64_t hash_str(const char *s);
uint64_t hash_u32(uint32_t v);

void htab_add(struct htab *t, struct hnode *n, uint64_t h);
void htab_del(struct htab *t, struct hnode *n);
/* The first node of hash h, then the next one of the same hash; NULL at the end. */
struct hnode *htab_first(const struct htab *t, uint64_t h);
struct hnode *htab_next(const struct hnode *n);
void htab_free(struct htab *t);

#define hnode_entry(p, type, member) ((type *)(void *)((char *)(p) - offsetof(type, member)))

#endif
