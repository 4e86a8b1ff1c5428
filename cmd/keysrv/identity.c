/*
 * identity.c — the node's identity from the state directory: node key (made
 * on first start), certificate request, certificate, CA, revocation list and
 * the signature list; reloaded on SIGHUP, where a file that cannot be loaded
 * or does not verify leaves the previous good version in force.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include "keysrv.h"
#include "log.h"

struct identity id;

#define F_KEY	"node.key"
#define F_CSR	"node.csr"
#define F_CRT	"node.crt"
#define F_CA	"ca.crt"
#define F_CRL	"revoked.crl"
#define F_LIST	"signatures.list"
#define F_SIG	"signatures.list.sig"

static void
path_of(char *out, size_t outsz, const char *state, const char *file)
{
	snprintf(out, outsz, "%s/%s", state, file);
}

int
state_prepare(const char *dir, char *why, size_t whysz)
{
	struct stat st;

	if (strlen(dir) >= KS_PATH_MAX)
		return crypto_fail(why, whysz, -MX_ERR_INVAL, "%s: path too long", dir);
	if (stat(dir, &st) == -1) {
		if (errno != ENOENT)
			return crypto_fail(why, whysz, -MX_ERR_IO, "%s: %s", dir, strerror(errno));
		if (mkdir(dir, 0700) == -1 && errno != EEXIST)
			return crypto_fail(why, whysz, errno == EACCES ? -MX_ERR_PERM : -MX_ERR_IO,
			    "%s: %s", dir, strerror(errno));
		if (stat(dir, &st) == -1)
			return crypto_fail(why, whysz, -MX_ERR_IO, "%s: %s", dir, strerror(errno));
	}
	if (!S_ISDIR(st.st_mode))
		return crypto_fail(why, whysz, -MX_ERR_INVAL, "%s: not a directory", dir);
	if (st.st_uid != geteuid() && st.st_uid != 0)
		return crypto_fail(why, whysz, -MX_ERR_PERM, "%s: owned by uid %u, not by uid %u",
		    dir, (unsigned)st.st_uid, (unsigned)geteuid());
	if (st.st_mode & 022)
		return crypto_fail(why, whysz, -MX_ERR_PERM,
		    "%s: directory is group or world writable (mode %04o), refusing to use it",
		    dir, (unsigned)(st.st_mode & 07777));
	return 0;
}

/* The public half of an Ed25519 key, as a key of its own. */
static EVP_PKEY *
pub_of(EVP_PKEY *key)
{
	uint8_t raw[32];
	size_t len = sizeof(raw);

	if (EVP_PKEY_get_raw_public_key(key, raw, &len) != 1) {
		ERR_clear_error();
		return NULL;
	}
	return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, len);
}

/* node.key, loaded; made (0600, O_EXCL) when missing and make is set. */
static int
key_obtain(const char *state, int make, EVP_PKEY **key, int *created, char *why, size_t whysz)
{
	char path[PATH_MAX];
	int r;

	*created = 0;
	path_of(path, sizeof(path), state, F_KEY);
	r = crypto_key_load(path, NULL, key, why, whysz);
	if (r != -MX_ERR_NOENT || !make)
		return r;
	if (crypto_key_generate(key) != 0)
		return crypto_fail(why, whysz, -MX_ERR_NOMEM, "%s: cannot generate a key", path);
	r = crypto_key_save(path, *key, NULL, why, whysz);
	if (r == 0) {
		*created = 1;
		return 0;
	}
	EVP_PKEY_free(*key);
	*key = NULL;
	if (r == -MX_ERR_EXISTS)	/* another keysrv -i won the race: use its key */
		return crypto_key_load(path, NULL, key, why, whysz);
	return r;
}

