/* blobstore_s3.c: the S3 blob store.
 *
 * Keys: blobs/<alg>/<hex> for blobs; for an upload, the multipart upload uploads/<id>/data and
 * tail objects uploads/<id>/tail.<total>[.<hex of the multipart upload's id>]. An upload is a
 * multipart upload of DD_S3_PART_BYTES parts, made when its first part is full, plus a tail:
 * the bytes after the last whole part, written each time the upload is made durable
 * (upload_sync, the end of each PATCH), its name giving the total and the one multipart upload
 * whose parts come before it. So the acknowledged state of an upload is in S3 alone and any
 * process can carry it on: it lists the tails, takes the largest total, reads that tail and
 * lists the parts of the multipart upload it names (never another: a cut-off request's parts
 * cannot slip in). The tail synced before is kept too, so an upload can be cut back one step
 * (to the offset the metadata acknowledged, when a process died between the two); a cut-back
 * deletes the tails beyond it. Opening only reads, as a status GET opens without the lock.
 *
 * Parts of an incomplete multipart upload cannot be read back, so upload_read is unsupported:
 * a process that did not see an upload's first bytes checks its digest at the end by
 * completing it into uploads/<id>/data and reading that (upload_digest). If the digest is
 * wrong, or the process dies before its commit, the parts are copied back out of that object
 * into a new multipart upload (reopen) before the upload is written again. Otherwise a blob is
 * written once: one PUT when it fits a part, else the multipart upload is completed, copied to
 * its key and removed. The digest is always checked before a blob key is written, so a blob is
 * never visible half-written or wrong.
 *
 * Readers get a socket that a thread fills from a GET as it streams (no local copy). The
 * garbage collector's lock is a local flock, or, when other nodes share the metadata (PostgreSQL),
 * the metadata's lock across every node (blobstore_s3_share_lock). */
#include "common/dd.h"
#include "blobstore.h"
#include "meta.h"
#include "s3.h"
#include "common/digest.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/util.h"
#include <poll.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>

struct blobstore_s3 {
	struct blobstore base;
	struct s3 *s3;
	char *lock_path;
	struct meta *lock_meta; /* its lock instead of the file's, when other nodes share the bucket */
	long per_client; /* a client address's streams at once; 0: no cap */
	int64_t mem_limit; /* bytes all uploads' buffers may hold at once */
	int64_t mem_used;  /* atomic */
	/* what each account's uploads hold of it (upload_owner): at most share_limit, so that one
	 * account stalling many uploads leaves room for the others */
	int64_t share_limit;
	pthread_mutex_t shares_mu;
	struct share *shares; /* the accounts with an upload open */
};

struct share {
	struct share *next;
	int64_t used; /* bytes of buffers its uploads hold */
	int refs;     /* its uploads open */
	char owner[];
};

/* ---- uploads ---- */

/* A tail object: uploads/<id>/tail.<total>, or uploads/<id>/tail.<total>.<hex of the multipart
 * upload's id>.<sum of its parts' ETags> when the bytes before the tail are parts of that
 * multipart upload. Naming the multipart upload binds the two: a request cut off, or a second
 * multipart upload made for the same key, can never lend its parts to the upload's acknowledged
 * state. The sum (etags_sum) binds the parts themselves: a part written again after the tail
 * (by a request that wrote the session while another had it: a hold across the nodes lost
 * mid-request) is found when the upload is opened, and the upload refused, never completed with
 * other bytes than those acknowledged. A tail named before the sum was (no second dot) is
 * taken without it. */
#define TAIL_KEY_MAX 1240
struct tail {
	int64_t total, mtime;
	char key[TAIL_KEY_MAX];
};

struct upload_file {
	struct blobstore_s3 *bs;
	char id[128];
	char mpu[512];   /* the multipart upload holding parts 1..nparts, "" while none */
	int nparts;      /* whole parts in it */
	char sum[17];    /* the sum of their ETags the tail loaded names, "" for none */
	char (*etags)[130];
	int etags_cap;
	char *buf;       /* the tail: bytes after the whole parts */
	size_t len, cap; /* cap grows with len, up to a part */
	int64_t charged; /* bytes of buffers it holds, counted against the store's upload memory */
	int completed;   /* mpu was completed into uploads/<id>/data: its parts are in that object now */
	int64_t done_total; /* the upload's bytes when this process completed it (all in that object);
			     * 0 when found completed at open (the object may hold other bytes) */
	int synced;      /* this state is the one tail `cur` holds */
	struct tail *tails; /* the tail objects known to be in S3, the one synced to last among them */
	int ntails, tails_cap;
	int cur;         /* index of that one in tails, -1 when none */
	/* the part going up while the next fills (one at a time): its thread, buffer and result */
	struct {
		pthread_t t;
		int active, num, rc;
		char *buf;
		size_t n;
	} fly;
	char *spare;     /* the buffer the next part fills once the flying one is back */
	/* For the scanner, which reads a layer while it uploads (upload_open_fd): a copy of the
	 * bytes in memory (a memfd) that the reader gives back as it reads them (holes punched),
	 * dropped when the reader falls more than DD_MAX_S3_MIRROR_BYTES behind. */
	int mirror_on, mirror;
	int64_t mirror_len, mirror_checked;
	int64_t mirror_charged; /* its resident bytes when last looked at, counted as buffers are */
	struct share *share; /* its account's, once named (upload_owner) */
};

#define MAX_TAILS 256 /* tail objects of one upload (two, but for cut-offs between syncs) */

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

/* A request whose answer must be one of the 2xx codes; others are logged and DD_E_IO
 * (DD_E_NOT_FOUND for 404). */
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

/* An error S3 may send in a 200 answer to a copy or a completion. */
static int error_in(const char *what, const char *key, struct s3_resp *r)
{
	if (r->body.data && strstr(r->body.data, "<Error>")) {
		log_error("S3 %s of %s failed: %s", what, key, r->body.data);
		return DD_E_IO;
	}
	return 0;
}

