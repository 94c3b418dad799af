/* parser.c: Kusto query text to a syntax tree (queryInt.h). Recursive descent with one token
 * of lookahead (two for "name ="), bounded by the nesting limit. Every syntax error names
 * what was expected and what was found, at the found token's line and column. Names are
 * resolved later (bind_expr in scalar.c), except that a let or a table name starting a
 * tabular expression is recognised here. */
#include "common/dd.h"
#include "query/queryInt.h"

struct parser {
	struct qctx *q;
	struct lexer lx;
	struct token t;
};

static void next(struct parser *p) { lex_next(&p->lx, &p->t); }

static _Noreturn void expected(struct parser *p, const char *what)
{
	q_fail(p->q, DD_E_USAGE, p->t.pos, "expected %s but found %s", what, tok_describe(p->q, &p->t));
}

static int is_punct(const struct parser *p, const char *s)
{
	return p->t.kind == TK_PUNCT && !strcmp(p->t.s, s);
}

static int is_word(const struct parser *p, const char *s)
{
	return p->t.kind == TK_IDENT && !strcmp(p->t.s, s);
}

static void want_punct(struct parser *p, const char *s)
{
	if (!is_punct(p, s)) {
		char what[16];
		snprintf(what, sizeof(what), "'%s'", s);
		expected(p, what);
	}
	next(p);
}

static int accept_punct(struct parser *p, const char *s)
{
	if (!is_punct(p, s))
		return 0;
	next(p);
	return 1;
}

static int accept_word(struct parser *p, const char *s)
{
	if (!is_word(p, s))
		return 0;
	next(p);
	return 1;
}

/* The token after the current one, without consuming anything. */
static struct token peek(struct parser *p)
{
	struct lexer copy = p->lx;
	struct token t;
	lex_next(&copy, &t);
	return t;
}

static void enter(struct parser *p)
{
	if (++p->q->depth > p->q->lim.max_depth)
		q_fail(p->q, DD_E_TOO_LARGE, p->t.pos, "query nesting deeper than %d", p->q->lim.max_depth);
}

static void leave(struct parser *p) { p->q->depth--; }

/* A name: an identifier, or ['name'] / ["name"]. */
static int at_name(struct parser *p)
{
	if (p->t.kind == TK_IDENT && p->t.s[0] != '!' && p->t.s[0] != '$')
		return 1;
	if (is_punct(p, "[")) {
		struct token t = peek(p);
		return t.kind == TK_STRING;
	}
	return 0;
}

static const char *want_name(struct parser *p, const char *what)
{
	if (p->t.kind == TK_IDENT && p->t.s[0] != '!' && p->t.s[0] != '$') {
		const char *s = p->t.s;
		next(p);
		return s;
	}
	if (is_punct(p, "[")) {
		next(p);
		if (p->t.kind != TK_STRING)
			expected(p, "a quoted name");
		const char *s = p->t.s;
		next(p);
		want_punct(p, "]");
		return s;
	}
	expected(p, what);
}

static struct expr *new_expr(struct parser *p, int kind, size_t pos)
{
	struct expr *e = q_alloc(p->q, sizeof(*e));
	e->kind = (uint8_t)kind;
	e->pos = pos;
	e->col = -1;
	return e;
}

static struct expr *parse_expr(struct parser *p);
static struct tab *parse_tabular(struct parser *p);

/* The raw text between '(' and its ')' after a literal's type name: datetime(2024-01-01),
 * time(1.02:03:04), dynamic({"a": [1, 'b']}). Strings inside are skipped whole. */
static const char *raw_parens(struct parser *p, size_t *len, size_t *pos)
{
	struct lexer *lx = &p->lx;
	while (lx->p < lx->n && isspace((unsigned char)lx->s[lx->p]))
		lx->p++;
	if (lx->p >= lx->n || lx->s[lx->p] != '(') {
		next(p);
		expected(p, "'('");
	}
	size_t start = ++lx->p;
	int depth = 0;
	while (lx->p < lx->n) {
		char c = lx->s[lx->p];
		if (c == '\'' || c == '"') {
			size_t q = lx->p + 1;
			while (q < lx->n && lx->s[q] != c) {
				if (lx->s[q] == '\\')
					q++;
				q++;
			}
			if (q >= lx->n)
				break;
			lx->p = q + 1;
			continue;
		}
		if (c == '(' || c == '[' || c == '{')
			depth++;
		else if (c == ']' || c == '}')
			depth--;
		else if (c == ')') {
			if (depth == 0) {
				*len = lx->p - start;
				*pos = start;
				lx->p++;
				next(p);
				const char *s = lx->s + start;
				while (*len && isspace((unsigned char)s[0])) {
					s++;
					(*len)--;
					(*pos)++;
				}
				while (*len && isspace((unsigned char)s[*len - 1]))
					(*len)--;
				return s;
			}
			depth--;
		}
		lx->p++;
	}
	q_fail(p->q, DD_E_USAGE, start - 1, "expected ')' closing the literal but found end of query");
}

