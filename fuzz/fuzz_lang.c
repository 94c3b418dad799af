/* fuzz_lang.c: the application package readers (inventory/lang.c). The first byte picks the
 * file's path (its kind) and a block size; the rest is the file. Its bytes go through the probe
 * in blocks of that size and whatever it keeps through the parser, and the file itself through
 * the parser of its kind. Invariants: every package added has a non-empty name and version
 * without a newline or a NUL; what the probe keeps is bytes of the file starting at a magic (or
 * a Rust binary's inflated dependency list, or an old Go binary's build information with the
 * version and module list its pointers name, all bytes of the file; a Go binary's package list
 * after it: paths, sorted, each once), the same for any block size; what the Java archive
 * reader keeps is the same for any block size too, and parses into packages as valid as the
 * rest; any bytes parsed as if derived are parsed safely. */
#include "common/dd.h"
#include "common/arena.h"
#include "inventory/inventory.h"
#include "inventory/lang.h"
#include "fuzz.h"

static const char *const paths[] = {
	"usr/lib/python3.11/site-packages/x-1.dist-info/METADATA",
	"usr/lib/python3/dist-packages/x-1.egg-info",
	"app/node_modules/@s/x/package.json",
	"app/package-lock.json",
	"app/Cargo.lock",
	"var/lib/dpkg/info/x.list",
	"usr/bin/app",
	"usr/local/bin/node",
	"srv/java/app.war",
};

struct mem {
	const uint8_t *d;
	size_t n, off, block;
};

static ssize_t mem_pull(void *ctx, const void **buf)
{
	struct mem *m = ctx;
	size_t k = m->n - m->off < m->block ? m->n - m->off : m->block;
	*buf = m->d + m->off;
	m->off += k;
	return (ssize_t)k;
}

static const char *jar(struct arena *a, const char *path, const uint8_t *d, size_t n, size_t block, size_t *len)
{
	struct mem m = {d, n, 0, block};
	const char *out, *why;
	lang_jar_read(a, path, mem_pull, &m, &out, len, &why);
	return out;
}

static void check(const struct inventory *inv, size_t from)
{
	for (size_t i = from; i < inv->n; i++) {
		const struct package *p = &inv->pkgs[i];
		if (!p->name || !*p->name || !p->version || !*p->version || strchr(p->version, '\n') ||
		    strchr(p->name, '\n') || !pkg_lang_ecosystem(p->type))
			abort();
	}
}

static const char *probe(struct arena *a, const char *path, const uint8_t *d, size_t n, size_t block, size_t *len)
{
	struct lang_probe p;
	lang_probe_begin(&p, path);
	for (size_t off = 0; off < n; off += block)
		if (!lang_probe_feed(&p, a, d + off, off + block > n ? n - off : block))
			break;
	return lang_probe_result(&p, a, len);
}

static int uvar(const unsigned char *s, size_t n, size_t *i, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; *i < n && shift < 63; shift += 7) {
		unsigned char b = s[(*i)++];
		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return 1;
	}
	return 0;
}

/* An old Go binary's build information as the probe hands it on (the 1.18 form): its header is
 * the file's but for the inline flag, and its version and module list are bytes of the file. */
static int old_go_from_file(const uint8_t *data, size_t size, const char *kept, size_t k)
{
	const unsigned char *s = (const unsigned char *)kept;
	if (k < 33 || memcmp(kept, LANG_GO_MAGIC, strlen(LANG_GO_MAGIC)) || !(s[15] & 2))
		return 0;
	unsigned char h[32];
	memcpy(h, kept, 32);
	h[15] &= (unsigned char)~2;
	size_t i = 32;
	uint64_t vl, ml;
	if (!memmem(data, size, h, 32) || !uvar(s, k, &i, &vl) || vl > k - i || (vl && !memmem(data, size, s + i, vl)))
		return 0;
	i += vl;
	if (!uvar(s, k, &i, &ml) || ml != k - i || (ml && !memmem(data, size, s + i, ml)))
		return 0;
	return vl || ml;
}

