/* ops.h — the request layer: what each request frame of a task does. */
#ifndef PORTD_OPS_H
#define PORTD_OPS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "ev.h"
#include "ipc.h"
#include "wire.h"

struct task;

/* A task's send waiting for room in a full local queue. */
struct ops_psend {
	struct psend ps;		/* first: the core hands back &ps */
	struct task *task;
	uint32_t frame_id;
	int rpc;			/* then receive on the reply port */
	mx_name_t rpc_reply;
	uint32_t rpc_timeout;
};

struct ops_conf {
	struct ev_loop *loop;
	const char *node;
	uint32_t qlimit;
	size_t qlimit_bytes;
	uint32_t max_names;
	uint32_t max_tasks;
	uid_t trusted_uid;
	int has_trusted_uid;
	uint64_t budget_bytes;		/* per uid: queued bytes, rights, connections */
	uint64_t budget_rights;
	uint64_t budget_conns;
	size_t out_max;			/* a task's output queue: a receive moves no more past it */
	uint32_t frame_timeout_ms;	/* an incomplete frame older than this closes its task */
	uint64_t exe_hash_max;		/* bytes: a larger binary gets no identity */
};
int ops_dispatch(struct task *t, const struct mx_frame_hdr *h, const uint8_t *p, uint8_t *steal);

void ops_init(const struct ops_conf *c);

/* ops_names.c: the names kept for namesrv while it is away. */
int ops_names_keep(struct task *t, const struct mx_frame_hdr *h, const uint8_t *p);
void ops_names_restore(struct port *ns);	/* ns is the NAME port of a new holder */
void ops_names_port_died(struct port *p);
uint64_t ops_names_bytes(void);		/* charged, for the accounting checks */
/* ops_ident.c: namesrv's identity requests (MX_OP_WHO_HOLDS, MX_OP_SERVICE_SET). */
int ops_ident_who(struct task *t, const struct mx_frame_hdr *h, const uint8_t *p);
int ops_ident_service(struct task *t, const struct mx_frame_hdr *h, const uint8_t *p);
struct rident;
void ops_ident_answer(struct task *t, uint32_t right, struct rident *out);	/* for NET_ANSWER */
int ops_ident_asker(const char *service, struct rident *out);	/* for NET_QUERY: 0, or -1 */
/* ops_list.c: keysrv loaded its signature list (MX_OP_LIST_LOADED, the KEY holder only). */
int ops_list_loaded(struct task *t, const struct mx_frame_hdr *h, const uint8_t *p);

#endif
