/* semver_range.c: npm and Cargo version ranges as interval sets (see semver_range.h). */
#include "common/dd.h"
#include "vulndb/semver_range.h"
#include "common/arena.h"
#include "version/version.h"
#include "vulndb/osv.h"

#define SV_MAX_TEXT 4096
#define SV_MAX_INTERVALS 64

/* A version as a range writes it: up to three numbers ("x" and "*" end it), then a pre-release. */
struct partial {
	const char *num[3];
	int n; /* numbers given */
	const char *pre;
};

static int cmpv(const char *a, const char *b)
{
	int c = 0;
	const char *why;
	go_version_cmp(a, strlen(a), b, strlen(b), &c, &why); /* both made here: valid */
	return c;
}

static const char *inc(struct arena *a, const char *d) /* a decimal string plus one */
{
	size_t n = strlen(d);
	char *out = arena_alloc(a, n + 2);
	memcpy(out + 1, d, n + 1);
	out[0] = '0';
	for (size_t i = n; i > 0; i--) {
		if (out[i] != '9') {
			out[i]++;
			break;
		}
		out[i] = '0';
		if (i == 1)
			out[0] = '1';
	}
	return out[0] == '0' ? out + 1 : out;
}

static const char *full(struct arena *a, const char *x, const char *y, const char *z, const char *pre)
{
	return arena_printf(a, "%s.%s.%s%s%s", x, y, z, pre ? "-" : "", pre ? pre : "");
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* Reads a partial version at s (already trimmed of an operator): 0, or 1 when it is none. */
static int partial_parse(struct arena *a, const char *s, size_t n, struct partial *p)
{
	memset(p, 0, sizeof(*p));
	size_t i = 0;
	while (i < n && (s[i] == 'v' || s[i] == '=' || s[i] == ' '))
		i++;
	if (i == n)
		return 1;
	for (int k = 0; k < 3; k++) {
		if (i < n && (s[i] == 'x' || s[i] == 'X' || s[i] == '*')) {
			i++;
			break; /* the rest is any */
		}
		size_t j = i;
		while (j < n && is_digit(s[j]))
			j++;
		if (j == i || j - i > 20)
			return 1;
		size_t z = i;
		while (z + 1 < j && s[z] == '0')
			z++;
		p->num[p->n++] = arena_strndup(a, s + z, j - z);
		i = j;
		if (i < n && s[i] == '.' && k < 2)
			i++;
		else
			break;
	}
	while (i < n && s[i] == '.' && i + 1 < n && (s[i + 1] == 'x' || s[i + 1] == 'X' || s[i + 1] == '*'))
		i += 2; /* 1.x.x */
	if (p->n == 3 && i < n && s[i] == '-') {
		size_t j = ++i;
		while (j < n && (is_digit(s[j]) || (s[j] >= 'a' && s[j] <= 'z') || (s[j] >= 'A' && s[j] <= 'Z') ||
				 s[j] == '.' || s[j] == '-'))
			j++;
		if (j == i)
			return 1;
		p->pre = arena_strndup(a, s + i, j - i);
		i = j;
	}
	if (i < n && s[i] == '+') { /* build metadata: no part of the order */
		i++;
		while (i < n && s[i] != ' ')
			i++;
	}
	if (i != n)
		return 1;
	if (p->pre) { /* a pre-release the order can read */
		const char *why;
		const char *v = full(a, p->num[0], p->num[1], p->num[2], p->pre);
		if (go_version_valid(v, strlen(v), &why))
			return 1;
	}
	return 0;
}

static const char *low(struct arena *a, const struct partial *p)
{
	return full(a, p->n > 0 ? p->num[0] : "0", p->n > 1 ? p->num[1] : "0", p->n > 2 ? p->num[2] : "0", p->pre);
}

/* The first version past the partial's span: 1.2 -> 1.3.0-0, 1 -> 2.0.0-0 (n >= 1). */
static const char *past(struct arena *a, const struct partial *p)
{
	if (p->n == 1)
		return full(a, inc(a, p->num[0]), "0", "0", "0");
	if (p->n == 2)
		return full(a, p->num[0], inc(a, p->num[1]), "0", "0");
	return full(a, p->num[0], p->num[1], inc(a, p->num[2]), "0");
}

static const struct sv_interval ALL = {{NULL, 0}, {NULL, 0}};
static const struct sv_interval NONE = {{"0.0.0-0", 0}, {"0.0.0-0", 0}}; /* empty */

static int empty(const struct sv_interval *x)
{
	if (!x->lo.v || !x->hi.v)
		return 0;
	int c = cmpv(x->lo.v, x->hi.v);
	return c > 0 || (c == 0 && !(x->lo.incl && x->hi.incl));
}

/* One comparator (an operator and a partial) as an interval: 0, or 1 when unreadable. */
static int comparator(struct arena *a, const char *s, size_t n, enum sv_dialect d, struct sv_interval *out)
{
	while (n && *s == ' ')
		s++, n--;
	while (n && s[n - 1] == ' ')
		n--;
	char op[3] = "";
	size_t k = 0;
	if (n >= 2 && (!strncmp(s, ">=", 2) || !strncmp(s, "<=", 2) || !strncmp(s, "~>", 2)))
		k = 2;
	else if (n >= 1 && strchr("<>=~^", s[0]))
		k = 1;
	memcpy(op, s, k);
	struct partial p;
	if (partial_parse(a, s + k, n - k, &p))
		return 1;
	if (!k && d == SV_CARGO)
		op[0] = '^'; /* Cargo: a bare version is a caret requirement */
	if (!strcmp(op, "~>"))
		op[1] = 0;
	*out = ALL;
	if (!p.n) { /* *, x */
		if (!strcmp(op, "<") || !strcmp(op, ">"))
			*out = NONE;
		return 0;
	}
	const char *lo = low(a, &p);
	if (!*op || !strcmp(op, "=")) {
		if (p.n == 3)
			*out = (struct sv_interval){{lo, 1}, {lo, 1}};
		else
			*out = (struct sv_interval){{lo, 1}, {past(a, &p), 0}};
	} else if (!strcmp(op, ">="))
		out->lo = (struct sv_bound){lo, 1};
	else if (!strcmp(op, ">"))
		out->lo = p.n == 3 ? (struct sv_bound){lo, 0} : (struct sv_bound){past(a, &p), 1};
	else if (!strcmp(op, "<"))
		out->hi = (struct sv_bound){p.n == 3 ? lo : full(a, p.num[0], p.n > 1 ? p.num[1] : "0", "0", "0"), 0};
	else if (!strcmp(op, "<="))
		out->hi = p.n == 3 ? (struct sv_bound){lo, 1} : (struct sv_bound){past(a, &p), 0};
	else if (!strcmp(op, "~")) {
		struct partial q = p;
		q.n = p.n == 1 ? 1 : 2;
		*out = (struct sv_interval){{lo, 1}, {past(a, &q), 0}};
	} else { /* ^: the left-most non-zero number may not move */
		struct partial q = p;
		if (strcmp(p.num[0], "0") || p.n == 1)
			q.n = 1;
		else if (p.n == 2 || strcmp(p.num[1], "0"))
			q.n = 2;
		else
			q.n = 3;
		*out = (struct sv_interval){{lo, 1}, {past(a, &q), 0}};
	}
	return 0;
}

static void lower(const struct sv_bound *x, const struct sv_bound *y, struct sv_bound *out) /* the higher low */
{
	if (!x->v || !y->v) {
		*out = x->v ? *x : *y;
		return;
	}
	int c = cmpv(x->v, y->v);
	*out = c > 0 ? *x : c < 0 ? *y : (struct sv_bound){x->v, x->incl && y->incl};
}

static void upper(const struct sv_bound *x, const struct sv_bound *y, struct sv_bound *out) /* the lower high */
{
	if (!x->v || !y->v) {
		*out = x->v ? *x : *y;
		return;
	}
	int c = cmpv(x->v, y->v);
	*out = c < 0 ? *x : c > 0 ? *y : (struct sv_bound){x->v, x->incl && y->incl};
}

static void meet(const struct sv_interval *x, const struct sv_interval *y, struct sv_interval *out)
{
	lower(&x->lo, &y->lo, &out->lo);
	upper(&x->hi, &y->hi, &out->hi);
}

static int lo_cmp(const void *p, const void *q)
{
	const struct sv_interval *x = p, *y = q;
	if (!x->lo.v || !y->lo.v)
		return !!x->lo.v - !!y->lo.v;
	int c = cmpv(x->lo.v, y->lo.v);
	return c ? c : y->lo.incl - x->lo.incl;
}

/* Sorted, without empty intervals, overlapping or touching ones merged. */
static void normalise(struct sv_set *s)
{
	size_t k = 0;
	for (size_t i = 0; i < s->n; i++)
		if (!empty(&s->v[i]))
			s->v[k++] = s->v[i];
	s->n = k;
	if (s->n > 1)
		qsort(s->v, s->n, sizeof(*s->v), lo_cmp);
	k = 0;
	for (size_t i = 0; i < s->n; i++) {
		struct sv_interval *last = k ? &s->v[k - 1] : NULL;
		int joins = 0;
		if (last) {
			if (!last->hi.v || !s->v[i].lo.v)
				joins = 1;
			else {
				int c = cmpv(s->v[i].lo.v, last->hi.v);
				joins = c < 0 || (c == 0 && (last->hi.incl || s->v[i].lo.incl));
			}
		}
		if (!joins) {
			s->v[k++] = s->v[i];
			continue;
		}
		struct sv_bound hi;
		if (!last->hi.v || !s->v[i].hi.v)
			hi = (struct sv_bound){NULL, 0};
		else {
			int c = cmpv(last->hi.v, s->v[i].hi.v);
			hi = c > 0 ? last->hi : c < 0 ? s->v[i].hi : (struct sv_bound){last->hi.v, last->hi.incl || s->v[i].hi.incl};
		}
		last->hi = hi;
	}
	s->n = k;
}

int sv_parse(struct arena *a, const char *text, enum sv_dialect d, struct sv_set *out, const char **why)
{
	out->v = NULL;
	out->n = 0;
	size_t len = strlen(text);
	if (len > SV_MAX_TEXT) {
		*why = "a version range over 4096 bytes";
		return DD_E_FEED_INVALID;
	}
	size_t cap = 0;
	const char *sep = d == SV_NPM ? "||" : "\x01"; /* Cargo has no alternatives */
	for (const char *p = text;;) {
		const char *bar = strstr(p, sep);
		size_t n = bar ? (size_t)(bar - p) : strlen(p);
		const char *alt = arena_strndup(a, p, n);
		struct sv_interval acc = ALL, one;
		const char *hy = d == SV_NPM ? strstr(alt, " - ") : NULL;
		if (hy) { /* A - B */
			struct partial lo, hi;
			while (*alt == ' ')
				alt++;
			const char *b = hy + 3;
			size_t bn = strlen(b);
			while (bn && b[bn - 1] == ' ')
				bn--;
			if (partial_parse(a, alt, (size_t)(hy - alt), &lo) || partial_parse(a, b, bn, &hi)) {
				*why = arena_printf(a, "'%.200s' is not a version range", text);
				return DD_E_FEED_INVALID;
			}
			acc.lo = (struct sv_bound){low(a, &lo), 1};
			acc.hi = !hi.n ? (struct sv_bound){NULL, 0}
			       : hi.n == 3 ? (struct sv_bound){low(a, &hi), 1}
					   : (struct sv_bound){past(a, &hi), 0};
		} else {
			/* comparators: split on spaces (npm) or commas (Cargo), an operator alone taking the next word */
			const char *q = alt;
			for (;;) {
				while (*q == ' ' || (d == SV_CARGO && *q == ','))
					q++;
				if (!*q)
					break;
				size_t m = 0;
				while (q[m] && (d == SV_CARGO ? q[m] != ',' : q[m] != ' '))
					m++;
				size_t opn = strspn(q, "<>=~^");
				if (d == SV_NPM && opn == m) { /* ">= 1.2.3" */
					size_t g = m;
					while (q[g] == ' ')
						g++;
					while (q[g] && q[g] != ' ')
						g++;
					m = g;
				}
				if (comparator(a, q, m, d, &one)) {
					*why = arena_printf(a, "'%.200s' is not a version range", text);
					return DD_E_FEED_INVALID;
				}
				meet(&acc, &one, &acc);
				q += m;
			}
		}
		if (out->n == SV_MAX_INTERVALS) {
			*why = "a version range of more than 64 alternatives";
			return DD_E_FEED_INVALID;
		}
		out->v = arena_grow(a, out->v, out->n, &cap, sizeof(*out->v));
		out->v[out->n++] = acc;
		if (!bar)
			break;
		p = bar + 2;
	}
	normalise(out);
	return 0;
}

void sv_union(struct arena *a, const struct sv_set *x, const struct sv_set *y, struct sv_set *out)
{
	struct sv_interval *v = arena_alloc(a, (x->n + y->n + 1) * sizeof(*v));
	if (x->n)
		memcpy(v, x->v, x->n * sizeof(*v));
	if (y->n)
		memcpy(v + x->n, y->v, y->n * sizeof(*v));
	*out = (struct sv_set){v, x->n + y->n};
	normalise(out);
}

void sv_complement(struct arena *a, const struct sv_set *s, struct sv_set *out)
{
	struct sv_set n = {arena_alloc(a, (s->n + 1) * sizeof(*s->v)), s->n};
	if (s->n)
		memcpy(n.v, s->v, s->n * sizeof(*s->v));
	normalise(&n);
	out->v = arena_alloc(a, (n.n + 2) * sizeof(*out->v));
	out->n = 0;
	struct sv_bound from = {NULL, 0}; /* the gap starts here */
	for (size_t i = 0; i < n.n; i++) {
		if (n.v[i].lo.v)
			out->v[out->n++] = (struct sv_interval){from, {n.v[i].lo.v, !n.v[i].lo.incl}};
		if (!n.v[i].hi.v) {
			normalise(out);
			return;
		}
		from = (struct sv_bound){n.v[i].hi.v, !n.v[i].hi.incl};
	}
	out->v[out->n++] = (struct sv_interval){from, {NULL, 0}};
	normalise(out);
}

void sv_intersect(struct arena *a, const struct sv_set *x, const struct sv_set *y, struct sv_set *out)
{
	out->v = arena_alloc(a, (x->n * y->n + 1) * sizeof(*out->v));
	out->n = 0;
	for (size_t i = 0; i < x->n; i++)
		for (size_t j = 0; j < y->n; j++)
			meet(&x->v[i], &y->v[j], &out->v[out->n++]);
	normalise(out);
}

int sv_contains(const struct sv_set *s, const char *v)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct sv_interval *x = &s->v[i];
		int lo = !x->lo.v || cmpv(v, x->lo.v) > 0 || (x->lo.incl && !cmpv(v, x->lo.v));
		int hi = !x->hi.v || cmpv(v, x->hi.v) < 0 || (x->hi.incl && !cmpv(v, x->hi.v));
		if (lo && hi)
			return 1;
	}
	return 0;
}

