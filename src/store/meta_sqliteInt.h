/* meta_sqliteInt.h: what the files of the SQLite metadata backend share, and nothing outside
 * them includes. meta_sqlite.c holds the core (schema, connection pool, statement cache,
 * transactions); meta_sqlite_repos.c, meta_sqlite_scans.c, meta_sqlite_admin.c and
 * meta_sqlite_outbox.c implement the four parts of the store (meta.h), each operation as its
 * SQL plus what it does with the rows.
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
 * returns 0 or the error, logged with `what`. An error sticks: after one, sq_row() returns 0. */
#ifndef DD_META_SQLITE_INT_H
#define DD_META_SQLITE_INT_H
#include "meta_admin.h"
#include "meta_outbox.h"
#include "meta_repos.h"
#include "meta_scans.h"
#include <sqlite3.h>

struct arena;
struct conn; /* a connection of the pool with its cached statements */

/* An argument bound to a statement's next parameter. */
struct sq_arg {
	enum { SQ_ARG_NONE, SQ_ARG_TEXT, SQ_ARG_INT, SQ_ARG_BLOB, SQ_ARG_PACKED } type;
	const char *text; /* TEXT, PACKED and BLOB: borrowed until the statement ends */
	int64_t i;        /* INT's value, BLOB's length */
};
#define TEXT(v) ((struct sq_arg){SQ_ARG_TEXT, (v), 0})     /* NULL binds NULL */
#define INT(v) ((struct sq_arg){SQ_ARG_INT, NULL, (int64_t)(v)}) /* any integer or enum value */
#define BLOB(p, n) ((struct sq_arg){SQ_ARG_BLOB, (p), (int64_t)(n)})
#define PACKED(v) ((struct sq_arg){SQ_ARG_PACKED, (v), 0}) /* text stored zstd-compressed (sq_unpacked) */
#define SKIP ((struct sq_arg){SQ_ARG_NONE, NULL, 0})       /* leaves this parameter NULL */
#define NOARGS SKIP                                         /* for a statement without parameters */

struct sq {
	struct conn *c;
	sqlite3_stmt *st;
	int pooled;      /* c was taken from the pool for this statement alone */
	int locked;      /* holds the process's write mutex: a write outside a transaction */
	int step;        /* the last sqlite3_step() result, SQLITE_OK before the first */
	int rc;          /* an error before the statement ran (no connection) */
	int64_t changes; /* rows the statement changed, once sq_end() has returned */
};

/* "" sql "": only a string literal compiles there (the statement cache keys on its address).
 * The _on forms run on connection c, which the caller holds; the _at forms on c, or when c is
 * NULL on a connection of m's pool (for what runs both inside and outside a transaction). */
#define SQ_ARGS(...) \
	((const struct sq_arg[]){__VA_ARGS__}), (sizeof((struct sq_arg[]){__VA_ARGS__}) / sizeof(struct sq_arg))
#define sq_query_at(q, m, c, sql, ...) sq_start((q), (m), (c), "" sql "", SQ_ARGS(__VA_ARGS__))
#define sq_query(q, m, sql, ...) sq_query_at(q, m, NULL, sql, __VA_ARGS__)
#define sq_query_on(q, c, sql, ...) sq_query_at(q, NULL, c, sql, __VA_ARGS__)
/* A statement that returns no rows, in one call: 0 or the error (logged with what). */
#define sq_exec_at(m, c, what, sql, ...) sq_run((m), (c), (what), "" sql "", SQ_ARGS(__VA_ARGS__))
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
 * webhook. Each is defined with its part's other SQL; the two that also take m serve their own
 * part's operation too, on a connection of the pool (c NULL). */
/* Queues a push's scan of (repo, digest) unless it has an assessment already (a re-tag). */
int sq_scan_enqueue_unassessed(struct conn *c, const char *repo, const char *digest);
int sq_scans_forget(struct conn *c, const char *repo, const char *digest);
int sq_audit_insert(struct meta *m, struct conn *c, const struct audit_rec *e);
int sq_outbox_insert(struct meta *m, struct conn *c, const struct outbox_event *e);

extern const struct meta_repos_ops meta_sqlite_repos;
extern const struct meta_scans_ops meta_sqlite_scans;
extern const struct meta_admin_ops meta_sqlite_admin;
extern const struct meta_outbox_ops meta_sqlite_outbox;

#endif
