/* lang.c: application packages (lang.h). The formats, each as its own tool writes it:
 *   - Python core metadata (METADATA, PKG-INFO): RFC 822 style headers up to the first blank
 *     line; Name and Version. Names as PEP 503 normalises them, which is how the advisory
 *     database keys them.
 *   - npm: package.json's name and version; package-lock.json v2/v3 ("packages", keyed by the
 *     install path) and v1 ("dependencies", nested).
 *   - Cargo.lock: [[package]] tables; crates from a registry only (a workspace's own crates have
 *     no source, and are not the crates.io ones of the same name).
 *   - Go build information (Go 1.18 and later, which store the strings inline after the 32-byte
 *     header: a varint length, the Go version, a varint length, the module list between two
 *     16-byte sentinels): "mod" (the main module), "dep" lines and "=>" replacements, and the
 *     standard library as module "stdlib" at the toolchain's version. Older binaries (Go 1.13
 *     to 1.17) keep pointers instead, to strings that lie before the build information: the
 *     probe keeps the module list between its sentinels and the places of "go1." as they pass,
 *     and the version's string header, after the build information, says which one is the
 *     version and how long it is ("old Go" below); what it finds is handed on in the 1.18 form.
 *   - Node.js: the version in the release URL official builds embed. */
#include "common/dd.h"
#include "lang.h"
#include "common/arena.h"
#include "common/buf.h"
#include "inventory.h"
#include "version/version.h"
#include <zlib.h>
#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>

static int has_suffix(const char *s, size_t n, const char *suf)
{
	size_t k = strlen(suf);
	return n >= k && !memcmp(s + n - k, suf, k);
}

/* 1 when one of path's directories (not its last component) is named `name`. */
static int has_dir(const char *path, const char *name)
{
	size_t k = strlen(name);
	for (const char *p = path; (p = strstr(p, name)); p += k)
		if ((p == path || p[-1] == '/') && p[k] == '/')
			return 1;
	return 0;
}

enum lang_file lang_file_kind(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	size_t dl = slash ? (size_t)(slash - path) : 0; /* the parent directory: path[0, dl) */
	const char *ps = dl ? memrchr(path, '/', dl) : NULL;
	const char *parent = ps ? ps + 1 : path;
	size_t pl = dl - (size_t)(parent - path);
	if (!strcmp(base, "package.json") && dl) {
		/* node_modules/name/package.json or node_modules/@scope/name/package.json */
		if (parent[0] == '@' || parent[0] == '.' || parent == path)
			return LANG_NONE;
		size_t up = (size_t)(parent - path); /* path[0, up) ends in '/' */
		const char *g = up >= 2 ? memrchr(path, '/', up - 1) : NULL;
		const char *gp = g ? g + 1 : path;
		size_t gl = up ? up - 1 - (size_t)(gp - path) : 0;
		if (gl == 12 && !memcmp(gp, "node_modules", 12))
			return LANG_NPM_PACKAGE;
		if (gl > 1 && gp[0] == '@' && gp > path) { /* a scope: its parent must be node_modules */
			size_t up2 = (size_t)(gp - path);
			const char *h = up2 >= 2 ? memrchr(path, '/', up2 - 1) : NULL;
			const char *hp = h ? h + 1 : path;
			if (up2 - 1 - (size_t)(hp - path) == 12 && !memcmp(hp, "node_modules", 12))
				return LANG_NPM_PACKAGE;
		}
		return LANG_NONE;
	}
	if (!strcmp(base, "package-lock.json"))
		return has_dir(path, "node_modules") ? LANG_NONE : LANG_NPM_LOCK;
	if (!strcmp(base, "Cargo.lock"))
		return LANG_CARGO_LOCK;
	if (!strncmp(path, "var/lib/dpkg/info/", 18) && !strchr(path + 18, '/') && has_suffix(path, strlen(path), ".list"))
		return LANG_DPKG_LIST;
	if (!has_dir(path, "site-packages") && !has_dir(path, "dist-packages"))
		return LANG_NONE;
	if ((!strcmp(base, "METADATA") && has_suffix(parent, pl, ".dist-info")) ||
	    (!strcmp(base, "PKG-INFO") && has_suffix(parent, pl, ".egg-info")))
		return LANG_PY_METADATA;
	/* a file X.egg-info directly in site-packages (distutils' installs, Debian's older ones) */
	if (has_suffix(base, strlen(base), ".egg-info") &&
	    ((pl == 13 && !memcmp(parent, "site-packages", 13)) || (pl == 13 && !memcmp(parent, "dist-packages", 13))))
		return LANG_PY_METADATA;
	return LANG_NONE;
}

uint64_t lang_file_limit(enum lang_file k)
{
	switch (k) {
	case LANG_NPM_LOCK:
	case LANG_CARGO_LOCK: return DD_MAX_LOCKFILE_BYTES;
	case LANG_DPKG_LIST: return DD_MAX_PKGDB_FILE_BYTES;
	default: return DD_MAX_LANG_FILE_BYTES;
	}
}

static int starts(const char *data, size_t len, const char *magic);

/* ---- the probe ---- */

static const char *needle(const struct lang_probe *p, size_t *k)
{
	const char *s = p->node ? LANG_NODE_MAGIC : LANG_GO_MAGIC;
	*k = strlen(s);
	return s;
}

void lang_probe_begin(struct lang_probe *p, const char *path)
{
	memset(p, 0, sizeof(*p));
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	p->node = !strcmp(base, "node") || !strcmp(base, "nodejs");
}

/* A Go varint at s[*i, n): the value, *i past it; -1 when cut short or too long. */
static long long uvarint(const unsigned char *s, size_t n, size_t *i)
{
	unsigned long long v = 0;
	for (int shift = 0; *i < n && shift < 63; shift += 7) {
		unsigned char b = s[(*i)++];
		v |= (unsigned long long)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return v > (unsigned long long)DD_MAX_GO_BUILDINFO_BYTES ? -1 : (long long)v;
	}
	return -1;
}

/* Once enough of the Go header is kept: how many bytes to keep in all (the header, both strings). */
static void go_want(struct lang_probe *p)
{
	const unsigned char *s = (const unsigned char *)p->out;
	if (p->want || p->len < 33)
		return;
	if (!(s[15] & 2)) { /* before Go 1.18: pointers, not strings */
		p->want = 32;
		return;
	}
	size_t i = 32;
	long long vl = uvarint(s, p->len, &i);
	if (vl < 0)
		return;
	if (i + (size_t)vl >= p->len)
		return;
	i += (size_t)vl;
	long long ml = uvarint(s, p->len, &i);
	if (ml >= 0)
		p->want = i + (size_t)ml;
}

/* buf (len bytes used, *cap of room, arena) with room for `more` bytes: buf itself, or a copy
 * with the room doubled (from `first`) until it fits, but never past max. */
static char *room(struct arena *a, char *buf, size_t len, size_t *cap, size_t more, size_t first, size_t max)
{
	if (len + more <= *cap)
		return buf;
	size_t c = *cap ? *cap : first;
	while (c < len + more)
		c *= 2;
	if (c > max)
		c = max;
	char *o = arena_alloc_uninit(a, c);
	if (len)
		memcpy(o, buf, len);
	*cap = c;
	return o;
}

static void keep(struct lang_probe *p, struct arena *a, const unsigned char *d, size_t n)
{
	size_t max = p->node ? strlen(LANG_NODE_MAGIC) + 24 : DD_MAX_GO_BUILDINFO_BYTES;
	if (p->want && p->want < max)
		max = p->want;
	if (p->len >= max) {
		p->state = 3;
		return;
	}
	if (p->len + n > max)
		n = max - p->len;
	p->out = room(a, p->out, p->len, &p->cap, n, 4096, max);
	memcpy(p->out + p->len, d, n);
	p->len += n;
	if (!p->node)
		go_want(p);
	if (p->want && p->len >= p->want) {
		p->len = p->want; /* what follows the module list is not kept */
		p->state = 3;
	}
	if (p->len >= max)
		p->state = 3;
}

/* Whether the needle starts at s (avail bytes there), at file offset off. */
static int match_at(const struct lang_probe *p, const unsigned char *s, size_t avail, uint64_t off)
{
	size_t k;
	const char *nd = needle(p, &k);
	return avail >= k && (p->node || off % 16 == 0) && s[0] == (unsigned char)nd[0] && !memcmp(s, nd, k);
}

