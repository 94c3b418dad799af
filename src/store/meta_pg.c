/* meta_pg.c: the PostgreSQL metadata engine (libpq), for many drydock nodes sharing one
 * database: its schema and versioned migrations, a pool of connections each with its prepared
 * statements, the statement helpers of meta_sqlInt.h and transactions. The operations are the
 * ones SQLite runs (meta_sql_*.c): their SQL is read here with ?N as $N, or the PostgreSQL text
 * of a PG_OR pair.
 *
 * Consistency: a write transaction (a push, a deletion, a stored assessment, gc's checks) holds
 * one transaction-scoped advisory lock of the database from its start to its end, so writers
 * across every node run one at a time, as SQLite's writers do on one machine: every check an
 * operation makes before it writes (a push's blobs, gc's "still unreferenced", an upload cap)
 * holds at its commit. Reads and single-statement writes take no lock. Claiming scans is one
 * statement (FOR UPDATE SKIP LOCKED, with a lease) and takes none either.
 *
 * Types: text columns compare bytewise (COLLATE "C", SQLite's order), integers are bigint,
 * manifests' content and PACKED values are bytea (a PACKED value is one zstd frame, or empty for
 * ""). Parameters go as text, bytea in binary; results come as text (bytea as \x hex). */
#include "common/dd.h"
#include "meta_sqlInt.h"
#include "common/arena.h"
#include "common/log.h"
#include "common/siphash.h"
#include "common/util.h"
#include <libpq-fe.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#define STMT_CACHE 256 /* as meta_sqlite.c: over three times the statements there are */
#define POOL_MAX 8     /* connections per node; a PostgreSQL serves about 100 by default */

/* Takes the advisory lock every write transaction holds. The garbage collector's (blobstore.h's
 * gc_lock) across the nodes is a session lock of PG_GC_LOCK_KEY. */
#define WRITE_LOCK "SELECT pg_advisory_xact_lock(" PG_WRITE_LOCK_KEY ")"
#define GC_LOCK_KEY PG_GC_LOCK_KEY

struct pg_conn {
	struct conn base;
	PGconn *pg;
	struct {
		const char *sql;
		int prepared;
	} cache[STMT_CACHE];
	struct meta_pg *mp;
	int in_tx;
	int64_t changes; /* rows the last statement run on it changed */
	int broken; /* the link to the server failed: closed when put back, not pooled */
};

struct meta_pg {
	struct meta_sql base;
	char *conninfo;
	/* the gc lock: the node's shared holders (uploads committing) share one session's shared
	 * lock, taken by the first and given back by the last; an exclusive holder (a collection)
	 * holds a session of its own */
	pthread_mutex_t lock_mu;
	pthread_cond_t lock_cv;
	int shared_holders, shared_moving;
	struct pg_conn *shared_conn;
	pthread_mutex_t excl_mu;
	struct pg_conn *excl_conn;
	/* upload sessions held by this node's requests (meta.h's hold): session locks of one
	 * connection kept for them, its generation counted up each time it is opened again (the
	 * server ended the last, and its locks with it) */
	pthread_mutex_t hold_mu;
	struct pg_conn *hold_conn;
	int64_t hold_gen;
	char hold_name[64]; /* its application_name */
	int64_t throttle_swept; /* when this node last removed spent login failures */
	int throttle_full;      /* and whether the others filled the store then */
	/* the scan queue's notices (meta.h's listen): a thread on a connection of its own, started at
	 * the first listen, woken to stop by the pipe */
	pthread_mutex_t listen_mu;
	void (*on_queued)(void *ctx);
	void *on_queued_ctx;
	pthread_t listener;
	int listening, listen_pipe[2];
};

static struct meta_pg *mp_of(struct meta *m) { return (struct meta_pg *)m; }
static struct pg_conn *pc(struct conn *c) { return (struct pg_conn *)c; }

/* The schema, version by version: a database is brought to the last in one transaction, under
 * the write lock (nodes starting at once make it once). Never edit a version once released:
 * add one. */
#define T "TEXT COLLATE \"C\" NOT NULL"
#define I "BIGINT NOT NULL"
/* What the totals' and the history's upserts add (version 1's functions and version 3's) */
#define TOTALS_ADD                                                                                        \
	" ON CONFLICT(repo, status) DO UPDATE SET images=assessment_totals.images+excluded.images,"           \
	" critical=assessment_totals.critical+excluded.critical, high=assessment_totals.high+excluded.high,"   \
	" medium=assessment_totals.medium+excluded.medium, low=assessment_totals.low+excluded.low,"           \
	" negligible=assessment_totals.negligible+excluded.negligible,"                                       \
	" unknown=assessment_totals.unknown+excluded.unknown, unfixed=assessment_totals.unfixed+excluded.unfixed," \
	" uncounted=assessment_totals.uncounted+excluded.uncounted;"
#define DAYS_ADD                                                                                          \
	" ON CONFLICT(day, ns, status) DO UPDATE SET images=assessment_days.images+excluded.images,"          \
	" critical=assessment_days.critical+excluded.critical, high=assessment_days.high+excluded.high,"       \
	" medium=assessment_days.medium+excluded.medium, low=assessment_days.low+excluded.low,"               \
	" negligible=assessment_days.negligible+excluded.negligible,"                                         \
	" unknown=assessment_days.unknown+excluded.unknown, unfixed=assessment_days.unfixed+excluded.unfixed"
/* What the assessments' trigger counts of an updated row (versions 1 and 6) */
#define UPDATE_COUNTED                                                                                    \
	"  IF OLD.repo IS DISTINCT FROM NEW.repo OR OLD.status IS DISTINCT FROM NEW.status"                   \
	"   OR OLD.counts IS DISTINCT FROM NEW.counts THEN"                                                    \
	"   PERFORM dd_change(OLD.repo, OLD.status, OLD.counts, -1);"                                          \
	"   PERFORM dd_change(NEW.repo, NEW.status, NEW.counts, 1);"                                           \
	"  END IF;"                                                                                            \
	"  IF OLD.scanned_at IS DISTINCT FROM NEW.scanned_at THEN PERFORM dd_assessed(NEW.repo, NEW.status); END IF;"
