/*
 * nsflood — what one hostile local user does to the name service, for the
 * bats suite (t/025-namesrv-limits.bats): each scenario prints one line per
 * outcome, for the tests to compare exactly.
 *
 *   nsflood -R DIR names N PREFIX
 *	register PREFIX.0 .. PREFIX.N-1 on one port until one fails; print
 *	"registered K" and, on a failure, "PREFIX.K: REASON"; then hold the
 *	names until killed
 *   nsflood -R DIR lookups N PREFIX WAIT_MS
 *	N lookups of PREFIX.0 .. that wait WAIT_MS, sent at once; print how
 *	many were refused at once (and why) and how many wait; hold until killed
 *   nsflood -R DIR rights N
 *	N malformed or refused requests, each carrying the receive right of a
 *	fresh port (whose death we asked to hear of): print how many of the
 *	N ports died, i.e. were given back to portd by namesrv, within 10 s
 *   nsflood -R DIR malformed N [key]
 *	N malformed requests to namesrv (or keysrv: "key"), a window of 64 at
 *	a time; print "N answered: REASON" per distinct answer
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "keys.h"
#include "masix.h"
#include "names.h"

#define WINDOW		64
#define ANSWER_MS	20000

static struct mx_conn *c;

static void
check(int r, const char *what)
{
	if (r < 0) {
		fprintf(stderr, "nsflood: %s: %s\n", what, mx_strerror(r));
		exit(1);
	}
}

static __attribute__((noreturn)) void
usage(void)
{
	fprintf(stderr, "usage: nsflood -R DIR names N PREFIX | lookups N PREFIX WAIT_MS | rights N | "
	    "malformed N [key]\n");
	exit(64);
}

static __attribute__((noreturn)) void
hold(void)
{
	for (;;)
		pause();
}

/* The text of an answer: its status, and the reason namesrv gave. */
static void
answer_text(struct mx_msg *m, char *out, size_t n)
{
	char why[256] = "";
	int64_t status;

	if (m->msgid == MX_MSGID_NO_REPLY) {
		snprintf(out, n, "no reply");
		return;
	}
	if (mx_msg_get_int(m, &status) < 0) {
		snprintf(out, n, "no status (msgid %#x)", m->msgid);
		return;
	}
	if (mx_msg_get_string(m, why, sizeof(why)) < 0)
		why[0] = '\0';
	snprintf(out, n, "%s", why[0] ? why : status == 0 ? "ok" : mx_strerror((int)status));
}

/* Distinct answers and how many times each came. */
struct tally {
	char text[8][256];
	unsigned count[8];
	int n;
};

static void
tally_add(struct tally *t, const char *text)
{
	int i;

	for (i = 0; i < t->n; i++)
		if (strcmp(t->text[i], text) == 0)
			break;
	if (i == t->n) {
		if (t->n == 8)
			i = 7;
		else
			snprintf(t->text[t->n++], sizeof(t->text[0]), "%s", text);
	}
	t->count[i]++;
}

static void
take_answer(mx_name_t reply, uint32_t timeout_ms, struct tally *t)
{
	char text[256];
	struct mx_msg *m;

	check(masix_recv(c, reply, timeout_ms, &m), "answer");
	answer_text(m, text, sizeof(text));
	tally_add(t, text);
	mx_msg_free(m);
}

static int
sc_names(unsigned n, const char *prefix)
{
	char name[MX_NAME_LEN_MAX + 1];
	mx_name_t port;
	unsigned i;
	int r = 0;

	check(masix_port_alloc(c, &port), "port");
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s.%u", prefix, i);
		if ((r = masix_register(c, name, port)) < 0)
			break;
	}
	printf("registered %u\n", i);
	if (r < 0)
		printf("%s: %s\n", name, *masix_errdetail(c) ? masix_errdetail(c) : mx_strerror(r));
	hold();
}

static struct mx_msg *
ns_msg(uint32_t msgid, mx_name_t dest, mx_name_t reply)
{
	struct mx_msg *m = mx_msg_new(msgid);

	if (m == NULL)
		check(-MX_ERR_NOMEM, "message");
	m->dest = dest;
	if (reply != MX_NAME_NULL) {
		m->reply = reply;
		m->reply_disp = MX_DISP_MAKE_SEND_ONCE;
	}
	return m;
}

static int
sc_lookups(unsigned n, const char *prefix, unsigned wait_ms)
{
	char name[MX_NAME_LEN_MAX + 1];
	mx_name_t ns, reply, marker;
	struct tally t = { .n = 0 };
	struct mx_msg *m;
	unsigned i;
	int k;

	check(masix_special_get(c, MX_SPECIAL_NAME, &ns), "NAME port");
	check(masix_port_alloc(c, &reply), "port");
	check(masix_port_alloc(c, &marker), "port");
	check(masix_port_set_qlimit(c, reply, 65536), "qlimit");
	for (i = 0; i < n; i++) {
		m = ns_msg(NS_LOOKUP, ns, reply);
		snprintf(name, sizeof(name), "%s.%u", prefix, i);
		mx_msg_add_string(m, name);
		mx_msg_add_int(m, wait_ms);
		check(masix_send_nowait(c, m, MX_FOREVER), "lookup");
		mx_msg_free(m);
	}
	/* namesrv serves one sender in order: once this one is answered, all were seen. */
	m = ns_msg(NS_LOOKUP, ns, marker);
	mx_msg_add_string(m, "nsflood.marker.never.registered");
	mx_msg_add_int(m, 0);
	check(masix_send_nowait(c, m, MX_FOREVER), "lookup");
	mx_msg_free(m);
	check(masix_flush(c), "flush");
	take_answer(marker, ANSWER_MS, &(struct tally){ .n = 0 });
	for (;;) {
		struct mx_msg *a;
		char text[256];
		int r = masix_recv(c, reply, 0, &a);
		if (r == -MX_ERR_TIMEOUT)
			break;
		check(r, "answer");
		answer_text(a, text, sizeof(text));
		tally_add(&t, text);
		mx_msg_free(a);
	}
	for (k = 0; k < t.n; k++) {
		printf("refused %u: %s\n", t.count[k], t.text[k]);
		n -= t.count[k];
	}
	printf("waiting %u\n", n);
	hold();
}

