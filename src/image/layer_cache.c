/* layer_cache.c: the layer cache's file format: "DDLAYER5" magic, the entry count, then per
 * entry its kind (1 byte), path, target and data, each a 64-bit length and its bytes; and a
 * trailing CRC-32 (zlib) of everything before it, so a damaged file reads as a miss. (Files
 * are renamed into place whole, so a torn write cannot be seen; the check is against the
 * disk, and CRC-32 runs at memory speed where SHA-256 cost more than the rest of a lookup.)
 * A file is written as it is serialised and read through a mapping, so neither side holds a
 * second copy of what the layer kept. Version 3: files are kept at the package managers' paths
 * only, and LE_DROPPED entries; version 4: application metadata too (inventory/lang.h), and
 * LE_DERIVED entries; version 5: a Go binary's derived bytes name the packages it holds code of
 * (inventory/lang.h). A file
 * of an older version is a miss, and read again. The same
 * bytes are what a sandboxed layer reader sends back (layer_cache_encode), which the server
 * checks as it writes them into the cache (layer_cache_receive). */
#include "common/dd.h"
#include "layer_cache.h"
#include "common/arena.h"
#include "common/digest.h"
#include "common/log.h"
#include "common/util.h"
#include <sys/mman.h>
#include <zlib.h>

static const char magic[8] = {'D', 'D', 'L', 'A', 'Y', 'E', 'R', '5'};

/* The running CRC-32 c over (p, n). */
static uLong crc_more(uLong c, const void *p, size_t n)
{
	const unsigned char *b = p;
	while (n) { /* zlib takes uInt lengths */
		uInt k = n > 1u << 30 ? 1u << 30 : (uInt)n;
		c = crc32(c, b, k);
		b += k;
		n -= k;
	}
	return c;
}

static void crc_out(uLong c, unsigned char out[4])
{
	for (int i = 0; i < 4; i++)
		out[i] = (unsigned char)(c >> (8 * i));
}

static const char *cache_path(struct arena *a, const char *dir, const char *digest)
{
	const char *colon = strchr(digest, ':');
	return arena_printf(a, "%s/%.*s-%s", dir, colon ? (int)(colon - digest) : 0, digest, colon ? colon + 1 : digest);
}

static int valid_digest(const char *digest)
{
	struct digest d;
	const char *why;
	return digest && !digest_parse(digest, strlen(digest), &d, &why);
}

struct reader {
	const unsigned char *p, *end;
};

static int take_u64(struct reader *r, uint64_t *v)
{
	if (r->end - r->p < 8)
		return -1;
	memcpy(v, r->p, 8);
	r->p += 8;
	return 0;
}

static int take_str(struct reader *r, struct arena *a, const char **s, size_t *len)
{
	uint64_t n;
	if (take_u64(r, &n) || n == UINT64_MAX)
		return -1;
	if (n == UINT64_MAX - 1) { /* NULL */
		*s = NULL;
		if (len)
			*len = 0;
		return 0;
	}
	if ((uint64_t)(r->end - r->p) < n)
		return -1;
	*s = arena_strndup(a, (const char *)r->p, (size_t)n);
	if (len)
		*len = (size_t)n;
	r->p += n;
	return 0;
}

/* A cache file is at most what a layer may keep, in the file's own framing (25 bytes an entry
 * against the 40 of struct lentry counted in kept bytes), plus its head and check. */
#define CACHE_FILE_MAX ((uint64_t)DD_MAX_LAYER_KEPT_BYTES + 64)

int layer_cache_open(const char *dir, const char *digest)
{
	if (!dir || !valid_digest(digest))
		return -1;
	struct arena tmp = {0};
	int fd = open(cache_path(&tmp, dir, digest), O_RDONLY | O_CLOEXEC);
	arena_free(&tmp);
	return fd;
}

int layer_cache_get(const char *dir, const char *digest, struct arena *a, struct layer *out)
{
	memset(out, 0, sizeof(*out));
	int fd = layer_cache_open(dir, digest);
	if (fd < 0)
		return DD_E_NOT_FOUND;
	int rc = layer_cache_read_fd(fd, a, out);
	close(fd);
	return rc;
}

