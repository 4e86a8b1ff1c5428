/* hash.c — sigtool hash: the SHA-256 of binaries, as the signature list stores it. */
#include <getopt.h>
#include <stdio.h>
#include <sysexits.h>
#include "masix.h"
#include "log.h"
#include "sigtool.h"

int
cmd_hash(int argc, char **argv, struct opts *o)
{
	char why[CRYPTO_WHY_MAX], h[CRYPTO_HASH_STRLEN + 1];
	int ch, i, r, rc = 0;

	while ((ch = cli_getopt(argc, argv, "d:h", NULL)) != -1)
		if (!opt_common(ch, optarg, o))
			usage(EX_USAGE);
	if (optind == argc)
		usage(EX_USAGE);
	/* Like sha256sum: report each bad file, go on, fail at the end. */
	for (i = optind; i < argc; i++) {
		if ((r = crypto_hash_file(argv[i], h, why, sizeof(why))) != 0) {
			warnmsg("%s", why);
			if (rc == 0)
				rc = mx_file_exit_code(r);
			continue;
		}
		printf("%s  %s\n", h, argv[i]);
	}
	if (fflush(stdout) != 0)
		die(EX_IOERR, "stdout: write failed");
	return rc;
}
