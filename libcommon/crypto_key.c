/* crypto_key.c — Ed25519 key files (mode-checked, optionally encrypted), fingerprints, raw signatures. */
#include <stdlib.h>
#include <string.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include "masix.h"
#include "crypto.h"

int
crypto_key_generate(EVP_PKEY **out)
{
	*out = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	return *out == NULL ? -MX_ERR_NOMEM : 0;
}

struct passarg {
	const char *pass;
	int asked;
};

/* Never let OpenSSL fall back to its own terminal prompt. */
static int
pass_cb(char *buf, int size, int rwflag, void *u)
{
	struct passarg *pa = u;
	size_t n;

	(void)rwflag;
	pa->asked = 1;
	if (pa->pass == NULL || size <= 0)
		return -1;
	n = strlen(pa->pass);
	if (n > (size_t)size)
		return -1;
	memcpy(buf, pa->pass, n);
	return (int)n;
}

int
crypto_key_load(const char *path, const char *pass, EVP_PKEY **out,
    char *why, size_t whysz)
{
	struct passarg pa = { pass, 0 };
	uint8_t *buf;
	size_t len;
	BIO *bio;
	int r, enc;

	*out = NULL;
	if ((r = crypto_file_read_secret(path, CRYPTO_KEYFILE_MAX, &buf, &len, why, whysz)) != 0)
		return r;
	enc = strstr((char *)buf, "-----BEGIN ENCRYPTED PRIVATE KEY-----") != NULL;
	if (enc && pass == NULL) {
		crypto_file_free(buf, len);
		return crypto_fail(why, whysz, -MX_ERR_PERM,
		    "%s: key is encrypted, passphrase required", path);
	}
	if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL) {
		crypto_file_free(buf, len);
		return crypto_fail(why, whysz, -MX_ERR_NOMEM, "%s: out of memory", path);
	}
	*out = PEM_read_bio_PrivateKey(bio, NULL, pass_cb, &pa);
	BIO_free(bio);
	crypto_file_free(buf, len);
	ERR_clear_error();
	if (*out == NULL) {
		if (enc)
			return crypto_fail(why, whysz, -MX_ERR_PERM, "%s: wrong passphrase", path);
		return crypto_fail(why, whysz, -MX_ERR_INVAL, "%s: not a PEM private key", path);
	}
	if (EVP_PKEY_get_id(*out) != EVP_PKEY_ED25519) {
		EVP_PKEY_free(*out);
		*out = NULL;
		return crypto_fail(why, whysz, -MX_ERR_INVAL, "%s: not an Ed25519 key", path);
	}
	return 0;
}

int
crypto_key_save(const char *path, EVP_PKEY *key, const char *pass,
    char *why, size_t whysz)
{
	BIO *bio;
	char *pem;
	long n;
	int ok, r;

	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return crypto_fail(why, whysz, -MX_ERR_NOMEM, "%s: out of memory", path);
	if (pass != NULL)
		ok = PEM_write_bio_PKCS8PrivateKey(bio, key, EVP_aes_256_cbc(),
		    NULL, 0, pass_cb, &(struct passarg){ pass, 0 });
	else
		ok = PEM_write_bio_PKCS8PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL);
	n = BIO_get_mem_data(bio, &pem);
	if (!ok || n <= 0) {
		if (n > 0)
			OPENSSL_cleanse(pem, (size_t)n);
		BIO_free(bio);
		ERR_clear_error();
		return crypto_fail(why, whysz, -MX_ERR_NOMEM, "%s: cannot encode the key", path);
	}
	r = crypto_file_create(path, 0600, pem, (size_t)n, why, whysz);
	/* The memory BIO does not wipe on free. */
	OPENSSL_cleanse(pem, (size_t)n);
	BIO_free(bio);
	return r;
}

int
crypto_pubkey_load(const char *path, EVP_PKEY **out, char *why, size_t whysz)
{
	uint8_t *buf;
	size_t len;
	BIO *bio;
	int r;

	*out = NULL;
	if ((r = crypto_file_read(path, CRYPTO_KEYFILE_MAX, &buf, &len, why, whysz)) != 0)
		return r;
	if ((bio = BIO_new_mem_buf(buf, (int)len)) != NULL) {
		*out = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
		BIO_free(bio);
	}
	free(buf);
	ERR_clear_error();
	if (*out == NULL)
		return crypto_fail(why, whysz, -MX_ERR_INVAL, "%s: not a PEM public key", path);
	if (EVP_PKEY_get_id(*out) != EVP_PKEY_ED25519) {
		EVP_PKEY_free(*out);
		*out = NULL;
		return crypto_fail(why, whysz, -MX_ERR_INVAL, "%s: not an Ed25519 key", path);
	}
	return 0;
}

/* Copy a memory BIO's contents into a malloc'd NUL-terminated string. */
static int
bio_take(BIO *bio, char **out, size_t *outlen)
{
	char *p;
	long n;

	n = BIO_get_mem_data(bio, &p);
	if (n <= 0 || (*out = malloc((size_t)n + 1)) == NULL)
		return -MX_ERR_NOMEM;
	memcpy(*out, p, (size_t)n);
	(*out)[n] = '\0';
	*outlen = (size_t)n;
	return 0;
}

int
crypto_pubkey_pem(EVP_PKEY *key, char **out, size_t *outlen)
{
	BIO *bio;
	int r = -MX_ERR_NOMEM;

	*out = NULL;
	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return r;
	if (PEM_write_bio_PUBKEY(bio, key))
		r = bio_take(bio, out, outlen);
	BIO_free(bio);
	ERR_clear_error();
	return r;
}

int
crypto_fingerprint(EVP_PKEY *key, char out[CRYPTO_FP_STRLEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE], b64[64];
	unsigned char *der = NULL;
	unsigned int mdlen;
	int n, len;

	if ((len = i2d_PUBKEY(key, &der)) <= 0)
		return -MX_ERR_NOMEM;
	n = EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL);
	OPENSSL_free(der);
	if (!n || mdlen != CRYPTO_HASH_LEN)
		return -MX_ERR_NOMEM;
	n = EVP_EncodeBlock(b64, md, (int)mdlen);	/* 44 chars, one '=' */
	while (n > 0 && b64[n - 1] == '=')
		n--;
	if (n != CRYPTO_FP_STRLEN - 7)
		return -MX_ERR_NOMEM;
	memcpy(out, "SHA256:", 7);
	memcpy(out + 7, b64, (size_t)n);
	out[7 + n] = '\0';
	return 0;
}

int
crypto_sign(EVP_PKEY *key, const void *p, size_t n, uint8_t sig[CRYPTO_SIG_LEN])
{
	EVP_MD_CTX *ctx;
	size_t siglen = CRYPTO_SIG_LEN;
	int ok;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -MX_ERR_NOMEM;
	ok = EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) == 1 &&
	    EVP_DigestSign(ctx, sig, &siglen, p, n) == 1 && siglen == CRYPTO_SIG_LEN;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return ok ? 0 : -MX_ERR_NOMEM;
}

int
crypto_verify(EVP_PKEY *pub, const void *p, size_t n, const uint8_t *sig, size_t siglen)
{
	EVP_MD_CTX *ctx;
	int ok;

	if (siglen != CRYPTO_SIG_LEN)
		return -MX_ERR_BADSIG;
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -MX_ERR_NOMEM;
	ok = EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pub) == 1 &&
	    EVP_DigestVerify(ctx, sig, siglen, p, n) == 1;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return ok ? 0 : -MX_ERR_BADSIG;
}
