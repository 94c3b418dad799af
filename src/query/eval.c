/* eval.c: the tabular operators over row sets, the aggregates of summarize, and query_run
 * with the query's context (memory, time and row limits; the error exit). A row is an array
 * of values; operators that keep rows (where, take, sort) pass row pointers on without
 * copying them. Scalar expressions are in scalar.c, the syntax in parser.c. */
#include "common/dd.h"
#include "query/queryInt.h"
#include <math.h>

/* ---- context ---- */

void q_fail(struct qctx *q, int code, size_t pos, const char *fmt, ...)
{
	if (pos == Q_HERE)
		pos = q->op_pos;
	if (q->err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(q->err->message, sizeof(q->err->message), fmt, ap);
		va_end(ap);
		if (pos > q->len)
			pos = q->len;
		q->err->offset = pos;
		q_position(q->text, q->len, pos, &q->err->line, &q->err->column);
	}
	q->code = code;
	longjmp(q->jb, 1);
}

static void account(struct qctx *q, size_t n)
{
	q->bytes += n;
	if (q->bytes > q->lim.max_bytes)
		q_fail(q, DD_E_TOO_LARGE, Q_HERE, "the query needs more than %zu MiB of memory", q->lim.max_bytes >> 20);
}

void *q_alloc(struct qctx *q, size_t n)
{
	account(q, n);
	return arena_alloc(q->arena, n);
}

void *q_alloc_uninit(struct qctx *q, size_t n)
{
	account(q, n);
	return arena_alloc_uninit(q->arena, n);
}

char *q_strndup(struct qctx *q, const char *s, size_t n)
{
	account(q, n + 1);
	return arena_strndup(q->arena, s, n);
}

json_t *q_own(struct qctx *q, json_t *j)
{
	if (!j)
		q_fail(q, DD_E_NOMEM, Q_HERE, "out of memory");
	if (q->nowned == q->capowned) {
		size_t cap = q->capowned ? 2 * q->capowned : 64;
		json_t **o = realloc(q->owned, cap * sizeof(*o));
		if (!o) {
			json_decref(j);
			q_fail(q, DD_E_NOMEM, Q_HERE, "out of memory");
		}
		q->owned = o;
		q->capowned = cap;
	}
	q->owned[q->nowned++] = j;
	account(q, 64);
	return j;
}

pcre2_code *q_regex(struct qctx *q, const char *re, size_t n, uint32_t options, size_t pos)
{
	int errcode;
	PCRE2_SIZE off;
	if (q->nregexes == q->capregexes) {
		size_t cap = q->capregexes ? 2 * q->capregexes : 16;
		pcre2_code **r = realloc(q->regexes, cap * sizeof(*r));
		if (!r)
			q_fail(q, DD_E_NOMEM, pos, "out of memory");
		q->regexes = r;
		q->capregexes = cap;
	}
	pcre2_code *c = pcre2_compile((PCRE2_SPTR)re, n, options | PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &errcode, &off, NULL);
	if (!c) {
		PCRE2_UCHAR msg[120];
		pcre2_get_error_message(errcode, msg, sizeof(msg));
		q_fail(q, DD_E_USAGE, pos, "invalid regex: %s", (char *)msg);
	}
	q->regexes[q->nregexes++] = c;
	pcre2_jit_compile(c, PCRE2_JIT_COMPLETE); /* the interpreter runs it when JIT is unavailable */
	account(q, 1024);
	return c;
}

int64_t q_clock_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void q_tick(struct qctx *q, size_t pos)
{
	if (++q->tick < 4096)
		return;
	q->tick = 0;
	if (q_clock_ms() - q->start_ms > q->lim.max_millis)
		q_fail(q, DD_E_TOO_LARGE, pos, "the query ran longer than its time limit (%" PRId64 " ms)", q->lim.max_millis);
}

void q_check_rows(struct qctx *q, size_t rows, size_t pos)
{
	if (rows > q->lim.max_rows)
		q_fail(q, DD_E_TOO_LARGE, pos, "an operator produced more than %zu rows", q->lim.max_rows);
}

/* ---- row sets ---- */

static struct rowset *rs_new(struct qctx *q, int ncols)
{
	struct rowset *rs = q_alloc(q, sizeof(*rs));
	rs->ncols = ncols;
	rs->cols = q_alloc(q, sizeof(*rs->cols) * (size_t)(ncols ? ncols : 1));
	return rs;
}

static void rs_push(struct qctx *q, struct rowset *rs, struct qval *row, size_t pos)
{
	q_check_rows(q, rs->n + 1, pos);
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? 2 * rs->cap : 16;
		struct qval **r = q_alloc_uninit(q, cap * sizeof(*r));
		if (rs->n)
			memcpy(r, rs->rows, rs->n * sizeof(*r));
		rs->rows = r;
		rs->cap = cap;
	}
	rs->rows[rs->n++] = row;
}

static struct qval *row_new(struct qctx *q, int ncols)
{
	return q_alloc_uninit(q, sizeof(struct qval) * (size_t)(ncols ? ncols : 1));
}

static int col_find(const struct rowset *rs, const char *name)
{
	for (int i = 0; i < rs->ncols; i++)
		if (!strcmp(rs->cols[i].name, name))
			return i;
	return -1;
}

static int col_want(struct qctx *q, const struct rowset *rs, const char *name, size_t pos)
{
	int c = col_find(rs, name);
	if (c < 0)
		q_fail(q, DD_E_USAGE, pos, "unknown column '%s'", name);
	return c;
}

static const char *column_name(struct qctx *q, const struct assign *a)
{
	if (a->name)
		return a->name;
	const char *n = expr_default_name(q, a->e);
	return n ? n : arena_printf(q->arena, "Column%d", ++q->column_seq);
}

/* ---- table sources ---- */

struct qsrc {
	struct qsrc *next;
	const struct query_table *table;
	struct rowset *rs;
};

struct summ;
static struct summ *summ_begin(struct qctx *q, struct op *o, struct rowset *in);
static void summ_add(struct qctx *q, struct summ *sm, struct qval *row, int transient);
static struct rowset *summ_end(struct qctx *q, struct summ *sm);

/* `distinct a, b = e` as `summarize by a, b = e` (the same groups, in the order first seen). */
static struct op *distinct_by(struct qctx *q, const struct op *o)
{
	struct op *by = q_alloc(q, sizeof(*by));
	*by = *o;
	by->kind = O_SUMMARIZE;
	by->by = o->items;
	by->nby = o->nitems;
	by->items = NULL;
	by->nitems = 0;
	return by;
}

struct scan_state {
	struct qctx *q;
	struct rowset *rs;
	size_t pos;
	struct op **wheres; /* the leading where operators, applied before a row is kept */
	int nwheres;
	int failed; /* a failure raised while a row was kept: raised again after the scan */
	struct summ *summ; /* a summarize after the wheres: fed the rows as they arrive */
	int counting;      /* a count after the wheres */
	int64_t count;
};

/* About the memory a JSON value holds (jansson's nodes, keys, strings), for the memory limit. */
static size_t json_cost(json_t *j, int depth)
{
	size_t n = 32;
	if (depth > 64)
		return n;
	if (json_is_string(j))
		return n + json_string_length(j);
	if (json_is_object(j)) {
		const char *k;
		json_t *x;
		json_object_foreach(j, k, x) n += 48 + strlen(k) + json_cost(x, depth + 1);
	} else if (json_is_array(j)) {
		size_t i;
		json_t *x;
		json_array_foreach(j, i, x) n += 8 + json_cost(x, depth + 1);
	}
	return n;
}

static struct qval copy_value(struct qctx *q, struct qval v);

/* A value a scan gave, kept: its strings copied, its JSON shared and counted at its size. */
static struct qval keep_value(struct qctx *q, struct qval v)
{
	if (v.type == QT_DYNAMIC && v.u.j)
		account(q, json_cost(v.u.j, 0));
	return copy_value(q, v);
}

static struct qval copy_value(struct qctx *q, struct qval v)
{
	if (v.type == QT_STRING)
		return qv_str(q_strndup(q, v.u.s ? v.u.s : "", v.u.s ? v.len : 0), v.u.s ? v.len : 0);
	if (v.type == QT_DYNAMIC)
		return qv_dyn(v.u.j ? q_own(q, json_incref(v.u.j)) : NULL);
	return v;
}

static int emit_row(struct scan_state *st, const struct qval *row)
{
	struct qctx *q = st->q;
	q_tick(q, st->pos);
	if (!row) /* a heartbeat: the time limit checked while the scan skips rows */
		return 0;
	for (int w = 0; w < st->nwheres; w++) { /* on the scan's own values: nothing copied for a row dropped */
		q->op_pos = st->wheres[w]->pos;
		if (!qv_truthy(eval_expr(q, st->wheres[w]->e, (struct qval *)row)))
			return 0;
	}
	if (st->summ) {
		summ_add(q, st->summ, (struct qval *)row, 1);
		return 0;
	}
	if (st->counting) {
		st->count++;
		return 0;
	}
	if (st->rs->n >= q->lim.max_rows)
		return DD_E_TOO_LARGE;
	struct qval *r = row_new(q, st->rs->ncols);
	for (int c = 0; c < st->rs->ncols; c++)
		r[c] = keep_value(q, row[c]);
	rs_push(q, st->rs, r, st->pos);
	return 0;
}

/* A failure while a row is kept (a limit, an error in the where) must not jump over the scan,
 * which holds what it must release: it returns the code instead, and read_table raises the
 * failure (already written to the error) once the scan has returned. */
static int scan_emit(void *qp, const struct qval *row)
{
	struct scan_state *st = qp;
	struct qctx *q = st->q;
	jmp_buf outer;
	memcpy(outer, q->jb, sizeof(outer));
	int rc;
	if (!setjmp(q->jb))
		rc = emit_row(st, row);
	else {
		st->failed = 1;
		rc = q->code ? q->code : DD_E_INTERNAL;
	}
	memcpy(q->jb, outer, sizeof(outer));
	return rc;
}

/* The member path of e into a column (col.a.b, col["a"], col.["a"]), outermost first, tostring()
 * around it allowed: the column's index, or -1 when e is something else. */
static int filter_path(const struct expr *e, struct query_filter *f)
{
	if (e->kind == E_CALL && e->nargs == 1 && e->name && !strcasecmp(e->name, "tostring"))
		e = e->args[0];
	const char *rev[QUERY_MAX_PATH];
	int n = 0;
	for (; e->kind == E_MEMBER || e->kind == E_INDEX; e = e->a) {
		const char *name = e->kind == E_MEMBER ? e->name
				   : e->b->kind == E_LIT && e->b->lit.type == QT_STRING ? e->b->lit.u.s : NULL;
		if (!name || n == QUERY_MAX_PATH)
			return -1;
		rev[n++] = name;
	}
	if (e->kind != E_COL)
		return -1;
	f->npath = n;
	for (int i = 0; i < n; i++)
		f->path[i] = rev[n - 1 - i];
	return f->column = e->col;
}

static int is_string_lit(const struct expr *e) { return e->kind == E_LIT && e->lit.type == QT_STRING; }

