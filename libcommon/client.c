/*
 * client.c — the task side of the portd protocol. Blocking I/O on one
 * Unix socket; answers are matched to requests by frame id, and frames
 * that arrive for another request wait in a small stash.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include "client.h"
#include "names.h"
#include "sock.h"
#include "wire.h"

#define NOWAIT_BIT	0x80000000u	/* ids of pipelined sends */
#define NOWAIT_WINDOW	1024		/* unacknowledged sends at most: acks never fill our socket */
#define OUTBUF_FLUSH	(64 * 1024)
#define IN_MIN		(64 * 1024)

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

const char *
masix_default_rundir(void)
{
	static char buf[256];
	const char *env = getenv("MASIX_RUNDIR"), *xdg;

	if (env != NULL && *env != '\0')
		return env;
	if (geteuid() == 0)
		return "/run/masix";
	if ((xdg = getenv("XDG_RUNTIME_DIR")) != NULL && *xdg != '\0') {
		snprintf(buf, sizeof(buf), "%s/masix", xdg);
		return buf;
	}
	return NULL;
}

static void
set_detail(struct mx_conn *c, const char *fmt, const char *arg)
{
	snprintf(c->detail, sizeof(c->detail), fmt, arg);
}

/*
 * portd closed our connection (it exited, crashed or was restarted): every
 * later call fails at once with the same error and detail, never blocks.
 */
static int
conn_lost(struct mx_conn *c)
{
	c->lost = 1;
	snprintf(c->detail, sizeof(c->detail), "portd went away");
	return -MX_ERR_IO;
}

/*
 * A daemon's waits (a stop flag set) last STOP_SLICE_MS at most: the signal
 * that sets the flag may come between the flag's last check and a blocking
 * read, and would be lost until something arrives. A receive timeout on the
 * socket (and the same cap on poll) has the flag checked again within a
 * slice, at no cost to a read that finds data.
 */
#define STOP_SLICE_MS 250

static void
apply_stop_slice(struct mx_conn *c)
{
	struct timeval tv = { 0, STOP_SLICE_MS * 1000 };

	if (c->fd >= 0)
		(void)setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

/*
 * The timeout is set once and kept: keysrv sets and clears the flag around
 * every receive, and a slice over without a flag just waits again.
 */
void
masix_set_stop_flag(struct mx_conn *c, volatile int *flag)
{
	c->stop = flag;
	if (flag != NULL && !c->stop_sliced) {
		c->stop_sliced = 1;
		apply_stop_slice(c);
	}
}

const char *masix_errdetail(const struct mx_conn *c) { return c->detail; }
int masix_fd(const struct mx_conn *c) { return c->fd; }

int
masix_connect(const char *rundir, struct mx_conn **out)
{
	char path[256];
	struct mx_conn *c;
	int fd;

	*out = NULL;
	if (rundir == NULL && (rundir = masix_default_rundir()) == NULL)
		return -MX_ERR_INVAL;
	if (sock_path(path, sizeof(path), rundir, "portd.sock") < 0)
		return -MX_ERR_INVAL;
	if ((fd = sock_unix_connect(path)) < 0)
		return errno == EACCES ? -MX_ERR_PERM : -MX_ERR_UNAVAIL;
	if ((c = calloc(1, sizeof(*c))) == NULL || (c->in = malloc(IN_MIN)) == NULL) {
		free(c);
		close(fd);
		return -MX_ERR_NOMEM;
	}
	c->fd = fd;
	snprintf(c->path, sizeof(c->path), "%s", path);
	c->incap = IN_MIN;
	c->prefetch = 1;
	*out = c;
	return 0;
}

static void
drop_stash(struct mx_conn *c)
{
	struct stashed *s;

	while ((s = c->stash) != NULL) {
		c->stash = s->next;
		free(s->payload);
		free(s);
	}
}

void
masix_close(struct mx_conn *c)
{
	if (c == NULL)
		return;
	if (c->fd >= 0)
		close(c->fd);
	drop_stash(c);
	free(c->in);
	free(c->out);
	free(c);
}

/* Sleep ms, or less when a signal sets the stop flag: MX_ERR_INTR then. */
int
client_pause_ms(struct mx_conn *c, uint64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		if (c->stop && *c->stop)
			return -MX_ERR_INTR;
	return c->stop && *c->stop ? -MX_ERR_INTR : 0;
}

/*
 * A new connection on the same socket, the old one's state dropped: its
 * names, receives, stashed answers and unacknowledged sends meant something
 * only to the portd that is gone. Retries with backoff (20 ms doubling to
 * 500 ms) while the socket refuses or is absent; an activated socket that
 * systemd keeps accepts at once, and the first request waits for portd.
 */
int
masix_reconnect(struct mx_conn *c, uint32_t timeout_ms)
{
	uint64_t deadline = timeout_ms == MX_FOREVER ? 0 : now_ms() + timeout_ms, wait = 20, now;
	int fd, r;

	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	drop_stash(c);
	c->inlen = c->consumed = c->outlen = 0;
	c->outstanding = 0;
	c->first_err = 0;
	memset(c->recv, 0, sizeof(c->recv));
	c->reply_port = c->name_port = MX_NAME_NULL;
	c->node[0] = '\0';
	c->lost = 1;	/* until connected: calls fail IO, never touch fd -1 */
	snprintf(c->detail, sizeof(c->detail), "portd went away");
	while ((fd = sock_unix_connect(c->path)) < 0) {
		if (errno == EACCES) {
			snprintf(c->detail, sizeof(c->detail), "no permission to connect to portd");
			return -MX_ERR_PERM;
		}
		now = now_ms();
		if (deadline != 0 && now >= deadline) {
			snprintf(c->detail, sizeof(c->detail), "portd did not come back");
			return -MX_ERR_TIMEOUT;
		}
		if (deadline != 0 && now + wait > deadline)
			wait = deadline - now;
		if ((r = client_pause_ms(c, wait)) < 0)
			return r;
		wait = wait * 2 > 500 ? 500 : wait * 2;
	}
	c->fd = fd;
	c->lost = 0;
	c->detail[0] = '\0';
	if (c->stop_sliced)
		apply_stop_slice(c);
	return 0;
}

/* ---- writing ---- */

static int
write_all(struct mx_conn *c, struct iovec *iov, int n)
{
	if (c->lost)
		return conn_lost(c);
	while (n > 0) {
		/* sendmsg, not writev: MSG_NOSIGNAL, a dead portd is an error, not SIGPIPE. */
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)n };
		ssize_t w = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return conn_lost(c);
		}
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

