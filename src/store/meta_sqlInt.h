/* meta_sqlInt.h: what the SQL metadata backends share, and nothing outside them includes. The
 * operations of the store (meta.h) are written once, as SQL and what they do with the rows, in
 * meta_sql_repos.c, meta_sql_scans.c, meta_sql_admin.c and meta_sql_outbox.c; they run on either
 * engine: SQLite (meta_sqlite.c: the embedded default) or PostgreSQL (meta_pg.c: many nodes).
 * Each engine holds its schema, statement cache and transactions; the pool is meta_sql.c's.
 *
 * Running one statement:
 *
 *	struct sq q;
 *	sq_query(&q, m, "SELECT size FROM blobs WHERE digest=?1", TEXT(digest));
 *	while (sq_row(&q))
 *		... sq_int(&q, 0) ...
 *	return sq_end(&q, "blob lookup");
 *
 * sq_query() takes a connection from the pool (sq_query_on() runs on one the caller holds, in
 * a transaction), gets the connection's prepared statement for the SQL (prepared once per
 * connection, cached by the address of the SQL text, so the text must be a string literal:
 * the macros below refuse anything else), and binds the arguments to ?1, ?2, ... in order.
 * sq_row() steps to the next row. sq_end() resets the statement, puts the connection back and
 * returns 0 or the error, logged with `what`. An error sticks: after one, sq_row() returns 0.
 *
 * The SQL is the dialect both engines read (PostgreSQL gets ?N as $N); where they differ, a
 * statement is written PG_OR("SQLite text", "PostgreSQL text"). */
#ifndef DD_META_SQL_INT_H
#define DD_META_SQL_INT_H
#include "meta_admin.h"
#include "meta_outbox.h"
#include "meta_repos.h"
#include "meta_scans.h"

struct arena;
struct sq_engine;

/* A connection of an engine's pool with its cached statements: each engine's own connection
 * begins with this. */
struct conn {
	const struct sq_engine *eng;
	struct conn *next; /* in the pool's idle list */
	int64_t tx_began_ns; /* when its write transaction got its lock (meta_counts) */
};

/* The store of an SQL engine: each engine's own store begins with this. Its pool opens up to
 * `max` connections with the engine's open_conn, hands idle ones out first, makes callers wait
 * when all are busy, and closes one given back that is no longer reusable (NULL: all are). */
struct meta_sql {
	struct meta base;
	const struct sq_engine *eng;
	int64_t leases_swept_ns; /* atomic, monotonic: when claims last queued expired leases again */
	struct {                 /* claim_pg's hint: where this node's next re-assessments are read from */
		pthread_mutex_t mu;
		int64_t after;  /* the last re-assessment claimed here, 0: from the start */
		uint64_t epoch; /* moved on when the hint goes back to the start: a claim begun before
				 * does not carry it forward again */
	} hint;
	struct sq_pool {
		pthread_mutex_t mu;
		pthread_cond_t freed;
		struct conn *idle;
		int open, max; /* open: idle or busy */
		int (*open_conn)(struct meta_sql *ms, struct conn **out);
		void (*close_conn)(struct conn *c);
		int (*reusable)(struct conn *c);
	} pool;
};

/* Sets up ms: the parts of the store (meta_sql_*.c), its engine, free, and its pool. */
void meta_sql_init(struct meta_sql *ms, const struct sq_engine *eng, void (*free_fn)(struct meta *m), int max,
		   int (*open_conn)(struct meta_sql *ms, struct conn **out), void (*close_conn)(struct conn *c),
		   int (*reusable)(struct conn *c));
/* Closes the pool's idle connections and frees what init made (every connection given back). */
void meta_sql_fini(struct meta_sql *ms);
int sq_pool_get(struct meta_sql *ms, struct conn **out);
void sq_pool_put(struct meta_sql *ms, struct conn *c);

