/* semver_range.h: version ranges as npm (node-semver) and Cargo write them, read into sets of
 * intervals of SemVer versions, and written back as OSV ranges (introduced, fixed,
 * last_affected): how the Node.js security working group's and RustSec's advisories, which
 * are not OSV, join the database.
 *
 * node-semver: `||` between alternatives, comparators joined by spaces (all must hold),
 * `<`, `<=`, `>`, `>=`, `=`, hyphen ranges (`1.2 - 2.3.4`), x-ranges (`1.x`, `1.2.*`, `*`),
 * tilde (`~1.2.3`: >=1.2.3 <1.3.0-0) and caret (`^0.2.3`: >=0.2.3 <0.3.0-0); a bare version is
 * that version. Cargo: comparators joined by `,`, and a bare version is a caret requirement.
 * Untrusted input: at most 4096 bytes and 64 intervals. */
#ifndef DD_SEMVER_RANGE_H
#define DD_SEMVER_RANGE_H
#include <stddef.h>

struct arena;
struct osv_range;

struct sv_bound {
	const char *v; /* a full SemVer version "X.Y.Z[-PRE]", or NULL: unbounded */
	int incl;
};

struct sv_interval {
	struct sv_bound lo, hi;
};

struct sv_set {
	struct sv_interval *v;
	size_t n;
};

enum sv_dialect { SV_NPM, SV_CARGO };

/* 0 with *out (arena), or DD_E_FEED_INVALID with *why naming what is wrong. */
int sv_parse(struct arena *a, const char *text, enum sv_dialect d, struct sv_set *out, const char **why);
/* The versions in neither of the sets of `of`, as a set. */
void sv_complement(struct arena *a, const struct sv_set *s, struct sv_set *out);
void sv_intersect(struct arena *a, const struct sv_set *x, const struct sv_set *y, struct sv_set *out);
void sv_union(struct arena *a, const struct sv_set *x, const struct sv_set *y, struct sv_set *out);
/* 1 when version v (full SemVer) is in s. */
int sv_contains(const struct sv_set *s, const char *v);
/* s as OSV SEMVER ranges, one per interval (arena): *n of them. */
void sv_to_osv(struct arena *a, const struct sv_set *s, struct osv_range **out, size_t *n);

#endif
