/*
 * nstool — no-senders scenarios for t/125-exports.bats. Each prints one
 * line per step, flushed, for the tests to wait on and compare exactly.
 *
 *   nstool -R DIR watch HOLDER       a port with a no-senders request; a send
 *                                    right to it goes to HOLDER; print what
 *                                    comes on it, exit 0 at the notice
 *   nstool -R DIR hold NAME          register NAME, take one right from a
 *                                    message, then obey stdin lines:
 *                                      send TEXT   send TEXT through it
 *                                      give OTHER  move it to OTHER's holder
 *                                    and exit at end of input (its rights go)
 *   nstool -R DIR use NAME           look NAME up, then obey stdin lines
 *                                    "send TEXT"; exit at end of input
 *   nstool -R DIR special NODE       ask for NODE's NAME port (print "asking
 *                                    NODE" first), print "got it" or the error
 *   nstool -R DIR so-give NAME K     a port with a queue of 64 messages; K
 *                                    messages to NAME, each with a send-once
 *                                    reply right to it; at end of input,
 *                                    "queued N": what came on it meanwhile
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "masix.h"
#include "names.h"

static const char *rundir;

#define CHECK(expr) do {						\
	int r_ = (expr);						\
	if (r_ < 0) {							\
		fprintf(stderr, "nstool: %s: %s\n", #expr, mx_strerror(r_)); \
		exit(1);						\
	}								\
} while (0)

static struct mx_conn *
conn(void)
{
	struct mx_conn *c;

	CHECK(masix_connect(rundir, &c));
	return c;
}

static void
send_text(struct mx_conn *c, mx_name_t dest, const char *text, mx_name_t right, int disp)
{
	struct mx_msg *m = mx_msg_new(0);

	m->dest = dest;
	CHECK(mx_msg_add_bytes(m, text, strlen(text)));
	if (right != MX_NAME_NULL)
		CHECK(mx_msg_add_port(m, right, (enum mx_disp)disp));
	CHECK(masix_send(c, m, 10000));
	mx_msg_free(m);
}

static int
sc_watch(const char *holder)
{
	struct mx_conn *c = conn();
	mx_name_t port, notify, dest, both[2];
	struct mx_msg *m;
	const uint8_t *p;
	size_t n;

	CHECK(masix_port_alloc(c, &port));
	CHECK(masix_port_alloc(c, &notify));
	CHECK(masix_request_nosenders_notify(c, port, notify));
	CHECK(masix_recv(c, notify, 10000, &m));	/* none yet: told at once */
	printf("at first: %s\n", m->msgid == MX_MSGID_NO_SENDERS ? "no senders" : "a message");
	mx_msg_free(m);
	CHECK(masix_lookup(c, holder, 10000, &dest));
	send_text(c, dest, "a right", port, MX_DISP_MAKE_SEND);
	CHECK(masix_right_dealloc(c, dest));
	/* Asked again once the right is out: a request finding no sender is answered at once. */
	CHECK(masix_request_nosenders_notify(c, port, notify));
	printf("gave a right to %s\n", holder);
	both[0] = port;
	both[1] = notify;
	for (;;) {
		CHECK(masix_recv_any(c, both, 2, 60000, &m));
		if (m->msgid == MX_MSGID_NO_SENDERS) {
			printf("no senders\n");
			return 0;
		}
		if (mx_msg_get_bytes(m, &p, &n) == 0)
			printf("got: %.*s\n", (int)n, (const char *)p);
		mx_msg_free(m);
	}
}

/* stdin lines: "send TEXT" through right, "give OTHER" (hold only); returns at end of input. */
static void
obey(struct mx_conn *c, mx_name_t right)
{
	char line[512];
	mx_name_t other;

	while (fgets(line, sizeof(line), stdin) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "send ", 5) == 0) {
			send_text(c, right, line + 5, MX_NAME_NULL, 0);
			printf("sent %s\n", line + 5);
		} else if (strncmp(line, "give ", 5) == 0) {
			CHECK(masix_lookup(c, line + 5, 10000, &other));
			send_text(c, other, "a right", right, MX_DISP_MOVE_SEND);
			printf("gave it to %s\n", line + 5);
		} else {
			fprintf(stderr, "nstool: '%s': unknown command\n", line);
			exit(64);
		}
	}
}

static int
sc_hold(const char *name)
{
	struct mx_conn *c = conn();
	mx_name_t port, right = MX_NAME_NULL;
	struct mx_msg *m;
	struct mx_item it;

	CHECK(masix_port_alloc(c, &port));
	CHECK(masix_register(c, name, port));
	printf("holding %s\n", name);
	CHECK(masix_recv(c, port, 60000, &m));
	while (mx_msg_next(m, &it) > 0)
		if (it.type == MX_ITEM_PORT && it.right == MX_RIGHT_SEND)
			right = it.name;
	if (right == MX_NAME_NULL) {
		fprintf(stderr, "nstool: no send right in the message\n");
		return 1;
	}
	printf("got a right\n");
	obey(c, right);
	return 0;
}

static int
sc_use(const char *name)
{
	struct mx_conn *c = conn();
	mx_name_t right;

	CHECK(masix_lookup(c, name, 10000, &right));
	printf("holding a right to %s\n", name);
	obey(c, right);
	return 0;
}

static int
sc_so_give(const char *name, int k)
{
	struct mx_conn *c = conn();
	mx_name_t port, dest;
	struct mx_msg *m;
	char line[64];
	int i, n = 0;

	CHECK(masix_port_alloc(c, &port));
	CHECK(masix_port_set_qlimit(c, port, 64));
	CHECK(masix_lookup(c, name, 10000, &dest));
	for (i = 0; i < k; i++) {
		m = mx_msg_new(0);
		m->dest = dest;
		m->reply = port;
		m->reply_disp = MX_DISP_MAKE_SEND_ONCE;
		CHECK(mx_msg_add_bytes(m, "ask", 3));
		CHECK(masix_send(c, m, 10000));
		mx_msg_free(m);
	}
	printf("gave %d send-once rights\n", k);
	while (fgets(line, sizeof(line), stdin) != NULL)
		;
	while (masix_recv(c, port, 0, &m) == 0) {
		n++;
		mx_msg_free(m);
	}
	printf("queued %d\n", n);
	return 0;
}

static int
sc_special(const char *node)
{
	struct mx_conn *c = conn();
	mx_name_t right;

	printf("asking %s\n", node);
	CHECK(masix_special_get_node(c, MX_SPECIAL_NAME, node, &right));
	printf("got it\n");
	return 0;
}

int
main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 5 || argc > 6 || strcmp(argv[1], "-R") != 0) {
		fprintf(stderr, "usage: nstool -R DIR watch HOLDER|hold NAME|use NAME|special NODE|so-give NAME K\n");
		return 64;
	}
	rundir = argv[2];
	if (strcmp(argv[3], "watch") == 0)
		return sc_watch(argv[4]);
	if (strcmp(argv[3], "hold") == 0)
		return sc_hold(argv[4]);
	if (strcmp(argv[3], "use") == 0)
		return sc_use(argv[4]);
	if (strcmp(argv[3], "special") == 0)
		return sc_special(argv[4]);
	if (strcmp(argv[3], "so-give") == 0 && argc == 6)
		return sc_so_give(argv[4], atoi(argv[5]));
	fprintf(stderr, "usage: nstool -R DIR watch HOLDER|hold NAME|use NAME|special NODE|so-give NAME K\n");
	return 64;
}