static const char *const versions[] = {
	/* 1: what SQLite's schema holds (meta_sqlite.c), with leases on running scans */
	"CREATE TABLE repos(name " T " PRIMARY KEY, created " I ");"
	"CREATE TABLE blobs(digest " T " PRIMARY KEY, size " I ", created " I ");"
	"CREATE TABLE repo_blobs(repo " T ", digest " T ", PRIMARY KEY(repo, digest));"
	"CREATE INDEX repo_blobs_digest ON repo_blobs(digest);"
	"CREATE TABLE manifests(repo " T ", digest " T ", media_type " T ", artifact_type " T ", subject " T ","
	" annotations " T ", size " I ", content BYTEA NOT NULL, created " I ", PRIMARY KEY(repo, digest));"
	"CREATE INDEX manifests_subject ON manifests(repo, subject) WHERE subject <> '';"
	"CREATE TABLE manifest_refs(repo " T ", parent " T ", child " T ", kind " I ", PRIMARY KEY(repo, parent, child));"
	"CREATE INDEX manifest_refs_child ON manifest_refs(child);"
	"CREATE TABLE tags(repo " T ", name " T ", digest " T ", updated " I ", PRIMARY KEY(repo, name));"
	"CREATE INDEX tags_digest ON tags(repo, digest);"
	"CREATE TABLE uploads(id " T " PRIMARY KEY, repo " T ", \"offset\" " I ", created " I ", updated " I ","
	" owner " T " DEFAULT '', touched " I " DEFAULT 0);"
	"CREATE INDEX uploads_owner ON uploads(owner, touched);"
	"CREATE TABLE scan_jobs(id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, repo " T ", digest " T ","
	" priority " I ", state " I ", enqueued " I ", lease_until " I " DEFAULT 0, UNIQUE(repo, digest));"
	"CREATE INDEX scan_jobs_next ON scan_jobs(state, priority, id);"
	"CREATE TABLE assessments(repo " T ", digest " T ", status " T ", reason " T ", report BYTEA NOT NULL,"
	" inventory BYTEA NOT NULL, db_generation " T ", scanned_at " I ", duration_us " I ","
	" findings_hash " T " DEFAULT '', counts " T " DEFAULT '', PRIMARY KEY(repo, digest));"
	"CREATE TABLE scan_usage(namespace " T ", month " T ", scans " I ", PRIMARY KEY(namespace, month));"
	"CREATE TABLE namespace_settings(namespace " T " PRIMARY KEY, scanning " I ");"
	"CREATE TABLE settings(key " T " PRIMARY KEY, value " T ");"
	"CREATE TABLE webhooks(id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, url " T ", secret " T ","
	" ns " T ", events " T ", format " T ", origin " T ", created " I ", delivered " I " DEFAULT 0,"
	" given_up " I " DEFAULT 0, last_error " T " DEFAULT '', last_error_at " I " DEFAULT 0,"
	" failures " I " DEFAULT 0, retry_at " I " DEFAULT 0, internal " I " DEFAULT 0, lease_until " I " DEFAULT 0);"
	"CREATE TABLE outbox(id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, payload " T ", attempts " I ","
	" next_at " I ", target " I " DEFAULT 0, type " T " DEFAULT '', created " I " DEFAULT 0);"
	"CREATE INDEX outbox_target ON outbox(target, id);"
	"CREATE TABLE audit(id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, time " I ", actor " T ","
	" action " T ", target " T ", detail " T ");"
	/* SQLite's functions the shared SQL calls */
	"CREATE FUNCTION unixepoch() RETURNS bigint LANGUAGE sql STABLE AS"
	" 'SELECT extract(epoch FROM now())::bigint';"
	"CREATE FUNCTION instr(s text, t text) RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT strpos(s, t)';"
	/* the running totals and the history (meta_sqlite.c says what they are): counts text is
	 * counted only in the one form "%d %d %d %d %d %d %d" writes, as SQLite's triggers decide */
	"CREATE TABLE assessment_totals(repo " T ", status " T ", images " I ", critical " I ", high " I ","
	" medium " I ", low " I ", negligible " I ", unknown " I ", unfixed " I ", uncounted " I ","
	" PRIMARY KEY(repo, status));"
	"CREATE TABLE assessment_days(day " T ", ns " T ", status " T ", images " I ", critical " I ", high " I ","
	" medium " I ", low " I ", negligible " I ", unknown " I ", unfixed " I ", assessed " I ","
	" PRIMARY KEY(day, ns, status));"
	"CREATE FUNCTION dd_counts_ok(c text) RETURNS boolean LANGUAGE sql IMMUTABLE AS"
	" $$SELECT c ~ '^(0|[1-9][0-9]{0,11})( (0|[1-9][0-9]{0,11})){6}$'$$;"
	"CREATE FUNCTION dd_count_at(c text, k int) RETURNS bigint LANGUAGE sql IMMUTABLE AS"
	" $$SELECT CASE WHEN dd_counts_ok(c) THEN split_part(c, ' ', k + 1)::bigint ELSE 0 END$$;"
	"CREATE FUNCTION dd_change(r text, s text, c text, sign int) RETURNS void LANGUAGE sql AS $$"
	" INSERT INTO assessment_totals(repo, status, images, critical, high, medium, low, negligible, unknown,"
	" unfixed, uncounted) SELECT x, s, sign, sign * dd_count_at(c, 0), sign * dd_count_at(c, 1),"
	" sign * dd_count_at(c, 2), sign * dd_count_at(c, 3), sign * dd_count_at(c, 4), sign * dd_count_at(c, 5),"
	" sign * dd_count_at(c, 6), CASE WHEN dd_counts_ok(c) THEN 0 ELSE sign END FROM (VALUES (r), ('')) AS v(x)"
	TOTALS_ADD
	" DELETE FROM assessment_totals WHERE repo IN (r, '') AND status=s AND images=0;"
	" INSERT INTO assessment_days(day, ns, status, images, critical, high, medium, low, negligible, unknown,"
	" unfixed, assessed) VALUES(to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD'), split_part(r, '/', 1), s, sign,"
	" sign * dd_count_at(c, 0), sign * dd_count_at(c, 1), sign * dd_count_at(c, 2), sign * dd_count_at(c, 3),"
	" sign * dd_count_at(c, 4), sign * dd_count_at(c, 5), sign * dd_count_at(c, 6), 0)"
	DAYS_ADD "$$;"
	"CREATE FUNCTION dd_assessed(r text, s text) RETURNS void LANGUAGE sql AS $$"
	" INSERT INTO assessment_days(day, ns, status, images, critical, high, medium, low, negligible, unknown,"
	" unfixed, assessed) VALUES(to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD'), split_part(r, '/', 1), s,"
	" 0, 0, 0, 0, 0, 0, 0, 0, 1) ON CONFLICT(day, ns, status) DO UPDATE SET"
	" assessed=assessment_days.assessed+1$$;"
	"CREATE FUNCTION dd_assessments_changed() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
	" IF TG_OP = 'INSERT' THEN"
	"  PERFORM dd_change(NEW.repo, NEW.status, NEW.counts, 1); PERFORM dd_assessed(NEW.repo, NEW.status);"
	" ELSIF TG_OP = 'DELETE' THEN"
	"  PERFORM dd_change(OLD.repo, OLD.status, OLD.counts, -1);"
	" ELSE"
	UPDATE_COUNTED
	" END IF;"
	" RETURN NULL; END $$;"
	"CREATE TRIGGER assessments_changed AFTER INSERT OR UPDATE OR DELETE ON assessments"
	" FOR EACH ROW EXECUTE FUNCTION dd_assessments_changed();",
	/* 2: reports and inventories in tables of their own, as in SQLite's schema (where a row is
	 * written whole: there it makes re-assessments tenfold cheaper) */
	"CREATE TABLE assessment_reports(repo " T ", digest " T ", report BYTEA NOT NULL, PRIMARY KEY(repo, digest));"
	"CREATE TABLE assessment_inventories(repo " T ", digest " T ", inventory BYTEA NOT NULL,"
	" PRIMARY KEY(repo, digest));"
	"INSERT INTO assessment_reports(repo, digest, report) SELECT repo, digest, report FROM assessments;"
	"INSERT INTO assessment_inventories(repo, digest, inventory) SELECT repo, digest, inventory FROM assessments;"
	"ALTER TABLE assessments DROP COLUMN report, DROP COLUMN inventory;",
	/* 3: the totals' functions in PL/pgSQL, counts parsed once a call: SQL functions called from
	 * the trigger were parsed and planned at every call, and matched the counts' pattern 24
	 * times (the same behaviour, version 1's definitions replaced) */
	"CREATE OR REPLACE FUNCTION dd_change(r text, s text, c text, sign int) RETURNS void LANGUAGE plpgsql AS $$"
	" DECLARE ok boolean := dd_counts_ok(c);"
	" n bigint[] := CASE WHEN ok THEN string_to_array(c, ' ')::bigint[] ELSE '{0,0,0,0,0,0,0}' END;"
	" BEGIN"
	" INSERT INTO assessment_totals(repo, status, images, critical, high, medium, low, negligible, unknown,"
	" unfixed, uncounted) SELECT x, s, sign, sign * n[1], sign * n[2], sign * n[3], sign * n[4], sign * n[5],"
	" sign * n[6], sign * n[7], CASE WHEN ok THEN 0 ELSE sign END FROM (VALUES (r), ('')) AS v(x)"
	TOTALS_ADD
	" DELETE FROM assessment_totals WHERE repo IN (r, '') AND status=s AND images=0;"
	" INSERT INTO assessment_days(day, ns, status, images, critical, high, medium, low, negligible, unknown,"
	" unfixed, assessed) VALUES(to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD'), split_part(r, '/', 1), s, sign,"
	" sign * n[1], sign * n[2], sign * n[3], sign * n[4], sign * n[5], sign * n[6], sign * n[7], 0)"
	DAYS_ADD ";"
	" END $$;"
	"CREATE OR REPLACE FUNCTION dd_assessed(r text, s text) RETURNS void LANGUAGE plpgsql AS $$ BEGIN"
	" INSERT INTO assessment_days(day, ns, status, images, critical, high, medium, low, negligible, unknown,"
	" unfixed, assessed) VALUES(to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD'), split_part(r, '/', 1), s,"
	" 0, 0, 0, 0, 0, 0, 0, 0, 1) ON CONFLICT(day, ns, status) DO UPDATE SET"
	" assessed=assessment_days.assessed+1; END $$;",
	/* 4: failed logins counted across the nodes (meta.h's throttle), kept out of the WAL: a
	 * crash of the server forgets them, as a restart of one node forgets its own count */
	"CREATE UNLOGGED TABLE login_failures(key " T " PRIMARY KEY, first " I ", failures " I ","
	" locked_until " I " DEFAULT 0);",
	/* 5: a notice on channel drydock_scans when a statement queued scans (meta.h's listen): sent
	 * at the commit that makes them visible, once a transaction (state 0: SCAN_JOB_QUEUED) */
	"CREATE FUNCTION dd_scans_queued() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
	" IF EXISTS(SELECT 1 FROM queued WHERE state=0) THEN PERFORM pg_notify('drydock_scans', ''); END IF;"
	" RETURN NULL; END $$;"
	"CREATE TRIGGER scan_jobs_inserted AFTER INSERT ON scan_jobs REFERENCING NEW TABLE AS queued"
	" FOR EACH STATEMENT EXECUTE FUNCTION dd_scans_queued();"
	"CREATE TRIGGER scan_jobs_updated AFTER UPDATE ON scan_jobs REFERENCING NEW TABLE AS queued"
	" FOR EACH STATEMENT EXECUTE FUNCTION dd_scans_queued();",
	/* 6: a batch of the scans' store counts its own updates in the running totals and the
	 * history, as on SQLite (meta_sql_scans.c's tally): it changes `tallied` on each row it
	 * counted, and the trigger skips those. Inserts, deletes and any other update are counted
	 * here, row by row, as before (in a pass over 100,000 images gaining findings, this
	 * trigger's two dd_change calls a row were half of PostgreSQL's time) */
	"ALTER TABLE assessments ADD COLUMN tallied BIGINT;"
	"CREATE OR REPLACE FUNCTION dd_assessments_changed() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
	" IF TG_OP = 'INSERT' THEN"
	"  PERFORM dd_change(NEW.repo, NEW.status, NEW.counts, 1); PERFORM dd_assessed(NEW.repo, NEW.status);"
	" ELSIF TG_OP = 'DELETE' THEN"
	"  PERFORM dd_change(OLD.repo, OLD.status, OLD.counts, -1);"
	" ELSIF OLD.tallied IS NOT DISTINCT FROM NEW.tallied THEN"
	UPDATE_COUNTED
	" END IF;"
	" RETURN NULL; END $$;",
};
#undef T
#undef I
#undef TOTALS_ADD
#undef UPDATE_COUNTED
#undef DAYS_ADD

