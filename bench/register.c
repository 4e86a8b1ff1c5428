/*
 * register.c — what the registration check costs (namesrv asks portd who
 * holds the port, portd hashes its binary once per file version, keysrv
 * gives the verdict), one registration at a time, as a server starting up
 * does it.
 *
 *   register DIR COUNT
 *	prints two numbers, one per line, in microseconds: the first
 *	registration of a process whose binary was never hashed (cold: this
 *	program copied to a new file, run once), the median of COUNT
 *	registrations of one running process afterwards (warm: cached)
 *   register DIR once
 *	(what the cold run executes) one registration, its microseconds
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "masix.h"
#include "bench.h"

static uint64_t
one(struct mx_conn *c, const char *name)
{
	mx_name_t p;
	uint64_t t0;
	int r;

	if ((r = masix_port_alloc(c, &p)) < 0)
		bench_fatal("port: %s", mx_strerror(r));
	t0 = bench_now_ns();
	if ((r = masix_register(c, name, p)) < 0)
		bench_fatal("register %s: %s", name, mx_strerror(r));
	return (bench_now_ns() - t0) / 1000;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* This program copied to a new file (a new inode: never hashed), run once. */
static uint64_t
cold(const char *dir)
{
	char copy[] = "/tmp/masix-bench-reg.XXXXXX", buf[1 << 16], out[64];
	int in, fd, pfd[2], st;
	ssize_t n;
	pid_t pid;

	if ((fd = mkstemp(copy)) < 0 || (in = open("/proc/self/exe", O_RDONLY)) < 0)
		bench_fatal("copy: %s", strerror(errno));
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(fd, buf, (size_t)n) != n)
			bench_fatal("copy: %s", strerror(errno));
	close(in);
	fchmod(fd, 0700);
	close(fd);
	if (pipe(pfd) < 0 || (pid = fork()) < 0)
		bench_fatal("fork: %s", strerror(errno));
	if (pid == 0) {
		dup2(pfd[1], 1);
		execl(copy, copy, dir, "once", (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	n = read(pfd[0], out, sizeof(out) - 1);
	close(pfd[0]);
	waitpid(pid, &st, 0);
	unlink(copy);
	if (n <= 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		bench_fatal("cold registration failed");
	out[n] = '\0';
	return strtoull(out, NULL, 10);
}

int
main(int argc, char **argv)
{
	struct mx_conn *c;
	char name[64];
	uint64_t *v, c0;
	size_t i, n;
	int r;

	if (argc != 3)
		bench_fatal("usage: register DIR COUNT | register DIR once");
	if ((r = masix_connect(argv[1], &c)) < 0)
		bench_fatal("connect: %s", mx_strerror(r));
	if (strcmp(argv[2], "once") == 0) {
		snprintf(name, sizeof(name), "bench.reg.cold.%d", (int)getpid());
		printf("%llu\n", (unsigned long long)one(c, name));
		return 0;
	}
	n = strtoul(argv[2], NULL, 10);
	if (n == 0 || (v = calloc(n, sizeof(*v))) == NULL)
		bench_fatal("bad count");
	c0 = cold(argv[1]);
	/* Warm: our own binary, hashed at our first registration (not counted). */
	snprintf(name, sizeof(name), "bench.reg.first.%d", (int)getpid());
	one(c, name);
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "bench.reg.%d.%zu", (int)getpid(), i);
		v[i] = one(c, name);
	}
	qsort(v, n, sizeof(*v), cmp_u64);
	printf("%llu\n%llu\n", (unsigned long long)c0, (unsigned long long)v[n / 2]);
	free(v);
	masix_close(c);
	return 0;
}