static int raw_is_null(const char *s, size_t n) { return n == 4 && !memcmp(s, "null", 4); }

/* dynamic(...) text to JSON: KQL allows 'single-quoted' strings, JSON does not. */
static struct qval dynamic_literal(struct parser *p, const char *s, size_t n, size_t pos)
{
	char *j = q_alloc_uninit(p->q, 2 * n + 1);
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\'') {
			char quote = s[i];
			j[o++] = '"';
			for (i++; i < n && s[i] != quote; i++) {
				if (s[i] == '\\' && i + 1 < n) {
					if (s[i + 1] == '\'') {
						j[o++] = '\'';
					} else {
						j[o++] = s[i];
						j[o++] = s[i + 1];
					}
					i++;
				} else if (s[i] == '"') {
					j[o++] = '\\';
					j[o++] = '"';
				} else
					j[o++] = s[i];
			}
			j[o++] = '"';
		} else
			j[o++] = s[i];
	}
	json_error_t jerr;
	json_t *v = json_loadb(j, o, JSON_DECODE_ANY, &jerr);
	if (!v)
		q_fail(p->q, DD_E_USAGE, pos, "invalid dynamic literal: %s", jerr.text);
	if (json_is_null(v)) {
		json_decref(v);
		return qv_null();
	}
	return qv_dyn(q_own(p->q, v));
}

static struct expr *typed_literal(struct parser *p, int type, size_t pos)
{
	size_t n, rpos;
	const char *s = raw_parens(p, &n, &rpos);
	struct expr *e = new_expr(p, E_LIT, pos);
	e->type = (uint8_t)type;
	if (type == QT_DYNAMIC) {
		e->lit = dynamic_literal(p, s, n, rpos);
		return e;
	}
	if (raw_is_null(s, n))
		return e; /* a typed null */
	if (n >= 2 && (s[0] == '"' || s[0] == '\'') && s[n - 1] == s[0]) {
		s++;
		n -= 2;
	}
	char *copy = q_strndup(p->q, s, n);
	int64_t ticks;
	switch (type) {
	case QT_DATETIME:
		if (parse_datetime(copy, n, &ticks))
			q_fail(p->q, DD_E_USAGE, rpos, "invalid datetime literal");
		e->lit = qv_ticks(QT_DATETIME, ticks);
		break;
	case QT_TIMESPAN: {
		if (lex_timespan(copy, n, &ticks) && parse_timespan(copy, n, &ticks))
			q_fail(p->q, DD_E_USAGE, rpos, "invalid timespan literal");
		e->lit = qv_ticks(QT_TIMESPAN, ticks);
		break;
	}
	default: {
		struct qval v = qv_convert(p->q, qv_str(copy, n), type);
		if (v.type == QT_NULL && type != QT_STRING)
			q_fail(p->q, DD_E_USAGE, rpos, "invalid %s literal", query_type_name(type));
		e->lit = v;
	}
	}
	return e;
}

static struct expr *parse_call(struct parser *p, const char *name, size_t pos)
{
	struct expr *e = new_expr(p, E_CALL, pos);
	e->name = name;
	want_punct(p, "(");
	struct expr *args[Q_MAX_ARGS];
	int n = 0;
	if (!is_punct(p, ")")) {
		for (;;) {
			if (n == Q_MAX_ARGS)
				q_fail(p->q, DD_E_TOO_LARGE, p->t.pos, "more than %d arguments", Q_MAX_ARGS);
			if (is_punct(p, "*")) {
				args[n++] = new_expr(p, E_STAR, p->t.pos);
				next(p);
			} else
				args[n++] = parse_expr(p);
			if (!accept_punct(p, ","))
				break;
		}
	}
	want_punct(p, ")");
	e->nargs = n;
	e->args = q_alloc(p->q, sizeof(*args) * (size_t)(n ? n : 1));
	memcpy(e->args, args, sizeof(*args) * (size_t)n);
	return e;
}

