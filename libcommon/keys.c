/* keys.c — ask keysrv, through the KEY port, for certificates and verdicts. No OpenSSL here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "client.h"
#include "keys.h"

#define KS_TIMEOUT_MS 10000

/* A send right to the KEY port; the caller drops it after one request. */
static int
key_port(struct mx_conn *c, mx_name_t *out)
{
	int r;

	if ((r = masix_special_get(c, MX_SPECIAL_KEY, out)) < 0 && r == -MX_ERR_UNAVAIL)
		snprintf(c->detail, sizeof(c->detail), "keysrv is not running");
	return r;
}

/*
 * One request to keysrv. On success *reply holds the answer after its INT
 * status; a non-zero status comes back negated, with keysrv's reason in
 * c->detail. A keysrv that died between the lookup and the answer (it may
 * have been restarted) is looked up again once.
 */
static int
ks_call(struct mx_conn *c, struct mx_msg *m, struct mx_msg **reply)
{
	char reason[KS_REASON_MAX + 1];
	int64_t status;
	int r, tries;

	*reply = NULL;
	for (tries = 0; tries < 2; tries++) {
		if ((r = key_port(c, &m->dest)) < 0)
			return r;
		r = masix_request(c, m, KS_TIMEOUT_MS, reply);
		masix_right_dealloc(c, m->dest);
		if (r != -MX_ERR_DEAD && r != -MX_ERR_NOREPLY)
			break;
		mx_msg_free(*reply);
		*reply = NULL;
	}
	if (r < 0) {
		if (r == -MX_ERR_DEAD || r == -MX_ERR_NOREPLY)
			snprintf(c->detail, sizeof(c->detail), "keysrv is not running");
		goto out;
	}
	if (mx_msg_get_int(*reply, &status) < 0 || status < 0 || status >= MX_ERR__MAX) {
		r = -MX_ERR_PROTO;
		goto out;
	}
	if (status != 0) {
		r = -(int)status;
		if (mx_msg_get_string(*reply, reason, sizeof(reason)) == 0)
			snprintf(c->detail, sizeof(c->detail), "%s", reason);
		else
			snprintf(c->detail, sizeof(c->detail), "%s", mx_strerror(r));
	}
out:
	if (r < 0) {
		mx_msg_free(*reply);
		*reply = NULL;
	}
	return r;
}

/* A BYTES item copied into a NUL-terminated malloc'd buffer. */
static int
take_pem(struct mx_msg *m, char **pem, size_t *pemlen)
{
	const uint8_t *p;
	size_t n;

	if (mx_msg_get_bytes(m, &p, &n) < 0 || n > KS_PEM_MAX)
		return -MX_ERR_PROTO;
	if ((*pem = malloc(n + 1)) == NULL)
		return -MX_ERR_NOMEM;
	memcpy(*pem, p, n);
	(*pem)[n] = '\0';
	if (pemlen != NULL)
		*pemlen = n;
	return 0;
}

/* A request without items whose answer is one BYTES item. */
static int
pem_request(struct mx_conn *c, uint32_t msgid, char **pem, size_t *pemlen)
{
	struct mx_msg *m, *reply;
	int r;

	*pem = NULL;
	if ((m = mx_msg_new(msgid)) == NULL)
		return -MX_ERR_NOMEM;
	if ((r = ks_call(c, m, &reply)) == 0) {
		if ((r = take_pem(reply, pem, pemlen)) == 0 && mx_msg_end(reply) < 0) {
			free(*pem);
			*pem = NULL;
			r = -MX_ERR_PROTO;
		}
		mx_msg_free(reply);
	}
	mx_msg_free(m);
	return r;
}

int
masix_key_node_cert(struct mx_conn *c, char node[MX_NODE_MAX + 1], char **pem,
    size_t *pemlen, char fp[KS_FP_MAX + 1])
{
	struct mx_msg *m, *reply;
	int r;

	*pem = NULL;
	if ((m = mx_msg_new(KS_NODE_CERT)) == NULL)
		return -MX_ERR_NOMEM;
	if ((r = ks_call(c, m, &reply)) == 0) {
		if (mx_msg_get_string(reply, node, MX_NODE_MAX + 1) < 0)
			r = -MX_ERR_PROTO;
		else if ((r = take_pem(reply, pem, pemlen)) == 0 &&
		    (mx_msg_get_string(reply, fp, KS_FP_MAX + 1) < 0 || mx_msg_end(reply) < 0)) {
			free(*pem);
			*pem = NULL;
			r = -MX_ERR_PROTO;
		}
		mx_msg_free(reply);
	}
	mx_msg_free(m);
	return r;
}

