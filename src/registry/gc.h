/* gc.h: garbage collection of the blob store, safe while the registry serves.
 *
 * A blob is collected when no manifest of any repository names it (as its config, a layer
 * or a foreign layer) and it was last uploaded or mounted longer ago than the grace period,
 * which covers pushes whose manifest has not arrived yet. Files in the store that the
 * metadata does not record at all (a crash between a commit and its record) are collected
 * under the same grace. Manifests are collected only when asked (delete_untagged): those no tag
 * points to, no index of their repository names, and no subject there still holds (a referrer
 * whose image is gone), round after round, as deleting an index unties its children. */
#ifndef DD_GC_H
#define DD_GC_H
#include <stdint.h>
#include <stdio.h>

struct meta;
struct blobstore;
struct space;

struct gc_options {
	int64_t grace;         /* seconds */
	int dry_run;           /* count and list, remove nothing (untagged manifests: the first round) */
	int delete_untagged;   /* also delete untagged manifests stored before the grace period */
	const char *cache_dir; /* the layer cache, whose entries of removed blobs go too; or NULL */
	FILE *list;            /* each blob collected, "<digest> <bytes>" per line; or NULL */
	const char *actor;     /* who, in the audit log of deleted manifests ("cli:<user>") */
	struct space *space;   /* whose reserve is released when the disk is too full to commit; or NULL */
};

/* Layer cache entries removed: of blobs gone, left by an interrupted write, or beyond the bytes
 * of the blobs the cache describes. */
struct gc_cache_result {
	int64_t entries, bytes;
};

struct gc_result {
	int64_t manifests;        /* untagged manifests deleted */
	int64_t blobs, bytes;     /* unreferenced blobs the metadata recorded */
	int64_t orphans, orphan_bytes; /* files the metadata did not record */
	struct gc_cache_result cache;  /* layer cache entries (gc_trim_cache), when cache_dir is set */
};

/* 0, or the first error of the stores (what was collected before it stays collected). */
int gc_run(struct meta *m, struct blobstore *bs, const struct gc_options *o, struct gc_result *out);

/* Keeps the layer cache in cache_dir to the blobs it describes: removes the entries of blobs the
 * store no longer holds and temporary files an interrupted write left, then, while the entries
 * weigh more than their blobs by over DD_LAYER_CACHE_SLACK_BYTES, those largest next to their
 * blob first (the least reading saved per byte), the least recently used among equals. A dry
 * run removes nothing; list gets a line per entry. 0 or DD_E_NOMEM. */
int gc_trim_cache(struct blobstore *bs, const char *cache_dir, int dry_run, FILE *list, struct gc_cache_result *out);

#endif
