/* s3.c: the S3 client: Signature Version 4 and requests over pooled libcurl handles. */
#include "common/dd.h"
#include "s3.h"
#include "common/digest.h"
#include "common/log.h"
#include "common/util.h"
#include <curl/curl.h>
#include <openssl/evp.h>
#include <pthread.h>

#define POOL_MAX 32            /* idle handles kept (each keeps its connection alive) */
#define ERROR_BODY_CAP 65536   /* an error answer's XML kept for its message */
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct s3 {
	char *scheme_host; /* "http://host:port", the bucket in it for virtual-host addressing */
	char *host;        /* the Host header: "host:port" as in the URL */
	char *bucket, *region, *access, *secret;
	int virtual_host;
	pthread_mutex_t mu;
	CURL *pool[POOL_MAX];
	int npool;
};

/* ---- counters ---- */

const char *const s3_method_names[S3_NMETHODS] = {"GET", "HEAD", "PUT", "POST", "DELETE"};
static int64_t counts[S3_NMETHODS], sent_bytes, received_bytes, copies_dropped; /* atomic */

int64_t s3_copies_dropped(void) { return __atomic_load_n(&copies_dropped, __ATOMIC_RELAXED); }
void s3_copy_dropped(void) { __atomic_fetch_add(&copies_dropped, 1, __ATOMIC_RELAXED); }

void s3_counts(int64_t requests[S3_NMETHODS], int64_t *bytes_sent, int64_t *bytes_received)
{
	for (int i = 0; i < S3_NMETHODS; i++)
		requests[i] = __atomic_load_n(&counts[i], __ATOMIC_RELAXED);
	*bytes_sent = __atomic_load_n(&sent_bytes, __ATOMIC_RELAXED);
	*bytes_received = __atomic_load_n(&received_bytes, __ATOMIC_RELAXED);
}

static void count(const char *method, int64_t sent, int64_t received)
{
	for (int i = 0; i < S3_NMETHODS; i++)
		if (!strcmp(method, s3_method_names[i]))
			__atomic_fetch_add(&counts[i], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&sent_bytes, sent, __ATOMIC_RELAXED);
	__atomic_fetch_add(&received_bytes, received, __ATOMIC_RELAXED);
}

/* ---- signing ---- */

int s3_uri_encode(struct buf *b, const char *s, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		int keep = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
			   *p == '-' || *p == '_' || *p == '.' || *p == '~' || (keep_slash && *p == '/');
		char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
		if (keep ? buf_append(b, p, 1) : buf_append(b, e, 3))
			return DD_E_NOMEM;
	}
	return 0;
}

static void hex_of(const unsigned char *md, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[2 * n] = 0;
}

static void sha256_hex(const void *p, size_t n, char out[65])
{
	unsigned char md[32];
	unsigned len = 0;
	EVP_Digest(p, n, md, &len, EVP_sha256(), NULL);
	hex_of(md, 32, out);
}

static void hmac(const void *key, size_t klen, const char *msg, unsigned char out[32])
{
	size_t len = 0;
	EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, klen, (const unsigned char *)msg, strlen(msg), out, 32, &len);
}