/* Keeps in carry (*nc bytes now) the last c bytes of what it held and then (d, n). */
static void carry_over(unsigned char *carry, size_t *nc, size_t c, const unsigned char *d, size_t n)
{
	if (n >= c) {
		memcpy(carry, d + n - c, c);
		*nc = c;
	} else {
		size_t keepc = *nc + n > c ? c - n : *nc;
		memmove(carry, carry + *nc - keepc, keepc);
		memcpy(carry + keepc, d, n);
		*nc = keepc + n;
	}
}

/* ---- old Go: the build information of Go 1.13 to 1.17 ---- */

static const unsigned char GO_MOD_START[16] = {0x30, 0x77, 0xaf, 0x0c, 0x92, 0x74, 0x08, 0x02,
					       0x41, 0xe1, 0xc1, 0x07, 0xe6, 0xd6, 0x18, 0xe6};
static const unsigned char GO_MOD_END[16] = {0xf9, 0x32, 0x43, 0x31, 0x86, 0x18, 0x20, 0x72,
					     0x00, 0x82, 0x42, 0x10, 0x41, 0x16, 0xd8, 0xf2};

static uint64_t rd_endian(const unsigned char *s, int bytes, int big)
{
	uint64_t v = 0;
	for (int i = 0; i < bytes; i++)
		v |= (uint64_t)s[big ? bytes - 1 - i : i] << (8 * i);
	return v;
}

/* Whether the ELF head carries Go's build ID note (name size 4, type 4, name "Go\0\0"), which
 * the Go linker writes in the first page of every binary. */
static int go_note_in_head(const struct lang_probe *p)
{
	if (p->nhead < 64 || memcmp(p->head, "\x7f" "ELF", 4) || (p->head[5] != 1 && p->head[5] != 2))
		return 0;
	int big = p->head[5] == 2;
	const unsigned char *h = p->head, *e = h + p->nhead;
	for (const unsigned char *q = h + 12; q < e && (q = memmem(q, (size_t)(e - q), "Go\0\0", 4)); q++)
		if ((q - h) % 4 == 0 && rd_endian(q - 12, 4, big) == 4 && rd_endian(q - 4, 4, big) == 4)
			return 1;
	return 0;
}

/* The file offset a virtual address is loaded from (the head's PT_LOAD segments); 0 when none. */
static int vaddr_off(const struct lang_probe *p, uint64_t va, uint64_t *off)
{
	const unsigned char *h = p->head;
	int e64 = h[4] == 2, big = h[5] == 2, w = e64 ? 8 : 4;
	uint64_t phoff = rd_endian(h + (e64 ? 32 : 28), w, big);
	unsigned phentsize = (unsigned)rd_endian(h + (e64 ? 54 : 42), 2, big);
	unsigned phnum = (unsigned)rd_endian(h + (e64 ? 56 : 44), 2, big);
	if (phentsize < (e64 ? 56u : 32u) || phoff > p->nhead || (uint64_t)phnum * phentsize > p->nhead - phoff)
		return 0;
	for (unsigned i = 0; i < phnum; i++) {
		const unsigned char *ph = h + phoff + (uint64_t)i * phentsize;
		if (rd_endian(ph, 4, big) != 1) /* PT_LOAD */
			continue;
		uint64_t o = rd_endian(ph + (e64 ? 8 : 4), w, big), v = rd_endian(ph + (e64 ? 16 : 8), w, big);
		uint64_t filesz = rd_endian(ph + (e64 ? 32 : 16), w, big);
		if (va >= v && va - v < filesz && o + (va - v) >= o) {
			*off = o + (va - v);
			return 1;
		}
	}
	return 0;
}

/* Takes what of (off, d, n) g still needs: bytes come in file order, so from g->off + g->got. */
static void grab_put(struct lang_grab *g, uint64_t off, const unsigned char *d, size_t n)
{
	uint64_t next = g->off + g->got;
	if (g->got >= g->n || next < off || next - off >= n)
		return;
	size_t k = (size_t)(off + n - next);
	if (k > g->n - g->got)
		k = g->n - g->got;
	memcpy(g->b + g->got, d + (next - off), k);
	g->got += (unsigned)k;
}

/* Appends what of (off, d, n) follows the module list kept so far, up to its end sentinel. */
static void mod_put(struct lang_probe *p, uint64_t off, const unsigned char *d, size_t n)
{
	uint64_t next = p->mod_off + p->mod_len;
	if (p->mod_state != 1 || next < off || next - off >= n)
		return;
	size_t k = (size_t)(off + n - next), had = p->mod_len;
	if (k > DD_MAX_GO_BUILDINFO_BYTES - p->mod_len)
		k = DD_MAX_GO_BUILDINFO_BYTES - p->mod_len;
	if (p->mod_len + k > p->mod_cap) { /* its own memory, given back with the probe: not the arena's */
		size_t c = p->mod_cap ? p->mod_cap : 4096;
		while (c < p->mod_len + k)
			c *= 2;
		if (c > DD_MAX_GO_BUILDINFO_BYTES)
			c = DD_MAX_GO_BUILDINFO_BYTES;
		char *m = realloc(p->mod, c);
		if (!m) {
			p->mod_state = 3;
			return;
		}
		p->mod = m;
		p->mod_cap = c;
	}
	memcpy(p->mod + p->mod_len, d + (next - off), k);
	p->mod_len += k;
	size_t from = had > 31 ? had - 15 : 16;
	const char *end = p->mod_len > from ? memmem(p->mod + from, p->mod_len - from, GO_MOD_END, 16) : NULL;
	if (end) {
		p->mod_len = (size_t)(end - p->mod) + 16;
		p->mod_state = 2;
	} else if (p->mod_len >= DD_MAX_GO_BUILDINFO_BYTES) {
		p->mod_state = 3; /* no end within the limit: not a module list */
	}
}

/* A "go1." or the module list's first sentinel at file offset off (avail bytes at s), that
 * ends past `past` (a match across blocks is taken once: in the block it ends in). */
static void old_match(struct lang_probe *p, const unsigned char *s, size_t avail, uint64_t off, uint64_t past)
{
	if (avail >= 4 && off + 4 > past && !memcmp(s, "go1.", 4) && p->ngo_ver < LANG_GO_VERSIONS)
		p->go_ver[p->ngo_ver++] = (struct lang_grab){off, sizeof(p->go_ver[0].b), 0, {0}};
	if (avail >= 16 && off + 16 > past && p->mod_state == 0 && !memcmp(s, GO_MOD_START, 16)) {
		p->mod_state = 1;
		p->mod_off = off;
	}
}

/* What an old Go binary's block holds: both patterns at offsets from LANG_ELF_HEAD on (so the
 * same whatever the blocks: the note that starts this is in the head), across blocks too. */
static void old_scan(struct lang_probe *p, uint64_t base, const unsigned char *d, size_t n)
{
	size_t sc = sizeof(p->scarry);
	uint64_t coff = base - p->nscarry;
	if (p->nscarry) {
		unsigned char buf[2 * sizeof(p->scarry)];
		size_t m = n < sc ? n : sc;
		memcpy(buf, p->scarry, p->nscarry);
		memcpy(buf + p->nscarry, d, m);
		for (size_t i = 0; i < p->nscarry; i++)
			if (coff + i >= LANG_ELF_HEAD)
				old_match(p, buf + i, p->nscarry + m - i, coff + i, base);
	}
	size_t from = base >= LANG_ELF_HEAD ? 0 : (size_t)(LANG_ELF_HEAD - base);
	if (from < n) { /* each pattern's first byte, the next of each found once */
		const unsigned char *e = d + n, *g = memchr(d + from, 'g', n - from), *t = NULL;
		if (p->mod_state == 0)
			t = memchr(d + from, GO_MOD_START[0], n - from);
		while (g || t) {
			const unsigned char *q = !g ? t : !t ? g : g < t ? g : t;
			old_match(p, q, (size_t)(e - q), base + (uint64_t)(q - d), 0);
			if (q == g)
				g = q + 1 < e ? memchr(q + 1, 'g', (size_t)(e - q - 1)) : NULL;
			if (q == t)
				t = p->mod_state == 0 && q + 1 < e ? memchr(q + 1, GO_MOD_START[0], (size_t)(e - q - 1)) : NULL;
		}
	}
	for (int i = 0; i < p->ngo_ver; i++) {
		grab_put(&p->go_ver[i], coff, p->scarry, p->nscarry);
		grab_put(&p->go_ver[i], base, d, n);
	}
	mod_put(p, coff, p->scarry, p->nscarry);
	mod_put(p, base, d, n);
	grab_put(&p->go_hdr, base, d, n);
	grab_put(&p->go_mhdr, base, d, n);
	carry_over(p->scarry, &p->nscarry, sc, d, n);
}

