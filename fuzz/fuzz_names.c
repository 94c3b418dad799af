/* fuzz_names.c: the name and tag grammars and the router; a routed name lies inside the path. */
#include "common/dd.h"
#include "registry/names.h"
#include "fuzz.h"

int fuzz_names(const uint8_t *data, size_t size)
{
	char *copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	const char *why;
	if (name_validate(copy, size, &why) == 0) {
		if (size == 0 || size > DD_MAX_NAME_BYTES || copy[0] == '/' || copy[size - 1] == '/')
			abort();
	}
	if (tag_validate(copy, size, &why) == 0 && (size == 0 || size > DD_MAX_TAG_BYTES))
		abort();
	struct route r;
	if (route_parse(copy, size, &r) == 0 && r.name) {
		if (r.name < copy || r.name + r.name_len > copy + size)
			abort();
		if (r.arg && (r.arg < copy || r.arg + r.arg_len > copy + size || memchr(r.arg, '/', r.arg_len)))
			abort();
	}
	free(copy);
	return 0;
}
DD_FUZZ_ENTRY(fuzz_names)
