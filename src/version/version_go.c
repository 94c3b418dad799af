/* version_go.c: Go module versions in the order of golang.org/x/mod/semver: vMAJOR[.MINOR[.PATCH]]
 * [-PRERELEASE][+BUILD], "v1" and "v1.2" standing for v1.0.0 and v1.2.0; a pre-release (and so a
 * pseudo-version, v0.0.0-20210101000000-abcdef123456) sorts before its release, identifier by
 * identifier (numbers as numbers, below words); build metadata (+incompatible) is ignored.
 * OSV's Go records write versions without the 'v' ("1.2.3"; the standard library as the
 * toolchain's "1.21.5"): both spellings are read. */
#include "common/dd.h"
#include "version.h"

struct gover {
	const char *num[3];
	size_t nlen[3]; /* 0: absent ("0") */
	const char *pre;
	size_t pre_n;
};

static int digits(const char *s, size_t i, size_t n, size_t *end)
{
	size_t j = i;
	while (j < n && s[j] >= '0' && s[j] <= '9')
		j++;
	if (j == i || (s[i] == '0' && j - i > 1))
		return 1; /* none, or a leading zero */
	*end = j;
	return 0;
}

static int ident_ok(const char *s, size_t n)
{
	if (!n)
		return 0;
	int numeric = 1;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-'))
			return 0;
		numeric &= c >= '0' && c <= '9';
	}
	return !numeric || n == 1 || s[0] != '0';
}

static int parse(const char *s, size_t n, struct gover *v, const char **why)
{
	memset(v, 0, sizeof(*v));
	size_t i = n && s[0] == 'v' ? 1 : 0, end;
	for (int k = 0; k < 3; k++) {
		if (digits(s, i, n, &end)) {
			*why = "a Go module version is vMAJOR[.MINOR[.PATCH]][-PRERELEASE][+BUILD], numbers without leading zeros";
			return DD_E_VERSION_INVALID;
		}
		v->num[k] = s + i;
		v->nlen[k] = end - i;
		i = end;
		if (i < n && s[i] == '.' && k < 2)
			i++;
		else
			break;
	}
	if (i < n && s[i] == '-') { /* pre-release: dot-separated identifiers */
		size_t start = ++i;
		while (i < n && s[i] != '+')
			i++;
		v->pre = s + start;
		v->pre_n = i - start;
		for (size_t a = 0, b; a <= v->pre_n; a = b + 1) {
			b = a;
			while (b < v->pre_n && v->pre[b] != '.')
				b++;
			if (!ident_ok(v->pre + a, b - a)) {
				*why = "a pre-release identifier is letters, digits and '-' (a number without leading zeros)";
				return DD_E_VERSION_INVALID;
			}
		}
	}
	if (i < n && s[i] == '+') { /* build metadata: ignored, but well formed */
		size_t start = ++i;
		while (i < n) {
			char c = s[i];
			if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
			      (c == '.' && i > start && i + 1 < n && s[i + 1] != '.')))
				break;
			i++;
		}
		if (i == start) {
			*why = "empty build metadata";
			return DD_E_VERSION_INVALID;
		}
	}
	if (i != n) {
		*why = "a Go module version is vMAJOR[.MINOR[.PATCH]][-PRERELEASE][+BUILD]";
		return DD_E_VERSION_INVALID;
	}
	return 0;
}

static int num_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	if (an != bn)
		return an < bn ? -1 : 1;
	int r = memcmp(a, b, an);
	return r < 0 ? -1 : r > 0;
}

static int pre_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	size_t i = 0, j = 0;
	for (;;) {
		if (i > an || j > bn)
			return (i <= an) - (j <= bn); /* more identifiers sort after */
		size_t ie = i, je = j;
		while (ie < an && a[ie] != '.')
			ie++;
		while (je < bn && b[je] != '.')
			je++;
		int anum = ie > i, bnum = je > j;
		for (size_t k = i; k < ie; k++)
			anum &= a[k] >= '0' && a[k] <= '9';
		for (size_t k = j; k < je; k++)
			bnum &= b[k] >= '0' && b[k] <= '9';
		int r;
		if (anum && bnum)
			r = num_cmp(a + i, ie - i, b + j, je - j);
		else if (anum != bnum)
			r = anum ? -1 : 1; /* numbers below words */
		else {
			size_t m = ie - i < je - j ? ie - i : je - j;
			r = memcmp(a + i, b + j, m);
			if (!r)
				r = (ie - i > m) - (je - j > m);
		}
		if (r)
			return r < 0 ? -1 : 1;
		i = ie + 1;
		j = je + 1;
	}
}

int go_version_valid(const char *s, size_t n, const char **why)
{
	struct gover v;
	return parse(s, n, &v, why);
}

int go_version_cmp(const char *a, size_t an, const char *b, size_t bn, int *out, const char **why)
{
	struct gover x, y;
	if (parse(a, an, &x, why) || parse(b, bn, &y, why))
		return DD_E_VERSION_INVALID;
	int r = 0;
	for (int k = 0; k < 3 && !r; k++)
		r = num_cmp(x.nlen[k] ? x.num[k] : "0", x.nlen[k] ? x.nlen[k] : 1, y.nlen[k] ? y.num[k] : "0",
			    y.nlen[k] ? y.nlen[k] : 1);
	if (!r && (x.pre || y.pre))
		r = !x.pre ? 1 : !y.pre ? -1 : pre_cmp(x.pre, x.pre_n, y.pre, y.pre_n);
	*out = r;
	return 0;
}
