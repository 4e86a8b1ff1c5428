/* registry.c — names, their ports, and lookups waiting for a name. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <stdio.h>
#include "log.h"
#include "names.h"
#include "namesrv.h"

static LIST_HEAD(, binding) bindings = LIST_HEAD_INITIALIZER(bindings);
static LIST_HEAD(, waiter) waiters = LIST_HEAD_INITIALIZER(waiters);
static LIST_HEAD(, peerns) peers = LIST_HEAD_INITIALIZER(peers);
static struct mx_conn *conn;
static mx_name_t notify_port;
static uint32_t resolve_ms;
static int announce_names;	/* tell other nodes of each registration */

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void
registry_init(struct mx_conn *c, mx_name_t notify, uint32_t resolve, int announce)
{
	conn = c;
	notify_port = notify;
	resolve_ms = resolve;
	announce_names = announce;
}

static struct binding *
find(const char *name)
{
	struct binding *b;

	LIST_FOREACH(b, &bindings, link)
		if (strcmp(b->name, name) == 0)
			return b;
	return NULL;
}

/* Answer with a status, and the port's send right when there is one. */
static void
answer(struct mx_msg *req, int status, mx_name_t right)
{
	struct mx_msg *m;
	int r;

	if (req->reply == MX_NAME_NULL)
		return;
	if ((m = mx_msg_new(MX_MSGID_REPLY)) == NULL)
		fatalx("out of memory");
	mx_msg_add_int(m, status < 0 ? -status : status);
	if (right != MX_NAME_NULL)
		mx_msg_add_port(m, right, MX_DISP_COPY_SEND);
	r = masix_reply(conn, req, m);
	if (r < 0 && r != -MX_ERR_DEAD)
		log_warnx("reply to pid %u: %s", req->trailer.pid, mx_strerror(r));
	mx_msg_free(m);
}

static void
unbind(struct binding *b)
{
	LIST_REMOVE(b, link);
	masix_right_dealloc(conn, b->right);
	free(b);
}

static void
answer_waiters(const char *name, mx_name_t right)
{
	struct waiter *w, *wn;

	for (w = LIST_FIRST(&waiters); w != NULL; w = wn) {
		wn = LIST_NEXT(w, link);
		if (strcmp(w->name, name) != 0)
			continue;
		LIST_REMOVE(w, link);
		answer(w->req, 0, right);
		mx_msg_free(w->req);
		free(w);
	}
}

static void
do_register(struct mx_msg *req)
{
	char name[MX_NAME_LEN_MAX + 1];
	struct binding *b;
	mx_name_t right;
	uint8_t kind;
	int r;

	if (mx_msg_get_string(req, name, sizeof(name)) < 0 || mx_msg_get_port(req, &right, &kind) < 0 ||
	    mx_msg_end(req) < 0 || kind != MX_RIGHT_SEND) {
		answer(req, MX_ERR_PROTO, 0);
		return;
	}
	if (!mx_name_valid(name)) {
		masix_right_dealloc(conn, right);
		answer(req, MX_ERR_INVAL, 0);
		return;
	}
	if ((b = find(name)) != NULL && b->remote) {
		log_debug("'%s': local registration replaces the answer cached from %s", name, b->node);
		unbind(b);
		b = NULL;
	}
	if (b != NULL) {
		/* Our send rights to one port share one name: same name, same port. */
		masix_right_dealloc(conn, right);
		answer(req, b->right == right ? 0 : MX_ERR_EXISTS, 0);
		if (b->right != right)
			log_info("'%s': refused for pid %u: held by pid %u", name, req->trailer.pid, b->pid);
		return;
	}
	if ((r = masix_request_dead_notify(conn, right, notify_port)) < 0) {
		masix_right_dealloc(conn, right);
		answer(req, r, 0);
		return;
	}
	if ((b = calloc(1, sizeof(*b))) == NULL)
		fatalx("out of memory");
	strcpy(b->name, name);
	b->right = right;
	b->uid = req->trailer.uid;
	b->pid = req->trailer.pid;
	LIST_INSERT_HEAD(&bindings, b, link);
	log_debug("'%s' registered by pid %u uid %u", name, b->pid, b->uid);
	answer(req, 0, 0);
	answer_waiters(name, b->right);
	/* As an answer nobody asked for yet: every node caches it, waiting lookups end. */
	if (announce_names && (r = ns_net_answer(conn, name, b->right)) < 0)
		log_warnx("'%s': announcing: %s", name, mx_strerror(r));
}


