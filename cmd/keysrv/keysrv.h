/* keysrv.h — the key service: a task of portd holding the KEY port. */
#ifndef KEYSRV_H
#define KEYSRV_H

#include <limits.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "crypto.h"
#include "keys.h"
#include "masix.h"

#define KS_DEFAULT_STATE	"/var/lib/masix"
#define KS_PATH_MAX		(PATH_MAX - 32)	/* state directory; file names are appended */

/* What this node holds; rebuilt from the state directory at start and on SIGHUP. */
struct identity {
	char node[CRYPTO_NODE_MAX + 1];
	char state[KS_PATH_MAX];
	EVP_PKEY *pub;				/* public half of node.key; the private half is not kept */
	char fp[CRYPTO_FP_STRLEN + 1];		/* its fingerprint */
	X509 *cert;				/* node.crt when it checks out, else NULL */
	char *cert_pem;
	size_t cert_pem_len;
	char cert_why[CRYPTO_WHY_MAX];		/* why there is no valid certificate */
	X509 *ca;				/* ca.crt, or NULL */
	char *ca_pem;
	size_t ca_pem_len;
	char ca_why[CRYPTO_WHY_MAX];
	X509_CRL *crl;				/* revoked.crl, verified with ca; NULL when none */
	char *crl_pem;
	size_t crl_pem_len;
	int crl_bad;				/* a CRL is there but none verifies: refuse to verify peers */
	char crl_why[CRYPTO_WHY_MAX];
	struct siglist *list;			/* the signature list in force, or NULL */
	char list_why[CRYPTO_WHY_MAX];
	int list_missing;			/* no list at all (not a refused one): every name is open */
	int64_t list_gen;			/* changes with every load: namesrv refreshes its patterns */
};

extern struct identity id;
extern int conf_strict;			/* strict = yes: a name no rule covers is refused */

/* identity.c */
/* Create dir (0700) when missing, refuse one that is not ours or is group/world writable. */
int state_prepare(const char *dir, char *why, size_t whysz);
/* -i: node.key and node.csr for node in state, made when missing; 0 or a negative MX_ERR_*. */
int identity_init(const char *state, const char *node, char *why, size_t whysz);
/* Load (initial: generate the key when missing; fatal errors exit) or reload on SIGHUP. */
void identity_load(const char *state, const char *node, int initial);
void identity_free(void);
/* Parse one PEM certificate from memory. */
int cert_from_pem(const void *p, size_t n, X509 **out);

/* serve.c */
void serve_init(struct mx_conn *c);
void serve_handle(struct mx_msg *req);
void serve_list_loaded(void);	/* portd reloads its copies and tells namesrv */

/* directory.c */
#define DIRECTORY_MAX 1024	/* verified peers remembered; the oldest goes first */
void directory_add(const char *node, const char *fp, X509 *cert);
/* Re-verify every peer against the CA and CRL in force; drop those that fail. */
void directory_recheck(void);
/* Call fn for each peer, most recently verified last. */
int directory_each(int (*fn)(const char *node, const char *fp, void *arg), void *arg);
void directory_free(void);

/* query.c */
/* rundir NULL: none given and no default (the query dies saying how to set one). */
int query_main(const char *rundir, int argc, char **argv);

#endif
