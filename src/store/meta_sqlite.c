/* meta_sqlite.c: the SQLite metadata backend (WAL, synchronous=FULL).
 *
 * A pool of connections, each with its prepared statements cached by index into the sql[]
 * table below; a call takes a connection, runs, and returns it. Writers are serialised by
 * SQLite itself (BEGIN IMMEDIATE, busy timeout). Holds no blob bytes. Assessment reports and
 * inventories are stored zstd-compressed (pack/col_unpacked). */
#include "common/dd.h"
#include "meta.h"
#include "common/arena.h"
#include "common/log.h"
#include "common/util.h"
#include <sqlite3.h>
#include <zstd.h>

static const char schema[] =
	"PRAGMA journal_mode=WAL;"
	"CREATE TABLE IF NOT EXISTS repos(name TEXT PRIMARY KEY, created INTEGER NOT NULL) WITHOUT ROWID;"
	/* blobs.created: when the blob was last uploaded or mounted (gc's grace period) */
	"CREATE TABLE IF NOT EXISTS blobs(digest TEXT PRIMARY KEY, size INTEGER NOT NULL,"
	" created INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS repo_blobs(repo TEXT NOT NULL, digest TEXT NOT NULL,"
	" PRIMARY KEY(repo, digest)) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS repo_blobs_digest ON repo_blobs(digest);"
	"CREATE TABLE IF NOT EXISTS manifests(repo TEXT NOT NULL, digest TEXT NOT NULL,"
	" media_type TEXT NOT NULL, artifact_type TEXT NOT NULL, subject TEXT NOT NULL,"
	" annotations TEXT NOT NULL, size INTEGER NOT NULL, content BLOB NOT NULL,"
	" created INTEGER NOT NULL, PRIMARY KEY(repo, digest)) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS manifests_subject ON manifests(repo, subject) WHERE subject <> '';"
	"CREATE TABLE IF NOT EXISTS manifest_refs(repo TEXT NOT NULL, parent TEXT NOT NULL,"
	" child TEXT NOT NULL, kind INTEGER NOT NULL, PRIMARY KEY(repo, parent, child)) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS manifest_refs_child ON manifest_refs(child);"
	"CREATE TABLE IF NOT EXISTS tags(repo TEXT NOT NULL, name TEXT NOT NULL, digest TEXT NOT NULL,"
	" updated INTEGER NOT NULL, PRIMARY KEY(repo, name)) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS tags_digest ON tags(repo, digest);"
	/* uploads.owner: the account (or "addr:<client address>") whose session it is, for its cap;
	 * touched: when it was created or moved on, in microseconds (its least recently used order) */
	"CREATE TABLE IF NOT EXISTS uploads(id TEXT PRIMARY KEY, repo TEXT NOT NULL,"
	" offset INTEGER NOT NULL, created INTEGER NOT NULL, updated INTEGER NOT NULL,"
	" owner TEXT NOT NULL DEFAULT '', touched INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS scan_jobs(id INTEGER PRIMARY KEY, repo TEXT NOT NULL, digest TEXT NOT NULL,"
	" priority INTEGER NOT NULL, state INTEGER NOT NULL, enqueued INTEGER NOT NULL, UNIQUE(repo, digest));"
	"CREATE INDEX IF NOT EXISTS scan_jobs_next ON scan_jobs(state, priority, id);"
	"CREATE TABLE IF NOT EXISTS assessments(repo TEXT NOT NULL, digest TEXT NOT NULL, status TEXT NOT NULL,"
	" reason TEXT NOT NULL, report TEXT NOT NULL, inventory TEXT NOT NULL, db_generation TEXT NOT NULL,"
	" scanned_at INTEGER NOT NULL, duration_us INTEGER NOT NULL, findings_hash TEXT NOT NULL DEFAULT '',"
	" counts TEXT NOT NULL DEFAULT '', PRIMARY KEY(repo, digest)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS scan_usage(namespace TEXT NOT NULL, month TEXT NOT NULL, scans INTEGER NOT NULL,"
	" PRIMARY KEY(namespace, month)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS namespace_settings(namespace TEXT PRIMARY KEY, scanning INTEGER NOT NULL)"
	" WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS settings(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS outbox(id INTEGER PRIMARY KEY, payload TEXT NOT NULL, attempts INTEGER NOT NULL,"
	" next_at INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS audit(id INTEGER PRIMARY KEY, time INTEGER NOT NULL, actor TEXT NOT NULL,"
	" action TEXT NOT NULL, target TEXT NOT NULL, detail TEXT NOT NULL);";

/* The running totals of the assessments (assessment_totals): for each repository and status,
 * and for the whole registry (repo ''), the images and what their counts say ("C H M L N U F",
 * meta.h), plus how many of them have counts in no other form than that (`uncounted`: stored
 * before counts were, so their reports say; only those rows are ever read one by one). Triggers
 * keep them in the transaction of every change to assessments, whichever statement or tool
 * makes it, so a restart reads them as they are. Rows that drop to no image are removed. */
#define TOTALS_COLUMNS "images, critical, high, medium, low, negligible, unknown, unfixed, uncounted"

/* Whether counts text C (its JSON array form in `j`) is exactly seven non-negative integers
 * of at most 12 digits written as "%d %d ..." writes them: the only form counted here.
 * counts_parse reads every such text as the same numbers; anything else is `uncounted` and its
 * report is read instead, as before. */
#define COUNTS_JSON(C) "'[' || replace(" C ", ' ', ',') || ']'"
#define COUNTS_OK(C)                                                                                       \
	"CASE WHEN " C " NOT GLOB '*-*' AND " C " NOT GLOB"                                                   \
	" '*[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]*' AND json_valid(j) THEN"        \
	" printf('%d %d %d %d %d %d %d', json_extract(j, '$[0]'), json_extract(j, '$[1]'),"                    \
	" json_extract(j, '$[2]'), json_extract(j, '$[3]'), json_extract(j, '$[4]'), json_extract(j, '$[5]'),"  \
	" json_extract(j, '$[6]')) = " C " ELSE 0 END"
/* Row R (NEW or OLD) parsed: s (status), j, ok. */
#define COUNTS_PARSED(R)                                                                                   \
	"(SELECT " R ".status AS s, j, " COUNTS_OK(R ".counts") " AS ok FROM (SELECT " COUNTS_JSON(R ".counts") \
	" AS j))"
#define COUNT_AT(K) "iif(ok, json_extract(j, '$[" K "]'), 0)"

/* Adds (SIGN "") or takes away (SIGN "-") row R (NEW or OLD) in its repository and the registry. */
#define TOTALS_APPLY(R, SIGN)                                                                               \
	"INSERT INTO assessment_totals(repo, status, " TOTALS_COLUMNS ") SELECT r, s, " SIGN "1, "          \
	SIGN COUNT_AT("0") ", " SIGN COUNT_AT("1") ", " SIGN COUNT_AT("2") ", " SIGN COUNT_AT("3") ", "       \
	SIGN COUNT_AT("4") ", " SIGN COUNT_AT("5") ", " SIGN COUNT_AT("6") ", " SIGN "(NOT ok)"              \
	" FROM (SELECT " R ".repo AS r UNION ALL SELECT ''), " COUNTS_PARSED(R) " WHERE 1"                    \
	" ON CONFLICT(repo, status) DO UPDATE SET images=images+excluded.images,"                           \
	" critical=critical+excluded.critical, high=high+excluded.high, medium=medium+excluded.medium,"     \
	" low=low+excluded.low, negligible=negligible+excluded.negligible, unknown=unknown+excluded.unknown," \
	" unfixed=unfixed+excluded.unfixed, uncounted=uncounted+excluded.uncounted;"
#define TOTALS_PRUNE "DELETE FROM assessment_totals WHERE repo IN (OLD.repo, '') AND status=OLD.status AND images=0;"

static const char totals_schema[] =
	"CREATE TABLE assessment_totals(repo TEXT NOT NULL, status TEXT NOT NULL, images INTEGER NOT NULL,"
	" critical INTEGER NOT NULL, high INTEGER NOT NULL, medium INTEGER NOT NULL, low INTEGER NOT NULL,"
	" negligible INTEGER NOT NULL, unknown INTEGER NOT NULL, unfixed INTEGER NOT NULL,"
	" uncounted INTEGER NOT NULL, PRIMARY KEY(repo, status)) WITHOUT ROWID;"
	"CREATE TRIGGER assessments_totals_insert AFTER INSERT ON assessments BEGIN " TOTALS_APPLY("NEW", "") " END;"
	"CREATE TRIGGER assessments_totals_delete AFTER DELETE ON assessments BEGIN " TOTALS_APPLY("OLD", "-")
	TOTALS_PRUNE " END;"
	"CREATE TRIGGER assessments_totals_update AFTER UPDATE OF repo, status, counts ON assessments"
	" WHEN OLD.repo IS NOT NEW.repo OR OLD.status IS NOT NEW.status OR OLD.counts IS NOT NEW.counts BEGIN "
	TOTALS_APPLY("OLD", "-") TOTALS_PRUNE TOTALS_APPLY("NEW", "") " END;"
	/* the assessments already there (a data directory from before the totals) */
	"INSERT INTO assessment_totals(repo, status, " TOTALS_COLUMNS ") SELECT repo, s, count(*),"
	" sum(" COUNT_AT("0") "), sum(" COUNT_AT("1") "), sum(" COUNT_AT("2") "), sum(" COUNT_AT("3") "),"
	" sum(" COUNT_AT("4") "), sum(" COUNT_AT("5") "), sum(" COUNT_AT("6") "), sum(NOT ok)"
	" FROM (SELECT repo, status AS s, j, " COUNTS_OK("counts") " AS ok FROM (SELECT repo, status, counts,"
	" " COUNTS_JSON("counts") " AS j FROM assessments)) GROUP BY repo, s;"
	"INSERT INTO assessment_totals(repo, status, " TOTALS_COLUMNS ") SELECT '', status, sum(images),"
	" sum(critical), sum(high), sum(medium), sum(low), sum(negligible), sum(unknown), sum(unfixed),"
	" sum(uncounted) FROM assessment_totals GROUP BY status;";

/* A manifest of repository m.repo that no tag points to, no index there names, and whose
 * subject, if it has one, the repository no longer holds (gc --delete-untagged). */
#define UNTAGGED                                                                                           \
	" NOT EXISTS(SELECT 1 FROM tags t WHERE t.repo=m.repo AND t.digest=m.digest) AND"                       \
	" NOT EXISTS(SELECT 1 FROM manifest_refs r WHERE r.repo=m.repo AND r.child=m.digest AND r.kind=1) AND" \
	" (m.subject='' OR NOT EXISTS(SELECT 1 FROM manifests s WHERE s.repo=m.repo AND s.digest=m.subject))"