/* The error of a failed result: DD_E_NO_SPACE when the server's disk is full, DD_E_REQUEST_INVALID
 * for text that is not UTF-8 (a request's value: SQLite compares its bytes, PostgreSQL refuses
 * it), else DD_E_IO. */
static int pg_fail(struct pg_conn *c, const PGresult *r, const char *what)
{
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = r ? PQresultErrorMessage(r) : PQerrorMessage(c->pg);
	if (what)
		log_error("postgresql: %s: %s", what, msg && *msg ? msg : "no answer");
	/* the session ended by the server (57P01 when an administrator ends it; 57P02, 57P03; class 08,
	 * the link): broken even while libpq has not yet read the end of the socket, which the retry
	 * of a read would otherwise take for a live session and fail with */
	if (PQstatus(c->pg) != CONNECTION_OK || (state && (!strncmp(state, "57P", 3) || !strncmp(state, "08", 2))))
		c->broken = 1;
	if (state && (!strcmp(state, "22021") || !strcmp(state, "22P05")))
		return DD_E_REQUEST_INVALID;
	return state && !strcmp(state, "53100") ? DD_E_NO_SPACE : DD_E_IO;
}

/* Runs SQL of no parameters and no rows (several statements may be given): 0 or the error. */
static int pg_exec(struct pg_conn *c, const char *sql, const char *what)
{
	PGresult *r = PQexec(c->pg, sql);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
	int rc = ok ? 0 : pg_fail(c, r, what);
	PQclear(r);
	return rc;
}

