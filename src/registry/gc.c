/* gc.c: mark and sweep over the metadata, then over the blob store's files.
 *
 * Concurrency with a running registry (another process, or threads of this one):
 *  - The metadata decides, one blob per transaction: blob_forget deletes a blob's record only
 *    if, at that moment, no manifest names it and it was not uploaded or mounted within the
 *    grace period. A manifest PUT that commits first keeps the blob; one that commits after
 *    finds the blob unknown and is refused with MANIFEST_BLOB_UNKNOWN, so a client retries the
 *    push instead of holding a manifest whose layer is gone.
 *  - The file goes while the collector holds the blob store's gc lock exclusively; an upload
 *    holds it shared from its commit to its record, so it never records a blob whose file the
 *    collector is about to remove.
 *  - A reader that opened the file before keeps reading it; one that comes after gets
 *    BLOB_UNKNOWN.
 *  - On a full disk SQLite cannot even delete: each metadata change here that fails for lack
 *    of room releases a step of the reserve (store/space.h) and runs again.
 *
 * The layer cache (what each layer held, by digest, written by the scanner) is kept to the
 * blobs it describes (gc_trim_cache): entries of blobs gone, and beyond that the entries that
 * save the least reading for the room they take. It only costs a layer read again. */
#include "common/dd.h"
#include "gc.h"
#include "common/arena.h"
#include "common/digest.h"
#include "common/log.h"
#include "common/util.h"
#include "events/hooks.h"
#include "store/meta_outbox.h"
#include "image/layer_cache.h"
#include "store/blobstore.h"
#include "store/meta_admin.h"
#include "store/meta_repos.h"
#include "store/space.h"
#include <dirent.h>

#define GC_BATCH 64 /* blobs per hold of the exclusive lock (one transaction each): what an upload may wait */

static void drop(struct blobstore *bs, const struct gc_options *o, const char *digest)
{
	int rc = bs->ops->blob_remove(bs, digest);
	if (rc) /* recorded no more: a later run removes the file as an orphan */
		log_warn("gc: cannot remove blob %s: %s", digest, dd_err_message(rc));
	if (o->cache_dir && layer_cache_remove(o->cache_dir, digest))
		log_warn("gc: cannot remove the layer cache entry of %s", digest);
}

/* Untagged manifests, round after round (an index deleted unties its children), at most
 * GC_ROUNDS deep; a dry run sees the first round only. */
#define GC_ROUNDS 64

static int sweep_untagged(struct meta *m, const struct gc_options *o, int64_t before, struct gc_result *out)
{
	struct arena a = {0};
	int rc = 0;
	for (int round = 0; round < GC_ROUNDS && !rc; round++) {
		char after_repo[DD_MAX_NAME_BYTES + 1] = "", after_digest[DD_MAX_DIGEST_BYTES + 1] = "";
		int64_t deleted = 0;
		for (;;) {
			const char **repos, **digests;
			size_t n;
			arena_free(&a);
			rc = m->repos->manifests_untagged(m, &a, before, after_repo, after_digest, GC_BATCH, &repos, &digests, &n);
			if (rc || !n)
				break;
			snprintf(after_repo, sizeof(after_repo), "%s", repos[n - 1]);
			snprintf(after_digest, sizeof(after_digest), "%s", digests[n - 1]);
			for (size_t i = 0; i < n && !rc; i++) {
				if (!o->dry_run) {
					SPACE_RETRY(o->space, rc, m->repos->manifest_forget_untagged(m, repos[i], digests[i], before));
					if (rc == DD_E_NOT_FOUND) { /* tagged or named meanwhile */
						rc = 0;
						continue;
					}
					if (rc)
						break;
					struct audit_rec e = {.time = util_now(), .actor = o->actor ? o->actor : "gc",
							      .action = "gc-delete",
							      .target = arena_printf(&a, "%s@%s", repos[i], digests[i]),
							      .detail = "{\"reason\":\"untagged\"}"};
					int arc;
					SPACE_RETRY(o->space, arc, m->admin->audit_add(m, &e));
					if (arc)
						log_warn("gc: cannot record the deletion of %s in the audit log", e.target);
					const char *hook = hook_event(&a, HOOK_IMAGE_DELETED, repos[i], digests[i], e.time,
								      json_pack("{s:s, s:s}", "actor", e.actor, "reason",
										"untagged (garbage collection)"));
					struct outbox_event ev = {.type = HOOK_IMAGE_DELETED, .repo = repos[i], .payload = hook};
					if (hook && m->outbox->outbox_add(m, &ev))
						log_warn("gc: cannot queue the webhook event of the deletion of %s", e.target);
				}
				deleted++;
				out->manifests++;
				if (o->list)
					fprintf(o->list, "%s@%s (untagged manifest)\n", repos[i], digests[i]);
			}
			if (rc || n < GC_BATCH)
				break;
		}
		if (!deleted || o->dry_run)
			break;
	}
	arena_free(&a);
	return rc;
}