enum stmt_id {
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
	S_REPO_EXISTS,
	S_REPO_ADD,
	S_BLOB_ADD,
	S_REPO_BLOB_ADD,
	S_BLOB_LINKED,
	S_BLOB_UNLINK,
	S_BLOBS_UNREFERENCED,
	S_BLOB_FORGET,
	S_BLOB_FORGET_LINKS,
	S_BLOB_KNOWN,
	S_MANIFESTS_UNTAGGED,
	S_MANIFEST_DEL_UNTAGGED,
	S_MANIFEST_EXISTS,
	S_MANIFEST_ADD,
	S_REF_ADD,
	S_TAG_SET,
	S_TAG_RESOLVE,
	S_MANIFEST_GET,
	S_MANIFEST_HEAD,
	S_MANIFEST_DEL,
	S_MANIFEST_TAGS_DEL,
	S_MANIFEST_REFS_DEL,
	S_TAG_DEL,
	S_TAGS,
	S_CATALOG,
	S_REFERRERS,
	S_UPLOAD_COUNT,
	S_UPLOAD_COUNT_OWNER,
	S_UPLOADS_OF_OWNER,
	S_UPLOAD_ADD,
	S_UPLOAD_GET,
	S_UPLOAD_SET,
	S_UPLOAD_DEL,
	S_UPLOAD_STALE,
	S_SCAN_ENQUEUE,
	S_SCAN_NEXT,
	S_SCAN_MARK,
	S_SCAN_ASSESS_PUT,
	S_SCAN_JOB_DEL,
	S_SCAN_USAGE_ADD,
	S_SCAN_RESET,
	S_SCAN_MISSING,
	S_SCAN_STALE,
	S_SCAN_STATE,
	S_SCAN_DEPTH,
	S_ASSESS_GET,
	S_ASSESS_LIST,
	S_ASSESS_LIST_ALL,
	S_ASSESS_DEL,
	S_SCAN_JOB_DEL_DIGEST,
	S_USAGE_LIST,
	S_NS_GET,
	S_NS_SET,
	S_ASSESS_INV,
	S_ASSESS_TOUCH,
	S_ASSESS_REPORT,
	S_SET_PUT,
	S_SET_GET,
	S_SET_DEL,
	S_SET_LIST,
	S_OUT_ADD,
	S_OUT_DUE,
	S_OUT_DONE,
	S_OUT_RETRY,
	S_AUDIT_ADD,
	S_AUDIT_LIST,
	S_TOTALS_REPO,
	S_TOTALS_ALL,
	S__COUNT
};

static const char *const sql[S__COUNT] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_REPO_EXISTS] = "SELECT 1 FROM repos WHERE name=?1",
	[S_REPO_ADD] = "INSERT OR IGNORE INTO repos(name, created) VALUES(?1, ?2)",
	[S_BLOB_ADD] = "INSERT INTO blobs(digest, size, created) VALUES(?1, ?2, ?3)"
		       " ON CONFLICT(digest) DO UPDATE SET created=excluded.created",
	[S_REPO_BLOB_ADD] = "INSERT OR IGNORE INTO repo_blobs(repo, digest) VALUES(?1, ?2)",
	[S_BLOB_LINKED] = "SELECT b.size FROM repo_blobs r JOIN blobs b ON b.digest=r.digest"
			  " WHERE r.repo=?1 AND r.digest=?2",
	[S_BLOB_UNLINK] = "DELETE FROM repo_blobs WHERE repo=?1 AND digest=?2",
	/* a blob any manifest names (as a blob or a foreign layer) is referenced */
	[S_BLOBS_UNREFERENCED] = "SELECT b.digest, b.size FROM blobs b WHERE b.digest>?1 AND b.created<?2 AND"
				 " NOT EXISTS(SELECT 1 FROM manifest_refs r WHERE r.child=b.digest AND r.kind<>1)"
				 " ORDER BY b.digest LIMIT ?3",
	[S_BLOB_FORGET] = "DELETE FROM blobs WHERE digest=?1 AND created<?2 AND"
			  " NOT EXISTS(SELECT 1 FROM manifest_refs r WHERE r.child=?1 AND r.kind<>1)",
	[S_BLOB_FORGET_LINKS] = "DELETE FROM repo_blobs WHERE digest=?1",
	[S_BLOB_KNOWN] = "SELECT 1 FROM blobs WHERE digest=?1",
	[S_MANIFESTS_UNTAGGED] = "SELECT m.repo, m.digest FROM manifests m WHERE (m.repo, m.digest)>(?1, ?2) AND"
				 " m.created<?3 AND" UNTAGGED " ORDER BY m.repo, m.digest LIMIT ?4",
	[S_MANIFEST_DEL_UNTAGGED] = "DELETE FROM manifests AS m WHERE m.repo=?1 AND m.digest=?2 AND m.created<?3 AND"
				    UNTAGGED,
	[S_MANIFEST_EXISTS] = "SELECT 1 FROM manifests WHERE repo=?1 AND digest=?2",
	[S_MANIFEST_ADD] = "INSERT OR IGNORE INTO manifests(repo, digest, media_type, artifact_type, subject,"
			   " annotations, size, content, created) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9)",
	[S_REF_ADD] = "INSERT OR IGNORE INTO manifest_refs(repo, parent, child, kind) VALUES(?1,?2,?3,?4)",
	[S_TAG_SET] = "INSERT INTO tags(repo, name, digest, updated) VALUES(?1,?2,?3,?4)"
		      " ON CONFLICT(repo, name) DO UPDATE SET digest=excluded.digest, updated=excluded.updated",
	[S_TAG_RESOLVE] = "SELECT digest FROM tags WHERE repo=?1 AND name=?2",
	[S_MANIFEST_GET] = "SELECT digest, media_type, artifact_type, subject, annotations, size, created, content"
			   " FROM manifests WHERE repo=?1 AND digest=?2",
	[S_MANIFEST_HEAD] = "SELECT digest, media_type, artifact_type, subject, annotations, size, created"
			    " FROM manifests WHERE repo=?1 AND digest=?2",
	[S_MANIFEST_DEL] = "DELETE FROM manifests WHERE repo=?1 AND digest=?2",
	[S_MANIFEST_TAGS_DEL] = "DELETE FROM tags WHERE repo=?1 AND digest=?2",
	[S_MANIFEST_REFS_DEL] = "DELETE FROM manifest_refs WHERE repo=?1 AND parent=?2",
	[S_TAG_DEL] = "DELETE FROM tags WHERE repo=?1 AND name=?2",
	[S_TAGS] = "SELECT name FROM tags WHERE repo=?1 AND name>?2 ORDER BY name LIMIT ?3",
	[S_CATALOG] = "SELECT name FROM repos WHERE name>?1 ORDER BY name LIMIT ?2",
	[S_REFERRERS] = "SELECT digest, media_type, artifact_type, subject, annotations, size, created"
			" FROM manifests WHERE repo=?1 AND subject=?2 AND (?3 IS NULL OR artifact_type=?3)"
			" ORDER BY created, digest LIMIT ?4",
	[S_UPLOAD_COUNT] = "SELECT count(*) FROM uploads",
	[S_UPLOAD_COUNT_OWNER] = "SELECT count(*) FROM uploads WHERE owner=?1",
	[S_UPLOADS_OF_OWNER] = "SELECT id FROM uploads WHERE owner=?1 ORDER BY touched, id LIMIT ?2",
	[S_UPLOAD_ADD] = "INSERT INTO uploads(id, repo, offset, created, updated, owner, touched)"
			 " VALUES(?1,?2,0,?3,?3,?4,?5)",
	[S_UPLOAD_GET] = "SELECT repo, offset, created FROM uploads WHERE id=?1",
	[S_UPLOAD_SET] = "UPDATE uploads SET offset=?2, updated=?3, touched=?4 WHERE id=?1",
	[S_UPLOAD_DEL] = "DELETE FROM uploads WHERE id=?1",
	[S_UPLOAD_STALE] = "SELECT id FROM uploads WHERE updated<?1 ORDER BY updated LIMIT ?2",
	[S_SCAN_ENQUEUE] = "INSERT INTO scan_jobs(repo, digest, priority, state, enqueued) VALUES(?1,?2,?3,0,?4)"
			   " ON CONFLICT(repo, digest) DO UPDATE SET priority=min(priority, excluded.priority)",
	[S_SCAN_NEXT] = "SELECT id, repo, digest, priority FROM scan_jobs WHERE state=0 AND"
			" priority=(SELECT min(priority) FROM scan_jobs WHERE state=0) ORDER BY id LIMIT"
			" (CASE WHEN (SELECT min(priority) FROM scan_jobs WHERE state=0)=0 THEN 1 ELSE ?1 END)",
	[S_SCAN_MARK] = "UPDATE scan_jobs SET state=1 WHERE id=?1",
	/* an upsert, not INSERT OR REPLACE: a replaced row would leave the running totals without
	 * the delete trigger's update */
	[S_SCAN_ASSESS_PUT] = "INSERT INTO assessments(repo, digest, status, reason, report, inventory,"
			      " db_generation, scanned_at, duration_us, findings_hash, counts)"
			      " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11) ON CONFLICT(repo, digest) DO UPDATE SET"
			      " status=excluded.status, reason=excluded.reason, report=excluded.report,"
			      " inventory=excluded.inventory, db_generation=excluded.db_generation,"
			      " scanned_at=excluded.scanned_at, duration_us=excluded.duration_us,"
			      " findings_hash=excluded.findings_hash, counts=excluded.counts",
	[S_SCAN_JOB_DEL] = "DELETE FROM scan_jobs WHERE id=?1",
	[S_SCAN_USAGE_ADD] = "INSERT INTO scan_usage(namespace, month, scans) VALUES(?1,?2,1)"
			     " ON CONFLICT(namespace, month) DO UPDATE SET scans=scans+1",
	[S_SCAN_RESET] = "UPDATE scan_jobs SET state=0 WHERE state=1",
	/* by the small rows of assessments_list: a search of the table itself compares whole rows,
	 * reports and all (40,001 images: 0.5 s at every start, instead of 0.06 s) */
	[S_SCAN_MISSING] = "INSERT OR IGNORE INTO scan_jobs(repo, digest, priority, state, enqueued)"
			   " SELECT m.repo, m.digest, 0, 0, ?1 FROM manifests m WHERE NOT EXISTS (SELECT 1 FROM"
			   " assessments a INDEXED BY assessments_list WHERE a.repo=m.repo AND a.digest=m.digest)",
	/* a Failed assessment with an inventory failed in matching (a database that turned out
	 * damaged, say): tried again whenever a database is put in place, even of the same build */
	[S_SCAN_STALE] = "INSERT OR IGNORE INTO scan_jobs(repo, digest, priority, state, enqueued)"
			 " SELECT repo, digest, 1, 0, ?2 FROM assessments WHERE (db_generation<>?1 OR status='Failed')"
			 " AND inventory<>''",
	[S_SCAN_STATE] = "SELECT state FROM scan_jobs WHERE repo=?1 AND digest=?2",
	[S_SCAN_DEPTH] = "SELECT coalesce(sum(state=0),0), coalesce(sum(state=1),0) FROM scan_jobs",
	[S_ASSESS_GET] = "SELECT status, reason, report, inventory, db_generation, scanned_at, duration_us, counts"
			 " FROM assessments WHERE repo=?1 AND digest=?2",
	[S_ASSESS_LIST] = "SELECT repo, digest, status, reason, db_generation, scanned_at, duration_us, counts"
			  " FROM assessments WHERE repo=?1 ORDER BY repo, digest",
	[S_ASSESS_LIST_ALL] = "SELECT repo, digest, status, reason, db_generation, scanned_at, duration_us, counts"
			      " FROM assessments ORDER BY repo, digest",
	[S_ASSESS_DEL] = "DELETE FROM assessments WHERE repo=?1 AND digest=?2",
	[S_SCAN_JOB_DEL_DIGEST] = "DELETE FROM scan_jobs WHERE repo=?1 AND digest=?2",
	[S_USAGE_LIST] = "SELECT namespace, month, scans FROM scan_usage ORDER BY namespace, month",
	[S_NS_GET] = "SELECT scanning FROM namespace_settings WHERE namespace=?1",
	[S_ASSESS_INV] = "SELECT inventory, findings_hash FROM assessments WHERE repo=?1 AND digest=?2",
	[S_ASSESS_TOUCH] = "UPDATE assessments SET db_generation=?3, scanned_at=?4, duration_us=?5, counts=?6"
			   " WHERE repo=?1 AND digest=?2",
	[S_ASSESS_REPORT] = "UPDATE assessments SET status=?3, reason=?4, report=?5, db_generation=?7, scanned_at=?8,"
			    " duration_us=?9, findings_hash=?10, counts=?11 WHERE repo=?1 AND digest=?2",
	[S_NS_SET] = "INSERT INTO namespace_settings(namespace, scanning) VALUES(?1,?2)"
		     " ON CONFLICT(namespace) DO UPDATE SET scanning=excluded.scanning",
	[S_SET_PUT] = "INSERT INTO settings(key, value) VALUES(?1,?2) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
	[S_SET_GET] = "SELECT value FROM settings WHERE key=?1",
	[S_SET_DEL] = "DELETE FROM settings WHERE key=?1",
	[S_SET_LIST] = "SELECT key, value FROM settings WHERE substr(key, 1, length(?1))=?1 ORDER BY key LIMIT ?2",
	[S_OUT_ADD] = "INSERT INTO outbox(payload, attempts, next_at) VALUES(?1, 0, 0)",
	[S_OUT_DUE] = "SELECT id, payload, attempts FROM outbox WHERE next_at<=?1 ORDER BY id LIMIT ?2",
	[S_OUT_DONE] = "DELETE FROM outbox WHERE id=?1",
	[S_OUT_RETRY] = "UPDATE outbox SET attempts=attempts+1, next_at=?2 WHERE id=?1",
	[S_AUDIT_ADD] = "INSERT INTO audit(time, actor, action, target, detail) VALUES(?1,?2,?3,?4,?5)",
	[S_AUDIT_LIST] = "SELECT id, time, actor, action, target, detail FROM audit WHERE id>?1 ORDER BY id LIMIT ?2",
	[S_TOTALS_REPO] = "SELECT repo, status, images, critical, high, medium, low, negligible, unknown, unfixed,"
			  " uncounted FROM assessment_totals WHERE repo=?1 AND images<>0 ORDER BY status",
	[S_TOTALS_ALL] = "SELECT repo, status, images, critical, high, medium, low, negligible, unknown, unfixed,"
			 " uncounted FROM assessment_totals WHERE repo<>'' AND images<>0 ORDER BY repo, status",
};

