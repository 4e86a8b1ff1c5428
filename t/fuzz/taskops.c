/*
 * taskops.c — stateful libFuzzer harness of portd's request handling: the
 * real task layer (frames cut from input bytes, output queues), request
 * layer (ops.c) and IPC core, on a node linked to no other. Three tasks
 * (uids 1000 and 1001, and root holding the NAME port) get arbitrary byte
 * streams, may be closed and reconnected, and are all closed at the end;
 * the invariant checker runs after every request and every step, the
 * charges included, and once all are gone nothing may be left charged.
 *
 * Input: records of [task byte][u16 length][that many bytes]; task byte
 * 0xff..0xfd closes and reconnects task (byte & 3).
 */
#define MX_CHECK_INVARIANTS 1
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "../../cmd/portd/map.c"
#include "../../cmd/portd/ipc.c"
#include "../../cmd/portd/ipc_acct.c"
#include "../../cmd/portd/ipc_check.c"
#include "../../cmd/portd/ipc_space.c"
#include "../../cmd/portd/ipc_port.c"
#include "../../cmd/portd/ipc_kmsg.c"
#include "../../cmd/portd/task.c"
#include "../../cmd/portd/ops.c"
#include "../../cmd/portd/ops_names.c"
#include "../../cmd/portd/ops_ident.c"
#include "../../cmd/portd/ops_list.c"
#include "../../cmd/portd/identity.c"
#include "../../cmd/portd/identity_budget.c"
#include "../../cmd/portd/identity_cache.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The node layer of a node linked to no other: no proxy ever exists here,
 * so a send never leaves the node, and what asks another node finds none.
 */
int
node_msg_send(struct task *t, const struct mx_frame_hdr *h, struct kmsg *km, int dest_so, uint32_t timeout_ms,
    mx_name_t rpc_reply, uint32_t rpc_timeout, node_done_fn *done)
{
	(void)t; (void)h; (void)km; (void)dest_so; (void)timeout_ms; (void)rpc_reply; (void)rpc_timeout; (void)done;
	abort();	/* only a proxy is sent to another node, and there is none */
}
void node_port_died(struct port *p) { (void)p; }
void node_so_gone(struct port *proxy) { (void)proxy; abort(); }
void node_proxy_no_senders(struct port *proxy) { (void)proxy; abort(); }
int
node_special_get(struct task *t, const struct mx_frame_hdr *h, uint32_t which, const char *node, node_special_fn *done)
{
	(void)t; (void)h; (void)which; (void)node; (void)done;
	return -1;	/* not linked: NODEDOWN */
}
int
node_names_query(const char *name, const char *node, const char *service, const struct rident *asker)
{
	(void)name; (void)service; (void)asker;
	return node != NULL ? -MX_ERR_NODEDOWN : 0;	/* a node alone: not linked */
}
int node_names_peer_count(void) { return 0; }
int
node_names_answer(struct task *t, const char *name, mx_name_t right, const struct rident *id, const char *node)
{
	(void)t; (void)name; (void)right; (void)id;
	return node != NULL ? -MX_ERR_NODEDOWN : 0;
}
void node_msg_task_gone(struct task *t) { (void)t; }
void node_names_keysrv_ready(void) { }
void node_reload(void) { }	/* no link, no broadcast: nothing to reload */

static struct ev_loop *loop;
static struct task *slot[3];
static int peer[3];
static const uid_t slot_uid[3] = { 1000, 1001, 0 };

static struct task *
connect_task(int i)
{
	struct task *t;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	if (ipc_acct_admit(slot_uid[i], (uint32_t)ntasks, task_conf.max_tasks) < 0)
		abort();
	if ((t = calloc(1, sizeof(*t))) == NULL || (t->in = malloc(IN_DEFAULT)) == NULL)
		abort();
	t->id = ++next_task_id;
	t->incap = IN_DEFAULT;
	t->uid = slot_uid[i];
	t->pid = 100 + i;
	ipc_space_init(&t->space, t->uid, t->uid, t->pid);
	ev_timer_init(&t->frame_timer, frame_timeout, t);
	TAILQ_INIT(&t->out);
	LIST_INIT(&t->rsends);
	t->io.cb = task_io;
	t->io.arg = t;
	if (ev_io_add(loop, &t->io, sv[0], EPOLLIN) < 0)
		abort();
	LIST_INSERT_HEAD(&tasks, t, link);
	ntasks++;
	peer[i] = sv[1];
	return t;
}

