/* init.c — sigtool init: the admin key, the CA, an empty signed list and an empty CRL. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include "masix.h"
#include "log.h"
#include "sigtool.h"

static const char list_header[] =
    "# masix signature list: NAME sha256:HEX|* [UID|*] [unit=UNIT] [private]; see sigtool(1). Edit with sigtool add/remove.";

/* Files created so far, removed again if a later step fails. */
static const char *made[6];
static size_t nmade;

static void
undo(void)
{
	while (nmade > 0)
		unlink(made[--nmade]);
}

static void
check(int r, const char *why)
{
	if (r != 0) {
		undo();
		die_err(r, why);
	}
}

static void
create_pem(const char *path, char *pem, size_t len, int r)
{
	char why[CRYPTO_WHY_MAX];

	if (r != 0)
		check(r, "out of memory");
	r = crypto_file_create(path, 0644, pem, len, why, sizeof(why));
	free(pem);
	check(r, why);
	made[nmade++] = path;
}

/* The admin directory's missing parents, 0755 less the umask, like mkdir -p. */
static void
make_parents(const char *dir)
{
	char path[PATH_MAX], *s;

	snprintf(path, sizeof(path), "%s", dir);	/* admin_open() checked the length */
	for (s = path + 1; (s = strchr(s, '/')) != NULL; s++) {
		if (s[strspn(s, "/")] == '\0')
			break;	/* trailing slashes: what is left is the directory itself */
		*s = '\0';
		if (mkdir(path, 0755) == -1 && errno != EEXIST)
			die(errno == EACCES ? EX_NOPERM : EX_CANTCREAT, "%s: %s", path, strerror(errno));
		*s = '/';
	}
}

int
cmd_init(int argc, char **argv, struct opts *o)
{
	static struct admin a;	/* static: made[] points into it until exit */
	char why[CRYPTO_WHY_MAX], pass[CRYPTO_PASS_MAX];
	const char *files[6];
	struct siglist *l;
	struct stat st;
	EVP_PKEY *key;
	X509_CRL *crl;
	X509 *ca;
	char *pem;
	size_t i, len;
	int ch, r;

	while ((ch = cli_getopt(argc, argv, "d:hp:P", NULL)) != -1)
		if (!opt_common(ch, optarg, o))
			usage(EX_USAGE);
	if (optind != argc)
		usage(EX_USAGE);
	opt_check(o);
	admin_open(&a, o);

	make_parents(a.dir);
	if (mkdir(a.dir, 0700) == -1 && errno != EEXIST)
		die(EX_CANTCREAT, "%s: %s", a.dir, strerror(errno));
	admin_lock(&a);
	files[0] = a.key, files[1] = a.ca, files[2] = a.pub;
	files[3] = a.list, files[4] = a.sig, files[5] = a.crl;
	/* Check them all before creating any: a half-made directory helps no one. */
	for (i = 0; i < 6; i++)
		if (lstat(files[i], &st) == 0)
			die(EX_CANTCREAT, "%s: already exists, refusing to overwrite", files[i]);

	if (o->passfile != NULL || o->passtty)
		pass_get(o, 1, pass, sizeof(pass));
	if (crypto_key_generate(&key) != 0)
		die(EX_OSERR, "cannot generate an Ed25519 key");
	r = crypto_key_save(a.key, key, o->passfile || o->passtty ? pass : NULL, why, sizeof(why));
	OPENSSL_cleanse(pass, sizeof(pass));
	check(r, why);
	made[nmade++] = a.key;

	check(crypto_ca_make(key, CA_DAYS, &ca, why, sizeof(why)), why);
	r = crypto_cert_pem(ca, &pem, &len);
	create_pem(a.ca, pem, len, r);
	r = crypto_pubkey_pem(key, &pem, &len);
	create_pem(a.pub, pem, len, r);

	check(siglist_parse(list_header, strlen(list_header), &l, why, sizeof(why)), why);
	made[nmade++] = a.sig;	/* siglist_save() writes the signature first */
	made[nmade++] = a.list;
	check(siglist_save(a.list, a.sig, l, key, why, sizeof(why)), why);
	siglist_free(l);

	check(crypto_crl_make(ca, key, NULL, NULL, CA_DAYS, &crl, why, sizeof(why)), why);
	r = crypto_crl_pem(crl, &pem, &len);
	create_pem(a.crl, pem, len, r);

	X509_CRL_free(crl);
	X509_free(ca);
	EVP_PKEY_free(key);
	return 0;
}
