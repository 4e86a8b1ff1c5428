/* cli.c — -h, --help, --version and bad options, said the same way by every program. */
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include "cli.h"
#include "log.h"
#include "masix.h"
#include "version.h"

#define CLI_VERSION	0x100	/* getopt value of --version: no short option has it */
#define CLI_LONG_MAX	8

static const char *cli_prog = "masix";
static const char *cli_text = "";

void
cli_init(const char *prog, const char *usage)
{
	cli_prog = prog;
	cli_text = usage;
}

void
cli_usage(int code)
{
	FILE *f = code == 0 ? stdout : stderr;

	fputs(cli_text, f);
	if (code == 0 && fflush(f) != 0)
		exit(EX_IOERR);
	exit(code);
}

int
cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts)
{
	static const struct option std[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, CLI_VERSION },
	};
	struct option all[CLI_LONG_MAX];
	size_t n = 0, i;
	int ch;

	for (; longopts != NULL && longopts[n].name != NULL; n++)
		if (n + 3 > CLI_LONG_MAX)
			abort();	/* a program with that many long options: raise CLI_LONG_MAX */
	if (n > 0)
		memcpy(all, longopts, n * sizeof(all[0]));
	for (i = 0; i < 2; i++)
		all[n++] = std[i];
	memset(&all[n], 0, sizeof(all[n]));

	argv[0] = (char *)cli_prog;	/* getopt's own messages: "prog: ...", not the path */
	ch = getopt_long(argc, argv, shortopts, all, NULL);
	switch (ch) {
	case 'h':
		cli_usage(0);
	case CLI_VERSION:
		printf("%s masix %s\n", cli_prog, MASIX_VERSION);
		if (fflush(stdout) != 0)
			exit(EX_IOERR);
		exit(0);
	case '?':
		cli_usage(EX_USAGE);	/* getopt said what was wrong, on stderr */
	default:
		return ch;
	}
}

const char *
cli_rundir(const char *rundir)
{
	if (rundir == NULL && (rundir = masix_default_rundir()) == NULL)
		die(EX_USAGE, "no runtime directory: give one with -R DIR or MASIX_RUNDIR=DIR "
		    "(or set XDG_RUNTIME_DIR; root's default is /run/masix)");
	return rundir;
}
