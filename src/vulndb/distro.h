/* distro.h: the native feed formats of Debian and Ubuntu turned into OSV-shaped records (the
 * builder's one input shape), and the release names those feeds use.
 *  - The Debian security tracker's JSON (https://security-tracker.debian.org/tracker/data/json):
 *    {source package: {CVE: {description, releases: {codename: {status, fixed_version,
 *    urgency}}}}}. "resolved" with a version is fixed, version "0" is never affected;
 *    "open" and "undetermined" are unfixed. One record per (package, CVE).
 *  - The Ubuntu CVE tracker as JSON (one CVE per line): packages {release: {source: {status,
 *    note, priority}}}. "released" is fixed at `note`; needed, needs-triage, pending and
 *    deferred are unfixed; not-affected is never affected; DNE and ignored make no entry
 *    (as Trivy does); ESM, FIPS and other streams are not mapped.
 * Records and their strings are arena memory; fn returns nonzero to stop. */
#ifndef DD_DISTRO_H
#define DD_DISTRO_H
#include "vulndb/osv.h"

/* "bookworm" -> "12"; NULL for a codename not known (sid, experimental, ...). */
const char *debian_release_of(const char *codename);
/* "jammy" -> "22.04"; NULL for streams (esm-infra/focal), upstream, devel, unknown names. */
const char *ubuntu_release_of(const char *codename);

typedef int (*distro_record_fn)(void *ctx, const struct osv_record *r);

/* The whole tracker JSON. 0, DD_E_FEED_INVALID with *why, or fn's code. *skipped counts
 * entries that could not be used (a fixed version that is not a dpkg version). */
int debian_tracker_parse(struct arena *a, const char *data, size_t len, distro_record_fn fn, void *ctx,
			 size_t *skipped, const char **why);

/* One UCT record (one JSON line). 0 or DD_E_FEED_INVALID; *skipped as above. */
int ubuntu_uct_parse(struct arena *a, const char *data, size_t len, struct osv_record *out, size_t *skipped,
		     const char **why);

#endif