static int
flush_out(struct mx_conn *c)
{
	struct iovec iov = { c->out, c->outlen };
	int r;

	if (c->outlen == 0)
		return 0;
	r = write_all(c, &iov, 1);
	c->outlen = 0;
	return r;
}

/* Send one frame: header, a small fixed part, then an optional body. */
static int
send_frame(struct mx_conn *c, uint8_t type, uint32_t id, const void *a, size_t alen, const void *b,
    size_t blen)
{
	uint8_t hdr[MX_FRAME_HDR];
	struct mx_frame_hdr h = { .len = (uint32_t)(alen + blen), .type = type, .id = id };
	struct iovec iov[3];
	int n = 0, r;

	frame_hdr_pack(hdr, &h);
	if ((r = flush_out(c)) < 0)
		return r;
	iov[n++] = (struct iovec){ hdr, sizeof(hdr) };
	if (alen)
		iov[n++] = (struct iovec){ (void *)a, alen };
	if (blen)
		iov[n++] = (struct iovec){ (void *)b, blen };
	return write_all(c, iov, n);
}

static uint32_t
new_id(struct mx_conn *c)
{
	c->next_id = (c->next_id + 1) & ~NOWAIT_BIT;
	if (c->next_id == 0)
		c->next_id = 1;
	return c->next_id;
}

/* ---- reading ---- */

/*
 * Read until one whole frame is buffered at c->in; 0 or an error.
 * deadline (monotonic ms, 0 = none) bounds the wait: MX_ERR_TIMEOUT.
 */
static int
read_frame_until(struct mx_conn *c, struct mx_frame_hdr *h, uint64_t deadline)
{
	int r;

	if (c->lost)
		return conn_lost(c);
	/* Drop the frame handed out last time. */
	if (c->consumed > 0) {
		memmove(c->in, c->in + c->consumed, c->inlen - c->consumed);
		c->inlen -= c->consumed;
		c->consumed = 0;
	}
	for (;;) {
		ssize_t n;

		if (c->inlen >= MX_FRAME_HDR) {
			if ((r = frame_hdr_unpack(c->in, h)) != 0)
				return r;
			if (c->inlen >= MX_FRAME_HDR + (size_t)h->len) {
				c->consumed = MX_FRAME_HDR + h->len;
				return 0;
			}
			if (MX_FRAME_HDR + (size_t)h->len > c->incap) {
				uint8_t *nb = realloc(c->in, MX_FRAME_HDR + (size_t)h->len);
				if (nb == NULL)
					return -MX_ERR_NOMEM;
				c->in = nb;
				c->incap = MX_FRAME_HDR + (size_t)h->len;
			}
		}
		/* About to wait for portd: what masix_send_nowait() queued goes out first. */
		if (c->outlen > 0 && (r = flush_out(c)) < 0)
			return r;
		if (c->stop && *c->stop)
			return -MX_ERR_INTR;
		if (deadline != 0) {
			uint64_t now = now_ms(), left = deadline - now;
			struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
			if (now >= deadline)
				return -MX_ERR_TIMEOUT;
			if (c->stop != NULL && left > STOP_SLICE_MS)
				left = STOP_SLICE_MS;	/* see apply_stop_slice() */
			r = poll(&pfd, 1, left > INT32_MAX ? INT32_MAX : (int)left);
			if (r < 0 && errno == EINTR && c->stop && *c->stop)
				return -MX_ERR_INTR;
			if (r < 0 && errno != EINTR)
				return conn_lost(c);
			if (r <= 0)
				continue;
		}
		n = read(c->fd, c->in + c->inlen, c->incap - c->inlen);
		if (n == 0)
			return conn_lost(c);
		if (n < 0) {
			if (errno == EINTR && c->stop && *c->stop)
				return -MX_ERR_INTR;
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;	/* EAGAIN: a stop slice is over (apply_stop_slice) */
			return conn_lost(c);
		}
		c->inlen += (size_t)n;
	}
}

