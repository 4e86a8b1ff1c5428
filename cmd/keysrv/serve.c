/* serve.c — requests on the KEY port: certificates, peer verification, the directory, verdicts. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "keysrv.h"
#include "log.h"

static struct mx_conn *conn;

/* Lines a client or another node can trigger: a burst, then a count. */
static struct log_throttle lt_bad = LOG_THROTTLE_INIT("malformed requests", LOG_WARNING);
static struct log_throttle lt_refused = LOG_THROTTLE_INIT("refused certificates", LOG_INFO);
static struct log_throttle lt_reply = LOG_THROTTLE_INIT("failed replies", LOG_WARNING);
static struct log_throttle lt_debug = { .what = "debug lines", .pri = LOG_DEBUG, .burst = 100 };

static const char *const req_name[] = {
	[KS_NODE_CERT] = "node-cert", [KS_VERIFY_PEER] = "verify-peer",
	[KS_DIRECTORY] = "directory", [KS_MAY_REGISTER] = "may-register",
	[KS_CA_CERT] = "ca-cert", [KS_CRL] = "crl", [KS_LIST_RULES] = "list-rules",
};

void
serve_init(struct mx_conn *c)
{
	conn = c;
}

static struct mx_msg *
reply_new(int status)
{
	struct mx_msg *m = mx_msg_new(MX_MSGID_REPLY);

	if (m == NULL || mx_msg_add_int(m, status < 0 ? -status : status) < 0)
		fatalx("out of memory");
	return m;
}

/* Add a reason, cut to what a client reads (KS_REASON_MAX). */
static void
add_reason(struct mx_msg *m, const char *fmt, ...)
{
	char text[KS_REASON_MAX + 1];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (mx_msg_add_string(m, text) < 0)
		fatalx("out of memory");
}

static void
add_string(struct mx_msg *m, const char *s)
{
	if (mx_msg_add_string(m, s) < 0)
		fatalx("out of memory");
}

static void
add_bytes(struct mx_msg *m, const void *p, size_t n)
{
	if (mx_msg_add_bytes(m, p, n) < 0)
		fatalx("out of memory");
}

/*
 * Pipelined, as namesrv answers: the reply goes out with the receive that
 * follows and its status comes back later. It never waits: a client whose
 * reply port is full loses its answer rather than stall keysrv for all.
 */
static void
send_reply(struct mx_msg *req, struct mx_msg *m)
{
	int r = -MX_ERR_INVAL;

	if (req->reply != MX_NAME_NULL) {
		m->dest = req->reply;
		m->reply = MX_NAME_NULL;
		if (m->msgid == 0)
			m->msgid = MX_MSGID_REPLY;
		r = masix_send_nowait(conn, m, 0);
	}
	if (r < 0 && r != -MX_ERR_DEAD)
		log_throttled(&lt_reply, "reply to pid %u: %s", req->trailer.pid, mx_strerror(r));
	mx_msg_free(m);
}

/* A non-zero status and its reason. */
static void
fail(struct mx_msg *req, int status, const char *reason)
{
	struct mx_msg *m = reply_new(status);

	add_reason(m, "%s", reason);
	send_reply(req, m);
}

static void
malformed(struct mx_msg *req)
{
	log_throttled(&lt_bad, "pid %u uid %u: malformed %s request", req->trailer.pid, req->trailer.uid,
	    req_name[req->msgid]);
	fail(req, MX_ERR_PROTO, "malformed request");
}

/* The next item as a string; *cut set (and out truncated) when it does not fit. */
static int
get_str(struct mx_msg *m, char *out, size_t outsz, int *cut)
{
	struct mx_item it;
	size_t n;

	*cut = 0;
	if (mx_msg_next(m, &it) != 1 || it.type != MX_ITEM_STRING)
		return -MX_ERR_PROTO;
	n = it.len;
	if (n >= outsz) {
		*cut = 1;
		n = outsz - 1;
	}
	memcpy(out, it.data, n);
	out[n] = '\0';
	return 0;
}

static void
do_node_cert(struct mx_msg *req)
{
	struct mx_msg *m;

	if (mx_msg_end(req) < 0) {
		malformed(req);
		return;
	}
	if (id.cert == NULL) {
		m = reply_new(MX_ERR_UNAVAIL);
		add_reason(m, "no valid certificate: %s", id.cert_why);
	} else {
		m = reply_new(0);
		add_string(m, id.node);
		add_bytes(m, id.cert_pem, id.cert_pem_len);
		add_string(m, id.fp);
	}
	send_reply(req, m);
}

