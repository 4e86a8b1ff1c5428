/*
 * crypto.h — the OpenSSL 3 helpers behind masix's trust material: the
 * cluster admin key and CA, node keys and certificates, the revocation list,
 * and the admin-signed list of server signatures. Used by sigtool (the
 * admin's tool), keysrv and portd. doc/trust.md describes the formats.
 *
 * Every call returns 0 (or a documented count) or a negative MX_ERR_* from
 * masix.h:
 *   MX_ERR_NOENT   a file to read is missing
 *   MX_ERR_EXISTS  a file to create already exists, or an entry is present
 *   MX_ERR_IO      a read or write failed
 *   MX_ERR_PERM    a key file is too open; a passphrase is wrong or missing
 *   MX_ERR_INVAL   malformed input (PEM, list line, name, hash)
 *   MX_ERR_TOOBIG  a file is larger than the limit given
 *   MX_ERR_BADSIG  a signature, request or certificate check failed
 *   MX_ERR_NOMEM   out of memory, or OpenSSL failed internally
 * When why is not NULL, a failing call writes a one-line reason there
 * (truncated to whysz). Calls that take a path name it in the reason
 * ("/x/ca.crt: not a PEM certificate"); the others give the reason alone,
 * for the caller to prefix. A reason never contains key material or a
 * passphrase. Passphrases and key bytes are wiped with OPENSSL_cleanse()
 * once used; the caller wipes its own passphrase buffer.
 */
#ifndef MX_CRYPTO_H
#define MX_CRYPTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#define CRYPTO_WHY_MAX		256		/* room for any reason written here */
#define CRYPTO_HASH_LEN		32		/* SHA-256 */
#define CRYPTO_HASH_STRLEN	(7 + 64)	/* "sha256:" + lowercase hex */
#define CRYPTO_FP_STRLEN	(7 + 43)	/* "SHA256:" + base64, no padding */
#define CRYPTO_SIG_LEN		64		/* raw Ed25519 signature */
#define CRYPTO_NODE_MAX		63		/* longest node name */
#define CRYPTO_PASS_MAX		1024		/* longest passphrase, with its NUL */
#define CRYPTO_KEYFILE_MAX	(64u << 10)	/* largest key, cert or request file */
#define CRYPTO_LIST_MAX		(16u << 20)	/* largest signature list or CRL */

