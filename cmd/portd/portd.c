/* portd.c — main: options, configuration, the listening socket, signals. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include "bcast.h"
#include "cli.h"
#include "conf.h"
#include "crypto.h"
#include "identity.h"
#include "link.h"
#include "log.h"
#include "node.h"
#include "ops.h"
#include "portd.h"
#include "sd.h"
#include "sock.h"
#include "task.h"

static struct portd_conf conf;	/* read here only: each layer gets its values at init */
static struct ev_loop *loop;

static struct ev_io listen_io;
static struct ev_timer accept_timer;	/* out of descriptors: listener off until it fires */

/*
 * Descriptors kept for everything but tasks: the loop's own, link listeners,
 * links and their handshakes (LINK_MAX_UNAUTH), the broadcast socket, key,
 * certificate and CRL files. max_tasks is at most RLIMIT_NOFILE less this
 * (half the limit when the limit is under twice this).
 */
#define FD_RESERVE		128
#define ACCEPT_BACKOFF_MS	100
static char sock_path_buf[256];
static int sock_is_ours;

static const char usage_text[] =
    "usage: portd [-dhnsv] [-b ADDR|off] [-c FILE] [-F FD] [-l [ADDR]:PORT]... [-N NODE] [-p HOST[:PORT]]...\n"
    "             [-R DIR] [-S DIR] [-u UID]\n";

static int
set_node(const char *v, char *err, size_t errsz)
{
	/* The rule of node certificates too: one spelling, crypto_node_name_valid(). */
	if (!crypto_node_name_valid(v)) {
		snprintf(err, errsz, "invalid node name");
		return -1;
	}
	memcpy(conf.node, v, strlen(v) + 1);
	return 0;
}

static int
set_uid(const char *v, char *err, size_t errsz)
{
	unsigned long u;

	if (conf_uint(v, UINT_MAX - 1, &u) < 0) {
		snprintf(err, errsz, "not a uid");
		return -1;
	}
	conf.trusted_uid = (uid_t)u;
	conf.has_trusted_uid = 1;
	return 0;
}

static int
set_str(char *dst, size_t dstsz, const char *val, char *err, size_t errsz)
{
	if (strlen(val) >= dstsz) {
		snprintf(err, errsz, "value too long");
		return -1;
	}
	strcpy(dst, val);
	return 0;
}

