/*
 * ipc.h — the IPC core of portd: ports, rights, name spaces, messages,
 * queues, blocked senders, waiting receivers, death. The core names
 * nothing above it: what must travel up (a message for a waiting receiver,
 * a receive that ends empty, a proxy's send-once right gone, a port dead)
 * goes through the hooks given to ipc_init(), and a blocked send ends
 * through the done callback stored in it.
 *
 * Who frees what: a struct port lives while it has references (port_ref /
 * ipc_port_unref); it is freed only dead. A kmsg holds a reference on its
 * destination and on every port its rights name; ipc_kmsg_destroy()
 * releases its rights (with or without "no reply" notices),
 * ipc_kmsg_unref() frees it once its last writer lets go. An entry holds
 * one port reference whatever rights it carries.
 */
#ifndef PORTD_IPC_H
#define PORTD_IPC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>
#include "ev.h"
#include "map.h"
#include "masix.h"
#include "wire.h"

struct port;
struct ipc_space;
struct rnode;			/* the node layer's; the core only tests it for NULL */

/* A right travelling inside a message (between copy-in and copy-out). */
struct kright {
	struct port *port;
	uint8_t right;			/* MX_RIGHT_* it becomes in the receiver */
	uint32_t off;			/* item offset of the name in items, or UINT32_MAX: reply */
};

/*
 * What one uid makes portd hold, and the budgets it is refused at. Every
 * charge is O(1): a pointer to the record rides with what it paid for.
 */
enum { ACCT_BYTES, ACCT_RIGHTS, ACCT_CONNS, ACCT__MAX };
struct ipc_acct {
	uid_t uid;
	int exempt;			/* root, portd's euid, the trusted uid: counted, never refused */
	uint64_t held[ACCT__MAX];	/* queued bytes (messages, input), rights + dead-name requests, connections */
	uint64_t logged[ACCT__MAX + 1];	/* ev_now() of the last "over budget" line (+1: max_names) */
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
	struct ipc_acct *acct;		/* who pays for it while it lives */
	uint32_t charged;		/* what acct paid (len at copy-in; the node layer may grow a notice) */
};
TAILQ_HEAD(kmsgq, kmsg);

/*
 * A send waiting for room in a full queue. The layer above embeds it in its
 * own record (a task's send, a message from another node) and learns the
 * end through done: 0 once queued, or -MX_ERR_TIMEOUT / -MX_ERR_DEAD, km
 * already destroyed then. done is called once and owns ps afterwards.
 */
struct psend {
	TAILQ_ENTRY(psend) link;
	struct kmsg *km;		/* NULL once queued */
	struct ev_timer timer;
	void (*done)(struct psend *ps, int err);
};
TAILQ_HEAD(psendq, psend);

/* A receive waiting for messages on a port. */
struct precv {
	struct ipc_space *space;	/* NULL: none */
	uint32_t frame_id;
	uint32_t credit;
	uint32_t timeout_ms;
	struct ev_timer timer;
};

/* A request for a dead-name notification. */
struct dnreq {
	LIST_ENTRY(dnreq) link;		/* on the watched port */
	struct port *watched;		/* no reference: the request leaves the port's list first */
	struct port *notify;		/* reference */
	mx_name_t name;			/* the name in the requester's space (its key there) */
	struct ipc_space *owner;	/* the requester: it is freed with its entry or its space */
};
LIST_HEAD(dnreqlist, dnreq);

struct port {
	uint64_t id;			/* never reused on this node */
	int refs;
	int dead;
	struct ipc_space *receiver;	/* NULL while the receive right travels */
	mx_name_t recv_name;
	struct kmsgq queue;
	uint32_t nqueued;
	size_t qbytes;
	uint32_t qlimit;
	struct psendq blocked;
	struct precv waiter;
	struct dnreqlist dnreqs;
	int special;			/* MX_SPECIAL_* slot it fills, or 0 */
	/* The node layer's, for proxies and exported ports; the core reads only rnode != NULL. */
	struct rnode *rnode;		/* a proxy: the node of the real port */
	uint64_t rid;			/* a proxy: the port's id on that node */
	int exported;			/* its global id went to another node */
	/*
	 * No-senders: nsend counts the send rights held here (user references
	 * in spaces, rights carried by messages); xsend those the node layer
	 * counts elsewhere (a port of ours: exported to other nodes; a proxy:
	 * what its home node counts for this node). When both are 0, a port of
	 * ours tells nsnotify (once), a proxy's are released to its node.
	 */
	uint32_t nsend;
	uint32_t xsend;
	uint32_t held_above;		/* of nsend: held by portd above the core (names kept for namesrv) */
	struct port *nsnotify;		/* reference, or NULL: no request */
};

