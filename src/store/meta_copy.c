/* meta_copy.c: a data directory's SQLite metadata copied into an empty PostgreSQL database
 * (`drydock migrate --metadata`): every table, read in one SQLite read transaction (one moment's
 * state) and written with COPY in one PostgreSQL transaction, so the copy is all there or not
 * at all. Values keep their meaning: report and inventory texts become the zstd frames the
 * PostgreSQL engine stores (meta_pg.c), running scans become queued ones, ids keep their values
 * and the id sequences go on after them. The running totals are counted once the assessments
 * are there; the history of the totals (by day) is copied as it was. */
#include "common/dd.h"
#include "meta.h"
#include "meta_sqlInt.h"
#include "common/log.h"
#include <libpq-fe.h>
#include <sqlite3.h>

/* How a column's SQLite value becomes its COPY text. */
enum col_kind { COL_TEXT, COL_INT, COL_BYTES, COL_PACKED };

struct table {
	const char *name;
	const char *columns; /* as both schemas name them */
	const char *select;  /* NULL: SELECT columns FROM name */
	enum col_kind kinds[16];
	const char *sequence; /* the identity column whose sequence goes on after the copied ids, or NULL */
};

#define T COL_TEXT
#define N COL_INT
static const struct table tables[] = {
	{"repos", "name, created", NULL, {T, N}, NULL},
	{"blobs", "digest, size, created", NULL, {T, N, N}, NULL},
	{"repo_blobs", "repo, digest", NULL, {T, T}, NULL},
	{"manifests", "repo, digest, media_type, artifact_type, subject, annotations, size, content, created", NULL,
	 {T, T, T, T, T, T, N, COL_BYTES, N}, NULL},
	{"manifest_refs", "repo, parent, child, kind", NULL, {T, T, T, N}, NULL},
	{"tags", "repo, name, digest, updated", NULL, {T, T, T, N}, NULL},
	{"uploads", "id, repo, \"offset\", created, updated, owner, touched", NULL, {T, T, N, N, N, T, N}, NULL},
	/* a scan running in the stopped server is queued again, as its restart would; a job done
	 * (SCAN_JOB_DONE, 2) is no job */
	{"scan_jobs", "id, repo, digest, priority, state, enqueued",
	 "SELECT id, repo, digest, priority, 0, enqueued FROM scan_jobs WHERE state<>2", {N, T, T, N, N, N}, "id"},
	{"assessments", "repo, digest, status, reason, db_generation, scanned_at, duration_us, findings_hash, counts",
	 NULL, {T, T, T, T, T, N, N, T, T}, NULL},
	{"assessment_reports", "repo, digest, report", NULL, {T, T, COL_PACKED}, NULL},
	{"assessment_inventories", "repo, digest, inventory", NULL, {T, T, COL_PACKED}, NULL},
	{"scan_usage", "namespace, month, scans", NULL, {T, T, N}, NULL},
	{"namespace_settings", "namespace, scanning", NULL, {T, N}, NULL},
	{"settings", "key, value", NULL, {T, T}, NULL},
	{"webhooks",
	 "id, url, secret, ns, events, format, origin, created, delivered, given_up, last_error, last_error_at, failures,"
	 " retry_at, internal",
	 NULL, {N, T, T, T, T, T, T, N, N, N, T, N, N, N, N}, "id"},
	{"outbox", "id, payload, attempts, next_at, target, type, created", NULL, {N, T, N, N, N, T, N}, "id"},
	{"audit", "id, time, actor, action, target, detail", NULL, {N, N, T, T, T, T}, "id"},
	{"assessment_days",
	 "day, ns, status, images, critical, high, medium, low, negligible, unknown, unfixed, assessed", NULL,
	 {T, T, T, N, N, N, N, N, N, N, N, N}, NULL},
};
#undef T
#undef N

/* The running totals of the copied assessments, counted as the trigger counts each one
 * (dd_change in meta_pg.c: per repository and for the registry, '', by status; counts that do
 * not read as seven numbers count as uncounted) */
#define TOTALS_COUNTED                                                                                     \
	"INSERT INTO assessment_totals(repo, status, images, critical, high, medium, low, negligible, unknown," \
	" unfixed, uncounted) SELECT x.repo, a.status, count(*), sum(dd_count_at(a.counts, 0)),"               \
	" sum(dd_count_at(a.counts, 1)), sum(dd_count_at(a.counts, 2)), sum(dd_count_at(a.counts, 3)),"        \
	" sum(dd_count_at(a.counts, 4)), sum(dd_count_at(a.counts, 5)), sum(dd_count_at(a.counts, 6)),"        \
	" sum(CASE WHEN dd_counts_ok(a.counts) THEN 0 ELSE 1 END) FROM assessments a"                         \
	" CROSS JOIN LATERAL (VALUES (a.repo), ('')) AS x(repo) GROUP BY x.repo, a.status"

