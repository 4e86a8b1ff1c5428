/* sock.h — Unix socket setup shared by the daemons and the client library. */
#ifndef MX_SOCK_H
#define MX_SOCK_H

#include <sys/types.h>

/*
 * Listen on path with the given mode. A stale socket (nobody accepts on it)
 * is removed first; a live one is an error (EADDRINUSE). -1 with errno.
 */
int sock_unix_listen(const char *path, mode_t mode);
int sock_unix_connect(const char *path);	/* blocking, CLOEXEC; -1 with errno */
int sock_nonblock(int fd);
/* Join dir and "/" name into out; -1 with ENAMETOOLONG if it does not fit sun_path. */
int sock_path(char *out, size_t outsz, const char *dir, const char *name);

#endif