struct conn {
	sqlite3 *db;
	sqlite3_stmt *st[S__COUNT];
	struct conn *next;
	struct meta_sqlite *ms;
	int wlocked; /* holds ms->write_mu: inside a write transaction */
	int lazy;    /* in a tx_begin_lazy transaction */
};

/* Connections open at once. SQLite serialises writers anyway and two cores saturate on a
 * few readers; each connection costs its schema, statements and page cache in memory. */
#define POOL_MAX 6

struct meta_sqlite {
	struct meta base;
	char *path;
	pthread_mutex_t mu;
	pthread_cond_t freed;
	struct conn *pool; /* idle connections */
	int open;          /* connections open, idle or busy */
	/* One writer at a time in this process, queued on a mutex: SQLite's own busy handler makes
	 * a waiting writer sleep and poll (up to 100 ms a try), which under a burst of pushes and
	 * scans left the lock free while writers slept (a 5 ms manifest PUT took up to 3 s). */
	pthread_mutex_t write_mu;
};

static struct meta_sqlite *ms_of(struct meta *m) { return (struct meta_sqlite *)m; }

/* The error code of SQLite result r: DD_E_NO_SPACE when the filesystem (or a quota) is full, so
 * that a push is answered 507 and a delete can release the reserve (store/space.h). */
static int sq_fail(sqlite3 *db, const char *what, int r)
{
	log_error("sqlite: %s: %s", what, sqlite3_errmsg(db));
	int e = sqlite3_system_errno(db);
	if ((r & 0xff) == SQLITE_FULL || ((r & 0xff) == SQLITE_IOERR && (e == ENOSPC || e == EDQUOT)))
		return DD_E_NO_SPACE;
	return DD_E_IO;
}

static int sq_err(sqlite3 *db, const char *what) { return sq_fail(db, what, sqlite3_extended_errcode(db)); }

/* Microseconds since the epoch: the order of upload sessions' use. */
static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Another process (drydock gc, drydock user) holds the database: wait in 1 ms steps, not
 * SQLite's growing sleeps, for up to 30 s. Writers of this process queue on write_mu. */
static int busy_wait(void *ctx, int tries)
{
	(void)ctx;
	if (tries >= 30000)
		return 0;
	struct timespec ts = {0, 1000000};
	nanosleep(&ts, NULL);
	return 1;
}

static int conn_open(struct meta_sqlite *ms, struct conn **out)
{
	*out = NULL;
	struct conn *c = calloc(1, sizeof(*c));
	if (!c)
		return DD_E_NOMEM;
	if (sqlite3_open_v2(ms->path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		log_error("cannot open metadata database '%s': %s", ms->path, sqlite3_errmsg(c->db));
		sqlite3_close(c->db);
		free(c);
		return DD_E_IO;
	}
	c->ms = ms;
	sqlite3_busy_handler(c->db, busy_wait, NULL);
	/* FULL: a transaction acknowledged to a client survives power loss, not only a crash.
	 * A small page cache per connection: metadata rows are small and hot rows stay in the OS
	 * page cache; the pool holds one connection per concurrently busy thread. No mapping of the
	 * file: each connection's mapping kept every page it had read resident in the process
	 * (40,001 images, 423 MB of meta.db: RSS 541 MB, PSS 277 MB), while a compressed report
	 * is a few pages and listings read the assessments_list index, not the reports. */
	sqlite3_exec(c->db, "PRAGMA synchronous=FULL; PRAGMA cache_size=-512; PRAGMA mmap_size=0;", NULL, NULL, NULL);
	*out = c;
	return 0;
}

/* Columns and tables added after a data directory was made: added (and filled) when it is opened. */
static int migrate(sqlite3 *db, char **err)
{
	static const struct {
		const char *table, *column, *add;
	} added[] = {
		{"assessments", "counts", "ALTER TABLE assessments ADD COLUMN counts TEXT NOT NULL DEFAULT ''"},
		{"uploads", "owner", "ALTER TABLE uploads ADD COLUMN owner TEXT NOT NULL DEFAULT ''"},
		{"uploads", "touched", "ALTER TABLE uploads ADD COLUMN touched INTEGER NOT NULL DEFAULT 0"},
	};
	for (size_t i = 0; i < DD_ARRAY_LEN(added); i++) {
		sqlite3_stmt *s;
		if (sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info(?1) WHERE name=?2", -1, &s, NULL) != SQLITE_OK) {
			*err = sqlite3_mprintf("%s", sqlite3_errmsg(db));
			return 1;
		}
		sqlite3_bind_text(s, 1, added[i].table, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, added[i].column, -1, SQLITE_STATIC);
		int have = sqlite3_step(s) == SQLITE_ROW;
		sqlite3_finalize(s);
		if (!have && sqlite3_exec(db, added[i].add, NULL, NULL, err) != SQLITE_OK)
			return 1;
	}
	/* A referrer that is an image manifest without artifactType is listed with its config's
	 * media type (distribution-spec, referrers API); manifests stored before that was done for
	 * image configs too get it once, marked done in the settings table. */
	if (sqlite3_exec(db,
			 "BEGIN IMMEDIATE;"
			 "UPDATE manifests SET artifact_type=json_extract(content, '$.config.mediaType')"
			 " WHERE artifact_type='' AND subject<>'' AND json_valid(content)"
			 " AND json_type(content, '$.config.mediaType')='text'"
			 " AND NOT EXISTS (SELECT 1 FROM settings WHERE key='migrated.referrer-artifact-type');"
			 "INSERT OR IGNORE INTO settings(key, value) VALUES('migrated.referrer-artifact-type', '1');"
			 "COMMIT;",
			 NULL, NULL, err) != SQLITE_OK) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return 1;
	}
	/* an account's sessions, counted for its cap and listed oldest first (after the columns above) */
	if (sqlite3_exec(db, "CREATE INDEX IF NOT EXISTS uploads_owner ON uploads(owner, touched)", NULL, NULL, err) !=
	    SQLITE_OK)
		return 1;
	/* what listings read of every assessment, so they never step through the pages of its report
	 * and inventory (a covering index; after the columns above, which it holds) */
	if (sqlite3_exec(db,
			 "CREATE INDEX IF NOT EXISTS assessments_list ON assessments(repo, digest, status, reason,"
			 " db_generation, scanned_at, duration_us, counts)",
			 NULL, NULL, err) != SQLITE_OK)
		return 1;
	/* the running totals, made (and filled from the assessments there) once per data directory;
	 * in one transaction, so two processes opening it at once cannot both fill them */
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, err) != SQLITE_OK)
		return 1;
	sqlite3_stmt *s;
	static const char have_totals[] = "SELECT 1 FROM sqlite_master WHERE type='table' AND name='assessment_totals'";
	if (sqlite3_prepare_v2(db, have_totals, -1, &s, NULL) != SQLITE_OK) {
		*err = sqlite3_mprintf("%s", sqlite3_errmsg(db));
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return 1;
	}
	int have = sqlite3_step(s) == SQLITE_ROW;
	sqlite3_finalize(s);
	if ((!have && sqlite3_exec(db, totals_schema, NULL, NULL, err) != SQLITE_OK) ||
	    sqlite3_exec(db, "COMMIT", NULL, NULL, err) != SQLITE_OK) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return 1;
	}
	return 0;
}

static void conn_close(struct conn *c)
{
	for (int i = 0; i < S__COUNT; i++)
		sqlite3_finalize(c->st[i]);
	sqlite3_close(c->db);
	free(c);
}

/* Takes an idle connection, opens one while fewer than POOL_MAX exist, else waits. */
static int conn_get(struct meta_sqlite *ms, struct conn **out)
{
	pthread_mutex_lock(&ms->mu);
	while (!ms->pool && ms->open >= POOL_MAX)
		pthread_cond_wait(&ms->freed, &ms->mu);
	struct conn *c = ms->pool;
	if (c)
		ms->pool = c->next;
	else
		ms->open++;
	pthread_mutex_unlock(&ms->mu);
	if (c) {
		*out = c;
		return 0;
	}
	int rc = conn_open(ms, out);
	if (rc) {
		pthread_mutex_lock(&ms->mu);
		ms->open--;
		pthread_cond_signal(&ms->freed);
		pthread_mutex_unlock(&ms->mu);
	}
	return rc;
}

