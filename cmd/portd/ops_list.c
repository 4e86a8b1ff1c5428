/*
 * ops_list.c — keysrv loaded its signature list (MX_OP_LIST_LOADED): the
 * one event that makes a changed list reach the whole node. portd reloads
 * its own copies (the revocation list of its links and the signature list
 * it checks other nodes' services against, as on SIGHUP), then tells
 * namesrv with a message in the kernel range (NS_LIST_CHANGED), which no
 * task can forge; namesrv then asks keysrv for the rules.
 *
 * Only the task holding the KEY port may say so (root or the trusted uid
 * took it): anyone else is refused, so no local user can make portd or
 * namesrv reload anything.
 */
#include "keys.h"
#include "log.h"
#include "names.h"
#include "node.h"
#include "ops.h"
#include "rbuf.h"
#include "task.h"

int
ops_list_loaded(struct task *t, const struct mx_frame_hdr *h, const uint8_t *p)
{
	struct port *ks = ipc_port_special_get(MX_SPECIAL_KEY);
	struct port *ns = ipc_port_special_get(MX_SPECIAL_NAME);
	struct mx_msg *m;
	struct rbuf rb;
	int64_t gen;

	if (ks == NULL || ks->dead || ks->receiver != &t->space)
		return -MX_ERR_PERM;
	rbuf_init(&rb, p, h->len);
	gen = (int64_t)rbuf_u64(&rb);
	if (rbuf_end(&rb) < 0)
		return -MX_ERR_PROTO;
	log_info("keysrv loaded its signature list (generation %lld): reloading the revocation list and the "
	    "signature list", (long long)gen);
	node_reload();
	if (ns != NULL && !ns->dead) {
		if ((m = mx_msg_new(NS_LIST_CHANGED)) == NULL || mx_msg_add_int(m, gen) < 0)
			fatal("list loaded");
		ipc_kmsg_notice_items(ns, NS_LIST_CHANGED, m, NULL);
		mx_msg_free(m);
	}
	task_reply(t, h->type, h->id, 0, NULL, 0);
	return 0;
}
