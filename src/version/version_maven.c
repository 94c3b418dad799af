/* version_maven.c: Maven's version order, as Maven's ComparableVersion defines it (the order
 * the GitHub advisory database's Maven ranges use). A version is split into items at '.' and
 * '-' and where digits meet letters; a '-' (or a digit/letter change) opens a sub-list. Numbers
 * compare as numbers; the qualifiers alpha < beta < milestone < rc < snapshot < "" (release)
 * < sp, with a, b and m before a digit meaning alpha, beta and milestone, and ga, final and
 * release meaning the release itself (cr is rc); other qualifiers come after sp, in their
 * alphabetical order; a number is newer than any qualifier. Trailing zeros and empty
 * qualifiers do not count ("1.0.0" is "1"). So 1.0-alpha1 < 1.0 < 1.0-sp1 < 1.0.1. */
#include "common/dd.h"
#include "version.h"

#define MAVEN_MAX_BYTES 256
#define MAVEN_MAX_ITEMS (2 * MAVEN_MAX_BYTES + 4) /* each byte opens at most an item and a sub-list */

enum item_kind { IT_INT, IT_STR, IT_LIST };

struct item {
	enum item_kind kind;
	const char *s; /* IT_INT: digits without leading zeros; IT_STR: the qualifier's comparable form */
	size_t n;
	int first, next; /* IT_LIST: first child; every item: next sibling (-1: none) */
};

struct tree {
	struct item v[MAVEN_MAX_ITEMS];
	int n;
	char text[MAVEN_MAX_BYTES * 4 + 16]; /* lower-cased copy and comparable qualifiers ("7-x" per "x.") */
	size_t tn;
};

static int new_item(struct tree *t, enum item_kind k, const char *s, size_t n)
{
	struct item *it = &t->v[t->n];
	*it = (struct item){.kind = k, .s = s, .n = n, .first = -1, .next = -1};
	return t->n++;
}

/* Appends child to list (a linked list kept in order through a last pointer). */
static void append(struct tree *t, int list, int *last, int child)
{
	if (last[list] < 0)
		t->v[list].first = child;
	else
		t->v[last[list]].next = child;
	last[list] = child;
}

static const char *const qualifiers[] = {"alpha", "beta", "milestone", "rc", "snapshot", "", "sp"};
#define RELEASE_INDEX 5

/* A qualifier's rank as ComparableVersion makes it: its index, or (after all of them) "7-q"
 * compared as text. Writes the comparable form into t->text. */
static int string_item(struct tree *t, const char *s, size_t n, int followed_by_digit)
{
	if (followed_by_digit && n == 1 && (s[0] == 'a' || s[0] == 'b' || s[0] == 'm')) {
		s = s[0] == 'a' ? "alpha" : s[0] == 'b' ? "beta" : "milestone";
		n = strlen(s);
	}
	if ((n == 2 && !memcmp(s, "ga", 2)) || (n == 5 && !memcmp(s, "final", 5)) || (n == 7 && !memcmp(s, "release", 7)))
		n = 0;
	else if (n == 2 && !memcmp(s, "cr", 2))
		s = "rc";
	char *o = t->text + t->tn;
	size_t k = 0;
	for (size_t i = 0; i < DD_ARRAY_LEN(qualifiers); i++)
		if (strlen(qualifiers[i]) == n && !memcmp(qualifiers[i], s, n)) {
			o[0] = (char)('0' + i);
			k = 1;
			break;
		}
	if (!k) {
		o[0] = '0' + (char)DD_ARRAY_LEN(qualifiers);
		o[1] = '-';
		memcpy(o + 2, s, n);
		k = n + 2;
	}
	t->tn += k;
	return new_item(t, IT_STR, o, k);
}

static int int_item(struct tree *t, const char *s, size_t n)
{
	while (n > 1 && s[0] == '0')
		s++, n--;
	return new_item(t, IT_INT, s, n);
}

/* 1 for the items that count for nothing at the end of a list: 0, "", an empty list. */
static int is_null(const struct tree *t, int i)
{
	const struct item *it = &t->v[i];
	return (it->kind == IT_INT && it->n == 1 && it->s[0] == '0') ||
	       (it->kind == IT_STR && it->n == 1 && it->s[0] == '0' + RELEASE_INDEX) || (it->kind == IT_LIST && it->first < 0);
}

/* ListItem.normalize: drops null items from the end, looking past trailing sub-lists. */
static void normalize(struct tree *t, int list)
{
	int kids[MAVEN_MAX_ITEMS], n = 0;
	for (int c = t->v[list].first; c >= 0; c = t->v[c].next)
		kids[n++] = c;
	for (int i = n - 1; i >= 0; i--) {
		if (is_null(t, kids[i])) {
			for (int j = i; j < n - 1; j++)
				kids[j] = kids[j + 1];
			n--;
		} else if (t->v[kids[i]].kind != IT_LIST)
			break;
	}
	t->v[list].first = n ? kids[0] : -1;
	for (int i = 0; i < n; i++)
		t->v[kids[i]].next = i + 1 < n ? kids[i + 1] : -1;
}

