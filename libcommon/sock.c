/* sock.c — length-checked Unix socket paths, stale socket removal, modes. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include "sock.h"

int
sock_path(char *out, size_t outsz, const char *dir, const char *name)
{
	struct sockaddr_un sun;
	int n = snprintf(out, outsz, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= outsz || (size_t)n >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

static int
fill_addr(struct sockaddr_un *sun, const char *path)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sun->sun_path, path);
	return 0;
}

int
sock_unix_connect(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	if (fill_addr(&sun, path) < 0)
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

int
sock_unix_listen(const char *path, mode_t mode)
{
	struct sockaddr_un sun;
	struct stat st;
	mode_t old;
	int fd, r;

	if (fill_addr(&sun, path) < 0)
		return -1;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			errno = EEXIST;
			return -1;
		}
		/* Only a socket nobody answers on is stale. */
		if ((fd = sock_unix_connect(path)) >= 0) {
			close(fd);
			errno = EADDRINUSE;
			return -1;
		}
		unlink(path);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
		return -1;
	old = umask(0177);
	r = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (r < 0 || chmod(path, mode) < 0 || listen(fd, 512) < 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

int
sock_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -1;
	return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}
