/* names.h — the NAME port protocol between tasks and namesrv (doc/protocol.md). */
#ifndef MX_NAMES_H
#define MX_NAMES_H

#include <stdint.h>

/* Request msgids; every reply is MX_MSGID_REPLY with INT status first. */
#define NS_REGISTER	1	/* STRING name, PORT send right -> INT status */
#define NS_LOOKUP	2	/* STRING name, INT wait_ms -> INT status, PORT send right */
#define NS_UNREGISTER	3	/* STRING name -> INT status */

/* From portd to namesrv only (the kernel range: tasks cannot send these). */
#define NS_NET_QUERY	0x7fff0010u	/* STRING name, STRING node asking, STRING asker's service ("" none), INT direct */
#define NS_NET_ANSWER	0x7fff0011u	/* STRING name, STRING node, PORT send right, [INT uid, INT gid, BYTES hash, STRING unit] */
/* To a new NAME holder, before anything else: the bindings portd kept (MX_OP_NAME_KEEP). */
#define NS_RESTORE	0x7fff0012u	/* STRING name, INT uid, INT pid, PORT send right */
#define NS_RESTORE_END	0x7fff0013u	/* INT how many NS_RESTORE came before it */
/* portd's answer to MX_OP_WHO_HOLDS, on the port namesrv named: INT cookie, INT status, BYTES identity. */
#define NS_WHO_HOLDS	0x7fff0014u
/* keysrv (re)loaded its signature list (MX_OP_LIST_LOADED): INT its generation. namesrv asks keysrv for the rules. */
#define NS_LIST_CHANGED	0x7fff0015u

struct mx_conn;
struct mx_msg;
/* namesrv's own calls to portd (it holds the NAME port). */
/*
 * Ask node (NULL: every node) who has name, for a task holding service
 * ("" none: the other nodes hear of no asker): *nodes asked.
 */
int ns_net_query(struct mx_conn *c, const char *name, const char *node, const char *service, uint32_t *nodes);
/* Tell node (NULL: every node) that right's port has name. */
int ns_net_answer(struct mx_conn *c, const char *name, uint32_t right, const char *node);
int ns_net_answer_nowait(struct mx_conn *c, const char *name, uint32_t right, const char *node);
/*
 * Have portd keep name -> right (a send right of ours) for uid/pid while
 * namesrv is away, replacing what it kept for name; or (right
 * MX_NAME_NULL) drop what it keeps for name (MX_ERR_NOENT: nothing).
 */
int ns_name_keep(struct mx_conn *c, const char *name, uint32_t right, uint32_t uid, uint32_t pid);
/*
 * The same without waiting: portd takes namesrv's requests in order, so
 * the binding is kept before any reply sent after this; a failure comes
 * with masix_flush() (only a port that died meanwhile: namesrv hears of it).
 */
int ns_name_keep_nowait(struct mx_conn *c, const char *name, uint32_t right, uint32_t uid, uint32_t pid);
/*
 * Who holds the receive right of the port right names (portd's
 * MX_OP_WHO_HOLDS): asked without waiting, so that registrations stay
 * pipelined; the answer comes as an NS_WHO_HOLDS message on notify (a
 * receive right of ours), with cookie.
 */
struct ns_ident {
	uint32_t uid, gid, pid;
	int has_hash;			/* 0: why says why there is no binary identity */
	uint8_t hash[32];		/* SHA-256 of the executable */
	char unit[256];			/* systemd unit of its cgroup, "" none */
	char why[256];
};
int ns_who_holds_ask(struct mx_conn *c, uint32_t right, uint32_t notify, int64_t cookie);
/* An NS_WHO_HOLDS message read: 0 or portd's negative MX_ERR_* (*cookie set), or -MX_ERR_PROTO. */
int ns_who_holds_answer(struct mx_msg *m, int64_t *cookie, struct ns_ident *out);
/* Tell portd the task holding right's receive right is service ("" none); MX_ERR_PERM: it exec'd. */
int ns_service_set(struct mx_conn *c, uint32_t right, const char *service);
/* The send right to a service port of another node (MX_ERR_NODEDOWN if unreachable). */
int masix_special_get_node(struct mx_conn *c, int which, const char *node, uint32_t *out);
/* 1 if name is "NAME" or "NAME@NODE" with a valid name and node name. */
int mx_lookup_name_valid(const char *name);

#endif
