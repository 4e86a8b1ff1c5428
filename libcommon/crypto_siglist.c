/*
 * crypto_siglist.c — the signature list as text: parse, format, edit, query.
 * No OpenSSL here, so the parser can be fuzzed alone (t/fuzz/siglist.c).
 * Input reaches the parser only after its signature verified, but the parser
 * still treats it as hostile: every length is checked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "masix.h"
#include "crypto.h"

#define HASH_PREFIX	"sha256:"
#define HASH_PREFIX_LEN	7
#define UID_MAX_VALUE	4294967294u	/* (uid_t)-1 means "no uid" to the kernel */

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
crypto_hash_parse(const char *s, uint8_t out[CRYPTO_HASH_LEN])
{
	int hi, lo;
	size_t i;

	if (strncmp(s, HASH_PREFIX, HASH_PREFIX_LEN) != 0)
		return -MX_ERR_INVAL;
	s += HASH_PREFIX_LEN;
	for (i = 0; i < CRYPTO_HASH_LEN; i++) {
		/* s[2i] is checked before s[2i+1] is read: no read past the NUL. */
		if ((hi = hexval(s[2 * i])) < 0 || (lo = hexval(s[2 * i + 1])) < 0)
			return -MX_ERR_INVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return s[2 * CRYPTO_HASH_LEN] == '\0' ? 0 : -MX_ERR_INVAL;
}

void
crypto_hash_format(const uint8_t h[CRYPTO_HASH_LEN], char out[CRYPTO_HASH_STRLEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	memcpy(out, HASH_PREFIX, HASH_PREFIX_LEN);
	for (i = 0; i < CRYPTO_HASH_LEN; i++) {
		out[HASH_PREFIX_LEN + 2 * i] = hex[h[i] >> 4];
		out[HASH_PREFIX_LEN + 2 * i + 1] = hex[h[i] & 0xf];
	}
	out[CRYPTO_HASH_STRLEN] = '\0';
}

int
siglist_name_valid(const char *name)
{
	char prefix[MX_NAME_LEN_MAX + 1];
	size_t n = strnlen(name, MX_NAME_LEN_MAX + 1);

	if (n > MX_NAME_LEN_MAX)
		return 0;
	if (n > 2 && strcmp(name + n - 2, "/*") == 0) {
		memcpy(prefix, name, n - 2);
		prefix[n - 2] = '\0';
		return mx_name_valid(prefix);
	}
	return mx_name_valid(name);
}

/* Quote untrusted text for a one-line reason: printable ASCII only, 48 chars at most. */
static void
quote(char *dst, size_t dstsz, const char *src, size_t n)
{
	size_t i, o = 0;

	for (i = 0; i < n && o + 4 < dstsz; i++) {
		if (i == 48) {
			memcpy(dst + o, "...", 3);
			o += 3;
			break;
		}
		dst[o++] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '?';
	}
	dst[o] = '\0';
}

struct siglist *
siglist_new(void)
{
	return calloc(1, sizeof(struct siglist));
}

void
siglist_free(struct siglist *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++)
		free(l->ent[i].line);
	free(l->ent);
	free(l);
}

static struct siglist_entry *
grow(struct siglist *l)
{
	struct siglist_entry *e;
	size_t cap;

	if (l->n == l->cap) {
		cap = l->cap ? l->cap * 2 : 16;
		if (cap > SIZE_MAX / sizeof(*e))
			return NULL;
		if ((e = realloc(l->ent, cap * sizeof(*e))) == NULL)
			return NULL;
		l->ent = e;
		l->cap = cap;
	}
	e = &l->ent[l->n];
	memset(e, 0, sizeof(*e));
	return e;
}

static int
parse_uid(const char *s, uid_t *uid)
{
	unsigned long long v = 0;
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 10)
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (i == 0 || v > UID_MAX_VALUE)
		return -1;
	*uid = (uid_t)v;
	return 0;
}

