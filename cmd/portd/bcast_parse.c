/*
 * bcast_parse.c — encode and parse broadcast packets (bcast_parse.h).
 * Every length is checked against what is left of the datagram (rbuf.h)
 * before the bytes it covers are touched; nothing here allocates.
 */
#include <string.h>
#include "bcast_parse.h"
#include "crypto.h"
#include "rbuf.h"

static void
wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
wr64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

#define FAIL(what) do { *why = (what); return -1; } while (0)

int
bcast_parse(const uint8_t *p, size_t n, struct bcast_pkt *pkt, const char **why)
{
	const uint8_t *magic, *at;
	struct rbuf r;
	size_t len;
	uint8_t version;

	memset(pkt, 0, sizeof(*pkt));
	if (n > BCAST_PACKET_MAX)
		FAIL("packet too long");
	rbuf_init(&r, p, n);
	magic = rbuf_take(&r, BCAST_MAGIC_LEN);
	version = rbuf_u8(&r);
	pkt->type = rbuf_u8(&r);
	len = rbuf_u8(&r);
	if (r.bad)
		FAIL("truncated header");
	if (memcmp(magic, BCAST_MAGIC, BCAST_MAGIC_LEN) != 0)
		FAIL("bad magic");
	if (version != BCAST_VERSION)
		FAIL("unsupported version");
	if (pkt->type == 0)
		FAIL("bad type 0");
	if (len == 0 || len > BCAST_NODE_MAX)
		FAIL("bad node name length");
	if ((at = rbuf_take(&r, len)) == NULL)
		FAIL("truncated node name");
	memcpy(pkt->node, at, len);
	pkt->node[len] = '\0';
	if (strlen(pkt->node) != len || !crypto_node_name_valid(pkt->node))
		FAIL("invalid node name");
	pkt->incarnation = rbuf_u64(&r);
	pkt->timestamp = rbuf_u64(&r);
	at = rbuf_take(&r, BCAST_NONCE_LEN);
	len = rbuf_u16(&r);
	if (r.bad)
		FAIL("truncated header");
	memcpy(pkt->nonce, at, BCAST_NONCE_LEN);
	if (len > BCAST_PAYLOAD_MAX)
		FAIL("payload too long");
	if ((pkt->payload = rbuf_take(&r, len)) == NULL)
		FAIL("truncated payload");
	pkt->payload_len = len;
	len = rbuf_u16(&r);
	if (r.bad)
		FAIL("truncated certificate length");
	if (len == 0 || len > BCAST_CERT_MAX)
		FAIL("bad certificate length");
	if ((pkt->cert = rbuf_take(&r, len)) == NULL)
		FAIL("truncated certificate");
	pkt->cert_len = len;
	pkt->signed_len = r.pos;
	if ((pkt->sig = rbuf_take(&r, BCAST_SIG_LEN)) == NULL)
		FAIL("truncated signature");
	if (rbuf_left(&r) != 0)
		FAIL("trailing bytes after the signature");
	return 0;
}

size_t
bcast_pack(uint8_t *out, size_t outsz, uint8_t type, const char *node,
    uint64_t incarnation, uint64_t timestamp, const uint8_t nonce[BCAST_NONCE_LEN],
    const void *payload, size_t payload_len, const void *cert, size_t cert_len)
{
	size_t nlen = strlen(node), need, off;

	if (type == 0 || nlen == 0 || nlen > BCAST_NODE_MAX || payload_len > BCAST_PAYLOAD_MAX ||
	    cert_len == 0 || cert_len > BCAST_CERT_MAX)
		return 0;
	need = BCAST_MAGIC_LEN + 3 + nlen + 16 + BCAST_NONCE_LEN + 2 + payload_len + 2 + cert_len;
	if (need > outsz)
		return 0;
	memcpy(out, BCAST_MAGIC, BCAST_MAGIC_LEN);
	off = BCAST_MAGIC_LEN;
	out[off++] = BCAST_VERSION;
	out[off++] = type;
	out[off++] = (uint8_t)nlen;
	memcpy(out + off, node, nlen);
	off += nlen;
	wr64(out + off, incarnation);
	wr64(out + off + 8, timestamp);
	memcpy(out + off + 16, nonce, BCAST_NONCE_LEN);
	off += 16 + BCAST_NONCE_LEN;
	wr16(out + off, (uint16_t)payload_len);
	off += 2;
	if (payload_len > 0)
		memcpy(out + off, payload, payload_len);
	off += payload_len;
	wr16(out + off, (uint16_t)cert_len);
	off += 2;
	memcpy(out + off, cert, cert_len);
	off += cert_len;
	return off;
}
