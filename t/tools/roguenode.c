/*
 * roguenode — a member node gone bad, for the bats suite: portd's own link
 * layer (cmd/portd/link*.c, TLS 1.3 with a valid member certificate of the
 * cluster, HELLO/ACCEPT) linked to a real node, sending whatever frames its
 * script says, however forged, and printing every frame it receives.
 *
 *   roguenode -S STATEDIR -N NODE -c PEER@HOST:PORT [-e CMD]... [-t SECS] [-k] [-a] [-v]
 *   roguenode -L ADDR:PORT -t SECS
 *
 * The second form is a plain TCP listener that a node may be made to dial:
 * it accepts and closes every connection for SECS seconds (listening as
 * soon as it prints "listening"), then prints "connections N" and exits 0.
 *
 * STATEDIR holds node.key, node.crt (CN = NODE) and ca.crt, as a node's
 * state directory made by masix-node init does. -c links to node PEER at
 * HOST:PORT. Once the link is up, the commands run in order: each -e, or
 * when there is none one per line of standard input (empty lines and lines
 * starting with '#' skipped). Then roguenode waits until what it sent has
 * left and exits 0; with -k it stays (printing frames) until SIGTERM. A
 * command that waits (sync, special, wait) gives up after SECS (-t, default
 * 20): "roguenode: timed out: CMD" on stderr, exit 75. The link going down
 * ends it: exit 69. Usage errors and bad commands exit 64.
 *
 * Commands (numbers are decimal or 0x hex):
 *   msg DEST [OPT]...     LF_MSG frames to DEST, the port id [INC:]ID, or a
 *                         range [INC:]LO-HI (one frame per id, each repeated
 *                         count times). INC defaults to the peer's
 *                         incarnation; ID may be $special, $answer or $reply
 *                         (the id of the last special answer, name answer or
 *                         reply right received). OPTs:
 *     msgid=N             message id (default 1); also dead_name, no_reply,
 *                         net_answer, net_query (the kernel ids)
 *     uid=N gid=N pid=N   trailer (default 4242 each)
 *     service=S node=S    trailer service and node ("" by default)
 *     vouch=HASH          the RMSGF_VOUCH identity after the trailer: HASH is
 *                         sha256:HEX or none (no binary hash)
 *     unit=U              its unit (with vouch=; written as given)
 *     so                  the DEST_SO flag (a send through a send-once right)
 *     size=N              a BYTES item of N bytes ('r' each)
 *     str=S               a STRING item; int=N an INT item (each once)
 *     count=N             send each frame N times (default 1)
 *     timeout=MS          the sender's timeout (default 0: never wait)
 *     reply=GID[:so]      a reply right (send-once, or a send right without :so)
 *     right=GID[:so]      a PORT item carrying that right (up to 16)
 *     rights=N            N PORT items with send rights to ids 1..N of nodes
 *                         named by names=random (default: fresh valid names)
 *                         or names=invalid (names no node may have)
 *                         GID is NODE:INC:ID; NODE "@" is the peer, "me" this
 *                         node; INC "@" the peer's incarnation, "me" ours.
 *   sogone [INC:]ID       LF_SO_GONE (a send-once right to it died unused)
 *   dead [INC:]ID         LF_DEAD
 *   nodes N ADDR [PREFIX] LF_NODES with N entries PREFIX1..PREFIXN (default
 *                         "ghost"), each at ADDR (HOST:PORT, sent as written)
 *   query NAME [direct] [asker=SERVICE [uid=N gid=N hash=HEX unit=U]]
 *                         LF_QUERY; direct: answer this node alone; asker=:
 *                         the asking task's service and identity (as answer)
 *   answer NAME ID [uid=N gid=N hash=HEX unit=U has_hash=N]
 *                         LF_ANSWER: NAME is our port ID; with uid= (and
 *                         the others, defaults 0, no hash, no unit) the
 *                         identity of the task that registered it follows
 *                         (has_hash= forces that byte, for malformed ones)
 *   release ID COUNT      LF_RELEASE: COUNT send rights to the peer's ID go back
 *   holdspecials          LF_SPECIAL_REQs from now on wait for specialans
 *   specialans ID         answer the last one held: our port ID
 *   waitfile PATH         wait until PATH exists
 *   here PORT             LF_HERE
 *   special WHICH         LF_SPECIAL_REQ, and wait for the answer (1: NAME, 2: KEY)
 *   raw TYPE HEX          a frame of TYPE (1..99) with the bytes HEX
 *   sync                  wait until every LF_MSG sent was ACKed, then print
 *                         "acked N: STATUS COUNT ..." (statuses in order:
 *                         ok, then MX_ERR_* names such as PERM, DEAD, FULL)
 *   wait TYPE N           wait until N frames of TYPE (msg, dead, sogone,
 *                         query, answer, here, nodes, special, special_req,
 *                         release) were received
 *   sleep MS              wait MS milliseconds
 *
 * Received frames, one line each on standard output:
 *   up NODE               the link is up
 *   msg seq=S dest=ID msgid=0xN so|- uid=U gid=G pid=P node=N service=S
 *       reply=NODE:ID:so|send|- rights=N body=TEXT
 *                         (ACKed with status 0 at once; body is the first
 *                         BYTES or STRING item, 64 bytes at most, '-' if none)
 *   ack SEQ STATUS        only with -a; otherwise sync sums them up
 *   dead ID, sogone ID, query NAME, answer NAME NODE:ID, here PORT,
 *   nodes N [NODE=ADDR]..., special STATUS ID, special_req WHICH (answered
 *   UNAVAIL unless held), release ID COUNT (one line per entry),
 *   frame TYPE LEN (any other type)
 *   down NODE: WHY        the link went down
 * Log lines (the link layer's) go to stderr; -v adds debug lines.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <signal.h>
#include <poll.h>
#include <openssl/rand.h>
#include "../../cmd/portd/link.c"
#include "../../cmd/portd/link_dial.c"
#include "../../cmd/portd/link_tls.c"
#include "../../cmd/portd/link_frame.c"
#include "../../cmd/portd/rmsg.c"
#include "names.h"

/* The frame types of cmd/portd/node_int.h (kept in step by hand: a test driver speaks the wire). */
enum { LF_MSG = 1, LF_ACK, LF_DEAD, LF_SO_GONE, LF_SPECIAL_REQ, LF_SPECIAL_ANS, LF_QUERY,
	LF_ANSWER, LF_HERE, LF_NODES, LF_RELEASE = 20, LF__MAX };

