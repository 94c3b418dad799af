/* blobstore_s3.c: the S3 blob store.
 *
 * Keys: blobs/<alg>/<hex> for blobs; uploads/<id>/tail.<total> and the multipart upload
 * uploads/<id>/data for staging. An upload is a multipart upload of DD_S3_PART_BYTES parts,
 * created when its first part is full, plus a tail: the bytes after the last whole part,
 * written as the object tail.<total> each time the upload is made durable (upload_sync, the
 * end of each PATCH). So the state of an acknowledged upload is in S3 alone and any node can
 * carry it on: it lists the tails, takes the largest total, reads that tail and the parts
 * before it. The tail before it is kept too, so an upload can be cut back one step (to the
 * offset the metadata acknowledged, when a node died between the two).
 *
 * Parts of an incomplete multipart upload cannot be read back, so upload_read is unsupported:
 * a node that did not see an upload's first bytes verifies its digest at the end by completing
 * it into uploads/<id>/data and reading that (upload_digest), and commit copies it into place.
 * Otherwise a blob is written once: one PUT when it fits a part, else the multipart upload is
 * completed, copied to its key and removed. The digest is always checked before a blob key is
 * written, so a blob is never visible half-written or wrong.
 *
 * Readers get a socket that a thread fills from a GET as it streams (no local copy). The
 * garbage collector's lock is a local flock until the metadata can hold a cluster-wide lease. */
#include "common/dd.h"
#include "blobstore.h"
#include "s3.h"
#include "common/digest.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/util.h"
#include <pthread.h>
#include <sys/file.h>
#include <sys/socket.h>

struct blobstore_s3 {
	struct blobstore base;
	struct s3 *s3;
	char *lock_path;
};

struct upload_file {
	struct blobstore_s3 *bs;
	char id[128];
	char mpu[512];   /* the multipart upload's id, "" until the first part */
	int nparts;      /* whole parts uploaded */
	char (*etags)[130];
	int etags_cap;
	char *buf;       /* the tail: bytes after the whole parts */
	size_t len;
	int64_t tails[2]; /* totals of the tail objects kept: the last two made durable */
	int ntails;
	int completed;   /* upload_digest completed it into uploads/<id>/data */
};

static struct blobstore_s3 *s3_of(struct blobstore *bs) { return (struct blobstore_s3 *)bs; }

static int64_t total_of(const struct upload_file *u) { return (int64_t)u->nparts * DD_S3_PART_BYTES + (int64_t)u->len; }

static char *key_printf(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static char *key_printf(char *out, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out, cap, fmt, ap);
	va_end(ap);
	return out;
}

static int blob_key(const char *digest, char *out, size_t cap)
{
	struct digest d;
	const char *why;
	if (digest_parse(digest, strlen(digest), &d, &why))
		return DD_E_DIGEST_INVALID;
	const char *colon = strchr(d.str, ':');
	snprintf(out, cap, "blobs/%.*s/%s", (int)(colon - d.str), d.str, colon + 1);
	return 0;
}

/* A request whose answer must be one of the 2xx codes; others are logged and DD_E_IO. */
static int req(struct blobstore_s3 *bs, struct s3_req *q, struct s3_resp *r)
{
	int rc = s3_do(bs->s3, q, r);
	if (!rc && (r->status < 200 || r->status >= 300)) {
		if (r->status != 404)
			log_error("S3 %s %s: %s", q->method, q->key, r->error);
		rc = r->status == 404 ? DD_E_NOT_FOUND : DD_E_IO;
	}
	return rc;
}

static int simple(struct blobstore_s3 *bs, const char *method, const char *key, const void *body, size_t len)
{
	struct s3_req q = {.method = method, .key = key, .body = body, .body_len = len, .unsigned_payload = len > 0};
	struct s3_resp r = {0};
	int rc = req(bs, &q, &r);
	buf_release(&r.body);
	return rc;
}

/* ---- listing ---- */

