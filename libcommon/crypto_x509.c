/* crypto_x509.c — node names, certificate requests, the CA and node certificates, PEM in and out. */
#include <stdlib.h>
#include <string.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include "masix.h"
#include "crypto.h"

#define CA_NAME "masix cluster CA"

int
crypto_node_name_valid(const char *name)
{
	size_t n;

	if (name[0] == '-' || name[0] == '.')
		return 0;
	for (n = 0; name[n] != '\0'; n++) {
		char c = name[n];

		if (n >= CRYPTO_NODE_MAX)
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '-'))
			return 0;
	}
	return n > 0;
}

/* Read a PEM file into a memory BIO; the caller parses and frees it. */
static int
pem_open(const char *path, BIO **bio, char *why, size_t whysz)
{
	uint8_t *buf;
	size_t len;
	int r;

	*bio = NULL;
	if ((r = crypto_file_read(path, CRYPTO_LIST_MAX, &buf, &len, why, whysz)) != 0)
		return r;
	/* BIO_new_mem_buf() does not copy: copy into a BIO that owns its bytes. */
	if ((*bio = BIO_new(BIO_s_mem())) == NULL ||
	    BIO_write(*bio, buf, (int)len) != (int)len) {
		BIO_free(*bio);
		*bio = NULL;
		free(buf);
		return crypto_fail(why, whysz, -MX_ERR_NOMEM, "%s: out of memory", path);
	}
	free(buf);
	return 0;
}

int
crypto_cert_load(const char *path, X509 **out, char *why, size_t whysz)
{
	BIO *bio;
	int r;

	if ((r = pem_open(path, &bio, why, whysz)) != 0)
		return r;
	*out = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	ERR_clear_error();
	if (*out == NULL)
		return crypto_fail(why, whysz, -MX_ERR_INVAL, "%s: not a PEM certificate", path);
	return 0;
}

int
crypto_csr_load(const char *path, X509_REQ **out, char *why, size_t whysz)
{
	BIO *bio;
	int r;

	if ((r = pem_open(path, &bio, why, whysz)) != 0)
		return r;
	*out = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
	BIO_free(bio);
	ERR_clear_error();
	if (*out == NULL)
		return crypto_fail(why, whysz, -MX_ERR_INVAL,
		    "%s: not a PEM certificate request", path);
	return 0;
}

int
crypto_crl_load(const char *path, X509_CRL **out, char *why, size_t whysz)
{
	BIO *bio;
	int r;

	if ((r = pem_open(path, &bio, why, whysz)) != 0)
		return r;
	*out = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
	BIO_free(bio);
	ERR_clear_error();
	if (*out == NULL)
		return crypto_fail(why, whysz, -MX_ERR_INVAL, "%s: not a PEM CRL", path);
	return 0;
}

static int
bio_take(BIO *bio, int ok, char **out, size_t *outlen)
{
	char *p;
	long n;

	*out = NULL;
	n = ok ? BIO_get_mem_data(bio, &p) : 0;
	if (n <= 0 || (*out = malloc((size_t)n + 1)) == NULL) {
		BIO_free(bio);
		ERR_clear_error();
		return -MX_ERR_NOMEM;
	}
	memcpy(*out, p, (size_t)n);
	(*out)[n] = '\0';
	*outlen = (size_t)n;
	BIO_free(bio);
	return 0;
}

int
crypto_cert_pem(X509 *cert, char **out, size_t *outlen)
{
	BIO *bio = BIO_new(BIO_s_mem());

	return bio ? bio_take(bio, PEM_write_bio_X509(bio, cert), out, outlen) : -MX_ERR_NOMEM;
}

int
crypto_csr_pem(X509_REQ *req, char **out, size_t *outlen)
{
	BIO *bio = BIO_new(BIO_s_mem());

	return bio ? bio_take(bio, PEM_write_bio_X509_REQ(bio, req), out, outlen) : -MX_ERR_NOMEM;
}

int
crypto_crl_pem(X509_CRL *crl, char **out, size_t *outlen)
{
	BIO *bio = BIO_new(BIO_s_mem());

	return bio ? bio_take(bio, PEM_write_bio_X509_CRL(bio, crl), out, outlen) : -MX_ERR_NOMEM;
}

