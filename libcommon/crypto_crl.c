/* crypto_crl.c — the revocation list: copy the old entries, add one, number and sign. */
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include "masix.h"
#include "crypto.h"

int
crypto_crl_has(X509_CRL *crl, const ASN1_INTEGER *serial)
{
	X509_REVOKED *rev;

	/* X509_CRL_get0_by_serial() wants a non-const pointer it does not modify. */
	return X509_CRL_get0_by_serial(crl, &rev, (ASN1_INTEGER *)(uintptr_t)serial) == 1;
}

/* The number of the next CRL: old's crlNumber + 1, or 1. */
static ASN1_INTEGER *
next_number(X509_CRL *old)
{
	ASN1_INTEGER *num = NULL, *next;
	BIGNUM *bn = NULL;

	if (old != NULL)
		num = X509_CRL_get_ext_d2i(old, NID_crl_number, NULL, NULL);
	if (num != NULL) {
		bn = ASN1_INTEGER_to_BN(num, NULL);
		ASN1_INTEGER_free(num);
	} else {
		bn = BN_new();
	}
	if (bn == NULL || !BN_add_word(bn, 1)) {
		BN_free(bn);
		return NULL;
	}
	next = BN_to_ASN1_INTEGER(bn, NULL);
	BN_free(bn);
	return next;
}

static int
add_serial(X509_CRL *crl, const ASN1_INTEGER *serial, const ASN1_TIME *when)
{
	X509_REVOKED *rev;

	if ((rev = X509_REVOKED_new()) == NULL)
		return 0;
	if (!X509_REVOKED_set_serialNumber(rev, (ASN1_INTEGER *)(uintptr_t)serial) ||
	    !X509_REVOKED_set_revocationDate(rev, (ASN1_TIME *)(uintptr_t)when) ||
	    !X509_CRL_add0_revoked(crl, rev)) {
		X509_REVOKED_free(rev);
		return 0;
	}
	return 1;
}

int
crypto_crl_make(X509 *ca, EVP_PKEY *cakey, X509_CRL *old,
    const ASN1_INTEGER *serial, int days, X509_CRL **out, char *why, size_t whysz)
{
	STACK_OF(X509_REVOKED) *revs;
	ASN1_INTEGER *num = NULL;
	ASN1_TIME *now = NULL, *next = NULL;
	X509_REVOKED *r;
	X509_CRL *crl;
	int i, ok;

	*out = NULL;
	if (days <= 0)
		return crypto_fail(why, whysz, -MX_ERR_INVAL, "validity must be at least one day");
	if (old != NULL && serial != NULL && crypto_crl_has(old, serial))
		return crypto_fail(why, whysz, -MX_ERR_EXISTS, "already revoked");
	if ((crl = X509_CRL_new()) == NULL)
		return crypto_fail(why, whysz, -MX_ERR_NOMEM, "out of memory");
	ok = X509_CRL_set_version(crl, X509_CRL_VERSION_2) &&
	    X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca)) &&
	    (now = X509_gmtime_adj(NULL, 0)) != NULL &&
	    (next = X509_time_adj_ex(NULL, days, 0, NULL)) != NULL &&
	    X509_CRL_set1_lastUpdate(crl, now) && X509_CRL_set1_nextUpdate(crl, next) &&
	    (num = next_number(old)) != NULL &&
	    X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0);
	revs = old != NULL ? X509_CRL_get_REVOKED(old) : NULL;
	for (i = 0; ok && i < sk_X509_REVOKED_num(revs); i++) {
		r = sk_X509_REVOKED_value(revs, i);
		ok = add_serial(crl, X509_REVOKED_get0_serialNumber(r),
		    X509_REVOKED_get0_revocationDate(r));
	}
	if (ok && serial != NULL)
		ok = add_serial(crl, serial, now);
	ok = ok && X509_CRL_sort(crl) && X509_CRL_sign(crl, cakey, NULL) > 0;
	ASN1_INTEGER_free(num);
	ASN1_TIME_free(now);
	ASN1_TIME_free(next);
	ERR_clear_error();
	if (!ok) {
		X509_CRL_free(crl);
		return crypto_fail(why, whysz, -MX_ERR_NOMEM, "cannot build the CRL");
	}
	*out = crl;
	return 0;
}
