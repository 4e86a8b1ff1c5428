/*
 * attack — what a hostile local user does to portd (issue 10), for
 * t/100-hostile-task.bats. Each scenario prints one line saying how far it
 * got and the error that stopped it, then (hold) keeps what it made until
 * its standard input closes, so the test can measure portd meanwhile.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include "masix.h"
#include "wire.h"
#define TOOL_NAME "attack"
#include "toolconn.h"

/* Keep everything until the test closes our standard input. */
static int
hold(void)
{
	char b[64];

	while (read(0, b, sizeof(b)) > 0)
		;
	return 0;
}

static struct mx_msg *
big_msg(mx_name_t dest, size_t size)
{
	struct mx_msg *m = mx_msg_new(0);
	uint8_t *b = calloc(1, size);

	if (m == NULL || b == NULL)
		exit(1);
	m->dest = dest;
	CHECK(mx_msg_add_bytes(m, b, size));
	free(b);
	return m;
}

static void
report(const char *what, int n, int err)
{
	printf("%s %d; then %s\n", what, n, err < 0 ? mx_strerror(err) : "nothing");
}

/* Send-once rights to our own port, then a message through each: no way past the queue limit. */
static int
sc_so_flood(int n, size_t size)
{
	struct mx_conn *c = conn();
	mx_name_t p, so[4096];
	struct mx_msg *m, *in;
	struct mx_item it;
	int i, r = 0;

	if (n > 4096)
		n = 4096;
	CHECK(masix_port_alloc(c, &p));
	for (i = 0; i < n; i++) {
		m = mx_msg_new(0);
		m->dest = p;
		CHECK(mx_msg_add_port(m, p, MX_DISP_MAKE_SEND_ONCE));
		CHECK(masix_send(c, m, 0));
		mx_msg_free(m);
		CHECK(masix_recv(c, p, 1000, &in));
		if (mx_msg_next(in, &it) != 1 || it.type != MX_ITEM_PORT)
			exit(1);
		so[i] = it.name;
		mx_msg_free(in);
	}
	for (i = 0; i < n; i++) {
		m = big_msg(so[i], size);
		r = masix_send(c, m, 0);
		mx_msg_free(m);
		if (r < 0)
			break;
	}
	report("sent", i, r);
	return hold();
}

/* One message on each of many ports: the uid's queued bytes, over all of them. */
static int
sc_ports(int n, size_t size)
{
	struct mx_conn *c = conn();
	struct mx_msg *m;
	mx_name_t p;
	int i, r = 0;

	for (i = 0; i < n; i++) {
		if ((r = masix_port_alloc(c, &p)) < 0)
			break;
		m = big_msg(p, size);
		r = masix_send(c, m, 0);
		mx_msg_free(m);
		if (r < 0)
			break;
	}
	report("sent", i, r);
	return hold();
}

/* RECV with a huge credit, never read; another task of ours fills the port. */
static int
sc_credit(int n, size_t size)
{
	struct mx_conn *rx = conn(), *tx = conn();
	uint8_t f[MX_FRAME_HDR + 12];
	struct mx_frame_hdr fh = { .len = 12, .type = MX_OP_RECV, .id = 99 };
	struct mx_msg *m;
	mx_name_t p;
	int i, r = 0;

	CHECK(masix_port_alloc(rx, &p));
	CHECK(masix_port_set_qlimit(rx, p, 65536));
	frame_hdr_pack(f, &fh);
	put_u32(f + MX_FRAME_HDR, p);
	put_u32(f + MX_FRAME_HDR + 4, MX_FOREVER);
	put_u32(f + MX_FRAME_HDR + 8, 0xffffffffu);
	if (write(masix_fd(rx), f, sizeof(f)) != (ssize_t)sizeof(f))
		exit(1);
	/* tx sends to the port through a right it is given: here, rx's name is only valid in rx. */
	{
		mx_name_t name;
		CHECK(masix_register(rx, "t.hog", p));
		CHECK(masix_lookup(tx, "t.hog", 0, &name));
		p = name;
	}
	for (i = 0; i < n; i++) {
		m = big_msg(p, size);
		r = masix_send(tx, m, 0);
		mx_msg_free(m);
		if (r < 0)
			break;
	}
	report("sent", i, r);
	return hold();
}

