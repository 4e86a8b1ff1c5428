/* crypto_hash.c — SHA-256 of a server's binary, the way the signature list names it. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <openssl/evp.h>
#include "masix.h"
#include "crypto.h"

int
crypto_hash_fd(int fd, uint8_t out[CRYPTO_HASH_LEN], char *why, size_t whysz)
{
	unsigned char buf[65536];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx;
	ssize_t r;
	int ok, e = 0;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return crypto_fail(why, whysz, -MX_ERR_NOMEM, "out of memory");
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;
	while (ok) {
		r = read(fd, buf, sizeof(buf));
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			e = errno;
			ok = 0;
			break;
		}
		if (r == 0)
			break;
		ok = EVP_DigestUpdate(ctx, buf, (size_t)r) == 1;
	}
	if (ok)
		ok = EVP_DigestFinal_ex(ctx, out, &mdlen) == 1 && mdlen == CRYPTO_HASH_LEN;
	EVP_MD_CTX_free(ctx);
	if (e != 0)
		return crypto_fail(why, whysz, -MX_ERR_IO, "%s", strerror(e));
	if (!ok)
		return crypto_fail(why, whysz, -MX_ERR_NOMEM, "SHA-256 failed");
	return 0;
}

int
crypto_hash_file(const char *path, char out[CRYPTO_HASH_STRLEN + 1],
    char *why, size_t whysz)
{
	uint8_t h[CRYPTO_HASH_LEN];
	char sub[CRYPTO_WHY_MAX];
	int fd, r;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		r = errno == ENOENT || errno == ENOTDIR ? -MX_ERR_NOENT :
		    errno == EACCES ? -MX_ERR_PERM : -MX_ERR_IO;
		return crypto_fail(why, whysz, r, "%s: %s", path, strerror(errno));
	}
	r = crypto_hash_fd(fd, h, sub, sizeof(sub));
	close(fd);
	if (r != 0)
		return crypto_fail(why, whysz, r, "%s: %s", path, sub);
	crypto_hash_format(h, out);
	return 0;
}
