/* version.c: dispatch by scheme, and validation messages. */
#include "common/dd.h"
#include "version.h"

int version_scheme_parse(const char *name, enum version_scheme *out)
{
	if (!strcmp(name, "dpkg") || !strcmp(name, "deb"))
		*out = VERSION_DPKG;
	else if (!strcmp(name, "rpm"))
		*out = VERSION_RPM;
	else if (!strcmp(name, "apk"))
		*out = VERSION_APK;
	else if (!strcmp(name, "pep440") || !strcmp(name, "pypi"))
		*out = VERSION_PEP440;
	else if (!strcmp(name, "go") || !strcmp(name, "golang") || !strcmp(name, "semver"))
		*out = VERSION_GO; /* SemVer 2.0's precedence, as golang.org/x/mod/semver orders it */
	else if (!strcmp(name, "maven"))
		*out = VERSION_MAVEN;
	else
		return DD_E_USAGE;
	return 0;
}

static int rpm_valid(const char *s, size_t n, const char **why)
{
	if (n == 0) {
		*why = "empty version";
		return DD_E_VERSION_INVALID;
	}
	/* rpm itself orders any bytes (non-alphanumerics separate segments); only NUL is refused */
	if (memchr(s, 0, n)) {
		*why = "rpm version has a NUL byte";
		return DD_E_VERSION_INVALID;
	}
	const char *colon = memchr(s, ':', n);
	if (colon) {
		if (colon == s) {
			*why = "empty rpm epoch";
			return DD_E_VERSION_INVALID;
		}
		for (const char *p = s; p < colon; p++)
			if (*p < '0' || *p > '9') {
				*why = "rpm epoch is not a number";
				return DD_E_VERSION_INVALID;
			}
	}
	return 0;
}

int version_validate(enum version_scheme scheme, const char *s, size_t n, const char **why)
{
	*why = NULL;
	switch (scheme) {
	case VERSION_DPKG: {
		struct dpkg_version v;
		return dpkg_version_parse(s, n, &v, why);
	}
	case VERSION_RPM:
		return rpm_valid(s, n, why);
	case VERSION_APK:
		if (apk_version_valid(s, n))
			return 0;
		*why = "not an apk version (digit{.digit}...{letter}{_suffix{#}}...{~hash}{-r#})";
		return DD_E_VERSION_INVALID;
	case VERSION_PEP440:
		return pep440_valid(s, n, why);
	case VERSION_GO:
		return go_version_valid(s, n, why);
	case VERSION_MAVEN:
		return maven_version_valid(s, n, why);
	}
	*why = "unknown version scheme";
	return DD_E_VERSION_INVALID;
}

int version_compare(enum version_scheme scheme, const char *a, size_t an, const char *b, size_t bn, int *cmp,
		    const char **why)
{
	*cmp = 0;
	*why = NULL;
	const char *w;
	if (scheme == VERSION_DPKG) { /* parsing validates: once per side */
		struct version_key k;
		if (version_prepare(scheme, a, an, &k, why))
			return DD_E_VERSION_INVALID;
		return version_compare_key(&k, b, bn, cmp, why);
	}
	if (scheme == VERSION_PEP440)
		return pep440_cmp(a, an, b, bn, cmp, why);
	if (scheme == VERSION_GO)
		return go_version_cmp(a, an, b, bn, cmp, why);
	if (scheme == VERSION_MAVEN)
		return maven_version_cmp(a, an, b, bn, cmp, why);
	if (version_validate(scheme, a, an, &w)) {
		*why = w;
		return DD_E_VERSION_INVALID;
	}
	if (version_validate(scheme, b, bn, &w)) {
		*why = w;
		return DD_E_VERSION_INVALID;
	}
	int r = 0;
	switch (scheme) {
	case VERSION_DPKG: {
		struct dpkg_version va, vb;
		dpkg_version_parse(a, an, &va, &w);
		dpkg_version_parse(b, bn, &vb, &w);
		r = dpkg_version_cmp(&va, &vb);
		break;
	}
	case VERSION_RPM:
		r = rpm_evr_cmp(a, an, b, bn);
		break;
	case VERSION_APK:
		r = apk_version_cmp(a, an, b, bn, 0);
		break;
	case VERSION_PEP440:
	case VERSION_GO:
	case VERSION_MAVEN:
		break; /* above */
	}
	*cmp = r < 0 ? -1 : r > 0;
	return 0;
}

int version_prepare(enum version_scheme scheme, const char *s, size_t n, struct version_key *out, const char **why)
{
	memset(out, 0, sizeof(*out));
	out->scheme = scheme;
	out->s = s;
	out->n = n;
	if (scheme == VERSION_DPKG)
		return dpkg_version_parse(s, n, &out->dpkg, why);
	return version_validate(scheme, s, n, why);
}

int version_compare_key(const struct version_key *a, const char *b, size_t bn, int *cmp, const char **why)
{
	*cmp = 0;
	*why = NULL;
	if (a->scheme != VERSION_DPKG)
		return version_compare(a->scheme, a->s, a->n, b, bn, cmp, why);
	struct dpkg_version vb;
	const char *w;
	if (dpkg_version_parse(b, bn, &vb, &w)) {
		*why = w;
		return DD_E_VERSION_INVALID;
	}
	int r = dpkg_version_cmp(&a->dpkg, &vb);
	*cmp = r < 0 ? -1 : r > 0;
	return 0;
}