/* Calls fn for each object under prefix: its key, size and last modification. */
static int list_each(struct blobstore_s3 *bs, const char *prefix,
		     int (*fn)(void *ctx, const char *key, int64_t size, int64_t mtime), void *ctx)
{
	char token[1024] = "";
	for (;;) {
		const char *q[] = {"list-type", "2", "prefix", prefix, *token ? "continuation-token" : NULL, token, NULL};
		struct s3_req sq = {.method = "GET", .key = "", .query = q, .body_cap = 64 << 20};
		struct s3_resp r = {0};
		int rc = req(bs, &sq, &r);
		if (rc) {
			buf_release(&r.body);
			return rc;
		}
		const char *pos = r.body.data ? r.body.data : "", *a, *b;
		while (!rc && !s3_xml_next(&pos, "Contents", &a, &b)) {
			char *item = strndup(a, (size_t)(b - a)), key[1024], size[32], mod[64];
			if (!item) {
				rc = DD_E_NOMEM;
				break;
			}
			if (!s3_xml_text(item, "Key", key, sizeof(key)) && !s3_xml_text(item, "Size", size, sizeof(size))) {
				struct tm tm = {0};
				int64_t t = 0;
				if (!s3_xml_text(item, "LastModified", mod, sizeof(mod)) && strptime(mod, "%Y-%m-%dT%H:%M:%S", &tm))
					t = (int64_t)timegm(&tm);
				rc = fn(ctx, key, strtoll(size, NULL, 10), t);
			}
			free(item);
		}
		char trunc[16] = "";
		s3_xml_text(r.body.data ? r.body.data : "", "IsTruncated", trunc, sizeof(trunc));
		int more = !strcmp(trunc, "true") &&
			   !s3_xml_text(r.body.data, "NextContinuationToken", token, sizeof(token));
		buf_release(&r.body);
		if (rc || !more)
			return rc;
	}
}

/* The multipart upload of uploads/<id>/data, if any, into u->mpu with its parts' ETags. */
static int find_parts(struct blobstore_s3 *bs, struct upload_file *u, int need)
{
	char key[256];
	key_printf(key, sizeof(key), "uploads/%s/data", u->id);
	const char *q[] = {"uploads", NULL, "prefix", key, NULL};
	struct s3_req sq = {.method = "GET", .key = "", .query = q, .body_cap = 1 << 20};
	struct s3_resp r = {0};
	int rc = req(bs, &sq, &r);
	if (!rc && s3_xml_text(r.body.data ? r.body.data : "", "UploadId", u->mpu, sizeof(u->mpu)))
		u->mpu[0] = 0;
	buf_release(&r.body);
	if (rc || !need)
		return rc;
	if (!u->mpu[0]) {
		log_error("upload '%s': its parts are gone from S3", u->id);
		return DD_E_IO;
	}
	free(u->etags);
	u->etags_cap = 0;
	if (!(u->etags = calloc((size_t)need, sizeof(*u->etags))))
		return DD_E_NOMEM;
	u->etags_cap = need;
	char marker[16] = "0";
	int found = 0;
	for (;;) {
		const char *pq[] = {"uploadId", u->mpu, "part-number-marker", marker, NULL};
		struct s3_req pr = {.method = "GET", .key = key, .query = pq, .body_cap = 16 << 20};
		if ((rc = req(bs, &pr, &r)))
			break;
		const char *pos = r.body.data ? r.body.data : "", *a, *b;
		while (!s3_xml_next(&pos, "Part", &a, &b)) {
			char *item = strndup(a, (size_t)(b - a)), num[16], size[32], etag[130];
			if (!item) {
				rc = DD_E_NOMEM;
				break;
			}
			if (!s3_xml_text(item, "PartNumber", num, sizeof(num)) && !s3_xml_text(item, "Size", size, sizeof(size)) &&
			    !s3_xml_text(item, "ETag", etag, sizeof(etag))) {
				long n = strtol(num, NULL, 10);
				if (n >= 1 && n <= need && strtoll(size, NULL, 10) == DD_S3_PART_BYTES) {
					snprintf(u->etags[n - 1], sizeof(u->etags[0]), "%s", etag);
					found++;
				}
			}
			free(item);
		}
		char trunc[16] = "";
		s3_xml_text(r.body.data ? r.body.data : "", "IsTruncated", trunc, sizeof(trunc));
		if (rc || strcmp(trunc, "true") || s3_xml_text(r.body.data, "NextPartNumberMarker", marker, sizeof(marker)))
			break;
	}
	buf_release(&r.body);
	if (!rc && found != need) {
		log_error("upload '%s': %d of its %d parts are in S3", u->id, found, need);
		rc = DD_E_IO;
	}
	return rc;
}

/* ---- uploads ---- */

struct tails {
	int64_t totals[8];
	int n, more;
};

static int collect_tail(void *ctx, const char *key, int64_t size, int64_t mtime)
{
	(void)size;
	(void)mtime;
	struct tails *t = ctx;
	const char *dot = strrchr(key, '/');
	char *end;
	if (!dot || strncmp(dot + 1, "tail.", 5))
		return 0;
	long long v = strtoll(dot + 6, &end, 10);
	if (*end || v < 0)
		return 0;
	if (t->n < (int)DD_ARRAY_LEN(t->totals))
		t->totals[t->n++] = v;
	else
		t->more = 1;
	return 0;
}