/* The blobs the metadata records that nothing names. */
static int sweep_recorded(struct meta *m, struct blobstore *bs, const struct gc_options *o, int64_t before,
			  struct gc_result *out)
{
	struct arena a = {0};
	char after[DD_MAX_DIGEST_BYTES + 1] = "";
	int rc = 0;
	for (;;) {
		const char **digests;
		int64_t *sizes;
		size_t n;
		arena_free(&a); /* the last batch's names */
		if ((rc = m->repos->blobs_unreferenced(m, &a, before, after, GC_BATCH, &digests, &sizes, &n)) || !n)
			break;
		snprintf(after, sizeof(after), "%s", digests[n - 1]);
		int lock = -1;
		if (!o->dry_run && (rc = bs->ops->gc_lock(bs, 1, &lock)))
			break;
		for (size_t i = 0; i < n && !rc; i++) {
			if (!o->dry_run) {
				SPACE_RETRY(o->space, rc, m->repos->blob_forget(m, digests[i], before));
				if (rc == DD_E_NOT_FOUND) { /* named or uploaded again meanwhile */
					rc = 0;
					continue;
				}
				if (rc)
					break;
				drop(bs, o, digests[i]);
			}
			out->blobs++;
			out->bytes += sizes[i];
			if (o->list)
				fprintf(o->list, "%s %" PRId64 "\n", digests[i], sizes[i]);
		}
		if (lock >= 0)
			bs->ops->gc_unlock(bs, lock);
		if (rc || n < GC_BATCH)
			break;
	}
	arena_free(&a);
	return rc;
}

struct file_list {
	struct arena *a;
	int64_t before;
	const char **v;
	size_t n, cap;
	int nomem;
};

