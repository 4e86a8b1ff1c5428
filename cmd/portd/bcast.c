/*
 * bcast.c — signed UDP broadcast between the portd of one LAN (bcast.h).
 * The wire form is in bcast_parse.c; doc/protocol.md, "Broadcast packets",
 * describes it and the order of the checks done here.
 *
 * A received datagram goes through, cheapest first: the parser (every
 * length), "is it our own" (same node name and incarnation: dropped
 * silently, broadcast loops back to its sender), the timestamp window, the
 * replay cache (lookup only), the certificate (chain to ca.crt, revocation,
 * CN = the node named in the packet), the signature with the certificate's
 * key; only then is its nonce remembered and the packet handed to portd.
 * Nothing is inserted into the replay cache before the signature verifies,
 * so a forger cannot fill it.
 *
 * Fair to every node, whatever one member does: each source address has a
 * rate (BCAST_SRC_RATE a second, bursts of BCAST_SRC_BURST), checked before
 * any cryptography; a certificate that verified is remembered by its
 * SHA-256 (BCAST_CERTS of them, until the CRL is reloaded), so a packet
 * with a known certificate and a forged signature costs one Ed25519
 * verification; and each node has a share of the replay cache
 * (BCAST_REPLAY_SHARE entries): over it a node loses its own packets, not
 * the others'.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "masix.h"
#include "crypto.h"
#include "log.h"
#include "bcast.h"
#include "bcast_parse.h"

/*
 * Replay cache: every accepted nonce is kept BCAST_REPLAY_TTL ms (a packet
 * stamped up to BCAST_SKEW_MS ahead of our clock stays acceptable that long),
 * in a ring ordered by expiry (the TTL is constant) with a hash index. When
 * the ring is full of live entries, packets are dropped (fail closed) until
 * some expire: at most BCAST_REPLAY_MAX accepted packets per 2 * skew.
 */
#define BCAST_REPLAY_MAX	65536
#define BCAST_REPLAY_BUCKETS	65536		/* power of two */
#define BCAST_REPLAY_TTL	(2 * (uint64_t)BCAST_SKEW_MS)
#define BCAST_REPLAY_SHARE	2048		/* live entries one node may hold */
#define BCAST_NODES		256		/* nodes with live entries at once */

#define BCAST_SRC_RATE		50		/* packets a second from one source address, */
#define BCAST_SRC_BURST		200		/* in bursts of this many */
#define BCAST_SOURCES		256		/* source addresses tracked (the least recent is forgotten) */
#define BCAST_CERTS		64		/* verified certificates remembered */

#define BCAST_READ_BATCH	64		/* datagrams read per wakeup */

struct nonce_ent {
	uint8_t nonce[BCAST_NONCE_LEN];
	uint64_t expire;			/* ev_now() ms */
	int32_t next;				/* in its bucket's chain, -1 at the end */
	uint16_t node;				/* its sender, in nodes[] */
};

struct node_share {
	char name[BCAST_NODE_MAX + 1];
	uint32_t live;				/* its entries in the replay cache */
};

struct source {
	uint32_t addr;				/* IPv4, network order; 0: free */
	uint64_t tokens_ms;			/* packets * 1000 it may still send */
	uint64_t last;				/* ev_now() of its last packet */
};

struct known_cert {
	uint8_t hash[32];			/* SHA-256 of the DER */
	X509 *cert;				/* NULL: free */
	char node[BCAST_NODE_MAX + 1];		/* its CN, checked */
};

static struct {
	int ready;
	struct ev_loop *loop;
	struct ev_io io;
	int fd;
	struct sockaddr_in dest;
	char node[BCAST_NODE_MAX + 1];
	uint64_t incarnation;
	char crl_path[PATH_MAX];
	EVP_PKEY *key;
	uint8_t *cert_der;
	size_t cert_len;
	X509 *ca;
	X509_CRL *crl;
	int crl_bad;				/* a CRL exists but none verifies: refuse every packet */
	void (*recv)(const char *node, uint64_t incarnation, uint8_t type, const uint8_t *p,
	    size_t n, const struct sockaddr_in *from);
	int64_t clock_offset;			/* test hook: ms added to the wall clock */