/* Where a Go binary's package list starts in what the probe kept (k when it has none): right
 * after the build information's module list, as the parser finds it. The list is checked:
 * package paths, each once, sorted, each ended by a newline. */
static size_t go_packages_at(const char *kept, size_t k)
{
	const char *m = LANG_GO_PACKAGES_MAGIC;
	const unsigned char *s = (const unsigned char *)kept;
	size_t ml = strlen(m), i = 32;
	uint64_t vl, mlen;
	if (k < 33 || memcmp(kept, LANG_GO_MAGIC, strlen(LANG_GO_MAGIC)) || !(s[15] & 2) || !uvar(s, k, &i, &vl) ||
	    vl > k - i)
		return k;
	i += vl;
	if (!uvar(s, k, &i, &mlen) || mlen > k - i)
		return k;
	size_t at = i + (size_t)mlen;
	if (k - at < ml || memcmp(kept + at, m, ml))
		return k;
	const char *prev = NULL;
	size_t prevn = 0;
	for (size_t j = at + ml; j < k;) {
		const char *nl = memchr(kept + j, '\n', k - j);
		if (!nl)
			abort(); /* every path ends with a newline */
		size_t n = (size_t)(nl - kept) - j;
		if (!n || n > LANG_GO_MAX_PACKAGE)
			abort();
		for (size_t q = 0; q < n; q++)
			if ((unsigned char)kept[j + q] <= ' ' || (unsigned char)kept[j + q] >= 0x7f)
				abort();
		if (prev) {
			int c = memcmp(prev, kept + j, prevn < n ? prevn : n);
			if (c > 0 || (!c && prevn >= n))
				abort(); /* sorted, each once */
		}
		prev = kept + j, prevn = n;
		j += n + 1;
	}
	return at;
}

int fuzz_lang(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *path = paths[data[0] % DD_ARRAY_LEN(paths)];
	size_t block = 1 + (data[0] >> 3) * 37;
	data++, size--;
	struct arena a = {0};
	struct inventory inv;
	inventory_init(&inv, &a);
	char *copy = arena_alloc(&a, size + 1);
	if (size)
		memcpy(copy, data, size);
	size_t n = size;
	if (lang_file_kind(path) == LANG_DPKG_LIST)
		n = lang_dpkg_list_filter(copy, n);
	lang_parse(&inv, path, copy, n, 0);
	lang_parse(&inv, path, copy, n, 1); /* as if derived: whatever the bytes, parsed safely */
	check(&inv, 0);
	size_t k1, k2;
	if (lang_is_java_archive(path)) {
		const char *j1 = jar(&a, path, data, size, block, &k1), *j2 = jar(&a, path, data, size, size ? size : 1, &k2);
		if (!j1 != !j2 || (j1 && (k1 != k2 || memcmp(j1, j2, k1))))
			abort();
		if (j1) {
			lang_parse(&inv, path, j1, k1, 1);
			check(&inv, 0);
		}
		arena_free(&a);
		return 0;
	}
	const char *kept = probe(&a, path, data, size, block, &k1);
	const char *whole = probe(&a, path, data, size, size ? size : 1, &k2);
	if (!kept != !whole || (kept && (k1 != k2 || memcmp(kept, whole, k1))))
		abort();
	if (kept) {
		int cargo = k1 >= strlen(LANG_CARGO_MAGIC) && !memcmp(kept, LANG_CARGO_MAGIC, strlen(LANG_CARGO_MAGIC));
		size_t own = go_packages_at(kept, k1);
		if (!cargo && !memmem(data, size, kept, own) && !old_go_from_file(data, size, kept, own))
			abort(); /* Go's and Node's are bytes of the file; cargo auditable's is inflated */
		size_t before = inv.n;
		lang_parse(&inv, path, kept, k1, 1);
		check(&inv, before);
	}
	arena_free(&a);
	return 0;
}

DD_FUZZ_ENTRY(fuzz_lang)
