/* rbuf.c — the bounds-checked reader (rbuf.h). */
#include <string.h>
#include "rbuf.h"
#include "wire.h"

const uint8_t *
rbuf_take(struct rbuf *r, size_t n)
{
	const uint8_t *at;

	if (r->bad || r->len - r->pos < n) {
		r->bad = 1;
		return NULL;
	}
	at = r->p + r->pos;
	r->pos += n;
	return at;
}

uint8_t rbuf_u8(struct rbuf *r) { const uint8_t *a = rbuf_take(r, 1); return a ? a[0] : 0; }
uint16_t rbuf_u16(struct rbuf *r) { const uint8_t *a = rbuf_take(r, 2); return a ? get_u16(a) : 0; }
uint32_t rbuf_u32(struct rbuf *r) { const uint8_t *a = rbuf_take(r, 4); return a ? get_u32(a) : 0; }
uint64_t rbuf_u64(struct rbuf *r) { const uint8_t *a = rbuf_take(r, 8); return a ? get_u64(a) : 0; }

int
rbuf_str(struct rbuf *r, char *out, size_t outsz)
{
	size_t n = rbuf_u8(r);
	const uint8_t *a = rbuf_take(r, n);

	if (a == NULL || n >= outsz || memchr(a, 0, n) != NULL) {
		r->bad = 1;
		out[0] = '\0';
		return -1;
	}
	memcpy(out, a, n);
	out[n] = '\0';
	return 0;
}
