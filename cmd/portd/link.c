/*
 * link.c — portd-to-portd links on the event loop: listening, connecting
 * (static peers kept with backoff, one-off connections to announced nodes),
 * the TLS handshake under a deadline, HELLO exchange, frames in and out,
 * one link per pair of nodes, and closing.
 *
 * A link goes CONNECT (outgoing TCP) -> TLS (handshake, the peer's
 * certificate checked inside it) -> HELLO (awaiting the peer's) -> ACCEPT
 * (the follower only: awaiting the leader's choice) -> UP (cb->up called)
 * -> DEAD. A dead link is unhooked from the loop at once
 * and freed from a timer that runs after the current batch of events.
 */
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include "crypto.h"
#include "log.h"
#include "link.h"
#include "wire.h"

#define HANDSHAKE_MS	10000		/* connect + TLS + HELLO */
#define BACKOFF_MIN_MS	200
#define BACKOFF_MAX_MS	10000
#define STABLE_MS	5000		/* up this long: the next failure starts backoff over */
#define ONESHOT_TRIES	3		/* links_connect attempts */
#define READ_BUDGET	(1u << 20)	/* bytes read per wakeup before yielding */
#define ADDR_MAX	(INET6_ADDRSTRLEN + 8)
#define HOST_MAX	256
#define LISTEN_MAX	8

enum { L_CONNECT, L_TLS, L_HELLO, L_ACCEPT, L_UP, L_DEAD };

struct lpeer;

struct link {
	LIST_ENTRY(link) entry;		/* links, or zombies once dead */
	LIST_ENTRY(link) fentry;	/* flushq */
	int state;
	int fd;
	struct ev_io io;
	struct ev_timer timer;		/* handshake deadline */
	SSL *ssl;
	struct link_tls_state tls;
	struct lpeer *peer;		/* the peer entry that made it; NULL: accepted */
	int outgoing;
	int leader;			/* our name sorts first: we pick the link */
	int upcalled;			/* cb->up was called */
	int flushing;			/* on flushq */
	int rd_want_w, wr_want_r;	/* SSL wants the other direction */
	char addr[ADDR_MAX];		/* numeric address */
	char desc[HOST_MAX + ADDR_MAX + 16];	/* "to host:port (addr)" / "from addr" */
	char node[CRYPTO_NODE_MAX + 1];
	uint64_t inc;
	uint64_t up_at;
	struct link_outq out;
	struct link_inbuf in;
};
LIST_HEAD(linklist, link);

/* A peer address we connect to: static (kept) or one-off (links_connect). */
struct lpeer {
	LIST_ENTRY(lpeer) entry;
	char host[HOST_MAX];
	char port[8];
	char expect[CRYPTO_NODE_MAX + 1];	/* node name required, "" for any */
	char node[CRYPTO_NODE_MAX + 1];		/* node learned from its HELLO */
	int oneshot, tries;
	int self;				/* it is this node: stop */
	uint64_t backoff;
	struct ev_timer timer;
	struct link *conn;			/* the link it made, while alive */
};
LIST_HEAD(lpeerlist, lpeer);

struct listener {
	struct ev_io io;
	char addr[ADDR_MAX];
};

static struct ev_loop *loop;
static struct link_cb cb;
static char self_node[CRYPTO_NODE_MAX + 1];
static uint64_t self_inc;
static struct linklist links = LIST_HEAD_INITIALIZER(links);
static struct linklist zombies = LIST_HEAD_INITIALIZER(zombies);
static struct linklist flushq = LIST_HEAD_INITIALIZER(flushq);
static struct lpeerlist peers = LIST_HEAD_INITIALIZER(peers);
static struct listener listeners[LISTEN_MAX];
static int nlisteners;
static struct ev_timer kick;		/* flushes and frees after the batch */
static int closing_all;

static void link_io(struct ev_io *io, uint32_t revents);
static void link_read(struct link *l);
static void peer_schedule(struct lpeer *p, uint64_t delay);
static void peer_drop(struct lpeer *p);
static void peer_connect(struct lpeer *p);

/* ---- small helpers ---- */


