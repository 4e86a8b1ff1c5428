/* registry.c — names, their ports, and lookups waiting for a name. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "log.h"
#include "names.h"
#include "namesrv.h"

static LIST_HEAD(, binding) bindings = LIST_HEAD_INITIALIZER(bindings);
static LIST_HEAD(, waiter) waiters = LIST_HEAD_INITIALIZER(waiters);
static struct mx_conn *conn;
static mx_name_t notify_port;

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void
registry_init(struct mx_conn *c, mx_name_t notify)
{
	conn = c;
	notify_port = notify;
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
	struct mx_msg *m = mx_msg_new(MX_MSGID_REPLY);
	int r;

	if (m == NULL)
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
do_register(struct mx_msg *req)
{
	char name[MX_NAME_LEN_MAX + 1];
	struct binding *b;
	struct waiter *w, *wn;
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
	if ((b = find(name)) != NULL) {
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
	for (w = LIST_FIRST(&waiters); w != NULL; w = wn) {
		wn = LIST_NEXT(w, link);
		if (strcmp(w->name, name) != 0)
			continue;
		LIST_REMOVE(w, link);
		answer(w->req, 0, b->right);
		mx_msg_free(w->req);
		free(w);
	}
}

static void
unbind(struct binding *b)
{
	LIST_REMOVE(b, link);
	masix_right_dealloc(conn, b->right);
	free(b);
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
	if ((b = find(name)) == NULL) {
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

/* 1 when req is kept by a waiting lookup. */
static int
do_lookup(struct mx_msg *req)
{
	char name[MX_NAME_LEN_MAX + 1];
	struct binding *b;
	struct waiter *w;
	int64_t wait_ms;

	if (mx_msg_get_string(req, name, sizeof(name)) < 0 || mx_msg_get_int(req, &wait_ms) < 0 ||
	    mx_msg_end(req) < 0 || wait_ms < 0) {
		answer(req, MX_ERR_PROTO, 0);
		return 0;
	}
	if ((b = find(name)) != NULL) {
		answer(req, 0, b->right);
		return 0;
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
}
