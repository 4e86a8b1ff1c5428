/* msgsend — send a message to a named port, and maybe wait for the reply. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>
#include "cli.h"
#include "log.h"
#include "masix.h"
#include "names.h"
#include "tool.h"

#define BODY_MAX (MX_BODY_MAX - 8)	/* one BYTES item */

static const char usage_text[] =
    "usage: msgsend [-hr] [-R DIR] [-t SECS] [-w SECS] NAME [WORD...]\n";

static uint8_t *
read_stdin(size_t *len)
{
	size_t cap = 64 * 1024, n = 0;
	uint8_t *p = malloc(cap);

	if (p == NULL)
		die(EX_OSERR, "out of memory");
	for (;;) {
		ssize_t r;
		if (n == cap) {
			if (cap > BODY_MAX)
				die(EX_DATAERR, "stdin: message too large (limit %u bytes)", BODY_MAX);
			cap *= 2;
			if ((p = realloc(p, cap)) == NULL)
				die(EX_OSERR, "out of memory");
		}
		r = read(STDIN_FILENO, p + n, cap - n);
		if (r == 0)
			break;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			die(EX_IOERR, "stdin: %s", strerror(errno));
		}
		n += (size_t)r;
	}
	if (n > BODY_MAX)
		die(EX_DATAERR, "stdin: message too large (limit %u bytes)", BODY_MAX);
	*len = n;
	return p;
}

static char *
join_words(char **w, int n, size_t *len)
{
	size_t total = 0, at = 0;
	char *p;
	int i;

	for (i = 0; i < n; i++)
		total += strlen(w[i]) + 1;
	if (total - 1 > BODY_MAX)
		die(EX_DATAERR, "message too large (limit %u bytes)", BODY_MAX);
	if ((p = malloc(total)) == NULL)
		die(EX_OSERR, "out of memory");
	for (i = 0; i < n; i++) {
		size_t l = strlen(w[i]);
		memcpy(p + at, w[i], l);
		at += l;
		if (i + 1 < n)
			p[at++] = ' ';
	}
	*len = at;
	return p;
}

static void
print_reply(struct mx_msg *m)
{
	struct mx_item it;

	/* An error reply's STRING is the reason, said on stderr; BYTES are output. */
	while (mx_msg_next(m, &it) > 0)
		if ((it.type == MX_ITEM_BYTES || (it.type == MX_ITEM_STRING && m->msgid != MX_MSGID_ERROR)) &&
		    tool_write_all(STDOUT_FILENO, it.data, it.len) < 0)
			die(EX_IOERR, "stdout: %s", strerror(errno));
}

int
main(int argc, char **argv)
{
	const char *rundir = NULL, *name;
	int64_t timeout_ms = -1, wait_ms = 0;
	struct mx_conn *c;
	struct mx_msg *m, *reply = NULL;
	uint8_t *body;
	size_t len;
	int ch, request = 0, r;

	log_init("msgsend", 0, 0);
	cli_init("msgsend", usage_text);
	while ((ch = cli_getopt(argc, argv, "hR:rt:w:", NULL)) != -1) {
		switch (ch) {
		case 'R': rundir = optarg; break;
		case 'r': request = 1; break;
		case 't':
			if ((timeout_ms = tool_parse_secs(optarg)) < 0)
				die(EX_USAGE, "-t: not a number of seconds: '%s'", optarg);
			break;
		case 'w':
			if ((wait_ms = tool_parse_secs(optarg)) < 0)
				die(EX_USAGE, "-w: not a number of seconds: '%s'", optarg);
			break;
		default: cli_usage(EX_USAGE);
		}
	}
	if (optind >= argc)
		cli_usage(EX_USAGE);
	name = argv[optind++];
	if (!mx_lookup_name_valid(name))
		die(EX_USAGE, "'%s': invalid name (1-255 characters of A-Z a-z 0-9 . _ / -, then @NODE optionally)",
		    name);
	if (optind < argc)
		body = (uint8_t *)join_words(argv + optind, argc - optind, &len);
	else
		body = read_stdin(&len);

	rundir = cli_rundir(rundir);
	if ((r = masix_connect(rundir, &c)) < 0)
		die(mx_exit_code(r), "cannot reach portd in %s: %s", rundir,
		    r == -MX_ERR_UNAVAIL ? "portd is not running" : mx_strerror(r));
	if ((m = mx_msg_new(0)) == NULL || mx_msg_add_bytes(m, body, len) < 0)
		die(EX_OSERR, "out of memory");
	free(body);
	if ((r = masix_lookup(c, name, (uint32_t)wait_ms, &m->dest)) < 0) {
		if (r == -MX_ERR_NOENT && wait_ms > 0)
			die(mx_exit_code(r), "%s: no such name (waited %g s)", name, (double)wait_ms / 1000);
		die(mx_exit_code(r), "%s: %s", name, *masix_errdetail(c) ? masix_errdetail(c) : mx_strerror(r));
	}
	if (request)
		r = masix_request(c, m, timeout_ms < 0 ? MX_FOREVER : (uint32_t)timeout_ms, &reply);
	else
		r = masix_send(c, m, timeout_ms < 0 ? MX_FOREVER : (uint32_t)timeout_ms);
	if (r == -MX_ERR_REMOTE) {
		print_reply(reply);
		die(mx_exit_code(r), "%s: server failed: %s", name, masix_errdetail(c));
	}
	if (r == -MX_ERR_TIMEOUT)
		die(mx_exit_code(r), "%s: timed out after %g s%s", name, (double)timeout_ms / 1000,
		    request ? "" : " (queue full)");
	if (r == -MX_ERR_IO)
		die(mx_exit_code(r), "%s: %s", name, masix_errdetail(c));	/* "portd went away" */
	if (r < 0)
		die(mx_exit_code(r), "%s: %s", name, mx_strerror(r));
	if (reply != NULL)
		print_reply(reply);
	mx_msg_free(reply);
	mx_msg_free(m);
	masix_close(c);
	return 0;
}
