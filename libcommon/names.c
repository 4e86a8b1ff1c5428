/* names.c — register, look up and unregister names through the NAME port. */
#include <stdio.h>
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