/* Write fmt into why (if not NULL) and return err; for callers' own checks too. */
int crypto_fail(char *why, size_t whysz, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- files (crypto_file.c) ---- */

/*
 * Read a whole file (or pipe) of at most max bytes into *out (malloc'd, with a
 * NUL after the last byte, which *outlen does not count). Free with free(),
 * or with crypto_file_free() when it held a secret.
 */
int crypto_file_read(const char *path, size_t max, uint8_t **out, size_t *outlen,
    char *why, size_t whysz);
/*
 * The same for a secret: MX_ERR_PERM, "Permissions 0644 for 'path' are too
 * open", when the open file grants anything to group or others.
 */
int crypto_file_read_secret(const char *path, size_t max, uint8_t **out, size_t *outlen,
    char *why, size_t whysz);
void crypto_file_free(uint8_t *p, size_t len);	/* wipe, then free */
/* Create path with mode, refusing to replace anything (O_EXCL, no symlink followed). */
int crypto_file_create(const char *path, mode_t mode, const void *p, size_t n,
    char *why, size_t whysz);
/* Replace path atomically: write a temporary file in the same directory, fsync, rename. */
int crypto_file_replace(const char *path, mode_t mode, const void *p, size_t n,
    char *why, size_t whysz);
/*
 * Read a passphrase from the first line of path into pass[passsz] (newline
 * and a trailing CR dropped). An empty first line is MX_ERR_INVAL.
 */
int crypto_pass_read_file(const char *path, char *pass, size_t passsz,
    char *why, size_t whysz);

/* ---- keys (crypto_key.c); every key is Ed25519 ---- */

int crypto_key_generate(EVP_PKEY **out);
/*
 * Load a PEM private key (PKCS#8, encrypted or not). The file must not grant
 * any permission to group or others: MX_ERR_PERM, "Permissions 0644 for
 * 'path' are too open". An encrypted key needs pass: MX_ERR_PERM with
 * "passphrase required" when pass is NULL, "wrong passphrase" when it does
 * not decrypt. pass is ignored for an unencrypted key.
 */
int crypto_key_load(const char *path, const char *pass, EVP_PKEY **out,
    char *why, size_t whysz);
/*
 * Write key as PKCS#8 PEM into a new file, mode 0600, O_EXCL (MX_ERR_EXISTS
 * if path exists); encrypted with AES-256-CBC (PBKDF2) when pass is not NULL.
 */
int crypto_key_save(const char *path, EVP_PKEY *key, const char *pass,
    char *why, size_t whysz);
/* Public key PEM (SubjectPublicKeyInfo): read, or encode into *out (malloc'd). */
int crypto_pubkey_load(const char *path, EVP_PKEY **out, char *why, size_t whysz);
int crypto_pubkey_pem(EVP_PKEY *key, char **out, size_t *outlen);
/* "SHA256:<base64, no padding>" of the DER SubjectPublicKeyInfo of key. */
int crypto_fingerprint(EVP_PKEY *key, char out[CRYPTO_FP_STRLEN + 1]);
/* Raw Ed25519 signature over n bytes; verify gives MX_ERR_BADSIG on mismatch. */
int crypto_sign(EVP_PKEY *key, const void *p, size_t n, uint8_t sig[CRYPTO_SIG_LEN]);
int crypto_verify(EVP_PKEY *pub, const void *p, size_t n, const uint8_t *sig, size_t siglen);

/* ---- hashes of binaries (crypto_hash.c; text forms in crypto_siglist.c) ---- */

/* SHA-256 of everything readable from fd (an executable opened by the caller). */
int crypto_hash_fd(int fd, uint8_t out[CRYPTO_HASH_LEN], char *why, size_t whysz);
/* SHA-256 of a file, as "sha256:<hex>". */
int crypto_hash_file(const char *path, char out[CRYPTO_HASH_STRLEN + 1],
    char *why, size_t whysz);
/* "sha256:<64 hex>" (either case) <-> bytes; parse gives MX_ERR_INVAL. */
int crypto_hash_parse(const char *s, uint8_t out[CRYPTO_HASH_LEN]);
void crypto_hash_format(const uint8_t h[CRYPTO_HASH_LEN], char out[CRYPTO_HASH_STRLEN + 1]);

/* ---- certificates (crypto_x509.c, crypto_verify.c, crypto_crl.c) ---- */

/* 1 if name is a node name: 1-63 chars of [A-Za-z0-9.-], not starting with '-' or '.'. */
int crypto_node_name_valid(const char *name);
/* PEM in: the first object of its kind in path; MX_ERR_INVAL if there is none. */
int crypto_cert_load(const char *path, X509 **out, char *why, size_t whysz);
int crypto_csr_load(const char *path, X509_REQ **out, char *why, size_t whysz);
int crypto_crl_load(const char *path, X509_CRL **out, char *why, size_t whysz);
/* PEM out, into *out (malloc'd, NUL-terminated, *outlen without the NUL). */
int crypto_cert_pem(X509 *cert, char **out, size_t *outlen);
int crypto_csr_pem(X509_REQ *req, char **out, size_t *outlen);
int crypto_crl_pem(X509_CRL *crl, char **out, size_t *outlen);

/* A certificate request for key, subject CN=node, self-signed. */
int crypto_csr_make(EVP_PKEY *key, const char *node, X509_REQ **out,
    char *why, size_t whysz);
/*
 * Check a node's request: its self-signature verifies, its key is Ed25519,
 * its CN is one valid node name, copied into node[nodesz]. MX_ERR_BADSIG or
 * MX_ERR_INVAL with the reason otherwise.
 */
int crypto_csr_check(X509_REQ *req, char *node, size_t nodesz, char *why, size_t whysz);
/* Self-signed CA, CN "masix cluster CA", CA:TRUE, keyCertSign+cRLSign, days long. */
int crypto_ca_make(EVP_PKEY *key, int days, X509 **out, char *why, size_t whysz);
/*
 * Sign a checked request into a node certificate valid for days: CN and
 * subjectAltName DNS = node name, CA:FALSE, digitalSignature,
 * serverAuth+clientAuth, random positive 128-bit serial.
 */
int crypto_cert_issue(X509 *ca, EVP_PKEY *cakey, X509_REQ *req, int days,
    X509 **out, char *why, size_t whysz);
/* The node name (CN) of a certificate; MX_ERR_INVAL if it is not a valid one. */
int crypto_cert_node(X509 *cert, char *node, size_t nodesz);
/*
 * Verify a node certificate: signed by ca, within its validity, not a CA,
 * usable for TLS client and server, not revoked by crl (which must itself be
 * signed by ca; crl NULL skips revocation), and, when node is not NULL,
 * issued to that node name. MX_ERR_BADSIG with the reason otherwise
 * ("certificate has expired", "certificate revoked", ...).
 */
int crypto_cert_verify(X509 *cert, X509 *ca, X509_CRL *crl, const char *node,
    char *why, size_t whysz);
/* The CRL is issued by ca and its signature verifies; MX_ERR_BADSIG otherwise. */
int crypto_crl_check(X509_CRL *crl, X509 *ca, char *why, size_t whysz);
/*
 * A new CRL signed by cakey, valid for days: every entry of old (NULL for an
 * empty list) plus serial when not NULL, with the next CRL number.
 * MX_ERR_EXISTS if serial is already revoked by old.
 */
int crypto_crl_make(X509 *ca, EVP_PKEY *cakey, X509_CRL *old,
    const ASN1_INTEGER *serial, int days, X509_CRL **out, char *why, size_t whysz);
/* 1 if crl lists serial. */
int crypto_crl_has(X509_CRL *crl, const ASN1_INTEGER *serial);

/* ---- the signature list (crypto_siglist.c: text only; crypto_siglist_io.c) ---- */

/*
 * The list (doc/trust.md), version 2: a first line "version 2", then one
 * rule per line:
 *
 *	NAME HASH [UID|*] [unit=UNIT] [private[=SERVICE,...]]
 *
 * NAME is a masix name or a pattern, "prefix/" then "*", covering any name
 * under prefix/; HASH is "sha256:HEX", or "*" for any binary; no UID (or
 * "*") means any uid; unit= asks for that systemd unit (the last component
 * of the process's cgroup); private hides the names from whoever holds no
 * service allowed by the rule: any verified service for a bare "private",
 * else one that a SERVICE (a name or a pattern) covers. A list without a version line is version 1
 * (only NAME HASH [UID]) and still loads. Blank and '#' lines are kept
 * verbatim in line so a rewrite preserves them.
 */
#define SIGLIST_VERSION		2
#define SIGLIST_UNIT_MAX	255
#define SIGLIST_LINE_MAX	1024		/* longest line, newline excluded */
struct siglist_entry {
	char *line;				/* comment or blank line; NULL for a rule */
	char name[256];				/* rule: name or pattern */
	uint8_t hash[CRYPTO_HASH_LEN];
	int anyhash;				/* 1: any binary ("*") */
	int anyuid;				/* 1: any uid may run it */
	uid_t uid;
	char unit[SIGLIST_UNIT_MAX + 1];	/* "" any unit */
	int private;				/* names hidden from non-services */
	char audience[SIGLIST_LINE_MAX + 1];	/* private=: services that see them, "," separated ("" any) */
};

struct siglist {
	struct siglist_entry *ent;
	size_t n, cap;
	int version;				/* as read: 1 (no version line) or 2 */
	int seen_rule;				/* parsing: a rule came (no version line after it) */
};


/* Who asks to take a name: the identity portd pinned for the task. */
struct siglist_who {
	int has_hash;				/* 0: no binary identity (only "*" rules match) */
	uint8_t hash[CRYPTO_HASH_LEN];
	uid_t uid;
	const char *unit;			/* "" none */
};

/* What the list says of a name for someone. */
enum siglist_verdict_kind { SIGLIST_OPEN, SIGLIST_ALLOW, SIGLIST_DENY };
struct siglist_verdict {
	enum siglist_verdict_kind kind;
	int private;				/* a covering rule marks the name private */
	char rule[SIGLIST_LINE_MAX + 1];	/* the rule that decided ("" open, "strict") */
	char why[SIGLIST_LINE_MAX + 256];	/* DENY: "uid 1001 running sha256:... is not listed for svc/STAR" */
};
/* Decide for name; strict: a name no rule covers is refused, not open. */
void siglist_decide(const struct siglist *l, const struct siglist_who *w, const char *name, int strict,
    struct siglist_verdict *v);
/* A rule as its list line, without the newline. */
void siglist_rule_format(const struct siglist_entry *e, char *out, size_t outsz);
/*
 * 1 if a task with the verified service (a name, "" none) may see the names
 * of a private rule whose audience is this ("" any verified service, else
 * "," separated names or patterns).
 */
int siglist_audience_admits(const char *audience, const char *service);
/* 1 if audience is "," separated valid names or patterns, none empty, and fits a rule. */
int siglist_audience_valid(const char *audience);
/* 1 if unit is a systemd unit name ending in .service or .scope. */
int siglist_unit_valid(const char *unit);

/* 1 if name is a masix name, or a valid name then "/" "*"; 255 chars at most. */
int siglist_name_valid(const char *name);
/* Parse the text (need not be NUL-terminated); why gets "line N: reason". */
int siglist_parse(const char *text, size_t len, struct siglist **out,
    char *why, size_t whysz);
struct siglist *siglist_new(void);
void siglist_free(struct siglist *l);
/* The text form, one line per entry, each ending in '\n'; *out malloc'd and NUL-terminated. */
int siglist_format(const struct siglist *l, char **out, size_t *outlen);
/* Append a copy of rule; MX_ERR_EXISTS if the same rule is there, MX_ERR_INVAL for a bad one. */
int siglist_add(struct siglist *l, const struct siglist_entry *rule);
/* Drop the rules for exactly name (and hash, if not NULL): how many, or MX_ERR_NOENT. */
int siglist_remove(struct siglist *l, const char *name, const uint8_t *hash);
/* Does rule (a name, or a prefix then "/" "*") cover name? */
int siglist_name_matches(const char *rule, const char *name);
/* 1 if the binary with hash, run by uid in no unit, may register name; 0 otherwise. */
int siglist_allows(const struct siglist *l, const uint8_t hash[CRYPTO_HASH_LEN],
    uid_t uid, const char *name);
/*
 * Read listpath and sigpath (a raw Ed25519 signature over the exact bytes of
 * the list), verify with pub, then parse. Nothing is parsed before the
 * signature verifies.
 */
int siglist_load(const char *listpath, const char *sigpath, EVP_PKEY *pub,
    struct siglist **out, char *why, size_t whysz);
/* Format l, sign it with key, replace sigpath then listpath. */
int siglist_save(const char *listpath, const char *sigpath, const struct siglist *l,
    EVP_PKEY *key, char *why, size_t whysz);

#endif
