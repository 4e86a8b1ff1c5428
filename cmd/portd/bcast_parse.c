/*
 * bcast_parse.c — encode and parse broadcast packets (bcast_parse.h).
 * Every length is checked against what is left of the datagram before the
 * bytes it covers are touched; nothing here allocates.
 */
#include <string.h>
#include "bcast_parse.h"
#include "crypto.h"

static uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint64_t
rd64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

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

#define NEED(k, what) do { if (n - off < (size_t)(k)) { *why = (what); return -1; } } while (0)

int
bcast_parse(const uint8_t *p, size_t n, struct bcast_pkt *pkt, const char **why)
{
	size_t off = 0, len;

	memset(pkt, 0, sizeof(*pkt));
	if (n > BCAST_PACKET_MAX) {
		*why = "packet too long";
		return -1;
	}
	NEED(BCAST_MAGIC_LEN + 3, "truncated header");
	if (memcmp(p, BCAST_MAGIC, BCAST_MAGIC_LEN) != 0) {
		*why = "bad magic";
		return -1;
	}
	off = BCAST_MAGIC_LEN;
	if (p[off] != BCAST_VERSION) {
		*why = "unsupported version";
		return -1;
	}
	pkt->type = p[off + 1];
	if (pkt->type == 0) {
		*why = "bad type 0";
		return -1;
	}
	len = p[off + 2];
	off += 3;
	if (len == 0 || len > BCAST_NODE_MAX) {
		*why = "bad node name length";
		return -1;
	}
	NEED(len, "truncated node name");
	memcpy(pkt->node, p + off, len);
	pkt->node[len] = '\0';
	if (strlen(pkt->node) != len || !crypto_node_name_valid(pkt->node)) {
		*why = "invalid node name";
		return -1;
	}
	off += len;
	NEED(8 + 8 + BCAST_NONCE_LEN + 2, "truncated header");
	pkt->incarnation = rd64(p + off);
	pkt->timestamp = rd64(p + off + 8);
	memcpy(pkt->nonce, p + off + 16, BCAST_NONCE_LEN);
	off += 16 + BCAST_NONCE_LEN;
	len = rd16(p + off);
	off += 2;
	if (len > BCAST_PAYLOAD_MAX) {
		*why = "payload too long";
		return -1;
	}
	NEED(len, "truncated payload");
	pkt->payload = p + off;
	pkt->payload_len = len;
	off += len;
	NEED(2, "truncated certificate length");
	len = rd16(p + off);
	off += 2;
	if (len == 0 || len > BCAST_CERT_MAX) {
		*why = "bad certificate length";
		return -1;
	}
	NEED(len, "truncated certificate");
	pkt->cert = p + off;
	pkt->cert_len = len;
	off += len;
	pkt->signed_len = off;
	NEED(BCAST_SIG_LEN, "truncated signature");
	pkt->sig = p + off;
	off += BCAST_SIG_LEN;
	if (off != n) {
		*why = "trailing bytes after the signature";
		return -1;
	}
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
