/* fuzz_range.c: a parsed Range always lies inside the blob. */
#include "common/dd.h"
#include "http/range.h"
#include "fuzz.h"

int fuzz_range(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	int64_t blob = (int64_t)data[0] * 256 + data[1];
	char *copy = malloc(size - 2 ? size - 2 : 1);
	if (!copy)
		return 0;
	memcpy(copy, data + 2, size - 2);
	int64_t s, e;
	if (range_parse(copy, size - 2, blob, &s, &e) == 0) {
		if (s < 0 || e < s || e >= blob)
			abort();
	}
	if (content_range_parse(copy, size - 2, &s, &e) == 0 && (s < 0 || e < s))
		abort();
	free(copy);
	return 0;
}
DD_FUZZ_ENTRY(fuzz_range)
