/*
 * rmsg.h — the message frame between nodes (LF_MSG), decoded without
 * touching any port: every length and offset is checked here, so node_msg.c
 * only maps what it is given. Kept apart so it can be fuzzed alone.
 */
#ifndef PORTD_RMSG_H
#define PORTD_RMSG_H

#include <stdint.h>
#include <stddef.h>
#include "masix.h"
#include "rbuf.h"

#define RMSG_MAX_RIGHTS 1024
#define RMSGF_DEST_SO 0x01	/* sent through a send-once right: never waits for room */
#define RMSGF_VOUCH 0x02	/* the trailer's service comes with the identity it was verified with */
#define RMSG_HASH_LEN 32
#define RMSG_UNIT_MAX 255

/*
 * What the sending node vouches for about a service task (RMSGF_VOUCH,
 * after the trailer): u8 has_hash (0 or 1), 32 bytes binary SHA-256 (all
 * zero without one), u8 len and the systemd unit ("" none). The uid is the
 * trailer's, the service name the trailer's (a valid name, not empty).
 */
struct rvouch {
	int has_hash;
	uint8_t hash[RMSG_HASH_LEN];
	char unit[RMSG_UNIT_MAX + 1];
};

struct gid {
	char node[MX_NODE_MAX + 1];
	uint64_t inc, id;	/* id 0: a dead name */
};

struct rright {
	uint32_t off;		/* item offset in the body */
	uint8_t right;		/* MX_RIGHT_SEND or MX_RIGHT_SEND_ONCE */
	struct gid gid;
};

struct rmsg {
	uint64_t seq, dest_inc, dest_id;
	uint32_t msgid, timeout_ms;
	uint8_t flags;
	int has_reply;
	struct rright reply;	/* off unused */
	uint16_t nrights;
	struct rright *rights;	/* allocated: free with rmsg_free */
	struct mx_trailer tr;
	struct rvouch vouch;	/* flags & RMSGF_VOUCH */
	const uint8_t *items;	/* points into the frame */
	uint32_t ilen;
};

/*
 * An LF_NODES payload: u16 n, then n times a node name and its "host:port"
 * (strings as rb_str reads them). each is called per entry, in order; 0,
 * or -1 when the payload is malformed (entries before the fault were given).
 */
int rmsg_nodes(const uint8_t *p, size_t len, void (*each)(const char *node, const char *addr, void *arg),
    void *arg);

/*
 * The small link frames, each decoded whole (a short frame or bytes left
 * over are malformed): 0, or -1. Pure functions: nothing but the output is
 * touched, so the fuzzer reaches every frame type.
 */
int rmsg_ack(const uint8_t *p, size_t len, uint64_t *seq, uint32_t *status);		/* LF_ACK */
int rmsg_port_event(const uint8_t *p, size_t len, uint64_t *inc, uint64_t *id);	/* LF_DEAD, LF_SO_GONE */
int rmsg_special_req(const uint8_t *p, size_t len, uint64_t *req, uint32_t *which);	/* LF_SPECIAL_REQ */
int rmsg_special_ans(const uint8_t *p, size_t len, uint64_t *req, uint32_t *status, uint64_t *id);
/*
 * Who registered a name, as the answering node vouches for its own task
 * (the identity its portd pinned: doc/trust.md): sent after the gid of an
 * LF_ANSWER (and of a broadcast answer), absent from older nodes.
 */
#define RIDENT_HASH_LEN 32
#define RIDENT_UNIT_MAX 255
struct rident {
	int present;			/* 0: the answer carried none */
	uint32_t uid, gid;
	int has_hash;			/* 0: no binary identity (hash all zero) */
	uint8_t hash[RIDENT_HASH_LEN];	/* SHA-256 of its executable */
	char unit[RIDENT_UNIT_MAX + 1];	/* systemd unit, "" none: printable, no space */
};
/*
 * LF_QUERY: the name, then (optional, absent from older nodes) u8 flags:
 * RQUERY_DIRECT, answer the asking node alone; RQUERY_ASKER, the service
 * of the task that asks follows (a valid name), with the identity the
 * asking node vouches for it with (as in an answer): what a private name's
 * rule is checked against on the answering node (doc/trust.md).
 */
#define RQUERY_DIRECT	0x01
#define RQUERY_ASKER	0x02
struct rquery {
	char name[MX_NAME_LEN_MAX + 1];
	uint8_t flags;
	char service[MX_SERVICE_MAX + 1];	/* RQUERY_ASKER */
	struct rident asker;			/* RQUERY_ASKER: present */
};
int rmsg_query(const uint8_t *p, size_t len, struct rquery *q);
/* LF_ANSWER: name, gid, then an optional identity (id->present says). */
int rmsg_answer(const uint8_t *p, size_t len, char name[MX_NAME_LEN_MAX + 1], struct gid *g,
    struct rident *id);
int rmsg_here(const uint8_t *p, size_t len, uint16_t *port);				/* LF_HERE */

/*
 * LF_RELEASE: u64 inc, u16 n, then n times (u64 id, u32 count); each is
 * called per entry (each NULL: none, the frame only checked) once the
 * whole frame is known well formed: 0, or -1.
 */
#define RMSG_RELEASE_MAX 4096
int rmsg_release(const uint8_t *p, size_t len, uint64_t *inc,
    void (*each)(uint64_t id, uint32_t count, void *arg), void *arg);
/* LF_XFER: u64 xseq, u64 inc, u64 id, u8 right (send or send-once), the node it goes to. */
int rmsg_xfer(const uint8_t *p, size_t len, uint64_t *xseq, uint64_t *inc, uint64_t *id, uint8_t *right,
    char node[MX_NODE_MAX + 1]);

/* 0, or -1 for a malformed frame (*m is then empty). seq is set as soon as it is read. */
int rmsg_decode(const uint8_t *p, size_t len, struct rmsg *m);
void rmsg_free(struct rmsg *m);

#endif
