/* registry.c — names, their ports, and lookups waiting for a name. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <stdio.h>
#include "ev.h"
#include "keys.h"
#include "log.h"
#include "names.h"
#include "namesrv.h"

/* Our send right to a registered port, and the names bound to it. */
struct portref {
	struct hnode by_right;
	mx_name_t right;
	LIST_HEAD(, binding) names;
};

struct binding {
	struct hnode by_name;
	LIST_ENTRY(binding) on_port;
	TAILQ_ENTRY(binding) all;
	struct portref *port;		/* each binding holds one reference of port->right */
	uint32_t uid, pid;		/* who registered it (charged for it) */
	int remote;			/* a cached answer from another node */
	int service;			/* a protected name: portd stamps its holder's messages */
	char *node;			/* ... that node */
	char name[];
};

static struct htab names, ports;
static TAILQ_HEAD(, binding) bindings = TAILQ_HEAD_INITIALIZER(bindings);
static struct mx_conn *conn;
static mx_name_t notify_port;
static uint32_t resolve_ms;
static int announce_names;	/* tell other nodes of each registration */
/* Bindings portd handed back: bound again, settled (bound or not), how many (-1 until NS_RESTORE_END). */
static unsigned restored, restore_settled;
static int64_t restore_total = -1;

/* Once every binding handed back is settled (each may wait for keysrv): one line says how it went. */
static void
restore_report(void)
{
	if (restore_total < 0 || restore_settled < restore_total)
		return;
	if (restore_total > 0)
		log_info("names kept by portd: %lld, bound again: %u", (long long)restore_total, restored);
	restore_total = -1;
}

/* Lines a client or another node can trigger: a burst, then a count. */
static struct log_throttle lt_bad = LOG_THROTTLE_INIT("malformed requests", LOG_WARNING);
static struct log_throttle lt_refused = LOG_THROTTLE_INIT("refused registrations", LOG_INFO);
static struct log_throttle lt_reply = LOG_THROTTLE_INIT("failed replies", LOG_WARNING);
static struct log_throttle lt_net = LOG_THROTTLE_INIT("name resolution errors", LOG_WARNING);
static struct log_throttle lt_debug = { .what = "debug lines", .pri = LOG_DEBUG, .burst = 100 };

static const char *const req_name[] = {
	[NS_REGISTER] = "register", [NS_LOOKUP] = "lookup", [NS_UNREGISTER] = "unregister",
};

static void register_resume(const char *name, mx_name_t right, uint32_t uid, uint32_t pid, struct mx_msg *req,
    int refused);

void
registry_init(struct mx_conn *c, mx_name_t notify, mx_name_t authz_port, uint32_t resolve, int announce)
{
	conn = c;
	notify_port = notify;
	resolve_ms = resolve;
	announce_names = announce;
	hash_seed();
	authz_init(c, authz_port, register_resume);
}

static struct binding *
find(const char *name)
{
	struct hnode *n;

	for (n = htab_first(&names, hash_str(name)); n != NULL; n = htab_next(n)) {
		struct binding *b = hnode_entry(n, struct binding, by_name);
		if (strcmp(b->name, name) == 0)
			return b;
	}
	return NULL;
}

static struct portref *
find_port(mx_name_t right)
{
	struct hnode *n;

	for (n = htab_first(&ports, hash_u32(right)); n != NULL; n = htab_next(n)) {
		struct portref *p = hnode_entry(n, struct portref, by_right);
		if (p->right == right)
			return p;
	}
	return NULL;
}

/*
 * Bind name to right (whose reference the binding takes). The first name of
 * a port asks portd for its dead-name notice; later ones share it.
 */