	struct nonce_ent ring[BCAST_REPLAY_MAX];
	int32_t bucket[BCAST_REPLAY_BUCKETS];
	uint32_t head, count;			/* oldest entry, live entries */
	uint64_t hashkey;
	struct node_share nodes[BCAST_NODES];
	struct source sources[BCAST_SOURCES];
	struct known_cert certs[BCAST_CERTS];
	unsigned next_cert;			/* the slot a new certificate takes */
} B = { .fd = -1 };

static uint64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000 + (uint64_t)B.clock_offset;
}

/* ---- replay cache ---- */

static uint32_t
nonce_hash(const uint8_t *nonce)
{
	uint64_t a, b;

	memcpy(&a, nonce, 8);
	memcpy(&b, nonce + 8, 8);
	a = (a ^ B.hashkey) * 0x9e3779b97f4a7c15ull;
	a ^= b + (a >> 29);
	a *= 0xbf58476d1ce4e5b9ull;
	return (uint32_t)(a >> 32) & (BCAST_REPLAY_BUCKETS - 1);
}

static void
replay_expire(uint64_t now)
{
	while (B.count > 0 && B.ring[B.head].expire <= now) {
		struct nonce_ent *e = &B.ring[B.head];
		int32_t *pp = &B.bucket[nonce_hash(e->nonce)];

		while (*pp != -1 && *pp != (int32_t)B.head)
			pp = &B.ring[*pp].next;
		if (*pp == (int32_t)B.head)
			*pp = e->next;
		B.nodes[e->node].live--;
		B.head = (B.head + 1) % BCAST_REPLAY_MAX;
		B.count--;
	}
}

static int
replay_seen(const uint8_t *nonce)
{
	int32_t i;

	for (i = B.bucket[nonce_hash(nonce)]; i != -1; i = B.ring[i].next)
		if (CRYPTO_memcmp(B.ring[i].nonce, nonce, BCAST_NONCE_LEN) == 0)
			return 1;
	return 0;
}

/* node's slot in nodes[] (taken if it has none), or -1 when every slot has live entries. */
static int
node_slot(const char *node)
{
	int i, free_slot = -1;

	for (i = 0; i < BCAST_NODES; i++) {
		if (B.nodes[i].live > 0 && strcmp(B.nodes[i].name, node) == 0)
			return i;
		if (B.nodes[i].live == 0 && free_slot < 0)
			free_slot = i;
	}
	if (free_slot >= 0)
		snprintf(B.nodes[free_slot].name, sizeof(B.nodes[free_slot].name), "%s", node);
	return free_slot;
}

/* 0, or -1 with why when the cache, or node's share of it, is full of live entries. */
static int
replay_add(const uint8_t *nonce, uint64_t now, const char *node, const char **why)
{
	uint32_t slot, h;
	int n = node_slot(node);

	if (n < 0 || B.count == BCAST_REPLAY_MAX) {
		*why = "replay cache full";
		return -1;
	}
	if (B.nodes[n].live >= BCAST_REPLAY_SHARE) {
		*why = "over its share of the replay cache";
		return -1;
	}
	slot = (B.head + B.count) % BCAST_REPLAY_MAX;
	h = nonce_hash(nonce);
	memcpy(B.ring[slot].nonce, nonce, BCAST_NONCE_LEN);
	B.ring[slot].expire = now + BCAST_REPLAY_TTL;
	B.ring[slot].next = B.bucket[h];
	B.ring[slot].node = (uint16_t)n;
	B.bucket[h] = (int32_t)slot;
	B.nodes[n].live++;
	B.count++;
	return 0;
}

/* ---- per-source rate ---- */

/* 1 when a packet from addr is within its rate (and counted), 0 when over it. */
static int
source_admit(uint32_t addr, uint64_t now)
{
	struct source *s = NULL, *oldest = &B.sources[0];
	uint64_t cap = (uint64_t)BCAST_SRC_BURST * 1000;
	int i;

	for (i = 0; i < BCAST_SOURCES; i++) {
		if (B.sources[i].addr == addr) {
			s = &B.sources[i];
			break;
		}
		if (B.sources[i].last < oldest->last)
			oldest = &B.sources[i];
	}
	if (s == NULL) {
		s = oldest;
		s->addr = addr;
		s->tokens_ms = cap;
		s->last = now;
	}
	s->tokens_ms += (now - s->last) * BCAST_SRC_RATE;
	if (s->tokens_ms > cap)
		s->tokens_ms = cap;
	s->last = now;
	if (s->tokens_ms < 1000)
		return 0;
	s->tokens_ms -= 1000;
	return 1;
}

