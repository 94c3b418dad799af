/* queryInt.h: what the query engine's files share (SQLite's *Int.h): the query context with
 * its limits and error exit, tokens, the syntax tree, rows and the function tables. Not part
 * of the API: callers include query.h only.
 *
 * Errors inside the engine leave through q_fail(), a longjmp back to query_run. That is safe
 * because everything a query allocates lives in its arena or in the context's lists of
 * dynamic values and regexes, which query_run releases on both paths. */
#ifndef DD_QUERY_INT_H
#define DD_QUERY_INT_H
#include <setjmp.h>
#include "query/query.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* Arguments one function call may take (case() and pack() are variadic). */
#define Q_MAX_ARGS 64

/* ---- context ---- */

struct qlet;
struct qsrc;
struct usage;

struct qctx {
	struct arena *arena; /* the result's arena: all memory of the query */
	jmp_buf jb;
	int code;
	struct query_error *err;
	const char *text;
	size_t len;
	const struct query_tables *tables;
	struct query_limits lim;
	size_t bytes;          /* allocated so far, against lim.max_bytes */
	int64_t start_ms;      /* monotonic clock at the start */
	uint32_t tick;         /* rows since the clock was last read */
	int64_t now;           /* now() in ticks, fixed for the whole query */
	int depth;             /* current nesting, parser and evaluator */
	json_t **owned;        /* dynamic values the query created (malloc'ed vector) */
	size_t nowned, capowned;
	pcre2_code **regexes;  /* compiled regexes (malloc'ed vector) */
	size_t nregexes, capregexes;
	pcre2_match_data *md;  /* one match block, reused */
	pcre2_match_context *mctx; /* the regex step limit */
	pcre2_code *tmp_re;    /* a regex compiled for one row, while it is used */
	struct qlet *lets;     /* let statements, newest first */
	struct qsrc *sources;  /* tables already read, so each is read once */
	struct usage *usage;   /* what the query reads of the tables' columns (eval.c) */
	int scans;             /* tables read by a scan so far */
	int column_seq;        /* ColumnN names given so far in one operator */
	size_t op_pos;         /* where the operator being evaluated is written */
};

/* A position meaning "the operator being evaluated", for failures found while it runs. */
#define Q_HERE SIZE_MAX

/* Leaves query_run with code (DD_E_USAGE, DD_E_TOO_LARGE, ...) and a message pointing at
 * text offset pos. */
