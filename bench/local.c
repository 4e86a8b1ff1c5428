/*
 * local.c — masix through one node's portd, the figures that raw.c's
 * baselines stand next to. The server or receiver is a forked child that
 * takes a fresh name; the parent looks it up and drives the traffic.
 *
 *   local rtt DIR SIZE ITERS WARMUP [PREFETCH]
 *	median masix_request() round trip in microseconds; the server does
 *	masix_reply_recv() (reply and next receive in one step) with a body of the same size
 *   local tput DIR SIZE COUNT TRIALS
 *	one-way messages per second (median trial): masix_send_nowait() in a
 *	loop and masix_flush(), the receiver masix_recv() with prefetch 256
 *   local remote-rtt DIR SDIR SIZE ITERS WARMUP
 *   local remote-tput DIR SDIR SIZE COUNT TRIALS
 *	the same with the server or receiver on the node whose runtime
 *	directory is SDIR and the client on DIR's node: the name is looked up
 *	unqualified from DIR (resolved over the link), retried until the link
 *	is up (LINK_WAIT_MS at most)
 *
 * With MASIX_BENCH_SERVICE=PREFIX set, the client (rtt and tput) first
 * registers PREFIX.PID on a port of its own, a name the node's signed list
 * must protect for this binary, so that portd stamps that service on what
 * it sends (and, remote, the server's node checks it against its list);
 * the server or receiver fails unless its first message carries it.
 */
#include <signal.h>
#include <sys/wait.h>
#include "masix.h"
#include "bench.h"

#define PEER_TIMEOUT_MS	20000	/* a peer waits this long at most, then fails */
#define LINK_WAIT_MS	20000	/* remote: how long the name may take to resolve */

static pid_t child = -1;

__attribute__((noreturn)) static void
usage(void)
{
	fprintf(stderr, "usage: local rtt DIR SIZE ITERS WARMUP [PREFETCH]\n"
	    "       local tput DIR SIZE COUNT TRIALS\n"
	    "       local remote-rtt DIR SDIR SIZE ITERS WARMUP\n"
	    "       local remote-tput DIR SDIR SIZE COUNT TRIALS\n");
	exit(64);
}

/* Fail loudly, taking the peer down with us. */
__attribute__((noreturn)) static void
fail(const char *what, int err)
{
	if (child > 0)
		kill(child, SIGTERM);
	bench_fatal("%s: %s", what, mx_strerror(err));
}

struct peer {
	const char *dir;	/* the client's node */
	const char *sdir;	/* the server's or receiver's node */
	char name[64];
	size_t size, count, prefetch;
	int sync;
	char service[MX_SERVICE_MAX + 1];	/* "" unstamped; else what the client holds */
};

/* A stamped client: take p->service (protected by the list) on a port of its own. */
static void
take_service(struct mx_conn *c, const struct peer *p)
{
	mx_name_t port;
	int r;

	if (p->service[0] == '\0')
		return;
	if ((r = masix_port_alloc(c, &port)) < 0 || (r = masix_register(c, p->service, port)) < 0)
		bench_fatal("register %s: %s%s%s", p->service, mx_strerror(r), *masix_errdetail(c) ? ": " : "",
		    masix_errdetail(c));
}

/* The first message must carry the client's service: a figure for a stamped sender is one. */
static void
check_service(const struct peer *p, const struct mx_msg *m)
{
	if (p->service[0] != '\0' && strcmp(m->trailer.service, p->service) != 0)
		bench_fatal("message carries service '%s', expected '%s'", m->trailer.service, p->service);
}

/* In the child: connect, take peer->name on a new port. */
static struct mx_conn *
peer_open(struct peer *p, mx_name_t *port)
{
	struct mx_conn *c;
	int r;

	if ((r = masix_connect(p->sdir, &c)) < 0)
		fail("peer: connect", r);
	if ((r = masix_port_alloc(c, port)) < 0)
		fail("peer: port_alloc", r);
	if ((r = masix_register(c, p->name, *port)) < 0)
		fail("peer: register", r);
	masix_set_prefetch(c, (uint32_t)p->prefetch);
	return c;
}