/* ---- verified certificates ---- */

static void
certs_clear(void)
{
	int i;

	for (i = 0; i < BCAST_CERTS; i++) {
		X509_free(B.certs[i].cert);
		B.certs[i].cert = NULL;
	}
}

/* A certificate seen and verified before for node, still within its validity; NULL if none. */
static X509 *
cert_known(const uint8_t hash[32], const char *node)
{
	int i;

	for (i = 0; i < BCAST_CERTS; i++) {
		struct known_cert *k = &B.certs[i];
		if (k->cert == NULL || memcmp(k->hash, hash, 32) != 0 || strcmp(k->node, node) != 0)
			continue;
		if (X509_cmp_time(X509_get0_notAfter(k->cert), NULL) <= 0) {
			X509_free(k->cert);	/* expired since: verify again, and fail */
			k->cert = NULL;
			return NULL;
		}
		return k->cert;
	}
	return NULL;
}

static void
cert_remember(const uint8_t hash[32], const char *node, X509 *cert)
{
	struct known_cert *k = &B.certs[B.next_cert];

	B.next_cert = (B.next_cert + 1) % BCAST_CERTS;
	X509_free(k->cert);
	memcpy(k->hash, hash, 32);
	snprintf(k->node, sizeof(k->node), "%s", node);
	X509_up_ref(cert);
	k->cert = cert;
}

/* ---- drop lines: throttled (libcommon/log.h), a peer may send any number ---- */

