/* layer.c: one pass over a layer's tar stream with libarchive (ustar, PAX and GNU long
 * names). gzip and zstd are decompressed here, ahead of libarchive, so that the bytes in and
 * out of the decompressor are counted exactly: the limits on uncompressed bytes, compression
 * ratio and entries stop a gzip or zstd bomb instead of enduring it. What the layer keeps is
 * bounded too: files only at the paths the inventory reads (and where distributions place
 * them behind links), application metadata (inventory/lang.h: the files whole, or what a probe
 * finds in an executable as it streams past), in all at most DD_MAX_LAYER_KEPT_BYTES. */
#include "common/dd.h"
#include "layer.h"
#include "common/arena.h"
#include "common/digest.h"
#include "inventory/lang.h"
#include <archive.h>
#include <isa-l/igzip_lib.h>
#include <archive_entry.h>
#include <zstd.h>

/* The limits of limits.h, which an operator (or a test) may lower, never raise, through the
 * environment: DRYDOCK_MAX_LAYER_BYTES, DRYDOCK_MAX_LAYER_ENTRIES, DRYDOCK_MAX_PKGDB_BYTES,
 * DRYDOCK_MAX_LAYER_RATIO, DRYDOCK_MAX_LAYER_KEPT_BYTES (DRYDOCK_MAX_IMAGE_KEPT_BYTES in image.c). */
uint64_t layer_limit(const char *env, uint64_t builtin)
{
	const char *v = getenv(env);
	char *end;
	if (!v || !*v)
		return builtin;
	unsigned long long n = strtoull(v, &end, 10);
	return *end || n == 0 || n > builtin ? builtin : n;
}

/* ---- what a layer keeps ---- */

/* The files the inventory reads (src/inventory/scan.c), besides var/lib/dpkg/status.d/'s. */
static const char *const files_of_interest[] = {
	"etc/os-release", "usr/lib/os-release", "etc/alpine-release", "etc/debian_version",
	"etc/rocky-release", "etc/almalinux-release", "etc/centos-release", "etc/fedora-release", "etc/oracle-release",
	"etc/redhat-release", "etc/system-release",
	"var/lib/dpkg/status", "lib/apk/db/installed",
	"var/lib/rpm/rpmdb.sqlite", "var/lib/rpm/Packages", "var/lib/rpm/Packages.db",
	"usr/lib/sysimage/rpm/rpmdb.sqlite", "usr/lib/sysimage/rpm/Packages", "usr/lib/sysimage/rpm/Packages.db",
};

/* Where real images put some of them behind a link: a merged /usr (lib -> usr/lib) holds apk's
 * database under usr/lib; Red Hat family images link etc/redhat-release (and its siblings) to
 * usr/lib/<name>-release. (usr/lib/os-release and rpm's two directories are read directly.) */
static const char *const link_targets[] = {
	"usr/lib/apk/db/installed", "usr/lib/rocky-release", "usr/lib/almalinux-release", "usr/lib/centos-release",
	"usr/lib/fedora-release", "usr/lib/oracle-release", "usr/lib/redhat-release", "usr/lib/system-release",
};

/* Directories whose files (not those further down) are kept: distroless's one file per package,
 * and Fedora's os-release variants (usr/lib/os-release -> os.release.d/os-release-<edition>). */
static const char *const dirs_of_interest[] = {"var/lib/dpkg/status.d", "usr/lib/os.release.d"};

static int in_list(const char *path, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(path, list[i]))
			return 1;
	return 0;
}

/* 1 when path is a file directly inside dir. */
static int child_of(const char *path, const char *dir)
{
	size_t k = strlen(dir);
	return !strncmp(path, dir, k) && path[k] == '/' && path[k + 1] && !strchr(path + k + 1, '/');
}

int layer_path_of_interest(const char *path)
{
	return in_list(path, files_of_interest, DD_ARRAY_LEN(files_of_interest)) ||
	       child_of(path, "var/lib/dpkg/status.d");
}

/* 1 for the paths whose files are always kept (up to the limits). */
static int kept_path(const char *path)
{
	if (layer_path_of_interest(path) || in_list(path, link_targets, DD_ARRAY_LEN(link_targets)))
		return 1;
	for (size_t i = 0; i < DD_ARRAY_LEN(dirs_of_interest); i++)
		if (child_of(path, dirs_of_interest[i]))
			return 1;
	return 0;
}

/* 1 when path (n bytes) is x itself or a directory above it. */
static int leads_to(const char *path, size_t n, const char *x)
{
	return !strncmp(x, path, n) && (x[n] == '/' || x[n] == 0);
}

