/*
 * spawn.c — what one shell-style `msgsend` costs: fork + exec of
 * `MSGSEND -R DIR NAME hi` to a receiver that drains NAME with masix_recv(),
 * next to fork + exec of /bin/true measured the same way.
 *
 *   spawn DIR MSGSEND RUNS WARMUP
 *	prints two lines: the median wall time of one msgsend run and of one
 *	/bin/true run, in milliseconds
 */
#include <signal.h>
#include <sys/wait.h>
#include "masix.h"
#include "bench.h"

#define PEER_TIMEOUT_MS	20000

static pid_t child = -1;

__attribute__((noreturn)) static void
fail(const char *what, int err)
{
	if (child > 0)
		kill(child, SIGTERM);
	bench_fatal("%s: %s", what, mx_strerror(err));
}

/* Child: take name, receive exactly count messages "hi". */
static void
drain(const char *dir, const char *name, size_t count, int sync)
{
	struct mx_conn *c;
	struct mx_msg *m;
	mx_name_t port;
	const uint8_t *b;
	size_t i, n;
	int r;

	if ((r = masix_connect(dir, &c)) < 0)
		fail("receiver: connect", r);
	if ((r = masix_port_alloc(c, &port)) < 0)
		fail("receiver: port_alloc", r);
	if ((r = masix_register(c, name, port)) < 0)
		fail("receiver: register", r);
	masix_set_prefetch(c, 64);
	bench_write_all(sync, "r", 1);
	for (i = 0; i < count; i++) {
		if ((r = masix_recv(c, port, PEER_TIMEOUT_MS, &m)) < 0)
			fail("receiver: masix_recv", r);
		if (mx_msg_get_bytes(m, &b, &n) < 0 || n != 2 || memcmp(b, "hi", 2) != 0)
			bench_fatal("receiver: message %zu is not \"hi\"", i);
		mx_msg_free(m);
	}
	masix_close(c);
}

/* Median wall time of runs fork+exec+wait of argv, after warmup unmeasured ones. */
static double
time_exec(char *const argv[], size_t runs, size_t warmup)
{
	uint64_t *t = calloc(runs, sizeof(*t));
	size_t i;
	double ms;

	if (t == NULL)
		bench_fatal("out of memory");
	for (i = 0; i < warmup + runs; i++) {
		uint64_t t0 = bench_now_ns();
		pid_t pid = fork();
		int st;
		if (pid < 0)
			bench_fatal("fork: %s", strerror(errno));
		if (pid == 0) {
			execv(argv[0], argv);
			fprintf(stderr, "bench: exec %s: %s\n", argv[0], strerror(errno));
			_exit(127);
		}
		if (waitpid(pid, &st, 0) < 0)
			bench_fatal("waitpid: %s", strerror(errno));
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			if (child > 0)
				kill(child, SIGTERM);
			bench_fatal("%s (run %zu) failed with status %d", argv[0], i,
			    WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
		}
		if (i >= warmup)
			t[i - warmup] = bench_now_ns() - t0;
	}
	ms = (double)bench_median(t, runs) / 1e6;
	free(t);
	return ms;
}

int
main(int argc, char **argv)
{
	char name[64], hi[] = "hi", rflag[] = "-R", truebin[] = "/bin/true";
	size_t runs, warmup;
	int fds[2], st;
	char ready;

	signal(SIGPIPE, SIG_IGN);
	if (argc != 5) {
		fprintf(stderr, "usage: spawn DIR MSGSEND RUNS WARMUP\n");
		return 64;
	}
	runs = bench_count(argv[3], "RUNS");
	warmup = (size_t)atol(argv[4]);
	snprintf(name, sizeof(name), "bench.spawn.%d", (int)getpid());
	if (pipe(fds) < 0)
		bench_fatal("pipe: %s", strerror(errno));
	if ((child = fork()) < 0)
		bench_fatal("fork: %s", strerror(errno));
	if (child == 0) {
		child = -1;
		close(fds[0]);
		drain(argv[1], name, warmup + runs, fds[1]);
		_exit(0);
	}
	close(fds[1]);
	if (!bench_read_all(fds[0], &ready, 1))
		bench_fatal("receiver (pid %d) failed before taking %s", (int)child, name);

	char *send_argv[] = { argv[2], rflag, argv[1], name, hi, NULL };
	char *true_argv[] = { truebin, NULL };
	double ms_send = time_exec(send_argv, runs, warmup);
	if (waitpid(child, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		bench_fatal("receiver (pid %d) did not get all %zu messages", (int)child, warmup + runs);
	double ms_true = time_exec(true_argv, runs, warmup);
	printf("%.3f\n%.3f\n", ms_send, ms_true);
	return 0;
}
