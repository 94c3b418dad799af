/* fuzz_admission.c: the image references of the admission webhook's container specs, and the
 * event type lists of webhook targets. */
#include "common/dd.h"
#include "assess/admission.h"
#include "common/arena.h"
#include "events/hooks.h"
#include "fuzz.h"

static int inside(const char *s, const char *text)
{
	return strstr(text, s) != NULL;
}

int fuzz_admission(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	struct arena a = {0};
	struct image_ref ref;
	if (!admission_ref_parse(&a, text, &ref)) {
		if (!ref.repo || !*ref.repo || !inside(ref.repo, text) || strpbrk(ref.repo, " \t\r\n@"))
			abort();
		if (ref.host && (!*ref.host || !inside(ref.host, text) || strchr(ref.host, '/')))
			abort();
		if (ref.tag && (!*ref.tag || strchr(ref.tag, '/') || strchr(ref.tag, '@') ||
				(strcmp(ref.tag, "latest") && !inside(ref.tag, text))))
			abort();
		if (!ref.tag && !ref.digest)
			abort();
		if (ref.digest && ((strncmp(ref.digest, "sha256:", 7) || strlen(ref.digest) != 71) &&
				   (strncmp(ref.digest, "sha512:", 7) || strlen(ref.digest) != 135)))
			abort();
		if (strlen(text) > 4096)
			abort();
	}
	const char *why;
	if (!hook_types_valid(text, &why) && *text && (strstr(text, ",,") || text[0] == ',' || strpbrk(text, " ")))
		abort(); /* only names of known types, comma-separated, pass */
	arena_free(&a);
	free(text);
	return 0;
}
DD_FUZZ_ENTRY(fuzz_admission)