static int
read_frame(struct mx_conn *c, struct mx_frame_hdr *h)
{
	return read_frame_until(c, h, 0);
}

static int
stash_frame(struct mx_conn *c, const struct mx_frame_hdr *h, const uint8_t *p)
{
	struct stashed *s = calloc(1, sizeof(*s)), **tail;

	if (s == NULL || (h->len > 0 && (s->payload = malloc(h->len)) == NULL)) {
		free(s);
		return -MX_ERR_NOMEM;
	}
	s->h = *h;
	if (h->len > 0)
		memcpy(s->payload, p, h->len);
	for (tail = &c->stash; *tail != NULL; tail = &(*tail)->next)
		;
	*tail = s;
	return 0;
}

static void
note_ack(struct mx_conn *c, const struct mx_frame_hdr *h)
{
	c->outstanding--;
	if (h->status != 0 && c->first_err == 0) {
		c->first_err = -(int)h->status;
		snprintf(c->detail, sizeof(c->detail), "%s", mx_strerror(c->first_err));
	}
}

/* The answer to a frame sent without waiting (masix_send_nowait, client_op_nowait). */
static int
is_nowait_ack(const struct mx_frame_hdr *h)
{
	return (h->id & NOWAIT_BIT) && (h->type == MX_OP_SEND || h->type == MX_OP_NET_ANSWER ||
	    h->type == MX_OP_NAME_KEEP || h->type == MX_OP_WHO_HOLDS || h->type == MX_OP_RIGHT_DEALLOC);
}

/*
 * Wait for the answer to request id. On return *h is its header and *p
 * its payload (valid until the next call), or *stashed is set when the
 * answer had been stashed (caller frees it).
 */
static int
wait_for(struct mx_conn *c, uint32_t id, struct mx_frame_hdr *h, const uint8_t **p, struct stashed **stashed)
{
	struct stashed **sp;
	int r;

	*stashed = NULL;
	for (sp = &c->stash; *sp != NULL; sp = &(*sp)->next) {
		if ((*sp)->h.id == id) {
			*stashed = *sp;
			*sp = (*sp)->next;
			*h = (*stashed)->h;
			*p = (*stashed)->payload;
			return 0;
		}
	}
	for (;;) {
		if ((r = read_frame(c, h)) < 0)
			return r;
		*p = c->in + MX_FRAME_HDR;
		if (h->id == id)
			return 0;
		if (is_nowait_ack(h))
			note_ack(c, h);
		else if ((r = stash_frame(c, h, *p)) < 0)
			return r;
	}
}

int
client_op(struct mx_conn *c, uint8_t type, const void *a, size_t alen, uint8_t *ans, size_t anscap,
    size_t *anslen)
{
	struct mx_frame_hdr h;
	const uint8_t *p;
	struct stashed *s;
	uint32_t id = new_id(c);
	int r;

	if ((r = send_frame(c, type, id, a, alen, NULL, 0)) < 0)
		return r;
	if ((r = wait_for(c, id, &h, &p, &s)) < 0)
		return r;
	if (h.status != 0)
		r = -(int)h.status;
	else if (h.len > anscap)
		r = -MX_ERR_PROTO;
	else {
		if (h.len > 0)
			memcpy(ans, p, h.len);
		*anslen = h.len;
	}
	if (s) {
		free(s->payload);
		free(s);
	}
	return r;
}

/* A simple request: one frame out, one status and exactly anslen bytes (maybe none) back. */
static int
simple_op(struct mx_conn *c, uint8_t type, const void *a, size_t alen, uint8_t *ans, size_t anslen)
{
	size_t got;
	int r = client_op(c, type, a, alen, ans, anslen, &got);

	return r == 0 && got != anslen ? -MX_ERR_PROTO : r;
}

const char *
masix_node(struct mx_conn *c)
{
	struct mx_frame_hdr h;
	const uint8_t *p;
	struct stashed *s;
	uint32_t id;

	if (c->node[0] != '\0')
		return c->node;
	id = new_id(c);
	if (send_frame(c, MX_OP_HELLO, id, NULL, 0, NULL, 0) < 0 || wait_for(c, id, &h, &p, &s) < 0)
		return "?";
	if (h.status == 0 && h.len < sizeof(c->node)) {
		memcpy(c->node, p, h.len);
		c->node[h.len] = '\0';
	}
	if (s) {
		free(s->payload);
		free(s);
	}
	return c->node[0] ? c->node : "?";
}

static int
op_name(struct mx_conn *c, uint8_t type, const void *a, size_t alen, mx_name_t *out)
{
	uint8_t b[4];
	int r = simple_op(c, type, a, alen, b, sizeof(b));

	if (r == 0)
		*out = get_u32(b);
	return r;
}