/* The lowest version above v: 1.2.3 -> 1.2.4-0, 1.2.3-rc -> 1.2.3-rc.0. */
static const char *above(struct arena *a, const char *v)
{
	const char *dash = strchr(v, '-');
	if (dash)
		return arena_printf(a, "%s.0", v);
	const char *dot = strrchr(v, '.');
	return arena_printf(a, "%.*s.%s-0", (int)(dot - v), v, inc(a, dot + 1));
}

void sv_to_osv(struct arena *a, const struct sv_set *s, struct osv_range **out, size_t *n)
{
	*out = arena_alloc(a, (s->n + 1) * sizeof(**out));
	*n = 0;
	for (size_t i = 0; i < s->n; i++) {
		const struct sv_interval *x = &s->v[i];
		struct osv_range *r = &(*out)[(*n)++];
		r->type = OSV_RANGE_SEMVER;
		r->events = arena_alloc(a, 2 * sizeof(*r->events));
		r->events[r->nevents++] = (struct osv_event){OSV_INTRODUCED, !x->lo.v ? "0"
									: x->lo.incl ? x->lo.v
										     : above(a, x->lo.v)};
		if (x->hi.v)
			r->events[r->nevents++] = (struct osv_event){x->hi.incl ? OSV_LAST_AFFECTED : OSV_FIXED, x->hi.v};
	}
}