static int
bind(const char *name, mx_name_t right, struct binding **out)
{
	size_t len = strlen(name);
	struct portref *p;
	struct binding *b;
	int r;

	if ((p = find_port(right)) == NULL) {
		if ((r = masix_request_dead_notify(conn, right, notify_port)) < 0)
			return r;
		if ((p = calloc(1, sizeof(*p))) == NULL)
			fatalx("out of memory");
		p->right = right;
		LIST_INIT(&p->names);
		htab_add(&ports, &p->by_right, hash_u32(right));
	}
	if ((b = calloc(1, sizeof(*b) + len + 1)) == NULL)
		fatalx("out of memory");
	memcpy(b->name, name, len + 1);
	b->port = p;
	LIST_INSERT_HEAD(&p->names, b, on_port);
	htab_add(&names, &b->by_name, hash_bytes(name, len));
	TAILQ_INSERT_TAIL(&bindings, b, all);
	*out = b;
	return 0;
}

static void
unbind(struct binding *b)
{
	struct portref *p = b->port;

	htab_del(&names, &b->by_name);
	LIST_REMOVE(b, on_port);
	TAILQ_REMOVE(&bindings, b, all);
	if (b->service)
		(void)ns_service_set(conn, p->right, "");	/* no longer holds it (a dead port: nothing to do) */
	/* Without waiting: a port that dies takes all its names at once, maybe 100,000 of them. */
	masix_right_dealloc_nowait(conn, p->right);
	if (LIST_EMPTY(&p->names)) {
		htab_del(&ports, &p->by_right);
		free(p);
	}
	if (!b->remote)
		budget_give(b->uid, BUDGET_NAMES);
	else if (b->node != NULL)
		budget_node_give(b->node);
	free(b->node);
	free(b);
}

/*
 * Answer with a status, and the port's send right when there is one, or
 * the reason of an error when there is one.
 */
static void
answer(struct mx_msg *req, int status, mx_name_t right, const char *why)
{
	struct mx_msg *m;
	int r;

	if (req == NULL || req->reply == MX_NAME_NULL)
		return;
	if ((m = mx_msg_new(MX_MSGID_REPLY)) == NULL)
		fatalx("out of memory");
	mx_msg_add_int(m, status < 0 ? -status : status);
	if (right != MX_NAME_NULL)
		mx_msg_add_port(m, right, MX_DISP_COPY_SEND);
	else if (why != NULL)
		mx_msg_add_string(m, why);
	/*
	 * Pipelined: the reply goes out with the receive that follows (the
	 * library writes queued frames before any other), and its status comes
	 * back later. It never waits: a client whose reply port is full loses
	 * its answer rather than stall the name service for everyone.
	 */
	m->dest = req->reply;
	m->reply = MX_NAME_NULL;
	if ((r = masix_send_nowait(conn, m, 0)) < 0)
		log_throttled(&lt_reply, "reply to pid %u: %s", req->trailer.pid, mx_strerror(r));
	mx_msg_free(m);
}

static void
malformed(struct mx_msg *req)
{
	log_throttled(&lt_bad, "pid %u uid %u: malformed %s request", req->trailer.pid, req->trailer.uid,
	    req_name[req->msgid]);
	answer(req, MX_ERR_PROTO, 0, NULL);
}

/* A lookup leaves the tables: its uid gets the room back. */
static void
waiter_done(struct waiter *w, int status, mx_name_t right)
{
	answer(w->req, status, right, NULL);
	budget_give(w->uid, BUDGET_LOOKUPS);
	mx_msg_free(w->req);
	free(w);
}

/*
 * name came, a port of node from (ours: registered here). The waiters that
 * may have it get it. The others wait on until their time is up and then
 * get "no such name", as for a name that never came: those of a private
 * name they may not see (doc/trust.md, private names), and NAME@NODE
 * lookups of another node.
 */
