/* msgrecv.h — receive on a name; optionally serve each message with a command. */
#ifndef MSGRECV_H
#define MSGRECV_H

#include <fcntl.h>
#include "masix.h"
#include "wire.h"

#define OUTPUT_MAX (MX_BODY_MAX - MX_ITEM_HDR)	/* a reply's one bytes item: the most output it holds */

struct output {
	uint8_t *buf;
	size_t len, cap;
	int truncated;
};

/*
 * Run "sh -c cmd" with body on stdin and the sender in MSG_SENDER_*; with
 * capture, its stdout goes into o. 0 with *status as from waitpid(), or -1.
 */
int run_command(const char *cmd, const struct mx_trailer *tr, const uint8_t *body, size_t len, int capture,
    struct output *o, int *status);

#endif
