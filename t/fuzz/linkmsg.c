/*
 * linkmsg.c — libFuzzer harness for what a node reads from another node:
 * link frames (header, length, type) and the message frame inside
 * (rmsg_decode: trailer, global ids, rights table against the body), and
 * the node list linked nodes exchange (rmsg_nodes).
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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct link_inbuf b = { (uint8_t *)data, size, size };
	struct rmsg m;
	const uint8_t *body;
	uint32_t len;
	uint8_t type;
	size_t off = 0;
	char why[128];
	size_t seen = 0;

	/* The same bytes as a message body on its own, as a node list, then as a stream of frames. */
	if (rmsg_decode(data, size, &m) == 0)
		rmsg_free(&m);
	(void)rmsg_nodes(data, size, node_seen, &seen);
	while (link_frame_next(&b, &off, &type, &body, &len, why, sizeof(why)) == 1)
		if (rmsg_decode(body, len, &m) == 0)
			rmsg_free(&m);
	return 0;
}