int
masix_port_alloc(struct mx_conn *c, mx_name_t *out)
{
	return op_name(c, MX_OP_PORT_ALLOC, NULL, 0, out);
}

static int
op_u32x2(struct mx_conn *c, uint8_t type, uint32_t a, uint32_t b, size_t n)
{
	uint8_t buf[8];

	put_u32(buf, a);
	put_u32(buf + 4, b);
	return simple_op(c, type, buf, n, NULL, 0);
}

int masix_port_destroy(struct mx_conn *c, mx_name_t n) { return op_u32x2(c, MX_OP_PORT_DESTROY, n, 0, 4); }
int masix_right_dealloc(struct mx_conn *c, mx_name_t n) { return op_u32x2(c, MX_OP_RIGHT_DEALLOC, n, 0, 4); }

int
masix_right_dealloc_nowait(struct mx_conn *c, mx_name_t n)
{
	uint8_t a[4];

	put_u32(a, n);
	return client_op_nowait(c, MX_OP_RIGHT_DEALLOC, a, sizeof(a), NULL, 0);
}

void
masix_msg_release_rights(struct mx_conn *c, struct mx_msg *m, mx_name_t kept)
{
	struct mx_item it;

	m->rpos = 0;
	while (mx_msg_next(m, &it) == 1) {
		if (it.type != MX_ITEM_PORT)
			continue;
		if (kept != MX_NAME_NULL && it.name == kept) {
			kept = MX_NAME_NULL;
			continue;
		}
		if (it.right == MX_RIGHT_RECEIVE)
			masix_port_destroy(c, it.name);
		else
			masix_right_dealloc(c, it.name);
	}
}
int masix_port_set_qlimit(struct mx_conn *c, mx_name_t port, uint32_t limit)
{ return op_u32x2(c, MX_OP_QLIMIT, port, limit, 8); }
int masix_request_dead_notify(struct mx_conn *c, mx_name_t name, mx_name_t notify)
{ return op_u32x2(c, MX_OP_NOTIFY_DEAD, name, notify, 8); }
int masix_request_nosenders_notify(struct mx_conn *c, mx_name_t port, mx_name_t notify)
{ return op_u32x2(c, MX_OP_NOTIFY_NOSENDERS, port, notify, 8); }
int masix_special_set(struct mx_conn *c, enum mx_special which, mx_name_t port)
{ return op_u32x2(c, MX_OP_SPECIAL_SET, which, port, 8); }

int
masix_special_get_node(struct mx_conn *c, int which, const char *node, uint32_t *out)
{
	uint8_t b[4 + MX_NODE_MAX];
	size_t n = strlen(node);

	if (n == 0 || n > MX_NODE_MAX)
		return -MX_ERR_INVAL;
	put_u32(b, (uint32_t)which);
	memcpy(b + 4, node, n);
	return op_name(c, MX_OP_SPECIAL_GET, b, 4 + n, out);
}

/* A u8 length and s into b at *o: 0, or -MX_ERR_INVAL when s is longer than max. */
static int
put_str8(uint8_t *b, size_t *o, const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n > max)
		return -MX_ERR_INVAL;
	b[(*o)++] = (uint8_t)n;
	memcpy(b + *o, s, n);
	*o += n;
	return 0;
}

int
ns_net_query(struct mx_conn *c, const char *name, const char *node, const char *service, uint32_t *nodes)
{
	uint8_t b[2 + MX_NODE_MAX + MX_SERVICE_MAX + MX_NAME_LEN_MAX], out[4];
	size_t o = 0;
	int r;

	if (put_str8(b, &o, node ? node : "", MX_NODE_MAX) < 0 || put_str8(b, &o, service, MX_SERVICE_MAX) < 0 ||
	    strlen(name) > MX_NAME_LEN_MAX)
		return -MX_ERR_INVAL;
	memcpy(b + o, name, strlen(name));
	o += strlen(name);
	if ((r = simple_op(c, MX_OP_NET_QUERY, b, o, out, sizeof(out))) == 0)
		*nodes = get_u32(out);
	return r;
}

/* NET_ANSWER's fixed part: u32 right, u8 length and the node ("" every node). */
static int
pack_net_answer(uint8_t *b, size_t *o, uint32_t right, const char *node)
{
	put_u32(b, right);
	*o = 4;
	return put_str8(b, o, node ? node : "", MX_NODE_MAX);
}

int
ns_net_answer(struct mx_conn *c, const char *name, uint32_t right, const char *node)
{
	uint8_t b[5 + MX_NODE_MAX + MX_NAME_LEN_MAX];
	size_t o, n = strlen(name);

	if (n > MX_NAME_LEN_MAX || pack_net_answer(b, &o, right, node) < 0)
		return -MX_ERR_INVAL;
	memcpy(b + o, name, n);
	return simple_op(c, MX_OP_NET_ANSWER, b, o + n, NULL, 0);
}

