/*
 * listwatch.c — a list keysrv loads reaches namesrv at once.
 *
 * keysrv is the authority on the signed list: namesrv learns its rules
 * (which names are protected, which private, and who sees them) from
 * keysrv's answers. Those came only with the answer to a registration, so
 * after a reload lookups followed the old rules until something
 * registered. Now keysrv tells portd each time it loads its list
 * (MX_OP_LIST_LOADED, refused to any task but the KEY port's holder), and
 * portd tells us with NS_LIST_CHANGED, a message in the kernel range that
 * no task can send. It carries keysrv's generation and nothing else we
 * use: the rules we ask keysrv for (KS_LIST_RULES on its KEY port, which
 * only keysrv receives), on a port of our own that only keysrv has a
 * send-once right to.
 *
 * One question at a time: a notice that comes while one is out is
 * remembered, and asked once more after the answer (the answer may have
 * left keysrv before its reload). A question keysrv never answers (a
 * stuck keysrv) is given up after LISTWATCH_TIMEOUT_MS by the next notice.
 */
#include <stdio.h>
#include <string.h>
#include "ev.h"
#include "keys.h"
#include "log.h"
#include "names.h"
#include "namesrv.h"

#define LISTWATCH_TIMEOUT_MS	2000	/* as authz.c's: keysrv answers at once */

static struct mx_conn *conn;
static mx_name_t port;
static int asking, again;
static uint64_t asked_at;

void
listwatch_init(struct mx_conn *c, mx_name_t p)
{
	conn = c;
	port = p;
}

void
listwatch_ask(void)
{
	struct mx_msg *m;
	int r;

	if (asking && ev_now() - asked_at < LISTWATCH_TIMEOUT_MS) {
		again = 1;
		return;
	}
	if ((m = mx_msg_new(KS_LIST_RULES)) == NULL || mx_msg_add_int(m, authz_known_gen()) < 0)
		fatalx("out of memory");
	r = authz_keysrv_ask(m, port);
	mx_msg_free(m);
	asking = r == 0;
	again = 0;
	asked_at = ev_now();
	if (r == 0)
		log_info("asking keysrv for the rules of its signature list");
	else if (r != -MX_ERR_UNAVAIL)
		log_warnx("asking keysrv for the rules of its signature list: %s", mx_strerror(r));
}

void
listwatch_notice(struct mx_msg *m)
{
	int64_t gen;

	if (mx_msg_get_int(m, &gen) < 0 || mx_msg_end(m) < 0)
		fatalx("malformed list change notice from portd");	/* between our own daemons: a bug */
	if (gen == authz_known_gen() && !asking)
		return;	/* learned already, from an answer to a registration */
	listwatch_ask();
}

void
listwatch_reply(struct mx_msg *m)
{
	char reason[KS_REASON_MAX + 1];
	int64_t status, gen, strict;

	if (m->msgid == MX_MSGID_NO_REPLY) {
		/* keysrv died with our question: a new keysrv tells portd, and portd us. */
		asking = 0;
		return;
	}
	asking = 0;
	if (m->msgid != MX_MSGID_REPLY || mx_msg_get_int(m, &status) < 0 ||
	    mx_msg_get_string(m, reason, sizeof(reason)) < 0) {
		log_warnx("malformed answer %#x from keysrv to a list question", m->msgid);
	} else if (status != 0) {
		/* An older keysrv ("unknown request"): its answers to registrations still teach us. */
		log_warnx("keysrv: list rules: %s", reason);
	} else if (mx_msg_get_int(m, &gen) < 0 || mx_msg_get_int(m, &strict) < 0) {
		log_warnx("malformed list rules from keysrv");
	} else {
		if (reason[0] != '\0')
			log_warnx("keysrv has no signature list in force: %s", reason);
		authz_learn(m, gen, strict);
	}
	if (again)
		listwatch_ask();
}

/* authz.c learned new rules (from our question or a registration's answer): apply them to what is bound. */
void
listwatch_learned(int64_t gen, size_t rules, size_t private)
{
	log_info("signature list of keysrv (generation %lld): %zu rule%s, %zu private: lookups and "
	    "registrations follow it now", (long long)gen, rules, rules == 1 ? "" : "s", private);
	registry_list_changed();
	recheck_run();
}
