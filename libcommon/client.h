/* client.h — the inside of struct mx_conn (masix.h keeps it opaque). */
#ifndef MX_CLIENT_H
#define MX_CLIENT_H

#include "masix.h"
#include "wire.h"

#define MX_RECV_SLOTS 8

struct stashed {
	struct stashed *next;
	struct mx_frame_hdr h;
	uint8_t *payload;
};

/* A receive portd is serving for us: frame id and messages still to come. */
struct recvstate {
	mx_name_t port;
	uint32_t id;
	uint32_t credit;
};

struct mx_conn {
	int fd;
	int lost;			/* portd closed the connection: every call fails IO */
	char path[256];			/* portd's socket, for masix_reconnect() */
	uint32_t next_id, nowait_id;
	uint8_t *in;
	size_t inlen, incap, consumed;
	uint8_t *out;
	size_t outlen, outcap;
	uint32_t outstanding;
	int first_err;
	struct stashed *stash;
	struct recvstate recv[MX_RECV_SLOTS];
	uint32_t prefetch;
	mx_name_t reply_port;
	mx_name_t name_port;
	char node[MX_NODE_MAX + 1];
	char detail[256];
	volatile int *stop;
	int stop_sliced;		/* its socket has the receive timeout of a stop slice (client.c) */
};

/* A request to portd whose answer is up to anscap bytes: 0 with *anslen, or a negative MX_ERR_*. */
int client_op(struct mx_conn *c, uint8_t type, const void *a, size_t alen, uint8_t *ans, size_t anscap,
    size_t *anslen);

/* A request queued without waiting: its status comes with masix_flush(). */
int client_op_nowait(struct mx_conn *c, uint8_t type, const void *a, size_t alen, const void *b, size_t blen);

/* Sleep ms, or less when a signal sets the stop flag: MX_ERR_INTR then. */
int client_pause_ms(struct mx_conn *c, uint64_t ms);

#endif