/* One line (no newline, no NUL inside, n <= SIGLIST_LINE_MAX) into l. */
static int
parse_line(struct siglist *l, const char *p, size_t n, char *why, size_t whysz)
{
	char buf[SIGLIST_LINE_MAX + 1], q[64];
	char *f[4], *s;
	struct siglist_entry *e;
	size_t i, nf = 0;

	for (i = 0; i < n && (p[i] == ' ' || p[i] == '\t'); i++)
		;
	if (i == n || p[i] == '#') {
		if ((e = grow(l)) == NULL || (e->line = strndup(p, n)) == NULL)
			return crypto_fail(why, whysz, -MX_ERR_NOMEM, "out of memory");
		l->n++;
		return 0;
	}
	memcpy(buf, p, n);
	buf[n] = '\0';
	for (s = buf; *s != '\0';) {
		while (*s == ' ' || *s == '\t')
			*s++ = '\0';
		if (*s == '\0')
			break;
		if (nf == 3) {
			quote(q, sizeof(q), s, strlen(s));
			return crypto_fail(why, whysz, -MX_ERR_INVAL, "trailing text '%s'", q);
		}
		f[nf++] = s;
		while (*s != '\0' && *s != ' ' && *s != '\t')
			s++;
	}
	if ((e = grow(l)) == NULL)
		return crypto_fail(why, whysz, -MX_ERR_NOMEM, "out of memory");
	if (!siglist_name_valid(f[0])) {
		quote(q, sizeof(q), f[0], strlen(f[0]));
		return crypto_fail(why, whysz, -MX_ERR_INVAL, "bad name '%s'", q);
	}
	if (nf < 2)
		return crypto_fail(why, whysz, -MX_ERR_INVAL, "missing hash after '%s'", f[0]);
	if (crypto_hash_parse(f[1], e->hash) != 0) {
		quote(q, sizeof(q), f[1], strlen(f[1]));
		return crypto_fail(why, whysz, -MX_ERR_INVAL, "bad hash '%s'", q);
	}
	e->anyuid = nf < 3;
	if (nf == 3 && parse_uid(f[2], &e->uid) != 0) {
		quote(q, sizeof(q), f[2], strlen(f[2]));
		return crypto_fail(why, whysz, -MX_ERR_INVAL, "bad uid '%s'", q);
	}
	/* siglist_name_valid() bounded f[0] to 255 chars. */
	memcpy(e->name, f[0], strlen(f[0]) + 1);
	l->n++;
	return 0;
}

int
siglist_parse(const char *text, size_t len, struct siglist **out, char *why, size_t whysz)
{
	char sub[CRYPTO_WHY_MAX];
	struct siglist *l;
	const char *p = text, *end = text + len, *nl;
	size_t lineno = 0, n;
	int r;

	*out = NULL;
	if ((l = siglist_new()) == NULL)
		return crypto_fail(why, whysz, -MX_ERR_NOMEM, "out of memory");
	while (p < end) {
		lineno++;
		nl = memchr(p, '\n', (size_t)(end - p));
		n = (nl != NULL ? nl : end) - p;
		if (n > SIGLIST_LINE_MAX) {
			siglist_free(l);
			return crypto_fail(why, whysz, -MX_ERR_INVAL,
			    "line %zu: longer than %d bytes", lineno, SIGLIST_LINE_MAX);
		}
		if (memchr(p, '\0', n) != NULL) {
			siglist_free(l);
			return crypto_fail(why, whysz, -MX_ERR_INVAL, "line %zu: NUL byte", lineno);
		}
		if ((r = parse_line(l, p, n, sub, sizeof(sub))) != 0) {
			siglist_free(l);
			return crypto_fail(why, whysz, r, "line %zu: %s", lineno, sub);
		}
		p += n + (nl != NULL);
	}
	*out = l;
	return 0;
}

