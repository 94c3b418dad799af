/* fuzz_sandbox.c: what the server reads from a sandboxed scan worker (src/scan/sandbox.c),
 * which may be anything a compromised worker chooses to send. The first byte picks: a layer
 * entry (layer_cache_receive, checked as it is copied, then layer_cache_read_fd; with bit 2
 * set its checksum is made right first, so the entries behind it are reached), or an
 * inventory (inventory_deserialize). Invariants: an entry accepted and read back encodes to
 * bytes that read back to the same layer; every entry has a path, a known kind and costs what
 * layer_entry_cost says; every package read has a name and survives serialising again. */
#define _GNU_SOURCE 1
#include "common/dd.h"
#include "common/arena.h"
#include "image/layer.h"
#include "image/layer_cache.h"
#include "inventory/inventory.h"
#include "fuzz.h"
#include <sys/mman.h>
#include <zlib.h>

struct src {
	const uint8_t *p;
	size_t n;
};

static ssize_t src_read(void *ctx, void *buf, size_t n)
{
	struct src *s = ctx;
	if (n > s->n)
		n = s->n;
	if (n > 7) /* short reads, as from a socket */
		n = n / 2 + 1;
	memcpy(buf, s->p, n);
	s->p += n;
	s->n -= n;
	return (ssize_t)n;
}

static int fd_write(void *ctx, const void *p, size_t n) { return write(*(int *)ctx, p, n) == (ssize_t)n ? 0 : -1; }

static int same(const struct layer *a, const struct layer *b)
{
	if (a->n != b->n || a->kept != b->kept)
		return 0;
	for (size_t i = 0; i < a->n; i++) {
		const struct lentry *x = &a->v[i], *y = &b->v[i];
		if (x->kind != y->kind || strcmp(x->path, y->path) || !x->target != !y->target ||
		    (x->target && strcmp(x->target, y->target)))
			return 0;
		if ((x->kind == LE_FILE || x->kind == LE_DERIVED) && (x->len != y->len || (x->len && memcmp(x->data, y->data, x->len))))
			return 0;
	}
	return 1;
}

static void entry(const uint8_t *data, size_t size)
{
	int fd = memfd_create("entry", MFD_CLOEXEC), fd2 = memfd_create("again", MFD_CLOEXEC);
	struct arena a = {0};
	struct src s = {data, size};
	const char *why = NULL;
	struct layer l, back;
	if (fd < 0 || fd2 < 0)
		goto out;
	int rc = layer_cache_receive(fd, src_read, &s, size, &why);
	if (rc && (rc != DD_E_LAYER_INVALID || !why) && rc != DD_E_IO)
		abort();
	if (rc || layer_cache_read_fd(fd, &a, &l))
		goto out;
	uint64_t kept = 0;
	for (size_t i = 0; i < l.n; i++) {
		if (!l.v[i].path || l.v[i].kind > LE_DERIVED)
			abort();
		kept += layer_entry_cost(&l.v[i]);
	}
	if (kept != l.kept)
		abort();
	/* encoded again (as a worker would send it), it reads back to the same layer */
	if (layer_cache_encode(&l, fd_write, &fd2) || (uint64_t)lseek(fd2, 0, SEEK_CUR) != layer_cache_encoded_size(&l))
		abort();
	if (layer_cache_read_fd(fd2, &a, &back) || !same(&l, &back))
		abort();
out:
	arena_free(&a);
	if (fd >= 0)
		close(fd);
	if (fd2 >= 0)
		close(fd2);
}

static void inventory(const uint8_t *data, size_t size)
{
	struct arena a = {0};
	struct inventory inv, again;
	inventory_init(&inv, &a);
	inventory_init(&again, &a);
	const char *why = NULL;
	if (inventory_deserialize(&inv, (const char *)data, size, &why)) {
		if (!why)
			abort();
		goto out;
	}
	for (size_t i = 0; i < inv.n; i++)
		if (!inv.pkgs[i].name)
			abort();
	char *text = inventory_serialize(&inv);
	if (text && (inventory_deserialize(&again, text, strlen(text), &why) || again.n != inv.n))
		abort();
	free(text);
out:
	arena_free(&a);
}

int fuzz_sandbox(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t *copy = malloc(size); /* exact size: ASan catches over-reads */
	if (!copy)
		return 0;
	memcpy(copy, data + 1, size - 1);
	if (data[0] & 1)
		inventory(copy, size - 1);
	else {
		if ((data[0] & 2) && size - 1 >= 12) { /* a checksum a worker computed: right */
			uLong c = crc32(crc32(0L, Z_NULL, 0), copy, (uInt)(size - 1 - 4));
			for (int i = 0; i < 4; i++)
				copy[size - 1 - 4 + i] = (uint8_t)(c >> (8 * i));
		}
		entry(copy, size - 1);
	}
	free(copy);
	return 0;
}
DD_FUZZ_ENTRY(fuzz_sandbox)