static void
answer_waiters(const char *name, mx_name_t right, const char *from)
{
	struct waiter *w, **others = NULL;
	int private = authz_private(name);
	size_t n = 0, cap = 0, i;

	while ((w = waiter_take(name)) != NULL) {
		if ((w->node[0] == '\0' || strcmp(w->node, from) == 0) &&
		    (!private || authz_visible(name, w->req->trailer.service))) {
			waiter_done(w, 0, right);
			continue;
		}
		if (n == cap && (others = reallocarray(others, cap = cap ? 2 * cap : 16, sizeof(*others))) == NULL)
			fatalx("out of memory");
		others[n++] = w;
	}
	for (i = 0; i < n; i++)
		waiter_put_back(others[i]);
	free(others);
}

/*
 * The one way a name is bound to a port of this node: a client's
 * NS_REGISTER (req), or a binding portd kept while we were away
 * (NS_RESTORE: req NULL, nobody to answer). Every check is here, for both:
 * the name, who holds it, who may take it (authz.c: the signed list, asked
 * of keysrv without blocking), the budget; then portd keeps it, dead-name
 * notice and announcement. 1 when the binding took right's reference, 0
 * when name was already bound to that port, 2 when the registration now
 * waits for keysrv (authz.c owns req and right, and comes back through
 * register_resume), else a negative MX_ERR_* (answered, with its reason).
 */
static int
register_name(const char *name, mx_name_t right, uint32_t uid, uint32_t pid, struct mx_msg *req)
{
	char why[128];
	struct binding *b;
	int r, service, passed;

	/* Coming back from the check: its budget is charged already. */
	passed = authz_passed(name, right, &service);
	if (!mx_name_valid(name)) {
		r = -MX_ERR_INVAL;
		answer(req, MX_ERR_INVAL, 0, NULL);
		goto refused;
	}
	if ((b = find(name)) != NULL && b->remote) {
		log_throttled(&lt_debug, "'%s': local registration replaces the answer cached from %s",
		    name, b->node);
		unbind(b);
		b = NULL;
	}
	if (b != NULL) {
		/* Our send rights to one port share one name: same name, same port. */
		answer(req, b->port->right == right ? 0 : MX_ERR_EXISTS, 0, NULL);
		r = b->port->right == right ? 0 : -MX_ERR_EXISTS;
		if (r < 0)
			log_throttled(&lt_refused, "'%s': refused for pid %u: held by pid %u", name, pid, b->pid);
		goto refused;
	}
	if (!passed) {
		/* Charged while it waits for keysrv, like the name it asks for. */
		if ((r = budget_take(uid, pid, BUDGET_NAMES, why, sizeof(why))) < 0) {
			answer(req, r, 0, why);
			return r;
		}
		if ((r = authz_check(name, right, uid, pid, req)) == 0)
			return 2;
		budget_give(uid, BUDGET_NAMES);
		return r;
	}
	/*
	 * portd keeps it for our next life (a restored binding is kept
	 * already), before anyone can learn the name: portd takes our
	 * requests in order, so without waiting (one round trip per
	 * registration would undo the pipeline); then it is ours.
	 */
	if (req != NULL && (r = ns_name_keep_nowait(conn, name, right, uid, pid)) < 0) {
		answer(req, r, 0, NULL);
		goto refused;
	}
	if ((r = bind(name, right, &b)) < 0) {
		if (req != NULL)
			ns_name_keep(conn, name, MX_NAME_NULL, 0, 0);	/* the caller of a restore does it */
		answer(req, r, 0, NULL);
		goto refused;
	}
	b->uid = uid;
	b->pid = pid;
	/* A protected name: portd stamps the holder's messages with it while its binary stays. */
	if (service && (r = ns_service_set(conn, right, name)) == 0)
		b->service = 1;
	else if (service)
		log_throttled(&lt_refused, "'%s': no service stamp for pid %u: %s", name, pid, mx_strerror(r));
	log_throttled(&lt_debug, "'%s' %s by pid %u uid %u", name, req != NULL ? "registered" : "restored",
	    b->pid, b->uid);
	answer(req, 0, 0, NULL);
	answer_waiters(name, right, masix_node(conn));
	/* As an answer nobody asked for yet: every node caches it, waiting lookups end. */
	if (announce_names && !authz_private(name) && (r = ns_net_answer_nowait(conn, name, right, NULL)) < 0)
		log_throttled(&lt_net, "'%s': announcing: %s", name, mx_strerror(r));
	return 1;
refused:
	if (passed)
		budget_give(uid, BUDGET_NAMES);
	return r;
}

