/* layer_cache.c: the layer cache's file format: "DDLAYER2" magic, the entry count, then per
 * entry its kind (1 byte), path, target and data, each a 64-bit length and its bytes; and a
 * trailing CRC-32 (zlib) of everything before it, so a damaged file reads as a miss. (Files
 * are renamed into place whole, so a torn write cannot be seen; the check is against the
 * disk, and CRC-32 runs at memory speed where SHA-256 cost more than the rest of a lookup.) */
#include "common/dd.h"
#include "layer_cache.h"
#include "common/arena.h"
#include "common/buf.h"
#include "common/digest.h"
#include "common/log.h"
#include "common/util.h"
#include <zlib.h>

static const char magic[8] = {'D', 'D', 'L', 'A', 'Y', 'E', 'R', '2'};

/* The CRC-32 of (p, n), little-endian, in out. */
static void check_of(const void *p, size_t n, unsigned char out[4])
{
	uLong c = crc32(0L, Z_NULL, 0);
	const unsigned char *b = p;
	while (n) { /* zlib takes uInt lengths */
		uInt k = n > 1u << 30 ? 1u << 30 : (uInt)n;
		c = crc32(c, b, k);
		b += k;
		n -= k;
	}
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

int layer_cache_get(const char *dir, const char *digest, struct arena *a, struct layer *out)
{
	memset(out, 0, sizeof(*out));
	if (!dir || !valid_digest(digest))
		return DD_E_NOT_FOUND;
	struct arena tmp = {0};
	char *data;
	size_t len;
	int rc = util_read_file(cache_path(&tmp, dir, digest), (size_t)DD_MAX_PKGDB_FILE_BYTES * 4, &data, &len);
	arena_free(&tmp);
	if (rc)
		return DD_E_NOT_FOUND;
	rc = DD_E_NOT_FOUND;
	unsigned char check[4];
	if (len < sizeof(magic) + 8 + 4 || memcmp(data, magic, sizeof(magic)))
		goto out;
	check_of(data, len - 4, check);
	if (memcmp(check, data + len - 4, 4))
		goto out;
	struct reader r = {.p = (const unsigned char *)data + sizeof(magic), .end = (const unsigned char *)data + len - 4};
	uint64_t n;
	if (take_u64(&r, &n) || n > DD_MAX_LAYER_ENTRIES)
		goto out;
	out->v = arena_alloc(a, (size_t)(n ? n : 1) * sizeof(*out->v));
	for (uint64_t i = 0; i < n; i++) {
		struct lentry *e = &out->v[i];
		if (r.p >= r.end || *r.p > LE_OPAQUE)
			goto out;
		e->kind = (enum lentry_kind)*r.p++;
		if (take_str(&r, a, &e->path, NULL) || !e->path || take_str(&r, a, &e->target, NULL) ||
		    take_str(&r, a, &e->data, &e->len))
			goto out;
	}
	if (r.p != r.end)
		goto out;
	out->n = out->cap = (size_t)n;
	rc = 0;
out:
	if (rc)
		memset(out, 0, sizeof(*out));
	free(data);
	return rc;
}

static int put_u64(struct buf *b, uint64_t v) { return buf_append(b, &v, 8); }

static int put_str(struct buf *b, const char *s, size_t n)
{
	if (!s)
		return put_u64(b, UINT64_MAX - 1);
	int rc = put_u64(b, n);
	return rc ? rc : buf_append(b, s, n);
}

int layer_cache_put(const char *dir, const char *digest, const struct layer *l)
{
	if (!dir || !valid_digest(digest))
		return DD_E_IO;
	struct buf b;
	buf_init(&b, (size_t)DD_MAX_PKGDB_FILE_BYTES * 4);
	int rc = buf_append(&b, magic, sizeof(magic));
	rc = rc ? rc : put_u64(&b, l->n);
	for (size_t i = 0; i < l->n && !rc; i++) {
		const struct lentry *e = &l->v[i];
		unsigned char k = (unsigned char)e->kind;
		rc = buf_append(&b, &k, 1);
		rc = rc ? rc : put_str(&b, e->path, strlen(e->path));
		rc = rc ? rc : put_str(&b, e->target, e->target ? strlen(e->target) : 0);
		rc = rc ? rc : put_str(&b, e->kind == LE_FILE ? e->data : NULL, e->len);
	}
	if (!rc) {
		unsigned char check[4];
		check_of(b.data, b.len, check);
		rc = buf_append(&b, check, 4);
	}
	struct arena a = {0};
	if (!rc && !(rc = util_mkdirs(dir))) {
		const char *path = cache_path(&a, dir, digest);
		char tmpl[PATH_MAX];
		snprintf(tmpl, sizeof(tmpl), "%s.tmp-XXXXXX", path);
		int fd = mkstemp(tmpl);
		if (fd < 0)
			rc = DD_E_IO;
		else {
			size_t off = 0;
			while (off < b.len && !rc) {
				ssize_t w = write(fd, b.data + off, b.len - off);
				if (w < 0 && errno == EINTR)
					continue;
				if (w <= 0)
					rc = DD_E_IO;
				else
					off += (size_t)w;
			}
			if (close(fd) || rc || rename(tmpl, path)) {
				unlink(tmpl);
				rc = DD_E_IO;
			}
		}
	}
	if (rc)
		log_warn("cannot store layer %s in the cache '%s'", digest, dir);
	arena_free(&a);
	buf_release(&b);
	return rc;
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
