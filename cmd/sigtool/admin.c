/* admin.c — the admin directory, its files and passphrases. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sysexits.h>
#include <unistd.h>
#include <bsd/readpassphrase.h>
#include <openssl/crypto.h>
#include "masix.h"
#include "log.h"
#include "sigtool.h"

int
opt_common(int ch, const char *arg, struct opts *o)
{
	switch (ch) {
	case 'd':
		o->dir = arg;
		return 1;
	case 'p':
		o->passfile = arg;
		return 1;
	case 'P':
		o->passtty = 1;
		return 1;
	case 'h':
		usage(0);
	default:
		return 0;
	}
}

void
opt_check(const struct opts *o)
{
	if (o->passfile != NULL && o->passtty)
		die(EX_USAGE, "-p and -P: choose one");
}

void
die_err(int err, const char *why)
{
	die(mx_file_exit_code(err), "%s", why);
}

static void
join(char *dst, const char *dir, const char *file)
{
	if ((size_t)snprintf(dst, PATH_MAX, "%s/%s", dir, file) >= PATH_MAX)
		die(EX_USAGE, "%s: path too long", dir);
}

void
admin_open(struct admin *a, const struct opts *o)
{
	const char *dir = o->dir;

	if (dir == NULL && (dir = getenv("MASIX_ADMIN_DIR")) == NULL)
		dir = DEFAULT_ADMIN_DIR;
	if (*dir == '\0')
		die(EX_USAGE, "admin directory: empty path");
	if (strlen(dir) >= sizeof(a->dir))
		die(EX_USAGE, "%s: path too long", dir);
	strcpy(a->dir, dir);
	join(a->key, dir, "admin.key");
	join(a->ca, dir, "ca.crt");
	join(a->pub, dir, "ca.pub");
	join(a->list, dir, "signatures.list");
	join(a->sig, dir, "signatures.list.sig");
	join(a->crl, dir, "revoked.crl");
}

/* A missing admin directory or CA: say how to make one. */
static void __attribute__((noreturn))
admin_missing(const struct admin *a)
{
	if (access(a->dir, F_OK) == -1 && errno == ENOENT)
		die(EX_NOINPUT, "%s: no such admin directory (make one with: sigtool -d %s init)", a->dir, a->dir);
	die(EX_NOINPUT, "%s: not an admin directory, no ca.crt in it (make one with: sigtool -d %s init)",
	    a->dir, a->dir);
}

/* One writer at a time: two concurrent edits would lose one. Held until exit. */
void
admin_lock(const struct admin *a)
{
	int fd;

	if ((fd = open(a->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			admin_missing(a);
		die(EX_IOERR, "%s: %s", a->dir, strerror(errno));
	}
	if (flock(fd, LOCK_EX) == -1)
		die(EX_IOERR, "%s: lock: %s", a->dir, strerror(errno));
}

static void __attribute__((noreturn))
tty_fail(void)
{
	/* readpassphrase() says ENOTTY when there is no controlling terminal. */
	if (errno == ENOTTY || errno == ENXIO)
		die(EX_NOPERM, "passphrase: no terminal to read it from (use -p PASSFILE)");
	die(EX_NOPERM, "passphrase: cannot read from the terminal: %s", strerror(errno));
}

void
pass_get(const struct opts *o, int confirm, char *pass, size_t passsz)
{
	char why[CRYPTO_WHY_MAX], again[CRYPTO_PASS_MAX];
	int r, same;

	if (o->passfile != NULL) {
		if ((r = crypto_pass_read_file(o->passfile, pass, passsz, why, sizeof(why))) != 0)
			die_err(r, why);
		return;
	}
	if (readpassphrase(confirm ? "New passphrase for the admin key: " :
	    "Passphrase for the admin key: ", pass, passsz, RPP_REQUIRE_TTY) == NULL)
		tty_fail();
	if (*pass == '\0')
		die(EX_DATAERR, "passphrase: empty (leave out -P for an unencrypted key)");
	if (!confirm)
		return;
	if (readpassphrase("Repeat the passphrase: ", again, sizeof(again),
	    RPP_REQUIRE_TTY) == NULL) {
		OPENSSL_cleanse(pass, passsz);
		tty_fail();
	}
	same = strcmp(pass, again) == 0;
	OPENSSL_cleanse(again, sizeof(again));
	if (!same) {
		OPENSSL_cleanse(pass, passsz);
		die(EX_DATAERR, "passphrase: the two entries differ");
	}
}

X509 *
admin_ca(const struct admin *a)
{
	char why[CRYPTO_WHY_MAX];
	X509 *ca;
	int r;

	if ((r = crypto_cert_load(a->ca, &ca, why, sizeof(why))) != 0) {
		if (r == -MX_ERR_NOENT)
			admin_missing(a);
		die_err(r, why);
	}
	return ca;
}

/* The admin key, checked to be the CA's: signing with another key helps no one. */
EVP_PKEY *
admin_key(const struct admin *a, const struct opts *o, X509 *ca)
{
	char why[CRYPTO_WHY_MAX], pass[CRYPTO_PASS_MAX];
	EVP_PKEY *key;
	int r;

	if (o->passfile != NULL || o->passtty) {
		pass_get(o, 0, pass, sizeof(pass));
		r = crypto_key_load(a->key, pass, &key, why, sizeof(why));
		OPENSSL_cleanse(pass, sizeof(pass));
	} else {
		r = crypto_key_load(a->key, NULL, &key, why, sizeof(why));
	}
	if (r != 0)
		die_err(r, why);
	if (EVP_PKEY_eq(key, X509_get0_pubkey(ca)) != 1)
		die(EX_DATAERR, "%s: not the key of %s", a->key, a->ca);
	return key;
}

X509_CRL *
admin_crl(const struct admin *a, X509 *ca)
{
	char why[CRYPTO_WHY_MAX];
	X509_CRL *crl;
	int r;

	if ((r = crypto_crl_load(a->crl, &crl, why, sizeof(why))) != 0)
		die_err(r, why);
	if ((r = crypto_crl_check(crl, ca, why, sizeof(why))) != 0)
		die(mx_file_exit_code(r), "%s: %s", a->crl, why);
	return crl;
}

struct siglist *
admin_list(const struct admin *a, X509 *ca)
{
	char why[CRYPTO_WHY_MAX];
	struct siglist *l;
	int r;

	if ((r = siglist_load(a->list, a->sig, X509_get0_pubkey(ca), &l, why, sizeof(why))) != 0)
		die_err(r, why);
	return l;
}

int
parse_days(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 1 || v > MAX_DAYS)
		die(EX_USAGE, "-days: '%s': not a number of days from 1 to %d", s, MAX_DAYS);
	return (int)v;
}

/* A "sha256:HEX" argument, or a file to hash. */
int
hash_arg(const char *arg, uint8_t hash[CRYPTO_HASH_LEN])
{
	char why[CRYPTO_WHY_MAX], s[CRYPTO_HASH_STRLEN + 1];
	int r;

	if (strncmp(arg, "sha256:", 7) == 0) {
		if (crypto_hash_parse(arg, hash) != 0)
			die(EX_DATAERR, "'%s': not sha256: and 64 hex digits", arg);
		return 0;
	}
	if ((r = crypto_hash_file(arg, s, why, sizeof(why))) != 0)
		die_err(r, why);
	return crypto_hash_parse(s, hash);
}