static void
addr_format(const struct sockaddr *sa, char *out, size_t outsz)
{
	char h[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], h, sizeof(h));
			snprintf(out, outsz, "%s:%u", h, ntohs(s6->sin6_port));
		} else {
			inet_ntop(AF_INET6, &s6->sin6_addr, h, sizeof(h));
			snprintf(out, outsz, "[%s]:%u", h, ntohs(s6->sin6_port));
		}
	} else if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;
		inet_ntop(AF_INET, &s4->sin_addr, h, sizeof(h));
		snprintf(out, outsz, "%s:%u", h, ntohs(s4->sin_port));
	} else {
		snprintf(out, outsz, "?");
	}
}

/*
 * "HOST:PORT", "[HOST]:PORT", "HOST" (with defport), ":PORT" (host "").
 * -1 with why when malformed.
 */
static int
hostport_split(const char *s, char *host, size_t hostsz, char *port, size_t portsz,
    int defport, char *why, size_t whysz)
{
	const char *colon, *h = s, *pe;
	size_t hl;
	char *end;
	unsigned long n;

	if (s[0] == '[') {
		if ((pe = strchr(s, ']')) == NULL)
			goto bad;
		h = s + 1;
		hl = (size_t)(pe - h);
		colon = pe[1] == ':' ? pe + 1 : NULL;
		if (pe[1] != '\0' && colon == NULL)
			goto bad;
	} else {
		colon = strrchr(s, ':');
		if (colon != NULL && strchr(s, ':') != colon)
			goto bad;	/* a bare IPv6 address needs brackets */
		hl = colon != NULL ? (size_t)(colon - s) : strlen(s);
	}
	if (hl >= hostsz)
		goto bad;
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (colon == NULL) {
		if (defport < 0)
			goto bad;
		snprintf(port, portsz, "%d", defport);
		return 0;
	}
	errno = 0;
	n = strtoul(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno != 0 || n == 0 || n > 65535 ||
	    (colon[1] < '0' || colon[1] > '9'))
		goto bad;
	snprintf(port, portsz, "%lu", n);
	return 0;
bad:
	snprintf(why, whysz, "'%s': not [HOST]:PORT", s);
	return -1;
}

int
link_addr_check(const char *s, int defport, char *why, size_t whysz)
{
	char host[256], port[16];

	return hostport_split(s, host, sizeof(host), port, sizeof(port), defport, why, whysz);
}

static int
host_numeric(const char *h)
{
	struct in6_addr a6;

	return inet_pton(AF_INET, h, &a6) == 1 || inet_pton(AF_INET6, h, &a6) == 1;
}

