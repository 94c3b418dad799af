/* arena.c: a bump allocator over a list of malloc'ed blocks. */
#include "dd.h"
#include "arena.h"

struct arena_block {
	struct arena_block *next;
	size_t used, cap;
	max_align_t data[];
};

#define ARENA_BLOCK 8192

static arena_oom_fn oom_handler;

void arena_set_oom_handler(arena_oom_fn fn) { oom_handler = fn; }

static void out_of_memory(size_t n)
{
	if (oom_handler)
		oom_handler(n);
	abort();
}

/* Uninitialised memory. A large request gets a block of its own, linked behind the current
 * one so that the room left in the current block still serves the small requests after it. */
static void *alloc_raw(struct arena *a, size_t n)
{
	size_t need = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
	struct arena_block *b = a->head;
	if (b && b->cap - b->used >= need) {
		void *p = (char *)b->data + b->used;
		b->used += need;
		return p;
	}
	size_t cap = need > ARENA_BLOCK ? need : ARENA_BLOCK;
	struct arena_block *nb = malloc(sizeof(*nb) + cap);
	if (!nb)
		out_of_memory(sizeof(*nb) + cap);
	nb->cap = cap;
	nb->used = need;
	if (b && need > ARENA_BLOCK / 2) { /* keep the current block current */
		nb->next = b->next;
		b->next = nb;
	} else {
		nb->next = b;
		a->head = nb;
	}
	return nb->data;
}

void *arena_alloc_uninit(struct arena *a, size_t n) { return alloc_raw(a, n); }

void *arena_alloc(struct arena *a, size_t n)
{
	void *p = alloc_raw(a, n);
	memset(p, 0, n);
	return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = alloc_raw(a, n + 1);
	memcpy(p, s, n);
	p[n] = 0;
	return p;
}

char *arena_strdup(struct arena *a, const char *s) { return arena_strndup(a, s, strlen(s)); }

static char *arena_vprintf(struct arena *a, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		abort();
	char *p = alloc_raw(a, (size_t)n + 1);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

char *arena_printf(struct arena *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *p = arena_vprintf(a, fmt, ap);
	va_end(ap);
	return p;
}

int arena_fail(struct arena *a, const char **why, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	*why = arena_vprintf(a, fmt, ap);
	va_end(ap);
	return err;
}

struct arena_defer {
	void (*fn)(void *ctx);
	void *ctx;
	struct arena_defer *next;
};

void arena_defer(struct arena *a, void (*fn)(void *ctx), void *ctx)
{
	struct arena_defer *d = arena_alloc(a, sizeof(*d));
	*d = (struct arena_defer){.fn = fn, .ctx = ctx, .next = a->defers};
	a->defers = d;
}

void arena_free(struct arena *a)
{
	for (struct arena_defer *d = a->defers; d; d = d->next)
		d->fn(d->ctx);
	a->defers = NULL;
	struct arena_block *b = a->head;
	while (b) {
		struct arena_block *next = b->next;
		free(b);
		b = next;
	}
	a->head = NULL;
}

void *arena_grow(struct arena *a, void *v, size_t n, size_t *cap, size_t size)
{
	if (n < *cap)
		return v;
	size_t nc = *cap ? 2 * *cap : 64;
	void *nv = arena_alloc(a, nc * size);
	if (n)
		memcpy(nv, v, n * size);
	*cap = nc;
	return nv;
}
