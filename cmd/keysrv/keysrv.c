/* keysrv.c — main: options, configuration, claim the KEY port, serve it; -i and -q modes. */
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>
#include "cli.h"
#include "conf.h"
#include "keysrv.h"
#include "log.h"
#include "sd.h"

/* wake is the library's stop flag while keysrv waits for a request. */
static volatile int wake;
static volatile sig_atomic_t got_term, got_hup;

static char conf_state[KS_PATH_MAX];
int conf_strict;

static void
on_signal(int signo)
{
	if (signo == SIGHUP)
		got_hup = 1;
	else
		got_term = 1;
	wake = 1;
}

static const char usage_text[] =
    "usage: keysrv [-hnsv] [-c FILE] [-F FD] [-R DIR] [-S DIR]\n"
    "       keysrv -i [-c FILE] [-N NODE] [-R DIR] [-S DIR]\n"
    "       keysrv -q [-R DIR] node-cert | verify CERTFILE NODE | directory |\n"
    "                 may-register HASH UID NAME [UNIT] | ca-cert | crl\n";

static int
conf_set(const char *key, const char *val, void *arg, char *err, size_t errsz)
{
	static const char *const shared[] = {
		"node", "listen", "peer", "broadcast", "trusted_uid", "queue_limit",
		"max_tasks", "admin_dir", "node_timeout", "resolve_timeout", "announce",
		"names_per_uid", "lookups_per_uid", "names_per_node",
		"uid_queued_mib", "uid_rights", "uid_connections", "frame_timeout_ms", "node_queued_mib",
		"exe_hash_max_mib", NULL,
	};
	size_t i;

	(void)arg;
	if (strcmp(key, "strict") == 0) {
		if (strcmp(val, "yes") != 0 && strcmp(val, "no") != 0) {
			snprintf(err, errsz, "strict must be yes or no");
			return -1;
		}
		conf_strict = val[0] == 'y';
		return 0;
	}
	if (strcmp(key, "state_dir") == 0) {
		if (val[0] != '/' || strlen(val) >= sizeof(conf_state)) {
			snprintf(err, errsz, "state_dir must be an absolute path shorter than %zu bytes",
			    sizeof(conf_state));
			return -1;
		}
		snprintf(conf_state, sizeof(conf_state), "%s", val);
		return 0;
	}
	/* The node's file is shared with portd and the other daemons. */
	for (i = 0; shared[i] != NULL; i++)
		if (strcmp(key, shared[i]) == 0)
			return 0;
	snprintf(err, errsz, "unknown key");
	return -1;
}

/* keysrv -i: node.key and node.csr, without portd when -N names the node. */
static int
init_only(const char *rundir, const char *state, const char *node)
{
	char why[CRYPTO_WHY_MAX], name[CRYPTO_NODE_MAX + 1];
	struct mx_conn *c;
	int r;

	if (node == NULL) {
		rundir = cli_rundir(rundir);
		if ((r = masix_connect(rundir, &c)) < 0)
			die(EX_UNAVAILABLE, "no node name: use -N NODE, or start portd (%s: %s)", rundir,
			    r == -MX_ERR_UNAVAIL ? "portd is not running" : mx_strerror(r));
		snprintf(name, sizeof(name), "%s", masix_node(c));
		masix_close(c);
		node = name;
	}
	if ((r = identity_init(state, node, why, sizeof(why))) != 0)
		die(mx_file_exit_code(r), "%s", why);
	printf("%s/node.csr\n", state);
	if (fflush(stdout) != 0)
		die(EX_IOERR, "stdout: write failed");
	return 0;
}

static void
reload(const char *state, const char *node)
{
	log_info("SIGHUP: reloading %s", state);
	identity_load(state, node, 0);
	log_info("reloaded: %s, %s, signature list %s", id.cert != NULL ? "certificate OK" : "no valid certificate",
	    id.ca != NULL ? "CA loaded" : "no CA", id.list != NULL ? "loaded" : "not loaded");
	serve_list_loaded();
}