/* The filters the conjunction e states (path == 'x', path =~ 'x', path in ('x', 'y'), path in~
 * (...)), appended to v. */
static void filters_of(struct qctx *q, const struct expr *e, struct query_filter **v, size_t *n, size_t *cap)
{
	if (e->kind == E_BIN && e->op == OP_AND) {
		filters_of(q, e->a, v, n, cap);
		filters_of(q, e->b, v, n, cap);
		return;
	}
	struct query_filter f = {0};
	const char **vals;
	if (e->kind == E_BIN && (e->op == OP_EQ || e->op == OP_EQI)) {
		const struct expr *path = is_string_lit(e->b) ? e->a : e->b, *lit = is_string_lit(e->b) ? e->b : e->a;
		if (!is_string_lit(lit) || filter_path(path, &f) < 0)
			return;
		vals = q_alloc(q, sizeof(*vals));
		vals[0] = lit->lit.u.s;
		f.nvalues = 1;
		f.icase = e->op == OP_EQI;
	} else if (e->kind == E_IN && !e->neg && e->nargs > 0 && filter_path(e->a, &f) >= 0) {
		vals = q_alloc(q, sizeof(*vals) * (size_t)e->nargs);
		for (int i = 0; i < e->nargs; i++) {
			if (!is_string_lit(e->args[i]))
				return;
			vals[i] = e->args[i]->lit.u.s;
		}
		f.nvalues = (size_t)e->nargs;
		f.icase = !e->cs;
	} else
		return;
	f.values = vals;
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 8;
		struct query_filter *nv = q_alloc(q, sizeof(*nv) * nc);
		if (*n)
			memcpy(nv, *v, sizeof(*nv) * *n);
		*v = nv;
		*cap = nc;
	}
	(*v)[(*n)++] = f;
}

/* ---- what a query reads of the tables' columns ---- */

/* Column names read anywhere in the query, by name (any table, any let: an over-approximation),
 * and whether every column is read whole (a table's rows reach the output unprojected, a `*`). */
struct uname {
	struct uname *next;
	const char *name;
	int whole;
	const char **members;
	size_t n, cap;
	struct query_path *paths;
	size_t npaths, pcap;
};
struct usage {
	struct uname *names;
	int all;
};

static struct uname *uname_of(struct qctx *q, struct usage *u, const char *name)
{
	for (struct uname *x = u->names; x; x = x->next)
		if (!strcmp(x->name, name))
			return x;
	struct uname *x = q_alloc(q, sizeof(*x));
	x->name = name;
	x->next = u->names;
	u->names = x;
	return x;
}

static void use_member1(struct qctx *q, struct usage *u, const char *col, const char *const *path, int npath);

/* A read of member path `path` (npath names, outermost first; none: the whole value) of column
 * col. A join names a right-side column that the left side also has col1, col2...: such a name
 * is a read of col too. */
static void use_member(struct qctx *q, struct usage *u, const char *col, const char *const *path, int npath)
{
	use_member1(q, u, col, path, npath);
	size_t n = strlen(col), k = n;
	while (k > 0 && col[k - 1] >= '0' && col[k - 1] <= '9')
		k--;
	if (k > 0 && k < n)
		use_member1(q, u, q_strndup(q, col, k), path, npath);
}

static int same_path(const struct query_path *p, const char *const *path, int n)
{
	if (p->n != n)
		return 0;
	for (int i = 0; i < n; i++)
		if (strcmp(p->names[i], path[i]))
			return 0;
	return 1;
}

static void use_member1(struct qctx *q, struct usage *u, const char *col, const char *const *path, int npath)
{
	struct uname *x = uname_of(q, u, col);
	if (!npath) {
		x->whole = 1;
		return;
	}
	const char *member = path[0];
	int have = 0;
	for (size_t i = 0; i < x->npaths && !have; i++)
		have = same_path(&x->paths[i], path, npath);
	if (!have) {
		if (x->npaths == x->pcap) {
			size_t nc = x->pcap ? 2 * x->pcap : 8;
			struct query_path *nv = q_alloc(q, sizeof(*nv) * nc);
			if (x->npaths)
				memcpy(nv, x->paths, sizeof(*nv) * x->npaths);
			x->paths = nv;
			x->pcap = nc;
		}
		const char **names = q_alloc(q, sizeof(*names) * (size_t)npath);
		memcpy(names, path, sizeof(*names) * (size_t)npath);
		x->paths[x->npaths++] = (struct query_path){names, npath};
	}
	for (size_t i = 0; i < x->n; i++)
		if (!strcmp(x->members[i], member))
			return;
	if (x->n == x->cap) {
		size_t nc = x->cap ? 2 * x->cap : 8;
		const char **nv = q_alloc(q, sizeof(*nv) * nc);
		if (x->n)
			memcpy(nv, x->members, sizeof(*nv) * x->n);
		x->members = nv;
		x->cap = nc;
	}
	x->members[x->n++] = member;
}

static void use_expr(struct qctx *q, struct usage *u, const struct expr *e)
{
	if (!e)
		return;
	if (e->kind == E_MEMBER || e->kind == E_INDEX) {
		/* col.a.b, col["a"][0]: the path below the column, up to a step that is not a name */
		const char *rev[QUERY_MAX_PATH];
		int n = 0;
		const struct expr *x = e;
		for (; x->kind == E_MEMBER || x->kind == E_INDEX; x = x->a) {
			const char *name = x->kind == E_MEMBER ? x->name
					   : x->b->kind == E_LIT && x->b->lit.type == QT_STRING ? x->b->lit.u.s : NULL;
			if (x->kind == E_INDEX)
				use_expr(q, u, x->b);
			if (!name)
				n = 0; /* the subtree above this step, read whole */
			else if (n < QUERY_MAX_PATH)
				rev[n++] = name;
			else { /* deeper than a hint goes: the subtree of the outermost names kept */
				memmove(rev, rev + 1, sizeof(rev[0]) * (QUERY_MAX_PATH - 1));
				rev[QUERY_MAX_PATH - 1] = name;
			}
		}
		if (x->kind == E_COL) {
			const char *path[QUERY_MAX_PATH];
			for (int i = 0; i < n; i++)
				path[i] = rev[n - 1 - i];
			use_member(q, u, x->name, path, n);
		} else
			use_expr(q, u, x);
		return;
	}
	switch (e->kind) {
	case E_COL:
		use_member(q, u, e->name, NULL, 0);
		return;
	case E_STAR:
		u->all = 1;
		return;
	case E_CALL:
		if (e->name && !strcasecmp(e->name, "pack_all"))
			u->all = 1;
		break;
	default:
		break;
	}
	use_expr(q, u, e->a);
	use_expr(q, u, e->b);
	use_expr(q, u, e->c);
	for (int i = 0; i < e->nargs; i++)
		use_expr(q, u, e->args[i]);
}

static int drops_columns(const struct op *o)
{
	return o->kind == O_PROJECT || o->kind == O_SUMMARIZE || o->kind == O_COUNT || (o->kind == O_DISTINCT && !o->star);
}

/* Every expression of tabular expression t; out: t's result reaches the output (or a caller
 * that keeps every column), so a table read at its start is read whole unless an operator of t
 * after it keeps only some columns. */
static void use_tab(struct qctx *q, struct usage *u, const struct tab *t, int out)
{
	if (!t)
		return;
	int drop_after = 0; /* an operator after the one at hand drops columns */
	for (const struct op *o = t->ops; o; o = o->next)
		drop_after |= drops_columns(o);
	if (t->source && out && !drop_after) {
		int let = 0;
		for (struct qlet *l = q->lets; l; l = l->next)
			let |= !strcmp(l->name, t->source) && l->tab;
		if (!let)
			u->all = 1;
	}
	use_tab(q, u, t->sub, out && !drop_after);
	for (int i = 0; i < t->dt_nvals; i++)
		use_expr(q, u, t->dt_vals[i]);
	for (const struct op *o = t->ops; o; o = o->next) {
		int later = 0;
		for (const struct op *x = o->next; x; x = x->next)
			later |= drops_columns(x);
		use_expr(q, u, o->e);
		for (int i = 0; i < o->nitems; i++)
			use_expr(q, u, o->items[i].e);
		for (int i = 0; i < o->nby; i++)
			use_expr(q, u, o->by[i].e);
		for (int i = 0; i < o->nkeys; i++)
			use_expr(q, u, o->keys[i].e);
		for (int i = 0; i < o->non; i++) {
			if (o->on[i].left)
				use_member(q, u, o->on[i].left, NULL, 0);
			if (o->on[i].right)
				use_member(q, u, o->on[i].right, NULL, 0);
		}
		if (o->kind == O_DISTINCT && o->star)
			u->all |= out && !later;
		for (int i = 0; i < o->ntabs; i++)
			use_tab(q, u, o->tabs[i], out && !later);
	}
}

/* The use of each column of table t under usage u (arena array). */
static const struct query_use *table_use(struct qctx *q, const struct usage *u, const struct query_table *t)
{
	struct query_use *v = q_alloc(q, sizeof(*v) * (t->ncolumns ? t->ncolumns : 1));
	for (size_t c = 0; c < t->ncolumns; c++) {
		v[c].read = v[c].whole = u->all;
		for (const struct uname *x = u->names; x && !u->all; x = x->next)
			if (!strcmp(x->name, t->columns[c].name)) {
				v[c].read = 1;
				v[c].whole = x->whole || t->columns[c].type != QT_DYNAMIC;
				v[c].members = x->members;
				v[c].nmembers = x->n;
				v[c].paths = x->paths;
				v[c].npaths = x->npaths;
			}
	}
	return v;
}

/* Reads table `name`. A table pushed by a scan takes the `where` operators that lead *ops along:
 * they are applied as rows arrive (and given to the scan as a hint), and *ops moves past them;
 * such a read is not shared. Other reads are made once per query. */
