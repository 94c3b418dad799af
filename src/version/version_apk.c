/* version_apk.c: Alpine package versions, digit{.digit}...{letter}{_suffix{#}}...{~hash}{-r#},
 * ordered token by token as apk-tools 2.14/3 order them: numbers numerically (but a dotted
 * component with a leading zero compares as a string), pre-release suffixes (_alpha, _beta,
 * _pre, _rc) before the bare version, post-release ones (_cvs, _svn, _git, _hg, _p) after.
 * Where a version stops being valid, the tokens compared so far decide, then the kinds of
 * the next tokens, as apk does. */
#include "common/dd.h"
#include "version.h"

/* Token kinds, in the order a version may contain them. */
enum tok { T_FIRST, T_DIGIT, T_LETTER, T_SUFFIX, T_SUFFIX_NO, T_HASH, T_REVISION, T_END, T_INVALID };

/* Suffix ranks; NONE (no suffix) is the pivot between pre- and post-release. */
enum { S_INVALID, S_ALPHA, S_BETA, S_PRE, S_RC, S_NONE, S_CVS, S_SVN, S_GIT, S_HG, S_P };
static const char *const suffix_names[] = {"", "alpha", "beta", "pre", "rc", "", "cvs", "svn", "git", "hg", "p"};

struct cursor {
	const char *p, *end;
	enum tok kind;
	int suffix;
	uint64_t number;
	const char *val; /* the token's text */
	size_t val_len;
};

static int suffix_rank(const char *s, size_t n)
{
	for (int i = S_ALPHA; i <= S_P; i++)
		if (i != S_NONE && strlen(suffix_names[i]) == n && !memcmp(suffix_names[i], s, n))
			return i;
	return S_INVALID;
}

static void take_digits(struct cursor *c)
{
	c->val = c->p;
	c->number = 0;
	while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
		c->number = c->number * 10 + (uint64_t)(*c->p++ - '0');
	c->val_len = (size_t)(c->p - c->val);
	if (!c->val_len)
		c->kind = T_INVALID;
}

static void first(struct cursor *c, const char *s, size_t n)
{
	c->p = s;
	c->end = s + n;
	c->kind = T_FIRST;
	c->suffix = S_INVALID;
	take_digits(c);
}

/* Advances to the next token, checking that it may follow the current one. */
static void next(struct cursor *c)
{
	if (c->p >= c->end) {
		c->kind = T_END;
		return;
	}
	char ch = *c->p;
	enum tok prev = c->kind;
	if (ch >= 'a' && ch <= 'z') {
		if (prev > T_DIGIT)
			goto invalid;
		c->val = c->p++;
		c->val_len = 1;
		c->kind = T_LETTER;
	} else if (ch == '.' || (ch >= '0' && ch <= '9')) {
		if (ch == '.') {
			if (prev > T_DIGIT)
				goto invalid;
			c->p++;
		}
		if (prev == T_FIRST || prev == T_DIGIT)
			c->kind = T_DIGIT;
		else if (prev == T_SUFFIX && ch != '.')
			c->kind = T_SUFFIX_NO;
		else
			goto invalid;
		take_digits(c);
	} else if (ch == '_') {
		if (prev > T_SUFFIX_NO)
			goto invalid;
		c->val = ++c->p;
		while (c->p < c->end && *c->p >= 'a' && *c->p <= 'z')
			c->p++;
		c->val_len = (size_t)(c->p - c->val);
		c->suffix = suffix_rank(c->val, c->val_len);
		if (c->suffix == S_INVALID)
			goto invalid;
		c->kind = T_SUFFIX;
	} else if (ch == '~') {
		if (prev >= T_HASH)
			goto invalid;
		c->val = ++c->p;
		while (c->p < c->end && isxdigit((unsigned char)*c->p))
			c->p++;
		c->val_len = (size_t)(c->p - c->val);
		if (!c->val_len)
			goto invalid;
		c->kind = T_HASH;
	} else if (ch == '-') {
		if (prev >= T_REVISION || c->end - c->p < 2 || c->p[1] != 'r')
			goto invalid;
		c->p += 2;
		c->kind = T_REVISION;
		take_digits(c);
	} else
		goto invalid;
	return;
invalid:
	c->kind = T_INVALID;
}

static int bytes_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	int r = memcmp(a, b, an < bn ? an : bn);
	if (r)
		return r < 0 ? -1 : 1;
	return an == bn ? 0 : an < bn ? -1 : 1;
}

static int u64_cmp(uint64_t a, uint64_t b) { return a == b ? 0 : a < b ? -1 : 1; }

/* Compares two tokens of the same kind. */
static int token_cmp(const struct cursor *a, const struct cursor *b)
{
	switch (a->kind) {
	case T_DIGIT:
		if (a->val[0] == '0' || b->val[0] == '0') /* leading zero: as strings (Gentoo) */
			return bytes_cmp(a->val, a->val_len, b->val, b->val_len);
		return u64_cmp(a->number, b->number);
	case T_FIRST:
	case T_SUFFIX_NO:
	case T_REVISION:
		return u64_cmp(a->number, b->number);
	case T_LETTER:
		return a->val[0] == b->val[0] ? 0 : a->val[0] < b->val[0] ? -1 : 1;
	case T_SUFFIX:
		return a->suffix == b->suffix ? 0 : a->suffix < b->suffix ? -1 : 1;
	default:
		return bytes_cmp(a->val, a->val_len, b->val, b->val_len);
	}
}

int apk_version_valid(const char *s, size_t n)
{
	struct cursor c;
	for (first(&c, s, n); c.kind < T_END; next(&c))
		;
	return c.kind == T_END;
}

int apk_version_cmp(const char *a, size_t an, const char *b, size_t bn, int fuzzy)
{
	struct cursor x, y;
	for (first(&x, a, an), first(&y, b, bn); x.kind == y.kind && x.kind < T_END; next(&x), next(&y)) {
		int r = token_cmp(&x, &y);
		if (r)
			return r;
	}
	if (x.kind == y.kind || (fuzzy && y.kind == T_END))
		return 0;
	/* equal so far: the longer version is newer, unless it goes on with a pre-release */
	if (x.kind == T_SUFFIX && x.suffix < S_NONE)
		return -1;
	if (y.kind == T_SUFFIX && y.suffix < S_NONE)
		return 1;
	return x.kind > y.kind ? -1 : 1;
}
