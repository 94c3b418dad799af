/* meta_sqlite.c: the SQLite metadata backend's core (WAL, synchronous=FULL): the schema and
 * its migrations, a pool of connections each with its prepared statements cached, the one way
 * every operation runs a statement (sq_query ... sq_end, meta_sqlInt.h) and write
 * transactions. The operations themselves are in meta_sql_repos.c, meta_sql_scans.c,
 * meta_sql_admin.c and meta_sql_outbox.c.
 *
 * A call takes a connection, runs, and returns it. Writers are serialised by a mutex of the
 * process and by SQLite itself (BEGIN IMMEDIATE, busy timeout) across processes. Holds no blob
 * bytes. Assessment reports and inventories are stored zstd-compressed (PACKED, sq_unpacked). */
#include "common/dd.h"
#include "meta_sqlInt.h"
#include <sqlite3.h>
#include "common/arena.h"
#include "common/log.h"

/* the assessments table's columns, in the schema and in its rewrite as a rowid table (migrate) */
#define ASSESSMENT_COLUMNS                                                                                   \
	"repo TEXT NOT NULL, digest TEXT NOT NULL, status TEXT NOT NULL, reason TEXT NOT NULL,"              \
	" db_generation TEXT NOT NULL, scanned_at INTEGER NOT NULL, duration_us INTEGER NOT NULL,"          \
	" findings_hash TEXT NOT NULL DEFAULT '', counts TEXT NOT NULL DEFAULT '', tallied INTEGER NOT NULL DEFAULT 0"
#define ASSESSMENT_NAMES "repo, digest, status, reason, db_generation, scanned_at, duration_us, findings_hash, counts"

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
	/* an assessment's small columns, rewritten by every re-assessment, apart from its report and
	 * inventory (kilobytes each, rewritten only when they change): SQLite writes a whole row.
	 * All three are rowid tables, their rows in the order they were first stored: a
	 * re-assessment walks the three in one order, page after page (keyed by name, the small
	 * rows of a directory filled push by push lay in another order, and each batch of 32
	 * rewrote 32 pages scattered over the table). */
	"CREATE TABLE IF NOT EXISTS assessments(" ASSESSMENT_COLUMNS ", PRIMARY KEY(repo, digest));"
	"CREATE TABLE IF NOT EXISTS assessment_reports(repo TEXT NOT NULL, digest TEXT NOT NULL, report TEXT NOT NULL,"
	" PRIMARY KEY(repo, digest));"
	"CREATE TABLE IF NOT EXISTS assessment_inventories(repo TEXT NOT NULL, digest TEXT NOT NULL,"
	" inventory TEXT NOT NULL, PRIMARY KEY(repo, digest));"
	"CREATE TABLE IF NOT EXISTS scan_usage(namespace TEXT NOT NULL, month TEXT NOT NULL, scans INTEGER NOT NULL,"
	" PRIMARY KEY(namespace, month)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS namespace_settings(namespace TEXT PRIMARY KEY, scanning INTEGER NOT NULL)"
	" WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS settings(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
	/* the webhook targets and the events waiting for each (meta_outbox.h): outbox.target is a
	 * webhooks.id (0: an event stored before there were targets, given to the --webhook option's) */
	/* AUTOINCREMENT: a deleted target's id is never given to another, whose events would go
	 * where the deleted one's went (a deliverer holds a target's URL across its POST).
	 * failures: its consecutive failed deliveries; retry_at: when the next may be tried */
	"CREATE TABLE IF NOT EXISTS webhooks(id INTEGER PRIMARY KEY AUTOINCREMENT, url TEXT NOT NULL,"
	" secret TEXT NOT NULL, ns TEXT NOT NULL, events TEXT NOT NULL, format TEXT NOT NULL, origin TEXT NOT NULL,"
	" created INTEGER NOT NULL, delivered INTEGER NOT NULL DEFAULT 0, given_up INTEGER NOT NULL DEFAULT 0,"
	" last_error TEXT NOT NULL DEFAULT '', last_error_at INTEGER NOT NULL DEFAULT 0,"
	" failures INTEGER NOT NULL DEFAULT 0, retry_at INTEGER NOT NULL DEFAULT 0, internal INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE IF NOT EXISTS outbox(id INTEGER PRIMARY KEY, payload TEXT NOT NULL, attempts INTEGER NOT NULL,"
	" next_at INTEGER NOT NULL, target INTEGER NOT NULL DEFAULT 0, type TEXT NOT NULL DEFAULT '',"
	" created INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE IF NOT EXISTS audit(id INTEGER PRIMARY KEY, time INTEGER NOT NULL, actor TEXT NOT NULL,"
	" action TEXT NOT NULL, target TEXT NOT NULL, detail TEXT NOT NULL);";

/* The running totals of the assessments (assessment_totals): for each repository and status,
 * and for the whole registry (repo ''), the images and what their counts say ("C H M L N U F",
 * meta_scans.h), plus how many of them have counts in no other form than that (`uncounted`: stored
 * before counts were, so their reports say; only those rows are ever read one by one). Triggers
 * keep them in the transaction of every change to assessments, whichever statement or tool
 * makes it, so a restart reads them as they are; the scans' store counts its own batches'
 * updates in the same transaction instead (UNTALLIED below). Rows that drop to no image are
 * removed. */
#define TOTALS_COLUMNS "images, critical, high, medium, low, negligible, unknown, unfixed, uncounted"

/* Whether counts text C is exactly seven non-negative integers of at most 12 digits written as
 * "%d %d ..." writes them (digits and single spaces, no leading zero): the only form counted
 * here. counts_parse reads every such text as the same numbers; anything else is `uncounted` and
 * its report is read instead, as before. String tests alone: a trigger runs them for every
 * changed assessment (JSON functions in their place took 10 times the time of the whole
 * update, 100,000 re-assessed images gaining or losing findings took 13 s more). */