int layer_cache_read_fd(int fd, struct arena *a, struct layer *out)
{
	memset(out, 0, sizeof(*out));
	/* the size by lseek, not fstat: the sandboxed worker is allowed no stat call */
	off_t size = lseek(fd, 0, SEEK_END);
	void *map = MAP_FAILED;
	size_t len = 0;
	if (size >= (off_t)(sizeof(magic) + 8 + 4) && (uint64_t)size <= CACHE_FILE_MAX) {
		len = (size_t)size;
		map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	}
	if (map == MAP_FAILED)
		return DD_E_NOT_FOUND;
	const char *data = map;
	int rc = DD_E_NOT_FOUND;
	unsigned char check[4];
	if (memcmp(data, magic, sizeof(magic)))
		goto out;
	crc_out(crc_more(crc32(0L, Z_NULL, 0), data, len - 4), check);
	if (memcmp(check, data + len - 4, 4))
		goto out;
	struct reader r = {.p = (const unsigned char *)data + sizeof(magic), .end = (const unsigned char *)data + len - 4};
	uint64_t n;
	if (take_u64(&r, &n) || n > DD_MAX_LAYER_ENTRIES || n > (uint64_t)(r.end - r.p) / 25)
		goto out;
	out->v = arena_alloc(a, (size_t)(n ? n : 1) * sizeof(*out->v));
	for (uint64_t i = 0; i < n; i++) {
		struct lentry *e = &out->v[i];
		if (r.p >= r.end || *r.p > LE_DERIVED)
			goto out;
		e->kind = (enum lentry_kind)*r.p++;
		if (take_str(&r, a, &e->path, NULL) || !e->path || take_str(&r, a, &e->target, NULL) ||
		    take_str(&r, a, &e->data, &e->len))
			goto out;
		out->kept += layer_entry_cost(e);
	}
	if (r.p != r.end)
		goto out;
	out->n = out->cap = (size_t)n;
	rc = 0;
out:
	if (rc)
		memset(out, 0, sizeof(*out));
	munmap(map, len);
	return rc;
}

/* The bytes being encoded: checksummed as they go, handed to fn. */
struct writer {
	layer_cache_write_fn fn;
	void *ctx;
	uLong crc;
	int err;
};

static void put(struct writer *w, const void *p, size_t n)
{
	if (w->err || !n)
		return;
	w->crc = crc_more(w->crc, p, n);
	w->err = w->fn(w->ctx, p, n);
}

static void put_u64(struct writer *w, uint64_t v) { put(w, &v, 8); }

static void put_str(struct writer *w, const char *s, size_t n)
{
	if (!s) {
		put_u64(w, UINT64_MAX - 1);
		return;
	}
	put_u64(w, n);
	put(w, s, n);
}

uint64_t layer_cache_encoded_size(const struct layer *l)
{
	uint64_t n = sizeof(magic) + 8 + 4;
	for (size_t i = 0; i < l->n; i++) {
		const struct lentry *e = &l->v[i];
		n += 1 + 3 * 8 + strlen(e->path) + (e->target ? strlen(e->target) : 0) + (e->kind == LE_FILE || e->kind == LE_DERIVED ? e->len : 0);
	}
	return n;
}

int layer_cache_encode(const struct layer *l, layer_cache_write_fn fn, void *ctx)
{
	struct writer w = {.fn = fn, .ctx = ctx, .crc = crc32(0L, Z_NULL, 0)};
	put(&w, magic, sizeof(magic));
	put_u64(&w, l->n);
	for (size_t i = 0; i < l->n && !w.err; i++) {
		const struct lentry *e = &l->v[i];
		unsigned char k = (unsigned char)e->kind;
		put(&w, &k, 1);
		put_str(&w, e->path, strlen(e->path));
		put_str(&w, e->target, e->target ? strlen(e->target) : 0);
		put_str(&w, e->kind == LE_FILE || e->kind == LE_DERIVED ? e->data : NULL, e->len);
	}
	unsigned char check[4];
	crc_out(w.crc, check);
	if (!w.err)
		w.err = fn(ctx, check, 4);
	return w.err;
}

static int file_write(void *ctx, const void *p, size_t n) { return fwrite(p, 1, n, ctx) == n ? 0 : DD_E_IO; }

/* A temporary file beside the entry of digest, for writing: its descriptor (-1 on failure)
 * and its name in tmpl. */