static void data_key(const struct upload_file *u, char *out, size_t cap)
{
	key_printf(out, cap, "uploads/%s/data", u->id);
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


/* ---- the multipart uploads of an upload ---- */

/* Calls fn with every multipart upload under prefix: its key, upload id and start (unix
 * seconds); a nonzero return stops. Every page of the listing. */
static int mpus_list(struct blobstore_s3 *bs, const char *prefix,
		     int (*fn)(void *ctx, const char *key, const char *mpu, int64_t started), void *ctx)
{
	char kmark[1100] = "", umark[512] = "";
	for (;;) {
		const char *q[] = {"uploads", NULL, "prefix", prefix, "key-marker", kmark, "upload-id-marker", umark, NULL};
		struct s3_req sq = {.method = "GET", .key = "", .query = q, .body_cap = 16 << 20};
		struct s3_resp r = {0};
		int rc = req(bs, &sq, &r);
		const char *pos = r.body.data ? r.body.data : "", *a, *b;
		while (!rc && !s3_xml_next(&pos, "Upload", &a, &b)) {
			char *item = strndup(a, (size_t)(b - a)), k[1100], mpu[512], init[64];
			struct tm tm = {0};
			int64_t t = 0;
			if (item && !s3_xml_text(item, "Key", k, sizeof(k)) && !s3_xml_text(item, "UploadId", mpu, sizeof(mpu))) {
				if (!s3_xml_text(item, "Initiated", init, sizeof(init)) && strptime(init, "%Y-%m-%dT%H:%M:%S", &tm))
					t = (int64_t)timegm(&tm);
				rc = fn(ctx, k, mpu, t);
			}
			free(item);
		}
		char trunc[16] = "";
		s3_xml_text(r.body.data ? r.body.data : "", "IsTruncated", trunc, sizeof(trunc));
		int more = !rc && !strcmp(trunc, "true") &&
			   !s3_xml_text(r.body.data, "NextKeyMarker", kmark, sizeof(kmark)) &&
			   !s3_xml_text(r.body.data, "NextUploadIdMarker", umark, sizeof(umark));
		buf_release(&r.body);
		if (!more)
			return rc;
	}
}

static int abort_mpu(struct blobstore_s3 *bs, const char *id, const char *mpu)
{
	char key[256];
	const char *q[] = {"uploadId", mpu, NULL};
	struct s3_req sq = {.method = "DELETE", .key = key_printf(key, sizeof(key), "uploads/%s/data", id), .query = q};
	struct s3_resp r = {0};
	int rc = req(bs, &sq, &r);
	buf_release(&r.body);
	return rc == DD_E_NOT_FOUND ? 0 : rc; /* gone already */
}

struct abort_ctx {
	struct blobstore_s3 *bs;
	const char *id;
	int rc;
};

static int abort_each(void *ctx, const char *key, const char *mpu, int64_t started)
{
	(void)started;
	struct abort_ctx *a = ctx;
	char want[256];
	if (!strcmp(key, key_printf(want, sizeof(want), "uploads/%s/data", a->id))) {
		int rc = abort_mpu(a->bs, a->id, mpu);
		a->rc = a->rc ? a->rc : rc;
	}
	return 0;
}

/* Aborts every multipart upload of uploads/<id>/data (normally one; a cut-off request or a
 * reopened upload can leave others, which nothing names). */
static int abort_all(struct blobstore_s3 *bs, const char *id)
{
	char key[256];
	struct abort_ctx a = {bs, id, 0};
	int rc = mpus_list(bs, key_printf(key, sizeof(key), "uploads/%s/data", id), abort_each, &a);
	return rc ? rc : a.rc;
}

/* The ETags of parts 1..need of u->mpu. DD_E_NOT_FOUND when the multipart upload is gone. */
static int load_parts(struct upload_file *u, int need)
{
	char key[256];
	data_key(u, key, sizeof(key));
	free(u->etags);
	u->etags_cap = 0;
	if (!(u->etags = calloc((size_t)(need ? need : 1), sizeof(*u->etags))))
		return DD_E_NOMEM;
	u->etags_cap = need ? need : 1;
	char marker[16] = "0";
	int found = 0, rc;
	struct s3_resp r = {0};
	for (;;) {
		const char *pq[] = {"uploadId", u->mpu, "part-number-marker", marker, NULL};
		struct s3_req pr = {.method = "GET", .key = key, .query = pq, .body_cap = 16 << 20};
		if ((rc = req(u->bs, &pr, &r)))
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
				if (n >= 1 && n <= need && strtoll(size, NULL, 10) == DD_S3_PART_BYTES && !u->etags[n - 1][0]) {
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

static int ensure_mpu(struct upload_file *u)
{
	if (u->mpu[0])
		return 0;
	char key[256];
	data_key(u, key, sizeof(key));
	const char *q[] = {"uploads", NULL, NULL};
	struct s3_req sq = {.method = "POST", .key = key, .query = q};
	struct s3_resp r = {0};
	int rc = req(u->bs, &sq, &r);
	if (!rc && s3_xml_text(r.body.data ? r.body.data : "", "UploadId", u->mpu, sizeof(u->mpu))) {
		log_error("upload '%s': S3 answered no UploadId", u->id);
		u->mpu[0] = 0;
		rc = DD_E_IO;
	}
	buf_release(&r.body);
	return rc;
}

/* Makes the multipart upload and room for part `num`'s ETag: before a part goes up (in this
 * thread: the part's own thread touches neither). */
static int part_prepare(struct upload_file *u, int num)
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
	return 0;
}

/* Uploads buf[0, n) as part number `num` (part_prepare ran). */
static int put_part(struct upload_file *u, int num, const char *buf, size_t n)
{
	char key[256], pn[16];
	data_key(u, key, sizeof(key));
	snprintf(pn, sizeof(pn), "%d", num);
	const char *q[] = {"partNumber", pn, "uploadId", u->mpu, NULL};
	struct s3_req sq = {.method = "PUT", .key = key, .query = q, .body = buf, .body_len = n, .unsigned_payload = 1};
	struct s3_resp r = {0};
	int rc = req(u->bs, &sq, &r);
	if (!rc && !r.etag[0]) {
		log_error("upload '%s': S3 answered part %d with no ETag", u->id, num);
		rc = DD_E_IO;
	}
	if (!rc)
		snprintf(u->etags[num - 1], sizeof(u->etags[0]), "%s", r.etag);
	buf_release(&r.body);
	return rc;
}

static int tail_add(struct upload_file *u, const char *key, int64_t total, int64_t mtime);
static void tail_key(const struct upload_file *u, char *out, size_t cap);

/* A reopened upload's state written at once as a tail naming the new multipart upload, and the
 * tails of the same total that name the completed one deleted: the copy is not done again, and
 * no two tails of one total are left to choose between. */
static int reopen_durable(struct upload_file *u)
{
	char key[TAIL_KEY_MAX];
	tail_key(u, key, sizeof(key));
	int rc = simple(u->bs, "PUT", key, u->buf ? u->buf : "", u->len);
	int n = 0;
	for (int k = 0; !rc && k < u->ntails; k++) {
		if (u->tails[k].total == total_of(u) && strcmp(u->tails[k].key, key)) {
			int d = simple(u->bs, "DELETE", u->tails[k].key, NULL, 0);
			if (d && d != DD_E_NOT_FOUND)
				rc = d;
			continue;
		}
		u->tails[n++] = u->tails[k];
	}
	if (rc)
		return rc;
	u->ntails = n;
	if ((rc = tail_add(u, key, total_of(u), util_now())))
		return rc;
	u->cur = u->ntails - 1;
	u->synced = 1;
	return 0;
}

/* The parts of a completed upload (their bytes in uploads/<id>/data) copied out into a new
 * multipart upload, inside S3, so that the upload can go on after upload_digest completed it
 * (its digest did not match, or the process died before its commit). A new multipart upload
 * left half-copied is aborted. */
static int reopen(struct upload_file *u)
{
	char key[256], src[600], pn[16], range[64];
	data_key(u, key, sizeof(key));
	snprintf(src, sizeof(src), "/%s/%s", s3_bucket(u->bs->s3), key);
	u->mpu[0] = 0;
	int rc = u->nparts ? ensure_mpu(u) : 0;
	if (!rc && u->nparts > u->etags_cap) {
		char(*e)[130] = realloc(u->etags, (size_t)u->nparts * sizeof(*e));
		if (!e)
			rc = DD_E_NOMEM;
		else {
			u->etags = e;
			u->etags_cap = u->nparts;
		}
	}
	for (int i = 1; !rc && i <= u->nparts; i++) {
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
	if (rc && u->mpu[0]) {
		abort_mpu(u->bs, u->id, u->mpu);
		u->mpu[0] = 0;
	}
	if (!rc) {
		u->completed = 0;
		u->done_total = 0;
		u->synced = 0;
		rc = reopen_durable(u);
	}
	return rc;
}

/* ---- tails ---- */

static void hex_encode(const char *s, char *out, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p && n + 2 < cap; p++) {
		out[n++] = hex[*p >> 4];
		out[n++] = hex[*p & 15];
	}
	out[n] = 0;
}

static int hex_decode(const char *s, char *out, size_t cap)
{
	size_t n = strlen(s), k = 0;
	if (n % 2 || n / 2 >= cap)
		return -1;
	for (size_t i = 0; i < n; i += 2) {
		int hi = isdigit((unsigned char)s[i]) ? s[i] - '0' : s[i] >= 'a' && s[i] <= 'f' ? s[i] - 'a' + 10 : -1;
		int lo = isdigit((unsigned char)s[i + 1]) ? s[i + 1] - '0'
							    : s[i + 1] >= 'a' && s[i + 1] <= 'f' ? s[i + 1] - 'a' + 10 : -1;
		if (hi < 0 || lo < 0)
			return -1;
		out[k++] = (char)(hi * 16 + lo);
	}
	out[k] = 0;
	return 0;
}

/* 16 hex digits of the SHA-256 of the ETags of parts 1..n, their hex digits only (S3 quotes an
 * ETag one way in a header and another in XML). */
static void etags_sum(const struct upload_file *u, int n, char out[17])
{
	struct hasher *h = hasher_new(DIGEST_SHA256);
	struct digest d = {0};
	for (int i = 0; h && i < n; i++) {
		for (const char *c = u->etags[i]; *c; c++)
			if (isxdigit((unsigned char)*c)) {
				char low = (char)tolower((unsigned char)*c);
				hasher_update(h, &low, 1);
			}
		hasher_update(h, "\n", 1);
	}
	if (h)
		hasher_peek(h, &d);
	hasher_free(h);
	snprintf(out, 17, "%.16s", h ? d.str + strlen("sha256:") : "0000000000000000");
}

/* The tail key of u's present state. */
static void tail_key(const struct upload_file *u, char *out, size_t cap)
{
	char hex[1030], sum[17];
	hex_encode(u->mpu, hex, sizeof(hex));
	if (u->nparts) {
		etags_sum(u, u->nparts, sum);
		key_printf(out, cap, "uploads/%s/tail.%" PRId64 ".%s.%s", u->id, total_of(u), hex, sum);
	} else
		key_printf(out, cap, "uploads/%s/tail.%" PRId64, u->id, total_of(u));
}

static int tail_add(struct upload_file *u, const char *key, int64_t total, int64_t mtime)
{
	if (u->ntails == u->tails_cap) {
		if (u->ntails >= MAX_TAILS) {
			log_error("upload '%s': more than %d tail objects", u->id, MAX_TAILS);
			return DD_E_IO;
		}
		int cap = u->tails_cap ? u->tails_cap * 2 : 4;
		struct tail *t = realloc(u->tails, (size_t)cap * sizeof(*t));
		if (!t)
			return DD_E_NOMEM;
		u->tails = t;
		u->tails_cap = cap;
	}
	struct tail *t = &u->tails[u->ntails++];
	t->total = total;
	t->mtime = mtime;
	snprintf(t->key, sizeof(t->key), "%s", key);
	return 0;
}

static int collect_tail(void *ctx, const char *key, int64_t size, int64_t mtime)
{
	(void)size;
	struct upload_file *u = ctx;
	const char *slash = strrchr(key, '/');
	char *end;
	if (!slash || strncmp(slash + 1, "tail.", 5) || !isdigit((unsigned char)slash[6]))
		return 0;
	long long v = strtoll(slash + 6, &end, 10);
	if (v < 0 || (*end && *end != '.'))
		return 0;
	return tail_add(u, key, v, mtime);
}

static int buf_reserve(struct upload_file *u, size_t need);

/* Loads tail i: the bytes after the whole parts into u->buf, the parts' count and multipart
 * upload from its name. */
static int load_tail(struct upload_file *u, int i)
{
	const struct tail *t = &u->tails[i];
	const char *dot = strchr(strrchr(t->key, '/') + 6, '.'), *dot2 = dot ? strchr(dot + 1, '.') : NULL;
	char mpu[sizeof(u->mpu)] = "", hex[1030] = "";
	if (dot)
		snprintf(hex, sizeof(hex), "%.*s", (int)(dot2 ? (size_t)(dot2 - dot - 1) : strlen(dot + 1)), dot + 1);
	if ((dot && hex_decode(hex, mpu, sizeof(mpu))) || (dot2 && strlen(dot2 + 1) != 16)) {
		log_error("upload '%s': tail '%s' names no multipart upload", u->id, t->key);
		return DD_E_IO;
	}
	struct s3_req q = {.method = "GET", .key = t->key, .body_cap = DD_S3_PART_BYTES};
	struct s3_resp r = {0};
	int rc = req(u->bs, &q, &r);
	int64_t rest = t->total - (int64_t)r.body.len;
	if (!rc && (rest < 0 || rest % DD_S3_PART_BYTES || (rest > 0) != (mpu[0] != 0))) {
		log_error("upload '%s': tail of %zu bytes does not fit a total of %" PRId64, u->id, r.body.len, t->total);
		rc = DD_E_IO;
	}
	if (!rc)
		rc = buf_reserve(u, r.body.len ? r.body.len : 1);
	if (!rc) {
		if (r.body.len)
			memcpy(u->buf, r.body.data, r.body.len);
		u->len = r.body.len;
		u->nparts = (int)(rest / DD_S3_PART_BYTES);
		snprintf(u->mpu, sizeof(u->mpu), "%s", mpu);
		snprintf(u->sum, sizeof(u->sum), "%s", dot2 ? dot2 + 1 : "");
		u->cur = i;
		u->synced = 1;
		u->completed = 0;
		u->done_total = 0;
	}
	buf_release(&r.body);
	return rc;
}

/* After load_tail: the parts' ETags, or (the multipart upload gone, its bytes in the data
 * object) completed, reopened when the upload is next written. */
static int load_state_parts(struct upload_file *u)
{
	if (!u->nparts)
		return 0;
	int rc = load_parts(u, u->nparts);
	char sum[17];
	if (!rc && *u->sum && (etags_sum(u, u->nparts, sum), strcmp(sum, u->sum))) {
		log_error("upload '%s': its parts were written again after they were acknowledged (by a request that"
			  " had lost the session to another): refused, not completed with other bytes", u->id);
		return DD_E_IO;
	}
	if (rc != DD_E_NOT_FOUND)
		return rc;
	char key[256];
	data_key(u, key, sizeof(key));
	struct s3_req hq = {.method = "HEAD", .key = key};
	struct s3_resp hr = {0};
	rc = req(u->bs, &hq, &hr);
	buf_release(&hr.body);
	if (!rc && hr.length >= (int64_t)u->nparts * DD_S3_PART_BYTES) {
		u->completed = 1;
		return 0;
	}
	log_error("upload '%s': its parts are gone from S3", u->id);
	return DD_E_IO;
}

/* The newest tail with this total, or -1. */
static int tail_find(const struct upload_file *u, int64_t total)
{
	int best = -1;
	for (int i = 0; i < u->ntails; i++)
		if (u->tails[i].total == total && (best < 0 || u->tails[i].mtime >= u->tails[best].mtime))
			best = i;
	return best;
}

/* Deletes every known tail but those at indexes keep1 and keep2 (-1: none). */
static void tails_prune(struct upload_file *u, int keep1, int keep2)
{
	int n = 0;
	for (int i = 0; i < u->ntails; i++) {
		if (i == keep1 || i == keep2) {
			if (i == u->cur)
				u->cur = n;
			u->tails[n++] = u->tails[i];
		} else
			simple(u->bs, "DELETE", u->tails[i].key, NULL, 0);
	}
	u->ntails = n;
}

/* ---- the upload operations ---- */

/* Gives n bytes back to the account's share. */
static void uncharge_share(struct upload_file *u, int64_t n)
{
	if (!u->share)
		return;
	pthread_mutex_lock(&u->bs->shares_mu);
	u->share->used -= n;
	pthread_mutex_unlock(&u->bs->shares_mu);
}

/* Counts n more bytes of buffers against the store's upload memory: 0, or DD_E_UNAVAILABLE
 * (503) when clients hold it all already (stalled mid-part, each up to two parts). */
static int charge_as(struct upload_file *u, int64_t n, int quiet)
{
	struct blobstore_s3 *bs = u->bs;
	if (u->share) { /* the account's share first: its own stalls cannot take the others' room */
		pthread_mutex_lock(&bs->shares_mu);
		int over = u->share->used + n > bs->share_limit;
		if (!over)
			u->share->used += n;
		pthread_mutex_unlock(&bs->shares_mu);
		if (over) {
			if (!quiet)
				log_warn("uploads to S3 of '%s' hold its share of s3-upload-memory (%" PRId64
					 " bytes): one more part refused",
					 u->share->owner, bs->share_limit);
			return DD_E_UNAVAILABLE;
		}
	}
	if (__atomic_add_fetch(&bs->mem_used, n, __ATOMIC_RELAXED) > bs->mem_limit) {
		__atomic_fetch_sub(&bs->mem_used, n, __ATOMIC_RELAXED);
		uncharge_share(u, n);
		if (!quiet)
			log_warn("uploads to S3 hold %" PRId64 " bytes of buffers (s3-upload-memory): one more part refused",
				 bs->mem_limit);
		return DD_E_UNAVAILABLE;
	}
	u->charged += n;
	return 0;
}

static int charge(struct upload_file *u, int64_t n) { return charge_as(u, n, 0); }

/* Gives n bytes charged back. */
static void uncharge(struct upload_file *u, int64_t n)
{
	__atomic_fetch_sub(&u->bs->mem_used, n, __ATOMIC_RELAXED);
	uncharge_share(u, n);
	u->charged -= n;
}

static void mirror_stop(struct upload_file *u)
{
	if (u->mirror_on)
		close(u->mirror);
	u->mirror_on = 0;
	uncharge(u, u->mirror_charged);
	u->mirror_charged = 0;
}

/* The copy dropped while its reader may still hold it (its own descriptor of the same memory):
 * emptied first, so what the reader had not read is given back now, not once the reader got
 * through it uncounted (a slow layer held 17 MiB past s3-upload-memory for seconds); the reader
 * finds its bytes end short and gives up, and the scan reads the blob from S3 once committed. */
static void mirror_drop(struct upload_file *u)
{
	if (u->mirror_on && ftruncate(u->mirror, 0))
		log_warn("upload '%s': cannot empty its copy for the scanner: %s", u->id, strerror(errno));
	if (u->mirror_on)
		s3_copy_dropped();
	mirror_stop(u);
}

/* Counts n more bytes of an upload's own buffers: its copy for the scanner gives way to them
 * first (dropped: the push goes on, its scan reads the blob from S3 once committed), so a
 * reader behind never makes a push that fits in the share fail. */
static int charge_buffers(struct upload_file *u, int64_t n)
{
	if (!u->mirror_charged)
		return charge(u, n);
	if (!charge_as(u, n, 1))
		return 0;
	mirror_drop(u);
	return charge(u, n);
}

/* Names the account an upload is for (the registry's session owner): from here on its buffers
 * count against that account's share too. DD_E_UNAVAILABLE when the share is taken already
 * (what the upload holds does not fit in it), so the request is refused before its body. */
static int s3_upload_owner(struct upload_file *u, const char *owner)
{
	struct blobstore_s3 *bs = u->bs;
	if (u->share || !owner)
		return 0;
	int rc = 0;
	pthread_mutex_lock(&bs->shares_mu);
	struct share *sh = bs->shares;
	while (sh && strcmp(sh->owner, owner))
		sh = sh->next;
	if (sh && (sh->used + u->charged > bs->share_limit || (!u->charged && sh->used >= bs->share_limit))) {
		rc = DD_E_UNAVAILABLE;
	} else if (!sh && !(sh = calloc(1, sizeof(*sh) + strlen(owner) + 1))) {
		rc = DD_E_NOMEM;
	} else {
		if (!sh->refs) {
			memcpy(sh->owner, owner, strlen(owner) + 1);
			sh->next = bs->shares;
			bs->shares = sh;
		}
		sh->refs++;
		sh->used += u->charged;
		u->share = sh;
	}
	pthread_mutex_unlock(&bs->shares_mu);
	if (rc == DD_E_UNAVAILABLE)
		log_warn("uploads to S3 of '%s' hold its share of s3-upload-memory (%" PRId64 " bytes): one more refused",
			 owner, bs->share_limit);
	return rc;
}

/* Room in u->buf for `need` bytes (at most a part), grown by doubling from 64 KiB: a small
 * blob never holds a whole part. */
static int buf_reserve(struct upload_file *u, size_t need)
{
	if (need <= u->cap && u->buf)
		return 0;
	size_t cap = u->cap ? u->cap : 64 * 1024;
	while (cap < need)
		cap *= 2;
	if (cap > DD_S3_PART_BYTES)
		cap = DD_S3_PART_BYTES;
	int rc = charge_buffers(u, (int64_t)(cap - u->cap));
	if (rc)
		return rc;
	char *b = realloc(u->buf, cap);
	if (!b) {
		__atomic_fetch_sub(&u->bs->mem_used, (int64_t)(cap - u->cap), __ATOMIC_RELAXED);
		uncharge_share(u, (int64_t)(cap - u->cap));
		u->charged -= (int64_t)(cap - u->cap);
		return DD_E_NOMEM;
	}
	u->buf = b;
	u->cap = cap;
	return 0;
}

static void upload_free(struct upload_file *u)
{
	mirror_stop(u);
	__atomic_fetch_sub(&u->bs->mem_used, u->charged, __ATOMIC_RELAXED);
	if (u->share) { /* the account's share, forgotten with its last upload */
		struct blobstore_s3 *bs = u->bs;
		pthread_mutex_lock(&bs->shares_mu);
		u->share->used -= u->charged;
		if (!--u->share->refs) {
			struct share **pp = &bs->shares;
			while (*pp != u->share)
				pp = &(*pp)->next;
			*pp = u->share->next;
			free(u->share);
		}
		pthread_mutex_unlock(&bs->shares_mu);
	}
	free(u->buf);
	free(u->spare);
	free(u->etags);
	free(u->tails);
	free(u);
}

static int s3_upload_open(struct blobstore *b, const char *id, int create, struct upload_file **out, int64_t *size)
{
	struct blobstore_s3 *bs = s3_of(b);
	*out = NULL;
	*size = 0;
	struct upload_file *u = calloc(1, sizeof(*u));
	if (!u)
		return DD_E_NOMEM;
	u->bs = bs;
	u->cur = -1;
	snprintf(u->id, sizeof(u->id), "%s", id);
	char key[256];
	int rc;
	if (create) {
		key_printf(key, sizeof(key), "uploads/%s/tail.0", id);
		if (!(rc = simple(bs, "PUT", key, NULL, 0)) && !(rc = tail_add(u, key, 0, util_now()))) {
			u->cur = 0;
			u->synced = 1;
		}
	} else { /* reads only: a status GET opens it too, without the session's lock */
		rc = list_each(bs, key_printf(key, sizeof(key), "uploads/%s/", id), collect_tail, u);
		if (!rc && !u->ntails)
			rc = DD_E_BLOB_UPLOAD_UNKNOWN;
		int top = 0;
		for (int i = 1; !rc && i < u->ntails; i++)
			if (u->tails[i].total > u->tails[top].total ||
			    (u->tails[i].total == u->tails[top].total && u->tails[i].mtime > u->tails[top].mtime))
				top = i;
		if (!rc)
			rc = load_tail(u, top);
		if (!rc)
			rc = load_state_parts(u);
	}
	if (rc) {
		upload_free(u);
		return rc;
	}
	*size = total_of(u);
	*out = u;
	return 0;
}

static void *part_run(void *arg)
{
	struct upload_file *u = arg;
	u->fly.rc = put_part(u, u->fly.num, u->fly.buf, u->fly.n);
	return NULL;
}

/* Waits for the part going up, if any: its result. Its buffer becomes the spare. */
static int part_wait(struct upload_file *u)
{
	if (!u->fly.active)
		return 0;
	pthread_join(u->fly.t, NULL);
	u->fly.active = 0;
	u->spare = u->fly.buf;
	u->fly.buf = NULL;
	return u->fly.rc;
}

/* Sends the full buffer as part nparts + 1 while the next fills the spare (a push's bytes keep
 * coming while S3 takes the last 8 MiB). An error comes back here, at the next part, or at the
 * sync or commit that waits for it. */
static int part_send(struct upload_file *u)
{
	int rc = part_wait(u);
	if (!rc)
		rc = part_prepare(u, u->nparts + 1);
	if (!rc && !u->spare && !(rc = charge_buffers(u, DD_S3_PART_BYTES)) && !(u->spare = malloc(DD_S3_PART_BYTES)))
		rc = DD_E_NOMEM; /* (the charge stays: it goes with the upload) */
	if (rc)
		return rc;
	u->fly.buf = u->buf;
	u->fly.n = u->len;
	u->fly.num = u->nparts + 1;
	u->buf = u->spare;
	u->spare = NULL;
	u->cap = DD_S3_PART_BYTES;
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setstacksize(&at, 512 * 1024);
	if (pthread_create(&u->fly.t, &at, part_run, u)) { /* no thread: sent from here */
		pthread_attr_destroy(&at);
		rc = put_part(u, u->fly.num, u->fly.buf, u->fly.n);
		u->spare = u->buf;
		u->buf = u->fly.buf;
		u->fly.buf = NULL;
		return rc;
	}
	pthread_attr_destroy(&at);
	u->fly.active = 1;
	return 0;
}

/* Appends to the mirror, or drops it: its reader stopped reading (or is far behind: it then
 * finds the bytes end short, gives up, and the scan reads the blob from S3 once committed). What
 * it holds that its reader has not given back counts against s3-upload-memory and the client's
 * share as the buffers do, looked at every MiB: when that does not fit, it is dropped too (the
 * push goes on; its scan reads the blob from S3), so many uploads nobody reads yet cannot each
 * keep 64 MiB in memory. */
static void mirror_write(struct upload_file *u, const void *p, size_t n)
{
	if (!u->mirror_on)
		return;
	const char *c = p;
	while (n) {
		ssize_t w = pwrite(u->mirror, c, n, (off_t)u->mirror_len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			mirror_drop(u);
			return;
		}
		c += w;
		n -= (size_t)w;
		u->mirror_len += w;
	}
	struct stat st;
	if (u->mirror_len - u->mirror_checked >= DD_S3_MIRROR_CHECK_BYTES || !u->mirror_checked) {
		u->mirror_checked = u->mirror_len;
		int64_t resident = fstat(u->mirror, &st) ? -1 : (int64_t)st.st_blocks * 512;
		int64_t more = resident - u->mirror_charged;
		if (resident < 0 || resident > DD_MAX_S3_MIRROR_BYTES || (more > 0 && charge_as(u, more, 1))) {
			mirror_drop(u);
			return;
		}
		if (more < 0)
			uncharge(u, -more);
		u->mirror_charged = resident;
	}
}

static int s3_upload_write(struct upload_file *u, const void *p, size_t n)
{
	const char *c = p;
	mirror_write(u, p, n);
	int rc = u->completed ? reopen(u) : 0;
	if (rc)
		return rc;
	if (n)
		u->synced = 0;
	while (n) {
		size_t k = DD_S3_PART_BYTES - u->len < n ? DD_S3_PART_BYTES - u->len : n;
		if ((rc = buf_reserve(u, u->len + k)))
			return rc;
		memcpy(u->buf + u->len, c, k);
		u->len += k;
		c += k;
		n -= k;
		if (u->len == DD_S3_PART_BYTES) {
			if ((rc = part_send(u))) {
				u->len -= k; /* as if this write never happened (the caller cuts back) */
				return rc;
			}
			u->nparts++;
			u->len = 0;
		}
	}
	return 0;
}

/* Writes the present state as a tail object, and drops every tail but it and the one synced
 * before it (what a cut-back to the offset acknowledged before may need). */
static int s3_upload_sync(struct upload_file *u)
{
	int rc = part_wait(u);
	if (!rc && u->completed)
		rc = reopen(u);
	if (rc || u->synced)
		return rc;
	char key[TAIL_KEY_MAX];
	tail_key(u, key, sizeof(key));
	if ((rc = simple(u->bs, "PUT", key, u->buf, u->len)))
		return rc;
	int i = -1;
	for (int k = 0; k < u->ntails; k++)
		if (!strcmp(u->tails[k].key, key))
			i = k;
	if (i < 0) {
		if ((rc = tail_add(u, key, total_of(u), util_now())))
			return rc;
		i = u->ntails - 1;
	}
	int prev = u->cur;
	u->cur = i;
	u->synced = 1;
	tails_prune(u, i, prev);
	return 0;
}

/* Back to `size`, a total some tail holds (where the request found the upload, or the offset
 * the metadata acknowledged): the tails beyond it are dropped, so they can never be taken for
 * the upload's state again. */
static int s3_upload_truncate(struct upload_file *u, int64_t size)
{
	part_wait(u); /* cut back over it, whatever became of it */
	if (size != total_of(u))
		mirror_stop(u); /* its reader was ended before this cut (blobstore.h) */
	if (size == total_of(u) && u->synced)
		return 0;
	int i = tail_find(u, size);
	if (i < 0) {
		log_error("upload '%s': cannot cut back to %" PRId64 " bytes (no tail ends there)", u->id, size);
		return DD_E_IO;
	}
	int rc = load_tail(u, i);
	if (!rc)
		rc = load_state_parts(u);
	if (rc)
		return rc;
	int n = 0;
	for (int k = 0; k < u->ntails; k++) {
		if (u->tails[k].total > size) { /* never to be taken for the upload's state again */
			int d = simple(u->bs, "DELETE", u->tails[k].key, NULL, 0);
			if (d && d != DD_E_NOT_FOUND)
				rc = d;
			continue;
		}
		if (k == u->cur)
			u->cur = n;
		u->tails[n++] = u->tails[k];
	}
	u->ntails = n;
	return rc;
}

static int s3_upload_read(struct upload_file *u, int64_t off, void *p, size_t n, size_t *got)
{
	(void)u, (void)off, (void)p, (void)n;
	*got = 0;
	return DD_E_UNSUPPORTED;
}

static int s3_upload_open_fd(struct upload_file *u, int *fd)
{
	*fd = -1;
	/* only from an upload's first bytes, all still in the buffer */
	if (!u->mirror_on && (u->nparts || u->fly.active || u->completed || total_of(u) != (int64_t)u->len))
		return DD_E_UNSUPPORTED;
	if (!u->mirror_on) {
		int m = memfd_create("drydock-upload", MFD_CLOEXEC);
		if (m < 0)
			return DD_E_UNSUPPORTED;
		u->mirror = m;
		u->mirror_on = 1;
		u->mirror_len = u->mirror_checked = 0;
		mirror_write(u, u->buf ? u->buf : "", u->len);
		if (!u->mirror_on)
			return DD_E_UNSUPPORTED;
	}
	*fd = fcntl(u->mirror, F_DUPFD_CLOEXEC, 0);
	return *fd < 0 ? DD_E_IO : 0;
}

/* Completes the multipart upload with the tail as its last part, into uploads/<id>/data. */
static int complete(struct upload_file *u)
{
	int rc = part_wait(u);
	if (rc)
		return rc;
	if (u->len) {
		if ((rc = part_prepare(u, u->nparts + 1)) || (rc = put_part(u, u->nparts + 1, u->buf, u->len)))
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
	data_key(u, key, sizeof(key));
	const char *q[] = {"uploadId", u->mpu, NULL};
	struct s3_req sq = {.method = "POST", .key = key, .query = q, .body = x.data, .body_len = x.len};
	struct s3_resp r = {0};
	if (!rc && !(rc = req(u->bs, &sq, &r)))
		rc = error_in("completion", key, &r); /* an error can come in a 200 answer */
	buf_release(&r.body);
	buf_release(&x);
	if (!rc) {
		u->completed = 1;
		u->synced = 0;
		u->done_total = total_of(u);
	}
	return rc;
}

/* The upload completed into uploads/<id>/data with exactly its bytes (once, whatever came
 * before: a completion found at open is redone). */
static int complete_exactly(struct upload_file *u)
{
	int rc = part_wait(u);
	if (!rc && u->completed && !u->done_total)
		rc = reopen(u);
	if (!rc && !u->completed)
		rc = complete(u);
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
	int rc = part_wait(u);
	if (!rc && !u->nparts && !u->completed) {
		hasher_update(hs.h, u->buf ? u->buf : "", u->len);
	} else if (!rc && !(rc = complete_exactly(u))) {
		char key[256];
		data_key(u, key, sizeof(key));
		struct s3_req q = {.method = "GET", .key = key, .sink = hash_bytes, .sink_ctx = &hs};
		struct s3_resp r = {0};
		rc = req(u->bs, &q, &r);
		buf_release(&r.body);
	}
	if (!rc)
		hasher_peek(hs.h, out);
	hasher_free(hs.h);
	return rc;
}

/* Copies object src ("/bucket/key") of `size` bytes to key dst, inside S3: one request up to
 * 5 GiB (S3's limit for a copy), else a multipart upload of 1 GiB ranges. */
static int copy_object(struct blobstore_s3 *bs, const char *src, const char *dst, int64_t size)
{
	const int64_t one = 5LL << 30, part = 1LL << 30;
	struct s3_resp r = {0};
	int rc;
	if (size <= one) {
		struct s3_req q = {.method = "PUT", .key = dst, .copy_source = src};
		if (!(rc = req(bs, &q, &r)))
			rc = error_in("copy", dst, &r);
		buf_release(&r.body);
		return rc;
	}
	char id[512] = "", pn[16], range[64];
	const char *uq[] = {"uploads", NULL, NULL};
	struct s3_req cq = {.method = "POST", .key = dst, .query = uq};
	if ((rc = req(bs, &cq, &r)) || s3_xml_text(r.body.data ? r.body.data : "", "UploadId", id, sizeof(id))) {
		buf_release(&r.body);
		return rc ? rc : DD_E_IO;
	}
	int n = (int)((size + part - 1) / part);
	struct buf x;
	buf_init(&x, (size_t)n * 256 + 256);
	rc = buf_puts(&x, "<CompleteMultipartUpload>");
	for (int i = 1; !rc && i <= n; i++) {
		char etag[130];
		snprintf(pn, sizeof(pn), "%d", i);
		int64_t a = (int64_t)(i - 1) * part, b = i == n ? size - 1 : (int64_t)i * part - 1;
		snprintf(range, sizeof(range), "bytes=%" PRId64 "-%" PRId64, a, b);
		const char *q[] = {"partNumber", pn, "uploadId", id, NULL};
		struct s3_req pq = {.method = "PUT", .key = dst, .query = q, .copy_source = src, .copy_range = range};
		if (!(rc = req(bs, &pq, &r)) && s3_xml_text(r.body.data ? r.body.data : "", "ETag", etag, sizeof(etag)))
			rc = DD_E_IO;
		if (!rc)
			rc = buf_printf(&x, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>", i, etag);
	}
	rc = rc ? rc : buf_puts(&x, "</CompleteMultipartUpload>");
	const char *q[] = {"uploadId", id, NULL};
	if (!rc) {
		struct s3_req fq = {.method = "POST", .key = dst, .query = q, .body = x.data, .body_len = x.len};
		if (!(rc = req(bs, &fq, &r)))
			rc = error_in("multipart copy", dst, &r);
	}
	if (rc) {
		struct s3_req aq = {.method = "DELETE", .key = dst, .query = q};
		req(bs, &aq, &r);
	}
	buf_release(&r.body);
	buf_release(&x);
	return rc;
}

static int delete_key(void *ctx, const char *key, int64_t size, int64_t mtime)
{
	(void)size;
	(void)mtime;
	int rc = simple(ctx, "DELETE", key, NULL, 0);
	return rc == DD_E_NOT_FOUND ? 0 : rc;
}

static int tail_order(const void *a, const void *b)
{
	const struct tail *x = a, *y = b;
	return x->total < y->total ? -1 : x->total > y->total;
}

/* Removes what an upload left in S3: its tails first, the smallest first (so that a crash
 * half-way leaves the upload's latest state, or nothing), then the completed object, then every
 * multipart upload (when they fail, the janitor finds them by their multipart uploads). */
static int drop_staging(struct blobstore_s3 *bs, const char *id)
{
	struct upload_file t = {.bs = bs};
	snprintf(t.id, sizeof(t.id), "%s", id);
	char key[256];
	int rc = list_each(bs, key_printf(key, sizeof(key), "uploads/%s/tail.", id), collect_tail, &t);
	if (t.ntails)
		qsort(t.tails, (size_t)t.ntails, sizeof(*t.tails), tail_order);
	for (int i = 0; !rc && i < t.ntails; i++)
		rc = delete_key(bs, t.tails[i].key, 0, 0);
	free(t.tails);
	int rc2 = delete_key(bs, key_printf(key, sizeof(key), "uploads/%s/data", id), 0, 0);
	int rc3 = abort_all(bs, id);
	return rc ? rc : rc2 ? rc2 : rc3;
}

static int s3_upload_commit(struct blobstore *b, struct upload_file *u, const char *digest)
{
	struct blobstore_s3 *bs = s3_of(b);
	char key[300], src[600];
	int rc = part_wait(u);
	if (!rc)
		rc = blob_key(digest, key, sizeof(key));
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
	if ((rc = complete_exactly(u)))
		goto out;
	snprintf(src, sizeof(src), "/%s/uploads/%s/data", s3_bucket(bs->s3), u->id);
	if ((rc = copy_object(bs, src, key, u->done_total)))
		goto out;
drop:
	if (drop_staging(bs, u->id))
		log_warn("upload '%s': some of its staging objects stay in S3 (the janitor retries)", u->id);
	rc = 0;
out:
	upload_free(u);
	return rc;
}

static void s3_upload_close(struct upload_file *u)
{
	if (!u)
		return;
	part_wait(u);
	upload_free(u);
}

static int s3_upload_remove(struct blobstore *b, const char *id)
{
	return drop_staging(s3_of(b), id);
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

static int older_mpu(void *ctx, const char *key, const char *mpu, int64_t started)
{
	struct older *o = ctx;
	(void)mpu;
	const char *id = key + strlen("uploads/");
	size_t n = strcspn(id, "/");
	char one[128];
	if (started >= o->before || !n || n >= sizeof(one) || strcmp(id + n, "/data"))
		return 0;
	memcpy(one, id, n);
	one[n] = 0;
	o->fn(o->ctx, one); /* a multipart upload whose tails are gone (a removal cut short) */
	return 0;
}

struct older_copy {
	struct blobstore_s3 *bs;
	int64_t before;
};

static int older_copy(void *ctx, const char *key, const char *mpu, int64_t started)
{
	struct older_copy *o = ctx;
	if (started < o->before) { /* a copy over 5 GiB cut short */
		const char *q[] = {"uploadId", mpu, NULL};
		struct s3_req sq = {.method = "DELETE", .key = key, .query = q};
		struct s3_resp r = {0};
		req(o->bs, &sq, &r);
		buf_release(&r.body);
	}
	return 0;
}

static int s3_uploads_each_older(struct blobstore *b, int64_t before, void (*fn)(void *ctx, const char *id), void *ctx)
{
	struct older o = {.before = before, .fn = fn, .ctx = ctx};
	int rc = list_each(s3_of(b), "uploads/", older_each, &o);
	if (!rc)
		older_flush(&o);
	if (!rc)
		rc = mpus_list(s3_of(b), "uploads/", older_mpu, &o);
	struct older_copy oc = {s3_of(b), before};
	if (!rc)
		rc = mpus_list(s3_of(b), "blobs/", older_copy, &oc);
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
	int *live; /* the count it is one of: clients' GETs, or the server's own reads (the scanner) */
	int cancelled; /* atomic: the reader gave up waiting for the head */
	int *share;    /* its client's count of streams (a slot of client_streams), or NULL */
};

/* Each client's share of the streams: counts in slots by a hash of its address (two clients
 * in one slot share it, which only makes the cap stricter for them). */
#define CLIENT_SLOTS 4096
static int client_streams[CLIENT_SLOTS]; /* atomic */

static int *client_share(const char *client)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (const unsigned char *p = (const unsigned char *)client; *p; p++)
		h = (h ^ *p) * 16777619u;
	return &client_streams[h % CLIENT_SLOTS];
}

/* Getters running (atomic): for clients' GETs, and for the server's own reads, which clients
 * holding every slot of theirs cannot starve. */
static int streams_live, readers_live;

static void getter_unref(struct getter *g)
{
	pthread_mutex_lock(&g->mu);
	int last = --g->refs == 0;
	pthread_mutex_unlock(&g->mu);
	if (last) {
		__atomic_fetch_sub(g->live, 1, __ATOMIC_RELAXED);
		if (g->share)
			__atomic_fetch_sub(g->share, 1, __ATOMIC_RELAXED);
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

/* The GET ends when the reader gave up waiting, or hung up its end of the socket. */
static int getter_cancelled(void *ctx)
{
	struct getter *g = ctx;
	struct pollfd p = {.fd = g->wfd, .events = 0};
	return __atomic_load_n(&g->cancelled, __ATOMIC_RELAXED) ||
	       (poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR)));
}

static void *getter_run(void *arg)
{
	struct getter *g = arg;
	struct s3_req q = {.method = "GET", .key = g->key, .range = g->range[0] ? g->range : NULL, .sink = getter_sink,
			   .on_head = getter_head, .cancelled = getter_cancelled, .sink_ctx = g};
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

/* A socket a thread fills from a GET of the blob (of bytes [off, off + len) when len >= 0):
 * for a client (counted against DD_MAX_S3_STREAMS) or for the server itself. A reader that
 * takes nothing for DD_S3_STALL_SECONDS ends the GET, and so does S3 answering no head in as
 * long. */
static int open_stream(struct blobstore *b, const char *digest, int64_t off, int64_t len, const char *client,
		       int *fd, int64_t *size)
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
	g->live = client ? &streams_live : &readers_live;
	int cap = client ? DD_MAX_S3_STREAMS : DD_MAX_S3_READERS;
	long per_client = s3_of(b)->per_client;
	if (client && per_client) {
		g->share = client_share(client);
		if (__atomic_add_fetch(g->share, 1, __ATOMIC_RELAXED) > per_client) {
			__atomic_fetch_sub(g->share, 1, __ATOMIC_RELAXED);
			free(g);
			log_warn("client %s already reads %ld blobs from S3 (s3-streams-per-client): one more refused",
				 client, per_client);
			return DD_E_TOOMANYREQUESTS;
		}
	}
	if (__atomic_add_fetch(g->live, 1, __ATOMIC_RELAXED) > cap) {
		__atomic_fetch_sub(g->live, 1, __ATOMIC_RELAXED);
		if (g->share)
			__atomic_fetch_sub(g->share, 1, __ATOMIC_RELAXED);
		free(g);
		log_warn("%d blob reads from S3 already stream%s: one more refused", cap, client ? " to clients" : "");
		return DD_E_UNAVAILABLE;
	}
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		int e = errno;
		__atomic_fetch_sub(g->live, 1, __ATOMIC_RELAXED);
		if (g->share)
			__atomic_fetch_sub(g->share, 1, __ATOMIC_RELAXED);
		free(g);
		return e == EMFILE || e == ENFILE ? DD_E_UNAVAILABLE : DD_E_IO;
	}
	struct timeval stall = {DD_S3_STALL_SECONDS, 0};
	setsockopt(sv[1], SOL_SOCKET, SO_SNDTIMEO, &stall, sizeof(stall));
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
		__atomic_fetch_sub(g->live, 1, __ATOMIC_RELAXED);
		if (g->share)
			__atomic_fetch_sub(g->share, 1, __ATOMIC_RELAXED);
		pthread_attr_destroy(&at);
		close(sv[0]);
		close(sv[1]);
		pthread_mutex_destroy(&g->mu);
		pthread_cond_destroy(&g->cv);
		free(g);
		return DD_E_IO;
	}
	pthread_attr_destroy(&at);
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += DD_S3_STALL_SECONDS;
	/* clients' GETs wait for S3's answer on the server's handler threads: when S3 is slow, a
	 * bounded number of them, so that the others stay free for everything else */
	static int heads_waiting;
	int over = client && __atomic_add_fetch(&heads_waiting, 1, __ATOMIC_RELAXED) > DD_MAX_S3_HEAD_WAITS;
	pthread_mutex_lock(&g->mu);
	int waited = over;
	while (!g->headed && !waited)
		waited = pthread_cond_timedwait(&g->cv, &g->mu, &until) == ETIMEDOUT;
	if (client)
		__atomic_fetch_sub(&heads_waiting, 1, __ATOMIC_RELAXED);
	long status = g->headed ? g->status : 0;
	if (!g->headed)
		__atomic_store_n(&g->cancelled, 1, __ATOMIC_RELAXED);
	int64_t length = g->length;
	pthread_mutex_unlock(&g->mu);
	getter_unref(g);
	if ((status != 200 && status != 206) || length < 0 || (len >= 0 && length != len)) {
		close(sv[0]); /* the getter, if still waiting, stops at its first byte */
		if (!status && waited && over)
			log_warn("%d blob GETs already wait for S3's answer: one more refused", DD_MAX_S3_HEAD_WAITS);
		else if (!status && waited)
			log_error("S3 sent no answer to a GET of %s in %d s", digest, DD_S3_STALL_SECONDS);
		return status == 404 ? DD_E_BLOB_UNKNOWN : !status && waited ? DD_E_UNAVAILABLE : DD_E_IO;
	}
	*fd = sv[0];
	*size = length;
	return 0;
}

static int s3_blob_open_fd(struct blobstore *b, const char *digest, int *fd, int64_t *size)
{
	return open_stream(b, digest, 0, -1, NULL, fd, size);
}

static int s3_blob_stream(struct blobstore *b, const char *digest, int64_t off, int64_t len, const char *client,
			  int *fd)
{
	int64_t size;
	return open_stream(b, digest, off, len, client ? client : "", fd, &size);
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
	struct meta *m = s3_of(b)->lock_meta;
	return m ? m->lock(m, exclusive, token) : util_lock_file(s3_of(b)->lock_path, exclusive, token);
}

static void s3_gc_unlock(struct blobstore *b, int token)
{
	struct meta *m = s3_of(b)->lock_meta;
	if (m)
		m->unlock(m, token);
	else
		close(token);
}


static void s3_store_free(struct blobstore *b)
{
	struct blobstore_s3 *bs = s3_of(b);
	s3_free(bs->s3);
	free(bs->lock_path);
	pthread_mutex_destroy(&bs->shares_mu);
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
	.upload_owner = s3_upload_owner,
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

void blobstore_s3_share_lock(struct blobstore *b, struct meta *m)
{
	if (b->ops == &s3_ops && m->lock)
		s3_of(b)->lock_meta = m;
}

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
	bs->per_client = c->streams_per_client;
	bs->mem_limit = c->upload_memory ? c->upload_memory : DD_S3_UPLOAD_MEMORY;
	/* an account's share: a quarter, room for at least one upload's two parts */
	bs->share_limit = bs->mem_limit / 4 > 2 * DD_S3_PART_BYTES ? bs->mem_limit / 4 : 2 * DD_S3_PART_BYTES;
	if (bs->share_limit > bs->mem_limit)
		bs->share_limit = bs->mem_limit;
	pthread_mutex_init(&bs->shares_mu, NULL);
	bs->base.ops = &s3_ops;
	/* the bucket must answer: a wrong endpoint, key or bucket is named at start */
	const char *q[] = {"list-type", "2", "max-keys", "1", NULL};
	struct s3_req sq = {.method = "GET", .key = "", .query = q};
	struct s3_resp r = {0};
	rc = bs->lock_path ? s3_do(bs->s3, &sq, &r) : DD_E_NOMEM;
	if (!rc && r.status == 404 && strstr(r.error, "NoSuchBucket")) { /* made on first start, as the data directory is */
		/* outside us-east-1, S3 wants the region named in the request's body */
		char body[256] = "";
		if (c->region && *c->region && strcmp(c->region, "us-east-1"))
			snprintf(body, sizeof(body),
				 "<CreateBucketConfiguration><LocationConstraint>%.64s</LocationConstraint>"
				 "</CreateBucketConfiguration>",
				 c->region);
		struct s3_req cq = {.method = "PUT", .key = "", .body = body, .body_len = strlen(body)};
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