static void
check_body(struct mx_msg *m, size_t size)
{
	const uint8_t *b;
	size_t n;
	int r;

	if ((r = mx_msg_get_bytes(m, &b, &n)) < 0)
		fail("body", r);
	if (n != size)
		bench_fatal("body of %zu bytes, expected %zu", n, size);
}

static struct mx_msg *
new_body(size_t size)
{
	struct mx_msg *m = mx_msg_new(0);
	uint8_t *b = calloc(1, size);
	int r;

	if (m == NULL || b == NULL)
		bench_fatal("out of memory");
	if ((r = mx_msg_add_bytes(m, b, size)) < 0)
		fail("mx_msg_add_bytes", r);
	free(b);
	return m;
}

/* Child of rtt: answer count requests with a body of the same size. */
static void
echo_server(struct peer *p)
{
	struct mx_msg *m, *rep = new_body(p->size);
	struct mx_conn *c;
	mx_name_t port;
	size_t i;
	int r;

	c = peer_open(p, &port);
	bench_write_all(p->sync, "r", 1);
	if ((r = masix_recv(c, port, PEER_TIMEOUT_MS, &m)) < 0)
		fail("server: masix_recv", r);
	check_service(p, m);
	for (i = 1; i < p->count; i++) {
		struct mx_msg *next;
		int rerr;
		check_body(m, p->size);
		if ((r = masix_reply_recv(c, m, rep, port, PEER_TIMEOUT_MS, &next, &rerr)) < 0)
			fail("server: masix_reply_recv", r);
		if (rerr < 0)
			fail("server: reply", rerr);
		mx_msg_free(m);
		m = next;
	}
	check_body(m, p->size);
	if ((r = masix_reply(c, m, rep)) < 0)
		fail("server: masix_reply", r);
	mx_msg_free(m);
	mx_msg_free(rep);
	masix_close(c);
}

/* Child of tput: take count messages per trial, report each trial's end time. */
static void
sink(struct peer *p)
{
	struct mx_conn *c;
	struct mx_msg *m;
	mx_name_t port;
	size_t i;
	uint64_t t;
	int r;

	c = peer_open(p, &port);
	bench_write_all(p->sync, "r", 1);
	for (i = 1; ; i++) {
		if ((r = masix_recv(c, port, PEER_TIMEOUT_MS, &m)) < 0) {
			if (r == -MX_ERR_TIMEOUT)
				break;	/* the parent is done (or dead, and it noticed) */
			fail("sink: masix_recv", r);
		}
		check_body(m, p->size);
		if (i == 1)
			check_service(p, m);
		mx_msg_free(m);
		if (i % p->count == 0) {
			t = bench_now_ns();
			bench_write_all(p->sync, &t, sizeof(t));
		}
	}
	masix_close(c);
}

/* Fork the peer, wait until its name is taken, connect and look it up. */
static struct mx_conn *
start_peer(struct peer *p, void (*fn)(struct peer *), int *sync, mx_name_t *dest)
{
	struct mx_conn *c;
	uint64_t deadline;
	int fds[2], r;
	char ready;

	snprintf(p->name, sizeof(p->name), "bench.%d", (int)getpid());
	if (pipe(fds) < 0)
		bench_fatal("pipe: %s", strerror(errno));
	if ((child = fork()) < 0)
		bench_fatal("fork: %s", strerror(errno));
	if (child == 0) {
		child = -1;
		close(fds[0]);
		p->sync = fds[1];
		fn(p);
		_exit(0);
	}
	close(fds[1]);
	if (!bench_read_all(fds[0], &ready, 1))
		bench_fatal("peer (pid %d) failed before taking %s", (int)child, p->name);
	if ((r = masix_connect(p->dir, &c)) < 0)
		fail("connect", r);
	take_service(c, p);
	/* Remote: the link may still be coming up; ask again until it is. */
	deadline = bench_now_ns() + (uint64_t)LINK_WAIT_MS * 1000000u;
	while ((r = masix_lookup(c, p->name, 5000, dest)) < 0) {
		if (p->sdir == p->dir || bench_now_ns() >= deadline ||
		    (r != -MX_ERR_NOENT && r != -MX_ERR_TIMEOUT && r != -MX_ERR_UNAVAIL))
			fail("lookup", r);
		usleep(100 * 1000);
	}
	*sync = fds[0];
	return c;
}