static int
conf_set(const char *key, const char *val, void *arg, char *err, size_t errsz)
{
	unsigned long u;

	(void)arg;
	if (strcmp(key, "node") == 0)
		return set_node(val, err, errsz);
	if (strcmp(key, "trusted_uid") == 0)
		return set_uid(val, err, errsz);
	if (strcmp(key, "queue_limit") == 0) {
		if (conf_uint(val, 65536, &u) < 0 || u == 0) {
			snprintf(err, errsz, "queue_limit must be 1 to 65536");
			return -1;
		}
		conf.qlimit = (uint32_t)u;
		return 0;
	}
	if (strcmp(key, "max_tasks") == 0) {
		if (conf_uint(val, 1000000, &u) < 0 || u == 0) {
			snprintf(err, errsz, "max_tasks must be 1 to 1000000");
			return -1;
		}
		conf.max_tasks = (uint32_t)u;
		return 0;
	}
	/* The per-uid budgets (portd(8), RESOURCES) and the frame timeout. */
	if (strcmp(key, "uid_queued_mib") == 0 || strcmp(key, "uid_rights") == 0 ||
	    strcmp(key, "uid_connections") == 0 || strcmp(key, "frame_timeout_ms") == 0 ||
	    strcmp(key, "node_queued_mib") == 0) {
		if (conf_uint(val, 1000000000, &u) < 0 || u == 0) {
			snprintf(err, errsz, "%s must be 1 to 1000000000", key);
			return -1;
		}
		if (key[0] == 'n')
			conf.net.node_budget_bytes = (uint64_t)u << 20;
		else if (key[4] == 'q')
			conf.budget_bytes = (uint64_t)u << 20;
		else if (key[4] == 'r')
			conf.budget_rights = u;
		else if (key[4] == 'c')
			conf.budget_conns = u;
		else
			conf.frame_timeout_ms = (uint32_t)u;
		return 0;
	}
	if (strcmp(key, "exe_hash_max_mib") == 0) {
		if (conf_uint(val, 65536, &u) < 0 || u == 0) {
			snprintf(err, errsz, "exe_hash_max_mib must be 1 to 65536");
			return -1;
		}
		conf.exe_hash_max = (uint64_t)u << 20;
		return 0;
	}
	if (strcmp(key, "listen") == 0) {
		if (conf.net.nlistens == (int)(sizeof(conf.net.listens) / sizeof(conf.net.listens[0]))) {
			snprintf(err, errsz, "too many listen addresses (8 at most)");
			return -1;
		}
		if (link_addr_check(val, -1, err, errsz) < 0)
			return -1;
		return set_str(conf.net.listens[conf.net.nlistens++], sizeof(conf.net.listens[0]), val, err, errsz);
	}
	if (strcmp(key, "broadcast") == 0) {
		char host[64];
		struct in_addr a;
		const char *colon = strchr(val, ':');
		size_t hl = colon ? (size_t)(colon - val) : strlen(val);

		if (strcmp(val, "off") == 0)
			return set_str(conf.net.broadcast, sizeof(conf.net.broadcast), "", err, errsz);
		if (hl >= sizeof(host) || link_addr_check(val, BCAST_DEFAULT_PORT, err, errsz) < 0) {
			snprintf(err, errsz, "not an IPv4 ADDR[:PORT] or off");
			return -1;
		}
		memcpy(host, val, hl);
		host[hl] = '\0';
		if (inet_pton(AF_INET, host, &a) != 1) {
			snprintf(err, errsz, "not an IPv4 ADDR[:PORT] or off");
			return -1;
		}
		return set_str(conf.net.broadcast, sizeof(conf.net.broadcast), val, err, errsz);
	}
	if (strcmp(key, "state_dir") == 0)
		return set_str(conf.net.state_dir, sizeof(conf.net.state_dir), val, err, errsz);
	if (strcmp(key, "peer") == 0) {
		if (conf.net.npeers == (int)(sizeof(conf.net.peers) / sizeof(conf.net.peers[0]))) {
			snprintf(err, errsz, "too many peers (16 at most)");
			return -1;
		}
		if (link_addr_check(val, LINK_DEFAULT_PORT, err, errsz) < 0)
			return -1;
		return set_str(conf.net.peers[conf.net.npeers++], sizeof(conf.net.peers[0]), val, err, errsz);
	}
	if (strcmp(key, "node_timeout") == 0 || strcmp(key, "resolve_timeout") == 0) {
		if (conf_uint(val, 86400000, &u) < 0 || u == 0) {
			snprintf(err, errsz, "%s must be a number of milliseconds", key);
			return -1;
		}
		if (key[0] == 'n')
			conf.net.node_timeout_ms = (uint32_t)u;
		else
			conf.resolve_ms = (uint32_t)u;
		return 0;
	}
	/* Keys of the other daemons share the file. */
	if (strcmp(key, "admin_dir") == 0 || strcmp(key, "announce") == 0 ||
	    strcmp(key, "names_per_uid") == 0 || strcmp(key, "lookups_per_uid") == 0 ||
	    strcmp(key, "names_per_node") == 0 || strcmp(key, "strict") == 0)
		return 0;
	snprintf(err, errsz, "unknown key");
	return -1;
}

/*
 * The runtime directory holds the socket every task trusts to be portd's:
 * whoever may write in it may swap the socket for their own. So it must be
 * ours (or root's) and writable by nobody else; refuse it otherwise, saying why.
 */
static void
rundir_check(const char *dir)
{
	struct stat st;

	if (stat(dir, &st) < 0)
		fatal("%s", dir);
	if (!S_ISDIR(st.st_mode))
		die(EX_CONFIG, "%s: not a directory", dir);
	if (st.st_uid != geteuid() && st.st_uid != 0)
		die(EX_NOPERM, "%s: owned by uid %u, not by uid %u or root, refusing to use it",
		    dir, (unsigned)st.st_uid, (unsigned)geteuid());
	if (st.st_mode & 022)
		die(EX_NOPERM, "%s: directory is group or world writable (mode %04o), refusing to use it",
		    dir, (unsigned)(st.st_mode & 07777));
}

static void
on_signal(int signo, void *arg)
{
	(void)arg;
	if (signo == SIGHUP) {
		log_info("SIGHUP: reloading the revocation list and the signature list");
		node_reload();
		return;
	}
	log_info("%s: stopping", signo == SIGTERM ? "SIGTERM" : "SIGINT");
	ev_break(loop);
}

/*
 * After each batch of events: deliver to local tasks first, then write to
 * other nodes, so an ACK never overtakes the delivery it acknowledges.
 */
static void
after_batch(void *arg)
{
	tasks_flush(arg);
	node_flush();
	identity_batch_end();
}