static struct expr *parse_primary(struct parser *p)
{
	struct token t = p->t;
	struct expr *e;
	switch (t.kind) {
	case TK_LONG:
		e = new_expr(p, E_LIT, t.pos);
		e->lit = qv_long(t.i);
		next(p);
		return e;
	case TK_REAL:
		e = new_expr(p, E_LIT, t.pos);
		e->lit = qv_real(t.r);
		next(p);
		return e;
	case TK_TIMESPAN:
		e = new_expr(p, E_LIT, t.pos);
		e->lit = qv_ticks(QT_TIMESPAN, t.i);
		next(p);
		return e;
	case TK_STRING:
		e = new_expr(p, E_LIT, t.pos);
		e->lit = qv_str(t.s, t.slen);
		next(p);
		return e;
	case TK_IDENT: {
		if (t.s[0] == '!' || t.s[0] == '$')
			expected(p, "an expression");
		if (!strcmp(t.s, "true") || !strcmp(t.s, "false")) {
			e = new_expr(p, E_LIT, t.pos);
			e->lit = qv_bool(t.s[0] == 't');
			next(p);
			return e;
		}
		if (!strcmp(t.s, "null")) { /* not Kusto, but harmless: an untyped null */
			e = new_expr(p, E_LIT, t.pos);
			next(p);
			return e;
		}
		/* look at the raw text after the name: a type's literal, or a call */
		size_t q = p->lx.p;
		while (q < p->lx.n && isspace((unsigned char)p->lx.s[q]))
			q++;
		int paren = q < p->lx.n && p->lx.s[q] == '(';
		int type = query_type_parse(t.s, t.slen);
		if (paren && type >= 0)
			return typed_literal(p, type, t.pos);
		next(p);
		if (paren)
			return parse_call(p, t.s, t.pos);
		e = new_expr(p, E_COL, t.pos);
		e->name = t.s;
		return e;
	}
	case TK_PUNCT:
		if (is_punct(p, "(")) {
			next(p);
			e = parse_expr(p);
			want_punct(p, ")");
			return e;
		}
		if (is_punct(p, "[")) {
			e = new_expr(p, E_COL, t.pos);
			e->name = want_name(p, "a name");
			return e;
		}
		break;
	}
	expected(p, "an expression");
}

static struct expr *parse_postfix(struct parser *p)
{
	struct expr *e = parse_primary(p);
	for (;;) {
		size_t pos = p->t.pos;
		if (accept_punct(p, ".")) {
			struct expr *m = new_expr(p, E_MEMBER, pos);
			m->a = e;
			if (p->t.kind == TK_IDENT && p->t.s[0] != '!' && p->t.s[0] != '$') {
				m->name = p->t.s;
				next(p);
			} else if (is_punct(p, "[")) {
				next(p);
				if (p->t.kind != TK_STRING)
					expected(p, "a quoted property name");
				m->name = p->t.s;
				next(p);
				want_punct(p, "]");
			} else
				expected(p, "a property name");
			e = m;
		} else if (accept_punct(p, "[")) {
			struct expr *x = new_expr(p, E_INDEX, pos);
			x->a = e;
			x->b = parse_expr(p);
			want_punct(p, "]");
			e = x;
		} else
			return e;
	}
}

static struct expr *parse_unary(struct parser *p)
{
	if (is_punct(p, "-") || is_punct(p, "+")) {
		size_t pos = p->t.pos;
		int neg = is_punct(p, "-");
		next(p);
		enter(p);
		struct expr *a = parse_unary(p);
		leave(p);
		if (!neg)
			return a;
		if (a->kind == E_LIT && (a->lit.type == QT_LONG || a->lit.type == QT_TIMESPAN)) {
			a->lit.u.i = (int64_t)(0 - (uint64_t)a->lit.u.i);
			a->pos = pos;
			return a;
		}
		if (a->kind == E_LIT && a->lit.type == QT_REAL) {
			a->lit.u.r = -a->lit.u.r;
			a->pos = pos;
			return a;
		}
		struct expr *e = new_expr(p, E_NEG, pos);
		e->a = a;
		return e;
	}
	return parse_postfix(p);
}

static struct expr *binary(struct parser *p, int op, size_t pos, struct expr *a, struct expr *b)
{
	struct expr *e = new_expr(p, E_BIN, pos);
	e->op = (uint8_t)op;
	e->a = a;
	e->b = b;
	return e;
}

static struct expr *parse_mul(struct parser *p)
{
	struct expr *e = parse_unary(p);
	for (;;) {
		size_t pos = p->t.pos;
		int op = is_punct(p, "*") ? OP_MUL : is_punct(p, "/") ? OP_DIV : is_punct(p, "%") ? OP_MOD : -1;
		if (op < 0)
			return e;
		next(p);
		e = binary(p, op, pos, e, parse_unary(p));
	}
}

static struct expr *parse_add(struct parser *p)
{
	struct expr *e = parse_mul(p);
	for (;;) {
		size_t pos = p->t.pos;
		int op = is_punct(p, "+") ? OP_ADD : is_punct(p, "-") ? OP_SUB : -1;
		if (op < 0)
			return e;
		next(p);
		e = binary(p, op, pos, e, parse_mul(p));
	}
}

