/* portd.h — the node's port server: ports, rights, tasks, messages. */
#ifndef PORTD_H
#define PORTD_H

#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>
#include "ev.h"
#include "map.h"
#include "masix.h"
#include "wire.h"

struct task;
struct port;
struct rnode;
struct rsend;

/* A right travelling inside a message (between copy-in and copy-out). */
struct kright {
	struct port *port;
	uint8_t right;			/* MX_RIGHT_* it becomes in the receiver */
	uint32_t off;			/* item offset of the name in items, or UINT32_MAX: reply */
};

/* A message held by portd: queued on a port, blocked, or being written out. */
struct kmsg {
	TAILQ_ENTRY(kmsg) link;
	struct port *dest;		/* holds a reference */
	uint32_t msgid;
	struct kright reply;		/* reply.port NULL: none */
	struct mx_trailer tr;
	uint8_t *items;			/* points into mem */
	uint32_t len;
	uint8_t *mem;			/* owned allocation */
	struct kright *rights;
	uint32_t nrights;
	int refs;			/* output segments still writing it, + queue */
};
TAILQ_HEAD(kmsgq, kmsg);

/* A send waiting for room in a full queue. */
struct psend {
	TAILQ_ENTRY(psend) link;
	struct kmsg *km;
	struct task *task;		/* NULL: it came from another node */
	struct rnode *rn;		/* ... this one, which waits for our ACK */
	uint64_t seq;
	uint32_t frame_id;
	int rpc;			/* then receive on the reply port */
	mx_name_t rpc_reply;
	uint32_t rpc_timeout;
	struct ev_timer timer;
};
TAILQ_HEAD(psendq, psend);

/* A receive waiting for messages on a port. */
struct precv {
	struct task *task;		/* NULL: none */
	uint32_t frame_id;
	uint32_t credit;
	uint32_t timeout_ms;
	struct ev_timer timer;
};

/* A request for a dead-name notification. */
struct dnreq {
	LIST_ENTRY(dnreq) link;
	struct port *notify;		/* reference */
	mx_name_t name;			/* the name in the requester's space */
};
LIST_HEAD(dnreqlist, dnreq);

struct port {
	uint64_t id;			/* never reused on this node */
	int refs;
	int dead;
	struct task *receiver;		/* NULL while the receive right travels */
	mx_name_t recv_name;
	struct kmsgq queue;
	uint32_t nqueued;
	size_t qbytes;
	uint32_t qlimit;
	struct psendq blocked;
	struct precv waiter;
	struct dnreqlist dnreqs;
	int special;			/* MX_SPECIAL_* slot it fills, or 0 */
	struct rnode *rnode;		/* a proxy: the node of the real port */
	uint64_t rid;			/* a proxy: the port's id on that node */
	int exported;			/* its global id went to another node */
};

/* An entry of a task's name space. */
struct entry {
	mx_name_t name;
	struct port *port;		/* reference */
	uint8_t recv;			/* holds the receive right */
	uint8_t so;			/* a send-once right (its own name) */
	uint32_t srefs;			/* user references of send rights */
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
	struct map names;		/* name -> entry */
	struct map byport;		/* port id -> entry (receive/send, not send-once) */
	mx_name_t next_name;
	uint32_t nentries;
	uint8_t *in;			/* input frames */
	size_t inlen, incap;
	int stalled;			/* a send of ours waits for room: stop reading */
	int muted;			/* stalled with input waiting: EPOLLIN off */
	struct psend *psend;
	LIST_HEAD(, rsend) rsends;	/* sends of ours waiting for another node's ACK */
	int nrsends;
	int rwindow;			/* stalled until one of them is acknowledged */
	struct osegq out;
	size_t outbytes;
	LIST_ENTRY(task) link;
	LIST_ENTRY(task) dlink;		/* on the dirty list: output or events to update */
	int dirty;
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

extern struct portd_conf conf;
extern struct ev_loop *loop;

/* port.c */
struct port *port_new(void);
void port_ref(struct port *p);
void port_unref(struct port *p);
void port_destroy(struct port *p);	/* the receive right is gone: the port dies */
int port_enqueue(struct port *p, struct kmsg *km, int always);	/* 0 or -MX_ERR_FULL/DEAD */
void port_deliver_waiting(struct port *p);
void port_recv(struct port *p, struct task *t, uint32_t frame_id, uint32_t credit, uint32_t timeout_ms);
void port_cancel_waiter(struct port *p, int err);
void port_notify_dead(struct port *p, struct port *notify, mx_name_t name);
struct port *special_get(int which);
void special_set(int which, struct port *p);

/* space.c */
struct entry *space_lookup(struct task *t, mx_name_t name);
struct entry *space_find_port(struct task *t, struct port *p);
int space_insert(struct task *t, struct port *p, uint8_t right, mx_name_t *out);	/* consumes a ref */
void space_drop(struct task *t, struct entry *e);	/* drop every right under the name */
void space_release_send(struct task *t, struct entry *e);	/* one uref */
void space_destroy(struct task *t);

/* kmsg.c */
int kmsg_copyin(struct task *t, const uint8_t *payload, uint32_t len, uint8_t *steal,
    struct kmsg **out, uint32_t *timeout_ms);
void kmsg_copyout(struct task *t, struct kmsg *km, uint32_t frame_id);
void kmsg_destroy(struct kmsg *km, int notify);
void kmsg_unref(struct kmsg *km);
struct kmsg *kmsg_notice(struct port *dest, uint32_t msgid, int64_t ival);

/* task.c */
void task_accept(int lfd);
void task_reply(struct task *t, uint8_t type, uint32_t id, uint32_t status, const void *p, size_t n);
void task_queue_msg(struct task *t, const uint8_t *hdr, size_t hlen, struct kmsg *km);
void task_close(struct task *t, const char *why);
void task_resume(struct task *t);
void tasks_flush(void *arg);
void tasks_close_all(void);
int task_count(void);

/* remote*.c */
int remote_init(char *why, size_t whysz);
struct port *port_by_id(uint64_t id);
void ports_index(struct port *p);
void ports_unindex(struct port *p);
int remote_send(struct task *t, const struct mx_frame_hdr *h, struct kmsg *km, int dest_so,
    uint32_t timeout_ms, mx_name_t rpc_reply, uint32_t rpc_timeout);
void remote_port_died(struct port *p);
void remote_so_gone(struct port *proxy);
int remote_special_get(struct task *t, const struct mx_frame_hdr *h, uint32_t which, const char *node);
int remote_net_query(struct task *t, const char *name);
int remote_net_answer(struct task *t, const char *name, mx_name_t right);
void remote_task_gone(struct task *t);
void remote_psend_done(struct psend *ps, int err);
int remote_peer_count(void);
void remote_shutdown(void);
void remote_reload(void);
void remote_flush(void);
void remote_keysrv_ready(void);

/* ops.c */
int task_dispatch(struct task *t, const struct mx_frame_hdr *h, const uint8_t *p, uint8_t *steal);
void psend_complete(struct psend *ps, int err);
void psend_timeout(struct ev_timer *tm);	/* a blocked send (local or remote) timed out */
void psend_cancel(struct task *t);

#endif
