/* map.h — a hash map from 64-bit keys to pointers (names, port ids). */
#ifndef PORTD_MAP_H
#define PORTD_MAP_H

#include <stddef.h>
#include <stdint.h>

struct map_slot { uint64_t key; void *val; };	/* val NULL: empty */

struct map {
	struct map_slot *slots;
	size_t cap, count, used;	/* used counts tombstones too */
};

void *map_get(const struct map *m, uint64_t key);
int map_put(struct map *m, uint64_t key, void *val);	/* 0, or -1 out of memory */
void *map_del(struct map *m, uint64_t key);
void map_free(struct map *m);
/* Iterate: for (i = 0; map_iter(m, &i, &k, &v); ) */
int map_iter(const struct map *m, size_t *i, uint64_t *key, void **val);

#endif
