/* crypto_file.c — reading and writing trust files: size caps, O_EXCL, atomic replace. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include "masix.h"
#include "crypto.h"

int
crypto_fail(char *why, size_t whysz, int err, const char *fmt, ...)
{
	va_list ap;

	if (why != NULL && whysz > 0) {
		va_start(ap, fmt);
		vsnprintf(why, whysz, fmt, ap);
		va_end(ap);
	}
	return err;
}

static int
errno_err(int e)
{
	switch (e) {
	case ENOENT:
	case ENOTDIR:
		return -MX_ERR_NOENT;
	case EEXIST:
		return -MX_ERR_EXISTS;
	case EACCES:
	case EPERM:
		return -MX_ERR_PERM;
	case ENOMEM:
		return -MX_ERR_NOMEM;
	default:
		return -MX_ERR_IO;
	}
}

/* secret: refuse a file that grants anything to group or others, like ssh. */
static int
read_file(const char *path, size_t max, int secret, uint8_t **out, size_t *outlen,
    char *why, size_t whysz)
{
	struct stat st;
	uint8_t *buf = NULL;
	size_t len = 0;
	ssize_t r;
	int fd, e;

	*out = NULL;
	*outlen = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return crypto_fail(why, whysz, errno_err(errno), "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) == -1) {
		e = errno;
		close(fd);
		return crypto_fail(why, whysz, errno_err(e), "%s: %s", path, strerror(e));
	}
	/* Pipes are fine (/dev/stdin): the size cap below holds for any file. */
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		return crypto_fail(why, whysz, -MX_ERR_INVAL, "%s: is a directory", path);
	}
	if (secret && (st.st_mode & 077) != 0) {
		close(fd);
		return crypto_fail(why, whysz, -MX_ERR_PERM,
		    "Permissions 0%03o for '%s' are too open", (unsigned)(st.st_mode & 0777), path);
	}
	/* The size may change under us: trust only what read() returns, up to max. */
	if ((buf = malloc(max + 1)) == NULL) {
		close(fd);
		return crypto_fail(why, whysz, -MX_ERR_NOMEM, "%s: out of memory", path);
	}
	for (;;) {
		r = read(fd, buf + len, max + 1 - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			e = errno;
			close(fd);
			crypto_file_free(buf, len);
			return crypto_fail(why, whysz, -MX_ERR_IO, "%s: %s", path, strerror(e));
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (len > max) {
			close(fd);
			crypto_file_free(buf, len);
			return crypto_fail(why, whysz, -MX_ERR_TOOBIG,
			    "%s: larger than %zu bytes", path, max);
		}
	}
	close(fd);
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	return 0;
}

int
crypto_file_read(const char *path, size_t max, uint8_t **out, size_t *outlen,
    char *why, size_t whysz)
{
	return read_file(path, max, 0, out, outlen, why, whysz);
}

int
crypto_file_read_secret(const char *path, size_t max, uint8_t **out, size_t *outlen,
    char *why, size_t whysz)
{
	return read_file(path, max, 1, out, outlen, why, whysz);
}

void
crypto_file_free(uint8_t *p, size_t len)
{
	if (p == NULL)
		return;
	OPENSSL_cleanse(p, len + 1);
	free(p);
}

static int
write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	ssize_t w;

	while (n > 0) {
		w = write(fd, b, n);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Write and sync an open file; on failure unlink it and say why. */
static int
finish(int fd, const char *path, const void *p, size_t n, char *why, size_t whysz)
{
	int e;

	if (write_all(fd, p, n) == -1 || fsync(fd) == -1) {
		e = errno;
		close(fd);
		unlink(path);
		return crypto_fail(why, whysz, -MX_ERR_IO, "%s: %s", path, strerror(e));
	}
	if (close(fd) == -1) {
		e = errno;
		unlink(path);
		return crypto_fail(why, whysz, -MX_ERR_IO, "%s: %s", path, strerror(e));
	}
	return 0;
}

int
crypto_file_create(const char *path, mode_t mode, const void *p, size_t n,
    char *why, size_t whysz)
{
	mode_t old;
	int fd, e;

	/* umask 077 while creating: the file is never more open than mode, even briefly. */
	old = umask(077);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode & 0600);
	e = errno;
	umask(old);
	if (fd == -1) {
		if (e == EEXIST)
			return crypto_fail(why, whysz, -MX_ERR_EXISTS,
			    "%s: already exists, refusing to overwrite", path);
		return crypto_fail(why, whysz, errno_err(e), "%s: %s", path, strerror(e));
	}
	if (fchmod(fd, mode) == -1) {
		e = errno;
		close(fd);
		unlink(path);
		return crypto_fail(why, whysz, errno_err(e), "%s: %s", path, strerror(e));
	}
	return finish(fd, path, p, n, why, whysz);
}

int
crypto_file_replace(const char *path, mode_t mode, const void *p, size_t n,
    char *why, size_t whysz)
{
	char tmp[PATH_MAX];
	mode_t old;
	int fd, e, r;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= sizeof(tmp))
		return crypto_fail(why, whysz, -MX_ERR_INVAL, "%s: path too long", path);
	old = umask(077);
	fd = mkostemp(tmp, O_CLOEXEC);
	e = errno;
	umask(old);
	if (fd == -1)
		return crypto_fail(why, whysz, errno_err(e), "%s: %s", tmp, strerror(e));
	if (fchmod(fd, mode) == -1) {
		e = errno;
		close(fd);
		unlink(tmp);
		return crypto_fail(why, whysz, errno_err(e), "%s: %s", tmp, strerror(e));
	}
	if ((r = finish(fd, tmp, p, n, why, whysz)) != 0)
		return r;
	if (rename(tmp, path) == -1) {
		e = errno;
		unlink(tmp);
		return crypto_fail(why, whysz, errno_err(e), "%s: %s", path, strerror(e));
	}
	return 0;
}

int
crypto_pass_read_file(const char *path, char *pass, size_t passsz,
    char *why, size_t whysz)
{
	uint8_t *buf;
	size_t len, n;
	int r;

	if ((r = crypto_file_read(path, CRYPTO_PASS_MAX, &buf, &len, why, whysz)) != 0) {
		if (r == -MX_ERR_TOOBIG)
			r = crypto_fail(why, whysz, -MX_ERR_INVAL, "%s: passphrase too long", path);
		return r;
	}
	n = strcspn((char *)buf, "\n");
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	if (n == 0) {
		crypto_file_free(buf, len);
		return crypto_fail(why, whysz, -MX_ERR_INVAL, "%s: empty passphrase", path);
	}
	if (n >= passsz) {
		crypto_file_free(buf, len);
		return crypto_fail(why, whysz, -MX_ERR_INVAL, "%s: passphrase too long", path);
	}
	memcpy(pass, buf, n);
	pass[n] = '\0';
	crypto_file_free(buf, len);
	return 0;
}
