/* tool.h — small things the command-line tools share. */
#ifndef MX_TOOL_H
#define MX_TOOL_H

#include <stdint.h>
#include <stddef.h>

/* "2", "0.5": seconds to milliseconds; -1 if not a number of seconds >= 0. */
int64_t tool_parse_secs(const char *s);
/* Write all of p to fd; 0 or -1 with errno. */
int tool_write_all(int fd, const void *p, size_t n);

#endif
