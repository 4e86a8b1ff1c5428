/* siglist.c — sigtool add, remove, list: edit and show the signed list of server signatures. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include "masix.h"
#include "log.h"
#include "sigtool.h"

static uid_t
parse_uid(const char *s)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	/* (uid_t)-1 is not a uid; digits only, no sign, no blanks. */
	if (*s < '0' || *s > '9' || errno != 0 || *end != '\0' || v >= 4294967295ULL)
		die(EX_USAGE, "-u: '%s': not a numeric uid", s);
	return (uid_t)v;
}

static void
check_name(const char *name)
{
	if (!siglist_name_valid(name))
		die(EX_DATAERR, "'%s': not a masix name (1-255 of [A-Za-z0-9._/-]) "
		    "or a prefix/* pattern", name);
}

/* Sign and write the edited list; the key is loaded only now, after every check. */
static void
save(const struct admin *a, const struct opts *o, X509 *ca, struct siglist *l)
{
	char why[CRYPTO_WHY_MAX];
	EVP_PKEY *key;
	int r;

	key = admin_key(a, o, ca);
	r = siglist_save(a->list, a->sig, l, key, why, sizeof(why));
	EVP_PKEY_free(key);
	if (r != 0)
		die_err(r, why);
}

int
cmd_add(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "private", no_argument, NULL, 'V' },
		{ "seen-by", required_argument, NULL, 'B' },
		{ NULL, 0, NULL, 0 },
	};
	struct siglist_entry rule;
	struct siglist *l;
	struct admin a;
	int ch, r;
	X509 *ca;

	memset(&rule, 0, sizeof(rule));
	rule.anyuid = 1;
	while ((ch = cli_getopt(argc, argv, "d:hp:Pu:U:", longopts)) != -1) {
		if (ch == 'u') {
			rule.uid = parse_uid(optarg);
			rule.anyuid = 0;
		} else if (ch == 'U') {
			if (!siglist_unit_valid(optarg))
				die(EX_USAGE, "-U: '%s': not a systemd unit (NAME.service or NAME.scope)", optarg);
			snprintf(rule.unit, sizeof(rule.unit), "%s", optarg);
		} else if (ch == 'V') {
			rule.private = 1;
		} else if (ch == 'B') {
			/* Who may see the private names: a verified service that one of these covers. */
			size_t have = strlen(rule.audience);

			if (!siglist_name_valid(optarg))
				die(EX_USAGE, "--seen-by: '%s': not a masix name or a prefix/* pattern", optarg);
			if (have + 1 + strlen(optarg) > SIGLIST_LINE_MAX)
				die(EX_USAGE, "--seen-by: the list of services is longer than %d bytes", SIGLIST_LINE_MAX);
			snprintf(rule.audience + have, sizeof(rule.audience) - have, "%s%s", have ? "," : "", optarg);
			rule.private = 1;
		} else if (!opt_common(ch, optarg, o)) {
			usage(EX_USAGE);
		}
	}
	if (argc - optind != 2)
		usage(EX_USAGE);
	opt_check(o);
	check_name(argv[optind]);
	/* "*": any binary; only with a unit or a uid to say who, else the rule would admit anyone. */
	if (strcmp(argv[optind + 1], "*") == 0) {
		if (rule.unit[0] == '\0' && rule.anyuid)
			die(EX_USAGE, "'*' (any binary) needs -U UNIT or -u UID");
		rule.anyhash = 1;
	} else {
		hash_arg(argv[optind + 1], rule.hash);
	}
	snprintf(rule.name, sizeof(rule.name), "%s", argv[optind]);
	admin_open(&a, o);
	admin_lock(&a);
	ca = admin_ca(&a);
	/* A list that does not verify is never re-signed: that would bless the tampering. */
	l = admin_list(&a, ca);
	r = siglist_add(l, &rule);
	if (r == 0)
		save(&a, o, ca, l);
	siglist_free(l);
	X509_free(ca);
	/* -MX_ERR_EXISTS: the rule is there already, nothing to sign. */
	if (r == -MX_ERR_TOOBIG)
		die(EX_USAGE, "the rule is longer than a list line (%d bytes)", SIGLIST_LINE_MAX);
	if (r != 0 && r != -MX_ERR_EXISTS)
		die_err(r, "out of memory");
	return 0;
}

int
cmd_remove(int argc, char **argv, struct opts *o)
{
	uint8_t hash[CRYPTO_HASH_LEN];
	struct siglist *l;
	struct admin a;
	int ch, withhash;
	X509 *ca;

	while ((ch = cli_getopt(argc, argv, "d:hp:P", NULL)) != -1)
		if (!opt_common(ch, optarg, o))
			usage(EX_USAGE);
	if (argc - optind != 1 && argc - optind != 2)
		usage(EX_USAGE);
	opt_check(o);
	check_name(argv[optind]);
	if ((withhash = argc - optind == 2))
		hash_arg(argv[optind + 1], hash);
	admin_open(&a, o);
	admin_lock(&a);
	ca = admin_ca(&a);
	l = admin_list(&a, ca);
	if (siglist_remove(l, argv[optind], withhash ? hash : NULL) < 0) {
		siglist_free(l);
		X509_free(ca);
		if (withhash)
			die(EX_UNAVAILABLE, "'%s' %s: no such entry", argv[optind], argv[optind + 1]);
		die(EX_UNAVAILABLE, "'%s': no such entry", argv[optind]);
	}
	save(&a, o, ca, l);
	siglist_free(l);
	X509_free(ca);
	return 0;
}

int
cmd_list(int argc, char **argv, struct opts *o)
{
	char rule[SIGLIST_LINE_MAX + 1];
	const struct siglist_entry *e;
	struct siglist *l;
	struct admin a;
	size_t i;
	int ch;
	X509 *ca;

	while ((ch = cli_getopt(argc, argv, "d:h", NULL)) != -1)
		if (!opt_common(ch, optarg, o))
			usage(EX_USAGE);
	if (optind != argc)
		usage(EX_USAGE);
	admin_open(&a, o);
	ca = admin_ca(&a);
	l = admin_list(&a, ca);
	for (i = 0; i < l->n; i++) {
		e = &l->ent[i];
		if (e->line != NULL)
			continue;
		siglist_rule_format(e, rule, sizeof(rule));
		printf("%s\n", rule);
	}
	if (fflush(stdout) != 0)
		die(EX_IOERR, "stdout: write failed");
	siglist_free(l);
	X509_free(ca);
	return 0;
}