struct line {
	char *p;
	size_t n, cap;
	int oom;
};

static void put(struct line *l, const void *s, size_t n)
{
	if (l->oom)
		return;
	if (l->n + n + 1 > l->cap) {
		size_t cap = (l->n + n + 1) * 2;
		char *p = realloc(l->p, cap);
		if (!p) {
			l->oom = 1;
			return;
		}
		l->p = p;
		l->cap = cap;
	}
	memcpy(l->p + l->n, s, n);
	l->n += n;
}

/* Text in COPY's text format: backslash, tab, newline and carriage return escaped. */
static void put_text(struct line *l, const char *s, size_t n)
{
	size_t from = 0;
	for (size_t i = 0; i < n; i++) {
		const char *esc = s[i] == '\\' ? "\\\\" : s[i] == '\t' ? "\\t" : s[i] == '\n' ? "\\n" : s[i] == '\r' ? "\\r" : NULL;
		if (esc) {
			put(l, s + from, i - from);
			put(l, esc, 2);
			from = i + 1;
		}
	}
	put(l, s + from, n - from);
}

/* Bytes as bytea's hex text, its backslash escaped for COPY. */
static void put_bytes(struct line *l, const unsigned char *b, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	put(l, "\\\\x", 3);
	for (size_t i = 0; i < n; i++) {
		char two[2] = {hex[b[i] >> 4], hex[b[i] & 15]};
		put(l, two, 2);
	}
}

static int pg_ok(PGconn *pg, PGresult *r, const char *what, const char **why)
{
	ExecStatusType st = PQresultStatus(r);
	int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_COPY_IN;
	if (!ok) {
		log_error("migrate: %s: %s", what, PQresultErrorMessage(r));
		*why = "PostgreSQL refused the copy (the log says why)";
	}
	(void)pg;
	PQclear(r);
	return ok ? 0 : DD_E_IO;
}

static int copy_table(sqlite3 *db, PGconn *pg, const struct table *t, int64_t *rows, const char **why)
{
	char sql[1024];
	if (t->select)
		snprintf(sql, sizeof(sql), "%s", t->select);
	else
		snprintf(sql, sizeof(sql), "SELECT %s FROM %s", t->columns, t->name);
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		log_error("migrate: %s: %s", t->name, sqlite3_errmsg(db));
		*why = "the SQLite metadata cannot be read (the log says why)";
		return DD_E_IO;
	}
	snprintf(sql, sizeof(sql), "COPY %s(%s) FROM STDIN", t->name, t->columns);
	int rc = pg_ok(pg, PQexec(pg, sql), t->name, why);
	int ncol = sqlite3_column_count(st), step;
	struct line l = {0};
	while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
		l.n = 0;
		for (int i = 0; i < ncol; i++) {
			if (i)
				put(&l, "\t", 1);
			int type = sqlite3_column_type(st, i);
			const void *v = type == SQLITE_BLOB ? sqlite3_column_blob(st, i) : (const void *)sqlite3_column_text(st, i);
			size_t n = (size_t)sqlite3_column_bytes(st, i);
			switch (t->kinds[i]) {
			case COL_TEXT:
				put_text(&l, v ? v : "", n);
				break;
			case COL_INT: {
				char num[24];
				put(&l, num, (size_t)snprintf(num, sizeof(num), "%lld", (long long)sqlite3_column_int64(st, i)));
				break;
			}
			case COL_BYTES:
				put_bytes(&l, v, n);
				break;
			case COL_PACKED: /* a zstd frame stays one; text (short, or from before packing) becomes one */
				if (type == SQLITE_BLOB || !n)
					put_bytes(&l, v, type == SQLITE_BLOB ? n : 0);
				else {
					size_t zn;
					void *z = sq_pack(v, &zn);
					if (!z)
						l.oom = 1;
					else
						put_bytes(&l, z, zn);
					free(z);
				}
				break;
			}
		}
		put(&l, "\n", 1);
		if (l.oom)
			rc = DD_E_NOMEM;
		else if (PQputCopyData(pg, l.p, (int)l.n) != 1) {
			log_error("migrate: %s: %s", t->name, PQerrorMessage(pg));
			*why = "the copy to PostgreSQL failed (the log says why)";
			rc = DD_E_IO;
		} else
			(*rows)++;
	}
	if (!rc && step != SQLITE_DONE) {
		log_error("migrate: %s: %s", t->name, sqlite3_errmsg(db));
		*why = "the SQLite metadata cannot be read (the log says why)";
		rc = DD_E_IO;
	}
	sqlite3_finalize(st);
	free(l.p);
	if (PQputCopyEnd(pg, rc ? "drydock migrate stopped" : NULL) != 1 && !rc) {
		*why = "the copy to PostgreSQL failed";
		rc = DD_E_IO;
	}
	PGresult *r;
	while ((r = PQgetResult(pg))) {
		if (!rc)
			rc = pg_ok(pg, r, t->name, why);
		else
			PQclear(r);
	}
	if (!rc && t->sequence) { /* after the highest id ever given: SQLite's AUTOINCREMENT kept it */
		int64_t given = 0;
		snprintf(sql, sizeof(sql), "SELECT seq FROM sqlite_sequence WHERE name='%s'", t->name);
		if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
			given = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		snprintf(sql, sizeof(sql),
			 "SELECT setval(pg_get_serial_sequence('%s', '%s'), greatest(coalesce(max(%s), 0), %" PRId64
			 ") + 1, false) FROM %s",
			 t->name, t->sequence, t->sequence, given, t->name);
		rc = pg_ok(pg, PQexec(pg, sql), t->name, why);
	}
	return rc;
}

