/* lang_gofuncs.c: which packages a Go binary holds code of, read from the names in its
 * function name table as the file's bytes stream past (lang.h, struct lang_gofuncs). It does
 * not read the build information (lang.c) and matches nothing (scan/findings.c does, with the
 * packages an advisory names).
 *
 * The Go linker writes, in every binary from Go 1.16 on, a table of its functions (the
 * pclntab) that the runtime needs for stack traces, so no strip removes it. It starts with a
 * header: a magic (0xfffffffa for Go 1.16 and 1.17, 0xfffffff0 for 1.18 and 1.19, 0xfffffff1
 * from 1.20), two zero bytes, the instruction size quantum, the pointer size, then words:
 * the function and file counts, (1.18 on) the text's start, and the offsets from the header
 * of the tables that follow it, the first being the function names, each ended by a NUL, up
 * to the next table. Functions the program never reaches are left out by the linker, and
 * inlined ones are named too, so a package with a function in this table is one whose code
 * the binary holds. A name is "path/to/pkg.Func", "path/to/pkg.(*T).Method",
 * "path/to/pkg.Func[...].func1" and the like: the package is what comes before the first dot
 * after the last slash (generic arguments, in brackets, left out first), the dots of its last
 * element written as %2e.
 *
 * The table is found by its magic at an 8-aligned offset and taken only when its header is
 * sound. A file with two such tables (a Go binary embedded in another) says nothing: which
 * one is the program's own cannot be told, and a wrong list would say that code is absent. */
#include "common/dd.h"
#include "lang.h"
#include "common/arena.h"
#include "common/siphash.h"
#include <pthread.h>

/* Package paths come from the file: a keyed hash, so that no file can make them collide. */
static struct siphash_key hash_key;
static pthread_once_t hash_once = PTHREAD_ONCE_INIT;

static void hash_init(void)
{
	if (siphash_key_random(&hash_key)) { /* no random source: still unknown to the file */
		hash_key.k0 = (uint64_t)(uintptr_t)&hash_key ^ 0x736f6d6570736575ULL;
		hash_key.k1 = (uint64_t)(uintptr_t)&hash_init ^ 0x646f72616e646f6dULL;
	}
}

static uint64_t hash(const char *s, size_t n) { return siphash24(&hash_key, s, n); }

static int magic_of(const unsigned char *s, int big, uint32_t *m)
{
	uint32_t v = big ? (uint32_t)s[0] << 24 | (uint32_t)s[1] << 16 | (uint32_t)s[2] << 8 | s[3]
			 : (uint32_t)s[3] << 24 | (uint32_t)s[2] << 16 | (uint32_t)s[1] << 8 | s[0];
	*m = v;
	return v == 0xfffffff1u || v == 0xfffffff0u || v == 0xfffffffau;
}

static uint64_t word(const unsigned char *s, int bytes, int big)
{
	uint64_t v = 0;
	for (int i = 0; i < bytes; i++)
		v |= (uint64_t)s[big ? bytes - 1 - i : i] << (8 * i);
	return v;
}

void lang_gofuncs_begin(struct lang_gofuncs *g, int big, int ptr)
{
	pthread_once(&hash_once, hash_init);
	memset(g, 0, sizeof(*g));
	g->big = big;
	g->ptr = ptr;
}

void lang_gofuncs_free(struct lang_gofuncs *g)
{
	free(g->pool);
	free(g->set);
	g->pool = NULL;
	g->set = NULL;
	g->pool_len = g->pool_cap = g->set_cap = g->npkgs = 0;
}

static void unusable(struct lang_gofuncs *g)
{
	lang_gofuncs_free(g);
	g->state = LANG_GOFUNCS_UNUSABLE;
}

/* Takes what of (off, d, n) the header still needs (bytes come in file order). */
static void header_put(struct lang_gofuncs *g, uint64_t off, const unsigned char *d, size_t n)
{
	uint64_t next = g->hdr_off + g->hdr_got;
	if (g->state != LANG_GOFUNCS_HEADER || next < off || next - off >= n)
		return;
	size_t k = (size_t)(off + n - next);
	if (k > g->hdr_n - g->hdr_got)
		k = g->hdr_n - g->hdr_got;
	memcpy(g->hdr + g->hdr_got, d + (next - off), k);
	g->hdr_got += (unsigned)k;
}

