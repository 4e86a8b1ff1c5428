/*
 * sharesock — a registered server whose connection to portd is written by
 * another process (t/131-shared-socket.bats): a forked child, with or
 * without exec'ing another binary, or an unrelated process the connection
 * was handed to over SCM_RIGHTS. portd must stamp the server's service on
 * what the server writes, and on nothing the others write.
 *
 *   sharesock -R DIR serve NAME TO fork PROG
 *        register NAME, send "server before" to TO, fork a child that
 *        exec's PROG fd-send FD RIGHT child on the inherited connection,
 *        wait for it, send "server after"
 *   sharesock -R DIR serve NAME TO fork-noexec
 *        the same, the child (same binary, no exec) sends "child" itself
 *   sharesock -R DIR serve NAME TO pass SOCKPATH
 *        the same, the connection handed to the process listening on
 *        SOCKPATH (sharesock take), which sends "taker"
 *   sharesock -R DIR serve NAME TO split
 *        the same, then two messages whose frames two processes write
 *        halves of: "split-a", the server writing the first half and a
 *        forked child the rest, "split-b", the child first; each half
 *        written once portd has read all before it
 *   sharesock fd-send FD RIGHT TEXT
 *        send TEXT on the connection FD to the send right RIGHT
 *   sharesock take SOCKPATH
 *        listen on SOCKPATH, take one connection to portd handed over it
 *        with the name of a send right, send "taker" on it, then answer
 *
 * Each prints what it sent, "pid PID: sent TEXT"; errors go to stderr, exit 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include "client.h"
#include "masix.h"

static void __attribute__((noreturn))
fail(const char *what, struct mx_conn *c, int r)
{
	fprintf(stderr, "sharesock: %s: %s%s%s\n", what, mx_strerror(r), c && *masix_errdetail(c) ? ": " : "",
	    c ? masix_errdetail(c) : "");
	exit(1);
}

static void __attribute__((noreturn))
fail_errno(const char *what)
{
	fprintf(stderr, "sharesock: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void
send_text(struct mx_conn *c, mx_name_t to, const char *text)
{
	struct mx_msg *m = mx_msg_new(1);
	int r;

	if (m == NULL)
		fail("message", c, -MX_ERR_NOMEM);
	m->dest = to;
	if ((r = mx_msg_add_bytes(m, text, strlen(text))) == 0)
		r = masix_send(c, m, 5000);
	mx_msg_free(m);
	if (r < 0)
		fail(text, c, r);
	printf("pid %d: sent %s\n", (int)getpid(), text);
	fflush(stdout);
}

/* A client over a connection someone else opened (inherited, or received). */
static struct mx_conn *
conn_of_fd(int fd)
{
	struct mx_conn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL || (c->in = malloc(1 << 16)) == NULL)
		fail_errno("memory");
	c->fd = fd;
	c->incap = 1 << 16;
	c->prefetch = 1;
	return c;
}

/* Wait until portd has read all we wrote on fd (nothing left in its queue). */
static void
drained(int fd)
{
	struct timespec ts = { 0, 1000000 };
	int i, q;

	for (i = 0; i < 5000; i++) {
		if (ioctl(fd, SIOCOUTQ, &q) < 0)
			fail_errno("SIOCOUTQ");
		if (q == 0)
			return;
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "sharesock: portd did not read what we wrote in 5 s\n");
	exit(1);
}

static void
write_all(int fd, const uint8_t *p, size_t n)
{
	ssize_t w;

	for (; n > 0; p += w, n -= (size_t)w)
		if ((w = write(fd, p, n)) < 0)
			fail_errno("write");
	drained(fd);
}

/*
 * One message whose frame is written in two halves, by this process and a
 * forked child: child_first says which writes the first half.
 */
static void
send_split(struct mx_conn *c, mx_name_t to, const char *text, int child_first)
{
	struct mx_msg *m = mx_msg_new(1);
	uint8_t frame[512];
	size_t n, half;
	pid_t pid;
	int r, st;

	if (m == NULL)
		fail("message", c, -MX_ERR_NOMEM);
	m->dest = to;
	/* The library frames it; we write the frame ourselves. */
	if ((r = mx_msg_add_bytes(m, text, strlen(text))) < 0 || (r = masix_send_nowait(c, m, 5000)) < 0)
		fail(text, c, r);
	mx_msg_free(m);
	if ((n = c->outlen) > sizeof(frame))
		fail(text, c, -MX_ERR_INVAL);
	memcpy(frame, c->out, n);
	c->outlen = 0;
	half = n / 2;
	if (!child_first)
		write_all(c->fd, frame, half);
	if ((pid = fork()) < 0)
		fail_errno("fork");
	if (pid == 0) {
		if (child_first)
			write_all(c->fd, frame, half);
		else
			write_all(c->fd, frame + half, n - half);
		_exit(0);
	}
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "sharesock: the child failed\n");
		exit(1);
	}
	if (child_first)
		write_all(c->fd, frame + half, n - half);
	if ((r = masix_flush(c)) < 0)
		fail(text, c, r);
	printf("pid %d: sent %s in halves, pid %d %s\n", (int)getpid(), text, (int)pid,
	    child_first ? "first" : "second");
	fflush(stdout);
}