/* The MX_OP_NAME_KEEP request: 16 bytes into b, then the name. */
static int
pack_name_keep(uint8_t b[16], const char *name, uint32_t right, uint32_t uid, uint32_t pid)
{
	if (strlen(name) > MX_NAME_LEN_MAX)
		return -MX_ERR_INVAL;
	put_u32(b, right != MX_NAME_NULL);
	put_u32(b + 4, right);
	put_u32(b + 8, right != MX_NAME_NULL ? uid : 0);
	put_u32(b + 12, right != MX_NAME_NULL ? pid : 0);
	return 0;
}

int
ns_name_keep(struct mx_conn *c, const char *name, uint32_t right, uint32_t uid, uint32_t pid)
{
	uint8_t b[16 + MX_NAME_LEN_MAX];
	size_t n = strlen(name);
	int r;

	if ((r = pack_name_keep(b, name, right, uid, pid)) < 0)
		return r;
	memcpy(b + 16, name, n);
	return simple_op(c, MX_OP_NAME_KEEP, b, 16 + n, NULL, 0);
}

int
ns_name_keep_nowait(struct mx_conn *c, const char *name, uint32_t right, uint32_t uid, uint32_t pid)
{
	uint8_t b[16];
	int r;

	if ((r = pack_name_keep(b, name, right, uid, pid)) < 0)
		return r;
	return client_op_nowait(c, MX_OP_NAME_KEEP, b, sizeof(b), name, strlen(name));
}

int
masix_special_get(struct mx_conn *c, enum mx_special which, mx_name_t *out)
{
	uint8_t b[4];

	put_u32(b, which);
	return op_name(c, MX_OP_SPECIAL_GET, b, 4, out);
}

/* ---- messages ---- */

static void
pack_msg_hdr(uint8_t *out, const struct mx_msg *m, uint32_t timeout_ms)
{
	struct mx_msg_hdr mh = { .dest = m->dest, .reply = m->reply, .reply_disp = m->reply_disp,
	    .msgid = m->msgid, .timeout_ms = timeout_ms };

	if (m->reply == MX_NAME_NULL)
		mh.reply_disp = 0;
	msg_hdr_pack(out, &mh);
}

int
masix_send(struct mx_conn *c, struct mx_msg *m, uint32_t timeout_ms)
{
	uint8_t mh[MX_MSG_HDR];
	uint32_t id = new_id(c);
	struct mx_frame_hdr h;
	const uint8_t *p;
	struct stashed *s;
	int r;

	pack_msg_hdr(mh, m, timeout_ms);
	if ((r = send_frame(c, MX_OP_SEND, id, mh, sizeof(mh), m->items, m->len)) < 0)
		return r;
	if ((r = wait_for(c, id, &h, &p, &s)) < 0)
		return r;
	r = -(int)h.status;
	if (s) {
		free(s->payload);
		free(s);
	}
	return r;
}

/* Keep the window small enough that unread acks never block portd. */
static int
nowait_room(struct mx_conn *c)
{
	struct mx_frame_hdr h;
	int r;

	while (c->outstanding >= NOWAIT_WINDOW) {
		if ((r = flush_out(c)) < 0)
			return r;
		if ((r = read_frame(c, &h)) < 0)
			return r;
		if (is_nowait_ack(&h))
			note_ack(c, &h);
		else if ((r = stash_frame(c, &h, c->in + MX_FRAME_HDR)) < 0)
			return r;
	}
	c->nowait_id = (c->nowait_id + 1) & ~NOWAIT_BIT;
	return 0;
}

/* Room for need more bytes in the output buffer (need <= OUTBUF_FLUSH). */
static int
out_room(struct mx_conn *c, size_t need)
{
	int r;

	if (c->outlen + need <= c->outcap)
		return 0;
	if ((r = flush_out(c)) < 0)
		return r;
	if (c->outcap < OUTBUF_FLUSH) {
		uint8_t *nb = realloc(c->out, OUTBUF_FLUSH);
		if (nb == NULL)
			return -MX_ERR_NOMEM;
		c->out = nb;
		c->outcap = OUTBUF_FLUSH;
	}
	return 0;
}

int
masix_send_nowait(struct mx_conn *c, struct mx_msg *m, uint32_t timeout_ms)
{
	struct mx_frame_hdr h;
	size_t need = MX_FRAME_HDR + MX_MSG_HDR + m->len;
	int r;

	if ((r = nowait_room(c)) < 0)
		return r;
	h = (struct mx_frame_hdr){ .len = (uint32_t)(MX_MSG_HDR + m->len), .type = MX_OP_SEND,
	    .id = c->nowait_id | NOWAIT_BIT };
	if (need > OUTBUF_FLUSH) {
		uint8_t mh[MX_MSG_HDR];
		pack_msg_hdr(mh, m, timeout_ms);
		if ((r = send_frame(c, MX_OP_SEND, h.id, mh, sizeof(mh), m->items, m->len)) < 0)
			return r;
	} else {
		if ((r = out_room(c, need)) < 0)
			return r;
		frame_hdr_pack(c->out + c->outlen, &h);
		pack_msg_hdr(c->out + c->outlen + MX_FRAME_HDR, m, timeout_ms);
		if (m->len)
			memcpy(c->out + c->outlen + MX_FRAME_HDR + MX_MSG_HDR, m->items, m->len);
		c->outlen += need;
	}
	c->outstanding++;
	return 0;
}

