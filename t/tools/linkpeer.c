/*
 * linkpeer — one node's link layer (cmd/portd/link*.c) alone on an event
 * loop, for the bats suite.
 *
 *   linkpeer -S STATEDIR -N NODE [-l ADDR:PORT]... [-p HOST:PORT]...
 *            [-c NODE@HOST:PORT]... [-s TEXT] [-n COUNT] [-w MS] [-v]
 *
 * -l listens, -p keeps a link to a peer (links_add_peer), -c connects once
 * to a node expected by name (links_connect). Prints on stdout, one line
 * each: "up NODE" when a link comes up, "frame NODE TYPE TEXT" for each
 * frame received, "down NODE: WHY" when an up link goes. -w sleeps MS
 * between listening and dialling, so two peers started together dial each
 * other at the same moment (their connections cross). -s sends TEXT as a
 * type-1 frame on every link that comes up; -n exits after COUNT frames.
 * -b SIZE also sends a type-2 frame of SIZE pattern bytes, printed on receipt as
 * "frame NODE 2 SIZE bytes ok" (or "corrupt"). SIGHUP reloads the CRL; SIGTERM and SIGINT exit 0. Log lines on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <signal.h>
#include <openssl/rand.h>
#include "../../cmd/portd/link.c"
#include "../../cmd/portd/link_dial.c"
#include "../../cmd/portd/link_tls.c"
#include "../../cmd/portd/link_frame.c"

static struct ev_loop *lp;
static const char *text;
static long want = -1, got;
static size_t bigsz;
static struct link *up[64];
static struct ev_timer drain;

/* -n reached: exit once what we sent has left (or after 5 s). */
static void
drain_cb(struct ev_timer *t)
{
	size_t i;

	for (i = 0; i < 64; i++) {
		if (up[i] != NULL && link_queued(up[i]) > 0 && ev_now() < t->deadline + 5000) {
			ev_timer_arm(lp, t, ev_now() + 10);
			return;
		}
	}
	ev_break(lp);
}

static uint8_t
pattern(size_t i)
{
	return (uint8_t)(i * 7 + i / 251);
}

static void
on_up(struct link *l, const char *node, uint64_t inc)
{
	size_t i;

	(void)inc;
	printf("up %s\n", node);
	for (i = 0; i < 64 && up[i] != NULL; i++)
		;
	if (i < 64)
		up[i] = l;
	if (text != NULL && link_send(l, 1, text, strlen(text), NULL, 0) != 0)
		printf("send to %s failed\n", node);
	if (bigsz > 0) {
		uint8_t *b = malloc(bigsz);
		if (b == NULL)
			die(1, "out of memory");
		for (i = 0; i < bigsz; i++)
			b[i] = pattern(i);
		/* In two parts, as portd sends a header and a body. */
		if (link_send(l, 2, b, bigsz / 3, b + bigsz / 3, bigsz - bigsz / 3) != 0)
			printf("send to %s failed\n", node);
		free(b);
	}
}

static void
on_frame(struct link *l, uint8_t type, const uint8_t *p, uint32_t len)
{
	if (type == 2) {
		uint32_t i;
		for (i = 0; i < len && p[i] == pattern(i); i++)
			;
		printf("frame %s 2 %u bytes %s\n", link_node(l), len, i == len ? "ok" : "corrupt");
	} else {
		printf("frame %s %u %.*s\n", link_node(l), type, (int)len, (const char *)p);
	}
	if (want > 0 && ++got == want)
		ev_timer_arm(lp, &drain, ev_now());
}

static void
on_down(struct link *l, const char *why)
{
	size_t i;

	printf("down %s: %s\n", link_node(l), why);
	for (i = 0; i < 64; i++)
		if (up[i] == l)
			up[i] = NULL;
}

static void
on_signal(int signo, void *arg)
{
	(void)arg;
	if (signo == SIGHUP)
		links_reload();
	else
		ev_break(lp);
}

static void
usage(void)
{
	fprintf(stderr, "usage: linkpeer -S STATEDIR -N NODE [-l ADDR:PORT]... [-p HOST:PORT]...\n"
	    "                [-c NODE@HOST:PORT]... [-s TEXT] [-b SIZE] [-n COUNT] [-w MS] [-v]\n");
	exit(64);
}

int
main(int argc, char **argv)
{
	static const struct link_cb cbs = { on_up, on_frame, on_down };
	struct link_conf conf = { 0 };
	char why[512];
	const char *listen_on[8], *peer[8], *conn[8];
	int nl = 0, np = 0, nc = 0, ch, i, verbose = 0, wait_ms = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((ch = getopt(argc, argv, "S:N:l:p:c:s:n:b:w:v")) != -1) {
		switch (ch) {
		case 'S': conf.state_dir = optarg; break;
		case 'N': conf.node = optarg; break;
		case 'l': if (nl == 8) usage(); listen_on[nl++] = optarg; break;
		case 'p': if (np == 8) usage(); peer[np++] = optarg; break;
		case 'c': if (nc == 8) usage(); conn[nc++] = optarg; break;
		case 's': text = optarg; break;
		case 'n': want = strtol(optarg, NULL, 10); break;
		case 'b': bigsz = strtoul(optarg, NULL, 10); break;
		case 'v': verbose++; break;
		case 'w': wait_ms = atoi(optarg); break;
		default: usage();
		}
	}
	if (optind != argc || conf.state_dir == NULL || conf.node == NULL)
		usage();
	log_init("linkpeer", 0, verbose);
	if (RAND_bytes((unsigned char *)&conf.incarnation, sizeof(conf.incarnation)) != 1)
		die(1, "random incarnation failed");
	if ((lp = ev_new()) == NULL)
		die(1, "event loop: out of memory");
	ev_timer_init(&drain, drain_cb, NULL);
	if (links_init(lp, &conf, &cbs, why, sizeof(why)) != 0)
		die(1, "%s", why);
	if (ev_signal(lp, SIGTERM, on_signal, NULL) < 0 || ev_signal(lp, SIGINT, on_signal, NULL) < 0 ||
	    ev_signal(lp, SIGHUP, on_signal, NULL) < 0)
		die(1, "signals: failed");
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < nl; i++)
		if (links_listen(listen_on[i], why, sizeof(why)) != 0)
			die(1, "listen: %s", why);
	if (wait_ms > 0)
		usleep((useconds_t)wait_ms * 1000);
	for (i = 0; i < np; i++)
		if (links_add_peer(peer[i], why, sizeof(why)) != 0)
			die(1, "peer: %s", why);
	for (i = 0; i < nc; i++) {
		char node[64];
		const char *at = strchr(conn[i], '@');
		if (at == NULL || (size_t)(at - conn[i]) >= sizeof(node))
			usage();
		memcpy(node, conn[i], (size_t)(at - conn[i]));
		node[at - conn[i]] = '\0';
		links_connect(node, at + 1);
	}
	if (verbose)
		log_info("ready");
	if (ev_run(lp) < 0)
		die(1, "event loop failed");
	links_close_all();
	ev_free(lp);
	return 0;
}
