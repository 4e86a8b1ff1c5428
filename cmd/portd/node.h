/*
 * node.h — the node layer as the request layer and the wiring see it:
 * sends to ports of other nodes, their service ports, name resolution
 * over the network. It completes a task's request through the callback
 * stored with it, never by calling the task layer.
 */
#ifndef PORTD_NODE_H
#define PORTD_NODE_H

#include <stddef.h>
#include <stdint.h>
#include "ev.h"
#include "ipc.h"
#include "masix.h"
#include "rmsg.h"
#include "wire.h"

struct task;

/* What the node layer is given at init (it may complete listens from the state directory). */
struct node_conf {
	const char *node;		/* this node's name */
	uint64_t incarnation;		/* random at every start: tells this life from the last */
	char state_dir[256];		/* node.key, node.crt, ca.crt, revoked.crl */
	char listens[8][128];		/* "[ADDR]:PORT"s for links */
	int nlistens;
	char broadcast[64];		/* "ADDR[:PORT]", or "" for off */
	char peers[16][128];		/* static peers "HOST[:PORT]" */
	int npeers;
	uint32_t node_timeout_ms;	/* a node gone this long: its proxies die */
	uint64_t node_budget_bytes;	/* bytes one other node's messages may hold here (node_queued_mib) */
};
int node_init(struct node_conf *c, struct ev_loop *l, char *why, size_t whysz);
/*
 * How a task's send to another node ends (status 0 or a positive MX_ERR_*;
 * stalled: the task waited for this one), and how a request for another
 * node's service port ends (p referenced when status is 0): the request
 * layer's callbacks, stored with the request.
 */
typedef void node_done_fn(struct task *t, uint8_t op, uint32_t frame_id, uint32_t status,
    mx_name_t rpc_reply, uint32_t rpc_timeout, int stalled);
typedef void node_special_fn(struct task *t, uint32_t frame_id, uint32_t status, struct port *p);
enum { NODE_STALL = 1, NODE_WINDOW = 2 };	/* node_msg_send: the task must wait */
int node_msg_send(struct task *t, const struct mx_frame_hdr *h, struct kmsg *km, int dest_so,
    uint32_t timeout_ms, mx_name_t rpc_reply, uint32_t rpc_timeout, node_done_fn *done);
void node_port_died(struct port *p);
void node_so_gone(struct port *proxy);
void node_proxy_no_senders(struct port *proxy);	/* the core's hook: give its send rights back */
int node_special_get(struct task *t, const struct mx_frame_hdr *h, uint32_t which, const char *node,
    node_special_fn *done);
/*
 * Ask node (NULL: every node) who has name. asker (NULL: nobody vouched
 * for) is the identity of the task asking, which holds service: sent over
 * links only. The nodes asked, or -MX_ERR_NODEDOWN when node is not linked.
 */
int node_names_query(const char *name, const char *node, const char *service, const struct rident *asker);
int node_names_peer_count(void);	/* the nodes a question or an answer goes to now (broadcast: 1) */
/*
 * id: who holds the port's receive right (ops_ident_answer), carried with
 * the answer; to node alone (NULL: every node).
 */
int node_names_answer(struct task *t, const char *name, mx_name_t right, const struct rident *id,
    const char *node);
void node_msg_task_gone(struct task *t);
void node_shutdown(void);
void node_reload(void);
void node_flush(void);
void node_names_keysrv_ready(void);

#endif
