/* namesrv.h — the name service: a task of portd holding the NAME port. */
#ifndef NAMESRV_H
#define NAMESRV_H

#include <sys/queue.h>
#include "masix.h"

struct binding {
	LIST_ENTRY(binding) link;
	char name[MX_NAME_LEN_MAX + 1];
	mx_name_t right;		/* our send right to the registered port */
	uint32_t uid, pid;		/* who registered it */
	int remote;			/* a cached answer from another node */
	char node[MX_NODE_MAX + 1];	/* ... that node */
};

/* A send right to another node's NAME port, kept for NAME@NODE lookups. */
struct peerns {
	LIST_ENTRY(peerns) link;
	char node[MX_NODE_MAX + 1];
	mx_name_t right;
};

/* A lookup waiting for its name to be registered. */
struct waiter {
	LIST_ENTRY(waiter) link;
	char name[MX_NAME_LEN_MAX + 1];
	struct mx_msg *req;		/* holds the send-once reply right */
	uint64_t deadline;
};

void registry_init(struct mx_conn *c, mx_name_t notify, uint32_t resolve_ms, int announce);
void registry_net(struct mx_msg *m);
void registry_handle(struct mx_msg *req);
void registry_dead(mx_name_t right);
uint32_t registry_next_timeout(void);
void registry_expire(void);
void registry_free(void);

#endif
