/*
 * rbuf.h — the one bounds-checked reader for input from the network or a
 * task: a cursor over a received buffer. Every read is checked against the
 * end; a short read marks the reader bad and yields zeros (or NULL), so a
 * decoder reads its fields in order and checks once, with rbuf_end() when
 * the whole buffer must be used.
 */
#ifndef MX_RBUF_H
#define MX_RBUF_H

#include <stddef.h>
#include <stdint.h>

struct rbuf {
	const uint8_t *p;
	size_t len, pos;
	int bad;
};

static inline void
rbuf_init(struct rbuf *r, const void *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->pos = 0;
	r->bad = 0;
}

const uint8_t *rbuf_take(struct rbuf *r, size_t n);	/* n bytes, or NULL (then bad) */
uint8_t rbuf_u8(struct rbuf *r);
uint16_t rbuf_u16(struct rbuf *r);			/* big-endian, as everything on the wire */
uint32_t rbuf_u32(struct rbuf *r);
uint64_t rbuf_u64(struct rbuf *r);
/* A u8 length then that many bytes, no NUL among them, shorter than outsz: 0, or -1 (then bad, out ""). */
int rbuf_str(struct rbuf *r, char *out, size_t outsz);
static inline size_t rbuf_left(const struct rbuf *r) { return r->len - r->pos; }
/* 0 when nothing was short and every byte was read; -1 otherwise. */
static inline int rbuf_end(const struct rbuf *r) { return r->bad || r->pos != r->len ? -1 : 0; }

#endif
