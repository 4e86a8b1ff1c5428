/*
 * masix.h — the public client API: how a task talks to its node's portd.
 *
 * A connection to portd is a task with its own port name space. Names
 * (mx_name_t) are small integers that mean something only inside that task.
 * Every call returns 0 or a negative MX_ERR_* code; mx_strerror() names it.
 */
#ifndef MASIX_H
#define MASIX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef uint32_t mx_name_t;
#define MX_NAME_NULL 0u

/* Error codes: returned negated by library calls, carried positive on the wire. */
enum mx_err {
	MX_OK = 0,
	MX_ERR_NOMEM = 1,	/* out of memory */
	MX_ERR_INVAL = 2,	/* invalid argument */
	MX_ERR_PROTO = 3,	/* malformed frame or message */
	MX_ERR_NOENT = 4,	/* no such name */
	MX_ERR_BADNAME = 5,	/* port name not held, or wrong right for the operation */
	MX_ERR_DEAD = 6,	/* dead port */
	MX_ERR_NOREPLY = 7,	/* no reply will come */
	MX_ERR_TIMEOUT = 8,	/* timed out */
	MX_ERR_PERM = 9,	/* not permitted */
	MX_ERR_EXISTS = 10,	/* name already registered by another port */
	MX_ERR_TOOBIG = 11,	/* message too large */
	MX_ERR_IO = 12,		/* connection to portd lost */
	MX_ERR_UNAVAIL = 13,	/* portd or a node service is not running */
	MX_ERR_REMOTE = 14,	/* the server answered with an error reply */
	MX_ERR_NOTSUP = 15,	/* operation not supported */
	MX_ERR_VERSION = 16,	/* protocol version mismatch */
	MX_ERR_FULL = 17,	/* queue full and no time to wait */
	MX_ERR_BADSIG = 18,	/* signature or certificate check failed */
	MX_ERR_INTR = 19,	/* interrupted by a signal that set the stop flag */
	MX_ERR_NODEDOWN = 20,	/* the node of a remote port is unreachable */
	MX_ERR_BUDGET = 21,	/* the caller's uid is over one of its budgets */
	MX_ERR__MAX
};

const char *mx_strerror(int err);	/* err may be negative or positive */
int mx_exit_code(int err);		/* the sysexits(3) code a tool exits with */
/* The same for a failure on local files and keys (missing file, bad data, I/O). */
int mx_file_exit_code(int err);

/* Dispositions of a right placed in a message (as in Mach). */
enum mx_disp {
	MX_DISP_NONE = 0,
	MX_DISP_MOVE_RECEIVE = 16,
	MX_DISP_MOVE_SEND = 17,
	MX_DISP_MOVE_SEND_ONCE = 18,
	MX_DISP_COPY_SEND = 19,
	MX_DISP_MAKE_SEND = 20,
	MX_DISP_MAKE_SEND_ONCE = 21,
};

/* What a received right is, once it lands in the receiver's name space. */
enum mx_right {
	MX_RIGHT_NONE = 0,
	MX_RIGHT_RECEIVE = 1,
	MX_RIGHT_SEND = 2,
	MX_RIGHT_SEND_ONCE = 3,
	MX_RIGHT_DEAD = 4,
};

/* Item types inside a message body. */
enum mx_item_type {
	MX_ITEM_BYTES = 1,
	MX_ITEM_STRING = 2,
	MX_ITEM_INT = 3,
	MX_ITEM_PORT = 4,
};

/* Reserved message ids. */
#define MX_MSGID_REPLY		0x40000000u	/* a normal reply */
#define MX_MSGID_ERROR		0x40000001u	/* an error reply: INT code, STRING text */
#define MX_MSGID_KERNEL		0x7fff0000u	/* from here up only portd sends: tasks cannot forge them */
#define MX_MSGID_NO_REPLY	0x7fff0001u	/* portd: the send-once right was destroyed */
#define MX_MSGID_DEAD_NAME	0x7fff0002u	/* portd: INT name that became dead */
#define MX_MSGID_NO_SENDERS	0x7fff0003u	/* portd: INT name of a port no send right is left to, on any node */

#define MX_FOREVER	UINT32_MAX	/* timeout: wait as long as it takes */
#define MX_BODY_MAX	(32u << 20)	/* largest message body (items), bytes */
#define MX_NODE_MAX	255
#define MX_SERVICE_MAX	255

/* Written by portd on delivery, never by the sender. */
struct mx_trailer {
	uint32_t uid, gid, pid;
	uint64_t port_id;		/* global id of the destination port */
	char node[MX_NODE_MAX + 1];	/* node the sender runs on */
	char service[MX_SERVICE_MAX + 1];	/* authenticated service name, or "" */
};