/*
 * A restored binding's outcome: kept by the binding (1), or ours no more,
 * and portd lets go of it too (r < 0); right is given back unless bound.
 */
static void
registry_restored(const char *name, mx_name_t right, uint32_t uid, uint32_t pid, int r)
{
	restore_settled++;
	if (r == 1) {
		restored++;
		restore_report();
		return;	/* the binding holds the right */
	}
	if (r < 0) {
		log_info("'%s' of pid %u uid %u not restored: %s", name, pid, uid, mx_strerror(r));
		if ((r = ns_name_keep(conn, name, MX_NAME_NULL, 0, 0)) < 0 && r != -MX_ERR_NOENT)
			log_warnx("'%s': portd keeps it: %s", name, mx_strerror(r));
	}
	masix_right_dealloc(conn, right);
	restore_report();
}

/* A registration keysrv has answered for comes back through the same path; req is ours again. */
static void
register_resume(const char *name, mx_name_t right, uint32_t uid, uint32_t pid, struct mx_msg *req, int refused)
{
	int r;

	if (refused < 0) {
		registry_restored(name, right, uid, pid, refused);	/* a kept binding, refused now */
		return;
	}
	if ((r = register_name(name, right, uid, pid, req)) == 2)
		fatalx("'%s': registration checked twice", name);
	if (req == NULL) {
		registry_restored(name, right, uid, pid, r);
		return;
	}
	masix_msg_release_rights(conn, req, r == 1 ? right : MX_NAME_NULL);
	mx_msg_free(req);
}

/*
 * A private name the asker may not see: the signed list decides first, so
 * that "already registered" is told only to whom the list lets take it
 * (anyone else is refused as for a free name). 2 when req now waits for
 * keysrv (register_resume goes on), 0 when this does not apply, < 0
 * refused and answered.
 */
static int
private_register_first(const char *name, mx_name_t right, struct mx_msg *req)
{
	char why[128];
	int r;

	if (!mx_name_valid(name) || !authz_private(name) || authz_visible(name, req->trailer.service))
		return 0;
	if ((r = budget_take(req->trailer.uid, req->trailer.pid, BUDGET_NAMES, why, sizeof(why))) < 0) {
		answer(req, r, 0, why);
		return r;
	}
	if ((r = authz_check(name, right, req->trailer.uid, req->trailer.pid, req)) == 0)
		return 2;
	budget_give(req->trailer.uid, BUDGET_NAMES);
	return r;
}

/* 1 when req is kept (waiting for keysrv), else 0 with *kept the right the binding holds. */
static int
do_register(struct mx_msg *req, mx_name_t *kept)
{
	char name[MX_NAME_LEN_MAX + 1];
	mx_name_t right;
	uint8_t kind;
	int r;

	*kept = MX_NAME_NULL;
	if (mx_msg_get_string(req, name, sizeof(name)) < 0 || mx_msg_get_port(req, &right, &kind) < 0 ||
	    mx_msg_end(req) < 0 || kind != MX_RIGHT_SEND) {
		malformed(req);
		return 0;
	}
	if ((r = private_register_first(name, right, req)) == 2)
		return 1;
	if (r == 0 && (r = register_name(name, right, req->trailer.uid, req->trailer.pid, req)) == 2)
		return 1;
	if (r == 1)
		*kept = right;
	return 0;
}

/*
 * From portd, when we took the NAME port: a binding it kept while no
 * namesrv ran (NS_RESTORE), bound again like a registration (checked
 * against the signed list again); or the end of them (NS_RESTORE_END).
 */