#define COUNTS_OK(C)                                                                                       \
	"(typeof(" C ") = 'text' AND " C " NOT GLOB '*[^0-9 ]*' AND length(" C ") - length(replace(" C ", ' ', '')) = 6 AND " C            \
	" NOT GLOB ' *' AND " C " NOT GLOB '* ' AND " C " NOT GLOB '*  *' AND " C " NOT GLOB '0[0-9]*' AND " C \
	" NOT GLOB '* 0[0-9]*' AND " C " NOT GLOB"                                                            \
	" '*[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]*')"
/* The rows of SEL (with s, a status) FROM, counts column C checked (ok) and made a JSON array j
 * ("1 2 3" -> "[1,2,3]", read by COUNT_AT: only where ok, so j is always an array of integers;
 * the text up to a NUL, which the checks and counts_parse read no further than either).
 * ROW_PARSED: row R (NEW or OLD) alone, in a subquery that runs once (LIMIT 1: not flattened
 * into the join with the two totals' rows, which evaluated the parse once for each). Measured on
 * 100,000 stored images, per changed row: the numbers cut from the text with nested ltrim() and
 * CAST took 7 us a parse, json_extract 2 us; the totals' trigger went from 50 to 20 us. */
#define COUNTS_J(C) "'[' || replace(substr(" C ", 1, length(" C ")), ' ', ',') || ']' AS j"
#define COUNTS_PARSED(SEL, C, FROM) "(SELECT " SEL ", ok, " COUNTS_J(C) " FROM (SELECT *, " COUNTS_OK(C) " AS ok " FROM "))"
#define ROW_PARSED(R)                                                                                       \
	"(SELECT " R ".status AS s, ok, " COUNTS_J(R ".counts") " FROM (SELECT " COUNTS_OK(R ".counts") " AS ok)" \
	" LIMIT 1)"
#define COUNT_AT(K) "iif(ok, json_extract(j, '$[" K "]'), 0)"

/* Adds (SIGN "") or takes away (SIGN "-") row R (NEW or OLD) in its repository and the registry. */
#define TOTALS_APPLY(R, SIGN)                                                                               \
	"INSERT INTO assessment_totals(repo, status, " TOTALS_COLUMNS ") SELECT r, s, " SIGN "1, "          \
	SIGN COUNT_AT("0") ", " SIGN COUNT_AT("1") ", " SIGN COUNT_AT("2") ", " SIGN COUNT_AT("3") ", "       \
	SIGN COUNT_AT("4") ", " SIGN COUNT_AT("5") ", " SIGN COUNT_AT("6") ", " SIGN "(NOT ok)"              \
	" FROM (SELECT " R ".repo AS r UNION ALL SELECT ''), " ROW_PARSED(R) " WHERE 1"                    \
	" ON CONFLICT(repo, status) DO UPDATE SET images=images+excluded.images,"                           \
	" critical=critical+excluded.critical, high=high+excluded.high, medium=medium+excluded.medium,"     \
	" low=low+excluded.low, negligible=negligible+excluded.negligible, unknown=unknown+excluded.unknown," \
	" unfixed=unfixed+excluded.unfixed, uncounted=uncounted+excluded.uncounted;"
#define TOTALS_PRUNE "DELETE FROM assessment_totals WHERE repo IN (OLD.repo, '') AND status=OLD.status AND images=0;"

/* An update the triggers count: not one whose writer counted it itself. The scans' store
 * (meta_sql_scans.c's tally) reads a batch's rows before it updates them, bumps `tallied` on each
 * and writes the batch's change to the totals and the history once, at its end: the triggers'
 * statements for every row took 35-45 us of the writers' lock per re-assessed image. Any other
 * update (another statement of drydock's, a tool's) leaves `tallied` as it was and is counted
 * here, as before. The store checks, in each batch's transaction, that the triggers in place
 * are these (another version's, put back by it, would count the batch too). */
#define UNTALLIED SQ_UNTALLIED

/* the totals' triggers, made with the table or in place of an older version's */
static const char totals_triggers[] =
	"DROP TRIGGER IF EXISTS assessments_totals_insert; DROP TRIGGER IF EXISTS assessments_totals_delete;"
	"DROP TRIGGER IF EXISTS assessments_totals_update;"
	"CREATE TRIGGER assessments_totals_insert AFTER INSERT ON assessments BEGIN " TOTALS_APPLY("NEW", "") " END;"
	"CREATE TRIGGER assessments_totals_delete AFTER DELETE ON assessments BEGIN " TOTALS_APPLY("OLD", "-")
	TOTALS_PRUNE " END;"
	"CREATE TRIGGER assessments_totals_update AFTER UPDATE OF repo, status, counts ON assessments"
	" WHEN " UNTALLIED " AND (OLD.repo IS NOT NEW.repo OR OLD.status IS NOT NEW.status OR OLD.counts IS NOT"
	" NEW.counts) BEGIN " TOTALS_APPLY("OLD", "-") TOTALS_PRUNE TOTALS_APPLY("NEW", "") " END;";

static const char totals_schema[] =
	"CREATE TABLE assessment_totals(repo TEXT NOT NULL, status TEXT NOT NULL, images INTEGER NOT NULL,"
	" critical INTEGER NOT NULL, high INTEGER NOT NULL, medium INTEGER NOT NULL, low INTEGER NOT NULL,"
	" negligible INTEGER NOT NULL, unknown INTEGER NOT NULL, unfixed INTEGER NOT NULL,"
	" uncounted INTEGER NOT NULL, PRIMARY KEY(repo, status)) WITHOUT ROWID;"
	/* the assessments already there (a data directory from before the totals) */
	"INSERT INTO assessment_totals(repo, status, " TOTALS_COLUMNS ") SELECT repo, s, count(*),"
	" sum(" COUNT_AT("0") "), sum(" COUNT_AT("1") "), sum(" COUNT_AT("2") "), sum(" COUNT_AT("3") "),"
	" sum(" COUNT_AT("4") "), sum(" COUNT_AT("5") "), sum(" COUNT_AT("6") "), sum(NOT ok)"
	" FROM " COUNTS_PARSED("repo, status AS s", "counts", "FROM assessments") " GROUP BY repo, s;"
	"INSERT INTO assessment_totals(repo, status, " TOTALS_COLUMNS ") SELECT '', status, sum(images),"
	" sum(critical), sum(high), sum(medium), sum(low), sum(negligible), sum(unknown), sum(unfixed),"
	" sum(uncounted) FROM assessment_totals GROUP BY status;";