static void conn_put(struct meta_sqlite *ms, struct conn *c)
{
	pthread_mutex_lock(&ms->mu);
	c->next = ms->pool;
	ms->pool = c;
	pthread_cond_signal(&ms->freed);
	pthread_mutex_unlock(&ms->mu);
}

/* Returns the reset, cleared statement id of connection c (prepared once per connection). */
static sqlite3_stmt *stmt(struct conn *c, enum stmt_id id)
{
	if (!c->st[id]) {
		if (sqlite3_prepare_v3(c->db, sql[id], -1, SQLITE_PREPARE_PERSISTENT, &c->st[id], NULL) != SQLITE_OK) {
			log_error("sqlite prepare '%s': %s", sql[id], sqlite3_errmsg(c->db));
			abort(); /* the SQL above is ours: failing to prepare it is a bug */
		}
	} else {
		sqlite3_reset(c->st[id]);
		sqlite3_clear_bindings(c->st[id]);
	}
	return c->st[id];
}

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, i);
}

/* Runs a statement that returns no rows. */
static int exec_done(struct conn *c, sqlite3_stmt *s, const char *what)
{
	/* a write outside a transaction is a transaction of its own: it queues like one */
	int lock = !c->wlocked && !sqlite3_stmt_readonly(s) && sqlite3_get_autocommit(c->db);
	if (lock)
		pthread_mutex_lock(&c->ms->write_mu);
	int r = sqlite3_step(s);
	sqlite3_reset(s);
	if (lock)
		pthread_mutex_unlock(&c->ms->write_mu);
	return r == SQLITE_DONE ? 0 : sq_fail(c->db, what, r);
}

/* Write transactions: the process's write mutex from BEGIN IMMEDIATE to COMMIT or ROLLBACK.
 * Every tx_begin is followed by tx_commit and, when that fails or is not reached, tx_rollback. */
static int tx_begin(struct conn *c)
{
	pthread_mutex_lock(&c->ms->write_mu);
	c->wlocked = 1;
	return exec_done(c, stmt(c, S_BEGIN), "begin");
}

/* A write transaction whose loss in a power cut loses nothing: the scan queue's claims (reset
 * at start anyway) and stored assessments (their job stays queued until the assessment is
 * stored, so a lost one is made again). It commits without waiting for the disk (WAL with
 * synchronous=NORMAL); the next FULL commit's sync makes it durable too, since the WAL is one
 * sequence. Pushes, which clients are told are stored, keep synchronous=FULL. */
