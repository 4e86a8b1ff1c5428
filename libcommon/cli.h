/* cli.h — what every program's command line shares: -h, --help, --version, bad options. */
#ifndef MX_CLI_H
#define MX_CLI_H

#include <getopt.h>
#include <stdio.h>

/* prog: the program's name; usage: its usage text, "usage: ..." lines ending in '\n'. */
void cli_init(const char *prog, const char *usage);
/* The usage text: on stdout and exit 0 when code is 0, else on stderr and exit code. */
void cli_usage(int code) __attribute__((noreturn));
/*
 * getopt_long() over shortopts and longopts (may be NULL), plus --help and
 * --version. Handles -h and --help (usage on stdout, exit 0), --version
 * ("prog masix VERSION", exit 0) and unknown options (usage on stderr, exit
 * 64); returns every other option like getopt_long(), -1 at the end.
 */
int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts);
/*
 * The runtime directory: rundir when not NULL, else the default
 * (masix_default_rundir()); exits 64 saying how to give one when there is none.
 */
const char *cli_rundir(const char *rundir);

#endif
