/* rmsg.c — decode and check the frames another node sends: every link frame type. */
#include <stdlib.h>
#include <string.h>
#include "rmsg.h"
#include "crypto.h"
#include "wire.h"

/* A global id: node name, incarnation, port id. */
static void
rmsg_gid(struct rbuf *r, struct gid *g)
{
	rbuf_str(r, g->node, sizeof(g->node));
	g->inc = rbuf_u64(r);
	g->id = rbuf_u64(r);
}

int
rmsg_nodes(const uint8_t *p, size_t len, void (*each)(const char *node, const char *addr, void *arg),
    void *arg)
{
	struct rbuf r;
	char node[MX_NODE_MAX + 1], addr[128];
	uint16_t i, n;

	rbuf_init(&r, p, len);
	n = rbuf_u16(&r);

	for (i = 0; i < n && !r.bad; i++) {
		rbuf_str(&r, node, sizeof(node));
		rbuf_str(&r, addr, sizeof(addr));
		if (!r.bad)
			each(node, addr, arg);
	}
	return rbuf_end(&r);
}

static int
right_ok(uint8_t right)
{
	return right == MX_RIGHT_SEND || right == MX_RIGHT_SEND_ONCE;
}

/*
 * The identity a node vouches for: a service name that is a name, a hash
 * flag that is 0 or 1 (and no hash bytes without it), a unit that is one
 * the list can name. Anything else is malformed, not merely unvouched.
 */
static int
rmsg_vouch(struct rbuf *r, struct rmsg *m)
{
	static const uint8_t zero[RMSG_HASH_LEN];
	const uint8_t *h;
	uint8_t has = rbuf_u8(r);

	h = rbuf_take(r, RMSG_HASH_LEN);
	rbuf_str(r, m->vouch.unit, sizeof(m->vouch.unit));
	if (r->bad || has > 1 || (!has && memcmp(h, zero, RMSG_HASH_LEN) != 0))
		return -1;
	if (!mx_name_valid(m->tr.service) || (m->vouch.unit[0] != '\0' && !siglist_unit_valid(m->vouch.unit)))
		return -1;
	m->vouch.has_hash = has;
	memcpy(m->vouch.hash, h, RMSG_HASH_LEN);
	return 0;
}