static struct rowset *read_table(struct qctx *q, const char *name, size_t pos, struct op **ops)
{
	const struct query_table *t = NULL;
	for (size_t i = 0; q->tables && i < q->tables->n && !t; i++) {
		const struct query_table *x = &q->tables->tables[i];
		if (x->any_case ? !strcasecmp(x->name, name) : !strcmp(x->name, name))
			t = x;
	}
	if (!t)
		q_fail(q, DD_E_USAGE, pos, "unknown table '%s'", name);
	int fused = t->scan && ops && *ops &&
		    ((*ops)->kind == O_WHERE || (*ops)->kind == O_SUMMARIZE || (*ops)->kind == O_COUNT ||
		     ((*ops)->kind == O_DISTINCT && !(*ops)->star && (*ops)->nitems));
	for (struct qsrc *s = q->sources; s && !fused; s = s->next)
		if (s->table == t)
			return s->rs;
	struct rowset *rs = rs_new(q, (int)t->ncolumns);
	for (size_t c = 0; c < t->ncolumns; c++) {
		rs->cols[c].name = t->columns[c].name;
		rs->cols[c].type = t->columns[c].type;
	}
	if (t->scan) {
		if (++q->scans > DD_MAX_QUERY_SCANS)
			q_fail(q, DD_E_TOO_LARGE, pos, "the query reads its tables more than %d times", DD_MAX_QUERY_SCANS);
		q_tick(q, pos);
		struct scan_state st = {q, rs, pos, NULL, 0, 0, NULL, 0, 0};
		struct query_filter *fv = NULL;
		size_t nf = 0, capf = 0;
		for (struct op *o = ops ? *ops : NULL; o && o->kind == O_WHERE; o = o->next)
			st.nwheres++;
		st.wheres = q_alloc(q, sizeof(*st.wheres) * (size_t)(st.nwheres + 1));
		for (int w = 0; w < st.nwheres; w++, *ops = (*ops)->next) {
			struct op *o = st.wheres[w] = *ops;
			bind_expr(q, o->e, rs, 0);
			if (o->e->type != QT_BOOL && o->e->type != QT_NULL && o->e->type != QT_DYNAMIC)
				q_fail(q, DD_E_USAGE, o->e->pos, "where needs a bool predicate, not %s",
				       query_type_name(o->e->type));
			filters_of(q, o->e, &fv, &nf, &capf);
		}
		struct op *after = ops ? *ops : NULL; /* the operator after the wheres: a summarize or a count is
							   * fed the rows as they arrive, none kept */
		if (after && after->kind == O_SUMMARIZE) {
			q->op_pos = after->pos;
			q->column_seq = 0;
			st.summ = summ_begin(q, after, rs);
			*ops = after->next;
		} else if (after && after->kind == O_COUNT) {
			st.counting = 1;
			*ops = after->next;
		} else if (after && after->kind == O_DISTINCT && !after->star && after->nitems) {
			struct op *by = distinct_by(q, after); /* fed as rows arrive, as op_distinct feeds it */
			q->op_pos = after->pos;
			q->column_seq = 0;
			st.summ = summ_begin(q, by, rs);
			after = by;
			*ops = by->next;
		}
		struct query_hint hint = {fv, nf, q->usage ? table_use(q, q->usage, t) : NULL};
		int rc = t->scan(t->ctx, &hint, scan_emit, &st);
		if (st.failed)
			longjmp(q->jb, 1); /* q->code and the error as the failure wrote them */
		q->op_pos = pos;
		if (rc == DD_E_TOO_LARGE)
			q_check_rows(q, q->lim.max_rows + 1, pos);
		if (rc)
			q_fail(q, rc, pos, "cannot read table '%s': %s", name, dd_err_message(rc));
		if (st.summ) {
			q->op_pos = after->pos;
			rs = summ_end(q, st.summ);
		} else if (st.counting) {
			rs = rs_new(q, 1);
			rs->cols[0].name = "Count";
			rs->cols[0].type = QT_LONG;
			struct qval *r = row_new(q, 1);
			r[0] = qv_long(st.count);
			rs_push(q, rs, r, after->pos);
		}
	} else {
		q_check_rows(q, t->nrows, pos);
		rs->rows = q_alloc_uninit(q, sizeof(*rs->rows) * (t->nrows ? t->nrows : 1));
		for (size_t i = 0; i < t->nrows; i++)
			rs->rows[i] = (struct qval *)(t->rows + i * t->ncolumns);
		rs->n = rs->cap = t->nrows;
	}
	if (fused)
		return rs;
	struct qsrc *s = q_alloc(q, sizeof(*s));
	s->table = t;
	s->rs = rs;
	s->next = q->sources;
	q->sources = s;
	return rs;
}

/* ---- operators ---- */

static struct rowset *op_where(struct qctx *q, struct op *o, struct rowset *in)
{
	bind_expr(q, o->e, in, 0);
	if (o->e->type != QT_BOOL && o->e->type != QT_NULL && o->e->type != QT_DYNAMIC)
		q_fail(q, DD_E_USAGE, o->e->pos, "where needs a bool predicate, not %s", query_type_name(o->e->type));
	struct rowset *out = rs_new(q, in->ncols);
	memcpy(out->cols, in->cols, sizeof(*in->cols) * (size_t)in->ncols);
	for (size_t i = 0; i < in->n; i++) {
		q_tick(q, o->pos);
		if (qv_truthy(eval_expr(q, o->e, in->rows[i])))
			rs_push(q, out, in->rows[i], o->pos);
	}
	return out;
}

static struct rowset *op_extend(struct qctx *q, struct op *o, struct rowset *in)
{
	struct rowset *out = rs_new(q, in->ncols + o->nitems);
	memcpy(out->cols, in->cols, sizeof(*in->cols) * (size_t)in->ncols);
	out->ncols = in->ncols;
	int *target = q_alloc(q, sizeof(int) * (size_t)o->nitems);
	for (int k = 0; k < o->nitems; k++) {
		bind_expr(q, o->items[k].e, out, 0);
		const char *name = column_name(q, &o->items[k]);
		int c = col_find(out, name);
		if (c < 0) {
			c = out->ncols++;
			out->cols[c].name = name;
		}
		out->cols[c].type = o->items[k].e->type;
		target[k] = c;
	}
	for (size_t i = 0; i < in->n; i++) {
		q_tick(q, o->pos);
		struct qval *r = row_new(q, out->ncols);
		memcpy(r, in->rows[i], sizeof(*r) * (size_t)in->ncols);
		for (int k = 0; k < o->nitems; k++)
			r[target[k]] = eval_expr(q, o->items[k].e, r);
		rs_push(q, out, r, o->pos);
	}
	return out;
}

static struct rowset *op_project(struct qctx *q, struct op *o, struct rowset *in)
{
	struct rowset *out = rs_new(q, o->nitems);
	for (int k = 0; k < o->nitems; k++) {
		bind_expr(q, o->items[k].e, in, 0);
		out->cols[k].name = column_name(q, &o->items[k]);
		out->cols[k].type = o->items[k].e->type;
		for (int j = 0; j < k; j++)
			if (!strcmp(out->cols[j].name, out->cols[k].name))
				q_fail(q, DD_E_USAGE, o->items[k].pos, "column '%s' is projected twice", out->cols[k].name);
	}
	for (size_t i = 0; i < in->n; i++) {
		q_tick(q, o->pos);
		struct qval *r = row_new(q, out->ncols);
		for (int k = 0; k < o->nitems; k++)
			r[k] = eval_expr(q, o->items[k].e, in->rows[i]);
		rs_push(q, out, r, o->pos);
	}
	return out;
}

/* Whether s matches pat, '*' matching any run of characters: greedy with one backtrack point,
 * O(len(pat) x len(s)) whatever the pattern (the recursive form took exponential time on
 * patterns of many stars, found by the fuzzer). */
static int glob_match(const char *pat, const char *s)
{
	const char *star = NULL, *retry = NULL;
	while (*s) {
		if (*pat == '*') {
			star = pat++;
			retry = s;
		} else if (*pat == *s) {
			pat++;
			s++;
		} else if (star) {
			pat = star + 1;
			s = ++retry;
		} else
			return 0;
	}
	while (*pat == '*')
		pat++;
	return !*pat;
}

static struct rowset *remap(struct qctx *q, struct rowset *in, const int *keep, int n, struct op *o)
{
	struct rowset *out = rs_new(q, n);
	for (int k = 0; k < n; k++)
		out->cols[k] = in->cols[keep[k]];
	for (size_t i = 0; i < in->n; i++) {
		q_tick(q, o->pos);
		struct qval *r = row_new(q, n);
		for (int k = 0; k < n; k++)
			r[k] = in->rows[i][keep[k]];
		rs_push(q, out, r, o->pos);
	}
	return out;
}

static struct rowset *op_project_away(struct qctx *q, struct op *o, struct rowset *in)
{
	char *drop = q_alloc(q, (size_t)in->ncols + 1);
	for (int k = 0; k < o->nitems; k++) {
		const char *pat = o->items[k].e->name;
		int hit = 0;
		for (int c = 0; c < in->ncols; c++)
			if (glob_match(pat, in->cols[c].name))
				drop[c] = hit = 1;
		if (!hit && !strchr(pat, '*'))
			q_fail(q, DD_E_USAGE, o->items[k].pos, "unknown column '%s'", pat);
	}
	int *keep = q_alloc(q, sizeof(int) * (size_t)(in->ncols + 1)), n = 0;
	for (int c = 0; c < in->ncols; c++)
		if (!drop[c])
			keep[n++] = c;
	return remap(q, in, keep, n, o);
}

static struct rowset *op_project_rename(struct qctx *q, struct op *o, struct rowset *in)
{
	struct rowset *out = rs_new(q, in->ncols);
	memcpy(out->cols, in->cols, sizeof(*in->cols) * (size_t)in->ncols);
	for (int k = 0; k < o->nitems; k++) {
		int c = col_want(q, in, o->items[k].e->name, o->items[k].e->pos);
		out->cols[c].name = o->items[k].name;
	}
	for (int a = 0; a < out->ncols; a++)
		for (int b = a + 1; b < out->ncols; b++)
			if (!strcmp(out->cols[a].name, out->cols[b].name))
				q_fail(q, DD_E_USAGE, o->pos, "project-rename makes two columns named '%s'", out->cols[a].name);
	out->rows = in->rows;
	out->n = in->n;
	out->cap = in->cap;
	return out;
}

/* ---- hashing rows by some of their values ---- */

struct htab {
	size_t cap, n;
	uint32_t *slot;   /* entry index + 1; 0 is empty */
	uint64_t *hash;   /* per entry */
};

static void ht_init(struct qctx *q, struct htab *h, size_t cap)
{
	h->cap = cap;
	h->n = 0;
	h->slot = q_alloc(q, sizeof(*h->slot) * cap);
	h->hash = q_alloc_uninit(q, sizeof(*h->hash) * cap);
}

static uint64_t keys_hash(const struct qval *k, int n)
{
	uint64_t h = 0x84222325cbf29ce4ULL;
	for (int i = 0; i < n; i++)
		h = (h ^ qv_hash(k[i])) * 0x100000001b3ULL;
	return h ^ (h >> 29);
}

/* Finds the entry whose keys (keys + e * k) equal key; adds it (index h->n) when absent. */
static size_t ht_find(struct qctx *q, struct htab *h, struct qval **keys, int k, const struct qval *key,
		      uint64_t hv, int *created)
{
	if ((h->n + 1) * 2 > h->cap) {
		struct htab bigger;
		ht_init(q, &bigger, h->cap * 2);
		for (size_t e = 0; e < h->n; e++) {
			size_t s = h->hash[e] & (bigger.cap - 1);
			while (bigger.slot[s])
				s = (s + 1) & (bigger.cap - 1);
			bigger.slot[s] = (uint32_t)e + 1;
			bigger.hash[e] = h->hash[e];
		}
		bigger.n = h->n;
		*h = bigger;
		if (*keys) {
			struct qval *nk = q_alloc_uninit(q, sizeof(*nk) * (size_t)(k ? k : 1) * h->cap);
			memcpy(nk, *keys, sizeof(*nk) * (size_t)k * h->n);
			*keys = nk;
		}
	}
	size_t s = hv & (h->cap - 1);
	for (;; s = (s + 1) & (h->cap - 1)) {
		uint32_t e = h->slot[s];
		if (!e)
			break;
		if (h->hash[e - 1] != hv)
			continue;
		const struct qval *ek = *keys + (size_t)(e - 1) * (size_t)k;
		int same = 1;
		for (int i = 0; i < k && same; i++)
			same = qv_same(ek[i], key[i]);
		if (same) {
			*created = 0;
			return e - 1;
		}
	}
	if (h->n >= UINT32_MAX - 1)
		q_fail(q, DD_E_TOO_LARGE, Q_HERE, "too many groups");
	size_t e = h->n++;
	h->slot[s] = (uint32_t)e + 1;
	h->hash[e] = hv;
	if (!*keys)
		*keys = q_alloc_uninit(q, sizeof(**keys) * (size_t)(k ? k : 1) * h->cap);
	memcpy(*keys + e * (size_t)k, key, sizeof(*key) * (size_t)k);
	*created = 1;
	return e;
}

