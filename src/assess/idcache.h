/* idcache.h: each stored image's findings as the query tables read them most (id and aliases,
 * package and severity), kept in memory, so that "the images with CVE-X" or "findings by
 * severity" read no report. An entry is
 * valid while the image's findings hash is the one stored (a covering index gives every image's
 * hash without its report); a stale or missing entry is filled from the report. Images with the
 * same findings share one list (kept under its SHA-256: no image's list can stand for
 * another's). Process-wide, thread-safe, bounded (IDCACHE_MAX_BYTES, 256 MiB: past it the cache
 * starts afresh; lists in use stay until their callers are done). */
#ifndef DD_ASSESS_IDCACHE_H
#define DD_ASSESS_IDCACHE_H

#include <stddef.h>

struct arena;
struct assessment_rec;
struct meta;

/* One finding of a stored report, read-only and shared between threads. */
struct idc_finding {
	const char *id, *package;
	const char *path;    /* an application package's files, else "" */
	const char *version; /* the package's version as installed */
	const char *severity; /* as the report has it: CRITICAL, HIGH, ... ("" when none) */
	const char *const *aliases;
	size_t naliases;
};

/* The images (of repo, or all when NULL; by repo and digest) that have a finding whose id or
 * alias is one of values (compared as == does, or as =~ when icase): an arena array of records
 * with repo and digest set. 0, or the store's error. */
int idcache_images(struct meta *m, struct arena *a, const char *repo, const char *const *values, size_t nvalues,
		   int icase, struct assessment_rec **out, size_t *n);

/* Calls fn for each assessed image of repo (all when NULL), by repo and digest, with its findings
 * (rec has repo, digest and findings_hash; f stays valid until fn returns) and the key of their
 * list (the SHA-256 of their content, in hex: images whose findings are the same have the same
 * key). Stops at fn's first non-zero value and returns it; otherwise 0, or the store's error. */
typedef int (*idcache_fn)(void *ctx, const struct assessment_rec *rec, const char *key, const struct idc_finding *f,
			  size_t n);
int idcache_each(struct meta *m, const char *repo, idcache_fn fn, void *ctx);

/* Fills the cache with every stored image's findings (a server just started, in the background,
 * so that its first query reads no report); stops early when stop(ctx) returns non-zero. 0, or
 * the store's error. */
int idcache_warm(struct meta *m, int (*stop)(void *ctx), void *ctx);

/* Drops every entry (tests, and a store closed). */
void idcache_clear(void);

#endif
