/* wire.c — pack and check frame, message and item headers. */
#include <string.h>
#include "rbuf.h"
#include "wire.h"

void
frame_hdr_pack(uint8_t out[MX_FRAME_HDR], const struct mx_frame_hdr *h)
{
	put_u32(out, h->len);
	out[4] = MX_PROTO_VERSION;
	out[5] = h->type;
	put_u16(out + 6, h->flags);
	put_u32(out + 8, h->id);
	put_u32(out + 12, h->status);
}

int
frame_hdr_unpack(const uint8_t in[MX_FRAME_HDR], struct mx_frame_hdr *h)
{
	struct rbuf r;

	rbuf_init(&r, in, MX_FRAME_HDR);
	h->len = rbuf_u32(&r);
	h->version = rbuf_u8(&r);
	h->type = rbuf_u8(&r);
	h->flags = rbuf_u16(&r);
	h->id = rbuf_u32(&r);
	h->status = rbuf_u32(&r);
	if (rbuf_end(&r) != 0)
		return -MX_ERR_PROTO;
	if (h->version != MX_PROTO_VERSION)
		return -MX_ERR_VERSION;
	if (h->len > MX_FRAME_MAX)
		return -MX_ERR_TOOBIG;
	if (h->type == 0 || h->type >= MX_OP__MAX)
		return -MX_ERR_PROTO;
	return 0;
}

void
msg_hdr_pack(uint8_t out[MX_MSG_HDR], const struct mx_msg_hdr *h)
{
	put_u32(out, h->dest);
	put_u32(out + 4, h->reply);
	out[8] = h->reply_disp;
	out[9] = h->flags;
	put_u16(out + 10, 0);
	put_u32(out + 12, h->msgid);
	put_u32(out + 16, h->timeout_ms);
}

void
msg_hdr_unpack(const uint8_t in[MX_MSG_HDR], struct mx_msg_hdr *h)
{
	h->dest = get_u32(in);
	h->reply = get_u32(in + 4);
	h->reply_disp = in[8];
	h->flags = in[9];
	h->reserved = get_u16(in + 10);
	h->msgid = get_u32(in + 12);
	h->timeout_ms = get_u32(in + 16);
}

int
items_next(const uint8_t *p, size_t len, size_t *pos, struct mx_item *it)
{
	struct rbuf r;

	if (*pos == len)
		return 0;
	if (*pos > len)
		return -MX_ERR_PROTO;
	rbuf_init(&r, p + *pos, len - *pos);
	memset(it, 0, sizeof(*it));
	it->type = rbuf_u8(&r);
	it->right = rbuf_u8(&r);
	if (rbuf_u16(&r) != 0)
		return -MX_ERR_PROTO;
	it->len = rbuf_u32(&r);
	if ((it->data = rbuf_take(&r, it->len)) == NULL)
		return -MX_ERR_PROTO;
	switch (it->type) {
	case MX_ITEM_BYTES:
		if (it->right != 0)
			return -MX_ERR_PROTO;
		break;
	case MX_ITEM_STRING:
		if (it->right != 0 || memchr(it->data, 0, it->len) != NULL)
			return -MX_ERR_PROTO;
		break;
	case MX_ITEM_INT:
		if (it->right != 0 || it->len != 8)
			return -MX_ERR_PROTO;
		it->ival = (int64_t)get_u64(it->data);
		break;
	case MX_ITEM_PORT:
		if (it->len != 4 || it->right == 0)
			return -MX_ERR_PROTO;
		it->name = get_u32(it->data);
		break;
	default:
		return -MX_ERR_PROTO;
	}
	*pos += r.pos;
	return 1;
}

size_t
trailer_pack(uint8_t *out, const struct mx_trailer *t)
{
	size_t nl = strnlen(t->node, MX_NODE_MAX), sl = strnlen(t->service, MX_SERVICE_MAX);
	uint8_t *p = out;

	put_u32(p, t->uid);
	put_u32(p + 4, t->gid);
	put_u32(p + 8, t->pid);
	put_u64(p + 12, t->port_id);
	p += 20;
	*p++ = (uint8_t)nl;
	memcpy(p, t->node, nl);
	p += nl;
	*p++ = (uint8_t)sl;
	memcpy(p, t->service, sl);
	p += sl;
	return (size_t)(p - out);
}

int
trailer_unpack(const uint8_t *p, size_t len, size_t *used, struct mx_trailer *t)
{
	size_t at = 20, n;

	if (len < 22)
		return -MX_ERR_PROTO;
	t->uid = get_u32(p);
	t->gid = get_u32(p + 4);
	t->pid = get_u32(p + 8);
	t->port_id = get_u64(p + 12);
	n = p[at++];
	if (len - at < n + 1)
		return -MX_ERR_PROTO;
	memcpy(t->node, p + at, n);
	t->node[n] = '\0';
	at += n;
	n = p[at++];
	if (len - at < n)
		return -MX_ERR_PROTO;
	memcpy(t->service, p + at, n);
	t->service[n] = '\0';
	at += n;
	*used = at;
	return 0;
}