static void
reap_peer(void)
{
	int st;

	if (waitpid(child, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		bench_fatal("peer (pid %d) failed", (int)child);
}

static void
rtt(struct peer *p, size_t iters, size_t warmup)
{
	uint64_t *t = calloc(iters, sizeof(*t));
	struct mx_msg *m = new_body(p->size), *rep;
	struct mx_conn *c;
	mx_name_t dest;
	size_t i;
	int sync, r;

	if (t == NULL)
		bench_fatal("out of memory");
	p->count = warmup + iters;
	c = start_peer(p, echo_server, &sync, &dest);
	for (i = 0; i < warmup + iters; i++) {
		uint64_t t0 = bench_now_ns();
		m->dest = dest;
		if ((r = masix_request(c, m, PEER_TIMEOUT_MS, &rep)) < 0)
			fail("masix_request", r);
		if (i >= warmup)
			t[i - warmup] = bench_now_ns() - t0;
		check_body(rep, p->size);
		mx_msg_free(rep);
	}
	reap_peer();
	masix_close(c);
	printf("%.2f\n", (double)bench_median(t, iters) / 1000.0);
	mx_msg_free(m);
	free(t);
}

static void
tput(struct peer *p, size_t trials)
{
	uint64_t *rs = calloc(trials, sizeof(*rs));
	struct mx_msg *m = new_body(p->size);
	struct mx_conn *c;
	mx_name_t dest;
	size_t i, k;
	int sync, r;

	if (rs == NULL)
		bench_fatal("out of memory");
	p->prefetch = 256;
	c = start_peer(p, sink, &sync, &dest);
	m->dest = dest;
	for (k = 0; k < trials + 1; k++) {	/* trial 0 warms up */
		uint64_t t0 = bench_now_ns(), t1;
		for (i = 0; i < p->count; i++)
			if ((r = masix_send_nowait(c, m, PEER_TIMEOUT_MS)) < 0)
				fail("masix_send_nowait", r);
		if ((r = masix_flush(c)) < 0)
			fail("masix_flush", r);
		if (!bench_read_all(sync, &t1, sizeof(t1)))
			bench_fatal("tput: receiver (pid %d) died", (int)child);
		if (k > 0)
			rs[k - 1] = (uint64_t)((double)p->count * 1e9 / (double)(t1 - t0));
	}
	/* The sink would wait PEER_TIMEOUT_MS for more: end it now. */
	masix_close(c);
	kill(child, SIGTERM);
	waitpid(child, NULL, 0);
	printf("%.0f\n", (double)bench_median(rs, trials));
	mx_msg_free(m);
	free(rs);
}

int
main(int argc, char **argv)
{
	struct peer p = { .prefetch = 1 };
	int remote, a;

	signal(SIGPIPE, SIG_IGN);
	if (argc < 2)
		usage();
	remote = strncmp(argv[1], "remote-", 7) == 0;
	a = remote ? 4 : 3;	/* index of SIZE */
	if (remote ? argc != 7 :
	    (argc < 6 || argc > 7 || (argc == 7 && strcmp(argv[1], "rtt") != 0)))
		usage();
	if (getenv("MASIX_BENCH_SERVICE") != NULL &&
	    snprintf(p.service, sizeof(p.service), "%s.%d", getenv("MASIX_BENCH_SERVICE"), (int)getpid()) >=
	    (int)sizeof(p.service))
		bench_fatal("MASIX_BENCH_SERVICE too long");
	p.dir = argv[2];
	p.sdir = remote ? argv[3] : p.dir;
	p.size = bench_count(argv[a], "SIZE");
	if (p.size > MX_BODY_MAX - 16)
		bench_fatal("SIZE too large: %zu", p.size);
	if (strcmp(argv[1] + (remote ? 7 : 0), "rtt") == 0) {
		if (argc == 7 && !remote)
			p.prefetch = bench_count(argv[6], "PREFETCH");
		rtt(&p, bench_count(argv[a + 1], "ITERS"), (size_t)atol(argv[a + 2]));
	} else if (strcmp(argv[1] + (remote ? 7 : 0), "tput") == 0) {
		p.count = bench_count(argv[a + 1], "COUNT");
		tput(&p, bench_count(argv[a + 2], "TRIALS"));
	} else {
		usage();
	}
	return 0;
}
