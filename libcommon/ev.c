/* ev.c — epoll, a binary heap of timers, and signals through a signalfd. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/signalfd.h>
#include "ev.h"

#define EV_BATCH 128

struct sigslot {
	void (*cb)(int, void *);
	void *arg;
};

struct ev_loop {
	int epfd;
	int stop;
	struct ev_timer **heap;
	int nheap, capheap;
	int sigfd;
	sigset_t sigs;
	struct ev_io sigio;
	struct sigslot sig[65];
	void (*after)(void *);
	void *after_arg;
};

uint64_t
ev_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct ev_loop *
ev_new(void)
{
	struct ev_loop *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return NULL;
	l->sigfd = -1;
	sigemptyset(&l->sigs);
	if ((l->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		free(l);
		return NULL;
	}
	return l;
}

void
ev_free(struct ev_loop *l)
{
	if (l == NULL)
		return;
	close(l->epfd);
	if (l->sigfd >= 0)
		close(l->sigfd);
	free(l->heap);
	free(l);
}

int
ev_io_add(struct ev_loop *l, struct ev_io *io, int fd, uint32_t events)
{
	struct epoll_event ee = { .events = events, .data.ptr = io };

	io->fd = fd;
	io->events = events;
	return epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ee);
}

int
ev_io_set(struct ev_loop *l, struct ev_io *io, uint32_t events)
{
	struct epoll_event ee = { .events = events, .data.ptr = io };

	if (io->events == events)
		return 0;
	io->events = events;
	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, io->fd, &ee);
}

void
ev_io_del(struct ev_loop *l, struct ev_io *io)
{
	if (io->fd >= 0)
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL);
}

/* ---- timers: a min-heap on deadline ---- */

static void
heap_swap(struct ev_loop *l, int a, int b)
{
	struct ev_timer *t = l->heap[a];

	l->heap[a] = l->heap[b];
	l->heap[b] = t;
	l->heap[a]->slot = a;
	l->heap[b]->slot = b;
}

static void
heap_up(struct ev_loop *l, int i)
{
	while (i > 0 && l->heap[(i - 1) / 2]->deadline > l->heap[i]->deadline) {
		heap_swap(l, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void
heap_down(struct ev_loop *l, int i)
{
	for (;;) {
		int m = i, a = 2 * i + 1, b = 2 * i + 2;
		if (a < l->nheap && l->heap[a]->deadline < l->heap[m]->deadline)
			m = a;
		if (b < l->nheap && l->heap[b]->deadline < l->heap[m]->deadline)
			m = b;
		if (m == i)
			return;
		heap_swap(l, i, m);
		i = m;
	}
}

void
ev_timer_init(struct ev_timer *t, void (*cb)(struct ev_timer *), void *arg)
{
	t->cb = cb;
	t->arg = arg;
	t->slot = -1;
	t->deadline = 0;
}

int
ev_timer_arm(struct ev_loop *l, struct ev_timer *t, uint64_t deadline)
{
	if (t->slot >= 0)
		ev_timer_disarm(l, t);
	if (l->nheap == l->capheap) {
		int cap = l->capheap ? l->capheap * 2 : 64;
		struct ev_timer **h = realloc(l->heap, (size_t)cap * sizeof(*h));
		if (h == NULL)
			return -1;
		l->heap = h;
		l->capheap = cap;
	}
	t->deadline = deadline;
	t->slot = l->nheap;
	l->heap[l->nheap++] = t;
	heap_up(l, t->slot);
	return 0;
}

void
ev_timer_disarm(struct ev_loop *l, struct ev_timer *t)
{
	int i = t->slot;

	if (i < 0)
		return;
	t->slot = -1;
	l->nheap--;
	if (i == l->nheap)
		return;
	l->heap[i] = l->heap[l->nheap];
	l->heap[i]->slot = i;
	heap_up(l, i);
	heap_down(l, l->heap[i]->slot);
}

static void
run_timers(struct ev_loop *l)
{
	uint64_t now = ev_now();

	while (l->nheap > 0 && l->heap[0]->deadline <= now) {
		struct ev_timer *t = l->heap[0];
		ev_timer_disarm(l, t);
		t->cb(t);
	}
}

/* ---- signals ---- */

static void
sig_read(struct ev_io *io, uint32_t revents)
{
	struct ev_loop *l = io->arg;
	struct signalfd_siginfo si;

	(void)revents;
	while (read(l->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo < 65 && l->sig[si.ssi_signo].cb)
			l->sig[si.ssi_signo].cb((int)si.ssi_signo, l->sig[si.ssi_signo].arg);
	}
}

int
ev_signal(struct ev_loop *l, int signo, void (*cb)(int, void *), void *arg)
{
	int fd;

	if (signo <= 0 || signo >= 65)
		return -1;
	sigaddset(&l->sigs, signo);
	if (sigprocmask(SIG_BLOCK, &l->sigs, NULL) < 0)
		return -1;
	if ((fd = signalfd(l->sigfd, &l->sigs, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		return -1;
	l->sig[signo].cb = cb;
	l->sig[signo].arg = arg;
	if (l->sigfd < 0) {
		l->sigfd = fd;
		l->sigio.cb = sig_read;
		l->sigio.arg = l;
		return ev_io_add(l, &l->sigio, fd, EPOLLIN);
	}
	return 0;
}

void
ev_set_after(struct ev_loop *l, void (*cb)(void *), void *arg)
{
	l->after = cb;
	l->after_arg = arg;
}

void ev_break(struct ev_loop *l) { l->stop = 1; }

int
ev_run(struct ev_loop *l)
{
	struct epoll_event ev[EV_BATCH];

	while (!l->stop) {
		int timeout = -1, n, i;

		if (l->after)
			l->after(l->after_arg);
		if (l->stop)
			break;
		if (l->nheap > 0) {
			uint64_t now = ev_now(), dl = l->heap[0]->deadline;
			timeout = dl <= now ? 0 : (dl - now > 60000 ? 60000 : (int)(dl - now));
		}
		n = epoll_wait(l->epfd, ev, EV_BATCH, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		for (i = 0; i < n; i++) {
			struct ev_io *io = ev[i].data.ptr;
			io->cb(io, ev[i].events);
		}
		run_timers(l);
	}
	return 0;
}
