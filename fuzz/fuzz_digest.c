/* fuzz_digest.c: digest_parse never reads past n, and what it accepts round-trips. */
#include "common/dd.h"
#include "common/digest.h"
#include "fuzz.h"

int fuzz_digest(const uint8_t *data, size_t size)
{
	char *copy = malloc(size ? size : 1); /* exact size: ASan catches any over-read */
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	struct digest d;
	const char *why;
	int rc = digest_parse(copy, size, &d, &why);
	if (rc == 0) {
		if (strlen(d.str) != size || memcmp(d.str, copy, size))
			abort();
		struct digest again;
		if (digest_parse(d.str, strlen(d.str), &again, &why) || strcmp(again.str, d.str))
			abort();
	} else if (!why || !*why || d.alg != DIGEST_NONE)
		abort();
	free(copy);
	return 0;
}
DD_FUZZ_ENTRY(fuzz_digest)
