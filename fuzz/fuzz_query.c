/* fuzz_query.c: query_run over a small fixed data set never crashes or hangs on any text
 * (securityresources given as rows, resources as a scan that pushes the same rows, so leading
 * wheres are applied as rows arrive and read as hints; each scan ends through its own return);
 * a failure has a message and a position inside the text that agrees with its line and
 * column; a result has as many values per row as columns, valid types, NUL-terminated
 * strings, and JSON that parses back with the same shape. */
#include "common/dd.h"
#include "query/query.h"
#include "fuzz.h"

static const struct query_column cols[] = {
	{"id", QT_STRING}, {"type", QT_STRING}, {"n", QT_LONG}, {"r", QT_REAL},
	{"d", QT_DATETIME}, {"t", QT_TIMESPAN}, {"b", QT_BOOL}, {"properties", QT_DYNAMIC},
};
#define NCOLS DD_ARRAY_LEN(cols)
#define NROWS 4
static struct qval vals[NROWS * NCOLS];
static struct query_table tables[2];
static const struct query_tables all = {tables, 2};

static int scanning; /* scans begun and not returned */

static int scan(void *ctx, const struct query_hint *h, query_emit_fn emit, void *q)
{
	(void)ctx;
	for (size_t i = 0; h && i < h->n; i++) { /* a hint names a column and strings */
		const struct query_filter *f = &h->filters[i];
		if (f->column < 0 || f->column >= (int)NCOLS || f->npath < 0 || f->npath > QUERY_MAX_PATH || !f->nvalues)
			abort();
		for (size_t k = 0; k < f->nvalues; k++)
			if (!f->values[k])
				abort();
	}
	scanning++;
	int rc = 0;
	for (int i = 0; i < NROWS && !rc; i++)
		rc = emit(q, &vals[i * NCOLS]);
	scanning--;
	return rc;
}

static void setup(void)
{
	if (tables[0].name)
		return;
	static const char *const props[NROWS] = {
		"{\"status\":{\"severity\":\"High\"},\"cve\":[{\"title\":\"CVE-1\"},{\"title\":\"CVE-2\"}],\"cvss\":{\"3.0\":{\"base\":7.5}}}",
		"{\"status\":{\"severity\":\"Low\"},\"cve\":[]}",
		"null",
		"[1,\"a\",{\"k\":[true,null]}]",
	};
	static const char *const ids[NROWS] = {
		"/subscriptions/s/providers/Microsoft.ContainerRegistry/registries/r1/providers/Microsoft.Security/assessments/a/subassessments/x",
		"/subscriptions/s/providers/Microsoft.ContainerRegistry/registries/r2/providers/Microsoft.Security/assessments/a",
		"",
		"odd \"id\" with\ttab",
	};
	for (int i = 0; i < NROWS; i++) {
		struct qval *r = &vals[i * NCOLS];
		r[0] = qv_str(ids[i], strlen(ids[i]));
		r[1] = i % 2 ? qv_str("microsoft.security/assessments", 30) : qv_str("microsoft.security/assessments/subassessments", 45);
		r[2] = i == 2 ? qv_null() : qv_long(i * 7 - 3);
		r[3] = i == 1 ? qv_null() : qv_real(i * 1.25 - 2);
		r[4] = i == 3 ? qv_null() : qv_ticks(QT_DATETIME, (int64_t)(17e8 + i * 86400) * QT_TICKS_PER_SECOND);
		r[5] = qv_ticks(QT_TIMESPAN, (int64_t)i * 3600 * QT_TICKS_PER_SECOND);
		r[6] = i == 0 ? qv_null() : qv_bool(i % 2);
		r[7] = qv_dyn(json_loads(props[i], JSON_DECODE_ANY, NULL)); /* kept for the process */
	}
	tables[0] = (struct query_table){"securityresources", cols, NCOLS, vals, NROWS, NULL, NULL, 0};
	tables[1] = (struct query_table){"resources", cols, NCOLS, NULL, 0, scan, NULL, 1};
}

static void check_value(const struct qval *v)
{
	if (v->type > QT_DYNAMIC)
		abort();
	if (v->type == QT_STRING && (!v->u.s || v->u.s[v->len] != 0))
		abort();
	if (v->type == QT_DYNAMIC && !v->u.j)
		abort();
}

int fuzz_query(const uint8_t *data, size_t size)
{
	setup();
	char *text = malloc(size ? size : 1); /* exact size: ASan catches any over-read */
	if (!text)
		return 0;
	memcpy(text, data, size);
	struct query_limits lim = {.max_rows = 20000, .max_bytes = 64 << 20, .max_millis = 5000, .now = 1};
	struct query_result r;
	struct query_error e;
	int rc = query_run(text, size, &all, &lim, &r, &e);
	if (scanning) /* a failure jumped over a scan */
		abort();
	if (rc) {
		if (!e.message[0] || e.offset > size || e.line < 1 || e.column < 1)
			abort();
		int line = 1, col = 1;
		for (size_t i = 0; i < e.offset; i++) {
			if (text[i] == '\n') {
				line++;
				col = 1;
			} else
				col++;
		}
		if (line != e.line || col != e.column)
			abort();
		if (r.nrows || r.rows || r.columns)
			abort();
	} else {
		for (size_t c = 0; c < r.ncolumns; c++)
			if (!r.columns[c].name || r.columns[c].type > QT_DYNAMIC)
				abort();
		for (size_t i = 0; i < r.nrows; i++)
			for (size_t c = 0; c < r.ncolumns; c++)
				check_value(&r.rows[i][c]);
		struct buf b;
		buf_init(&b, 256 << 20);
		if (query_result_json(&r, &b) == 0) {
			json_t *j = json_loadb(b.data, b.len, 0, NULL);
			if (!j)
				abort();
			if (json_array_size(json_object_get(j, "columns")) != r.ncolumns ||
			    json_array_size(json_object_get(j, "rows")) != r.nrows)
				abort();
			for (size_t i = 0; i < r.nrows; i++)
				if (json_array_size(json_array_get(json_object_get(j, "rows"), i)) != r.ncolumns)
					abort();
			json_decref(j);
		}
		buf_release(&b);
		query_result_free(&r);
	}
	free(text);
	return 0;
}
DD_FUZZ_ENTRY(fuzz_query)
