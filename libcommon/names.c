/* names.c — register, look up and unregister names through the NAME port. */
#include <stdio.h>
#include <string.h>
#include "client.h"
#include "names.h"

#define NS_TIMEOUT_MS 10000

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

/* One request to namesrv; on success *reply holds the answer after its INT status. */
static int
ns_call(struct mx_conn *c, struct mx_msg *m, uint32_t timeout_ms, struct mx_msg **reply)
{
	int64_t status;
	int r, tries;

	*reply = NULL;
	for (tries = 0; tries < 2; tries++) {
		if ((r = name_port(c, tries > 0, &m->dest)) < 0)
			return r;
		r = masix_request(c, m, timeout_ms, reply);
		if (r != -MX_ERR_DEAD && r != -MX_ERR_NOREPLY)
			break;
		mx_msg_free(*reply);
		*reply = NULL;
	}
	if (r < 0)
		return r;
	if (mx_msg_get_int(*reply, &status) < 0)
		r = -MX_ERR_PROTO;
	else if (status != 0) {
		r = status < 0 ? (int)status : -(int)status;
		/* An error status may come with its reason ("over budget: uid 1001 names 1024"). */
		if (mx_msg_get_string(*reply, c->detail, sizeof(c->detail)) < 0)
			c->detail[0] = '\0';
		/* A NAME@NODE answer comes from another node: printable text only. */
		for (char *p = c->detail; *p != '\0'; p++)
			if (*p < 0x20 || *p > 0x7e)
				*p = '?';
	}
	if (r < 0) {
		mx_msg_free(*reply);
		*reply = NULL;
	}
	return r;
}

int
masix_register(struct mx_conn *c, const char *name, mx_name_t port)
{
	struct mx_msg *m, *reply;
	int r;

	if (!mx_name_valid(name))
		return -MX_ERR_INVAL;
	if ((m = mx_msg_new(NS_REGISTER)) == NULL)
		return -MX_ERR_NOMEM;
	if ((r = mx_msg_add_string(m, name)) == 0 && (r = mx_msg_add_port(m, port, MX_DISP_MAKE_SEND)) == 0)
		r = ns_call(c, m, NS_TIMEOUT_MS, &reply);
	if (r == 0)
		mx_msg_free(reply);
	mx_msg_free(m);
	return r;
}

int
masix_unregister(struct mx_conn *c, const char *name)
{
	struct mx_msg *m, *reply;
	int r;

	if (!mx_name_valid(name))
		return -MX_ERR_INVAL;
	if ((m = mx_msg_new(NS_UNREGISTER)) == NULL)
		return -MX_ERR_NOMEM;
	if ((r = mx_msg_add_string(m, name)) == 0)
		r = ns_call(c, m, NS_TIMEOUT_MS, &reply);
	if (r == 0)
		mx_msg_free(reply);
	mx_msg_free(m);
	return r;
}

int
masix_lookup(struct mx_conn *c, const char *name, uint32_t wait_ms, mx_name_t *out)
{
	struct mx_msg *m, *reply;
	uint32_t timeout = wait_ms > UINT32_MAX - NS_TIMEOUT_MS ? MX_FOREVER : wait_ms + NS_TIMEOUT_MS;
	uint8_t right;
	int r;

	if (!mx_lookup_name_valid(name))
		return -MX_ERR_INVAL;
	if ((m = mx_msg_new(NS_LOOKUP)) == NULL)
		return -MX_ERR_NOMEM;
	if ((r = mx_msg_add_string(m, name)) == 0 && (r = mx_msg_add_int(m, wait_ms)) == 0)
		r = ns_call(c, m, timeout, &reply);
	if (r == 0) {
		if (mx_msg_get_port(reply, out, &right) < 0 || right != MX_RIGHT_SEND)
			r = -MX_ERR_PROTO;
		mx_msg_free(reply);
	}
	mx_msg_free(m);
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
ns_who_holds(struct mx_conn *c, uint32_t right, struct ns_ident *out)
{
	uint8_t a[4], b[MX_IDENT_MAX];
	size_t len, o;
	int r;

	put_u32(a, right);
	memset(out, 0, sizeof(*out));
	if ((r = client_op(c, MX_OP_WHO_HOLDS, a, sizeof(a), b, sizeof(b), &len)) < 0)
		return r;
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
