/* arena.h: per-request memory (h2o's mem pool). Allocations live until arena_free; nothing
 * is freed one by one, so an error path cannot leak. Not thread-safe: one owner at a time. */
#ifndef DD_ARENA_H
#define DD_ARENA_H
#include <stddef.h>

struct arena_block;
struct arena_defer;
struct arena {
	struct arena_block *head;
	struct arena_defer *defers; /* run by arena_free, last added first */
};

/* Returns zeroed memory owned by the arena; aborts on out-of-memory (as malloc failure in a
 * request is not recoverable in any useful way). */
void *arena_alloc(struct arena *a, size_t n);
/* The same without zeroing, for memory the caller fills at once (grown arrays). */
void *arena_alloc_uninit(struct arena *a, size_t n);
/* Returns an arena-owned NUL-terminated copy of (s, n). */
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_strdup(struct arena *a, const char *s);
/* Returns an arena-owned formatted string. */
char *arena_printf(struct arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Sets *why to an arena-owned reason formatted as arena_printf does and returns err: the error
 * path of a parser in one line, `return arena_fail(a, why, DD_E_MANIFEST_INVALID, "...", x);`. */
int arena_fail(struct arena *a, const char **why, int err, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void arena_free(struct arena *a);
/* Has arena_free call fn(ctx) (before it frees the memory): what a request holds of a shared,
 * reference-counted object is let go with the request. */
void arena_defer(struct arena *a, void (*fn)(void *ctx), void *ctx);
/* An arena array of n elements of `size` bytes, v, with room for one more: v itself while n <
 * *cap, else a copy with twice the room (64 at first; the old one stays in the arena). The new
 * room is zeroed. `v = arena_grow(a, v, n, &cap, sizeof(*v)); v[n++] = x;` */
void *arena_grow(struct arena *a, void *v, size_t n, size_t *cap, size_t size);

/* Called, when set, with the size asked for just before an allocation failure aborts: the
 * sandboxed scan worker reports that it reached its memory limit instead of dying unexplained.
 * Process-wide; set once before any thread starts. */
typedef void (*arena_oom_fn)(size_t n);
void arena_set_oom_handler(arena_oom_fn fn);

#endif
