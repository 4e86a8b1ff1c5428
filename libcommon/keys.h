/*
 * keys.h — the KEY port protocol between tasks and keysrv (doc/protocol.md,
 * "The KEY port protocol"), and the client calls any C program can use.
 * These calls never touch OpenSSL: certificates travel as PEM bytes.
 */
#ifndef MX_KEYS_H
#define MX_KEYS_H

#include <stddef.h>
#include <stdint.h>
#include "masix.h"

/*
 * Request msgids. Every reply is MX_MSGID_REPLY with an INT status first
 * (0 or a positive MX_ERR_*); a non-zero status is always followed by a
 * STRING reason.
 */
#define KS_NODE_CERT	1	/* -> STRING node, BYTES cert PEM, STRING fingerprint */
#define KS_VERIFY_PEER	2	/* BYTES cert PEM, STRING node ("" any) -> STRING reason; on 0: STRING node, STRING fingerprint */
#define KS_DIRECTORY	3	/* -> (STRING node, STRING fingerprint)... this node first */
/*
 * KS_MAY_REGISTER: STRING "sha256:HEX" ("-": no binary identity), INT uid,
 * STRING name [, STRING unit ("" none), INT cookie, INT generation known
 * (0 none yet; -1: send no patterns)] -> STRING reason, then INT verdict (KS_VERDICT_*), STRING the
 * rule that decided, INT private, INT strict, INT cookie (echoed), INT the
 * list's generation (>= 1), and when it differs from the one known: INT n, then n
 * times STRING pattern, INT private, STRING services that see it ("" any;
 * "a,b/STAR") (every rule's name: what is protected, and what is private).
 * Status 0: allowed or open; MX_ERR_PERM: refused; MX_ERR_UNAVAIL: the list
 * was refused (no verdict can be given; protected names fail closed).
 */
#define KS_MAY_REGISTER	4
#define KS_VERDICT_OPEN		0	/* no rule covers the name */
#define KS_VERDICT_ALLOW	1
#define KS_VERDICT_DENY		2
#define KS_VERDICT_NOLIST	3	/* the list was refused: nothing can be decided */
#define KS_CA_CERT	5	/* -> BYTES ca.crt PEM */
#define KS_CRL		6	/* -> BYTES CRL PEM (status NOENT: no revocation list) */
/*
 * KS_LIST_RULES: INT generation known -> STRING reason ("" when the list
 * is in force), INT the list's generation, INT strict (1 also when the
 * list was refused: every name fails closed), and when the generation
 * differs from the one known: INT n and the n rules as KS_MAY_REGISTER
 * sends them. What namesrv asks when portd tells it the list changed.
 */
#define KS_LIST_RULES	7
/* From portd only (the kernel range): a node linked, BYTES its cert PEM, STRING its name. */
#define KS_PEER_LINKED	0x7fff0020u

#define KS_REASON_MAX	255	/* longest reason keysrv sends */
#define KS_FP_MAX	63	/* "SHA256:" + 43 base64 characters, with room to spare */
#define KS_PEM_MAX	(64u << 10)	/* largest certificate or CRL PEM accepted or sent */

/* One node of the directory. */
struct masix_key_node {
	char name[MX_NODE_MAX + 1];
	char fingerprint[KS_FP_MAX + 1];
};

/*
 * Every call returns 0 or a negative MX_ERR_*; on an error keysrv answered,
 * masix_errdetail(c) holds its reason. MX_ERR_UNAVAIL with the detail
 * "keysrv is not running" when nobody holds the KEY port.
 */

/* This node's name, certificate (PEM, malloc'd, NUL-terminated) and key fingerprint. */
int masix_key_node_cert(struct mx_conn *c, char node[MX_NODE_MAX + 1], char **pem,
    size_t *pemlen, char fp[KS_FP_MAX + 1]);
/*
 * Verify a peer's certificate: chain to the CA, validity, revocation, and
 * the node name (node NULL or "": any node). 0, or -MX_ERR_BADSIG with the
 * reason. On success, node_out and fp (either may be NULL) get the
 * certificate's node name and key fingerprint.
 */
int masix_key_verify_peer(struct mx_conn *c, const void *pem, size_t pemlen,
    const char *node, char node_out[MX_NODE_MAX + 1], char fp[KS_FP_MAX + 1]);
/* The known nodes, this one first; *out malloc'd (free()), *n entries. */
int masix_key_directory(struct mx_conn *c, struct masix_key_node **out, size_t *n);
/*
 * May the binary with hash ("sha256:HEX", "-" none), run by uid in unit
 * ("" none), register name? 0 allowed or open (*verdict says which, rule
 * the rule that decided); -MX_ERR_PERM no (masix_errdetail: why);
 * -MX_ERR_UNAVAIL the list was refused.
 */
int masix_key_may_register(struct mx_conn *c, const char *hash, uint32_t uid, const char *unit,
    const char *name, int *verdict, char rule[KS_REASON_MAX + 1]);
/* The cluster CA certificate, and the revocation list (MX_ERR_NOENT: none), as PEM. */
int masix_key_ca_cert(struct mx_conn *c, char **pem, size_t *pemlen);
int masix_key_crl(struct mx_conn *c, char **pem, size_t *pemlen);
/*
 * keysrv only (the task holding the KEY port; MX_ERR_PERM for anyone
 * else): it loaded its signature list, of generation gen. portd reloads
 * its own copies (revocation list, signature list) and tells namesrv.
 */
int ks_list_loaded(struct mx_conn *c, int64_t gen);

#endif
