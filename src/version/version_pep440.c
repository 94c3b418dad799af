/* version_pep440.c: Python package versions as PEP 440 orders them (and as pip's `packaging`
 * normalises them): [N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local], with the spellings it
 * accepts (a leading 'v', "alpha", "beta", "c", "pre", "preview", "rev", "r", "-N" for a post
 * release, '-', '_' or '.' between parts or none, a number left out read as 0, any case).
 * Numbers of any length compare as numbers (digit strings, leading zeros dropped). */
#include "common/dd.h"
#include "version.h"

#define PEP440_MAX_RELEASE 64 /* components of the release segment */

struct num {
	const char *p; /* digits, leading zeros dropped ("" for 0) */
	size_t n;
};

struct pep440 {
	struct num epoch;
	struct num release[PEP440_MAX_RELEASE];
	size_t nrelease;
	int pre;             /* 0 none, 1 a, 2 b, 3 rc */
	struct num pre_n;
	int has_post, has_dev;
	struct num post_n, dev_n;
	const char *local; /* after '+', or NULL */
	size_t local_n;
};

static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int is_sep(char c) { return c == '.' || c == '-' || c == '_'; }

static size_t number(const char *s, size_t i, size_t n, struct num *out)
{
	size_t start = i;
	while (i < n && is_digit(s[i]))
		i++;
	size_t z = start;
	while (z < i && s[z] == '0')
		z++;
	out->p = s + z;
	out->n = i - z;
	return i;
}

/* Whether s[i..] starts with word (any case) not followed by a letter. */
static size_t word(const char *s, size_t i, size_t n, const char *w)
{
	size_t k = strlen(w);
	if (i + k > n || strncasecmp(s + i, w, k) || (i + k < n && is_alpha(s[i + k])))
		return 0;
	return k;
}

static int parse(const char *s, size_t n, struct pep440 *v, const char **why)
{
	memset(v, 0, sizeof(*v));
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n'))
		n--;
	size_t i = 0;
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n'))
		i++;
	if (i < n && (s[i] == 'v' || s[i] == 'V'))
		i++;
	if (i >= n || !is_digit(s[i])) {
		*why = "a PEP 440 version starts with a number";
		return DD_E_VERSION_INVALID;
	}
	struct num first;
	size_t j = number(s, i, n, &first);
	if (j < n && s[j] == '!') { /* an epoch */
		v->epoch = first;
		i = j + 1;
		if (i >= n || !is_digit(s[i])) {
			*why = "no release after the epoch";
			return DD_E_VERSION_INVALID;
		}
	}
	for (;;) {
		if (v->nrelease == PEP440_MAX_RELEASE) {
			*why = "more than 64 release components";
			return DD_E_VERSION_INVALID;
		}
		i = number(s, i, n, &v->release[v->nrelease++]);
		if (i + 1 < n && s[i] == '.' && is_digit(s[i + 1]))
			i++;
		else
			break;
	}
	/* pre-release: [sep](a|b|c|rc|alpha|beta|pre|preview)[sep][N] */
	size_t k = i + (i < n && is_sep(s[i]));
	static const struct {
		const char *w;
		int kind;
	} pres[] = {{"alpha", 1}, {"beta", 2}, {"preview", 3}, {"pre", 3}, {"rc", 3}, {"a", 1}, {"b", 2}, {"c", 3}};
	for (size_t p = 0; p < DD_ARRAY_LEN(pres) && k < n; p++) {
		size_t w = word(s, k, n, pres[p].w);
		if (!w)
			continue;
		v->pre = pres[p].kind;
		i = k + w;
		size_t m = i + (i < n && is_sep(s[i]));
		if (m < n && is_digit(s[m]))
			i = number(s, m, n, &v->pre_n);
		break;
	}
	/* post-release: -N, or [sep](post|rev|r)[sep][N] */
	if (i + 1 < n && s[i] == '-' && is_digit(s[i + 1])) {
		v->has_post = 1;
		i = number(s, i + 1, n, &v->post_n);
	} else {
		k = i + (i < n && is_sep(s[i]));
		static const char *const posts[] = {"post", "rev", "r"};
		for (size_t p = 0; p < DD_ARRAY_LEN(posts) && k < n; p++) {
			size_t w = strlen(posts[p]);
			if (k + w > n || strncasecmp(s + k, posts[p], w) || (k + w < n && is_alpha(s[k + w])))
				continue;
			v->has_post = 1;
			i = k + w;
			size_t m = i + (i < n && is_sep(s[i]));
			if (m < n && is_digit(s[m]))
				i = number(s, m, n, &v->post_n);
			break;
		}
	}
	/* development release: [sep]dev[sep][N] */
	k = i + (i < n && is_sep(s[i]));
	if (k + 3 <= n && !strncasecmp(s + k, "dev", 3) && (k + 3 == n || !is_alpha(s[k + 3]))) {
		v->has_dev = 1;
		i = k + 3;
		size_t m = i + (i < n && is_sep(s[i]));
		if (m < n && is_digit(s[m]))
			i = number(s, m, n, &v->dev_n);
	}
	if (i < n && s[i] == '+') { /* local version: alphanumerics separated by '.', '-' or '_' */
		v->local = s + i + 1;
		v->local_n = n - i - 1;
		if (!v->local_n || is_sep(v->local[0]) || is_sep(v->local[v->local_n - 1])) {
			*why = "an empty local version segment";
			return DD_E_VERSION_INVALID;
		}
		for (size_t p = 0; p < v->local_n; p++)
			if (!(is_digit(v->local[p]) || is_alpha(v->local[p]) ||
			      (is_sep(v->local[p]) && p + 1 < v->local_n && !is_sep(v->local[p + 1])))) {
				*why = "a local version is letters and digits separated by '.'";
				return DD_E_VERSION_INVALID;
			}
		i = n;
	}
	if (i != n) {
		*why = "not a PEP 440 version (N[.N]...[{a|b|rc}N][.postN][.devN][+local])";
		return DD_E_VERSION_INVALID;
	}
	return 0;
}

