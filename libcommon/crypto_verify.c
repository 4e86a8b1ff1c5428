/* crypto_verify.c — is this a node certificate of our cluster, current, unrevoked, for that node? */
#include <string.h>
#include <openssl/err.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include "masix.h"
#include "crypto.h"

int
crypto_crl_check(X509_CRL *crl, X509 *ca, char *why, size_t whysz)
{
	EVP_PKEY *pub;
	int ok;

	if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(ca)) != 0)
		return crypto_fail(why, whysz, -MX_ERR_BADSIG, "CRL not issued by this CA");
	if ((pub = X509_get0_pubkey(ca)) == NULL) {
		ERR_clear_error();
		return crypto_fail(why, whysz, -MX_ERR_INVAL, "CA certificate has no usable key");
	}
	ok = X509_CRL_verify(crl, pub);
	ERR_clear_error();
	if (ok != 1)
		return crypto_fail(why, whysz, -MX_ERR_BADSIG, "CRL signature does not verify");
	return 0;
}

int
crypto_cert_verify(X509 *cert, X509 *ca, X509_CRL *crl, const char *node,
    char *why, size_t whysz)
{
	char cn[CRYPTO_NODE_MAX + 1];
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	X509_VERIFY_PARAM *param;
	int r, ok, err = X509_V_OK;

	/* Check the CRL ourselves first, to name it when it is the culprit. */
	if (crl != NULL && (r = crypto_crl_check(crl, ca, why, whysz)) != 0)
		return r;
	if ((store = X509_STORE_new()) == NULL || (ctx = X509_STORE_CTX_new()) == NULL ||
	    !X509_STORE_add_cert(store, ca) || (crl != NULL && !X509_STORE_add_crl(store, crl)) ||
	    !X509_STORE_CTX_init(ctx, store, cert, NULL)) {
		X509_STORE_CTX_free(ctx);
		X509_STORE_free(store);
		ERR_clear_error();
		return crypto_fail(why, whysz, -MX_ERR_NOMEM, "out of memory");
	}
	param = X509_STORE_CTX_get0_param(ctx);
	/* The CA is the only anchor; no system store, no partial chains. */
	if (crl != NULL)
		X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_CRL_CHECK);
	X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_X509_STRICT);
	ok = X509_verify_cert(ctx);
	if (ok != 1)
		err = X509_STORE_CTX_get_error(ctx);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	ERR_clear_error();
	if (ok != 1)
		return crypto_fail(why, whysz, -MX_ERR_BADSIG, "%s",
		    err == X509_V_OK ? "certificate does not verify" :
		    X509_verify_cert_error_string(err));
	if (X509_check_ca(cert) != 0)
		return crypto_fail(why, whysz, -MX_ERR_BADSIG, "a CA certificate, not a node certificate");
	if (X509_check_purpose(cert, X509_PURPOSE_SSL_SERVER, 0) != 1 ||
	    X509_check_purpose(cert, X509_PURPOSE_SSL_CLIENT, 0) != 1) {
		ERR_clear_error();
		return crypto_fail(why, whysz, -MX_ERR_BADSIG, "not usable for TLS client and server");
	}
	if (crypto_cert_node(cert, cn, sizeof(cn)) != 0)
		return crypto_fail(why, whysz, -MX_ERR_BADSIG, "subject is not a valid node name");
	if (node != NULL && (strcmp(cn, node) != 0 ||
	    X509_check_host(cert, node, strlen(node), X509_CHECK_FLAG_NO_WILDCARDS, NULL) != 1)) {
		ERR_clear_error();
		return crypto_fail(why, whysz, -MX_ERR_BADSIG, "issued to node '%s', not '%s'", cn, node);
	}
	return 0;
}