/* An entry of a name space. */
struct entry {
	mx_name_t name;
	struct port *port;		/* reference */
	uint8_t recv;			/* holds the receive right */
	uint8_t so;			/* a send-once right (its own name) */
	uint32_t srefs;			/* user references of send rights */
};

/* A task's port name space (embedded in the task by the layer above). */
struct ipc_space {
	struct map names;		/* name -> entry */
	struct map byport;		/* port id -> entry (receive/send, not send-once) */
	mx_name_t next_name;
	uint32_t nentries;
	struct map dnreqs;		/* name -> its dead-name request: one per name */
	struct ipc_acct *acct;		/* its uid's record */
	size_t outbytes;		/* bytes waiting in its output queue (the task layer counts) */
	LIST_ENTRY(ipc_space) all;	/* every live space, for the invariant checker */
	int closing;			/* its owner is going: nothing more is handed to it */
	uid_t uid;			/* the trailer of what it sends */
	gid_t gid;
	pid_t pid;
};

/* What the core tells the layer above. */
struct ipc_hooks {
	/* A message for s's waiting receive frame_id: hdr (frame, trailer, header) then km's body. */
	void (*deliver)(struct ipc_space *s, const uint8_t *hdr, size_t hlen, struct kmsg *km);
	/* s's receive frame_id ends without a message; status is a positive MX_ERR_*. */
	void (*recv_end)(struct ipc_space *s, uint32_t frame_id, uint32_t status);
	/* A send-once right to a proxy died unused: its home node sends the notice. */
	void (*proxy_so_gone)(struct port *proxy);
	/* The last send right to a proxy here is gone: its home node may forget ours. */
	void (*proxy_no_senders)(struct port *proxy);
	/* p died (after its queue, blocked senders and dead-name requests were handled). */
	void (*port_died)(struct port *p);
};

struct ipc_conf {
	struct ev_loop *loop;
	const char *node;		/* this node's name, for trailers */
	uint32_t qlimit;		/* a new port's queue limit, messages */
	size_t qlimit_bytes;		/* every queue's limit, bytes */
	uint32_t max_names;		/* names one space may hold */
	uint64_t budget[ACCT__MAX];	/* per uid: queued bytes, rights, connections */
	size_t out_max;			/* a receive stops moving messages into a fuller output queue */
	uid_t trusted_uid;
	int has_trusted_uid;
	uid_t owner_uid;		/* portd's euid: like root, never refused a budget (0: root only) */
};

/* ipc.c */
void ipc_init(const struct ipc_conf *c, const struct ipc_hooks *h);

/* ipc_acct.c */
struct ipc_acct *ipc_acct_get(uid_t uid);
int ipc_acct_charge(struct ipc_acct *a, int what, uint64_t n);	/* 0, or -MX_ERR_BUDGET (logged) */
void ipc_acct_force(struct ipc_acct *a, int what, uint64_t n);	/* charged whatever the budget */
void ipc_acct_uncharge(struct ipc_acct *a, int what, uint64_t n);
int ipc_acct_admit(uid_t uid, uint32_t ntasks, uint32_t max_tasks);	/* a new connection: 0 or -MX_ERR_BUDGET */
void ipc_acct_refuse_names(struct ipc_acct *a);	/* a space of a's is at max_names: say so */
const char *ipc_acct_why(void);	/* the last refusal, "over budget: uid 1001 queued bytes 256 MiB" */
uint64_t ipc_acct_total(int what);	/* over every uid, for the checks */
/* A record of the layer above (another node's) in the table under key (any u64), and out of it. */
void ipc_acct_track(struct ipc_acct *a, uint64_t key);
void ipc_acct_untrack(uint64_t key);