static void
drop(const struct sockaddr_in *from, const char *node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
drop(const struct sockaddr_in *from, const char *node, const char *fmt, ...)
{
	static struct log_throttle thr = LOG_THROTTLE_INIT("bcast: dropped packets", LOG_WARNING);
	char addr[INET_ADDRSTRLEN], reason[CRYPTO_WHY_MAX + 64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	inet_ntop(AF_INET, &from->sin_addr, addr, sizeof(addr));
	if (node != NULL)
		log_throttled(&thr, "bcast: dropped packet from %s:%u (node %s): %s", addr,
		    ntohs(from->sin_port), node, reason);
	else
		log_throttled(&thr, "bcast: dropped packet from %s:%u: %s", addr, ntohs(from->sin_port), reason);
}

/* ---- receiving ---- */

static void
handle(const uint8_t *p, size_t n, const struct sockaddr_in *from)
{
	char why[CRYPTO_WHY_MAX];
	struct bcast_pkt pkt;
	const char *perr;
	const uint8_t *der;
	uint8_t hash[32];
	X509 *cert, *known;
	uint64_t now = wall_ms(), mono = ev_now(), skew;
	int r;

	if (!source_admit(from->sin_addr.s_addr, mono)) {
		drop(from, NULL, "over the rate of %d packets a second from one address", BCAST_SRC_RATE);
		return;
	}
	if (bcast_parse(p, n, &pkt, &perr) != 0) {
		drop(from, NULL, "malformed: %s", perr);
		return;
	}
	if (pkt.incarnation == B.incarnation && strcmp(pkt.node, B.node) == 0)
		return;					/* our own, looped back */
	skew = pkt.timestamp > now ? pkt.timestamp - now : now - pkt.timestamp;
	if (skew > BCAST_SKEW_MS) {
		drop(from, pkt.node, "stale timestamp: %llu s %s our clock",
		    (unsigned long long)(skew + 500) / 1000, pkt.timestamp > now ? "ahead of" : "behind");
		return;
	}
	replay_expire(mono);
	if (replay_seen(pkt.nonce)) {
		drop(from, pkt.node, "replayed nonce");
		return;
	}
	if (B.crl_bad) {
		drop(from, pkt.node, "revocation list does not verify: refusing every packet");
		return;
	}
	if (EVP_Digest(pkt.cert, pkt.cert_len, hash, NULL, EVP_sha256(), NULL) != 1) {
		ERR_clear_error();
		drop(from, pkt.node, "certificate: cannot hash it");
		return;
	}
	if ((known = cert_known(hash, pkt.node)) != NULL) {
		cert = known;
	} else {
		der = pkt.cert;
		cert = d2i_X509(NULL, &der, (long)pkt.cert_len);
		if (cert == NULL || der != pkt.cert + pkt.cert_len) {
			ERR_clear_error();
			X509_free(cert);
			drop(from, pkt.node, "certificate: not a DER certificate");
			return;
		}
		if (crypto_cert_verify(cert, B.ca, B.crl, pkt.node, why, sizeof(why)) != 0) {
			X509_free(cert);
			drop(from, pkt.node, "certificate: %s", why);
			return;
		}
		cert_remember(hash, pkt.node, cert);
	}
	r = crypto_verify(X509_get0_pubkey(cert), p, pkt.signed_len, pkt.sig, BCAST_SIG_LEN);
	if (known == NULL)
		X509_free(cert);	/* the cache keeps its own reference */
	if (r != 0) {
		drop(from, pkt.node, "bad signature");
		return;
	}
	if (replay_add(pkt.nonce, mono, pkt.node, &perr) != 0) {
		drop(from, pkt.node, "%s (%d packets of one node, %d in all, in %d s)", perr, BCAST_REPLAY_SHARE,
		    BCAST_REPLAY_MAX, (int)(BCAST_REPLAY_TTL / 1000));
		return;
	}
	log_debug("bcast: type %u from %s (incarnation %llu), %zu bytes", pkt.type, pkt.node,
	    (unsigned long long)pkt.incarnation, pkt.payload_len);
	B.recv(pkt.node, pkt.incarnation, pkt.type, pkt.payload, pkt.payload_len, from);
}

static void
on_read(struct ev_io *io, uint32_t revents)
{
	uint8_t buf[BCAST_PACKET_MAX + 1];
	struct sockaddr_in from;
	socklen_t fromlen;
	ssize_t n;
	int i;

	(void)revents;
	for (i = 0; i < BCAST_READ_BATCH && B.ready; i++) {
		fromlen = sizeof(from);
		n = recvfrom(io->fd, buf, sizeof(buf), MSG_TRUNC, (struct sockaddr *)&from, &fromlen);
		if (n < 0) {
			static struct log_throttle thr = LOG_THROTTLE_INIT("bcast: recvfrom", LOG_WARNING);
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				log_throttled(&thr, "bcast: recvfrom: %s", strerror(errno));
			return;
		}
		if (fromlen < sizeof(from) || from.sin_family != AF_INET)
			continue;
		if ((size_t)n > BCAST_PACKET_MAX) {
			drop(&from, NULL, "malformed: packet too long (%zd bytes)", n);
			continue;
		}
		handle(buf, (size_t)n, &from);
	}
}

/* ---- setup ---- */

/* "ADDR[:PORT]", IPv4 only. */
static int
parse_addr(const char *s, struct sockaddr_in *sin, char *why, size_t whysz)
{
	char host[INET_ADDRSTRLEN];
	const char *colon = strchr(s, ':');
	size_t hl = colon != NULL ? (size_t)(colon - s) : strlen(s);
	unsigned long port = BCAST_DEFAULT_PORT;
	char *end;

	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	if (hl == 0 || hl >= sizeof(host))
		return crypto_fail(why, whysz, -1, "broadcast address '%s': not an IPv4 address", s);
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
		return crypto_fail(why, whysz, -1, "broadcast address '%s': not an IPv4 address", s);
	if (colon != NULL) {
		errno = 0;
		port = strtoul(colon + 1, &end, 10);
		if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || errno != 0 || port == 0 ||
		    port > 65535)
			return crypto_fail(why, whysz, -1, "broadcast address '%s': bad port", s);
	}
	sin->sin_port = htons((uint16_t)port);
	return 0;
}

static int
path_join(char *out, size_t outsz, const char *dir, const char *file, char *why, size_t whysz)
{
	int k = snprintf(out, outsz, "%s/%s", dir, file);

	if (k < 0 || (size_t)k >= outsz)
		return crypto_fail(why, whysz, -1, "%s/%s: path too long", dir, file);
	return 0;
}

/*
 * Load revoked.crl: 0 with *out (NULL when there is none), or -1 with why
 * when it cannot be read or does not verify with the CA.
 */
static int
crl_load(X509_CRL **out, char *why, size_t whysz)
{
	char w[CRYPTO_WHY_MAX];
	int r;

	*out = NULL;
	r = crypto_crl_load(B.crl_path, out, why, whysz);
	if (r == -MX_ERR_NOENT)
		return 0;
	if (r != 0)
		return -1;
	if (crypto_crl_check(*out, B.ca, w, sizeof(w)) != 0) {
		X509_CRL_free(*out);
		*out = NULL;
		return crypto_fail(why, whysz, -1, "%s: %s", B.crl_path, w);
	}
	return 0;
}

static void
state_free(void)
{
	EVP_PKEY_free(B.key);
	X509_free(B.ca);
	X509_CRL_free(B.crl);
	OPENSSL_free(B.cert_der);
	B.key = NULL;
	B.ca = NULL;
	B.crl = NULL;
	B.cert_der = NULL;
	B.cert_len = 0;
}

int
bcast_init(struct ev_loop *loop, const struct bcast_conf *conf,
    void (*recv)(const char *node, uint64_t incarnation, uint8_t type, const uint8_t *p, size_t n,
	const struct sockaddr_in *from),
    char *why, size_t whysz)
{
	char path[PATH_MAX], w[CRYPTO_WHY_MAX];
	X509 *cert = NULL;
	unsigned char *der = NULL;
	int one = 1, len, fd = -1;
	uint32_t i;

	if (B.ready)
		return crypto_fail(why, whysz, -1, "broadcast already set up");
	if (!crypto_node_name_valid(conf->node))
		return crypto_fail(why, whysz, -1, "node name '%s' is not valid", conf->node);
	if (parse_addr(conf->addr, &B.dest, why, whysz) != 0)
		return -1;
	snprintf(B.node, sizeof(B.node), "%s", conf->node);
	B.incarnation = conf->incarnation;
	B.recv = recv;
	B.loop = loop;

	/* Our key (refused when group or world readable) and certificate. */
	if (path_join(path, sizeof(path), conf->state_dir, "node.key", why, whysz) != 0 ||
	    crypto_key_load(path, NULL, &B.key, why, whysz) != 0)
		goto fail;
	if (path_join(path, sizeof(path), conf->state_dir, "ca.crt", why, whysz) != 0 ||
	    crypto_cert_load(path, &B.ca, why, whysz) != 0)
		goto fail;
	if (path_join(B.crl_path, sizeof(B.crl_path), conf->state_dir, "revoked.crl", why, whysz) != 0)
		goto fail;
	if (crl_load(&B.crl, w, sizeof(w)) != 0) {
		/* Fail closed, as keysrv does: no packet is accepted until it is fixed. */
		log_warnx("bcast: %s: refusing every packet until a good one is loaded (SIGHUP)", w);
		B.crl_bad = 1;
	}
	if (path_join(path, sizeof(path), conf->state_dir, "node.crt", why, whysz) != 0 ||
	    crypto_cert_load(path, &cert, why, whysz) != 0)
		goto fail;
	if (EVP_PKEY_eq(X509_get0_pubkey(cert), B.key) != 1) {
		ERR_clear_error();
		crypto_fail(why, whysz, -1, "%s: not the certificate of %s/node.key", path,
		    conf->state_dir);
		goto fail;
	}
	if (crypto_cert_verify(cert, B.ca, B.crl, B.node, w, sizeof(w)) != 0) {
		crypto_fail(why, whysz, -1, "%s: %s", path, w);
		goto fail;
	}
	if ((len = i2d_X509(cert, &der)) <= 0 || (size_t)len > BCAST_CERT_MAX) {
		ERR_clear_error();
		crypto_fail(why, whysz, -1, "%s: certificate too large for a broadcast packet", path);
		goto fail;
	}
	B.cert_der = der;
	B.cert_len = (size_t)len;
	X509_free(cert);
	cert = NULL;

	/*
	 * No SO_REUSEADDR nor SO_REUSEPORT: with either, another local socket
	 * may bind the same port (any user's with SO_REUSEADDR, the same
	 * uid's with SO_REUSEPORT) and receive the unicast datagrams meant
	 * for us. So the port is ours alone, one portd per port and host.
	 */
	if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one)) < 0) {
		crypto_fail(why, whysz, -1, "broadcast socket: %s", strerror(errno));
		goto fail;
	}
	{
		struct sockaddr_in any = { .sin_family = AF_INET, .sin_port = B.dest.sin_port,
					   .sin_addr.s_addr = htonl(INADDR_ANY) };

		if (bind(fd, (struct sockaddr *)&any, sizeof(any)) < 0) {
			crypto_fail(why, whysz, -1, "broadcast socket: bind to port %u: %s",
			    ntohs(B.dest.sin_port), strerror(errno));
			goto fail;
		}
	}
	if (getrandom(&B.hashkey, sizeof(B.hashkey), 0) != sizeof(B.hashkey)) {
		crypto_fail(why, whysz, -1, "getrandom: %s", strerror(errno));
		goto fail;
	}
	for (i = 0; i < BCAST_REPLAY_BUCKETS; i++)
		B.bucket[i] = -1;
	B.head = B.count = 0;
	memset(B.nodes, 0, sizeof(B.nodes));
	memset(B.sources, 0, sizeof(B.sources));
	B.io.cb = on_read;
	if (ev_io_add(loop, &B.io, fd, EPOLLIN) < 0) {
		crypto_fail(why, whysz, -1, "broadcast socket: epoll: %s", strerror(errno));
		goto fail;
	}
	B.fd = fd;
	B.ready = 1;
	return 0;