/* The build information's header is kept and says it is older than 1.18: where the version's
 * string header is (after the build information's header: every byte from there on is in the
 * block that completed it, or later). 4 while it is to come, else 3. */
static int old_begin(struct lang_probe *p)
{
	const unsigned char *s = (const unsigned char *)p->out;
	int ptr = s[14], big = s[15] & 1;
	uint64_t off, moff;
	if ((ptr != 4 && ptr != 8) || !vaddr_off(p, rd_endian(s + 16, ptr, big), &off) || off < p->go_at + 32)
		return 3;
	p->go_hdr = (struct lang_grab){off, 2u * (unsigned)ptr, 0, {0}};
	if (vaddr_off(p, rd_endian(s + 16 + ptr, ptr, big), &moff) && moff >= p->go_at + 32)
		p->go_mhdr = (struct lang_grab){moff, 2u * (unsigned)ptr, 0, {0}};
	return 4;
}

/* Once the version's string header is taken: the version, when its bytes lie before the build
 * information where a "go1." was seen. 4 while the header is to come, else 3. */
static int old_resolve(struct lang_probe *p, struct arena *a)
{
	if (p->go_hdr.got < p->go_hdr.n || p->go_mhdr.got < p->go_mhdr.n)
		return 4;
	const unsigned char *s = (const unsigned char *)p->out;
	int ptr = s[14], big = s[15] & 1;
	/* the module list kept is the one its pointer names (its sentinels included), else none */
	uint64_t mva = rd_endian(p->go_mhdr.b, ptr, big), mn = rd_endian(p->go_mhdr.b + ptr, ptr, big), moff;
	p->mod_named = p->go_mhdr.n && p->mod_state == 2 && vaddr_off(p, mva, &moff) && moff == p->mod_off &&
		       mn == p->mod_len;
	uint64_t va = rd_endian(p->go_hdr.b, ptr, big), n = rd_endian(p->go_hdr.b + ptr, ptr, big), off;
	if (!n || n > sizeof(p->go_ver[0].b) || !vaddr_off(p, va, &off) || off + n > p->go_at)
		return 3; /* the linker puts it before the build information */
	for (int i = 0; i < p->ngo_ver; i++)
		if (p->go_ver[i].off == off && p->go_ver[i].got >= n) {
			size_t k = 0;
			while (k < n && (isalnum(p->go_ver[i].b[k]) || p->go_ver[i].b[k] == '.'))
				k++;
			if (k == n)
				p->go_old_version = arena_strndup(a, (const char *)p->go_ver[i].b, (size_t)n);
		}
	return 3;
}

/* A Go varint of v at o: its length. */
static size_t put_uvarint(char *o, uint64_t v)
{
	size_t k = 0;
	for (; v >= 0x80; v >>= 7)
		o[k++] = (char)(v | 0x80);
	o[k++] = (char)v;
	return k;
}

/* The old build information in the 1.18 form parse_go reads: the header flagged as inline, the
 * version ("" when not found) and the module list (with its sentinels), or NULL when neither
 * was found. */
static const char *old_result(struct lang_probe *p, struct arena *a, size_t *len)
{
	size_t vl = p->go_old_version ? strlen(p->go_old_version) : 0;
	size_t ml = p->mod_named && p->mod_off + p->mod_len <= p->go_at ? p->mod_len : 0;
	if (!vl && !ml)
		return NULL;
	char *o = arena_alloc_uninit(a, 32 + 10 + vl + 10 + ml);
	memcpy(o, p->out, 32);
	o[15] |= 2;
	size_t k = 32 + put_uvarint(o + 32, vl);
	memcpy(o + k, p->go_old_version ? p->go_old_version : "", vl);
	k += vl;
	k += put_uvarint(o + k, ml);
	if (ml)
		memcpy(o + k, p->mod, ml);
	*len = k + ml;
	return o;
}

/* Whether the ELF head (where Go's note says whether to read a function table) is still to
 * come: build information in the first page is kept whole before it is. */
static int head_open(const struct lang_probe *p)
{
	return !p->node && p->nhead < LANG_ELF_HEAD && p->off == p->nhead && p->nhead >= 4 &&
	       !memcmp(p->head, "\x7f" "ELF", 4);
}

/* Whether bytes to come could matter: the build information is not kept whole yet, or a Go
 * binary's function name table is being read or could be found twice. */
static int wants_more(const struct lang_probe *p)
{
	return p->state != 3 || (p->go_note && p->funcs.state != LANG_GOFUNCS_UNUSABLE) || head_open(p);
}

/* ---- the ELF tail: cargo auditable's .dep-v0 ---- */

static uint64_t rd(const struct lang_probe *p, const unsigned char *s, int bytes)
{
	uint64_t v = 0;
	for (int i = 0; i < bytes; i++)
		v |= (uint64_t)s[p->big_endian ? bytes - 1 - i : i] << (8 * i);
	return v;
}

/* Copies what of (off, d, n) lies in the tail into it (the same bytes twice are harmless). */
static void tail_put(struct lang_probe *p, uint64_t off, const unsigned char *d, size_t n)
{
	uint64_t lo = off > p->tail_start ? off : p->tail_start, hi = off + n < p->tail_end ? off + n : p->tail_end;
	if (p->tail_state == 1 && lo < hi)
		memcpy(p->tail + (lo - p->tail_start), d + (lo - off), (size_t)(hi - lo));
}

/* With the ELF header and program headers in p->head (the file's first size bytes, or all of
 * it): where the tail is, and whether it is kept. */
static void tail_decide(struct lang_probe *p, uint64_t size)
{
	const unsigned char *h = p->head;
	p->tail_state = 2;
	if (p->nhead < 52 || (h[4] != 1 && h[4] != 2) || (h[5] != 1 && h[5] != 2))
		return;
	p->elf64 = h[4] == 2;
	p->big_endian = h[5] == 2;
	int w = p->elf64 ? 8 : 4;
	if (p->elf64 && p->nhead < 64)
		return;
	uint64_t phoff = rd(p, h + (p->elf64 ? 32 : 28), w);
	p->shoff = rd(p, h + (p->elf64 ? 40 : 32), w);
	unsigned phentsize = (unsigned)rd(p, h + (p->elf64 ? 54 : 42), 2), phnum = (unsigned)rd(p, h + (p->elf64 ? 56 : 44), 2);
	p->shentsize = (unsigned)rd(p, h + (p->elf64 ? 58 : 46), 2);
	p->shnum = (unsigned)rd(p, h + (p->elf64 ? 60 : 48), 2);
	p->shstrndx = (unsigned)rd(p, h + (p->elf64 ? 62 : 50), 2);
	if (phentsize < (p->elf64 ? 56u : 32u) || p->shentsize < (p->elf64 ? 64u : 40u) || !p->shnum ||
	    p->shstrndx >= p->shnum || phoff > p->nhead || (uint64_t)phnum * phentsize > p->nhead - phoff)
		return;
	uint64_t end = 0;
	for (unsigned i = 0; i < phnum; i++) {
		const unsigned char *ph = h + phoff + (uint64_t)i * phentsize;
		if (rd(p, ph, 4) != 1) /* PT_LOAD */
			continue;
		uint64_t off = rd(p, ph + (p->elf64 ? 8 : 4), w), filesz = rd(p, ph + (p->elf64 ? 32 : 16), w);
		if (off + filesz > end && off + filesz >= off)
			end = off + filesz;
	}
	uint64_t shend = p->shoff + (uint64_t)p->shnum * p->shentsize;
	if (p->shoff < end || shend < p->shoff || shend - end > DD_MAX_ELF_TAIL_BYTES || (size && shend > size))
		return;
	p->tail_start = end;
	p->tail_end = shend;
	if (!(p->tail = malloc(shend - end ? (size_t)(shend - end) : 1)))
		return;
	p->tail_state = 1;
	tail_put(p, 0, p->head, p->nhead);
}

