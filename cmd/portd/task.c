/*
 * task.c — one connection to portd is one task. Frames are read in
 * batches and answered into an output queue that is written once per loop
 * turn, so a burst of messages costs a few syscalls, not a few per message.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include "log.h"
#include "task.h"

#define IN_DEFAULT	(64 * 1024)
#define BIG_FRAME	(64 * 1024)	/* from here on a frame's buffer is handed over, not copied */
#define OSEG_MIN	(16 * 1024)
#define OUT_HIGH	(4u << 20)	/* stop reading a task whose answers pile up */
#define IOV_MAX_BATCH	64

static LIST_HEAD(, task) tasks = LIST_HEAD_INITIALIZER(tasks);
static LIST_HEAD(, task) zombies = LIST_HEAD_INITIALIZER(zombies);
/* Tasks with output to write or epoll events to update: the loop visits only these. */
static LIST_HEAD(, task) dirty = LIST_HEAD_INITIALIZER(dirty);
/* Tasks resumed during this batch: their waiting frames are taken by tasks_flush(), not at once. */
static LIST_HEAD(, task) runnable = LIST_HEAD_INITIALIZER(runnable);
static uint64_t next_task_id;
static struct task_conf task_conf;

static int ntasks;

static void task_io(struct ev_io *io, uint32_t revents);
static void frame_timeout(struct ev_timer *tm);


void
task_init(const struct task_conf *c)
{
	task_conf = *c;
}

static void
task_dirty(struct task *t)
{
	if (t->dirty || t->closing)
		return;
	t->dirty = 1;
	LIST_INSERT_HEAD(&dirty, t, dlink);
}

/*
 * Every write of a task comes with its writer's pid (SO_PASSCRED): set on
 * the listener, so each connection has it from connect() on, before any
 * byte is written (the kernel copies it at connect, or at accept before
 * Linux 6.16, and credits writes made before accept anyway).
 */
void
task_listen_init(int lfd)
{
	int one = 1;

	if (setsockopt(lfd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0)
		fatal("SO_PASSCRED");
}

/*
 * Take the waiting connections. Returns 0, or -errno when the process or the
 * system is out of file descriptors or memory: the caller stops watching the
 * listener for a while (the connection stays queued, and a level-triggered
 * listener would report it again at once: a busy loop).
 */
int
task_accept(int lfd)
{
	static struct log_throttle refuse_thr, err_thr;
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	struct task *t;
	int fd;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0) {
			if (log_throttle(&err_thr, "accept"))
				log_warn("SO_PEERCRED");
			close(fd);
			continue;
		}
		/* max_tasks with a reserve for root and the trusted uid, and the uid's connections. */
		if (ipc_acct_admit(cred.uid, (uint32_t)ntasks, task_conf.max_tasks) < 0) {
			if (log_throttle(&refuse_thr, "refusing task"))
				log_warnx("refusing task pid %d: %s", (int)cred.pid, ipc_acct_why());
			close(fd);
			continue;
		}
		if ((t = calloc(1, sizeof(*t))) == NULL || (t->in = malloc(IN_DEFAULT)) == NULL)
			fatal("task");
		t->id = ++next_task_id;
		t->incap = IN_DEFAULT;
		t->uid = cred.uid;
		t->gid = cred.gid;
		t->pid = cred.pid;
		t->foreign_logged = -1;
		identity_pin(&t->ident, fd, cred.pid);
		ipc_space_init(&t->space, cred.uid, cred.gid, cred.pid);
		ev_timer_init(&t->frame_timer, frame_timeout, t);
		TAILQ_INIT(&t->out);
		LIST_INIT(&t->rsends);
		t->io.cb = task_io;
		t->io.arg = t;
		if (ev_io_add(task_conf.loop, &t->io, fd, EPOLLIN) < 0)
			fatal("epoll");
		LIST_INSERT_HEAD(&tasks, t, link);
		ntasks++;
		log_debug("task %llu: pid %d uid %u connected", (unsigned long long)t->id, (int)t->pid,
		    (unsigned)t->uid);
	}
	if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
		return -errno;
	if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && log_throttle(&err_thr, "accept"))
		log_warn("accept");
	return 0;
}

/* ---- output ---- */

