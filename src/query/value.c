/* value.c: values as text: type names, datetimes and timespans read and written, and the
 * JSON of a result. Nothing here evaluates anything. */
#include "common/dd.h"
#include "query/queryInt.h"
#include <math.h>

static const char *const type_names[] = {
	[QT_NULL] = "dynamic", [QT_BOOL] = "bool", [QT_INT] = "int", [QT_LONG] = "long",
	[QT_REAL] = "real", [QT_STRING] = "string", [QT_DATETIME] = "datetime",
	[QT_TIMESPAN] = "timespan", [QT_DYNAMIC] = "dynamic",
};

const char *query_type_name(enum query_type t)
{
	return (unsigned)t < DD_ARRAY_LEN(type_names) ? type_names[t] : "dynamic";
}

int query_type_parse(const char *s, size_t n)
{
	static const struct {
		const char *name;
		int type;
	} names[] = {
		{"bool", QT_BOOL}, {"boolean", QT_BOOL}, {"int", QT_INT}, {"long", QT_LONG},
		{"real", QT_REAL}, {"double", QT_REAL}, {"decimal", QT_REAL}, {"string", QT_STRING},
		{"datetime", QT_DATETIME}, {"date", QT_DATETIME}, {"timespan", QT_TIMESPAN},
		{"time", QT_TIMESPAN}, {"dynamic", QT_DYNAMIC}, {"guid", QT_STRING},
	};
	for (size_t i = 0; i < DD_ARRAY_LEN(names); i++)
		if (strlen(names[i].name) == n && !memcmp(names[i].name, s, n))
			return names[i].type;
	return -1;
}

/* Days since 1970-01-01 of a proleptic Gregorian date, and back (H. Hinnant's algorithms). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int digits(const char *s, size_t n, size_t *p, int count, int *out)
{
	int v = 0;
	for (int i = 0; i < count; i++) {
		if (*p >= n || !isdigit((unsigned char)s[*p]))
			return -1;
		v = v * 10 + (s[(*p)++] - '0');
	}
	*out = v;
	return 0;
}

/* Fraction of a second after '.': up to 7 digits kept (ticks), more are ignored. */
static int64_t fraction(const char *s, size_t n, size_t *p)
{
	int64_t f = 0;
	int k = 0;
	while (*p < n && isdigit((unsigned char)s[*p])) {
		if (k < 7) {
			f = f * 10 + (s[*p] - '0');
			k++;
		}
		(*p)++;
	}
	for (; k < 7; k++)
		f *= 10;
	return f;
}

int parse_datetime(const char *s, size_t n, int64_t *ticks)
{
	size_t p = 0;
	int y, mo, d, h = 0, mi = 0, sec = 0;
	while (p < n && isspace((unsigned char)s[p]))
		p++;
	if (digits(s, n, &p, 4, &y) || p >= n || (s[p] != '-' && s[p] != '/'))
		return -1;
	char sep = s[p++];
	if (digits(s, n, &p, 2, &mo) || p >= n || s[p++] != sep || digits(s, n, &p, 2, &d))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > 31)
		return -1;
	int64_t frac = 0, offset = 0;
	if (p < n && (s[p] == 'T' || s[p] == ' ') && p + 1 < n && isdigit((unsigned char)s[p + 1])) {
		p++;
		if (digits(s, n, &p, 2, &h) || p >= n || s[p++] != ':' || digits(s, n, &p, 2, &mi))
			return -1;
		if (p < n && s[p] == ':') {
			p++;
			if (digits(s, n, &p, 2, &sec))
				return -1;
			if (p < n && s[p] == '.') {
				p++;
				frac = fraction(s, n, &p);
			}
		}
		if (h > 23 || mi > 59 || sec > 60)
			return -1;
		if (p < n && (s[p] == 'Z' || s[p] == 'z'))
			p++;
		else if (p < n && (s[p] == '+' || s[p] == '-')) {
			int sign = s[p++] == '-' ? -1 : 1, oh, om = 0;
			if (digits(s, n, &p, 2, &oh))
				return -1;
			if (p < n && s[p] == ':')
				p++;
			if (p < n && digits(s, n, &p, 2, &om))
				return -1;
			offset = sign * ((int64_t)oh * 3600 + om * 60) * QT_TICKS_PER_SECOND;
		}
	}
	while (p < n && isspace((unsigned char)s[p]))
		p++;
	if (p != n)
		return -1;
	int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
	*ticks = days * QT_TICKS_PER_DAY + ((int64_t)h * 3600 + mi * 60 + sec) * QT_TICKS_PER_SECOND + frac - offset;
	return 0;
}

int format_datetime(int64_t ticks, char *out, size_t cap)
{
	int64_t days = ticks / QT_TICKS_PER_DAY, rem = ticks % QT_TICKS_PER_DAY;
	if (rem < 0) {
		rem += QT_TICKS_PER_DAY;
		days--;
	}
	int64_t y;
	unsigned m, d;
	civil_from_days(days, &y, &m, &d);
	int64_t secs = rem / QT_TICKS_PER_SECOND, frac = rem % QT_TICKS_PER_SECOND;
	int n = snprintf(out, cap, "%04" PRId64 "-%02u-%02uT%02d:%02d:%02d", y, m, d, (int)(secs / 3600),
			 (int)(secs / 60 % 60), (int)(secs % 60));
	if (frac && n > 0 && (size_t)n < cap)
		n += snprintf(out + n, cap - (size_t)n, ".%07" PRId64, frac);
	if (n > 0 && (size_t)n + 1 < cap) {
		out[n++] = 'Z';
		out[n] = 0;
	}
	return n;
}