static int tx_begin_lazy(struct conn *c)
{
	pthread_mutex_lock(&c->ms->write_mu);
	c->wlocked = 1;
	sqlite3_exec(c->db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
	c->lazy = 1;
	return exec_done(c, stmt(c, S_BEGIN), "begin");
}

static void write_unlock(struct conn *c)
{
	if (c->lazy) {
		sqlite3_exec(c->db, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
		c->lazy = 0;
	}
	if (c->wlocked) {
		c->wlocked = 0;
		pthread_mutex_unlock(&c->ms->write_mu);
	}
}

static int tx_commit(struct conn *c)
{
	int rc = exec_done(c, stmt(c, S_COMMIT), "commit");
	if (!rc)
		write_unlock(c);
	return rc;
}

static void tx_rollback(struct conn *c)
{
	if (!sqlite3_get_autocommit(c->db))
		exec_done(c, stmt(c, S_ROLLBACK), "rollback");
	write_unlock(c);
}

static char *col_text(struct arena *a, sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	return arena_strndup(a, t ? (const char *)t : "", (size_t)sqlite3_column_bytes(s, i));
}

/* Reports and inventories are JSON and text of tens to hundreds of KB that compress about
 * tenfold: stored as a BLOB holding one zstd frame, re-assessing thousands of images writes a
 * tenth of the pages. Short values, and rows written before, stay TEXT and read as they are. */
#define PACK_MIN 512

static void bind_packed(sqlite3_stmt *s, int i, const char *v)
{
	size_t n = v ? strlen(v) : 0;
	if (n < PACK_MIN) {
		bind_text(s, i, v ? v : "");
		return;
	}
	size_t cap = ZSTD_compressBound(n);
	void *out = malloc(cap);
	size_t z = out ? ZSTD_compress(out, cap, v, n, 1) : 0;
	if (!out || ZSTD_isError(z)) {
		free(out);
		bind_text(s, i, v); /* kept as text: still correct, only larger */
		return;
	}
	sqlite3_bind_blob(s, i, out, (int)z, free);
}

/* The text of a column bind_packed wrote (arena memory); "" when a packed value is damaged. */
static char *col_unpacked(struct arena *a, sqlite3_stmt *s, int i)
{
	if (sqlite3_column_type(s, i) != SQLITE_BLOB)
		return col_text(a, s, i);
	const void *z = sqlite3_column_blob(s, i);
	size_t zn = (size_t)sqlite3_column_bytes(s, i);
	unsigned long long n = z ? ZSTD_getFrameContentSize(z, zn) : ZSTD_CONTENTSIZE_ERROR;
	if (n == ZSTD_CONTENTSIZE_ERROR || n == ZSTD_CONTENTSIZE_UNKNOWN || n > DD_MAX_STORED_TEXT_BYTES) {
		log_error("a stored assessment value is damaged (not a zstd frame of known size)");
		return arena_strdup(a, "");
	}
	char *out = arena_alloc_uninit(a, (size_t)n + 1);
	size_t got = ZSTD_decompress(out, (size_t)n, z, zn);
	if (ZSTD_isError(got) || got != n || memchr(out, 0, (size_t)n)) {
		log_error("a stored assessment value is damaged: %s",
			  ZSTD_isError(got) ? ZSTD_getErrorName(got) : "wrong length or a NUL byte");
		return arena_strdup(a, "");
	}
	out[n] = 0;
	return out;
}

static int repo_add(struct conn *c, const char *repo)
{
	sqlite3_stmt *s = stmt(c, S_REPO_ADD);
	bind_text(s, 1, repo);
	sqlite3_bind_int64(s, 2, util_now());
	return exec_done(c, s, "add repository");
}

static int repo_exists_c(struct conn *c, const char *repo)
{
	sqlite3_stmt *s = stmt(c, S_REPO_EXISTS);
	bind_text(s, 1, repo);
	int r = sqlite3_step(s);
	sqlite3_reset(s);
	if (r == SQLITE_ROW)
		return 0;
	return r == SQLITE_DONE ? DD_E_NAME_UNKNOWN : sq_err(c->db, "repo lookup");
}

static int ms_repo_exists(struct meta *m, const char *repo)
{
	struct meta_sqlite *ms = ms_of(m);
	struct conn *c;
	int rc = conn_get(ms, &c);
	if (rc)
		return rc;
	rc = repo_exists_c(c, repo);
	conn_put(ms, c);
	return rc;
}

static int ms_blob_link(struct meta *m, const char *repo, const char *digest, int64_t size)
{
	struct meta_sqlite *ms = ms_of(m);
	struct conn *c;
	int rc = conn_get(ms, &c);
	if (rc)
		return rc;
	if ((rc = tx_begin(c)))
		goto out;
	if ((rc = repo_add(c, repo)))
		goto out;
	sqlite3_stmt *s = stmt(c, S_BLOB_ADD);
	bind_text(s, 1, digest);
	sqlite3_bind_int64(s, 2, size);
	sqlite3_bind_int64(s, 3, util_now());
	if ((rc = exec_done(c, s, "add blob")))
		goto out;
	s = stmt(c, S_REPO_BLOB_ADD);
	bind_text(s, 1, repo);
	bind_text(s, 2, digest);
	if ((rc = exec_done(c, s, "link blob")))
		goto out;
	rc = tx_commit(c);
out:
	if (rc)
		tx_rollback(c);
	conn_put(ms, c);
	return rc;
}

static int blob_linked_c(struct conn *c, const char *repo, const char *digest, int64_t *size)
{
	sqlite3_stmt *s = stmt(c, S_BLOB_LINKED);
	bind_text(s, 1, repo);
	bind_text(s, 2, digest);
	int r = sqlite3_step(s);
	if (r == SQLITE_ROW && size)
		*size = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	if (r == SQLITE_ROW)
		return 0;
	return r == SQLITE_DONE ? DD_E_BLOB_UNKNOWN : sq_err(c->db, "blob lookup");
}

static int ms_blob_linked(struct meta *m, const char *repo, const char *digest, int64_t *size)
{
	struct meta_sqlite *ms = ms_of(m);
	struct conn *c;
	if (size)
		*size = 0;
	int rc = conn_get(ms, &c);
	if (rc)
		return rc;
	rc = blob_linked_c(c, repo, digest, size);
	conn_put(ms, c);
	return rc;
}

static int ms_blob_unlink(struct meta *m, const char *repo, const char *digest)
{
	struct meta_sqlite *ms = ms_of(m);
	struct conn *c;
	int rc = conn_get(ms, &c);
	if (rc)
		return rc;
	sqlite3_stmt *s = stmt(c, S_BLOB_UNLINK);
	bind_text(s, 1, repo);
	bind_text(s, 2, digest);
	rc = exec_done(c, s, "unlink blob");
	if (!rc && sqlite3_changes(c->db) == 0)
		rc = DD_E_BLOB_UNKNOWN;
	conn_put(ms, c);
	return rc;
}

static int ms_blobs_unreferenced(struct meta *m, struct arena *a, int64_t before, const char *after, size_t max,
				 const char ***digests, int64_t **sizes, size_t *n)
{
	struct meta_sqlite *ms = ms_of(m);
	struct conn *c;
	*digests = arena_alloc(a, (max + 1) * sizeof(**digests));
	*sizes = arena_alloc(a, (max + 1) * sizeof(**sizes));
	*n = 0;
	int rc = conn_get(ms, &c);
	if (rc)
		return rc;
	sqlite3_stmt *s = stmt(c, S_BLOBS_UNREFERENCED);
	bind_text(s, 1, after);
	sqlite3_bind_int64(s, 2, before);
	sqlite3_bind_int64(s, 3, (int64_t)max);
	int r;
	while ((r = sqlite3_step(s)) == SQLITE_ROW && *n < max) {
		(*digests)[*n] = col_text(a, s, 0);
		(*sizes)[(*n)++] = sqlite3_column_int64(s, 1);
	}
	if (r != SQLITE_ROW && r != SQLITE_DONE)
		rc = sq_err(c->db, "unreferenced blobs");
	sqlite3_reset(s);
	conn_put(ms, c);
	return rc;
}

static int ms_blob_forget(struct meta *m, const char *digest, int64_t before)
{
	struct meta_sqlite *ms = ms_of(m);
	struct conn *c;
	int rc = conn_get(ms, &c);
	if (rc)
		return rc;
	if ((rc = tx_begin(c)))
		goto out;
	sqlite3_stmt *s = stmt(c, S_BLOB_FORGET);
	bind_text(s, 1, digest);
	sqlite3_bind_int64(s, 2, before);
	if ((rc = exec_done(c, s, "forget blob")))
		goto out;
	if (sqlite3_changes(c->db) == 0) {
		rc = DD_E_NOT_FOUND; /* referenced or linked again meanwhile */
		goto out;
	}
	s = stmt(c, S_BLOB_FORGET_LINKS);
	bind_text(s, 1, digest);
	if ((rc = exec_done(c, s, "forget blob links")))
		goto out;
	rc = tx_commit(c);
out:
	if (rc)
		tx_rollback(c);
	conn_put(ms, c);
	return rc;
}

static int ms_blob_known(struct meta *m, const char *digest)
{
	struct meta_sqlite *ms = ms_of(m);
	struct conn *c;
	int rc = conn_get(ms, &c);
	if (rc)
		return rc;
	sqlite3_stmt *s = stmt(c, S_BLOB_KNOWN);
	bind_text(s, 1, digest);
	int r = sqlite3_step(s);
	sqlite3_reset(s);
	rc = r == SQLITE_ROW ? 0 : r == SQLITE_DONE ? DD_E_BLOB_UNKNOWN : sq_err(c->db, "blob lookup");
	conn_put(ms, c);
	return rc;
}

static int manifest_exists_c(struct conn *c, const char *repo, const char *digest)
{
	sqlite3_stmt *s = stmt(c, S_MANIFEST_EXISTS);
	bind_text(s, 1, repo);
	bind_text(s, 2, digest);
	int r = sqlite3_step(s);
	sqlite3_reset(s);
	if (r == SQLITE_ROW)
		return 0;
	return r == SQLITE_DONE ? DD_E_MANIFEST_UNKNOWN : sq_err(c->db, "manifest lookup");
}

static int audit_insert(struct conn *c, const struct audit_rec *e)
{
	sqlite3_stmt *s = stmt(c, S_AUDIT_ADD);
	sqlite3_bind_int64(s, 1, e->time);
	bind_text(s, 2, e->actor);
	bind_text(s, 3, e->action);
	bind_text(s, 4, e->target);
	bind_text(s, 5, e->detail ? e->detail : "");
	return exec_done(c, s, "audit");
}

static int ms_manifest_put(struct meta *m, struct arena *a, const struct manifest_put *p, const char **missing)
{
	struct meta_sqlite *ms = ms_of(m);
	const struct manifest_rec *r = &p->rec;
	struct conn *c;
	*missing = NULL;
	int rc = conn_get(ms, &c);
	if (rc)
		return rc;
	if ((rc = tx_begin(c)))
		goto out;
	for (size_t i = 0; i < p->nrefs; i++) {
		const struct manifest_ref *ref = &p->refs[i];
		if (ref->kind == REF_FOREIGN)
			continue;
		rc = ref->kind == REF_BLOB ? blob_linked_c(c, r->repo, ref->digest, NULL)
					   : manifest_exists_c(c, r->repo, ref->digest);
		if (rc == DD_E_BLOB_UNKNOWN || rc == DD_E_MANIFEST_UNKNOWN) {
			*missing = arena_strdup(a, ref->digest);
			rc = DD_E_MANIFEST_BLOB_UNKNOWN;
		}
		if (rc)
			goto out;
	}
	if ((rc = repo_add(c, r->repo)))
		goto out;
	sqlite3_stmt *s = stmt(c, S_MANIFEST_ADD);
	bind_text(s, 1, r->repo);
	bind_text(s, 2, r->digest);
	bind_text(s, 3, r->media_type);
	bind_text(s, 4, r->artifact_type);
	bind_text(s, 5, r->subject);
	bind_text(s, 6, r->annotations);
	sqlite3_bind_int64(s, 7, r->size);
	sqlite3_bind_blob(s, 8, r->content, (int)r->size, SQLITE_STATIC);
	sqlite3_bind_int64(s, 9, util_now());
	if ((rc = exec_done(c, s, "add manifest")))
		goto out;
	for (size_t i = 0; i < p->nrefs; i++) {
		s = stmt(c, S_REF_ADD);
		bind_text(s, 1, r->repo);
		bind_text(s, 2, r->digest);
		bind_text(s, 3, p->refs[i].digest);
		sqlite3_bind_int(s, 4, (int)p->refs[i].kind);
		if ((rc = exec_done(c, s, "add manifest reference")))
			goto out;
	}
	if (p->tag) {
		s = stmt(c, S_TAG_SET);
		bind_text(s, 1, r->repo);
		bind_text(s, 2, p->tag);
		bind_text(s, 3, r->digest);
		sqlite3_bind_int64(s, 4, util_now());
		if ((rc = exec_done(c, s, "set tag")))
			goto out;
	}
	if (p->queue_scan) {
		s = stmt(c, S_SCAN_ENQUEUE);
		bind_text(s, 1, r->repo);
		bind_text(s, 2, r->digest);
		sqlite3_bind_int(s, 3, SCAN_PUSH);
		sqlite3_bind_int64(s, 4, util_now());
		if ((rc = exec_done(c, s, "queue scan")))
			goto out;
	}
	if (p->audit && (rc = audit_insert(c, p->audit)))
		goto out;
	rc = tx_commit(c);
out:
	if (rc)
		tx_rollback(c);
	conn_put(ms, c);
	return rc;
}

static void fill_rec(struct arena *a, sqlite3_stmt *s, const char *repo, struct manifest_rec *out)
{
	out->repo = repo;
	out->digest = col_text(a, s, 0);
	out->media_type = col_text(a, s, 1);
	out->artifact_type = col_text(a, s, 2);
	out->subject = col_text(a, s, 3);
	out->annotations = col_text(a, s, 4);
	out->size = sqlite3_column_int64(s, 5);
	out->created = sqlite3_column_int64(s, 6);
}

static int ms_manifest_get(struct meta *m, struct arena *a, const char *repo, const char *reference, int is_digest,
			   int with_content, struct manifest_rec *out)
{
	struct meta_sqlite *ms = ms_of(m);
	struct conn *c;
	memset(out, 0, sizeof(*out));
	int rc = conn_get(ms, &c);
	if (rc)
		return rc;
	const char *digest = reference;
	sqlite3_stmt *s;
	int r;
	if (!is_digest) {
		s = stmt(c, S_TAG_RESOLVE);
		bind_text(s, 1, repo);
		bind_text(s, 2, reference);
		r = sqlite3_step(s);
		if (r == SQLITE_ROW)
			digest = col_text(a, s, 0);
		sqlite3_reset(s);
		if (r == SQLITE_DONE) {
			rc = repo_exists_c(c, repo);
			rc = rc ? rc : DD_E_MANIFEST_UNKNOWN;
			goto out;
		}
		if (r != SQLITE_ROW) {
			rc = sq_err(c->db, "tag lookup");
			goto out;
		}
	}
	s = stmt(c, with_content ? S_MANIFEST_GET : S_MANIFEST_HEAD);
	bind_text(s, 1, repo);
	bind_text(s, 2, digest);
	r = sqlite3_step(s);
	if (r == SQLITE_ROW) {
		fill_rec(a, s, repo, out);
		if (with_content) {
			int n = sqlite3_column_bytes(s, 7);
			char *d = arena_alloc(a, (size_t)n + 1);
			if (n)
				memcpy(d, sqlite3_column_blob(s, 7), (size_t)n);
			out->content = d;
		}
	}
	sqlite3_reset(s);
	if (r == SQLITE_DONE) {
		rc = repo_exists_c(c, repo);
		rc = rc ? rc : DD_E_MANIFEST_UNKNOWN;
	} else if (r != SQLITE_ROW)
		rc = sq_err(c->db, "manifest lookup");
out:
	conn_put(ms, c);
	return rc;
}

/* Deletes a manifest; with untagged_before >= 0 only if it is untagged (UNTAGGED) and was
 * stored before then, else DD_E_NOT_FOUND. */
static int manifest_delete(struct meta *m, const char *repo, const char *digest, int64_t untagged_before)
{
	struct meta_sqlite *ms = ms_of(m);
	struct conn *c;
	int rc = conn_get(ms, &c);
	if (rc)
		return rc;
	if ((rc = tx_begin(c)))
		goto out;
	sqlite3_stmt *s = stmt(c, untagged_before >= 0 ? S_MANIFEST_DEL_UNTAGGED : S_MANIFEST_DEL);
	bind_text(s, 1, repo);
	bind_text(s, 2, digest);
	if (untagged_before >= 0)
		sqlite3_bind_int64(s, 3, untagged_before);
	if ((rc = exec_done(c, s, "delete manifest")))
		goto out;
	if (sqlite3_changes(c->db) == 0) {
		rc = untagged_before >= 0 ? DD_E_NOT_FOUND : repo_exists_c(c, repo);
		rc = rc ? rc : DD_E_MANIFEST_UNKNOWN;
		goto out;
	}
	/* its tags, references, assessment and queued scan go with it */
	enum stmt_id more[] = {S_MANIFEST_TAGS_DEL, S_MANIFEST_REFS_DEL, S_ASSESS_DEL, S_SCAN_JOB_DEL_DIGEST};
	for (size_t i = 0; i < DD_ARRAY_LEN(more); i++) {
		s = stmt(c, more[i]);
		bind_text(s, 1, repo);
		bind_text(s, 2, digest);
		if ((rc = exec_done(c, s, "delete manifest")))
			goto out;
	}
	rc = tx_commit(c);
out:
	if (rc)
		tx_rollback(c);
	conn_put(ms, c);
	return rc;
}

static int ms_manifest_delete(struct meta *m, const char *repo, const char *digest)
{
	return manifest_delete(m, repo, digest, -1);
}

static int ms_manifest_forget_untagged(struct meta *m, const char *repo, const char *digest, int64_t before)
{
	return manifest_delete(m, repo, digest, before < 0 ? 0 : before);
}

static int ms_manifests_untagged(struct meta *m, struct arena *a, int64_t before, const char *after_repo,
				 const char *after_digest, size_t max, const char ***repos, const char ***digests,
				 size_t *n)
{
	struct meta_sqlite *ms = ms_of(m);
	struct conn *c;
	*repos = arena_alloc(a, (max + 1) * sizeof(**repos));
	*digests = arena_alloc(a, (max + 1) * sizeof(**digests));
	*n = 0;
	int rc = conn_get(ms, &c);
	if (rc)
		return rc;
	sqlite3_stmt *s = stmt(c, S_MANIFESTS_UNTAGGED);
	bind_text(s, 1, after_repo);
	bind_text(s, 2, after_digest);
	sqlite3_bind_int64(s, 3, before);
	sqlite3_bind_int64(s, 4, (int64_t)max);
	int r;
	while ((r = sqlite3_step(s)) == SQLITE_ROW && *n < max) {
		(*repos)[*n] = col_text(a, s, 0);
		(*digests)[(*n)++] = col_text(a, s, 1);
	}
	if (r != SQLITE_ROW && r != SQLITE_DONE)
		rc = sq_err(c->db, "untagged manifests");
	sqlite3_reset(s);
	conn_put(ms, c);
	return rc;
}

static int ms_tag_delete(struct meta *m, const char *repo, const char *tag)
{
	struct meta_sqlite *ms = ms_of(m);
	struct conn *c;
	int rc = conn_get(ms, &c);
	if (rc)
		return rc;
	sqlite3_stmt *s = stmt(c, S_TAG_DEL);
	bind_text(s, 1, repo);
	bind_text(s, 2, tag);
	rc = exec_done(c, s, "delete tag");
	if (!rc && sqlite3_changes(c->db) == 0) {
		rc = repo_exists_c(c, repo);
		rc = rc ? rc : DD_E_MANIFEST_UNKNOWN;
	}
	conn_put(ms, c);
	return rc;
}

/* Collects column 0 of up to limit rows; *more when a limit+1'th row exists. */
static int collect_names(struct conn *c, struct arena *a, sqlite3_stmt *s, int64_t limit, const char ***out,
			 size_t *n, int *more)
{
	size_t cap = 64, k = 0;
	const char **v = arena_alloc(a, cap * sizeof(*v));
	int r;
	*more = 0;
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		if ((int64_t)k == limit) {
			*more = 1;
			break;
		}
		if (k == cap) {
			const char **nv = arena_alloc(a, 2 * cap * sizeof(*v));
			memcpy(nv, v, cap * sizeof(*v));
			v = nv;
			cap *= 2;
		}
		v[k++] = col_text(a, s, 0);
	}
	sqlite3_reset(s);
	if (r != SQLITE_ROW && r != SQLITE_DONE)
		return sq_err(c->db, "list");
	*out = v;
	*n = k;
	return 0;
}

static int ms_tags_list(struct meta *m, struct arena *a, const char *repo, const char *last, int64_t limit,
			const char ***out, size_t *n, int *more)
{
	struct meta_sqlite *ms = ms_of(m);
	struct conn *c;
	*out = NULL;
	*n = 0;
	*more = 0;
	int rc = conn_get(ms, &c);
	if (rc)
		return rc;
	if ((rc = repo_exists_c(c, repo)))
		goto out;
	sqlite3_stmt *s = stmt(c, S_TAGS);
	bind_text(s, 1, repo);
	bind_text(s, 2, last);
	sqlite3_bind_int64(s, 3, limit + 1);
	rc = collect_names(c, a, s, limit, out, n, more);
out:
	conn_put(ms, c);
	return rc;
}

static int ms_catalog(struct meta *m, struct arena *a, const char *last, int64_t limit, const char ***out, size_t *n,
		      int *more)
{
	struct meta_sqlite *ms = ms_of(m);
	struct conn *c;
	int rc = conn_get(ms, &c);
	if (rc)
		return rc;
	sqlite3_stmt *s = stmt(c, S_CATALOG);
	bind_text(s, 1, last);
	sqlite3_bind_int64(s, 2, limit + 1);
	rc = collect_names(c, a, s, limit, out, n, more);
	conn_put(ms, c);
	return rc;
}

static int ms_referrers(struct meta *m, struct arena *a, const char *repo, const char *subject,
			const char *artifact_type, struct manifest_rec **out, size_t *n)
{
	struct meta_sqlite *ms = ms_of(m);
	struct conn *c;
	*out = NULL;
	*n = 0;
	int rc = conn_get(ms, &c);
	if (rc)
		return rc;
	sqlite3_stmt *s = stmt(c, S_REFERRERS);
	bind_text(s, 1, repo);
	bind_text(s, 2, subject);
	bind_text(s, 3, artifact_type);
	sqlite3_bind_int64(s, 4, DD_MAX_REFERRERS);
	size_t cap = 16, k = 0;
	struct manifest_rec *v = arena_alloc(a, cap * sizeof(*v));
	int r;
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		if (k == cap) {
			struct manifest_rec *nv = arena_alloc(a, 2 * cap * sizeof(*v));
			memcpy(nv, v, cap * sizeof(*v));
			v = nv;
			cap *= 2;
		}
		fill_rec(a, s, repo, &v[k++]);
	}
	sqlite3_reset(s);
	if (r != SQLITE_DONE)
		rc = sq_err(c->db, "referrers");
	*out = v;
	*n = k;
	conn_put(ms, c);
	return rc;
}

