/* fingerprint.c — sigtool fingerprint: SHA256:<base64> of the CA key, or of a certificate's, request's or public key's. */
#include <getopt.h>
#include <stdio.h>
#include <sysexits.h>
#include "masix.h"
#include "log.h"
#include "sigtool.h"

/* The public key in path: a certificate, a certificate request, or a PEM public key. */
static EVP_PKEY *
load_any(const char *path)
{
	char why[CRYPTO_WHY_MAX];
	EVP_PKEY *pub = NULL;
	X509_REQ *req;
	X509 *cert;
	int r;

	if ((r = crypto_cert_load(path, &cert, why, sizeof(why))) == 0) {
		pub = X509_get_pubkey(cert);
		X509_free(cert);
	} else if (r != -MX_ERR_INVAL) {
		die_err(r, why);
	} else if (crypto_csr_load(path, &req, why, sizeof(why)) == 0) {
		pub = X509_REQ_get_pubkey(req);
		X509_REQ_free(req);
	} else if (crypto_pubkey_load(path, &pub, why, sizeof(why)) != 0) {
		die(EX_DATAERR, "%s: no certificate, request or public key in it", path);
	}
	if (pub == NULL)
		die(EX_DATAERR, "%s: no usable public key", path);
	return pub;
}

int
cmd_fingerprint(int argc, char **argv, struct opts *o)
{
	char fp[CRYPTO_FP_STRLEN + 1];
	struct admin a;
	EVP_PKEY *pub;
	X509 *ca;
	int ch;

	while ((ch = cli_getopt(argc, argv, "d:h", NULL)) != -1)
		if (!opt_common(ch, optarg, o))
			usage(EX_USAGE);
	if (argc - optind > 1)
		usage(EX_USAGE);
	if (argc - optind == 1) {
		pub = load_any(argv[optind]);
	} else {
		admin_open(&a, o);
		ca = admin_ca(&a);
		pub = X509_get_pubkey(ca);
		X509_free(ca);
		if (pub == NULL)
			die(EX_DATAERR, "%s: no usable public key", a.ca);
	}
	if (crypto_fingerprint(pub, fp) != 0)
		die(EX_OSERR, "cannot compute the fingerprint");
	printf("%s\n", fp);
	EVP_PKEY_free(pub);
	if (fflush(stdout) != 0)
		die(EX_IOERR, "stdout: write failed");
	return 0;
}