/* The posture's history (assessment_days, meta_scans.h): for each UTC day, namespace (a
 * repository's first path component) and status, how that day's changes to the assessments moved
 * the running totals (a delta: the level on a day is the sum of the deltas up to it), and how many
 * assessments were written that day. Triggers beside the totals' keep it in the same transaction;
 * the assessments already there when it is made are one first day's deltas (a baseline). */
#define DAY_NS(R) "substr(" R ".repo, 1, instr(" R ".repo || '/', '/') - 1)"
#define DAYS_APPLY(R, SIGN)                                                                                 \
	"INSERT INTO assessment_days(day, ns, status, images, critical, high, medium, low, negligible, unknown," \
	" unfixed, assessed) SELECT date('now'), " DAY_NS(R) ", s, " SIGN "1, " SIGN COUNT_AT("0") ", "          \
	SIGN COUNT_AT("1") ", " SIGN COUNT_AT("2") ", " SIGN COUNT_AT("3") ", " SIGN COUNT_AT("4") ", "        \
	SIGN COUNT_AT("5") ", " SIGN COUNT_AT("6") ", 0 FROM " ROW_PARSED(R) " WHERE 1"                     \
	" ON CONFLICT(day, ns, status) DO UPDATE SET images=images+excluded.images,"                        \
	" critical=critical+excluded.critical, high=high+excluded.high, medium=medium+excluded.medium,"     \
	" low=low+excluded.low, negligible=negligible+excluded.negligible, unknown=unknown+excluded.unknown," \
	" unfixed=unfixed+excluded.unfixed;"
#define DAYS_ASSESSED(R)                                                                                    \
	"INSERT INTO assessment_days(day, ns, status, images, critical, high, medium, low, negligible, unknown," \
	" unfixed, assessed) VALUES(date('now'), " DAY_NS(R) ", " R ".status, 0, 0, 0, 0, 0, 0, 0, 0, 1)"     \
	" ON CONFLICT(day, ns, status) DO UPDATE SET assessed=assessed+1;"

static const char days_triggers[] =
	"DROP TRIGGER IF EXISTS assessments_days_insert; DROP TRIGGER IF EXISTS assessments_days_delete;"
	"DROP TRIGGER IF EXISTS assessments_days_update; DROP TRIGGER IF EXISTS assessments_days_assessed;"
	"CREATE TRIGGER assessments_days_insert AFTER INSERT ON assessments BEGIN " DAYS_APPLY("NEW", "")
	DAYS_ASSESSED("NEW") " END;"
	"CREATE TRIGGER assessments_days_delete AFTER DELETE ON assessments BEGIN " DAYS_APPLY("OLD", "-") " END;"
	"CREATE TRIGGER assessments_days_update AFTER UPDATE OF repo, status, counts ON assessments"
	" WHEN " UNTALLIED " AND (OLD.repo IS NOT NEW.repo OR OLD.status IS NOT NEW.status OR OLD.counts IS NOT"
	" NEW.counts) BEGIN " DAYS_APPLY("OLD", "-") DAYS_APPLY("NEW", "") " END;"
	"CREATE TRIGGER assessments_days_assessed AFTER UPDATE OF scanned_at ON assessments"
	" WHEN " UNTALLIED " AND OLD.scanned_at IS NOT NEW.scanned_at BEGIN " DAYS_ASSESSED("NEW") " END;";

static const char days_schema[] =
	"CREATE TABLE assessment_days(day TEXT NOT NULL, ns TEXT NOT NULL, status TEXT NOT NULL,"
	" images INTEGER NOT NULL, critical INTEGER NOT NULL, high INTEGER NOT NULL, medium INTEGER NOT NULL,"
	" low INTEGER NOT NULL, negligible INTEGER NOT NULL, unknown INTEGER NOT NULL, unfixed INTEGER NOT NULL,"
	" assessed INTEGER NOT NULL, PRIMARY KEY(day, ns, status)) WITHOUT ROWID;"
	"INSERT INTO assessment_days(day, ns, status, images, critical, high, medium, low, negligible, unknown,"
	" unfixed, assessed) SELECT date('now'), " DAY_NS("a") ", s, count(*), sum(" COUNT_AT("0") "),"
	" sum(" COUNT_AT("1") "), sum(" COUNT_AT("2") "), sum(" COUNT_AT("3") "), sum(" COUNT_AT("4") "),"
	" sum(" COUNT_AT("5") "), sum(" COUNT_AT("6") "), 0"
	" FROM " COUNTS_PARSED("repo, status AS s", "counts", "FROM assessments") " AS a GROUP BY 2, 3;";

/* A connection's prepared statements, by the address of their SQL text (a string literal,
 * meta_sqlInt.h): open addressing, in a table over three times the size of all the SQL
 * there is (about 70 statements). */
#define STMT_CACHE 256

struct lite_conn {
	struct conn base;
	sqlite3 *db;
	struct {
		const char *sql;
		sqlite3_stmt *st;
	} cache[STMT_CACHE];
	struct meta_sqlite *ms;
	int wlocked; /* holds ms->write_mu: inside a write transaction */
	int writer;  /* the writer's connection (writer_get): never the pool's */
	int lazy;    /* in a sq_tx_begin_lazy transaction */
};

/* Connections open at once. SQLite serialises writers anyway and two cores saturate on a
 * few readers; each connection costs its schema, statements and page cache in memory. */
#define POOL_MAX 6

