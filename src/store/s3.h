/* s3.h: a small S3 client (libcurl, Signature Version 4) for the blob store.
 *
 * Every request carries x-amz-date and x-amz-content-sha256 (the body's SHA-256, or
 * UNSIGNED-PAYLOAD for blob bytes, which the content digest covers end to end); query strings
 * are canonical (sorted, RFC 3986 encoded, valueless names written "name="). Path-style
 * (http://host/bucket/key) or virtual-host (http://bucket.host/key) addressing. Handles are
 * pooled so connections are kept alive across requests; all functions are thread-safe. */
#ifndef DD_S3_H
#define DD_S3_H
#include "common/buf.h"
#include <stddef.h>
#include <stdint.h>

struct s3_config {
	const char *endpoint; /* http(s)://host[:port], no path */
	const char *bucket;
	const char *region;   /* "us-east-1" when empty */
	const char *access_key;
	const char *secret_key;
	int virtual_host;     /* bucket in the host name instead of the path */
	long streams_per_client; /* for the blob store: one client address's streams; 0: no cap */
	int64_t upload_memory;   /* for the blob store: its uploads' buffers in all; 0: the default */
};

struct s3;

/* Checks the settings (naming what is wrong in *why, static text) and returns a client. */
int s3_open(const struct s3_config *c, struct s3 **out, const char **why);
void s3_free(struct s3 *s);
const char *s3_bucket(const struct s3 *s);

/* One request. query: name/value pairs, a NULL name ending them; a NULL value is a valueless
 * name ("uploads"). */
struct s3_req {
	const char *method;
	const char *key;                 /* object key, "" for the bucket */
	const char *const *query;
	const void *body;                /* sent as is */
	size_t body_len;
	int unsigned_payload;            /* the body's hash is not signed (blob bytes) */
	const char *range;               /* "bytes=a-b", or NULL */
	const char *copy_source;         /* x-amz-copy-source: "/bucket/key" (encoded by s3) */
	const char *copy_range;          /* x-amz-copy-source-range: "bytes=a-b" (UploadPartCopy) */
	/* where the response body goes: sink (return nonzero to stop), else resp->body (up to
	 * body_cap bytes, beyond which the request fails) */
	int (*sink)(void *ctx, const void *p, size_t n);
	void *sink_ctx;
	/* called once the status and headers are in, before any body byte reaches sink */
	void (*on_head)(void *ctx, long status, int64_t length);
	/* when set, polled while the request runs: nonzero ends it (its reader is gone) */
	int (*cancelled)(void *ctx);
	size_t body_cap;
};

struct s3_resp {
	long status;          /* 0 when no answer came */
	int64_t length;       /* Content-Length, -1 when none */
	char etag[130];       /* as sent, quotes included */
	int64_t last_modified; /* unix seconds, 0 when none */
	struct buf body;      /* owned: buf_release after use */
	char error[256];      /* S3's <Code> and <Message>, or curl's error, for logs */
};

/* 0 when an answer came (any status: see resp->status), DD_E_IO when none did. */
int s3_do(struct s3 *s, const struct s3_req *q, struct s3_resp *resp);

/* Requests made by every client of this process so far, by method (GET, HEAD, PUT, POST,
 * DELETE, in that order), and the body bytes sent and received; for /metrics. */
#define S3_NMETHODS 5
extern const char *const s3_method_names[S3_NMETHODS];
void s3_counts(int64_t requests[S3_NMETHODS], int64_t *bytes_sent, int64_t *bytes_received);
/* Copies of uploads in memory the scanner was to read as they arrived, dropped (its reader too
 * far behind, or the memory for uploads taken): each such layer is read back from S3 once
 * committed. s3_copy_dropped counts one. */
int64_t s3_copies_dropped(void);
void s3_copy_dropped(void);

/* A presigned URL for GET of key, valid for `expires` seconds from `now`. Owned string. */
char *s3_presign_get(struct s3 *s, const char *key, int64_t now, long expires);

/* The Authorization value of a request (exposed for tests). headers: "name:value" lines,
 * lower-case names, sorted, each ending in '\n'; signed: their names joined by ';'. */
void s3_sign(const char *access, const char *secret, const char *region, const char *amzdate, const char *method,
	     const char *path, const char *canon_query, const char *headers, const char *signed_names,
	     const char *payload_hash, char *out, size_t cap);
/* The signature alone of a presigned request (exposed for tests): as s3_sign, the
 * X-Amz-* parameters already in canon_query, the payload UNSIGNED-PAYLOAD. */
void s3_signature(const char *secret, const char *region, const char *amzdate, const char *method, const char *path,
		  const char *canon_query, const char *headers, const char *signed_names, const char *payload_hash,
		  char hex[65]);
/* RFC 3986 encoding as SigV4 wants: unreserved bytes kept, '/' kept when keep_slash. */
int s3_uri_encode(struct buf *b, const char *s, int keep_slash);

/* The text of the first <tag>…</tag> after *from in xml, entities decoded, into out; 0, or -1
 * when absent (or longer than cap). *from advances past it when from is given. */
int s3_xml_text(const char *xml, const char *tag, char *out, size_t cap);
/* The next <tag>…</tag> element after *pos: its inside as [*start, *end). 0, or -1. */
int s3_xml_next(const char **pos, const char *tag, const char **start, const char **end);

#endif