/* A whole header: 1 when it is sound (then its names are read next, or the file says nothing
 * when it is the second table), 0 when it is not a table. */
static int header_sound(struct lang_gofuncs *g)
{
	uint32_t m;
	magic_of(g->hdr, g->big, &m);
	int w = g->ptr, old = m == 0xfffffffau;
	const unsigned char *s = g->hdr + 8;
	uint64_t nfunc = word(s, w, g->big), nfiles = word(s + w, w, g->big);
	uint64_t o[5]; /* function names, compilation units, files, pc tables, functions */
	for (int i = 0; i < 5; i++)
		o[i] = word(s + (size_t)(old ? 2 + i : 3 + i) * (size_t)w, w, g->big);
	int ok = nfunc && nfunc <= DD_MAX_GO_FUNCS && nfiles <= DD_MAX_GO_FUNCS && o[0] >= g->hdr_n &&
		 o[0] - g->hdr_n <= 64 && o[1] > o[0] && o[1] - o[0] <= DD_MAX_GO_FUNCNAME_BYTES;
	for (int i = 1; ok && i < 5; i++)
		ok = o[i] >= o[i - 1];
	if (!ok)
		return 0;
	if (g->found) { /* a second table: whose is which cannot be told */
		unusable(g);
		return 1;
	}
	g->found = 1;
	g->lo = g->next = g->hdr_off + o[0];
	g->hi = g->hdr_off + o[1];
	g->state = LANG_GOFUNCS_NAMES;
	return 1;
}

static void candidate(struct lang_gofuncs *g, const unsigned char *s, uint64_t off);

/* Once a candidate's header is whole (its last bytes in the block at base): a table, or not one.
 * When not, the candidates its bytes hid in the blocks before this one are looked at again (a
 * header that started in an earlier block kept the offsets after it from being looked at
 * there; those in this block are looked at by the caller): the same whatever the blocks. */
static void header_check(struct lang_gofuncs *g, uint64_t base, const unsigned char *d, size_t n)
{
	while (g->state == LANG_GOFUNCS_HEADER && g->hdr_got >= g->hdr_n && !header_sound(g)) {
		unsigned char old[sizeof(g->hdr)];
		unsigned on = g->hdr_n;
		uint64_t ooff = g->hdr_off;
		memcpy(old, g->hdr, on);
		g->state = g->save_state; /* not a table: as before it */
		for (unsigned k = 8; k + 8 <= on && ooff + k < base; k += 8) {
			candidate(g, old + k, ooff + k);
			if (g->state == LANG_GOFUNCS_HEADER) { /* its first bytes are the old header's */
				unsigned have = on - k < g->hdr_n ? on - k : g->hdr_n;
				memcpy(g->hdr, old + k, have);
				g->hdr_got = have;
				header_put(g, base, d, n);
				break; /* checked by the loop: the rest of the old bytes lie in this one's */
			}
		}
	}
}