struct meta_sqlite {
	struct meta_sql base;
	char *path;
	/* One writer at a time in this process, queued on a mutex: SQLite's own busy handler makes
	 * a waiting writer sleep and poll (up to 100 ms a try), which under a burst of pushes and
	 * scans left the lock free while writers slept (a 5 ms manifest PUT took up to 3 s). */
	pthread_mutex_t write_mu;
	struct lite_conn *writer; /* writer_get: used under write_mu alone, never pooled */
	/* the checkpointer (wal_hook): started with the writer's connection */
	pthread_mutex_t ckpt_mu;
	pthread_cond_t ckpt_wake, ckpt_idle;
	pthread_t ckpt_thread;
	int ckpt_started, ckpt_due, ckpt_stop, ckpt_running;
	int ckpt_failed; /* atomic: the thread could not open its connection (the writer checkpoints) */
};

static int64_t checkpoints; /* atomic: meta_checkpoints */

int64_t meta_checkpoints(void) { return __atomic_load_n(&checkpoints, __ATOMIC_RELAXED); }

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

static int conn_open(struct meta_sql *base, struct conn **cout)
{
	struct meta_sqlite *ms = (struct meta_sqlite *)base;
	*cout = NULL;
	struct lite_conn *c = calloc(1, sizeof(*c));
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
	c->base.eng = &sq_sqlite_engine;
	sqlite3_busy_handler(c->db, busy_wait, NULL);
	/* FULL: a transaction acknowledged to a client survives power loss, not only a crash.
	 * A small page cache per connection: metadata rows are small and hot rows stay in the OS
	 * page cache; the pool holds one connection per concurrently busy thread. No mapping of the
	 * file: each connection's mapping kept every page it had read resident in the process
	 * (40,001 images, 423 MB of meta.db: RSS 541 MB, PSS 277 MB), while a compressed report
	 * is a few pages and listings read the small assessments rows, not the reports. */
	sqlite3_exec(c->db, "PRAGMA synchronous=FULL; PRAGMA cache_size=-512; PRAGMA mmap_size=0;", NULL, NULL, NULL);
	*cout = &c->base;
	return 0;
}

/* Columns and tables added after a data directory was made: added (and filled) when it is opened. */

/* Whether table `name` exists: 0 with *have, or 1 with *err. */
static int has_table(sqlite3 *db, const char *name, int *have, char **err)
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?1", -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC) != SQLITE_OK) {
		*err = sqlite3_mprintf("%s", sqlite3_errmsg(db));
		sqlite3_finalize(s);
		return 1;
	}
	*have = sqlite3_step(s) == SQLITE_ROW;
	sqlite3_finalize(s);
	return 0;
}

/* Whether the n triggers named like `pattern` are there, each made by `sql` (the statements that
 * make them: an older version's text, which parsed counts otherwise, is in none): 0 with
 * *current, or 1 with *err. */
static int triggers_current(sqlite3 *db, const char *pattern, int n, const char *sql, int *current, char **err)
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(db,
			       "SELECT count(*) = ?2 AND sum(instr(?3, sql) = 0) = 0"
			       " FROM sqlite_master WHERE type='trigger' AND name LIKE ?1",
			       -1, &s, NULL) != SQLITE_OK) {
		*err = sqlite3_mprintf("%s", sqlite3_errmsg(db));
		return 1;
	}
	sqlite3_bind_text(s, 1, pattern, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, n);
	sqlite3_bind_text(s, 3, sql, -1, SQLITE_STATIC);
	*current = sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int(s, 0) == 1;
	sqlite3_finalize(s);
	return 0;
}

/* Whether table `name` is a WITHOUT ROWID table: 0 with *keyed, or 1 with *err. */
static int without_rowid(sqlite3 *db, const char *name, int *keyed, char **err)
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(db, "SELECT wr FROM pragma_table_list WHERE schema='main' AND name=?1", -1, &s, NULL) !=
	    SQLITE_OK) {
		*err = sqlite3_mprintf("%s", sqlite3_errmsg(db));
		return 1;
	}
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	*keyed = sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return 0;
}

/* Whether table `table` has column `column`: 0 with *have, or 1 with *err. */
static int has_column(sqlite3 *db, const char *table, const char *column, int *have, char **err)
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info(?1) WHERE name=?2", -1, &s, NULL) != SQLITE_OK) {
		*err = sqlite3_mprintf("%s", sqlite3_errmsg(db));
		return 1;
	}
	sqlite3_bind_text(s, 1, table, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, column, -1, SQLITE_STATIC);
	*have = sqlite3_step(s) == SQLITE_ROW;
	sqlite3_finalize(s);
	return 0;
}