static struct oseg *
oseg_tail_room(struct task *t, size_t need)
{
	struct oseg *s = TAILQ_LAST(&t->out, osegq);

	if (s != NULL && s->km == NULL && s->cap - s->len >= need)
		return s;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		fatal("oseg");
	s->cap = need > OSEG_MIN ? need : OSEG_MIN;
	if ((s->buf = malloc(s->cap)) == NULL)
		fatal("oseg");
	TAILQ_INSERT_TAIL(&t->out, s, link);
	return s;
}

void
task_reply(struct task *t, uint8_t type, uint32_t id, uint32_t status, const void *p, size_t n)
{
	struct mx_frame_hdr h = { .len = (uint32_t)n, .type = type, .flags = MX_F_REPLY, .id = id,
	    .status = status };
	struct oseg *s;

	if (t->closing)
		return;
	s = oseg_tail_room(t, MX_FRAME_HDR + n);
	frame_hdr_pack(s->buf + s->len, &h);
	if (n > 0)
		memcpy(s->buf + s->len + MX_FRAME_HDR, p, n);
	s->len += MX_FRAME_HDR + n;
	t->space.outbytes += MX_FRAME_HDR + n;
	task_dirty(t);
}

void
task_queue_msg(struct task *t, const uint8_t *hdr, size_t hlen, struct kmsg *km)
{
	struct oseg *s;
	size_t len = km->len;

	if (t->closing) {
		ipc_kmsg_unref(km);
		return;
	}
	/* Small bodies are copied next to their header; large ones are written from the message. */
	if (km->len < OSEG_MIN) {
		s = oseg_tail_room(t, hlen + km->len);
		memcpy(s->buf + s->len, hdr, hlen);
		if (km->len > 0)
			memcpy(s->buf + s->len + hlen, km->items, km->len);
		s->len += hlen + km->len;
		ipc_kmsg_unref(km);
	} else {
		s = oseg_tail_room(t, hlen);
		memcpy(s->buf + s->len, hdr, hlen);
		s->len += hlen;
		if (s->km != NULL)
			fatalx("oseg reuse");
		s->km = km;	/* closes this segment: later output goes to a new one */
	}
	t->space.outbytes += hlen + len;
	task_dirty(t);
}

static void
oseg_free(struct oseg *s)
{
	if (s->km)
		ipc_kmsg_unref(s->km);
	free(s->buf);
	free(s);
}