int layer_path_on_the_way(const char *path)
{
	size_t n = strlen(path);
	if (kept_path(path))
		return 1;
	for (size_t i = 0; i < DD_ARRAY_LEN(files_of_interest); i++)
		if (leads_to(path, n, files_of_interest[i]))
			return 1;
	for (size_t i = 0; i < DD_ARRAY_LEN(link_targets); i++)
		if (leads_to(path, n, link_targets[i]))
			return 1;
	for (size_t i = 0; i < DD_ARRAY_LEN(dirs_of_interest); i++)
		if (leads_to(path, n, dirs_of_interest[i]))
			return 1;
	return 0;
}

/* A file elsewhere that a link might still make the inventory read: named like one of the
 * kept files, or inside a directory named like one of the kept directories (a relocated
 * /var/lib/dpkg: var/lib/dpkg -> /srv/dpkg). Kept only within DD_MAX_LAYER_SPARE_BYTES. */
static int spare_candidate(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	for (size_t i = 0; i < DD_ARRAY_LEN(files_of_interest); i++)
		if (!strcmp(base, strrchr(files_of_interest[i], '/') + 1))
			return 1;
	for (size_t i = 0; i < DD_ARRAY_LEN(link_targets); i++)
		if (!strcmp(base, strrchr(link_targets[i], '/') + 1))
			return 1;
	if (!slash)
		return 0;
	for (size_t i = 0; i < DD_ARRAY_LEN(dirs_of_interest); i++) {
		const char *d = strrchr(dirs_of_interest[i], '/') + 1;
		size_t k = strlen(d);
		if ((size_t)(slash - path) >= k && !strncmp(slash - k, d, k) && (slash - k == path || slash[-k - 1] == '/'))
			return 1;
	}
	return 0;
}

uint64_t layer_entry_cost(const struct lentry *e)
{
	return sizeof(*e) + strlen(e->path) + 1 + (e->target ? strlen(e->target) + 1 : 0) +
	       (e->kind == LE_FILE || e->kind == LE_DERIVED ? e->len : 0);
}

/* Normalises a tar path into out (cap bytes): drops leading "/" and "./", empty and "."
 * components; refuses "..". Returns the length, 0 for the root itself, -1 when invalid. */
static int normalise(const char *in, char *out, size_t cap)
{
	size_t k = 0;
	const char *p = in;
	while (*p) {
		while (*p == '/')
			p++;
		const char *s = p;
		while (*p && *p != '/')
			p++;
		size_t n = (size_t)(p - s);
		if (n == 0 || (n == 1 && s[0] == '.'))
			continue;
		if (n == 2 && s[0] == '.' && s[1] == '.')
			return -1;
		if (k + n + 2 > cap)
			return -1;
		if (k)
			out[k++] = '/';
		memcpy(out + k, s, n);
		k += n;
	}
	out[k] = 0;
	return (int)k;
}

/* The path a symlink at `link` with target `t` names, as far as the words go (no other link is
 * followed): relative to the link's directory, ".." never above the root. -1 when too long. */
static int link_destination(const char *link, const char *t, char *out, size_t cap)
{
	size_t k = 0;
	if (t[0] != '/') {
		const char *slash = strrchr(link, '/');
		k = slash ? (size_t)(slash - link) : 0;
		if (k + 1 > cap)
			return -1;
		memcpy(out, link, k);
	}
	out[k] = 0;
	for (const char *p = t; *p;) {
		while (*p == '/')
			p++;
		const char *s = p;
		while (*p && *p != '/')
			p++;
		size_t n = (size_t)(p - s);
		if (n == 0 || (n == 1 && s[0] == '.'))
			continue;
		if (n == 2 && s[0] == '.' && s[1] == '.') {
			char *up = memrchr(out, '/', k);
			k = up ? (size_t)(up - out) : 0;
			out[k] = 0;
			continue;
		}
		if (k + n + 2 > cap)
			return -1;
		if (k)
			out[k++] = '/';
		memcpy(out + k, s, n);
		k += n;
		out[k] = 0;
	}
	return 0;
}

/* ---- the compressed stream ----
 *
 * The layer blob, hashed as it is read. gzip (nearly every layer) is inflated here with ISA-L,
 * about 2.7 times as fast as zlib inside libarchive on this machine (bench: the 115 MB layer of
 * debian-big in 0.6 s instead of 1.6 s); zstd with libzstd. libarchive then reads a plain tar
 * (and no compression of its own: a stream compressed twice is not a layer). */
#define OUT_CHUNK (1 << 18)

enum { LIMIT_NONE, LIMIT_BYTES, LIMIT_RATIO };