int
rmsg_decode(const uint8_t *p, size_t len, struct rmsg *m)
{
	struct rbuf r;
	struct mx_item it;
	size_t used, pos = 0;
	uint32_t i, seen = 0;
	int ret;

	rbuf_init(&r, p, len);
	memset(m, 0, sizeof(*m));
	m->seq = rbuf_u64(&r);
	m->dest_inc = rbuf_u64(&r);
	m->dest_id = rbuf_u64(&r);
	m->msgid = rbuf_u32(&r);
	m->timeout_ms = rbuf_u32(&r);
	m->flags = rbuf_u8(&r);
	m->has_reply = rbuf_u8(&r);
	m->nrights = rbuf_u16(&r);
	if (r.bad || m->has_reply > 1 || (m->flags & ~(RMSGF_DEST_SO | RMSGF_VOUCH)) || m->nrights > RMSG_MAX_RIGHTS)
		goto bad;
	if (trailer_unpack(p + r.pos, len - r.pos, &used, &m->tr) < 0)
		goto bad;
	(void)rbuf_take(&r, used);	/* within len: trailer_unpack checked it */
	if ((m->flags & RMSGF_VOUCH) && rmsg_vouch(&r, m) < 0)
		goto bad;
	if (m->has_reply) {
		m->reply.right = rbuf_u8(&r);
		rmsg_gid(&r, &m->reply.gid);
		if (r.bad || !right_ok(m->reply.right))
			goto bad;
	}
	if (m->nrights > 0 && (m->rights = calloc(m->nrights, sizeof(*m->rights))) == NULL)
		goto bad;
	for (i = 0; i < m->nrights; i++) {
		m->rights[i].off = rbuf_u32(&r);
		m->rights[i].right = rbuf_u8(&r);
		rmsg_gid(&r, &m->rights[i].gid);
		if (r.bad || !right_ok(m->rights[i].right))
			goto bad;
	}
	m->ilen = rbuf_u32(&r);
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

int
rmsg_ack(const uint8_t *p, size_t len, uint64_t *seq, uint32_t *status)
{
	struct rbuf r;

	rbuf_init(&r, p, len);

	*seq = rbuf_u64(&r);
	*status = rbuf_u32(&r);
	return rbuf_end(&r);
}

int
rmsg_port_event(const uint8_t *p, size_t len, uint64_t *inc, uint64_t *id)
{
	struct rbuf r;

	rbuf_init(&r, p, len);

	*inc = rbuf_u64(&r);
	*id = rbuf_u64(&r);
	return rbuf_end(&r);
}

int
rmsg_special_req(const uint8_t *p, size_t len, uint64_t *req, uint32_t *which)
{
	struct rbuf r;

	rbuf_init(&r, p, len);

	*req = rbuf_u64(&r);
	*which = rbuf_u32(&r);
	return rbuf_end(&r);
}

int
rmsg_special_ans(const uint8_t *p, size_t len, uint64_t *req, uint32_t *status, uint64_t *id)
{
	struct rbuf r;

	rbuf_init(&r, p, len);

	*req = rbuf_u64(&r);
	*status = rbuf_u32(&r);
	*id = rbuf_u64(&r);
	return rbuf_end(&r);
}

/* An answer's identity: u32 uid, u32 gid, u8 has_hash (0 or 1), 32 bytes, u8 length + unit. */
static void
rmsg_ident(struct rbuf *r, struct rident *id)
{
	static const uint8_t zero[RIDENT_HASH_LEN];
	const uint8_t *h;
	size_t i;

	id->present = 1;
	id->uid = rbuf_u32(r);
	id->gid = rbuf_u32(r);
	id->has_hash = rbuf_u8(r);
	if ((h = rbuf_take(r, RIDENT_HASH_LEN)) != NULL)
		memcpy(id->hash, h, RIDENT_HASH_LEN);
	rbuf_str(r, id->unit, sizeof(id->unit));
	if (id->has_hash > 1 || (!id->has_hash && memcmp(id->hash, zero, RIDENT_HASH_LEN) != 0) ||
	    id->uid == UINT32_MAX)
		r->bad = 1;	/* (uid_t)-1 is no one's uid */
	for (i = 0; id->unit[i] != '\0'; i++)
		if (id->unit[i] <= ' ' || id->unit[i] > '~')
			r->bad = 1;	/* a unit name is printable ASCII without spaces */
}

int
rmsg_query(const uint8_t *p, size_t len, struct rquery *q)
{
	struct rbuf r;

	rbuf_init(&r, p, len);

	memset(q, 0, sizeof(*q));
	rbuf_str(&r, q->name, sizeof(q->name));
	if (r.bad || rbuf_left(&r) == 0)
		return rbuf_end(&r);
	q->flags = rbuf_u8(&r);
	if (q->flags & ~(RQUERY_DIRECT | RQUERY_ASKER))
		r.bad = 1;
	if (!r.bad && (q->flags & RQUERY_ASKER)) {
		rbuf_str(&r, q->service, sizeof(q->service));
		if (!r.bad && !mx_name_valid(q->service))
			r.bad = 1;	/* a service is a registered name: never "" */
		rmsg_ident(&r, &q->asker);
	}
	return rbuf_end(&r);
}

int
rmsg_answer(const uint8_t *p, size_t len, char name[MX_NAME_LEN_MAX + 1], struct gid *g, struct rident *id)
{
	struct rbuf r;

	rbuf_init(&r, p, len);

	rbuf_str(&r, name, MX_NAME_LEN_MAX + 1);
	rmsg_gid(&r, g);
	memset(id, 0, sizeof(*id));
	if (!r.bad && rbuf_left(&r) > 0)
		rmsg_ident(&r, id);
	return rbuf_end(&r);
}

int
rmsg_here(const uint8_t *p, size_t len, uint16_t *port)
{
	struct rbuf r;

	rbuf_init(&r, p, len);

	*port = rbuf_u16(&r);
	return rbuf_end(&r);
}

int
rmsg_release(const uint8_t *p, size_t len, uint64_t *inc, void (*each)(uint64_t id, uint32_t count, void *arg),
    void *arg)
{
	struct rbuf r;
	uint16_t i, n;

	rbuf_init(&r, p, len);
	*inc = rbuf_u64(&r);
	n = rbuf_u16(&r);
	if (r.bad || n > RMSG_RELEASE_MAX || rbuf_left(&r) != (size_t)n * 12)
		return -1;
	for (i = 0; i < n; i++) {
		uint64_t id = rbuf_u64(&r);
		uint32_t count = rbuf_u32(&r);
		if (each != NULL)
			each(id, count, arg);
	}
	return rbuf_end(&r);
}

int
rmsg_xfer(const uint8_t *p, size_t len, uint64_t *xseq, uint64_t *inc, uint64_t *id, uint8_t *right,
    char node[MX_NODE_MAX + 1])
{
	struct rbuf r;

	rbuf_init(&r, p, len);
	*xseq = rbuf_u64(&r);
	*inc = rbuf_u64(&r);
	*id = rbuf_u64(&r);
	*right = rbuf_u8(&r);
	rbuf_str(&r, node, MX_NODE_MAX + 1);
	if (r.bad || !right_ok(*right) || node[0] == '\0')
		return -1;
	return rbuf_end(&r);
}
