/*
 * listpoke — for t/146-list-change.bats: a task that keeps its verified
 * service across a list change, and a local user trying to fake one.
 *
 *   listpoke -R DIR [-s SERVICE] session
 *           register SERVICE first (portd then stamps it on what we send),
 *           print "ready", then one command per line of standard input:
 *           "lookup NAME" prints "NAME: found" or "NAME: DETAIL" (the
 *           error's detail, else the error); "reg NAME" registers a new
 *           port as NAME and prints "NAME: ok" or the error; "ask NAME TEXT"
 *           sends TEXT to NAME and prints the reply; "many PREFIX N" registers
 *           PREFIX.0 .. PREFIX.N-1 on one port. Each answer is flushed;
 *           end of input ends the session.
 *   listpoke -R DIR notice
 *           send the NAME port an NS_LIST_CHANGED message as portd does:
 *           print "notice: sent" or "notice: ERROR", exit with its code
 *   listpoke -R DIR loaded GEN
 *           tell portd, as keysrv does, that the list of generation GEN was
 *           loaded (MX_OP_LIST_LOADED): "loaded: ok" or "loaded: ERROR"
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "keys.h"
#include "masix.h"
#include "names.h"

static int
fail(struct mx_conn *c, const char *what, int r)
{
	const char *d = c != NULL ? masix_errdetail(c) : "";

	printf("%s: %s\n", what, *d ? d : mx_strerror(r));
	fflush(stdout);
	return mx_exit_code(r);
}

/* "NAME TEXT": TEXT to NAME as a request, the reply printed as it came. */
static void
ask(struct mx_conn *c, char *arg)
{
	struct mx_msg *m, *reply = NULL;
	char *text = strchr(arg, ' ');
	const uint8_t *b;
	mx_name_t to;
	size_t n;
	int r;

	*text++ = '\0';
	if ((r = masix_lookup(c, arg, 0, &to)) < 0) {
		fail(c, arg, r);
		return;
	}
	if ((m = mx_msg_new(1)) == NULL || mx_msg_add_bytes(m, text, strlen(text)) < 0) {
		fail(NULL, arg, -MX_ERR_NOMEM);
		return;
	}
	m->dest = to;
	r = masix_request(c, m, 5000, &reply);
	mx_msg_free(m);
	masix_right_dealloc(c, to);
	if (r < 0) {
		fail(c, arg, r);
		return;
	}
	if (mx_msg_get_bytes(reply, &b, &n) == 0)
		printf("%.*s", (int)n, (const char *)b);
	mx_msg_free(reply);
}

/* "PREFIX N": PREFIX.0 .. PREFIX.N-1 on one new port, "PREFIX: N ok" or the first error. */
static void
many(struct mx_conn *c, char *arg)
{
	char *count = strchr(arg, ' '), name[300];
	mx_name_t port;
	long i, n;
	int r;

	*count++ = '\0';
	n = strtol(count, NULL, 10);
	if ((r = masix_port_alloc(c, &port)) < 0) {
		fail(c, arg, r);
		return;
	}
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%.250s.%ld", arg, i);
		if ((r = masix_register(c, name, port)) < 0) {
			fail(c, name, r);
			return;
		}
	}
	printf("%s: %ld ok\n", arg, n);
}

static int
session(struct mx_conn *c)
{
	char line[512], *arg;
	mx_name_t port, to;
	int r;

	printf("ready\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if ((arg = strchr(line, ' ')) == NULL)
			continue;
		*arg++ = '\0';
		if (strcmp(line, "lookup") == 0) {
			if ((r = masix_lookup(c, arg, 0, &to)) < 0)
				fail(c, arg, r);
			else
				printf("%s: found\n", arg);
		} else if (strcmp(line, "ask") == 0 && strchr(arg, ' ') != NULL) {
			ask(c, arg);
		} else if (strcmp(line, "many") == 0 && strchr(arg, ' ') != NULL) {
			many(c, arg);
		} else if (strcmp(line, "reg") == 0) {
			if ((r = masix_port_alloc(c, &port)) < 0 || (r = masix_register(c, arg, port)) < 0)
				fail(c, arg, r);
			else
				printf("%s: ok\n", arg);
		}
		fflush(stdout);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	const char *rundir = NULL, *service = NULL;
	struct mx_conn *c;
	struct mx_msg *m;
	mx_name_t port;
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
	if (argc < 1) {
		fprintf(stderr, "usage: listpoke -R DIR [-s SERVICE] session | notice | loaded GEN\n");
		return 64;
	}
	if ((r = masix_connect(rundir, &c)) < 0)
		return fail(NULL, "connect", r);
	if (service != NULL &&
	    ((r = masix_port_alloc(c, &port)) < 0 || (r = masix_register(c, service, port)) < 0))
		return fail(c, service, r);
	if (strcmp(argv[0], "session") == 0 && argc == 1)
		return session(c);
	if (strcmp(argv[0], "notice") == 0 && argc == 1) {
		if ((r = masix_special_get(c, MX_SPECIAL_NAME, &port)) < 0)
			return fail(c, "notice", r);
		if ((m = mx_msg_new(NS_LIST_CHANGED)) == NULL || mx_msg_add_int(m, 1) < 0)
			return fail(NULL, "notice", -MX_ERR_NOMEM);
		m->dest = port;
		if ((r = masix_send(c, m, 5000)) < 0)
			return fail(c, "notice", r);
		printf("notice: sent\n");
		return 0;
	}
	if (strcmp(argv[0], "loaded") == 0 && argc == 2) {
		if ((r = ks_list_loaded(c, strtoll(argv[1], NULL, 10))) < 0)
			return fail(c, "loaded", r);
		printf("loaded: ok\n");
		return 0;
	}
	fprintf(stderr, "listpoke: bad usage\n");
	return 64;
}
