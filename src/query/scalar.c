/* scalar.c: scalar expressions: binding names and types against a row's columns, evaluation
 * over one row, Kusto's operators (comparison with its null rules, arithmetic over numbers,
 * datetimes and timespans, the string operators), conversions and the scalar functions.
 * Tabular operators and aggregates are in eval.c. */
#include "common/dd.h"
#include "query/queryInt.h"
#include <math.h>

/* ---- values ---- */

int qv_isnull(struct qval v) { return v.type == QT_NULL || (v.type == QT_DYNAMIC && (!v.u.j || json_is_null(v.u.j))); }

int qv_truthy(struct qval v)
{
	if (v.type == QT_DYNAMIC && json_is_boolean(v.u.j))
		return json_is_true(v.u.j);
	return v.type == QT_BOOL && v.u.i;
}

struct qval qv_unwrap(struct qval v)
{
	if (v.type != QT_DYNAMIC)
		return v;
	json_t *j = v.u.j;
	switch (json_typeof(j)) {
	case JSON_STRING: return qv_str(json_string_value(j), json_string_length(j));
	case JSON_INTEGER: return qv_long(json_integer_value(j));
	case JSON_REAL: return qv_real(json_real_value(j));
	case JSON_TRUE: return qv_bool(1);
	case JSON_FALSE: return qv_bool(0);
	case JSON_NULL: return qv_null();
	default: return v;
	}
}

static int is_intlike(int t) { return t == QT_INT || t == QT_LONG; }
static int is_number(int t) { return t == QT_INT || t == QT_LONG || t == QT_REAL; }
static double as_real(struct qval v) { return v.type == QT_REAL ? v.u.r : (double)v.u.i; }

static int ci_equal(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (tolower((unsigned char)a[i]) != tolower((unsigned char)b[i]))
			return 0;
	return 1;
}

/* A string held in a dynamic value, against a datetime or a timespan, is read as one (null when
 * it is not one), as Kusto compares properties.timeGenerated > ago(1h): d is the value that was
 * dynamic before unwrapping, other the typed one. */
static void time_of_dynamic(struct qval *d, int was_dynamic, struct qval other)
{
	int64_t t;
	if (!was_dynamic || d->type != QT_STRING || (other.type != QT_DATETIME && other.type != QT_TIMESPAN))
		return;
	if ((other.type == QT_DATETIME ? parse_datetime(d->u.s, d->len, &t) : parse_timespan(d->u.s, d->len, &t)))
		*d = qv_null();
	else
		*d = qv_ticks((enum query_type)other.type, t);
}

/* Both values unwrapped, with time_of_dynamic applied either way. */
static void unwrap_pair(struct qval *a, struct qval *b)
{
	int ad = a->type == QT_DYNAMIC, bd = b->type == QT_DYNAMIC;
	*a = qv_unwrap(*a);
	*b = qv_unwrap(*b);
	time_of_dynamic(a, ad, *b);
	time_of_dynamic(b, bd, *a);
}

int qv_equal(struct qval a, struct qval b, int ci)
{
	unwrap_pair(&a, &b);
	int an = qv_isnull(a), bn = qv_isnull(b);
	if (an || bn)
		return an && bn ? -1 : 0;
	if (is_number(a.type) && is_number(b.type)) {
		if (is_intlike(a.type) && is_intlike(b.type))
			return a.u.i == b.u.i;
		return as_real(a) == as_real(b);
	}
	if (a.type != b.type)
		return 0;
	switch (a.type) {
	case QT_STRING:
		return a.len == b.len && (ci ? ci_equal(a.u.s, b.u.s, a.len) : !memcmp(a.u.s, b.u.s, a.len));
	case QT_DYNAMIC:
		return json_equal(a.u.j, b.u.j);
	default:
		return a.u.i == b.u.i;
	}
}

static int type_rank(int t)
{
	switch (t) {
	case QT_NULL: return 0;
	case QT_BOOL: return 1;
	case QT_INT: case QT_LONG: case QT_REAL: return 2;
	case QT_DATETIME: return 3;
	case QT_TIMESPAN: return 4;
	case QT_STRING: return 5;
	default: return 6;
	}
}

static int cmp3(double a, double b) { return a < b ? -1 : a > b ? 1 : 0; }

