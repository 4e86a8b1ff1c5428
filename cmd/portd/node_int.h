/*
 * node_int.h — what the node layer's files share: node_peer.c (the table
 * of nodes, frames and ACKs, global ids), node_msg.c (messages to and from
 * proxies), node_names.c (name resolution, keysrv notices, broadcast) and
 * node.c (init, link callbacks, deaths, specials). Not for the rest of
 * portd, which uses node.h.
 */
#ifndef PORTD_NODE_INT_H
#define PORTD_NODE_INT_H

#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include "link.h"
#include "log.h"
#include "node.h"
#include "task.h"
#include "rmsg.h"

/* Frame types on a link (1..99 are ours, the link layer keeps 100 and up). */
enum {
	LF_MSG = 1,		/* a message for one of the peer's ports */
	LF_ACK = 2,		/* u64 seq, u32 status: the message was queued, or why not */
	LF_DEAD = 3,		/* u64 inc, u64 id: a port of the sender died */
	LF_SO_GONE = 4,		/* u64 inc, u64 id: a send-once right to it died unused */
	LF_SPECIAL_REQ = 5,	/* u64 req, u32 which */
	LF_SPECIAL_ANS = 6,	/* u64 req, u32 status, u64 id */
	LF_QUERY = 7,		/* name: who has it? */
	LF_ANSWER = 8,		/* name, gid: this port has it */
	LF_HERE = 9,		/* u16 link port (0: not listening), sent once up */
	LF_NODES = 10,		/* u16 n, then n x (name, "host:port"): nodes to link to */
	/* Export accounting and no-senders (node_export.c). */
	LF_RELEASE = 20,	/* u64 inc, u16 n, n x (u64 id, u32 count): send rights given back */
	LF_XFER = 21,		/* u64 xseq, u64 inc, u64 id, u8 right, node: a right of yours goes to node */
	LF_XFER_ACK = 22,	/* u64 xseq, u32 status: counted (or why not) */
};


/* Building a frame. */
struct wbuf {
	uint8_t *p;
	size_t len, cap;
};

/* Rights to a port of ours carried to one node (node_export.c): what it may use. */
struct export {
	struct port *p;			/* reference */
	uint32_t send;			/* send rights it holds (it gives them back with LF_RELEASE) */
	uint32_t so;			/* send-once rights it holds: each is one delivery or one LF_SO_GONE */
};

/* A frame to a node held back until other nodes counted the rights it carries (node_peer.c). */
struct held {
	TAILQ_ENTRY(held) link;
	struct rnode *rn;		/* NULL once its node's link went down: dropped */
	int refs;			/* the queue's, and one per LF_XFER awaited */
	uint32_t waiting;		/* LF_XFER_ACKs still to come */
	uint8_t type;
	size_t len;
	uint8_t data[];
};
TAILQ_HEAD(heldq, held);

struct rnode {
	LIST_ENTRY(rnode) link;
	char name[MX_NODE_MAX + 1];
	uint64_t inc;			/* 0: not known yet */
	struct link *lk;		/* NULL while unreachable */
	char addr[128];			/* where it said it listens, if known */
	struct map proxies;		/* its port id -> our proxy */
	struct map pending;		/* seq -> rsend waiting for its ACK */
	struct map exports;		/* our port id -> struct export: what it may reach */
	struct map xfers;		/* xseq -> struct held waiting for its LF_XFER_ACK */
	uint64_t next_xseq;
	struct heldq held;		/* frames to it waiting for other nodes' LF_XFER_ACKs, in order */
	struct wbuf rel;		/* LF_RELEASE entries not sent yet (batched per loop turn) */
	uint16_t nrel;
	struct map specials;		/* req -> rspecial */
	uint64_t next_seq, next_req;
	struct ev_timer gone;
	uint8_t *acks;			/* delayed ACKs: u64 seq, u32 status each */
	size_t nacks, capacks;
	struct ev_timer acktimer;
	/* What its messages make this node hold, against node_queued_mib (in the core's table). */
	struct ipc_acct acct;
	uint64_t acct_key;
	uint32_t npsends;		/* its messages waiting here for room (each names rn) */
	char (*hints)[MX_NAME_LEN_MAX + 1];	/* names its broadcast answers named, asked once linked */
	unsigned nhints;
};