struct source {
	layer_read_fn read;
	void *ctx;
	struct hasher *h;
	int failed;
	int mode; /* 0: not looked at yet, 1: handed on as read, 2: gzip, 3: zstd */
	int in_eof;
	struct inflate_state *gz;
	ZSTD_DCtx *zs;
	ZSTD_inBuffer zin;
	int zframe_open; /* a zstd frame has begun and not ended */
	unsigned char *out;
	uint64_t in_total;  /* bytes of the blob read */
	uint64_t out_total; /* bytes handed to libarchive */
	uint64_t in_used;   /* bytes of the blob the decompressor has consumed */
	uint64_t max_bytes, max_ratio;
	int limit; /* which limit stopped the stream */
	unsigned char buf[1 << 17]; /* last: left unzeroed (a page never read is never touched) */
};

/* Raw bytes of the blob into (dst, cap), hashed. */
static ssize_t raw_read_into(struct source *s, unsigned char *dst, size_t cap)
{
	for (;;) {
		ssize_t n = s->read(s->ctx, dst, cap);
		if (n < 0 && errno == EINTR)
			continue;
		if (n > 0) {
			if (s->h)
				hasher_update(s->h, dst, (size_t)n);
			s->in_total += (uint64_t)n;
		}
		return n;
	}
}

static ssize_t raw_read(struct source *s) { return raw_read_into(s, s->buf, sizeof(s->buf)); }

static la_ssize_t fail(struct archive *ar, struct source *s, const char *what)
{
	s->failed = 1;
	if (ar)
		archive_set_error(ar, EILSEQ, "%s: %s", s->mode == 3 ? "zstd" : "gzip", what);
	return -1;
}

/* n more bytes came out of the decompressor, which has consumed `in` bytes of the blob: 0, or
 * -1 when a limit is crossed (s->limit says which). */
static int account(struct archive *ar, struct source *s, size_t n, uint64_t in)
{
	s->out_total += n;
	s->in_used = in;
	if (s->out_total > s->max_bytes)
		s->limit = LIMIT_BYTES;
	else if (s->out_total > DD_LAYER_RATIO_AFTER_BYTES && s->out_total / s->max_ratio > in)
		s->limit = LIMIT_RATIO;
	else
		return 0;
	s->failed = 1;
	if (ar)
		archive_set_error(ar, EFBIG, "the layer is refused as a decompression bomb");
	return -1;
}

static int gz_refill(struct source *s)
{
	ssize_t n = raw_read(s);
	if (n < 0)
		return -1;
	if (n == 0)
		s->in_eof = 1;
	s->gz->next_in = s->buf;
	s->gz->avail_in = (uint32_t)n;
	return 0;
}

static la_ssize_t gz_next(struct archive *ar, struct source *s, const void **out)
{
	struct inflate_state *st = s->gz;
	for (;;) {
		if (st->block_state == ISAL_BLOCK_FINISH) {
			/* a member ended: another may follow (multi-member gzip); other bytes after
			 * the end are not part of the tar (drain hashes them) */
			if (!st->avail_in && !s->in_eof && gz_refill(s))
				return fail(ar, s, "cannot read the blob");
			if (st->avail_in < 2 || st->next_in[0] != 0x1f || st->next_in[1] != 0x8b)
				return 0;
			uint8_t *ni = st->next_in;
			uint32_t ai = st->avail_in;
			isal_inflate_reset(st);
			st->crc_flag = ISAL_GZIP;
			st->next_in = ni;
			st->avail_in = ai;
		}
		if (!st->avail_in && !s->in_eof && gz_refill(s))
			return fail(ar, s, "cannot read the blob");
		uint32_t before = st->avail_in;
		st->next_out = s->out;
		st->avail_out = OUT_CHUNK;
		int r = isal_inflate(st);
		if (r < 0)
			return fail(ar, s, r == ISAL_INCORRECT_CHECKSUM ? "checksum mismatch" : "corrupt compressed data");
		size_t produced = OUT_CHUNK - st->avail_out;
		if (produced) {
			if (account(ar, s, produced, s->in_total - st->avail_in))
				return -1;
			*out = s->out;
			return (la_ssize_t)produced;
		}
		if (st->block_state == ISAL_BLOCK_FINISH)
			continue;
		if (s->in_eof && !st->avail_in)
			return fail(ar, s, "the compressed stream ends early");
		if (st->avail_in && st->avail_in == before)
			return fail(ar, s, "no progress in the compressed stream");
	}
}