int
main(int argc, char **argv)
{
	const char *rundir = NULL, *cfile = NULL, *state = NULL, *node = NULL;
	char err[512], nodename[MX_NODE_MAX + 1];
	struct mx_conn *c;
	mx_name_t key_port;
	struct sigaction sa;
	int ch, check = 0, init = 0, query = 0, use_syslog = 0, verbose = 0, readyfd = -1, r;

	log_init("keysrv", 0, 0);
	umask(077);
	/* '+': in -q mode, the query's own arguments are not options. */
	cli_init("keysrv", usage_text);
	while ((ch = cli_getopt(argc, argv, "+c:F:hinN:qR:sS:v", NULL)) != -1) {
		switch (ch) {
		case 'c': cfile = optarg; break;
		case 'F':
			if ((readyfd = sd_readyfd_parse(optarg)) < 0)
				die(EX_USAGE, "-F: not a file descriptor: '%s'", optarg);
			break;
		case 'i': init = 1; break;
		case 'n': check = 1; break;
		case 'N':
			if (!crypto_node_name_valid(optarg))
				die(EX_USAGE, "-N: invalid node name: '%s'", optarg);
			node = optarg;
			break;
		case 'q': query = 1; break;
		case 'R': rundir = optarg; break;
		case 's': use_syslog = 1; break;
		case 'S':
			if (optarg[0] == '\0' || strlen(optarg) >= KS_PATH_MAX)
				die(EX_USAGE, "-S: not a usable directory name: '%s'", optarg);
			state = optarg;
			break;
		case 'v': verbose++; break;
		default: cli_usage(EX_USAGE);
		}
	}
	if (query) {
		if (init || check || cfile || state || node || readyfd >= 0 || use_syslog)
			cli_usage(EX_USAGE);
		return query_main(rundir, argc - optind, argv + optind);
	}
	if (optind != argc || (init && (check || readyfd >= 0 || use_syslog)) || (node != NULL && !init))
		cli_usage(EX_USAGE);
	if (cfile != NULL && conf_load(cfile, conf_set, NULL, err, sizeof(err)) < 0)
		die(EX_CONFIG, "%s", err);
	if (state == NULL)
		state = conf_state[0] != '\0' ? conf_state : KS_DEFAULT_STATE;
	if (check) {
		printf("configuration OK\n");
		return 0;
	}
	if (init)
		return init_only(rundir, state, node);
	log_init("keysrv", use_syslog, verbose);
	rundir = cli_rundir(rundir);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;	/* no SA_RESTART: a blocked receive returns */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if ((r = masix_connect(rundir, &c)) < 0)
		die(mx_exit_code(r), "cannot reach portd in %s: %s", rundir,
		    r == -MX_ERR_UNAVAIL ? "portd is not running" : mx_strerror(r));
	if ((r = masix_port_alloc(c, &key_port)) < 0)
		die(mx_exit_code(r), "allocating a port: %s", mx_strerror(r));
	if ((r = masix_special_set(c, MX_SPECIAL_KEY, key_port)) < 0) {
		if (r == -MX_ERR_EXISTS)
			die(EX_UNAVAILABLE, "KEY port: another keysrv holds it");
		die(mx_exit_code(r), "KEY port: %s", mx_strerror(r));
	}
	masix_port_set_qlimit(c, key_port, 1024);
	/* portd pushes requests ahead of our receives: namesrv asks once per registration. */
	masix_set_prefetch(c, 64);
	snprintf(nodename, sizeof(nodename), "%s", masix_node(c));
	identity_load(state, nodename, 1);
	serve_init(c);
	serve_list_loaded();	/* a namesrv that ran before us learns our list now */
	log_info("serving keys on node %s from %s", nodename, state);
	sd_ready(readyfd, "serving keys");

	while (!got_term) {
		struct mx_msg *m;
		unsigned wait_ms;

		if (got_hup) {
			got_hup = 0;
			wake = got_term;
			reload(state, nodename);
			continue;
		}
		/* Held-back log lines are counted when their window ends. */
		wait_ms = log_throttle_tick();
		/* The flag only interrupts the wait, never a reply half-sent. */
		masix_set_stop_flag(c, &wake);
		r = masix_recv(c, key_port, wait_ms < 1000 ? wait_ms : 1000, &m);
		masix_set_stop_flag(c, NULL);
		if (r == -MX_ERR_TIMEOUT || r == -MX_ERR_INTR)
			continue;
		if (r < 0) {
			if (got_term)
				break;
			fatalx("receive: %s", mx_strerror(r));
		}
		serve_handle(m);
	}
	sd_stopping();
	log_info("stopping");
	directory_free();
	identity_free();
	masix_close(c);
	return 0;
}