static int migrate(sqlite3 *db, char **err)
{
	static const struct {
		const char *table, *column, *add;
	} added[] = {
		{"assessments", "counts", "ALTER TABLE assessments ADD COLUMN counts TEXT NOT NULL DEFAULT ''"},
		{"assessments", "tallied", "ALTER TABLE assessments ADD COLUMN tallied INTEGER NOT NULL DEFAULT 0"},
		{"uploads", "owner", "ALTER TABLE uploads ADD COLUMN owner TEXT NOT NULL DEFAULT ''"},
		{"uploads", "touched", "ALTER TABLE uploads ADD COLUMN touched INTEGER NOT NULL DEFAULT 0"},
		{"outbox", "target", "ALTER TABLE outbox ADD COLUMN target INTEGER NOT NULL DEFAULT 0"},
		{"outbox", "type", "ALTER TABLE outbox ADD COLUMN type TEXT NOT NULL DEFAULT ''"},
		{"outbox", "created", "ALTER TABLE outbox ADD COLUMN created INTEGER NOT NULL DEFAULT 0"},
		{"webhooks", "internal", "ALTER TABLE webhooks ADD COLUMN internal INTEGER NOT NULL DEFAULT 0"},
	};
	for (size_t i = 0; i < DD_ARRAY_LEN(added); i++) {
		int have;
		if (has_column(db, added[i].table, added[i].column, &have, err))
			return 1;
		if (!have && sqlite3_exec(db, added[i].add, NULL, NULL, err) != SQLITE_OK)
			return 1;
	}
	/* reports and inventories out of the assessments table (after the columns above), once per
	 * data directory: a rewrite of the table, about 20 s for 100,000 images. Checked again under
	 * the write lock: two processes opening the directory at once move them once. */
	int split;
	if (has_column(db, "assessments", "report", &split, err))
		return 1;
	if (split) {
		log_info("moving the stored reports and inventories out of the assessments table (once)");
		if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, err) != SQLITE_OK)
			return 1;
		if (has_column(db, "assessments", "report", &split, err) ||
		    (split && sqlite3_exec(db,
					   "INSERT INTO assessment_reports(repo, digest, report)"
					   " SELECT repo, digest, report FROM assessments WHERE true ON CONFLICT DO NOTHING;"
					   "INSERT INTO assessment_inventories(repo, digest, inventory)"
					   " SELECT repo, digest, inventory FROM assessments WHERE true ON CONFLICT DO NOTHING;"
					   "ALTER TABLE assessments DROP COLUMN report;"
					   "ALTER TABLE assessments DROP COLUMN inventory;",
					   NULL, NULL, err) != SQLITE_OK) ||
		    sqlite3_exec(db, "COMMIT", NULL, NULL, err) != SQLITE_OK) {
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return 1;
		}
	}
	/* the assessments table keyed by name (WITHOUT ROWID) before: made a rowid table once, its
	 * rows in the order of the inventories (meta.db's push order). Its triggers and index go with
	 * the old table and are made again in the same transaction (another process's write in
	 * between would go uncounted); the running totals stay as they are (no row changes). */
	int keyed, have;
	if (without_rowid(db, "assessments", &keyed, err))
		return 1;
	if (keyed) {
		if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, err) != SQLITE_OK)
			return 1;
		if (without_rowid(db, "assessments", &keyed, err)) {
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return 1;
		}
		if (keyed) /* checked again under the lock: another process may have made it */
			log_info("rewriting the assessments table in the order of its inventories (once)");
		if ((keyed && sqlite3_exec(db,
					   "DROP TABLE IF EXISTS assessments_ordered;"
					   "CREATE TABLE assessments_ordered(" ASSESSMENT_COLUMNS ", PRIMARY KEY(repo, digest));"
					   "INSERT INTO assessments_ordered(" ASSESSMENT_NAMES ") SELECT a.repo, a.digest,"
					   " a.status, a.reason, a.db_generation, a.scanned_at, a.duration_us, a.findings_hash,"
					   " a.counts FROM assessments a LEFT JOIN assessment_inventories i"
					   " ON i.repo=a.repo AND i.digest=a.digest ORDER BY i.rowid, a.repo, a.digest;"
					   "DROP TABLE assessments;"
					   "ALTER TABLE assessments_ordered RENAME TO assessments;",
					   NULL, NULL, err) != SQLITE_OK) ||
		    (keyed && has_table(db, "assessment_totals", &have, err)) ||
		    (keyed && have && sqlite3_exec(db, totals_triggers, NULL, NULL, err) != SQLITE_OK) ||
		    (keyed && has_table(db, "assessment_days", &have, err)) ||
		    (keyed && have && sqlite3_exec(db, days_triggers, NULL, NULL, err) != SQLITE_OK) ||
		    sqlite3_exec(db, "COMMIT", NULL, NULL, err) != SQLITE_OK) {
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return 1;
		}
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
	/* a target's events in order (after the columns above) */
	if (sqlite3_exec(db, "CREATE INDEX IF NOT EXISTS outbox_target ON outbox(target, id)", NULL, NULL, err) !=
	    SQLITE_OK)
		return 1;
	/* the covering index listings read while reports were in the table's rows: the rows are now
	 * as small, and every re-assessment rewrote its entry */
	if (sqlite3_exec(db, "DROP INDEX IF EXISTS assessments_list", NULL, NULL, err) != SQLITE_OK)
		return 1;
	/* each assessment's findings hash beside its name, once read from this covering index: every
	 * assessment whose findings changed rewrote its entry, a page of the index at a random place
	 * (images are re-assessed in the order of their rows). The rows are as small and are read in
	 * their own order (ms_assessment_stamps), as fast as the index was at 100,000 images */
	if (sqlite3_exec(db, "DROP INDEX IF EXISTS assessments_stamps", NULL, NULL, err) != SQLITE_OK)
		return 1;
	/* the running totals, made (and filled from the assessments there) once per data directory;
	 * in one transaction, so two processes opening it at once cannot both fill them */
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, err) != SQLITE_OK)
		return 1;
	int have_d;
	if (has_table(db, "assessment_totals", &have, err) || has_table(db, "assessment_days", &have_d, err)) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return 1;
	}
	/* and their triggers, made again where they are not this version's */
	int cur_t, cur_d;
	if ((!have && sqlite3_exec(db, totals_schema, NULL, NULL, err) != SQLITE_OK) ||
	    (!have_d && sqlite3_exec(db, days_schema, NULL, NULL, err) != SQLITE_OK) ||
	    triggers_current(db, "assessments_totals_%", 3, totals_triggers, &cur_t, err) ||
	    triggers_current(db, "assessments_days_%", 4, days_triggers, &cur_d, err) ||
	    (!cur_t && sqlite3_exec(db, totals_triggers, NULL, NULL, err) != SQLITE_OK) ||
	    (!cur_d && sqlite3_exec(db, days_triggers, NULL, NULL, err) != SQLITE_OK) ||
	    sqlite3_exec(db, "COMMIT", NULL, NULL, err) != SQLITE_OK) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return 1;
	}
	return 0;
}

static void conn_close(struct conn *cb)
{
	struct lite_conn *c = (struct lite_conn *)cb;
	for (int i = 0; i < STMT_CACHE; i++)
		sqlite3_finalize(c->cache[i].st);
	sqlite3_close(c->db);
	free(c);
}

static struct lite_conn *lc(struct conn *c) { return (struct lite_conn *)c; }

