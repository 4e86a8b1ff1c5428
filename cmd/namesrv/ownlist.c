/*
 * ownlist.c — namesrv's own copy of the signed list, read once at start.
 *
 * namesrv learns which names are protected (and which private) from
 * keysrv's answers; but a namesrv that starts while keysrv is down (or
 * before it: masix-node starts namesrv first) would know nothing and take
 * every name for open. So it reads the list itself from keysrv's state
 * directory, verified with the CA key there exactly as keysrv verifies it,
 * and knows from its first request which names fail closed. keysrv's
 * first answer replaces this copy (keysrv is the authority: it reloads on
 * SIGHUP, namesrv does not).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/x509v3.h>
#include "crypto.h"
#include "log.h"
#include "namesrv.h"

/* keysrv checks the same when it creates it: a directory others may write proves nothing. */
static int
state_trusted(const char *dir, char *why, size_t whysz)
{
	struct stat st;

	if (stat(dir, &st) == -1)
		return crypto_fail(why, whysz, errno == ENOENT ? -MX_ERR_NOENT : -MX_ERR_IO, "%s: %s", dir,
		    strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return crypto_fail(why, whysz, -MX_ERR_INVAL, "%s: not a directory", dir);
	if (st.st_uid != geteuid() && st.st_uid != 0)
		return crypto_fail(why, whysz, -MX_ERR_PERM, "%s: owned by uid %u, not by uid %u or root", dir,
		    (unsigned)st.st_uid, (unsigned)geteuid());
	if (st.st_mode & 022)
		return crypto_fail(why, whysz, -MX_ERR_PERM, "%s: directory is group or world writable (mode %04o)",
		    dir, (unsigned)(st.st_mode & 07777));
	return 0;
}

static int
load(const char *dir, struct siglist **out, char *why, size_t whysz)
{
	char ca_path[PATH_MAX], list_path[PATH_MAX], sig_path[PATH_MAX];
	X509 *ca;
	int r;

	*out = NULL;
	if ((r = state_trusted(dir, why, whysz)) < 0)
		return r;
	if ((size_t)snprintf(ca_path, sizeof(ca_path), "%s/ca.crt", dir) >= sizeof(ca_path) ||
	    (size_t)snprintf(list_path, sizeof(list_path), "%s/signatures.list", dir) >= sizeof(list_path) ||
	    (size_t)snprintf(sig_path, sizeof(sig_path), "%s/signatures.list.sig", dir) >= sizeof(sig_path))
		return crypto_fail(why, whysz, -MX_ERR_INVAL, "%s: path too long", dir);
	if ((r = crypto_cert_load(ca_path, &ca, why, whysz)) < 0)
		return r;
	if (X509_check_ca(ca) == 0)
		r = crypto_fail(why, whysz, -MX_ERR_INVAL, "%s: not a CA certificate", ca_path);
	else
		r = siglist_load(list_path, sig_path, X509_get0_pubkey(ca), out, why, whysz);
	X509_free(ca);
	return r;
}

void
ownlist_load(const char *dir, int strict)
{
	char why[CRYPTO_WHY_MAX];
	struct siglist *l;
	size_t i, rules = 0;
	int r;

	if ((r = load(dir, &l, why, sizeof(why))) == -MX_ERR_NOENT) {
		/* No admin yet (no CA, no list): as keysrv, nothing is protected. */
		authz_known_reset(AUTHZ_GEN_OWN, strict, 0);
		log_info("no signature list (%s): %s", why, strict ? "strict: every name fails closed" :
		    "every name is open");
		return;
	}
	if (r < 0) {
		/* Which names are protected cannot be told: all are, until keysrv answers. */
		authz_known_reset(AUTHZ_GEN_OWN, 1, 0);
		log_warnx("%s: refused: every registration fails closed until keysrv answers", why);
		return;
	}
	for (i = 0; i < l->n; i++)
		rules += l->ent[i].line == NULL;
	authz_known_reset(AUTHZ_GEN_OWN, strict, rules);
	for (i = 0; i < l->n; i++)
		if (l->ent[i].line == NULL)
			authz_known_add(l->ent[i].name, l->ent[i].private, l->ent[i].audience);
	log_info("%s/signatures.list: signature verified, %zu rule%s", dir, rules, rules == 1 ? "" : "s");
	siglist_free(l);
}