static int num_cmp(const struct num *a, const struct num *b)
{
	if (a->n != b->n)
		return a->n < b->n ? -1 : 1;
	if (!a->n)
		return 0; /* both 0 (a part left out has no digits to compare) */
	int r = memcmp(a->p, b->p, a->n);
	return r < 0 ? -1 : r > 0;
}

/* Release segments compared with trailing zeros dropped (1.0 == 1.0.0). */
static int release_cmp(const struct pep440 *a, const struct pep440 *b)
{
	size_t na = a->nrelease, nb = b->nrelease;
	while (na > 1 && !a->release[na - 1].n)
		na--;
	while (nb > 1 && !b->release[nb - 1].n)
		nb--;
	static const struct num zero = {"", 0};
	for (size_t i = 0; i < (na > nb ? na : nb); i++) {
		int r = num_cmp(i < na ? &a->release[i] : &zero, i < nb ? &b->release[i] : &zero);
		if (r)
			return r;
	}
	return 0;
}

/* packaging's key: a dev release of no pre- or post-release sorts before any pre-release of
 * its release; no pre-release sorts after them all. Returns the rank and number. */
static int pre_rank(const struct pep440 *v)
{
	if (!v->pre && !v->has_post && v->has_dev)
		return -1;
	return v->pre ? v->pre : 4;
}

/* One local segment: numbers sort after words, words by their lower case letters. */
static int local_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	size_t i = 0, j = 0;
	for (;;) {
		if (i >= an || j >= bn)
			return (i < an) - (j < bn); /* absent sorts first */
		size_t ie = i, je = j;
		while (ie < an && !is_sep(a[ie]))
			ie++;
		while (je < bn && !is_sep(b[je]))
			je++;
		int anum = 1, bnum = 1;
		for (size_t k = i; k < ie; k++)
			anum &= is_digit(a[k]);
		for (size_t k = j; k < je; k++)
			bnum &= is_digit(b[k]);
		int r;
		if (anum && bnum) {
			struct num x, y;
			number(a, i, ie, &x);
			number(b, j, je, &y);
			r = num_cmp(&x, &y);
		} else if (anum != bnum)
			r = anum ? 1 : -1;
		else {
			size_t m = ie - i < je - j ? ie - i : je - j;
			r = strncasecmp(a + i, b + j, m);
			if (!r)
				r = (ie - i > m) - (je - j > m);
		}
		if (r)
			return r < 0 ? -1 : 1;
		i = ie + (ie < an);
		j = je + (je < bn);
	}
}

static int cmp(const struct pep440 *a, const struct pep440 *b)
{
	int r = num_cmp(&a->epoch, &b->epoch);
	if (!r)
		r = release_cmp(a, b);
	if (!r) {
		int ra = pre_rank(a), rb = pre_rank(b);
		r = ra != rb ? (ra < rb ? -1 : 1) : (a->pre ? num_cmp(&a->pre_n, &b->pre_n) : 0);
	}
	if (!r)
		r = a->has_post != b->has_post ? (a->has_post ? 1 : -1) : num_cmp(&a->post_n, &b->post_n);
	if (!r)
		r = a->has_dev != b->has_dev ? (a->has_dev ? -1 : 1) : num_cmp(&a->dev_n, &b->dev_n);
	if (!r)
		r = !a->local != !b->local ? (a->local ? 1 : -1)
		    : a->local		 ? local_cmp(a->local, a->local_n, b->local, b->local_n)
					 : 0;
	return r;
}

int pep440_valid(const char *s, size_t n, const char **why)
{
	struct pep440 v;
	if (memchr(s, 0, n)) {
		*why = "a version has a NUL byte";
		return DD_E_VERSION_INVALID;
	}
	return parse(s, n, &v, why);
}

int pep440_cmp(const char *a, size_t an, const char *b, size_t bn, int *out, const char **why)
{
	struct pep440 va, vb;
	if (pep440_valid(a, an, why) || pep440_valid(b, bn, why))
		return DD_E_VERSION_INVALID;
	parse(a, an, &va, why);
	parse(b, bn, &vb, why);
	*out = cmp(&va, &vb);
	return 0;
}

size_t pep503_name(const char *name, size_t n, char *out, size_t cap)
{
	size_t k = 0;
	int sep = 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (c == '-' || c == '_' || c == '.') {
			sep = 1;
			continue;
		}
		if (sep && k) {
			if (k + 1 >= cap)
				return 0;
			out[k++] = '-';
		}
		sep = 0;
		if (k + 1 >= cap)
			return 0;
		out[k++] = (char)tolower((unsigned char)c);
	}
	out[k] = 0;
	return k;
}