/* The head, and the tail once decided. */
static void tail_feed(struct lang_probe *p, uint64_t base, const unsigned char *d, size_t n)
{
	if (base < LANG_ELF_HEAD && p->nhead == base) {
		size_t k = n < LANG_ELF_HEAD - base ? n : (size_t)(LANG_ELF_HEAD - base);
		memcpy(p->head + base, d, k);
		p->nhead += k;
		if (p->nhead == LANG_ELF_HEAD && !p->tail_state) {
			tail_decide(p, 0);
			p->go_note = !p->node && go_note_in_head(p);
			if (p->go_note)
				lang_gofuncs_begin(&p->funcs, p->head[5] == 2, p->head[4] == 2 ? 8 : 4);
		}
	}
	tail_put(p, base, d, n);
}

void lang_probe_abandon(struct lang_probe *p)
{
	lang_gofuncs_free(&p->funcs);
	free(p->tail);
	p->tail = NULL;
	free(p->mod);
	p->mod = NULL;
	p->mod_len = p->mod_cap = 0;
	p->tail_state = 2;
}

/* The .dep-v0 section of a complete tail, inflated behind LANG_CARGO_MAGIC; NULL when none. */
static const char *cargo_deps(struct lang_probe *p, struct arena *a, size_t *len)
{
	if (p->off < p->tail_end)
		return NULL; /* the file ended before its section headers */
	const unsigned char *t = p->tail;
	uint64_t tn = p->tail_end - p->tail_start;
	int w = p->elf64 ? 8 : 4;
	const unsigned char *sh = t + (p->shoff - p->tail_start);
	/* a section's bytes, when they lie in the tail */
#define SECTION(i, off, size)                                                                     	(off = rd(p, sh + (uint64_t)(i)*p->shentsize + (p->elf64 ? 24 : 16), w),                   	 size = rd(p, sh + (uint64_t)(i)*p->shentsize + (p->elf64 ? 32 : 20), w),                 	 off >= p->tail_start && size <= tn && off - p->tail_start <= tn - size)
	uint64_t stroff, strsize, off, size;
	if (!SECTION(p->shstrndx, stroff, strsize))
		return NULL;
	const char *names = (const char *)t + (stroff - p->tail_start);
	for (unsigned i = 0; i < p->shnum; i++) {
		uint64_t name = rd(p, sh + (uint64_t)i * p->shentsize, 4);
		if (name >= strsize || strsize - name < 8 || memcmp(names + name, ".dep-v0", 8) || !SECTION(i, off, size))
			continue;
		z_stream z = {0};
		if (inflateInit(&z) != Z_OK)
			return NULL;
		size_t k = strlen(LANG_CARGO_MAGIC), cap = 65536;
		char *out = arena_alloc_uninit(a, cap);
		memcpy(out, LANG_CARGO_MAGIC, k);
		z.next_in = (unsigned char *)t + (off - p->tail_start);
		z.avail_in = (uInt)size;
		int rc = Z_OK;
		while (rc == Z_OK) {
			if (k == cap) {
				if (cap >= DD_MAX_CARGO_AUDIT_BYTES)
					break;
				char *o = arena_alloc_uninit(a, cap * 2);
				memcpy(o, out, k);
				out = o;
				cap *= 2;
			}
			z.next_out = (unsigned char *)out + k;
			z.avail_out = (uInt)(cap - k);
			rc = inflate(&z, Z_NO_FLUSH);
			k = cap - z.avail_out;
		}
		inflateEnd(&z);
		if (rc != Z_STREAM_END)
			return NULL; /* damaged, or over the limit */
		*len = k;
		return out;
	}
#undef SECTION
	return NULL;
}

/* After keeping: an old Go header, once whole, starts the wait for its version's string header,
 * whose bytes may be in this block already. What lang_probe_feed returns. */
static int old_kept(struct lang_probe *p, struct arena *a, uint64_t base, const unsigned char *d, size_t n)
{
	if (p->state == 3 && p->go_note && !p->node && p->go_at >= LANG_ELF_HEAD && p->len >= 32 &&
	    !(p->out[15] & 2) && !p->go_hdr.n && old_begin(p) == 4) {
		grab_put(&p->go_hdr, base, d, n);
		grab_put(&p->go_mhdr, base, d, n);
		p->state = old_resolve(p, a);
	}
	return wants_more(p);
}

/* head_open as it stood before the block at base was counted. */
static int head_open_at(const struct lang_probe *p, uint64_t base)
{
	return !p->node && base < LANG_ELF_HEAD && p->nhead == base && base >= 4 && !memcmp(p->head, "\x7f" "ELF", 4);
}

int lang_probe_feed(struct lang_probe *p, struct arena *a, const void *data, size_t n)
{
	const unsigned char *d = data;
	uint64_t base = p->off;
	p->off += n;
	if ((p->state != 3 || (p->nhead == base && head_open_at(p, base))) && n)
		tail_feed(p, base, d, n);
	if (p->go_note && base + n > LANG_ELF_HEAD) { /* from the head's end on, whatever the blocks */
		size_t skip = base < LANG_ELF_HEAD ? (size_t)(LANG_ELF_HEAD - base) : 0;
		lang_gofuncs_feed(&p->funcs, base + skip, d + skip, n - skip);
	}
	if (p->state == 3 || !n)
		return wants_more(p);
	if (p->state == 0) { /* the first 4 bytes say whether it is ELF */
		size_t h = base < 4 ? (size_t)(4 - base) : 0;
		if (h > n)
			h = n;
		if (memcmp(d, &("\x7f" "ELF")[base], h)) {
			p->state = 3;
			return 0;
		}
		if (base + n < 4)
			return 1;
		p->state = 1;
	}
	if (p->go_note)
		old_scan(p, base, d, n);
	if (p->state == 4) {
		p->state = old_resolve(p, a);
		return wants_more(p);
	}
	if (p->state == 2) {
		keep(p, a, d, n);
		return old_kept(p, a, base, d, n);
	}
	size_t k;
	const char *nd = needle(p, &k);
	/* a needle across the last block's end: the carry and this block's first bytes */
	if (p->ncarry) {
		unsigned char buf[2 * sizeof(p->carry)];
		size_t m = n < k ? n : k;
		memcpy(buf, p->carry, p->ncarry);
		memcpy(buf + p->ncarry, d, m);
		for (size_t i = 0; i < p->ncarry; i++)
			if (match_at(p, buf + i, p->ncarry + m - i, p->carry_off + i)) {
				p->state = 2;
				p->go_at = p->carry_off + i;
				keep(p, a, buf + i, p->ncarry - i);
				if (p->state == 2)
					keep(p, a, d, n);
				return old_kept(p, a, base, d, n);
			}
	}
	const unsigned char *hit = NULL;
	if (p->node)
		hit = memmem(d, n, nd, k);
	else {
		uint64_t first = (base + 15) & ~(uint64_t)15;
		uint64_t magic8;
		memcpy(&magic8, nd, 8);
		for (size_t q = (size_t)(first - base); q + k <= n; q += 16) {
			uint64_t w;
			memcpy(&w, d + q, 8);
			if (w == magic8 && !memcmp(d + q + 8, nd + 8, k - 8)) {
				hit = d + q;
				break;
			}
		}
	}
	if (hit) {
		p->state = 2;
		p->go_at = base + (uint64_t)(hit - d);
		keep(p, a, hit, n - (size_t)(hit - d));
		return old_kept(p, a, base, d, n);
	}
	carry_over(p->carry, &p->ncarry, k - 1, d, n); /* the last k-1 bytes seen */
	p->carry_off = p->off - p->ncarry;
	return 1;
}

const char *lang_probe_result(struct lang_probe *p, struct arena *a, size_t *len)
{
	const char *out = NULL;
	*len = 0;
	if (p->len >= 32 && !p->node && !(p->out[15] & 2) && (out = old_result(p, a, len))) {
		/* an old Go binary's, in the 1.18 form */
	} else if (p->len) {
		*len = p->len;
		out = p->out;
	} else if (p->nhead >= 4 && !memcmp(p->head, "\x7f" "ELF", 4)) {
		if (!p->tail_state && p->off == p->nhead)
			tail_decide(p, p->off); /* a file shorter than the head: all of it is there */
		if (p->tail_state == 1)
			out = cargo_deps(p, a, len);
	}
	size_t pn;
	int whole = out && out != p->out ? 1 : p->want && p->len == p->want; /* never after a cut list */
	const char *pk = out && !p->node && p->len && whole ? lang_gofuncs_result(&p->funcs, a, &pn) : NULL;
	if (pk && starts(out, *len, LANG_GO_MAGIC) && *len >= 32 && (out[15] & 2)) { /* after the build information,
										  * in the form parse_go reads */
		size_t k = strlen(LANG_GO_PACKAGES_MAGIC);
		char *o = arena_alloc_uninit(a, *len + k + pn);
		memcpy(o, out, *len);
		memcpy(o + *len, LANG_GO_PACKAGES_MAGIC, k);
		memcpy(o + *len + k, pk, pn);
		*len += k + pn;
		out = o;
	}
	lang_probe_abandon(p);
	return out;
}

