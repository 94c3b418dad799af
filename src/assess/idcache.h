/* idcache.h: which vulnerability ids (and aliases) each stored image's findings have, kept in
 * memory for the query tables, so that "the images with CVE-X" reads no report but those of the
 * images that have it. An entry is valid while the image's findings hash is the one stored (a
 * covering index gives every image's hash without its report); a stale or missing entry is
 * filled from the report. Images with the same ids share one list (kept under its SHA-256). Process-wide,
 * thread-safe, bounded (IDCACHE_MAX_BYTES, 256 MiB: past it the cache starts afresh). */
#ifndef DD_ASSESS_IDCACHE_H
#define DD_ASSESS_IDCACHE_H

#include <stddef.h>

struct arena;
struct assessment_rec;
struct meta;

/* The images (of repo, or all when NULL; by repo and digest) that have a finding whose id or
 * alias is one of values (compared as == does, or as =~ when icase): an arena array of records
 * with repo and digest set. 0, or the store's error. */
int idcache_images(struct meta *m, struct arena *a, const char *repo, const char *const *values, size_t nvalues,
		   int icase, struct assessment_rec **out, size_t *n);

/* Drops every entry (tests, and a store closed). */
void idcache_clear(void);

#endif