/*
 * A request queued without waiting for its answer, like masix_send_nowait():
 * its status comes with masix_flush() (the first failure), so only for
 * requests whose failure the caller learns of some other way or may ignore.
 */
int
client_op_nowait(struct mx_conn *c, uint8_t type, const void *a, size_t alen, const void *b, size_t blen)
{
	struct mx_frame_hdr h;
	size_t need = MX_FRAME_HDR + alen + blen;
	uint8_t *p;
	int r;

	if (need > OUTBUF_FLUSH)
		return -MX_ERR_INVAL;
	if ((r = nowait_room(c)) < 0 || (r = out_room(c, need)) < 0)
		return r;
	h = (struct mx_frame_hdr){ .len = (uint32_t)(alen + blen), .type = type, .id = c->nowait_id | NOWAIT_BIT };
	p = c->out + c->outlen;
	frame_hdr_pack(p, &h);
	memcpy(p + MX_FRAME_HDR, a, alen);
	if (blen > 0)
		memcpy(p + MX_FRAME_HDR + alen, b, blen);
	c->outlen += need;
	c->outstanding++;
	return 0;
}

/* ns_net_answer() without waiting: queued like masix_send_nowait(), its status comes with masix_flush(). */
int
ns_net_answer_nowait(struct mx_conn *c, const char *name, uint32_t right, const char *node)
{
	uint8_t a[5 + MX_NODE_MAX];
	size_t o, n = strlen(name);

	if (n > MX_NAME_LEN_MAX || pack_net_answer(a, &o, right, node) < 0)
		return -MX_ERR_INVAL;
	return client_op_nowait(c, MX_OP_NET_ANSWER, a, o, name, n);
}

int
masix_flush(struct mx_conn *c)
{
	struct mx_frame_hdr h;
	int r;

	if ((r = flush_out(c)) < 0)
		return r;
	while (c->outstanding > 0) {
		if ((r = read_frame(c, &h)) < 0)
			return r;
		if (is_nowait_ack(&h))
			note_ack(c, &h);
		else if ((r = stash_frame(c, &h, c->in + MX_FRAME_HDR)) < 0)
			return r;
	}
	r = c->first_err;
	c->first_err = 0;
	return r;
}

/* Decode an MX_OP_MSG payload into a new message. */
static int
decode_msg(const uint8_t *p, uint32_t len, struct mx_msg **out)
{
	struct mx_msg_hdr mh;
	struct mx_msg *m;
	struct mx_item it;
	size_t used, pos = 0;
	int r;

	if ((m = mx_msg_new(0)) == NULL)
		return -MX_ERR_NOMEM;
	if ((r = trailer_unpack(p, len, &used, &m->trailer)) < 0 || len - used < MX_MSG_HDR) {
		mx_msg_free(m);
		return -MX_ERR_PROTO;
	}
	msg_hdr_unpack(p + used, &mh);
	used += MX_MSG_HDR;
	m->dest = mh.dest;
	m->reply = mh.reply;
	m->reply_disp = mh.reply_disp;
	m->msgid = mh.msgid;
	m->len = m->cap = len - used;
	if (m->len > 0) {
		if ((m->items = malloc(m->len)) == NULL) {
			mx_msg_free(m);
			return -MX_ERR_NOMEM;
		}
		memcpy(m->items, p + used, m->len);
	}
	/* Check the whole body once, so readers can trust item boundaries. */
	while ((r = items_next(m->items, m->len, &pos, &it)) > 0)
		;
	if (r < 0) {
		mx_msg_free(m);
		return r;
	}
	*out = m;
	return 0;
}

static struct recvstate *
recv_state(struct mx_conn *c, mx_name_t port)
{
	struct recvstate *free_slot = NULL;
	size_t i;

	for (i = 0; i < MX_RECV_SLOTS; i++) {
		if (c->recv[i].port == port)
			return &c->recv[i];
		if (c->recv[i].credit == 0 && free_slot == NULL)
			free_slot = &c->recv[i];
	}
	if (free_slot != NULL)
		*free_slot = (struct recvstate){ .port = port };
	return free_slot;
}

/* Turn the answer to a RECV or RPC into a message or an error. */
static int
take_answer(const struct mx_frame_hdr *h, const uint8_t *p, struct mx_msg **out)
{
	if (h->type != MX_OP_MSG)
		return h->status ? -(int)h->status : -MX_ERR_PROTO;
	return decode_msg(p, h->len, out);
}

/* The RECV frame that opens a receive on rs (prefetch messages ahead). */
static void
recv_frame(struct mx_conn *c, struct recvstate *rs, mx_name_t port, uint32_t timeout_ms, uint8_t b[12])
{
	rs->id = new_id(c);
	rs->credit = c->prefetch;
	put_u32(b, port);
	put_u32(b + 4, timeout_ms);
	put_u32(b + 8, c->prefetch);
}

