/*
 * identity_cache.c — hashes of binaries, kept per file version: device,
 * inode, size, mtime and ctime. Any write to the file changes its ctime,
 * so a changed binary is hashed again. A small fixed table, oldest entry
 * replaced first: a node runs few distinct servers.
 */
#include <string.h>
#include "identity.h"

#define CACHE_SLOTS 128

struct cached {
	int used;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
	uint8_t hash[IDENT_HASH_LEN];
};

static struct cached cache[CACHE_SLOTS];
static unsigned next_slot;

static int
same_version(const struct cached *c, const struct stat *st)
{
	return c->used && c->dev == st->st_dev && c->ino == st->st_ino && c->size == st->st_size &&
	    c->mtime.tv_sec == st->st_mtim.tv_sec && c->mtime.tv_nsec == st->st_mtim.tv_nsec &&
	    c->ctime.tv_sec == st->st_ctim.tv_sec && c->ctime.tv_nsec == st->st_ctim.tv_nsec;
}

int
identity_cache_lookup(const struct stat *st, uint8_t out[IDENT_HASH_LEN])
{
	unsigned i;

	for (i = 0; i < CACHE_SLOTS; i++)
		if (same_version(&cache[i], st)) {
			memcpy(out, cache[i].hash, IDENT_HASH_LEN);
			return 1;
		}
	return 0;
}

void
identity_cache_store(const struct stat *st, const uint8_t h[IDENT_HASH_LEN])
{
	struct cached *c = NULL;
	unsigned i;

	/* The same file, older version: replace it in place. */
	for (i = 0; i < CACHE_SLOTS && c == NULL; i++)
		if (cache[i].used && cache[i].dev == st->st_dev && cache[i].ino == st->st_ino)
			c = &cache[i];
	if (c == NULL) {
		c = &cache[next_slot];
		next_slot = (next_slot + 1) % CACHE_SLOTS;
	}
	c->used = 1;
	c->dev = st->st_dev;
	c->ino = st->st_ino;
	c->size = st->st_size;
	c->mtime = st->st_mtim;
	c->ctime = st->st_ctim;
	memcpy(c->hash, h, IDENT_HASH_LEN);
}

void
identity_cache_free(void)
{
	memset(cache, 0, sizeof(cache));
	next_slot = 0;
}