/* Write what we can; 0, or -1 when the task must be closed. */
static int
task_flush(struct task *t)
{
	int kick = 0;

	while (!TAILQ_EMPTY(&t->out)) {
		struct iovec iov[IOV_MAX_BATCH];
		struct oseg *s;
		int n = 0;
		ssize_t w;

		TAILQ_FOREACH(s, &t->out, link) {
			size_t off = s->off;
			if (n + 2 > IOV_MAX_BATCH)
				break;
			if (off < s->len) {
				iov[n].iov_base = s->buf + off;
				iov[n++].iov_len = s->len - off;
				off = s->len;
			}
			if (s->km != NULL && off - s->len < s->km->len) {
				iov[n].iov_base = s->km->items + (off - s->len);
				iov[n++].iov_len = s->km->len - (off - s->len);
			}
		}
		w = writev(t->io.fd, iov, n);
		if (w < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (t->space.outbytes >= task_conf.out_max && t->space.outbytes - (size_t)w < task_conf.out_max)
			kick = 1;
		t->space.outbytes -= (size_t)w;
		while (w > 0 && (s = TAILQ_FIRST(&t->out)) != NULL) {
			size_t total = s->len + (s->km ? s->km->len : 0), left = total - s->off;
			if ((size_t)w < left) {
				s->off += (size_t)w;
				break;
			}
			w -= (ssize_t)left;
			TAILQ_REMOVE(&t->out, s, link);
			oseg_free(s);
		}
	}
	/* Below the mark again: the receives that waited on our output go on. */
	if (kick)
		ipc_space_kick_recv(&t->space);
	return 0;
}

static void
task_update_events(struct task *t)
{
	uint32_t ev = 0;

	/*
	 * A stalled task keeps EPOLLIN until it actually sends more (muted):
	 * one waiting for its answer costs no epoll_ctl on the way.
	 */
	if (!t->muted && t->space.outbytes < OUT_HIGH)
		ev |= EPOLLIN;
	if (!TAILQ_EMPTY(&t->out))
		ev |= EPOLLOUT;
	ev_io_set(task_conf.loop, &t->io, ev);
}

/* ---- input ---- */

/*
 * A large frame's buffer grows as its bytes arrive (doubling, up to the
 * frame), never to the announced size at once, and what it holds past
 * IN_DEFAULT is charged to the task's uid: 0, or -1 with the task closed.
 */
static int
in_grow(struct task *t, size_t need)
{
	size_t ncap = t->incap * 2 < need ? t->incap * 2 : need;
	uint8_t *nb;

	if (ipc_acct_charge(t->space.acct, ACCT_BYTES, ncap - t->incap) < 0) {
		task_close(t, ipc_acct_why());
		return -1;
	}
	t->incharged += ncap - t->incap;
	if ((nb = realloc(t->in, ncap)) == NULL)
		fatal("input");
	t->in = nb;
	t->incap = ncap;
	return 0;
}

/* Charge the input buffer what it holds past IN_DEFAULT (keep: 1), or nothing (0). */
static void
in_settle(struct task *t, int keep)
{
	size_t want = keep && t->incap > IN_DEFAULT ? t->incap - IN_DEFAULT : 0;

	if (t->incharged > want)
		ipc_acct_uncharge(t->space.acct, ACCT_BYTES, t->incharged - want);
	else if (want > t->incharged)
		ipc_acct_force(t->space.acct, ACCT_BYTES, want - t->incharged);
	t->incharged = want;
}

/* An incomplete frame waits at most frame_timeout_ms for its bytes. */
static void
frame_timer_set(struct task *t, int partial)
{
	if (!partial || t->closing)
		ev_timer_disarm(task_conf.loop, &t->frame_timer);
	else if (!ev_timer_armed(&t->frame_timer))
		ev_timer_arm(task_conf.loop, &t->frame_timer, ev_now() + task_conf.frame_timeout_ms);
}

static void
frame_timeout(struct ev_timer *tm)
{
	static struct log_throttle thr;	/* its own: other closes must not hide these */
	struct task *t = tm->arg;

	if (log_throttle(&thr, "incomplete frame"))
		log_warnx("task %llu (pid %d): incomplete frame timed out, closing", (unsigned long long)t->id,
		    (int)t->pid);
	task_close(t, NULL);
}

/*
 * Who wrote the n bytes just read at the end of the input. With SO_PASSCRED
 * the kernel never joins in one read bytes of two writers, and a read says
 * whose they are: not the process that connected (a child it forked, a
 * process it handed the socket to), they are marked, and no frame holding
 * any of them carries the task's service (task_stamp).
 */
static void
in_writer(struct task *t, struct msghdr *mh, size_t n)
{
	struct cmsghdr *c = CMSG_FIRSTHDR(mh);
	struct ucred uc;
	pid_t w = 0;
	int one = 1;

	if (c != NULL && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
	    c->cmsg_len == CMSG_LEN(sizeof(uc))) {
		memcpy(&uc, CMSG_DATA(c), sizeof(uc));
		w = uc.pid;	/* 0: written without credentials, or from a pid namespace we do not see */
	} else {
		/* Queued before our listener asked for credentials (socket activation): from now on. */
		(void)setsockopt(t->io.fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
	}
	if (w == t->pid && w != 0)
		return;
	if (t->foreign_hi == 0)
		t->foreign_lo = t->inlen;
	t->foreign_hi = t->inlen + n;
	t->foreign_pid = w;
}

/* off bytes left the front of the input: the marked bytes move with the rest. */
static void
in_shift(struct task *t, size_t off)
{
	if (t->foreign_hi <= off) {
		t->foreign_lo = t->foreign_hi = 0;
		return;
	}
	t->foreign_lo = t->foreign_lo > off ? t->foreign_lo - off : 0;
	t->foreign_hi -= off;
}

const char *
task_stamp(struct task *t)
{
	static struct log_throttle thr;

	if (t->ident.procfd < 0)
		return "";
	if (!t->frame_foreign)
		return identity_stamp(&t->ident, t->nreads);
	if (t->foreign_pid != t->foreign_logged && log_throttle(&thr, "foreign writer")) {
		t->foreign_logged = t->foreign_pid;
		log_warnx("pid %d (not the registered process %d) wrote on the connection of task %llu ('%s'): "
		    "its messages carry no service", (int)t->foreign_pid, (int)t->pid, (unsigned long long)t->id,
		    t->ident.service);
	}
	return "";
}

static void
process_frames(struct task *t)
{
	size_t off = 0;
	int partial = 0;

	while (!t->stalled && !t->closing && t->inlen - off >= MX_FRAME_HDR) {
		struct mx_frame_hdr h;
		size_t need;
		uint8_t *steal = NULL;
		int r;

		if ((r = frame_hdr_unpack(t->in + off, &h)) != 0) {
			static struct log_throttle thr;

			if (log_throttle(&thr, "bad frame"))
				log_warnx("task %llu (pid %d): bad frame: %s, closing", (unsigned long long)t->id,
			    (int)t->pid, mx_strerror(r));
			task_close(t, NULL);
			return;
		}
		need = MX_FRAME_HDR + (size_t)h.len;
		if (t->inlen - off < need) {
			if (off > 0) {
				/* The frame at the front, and room for more of it as it arrives. */
				memmove(t->in, t->in + off, t->inlen - off);
				t->inlen -= off;
				in_shift(t, off);
				off = 0;
			}
			if (t->inlen == t->incap && in_grow(t, need) < 0)
				return;
			break;
		}
		if (h.len >= BIG_FRAME && off == 0 && t->inlen == need)
			steal = t->in;
		/* The frame's bytes are the message's now: copy-in charges them itself. */
		in_settle(t, 0);
		t->frame_foreign = t->foreign_hi > off && t->foreign_lo < off + need;
		r = task_conf.dispatch(t, &h, t->in + off + MX_FRAME_HDR, steal);
		if (r == 1) {
			/* The buffer now belongs to a message. */
			if ((t->in = malloc(IN_DEFAULT)) == NULL)
				fatal("input");
			t->incap = IN_DEFAULT;
			t->inlen = 0;
			t->foreign_lo = t->foreign_hi = 0;
			frame_timer_set(t, 0);
			return;
		}
		off += need;
	}
	/* Not stalled nor closing, the loop stops only at an incomplete frame. */
	partial = !t->stalled && !t->closing && t->inlen > off;
	frame_timer_set(t, partial);
	if (off > 0) {
		memmove(t->in, t->in + off, t->inlen - off);
		t->inlen -= off;
		in_shift(t, off);
	}
	if (t->incap > IN_DEFAULT && t->inlen <= IN_DEFAULT / 2 && t->inlen < MX_FRAME_HDR) {
		uint8_t *nb = realloc(t->in, IN_DEFAULT);
		if (nb != NULL) {
			t->in = nb;
			t->incap = IN_DEFAULT;
		}
	}
	in_settle(t, 1);
}

static void
task_read(struct task *t)
{
	/* Room for the writer's credentials only: descriptors a task sends are closed by the kernel. */
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(struct ucred))];
	} cm;

	for (;;) {
		struct iovec iov;
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b,
		    .msg_controllen = sizeof(cm.b) };
		ssize_t n;
		size_t room;

		if (t->stalled)
			t->muted = 1;	/* input while a send of ours waits: stop reading */
		if (t->stalled || t->closing || t->space.outbytes >= OUT_HIGH)
			return;
		room = t->incap - t->inlen;
		iov.iov_base = t->in + t->inlen;
		iov.iov_len = room;
		n = recvmsg(t->io.fd, &mh, MSG_CMSG_CLOEXEC);
		if (n == 0) {
			task_close(t, NULL);
			return;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ECONNRESET) {
				task_close(t, NULL);	/* it left without reading our answers */
			} else if (errno != EAGAIN && errno != EWOULDBLOCK) {
				static struct log_throttle thr;

				if (log_throttle(&thr, "task read"))
					log_warn("task %llu: read", (unsigned long long)t->id);
				task_close(t, NULL);
			}
			return;
		}
		in_writer(t, &mh, (size_t)n);
		t->inlen += (size_t)n;
		t->nreads++;
		process_frames(t);
		/* Drained, or the next bytes are another writer's: epoll (level-triggered) says so. */
		if ((size_t)n < room)
			return;
	}
}

