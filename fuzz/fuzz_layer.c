/* fuzz_layer.c: a layer's tar stream (gzip, zstd or plain). Every kept path is normalised:
 * relative, no "." or ".." component, no empty component; what the layer keeps is within its
 * limit and is the sum of what its entries cost. */
#define _GNU_SOURCE 1
#include "common/dd.h"
#include "common/arena.h"
#include "image/layer.h"
#include "fuzz.h"
#include <sys/mman.h>

static int normal(const char *p)
{
	if (!p || p[0] == '/')
		return 0;
	for (const char *s = p; *s;) {
		const char *e = strchr(s, '/');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
			return 0;
		s += n + (e ? 1 : 0);
		if (e && !*s)
			return 0;
	}
	return 1;
}

int fuzz_layer(const uint8_t *data, size_t size)
{
	int fd = memfd_create("layer", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size || lseek(fd, 0, SEEK_SET) < 0) {
		close(fd);
		return 0;
	}
	struct arena a = {0};
	struct layer l;
	const char *why;
	int rc = layer_read_fd(&a, fd, NULL, NULL, &l, &why);
	if (rc && (!why || !*why))
		abort();
	uint64_t kept = 0;
	for (size_t i = 0; i < l.n; i++)
		kept += layer_entry_cost(&l.v[i]);
	if (!rc && (kept != l.kept || kept > DD_MAX_LAYER_KEPT_BYTES))
		abort();
	for (size_t i = 0; i < l.n; i++) {
		if (l.v[i].kind == LE_OPAQUE && !*l.v[i].path)
			continue; /* an opaque marker at the root */
		if (!normal(l.v[i].path))
			abort();
		if (l.v[i].kind == LE_HARDLINK && !normal(l.v[i].target))
			abort();
	}
	arena_free(&a);
	close(fd);
	return 0;
}
DD_FUZZ_ENTRY(fuzz_layer)
