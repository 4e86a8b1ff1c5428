/* conf.h — "key = value" configuration files. */
#ifndef MX_CONF_H
#define MX_CONF_H

#include <stddef.h>

/*
 * Call set(key, value, arg) for each "key = value" line ('#' comments,
 * blank lines ignored). set returns 0, or -1 after writing why into err.
 * Returns 0, or -1 with err = "FILE:LINE: why: 'line'".
 */
int conf_load(const char *path, int (*set)(const char *key, const char *val, void *arg, char *err, size_t errsz),
    void *arg, char *err, size_t errsz);
/* Parse a decimal unsigned number into *out (<= max); -1 if it is not one. */
int conf_uint(const char *s, unsigned long max, unsigned long *out);

#endif
