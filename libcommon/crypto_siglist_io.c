/* crypto_siglist_io.c — the signature list on disk: verify before parsing, sign when saving. */
#include <stdlib.h>
#include <string.h>
#include "masix.h"
#include "crypto.h"

int
siglist_load(const char *listpath, const char *sigpath, EVP_PKEY *pub,
    struct siglist **out, char *why, size_t whysz)
{
	char sub[CRYPTO_WHY_MAX];
	uint8_t *text = NULL, *sig = NULL;
	size_t textlen, siglen;
	int r;

	*out = NULL;
	if ((r = crypto_file_read(listpath, CRYPTO_LIST_MAX, &text, &textlen, why, whysz)) != 0)
		return r;
	/* One byte over the signature size is enough to tell it is wrong. */
	if ((r = crypto_file_read(sigpath, CRYPTO_SIG_LEN, &sig, &siglen, why, whysz)) != 0) {
		free(text);
		if (r == -MX_ERR_TOOBIG)
			r = crypto_fail(why, whysz, -MX_ERR_BADSIG,
			    "%s: not a %d-byte Ed25519 signature", sigpath, CRYPTO_SIG_LEN);
		return r;
	}
	if (siglen != CRYPTO_SIG_LEN) {
		r = crypto_fail(why, whysz, -MX_ERR_BADSIG,
		    "%s: not a %d-byte Ed25519 signature", sigpath, CRYPTO_SIG_LEN);
	} else if ((r = crypto_verify(pub, text, textlen, sig, siglen)) != 0) {
		r = crypto_fail(why, whysz, r,
		    "%s: signature does not verify with the admin key", listpath);
	} else if ((r = siglist_parse((char *)text, textlen, out, sub, sizeof(sub))) != 0) {
		r = crypto_fail(why, whysz, r, "%s: %s", listpath, sub);
	}
	free(text);
	free(sig);
	return r;
}

int
siglist_save(const char *listpath, const char *sigpath, const struct siglist *l,
    EVP_PKEY *key, char *why, size_t whysz)
{
	uint8_t sig[CRYPTO_SIG_LEN];
	char *text;
	size_t len;
	int r;

	if ((r = siglist_format(l, &text, &len)) != 0)
		return crypto_fail(why, whysz, r, "%s: out of memory", listpath);
	if ((r = crypto_sign(key, text, len, sig)) != 0)
		r = crypto_fail(why, whysz, r, "%s: signing failed", listpath);
	/* Signature first: a reader racing us sees a mismatch, never an unsigned list. */
	if (r == 0)
		r = crypto_file_replace(sigpath, 0644, sig, sizeof(sig), why, whysz);
	if (r == 0)
		r = crypto_file_replace(listpath, 0644, text, len, why, whysz);
	free(text);
	return r;
}