/* ---- summarize ---- */

enum agg_id {
	A_COUNT, A_COUNTIF, A_DCOUNT, A_DCOUNTIF, A_SUM, A_SUMIF, A_MIN, A_MAX, A_AVG, A_AVGIF,
	A_MAKE_SET, A_MAKE_LIST, A_MAKE_BAG, A_ARG_MAX, A_ARG_MIN, A_TAKE_ANY,
};

static const struct qagg aggs[] = {
	{"count", 0, 1, "count_", A_COUNT},
	{"countif", 1, 1, "countif_", A_COUNTIF},
	{"dcount", 1, 2, "dcount_", A_DCOUNT},
	{"dcountif", 2, 3, "dcountif_", A_DCOUNTIF},
	{"count_distinct", 1, 1, "count_distinct_", A_DCOUNT},
	{"sum", 1, 1, "sum_", A_SUM},
	{"sumif", 2, 2, "sumif_", A_SUMIF},
	{"min", 1, 1, "min_", A_MIN},
	{"max", 1, 1, "max_", A_MAX},
	{"avg", 1, 1, "avg_", A_AVG},
	{"avgif", 2, 2, "avgif_", A_AVGIF},
	{"make_set", 1, 2, "set_", A_MAKE_SET},
	{"makeset", 1, 2, "set_", A_MAKE_SET},
	{"make_list", 1, 2, "list_", A_MAKE_LIST},
	{"makelist", 1, 2, "list_", A_MAKE_LIST},
	{"make_bag", 1, 2, "bag_", A_MAKE_BAG},
	{"arg_max", 1, Q_MAX_ARGS, "max_", A_ARG_MAX},
	{"arg_min", 1, Q_MAX_ARGS, "min_", A_ARG_MIN},
	{"take_any", 1, 1, "any_", A_TAKE_ANY},
	{"any", 1, 1, "any_", A_TAKE_ANY},
};

const struct qagg *agg_lookup(const char *name)
{
	for (size_t i = 0; i < DD_ARRAY_LEN(aggs); i++)
		if (!strcmp(aggs[i].name, name))
			return &aggs[i];
	return NULL;
}

struct vset {
	struct htab h;
	struct qval *keys;
};

struct aggst {
	int64_t n, i;
	double r;
	int isreal, has;
	struct qval v;
	struct qval *row;
	json_t *j;
	struct vset *set;
};

struct aggspec {
	const struct qagg *agg;
	struct expr *call;
	int first_col, ncols; /* output columns */
	int64_t max_size;
	int sum_type;
};

/* transient: v lives only for this call (a scan's row), so a value kept is copied. */
static void vset_add(struct qctx *q, struct vset **sp, struct qval v, int *added, int transient)
{
	if (!*sp) {
		*sp = q_alloc(q, sizeof(**sp));
		ht_init(q, &(*sp)->h, 8);
	}
	size_t g = ht_find(q, &(*sp)->h, &(*sp)->keys, 1, &v, qv_hash(v), added);
	if (*added && transient)
		(*sp)->keys[g] = keep_value(q, v);
}

static struct qval *copy_row(struct qctx *q, const struct qval *row, int ncols)
{
	struct qval *r = row_new(q, ncols);
	for (int c = 0; c < ncols; c++)
		r[c] = keep_value(q, row[c]);
	return r;
}

/* Adds row to an aggregate's state; transient: the row's values live only for this call (a
 * scan's), so what the state keeps of it (a value, a row) is copied, only when it keeps it. */
static void agg_update(struct qctx *q, struct aggspec *sp, struct aggst *st, struct qval *row, int transient,
		       int ncols)
{
	struct expr *c = sp->call;
	int id = sp->agg->id;
	struct qval v = qv_null();
	if (id == A_COUNT) {
		st->n++;
		return;
	}
	if (id == A_COUNTIF) {
		st->n += qv_truthy(eval_expr(q, c->args[0], row));
		return;
	}
	if ((id == A_DCOUNTIF || id == A_SUMIF || id == A_AVGIF) && !qv_truthy(eval_expr(q, c->args[1], row)))
		return;
	v = eval_expr(q, c->args[0], row);
	if (qv_isnull(v))
		return;
	int added;
	switch (id) {
	case A_DCOUNT:
	case A_DCOUNTIF:
		vset_add(q, &st->set, v, &added, transient);
		st->n += added;
		break;
	case A_SUM:
	case A_SUMIF:
	case A_AVG:
	case A_AVGIF: {
		struct qval u = qv_unwrap(v);
		if (u.type == QT_REAL) {
			if (!st->isreal) {
				st->isreal = 1;
				st->r = (double)st->i;
			}
			st->r += u.u.r;
		} else if (u.type == QT_LONG || u.type == QT_INT || u.type == QT_BOOL || u.type == QT_TIMESPAN) {
			if (st->isreal)
				st->r += (double)u.u.i;
			else
				st->i = (int64_t)((uint64_t)st->i + (uint64_t)u.u.i);
		} else
			return;
		st->n++;
		st->has = 1;
		break;
	}
	case A_MIN:
	case A_MAX: {
		struct qval u = qv_unwrap(v);
		if (!st->has || (id == A_MIN ? qv_compare(u, st->v) < 0 : qv_compare(u, st->v) > 0))
			st->v = transient ? keep_value(q, u) : u;
		st->has = 1;
		break;
	}
	case A_ARG_MAX:
	case A_ARG_MIN: {
		struct qval u = qv_unwrap(v);
		if (!st->has || (id == A_ARG_MIN ? qv_compare(u, st->v) < 0 : qv_compare(u, st->v) > 0)) {
			st->v = transient ? keep_value(q, u) : u;
			st->row = transient ? copy_row(q, row, ncols) : row;
		}
		st->has = 1;
		break;
	}
	case A_TAKE_ANY:
		if (!st->has) {
			st->v = transient ? keep_value(q, v) : v;
			st->has = 1;
		}
		break;
	case A_MAKE_SET:
	case A_MAKE_LIST:
		if (!st->j)
			st->j = q_own(q, json_array());
		if ((int64_t)json_array_size(st->j) >= sp->max_size)
			break;
		if (id == A_MAKE_SET) {
			vset_add(q, &st->set, v, &added, transient);
			if (!added)
				break;
		}
		json_array_append_new(st->j, qv_to_json(q, v));
		q_alloc(q, 16);
		break;
	case A_MAKE_BAG:
		if (v.type != QT_DYNAMIC || !json_is_object(v.u.j))
			break;
		if (!st->j)
			st->j = q_own(q, json_object());
		{
			const char *k;
			json_t *x;
			json_object_foreach(v.u.j, k, x) {
				if (!json_object_get(st->j, k) && (int64_t)json_object_size(st->j) < sp->max_size) {
					json_object_set_nocheck(st->j, k, x);
					q_alloc(q, 64);
				}
			}
		}
		break;
	}
}

static const char *agg_column_name(struct qctx *q, const struct assign *a, const struct aggspec *sp)
{
	if (a->name)
		return a->name;
	if (sp->agg->id == A_COUNT || sp->agg->id == A_COUNTIF)
		return sp->agg->prefix;
	const char *n = expr_default_name(q, sp->call->args[0]);
	if (sp->agg->id == A_ARG_MAX || sp->agg->id == A_ARG_MIN || sp->agg->id == A_TAKE_ANY)
		return n ? n : arena_printf(q->arena, "%s", sp->agg->prefix);
	return arena_printf(q->arena, "%s%s", sp->agg->prefix, n ? n : "");
}

static int sum_type(int t)
{
	if (t == QT_INT || t == QT_LONG || t == QT_BOOL)
		return QT_LONG;
	if (t == QT_TIMESPAN)
		return QT_TIMESPAN;
	return QT_REAL;
}

/* name, or name1, name2 ... when one of the first n columns has it already */
static const char *unique_name(struct qctx *q, const struct rowset *rs, int n, const char *name)
{
	const char *try = name;
	for (int suffix = 1;; suffix++) {
		int dup = 0;
		for (int j = 0; j < n && !dup; j++)
			dup = !strcmp(rs->cols[j].name, try);
		if (!dup)
			return try;
		try = arena_printf(q->arena, "%s%d", name, suffix);
	}
}

/* Checks an aggregate call and binds its arguments to the input. */
static void spec_setup(struct qctx *q, struct aggspec *sp, struct expr *c, const struct qagg *ag, struct rowset *in)
{
	if (c->nargs < ag->min || c->nargs > ag->max)
		q_fail(q, DD_E_USAGE, c->pos, "%s() takes %d to %d arguments, not %d", ag->name, ag->min, ag->max, c->nargs);
	sp->agg = ag;
	sp->call = c;
	sp->max_size = 1048576;
	int first_arg_star = c->nargs && c->args[0]->kind == E_STAR;
	if (ag->id == A_COUNT && c->nargs == 1 && !first_arg_star)
		q_fail(q, DD_E_USAGE, c->pos, "count() takes no argument (use countif)");
	for (int i = 0; i < c->nargs; i++) {
		if (c->args[i]->kind == E_STAR) {
			if (!((ag->id == A_ARG_MAX || ag->id == A_ARG_MIN) && i > 0) && ag->id != A_COUNT)
				q_fail(q, DD_E_USAGE, c->args[i]->pos, "'*' is allowed only in arg_max, arg_min and count");
			continue;
		}
		bind_expr(q, c->args[i], in, 0);
	}
	if ((ag->id == A_MAKE_SET || ag->id == A_MAKE_LIST || ag->id == A_MAKE_BAG) && c->nargs == 2) {
		struct qval m = qv_convert(q, eval_expr(q, c->args[1], NULL), QT_LONG);
		if (qv_isnull(m) || m.u.i < 1)
			q_fail(q, DD_E_USAGE, c->args[1]->pos, "expected a positive maximum size");
		sp->max_size = m.u.i;
	}
	sp->ncols = 1;
	if (ag->id == A_ARG_MAX || ag->id == A_ARG_MIN)
		for (int i = 1; i < c->nargs; i++)
			sp->ncols += c->args[i]->kind == E_STAR ? in->ncols : 1;
}