/* node.csr for node and key; written again when missing or made for another name or key. */
static int
csr_ensure(const char *state, const char *node, EVP_PKEY *key, char *why, size_t whysz)
{
	char path[PATH_MAX], cn[CRYPTO_NODE_MAX + 1], sub[CRYPTO_WHY_MAX];
	X509_REQ *req;
	char *pem;
	size_t len;
	int r;

	path_of(path, sizeof(path), state, F_CSR);
	if (crypto_csr_load(path, &req, sub, sizeof(sub)) == 0) {
		r = crypto_csr_check(req, cn, sizeof(cn), sub, sizeof(sub)) == 0 &&
		    strcmp(cn, node) == 0 && EVP_PKEY_eq(X509_REQ_get0_pubkey(req), key) == 1;
		ERR_clear_error();
		X509_REQ_free(req);
		if (r)
			return 0;
	}
	if ((r = crypto_csr_make(key, node, &req, why, whysz)) != 0)
		return r;
	r = crypto_csr_pem(req, &pem, &len);
	X509_REQ_free(req);
	if (r != 0)
		return crypto_fail(why, whysz, r, "%s: out of memory", path);
	r = crypto_file_replace(path, 0644, pem, len, why, whysz);
	free(pem);
	return r;
}

int
identity_init(const char *state, const char *node, char *why, size_t whysz)
{
	EVP_PKEY *key;
	int r, created;

	if (!crypto_node_name_valid(node))
		return crypto_fail(why, whysz, -MX_ERR_INVAL, "'%s': not a valid node name", node);
	if ((r = state_prepare(state, why, whysz)) != 0)
		return r;
	if ((r = key_obtain(state, 1, &key, &created, why, whysz)) != 0)
		return r;
	r = csr_ensure(state, node, key, why, whysz);
	EVP_PKEY_free(key);
	return r;
}

int
cert_from_pem(const void *p, size_t n, X509 **out)
{
	BIO *bio;

	*out = NULL;
	if (n > INT32_MAX || (bio = BIO_new_mem_buf(p, (int)n)) == NULL)
		return -MX_ERR_NOMEM;
	*out = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	ERR_clear_error();
	return *out == NULL ? -MX_ERR_INVAL : 0;
}

static void
drop_ca(struct identity *i)
{
	X509_free(i->ca);
	free(i->ca_pem);
	i->ca = NULL;
	i->ca_pem = NULL;
}

static void
drop_crl(struct identity *i)
{
	X509_CRL_free(i->crl);
	free(i->crl_pem);
	i->crl = NULL;
	i->crl_pem = NULL;
}

static void
free_identity(struct identity *i)
{
	EVP_PKEY_free(i->pub);
	X509_free(i->cert);
	free(i->cert_pem);
	drop_ca(i);
	drop_crl(i);
	siglist_free(i->list);
	memset(i, 0, sizeof(*i));
}

void
identity_free(void)
{
	free_identity(&id);
}

/* ca.crt into n; on reload a bad one leaves old's in force. */
static void
load_ca(struct identity *n, struct identity *old, int initial)
{
	char path[PATH_MAX], why[CRYPTO_WHY_MAX];
	X509 *ca;
	int r;

	path_of(path, sizeof(path), n->state, F_CA);
	if ((r = crypto_cert_load(path, &ca, why, sizeof(why))) == 0) {
		if (X509_check_ca(ca) == 0)
			r = crypto_fail(why, sizeof(why), -MX_ERR_INVAL, "%s: not a CA certificate", path);
		else if (crypto_cert_pem(ca, &n->ca_pem, &n->ca_pem_len) != 0)
			fatalx("out of memory");
		if (r == 0) {
			n->ca = ca;
			return;
		}
		X509_free(ca);
	}
	if (!initial && old->ca != NULL) {
		log_warnx("%s: the previous CA certificate stays in force", why);
		n->ca = old->ca;
		n->ca_pem = old->ca_pem;
		n->ca_pem_len = old->ca_pem_len;
		old->ca = NULL;
		old->ca_pem = NULL;
		return;
	}
	crypto_fail(n->ca_why, sizeof(n->ca_why), 0, "no CA certificate (%s)", why);
	log_warnx("%s: cannot verify certificates nor the signature list", why);
}

