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
	struct siglist *l = calloc(1, sizeof(struct siglist));

	if (l != NULL)
		l->version = 1;
	return l;
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

int
siglist_unit_valid(const char *unit)
{
	size_t i, n = strnlen(unit, SIGLIST_UNIT_MAX + 1);

	if (n == 0 || n > SIGLIST_UNIT_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		char c = unit[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == ':' || c == '_' || c == '.' || c == '@' || c == '-' || c == '\\'))
			return 0;
	}
	return (n > 8 && strcmp(unit + n - 8, ".service") == 0) || (n > 6 && strcmp(unit + n - 6, ".scope") == 0);
}

/* The optional fields after the hash: [UID|*] [unit=UNIT] [private[=SERVICE,...]], in that order. */
static int
parse_options(struct siglist_entry *e, char **f, size_t nf, int version, char *why, size_t whysz)
{
	char q[64];
	size_t i = 2;

	e->anyuid = 1;
	if (i < nf && (strcmp(f[i], "*") == 0 || (f[i][0] >= '0' && f[i][0] <= '9'))) {
		if (strcmp(f[i], "*") != 0) {
			if (parse_uid(f[i], &e->uid) != 0) {
				quote(q, sizeof(q), f[i], strlen(f[i]));
				return crypto_fail(why, whysz, -MX_ERR_INVAL, "bad uid '%s'", q);
			}
			e->anyuid = 0;
		}
		i++;
	}
	if (i < nf && version >= 2 && strncmp(f[i], "unit=", 5) == 0) {
		if (!siglist_unit_valid(f[i] + 5)) {
			quote(q, sizeof(q), f[i] + 5, strlen(f[i] + 5));
			return crypto_fail(why, whysz, -MX_ERR_INVAL, "bad unit '%s' (NAME.service or NAME.scope)", q);
		}
		memcpy(e->unit, f[i] + 5, strlen(f[i] + 5) + 1);
		i++;
	}
	if (i < nf && version >= 2 && (strcmp(f[i], "private") == 0 || strncmp(f[i], "private=", 8) == 0)) {
		if (f[i][7] == '=' && !siglist_audience_valid(f[i] + 8)) {
			quote(q, sizeof(q), f[i] + 8, strlen(f[i] + 8));
			return crypto_fail(why, whysz, -MX_ERR_INVAL,
			    "bad private= list '%s' (names or PREFIX/* patterns, separated by ',')", q);
		}
		e->private = 1;
		if (f[i][7] == '=')	/* the line is at most SIGLIST_LINE_MAX: it fits */
			memcpy(e->audience, f[i] + 8, strlen(f[i] + 8) + 1);
		i++;
	}
	if (i < nf) {
		quote(q, sizeof(q), f[i], strlen(f[i]));
		if (nf == 3 && version < 2)
			return crypto_fail(why, whysz, -MX_ERR_INVAL, "bad uid '%s'", q);
		return crypto_fail(why, whysz, -MX_ERR_INVAL, "trailing text '%s'", q);
	}
	return 0;
}

/* One line (no newline, no NUL inside, n <= SIGLIST_LINE_MAX) into l. */
static int
parse_line(struct siglist *l, const char *p, size_t n, char *why, size_t whysz)
{
	char buf[SIGLIST_LINE_MAX + 1], q[64];
	char *f[6], *s;
	struct siglist_entry *e;
	size_t i, nf = 0, maxf = l->version >= 2 ? 5 : 3;
	int r;

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
		if (nf == maxf) {
			quote(q, sizeof(q), s, strlen(s));
			return crypto_fail(why, whysz, -MX_ERR_INVAL, "trailing text '%s'", q);
		}
		f[nf++] = s;
		while (*s != '\0' && *s != ' ' && *s != '\t')
			s++;
	}
	if (strcmp(f[0], "version") == 0) {
		/* Before any rule, once. */
		if (l->version != 1 || l->seen_rule)
			return crypto_fail(why, whysz, -MX_ERR_INVAL, "the version line must come first, once");
		if (nf != 2 || strcmp(f[1], "2") != 0) {
			quote(q, sizeof(q), nf > 1 ? f[1] : "", nf > 1 ? strlen(f[1]) : 0);
			return crypto_fail(why, whysz, -MX_ERR_INVAL,
			    "list version '%s' is not one this masix reads (1 or %d)", q, SIGLIST_VERSION);
		}
		l->version = 2;
		return 0;
	}
	l->seen_rule = 1;
	if ((e = grow(l)) == NULL)
		return crypto_fail(why, whysz, -MX_ERR_NOMEM, "out of memory");
	if (!siglist_name_valid(f[0])) {
		quote(q, sizeof(q), f[0], strlen(f[0]));
		return crypto_fail(why, whysz, -MX_ERR_INVAL, "bad name '%s'", q);
	}
	if (nf < 2)
		return crypto_fail(why, whysz, -MX_ERR_INVAL, "missing hash after '%s'", f[0]);
	if (l->version >= 2 && strcmp(f[1], "*") == 0) {
		e->anyhash = 1;
	} else if (crypto_hash_parse(f[1], e->hash) != 0) {
		quote(q, sizeof(q), f[1], strlen(f[1]));
		return crypto_fail(why, whysz, -MX_ERR_INVAL, "bad hash '%s'", q);
	}
	if ((r = parse_options(e, f, nf, l->version, why, whysz)) != 0)
		return r;
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