/* Frames announcing size bytes, all but one sent: how many connections portd closes. */
static int
sc_partial(int n, size_t size)
{
	uint8_t h[MX_FRAME_HDR], *b = calloc(1, size);
	struct mx_frame_hdr fh = { .len = (uint32_t)size, .type = MX_OP_SEND, .id = 1 };
	int fds[256], i, closed = 0;

	if (b == NULL || n > 256)
		exit(1);
	frame_hdr_pack(h, &fh);
	for (i = 0; i < n; i++) {
		size_t off = 0;
		fds[i] = raw_conn();
		if (write(fds[i], h, sizeof(h)) != (ssize_t)sizeof(h))
			exit(1);
		while (off < size - 1) {
			ssize_t w = write(fds[i], b + off, size - 1 - off);
			if (w <= 0)
				break;	/* closed by portd (over budget) */
			off += (size_t)w;
		}
	}
	printf("written %d\n", n);
	/* Wait for portd to close each one. */
	for (i = 0; i < n; i++) {
		struct pollfd pfd = { .fd = fds[i], .events = POLLIN };
		char c;
		if (poll(&pfd, 1, 30000) == 1 && read(fds[i], &c, 1) <= 0)
			closed++;
	}
	printf("closed %d of %d\n", closed, n);
	return 0;
}

/* Ports until refused. */
static int
sc_names(int n)
{
	struct mx_conn *c = conn();
	mx_name_t p;
	int i, r = 0;

	for (i = 0; i < n; i++)
		if ((r = masix_port_alloc(c, &p)) < 0)
			break;
	report("allocated", i, r);
	return hold();
}

/* A server's reply passes the client's full reply queue. */
static int
sc_reply_full(void)
{
	struct mx_conn *a = conn(), *b = conn();
	mx_name_t r, srv, s_in_a;
	struct mx_msg *m, *in, *rep;

	CHECK(masix_port_alloc(a, &r));
	CHECK(masix_port_set_qlimit(a, r, 1));
	m = big_msg(r, 8);
	CHECK(masix_send(a, m, 0));		/* r is full now */
	mx_msg_free(m);
	m = big_msg(r, 8);
	printf("another send to the full queue: %s\n", mx_strerror(masix_send(a, m, 0)));
	mx_msg_free(m);
	CHECK(masix_port_alloc(b, &srv));
	CHECK(masix_register(b, "t.srv", srv));
	CHECK(masix_lookup(a, "t.srv", 0, &s_in_a));
	m = big_msg(s_in_a, 8);
	m->reply = r;
	m->reply_disp = MX_DISP_MAKE_SEND_ONCE;
	CHECK(masix_send(a, m, 0));
	CHECK(masix_recv(b, srv, 2000, &in));
	rep = mx_msg_new(0);
	CHECK(mx_msg_add_bytes(rep, "x", 1));
	printf("the server's reply to the full queue: %s\n", mx_strerror(masix_reply(b, in, rep)));
	return 0;
}

/* Connections until refused. */
static int
sc_conns(int n)
{
	struct mx_conn *c;
	int i, r = 0;

	for (i = 0; i < n; i++) {
		if ((r = masix_connect(rundir, &c)) < 0)
			break;
		if ((r = masix_port_alloc(c, &(mx_name_t){0})) < 0)
			break;	/* accepted, then closed at once: refused */
	}
	report("connected", i, r);
	return hold();
}

/* Dead-name requests on the NAME port, which anyone may reach. */
static int
sc_dead_names(int n)
{
	struct mx_conn *c = conn();
	mx_name_t ns, notify;
	int i, r = 0;

	CHECK(masix_special_get(c, MX_SPECIAL_NAME, &ns));
	CHECK(masix_port_alloc(c, &notify));
	for (i = 0; i < n; i++)
		if ((r = masix_request_dead_notify(c, ns, notify)) < 0)
			break;
	report("requested", i, r);
	return hold();
}

int
main(int argc, char **argv)
{
	const char *sc;
	int n;
	size_t size;

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);	/* portd closing a connection is an outcome, not a crash */
	if (argc < 5 || strcmp(argv[1], "-R") != 0) {
		fprintf(stderr, "usage: attack -R DIR so-flood|ports|credit|partial N SIZE | names|conns|dead-names N | reply-full 0\n");
		return 64;
	}
	rundir = argv[2];
	sc = argv[3];
	n = atoi(argv[4]);
	size = argc > 5 ? strtoul(argv[5], NULL, 10) : 0;
	if (strcmp(sc, "so-flood") == 0 && argc == 6)
		return sc_so_flood(n, size);
	if (strcmp(sc, "ports") == 0 && argc == 6)
		return sc_ports(n, size);
	if (strcmp(sc, "credit") == 0 && argc == 6)
		return sc_credit(n, size);
	if (strcmp(sc, "partial") == 0 && argc == 6 && size > 1)
		return sc_partial(n, size);
	if (strcmp(sc, "names") == 0)
		return sc_names(n);
	if (strcmp(sc, "reply-full") == 0)
		return sc_reply_full();
	if (strcmp(sc, "conns") == 0)
		return sc_conns(n);
	if (strcmp(sc, "dead-names") == 0)
		return sc_dead_names(n);
	fprintf(stderr, "attack: unknown scenario %s\n", sc);
	return 64;
}