/* A frame answering the receive open on rs: count it, decode it, free s. */
static int
recv_answer(struct recvstate *rs, const struct mx_frame_hdr *h, const uint8_t *p, struct stashed *s,
    struct mx_msg **out)
{
	int r;

	if (h->type == MX_OP_MSG)
		rs->credit--;
	else
		rs->credit = 0;	/* portd ended this receive */
	r = take_answer(h, p, out);
	if (s) {
		free(s->payload);
		free(s);
	}
	return r;
}

/* Wait for the next message of the receive open on rs. */
static int
recv_take(struct mx_conn *c, struct recvstate *rs, struct mx_msg **out)
{
	struct mx_frame_hdr h;
	const uint8_t *p;
	struct stashed *s;
	int r;

	if ((r = wait_for(c, rs->id, &h, &p, &s)) < 0) {
		/* Interrupted, the receive stays open at portd: the next call takes what it brings. */
		if (r != -MX_ERR_INTR)
			rs->credit = 0;
		return r;
	}
	return recv_answer(rs, &h, p, s, out);
}

int
masix_recv(struct mx_conn *c, mx_name_t port, uint32_t timeout_ms, struct mx_msg **out)
{
	struct recvstate *rs;
	int r;

	*out = NULL;
	if ((rs = recv_state(c, port)) == NULL)
		return -MX_ERR_NOMEM;
	if (rs->credit == 0) {
		uint8_t b[12];
		recv_frame(c, rs, port, timeout_ms, b);
		if ((r = send_frame(c, MX_OP_RECV, rs->id, b, sizeof(b), NULL, 0)) < 0) {
			rs->credit = 0;
			return r;
		}
	}
	return recv_take(c, rs, out);
}

/*
 * Mach's send-and-receive in one call: the reply and the next receive go
 * out in one write, so portd takes both in one wake-up and the next request
 * comes back with the reply's status. The reply's result goes to
 * *reply_err (0 or a negative MX_ERR_*; may be NULL), the receive's is
 * returned: a client gone away does not stop the server's loop.
 */
int
masix_reply_recv(struct mx_conn *c, const struct mx_msg *req, struct mx_msg *m, mx_name_t port,
    uint32_t timeout_ms, struct mx_msg **out, int *reply_err)
{
	uint8_t sh[MX_FRAME_HDR], mh[MX_MSG_HDR], rh[MX_FRAME_HDR], b[12];
	struct mx_frame_hdr h;
	struct recvstate *rs;
	struct iovec iov[5];
	const uint8_t *p;
	struct stashed *s;
	uint32_t id;
	int n = 0, r;

	*out = NULL;
	if (reply_err != NULL)
		*reply_err = 0;
	if (req->reply == MX_NAME_NULL) {
		/* A one-way message: nothing to answer, the loop goes on. */
		if (reply_err != NULL)
			*reply_err = -MX_ERR_INVAL;
		return masix_recv(c, port, timeout_ms, out);
	}
	if ((rs = recv_state(c, port)) == NULL)
		return -MX_ERR_NOMEM;
	m->dest = req->reply;
	m->reply = MX_NAME_NULL;
	if (m->msgid == 0)
		m->msgid = MX_MSGID_REPLY;
	pack_msg_hdr(mh, m, MX_FOREVER);
	id = new_id(c);
	frame_hdr_pack(sh, &(struct mx_frame_hdr){ .len = (uint32_t)(MX_MSG_HDR + m->len),
	    .type = MX_OP_SEND, .id = id });
	iov[n++] = (struct iovec){ sh, sizeof(sh) };
	iov[n++] = (struct iovec){ mh, sizeof(mh) };
	if (m->len)
		iov[n++] = (struct iovec){ m->items, m->len };
	if (rs->credit == 0) {
		recv_frame(c, rs, port, timeout_ms, b);
		frame_hdr_pack(rh, &(struct mx_frame_hdr){ .len = sizeof(b), .type = MX_OP_RECV, .id = rs->id });
		iov[n++] = (struct iovec){ rh, sizeof(rh) };
		iov[n++] = (struct iovec){ b, sizeof(b) };
	}
	if ((r = flush_out(c)) < 0 || (r = write_all(c, iov, n)) < 0) {
		rs->credit = 0;
		return r;
	}
	if ((r = wait_for(c, id, &h, &p, &s)) < 0)
		return r;
	if (reply_err != NULL)
		*reply_err = -(int)h.status;
	if (s) {
		free(s->payload);
		free(s);
	}
	return recv_take(c, rs, out);
}

/*
 * Receive on whichever of ports has a message first (a port set, done in
 * the library): portd keeps a receive open on each, and the wait is
 * bounded here, so receives left open are simply answered later.
 */