/* revoked.crl, checked with n's CA; a bad one with nothing to fall back on blocks peer checks. */
static void
load_crl(struct identity *n, struct identity *old, int initial)
{
	char path[PATH_MAX], why[CRYPTO_WHY_MAX], sub[CRYPTO_WHY_MAX];
	X509_CRL *crl;
	int r;

	if (n->ca == NULL)
		return;
	path_of(path, sizeof(path), n->state, F_CRL);
	if ((r = crypto_crl_load(path, &crl, why, sizeof(why))) == 0) {
		if ((r = crypto_crl_check(crl, n->ca, sub, sizeof(sub))) != 0)
			crypto_fail(why, sizeof(why), r, "%s: %s", path, sub);
		else if (crypto_crl_pem(crl, &n->crl_pem, &n->crl_pem_len) != 0)
			fatalx("out of memory");
		if (r == 0) {
			n->crl = crl;
			return;
		}
		X509_CRL_free(crl);
	}
	if (!initial && old->crl != NULL && crypto_crl_check(old->crl, n->ca, sub, sizeof(sub)) == 0) {
		log_warnx("%s: the previous revocation list stays in force", why);
		n->crl = old->crl;
		n->crl_pem = old->crl_pem;
		n->crl_pem_len = old->crl_pem_len;
		old->crl = NULL;
		old->crl_pem = NULL;
		return;
	}
	if (r == -MX_ERR_NOENT) {
		log_debug("%s: no revocation list", path);
		return;
	}
	n->crl_bad = 1;
	snprintf(n->crl_why, sizeof(n->crl_why), "%s", why);
	log_warnx("%s: refusing to verify peer certificates until it is fixed", why);
}

/*
 * The first generation of this keysrv's life: random, so that a keysrv
 * restarted with another list never reuses the generation namesrv knows
 * from the previous one (which would make namesrv keep the old rules).
 */
static int64_t
first_gen(void)
{
	uint64_t g = 0;

	if (getrandom(&g, sizeof(g), 0) != (ssize_t)sizeof(g))
		g = (uint64_t)time(NULL) << 20;
	return (int64_t)(g & ((UINT64_C(1) << 52) - 1)) + 1;
}

/* signatures.list + .sig, verified with the CA key; a refused list leaves the previous one in force. */
static void
load_list(struct identity *n, struct identity *old, int initial)
{
	char lpath[PATH_MAX], spath[PATH_MAX], why[CRYPTO_WHY_MAX];
	struct siglist *l;
	size_t i, rules = 0;
	int r;

	snprintf(n->list_why, sizeof(n->list_why), "no signature list loaded");
	n->list_gen = initial ? first_gen() : old->list_gen + 1;
	path_of(lpath, sizeof(lpath), n->state, F_LIST);
	path_of(spath, sizeof(spath), n->state, F_SIG);
	if (n->ca == NULL) {
		/* load_ca() said the list cannot be verified */
		r = crypto_fail(why, sizeof(why), -MX_ERR_UNAVAIL, "%s: no CA certificate to verify it", lpath);
		if (initial || old->list == NULL) {
			n->list_missing = 1;	/* no admin yet: nothing is protected */
			return;
		}
	} else if ((r = siglist_load(lpath, spath, X509_get0_pubkey(n->ca), &l, why, sizeof(why))) == 0) {
		for (i = 0; i < l->n; i++)
			rules += l->ent[i].line == NULL;
		log_info("%s: signature verified, %zu rule%s", lpath, rules, rules == 1 ? "" : "s");
		n->list = l;
		return;
	}
	if (!initial && old->list != NULL) {
		log_warnx("%s: refused, the previous signature list stays in force", why);
		n->list = old->list;
		old->list = NULL;
		return;
	}
	if (r == -MX_ERR_NOENT || r == -MX_ERR_UNAVAIL) {
		/* No list at all: nothing is protected, every name is open. */
		n->list_missing = 1;
		log_info("no signature list (%s): every name is open", why);
	} else {
		/* A list that does not verify: protected names cannot be told, registrations fail closed. */
		log_warnx("%s: refused, no signature list loaded", why);
		snprintf(n->list_why, sizeof(n->list_why), "%s", why);	/* what a refused registration says */
	}
}

