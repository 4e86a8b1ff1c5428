/* query.c — keysrv -q: ask the running keysrv through portd, print the answer on one line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include "cli.h"
#include "conf.h"
#include "keysrv.h"
#include "log.h"

/* One line for an error keysrv (or the library) gave, and its exit code. */
static void __attribute__((noreturn))
query_fail(struct mx_conn *c, const char *what, int r)
{
	const char *detail = masix_errdetail(c);

	if (detail[0] == '\0')
		detail = mx_strerror(r);
	if (strcmp(detail, "keysrv is not running") == 0 || what == NULL)
		die(mx_exit_code(r), "%s", detail);
	die(mx_exit_code(r), "%s: %s", what, detail);
}

static void
put_out(const void *p, size_t n)
{
	if (fwrite(p, 1, n, stdout) != n)
		die(EX_IOERR, "stdout: write failed");
}

static int
q_node_cert(struct mx_conn *c)
{
	char node[MX_NODE_MAX + 1], fp[KS_FP_MAX + 1];
	size_t len;
	char *pem;
	int r;

	if ((r = masix_key_node_cert(c, node, &pem, &len, fp)) < 0)
		query_fail(c, NULL, r);
	printf("%s %s\n", node, fp);
	put_out(pem, len);
	free(pem);
	return 0;
}

static int
q_verify(struct mx_conn *c, const char *file, const char *node)
{
	char why[CRYPTO_WHY_MAX];
	uint8_t *pem;
	size_t len;
	int r;

	if ((r = crypto_file_read(file, KS_PEM_MAX, &pem, &len, why, sizeof(why))) != 0)
		die(mx_file_exit_code(r), "%s", why);
	r = masix_key_verify_peer(c, pem, len, node, NULL, NULL);
	free(pem);
	if (r < 0)
		query_fail(c, file, r);
	printf("%s: OK\n", file);
	return 0;
}

static int
q_directory(struct mx_conn *c)
{
	struct masix_key_node *v;
	size_t i, n;
	int r;

	if ((r = masix_key_directory(c, &v, &n)) < 0)
		query_fail(c, NULL, r);
	for (i = 0; i < n; i++)
		printf("%s %s\n", v[i].name, v[i].fingerprint);
	free(v);
	return 0;
}

/* The verdict for a full identity: the hash ("-": none), uid and unit ("" or absent: none). */
static int
q_may_register(struct mx_conn *c, const char *hash, const char *uidstr, const char *name, const char *unit)
{
	char rule[KS_REASON_MAX + 1];
	uint8_t h[CRYPTO_HASH_LEN];
	unsigned long uid;
	int r, verdict = 0;

	if (strcmp(hash, "-") != 0 && crypto_hash_parse(hash, h) != 0)
		die(EX_DATAERR, "'%s': not a sha256:HEX hash (or - for none)", hash);
	if (conf_uint(uidstr, 4294967294UL, &uid) < 0)
		die(EX_DATAERR, "'%s': not a uid", uidstr);
	if (!mx_name_valid(name))
		die(EX_DATAERR, "'%s': not a valid name", name);
	if (unit[0] != '\0' && !siglist_unit_valid(unit))
		die(EX_DATAERR, "'%s': not a systemd unit (NAME.service or NAME.scope)", unit);
	if ((r = masix_key_may_register(c, hash, (uint32_t)uid, unit, name, &verdict, rule)) < 0)
		query_fail(c, name, r);
	if (verdict == KS_VERDICT_ALLOW)
		printf("allowed by rule: %s\n", rule);
	else	/* status 0 and not allowed: no rule covers the name */
		printf("open: no rule covers '%s'\n", name);
	return 0;
}

static int
q_pem(struct mx_conn *c, int crl)
{
	size_t len;
	char *pem;
	int r;

	r = crl ? masix_key_crl(c, &pem, &len) : masix_key_ca_cert(c, &pem, &len);
	if (r < 0)
		query_fail(c, NULL, r);
	put_out(pem, len);
	free(pem);
	return 0;
}

int
query_main(const char *rundir, int argc, char **argv)
{
	struct mx_conn *c;
	const char *q;
	int r, want;

	if (argc < 1)
		die(EX_USAGE, "-q: which query? (keysrv -h lists them)");
	q = argv[0];
	if (strcmp(q, "node-cert") == 0 || strcmp(q, "directory") == 0 ||
	    strcmp(q, "ca-cert") == 0 || strcmp(q, "crl") == 0)
		want = 1;
	else if (strcmp(q, "verify") == 0)
		want = 3;
	else if (strcmp(q, "may-register") == 0)
		want = argc == 5 ? 5 : 4;
	else
		die(EX_USAGE, "%s: unknown query (keysrv -h lists them)", q);
	if (argc != want) {
		fprintf(stderr, "usage: keysrv -q [-R DIR] node-cert | verify CERTFILE NODE | directory |\n"
		    "                 may-register HASH UID NAME [UNIT] | ca-cert | crl\n");
		exit(EX_USAGE);
	}
	/* Only now: a bad query is a usage error even without a node. */
	rundir = cli_rundir(rundir);
	if ((r = masix_connect(rundir, &c)) < 0)
		die(mx_exit_code(r), "cannot reach portd in %s: %s", rundir,
		    r == -MX_ERR_UNAVAIL ? "portd is not running" : mx_strerror(r));
	if (strcmp(q, "node-cert") == 0)
		r = q_node_cert(c);
	else if (strcmp(q, "directory") == 0)
		r = q_directory(c);
	else if (strcmp(q, "ca-cert") == 0)
		r = q_pem(c, 0);
	else if (strcmp(q, "crl") == 0)
		r = q_pem(c, 1);
	else if (strcmp(q, "verify") == 0)
		r = q_verify(c, argv[1], argv[2]);
	else
		r = q_may_register(c, argv[1], argv[2], argv[3], argc == 5 ? argv[4] : "");
	masix_close(c);
	if (fflush(stdout) != 0)
		die(EX_IOERR, "stdout: write failed");
	return r;
}