/* What the engine relies on, whatever the server's or the database's defaults: text and bytea
 * in the forms read here (pg_blob), UTC, and READ COMMITTED, in which each statement of a write
 * transaction sees what committed before it, after the transaction's write lock was granted
 * (a snapshot taken before, as REPEATABLE READ takes it, would check a push's blobs against a
 * state gc has changed since). No statement, nor wait for a lock, lasts over five minutes: a
 * request fails rather than hangs. */
#define SESSION                                                                                     \
	"SET client_encoding='UTF8'; SET bytea_output='hex'; SET TIME ZONE 'UTC';"                     \
	" SET default_transaction_isolation='read committed'; SET client_min_messages=warning;"       \
	" SET statement_timeout='5min'"

/* The server's notices and warnings go to the log, not to the process's stderr (libpq's default). */
static void on_notice(void *arg, const char *message)
{
	(void)arg;
	size_t n = strlen(message);
	log_debug("postgresql: %.*s", (int)(n && message[n - 1] == '\n' ? n - 1 : n), message);
}

static void conn_close(struct conn *cb)
{
	struct pg_conn *c = pc(cb);
	PQfinish(c->pg);
	free(c);
}

/* A session of the server with the engine's settings (SESSION), from libpq's keywords and values
 * (NULL-terminated; the store's conninfo as "dbname", expanded, first). */
static int connect_with(struct meta_pg *mp, const char *const *keys, const char *const *values, struct pg_conn **out)
{
	*out = NULL;
	struct pg_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return DD_E_NOMEM;
	c->base.eng = &sq_pg_engine;
	c->mp = mp;
	c->pg = PQconnectdbParams(keys, values, 1);
	if (c->pg)
		PQsetNoticeProcessor(c->pg, on_notice, NULL);
	if (!c->pg || PQstatus(c->pg) != CONNECTION_OK) {
		log_error("cannot connect to the PostgreSQL metadata database: %s",
			  c->pg ? PQerrorMessage(c->pg) : "out of memory");
		conn_close(&c->base);
		return DD_E_IO;
	}
	if (pg_exec(c, SESSION, "session")) {
		conn_close(&c->base);
		return DD_E_IO;
	}
	*out = c;
	return 0;
}

static int conn_open(struct meta_sql *base, struct conn **out)
{
	struct meta_pg *mp = (struct meta_pg *)base;
	const char *keys[] = {"dbname", NULL}, *values[] = {mp->conninfo, NULL};
	struct pg_conn *c;
	int rc = connect_with(mp, keys, values, &c);
	*out = rc ? NULL : &c->base;
	return rc;
}

/* A connection whose link failed is closed, when given back or when taken from the pool: a
 * restarted or failed-over server, or one that ended the session while it was idle, is reached
 * again on a new one, before anything is sent on the old. An idle session has nothing to read:
 * a socket that is readable (the server's last words, its end) or hung up is a session ended. */
static int reusable(struct conn *cb)
{
	struct pg_conn *c = pc(cb);
	struct pollfd p = {.fd = PQsocket(c->pg), .events = POLLIN};
	return !c->broken && PQstatus(c->pg) == CONNECTION_OK && p.fd >= 0 && poll(&p, 1, 0) == 0;
}

static int conn_get(struct meta_pg *mp, struct pg_conn **out)
{
	struct conn *c;
	int rc = sq_pool_get(&mp->base, &c);
	*out = rc ? NULL : pc(c);
	return rc;
}

static void conn_put(struct meta_pg *mp, struct pg_conn *c) { sq_pool_put(&mp->base, &c->base); }

static int pg_conn_get(struct meta *m, struct conn **out)
{
	struct pg_conn *c;
	int rc = conn_get(mp_of(m), &c);
	*out = rc ? NULL : &c->base;
	return rc;
}

static void pg_conn_put(struct conn *c) { conn_put(pc(c)->mp, pc(c)); }

/* The text PostgreSQL runs for sql: a PG_OR pair's second text, else the shared one, with each
 * ?N outside quotes written $N. Malloc'd. */
static char *pg_text(const char *sql)
{
	const char *pg = sql + strlen(sql) + 1;
	if (!*pg)
		pg = sql;
	size_t n = strlen(pg);
	char *out = malloc(n + 1);
	if (!out)
		return NULL;
	char quote = 0;
	for (size_t i = 0; i <= n; i++) {
		char ch = pg[i];
		if (quote) {
			if (ch == quote)
				quote = 0;
		} else if (ch == '\'' || ch == '"') {
			quote = ch;
		} else if (ch == '?' && pg[i + 1] >= '1' && pg[i + 1] <= '9') {
			ch = '$';
		}
		out[i] = ch;
	}
	return out;
}

static Oid arg_type(const struct sq_arg *a)
{
	switch (a->type) {
	case SQ_ARG_INT:
		return 20; /* int8 */
	case SQ_ARG_BLOB:
	case SQ_ARG_PACKED:
		return 17; /* bytea */
	case SQ_ARG_BLOBS:
		return 1001; /* bytea[] */
	default:
		return 25; /* text */
	}
}

/* The slot of sql in c's cache, its statement prepared on c (named by the slot) at its first use:
 * -1 on an error. */
static int stmt(struct pg_conn *c, const char *sql, const struct sq_arg *args, size_t n)
{
	size_t i = (size_t)(((uint64_t)(uintptr_t)sql * UINT64_C(0x9E3779B97F4A7C15)) >> 40) % STMT_CACHE, probes = 0;
	while (c->cache[i].sql && c->cache[i].sql != sql) {
		if (++probes == STMT_CACHE) {
			log_error("postgresql: more statements than the cache holds (%d)", STMT_CACHE);
			abort(); /* a bug: STMT_CACHE is to be far larger than the statements there are */
		}
		i = (i + 1) % STMT_CACHE;
	}
	if (c->cache[i].prepared)
		return (int)i;
	char *text = pg_text(sql);
	Oid types[32];
	if (!text || n > DD_ARRAY_LEN(types)) {
		free(text);
		return -1;
	}
	for (size_t k = 0; k < n; k++)
		types[k] = arg_type(&args[k]);
	char name[16];
	snprintf(name, sizeof(name), "s%zu", i);
	PGresult *r = PQprepare(c->pg, name, text, (int)n, types);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	/* the SQL is ours, but the server may refuse it for other reasons than a bug: a transaction
	 * already failed, a schema changed by hand, a permission taken away. The operation fails;
	 * the server goes on. */
	if (!ok)
		log_error("postgresql: cannot prepare '%s'", text);
	if (!ok)
		pg_fail(c, r, "prepare");
	PQclear(r);
	free(text);
	if (!ok)
		return -1;
	c->cache[i].sql = sql;
	c->cache[i].prepared = 1;
	return (int)i;
}

