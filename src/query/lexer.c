/* lexer.c: the tokens of a Kusto query: names (case-sensitive, with Kusto's hyphenated
 * operator names such as project-away and the negated string operators such as !contains),
 * numbers, timespan literals (1d, 2h, 30m, 10s, 100ms), strings ('...', "..." with
 * backslash escapes, @'...' and @"..." verbatim, h'...' obfuscated) and punctuation.
 * // comments are skipped. The lexer reads (pointer, length) and never past it. */
#include "common/dd.h"
#include "query/queryInt.h"

void q_position(const char *text, size_t len, size_t pos, int *line, int *column)
{
	int l = 1, c = 1;
	for (size_t i = 0; i < pos && i < len; i++) {
		if (text[i] == '\n') {
			l++;
			c = 1;
		} else
			c++;
	}
	*line = l;
	*column = c;
}

static int is_ident_start(int c) { return isalpha(c) || c == '_' || c == '$'; }
static int is_ident(int c) { return isalnum(c) || c == '_'; }

/* Names written with a hyphen, read as one token. */
static const char *const hyphenated[] = {
	"project-away", "project-rename", "project-keep", "project-reorder", "mv-expand",
	"mv-apply", "parse-where", "make-series", "top-nested", "top-hitters",
};

static const struct {
	const char *unit;
	int64_t ticks;
} units[] = {
	{"d", QT_TICKS_PER_DAY}, {"day", QT_TICKS_PER_DAY}, {"days", QT_TICKS_PER_DAY},
	{"h", 3600 * QT_TICKS_PER_SECOND}, {"hr", 3600 * QT_TICKS_PER_SECOND},
	{"hrs", 3600 * QT_TICKS_PER_SECOND}, {"hour", 3600 * QT_TICKS_PER_SECOND},
	{"hours", 3600 * QT_TICKS_PER_SECOND}, {"m", 60 * QT_TICKS_PER_SECOND},
	{"min", 60 * QT_TICKS_PER_SECOND}, {"minute", 60 * QT_TICKS_PER_SECOND},
	{"minutes", 60 * QT_TICKS_PER_SECOND}, {"s", QT_TICKS_PER_SECOND},
	{"sec", QT_TICKS_PER_SECOND}, {"second", QT_TICKS_PER_SECOND},
	{"seconds", QT_TICKS_PER_SECOND}, {"ms", 10000}, {"milli", 10000}, {"millis", 10000},
	{"millisecond", 10000}, {"milliseconds", 10000}, {"microsecond", 10},
	{"microseconds", 10}, {"tick", 1}, {"ticks", 1},
};

int lex_timespan(const char *s, size_t n, int64_t *ticks)
{
	size_t p = 0;
	while (p < n && (isdigit((unsigned char)s[p]) || s[p] == '.'))
		p++;
	if (p == 0 || p > 40 || !isdigit((unsigned char)s[0]))
		return -1;
	char num[48];
	memcpy(num, s, p);
	num[p] = 0;
	char *end;
	double v = strtod(num, &end);
	if (*end)
		return -1;
	for (size_t i = 0; i < DD_ARRAY_LEN(units); i++) {
		if (strlen(units[i].unit) == n - p && !memcmp(units[i].unit, s + p, n - p)) {
			double t = v * (double)units[i].ticks;
			if (!(t < 9.2e18))
				return -1;
			*ticks = (int64_t)t;
			return 0;
		}
	}
	return -1;
}

static _Noreturn void lex_fail(struct lexer *lx, size_t pos, const char *what)
{
	q_fail(lx->q, DD_E_USAGE, pos, "%s", what);
}

static void lex_string(struct lexer *lx, struct token *t, size_t start, int verbatim)
{
	char quote = lx->s[lx->p++];
	char *out = q_alloc_uninit(lx->q, lx->n - lx->p + 1);
	size_t o = 0;
	for (;;) {
		if (lx->p >= lx->n || lx->s[lx->p] == '\n')
			lex_fail(lx, start, "unterminated string literal");
		char c = lx->s[lx->p++];
		if (c == quote) {
			if (verbatim && lx->p < lx->n && lx->s[lx->p] == quote) {
				out[o++] = quote;
				lx->p++;
				continue;
			}
			break;
		}
		if (c == '\\' && !verbatim) {
			if (lx->p >= lx->n)
				lex_fail(lx, start, "unterminated string literal");
			char e = lx->s[lx->p++];
			switch (e) {
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case '0': c = 0; break;
			case '\\': case '\'': case '"': c = e; break;
			default: lex_fail(lx, lx->p - 2, "invalid escape sequence in string literal");
			}
		}
		out[o++] = c;
	}
	out[o] = 0;
	t->kind = TK_STRING;
	t->s = out;
	t->slen = o;
}

