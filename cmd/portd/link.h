/*
 * link.h — portd-to-portd links: TCP with TLS 1.3 only, both sides
 * presenting node certificates signed by the cluster CA. One link per pair
 * of nodes carries all their traffic. Frames inside TLS: an 8-byte header
 * (u32 len, u8 type, u8 version, u16 zero) then len bytes, len checked
 * against LINK_FRAME_MAX before anything is allocated.
 */
#ifndef PORTD_LINK_H
#define PORTD_LINK_H

#include <stddef.h>
#include <stdint.h>
#include "ev.h"
#include "masix.h"

#define LINK_HDR		8
#define LINK_VERSION		2
#define LINK_FRAME_MAX		(MX_BODY_MAX + 64 * 1024)
#define LINK_DEFAULT_PORT	4170

struct link;

struct link_conf {
	const char *node;		/* our node name (the CN of our certificate) */
	uint64_t incarnation;		/* random at every start of portd */
	const char *state_dir;		/* node.key, node.crt, ca.crt, revoked.crl */
};

/* What the link layer tells portd. Frame types 1..99 are portd's (not the link layer's own). */
struct link_cb {
	/* The link is authenticated (certificate chain, expiry, CRL, name) and HELLOs exchanged. */
	void (*up)(struct link *l, const char *peer_node, uint64_t peer_incarnation);
	void (*frame)(struct link *l, uint8_t type, const uint8_t *p, uint32_t len);
	/* Gone (error, peer closed, replaced by a duplicate): no more frames; l is freed after. */
	void (*down)(struct link *l, const char *why);
};

/* Load key and certificates; 0, or -1 with a one-line reason. */
int links_init(struct ev_loop *loop, const struct link_conf *conf, const struct link_cb *cb,
    char *why, size_t whysz);
/* Listen on "[ADDR]:PORT", "ADDR:PORT" or ":PORT" (all addresses). */
int links_listen(const char *addr, char *why, size_t whysz);
/* Keep a link to this peer ("HOST[:PORT]"): connect now, reconnect with backoff after a failure. */
int links_add_peer(const char *hostport, char *why, size_t whysz);
/* Connect once to a node at a known address (from an announcement); no-op if linked or connecting. */
void links_connect(const char *node, const char *hostport);
/* 0 if s is "[HOST]:PORT" (or "HOST" when defport >= 0), else -1 with why: for config checks. */
int link_addr_check(const char *s, int defport, char *why, size_t whysz);
struct link *link_by_node(const char *node);
const char *link_node(const struct link *l);
uint64_t link_incarnation(const struct link *l);
/* The caller's own pointer for an up link (portd: its node), so frames need no lookup. */
void link_set_data(struct link *l, void *data);
void *link_data(const struct link *l);
/* Queue a frame made of two parts (either may be empty); 0, or -1 when the link is down. */
int link_send(struct link *l, uint8_t type, const void *a, size_t alen, const void *b, size_t blen);
void links_reload(void);		/* SIGHUP: reload the CRL */
/* Write what is queued now (portd calls it after delivering to its tasks). */
void links_flush(void);
/* The peer's certificate as PEM (malloc'd, NUL-terminated), or NULL. */
char *link_peer_cert_pem(const struct link *l, size_t *len);
void links_close_all(void);

/* ---- additions ----
 *
 * Notes on the calls above, as implemented:
 * - links_init fails when node.key is too open or does not match node.crt,
 *   or node.crt is not for conf->node; a node.crt that does not verify
 *   (expired, revoked, other CA) is only logged: peers will refuse it.
 *   The caller ignores SIGPIPE (SSL writes to sockets).
 * - Refusals and failures are logged here (log_warnx, one line naming the
 *   peer address and the reason); routine closes (duplicate link, orderly
 *   close by the peer, link_close, shutdown) only at debug level.
 * - links_reload also drops the links whose peer certificate no longer
 *   verifies (revoked since): down is called for them.
 * - links_close_all calls down for the up links and frees everything; call
 *   it after ev_run returned, not from an event callback.
 * - Callbacks may call link_send, link_close and links_connect; a link
 *   closed inside a callback stays valid memory until the batch of events
 *   is over.
 */

/* Close a link (portd's own reason, e.g. a bad frame of types 1..99): down is called if up was. */
void link_close(struct link *l, const char *why);
/* The peer's address, "ADDR:PORT" or "[ADDR6]:PORT", for log lines. */
const char *link_addr(const struct link *l);
/* 1 if this node initiated the link. */
int link_outgoing(const struct link *l);
/* Bytes queued on the link and not yet handed to the kernel (for flow control). */
size_t link_queued(const struct link *l);

/*
 * ---- internals shared by link.c, link_tls.c and link_frame.c; not for the
 * rest of portd ----
 *
 * HELLO (type LINK_HELLO), the first frame on a link once TLS is up, sent
 * by the node whose name sorts first (the leader), then by the other if it
 * takes the link: u8 name length (1..63), the node name (no NUL), u64
 * incarnation; exactly. ACCEPT (type LINK_ACCEPT, empty): the leader's
 * answer, after which both ends carry traffic on the link.
 */
#define LINK_HELLO		100
#define LINK_ACCEPT		101
#define LINK_CHUNK		(64 * 1024)	/* output queue chunk, input read size */

struct ssl_st;
struct x509_st;

/* What the handshake's certificate check needs and tells, per link (SSL app data). */
struct link_tls_state {
	char expect[64];		/* node name expected of the peer, "" for any */
	char cn[64];			/* the verified peer's node name */
	char why[256];			/* why its certificate was refused */
};

int link_tls_init(const char *state_dir, const char *node, char *why, size_t whysz);
void link_tls_free(void);
/* Reload revoked.crl; 0, or -1 (the previous list stays) with the reason. */
int link_tls_reload(char *why, size_t whysz);
struct ssl_st *link_tls_new(int fd, int server, struct link_tls_state *st);
/* Check a peer certificate now (chain, expiry, CRL, name); node gets its CN. */
int link_tls_check(struct x509_st *cert, const char *expect, char *node, size_t nodesz,
    char *why, size_t whysz);
/* The reason of the last OpenSSL failure on this thread (error queue emptied). */
const char *link_tls_err(char *buf, size_t bufsz);

struct link_chunk;
struct link_outq {
	struct link_chunk *head, *tail;
	size_t bytes;
};
struct link_inbuf {
	uint8_t *p;
	size_t len, cap;
};

void link_frame_hdr(uint8_t h[LINK_HDR], uint8_t type, uint32_t len);
int link_outq_put(struct link_outq *q, const void *p, size_t n);
void link_outq_clear(struct link_outq *q);
/* Write what SSL takes: 1 all written, 0 blocked (*ssl_err WANT_READ/WRITE), -1 failed (why). */
int link_outq_flush(struct link_outq *q, struct ssl_st *ssl, int *ssl_err, char *why, size_t whysz);
/*
 * Next complete frame at *off in b: 1 (type, body, len set, *off advanced),
 * 0 not complete yet, -1 malformed (why).
 */
int link_frame_next(const struct link_inbuf *b, size_t *off, uint8_t *type,
    const uint8_t **body, uint32_t *len, char *why, size_t whysz);
/* Room to read the frame in progress (at offset 0 after link_inbuf_shift); -1 out of memory. */
int link_inbuf_reserve(struct link_inbuf *b);
void link_inbuf_shift(struct link_inbuf *b, size_t off);
void link_inbuf_free(struct link_inbuf *b);

#endif