static void
task_io(struct ev_io *io, uint32_t revents)
{
	struct task *t = io->arg;

	if (t->closing)
		return;
	if ((revents & (EPOLLHUP | EPOLLERR)) && (t->stalled || t->space.outbytes >= OUT_HIGH)) {
		task_close(t, NULL);	/* gone while we were not reading it */
		return;
	}
	if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR))
		task_read(t);
	if (!t->closing && (revents & EPOLLOUT) && task_flush(t) < 0)
		task_close(t, NULL);
	task_dirty(t);	/* stalls, mutes and writes change what to watch */
}

/*
 * A send of ours ended: take frames again. Not here: this runs inside
 * whatever completed the send (another task's request, a link's read
 * handler, a timer), so the frames wait for the end of the batch.
 */
void
task_resume(struct task *t)
{
	if (t->closing || !t->stalled)
		return;
	t->stalled = 0;
	t->muted = 0;
	task_dirty(t);
	if (!t->runnable) {
		t->runnable = 1;
		LIST_INSERT_HEAD(&runnable, t, rlink);
	}
}

/*
 * Flow control, all of it here: a task is stalled while a send of its own
 * waits (a full local queue, an RPC to another node, or a full window of
 * plain sends to other nodes); muted once input arrives meanwhile.
 */
