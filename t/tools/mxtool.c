/*
 * mxtool — drives portd through the client API for the bats suite: each
 * scenario opens one or more connections (tasks) to a real node and prints
 * what it saw, one line per step, for the tests to compare exactly.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include "masix.h"
#include "names.h"
#include "sd.h"
#include "sock.h"
#include "wire.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/lsan_interface.h>
#define MXTOOL_LSAN 1
#endif
#endif

#define TOOL_NAME "mxtool"
#include "toolconn.h"

static struct mx_msg *
text_msg(mx_name_t dest, const char *s)
{
	struct mx_msg *m = mx_msg_new(0);

	m->dest = dest;
	mx_msg_add_bytes(m, s, strlen(s));
	return m;
}

static void
print_body(const char *who, struct mx_msg *m)
{
	const uint8_t *p;
	size_t n;

	if (mx_msg_get_bytes(m, &p, &n) == 0)
		printf("%s: %.*s\n", who, (int)n, (const char *)p);
	m->rpos = 0;
}

static const char *
right_name(uint8_t r)
{
	switch (r) {
	case MX_RIGHT_RECEIVE: return "receive";
	case MX_RIGHT_SEND: return "send";
	case MX_RIGHT_SEND_ONCE: return "send-once";
	}
	return "?";
}

/* A send right travels in a message; the receiver uses it to answer. */
static int
sc_xfer_send(void)
{
	struct mx_conn *a = conn(), *b = conn();
	mx_name_t pa, pb, sa, got;
	struct mx_msg *m, *in;
	uint8_t right;

	CHECK(masix_port_alloc(a, &pa));
	CHECK(masix_register(a, "t.xfer", pa));
	CHECK(masix_port_alloc(b, &pb));
	CHECK(masix_lookup(b, "t.xfer", 0, &sa));
	m = text_msg(sa, "here is my port");
	CHECK(mx_msg_add_port(m, pb, MX_DISP_MAKE_SEND));
	CHECK(masix_send(b, m, MX_FOREVER));
	CHECK(masix_recv(a, pa, 2000, &in));
	print_body("a got", in);
	CHECK(mx_msg_get_bytes(in, &(const uint8_t *){0}, &(size_t){0}));
	CHECK(mx_msg_get_port(in, &got, &right));
	printf("a holds a %s right\n", right_name(right));
	mx_msg_free(m);
	m = text_msg(got, "answer through the carried right");
	CHECK(masix_send(a, m, MX_FOREVER));
	mx_msg_free(in);
	CHECK(masix_recv(b, pb, 2000, &in));
	print_body("b got", in);
	printf("sender pid %s\n", in->trailer.pid == (uint32_t)getpid() ? "matches" : "differs");
	printf("sender uid %s\n", in->trailer.uid == (uint32_t)getuid() ? "matches" : "differs");
	return 0;
}

/* A receive right moves to another task, with what is queued on it. */
static int
sc_xfer_recv(void)
{
	struct mx_conn *a = conn(), *b = conn(), *c = conn();
	mx_name_t pa, q, sa, sq, moved;
	struct mx_msg *m, *in;
	uint8_t right;
	int r;

	CHECK(masix_port_alloc(a, &pa));
	CHECK(masix_register(a, "t.mover", pa));
	CHECK(masix_port_alloc(b, &q));
	CHECK(masix_register(b, "t.moved", q));
	CHECK(masix_lookup(c, "t.moved", 0, &sq));
	m = text_msg(sq, "queued before the move");
	CHECK(masix_send(c, m, MX_FOREVER));
	mx_msg_free(m);
	CHECK(masix_lookup(b, "t.mover", 0, &sa));
	m = text_msg(sa, "take my port");
	CHECK(mx_msg_add_port(m, q, MX_DISP_MOVE_RECEIVE));
	CHECK(masix_send(b, m, MX_FOREVER));
	mx_msg_free(m);
	r = masix_recv(b, q, 0, &in);
	printf("b receives on the moved port: %s\n", mx_strerror(r));
	CHECK(masix_recv(a, pa, 2000, &in));
	CHECK(mx_msg_get_bytes(in, &(const uint8_t *){0}, &(size_t){0}));
	CHECK(mx_msg_get_port(in, &moved, &right));
	printf("a holds a %s right\n", right_name(right));
	mx_msg_free(in);
	CHECK(masix_recv(a, moved, 2000, &in));
	print_body("a got", in);
	mx_msg_free(in);
	m = text_msg(sq, "sent after the move");
	CHECK(masix_send(c, m, MX_FOREVER));
	CHECK(masix_recv(a, moved, 2000, &in));
	print_body("a got", in);
	return 0;
}