static void pg_start(struct sq *q, struct meta *m, struct conn *cb, const char *sql, const struct sq_arg *args,
		     size_t n)
{
	memset(q, 0, sizeof(*q));
	q->row = -1;
	struct pg_conn *c = pc(cb);
	if (m) {
		if ((q->rc = conn_get(mp_of(m), &c)))
			return;
		q->pooled = 1;
	}
	q->c = &c->base;
	const char *values[32];
	int lengths[32], formats[32];
	char ints[32][24];
	void *packed[32] = {0};
	for (size_t k = 0; k < n; k++) {
		lengths[k] = 0;
		formats[k] = 0;
		switch (args[k].type) {
		case SQ_ARG_NONE:
			values[k] = NULL;
			break;
		case SQ_ARG_TEXT:
			values[k] = args[k].text;
			break;
		case SQ_ARG_INT:
			snprintf(ints[k], sizeof(ints[k]), "%" PRId64, args[k].i);
			values[k] = ints[k];
			break;
		case SQ_ARG_BLOB:
		case SQ_ARG_BLOBS:
			values[k] = args[k].text ? args[k].text : "";
			lengths[k] = (int)args[k].i;
			formats[k] = 1;
			break;
		case SQ_ARG_PACKED: {
			size_t z = 0;
			const char *v = args[k].text ? args[k].text : "";
			packed[k] = *v ? sq_pack(v, &z) : NULL;
			if (*v && !packed[k]) {
				q->rc = DD_E_NOMEM;
				goto out;
			}
			values[k] = packed[k] ? packed[k] : "";
			lengths[k] = (int)z;
			formats[k] = 1;
			break;
		}
		}
	}
	/* A connection of the pool found broken (the server restarted, or ended the session) when a
	 * read is sent on it: the read goes again, once, on a new one. (A write may have been done
	 * before the link broke: it fails, as the client's request does.) */
	for (int tries = 0;; tries++) {
		int slot = stmt(c, sql, args, n);
		PGresult *r = NULL;
		ExecStatusType st = PGRES_FATAL_ERROR;
		if (slot >= 0) {
			char name[16];
			snprintf(name, sizeof(name), "s%d", slot);
			r = PQexecPrepared(c->pg, name, (int)n, values, lengths, formats, 0);
			st = PQresultStatus(r);
		}
		if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
			q->rc = 0;
			q->st = r;
			q->rows = PQntuples(r);
			break;
		}
		q->rc = slot < 0 ? DD_E_IO : pg_fail(c, r, "statement");
		PQclear(r);
		if (tries || !q->pooled || reusable(&c->base) || strncmp(sql, "SELECT", 6))
			break;
		conn_put(c->mp, c); /* closed: broken */
		q->c = NULL;
		if ((q->rc = conn_get(mp_of(m), &c)))
			goto out;
		q->c = &c->base;
	}
out:
	for (size_t k = 0; k < n; k++)
		free(packed[k]);
}

static int pg_row(struct sq *q)
{
	if (!q->st || q->row + 1 >= q->rows)
		return 0;
	q->row++;
	return 1;
}

static int pg_end(struct sq *q, const char *what)
{
	struct pg_conn *c = pc(q->c);
	int rc = q->rc;
	if (rc && what)
		log_error("postgresql: %s failed", what);
	if (q->st) {
		const char *t = PQcmdTuples(q->st);
		q->changes = t && *t ? strtoll(t, NULL, 10) : 0;
		PQclear(q->st);
	}
	c->changes = q->changes;
	if (q->pooled)
		conn_put(c->mp, c);
	q->c = NULL;
	q->st = NULL;
	return rc;
}

static int pg_done(struct sq *q, const char *what) { return pg_end(q, what); }

static int pg_one(struct sq *q, const char *what, int absent)
{
	int found = q->st && q->rows > 0;
	int rc = pg_end(q, what);
	return rc ? rc : found ? 0 : absent;
}

static char *pg_text_col(struct arena *a, const struct sq *q, int i)
{
	return arena_strndup(a, PQgetvalue(q->st, q->row, i), (size_t)PQgetlength(q->st, q->row, i));
}

/* A boolean reads as 1 or 0, as SQLite gives it. */
static int64_t pg_int(const struct sq *q, int i)
{
	const char *v = PQgetvalue(q->st, q->row, i);
	if (*v == 't')
		return 1;
	if (*v == 'f')
		return 0;
	return strtoll(v, NULL, 10);
}

static int hexval(char ch)
{
	return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
}

/* A bytea column, from its text form \x followed by hex digits. */
static char *pg_blob(struct arena *a, const struct sq *q, int i, size_t *n)
{
	const char *v = PQgetvalue(q->st, q->row, i);
	size_t len = (size_t)PQgetlength(q->st, q->row, i);
	*n = 0;
	if (len < 2 || v[0] != '\\' || v[1] != 'x') {
		char *d = arena_alloc(a, 1);
		return d;
	}
	size_t max = (len - 2) / 2;
	char *d = arena_alloc_uninit(a, max + 1);
	for (size_t k = 0; k < max; k++) {
		int hi = hexval(v[2 + 2 * k]), lo = hexval(v[3 + 2 * k]);
		if (hi < 0 || lo < 0)
			break;
		d[(*n)++] = (char)(hi << 4 | lo);
	}
	d[*n] = 0;
	return d;
}

static char *pg_unpacked(struct arena *a, const struct sq *q, int i)
{
	struct arena tmp = {0};
	size_t n;
	char *z = pg_blob(&tmp, q, i, &n);
	char *out = n ? sq_unpack(a, z, n) : arena_strdup(a, "");
	arena_free(&tmp);
	return out;
}

static int64_t pg_changes(struct conn *c) { return pc(c)->changes; }

