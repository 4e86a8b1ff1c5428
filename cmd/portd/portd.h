/*
 * portd.h — portd's configuration, as portd.c reads it from flags and
 * masix.conf. Only portd.c sees it; each layer gets its values at init
 * (the node layer its own struct node_conf, kept in here).
 */
#ifndef PORTD_H
#define PORTD_H

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>
#include "masix.h"
#include "node.h"

struct portd_conf {
	char node[MX_NODE_MAX + 1];
	char rundir[256];
	uid_t trusted_uid;		/* may hold NAME and KEY besides root and our own uid */
	int has_trusted_uid;
	uint32_t qlimit;		/* default queue limit, messages */
	size_t qlimit_bytes;
	uint32_t max_names;		/* rights one task may hold */
	uint32_t max_tasks;
	uint64_t budget_bytes;		/* per uid: queued bytes, rights, connections */
	uint64_t budget_rights;
	uint64_t budget_conns;
	uint32_t frame_timeout_ms;	/* an incomplete frame older than this closes its task */
	struct node_conf net;		/* links, broadcast, peers: the node layer's */
	uint64_t exe_hash_max;		/* bytes: a larger binary is not hashed, has no identity */
	uint32_t resolve_ms;		/* how long namesrv waits for network answers */
};

#endif
