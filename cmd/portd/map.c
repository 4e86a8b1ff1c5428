/* map.c — open addressing with linear probing; tombstones keep chains intact. */
#include <stdlib.h>
#include "map.h"

static char tombstone;
#define TOMB ((void *)&tombstone)

static size_t
hash(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return (size_t)k;
}

void *
map_get(const struct map *m, uint64_t key)
{
	size_t i;

	if (m->cap == 0)
		return NULL;
	for (i = hash(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		struct map_slot *s = &m->slots[i];
		if (s->val == NULL)
			return NULL;
		if (s->val != TOMB && s->key == key)
			return s->val;
	}
}

static int
grow(struct map *m)
{
	struct map old = *m;
	size_t i, cap = m->cap ? m->cap * 2 : 16;

	if (m->count * 2 < m->cap)
		cap = m->cap;	/* mostly tombstones: rehash at the same size */
	if ((m->slots = calloc(cap, sizeof(*m->slots))) == NULL) {
		*m = old;
		return -1;
	}
	m->cap = cap;
	m->count = m->used = 0;
	for (i = 0; i < old.cap; i++)
		if (old.slots[i].val != NULL && old.slots[i].val != TOMB)
			map_put(m, old.slots[i].key, old.slots[i].val);
	free(old.slots);
	return 0;
}

int
map_put(struct map *m, uint64_t key, void *val)
{
	size_t i;
	struct map_slot *tomb = NULL;

	if ((m->used + 1) * 4 >= m->cap * 3 && grow(m) < 0)
		return -1;
	for (i = hash(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		struct map_slot *s = &m->slots[i];
		if (s->val == NULL) {
			if (tomb == NULL) {
				tomb = s;
				m->used++;
			}
			break;
		}
		if (s->val == TOMB) {
			if (tomb == NULL)
				tomb = s;
			continue;
		}
		if (s->key == key) {
			s->val = val;
			return 0;
		}
	}
	tomb->key = key;
	tomb->val = val;
	m->count++;
	return 0;
}

void *
map_del(struct map *m, uint64_t key)
{
	size_t i;

	if (m->cap == 0)
		return NULL;
	for (i = hash(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		struct map_slot *s = &m->slots[i];
		void *v;
		if (s->val == NULL)
			return NULL;
		if (s->val != TOMB && s->key == key) {
			v = s->val;
			s->val = TOMB;
			m->count--;
			return v;
		}
	}
}

int
map_iter(const struct map *m, size_t *i, uint64_t *key, void **val)
{
	for (; *i < m->cap; (*i)++) {
		struct map_slot *s = &m->slots[*i];
		if (s->val != NULL && s->val != TOMB) {
			*key = s->key;
			*val = s->val;
			(*i)++;
			return 1;
		}
	}
	return 0;
}

void
map_free(struct map *m)
{
	free(m->slots);
	m->slots = NULL;
	m->cap = m->count = m->used = 0;
}