static int pg_tx_begin(struct meta *m, struct conn **out, int lazy)
{
	struct pg_conn *c;
	int rc;
	/* a connection of the pool found broken at BEGIN (nothing done on it yet): once more on a new one */
	for (int tries = 0;; tries++) {
		rc = conn_get(mp_of(m), &c);
		*out = rc ? NULL : &c->base;
		if (rc)
			return rc;
		/* the lazy kind (meta_sqlInt.h) commits without waiting for the server's disk */
		rc = pg_exec(c, lazy ? "BEGIN; SET LOCAL synchronous_commit=off; " WRITE_LOCK : "BEGIN; " WRITE_LOCK,
			     "begin");
		if (!rc || tries || reusable(&c->base))
			break;
		conn_put(c->mp, c);
	}
	c->in_tx = 1;
	return rc;
}

static int pg_tx_end(struct conn *cb, int rc)
{
	struct pg_conn *c = pc(cb);
	if (!rc)
		rc = pg_exec(c, "COMMIT", "commit");
	if (rc)
		pg_exec(c, "ROLLBACK", NULL);
	c->in_tx = 0;
	conn_put(c->mp, c);
	return rc;
}

const struct sq_engine sq_pg_engine = {
	.dialect = SQ_PG,
	.start = pg_start,
	.row = pg_row,
	.end = pg_end,
	.done = pg_done,
	.one = pg_one,
	.text = pg_text_col,
	.unpacked = pg_unpacked,
	.integer = pg_int,
	.blob = pg_blob,
	.conn_get = pg_conn_get,
	.conn_put = pg_conn_put,
	.changes = pg_changes,
	.tx_begin = pg_tx_begin,
	.tx_end = pg_tx_end,
};

static int mp_lock(struct meta *m, int exclusive, int *token)
{
	struct meta_pg *mp = mp_of(m);
	struct pg_conn *c;
	int rc;
	*token = exclusive;
	if (exclusive) {
		pthread_mutex_lock(&mp->excl_mu);
		if (!(rc = conn_get(mp, &c)) && (rc = pg_exec(c, "SELECT pg_advisory_lock(" GC_LOCK_KEY ")", "gc lock")))
			conn_put(mp, c);
		if (rc)
			pthread_mutex_unlock(&mp->excl_mu);
		else
			mp->excl_conn = c;
		return rc;
	}
	pthread_mutex_lock(&mp->lock_mu);
	while (mp->shared_moving)
		pthread_cond_wait(&mp->lock_cv, &mp->lock_mu);
	rc = 0;
	if (!mp->shared_holders) {
		mp->shared_moving = 1;
		pthread_mutex_unlock(&mp->lock_mu);
		if (!(rc = conn_get(mp, &c)) &&
		    (rc = pg_exec(c, "SELECT pg_advisory_lock_shared(" GC_LOCK_KEY ")", "gc lock")))
			conn_put(mp, c);
		pthread_mutex_lock(&mp->lock_mu);
		mp->shared_moving = 0;
		if (!rc)
			mp->shared_conn = c;
	}
	if (!rc)
		mp->shared_holders++;
	pthread_cond_broadcast(&mp->lock_cv);
	pthread_mutex_unlock(&mp->lock_mu);
	return rc;
}

static void mp_unlock(struct meta *m, int token)
{
	struct meta_pg *mp = mp_of(m);
	if (token) {
		struct pg_conn *c = mp->excl_conn;
		mp->excl_conn = NULL;
		pg_exec(c, "SELECT pg_advisory_unlock(" GC_LOCK_KEY ")", "gc unlock");
		conn_put(mp, c);
		pthread_mutex_unlock(&mp->excl_mu);
		return;
	}
	pthread_mutex_lock(&mp->lock_mu);
	if (--mp->shared_holders == 0) {
		struct pg_conn *c = mp->shared_conn;
		mp->shared_conn = NULL;
		mp->shared_moving = 1;
		pthread_mutex_unlock(&mp->lock_mu);
		pg_exec(c, "SELECT pg_advisory_unlock_shared(" GC_LOCK_KEY ")", "gc unlock");
		conn_put(mp, c);
		pthread_mutex_lock(&mp->lock_mu);
		mp->shared_moving = 0;
		pthread_cond_broadcast(&mp->lock_cv);
	}
	pthread_mutex_unlock(&mp->lock_mu);
}

/* The advisory lock key of upload session id: 62 bits of its hash, with bit 62 set, so that no
 * session's key is PG_WRITE_LOCK_KEY or PG_GC_LOCK_KEY (both below 2^62). The hash key is the
 * same on every node; ids are the nodes' random UUIDs, which a client cannot choose. */
static int64_t hold_key(const char *id)
{
	static const struct siphash_key k = {UINT64_C(0x6472796475706c6f), UINT64_C(0x61642d686f6c6473)};
	uint64_t h = siphash24(&k, id, strlen(id));
	return (int64_t)((h >> 2) | (UINT64_C(1) << 62));
}

/* A connection of its own that holds or listens for the node while it lives: one that cannot
 * be reached is given up within seconds (a bounded connect, TCP keepalives and a user timeout),
 * not after the system's default of minutes or hours. Its application_name is unique (a random
 * id: nodes in containers share their process ids), so that the session it was can be ended when
 * the server still keeps it (hold_conn). The store's settings come first; these override theirs. */
static int conn_open_kept(struct meta_pg *mp, const char *role, struct pg_conn **out, char name[64])
{
	char id[37]; /* random: nodes in containers share their process ids */
	util_uuid(id);
	snprintf(name, 64, "drydock %s %s", role, id);
	const char *keys[] = {"dbname", "connect_timeout", "keepalives", "keepalives_idle", "keepalives_interval",
			      "keepalives_count", "tcp_user_timeout", "application_name", NULL};
	const char *values[] = {mp->conninfo, "10", "1", "10", "5", "3", "30000", name, NULL};
	return connect_with(mp, keys, values, out);
}

/* The hold connection, opened again when its link failed. The session it was is ended if the
 * server still has it (a link cut without the server seeing it), so that its locks go now, not
 * when the server's keepalives find it gone. Called under hold_mu. */
static int hold_conn(struct meta_pg *mp)
{
	if (mp->hold_conn && reusable(&mp->hold_conn->base))
		return 0;
	if (mp->hold_conn) {
		conn_close(&mp->hold_conn->base);
		mp->hold_conn = NULL;
	}
	char name[64];
	int rc = conn_open_kept(mp, "hold", &mp->hold_conn, name);
	if (rc)
		return rc;
	mp->hold_gen++;
	if (*mp->hold_name) {
		const char *values[1] = {mp->hold_name};
		PQclear(PQexecParams(mp->hold_conn->pg,
				     "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name=$1"
				     " AND datname=current_database()",
				     1, NULL, values, NULL, NULL, 0));
	}
	snprintf(mp->hold_name, sizeof(mp->hold_name), "%s", name);
	return 0;
}

