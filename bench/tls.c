/*
 * tls.c — the remote baselines: two processes joined by one TLS 1.3
 * connection over loopback TCP (TCP_NODELAY), exchanging the same framed
 * messages (4-byte big-endian length + body) as raw.c, with no daemon in
 * between. Each side presents a node's Ed25519 certificate and checks the
 * other's against the cluster CA, with the cipher suites, groups and
 * signature algorithm portd's links use. The handshake is not timed.
 *
 *   tls pingpong STATE1 STATE2 SIZE ITERS WARMUP
 *	median round trip in microseconds; one SSL_write per frame each way
 *   tls stream STATE1 STATE2 SIZE COUNT TRIALS
 *	one-way messages per second (median trial): one SSL_write per
 *	framed message, the receiver reads with a 256 KiB buffer
 *
 * STATE1 (client) and STATE2 (server) are node state directories holding
 * node.key, node.crt and ca.crt (contrib/masix-node init).
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include "bench.h"

#define RBUF	(256 * 1024)
/* As portd's links (cmd/portd/link_tls.c). */
#define SUITES	"TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"
#define GROUPS	"X25519:P-256"

static pid_t child = -1;

__attribute__((noreturn)) static void
usage(void)
{
	fprintf(stderr, "usage: tls pingpong STATE1 STATE2 SIZE ITERS WARMUP\n"
	    "       tls stream STATE1 STATE2 SIZE COUNT TRIALS\n");
	exit(64);
}

/* Fail loudly with OpenSSL's reason, taking the peer down with us. */
__attribute__((noreturn)) static void
tls_fatal(const char *what)
{
	char buf[256];
	unsigned long e = ERR_get_error();

	if (child > 0)
		kill(child, SIGTERM);
	if (e != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	else
		snprintf(buf, sizeof(buf), "%s", errno ? strerror(errno) : "unknown error");
	bench_fatal("%s: %s", what, buf);
}

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t
get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static SSL_CTX *
make_ctx(const char *state, int server)
{
	char path[4096];
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method())) == NULL)
		tls_fatal("SSL_CTX_new");
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_ciphersuites(ctx, SUITES) ||
	    !SSL_CTX_set1_groups_list(ctx, GROUPS) ||
	    !SSL_CTX_set1_sigalgs_list(ctx, "ed25519"))
		tls_fatal("TLS parameters");
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	snprintf(path, sizeof(path), "%s/node.crt", state);
	if (SSL_CTX_use_certificate_file(ctx, path, SSL_FILETYPE_PEM) != 1)
		tls_fatal(path);
	snprintf(path, sizeof(path), "%s/node.key", state);
	if (SSL_CTX_use_PrivateKey_file(ctx, path, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		tls_fatal(path);
	snprintf(path, sizeof(path), "%s/ca.crt", state);
	if (SSL_CTX_load_verify_locations(ctx, path, NULL) != 1)
		tls_fatal(path);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	return ctx;
}

static void
nodelay(int fd)
{
	int one = 1;

	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		bench_fatal("TCP_NODELAY: %s", strerror(errno));
}

/* Handshake done, TLS 1.3 checked, the peer's certificate verified. */
static SSL *
tls_open(SSL_CTX *ctx, int fd, int server)
{
	SSL *ssl;

	if ((ssl = SSL_new(ctx)) == NULL || SSL_set_fd(ssl, fd) != 1)
		tls_fatal("SSL_new");
	if ((server ? SSL_accept(ssl) : SSL_connect(ssl)) != 1)
		tls_fatal(server ? "TLS accept" : "TLS connect");
	if (SSL_version(ssl) != TLS1_3_VERSION)
		bench_fatal("negotiated %s, not TLS 1.3", SSL_get_version(ssl));
	if (SSL_get_verify_result(ssl) != X509_V_OK)
		bench_fatal("peer certificate: %s",
		    X509_verify_cert_error_string(SSL_get_verify_result(ssl)));
	return ssl;
}

static void
tls_write_all(SSL *ssl, const uint8_t *p, size_t n)
{
	int w;

	while (n > 0) {
		if ((w = SSL_write(ssl, p, n > INT32_MAX ? INT32_MAX : (int)n)) <= 0)
			tls_fatal("SSL_write");
		p += w;
		n -= (size_t)w;
	}
}

/* bench_rd's fill for a TLS stream. */
static size_t
tls_fill(void *src, uint8_t *buf, size_t room)
{
	SSL *ssl = src;
	int got = SSL_read(ssl, buf, room > INT32_MAX ? INT32_MAX : (int)room);

	if (got <= 0) {
		int e = SSL_get_error(ssl, got);
		if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && errno == 0))
			return 0;
		tls_fatal("SSL_read");
	}
	return (size_t)got;
}