static int conn_get(struct meta_sqlite *ms, struct lite_conn **out)
{
	struct conn *c;
	int rc = sq_pool_get(&ms->base, &c);
	*out = rc ? NULL : lc(c);
	return rc;
}

static void conn_put(struct meta_sqlite *ms, struct lite_conn *c)
{
	if (!c->writer)
		sq_pool_put(&ms->base, &c->base);
}

/* WAL checkpoints out of the writers' lock. SQLite checkpoints in the connection that commits
 * once the WAL holds 1,000 pages: the committing writer copied 4 MB into the file and waited for
 * two syncs while every other writer waited for it (a batch of 32 re-assessments took 3 ms to
 * commit, a third of the time the lock was held). The writer's connection only counts its WAL
 * now (wal_hook); a thread of the store's own, on a connection of its own, runs the checkpoint
 * beside the writers (PASSIVE: it copies what was committed, takes no writer's lock and waits
 * for no reader). Past CKPT_INLINE_PAGES the writer checkpoints itself (wal_hook), so the WAL
 * stays bounded; the file is cut back to that size when the WAL starts over (journal_size_limit). */
#define CKPT_PAGES 1000
#define CKPT_INLINE_PAGES 16000

static void *checkpointer(void *arg)
{
	struct meta_sqlite *ms = arg;
	sqlite3 *db = NULL;
	if (sqlite3_open_v2(ms->path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		log_error("sqlite: the checkpointer cannot open '%s': %s (the writer checkpoints itself)", ms->path,
			  sqlite3_errmsg(db));
		sqlite3_close(db);
		__atomic_store_n(&ms->ckpt_failed, 1, __ATOMIC_RELAXED);
		return NULL;
	}
	pthread_mutex_lock(&ms->ckpt_mu);
	while (!ms->ckpt_stop) {
		if (!ms->ckpt_due) {
			pthread_cond_wait(&ms->ckpt_wake, &ms->ckpt_mu);
			continue;
		}
		ms->ckpt_due = 0;
		ms->ckpt_running = 1;
		pthread_mutex_unlock(&ms->ckpt_mu);
		/* a connection opens the WAL at its first read: before it, a checkpoint returns
		 * SQLITE_OK and copies nothing (-1 frames) */
		int copied = -1, r = sqlite3_exec(db, "SELECT 1 FROM sqlite_master LIMIT 1", NULL, NULL, NULL);
		if (r == SQLITE_OK)
			r = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, &copied);
		if (r != SQLITE_OK && r != SQLITE_BUSY)
			log_warn("sqlite: checkpoint: %s", sqlite3_errmsg(db));
		else if (copied > 0)
			__atomic_add_fetch(&checkpoints, 1, __ATOMIC_RELAXED);
		pthread_mutex_lock(&ms->ckpt_mu);
		ms->ckpt_running = 0;
		pthread_cond_broadcast(&ms->ckpt_idle);
	}
	pthread_mutex_unlock(&ms->ckpt_mu);
	sqlite3_close(db);
	return NULL;
}

/* Called by SQLite after each commit on the writer's connection, with the WAL's size in pages.
 * Past CKPT_INLINE_PAGES the writer waits for the thread's checkpoint to end and runs one itself
 * with the thread held off: with no other writer and no other checkpointer it copies every frame
 * no reader still needs, and the next write starts the WAL over. (A passive checkpoint beside
 * the thread's returns SQLITE_BUSY at once: the WAL grew to 27,000-45,000 pages under a stream
 * of commits, found by a review helper.) */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct meta_sqlite *ms = arg;
	if (pages < CKPT_PAGES)
		return SQLITE_OK;
	if (!ms->ckpt_started || __atomic_load_n(&ms->ckpt_failed, __ATOMIC_RELAXED)) {
		sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		return SQLITE_OK;
	}
	pthread_mutex_lock(&ms->ckpt_mu);
	if (pages >= CKPT_INLINE_PAGES) {
		while (ms->ckpt_running)
			pthread_cond_wait(&ms->ckpt_idle, &ms->ckpt_mu);
		sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	} else {
		ms->ckpt_due = 1;
		pthread_cond_signal(&ms->ckpt_wake);
	}
	pthread_mutex_unlock(&ms->ckpt_mu);
	return SQLITE_OK;
}

/* The page cache of the writer's connection (KiB): the index pages of a few hundred thousand
 * images' assessments and queue. */
#define WRITER_CACHE_KIB "32768"

/* The connection every write of this process is made on, under write_mu (held by the caller):
 * its page cache stays valid from one write transaction to the next. In WAL mode a connection
 * drops its whole cache when another connection has committed since its last transaction, so
 * with writes spread over the pool every stored batch of re-assessments read its index pages
 * from the file again (a quarter of the CPU of re-assessing 100,000 images, in pread). */
static int writer_get(struct meta_sqlite *ms, struct lite_conn **out)
{
	if (!ms->writer) {
		struct conn *cb;
		int rc = conn_open(&ms->base, &cb);
		if (rc)
			return rc;
		sqlite3_exec(lc(cb)->db, "PRAGMA cache_size=-" WRITER_CACHE_KIB "; PRAGMA journal_size_limit=67108864", NULL,
			     NULL, NULL);
		lc(cb)->writer = 1;
		ms->writer = lc(cb);
		if (!ms->ckpt_started && !pthread_create(&ms->ckpt_thread, NULL, checkpointer, ms))
			ms->ckpt_started = 1;
		sqlite3_wal_hook(lc(cb)->db, wal_hook, ms); /* in place of SQLite's autocheckpoint */
	}
	*out = ms->writer;
	return 0;
}

static int lite_conn_get(struct meta *m, struct conn **out)
{
	struct lite_conn *c;
	int rc = conn_get(ms_of(m), &c);
	*out = rc ? NULL : &c->base;
	return rc;
}

static void lite_conn_put(struct conn *c) { conn_put(lc(c)->ms, lc(c)); }

static int64_t lite_changes(struct conn *c) { return sqlite3_changes(lc(c)->db); }