/* A candidate header at file offset off: its first 8 bytes at s. */
static void candidate(struct lang_gofuncs *g, const unsigned char *s, uint64_t off)
{
	uint32_t m;
	if (!magic_of(s, g->big, &m) || s[4] || s[5] || (s[6] != 1 && s[6] != 2 && s[6] != 4) || s[7] != g->ptr)
		return;
	if (g->state == LANG_GOFUNCS_HEADER || g->state == LANG_GOFUNCS_UNUSABLE)
		return; /* within a header being taken: none starts there */
	if (g->found && off < g->hi)
		return; /* within the table found: its names hold no such bytes */
	g->save_state = g->state;
	g->state = LANG_GOFUNCS_HEADER;
	g->hdr_off = off;
	g->hdr_got = 0;
	g->hdr_n = 8u + (m == 0xfffffffau ? 7u : 8u) * (unsigned)g->ptr;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Adds package (s, n) to the set, once. */
static void add(struct lang_gofuncs *g, const char *s, size_t n)
{
	if (g->last_len == n && g->npkgs && !memcmp(g->pool + g->last_off, s, n))
		return; /* names come grouped by package: the last one again */
	if (g->npkgs * 2 >= g->set_cap) {
		if (g->npkgs >= DD_MAX_GO_PACKAGES) {
			unusable(g);
			return;
		}
		size_t cap = g->set_cap ? g->set_cap * 2 : 1024;
		uint32_t *set = calloc(cap, sizeof(*set));
		if (!set) {
			unusable(g);
			return;
		}
		for (size_t i = 0; i < g->set_cap; i++)
			if (g->set[i]) {
				const char *q = g->pool + g->set[i] - 1;
				size_t j = hash(q, strlen(q)) & (cap - 1);
				while (set[j])
					j = (j + 1) & (cap - 1);
				set[j] = g->set[i];
			}
		free(g->set);
		g->set = set;
		g->set_cap = cap;
	}
	size_t j = hash(s, n) & (g->set_cap - 1);
	for (; g->set[j]; j = (j + 1) & (g->set_cap - 1)) {
		const char *q = g->pool + g->set[j] - 1;
		if (!strncmp(q, s, n) && !q[n]) {
			g->last_off = g->set[j] - 1;
			g->last_len = n;
			return;
		}
	}
	if (g->pool_len + n + 1 > DD_MAX_GO_PACKAGE_BYTES) {
		unusable(g);
		return;
	}
	if (g->pool_len + n + 1 > g->pool_cap) {
		size_t cap = g->pool_cap ? g->pool_cap * 2 : 16384;
		while (cap < g->pool_len + n + 1)
			cap *= 2;
		char *pool = realloc(g->pool, cap);
		if (!pool) {
			unusable(g);
			return;
		}
		g->pool = pool;
		g->pool_cap = cap;
	}
	memcpy(g->pool + g->pool_len, s, n);
	g->pool[g->pool_len + n] = 0;
	g->set[j] = (uint32_t)g->pool_len + 1;
	g->last_off = g->pool_len;
	g->last_len = n;
	g->pool_len += n + 1;
	g->npkgs++;
}

/* Whether name (s, n) starts with a domain and a slash ("go.etcd.io/..."): labels of letters,
 * digits and hyphens, none empty. */
static int domain_first(const char *s, size_t n)
{
	size_t i = 0, label = 0;
	for (; i < n && s[i] != '/'; i++) {
		char c = s[i];
		if (c == '.') {
			if (!label)
				return 0;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-') {
			label++;
		} else {
			return 0;
		}
	}
	return i < n && label;
}

/* One function's name (its first bytes, up to LANG_GO_NAME_PREFIX): its package, if any. */
static void name_done(struct lang_gofuncs *g, const char *s, size_t n)
{
	const char *br = memchr(s, '[', n);
	if (br)
		n = (size_t)(br - s); /* a generic's arguments: no package path follows them */
	if ((n >= 5 && !memcmp(s, "type:", 5)) || (n >= 3 && !memcmp(s, "go:", 3)))
		return; /* the compiler's own, from Go 1.20 on (type:.eq.T, go:buildid) */
	if (((n >= 5 && !memcmp(s, "type.", 5)) || (n >= 3 && !memcmp(s, "go.", 3))) && !domain_first(s, n))
		return; /* the compiler's own before Go 1.20 (type..eq.T, go.buildid, go.shape.int),
			 * not a package of a module at go.etcd.io or go.uber.org */
	size_t from = 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '/')
			from = i;
	const char *dot = memchr(s + from, '.', n - from);
	if (!dot || dot == s)
		return;
	size_t len = (size_t)(dot - s);
	char pkg[LANG_GO_NAME_PREFIX];
	size_t k = 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '%') { /* the linker's escape: %2e for a dot of the last element */
			int hi = i + 2 < len ? hexval(s[i + 1]) : -1, lo = hi >= 0 ? hexval(s[i + 2]) : -1;
			if (lo < 0)
				return;
			c = (char)(hi << 4 | lo);
			i += 2;
		}
		if ((unsigned char)c <= ' ' || (unsigned char)c >= 0x7f)
			return;
		pkg[k++] = c;
	}
	if (k && k <= LANG_GO_MAX_PACKAGE)
		add(g, pkg, k);
}