static const struct {
	const char *name;
	uint8_t strop, cs;
} strops[] = {
	{"contains", SO_CONTAINS, 0}, {"contains_cs", SO_CONTAINS, 1},
	{"has", SO_HAS, 0}, {"has_cs", SO_HAS, 1},
	{"startswith", SO_STARTS, 0}, {"startswith_cs", SO_STARTS, 1},
	{"endswith", SO_ENDS, 0}, {"endswith_cs", SO_ENDS, 1},
	{"hasprefix", SO_HASPREFIX, 0}, {"hasprefix_cs", SO_HASPREFIX, 1},
	{"hassuffix", SO_HASSUFFIX, 0}, {"hassuffix_cs", SO_HASSUFFIX, 1},
};

static struct expr *parse_cmp(struct parser *p)
{
	struct expr *e = parse_add(p);
	size_t pos = p->t.pos;
	static const struct {
		const char *s;
		int op;
	} cmps[] = {{"==", OP_EQ}, {"!=", OP_NE}, {"<>", OP_NE}, {"<", OP_LT}, {"<=", OP_LE},
		    {">", OP_GT}, {">=", OP_GE}, {"=~", OP_EQI}, {"!~", OP_NEI}};
	if (p->t.kind == TK_PUNCT) {
		for (size_t i = 0; i < DD_ARRAY_LEN(cmps); i++) {
			if (!strcmp(p->t.s, cmps[i].s)) {
				next(p);
				return binary(p, cmps[i].op, pos, e, parse_add(p));
			}
		}
		return e;
	}
	if (p->t.kind != TK_IDENT)
		return e;
	const char *w = p->t.s;
	int neg = w[0] == '!';
	const char *base = w + neg;
	for (size_t i = 0; i < DD_ARRAY_LEN(strops); i++) {
		if (!strcmp(base, strops[i].name)) {
			next(p);
			struct expr *b = binary(p, OP_STROP, pos, e, parse_add(p));
			b->strop = strops[i].strop;
			b->cs = strops[i].cs;
			b->neg = (uint8_t)neg;
			return b;
		}
	}
	int hasany = !neg && (!strcmp(w, "has_any") || !strcmp(w, "has_all"));
	if (!strcmp(base, "in") || !strcmp(base, "in~") || hasany) {
		next(p);
		struct expr *in = new_expr(p, hasany ? E_HASANY : E_IN, pos);
		in->a = e;
		in->neg = (uint8_t)(hasany ? !strcmp(w, "has_all") : neg);
		in->cs = base[2] != '~';
		want_punct(p, "(");
		struct expr *args[Q_MAX_ARGS];
		int n = 0;
		do {
			if (n == Q_MAX_ARGS)
				q_fail(p->q, DD_E_TOO_LARGE, p->t.pos, "more than %d values after 'in'", Q_MAX_ARGS);
			args[n++] = parse_expr(p);
		} while (accept_punct(p, ","));
		want_punct(p, ")");
		in->nargs = n;
		in->args = q_alloc(p->q, sizeof(*args) * (size_t)n);
		memcpy(in->args, args, sizeof(*args) * (size_t)n);
		return in;
	}
	if (!strcmp(base, "between")) {
		next(p);
		struct expr *b = new_expr(p, E_BETWEEN, pos);
		b->a = e;
		b->neg = (uint8_t)neg;
		want_punct(p, "(");
		b->b = parse_add(p);
		want_punct(p, "..");
		b->c = parse_add(p);
		want_punct(p, ")");
		return b;
	}
	if (!neg && !strcmp(w, "matches")) {
		next(p);
		if (!accept_word(p, "regex"))
			expected(p, "'regex' after 'matches'");
		return binary(p, OP_MATCHES, pos, e, parse_add(p));
	}
	return e;
}

static struct expr *parse_and(struct parser *p)
{
	struct expr *e = parse_cmp(p);
	while (is_word(p, "and")) {
		size_t pos = p->t.pos;
		next(p);
		e = binary(p, OP_AND, pos, e, parse_cmp(p));
	}
	return e;
}

static struct expr *parse_expr(struct parser *p)
{
	enter(p);
	struct expr *e = parse_and(p);
	while (is_word(p, "or")) {
		size_t pos = p->t.pos;
		next(p);
		e = binary(p, OP_OR, pos, e, parse_and(p));
	}
	leave(p);
	return e;
}

/* ---- tabular operators ---- */

static struct op *new_op(struct parser *p, int kind, size_t pos)
{
	struct op *o = q_alloc(p->q, sizeof(*o));
	o->kind = kind;
	o->pos = pos;
	o->limit = -1;
	return o;
}

/* Grows an arena array by one element. */
static void *grow(struct parser *p, void *arr, int n, size_t size)
{
	if (n && (n & (n - 1)))
		return arr;
	void *b = q_alloc(p->q, size * (size_t)(n ? 2 * n : 4));
	if (n)
		memcpy(b, arr, size * (size_t)n);
	return b;
}