/* ipc_port.c */
struct port *ipc_port_new(void);
void ipc_port_ref(struct port *p);
void ipc_port_unref(struct port *p);
struct port *ipc_port_by_id(uint64_t id);
void ipc_port_destroy(struct port *p);	/* the receive right is gone: the port dies */
int ipc_port_enqueue(struct port *p, struct kmsg *km, int always);	/* 0 or -MX_ERR_FULL/DEAD */
void ipc_port_block(struct psend *ps, uint32_t timeout_ms);	/* wait for room in ps->km->dest */
void ipc_port_unblock(struct psend *ps);	/* its sender is gone: drop it, no done call */
void ipc_port_recv(struct port *p, struct ipc_space *s, uint32_t frame_id, uint32_t credit, uint32_t timeout_ms);
void ipc_port_cancel_waiter(struct port *p, int err);	/* the receive ends with err (negative) */
void ipc_port_notify_dead(struct port *notify, mx_name_t name);
int ipc_port_request_dead(struct ipc_space *s, struct entry *e, struct port *notify);	/* 0 or -MX_ERR_BUDGET */
void ipc_port_kick(struct port *p);
void ipc_port_send_add(struct port *p, uint32_t n);	/* n more send rights to p exist here */
void ipc_port_send_drop(struct port *p, uint32_t n);	/* n fewer: at none, no-senders */
void ipc_port_xsend_drop(struct port *p, uint32_t n);	/* n fewer elsewhere (the node layer's count) */
/* Tell notify (once) when p has no sender left, at once if none is: p's receive right is the caller's. */
void ipc_port_request_nosenders(struct port *p, struct port *notify);	/* its waiting receiver may take more (its output drained) */
struct port *ipc_port_special_get(int which);
void ipc_port_special_set(int which, struct port *p);

/* ipc_space.c */
void ipc_space_init(struct ipc_space *s, uid_t uid, gid_t gid, pid_t pid);
struct entry *ipc_space_lookup(struct ipc_space *s, mx_name_t name);
struct entry *ipc_space_find_port(struct ipc_space *s, struct port *p);
/* Consumes a ref; -MX_ERR_BUDGET (max_names, the uid's rights) leaves the ref to the caller. */
int ipc_space_insert(struct ipc_space *s, struct port *p, uint8_t right, mx_name_t *out);
void ipc_space_kick_recv(struct ipc_space *s);	/* its output drained: its receives go on */
void ipc_space_cancel_dead(struct ipc_space *s, mx_name_t name);	/* drop the name's dead-name request */
void ipc_space_drop(struct ipc_space *s, struct entry *e);	/* drop every right under the name */
void ipc_space_release_send(struct ipc_space *s, struct entry *e);	/* one uref */
void ipc_space_destroy(struct ipc_space *s);

/* ipc_kmsg.c */
int ipc_kmsg_copyin(struct ipc_space *s, const uint8_t *payload, uint32_t len, uint8_t *steal,
    struct kmsg **out, uint32_t *timeout_ms);
void ipc_kmsg_copyout(struct ipc_space *s, struct kmsg *km, uint32_t frame_id);
void ipc_kmsg_destroy(struct kmsg *km, int notify);
void ipc_kmsg_unref(struct kmsg *km);
struct kmsg *ipc_kmsg_notice(struct port *dest, uint32_t msgid, int64_t ival);
/* A message from portd itself to dest: items built by the caller, right (if any) in its one PORT item, last. */
void ipc_kmsg_notice_items(struct port *dest, uint32_t msgid, const struct mx_msg *items, struct port *right);
void ipc_kmsg_no_reply(struct port *p);	/* a send-once right to p died unused */

/* ipc_check.c: every space and port consistent (debug builds), or a fatalx naming what is not. */
#ifdef MX_CHECK_INVARIANTS
void ipc_check_space(struct ipc_space *s);
void ipc_check_port(struct port *p);
/* Every uid's charges equal what it holds; outside: bytes charged outside the core (output, input). */
void ipc_check_acct(uint64_t outside);	/* and ipc_check_senders() */
/* Every port's send count equals the send rights in spaces and queued messages. */
void ipc_check_senders(void);
#endif

#endif