int
masix_recv_any(struct mx_conn *c, const mx_name_t *ports, int n, uint32_t timeout_ms, struct mx_msg **out)
{
	struct recvstate *rs[MX_RECV_SLOTS];
	struct stashed **sp, *s = NULL;
	struct mx_frame_hdr h;
	const uint8_t *p = NULL;
	uint64_t deadline = timeout_ms == MX_FOREVER ? 0 : now_ms() + timeout_ms + (timeout_ms == 0);
	int i, r, hit = -1;

	*out = NULL;
	if (n <= 0 || n > MX_RECV_SLOTS)
		return -MX_ERR_INVAL;
	for (i = 0; i < n; i++) {
		if ((rs[i] = recv_state(c, ports[i])) == NULL)
			return -MX_ERR_NOMEM;
		if (rs[i]->credit == 0) {
			uint8_t b[12];
			rs[i]->id = new_id(c);
			rs[i]->credit = c->prefetch;
			put_u32(b, ports[i]);
			put_u32(b + 4, MX_FOREVER);
			put_u32(b + 8, c->prefetch);
			if ((r = send_frame(c, MX_OP_RECV, rs[i]->id, b, sizeof(b), NULL, 0)) < 0) {
				rs[i]->credit = 0;
				return r;
			}
		}
	}
	/* Something already stashed for one of them? Oldest first. */
	for (sp = &c->stash; *sp != NULL && hit < 0; ) {
		for (i = 0; i < n; i++)
			if ((*sp)->h.id == rs[i]->id)
				hit = i;
		if (hit >= 0) {
			s = *sp;
			*sp = s->next;
			h = s->h;
			p = s->payload;
		} else {
			sp = &(*sp)->next;
		}
	}
	while (hit < 0) {
		if ((r = read_frame_until(c, &h, deadline)) < 0)
			return r;
		p = c->in + MX_FRAME_HDR;
		for (i = 0; i < n; i++)
			if (h.id == rs[i]->id)
				hit = i;
		if (hit >= 0)
			break;
		if (is_nowait_ack(&h))
			note_ack(c, &h);
		else if ((r = stash_frame(c, &h, p)) < 0)
			return r;
	}
	return recv_answer(rs[hit], &h, p, s, out);
}

void
masix_set_prefetch(struct mx_conn *c, uint32_t n)
{
	c->prefetch = n ? n : 1;
}

/* What a reply means: its msgid says whether the server answered at all. */
static int
reply_status(struct mx_conn *c, struct mx_msg *m)
{
	int64_t code;
	char text[256];

	if (m->msgid == MX_MSGID_NO_REPLY)
		return -MX_ERR_NOREPLY;
	if (m->msgid == MX_MSGID_ERROR) {
		size_t save = m->rpos;
		text[0] = '\0';
		if (mx_msg_get_int(m, &code) == 0)
			(void)mx_msg_get_string(m, text, sizeof(text));
		m->rpos = save;
		set_detail(c, "%s", text);
		return -MX_ERR_REMOTE;
	}
	return 0;
}

int
masix_request(struct mx_conn *c, struct mx_msg *m, uint32_t timeout_ms, struct mx_msg **out)
{
	uint8_t fixed[4 + MX_MSG_HDR];
	struct mx_frame_hdr h;
	const uint8_t *p;
	struct stashed *s;
	uint32_t id;
	int r;

	*out = NULL;
	c->detail[0] = '\0';
	if (c->reply_port == MX_NAME_NULL && (r = masix_port_alloc(c, &c->reply_port)) < 0)
		return r;
	m->reply = c->reply_port;
	m->reply_disp = MX_DISP_MAKE_SEND_ONCE;
	put_u32(fixed, timeout_ms);
	pack_msg_hdr(fixed + 4, m, timeout_ms);
	id = new_id(c);
	if ((r = send_frame(c, MX_OP_RPC, id, fixed, sizeof(fixed), m->items, m->len)) < 0)
		return r;
	if ((r = wait_for(c, id, &h, &p, &s)) < 0)
		return r;
	r = take_answer(&h, p, out);
	if (s) {
		free(s->payload);
		free(s);
	}
	if (r == -MX_ERR_TIMEOUT) {
		/* A late answer must not be taken for the next request's. */
		masix_port_destroy(c, c->reply_port);
		c->reply_port = MX_NAME_NULL;
	}
	if (r == 0)
		r = reply_status(c, *out);
	return r;
}

int
masix_reply(struct mx_conn *c, const struct mx_msg *req, struct mx_msg *m)
{
	if (req->reply == MX_NAME_NULL)
		return -MX_ERR_INVAL;
	m->dest = req->reply;
	m->reply = MX_NAME_NULL;
	if (m->msgid == 0)
		m->msgid = MX_MSGID_REPLY;
	return masix_send(c, m, MX_FOREVER);
}

int
masix_reply_error(struct mx_conn *c, const struct mx_msg *req, int code, const char *text)
{
	struct mx_msg *m = mx_msg_new(MX_MSGID_ERROR);
	int r;

	if (m == NULL)
		return -MX_ERR_NOMEM;
	if ((r = mx_msg_add_int(m, code)) == 0 && (r = mx_msg_add_string(m, text)) == 0)
		r = masix_reply(c, req, m);
	mx_msg_free(m);
	return r;
}