/* [name =] expr, ... ; named: a name is required. */
static void parse_assigns(struct parser *p, struct op *o, int named, int stop_at_by)
{
	do {
		if (stop_at_by && is_word(p, "by"))
			break;
		struct assign a = {.pos = p->t.pos, .type = -1};
		if (at_name(p)) {
			struct lexer save = p->lx;
			struct token t = p->t;
			const char *name = want_name(p, "a name");
			if (is_punct(p, "=")) {
				next(p);
				a.name = name;
			} else {
				p->lx = save;
				p->t = t;
			}
		}
		if (named && !a.name)
			expected(p, "'name = expression'");
		a.e = parse_expr(p);
		o->items = grow(p, o->items, o->nitems, sizeof(a));
		o->items[o->nitems++] = a;
	} while (accept_punct(p, ","));
}

/* Column names, each possibly with * wildcards written touching it: prop*, *Id. */
static void parse_names(struct parser *p, struct op *o)
{
	do {
		struct assign a = {.pos = p->t.pos, .type = -1};
		struct expr *e = new_expr(p, E_COL, p->t.pos);
		if (is_punct(p, "[")) {
			e->name = want_name(p, "a column name");
		} else {
			char buf[256];
			size_t n = 0, end = p->t.pos;
			while ((is_punct(p, "*") || (p->t.kind == TK_IDENT && p->t.s[0] != '!' && p->t.s[0] != '$')) &&
			       p->t.pos == end) {
				size_t l = p->t.slen;
				if (n + l >= sizeof(buf))
					q_fail(p->q, DD_E_USAGE, a.pos, "column name too long");
				memcpy(buf + n, p->t.s, l);
				n += l;
				end = p->t.pos + p->t.len;
				next(p);
			}
			if (!n)
				expected(p, "a column name");
			e->name = q_strndup(p->q, buf, n);
		}
		a.e = e;
		o->items = grow(p, o->items, o->nitems, sizeof(a));
		o->items[o->nitems++] = a;
	} while (accept_punct(p, ","));
}

static void parse_sortkeys(struct parser *p, struct op *o)
{
	do {
		struct sortkey k = {.desc = 1};
		k.e = parse_expr(p);
		if (accept_word(p, "asc"))
			k.desc = 0;
		else
			accept_word(p, "desc");
		k.nulls_first = !k.desc;
		if (accept_word(p, "nulls")) {
			if (accept_word(p, "first"))
				k.nulls_first = 1;
			else if (accept_word(p, "last"))
				k.nulls_first = 0;
			else
				expected(p, "'first' or 'last'");
		}
		o->keys = grow(p, o->keys, o->nkeys, sizeof(k));
		o->keys[o->nkeys++] = k;
	} while (accept_punct(p, ","));
}

/* kind=x, hint.y=z ... before an operator's arguments; returns the value of kind or NULL. */
static const char *parse_option(struct parser *p, const char *key)
{
	if (!is_word(p, key))
		return NULL;
	struct token t = peek(p);
	if (t.kind != TK_PUNCT || strcmp(t.s, "="))
		return NULL;
	next(p);
	next(p);
	if (p->t.kind != TK_IDENT && p->t.kind != TK_STRING)
		expected(p, "an option value");
	const char *v = p->t.s;
	next(p);
	return v;
}

static void skip_hints(struct parser *p)
{
	while (p->t.kind == TK_IDENT && !strncmp(p->t.s, "hint", 4)) {
		struct token t = peek(p);
		if (t.kind != TK_PUNCT || (strcmp(t.s, ".") && strcmp(t.s, "=")))
			return;
		next(p);
		while (accept_punct(p, ".")) {
			if (p->t.kind != TK_IDENT)
				expected(p, "a hint name");
			next(p);
		}
		want_punct(p, "=");
		if (p->t.kind == TK_EOF || p->t.kind == TK_PUNCT)
			expected(p, "a hint value");
		next(p);
	}
}

static struct tab *parse_tab_operand(struct parser *p)
{
	if (is_punct(p, "(")) {
		next(p);
		struct tab *t = parse_tabular(p);
		want_punct(p, ")");
		return t;
	}
	struct tab *t = q_alloc(p->q, sizeof(*t));
	t->pos = p->t.pos;
	t->source = want_name(p, "a table name or '('");
	return t;
}