static int agg_type(const struct aggspec *sp)
{
	int at = sp->call->nargs ? sp->call->args[0]->type : QT_NULL;
	switch (sp->agg->id) {
	case A_COUNT: case A_COUNTIF: case A_DCOUNT: case A_DCOUNTIF: return QT_LONG;
	case A_SUM: case A_SUMIF: return sum_type(at);
	case A_AVG: case A_AVGIF: return QT_REAL;
	case A_MAKE_SET: case A_MAKE_LIST: case A_MAKE_BAG: return QT_DYNAMIC;
	default: return at;
	}
}

/* Aggregates inside an expression (summarize pct = 100.0 * countif(p) / count()): each
 * becomes a hidden aggregate, and its call a reference to the hidden column "\x01N". */
static int hoist_aggs(struct qctx *q, struct expr *e, struct aggspec *spec, int nspec, struct rowset *in, int count_only)
{
	if (!e)
		return nspec;
	if (e->kind == E_CALL && agg_lookup(e->name)) {
		const struct qagg *ag = agg_lookup(e->name);
		if (!count_only) {
			if (ag->id == A_ARG_MAX || ag->id == A_ARG_MIN)
				q_fail(q, DD_E_USAGE, e->pos, "%s() cannot be part of an expression", ag->name);
			struct expr *copy = q_alloc(q, sizeof(*copy));
			*copy = *e;
			spec_setup(q, &spec[nspec], copy, ag, in);
			memset(e, 0, sizeof(*e));
			e->kind = E_COL;
			e->pos = copy->pos;
			e->col = -1;
			e->name = arena_printf(q->arena, "\x01%d", nspec);
		}
		return nspec + 1;
	}
	nspec = hoist_aggs(q, e->a, spec, nspec, in, count_only);
	nspec = hoist_aggs(q, e->b, spec, nspec, in, count_only);
	nspec = hoist_aggs(q, e->c, spec, nspec, in, count_only);
	for (int i = 0; i < e->nargs; i++)
		nspec = hoist_aggs(q, e->args[i], spec, nspec, in, count_only);
	return nspec;
}

/* A summarize under way: set up from its input's columns (summ_begin), fed rows one by one
 * (summ_add), then its output (summ_end). Rows may be fed as a scan pushes them. */
struct summ {
	struct op *o;
	int nby, nspec, ntop, nagg, row_cols;
	struct aggspec *spec;
	int *item_spec, *argcol, *expr_col;
	struct expr **argexpr;
	struct rowset *out;
	struct htab h;
	struct qval *keys;
	struct aggst **states;
	size_t states_cap;
	int in_ncols;
};

static struct summ *summ_begin(struct qctx *q, struct op *o, struct rowset *in)
{
	int nby = o->nby;
	/* the aggregates: one per item that is an aggregate call, then those inside expressions */
	int nspec = 0;
	for (int k = 0; k < o->nitems; k++) {
		struct expr *c = o->items[k].e;
		if (c->kind == E_CALL && agg_lookup(c->name))
			nspec++;
		else
			nspec = hoist_aggs(q, c, NULL, nspec, in, 1);
	}
	struct aggspec *spec = q_alloc(q, sizeof(*spec) * (size_t)(nspec + 1));
	int *item_spec = q_alloc(q, sizeof(int) * (size_t)(o->nitems + 1));
	int ntop = 0;
	for (int k = 0; k < o->nitems; k++) {
		struct expr *c = o->items[k].e;
		item_spec[k] = -1;
		if (c->kind == E_CALL && agg_lookup(c->name)) {
			spec_setup(q, &spec[ntop], c, agg_lookup(c->name), in);
			item_spec[k] = ntop++;
		}
	}
	int nhidden = ntop;
	for (int k = 0; k < o->nitems; k++) {
		if (item_spec[k] >= 0)
			continue;
		int before = nhidden;
		nhidden = hoist_aggs(q, o->items[k].e, spec, nhidden, in, 0);
		if (nhidden == before)
			q_fail(q, DD_E_USAGE, o->items[k].e->pos, "expected an aggregate function such as count() or sum()");
	}
	nspec = nhidden;
	/* the output columns: by columns, each item's (arg_max may give many), then the hidden
	 * aggregates, which rows carry past ncols */
	int ncols = nby;
	for (int k = 0; k < o->nitems; k++)
		ncols += item_spec[k] >= 0 ? spec[item_spec[k]].ncols : 1;
	int visible = ncols;
	ncols += nspec - ntop;
	struct rowset *out = rs_new(q, ncols);
	for (int b = 0; b < nby; b++) {
		bind_expr(q, o->by[b].e, in, 0);
		out->cols[b].name = unique_name(q, out, b, column_name(q, &o->by[b]));
		out->cols[b].type = o->by[b].e->type;
	}
	int *argcol = q_alloc(q, sizeof(int) * (size_t)(ncols + 1)); /* arg_max: input column or -1 */
	struct expr **argexpr = q_alloc(q, sizeof(*argexpr) * (size_t)(ncols + 1));
	int *expr_col = q_alloc(q, sizeof(int) * (size_t)(o->nitems + 1));
	int real_cols = nby;
	for (int k = 0; k < o->nitems; k++) {
		if (item_spec[k] < 0) {
			expr_col[k] = real_cols;
			out->cols[real_cols].name = unique_name(q, out, real_cols, column_name(q, &o->items[k]));
			real_cols++;
			continue;
		}
		struct aggspec *sp = &spec[item_spec[k]];
		struct expr *c = sp->call;
		int col = real_cols;
		sp->first_col = col;
		out->cols[col].name = unique_name(q, out, col, agg_column_name(q, &o->items[k], sp));
		out->cols[col].type = agg_type(sp);
		sp->sum_type = sum_type(c->nargs ? c->args[0]->type : QT_NULL);
		col++;
		if (sp->agg->id == A_ARG_MAX || sp->agg->id == A_ARG_MIN) {
			for (int i = 1; i < c->nargs; i++) {
				if (c->args[i]->kind == E_STAR) {
					for (int ic = 0; ic < in->ncols; ic++) {
						int dup = 0;
						for (int oc = 0; oc < col && !dup; oc++)
							dup = !strcmp(out->cols[oc].name, in->cols[ic].name);
						if (dup)
							continue;
						out->cols[col] = in->cols[ic];
						argcol[col] = ic;
						argexpr[col] = NULL;
						col++;
					}
				} else {
					struct assign a = {.e = c->args[i]};
					out->cols[col].name = unique_name(q, out, col, column_name(q, &a));
					out->cols[col].type = c->args[i]->type;
					argcol[col] = -1;
					argexpr[col] = c->args[i];
					col++;
				}
			}
		}
		sp->ncols = col - sp->first_col;
		real_cols = col;
	}
	visible = real_cols;
	for (int s = ntop; s < nspec; s++) {
		spec[s].first_col = real_cols;
		spec[s].sum_type = sum_type(spec[s].call->nargs ? spec[s].call->args[0]->type : QT_NULL);
		out->cols[real_cols].name = arena_printf(q->arena, "\x01%d", s);
		out->cols[real_cols++].type = agg_type(&spec[s]);
	}
	/* the expressions over aggregates see the by columns and the aggregates */
	out->ncols = real_cols;
	for (int k = 0; k < o->nitems; k++) {
		if (item_spec[k] >= 0)
			continue;
		bind_expr(q, o->items[k].e, out, 0);
		out->cols[expr_col[k]].type = o->items[k].e->type;
	}
	int row_cols = real_cols;
	out->ncols = visible;

	struct summ *sm = q_alloc(q, sizeof(*sm));
	*sm = (struct summ){.o = o, .nby = nby, .nspec = nspec, .ntop = ntop, .nagg = nspec, .row_cols = row_cols,
			    .spec = spec, .item_spec = item_spec, .argcol = argcol, .expr_col = expr_col,
			    .argexpr = argexpr, .out = out, .in_ncols = in->ncols};
	ht_init(q, &sm->h, 64);
	if (nby > Q_MAX_ARGS)
		q_fail(q, DD_E_TOO_LARGE, o->pos, "more than %d group-by columns", Q_MAX_ARGS);
	return sm;
}

/* Adds one row; transient: the row's values live only for this call (a scan's), so what is
 * kept of it is copied. */
static void summ_add(struct qctx *q, struct summ *sm, struct qval *row, int transient)
{
	struct op *o = sm->o;
	int nby = sm->nby;
	struct qval key[Q_MAX_ARGS + 1];
	q_tick(q, o->pos);
	for (int b = 0; b < nby; b++) {
		key[b] = eval_expr(q, o->by[b].e, row);
		if (key[b].type == QT_DYNAMIC && !json_is_array(key[b].u.j) && !json_is_object(key[b].u.j))
			key[b] = qv_unwrap(key[b]);
	}
	int created;
	size_t g = ht_find(q, &sm->h, &sm->keys, nby, key, keys_hash(key, nby), &created);
	if (created) {
		if (transient) /* the keys kept for the group: its own copies */
			for (int b = 0; b < nby; b++)
				sm->keys[g * (size_t)nby + (size_t)b] = keep_value(q, key[b]);
		if (g >= sm->states_cap) {
			size_t cap = sm->states_cap ? 2 * sm->states_cap : 64;
			struct aggst **ns = q_alloc_uninit(q, sizeof(*ns) * cap);
			if (sm->states_cap)
				memcpy(ns, sm->states, sizeof(*ns) * sm->states_cap);
			sm->states = ns;
			sm->states_cap = cap;
		}
		sm->states[g] = q_alloc(q, sizeof(struct aggst) * (size_t)(sm->nagg ? sm->nagg : 1));
		q_check_rows(q, sm->h.n, o->pos);
	}
	for (int k = 0; k < sm->nagg; k++)
		agg_update(q, &sm->spec[k], &sm->states[g][k], row, transient, sm->in_ncols);
}

