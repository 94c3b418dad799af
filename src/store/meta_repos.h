/* meta_repos.h: the part of the metadata store that holds what repositories hold: which blobs
 * each may see, manifests, tags, referrers and upload sessions (meta.h says how the parts fit).
 * Holds no blob bytes (blobstore.h) and no assessments (meta_scans.h). */
#ifndef DD_META_REPOS_H
#define DD_META_REPOS_H
#include "meta.h"
#include <stddef.h>
#include <stdint.h>

struct arena;
struct audit_rec;
struct outbox_event;

struct manifest_rec {
	const char *repo;
	const char *digest;
	const char *media_type;
	const char *artifact_type; /* "" when none */
	const char *subject;       /* "" when none */
	const char *annotations;   /* JSON object text, "" when none */
	const char *content;
	int64_t size;
	int64_t created;
};

/* What a manifest names: a blob the repository must hold, a child manifest it must hold, or a
 * foreign (non-distributable) layer, which need not be there but is kept when it is. The values
 * are stored: append only, never renumber. */
enum ref_kind { REF_BLOB = 0, REF_MANIFEST = 1, REF_FOREIGN = 2 };
struct manifest_ref {
	const char *digest;
	enum ref_kind kind;
	int64_t size; /* as the manifest's descriptor gives it */
};

struct manifest_put {
	struct manifest_rec rec;
	const char *tag; /* NULL when pushed by digest */
	const struct manifest_ref *refs;
	size_t nrefs;
	int queue_scan; /* also queue its assessment (SCAN_PUSH, meta_scans.h) in the same transaction; an
			 * existing job keeps the more urgent priority */
	const struct audit_rec *audit; /* also record this audit entry (meta_admin.h), or NULL */
	const struct outbox_event *event; /* also add this webhook event (meta_outbox.h), or NULL */
};

/* Which cap refused a new upload session. */
enum upload_cap { UPLOAD_CAP_NONE, UPLOAD_CAP_ALL, UPLOAD_CAP_OWNER };

struct upload_rec {
	const char *id;
	const char *repo;
	int64_t offset; /* bytes acknowledged to the client */
	int64_t created;
};

/* A stored manifest as a listing of images shows it: its record (without content and
 * annotations), its tags and its latest assessment's summary (meta_scans.h). */
struct image_row {
	struct manifest_rec rec;
	const char *tags;   /* its tags, one per line; "" when none */
	const char *status; /* its assessment's status, NULL when it has none yet */
	const char *counts; /* its assessment's counts ("" when not recorded, NULL when none) */
	int64_t scanned_at; /* 0 when it has no assessment */
};