/* One statement of parameter key (or none) on the hold connection, which answers a boolean:
 * 0 with it in *yes, or the error. Called under hold_mu with the connection there. */
static int hold_run(struct meta_pg *mp, const char *sql, int64_t key, int *yes)
{
	char text[24];
	snprintf(text, sizeof(text), "%" PRId64, key);
	const char *values[1] = {text};
	sq_counted();
	PGresult *r = PQexecParams(mp->hold_conn->pg, sql, key ? 1 : 0, NULL, key ? values : NULL, NULL, NULL, 0);
	int rc = 0;
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		*yes = !strcmp(PQgetvalue(r, 0, 0), "t");
	else
		rc = pg_fail(mp->hold_conn, r, "upload hold");
	PQclear(r);
	return rc;
}

static int mp_hold(struct meta *m, const char *id, int64_t *token)
{
	struct meta_pg *mp = mp_of(m);
	pthread_mutex_lock(&mp->hold_mu);
	int yes = 0, rc = hold_conn(mp);
	if (!rc)
		rc = hold_run(mp, "SELECT pg_try_advisory_lock($1::bigint)", hold_key(id), &yes);
	*token = mp->hold_gen;
	pthread_mutex_unlock(&mp->hold_mu);
	return rc ? rc : yes ? 0 : DD_E_BUSY;
}

/* Given back on the connection that took it; one the server ended since has let go already,
 * and none is opened for it. */
static void mp_unhold(struct meta *m, const char *id, int64_t token)
{
	struct meta_pg *mp = mp_of(m);
	pthread_mutex_lock(&mp->hold_mu);
	int yes;
	if (mp->hold_conn && token == mp->hold_gen && reusable(&mp->hold_conn->base))
		hold_run(mp, "SELECT pg_advisory_unlock($1::bigint)", hold_key(id), &yes);
	pthread_mutex_unlock(&mp->hold_mu);
}

static int mp_held(struct meta *m, int64_t token)
{
	struct meta_pg *mp = mp_of(m);
	pthread_mutex_lock(&mp->hold_mu);
	int yes = 0;
	int ok = mp->hold_conn && token == mp->hold_gen && reusable(&mp->hold_conn->base) &&
		 !hold_run(mp, "SELECT true", 0, &yes) && yes;
	pthread_mutex_unlock(&mp->hold_mu);
	return ok ? 0 : DD_E_BUSY;
}

/* ---- failed logins across the nodes (meta.h's throttle) ---- */

/* Once a minute at most for the node: the spent counts removed, the others counted, which says
 * whether the store is full. */