/* One item as decoded from a received message; data points into the message. */
struct mx_item {
	uint8_t type;			/* enum mx_item_type */
	uint8_t right;			/* MX_ITEM_PORT: enum mx_right on receive, disposition on send */
	uint32_t len;
	const uint8_t *data;		/* BYTES / STRING */
	int64_t ival;			/* INT */
	mx_name_t name;			/* PORT */
};

/*
 * A message being built or received. Build with mx_msg_new() and the
 * mx_msg_add_*() calls; read with mx_msg_next().
 */
struct mx_msg {
	mx_name_t dest;			/* on receive: the receiving port's name */
	mx_name_t reply;		/* reply right, or MX_NAME_NULL */
	uint8_t reply_disp;		/* on send: enum mx_disp; on receive: enum mx_right */
	uint32_t msgid;
	struct mx_trailer trailer;	/* valid on received messages */
	/* encoded items */
	uint8_t *items;
	size_t len, cap;
	size_t rpos;			/* read cursor for mx_msg_next() */
};

struct mx_msg *mx_msg_new(uint32_t msgid);
void mx_msg_free(struct mx_msg *m);
void mx_msg_reset(struct mx_msg *m, uint32_t msgid);	/* empty it for reuse */
int mx_msg_add_bytes(struct mx_msg *m, const void *p, size_t n);
int mx_msg_add_string(struct mx_msg *m, const char *s);
int mx_msg_add_int(struct mx_msg *m, int64_t v);
int mx_msg_add_port(struct mx_msg *m, mx_name_t name, enum mx_disp disp);
/* 1 and *it filled, 0 at the end, or a negative error for a malformed body. */
int mx_msg_next(struct mx_msg *m, struct mx_item *it);
/* Read the next item, which must be of the given type; MX_ERR_PROTO otherwise. */
int mx_msg_get_bytes(struct mx_msg *m, const uint8_t **p, size_t *n);
int mx_msg_get_string(struct mx_msg *m, char *out, size_t outsz);
int mx_msg_get_int(struct mx_msg *m, int64_t *v);
int mx_msg_get_port(struct mx_msg *m, mx_name_t *name, uint8_t *right);
/* 0 when every item has been read, MX_ERR_PROTO when bytes remain. */
int mx_msg_end(const struct mx_msg *m);

/* ---- connection to portd ---- */

struct mx_conn;

/* rundir NULL: $MASIX_RUNDIR, else /run/masix (root) or $XDG_RUNTIME_DIR/masix. */
const char *masix_default_rundir(void);
int masix_connect(const char *rundir, struct mx_conn **out);
void masix_close(struct mx_conn *c);
/*
 * When portd goes away (it exited, crashed or restarts), every call on the
 * connection fails at once with MX_ERR_IO and masix_errdetail() says
 * "portd went away", a call blocked in portd (a send to a full queue, a
 * request waiting for its reply, a receive) included: a message it was
 * blocked on was not delivered. Nothing of the task survives in the new
 * portd: not its names, rights or ports, not the messages queued on them,
 * not its registrations. To carry on, a task calls masix_reconnect() and
 * builds again what it needs: masix_port_alloc(), masix_register() (which
 * fails MX_ERR_UNAVAIL until namesrv is back: retry), masix_lookup().
 *
 * masix_reconnect() drops the old connection's state and connects again to
 * the same socket, retrying with backoff (20 ms, doubling to 500 ms) while
 * it is refused or absent, for timeout_ms at most (MX_FOREVER: until it
 * succeeds). 0, MX_ERR_TIMEOUT, MX_ERR_INTR (stop flag), MX_ERR_PERM. A
 * socket kept by systemd (portd.socket) accepts at once; the first request
 * then waits until portd has started.
 */
int masix_reconnect(struct mx_conn *c, uint32_t timeout_ms);
int masix_fd(const struct mx_conn *c);	/* -1 after a failed masix_reconnect() */
const char *masix_node(struct mx_conn *c);	/* this node's name */

int masix_port_alloc(struct mx_conn *c, mx_name_t *out);
int masix_port_set_qlimit(struct mx_conn *c, mx_name_t port, uint32_t limit);
/* Drop every right the task holds under name; a receive right kills the port. */
int masix_port_destroy(struct mx_conn *c, mx_name_t name);
/* Drop one reference of a send, send-once or dead-name right. */
int masix_right_dealloc(struct mx_conn *c, mx_name_t name);
/* The same without waiting (many at once): its status comes with masix_flush(). */
int masix_right_dealloc_nowait(struct mx_conn *c, mx_name_t name);
/*
 * Give portd back every right message m carried (receive rights destroy
 * their port), except one reference of kept (MX_NAME_NULL: none kept):
 * what a server does with the rights of a request it drops or refuses.
 */
