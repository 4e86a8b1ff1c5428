/*
 * portd.h — what portd's layers above the IPC core share: tasks
 * (connections), the configuration, and each layer's entry points. The
 * core itself (ports, rights, spaces, messages) is ipc.h.
 */
#ifndef PORTD_H
#define PORTD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>
#include "ev.h"
#include "ipc.h"
#include "map.h"
#include "masix.h"
#include "wire.h"

struct task;
struct rnode;
struct rsend;

/* A task's send waiting for room in a full local queue. */
struct ops_psend {
	struct psend ps;		/* first: the core hands back &ps */
	struct task *task;
	uint32_t frame_id;
	int rpc;			/* then receive on the reply port */
	mx_name_t rpc_reply;
	uint32_t rpc_timeout;
};

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
	struct ipc_space space;		/* its port names */
	uint8_t *in;			/* input frames */
	size_t inlen, incap;
	int stalled;			/* a send of ours waits for room: stop reading */
	int muted;			/* stalled with input waiting: EPOLLIN off */
	struct ops_psend *psend;
	LIST_HEAD(, rsend) rsends;	/* sends of ours waiting for another node's ACK */
	int nrsends;
	int rwindow;			/* stalled until one of them is acknowledged */
	struct osegq out;
	size_t outbytes;
	LIST_ENTRY(task) link;
	LIST_ENTRY(task) dlink;		/* on the dirty list: output or events to update */
	int dirty;
	LIST_ENTRY(task) rlink;		/* on the runnable list: frames to take after this batch */
	int runnable;
};

struct portd_conf {
	char node[MX_NODE_MAX + 1];
	char rundir[256];
	uid_t trusted_uid;		/* may hold NAME and KEY besides root and our own uid */
	int has_trusted_uid;
	uint32_t qlimit;		/* default queue limit, messages */
	size_t qlimit_bytes;
	uint32_t max_names;		/* rights one task may hold */
	uint32_t max_tasks;
	uint64_t incarnation;		/* random at every start: tells this life from the last */
	char state_dir[256];		/* node.key, node.crt, ca.crt, revoked.crl */
	char listens[8][128];		/* "[ADDR]:PORT"s for links */
	int nlistens;
	char broadcast[64];		/* "ADDR[:PORT]", or "" for off */
	char peers[16][128];		/* static peers "HOST[:PORT]" */
	int npeers;
	uint32_t node_timeout_ms;	/* a node gone this long: its proxies die */
	uint32_t resolve_ms;		/* how long namesrv waits for network answers */
};


/* task.c: connections. It calls up only through these, given at init. */
struct task_conf {
	struct ev_loop *loop;
	uint32_t max_tasks;
	/* A request frame: 0, or 1 when steal (the input buffer) now belongs to a message. */
	int (*dispatch)(struct task *t, const struct mx_frame_hdr *h, const uint8_t *p, uint8_t *steal);
	void (*closed)(struct task *t);	/* the connection is gone: release what it held */
};
void task_init(const struct task_conf *c);
void task_accept(int lfd);
void task_reply(struct task *t, uint8_t type, uint32_t id, uint32_t status, const void *p, size_t n);
void task_queue_msg(struct task *t, const uint8_t *hdr, size_t hlen, struct kmsg *km);
void task_close(struct task *t, const char *why);
void task_resume(struct task *t);
void task_stall(struct task *t, int window);	/* a send of ours waits: take no more frames */
void task_send_ended(struct task *t, int stalled);	/* one did end: resume if it held us */
void tasks_flush(void *arg);
void tasks_close_all(void);
int task_count(void);

/* node*.c */
int node_init(struct portd_conf *c, struct ev_loop *l, char *why, size_t whysz);
/*
 * How a task's send to another node ends (status 0 or a positive MX_ERR_*;
 * stalled: the task waited for this one), and how a request for another
 * node's service port ends (p referenced when status is 0): the request
 * layer's callbacks, stored with the request.
 */
typedef void node_done_fn(struct task *t, uint8_t op, uint32_t frame_id, uint32_t status,
    mx_name_t rpc_reply, uint32_t rpc_timeout, int stalled);
typedef void node_special_fn(struct task *t, uint32_t frame_id, uint32_t status, struct port *p);
enum { NODE_STALL = 1, NODE_WINDOW = 2 };	/* node_msg_send: the task must wait */
int node_msg_send(struct task *t, const struct mx_frame_hdr *h, struct kmsg *km, int dest_so,
    uint32_t timeout_ms, mx_name_t rpc_reply, uint32_t rpc_timeout, node_done_fn *done);
void node_port_died(struct port *p);
void node_so_gone(struct port *proxy);
int node_special_get(struct task *t, const struct mx_frame_hdr *h, uint32_t which, const char *node,
    node_special_fn *done);
int node_names_query(struct task *t, const char *name);
int node_names_answer(struct task *t, const char *name, mx_name_t right);
void node_msg_task_gone(struct task *t);
int node_names_peer_count(void);
void node_shutdown(void);
void node_reload(void);
void node_flush(void);
void node_names_keysrv_ready(void);

/* ops.c */
struct ops_conf {
	struct ev_loop *loop;
	const char *node;
	uint32_t qlimit;
	size_t qlimit_bytes;
	uint32_t max_names;
	uint32_t max_tasks;
	uid_t trusted_uid;
	int has_trusted_uid;
};
int ops_dispatch(struct task *t, const struct mx_frame_hdr *h, const uint8_t *p, uint8_t *steal);

void ops_init(const struct ops_conf *c);
static inline struct task *
task_of(struct ipc_space *s)
{
	return (struct task *)((char *)s - offsetof(struct task, space));
}

#endif