/* Raise the soft descriptor limit to the hard one; fit max_tasks under it. */
static void
fd_limits(void)
{
	struct rlimit rl;
	unsigned long long room;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		fatal("getrlimit");
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0 && getrlimit(RLIMIT_NOFILE, &rl) < 0)
			fatal("setrlimit");
	}
	room = rl.rlim_cur >= 2 * FD_RESERVE ? rl.rlim_cur - FD_RESERVE : rl.rlim_cur / 2;
	if (conf.max_tasks > room) {
		log_info("max_tasks %u lowered to %llu: %llu file descriptors (RLIMIT_NOFILE), %llu kept for links and files",
		    (unsigned)conf.max_tasks, room, (unsigned long long)rl.rlim_cur,
		    (unsigned long long)rl.rlim_cur - room);
		conf.max_tasks = room > 0 ? (uint32_t)room : 1;
	}
}

static void
on_accept_timer(struct ev_timer *t)
{
	(void)t;
	if (ev_io_set(loop, &listen_io, EPOLLIN) < 0)
		fatal("epoll");
}

/*
 * Out of descriptors (or memory), the connection stays queued and the
 * listener stays readable: stop watching it for ACCEPT_BACKOFF_MS rather
 * than spin, and say so once per log window.
 */
static void
on_accept(struct ev_io *io, uint32_t revents)
{
	static struct log_throttle thr;
	int r;

	(void)revents;
	if ((r = task_accept(io->fd)) == 0)
		return;
	if (ev_io_set(loop, &listen_io, 0) < 0)
		fatal("epoll");
	ev_timer_arm(loop, &accept_timer, ev_now() + ACCEPT_BACKOFF_MS);
	if (log_throttle(&thr, "accept"))
		log_warnx("accept: %s: not taking new tasks for %d ms", strerror(-r), ACCEPT_BACKOFF_MS);
}

