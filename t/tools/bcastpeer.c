/*
 * bcastpeer — portd's broadcast layer (cmd/portd/bcast.c) alone, for the
 * bats suite: sends signed packets, prints the ones it accepts, logs the
 * ones it drops on stderr exactly as portd does.
 *
 *   bcastpeer -S STATEDIR -N NODE -b ADDR[:PORT] [-s TYPE:TEXT] [-n COUNT]
 *             [-t SECS] [-T OFFSET_MS] [-I INCARNATION] [-r] [-x] [-v]
 *   bcastpeer -S STATEDIR -N NODE -b ADDR[:PORT] -w FILE [-s TYPE:TEXT] [-T OFFSET_MS] [-x]
 *   bcastpeer -S STATEDIR -N NODE -b ADDR[:PORT] -F COUNT -s TYPE:TEXT [-X]
 *
 * Prints "from NODE type T: TEXT" for each accepted packet. -s sends a
 * packet every 0.2 s. -n exits 0 once COUNT packets were accepted; -t
 * exits after SECS (status 75 when -n was given and not reached). -T adds
 * OFFSET_MS to its wall clock (stale packets), -r sends every packet twice,
 * byte for byte (replays), -x flips a byte of the payload after signing
 * (or of the nonce when the payload is empty): tampered packets. -w writes
 * one packet to FILE and exits (fuzz seeds). -F floods: COUNT packets, each
 * with a fresh nonce and signature, as fast as the socket takes them, then
 * "sent COUNT" on stdout and exit 0; with -X each carries the node's real
 * certificate and a random signature (forgeries that cost a verification).
 */
#include "../../cmd/portd/bcast.c"
#include "../../cmd/portd/bcast_parse.c"

#include <signal.h>
#include "ev.h"

static struct ev_loop *loop;
static unsigned long want, got;
static int have_want, send_twice, tamper, exit_code, random_sig;
static uint8_t send_type;
static const char *send_text;
static struct ev_timer send_timer, stop_timer;
static int send_failing;

static void
usage(void)
{
	fprintf(stderr, "usage: bcastpeer -S STATEDIR -N NODE -b ADDR[:PORT] [-s TYPE:TEXT] [-n COUNT] "
	    "[-t SECS] [-T OFFSET_MS] [-I INCARNATION] [-r] [-x] [-v] [-w FILE] [-F COUNT [-X]]\n");
	exit(64);
}

static void
on_recv(const char *node, uint64_t incarnation, uint8_t type, const uint8_t *p, size_t n,
    const struct sockaddr_in *from)
{
	(void)incarnation;
	(void)from;
	printf("from %s type %u: %.*s\n", node, type, (int)n, (const char *)p);
	fflush(stdout);
	got++;
	if (have_want && got >= want)
		ev_break(loop);
}

/* One packet, tampered with if asked. */
static ssize_t
make_packet(uint8_t *buf, size_t bufsz)
{
	struct bcast_pkt pkt;
	const char *why;
	ssize_t len;

	len = bcast_pack_signed(send_type, send_text, strlen(send_text), buf, bufsz);
	if (len < 0)
		fatal("bcast_pack_signed");
	if (random_sig && getrandom(buf + len - BCAST_SIG_LEN, BCAST_SIG_LEN, 0) != BCAST_SIG_LEN)
		fatal("getrandom");
	if (tamper) {
		if (bcast_parse(buf, (size_t)len, &pkt, &why) != 0)
			fatalx("own packet does not parse: %s", why);
		if (pkt.payload_len > 0)
			buf[pkt.payload - buf] ^= 0x01;
		else
			buf[BCAST_MAGIC_LEN + 3 + strlen(pkt.node) + 16] ^= 0x01;	/* the nonce */
	}
	return len;
}

static void
on_send(struct ev_timer *t)
{
	uint8_t buf[BCAST_PACKET_MAX];
	ssize_t len = make_packet(buf, sizeof(buf));
	int i, ok = 1;

	for (i = 0; i < (send_twice ? 2 : 1); i++)
		if (bcast_send_raw(buf, (size_t)len) != 0)
			ok = 0;
	if (!ok && !send_failing)
		log_warn("bcast: send");
	send_failing = !ok;
	ev_timer_arm(loop, t, ev_now() + 200);
}

static void
on_stop(struct ev_timer *t)
{
	(void)t;
	if (have_want) {
		fprintf(stderr, "bcastpeer: timeout: %lu of %lu packets\n", got, want);
		exit_code = 75;
	}
	ev_break(loop);
}

static void
on_signal(int signo, void *arg)
{
	(void)signo;
	(void)arg;
	ev_break(loop);
}

static unsigned long long
num(const char *s, const char *what)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || errno != 0)
		die(64, "%s '%s': not a number", what, s);
	return v;
}