static void
do_verify_peer(struct mx_msg *req)
{
	char node[CRYPTO_NODE_MAX + 1], cn[CRYPTO_NODE_MAX + 1], why[CRYPTO_WHY_MAX];
	char fp[CRYPTO_FP_STRLEN + 1];
	const uint8_t *pem;
	struct mx_msg *m;
	X509 *cert;
	size_t len;
	int r, cut;

	if (mx_msg_get_bytes(req, &pem, &len) < 0) {
		malformed(req);
		return;
	}
	if (get_str(req, node, sizeof(node), &cut) < 0 || mx_msg_end(req) < 0) {
		malformed(req);
		return;
	}
	if (node[0] != '\0' && (cut || !crypto_node_name_valid(node))) {
		m = reply_new(MX_ERR_INVAL);
		add_reason(m, "'%s%s': not a valid node name", node, cut ? "..." : "");
		send_reply(req, m);
		return;
	}
	if (len > KS_PEM_MAX) {
		fail(req, MX_ERR_TOOBIG, "certificate too large");
		return;
	}
	if (id.ca == NULL) {
		fail(req, MX_ERR_UNAVAIL, id.ca_why);
		return;
	}
	if (id.crl_bad) {
		fail(req, MX_ERR_UNAVAIL, id.crl_why);
		return;
	}
	if (cert_from_pem(pem, len, &cert) != 0) {
		fail(req, MX_ERR_BADSIG, "not a PEM certificate");
		return;
	}
	r = crypto_cert_verify(cert, id.ca, id.crl, node[0] != '\0' ? node : NULL, why, sizeof(why));
	if (r == 0 && (crypto_cert_node(cert, cn, sizeof(cn)) != 0 ||
	    crypto_fingerprint(X509_get0_pubkey(cert), fp) != 0))
		r = crypto_fail(why, sizeof(why), -MX_ERR_BADSIG, "no usable node name or key");
	if (r != 0) {
		log_throttled(&lt_refused, "pid %u: peer certificate%s%s refused: %s", req->trailer.pid,
		    node[0] != '\0' ? " for " : "", node, why);
		X509_free(cert);
		fail(req, r == -MX_ERR_NOMEM ? MX_ERR_NOMEM : MX_ERR_BADSIG, why);
		return;
	}
	log_throttled(&lt_debug, "pid %u: peer %s verified, key %s", req->trailer.pid, cn, fp);
	if (strcmp(cn, id.node) != 0)
		directory_add(cn, fp, cert);	/* takes cert */
	else
		X509_free(cert);
	m = reply_new(0);
	add_string(m, "OK");
	add_string(m, cn);
	add_string(m, fp);
	send_reply(req, m);
}

static int
add_node(const char *node, const char *fp, void *arg)
{
	struct mx_msg *m = arg;

	add_string(m, node);
	add_string(m, fp);
	return 0;
}

static void
do_directory(struct mx_msg *req)
{
	struct mx_msg *m;

	if (mx_msg_end(req) < 0) {
		malformed(req);
		return;
	}
	m = reply_new(0);
	if (id.pub != NULL)
		add_node(id.node, id.fp, m);
	directory_each(add_node, m);
	send_reply(req, m);
}

/*
 * The strict namesrv must apply with these rules: the configuration's, and
 * also when a list is there but was refused: which names it protects
 * cannot be told, so every name is (fails closed), as namesrv's own copy
 * does with a list that does not verify.
 */
static int64_t
rules_strict(void)
{
	return conf_strict || (id.list == NULL && !id.list_missing);
}

/* Every rule's name (and who sees a private one), so namesrv knows what is protected even while keysrv is away. */
static void
add_patterns(struct mx_msg *m)
{
	const struct siglist_entry *e;
	size_t i, n = 0;

	if (id.list != NULL)
		for (i = 0; i < id.list->n; i++)
			n += id.list->ent[i].line == NULL;
	if (mx_msg_add_int(m, (int64_t)n) < 0)
		fatalx("out of memory");
	for (i = 0; id.list != NULL && i < id.list->n; i++) {
		e = &id.list->ent[i];
		if (e->line != NULL)
			continue;
		add_string(m, e->name);
		if (mx_msg_add_int(m, e->private) < 0)
			fatalx("out of memory");
		add_string(m, e->audience);	/* who may see a private rule's names ("" any service) */
	}
}

/*
 * May this identity take this name? Asked by namesrv at each registration
 * (with the identity portd pinned for the task holding the port) and by
 * keysrv -q. The verdict, the rule that decided and the reason go back.
 */
