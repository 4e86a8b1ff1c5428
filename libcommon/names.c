/* names.c — register, look up and unregister names through the NAME port. */
#include <errno.h>
#include <stdio.h>
#include <time.h>
#include <string.h>
#include "client.h"
#include "names.h"

#define NS_TIMEOUT_MS 10000
#define NS_RESTART_MS 5000	/* a request namesrv died with waits this long for the next */

/* The NAME port, fetched once; fetched again if namesrv was restarted. */
static int
name_port(struct mx_conn *c, int refresh, mx_name_t *out)
{
	int r;

	if (refresh && c->name_port != MX_NAME_NULL) {
		masix_right_dealloc(c, c->name_port);
		c->name_port = MX_NAME_NULL;
	}
	if (c->name_port == MX_NAME_NULL && (r = masix_special_get(c, MX_SPECIAL_NAME, &c->name_port)) < 0) {
		if (r == -MX_ERR_UNAVAIL)
			snprintf(c->detail, sizeof(c->detail), "namesrv is not running");
		return r;
	}
	*out = c->name_port;
	return 0;
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A request: its msgid, the name, and the port (REGISTER) or how long to wait for the name (LOOKUP). */
struct ns_req {
	uint32_t msgid;
	const char *name;
	mx_name_t port;
	uint32_t wait_ms;
};

static struct mx_msg *
ns_build(const struct ns_req *q, uint32_t wait_ms)
{
	struct mx_msg *m = mx_msg_new(q->msgid);
	int r;

	if (m == NULL)
		return NULL;
	r = mx_msg_add_string(m, q->name);
	if (r == 0 && q->msgid == NS_REGISTER)
		r = mx_msg_add_port(m, q->port, MX_DISP_MAKE_SEND);
	if (r == 0 && q->msgid == NS_LOOKUP)
		r = mx_msg_add_int(m, wait_ms);
	if (r < 0) {
		mx_msg_free(m);
		return NULL;
	}
	return m;
}

/* The status of namesrv's answer: 0, or a negative MX_ERR_* with its reason in c->detail. */
static int
ns_status(struct mx_conn *c, struct mx_msg *reply)
{
	int64_t status;
	int r;

	if (mx_msg_get_int(reply, &status) < 0)
		return -MX_ERR_PROTO;
	if (status == 0)
		return 0;
	r = status < 0 ? (int)status : -(int)status;
	/* An error status may come with its reason ("over budget: uid 1001 names 1024"). */
	if (mx_msg_get_string(reply, c->detail, sizeof(c->detail)) < 0)
		c->detail[0] = '\0';
	/* A NAME@NODE answer comes from another node: printable text only. */
	for (char *p = c->detail; *p != '\0'; p++)
		if (*p < 0x20 || *p > 0x7e)
			*p = '?';
	return r;
}

/*
 * One request to namesrv; on success *reply holds the answer after its INT
 * status.
 *
 * namesrv may restart under us (killed, then started again by its service
 * manager, and serving the same names: portd kept them). A request it held
 * dies with it (NOREPLY), or its NAME port is dead: we fetch the NAME port
 * again and ask the new namesrv, waiting for it (every 10 ms doubling to
 * 200 ms) for the lookup's own wait, but at least NS_RESTART_MS, within
 * timeout_ms. A lookup that may wait for its name (wait_ms) also waits for
 * a namesrv that is not running yet, or for NAME@NODE's, which another node
 * says is not; anything else is told at once ("namesrv is not running").
 */
static int
ns_call(struct mx_conn *c, const struct ns_req *q, uint32_t timeout_ms, struct mx_msg **reply)
{
	uint64_t start = now_ms(), now, end = start + timeout_ms, name_end = start + q->wait_ms;
	uint64_t ns_end = name_end, backoff = 10;
	struct mx_msg *m;
	int r, stale = 0, retried = 0;

	*reply = NULL;
	for (;;) {
		r = name_port(c, stale, &c->name_port);
		stale = 0;
		now = now_ms();
		if (r == 0) {
			if ((m = ns_build(q, name_end > now ? (uint32_t)(name_end - now) : 0)) == NULL)
				return -MX_ERR_NOMEM;
			m->dest = c->name_port;
			r = masix_request(c, m, timeout_ms == MX_FOREVER ? MX_FOREVER :
			    end > now ? (uint32_t)(end - now) : 1, reply);
			mx_msg_free(m);
			if (r == 0 && (r = ns_status(c, *reply)) == 0)
				return 0;
			mx_msg_free(*reply);
			*reply = NULL;
			now = now_ms();
			if (r == -MX_ERR_DEAD || r == -MX_ERR_NOREPLY) {
				/* namesrv went away with our request: wait for the next one. */
				if (ns_end < start + NS_RESTART_MS)
					ns_end = start + NS_RESTART_MS;
				if (ns_end > end)
					ns_end = end;
				stale = 1;
				if (!retried++)
					continue;	/* maybe back already: fetch its port again at once */
				r = -MX_ERR_UNAVAIL;	/* again: wait a little before the next try */
			} else if (r != -MX_ERR_UNAVAIL) {
				return r;
			}
		}
		if (r != -MX_ERR_UNAVAIL || now >= ns_end) {
			if (r == -MX_ERR_UNAVAIL && c->detail[0] == '\0')
				snprintf(c->detail, sizeof(c->detail), "namesrv is not running");
			return r;
		}
		if (backoff > ns_end - now)
			backoff = ns_end - now;
		if ((r = client_pause_ms(c, backoff)) < 0)
			return r;
		backoff = backoff * 2 > 200 ? 200 : backoff * 2;
	}
}

int
masix_register(struct mx_conn *c, const char *name, mx_name_t port)
{
	struct ns_req q = { NS_REGISTER, name, port, 0 };
	struct mx_msg *reply;
	int r;

	if (!mx_name_valid(name))
		return -MX_ERR_INVAL;
	if ((r = ns_call(c, &q, NS_TIMEOUT_MS, &reply)) == 0)
		mx_msg_free(reply);
	return r;
}

int
masix_unregister(struct mx_conn *c, const char *name)
{
	struct ns_req q = { NS_UNREGISTER, name, MX_NAME_NULL, 0 };
	struct mx_msg *reply;
	int r;

	if (!mx_name_valid(name))
		return -MX_ERR_INVAL;
	if ((r = ns_call(c, &q, NS_TIMEOUT_MS, &reply)) == 0)
		mx_msg_free(reply);
	return r;
}

int
masix_lookup(struct mx_conn *c, const char *name, uint32_t wait_ms, mx_name_t *out)
{
	struct ns_req q = { NS_LOOKUP, name, MX_NAME_NULL, wait_ms };
	uint32_t timeout = wait_ms > UINT32_MAX - NS_TIMEOUT_MS ? MX_FOREVER : wait_ms + NS_TIMEOUT_MS;
	struct mx_msg *reply;
	uint8_t right;
	int r;

	if (!mx_lookup_name_valid(name))
		return -MX_ERR_INVAL;
	if ((r = ns_call(c, &q, timeout, &reply)) == 0) {
		if (mx_msg_get_port(reply, out, &right) < 0 || right != MX_RIGHT_SEND)
			r = -MX_ERR_PROTO;
		mx_msg_free(reply);
	}
	return r;
}

/* A u8 length then text, into out[256]: 0, or -1 past the end. */
static int
get_str8(const uint8_t *b, size_t len, size_t *o, char out[256])
{
	size_t n;

	if (*o >= len || (n = b[*o]) > len - *o - 1)
		return -1;
	memcpy(out, b + *o + 1, n);
	out[n] = '\0';
	*o += 1 + n;
	/* Text from portd, but keep it printable all the same: it goes into log lines. */
	for (char *p = out; *p != '\0'; p++)
		if (*p < 0x20 || *p > 0x7e)
			*p = '?';
	return 0;
}

int
ns_who_holds_ask(struct mx_conn *c, uint32_t right, uint32_t notify, int64_t cookie)
{
	uint8_t a[16];

	put_u32(a, right);
	put_u32(a + 4, notify);
	put_u64(a + 8, (uint64_t)cookie);
	return client_op_nowait(c, MX_OP_WHO_HOLDS, a, sizeof(a), NULL, 0);
}

int
ns_who_holds_answer(struct mx_msg *m, int64_t *cookie, struct ns_ident *out)
{
	const uint8_t *b;
	int64_t status;
	size_t len, o;

	memset(out, 0, sizeof(*out));
	if (m->msgid != NS_WHO_HOLDS || mx_msg_get_int(m, cookie) < 0 || mx_msg_get_int(m, &status) < 0 ||
	    mx_msg_get_bytes(m, &b, &len) < 0 || mx_msg_end(m) < 0 || status < 0 || status > 65535)
		return -MX_ERR_PROTO;
	if (status != 0)
		return -(int)status;
	if (len < 13 + MX_IDENT_HASH_LEN)
		return -MX_ERR_PROTO;
	out->uid = get_u32(b);
	out->gid = get_u32(b + 4);
	out->pid = get_u32(b + 8);
	out->has_hash = b[12] != 0;
	memcpy(out->hash, b + 13, MX_IDENT_HASH_LEN);
	o = 13 + MX_IDENT_HASH_LEN;
	if (get_str8(b, len, &o, out->unit) < 0 || get_str8(b, len, &o, out->why) < 0 || o != len)
		return -MX_ERR_PROTO;
	return 0;
}

int
ns_service_set(struct mx_conn *c, uint32_t right, const char *service)
{
	uint8_t b[4 + MX_SERVICE_MAX];
	size_t n = strlen(service);

	if (n > MX_SERVICE_MAX)
		return -MX_ERR_INVAL;
	size_t len;

	put_u32(b, right);
	memcpy(b + 4, service, n);
	return client_op(c, MX_OP_SERVICE_SET, b, 4 + n, NULL, 0, &len);
}
