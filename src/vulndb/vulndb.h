/* vulndb.h: the compiled vulnerability database: one file, opened read-only with mmap and
 * shared by every scan (the server swaps in a new generation atomically), and the builder
 * that turns feed records into that file (build.c; reading it is vulndb.c, severities
 * severity.c). The layout is in format.h; the feed readers that feed the builder are osv.c,
 * alpine.c and distro.c (the Debian and Ubuntu trackers), feed.c reads the files they come in,
 * and import.c recognises each file's format from its content. */
#ifndef DD_VULNDB_H
#define DD_VULNDB_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "vulndb/format.h"
#include "vulndb/osv.h"

struct arena;
struct vulndb;

/* Where the CLI keeps the database unless told: $DRYDOCK_DB, else
 * $XDG_CACHE_HOME/drydock/vulndb.ddb, else ~/.cache/drydock/vulndb.ddb (static storage). */
const char *vulndb_default_path(void);

/* Opens the file at path and validates its header (magic, format, size) and that every section
 * lies inside it: 0, DD_E_IO (cannot open; *why says so) or DD_E_DB_INVALID. The CRC of the
 * body is checked by reading the file: before this returns when the process has another
 * database open (a replacement, refused when damaged while the other answers), otherwise by a
 * thread while the caller goes on. Lookups wait for that check; a database that fails it
 * answers nothing, and vulndb_verify says why. *out is owned: vulndb_close. */
int vulndb_open(const char *path, struct vulndb **out, const char **why);
/* Same over bytes the caller keeps alive (fuzzing, tests), the CRC checked at once. */
int vulndb_open_mem(const void *data, size_t len, struct vulndb **out, const char **why);
/* Waits for the CRC check of db: 0, or DD_E_DB_INVALID with *why (borrowed from db) when the
 * file is damaged. Whatever answers from the database (a scan, `db info`) asks this first. */
int vulndb_verify(const struct vulndb *db, const char **why);
void vulndb_close(struct vulndb *db);

const struct vdb_header *vulndb_header(const struct vulndb *db);
/* A feed whose data is older than this many days is stale: `drydock db info` warns of it, and
 * the dashboard's overview (GET /api/v1/database) marks it. */
#define VDB_STALE_DAYS 7
/* The string at a pool offset ("" for 0 or an offset out of bounds). */
const char *vulndb_str(const struct vulndb *db, uint32_t off);
size_t vulndb_nfeeds(const struct vulndb *db);
const struct vdb_feed *vulndb_feed(const struct vulndb *db, size_t i);
size_t vulndb_necos(const struct vulndb *db);
const struct vdb_eco *vulndb_eco(const struct vulndb *db, size_t i);
/* 1 when some feed has data for this ecosystem ("Debian:12"). */
int vulndb_has_ecosystem(const struct vulndb *db, const char *eco);
size_t vulndb_nvulns(const struct vulndb *db);
const struct vdb_vuln *vulndb_vuln(const struct vulndb *db, uint32_t i);
/* The string offsets of a list (aliases, references, versions); NULL when out of bounds. */
const uint32_t *vulndb_list(const struct vulndb *db, uint32_t first, uint32_t n);

/* The known-exploited note on vulnerability id (a CVE id), or NULL; vulndb_kev_of: on id or any
 * of ids[0..n) (a finding's id and aliases). */
const struct vdb_kev *vulndb_kev(const struct vulndb *db, const char *id);
const struct vdb_kev *vulndb_kev_of(const struct vulndb *db, const char *id, const char *const *ids, size_t n);
size_t vulndb_nkev(const struct vulndb *db);
const struct vdb_kev *vulndb_kev_at(const struct vulndb *db, size_t i); /* i < vulndb_nkev, else NULL */

/* The entries for (ecosystem, package name), borrowed from the mapping; *n = 0 when none. */
const struct vdb_entry *vulndb_lookup(const struct vulndb *db, const char *eco, const char *name, size_t *n);
/* The entry of vulnerability id among a package's entries e[0..n) (vulndb_lookup's: sorted by
 * vulnerability id), or NULL. */