/* A send-once right is used up by one send. */
static int
sc_send_once(void)
{
	struct mx_conn *a = conn(), *b = conn();
	mx_name_t pa, sa, once;
	struct mx_msg *m, *in, *rep;
	int r;

	CHECK(masix_port_alloc(a, &pa));
	CHECK(masix_register(a, "t.once", pa));
	CHECK(masix_lookup(b, "t.once", 0, &sa));
	/* b asks, a answers twice through the same send-once right. */
	m = text_msg(sa, "question");
	if (fork() == 0) {
		CHECK(masix_recv(a, pa, 2000, &in));
		once = in->reply;
		rep = text_msg(once, "first answer");
		r = masix_send(a, rep, MX_FOREVER);
		printf("first reply: %s\n", mx_strerror(r));
		fflush(stdout);
		rep = text_msg(once, "second answer");
		r = masix_send(a, rep, MX_FOREVER);
		printf("second reply: %s\n", mx_strerror(r));
		fflush(stdout);
		_exit(0);
	}
	CHECK(masix_request(b, m, 5000, &in));
	wait(NULL);
	print_body("b got", in);
	return 0;
}

/* A send right to a port that died is a dead name. */
static int
sc_dead_name(void)
{
	struct mx_conn *a = conn(), *b = conn();
	mx_name_t pa, sa;
	struct mx_msg *m;
	int r;

	CHECK(masix_port_alloc(a, &pa));
	CHECK(masix_register(a, "t.dead", pa));
	CHECK(masix_lookup(b, "t.dead", 0, &sa));
	m = text_msg(sa, "before");
	printf("send before: %s\n", mx_strerror(masix_send(b, m, MX_FOREVER)));
	CHECK(masix_port_destroy(a, pa));
	r = masix_send(b, m, MX_FOREVER);
	printf("send after: %s\n", mx_strerror(r));
	r = masix_lookup(b, "t.dead", 0, &sa);
	printf("lookup after: %s\n", mx_strerror(r));
	return 0;
}

/* The server drops the reply right: the client hears at once that no reply will come. */
static int
sc_no_reply(void)
{
	struct mx_conn *a = conn(), *b = conn();
	mx_name_t pa, sa;
	struct mx_msg *m, *in;
	int r;

	CHECK(masix_port_alloc(a, &pa));
	CHECK(masix_register(a, "t.noreply", pa));
	CHECK(masix_lookup(b, "t.noreply", 0, &sa));
	if (fork() == 0) {
		CHECK(masix_recv(a, pa, 2000, &in));
		CHECK(masix_right_dealloc(a, in->reply));
		_exit(0);
	}
	m = text_msg(sa, "question");
	r = masix_request(b, m, 5000, &in);
	printf("request: %s\n", mx_strerror(r));
	wait(NULL);
	return 0;
}