static X509_NAME *
name_cn(const char *cn)
{
	X509_NAME *n;

	if ((n = X509_NAME_new()) == NULL)
		return NULL;
	if (!X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0)) {
		X509_NAME_free(n);
		return NULL;
	}
	return n;
}

int
crypto_csr_make(EVP_PKEY *key, const char *node, X509_REQ **out, char *why, size_t whysz)
{
	X509_REQ *req;
	X509_NAME *n = NULL;
	int ok;

	*out = NULL;
	if (!crypto_node_name_valid(node))
		return crypto_fail(why, whysz, -MX_ERR_INVAL, "invalid node name '%s'", node);
	if ((req = X509_REQ_new()) == NULL)
		return crypto_fail(why, whysz, -MX_ERR_NOMEM, "out of memory");
	ok = X509_REQ_set_version(req, X509_REQ_VERSION_1) &&
	    (n = name_cn(node)) != NULL && X509_REQ_set_subject_name(req, n) &&
	    X509_REQ_set_pubkey(req, key) && X509_REQ_sign(req, key, NULL) > 0;
	X509_NAME_free(n);
	ERR_clear_error();
	if (!ok) {
		X509_REQ_free(req);
		return crypto_fail(why, whysz, -MX_ERR_NOMEM, "cannot build the request");
	}
	*out = req;
	return 0;
}

/* The single CN of a name, as a valid node name; -1 otherwise. */
static int
name_node(const X509_NAME *name, char *node, size_t nodesz)
{
	const ASN1_STRING *s;
	X509_NAME_ENTRY *e;
	int i, len;

	if ((i = X509_NAME_get_index_by_NID(name, NID_commonName, -1)) < 0 ||
	    X509_NAME_get_index_by_NID(name, NID_commonName, i) >= 0)
		return -1;
	if ((e = X509_NAME_get_entry(name, i)) == NULL ||
	    (s = X509_NAME_ENTRY_get_data(e)) == NULL)
		return -1;
	len = ASN1_STRING_length(s);
	/* Reject embedded NULs and anything longer than a node name before copying. */
	if (len <= 0 || len > CRYPTO_NODE_MAX || (size_t)len >= nodesz ||
	    memchr(ASN1_STRING_get0_data(s), '\0', (size_t)len) != NULL)
		return -1;
	memcpy(node, ASN1_STRING_get0_data(s), (size_t)len);
	node[len] = '\0';
	return crypto_node_name_valid(node) ? 0 : -1;
}

int
crypto_csr_check(X509_REQ *req, char *node, size_t nodesz, char *why, size_t whysz)
{
	EVP_PKEY *key;
	int ok;

	if ((key = X509_REQ_get0_pubkey(req)) == NULL) {
		ERR_clear_error();
		return crypto_fail(why, whysz, -MX_ERR_INVAL, "request has no usable public key");
	}
	if (EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
		const char *type = EVP_PKEY_get0_type_name(key);

		return crypto_fail(why, whysz, -MX_ERR_INVAL, "request key is %s, not Ed25519",
		    type != NULL ? type : "of an unknown type");
	}
	ok = X509_REQ_verify(req, key);
	ERR_clear_error();
	if (ok != 1)
		return crypto_fail(why, whysz, -MX_ERR_BADSIG, "request self-signature does not verify");
	if (name_node(X509_REQ_get_subject_name(req), node, nodesz) != 0)
		return crypto_fail(why, whysz, -MX_ERR_INVAL,
		    "request subject is not CN=<node name> (1-63 chars of [A-Za-z0-9.-], "
		    "not starting with '-' or '.')");
	return 0;
}

int
crypto_cert_node(X509 *cert, char *node, size_t nodesz)
{
	return name_node(X509_get_subject_name(cert), node, nodesz) == 0 ? 0 : -MX_ERR_INVAL;
}