static int parse(const char *in, size_t len, struct tree *t, const char **why)
{
	if (!len || len > MAVEN_MAX_BYTES) {
		*why = len ? "longer than 256 bytes" : "empty";
		return DD_E_VERSION_INVALID;
	}
	t->n = 0;
	t->tn = 0;
	char *s = t->text;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c <= ' ' || c >= 0x7f) {
			*why = "not a Maven version (a control, blank or non-ASCII byte)";
			return DD_E_VERSION_INVALID;
		}
		s[i] = (char)tolower(c);
	}
	t->tn = len;
	int last[MAVEN_MAX_ITEMS], stack[MAVEN_MAX_ITEMS], sp = 0;
	for (int i = 0; i < MAVEN_MAX_ITEMS; i++)
		last[i] = -1;
	int list = new_item(t, IT_LIST, NULL, 0);
	stack[sp++] = list;
	int digit = 0;
	size_t start = 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '.' || c == '-') {
			int it = i == start ? int_item(t, "0", 1) : digit ? int_item(t, s + start, i - start)
									  : string_item(t, s + start, i - start, 0);
			append(t, list, last, it);
			start = i + 1;
			if (c == '-') {
				int sub = new_item(t, IT_LIST, NULL, 0);
				append(t, list, last, sub);
				list = stack[sp++] = sub;
			}
		} else if (isdigit((unsigned char)c)) {
			if (!digit && i > start) { /* "alpha1": a qualifier then a number in a sub-list */
				append(t, list, last, string_item(t, s + start, i - start, 1));
				start = i;
				int sub = new_item(t, IT_LIST, NULL, 0);
				append(t, list, last, sub);
				list = stack[sp++] = sub;
			}
			digit = 1;
		} else {
			if (digit && i > start) {
				append(t, list, last, int_item(t, s + start, i - start));
				start = i;
				int sub = new_item(t, IT_LIST, NULL, 0);
				append(t, list, last, sub);
				list = stack[sp++] = sub;
			}
			digit = 0;
		}
	}
	if (len > start)
		append(t, list, last, digit ? int_item(t, s + start, len - start) : string_item(t, s + start, len - start, 0));
	while (sp)
		normalize(t, stack[--sp]);
	return 0;
}

static int cmp_int(const struct item *a, const struct item *b)
{
	if (a->n != b->n)
		return a->n < b->n ? -1 : 1;
	int c = memcmp(a->s, b->s, a->n);
	return c < 0 ? -1 : c > 0;
}

static int cmp_str(const char *a, size_t an, const char *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);
	if (c)
		return c < 0 ? -1 : 1;
	return an == bn ? 0 : an < bn ? -1 : 1;
}

/* Item x (of tree ta, -1: none) against y (of tb, -1: none), as compareTo does. */
static int cmp_item(const struct tree *ta, int x, const struct tree *tb, int y)
{
	if (x < 0 && y < 0)
		return 0;
	if (x < 0)
		return -cmp_item(tb, y, ta, x);
	const struct item *a = &ta->v[x];
	const struct item *b = y >= 0 ? &tb->v[y] : NULL;
	switch (a->kind) {
	case IT_INT:
		if (!b)
			return a->n == 1 && a->s[0] == '0' ? 0 : 1;
		return b->kind == IT_INT ? cmp_int(a, b) : 1;
	case IT_STR:
		if (!b) {
			char rel = '0' + RELEASE_INDEX;
			return cmp_str(a->s, a->n, &rel, 1);
		}
		return b->kind == IT_INT ? -1 : b->kind == IT_STR ? cmp_str(a->s, a->n, b->s, b->n) : -1;
	case IT_LIST:
		if (!b)
			return a->first < 0 ? 0 : cmp_item(ta, a->first, tb, -1);
		if (b->kind == IT_INT)
			return -1;
		if (b->kind == IT_STR)
			return 1;
		for (int l = a->first, r = b->first; l >= 0 || r >= 0;) {
			int c = cmp_item(ta, l, tb, r);
			if (c)
				return c;
			l = l >= 0 ? ta->v[l].next : -1;
			r = r >= 0 ? tb->v[r].next : -1;
		}
		return 0;
	}
	return 0;
}

int maven_version_valid(const char *s, size_t n, const char **why)
{
	struct tree *t = malloc(sizeof(*t));
	if (!t) {
		*why = "out of memory";
		return DD_E_VERSION_INVALID;
	}
	int rc = parse(s, n, t, why);
	free(t);
	return rc;
}

int maven_version_cmp(const char *a, size_t an, const char *b, size_t bn, int *cmp, const char **why)
{
	struct tree *ta = malloc(sizeof(*ta)), *tb = malloc(sizeof(*tb));
	int rc = DD_E_VERSION_INVALID;
	*cmp = 0;
	if (!ta || !tb)
		*why = "out of memory";
	else if (!parse(a, an, ta, why) && !parse(b, bn, tb, why)) {
		*cmp = cmp_item(ta, 0, tb, 0);
		rc = 0;
	}
	free(ta);
	free(tb);
	return rc;
}