static struct rowset *summ_end(struct qctx *q, struct summ *sm)
{
	struct op *o = sm->o;
	int nby = sm->nby, nagg = sm->nagg, row_cols = sm->row_cols;
	struct aggspec *spec = sm->spec;
	int *item_spec = sm->item_spec, *argcol = sm->argcol, *expr_col = sm->expr_col;
	struct expr **argexpr = sm->argexpr;
	struct rowset *out = sm->out;
	struct htab h = sm->h;
	struct qval *keys = sm->keys, key[1] = {qv_null()};
	struct aggst **states = sm->states;
	/* summarize without by gives one row even over no input */
	if (nby == 0 && h.n == 0) {
		int created;
		ht_find(q, &h, &keys, 0, key, 0, &created);
		states = q_alloc(q, sizeof(*states));
		states[0] = q_alloc(q, sizeof(struct aggst) * (size_t)(nagg ? nagg : 1));
	}
	for (size_t g = 0; g < h.n; g++) {
		struct qval *r = row_new(q, row_cols);
		memcpy(r, keys + g * (size_t)nby, sizeof(*r) * (size_t)nby);
		for (int k = 0; k < nagg; k++) {
			struct aggspec *sp = &spec[k];
			struct aggst *st = &states[g][k];
			struct qval *v = &r[sp->first_col];
			switch (sp->agg->id) {
			case A_COUNT: case A_COUNTIF: case A_DCOUNT: case A_DCOUNTIF:
				*v = qv_long(st->n);
				break;
			case A_SUM: case A_SUMIF:
				if (!st->has)
					*v = qv_null();
				else if (st->isreal || sp->sum_type == QT_REAL)
					*v = qv_real(st->isreal ? st->r : (double)st->i);
				else
					*v = qv_ticks(sp->sum_type, st->i);
				break;
			case A_AVG: case A_AVGIF:
				*v = st->n ? qv_real((st->isreal ? st->r : (double)st->i) / (double)st->n) : qv_null();
				break;
			case A_MIN: case A_MAX: case A_TAKE_ANY:
				*v = st->has ? st->v : qv_null();
				break;
			case A_MAKE_SET: case A_MAKE_LIST:
				*v = qv_dyn(st->j ? st->j : q_own(q, json_array()));
				break;
			case A_MAKE_BAG:
				*v = qv_dyn(st->j ? st->j : q_own(q, json_object()));
				break;
			case A_ARG_MAX: case A_ARG_MIN:
				*v = st->has ? st->v : qv_null();
				for (int c = sp->first_col + 1; c < sp->first_col + sp->ncols; c++) {
					if (!st->row)
						r[c] = qv_null();
					else if (argexpr[c])
						r[c] = eval_expr(q, argexpr[c], st->row);
					else
						r[c] = st->row[argcol[c]];
				}
				break;
			}
		}
		for (int k = 0; k < o->nitems; k++)
			if (item_spec[k] < 0)
				r[expr_col[k]] = eval_expr(q, o->items[k].e, r);
		for (int c = nby; c < out->ncols; c++) /* strings are never null */
			if (out->cols[c].type == QT_STRING && r[c].type == QT_NULL)
				r[c] = qv_str("", 0);
		rs_push(q, out, r, o->pos);
	}
	return out;
}

static struct rowset *op_summarize(struct qctx *q, struct op *o, struct rowset *in)
{
	struct summ *sm = summ_begin(q, o, in);
	for (size_t i = 0; i < in->n; i++)
		summ_add(q, sm, in->rows[i], 0);
	return summ_end(q, sm);
}

/* ---- join ---- */

static struct rowset *op_join(struct qctx *q, struct op *o, struct rowset *left)
{
	struct rowset *right = eval_tab(q, o->tabs[0]);
	int nk = o->non;
	if (nk > Q_MAX_ARGS)
		q_fail(q, DD_E_TOO_LARGE, o->pos, "more than %d join keys", Q_MAX_ARGS);
	int lk[Q_MAX_ARGS], rk[Q_MAX_ARGS];
	for (int k = 0; k < nk; k++) {
		lk[k] = col_find(left, o->on[k].left);
		if (lk[k] < 0)
			q_fail(q, DD_E_USAGE, o->on[k].pos, "unknown column '%s' on the left side of the join", o->on[k].left);
		rk[k] = col_find(right, o->on[k].right);
		if (rk[k] < 0)
			q_fail(q, DD_E_USAGE, o->on[k].pos, "unknown column '%s' on the right side of the join", o->on[k].right);
	}
	int kind = o->join_kind;
	/* the output's columns */
	int with_left = kind != J_RIGHTANTI && kind != J_RIGHTSEMI;
	int with_right = kind != J_LEFTANTI && kind != J_LEFTSEMI;
	struct rowset *out = rs_new(q, (with_left ? left->ncols : 0) + (with_right ? right->ncols : 0));
	int nc = 0;
	if (with_left)
		for (int c = 0; c < left->ncols; c++)
			out->cols[nc++] = left->cols[c];
	int right_at = nc;
	if (with_right) {
		for (int c = 0; c < right->ncols; c++) {
			const char *name = right->cols[c].name;
			/* a name the left side has already gets a number: id -> id1 */
			for (int suffix = 1; with_left; suffix++) {
				int dup = 0;
				for (int j = 0; j < nc && !dup; j++)
					dup = !strcmp(out->cols[j].name, name);
				if (!dup)
					break;
				name = arena_printf(q->arena, "%s%d", right->cols[c].name, suffix);
			}
			out->cols[nc].name = name;
			out->cols[nc++].type = right->cols[c].type;
		}
	}
	out->ncols = nc;

	/* hash the right side by its keys; rows with a null key match nothing */
	struct htab h;
	size_t cap = 64;
	while (cap < right->n * 2 + 2)
		cap *= 2;
	ht_init(q, &h, cap);
	struct qval *keys = NULL;
	size_t *head = q_alloc_uninit(q, sizeof(size_t) * (right->n + 1));
	size_t *chain = q_alloc_uninit(q, sizeof(size_t) * (right->n + 1));
	size_t *tail = q_alloc_uninit(q, sizeof(size_t) * (right->n + 1));
	char *rmatched = q_alloc(q, right->n + 1);
	struct qval key[Q_MAX_ARGS];
	for (size_t i = 0; i < right->n; i++) {
		q_tick(q, o->pos);
		int null = 0;
		for (int k = 0; k < nk; k++) {
			key[k] = qv_unwrap(right->rows[i][rk[k]]);
			null |= qv_isnull(key[k]);
		}
		chain[i] = SIZE_MAX;
		if (null)
			continue;
		int created;
		size_t g = ht_find(q, &h, &keys, nk, key, keys_hash(key, nk), &created);
		if (created)
			head[g] = i;
		else
			chain[tail[g]] = i;
		tail[g] = i;
	}
	/* innerunique: one left row per key value, the first */
	struct htab seen;
	struct qval *seen_keys = NULL;
	if (kind == J_INNERUNIQUE)
		ht_init(q, &seen, 64);
	for (size_t i = 0; i < left->n; i++) {
		q_tick(q, o->pos);
		struct qval *lrow = left->rows[i];
		int null = 0;
		for (int k = 0; k < nk; k++) {
			key[k] = qv_unwrap(lrow[lk[k]]);
			null |= qv_isnull(key[k]);
		}
		size_t first = SIZE_MAX;
		if (!null && h.n) {
			uint64_t hv = keys_hash(key, nk);
			/* look up without adding */
			size_t s = hv & (h.cap - 1);
			for (;; s = (s + 1) & (h.cap - 1)) {
				uint32_t e = h.slot[s];
				if (!e)
					break;
				if (h.hash[e - 1] != hv)
					continue;
				int same = 1;
				for (int k = 0; k < nk && same; k++)
					same = qv_same(keys[(size_t)(e - 1) * (size_t)nk + (size_t)k], key[k]);
				if (same) {
					first = head[e - 1];
					break;
				}
			}
		}
		if (kind == J_INNERUNIQUE && !null) {
			int created;
			ht_find(q, &seen, &seen_keys, nk, key, keys_hash(key, nk), &created);
			if (!created)
				continue;
		}
		if (kind == J_LEFTANTI || kind == J_LEFTSEMI) {
			if ((first == SIZE_MAX) == (kind == J_LEFTANTI))
				rs_push(q, out, lrow, o->pos);
			continue;
		}
		for (size_t j = first; j != SIZE_MAX; j = chain[j]) {
			rmatched[j] = 1;
			if (kind == J_RIGHTANTI || kind == J_RIGHTSEMI)
				continue;
			q_tick(q, o->pos);
			struct qval *r = row_new(q, nc);
			memcpy(r, lrow, sizeof(*r) * (size_t)left->ncols);
			memcpy(r + right_at, right->rows[j], sizeof(*r) * (size_t)right->ncols);
			rs_push(q, out, r, o->pos);
		}
		if (first == SIZE_MAX && (kind == J_LEFTOUTER || kind == J_FULLOUTER)) {
			struct qval *r = row_new(q, nc);
			memcpy(r, lrow, sizeof(*r) * (size_t)left->ncols);
			for (int c = right_at; c < nc; c++)
				r[c] = out->cols[c].type == QT_STRING ? qv_str("", 0) : qv_null();
			rs_push(q, out, r, o->pos);
		}
	}
	if (kind == J_RIGHTANTI || kind == J_RIGHTSEMI || kind == J_RIGHTOUTER || kind == J_FULLOUTER) {
		for (size_t j = 0; j < right->n; j++) {
			if (kind == J_RIGHTSEMI ? !rmatched[j] : rmatched[j])
				continue;
			if (kind == J_RIGHTANTI || kind == J_RIGHTSEMI) {
				rs_push(q, out, right->rows[j], o->pos);
				continue;
			}
			struct qval *r = row_new(q, nc);
			for (int c = 0; c < right_at; c++)
				r[c] = out->cols[c].type == QT_STRING ? qv_str("", 0) : qv_null();
			memcpy(r + right_at, right->rows[j], sizeof(*r) * (size_t)right->ncols);
			rs_push(q, out, r, o->pos);
		}
	}
	return out;
}

/* ---- union ---- */

static struct rowset *op_union(struct qctx *q, struct op *o, struct rowset *in)
{
	int n = o->ntabs + (in != NULL);
	struct rowset **parts = q_alloc(q, sizeof(*parts) * (size_t)n);
	const char **names = q_alloc(q, sizeof(*names) * (size_t)n);
	int k = 0;
	if (in)
		parts[k++] = in;
	for (int i = 0; i < o->ntabs; i++) {
		names[k] = o->tabs[i]->source ? o->tabs[i]->source : "";
		parts[k++] = eval_tab(q, o->tabs[i]);
	}
	int total = o->index_name ? 1 : 0;
	for (int i = 0; i < n; i++)
		total += parts[i]->ncols;
	struct rowset *out = rs_new(q, total);
	out->ncols = 0;
	int nc = 0;
	if (o->index_name) {
		out->cols[nc].name = o->index_name;
		out->cols[nc++].type = QT_STRING;
		out->ncols = nc;
	}
	int **map = q_alloc(q, sizeof(*map) * (size_t)n);
	for (int i = 0; i < n; i++) {
		map[i] = q_alloc(q, sizeof(int) * (size_t)(parts[i]->ncols + 1));
		for (int c = 0; c < parts[i]->ncols; c++) {
			int at = col_find(out, parts[i]->cols[c].name);
			if (at < 0 || (o->index_name && at == 0)) {
				at = nc++;
				out->cols[at] = parts[i]->cols[c];
				out->ncols = nc;
			} else if (out->cols[at].type != parts[i]->cols[c].type)
				out->cols[at].type = QT_DYNAMIC;
			map[i][c] = at;
		}
		out->ncols = nc;
	}
	for (int i = 0; i < n; i++) {
		for (size_t r = 0; r < parts[i]->n; r++) {
			q_tick(q, o->pos);
			struct qval *row = row_new(q, nc);
			for (int c = 0; c < nc; c++)
				row[c] = out->cols[c].type == QT_STRING ? qv_str("", 0) : qv_null();
			if (o->index_name)
				row[0] = qv_str(names[i] ? names[i] : "", strlen(names[i] ? names[i] : ""));
			for (int c = 0; c < parts[i]->ncols; c++)
				row[map[i][c]] = parts[i]->rows[r][c];
			rs_push(q, out, row, o->pos);
		}
	}
	return out;
}