/* Messages from one sender arrive in the order sent, pipelined or not. */
static int
sc_fifo(int n)
{
	struct mx_conn *a = conn(), *b = conn();
	mx_name_t pa, sa;
	struct mx_msg *m = mx_msg_new(0), *in;
	int i, bad = 0;

	CHECK(masix_port_alloc(a, &pa));
	CHECK(masix_port_set_qlimit(a, pa, 65536));
	CHECK(masix_register(a, "t.fifo", pa));
	CHECK(masix_lookup(b, "t.fifo", 0, &sa));
	for (i = 0; i < n; i++) {
		mx_msg_reset(m, 0);
		m->dest = sa;
		mx_msg_add_int(m, i);
		CHECK(masix_send_nowait(b, m, MX_FOREVER));
	}
	CHECK(masix_flush(b));
	masix_set_prefetch(a, 64);
	for (i = 0; i < n; i++) {
		int64_t v;
		CHECK(masix_recv(a, pa, 5000, &in));
		CHECK(mx_msg_get_int(in, &v));
		if (v != i && bad++ == 0)
			printf("message %d arrived as %lld\n", i, (long long)v);
		mx_msg_free(in);
	}
	printf("%d messages, %d out of order\n", n, bad);
	return bad != 0;
}

/*
 * Pipelined sends of 0..N-1 to NAME (on any node), each with TIMEOUT_MS:
 * prints the first error of the lot, or success.
 */
static int
sc_fifo_send(const char *name, int n, uint32_t timeout_ms)
{
	struct mx_conn *b = conn();
	struct mx_msg *m = mx_msg_new(0);
	mx_name_t dest;
	int i, r = 0;

	CHECK(masix_lookup(b, name, 10000, &dest));
	for (i = 0; i < n && r == 0; i++) {
		mx_msg_reset(m, 0);
		m->dest = dest;
		mx_msg_add_int(m, i);
		r = masix_send_nowait(b, m, timeout_ms);
	}
	if (r == 0)
		r = masix_flush(b);
	printf("sent %d: %s\n", n, mx_strerror(r));
	return 0;
}

/*
 * Take NAME with queue limit QLIMIT, sleep DELAY_MS, then receive until
 * IDLE_MS pass without a message, or MAX came: how many, and whether in
 * order.
 */
static int
sc_fifo_recv(const char *name, uint32_t qlimit, int delay_ms, uint32_t idle_ms, int max)
{
	struct mx_conn *a = conn();
	struct mx_msg *in;
	mx_name_t pa;
	int64_t v, last = -1;
	int got = 0, bad = 0;

	CHECK(masix_port_alloc(a, &pa));
	CHECK(masix_port_set_qlimit(a, pa, qlimit));
	CHECK(masix_register(a, name, pa));
	printf("receiving on %s\n", name);
	usleep((useconds_t)delay_ms * 1000);
	masix_set_prefetch(a, 64);
	while (got < max && masix_recv(a, pa, idle_ms, &in) == 0) {
		CHECK(mx_msg_get_int(in, &v));
		if (v <= last)
			bad++;
		last = v;
		got++;
		mx_msg_free(in);
	}
	if (bad == 0)
		printf("got %d, in order\n", got);
	else
		printf("got %d, %d out of order\n", got, bad);
	return 0;
}

/* Many tasks at once on one event loop. */
static int
sc_many(int n)
{
	struct mx_conn *a = conn(), **cs = calloc((size_t)n, sizeof(*cs));
	mx_name_t pa, *dest = calloc((size_t)n, sizeof(*dest));
	struct mx_msg *in;
	int i, got = 0;

	CHECK(masix_port_alloc(a, &pa));
	CHECK(masix_port_set_qlimit(a, pa, 65536));
	CHECK(masix_register(a, "t.many", pa));
	for (i = 0; i < n; i++) {
		cs[i] = conn();
		CHECK(masix_lookup(cs[i], "t.many", 0, &dest[i]));
	}
	for (i = 0; i < n; i++) {
		struct mx_msg *m = text_msg(dest[i], "hello");
		CHECK(masix_send(cs[i], m, MX_FOREVER));
		mx_msg_free(m);
	}
	while (masix_recv(a, pa, 500, &in) == 0) {
		got++;
		mx_msg_free(in);
	}
	printf("%d tasks connected at once, %d messages received\n", n, got);
	return 0;
}