static struct op *parse_join(struct parser *p, size_t pos)
{
	struct op *o = new_op(p, O_JOIN, pos);
	static const struct {
		const char *name;
		int kind;
	} kinds[] = {{"innerunique", J_INNERUNIQUE}, {"inner", J_INNER}, {"leftouter", J_LEFTOUTER},
		     {"rightouter", J_RIGHTOUTER}, {"fullouter", J_FULLOUTER}, {"leftanti", J_LEFTANTI},
		     {"anti", J_LEFTANTI}, {"leftantisemi", J_LEFTANTI}, {"rightanti", J_RIGHTANTI},
		     {"rightantisemi", J_RIGHTANTI}, {"leftsemi", J_LEFTSEMI}, {"rightsemi", J_RIGHTSEMI}};
	o->join_kind = J_INNERUNIQUE;
	for (;;) {
		skip_hints(p);
		size_t kpos = p->t.pos;
		const char *k = parse_option(p, "kind");
		if (!k)
			break;
		size_t i;
		for (i = 0; i < DD_ARRAY_LEN(kinds); i++)
			if (!strcmp(k, kinds[i].name))
				break;
		if (i == DD_ARRAY_LEN(kinds))
			q_fail(p->q, DD_E_USAGE, kpos, "unknown join kind '%s'", k);
		o->join_kind = kinds[i].kind;
	}
	o->tabs = q_alloc(p->q, sizeof(*o->tabs));
	o->tabs[0] = parse_tab_operand(p);
	o->ntabs = 1;
	if (!accept_word(p, "on"))
		expected(p, "'on'");
	do {
		struct joinkey k = {.pos = p->t.pos};
		if (is_word(p, "$left") || is_word(p, "$right")) {
			int left_first = is_word(p, "$left");
			next(p);
			want_punct(p, ".");
			const char *a = want_name(p, "a column name");
			want_punct(p, "==");
			if (!accept_word(p, left_first ? "$right" : "$left"))
				expected(p, left_first ? "'$right'" : "'$left'");
			want_punct(p, ".");
			const char *b = want_name(p, "a column name");
			k.left = left_first ? a : b;
			k.right = left_first ? b : a;
		} else
			k.left = k.right = want_name(p, "a column name or '$left'");
		o->on = grow(p, o->on, o->non, sizeof(k));
		o->on[o->non++] = k;
	} while (accept_punct(p, ","));
	return o;
}

static int type_name(struct parser *p)
{
	if (p->t.kind != TK_IDENT)
		expected(p, "a type name");
	int type = query_type_parse(p->t.s, p->t.slen);
	if (type < 0)
		expected(p, "a type name");
	next(p);
	return type;
}

static struct op *parse_parse(struct parser *p, size_t pos)
{
	struct op *o = new_op(p, O_PARSE, pos);
	for (;;) {
		size_t kpos = p->t.pos;
		const char *k = parse_option(p, "kind");
		if (k) {
			if (!strcmp(k, "simple"))
				o->parse_kind = 0;
			else if (!strcmp(k, "regex"))
				o->parse_kind = 1;
			else if (!strcmp(k, "relaxed"))
				o->parse_kind = 2;
			else
				q_fail(p->q, DD_E_USAGE, kpos, "unknown parse kind '%s'", k);
			continue;
		}
		const char *f = parse_option(p, "flags");
		if (!f)
			break;
		for (; *f; f++) {
			switch (*f) {
			case 'i': o->re_flags |= PCRE2_CASELESS; break;
			case 'm': o->re_flags |= PCRE2_MULTILINE; break;
			case 's': o->re_flags |= PCRE2_DOTALL; break;
			case 'U': o->re_flags |= PCRE2_UNGREEDY; break;
			default: q_fail(p->q, DD_E_USAGE, kpos, "unknown regex flag '%c'", *f);
			}
		}
	}
	o->e = parse_add(p);
	if (!accept_word(p, "with"))
		expected(p, "'with'");
	for (;;) {
		struct pattern_part part = {.pos = p->t.pos, .type = QT_STRING};
		if (p->t.kind == TK_STRING) {
			part.kind = PP_LITERAL;
			part.s = p->t.s;
			part.n = p->t.slen;
			next(p);
		} else if (is_punct(p, "*")) {
			part.kind = PP_STAR;
			next(p);
		} else if (at_name(p)) {
			part.kind = PP_COLUMN;
			part.s = want_name(p, "a column name");
			if (accept_punct(p, ":"))
				part.type = type_name(p);
		} else if (is_punct(p, ",") && o->nparts) {
			next(p);
			continue;
		} else
			break;
		o->parts = grow(p, o->parts, o->nparts, sizeof(part));
		o->parts[o->nparts++] = part;
	}
	if (!o->nparts)
		expected(p, "a parse pattern");
	return o;
}

