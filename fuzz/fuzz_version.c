/* fuzz_version.c: the version comparators as orders. Input: a scheme byte, then three
 * versions separated by '\n'. Invariants: cmp(a,a) = 0, cmp(a,b) = -cmp(b,a), and
 * cmp(a,b) <= 0 && cmp(b,c) <= 0 implies cmp(a,c) <= 0, for every scheme but Maven's: its
 * ComparableVersion is not transitive when a version starts with a qualifier ("t0.1" < "0rc1"
 * < "-", yet "t0.1" > "-": a qualifier against nothing, a list against a qualifier), and
 * drydock orders as Maven does. */
#include "common/dd.h"
#include "version/version.h"
#include "fuzz.h"

static int cmp(enum version_scheme s, const char *a, size_t an, const char *b, size_t bn, int *ok)
{
	int c;
	const char *why;
	if (version_compare(s, a, an, b, bn, &c, &why)) {
		if (!why || !*why)
			abort();
		*ok = 0;
		return 0;
	}
	return c;
}

int fuzz_version(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	enum version_scheme s = (enum version_scheme)(data[0] % 6); /* dpkg, rpm, apk, pep440, go, maven */
	char *copy = malloc(size); /* exact size: ASan catches over-reads */
	if (!copy)
		return 0;
	memcpy(copy, data + 1, size - 1);
	const char *part[3] = {copy, copy, copy};
	size_t len[3] = {0, 0, 0};
	size_t k = 0, start = 0;
	for (size_t i = 0; i <= size - 1 && k < 3; i++) {
		if (i == size - 1 || copy[i] == '\n') {
			part[k] = copy + start;
			len[k++] = i - start;
			start = i + 1;
		}
	}
	while (k < 3) { /* fewer than three: repeat the last */
		part[k] = part[k ? k - 1 : 0];
		len[k] = len[k ? k - 1 : 0];
		k++;
	}
	int ok = 1;
	int ab = cmp(s, part[0], len[0], part[1], len[1], &ok);
	int ba = cmp(s, part[1], len[1], part[0], len[0], &ok);
	int aa = cmp(s, part[0], len[0], part[0], len[0], &ok);
	int bc = cmp(s, part[1], len[1], part[2], len[2], &ok);
	int ac = cmp(s, part[0], len[0], part[2], len[2], &ok);
	if (ok) {
		if (aa != 0 || ab != -ba)
			abort();
		if (s != VERSION_MAVEN && ab <= 0 && bc <= 0 && ac > 0)
			abort();
		if (s != VERSION_MAVEN && ab >= 0 && bc >= 0 && ac < 0)
			abort();
	}
	free(copy);
	return 0;
}
DD_FUZZ_ENTRY(fuzz_version)
