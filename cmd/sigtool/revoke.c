/* revoke.c — sigtool revoke: add a node certificate's serial to the signed CRL. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include "masix.h"
#include "log.h"
#include "sigtool.h"

/* A serial in hex, as openssl x509 -serial prints it; 20 bytes at most (RFC 5280). */
static ASN1_INTEGER *
parse_serial(const char *s)
{
	ASN1_INTEGER *ai = NULL;
	BIGNUM *bn = NULL;
	size_t n = strlen(s);

	if (n == 0 || n > 40 || strspn(s, "0123456789abcdefABCDEF") != n ||
	    !BN_hex2bn(&bn, s) || BN_is_zero(bn) || (ai = BN_to_ASN1_INTEGER(bn, NULL)) == NULL) {
		BN_free(bn);
		ERR_clear_error();
		die(EX_DATAERR, "'%s': not a certificate serial (1-40 hex digits, not zero)", s);
	}
	BN_free(bn);
	return ai;
}

int
cmd_revoke(int argc, char **argv, struct opts *o)
{
	char why[CRYPTO_WHY_MAX];
	const char *serialarg = NULL, *path = NULL;
	ASN1_INTEGER *serial;
	X509_CRL *crl, *next;
	struct admin a;
	EVP_PKEY *key;
	X509 *ca, *cert;
	char *pem;
	size_t len;
	int ch, r;

	while ((ch = cli_getopt(argc, argv, "d:hp:Ps:", NULL)) != -1) {
		if (ch == 's')
			serialarg = optarg;
		else if (!opt_common(ch, optarg, o))
			usage(EX_USAGE);
	}
	if ((serialarg == NULL) == (argc - optind != 1) || argc - optind > 1)
		usage(EX_USAGE);
	opt_check(o);
	admin_open(&a, o);
	admin_lock(&a);
	ca = admin_ca(&a);
	if (serialarg != NULL) {
		serial = parse_serial(serialarg);
	} else {
		path = argv[optind];
		if ((r = crypto_cert_load(path, &cert, why, sizeof(why))) != 0)
			die_err(r, why);
		/* Expired or not, it must be ours: revoking a stranger's serial means nothing. */
		if (X509_verify(cert, X509_get0_pubkey(ca)) != 1) {
			ERR_clear_error();
			X509_free(cert);
			X509_free(ca);
			die(EX_DATAERR, "%s: not issued by this CA (%s)", path, a.ca);
		}
		if ((serial = ASN1_INTEGER_dup(X509_get0_serialNumber(cert))) == NULL)
			die(EX_OSERR, "out of memory");
		X509_free(cert);
	}
	crl = admin_crl(&a, ca);
	if (crypto_crl_has(crl, serial)) {
		/* already revoked: nothing to sign */
		r = 0;
	} else {
		key = admin_key(&a, o, ca);
		r = crypto_crl_make(ca, key, crl, serial, CA_DAYS, &next, why, sizeof(why));
		EVP_PKEY_free(key);
		if (r == 0) {
			if ((r = crypto_crl_pem(next, &pem, &len)) == 0) {
				r = crypto_file_replace(a.crl, 0644, pem, len, why, sizeof(why));
				free(pem);
			} else {
				crypto_fail(why, sizeof(why), r, "%s: out of memory", a.crl);
			}
			X509_CRL_free(next);
		} else {
			crypto_fail(why, sizeof(why), r, "%s: cannot build the new CRL", a.crl);
		}
	}
	X509_CRL_free(crl);
	ASN1_INTEGER_free(serial);
	X509_free(ca);
	if (r != 0)
		die_err(r, why);
	return 0;
}