int
masix_key_verify_peer(struct mx_conn *c, const void *pem, size_t pemlen,
    const char *node, char node_out[MX_NODE_MAX + 1], char fp[KS_FP_MAX + 1])
{
	char reason[KS_REASON_MAX + 1], name[MX_NODE_MAX + 1], f[KS_FP_MAX + 1];
	struct mx_msg *m, *reply;
	int r;

	if (pemlen > KS_PEM_MAX)
		return -MX_ERR_TOOBIG;
	if ((m = mx_msg_new(KS_VERIFY_PEER)) == NULL)
		return -MX_ERR_NOMEM;
	if ((r = mx_msg_add_bytes(m, pem, pemlen)) == 0 &&
	    (r = mx_msg_add_string(m, node != NULL ? node : "")) == 0 &&
	    (r = ks_call(c, m, &reply)) == 0) {
		if (mx_msg_get_string(reply, reason, sizeof(reason)) < 0 ||
		    mx_msg_get_string(reply, name, sizeof(name)) < 0 ||
		    mx_msg_get_string(reply, f, sizeof(f)) < 0 || mx_msg_end(reply) < 0) {
			r = -MX_ERR_PROTO;
		} else {
			if (node_out != NULL)
				memcpy(node_out, name, sizeof(name));
			if (fp != NULL)
				memcpy(fp, f, sizeof(f));
		}
		mx_msg_free(reply);
	}
	mx_msg_free(m);
	return r;
}

int
masix_key_directory(struct mx_conn *c, struct masix_key_node **out, size_t *n)
{
	struct masix_key_node *v = NULL, *nv;
	struct mx_msg *m, *reply;
	size_t len = 0, cap = 0;
	int r;

	*out = NULL;
	*n = 0;
	if ((m = mx_msg_new(KS_DIRECTORY)) == NULL)
		return -MX_ERR_NOMEM;
	if ((r = ks_call(c, m, &reply)) == 0) {
		while (r == 0 && mx_msg_end(reply) < 0) {
			if (len == cap) {
				cap = cap ? cap * 2 : 16;
				if ((nv = reallocarray(v, cap, sizeof(*v))) == NULL) {
					r = -MX_ERR_NOMEM;
					break;
				}
				v = nv;
			}
			if (mx_msg_get_string(reply, v[len].name, sizeof(v[len].name)) < 0 ||
			    mx_msg_get_string(reply, v[len].fingerprint, sizeof(v[len].fingerprint)) < 0)
				r = -MX_ERR_PROTO;
			else
				len++;
		}
		mx_msg_free(reply);
	}
	mx_msg_free(m);
	if (r < 0) {
		free(v);
		return r;
	}
	*out = v;
	*n = len;
	return 0;
}

int
masix_key_may_register(struct mx_conn *c, const char *hash, uint32_t uid, const char *unit,
    const char *name, int *verdict, char rule[KS_REASON_MAX + 1])
{
	char reason[KS_REASON_MAX + 1];
	struct mx_msg *m, *reply;
	int64_t v;
	int r;

	if ((m = mx_msg_new(KS_MAY_REGISTER)) == NULL)
		return -MX_ERR_NOMEM;
	if ((r = mx_msg_add_string(m, hash)) == 0 && (r = mx_msg_add_int(m, uid)) == 0 &&
	    (r = mx_msg_add_string(m, name)) == 0 && (r = mx_msg_add_string(m, unit)) == 0 &&
	    (r = mx_msg_add_int(m, 0)) == 0 && (r = mx_msg_add_int(m, -1)) == 0 &&
	    (r = ks_call(c, m, &reply)) == 0) {
		/* Generation -1: no patterns follow. */
		if (mx_msg_get_string(reply, reason, sizeof(reason)) < 0 || mx_msg_get_int(reply, &v) < 0 ||
		    mx_msg_get_string(reply, rule, KS_REASON_MAX + 1) < 0)
			r = -MX_ERR_PROTO;
		else
			*verdict = (int)v;
		mx_msg_free(reply);
	}
	mx_msg_free(m);
	return r;
}

int
masix_key_ca_cert(struct mx_conn *c, char **pem, size_t *pemlen)
{
	return pem_request(c, KS_CA_CERT, pem, pemlen);
}

int
masix_key_crl(struct mx_conn *c, char **pem, size_t *pemlen)
{
	return pem_request(c, KS_CRL, pem, pemlen);
}

int
ks_list_loaded(struct mx_conn *c, int64_t gen)
{
	uint8_t b[8];
	size_t len;

	put_u64(b, (uint64_t)gen);
	return client_op(c, MX_OP_LIST_LOADED, b, sizeof(b), NULL, 0, &len);
}