/* Hold NAME with a small queue and never receive: for queue-full tests. */
static int
sc_hold(const char *name, uint32_t qlimit)
{
	struct mx_conn *a = conn();
	mx_name_t pa;

	CHECK(masix_port_alloc(a, &pa));
	CHECK(masix_port_set_qlimit(a, pa, qlimit));
	CHECK(masix_register(a, name, pa));
	printf("holding %s\n", name);
	fflush(stdout);
	pause();
	return 0;
}

/* Drain NAME: receive COUNT messages and print their bodies. */
static int
sc_drain(const char *name, int count)
{
	struct mx_conn *a = conn();
	mx_name_t pa;
	struct mx_msg *in;
	int i;

	CHECK(masix_port_alloc(a, &pa));
	CHECK(masix_register(a, name, pa));
	for (i = 0; i < count; i++) {
		CHECK(masix_recv(a, pa, 10000, &in));
		print_body("got", in);
		mx_msg_free(in);
	}
	return 0;
}

/* A task that is not root (nor trusted) cannot take the NAME port. */
static int
sc_claim_name(void)
{
	struct mx_conn *a = conn();
	mx_name_t pa;

	CHECK(masix_port_alloc(a, &pa));
	printf("claim NAME: %s\n", mx_strerror(masix_special_set(a, MX_SPECIAL_NAME, pa)));
	return 0;
}

/* A task that does not hold the NAME port asks portd to keep, then drop, a binding of NAME. */
static int
sc_name_keep(const char *name)
{
	struct mx_conn *a = conn();
	mx_name_t pa;

	CHECK(masix_port_alloc(a, &pa));
	printf("keep %s: %s\n", name, mx_strerror(ns_name_keep(a, name, pa, 0, 1)));
	printf("drop %s: %s\n", name, mx_strerror(ns_name_keep(a, name, MX_NAME_NULL, 0, 0)));
	return 0;
}

/* Wait until NAME is registered. */
static int
sc_lookup(const char *name)
{
	struct mx_conn *a = conn();
	mx_name_t n;

	CHECK(masix_lookup(a, name, 10000, &n));
	printf("%s is registered\n", name);
	return 0;
}

/* Whether NAME is registered now (no wait): exit 0 if so, 69 with the reason if not. */
static int
sc_resolve(const char *name)
{
	struct mx_conn *a = conn();
	mx_name_t n;
	int r;

	if ((r = masix_lookup(a, name, 0, &n)) < 0) {
		printf("%s: %s\n", name, *masix_errdetail(a) ? masix_errdetail(a) : mx_strerror(r));
		return 69;
	}
	printf("%s is registered\n", name);
	return 0;
}

/* Register NAME with a queue limit, wait, then receive COUNT messages. */
static int
sc_slow_drain(const char *name, uint32_t qlimit, int delay_ms, int count)
{
	struct mx_conn *a = conn();
	mx_name_t pa;
	struct mx_msg *in;
	int i;

	CHECK(masix_port_alloc(a, &pa));
	CHECK(masix_port_set_qlimit(a, pa, qlimit));
	CHECK(masix_register(a, name, pa));
	usleep((useconds_t)delay_ms * 1000);
	for (i = 0; i < count; i++) {
		CHECK(masix_recv(a, pa, 10000, &in));
		print_body("got", in);
		mx_msg_free(in);
	}
	return 0;
}

/* ---- raw frames, for the bad-input tests ---- */

static void
raw_frame(int fd, uint8_t version, uint8_t type, uint32_t len, const void *p, size_t n)
{
	uint8_t h[MX_FRAME_HDR];
	struct mx_frame_hdr fh = { .len = len, .type = type, .id = 7 };

	frame_hdr_pack(h, &fh);
	h[4] = version;
	if (write(fd, h, sizeof(h)) != (ssize_t)sizeof(h) || (n > 0 && write(fd, p, n) != (ssize_t)n)) {
		perror("mxtool: write");
		exit(1);
	}
}