/* Reads tail.<total> into u->buf and sets the parts before it. */
static int load_tail(struct blobstore_s3 *bs, struct upload_file *u, int64_t total)
{
	char key[256];
	key_printf(key, sizeof(key), "uploads/%s/tail.%" PRId64, u->id, total);
	struct s3_req q = {.method = "GET", .key = key, .body_cap = DD_S3_PART_BYTES};
	struct s3_resp r = {0};
	int rc = req(bs, &q, &r);
	if (!rc && ((int64_t)r.body.len > total || (total - (int64_t)r.body.len) % DD_S3_PART_BYTES)) {
		log_error("upload '%s': tail of %zu bytes does not fit a total of %" PRId64, u->id, r.body.len, total);
		rc = DD_E_IO;
	}
	if (!rc) {
		if (!u->buf && !(u->buf = malloc(DD_S3_PART_BYTES)))
			rc = DD_E_NOMEM;
		else {
			if (r.body.len)
				memcpy(u->buf, r.body.data, r.body.len);
			u->len = r.body.len;
			u->nparts = (int)((total - (int64_t)r.body.len) / DD_S3_PART_BYTES);
		}
	}
	buf_release(&r.body);
	return rc;
}

static int reopen(struct upload_file *u);

static int s3_upload_open(struct blobstore *b, const char *id, int create, struct upload_file **out, int64_t *size)
{
	struct blobstore_s3 *bs = s3_of(b);
	*out = NULL;
	*size = 0;
	struct upload_file *u = calloc(1, sizeof(*u));
	if (!u)
		return DD_E_NOMEM;
	u->bs = bs;
	snprintf(u->id, sizeof(u->id), "%s", id);
	char key[256];
	int rc;
	if (create) {
		rc = simple(bs, "PUT", key_printf(key, sizeof(key), "uploads/%s/tail.0", id), NULL, 0);
		u->ntails = 1; /* tails[0] = 0 */
	} else {
		struct tails t = {0};
		rc = list_each(bs, key_printf(key, sizeof(key), "uploads/%s/", id), collect_tail, &t);
		if (!rc && !t.n)
			rc = DD_E_BLOB_UPLOAD_UNKNOWN;
		int64_t top = -1, prev = -1;
		for (int i = 0; !rc && i < t.n; i++)
			if (t.totals[i] > top) {
				prev = top;
				top = t.totals[i];
			} else if (t.totals[i] > prev)
				prev = t.totals[i];
		if (!rc) {
			u->tails[0] = top;
			u->ntails = 1;
			if (prev >= 0)
				u->tails[u->ntails++] = prev;
			rc = load_tail(bs, u, top);
		}
		int reopened = 0;
		if (!rc && u->nparts && !find_parts(bs, u, 0) && !u->mpu[0]) {
			/* completed by upload_digest and neither committed nor reopened (a node died) */
			struct s3_req hq = {.method = "HEAD", .key = key_printf(key, sizeof(key), "uploads/%s/data", id)};
			struct s3_resp hr = {0};
			if (!req(bs, &hq, &hr) && hr.length >= total_of(u) - (int64_t)u->len) {
				u->completed = 1;
				rc = reopen(u);
				reopened = 1;
			}
			buf_release(&hr.body);
		}
		if (!rc && !reopened && u->nparts)
			rc = find_parts(bs, u, u->nparts);
	}
	if (rc) {
		free(u->buf);
		free(u->etags);
		free(u);
		return rc;
	}
	*size = total_of(u);
	*out = u;
	return 0;
}

static int ensure_mpu(struct upload_file *u)
{
	if (u->mpu[0])
		return 0;
	char key[256];
	key_printf(key, sizeof(key), "uploads/%s/data", u->id);
	const char *q[] = {"uploads", NULL, NULL};
	struct s3_req sq = {.method = "POST", .key = key, .query = q};
	struct s3_resp r = {0};
	int rc = req(u->bs, &sq, &r);
	if (!rc && s3_xml_text(r.body.data ? r.body.data : "", "UploadId", u->mpu, sizeof(u->mpu))) {
		log_error("upload '%s': S3 answered no UploadId", u->id);
		rc = DD_E_IO;
	}
	buf_release(&r.body);
	return rc;
}

