/* namesrv.h — the name service: a task of portd holding the NAME port. */
#ifndef NAMESRV_H
#define NAMESRV_H

#include <sys/queue.h>
#include "hash.h"
#include "masix.h"

/* What one uid may make namesrv hold (see namesrv(8), RESOURCES). */
struct budget_conf {
	uint32_t names;			/* registrations held, per uid */
	uint32_t lookups;		/* lookups waiting for a name, per uid */
	uint32_t cached;		/* answers cached from one other node */
	int has_trusted_uid;		/* portd's trusted_uid, unlimited like root */
	uint32_t trusted_uid;
};

enum budget_kind { BUDGET_NAMES, BUDGET_LOOKUPS };

void budget_init(const struct budget_conf *bc);
/*
 * Charge one object of kind to uid: 0, or -MX_ERR_BUDGET with the reason
 * ("over budget: uid 1001 names 1024") in why, logged once per interval.
 */
int budget_take(uint32_t uid, uint32_t pid, enum budget_kind kind, char *why, size_t whysz);
void budget_give(uint32_t uid, enum budget_kind kind);
/*
 * Charge one cached answer to the node that gave it: 0, or -MX_ERR_BUDGET
 * (logged once per interval) when that node has names_per_node cached.
 */
int budget_node_take(const char *node);
void budget_node_give(const char *node);

/* A lookup waiting for its name to be registered. */
struct waiter {
	struct hnode by_name;
	struct hnode by_reply;		/* keyed by req->reply: its death ends the wait */
	size_t heap_at;			/* index in the deadline heap */
	uint64_t deadline;		/* monotonic ms */
	uint32_t uid;			/* charged for it */
	struct mx_msg *req;		/* holds the send-once reply right */
	const char *node;		/* a NAME@NODE lookup: only that node's answer ("" any); after name */
	char name[];
};

struct waiter *waiter_add(const char *name, const char *node, struct mx_msg *req, uint64_t deadline);
/* A waiter taken off the tables goes back, its deadline unchanged. */
void waiter_put_back(struct waiter *w);
/* Take one waiter for name off the tables; NULL when none is left. */
struct waiter *waiter_take(const char *name);
/* Take the waiter whose reply right is reply (its client went away); NULL when none. */
struct waiter *waiter_take_reply(mx_name_t reply);
/* Take the waiter with the earliest deadline if it is at or before now. */
struct waiter *waiter_take_expired(uint64_t now);
uint64_t waiter_next_deadline(void);	/* UINT64_MAX when none waits */
void waiters_free(void);

void registry_init(struct mx_conn *c, mx_name_t notify, mx_name_t authz_port, uint32_t resolve_ms, int announce);
void registry_net(struct mx_msg *m);
void registry_restore(struct mx_msg *m);
void registry_handle(struct mx_msg *req);
void registry_dead(mx_name_t right);
uint32_t registry_next_timeout(void);
void registry_expire(void);
void registry_free(void);

/* authz.c: who may take a name (doc/trust.md). */
typedef void (*authz_resume_fn)(const char *name, mx_name_t right, uint32_t uid, uint32_t pid, struct mx_msg *req,
    int refused);
/*
 * port: ours, keysrv's answers come there; fn: a checked registration goes
 * on there (req is its again), refused 0; or a binding portd kept (req
 * NULL) ends there refused (a negative MX_ERR_*): not restored.
 */
void authz_init(struct mx_conn *c, mx_name_t port, authz_resume_fn fn);
/* m to keysrv's KEY port, answered on authz.c's port, without waiting: 0, or MX_ERR_UNAVAIL (keysrv down). */
int authz_keysrv_send(struct mx_msg *m);
/* 1 when this registration is one authz let through and hands back now (*service: a protected name). */
int authz_passed(const char *name, mx_name_t right, int *service);
/*
 * Start the check, the name's budget already charged to uid: 0, req waits
 * for keysrv, owned by authz until fn gets it back (the budget still
 * charged) or it is refused (answered, budget given back); < 0: refused
 * at once, answered, the budget the caller's to give back.
 */