static struct op *parse_mvexpand(struct parser *p, size_t pos)
{
	struct op *o = new_op(p, O_MVEXPAND, pos);
	for (;;) {
		size_t kpos = p->t.pos;
		const char *k = parse_option(p, "kind");
		if (!k)
			k = parse_option(p, "bagexpansion");
		if (k) {
			if (strcmp(k, "bag") && strcmp(k, "array"))
				q_fail(p->q, DD_E_USAGE, kpos, "expected 'bag' or 'array'");
			o->bag_kind = !strcmp(k, "array");
			continue;
		}
		const char *ix = parse_option(p, "with_itemindex");
		if (!ix)
			break;
		o->index_name = ix;
	}
	do {
		struct assign a = {.pos = p->t.pos, .type = -1};
		if (at_name(p)) {
			struct lexer save = p->lx;
			struct token t = p->t;
			const char *name = want_name(p, "a name");
			if (accept_punct(p, "="))
				a.name = name;
			else {
				p->lx = save;
				p->t = t;
			}
		}
		a.e = parse_expr(p);
		if (accept_word(p, "to")) {
			if (!accept_word(p, "typeof"))
				expected(p, "'typeof'");
			want_punct(p, "(");
			a.type = type_name(p);
			want_punct(p, ")");
		}
		o->items = grow(p, o->items, o->nitems, sizeof(a));
		o->items[o->nitems++] = a;
	} while (accept_punct(p, ","));
	if (accept_word(p, "limit")) {
		if (p->t.kind != TK_LONG || p->t.i < 0)
			expected(p, "a row limit");
		o->limit = p->t.i;
		next(p);
	}
	return o;
}

static struct op *parse_union(struct parser *p, size_t pos)
{
	struct op *o = new_op(p, O_UNION, pos);
	for (;;) {
		if (parse_option(p, "kind") || parse_option(p, "isfuzzy"))
			continue;
		const char *ws = parse_option(p, "withsource");
		if (!ws)
			break;
		o->index_name = ws;
	}
	do {
		o->tabs = grow(p, o->tabs, o->ntabs, sizeof(*o->tabs));
		o->tabs[o->ntabs++] = parse_tab_operand(p);
	} while (accept_punct(p, ","));
	return o;
}

static struct op *parse_operator(struct parser *p)
{
	size_t pos = p->t.pos;
	if (p->t.kind != TK_IDENT)
		expected(p, "a query operator");
	const char *w = p->t.s;
	struct op *o;
	if (!strcmp(w, "where") || !strcmp(w, "filter")) {
		next(p);
		o = new_op(p, O_WHERE, pos);
		o->e = parse_expr(p);
	} else if (!strcmp(w, "extend")) {
		next(p);
		o = new_op(p, O_EXTEND, pos);
		parse_assigns(p, o, 0, 0);
	} else if (!strcmp(w, "project")) {
		next(p);
		o = new_op(p, O_PROJECT, pos);
		parse_assigns(p, o, 0, 0);
	} else if (!strcmp(w, "project-away")) {
		next(p);
		o = new_op(p, O_PROJECT_AWAY, pos);
		parse_names(p, o);
	} else if (!strcmp(w, "project-rename")) {
		next(p);
		o = new_op(p, O_PROJECT_RENAME, pos);
		do {
			struct assign a = {.pos = p->t.pos, .type = -1};
			a.name = want_name(p, "a new column name");
			want_punct(p, "=");
			a.e = new_expr(p, E_COL, p->t.pos);
			a.e->name = want_name(p, "a column name");
			o->items = grow(p, o->items, o->nitems, sizeof(a));
			o->items[o->nitems++] = a;
		} while (accept_punct(p, ","));
	} else if (!strcmp(w, "summarize")) {
		next(p);
		o = new_op(p, O_SUMMARIZE, pos);
		skip_hints(p);
		if (!is_word(p, "by"))
			parse_assigns(p, o, 0, 1);
		if (accept_word(p, "by")) {
			struct op tmp = {0};
			parse_assigns(p, &tmp, 0, 0);
			o->by = tmp.items;
			o->nby = tmp.nitems;
		} else if (!o->nitems)
			expected(p, "an aggregate or 'by'");
	} else if (!strcmp(w, "join")) {
		next(p);
		o = parse_join(p, pos);
	} else if (!strcmp(w, "union")) {
		next(p);
		o = parse_union(p, pos);
	} else if (!strcmp(w, "parse")) {
		next(p);
		o = parse_parse(p, pos);
	} else if (!strcmp(w, "mv-expand")) {
		next(p);
		o = parse_mvexpand(p, pos);
	} else if (!strcmp(w, "order") || !strcmp(w, "sort")) {
		next(p);
		if (!accept_word(p, "by"))
			expected(p, "'by'");
		o = new_op(p, O_SORT, pos);
		parse_sortkeys(p, o);
	} else if (!strcmp(w, "top")) {
		next(p);
		o = new_op(p, O_TOP, pos);
		o->e = parse_add(p);
		if (!accept_word(p, "by"))
			expected(p, "'by'");
		parse_sortkeys(p, o);
	} else if (!strcmp(w, "take") || !strcmp(w, "limit")) {
		next(p);
		o = new_op(p, O_TAKE, pos);
		o->e = parse_add(p);
	} else if (!strcmp(w, "distinct")) {
		next(p);
		o = new_op(p, O_DISTINCT, pos);
		if (accept_punct(p, "*"))
			o->star = 1;
		else
			parse_assigns(p, o, 0, 0);
	} else if (!strcmp(w, "count")) {
		next(p);
		o = new_op(p, O_COUNT, pos);
	} else
		q_fail(p->q, DD_E_USAGE, pos, "unknown query operator '%s'", w);
	return o;
}

