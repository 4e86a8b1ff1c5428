/*
 * bcast.h — signed UDP broadcast between the portd of one LAN, for what
 * must reach nodes not linked yet: node announcements and name-resolution
 * queries and answers. Every packet is signed with the sender's node key
 * and carries its certificate; a packet is accepted only if the certificate
 * verifies against the cluster CA (and CRL), names the node the packet
 * claims, the signature verifies, its timestamp is within BCAST_SKEW_MS of
 * our clock and its nonce was not seen before. Anything else is dropped
 * with a (rate-limited) log line.
 */
#ifndef PORTD_BCAST_H
#define PORTD_BCAST_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/types.h>
#include "ev.h"

#define BCAST_DEFAULT_PORT	4171
#define BCAST_SKEW_MS		30000
#define BCAST_PAYLOAD_MAX	1024

/* Packet types (portd's). */
enum bcast_type {
	BCAST_ANNOUNCE = 1,	/* payload: u16 link port the sender listens on */
	BCAST_QUERY = 2,	/* payload: name resolution request */
	BCAST_ANSWER = 3,	/* payload: name resolution answer */
};

struct bcast_conf {
	const char *node;		/* our node name */
	uint64_t incarnation;
	const char *state_dir;		/* node.key, node.crt, ca.crt, revoked.crl */
	const char *addr;		/* "ADDR[:PORT]" to send to and listen on (port BCAST_DEFAULT_PORT) */
};

/*
 * recv is called for every accepted packet with the sender's node name and
 * incarnation and the source address of the datagram.
 */
int bcast_init(struct ev_loop *loop, const struct bcast_conf *conf,
    void (*recv)(const char *node, uint64_t incarnation, uint8_t type, const uint8_t *p, size_t n,
	const struct sockaddr_in *from),
    char *why, size_t whysz);
int bcast_send(uint8_t type, const void *p, size_t n);	/* 0, or -1 with errno */
void bcast_reload(void);		/* SIGHUP: reload the CRL */
void bcast_close(void);

/* ---- additions ---- */

/*
 * A signed packet of type with payload p[n], stamped now with a fresh nonce,
 * into out[outsz] (BCAST_PACKET_MAX from bcast_parse.h is always enough):
 * its length, or -1 with errno (EMSGSIZE: n over BCAST_PAYLOAD_MAX).
 */
ssize_t bcast_pack_signed(uint8_t type, const void *p, size_t n, uint8_t *out, size_t outsz);
/* Send bytes as they are to the broadcast address: 0, or -1 with errno. */
int bcast_send_raw(const void *pkt, size_t n);
/* Test hook (t/tools/bcastpeer): add ms to the wall clock used to stamp and check packets. */
void bcast_test_clock_offset(int64_t ms);

#endif