/* The reset, cleared statement of connection c for sql, prepared at its first use there. */
static sqlite3_stmt *stmt(struct lite_conn *c, const char *sql)
{
	size_t i = (size_t)(((uint64_t)(uintptr_t)sql * UINT64_C(0x9E3779B97F4A7C15)) >> 40) % STMT_CACHE, probes = 0;
	while (c->cache[i].sql && c->cache[i].sql != sql) {
		if (++probes == STMT_CACHE) {
			log_error("sqlite: more statements than the cache holds (%d)", STMT_CACHE);
			abort(); /* a bug: STMT_CACHE is to be far larger than the statements there are */
		}
		i = (i + 1) % STMT_CACHE;
	}
	sqlite3_stmt *st = c->cache[i].st;
	if (!st) {
		if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
			log_error("sqlite prepare '%s': %s", sql, sqlite3_errmsg(c->db));
			abort(); /* the SQL is ours: failing to prepare it is a bug */
		}
		c->cache[i].sql = sql;
		c->cache[i].st = st;
		return st;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return st;
}

/* Reports and inventories are JSON and text of tens to hundreds of KB that compress about
 * tenfold: stored as a BLOB holding one zstd frame, re-assessing thousands of images writes a
 * tenth of the pages. Short values, and rows written before, stay TEXT and read as they are. */

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, i);
}

static void bind_packed(sqlite3_stmt *s, int i, const char *v)
{
	size_t z;
	void *out = (v && strnlen(v, SQ_PACK_MIN) >= SQ_PACK_MIN) ? sq_pack(v, &z) : NULL;
	if (!out) /* short, or not compressed: kept as text, still correct, only larger */
		bind_text(s, i, v ? v : "");
	else
		sqlite3_bind_blob(s, i, out, (int)z, free);
}

static void bind_args(sqlite3_stmt *s, const char *sql, const struct sq_arg *args, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		int i = (int)k + 1;
		if (args[k].type != SQ_ARG_NONE && i > sqlite3_bind_parameter_count(s)) {
			log_error("sqlite: '%s' has no parameter ?%d", sql, i);
			abort(); /* the SQL and its arguments are ours: a bug */
		}
		switch (args[k].type) {
		case SQ_ARG_NONE:
			break;
		case SQ_ARG_TEXT:
			bind_text(s, i, args[k].text);
			break;
		case SQ_ARG_INT:
			sqlite3_bind_int64(s, i, args[k].i);
			break;
		case SQ_ARG_BLOB:
			sqlite3_bind_blob(s, i, args[k].text, (int)args[k].i, SQLITE_STATIC);
			break;
		case SQ_ARG_PACKED:
			bind_packed(s, i, args[k].text);
			break;
		case SQ_ARG_BLOBS:
			log_error("sqlite: '%s' binds an array", sql);
			abort(); /* PostgreSQL's only: a bug */
		}
	}
}

static void lite_start(struct sq *q, struct meta *m, struct conn *cb, const char *sql, const struct sq_arg *args,
		       size_t n)
{
	memset(q, 0, sizeof(*q));
	q->step = SQLITE_OK;
	struct lite_conn *c = lc(cb);
	if (m) {
		if ((q->rc = conn_get(ms_of(m), &c)))
			return;
		q->pooled = 1;
	}
	q->st = stmt(c, sql);
	/* a write outside a transaction is a transaction of its own: it queues like one, and one
	 * on no connection of the caller's is made on the writer's (the pooled one given back
	 * first: it waits for no lock) */
	q->locked = !c->wlocked && !sqlite3_stmt_readonly(q->st) && sqlite3_get_autocommit(c->db);
	if (q->locked && q->pooled) {
		struct meta_sqlite *ms = c->ms;
		conn_put(ms, c);
		q->pooled = 0;
		q->st = NULL;
		pthread_mutex_lock(&ms->write_mu);
		if ((q->rc = writer_get(ms, &c))) {
			pthread_mutex_unlock(&ms->write_mu);
			q->locked = 0;
			return;
		}
		q->st = stmt(c, sql);
	} else if (q->locked)
		pthread_mutex_lock(&c->ms->write_mu);
	q->c = &c->base;
	bind_args(q->st, sql, args, n);
}

static int lite_row(struct sq *q)
{
	if (!q->st || (q->step != SQLITE_OK && q->step != SQLITE_ROW))
		return 0;
	q->step = sqlite3_step(q->st);
	return q->step == SQLITE_ROW;
}

static int lite_end(struct sq *q, const char *what)
{
	struct lite_conn *c = lc(q->c);
	if (!c)
		return q->rc;
	sqlite3_reset(q->st);
	int rc = 0;
	if (q->step != SQLITE_OK && q->step != SQLITE_ROW && q->step != SQLITE_DONE)
		rc = what ? sq_fail(c->db, what, q->step) : DD_E_IO;
	q->changes = sqlite3_changes(c->db);
	if (q->locked) /* last: the writer's connection is another thread's once unlocked */
		pthread_mutex_unlock(&c->ms->write_mu);
	if (q->pooled)
		conn_put(c->ms, c);
	q->c = NULL;
	q->st = NULL;
	return rc;
}

static int lite_done(struct sq *q, const char *what)
{
	if (q->step == SQLITE_OK)
		lite_row(q);
	return lite_end(q, what);
}

static int lite_one(struct sq *q, const char *what, int absent)
{
	if (q->step == SQLITE_OK)
		lite_row(q);
	int found = q->step == SQLITE_ROW;
	int rc = lite_end(q, what);
	return rc ? rc : found ? 0 : absent;
}

static char *lite_text(struct arena *a, const struct sq *q, int i)
{
	const unsigned char *t = sqlite3_column_text(q->st, i);
	return arena_strndup(a, t ? (const char *)t : "", (size_t)sqlite3_column_bytes(q->st, i));
}

static int64_t lite_int(const struct sq *q, int i) { return sqlite3_column_int64(q->st, i); }