fail:
	if (fd >= 0)
		close(fd);
	X509_free(cert);
	state_free();
	B.crl_bad = 0;
	return -1;
}

/* ---- sending ---- */

ssize_t
bcast_pack_signed(uint8_t type, const void *p, size_t n, uint8_t *out, size_t outsz)
{
	uint8_t nonce[BCAST_NONCE_LEN];
	size_t len;

	if (!B.ready || n > BCAST_PAYLOAD_MAX) {
		errno = B.ready ? EMSGSIZE : ENOTCONN;
		return -1;
	}
	if (getrandom(nonce, sizeof(nonce), 0) != sizeof(nonce))
		return -1;
	len = bcast_pack(out, outsz, type, B.node, B.incarnation, wall_ms(), nonce, p, n,
	    B.cert_der, B.cert_len);
	if (len == 0 || outsz - len < BCAST_SIG_LEN) {
		errno = EINVAL;
		return -1;
	}
	if (crypto_sign(B.key, out, len, out + len) != 0) {
		errno = EIO;
		return -1;
	}
	return (ssize_t)(len + BCAST_SIG_LEN);
}

int
bcast_send_raw(const void *pkt, size_t n)
{
	if (!B.ready) {
		errno = ENOTCONN;
		return -1;
	}
	if (sendto(B.fd, pkt, n, 0, (const struct sockaddr *)&B.dest, sizeof(B.dest)) < 0)
		return -1;
	return 0;
}

