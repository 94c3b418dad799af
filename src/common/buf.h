/* buf.h: a growable byte buffer created with its cap (curl's dynbuf). Appending past the cap
 * fails with DD_E_TOO_LARGE instead of growing without bound. The buffer owns its memory. */
#ifndef DD_BUF_H
#define DD_BUF_H
#include <stddef.h>

struct buf {
	char *data; /* always NUL-terminated when non-NULL */
	size_t len, alloc, cap;
};

void buf_init(struct buf *b, size_t cap);
/* buf_append's path that grows the allocation (or fails at the cap). */
int buf_append_grow(struct buf *b, const void *p, size_t n);
/* Appends n bytes. Inline: a stored report is thousands of appends of a few bytes each, and
 * the call cost most of the time they took. */
static inline int buf_append(struct buf *b, const void *p, size_t n)
{
	if (n < b->alloc - b->len && n <= b->cap - b->len) { /* room for the bytes and the NUL */
		if (n) /* p may be NULL with nothing to copy */
			memcpy(b->data + b->len, p, n);
		b->len += n;
		b->data[b->len] = 0;
		return 0;
	}
	return buf_append_grow(b, p, n);
}
/* Room for n more bytes (up to the cap) made at once: a writer that knows about how much it
 * will append spares the copies of growing by doubling. Fails only for want of memory. */
int buf_room(struct buf *b, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s with every byte that does not begin a UTF-8 character replaced by U+FFFD. */
int buf_utf8(struct buf *b, const char *s);
/* s as a JSON string (quoted, escaped); bytes that are not UTF-8 become U+FFFD, so the text
 * always parses. NULL appends null. */
int buf_json_str(struct buf *b, const char *s);
void buf_reset(struct buf *b);
void buf_release(struct buf *b);

#endif
