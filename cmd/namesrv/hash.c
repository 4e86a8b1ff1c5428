/* hash.c — SipHash-2-4 and the intrusive hash table of hash.h. */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include "hash.h"
#include "log.h"

#define HTAB_MIN	16

static uint64_t key[2];

void
hash_seed(void)
{
	if (getrandom(key, sizeof(key), 0) != sizeof(key))
		fatal("getrandom");
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND do {							\
	v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);	\
	v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;				\
	v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;				\
	v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);	\
} while (0)

uint64_t
hash_bytes(const void *p, size_t n)
{
	const uint8_t *in = p;
	uint64_t v0 = key[0] ^ 0x736f6d6570736575ull, v1 = key[1] ^ 0x646f72616e646f6dull;
	uint64_t v2 = key[0] ^ 0x6c7967656e657261ull, v3 = key[1] ^ 0x7465646279746573ull;
	uint64_t m, b = (uint64_t)n << 56;
	size_t i, left = n & 7;

	for (i = 0; i + 8 <= n; i += 8) {
		memcpy(&m, in + i, 8);	/* little-endian hosts; elsewhere still a keyed hash */
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	for (m = 0; left > 0; left--)
		m |= (uint64_t)in[i + left - 1] << (8 * (left - 1));
	b |= m;
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t hash_str(const char *s) { return hash_bytes(s, strlen(s)); }
uint64_t hash_u32(uint32_t v) { return hash_bytes(&v, sizeof(v)); }

static void
link_in(struct hnode **b, struct hnode *n)
{
	n->next = *b;
	if (*b != NULL)
		(*b)->pprev = &n->next;
	*b = n;
	n->pprev = b;
}

static void
resize(struct htab *t, size_t nb)
{
	struct hnode **b, *n, *next;
	size_t i;

	if ((b = calloc(nb, sizeof(*b))) == NULL)
		fatalx("out of memory");
	for (i = 0; t->b != NULL && i <= t->mask; i++)
		for (n = t->b[i]; n != NULL; n = next) {
			next = n->next;
			link_in(&b[n->h & (nb - 1)], n);
		}
	free(t->b);
	t->b = b;
	t->mask = nb - 1;
}

void
htab_add(struct htab *t, struct hnode *n, uint64_t h)
{
	if (t->b == NULL)
		resize(t, HTAB_MIN);
	else if (t->n >= t->mask + 1)
		resize(t, (t->mask + 1) * 2);
	n->h = h;
	link_in(&t->b[h & t->mask], n);
	t->n++;
}

void
htab_del(struct htab *t, struct hnode *n)
{
	*n->pprev = n->next;
	if (n->next != NULL)
		n->next->pprev = n->pprev;
	n->next = NULL;
	n->pprev = NULL;
	t->n--;
	/* Give memory back once most of it is unused (an attacker's names gone). */
	if (t->mask + 1 > HTAB_MIN && t->n < (t->mask + 1) / 8) {
		resize(t, (t->mask + 1) / 4);
		malloc_trim(0);	/* the freed entries too, not only the top of the heap */
	}
}

static struct hnode *
same_hash(struct hnode *n, uint64_t h)
{
	while (n != NULL && n->h != h)
		n = n->next;
	return n;
}

struct hnode *
htab_first(const struct htab *t, uint64_t h)
{
	return t->b == NULL ? NULL : same_hash(t->b[h & t->mask], h);
}

struct hnode *
htab_next(const struct hnode *n)
{
	return same_hash(n->next, n->h);
}

void
htab_free(struct htab *t)
{
	free(t->b);
	t->b = NULL;
	t->mask = 0;
	t->n = 0;
}