/* An argument bound to a statement's next parameter. */
struct sq_arg {
	enum { SQ_ARG_NONE, SQ_ARG_TEXT, SQ_ARG_INT, SQ_ARG_BLOB, SQ_ARG_PACKED, SQ_ARG_BLOBS } type;
	const char *text; /* TEXT, PACKED, BLOB and BLOBS: borrowed until the statement ends */
	int64_t i;        /* INT's value, BLOB's and BLOBS's length */
};
#define TEXT(v) ((struct sq_arg){SQ_ARG_TEXT, (v), 0})     /* NULL binds NULL */
#define INT(v) ((struct sq_arg){SQ_ARG_INT, NULL, (int64_t)(v)}) /* any integer or enum value */
#define BLOB(p, n) ((struct sq_arg){SQ_ARG_BLOB, (p), (int64_t)(n)})
/* PostgreSQL only: a bytea[] in its binary form (n bytes at p) */
#define BLOBS(p, n) ((struct sq_arg){SQ_ARG_BLOBS, (p), (int64_t)(n)})
#define PACKED(v) ((struct sq_arg){SQ_ARG_PACKED, (v), 0}) /* text stored zstd-compressed (sq_unpacked) */
#define SKIP ((struct sq_arg){SQ_ARG_NONE, NULL, 0})       /* leaves this parameter NULL */
#define NOARGS SKIP                                         /* for a statement without parameters */

struct sq {
	struct conn *c;
	void *st;        /* the engine's statement (SQLite) or result (PostgreSQL) */
	int pooled;      /* c was taken from the pool for this statement alone */
	int locked;      /* holds the process's write mutex: a write outside a transaction */
	int step;        /* SQLite: the last sqlite3_step() result, SQLITE_OK (0) before the first */
	int row, rows;   /* PostgreSQL: the current row (-1 before the first) and how many there are */
	int rc;          /* an error before the statement ran (no connection), or the statement's */
	int64_t changes; /* rows the statement changed, once sq_end() has returned */
};

/* A statement written for each engine: both texts in one literal, the SQLite text first. */
#define PG_OR(sqlite_sql, pg_sql) sqlite_sql "\0" pg_sql

/* "" sql "\0": only a string literal compiles there (the statement cache keys on its address);
 * the NUL after it ends a text written once for both engines (PG_OR puts the other text there).
 * The _on forms run on connection c, which the caller holds; the _at forms on c, or when c is
 * NULL on a connection of m's pool (for what runs both inside and outside a transaction). */
#define SQ_ARGS(...) \
	((const struct sq_arg[]){__VA_ARGS__}), (sizeof((struct sq_arg[]){__VA_ARGS__}) / sizeof(struct sq_arg))
/* Counts a statement an engine runs outside sq_start (meta_counts). */
void sq_counted(void);
/* The monotonic clock, in nanoseconds. */
int64_t sq_mono_ns(void);
#define sq_query_at(q, m, c, sql, ...) sq_start((q), (m), (c), "" sql "\0", SQ_ARGS(__VA_ARGS__))
#define sq_query(q, m, sql, ...) sq_query_at(q, m, NULL, sql, __VA_ARGS__)
#define sq_query_on(q, c, sql, ...) sq_query_at(q, NULL, c, sql, __VA_ARGS__)
/* A statement that returns no rows, in one call: 0 or the error (logged with what). */
#define sq_exec_at(m, c, what, sql, ...) sq_run((m), (c), (what), "" sql "\0", SQ_ARGS(__VA_ARGS__))
#define sq_exec(m, what, sql, ...) sq_exec_at(m, NULL, what, sql, __VA_ARGS__)
#define sq_exec_on(c, what, sql, ...) sq_exec_at(NULL, c, what, sql, __VA_ARGS__)

void sq_start(struct sq *q, struct meta *m, struct conn *c, const char *sql, const struct sq_arg *args, size_t n);
int sq_run(struct meta *m, struct conn *c, const char *what, const char *sql, const struct sq_arg *args, size_t n);
/* 1 when the statement stepped to a row, 0 at the end or on an error (sq_end() reports it). */
int sq_row(struct sq *q);
/* Ends the statement: 0, or the error logged with what (NULL: not logged). */
int sq_end(struct sq *q, const char *what);
/* Ends a statement that returns no rows (run here if sq_row() has not run it): as sq_end(). */
int sq_done(struct sq *q, const char *what);
/* Ends a query of one row (stepped to here if sq_row() has not): 0 when there was one, else
 * `absent`, or the error logged with what. */
int sq_one(struct sq *q, const char *what, int absent);

/* Column i of the current row: text copied to the arena ("" for NULL), text sq_query bound
 * PACKED ("" when it is damaged), an integer. */
