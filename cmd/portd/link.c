/*
 * link.c — a portd-to-portd link's life on the event loop: the TLS
 * handshake under a deadline, the HELLO/ACCEPT exchange that keeps one link
 * per pair of nodes, frames in and out, and closing. How connections start
 * (peers, listening) is link_dial.c's.
 *
 * A link goes CONNECT (outgoing TCP) -> TLS (handshake, the peer's
 * certificate checked inside it) -> HELLO (awaiting the peer's) -> ACCEPT
 * (the follower only: awaiting the leader's choice) -> UP (cb->up called)
 * -> DEAD. A dead link is unhooked from the loop at once
 * and freed from a timer that runs after the current batch of events.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include "crypto.h"
#include "log.h"
#include "link.h"
#include "wire.h"
#include "link_int.h"

struct link_env link_env = {
	.links = LIST_HEAD_INITIALIZER(link_env.links),
	.peers = LIST_HEAD_INITIALIZER(link_env.peers),
};
static struct link_cb cb;
static uint64_t self_inc;
static struct linklist zombies = LIST_HEAD_INITIALIZER(zombies);
static struct linklist flushq = LIST_HEAD_INITIALIZER(flushq);
static struct ev_timer kick;		/* flushes and frees after the batch */

static void link_io(struct ev_io *io, uint32_t revents);
static void link_read(struct link *l);

/* ---- small helpers ---- */


static void
kick_arm(void)
{
	if (!ev_timer_armed(&kick))
		ev_timer_arm(link_env.loop, &kick, 0);
}

/* ---- link life ---- */

static void link_deadline(struct ev_timer *t);

struct link *
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
	if (ev_io_add(link_env.loop, &l->io, fd, outgoing ? EPOLLOUT : EPOLLIN) < 0) {
		free(l);
		return NULL;
	}
	ev_timer_arm(link_env.loop, &l->timer, ev_now() + HANDSHAKE_MS);
	LIST_INSERT_HEAD(&link_env.links, l, entry);
	return l;
}

static void
link_free(struct link *l)
{
	link_outq_clear(&l->out);
	link_inbuf_free(&l->in);
	free(l);
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
	static struct log_throttle end_thr;
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
	ev_timer_disarm(link_env.loop, &l->timer);
	ev_io_del(link_env.loop, &l->io);
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

	if (!quiet && log_throttle(&end_thr, "link"))
		log_warnx("link %s: %s", l->desc, why);
	else
		log_debug("link %s: %s", l->desc, why);
	if (p != NULL) {
		l->peer = NULL;
		p->conn = NULL;
		if (!link_env.closing_all) {
			if (was_up && ev_now() - l->up_at >= STABLE_MS)
				p->backoff = BACKOFF_MIN_MS;
			link_dial_schedule(p, p->backoff);
		}
	}
	if (l->upcalled) {
		l->upcalled = 0;
		if (cb.down != NULL)
			cb.down(l, why);
	}
	if (was_up && !link_env.closing_all)
		link_dial_wake(l->node);
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
	ev_io_set(link_env.loop, &l->io, ev);
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

	if (l->state == L_DEAD || alen > LINK_FRAME_MAX || blen > LINK_FRAME_MAX - alen)
		return -1;	/* a closed link takes nothing more: it has no TLS left */
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

	LIST_FOREACH(o, &link_env.links, entry) {
		if (o != l && (o->state == L_UP || o->state == L_ACCEPT) && strcmp(o->node, node) == 0)
			return o;
	}
	return NULL;
}

static void
link_send_hello(struct link *l)
{
	uint8_t hello[1 + CRYPTO_NODE_MAX + 8];
	size_t n = strlen(link_env.self_node);

	hello[0] = (uint8_t)n;
	memcpy(hello + 1, link_env.self_node, n);
	put_u64(hello + 1 + n, self_inc);
	queue_frame(l, LINK_HELLO, hello, 1 + n + 8, NULL, 0);
}

static void
link_up(struct link *l)
{
	ev_timer_disarm(link_env.loop, &l->timer);
	l->state = L_UP;
	l->up_at = ev_now();
	l->upcalled = 1;
	if (l->peer != NULL) {
		l->peer->tries = 0;
		if (l->peer->oneshot)
			link_dial_drop(l->peer);	/* its job is done; no reconnecting */
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
	while ((o = link_other(l, name)) != NULL) {
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
	if (strcmp(cn, link_env.self_node) == 0) {
		if (l->peer != NULL)
			l->peer->self = 1;
		link_end(l, "the peer is this node", 0);
		return;
	}
	l->state = L_HELLO;
	l->leader = strcmp(link_env.self_node, cn) < 0;
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

void
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
	link_env.loop = lp;
	cb = *c;
	snprintf(link_env.self_node, sizeof(link_env.self_node), "%s", conf->node);
	self_inc = conf->incarnation;
	ev_timer_init(&kick, kick_cb, NULL);
	link_env.closing_all = 0;
	return 0;
}

struct link *
link_by_node(const char *node)
{
	struct link *l;

	LIST_FOREACH(l, &link_env.links, entry) {
		if (l->state == L_UP && strcmp(l->node, node) == 0)
			return l;
	}
	return NULL;
}

const char *link_node(const struct link *l) { return l->node; }
uint64_t link_incarnation(const struct link *l) { return l->inc; }
void link_set_data(struct link *l, void *data) { l->data = data; }
void *link_data(const struct link *l) { return l->data; }
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

	if (link_env.loop == NULL)
		return;
	if (link_tls_reload(why, sizeof(why)) != 0) {
		log_warnx("%s", why);
		return;
	}
	/* A link whose peer was revoked since goes now. */
	for (l = LIST_FIRST(&link_env.links); l != NULL; l = next) {
		X509 *cert;

		next = LIST_NEXT(l, entry);
		if (l->state < L_HELLO || (cert = SSL_get0_peer_certificate(l->ssl)) == NULL)
			continue;
		if (link_tls_check(cert, NULL, cn, sizeof(cn), reason, sizeof(reason)) != 0) {
			snprintf(why, sizeof(why), "certificate refused: %s", reason);
			log_warnx("link %s: %s", l->desc, why);
			link_end(l, why, 1);
			next = LIST_FIRST(&link_env.links);	/* callbacks may have closed others */
		}
	}
}

void
links_close_all(void)
{
	struct lpeer *p;
	struct link *l;
	int i;

	if (link_env.loop == NULL)
		return;
	link_env.closing_all = 1;
	while ((p = LIST_FIRST(&link_env.peers)) != NULL)
		link_dial_drop(p);
	/* What is queued goes out if the kernel takes it now. */
	LIST_FOREACH(l, &link_env.links, entry) {
		if (l->state == L_UP && l->out.head != NULL)
			link_outq_flush(&l->out, l->ssl, &i, NULL, 0);
	}
	while ((l = LIST_FIRST(&link_env.links)) != NULL)
		link_end(l, "shutting down", 1);
	for (i = 0; i < link_env.nlisteners; i++) {
		ev_timer_disarm(link_env.loop, &link_env.listeners[i].pause);
		ev_io_del(link_env.loop, &link_env.listeners[i].io);
		close(link_env.listeners[i].io.fd);
	}
	link_env.nlisteners = 0;
	/* Called once the loop is done: free now. */
	LIST_INIT(&flushq);
	ev_timer_disarm(link_env.loop, &kick);
	kick_cb(&kick);
	link_tls_free();
	link_env.loop = NULL;
}
