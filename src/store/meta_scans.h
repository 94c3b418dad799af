/* meta_scans.h: the part of the metadata store that holds scans: a durable queue of
 * (repository, manifest) jobs, the latest assessment of each manifest and their running totals,
 * scans counted per namespace and month, and whether a namespace is scanned at all (meta.h says
 * how the parts fit). A manifest's job is queued by manifest_put (meta_repos.h) in the push's
 * own transaction, and its job and assessment go with manifest_delete. */
#ifndef DD_META_SCANS_H
#define DD_META_SCANS_H
#include "meta.h"
#include <stddef.h>
#include <stdint.h>

struct arena;
struct outbox_event;

/* A job's priority, lower runs first. The values are stored: never renumber. */
enum scan_priority { SCAN_PUSH = 0, SCAN_REASSESS = 1 };

/* A job's state. QUEUED, RUNNING and DONE are stored: never renumber. DONE (SQLite): the
 * assessment is stored, and the row waits to be deleted with the others (no job, to every
 * reader): deleted one at a time, each took a page of the (repo, digest) index at a random
 * place. Queuing the image again makes it QUEUED. */
enum scan_job_state { SCAN_JOB_NONE = -1, SCAN_JOB_QUEUED = 0, SCAN_JOB_RUNNING = 1, SCAN_JOB_DONE = 2 };

struct scan_job {
	int64_t id;
	const char *repo, *digest;
	enum scan_priority priority;
};