/* node.crt: this key's, issued to this node, chaining to the CA, not revoked. */
static int
check_cert(struct identity *n, X509 **out)
{
	char path[PATH_MAX], why[CRYPTO_WHY_MAX];
	X509 *cert;
	int r;

	*out = NULL;
	path_of(path, sizeof(path), n->state, F_CRT);
	if ((r = crypto_cert_load(path, &cert, n->cert_why, sizeof(n->cert_why))) != 0)
		return r;
	if (EVP_PKEY_eq(X509_get0_pubkey(cert), n->pub) != 1)
		r = crypto_fail(n->cert_why, sizeof(n->cert_why), -MX_ERR_BADSIG,
		    "%s: not the certificate of %s/%s", path, n->state, F_KEY);
	else if (n->ca == NULL)
		r = crypto_fail(n->cert_why, sizeof(n->cert_why), -MX_ERR_UNAVAIL,
		    "%s: cannot be checked: %s", path, n->ca_why);
	else if (n->crl_bad)
		r = crypto_fail(n->cert_why, sizeof(n->cert_why), -MX_ERR_UNAVAIL,
		    "%s: cannot be checked: %s", path, n->crl_why);
	else if ((r = crypto_cert_verify(cert, n->ca, n->crl, n->node, why, sizeof(why))) != 0)
		crypto_fail(n->cert_why, sizeof(n->cert_why), r, "%s: %s", path, why);
	ERR_clear_error();
	if (r != 0) {
		X509_free(cert);
		return r;
	}
	*out = cert;
	return 0;
}

void
identity_load(const char *state, const char *node, int initial)
{
	struct identity n, old = id;
	char why[CRYPTO_WHY_MAX], csr[PATH_MAX], crt[PATH_MAX];
	EVP_PKEY *key = NULL;
	int r, created = 0;

	memset(&n, 0, sizeof(n));
	snprintf(n.node, sizeof(n.node), "%s", node);
	snprintf(n.state, sizeof(n.state), "%s", state);
	path_of(csr, sizeof(csr), state, F_CSR);
	path_of(crt, sizeof(crt), state, F_CRT);
	if (initial) {
		if ((r = state_prepare(state, why, sizeof(why))) != 0)
			die(mx_file_exit_code(r), "%s", why);
		if (!crypto_node_name_valid(node))
			die(EX_CONFIG, "node name '%s' from portd is not a valid certificate name", node);
	}
	if ((r = key_obtain(state, initial, &key, &created, why, sizeof(why))) != 0) {
		if (initial)
			die(mx_file_exit_code(r), "%s", why);
		/* Keep the fingerprint we had; without the key nothing is vouched for. */
		log_warnx("%s: serving without a valid node certificate", why);
		n.pub = old.pub;
		old.pub = NULL;
		snprintf(n.cert_why, sizeof(n.cert_why), "%s", why);
	} else if ((n.pub = pub_of(key)) == NULL || crypto_fingerprint(n.pub, n.fp) != 0) {
		fatalx("%s/%s: cannot read its public key", state, F_KEY);
	} else if (created) {
		if (csr_ensure(state, node, key, why, sizeof(why)) != 0)
			log_warnx("created node key %s/%s, but no certificate request: %s", state, F_KEY, why);
		else
			log_info("created node key %s/%s and certificate request %s for node '%s': "
			    "run 'sigtool certify %s > %s', then send keysrv SIGHUP",
			    state, F_KEY, csr, node, csr, crt);
	}
	if (n.pub != NULL && n.fp[0] == '\0')
		snprintf(n.fp, sizeof(n.fp), "%s", old.fp);

	load_ca(&n, &old, initial);
	load_crl(&n, &old, initial);
	load_list(&n, &old, initial);

	if (key != NULL) {
		r = check_cert(&n, &n.cert);
		if (n.cert != NULL) {
			if (crypto_cert_pem(n.cert, &n.cert_pem, &n.cert_pem_len) != 0)
				fatalx("out of memory");
			log_info("node %s: certificate OK, key %s", n.node, n.fp);
		} else if (created) {
			/* said when the key was made */
		} else if (csr_ensure(state, node, key, why, sizeof(why)) != 0) {
			log_warnx("%s: %s", n.cert_why, why);
		} else if (r == -MX_ERR_NOENT) {
			log_info("no node certificate yet; certificate request for node '%s' in %s: "
			    "run 'sigtool certify %s > %s', then send keysrv SIGHUP", node, csr, csr, crt);
		} else {
			log_warnx("%s: serving without a valid node certificate", n.cert_why);
		}
		EVP_PKEY_free(key);	/* frees (and wipes) the private half: never kept */
	}
	free_identity(&old);
	id = n;
	if (!initial)
		directory_recheck();
}