/* What portd did with it: an error reply (which), or closed the connection. */
static void
raw_outcome(int fd, const char *what)
{
	uint8_t h[MX_FRAME_HDR];
	struct mx_frame_hdr fh;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ssize_t n;

	if (poll(&pfd, 1, 5000) <= 0) {
		printf("%s: no answer\n", what);
		return;
	}
	n = recv(fd, h, sizeof(h), MSG_WAITALL);
	if (n == 0 || (n < 0 && errno == ECONNRESET)) {
		printf("%s: connection closed\n", what);
		return;
	}
	if (n != (ssize_t)sizeof(h) || frame_hdr_unpack(h, &fh) != 0) {
		printf("%s: unreadable answer\n", what);
		return;
	}
	printf("%s: answer: %s\n", what, mx_strerror((int)fh.status));
}

static int
sc_garbage(void)
{
	uint8_t body[64];
	struct mx_conn *a = conn(), *b = conn();
	struct mx_msg *m, *in;
	mx_name_t pa, sa;
	int fd;

	/* Something queued before the garbage must survive it. */
	CHECK(masix_port_alloc(a, &pa));
	CHECK(masix_register(a, "t.survivor", pa));
	CHECK(masix_lookup(b, "t.survivor", 0, &sa));
	m = text_msg(sa, "queued before the garbage");
	CHECK(masix_send(b, m, MX_FOREVER));

	fd = raw_conn();
	if (write(fd, "GET / HTTP/1.0\r\n\r\n", 18) != 18)
		exit(1);
	raw_outcome(fd, "text instead of frames");
	close(fd);

	fd = raw_conn();
	raw_frame(fd, 9, MX_OP_HELLO, 0, NULL, 0);
	raw_outcome(fd, "wrong version");
	close(fd);

	fd = raw_conn();
	raw_frame(fd, MX_PROTO_VERSION, MX_OP_SEND, 0xfffffff0u, NULL, 0);
	raw_outcome(fd, "huge length");
	close(fd);

	fd = raw_conn();
	raw_frame(fd, MX_PROTO_VERSION, 200, 0, NULL, 0);
	raw_outcome(fd, "unknown type");
	close(fd);

	/* A truncated frame, then the client goes away. */
	fd = raw_conn();
	raw_frame(fd, MX_PROTO_VERSION, MX_OP_SEND, 1000, "abc", 3);
	close(fd);
	printf("truncated frame: sent, then hung up\n");

	fd = raw_conn();
	raw_frame(fd, MX_PROTO_VERSION, MX_OP_PORT_ALLOC, 4, "abcd", 4);
	raw_outcome(fd, "wrong payload size");
	/* The same connection keeps working after an error reply. */
	raw_frame(fd, MX_PROTO_VERSION, MX_OP_PORT_ALLOC, 0, NULL, 0);
	raw_outcome(fd, "then a good request");
	close(fd);

	/* A message whose item runs past the end of the frame. */
	fd = raw_conn();
	memset(body, 0, sizeof(body));
	put_u32(body, 1);		/* dest: whatever name 1 is */
	body[MX_MSG_HDR] = MX_ITEM_BYTES;
	put_u32(body + MX_MSG_HDR + 4, 1000);
	raw_frame(fd, MX_PROTO_VERSION, MX_OP_SEND, MX_MSG_HDR + 8, body, MX_MSG_HDR + 8);
	raw_outcome(fd, "item past the end");
	close(fd);

	/* Rights it does not hold. */
	fd = raw_conn();
	memset(body, 0, sizeof(body));
	put_u32(body, 12345);
	raw_frame(fd, MX_PROTO_VERSION, MX_OP_SEND, MX_MSG_HDR, body, MX_MSG_HDR);
	raw_outcome(fd, "send to a name it does not hold");
	close(fd);

	m = text_msg(sa, "carrying a stolen right");
	CHECK(mx_msg_add_port(m, 999, MX_DISP_COPY_SEND));
	printf("send carrying a right it does not hold: %s\n", mx_strerror(masix_send(b, m, MX_FOREVER)));

	CHECK(masix_recv(a, pa, 2000, &in));
	print_body("still queued", in);
	return 0;
}

