/* fuzz_manifest.c: manifest_parse either fails with a reason or yields well-formed refs. */
#include "common/dd.h"
#include "common/arena.h"
#include "common/digest.h"
#include "image/manifest.h"
#include "fuzz.h"

int fuzz_manifest(const uint8_t *data, size_t size)
{
	struct arena a = {0};
	struct manifest_info mi;
	const char *why;
	const char *types[] = {NULL, MT_OCI_MANIFEST, MT_OCI_INDEX, MT_DOCKER_MANIFEST, MT_DOCKER_LIST};
	const char *ct = types[size ? data[0] % 5 : 0];
	char *copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	int rc = manifest_parse(&a, copy, size, ct, &mi, &why);
	if (rc == 0) {
		if (!manifest_type_known(mi.media_type) || mi.nrefs > DD_MAX_DESCRIPTORS + 1)
			abort();
		for (size_t i = 0; i < mi.nrefs; i++) {
			struct digest d;
			if (digest_parse(mi.refs[i].digest, strlen(mi.refs[i].digest), &d, &why))
				abort();
		}
	} else if (!why || !*why)
		abort();
	free(copy);
	arena_free(&a);
	return 0;
}
DD_FUZZ_ENTRY(fuzz_manifest)