/* Takes what of (off, d, n) is the names' next bytes. */
static void names_put(struct lang_gofuncs *g, uint64_t off, const unsigned char *d, size_t n)
{
	if (g->state != LANG_GOFUNCS_NAMES || g->next < off || g->next - off >= n)
		return;
	uint64_t end = off + n < g->hi ? off + n : g->hi;
	const char *p = (const char *)d + (g->next - off), *e = (const char *)d + (end - off);
	while (p < e && g->state == LANG_GOFUNCS_NAMES) {
		const char *z = memchr(p, 0, (size_t)(e - p));
		const char *stop = z ? z : e;
		size_t k = (size_t)(stop - p);
		if (g->nname + k > sizeof(g->name)) /* only the start of a long name matters */
			k = sizeof(g->name) - g->nname;
		memcpy(g->name + g->nname, p, k);
		g->nname += k;
		if (!z)
			break;
		if (g->nname)
			name_done(g, g->name, g->nname);
		g->nname = 0;
		p = z + 1;
	}
	g->next = end;
	if (g->state == LANG_GOFUNCS_NAMES && g->next == g->hi)
		g->state = LANG_GOFUNCS_READ;
}

/* After a candidate at a position: its header, when whole, and the names it leads to. */
static void after(struct lang_gofuncs *g, uint64_t base, const unsigned char *d, size_t n)
{
	header_put(g, base, d, n);
	header_check(g, base, d, n);
	names_put(g, base, d, n);
}

void lang_gofuncs_feed(struct lang_gofuncs *g, uint64_t base, const unsigned char *d, size_t n)
{
	if (g->state == LANG_GOFUNCS_UNUSABLE || !n)
		return;
	/* what the last block left open (a header, the names); then candidates across its end (the
	 * carry holds its last 7 bytes) and in this block, in file order */
	after(g, base, d, n);
	if (g->ncarry) {
		unsigned char buf[2 * sizeof(g->carry)];
		size_t m = n < sizeof(g->carry) ? n : sizeof(g->carry);
		uint64_t coff = base - g->ncarry;
		memcpy(buf, g->carry, g->ncarry);
		memcpy(buf + g->ncarry, d, m);
		for (size_t i = (size_t)((8 - coff % 8) % 8); i < g->ncarry && i + 8 <= g->ncarry + m; i += 8) {
			if (i + 8 <= g->ncarry)
				continue; /* taken with the block it lay in */
			candidate(g, buf + i, coff + i);
			header_put(g, coff, buf, g->ncarry);
			after(g, base, d, n);
		}
	}
	for (size_t q = (size_t)((8 - base % 8) % 8); q + 8 <= n && g->state != LANG_GOFUNCS_UNUSABLE; q += 8) {
		if (g->found && base + q < g->hi) { /* over the names read: no header there */
			uint64_t rel = ((g->hi + 7) & ~(uint64_t)7) - base;
			if (rel >= n)
				break;
			q = (size_t)rel;
			if (q + 8 > n)
				break;
		}
		if (d[q + 1] != 0xff || d[q + 2] != 0xff)
			continue; /* both byte orders have 0xff there */
		candidate(g, d + q, base + q);
		after(g, base, d, n);
	}
	size_t c = sizeof(g->carry);
	if (n >= c) {
		memcpy(g->carry, d + n - c, c);
		g->ncarry = c;
	} else {
		size_t keepc = g->ncarry + n > c ? c - n : g->ncarry;
		memmove(g->carry, g->carry + g->ncarry - keepc, keepc);
		memcpy(g->carry + keepc, d, n);
		g->ncarry = keepc + n;
	}
}

static int str_cmp(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

const char *lang_gofuncs_result(struct lang_gofuncs *g, struct arena *a, size_t *len)
{
	*len = 0;
	if (g->state != LANG_GOFUNCS_READ)
		return NULL;
	const char **v = arena_alloc(a, (g->npkgs + 1) * sizeof(*v));
	size_t n = 0;
	for (size_t o = 0; o < g->pool_len; o += strlen(g->pool + o) + 1)
		v[n++] = g->pool + o;
	qsort(v, n, sizeof(*v), str_cmp);
	char *out = arena_alloc_uninit(a, g->pool_len + 1), *w = out;
	for (size_t i = 0; i < n; i++) {
		size_t k = strlen(v[i]);
		memcpy(w, v[i], k);
		w[k] = '\n';
		w += k + 1;
	}
	*w = 0;
	*len = (size_t)(w - out);
	return out;
}