/* At least 4 unread bytes in s->zin unless the blob ends first: 0, or -1 on a read error. */
static int zs_fill4(struct source *s)
{
	while (s->zin.size - s->zin.pos < 4 && !s->in_eof) {
		size_t left = s->zin.size - s->zin.pos;
		memmove(s->buf, (const unsigned char *)s->zin.src + s->zin.pos, left);
		ssize_t n = raw_read_into(s, s->buf + left, sizeof(s->buf) - left);
		if (n < 0)
			return -1;
		if (n == 0)
			s->in_eof = 1;
		s->zin = (ZSTD_inBuffer){.src = s->buf, .size = left + (size_t)n, .pos = 0};
	}
	return 0;
}

/* 1 when the unread input starts a zstd frame (or a skippable one). */
static int zs_frame_next(const struct source *s)
{
	if (s->zin.size - s->zin.pos < 4)
		return 0;
	const unsigned char *p = (const unsigned char *)s->zin.src + s->zin.pos;
	uint32_t m = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
	return m == ZSTD_MAGICNUMBER || (m & ZSTD_MAGIC_SKIPPABLE_MASK) == ZSTD_MAGIC_SKIPPABLE_START;
}

static la_ssize_t zs_next(struct archive *ar, struct source *s, const void **out)
{
	for (;;) {
		if (!s->zframe_open) {
			/* between frames: another may follow; other bytes are not part of the tar */
			if (zs_fill4(s))
				return fail(ar, s, "cannot read the blob");
			if (!zs_frame_next(s))
				return 0;
		} else if (s->zin.pos == s->zin.size) {
			if (s->in_eof)
				return fail(ar, s, "the compressed stream ends early");
			ssize_t n = raw_read(s);
			if (n < 0)
				return fail(ar, s, "cannot read the blob");
			if (n == 0) {
				s->in_eof = 1;
				continue;
			}
			s->zin = (ZSTD_inBuffer){.src = s->buf, .size = (size_t)n, .pos = 0};
		}
		ZSTD_outBuffer o = {.dst = s->out, .size = OUT_CHUNK, .pos = 0};
		size_t r = ZSTD_decompressStream(s->zs, &o, &s->zin);
		if (ZSTD_isError(r))
			return fail(ar, s, ZSTD_getErrorName(r));
		s->zframe_open = r != 0;
		if (o.pos) {
			if (account(ar, s, o.pos, s->in_total - (s->zin.size - s->zin.pos)))
				return -1;
			*out = s->out;
			return (la_ssize_t)o.pos;
		}
	}
}

static la_ssize_t source_read(struct archive *ar, void *ctx, const void **out)
{
	struct source *s = ctx;
	if (s->mode == 2)
		return gz_next(ar, s, out);
	if (s->mode == 3)
		return zs_next(ar, s, out);
	ssize_t n = raw_read(s);
	if (n < 0) {
		s->failed = 1;
		return -1;
	}
	if (s->mode == 0) {
		s->mode = 1;
		if (n >= 2 && s->buf[0] == 0x1f && s->buf[1] == 0x8b) {
			s->mode = 2;
			isal_inflate_init(s->gz);
			s->gz->crc_flag = ISAL_GZIP;
			s->gz->next_in = s->buf;
			s->gz->avail_in = (uint32_t)n;
			return gz_next(ar, s, out);
		}
		s->zin = (ZSTD_inBuffer){.src = s->buf, .size = (size_t)n, .pos = 0};
		if (n >= 4 && zs_frame_next(s)) {
			s->mode = 3;
			if (!(s->zs = ZSTD_createDCtx()))
				return fail(ar, s, "out of memory");
			s->zframe_open = 1;
			return zs_next(ar, s, out);
		}
	}
	s->out_total += (uint64_t)n;
	*out = s->buf;
	return n;
}

/* Reads (and hashes, when hashing) whatever was left unread (tar padding past the
 * end-of-archive blocks, the rest of a gzip or zstd stream, which is decompressed to its end,
 * within the limits, so that its checksum and length are checked). */
static int drain(struct source *s)
{
	const void *ignored;
	la_ssize_t k;
	while ((s->mode == 2 || s->mode == 3) && (k = s->mode == 2 ? gz_next(NULL, s, &ignored) : zs_next(NULL, s, &ignored)))
		if (k < 0)
			return s->limit ? DD_E_SCAN_LIMIT : DD_E_LAYER_INVALID;
	for (;;) {
		ssize_t n = raw_read(s);
		if (n < 0)
			return DD_E_IO;
		if (n == 0)
			return 0;
	}
}

