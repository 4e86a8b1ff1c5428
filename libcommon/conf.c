/* conf.c — a line-oriented parser whose errors quote the line. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "conf.h"

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int
conf_load(const char *path, int (*set)(const char *, const char *, void *, char *, size_t),
    void *arg, char *err, size_t errsz)
{
	char line[1024], why[256];
	unsigned lineno = 0;
	FILE *f;

	if ((f = fopen(path, "re")) == NULL) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *s, *eq, *key, *val;

		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			snprintf(err, errsz, "%s:%u: line too long", path, lineno);
			fclose(f);
			return -1;
		}
		s = trim(line);
		if (*s == '\0' || *s == '#')
			continue;
		if ((eq = strchr(s, '=')) == NULL) {
			snprintf(err, errsz, "%s:%u: expected 'key = value': '%s'", path, lineno, s);
			fclose(f);
			return -1;
		}
		*eq = '\0';
		key = trim(s);
		val = trim(eq + 1);
		why[0] = '\0';
		if (set(key, val, arg, why, sizeof(why)) < 0) {
			snprintf(err, errsz, "%s:%u: %s: '%s = %s'", path, lineno, why, key, val);
			fclose(f);
			return -1;
		}
	}
	fclose(f);
	return 0;
}

int
conf_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return -1;
	*out = v;
	return 0;
}