_Noreturn void q_fail(struct qctx *q, int code, size_t pos, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Arena memory counted against the query's memory limit; zeroed. */
void *q_alloc(struct qctx *q, size_t n);
void *q_alloc_uninit(struct qctx *q, size_t n);
char *q_strndup(struct qctx *q, const char *s, size_t n);
/* Takes ownership of j (released when the result is freed); returns j. */
json_t *q_own(struct qctx *q, json_t *j);
/* Compiles a regex (PCRE2 syntax, as Kusto's RE2 for what queries use) kept until the end;
 * fails the query at pos with the compiler's message when it is invalid. */
pcre2_code *q_regex(struct qctx *q, const char *re, size_t n, uint32_t options, size_t pos);
/* Checks the time budget (every 4096 calls reads the clock). */
void q_tick(struct qctx *q, size_t pos);
void q_check_rows(struct qctx *q, size_t rows, size_t pos);
int64_t q_clock_ms(void);

/* ---- tokens (lexer.c) ---- */

enum tok_kind { TK_EOF, TK_IDENT, TK_LONG, TK_REAL, TK_TIMESPAN, TK_STRING, TK_PUNCT };

struct token {
	int kind;
	size_t pos, len;   /* where in the text */
	const char *s;     /* TK_IDENT: the name; TK_STRING: the decoded text; TK_PUNCT: "==" */
	size_t slen;
	int64_t i;         /* TK_LONG, TK_TIMESPAN (ticks) */
	double r;
};

struct lexer {
	struct qctx *q;
	const char *s;
	size_t n, p;
};

/* Reads the next token at lx->p; fails the query on a malformed one (unterminated string). */
void lex_next(struct lexer *lx, struct token *t);
/* "'x'" or "end of query" for messages (arena string). */
/* "1d", "2.5h", "100ms": a number and a unit, as the lexer reads them; 0 or -1. */
int lex_timespan(const char *s, size_t n, int64_t *ticks);
const char *tok_describe(struct qctx *q, const struct token *t);
void q_position(const char *text, size_t len, size_t pos, int *line, int *column);

/* ---- syntax tree (parser.c) ---- */

enum expr_kind { E_LIT, E_COL, E_MEMBER, E_INDEX, E_CALL, E_BIN, E_NEG, E_IN, E_BETWEEN, E_STAR, E_HASANY };

enum binop {
	OP_OR, OP_AND,
	OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_EQI, OP_NEI,
	OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MOD,
	OP_STROP, /* string operators: e->strop says which */
	OP_MATCHES,
};

/* String operators: kind, case-sensitivity, negation. */
enum strop { SO_CONTAINS, SO_HAS, SO_STARTS, SO_ENDS, SO_HASPREFIX, SO_HASSUFFIX };

struct qfunc;
struct qagg;

struct expr {
	uint8_t kind;    /* enum expr_kind */
	uint8_t op;      /* enum binop */
	uint8_t type;    /* inferred by bind: enum query_type (QT_NULL: unknown/any) */
	uint8_t strop, cs, neg; /* OP_STROP, E_IN (cs: case-sensitive), negation; E_HASANY: neg = has_all */
	size_t pos;
	const char *name;       /* E_COL, E_MEMBER, E_CALL */
	struct expr *a, *b, *c; /* operands; E_BETWEEN: a between (b .. c) */
	struct expr **args;     /* E_CALL, E_IN */
	int nargs;
	struct qval lit;        /* E_LIT */
	int col;                /* E_COL after bind: the column's index */
	const struct qfunc *fn;
	const struct qagg *agg;
	pcre2_code *re;         /* a constant regex, compiled once */
	int bound;
};

enum op_kind {
	O_WHERE, O_EXTEND, O_PROJECT, O_PROJECT_AWAY, O_PROJECT_RENAME, O_SUMMARIZE, O_JOIN,
	O_UNION, O_PARSE, O_MVEXPAND, O_SORT, O_TOP, O_TAKE, O_DISTINCT, O_COUNT,
};

enum join_kind {
	J_INNERUNIQUE, J_INNER, J_LEFTOUTER, J_RIGHTOUTER, J_FULLOUTER, J_LEFTANTI, J_RIGHTANTI,
	J_LEFTSEMI, J_RIGHTSEMI,
};

/* name = e; name is NULL when the query gave none. */
struct assign {
	const char *name;
	struct expr *e;
	size_t pos;
	int type; /* mv-expand: to typeof(T), or -1 */
};

struct sortkey {
	struct expr *e;
	int desc, nulls_first;
};

struct joinkey {
	const char *left, *right;
	size_t pos;
};

enum parse_part { PP_LITERAL, PP_STAR, PP_COLUMN };

struct pattern_part {
	int kind;
	const char *s; /* PP_LITERAL: text; PP_COLUMN: name */
	size_t n;
	int type;      /* PP_COLUMN */
	size_t pos;
};

struct tab;

struct op {
	int kind;
	size_t pos;
	struct op *next;
	struct expr *e;        /* where: predicate; take/top: count; parse: source */
	struct assign *items;  /* extend, project, project-away/rename, summarize, distinct, mv-expand */
	int nitems;
	struct assign *by;     /* summarize */
	int nby;
	struct sortkey *keys;  /* sort, top */
	int nkeys;
	struct tab **tabs;     /* join: tabs[0]; union */
	int ntabs;
	int join_kind, parse_kind, bag_kind, star;
	struct joinkey *on;
	int non;
	struct pattern_part *parts;
	int nparts;
	uint32_t re_flags;     /* parse kind=regex flags */
	const char *index_name; /* mv-expand with_itemindex */
	int64_t limit;         /* mv-expand limit */
};

/* A tabular expression: a source, then operators. */
struct tab {
	size_t pos;
	const char *source;   /* a table or a tabular let; NULL for a union or a subquery */
	struct tab *sub;      /* ( tabular ) */
	int print;            /* print x = ...: one row, no columns, then ops[0] (an extend) */
	struct assign *dt_cols; /* datatable(name:type, ...) [values]: name and type (in .type) */
	int dt_ncols;
	struct expr **dt_vals;
	int dt_nvals;
	struct op *ops;
};

struct qlet {
	struct qlet *next;
	const char *name;
	size_t pos;
	struct expr *scalar;   /* a scalar let */
	struct tab *tab;       /* a tabular let */
	struct rowset *cache;  /* the tabular let evaluated once */
};

/* Parses a whole query: let statements and one tabular expression. */
struct tab *parse_query(struct qctx *q);

/* ---- rows (eval.c) ---- */

struct rcol {
	const char *name;
	int type;
};

struct rowset {
	int ncols;
	struct rcol *cols;
	size_t n, cap;
	struct qval **rows;
};

struct tab;
struct rowset *eval_tab(struct qctx *q, struct tab *t);

/* ---- scalar expressions (scalar.c) ---- */

/* Resolves columns and functions of e against the columns of rs, infers types; fails the
 * query on an unknown name or a wrong call. aggs: whether aggregate calls are allowed. */
void bind_expr(struct qctx *q, struct expr *e, const struct rowset *rs, int aggs);
struct qval eval_expr(struct qctx *q, struct expr *e, struct qval *row);
/* 1 when v is bool true; null and false are 0. */
int qv_truthy(struct qval v);
int qv_isnull(struct qval v);
/* Unwraps a dynamic scalar (string, number, bool) to a plain value. */
struct qval qv_unwrap(struct qval v);
/* Equality as ==: -1 when null is involved (null == x), else 0/1. */
int qv_equal(struct qval a, struct qval b, int case_insensitive);
/* Ordering for sort and min/max: nulls first; values of different kinds by kind. */
int qv_compare(struct qval a, struct qval b);
uint64_t qv_hash(struct qval v);
/* Exact sameness for grouping and distinct (null groups with null). */
int qv_same(struct qval a, struct qval b);
struct qval qv_tostring(struct qctx *q, struct qval v);
struct qval qv_convert(struct qctx *q, struct qval v, int type);
json_t *qv_to_json(struct qctx *q, struct qval v); /* new reference */
/* The default column name of an expression (Kusto's rules), or NULL for ColumnN. */
const char *expr_default_name(struct qctx *q, const struct expr *e);
int parse_datetime(const char *s, size_t n, int64_t *ticks);
int parse_timespan(const char *s, size_t n, int64_t *ticks);
int format_datetime(int64_t ticks, char *out, size_t cap);
int format_timespan(int64_t ticks, char *out, size_t cap);
/* A finite real as Kusto writes it: integral values without exponent, else the shortest
 * text that reads back. */
int query_real_text(double r, char *out, size_t cap);

/* Aggregates (eval.c): name, arguments, and the name prefix of their default column. */
struct qagg {
	const char *name;
	int min, max;
	const char *prefix;
	int id;
};
const struct qagg *agg_lookup(const char *name);

#endif
