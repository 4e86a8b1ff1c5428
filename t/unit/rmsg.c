/*
 * rmsg.c — unit tests of the link-frame decoders (cmd/portd/rmsg.c): a
 * message another node sends may not carry a msgid of the kernel range,
 * which only this node's portd writes (notices, namesrv's NS_RESTORE).
 */
#include <string.h>
#include "../../cmd/portd/rmsg.c"
#include "unit.h"

/* An LF_MSG payload: no reply, no right, one BYTES item "hi". */
static size_t
msg_frame(uint8_t *b, uint32_t msgid)
{
	struct mx_trailer tr = { .uid = 1000, .gid = 1000, .pid = 42, .port_id = 7 };
	size_t n = 0;

	snprintf(tr.node, sizeof(tr.node), "n2");
	put_u64(b + n, 1); n += 8;		/* seq */
	put_u64(b + n, 99); n += 8;		/* dest incarnation */
	put_u64(b + n, 7); n += 8;		/* dest port id */
	put_u32(b + n, msgid); n += 4;
	put_u32(b + n, 0); n += 4;		/* timeout */
	b[n++] = 0;				/* flags */
	b[n++] = 0;				/* no reply */
	put_u16(b + n, 0); n += 2;		/* rights */
	n += trailer_pack(b + n, &tr);
	put_u32(b + n, MX_ITEM_HDR + 2); n += 4;	/* items' length */
	b[n++] = MX_ITEM_BYTES; b[n++] = 0; put_u16(b + n, 0); n += 2; put_u32(b + n, 2); n += 4;
	memcpy(b + n, "hi", 2); n += 2;
	return n;
}

int
main(void)
{
	uint8_t b[512];
	struct rmsg m;
	size_t n;

	unit_case = "an ordinary message decodes";
	n = msg_frame(b, 5);
	EXPECT_EQ(rmsg_decode(b, n, &m), 0);
	EXPECT_EQ(m.msgid, 5);
	rmsg_free(&m);

	unit_case = "the last msgid below the kernel range decodes";
	n = msg_frame(b, MX_MSGID_KERNEL - 1);
	EXPECT_EQ(rmsg_decode(b, n, &m), 0);
	rmsg_free(&m);

	unit_case = "a kernel msgid from another node is refused";
	n = msg_frame(b, MX_MSGID_KERNEL);
	EXPECT_EQ(rmsg_decode(b, n, &m), -1);
	EXPECT_EQ(m.seq, 1);	/* kept, for the refusing ACK */
	n = msg_frame(b, 0x7fff0012u);	/* NS_RESTORE */
	EXPECT_EQ(rmsg_decode(b, n, &m), -1);
	n = msg_frame(b, 0xffffffffu);
	EXPECT_EQ(rmsg_decode(b, n, &m), -1);
	return unit_end();
}