void
siglist_rule_format(const struct siglist_entry *e, char *out, size_t outsz)
{
	char hash[CRYPTO_HASH_STRLEN + 1], uid[16] = "";

	if (e->anyhash)
		snprintf(hash, sizeof(hash), "*");
	else
		crypto_hash_format(e->hash, hash);
	if (!e->anyuid)
		snprintf(uid, sizeof(uid), " %u", (unsigned)e->uid);
	snprintf(out, outsz, "%s %s%s%s%s%s%s%s", e->name, hash, uid, e->unit[0] ? " unit=" : "", e->unit,
	    e->private ? " private" : "", e->private && e->audience[0] ? "=" : "", e->private ? e->audience : "");
}

/* Written as version 2 always: a version 1 list reads the same way in version 2. */
int
siglist_format(const struct siglist *l, char **out, size_t *outlen)
{
	char rule[SIGLIST_LINE_MAX + 1];
	const struct siglist_entry *e;
	size_t i, cap = 16, o = 0;
	char *buf;
	int w;

	*out = NULL;
	/* Bound first: a rule is at most name + hash + uid + unit + private + separators. */
	for (i = 0; i < l->n; i++) {
		e = &l->ent[i];
		cap += (e->line ? strlen(e->line) : sizeof(rule)) + 1;
	}
	if ((buf = malloc(cap)) == NULL)
		return -MX_ERR_NOMEM;
	o = (size_t)snprintf(buf, cap, "version %d\n", SIGLIST_VERSION);
	for (i = 0; i < l->n; i++) {
		e = &l->ent[i];
		if (e->line != NULL) {
			w = snprintf(buf + o, cap - o, "%s\n", e->line);
		} else {
			siglist_rule_format(e, rule, sizeof(rule));
			w = snprintf(buf + o, cap - o, "%s\n", rule);
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
same_rule(const struct siglist_entry *e, const struct siglist_entry *r)
{
	/* Hashes of binaries are public: a plain comparison leaks nothing. */
	return e->line == NULL && strcmp(e->name, r->name) == 0 && e->anyhash == r->anyhash &&
	    (r->anyhash || memcmp(e->hash, r->hash, CRYPTO_HASH_LEN) == 0) &&
	    e->anyuid == r->anyuid && (r->anyuid || e->uid == r->uid) && strcmp(e->unit, r->unit) == 0 &&
	    e->private == r->private && strcmp(e->audience, r->audience) == 0;
}

int
siglist_add(struct siglist *l, const struct siglist_entry *rule)
{
	struct siglist_entry *e;
	size_t i;

	char line[SIGLIST_LINE_MAX + 2];

	if (rule->line != NULL || !siglist_name_valid(rule->name) || (!rule->anyuid && rule->uid > UID_MAX_VALUE) ||
	    (rule->unit[0] != '\0' && !siglist_unit_valid(rule->unit)) ||
	    (rule->audience[0] != '\0' && (!rule->private || !siglist_audience_valid(rule->audience))))
		return -MX_ERR_INVAL;
	/* It must read back: one line of at most SIGLIST_LINE_MAX bytes. */
	siglist_rule_format(rule, line, sizeof(line));
	if (strlen(line) > SIGLIST_LINE_MAX)
		return -MX_ERR_TOOBIG;
	for (i = 0; i < l->n; i++)
		if (same_rule(&l->ent[i], rule))
			return -MX_ERR_EXISTS;
	if ((e = grow(l)) == NULL)
		return -MX_ERR_NOMEM;
	*e = *rule;
	if (e->anyhash)
		memset(e->hash, 0, sizeof(e->hash));
	if (e->anyuid)
		e->uid = 0;
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
		    (hash == NULL || (!e->anyhash && memcmp(e->hash, hash, CRYPTO_HASH_LEN) == 0))) {
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
siglist_audience_valid(const char *audience)
{
	char pat[MX_NAME_LEN_MAX + 1];
	const char *p = audience, *comma;
	size_t n;

	if (strnlen(audience, SIGLIST_LINE_MAX + 1) > SIGLIST_LINE_MAX)
		return 0;
	do {
		comma = strchr(p, ',');
		n = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (n == 0 || n > MX_NAME_LEN_MAX)
			return 0;
		memcpy(pat, p, n);
		pat[n] = '\0';
		if (!siglist_name_valid(pat))
			return 0;
		p += n + 1;
	} while (comma != NULL);
	return 1;
}

int
siglist_audience_admits(const char *audience, const char *service)
{
	char pat[MX_NAME_LEN_MAX + 1];
	const char *p = audience, *comma;
	size_t n;

	/* No verified service: never. A bare "private": any verified service. */
	if (service[0] == '\0')
		return 0;
	if (audience[0] == '\0')
		return 1;
	do {
		comma = strchr(p, ',');
		n = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (n > 0 && n <= MX_NAME_LEN_MAX) {
			memcpy(pat, p, n);
			pat[n] = '\0';
			if (siglist_name_matches(pat, service))
				return 1;
		}
		p += n + 1;
	} while (comma != NULL);
	return 0;
}

static int
rule_admits(const struct siglist_entry *e, const struct siglist_who *w)
{
	return (e->anyhash || (w->has_hash && memcmp(e->hash, w->hash, CRYPTO_HASH_LEN) == 0)) &&
	    (e->anyuid || e->uid == w->uid) && (e->unit[0] == '\0' || strcmp(e->unit, w->unit) == 0);
}

void
siglist_decide(const struct siglist *l, const struct siglist_who *w, const char *name, int strict,
    struct siglist_verdict *v)
{
	char hash[CRYPTO_HASH_STRLEN + 1], unit[SIGLIST_UNIT_MAX + 16] = "";
	const struct siglist_entry *e, *covering = NULL;
	size_t i;

	memset(v, 0, sizeof(*v));
	v->kind = SIGLIST_DENY;
	if (!mx_name_valid(name)) {
		snprintf(v->why, sizeof(v->why), "not a valid name");
		return;
	}
	for (i = 0; i < l->n; i++) {
		e = &l->ent[i];
		if (e->line != NULL || !siglist_name_matches(e->name, name))
			continue;
		v->private |= e->private;
		if (covering == NULL)
			covering = e;
		if (rule_admits(e, w)) {
			v->kind = SIGLIST_ALLOW;
			siglist_rule_format(e, v->rule, sizeof(v->rule));
			/* Private if any rule covering the name says so. */
			for (i++; i < l->n; i++)
				if (l->ent[i].line == NULL && l->ent[i].private &&
				    siglist_name_matches(l->ent[i].name, name))
					v->private = 1;
			return;
		}
	}
	if (covering == NULL && !strict) {
		v->kind = SIGLIST_OPEN;
		return;
	}
	if (w->has_hash)
		crypto_hash_format(w->hash, hash);
	else
		snprintf(hash, sizeof(hash), "no hashed binary");
	if (w->unit[0] != '\0')
		snprintf(unit, sizeof(unit), " in %s", w->unit);
	if (covering == NULL) {
		snprintf(v->rule, sizeof(v->rule), "strict");
		snprintf(v->why, sizeof(v->why), "no rule for '%s' in the signature list (strict)", name);
		return;
	}
	snprintf(v->rule, sizeof(v->rule), "%s", covering->name);
	snprintf(v->why, sizeof(v->why), "uid %u running %s%s is not listed for %s", (unsigned)w->uid, hash, unit,
	    covering->name);
}

int
siglist_allows(const struct siglist *l, const uint8_t hash[CRYPTO_HASH_LEN],
    uid_t uid, const char *name)
{
	struct siglist_who w = { 1, { 0 }, uid, "" };
	struct siglist_verdict v;

	memcpy(w.hash, hash, CRYPTO_HASH_LEN);
	siglist_decide(l, &w, name, 0, &v);
	return v.kind == SIGLIST_ALLOW;
}
