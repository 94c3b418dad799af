/* inventory.c: the package list container. */
#include "common/dd.h"
#include "inventory.h"
#include "common/arena.h"

void inventory_init(struct inventory *inv, struct arena *a)
{
	memset(inv, 0, sizeof(*inv));
	inv->arena = a;
}

struct package *inventory_add(struct inventory *inv)
{
	if (inv->n == inv->cap) {
		size_t cap = inv->cap ? inv->cap * 2 : 64;
		struct package *p = arena_alloc(inv->arena, cap * sizeof(*p));
		if (inv->n)
			memcpy(p, inv->pkgs, inv->n * sizeof(*p));
		inv->pkgs = p;
		inv->cap = cap;
	}
	struct package *p = &inv->pkgs[inv->n++];
	memset(p, 0, sizeof(*p));
	return p;
}

static int str_cmp(const char *a, const char *b) { return strcmp(a ? a : "", b ? b : ""); }

static int pkg_cmp(const void *x, const void *y)
{
	const struct package *a = x, *b = y;
	if (a->type != b->type)
		return a->type < b->type ? -1 : 1;
	int r = str_cmp(a->name, b->name);
	if (!r)
		r = str_cmp(a->version, b->version);
	if (!r)
		r = str_cmp(a->arch, b->arch);
	if (!r && a->type > PKG_RPM)
		r = str_cmp(a->db_path, b->db_path);
	return r;
}

void inventory_sort(struct inventory *inv)
{
	if (inv->n > 1) /* qsort's base must not be NULL, even for no elements */
		qsort(inv->pkgs, inv->n, sizeof(*inv->pkgs), pkg_cmp);
}

const char *pkg_lang_ecosystem(enum pkg_type t)
{
	switch (t) {
	case PKG_PYPI: return "PyPI";
	case PKG_NPM: return "npm";
	case PKG_GO: return "Go";
	case PKG_CARGO: return "crates.io";
	case PKG_NODEJS: return "Node.js";
	case PKG_MAVEN: return "Maven";
	default: return NULL;
	}
}

const char **pkg_paths(struct arena *a, const struct package *p, size_t *n)
{
	const char *s = p->db_path ? p->db_path : "";
	size_t cap = 1;
	for (const char *q = s; pkg_lang_ecosystem(p->type) && (q = strstr(q, ", ")); q += 2)
		cap++;
	const char **v = arena_alloc(a, cap * sizeof(*v));
	*n = 0;
	if (!*s)
		return v;
	if (!pkg_lang_ecosystem(p->type)) {
		v[(*n)++] = s;
		return v;
	}
	for (const char *q = s; *q;) {
		const char *e = strstr(q, ", ");
		size_t k = e ? (size_t)(e - q) : strlen(q);
		if (e || strncmp(q, "and ", 4) || !strstr(q, " more")) /* the last "and N more" is no path */
			v[(*n)++] = arena_strndup(a, q, k);
		q += k + (e ? 2 : 0);
	}
	return v;
}

const char *pkg_type_name(enum pkg_type t)
{
	static const char *const names[] = {"dpkg", "apk", "rpm", "python", "npm", "go", "cargo", "nodejs", "maven"};
	return (unsigned)t < DD_ARRAY_LEN(names) ? names[t] : "unknown";
}