int meta_copy_to_pg(const char *sqlite_path, const char *conninfo, FILE *progress, const char **why)
{
	*why = NULL;
	/* the schema, made (or checked) as a node's start makes it */
	struct meta *m;
	if (meta_pg_open(conninfo, &m)) {
		*why = "cannot open the PostgreSQL database (the log says why)";
		return DD_E_IO;
	}
	meta_free(m);
	/* the SQLite metadata brought up to date first, by the engine that wrote it */
	if (meta_sqlite_open(sqlite_path, &m)) {
		*why = "cannot open the SQLite metadata";
		return DD_E_IO;
	}
	meta_free(m);
	sqlite3 *db = NULL;
	PGconn *pg = PQconnectdb(conninfo);
	int rc = 0;
	if (sqlite3_open_v2(sqlite_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		*why = "cannot open the SQLite metadata";
		rc = DD_E_IO;
	} else if (PQstatus(pg) != CONNECTION_OK) {
		*why = "cannot connect to PostgreSQL";
		rc = DD_E_IO;
	}
	if (!rc)
		rc = pg_ok(pg, PQexec(pg, "SET client_encoding='UTF8'; BEGIN; SELECT pg_advisory_xact_lock(" PG_WRITE_LOCK_KEY ")"),
			   "begin", why);
	if (!rc) { /* into an empty database only: never mixed with another registry's */
		PGresult *r = PQexec(pg, "SELECT (SELECT count(*) FROM repos) + (SELECT count(*) FROM settings) +"
					 " (SELECT count(*) FROM audit) + (SELECT count(*) FROM webhooks)");
		int empty = PQresultStatus(r) == PGRES_TUPLES_OK && !strcmp(PQgetvalue(r, 0, 0), "0");
		PQclear(r);
		if (!empty) {
			*why = "the PostgreSQL database already holds a registry's metadata: give an empty one";
			rc = DD_E_CONFIG;
		}
	}
	if (!rc && sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) { /* one moment's state */
		*why = "cannot read the SQLite metadata";
		rc = DD_E_IO;
	}
	for (size_t i = 0; !rc && i < DD_ARRAY_LEN(tables); i++) {
		int64_t rows = 0;
		int assessments = !strcmp(tables[i].name, "assessments");
		if (!strcmp(tables[i].name, "assessment_days")) /* the history, as it was */
			rc = pg_ok(pg, PQexec(pg, "DELETE FROM assessment_days"), "assessment_days", why);
		/* the assessments' row trigger off for their copy, and the totals counted once after
		 * it: in one transaction the trigger rewrote the same two rows of assessment_totals
		 * for every image, each time behind a longer chain of their versions (100,000 images
		 * ran for more than 10 minutes) */
		if (!rc && assessments)
			rc = pg_ok(pg, PQexec(pg, "ALTER TABLE assessments DISABLE TRIGGER assessments_changed"),
				   "assessments", why);
		if (!rc)
			rc = copy_table(db, pg, &tables[i], &rows, why);
		if (!rc && assessments)
			rc = pg_ok(pg, PQexec(pg, TOTALS_COUNTED "; ALTER TABLE assessments ENABLE TRIGGER assessments_changed"),
				   "assessment_totals", why);
		if (!rc && progress)
			fprintf(progress, "drydock migrate: %s: %" PRId64 " rows\n", tables[i].name, rows);
	}
	if (!rc)
		rc = pg_ok(pg, PQexec(pg, "COMMIT"), "commit", why);
	else if (pg && PQstatus(pg) == CONNECTION_OK)
		PQclear(PQexec(pg, "ROLLBACK"));
	if (db)
		sqlite3_close(db);
	PQfinish(pg);
	return rc;
}