/*
 * Take NAME and pass each request on to TARGET with the asker's own reply
 * right, so the answer goes from TARGET straight back to the asker.
 */
static int
sc_forward(const char *name, const char *target, int count)
{
	struct mx_conn *a = conn();
	mx_name_t pa, dest;
	struct mx_msg *in, *fwd;
	const uint8_t *p;
	size_t n;
	int i;

	CHECK(masix_port_alloc(a, &pa));
	CHECK(masix_register(a, name, pa));
	for (i = 0; i < count; i++) {
		CHECK(masix_recv(a, pa, 30000, &in));
		CHECK(masix_lookup(a, target, 10000, &dest));
		CHECK(mx_msg_get_bytes(in, &p, &n));
		fwd = mx_msg_new(0);
		fwd->dest = dest;
		mx_msg_add_bytes(fwd, p, n);
		fwd->reply = in->reply;
		fwd->reply_disp = MX_DISP_MOVE_SEND_ONCE;
		CHECK(masix_send(a, fwd, MX_FOREVER));
		printf("forwarded to %s\n", target);
	}
	return 0;
}

/*
 * Serve NAME with masix_reply_recv(): answer "answer I: BODY" after
 * DELAY_MS, COUNT times, and print what became of each reply.
 */
static int
sc_serve(const char *name, int count, int delay_ms)
{
	struct mx_conn *a = conn();
	struct mx_msg *in, *next, *rep;
	const uint8_t *p;
	char text[300];
	mx_name_t port;
	size_t n;
	int i, rerr;

	CHECK(masix_port_alloc(a, &port));
	CHECK(masix_register(a, name, port));
	CHECK(masix_recv(a, port, 30000, &in));
	for (i = 1; ; i++) {
		CHECK(mx_msg_get_bytes(in, &p, &n));
		snprintf(text, sizeof(text), "answer %d: %.*s", i, (int)n, (const char *)p);
		rep = mx_msg_new(0);
		CHECK(mx_msg_add_bytes(rep, text, strlen(text)));
		if (delay_ms > 0)
			usleep((useconds_t)delay_ms * 1000);
		if (i == count) {
			printf("reply %d: %s\n", i, mx_strerror(masix_reply(a, in, rep)));
			return 0;
		}
		CHECK(masix_reply_recv(a, in, rep, port, 30000, &next, &rerr));
		printf("reply %d: %s\n", i, mx_strerror(rerr));
		mx_msg_free(in);
		mx_msg_free(rep);
		in = next;
	}
}

/* A receive right cannot be sent to another node. */
static int
sc_move_recv_remote(const char *target)
{
	struct mx_conn *a = conn();
	mx_name_t q, dest;
	struct mx_msg *m;

	CHECK(masix_port_alloc(a, &q));
	CHECK(masix_lookup(a, target, 10000, &dest));
	m = text_msg(dest, "take my receive right");
	CHECK(mx_msg_add_port(m, q, MX_DISP_MOVE_RECEIVE));
	printf("moving a receive right to %s: %s\n", target, mx_strerror(masix_send(a, m, 5000)));
	mx_msg_reset(m, 0);
	m->dest = dest;
	mx_msg_add_bytes(m, "still mine", 10);
	mx_msg_add_port(m, q, MX_DISP_MAKE_SEND);
	printf("a send right to the same port: %s\n", mx_strerror(masix_send(a, m, 5000)));
	return 0;
}

/*
 * Items that name one right twice, where an earlier one consumes what a
 * later one (or the reply) needs: refused whole with BADNAME, and the
 * sender's space is as it was (issue: such a message crashed portd).
 */