static void
do_may_register(struct mx_msg *req)
{
	char hashstr[CRYPTO_HASH_STRLEN + 1], name[MX_NAME_LEN_MAX + 1], unit[SIGLIST_UNIT_MAX + 1] = "";
	struct siglist_who w = { 0, { 0 }, 0, unit };
	struct siglist_verdict v;
	int64_t uid, cookie = 0, known = -1, kind;
	struct mx_msg *m;
	int cut1, cut2, cut3 = 0, status;
	const char *rule = "", *reason;

	if (get_str(req, hashstr, sizeof(hashstr), &cut1) < 0 || mx_msg_get_int(req, &uid) < 0 ||
	    get_str(req, name, sizeof(name), &cut2) < 0) {
		malformed(req);
		return;
	}
	/* The identity's unit, the caller's cookie and the generation of the patterns it knows. */
	if (mx_msg_end(req) < 0 && (get_str(req, unit, sizeof(unit), &cut3) < 0 ||
	    mx_msg_get_int(req, &cookie) < 0 || mx_msg_get_int(req, &known) < 0 || mx_msg_end(req) < 0)) {
		malformed(req);
		return;
	}
	if (cut1 || (strcmp(hashstr, "-") != 0 && crypto_hash_parse(hashstr, w.hash) != 0)) {
		m = reply_new(MX_ERR_INVAL);
		add_reason(m, "'%s%s': not a sha256:HEX hash", hashstr, cut1 ? "..." : "");
		send_reply(req, m);
		return;
	}
	if (uid < 0 || uid > 4294967294LL) {
		m = reply_new(MX_ERR_INVAL);
		add_reason(m, "uid %lld out of range", (long long)uid);
		send_reply(req, m);
		return;
	}
	if (cut2 || !mx_name_valid(name)) {
		m = reply_new(MX_ERR_INVAL);
		add_reason(m, "'%s%s': not a valid name", name, cut2 ? "..." : "");
		send_reply(req, m);
		return;
	}
	if (cut3 || (unit[0] != '\0' && !siglist_unit_valid(unit))) {
		m = reply_new(MX_ERR_INVAL);
		add_reason(m, "'%s%s': not a systemd unit", unit, cut3 ? "..." : "");
		send_reply(req, m);
		return;
	}
	w.has_hash = strcmp(hashstr, "-") != 0;
	w.uid = (uid_t)uid;
	memset(&v, 0, sizeof(v));
	if (id.list == NULL && !id.list_missing) {
		status = MX_ERR_UNAVAIL;
		kind = KS_VERDICT_NOLIST;
		reason = id.list_why;
	} else if (id.list == NULL && !conf_strict) {
		status = 0;
		kind = KS_VERDICT_OPEN;
		reason = "open: no signature list, every name is open";
	} else if (id.list == NULL) {
		/* strict without a list: nothing may register */
		status = MX_ERR_PERM;
		kind = KS_VERDICT_DENY;
		rule = "strict";
		snprintf(v.why, sizeof(v.why), "no rule for '%s' in the signature list (strict): there is no list", name);
		reason = v.why;
	} else {
		siglist_decide(id.list, &w, name, conf_strict, &v);
		rule = v.rule;
		if (v.kind == SIGLIST_ALLOW) {
			status = 0;
			kind = KS_VERDICT_ALLOW;
			reason = "allowed";
		} else if (v.kind == SIGLIST_OPEN) {
			status = 0;
			kind = KS_VERDICT_OPEN;
			snprintf(v.why, sizeof(v.why), "open: no rule for '%s' in the signature list", name);
			reason = v.why;
		} else {
			status = MX_ERR_PERM;
			kind = KS_VERDICT_DENY;
			reason = v.why;
			log_throttled(&lt_debug, "may-register '%s' by uid %lld: %s", name, (long long)uid, v.why);
		}
	}
	m = reply_new(status);
	add_reason(m, "%s", reason);
	if (mx_msg_add_int(m, kind) < 0)
		fatalx("out of memory");
	add_reason(m, "%s", rule);
	if (mx_msg_add_int(m, v.private) < 0 || mx_msg_add_int(m, rules_strict()) < 0 || mx_msg_add_int(m, cookie) < 0 ||
	    mx_msg_add_int(m, id.list_gen) < 0)
		fatalx("out of memory");
	if (known != -1 && known != id.list_gen)
		add_patterns(m);
	send_reply(req, m);
}

/*
 * The rules of the list in force, when they are not those of the
 * generation the asker knows: what namesrv asks once portd tells it that
 * the list changed (NS_LIST_CHANGED). The same rules and strict as a
 * may-register answer carries, so both teach namesrv the same.
 */
