/* msg.c — build and read the typed items of a message (doc/protocol.md). */
#include <stdlib.h>
#include <string.h>
#include "wire.h"
#include "names.h"

struct mx_msg *
mx_msg_new(uint32_t msgid)
{
	struct mx_msg *m = calloc(1, sizeof(*m));

	if (m != NULL)
		m->msgid = msgid;
	return m;
}

void
mx_msg_free(struct mx_msg *m)
{
	if (m == NULL)
		return;
	free(m->items);
	free(m);
}

void
mx_msg_reset(struct mx_msg *m, uint32_t msgid)
{
	m->dest = m->reply = MX_NAME_NULL;
	m->reply_disp = 0;
	m->msgid = msgid;
	m->len = m->rpos = 0;
	memset(&m->trailer, 0, sizeof(m->trailer));
}

static int
reserve(struct mx_msg *m, size_t n)
{
	size_t want, cap;
	uint8_t *p;

	if (n > MX_BODY_MAX || m->len > MX_BODY_MAX - n)
		return -MX_ERR_TOOBIG;
	want = m->len + n;
	if (want <= m->cap)
		return 0;
	cap = m->cap ? m->cap : 256;
	while (cap < want)
		cap *= 2;
	if ((p = realloc(m->items, cap)) == NULL)
		return -MX_ERR_NOMEM;
	m->items = p;
	m->cap = cap;
	return 0;
}

static int
add_item(struct mx_msg *m, uint8_t type, uint8_t right, const void *p, size_t n)
{
	uint8_t *at;
	int r;

	if (n > MX_BODY_MAX)
		return -MX_ERR_TOOBIG;
	if ((r = reserve(m, MX_ITEM_HDR + n)) < 0)
		return r;
	at = m->items + m->len;
	at[0] = type;
	at[1] = right;
	put_u16(at + 2, 0);
	put_u32(at + 4, (uint32_t)n);
	if (n > 0)
		memcpy(at + MX_ITEM_HDR, p, n);
	m->len += MX_ITEM_HDR + n;
	return 0;
}

int
mx_msg_add_bytes(struct mx_msg *m, const void *p, size_t n)
{
	return add_item(m, MX_ITEM_BYTES, 0, p, n);
}

int
mx_msg_add_string(struct mx_msg *m, const char *s)
{
	return add_item(m, MX_ITEM_STRING, 0, s, strlen(s));
}

int
mx_msg_add_int(struct mx_msg *m, int64_t v)
{
	uint8_t b[8];

	put_u64(b, (uint64_t)v);
	return add_item(m, MX_ITEM_INT, 0, b, sizeof(b));
}

int
mx_msg_add_port(struct mx_msg *m, mx_name_t name, enum mx_disp disp)
{
	uint8_t b[4];

	if (disp < MX_DISP_MOVE_RECEIVE || disp > MX_DISP_MAKE_SEND_ONCE || name == MX_NAME_NULL)
		return -MX_ERR_INVAL;
	put_u32(b, name);
	return add_item(m, MX_ITEM_PORT, (uint8_t)disp, b, sizeof(b));
}

int
mx_msg_next(struct mx_msg *m, struct mx_item *it)
{
	return items_next(m->items, m->len, &m->rpos, it);
}

static int
next_of(struct mx_msg *m, uint8_t type, struct mx_item *it)
{
	size_t save = m->rpos;
	int r = mx_msg_next(m, it);

	if (r == 0 || (r > 0 && it->type != type)) {
		m->rpos = save;
		return -MX_ERR_PROTO;
	}
	return r < 0 ? r : 0;
}

int
mx_msg_get_bytes(struct mx_msg *m, const uint8_t **p, size_t *n)
{
	struct mx_item it;
	int r = next_of(m, MX_ITEM_BYTES, &it);

	if (r == 0) {
		*p = it.data;
		*n = it.len;
	}
	return r;
}

int
mx_msg_get_string(struct mx_msg *m, char *out, size_t outsz)
{
	struct mx_item it;
	size_t save = m->rpos;
	int r = next_of(m, MX_ITEM_STRING, &it);

	if (r < 0)
		return r;
	if (it.len >= outsz) {
		m->rpos = save;
		return -MX_ERR_TOOBIG;
	}
	memcpy(out, it.data, it.len);
	out[it.len] = '\0';
	return 0;
}

int
mx_msg_get_int(struct mx_msg *m, int64_t *v)
{
	struct mx_item it;
	int r = next_of(m, MX_ITEM_INT, &it);

	if (r == 0)
		*v = it.ival;
	return r;
}

int
mx_msg_get_port(struct mx_msg *m, mx_name_t *name, uint8_t *right)
{
	struct mx_item it;
	int r = next_of(m, MX_ITEM_PORT, &it);

	if (r == 0) {
		*name = it.name;
		if (right)
			*right = it.right;
	}
	return r;
}

int
mx_msg_end(const struct mx_msg *m)
{
	return m->rpos == m->len ? 0 : -MX_ERR_PROTO;
}

int
mx_lookup_name_valid(const char *name)
{
	char buf[MX_NAME_LEN_MAX + 1];
	const char *at = strchr(name, '@'), *n;
	size_t len = at ? (size_t)(at - name) : strlen(name);

	if (len == 0 || len > MX_NAME_LEN_MAX)
		return 0;
	memcpy(buf, name, len);
	buf[len] = '\0';
	if (!mx_name_valid(buf))
		return 0;
	if (at == NULL)
		return 1;
	/* A node name: 1-63 of [A-Za-z0-9.-], not starting with '-' or '.'. */
	n = at + 1;
	if (*n == '\0' || *n == '-' || *n == '.' || strlen(n) > 63)
		return 0;
	for (; *n; n++)
		if (!((*n >= 'a' && *n <= 'z') || (*n >= 'A' && *n <= 'Z') || (*n >= '0' && *n <= '9') ||
		    *n == '-' || *n == '.'))
			return 0;
	return 1;
}

int
mx_name_valid(const char *name)
{
	size_t n = 0;

	for (; name[n] != '\0'; n++) {
		char ch = name[n];
		if (n >= MX_NAME_LEN_MAX)
			return 0;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '/' || ch == '-'))
			return 0;
	}
	return n > 0;
}
