/* query.h: a Kusto (KQL) query engine over in-memory tables, as a pure library. The caller
 * names its tables (columns with types, and rows given as an array or pushed by a callback);
 * query_run parses the text, checks it against those tables and evaluates it within limits.
 * Nothing here knows about the registry, the store or HTTP: tables come from the caller.
 *
 *   struct query_result r;
 *   struct query_error e;
 *   if (query_run(text, len, &tables, NULL, &r, &e) == 0) {
 *           query_result_json(&r, &out);
 *           query_result_free(&r);
 *   } else
 *           printf("%d:%d: %s\n", e.line, e.column, e.message);
 *
 * The language implemented, and what is not, is listed in docs/query.md. */
#ifndef DD_QUERY_H
#define DD_QUERY_H
#include <stddef.h>
#include <stdint.h>
#include "common/arena.h"
#include "common/buf.h"
#include "query/value.h"

struct query_column {
	const char *name;
	enum query_type type;
};

/* What a query's leading `where` operators over a table ask of every row, given to the
 * table's scan so that it can skip rows that cannot pass (read an index, not build them): each
 * filter says that column `column`, or the value at a member path inside that dynamic column
 * (properties.status.severity: path {"status", "severity"}), equals one of `values`, compared
 * as == (or as =~ when icase). All filters hold for a row that passes. A hint only: the engine
 * applies the whole `where` to every row emitted, so a scan may ignore any filter. */
#define QUERY_MAX_PATH 6
struct query_filter {
	int column;
	const char *path[QUERY_MAX_PATH];
	int npath;
	int icase;
	const char *const *values; /* NUL-terminated strings */
	size_t nvalues;
};
/* What the whole query reads of one column of the table (an over-approximation: a name read
 * anywhere counts): nothing, the value as a whole, or, for a dynamic column read only through
 * member paths (properties.status.severity), only the subtrees of those first members. A scan
 * may give a column nothing reads as null or "", and build only those members of a dynamic one. */
struct query_path {
	const char *const *names; /* outermost first */
	int n;
};
struct query_use {
	int read;
	int whole;
	const char *const *members; /* when read && !whole */
	size_t nmembers;
	/* when read && !whole: each member path read (properties.additionalData.artifactDetails.digest:
	 * {"additionalData", "artifactDetails", "digest"}), cut before a step that is not a constant
	 * name (a[0], a[x]); the whole subtree below a path's end is read. Their first names are
	 * members. */
	const struct query_path *paths;
	size_t npaths;
};

struct query_hint {
	const struct query_filter *filters;
	size_t n;
	const struct query_use *use; /* one per column of the table */
};

/* Pushes rows: a table's scan callback calls emit once per row with ncolumns values (or with
 * NULL, a heartbeat, from time to time while it reads without emitting: it may return the
 * time limit's code), which
 * are copied (strings and dynamic values too) before emit returns when the row passes the
 * query's leading `where` operators, and dropped otherwise; emit returns non-zero when the scan
 * must stop (a limit was reached), and scan then returns that code. A scan may be called more
 * than once in a query (a table named twice, each with its own filters). */
typedef int (*query_emit_fn)(void *q, const struct qval *row);
typedef int (*query_scan_fn)(void *table_ctx, const struct query_hint *hint, query_emit_fn emit, void *q);

struct query_table {
	const char *name; /* case-sensitive, as Kusto's names, unless any_case */
	const struct query_column *columns;
	size_t ncolumns;
	/* Either rows: nrows * ncolumns values, row-major, borrowed for the whole query (its
	 * strings NUL-terminated, its dynamic values not changed while the query runs) ... */
	const struct qval *rows;
	size_t nrows;
	/* ... or, when scan is set, rows pushed by scan(ctx, ...). */
	query_scan_fn scan;
	void *ctx;
	int any_case; /* the name matched without regard to case, as Resource Graph's tables are */
};

struct query_tables {
	const struct query_table *tables;
	size_t n;
};

/* Zero fields take the defaults of src/common/limits.h (DD_MAX_QUERY_*); a caller may only
 * lower them. now, when non-zero, is the query's now() in ticks (tests); otherwise the clock. */
struct query_limits {
	size_t max_text_bytes;
	int max_depth;
	size_t max_rows;
	size_t max_bytes;
	int64_t max_millis;
	int64_t now;
};

/* Where and why a query failed: line and column (1-based, in bytes) of the token at fault,
 * offset in the text, and a message such as "expected ')' but found 'by'". Runtime errors
 * (a limit, a bad regex) point at the operator or expression that hit them. */
struct query_error {
	int line, column;
	size_t offset;
	char message[256];
};

/* A result owns everything it points to (one arena and the dynamic values it references). */
struct query_result {
	size_t ncolumns;
	struct query_column *columns;
	size_t nrows;
	struct qval **rows; /* each ncolumns values */
	struct arena arena;
	json_t **owned;     /* dynamic values created by the query, released by query_result_free */
	size_t nowned;
};

/* Parses and runs text (len bytes, need not be NUL-terminated) over tables. Returns 0 and
 * fills out, or an error code with err filled: DD_E_USAGE for a query that does not parse or
 * check (unknown column, wrong argument), DD_E_TOO_LARGE for a limit, DD_E_INTERNAL. out is
 * cleared on entry and is empty on error. */
int query_run(const char *text, size_t len, const struct query_tables *tables,
	      const struct query_limits *limits, struct query_result *out, struct query_error *err);
void query_result_free(struct query_result *r);

/* Appends {"columns":[{"name","type"}],"rows":[[...]]} to out (Kusto's type names; datetimes
 * as ISO 8601 UTC strings, timespans as [d.]hh:mm:ss[.fffffff], dynamic values as JSON). */
int query_result_json(const struct query_result *r, struct buf *out);
/* Appends one value as JSON. */
int query_value_json(const struct qval *v, struct buf *out);

#endif