static char *lite_blob(struct arena *a, const struct sq *q, int i, size_t *n)
{
	*n = (size_t)sqlite3_column_bytes(q->st, i);
	char *d = arena_alloc(a, *n + 1);
	if (*n)
		memcpy(d, sqlite3_column_blob(q->st, i), *n);
	return d;
}

static char *lite_unpacked(struct arena *a, const struct sq *q, int i)
{
	if (sqlite3_column_type(q->st, i) != SQLITE_BLOB)
		return lite_text(a, q, i);
	return sq_unpack(a, sqlite3_column_blob(q->st, i), (size_t)sqlite3_column_bytes(q->st, i));
}

/* Write transactions: the process's write mutex from BEGIN IMMEDIATE to COMMIT or ROLLBACK.
 *
 * A lazy one is a write transaction whose loss in a power cut loses nothing: the scan queue's
 * claims (reset at start anyway) and stored assessments (their job stays queued until the
 * assessment is stored, so a lost one is made again). It commits without waiting for the disk
 * (WAL with synchronous=NORMAL); the next FULL commit's sync makes it durable too, since the WAL
 * is one sequence. Pushes, which clients are told are stored, keep synchronous=FULL. */
static int lite_tx_begin(struct meta *m, struct conn **out, int lazy)
{
	struct meta_sqlite *ms = ms_of(m);
	struct lite_conn *c;
	pthread_mutex_lock(&ms->write_mu);
	int rc = writer_get(ms, &c);
	*out = rc ? NULL : &c->base;
	if (rc) {
		pthread_mutex_unlock(&ms->write_mu);
		return rc;
	}
	c->wlocked = 1;
	if (lazy) {
		sqlite3_exec(c->db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
		c->lazy = 1;
	}
	return sq_exec_on(&c->base, "begin", "BEGIN IMMEDIATE", NOARGS);
}

static void write_unlock(struct lite_conn *c)
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

static int lite_tx_end(struct conn *cb, int rc)
{
	struct lite_conn *c = lc(cb);
	if (!rc && !(rc = sq_exec_on(cb, "commit", "COMMIT", NOARGS)))
		write_unlock(c);
	if (rc) {
		if (!sqlite3_get_autocommit(c->db))
			sq_exec_on(cb, "rollback", "ROLLBACK", NOARGS);
		write_unlock(c);
	}
	return rc; /* the writer's connection: not the pool's */
}

const struct sq_engine sq_sqlite_engine = {
	.dialect = SQ_SQLITE,
	.start = lite_start,
	.row = lite_row,
	.end = lite_end,
	.done = lite_done,
	.one = lite_one,
	.text = lite_text,
	.unpacked = lite_unpacked,
	.integer = lite_int,
	.blob = lite_blob,
	.conn_get = lite_conn_get,
	.conn_put = lite_conn_put,
	.changes = lite_changes,
	.tx_begin = lite_tx_begin,
	.tx_end = lite_tx_end,
};

static void ms_free(struct meta *m)
{
	struct meta_sqlite *ms = ms_of(m);
	if (ms->ckpt_started) {
		pthread_mutex_lock(&ms->ckpt_mu);
		ms->ckpt_stop = 1;
		pthread_cond_signal(&ms->ckpt_wake);
		pthread_mutex_unlock(&ms->ckpt_mu);
		pthread_join(ms->ckpt_thread, NULL);
	}
	if (ms->writer) {
		/* the queue's DONE rows (scan/scanner.h) go at a clean stop too: a drydock from before
		 * them that opens the directory next would take one for a job and queue its image no more */
		pthread_mutex_lock(&ms->write_mu);
		char *err = NULL;
		if (sqlite3_exec(ms->writer->db, "DELETE FROM scan_jobs WHERE state=2", NULL, NULL, &err) != SQLITE_OK)
			log_warn("sqlite: the queue's done rows stay (%s): a drydock from before them would take each"
				 " for a job; this one clears them when it starts", err ? err : "?");
		sqlite3_free(err);
		pthread_mutex_unlock(&ms->write_mu);
		conn_close(&ms->writer->base);
	}
	meta_sql_fini(&ms->base);
	pthread_mutex_destroy(&ms->write_mu);
	pthread_mutex_destroy(&ms->ckpt_mu);
	pthread_cond_destroy(&ms->ckpt_wake);
	pthread_cond_destroy(&ms->ckpt_idle);
	free(ms->path);
	free(ms);
}

/* SQLite's count of the memory it holds takes a mutex of the whole process at every allocation,
 * which the scan workers and request handlers contended for (a tenth of the CPU of storing
 * re-assessments, half of it waiting); nothing here reads the count. Set before SQLite is first
 * used; too late (SQLITE_MISUSE: another part opened a database first) it stays on. */
static void sqlite_setup(void) { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); }

int meta_sqlite_open(const char *path, struct meta **out)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, sqlite_setup);
	*out = NULL;
	struct meta_sqlite *ms = calloc(1, sizeof(*ms));
	if (!ms || !(ms->path = strdup(path))) {
		free(ms);
		return DD_E_NOMEM;
	}
	pthread_mutex_init(&ms->write_mu, NULL);
	pthread_mutex_init(&ms->ckpt_mu, NULL);
	pthread_cond_init(&ms->ckpt_wake, NULL);
	pthread_cond_init(&ms->ckpt_idle, NULL);
	meta_sql_init(&ms->base, &sq_sqlite_engine, ms_free, POOL_MAX, conn_open, conn_close, NULL);
	struct lite_conn *c;
	int rc = conn_get(ms, &c);
	if (rc) {
		ms_free(&ms->base.base);
		return rc;
	}
	char *err = NULL;
	if (sqlite3_exec(c->db, schema, NULL, NULL, &err) != SQLITE_OK || migrate(c->db, &err)) {
		log_error("cannot create schema in '%s': %s", path, err ? err : "?");
		sqlite3_free(err);
		conn_put(ms, c);
		ms_free(&ms->base.base);
		return DD_E_IO;
	}
	conn_put(ms, c);
	*out = &ms->base.base;
	return 0;
}