void s3_signature(const char *secret, const char *region, const char *amzdate, const char *method, const char *path,
		  const char *canon_query, const char *headers, const char *signed_names, const char *payload_hash,
		  char hex[65])
{
	struct buf creq, sts;
	buf_init(&creq, 1 << 20);
	buf_init(&sts, 4096);
	buf_printf(&creq, "%s\n%s\n%s\n%s\n%s\n%s", method, path, canon_query, headers, signed_names, payload_hash);
	char creq_hash[65], date[9];
	sha256_hex(creq.data ? creq.data : "", creq.len, creq_hash);
	snprintf(date, sizeof(date), "%.8s", amzdate);
	buf_printf(&sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/s3/aws4_request\n%s", amzdate, date, region, creq_hash);
	char k0[300];
	unsigned char k1[32], k2[32], k3[32], k4[32], sig[32];
	int kn = snprintf(k0, sizeof(k0), "AWS4%s", secret);
	hmac(k0, kn < 0 || (size_t)kn >= sizeof(k0) ? sizeof(k0) - 1 : (size_t)kn, date, k1);
	hmac(k1, 32, region, k2);
	hmac(k2, 32, "s3", k3);
	hmac(k3, 32, "aws4_request", k4);
	hmac(k4, 32, sts.data ? sts.data : "", sig);
	hex_of(sig, 32, hex);
	OPENSSL_cleanse(k0, sizeof(k0));
	buf_release(&creq);
	buf_release(&sts);
}

void s3_sign(const char *access, const char *secret, const char *region, const char *amzdate, const char *method,
	     const char *path, const char *canon_query, const char *headers, const char *signed_names,
	     const char *payload_hash, char *out, size_t cap)
{
	char sig[65];
	s3_signature(secret, region, amzdate, method, path, canon_query, headers, signed_names, payload_hash, sig);
	snprintf(out, cap, "AWS4-HMAC-SHA256 Credential=%s/%.8s/%s/s3/aws4_request, SignedHeaders=%s, Signature=%s",
		 access, amzdate, region, signed_names, sig);
}

static void amz_date(int64_t t, char out[17])
{
	struct tm tm;
	time_t tt = (time_t)t;
	gmtime_r(&tt, &tm);
	strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

struct qpair {
	const char *name, *value;
};

static int qpair_cmp(const void *a, const void *b)
{
	const struct qpair *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : strcmp(x->value ? x->value : "", y->value ? y->value : "");
}

/* The canonical query string of name/value pairs (the names and values here are ASCII, so
 * sorting before or after encoding agrees). */
static int canon_query(struct buf *b, const char *const *q)
{
	size_t n = 0;
	while (q && q[2 * n])
		n++;
	if (!n)
		return 0;
	struct qpair *p = calloc(n, sizeof(*p));
	if (!p)
		return DD_E_NOMEM;
	for (size_t i = 0; i < n; i++)
		p[i] = (struct qpair){q[2 * i], q[2 * i + 1]};
	qsort(p, n, sizeof(*p), qpair_cmp);
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		if (i)
			rc = buf_append(b, "&", 1);
		rc = rc ? rc : s3_uri_encode(b, p[i].name, 0);
		rc = rc ? rc : buf_append(b, "=", 1);
		rc = rc ? rc : s3_uri_encode(b, p[i].value ? p[i].value : "", 0);
	}
	free(p);
	return rc;
}

/* ---- the client ---- */

int s3_open(const struct s3_config *c, struct s3 **out, const char **why)
{
	*out = NULL;
	const char *e = c->endpoint ? c->endpoint : "";
	int tls = !strncmp(e, "https://", 8);
	if (!tls && strncmp(e, "http://", 7)) {
		*why = "s3-endpoint must start with http:// or https://";
		return DD_E_CONFIG;
	}
	const char *host = e + (tls ? 8 : 7);
	size_t hl = strcspn(host, "/?#");
	if (!hl || (host[hl] && strcmp(host + hl, "/"))) {
		*why = "s3-endpoint must be http(s)://host[:port] with no path";
		return DD_E_CONFIG;
	}
	const char *b = c->bucket ? c->bucket : "";
	size_t bl = strlen(b);
	if (bl < 3 || bl > 63 || strspn(b, "abcdefghijklmnopqrstuvwxyz0123456789.-") != bl) {
		*why = "s3-bucket must be 3 to 63 lower-case letters, digits, '.' or '-'";
		return DD_E_CONFIG;
	}
	if (!c->access_key || !*c->access_key || !c->secret_key || !*c->secret_key) {
		*why = "S3 needs an access key and a secret key (s3-access-key and s3-secret-key, or "
		       "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)";
		return DD_E_CONFIG;
	}
	struct s3 *s = calloc(1, sizeof(*s));
	if (!s)
		return DD_E_NOMEM;
	s->virtual_host = c->virtual_host;
	s->bucket = strdup(b);
	s->region = strdup(c->region && *c->region ? c->region : "us-east-1");
	s->access = strdup(c->access_key);
	s->secret = strdup(c->secret_key);
	struct buf h;
	buf_init(&h, 1024);
	if (c->virtual_host)
		buf_printf(&h, "%s.", b);
	/* curl leaves a default port out of Host, so the Host signed must too */
	size_t keep = hl;
	if (hl > 4 && !tls && !strncmp(host + hl - 3, ":80", 3))
		keep = hl - 3;
	else if (hl > 5 && tls && !strncmp(host + hl - 4, ":443", 4))
		keep = hl - 4;
	buf_append(&h, host, keep);
	s->host = h.data;
	struct buf sh;
	buf_init(&sh, 1100);
	buf_printf(&sh, "%s://%s", tls ? "https" : "http", s->host ? s->host : "");
	s->scheme_host = sh.data;
	pthread_mutex_init(&s->mu, NULL);
	if (!s->bucket || !s->region || !s->access || !s->secret || !s->host || !s->scheme_host) {
		s3_free(s);
		return DD_E_NOMEM;
	}
	*out = s;
	return 0;
}

void s3_free(struct s3 *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->npool; i++)
		curl_easy_cleanup(s->pool[i]);
	pthread_mutex_destroy(&s->mu);
	if (s->secret)
		OPENSSL_cleanse(s->secret, strlen(s->secret));
	free(s->scheme_host);
	free(s->host);
	free(s->bucket);
	free(s->region);
	free(s->access);
	free(s->secret);
	free(s);
}