int qv_compare(struct qval a, struct qval b)
{
	a = qv_unwrap(a);
	b = qv_unwrap(b);
	int ra = type_rank(a.type), rb = type_rank(b.type);
	if (ra != rb)
		return ra < rb ? -1 : 1;
	switch (ra) {
	case 0: return 0;
	case 2:
		if (is_intlike(a.type) && is_intlike(b.type))
			return a.u.i < b.u.i ? -1 : a.u.i > b.u.i;
		if (isnan(as_real(a)) || isnan(as_real(b)))
			return isnan(as_real(a)) - isnan(as_real(b));
		return cmp3(as_real(a), as_real(b));
	case 5: {
		size_t n = a.len < b.len ? a.len : b.len;
		int c = memcmp(a.u.s, b.u.s, n);
		return c ? (c < 0 ? -1 : 1) : a.len < b.len ? -1 : a.len > b.len;
	}
	case 6: {
		/* arrays and bags: by their JSON text, so the order is at least total */
		char *x = json_dumps(a.u.j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
		char *y = json_dumps(b.u.j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
		int c = x && y ? strcmp(x, y) : 0;
		free(x);
		free(y);
		return c < 0 ? -1 : c > 0;
	}
	default:
		return a.u.i < b.u.i ? -1 : a.u.i > b.u.i;
	}
}

static uint64_t mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

static uint64_t bytes_hash(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t json_hash(json_t *j, int depth)
{
	if (depth > DD_MAX_JSON_DEPTH)
		return 7;
	switch (json_typeof(j)) {
	case JSON_STRING: return bytes_hash(json_string_value(j), json_string_length(j));
	case JSON_INTEGER: return mix((uint64_t)json_integer_value(j));
	case JSON_REAL: return mix((uint64_t)(int64_t)json_real_value(j) ^ 0x55);
	case JSON_TRUE: return 1;
	case JSON_FALSE: return 2;
	case JSON_NULL: return 3;
	case JSON_ARRAY: {
		uint64_t h = 4;
		for (size_t i = 0; i < json_array_size(j); i++)
			h = mix(h * 31 + json_hash(json_array_get(j, i), depth + 1));
		return h;
	}
	case JSON_OBJECT: {
		uint64_t h = 5;
		const char *k;
		json_t *v;
		json_object_foreach(j, k, v) h += mix(bytes_hash(k, strlen(k)) ^ json_hash(v, depth + 1));
		return h;
	}
	}
	return 0;
}

uint64_t qv_hash(struct qval v)
{
	switch (v.type) {
	case QT_NULL: return 0x9e3779b97f4a7c15ULL;
	case QT_STRING: return bytes_hash(v.u.s, v.len);
	case QT_REAL: {
		double r = v.u.r == 0 ? 0 : v.u.r;
		uint64_t u;
		memcpy(&u, &r, sizeof(u));
		return mix(u ^ 0x1234);
	}
	case QT_DYNAMIC: return json_hash(v.u.j, 0);
	default: return mix((uint64_t)v.u.i + (uint64_t)v.type * 0x10001);
	}
}

int qv_same(struct qval a, struct qval b)
{
	if (a.type != b.type)
		return 0;
	switch (a.type) {
	case QT_NULL: return 1;
	case QT_STRING: return a.len == b.len && !memcmp(a.u.s, b.u.s, a.len);
	case QT_REAL: return a.u.r == b.u.r || (isnan(a.u.r) && isnan(b.u.r));
	case QT_DYNAMIC: return json_equal(a.u.j, b.u.j);
	default: return a.u.i == b.u.i;
	}
}

static struct qval str_copy(struct qctx *q, const char *s, size_t n)
{
	if (n > DD_MAX_QUERY_STRING_BYTES)
		q_fail(q, DD_E_TOO_LARGE, Q_HERE, "a string longer than %d bytes", DD_MAX_QUERY_STRING_BYTES);
	return qv_str(q_strndup(q, s, n), n);
}

static const struct qval empty_string = {.type = QT_STRING, .len = 0, .u.s = ""};

static struct qval real_string(struct qctx *q, double r)
{
	char tmp[64];
	if (isnan(r))
		return qv_str("NaN", 3);
	if (isinf(r))
		return r > 0 ? qv_str("Infinity", 8) : qv_str("-Infinity", 9);
	int n = query_real_text(r, tmp, sizeof(tmp));
	return str_copy(q, tmp, (size_t)n);
}

struct qval qv_tostring(struct qctx *q, struct qval v)
{
	char tmp[64];
	int n;
	switch (v.type) {
	case QT_NULL: return empty_string;
	case QT_STRING: return v;
	case QT_BOOL: return v.u.i ? qv_str("true", 4) : qv_str("false", 5);
	case QT_INT:
	case QT_LONG:
		n = snprintf(tmp, sizeof(tmp), "%" PRId64, v.u.i);
		return str_copy(q, tmp, (size_t)n);
	case QT_REAL: return real_string(q, v.u.r);
	case QT_DATETIME:
		n = format_datetime(v.u.i, tmp, sizeof(tmp));
		return str_copy(q, tmp, (size_t)n);
	case QT_TIMESPAN:
		n = format_timespan(v.u.i, tmp, sizeof(tmp));
		return str_copy(q, tmp, (size_t)n);
	case QT_DYNAMIC: {
		if (json_is_string(v.u.j))
			return qv_str(json_string_value(v.u.j), json_string_length(v.u.j));
		if (json_is_null(v.u.j))
			return empty_string;
		char *s = json_dumps(v.u.j, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!s)
			q_fail(q, DD_E_NOMEM, Q_HERE, "cannot write a dynamic value as text");
		size_t len = strlen(s);
		struct qval r = len > DD_MAX_QUERY_STRING_BYTES ? empty_string : str_copy(q, s, len);
		free(s);
		if (len > DD_MAX_QUERY_STRING_BYTES)
			q_fail(q, DD_E_TOO_LARGE, Q_HERE, "a string longer than %d bytes", DD_MAX_QUERY_STRING_BYTES);
		return r;
	}
	}
	return empty_string;
}

json_t *qv_to_json(struct qctx *q, struct qval v)
{
	switch (v.type) {
	case QT_NULL: return json_null();
	case QT_BOOL: return json_boolean(v.u.i);
	case QT_INT:
	case QT_LONG: return json_integer(v.u.i);
	case QT_REAL: return isfinite(v.u.r) ? json_real(v.u.r) : json_null();
	case QT_STRING: return json_stringn_nocheck(v.u.s, v.len);
	case QT_DYNAMIC: return json_incref(v.u.j);
	default: {
		struct qval s = qv_tostring(q, v);
		return json_stringn_nocheck(s.u.s, s.len);
	}
	}
}

static int parse_long(const char *s, size_t n, int64_t *out)
{
	while (n && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	if (!n || n > 32)
		return -1;
	char tmp[40];
	memcpy(tmp, s, n);
	tmp[n] = 0;
	char *end;
	errno = 0;
	long long v = strtoll(tmp, &end, 10);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

static int parse_real(const char *s, size_t n, double *out)
{
	while (n && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	if (!n || n > 64)
		return -1;
	char tmp[72];
	memcpy(tmp, s, n);
	tmp[n] = 0;
	if (!strcmp(tmp, "NaN")) {
		*out = NAN;
		return 0;
	}
	if (!strcmp(tmp, "Infinity") || !strcmp(tmp, "-Infinity")) {
		*out = tmp[0] == '-' ? -INFINITY : INFINITY;
		return 0;
	}
	for (size_t i = 0; i < n; i++) /* no hex, inf or nan spellings of strtod */
		if (!isdigit((unsigned char)tmp[i]) && !strchr("+-.eE", tmp[i]))
			return -1;
	char *end;
	double v = strtod(tmp, &end);
	if (*end || end == tmp)
		return -1;
	*out = v;
	return 0;
}

struct qval qv_convert(struct qctx *q, struct qval v, int type)
{
	if (type == QT_STRING)
		return qv_tostring(q, v);
	if (type == QT_DYNAMIC) {
		if (v.type == QT_DYNAMIC || v.type == QT_NULL)
			return v;
		return qv_dyn(q_own(q, qv_to_json(q, v)));
	}
	v = qv_unwrap(v);
	if (qv_isnull(v) || v.type == QT_DYNAMIC)
		return qv_null();
	int64_t i;
	double r;
	switch (type) {
	case QT_INT:
	case QT_LONG:
		switch (v.type) {
		case QT_BOOL: case QT_INT: case QT_LONG: case QT_DATETIME: case QT_TIMESPAN: i = v.u.i; break;
		case QT_REAL:
			if (!(v.u.r > -9.2233720368547758e18 && v.u.r < 9.2233720368547758e18))
				return qv_null();
			i = (int64_t)v.u.r;
			break;
		case QT_STRING:
			if (parse_long(v.u.s, v.len, &i)) {
				if (parse_real(v.u.s, v.len, &r) || !(r > -9.2e18 && r < 9.2e18))
					return qv_null();
				i = (int64_t)r;
			}
			break;
		default: return qv_null();
		}
		if (type == QT_INT) {
			if (i < INT32_MIN || i > INT32_MAX)
				return qv_null();
			return qv_int(i);
		}
		return qv_long(i);
	case QT_REAL:
		switch (v.type) {
		case QT_BOOL: case QT_INT: case QT_LONG: return qv_real((double)v.u.i);
		case QT_REAL: return v;
		case QT_STRING: return parse_real(v.u.s, v.len, &r) ? qv_null() : qv_real(r);
		case QT_TIMESPAN: return qv_real((double)v.u.i);
		default: return qv_null();
		}
	case QT_BOOL:
		switch (v.type) {
		case QT_BOOL: return v;
		case QT_INT: case QT_LONG: return qv_bool(v.u.i != 0);
		case QT_REAL: return qv_bool(v.u.r != 0);
		case QT_STRING:
			if ((v.len == 4 && ci_equal(v.u.s, "true", 4)) || (v.len == 1 && v.u.s[0] == '1'))
				return qv_bool(1);
			if ((v.len == 5 && ci_equal(v.u.s, "false", 5)) || (v.len == 1 && v.u.s[0] == '0'))
				return qv_bool(0);
			return qv_null();
		default: return qv_null();
		}
	case QT_DATETIME:
		if (v.type == QT_DATETIME)
			return v;
		if (v.type == QT_STRING && !parse_datetime(v.u.s, v.len, &i))
			return qv_ticks(QT_DATETIME, i);
		return qv_null();
	case QT_TIMESPAN:
		if (v.type == QT_TIMESPAN)
			return v;
		if (is_intlike(v.type))
			return qv_ticks(QT_TIMESPAN, v.u.i);
		if (v.type == QT_STRING) {
			if (!parse_timespan(v.u.s, v.len, &i))
				return qv_ticks(QT_TIMESPAN, i);
			if (!lex_timespan(v.u.s, v.len, &i))
				return qv_ticks(QT_TIMESPAN, i);
		}
		return qv_null();
	}
	return qv_null();
}

/* ---- names ---- */

const char *expr_default_name(struct qctx *q, const struct expr *e)
{
	switch (e->kind) {
	case E_COL:
		return e->name;
	case E_MEMBER: {
		const char *base = expr_default_name(q, e->a);
		return base ? arena_printf(q->arena, "%s_%s", base, e->name) : NULL;
	}
	case E_INDEX: {
		const char *base = expr_default_name(q, e->a);
		if (!base)
			return NULL;
		if (e->b->kind == E_LIT && e->b->lit.type == QT_STRING)
			return arena_printf(q->arena, "%s_%s", base, e->b->lit.u.s);
		if (e->b->kind == E_LIT && e->b->lit.type == QT_LONG)
			return arena_printf(q->arena, "%s_%" PRId64, base, e->b->lit.u.i);
		return NULL;
	}
	case E_CALL:
		/* bin(x, 1h) and the conversions keep the name of what they take */
		if (e->nargs >= 1 && (!strcmp(e->name, "bin") || !strcmp(e->name, "floor") ||
				      !strncmp(e->name, "to", 2) || !strcmp(e->name, "parse_json")))
			return expr_default_name(q, e->args[0]);
		return NULL;
	default:
		return NULL;
	}
}

/* ---- functions ---- */

typedef struct qval (*qfunc_fn)(struct qctx *q, struct expr *e, struct qval *a);

enum { R_FIXED, R_ARG0, R_ARG1, R_IIF, R_CASE, R_COALESCE };

struct qfunc {
	const char *name;
	int min, max;
	int rule, type;
	qfunc_fn fn;
};

static struct qval arg_string(struct qctx *q, struct qval v) { return qv_tostring(q, qv_unwrap(v)); }

static struct qval f_tostring(struct qctx *q, struct expr *e, struct qval *a) { (void)e; return qv_tostring(q, a[0]); }
static struct qval f_toint(struct qctx *q, struct expr *e, struct qval *a) { (void)e; return qv_convert(q, a[0], QT_INT); }
static struct qval f_tolong(struct qctx *q, struct expr *e, struct qval *a) { (void)e; return qv_convert(q, a[0], QT_LONG); }
static struct qval f_toreal(struct qctx *q, struct expr *e, struct qval *a) { (void)e; return qv_convert(q, a[0], QT_REAL); }
static struct qval f_tobool(struct qctx *q, struct expr *e, struct qval *a) { (void)e; return qv_convert(q, a[0], QT_BOOL); }
static struct qval f_todatetime(struct qctx *q, struct expr *e, struct qval *a) { (void)e; return qv_convert(q, a[0], QT_DATETIME); }
static struct qval f_totimespan(struct qctx *q, struct expr *e, struct qval *a) { (void)e; return qv_convert(q, a[0], QT_TIMESPAN); }

static struct qval f_parse_json(struct qctx *q, struct expr *e, struct qval *a)
{
	(void)e;
	if (a[0].type == QT_DYNAMIC || a[0].type == QT_NULL)
		return a[0];
	if (a[0].type != QT_STRING)
		return qv_convert(q, a[0], QT_DYNAMIC);
	if (a[0].len > DD_MAX_QUERY_STRING_BYTES)
		q_fail(q, DD_E_TOO_LARGE, e->pos, "parse_json of more than %d bytes", DD_MAX_QUERY_STRING_BYTES);
	json_t *j = json_loadb(a[0].u.s, a[0].len, JSON_DECODE_ANY, NULL);
	if (!j)
		return qv_null();
	q->bytes += 4 * (size_t)a[0].len; /* jansson's memory, roughly */
	q_alloc(q, 0);
	return qv_dyn(q_own(q, j));
}

static struct qval f_strcat(struct qctx *q, struct expr *e, struct qval *a)
{
	size_t total = 0;
	struct qval s[Q_MAX_ARGS];
	for (int i = 0; i < e->nargs; i++) {
		s[i] = arg_string(q, a[i]);
		total += s[i].len;
	}
	if (total > DD_MAX_QUERY_STRING_BYTES)
		q_fail(q, DD_E_TOO_LARGE, e->pos, "a string longer than %d bytes", DD_MAX_QUERY_STRING_BYTES);
	char *out = q_alloc_uninit(q, total + 1);
	size_t o = 0;
	for (int i = 0; i < e->nargs; i++) {
		memcpy(out + o, s[i].u.s, s[i].len);
		o += s[i].len;
	}
	out[o] = 0;
	return qv_str(out, o);
}

static struct qval f_strlen(struct qctx *q, struct expr *e, struct qval *a)
{
	(void)e;
	struct qval s = arg_string(q, a[0]);
	/* Kusto counts Unicode characters */
	int64_t n = 0;
	for (size_t i = 0; i < s.len; i++)
		n += ((unsigned char)s.u.s[i] & 0xC0) != 0x80;
	return qv_long(n);
}

static struct qval f_case_conv(struct qctx *q, struct expr *e, struct qval *a)
{
	struct qval s = arg_string(q, a[0]);
	char *out = q_alloc_uninit(q, s.len + 1);
	int upper = e->name[2] == 'u';
	for (size_t i = 0; i < s.len; i++)
		out[i] = (char)(upper ? toupper((unsigned char)s.u.s[i]) : tolower((unsigned char)s.u.s[i]));
	out[s.len] = 0;
	return qv_str(out, s.len);
}

static const char *memmem_ci(const char *h, size_t hn, const char *n, size_t nn)
{
	if (nn == 0)
		return h;
	for (size_t i = 0; i + nn <= hn; i++)
		if (ci_equal(h + i, n, nn))
			return h + i;
	return NULL;
}

static struct qval f_split(struct qctx *q, struct expr *e, struct qval *a)
{
	struct qval s = arg_string(q, a[0]), d = arg_string(q, a[1]);
	json_t *arr = q_own(q, json_array());
	size_t pos = 0;
	for (;;) {
		const char *hit = d.len ? memmem(s.u.s + pos, s.len - pos, d.u.s, d.len) : NULL;
		size_t end = hit ? (size_t)(hit - s.u.s) : s.len;
		json_array_append_new(arr, json_stringn_nocheck(s.u.s + pos, end - pos));
		q_alloc(q, 64);
		if (!hit)
			break;
		pos = end + d.len;
	}
	if (e->nargs == 3) {
		struct qval ix = qv_convert(q, a[2], QT_LONG);
		if (qv_isnull(ix))
			return qv_null();
		json_t *one = q_own(q, json_array());
		if (ix.u.i >= 0 && (size_t)ix.u.i < json_array_size(arr))
			json_array_append(one, json_array_get(arr, (size_t)ix.u.i));
		return qv_dyn(one);
	}
	return qv_dyn(arr);
}

static void drop_regex(struct qctx *q, pcre2_code *re)
{
	pcre2_code_free(re);
	q->tmp_re = NULL;
}

static pcre2_code *regex_of(struct qctx *q, struct expr *e, struct qval re, int *temporary)
{
	*temporary = 0;
	if (e->re)
		return e->re;
	struct qval s = arg_string(q, re);
	int errcode;
	PCRE2_SIZE off;
	pcre2_code *c = pcre2_compile((PCRE2_SPTR)s.u.s, s.len, PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &errcode, &off, NULL);
	if (!c) {
		PCRE2_UCHAR msg[120];
		pcre2_get_error_message(errcode, msg, sizeof(msg));
		q_fail(q, DD_E_USAGE, e->pos, "invalid regex: %s", (char *)msg);
	}
	*temporary = 1;
	q->tmp_re = c; /* freed by the caller, or by query_run if the match fails the query */
	return c;
}

static int regex_match(struct qctx *q, pcre2_code *re, struct qval s, size_t start)
{
	int rc = pcre2_match(re, (PCRE2_SPTR)s.u.s, s.len, start, 0, q->md, q->mctx);
	if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT || rc == PCRE2_ERROR_HEAPLIMIT)
		q_fail(q, DD_E_TOO_LARGE, Q_HERE, "a regex needed more than its match limit");
	return rc;
}

static struct qval f_extract(struct qctx *q, struct expr *e, struct qval *a)
{
	int tmp;
	pcre2_code *re = regex_of(q, e, a[0], &tmp);
	struct qval g = qv_convert(q, a[1], QT_LONG);
	struct qval s = arg_string(q, a[2]);
	struct qval r = e->type == QT_STRING ? empty_string : qv_null();
	int rc = regex_match(q, re, s, 0);
	if (rc > 0 && !qv_isnull(g) && g.u.i >= 0 && g.u.i < rc) {
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(q->md);
		size_t b = ov[2 * g.u.i], en = ov[2 * g.u.i + 1];
		if (b != PCRE2_UNSET && en >= b) {
			r = str_copy(q, s.u.s + b, en - b);
			if (e->type != QT_STRING)
				r = qv_convert(q, r, e->type);
		}
	}
	if (tmp)
		drop_regex(q, re);
	return r;
}

static struct qval f_indexof(struct qctx *q, struct expr *e, struct qval *a)
{
	struct qval s = arg_string(q, a[0]), l = arg_string(q, a[1]);
	int64_t start = 0, length = -1, occurrence = 1;
	if (e->nargs > 2) {
		struct qval v = qv_convert(q, a[2], QT_LONG);
		if (qv_isnull(v))
			return qv_null();
		start = v.u.i;
	}
	if (e->nargs > 3) {
		struct qval v = qv_convert(q, a[3], QT_LONG);
		if (qv_isnull(v))
			return qv_null();
		length = v.u.i;
	}
	if (e->nargs > 4) {
		struct qval v = qv_convert(q, a[4], QT_LONG);
		if (qv_isnull(v) || v.u.i < 1)
			return qv_null();
		occurrence = v.u.i;
	}
	if (start < 0)
		start += (int64_t)s.len;
	if (start < 0 || start > (int64_t)s.len || length < -1)
		return qv_long(-1);
	size_t end = length < 0 || length > (int64_t)s.len - start ? s.len : (size_t)(start + length);
	size_t pos = (size_t)start;
	for (;;) {
		const char *hit = memmem(s.u.s + pos, end - pos, l.u.s, l.len);
		if (!hit || l.len > end - pos)
			return qv_long(-1);
		if (--occurrence == 0)
			return qv_long(hit - s.u.s);
		pos = (size_t)(hit - s.u.s) + 1;
		if (pos > end)
			return qv_long(-1);
	}
}

static struct qval f_substring(struct qctx *q, struct expr *e, struct qval *a)
{
	struct qval s = arg_string(q, a[0]);
	struct qval st = qv_convert(q, a[1], QT_LONG);
	if (qv_isnull(st))
		return empty_string;
	int64_t start = st.u.i, len = (int64_t)s.len;
	if (e->nargs > 2) {
		struct qval l = qv_convert(q, a[2], QT_LONG);
		if (qv_isnull(l))
			return empty_string;
		len = l.u.i;
	}
	if (start < 0)
		start = 0;
	if (start >= (int64_t)s.len || len <= 0)
		return empty_string;
	if (len > (int64_t)s.len - start)
		len = (int64_t)s.len - start;
	return qv_str(q_strndup(q, s.u.s + start, (size_t)len), (size_t)len);
}

static struct qval f_trim(struct qctx *q, struct expr *e, struct qval *a)
{
	int tmp;
	pcre2_code *re = regex_of(q, e, a[0], &tmp);
	struct qval s = arg_string(q, a[1]);
	size_t b = 0, en = s.len;
	int which = !strcmp(e->name, "trim") ? 3 : !strcmp(e->name, "trim_start") ? 1 : 2;
	if (which & 1) {
		/* the regex matched repeatedly at the start */
		while (b < en) {
			int rc = pcre2_match(re, (PCRE2_SPTR)s.u.s, en, b, PCRE2_ANCHORED, q->md, q->mctx);
			if (rc <= 0)
				break;
			PCRE2_SIZE *ov = pcre2_get_ovector_pointer(q->md);
			if (ov[1] <= b)
				break;
			b = ov[1];
		}
	}
	if (which & 2) {
		/* the shortest suffix start from which the regex matches up to the end, repeatedly */
		for (;;) {
			size_t found = en;
			for (size_t i = b; i < en; i++) {
				int rc = pcre2_match(re, (PCRE2_SPTR)s.u.s, en, i, PCRE2_ANCHORED | PCRE2_ENDANCHORED, q->md, q->mctx);
				if (rc > 0) {
					found = i;
					break;
				}
			}
			if (found == en)
				break;
			en = found;
		}
	}
	if (tmp)
		drop_regex(q, re);
	return qv_str(q_strndup(q, s.u.s + b, en - b), en - b);
}

static struct qval f_replace_string(struct qctx *q, struct expr *e, struct qval *a)
{
	(void)e;
	struct qval s = arg_string(q, a[0]), l = arg_string(q, a[1]), r = arg_string(q, a[2]);
	if (!l.len)
		return s;
	struct buf b;
	buf_init(&b, DD_MAX_QUERY_STRING_BYTES);
	size_t pos = 0;
	int rc = 0;
	for (;;) {
		const char *hit = memmem(s.u.s + pos, s.len - pos, l.u.s, l.len);
		size_t end = hit ? (size_t)(hit - s.u.s) : s.len;
		rc = rc ? rc : buf_append(&b, s.u.s + pos, end - pos);
		if (!hit)
			break;
		rc = rc ? rc : buf_append(&b, r.u.s, r.len);
		pos = end + l.len;
	}
	struct qval out = rc ? empty_string : str_copy(q, b.data ? b.data : "", b.len);
	buf_release(&b);
	if (rc)
		q_fail(q, DD_E_TOO_LARGE, e->pos, "a string longer than %d bytes", DD_MAX_QUERY_STRING_BYTES);
	return out;
}

static struct qval f_pack(struct qctx *q, struct expr *e, struct qval *a)
{
	if (e->nargs % 2)
		q_fail(q, DD_E_USAGE, e->pos, "%s() takes pairs of keys and values", e->name);
	json_t *o = q_own(q, json_object());
	for (int i = 0; i < e->nargs; i += 2) {
		struct qval k = arg_string(q, a[i]);
		json_object_setn_new_nocheck(o, k.u.s, k.len, qv_to_json(q, a[i + 1]));
		q_alloc(q, 64);
	}
	return qv_dyn(o);
}

static struct qval f_pack_array(struct qctx *q, struct expr *e, struct qval *a)
{
	json_t *arr = q_own(q, json_array());
	for (int i = 0; i < e->nargs; i++)
		json_array_append_new(arr, qv_to_json(q, a[i]));
	return qv_dyn(arr);
}

static struct qval f_array_length(struct qctx *q, struct expr *e, struct qval *a)
{
	(void)q;
	(void)e;
	if (a[0].type == QT_DYNAMIC && json_is_array(a[0].u.j))
		return qv_long((int64_t)json_array_size(a[0].u.j));
	return qv_null();
}

/* strcat_array(array, delimiter): the elements as tostring gives them, joined; "" for a value
 * that is not an array. */
static struct qval f_strcat_array(struct qctx *q, struct expr *e, struct qval *a)
{
	struct qval d = arg_string(q, a[1]);
	if (a[0].type != QT_DYNAMIC || !json_is_array(a[0].u.j))
		return qv_str("", 0);
	size_t n = json_array_size(a[0].u.j), total = 0, o = 0;
	struct qval *v = q_alloc_uninit(q, sizeof(*v) * (n ? n : 1));
	for (size_t i = 0; i < n; i++) {
		v[i] = arg_string(q, qv_dyn(json_array_get(a[0].u.j, i)));
		total += v[i].len + (i ? d.len : 0);
		if (total > DD_MAX_QUERY_STRING_BYTES)
			q_fail(q, DD_E_TOO_LARGE, e->pos, "a string longer than %d bytes", DD_MAX_QUERY_STRING_BYTES);
	}
	char *out = q_alloc_uninit(q, total + 1);
	for (size_t i = 0; i < n; i++) {
		if (i) {
			memcpy(out + o, d.u.s, d.len);
			o += d.len;
		}
		memcpy(out + o, v[i].u.s, v[i].len);
		o += v[i].len;
	}
	out[o] = 0;
	return qv_str(out, o);
}

static struct qval f_iif(struct qctx *q, struct expr *e, struct qval *a)
{
	(void)q;
	(void)e;
	return qv_truthy(a[0]) ? a[1] : a[2];
}

static struct qval f_case(struct qctx *q, struct expr *e, struct qval *a)
{
	(void)q;
	for (int i = 0; i + 1 < e->nargs; i += 2)
		if (qv_truthy(a[i]))
			return a[i + 1];
	return a[e->nargs - 1];
}

static int is_empty(struct qval v)
{
	v = qv_unwrap(v);
	return qv_isnull(v) || (v.type == QT_STRING && v.len == 0);
}

static struct qval f_isnull(struct qctx *q, struct expr *e, struct qval *a) { (void)q; (void)e; return qv_bool(qv_isnull(a[0])); }
static struct qval f_isnotnull(struct qctx *q, struct expr *e, struct qval *a) { (void)q; (void)e; return qv_bool(!qv_isnull(a[0])); }
static struct qval f_isempty(struct qctx *q, struct expr *e, struct qval *a) { (void)q; (void)e; return qv_bool(is_empty(a[0])); }
static struct qval f_isnotempty(struct qctx *q, struct expr *e, struct qval *a) { (void)q; (void)e; return qv_bool(!is_empty(a[0])); }

static struct qval f_not(struct qctx *q, struct expr *e, struct qval *a)
{
	(void)q;
	(void)e;
	struct qval v = qv_unwrap(a[0]);
	if (v.type != QT_BOOL)
		return qv_null();
	return qv_bool(!v.u.i);
}

static struct qval f_coalesce(struct qctx *q, struct expr *e, struct qval *a)
{
	(void)q;
	for (int i = 0; i < e->nargs; i++)
		if (!is_empty(a[i]))
			return a[i];
	return a[e->nargs - 1];
}

static struct qval f_now(struct qctx *q, struct expr *e, struct qval *a)
{
	int64_t off = 0;
	if (e->nargs) {
		struct qval v = qv_unwrap(a[0]);
		if (v.type != QT_TIMESPAN)
			return qv_null();
		off = v.u.i;
	}
	return qv_ticks(QT_DATETIME, (int64_t)((uint64_t)q->now + (uint64_t)off));
}

static struct qval f_ago(struct qctx *q, struct expr *e, struct qval *a)
{
	(void)e;
	struct qval v = qv_unwrap(a[0]);
	if (v.type != QT_TIMESPAN)
		return qv_null();
	return qv_ticks(QT_DATETIME, (int64_t)((uint64_t)q->now - (uint64_t)v.u.i));
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t d = a / b;
	if ((a % b != 0) && ((a < 0) != (b < 0)))
		d--;
	return d;
}

static struct qval f_bin(struct qctx *q, struct expr *e, struct qval *a)
{
	(void)q;
	(void)e;
	struct qval v = qv_unwrap(a[0]), s = qv_unwrap(a[1]);
	if (qv_isnull(v) || qv_isnull(s))
		return qv_null();
	if ((v.type == QT_DATETIME || v.type == QT_TIMESPAN) && (s.type == QT_TIMESPAN || is_intlike(s.type))) {
		if (s.u.i <= 0)
			return qv_null();
		return qv_ticks(v.type, (int64_t)((uint64_t)floor_div(v.u.i, s.u.i) * (uint64_t)s.u.i));
	}
	if (is_intlike(v.type) && is_intlike(s.type)) {
		if (s.u.i <= 0)
			return qv_null();
		struct qval r = v;
		r.u.i = (int64_t)((uint64_t)floor_div(v.u.i, s.u.i) * (uint64_t)s.u.i);
		return r;
	}
	if (is_number(v.type) && is_number(s.type)) {
		double step = as_real(s);
		if (!(step > 0))
			return qv_null();
		return qv_real(floor(as_real(v) / step) * step);
	}
	return qv_null();
}

static struct qval f_abs(struct qctx *q, struct expr *e, struct qval *a)
{
	(void)q;
	(void)e;
	struct qval v = qv_unwrap(a[0]);
	if (is_intlike(v.type) || v.type == QT_TIMESPAN) {
		if (v.u.i < 0)
			v.u.i = (int64_t)(0 - (uint64_t)v.u.i);
		return v;
	}
	if (v.type == QT_REAL)
		return qv_real(fabs(v.u.r));
	return qv_null();
}

static struct qval f_round(struct qctx *q, struct expr *e, struct qval *a)
{
	struct qval v = qv_unwrap(a[0]);
	int64_t digits = 0;
	if (e->nargs > 1) {
		struct qval d = qv_convert(q, a[1], QT_LONG);
		if (qv_isnull(d))
			return qv_null();
		digits = d.u.i < -15 ? -15 : d.u.i > 15 ? 15 : d.u.i;
	}
	if (is_intlike(v.type) && digits >= 0)
		return v;
	if (!is_number(v.type))
		return qv_null();
	double m = pow(10, (double)digits);
	return qv_real(round(as_real(v) * m) / m);
}

static const struct qfunc funcs[] = {
	{"tostring", 1, 1, R_FIXED, QT_STRING, f_tostring},
	{"toint", 1, 1, R_FIXED, QT_INT, f_toint},
	{"tolong", 1, 1, R_FIXED, QT_LONG, f_tolong},
	{"toint64", 1, 1, R_FIXED, QT_LONG, f_tolong},
	{"todouble", 1, 1, R_FIXED, QT_REAL, f_toreal},
	{"toreal", 1, 1, R_FIXED, QT_REAL, f_toreal},
	{"todecimal", 1, 1, R_FIXED, QT_REAL, f_toreal},
	{"tobool", 1, 1, R_FIXED, QT_BOOL, f_tobool},
	{"toboolean", 1, 1, R_FIXED, QT_BOOL, f_tobool},
	{"todatetime", 1, 1, R_FIXED, QT_DATETIME, f_todatetime},
	{"totimespan", 1, 1, R_FIXED, QT_TIMESPAN, f_totimespan},
	{"totime", 1, 1, R_FIXED, QT_TIMESPAN, f_totimespan},
	{"parse_json", 1, 1, R_FIXED, QT_DYNAMIC, f_parse_json},
	{"todynamic", 1, 1, R_FIXED, QT_DYNAMIC, f_parse_json},
	{"toobject", 1, 1, R_FIXED, QT_DYNAMIC, f_parse_json},
	{"strcat", 1, Q_MAX_ARGS, R_FIXED, QT_STRING, f_strcat},
	{"split", 2, 3, R_FIXED, QT_DYNAMIC, f_split},
	{"extract", 3, 4, R_FIXED, QT_STRING, f_extract},
	{"indexof", 2, 5, R_FIXED, QT_LONG, f_indexof},
	{"substring", 2, 3, R_FIXED, QT_STRING, f_substring},
	{"strlen", 1, 1, R_FIXED, QT_LONG, f_strlen},
	{"tolower", 1, 1, R_FIXED, QT_STRING, f_case_conv},
	{"toupper", 1, 1, R_FIXED, QT_STRING, f_case_conv},
	{"trim", 2, 2, R_FIXED, QT_STRING, f_trim},
	{"trim_start", 2, 2, R_FIXED, QT_STRING, f_trim},
	{"trim_end", 2, 2, R_FIXED, QT_STRING, f_trim},
	{"replace_string", 3, 3, R_FIXED, QT_STRING, f_replace_string},
	{"pack", 0, Q_MAX_ARGS, R_FIXED, QT_DYNAMIC, f_pack},
	{"bag_pack", 0, Q_MAX_ARGS, R_FIXED, QT_DYNAMIC, f_pack},
	{"pack_array", 0, Q_MAX_ARGS, R_FIXED, QT_DYNAMIC, f_pack_array},
	{"array_length", 1, 1, R_FIXED, QT_LONG, f_array_length},
	{"strcat_array", 2, 2, R_FIXED, QT_STRING, f_strcat_array},
	{"iif", 3, 3, R_IIF, 0, f_iif},
	{"iff", 3, 3, R_IIF, 0, f_iif},
	{"case", 3, Q_MAX_ARGS - 1, R_CASE, 0, f_case},
	{"isnull", 1, 1, R_FIXED, QT_BOOL, f_isnull},
	{"isnotnull", 1, 1, R_FIXED, QT_BOOL, f_isnotnull},
	{"isempty", 1, 1, R_FIXED, QT_BOOL, f_isempty},
	{"isnotempty", 1, 1, R_FIXED, QT_BOOL, f_isnotempty},
	{"not", 1, 1, R_FIXED, QT_BOOL, f_not},
	{"coalesce", 1, Q_MAX_ARGS, R_COALESCE, 0, f_coalesce},
	{"now", 0, 1, R_FIXED, QT_DATETIME, f_now},
	{"ago", 1, 1, R_FIXED, QT_DATETIME, f_ago},
	{"bin", 2, 2, R_ARG0, 0, f_bin},
	{"floor", 2, 2, R_ARG0, 0, f_bin},
	{"abs", 1, 1, R_ARG0, 0, f_abs},
	{"round", 1, 2, R_FIXED, QT_REAL, f_round},
};

/* ---- binding ---- */

static int arith_type(int op, int a, int b)
{
	if (a == QT_NULL || b == QT_NULL || a == QT_DYNAMIC || b == QT_DYNAMIC)
		return QT_NULL; /* known at run time only */
	if (is_number(a) && is_number(b)) {
		if (a == QT_REAL || b == QT_REAL)
			return QT_REAL;
		return a == QT_INT && b == QT_INT ? QT_INT : QT_LONG;
	}
	if (op == OP_ADD || op == OP_SUB) {
		if (a == QT_DATETIME && b == QT_TIMESPAN)
			return QT_DATETIME;
		if (op == OP_ADD && a == QT_TIMESPAN && b == QT_DATETIME)
			return QT_DATETIME;
		if (a == QT_TIMESPAN && b == QT_TIMESPAN)
			return QT_TIMESPAN;
		if (op == OP_SUB && a == QT_DATETIME && b == QT_DATETIME)
			return QT_TIMESPAN;
	}
	if (op == OP_MUL && ((a == QT_TIMESPAN && is_number(b)) || (is_number(a) && b == QT_TIMESPAN)))
		return QT_TIMESPAN;
	if (op == OP_DIV && a == QT_TIMESPAN && is_number(b))
		return QT_TIMESPAN;
	if (op == OP_DIV && a == QT_TIMESPAN && b == QT_TIMESPAN)
		return QT_REAL;
	if (op == OP_MOD && a == QT_TIMESPAN && b == QT_TIMESPAN)
		return QT_TIMESPAN;
	return -1;
}

static const char *const op_names[] = {
	[OP_OR] = "or", [OP_AND] = "and", [OP_EQ] = "==", [OP_NE] = "!=", [OP_LT] = "<",
	[OP_LE] = "<=", [OP_GT] = ">", [OP_GE] = ">=", [OP_EQI] = "=~", [OP_NEI] = "!~",
	[OP_ADD] = "+", [OP_SUB] = "-", [OP_MUL] = "*", [OP_DIV] = "/", [OP_MOD] = "%",
	[OP_STROP] = "string operator", [OP_MATCHES] = "matches regex",
};

/* Kusto refuses to compare a string with a number at compile time; so do we, when both
 * types are known. */
static int comparable(int a, int b)
{
	if (a == QT_NULL || b == QT_NULL || a == QT_DYNAMIC || b == QT_DYNAMIC || a == b)
		return 1;
	if (is_number(a) && is_number(b))
		return 1;
	return 0;
}

static struct qlet *find_let(struct qctx *q, const char *name)
{
	for (struct qlet *l = q->lets; l; l = l->next)
		if (!strcmp(l->name, name))
			return l;
	return NULL;
}

static void compile_const_regex(struct qctx *q, struct expr *e, struct expr *pattern)
{
	if (pattern->kind == E_LIT && pattern->lit.type == QT_STRING)
		e->re = q_regex(q, pattern->lit.u.s, pattern->lit.len, 0, pattern->pos);
}

void bind_expr(struct qctx *q, struct expr *e, const struct rowset *rs, int aggs)
{
	(void)aggs;
	if (e->bound)
		return;
	e->bound = 1;
	if (++q->depth > q->lim.max_depth + 8)
		q_fail(q, DD_E_TOO_LARGE, e->pos, "query nesting deeper than %d", q->lim.max_depth);
	switch (e->kind) {
	case E_LIT:
		if (e->type == QT_NULL)
			e->type = e->lit.type;
		break;
	case E_STAR:
		q_fail(q, DD_E_USAGE, e->pos, "'*' is allowed only in arg_max, arg_min and count");
	case E_COL: {
		for (int i = 0; rs && i < rs->ncols; i++) {
			if (!strcmp(rs->cols[i].name, e->name)) {
				e->col = i;
				e->type = (uint8_t)rs->cols[i].type;
				goto done;
			}
		}
		struct qlet *l = find_let(q, e->name);
		if (l && l->scalar) {
			/* a scalar let is a constant: evaluate it once, in no row */
			int saved = q->depth;
			q->depth = 0;
			bind_expr(q, l->scalar, NULL, 0);
			struct qval v = eval_expr(q, l->scalar, NULL);
			q->depth = saved;
			e->kind = E_LIT;
			e->lit = v;
			e->type = l->scalar->type ? l->scalar->type : v.type;
			break;
		}
		if (l)
			q_fail(q, DD_E_USAGE, e->pos, "'%s' is a tabular expression, not a scalar", e->name);
		q_fail(q, DD_E_USAGE, e->pos, "unknown column or name '%s'", e->name);
	}
	case E_MEMBER:
	case E_INDEX:
		bind_expr(q, e->a, rs, 0);
		if (e->b)
			bind_expr(q, e->b, rs, 0);
		if (e->a->type != QT_DYNAMIC && e->a->type != QT_NULL)
			q_fail(q, DD_E_USAGE, e->pos, "%s applies to dynamic values, not %s",
			       e->kind == E_MEMBER ? "'.'" : "'[]'", query_type_name(e->a->type));
		e->type = QT_DYNAMIC;
		break;
	case E_NEG:
		bind_expr(q, e->a, rs, 0);
		e->type = e->a->type;
		break;
	case E_IN:
	case E_HASANY:
		bind_expr(q, e->a, rs, 0);
		for (int i = 0; i < e->nargs; i++)
			bind_expr(q, e->args[i], rs, 0);
		e->type = QT_BOOL;
		break;
	case E_BETWEEN:
		bind_expr(q, e->a, rs, 0);
		bind_expr(q, e->b, rs, 0);
		bind_expr(q, e->c, rs, 0);
		e->type = QT_BOOL;
		break;
	case E_BIN:
		bind_expr(q, e->a, rs, 0);
		bind_expr(q, e->b, rs, 0);
		switch (e->op) {
		case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV: case OP_MOD: {
			int t = arith_type(e->op, e->a->type, e->b->type);
			if (t < 0)
				q_fail(q, DD_E_USAGE, e->pos, "cannot apply '%s' to %s and %s", op_names[e->op],
				       query_type_name(e->a->type), query_type_name(e->b->type));
			e->type = (uint8_t)t;
			break;
		}
		case OP_EQ: case OP_NE: case OP_LT: case OP_LE: case OP_GT: case OP_GE:
			if (!comparable(e->a->type, e->b->type))
				q_fail(q, DD_E_USAGE, e->pos, "cannot compare %s with %s", query_type_name(e->a->type),
				       query_type_name(e->b->type));
			e->type = QT_BOOL;
			break;
		case OP_MATCHES:
			compile_const_regex(q, e, e->b);
			e->type = QT_BOOL;
			break;
		default:
			e->type = QT_BOOL;
		}
		break;
	case E_CALL: {
		const struct qfunc *f = NULL;
		for (size_t i = 0; i < DD_ARRAY_LEN(funcs); i++)
			if (!strcmp(funcs[i].name, e->name))
				f = &funcs[i];
		if (!f) {
			if (agg_lookup(e->name))
				q_fail(q, DD_E_USAGE, e->pos, "'%s' is an aggregate: it may only be used in summarize", e->name);
			q_fail(q, DD_E_USAGE, e->pos, "unknown function '%s'", e->name);
		}
		int nargs = e->nargs;
		if (!strcmp(f->name, "extract") && nargs == 4) {
			/* extract(re, n, s, typeof(T)) */
			struct expr *t = e->args[3];
			if (t->kind != E_CALL || strcmp(t->name, "typeof") || t->nargs != 1 || t->args[0]->kind != E_COL ||
			    query_type_parse(t->args[0]->name, strlen(t->args[0]->name)) < 0)
				q_fail(q, DD_E_USAGE, t->pos, "expected typeof(type) as the fourth argument of extract");
			nargs = 3;
			e->nargs = 3;
			e->type = (uint8_t)query_type_parse(t->args[0]->name, strlen(t->args[0]->name));
		}
		if (nargs < f->min || nargs > f->max)
			q_fail(q, DD_E_USAGE, e->pos, "%s() takes %d to %d arguments, not %d", f->name, f->min, f->max, nargs);
		if (!strcmp(f->name, "case") && nargs % 2 == 0)
			q_fail(q, DD_E_USAGE, e->pos, "case() takes pairs of predicate and value, then an else value");
		e->fn = f;
		for (int i = 0; i < nargs; i++)
			bind_expr(q, e->args[i], rs, 0);
		if (!strcmp(f->name, "extract"))
			compile_const_regex(q, e, e->args[0]);
		if (!strncmp(f->name, "trim", 4))
			compile_const_regex(q, e, e->args[0]);
		switch (f->rule) {
		case R_FIXED:
			if (!e->type)
				e->type = (uint8_t)f->type;
			break;
		case R_ARG0: e->type = e->args[0]->type; break;
		case R_IIF: e->type = e->args[1]->type ? e->args[1]->type : e->args[2]->type; break;
		case R_CASE:
		case R_COALESCE:
			for (int i = f->rule == R_CASE ? 1 : 0; i < nargs && !e->type; i += f->rule == R_CASE ? 2 : 1)
				e->type = e->args[i]->type;
			if (!e->type && f->rule == R_CASE)
				e->type = e->args[nargs - 1]->type;
			break;
		}
		break;
	}
	}
done:
	q->depth--;
}

/* ---- evaluation ---- */

static int has_boundary(const char *h, size_t hn, size_t at) { return at >= hn || !isalnum((unsigned char)h[at]); }

/* Kusto's terms: runs of ASCII letters and digits. A needle matches where it starts and ends
 * on a term boundary (unless it starts or ends with a non-alphanumeric itself). */
static int str_op(int op, int cs, struct qval h, struct qval n)
{
	const char *hs = h.u.s, *ns = n.u.s;
	size_t hn = h.len, nn = n.len;
	switch (op) {
	case SO_CONTAINS:
		return cs ? (nn == 0 || memmem(hs, hn, ns, nn) != NULL) : memmem_ci(hs, hn, ns, nn) != NULL;
	case SO_STARTS:
		return nn <= hn && (cs ? !memcmp(hs, ns, nn) : ci_equal(hs, ns, nn));
	case SO_ENDS:
		return nn <= hn && (cs ? !memcmp(hs + hn - nn, ns, nn) : ci_equal(hs + hn - nn, ns, nn));
	default: {
		if (nn == 0)
			return op != SO_HAS ? 1 : hn == 0 ? 0 : 1;
		int need_start = op != SO_HASSUFFIX && isalnum((unsigned char)ns[0]);
		int need_end = op != SO_HASPREFIX && isalnum((unsigned char)ns[nn - 1]);
		for (size_t i = 0; i + nn <= hn; i++) {
			if (!(cs ? !memcmp(hs + i, ns, nn) : ci_equal(hs + i, ns, nn)))
				continue;
			if (need_start && i > 0 && isalnum((unsigned char)hs[i - 1]))
				continue;
			if (need_end && !has_boundary(hs, hn, i + nn))
				continue;
			if (op == SO_HASSUFFIX && isalnum((unsigned char)ns[0]) == 0)
				return 1;
			return 1;
		}
		return 0;
	}
	}
}

static struct qval arith(struct qctx *q, struct expr *e, struct qval a, struct qval b)
{
	(void)q;
	a = qv_unwrap(a);
	b = qv_unwrap(b);
	if (a.type == QT_BOOL)
		a.type = QT_LONG;
	if (b.type == QT_BOOL)
		b.type = QT_LONG;
	if (qv_isnull(a) || qv_isnull(b))
		return qv_null();
	int t = arith_type(e->op, a.type, b.type);
	if (t < 0 || t == QT_NULL)
		return qv_null();
	uint64_t x = (uint64_t)a.u.i, y = (uint64_t)b.u.i;
	if (t == QT_REAL && (is_number(a.type) && is_number(b.type))) {
		double p = as_real(a), r = as_real(b);
		switch (e->op) {
		case OP_ADD: return qv_real(p + r);
		case OP_SUB: return qv_real(p - r);
		case OP_MUL: return qv_real(p * r);
		case OP_DIV: return qv_real(p / r);
		default: return qv_real(fmod(p, r));
		}
	}
	if (t == QT_REAL) /* timespan / timespan */
		return b.u.i ? qv_real((double)a.u.i / (double)b.u.i) : qv_null();
	if (t == QT_TIMESPAN && (e->op == OP_MUL || e->op == OP_DIV) && (is_number(a.type) || is_number(b.type))) {
		struct qval ts = a.type == QT_TIMESPAN ? a : b, n = a.type == QT_TIMESPAN ? b : a;
		double f = as_real(n), r;
		if (e->op == OP_DIV) {
			if (f == 0)
				return qv_null();
			r = (double)ts.u.i / f;
		} else
			r = (double)ts.u.i * f;
		if (!(r > -9.2e18 && r < 9.2e18))
			return qv_null();
		return qv_ticks(QT_TIMESPAN, (int64_t)r);
	}
	struct qval r = {.type = (uint8_t)t};
	switch (e->op) {
	case OP_ADD: r.u.i = (int64_t)(x + y); break;
	case OP_SUB: r.u.i = (int64_t)(x - y); break;
	case OP_MUL: r.u.i = (int64_t)(x * y); break;
	case OP_DIV:
	case OP_MOD:
		if (b.u.i == 0 || (a.u.i == INT64_MIN && b.u.i == -1))
			return qv_null();
		r.u.i = e->op == OP_DIV ? a.u.i / b.u.i : a.u.i % b.u.i;
		break;
	}
	return r;
}

static struct qval compare(int op, struct qval a, struct qval b)
{
	unwrap_pair(&a, &b);
	if (qv_isnull(a) || qv_isnull(b))
		return qv_null();
	int ra = type_rank(a.type), rb = type_rank(b.type);
	if (ra != rb || ra == 6)
		return qv_null();
	int c = qv_compare(a, b);
	switch (op) {
	case OP_LT: return qv_bool(c < 0);
	case OP_LE: return qv_bool(c <= 0);
	case OP_GT: return qv_bool(c > 0);
	default: return qv_bool(c >= 0);
	}
}

static struct qval eval_in(struct qctx *q, struct expr *e, struct qval *row)
{
	struct qval v = eval_expr(q, e->a, row);
	int found = 0;
	if (!qv_isnull(v)) {
		for (int i = 0; i < e->nargs && !found; i++) {
			struct qval x = eval_expr(q, e->args[i], row);
			if (x.type == QT_DYNAMIC && json_is_array(x.u.j)) {
				for (size_t k = 0; k < json_array_size(x.u.j) && !found; k++)
					found = qv_equal(v, qv_dyn(json_array_get(x.u.j, k)), !e->cs) == 1;
			} else
				found = qv_equal(v, x, !e->cs) == 1;
		}
	}
	return qv_bool(found != e->neg);
}

/* x has_any (terms) / has_all: each term as with has; a dynamic array gives its elements. */
static struct qval eval_hasany(struct qctx *q, struct expr *e, struct qval *row)
{
	struct qval h = arg_string(q, eval_expr(q, e->a, row));
	int all = e->neg, any = 0, every = 1;
	for (int i = 0; i < e->nargs; i++) {
		struct qval x = eval_expr(q, e->args[i], row);
		size_t n = x.type == QT_DYNAMIC && json_is_array(x.u.j) ? json_array_size(x.u.j) : 1;
		for (size_t k = 0; k < n; k++) {
			struct qval t = x.type == QT_DYNAMIC && json_is_array(x.u.j) ? qv_dyn(json_array_get(x.u.j, k)) : x;
			int hit = str_op(SO_HAS, 0, h, arg_string(q, t));
			any |= hit;
			every &= hit;
			if (all ? !every : any)
				return qv_bool(!all);
		}
	}
	return qv_bool(all ? every : any);
}

static struct qval eval_between(struct qctx *q, struct expr *e, struct qval *row)
{
	struct qval v = qv_unwrap(eval_expr(q, e->a, row));
	struct qval lo = qv_unwrap(eval_expr(q, e->b, row));
	struct qval hi = qv_unwrap(eval_expr(q, e->c, row));
	if (qv_isnull(v) || qv_isnull(lo) || qv_isnull(hi))
		return qv_null();
	if (v.type == QT_DATETIME && lo.type == QT_DATETIME && hi.type == QT_TIMESPAN)
		hi = qv_ticks(QT_DATETIME, (int64_t)((uint64_t)lo.u.i + (uint64_t)hi.u.i));
	struct qval ge = compare(OP_GE, v, lo), le = compare(OP_LE, v, hi);
	if (qv_isnull(ge) || qv_isnull(le))
		return qv_null();
	return qv_bool((ge.u.i && le.u.i) != e->neg);
}

/* split(s, d)[i], Resource Graph's way of taking a path apart, without building the array:
 * the same value as the array's element, a string, or null past the end. */
static struct qval split_index(struct qctx *q, struct expr *e, struct qval *row)
{
	struct qval i = qv_unwrap(eval_expr(q, e->b, row));
	struct qval s = arg_string(q, eval_expr(q, e->a->args[0], row));
	struct qval d = arg_string(q, eval_expr(q, e->a->args[1], row));
	if (!is_intlike(i.type))
		return qv_null();
	int64_t k = i.u.i;
	if (k < 0) { /* from the end: count the pieces first */
		int64_t pieces = 1;
		for (size_t pos = 0; d.len;) {
			const char *hit = memmem(s.u.s + pos, s.len - pos, d.u.s, d.len);
			if (!hit)
				break;
			pieces++;
			pos = (size_t)(hit - s.u.s) + d.len;
		}
		k += pieces;
		if (k < 0)
			return qv_null();
	}
	size_t pos = 0;
	for (;;) {
		const char *hit = d.len ? memmem(s.u.s + pos, s.len - pos, d.u.s, d.len) : NULL;
		size_t end = hit ? (size_t)(hit - s.u.s) : s.len;
		if (k-- == 0)
			return qv_str(q_strndup(q, s.u.s + pos, end - pos), end - pos);
		if (!hit)
			return qv_null();
		pos = end + d.len;
	}
}

struct qval eval_expr(struct qctx *q, struct expr *e, struct qval *row)
{
	switch (e->kind) {
	case E_LIT:
		return e->lit;
	case E_COL:
		return row ? row[e->col] : qv_null();
	case E_MEMBER: {
		struct qval b = eval_expr(q, e->a, row);
		if (b.type != QT_DYNAMIC || !json_is_object(b.u.j))
			return qv_null();
		return qv_dyn(json_object_get(b.u.j, e->name));
	}
	case E_INDEX: {
		if (e->a->kind == E_CALL && e->a->fn->fn == f_split && e->a->nargs == 2)
			return split_index(q, e, row);
		struct qval b = eval_expr(q, e->a, row);
		struct qval i = qv_unwrap(eval_expr(q, e->b, row));
		if (b.type != QT_DYNAMIC)
			return qv_null();
		if (json_is_array(b.u.j) && is_intlike(i.type)) {
			int64_t n = (int64_t)json_array_size(b.u.j), k = i.u.i < 0 ? i.u.i + n : i.u.i;
			return k >= 0 && k < n ? qv_dyn(json_array_get(b.u.j, (size_t)k)) : qv_null();
		}
		if (json_is_object(b.u.j) && i.type == QT_STRING)
			return qv_dyn(json_object_getn(b.u.j, i.u.s, i.len));
		return qv_null();
	}
	case E_NEG: {
		struct qval v = qv_unwrap(eval_expr(q, e->a, row));
		if (is_intlike(v.type) || v.type == QT_TIMESPAN)
			v.u.i = (int64_t)(0 - (uint64_t)v.u.i);
		else if (v.type == QT_REAL)
			v.u.r = -v.u.r;
		else
			return qv_null();
		return v;
	}
	case E_IN:
		return eval_in(q, e, row);
	case E_HASANY:
		return eval_hasany(q, e, row);
	case E_BETWEEN:
		return eval_between(q, e, row);
	case E_CALL: {
		struct qval a[Q_MAX_ARGS];
		for (int i = 0; i < e->nargs; i++)
			a[i] = eval_expr(q, e->args[i], row);
		return e->fn->fn(q, e, a);
	}
	case E_BIN:
		break;
	default:
		return qv_null();
	}
	if (e->op == OP_AND || e->op == OP_OR) {
		/* three-valued: null and false is false, null or true is true */
		struct qval a = qv_unwrap(eval_expr(q, e->a, row));
		int an = a.type != QT_BOOL;
		if (!an && a.u.i == (e->op == OP_OR))
			return qv_bool(e->op == OP_OR);
		struct qval b = qv_unwrap(eval_expr(q, e->b, row));
		int bn = b.type != QT_BOOL;
		if (!bn && b.u.i == (e->op == OP_OR))
			return qv_bool(e->op == OP_OR);
		if (an || bn)
			return qv_null();
		return qv_bool(e->op == OP_AND);
	}
	struct qval a = eval_expr(q, e->a, row), b = eval_expr(q, e->b, row);
	switch (e->op) {
	case OP_EQ:
	case OP_EQI: {
		int r = qv_equal(a, b, e->op == OP_EQI);
		return r < 0 ? qv_null() : qv_bool(r);
	}
	case OP_NE:
	case OP_NEI: {
		int r = qv_equal(a, b, e->op == OP_NEI);
		return r < 0 ? qv_null() : qv_bool(!r);
	}
	case OP_LT: case OP_LE: case OP_GT: case OP_GE:
		return compare(e->op, a, b);
	case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV: case OP_MOD:
		return arith(q, e, a, b);
	case OP_STROP:
		return qv_bool(str_op(e->strop, e->cs, arg_string(q, a), arg_string(q, b)) != e->neg);
	case OP_MATCHES: {
		int tmp;
		pcre2_code *re = regex_of(q, e, b, &tmp);
		struct qval s = arg_string(q, a);
		int rc = regex_match(q, re, s, 0);
		if (tmp)
			drop_regex(q, re);
		return qv_bool(rc > 0);
	}
	}
	return qv_null();
}