/* Why the source stopped at a limit, naming the entry it was in (or NULL). */
static const char *limit_why(struct arena *a, const struct source *s, const char *at)
{
	const char *where = at ? arena_printf(a, " (at '%s')", at) : "";
	if (s->limit == LIMIT_RATIO && at)
		where = arena_printf(a, " at '%s'", at);
	if (s->limit == LIMIT_BYTES)
		return arena_printf(a, "layer expands beyond %" PRIu64 " bytes%s: refused as a decompression bomb",
				    s->max_bytes, where);
	return arena_printf(a,
			    "layer expands to more than %" PRIu64 " times its compressed size%s, %" PRIu64 " bytes from %" PRIu64
			    ", over the compression-ratio limit: refused as a decompression bomb",
			    s->max_ratio, where, s->out_total, s->in_used);
}

struct archive *layer_tar_reader(void)
{
	struct archive *ar = archive_read_new();
	if (ar) {
		archive_read_support_filter_gzip(ar);
		archive_read_support_filter_zstd(ar);
		archive_read_support_format_tar(ar);
	}
	return ar;
}

/* ---- the tar entries ---- */

/* A link in this layer on the way to a kept path: a file reached through it later in the same
 * layer is kept as if at the kept path (var/lib/dpkg -> /srv/dpkg, then srv/dpkg/status). */
struct redirect {
	const char *from, *to;
};
#define MAX_REDIRECTS 64

struct reader {
	struct arena *a;
	struct layer *l;
	struct source *src;
	uint64_t max_file, max_kept, max_spare, spare;
	struct redirect redirects[MAX_REDIRECTS];
	size_t nredirects;
};

static struct lentry *add(struct reader *r, enum lentry_kind kind, const char *path, const char *target)
{
	struct layer *l = r->l;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct lentry *v = arena_alloc_uninit(r->a, cap * sizeof(*v));
		if (l->n)
			memcpy(v, l->v, l->n * sizeof(*v));
		l->v = v;
		l->cap = cap;
	}
	struct lentry *e = &l->v[l->n++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->path = path;
	e->target = target;
	l->kept += layer_entry_cost(e);
	return e;
}

static int over_kept(struct reader *r, const char *path, const char **why)
{
	if (r->l->kept <= r->max_kept)
		return 0;
	*why = arena_printf(r->a,
			    "layer keeps more than %" PRIu64 " bytes of package databases, os files and links (at '%s'), "
			    "over the per-layer limit",
			    r->max_kept, path);
	return DD_E_SCAN_LIMIT;
}

static void note_redirect(struct reader *r, const char *from, const char *to)
{
	for (size_t i = 0; i < r->nredirects; i++)
		if (!strcmp(r->redirects[i].from, from)) {
			r->redirects[i].to = to;
			return;
		}
	if (r->nredirects < MAX_REDIRECTS)
		r->redirects[r->nredirects++] = (struct redirect){from, to};
}

/* 1 when a link seen earlier in this layer makes path a kept path. */
static int redirected(struct reader *r, const char *path)
{
	char buf[DD_MAX_PATH_BYTES * 2 + 2];
	for (size_t i = 0; i < r->nredirects; i++) {
		const struct redirect *d = &r->redirects[i];
		size_t k = strlen(d->to); /* 0: a link to the root, under which is every path */
		if (k && (strncmp(path, d->to, k) || (path[k] && path[k] != '/')))
			continue;
		int m = snprintf(buf, sizeof(buf), "%s%s%s", d->from, k ? "" : "/", path + k);
		if (m > 0 && (size_t)m < sizeof(buf) && kept_path(buf))
			return 1;
	}
	return 0;
}

/* How an entry's data is kept: its first `prefix` bytes only (0: all of it), or through a line
 * filter, or looked through by a probe. */
struct keeping {
	uint64_t prefix;
	struct lang_list_filter *filter;
	struct lang_probe *probe;
};

/* Reads the current entry's data, keeping it in e when e is a file; counts every byte against
 * the layer's limit on uncompressed bytes, and kept ones against the kept bytes. */