static void
do_unregister(struct mx_msg *req)
{
	char name[MX_NAME_LEN_MAX + 1];
	struct binding *b;

	if (mx_msg_get_string(req, name, sizeof(name)) < 0 || mx_msg_end(req) < 0) {
		answer(req, MX_ERR_PROTO, 0);
		return;
	}
	if ((b = find(name)) == NULL || b->remote) {
		answer(req, MX_ERR_NOENT, 0);
		return;
	}
	if (req->trailer.uid != 0 && req->trailer.uid != b->uid) {
		answer(req, MX_ERR_PERM, 0);
		return;
	}
	log_debug("'%s' unregistered by pid %u", name, req->trailer.pid);
	unbind(b);
	answer(req, 0, 0);
}

/* Our send right to NODE's NAME port, fetched once. */
static int
peer_name_port(const char *node, mx_name_t *out)
{
	struct peerns *p;
	int r;

	LIST_FOREACH(p, &peers, link)
		if (strcmp(p->node, node) == 0) {
			*out = p->right;
			return 0;
		}
	if ((p = calloc(1, sizeof(*p))) == NULL)
		fatalx("out of memory");
	if ((r = masix_special_get_node(conn, MX_SPECIAL_NAME, node, &p->right)) < 0) {
		free(p);
		return r;
	}
	snprintf(p->node, sizeof(p->node), "%s", node);
	LIST_INSERT_HEAD(&peers, p, link);
	*out = p->right;
	return 0;
}

static void
peer_forget(const char *node)
{
	struct peerns *p;

	LIST_FOREACH(p, &peers, link)
		if (strcmp(p->node, node) == 0) {
			LIST_REMOVE(p, link);
			masix_right_dealloc(conn, p->right);
			free(p);
			return;
		}
}

/*
 * NAME@NODE: hand the question to NODE's namesrv with the asker's own reply
 * right, so the answer (and the right in it) goes straight back to the asker.
 */
static int
forward_lookup(struct mx_msg *req, const char *name, const char *node, int64_t wait_ms)
{
	struct mx_msg *fwd;
	int r, tries;

	if (!mx_name_valid(name)) {
		answer(req, MX_ERR_INVAL, 0);
		return 0;
	}
	for (tries = 0; tries < 2; tries++) {
		if ((fwd = mx_msg_new(NS_LOOKUP)) == NULL)
			fatalx("out of memory");
		mx_msg_add_string(fwd, name);
		mx_msg_add_int(fwd, wait_ms);
		if ((r = peer_name_port(node, &fwd->dest)) == 0) {
			fwd->reply = req->reply;
			fwd->reply_disp = MX_DISP_MOVE_SEND_ONCE;
			r = masix_send(conn, fwd, MX_FOREVER);
		}
		mx_msg_free(fwd);
		if (r == 0) {
			req->reply = MX_NAME_NULL;	/* moved to the other node */
			return 0;
		}
		if (r != -MX_ERR_DEAD)
			break;
		peer_forget(node);	/* its namesrv restarted: fetch the port again */
	}
	log_debug("'%s@%s': %s", name, node, mx_strerror(r));
	answer(req, r, 0);
	return 0;
}

/* From portd: another node asks who has name, or its owner answers. */
void
registry_net(struct mx_msg *m)
{
	char name[MX_NAME_LEN_MAX + 1], node[MX_NODE_MAX + 1];
	struct binding *b;
	mx_name_t right;
	uint8_t kind;
	int r;

	if (mx_msg_get_string(m, name, sizeof(name)) < 0 || mx_msg_get_string(m, node, sizeof(node)) < 0) {
		log_warnx("malformed message %#x from portd", m->msgid);
		return;
	}
	b = find(name);
	if (m->msgid == NS_NET_QUERY) {
		if (b != NULL && !b->remote && (r = ns_net_answer(conn, name, b->right)) < 0)
			log_warnx("'%s': answering %s: %s", name, node, mx_strerror(r));
		return;
	}
	if (mx_msg_get_port(m, &right, &kind) < 0 || kind != MX_RIGHT_SEND)
		return;
	if (b != NULL) {
		masix_right_dealloc(conn, right);	/* ours, or already cached */
		return;
	}
	if ((r = masix_request_dead_notify(conn, right, notify_port)) < 0) {
		masix_right_dealloc(conn, right);
		return;
	}
	if ((b = calloc(1, sizeof(*b))) == NULL)
		fatalx("out of memory");
	snprintf(b->name, sizeof(b->name), "%s", name);
	snprintf(b->node, sizeof(b->node), "%s", node);
	b->right = right;
	b->remote = 1;
	LIST_INSERT_HEAD(&bindings, b, link);
	log_debug("'%s' is on node %s: cached", name, node);
	answer_waiters(name, right);
}