struct assessment_rec {
	const char *repo, *digest;
	const char *status;    /* the name of an enum assessment_status (scan/status.h), as stored */
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

/* The history of the running totals (before any suppression rule), by UTC day ("2026-12-06"),
 * namespace and status: how that day's changes moved them (images and findings may be negative:
 * the level on a day is the sum of the deltas up to it), and the assessments written that day. */
struct assessment_day {
	const char *day; /* "" for the sum of every day before the one asked from */
	const char *ns, *status;
	int64_t images, severity[6], unfixed, assessed;
};

struct scan_done {
	int64_t job;
	int unchanged; /* the same findings as stored: only the generation and time are updated */
	int inventory_kept; /* a re-assessment of the stored inventory: rec.inventory is not rewritten */
	struct assessment_rec rec;
	const char *ns, *month;
	const struct outbox_event *events; /* its webhook events (meta_outbox.h), to each target that wants them */
	size_t nevents;
};

/* Whether a done scan leaves an inventory stored (kept, or written now): what a new database
 * re-assesses (scan_enqueue_stale's rule). A push that failed or found nothing to read has none. */
static inline int scan_done_reassessable(const struct scan_done *d)
{
	return d->unchanged || d->inventory_kept || (d->rec.inventory && *d->rec.inventory);
}

struct meta_scans_ops {
	/* Claims the most urgent, oldest queued jobs (marked running): one when pushes are waiting,
	 * else up to max re-assessments. Arena array; DD_E_NOT_FOUND when none. generation: the
	 * claiming node's database; on a store shared by many nodes, re-assessments go only to a node
	 * whose database is the newest (db_generation_offer), NULL: any. */
	int (*scan_claim)(struct meta *m, struct arena *a, size_t max, const char *generation, struct scan_job **out,
			  size_t *n);
	/* For each done scan, in one transaction: stores the assessment, removes the job, counts
	 * one scan for `ns` in `month` ("2026-11"; ns NULL: not counted, as for re-assessments) and
	 * adds its events to the webhook outbox (meta_outbox.h). A job whose
	 * manifest was deleted meanwhile is dropped. */
	int (*scan_complete)(struct meta *m, const struct scan_done *done, size_t n);
	/* Renews the lease of running jobs ids (n of them) for another scan_lease from now: a node
	 * calls it for the jobs it still holds, so a scan that runs longer than the lease is not
	 * claimed again by another node meanwhile. Jobs stored or deleted meanwhile are skipped.
	 * SQLite: nothing to do (one process, whose claims are reset when it starts). */
	int (*scan_renew)(struct meta *m, const int64_t *ids, size_t n);
	/* At start: running jobs back to queued, and a job for every manifest without an assessment
	 * or a job (so nothing pushed is ever left unassessed, whatever crashed when). */
	int (*scan_recover)(struct meta *m);
	/* Queues a re-assessment of every assessment made with another database generation, and of
	 * every Failed one that has an inventory (its matching failed). */
	int (*scan_enqueue_stale)(struct meta *m, const char *generation, int64_t *queued);
	/* A store shared by many nodes, each with a database of its own: a node offers the one it
	 * put in place (its generation and build time). One put in place while the node runs
	 * (`replaced`: an update, or a rollback to an older file) becomes the registry's; one a node
	 * starts with does only when it is the newest offered (built last; the greater generation of
	 * two built at once), so a node restarting with an old file changes nothing. *behind 0 when
	 * this one is the registry's (now, or already), else 1 with the registry's generation and
	 * build time in *newest, *newest_built_at. A single node's store: always 0. */
	int (*db_generation_offer)(struct meta *m, struct arena *a, const char *generation, int64_t built_at,
				   int replaced, int *behind, const char **newest, int64_t *newest_built_at);
	/* Queues a scan of manifest (repo, digest) at priority p (SCAN_PUSH reads its layers again);
	 * *queued 0 when a job for it is already there. DD_E_MANIFEST_UNKNOWN when the repository
	 * holds no such manifest. */
	int (*scan_enqueue)(struct meta *m, const char *repo, const char *digest, enum scan_priority p, int *queued);
	/* The job of (repo, digest): SCAN_JOB_NONE when there is none. */
	int (*scan_job_state)(struct meta *m, const char *repo, const char *digest, enum scan_job_state *state);
	int (*scan_queue_depth)(struct meta *m, int64_t *queued, int64_t *running);
	/* DD_E_NOT_FOUND when there is none. */
	int (*assessment_get)(struct meta *m, struct arena *a, const char *repo, const char *digest,
			      struct assessment_rec *out);
	/* The stored inventory of (repo, digest) alone (what a re-assessment needs). */
	int (*assessment_inventory)(struct meta *m, struct arena *a, const char *repo, const char *digest,
				    const char **inventory, const char **findings_hash);
	/* The same for the first *answered of jobs[0..n) (a batch of re-assessments; at least one):
	 * inventory[i] and findings_hash[i], NULL where no assessment is stored. PostgreSQL reads
	 * them in one statement, as many as fit in max_bytes stored (compressed), and at least
	 * the first; SQLite the first alone (in-process, a statement costs little there). */
	int (*assessment_inventories)(struct meta *m, struct arena *a, const struct scan_job *jobs, size_t n,
				      int64_t max_bytes, const char **inventory, const char **findings_hash,
				      size_t *answered);
	/* Calls fn for each assessment of repo (all when NULL), by repo and digest, with its report
	 * but not its inventory, read a few at a time (no statement open while fn runs: fn may use
	 * the store); rec and its strings live until fn returns. A non-zero return of fn ends the
	 * walk and is returned. */
	int (*assessments_each)(struct meta *m, const char *repo,
				int (*fn)(void *ctx, const struct assessment_rec *rec), void *ctx);
	/* The name and findings hash of each assessment of repo (all when NULL), by repo and digest,
	 * from the small rows (no report read): rec's repo, digest and findings_hash, the rest empty. */
	int (*assessment_stamps)(struct meta *m, struct arena *a, const char *repo, struct assessment_rec **out,
				 size_t *n);
	/* The report of (repo, digest) alone, with its findings hash; DD_E_NOT_FOUND when none. */
	int (*assessment_report)(struct meta *m, struct arena *a, const char *repo, const char *digest,
				 const char **report, const char **findings_hash);
	/* Assessments of repo (all when NULL), without report and inventory texts, by repo, digest. */
	int (*assessments_list)(struct meta *m, struct arena *a, const char *repo, struct assessment_rec **out,
				size_t *n);
	/* The running totals by status of repository repo, of the whole registry (repo ""), or of every
	 * repository (NULL: by repository, then status); statuses with no image left out. Arena array. */
	int (*assessment_totals)(struct meta *m, struct arena *a, const char *repo, struct assessment_total **out,
				 size_t *n);
	/* The history from day `since` ("YYYY-MM-DD") on, by day, namespace and status, after one
	 * row per namespace and status (day "") summing every day before it. Arena array. */
	int (*assessment_days)(struct meta *m, struct arena *a, const char *since, struct assessment_day **out,
			       size_t *n);
	/* Scans counted per namespace and month: parallel arrays. */
	int (*usage_list)(struct meta *m, struct arena *a, const char ***ns, const char ***month, int64_t **count,
			  size_t *n);
	/* Scanning per namespace (the first path component); enabled unless set otherwise. */
	int (*ns_scanning_get)(struct meta *m, const char *ns, int *enabled);
	int (*ns_scanning_set)(struct meta *m, const char *ns, int enabled);
};

#endif