#define MAX_RIGHTS	1024
#define OUTQ_HIGH	(8u << 20)	/* stop queueing while this much waits to be written */

static struct ev_loop *lp;
static struct link *peer;
static char peer_node[CRYPTO_NODE_MAX + 1];
static uint64_t peer_inc, my_inc;
static const char *my_node;
static char **cmds;
static size_t ncmds, cur;
static int keep, print_acks, exit_code, closing;
static uint64_t timeout_ms = 20000;
static struct ev_timer step_timer, deadline_timer;

static uint64_t next_seq, sent_msgs, acked_msgs, acks_by_status[MX_ERR__MAX + 1];
static uint64_t got[LF__MAX + 1];
static uint64_t var_special, var_answer, var_reply;
static uint64_t specials_asked, next_req;
static int hold_specials, special_held;
static uint64_t held_req;
static char wait_file[4096];

/* What the current command waits for. */
enum { W_NONE, W_SYNC, W_SPECIAL, W_FRAMES, W_SLEEP, W_SEND, W_DRAIN, W_FILE };
static int waiting;
static uint64_t wait_until, wait_count;
static int wait_type;

/* A msg command in progress (count and ranges may take many steps). */
struct gidspec {
	char node[MX_NODE_MAX + 1];
	uint64_t inc, id;
	uint8_t right;
};
static struct {
	uint64_t inc, lo, hi, cur;
	uint32_t msgid, timeout;
	uint8_t flags;
	struct mx_trailer tr;
	uint64_t count, done;
	int has_reply;
	struct gidspec reply;
	struct gidspec rights[MAX_RIGHTS];
	uint32_t nrights, nrandom;
	int names_invalid;
	size_t size;
	const char *str;
	int has_int;
	int64_t ival;
	struct rvouch vouch;	/* flags & RMSGF_VOUCH: sent after the trailer as written */
} M;

static const char *const err_names[MX_ERR__MAX] = {
	"ok", "NOMEM", "INVAL", "PROTO", "NOENT", "BADNAME", "DEAD", "NOREPLY", "TIMEOUT", "PERM",
	"EXISTS", "TOOBIG", "IO", "UNAVAIL", "REMOTE", "NOTSUP", "VERSION", "FULL", "BADSIG", "INTR",
	"NODEDOWN", "BUDGET",
};

static const char *
status_name(uint32_t s)
{
	static char buf[16];

	if (s < MX_ERR__MAX)
		return err_names[s];
	snprintf(buf, sizeof(buf), "%u", s);
	return buf;
}

static void bad_cmd(const char *what, const char *line) __attribute__((noreturn));

static void
bad_cmd(const char *what, const char *line)
{
	fprintf(stderr, "roguenode: %s: '%s'\n", what, line);
	exit(64);
}

static int
num(const char *s, uint64_t *out)
{
	char *end;

	if (s[0] == '$') {
		if (strcmp(s, "$special") == 0)
			*out = var_special;
		else if (strcmp(s, "$answer") == 0)
			*out = var_answer;
		else if (strcmp(s, "$reply") == 0)
			*out = var_reply;
		else
			return -1;
		return 0;
	}
	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	*out = strtoull(s, &end, 0);
	return *end != '\0' || errno != 0 ? -1 : 0;
}

/* "[INC:]ID" or "[INC:]LO-HI". */
static int
parse_dest(char *s, uint64_t *inc, uint64_t *lo, uint64_t *hi)
{
	char *colon = strchr(s, ':'), *dash;

	*inc = peer_inc;
	if (colon != NULL) {
		*colon = '\0';
		if (num(s, inc) < 0)
			return -1;
		s = colon + 1;
	}
	if ((dash = strchr(s, '-')) != NULL) {
		*dash = '\0';
		return num(s, lo) < 0 || num(dash + 1, hi) < 0 || *hi < *lo ? -1 : 0;
	}
	if (num(s, lo) < 0)
		return -1;
	*hi = *lo;
	return 0;
}

/* "NODE:INC:ID[:so]". */
static int
parse_gid(char *s, struct gidspec *g)
{
	char *f[4] = { 0 };
	int n = 0;

	for (f[n++] = s; n < 4 && (s = strchr(s, ':')) != NULL; f[n++] = ++s)
		s[0] = '\0';
	if (n < 3 || (s != NULL && strchr(s, ':') != NULL))
		return -1;
	snprintf(g->node, sizeof(g->node), "%s", strcmp(f[0], "@") == 0 ? peer_node :
	    strcmp(f[0], "me") == 0 ? my_node : f[0]);
	if (strcmp(f[1], "@") == 0)
		g->inc = peer_inc;
	else if (strcmp(f[1], "me") == 0)
		g->inc = my_inc;
	else if (num(f[1], &g->inc) < 0)
		return -1;
	if (num(f[2], &g->id) < 0)
		return -1;
	g->right = MX_RIGHT_SEND;
	if (n == 4) {
		if (strcmp(f[3], "so") != 0)
			return -1;
		g->right = MX_RIGHT_SEND_ONCE;
	}
	return 0;
}