/*
 * Hold a send right under PORT's name (carried to ourselves through VIA),
 * so the name and its dead-name request outlive the receive right moved
 * away: a dead-name request goes with its name, as in Mach.
 */
static void
keep_send_right(mx_name_t port, mx_name_t via)
{
	struct mx_msg *m = mx_msg_new(0), *back;

	if (m == NULL)
		check(-MX_ERR_NOMEM, "message");
	m->dest = via;
	mx_msg_add_port(m, port, MX_DISP_MAKE_SEND);
	check(masix_send(c, m, 10000), "send right to self");
	mx_msg_free(m);
	check(masix_recv(c, via, 10000, &back), "send right back");
	mx_msg_free(back);
}

static int
sc_rights(unsigned n)
{
	mx_name_t ns, notify, reply, port, self;
	struct mx_msg *m;
	unsigned i, died = 0;
	int r;

	check(masix_special_get(c, MX_SPECIAL_NAME, &ns), "NAME port");
	check(masix_port_alloc(c, &notify), "port");
	check(masix_port_alloc(c, &reply), "port");
	check(masix_port_alloc(c, &self), "port");
	check(masix_port_set_qlimit(c, reply, 65536), "qlimit");
	for (i = 0; i < n; i++) {
		check(masix_port_alloc(c, &port), "port");
		keep_send_right(port, self);
		check(masix_request_dead_notify(c, port, notify), "dead notice");
		switch (i % 4) {
		case 0:		/* a receive right where a send right belongs */
			m = ns_msg(NS_REGISTER, ns, reply);
			mx_msg_add_string(m, "nsflood.rights");
			break;
		case 1:		/* an unknown request */
			m = ns_msg(99, ns, reply);
			break;
		case 2:		/* no reply right: dropped */
			m = ns_msg(NS_LOOKUP, ns, MX_NAME_NULL);
			break;
		default:	/* a lookup with an extra item */
			m = ns_msg(NS_LOOKUP, ns, reply);
			mx_msg_add_string(m, "nsflood.rights");
			mx_msg_add_int(m, 0);
			break;
		}
		mx_msg_add_port(m, port, MX_DISP_MOVE_RECEIVE);
		check(masix_send(c, m, 10000), "send");
		mx_msg_free(m);
	}
	while (died < n) {
		struct mx_msg *a;
		if ((r = masix_recv(c, notify, 10000, &a)) == -MX_ERR_TIMEOUT)
			break;
		check(r, "notice");
		if (a->msgid == MX_MSGID_DEAD_NAME)
			died++;
		mx_msg_free(a);
	}
	printf("%u of %u ports died\n", died, n);
	return 0;
}

static int
sc_malformed(unsigned n, int key)
{
	struct tally t = { .n = 0 };
	mx_name_t dest, reply;
	struct mx_msg *m;
	unsigned i, waiting = 0;
	int k;

	check(masix_special_get(c, key ? MX_SPECIAL_KEY : MX_SPECIAL_NAME, &dest), "service port");
	check(masix_port_alloc(c, &reply), "port");
	for (i = 0; i < n; i++) {
		while (waiting >= WINDOW) {
			take_answer(reply, ANSWER_MS, &t);
			waiting--;
		}
		/* keysrv's node-cert takes no item; namesrv's register wants a string first. */
		m = ns_msg(key ? KS_NODE_CERT : NS_REGISTER, dest, reply);
		mx_msg_add_int(m, i);
		check(masix_send_nowait(c, m, MX_FOREVER), "send");
		mx_msg_free(m);
		waiting++;
	}
	check(masix_flush(c), "flush");
	while (waiting-- > 0)
		take_answer(reply, ANSWER_MS, &t);
	for (k = 0; k < t.n; k++)
		printf("%u answered: %s\n", t.count[k], t.text[k]);
	return 0;
}

static unsigned
count_arg(const char *s)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v == 0 || v > 1000000)
		usage();
	return (unsigned)v;
}

int
main(int argc, char **argv)
{
	const char *sc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (argc < 5 || strcmp(argv[1], "-R") != 0)
		usage();
	check(masix_connect(argv[2], &c), "connect");
	sc = argv[3];
	if (strcmp(sc, "names") == 0 && argc == 6)
		return sc_names(count_arg(argv[4]), argv[5]);
	if (strcmp(sc, "lookups") == 0 && argc == 7)
		return sc_lookups(count_arg(argv[4]), argv[5], count_arg(argv[6]));
	if (strcmp(sc, "rights") == 0 && argc == 5)
		return sc_rights(count_arg(argv[4]));
	if (strcmp(sc, "malformed") == 0 && (argc == 5 || (argc == 6 && strcmp(argv[5], "key") == 0)))
		return sc_malformed(count_arg(argv[4]), argc == 6);
	usage();
}