static void
sock_tune(int fd)
{
	int one = 1, idle = 5, intvl = 2, cnt = 3;
	unsigned int uto = 15000;

	/* A dead peer is noticed within about 15 s, idle or not. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &uto, sizeof(uto));
}

static void
kick_arm(void)
{
	if (!ev_timer_armed(&kick))
		ev_timer_arm(loop, &kick, 0);
}

/* ---- link life ---- */

static void link_deadline(struct ev_timer *t);

static struct link *
link_new(int fd, int outgoing, const char *addr)
{
	struct link *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return NULL;
	l->fd = fd;
	l->outgoing = outgoing;
	l->state = outgoing ? L_CONNECT : L_TLS;
	snprintf(l->addr, sizeof(l->addr), "%s", addr);
	snprintf(l->desc, sizeof(l->desc), "%s %s", outgoing ? "to" : "from", addr);
	l->io.cb = link_io;
	l->io.arg = l;
	l->io.fd = -1;
	ev_timer_init(&l->timer, link_deadline, l);
	if (ev_io_add(loop, &l->io, fd, outgoing ? EPOLLOUT : EPOLLIN) < 0) {
		free(l);
		return NULL;
	}
	ev_timer_arm(loop, &l->timer, ev_now() + HANDSHAKE_MS);
	LIST_INSERT_HEAD(&links, l, entry);
	return l;
}

static void
link_free(struct link *l)
{
	link_outq_clear(&l->out);
	link_inbuf_free(&l->in);
	free(l);
}

/* Peers whose node is n may reconnect now that its link is gone. */
static void
peers_wake(const char *n)
{
	struct lpeer *p, *next;

	for (p = LIST_FIRST(&peers); p != NULL; p = next) {
		next = LIST_NEXT(p, entry);
		if (p->conn == NULL && !p->self && strcmp(p->node, n) == 0)
			peer_schedule(p, p->backoff);
	}
}

/*
 * Close l: unhook it from the loop and from its peer entry, tell portd if
 * it knew the link, and leave it to be freed after this batch of events.
 * quiet: a routine close (duplicate, shutdown, the peer's orderly close of
 * an up link, portd's own link_close) that needs no warning.
 */
static void
link_end(struct link *l, const char *why, int quiet)
{
	struct lpeer *p = l->peer;
	int was_up = l->state == L_UP;

	if (l->state == L_DEAD)
		return;
	l->state = L_DEAD;
	LIST_REMOVE(l, entry);
	if (l->flushing) {
		LIST_REMOVE(l, fentry);
		l->flushing = 0;
	}
	ev_timer_disarm(loop, &l->timer);
	ev_io_del(loop, &l->io);
	if (l->ssl != NULL) {
		/* close_notify, best effort: the socket is non-blocking. */
		if (SSL_is_init_finished(l->ssl))
			SSL_shutdown(l->ssl);
		SSL_free(l->ssl);
		l->ssl = NULL;
	}
	ERR_clear_error();
	close(l->fd);
	l->fd = -1;
	link_outq_clear(&l->out);
	LIST_INSERT_HEAD(&zombies, l, entry);
	kick_arm();

	if (!quiet)
		log_warnx("link %s: %s", l->desc, why);
	else
		log_debug("link %s: %s", l->desc, why);
	if (p != NULL) {
		l->peer = NULL;
		p->conn = NULL;
		if (!closing_all) {
			if (was_up && ev_now() - l->up_at >= STABLE_MS)
				p->backoff = BACKOFF_MIN_MS;
			peer_schedule(p, p->backoff);
		}
	}
	if (l->upcalled) {
		l->upcalled = 0;
		if (cb.down != NULL)
			cb.down(l, why);
	}
	if (was_up && !closing_all)
		peers_wake(l->node);
}

void
link_close(struct link *l, const char *why)
{
	link_end(l, why, 1);
}

static void
link_deadline(struct ev_timer *t)
{
	struct link *l = t->arg;

	link_end(l, l->state == L_CONNECT ? "connect: timed out" :
	    l->state == L_TLS ? "TLS handshake timed out" : "no HELLO from the peer in time", 0);
}

static void
link_watch(struct link *l)
{
	uint32_t ev = EPOLLIN;

	if (l->state == L_CONNECT)
		ev = EPOLLOUT;
	else if (l->rd_want_w || (l->out.head != NULL && !l->wr_want_r))
		ev |= EPOLLOUT;
	ev_io_set(loop, &l->io, ev);
}

/* Write out; 0, or -1 when the link died. */
static int
link_flush(struct link *l)
{
	char why[256];
	int e = 0, r;

	if (l->state < L_HELLO || l->out.head == NULL)
		return 0;
	l->wr_want_r = 0;
	r = link_outq_flush(&l->out, l->ssl, &e, why, sizeof(why));
	if (r < 0) {
		link_end(l, why, 0);
		return -1;
	}
	if (r == 0 && e == SSL_ERROR_WANT_READ)
		l->wr_want_r = 1;
	link_watch(l);
	return 0;
}

static void
flush_later(struct link *l)
{
	if (!l->flushing) {
		l->flushing = 1;
		LIST_INSERT_HEAD(&flushq, l, fentry);
	}
	kick_arm();
}

static void kick_cb(struct ev_timer *t);

char *
link_peer_cert_pem(const struct link *l, size_t *len)
{
	X509 *cert = l->ssl != NULL ? SSL_get0_peer_certificate(l->ssl) : NULL;
	char *pem = NULL;

	if (cert == NULL || crypto_cert_pem(cert, &pem, len) != 0)
		return NULL;
	return pem;
}

void
links_flush(void)
{
	kick_cb(NULL);
}

static void
kick_cb(struct ev_timer *t)
{
	struct link *l;

	(void)t;
	while ((l = LIST_FIRST(&flushq)) != NULL) {
		LIST_REMOVE(l, fentry);
		l->flushing = 0;
		link_flush(l);
	}
	while ((l = LIST_FIRST(&zombies)) != NULL) {
		LIST_REMOVE(l, entry);
		link_free(l);
	}
}

static int
queue_frame(struct link *l, uint8_t type, const void *a, size_t alen, const void *b, size_t blen)
{
	uint8_t h[LINK_HDR];

	if (alen > LINK_FRAME_MAX || blen > LINK_FRAME_MAX - alen)
		return -1;
	link_frame_hdr(h, type, (uint32_t)(alen + blen));
	if (link_outq_put(&l->out, h, sizeof(h)) < 0 ||
	    (alen > 0 && link_outq_put(&l->out, a, alen) < 0) ||
	    (blen > 0 && link_outq_put(&l->out, b, blen) < 0)) {
		link_end(l, "out of memory for output", 0);
		return -1;
	}
	flush_later(l);
	return 0;
}

/* ---- one link per pair of nodes ---- */

/*
 * Of two nodes, the one whose name sorts first (the leader) decides which
 * link carries their traffic, so the two ends never disagree, however the
 * links cross:
 *
 *   leader                          follower
 *   TLS done: HELLO  ------------>  a live link (ACCEPT sent or up) to the
 *                                   same incarnation: close this one;
 *                                   else: HELLO, wait for ACCEPT
 *   HELLO: any older link to it is
 *   stale (the follower answers on
 *   one link only); ACCEPT, up  --> ACCEPT: up
 *
 * Nothing but HELLO and ACCEPT travels before a link is up on both ends.
 */

/* The link to node other than l that is up, or waiting for ACCEPT; NULL if none. */
static struct link *
link_other(const struct link *l, const char *node)
{
	struct link *o;

	LIST_FOREACH(o, &links, entry) {
		if (o != l && (o->state == L_UP || o->state == L_ACCEPT) && strcmp(o->node, node) == 0)
			return o;
	}
	return NULL;
}

static void
link_send_hello(struct link *l)
{
	uint8_t hello[1 + CRYPTO_NODE_MAX + 8];
	size_t n = strlen(self_node);

	hello[0] = (uint8_t)n;
	memcpy(hello + 1, self_node, n);
	put_u64(hello + 1 + n, self_inc);
	queue_frame(l, LINK_HELLO, hello, 1 + n + 8, NULL, 0);
}

static void
link_up(struct link *l)
{
	ev_timer_disarm(loop, &l->timer);
	l->state = L_UP;
	l->up_at = ev_now();
	l->upcalled = 1;
	if (l->peer != NULL) {
		l->peer->tries = 0;
		if (l->peer->oneshot)
			peer_drop(l->peer);	/* its job is done; no reconnecting */
	}
	log_debug("link %s: up", l->desc);
	if (cb.up != NULL)
		cb.up(l, l->node, l->inc);
}

static void
link_hello(struct link *l, const uint8_t *p, uint32_t len)
{
	char name[CRYPTO_NODE_MAX + 1], why[256];
	struct link *o;
	uint64_t inc;

	if (len < 1 + 8 || p[0] == 0 || p[0] > CRYPTO_NODE_MAX || len != 1u + p[0] + 8u) {
		link_end(l, "malformed HELLO", 0);
		return;
	}
	memcpy(name, p + 1, p[0]);
	name[p[0]] = '\0';
	inc = get_u64(p + 1 + p[0]);
	if (!crypto_node_name_valid(name) || strcmp(name, l->tls.cn) != 0) {
		snprintf(why, sizeof(why), "HELLO from node '%.63s' over a certificate for '%s'",
		    crypto_node_name_valid(name) ? name : "?", l->tls.cn);
		link_end(l, why, 0);
		return;
	}
	snprintf(l->node, sizeof(l->node), "%s", name);
	l->inc = inc;
	snprintf(l->desc + strlen(l->desc), sizeof(l->desc) - strlen(l->desc), " (%s)", name);
	if ((o = link_other(l, name)) != NULL) {
		if (o->inc != inc)
			link_end(o, "replaced by a new incarnation of the node", 1);
		else if (l->leader)
			/* The follower answers on one link only: it is done with o. */
			link_end(o, "replaced by the node's new link", 1);
		else {
			link_end(l, "duplicate link, the other one stays", 1);
			return;
		}
	}
	if (l->leader) {
		queue_frame(l, LINK_ACCEPT, NULL, 0, NULL, 0);
		if (l->state != L_DEAD)
			link_up(l);
	} else {
		l->state = L_ACCEPT;
		link_send_hello(l);
	}
}

/* TLS is up: make sure of the peer; the leader speaks first. */
static void
link_tls_done(struct link *l)
{
	char cn[CRYPTO_NODE_MAX + 1];
	X509 *cert = SSL_get0_peer_certificate(l->ssl);

	/* The handshake checked it; check that it did. */
	if (SSL_version(l->ssl) != TLS1_3_VERSION || cert == NULL ||
	    SSL_get_verify_result(l->ssl) != X509_V_OK || l->tls.cn[0] == '\0' ||
	    crypto_cert_node(cert, cn, sizeof(cn)) != 0 || strcmp(cn, l->tls.cn) != 0) {
		link_end(l, "peer not authenticated", 0);
		return;
	}
	if (l->peer != NULL)
		snprintf(l->peer->node, sizeof(l->peer->node), "%s", cn);
	if (strcmp(cn, self_node) == 0) {
		if (l->peer != NULL)
			l->peer->self = 1;
		link_end(l, "the peer is this node", 0);
		return;
	}
	l->state = L_HELLO;
	l->leader = strcmp(self_node, cn) < 0;
	if (l->leader)
		link_send_hello(l);
}

static void
link_handshake(struct link *l)
{
	char ebuf[160], why[400];
	int r, e;

	ERR_clear_error();
	errno = 0;
	r = SSL_do_handshake(l->ssl);
	if (r == 1) {
		l->rd_want_w = 0;
		link_tls_done(l);
		/* The peer's HELLO may sit in SSL's buffer already, where epoll cannot see it. */
		if (l->state == L_HELLO)
			link_read(l);
		return;
	}
	e = SSL_get_error(l->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		l->rd_want_w = e == SSL_ERROR_WANT_WRITE;
		link_watch(l);
		return;
	}
	if (l->tls.why[0] != '\0') {
		ERR_clear_error();
		snprintf(why, sizeof(why), "certificate refused: %s", l->tls.why);
	} else if (e == SSL_ERROR_SYSCALL && ERR_peek_last_error() == 0) {
		snprintf(why, sizeof(why), "TLS handshake failed: %s",
		    errno != 0 ? strerror(errno) : "connection closed");
	} else {
		snprintf(why, sizeof(why), "TLS handshake failed: %s", link_tls_err(ebuf, sizeof(ebuf)));
	}
	link_end(l, why, 0);
}

static void
link_start_tls(struct link *l)
{
	l->state = L_TLS;
	if ((l->ssl = link_tls_new(l->fd, !l->outgoing, &l->tls)) == NULL) {
		link_end(l, "TLS session: out of memory", 0);
		return;
	}
	link_handshake(l);
}

/* Read what is there, deliver complete frames. */
static void
link_read(struct link *l)
{
	char ebuf[160], why[256];
	size_t budget = READ_BUDGET;

	l->rd_want_w = 0;
	for (;;) {
		size_t off = 0;
		uint8_t type;
		const uint8_t *body;
		uint32_t len;
		int r, e, got;

		if (link_inbuf_reserve(&l->in) < 0) {
			link_end(l, "out of memory for input", 0);
			return;
		}
		ERR_clear_error();
		errno = 0;
		r = SSL_read(l->ssl, l->in.p + l->in.len, (int)(l->in.cap - l->in.len > INT_MAX ?
		    INT_MAX : l->in.cap - l->in.len));
		if (r <= 0) {
			e = SSL_get_error(l->ssl, r);
			if (e == SSL_ERROR_WANT_READ)
				break;
			if (e == SSL_ERROR_WANT_WRITE) {
				l->rd_want_w = 1;
				break;
			}
			if (e == SSL_ERROR_ZERO_RETURN)
				/* Before HELLO: a follower keeping another link to us closes this one. */
				link_end(l, "closed by the peer", l->upcalled ||
				    (l->state == L_HELLO && l->leader));
			else if (e == SSL_ERROR_SYSCALL && ERR_peek_last_error() == 0)
				link_end(l, errno != 0 ? strerror(errno) : "connection closed", 0);
			else {
				snprintf(why, sizeof(why), "read: %s", link_tls_err(ebuf, sizeof(ebuf)));
				link_end(l, why, 0);
			}
			return;
		}
		l->in.len += (size_t)r;
		while ((got = link_frame_next(&l->in, &off, &type, &body, &len, why, sizeof(why))) == 1) {
			if (l->state == L_HELLO) {
				if (type != LINK_HELLO) {
					link_end(l, "malformed frame: data before HELLO", 0);
					return;
				}
				link_hello(l, body, len);
			} else if (l->state == L_ACCEPT) {
				if (type != LINK_ACCEPT || len != 0) {
					link_end(l, type == LINK_HELLO ? "malformed frame: a second HELLO" :
					    "malformed frame: data before ACCEPT", 0);
					return;
				}
				link_up(l);
			} else if (type == LINK_HELLO) {
				link_end(l, "malformed frame: a second HELLO", 0);
				return;
			} else if (type == LINK_ACCEPT) {
				link_end(l, "malformed frame: an unexpected ACCEPT", 0);
				return;
			} else if (cb.frame != NULL) {
				cb.frame(l, type, body, len);
			}
			if (l->state == L_DEAD)
				return;		/* closed, by us or by portd */
		}
		if (got < 0) {
			link_end(l, why, 0);
			return;
		}
		link_inbuf_shift(&l->in, off);
		budget = (size_t)r >= budget ? 0 : budget - (size_t)r;
		/*
		 * Nothing left in TLS (read-ahead included): stop here rather
		 * than read once more for EAGAIN; epoll is level-triggered and
		 * says if the kernel holds more.
		 */
		if (!SSL_has_pending(l->ssl))
			break;
	}
}

static void
link_io(struct ev_io *io, uint32_t revents)
{
	struct link *l = io->arg;

	if (l->state == L_DEAD)
		return;
	if (l->state == L_CONNECT) {
		int err = 0;
		socklen_t sl = sizeof(err);
		char why[128];

		if (getsockopt(l->fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0)
			err = errno;
		if (err != 0) {
			snprintf(why, sizeof(why), "connect: %s", strerror(err));
			link_end(l, why, 0);
			return;
		}
		link_start_tls(l);
		return;
	}
	if (l->state == L_TLS) {
		link_handshake(l);
		return;
	}
	if ((revents & (EPOLLIN | EPOLLHUP | EPOLLERR)) || (l->rd_want_w && (revents & EPOLLOUT))) {
		link_read(l);
		if (l->state == L_DEAD)
			return;
	}
	if (l->out.head != NULL && ((revents & EPOLLOUT) || (l->wr_want_r && (revents & EPOLLIN))))
		link_flush(l);
	else
		link_watch(l);
}

/* ---- peers ---- */

static void
peer_timer(struct ev_timer *t)
{
	peer_connect(t->arg);
}

static void
peer_drop(struct lpeer *p)
{
	ev_timer_disarm(loop, &p->timer);
	if (p->conn != NULL)
		p->conn->peer = NULL;
	LIST_REMOVE(p, entry);
	free(p);
}

/* Try again after delay ms, doubling the next delay. */
static void
peer_schedule(struct lpeer *p, uint64_t delay)
{
	if (p->self || p->conn != NULL)
		return;
	if (p->oneshot && p->tries >= ONESHOT_TRIES) {
		log_warnx("link to %s:%s (node %s): giving up after %d attempts",
		    p->host, p->port, p->expect, p->tries);
		peer_drop(p);
		return;
	}
	ev_timer_arm(loop, &p->timer, ev_now() + delay);
	p->backoff = delay * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : delay * 2;
	if (p->backoff < BACKOFF_MIN_MS)
		p->backoff = BACKOFF_MIN_MS;
}

static void
peer_connect(struct lpeer *p)
{
	struct addrinfo hints, *res = NULL, *ai;
	char addr[ADDR_MAX], why[HOST_MAX + 64];
	struct link *l;
	int r, fd = -1;

	if (p->self || p->conn != NULL)
		return;
	/* Linked already (the other side's link won): check again later. */
	if (p->node[0] != '\0' && link_by_node(p->node) != NULL) {
		if (p->oneshot)
			peer_drop(p);
		else
			ev_timer_arm(loop, &p->timer, ev_now() + BACKOFF_MAX_MS);
		return;
	}
	p->tries++;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_ADDRCONFIG | AI_NUMERICSERV;
	/* Blocking, but a name is usually in /etc/hosts or a near resolver. */
	if ((r = getaddrinfo(p->host, p->port, &hints, &res)) != 0) {
		log_warnx("link to %s:%s: %s", p->host, p->port,
		    r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
		peer_schedule(p, p->backoff);
		return;
	}
	why[0] = '\0';
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		addr_format(ai->ai_addr, addr, sizeof(addr));
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			snprintf(why, sizeof(why), "socket: %s", strerror(errno));
			continue;
		}
		sock_tune(fd);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS)
			break;
		snprintf(why, sizeof(why), "%s: connect: %s", addr, strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		log_warnx("link to %s:%s: %s", p->host, p->port, why[0] ? why : "no address");
		peer_schedule(p, p->backoff);
		return;
	}
	if ((l = link_new(fd, 1, addr)) == NULL) {
		close(fd);
		log_warnx("link to %s:%s: out of memory", p->host, p->port);
		peer_schedule(p, p->backoff);
		return;
	}
	if (!host_numeric(p->host))
		snprintf(l->desc, sizeof(l->desc), "to %s:%s [%s]", p->host, p->port, addr);
	snprintf(l->tls.expect, sizeof(l->tls.expect), "%s", p->expect);
	l->peer = p;
	p->conn = l;
}

static struct lpeer *
peer_new(const char *hostport, const char *expect, int oneshot, char *why, size_t whysz)
{
	struct lpeer *p = calloc(1, sizeof(*p));

	if (p == NULL) {
		snprintf(why, whysz, "out of memory");
		return NULL;
	}
	if (hostport_split(hostport, p->host, sizeof(p->host), p->port, sizeof(p->port),
	    LINK_DEFAULT_PORT, why, whysz) != 0 || p->host[0] == '\0') {
		if (p->host[0] == '\0')
			snprintf(why, whysz, "'%s': not HOST[:PORT]", hostport);
		free(p);
		return NULL;
	}
	if (expect != NULL) {
		snprintf(p->expect, sizeof(p->expect), "%s", expect);
		snprintf(p->node, sizeof(p->node), "%s", expect);
	}
	p->oneshot = oneshot;
	p->backoff = BACKOFF_MIN_MS;
	ev_timer_init(&p->timer, peer_timer, p);
	LIST_INSERT_HEAD(&peers, p, entry);
	return p;
}

/* ---- listening ---- */

static void
listener_io(struct ev_io *io, uint32_t revents)
{
	struct sockaddr_storage ss;
	char addr[ADDR_MAX];
	struct link *l;
	socklen_t sl;
	int fd, n;

	(void)revents;
	for (n = 0; n < 64; n++) {
		sl = sizeof(ss);
		fd = accept4(io->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("link: accept on %s", ((struct listener *)io->arg)->addr);
			return;
		}
		addr_format((struct sockaddr *)&ss, addr, sizeof(addr));
		sock_tune(fd);
		if ((l = link_new(fd, 0, addr)) == NULL) {
			log_warnx("link from %s: out of memory", addr);
			close(fd);
			continue;
		}
		link_start_tls(l);
	}
}

/* ---- the interface ---- */

int
links_init(struct ev_loop *lp, const struct link_conf *conf, const struct link_cb *c,
    char *why, size_t whysz)
{
	if (!crypto_node_name_valid(conf->node)) {
		snprintf(why, whysz, "'%s': not a valid node name", conf->node);
		return -1;
	}
	if (link_tls_init(conf->state_dir, conf->node, why, whysz) != 0)
		return -1;
	loop = lp;
	cb = *c;
	snprintf(self_node, sizeof(self_node), "%s", conf->node);
	self_inc = conf->incarnation;
	ev_timer_init(&kick, kick_cb, NULL);
	closing_all = 0;
	return 0;
}

int
links_listen(const char *spec, char *why, size_t whysz)
{
	struct addrinfo hints, *res = NULL, *ai;
	char host[HOST_MAX], port[8];
	struct listener *ls;
	int fd = -1, r, one = 1, zero = 0;

	if (loop == NULL) {
		snprintf(why, whysz, "links not initialised");
		return -1;
	}
	if (nlisteners == LISTEN_MAX) {
		snprintf(why, whysz, "%s: too many listening addresses", spec);
		return -1;
	}
	if (hostport_split(spec, host, sizeof(host), port, sizeof(port), -1, why, whysz) != 0)
		return -1;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	hints.ai_family = host[0] == '\0' ? AF_INET6 : AF_UNSPEC;
	r = getaddrinfo(host[0] == '\0' ? NULL : host, port, &hints, &res);
	if (r != 0 && host[0] == '\0') {
		hints.ai_family = AF_INET;	/* no IPv6 here */
		r = getaddrinfo(NULL, port, &hints, &res);
	}
	if (r != 0) {
		snprintf(why, whysz, "%s: %s", spec, r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
		return -1;
	}
	why[0] = '\0';
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			snprintf(why, whysz, "%s: socket: %s", spec, strerror(errno));
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6 && host[0] == '\0')
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 128) == 0)
			break;
		snprintf(why, whysz, "%s: %s", spec, strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return -1;
	ls = &listeners[nlisteners];
	snprintf(ls->addr, sizeof(ls->addr), "%s", spec);
	ls->io.cb = listener_io;
	ls->io.arg = ls;
	if (ev_io_add(loop, &ls->io, fd, EPOLLIN) < 0) {
		snprintf(why, whysz, "%s: %s", spec, strerror(errno));
		close(fd);
		return -1;
	}
	nlisteners++;
	return 0;
}

