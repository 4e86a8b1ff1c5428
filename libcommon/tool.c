/* tool.c — argument parsing and I/O shared by msgsend and msgrecv. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <unistd.h>
#include "tool.h"

int64_t
tool_parse_secs(const char *s)
{
	char *end;
	double d;

	if (*s == '\0' || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	d = strtod(s, &end);
	if (errno != 0 || *end != '\0' || !(d >= 0) || d > 31536000.0)
		return -1;
	return (int64_t)(d * 1000.0 + 0.5);
}

int
tool_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}