void
registry_restore(struct mx_msg *m)
{
	char name[MX_NAME_LEN_MAX + 1];
	mx_name_t right = MX_NAME_NULL;
	int64_t uid, pid, n;
	uint8_t kind;
	int r;

	if (m->msgid == NS_RESTORE_END) {
		if (mx_msg_get_int(m, &n) < 0 || mx_msg_end(m) < 0)
			fatalx("malformed end of restored names from portd");
		restore_total = n;
		restore_report();
		return;
	}
	if (mx_msg_get_string(m, name, sizeof(name)) < 0 || mx_msg_get_int(m, &uid) < 0 ||
	    mx_msg_get_int(m, &pid) < 0 || mx_msg_get_port(m, &right, &kind) < 0 || mx_msg_end(m) < 0 ||
	    kind != MX_RIGHT_SEND || uid < 0 || uid > UINT32_MAX || pid < 0 || pid > UINT32_MAX)
		fatalx("malformed restored name from portd");	/* between our own daemons: a bug */
	if ((r = register_name(name, right, (uint32_t)uid, (uint32_t)pid, NULL)) == 2)
		return;	/* waits for keysrv: register_resume ends it */
	registry_restored(name, right, (uint32_t)uid, (uint32_t)pid, r);
}

static void
do_unregister(struct mx_msg *req)
{
	char name[MX_NAME_LEN_MAX + 1];
	struct binding *b;
	int r;

	if (mx_msg_get_string(req, name, sizeof(name)) < 0 || mx_msg_end(req) < 0) {
		malformed(req);
		return;
	}
	if ((b = find(name)) == NULL || b->remote) {
		answer(req, MX_ERR_NOENT, 0, NULL);
		return;
	}
	if (req->trailer.uid != 0 && req->trailer.uid != b->uid) {
		/* "Not yours" would say that a private name exists. */
		answer(req, authz_visible(name, req->trailer.service) ? MX_ERR_PERM : MX_ERR_NOENT, 0, NULL);
		return;
	}
	log_throttled(&lt_debug, "'%s' unregistered by pid %u", name, req->trailer.pid);
	unbind(b);
	if ((r = ns_name_keep(conn, name, MX_NAME_NULL, 0, 0)) < 0 && r != -MX_ERR_NOENT)
		log_warnx("'%s': portd keeps it: %s", name, mx_strerror(r));
	answer(req, 0, 0, NULL);
}

/*
 * An answer from node, allowed by the list (authz_remote.c): cached, unless
 * the name is bound here or cached from another node already (never
 * shadowed); the lookups waiting for it get it either way, a NAME@NODE
 * lookup of that node included. 1 when the cache took right.
 */
int
registry_cache(const char *name, const char *node, mx_name_t right)
{
	struct binding *b;

	if (find(name) != NULL || bind(name, right, &b) < 0) {
		answer_waiters(name, right, node);
		return 0;
	}
	b->remote = 1;
	if ((b->node = strdup(node)) == NULL)
		fatalx("out of memory");
	log_throttled(&lt_debug, "'%s' is on node %s: cached", name, node);
	answer_waiters(name, right, node);
	return 1;
}

/*
 * Another node asks for name, registered here. A private name is answered
 * only when the asker's service, which its node vouched for and our portd
 * checked against our list, may see it, and to that node alone; so is a
 * NAME@NODE question (direct). Other answers go to every node, which all
 * cache them.
 */
static void
net_answer(const char *name, mx_name_t right, const char *node, const char *service, int direct)
{
	const char *to = direct ? node : NULL;
	int r;

	if (authz_private(name)) {
		if (service[0] == '\0' || !authz_visible(name, service)) {
			log_throttled(&lt_debug, "'%s': private: not answered to node %s (service '%s')", name, node,
			    service);
			return;
		}
		to = node;
	}
	if ((r = ns_net_answer(conn, name, right, to)) < 0)
		log_throttled(&lt_net, "'%s': answering %s: %s", name, node, mx_strerror(r));
}

