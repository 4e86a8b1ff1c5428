/*
 * waiters.c — lookups waiting for a name: found by name through a hash
 * table, by their reply right through another (its client gone, a lookup
 * ends at once), and by deadline through a binary min-heap, so that
 * registering a name, expiring lookups and computing the next timeout cost
 * O(log n).
 */
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "namesrv.h"

static struct htab by_name, by_reply;
static struct waiter **heap;
static size_t nheap, heapcap;

static void
heap_set(size_t i, struct waiter *w)
{
	heap[i] = w;
	w->heap_at = i;
}

static void
sift_up(size_t i)
{
	struct waiter *w = heap[i];

	while (i > 0 && heap[(i - 1) / 2]->deadline > w->deadline) {
		heap_set(i, heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_set(i, w);
}

static void
sift_down(size_t i)
{
	struct waiter *w = heap[i];
	size_t c;

	while ((c = 2 * i + 1) < nheap) {
		if (c + 1 < nheap && heap[c + 1]->deadline < heap[c]->deadline)
			c++;
		if (heap[c]->deadline >= w->deadline)
			break;
		heap_set(i, heap[c]);
		i = c;
	}
	heap_set(i, w);
}

static void
heap_remove(struct waiter *w)
{
	size_t i = w->heap_at;

	if (--nheap > i) {
		heap_set(i, heap[nheap]);
		sift_down(i);
		sift_up(i);
	}
	/* Give memory back once most of it is unused. */
	if (heapcap > 64 && nheap < heapcap / 8) {
		heapcap /= 4;
		if ((heap = realloc(heap, heapcap * sizeof(*heap))) == NULL)
			fatalx("out of memory");
	}
}

void
waiter_put_back(struct waiter *w)
{
	if (nheap == heapcap) {
		heapcap = heapcap ? heapcap * 2 : 64;
		if ((heap = realloc(heap, heapcap * sizeof(*heap))) == NULL)
			fatalx("out of memory");
	}
	htab_add(&by_name, &w->by_name, hash_str(w->name));
	htab_add(&by_reply, &w->by_reply, hash_u32(w->req->reply));
	heap_set(nheap, w);
	sift_up(nheap++);
}

struct waiter *
waiter_add(const char *name, const char *node, struct mx_msg *req, uint64_t deadline)
{
	size_t len = strlen(name), nlen = strlen(node);
	struct waiter *w;

	if ((w = calloc(1, sizeof(*w) + len + 1 + nlen + 1)) == NULL)
		fatalx("out of memory");
	memcpy(w->name, name, len + 1);
	memcpy(w->name + len + 1, node, nlen + 1);
	w->node = w->name + len + 1;
	w->req = req;
	w->uid = req->trailer.uid;
	w->deadline = deadline;
	waiter_put_back(w);
	return w;
}

static void
take(struct waiter *w)
{
	htab_del(&by_name, &w->by_name);
	htab_del(&by_reply, &w->by_reply);
	heap_remove(w);
}

struct waiter *
waiter_take(const char *name)
{
	struct hnode *n;

	for (n = htab_first(&by_name, hash_str(name)); n != NULL; n = htab_next(n)) {
		struct waiter *w = hnode_entry(n, struct waiter, by_name);
		if (strcmp(w->name, name) == 0) {
			take(w);
			return w;
		}
	}
	return NULL;
}

struct waiter *
waiter_take_reply(mx_name_t reply)
{
	struct hnode *n;

	for (n = htab_first(&by_reply, hash_u32(reply)); n != NULL; n = htab_next(n)) {
		struct waiter *w = hnode_entry(n, struct waiter, by_reply);
		if (w->req->reply == reply) {
			take(w);
			return w;
		}
	}
	return NULL;
}

struct waiter *
waiter_take_expired(uint64_t now)
{
	struct waiter *w;

	if (nheap == 0 || heap[0]->deadline > now)
		return NULL;
	w = heap[0];
	take(w);
	return w;
}

uint64_t
waiter_next_deadline(void)
{
	return nheap == 0 ? UINT64_MAX : heap[0]->deadline;
}


/* At exit, once every waiter is taken. */
void
waiters_free(void)
{
	htab_free(&by_name);
	htab_free(&by_reply);
	free(heap);
	heap = NULL;
	nheap = heapcap = 0;
}
