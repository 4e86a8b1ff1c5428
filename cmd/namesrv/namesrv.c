/* namesrv.c — main: claim the NAME port, then serve it. */
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>
#include "cli.h"
#include "conf.h"
#include "log.h"
#include "names.h"
#include "namesrv.h"
#include "sd.h"

static volatile int stop;

static void
on_term(int signo)
{
	(void)signo;
	stop = 1;
}

static const char usage_text[] =
    "usage: namesrv [-hnsv] [-c FILE] [-F FD] [-R DIR] [-S DIR]\n";

static uint32_t resolve_ms = 1000;
static int announce = 1;
static struct budget_conf budget = { .names = 1024, .lookups = 1024, .cached = 4096 };
/* keysrv's state directory, where the signed list is (ownlist.c), and keysrv's strict. */
static char state_dir[PATH_MAX - 32] = "/var/lib/masix";
static int strict;

static int
set_budget(const char *key, const char *val, uint32_t *out, char *err, size_t errsz)
{
	unsigned long u;

	if (conf_uint(val, 10000000, &u) < 0) {
		snprintf(err, errsz, "%s must be 0 to 10000000", key);
		return -1;
	}
	*out = (uint32_t)u;
	return 0;
}

/*
 * The node's file is mostly portd's; resolve_timeout, announce and the
 * budgets are ours, and we read portd's trusted_uid (unlimited, like root).
 */
static int
conf_set(const char *key, const char *val, void *arg, char *err, size_t errsz)
{
	unsigned long u;

	(void)arg;
	if (strcmp(key, "announce") == 0) {
		if (strcmp(val, "yes") != 0 && strcmp(val, "no") != 0) {
			snprintf(err, errsz, "announce must be yes or no");
			return -1;
		}
		announce = val[0] == 'y';
		return 0;
	}
	if (strcmp(key, "strict") == 0) {
		if (strcmp(val, "yes") != 0 && strcmp(val, "no") != 0) {
			snprintf(err, errsz, "strict must be yes or no");
			return -1;
		}
		strict = val[0] == 'y';
		return 0;
	}
	if (strcmp(key, "state_dir") == 0) {
		if (val[0] != '/' || strlen(val) >= sizeof(state_dir)) {
			snprintf(err, errsz, "state_dir must be an absolute path shorter than %zu bytes",
			    sizeof(state_dir));
			return -1;
		}
		snprintf(state_dir, sizeof(state_dir), "%s", val);
		return 0;
	}
	if (strcmp(key, "names_per_uid") == 0)
		return set_budget(key, val, &budget.names, err, errsz);
	if (strcmp(key, "lookups_per_uid") == 0)
		return set_budget(key, val, &budget.lookups, err, errsz);
	if (strcmp(key, "names_per_node") == 0)
		return set_budget(key, val, &budget.cached, err, errsz);
	if (strcmp(key, "trusted_uid") == 0) {
		if (conf_uint(val, UINT_MAX - 1, &u) < 0) {
			snprintf(err, errsz, "not a uid");
			return -1;
		}
		budget.trusted_uid = (uint32_t)u;
		budget.has_trusted_uid = 1;
		return 0;
	}
	if (strcmp(key, "resolve_timeout") != 0)
		return 0;
	if (conf_uint(val, 600000, &u) < 0 || u == 0) {
		snprintf(err, errsz, "resolve_timeout must be 1 to 600000 milliseconds");
		return -1;
	}
	resolve_ms = (uint32_t)u;
	return 0;
}