/* 1 when req is kept by a waiting lookup. */
static int
do_lookup(struct mx_msg *req)
{
	char name[MX_NAME_LEN_MAX + 1 + 1 + MX_NODE_MAX];
	struct binding *b;
	struct waiter *w;
	int64_t wait_ms;
	uint32_t nodes;
	char *at;

	if (mx_msg_get_string(req, name, sizeof(name)) < 0 || mx_msg_get_int(req, &wait_ms) < 0 ||
	    mx_msg_end(req) < 0 || wait_ms < 0) {
		answer(req, MX_ERR_PROTO, 0);
		return 0;
	}
	if ((at = strchr(name, '@')) != NULL) {
		*at++ = '\0';
		if (strcmp(at, masix_node(conn)) != 0)
			return forward_lookup(req, name, at, wait_ms);
	}
	if (!mx_name_valid(name)) {
		answer(req, MX_ERR_INVAL, 0);
		return 0;
	}
	if ((b = find(name)) != NULL) {
		answer(req, 0, b->right);
		return 0;
	}
	/* Not here: ask the other nodes (paper steps 3-9); the owner answers us all. */
	if (at == NULL && ns_net_query(conn, name, &nodes) == 0 && nodes > 0) {
		if ((uint64_t)wait_ms < resolve_ms)
			wait_ms = resolve_ms;
	}
	if (wait_ms == 0) {
		answer(req, MX_ERR_NOENT, 0);
		return 0;
	}
	/* Keep the request (and its reply right) until the name comes or time is up. */
	if ((w = calloc(1, sizeof(*w))) == NULL)
		fatalx("out of memory");
	strcpy(w->name, name);
	w->deadline = now_ms() + (uint64_t)wait_ms;
	w->req = req;
	LIST_INSERT_HEAD(&waiters, w, link);
	return 1;
}

/* Takes ownership of req. */
void
registry_handle(struct mx_msg *req)
{
	if (req->reply == MX_NAME_NULL || req->reply_disp != MX_RIGHT_SEND_ONCE) {
		log_debug("message %u from pid %u without a reply right: dropped", req->msgid, req->trailer.pid);
		mx_msg_free(req);
		return;
	}
	switch (req->msgid) {
	case NS_REGISTER:
		do_register(req);
		break;
	case NS_UNREGISTER:
		do_unregister(req);
		break;
	case NS_LOOKUP:
		if (do_lookup(req))
			return;
		break;
	default:
		answer(req, MX_ERR_NOTSUP, 0);
		break;
	}
	mx_msg_free(req);
}

/* A registered port died: its names go with it. */
void
registry_dead(mx_name_t right)
{
	struct binding *b, *bn;

	for (b = LIST_FIRST(&bindings); b != NULL; b = bn) {
		bn = LIST_NEXT(b, link);
		if (b->right == right) {
			log_debug("'%s' dropped: its port died", b->name);
			unbind(b);
		}
	}
}

uint32_t
registry_next_timeout(void)
{
	struct waiter *w;
	uint64_t now = now_ms(), first = UINT64_MAX;

	LIST_FOREACH(w, &waiters, link)
		if (w->deadline < first)
			first = w->deadline;
	if (first == UINT64_MAX)
		return MX_FOREVER;
	return first <= now ? 0 : (uint32_t)(first - now);
}

void
registry_expire(void)
{
	struct waiter *w, *wn;
	uint64_t now = now_ms();

	for (w = LIST_FIRST(&waiters); w != NULL; w = wn) {
		wn = LIST_NEXT(w, link);
		if (w->deadline > now)
			continue;
		LIST_REMOVE(w, link);
		answer(w->req, MX_ERR_NOENT, 0);
		mx_msg_free(w->req);
		free(w);
	}
}

/* At exit: let go of everything, so leak checkers see a clean end. */
void
registry_free(void)
{
	struct binding *b;
	struct waiter *w;

	while ((b = LIST_FIRST(&bindings)) != NULL)
		unbind(b);
	while ((w = LIST_FIRST(&waiters)) != NULL) {
		LIST_REMOVE(w, link);
		mx_msg_free(w->req);
		free(w);
	}
	while (LIST_FIRST(&peers) != NULL)
		peer_forget(LIST_FIRST(&peers)->node);
}