static int consume(struct archive *ar, struct reader *r, const char *path, struct lentry *e, uint64_t size_hint,
		   struct keeping k, const char **why)
{
	uint64_t max_bytes = r->src->max_bytes;
	struct layer *l = r->l;
	struct lang_probe *probe = k.probe;
	int keep = e && e->kind == LE_FILE && !k.filter;
	char *buf = NULL;
	size_t cap = 0, len = 0;
	if (k.prefix && size_hint > k.prefix)
		size_hint = k.prefix;
	if (keep && size_hint) {
		cap = (size_t)size_hint;
		buf = arena_alloc_uninit(r->a, cap);
	}
	for (;;) {
		const void *blk;
		size_t n;
		la_int64_t off;
		int rc = archive_read_data_block(ar, &blk, &n, &off);
		if (rc == ARCHIVE_EOF)
			break;
		if (rc < ARCHIVE_WARN) {
			if (r->src->limit) {
				*why = limit_why(r->a, r->src, path);
				return DD_E_SCAN_LIMIT;
			}
			*why = arena_printf(r->a, "'%s': %s", path, archive_error_string(ar));
			return DD_E_LAYER_INVALID;
		}
		l->bytes += n;
		if (l->bytes > max_bytes) {
			*why = arena_printf(r->a, "layer expands beyond %" PRIu64 " bytes (at '%s'): refused as a decompression bomb",
					    max_bytes, path);
			return DD_E_SCAN_LIMIT;
		}
		if (probe && !lang_probe_feed(probe, r->a, blk, n))
			probe = NULL;
		if (k.filter) {
			size_t before = k.filter->len;
			lang_list_filter_feed(k.filter, r->a, blk, n);
			l->kept += k.filter->len - before;
			if (over_kept(r, path, why))
				return DD_E_SCAN_LIMIT;
			continue;
		}
		if (!keep)
			continue;
		if (k.prefix && (off < 0 || (uint64_t)off >= k.prefix))
			continue; /* past the part kept */
		if (k.prefix && (uint64_t)off + n > k.prefix)
			n = (size_t)(k.prefix - (uint64_t)off);
		if (off < 0 || (uint64_t)off + n > r->max_file) {
			*why = arena_printf(r->a, "'%s' is larger than the %" PRIu64 "-byte limit for a package database", path,
					    r->max_file);
			return DD_E_SCAN_LIMIT;
		}
		size_t end = (size_t)off + n;
		if (end > cap) { /* beyond the size its header gave (never, for a well-formed tar) */
			size_t ncap = cap ? cap : 65536;
			while (ncap < end)
				ncap *= 2;
			char *nb = arena_alloc_uninit(r->a, ncap);
			if (len)
				memcpy(nb, buf, len);
			buf = nb;
			cap = ncap;
		}
		if ((size_t)off > len)
			memset(buf + len, 0, (size_t)off - len); /* sparse hole */
		memcpy(buf + off, blk, n);
		if (end > len) {
			l->kept += end - len;
			len = end;
		}
		if (over_kept(r, path, why))
			return DD_E_SCAN_LIMIT;
	}
	if (k.filter) {
		size_t before = k.filter->len;
		e->data = lang_list_filter_end(k.filter, r->a, &e->len);
		l->kept += e->len - before;
	} else if (keep) {
		if (len < cap && size_hint && len < size_hint) { /* a sparse file's trailing hole */
			memset(buf + len, 0, (size_t)size_hint - len);
			l->kept += size_hint - len;
			len = (size_t)size_hint;
		}
		e->data = buf ? buf : "";
		e->len = len;
	}
	return 0;
}

/* A Java archive's bytes for lang_jar_read: the tar entry's data blocks, counted as consume()
 * counts them (which then reads what is left, and reports any error of the stream). */
struct jar_feed {
	struct archive *ar;
	struct reader *r;
};

static ssize_t jar_block(void *ctx, const void **buf)
{
	struct jar_feed *f = ctx;
	ssize_t n = lang_archive_block(f->ar, buf);
	if (n > 0 && (f->r->l->bytes += (uint64_t)n) > f->r->src->max_bytes)
		return -1;
	return n;
}

