/*
 * linkmsg.c — libFuzzer harness for what a node reads from another node:
 * link frames (header, length, type) and the message frame inside
 * (rmsg_decode: trailer, vouched identity, global ids, rights table against the body), the
 * node list linked nodes exchange (rmsg_nodes), and every other frame type's
 * decoder (ACK, DEAD, SO_GONE, SPECIAL_REQ/ANS, QUERY, ANSWER, HERE; the
 * broadcast payloads use the last three too).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "../../cmd/portd/rmsg.c"
#include "../../cmd/portd/link_frame.c"
#include "../../cmd/portd/link_tls.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
node_seen(const char *node, const char *addr, void *arg)
{
	/* What on_nodes relies on: NUL-terminated strings of bounded length. */
	if (strlen(node) > MX_NODE_MAX || strlen(addr) >= 128)
		abort();
	++*(size_t *)arg;
}

/* What on_release relies on: called only for a frame known well formed, at most RMSG_RELEASE_MAX times. */
static void
release_seen(uint64_t id, uint32_t count, void *arg)
{
	(void)id;
	(void)count;
	if (++*(size_t *)arg > RMSG_RELEASE_MAX)
		abort();
}

/* Every decoder on one payload; each must leave its strings NUL-terminated and bounded. */
static void
decode_all(const uint8_t *p, size_t n)
{
	char name[MX_NAME_LEN_MAX + 1];
	struct gid g;
	uint64_t a, b;
	uint32_t st;
	uint16_t port;
	size_t seen = 0;
	struct rmsg m;

	if (rmsg_decode(p, n, &m) == 0) {
		/* What node_vouch.c relies on: a vouched service is a name, its unit bounded and valid. */
		if ((m.flags & RMSGF_VOUCH) && (!mx_name_valid(m.tr.service) || m.vouch.has_hash > 1 ||
		    strlen(m.vouch.unit) > RMSG_UNIT_MAX || (m.vouch.unit[0] != '\0' && !siglist_unit_valid(m.vouch.unit))))
			abort();
		rmsg_free(&m);
	}
	(void)rmsg_nodes(p, n, node_seen, &seen);
	(void)rmsg_ack(p, n, &a, &st);
	(void)rmsg_port_event(p, n, &a, &b);
	(void)rmsg_special_req(p, n, &a, &st);
	(void)rmsg_special_ans(p, n, &a, &st, &b);
	(void)rmsg_here(p, n, &port);
	seen = 0;
	if (rmsg_release(p, n, &a, release_seen, &seen) < 0 && seen != 0)
		abort();	/* a malformed frame releases nothing */
	if ((rmsg_release(p, n, &a, NULL, NULL) == 0) != (seen > 0 || rmsg_release(p, n, &a, NULL, NULL) == 0))
		abort();	/* checked alone (each NULL) or walked: the same answer */
	{
		char node[MX_NODE_MAX + 1];
		uint8_t right;
		if (rmsg_xfer(p, n, &a, &b, &a, &right, node) == 0 &&
		    (strlen(node) > MX_NODE_MAX || (right != MX_RIGHT_SEND && right != MX_RIGHT_SEND_ONCE)))
			abort();
	}
	{
		struct rquery q;
		if (rmsg_query(p, n, &q) == 0 &&
		    (strlen(q.name) > MX_NAME_LEN_MAX || (q.flags & ~(RQUERY_DIRECT | RQUERY_ASKER)) ||
		    ((q.flags & RQUERY_ASKER) && (!mx_name_valid(q.service) || !q.asker.present))))
			abort();
	}
	{
		struct rident id;
		if (rmsg_answer(p, n, name, &g, &id) == 0 &&
		    (strlen(name) > MX_NAME_LEN_MAX || strlen(g.node) > MX_NODE_MAX ||
		    (id.present && (id.has_hash > 1 || strlen(id.unit) > RIDENT_UNIT_MAX))))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct link_inbuf b = { (uint8_t *)data, size, size };
	const uint8_t *body;
	uint32_t len;
	uint8_t type;
	size_t off = 0;
	char why[128];

	/* The same bytes as one payload of every type, then as a stream of frames. */
	decode_all(data, size);
	while (link_frame_next(&b, &off, &type, &body, &len, why, sizeof(why)) == 1)
		decode_all(body, len);
	return 0;
}