/* From portd: another node asks who has name, or its owner answers (checked: authz_remote.c). */
void
registry_net(struct mx_msg *m)
{
	char name[MX_NAME_LEN_MAX + 1], node[MX_NODE_MAX + 1], service[MX_SERVICE_MAX + 1];
	mx_name_t right = MX_NAME_NULL;
	struct remote_ident id;
	struct binding *b;
	int64_t direct;
	uint8_t kind;

	if (mx_msg_get_string(m, name, sizeof(name)) < 0 || mx_msg_get_string(m, node, sizeof(node)) < 0) {
		log_throttled(&lt_net, "malformed message %#x from portd", m->msgid);
		goto out;
	}
	b = find(name);
	if (m->msgid == NS_NET_QUERY) {
		if (mx_msg_get_string(m, service, sizeof(service)) < 0 || mx_msg_get_int(m, &direct) < 0) {
			log_throttled(&lt_net, "malformed query from portd");
			goto out;
		}
		if (b != NULL && !b->remote)
			net_answer(name, b->port->right, node, service, direct != 0);
		goto out;
	}
	if (mx_msg_get_port(m, &right, &kind) < 0 || kind != MX_RIGHT_SEND || b != NULL ||
	    !mx_name_valid(name)) {
		right = MX_NAME_NULL;	/* ours, already cached, or unusable: given back */
		goto out;
	}
	if (authz_remote_ident(m, &id) < 0) {
		log_throttled(&lt_net, "malformed answer for '%s' from portd", name);
		right = MX_NAME_NULL;
		goto out;
	}
	/* Cached once the list allows who registered it there; until then authz_remote holds it. */
	if (!authz_remote_check(name, node, right, &id))
		right = MX_NAME_NULL;
out:
	masix_msg_release_rights(conn, m, right);
}

/*
 * Keep the request (and its reply right) until the name comes, time is up,
 * or the asker's reply port dies: the dead-name notice of the reply right
 * ends the wait at once (registry_dead), and gives the budget back. node:
 * only an answer of that node will do ("" any). 1 when req is kept.
 */
static int
wait_for_name(struct mx_msg *req, const char *name, const char *node, uint64_t wait_ms)
{
	char why[128];
	int r;

	if ((r = budget_take(req->trailer.uid, req->trailer.pid, BUDGET_LOOKUPS, why, sizeof(why))) < 0) {
		answer(req, r, 0, why);
		return 0;
	}
	if ((r = masix_request_dead_notify(conn, req->reply, notify_port)) < 0) {
		budget_give(req->trailer.uid, BUDGET_LOOKUPS);
		answer(req, r, 0, NULL);
		return 0;
	}
	waiter_add(name, node, req, ev_now() + wait_ms);
	return 1;
}

/*
 * NAME@NODE: asked of that node alone, over its link, with the asker's
 * service (its node vouches for it) so that a private name it may see is
 * answered. The answer comes as any other node's: with who registered the
 * name there, checked against our list before the asker gets it
 * (authz_remote.c). 1 when req is kept.
 */
static int
lookup_at(struct mx_msg *req, const char *name, const char *node, int64_t wait_ms)
{
	const char *service = req->trailer.service;
	struct binding *b;
	uint32_t nodes;
	int r;

	if (!mx_name_valid(name)) {
		answer(req, MX_ERR_INVAL, 0, NULL);
		return 0;
	}
	if ((b = find(name)) != NULL && b->remote && strcmp(b->node, node) == 0 && authz_visible(name, service)) {
		answer(req, 0, b->port->right, NULL);
		return 0;
	}
	if ((r = ns_net_query(conn, name, node, service, &nodes)) < 0) {
		log_throttled(&lt_debug, "'%s@%s': %s", name, node, mx_strerror(r));
		answer(req, r, 0, NULL);
		return 0;
	}
	return wait_for_name(req, name, node, (uint64_t)wait_ms < resolve_ms ? resolve_ms : (uint64_t)wait_ms);
}