static int64_t count_of(sqlite3_stmt *s)
{
	int64_t count = 0;
	if (sqlite3_step(s) == SQLITE_ROW)
		count = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return count;
}

static int ms_upload_create(struct meta *m, const char *id, const char *repo, const char *owner, int64_t max_sessions,
			    int64_t max_per_owner, enum upload_cap *cap)
{
	struct meta_sqlite *ms = ms_of(m);
	struct conn *c;
	*cap = UPLOAD_CAP_NONE;
	int rc = conn_get(ms, &c);
	if (rc)
		return rc;
	if ((rc = tx_begin(c)))
		goto out;
	if (count_of(stmt(c, S_UPLOAD_COUNT)) >= max_sessions) {
		*cap = UPLOAD_CAP_ALL;
		rc = DD_E_TOOMANYREQUESTS;
		goto out;
	}
	sqlite3_stmt *s = stmt(c, S_UPLOAD_COUNT_OWNER);
	bind_text(s, 1, owner);
	if (max_per_owner > 0 && count_of(s) >= max_per_owner) {
		*cap = UPLOAD_CAP_OWNER;
		rc = DD_E_TOOMANYREQUESTS;
		goto out;
	}
	s = stmt(c, S_UPLOAD_ADD);
	bind_text(s, 1, id);
	bind_text(s, 2, repo);
	sqlite3_bind_int64(s, 3, util_now());
	bind_text(s, 4, owner);
	sqlite3_bind_int64(s, 5, now_us());
	if ((rc = exec_done(c, s, "add upload")))
		goto out;
	rc = tx_commit(c);
out:
	if (rc)
		tx_rollback(c);
	conn_put(ms, c);
	return rc;
}

static int ms_uploads_of_owner(struct meta *m, struct arena *a, const char *owner, size_t max, const char ***ids,
			       size_t *n)
{
	struct meta_sqlite *ms = ms_of(m);
	struct conn *c;
	int more;
	*ids = NULL;
	*n = 0;
	int rc = conn_get(ms, &c);
	if (rc)
		return rc;
	sqlite3_stmt *s = stmt(c, S_UPLOADS_OF_OWNER);
	bind_text(s, 1, owner);
	sqlite3_bind_int64(s, 2, (int64_t)max + 1);
	rc = collect_names(c, a, s, (int64_t)max, ids, n, &more);
	conn_put(ms, c);
	return rc;
}

static int ms_upload_get(struct meta *m, struct arena *a, const char *id, struct upload_rec *out)
{
	struct meta_sqlite *ms = ms_of(m);
	struct conn *c;
	memset(out, 0, sizeof(*out));
	int rc = conn_get(ms, &c);
	if (rc)
		return rc;
	sqlite3_stmt *s = stmt(c, S_UPLOAD_GET);
	bind_text(s, 1, id);
	int r = sqlite3_step(s);
	if (r == SQLITE_ROW) {
		out->id = arena_strdup(a, id);
		out->repo = col_text(a, s, 0);
		out->offset = sqlite3_column_int64(s, 1);
		out->created = sqlite3_column_int64(s, 2);
	}
	sqlite3_reset(s);
	rc = r == SQLITE_ROW ? 0 : r == SQLITE_DONE ? DD_E_BLOB_UPLOAD_UNKNOWN : sq_err(c->db, "upload lookup");
	conn_put(ms, c);
	return rc;
}

static int ms_upload_set_offset(struct meta *m, const char *id, int64_t offset)
{
	struct meta_sqlite *ms = ms_of(m);
	struct conn *c;
	int rc = conn_get(ms, &c);
	if (rc)
		return rc;
	sqlite3_stmt *s = stmt(c, S_UPLOAD_SET);
	bind_text(s, 1, id);
	sqlite3_bind_int64(s, 2, offset);
	sqlite3_bind_int64(s, 3, util_now());
	sqlite3_bind_int64(s, 4, now_us());
	rc = exec_done(c, s, "update upload");
	if (!rc && sqlite3_changes(c->db) == 0)
		rc = DD_E_BLOB_UPLOAD_UNKNOWN;
	conn_put(ms, c);
	return rc;
}

static int ms_upload_delete(struct meta *m, const char *id)
{
	struct meta_sqlite *ms = ms_of(m);
	struct conn *c;
	int rc = conn_get(ms, &c);
	if (rc)
		return rc;
	sqlite3_stmt *s = stmt(c, S_UPLOAD_DEL);
	bind_text(s, 1, id);
	rc = exec_done(c, s, "delete upload");
	if (!rc && sqlite3_changes(c->db) == 0)
		rc = DD_E_BLOB_UPLOAD_UNKNOWN;
	conn_put(ms, c);
	return rc;
}

static int ms_uploads_stale(struct meta *m, struct arena *a, int64_t before, size_t max, const char ***ids,
			    size_t *n)
{
	struct meta_sqlite *ms = ms_of(m);
	struct conn *c;
	int more;
	*ids = NULL;
	*n = 0;
	int rc = conn_get(ms, &c);
	if (rc)
		return rc;
	sqlite3_stmt *s = stmt(c, S_UPLOAD_STALE);
	sqlite3_bind_int64(s, 1, before);
	sqlite3_bind_int64(s, 2, (int64_t)max + 1);
	rc = collect_names(c, a, s, (int64_t)max, ids, n, &more);
	conn_put(ms, c);
	return rc;
}

/* ---- scans ---- */

static int ms_scan_claim(struct meta *m, struct arena *a, size_t max, struct scan_job **out, size_t *n)
{
	struct meta_sqlite *ms = ms_of(m);
	struct conn *c;
	*out = arena_alloc(a, (max + 1) * sizeof(**out));
	*n = 0;
	int rc = conn_get(ms, &c);
	if (rc)
		return rc;
	if ((rc = tx_begin_lazy(c)))
		goto out;
	sqlite3_stmt *s = stmt(c, S_SCAN_NEXT);
	sqlite3_bind_int64(s, 1, (int64_t)max);
	int r;
	while ((r = sqlite3_step(s)) == SQLITE_ROW && *n < max) {
		struct scan_job *j = &(*out)[(*n)++];
		j->id = sqlite3_column_int64(s, 0);
		j->repo = col_text(a, s, 1);
		j->digest = col_text(a, s, 2);
		j->priority = sqlite3_column_int(s, 3);
	}
	sqlite3_reset(s);
	if (r != SQLITE_DONE && r != SQLITE_ROW) {
		rc = sq_err(c->db, "next scan");
		goto out;
	}
	if (!*n) {
		rc = DD_E_NOT_FOUND;
		goto out;
	}
	for (size_t i = 0; i < *n; i++) {
		s = stmt(c, S_SCAN_MARK);
		sqlite3_bind_int64(s, 1, (*out)[i].id);
		if ((rc = exec_done(c, s, "claim scan")))
			goto out;
	}
	rc = tx_commit(c);
out:
	if (rc)
		tx_rollback(c);
	conn_put(ms, c);
	return rc;
}