size_t lang_dpkg_list_filter(char *data, size_t len)
{
	size_t w = 0;
	for (size_t i = 0; i < len;) {
		const char *nl = memchr(data + i, '\n', len - i);
		size_t e = nl ? (size_t)(nl - data) : len, n = e - i;
		if (has_suffix(data + i, n, ".dist-info") || has_suffix(data + i, n, ".egg-info")) {
			memmove(data + w, data + i, n);
			w += n;
			data[w++] = '\n';
		}
		i = e + 1;
	}
	return w;
}

static void list_line(struct lang_list_filter *f, struct arena *a)
{
	if (f->overlong || !(has_suffix(f->line, f->n, ".dist-info") || has_suffix(f->line, f->n, ".egg-info")))
		return;
	f->out = room(a, f->out, f->len, &f->cap, f->n + 1, 1024, SIZE_MAX);
	memcpy(f->out + f->len, f->line, f->n);
	f->len += f->n;
	f->out[f->len++] = '\n';
}

void lang_list_filter_feed(struct lang_list_filter *f, struct arena *a, const void *data, size_t n)
{
	const char *d = data;
	for (size_t i = 0; i < n; i++) {
		if (d[i] == '\n') {
			list_line(f, a);
			f->n = 0;
			f->overlong = 0;
		} else if (f->n < sizeof(f->line))
			f->line[f->n++] = d[i];
		else
			f->overlong = 1;
	}
}

const char *lang_list_filter_end(struct lang_list_filter *f, struct arena *a, size_t *len)
{
	if (f->n)
		list_line(f, a);
	f->n = 0;
	*len = f->len;
	return f->out ? f->out : "";
}

/* ---- the parsers ---- */

void lang_note_owned(struct inventory *inv, const char *path, size_t n)
{
	while (n && path[0] == '/')
		path++, n--;
	while (n && path[n - 1] == '/')
		n--;
	if (!n || n > DD_MAX_PATH_BYTES)
		return;
	int created;
	void **slot = strmap_slot(inv->arena, &inv->owned, arena_strndup(inv->arena, path, n), &created);
	*slot = (void *)1;
}

/* Longest name (a Go module path, Maven's group:artifact) and version taken. */
#define LANG_MAX_NAME 512
#define LANG_MAX_VERSION 128