static void collect_old(void *ctx, const char *digest, int64_t mtime)
{
	struct file_list *l = ctx;
	if (mtime >= l->before || l->nomem)
		return;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 1024;
		const char **v = realloc(l->v, cap * sizeof(*v));
		if (!v) {
			l->nomem = 1;
			return;
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = arena_strdup(l->a, digest);
}

/* The files older than the grace period that the metadata does not record. */
static int sweep_files(struct meta *m, struct blobstore *bs, const struct gc_options *o, int64_t before,
		       struct gc_result *out)
{
	struct arena a = {0};
	struct file_list l = {.a = &a, .before = before};
	int rc = bs->ops->blobs_each(bs, collect_old, &l);
	if (!rc && l.nomem)
		rc = DD_E_NOMEM;
	for (size_t i = 0; i < l.n && !rc; i += GC_BATCH) {
		int lock = -1;
		if (!o->dry_run && (rc = bs->ops->gc_lock(bs, 1, &lock)))
			break;
		for (size_t k = i; k < l.n && k < i + GC_BATCH && !rc; k++) {
			rc = m->repos->blob_known(m, l.v[k]);
			if (!rc) /* recorded: the first sweep's business */
				continue;
			if (rc != DD_E_BLOB_UNKNOWN)
				break;
			rc = 0;
			int64_t size = 0;
			if (bs->ops->blob_stat(bs, l.v[k], &size))
				continue; /* gone meanwhile */
			if (!o->dry_run)
				drop(bs, o, l.v[k]);
			out->orphans++;
			out->orphan_bytes += size;
			if (o->list)
				fprintf(o->list, "%s %" PRId64 " (no record)\n", l.v[k], size);
		}
		if (lock >= 0)
			bs->ops->gc_unlock(bs, lock);
	}
	free(l.v);
	arena_free(&a);
	return rc;
}

/* ---- the layer cache ---- */

/* A temporary file of the layer cache older than this was left by a crash mid-write. */
#define CACHE_TMP_AGE 3600

struct cache_entry {
	char *name;
	int64_t size, blob; /* the entry's bytes, its blob's */
	int64_t used;       /* last read or written (atime is coarse, but orders well enough) */
};

/* The entries that save the least reading per byte they take first (largest next to their
 * blob), then the least recently used. */
static int cache_order(const void *pa, const void *pb)
{
	const struct cache_entry *a = pa, *b = pb;
	double ra = (double)a->size / (double)(a->blob > 0 ? a->blob : 1);
	double rb = (double)b->size / (double)(b->blob > 0 ? b->blob : 1);
	if (ra != rb)
		return ra > rb ? -1 : 1;
	return a->used < b->used ? -1 : a->used > b->used;
}

static void cache_drop(int dfd, const char *name, int64_t size, const char *why, int dry_run, FILE *list,
		       struct gc_cache_result *out)
{
	if (!dry_run && unlinkat(dfd, name, 0) && errno != ENOENT) {
		log_warn("gc: cannot remove the layer cache entry '%s': %s", name, strerror(errno));
		return;
	}
	out->entries++;
	out->bytes += size;
	if (list)
		fprintf(list, "cache/layers/%s %" PRId64 " (layer cache: %s)\n", name, size, why);
}

/* The digest a cache file name stands for (layer_cache.c names an entry "<alg>-<hex>"); 0 or -1. */
static int cache_digest(const char *name, struct digest *d)
{
	char text[DD_MAX_DIGEST_BYTES + 1];
	const char *dash = strchr(name, '-'), *why;
	int n = dash ? snprintf(text, sizeof(text), "%.*s:%s", (int)(dash - name), name, dash + 1) : -1;
	if (n < 0 || (size_t)n >= sizeof(text))
		return -1;
	return digest_parse(text, (size_t)n, d, &why) ? -1 : 0;
}

int gc_trim_cache(struct blobstore *bs, const char *cache_dir, int dry_run, FILE *list, struct gc_cache_result *out)
{
	memset(out, 0, sizeof(*out));
	DIR *d = cache_dir ? opendir(cache_dir) : NULL;
	if (!d)
		return 0; /* no cache (yet) */
	struct cache_entry *v = NULL;
	size_t n = 0, cap = 0;
	int64_t total = 0, described = 0, now = util_now();
	int rc = 0;
	struct dirent *e;
	while ((e = readdir(d)) && !rc) {
		struct stat st;
		struct digest dg;
		int64_t blob;
		if (e->d_name[0] == '.' || fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode))
			continue;
		if (strstr(e->d_name, ".tmp-")) {
			if (st.st_mtime < now - CACHE_TMP_AGE)
				cache_drop(dirfd(d), e->d_name, st.st_size, "left by an interrupted write", dry_run, list, out);
			continue;
		}
		if (cache_digest(e->d_name, &dg))
			continue; /* not ours */
		int brc = bs->ops->blob_stat(bs, dg.str, &blob);
		if (brc == DD_E_BLOB_UNKNOWN) {
			cache_drop(dirfd(d), e->d_name, st.st_size, "its blob is gone", dry_run, list, out);
			continue;
		}
		if (brc)
			continue;
		if (n == cap) {
			size_t ncap = cap ? 2 * cap : 256;
			struct cache_entry *nv = realloc(v, ncap * sizeof(*nv));
			if (!nv) {
				rc = DD_E_NOMEM;
				break;
			}
			v = nv;
			cap = ncap;
		}
		if (!(v[n].name = strdup(e->d_name))) {
			rc = DD_E_NOMEM;
			break;
		}
		v[n].size = st.st_size;
		v[n].blob = blob;
		v[n].used = st.st_atime > st.st_mtime ? st.st_atime : st.st_mtime;
		total += st.st_size;
		described += blob;
		n++;
	}
	if (!rc && total > described + DD_LAYER_CACHE_SLACK_BYTES) {
		qsort(v, n, sizeof(*v), cache_order);
		for (size_t i = 0; i < n && total > described + DD_LAYER_CACHE_SLACK_BYTES; i++) {
			cache_drop(dirfd(d), v[i].name, v[i].size, "over the bytes of the blobs it describes", dry_run, list,
				   out);
			total -= v[i].size;
		}
	}
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
	closedir(d);
	if (out->entries && !dry_run)
		log_info("gc: removed %" PRId64 " layer cache entries (%" PRId64 " bytes): of blobs gone, or beyond the "
			 "bytes of the blobs they describe",
			 out->entries, out->bytes);
	return rc;
}

int gc_run(struct meta *m, struct blobstore *bs, const struct gc_options *o, struct gc_result *out)
{
	memset(out, 0, sizeof(*out));
	int64_t before = util_now() - o->grace;
	int rc = o->delete_untagged ? sweep_untagged(m, o, before, out) : 0;
	if (!rc)
		rc = sweep_recorded(m, bs, o, before, out);
	if (!rc)
		rc = sweep_files(m, bs, o, before, out);
	if (!rc && o->cache_dir)
		rc = gc_trim_cache(bs, o->cache_dir, o->dry_run, o->list, &out->cache);
	return rc;
}
