/* sigtool.h — what sigtool's commands share: the admin directory, passphrases, exit codes. */
#ifndef SIGTOOL_H
#define SIGTOOL_H

#include <limits.h>
#include "cli.h"
#include "crypto.h"

#define DEFAULT_ADMIN_DIR	"/etc/masix/admin"
#define CA_DAYS			3650	/* the CA and its CRL: ten years */
#define NODE_DAYS		365
#define MAX_DAYS		36500

/* Options every command takes. */
struct opts {
	const char *dir;	/* -d, else $MASIX_ADMIN_DIR, else DEFAULT_ADMIN_DIR */
	const char *passfile;	/* -p */
	int passtty;		/* -P */
};

/* The files of an admin directory. */
struct admin {
	char dir[PATH_MAX];
	char key[PATH_MAX];	/* admin.key */
	char ca[PATH_MAX];	/* ca.crt */
	char pub[PATH_MAX];	/* ca.pub */
	char list[PATH_MAX];	/* signatures.list */
	char sig[PATH_MAX];	/* signatures.list.sig */
	char crl[PATH_MAX];	/* revoked.crl */
};

/* sigtool.c */
void usage(int code) __attribute__((noreturn));

/* admin.c */
int opt_common(int ch, const char *arg, struct opts *o);
void opt_check(const struct opts *o);
void die_err(int err, const char *why) __attribute__((noreturn));
void admin_open(struct admin *a, const struct opts *o);
void admin_lock(const struct admin *a);
void pass_get(const struct opts *o, int confirm, char *pass, size_t passsz);
EVP_PKEY *admin_key(const struct admin *a, const struct opts *o, X509 *ca);
X509 *admin_ca(const struct admin *a);
X509_CRL *admin_crl(const struct admin *a, X509 *ca);
struct siglist *admin_list(const struct admin *a, X509 *ca);
int parse_days(const char *s);
int hash_arg(const char *arg, uint8_t hash[CRYPTO_HASH_LEN]);

/* one file per command */
int cmd_init(int argc, char **argv, struct opts *o);
int cmd_certify(int argc, char **argv, struct opts *o);
int cmd_hash(int argc, char **argv, struct opts *o);
int cmd_add(int argc, char **argv, struct opts *o);
int cmd_remove(int argc, char **argv, struct opts *o);
int cmd_list(int argc, char **argv, struct opts *o);
int cmd_verify(int argc, char **argv, struct opts *o);
int cmd_revoke(int argc, char **argv, struct opts *o);
int cmd_fingerprint(int argc, char **argv, struct opts *o);

#endif