char *sq_text(struct arena *a, const struct sq *q, int i);
char *sq_unpacked(struct arena *a, const struct sq *q, int i);
int64_t sq_int(const struct sq *q, int i);
/* Column i as bytes (a BLOB) copied to the arena, NUL-terminated past *n. */
char *sq_blob(struct arena *a, const struct sq *q, int i, size_t *n);

/* Text v as one zstd frame (malloc'd, *zn bytes; NULL when it cannot be made), and a stored
 * frame back as text (its checks failed: logged, and ""): how engines store PACKED values. */
void *sq_pack(const char *v, size_t *zn);
/* Values of at least this many bytes are stored packed by both engines (shorter ones too by
 * PostgreSQL): what a caller may pack before its transaction and bind as a BLOB. */
#define SQ_PACK_MIN 512
/* SQLite: the condition of the assessments' update triggers that lets a writer count its own
 * updates in the running totals (meta_sqlite.c's triggers, meta_sql_scans.c's tally). */
#define SQ_UNTALLIED "NEW.tallied IS OLD.tallied"
char *sq_unpack(struct arena *a, const void *z, size_t zn);

/* A connection of the pool held across statements, and given back. */
int sq_conn_get(struct meta *m, struct conn **out);
void sq_conn_put(struct conn *c);
/* Rows changed by the last statement run on c. */
int64_t sq_changes(struct conn *c);

/* A write transaction on a connection of the pool: BEGIN IMMEDIATE, holding the process's write
 * mutex until it ends. The lazy kind commits without waiting for the disk (what a power cut may
 * lose is made again: the scan queue's claims, stored assessments). sq_tx_end() commits when rc
 * is 0, else (or when the commit fails) rolls back, puts the connection back (c may be NULL:
 * no connection was taken) and returns rc or the commit's error. */
int sq_tx_begin(struct meta *m, struct conn **c);
int sq_tx_begin_lazy(struct meta *m, struct conn **c);
int sq_tx_end(struct conn *c, int rc);

/* Statements one part runs in another's transaction (c): a push queues its scan and records
 * its audit entry, a deleted manifest's assessment and job go with it, a done scan queues its
 * webhook. Each is defined with its part's other SQL. */
/* Queues a push's scan of (repo, digest) unless it has an assessment already (a re-tag). */
int sq_scan_enqueue_unassessed(struct conn *c, const char *repo, const char *digest);
int sq_scans_forget(struct conn *c, const char *repo, const char *digest);
int sq_audit_insert(struct conn *c, const struct audit_rec *e);
int sq_outbox_insert(struct conn *c, const struct outbox_event *e);

/* PostgreSQL's advisory locks (meta_pg.c): every write transaction's, and the garbage
 * collector's. Their keys are "drydock" in ASCII and the next number. */
#define PG_WRITE_LOCK_KEY "28273363372696427"
#define PG_GC_LOCK_KEY "28273363372696428"

/* Which engine runs the store or connection: SQ_PG for PostgreSQL. */
enum sq_dialect { SQ_SQLITE, SQ_PG };
enum sq_dialect sq_dialect(struct meta *m, struct conn *c);

/* What an engine does for the functions above (meta_sqlite.c, meta_pg.c). */
struct sq_engine {
	enum sq_dialect dialect;
	void (*start)(struct sq *q, struct meta *m, struct conn *c, const char *sql, const struct sq_arg *args,
		      size_t n);
	int (*row)(struct sq *q);
	int (*end)(struct sq *q, const char *what);
	int (*done)(struct sq *q, const char *what);
	int (*one)(struct sq *q, const char *what, int absent);
	char *(*text)(struct arena *a, const struct sq *q, int i);
	char *(*unpacked)(struct arena *a, const struct sq *q, int i);
	int64_t (*integer)(const struct sq *q, int i);
	char *(*blob)(struct arena *a, const struct sq *q, int i, size_t *n);
	int (*conn_get)(struct meta *m, struct conn **out);
	void (*conn_put)(struct conn *c);
	int64_t (*changes)(struct conn *c);
	int (*tx_begin)(struct meta *m, struct conn **c, int lazy);
	int (*tx_end)(struct conn *c, int rc);
};
extern const struct sq_engine sq_sqlite_engine, sq_pg_engine;

/* The parts of the store, written once for both engines. */
extern const struct meta_repos_ops meta_sql_repos;
extern const struct meta_scans_ops meta_sql_scans;
extern const struct meta_admin_ops meta_sql_admin;
extern const struct meta_outbox_ops meta_sql_outbox;

#endif
