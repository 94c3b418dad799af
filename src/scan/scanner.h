/* scanner.h: scan on push and continuous assessment inside `drydock serve`. A manifest PUT
 * queues a scan in the metadata store (durable); worker threads claim jobs, read the image's
 * inventory (layers cached by digest), match it against the vulnerability database and store
 * the assessment with the inventory. A watcher notices a new database file (a rename by
 * `drydock db import/update`) and queues a re-assessment of every image assessed with
 * another generation, at a lower priority than pushes, re-matched from the stored inventory
 * without reading a layer. */
#ifndef DD_SCANNER_H
#define DD_SCANNER_H
#include <stddef.h>
#include <stdint.h>

/* The states of a scan job, written down as SQLite's pager.c writes down its own. A job is a
 * row of the scan_jobs table of the metadata store (store/meta.h, meta_sqlite.c): at most one
 * per (repository, manifest digest), with a priority (SCAN_PUSH 0 runs before SCAN_REASSESS
 * 1) and a state (0 QUEUED, 1 RUNNING, 2 DONE). The row is the job: storing the assessment
 * deletes it (PostgreSQL) or marks it DONE, no job to any reader (SQLite: see DONE).
 *
 *   manifest_put (SCAN_PUSH) ──────────────────────┐
 *   scan_enqueue_stale (SCAN_REASSESS) ────────────┤
 *   scan_recover: a manifest never assessed ───────┤
 *                                                  ▼
 *                  ┌─ scan_recover, at start ──► QUEUED ◄── queued again: no new row, a push
 *                  │                               │        raises the priority to SCAN_PUSH
 *                  │                               │ scan_claim (a worker, a database in place)
 *                  │                               ▼
 *                  └─────────────────────────── RUNNING
 *                                                  │ scan_complete: the assessment stored
 *                                                  ▼
 *                                   NO JOB (or DONE) ◄── manifest_delete, in any state
 *
 * NO JOB: the manifest has an assessment, or was never queued (pushed with scanning off). A
 *   manifest PUT queues a SCAN_PUSH job in the transaction that stores the manifest
 *   (manifest_put's queue_scan: the registry's scan_on_push), then wakes the workers
 *   (EVENT_MANIFEST_PUT, scanner_kick). When the watcher puts a database in place (the first at
 *   start, then each new generation), scan_enqueue_stale queues a SCAN_REASSESS job for every
 *   assessment with a stored inventory that another generation made or that Failed. Crash: a
 *   manifest stored is never without its job; at start scan_recover also queues a SCAN_PUSH job
 *   for every manifest with neither an assessment nor a job (pushed while scanning was off, or
 *   stored before scanning was).
 * QUEUED (0): waiting for a worker. scan_claim takes the lowest priority number, oldest job
 *   (lowest id) first, and marks what it took RUNNING in one transaction: one job when pushes
 *   are waiting, else up to SCANNER_BATCH re-assessments (fewer when they are slow:
 *   SCANNER_BATCH_US). Nothing is claimed while no usable database is in place: jobs wait
 *   QUEUED. Queuing a job that exists adds no row: a push keeps the more urgent priority (an
 *   upsert, which leaves a RUNNING job RUNNING), a re-assessment leaves the job as it is; a
 *   worker whose batch was made with a database replaced meanwhile queues its images again
 *   once the batch is stored (requeue_if_replaced in scanner.c).
 *   Crash: nothing is lost; the job is claimed after the restart.
 * RUNNING (1): claimed by a worker of this process, which reads the image (the layer cache, or
 *   the stored inventory for a re-assessment), matches it and builds the assessment; a worker
 *   finishes the batch in hand before scanner_stop returns. scan_complete then, in one
 *   transaction per batch, ends the job (deletes it, or marks it DONE), stores the assessment,
 *   counts a push's scan in scan_usage and adds its webhook events (events/hooks.h:
 *   scan.completed or scan.failed, and findings.changed) to the outbox of each target that
 *   wants them. A job whose row is gone (its manifest deleted meanwhile) is dropped with its
 *   result. A batch whose scan_complete fails (logged) stays RUNNING until the next start:
 *   nothing claims a RUNNING job. Crash: nothing of the job was stored, since all of it commits
 *   with the job's end; scanner_start's scan_recover puts every RUNNING job back to
 *   QUEUED, and it runs again from the start, so its webhook events are still sent once.
 *
 * DONE (2, SQLite): the assessment is stored and the row waits to be deleted with the others,
 *   by the next claim that finds nothing queued, when the store is closed, or at the next start
 *   (scan_recover; only after a crash would a drydock from before DONE find such rows). Deleted
 *   one at a time, each row took a page of the (repo, digest) index at a random place: a
 *   re-assessment of 100,000 images wrote about one more page an image. Every reader counts it
 *   as no job, and queuing the image again (a push, Scan again, a new database, scan_recover)
 *   makes the row QUEUED with the new priority. Crash: as NO JOB.
 *
 * manifest_delete deletes the job with the manifest, its tags and its assessment. The security
 * API shows a manifest with a job and no assessment as "Queued" or "Scanning"
 * (scan_job_state); /metrics counts both states (scan_queue_depth). The queue of committed
 * layers to read ahead (the layer threads) is memory only and no part of a job: an entry a
 * restart loses costs only a layer read by the image's scan. */

struct blobstore;
struct meta;
struct scanner;

struct scanner_config {
	struct meta *meta;       /* borrowed */
	struct blobstore *blobs; /* the blobs (borrowed): every blob is read through it */
	const char *data_dir;    /* the layer cache */
	const char *db_path;  /* the vulnerability database file */
	int workers;
	int stream_uploads; /* analyse layers while they upload: the upload watcher of events/events.h */
	int sandbox;        /* read layers and package databases in sandboxed workers (sandbox.h) */
};

/* Starts workers and the watcher; subscribes to the registry's events (events/events.h) and,
 * with c->stream_uploads, watches uploads; recovers jobs left running by a crash and queues every
 * manifest never assessed. Returns an owned scanner; with c->sandbox, DD_E_INTERNAL when no
 * sandboxed worker can be started (*why static text). */
int scanner_start(const struct scanner_config *c, struct scanner **out, const char **why);
void scanner_stop(struct scanner *s);
/* Wakes the workers (a job was queued). */
void scanner_kick(struct scanner *s);

#define SCANNER_BUCKETS 12
struct scanner_stats {
	uint64_t completed, failed;
	uint64_t layers_streamed; /* layers analysed while they uploaded, and cached */
	uint64_t notices;         /* notices of scans queued on any node (meta.h's listen) */
	uint64_t worker_layer_tasks, worker_inventory_tasks, inventories_spared; /* sandbox.h's counts */
	uint64_t by_status[4];                 /* by enum assessment_status (scan/status.h) */
	uint64_t latency_le[SCANNER_BUCKETS];  /* cumulative counts of scan durations <= bound */
	double latency_sum;                    /* seconds */
	char generation[17];                   /* of the database in use, "" when none */
	int64_t db_built_at;
};
extern const double scanner_bucket_bounds[SCANNER_BUCKETS];
void scanner_stats(struct scanner *s, struct scanner_stats *out);

/* The database in use, held until released (NULL when none); for reading texts. */
struct vulndb;
const struct vulndb *scanner_db_acquire(struct scanner *s, void **token);
void scanner_db_release(struct scanner *s, void *token);

#endif
