/* ev.h — a small epoll event loop with timers and signals. */
#ifndef MX_EV_H
#define MX_EV_H

#include <stdint.h>
#include <sys/epoll.h>

struct ev_loop;

struct ev_io {
	int fd;
	uint32_t events;		/* EPOLLIN / EPOLLOUT currently watched */
	void (*cb)(struct ev_io *io, uint32_t revents);
	void *arg;
};

struct ev_timer {
	uint64_t deadline;		/* ms, monotonic */
	void (*cb)(struct ev_timer *t);
	void *arg;
	int slot;			/* heap index, -1 when not armed */
};

struct ev_loop *ev_new(void);
void ev_free(struct ev_loop *l);
uint64_t ev_now(void);			/* monotonic ms */

int ev_io_add(struct ev_loop *l, struct ev_io *io, int fd, uint32_t events);
int ev_io_set(struct ev_loop *l, struct ev_io *io, uint32_t events);
void ev_io_del(struct ev_loop *l, struct ev_io *io);

void ev_timer_init(struct ev_timer *t, void (*cb)(struct ev_timer *), void *arg);
int ev_timer_arm(struct ev_loop *l, struct ev_timer *t, uint64_t deadline);
void ev_timer_disarm(struct ev_loop *l, struct ev_timer *t);
static inline int ev_timer_armed(const struct ev_timer *t) { return t->slot >= 0; }

/* Handle signo in the loop (blocked and read from a signalfd). */
int ev_signal(struct ev_loop *l, int signo, void (*cb)(int signo, void *arg), void *arg);
/* Called after every batch of events: flush output, free what was closed. */
void ev_set_after(struct ev_loop *l, void (*cb)(void *arg), void *arg);

int ev_run(struct ev_loop *l);		/* until ev_break(); 0, or -1 with errno */
void ev_break(struct ev_loop *l);

#endif