static uint32_t
parse_msgid(const char *v, const char *line)
{
	uint64_t n;

	if (strcmp(v, "dead_name") == 0)
		return MX_MSGID_DEAD_NAME;
	if (strcmp(v, "no_reply") == 0)
		return MX_MSGID_NO_REPLY;
	if (strcmp(v, "net_answer") == 0)
		return NS_NET_ANSWER;
	if (strcmp(v, "net_query") == 0)
		return NS_NET_QUERY;
	if (num(v, &n) < 0 || n > UINT32_MAX)
		bad_cmd("bad msgid", line);
	return (uint32_t)n;
}

/* ---- building frames ---- */

struct obuf {
	uint8_t *p;
	size_t len, cap;
};

static void
ob_need(struct obuf *b, size_t n)
{
	if (b->len + n <= b->cap)
		return;
	while (b->cap < b->len + n)
		b->cap = b->cap ? b->cap * 2 : 1024;
	if ((b->p = realloc(b->p, b->cap)) == NULL)
		die(1, "out of memory");
}

static void ob_u8(struct obuf *b, uint8_t v) { ob_need(b, 1); b->p[b->len++] = v; }
static void ob_u16(struct obuf *b, uint16_t v) { ob_need(b, 2); put_u16(b->p + b->len, v); b->len += 2; }
static void ob_u32(struct obuf *b, uint32_t v) { ob_need(b, 4); put_u32(b->p + b->len, v); b->len += 4; }
static void ob_u64(struct obuf *b, uint64_t v) { ob_need(b, 8); put_u64(b->p + b->len, v); b->len += 8; }

