/* buf.c: the capped growable buffer of buf.h. */
#include "dd.h"
#include "buf.h"

void buf_init(struct buf *b, size_t cap)
{
	b->data = NULL;
	b->len = b->alloc = 0;
	b->cap = cap;
}

int buf_append_grow(struct buf *b, const void *p, size_t n)
{
	if (n > b->cap - b->len)
		return DD_E_TOO_LARGE;
	if (b->len + n + 1 > b->alloc) {
		size_t a = b->alloc ? b->alloc : 256;
		while (a < b->len + n + 1)
			a *= 2;
		char *d = realloc(b->data, a);
		if (!d)
			return DD_E_NOMEM;
		b->data = d;
		b->alloc = a;
	}
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = 0;
	return 0;
}

int buf_room(struct buf *b, size_t n)
{
	if (n > b->cap - b->len)
		n = b->cap - b->len;
	if (b->len + n + 1 <= b->alloc)
		return 0;
	char *d = realloc(b->data, b->len + n + 1);
	if (!d)
		return DD_E_NOMEM;
	if (!b->data)
		d[0] = 0;
	b->data = d;
	b->alloc = b->len + n + 1;
	return 0;
}

int buf_puts(struct buf *b, const char *s) { return buf_append(b, s, strlen(s)); }

int buf_printf(struct buf *b, const char *fmt, ...)
{
	char small[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return DD_E_INTERNAL;
	if ((size_t)n < sizeof(small))
		return buf_append(b, small, (size_t)n);
	char *big = malloc((size_t)n + 1);
	if (!big)
		return DD_E_NOMEM;
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	int rc = buf_append(b, big, (size_t)n);
	free(big);
	return rc;
}

/* Length of the valid UTF-8 sequence at p (1 to 4), or 0. */
static size_t utf8_len(const unsigned char *p)
{
	unsigned char c = p[0];
	if (c < 0x80)
		return 1;
	size_t n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
	for (size_t i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	if (n == 3 && ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f)))
		return 0; /* overlong, or a surrogate */
	if (n == 4 && ((c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] > 0x8f)))
		return 0;
	return n;
}

int buf_utf8(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s, *run = p;
	int rc = 0;
	while (!rc && *p) {
		size_t n = utf8_len(p);
		if (n) {
			p += n;
			continue;
		}
		rc = buf_append(b, run, (size_t)(p - run));
		if (!rc)
			rc = buf_append(b, "\xef\xbf\xbd", 3);
		run = ++p;
	}
	return rc ? rc : buf_append(b, run, (size_t)(p - run));
}

/* How many bytes from p (of n) are plain ASCII a JSON string holds as they are, counted in
 * whole words of 8: a word with any control byte, quote, backslash or byte of 0x80 and above
 * ends the count (the caller looks at its bytes one at a time). */
static size_t plain_words(const unsigned char *p, size_t n)
{
	const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
	size_t i = 0;
	for (; n - i >= 8; i += 8) {
		uint64_t x, q, bs;
		memcpy(&x, p + i, 8);
		q = x ^ (ones * '"');
		bs = x ^ (ones * '\\');
		/* a byte below 0x20, a zero byte of q or bs (a quote, a backslash), or a high bit: the
		 * "has a byte less than" test, exact for whether any byte is */
		if ((((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((bs - ones) & ~bs) | x) & high)
			break;
	}
	return i;
}

int buf_json_str(struct buf *b, const char *s)
{
	if (!s)
		return buf_append(b, "null", 4);
	int rc = buf_append(b, "\"", 1);
	const unsigned char *p = (const unsigned char *)s, *run = p, *end = p + strlen(s);
	while (!rc && p < end) {
		p += plain_words(p, (size_t)(end - p));
		if (p == end)
			break;
		unsigned char c = *p;
		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') { /* the common case: plain ASCII */
			p++;
			continue;
		}
		size_t n = c >= 0x20 && c != '"' && c != '\\' ? utf8_len(p) : 0;
		if (n) {
			p += n;
			continue;
		}
		rc = buf_append(b, run, (size_t)(p - run));
		char esc[8];
		if (!rc && c == '"')
			rc = buf_append(b, "\\\"", 2);
		else if (!rc && c == '\\')
			rc = buf_append(b, "\\\\", 2);
		else if (!rc && c < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			rc = buf_append(b, esc, 6);
		} else if (!rc)
			rc = buf_append(b, "\\ufffd", 6);
		run = ++p;
	}
	if (!rc)
		rc = buf_append(b, run, (size_t)(p - run));
	return rc ? rc : buf_append(b, "\"", 1);
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = 0;
}

void buf_release(struct buf *b)
{
	free(b->data);
	buf_init(b, b->cap);
}
