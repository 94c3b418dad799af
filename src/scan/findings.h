/* findings.h: an inventory matched against the vulnerability database: the findings, each
 * with severity, remediation and references, advisories folded into the CVEs they fix, and
 * the image's fix plan. Pure computation over the mapped database and the inventory; the
 * report formats and the scan jobs build on it. */
#ifndef DD_FINDINGS_H
#define DD_FINDINGS_H
#include <stddef.h>
#include "vulndb/vulndb.h"

struct arena;
struct inventory;
struct package;

struct finding {
	const char *id;             /* CVE-... when the issue has one, else the advisory id */
	const char **aliases;       /* other ids: advisories (DSA, RHSA, ...) and related CVEs */
	size_t naliases;
	const struct package *pkg;  /* borrowed from the inventory */
	const char *matched_name;   /* the name the feed keys it by (Debian: the source package) */
	const char *installed;      /* the version compared (dpkg: the source version) */
	const char *fixed;          /* NULL when no fix exists (patchable = 0) */
	int patchable;
	enum vdb_severity severity; /* vendor rating first, then CVSS v3, else UNKNOWN */
	const char *severity_source; /* "vendor", "cvss", "distribution:<ecosystem>" (another one's
				      * rating of the same vulnerability for a package of that name) or "none" */
	const char *tracker_status;  /* the distribution tracker's status (Ubuntu: needed, needs-triage,
				      * deferred, pending, released), or NULL */
	const char *vendor_severity; /* the vendor's own word, or NULL */
	double cvss_score;           /* -1 when none */
	const char *cvss_vector;
	const char *summary, *description, *published, *modified;
	const uint32_t *reference_list; /* in the database: use finding_reference() */
	size_t nreferences;
	const struct vulndb *db;
	const char *remediation; /* one sentence */
	size_t family;           /* same value for findings of one (source package, version) */
	/* Go: the packages the advisory says the vulnerable code is in, and whether the binary holds
	 * code of one of them (1), of none (0), or is not known to (-1: not Go, no packages named, or
	 * the binary's function table not read) */
	const char **imports;
	size_t nimports;
	int imported;
};

/* The ecosystem f was matched in: its application package's ("PyPI", "Go", ...), else the OS's
 * (os_eco, the scan result's ecosystem). */
const char *finding_ecosystem(const struct finding *f, const char *os_eco);

/* The i-th reference URL of f (borrowed from the database mapping). */
const char *finding_reference(const struct finding *f, size_t i);

/* One step of the fix plan: upgrading one package family clears these findings. */
struct fix_step {
	const char *source;     /* the source package (or the binary, for binary-keyed feeds) */
	const char *ecosystem;  /* the one its findings were matched in */
	const char *path;       /* an application package's files, or NULL */
	const char **packages;  /* installed packages to upgrade */
	size_t npackages;
	const char *from, *to;  /* versions as the feed compares them */
	size_t clears;          /* findings cleared */
	enum vdb_severity worst;
	size_t by_severity[VDB_SEV_CRITICAL + 1];
};

struct scan_result {
	const char *ecosystem;   /* the OS's; NULL when no feed covers it */
	const char *unsupported; /* why no feed applies, or NULL */
	const char *note;        /* why the OS packages were not matched while the application
				  * packages were, or NULL */
	struct finding *findings; /* sorted by severity (worst first), package, id */
	size_t n;
	size_t by_severity[VDB_SEV_CRITICAL + 1];
	size_t unfixed;
	struct fix_step *plan; /* worst first, then most cleared */
	size_t nplan;
};

/* Matches inv against db. Everything is arena memory; strings from the database are borrowed
 * from its mapping (keep db open while the result is used). An OS the database has no data
 * for gives 0 with result->unsupported set (never an empty "healthy" result). */
int scan_match(struct arena *a, const struct vulndb *db, const struct inventory *inv, struct scan_result *out,
	       const char **why);

/* Removes the findings drop() says to, and counts and plans the rest again: how many went. */
size_t scan_drop(struct arena *a, struct scan_result *r, int (*drop)(void *ctx, const struct finding *f), void *ctx);

#endif
