/* meta.h: the metadata store interface: repositories, which blobs each may see, manifests,
 * tags, referrers and upload sessions. A backend implements struct meta_ops (meta_sqlite.c
 * now; PostgreSQL later). Strings passed in are borrowed; results that hold strings are
 * allocated from the caller's arena. Every call is safe from any thread. */
#ifndef DD_META_H
#define DD_META_H
#include <stddef.h>
#include <stdint.h>

struct arena;
struct meta;

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
 * foreign (non-distributable) layer, which need not be there but is kept when it is. */
enum ref_kind { REF_BLOB, REF_MANIFEST, REF_FOREIGN };
struct manifest_ref {
	const char *digest;
	enum ref_kind kind;
	int64_t size; /* as the manifest's descriptor gives it */
};

struct audit_rec;

struct manifest_put {
	struct manifest_rec rec;
	const char *tag; /* NULL when pushed by digest */
	const struct manifest_ref *refs;
	size_t nrefs;
	int queue_scan; /* also queue its assessment (SCAN_PUSH) in the same transaction; an existing
			 * job keeps the more urgent priority */
	const struct audit_rec *audit; /* also record this audit entry, or NULL */
};

/* Which cap refused a new upload session. */
enum upload_cap { UPLOAD_CAP_NONE, UPLOAD_CAP_ALL, UPLOAD_CAP_OWNER };

struct upload_rec {
	const char *id;
	const char *repo;
	int64_t offset; /* bytes acknowledged to the client */
	int64_t created;
};

/* Scans: a durable queue of (repository, manifest) jobs and the latest assessment of each. */
enum scan_priority { SCAN_PUSH = 0, SCAN_REASSESS = 1 }; /* lower runs first */

struct scan_job {
	int64_t id;
	const char *repo, *digest;
	int priority;
};

struct assessment_rec {
	const char *repo, *digest;
	const char *status;    /* "Healthy", "Unhealthy", "NotApplicable", "Failed" */
	const char *reason;    /* why NotApplicable or Failed, "" otherwise */
	const char *report;    /* the scan report JSON, "" when none */
	const char *inventory; /* the inventory JSON re-matched on database changes, "" when none */
	const char *db_generation;
	const char *findings_hash; /* a digest of the findings: a re-assessment that finds the same skips rewriting */
	const char *counts; /* "C H M L N U F": findings per severity (CRITICAL first), then unfixed, before
			     * any suppression rule; "" when not recorded (assessments stored before) */
	int64_t scanned_at;
	int64_t duration_us;
};

/* Running totals of the stored assessments, kept by the store in the transaction of every
 * change to one (a push's, a re-assessment's, a deletion's), as the assessments' counts say:
 * before any suppression rule. */
struct assessment_total {
	const char *repo; /* "" in the registry-wide totals */
	const char *status;
	int64_t images;
	int64_t severity[6]; /* findings: CRITICAL, HIGH, MEDIUM, LOW, NEGLIGIBLE, UNKNOWN (the order of counts) */
	int64_t unfixed;
	int64_t uncounted; /* of the images, those without counts in their canonical form (stored before
			    * counts were): counted as zero findings here, their reports say */
};

struct scan_done {
	int64_t job;
	int unchanged; /* the same findings as stored: only the generation and time are updated */
	int inventory_kept; /* a re-assessment of the stored inventory: rec.inventory is not rewritten */
	struct assessment_rec rec;
	const char *ns, *month, *webhook_payload;
};

/* The audit log: who did what to which repository, rule or account, when. */
struct audit_rec {
	int64_t id, time;
	const char *actor;  /* account name, "anonymous", "-" (auth off) or "cli:<user>" */
	const char *action; /* "push", "delete", "tag-delete", "blob-delete", "gc-delete", "rule-create", ... */
	const char *target; /* "repo@digest", "repo:tag", a rule id, an account name */
	const char *detail; /* "" or a short JSON object */
};

