/*
 * bench.h — what the benchmark programs share: a monotonic clock, a median,
 * loud failure, and full reads and writes on a stream socket. Header-only
 * (static inline) because each bench program builds into its own program.
 */
#ifndef BENCH_H
#define BENCH_H

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static inline uint64_t
bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

__attribute__((format(printf, 1, 2), noreturn)) static inline void
bench_fatal(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "bench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static inline int
bench_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Median of n samples (sorts them in place). */
static inline uint64_t
bench_median(uint64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), bench_cmp_u64);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* A positive count from argv, or a loud exit. */
static inline size_t
bench_count(const char *s, const char *what)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || v == 0 || v > (1ull << 31))
		bench_fatal("bad %s: \"%s\"", what, s);
	return (size_t)v;
}

static inline void
bench_write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, b, n)) < 0) {
			if (errno == EINTR)
				continue;
			bench_fatal("write: %s", strerror(errno));
		}
		b += w;
		n -= (size_t)w;
	}
}

/* 1 once n bytes are read, 0 at a clean end of stream before any byte. */
static inline int
bench_read_all(int fd, void *p, size_t n)
{
	uint8_t *b = p;
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		if ((r = read(fd, b + got, n - got)) < 0) {
			if (errno == EINTR)
				continue;
			bench_fatal("read: %s", strerror(errno));
		}
		if (r == 0) {
			if (got == 0)
				return 0;
			bench_fatal("read: stream ended inside a frame");
		}
		got += (size_t)r;
	}
	return 1;
}

/*
 * A buffered reader over a stream (a socket, or TLS on one): fill reads
 * into buf up to room bytes and returns how many, 0 at a clean end of the
 * stream; it exits loudly on error.
 */
struct bench_rd {
	size_t (*fill)(void *src, uint8_t *buf, size_t room);
	void *src;
	uint8_t *buf;
	size_t cap, pos, end;
};

/* 1 once n bytes are buffered at buf + pos, 0 at a clean end of stream. */
static inline int
bench_rd_need(struct bench_rd *r, size_t n)
{
	size_t got;

	if (r->end - r->pos >= n)
		return 1;
	memmove(r->buf, r->buf + r->pos, r->end - r->pos);
	r->end -= r->pos;
	r->pos = 0;
	if (n > r->cap) {
		if ((r->buf = realloc(r->buf, n)) == NULL)
			bench_fatal("out of memory");
		r->cap = n;
	}
	while (r->end < n) {
		if ((got = r->fill(r->src, r->buf + r->end, r->cap - r->end)) == 0)
			return 0;
		r->end += got;
	}
	return 1;
}

#endif