static const char *
same_right_send(struct mx_conn *c, mx_name_t dest, mx_name_t n1, int d1, mx_name_t n2, int d2,
    int as_reply)
{
	struct mx_msg *m = text_msg(dest, "same right twice");
	int r;

	CHECK(mx_msg_add_port(m, n1, (enum mx_disp)d1));
	if (as_reply) {
		m->reply = n2;
		m->reply_disp = (uint8_t)d2;
	} else {
		CHECK(mx_msg_add_port(m, n2, (enum mx_disp)d2));
	}
	r = masix_send(c, m, 2000);
	mx_msg_free(m);
	return mx_strerror(r);
}

static int
sc_same_right(void)
{
	struct mx_conn *a = conn(), *b = conn();
	mx_name_t pa, x, x2, q, db;
	struct mx_msg *m, *in;
	struct mx_item it;
	int r, n;

	CHECK(masix_port_alloc(a, &pa));
	CHECK(masix_register(a, "t.same", pa));
	CHECK(masix_lookup(b, "t.same", 0, &x));	/* b: one send reference to a's port */
	CHECK(masix_port_alloc(b, &db));		/* b's own destination */
	CHECK(masix_port_alloc(b, &q));		/* a receive right, no send right */
	printf("move-send then copy-send: %s\n",
	    same_right_send(b, db, x, MX_DISP_MOVE_SEND, x, MX_DISP_COPY_SEND, 0));
	printf("copy-send then move-send: %s\n",
	    same_right_send(b, db, x, MX_DISP_COPY_SEND, x, MX_DISP_MOVE_SEND, 0));
	printf("move-send, reply copy-send: %s\n",
	    same_right_send(b, db, x, MX_DISP_MOVE_SEND, x, MX_DISP_COPY_SEND, 1));
	printf("move-receive then make-send: %s\n",
	    same_right_send(b, db, q, MX_DISP_MOVE_RECEIVE, q, MX_DISP_MAKE_SEND, 0));
	printf("move-receive then make-send-once: %s\n",
	    same_right_send(b, db, q, MX_DISP_MOVE_RECEIVE, q, MX_DISP_MAKE_SEND_ONCE, 0));
	printf("move-receive, reply make-send-once: %s\n",
	    same_right_send(b, db, q, MX_DISP_MOVE_RECEIVE, q, MX_DISP_MAKE_SEND_ONCE, 1));
	/* Nothing moved: b still sends through x and still receives on q. */
	m = text_msg(x, "x still works");
	printf("send through x: %s\n", mx_strerror(masix_send(b, m, 2000)));
	mx_msg_free(m);
	CHECK(masix_recv(a, pa, 2000, &in));
	print_body("a got", in);
	mx_msg_free(in);
	r = masix_recv(b, q, 0, &in);
	printf("receive on q: %s\n", mx_strerror(r));
	r = masix_recv(b, db, 0, &in);
	printf("receive on b's port: %s\n", mx_strerror(r));
	/* With two references the same pair is fine. */
	CHECK(masix_lookup(b, "t.same", 0, &x2));
	printf("second lookup, same name: %s\n", x2 == x ? "yes" : "no");
	printf("two references, move-send then copy-send: %s\n",
	    same_right_send(b, x, x, MX_DISP_MOVE_SEND, x, MX_DISP_COPY_SEND, 0));
	CHECK(masix_recv(a, pa, 2000, &in));
	CHECK(mx_msg_get_bytes(in, &(const uint8_t *){0}, &(size_t){0}));
	for (n = 0; mx_msg_next(in, &it) > 0; n++)
		;
	printf("a got %d rights\n", n);
	mx_msg_free(in);
	return 0;
}

/* Wait until portd answers on its socket. */
static int
sc_wait_socket(void)
{
	struct mx_conn *c;
	int i;

	for (i = 0; i < 500; i++) {
		if (masix_connect(rundir, &c) == 0) {
			masix_close(c);
			return 0;
		}
		usleep(10000);
	}
	fprintf(stderr, "mxtool: portd did not come up in %s\n", rundir);
	return 1;
}

