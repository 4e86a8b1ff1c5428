/*
 * toolconn.h — how the test drivers reach portd: a client connection that
 * must succeed, a raw socket for frames the library would never send, and
 * CHECK for calls that must not fail. Define TOOL_NAME (the program's
 * name, for its error lines) before including it. Header-only: each
 * driver builds into its own program.
 */
#ifndef TOOLCONN_H
#define TOOLCONN_H

#include <stdio.h>
#include <stdlib.h>
#include "masix.h"
#include "sock.h"

static const char *rundir;	/* the node's, from -R */

#define CHECK(expr) do {						\
	int r_ = (expr);						\
	if (r_ < 0) {							\
		fprintf(stderr, TOOL_NAME ": %s: %s\n", #expr, mx_strerror(r_)); \
		exit(1);						\
	}								\
} while (0)

static inline struct mx_conn *
conn(void)
{
	struct mx_conn *c;

	CHECK(masix_connect(rundir, &c));
	return c;
}

/* A plain socket to portd, no library in between. */
static inline int
raw_conn(void)
{
	char path[256];
	int fd;

	if (sock_path(path, sizeof(path), rundir, "portd.sock") < 0 || (fd = sock_unix_connect(path)) < 0) {
		perror(TOOL_NAME ": connect");
		exit(1);
	}
	return fd;
}

#endif