/* One frame from the reader: 1 and its body at r->buf + r->pos - size, 0 at end. */
static int
rd_frame(struct bench_rd *r, size_t size, const char *who)
{
	uint32_t n;

	if (!bench_rd_need(r, 4))
		return 0;
	n = get_be32(r->buf + r->pos);
	if (n != size)
		bench_fatal("%s: frame of %u bytes, expected %zu", who, n, size);
	if (!bench_rd_need(r, 4 + (size_t)n))
		bench_fatal("%s: stream ended inside a frame", who);
	r->pos += 4 + (size_t)n;
	return 1;
}

struct conn {
	SSL_CTX *ctx;
	SSL *ssl;
	int fd;
	int sync;	/* parent: read end of the child's sync pipe */
};

/*
 * Listen on an ephemeral loopback port, fork the server (fn runs in the
 * child on its accepted TLS connection), connect to it as the client.
 */
static void
start(struct conn *cl, const char *state1, const char *state2,
    void (*fn)(SSL *, int, size_t, size_t), size_t a, size_t b)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	int lfd, sync[2];

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((lfd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 1) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl) < 0)
		bench_fatal("listen on loopback: %s", strerror(errno));
	if (pipe(sync) < 0)
		bench_fatal("pipe: %s", strerror(errno));
	if ((child = fork()) < 0)
		bench_fatal("fork: %s", strerror(errno));
	if (child == 0) {
		SSL_CTX *ctx;
		SSL *ssl;
		int fd;

		child = -1;
		close(sync[0]);
		ctx = make_ctx(state2, 1);
		if ((fd = accept(lfd, NULL, NULL)) < 0)
			bench_fatal("accept: %s", strerror(errno));
		close(lfd);
		nodelay(fd);
		ssl = tls_open(ctx, fd, 1);
		fn(ssl, sync[1], a, b);
		SSL_shutdown(ssl);
		SSL_free(ssl);
		SSL_CTX_free(ctx);
		_exit(0);
	}
	close(lfd);
	close(sync[1]);
	cl->sync = sync[0];
	cl->ctx = make_ctx(state1, 0);
	if ((cl->fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    connect(cl->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		bench_fatal("connect to loopback: %s", strerror(errno));
	nodelay(cl->fd);
	cl->ssl = tls_open(cl->ctx, cl->fd, 0);
}

static void
finish(struct conn *cl)
{
	int st;

	SSL_shutdown(cl->ssl);
	shutdown(cl->fd, SHUT_WR);
	if (waitpid(child, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		bench_fatal("tls peer (pid %d) failed", (int)child);
	SSL_free(cl->ssl);
	SSL_CTX_free(cl->ctx);
	close(cl->fd);
	close(cl->sync);
}

/* A frame (header + body) in one buffer, sent with one SSL_write. */
static uint8_t *
new_frame(size_t size)
{
	uint8_t *f = calloc(1, 4 + size);

	if (f == NULL)
		bench_fatal("out of memory");
	put_be32(f, (uint32_t)size);
	return f;
}

/* Server of pingpong: echo every frame back until the stream ends. */
static void
echo_peer(SSL *ssl, int sync, size_t size, size_t unused)
{
	struct bench_rd r = { .fill = tls_fill, .src = ssl, .cap = RBUF, .buf = malloc(RBUF) };

	(void)sync;
	(void)unused;
	if (r.buf == NULL)
		bench_fatal("out of memory");
	while (rd_frame(&r, size, "echo"))
		tls_write_all(ssl, r.buf + r.pos - 4 - size, 4 + size);
	free(r.buf);
}

static void
pingpong(const char *s1, const char *s2, size_t size, size_t iters, size_t warmup)
{
	struct conn cl;
	uint8_t *f = new_frame(size);
	uint64_t *t = calloc(iters, sizeof(*t));
	struct bench_rd r = { .fill = tls_fill, .cap = RBUF, .buf = malloc(RBUF) };
	size_t i;

	if (t == NULL || r.buf == NULL)
		bench_fatal("out of memory");
	start(&cl, s1, s2, echo_peer, size, 0);
	r.src = cl.ssl;
	for (i = 0; i < warmup + iters; i++) {
		uint64_t t0 = bench_now_ns();
		tls_write_all(cl.ssl, f, 4 + size);
		if (!rd_frame(&r, size, "pingpong"))
			bench_fatal("pingpong: echo ended the stream");
		if (i >= warmup)
			t[i - warmup] = bench_now_ns() - t0;
	}
	finish(&cl);
	printf("%.2f\n", (double)bench_median(t, iters) / 1000.0);
	free(r.buf);
	free(f);
	free(t);
}

/* Server of stream: count frames; after each trial, send the time on sync. */
static void
sink_peer(SSL *ssl, int sync, size_t size, size_t count)
{
	struct bench_rd r = { .fill = tls_fill, .src = ssl, .cap = RBUF, .buf = malloc(RBUF) };
	size_t seen = 0;
	uint64_t t;

	if (r.buf == NULL)
		bench_fatal("out of memory");
	while (rd_frame(&r, size, "sink")) {
		if (++seen % count == 0) {
			t = bench_now_ns();
			bench_write_all(sync, &t, sizeof(t));
		}
	}
	free(r.buf);
}

static void
stream(const char *s1, const char *s2, size_t size, size_t count, size_t trials)
{
	struct conn cl;
	uint8_t *f = new_frame(size);
	uint64_t *rs = calloc(trials, sizeof(*rs));
	size_t i, k;

	if (rs == NULL)
		bench_fatal("out of memory");
	start(&cl, s1, s2, sink_peer, size, count);
	for (k = 0; k < trials + 1; k++) {	/* trial 0 warms up */
		uint64_t t0 = bench_now_ns(), t1;
		for (i = 0; i < count; i++)
			tls_write_all(cl.ssl, f, 4 + size);
		if (!bench_read_all(cl.sync, &t1, sizeof(t1)))
			bench_fatal("stream: sink died");
		if (k > 0)
			rs[k - 1] = (uint64_t)((double)count * 1e9 / (double)(t1 - t0));
	}
	finish(&cl);
	printf("%.0f\n", (double)bench_median(rs, trials));
	free(f);
	free(rs);
}

int
main(int argc, char **argv)
{
	size_t size;

	signal(SIGPIPE, SIG_IGN);
	if (argc != 7)
		usage();
	size = bench_count(argv[4], "SIZE");
	if (size > (64u << 20))
		bench_fatal("SIZE too large: %zu", size);
	if (strcmp(argv[1], "pingpong") == 0)
		pingpong(argv[2], argv[3], size, bench_count(argv[5], "ITERS"), (size_t)atol(argv[6]));
	else if (strcmp(argv[1], "stream") == 0)
		stream(argv[2], argv[3], size, bench_count(argv[5], "COUNT"), bench_count(argv[6], "TRIALS"));
	else
		usage();
	return 0;
}
