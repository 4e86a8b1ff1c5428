/*
 * codec.c — libFuzzer harness for the wire decoders: frame header,
 * message header, items (walker and typed getters) and trailer. Input is
 * what portd or a task would read from the socket.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
walk_items(const uint8_t *p, size_t len)
{
	struct mx_msg m = { 0 };
	struct mx_item it;
	size_t pos = 0;
	char s[64];
	int64_t v;
	const uint8_t *b;
	size_t n;
	mx_name_t name;
	uint8_t right;

	while (items_next(p, len, &pos, &it) > 0)
		if (it.type == MX_ITEM_BYTES && it.len > 0 && it.data[0] == 0xff)
			break;
	/* The typed getters must fail cleanly on any body. */
	m.items = (uint8_t *)p;
	m.len = len;
	while (mx_msg_get_bytes(&m, &b, &n) == 0 || mx_msg_get_string(&m, s, sizeof(s)) == 0 ||
	    mx_msg_get_int(&m, &v) == 0 || mx_msg_get_port(&m, &name, &right) == 0)
		;
	(void)mx_msg_end(&m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mx_frame_hdr h;
	struct mx_msg_hdr mh;
	struct mx_trailer tr;
	size_t used;

	if (size < MX_FRAME_HDR)
		return 0;
	if (frame_hdr_unpack(data, &h) != 0)
		return 0;
	data += MX_FRAME_HDR;
	size -= MX_FRAME_HDR;
	if (h.len < size)
		size = h.len;
	if (h.type == MX_OP_MSG) {
		if (trailer_unpack(data, size, &used, &tr) < 0)
			return 0;
		data += used;
		size -= used;
	}
	if (size < MX_MSG_HDR)
		return 0;
	msg_hdr_unpack(data, &mh);
	walk_items(data + MX_MSG_HDR, size - MX_MSG_HDR);
	return 0;
}