int parse_timespan(const char *s, size_t n, int64_t *ticks)
{
	size_t p = 0;
	int neg = 0;
	while (p < n && isspace((unsigned char)s[p]))
		p++;
	if (p < n && s[p] == '-') {
		neg = 1;
		p++;
	}
	int64_t days = 0;
	size_t q = p;
	while (q < n && isdigit((unsigned char)s[q]))
		q++;
	if (q == p || q - p > 9)
		return -1;
	if (q < n && s[q] == '.') { /* d.hh:mm:ss */
		for (size_t i = p; i < q; i++)
			days = days * 10 + (s[i] - '0');
		p = q + 1;
	}
	int h, mi, sec = 0;
	int64_t frac = 0;
	size_t hstart = p;
	while (p < n && isdigit((unsigned char)s[p]) && p - hstart < 2)
		p++;
	if (p == hstart)
		return -1;
	h = 0;
	for (size_t i = hstart; i < p; i++)
		h = h * 10 + (s[i] - '0');
	if (p >= n || s[p++] != ':' || digits(s, n, &p, 2, &mi))
		return -1;
	if (p < n && s[p] == ':') {
		p++;
		if (digits(s, n, &p, 2, &sec))
			return -1;
		if (p < n && s[p] == '.') {
			p++;
			frac = fraction(s, n, &p);
		}
	}
	while (p < n && isspace((unsigned char)s[p]))
		p++;
	if (p != n || mi > 59 || sec > 59)
		return -1;
	int64_t t = days * QT_TICKS_PER_DAY + ((int64_t)h * 3600 + mi * 60 + sec) * QT_TICKS_PER_SECOND + frac;
	*ticks = neg ? -t : t;
	return 0;
}

int format_timespan(int64_t ticks, char *out, size_t cap)
{
	const char *sign = "";
	uint64_t t = (uint64_t)ticks;
	if (ticks < 0) {
		sign = "-";
		t = 0 - t;
	}
	uint64_t days = t / QT_TICKS_PER_DAY, rem = t % QT_TICKS_PER_DAY;
	uint64_t secs = rem / QT_TICKS_PER_SECOND, frac = rem % QT_TICKS_PER_SECOND;
	int n;
	if (days)
		n = snprintf(out, cap, "%s%" PRIu64 ".%02u:%02u:%02u", sign, days, (unsigned)(secs / 3600),
			     (unsigned)(secs / 60 % 60), (unsigned)(secs % 60));
	else
		n = snprintf(out, cap, "%s%02u:%02u:%02u", sign, (unsigned)(secs / 3600), (unsigned)(secs / 60 % 60),
			     (unsigned)(secs % 60));
	if (frac && n > 0 && (size_t)n < cap)
		n += snprintf(out + n, cap - (size_t)n, ".%07" PRIu64, frac);
	return n;
}

int query_real_text(double r, char *out, size_t cap)
{
	if (r == floor(r) && fabs(r) < 1e17)
		return snprintf(out, cap, "%.0f", r == 0 ? 0.0 : r);
	int n = 0;
	for (int prec = 1; prec <= 17; prec++) { /* the shortest text that reads back */
		n = snprintf(out, cap, "%.*g", prec, r);
		if (strtod(out, NULL) == r)
			break;
	}
	return n;
}

static int json_dump_cb(const char *buffer, size_t size, void *data)
{
	return buf_append(data, buffer, size) ? -1 : 0;
}

int query_value_json(const struct qval *v, struct buf *out)
{
	char tmp[64];
	switch (v->type) {
	case QT_NULL:
		return buf_puts(out, "null");
	case QT_BOOL:
		return buf_puts(out, v->u.i ? "true" : "false");
	case QT_INT:
	case QT_LONG:
		return buf_printf(out, "%" PRId64, v->u.i);
	case QT_REAL:
		if (isnan(v->u.r))
			return buf_puts(out, "\"NaN\"");
		if (isinf(v->u.r))
			return buf_puts(out, v->u.r > 0 ? "\"Infinity\"" : "\"-Infinity\"");
		query_real_text(v->u.r, tmp, sizeof(tmp));
		return buf_puts(out, tmp);
	case QT_STRING:
		return buf_json_str(out, v->u.s);
	case QT_DATETIME:
		format_datetime(v->u.i, tmp, sizeof(tmp));
		return buf_json_str(out, tmp);
	case QT_TIMESPAN:
		format_timespan(v->u.i, tmp, sizeof(tmp));
		return buf_json_str(out, tmp);
	case QT_DYNAMIC:
		if (json_dump_callback(v->u.j, json_dump_cb, out, JSON_COMPACT | JSON_ENCODE_ANY))
			return DD_E_TOO_LARGE;
		return 0;
	}
	return buf_puts(out, "null");
}

int query_result_json(const struct query_result *r, struct buf *out)
{
	int rc = buf_puts(out, "{\"columns\":[");
	for (size_t c = 0; !rc && c < r->ncolumns; c++) {
		rc = buf_puts(out, c ? ",{\"name\":" : "{\"name\":");
		rc = rc ? rc : buf_json_str(out, r->columns[c].name);
		rc = rc ? rc : buf_printf(out, ",\"type\":\"%s\"}", query_type_name(r->columns[c].type));
	}
	rc = rc ? rc : buf_puts(out, "],\"rows\":[");
	for (size_t i = 0; !rc && i < r->nrows; i++) {
		rc = buf_puts(out, i ? ",[" : "[");
		for (size_t c = 0; !rc && c < r->ncolumns; c++) {
			if (c)
				rc = buf_puts(out, ",");
			rc = rc ? rc : query_value_json(&r->rows[i][c], out);
		}
		rc = rc ? rc : buf_puts(out, "]");
	}
	return rc ? rc : buf_puts(out, "]}");
}