/*
 * Node records: a record is made for every node a global id names, so they
 * are capped. When NODE_RECORDS_MAX are in use, the unused ones (no link,
 * no proxy anyone holds, no right or message in flight) are freed; a
 * global id naming yet another node is then taken as a dead name.
 */
#define NODE_RECORDS_MAX 1024


/*
 * ACKs of requests and replies wait up to this long for another frame to
 * that node (the reply, the next request) to ride with, saving a record and
 * two wake-ups per round trip; other ACKs go at once.
 */
#define ACK_DELAY_MS 1

/*
 * Plain sends to other nodes a task may have in flight: each completes on
 * its ACK, in the meantime the task goes on (its next frames are taken).
 * The link keeps them in order and the other node queues them in order,
 * waiting ones included, so FIFO per sender holds. An RPC, or a send past
 * the window, stalls the task as a local full queue does.
 */
#define RSEND_WINDOW 256

struct rsend {
	LIST_ENTRY(rsend) tlink;	/* the task's rsends */
	struct task *task;		/* NULL once the task is gone */
	int stalls;			/* the task waits for this one */
	struct port *dest;		/* the proxy, referenced */
	uint32_t frame_id;
	uint8_t op;
	mx_name_t rpc_reply;
	uint32_t rpc_timeout;
	node_done_fn *done;		/* how it ends for the task: the request layer's */
};

/* A message from another node waiting for room in a full queue here. */
struct node_psend {
	struct psend ps;		/* first: the core hands back &ps */
	struct rnode *rn;		/* ACKed there when it ends */
	uint64_t seq;
};

struct rspecial {
	struct task *task;
	uint32_t frame_id;
	node_special_fn *done;	/* the request layer's */
};

static inline void
wb_need(struct wbuf *w, size_t n)
{
	if (w->len + n <= w->cap)
		return;
	while (w->cap < w->len + n)
		w->cap = w->cap ? w->cap * 2 : 256;
	if ((w->p = realloc(w->p, w->cap)) == NULL)
		fatal("wbuf");
}

static inline void wb_u8(struct wbuf *w, uint8_t v) { wb_need(w, 1); w->p[w->len++] = v; }
static inline void wb_u16(struct wbuf *w, uint16_t v) { wb_need(w, 2); put_u16(w->p + w->len, v); w->len += 2; }
static inline void wb_u32(struct wbuf *w, uint32_t v) { wb_need(w, 4); put_u32(w->p + w->len, v); w->len += 4; }
static inline void wb_u64(struct wbuf *w, uint64_t v) { wb_need(w, 8); put_u64(w->p + w->len, v); w->len += 8; }

static inline void
wb_str(struct wbuf *w, const char *s)
{
	size_t n = strlen(s);	/* callers pass NUL-terminated strings */

	if (n > 255)
		n = 255;
	wb_u8(w, (uint8_t)n);
	wb_need(w, n);
	memcpy(w->p + w->len, s, n);
	w->len += n;
}

static inline void
wb_gid(struct wbuf *w, const struct gid *g)
{
	wb_str(w, g->node);
	wb_u64(w, g->inc);
	wb_u64(w, g->id);
}

LIST_HEAD(rnodelist, rnode);
/* The node layer's state, one for the layer (node_peer.c). */
struct node_peers {
	struct rnodelist list;		/* every node we know of */
	uint32_t count;			/* records on the list */
	uint64_t next_key;		/* acct_key of the next record */
	uint64_t swept;			/* ev_now() of the last sweep of unused records */
	struct node_conf *conf;		/* the settings node_init() was given */
	struct ev_loop *loop;
	int have_links, have_bcast;	/* the transports started */
};
extern struct node_peers node_peers;