static void
usage(void)
{
	fprintf(stderr, "usage: mxtool -R DIR xfer-send|xfer-recv|send-once|dead-name|no-reply|"
	    "fifo N|fifo-send NAME N TIMEOUT_MS|fifo-recv NAME QLIMIT DELAY_MS [IDLE_MS [MAX]]|many N|hold NAME QLIMIT|drain NAME COUNT|claim-name|name-keep NAME|lookup NAME|resolve NAME|\n"
	    "       slow-drain NAME QLIMIT DELAY_MS COUNT|forward NAME TARGET COUNT|\n"
	    "       serve NAME COUNT DELAY_MS|move-recv-remote TARGET|garbage|same-right|wait-socket\n");
	exit(64);
}

int
main(int argc, char **argv)
{
	const char *sc;

	setvbuf(stdout, NULL, _IOLBF, 0);
#ifdef MXTOOL_LSAN
	__lsan_disable();	/* scenarios keep what they allocate until exit, on purpose */
#endif
	if (argc < 4 || strcmp(argv[1], "-R") != 0)
		usage();
	rundir = argv[2];
	sc = argv[3];
	if (strcmp(sc, "xfer-send") == 0)
		return sc_xfer_send();
	if (strcmp(sc, "xfer-recv") == 0)
		return sc_xfer_recv();
	if (strcmp(sc, "send-once") == 0)
		return sc_send_once();
	if (strcmp(sc, "dead-name") == 0)
		return sc_dead_name();
	if (strcmp(sc, "no-reply") == 0)
		return sc_no_reply();
	if (strcmp(sc, "fifo") == 0 && argc == 5)
		return sc_fifo(atoi(argv[4]));
	if (strcmp(sc, "fifo-send") == 0 && argc == 7)
		return sc_fifo_send(argv[4], atoi(argv[5]), (uint32_t)strtoul(argv[6], NULL, 10));
	if (strcmp(sc, "fifo-recv") == 0 && argc >= 7 && argc <= 9)
		return sc_fifo_recv(argv[4], (uint32_t)atoi(argv[5]), atoi(argv[6]),
		    argc >= 8 ? (uint32_t)atoi(argv[7]) : 500, argc == 9 ? atoi(argv[8]) : INT_MAX);
	if (strcmp(sc, "many") == 0 && argc == 5)
		return sc_many(atoi(argv[4]));
	if (strcmp(sc, "hold") == 0 && argc == 6)
		return sc_hold(argv[4], (uint32_t)atoi(argv[5]));
	if (strcmp(sc, "drain") == 0 && argc == 6)
		return sc_drain(argv[4], atoi(argv[5]));
	if (strcmp(sc, "claim-name") == 0)
		return sc_claim_name();
	if (strcmp(sc, "resolve") == 0 && argc == 5)
		return sc_resolve(argv[4]);
	if (strcmp(sc, "name-keep") == 0 && argc == 5)
		return sc_name_keep(argv[4]);
	if (strcmp(sc, "lookup") == 0 && argc == 5)
		return sc_lookup(argv[4]);
	if (strcmp(sc, "slow-drain") == 0 && argc == 8)
		return sc_slow_drain(argv[4], (uint32_t)atoi(argv[5]), atoi(argv[6]), atoi(argv[7]));
	if (strcmp(sc, "forward") == 0 && argc == 7)
		return sc_forward(argv[4], argv[5], atoi(argv[6]));
	if (strcmp(sc, "serve") == 0 && argc == 7)
		return sc_serve(argv[4], atoi(argv[5]), atoi(argv[6]));
	if (strcmp(sc, "move-recv-remote") == 0 && argc == 5)
		return sc_move_recv_remote(argv[4]);
	if (strcmp(sc, "wait-socket") == 0)
		return sc_wait_socket();
	if (strcmp(sc, "garbage") == 0)
		return sc_garbage();
	if (strcmp(sc, "same-right") == 0)
		return sc_same_right();
	usage();
	return 64;
}
