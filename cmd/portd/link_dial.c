/*
 * link_dial.c — how links start: addresses, the static peers kept with
 * backoff and the one-off connections to announced nodes, and the
 * listening sockets. A link, once its TCP connection exists, is link.c's.
 */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include "log.h"
#include "link_int.h"

static void peer_connect(struct lpeer *p);

/* ---- addresses ---- */

void
link_dial_addr_format(const struct sockaddr *sa, char *out, size_t outsz)
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
int
link_dial_hostport_split(const char *s, char *host, size_t hostsz, char *port, size_t portsz,
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

	return link_dial_hostport_split(s, host, sizeof(host), port, sizeof(port), defport, why, whysz);
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

/* ---- peers ---- */

/* Peers whose node is n may reconnect now that its link is gone. */
void
link_dial_wake(const char *n)
{
	struct lpeer *p, *next;

	for (p = LIST_FIRST(&link_env.peers); p != NULL; p = next) {
		next = LIST_NEXT(p, entry);
		if (p->conn == NULL && !p->self && strcmp(p->node, n) == 0)
			link_dial_schedule(p, p->backoff);
	}
}

static void peer_timer(struct ev_timer *t);

/* A resolution that cannot be cancelled is left to glibc, never freed: it still writes there. */
static void
resolve_drop(struct lpeer *p)
{
	struct lresolve *r = p->res;

	if (r == NULL)
		return;
	p->res = NULL;
	if (gai_cancel(&r->cb) == EAI_NOTCANCELED)
		return;
	if (r->cb.ar_result != NULL)
		freeaddrinfo(r->cb.ar_result);
	free(r);
}

void
link_dial_drop(struct lpeer *p)
{
	ev_timer_disarm(link_env.loop, &p->timer);
	resolve_drop(p);
	if (p->conn != NULL)
		p->conn->peer = NULL;
	LIST_REMOVE(p, entry);
	free(p);
}

/* Try again after delay ms, doubling the next delay. */
void
link_dial_schedule(struct lpeer *p, uint64_t delay)
{
	static struct log_throttle thr = LOG_THROTTLE_INIT("link: giving up", LOG_WARNING);

	if (p->self || p->conn != NULL)
		return;
	if (p->oneshot && p->tries >= ONESHOT_TRIES) {
		log_throttled(&thr, "link to %s:%s (node %s): giving up after %d attempts",
		    p->host, p->port, p->expect, p->tries);
		link_dial_drop(p);
		return;
	}
	ev_timer_arm(link_env.loop, &p->timer, ev_now() + delay);
	p->backoff = delay * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : delay * 2;
	if (p->backoff < BACKOFF_MIN_MS)
		p->backoff = BACKOFF_MIN_MS;
}

/* Connect to the first address of res that takes it. */
static void
peer_dial(struct lpeer *p, struct addrinfo *res)
{
	static struct log_throttle thr = LOG_THROTTLE_INIT("link: dial", LOG_WARNING);
	char addr[ADDR_MAX], why[HOST_MAX + 64];
	struct addrinfo *ai;
	struct link *l;
	int fd = -1;

	why[0] = '\0';
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		link_dial_addr_format(ai->ai_addr, addr, sizeof(addr));
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
	if (fd < 0) {
		log_throttled(&thr, "link to %s:%s: %s", p->host, p->port, why[0] ? why : "no address");
		link_dial_schedule(p, p->backoff);
		return;
	}
	if ((l = link_new(fd, 1, addr)) == NULL) {
		close(fd);
		log_throttled(&thr, "link to %s:%s: out of memory", p->host, p->port);
		link_dial_schedule(p, p->backoff);
		return;
	}
	if (!host_numeric(p->host))
		snprintf(l->desc, sizeof(l->desc), "to %s:%s [%s]", p->host, p->port, addr);
	snprintf(l->tls.expect, sizeof(l->tls.expect), "%s", p->expect);
	l->peer = p;
	p->conn = l;
}

/* A name that does not resolve is retried with the backoff: its lines are throttled all the same. */
static struct log_throttle resolve_thr = LOG_THROTTLE_INIT("link: resolving", LOG_WARNING);

/* A host name: resolve it in the background (no DNS on the event loop); peer_timer polls. */
static void
resolve_start(struct lpeer *p)
{
	struct sigevent sev = { .sigev_notify = SIGEV_NONE };
	struct gaicb *list[1];
	struct lresolve *r = calloc(1, sizeof(*r));
	int e;

	if (r == NULL) {
		log_throttled(&resolve_thr, "link to %s:%s: out of memory", p->host, p->port);
		link_dial_schedule(p, p->backoff);
		return;
	}
	snprintf(r->host, sizeof(r->host), "%s", p->host);
	snprintf(r->port, sizeof(r->port), "%s", p->port);
	r->hints.ai_family = AF_UNSPEC;
	r->hints.ai_socktype = SOCK_STREAM;
	r->hints.ai_flags = AI_ADDRCONFIG | AI_NUMERICSERV;
	r->cb.ar_name = r->host;
	r->cb.ar_service = r->port;
	r->cb.ar_request = &r->hints;
	r->started = ev_now();
	list[0] = &r->cb;
	if ((e = getaddrinfo_a(GAI_NOWAIT, list, 1, &sev)) != 0) {
		log_throttled(&resolve_thr, "link to %s:%s: resolving: %s", p->host, p->port,
		    e == EAI_SYSTEM ? strerror(errno) : gai_strerror(e));
		free(r);
		link_dial_schedule(p, p->backoff);
		return;
	}
	p->res = r;
	ev_timer_arm(link_env.loop, &p->timer, ev_now() + RESOLVE_POLL_MS);
}

static void
resolve_poll(struct lpeer *p)
{
	struct lresolve *r = p->res;
	int e = gai_error(&r->cb);

	if (e == EAI_INPROGRESS && ev_now() - r->started < RESOLVE_MAX_MS) {
		ev_timer_arm(link_env.loop, &p->timer, ev_now() + RESOLVE_POLL_MS);
		return;
	}
	if (e != 0) {
		log_throttled(&resolve_thr, "link to %s:%s: %s", p->host, p->port,
		    e == EAI_INPROGRESS ? "name not resolved in time" :
		    e == EAI_SYSTEM ? strerror(errno) : gai_strerror(e));
		resolve_drop(p);
		link_dial_schedule(p, p->backoff);
		return;
	}
	p->res = NULL;
	peer_dial(p, r->cb.ar_result);
	freeaddrinfo(r->cb.ar_result);
	free(r);
}

/* One-shot dials left in the bucket (DIAL_BURST, DIAL_PER_S); 0: ms until the next. */
static uint64_t
dial_token(void)
{
	static uint64_t tokens_ms = DIAL_BURST * 1000, last;
	uint64_t now = ev_now(), cap = DIAL_BURST * 1000;

	tokens_ms += (now - last) * DIAL_PER_S;
	if (tokens_ms > cap || last == 0)
		tokens_ms = cap;
	last = now;
	if (tokens_ms >= 1000) {
		tokens_ms -= 1000;
		return 0;
	}
	return (1000 - tokens_ms + DIAL_PER_S - 1) / DIAL_PER_S;
}

static void
peer_connect(struct lpeer *p)
{
	struct addrinfo hints, *res = NULL;
	uint64_t wait;
	int r;

	if (p->self || p->conn != NULL || p->res != NULL)
		return;
	/* Linked already (the other side's link won): check again later. */
	if (p->node[0] != '\0' && link_by_node(p->node) != NULL) {
		if (p->oneshot)
			link_dial_drop(p);
		else
			ev_timer_arm(link_env.loop, &p->timer, ev_now() + BACKOFF_MAX_MS);
		return;
	}
	if (p->oneshot && (wait = dial_token()) > 0) {
		ev_timer_arm(link_env.loop, &p->timer, ev_now() + wait);
		return;
	}
	p->tries++;
	if (!host_numeric(p->host)) {
		resolve_start(p);
		return;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;	/* no lookup: it cannot block */
	if ((r = getaddrinfo(p->host, p->port, &hints, &res)) != 0) {
		static struct log_throttle thr = LOG_THROTTLE_INIT("link: dial", LOG_WARNING);
		log_throttled(&thr, "link to %s:%s: %s", p->host, p->port,
		    r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
		link_dial_schedule(p, p->backoff);
		return;
	}
	peer_dial(p, res);
	freeaddrinfo(res);
}

static void
peer_timer(struct ev_timer *t)
{
	struct lpeer *p = t->arg;

	if (p->res != NULL)
		resolve_poll(p);
	else
		peer_connect(p);
}

static struct lpeer *
peer_new(const char *hostport, const char *expect, int oneshot, char *why, size_t whysz)
{
	struct lpeer *p = calloc(1, sizeof(*p));

	if (p == NULL) {
		snprintf(why, whysz, "out of memory");
		return NULL;
	}
	if (link_dial_hostport_split(hostport, p->host, sizeof(p->host), p->port, sizeof(p->port),
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
	LIST_INSERT_HEAD(&link_env.peers, p, entry);
	return p;
}

/* ---- listening ---- */

/* The length of the host part of a numeric "host:port" or "[v6]:port". */
static size_t
host_len(const char *addr)
{
	const char *c = strrchr(addr, ':');

	return c != NULL ? (size_t)(c - addr) : strlen(addr);
}

/* 1 when a new link from addr would exceed UNAUTH_MAX or UNAUTH_PER_ADDR. */
static int
unauth_full(const char *addr)
{
	size_t hl = host_len(addr);
	int total = 0, same = 0;
	struct link *l;

	LIST_FOREACH(l, &link_env.links, entry) {
		if (l->outgoing || l->state >= L_UP)
			continue;
		total++;
		if (host_len(l->addr) == hl && memcmp(l->addr, addr, hl) == 0)
			same++;
	}
	return total >= UNAUTH_MAX || same >= UNAUTH_PER_ADDR;
}

static void
listener_resume(struct ev_timer *t)
{
	struct listener *ls = t->arg;

	if (ev_io_set(link_env.loop, &ls->io, EPOLLIN) < 0)
		log_warn("link: epoll on %s", ls->addr);
}

static void
listener_io(struct ev_io *io, uint32_t revents)
{
	static struct log_throttle err_thr, full_thr;
	struct listener *ls = io->arg;
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
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED)
				return;
			if (log_throttle(&err_thr, "link: accept"))
				log_warn("link: accept on %s", ls->addr);
			/* The connection stays queued: a level-triggered listener would spin. */
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				ev_io_set(link_env.loop, &ls->io, 0);
				ev_timer_arm(link_env.loop, &ls->pause, ev_now() + ACCEPT_PAUSE_MS);
			}
			return;
		}
		link_dial_addr_format((struct sockaddr *)&ss, addr, sizeof(addr));
		if (unauth_full(addr)) {
			if (log_throttle(&full_thr, "link: refused"))
				log_warnx("link from %s: refused: too many links not yet authenticated "
				    "(%d in all, %d per address at most)", addr, UNAUTH_MAX, UNAUTH_PER_ADDR);
			close(fd);
			continue;
		}
		sock_tune(fd);
		if ((l = link_new(fd, 0, addr)) == NULL) {
			log_throttled(&full_thr, "link from %s: out of memory", addr);
			close(fd);
			continue;
		}
		link_start_tls(l);
	}
}

int
links_listen(const char *spec, char *why, size_t whysz)
{
	struct addrinfo hints, *res = NULL, *ai;
	char host[HOST_MAX], port[8];
	struct listener *ls;
	int fd = -1, r, one = 1, zero = 0;

	if (link_env.loop == NULL) {
		snprintf(why, whysz, "links not initialised");
		return -1;
	}
	if (link_env.nlisteners == LISTEN_MAX) {
		snprintf(why, whysz, "%s: too many listening addresses", spec);
		return -1;
	}
	if (link_dial_hostport_split(spec, host, sizeof(host), port, sizeof(port), -1, why, whysz) != 0)
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
	ls = &link_env.listeners[link_env.nlisteners];
	snprintf(ls->addr, sizeof(ls->addr), "%s", spec);
	ls->io.cb = listener_io;
	ls->io.arg = ls;
	ev_timer_init(&ls->pause, listener_resume, ls);
	if (ev_io_add(link_env.loop, &ls->io, fd, EPOLLIN) < 0) {
		snprintf(why, whysz, "%s: %s", spec, strerror(errno));
		close(fd);
		return -1;
	}
	link_env.nlisteners++;
	return 0;
}

/* ---- the interface ---- */

int
links_add_peer(const char *hostport, char *why, size_t whysz)
{
	struct lpeer *p;

	if (link_env.loop == NULL) {
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
	static struct log_throttle thr = LOG_THROTTLE_INIT("link: not dialled", LOG_WARNING);
	char why[HOST_MAX + 64], host[HOST_MAX], port[8];
	struct lpeer *p;
	struct link *l;
	int oneshots = 0;

	if (link_env.loop == NULL || !crypto_node_name_valid(node) || strcmp(node, link_env.self_node) == 0)
		return;
	if (link_by_node(node) != NULL)
		return;
	LIST_FOREACH(l, &link_env.links, entry) {
		if (strcmp(l->tls.expect, node) == 0 || strcmp(l->node, node) == 0)
			return;		/* connecting, or in HELLO */
	}
	LIST_FOREACH(p, &link_env.peers, entry) {
		if (strcmp(p->node, node) == 0 && (p->conn != NULL || ev_timer_armed(&p->timer)))
			return;
		oneshots += p->oneshot;
	}
	/* Another node's word: a numeric address (no lookup it could aim), and only so many at once. */
	if (link_dial_hostport_split(hostport, host, sizeof(host), port, sizeof(port), -1, why, sizeof(why)) < 0 ||
	    !host_numeric(host)) {
		log_throttled(&thr, "link to node %s at '%s': not dialled: not a numeric address", node, hostport);
		return;
	}
	if (oneshots >= ONESHOT_MAX) {
		log_throttled(&thr, "link to node %s at %s: not dialled: %d nodes being dialled already",
		    node, hostport, ONESHOT_MAX);
		return;
	}
	if ((p = peer_new(hostport, node, 1, why, sizeof(why))) == NULL) {
		log_throttled(&thr, "link to node %s: %s", node, why);
		return;
	}
	peer_connect(p);
}
