/*
 * raw.c — the baselines: two processes on an AF_UNIX stream socketpair,
 * exchanging the same framed messages (4-byte big-endian length + body)
 * that the masix figures move, with no daemon in between.
 *
 *   raw pingpong SIZE ITERS WARMUP   median round trip, microseconds
 *   raw stream SIZE COUNT TRIALS     one-way messages per second (median trial):
 *                                    one writev() per message, buffered reads
 *   raw batched SIZE COUNT TRIALS    the same, frames packed into 64 KiB writes
 *                                    (what a careful pipelining sender does)
 */
#include <signal.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include "bench.h"

#define WBUF	(64 * 1024)
#define RBUF	(256 * 1024)

static pid_t child = -1;

__attribute__((noreturn)) static void
usage(void)
{
	fprintf(stderr, "usage: raw pingpong SIZE ITERS WARMUP\n"
	    "       raw stream|batched SIZE COUNT TRIALS\n");
	exit(64);
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

/* One frame in one writev(), finishing a short write the slow way. */
static void
write_frame(int fd, uint8_t hdr[4], const uint8_t *body, size_t n)
{
	struct iovec iov[2] = { { hdr, 4 }, { (void *)(uintptr_t)body, n } };
	ssize_t w;

	while ((w = writev(fd, iov, 2)) < 0 && errno == EINTR)
		;
	if (w < 0)
		bench_fatal("writev: %s", strerror(errno));
	if ((size_t)w < 4) {
		bench_write_all(fd, hdr + w, 4 - (size_t)w);
		w = 4;
	}
	bench_write_all(fd, body + (w - 4), n - (size_t)(w - 4));
}

/* Start the peer: fn runs in the child on its end of the pair and the sync pipe. */
static void
spawn_peer(int sv[2], int sync[2], void (*fn)(int, int, size_t, size_t), size_t a, size_t b)
{
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0 || pipe(sync) < 0)
		bench_fatal("socketpair: %s", strerror(errno));
	if ((child = fork()) < 0)
		bench_fatal("fork: %s", strerror(errno));
	if (child == 0) {
		close(sv[0]);
		close(sync[0]);
		fn(sv[1], sync[1], a, b);
		_exit(0);
	}
	close(sv[1]);
	close(sync[1]);
}

static void
reap_peer(void)
{
	int st;

	if (waitpid(child, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		bench_fatal("raw peer (pid %d) failed", (int)child);
}

/* Child of pingpong: echo every frame back until the stream ends. */
static void
echo_peer(int fd, int sync, size_t size, size_t unused)
{
	uint8_t hdr[4], *body = malloc(size ? size : 1);

	(void)unused;
	(void)sync;
	if (body == NULL)
		bench_fatal("out of memory");
	while (bench_read_all(fd, hdr, 4)) {
		uint32_t n = get_be32(hdr);
		if (n != size)
			bench_fatal("echo: frame of %u bytes, expected %zu", n, size);
		bench_read_all(fd, body, n);
		write_frame(fd, hdr, body, n);
	}
	free(body);
}

static void
pingpong(size_t size, size_t iters, size_t warmup)
{
	int sv[2], sync[2];
	uint8_t hdr[4], *body = calloc(1, size ? size : 1);
	uint64_t *t = calloc(iters, sizeof(*t));
	size_t i;

	if (body == NULL || t == NULL)
		bench_fatal("out of memory");
	spawn_peer(sv, sync, echo_peer, size, 0);
	put_be32(hdr, (uint32_t)size);
	for (i = 0; i < warmup + iters; i++) {
		uint64_t t0 = bench_now_ns();
		write_frame(sv[0], hdr, body, size);
		if (!bench_read_all(sv[0], hdr, 4) || get_be32(hdr) != size)
			bench_fatal("pingpong: bad echo");
		bench_read_all(sv[0], body, size);
		if (i >= warmup)
			t[i - warmup] = bench_now_ns() - t0;
	}
	close(sv[0]);
	reap_peer();
	printf("%.2f\n", (double)bench_median(t, iters) / 1000.0);
	free(body);
	free(t);
}

/* bench_rd's fill for a plain socket. */
static size_t
fd_fill(void *src, uint8_t *buf, size_t room)
{
	ssize_t got;

	while ((got = read(*(int *)src, buf, room)) < 0) {
		if (errno != EINTR)
			bench_fatal("read: %s", strerror(errno));
	}
	return (size_t)got;
}

/* Child of stream: count frames; after each trial, send the time on sync. */
static void
sink_peer(int fd, int sync, size_t size, size_t count)
{
	struct bench_rd r = { .fill = fd_fill, .src = &fd, .cap = RBUF, .buf = malloc(RBUF) };
	size_t seen = 0;
	uint64_t t;

	if (r.buf == NULL)
		bench_fatal("out of memory");
	while (bench_rd_need(&r, 4)) {
		uint32_t n = get_be32(r.buf + r.pos);
		if (n != size)
			bench_fatal("sink: frame of %u bytes, expected %zu", n, size);
		if (!bench_rd_need(&r, 4 + (size_t)n))
			bench_fatal("sink: stream ended inside a frame");
		r.pos += 4 + (size_t)n;
		if (++seen % count == 0) {
			t = bench_now_ns();
			bench_write_all(sync, &t, sizeof(t));
		}
	}
	free(r.buf);
}

static void
stream(size_t size, size_t count, size_t trials, int batched)
{
	int sv[2], sync[2];
	uint8_t *wb = malloc(WBUF), *body = calloc(1, size ? size : 1);
	uint64_t *rs = calloc(trials, sizeof(*rs));
	size_t i, k, wl = 0;

	if (wb == NULL || body == NULL || rs == NULL)
		bench_fatal("out of memory");
	spawn_peer(sv, sync, sink_peer, size, count);
	for (k = 0; k < trials + 1; k++) {	/* trial 0 warms up */
		uint64_t t0 = bench_now_ns(), t1;
		for (i = 0; i < count; i++) {
			if (!batched || 4 + size > WBUF) {
				uint8_t hdr[4];
				put_be32(hdr, (uint32_t)size);
				write_frame(sv[0], hdr, body, size);
				continue;
			}
			if (wl + 4 + size > WBUF) {
				bench_write_all(sv[0], wb, wl);
				wl = 0;
			}
			put_be32(wb + wl, (uint32_t)size);
			memcpy(wb + wl + 4, body, size);
			wl += 4 + size;
		}
		bench_write_all(sv[0], wb, wl);
		wl = 0;
		if (!bench_read_all(sync[0], &t1, sizeof(t1)))
			bench_fatal("stream: sink died");
		if (k > 0)
			rs[k - 1] = (uint64_t)((double)count * 1e9 / (double)(t1 - t0));
	}
	close(sv[0]);
	reap_peer();
	printf("%.0f\n", (double)bench_median(rs, trials));
	free(wb);
	free(body);
	free(rs);
}

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc != 5)
		usage();
	size_t size = bench_count(argv[2], "SIZE");
	if (size > (64u << 20))
		bench_fatal("SIZE too large: %zu", size);
	if (strcmp(argv[1], "pingpong") == 0)
		pingpong(size, bench_count(argv[3], "ITERS"), (size_t)atol(argv[4]));
	else if (strcmp(argv[1], "stream") == 0 || strcmp(argv[1], "batched") == 0)
		stream(size, bench_count(argv[3], "COUNT"), bench_count(argv[4], "TRIALS"),
		    strcmp(argv[1], "batched") == 0);
	else
		usage();
	return 0;
}
