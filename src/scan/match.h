/* match.h: whether an installed version is affected by an OSV affected entry, by the OSV
 * range semantics exactly (introduced / fixed / last_affected / limit events, several
 * ranges, explicit versions), in the ecosystem's own version order. Matching whole
 * inventories against the database, and the findings, are in findings.c. */
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

/* The OSV ecosystem of an inventory's OS ("Debian:12", "Ubuntu:22.04", "Alpine:v3.18",
 * "Red Hat:9", "Rocky Linux:9", ...), arena string; DD_E_UNSUPPORTED for an OS no feed
 * covers (the scan then says "unsupported", never "no vulnerabilities"). */
int match_ecosystem(struct arena *a, const struct inventory *inv, const char **eco, const char **why);

#endif