/* Still connected: portd may have closed it (a bad frame), and freed it after the batch. */
static int
alive(const struct task *t)
{
	struct task *x;

	LIST_FOREACH(x, &tasks, link)
		if (x == t)
			return 1;
	return 0;
}

/* Reconnect the slots whose task portd closed. */
static void
reconnect(void)
{
	int i;

	for (i = 0; i < 3; i++) {
		if (alive(slot[i]))
			continue;
		close(peer[i]);
		slot[i] = connect_task(i);
	}
}

static void
feed(struct task *t, const uint8_t *p, size_t n)
{
	if (t->closing)
		return;
	while (n > 0 && !t->closing) {
		size_t room = t->incap - t->inlen, k = n < room ? n : room;
		if (k == 0) {
			process_frames(t);
			if (t->incap == t->inlen)
				return;	/* stalled with a full buffer: the rest waits, like unread socket bytes */
			continue;
		}
		memcpy(t->in + t->inlen, p, k);
		t->inlen += k;
		p += k;
		n -= k;
		process_frames(t);
	}
}

/* Bytes charged outside the core: output segments' messages, input buffers, names kept for namesrv. */
static uint64_t
outside(void)
{
	struct task *t;
	struct oseg *s;
	uint64_t n = ops_names_bytes();

	LIST_FOREACH(t, &tasks, link) {
		n += t->incharged;
		TAILQ_FOREACH(s, &t->out, link)
			if (s->km != NULL)
				n += s->km->charged;
	}
	return n;
}

static void
drain_peers(void)
{
	char b[65536];
	int i;

	for (i = 0; i < 3; i++)
		while (peer[i] >= 0 && read(peer[i], b, sizeof(b)) > 0)
			;
}

static void
setup_root(void)
{
	/* Root allocates a port and holds NAME with it: name 1. */
	uint8_t f[MX_FRAME_HDR + 8];
	struct mx_frame_hdr h = { .len = 0, .type = MX_OP_PORT_ALLOC, .id = 1 };

	frame_hdr_pack(f, &h);
	feed(slot[2], f, MX_FRAME_HDR);
	h = (struct mx_frame_hdr){ .len = 8, .type = MX_OP_SPECIAL_SET, .id = 2 };
	frame_hdr_pack(f, &h);
	put_u32(f + MX_FRAME_HDR, MX_SPECIAL_NAME);
	put_u32(f + MX_FRAME_HDR + 4, 1);
	feed(slot[2], f, sizeof(f));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int inited;
	size_t pos = 0;
	int i;

	if (!inited) {
		struct ops_conf oc = { NULL, "fuzz", 4, 1u << 20, 64, 64, 0, 0, 1u << 20, 256, 8, 65536, 10000 };
		log_init("taskops", 0, 0);
		if ((loop = ev_new()) == NULL)
			abort();
		oc.loop = loop;
		ops_init(&oc);
		inited = 1;
	}
	for (i = 0; i < 3; i++)
		slot[i] = connect_task(i);
	setup_root();
	while (pos + 3 <= size) {
		uint8_t who = data[pos];
		size_t n = (size_t)data[pos + 1] << 8 | data[pos + 2];
		pos += 3;
		if (n > size - pos)
			n = size - pos;
		if (who >= 0xfd) {
			i = who & 3;
			if (i > 2)
				i = 2;
			task_close(slot[i], NULL);
		} else {
			feed(slot[who % 3], data + pos, n);
			pos += n;
		}
		reconnect();
		tasks_flush(NULL);
		reconnect();
		drain_peers();
		tasks_flush(NULL);
		reconnect();
		for (i = 0; i < 3; i++)
			ipc_check_space(&slot[i]->space);
		ipc_check_acct(outside());
	}
	for (i = 0; i < 3; i++) {
		if (alive(slot[i]))
			task_close(slot[i], NULL);
		close(peer[i]);
		peer[i] = -1;
	}
	tasks_flush(NULL);
	ipc_check_acct(0);
	if (ipc_acct_total(ACCT_BYTES) != 0 || ipc_acct_total(ACCT_RIGHTS) != 0 || ipc_acct_total(ACCT_CONNS) != 0)
		abort();	/* something is still charged with every task gone */
	if (ipc_ports.count != 0)
		abort();	/* a port outlived every task */
	return 0;
}