/* 1 when req is kept by a waiting lookup. */
static int
do_lookup(struct mx_msg *req)
{
	char name[MX_NAME_LEN_MAX + 1 + 1 + MX_NODE_MAX];
	struct binding *b;
	int64_t wait_ms;
	uint32_t nodes;
	char *at;

	if (mx_msg_get_string(req, name, sizeof(name)) < 0 || mx_msg_get_int(req, &wait_ms) < 0 ||
	    mx_msg_end(req) < 0 || wait_ms < 0) {
		malformed(req);
		return 0;
	}
	if ((at = strchr(name, '@')) != NULL) {
		*at++ = '\0';
		if (strcmp(at, masix_node(conn)) != 0)
			return lookup_at(req, name, at, wait_ms);
	}
	if (!mx_name_valid(name)) {
		answer(req, MX_ERR_INVAL, 0, NULL);
		return 0;
	}
	/* A private name the asker may not see is not here, whatever follows (doc/trust.md). */
	if ((b = find(name)) != NULL && authz_visible(name, req->trailer.service)) {
		answer(req, 0, b->port->right, NULL);
		return 0;
	}
	/* Not here: ask the other nodes (paper steps 3-9); the owner answers us all. */
	if (at == NULL && ns_net_query(conn, name, NULL, req->trailer.service, &nodes) == 0 && nodes > 0) {
		if ((uint64_t)wait_ms < resolve_ms)
			wait_ms = resolve_ms;
	}
	if (wait_ms == 0) {
		answer(req, MX_ERR_NOENT, 0, NULL);
		return 0;
	}
	return wait_for_name(req, name, "", (uint64_t)wait_ms);
}

/* Takes ownership of req. */
void
registry_handle(struct mx_msg *req)
{
	mx_name_t kept = MX_NAME_NULL;

	if (req->reply == MX_NAME_NULL || req->reply_disp != MX_RIGHT_SEND_ONCE) {
		log_throttled(&lt_debug, "message %u from pid %u without a reply right: dropped", req->msgid,
		    req->trailer.pid);
		if (req->reply != MX_NAME_NULL)
			masix_right_dealloc(conn, req->reply);
		masix_msg_release_rights(conn, req, MX_NAME_NULL);
		mx_msg_free(req);
		return;
	}
	switch (req->msgid) {
	case NS_REGISTER:
		if (do_register(req, &kept))
			return;	/* waits for keysrv's verdict (authz.c) */
		break;
	case NS_UNREGISTER:
		do_unregister(req);
		break;
	case NS_LOOKUP:
		if (do_lookup(req))
			return;	/* a well-formed lookup carries no rights */
		break;
	default:
		answer(req, MX_ERR_NOTSUP, 0, NULL);
		break;
	}
	masix_msg_release_rights(conn, req, kept);
	mx_msg_free(req);
}

/*
 * A right we asked about died: a waiting lookup's reply right (its asker is
 * gone, nobody to answer: the wait ends now), or a registered port (its
 * names go with it).
 */
void
registry_dead(mx_name_t right)
{
	struct portref *p;
	struct binding *b;
	struct waiter *w;
	int last;

	if ((w = waiter_take_reply(right)) != NULL) {
		log_throttled(&lt_debug, "lookup of '%s' by uid %u dropped: its asker is gone", w->name, w->uid);
		masix_right_dealloc(conn, right);
		budget_give(w->uid, BUDGET_LOOKUPS);
		mx_msg_free(w->req);
		free(w);
		return;
	}
	if ((p = find_port(right)) == NULL)
		return;
	/* unbind() frees p with the last name. */
	do {
		b = LIST_FIRST(&p->names);
		last = LIST_NEXT(b, on_port) == NULL;
		log_throttled(&lt_debug, "'%s' dropped: its port died", b->name);
		unbind(b);
	} while (!last);
}