/* One tar entry: what the layer keeps of it, then its data read through. */
static int entry(struct archive *ar, struct reader *r, struct archive_entry *ent, const char *raw, const char **why)
{
	char path[DD_MAX_PATH_BYTES + 2], target[DD_MAX_PATH_BYTES + 2], dest[DD_MAX_PATH_BYTES * 2 + 2];
	struct arena *a = r->a;
	int plen = normalise(raw, path, sizeof(path));
	struct lentry *e = NULL;
	uint64_t hint = 0;
	enum lang_file lk = LANG_NONE;
	struct lang_probe probe, *pr = NULL;
	const char *jar = NULL;
	size_t jar_len = 0;
	if (plen > 0) {
		const char *slash = strrchr(path, '/');
		const char *base = slash ? slash + 1 : path;
		size_t dirlen = slash ? (size_t)(slash - path) : 0;
		mode_t type = archive_entry_filetype(ent);
		const char *hl = archive_entry_hardlink(ent);
		uint64_t size = archive_entry_size_is_set(ent) && archive_entry_size(ent) > 0
					? (uint64_t)archive_entry_size(ent)
					: 0;
		if (!strcmp(base, ".wh..wh..opq")) {
			e = add(r, LE_OPAQUE, arena_strndup(a, path, dirlen), NULL);
		} else if (!strncmp(base, ".wh.", 4)) {
			e = add(r, LE_WHITEOUT,
				dirlen ? arena_printf(a, "%.*s/%s", (int)dirlen, path, base + 4) : arena_strdup(a, base + 4), NULL);
		} else if (hl) {
			if (normalise(hl, target, sizeof(target)) > 0) {
				e = add(r, LE_HARDLINK, arena_strdup(a, path), arena_strdup(a, target));
				if (layer_path_on_the_way(path))
					note_redirect(r, e->path, e->target);
			}
		} else if (type == AE_IFLNK) {
			const char *t = archive_entry_symlink(ent);
			e = add(r, LE_SYMLINK, arena_strdup(a, path), arena_strdup(a, t ? t : ""));
			if (layer_path_on_the_way(path) && !link_destination(path, e->target, dest, sizeof(dest)))
				note_redirect(r, e->path, arena_strdup(a, dest));
		} else if (type == AE_IFREG && (kept_path(path) || redirected(r, path))) {
			if (size > r->max_file) {
				*why = arena_printf(a, "'%s' is larger than the %" PRIu64 "-byte limit for a package database",
						    path, r->max_file);
				return DD_E_SCAN_LIMIT;
			}
			e = add(r, LE_FILE, arena_strdup(a, path), NULL);
			r->l->kept += size; /* counted before it is read: a file past the limit is not read */
			int rc = over_kept(r, path, why);
			r->l->kept -= size;
			if (rc)
				return rc;
			hint = size;
		} else if (type == AE_IFREG && (lk = lang_file_kind(path)) != LANG_NONE) {
			uint64_t max = lang_file_limit(lk);
			if (size > max) {
				*why = arena_printf(a, "'%s' is larger than the %" PRIu64 "-byte limit for its kind of file", path, max);
				return DD_E_SCAN_LIMIT;
			}
			e = add(r, LE_FILE, arena_strdup(a, path), NULL);
			hint = size;
		} else if (type == AE_IFREG && spare_candidate(path)) {
			/* kept while the spare bytes last; beyond, only noted */
			int fits = size <= r->max_spare - r->spare && r->l->kept + size <= r->max_kept;
			e = add(r, fits ? LE_FILE : LE_DROPPED, arena_strdup(a, path), NULL);
			if (fits) {
				r->spare += size;
				hint = size;
			}
		} else if (type == AE_IFREG && lang_is_java_archive(path)) {
			struct jar_feed f = {ar, r};
			int jrc = lang_jar_read(a, path, jar_block, &f, &jar, &jar_len, why);
			if (jrc)
				return jrc;
		} else if (type == AE_IFREG && size >= 64 && (archive_entry_perm(ent) & 0111)) {
			lang_probe_begin(&probe, path);
			pr = &probe;
		}
		if (e && over_kept(r, path, why))
			return DD_E_SCAN_LIMIT;
	}
	struct keeping k = {.probe = pr};
	struct lang_list_filter lf; /* its line buffer is written before it is read */
	if (lk == LANG_PY_METADATA)
		k.prefix = DD_MAX_PY_HEADER_BYTES;
	else if (lk == LANG_DPKG_LIST) {
		lf.n = lf.len = lf.cap = 0;
		lf.overlong = 0;
		lf.out = NULL;
		k.filter = &lf;
	}
	int rc = consume(ar, r, plen > 0 ? path : raw, e, hint, k, why);
	if (rc) {
		if (pr)
			lang_probe_abandon(pr);
		return rc;
	}
	if (e && lk != LANG_NONE) { /* only what the parsers read */
		size_t len = e->len;
		if (lk == LANG_PY_METADATA) {
			const char *end = memmem(e->data, e->len, "\n\n", 2), *crlf = memmem(e->data, e->len, "\r\n\r\n", 4);
			if (crlf && (!end || crlf < end))
				end = crlf;
			if (end)
				len = (size_t)(end - e->data) + 1;
		}
		r->l->kept -= e->len - len;
		e->len = len;
	}
	size_t kn = jar_len;
	const char *kept = pr ? lang_probe_result(pr, a, &kn) : jar;
	if (kept) {
		e = add(r, LE_DERIVED, arena_strdup(a, path), NULL);
		e->data = kept;
		e->len = kn;
		r->l->kept += kn;
		if (over_kept(r, path, why))
			return DD_E_SCAN_LIMIT;
	}
	return 0;
}

static ssize_t fd_read(void *ctx, void *buf, size_t n) { return read(*(int *)ctx, buf, n); }

