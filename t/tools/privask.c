/*
 * privask — a task asking namesrv for names, with or without a verified
 * service, for t/145-private-names.bats. With -s SERVICE it first registers
 * SERVICE (a protected name the signed list lets its binary take), so that
 * portd stamps SERVICE on everything it sends, its lookups included.
 *
 *   privask -R DIR [-s SERVICE] lookup NAME WAIT_MS
 *                         print "NAME: found", or "NAME: DETAIL" (the error's
 *                         detail, else the error) and
 *                         exit with the tools' sysexits code
 *   privask -R DIR [-s SERVICE] wait NAME WAIT_MS
 *                         as lookup, but print "asked" (flushed) once the
 *                         lookup is queued on the NAME port, before namesrv
 *                         answers: a test then knows it is waiting
 *   privask -R DIR [-s SERVICE] ask NAME TEXT
 *                         look NAME up (no wait), send TEXT, print the reply
 *   privask -R DIR [-s SERVICE] unregister NAME
 *                         print "NAME: unregistered" or the error, as lookup
 *   privask -R DIR [-s SERVICE] reg NAME
 *                         register NAME, print "NAME: ok" or the error, as lookup
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "masix.h"
#include "names.h"

/* A lookup sent by hand, so that "asked" can be said between the send and the answer. */
static int
lookup_told(struct mx_conn *c, const char *name, int64_t wait_ms)
{
	struct mx_msg *m, *reply;
	mx_name_t nameport, rport;
	int64_t status;
	int r;

	if ((r = masix_special_get(c, MX_SPECIAL_NAME, &nameport)) < 0 || (r = masix_port_alloc(c, &rport)) < 0)
		return r;
	if ((m = mx_msg_new(NS_LOOKUP)) == NULL || mx_msg_add_string(m, name) < 0 || mx_msg_add_int(m, wait_ms) < 0)
		return -MX_ERR_NOMEM;
	m->dest = nameport;
	m->reply = rport;
	m->reply_disp = MX_DISP_MAKE_SEND_ONCE;
	r = masix_send(c, m, 5000);
	mx_msg_free(m);
	if (r < 0)
		return r;
	printf("asked\n");
	fflush(stdout);
	if ((r = masix_recv(c, rport, (uint32_t)wait_ms + 10000, &reply)) < 0)
		return r;
	r = mx_msg_get_int(reply, &status) < 0 ? -MX_ERR_PROTO : -(int)status;
	mx_msg_free(reply);
	return r;
}

static int
fail(struct mx_conn *c, const char *name, int r)
{
	const char *d = c != NULL ? masix_errdetail(c) : "";

	/* Like msgrecv: namesrv's reason when there is one. */
	printf("%s: %s\n", name, *d ? d : mx_strerror(r));
	return mx_exit_code(r);
}

int
main(int argc, char **argv)
{
	const char *rundir = NULL, *service = NULL;
	struct mx_conn *c;
	mx_name_t port, to;
	int ch, r;

	while ((ch = getopt(argc, argv, "R:s:")) != -1) {
		if (ch == 'R')
			rundir = optarg;
		else if (ch == 's')
			service = optarg;
		else
			return 64;
	}
	argc -= optind;
	argv += optind;
	if (argc < 2) {
		fprintf(stderr, "usage: privask -R DIR [-s SERVICE] lookup NAME WAIT_MS | ask NAME TEXT | "
		    "unregister NAME | reg NAME\n");
		return 64;
	}
	if ((r = masix_connect(rundir, &c)) < 0)
		return fail(NULL, "connect", r);
	if (service != NULL &&
	    ((r = masix_port_alloc(c, &port)) < 0 || (r = masix_register(c, service, port)) < 0))
		return fail(c, service, r);
	if (strcmp(argv[0], "lookup") == 0 && argc == 3) {
		if ((r = masix_lookup(c, argv[1], (uint32_t)strtoul(argv[2], NULL, 10), &to)) < 0)
			return fail(c, argv[1], r);
		printf("%s: found\n", argv[1]);
		return 0;
	}
	if (strcmp(argv[0], "wait") == 0 && argc == 3) {
		if ((r = lookup_told(c, argv[1], strtoll(argv[2], NULL, 10))) < 0)
			return fail(NULL, argv[1], r);
		printf("%s: found\n", argv[1]);
		return 0;
	}
	if (strcmp(argv[0], "ask") == 0 && argc == 3) {
		struct mx_msg *m = mx_msg_new(1), *reply = NULL;
		const uint8_t *b;
		size_t n;

		if ((r = masix_lookup(c, argv[1], 0, &to)) < 0)
			return fail(c, argv[1], r);
		m->dest = to;
		mx_msg_add_bytes(m, argv[2], strlen(argv[2]));
		if ((r = masix_request(c, m, 5000, &reply)) < 0)
			return fail(c, argv[1], r);
		if (mx_msg_get_bytes(reply, &b, &n) == 0)
			printf("%.*s", (int)n, (const char *)b);
		return 0;
	}
	if (strcmp(argv[0], "unregister") == 0 && argc == 2) {
		if ((r = masix_unregister(c, argv[1])) < 0)
			return fail(c, argv[1], r);
		printf("%s: unregistered\n", argv[1]);
		return 0;
	}
	if (strcmp(argv[0], "reg") == 0 && argc == 2) {
		if ((r = masix_port_alloc(c, &port)) < 0 || (r = masix_register(c, argv[1], port)) < 0)
			return fail(c, argv[1], r);
		printf("%s: ok\n", argv[1]);
		return 0;
	}
	fprintf(stderr, "privask: bad usage\n");
	return 64;
}
