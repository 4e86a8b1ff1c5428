/* rmsg.c — decode and check the frames another node sends: every link frame type. */
#include <stdlib.h>
#include <string.h>
#include "rmsg.h"
#include "wire.h"

const uint8_t *
rb_take(struct rbuf *r, size_t n)
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

uint8_t rb_u8(struct rbuf *r) { const uint8_t *a = rb_take(r, 1); return a ? a[0] : 0; }
uint16_t rb_u16(struct rbuf *r) { const uint8_t *a = rb_take(r, 2); return a ? get_u16(a) : 0; }
uint32_t rb_u32(struct rbuf *r) { const uint8_t *a = rb_take(r, 4); return a ? get_u32(a) : 0; }
uint64_t rb_u64(struct rbuf *r) { const uint8_t *a = rb_take(r, 8); return a ? get_u64(a) : 0; }

void
rb_str(struct rbuf *r, char *out, size_t outsz)
{
	size_t n = rb_u8(r);
	const uint8_t *a = rb_take(r, n);

	if (a == NULL || n >= outsz || memchr(a, 0, n) != NULL) {
		r->bad = 1;
		out[0] = '\0';
		return;
	}
	memcpy(out, a, n);
	out[n] = '\0';
}

void
rb_gid(struct rbuf *r, struct gid *g)
{
	rb_str(r, g->node, sizeof(g->node));
	g->inc = rb_u64(r);
	g->id = rb_u64(r);
}

int
rmsg_nodes(const uint8_t *p, size_t len, void (*each)(const char *node, const char *addr, void *arg),
    void *arg)
{
	struct rbuf r = { p, len, 0, 0 };
	char node[MX_NODE_MAX + 1], addr[128];
	uint16_t i, n = rb_u16(&r);

	for (i = 0; i < n && !r.bad; i++) {
		rb_str(&r, node, sizeof(node));
		rb_str(&r, addr, sizeof(addr));
		if (!r.bad)
			each(node, addr, arg);
	}
	return r.bad || r.pos != len ? -1 : 0;
}

static int
right_ok(uint8_t right)
{
	return right == MX_RIGHT_SEND || right == MX_RIGHT_SEND_ONCE;
}

int
rmsg_decode(const uint8_t *p, size_t len, struct rmsg *m)
{
	struct rbuf r = { p, len, 0, 0 };
	struct mx_item it;
	size_t used, pos = 0;
	uint32_t i, seen = 0;
	int ret;

	memset(m, 0, sizeof(*m));
	m->seq = rb_u64(&r);
	m->dest_inc = rb_u64(&r);
	m->dest_id = rb_u64(&r);
	m->msgid = rb_u32(&r);
	m->timeout_ms = rb_u32(&r);
	m->flags = rb_u8(&r);
	m->has_reply = rb_u8(&r);
	m->nrights = rb_u16(&r);
	if (r.bad || m->has_reply > 1 || (m->flags & ~RMSGF_DEST_SO) || m->nrights > RMSG_MAX_RIGHTS)
		goto bad;
	if (trailer_unpack(p + r.pos, len - r.pos, &used, &m->tr) < 0)
		goto bad;
	r.pos += used;
	if (m->has_reply) {
		m->reply.right = rb_u8(&r);
		rb_gid(&r, &m->reply.gid);
		if (r.bad || !right_ok(m->reply.right))
			goto bad;
	}
	if (m->nrights > 0 && (m->rights = calloc(m->nrights, sizeof(*m->rights))) == NULL)
		goto bad;
	for (i = 0; i < m->nrights; i++) {
		m->rights[i].off = rb_u32(&r);
		m->rights[i].right = rb_u8(&r);
		rb_gid(&r, &m->rights[i].gid);
		if (r.bad || !right_ok(m->rights[i].right))
			goto bad;
	}
	m->ilen = rb_u32(&r);
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

/* ---- the small frames ---- */

static int
rb_done(const struct rbuf *r)
{
	return r->bad || r->pos != r->len ? -1 : 0;
}

int
rmsg_ack(const uint8_t *p, size_t len, uint64_t *seq, uint32_t *status)
{
	struct rbuf r = { p, len, 0, 0 };

	*seq = rb_u64(&r);
	*status = rb_u32(&r);
	return rb_done(&r);
}

int
rmsg_port_event(const uint8_t *p, size_t len, uint64_t *inc, uint64_t *id)
{
	struct rbuf r = { p, len, 0, 0 };

	*inc = rb_u64(&r);
	*id = rb_u64(&r);
	return rb_done(&r);
}

int
rmsg_special_req(const uint8_t *p, size_t len, uint64_t *req, uint32_t *which)
{
	struct rbuf r = { p, len, 0, 0 };

	*req = rb_u64(&r);
	*which = rb_u32(&r);
	return rb_done(&r);
}

int
rmsg_special_ans(const uint8_t *p, size_t len, uint64_t *req, uint32_t *status, uint64_t *id)
{
	struct rbuf r = { p, len, 0, 0 };

	*req = rb_u64(&r);
	*status = rb_u32(&r);
	*id = rb_u64(&r);
	return rb_done(&r);
}

int
rmsg_query(const uint8_t *p, size_t len, char name[MX_NAME_LEN_MAX + 1])
{
	struct rbuf r = { p, len, 0, 0 };

	rb_str(&r, name, MX_NAME_LEN_MAX + 1);
	return rb_done(&r);
}

int
rmsg_answer(const uint8_t *p, size_t len, char name[MX_NAME_LEN_MAX + 1], struct gid *g)
{
	struct rbuf r = { p, len, 0, 0 };

	rb_str(&r, name, MX_NAME_LEN_MAX + 1);
	rb_gid(&r, g);
	return rb_done(&r);
}

int
rmsg_here(const uint8_t *p, size_t len, uint16_t *port)
{
	struct rbuf r = { p, len, 0, 0 };

	*port = rb_u16(&r);
	return rb_done(&r);
}