int
links_add_peer(const char *hostport, char *why, size_t whysz)
{
	struct lpeer *p;

	if (loop == NULL) {
		snprintf(why, whysz, "links not initialised");
		return -1;
	}
	if ((p = peer_new(hostport, NULL, 0, why, whysz)) == NULL)
		return -1;
	peer_connect(p);
	return 0;
}

void
links_connect(const char *node, const char *hostport)
{
	char why[HOST_MAX + 64];
	struct lpeer *p;
	struct link *l;

	if (loop == NULL || !crypto_node_name_valid(node) || strcmp(node, self_node) == 0)
		return;
	if (link_by_node(node) != NULL)
		return;
	LIST_FOREACH(l, &links, entry) {
		if (strcmp(l->tls.expect, node) == 0 || strcmp(l->node, node) == 0)
			return;		/* connecting, or in HELLO */
	}
	LIST_FOREACH(p, &peers, entry) {
		if (strcmp(p->node, node) == 0 && (p->conn != NULL || ev_timer_armed(&p->timer)))
			return;
	}
	if ((p = peer_new(hostport, node, 1, why, sizeof(why))) == NULL) {
		log_warnx("link to node %s: %s", node, why);
		return;
	}
	peer_connect(p);
}

struct link *
link_by_node(const char *node)
{
	struct link *l;

	LIST_FOREACH(l, &links, entry) {
		if (l->state == L_UP && strcmp(l->node, node) == 0)
			return l;
	}
	return NULL;
}

