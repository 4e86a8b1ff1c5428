/* sigtool.c — the cluster admin's tool: main, usage, dispatch to one file per command. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include "cli.h"
#include "log.h"
#include "sigtool.h"

static const char usage_text[] =
    "usage: sigtool [-d DIR] init [-p PASSFILE | -P]\n"
    "       sigtool [-d DIR] certify [-p PASSFILE | -P] [-days N] [-o FILE] REQUEST\n"
    "       sigtool hash FILE...\n"
    "       sigtool [-d DIR] add [-p PASSFILE | -P] [-u UID] [-U UNIT] [--private] [--seen-by SERVICE]... NAME FILE|HASH|*\n"
    "       sigtool [-d DIR] remove [-p PASSFILE | -P] NAME [FILE|HASH]\n"
    "       sigtool [-d DIR] list\n"
    "       sigtool [-d DIR] verify [-n NODE] [CERT]\n"
    "       sigtool [-d DIR] revoke [-p PASSFILE | -P] CERT | -s SERIAL\n"
    "       sigtool [-d DIR] fingerprint [FILE]\n";

void
usage(int code)
{
	cli_usage(code);
}

static const struct {
	const char *name;
	int (*fn)(int, char **, struct opts *);
} cmds[] = {
	{ "init", cmd_init },
	{ "certify", cmd_certify },
	{ "hash", cmd_hash },
	{ "add", cmd_add },
	{ "remove", cmd_remove },
	{ "list", cmd_list },
	{ "verify", cmd_verify },
	{ "revoke", cmd_revoke },
	{ "fingerprint", cmd_fingerprint },
};

int
main(int argc, char **argv)
{
	struct opts o = { NULL, NULL, 0 };
	size_t i;
	int ch;

	log_init("sigtool", 0, 0);
	cli_init("sigtool", usage_text);
	/* '+': stop at the command name; the command parses its own options. */
	while ((ch = cli_getopt(argc, argv, "+d:h", NULL)) != -1) {
		if (!opt_common(ch, optarg, &o))
			usage(EX_USAGE);
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage(EX_USAGE);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[0], cmds[i].name) == 0) {
			optind = 0;	/* glibc: start over on the command's argv */
			return cmds[i].fn(argc, argv, &o);
		}
	}
	die(EX_USAGE, "%s: unknown command (sigtool -h lists them)", argv[0]);
}