static void lex_number(struct lexer *lx, struct token *t)
{
	size_t start = lx->p;
	int real = 0;
	while (lx->p < lx->n && isdigit((unsigned char)lx->s[lx->p]))
		lx->p++;
	if (lx->p + 1 < lx->n && lx->s[lx->p] == '.' && isdigit((unsigned char)lx->s[lx->p + 1])) {
		real = 1;
		lx->p++;
		while (lx->p < lx->n && isdigit((unsigned char)lx->s[lx->p]))
			lx->p++;
	}
	if (lx->p < lx->n && (lx->s[lx->p] == 'e' || lx->s[lx->p] == 'E')) {
		size_t q = lx->p + 1;
		if (q < lx->n && (lx->s[q] == '+' || lx->s[q] == '-'))
			q++;
		if (q < lx->n && isdigit((unsigned char)lx->s[q])) {
			real = 1;
			lx->p = q;
			while (lx->p < lx->n && isdigit((unsigned char)lx->s[lx->p]))
				lx->p++;
		}
	}
	char num[64];
	size_t nlen = lx->p - start;
	if (nlen >= sizeof(num))
		lex_fail(lx, start, "number literal too long");
	memcpy(num, lx->s + start, nlen);
	num[nlen] = 0;
	size_t ustart = lx->p;
	while (lx->p < lx->n && isalpha((unsigned char)lx->s[lx->p]))
		lx->p++;
	size_t ulen = lx->p - ustart;
	if (ulen) {
		for (size_t i = 0; i < DD_ARRAY_LEN(units); i++) {
			if (strlen(units[i].unit) == ulen && !memcmp(units[i].unit, lx->s + ustart, ulen)) {
				double v = strtod(num, NULL) * (double)units[i].ticks;
				if (!(v < 9.2e18 && v > -9.2e18))
					lex_fail(lx, start, "timespan literal out of range");
				t->kind = TK_TIMESPAN;
				t->i = (int64_t)v;
				return;
			}
		}
		lex_fail(lx, start, "invalid number literal");
	}
	if (real) {
		t->kind = TK_REAL;
		t->r = strtod(num, NULL);
		return;
	}
	errno = 0;
	long long v = strtoll(num, NULL, 10);
	if (errno == ERANGE) { /* Kusto reads a long that does not fit as a real */
		t->kind = TK_REAL;
		t->r = strtod(num, NULL);
		return;
	}
	t->kind = TK_LONG;
	t->i = v;
}

void lex_next(struct lexer *lx, struct token *t)
{
	memset(t, 0, sizeof(*t));
	for (;;) {
		while (lx->p < lx->n && isspace((unsigned char)lx->s[lx->p]))
			lx->p++;
		if (lx->p + 1 < lx->n && lx->s[lx->p] == '/' && lx->s[lx->p + 1] == '/') {
			while (lx->p < lx->n && lx->s[lx->p] != '\n')
				lx->p++;
			continue;
		}
		break;
	}
	t->pos = lx->p;
	if (lx->p >= lx->n) {
		t->kind = TK_EOF;
		return;
	}
	const char *s = lx->s;
	size_t n = lx->n;
	unsigned char c = (unsigned char)s[lx->p];
	unsigned char c1 = lx->p + 1 < n ? (unsigned char)s[lx->p + 1] : 0;
	if (c == '\'' || c == '"') {
		lex_string(lx, t, t->pos, 0);
	} else if ((c == '@' || c == 'h' || c == 'H') && (c1 == '\'' || c1 == '"')) {
		lx->p++;
		lex_string(lx, t, t->pos, c == '@');
	} else if ((c == 'h' || c == 'H') && c1 == '@' && lx->p + 2 < n &&
		   (s[lx->p + 2] == '\'' || s[lx->p + 2] == '"')) {
		lx->p += 2;
		lex_string(lx, t, t->pos, 1);
	} else if (isdigit(c) || (c == '.' && isdigit(c1))) {
		lex_number(lx, t);
	} else if (is_ident_start(c) || (c == '!' && isalpha(c1))) {
		size_t start = lx->p++;
		while (lx->p < n && is_ident((unsigned char)s[lx->p]))
			lx->p++;
		/* project-away, mv-expand ... */
		if (lx->p + 1 < n && s[lx->p] == '-' && isalpha((unsigned char)s[lx->p + 1])) {
			size_t q = lx->p + 1;
			while (q < n && is_ident((unsigned char)s[q]))
				q++;
			for (size_t i = 0; i < DD_ARRAY_LEN(hyphenated); i++)
				if (strlen(hyphenated[i]) == q - start && !memcmp(hyphenated[i], s + start, q - start))
					lx->p = q;
		}
		/* in~, !in~ */
		if (lx->p < n && s[lx->p] == '~' && lx->p - start >= 2 && !memcmp(s + lx->p - 2, "in", 2) &&
		    (lx->p - start == 2 || (lx->p - start == 3 && s[start] == '!')))
			lx->p++;
		t->kind = TK_IDENT;
		t->s = q_strndup(lx->q, s + start, lx->p - start);
		t->slen = lx->p - start;
	} else {
		static const char *const two[] = {"==", "!=", "<=", ">=", "=~", "!~", "..", "<>"};
		t->kind = TK_PUNCT;
		for (size_t i = 0; i < DD_ARRAY_LEN(two); i++) {
			if (c == (unsigned char)two[i][0] && c1 == (unsigned char)two[i][1]) {
				t->s = two[i];
				t->slen = 2;
				lx->p += 2;
				t->len = 2;
				return;
			}
		}
		static const char singles[] = "|()[]{},;.=<>+-*/%:";
		const char *hit = c ? strchr(singles, c) : NULL;
		if (!hit)
			lex_fail(lx, t->pos, "unexpected character in query");
		static const char *const one[] = {"|", "(", ")", "[", "]", "{", "}", ",", ";", ".",
						  "=", "<", ">", "+", "-", "*", "/", "%", ":"};
		t->s = one[hit - singles];
		t->slen = 1;
		lx->p++;
	}
	t->len = lx->p - t->pos;
}

const char *tok_describe(struct qctx *q, const struct token *t)
{
	if (t->kind == TK_EOF)
		return "end of query";
	size_t n = t->len > 40 ? 40 : t->len;
	char *s = q_alloc(q, n + 8);
	size_t o = 0;
	s[o++] = '\'';
	for (size_t i = 0; i < n; i++) {
		char c = q->text[t->pos + i];
		s[o++] = (c >= 32 && c < 127) ? c : '?';
	}
	if (n < t->len) {
		memcpy(s + o, "...", 3);
		o += 3;
	}
	s[o++] = '\'';
	s[o] = 0;
	return s;
}