const char *s3_bucket(const struct s3 *s) { return s->bucket; }

static CURL *handle_get(struct s3 *s)
{
	CURL *c = NULL;
	pthread_mutex_lock(&s->mu);
	if (s->npool)
		c = s->pool[--s->npool];
	pthread_mutex_unlock(&s->mu);
	if (c)
		curl_easy_reset(c);
	else
		c = curl_easy_init();
	return c;
}

static void handle_put(struct s3 *s, CURL *c)
{
	pthread_mutex_lock(&s->mu);
	if (s->npool < POOL_MAX) {
		s->pool[s->npool++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&s->mu);
	if (c)
		curl_easy_cleanup(c);
}

/* The request path: "/bucket/key" or "/key", encoded. */
static int request_path(struct s3 *s, struct buf *b, const char *key)
{
	int rc = buf_append(b, "/", 1);
	if (!rc && !s->virtual_host) {
		rc = s3_uri_encode(b, s->bucket, 0);
		if (!rc && *key)
			rc = buf_append(b, "/", 1);
	}
	return rc ? rc : s3_uri_encode(b, key, 1);
}

struct xfer {
	const struct s3_req *q;
	struct s3_resp *resp;
	CURL *c;
	const char *body;
	size_t body_len, body_off;
	int head_done, stopped;
	int64_t sunk; /* body bytes handed to the sink */
};

static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
	struct xfer *x = ctx;
	size_t len = size * n;
	if (len <= 2 && (p[0] == '\r' || p[0] == '\n')) { /* the head's end */
		long code = 0;
		curl_easy_getinfo(x->c, CURLINFO_RESPONSE_CODE, &code);
		if (code >= 100 && code < 200) /* 100 Continue: its own head */
			return len;
		x->resp->status = code;
		x->head_done = 1;
		if (x->q->on_head && code < 300)
			x->q->on_head(x->q->sink_ctx, code, x->resp->length);
		return len;
	}
	char line[512];
	size_t k = len < sizeof(line) - 1 ? len : sizeof(line) - 1;
	memcpy(line, p, k);
	line[k] = 0;
	line[strcspn(line, "\r\n")] = 0;
	char *colon = strchr(line, ':');
	if (!colon)
		return len;
	*colon = 0;
	const char *v = colon + 1 + strspn(colon + 1, " \t");
	if (!strcasecmp(line, "Content-Length"))
		x->resp->length = strtoll(v, NULL, 10);
	else if (!strcasecmp(line, "ETag"))
		snprintf(x->resp->etag, sizeof(x->resp->etag), "%s", v);
	else if (!strcasecmp(line, "Last-Modified")) {
		time_t t = curl_getdate(v, NULL);
		x->resp->last_modified = t > 0 ? (int64_t)t : 0;
	}
	return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	struct xfer *x = ctx;
	size_t len = size * n;
	if (x->resp->status >= 200 && x->resp->status < 300 && x->q->sink) {
		if (x->q->sink(x->q->sink_ctx, p, len)) {
			x->stopped = 1;
			return 0;
		}
		x->sunk += (int64_t)len;
		return len;
	}
	return buf_append(&x->resp->body, p, len) ? 0 : len;
}

static int on_progress(void *ctx, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	(void)dt, (void)dn, (void)ut, (void)un;
	struct xfer *x = ctx;
	if (x->q->cancelled(x->q->sink_ctx)) {
		x->stopped = 1;
		return 1;
	}
	return 0;
}

static size_t on_read(char *p, size_t size, size_t n, void *ctx)
{
	struct xfer *x = ctx;
	size_t k = x->body_len - x->body_off;
	if (k > size * n)
		k = size * n;
	memcpy(p, x->body + x->body_off, k);
	x->body_off += k;
	return k;
}