static void
sun_of(struct sockaddr_un *sun, const char *path)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path)) {
		fprintf(stderr, "sharesock: %s: path too long\n", path);
		exit(1);
	}
	strcpy(sun->sun_path, path);
}

/* Hand fd and the right's name to the process listening on path; wait for its answer. */
static void
pass(const char *path, int fd, mx_name_t right)
{
	char cbuf[CMSG_SPACE(sizeof(int))], ack;
	struct iovec iov = { .iov_base = &right, .iov_len = sizeof(right) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
	    .msg_controllen = sizeof(cbuf) };
	struct sockaddr_un sun;
	struct cmsghdr *cm;
	int s;

	sun_of(&sun, path);
	if ((s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(s, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		fail_errno(path);
	memset(cbuf, 0, sizeof(cbuf));
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	if (sendmsg(s, &mh, 0) != (ssize_t)sizeof(right))
		fail_errno("sendmsg");
	if (read(s, &ack, 1) != 1)
		fail_errno("the taker did not answer");
	close(s);
}

static int
take(const char *path)
{
	char cbuf[CMSG_SPACE(sizeof(int))], ack = 'k';
	mx_name_t right;
	struct iovec iov = { .iov_base = &right, .iov_len = sizeof(right) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
	    .msg_controllen = sizeof(cbuf) };
	struct sockaddr_un sun;
	struct cmsghdr *cm;
	struct mx_conn *c;
	int l, s, fd;

	sun_of(&sun, path);
	if ((l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(l, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(l, 1) < 0)
		fail_errno(path);
	if ((s = accept4(l, NULL, NULL, SOCK_CLOEXEC)) < 0)
		fail_errno("accept");
	if (recvmsg(s, &mh, MSG_CMSG_CLOEXEC) != (ssize_t)sizeof(right) || (cm = CMSG_FIRSTHDR(&mh)) == NULL ||
	    cm->cmsg_type != SCM_RIGHTS)
		fail_errno("no connection came");
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	c = conn_of_fd(fd);
	send_text(c, right, "taker");
	masix_close(c);
	if (write(s, &ack, 1) != 1)
		fail_errno("answer");
	return 0;
}

static int
serve(const char *rundir, int argc, char **argv)
{
	const char *name = argv[0], *to_name = argv[1], *mode = argv[2];
	struct mx_conn *c;
	mx_name_t port, to;
	char fdarg[16], rarg[16];
	pid_t pid;
	int r, st;

	if ((r = masix_connect(rundir, &c)) < 0)
		fail("connect", NULL, r);
	if ((r = masix_port_alloc(c, &port)) < 0 || (r = masix_register(c, name, port)) < 0)
		fail(name, c, r);
	if ((r = masix_lookup(c, to_name, 5000, &to)) < 0)
		fail(to_name, c, r);
	send_text(c, to, "server before");
	if (strcmp(mode, "split") == 0 && argc == 3) {
		send_split(c, to, "split-a", 0);
		send_split(c, to, "split-b", 1);
	} else if (strcmp(mode, "pass") == 0 && argc == 4) {
		pass(argv[3], masix_fd(c), to);
	} else if ((strcmp(mode, "fork") == 0 && argc == 4) || (strcmp(mode, "fork-noexec") == 0 && argc == 3)) {
		if ((pid = fork()) < 0)
			fail_errno("fork");
		if (pid == 0 && argc == 3) {
			send_text(c, to, "child");
			_exit(0);
		}
		if (pid == 0) {
			/* The connection stays open across exec: the child's own binary writes on it. */
			if (fcntl(masix_fd(c), F_SETFD, 0) < 0)
				fail_errno("fcntl");
			snprintf(fdarg, sizeof(fdarg), "%d", masix_fd(c));
			snprintf(rarg, sizeof(rarg), "%u", (unsigned)to);
			execl(argv[3], argv[3], "fd-send", fdarg, rarg, "child", (char *)NULL);
			fail_errno(argv[3]);
		}
		if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "sharesock: the child failed\n");
			return 1;
		}
	} else {
		fprintf(stderr, "sharesock: bad usage\n");
		return 64;
	}
	send_text(c, to, "server after");
	masix_close(c);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "fd-send") == 0) {
		struct mx_conn *c = conn_of_fd(atoi(argv[2]));

		send_text(c, (mx_name_t)strtoul(argv[3], NULL, 10), argv[4]);
		masix_close(c);
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "take") == 0)
		return take(argv[2]);
	if (argc >= 7 && strcmp(argv[1], "-R") == 0 && strcmp(argv[3], "serve") == 0)
		return serve(argv[2], argc - 4, argv + 4);
	fprintf(stderr, "usage: sharesock -R DIR serve NAME TO fork PROG | fork-noexec | pass SOCKPATH | split\n"
	    "       sharesock fd-send FD RIGHT TEXT | take SOCKPATH\n");
	return 64;
}
