/* msgrecv — take a name and receive its messages, or serve them with a command. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
#include "cli.h"
#include "conf.h"
#include "log.h"
#include "msgrecv.h"
#include "sd.h"
#include "tool.h"

enum sep { SEP_NEWLINE, SEP_NUL, SEP_NONE };

static const char usage_text[] =
    "usage: msgrecv [-0h] [--raw] [--reconnect] [--exit-no-senders] [--from SERVICE] [-R DIR] [-n COUNT] [-t SECS] [-x CMD] NAME\n";

static volatile int stop;

static void
on_term(int sig)
{
	(void)sig;
	stop = 1;
}

/*
 * --exit-no-senders: SIGTERM and SIGINT start draining, from before the
 * name is taken. Only the receive loop is interrupted by them (stop_receives):
 * a signal during the set-up requests would fail them, and it is seen by the
 * loop's first turn anyway.
 */
static void
catch_term(void)
{
	struct sigaction sa = { .sa_handler = on_term };

	/* No SA_RESTART: a receive waiting for portd returns, and we start draining. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

static void
stop_receives(struct mx_conn *c)
{
	masix_set_stop_flag(c, &stop);
}

/* --exit-no-senders: told on port itself once no send right to it is left. */
static void
want_nosenders(struct mx_conn *c, const char *name, mx_name_t port)
{
	int r;

	if ((r = masix_request_nosenders_notify(c, port, port)) < 0)
		die(mx_exit_code(r), "%s: no-senders request: %s", name, mx_strerror(r));
}

/* SIGTERM with --exit-no-senders: new lookups fail, tasks holding a right are still served. */
static void
drain(struct mx_conn *c, const char *name)
{
	int r;

	stop = 0;
	masix_set_stop_flag(c, NULL);	/* a second signal changes nothing */
	if ((r = masix_unregister(c, name)) < 0)
		warnmsg("%s: unregistering: %s", name, mx_strerror(r));
	warnmsg("%s: unregistered; serving until no sender is left", name);
}

/* The message's body: its BYTES and STRING items, back to back. */
static void
body_of(struct mx_msg *m, const uint8_t **p, size_t *len, uint8_t **owned)
{
	struct mx_item it, first = { 0 };
	size_t n = 0, count = 0;

	*owned = NULL;
	while (mx_msg_next(m, &it) > 0)
		if (it.type == MX_ITEM_BYTES || it.type == MX_ITEM_STRING) {
			if (count++ == 0)
				first = it;
			n += it.len;
		}
	m->rpos = 0;
	if (count <= 1) {
		*p = first.data;
		*len = first.len;
		return;
	}
	if ((*owned = malloc(n)) == NULL)
		die(EX_OSERR, "out of memory");
	n = 0;
	while (mx_msg_next(m, &it) > 0)
		if (it.type == MX_ITEM_BYTES || it.type == MX_ITEM_STRING) {
			memcpy(*owned + n, it.data, it.len);
			n += it.len;
		}
	m->rpos = 0;
	*p = *owned;
	*len = n;
}

static void
print_body(const uint8_t *p, size_t len, enum sep sep)
{
	static const char seps[] = { '\n', '\0' };

	if (tool_write_all(STDOUT_FILENO, p, len) < 0 ||
	    (sep != SEP_NONE && tool_write_all(STDOUT_FILENO, &seps[sep], 1) < 0))
		die(EX_IOERR, "stdout: %s", strerror(errno));
}

static void
serve(struct mx_conn *c, const char *name, const char *cmd, struct mx_msg *m, const uint8_t *body,
    size_t len)
{
	int want_reply = m->reply != MX_NAME_NULL, status = 0, r;
	struct output o;
	char why[128];
	size_t keep;

	if (run_command(cmd, &m->trailer, body, len, want_reply, &o, &status) < 0) {
		snprintf(why, sizeof(why), "cannot run command: %s", strerror(errno));
		status = -1;
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && !o.truncated && o.len <= OUTPUT_MAX) {
		why[0] = '\0';
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		snprintf(why, sizeof(why), "command output over %u bytes", (unsigned)OUTPUT_MAX);
	} else if (WIFEXITED(status)) {
		snprintf(why, sizeof(why), "command exited with status %d", WEXITSTATUS(status));
	} else {
		snprintf(why, sizeof(why), "command killed by signal %d", WTERMSIG(status));
	}
	if (why[0] != '\0')
		warnmsg("%s: %s", name, why);
	if (want_reply) {
		if (why[0] == '\0') {
			struct mx_msg *rep = mx_msg_new(MX_MSGID_REPLY);
			if (rep == NULL || mx_msg_add_bytes(rep, o.buf, o.len) < 0)
				die(EX_OSERR, "out of memory");
			r = masix_reply(c, m, rep);
			mx_msg_free(rep);
		} else {
			/*
			 * The reason, and what the command printed before it
			 * failed: as much of it as fits next to the code and
			 * the reason (three items, each with its header).
			 */
			struct mx_msg *rep = mx_msg_new(MX_MSGID_ERROR);
			keep = MX_BODY_MAX - 3 * MX_ITEM_HDR - 8 - strlen(why);
			if (o.len < keep)
				keep = o.len;
			if (rep == NULL || mx_msg_add_int(rep, WIFEXITED(status) ? WEXITSTATUS(status) : 1) < 0 ||
			    mx_msg_add_string(rep, why) < 0 || mx_msg_add_bytes(rep, o.buf, keep) < 0)
				die(EX_OSERR, "out of memory");
			r = masix_reply(c, m, rep);
			mx_msg_free(rep);
		}
		if (r < 0 && r != -MX_ERR_DEAD)
			warnmsg("%s: reply to pid %u: %s", name, m->trailer.pid, mx_strerror(r));
	}
	free(o.buf);
}

/* Retries after a failed registration with --reconnect: 20 ms doubling to 500 ms. */
static void
backoff(unsigned *ms)
{
	struct timespec ts = { (time_t)(*ms / 1000), (long)(*ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
	*ms = *ms * 2 > 500 ? 500 : *ms * 2;
}

/*
 * A port under name. With again (after a reconnection) a registration
 * that cannot be made yet (namesrv not back, portd gone again) is retried;
 * else any failure ends the program.
 */
static mx_name_t
take_name(struct mx_conn *c, const char *name, int again)
{
	unsigned wait = 20;
	mx_name_t port;
	int r;

	for (;;) {
		if ((r = masix_port_alloc(c, &port)) == 0 && (r = masix_register(c, name, port)) == 0)
			return port;
		if (!again || (r != -MX_ERR_UNAVAIL && r != -MX_ERR_IO && r != -MX_ERR_DEAD &&
		    r != -MX_ERR_NOREPLY && r != -MX_ERR_TIMEOUT))
			break;
		if (r == -MX_ERR_IO && (r = masix_reconnect(c, MX_FOREVER)) < 0)
			break;
		backoff(&wait);
	}
	if (*masix_errdetail(c) == '\0')
		die(mx_exit_code(r), "%s: %s", name, mx_strerror(r));
	die(mx_exit_code(r), "%s: %s", name, masix_errdetail(c));
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "raw", no_argument, NULL, 'W' },
		{ "reconnect", no_argument, NULL, 'C' },
		{ "exit-no-senders", no_argument, NULL, 'E' },
		{ "from", required_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 },
	};
	const char *rundir = NULL, *name, *cmd = NULL, *from = NULL;
	int64_t timeout_ms = -1;
	unsigned long count = 0, got = 0;
	enum sep sep = SEP_NEWLINE;
	struct mx_conn *c;
	mx_name_t port;
	char status[300];
	int ch, r, seps = 0, reconnect = 0, nosenders = 0, draining = 0;

	log_init("msgrecv", 0, 0);
	cli_init("msgrecv", usage_text);
	while ((ch = cli_getopt(argc, argv, "0hn:R:t:x:", longopts)) != -1) {
		switch (ch) {
		case '0': sep = SEP_NUL; seps++; break;
		case 'W': sep = SEP_NONE; seps++; break;
		case 'C': reconnect = 1; break;
		case 'E': nosenders = 1; break;
		case 'F':
			if (!mx_name_valid(optarg))
				die(EX_USAGE, "--from: '%s': not a service name", optarg);
			from = optarg;
			break;
		case 'n':
			if (conf_uint(optarg, UINT32_MAX, &count) < 0 || count == 0)
				die(EX_USAGE, "-n: not a positive count: '%s'", optarg);
			break;
		case 'R': rundir = optarg; break;
		case 't':
			if ((timeout_ms = tool_parse_secs(optarg)) < 0)
				die(EX_USAGE, "-t: not a number of seconds: '%s'", optarg);
			break;
		case 'x': cmd = optarg; break;
		default: cli_usage(EX_USAGE);
		}
	}
	if (seps > 1)
		die(EX_USAGE, "-0 and --raw exclude each other");
	if (optind != argc - 1)
		cli_usage(EX_USAGE);
	name = argv[optind];
	if (!mx_name_valid(name))
		die(EX_USAGE, "'%s': invalid name (1-255 characters of A-Z a-z 0-9 . _ / -)", name);
	signal(SIGPIPE, SIG_IGN);

	rundir = cli_rundir(rundir);
	if ((r = masix_connect(rundir, &c)) < 0)
		die(mx_exit_code(r), "cannot reach portd in %s: %s", rundir,
		    r == -MX_ERR_UNAVAIL ? "portd is not running" : mx_strerror(r));
	if (nosenders)
		catch_term();
	port = take_name(c, name, 0);
	if (nosenders) {
		want_nosenders(c, name, port);
		stop_receives(c);
	}
	snprintf(status, sizeof(status), "receiving on %s", name);
	sd_ready(-1, status);

	while (count == 0 || got < count) {
		struct mx_msg *m;
		const uint8_t *body;
		uint8_t *owned;
		size_t len;

		if (stop && !draining) {
			draining = 1;
			drain(c, name);
		}
		r = masix_recv(c, port, timeout_ms < 0 ? MX_FOREVER : (uint32_t)timeout_ms, &m);
		if (r == -MX_ERR_INTR)
			continue;
		if (r == -MX_ERR_TIMEOUT) {
			if (got == 0 || count != 0)
				die(EX_TEMPFAIL, "%s: timed out after %g s without a message", name,
				    (double)timeout_ms / 1000);
			break;
		}
		if (r == -MX_ERR_IO && reconnect) {
			/* A new portd knows nothing of us: connect and register again. */
			warnmsg("%s: portd went away; reconnecting", name);
			if ((r = masix_reconnect(c, MX_FOREVER)) < 0)
				die(mx_exit_code(r), "%s: reconnecting: %s", name, masix_errdetail(c));
			port = take_name(c, name, 1);
			warnmsg("%s: registered again", name);
			if (nosenders)
				want_nosenders(c, name, port);
			continue;
		}
		if (r == -MX_ERR_IO)
			die(mx_exit_code(r), "%s: receive: %s", name, masix_errdetail(c));
		if (r < 0)
			die(mx_exit_code(r), "%s: receive: %s", name, mx_strerror(r));
		if (m->msgid == MX_MSGID_NO_SENDERS && nosenders) {
			mx_msg_free(m);
			warnmsg("%s: no sender left", name);
			break;
		}
		if (m->msgid >= MX_MSGID_NO_REPLY) {
			mx_msg_free(m);	/* a notice from portd, not a message for us */
			continue;
		}
		/* --from: only the verified service portd stamped in the trailer (see masix(7)). */
		if (from != NULL && strcmp(m->trailer.service, from) != 0) {
			warnmsg("%s: message from pid %u (service '%s') refused: not %s", name, m->trailer.pid,
			    m->trailer.service, from);
			if (m->reply != MX_NAME_NULL && (r = masix_reply_error(c, m, MX_ERR_PERM, "not permitted")) < 0 &&
			    r != -MX_ERR_DEAD)
				warnmsg("%s: reply to pid %u: %s", name, m->trailer.pid, mx_strerror(r));
			mx_msg_free(m);
			continue;
		}
		got++;
		body_of(m, &body, &len, &owned);
		if (cmd != NULL)
			serve(c, name, cmd, m, body, len);
		else
			print_body(body, len, sep);
		free(owned);
		mx_msg_free(m);
	}
	masix_close(c);
	return 0;
}