static int complete_one(struct conn *c, const struct scan_done *d)
{
	const struct assessment_rec *r = &d->rec;
	sqlite3_stmt *s = stmt(c, S_SCAN_JOB_DEL);
	sqlite3_bind_int64(s, 1, d->job);
	int rc = exec_done(c, s, "finish scan");
	if (rc || sqlite3_changes(c->db) == 0) /* the manifest was deleted while it was scanned */
		return rc;
	if (d->unchanged) {
		s = stmt(c, S_ASSESS_TOUCH);
		bind_text(s, 1, r->repo);
		bind_text(s, 2, r->digest);
		bind_text(s, 3, r->db_generation ? r->db_generation : "");
		sqlite3_bind_int64(s, 4, r->scanned_at);
		sqlite3_bind_int64(s, 5, r->duration_us);
		bind_text(s, 6, r->counts ? r->counts : ""); /* the same findings: fills rows stored before counts */
		if ((rc = exec_done(c, s, "store assessment")))
			return rc;
		goto extras;
	}
	/* a re-assessment of the stored inventory rewrites the row but for the inventory (?6) */
	s = stmt(c, d->inventory_kept ? S_ASSESS_REPORT : S_SCAN_ASSESS_PUT);
	bind_text(s, 1, r->repo);
	bind_text(s, 2, r->digest);
	bind_text(s, 3, r->status);
	bind_text(s, 4, r->reason ? r->reason : "");
	bind_packed(s, 5, r->report);
	if (!d->inventory_kept)
		bind_packed(s, 6, r->inventory);
	bind_text(s, 7, r->db_generation ? r->db_generation : "");
	sqlite3_bind_int64(s, 8, r->scanned_at);
	sqlite3_bind_int64(s, 9, r->duration_us);
	bind_text(s, 10, r->findings_hash ? r->findings_hash : "");
	bind_text(s, 11, r->counts ? r->counts : "");
	if ((rc = exec_done(c, s, "store assessment")))
		return rc;
extras:
	if (d->webhook_payload) {
		s = stmt(c, S_OUT_ADD);
		bind_text(s, 1, d->webhook_payload);
		if ((rc = exec_done(c, s, "queue webhook")))
			return rc;
	}
	if (d->ns) {
		s = stmt(c, S_SCAN_USAGE_ADD);
		bind_text(s, 1, d->ns);
		bind_text(s, 2, d->month);
		rc = exec_done(c, s, "count scan");
	}
	return rc;
}

static int ms_scan_complete(struct meta *m, const struct scan_done *done, size_t n)
{
	struct meta_sqlite *ms = ms_of(m);
	struct conn *c;
	int rc = conn_get(ms, &c);
	if (rc)
		return rc;
	if ((rc = tx_begin_lazy(c)))
		goto out;
	for (size_t i = 0; i < n && !rc; i++)
		rc = complete_one(c, &done[i]);
	if (!rc)
		rc = tx_commit(c);
out:
	if (rc)
		tx_rollback(c);
	conn_put(ms, c);
	return rc;
}

static int ms_scan_recover(struct meta *m)
{
	struct meta_sqlite *ms = ms_of(m);
	struct conn *c;
	int rc = conn_get(ms, &c);
	if (rc)
		return rc;
	if (!(rc = exec_done(c, stmt(c, S_SCAN_RESET), "requeue scans"))) {
		sqlite3_stmt *s = stmt(c, S_SCAN_MISSING);
		sqlite3_bind_int64(s, 1, util_now());
		rc = exec_done(c, s, "queue missing scans");
	}
	conn_put(ms, c);
	return rc;
}

static int ms_scan_enqueue_stale(struct meta *m, const char *generation, int64_t *queued)
{
	struct meta_sqlite *ms = ms_of(m);
	struct conn *c;
	*queued = 0;
	int rc = conn_get(ms, &c);
	if (rc)
		return rc;
	sqlite3_stmt *s = stmt(c, S_SCAN_STALE);
	bind_text(s, 1, generation);
	sqlite3_bind_int64(s, 2, util_now());
	rc = exec_done(c, s, "queue re-assessments");
	if (!rc)
		*queued = sqlite3_changes(c->db);
	conn_put(ms, c);
	return rc;
}

static int ms_scan_job_state(struct meta *m, const char *repo, const char *digest, int *state)
{
	struct meta_sqlite *ms = ms_of(m);
	struct conn *c;
	*state = -1;
	int rc = conn_get(ms, &c);
	if (rc)
		return rc;
	sqlite3_stmt *s = stmt(c, S_SCAN_STATE);
	bind_text(s, 1, repo);
	bind_text(s, 2, digest);
	int r = sqlite3_step(s);
	if (r == SQLITE_ROW)
		*state = sqlite3_column_int(s, 0);
	sqlite3_reset(s);
	rc = r == SQLITE_ROW || r == SQLITE_DONE ? 0 : sq_err(c->db, "scan state");
	conn_put(ms, c);
	return rc;
}

static int ms_scan_queue_depth(struct meta *m, int64_t *queued, int64_t *running)
{
	struct meta_sqlite *ms = ms_of(m);
	struct conn *c;
	*queued = *running = 0;
	int rc = conn_get(ms, &c);
	if (rc)
		return rc;
	sqlite3_stmt *s = stmt(c, S_SCAN_DEPTH);
	int r = sqlite3_step(s);
	if (r == SQLITE_ROW) {
		*queued = sqlite3_column_int64(s, 0);
		*running = sqlite3_column_int64(s, 1);
	}
	sqlite3_reset(s);
	rc = r == SQLITE_ROW ? 0 : sq_err(c->db, "queue depth");
	conn_put(ms, c);
	return rc;
}

static int ms_assessment_get(struct meta *m, struct arena *a, const char *repo, const char *digest,
			     struct assessment_rec *out)
{
	struct meta_sqlite *ms = ms_of(m);
	struct conn *c;
	memset(out, 0, sizeof(*out));
	int rc = conn_get(ms, &c);
	if (rc)
		return rc;
	sqlite3_stmt *s = stmt(c, S_ASSESS_GET);
	bind_text(s, 1, repo);
	bind_text(s, 2, digest);
	int r = sqlite3_step(s);
	if (r == SQLITE_ROW) {
		out->repo = arena_strdup(a, repo);
		out->digest = arena_strdup(a, digest);
		out->status = col_text(a, s, 0);
		out->reason = col_text(a, s, 1);
		out->report = col_unpacked(a, s, 2);
		out->inventory = col_unpacked(a, s, 3);
		out->db_generation = col_text(a, s, 4);
		out->scanned_at = sqlite3_column_int64(s, 5);
		out->duration_us = sqlite3_column_int64(s, 6);
		out->counts = col_text(a, s, 7);
	}
	sqlite3_reset(s);
	rc = r == SQLITE_ROW ? 0 : r == SQLITE_DONE ? DD_E_NOT_FOUND : sq_err(c->db, "assessment");
	conn_put(ms, c);
	return rc;
}

static int ms_assessment_inventory(struct meta *m, struct arena *a, const char *repo, const char *digest,
				   const char **inventory, const char **findings_hash)
{
	struct meta_sqlite *ms = ms_of(m);
	struct conn *c;
	*inventory = *findings_hash = NULL;
	int rc = conn_get(ms, &c);
	if (rc)
		return rc;
	sqlite3_stmt *s = stmt(c, S_ASSESS_INV);
	bind_text(s, 1, repo);
	bind_text(s, 2, digest);
	int r = sqlite3_step(s);
	if (r == SQLITE_ROW) {
		*inventory = col_unpacked(a, s, 0);
		*findings_hash = col_text(a, s, 1);
	}
	sqlite3_reset(s);
	rc = r == SQLITE_ROW ? 0 : r == SQLITE_DONE ? DD_E_NOT_FOUND : sq_err(c->db, "stored inventory");
	conn_put(ms, c);
	return rc;
}

static int ms_assessments_list(struct meta *m, struct arena *a, const char *repo, struct assessment_rec **out,
			       size_t *n)
{
	struct meta_sqlite *ms = ms_of(m);
	struct conn *c;
	*out = NULL;
	*n = 0;
	int rc = conn_get(ms, &c);
	if (rc)
		return rc;
	sqlite3_stmt *s = stmt(c, repo ? S_ASSESS_LIST : S_ASSESS_LIST_ALL);
	if (repo)
		bind_text(s, 1, repo);
	size_t cap = 0;
	struct assessment_rec *v = NULL;
	int r;
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		if (*n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			struct assessment_rec *nv = arena_alloc(a, nc * sizeof(*nv));
			if (*n)
				memcpy(nv, v, *n * sizeof(*nv));
			v = nv;
			cap = nc;
		}
		struct assessment_rec *x = &v[(*n)++];
		x->repo = col_text(a, s, 0);
		x->digest = col_text(a, s, 1);
		x->status = col_text(a, s, 2);
		x->reason = col_text(a, s, 3);
		x->report = x->inventory = "";
		x->db_generation = col_text(a, s, 4);
		x->scanned_at = sqlite3_column_int64(s, 5);
		x->duration_us = sqlite3_column_int64(s, 6);
		x->counts = col_text(a, s, 7);
	}
	sqlite3_reset(s);
	if (r != SQLITE_DONE)
		rc = sq_err(c->db, "assessments");
	*out = v;
	conn_put(ms, c);
	return rc;
}

static int ms_assessment_totals(struct meta *m, struct arena *a, const char *repo, struct assessment_total **out,
				size_t *n)
{
	struct meta_sqlite *ms = ms_of(m);
	struct conn *c;
	*out = NULL;
	*n = 0;
	int rc = conn_get(ms, &c);
	if (rc)
		return rc;
	sqlite3_stmt *s = stmt(c, repo ? S_TOTALS_REPO : S_TOTALS_ALL);
	if (repo)
		bind_text(s, 1, repo);
	size_t cap = 0;
	struct assessment_total *v = NULL;
	int r;
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		if (*n == cap) {
			size_t nc = cap ? cap * 2 : 8;
			struct assessment_total *nv = arena_alloc(a, nc * sizeof(*nv));
			if (*n)
				memcpy(nv, v, *n * sizeof(*nv));
			v = nv;
			cap = nc;
		}
		struct assessment_total *x = &v[(*n)++];
		x->repo = col_text(a, s, 0);
		x->status = col_text(a, s, 1);
		x->images = sqlite3_column_int64(s, 2);
		for (int k = 0; k < 6; k++)
			x->severity[k] = sqlite3_column_int64(s, 3 + k);
		x->unfixed = sqlite3_column_int64(s, 9);
		x->uncounted = sqlite3_column_int64(s, 10);
	}
	sqlite3_reset(s);
	if (r != SQLITE_DONE)
		rc = sq_err(c->db, "assessment totals");
	*out = v;
	conn_put(ms, c);
	return rc;
}

static int ms_usage_list(struct meta *m, struct arena *a, const char ***ns, const char ***month, int64_t **count,
			 size_t *n)
{
	struct meta_sqlite *ms = ms_of(m);
	struct conn *c;
	*n = 0;
	int rc = conn_get(ms, &c);
	if (rc)
		return rc;
	sqlite3_stmt *s = stmt(c, S_USAGE_LIST);
	size_t cap = 256;
	*ns = arena_alloc(a, cap * sizeof(**ns));
	*month = arena_alloc(a, cap * sizeof(**month));
	*count = arena_alloc(a, cap * sizeof(**count));
	int r;
	while ((r = sqlite3_step(s)) == SQLITE_ROW && *n < cap) {
		(*ns)[*n] = col_text(a, s, 0);
		(*month)[*n] = col_text(a, s, 1);
		(*count)[(*n)++] = sqlite3_column_int64(s, 2);
	}
	sqlite3_reset(s);
	if (r != SQLITE_DONE && r != SQLITE_ROW)
		rc = sq_err(c->db, "usage");
	conn_put(ms, c);
	return rc;
}