/* 1 for a name or version a tool could have written: not empty, not too long, no control byte. */
static int lang_token_ok(const char *s, size_t n, size_t max)
{
	if (!n || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

static struct package *add(struct inventory *inv, enum pkg_type t, const char *path, const char *name, size_t nn,
			   const char *ver, size_t vn)
{
	if (!lang_token_ok(name, nn, LANG_MAX_NAME) || !lang_token_ok(ver, vn, LANG_MAX_VERSION))
		return NULL; /* not a name or a version any tool writes */
	if (inv->n >= DD_MAX_LANG_PACKAGES) {
		inv->lang_over = 1; /* the scan fails naming the limit (scan.c) */
		return NULL;
	}
	struct package *p = inventory_add(inv);
	p->type = t;
	p->name = arena_strndup(inv->arena, name, nn);
	p->version = arena_strndup(inv->arena, ver, vn);
	p->arch = "";
	p->status = "";
	p->db_path = path;
	return p;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* Trims [*s, *s + *n) of blanks at both ends. */
static void trim(const char **s, size_t *n)
{
	while (*n && is_space(**s))
		(*s)++, (*n)--;
	while (*n && is_space((*s)[*n - 1]))
		(*n)--;
}

static const char *prop(struct arena *a, const char *text, size_t len, const char *key, char sep);

static size_t parse_python(struct inventory *inv, const char *path, const char *d, size_t len)
{
	size_t pl = strlen(path);
	size_t dir = has_suffix(path, pl, ".egg-info") ? pl : (size_t)(strrchr(path, '/') - path);
	char key[DD_MAX_PATH_BYTES + 1];
	memcpy(key, path, dir);
	key[dir] = 0;
	if (inv->owned.n && strmap_get(&inv->owned, key))
		return 0; /* the OS package manager's: reported as its package */
	/* the headers, up to the blank line before the description */
	const char *name = prop(inv->arena, d, len, "Name", ':'), *ver = prop(inv->arena, d, len, "Version", ':');
	size_t nn = name ? strlen(name) : 0, vn = ver ? strlen(ver) : 0;
	char norm[256];
	size_t k = name ? pep503_name(name, nn, norm, sizeof(norm)) : 0;
	if (!k || !vn || vn > 128 || memchr(ver, 0, vn))
		return 0;
	return add(inv, PKG_PYPI, path, norm, k, ver, vn) != NULL;
}

static const char *jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s && *s && strlen(s) <= 256 ? s : NULL;
}

static json_t *load_json(const char *d, size_t len)
{
	json_error_t err;
	return json_loadb(d, len, JSON_REJECT_DUPLICATES, &err);
}

static size_t parse_npm_package(struct inventory *inv, const char *path, const char *d, size_t len)
{
	json_t *j = load_json(d, len);
	const char *name = jstr(j, "name"), *ver = jstr(j, "version");
	size_t got = name && ver && add(inv, PKG_NPM, path, name, strlen(name), ver, strlen(ver));
	json_decref(j);
	return got;
}

/* package-lock.json v1: "dependencies": {name: {version, dependencies: {...}}}. */
static size_t lock_v1(struct inventory *inv, const char *path, json_t *deps, int depth)
{
	size_t got = 0;
	const char *name;
	json_t *v;
	if (depth > DD_MAX_LOCK_DEPTH || !json_is_object(deps))
		return 0;
	json_object_foreach(deps, name, v)
	{
		const char *ver = jstr(v, "version");
		if (ver && strlen(name) <= 256 && add(inv, PKG_NPM, path, name, strlen(name), ver, strlen(ver)))
			got++;
		got += lock_v1(inv, path, json_object_get(v, "dependencies"), depth + 1);
	}
	return got;
}

static size_t parse_npm_lock(struct inventory *inv, const char *path, const char *d, size_t len)
{
	json_t *j = load_json(d, len), *pk = json_object_get(j, "packages"), *v;
	size_t got = 0;
	const char *key;
	if (json_is_object(pk)) { /* v2 and v3: keyed by where each is installed */
		json_object_foreach(pk, key, v)
		{
			const char *at = strstr(key, "node_modules/");
			if (!at || json_is_true(json_object_get(v, "link")))
				continue; /* the root project, a workspace, or a link to one */
			const char *last = at;
			for (const char *q = at; (q = strstr(q, "node_modules/")); q += 13)
				last = q;
			const char *name = jstr(v, "name") ? jstr(v, "name") : last + 13;
			const char *ver = jstr(v, "version");
			if (ver && *name && strlen(name) <= 256 && add(inv, PKG_NPM, path, name, strlen(name), ver, strlen(ver)))
				got++;
		}
	} else
		got = lock_v1(inv, path, json_object_get(j, "dependencies"), 0);
	json_decref(j);
	return got;
}

/* A TOML basic string value of `key = "..."` at line (n bytes): the value's bytes, or NULL. */
static const char *toml_str(const char *line, size_t n, const char *key, size_t *vn)
{
	size_t k = strlen(key);
	if (n <= k || memcmp(line, key, k))
		return NULL;
	const char *p = line + k, *end = line + n;
	while (p < end && is_space(*p))
		p++;
	if (p >= end || *p++ != '=')
		return NULL;
	while (p < end && is_space(*p))
		p++;
	if (p >= end || *p++ != '"')
		return NULL;
	const char *q = memchr(p, '"', (size_t)(end - p));
	if (!q)
		return NULL;
	*vn = (size_t)(q - p);
	return p;
}

static size_t parse_cargo_lock(struct inventory *inv, const char *path, const char *d, size_t len)
{
	size_t got = 0;
	const char *name = NULL, *ver = NULL, *src = NULL;
	size_t nn = 0, vn = 0, sn = 0;
	for (size_t i = 0; i <= len;) {
		const char *nl = i < len ? memchr(d + i, '\n', len - i) : NULL;
		size_t e = nl ? (size_t)(nl - d) : len;
		const char *line = d + i;
		size_t n = e - i;
		trim(&line, &n);
		if (e >= len || (n && line[0] == '[')) { /* a table ends */
			if (name && ver && src && ((sn > 9 && !memcmp(src, "registry+", 9)) || (sn > 7 && !memcmp(src, "sparse+", 7))))
				got += add(inv, PKG_CARGO, path, name, nn, ver, vn) != NULL;
			name = ver = src = NULL;
			if (e >= len)
				break;
		} else if (!name && (name = toml_str(line, n, "name", &nn)))
			;
		else if (!ver && (ver = toml_str(line, n, "version", &vn)))
			;
		else if (!src)
			src = toml_str(line, n, "source", &sn);
		i = e + 1;
	}
	return got;
}

/* "go1.21.5" -> "1.21.5", "go1.21" -> "1.21.0", "go1.21rc2" -> "1.21.0-rc.2" (the Go vulnerability
 * database's stdlib versions); NULL for a development build. */
static const char *stdlib_version(struct arena *a, const char *s, size_t n)
{
	if (n < 3 || memcmp(s, "go", 2))
		return NULL;
	s += 2, n -= 2;
	size_t k = 0, dots = 0;
	while (k < n && (isdigit((unsigned char)s[k]) || s[k] == '.'))
		dots += s[k++] == '.';
	if (!k || !isdigit((unsigned char)s[0]) || s[k - 1] == '.' || dots > 2)
		return NULL;
	const char *pad = dots == 1 ? ".0" : "";
	const char *rest = s + k;
	size_t rn = 0; /* up to a blank: " X:boringcrypto" and the like follow some */
	while (k + rn < n && rest[rn] != ' ' && rest[rn] != '\t')
		rn++;
	if (!rn)
		return arena_printf(a, "%.*s%s", (int)k, s, pad);
	for (const char *pre = "rc\0beta\0alpha\0"; *pre; pre += strlen(pre) + 1) {
		size_t pl = strlen(pre);
		if (rn > pl && !strncmp(rest, pre, pl) && strspn(rest + pl, "0123456789") == rn - pl)
			return arena_printf(a, "%.*s%s-%s.%.*s", (int)k, s, pad, pre, (int)(rn - pl), rest + pl);
	}
	return NULL; /* "go1.22-devel_..." and the like: no release */
}

/* Whether package path pk (n bytes) is module m's or below it. */
static int in_module(const char *pk, size_t n, const char *m)
{
	size_t k = strlen(m);
	return k && k <= n && !memcmp(pk, m, k) && (k == n || pk[k] == '/');
}

/* Gives each Go module of a binary, inv->pkgs[first..] (orig: their paths as built, "" for the
 * standard library), the packages of the list (pk, n: paths each ended by a newline) that are
 * its own: the standard library's have no dot in their first element, a module's lie at or
 * below its path (the longest that fits). A module replaced by another has its packages named
 * under the replacement's path, as the advisories for the replacement name them. A module
 * with none of them, or every module when the list has no runtime package (every Go program
 * has its code), is left not known: never "holds none" from names that were rewritten. */
static void go_owners(struct inventory *inv, size_t first, const char **orig, const char *pk, size_t n)
{
	size_t nm = inv->n - first;
	struct buf *own = arena_alloc(inv->arena, nm * sizeof(*own));
	int has_runtime = 0;
	for (size_t m = 0; m < nm; m++)
		buf_init(&own[m], (size_t)DD_MAX_GO_PACKAGES * (LANG_GO_MAX_PACKAGE + 1));
	for (size_t i = 0; i < n;) {
		const char *nl = memchr(pk + i, '\n', n - i);
		if (!nl)
			break;
		const char *s = pk + i;
		size_t k = (size_t)(nl - s), best = nm, bestlen = 0;
		i += k + 1;
		size_t e = 0;
		while (e < k && s[e] != '/')
			e++;
		int std = !memchr(s, '.', e) && !(k == 4 && !memcmp(s, "main", 4));
		for (size_t m = 0; m < nm; m++) {
			if (!*orig[m] ? std && (best == nm || !bestlen) : in_module(s, k, orig[m]) && strlen(orig[m]) > bestlen) {
				best = m;
				bestlen = *orig[m] ? strlen(orig[m]) : 0;
			}
		}
		has_runtime |= k == 7 && !memcmp(s, "runtime", 7);
		if (best == nm)
			continue;
		struct package *p = &inv->pkgs[first + best];
		if (*orig[best] && p->name && strcmp(p->name, orig[best])) { /* replaced: the replacement's path */
			buf_puts(&own[best], p->name);
			buf_append(&own[best], s + bestlen, k - bestlen);
		} else {
			buf_append(&own[best], s, k);
		}
		buf_append(&own[best], "\n", 1);
	}
	for (size_t m = 0; m < nm; m++) {
		/* a module none of whose packages is named, or a list without the runtime's: the names
		 * were rewritten (an obfuscator) or the list is not this binary's, so nothing is known */
		if (own[m].len && has_runtime)
			inv->pkgs[first + m].go_packages = arena_strndup(inv->arena, own[m].data, own[m].len);
		buf_release(&own[m]);
	}
}

static size_t parse_go(struct inventory *inv, const char *path, const char *d, size_t len)
{
	const unsigned char *s = (const unsigned char *)d;
	if (len < 33 || !(s[15] & 2))
		return 0;
	size_t i = 32;
	long long vl = uvarint(s, len, &i);
	if (vl < 0 || i + (size_t)vl > len)
		return 0;
	const char *gover = d + i;
	i += (size_t)vl;
	long long ml = uvarint(s, len, &i);
	if (ml < 0)
		return 0;
	size_t mn = (size_t)ml > len - i ? len - i : (size_t)ml; /* cut at the kept bytes' limit */
	const char *mod = d + i;
	if (mn >= 33 && (size_t)ml == mn && mod[mn - 17] == '\n') /* the sentinels */
		mod += 16, mn -= 32;
	const char *pk = NULL; /* the packages the binary holds code of (lang_gofuncs.c), when read */
	size_t pkn = 0, kn = strlen(LANG_GO_PACKAGES_MAGIC), at = i + (size_t)ml;
	if ((size_t)ml <= len - i && len - at >= kn && !memcmp(d + at, LANG_GO_PACKAGES_MAGIC, kn))
		pk = d + at + kn, pkn = len - at - kn;
	size_t got = 0, first = inv->n;
	size_t nlines = 1;
	for (size_t k = 0; k < mn; k++)
		nlines += mod[k] == '\n';
	const char **orig = arena_alloc(inv->arena, (nlines + 1) * sizeof(*orig)); /* module paths as built */
	const char *std = stdlib_version(inv->arena, gover, (size_t)vl);
	if (std && add(inv, PKG_GO, path, "stdlib", 6, std, strlen(std)))
		orig[got++] = "";
	struct package *prev = NULL;
	for (size_t k = 0; k < mn;) {
		const char *nl = memchr(mod + k, '\n', mn - k);
		if (!nl)
			break; /* the last line is whole only when it ends */
		const char *f[4] = {0};
		size_t fl[4] = {0}, nf = 0;
		for (const char *p = mod + k; p < nl && nf < 4;) {
			const char *t = memchr(p, '\t', (size_t)(nl - p));
			const char *e = t ? t : nl;
			f[nf] = p, fl[nf++] = (size_t)(e - p);
			p = e + 1;
		}
		k = (size_t)(nl - mod) + 1;
		if (nf >= 2 && fl[0] == 2 && !memcmp(f[0], "=>", 2)) {
			if (prev && nf >= 3 && lang_token_ok(f[1], fl[1], LANG_MAX_NAME) &&
			    lang_token_ok(f[2], fl[2], LANG_MAX_VERSION)) { /* another module at a version */
				prev->name = arena_strndup(inv->arena, f[1], fl[1]);
				prev->version = arena_strndup(inv->arena, f[2], fl[2]);
			} else if (prev) { /* replaced by a local directory: no module version to match */
				prev->name = NULL;
			}
			continue;
		}
		prev = NULL;
		if (nf < 3 || !fl[2] || (fl[0] != 3) || (memcmp(f[0], "mod", 3) && memcmp(f[0], "dep", 3)))
			continue;
		if (fl[2] == 7 && !memcmp(f[2], "(devel)", 7))
			continue;
		if ((prev = add(inv, PKG_GO, path, f[1], fl[1], f[2], fl[2])))
			orig[got++] = prev->name;
	}
	if (pk)
		go_owners(inv, first, orig, pk, pkn);
	/* drop the modules replaced by local directories */
	size_t w = inv->n - got;
	for (size_t r = w; r < inv->n; r++)
		if (inv->pkgs[r].name)
			inv->pkgs[w++] = inv->pkgs[r];
	got -= inv->n - w;
	inv->n = w;
	return got;
}

static size_t parse_node(struct inventory *inv, const char *path, const char *d, size_t len)
{
	size_t k = strlen(LANG_NODE_MAGIC);
	const char *v = d + k;
	size_t n = 0;
	while (k + n < len && (isdigit((unsigned char)v[n]) || v[n] == '.'))
		n++;
	if (!n || k + n >= len || v[n] != '/')
		return 0;
	return add(inv, PKG_NODEJS, path, "node", 4, v, n) != NULL;
}

static size_t parse_dpkg_list(struct inventory *inv, const char *d, size_t len)
{
	for (size_t i = 0; i < len;) {
		const char *nl = memchr(d + i, '\n', len - i);
		size_t e = nl ? (size_t)(nl - d) : len;
		if (has_suffix(d + i, e - i, ".dist-info") || has_suffix(d + i, e - i, ".egg-info"))
			lang_note_owned(inv, d + i, e - i);
		i = e + 1;
	}
	return 0;
}

/* A Rust binary's dependency list as cargo auditable writes it: {"packages": [{"name", "version",
 * "source": "crates.io" | "git" | "local" | "registry", ...}]}; crates.io's only (a git or
 * local crate is not the crates.io one of its name). */
static size_t parse_cargo_audit(struct inventory *inv, const char *path, const char *d, size_t len)
{
	size_t k = strlen(LANG_CARGO_MAGIC), got = 0, i;
	json_t *j = load_json(d + k, len - k), *pk;
	json_array_foreach(json_object_get(j, "packages"), i, pk)
	{
		const char *name = jstr(pk, "name"), *ver = jstr(pk, "version"), *src = jstr(pk, "source");
		if (name && ver && src && !strcmp(src, "crates.io"))
			got += add(inv, PKG_CARGO, path, name, strlen(name), ver, strlen(ver)) != NULL;
	}
	json_decref(j);
	return got;
}

/* What lang_jar_read kept: "group:artifact <tab> version <tab> where" lines. */
static size_t parse_jar(struct inventory *inv, const char *d, size_t len)
{
	size_t got = 0;
	for (size_t i = strlen(LANG_JAR_MAGIC); i < len;) {
		const char *nl = memchr(d + i, '\n', len - i);
		if (!nl)
			break;
		const char *line = d + i, *t1 = memchr(line, '\t', (size_t)(nl - line));
		const char *t2 = t1 ? memchr(t1 + 1, '\t', (size_t)(nl - t1 - 1)) : NULL;
		i = (size_t)(nl - d) + 1;
		if (!t2 || t2 + 1 >= nl)
			continue;
		const char *where = arena_strndup(inv->arena, t2 + 1, (size_t)(nl - t2 - 1));
		got += add(inv, PKG_MAVEN, where, line, (size_t)(t1 - line), t1 + 1, (size_t)(t2 - t1 - 1)) != NULL;
	}
	return got;
}

/* 1 when data starts with magic. */
static int starts(const char *data, size_t len, const char *magic)
{
	size_t k = strlen(magic);
	return len >= k && !memcmp(data, magic, k);
}

size_t lang_parse(struct inventory *inv, const char *path, const char *data, size_t len, int derived)
{
	size_t got = 0;
	if (derived) {
		if (starts(data, len, LANG_JAR_MAGIC))
			got = parse_jar(inv, data, len);
		else if (starts(data, len, LANG_CARGO_MAGIC))
			got = parse_cargo_audit(inv, path, data, len);
		else if (starts(data, len, LANG_GO_MAGIC))
			got = parse_go(inv, path, data, len);
		else if (starts(data, len, LANG_NODE_MAGIC))
			got = parse_node(inv, path, data, len);
		inv->lang_skipped += !got;
		return got;
	}
	switch (lang_file_kind(path)) {
	case LANG_PY_METADATA: got = parse_python(inv, path, data, len); break;
	case LANG_NPM_PACKAGE: got = parse_npm_package(inv, path, data, len); break;
	case LANG_NPM_LOCK: got = parse_npm_lock(inv, path, data, len); break;
	case LANG_CARGO_LOCK: got = parse_cargo_lock(inv, path, data, len); break;
	case LANG_DPKG_LIST: return parse_dpkg_list(inv, data, len);
	case LANG_NONE: return 0;
	}
	inv->lang_skipped += !got;
	return got;
}

/* ---- Java archives ---- */

int lang_is_java_archive(const char *path)
{
	size_t n = strlen(path);
	return has_suffix(path, n, ".jar") || has_suffix(path, n, ".war") || has_suffix(path, n, ".ear");
}

/* libarchive is handed the archive in blocks of JAR_BLOCK bytes (the last one shorter), however
 * the bytes arrive: its streaming zip reader looks ahead within a block (a stored entry with a
 * data descriptor is found by its signature), so a jar reads the same from a layer, a nested
 * archive or a file. */
#define JAR_BLOCK (64 * 1024)

struct jar_out;

struct jar_src {
	lang_pull_fn fn;
	void *ctx;
	unsigned char *buf;
	const unsigned char *pending; /* bytes the last pull gave that are not in buf yet */
	size_t npending;
	int eof, failed;
	struct jar_out *outer; /* the outermost archive's: its bytes are counted as packed */
};

static void jar_packed(struct jar_out *o, size_t n);

static la_ssize_t jar_pull(struct archive *ar, void *ctx, const void **out)
{
	(void)ar;
	struct jar_src *s = ctx;
	size_t n = 0;
	while (n < JAR_BLOCK && !s->failed) {
		if (!s->npending) {
			if (s->eof)
				break;
			const void *b;
			ssize_t k = s->fn(s->ctx, &b);
			if (k < 0)
				s->failed = 1;
			else if (k == 0)
				s->eof = 1;
			s->pending = b;
			s->npending = k > 0 ? (size_t)k : 0;
			continue;
		}
		size_t take = s->npending < JAR_BLOCK - n ? s->npending : JAR_BLOCK - n;
		memcpy(s->buf + n, s->pending, take);
		n += take;
		s->pending += take;
		s->npending -= take;
	}
	*out = s->buf;
	if (s->outer)
		jar_packed(s->outer, n);
	return s->failed && !n ? -1 : (la_ssize_t)n;
}

/* A nested archive's bytes: the current entry's data of the outer reader, counted as inflated. */
struct nested {
	struct archive *ar;
	struct jar_out *o;
};

static int inflated(struct jar_out *o, size_t n);

ssize_t lang_archive_block(struct archive *ar, const void **buf)
{
	size_t n;
	la_int64_t off;
	int rc = archive_read_data_block(ar, buf, &n, &off);
	if (rc == ARCHIVE_EOF)
		return 0;
	return rc < ARCHIVE_WARN ? -1 : (ssize_t)n;
}

static ssize_t entry_pull(void *ctx, const void **buf)
{
	struct nested *x = ctx;
	ssize_t n = lang_archive_block(x->ar, buf);
	return n > 0 && inflated(x->o, (size_t)n) ? -1 : n;
}

/* The value of "key=value" (pom.properties) or "Key: value" (a manifest's main section) in text:
 * arena string, or NULL. */
static const char *prop(struct arena *a, const char *text, size_t len, const char *key, char sep)
{
	size_t k = strlen(key);
	for (size_t i = 0; i < len;) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t e = nl ? (size_t)(nl - text) : len;
		const char *line = text + i;
		size_t n = e - i;
		if (n && line[n - 1] == '\r')
			n--;
		if (sep == ':' && !n)
			break; /* the manifest's main section ends */
		if (n > k && !memcmp(line, key, k)) {
			const char *v = line + k;
			size_t vn = n - k;
			trim(&v, &vn);
			if (vn && *v == sep) {
				v++, vn--;
				trim(&v, &vn);
				if (vn && vn <= 256)
					return arena_strndup(a, v, vn);
			}
		}
		i = e + 1;
	}
	return NULL;
}

/* What one archive and the ones nested in it share: the text kept, and the budgets (entries,
 * metadata read, bytes inflated against the archive's own size). */
struct jar_out {
	struct arena *a;
	char *text;
	size_t len, cap;
	size_t lines;
	char *scratch; /* DD_MAX_JAR_META_BYTES + 1 */
	uint64_t entries, meta_reads;
	uint64_t packed;   /* the outermost archive's bytes read */
	uint64_t inflated; /* entry bytes read, at every depth */
	const char *bomb;  /* why reading stopped, or NULL */
};

/* Counts n more inflated bytes: 0, or -1 (o->bomb set) past the ratio of DD_MAX_LAYER_RATIO
 * over the archive's own bytes, once DD_LAYER_RATIO_AFTER_BYTES have come out. */
static int inflated(struct jar_out *o, size_t n)
{
	o->inflated += n;
	if (o->inflated > DD_LAYER_RATIO_AFTER_BYTES && o->inflated / DD_MAX_LAYER_RATIO > o->packed) {
		o->bomb = arena_printf(o->a,
				       "expands to more than %d times its size (%" PRIu64 " bytes from %" PRIu64
				       "): refused as a decompression bomb",
				       DD_MAX_LAYER_RATIO, o->inflated, o->packed);
		return -1;
	}
	return 0;
}

/* Up to DD_MAX_JAR_META_BYTES of the current entry (arena, NUL-terminated, its own length). */
static char *entry_text(struct jar_out *o, struct archive *ar, size_t *len)
{
	size_t n = 0;
	while (n < DD_MAX_JAR_META_BYTES) {
		la_ssize_t k = archive_read_data(ar, o->scratch + n, DD_MAX_JAR_META_BYTES - n);
		if (k <= 0 || inflated(o, (size_t)k))
			break;
		n += (size_t)k;
	}
	*len = n;
	return arena_strndup(o->a, o->scratch, n);
}

/* Reads what is left of the current entry, counted (libarchive's own skip of a deflated entry
 * inflates it all, uncounted). 0, or -1 when the budget is spent or the data is damaged. */
static int drain_entry(struct jar_out *o, struct archive *ar)
{
	for (;;) {
		const void *b;
		ssize_t n = lang_archive_block(ar, &b);
		if (n <= 0)
			return (int)n;
		if (inflated(o, (size_t)n))
			return -1;
	}
}

static void jar_emit(struct jar_out *o, const char *group, const char *artifact, const char *version,
		     const char *where)
{
	if (!artifact || !*artifact || !version || !*version || (group && !*group) || o->lines >= 10000)
		return;
	for (const char *p = artifact; *p; p++)
		if (*p == '\t' || *p == '\n' || *p == ':')
			return;
	const char *line = arena_printf(o->a, "%s%s%s\t%s\t%s\n", group ? group : "", group ? ":" : "", artifact, version,
					where);
	if (strchr(version, '\t') || strchr(where, '\t') || (group && (strchr(group, '\t') || strchr(group, ':'))))
		return;
	size_t n = strlen(line);
	o->text = room(o->a, o->text, o->len, &o->cap, n, 1024, SIZE_MAX);
	memcpy(o->text + o->len, line, n);
	o->len += n;
	o->lines++;
}

/* "log4j-core-2.14.1.jar" -> ("log4j-core", "2.14.1"): the last '-' before a digit. */
static void name_version(struct arena *a, const char *path, const char **name, const char **version)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	size_t n = strlen(base) - 4; /* ".jar" */
	*name = *version = NULL;
	for (size_t i = n; i-- > 1;)
		if (base[i] == '-' && isdigit((unsigned char)base[i + 1])) {
			*name = arena_strndup(a, base, i);
			*version = arena_strndup(a, base + i + 1, n - i - 1);
			return;
		}
}