static int do_once(struct s3 *s, const struct s3_req *q, struct s3_resp *resp, int64_t *sunk)
{
	struct buf path, query, url, hdrs;
	buf_init(&path, 4096);
	buf_init(&query, 8192);
	buf_init(&url, 16384);
	buf_init(&hdrs, 8192);
	int rc = request_path(s, &path, q->key);
	rc = rc ? rc : canon_query(&query, q->query);
	char phash[65], date[17], auth[512];
	if (q->unsigned_payload)
		snprintf(phash, sizeof(phash), "UNSIGNED-PAYLOAD");
	else if (q->body_len)
		sha256_hex(q->body, q->body_len, phash);
	else
		snprintf(phash, sizeof(phash), EMPTY_SHA256);
	amz_date(util_now(), date);
	struct buf copy;
	buf_init(&copy, 4096);
	if (!rc && q->copy_source)
		rc = s3_uri_encode(&copy, q->copy_source, 1);
	/* the signed headers, in order */
	const char *hn[6], *hv[6];
	int nh = 0;
	hn[nh] = "host", hv[nh++] = s->host;
	if (q->range)
		hn[nh] = "range", hv[nh++] = q->range;
	hn[nh] = "x-amz-content-sha256", hv[nh++] = phash;
	if (q->copy_source)
		hn[nh] = "x-amz-copy-source", hv[nh++] = copy.data;
	if (q->copy_source && q->copy_range)
		hn[nh] = "x-amz-copy-source-range", hv[nh++] = q->copy_range;
	hn[nh] = "x-amz-date", hv[nh++] = date;
	char names[160];
	size_t nl = 0;
	for (int i = 0; i < nh && !rc; i++) {
		rc = buf_printf(&hdrs, "%s:%s\n", hn[i], hv[i]);
		nl += (size_t)snprintf(names + nl, sizeof(names) - nl, "%s%s", i ? ";" : "", hn[i]);
	}
	rc = rc ? rc : buf_printf(&url, "%s%s%s%s", s->scheme_host, path.data, query.len ? "?" : "", query.len ? query.data : "");
	if (rc)
		goto out;
	s3_sign(s->access, s->secret, s->region, date, q->method, path.data, query.len ? query.data : "", hdrs.data, names,
		phash, auth, sizeof(auth));

	CURL *c = handle_get(s);
	if (!c) {
		rc = DD_E_NOMEM;
		goto out;
	}
	struct curl_slist *h = NULL;
	char line[1024];
	snprintf(line, sizeof(line), "Authorization: %s", auth);
	h = curl_slist_append(h, line);
	for (int i = 1; i < nh; i++) { /* Host is curl's */
		snprintf(line, sizeof(line), "%s: %s", hn[i], hv[i]);
		h = curl_slist_append(h, line);
	}
	h = curl_slist_append(h, "Expect:");
	h = curl_slist_append(h, "Content-Type:");
	h = curl_slist_append(h, "Accept:");
	struct xfer x = {.q = q, .resp = resp, .c = c, .body = q->body, .body_len = q->body_len};
	resp->status = 0;
	resp->length = -1;
	resp->etag[0] = 0;
	resp->last_modified = 0;
	buf_reset(&resp->body);
	curl_easy_setopt(c, CURLOPT_URL, url.data);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
	if (q->cancelled) {
		curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(c, CURLOPT_XFERINFODATA, &x);
	}
	if (!strcmp(q->method, "HEAD"))
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else if (!strcmp(q->method, "PUT")) {
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(c, CURLOPT_READDATA, &x);
		curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)q->body_len);
	} else if (!strcmp(q->method, "POST")) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, q->body ? (const char *)q->body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->body_len);
	} else if (strcmp(q->method, "GET"))
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, q->method);
	CURLcode cc = curl_easy_perform(c);
	curl_slist_free_all(h);
	*sunk = x.sunk;
	count(q->method, (int64_t)x.body_off + (int64_t)(strcmp(q->method, "POST") ? 0 : q->body_len),
	      x.sunk + (int64_t)resp->body.len);
	if (cc != CURLE_OK && !(x.stopped && cc == CURLE_WRITE_ERROR)) {
		snprintf(resp->error, sizeof(resp->error), "%s", curl_easy_strerror(cc));
		resp->status = x.stopped ? resp->status : 0;
		rc = DD_E_IO;
		curl_easy_cleanup(c);
		goto out;
	}
	if (x.stopped) {
		snprintf(resp->error, sizeof(resp->error), "stopped by the reader");
		rc = DD_E_IO;
		curl_easy_cleanup(c);
		goto out;
	}
	handle_put(s, c);
	if (resp->status >= 300) {
		char code[64] = "", msg[160] = "";
		if (resp->body.data) {
			s3_xml_text(resp->body.data, "Code", code, sizeof(code));
			s3_xml_text(resp->body.data, "Message", msg, sizeof(msg));
		}
		snprintf(resp->error, sizeof(resp->error), "HTTP %ld%s%s%s%s", resp->status, *code ? " " : "", code,
			 *msg ? ": " : "", msg);
	}
