/*
 * badframes — a log flood as any local user can make it: N malformed
 * requests (PORT_ALLOC with a payload it does not take) on one connection
 * to portd, each answered "protocol error" and logged by portd. Sends them
 * in batches and reads the answers, then prints "N answered: STATUS" with
 * the last answer's status.
 *
 *   badframes RUNDIR N
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include "masix.h"
#include "sock.h"
#include "wire.h"

#define BATCH 1000

int
main(int argc, char **argv)
{
	static uint8_t out[BATCH * (MX_FRAME_HDR + 4)];
	uint8_t h[MX_FRAME_HDR], skip[256];
	struct mx_frame_hdr fh = { .len = 4, .type = MX_OP_PORT_ALLOC, .id = 7 };
	char path[256];
	long n, done = 0, i, k;
	uint32_t status = 0;
	int fd;

	if (argc != 3 || (n = atol(argv[2])) <= 0) {
		fprintf(stderr, "usage: badframes RUNDIR N\n");
		return 64;
	}
	if (sock_path(path, sizeof(path), argv[1], "portd.sock") < 0 || (fd = sock_unix_connect(path)) < 0) {
		perror("badframes: connect");
		return 1;
	}
	frame_hdr_pack(h, &fh);
	for (i = 0; i < BATCH; i++) {
		memcpy(out + i * (MX_FRAME_HDR + 4), h, MX_FRAME_HDR);
		memcpy(out + i * (MX_FRAME_HDR + 4) + MX_FRAME_HDR, "abcd", 4);
	}
	while (done < n) {
		k = n - done < BATCH ? n - done : BATCH;
		if (write(fd, out, (size_t)k * (MX_FRAME_HDR + 4)) != (ssize_t)(k * (MX_FRAME_HDR + 4))) {
			perror("badframes: write");
			return 1;
		}
		for (i = 0; i < k; i++) {
			struct mx_frame_hdr a;

			if (recv(fd, h, sizeof(h), MSG_WAITALL) != (ssize_t)sizeof(h) || frame_hdr_unpack(h, &a) != 0 ||
			    a.len > sizeof(skip) || (a.len > 0 && recv(fd, skip, a.len, MSG_WAITALL) != (ssize_t)a.len)) {
				fprintf(stderr, "badframes: answer %ld: unreadable or connection closed\n", done + i);
				return 1;
			}
			status = a.status;
		}
		done += k;
	}
	printf("%ld answered: %s\n", done, mx_strerror((int)status));
	return 0;
}