struct meta_ops {
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
	/* Stores a manifest and moves its tag, atomically. DD_E_MANIFEST_BLOB_UNKNOWN when a
	 * reference is missing, naming it in *missing (arena copy). */
	int (*manifest_put)(struct meta *m, struct arena *a, const struct manifest_put *p, const char **missing);
	/* reference is a tag or a digest. DD_E_NAME_UNKNOWN or DD_E_MANIFEST_UNKNOWN when absent.
	 * with_content 0 leaves content NULL (for HEAD). */
	int (*manifest_get)(struct meta *m, struct arena *a, const char *repo, const char *reference, int is_digest,
			    int with_content, struct manifest_rec *out);
	/* Deletes a manifest and every tag that points to it. */
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
	/* Manifests of repo whose subject is `subject`, filtered by artifact type when non-NULL. */
	int (*referrers)(struct meta *m, struct arena *a, const char *repo, const char *subject,
			 const char *artifact_type, struct manifest_rec **out, size_t *n);
	/* Records upload session id of repo for owner (an account, or "addr:<client address>"),
	 * unless max_sessions are open in all or max_per_owner (0: no cap) are open for owner: then
	 * DD_E_TOOMANYREQUESTS, *cap saying which. */
	int (*upload_create)(struct meta *m, const char *id, const char *repo, const char *owner, int64_t max_sessions,
			     int64_t max_per_owner, enum upload_cap *cap);
	int (*upload_get)(struct meta *m, struct arena *a, const char *id, struct upload_rec *out);
	int (*upload_set_offset)(struct meta *m, const char *id, int64_t offset);
	int (*upload_delete)(struct meta *m, const char *id);
	/* Ids of up to max sessions not touched since `before` (unix seconds), oldest first. */
	int (*uploads_stale)(struct meta *m, struct arena *a, int64_t before, size_t max, const char ***ids,
			     size_t *n);
	/* Ids of up to max sessions of owner, least recently created or moved on first. */
	int (*uploads_of_owner)(struct meta *m, struct arena *a, const char *owner, size_t max, const char ***ids,
				size_t *n);
	/* Claims the most urgent, oldest queued jobs (marked running): one when pushes are waiting,
	 * else up to max re-assessments. Arena array; DD_E_NOT_FOUND when none. */
	int (*scan_claim)(struct meta *m, struct arena *a, size_t max, struct scan_job **out, size_t *n);
	/* For each done scan, in one transaction: stores the assessment, removes the job, counts
	 * one scan for `ns` in `month` ("2026-11"; ns NULL: not counted, as for re-assessments) and
	 * adds webhook_payload (when not NULL) to the webhook outbox. A job whose manifest was
	 * deleted meanwhile is dropped. */
	int (*scan_complete)(struct meta *m, const struct scan_done *done, size_t n);
	/* At start: running jobs back to queued, and a job for every manifest without an assessment
	 * or a job (so nothing pushed is ever left unassessed, whatever crashed when). */
	int (*scan_recover)(struct meta *m);
	/* Queues a re-assessment of every assessment made with another database generation, and of
	 * every Failed one that has an inventory (its matching failed). */
	int (*scan_enqueue_stale)(struct meta *m, const char *generation, int64_t *queued);
	/* Job state of (repo, digest): -1 none, 0 queued, 1 running. */
	int (*scan_job_state)(struct meta *m, const char *repo, const char *digest, int *state);
	int (*scan_queue_depth)(struct meta *m, int64_t *queued, int64_t *running);
	/* DD_E_NOT_FOUND when there is none. */
	int (*assessment_get)(struct meta *m, struct arena *a, const char *repo, const char *digest,
			      struct assessment_rec *out);
	/* The stored inventory of (repo, digest) alone (what a re-assessment needs). */
	int (*assessment_inventory)(struct meta *m, struct arena *a, const char *repo, const char *digest,
				    const char **inventory, const char **findings_hash);
	/* Assessments of repo (all when NULL), without report and inventory texts, by repo, digest. */
	int (*assessments_list)(struct meta *m, struct arena *a, const char *repo, struct assessment_rec **out,
				size_t *n);
	/* The running totals by status of repository repo, of the whole registry (repo ""), or of every
	 * repository (NULL: by repository, then status); statuses with no image left out. Arena array. */
	int (*assessment_totals)(struct meta *m, struct arena *a, const char *repo, struct assessment_total **out,
				 size_t *n);
	/* Scans counted per namespace and month: parallel arrays. */
	int (*usage_list)(struct meta *m, struct arena *a, const char ***ns, const char ***month, int64_t **count,
			  size_t *n);
	/* Scanning per namespace (the first path component); enabled unless set otherwise. */
	int (*ns_scanning_get)(struct meta *m, const char *ns, int *enabled);
	int (*ns_scanning_set)(struct meta *m, const char *ns, int enabled);
	/* Settings: small JSON documents by key ("suppression/<id>", "policy/<namespace>"). */
	int (*setting_put)(struct meta *m, const char *key, const char *value);
	/* DD_E_NOT_FOUND when absent. */
	int (*setting_get)(struct meta *m, struct arena *a, const char *key, const char **value);
	int (*setting_delete)(struct meta *m, const char *key);
	/* Keys starting with prefix, in key order, and their values: parallel arrays. */
	int (*settings_list)(struct meta *m, struct arena *a, const char *prefix, const char ***keys,
			     const char ***values, size_t *n);
	/* The webhook outbox: events stored durably, delivered and retried by the deliverer. */
	int (*outbox_add)(struct meta *m, const char *payload);
	/* Up to max events due at `now` (id order): parallel arrays of ids, payloads, attempts. */
	int (*outbox_due)(struct meta *m, struct arena *a, int64_t now, size_t max, int64_t **ids,
			  const char ***payloads, int **attempts, size_t *n);
	int (*outbox_done)(struct meta *m, int64_t id);
	int (*outbox_retry)(struct meta *m, int64_t id, int64_t next_at);
	int (*audit_add)(struct meta *m, const struct audit_rec *e);
	/* Up to max entries with id > after, oldest first (arena array). */
	int (*audit_list)(struct meta *m, struct arena *a, int64_t after, size_t max, struct audit_rec **out,
			  size_t *n);
	void (*free)(struct meta *m);
};

struct meta {
	const struct meta_ops *ops;
};

/* SQLite backend in file `path` (WAL). Returns an owned store. */
int meta_sqlite_open(const char *path, struct meta **out);

#endif
