/*
 * names.c — namesrv at scale: one task registers COUNT distinct names on
 * one port, then looks each one up. The requests are pipelined (up to
 * WINDOW unanswered, each with its own send-once reply right, as many
 * clients at once would send them), so the figure is what namesrv serves,
 * not one client's round trips.
 *
 *   names DIR COUNT [WINDOW]
 *	prints three numbers, one per line: seconds for the registrations,
 *	seconds for the lookups, seconds until namesrv has dropped them all
 *	once their port is destroyed
 */
#include "masix.h"
#include "names.h"
#include "bench.h"

static struct mx_conn *c;
static mx_name_t name_port, reply_port, port;
static size_t waiting;

static void
name_of(char *buf, size_t n, size_t i)
{
	static int pid;

	if (pid == 0)
		pid = (int)getpid();	/* once: a syscall per name would be the client's main cost */
	snprintf(buf, n, "bench.names.%d.%zu", pid, i);
}

/* One answer: status 0, and for a lookup a send right to our port. */
static void
take_answer(int lookup)
{
	struct mx_msg *m;
	mx_name_t got;
	int64_t status;
	uint8_t right;
	int r;

	if ((r = masix_recv(c, reply_port, 20000, &m)) < 0)
		bench_fatal("answer: %s", mx_strerror(r));
	if (m->msgid != MX_MSGID_REPLY || mx_msg_get_int(m, &status) < 0)
		bench_fatal("answer: not a namesrv reply (msgid %#x)", m->msgid);
	if (status != 0)
		bench_fatal("%s: %s", lookup ? "lookup" : "register", mx_strerror((int)status));
	if (lookup) {
		if (mx_msg_get_port(m, &got, &right) < 0 || right != MX_RIGHT_SEND)
			bench_fatal("lookup answer without a send right");
		/* Our own port comes back under its name: one more reference, no new name. */
		if (got != port)
			bench_fatal("lookup answer names %u, not our port %u", got, port);
	}
	mx_msg_free(m);
	waiting--;
}

static void
request(uint32_t msgid, const char *name, size_t window)
{
	struct mx_msg *m = mx_msg_new(msgid);
	int r;

	if (m == NULL)
		bench_fatal("out of memory");
	while (waiting >= window)
		take_answer(msgid == NS_LOOKUP);
	mx_msg_add_string(m, name);
	if (msgid == NS_REGISTER)
		mx_msg_add_port(m, port, MX_DISP_MAKE_SEND);
	else
		mx_msg_add_int(m, 0);
	m->dest = name_port;
	m->reply = reply_port;
	m->reply_disp = MX_DISP_MAKE_SEND_ONCE;
	if ((r = masix_send_nowait(c, m, MX_FOREVER)) < 0)
		bench_fatal("send: %s", mx_strerror(r));
	mx_msg_free(m);
	waiting++;
}

static double
run(uint32_t msgid, size_t count, size_t window)
{
	char name[64];
	uint64_t t0 = bench_now_ns();
	size_t i;
	int r;

	for (i = 0; i < count; i++) {
		name_of(name, sizeof(name), i);
		request(msgid, name, window);
	}
	if ((r = masix_flush(c)) < 0)
		bench_fatal("flush: %s", mx_strerror(r));
	while (waiting > 0)
		take_answer(msgid == NS_LOOKUP);
	return (double)(bench_now_ns() - t0) / 1e9;
}

/* Our port dies: how long until namesrv has dropped all count names (the last one is not found). */
static double
dropped(size_t count)
{
	char name[64];
	uint64_t t0 = bench_now_ns();
	mx_name_t got;
	int r;

	name_of(name, sizeof(name), count - 1);
	if ((r = masix_port_destroy(c, port)) < 0)
		bench_fatal("port_destroy: %s", mx_strerror(r));
	while ((r = masix_lookup(c, name, 0, &got)) == 0) {
		masix_right_dealloc(c, got);
		usleep(1000);
	}
	if (r != -MX_ERR_NOENT)
		bench_fatal("lookup %s: %s", name, mx_strerror(r));
	return (double)(bench_now_ns() - t0) / 1e9;
}

int
main(int argc, char **argv)
{
	size_t count, window = 256;
	double reg, look, drop;
	int r;

	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: names DIR COUNT [WINDOW]\n");
		return 64;
	}
	count = bench_count(argv[2], "COUNT");
	if (argc == 4)
		window = bench_count(argv[3], "WINDOW");
	if ((r = masix_connect(argv[1], &c)) < 0)
		bench_fatal("connect to %s: %s", argv[1], mx_strerror(r));
	if ((r = masix_port_alloc(c, &port)) < 0 || (r = masix_port_alloc(c, &reply_port)) < 0)
		bench_fatal("port_alloc: %s", mx_strerror(r));
	if ((r = masix_special_get(c, MX_SPECIAL_NAME, &name_port)) < 0)
		bench_fatal("NAME port: %s", mx_strerror(r));
	/*
	 * The answers come back as pipelined as the requests went: one RECV
	 * credit covers the window, so portd pushes each answer as it comes
	 * instead of waiting for a RECV frame per answer (a round trip each).
	 */
	masix_set_prefetch(c, (uint32_t)window);
	reg = run(NS_REGISTER, count, window);
	look = run(NS_LOOKUP, count, window);
	drop = dropped(count);
	printf("%.3f\n%.3f\n%.3f\n", reg, look, drop);
	masix_close(c);
	return 0;
}
