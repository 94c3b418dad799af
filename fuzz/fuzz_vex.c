/* fuzz_vex.c: VEX documents (OpenVEX, CycloneDX) read into statements, and their matching. */
#include "common/dd.h"
#include "scan/vex.h"
#include "common/arena.h"
#include "common/limits.h"
#include "fuzz.h"

int fuzz_vex(const uint8_t *data, size_t size)
{
	struct arena a = {0};
	const char *format, *why;
	struct vex_statement *st;
	size_t n;
	if (!vex_parse(&a, (const char *)data, size, &format, &st, &n, &why)) {
		if (n > DD_MAX_VEX_STATEMENTS || (strcmp(format, "openvex") && strcmp(format, "cyclonedx")))
			abort();
		for (size_t i = 0; i < n; i++) {
			const struct vex_statement *s = &st[i];
			if (!s->vulnerability || !*s->vulnerability || !s->status)
				abort();
			if (strcmp(s->status, "not_affected") && strcmp(s->status, "fixed") && strcmp(s->status, "affected") &&
			    strcmp(s->status, "under_investigation"))
				abort();
			if (s->digest && strncmp(s->digest, "sha256:", 7) && strncmp(s->digest, "sha512:", 7))
				abort();
			if (!s->digest && !s->package)
				abort(); /* every statement names an image or a package */
			const char *al[1] = {"x"};
			/* a statement applies to its own vulnerability, image and package */
			if (!vex_applies(s, NULL, s->digest, s->vulnerability, al, 0, s->package, NULL, s->version))
				abort();
		}
	} else if (!why || !*why)
		abort();
	arena_free(&a);
	return 0;
}
DD_FUZZ_ENTRY(fuzz_vex)
