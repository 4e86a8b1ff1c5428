/* rmsg.c — decode and check a message frame from another node. */
#include <stdlib.h>
#include <string.h>
#include "rmsg.h"
#include "wire.h"

struct rd {
	const uint8_t *p;
	size_t len, pos;
	int bad;
};

static const uint8_t *
take(struct rd *r, size_t n)
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

static uint8_t u8(struct rd *r) { const uint8_t *a = take(r, 1); return a ? a[0] : 0; }
static uint16_t u16(struct rd *r) { const uint8_t *a = take(r, 2); return a ? get_u16(a) : 0; }
static uint32_t u32(struct rd *r) { const uint8_t *a = take(r, 4); return a ? get_u32(a) : 0; }
static uint64_t u64(struct rd *r) { const uint8_t *a = take(r, 8); return a ? get_u64(a) : 0; }

static void
gid(struct rd *r, struct gid *g)
{
	size_t n = u8(r);
	const uint8_t *a = take(r, n);

	if (a == NULL || n > MX_NODE_MAX || memchr(a, 0, n) != NULL) {
		r->bad = 1;
		return;
	}
	memcpy(g->node, a, n);
	g->node[n] = '\0';
	g->inc = u64(r);
	g->id = u64(r);
}

static int
right_ok(uint8_t right)
{
	return right == MX_RIGHT_SEND || right == MX_RIGHT_SEND_ONCE;
}

int
rmsg_decode(const uint8_t *p, size_t len, struct rmsg *m)
{
	struct rd r = { p, len, 0, 0 };
	struct mx_item it;
	size_t used, pos = 0;
	uint32_t i, seen = 0;
	int ret;

	memset(m, 0, sizeof(*m));
	m->seq = u64(&r);
	m->dest_inc = u64(&r);
	m->dest_id = u64(&r);
	m->msgid = u32(&r);
	m->timeout_ms = u32(&r);
	m->flags = u8(&r);
	m->has_reply = u8(&r);
	m->nrights = u16(&r);
	if (r.bad || m->has_reply > 1 || (m->flags & ~RMSGF_DEST_SO) || m->nrights > RMSG_MAX_RIGHTS)
		goto bad;
	if (trailer_unpack(p + r.pos, len - r.pos, &used, &m->tr) < 0)
		goto bad;
	r.pos += used;
	if (m->has_reply) {
		m->reply.right = u8(&r);
		gid(&r, &m->reply.gid);
		if (r.bad || !right_ok(m->reply.right))
			goto bad;
	}
	if (m->nrights > 0 && (m->rights = calloc(m->nrights, sizeof(*m->rights))) == NULL)
		goto bad;
	for (i = 0; i < m->nrights; i++) {
		m->rights[i].off = u32(&r);
		m->rights[i].right = u8(&r);
		gid(&r, &m->rights[i].gid);
		if (r.bad || !right_ok(m->rights[i].right))
			goto bad;
	}
	m->ilen = u32(&r);
	if (r.bad || m->ilen != len - r.pos || m->ilen > MX_BODY_MAX)
		goto bad;
	m->items = p + r.pos;
	/* The body is well formed and every right sits on its PORT item, in order. */
	while ((ret = items_next(m->items, m->ilen, &pos, &it)) > 0) {
		if (it.type != MX_ITEM_PORT)
			continue;
		if (seen >= m->nrights || m->rights[seen].off != (uint32_t)(it.data - m->items) - MX_ITEM_HDR)
			goto bad;
		seen++;
	}
	if (ret < 0 || seen != m->nrights)
		goto bad;
	return 0;
bad:
	{
		uint64_t seq = m->seq;
		rmsg_free(m);
		memset(m, 0, sizeof(*m));
		m->seq = seq;
	}
	return -1;
}

void
rmsg_free(struct rmsg *m)
{
	free(m->rights);
	m->rights = NULL;
}