struct meta_repos_ops {
	int (*repo_exists)(struct meta *m, const char *repo);
	/* Records blob (digest, size) and lets repo see it (creating repo). */
	int (*blob_link)(struct meta *m, const char *repo, const char *digest, int64_t size);
	/* 0 with *size when repo may see the blob, else DD_E_BLOB_UNKNOWN. */
	int (*blob_linked)(struct meta *m, const char *repo, const char *digest, int64_t *size);
	int (*blob_unlink)(struct meta *m, const char *repo, const char *digest);
	/* Blobs no manifest of any repository names, last uploaded or mounted before `before`
	 * (unix seconds), in digest order after `after` ("" for the start): up to max, as arena
	 * arrays of digests and sizes. */
	int (*blobs_unreferenced)(struct meta *m, struct arena *a, int64_t before, const char *after, size_t max,
				  const char ***digests, int64_t **sizes, size_t *n);
	/* Forgets blob `digest` in every repository, if it is still unreferenced and was last
	 * uploaded or mounted before `before`: 0, or DD_E_NOT_FOUND when it no longer qualifies. */
	int (*blob_forget)(struct meta *m, const char *digest, int64_t before);
	/* 0 when the metadata records blob `digest` at all, else DD_E_BLOB_UNKNOWN. */
	int (*blob_known)(struct meta *m, const char *digest);
	/* The blobs the metadata records, and their bytes (each blob once, however many repositories
	 * hold it). */
	int (*blob_totals)(struct meta *m, int64_t *count, int64_t *bytes);
	/* Stores a manifest and moves its tag, atomically. DD_E_MANIFEST_BLOB_UNKNOWN when a
	 * reference is missing, naming it in *missing (arena copy). */
	int (*manifest_put)(struct meta *m, struct arena *a, const struct manifest_put *p, const char **missing);
	/* reference is a tag or a digest. DD_E_NAME_UNKNOWN or DD_E_MANIFEST_UNKNOWN when absent.
	 * with_content 0 leaves content NULL (for HEAD). */
	int (*manifest_get)(struct meta *m, struct arena *a, const char *repo, const char *reference, int is_digest,
			    int with_content, struct manifest_rec *out);
	/* Deletes a manifest and every tag that points to it, with its assessment and queued scan. */
	int (*manifest_delete)(struct meta *m, const char *repo, const char *digest);
	/* Manifests that no tag of their repository points to, no index there names, and whose
	 * subject (if any) the repository no longer holds, stored before `before`: up to max after
	 * (after_repo, after_digest) ("", "" for the start) in (repo, digest) order; parallel
	 * arena arrays. */
	int (*manifests_untagged)(struct meta *m, struct arena *a, int64_t before, const char *after_repo,
				  const char *after_digest, size_t max, const char ***repos, const char ***digests,
				  size_t *n);
	/* Deletes it as manifest_delete does if it still qualifies: 0, or DD_E_NOT_FOUND. */
	int (*manifest_forget_untagged)(struct meta *m, const char *repo, const char *digest, int64_t before);
	int (*tag_delete)(struct meta *m, const char *repo, const char *tag);
	/* Up to limit names after `last` ("" for the start), sorted; *more when others follow. */
	int (*tags_list)(struct meta *m, struct arena *a, const char *repo, const char *last, int64_t limit,
			 const char ***out, size_t *n, int *more);
	int (*catalog)(struct meta *m, struct arena *a, const char *last, int64_t limit, const char ***out,
		       size_t *n, int *more);
	/* The tags of (repo, digest), up to max, sorted; *more when others follow. Arena array. */
	int (*tags_of)(struct meta *m, struct arena *a, const char *repo, const char *digest, size_t max,
		       const char ***out, size_t *n, int *more);
	/* The manifests of repo (every repository when NULL), by repository and digest, with their
	 * tags and assessments. Arena array. */
	int (*images_list)(struct meta *m, struct arena *a, const char *repo, struct image_row **out, size_t *n);
	/* Manifests of repo whose subject is `subject`, filtered by artifact type when non-NULL. */
	int (*referrers)(struct meta *m, struct arena *a, const char *repo, const char *subject,
			 const char *artifact_type, struct manifest_rec **out, size_t *n);
	/* Records upload session id of repo for owner (an account, or "addr:<client address>"),
	 * unless max_sessions are open in all or max_per_owner (0: no cap) are open for owner: then
	 * DD_E_TOOMANYREQUESTS, *cap saying which. */
	int (*upload_create)(struct meta *m, const char *id, const char *repo, const char *owner, int64_t max_sessions,
			     int64_t max_per_owner, enum upload_cap *cap);
	int (*upload_get)(struct meta *m, struct arena *a, const char *id, struct upload_rec *out);
	/* Moves session id from offset `from` (where the request found it) to `offset`: DD_E_BUSY when
	 * it is no longer at `from` (another request moved it meanwhile). */
	int (*upload_set_offset)(struct meta *m, const char *id, int64_t from, int64_t offset);
	int (*upload_delete)(struct meta *m, const char *id);
	/* Ids of up to max sessions not touched since `before` (unix seconds), oldest first. */
	int (*uploads_stale)(struct meta *m, struct arena *a, int64_t before, size_t max, const char ***ids,
			     size_t *n);
	/* Ids of up to max sessions of owner, least recently created or moved on first. */
	int (*uploads_of_owner)(struct meta *m, struct arena *a, const char *owner, size_t max, const char ***ids,
				size_t *n);
};

#endif
