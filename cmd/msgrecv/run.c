/* run.c — run a command per message: body on its stdin, its stdout captured. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include "msgrecv.h"
#include "tool.h"

static void
set_env(const char *key, unsigned long v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lu", v);
	setenv(key, buf, 1);
}

static void
child(const char *cmd, const struct mx_trailer *tr, int in, int out)
{
	set_env("MSG_SENDER_UID", tr->uid);
	set_env("MSG_SENDER_GID", tr->gid);
	set_env("MSG_SENDER_PID", tr->pid);
	setenv("MSG_SENDER_NODE", tr->node, 1);
	if (tr->service[0])
		setenv("MSG_SENDER_SERVICE", tr->service, 1);
	else
		unsetenv("MSG_SENDER_SERVICE");
	if (dup2(in, STDIN_FILENO) < 0 || (out >= 0 && dup2(out, STDOUT_FILENO) < 0))
		_exit(126);
	signal(SIGPIPE, SIG_DFL);
	execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
	_exit(127);
}

/* Feed body to the child and collect its stdout at once, so neither side blocks. */
static int
pump(int to, int from, const uint8_t *body, size_t len, struct output *o)
{
	size_t sent = 0;

	if (len == 0) {
		close(to);
		to = -1;
	}
	while (to >= 0 || from >= 0) {
		struct pollfd pf[2] = { { .fd = to, .events = POLLOUT }, { .fd = from, .events = POLLIN } };
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (to >= 0 && (pf[0].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t w = write(to, body + sent, len - sent);
			if (w < 0 && errno != EAGAIN && errno != EINTR) {
				close(to);	/* the command did not read it all: fine */
				to = -1;
			} else if (w > 0 && (sent += (size_t)w) == len) {
				close(to);
				to = -1;
			}
		}
		if (from >= 0 && (pf[1].revents & (POLLIN | POLLERR | POLLHUP))) {
			ssize_t r;
			if (o->len == o->cap) {
				size_t cap = o->cap ? o->cap * 2 : 4096;
				uint8_t *nb;
				if (cap > OUTPUT_MAX + 4096)
					cap = OUTPUT_MAX + 4096;
				if (o->len >= OUTPUT_MAX) {
					o->truncated = 1;
					cap = o->cap;
				} else if ((nb = realloc(o->buf, cap)) == NULL) {
					return -1;
				} else {
					o->buf = nb;
					o->cap = cap;
				}
			}
			if (o->len < o->cap) {
				r = read(from, o->buf + o->len, o->cap - o->len);
			} else {
				uint8_t sink[4096];	/* over the limit: drain and drop */
				r = read(from, sink, sizeof(sink));
			}
			if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) {
				close(from);
				from = -1;
			} else if (r > 0 && o->len < o->cap) {
				o->len += (size_t)r;
			}
		}
	}
	return 0;
}

int
run_command(const char *cmd, const struct mx_trailer *tr, const uint8_t *body, size_t len, int capture,
    struct output *o, int *status)
{
	int in[2], out[2] = { -1, -1 };
	pid_t pid;

	memset(o, 0, sizeof(*o));
	if (pipe2(in, O_CLOEXEC) < 0 || (capture && pipe2(out, O_CLOEXEC) < 0))
		return -1;
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0)
		child(cmd, tr, in[0], out[1]);
	close(in[0]);
	if (capture)
		close(out[1]);
	/* Both ends non-blocking: a command that writes before it reads must not deadlock us. */
	fcntl(in[1], F_SETFL, O_NONBLOCK);
	if (capture)
		fcntl(out[0], F_SETFL, O_NONBLOCK);
	if (pump(in[1], capture ? out[0] : -1, body, len, o) < 0) {
		kill(pid, SIGKILL);
	}
	while (waitpid(pid, status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return 0;
}
