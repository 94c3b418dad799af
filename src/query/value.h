/* value.h: the values a query computes with. A value is 16 bytes and holds no memory of its
 * own: strings and dynamic values are borrowed from the caller's tables or from the query's
 * arena, so copying a value is copying 16 bytes. Not the evaluator, not the functions. */
#ifndef DD_QUERY_VALUE_H
#define DD_QUERY_VALUE_H
#include <stdint.h>
#include <jansson.h>

/* Kusto's scalar types. QT_NULL is a null whose type is not known (a typed null such as
 * long(null) is QT_NULL too: the column it lands in carries the type). Kusto strings are
 * never null: a missing string is the empty string. */
enum query_type {
	QT_NULL,
	QT_BOOL,
	QT_INT,
	QT_LONG,
	QT_REAL,
	QT_STRING,
	QT_DATETIME, /* 100 ns ticks since 1970-01-01T00:00:00Z */
	QT_TIMESPAN, /* 100 ns ticks */
	QT_DYNAMIC,  /* a jansson value; json null is the null value */
};

struct qval {
	uint8_t type;  /* enum query_type */
	uint32_t len;  /* QT_STRING: bytes, without the NUL that always follows them */
	union {
		int64_t i; /* QT_BOOL (0/1), QT_INT, QT_LONG, QT_DATETIME, QT_TIMESPAN */
		double r;
		const char *s;
		json_t *j; /* borrowed */
	} u;
};

#define QT_TICKS_PER_SECOND 10000000LL
#define QT_TICKS_PER_DAY (86400LL * QT_TICKS_PER_SECOND)

/* Kusto's name of a type ("long", "string", ...); QT_NULL has none and is written "dynamic". */
const char *query_type_name(enum query_type t);
/* The type named by s (Kusto's names and aliases: "int", "double", "boolean", "date",
 * "time", ...), or -1. */
int query_type_parse(const char *s, size_t n);

static inline struct qval qv_null(void) { struct qval v = {0}; return v; }
static inline struct qval qv_long(int64_t i) { struct qval v = {.type = QT_LONG}; v.u.i = i; return v; }
static inline struct qval qv_int(int64_t i) { struct qval v = {.type = QT_INT}; v.u.i = i; return v; }
static inline struct qval qv_bool(int b) { struct qval v = {.type = QT_BOOL}; v.u.i = !!b; return v; }
static inline struct qval qv_real(double r) { struct qval v = {.type = QT_REAL}; v.u.r = r; return v; }
/* s must stay valid and be followed by a NUL at s[n]. */
static inline struct qval qv_str(const char *s, size_t n)
{
	struct qval v = {.type = QT_STRING, .len = (uint32_t)n};
	v.u.s = s;
	return v;
}
static inline struct qval qv_dyn(json_t *j)
{
	struct qval v = {.type = j && !json_is_null(j) ? QT_DYNAMIC : QT_NULL};
	v.u.j = j && !json_is_null(j) ? j : NULL;
	return v;
}
static inline struct qval qv_ticks(enum query_type t, int64_t ticks)
{
	struct qval v = {.type = (uint8_t)t};
	v.u.i = ticks;
	return v;
}

#endif