/* datatable(name:type, ...) [value, ...]: the values row by row, each a constant. */
static void parse_datatable(struct parser *p, struct tab *t)
{
	want_punct(p, "(");
	do {
		struct assign a = {.pos = p->t.pos};
		a.name = want_name(p, "a column name");
		want_punct(p, ":");
		a.type = type_name(p);
		t->dt_cols = grow(p, t->dt_cols, t->dt_ncols, sizeof(a));
		t->dt_cols[t->dt_ncols++] = a;
	} while (accept_punct(p, ","));
	want_punct(p, ")");
	want_punct(p, "[");
	if (!is_punct(p, "]")) {
		do {
			if (is_punct(p, "]")) /* a trailing comma */
				break;
			struct expr *e = parse_expr(p);
			t->dt_vals = grow(p, t->dt_vals, t->dt_nvals, sizeof(e));
			t->dt_vals[t->dt_nvals++] = e;
		} while (accept_punct(p, ","));
	}
	want_punct(p, "]");
	if (t->dt_nvals % t->dt_ncols)
		q_fail(p->q, DD_E_USAGE, t->pos, "datatable has %d values, not a multiple of its %d columns", t->dt_nvals,
		       t->dt_ncols);
}

static int is_tabular_name(struct parser *p, const char *name)
{
	for (struct qlet *l = p->q->lets; l; l = l->next)
		if (!strcmp(l->name, name))
			return l->tab != NULL;
	for (size_t i = 0; p->q->tables && i < p->q->tables->n; i++) {
		const struct query_table *x = &p->q->tables->tables[i];
		if (x->any_case ? !strcasecmp(x->name, name) : !strcmp(x->name, name))
			return 1;
	}
	return 0;
}

static struct tab *parse_tabular(struct parser *p)
{
	enter(p);
	struct tab *t = q_alloc(p->q, sizeof(*t));
	t->pos = p->t.pos;
	struct op **tail = &t->ops;
	if (is_word(p, "union")) {
		size_t pos = p->t.pos;
		next(p);
		*tail = parse_union(p, pos);
		tail = &(*tail)->next;
	} else if (is_word(p, "datatable") && peek(p).kind == TK_PUNCT && !strcmp(peek(p).s, "(")) {
		next(p);
		parse_datatable(p, t);
	} else if (is_word(p, "print")) {
		size_t pos = p->t.pos;
		next(p);
		t->print = 1;
		struct op *o = new_op(p, O_EXTEND, pos);
		parse_assigns(p, o, 0, 0);
		*tail = o;
		tail = &o->next;
	} else if (is_punct(p, "(")) {
		next(p);
		t->sub = parse_tabular(p);
		want_punct(p, ")");
	} else {
		if (!at_name(p))
			expected(p, "a table name");
		size_t pos = p->t.pos;
		t->source = want_name(p, "a table name");
		if (!is_tabular_name(p, t->source))
			q_fail(p->q, DD_E_USAGE, pos, "unknown table '%s'", t->source);
	}
	while (accept_punct(p, "|")) {
		*tail = parse_operator(p);
		tail = &(*tail)->next;
	}
	leave(p);
	return t;
}

struct tab *parse_query(struct qctx *q)
{
	struct parser p = {.q = q, .lx = {q, q->text, q->len, 0}};
	next(&p);
	while (is_word(&p, "let")) {
		next(&p);
		struct qlet *l = q_alloc(q, sizeof(*l));
		l->pos = p.t.pos;
		l->name = want_name(&p, "a name after 'let'");
		want_punct(&p, "=");
		int tabular = is_word(&p, "union") || is_word(&p, "datatable") ||
			      (at_name(&p) && p.t.kind == TK_IDENT && is_tabular_name(&p, p.t.s));
		if (!tabular && is_punct(&p, "(")) {
			/* ( tabular ) or a parenthesised scalar: look at what follows the '(' */
			struct lexer save = p.lx;
			struct token t = p.t;
			next(&p);
			tabular = p.t.kind == TK_IDENT && is_tabular_name(&p, p.t.s);
			p.lx = save;
			p.t = t;
		}
		if (tabular)
			l->tab = parse_tabular(&p);
		else
			l->scalar = parse_expr(&p);
		l->next = q->lets;
		q->lets = l;
		if (!accept_punct(&p, ";"))
			expected(&p, "';' after the let statement");
	}
	struct tab *t = parse_tabular(&p);
	accept_punct(&p, ";");
	if (p.t.kind != TK_EOF)
		expected(&p, "'|' or end of query");
	return t;
}