out:
	buf_release(&path);
	buf_release(&query);
	buf_release(&url);
	buf_release(&hdrs);
	buf_release(&copy);
	return rc;
}

int s3_do(struct s3 *s, const struct s3_req *q, struct s3_resp *resp)
{
	int64_t sunk = 0;
	size_t cap = q->body_cap ? q->body_cap : ERROR_BODY_CAP;
	if (!resp->body.cap)
		buf_init(&resp->body, cap);
	/* a kept-alive connection the server closed meanwhile fails at once: tried again while
	 * no byte reached the reader */
	/* and so is an answer 500 or 503 (SlowDown), a little later: except a POST (a multipart
	 * upload made twice, a completion answered NoSuchUpload the second time) */
	int rc = DD_E_IO, idempotent = strcmp(q->method, "POST") != 0;
	for (int attempt = 0; attempt < 4; attempt++) {
		rc = do_once(s, q, resp, &sunk);
		int again = sunk == 0 && idempotent && !(q->cancelled && q->cancelled(q->sink_ctx)) &&
			    (rc ? !resp->status : resp->status == 500 || resp->status == 503);
		if (!again || attempt == 3)
			break;
		if (resp->status) {
			struct timespec ts = {0, (long)(100 << (2 * attempt)) * 1000000L}; /* 0.1, 0.4, 1.6 s */
			nanosleep(&ts, NULL);
		}
	}
	if (rc)
		log_warn("S3 %s %s: %s", q->method, q->key, resp->error);
	return rc;
}

char *s3_presign_get(struct s3 *s, const char *key, int64_t now, long expires)
{
	char date[17], cred[512], exp[24], sig[65];
	amz_date(now, date);
	snprintf(cred, sizeof(cred), "%s/%.8s/%s/s3/aws4_request", s->access, date, s->region);
	snprintf(exp, sizeof(exp), "%ld", expires);
	const char *q[] = {"X-Amz-Algorithm", "AWS4-HMAC-SHA256", "X-Amz-Credential", cred, "X-Amz-Date", date,
			   "X-Amz-Expires", exp, "X-Amz-SignedHeaders", "host", NULL};
	struct buf path, query, hdrs, url;
	buf_init(&path, 4096);
	buf_init(&query, 4096);
	buf_init(&hdrs, 1024);
	buf_init(&url, 16384);
	char *out = NULL;
	if (!request_path(s, &path, key) && !canon_query(&query, q) && !buf_printf(&hdrs, "host:%s\n", s->host)) {
		s3_signature(s->secret, s->region, date, "GET", path.data, query.data, hdrs.data, "host", "UNSIGNED-PAYLOAD",
			     sig);
		if (!buf_printf(&url, "%s%s?%s&X-Amz-Signature=%s", s->scheme_host, path.data, query.data, sig)) {
			out = url.data;
			url.data = NULL;
		}
	}
	buf_release(&path);
	buf_release(&query);
	buf_release(&hdrs);
	buf_release(&url);
	return out;
}

/* ---- XML answers (ListObjectsV2, ListParts, ListMultipartUploads, errors) ---- */

int s3_xml_next(const char **pos, const char *tag, const char **start, const char **end)
{
	char open[80], close[80];
	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	const char *a = strstr(*pos, open);
	if (!a)
		return -1;
	a += strlen(open);
	const char *b = strstr(a, close);
	if (!b)
		return -1;
	*start = a;
	*end = b;
	*pos = b + strlen(close);
	return 0;
}

int s3_xml_text(const char *xml, const char *tag, char *out, size_t cap)
{
	const char *pos = xml, *a, *b;
	if (!cap || s3_xml_next(&pos, tag, &a, &b))
		return -1;
	static const struct {
		const char *ent;
		char c;
	} ents[] = {{"&quot;", '"'}, {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&apos;", '\''}, {"&#34;", '"'}};
	size_t n = 0;
	while (a < b) {
		char c = *a;
		size_t skip = 1;
		for (size_t i = 0; i < DD_ARRAY_LEN(ents); i++) {
			size_t el = strlen(ents[i].ent);
			if ((size_t)(b - a) >= el && !strncmp(a, ents[i].ent, el)) {
				c = ents[i].c;
				skip = el;
				break;
			}
		}
		if (n + 1 >= cap)
			return -1;
		out[n++] = c;
		a += skip;
	}
	out[n] = 0;
	return 0;
}
