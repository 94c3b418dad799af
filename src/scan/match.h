/* match.h: whether an installed version is affected by an OSV affected entry, by the OSV
 * range semantics exactly (introduced / fixed / last_affected / limit events, several
 * ranges, explicit versions), in the ecosystem's own version order. The matcher over whole
 * inventories and the findings come with the vulnerability database (issue 4). */
#ifndef DD_MATCH_H
#define DD_MATCH_H
#include "version/version.h"
#include "vulndb/osv.h"

/* The version scheme of an OSV ecosystem ("Debian:12" -> dpkg, "Alpine:v3.18" -> apk,
 * "Rocky Linux:9" -> rpm...). 0 or DD_E_UNSUPPORTED. */
int osv_ecosystem_scheme(const char *ecosystem, enum version_scheme *out);

struct match_result {
	int affected;
	const char *fixed; /* the lowest fixed version above the installed one, or NULL (no fix) */
};

/* Evaluates aff for `version`. 0, or DD_E_VERSION_INVALID when the installed version is not
 * a valid one (a feed version that is invalid makes its event count as absent). */
int osv_match(const struct osv_affected *aff, const char *version, struct match_result *out, const char **why);

struct inventory;
struct package;

struct finding {
	const char *id;             /* the record's id (CVE-..., DSA-...) */
	const struct package *pkg;  /* borrowed from the inventory */
	const char *installed;      /* the version compared (dpkg: the source version) */
	const char *fixed;          /* NULL when there is no fix (patchable = 0) */
	int patchable;
	const struct osv_record *record;
};

/* The OSV ecosystem of an inventory's OS ("Debian:12", "Alpine:v3.18", "Rocky Linux:9", ...),
 * arena string; DD_E_UNSUPPORTED for an OS no feed covers (the scan then says "unsupported",
 * never "no vulnerabilities"). */
int match_ecosystem(struct arena *a, const struct inventory *inv, const char **eco, const char **why);

/* Matches every package of inv against records (borrowed), with each distribution's rule:
 * dpkg by source package and source version, apk by origin, rpm by epoch:version-release and
 * the name the feed uses (Rocky Linux: the source RPM; AlmaLinux: the binary RPM). Findings
 * are arena memory, sorted by package then id. */
int match_inventory(struct arena *a, const struct inventory *inv, const struct osv_record *records, size_t n,
		    struct finding **out, size_t *nout, const char **why);

#endif