uint32_t
registry_next_timeout(void)
{
	uint64_t now = ev_now(), first = waiter_next_deadline(), checks = authz_next_deadline();
	uint64_t answers = authz_remote_next_deadline();
	unsigned logs = log_throttle_tick();

	if (checks < first)
		first = checks;
	if (answers < first)
		first = answers;
	if (first != UINT64_MAX)
		first = first <= now ? 0 : first - now;
	if (logs != UINT_MAX && logs < first)
		first = logs;
	return first >= MX_FOREVER ? MX_FOREVER : (uint32_t)first;
}

void
registry_expire(void)
{
	struct waiter *w;
	uint64_t now = ev_now();
	int r, n = 0;

	while ((w = waiter_take_expired(now)) != NULL) {
		waiter_done(w, MX_ERR_NOENT, 0);
		n++;
	}
	if (authz_next_deadline() <= now) {
		authz_expire(now);
		n++;
	}
	if (authz_remote_next_deadline() <= now) {
		authz_remote_expire(now);
		n++;
	}
	/* No message came (a timeout): nothing else writes the replies out. */
	if (n > 0 && (r = masix_flush(conn)) < 0 && r != -MX_ERR_DEAD)
		log_throttled(&lt_reply, "replies: %s", mx_strerror(r));
}

/* At exit: let go of everything, so leak checkers see a clean end. */
void
registry_free(void)
{
	struct binding *b;
	struct waiter *w;

	authz_free();
	authz_remote_free();
	while ((b = TAILQ_FIRST(&bindings)) != NULL)
		unbind(b);
	while ((w = waiter_take_expired(UINT64_MAX)) != NULL) {
		budget_give(w->uid, BUDGET_LOOKUPS);
		mx_msg_free(w->req);
		free(w);
	}
	waiters_free();
	htab_free(&names);
	htab_free(&ports);
}

/*
 * keysrv's list changed (listwatch.c learned its rules): answers cached
 * from other nodes for names it now protects were checked against the old
 * list, so they go (the next lookup asks again, and authz_remote.c checks
 * the answer against the new list); a local name it protects is checked
 * again (recheck.c); a local name it no longer protects is no service.
 */
void
registry_list_changed(void)
{
	struct binding *b, *next;
	size_t dropped = 0;

	for (b = TAILQ_FIRST(&bindings); b != NULL; b = next) {
		next = TAILQ_NEXT(b, all);
		if (b->remote) {
			if (authz_protected(b->name)) {
				unbind(b);
				dropped++;
			}
		} else if (authz_protected(b->name)) {
			recheck_add(b->name, b->port->right, b->uid, b->pid);
		} else if (b->service) {
			(void)ns_service_set(conn, b->port->right, "");
			b->service = 0;
		}
	}
	if (dropped > 0)
		log_info("list changed: %zu answer%s cached from other nodes for protected names dropped", dropped,
		    dropped == 1 ? "" : "s");
}

/*
 * recheck.c's verdict on a local name bound to right: refused, it is
 * unbound (portd forgets it too); allowed, its holder is the service;
 * open, it is not. 1 when it was dropped.
 */
int
registry_recheck_verdict(const char *name, mx_name_t right, int kind)
{
	struct binding *b = find(name);
	int r;

	if (b == NULL || b->remote || b->port->right != right)
		return 0;	/* gone or replaced meanwhile */
	if (kind == KS_VERDICT_DENY) {
		if ((r = ns_name_keep(conn, name, MX_NAME_NULL, 0, 0)) < 0 && r != -MX_ERR_NOENT)
			log_warnx("'%s': portd keeps it: %s", name, mx_strerror(r));
		unbind(b);
		return 1;
	}
	if (kind == KS_VERDICT_ALLOW && !b->service && ns_service_set(conn, right, name) == 0)
		b->service = 1;
	else if (kind == KS_VERDICT_OPEN && b->service) {
		(void)ns_service_set(conn, right, "");
		b->service = 0;
	}
	return 0;
}