int
bcast_send(uint8_t type, const void *p, size_t n)
{
	uint8_t buf[BCAST_PACKET_MAX];
	ssize_t len;

	if ((len = bcast_pack_signed(type, p, n, buf, sizeof(buf))) < 0)
		return -1;
	return bcast_send_raw(buf, (size_t)len);
}

/* ---- reload, close, test hooks ---- */

void
bcast_reload(void)
{
	char why[CRYPTO_WHY_MAX];
	X509_CRL *crl;

	if (!B.ready)
		return;
	if (crl_load(&crl, why, sizeof(why)) != 0) {
		if (B.crl_bad || B.crl == NULL) {
			/* Nothing good to fall back on: fail closed. */
			B.crl_bad = 1;
			log_warnx("bcast: %s: refusing every packet until a good one is loaded", why);
		} else {
			log_warnx("bcast: %s: keeping the previous revocation list", why);
		}
		return;
	}
	if (crl == NULL && B.crl != NULL) {
		log_warnx("bcast: %s: missing, keeping the previous revocation list", B.crl_path);
		return;
	}
	X509_CRL_free(B.crl);
	B.crl = crl;
	B.crl_bad = 0;
	certs_clear();		/* every certificate is checked against the new list */
	log_info("bcast: revocation list %s", crl != NULL ? "reloaded" : "absent");
}

void
bcast_close(void)
{
	if (!B.ready)
		return;
	certs_clear();
	ev_io_del(B.loop, &B.io);
	close(B.fd);
	B.fd = -1;
	state_free();
	B.crl_bad = 0;
	B.ready = 0;
	OPENSSL_cleanse(&B.hashkey, sizeof(B.hashkey));
}

void
bcast_test_clock_offset(int64_t ms)
{
	B.clock_offset = ms;
}