/* node_peer.c */
/*
 * The record of node name, or NULL. NODE_MAKE makes one if there is none
 * (NULL past NODE_RECORDS_MAX); NODE_MAKE_ALWAYS does even then: for a node
 * a certificate vouched for (a link, a signed broadcast), not a mere name.
 */
enum { NODE_FIND = 0, NODE_MAKE = 1, NODE_MAKE_ALWAYS = 2 };
struct rnode *node_peer_get(const char *name, int how);
/* p leaves its node's proxies (dead, or dying): it no longer names the record, which may go. */
void node_peer_proxy_gone(struct port *p);
void node_peer_reset(struct rnode *rn, const char *why);
void node_peer_ack_later(struct rnode *rn, uint64_t seq);
int node_peer_send(struct rnode *rn, uint8_t type, const struct wbuf *w, const void *b, size_t blen);
void node_peer_gid(struct port *p, struct gid *g);
struct port *node_peer_import(const struct gid *g);
int node_peer_send_now(struct rnode *rn, uint8_t type, const struct wbuf *w);	/* past held frames */
struct held *node_peer_hold(struct rnode *rn, uint8_t type, const struct wbuf *w, const void *b, size_t blen);
void node_peer_hold_wait(struct held *h);	/* one more LF_XFER_ACK to wait for */
void node_peer_hold_done(struct held *h);	/* one came (or never will) */
void node_peer_held_drop(struct rnode *rn);	/* its link went down: what waits for it goes */

/* node_export.c (the level of node_peer.c: each calls the other) */
#define EXPORTS_MAX 65536		/* ports of ours one node may hold rights to */
void node_export_add(struct rnode *rn, struct port *p, uint8_t right);
void node_export_received(struct port *p, uint8_t right);	/* a right came in from the wire */
int node_export_msg_ok(struct rnode *rn, struct port *dest, const struct rmsg *m);
void node_export_drop_rights(struct rnode *rn, const struct rmsg *m);	/* a refused message's */
int node_export_send(struct rnode *rn, struct kmsg *km, const struct wbuf *w);	/* LF_MSG, after XFERs */
int node_export_so_gone(struct rnode *rn, uint64_t id);	/* 1: it held one, now used */
void node_export_port_died(struct port *p);
void node_export_reset(struct rnode *rn);
void node_export_link_down(struct rnode *rn);
void node_export_on_release(struct rnode *rn, const uint8_t *p, size_t n);
void node_export_on_xfer(struct rnode *rn, const uint8_t *p, size_t n);
void node_export_on_xfer_ack(struct rnode *rn, const uint8_t *p, size_t n);
void node_export_flush(void);

/* node_msg.c */
/* node_vouch.c: services other nodes vouch for, checked against this node's signed list. */
void node_vouch_load(void);	/* at start and on SIGHUP: a refused list leaves the previous one */
void node_vouch_free(void);
/* 1 if the list gives the identity the node vouches for the trailer's service; 0, audited. */
int node_vouch_check(const struct rnode *rn, const struct mx_trailer *tr, const struct rvouch *v);

void node_msg_fail_pending(struct rnode *rn);
void node_msg_on_msg(struct rnode *rn, const uint8_t *p, size_t n);
void node_msg_on_ack(struct rnode *rn, const uint8_t *p, size_t n);

/* node_names.c */
void node_names_on_query(struct rnode *rn, const uint8_t *p, size_t n);
void node_names_on_answer(struct rnode *rn, const uint8_t *p, size_t n);
void node_names_tell_keysrv(struct link *l, const char *node);
void node_names_bcast_recv(const char *node, uint64_t inc, uint8_t type, const uint8_t *p, size_t n,
    const struct sockaddr_in *from);
void node_names_announce(struct ev_timer *tm);
void node_names_here_send(struct rnode *rn);
void node_names_on_here(struct rnode *rn, const uint8_t *p, size_t n);
void node_names_on_nodes(struct rnode *rn, const uint8_t *p, size_t n);
void node_names_hints_send(struct rnode *rn);	/* rn is linked: ask what its broadcasts hinted */

#endif