/* A positive random 128-bit serial: unique without keeping a counter. */
static int
set_serial(X509 *x)
{
	unsigned char b[16];
	ASN1_INTEGER *ai = NULL;
	BIGNUM *bn;
	int ok;

	if (RAND_bytes(b, sizeof(b)) != 1)
		return 0;
	b[0] &= 0x7f;
	b[0] |= 0x40;	/* never zero, always 16 bytes long */
	ok = (bn = BN_bin2bn(b, sizeof(b), NULL)) != NULL &&
	    (ai = BN_to_ASN1_INTEGER(bn, NULL)) != NULL &&
	    X509_set_serialNumber(x, ai);
	ASN1_INTEGER_free(ai);
	BN_free(bn);
	return ok;
}

static int
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return 0;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

/* Fields common to the CA and node certificates. */
static int
cert_base(X509 *x, const X509_NAME *subject, const X509_NAME *issuer, EVP_PKEY *pub, int days)
{
	return X509_set_version(x, X509_VERSION_3) && set_serial(x) &&
	    X509_set_subject_name(x, subject) && X509_set_issuer_name(x, issuer) &&
	    X509_gmtime_adj(X509_getm_notBefore(x), 0) != NULL &&
	    X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL) != NULL &&
	    X509_set_pubkey(x, pub);
}

int
crypto_ca_make(EVP_PKEY *key, int days, X509 **out, char *why, size_t whysz)
{
	X509_NAME *n = NULL;
	X509 *x;
	int ok;

	*out = NULL;
	if (days <= 0)
		return crypto_fail(why, whysz, -MX_ERR_INVAL, "validity must be at least one day");
	if ((x = X509_new()) == NULL)
		return crypto_fail(why, whysz, -MX_ERR_NOMEM, "out of memory");
	ok = (n = name_cn(CA_NAME)) != NULL && cert_base(x, n, n, key, days) &&
	    add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE") &&
	    add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") &&
	    add_ext(x, x, NID_subject_key_identifier, "hash") &&
	    add_ext(x, x, NID_authority_key_identifier, "keyid:always") &&
	    X509_sign(x, key, NULL) > 0;
	X509_NAME_free(n);
	ERR_clear_error();
	if (!ok) {
		X509_free(x);
		return crypto_fail(why, whysz, -MX_ERR_NOMEM, "cannot build the CA certificate");
	}
	*out = x;
	return 0;
}

int
crypto_cert_issue(X509 *ca, EVP_PKEY *cakey, X509_REQ *req, int days,
    X509 **out, char *why, size_t whysz)
{
	char node[CRYPTO_NODE_MAX + 1], san[CRYPTO_NODE_MAX + 5];
	X509_NAME *n = NULL;
	X509 *x;
	int ok, r;

	*out = NULL;
	if (days <= 0)
		return crypto_fail(why, whysz, -MX_ERR_INVAL, "validity must be at least one day");
	if ((r = crypto_csr_check(req, node, sizeof(node), why, whysz)) != 0)
		return r;
	snprintf(san, sizeof(san), "DNS:%s", node);
	if ((x = X509_new()) == NULL)
		return crypto_fail(why, whysz, -MX_ERR_NOMEM, "out of memory");
	/* Only the checked node name is copied from the request, no extension. */
	ok = (n = name_cn(node)) != NULL &&
	    cert_base(x, n, X509_get_subject_name(ca), X509_REQ_get0_pubkey(req), days) &&
	    add_ext(x, ca, NID_basic_constraints, "critical,CA:FALSE") &&
	    add_ext(x, ca, NID_key_usage, "critical,digitalSignature") &&
	    add_ext(x, ca, NID_ext_key_usage, "serverAuth,clientAuth") &&
	    add_ext(x, ca, NID_subject_alt_name, san) &&
	    add_ext(x, ca, NID_subject_key_identifier, "hash") &&
	    add_ext(x, ca, NID_authority_key_identifier, "keyid:always") &&
	    X509_sign(x, cakey, NULL) > 0;
	X509_NAME_free(n);
	ERR_clear_error();
	if (!ok) {
		X509_free(x);
		return crypto_fail(why, whysz, -MX_ERR_NOMEM, "cannot build the certificate");
	}
	*out = x;
	return 0;
}
