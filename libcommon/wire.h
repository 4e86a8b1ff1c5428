/*
 * wire.h — the frame format between a task and portd (doc/protocol.md).
 *
 * Every frame: a 16-byte big-endian header, then len bytes of payload.
 * len is checked against MX_FRAME_MAX before anything is allocated.
 */
#ifndef MX_WIRE_H
#define MX_WIRE_H

#include <stdint.h>
#include <stddef.h>
#include "masix.h"

#define MX_PROTO_VERSION 1
#define MX_FRAME_HDR	16
#define MX_MSG_HDR	20		/* dest, reply, disp, flags, rsvd, msgid, timeout */
#define MX_TRAILER_MAX	(4 * 3 + 8 + 2 + MX_NODE_MAX + MX_SERVICE_MAX)
#define MX_FRAME_MAX	(MX_BODY_MAX + MX_MSG_HDR + MX_TRAILER_MAX)

enum mx_op {
	MX_OP_PORT_ALLOC = 1,	/* -> u32 name */
	MX_OP_PORT_DESTROY = 2,	/* u32 name */
	MX_OP_RIGHT_DEALLOC = 3,	/* u32 name */
	MX_OP_SEND = 4,		/* message; reply: status once queued */
	MX_OP_RECV = 5,		/* u32 port, u32 timeout_ms, u32 count; reply: MX_OP_MSG frames */
	MX_OP_MSG = 6,		/* portd -> task: trailer + message */
	MX_OP_SPECIAL_GET = 7,	/* u32 which -> u32 name */
	MX_OP_SPECIAL_SET = 8,	/* u32 which, u32 port */
	MX_OP_NOTIFY_DEAD = 9,	/* u32 name, u32 notify port */
	MX_OP_QLIMIT = 10,	/* u32 port, u32 limit */
	MX_OP_HELLO = 11,	/* -> string node name */
	MX_OP_RPC = 12,		/* message; then receive the reply on its reply port */
	MX_OP_NET_QUERY = 13,	/* NAME holder: name -> u32 nodes asked */
	MX_OP_NET_ANSWER = 14,	/* NAME holder: u32 send right, name: tell every node */
	MX_OP_NAME_KEEP = 15,	/* NAME holder: u32 keep, u32 send right, u32 uid, u32 pid, name */
	MX_OP_NOTIFY_NOSENDERS = 16,	/* u32 port (receive right), u32 notify port */
	MX_OP_WHO_HOLDS = 17,	/* NAME holder: u32 send right, u32 notify port, u64 cookie -> NS_WHO_HOLDS there */
	MX_OP_SERVICE_SET = 18,	/* NAME holder: u32 send right, service ("" none): stamp its receiver's messages */
	MX_OP_LIST_LOADED = 19,	/* KEY holder: u64 list generation: portd reloads its lists, tells namesrv */
	MX_OP__MAX
};

/*
 * The identity in NS_WHO_HOLDS (BYTES): u32 uid, gid, pid, u8 has_hash, 32 bytes SHA-256
 * (zero without one), u8 unit length, unit, u8 reason length, reason (why
 * there is no hash, "" with one).
 */
#define MX_IDENT_HASH_LEN	32
#define MX_IDENT_MAX	(12 + 1 + MX_IDENT_HASH_LEN + 1 + 255 + 1 + 255)

/* Frame header flags. */
#define MX_F_REPLY	0x0001	/* portd's answer to a request frame */

struct mx_frame_hdr {
	uint32_t len;
	uint8_t version;
	uint8_t type;
	uint16_t flags;
	uint32_t id;
	uint32_t status;	/* replies: 0 or a positive MX_ERR_* */
};

void frame_hdr_pack(uint8_t out[MX_FRAME_HDR], const struct mx_frame_hdr *h);
/* 0, or -MX_ERR_VERSION / -MX_ERR_TOOBIG / -MX_ERR_PROTO. */
int frame_hdr_unpack(const uint8_t in[MX_FRAME_HDR], struct mx_frame_hdr *h);

/* Message header on the wire. */
struct mx_msg_hdr {
	uint32_t dest, reply;
	uint8_t reply_disp, flags;
	uint16_t reserved;		/* zero */
	uint32_t msgid;
	uint32_t timeout_ms;
};
void msg_hdr_pack(uint8_t out[MX_MSG_HDR], const struct mx_msg_hdr *h);
void msg_hdr_unpack(const uint8_t in[MX_MSG_HDR], struct mx_msg_hdr *h);

/* Item header: u8 type, u8 right/disp, u16 zero, u32 len. */
#define MX_ITEM_HDR 8

/*
 * Walk the items of an encoded body. Returns 1 with *it filled and *pos
 * advanced, 0 at the end, -MX_ERR_PROTO on a malformed item.
 */
int items_next(const uint8_t *p, size_t len, size_t *pos, struct mx_item *it);

/* Trailer: u32 uid, gid, pid, u64 port_id, u8 nodelen, node, u8 svclen, svc. */
size_t trailer_pack(uint8_t *out, const struct mx_trailer *t);
int trailer_unpack(const uint8_t *p, size_t len, size_t *used, struct mx_trailer *t);

static inline void put_u16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = v; }
static inline void put_u32(uint8_t *p, uint32_t v)
{ p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v; }
static inline void put_u64(uint8_t *p, uint64_t v)
{ put_u32(p, v >> 32); put_u32(p + 4, (uint32_t)v); }
static inline uint16_t get_u16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t get_u32(const uint8_t *p)
{ return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static inline uint64_t get_u64(const uint8_t *p)
{ return (uint64_t)get_u32(p) << 32 | get_u32(p + 4); }

#endif