/* Uploads u->buf[0, n) as part number `num`. */
static int put_part(struct upload_file *u, int num, size_t n)
{
	int rc = ensure_mpu(u);
	if (rc)
		return rc;
	if (num > u->etags_cap) {
		int cap = u->etags_cap ? u->etags_cap * 2 : 16;
		while (cap < num)
			cap *= 2;
		char(*e)[130] = realloc(u->etags, (size_t)cap * sizeof(*e));
		if (!e)
			return DD_E_NOMEM;
		u->etags = e;
		u->etags_cap = cap;
	}
	char key[256], pn[16];
	key_printf(key, sizeof(key), "uploads/%s/data", u->id);
	snprintf(pn, sizeof(pn), "%d", num);
	const char *q[] = {"partNumber", pn, "uploadId", u->mpu, NULL};
	struct s3_req sq = {.method = "PUT", .key = key, .query = q, .body = u->buf, .body_len = n, .unsigned_payload = 1};
	struct s3_resp r = {0};
	rc = req(u->bs, &sq, &r);
	if (!rc && !r.etag[0]) {
		log_error("upload '%s': S3 answered part %d with no ETag", u->id, num);
		rc = DD_E_IO;
	}
	if (!rc)
		snprintf(u->etags[num - 1], sizeof(u->etags[0]), "%s", r.etag);
	buf_release(&r.body);
	return rc;
}

/* After upload_digest completed the upload (and the digest did not match, or this node died
 * before its commit), its first u->nparts parts are copied back out of the completed object
 * into a new multipart upload, inside S3, so that it can go on. */
static int reopen(struct upload_file *u)
{
	char key[256], src[600], pn[16], range[64];
	key_printf(key, sizeof(key), "uploads/%s/data", u->id);
	snprintf(src, sizeof(src), "/%s/%s", s3_bucket(u->bs->s3), key);
	u->mpu[0] = 0;
	int rc = 0;
	for (int i = 1; !rc && i <= u->nparts; i++) {
		if ((rc = ensure_mpu(u)))
			break;
		if (i > u->etags_cap) {
			char(*e)[130] = realloc(u->etags, (size_t)u->nparts * sizeof(*e));
			if (!e)
				return DD_E_NOMEM;
			u->etags = e;
			u->etags_cap = u->nparts;
		}
		snprintf(pn, sizeof(pn), "%d", i);
		snprintf(range, sizeof(range), "bytes=%" PRId64 "-%" PRId64, (int64_t)(i - 1) * DD_S3_PART_BYTES,
			 (int64_t)i * DD_S3_PART_BYTES - 1);
		const char *q[] = {"partNumber", pn, "uploadId", u->mpu, NULL};
		struct s3_req sq = {.method = "PUT", .key = key, .query = q, .copy_source = src, .copy_range = range};
		struct s3_resp r = {0};
		rc = req(u->bs, &sq, &r);
		if (!rc && s3_xml_text(r.body.data ? r.body.data : "", "ETag", u->etags[i - 1], sizeof(u->etags[0]))) {
			log_error("upload '%s': S3 answered the copy of part %d with no ETag", u->id, i);
			rc = DD_E_IO;
		}
		buf_release(&r.body);
	}
	if (!rc)
		u->completed = 0;
	return rc;
}

static int s3_upload_write(struct upload_file *u, const void *p, size_t n)
{
	const char *c = p;
	if (!u->buf && !(u->buf = malloc(DD_S3_PART_BYTES)))
		return DD_E_NOMEM;
	while (n) {
		size_t k = DD_S3_PART_BYTES - u->len < n ? DD_S3_PART_BYTES - u->len : n;
		memcpy(u->buf + u->len, c, k);
		u->len += k;
		c += k;
		n -= k;
		if (u->len == DD_S3_PART_BYTES) {
			int rc = put_part(u, u->nparts + 1, u->len);
			if (rc) {
				u->len -= k; /* as if this write never happened (the caller cuts back) */
				return rc;
			}
			u->nparts++;
			u->len = 0;
		}
	}
	return 0;
}

static int s3_upload_sync(struct upload_file *u)
{
	int64_t total = total_of(u);
	if (u->ntails && u->tails[0] == total)
		return 0;
	char key[256];
	int rc = simple(u->bs, "PUT", key_printf(key, sizeof(key), "uploads/%s/tail.%" PRId64, u->id, total), u->buf,
			u->len);
	if (rc)
		return rc;
	if (u->ntails == 2) /* the one before the previous: no longer needed to cut back */
		simple(u->bs, "DELETE", key_printf(key, sizeof(key), "uploads/%s/tail.%" PRId64, u->id, u->tails[1]), NULL, 0);
	u->tails[1] = u->tails[0];
	u->tails[0] = total;
	u->ntails = u->ntails ? 2 : 1;
	return 0;
}

