/* strmap.c: strmap.h. */
#include "common/dd.h"
#include "common/strmap.h"
#include "common/arena.h"

static uint64_t str_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static size_t strmap_find(const struct strmap *t, const char *key)
{
	size_t i = (size_t)(str_hash(key) & (t->cap - 1));
	while (t->k[i] && strcmp(t->k[i], key))
		i = (i + 1) & (t->cap - 1);
	return i;
}

void **strmap_slot(struct arena *a, struct strmap *t, const char *key, int *created)
{
	if (2 * (t->n + 1) > t->cap) {
		struct strmap b = {.cap = t->cap ? 2 * t->cap : 64, .n = t->n};
		b.k = arena_alloc(a, b.cap * sizeof(*b.k));
		b.v = arena_alloc(a, b.cap * sizeof(*b.v));
		for (size_t i = 0; i < t->cap; i++)
			if (t->k[i]) {
				size_t j = strmap_find(&b, t->k[i]);
				b.k[j] = t->k[i];
				b.v[j] = t->v[i];
			}
		*t = b;
	}
	size_t i = strmap_find(t, key);
	*created = !t->k[i];
	if (*created) {
		t->k[i] = arena_strdup(a, key);
		t->n++;
	}
	return &t->v[i];
}

void *strmap_get(const struct strmap *t, const char *key)
{
	if (!t->cap)
		return NULL;
	size_t i = strmap_find(t, key);
	return t->k[i] ? t->v[i] : NULL;
}
