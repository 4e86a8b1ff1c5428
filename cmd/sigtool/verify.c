/* verify.c — sigtool verify: the list's signature, or a node certificate against CA and CRL. */
#include <getopt.h>
#include <stdio.h>
#include <sysexits.h>
#include "masix.h"
#include "log.h"
#include "sigtool.h"

int
cmd_verify(int argc, char **argv, struct opts *o)
{
	char why[CRYPTO_WHY_MAX];
	const char *node = NULL, *path;
	struct siglist *l;
	struct admin a;
	X509_CRL *crl;
	X509 *ca, *cert;
	int ch, r;

	while ((ch = cli_getopt(argc, argv, "d:hn:", NULL)) != -1) {
		if (ch == 'n')
			node = optarg;
		else if (!opt_common(ch, optarg, o))
			usage(EX_USAGE);
	}
	if (argc - optind > 1 || (node != NULL && argc - optind == 0))
		usage(EX_USAGE);
	if (node != NULL && !crypto_node_name_valid(node))
		die(EX_DATAERR, "'%s': not a node name", node);
	admin_open(&a, o);
	if (argc == optind) {
		ca = admin_ca(&a);
		l = admin_list(&a, ca);
		printf("%s: OK\n", a.list);
		siglist_free(l);
		X509_free(ca);
		return 0;
	}
	path = argv[optind];
	if ((r = crypto_cert_load(path, &cert, why, sizeof(why))) != 0)
		die_err(r, why);
	ca = admin_ca(&a);
	crl = admin_crl(&a, ca);
	r = crypto_cert_verify(cert, ca, crl, node, why, sizeof(why));
	X509_CRL_free(crl);
	X509_free(cert);
	X509_free(ca);
	if (r != 0)
		die(mx_file_exit_code(r), "%s: %s", path, why);
	printf("%s: OK\n", path);
	return 0;
}