static int s3_upload_truncate(struct upload_file *u, int64_t size)
{
	if (size == total_of(u))
		return 0;
	for (int i = 0; i < u->ntails; i++)
		if (u->tails[i] == size) {
			int keep = u->nparts;
			int rc = load_tail(u->bs, u, size);
			if (!rc && u->completed)
				rc = reopen(u);
			else if (!rc && u->nparts > keep)
				rc = find_parts(u->bs, u, u->nparts); /* parts read back (another node's) */
			return rc;
		}
	log_error("upload '%s': cannot cut back to %" PRId64 " bytes (no tail ends there)", u->id, size);
	return DD_E_IO;
}

static int s3_upload_read(struct upload_file *u, int64_t off, void *p, size_t n, size_t *got)
{
	(void)u, (void)off, (void)p, (void)n;
	*got = 0;
	return DD_E_UNSUPPORTED;
}

static int s3_upload_open_fd(struct upload_file *u, int *fd)
{
	(void)u;
	*fd = -1;
	return DD_E_UNSUPPORTED;
}

/* Completes the multipart upload with the tail as its last part. */
static int complete(struct upload_file *u)
{
	int rc = 0;
	if (u->len) {
		if ((rc = put_part(u, u->nparts + 1, u->len)))
			return rc;
		u->nparts++;
		u->len = 0;
	}
	struct buf x;
	buf_init(&x, (size_t)u->nparts * 256 + 256);
	rc = buf_puts(&x, "<CompleteMultipartUpload>");
	for (int i = 0; !rc && i < u->nparts; i++)
		rc = buf_printf(&x, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>", i + 1, u->etags[i]);
	rc = rc ? rc : buf_puts(&x, "</CompleteMultipartUpload>");
	char key[256];
	key_printf(key, sizeof(key), "uploads/%s/data", u->id);
	const char *q[] = {"uploadId", u->mpu, NULL};
	struct s3_req sq = {.method = "POST", .key = key, .query = q, .body = x.data, .body_len = x.len};
	struct s3_resp r = {0};
	if (!rc)
		rc = req(u->bs, &sq, &r);
	/* an error can come in a 200 answer, after the parts were checked */
	if (!rc && r.body.data && strstr(r.body.data, "<Error>")) {
		log_error("upload '%s': S3 could not complete it: %s", u->id, r.body.data);
		rc = DD_E_IO;
	}
	buf_release(&r.body);
	buf_release(&x);
	if (!rc)
		u->completed = 1;
	return rc;
}

struct hash_sink {
	struct hasher *h;
};

static int hash_bytes(void *ctx, const void *p, size_t n)
{
	hasher_update(((struct hash_sink *)ctx)->h, p, n);
	return 0;
}

static int s3_upload_digest(struct upload_file *u, enum digest_alg alg, struct digest *out)
{
	struct hash_sink hs = {hasher_new(alg)};
	if (!hs.h)
		return DD_E_NOMEM;
	int rc = 0;
	if (!u->nparts) {
		hasher_update(hs.h, u->buf ? u->buf : "", u->len);
	} else if (!(rc = complete(u))) {
		char key[256];
		struct s3_req q = {.method = "GET", .key = key_printf(key, sizeof(key), "uploads/%s/data", u->id),
				   .sink = hash_bytes, .sink_ctx = &hs};
		struct s3_resp r = {0};
		rc = req(u->bs, &q, &r);
		buf_release(&r.body);
	}
	if (!rc)
		hasher_peek(hs.h, out);
	hasher_free(hs.h);
	return rc;
}

static void abort_mpu(struct blobstore_s3 *bs, const char *id, const char *mpu);

static int s3_upload_commit(struct blobstore *b, struct upload_file *u, const char *digest)
{
	struct blobstore_s3 *bs = s3_of(b);
	char key[300], src[600];
	int rc = blob_key(digest, key, sizeof(key));
	if (rc)
		goto out;
	struct s3_req hq = {.method = "HEAD", .key = key};
	struct s3_resp hr = {0};
	rc = req(bs, &hq, &hr);
	buf_release(&hr.body);
	if (!rc) /* content-addressed: the same bytes are already there */
		goto drop;
	if (rc != DD_E_NOT_FOUND)
		goto out;
	if (!u->nparts && !u->completed) { /* fits one request */
		if ((rc = simple(bs, "PUT", key, u->buf, u->len)))
			goto out;
		goto drop;
	}
	if (!u->completed && (rc = complete(u)))
		goto out;
	snprintf(src, sizeof(src), "/%s/uploads/%s/data", s3_bucket(bs->s3), u->id);
	struct s3_req cq = {.method = "PUT", .key = key, .copy_source = src};
	struct s3_resp cr = {0};
	rc = req(bs, &cq, &cr);
	if (!rc && cr.body.data && strstr(cr.body.data, "<Error>")) {
		log_error("cannot copy upload '%s' to %s: %s", u->id, key, cr.body.data);
		rc = DD_E_IO;
	}
	buf_release(&cr.body);
	if (rc)
		goto out;
drop: /* what this upload left in S3, as far as this node knows it */
	if (u->completed)
		simple(bs, "DELETE", key_printf(src, sizeof(src), "uploads/%s/data", u->id), NULL, 0);
	else if (u->mpu[0])
		abort_mpu(bs, u->id, u->mpu);
	for (int i = 0; i < u->ntails; i++)
		simple(bs, "DELETE", key_printf(src, sizeof(src), "uploads/%s/tail.%" PRId64, u->id, u->tails[i]), NULL, 0);
	rc = 0;
out:
	free(u->buf);
	free(u->etags);
	free(u);
	return rc;
}

static void s3_upload_close(struct upload_file *u)
{
	if (!u)
		return;
	free(u->buf);
	free(u->etags);
	free(u);
}

static int delete_key(void *ctx, const char *key, int64_t size, int64_t mtime)
{
	(void)size;
	(void)mtime;
	simple(ctx, "DELETE", key, NULL, 0);
	return 0;
}

static void abort_mpu(struct blobstore_s3 *bs, const char *id, const char *mpu)
{
	char key[256];
	const char *q[] = {"uploadId", mpu, NULL};
	struct s3_req sq = {.method = "DELETE", .key = key_printf(key, sizeof(key), "uploads/%s/data", id), .query = q};
	struct s3_resp r = {0};
	req(bs, &sq, &r);
	buf_release(&r.body);
}

/* Removes an upload's objects and aborts its multipart upload. */
static void drop_staging(struct blobstore_s3 *bs, const char *id)
{
	struct upload_file u = {.bs = bs};
	snprintf(u.id, sizeof(u.id), "%s", id);
	char key[256];
	if (!find_parts(bs, &u, 0) && u.mpu[0])
		abort_mpu(bs, id, u.mpu);
	list_each(bs, key_printf(key, sizeof(key), "uploads/%s/", id), delete_key, bs);
}

static int s3_upload_remove(struct blobstore *b, const char *id)
{
	drop_staging(s3_of(b), id);
	return 0;
}

struct older {
	int64_t before;
	void (*fn)(void *ctx, const char *id);
	void *ctx;
	char last[128];
	int64_t newest;
};

static void older_flush(struct older *o)
{
	if (o->last[0] && o->newest < o->before)
		o->fn(o->ctx, o->last);
	o->last[0] = 0;
	o->newest = 0;
}

/* Keys come sorted, so an upload's objects are together. */
static int older_each(void *ctx, const char *key, int64_t size, int64_t mtime)
{
	(void)size;
	struct older *o = ctx;
	const char *id = key + strlen("uploads/");
	size_t n = strcspn(id, "/");
	if (!n || n >= sizeof(o->last))
		return 0;
	if (strncmp(o->last, id, n) || o->last[n]) {
		older_flush(o);
		memcpy(o->last, id, n);
		o->last[n] = 0;
	}
	if (mtime > o->newest)
		o->newest = mtime;
	return 0;
}

static int s3_uploads_each_older(struct blobstore *b, int64_t before, void (*fn)(void *ctx, const char *id), void *ctx)
{
	struct older o = {.before = before, .fn = fn, .ctx = ctx};
	int rc = list_each(s3_of(b), "uploads/", older_each, &o);
	if (!rc)
		older_flush(&o);
	return rc;
}

static int s3_blob_stat(struct blobstore *b, const char *digest, int64_t *size)
{
	char key[300];
	*size = 0;
	int rc = blob_key(digest, key, sizeof(key));
	if (rc)
		return rc;
	struct s3_req q = {.method = "HEAD", .key = key};
	struct s3_resp r = {0};
	rc = req(s3_of(b), &q, &r);
	buf_release(&r.body);
	if (rc)
		return rc == DD_E_NOT_FOUND ? DD_E_BLOB_UNKNOWN : rc;
	*size = r.length;
	return 0;
}

/* ---- readers: a socket filled from a GET by a thread ---- */

struct getter {
	struct blobstore_s3 *bs;
	char key[300];
	char range[64]; /* "" for the whole blob */
	int wfd;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int refs, headed;
	long status;
	int64_t length;
};

static int streams_live; /* atomic: getters running, against DD_MAX_S3_STREAMS */

static void getter_unref(struct getter *g)
{
	pthread_mutex_lock(&g->mu);
	int last = --g->refs == 0;
	pthread_mutex_unlock(&g->mu);
	if (last) {
		__atomic_fetch_sub(&streams_live, 1, __ATOMIC_RELAXED);
		pthread_mutex_destroy(&g->mu);
		pthread_cond_destroy(&g->cv);
		free(g);
	}
}

static void getter_head(void *ctx, long status, int64_t length)
{
	struct getter *g = ctx;
	pthread_mutex_lock(&g->mu);
	g->headed = 1;
	g->status = status;
	g->length = length;
	pthread_cond_signal(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

static int getter_sink(void *ctx, const void *p, size_t n)
{
	struct getter *g = ctx;
	const char *c = p;
	while (n) {
		ssize_t w = send(g->wfd, c, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return 1; /* the reader went away */
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static void *getter_run(void *arg)
{
	struct getter *g = arg;
	struct s3_req q = {.method = "GET", .key = g->key, .range = g->range[0] ? g->range : NULL, .sink = getter_sink,
			   .on_head = getter_head, .sink_ctx = g};
	struct s3_resp r = {0};
	int rc = s3_do(g->bs->s3, &q, &r);
	buf_release(&r.body);
	pthread_mutex_lock(&g->mu);
	if (!g->headed) {
		g->headed = 1;
		g->status = rc ? 0 : r.status;
		pthread_cond_signal(&g->cv);
	}
	pthread_mutex_unlock(&g->mu);
	close(g->wfd); /* a body cut off ends short: readers check the length and the digest */
	getter_unref(g);
	return NULL;
}

/* A socket a thread fills from a GET of the blob (of bytes [off, off + len) when len >= 0). */
static int open_stream(struct blobstore *b, const char *digest, int64_t off, int64_t len, int *fd, int64_t *size)
{
	*fd = -1;
	*size = 0;
	struct getter *g = calloc(1, sizeof(*g));
	if (!g)
		return DD_E_NOMEM;
	int rc = blob_key(digest, g->key, sizeof(g->key));
	if (rc) {
		free(g);
		return rc;
	}
	if (len >= 0)
		snprintf(g->range, sizeof(g->range), "bytes=%" PRId64 "-%" PRId64, off, off + len - 1);
	if (__atomic_add_fetch(&streams_live, 1, __ATOMIC_RELAXED) > DD_MAX_S3_STREAMS) {
		__atomic_fetch_sub(&streams_live, 1, __ATOMIC_RELAXED);
		free(g);
		log_warn("%d blob reads from S3 already stream: one more refused", DD_MAX_S3_STREAMS);
		return DD_E_UNAVAILABLE;
	}
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		__atomic_fetch_sub(&streams_live, 1, __ATOMIC_RELAXED);
		free(g);
		return DD_E_IO;
	}
	g->bs = s3_of(b);
	g->wfd = sv[1];
	g->refs = 2;
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cv, NULL);
	pthread_t t;
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&at, 512 * 1024);
	if (pthread_create(&t, &at, getter_run, g)) {
		__atomic_fetch_sub(&streams_live, 1, __ATOMIC_RELAXED);
		pthread_attr_destroy(&at);
		close(sv[0]);
		close(sv[1]);
		pthread_mutex_destroy(&g->mu);
		pthread_cond_destroy(&g->cv);
		free(g);
		return DD_E_IO;
	}
	pthread_attr_destroy(&at);
	pthread_mutex_lock(&g->mu);
	while (!g->headed)
		pthread_cond_wait(&g->cv, &g->mu);
	long status = g->status;
	int64_t length = g->length;
	pthread_mutex_unlock(&g->mu);
	getter_unref(g);
	if ((status != 200 && status != 206) || length < 0 || (len >= 0 && length != len)) {
		close(sv[0]);
		return status == 404 ? DD_E_BLOB_UNKNOWN : DD_E_IO;
	}
	*fd = sv[0];
	*size = length;
	return 0;
}

static int s3_blob_open_fd(struct blobstore *b, const char *digest, int *fd, int64_t *size)
{
	return open_stream(b, digest, 0, -1, fd, size);
}

static int s3_blob_stream(struct blobstore *b, const char *digest, int64_t off, int64_t len, int *fd)
{
	int64_t size;
	return open_stream(b, digest, off, len, fd, &size);
}

static int s3_blob_remove(struct blobstore *b, const char *digest)
{
	char key[300];
	int rc = blob_key(digest, key, sizeof(key));
	if (!rc)
		rc = simple(s3_of(b), "DELETE", key, NULL, 0);
	return rc == DD_E_NOT_FOUND ? 0 : rc;
}

static char *s3_blob_url(struct blobstore *b, const char *digest, long expires)
{
	char key[300];
	if (blob_key(digest, key, sizeof(key)))
		return NULL;
	return s3_presign_get(s3_of(b)->s3, key, util_now(), expires);
}

struct each_blob {
	void (*fn)(void *ctx, const char *digest, int64_t mtime);
	void *ctx;
};

static int each_blob(void *ctx, const char *key, int64_t size, int64_t mtime)
{
	(void)size;
	struct each_blob *e = ctx;
	const char *alg = key + strlen("blobs/");
	const char *slash = strchr(alg, '/');
	char dg[DD_MAX_DIGEST_BYTES + 1];
	struct digest d;
	const char *why;
	if (!slash)
		return 0;
	int n = snprintf(dg, sizeof(dg), "%.*s:%s", (int)(slash - alg), alg, slash + 1);
	if (n > 0 && (size_t)n < sizeof(dg) && !digest_parse(dg, (size_t)n, &d, &why))
		e->fn(e->ctx, d.str, mtime);
	return 0;
}

static int s3_blobs_each(struct blobstore *b, void (*fn)(void *ctx, const char *digest, int64_t mtime), void *ctx)
{
	struct each_blob e = {fn, ctx};
	return list_each(s3_of(b), "blobs/", each_blob, &e);
}

static int s3_gc_lock(struct blobstore *b, int exclusive, int *token)
{
	const char *p = s3_of(b)->lock_path;
	int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		log_error("cannot open '%s': %s", p, strerror(errno));
		return DD_E_IO;
	}
	while (flock(fd, exclusive ? LOCK_EX : LOCK_SH)) {
		if (errno != EINTR) {
			close(fd);
			return DD_E_IO;
		}
	}
	*token = fd;
	return 0;
}

static void s3_gc_unlock(struct blobstore *b, int token)
{
	(void)b;
	close(token);
}

static void s3_store_free(struct blobstore *b)
{
	struct blobstore_s3 *bs = s3_of(b);
	s3_free(bs->s3);
	free(bs->lock_path);
	free(bs);
}

static const struct blobstore_ops s3_ops = {
	.upload_open = s3_upload_open,
	.upload_write = s3_upload_write,
	.upload_sync = s3_upload_sync,
	.upload_truncate = s3_upload_truncate,
	.upload_read = s3_upload_read,
	.upload_open_fd = s3_upload_open_fd,
	.upload_digest = s3_upload_digest,
	.upload_commit = s3_upload_commit,
	.upload_close = s3_upload_close,
	.upload_remove = s3_upload_remove,
	.uploads_each_older = s3_uploads_each_older,
	.blob_stat = s3_blob_stat,
	.blob_open_fd = s3_blob_open_fd,
	.blob_remove = s3_blob_remove,
	.blob_url = s3_blob_url,
	.blob_stream = s3_blob_stream,
	.blobs_each = s3_blobs_each,
	.gc_lock = s3_gc_lock,
	.gc_unlock = s3_gc_unlock,
	.free = s3_store_free,
};

int blobstore_s3_open(const struct s3_config *c, const char *lock_dir, struct blobstore **out, const char **why)
{
	*out = NULL;
	struct blobstore_s3 *bs = calloc(1, sizeof(*bs));
	if (!bs)
		return DD_E_NOMEM;
	int rc = s3_open(c, &bs->s3, why);
	if (rc) {
		free(bs);
		return rc;
	}
	struct buf p;
	buf_init(&p, PATH_MAX);
	buf_printf(&p, "%s/gc.lock", lock_dir);
	bs->lock_path = p.data;
	bs->base.ops = &s3_ops;
	/* the bucket must answer: a wrong endpoint, key or bucket is named at start */
	const char *q[] = {"list-type", "2", "max-keys", "1", NULL};
	struct s3_req sq = {.method = "GET", .key = "", .query = q};
	struct s3_resp r = {0};
	rc = bs->lock_path ? s3_do(bs->s3, &sq, &r) : DD_E_NOMEM;
	if (!rc && r.status == 404 && strstr(r.error, "NoSuchBucket")) { /* made on first start, as the data directory is */
		struct s3_req cq = {.method = "PUT", .key = ""};
		rc = s3_do(bs->s3, &cq, &r);
	}
	if (!rc && (r.status < 200 || r.status >= 300)) {
		static __thread char msg[320];
		snprintf(msg, sizeof(msg), "S3 bucket cannot be used: %s", r.error);
		*why = msg;
		rc = DD_E_CONFIG;
	} else if (rc && rc != DD_E_NOMEM) {
		static __thread char msg2[320];
		snprintf(msg2, sizeof(msg2), "S3 endpoint does not answer: %s", r.error);
		*why = msg2;
	}
	buf_release(&r.body);
	if (rc) {
		s3_store_free(&bs->base);
		return rc;
	}
	*out = &bs->base;
	return 0;
}