int
main(int argc, char **argv)
{
	const char *cfile = NULL, *rundir = NULL;
	char err[512];
	int ch, check = 0, use_syslog = 0, verbose = 0, readyfd = -1, lfd;
	const char *opt_node = NULL, *opt_uid = NULL, *opt_state = NULL, *opt_bcast = NULL;
	const char *opt_peers[16], *opt_listens[8];
	int nopt_peers = 0, nopt_listens = 0, i;

	log_init("portd", 0, 0);
	conf.qlimit = 64;
	conf.qlimit_bytes = 64u << 20;
	conf.max_names = 65536;
	conf.max_tasks = 4096;
	conf.budget_bytes = 256ull << 20;
	conf.budget_rights = 65536;
	conf.budget_conns = 256;
	conf.frame_timeout_ms = 10000;
	conf.exe_hash_max = IDENT_HASH_MAX_DEFAULT;
	conf.net.node_timeout_ms = 30000;
	conf.net.node_budget_bytes = 256ull << 20;
	conf.resolve_ms = 1000;
	strcpy(conf.net.state_dir, "/var/lib/masix");
	if (getrandom(&conf.net.incarnation, sizeof(conf.net.incarnation), 0) != sizeof(conf.net.incarnation))
		fatal("getrandom");
	if (gethostname(conf.node, sizeof(conf.node) - 1) < 0 || set_node(conf.node, err, sizeof(err)) < 0)
		strcpy(conf.node, "localhost");

	cli_init("portd", usage_text);
	while ((ch = cli_getopt(argc, argv, "b:c:dF:hl:N:np:R:S:su:v", NULL)) != -1) {
		switch (ch) {
		case 'b': opt_bcast = optarg; break;
		case 'c': cfile = optarg; break;
		case 'l':
			if (nopt_listens == 8)
				die(EX_USAGE, "-l: too many listen addresses (8 at most)");
			opt_listens[nopt_listens++] = optarg;
			break;
		case 'p':
			if (nopt_peers == 16)
				die(EX_USAGE, "-p: too many peers (16 at most)");
			opt_peers[nopt_peers++] = optarg;
			break;
		case 'd': break;	/* foreground is the only mode; kept for habit */
		case 'F':
			if ((readyfd = sd_readyfd_parse(optarg)) < 0)
				die(EX_USAGE, "-F: not a file descriptor: '%s'", optarg);
			break;
		case 'N': opt_node = optarg; break;
		case 'n': check = 1; break;
		case 'R': rundir = optarg; break;
		case 'S': opt_state = optarg; break;
		case 's': use_syslog = 1; break;
		case 'u': opt_uid = optarg; break;
		case 'v': verbose++; break;
		default: cli_usage(EX_USAGE);
		}
	}
	if (optind != argc)
		cli_usage(EX_USAGE);
	if (cfile == NULL && getenv("MASIX_CONFIG") != NULL)
		cfile = getenv("MASIX_CONFIG");
	if (cfile != NULL && conf_load(cfile, conf_set, NULL, err, sizeof(err)) < 0)
		die(EX_CONFIG, "%s", err);
	if (opt_node != NULL && set_node(opt_node, err, sizeof(err)) < 0)
		die(EX_USAGE, "-N: %s: '%s'", err, opt_node);
	if (opt_uid != NULL && set_uid(opt_uid, err, sizeof(err)) < 0)
		die(EX_USAGE, "-u: %s: '%s'", err, opt_uid);
	if (opt_state != NULL && set_str(conf.net.state_dir, sizeof(conf.net.state_dir), opt_state, err, sizeof(err)) < 0)
		die(EX_USAGE, "-S: %s: '%s'", err, opt_state);
	/* A flag beats the file: -b replaces, -l and -p lines replace the file's lines. */
	if (nopt_listens > 0)
		conf.net.nlistens = 0;
	for (i = 0; i < nopt_listens; i++)
		if (conf_set("listen", opt_listens[i], NULL, err, sizeof(err)) < 0)
			die(EX_USAGE, "-l: %s: '%s'", err, opt_listens[i]);
	if (opt_bcast != NULL && conf_set("broadcast", opt_bcast, NULL, err, sizeof(err)) < 0)
		die(EX_USAGE, "-b: %s: '%s'", err, opt_bcast);
	if (nopt_peers > 0)
		conf.net.npeers = 0;
	for (i = 0; i < nopt_peers; i++)
		if (conf_set("peer", opt_peers[i], NULL, err, sizeof(err)) < 0)
			die(EX_USAGE, "-p: %s: '%s'", err, opt_peers[i]);
	rundir = cli_rundir(rundir);
	snprintf(conf.rundir, sizeof(conf.rundir), "%s", rundir);
	if (sock_path(sock_path_buf, sizeof(sock_path_buf), conf.rundir, "portd.sock") < 0)
		die(EX_CONFIG, "%s/portd.sock: path too long", conf.rundir);
	if (check) {
		printf("configuration OK\n");
		return 0;
	}

	log_init("portd", use_syslog, verbose);
	/*
	 * Large message buffers are freed and allocated at a high rate; keep
	 * them in the heap instead of fresh mmap()s that fault on every page.
	 */
	mallopt(M_MMAP_THRESHOLD, 64 << 20);
	mallopt(M_TRIM_THRESHOLD, 256 << 20);
	signal(SIGPIPE, SIG_IGN);
	fd_limits();
	if ((loop = ev_new()) == NULL)
		fatal("event loop");
	ev_timer_init(&accept_timer, on_accept_timer, NULL);
	{
		/* Each layer gets the values it needs; none reads conf itself. */
		struct ops_conf oc = { loop, conf.node, conf.qlimit, conf.qlimit_bytes, conf.max_names,
		    conf.max_tasks, conf.trusted_uid, conf.has_trusted_uid, conf.budget_bytes, conf.budget_rights,
		    conf.budget_conns, 4u << 20, conf.frame_timeout_ms, conf.exe_hash_max };
		ops_init(&oc);
		conf.net.node = conf.node;
	}
	if (sd_listen_fds() >= 1) {
		lfd = 3;	/* socket activation: the first inherited socket */
		if (sock_nonblock(lfd) < 0)
			fatal("inherited socket");
	} else {
		if (mkdir(conf.rundir, 0755) < 0 && errno != EEXIST)
			fatal("%s", conf.rundir);
		rundir_check(conf.rundir);
		if ((lfd = sock_unix_listen(sock_path_buf, 0666)) < 0) {
			if (errno == EADDRINUSE)
				fatalx("%s: another portd is serving there", sock_path_buf);
			fatal("%s", sock_path_buf);
		}
		sock_is_ours = 1;
	}
	task_listen_init(lfd);
	listen_io.cb = on_accept;
	if (ev_io_add(loop, &listen_io, lfd, EPOLLIN) < 0)
		fatal("epoll");
	if (ev_signal(loop, SIGTERM, on_signal, NULL) < 0 || ev_signal(loop, SIGINT, on_signal, NULL) < 0 ||
	    ev_signal(loop, SIGHUP, on_signal, NULL) < 0)
		fatal("signals");
	ev_set_after(loop, after_batch, NULL);
	if (node_init(&conf.net, loop, err, sizeof(err)) < 0)
		fatalx("%s", err);
	log_info("node %s serving on %s%s", conf.node, sock_is_ours ? "" : "inherited socket for ",
	    sock_path_buf);
	sd_ready(readyfd, "serving");
	if (ev_run(loop) < 0)
		fatal("event loop");
	sd_stopping();
	node_shutdown();
	tasks_close_all();
	if (sock_is_ours)
		unlink(sock_path_buf);
	close(lfd);
	ev_free(loop);
	log_info("stopped");
	return 0;
}
