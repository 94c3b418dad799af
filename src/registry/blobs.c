/* blobs.c: GET, HEAD and DELETE of /v2/<name>/blobs/<digest>, with Range (206) and ETag. */
#include "common/dd.h"
#include "registry.h"
#include "auth/audit.h"
#include "auth/access.h"
#include "http/range.h"
#include "store/blobstore.h"
#include "store/meta_repos.h"
#include "store/space.h"

static void blob_headers(struct http_req *r, const char *digest)
{
	http_add_header(r, "Docker-Content-Digest", digest);
	http_add_header(r, "ETag", arena_printf(&r->arena, "\"%s\"", digest));
	http_add_header(r, "Accept-Ranges", "bytes");
	http_add_header(r, "Cache-Control", "max-age=31536000");
}

static int etag_matches(const char *inm, const char *digest)
{
	if (!inm)
		return 0;
	if (!strcmp(inm, "*"))
		return 1;
	size_t n = strlen(digest);
	for (const char *p = strstr(inm, digest); p; p = strstr(p + 1, digest))
		if (p > inm && p[-1] == '"' && p[n] == '"')
			return 1;
	return 0;
}

void blobs_handle(struct http_req *r)
{
	struct reg_req *q = reg_of(r);
	struct registry *reg = q->reg;
	struct digest d;
	int rc;
	int is_get = !strcmp(r->method, "GET"), is_head = !strcmp(r->method, "HEAD");
	int is_delete = !strcmp(r->method, "DELETE");
	if (!is_get && !is_head && !is_delete) {
		reg_error(r, DD_E_METHOD, NULL);
		return;
	}
	if (reg_digest(r, q->arg, &d))
		return;
	if (web_access(r, q->name, is_delete ? ACCESS_DELETE : ACCESS_PULL))
		return;
	if (is_delete) {
		SPACE_RETRY(reg->space, rc, reg->meta->repos->blob_unlink(reg->meta, q->name, d.str));
		if (rc)
			reg_error(r, rc, rc == DD_E_BLOB_UNKNOWN ? d.str : NULL);
		else {
			audit_record(r, reg->meta, "blob-delete", arena_printf(&r->arena, "%s@%s", q->name, d.str), NULL);
			http_respond(r, 202, NULL, "", 0);
			http_add_header(r, "Docker-Content-Digest", d.str);
		}
		return;
	}
	int64_t size;
	if ((rc = reg->meta->repos->blob_linked(reg->meta, q->name, d.str, &size))) {
		reg_error(r, rc, rc == DD_E_BLOB_UNKNOWN ? d.str : NULL);
		return;
	}
	if (etag_matches(http_header(r, "If-None-Match"), d.str)) {
		http_respond(r, 304, NULL, "", 0);
		blob_headers(r, d.str);
		return;
	}
	char *url = is_get && reg->blob_redirect && reg->blobs->ops->blob_url
			    ? reg->blobs->ops->blob_url(reg->blobs, d.str, DD_BLOB_URL_SECONDS)
			    : NULL;
	if (url) { /* the client reads the bytes from the store itself (Range included) */
		http_respond(r, 307, NULL, "", 0);
		http_add_header(r, "Location", arena_strdup(&r->arena, url));
		http_add_header(r, "Docker-Content-Digest", d.str);
		free(url);
		return;
	}
	/* a store that streams (S3) is asked for the bytes once the range is known; the size is
	 * the recorded one */
	int fd = -1, stream = reg->blobs->ops->blob_stream != NULL;
	if (is_head && !stream) { /* (on S3 a HEAD would cost a request: the recorded size answers) */
		rc = reg->blobs->ops->blob_stat(reg->blobs, d.str, &size);
	} else if (!stream)
		rc = reg->blobs->ops->blob_open_fd(reg->blobs, d.str, &fd, &size);
	if (rc) {
		reg_error(r, rc, rc == DD_E_BLOB_UNKNOWN ? "blob is recorded but missing from storage" : NULL);
		return;
	}
	int64_t start = 0, end = size - 1;
	int partial = 0;
	const char *range = http_header(r, "Range");
	if (range) {
		rc = range_parse(range, strlen(range), size, &start, &end);
		if (rc == DD_E_RANGE_INVALID) {
			if (fd >= 0)
				close(fd);
			reg_error(r, DD_E_RANGE_INVALID, arena_printf(&r->arena, "Range '%.64s' of %" PRId64 " bytes", range, size));
			http_add_header(r, "Content-Range", arena_printf(&r->arena, "bytes */%" PRId64, size));
			return;
		}
		if (rc == 0)
			partial = 1;
		else {
			start = 0;
			end = size - 1;
		}
	}
	int64_t len = size ? end - start + 1 : 0;
	if (stream && !is_head && len) {
		char addr[128];
		http_client_addr(r, addr, sizeof(addr));
		if ((rc = reg->blobs->ops->blob_stream(reg->blobs, d.str, start, len, addr, &fd))) {
			reg_error(r, rc, rc == DD_E_BLOB_UNKNOWN ? "blob is recorded but missing from storage" : NULL);
			return;
		}
		http_respond_stream(r, partial ? 206 : 200, "application/octet-stream", fd, len);
	} else if (stream && !is_head)
		http_respond(r, partial ? 206 : 200, "application/octet-stream", "", 0);
	else if (is_head)
		http_respond_head(r, partial ? 206 : 200, "application/octet-stream", len);
	else
		http_respond_fd(r, partial ? 206 : 200, "application/octet-stream", fd, start, len);
	blob_headers(r, d.str);
	if (partial)
		http_add_header(r, "Content-Range",
				arena_printf(&r->arena, "bytes %" PRId64 "-%" PRId64 "/%" PRId64, start, end, size));
}
