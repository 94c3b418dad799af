/* jsonscan.c: see jsonscan.h. */
#include "common/dd.h"
#include "jsonscan.h"
#include "common/arena.h"

const char *jscan_plain_string(struct arena *a, const char **p)
{
	const char *q = *p;
	while (*q && *q != '"' && *q != '\\')
		q++;
	if (*q != '"')
		return NULL;
	const char *out = arena_strndup(a, *p, (size_t)(q - *p));
	*p = q + 1;
	return out;
}

int jscan_skip_value(const char **p)
{
	const char *q = *p;
	int depth = 0;
	for (;;) {
		char c = *q;
		if (!c)
			return 0;
		if (c == '"') {
			for (q++; *q != '"'; q++)
				if (!*q || (*q == '\\' && !*++q))
					return 0;
			q++;
		} else if (c == '{' || c == '[') {
			depth++;
			q++;
		} else if (c == '}' || c == ']') {
			if (!depth)
				break; /* the container around a scalar ends */
			depth--;
			q++;
		} else if (c == ',' && !depth) {
			break;
		} else {
			q++;
		}
		if (!depth && (c == '"' || c == '}' || c == ']'))
			break; /* a string or a container ended */
	}
	*p = q;
	return 1;
}

int jscan_starts(const char **p, const char *lit)
{
	size_t n = strlen(lit);
	if (strncmp(*p, lit, n))
		return 0;
	*p += n;
	return 1;
}
