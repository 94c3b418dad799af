/* osv.h: one OSV record (https://ossf.github.io/osv-schema/, 1.6) parsed from untrusted JSON
 * into what drydock keeps: ids, texts, times, severity, references, and per affected package
 * its ecosystem, name, ranges (events in the feed's order) and explicit versions. The other
 * feed readers (alpine.h, distro.h) produce the same records, the builder's one input shape
 * (vulndb.h). */
#ifndef DD_OSV_H
#define DD_OSV_H
#include <stddef.h>

struct arena;

enum osv_event_kind { OSV_INTRODUCED, OSV_FIXED, OSV_LAST_AFFECTED, OSV_LIMIT };

struct osv_event {
	enum osv_event_kind kind;
	const char *version;
};

enum osv_range_type { OSV_RANGE_ECOSYSTEM, OSV_RANGE_SEMVER, OSV_RANGE_GIT };

struct osv_range {
	enum osv_range_type type;
	struct osv_event *events;
	size_t nevents;
};

struct osv_affected {
	const char *ecosystem; /* "Debian:12", "Alpine:v3.18", "Rocky Linux:9", ... */
	const char *name;      /* as the feed keys it (Debian: the source package) */
	struct osv_range *ranges;
	size_t nranges;
	const char **versions; /* explicit affected versions */
	size_t nversions;
	const char *urgency; /* ecosystem_specific.urgency (Debian), or NULL */
	const char *status;  /* the tracker's status (Ubuntu: needed, needs-triage, ...), or NULL */
	const char **imports; /* Go: the packages the vulnerable code is in (ecosystem_specific.imports) */
	size_t nimports;
};
#define OSV_MAX_IMPORT_PATH 512 /* a longer package path is no Go package's */

struct osv_record {
	const char *id, *summary, *details, *published, *modified;
	const char **aliases, **related;
	size_t naliases, nrelated;
	const char *cvss_v3; /* the CVSS v3 vector, or NULL */
	const char *severity; /* the vendor's rating for the whole record ("Important", "high"), or NULL */
	const char **references;
	size_t nreferences;
	struct osv_affected *affected;
	size_t naffected;
	int withdrawn; /* the record was withdrawn (OSV's "withdrawn"): it says nothing any more */
};

/* Parses one record from (data, len). 0, or DD_E_FEED_INVALID with *why (arena string). */
int osv_parse(struct arena *a, const char *data, size_t len, struct osv_record *out, const char **why);

#endif