void masix_msg_release_rights(struct mx_conn *c, struct mx_msg *m, mx_name_t kept);
/*
 * Ask for one MX_MSGID_NO_SENDERS message on notify once no send right to
 * port is left, here or on any other node (at once if none is now). port
 * and notify are receive rights of the caller; a new request replaces the
 * last one. Its INT is port's name in the caller's space. A right carried
 * by a message in flight counts; a node that goes away past node_timeout
 * gives its rights back.
 */
int masix_request_nosenders_notify(struct mx_conn *c, mx_name_t port, mx_name_t notify);
/* Ask for an MX_MSGID_DEAD_NAME message on notify when name's port dies. */
int masix_request_dead_notify(struct mx_conn *c, mx_name_t name, mx_name_t notify);

/* Send m to m->dest; returns once queued there, or after timeout_ms (MX_FOREVER). */
int masix_send(struct mx_conn *c, struct mx_msg *m, uint32_t timeout_ms);
/*
 * Pipelined sends: queue the frame, let portd acknowledge later. Queued
 * frames are written when the buffer fills, and at the latest when the
 * library next waits for portd (any call that reads from it).
 */
int masix_send_nowait(struct mx_conn *c, struct mx_msg *m, uint32_t timeout_ms);
/* Wait until every pipelined send is acknowledged; the first error, or 0. */
int masix_flush(struct mx_conn *c);

/*
 * Receive one message on port (a receive right) into *out (allocated by the
 * call, freed with mx_msg_free). MX_ERR_TIMEOUT after timeout_ms without one.
 */
int masix_recv(struct mx_conn *c, mx_name_t port, uint32_t timeout_ms, struct mx_msg **out);
/* Receive on the first of n (at most 8) ports to have a message. */
int masix_recv_any(struct mx_conn *c, const mx_name_t *ports, int n, uint32_t timeout_ms, struct mx_msg **out);
/* How many messages portd may push ahead of masix_recv() calls (default 1). */
void masix_set_prefetch(struct mx_conn *c, uint32_t n);

/*
 * Request/reply: send m with a send-once reply right to a private reply
 * port and wait for the answer. MX_ERR_NOREPLY if the right is destroyed,
 * MX_ERR_REMOTE for an error reply (text in *out's items).
 */
int masix_request(struct mx_conn *c, struct mx_msg *m, uint32_t timeout_ms, struct mx_msg **out);
/* Answer a received request: sends m to req->reply (a send-once right). */
int masix_reply(struct mx_conn *c, const struct mx_msg *req, struct mx_msg *m);
int masix_reply_error(struct mx_conn *c, const struct mx_msg *req, int code, const char *text);
/*
 * A server's loop step: reply to req with m and receive the next message
 * on port, in one round trip to portd (Mach's send-and-receive). Returns
 * the receive's result; the reply's (0 or -MX_ERR_*) goes to *reply_err
 * when reply_err is not NULL: MX_ERR_INVAL when req carried no reply right
 * (a one-way message; nothing is sent, the receive still happens).
 */
int masix_reply_recv(struct mx_conn *c, const struct mx_msg *req, struct mx_msg *m, mx_name_t port,
    uint32_t timeout_ms, struct mx_msg **out, int *reply_err);

/* Well-known service ports held by privileged tasks. */
enum mx_special { MX_SPECIAL_NAME = 1, MX_SPECIAL_KEY = 2, MX_SPECIAL__MAX };
int masix_special_get(struct mx_conn *c, enum mx_special which, mx_name_t *out);
int masix_special_set(struct mx_conn *c, enum mx_special which, mx_name_t port);

/* ---- names (the NAME port, served by namesrv) ---- */

#define MX_NAME_LEN_MAX 255
int mx_name_valid(const char *name);	/* 1 if 1..255 chars of [A-Za-z0-9._/-] */
/*
 * Without namesrv these fail MX_ERR_UNAVAIL ("namesrv is not running"),
 * at once. A request namesrv dies with (it restarts) is asked again of the
 * next namesrv, which has the same names: waited for 5 s at least, or a
 * lookup's wait_ms if longer. A registration lasts until it is unregistered
 * or its port dies, namesrv restarts included, not a portd restart.
 */
int masix_register(struct mx_conn *c, const char *name, mx_name_t port);
int masix_unregister(struct mx_conn *c, const char *name);
/* wait_ms > 0: wait that long for the name to be registered, and for namesrv to be running. */
int masix_lookup(struct mx_conn *c, const char *name, uint32_t wait_ms, mx_name_t *out);

/* While *flag is set by a signal handler, a blocked call returns MX_ERR_INTR. */
void masix_set_stop_flag(struct mx_conn *c, volatile int *flag);

/* The last error's detail, as a static string ("" if none), e.g. portd's reason. */
const char *masix_errdetail(const struct mx_conn *c);

#endif
