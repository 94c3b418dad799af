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

struct blobstore;
struct meta;
struct scanner;

struct assessment_rec;

/* What an assessment found, for its outbox event. */
struct scan_outcome {
	const struct assessment_rec *rec;
	int reassessment;          /* of a stored inventory, after a database change */
	const size_t *by_severity; /* findings per severity, indexed by enum vdb_severity */
	size_t findings, unfixed;
};

struct scanner_config {
	struct meta *meta;       /* borrowed */
	struct blobstore *blobs; /* the blobs (borrowed): every blob is read through it */
	const char *data_dir;    /* the layer cache */
	const char *db_path;  /* the vulnerability database file */
	int workers;
	/* The outbox event of a completed assessment (owned text, freed with free()), stored in the
	 * assessment's own transaction; NULL: no outbox (no webhook configured). */
	char *(*outbox_payload)(const struct scan_outcome *o);
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
	uint64_t by_status[4];                 /* Healthy, Unhealthy, NotApplicable, Failed */
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