static void
ob_str(struct obuf *b, const char *s)
{
	size_t n = strlen(s);

	if (n > 255)
		n = 255;
	ob_u8(b, (uint8_t)n);
	ob_need(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void
ob_gid(struct obuf *b, const struct gidspec *g)
{
	ob_str(b, g->node);
	ob_u64(b, g->inc);
	ob_u64(b, g->id);
}

static void
item_hdr(struct obuf *b, uint8_t type, uint8_t right, uint32_t len)
{
	ob_u8(b, type);
	ob_u8(b, right);
	ob_u16(b, 0);
	ob_u32(b, len);
}

static void
send_frame(uint8_t type, const struct obuf *b)
{
	if (link_send(peer, type, b->p, b->len, NULL, 0) != 0)
		die(69, "send: the link is down");
}

/* A node name for the k-th generated right: valid, or one no node may have. */
static void
gen_name(char *out, size_t outsz, uint32_t k)
{
	static const char *const bad[] = { "bad/name%u", "-lead%u", ".dot%u", "sp ace%u", "" };
	uint64_t r;

	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		die(1, "random failed");
	if (!M.names_invalid) {
		snprintf(out, outsz, "r%016llx", (unsigned long long)r);
	} else if (k % 6 == 5) {
		memset(out, 'x', outsz - 1);	/* over CRYPTO_NODE_MAX */
		out[outsz - 1] = '\0';
	} else {
		snprintf(out, outsz, bad[k % 5], (unsigned)(r % 100000));
	}
}

/* One LF_MSG to M.cur. */
static void
send_one_msg(void)
{
	struct obuf b = { 0 }, items = { 0 };
	struct gidspec g;
	uint32_t i, n = M.nrights + M.nrandom;
	uint32_t *offs = calloc(n + 1, sizeof(*offs));

	if (offs == NULL)
		die(1, "out of memory");
	if (M.size > 0) {
		item_hdr(&items, MX_ITEM_BYTES, 0, (uint32_t)M.size);
		ob_need(&items, M.size);
		memset(items.p + items.len, 'r', M.size);
		items.len += M.size;
	}
	if (M.str != NULL) {
		item_hdr(&items, MX_ITEM_STRING, 0, (uint32_t)strlen(M.str));
		ob_need(&items, strlen(M.str));
		memcpy(items.p + items.len, M.str, strlen(M.str));
		items.len += strlen(M.str);
	}
	if (M.has_int) {
		item_hdr(&items, MX_ITEM_INT, 0, 8);
		ob_u64(&items, (uint64_t)M.ival);
	}
	for (i = 0; i < n; i++) {
		offs[i] = (uint32_t)items.len;
		item_hdr(&items, MX_ITEM_PORT, i < M.nrights ? M.rights[i].right : MX_RIGHT_SEND, 4);
		ob_u32(&items, 0);
	}
	ob_u64(&b, ++next_seq);
	ob_u64(&b, M.inc);
	ob_u64(&b, M.cur);
	ob_u32(&b, M.msgid);
	ob_u32(&b, M.timeout);
	ob_u8(&b, M.flags);
	ob_u8(&b, (uint8_t)M.has_reply);
	ob_u16(&b, (uint16_t)n);
	ob_need(&b, MX_TRAILER_MAX);
	b.len += trailer_pack(b.p + b.len, &M.tr);
	if (M.flags & RMSGF_VOUCH) {
		ob_u8(&b, (uint8_t)M.vouch.has_hash);
		ob_need(&b, RMSG_HASH_LEN);
		memcpy(b.p + b.len, M.vouch.hash, RMSG_HASH_LEN);
		b.len += RMSG_HASH_LEN;
		ob_str(&b, M.vouch.unit);
	}
	if (M.has_reply) {
		ob_u8(&b, M.reply.right);
		ob_gid(&b, &M.reply);
	}
	for (i = 0; i < n; i++) {
		ob_u32(&b, offs[i]);
		if (i < M.nrights) {
			ob_u8(&b, M.rights[i].right);
			ob_gid(&b, &M.rights[i]);
		} else {
			gen_name(g.node, sizeof(g.node), i);
			g.inc = 1;
			g.id = i - M.nrights + 1;
			ob_u8(&b, MX_RIGHT_SEND);
			ob_gid(&b, &g);
		}
	}
	ob_u32(&b, (uint32_t)items.len);
	if (link_send(peer, LF_MSG, b.p, b.len, items.p, items.len) != 0)
		die(69, "send: the link is down");
	sent_msgs++;
	free(b.p);
	free(items.p);
	free(offs);
}

/* Go on with a msg command; 1 when it is done. */
static int
msg_continue(void)
{
	while (M.cur <= M.hi) {
		if (link_queued(peer) > OUTQ_HIGH)
			return 0;
		send_one_msg();
		if (++M.done == M.count) {
			M.done = 0;
			if (M.cur == M.hi)
				return 1;
			M.cur++;
		}
	}
	return 1;
}

static void
cmd_msg(char **av, int ac, const char *line)
{
	int i;

	memset(&M, 0, sizeof(M));
	if (ac < 2 || parse_dest(av[1], &M.inc, &M.lo, &M.hi) < 0)
		bad_cmd("msg: bad destination", line);
	M.cur = M.lo;
	M.msgid = 1;
	M.count = 1;
	M.tr.uid = M.tr.gid = M.tr.pid = 4242;
	for (i = 2; i < ac; i++) {
		char *k = av[i], *v = strchr(k, '=');
		uint64_t n = 0;

		if (strcmp(k, "so") == 0) {
			M.flags |= RMSGF_DEST_SO;
			continue;
		}
		if (v == NULL)
			bad_cmd("msg: bad option", line);
		*v++ = '\0';
		if (strcmp(k, "msgid") == 0)
			M.msgid = parse_msgid(v, line);
		else if (strcmp(k, "service") == 0)
			snprintf(M.tr.service, sizeof(M.tr.service), "%s", v);
		else if (strcmp(k, "node") == 0)
			snprintf(M.tr.node, sizeof(M.tr.node), "%s", v);
		else if (strcmp(k, "vouch") == 0) {
			M.flags |= RMSGF_VOUCH;
			M.vouch.has_hash = strcmp(v, "none") != 0;
			if (M.vouch.has_hash && crypto_hash_parse(v, M.vouch.hash) != 0)
				bad_cmd("msg: vouch= takes sha256:HEX or none", line);
		} else if (strcmp(k, "unit") == 0)
			snprintf(M.vouch.unit, sizeof(M.vouch.unit), "%s", v);
		else if (strcmp(k, "str") == 0)
			M.str = v;
		else if (strcmp(k, "names") == 0) {
			if (strcmp(v, "invalid") == 0)
				M.names_invalid = 1;
			else if (strcmp(v, "random") != 0)
				bad_cmd("msg: names= takes random or invalid", line);
		} else if (strcmp(k, "reply") == 0) {
			if (parse_gid(v, &M.reply) < 0)
				bad_cmd("msg: bad reply right", line);
			M.has_reply = 1;
		} else if (strcmp(k, "right") == 0) {
			if (M.nrights == 16 || parse_gid(v, &M.rights[M.nrights]) < 0)
				bad_cmd("msg: bad right", line);
			M.nrights++;
		} else if (strcmp(k, "int") == 0) {
			char *end;
			errno = 0;
			M.ival = strtoll(v, &end, 0);
			if (*v == '\0' || *end != '\0' || errno != 0)
				bad_cmd("msg: bad int", line);
			M.has_int = 1;
		} else if (num(v, &n) < 0) {
			bad_cmd("msg: bad number", line);
		} else if (strcmp(k, "uid") == 0)
			M.tr.uid = (uint32_t)n;
		else if (strcmp(k, "gid") == 0)
			M.tr.gid = (uint32_t)n;
		else if (strcmp(k, "pid") == 0)
			M.tr.pid = (uint32_t)n;
		else if (strcmp(k, "size") == 0 && n <= MX_BODY_MAX - 4096)
			M.size = (size_t)n;
		else if (strcmp(k, "count") == 0 && n > 0)
			M.count = n;
		else if (strcmp(k, "timeout") == 0 && n <= UINT32_MAX)
			M.timeout = (uint32_t)n;
		else if (strcmp(k, "rights") == 0 && n <= MAX_RIGHTS - 16)
			M.nrandom = (uint32_t)n;
		else
			bad_cmd("msg: bad option", line);
	}
	if (!msg_continue())
		waiting = W_SEND;
}

static void
cmd_port_event(uint8_t type, char *dest, const char *line)
{
	struct obuf b = { 0 };
	uint64_t inc, lo, hi, id;

	if (parse_dest(dest, &inc, &lo, &hi) < 0)
		bad_cmd("bad port", line);
	for (id = lo; id <= hi; id++) {
		b.len = 0;
		ob_u64(&b, inc);
		ob_u64(&b, id);
		send_frame(type, &b);
	}
	free(b.p);
}

static void
cmd_nodes(char **av, int ac, const char *line)
{
	struct obuf b = { 0 };
	char name[MX_NODE_MAX + 1];
	uint64_t n, i;

	if (ac < 3 || ac > 4 || num(av[1], &n) < 0 || n > 65535)
		bad_cmd("nodes: expected N ADDR [PREFIX]", line);
	ob_u16(&b, (uint16_t)n);
	for (i = 1; i <= n; i++) {
		snprintf(name, sizeof(name), "%s%llu", ac == 4 ? av[3] : "ghost", (unsigned long long)i);
		ob_str(&b, name);
		ob_str(&b, av[2]);
	}
	send_frame(LF_NODES, &b);
	free(b.p);
}

static int
hexval(int c)
{
	return isdigit(c) ? c - '0' : isxdigit(c) ? tolower(c) - 'a' + 10 : -1;
}

/*
 * The identity a node vouches for in a name answer (doc/protocol.md,
 * LF_ANSWER): u32 uid, u32 gid, u8 has_hash, 32 bytes SHA-256, u8 length
 * and a unit. Options uid= gid= hash= (64 hex digits) unit=.
 */
static void
answer_ident(struct obuf *b, char **av, int ac, const char *line)
{
	uint64_t uid = 0, gid = 0;
	uint8_t hash[32] = { 0 };
	const char *unit = "";
	uint64_t force = 256;
	int i, has_hash = 0;
	size_t j;

	for (i = 0; i < ac; i++) {
		char *k = av[i], *v = strchr(k, '=');
		if (v == NULL)
			bad_cmd("answer: bad option", line);
		*v++ = '\0';
		if (strcmp(k, "uid") == 0 && num(v, &uid) == 0 && uid <= UINT32_MAX)
			continue;
		if (strcmp(k, "gid") == 0 && num(v, &gid) == 0 && gid <= UINT32_MAX)
			continue;
		if (strcmp(k, "has_hash") == 0 && num(v, &force) == 0 && force <= 255)
			continue;
		if (strcmp(k, "unit") == 0 && strlen(v) <= 255) {
			unit = v;
			continue;
		}
		if (strcmp(k, "hash") != 0 || strlen(v) != 64)
			bad_cmd("answer: bad option", line);
		for (j = 0; j < 32; j++) {
			if (hexval((unsigned char)v[2 * j]) < 0 || hexval((unsigned char)v[2 * j + 1]) < 0)
				bad_cmd("answer: bad hash", line);
			hash[j] = (uint8_t)(hexval((unsigned char)v[2 * j]) << 4 | hexval((unsigned char)v[2 * j + 1]));
		}
		has_hash = 1;
	}
	ob_u32(b, (uint32_t)uid);
	ob_u32(b, (uint32_t)gid);
	ob_u8(b, (uint8_t)(force <= 255 ? force : (uint64_t)has_hash));
	ob_need(b, 32);
	memcpy(b->p + b->len, hash, 32);
	b->len += 32;
	ob_str(b, unit);
}

/* Run the current command; 1 when it is over, 0 when it waits. */
static int
run_cmd(char *line)
{
	char *av[64], *copy, *s;
	int ac = 0;
	struct obuf b = { 0 };
	uint64_t n;

	if ((copy = strdup(line)) == NULL)
		die(1, "out of memory");
	for (s = strtok(copy, " \t"); s != NULL && ac < 64; s = strtok(NULL, " \t"))
		av[ac++] = s;
	if (ac == 0 || av[0][0] == '#') {
		free(copy);
		return 1;
	}
	if (strcmp(av[0], "msg") == 0) {
		cmd_msg(av, ac, line);
	} else if (strcmp(av[0], "sogone") == 0 && ac == 2) {
		cmd_port_event(LF_SO_GONE, av[1], line);
	} else if (strcmp(av[0], "dead") == 0 && ac == 2) {
		cmd_port_event(LF_DEAD, av[1], line);
	} else if (strcmp(av[0], "nodes") == 0) {
		cmd_nodes(av, ac, line);
	} else if (strcmp(av[0], "query") == 0 && ac >= 2) {
		int k = 2, flags = 0;
		const char *svc = NULL;
		ob_str(&b, av[1]);
		if (k < ac && strcmp(av[k], "direct") == 0 && ++k)
			flags |= 0x01;
		if (k < ac && strncmp(av[k], "asker=", 6) == 0) {
			flags |= 0x02;
			svc = av[k++] + 6;
		}
		if (flags != 0)
			ob_u8(&b, (uint8_t)flags);
		if (svc != NULL) {
			ob_str(&b, svc);
			answer_ident(&b, av + k, ac - k, line);
		} else if (k < ac) {
			bad_cmd("query: bad option", line);
		}
		send_frame(LF_QUERY, &b);
	} else if (strcmp(av[0], "answer") == 0 && ac >= 3 && num(av[2], &n) == 0) {
		struct gidspec g;
		snprintf(g.node, sizeof(g.node), "%s", my_node);
		g.inc = my_inc;
		g.id = n;
		ob_str(&b, av[1]);
		ob_gid(&b, &g);
		if (ac > 3)
			answer_ident(&b, av + 3, ac - 3, line);
		send_frame(LF_ANSWER, &b);
	} else if (strcmp(av[0], "release") == 0 && ac == 3 && num(av[1], &n) == 0) {
		uint64_t count;
		if (num(av[2], &count) < 0 || count > UINT32_MAX)
			bad_cmd("release: bad count", line);
		ob_u64(&b, peer_inc);
		ob_u16(&b, 1);
		ob_u64(&b, n);
		ob_u32(&b, (uint32_t)count);
		send_frame(LF_RELEASE, &b);
	} else if (strcmp(av[0], "holdspecials") == 0 && ac == 1) {
		hold_specials = 1;
	} else if (strcmp(av[0], "specialans") == 0 && ac == 2 && num(av[1], &n) == 0) {
		if (!special_held)
			bad_cmd("specialans: no special request held", line);
		ob_u64(&b, held_req);
		ob_u32(&b, 0);
		ob_u64(&b, n);
		send_frame(LF_SPECIAL_ANS, &b);
		special_held = 0;
	} else if (strcmp(av[0], "waitfile") == 0 && ac == 2) {
		snprintf(wait_file, sizeof(wait_file), "%s", av[1]);
		waiting = W_FILE;
	} else if (strcmp(av[0], "here") == 0 && ac == 2 && num(av[1], &n) == 0 && n <= 65535) {
		ob_u16(&b, (uint16_t)n);
		send_frame(LF_HERE, &b);
	} else if (strcmp(av[0], "special") == 0 && ac == 2 && num(av[1], &n) == 0 && n <= UINT32_MAX) {
		ob_u64(&b, ++next_req);
		ob_u32(&b, (uint32_t)n);
		send_frame(LF_SPECIAL_REQ, &b);
		specials_asked++;
		waiting = W_SPECIAL;
	} else if (strcmp(av[0], "raw") == 0 && ac >= 2 && ac <= 3 && num(av[1], &n) == 0 &&
	    n >= 1 && n < 100) {
		const char *h = ac == 3 ? av[2] : "";
		size_t i;
		for (i = 0; h[i] != '\0' && h[i + 1] != '\0'; i += 2) {
			if (hexval((unsigned char)h[i]) < 0 || hexval((unsigned char)h[i + 1]) < 0)
				bad_cmd("raw: bad hex", line);
			ob_u8(&b, (uint8_t)(hexval((unsigned char)h[i]) << 4 | hexval((unsigned char)h[i + 1])));
		}
		if (h[i] != '\0')
			bad_cmd("raw: odd hex", line);
		if (link_send(peer, (uint8_t)n, b.p, b.len, NULL, 0) != 0)
			die(69, "send: the link is down");
	} else if (strcmp(av[0], "sync") == 0 && ac == 1) {
		waiting = W_SYNC;
	} else if (strcmp(av[0], "wait") == 0 && ac == 3 && num(av[2], &n) == 0) {
		static const char *const tn[LF__MAX] = { NULL, "msg", "ack", "dead", "sogone", "special_req",
			"special", "query", "answer", "here", "nodes", [LF_RELEASE] = "release" };
		int t;
		for (t = 1; t < LF__MAX && (tn[t] == NULL || strcmp(tn[t], av[1]) != 0); t++)
			;
		if (t == LF__MAX)
			bad_cmd("wait: unknown frame type", line);
		wait_type = t;
		wait_count = n;
		waiting = W_FRAMES;
	} else if (strcmp(av[0], "sleep") == 0 && ac == 2 && num(av[1], &n) == 0) {
		wait_until = ev_now() + n;
		waiting = W_SLEEP;
	} else {
		bad_cmd("unknown command", line);
	}
	free(b.p);
	free(copy);
	return waiting == W_NONE;
}

static void
print_sync(void)
{
	uint32_t s;

	printf("acked %llu:", (unsigned long long)acked_msgs);
	for (s = 0; s <= MX_ERR__MAX; s++)
		if (acks_by_status[s] > 0)
			printf(" %s %llu", s < MX_ERR__MAX ? err_names[s] : "other",
			    (unsigned long long)acks_by_status[s]);
	printf("\n");
}

/* Is the current wait over? */
static int
wait_done(void)
{
	switch (waiting) {
	case W_SYNC:
		if (acked_msgs < sent_msgs)
			return 0;
		print_sync();
		return 1;
	case W_SPECIAL: return got[LF_SPECIAL_ANS] >= specials_asked;
	case W_FRAMES: return got[wait_type] >= wait_count;
	case W_SLEEP: return ev_now() >= wait_until;
	case W_SEND: return msg_continue();
	case W_DRAIN: return link_queued(peer) == 0;
	case W_FILE: return access(wait_file, F_OK) == 0;
	}
	return 1;
}

/* Run commands until one waits; then poll every 5 ms (frames also wake us). */
static void
step(void)
{
	if (peer == NULL)
		return;
	for (;;) {
		if (waiting != W_NONE) {
			if (!wait_done()) {
				if (!ev_timer_armed(&step_timer))
					ev_timer_arm(lp, &step_timer, ev_now() + 5);
				return;
			}
			if (waiting == W_DRAIN) {
				ev_break(lp);
				return;
			}
			waiting = W_NONE;
			ev_timer_disarm(lp, &deadline_timer);
			cur++;
		}
		if (cur == ncmds) {
			if (keep)
				return;
			waiting = W_DRAIN;
			ev_timer_arm(lp, &deadline_timer, ev_now() + timeout_ms);
			continue;
		}
		if (!run_cmd(cmds[cur])) {
			ev_timer_arm(lp, &deadline_timer, ev_now() + timeout_ms);
			continue;
		}
		cur++;
	}
}

static void
step_cb(struct ev_timer *t)
{
	(void)t;
	step();
}

static void
deadline_cb(struct ev_timer *t)
{
	(void)t;
	fprintf(stderr, "roguenode: timed out: %s\n", cur < ncmds ? cmds[cur] : "flushing");
	if (waiting == W_SYNC)
		print_sync();
	exit_code = 75;
	ev_break(lp);
}

/* ---- what the node sends ---- */

static void
ack(uint64_t seq)
{
	uint8_t b[12];

	put_u64(b, seq);
	put_u32(b + 8, 0);
	link_send(peer, LF_ACK, b, sizeof(b), NULL, 0);
}

static const char *
right_name(uint8_t r)
{
	return r == MX_RIGHT_SEND_ONCE ? "so" : r == MX_RIGHT_SEND ? "send" : "?";
}

static void
print_msg(const uint8_t *p, uint32_t len)
{
	struct rmsg m;
	struct mx_item it;
	size_t pos = 0;
	char body[65] = "-";

	if (rmsg_decode(p, len, &m) < 0) {
		printf("msg malformed (%u bytes)\n", len);
		return;
	}
	while (items_next(m.items, m.ilen, &pos, &it) > 0) {
		if (it.type == MX_ITEM_BYTES || it.type == MX_ITEM_STRING) {
			size_t i, n = it.len < 64 ? it.len : 64;
			for (i = 0; i < n; i++)
				body[i] = isprint(it.data[i]) ? (char)it.data[i] : '.';
			body[n] = '\0';
			break;
		}
	}
	if (m.has_reply)
		var_reply = m.reply.gid.id;
	printf("msg seq=%llu dest=%llu msgid=%#x %s uid=%u gid=%u pid=%u node=%s service=%s reply=",
	    (unsigned long long)m.seq, (unsigned long long)m.dest_id, m.msgid,
	    (m.flags & RMSGF_DEST_SO) ? "so" : "-", m.tr.uid, m.tr.gid, m.tr.pid, m.tr.node, m.tr.service);
	if (m.has_reply)
		printf("%s:%llu:%s", m.reply.gid.node, (unsigned long long)m.reply.gid.id,
		    right_name(m.reply.right));
	else
		printf("-");
	printf(" rights=%u body=%s\n", m.nrights, body);
	ack(m.seq);
	rmsg_free(&m);
}

static void
print_nodes_each(const char *node, const char *addr, void *arg)
{
	(void)arg;
	printf(" %s=%s", node, addr);
}

static void
print_release(uint64_t id, uint32_t count, void *arg)
{
	(void)arg;
	printf("release %llu %u\n", (unsigned long long)id, count);
}

static void
on_frame(struct link *l, uint8_t type, const uint8_t *p, uint32_t len)
{
	char name[MX_NAME_LEN_MAX + 1];
	uint64_t a, b2;
	uint32_t s;
	uint16_t port;
	struct rident rid;
	struct rquery q;
	struct gid g;

	(void)l;
	if (type <= LF__MAX)
		got[type]++;
	switch (type) {
	case LF_MSG:
		print_msg(p, len);
		break;
	case LF_ACK:
		if (rmsg_ack(p, len, &a, &s) < 0) {
			printf("ack malformed\n");
			break;
		}
		acked_msgs++;
		acks_by_status[s < MX_ERR__MAX ? s : MX_ERR__MAX]++;
		if (print_acks)
			printf("ack %llu %s\n", (unsigned long long)a, status_name(s));
		break;
	case LF_DEAD:
	case LF_SO_GONE:
		if (rmsg_port_event(p, len, &a, &b2) == 0)
			printf("%s %llu\n", type == LF_DEAD ? "dead" : "sogone", (unsigned long long)b2);
		break;
	case LF_SPECIAL_REQ: {
		uint8_t ans[20];
		if (rmsg_special_req(p, len, &a, &s) < 0)
			break;
		printf("special_req %u\n", s);
		if (hold_specials) {
			held_req = a;
			special_held = 1;
			break;
		}
		put_u64(ans, a);
		put_u32(ans + 8, MX_ERR_UNAVAIL);
		put_u64(ans + 12, 0);
		link_send(peer, LF_SPECIAL_ANS, ans, sizeof(ans), NULL, 0);
		break;
	}
	case LF_SPECIAL_ANS:
		if (rmsg_special_ans(p, len, &a, &s, &b2) == 0) {
			var_special = b2;
			printf("special %s %llu\n", status_name(s), (unsigned long long)b2);
		}
		break;
	case LF_QUERY:
		if (rmsg_query(p, len, &q) == 0) {
			printf("query %s", q.name);
			if (q.flags & RQUERY_DIRECT)
				printf(" direct");
			if (q.flags & RQUERY_ASKER)
				printf(" asker %s uid=%u %s unit=%s", q.service, q.asker.uid,
				    q.asker.has_hash ? "hash" : "nohash", q.asker.unit[0] ? q.asker.unit : "-");
			printf("\n");
		}
		break;
	case LF_ANSWER:
		if (rmsg_answer(p, len, name, &g, &rid) == 0) {
			var_answer = g.id;
			printf("answer %s %s:%llu", name, g.node, (unsigned long long)g.id);
			if (rid.present)
				printf(" uid=%u gid=%u %s unit=%s", rid.uid, rid.gid, rid.has_hash ? "hash" : "nohash",
				    rid.unit[0] ? rid.unit : "-");
			printf("\n");
		}
		break;
	case LF_HERE:
		if (rmsg_here(p, len, &port) == 0)
			printf("here %u\n", port);
		break;
	case LF_NODES:
		printf("nodes %u", len >= 2 ? get_u16(p) : 0);
		rmsg_nodes(p, len, print_nodes_each, NULL);
		printf("\n");
		break;
	case LF_RELEASE:
		if (rmsg_release(p, len, &a, print_release, NULL) < 0)
			printf("release malformed\n");
		break;
	default:
		printf("frame %u %u\n", type, len);
		break;
	}
	step();
}

static void
on_up(struct link *l, const char *node, uint64_t inc)
{
	if (peer != NULL)
		return;
	peer = l;
	snprintf(peer_node, sizeof(peer_node), "%s", node);
	peer_inc = inc;
	printf("up %s\n", node);
	ev_timer_disarm(lp, &deadline_timer);
	step();
}

static void
on_down(struct link *l, const char *why)
{
	if (l != peer || closing)
		return;
	printf("down %s: %s\n", link_node(l), why);
	peer = NULL;
	exit_code = 69;
	ev_break(lp);
}

static void
on_signal(int signo, void *arg)
{
	(void)signo;
	(void)arg;
	ev_break(lp);
}

static void usage(void) __attribute__((noreturn));

static void
usage(void)
{
	fprintf(stderr, "usage: roguenode -S STATEDIR -N NODE -c PEER@HOST:PORT [-e CMD]... [-t SECS] [-k] [-a] [-v]\n"
	    "       roguenode -L ADDR:PORT -t SECS\n");
	exit(64);
}

/* -L: count the TCP connections made to addr for ms. */
static int
count_connections(const char *addr, uint64_t ms)
{
	char host[64], port[8], why[128];
	struct sockaddr_in sin = { .sin_family = AF_INET };
	uint64_t end = ev_now() + ms, n = 0;
	int fd, one = 1;

	if (link_dial_hostport_split(addr, host, sizeof(host), port, sizeof(port), -1, why, sizeof(why)) < 0 ||
	    inet_pton(AF_INET, host, &sin.sin_addr) != 1)
		die(64, "%s: not ADDR:PORT (IPv4)", addr);
	sin.sin_port = htons((uint16_t)atoi(port));
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 512) < 0)
		die(69, "%s: %s", addr, strerror(errno));
	printf("listening\n");
	while (ev_now() < end) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		int c;

		if (poll(&pfd, 1, (int)(end - ev_now())) <= 0)
			continue;
		while ((c = accept(fd, NULL, NULL)) >= 0) {
			close(c);
			n++;
		}
	}
	printf("connections %llu\n", (unsigned long long)n);
	close(fd);
	return 0;
}

