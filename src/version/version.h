/* version.h: package version comparison in each ecosystem's own order: dpkg (epochs,
 * '~'), rpm (rpmvercmp with '~' and '^', epoch:version-release), apk (Alpine/Gentoo
 * style: letters, _alpha.._p suffixes, ~hash, -rN), PEP 440 (Python), Go modules and Maven.
 * Pure functions over (pointer, length); no allocation (but Maven's, which builds its parse
 * trees on the heap). A version that is not valid in its scheme is an error that says why,
 * never silently ordered. */
#ifndef DD_VERSION_H
#define DD_VERSION_H
#include <stddef.h>

enum version_scheme { VERSION_DPKG, VERSION_RPM, VERSION_APK, VERSION_PEP440, VERSION_GO, VERSION_MAVEN };

/* "dpkg", "rpm", "apk", "pep440" (or "pypi") or "go"; 0 or DD_E_USAGE. */
int version_scheme_parse(const char *name, enum version_scheme *out);

/* 0 with *cmp = -1, 0 or 1 (a older, equal, newer), or DD_E_VERSION_INVALID with *why naming
 * the side and the reason. */
int version_compare(enum version_scheme scheme, const char *a, size_t an, const char *b, size_t bn, int *cmp,
		    const char **why);
/* 0 when s is a valid version of the scheme, else DD_E_VERSION_INVALID with *why. */
int version_validate(enum version_scheme scheme, const char *s, size_t n, const char **why);

/* ---- per scheme ---- */

struct dpkg_version {
	unsigned long epoch;
	const char *upstream; /* into the input */
	size_t upstream_len;
	const char *revision; /* "" (length 0) for a native version */
	size_t revision_len;
};
/* Parses [epoch:]upstream[-revision] by dpkg's rules (parseversion). */
int dpkg_version_parse(const char *s, size_t n, struct dpkg_version *out, const char **why);
int dpkg_version_cmp(const struct dpkg_version *a, const struct dpkg_version *b);

/* rpm's rpmvercmp on bare version (or release) strings; always defined. */
int rpm_vercmp(const char *a, size_t an, const char *b, size_t bn);
/* [epoch:]version[-release]: epoch absent counts as 0, release absent as "". */
int rpm_evr_cmp(const char *a, size_t an, const char *b, size_t bn);

/* apk: 1 when valid; compare returns -1, 0, 1 (invalid parts sort as apk sorts them). With
 * fuzzy, a equals b when b is a prefix of a's components (apk's '~' dependency operator). */
int apk_version_valid(const char *s, size_t n);
int apk_version_cmp(const char *a, size_t an, const char *b, size_t bn, int fuzzy);

/* PEP 440 (Python packages, as pip's `packaging` reads them) and Go module versions
 * (golang.org/x/mod/semver's order, with or without the leading 'v'): 0, or
 * DD_E_VERSION_INVALID with *why. */
int pep440_valid(const char *s, size_t n, const char **why);
int pep440_cmp(const char *a, size_t an, const char *b, size_t bn, int *cmp, const char **why);
/* A Python distribution name as PEP 503 normalises it (lower case, runs of '-', '_' and '.' as
 * one '-') into out (cap bytes): the length, or 0 when it does not fit or is empty. */
size_t pep503_name(const char *name, size_t n, char *out, size_t cap);
int go_version_valid(const char *s, size_t n, const char **why);
int go_version_cmp(const char *a, size_t an, const char *b, size_t bn, int *cmp, const char **why);
/* Maven's ComparableVersion order (version_maven.c): any printable text is a version. */
int maven_version_valid(const char *s, size_t n, const char **why);
int maven_version_cmp(const char *a, size_t an, const char *b, size_t bn, int *cmp, const char **why);

/* A version parsed once and compared with many (the installed version against every fixed
 * version of a package's entries). Borrows s. */
struct version_key {
	enum version_scheme scheme;
	const char *s;
	size_t n;
	struct dpkg_version dpkg;
};
/* 0, or DD_E_VERSION_INVALID with *why. */
int version_prepare(enum version_scheme scheme, const char *s, size_t n, struct version_key *out, const char **why);
/* As version_compare(a, b) with a prepared. */
int version_compare_key(const struct version_key *a, const char *b, size_t bn, int *cmp, const char **why);

#endif
