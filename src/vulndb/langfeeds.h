/* langfeeds.h: readers for the language feeds that are not OSV, each record read into an OSV
 * record (osv.h) with SEMVER ranges: the Node.js security working group's npm advisories
 * (ecosystem npm, id NSWG-ECO-N), its Node.js runtime advisories (ecosystem Node.js, package
 * node, id NSWG-CORE-N: vulnerable and not patched), and RustSec's (ecosystem crates.io: every
 * version neither patched nor unaffected; informational and withdrawn advisories skipped). A
 * record with a CVE is keyed by it, its own id an alias. 0, or DD_E_FEED_INVALID with *why. */
#ifndef DD_LANGFEEDS_H
#define DD_LANGFEEDS_H
#include "vulndb/osv.h"
#include <stddef.h>

struct arena;

int npmwg_parse(struct arena *a, const char *data, size_t len, struct osv_record *out, const char **why);
int nodecore_parse(struct arena *a, const char *data, size_t len, struct osv_record *out, const char **why);
/* *skipped 1 for an advisory that is no vulnerability of a version (out left empty). */
int rustsec_parse(struct arena *a, const char *data, size_t len, struct osv_record *out, size_t *skipped,
		  const char **why);

#endif