void
task_stall(struct task *t, int window)
{
	t->stalled = 1;
	if (window)
		t->rwindow = 1;
}

void
task_send_ended(struct task *t, int stalled)
{
	if (stalled || t->rwindow) {
		t->rwindow = 0;
		task_resume(t);
	}
}

/* ---- closing ---- */

void
task_close(struct task *t, const char *why)
{
	static struct log_throttle thr;

	if (t->closing)
		return;
	if (why && log_throttle(&thr, "task closed"))
		log_warnx("task %llu (pid %d): %s", (unsigned long long)t->id, (int)t->pid, why);
	log_debug("task %llu: closed", (unsigned long long)t->id);
	t->closing = 1;
	ev_timer_disarm(task_conf.loop, &t->frame_timer);
	ev_io_del(task_conf.loop, &t->io);
	close(t->io.fd);
	t->io.fd = -1;
	LIST_REMOVE(t, link);
	ntasks--;
	if (t->runnable) {
		LIST_REMOVE(t, rlink);
		t->runnable = 0;
	}
	t->space.closing = 1;
	task_conf.closed(t);
	LIST_INSERT_HEAD(&zombies, t, link);
}

static void
task_free(struct task *t)
{
	struct oseg *s;

	while ((s = TAILQ_FIRST(&t->out)) != NULL) {
		TAILQ_REMOVE(&t->out, s, link);
		oseg_free(s);
	}
	in_settle(t, 0);
	free(t->in);
	free(t);
}

/* After each batch of events: write out, and free the tasks closed meanwhile. */
void
tasks_flush(void *arg)
{
	struct task *t;

	(void)arg;
	do {
		/* Resumed tasks take their waiting frames: this may resume others. */
		while ((t = LIST_FIRST(&runnable)) != NULL) {
			LIST_REMOVE(t, rlink);
			t->runnable = 0;
			process_frames(t);
		}
		/* Pop until empty: closing one task may give others output. */
		while ((t = LIST_FIRST(&dirty)) != NULL) {
			LIST_REMOVE(t, dlink);
			t->dirty = 0;
			if (t->closing)
				continue;
			if (!TAILQ_EMPTY(&t->out) && task_flush(t) < 0) {
				task_close(t, NULL);
				continue;
			}
			task_update_events(t);
		}
	} while (!LIST_EMPTY(&runnable));
	while ((t = LIST_FIRST(&zombies)) != NULL) {
		LIST_REMOVE(t, link);
		task_free(t);
	}
}

void
tasks_close_all(void)
{
	struct task *t;

	while ((t = LIST_FIRST(&tasks)) != NULL)
		task_close(t, NULL);
	tasks_flush(NULL);
}

/* The live task holding the verified service svc (one at most: a name is registered once), or NULL. */
struct task *
task_with_service(const char *svc)
{
	struct task *t;

	LIST_FOREACH(t, &tasks, link)
		if (!t->space.closing && strcmp(t->ident.service, svc) == 0)
			return t;
	return NULL;
}
