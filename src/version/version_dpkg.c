/* version_dpkg.c: Debian version syntax and ordering (Debian Policy 5.6.12, dpkg's
 * parseversion and verrevcmp semantics). */
#include "common/dd.h"
#include "version.h"

static int upstream_char(char c)
{
	return isalnum((unsigned char)c) || c == '.' || c == '-' || c == '+' || c == '~' || c == ':';
}
static int revision_char(char c) { return isalnum((unsigned char)c) || c == '.' || c == '+' || c == '~'; }

int dpkg_version_parse(const char *s, size_t n, struct dpkg_version *out, const char **why)
{
	memset(out, 0, sizeof(*out));
	out->revision = "";
	*why = NULL;
	/* dpkg tolerates surrounding blanks, but not blanks inside */
	while (n && isspace((unsigned char)*s))
		s++, n--;
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	if (n == 0) {
		*why = "version string is empty";
		return DD_E_VERSION_INVALID;
	}
	for (size_t i = 0; i < n; i++) {
		if (isspace((unsigned char)s[i]) || !s[i]) {
			*why = "version string has embedded spaces";
			return DD_E_VERSION_INVALID;
		}
	}
	const char *colon = memchr(s, ':', n);
	if (colon) {
		if (colon == s) {
			*why = "epoch in version is empty";
			return DD_E_VERSION_INVALID;
		}
		unsigned long e = 0;
		for (const char *p = s; p < colon; p++) {
			if (*p < '0' || *p > '9') {
				*why = "epoch in version is not number";
				return DD_E_VERSION_INVALID;
			}
			e = e * 10 + (unsigned long)(*p - '0');
			if (e > INT_MAX) {
				*why = "epoch in version is too big";
				return DD_E_VERSION_INVALID;
			}
		}
		out->epoch = e;
		n -= (size_t)(colon + 1 - s);
		s = colon + 1;
		if (n == 0) {
			*why = "nothing after colon in version number";
			return DD_E_VERSION_INVALID;
		}
	}
	const char *dash = memrchr(s, '-', n);
	out->upstream = s;
	out->upstream_len = dash ? (size_t)(dash - s) : n;
	if (dash) {
		out->revision = dash + 1;
		out->revision_len = n - out->upstream_len - 1;
		if (out->revision_len == 0) {
			*why = "revision number is empty";
			return DD_E_VERSION_INVALID;
		}
	}
	if (out->upstream_len == 0) {
		*why = "version number is empty";
		return DD_E_VERSION_INVALID;
	}
	if (!isdigit((unsigned char)out->upstream[0])) {
		*why = "version number does not start with digit";
		return DD_E_VERSION_INVALID;
	}
	for (size_t i = 0; i < out->upstream_len; i++)
		if (!upstream_char(out->upstream[i])) {
			*why = "invalid character in version number";
			return DD_E_VERSION_INVALID;
		}
	for (size_t i = 0; i < out->revision_len; i++)
		if (!revision_char(out->revision[i])) {
			*why = "invalid character in revision number";
			return DD_E_VERSION_INVALID;
		}
	return 0;
}

/* Weight of a non-digit character: '~' before the end, the end before letters, letters
 * before everything else. */
static int weight(const char *p, const char *end)
{
	if (p >= end)
		return 0;
	unsigned char c = (unsigned char)*p;
	if (isdigit(c))
		return 0;
	if (isalpha(c))
		return c;
	if (c == '~')
		return -1;
	return c + 256;
}

/* Alternating non-digit and digit runs: the first compared by weight, the second as numbers. */
static int part_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	const char *ae = a + an, *be = b + bn;
	while (a < ae || b < be) {
		while ((a < ae && !isdigit((unsigned char)*a)) || (b < be && !isdigit((unsigned char)*b))) {
			int wa = weight(a, ae), wb = weight(b, be);
			if (wa != wb)
				return wa - wb;
			if (a < ae)
				a++;
			if (b < be)
				b++;
		}
		while (a < ae && *a == '0')
			a++;
		while (b < be && *b == '0')
			b++;
		int first = 0;
		while (a < ae && b < be && isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
			if (!first)
				first = *a - *b;
			a++, b++;
		}
		if (a < ae && isdigit((unsigned char)*a))
			return 1;
		if (b < be && isdigit((unsigned char)*b))
			return -1;
		if (first)
			return first;
	}
	return 0;
}

int dpkg_version_cmp(const struct dpkg_version *a, const struct dpkg_version *b)
{
	if (a->epoch != b->epoch)
		return a->epoch < b->epoch ? -1 : 1;
	int r = part_cmp(a->upstream, a->upstream_len, b->upstream, b->upstream_len);
	if (!r)
		r = part_cmp(a->revision, a->revision_len, b->revision, b->revision_len);
	return r < 0 ? -1 : r > 0;
}
