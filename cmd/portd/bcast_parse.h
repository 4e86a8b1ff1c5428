/*
 * bcast_parse.h — the wire form of a broadcast packet (doc/protocol.md,
 * "Broadcast packets"): encoding, and a parser that checks every length and
 * field before use but verifies nothing cryptographic (bcast.c does that).
 * Kept apart from bcast.c so the fuzz harness (t/fuzz/bcast.c) can run it.
 */
#ifndef PORTD_BCAST_PARSE_H
#define PORTD_BCAST_PARSE_H

#include <stddef.h>
#include <stdint.h>
#include "bcast.h"

#define BCAST_MAGIC		"MXBC"
#define BCAST_MAGIC_LEN		4
#define BCAST_VERSION		1
#define BCAST_NODE_MAX		63		/* = CRYPTO_NODE_MAX */
#define BCAST_NONCE_LEN		16
#define BCAST_CERT_MAX		2048		/* a node certificate is about 450 bytes of DER */
#define BCAST_SIG_LEN		64		/* raw Ed25519 */
/* magic, version, type, node length, node, incarnation, timestamp, nonce, payload, cert, signature */
#define BCAST_PACKET_MAX	(BCAST_MAGIC_LEN + 3 + BCAST_NODE_MAX + 8 + 8 + BCAST_NONCE_LEN + \
				 2 + BCAST_PAYLOAD_MAX + 2 + BCAST_CERT_MAX + BCAST_SIG_LEN)

/* A parsed packet; the pointers point into the buffer given to bcast_parse(). */
struct bcast_pkt {
	uint8_t type;				/* 1..255 */
	char node[BCAST_NODE_MAX + 1];		/* a valid node name, NUL-terminated */
	uint64_t incarnation;
	uint64_t timestamp;			/* sender's wall clock, ms since the epoch */
	uint8_t nonce[BCAST_NONCE_LEN];
	const uint8_t *payload;
	size_t payload_len;			/* 0..BCAST_PAYLOAD_MAX */
	const uint8_t *cert;			/* DER, not parsed here */
	size_t cert_len;			/* 1..BCAST_CERT_MAX */
	const uint8_t *sig;			/* BCAST_SIG_LEN bytes */
	size_t signed_len;			/* bytes covered by sig: the packet up to sig */
};

/*
 * Parse n bytes. 0 with *pkt filled, or -1 with *why set to a static
 * one-line reason naming the field ("bad magic", "payload too long",
 * "truncated certificate"). Trailing bytes after the signature are an error.
 */
int bcast_parse(const uint8_t *p, size_t n, struct bcast_pkt *pkt, const char **why);

/*
 * Encode everything up to the signature into out[outsz]: the number of
 * bytes written (the signed part; the caller appends the BCAST_SIG_LEN-byte
 * signature), or 0 when a field is out of range or out is too small.
 */
size_t bcast_pack(uint8_t *out, size_t outsz, uint8_t type, const char *node,
    uint64_t incarnation, uint64_t timestamp, const uint8_t nonce[BCAST_NONCE_LEN],
    const void *payload, size_t payload_len, const void *cert, size_t cert_len);

#endif