/* ---- parse ---- */

static void regex_escape(struct buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (strchr("\\^$.|?*+()[]{}", s[i]) && s[i])
			buf_append(b, "\\", 1);
		buf_append(b, s + i, 1);
	}
}

static struct rowset *op_parse(struct qctx *q, struct op *o, struct rowset *in)
{
	bind_expr(q, o->e, in, 0);
	/* the pattern as one regex: literals (escaped unless kind=regex), captures, and * */
	struct buf re;
	buf_init(&re, DD_MAX_QUERY_TEXT_BYTES * 4);
	int ncap = 0;
	for (int i = 0; i < o->nparts; i++) {
		struct pattern_part *pp = &o->parts[i];
		int last = i == o->nparts - 1;
		if (pp->kind == PP_LITERAL) {
			if (o->parse_kind == 1)
				buf_append(&re, pp->s, pp->n);
			else
				regex_escape(&re, pp->s, pp->n);
		} else if (pp->kind == PP_STAR) {
			buf_puts(&re, last ? ".*" : ".*?");
		} else {
			ncap++;
			const char *cap;
			switch (pp->type) {
			case QT_INT:
			case QT_LONG: cap = "(-?\\d+)"; break;
			case QT_REAL: cap = "(-?\\d+(?:\\.\\d+)?(?:[eE][+-]?\\d+)?)"; break;
			default: cap = last ? "(.*)" : "(.*?)";
			}
			if (o->parse_kind == 2 && (pp->type == QT_INT || pp->type == QT_LONG || pp->type == QT_REAL))
				cap = last ? "(.*)" : "(.*?)";
			buf_puts(&re, cap);
		}
	}
	if (!re.data)
		buf_puts(&re, "");
	uint32_t flags = PCRE2_ANCHORED | PCRE2_DOTALL | (o->parse_kind == 1 ? o->re_flags : 0);
	pcre2_code *code = NULL;
	{
		int errcode;
		PCRE2_SIZE off;
		code = pcre2_compile((PCRE2_SPTR)re.data, re.len, flags | PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &errcode, &off, NULL);
		buf_release(&re);
		if (!code) {
			PCRE2_UCHAR msg[120];
			pcre2_get_error_message(errcode, msg, sizeof(msg));
			q_fail(q, DD_E_USAGE, o->pos, "invalid parse pattern: %s", (char *)msg);
		}
		/* kept with the query's regexes, freed at the end */
		if (q->nregexes == q->capregexes) {
			size_t cap = q->capregexes ? 2 * q->capregexes : 16;
			pcre2_code **r = realloc(q->regexes, cap * sizeof(*r));
			if (!r) {
				pcre2_code_free(code);
				q_fail(q, DD_E_NOMEM, o->pos, "out of memory");
			}
			q->regexes = r;
			q->capregexes = cap;
		}
		q->regexes[q->nregexes++] = code;
		pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
	}
	/* the output: input columns, captures replacing columns of the same name or appended */
	struct rowset *out = rs_new(q, in->ncols + ncap);
	memcpy(out->cols, in->cols, sizeof(*in->cols) * (size_t)in->ncols);
	out->ncols = in->ncols;
	int *target = q_alloc(q, sizeof(int) * (size_t)(ncap + 1));
	int *ctype = q_alloc(q, sizeof(int) * (size_t)(ncap + 1));
	for (int i = 0, c = 0; i < o->nparts; i++) {
		if (o->parts[i].kind != PP_COLUMN)
			continue;
		int at = col_find(out, o->parts[i].s);
		if (at < 0) {
			at = out->ncols++;
			out->cols[at].name = o->parts[i].s;
		}
		out->cols[at].type = o->parts[i].type;
		ctype[c] = o->parts[i].type;
		target[c++] = at;
	}
	for (size_t i = 0; i < in->n; i++) {
		q_tick(q, o->pos);
		struct qval *r = row_new(q, out->ncols);
		memcpy(r, in->rows[i], sizeof(*r) * (size_t)in->ncols);
		for (int c = 0; c < ncap; c++)
			r[target[c]] = ctype[c] == QT_STRING ? qv_str("", 0) : qv_null();
		struct qval s = qv_tostring(q, qv_unwrap(eval_expr(q, o->e, in->rows[i])));
		int rc = pcre2_match(code, (PCRE2_SPTR)s.u.s, s.len, 0, 0, q->md, q->mctx);
		if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT || rc == PCRE2_ERROR_HEAPLIMIT)
			q_fail(q, DD_E_TOO_LARGE, o->pos, "the parse pattern needed more than its match limit");
		if (rc > 0) {
			PCRE2_SIZE *ov = pcre2_get_ovector_pointer(q->md);
			struct qval vals[Q_MAX_ARGS];
			int ok = 1;
			for (int c = 0; c < ncap && c < Q_MAX_ARGS; c++) {
				size_t b = c + 1 < rc ? ov[2 * (c + 1)] : PCRE2_UNSET, e = c + 1 < rc ? ov[2 * (c + 1) + 1] : PCRE2_UNSET;
				struct qval v = b == PCRE2_UNSET || e < b ? qv_str("", 0) : qv_str(q_strndup(q, s.u.s + b, e - b), e - b);
				if (ctype[c] != QT_STRING) {
					v = qv_convert(q, v, ctype[c]);
					if (qv_isnull(v) && o->parse_kind != 2)
						ok = 0;
				}
				vals[c] = v;
			}
			for (int c = 0; ok && c < ncap && c < Q_MAX_ARGS; c++)
				r[target[c]] = vals[c];
		}
		rs_push(q, out, r, o->pos);
	}
	return out;
}

/* ---- mv-expand ---- */

static struct qval expand_cast(struct qctx *q, struct qval v, int type)
{
	if (type < 0 || type == QT_DYNAMIC)
		return v;
	if (type == QT_STRING)
		return qv_tostring(q, v);
	struct qval u = qv_unwrap(v);
	if (u.type == QT_STRING && type != QT_DATETIME && type != QT_TIMESPAN)
		return qv_null();
	return qv_convert(q, u, type);
}

static struct rowset *op_mvexpand(struct qctx *q, struct op *o, struct rowset *in)
{
	int n = o->nitems;
	struct rowset *out = rs_new(q, in->ncols + n + 1);
	memcpy(out->cols, in->cols, sizeof(*in->cols) * (size_t)in->ncols);
	out->ncols = in->ncols;
	int *target = q_alloc(q, sizeof(int) * (size_t)(n + 1));
	for (int k = 0; k < n; k++) {
		bind_expr(q, o->items[k].e, in, 0);
		const char *name = column_name(q, &o->items[k]);
		int at = col_find(out, name);
		if (at < 0) {
			at = out->ncols++;
			out->cols[at].name = name;
		}
		out->cols[at].type = o->items[k].type >= 0 ? o->items[k].type : QT_DYNAMIC;
		target[k] = at;
	}
	int index_col = -1;
	if (o->index_name) {
		index_col = out->ncols++;
		out->cols[index_col].name = o->index_name;
		out->cols[index_col].type = QT_LONG;
	}
	struct qval vals[Q_MAX_ARGS];
	if (n > Q_MAX_ARGS)
		q_fail(q, DD_E_TOO_LARGE, o->pos, "more than %d expanded columns", Q_MAX_ARGS);
	for (size_t i = 0; i < in->n; i++) {
		q_tick(q, o->pos);
		size_t rows = 0;
		for (int k = 0; k < n; k++) {
			vals[k] = eval_expr(q, o->items[k].e, in->rows[i]);
			size_t c;
			if (vals[k].type == QT_DYNAMIC && json_is_array(vals[k].u.j))
				c = json_array_size(vals[k].u.j);
			else if (vals[k].type == QT_DYNAMIC && json_is_object(vals[k].u.j))
				c = json_object_size(vals[k].u.j);
			else
				c = 1; /* null, or a scalar: one row with it */
			if (c > rows)
				rows = c;
		}
		if (o->limit >= 0 && rows > (size_t)o->limit)
			rows = (size_t)o->limit;
		for (size_t e = 0; e < rows; e++) {
			q_tick(q, o->pos);
			struct qval *r = row_new(q, out->ncols);
			memcpy(r, in->rows[i], sizeof(*r) * (size_t)in->ncols);
			for (int k = 0; k < n; k++) {
				struct qval v = vals[k], x = qv_null();
				if (v.type == QT_DYNAMIC && json_is_array(v.u.j)) {
					x = e < json_array_size(v.u.j) ? qv_dyn(json_array_get(v.u.j, e)) : qv_null();
				} else if (v.type == QT_DYNAMIC && json_is_object(v.u.j)) {
					void *it = json_object_iter(v.u.j);
					for (size_t s = 0; it && s < e; s++)
						it = json_object_iter_next(v.u.j, it);
					if (it) {
						const char *key = json_object_iter_key(it);
						json_t *val = json_object_iter_value(it);
						json_t *pair;
						if (o->bag_kind)
							pair = json_pack("[sO]", key, val);
						else
							pair = json_pack("{sO}", key, val);
						x = qv_dyn(q_own(q, pair));
					}
				} else if (e == 0)
					x = v;
				r[target[k]] = expand_cast(q, x, o->items[k].type);
				if (out->cols[target[k]].type == QT_STRING && qv_isnull(r[target[k]]))
					r[target[k]] = qv_str("", 0);
			}
			if (index_col >= 0)
				r[index_col] = qv_long((int64_t)e);
			rs_push(q, out, r, o->pos);
		}
	}
	return out;
}

/* ---- sort, top, take, distinct, count ---- */

struct sort_ctx {
	struct sortkey *keys;
	int nkeys;
	struct qval *vals; /* nkeys per row */
};

static int sort_cmp(const struct sort_ctx *s, size_t a, size_t b)
{
	for (int k = 0; k < s->nkeys; k++) {
		struct qval x = s->vals[a * (size_t)s->nkeys + (size_t)k], y = s->vals[b * (size_t)s->nkeys + (size_t)k];
		int xn = qv_isnull(x), yn = qv_isnull(y);
		if (xn || yn) {
			if (xn && yn)
				continue;
			return (xn ? -1 : 1) * (s->keys[k].nulls_first ? 1 : -1);
		}
		int c = qv_compare(x, y);
		if (c)
			return s->keys[k].desc ? -c : c;
	}
	return 0;
}

static void merge_sort(const struct sort_ctx *s, size_t *ix, size_t *tmp, size_t n)
{
	if (n < 2)
		return;
	size_t h = n / 2;
	merge_sort(s, ix, tmp, h);
	merge_sort(s, ix + h, tmp, n - h);
	size_t i = 0, j = h, o = 0;
	while (i < h && j < n)
		tmp[o++] = sort_cmp(s, ix[j], ix[i]) < 0 ? ix[j++] : ix[i++];
	while (i < h)
		tmp[o++] = ix[i++];
	while (j < n)
		tmp[o++] = ix[j++];
	memcpy(ix, tmp, n * sizeof(*ix));
}

