/* certify.c — sigtool certify: sign a node's certificate request. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>
#include "masix.h"
#include "log.h"
#include "sigtool.h"

int
cmd_certify(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "days", required_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct admin a;
	char why[CRYPTO_WHY_MAX], node[CRYPTO_NODE_MAX + 1];
	const char *out = NULL, *reqpath;
	EVP_PKEY *key;
	X509_REQ *req;
	X509 *ca, *cert;
	char *pem;
	size_t len;
	int ch, r, days = NODE_DAYS;

	/* getopt_long_only: "-days N" as in openssl, while "-d DIR" stays short. */
	while ((ch = getopt_long_only(argc, argv, "d:ho:p:P", longopts, NULL)) != -1) {
		if (ch == 'D')
			days = parse_days(optarg);
		else if (ch == 'o')
			out = optarg;
		else if (!opt_common(ch, optarg, o))
			usage(EX_USAGE);
	}
	if (argc - optind != 1)
		usage(EX_USAGE);
	opt_check(o);
	reqpath = argv[optind];
	admin_open(&a, o);

	/* The request first: a bad one is refused before any passphrase prompt. */
	if ((r = crypto_csr_load(reqpath, &req, why, sizeof(why))) != 0)
		die_err(r, why);
	if ((r = crypto_csr_check(req, node, sizeof(node), why, sizeof(why))) != 0) {
		X509_REQ_free(req);
		die(mx_file_exit_code(r), "%s: %s", reqpath, why);
	}
	ca = admin_ca(&a);
	key = admin_key(&a, o, ca);
	r = crypto_cert_issue(ca, key, req, days, &cert, why, sizeof(why));
	EVP_PKEY_free(key);
	X509_REQ_free(req);
	X509_free(ca);
	if (r != 0)
		die(mx_file_exit_code(r), "%s: %s", reqpath, why);
	r = crypto_cert_pem(cert, &pem, &len);
	X509_free(cert);
	if (r != 0)
		die(EX_OSERR, "out of memory");
	if (out != NULL)
		r = crypto_file_create(out, 0644, pem, len, why, sizeof(why));
	else if (fwrite(pem, 1, len, stdout) != len || fflush(stdout) != 0)
		r = crypto_fail(why, sizeof(why), -MX_ERR_IO, "stdout: write failed");
	free(pem);
	if (r != 0)
		die_err(r, why);
	return 0;
}
