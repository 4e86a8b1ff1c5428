/*
 * link_tls.c — the TLS side of node links: one SSL_CTX for both directions,
 * TLS 1.3 only, AEAD suites only, Ed25519 signatures, mutual
 * authentication, no session resumption (every link proves its certificate
 * again). The peer's certificate is checked inside the handshake by
 * crypto_cert_verify() against ca.crt alone and revoked.crl, so a refused
 * peer never gets past the handshake.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include "crypto.h"
#include "log.h"
#include "link.h"

#define SUITES	"TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"
#define GROUPS	"X25519:P-256"

static SSL_CTX *ctx;
static X509 *ca;
static X509_CRL *crl;
static char crlpath[PATH_MAX];

const char *
link_tls_err(char *buf, size_t bufsz)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;

	if (r != NULL)
		snprintf(buf, bufsz, "%s", r);
	else if (e != 0)
		snprintf(buf, bufsz, "OpenSSL error %d", ERR_GET_REASON(e));
	else if (errno != 0)
		snprintf(buf, bufsz, "%s", strerror(errno));
	else
		snprintf(buf, bufsz, "connection closed");
	ERR_clear_error();
	return buf;
}

int
link_tls_check(X509 *cert, const char *expect, char *node, size_t nodesz,
    char *why, size_t whysz)
{
	if (crypto_cert_verify(cert, ca, crl, expect, why, whysz) != 0)
		return -1;
	if (crypto_cert_node(cert, node, nodesz) != 0) {
		snprintf(why, whysz, "subject is not a valid node name");
		return -1;
	}
	return 0;
}

/* Replaces OpenSSL's chain building: our check, with our reason kept for the log. */
static int
verify_cb(X509_STORE_CTX *xs, void *arg)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct link_tls_state *st = ssl != NULL ? SSL_get_app_data(ssl) : NULL;
	X509 *cert = X509_STORE_CTX_get0_cert(xs);

	(void)arg;
	if (st == NULL || cert == NULL) {
		X509_STORE_CTX_set_error(xs, X509_V_ERR_CERT_REJECTED);
		return 0;
	}
	if (link_tls_check(cert, st->expect[0] != '\0' ? st->expect : NULL,
	    st->cn, sizeof(st->cn), st->why, sizeof(st->why)) != 0) {
		st->cn[0] = '\0';
		X509_STORE_CTX_set_error(xs, X509_V_ERR_CERT_REJECTED);
		return 0;
	}
	X509_STORE_CTX_set_error(xs, X509_V_OK);
	return 1;
}

static int
crl_read(X509_CRL **out, char *why, size_t whysz)
{
	X509_CRL *c = NULL;
	char reason[CRYPTO_WHY_MAX];
	int r;

	*out = NULL;
	r = crypto_crl_load(crlpath, &c, why, whysz);
	if (r == -MX_ERR_NOENT)
		return 0;
	if (r != 0)
		return -1;
	if (crypto_crl_check(c, ca, reason, sizeof(reason)) != 0) {
		snprintf(why, whysz, "%s: %s", crlpath, reason);
		X509_CRL_free(c);
		return -1;
	}
	*out = c;
	return 0;
}

static int
fail(char *why, size_t whysz, const char *what)
{
	char ebuf[160];

	snprintf(why, whysz, "%s: %s", what, link_tls_err(ebuf, sizeof(ebuf)));
	return -1;
}

int
link_tls_init(const char *state_dir, const char *node, char *why, size_t whysz)
{
	char path[PATH_MAX], cn[CRYPTO_NODE_MAX + 1], reason[CRYPTO_WHY_MAX];
	EVP_PKEY *key = NULL;
	X509 *crt = NULL;
	int rc = -1;

	link_tls_free();
	snprintf(path, sizeof(path), "%s/ca.crt", state_dir);
	if (crypto_cert_load(path, &ca, why, whysz) != 0)
		goto out;
	snprintf(crlpath, sizeof(crlpath), "%s/revoked.crl", state_dir);
	if (crl_read(&crl, why, whysz) != 0)
		goto out;
	snprintf(path, sizeof(path), "%s/node.key", state_dir);
	if (crypto_key_load(path, NULL, &key, why, whysz) != 0)
		goto out;
	snprintf(path, sizeof(path), "%s/node.crt", state_dir);
	if (crypto_cert_load(path, &crt, why, whysz) != 0)
		goto out;
	if (crypto_cert_node(crt, cn, sizeof(cn)) != 0 || strcmp(cn, node) != 0) {
		snprintf(why, whysz, "%s: not a certificate for node '%s'", path, node);
		goto out;
	}
	/* Peers will refuse it, but the local node can still serve: warn only. */
	if (crypto_cert_verify(crt, ca, crl, node, reason, sizeof(reason)) != 0)
		log_warnx("%s: %s: other nodes will refuse this node", path, reason);

	if ((ctx = SSL_CTX_new(TLS_method())) == NULL) {
		fail(why, whysz, "TLS context");
		goto out;
	}
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_ciphersuites(ctx, SUITES) ||
	    !SSL_CTX_set1_groups_list(ctx, GROUPS) ||
	    !SSL_CTX_set1_sigalgs_list(ctx, "ed25519")) {
		fail(why, whysz, "TLS parameters");
		goto out;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_max_early_data(ctx, 0);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* Read whole records (and what follows) in one read(), not header then body. */
	SSL_CTX_set_read_ahead(ctx, 1);
	if (SSL_CTX_use_certificate(ctx, crt) != 1) {
		fail(why, whysz, path);
		goto out;
	}
	if (SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(why, whysz, "%s/node.key: does not match node.crt", state_dir);
		ERR_clear_error();
		goto out;
	}
	/* Tell clients which CA we want (certificate_authorities). */
	if (SSL_CTX_add_client_CA(ctx, ca) != 1) {
		fail(why, whysz, "TLS CA name");
		goto out;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_cert_verify_callback(ctx, verify_cb, NULL);
	rc = 0;
out:
	EVP_PKEY_free(key);
	X509_free(crt);
	if (rc != 0)
		link_tls_free();
	return rc;
}

void
link_tls_free(void)
{
	SSL_CTX_free(ctx);
	X509_free(ca);
	X509_CRL_free(crl);
	ctx = NULL;
	ca = NULL;
	crl = NULL;
}

int
link_tls_reload(char *why, size_t whysz)
{
	X509_CRL *c;

	if (ca == NULL)
		return 0;
	if (crl_read(&c, why, whysz) != 0)
		return -1;
	if (c == NULL) {
		if (crl != NULL) {
			snprintf(why, whysz, "%s: missing, the previous list stays", crlpath);
			return -1;
		}
		return 0;
	}
	X509_CRL_free(crl);
	crl = c;
	return 0;
}

SSL *
link_tls_new(int fd, int server, struct link_tls_state *st)
{
	SSL *ssl;

	if (ctx == NULL || (ssl = SSL_new(ctx)) == NULL)
		return NULL;
	if (SSL_set_fd(ssl, fd) != 1) {
		SSL_free(ssl);
		return NULL;
	}
	SSL_set_app_data(ssl, st);
	if (server)
		SSL_set_accept_state(ssl);
	else
		SSL_set_connect_state(ssl);
	return ssl;
}