int layer_read_fd(struct arena *a, int fd, const struct digest *want, struct digest *got, struct layer *out,
		  const char **why)
{
	return layer_read_stream(a, fd_read, &fd, want, got, out, why);
}

int layer_read_stream(struct arena *a, layer_read_fn fn, void *ctx, const struct digest *want, struct digest *got,
		      struct layer *out, const char **why)
{
	memset(out, 0, sizeof(*out));
	*why = NULL;
	/* only a plain tar reaches libarchive; an empty blob is an empty layer */
	struct archive *ar = archive_read_new();
	if (!ar)
		return DD_E_NOMEM;
	archive_read_support_format_tar(ar);
	archive_read_support_format_empty(ar);
	int rc = 0;
	struct source *src = arena_alloc_uninit(a, sizeof(*src));
	memset(src, 0, offsetof(struct source, buf));
	src->read = fn;
	src->ctx = ctx;
	src->gz = arena_alloc_uninit(a, sizeof(*src->gz)); /* isal_inflate_init sets it up before use */
	src->out = arena_alloc_uninit(a, OUT_CHUNK);
	src->h = want || got ? hasher_new(want ? want->alg : DIGEST_SHA256) : NULL;
	src->max_bytes = layer_limit("DRYDOCK_MAX_LAYER_BYTES", DD_MAX_LAYER_BYTES);
	src->max_ratio = layer_limit("DRYDOCK_MAX_LAYER_RATIO", DD_MAX_LAYER_RATIO);
	struct reader *r = arena_alloc(a, sizeof(*r));
	*r = (struct reader){.a = a, .l = out, .src = src,
			     .max_file = layer_limit("DRYDOCK_MAX_PKGDB_BYTES", DD_MAX_PKGDB_FILE_BYTES),
			     .max_kept = layer_limit("DRYDOCK_MAX_LAYER_KEPT_BYTES", DD_MAX_LAYER_KEPT_BYTES),
			     .max_spare = DD_MAX_LAYER_SPARE_BYTES};
	if (archive_read_open(ar, src, NULL, source_read, NULL) != ARCHIVE_OK) {
		if (src->limit) {
			*why = limit_why(a, src, NULL);
			rc = DD_E_SCAN_LIMIT;
		} else {
			*why = arena_printf(a, "not a tar layer: %s", archive_error_string(ar));
			rc = DD_E_LAYER_INVALID;
		}
		goto out;
	}
	uint64_t max_entries = layer_limit("DRYDOCK_MAX_LAYER_ENTRIES", DD_MAX_LAYER_ENTRIES);
	for (;;) {
		struct archive_entry *ent;
		int hr = archive_read_next_header(ar, &ent);
		if (hr == ARCHIVE_EOF)
			break;
		if (hr < ARCHIVE_WARN) {
			if (src->limit) {
				*why = limit_why(a, src, NULL);
				rc = DD_E_SCAN_LIMIT;
				break;
			}
			/* an empty layer is a valid tar of zero entries; libarchive calls it not a tar */
			if (out->entries == 0 && archive_filter_bytes(ar, 0) == 0)
				break;
			*why = arena_printf(a, "after %" PRIu64 " entries: %s", out->entries, archive_error_string(ar));
			rc = DD_E_LAYER_INVALID;
			break;
		}
		if (++out->entries > max_entries) {
			*why = arena_printf(a, "layer has more than %" PRIu64 " entries", max_entries);
			rc = DD_E_SCAN_LIMIT;
			break;
		}
		const char *raw = archive_entry_pathname(ent);
		if (!raw)
			raw = "";
		if (strlen(raw) > DD_MAX_PATH_BYTES) {
			*why = arena_printf(a, "entry path longer than %d bytes", DD_MAX_PATH_BYTES);
			rc = DD_E_LAYER_INVALID;
			break;
		}
		if ((rc = entry(ar, r, ent, raw, why)))
			break;
	}
	if (!rc && (rc = drain(src)))
		*why = rc == DD_E_SCAN_LIMIT	  ? limit_why(a, src, NULL)
		       : rc == DD_E_LAYER_INVALID ? "the compressed stream is cut short or corrupt after the tar's end"
						  : "cannot read the layer blob";
	out->blob_bytes = src->in_total;
	if (!rc && src->h) {
		struct digest d;
		hasher_peek(src->h, &d);
		if (want && strcmp(d.str, want->str)) {
			*why = arena_printf(a, "layer blob is %s, not %s", d.str, want->str);
			rc = DD_E_DIGEST_INVALID;
		}
		if (got)
			*got = d;
	}
out:
	archive_read_free(ar);
	hasher_free(src->h);
	ZSTD_freeDCtx(src->zs);
	return rc;
}
