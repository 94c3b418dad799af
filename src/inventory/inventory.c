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
	return r;
}

void inventory_sort(struct inventory *inv)
{
	if (inv->n > 1) /* qsort's base must not be NULL, even for no elements */
		qsort(inv->pkgs, inv->n, sizeof(*inv->pkgs), pkg_cmp);
}
