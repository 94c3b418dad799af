/* range.c: Range and Content-Range parsing. */
#include "common/dd.h"
#include "range.h"

int parse_i64(const char *s, size_t n, int64_t *out)
{
	*out = 0;
	if (n == 0 || n > 18)
		return DD_E_USAGE;
	int64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return DD_E_USAGE;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static void trim(const char **s, size_t *n)
{
	while (*n && (**s == ' ' || **s == '\t'))
		(*s)++, (*n)--;
	while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
		(*n)--;
}

int range_parse(const char *s, size_t n, int64_t size, int64_t *start, int64_t *end)
{
	*start = *end = 0;
	trim(&s, &n);
	if (n < 6 || strncasecmp(s, "bytes=", 6))
		return DD_E_USAGE;
	s += 6, n -= 6;
	trim(&s, &n);
	if (memchr(s, ',', n))
		return DD_E_USAGE;
	const char *dash = memchr(s, '-', n);
	if (!dash)
		return DD_E_USAGE;
	size_t a = (size_t)(dash - s), b = n - a - 1;
	int64_t x, y;
	if (a == 0) { /* suffix: last y bytes */
		if (parse_i64(dash + 1, b, &y))
			return DD_E_USAGE;
		if (y == 0 || size == 0)
			return DD_E_RANGE_INVALID;
		*start = y >= size ? 0 : size - y;
		*end = size - 1;
		return 0;
	}
	if (parse_i64(s, a, &x))
		return DD_E_USAGE;
	if (b == 0)
		y = size - 1;
	else if (parse_i64(dash + 1, b, &y) || y < x)
		return DD_E_USAGE;
	if (x >= size)
		return DD_E_RANGE_INVALID;
	if (y >= size)
		y = size - 1;
	*start = x;
	*end = y;
	return 0;
}

int content_range_parse(const char *s, size_t n, int64_t *start, int64_t *end)
{
	*start = *end = 0;
	trim(&s, &n);
	if (n >= 6 && !strncasecmp(s, "bytes ", 6))
		s += 6, n -= 6;
	else if (n >= 6 && !strncasecmp(s, "bytes=", 6))
		s += 6, n -= 6;
	const char *slash = memchr(s, '/', n);
	if (slash)
		n = (size_t)(slash - s);
	const char *dash = memchr(s, '-', n);
	if (!dash)
		return DD_E_RANGE_INVALID;
	int64_t x, y;
	if (parse_i64(s, (size_t)(dash - s), &x) || parse_i64(dash + 1, n - (size_t)(dash - s) - 1, &y) || y < x)
		return DD_E_RANGE_INVALID;
	*start = x;
	*end = y;
	return 0;
}