static void
do_list_rules(struct mx_msg *req)
{
	struct mx_msg *m;
	int64_t known;

	if (mx_msg_get_int(req, &known) < 0 || mx_msg_end(req) < 0) {
		malformed(req);
		return;
	}
	m = reply_new(0);
	add_reason(m, "%s", id.list == NULL && !id.list_missing ? id.list_why : "");
	if (mx_msg_add_int(m, id.list_gen) < 0 || mx_msg_add_int(m, rules_strict()) < 0)
		fatalx("out of memory");
	if (known != id.list_gen)
		add_patterns(m);
	send_reply(req, m);
}

/* Tell portd the list was (re)loaded: it reloads its copies and tells namesrv, which asks us for the rules. */
void
serve_list_loaded(void)
{
	int r;

	if ((r = ks_list_loaded(conn, id.list_gen)) < 0)
		log_warnx("telling portd the signature list was loaded: %s", mx_strerror(r));
}

static void
do_pem(struct mx_msg *req, const char *pem, size_t len, int status, const char *why)
{
	struct mx_msg *m;

	if (mx_msg_end(req) < 0) {
		malformed(req);
		return;
	}
	if (pem == NULL) {
		fail(req, status, why);
		return;
	}
	m = reply_new(0);
	add_bytes(m, pem, len);
	send_reply(req, m);
}

/* portd linked to a node: its certificate joins the directory once it verifies here too. */
static void
do_peer_linked(struct mx_msg *req)
{
	char node[CRYPTO_NODE_MAX + 1], cn[CRYPTO_NODE_MAX + 1], why[CRYPTO_WHY_MAX];
	char fp[CRYPTO_FP_STRLEN + 1];
	const uint8_t *pem;
	X509 *cert;
	size_t len;
	int cut;

	if (mx_msg_get_bytes(req, &pem, &len) < 0 || get_str(req, node, sizeof(node), &cut) < 0 ||
	    mx_msg_end(req) < 0 || cut || len > KS_PEM_MAX || id.ca == NULL || id.crl_bad ||
	    cert_from_pem(pem, len, &cert) != 0)
		return;
	if (crypto_cert_verify(cert, id.ca, id.crl, node, why, sizeof(why)) != 0 ||
	    crypto_cert_node(cert, cn, sizeof(cn)) != 0 || crypto_fingerprint(X509_get0_pubkey(cert), fp) != 0) {
		log_throttled(&lt_refused, "linked node %s: certificate not added to the directory: %s", node, why);
		X509_free(cert);
		return;
	}
	log_throttled(&lt_debug, "linked node %s joins the directory, key %s", cn, fp);
	directory_add(cn, fp, cert);	/* takes cert */
}

void
serve_handle(struct mx_msg *req)
{
	if (req->msgid == KS_PEER_LINKED) {
		do_peer_linked(req);	/* the kernel range: only portd can send it */
		mx_msg_free(req);
		return;
	}
	/* Every request is answered on a send-once right; anything else is dropped. */
	if (req->reply == MX_NAME_NULL || req->reply_disp != MX_RIGHT_SEND_ONCE) {
		log_throttled(&lt_debug, "pid %u: message %#x without a reply right dropped", req->trailer.pid, req->msgid);
		if (req->reply != MX_NAME_NULL)
			masix_right_dealloc(conn, req->reply);
		/* no request carries rights: any a client put in one go back */
		masix_msg_release_rights(conn, req, MX_NAME_NULL);
		mx_msg_free(req);
		return;
	}
	switch (req->msgid) {
	case KS_NODE_CERT:
		do_node_cert(req);
		break;
	case KS_VERIFY_PEER:
		do_verify_peer(req);
		break;
	case KS_DIRECTORY:
		do_directory(req);
		break;
	case KS_MAY_REGISTER:
		do_may_register(req);
		break;
	case KS_LIST_RULES:
		do_list_rules(req);
		break;
	case KS_CA_CERT:
		do_pem(req, id.ca_pem, id.ca_pem_len, MX_ERR_UNAVAIL, id.ca_why);
		break;
	case KS_CRL:
		if (id.crl_bad)
			do_pem(req, NULL, 0, MX_ERR_UNAVAIL, id.crl_why);
		else
			do_pem(req, id.crl_pem, id.crl_pem_len, MX_ERR_NOENT, "no revocation list");
		break;
	default:
		fail(req, MX_ERR_NOTSUP, "unknown request");
		break;
	}
	masix_msg_release_rights(conn, req, MX_NAME_NULL);
	mx_msg_free(req);
}