int
main(int argc, char **argv)
{
	const char *rundir = NULL, *cfile = NULL, *opt_state = NULL;
	struct mx_conn *c;
	mx_name_t name_port, notify_port, authz_port, list_port, recheck_port, ports[5];
	struct sigaction sa;
	char err[512];
	int ch, check = 0, use_syslog = 0, verbose = 0, readyfd = -1, r;

	log_init("namesrv", 0, 0);
	cli_init("namesrv", usage_text);
	while ((ch = cli_getopt(argc, argv, "c:F:hnR:sS:v", NULL)) != -1) {
		switch (ch) {
		case 'c': cfile = optarg; break;
		case 'F':
			if ((readyfd = sd_readyfd_parse(optarg)) < 0)
				die(EX_USAGE, "-F: not a file descriptor: '%s'", optarg);
			break;
		case 'n': check = 1; break;
		case 'R': rundir = optarg; break;
		case 's': use_syslog = 1; break;
		case 'S': opt_state = optarg; break;
		case 'v': verbose++; break;
		default: cli_usage(EX_USAGE);
		}
	}
	if (optind != argc)
		cli_usage(EX_USAGE);
	if (cfile != NULL && conf_load(cfile, conf_set, NULL, err, sizeof(err)) < 0)
		die(EX_CONFIG, "%s", err);
	if (opt_state != NULL) {
		if (strlen(opt_state) >= sizeof(state_dir))
			die(EX_USAGE, "-S: path too long: '%s'", opt_state);
		snprintf(state_dir, sizeof(state_dir), "%s", opt_state);
	}
	if (check) {
		printf("configuration OK\n");
		return 0;
	}
	log_init("namesrv", use_syslog, verbose);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;	/* no SA_RESTART: a blocked receive returns */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);	/* nothing to reload: names live in memory only */

	rundir = cli_rundir(rundir);
	if ((r = masix_connect(rundir, &c)) < 0)
		die(mx_exit_code(r), "cannot reach portd in %s: %s", rundir,
		    r == -MX_ERR_UNAVAIL ? "portd is not running" : mx_strerror(r));
	if ((r = masix_port_alloc(c, &name_port)) < 0 || (r = masix_port_alloc(c, &notify_port)) < 0 ||
	    (r = masix_port_alloc(c, &authz_port)) < 0 || (r = masix_port_alloc(c, &list_port)) < 0 ||
	    (r = masix_port_alloc(c, &recheck_port)) < 0)
		die(mx_exit_code(r), "allocating ports: %s", mx_strerror(r));
	if ((r = masix_special_set(c, MX_SPECIAL_NAME, name_port)) < 0) {
		if (r == -MX_ERR_EXISTS)
			die(EX_UNAVAILABLE, "NAME port: another namesrv holds it");
		die(mx_exit_code(r), "NAME port: %s", mx_strerror(r));
	}
	masix_port_set_qlimit(c, name_port, 1024);
	/* portd pushes requests ahead of our receives: fewer wake-ups per request. */
	masix_set_prefetch(c, 64);
	masix_set_stop_flag(c, &stop);
	budget_init(&budget);
	registry_init(c, notify_port, authz_port, resolve_ms, announce);
	/* Before the first request: which names are protected, even with keysrv down. */
	ownlist_load(state_dir, strict);
	authz_remote_init(c);	/* its verdicts come on authz_port too, told apart by cookie */
	listwatch_init(c, list_port);
	recheck_init(c, recheck_port);
	listwatch_ask();	/* keysrv's list may not be the files' (keysrv not reloaded yet) */
	log_info("serving names on node %s", masix_node(c));
	sd_ready(readyfd, "serving names");

	ports[0] = name_port;
	ports[1] = notify_port;
	ports[2] = authz_port;	/* keysrv's verdicts on registrations */
	ports[3] = list_port;	/* keysrv's rules, once portd said its list changed */
	ports[4] = recheck_port;	/* the checks of names registered before a change */
	while (!stop) {
		struct mx_msg *m;
		int64_t dead;

		r = masix_recv_any(c, ports, 5, registry_next_timeout(), &m);
		if (r == -MX_ERR_TIMEOUT) {
			registry_expire();
			continue;
		}
		if (r == -MX_ERR_INTR)
			break;
		if (r < 0) {
			if (stop)
				break;
			fatalx("receive: %s", mx_strerror(r));
		}
		if (m->dest == authz_port) {
			if (!authz_remote_reply(m))
				authz_reply(m);
			masix_msg_release_rights(c, m, MX_NAME_NULL);
			mx_msg_free(m);
			registry_expire();
			continue;
		}
		if (m->dest == list_port || m->dest == recheck_port) {
			if (m->dest == list_port)
				listwatch_reply(m);
			else
				recheck_reply(m);
			masix_msg_release_rights(c, m, MX_NAME_NULL);
			mx_msg_free(m);
			continue;
		}
		if (m->dest == notify_port) {
			if (m->msgid == MX_MSGID_DEAD_NAME && mx_msg_get_int(m, &dead) == 0)
				registry_dead((mx_name_t)dead);
			mx_msg_free(m);
			continue;
		}
		/* The kernel range: only portd can send these. */
		if (m->msgid == NS_NET_QUERY || m->msgid == NS_NET_ANSWER) {
			registry_net(m);
			mx_msg_free(m);
		} else if (m->msgid == NS_LIST_CHANGED) {
			listwatch_notice(m);
			mx_msg_free(m);
		} else if (m->msgid == NS_RESTORE || m->msgid == NS_RESTORE_END) {
			registry_restore(m);
			mx_msg_free(m);
		} else {
			registry_handle(m);
		}
		registry_expire();
	}
	sd_stopping();
	log_info("stopping");
	registry_free();
	recheck_free();
	masix_close(c);
	return 0;
}