static int temp_beside(const char *path, char *tmpl, size_t cap)
{
	int n = snprintf(tmpl, cap, "%.*s.tmp-XXXXXX", (int)(cap > 16 ? cap - 16 : 0), path);
	if (n < 0 || (size_t)n >= cap || strlen(path) > cap - 16) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return mkstemp(tmpl);
}

int layer_cache_put(const char *dir, const char *digest, const struct layer *l)
{
	if (!dir || !valid_digest(digest))
		return DD_E_IO;
	struct arena a = {0};
	int rc = util_mkdirs(dir);
	if (!rc) {
		const char *path = cache_path(&a, dir, digest);
		char tmpl[PATH_MAX];
		int fd = temp_beside(path, tmpl, sizeof(tmpl));
		FILE *f = fd < 0 ? NULL : fdopen(fd, "wb");
		if (!f) {
			if (fd >= 0) {
				close(fd);
				unlink(tmpl);
			}
			rc = DD_E_IO;
		} else {
			int err = layer_cache_encode(l, file_write, f);
			if (fclose(f) || err || rename(tmpl, path)) {
				unlink(tmpl);
				rc = DD_E_IO;
			}
		}
	}
	if (rc)
		log_warn("cannot store layer %s in the cache '%s'", digest, dir);
	arena_free(&a);
	return rc;
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
	while (n) {
		ssize_t k = write(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return DD_E_IO;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

int layer_cache_receive(int fd, layer_read_fn fn, void *ctx, uint64_t len, const char **why)
{
	*why = NULL;
	if (len < sizeof(magic) + 8 + 4 || len > CACHE_FILE_MAX) {
		*why = "a layer entry of an impossible size";
		return DD_E_LAYER_INVALID;
	}
	unsigned char buf[1 << 16], tail[4], head[sizeof(magic)];
	uLong crc = crc32(0L, Z_NULL, 0);
	uint64_t pos = 0, body = len - 4;
	while (pos < len) {
		size_t want = len - pos < sizeof(buf) ? (size_t)(len - pos) : sizeof(buf);
		ssize_t k = fn(ctx, buf, want);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return DD_E_IO;
		size_t n = (size_t)k;
		for (uint64_t at = pos; at < pos + n && at < sizeof(head); at++) /* the head and the check */
			head[at] = buf[at - pos];
		for (uint64_t at = pos > body ? pos : body; at < pos + n; at++)
			tail[at - body] = buf[at - pos];
		if (pos < body)
			crc = crc_more(crc, buf, pos + n <= body ? n : (size_t)(body - pos));
		if (write_all(fd, buf, n))
			return DD_E_IO;
		pos += n;
	}
	unsigned char check[4];
	crc_out(crc, check);
	if (memcmp(head, magic, sizeof(magic)) || memcmp(check, tail, 4)) {
		*why = "a layer entry whose head or checksum is wrong";
		return DD_E_LAYER_INVALID;
	}
	return 0;
}

int layer_cache_begin(const char *dir, const char *digest, struct layer_cache_tmp *t)
{
	t->fd = -1;
	if (!dir || !valid_digest(digest) || util_mkdirs(dir))
		return DD_E_IO;
	struct arena a = {0};
	snprintf(t->path, sizeof(t->path), "%s", cache_path(&a, dir, digest));
	arena_free(&a);
	t->fd = temp_beside(t->path, t->tmp, sizeof(t->tmp));
	return t->fd < 0 ? DD_E_IO : 0;
}

int layer_cache_commit(struct layer_cache_tmp *t)
{
	int rc = close(t->fd) || rename(t->tmp, t->path) ? DD_E_IO : 0;
	if (rc)
		unlink(t->tmp);
	t->fd = -1;
	return rc;
}

void layer_cache_abort(struct layer_cache_tmp *t)
{
	if (t->fd < 0)
		return;
	close(t->fd);
	unlink(t->tmp);
	t->fd = -1;
}

int layer_cache_remove(const char *dir, const char *digest)
{
	if (!valid_digest(digest))
		return DD_E_DIGEST_INVALID;
	struct arena a = {0};
	int rc = unlink(cache_path(&a, dir, digest)) && errno != ENOENT ? DD_E_IO : 0;
	arena_free(&a);
	return rc;
}