static void
add_cmd(const char *s)
{
	if ((cmds = realloc(cmds, (ncmds + 1) * sizeof(*cmds))) == NULL ||
	    (cmds[ncmds] = strdup(s)) == NULL)
		die(1, "out of memory");
	ncmds++;
}

int
main(int argc, char **argv)
{
	static const struct link_cb cbs = { on_up, on_frame, on_down };
	struct link_conf conf = { 0 };
	char why[512], node[CRYPTO_NODE_MAX + 1], *line = NULL;
	const char *conn = NULL, *at, *count_on = NULL;
	size_t cap = 0;
	ssize_t n;
	int ch, verbose = 0, from_e = 0;
	uint64_t secs;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((ch = getopt(argc, argv, "S:N:c:e:t:kavL:")) != -1) {
		switch (ch) {
		case 'L': count_on = optarg; break;
		case 'S': conf.state_dir = optarg; break;
		case 'N': conf.node = optarg; break;
		case 'c': conn = optarg; break;
		case 'e': add_cmd(optarg); from_e = 1; break;
		case 't':
			if (num(optarg, &secs) < 0 || secs == 0 || secs > 3600)
				usage();
			timeout_ms = secs * 1000;
			break;
		case 'k': keep = 1; break;
		case 'a': print_acks = 1; break;
		case 'v': verbose++; break;
		default: usage();
		}
	}
	if (count_on != NULL) {
		if (optind != argc || conn != NULL)
			usage();
		return count_connections(count_on, timeout_ms);
	}
	if (optind != argc || conf.state_dir == NULL || conf.node == NULL || conn == NULL ||
	    (at = strchr(conn, '@')) == NULL || (size_t)(at - conn) >= sizeof(node) || at == conn)
		usage();
	memcpy(node, conn, (size_t)(at - conn));
	node[at - conn] = '\0';
	if (!from_e) {
		while ((n = getline(&line, &cap, stdin)) >= 0) {
			if (n > 0 && line[n - 1] == '\n')
				line[n - 1] = '\0';
			add_cmd(line);
		}
		free(line);
	}
	log_init("roguenode", 0, verbose);
	my_node = conf.node;
	if (RAND_bytes((unsigned char *)&conf.incarnation, sizeof(conf.incarnation)) != 1)
		die(1, "random incarnation failed");
	my_inc = conf.incarnation;
	if ((lp = ev_new()) == NULL)
		die(1, "event loop: out of memory");
	ev_timer_init(&step_timer, step_cb, NULL);
	ev_timer_init(&deadline_timer, deadline_cb, NULL);
	if (links_init(lp, &conf, &cbs, why, sizeof(why)) != 0)
		die(1, "%s", why);
	if (ev_signal(lp, SIGTERM, on_signal, NULL) < 0 || ev_signal(lp, SIGINT, on_signal, NULL) < 0)
		die(1, "signals: failed");
	signal(SIGPIPE, SIG_IGN);
	links_connect(node, at + 1);
	/* The link must come up within the same time as any wait. */
	ev_timer_arm(lp, &deadline_timer, ev_now() + timeout_ms);
	if (ev_run(lp) < 0)
		die(1, "event loop failed");
	if (peer == NULL && exit_code == 0)
		exit_code = 69;
	closing = 1;
	links_close_all();
	ev_free(lp);
	return exit_code;
}