static int64_t const_count(struct qctx *q, struct expr *e, struct rowset *in)
{
	bind_expr(q, e, in, 0);
	struct qval v = qv_convert(q, eval_expr(q, e, NULL), QT_LONG);
	if (qv_isnull(v) || v.u.i < 0)
		q_fail(q, DD_E_USAGE, e->pos, "expected a non-negative number of rows");
	return v.u.i;
}

static struct rowset *op_sort(struct qctx *q, struct op *o, struct rowset *in, int64_t limit)
{
	struct sort_ctx s = {o->keys, o->nkeys, NULL};
	for (int k = 0; k < o->nkeys; k++)
		bind_expr(q, o->keys[k].e, in, 0);
	s.vals = q_alloc_uninit(q, sizeof(struct qval) * (in->n ? in->n : 1) * (size_t)o->nkeys);
	size_t *ix = q_alloc_uninit(q, sizeof(size_t) * (in->n + 1));
	size_t *tmp = q_alloc_uninit(q, sizeof(size_t) * (in->n + 1));
	for (size_t i = 0; i < in->n; i++) {
		q_tick(q, o->pos);
		ix[i] = i;
		for (int k = 0; k < o->nkeys; k++)
			s.vals[i * (size_t)o->nkeys + (size_t)k] = qv_unwrap(eval_expr(q, o->keys[k].e, in->rows[i]));
	}
	merge_sort(&s, ix, tmp, in->n);
	struct rowset *out = rs_new(q, in->ncols);
	memcpy(out->cols, in->cols, sizeof(*in->cols) * (size_t)in->ncols);
	size_t n = limit >= 0 && (uint64_t)limit < in->n ? (size_t)limit : in->n;
	for (size_t i = 0; i < n; i++)
		rs_push(q, out, in->rows[ix[i]], o->pos);
	return out;
}

static struct rowset *op_take(struct qctx *q, struct op *o, struct rowset *in)
{
	int64_t n = const_count(q, o->e, in);
	struct rowset *out = rs_new(q, in->ncols);
	memcpy(out->cols, in->cols, sizeof(*in->cols) * (size_t)in->ncols);
	out->rows = in->rows;
	out->n = out->cap = (uint64_t)n < in->n ? (size_t)n : in->n;
	return out;
}

static struct rowset *op_distinct(struct qctx *q, struct op *o, struct rowset *in)
{
	if (!o->star && o->nitems) { /* the groups of a summarize by its columns: one way, streamed or not */
		struct op *by = distinct_by(q, o);
		q->column_seq = 0;
		struct summ *sm = summ_begin(q, by, in);
		for (size_t i = 0; i < in->n; i++)
			summ_add(q, sm, in->rows[i], 0);
		return summ_end(q, sm);
	}
	int n = in->ncols; /* distinct *: whole rows */
	struct rowset *out = rs_new(q, n);
	for (int k = 0; k < n; k++)
		out->cols[k] = in->cols[k];
	struct htab h;
	ht_init(q, &h, 64);
	struct qval *keys = NULL;
	for (size_t i = 0; i < in->n; i++) {
		q_tick(q, o->pos);
		struct qval *r = row_new(q, n);
		for (int k = 0; k < n; k++) {
			r[k] = in->rows[i][k];
			if (r[k].type == QT_DYNAMIC && !json_is_array(r[k].u.j) && !json_is_object(r[k].u.j) &&
			    out->cols[k].type != QT_DYNAMIC)
				r[k] = qv_unwrap(r[k]);
		}
		int created;
		ht_find(q, &h, &keys, n, r, keys_hash(r, n), &created);
		if (created)
			rs_push(q, out, r, o->pos);
	}
	return out;
}

static struct rowset *op_count(struct qctx *q, struct op *o, struct rowset *in)
{
	struct rowset *out = rs_new(q, 1);
	out->cols[0].name = "Count";
	out->cols[0].type = QT_LONG;
	struct qval *r = row_new(q, 1);
	r[0] = qv_long((int64_t)in->n);
	rs_push(q, out, r, o->pos);
	return out;
}

static struct rowset *apply(struct qctx *q, struct op *o, struct rowset *in)
{
	q->column_seq = 0;
	q->op_pos = o->pos;
	switch (o->kind) {
	case O_WHERE: return op_where(q, o, in);
	case O_EXTEND: return op_extend(q, o, in);
	case O_PROJECT: return op_project(q, o, in);
	case O_PROJECT_AWAY: return op_project_away(q, o, in);
	case O_PROJECT_RENAME: return op_project_rename(q, o, in);
	case O_SUMMARIZE: return op_summarize(q, o, in);
	case O_JOIN: return op_join(q, o, in);
	case O_UNION: return op_union(q, o, in);
	case O_PARSE: return op_parse(q, o, in);
	case O_MVEXPAND: return op_mvexpand(q, o, in);
	case O_SORT: return op_sort(q, o, in, -1);
	case O_TOP: return op_sort(q, o, in, const_count(q, o->e, in));
	case O_TAKE: return op_take(q, o, in);
	case O_DISTINCT: return op_distinct(q, o, in);
	case O_COUNT: return op_count(q, o, in);
	}
	q_fail(q, DD_E_INTERNAL, o->pos, "unknown operator");
}

struct rowset *eval_tab(struct qctx *q, struct tab *t)
{
	if (++q->depth > q->lim.max_depth + 8)
		q_fail(q, DD_E_TOO_LARGE, t->pos, "query nesting deeper than %d", q->lim.max_depth);
	struct rowset *rs = NULL;
	struct op *o = t->ops;
	if (t->sub) {
		rs = eval_tab(q, t->sub);
	} else if (t->dt_ncols) {
		rs = rs_new(q, t->dt_ncols);
		for (int c = 0; c < t->dt_ncols; c++) {
			rs->cols[c].name = t->dt_cols[c].name;
			rs->cols[c].type = t->dt_cols[c].type;
		}
		for (int i = 0; i + t->dt_ncols <= t->dt_nvals; i += t->dt_ncols) {
			struct qval *r = row_new(q, t->dt_ncols);
			for (int c = 0; c < t->dt_ncols; c++) {
				struct expr *e = t->dt_vals[i + c];
				bind_expr(q, e, NULL, 0);
				r[c] = qv_convert(q, eval_expr(q, e, NULL), t->dt_cols[c].type);
			}
			rs_push(q, rs, r, t->pos);
		}
	} else if (t->print) {
		rs = rs_new(q, 0);
		rs_push(q, rs, row_new(q, 0), t->pos);
	} else if (t->source) {
		struct qlet *l;
		for (l = q->lets; l; l = l->next)
			if (!strcmp(l->name, t->source))
				break;
		if (l && l->tab) {
			if (!l->cache)
				l->cache = eval_tab(q, l->tab);
			rs = l->cache;
		} else
			rs = read_table(q, t->source, t->pos, &o);
	} else {
		/* a union starts the expression */
		rs = apply(q, o, NULL);
		o = o->next;
	}
	for (; o; o = o->next)
		rs = apply(q, o, rs);
	q->depth--;
	return rs;
}

/* ---- the API ---- */

static size_t lower_to(size_t asked, size_t dflt) { return asked && asked < dflt ? asked : dflt; }

static void release(struct qctx *q)
{
	for (size_t i = 0; i < q->nregexes; i++)
		pcre2_code_free(q->regexes[i]);
	free(q->regexes);
	if (q->md)
		pcre2_match_data_free(q->md);
	if (q->mctx)
		pcre2_match_context_free(q->mctx);
	if (q->tmp_re)
		pcre2_code_free(q->tmp_re);
}

int query_run(const char *text, size_t len, const struct query_tables *tables,
	      const struct query_limits *limits, struct query_result *out, struct query_error *err)
{
	memset(out, 0, sizeof(*out));
	struct query_error dummy;
	if (!err)
		err = &dummy;
	memset(err, 0, sizeof(*err));
	struct qctx *q = calloc(1, sizeof(*q));
	if (!q) {
		snprintf(err->message, sizeof(err->message), "out of memory");
		return DD_E_NOMEM;
	}
	struct query_limits none = {0};
	if (!limits)
		limits = &none;
	q->lim.max_text_bytes = lower_to(limits->max_text_bytes, DD_MAX_QUERY_TEXT_BYTES);
	q->lim.max_depth = (int)lower_to((size_t)(limits->max_depth > 0 ? limits->max_depth : 0), DD_MAX_QUERY_DEPTH);
	q->lim.max_rows = lower_to(limits->max_rows, DD_MAX_QUERY_ROWS);
	q->lim.max_bytes = lower_to(limits->max_bytes, DD_MAX_QUERY_BYTES);
	q->lim.max_millis = (int64_t)lower_to((size_t)(limits->max_millis > 0 ? limits->max_millis : 0), DD_MAX_QUERY_MILLIS);
	q->err = err;
	q->text = text;
	q->len = len;
	q->tables = tables;
	q->arena = &out->arena;
	q->start_ms = q_clock_ms();
	if (limits->now)
		q->now = limits->now;
	else {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		q->now = (int64_t)ts.tv_sec * QT_TICKS_PER_SECOND + ts.tv_nsec / 100;
	}
	if (setjmp(q->jb)) {
		int code = q->code ? q->code : DD_E_INTERNAL;
		release(q);
		for (size_t i = 0; i < q->nowned; i++)
			json_decref(q->owned[i]);
		free(q->owned);
		free(q);
		arena_free(&out->arena);
		memset(out, 0, sizeof(*out));
		return code;
	}
	if (len > q->lim.max_text_bytes)
		q_fail(q, DD_E_TOO_LARGE, 0, "query text longer than %zu bytes", q->lim.max_text_bytes);
	q->md = pcre2_match_data_create(Q_MAX_ARGS + 1, NULL);
	if (!q->md)
		q_fail(q, DD_E_NOMEM, Q_HERE, "out of memory");
	struct tab *t = parse_query(q);
	struct usage *u = q_alloc(q, sizeof(*u));
	for (struct qlet *l = q->lets; l; l = l->next) {
		use_expr(q, u, l->scalar);
		use_tab(q, u, l->tab, 1);
	}
	use_tab(q, u, t, 1);
	q->usage = u;
	q->depth = 0;
	struct rowset *rs = eval_tab(q, t);
	out->ncolumns = (size_t)rs->ncols;
	out->columns = q_alloc(q, sizeof(*out->columns) * (size_t)(rs->ncols ? rs->ncols : 1));
	for (int c = 0; c < rs->ncols; c++) {
		out->columns[c].name = rs->cols[c].name;
		out->columns[c].type = rs->cols[c].type == QT_NULL ? QT_DYNAMIC : rs->cols[c].type;
	}
	out->nrows = rs->n;
	out->rows = rs->rows;
	out->owned = q->owned;
	out->nowned = q->nowned;
	release(q);
	free(q);
	return 0;
}

void query_result_free(struct query_result *r)
{
	for (size_t i = 0; i < r->nowned; i++)
		json_decref(r->owned[i]);
	free(r->owned);
	arena_free(&r->arena);
	memset(r, 0, sizeof(*r));
}