const char *link_node(const struct link *l) { return l->node; }
uint64_t link_incarnation(const struct link *l) { return l->inc; }
const char *link_addr(const struct link *l) { return l->addr; }
int link_outgoing(const struct link *l) { return l->outgoing; }
size_t link_queued(const struct link *l) { return l->out.bytes; }

int
link_send(struct link *l, uint8_t type, const void *a, size_t alen, const void *b, size_t blen)
{
	if (l == NULL || l->state != L_UP || type == 0 || type >= LINK_HELLO)
		return -1;
	return queue_frame(l, type, a, alen, b, blen);
}

void
links_reload(void)
{
	char why[CRYPTO_WHY_MAX + PATH_MAX], reason[CRYPTO_WHY_MAX], cn[CRYPTO_NODE_MAX + 1];
	struct link *l, *next;

	if (loop == NULL)
		return;
	if (link_tls_reload(why, sizeof(why)) != 0) {
		log_warnx("%s", why);
		return;
	}
	/* A link whose peer was revoked since goes now. */
	for (l = LIST_FIRST(&links); l != NULL; l = next) {
		X509 *cert;

		next = LIST_NEXT(l, entry);
		if (l->state < L_HELLO || (cert = SSL_get0_peer_certificate(l->ssl)) == NULL)
			continue;
		if (link_tls_check(cert, NULL, cn, sizeof(cn), reason, sizeof(reason)) != 0) {
			snprintf(why, sizeof(why), "certificate refused: %s", reason);
			log_warnx("link %s: %s", l->desc, why);
			link_end(l, why, 1);
			next = LIST_FIRST(&links);	/* callbacks may have closed others */
		}
	}
}

void
links_close_all(void)
{
	struct lpeer *p;
	struct link *l;
	int i;

	if (loop == NULL)
		return;
	closing_all = 1;
	while ((p = LIST_FIRST(&peers)) != NULL)
		peer_drop(p);
	/* What is queued goes out if the kernel takes it now. */
	LIST_FOREACH(l, &links, entry) {
		if (l->state == L_UP && l->out.head != NULL)
			link_outq_flush(&l->out, l->ssl, &i, NULL, 0);
	}
	while ((l = LIST_FIRST(&links)) != NULL)
		link_end(l, "shutting down", 1);
	for (i = 0; i < nlisteners; i++) {
		ev_io_del(loop, &listeners[i].io);
		close(listeners[i].io.fd);
	}
	nlisteners = 0;
	/* Called once the loop is done: free now. */
	LIST_INIT(&flushq);
	ev_timer_disarm(loop, &kick);
	kick_cb(&kick);
	link_tls_free();
	loop = NULL;
}
