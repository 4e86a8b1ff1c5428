/*
 * task.h — the connection layer: one connection to portd is one task, with
 * its input frames, its output queue, its flow control and its port name
 * space. task.c calls up only through the callbacks of task_conf.
 */
#ifndef PORTD_TASK_H
#define PORTD_TASK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>
#include "ev.h"
#include "identity.h"
#include "ipc.h"
#include "wire.h"

struct ops_psend;		/* the request layer's blocked send */
struct rsend;			/* the node layer's send in flight */

/* Output: a queue of segments, each copied bytes then, maybe, a message body. */
struct oseg {
	TAILQ_ENTRY(oseg) link;
	uint8_t *buf;
	size_t len, cap;
	struct kmsg *km;		/* body written after buf, or NULL */
	size_t off;			/* bytes of buf + body already written */
};
TAILQ_HEAD(osegq, oseg);

struct task {
	uint64_t id;
	struct ev_io io;
	int closing;
	uid_t uid;
	gid_t gid;
	pid_t pid;
	struct ident ident;		/* its process, pinned at connect (identity.c) */
	struct ipc_space space;		/* its port names */
	uint8_t *in;			/* input frames */
	size_t inlen, incap;
	size_t incharged;		/* of incap, charged to its uid (past the default size) */
	uint64_t nreads;		/* reads that returned bytes (identity_stamp checks once per read) */
	/*
	 * Input another process wrote (SO_PASSCRED: each read has one writer):
	 * bytes [foreign_lo, foreign_hi) of in hold all of it (hi 0: none), the
	 * last such writer was foreign_pid (0: unknown). A frame that overlaps
	 * it carries no service (task_stamp).
	 */
	size_t foreign_lo, foreign_hi;
	pid_t foreign_pid, foreign_logged;
	int frame_foreign;		/* the frame being dispatched overlaps it */
	struct ev_timer frame_timer;	/* armed while an incomplete frame waits */
	int stalled;			/* a send of ours waits for room: stop reading */
	int muted;			/* stalled with input waiting: EPOLLIN off */
	struct ops_psend *psend;
	LIST_HEAD(, rsend) rsends;	/* sends of ours waiting for another node's ACK */
	int nrsends;
	int rwindow;			/* stalled until one of them is acknowledged */
	struct osegq out;		/* its bytes: space.outbytes */
	LIST_ENTRY(task) link;
	LIST_ENTRY(task) dlink;		/* on the dirty list: output or events to update */
	int dirty;
	LIST_ENTRY(task) rlink;		/* on the runnable list: frames to take after this batch */
	int runnable;
};

/* task.c: connections. It calls up only through these, given at init. */
struct task_conf {
	struct ev_loop *loop;
	uint32_t max_tasks;
	size_t out_max;			/* the core's mark: below it again, receives go on */
	uint32_t frame_timeout_ms;
	/* A request frame: 0, or 1 when steal (the input buffer) now belongs to a message. */
	int (*dispatch)(struct task *t, const struct mx_frame_hdr *h, const uint8_t *p, uint8_t *steal);
	void (*closed)(struct task *t);	/* the connection is gone: release what it held */
};
void task_init(const struct task_conf *c);
void task_listen_init(int lfd);		/* the listener: tasks' writes come with their writer's pid */
int task_accept(int lfd);		/* 0, or -errno: out of descriptors or memory */
/* The service to stamp on the message being dispatched: "" unless its process wrote all of it. */
const char *task_stamp(struct task *t);
void task_reply(struct task *t, uint8_t type, uint32_t id, uint32_t status, const void *p, size_t n);
void task_queue_msg(struct task *t, const uint8_t *hdr, size_t hlen, struct kmsg *km);
void task_close(struct task *t, const char *why);
void task_resume(struct task *t);
void task_stall(struct task *t, int window);	/* a send of ours waits: take no more frames */
void task_send_ended(struct task *t, int stalled);	/* one did end: resume if it held us */
struct task *task_with_service(const char *svc);	/* the task holding that verified service, or NULL */
void tasks_flush(void *arg);
void tasks_close_all(void);

/* The task whose name space s is (the core hands spaces back in its hooks). */
static inline struct task *
task_of(struct ipc_space *s)
{
	return (struct task *)((char *)s - offsetof(struct task, space));
}

#endif
