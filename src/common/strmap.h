/* strmap.h: a map of strings to pointers in an arena (open addressing; it only grows, and goes
 * with its arena). */
#ifndef DD_STRMAP_H
#define DD_STRMAP_H
#include <stddef.h>

struct arena;

struct strmap {
	const char **k;
	void **v;
	size_t n, cap;
};

/* The value slot of key, added (the key copied, the value NULL) when it is not there: *created. */
void **strmap_slot(struct arena *a, struct strmap *t, const char *key, int *created);
/* The value of key, or NULL: a read, safe beside other readers of a map no one changes. */
void *strmap_get(const struct strmap *t, const char *key);

#endif