int
main(int argc, char **argv)
{
	char why[CRYPTO_WHY_MAX];
	struct bcast_conf conf = { 0 };
	const char *wfile = NULL, *s = NULL;
	unsigned long long secs = 0, flood = 0;
	long long offset = 0;
	int c, verbose = 0, have_inc = 0;

	log_init("bcastpeer", 0, 0);
	while ((c = getopt(argc, argv, "S:N:b:s:n:t:T:I:rxvw:hF:X")) != -1) {
		switch (c) {
		case 'F': flood = num(optarg, "count"); break;
		case 'X': random_sig = 1; break;
		case 'S': conf.state_dir = optarg; break;
		case 'N': conf.node = optarg; break;
		case 'b': conf.addr = optarg; break;
		case 's': s = optarg; break;
		case 'n': want = num(optarg, "count"); have_want = 1; break;
		case 't': secs = num(optarg, "seconds"); break;
		case 'T': {
			char *end;

			errno = 0;
			offset = strtoll(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || errno != 0)
				die(64, "offset '%s': not a number", optarg);
			break;
		}
		case 'I': conf.incarnation = num(optarg, "incarnation"); have_inc = 1; break;
		case 'r': send_twice = 1; break;
		case 'x': tamper = 1; break;
		case 'v': verbose = 1; break;
		case 'w': wfile = optarg; break;
		default: usage();
		}
	}
	if (optind != argc || conf.state_dir == NULL || conf.node == NULL || conf.addr == NULL)
		usage();
	log_setverbose(verbose);
	if (s != NULL) {
		const char *colon = strchr(s, ':');
		char tbuf[8];

		if (colon == NULL || colon == s || (size_t)(colon - s) >= sizeof(tbuf))
			die(64, "'%s': expected TYPE:TEXT", s);
		memcpy(tbuf, s, (size_t)(colon - s));
		tbuf[colon - s] = '\0';
		if (num(tbuf, "type") < 1 || num(tbuf, "type") > 255)
			die(64, "type '%s': not 1 to 255", tbuf);
		send_type = (uint8_t)num(tbuf, "type");
		send_text = colon + 1;
	}
	if (!have_inc && getrandom(&conf.incarnation, sizeof(conf.incarnation), 0) != sizeof(conf.incarnation))
		die(1, "getrandom: %s", strerror(errno));
	if ((loop = ev_new()) == NULL)
		die(1, "ev_new: %s", strerror(errno));
	bcast_test_clock_offset(offset);
	if (bcast_init(loop, &conf, on_recv, why, sizeof(why)) != 0)
		die(69, "%s", why);

	if (wfile != NULL) {
		uint8_t buf[BCAST_PACKET_MAX];
		ssize_t len;
		FILE *f;

		if (send_text == NULL) {
			send_type = BCAST_ANNOUNCE;
			send_text = "";
		}
		len = make_packet(buf, sizeof(buf));
		if ((f = fopen(wfile, "wb")) == NULL || fwrite(buf, 1, (size_t)len, f) != (size_t)len ||
		    fclose(f) != 0)
			die(74, "%s: %s", wfile, strerror(errno));
		bcast_close();
		ev_free(loop);
		return 0;
	}

	if (flood > 0) {
		uint8_t buf[BCAST_PACKET_MAX];
		unsigned long long i;

		if (send_text == NULL)
			die(64, "-F needs -s TYPE:TEXT");
		for (i = 0; i < flood; i++) {
			ssize_t len = make_packet(buf, sizeof(buf));
			/* A full socket buffer: wait for room rather than lose packets here. */
			while (sendto(B.fd, buf, (size_t)len, 0, (const struct sockaddr *)&B.dest, sizeof(B.dest)) < 0) {
				if (errno != EAGAIN && errno != ENOBUFS)
					die(1, "sendto: %s", strerror(errno));
				usleep(1000);
			}
		}
		printf("sent %llu\n", flood);
		bcast_close();
		ev_free(loop);
		return 0;
	}
	if (ev_signal(loop, SIGTERM, on_signal, NULL) < 0 || ev_signal(loop, SIGINT, on_signal, NULL) < 0)
		die(1, "ev_signal: %s", strerror(errno));
	ev_timer_init(&send_timer, on_send, NULL);
	ev_timer_init(&stop_timer, on_stop, NULL);
	if (send_text != NULL)
		ev_timer_arm(loop, &send_timer, ev_now());
	if (secs > 0)
		ev_timer_arm(loop, &stop_timer, ev_now() + secs * 1000);
	if (!have_want || want > 0) {
		if (ev_run(loop) < 0)
			die(1, "ev_run: %s", strerror(errno));
	}
	if (ev_timer_armed(&send_timer))
		ev_timer_disarm(loop, &send_timer);
	if (ev_timer_armed(&stop_timer))
		ev_timer_disarm(loop, &stop_timer);
	bcast_close();
	ev_free(loop);
	return exit_code;
}