int authz_check(const char *name, mx_name_t right, uint32_t uid, uint32_t pid, struct mx_msg *req);
void authz_refuse(struct mx_msg *req, int status, const char *why);	/* answer status and why */
void authz_reply(struct mx_msg *m);	/* a message on our port: keysrv's verdict */
uint64_t authz_next_deadline(void);	/* UINT64_MAX when nothing waits */
void authz_expire(uint64_t now);
int authz_private(const char *name);	/* a rule of the last list known marks name private */
/* 1 if a task with this verified service ("" none) may learn that name is bound (doc/trust.md). */
int authz_visible(const char *name, const char *service);
#define AUTHZ_GEN_OWN	(-2)	/* the rules known come from namesrv's own copy of the list */
/* Forget the rules known; they are now those of list generation gen, n of them, added next. */
void authz_known_reset(int64_t gen, int strict, size_t n);
void authz_known_add(const char *name, int private, const char *audience);
void authz_free(void);
int authz_protected(const char *name);	/* a rule of the last list known covers name (or strict) */
int64_t authz_known_gen(void);		/* the generation of that list (0: none yet) */
void authz_learn(struct mx_msg *m, int64_t gen, int64_t strict);	/* a verdict's rules' names, if new */

/* authz_remote.c: answers from other nodes obey the list too (doc/trust.md). */
struct remote_ident {
	int present;			/* 0: the node vouched for nobody */
	uint32_t uid, gid;
	int has_hash;
	uint8_t hash[32];		/* SHA-256 of the registering task's binary */
	char unit[256];			/* its systemd unit, "" none */
};
void authz_remote_init(struct mx_conn *c);	/* keysrv's verdicts come on authz.c's port (authz_keysrv_send) */
int authz_remote_ident(struct mx_msg *m, struct remote_ident *id);	/* NS_NET_ANSWER's last items */
/*
 * name answered by node with right (a send right of ours) for the task id
 * names: 1 when taken (cached once keysrv allows it, else given back,
 * charged to node's share meanwhile), 0 when the caller gives right back.
 */
int authz_remote_check(const char *name, const char *node, mx_name_t right, const struct remote_ident *id);
int authz_remote_reply(struct mx_msg *m);	/* 1: a verdict on an answer (taken), 0: authz.c's (m rewound) */
uint64_t authz_remote_next_deadline(void);	/* UINT64_MAX when nothing waits */
void authz_remote_expire(uint64_t now);
void authz_remote_free(void);
/* registry.c: cache an answer the list allows (node's share charged): 1 when bound, holding right. */
int registry_cache(const char *name, const char *node, mx_name_t right);

/* ownlist.c: namesrv's own copy of the signed list, read at start (doc/trust.md). */
void ownlist_load(const char *state_dir, int strict);

/* m to keysrv's KEY port, its answer on reply (a receive right of ours), without waiting: 0 or MX_ERR_UNAVAIL. */
int authz_keysrv_ask(struct mx_msg *m, mx_name_t reply);

/* listwatch.c: a list keysrv loads reaches namesrv at once (doc/trust.md, "When the list changes"). */
void listwatch_init(struct mx_conn *c, mx_name_t port);	/* keysrv's answers come on port */
void listwatch_ask(void);			/* ask keysrv for its rules (at start) */
void listwatch_notice(struct mx_msg *m);	/* portd's NS_LIST_CHANGED */
void listwatch_reply(struct mx_msg *m);		/* a message on listwatch's port */
void listwatch_learned(int64_t gen, size_t rules, size_t private);	/* authz.c learned new rules */

/* recheck.c: registered protected names checked again against a new list. */
void recheck_init(struct mx_conn *c, mx_name_t port);	/* portd's and keysrv's answers come on port */
void recheck_add(const char *name, mx_name_t right, uint32_t uid, uint32_t pid);	/* queue one */
void recheck_run(void);				/* start (or restart) with what was queued */
void recheck_reply(struct mx_msg *m);		/* a message on recheck's port */
void recheck_free(void);
/* registry.c, for the two above */
void registry_list_changed(void);		/* the rules known changed: cache, stamps, rechecks */
int registry_recheck_verdict(const char *name, mx_name_t right, int kind);	/* KS_VERDICT_*: 1 dropped */

#endif