const struct vdb_entry *vulndb_entry_of(const struct vulndb *db, const struct vdb_entry *e, size_t n, const char *id);
/* A package's entries and the fixes its VDB_SIMPLE entries name (format.h): 1, or 0 when the
 * database has nothing for (ecosystem, name). */
struct vdb_pkg {
	const struct vdb_entry *entries;
	size_t n;
	const uint32_t *fixes; /* string offsets, ascending in the ecosystem's version order */
	size_t nfixes;
};
int vulndb_lookup_pkg(const struct vulndb *db, const char *eco, const char *name, struct vdb_pkg *out);
/* An entry as the matcher's affected entry: ranges and events in the arena, strings borrowed
 * from the mapping. */
void vulndb_entry_affected(const struct vulndb *db, const struct vdb_entry *e, const char *eco, const char *name,
			   struct arena *a, struct osv_affected *out);

/* Severity: the vendor's words and CVSS v3 scores normalised to one scale. */
const char *vdb_severity_name(enum vdb_severity s); /* "CRITICAL" ... "UNKNOWN" */
/* The tracker status an entry's flags carry ("needed", "needs-triage", ...), or NULL. */
const char *vdb_tracker_status_name(unsigned flags);
enum vdb_severity vdb_severity_of_name(const char *name); /* its inverse; UNKNOWN for any other text */
/* Debian urgency, Ubuntu priority, Red Hat / AlmaLinux / Rocky impact; UNKNOWN otherwise. */
enum vdb_severity vdb_severity_from_vendor(const char *raw);
enum vdb_severity vdb_severity_from_score(double score);
/* The CVSS v3.0/v3.1 base score of a vector ("CVSS:3.1/AV:N/AC:L/..."): 0, or
 * DD_E_FEED_INVALID when the vector is not a complete, valid v3 base vector. */
int vdb_cvss3_score(const char *vector, double *score);

/* The builder: owned state, vdb_builder_free. Records are copied in; strings deduplicated. */
struct vdb_builder;
struct vdb_builder *vdb_builder_new(void);
void vdb_builder_free(struct vdb_builder *b);
/* Starts a feed; later records count towards it. */
void vdb_builder_feed(struct vdb_builder *b, const char *name, const char *kind, const char *origin);
/* Adds one record (borrowed). Ecosystem names are normalised ("Red Hat:enterprise_linux:9::
 * baseos" -> "Red Hat:9", "Ubuntu:22.04:LTS" -> "Ubuntu:22.04"); entries of ecosystems no
 * scan can use (upstream GIT ranges only) are skipped. The same (ecosystem, package,
 * vulnerability) from two records keeps the most recently modified record's entries. A
 * withdrawn record adds nothing, and counts as skipped. */
void vdb_builder_add(struct vdb_builder *b, const struct osv_record *r);
/* Raises the current feed's snapshot time to t (a file's time, for feeds without dates). */
void vdb_builder_feed_time(struct vdb_builder *b, int64_t t);
/* Adds a known-exploited note (strings borrowed; date_added "YYYY-MM-DD" also raises the
 * current feed's snapshot); a cve given twice is kept once. */
void vdb_builder_kev(struct vdb_builder *b, const char *cve, const char *date_added, const char *due_date,
		     const char *action, const char *name, int ransomware);
/* Counts a record a feed reader could not use. */
void vdb_builder_skip(struct vdb_builder *b);
/* Writes the file atomically (a temporary beside it, fsync, rename, fsync of the directory).
 * 0, DD_E_IO or DD_E_TOO_LARGE (over 4 GiB) with *why. */
int vdb_builder_write(struct vdb_builder *b, const char *path, const char **why);

/* Imports a feed file or a directory of them (import.c); warnings about skipped records go
 * to warn when not NULL. 0, or DD_E_IO / DD_E_TOO_LARGE with *why naming the file. */
int vdb_import_path(struct vdb_builder *b, const char *path, FILE *warn, const char **why);

#endif