int
siglist_format(const struct siglist *l, char **out, size_t *outlen)
{
	char hash[CRYPTO_HASH_STRLEN + 1];
	const struct siglist_entry *e;
	size_t i, cap = 1, o = 0;
	char *buf;
	int w;

	*out = NULL;
	/* Bound first: a rule is at most name + hash + uid + 3 separators. */
	for (i = 0; i < l->n; i++) {
		e = &l->ent[i];
		cap += (e->line ? strlen(e->line) : strlen(e->name) + CRYPTO_HASH_STRLEN + 12) + 1;
	}
	if ((buf = malloc(cap)) == NULL)
		return -MX_ERR_NOMEM;
	for (i = 0; i < l->n; i++) {
		e = &l->ent[i];
		if (e->line != NULL) {
			w = snprintf(buf + o, cap - o, "%s\n", e->line);
		} else {
			crypto_hash_format(e->hash, hash);
			if (e->anyuid)
				w = snprintf(buf + o, cap - o, "%s %s\n", e->name, hash);
			else
				w = snprintf(buf + o, cap - o, "%s %s %u\n", e->name, hash,
				    (unsigned)e->uid);
		}
		if (w < 0 || (size_t)w >= cap - o) {
			free(buf);
			return -MX_ERR_NOMEM;
		}
		o += (size_t)w;
	}
	buf[o] = '\0';
	*out = buf;
	*outlen = o;
	return 0;
}

static int
same_rule(const struct siglist_entry *e, const char *name, const uint8_t *hash,
    int anyuid, uid_t uid)
{
	/* Hashes of binaries are public: a plain comparison leaks nothing. */
	return e->line == NULL && strcmp(e->name, name) == 0 &&
	    memcmp(e->hash, hash, CRYPTO_HASH_LEN) == 0 &&
	    e->anyuid == anyuid && (anyuid || e->uid == uid);
}

int
siglist_add(struct siglist *l, const char *name, const uint8_t hash[CRYPTO_HASH_LEN],
    int anyuid, uid_t uid)
{
	struct siglist_entry *e;
	size_t i;

	if (!siglist_name_valid(name) || (!anyuid && uid > UID_MAX_VALUE))
		return -MX_ERR_INVAL;
	for (i = 0; i < l->n; i++)
		if (same_rule(&l->ent[i], name, hash, anyuid, uid))
			return -MX_ERR_EXISTS;
	if ((e = grow(l)) == NULL)
		return -MX_ERR_NOMEM;
	memcpy(e->name, name, strlen(name) + 1);
	memcpy(e->hash, hash, CRYPTO_HASH_LEN);
	e->anyuid = anyuid != 0;
	e->uid = anyuid ? 0 : uid;
	l->n++;
	return 0;
}

int
siglist_remove(struct siglist *l, const char *name, const uint8_t *hash)
{
	size_t i, o = 0;
	int gone = 0;

	for (i = 0; i < l->n; i++) {
		struct siglist_entry *e = &l->ent[i];

		if (e->line == NULL && strcmp(e->name, name) == 0 &&
		    (hash == NULL || memcmp(e->hash, hash, CRYPTO_HASH_LEN) == 0)) {
			gone++;
			continue;
		}
		l->ent[o++] = *e;
	}
	l->n = o;
	return gone > 0 ? gone : -MX_ERR_NOENT;
}

int
siglist_name_matches(const char *rule, const char *name)
{
	size_t n = strlen(rule);

	if (n > 2 && strcmp(rule + n - 2, "/*") == 0)
		return strncmp(name, rule, n - 1) == 0 && name[n - 1] != '\0';
	return strcmp(rule, name) == 0;
}

int
siglist_allows(const struct siglist *l, const uint8_t hash[CRYPTO_HASH_LEN],
    uid_t uid, const char *name)
{
	const struct siglist_entry *e;
	size_t i;

	if (!mx_name_valid(name))
		return 0;
	for (i = 0; i < l->n; i++) {
		e = &l->ent[i];
		if (e->line == NULL && siglist_name_matches(e->name, name) &&
		    memcmp(e->hash, hash, CRYPTO_HASH_LEN) == 0 &&
		    (e->anyuid || e->uid == uid))
			return 1;
	}
	return 0;
}
