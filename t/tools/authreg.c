/*
 * authreg — a server for t/130-authreg.bats whose binary the signed list
 * names: it registers names and sends messages, and can exec another binary
 * keeping its connection to portd, as a server turned hostile would.
 *
 *   authreg -R DIR reg NAME...          register each NAME, print "NAME: ok" or
 *                                       "NAME: ERROR: DETAIL"; exit 0 if all were
 *   authreg -R DIR many PREFIX N        register PREFIX.0 .. PREFIX.N-1 from one task
 *   authreg -R DIR send-exec NAME TO PROG
 *                                       register NAME, send "before" to TO, then
 *                                       exec PROG on the same connection, which
 *                                       sends "after" to TO
 *   authreg -R DIR ask-as NAME TO TEXT  register NAME, then send TEXT to TO and
 *                                       print the reply (or the error)
 *   authreg fd-send FD RIGHT TEXT       (what send-exec runs) send TEXT on the
 *                                       connection FD to the send right RIGHT
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "client.h"
#include "masix.h"

static const char *rundir;

static void __attribute__((noreturn))
fail(const char *what, struct mx_conn *c, int r)
{
	fprintf(stderr, "authreg: %s: %s%s%s\n", what, mx_strerror(r), c && *masix_errdetail(c) ? ": " : "",
	    c ? masix_errdetail(c) : "");
	exit(1);
}

static struct mx_conn *
conn(void)
{
	struct mx_conn *c;
	int r;

	if ((r = masix_connect(rundir, &c)) < 0)
		fail("connect", NULL, r);
	return c;
}

static int
reg(struct mx_conn *c, const char *name)
{
	mx_name_t p;
	int r;

	if ((r = masix_port_alloc(c, &p)) < 0 || (r = masix_register(c, name, p)) < 0)
		return r;
	return 0;
}

static int
send_text(struct mx_conn *c, mx_name_t to, const char *text)
{
	struct mx_msg *m = mx_msg_new(1);
	int r;

	if (m == NULL)
		return -MX_ERR_NOMEM;
	m->dest = to;
	if ((r = mx_msg_add_bytes(m, text, strlen(text))) == 0)
		r = masix_send(c, m, 5000);
	mx_msg_free(m);
	return r;
}

int
main(int argc, char **argv)
{
	struct mx_conn *c;
	mx_name_t to;
	char fdarg[16], rarg[16];
	int i, r, bad = 0;

	if (argc >= 5 && strcmp(argv[1], "fd-send") == 0) {
		/* The connection we were handed across exec. */
		if ((c = calloc(1, sizeof(*c))) == NULL || (c->in = malloc(1 << 16)) == NULL)
			return 1;
		c->fd = atoi(argv[2]);
		c->incap = 1 << 16;
		c->prefetch = 1;
		if ((r = send_text(c, (mx_name_t)strtoul(argv[3], NULL, 10), argv[4])) < 0)
			fail("send after exec", c, r);
		printf("sent after exec\n");
		return 0;
	}
	if (argc < 4 || strcmp(argv[1], "-R") != 0) {
		fprintf(stderr, "usage: authreg -R DIR reg NAME... | many PREFIX N | send-exec NAME TO PROG\n");
		return 64;
	}
	rundir = argv[2];
	c = conn();
	if (strcmp(argv[3], "reg") == 0) {
		for (i = 4; i < argc; i++) {
			if ((r = reg(c, argv[i])) == 0) {
				printf("%s: ok\n", argv[i]);
				continue;
			}
			/* Like msgrecv: namesrv's reason when there is one. */
			printf("%s: %s\n", argv[i], *masix_errdetail(c) ? masix_errdetail(c) : mx_strerror(r));
			bad = 1;
		}
		return bad;
	}
	if (strcmp(argv[3], "many") == 0 && argc == 6) {
		char name[256];
		int n = atoi(argv[5]);

		for (i = 0; i < n; i++) {
			snprintf(name, sizeof(name), "%s.%d", argv[4], i);
			if ((r = reg(c, name)) < 0)
				fail(name, c, r);
		}
		printf("registered %d\n", n);
		return 0;
	}
	if (strcmp(argv[3], "ask-as") == 0 && argc == 7) {
		struct mx_msg *m = mx_msg_new(1), *reply = NULL;
		const uint8_t *b;
		size_t n;

		if ((r = reg(c, argv[4])) < 0)
			fail(argv[4], c, r);
		if ((r = masix_lookup(c, argv[5], 5000, &to)) < 0)
			fail(argv[5], c, r);
		m->dest = to;
		mx_msg_add_bytes(m, argv[6], strlen(argv[6]));
		if ((r = masix_request(c, m, 5000, &reply)) < 0)
			fail("request", c, r);
		if (mx_msg_get_bytes(reply, &b, &n) == 0)
			printf("%.*s", (int)n, (const char *)b);
		return 0;
	}
	if (strcmp(argv[3], "send-exec") == 0 && argc == 7) {
		if ((r = reg(c, argv[4])) < 0)
			fail(argv[4], c, r);
		if ((r = masix_lookup(c, argv[5], 5000, &to)) < 0)
			fail(argv[5], c, r);
		if ((r = send_text(c, to, "before")) < 0)
			fail("send before exec", c, r);
		printf("sent before exec\n");
		fflush(stdout);
		/* Keep the connection open across exec: the hostile part. */
		if (fcntl(masix_fd(c), F_SETFD, 0) < 0)
			return 1;
		snprintf(fdarg, sizeof(fdarg), "%d", masix_fd(c));
		snprintf(rarg, sizeof(rarg), "%u", (unsigned)to);
		execl(argv[6], argv[6], "fd-send", fdarg, rarg, "after", (char *)NULL);
		perror("authreg: exec");
		return 1;
	}
	fprintf(stderr, "authreg: bad usage\n");
	return 64;
}