static void throttle_sweep(struct meta *m, int64_t now, int64_t window)
{
	struct meta_pg *mp = mp_of(m);
	int64_t last = __atomic_load_n(&mp->throttle_swept, __ATOMIC_RELAXED);
	if (now - last < 60 ||
	    !__atomic_compare_exchange_n(&mp->throttle_swept, &last, now, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		return;
	sq_exec(m, "login failures", "DELETE FROM login_failures WHERE locked_until<=?1 AND first<?1-?2", INT(now),
		INT(window));
	struct sq q;
	sq_query(&q, m, "SELECT count(*) FROM login_failures");
	if (sq_row(&q))
		__atomic_store_n(&mp->throttle_full, sq_int(&q, 0) >= META_THROTTLE_KEYS, __ATOMIC_RELAXED);
	sq_end(&q, "login failures");
}

static int mp_throttle_fail(struct meta *m, const char *key, const char *overflow, int64_t now, int64_t window,
			    int64_t *failures, int *over)
{
	struct meta_pg *mp = mp_of(m);
	*failures = 0;
	*over = 0;
	throttle_sweep(m, now, window);
	int full = __atomic_load_n(&mp->throttle_full, __ATOMIC_RELAXED), rc = 0;
	for (int i = 0; i < 2 && !rc && !*failures; i++) {
		struct sq q;
		/* a key counts while the store has room; one counting already goes on; the overflow always */
		sq_query(&q, m,
			 "INSERT INTO login_failures(key, first, failures) SELECT ?1, ?2, 1 WHERE ?4=0"
			 " OR EXISTS(SELECT 1 FROM login_failures WHERE key=?1)"
			 " ON CONFLICT(key) DO UPDATE SET"
			 " first=CASE WHEN login_failures.locked_until<=?2 AND ?2-login_failures.first>?3 THEN ?2"
			 " ELSE login_failures.first END,"
			 " failures=CASE WHEN login_failures.locked_until<=?2 AND ?2-login_failures.first>?3 THEN 1"
			 " ELSE login_failures.failures+1 END RETURNING failures",
			 TEXT(i ? overflow : key), INT(now), INT(window), INT(i ? 0 : full));
		if (sq_row(&q)) {
			*failures = sq_int(&q, 0);
			*over = i;
		}
		rc = sq_end(&q, "login failures");
	}
	return rc;
}

static int mp_throttle_lock(struct meta *m, const char *key, int64_t until)
{
	return sq_exec(m, "login failures",
		       "UPDATE login_failures SET locked_until=greatest(locked_until, ?2) WHERE key=?1", TEXT(key),
		       INT(until));
}

static int mp_throttle_read(struct meta *m, const char *const *keys, size_t n, int64_t now, int64_t *until,
			    int *present, int *full)
{
	struct meta_pg *mp = mp_of(m);
	throttle_sweep(m, now, 300);
	*full = __atomic_load_n(&mp->throttle_full, __ATOMIC_RELAXED);
	const char *k[4] = {"", "", "", ""};
	for (size_t i = 0; i < n; i++) {
		until[i] = 0;
		present[i] = 0;
		if (i < 4)
			k[i] = keys[i];
	}
	struct sq q;
	struct arena a = {0};
	sq_query(&q, m, "SELECT key, locked_until FROM login_failures WHERE key IN (?1, ?2, ?3, ?4)", TEXT(k[0]),
		 TEXT(k[1]), TEXT(k[2]), TEXT(k[3]));
	while (sq_row(&q)) {
		const char *key = sq_text(&a, &q, 0);
		for (size_t i = 0; i < n && i < 4; i++)
			if (*keys[i] && !strcmp(key, keys[i])) {
				present[i] = 1;
				until[i] = sq_int(&q, 1);
			}
	}
	arena_free(&a);
	return sq_end(&q, "login failures");
}

static int mp_throttle_clear(struct meta *m, const char *key)
{
	return sq_exec(m, "login failures", "DELETE FROM login_failures WHERE key=?1", TEXT(key));
}

static const struct meta_throttle_ops mp_throttle = {
	.fail = mp_throttle_fail,
	.lock = mp_throttle_lock,
	.read = mp_throttle_read,
	.clear = mp_throttle_clear,
};

/* ---- notices of queued scans (meta.h's listen) ---- */

/* Waits up to ms for c's socket, or the stop pipe: 1 when c has input, 0 on a timeout, -1 to stop. */
static int listen_wait(struct meta_pg *mp, struct pg_conn *c, int ms)
{
	struct pollfd p[2] = {{.fd = mp->listen_pipe[0], .events = POLLIN}, {.fd = c ? PQsocket(c->pg) : -1, .events = POLLIN}};
	int r = poll(p, c ? 2 : 1, ms);
	if (r > 0 && p[0].revents)
		return -1;
	return r > 0 && c && p[1].revents ? 1 : 0;
}

static void *listener_main(void *arg)
{
	struct meta_pg *mp = arg;
	struct pg_conn *c = NULL;
	for (;;) {
		if (!c) {
			char name[64];
			if (!conn_open_kept(mp, "listen", &c, name)) {
				if (pg_exec(c, "LISTEN drydock_scans", "listen")) {
					conn_close(&c->base);
					c = NULL;
				}
			}
			if (!c) { /* the server is away: its nodes poll meanwhile; try again in a second */
				if (listen_wait(mp, NULL, 1000) < 0)
					break;
				continue;
			}
		}
		int r = listen_wait(mp, c, 30000);
		if (r < 0)
			break;
		if ((r && !PQconsumeInput(c->pg)) || PQstatus(c->pg) != CONNECTION_OK || PQsocket(c->pg) < 0) {
			conn_close(&c->base); /* reconnected above; a notice missed meanwhile is a poll's */
			c = NULL;
			continue;
		}
		int got = 0;
		PGnotify *n;
		while ((n = PQnotifies(c->pg))) {
			got++;
			PQfreemem(n);
		}
		pthread_mutex_lock(&mp->listen_mu);
		for (int i = 0; i < got && i < 64 && mp->on_queued; i++) /* a kick a notice: each a commit's jobs */
			mp->on_queued(mp->on_queued_ctx);
		pthread_mutex_unlock(&mp->listen_mu);
	}
	if (c)
		conn_close(&c->base);
	return NULL;
}

static int mp_listen(struct meta *m, void (*fn)(void *ctx), void *ctx)
{
	struct meta_pg *mp = mp_of(m);
	int rc = 0;
	pthread_mutex_lock(&mp->listen_mu);
	mp->on_queued = fn;
	mp->on_queued_ctx = ctx;
	if (fn && !mp->listening) {
		if (pipe2(mp->listen_pipe, O_CLOEXEC))
			rc = DD_E_IO;
		else if (pthread_create(&mp->listener, NULL, listener_main, mp)) {
			close(mp->listen_pipe[0]);
			close(mp->listen_pipe[1]);
			rc = DD_E_NOMEM;
		} else
			mp->listening = 1;
	}
	pthread_mutex_unlock(&mp->listen_mu);
	return rc;
}

/* Brings the database to the last schema version, under the write lock. */
static int migrate(struct pg_conn *c)
{
	int rc = pg_exec(c,
			 "BEGIN; " WRITE_LOCK ";"
			 "CREATE TABLE IF NOT EXISTS schema_version(version BIGINT NOT NULL)",
			 "schema");
	PGresult *r = rc ? NULL : PQexec(c->pg, "SELECT coalesce(max(version), 0) FROM schema_version");
	long have = 0;
	if (!rc && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		have = strtol(PQgetvalue(r, 0, 0), NULL, 10);
	else if (!rc)
		rc = pg_fail(c, r, "schema version");
	PQclear(r);
	if (!rc && have > (long)DD_ARRAY_LEN(versions)) {
		log_error("the PostgreSQL metadata database is of schema version %ld, newer than this drydock's %zu: "
			  "run the newer drydock", have, DD_ARRAY_LEN(versions));
		rc = DD_E_CONFIG;
	}
	for (size_t v = (size_t)have; !rc && v < DD_ARRAY_LEN(versions); v++) {
		char done[96];
		snprintf(done, sizeof(done), "INSERT INTO schema_version(version) VALUES(%zu)", v + 1);
		if (!(rc = pg_exec(c, versions[v], "schema")))
			rc = pg_exec(c, done, "schema");
	}
	if (!rc)
		rc = pg_exec(c, "COMMIT", "schema");
	if (rc)
		pg_exec(c, "ROLLBACK", NULL);
	return rc;
}

static void mp_free(struct meta *m)
{
	struct meta_pg *mp = mp_of(m);
	if (mp->listening) {
		char stop = 1;
		if (write(mp->listen_pipe[1], &stop, 1) != 1)
			log_error("cannot stop the listener of queued scans");
		pthread_join(mp->listener, NULL);
		close(mp->listen_pipe[0]);
		close(mp->listen_pipe[1]);
	}
	meta_sql_fini(&mp->base);
	pthread_mutex_destroy(&mp->lock_mu);
	pthread_cond_destroy(&mp->lock_cv);
	pthread_mutex_destroy(&mp->excl_mu);
	pthread_mutex_destroy(&mp->listen_mu);
	if (mp->hold_conn)
		conn_close(&mp->hold_conn->base);
	pthread_mutex_destroy(&mp->hold_mu);
	free(mp->conninfo);
	free(mp);
}

int meta_pg_open(const char *conninfo, struct meta **out)
{
	*out = NULL;
	struct meta_pg *mp = calloc(1, sizeof(*mp));
	if (!mp || !(mp->conninfo = strdup(conninfo))) {
		free(mp);
		return DD_E_NOMEM;
	}
	meta_sql_init(&mp->base, &sq_pg_engine, mp_free, POOL_MAX, conn_open, conn_close, reusable);
	pthread_mutex_init(&mp->lock_mu, NULL);
	pthread_cond_init(&mp->lock_cv, NULL);
	pthread_mutex_init(&mp->excl_mu, NULL);
	pthread_mutex_init(&mp->hold_mu, NULL);
	pthread_mutex_init(&mp->listen_mu, NULL);
	mp->base.base.shared = 1;
	mp->base.base.lock = mp_lock;
	mp->base.base.unlock = mp_unlock;
	mp->base.base.hold = mp_hold;
	mp->base.base.unhold = mp_unhold;
	mp->base.base.held = mp_held;
	mp->base.base.throttle = &mp_throttle;
	mp->base.base.listen = mp_listen;
	struct pg_conn *c = NULL;
	int rc = conn_get(mp, &c);
	if (!rc && (rc = migrate(c)))
		log_error("cannot create the schema in the PostgreSQL metadata database");
	if (c)
		conn_put(mp, c);
	if (rc) {
		mp_free(&mp->base.base);
		return rc;
	}
	*out = &mp->base.base;
	return 0;
}