static void jar_walk(struct jar_out *o, const char *where, lang_pull_fn fn, void *ctx, int depth)
{
	struct archive *ar = archive_read_new();
	if (!ar)
		return;
	archive_read_support_format_zip_streamable(ar);
	struct jar_src src = {fn, ctx, malloc(JAR_BLOCK), NULL, 0, 0, 0, NULL};
	if (!src.buf) {
		archive_read_free(ar);
		return;
	}
	src.outer = depth ? NULL : o;
	size_t before = o->lines;
	const char *manifest = NULL;
	size_t mlen = 0;
	if (archive_read_open(ar, &src, NULL, jar_pull, NULL) == ARCHIVE_OK) {
		struct archive_entry *ent;
		while (!o->bomb && o->entries++ < DD_MAX_JAR_ENTRIES && archive_read_next_header(ar, &ent) == ARCHIVE_OK) {
			const char *name = archive_entry_pathname(ent);
			size_t nl = name ? strlen(name) : 0;
			int meta = o->meta_reads < DD_MAX_JAR_META_READS;
			if (!name || nl > DD_MAX_PATH_BYTES)
				;
			else if (meta && !strncmp(name, "META-INF/maven/", 15) && has_suffix(name, nl, "/pom.properties")) {
				size_t len;
				o->meta_reads++;
				char *t = entry_text(o, ar, &len);
				jar_emit(o, prop(o->a, t, len, "groupId", '='), prop(o->a, t, len, "artifactId", '='),
					 prop(o->a, t, len, "version", '='), where);
			} else if (meta && !manifest && !strcmp(name, "META-INF/MANIFEST.MF")) {
				o->meta_reads++;
				manifest = entry_text(o, ar, &mlen);
			} else if (depth < DD_MAX_JAR_DEPTH && lang_is_java_archive(name)) {
				struct nested x = {ar, o};
				jar_walk(o, arena_printf(o->a, "%s!/%s", where, name), entry_pull, &x, depth + 1);
			}
			if (!o->bomb && drain_entry(o, ar))
				break;
		}
	}
	archive_read_free(ar);
	free(src.buf);
	if (o->lines > before)
		return; /* pom.properties say it best */
	const char *title = NULL, *version = NULL, *group = NULL;
	if (manifest) {
		title = prop(o->a, manifest, mlen, "Implementation-Title", ':');
		version = prop(o->a, manifest, mlen, "Implementation-Version", ':');
		group = prop(o->a, manifest, mlen, "Implementation-Vendor-Id", ':');
		if (!title || !version) {
			const char *sym = prop(o->a, manifest, mlen, "Bundle-SymbolicName", ':');
			const char *bv = prop(o->a, manifest, mlen, "Bundle-Version", ':');
			if (sym && bv) { /* "org.apache.commons.commons-text" -> group and artifact */
				sym = arena_strndup(o->a, sym, strcspn(sym, ";"));
				const char *dot = strrchr(sym, '.');
				group = dot ? arena_strndup(o->a, sym, (size_t)(dot - sym)) : NULL;
				title = dot ? dot + 1 : sym;
				version = bv;
			}
		}
	}
	if (!title || !version) {
		name_version(o->a, where, &title, &version);
		group = NULL;
	}
	jar_emit(o, group, title, version, where);
}

static void jar_packed(struct jar_out *o, size_t n) { o->packed += n; }

int lang_jar_read(struct arena *a, const char *path, lang_pull_fn fn, void *ctx, const char **out, size_t *len,
		  const char **why)
{
	size_t k = strlen(LANG_JAR_MAGIC);
	struct jar_out o = {.a = a, .cap = 1024, .len = k};
	*out = NULL;
	*len = 0;
	if (!(o.scratch = malloc(DD_MAX_JAR_META_BYTES + 1)))
		return 0;
	o.text = arena_alloc_uninit(a, o.cap);
	memcpy(o.text, LANG_JAR_MAGIC, k);
	jar_walk(&o, path, fn, ctx, 0);
	free(o.scratch);
	if (o.bomb) {
		*why = arena_printf(a, "Java archive '%s' %s", path, o.bomb);
		return DD_E_SCAN_LIMIT;
	}
	*out = o.lines ? o.text : NULL;
	*len = o.lines ? o.len : 0;
	return 0;
}
