/*
 * link_frame.c — frames on a node link: the 8-byte header, the output queue
 * (frames copied into chunks of LINK_CHUNK bytes, so a large body costs its
 * size and a small one shares a chunk, and one SSL_write carries many), and
 * the input buffer (read in batches, sized for the frame in progress only
 * after its length was checked against LINK_FRAME_MAX).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include "link.h"
#include "wire.h"

struct link_chunk {
	struct link_chunk *next;
	size_t len, off;		/* bytes in data; bytes already written */
	uint8_t data[LINK_CHUNK];
};

static struct link_chunk *spare;	/* one chunk kept for reuse */

void
link_frame_hdr(uint8_t h[LINK_HDR], uint8_t type, uint32_t len)
{
	put_u32(h, len);
	h[4] = type;
	h[5] = LINK_VERSION;
	h[6] = 0;
	h[7] = 0;
}

static struct link_chunk *
chunk_new(void)
{
	struct link_chunk *c = spare;

	if (c != NULL)
		spare = NULL;
	else if ((c = malloc(sizeof(*c))) == NULL)
		return NULL;
	c->next = NULL;
	c->len = c->off = 0;
	return c;
}

static void
chunk_free(struct link_chunk *c)
{
	if (spare == NULL)
		spare = c;
	else
		free(c);
}

int
link_outq_put(struct link_outq *q, const void *p, size_t n)
{
	const uint8_t *s = p;

	while (n > 0) {
		struct link_chunk *c = q->tail;
		size_t k;

		if (c == NULL || c->len == LINK_CHUNK) {
			if ((c = chunk_new()) == NULL)
				return -1;
			if (q->tail != NULL)
				q->tail->next = c;
			else
				q->head = c;
			q->tail = c;
		}
		k = LINK_CHUNK - c->len;
		if (k > n)
			k = n;
		memcpy(c->data + c->len, s, k);
		c->len += k;
		q->bytes += k;
		s += k;
		n -= k;
	}
	return 0;
}

void
link_outq_clear(struct link_outq *q)
{
	struct link_chunk *c, *next;

	for (c = q->head; c != NULL; c = next) {
		next = c->next;
		chunk_free(c);
	}
	q->head = q->tail = NULL;
	q->bytes = 0;
}

int
link_outq_flush(struct link_outq *q, SSL *ssl, int *ssl_err, char *why, size_t whysz)
{
	char ebuf[160];

	/*
	 * The tail chunk may grow between a blocked SSL_write and its retry:
	 * the retry then passes the same bytes and more, which partial-write
	 * mode with a moving buffer accepts.
	 */
	while (q->head != NULL) {
		struct link_chunk *c = q->head;
		int r, e;

		ERR_clear_error();
		r = SSL_write(ssl, c->data + c->off, (int)(c->len - c->off));
		if (r <= 0) {
			e = SSL_get_error(ssl, r);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
				*ssl_err = e;
				return 0;
			}
			snprintf(why, whysz, "write: %s", link_tls_err(ebuf, sizeof(ebuf)));
			return -1;
		}
		c->off += (size_t)r;
		q->bytes -= (size_t)r;
		if (c->off == c->len) {
			q->head = c->next;
			if (q->head == NULL)
				q->tail = NULL;
			chunk_free(c);
		}
	}
	return 1;
}

int
link_frame_next(const struct link_inbuf *b, size_t *off, uint8_t *type,
    const uint8_t **body, uint32_t *len, char *why, size_t whysz)
{
	const uint8_t *h = b->p + *off;
	size_t have = b->len - *off;
	uint32_t n;

	if (have < LINK_HDR)
		return 0;
	n = get_u32(h);
	if (h[5] != LINK_VERSION) {
		snprintf(why, whysz, "malformed frame: version %u, expected %u", h[5], LINK_VERSION);
		return -1;
	}
	if (h[6] != 0 || h[7] != 0) {
		snprintf(why, whysz, "malformed frame: reserved header bytes not zero");
		return -1;
	}
	if (n > LINK_FRAME_MAX) {
		snprintf(why, whysz, "malformed frame: length %u over the maximum %u",
		    n, (unsigned)LINK_FRAME_MAX);
		return -1;
	}
	if (h[4] == 0 || h[4] > LINK_ACCEPT) {
		snprintf(why, whysz, "malformed frame: unknown type %u", h[4]);
		return -1;
	}
	if (have - LINK_HDR < n)
		return 0;
	*type = h[4];
	*body = h + LINK_HDR;
	*len = n;
	*off += LINK_HDR + n;
	return 1;
}

int
link_inbuf_reserve(struct link_inbuf *b)
{
	size_t want = LINK_CHUNK;
	uint8_t *p;

	/* The frame in progress starts at 0; its length was checked by link_frame_next. */
	if (b->len >= LINK_HDR) {
		uint32_t n = get_u32(b->p);
		if (n <= LINK_FRAME_MAX && LINK_HDR + (size_t)n > want)
			want = LINK_HDR + (size_t)n;
	}
	if (b->len == b->cap && want <= b->cap)
		want = b->cap + LINK_CHUNK;	/* cannot happen with checked frames */
	if (want <= b->cap)
		return 0;
	if ((p = realloc(b->p, want)) == NULL)
		return -1;
	b->p = p;
	b->cap = want;
	return 0;
}

void
link_inbuf_shift(struct link_inbuf *b, size_t off)
{
	if (off > 0) {
		memmove(b->p, b->p + off, b->len - off);
		b->len -= off;
	}
	/* Give back what a large frame took once it is gone. */
	if (b->cap > 4 * LINK_CHUNK && b->len <= LINK_CHUNK) {
		uint8_t *p = realloc(b->p, LINK_CHUNK);
		if (p != NULL) {
			b->p = p;
			b->cap = LINK_CHUNK;
		}
	}
}

void
link_inbuf_free(struct link_inbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}