static int ms_ns_scanning_get(struct meta *m, const char *ns, int *enabled)
{
	struct meta_sqlite *ms = ms_of(m);
	struct conn *c;
	*enabled = 1;
	int rc = conn_get(ms, &c);
	if (rc)
		return rc;
	sqlite3_stmt *s = stmt(c, S_NS_GET);
	bind_text(s, 1, ns);
	int r = sqlite3_step(s);
	if (r == SQLITE_ROW)
		*enabled = sqlite3_column_int(s, 0) != 0;
	sqlite3_reset(s);
	rc = r == SQLITE_ROW || r == SQLITE_DONE ? 0 : sq_err(c->db, "namespace setting");
	conn_put(ms, c);
	return rc;
}

static int ms_ns_scanning_set(struct meta *m, const char *ns, int enabled)
{
	struct meta_sqlite *ms = ms_of(m);
	struct conn *c;
	int rc = conn_get(ms, &c);
	if (rc)
		return rc;
	sqlite3_stmt *s = stmt(c, S_NS_SET);
	bind_text(s, 1, ns);
	sqlite3_bind_int(s, 2, enabled);
	rc = exec_done(c, s, "namespace setting");
	conn_put(ms, c);
	return rc;
}

/* ---- settings and the webhook outbox ---- */

static int simple_exec(struct meta *m, enum stmt_id id, const char *t1, const char *t2, int64_t i1, int64_t i2,
		       const char *what)
{
	struct meta_sqlite *ms = ms_of(m);
	struct conn *c;
	int rc = conn_get(ms, &c);
	if (rc)
		return rc;
	sqlite3_stmt *s = stmt(c, id);
	if (t1) {
		bind_text(s, 1, t1);
		if (t2)
			bind_text(s, 2, t2);
	} else {
		sqlite3_bind_int64(s, 1, i1);
		sqlite3_bind_int64(s, 2, i2);
	}
	rc = exec_done(c, s, what);
	conn_put(ms, c);
	return rc;
}

static int ms_setting_put(struct meta *m, const char *key, const char *value)
{
	return simple_exec(m, S_SET_PUT, key, value, 0, 0, "store setting");
}

static int ms_setting_delete(struct meta *m, const char *key)
{
	return simple_exec(m, S_SET_DEL, key, NULL, 0, 0, "delete setting");
}

static int ms_setting_get(struct meta *m, struct arena *a, const char *key, const char **value)
{
	struct meta_sqlite *ms = ms_of(m);
	struct conn *c;
	*value = NULL;
	int rc = conn_get(ms, &c);
	if (rc)
		return rc;
	sqlite3_stmt *s = stmt(c, S_SET_GET);
	bind_text(s, 1, key);
	int r = sqlite3_step(s);
	if (r == SQLITE_ROW)
		*value = col_text(a, s, 0);
	sqlite3_reset(s);
	rc = r == SQLITE_ROW ? 0 : r == SQLITE_DONE ? DD_E_NOT_FOUND : sq_err(c->db, "setting");
	conn_put(ms, c);
	return rc;
}

#define SETTINGS_MAX 10000 /* rules listed at once */

static int ms_settings_list(struct meta *m, struct arena *a, const char *prefix, const char ***keys,
			    const char ***values, size_t *n)
{
	struct meta_sqlite *ms = ms_of(m);
	struct conn *c;
	*n = 0;
	int rc = conn_get(ms, &c);
	if (rc)
		return rc;
	sqlite3_stmt *s = stmt(c, S_SET_LIST);
	bind_text(s, 1, prefix);
	sqlite3_bind_int64(s, 2, SETTINGS_MAX);
	size_t cap = 16;
	*keys = arena_alloc(a, cap * sizeof(**keys));
	*values = arena_alloc(a, cap * sizeof(**values));
	int r;
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		if (*n == cap) {
			const char **k = arena_alloc(a, 2 * cap * sizeof(*k)), **v = arena_alloc(a, 2 * cap * sizeof(*v));
			memcpy(k, *keys, cap * sizeof(*k));
			memcpy(v, *values, cap * sizeof(*v));
			*keys = k;
			*values = v;
			cap *= 2;
		}
		(*keys)[*n] = col_text(a, s, 0);
		(*values)[(*n)++] = col_text(a, s, 1);
	}
	sqlite3_reset(s);
	if (r != SQLITE_DONE)
		rc = sq_err(c->db, "settings");
	conn_put(ms, c);
	return rc;
}

static int ms_outbox_add(struct meta *m, const char *payload)
{
	return simple_exec(m, S_OUT_ADD, payload, NULL, 0, 0, "queue webhook");
}

static int ms_outbox_due(struct meta *m, struct arena *a, int64_t now, size_t max, int64_t **ids,
			 const char ***payloads, int **attempts, size_t *n)
{
	struct meta_sqlite *ms = ms_of(m);
	struct conn *c;
	*n = 0;
	int rc = conn_get(ms, &c);
	if (rc)
		return rc;
	*ids = arena_alloc(a, (max + 1) * sizeof(**ids));
	*payloads = arena_alloc(a, (max + 1) * sizeof(**payloads));
	*attempts = arena_alloc(a, (max + 1) * sizeof(**attempts));
	sqlite3_stmt *s = stmt(c, S_OUT_DUE);
	sqlite3_bind_int64(s, 1, now);
	sqlite3_bind_int64(s, 2, (int64_t)max);
	int r;
	while ((r = sqlite3_step(s)) == SQLITE_ROW && *n < max) {
		(*ids)[*n] = sqlite3_column_int64(s, 0);
		(*payloads)[*n] = col_text(a, s, 1);
		(*attempts)[(*n)++] = sqlite3_column_int(s, 2);
	}
	sqlite3_reset(s);
	if (r != SQLITE_DONE && r != SQLITE_ROW)
		rc = sq_err(c->db, "outbox");
	conn_put(ms, c);
	return rc;
}

static int ms_outbox_done(struct meta *m, int64_t id)
{
	return simple_exec(m, S_OUT_DONE, NULL, NULL, id, 0, "webhook delivered");
}

static int ms_outbox_retry(struct meta *m, int64_t id, int64_t next_at)
{
	return simple_exec(m, S_OUT_RETRY, NULL, NULL, id, next_at, "webhook retry");
}

static void ms_free(struct meta *m)
{
	struct meta_sqlite *ms = ms_of(m);
	while (ms->pool) {
		struct conn *c = ms->pool;
		ms->pool = c->next;
		conn_close(c);
	}
	pthread_mutex_destroy(&ms->mu);
	pthread_mutex_destroy(&ms->write_mu);
	pthread_cond_destroy(&ms->freed);
	free(ms->path);
	free(ms);
}

static int ms_audit_add(struct meta *m, const struct audit_rec *e)
{
	struct meta_sqlite *ms = ms_of(m);
	struct conn *c;
	int rc = conn_get(ms, &c);
	if (rc)
		return rc;
	rc = audit_insert(c, e);
	conn_put(ms, c);
	return rc;
}

static int ms_audit_list(struct meta *m, struct arena *a, int64_t after, size_t max, struct audit_rec **out,
			 size_t *n)
{
	struct meta_sqlite *ms = ms_of(m);
	struct conn *c;
	*n = 0;
	*out = arena_alloc(a, sizeof(**out) * (max + 1));
	int rc = conn_get(ms, &c);
	if (rc)
		return rc;
	sqlite3_stmt *s = stmt(c, S_AUDIT_LIST);
	sqlite3_bind_int64(s, 1, after);
	sqlite3_bind_int64(s, 2, (int64_t)max);
	int r;
	while ((r = sqlite3_step(s)) == SQLITE_ROW && *n < max) {
		struct audit_rec *e = &(*out)[(*n)++];
		e->id = sqlite3_column_int64(s, 0);
		e->time = sqlite3_column_int64(s, 1);
		e->actor = col_text(a, s, 2);
		e->action = col_text(a, s, 3);
		e->target = col_text(a, s, 4);
		e->detail = col_text(a, s, 5);
	}
	sqlite3_reset(s);
	if (r != SQLITE_DONE && r != SQLITE_ROW)
		rc = sq_err(c->db, "audit");
	conn_put(ms, c);
	return rc;
}

static const struct meta_ops sqlite_ops = {
	.repo_exists = ms_repo_exists,
	.blob_link = ms_blob_link,
	.blob_linked = ms_blob_linked,
	.blob_unlink = ms_blob_unlink,
	.blobs_unreferenced = ms_blobs_unreferenced,
	.blob_forget = ms_blob_forget,
	.blob_known = ms_blob_known,
	.manifest_put = ms_manifest_put,
	.manifest_get = ms_manifest_get,
	.manifest_delete = ms_manifest_delete,
	.manifests_untagged = ms_manifests_untagged,
	.manifest_forget_untagged = ms_manifest_forget_untagged,
	.tag_delete = ms_tag_delete,
	.tags_list = ms_tags_list,
	.catalog = ms_catalog,
	.referrers = ms_referrers,
	.upload_create = ms_upload_create,
	.upload_get = ms_upload_get,
	.upload_set_offset = ms_upload_set_offset,
	.upload_delete = ms_upload_delete,
	.uploads_stale = ms_uploads_stale,
	.uploads_of_owner = ms_uploads_of_owner,
	.scan_claim = ms_scan_claim,
	.scan_complete = ms_scan_complete,
	.scan_recover = ms_scan_recover,
	.scan_enqueue_stale = ms_scan_enqueue_stale,
	.scan_job_state = ms_scan_job_state,
	.scan_queue_depth = ms_scan_queue_depth,
	.assessment_get = ms_assessment_get,
	.assessment_inventory = ms_assessment_inventory,
	.assessments_list = ms_assessments_list,
	.assessment_totals = ms_assessment_totals,
	.usage_list = ms_usage_list,
	.ns_scanning_get = ms_ns_scanning_get,
	.ns_scanning_set = ms_ns_scanning_set,
	.setting_put = ms_setting_put,
	.setting_get = ms_setting_get,
	.setting_delete = ms_setting_delete,
	.settings_list = ms_settings_list,
	.outbox_add = ms_outbox_add,
	.outbox_due = ms_outbox_due,
	.outbox_done = ms_outbox_done,
	.outbox_retry = ms_outbox_retry,
	.audit_add = ms_audit_add,
	.audit_list = ms_audit_list,
	.free = ms_free,
};

int meta_sqlite_open(const char *path, struct meta **out)
{
	*out = NULL;
	struct meta_sqlite *ms = calloc(1, sizeof(*ms));
	if (!ms || !(ms->path = strdup(path))) {
		free(ms);
		return DD_E_NOMEM;
	}
	pthread_mutex_init(&ms->mu, NULL);
	pthread_mutex_init(&ms->write_mu, NULL);
	pthread_cond_init(&ms->freed, NULL);
	ms->base.ops = &sqlite_ops;
	struct conn *c;
	int rc = conn_get(ms, &c);
	if (rc) {
		ms_free(&ms->base);
		return rc;
	}
	char *err = NULL;
	if (sqlite3_exec(c->db, schema, NULL, NULL, &err) != SQLITE_OK || migrate(c->db, &err)) {
		log_error("cannot create schema in '%s': %s", path, err ? err : "?");
		sqlite3_free(err);
		conn_close(c);
		ms_free(&ms->base);
		return DD_E_IO;
	}
	conn_put(ms, c);
	*out = &ms->base;
	return 0;
}
