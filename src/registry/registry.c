/* registry.c: the OCI API's service (web/router.h): routing under /v2, name validation, the
 * token endpoint and the registry's error responses. */
#include "common/dd.h"
#include "registry.h"
#include "web/reply.h"
#include "auth/access.h"
#include "auth/token.h"
#include "common/log.h"
#include "http/range.h"
#include "store/blobstore.h"
#include "store/meta.h"
#include "store/space.h"
#include <jansson.h>

struct reg_req *reg_of(struct http_req *r) { return r->state; }

void reg_error(struct http_req *r, int err, const char *detail) { reg_error_msg(r, err, NULL, detail); }

/* What the request would have stored, for the 507 it gets when there is no room. */
static const char *stored_what(struct http_req *r)
{
	struct reg_req *q = reg_of(r);
	int del = !strcmp(r->method, "DELETE");
	const char *verb = del ? "record the deletion of" : "store";
	if (!q || !q->name)
		return arena_printf(&r->arena, "%s what %s %.200s asks", verb, r->method, r->path);
	switch (q->route.kind) {
	case ROUTE_MANIFEST:
		return arena_printf(&r->arena, "%s manifest '%s%s%s'", verb, q->name, strchr(q->arg, ':') ? "@" : ":", q->arg);
	case ROUTE_BLOB:
		return arena_printf(&r->arena, "%s blob %s in '%s'", verb, q->arg, q->name);
	case ROUTE_UPLOAD:
		if (del)
			return arena_printf(&r->arena, "record the cancellation of upload %s in '%s'", q->arg, q->name);
		if (q->want.str[0])
			return arena_printf(&r->arena, "store blob %s in '%s'", q->want.str, q->name);
		if (*q->arg)
			return arena_printf(&r->arena, "store more bytes of upload %s in '%s'", q->arg, q->name);
		return arena_printf(&r->arena, "start an upload in '%s'", q->name);
	default:
		return arena_printf(&r->arena, "%s what %s %.200s asks", verb, r->method, r->path);
	}
}

void reg_error_msg(struct http_req *r, int err, const char *message, const char *detail)
{
	struct reg_req *q = reg_of(r);
	if (err == DD_E_NO_SPACE && !message)
		message = arena_printf(&r->arena, "%s: cannot %s", dd_err_message(err), stored_what(r));
	if (err == DD_E_NO_SPACE && !detail && q)
		detail = web_no_space_detail(r, q->reg->space);
	web_error_msg(r, err, message, detail);
}

/* /auth/token: GET answers at once; POST (an OAuth2 form) when its body is read. */
static void token_answer(struct http_req *r, const char *form, size_t len)
{
	json_t *o;
	const char *why = NULL;
	int64_t retry;
	int rc = token_issue(r, form, len, &o, &why, &retry);
	if (rc) {
		reg_error(r, rc, why);
		if (rc == DD_E_UNAUTHORIZED)
			http_add_header(r, "WWW-Authenticate", "Basic realm=\"drydock\"");
		else if (rc == DD_E_TOOMANYREQUESTS)
			http_add_header(r, "Retry-After", arena_printf(&r->arena, "%lld", (long long)retry));
		return;
	}
	char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!text) {
		reg_error(r, DD_E_NOMEM, NULL);
		return;
	}
	http_respond(r, 200, "application/json", text, strlen(text));
	http_add_header(r, "Cache-Control", "no-store");
	free(text);
}

int64_t reg_body_bytes(struct http_req *r)
{
	const char *cl = http_header(r, "Content-Length");
	int64_t len;
	if (cl)
		return !parse_i64(cl, strlen(cl), &len) && len >= 0 ? len : 1;
	return http_header(r, "Transfer-Encoding") ? 1 : 0;
}

int reg_admit(struct http_req *r, int64_t n)
{
	int rc = space_admit(reg_of(r)->reg->space, n);
	if (rc)
		reg_error(r, rc, NULL);
	return rc;
}

int reg_digest(struct http_req *r, const char *s, struct digest *out)
{
	const char *why;
	int rc = digest_parse(s, strlen(s), out, &why);
	if (rc)
		reg_error(r, rc, arena_printf(&r->arena, "'%.140s': %s", s, why));
	return rc;
}

static int is(struct http_req *r, const char *m) { return !strcmp(r->method, m); }

static void base_handle(struct http_req *r)
{
	if (!is(r, "GET") && !is(r, "HEAD")) {
		reg_error(r, DD_E_METHOD, NULL);
		return;
	}
	if (web_access(r, NULL, ACCESS_BASE))
		return;
	if (is(r, "HEAD"))
		http_respond_head(r, 200, "application/json", 2);
	else
		http_respond(r, 200, "application/json", "{}", 2);
}

static void on_begin(struct http_req *r)
{
	struct reg_req *q = arena_alloc(&r->arena, sizeof(*q));
	q->reg = r->app;
	q->range_start = q->range_end = -1;
	buf_init(&q->manifest, DD_MAX_MANIFEST_BYTES);
	r->state = q;

	size_t plen = strlen(r->path);
	if (!strcmp(r->path, TOKEN_PATH)) {
		if (is(r, "GET"))
			token_answer(r, NULL, 0);
		else if (is(r, "POST"))
			q->body = BODY_TOKEN;
		else
			reg_error(r, DD_E_METHOD, NULL);
		return;
	}
	if (plen > DD_MAX_URL_BYTES || route_parse(r->path, plen, &q->route)) {
		reg_error(r, DD_E_NOT_FOUND, NULL);
		return;
	}
	if (q->route.kind == ROUTE_BASE) {
		base_handle(r);
		return;
	}
	if (q->route.kind == ROUTE_CATALOG) {
		catalog_handle(r);
		return;
	}
	const char *why;
	int rc = name_validate(q->route.name, q->route.name_len, &why);
	if (rc) {
		reg_error(r, rc, arena_printf(&r->arena, "'%.*s': %s", (int)(q->route.name_len > 300 ? 300 : q->route.name_len),
					     q->route.name, why));
		return;
	}
	q->name = arena_strndup(&r->arena, q->route.name, q->route.name_len);
	q->arg = arena_strndup(&r->arena, q->route.arg ? q->route.arg : "", q->route.arg_len);
	switch (q->route.kind) {
	case ROUTE_UPLOAD:
		uploads_begin(r);
		break;
	case ROUTE_BLOB:
		blobs_handle(r);
		break;
	case ROUTE_MANIFEST:
		manifests_begin(r);
		break;
	case ROUTE_TAGS:
		tags_handle(r);
		break;
	case ROUTE_REFERRERS:
		referrers_handle(r);
		break;
	default:
		reg_error(r, DD_E_NOT_FOUND, NULL);
	}
}

static void on_body(struct http_req *r, const char *data, size_t n)
{
	struct reg_req *q = reg_of(r);
	if (q->err)
		return; /* discard the rest; the error is answered at the end */
	if (q->body == BODY_UPLOAD)
		uploads_body(r, data, n);
	else if (q->body == BODY_MANIFEST || q->body == BODY_TOKEN) {
		if (buf_append(&q->manifest, data, n) ||
		    (q->body == BODY_TOKEN && q->manifest.len > DD_MAX_TOKEN_FORM_BYTES)) {
			q->err = DD_E_TOO_LARGE;
			q->why = q->body == BODY_TOKEN ? "token request body larger than 16 KiB" : "manifest larger than 4 MiB";
			buf_release(&q->manifest);
		}
	}
}

static void on_end(struct http_req *r)
{
	struct reg_req *q = reg_of(r);
	if (q->body == BODY_UPLOAD)
		uploads_end(r);
	else if (q->body == BODY_MANIFEST)
		manifests_end(r);
	else if (q->body == BODY_TOKEN && !q->err)
		token_answer(r, q->manifest.data ? q->manifest.data : "", q->manifest.len);
	else if (q->err)
		reg_error(r, q->err, q->why);
}

static void on_done(struct http_req *r)
{
	struct reg_req *q = reg_of(r);
	if (!q)
		return;
	if (q->body == BODY_UPLOAD)
		uploads_done(r);
	buf_release(&q->manifest);
}

struct http_app registry_app(struct registry *reg)
{
	struct http_app app = {.ctx = reg, .begin = on_begin, .body = on_body, .end = on_end, .done = on_done};
	return app;
}

int registry_new(struct blobstore *blobs, struct meta *meta, struct registry **out)
{
	*out = NULL;
	struct registry *reg = calloc(1, sizeof(*reg));
	if (!reg)
		return DD_E_NOMEM;
	reg->blobs = blobs;
	reg->meta = meta;
	reg->max_sessions = DD_MAX_UPLOAD_SESSIONS;
	reg->max_sessions_per_owner = DD_MAX_UPLOAD_SESSIONS_PER_ACCOUNT;
	int rc = upload_table_new(meta, &reg->uploads);
	if (rc) {
		free(reg);
		return rc;
	}
	*out = reg;
	return 0;
}

void registry_free(struct registry *reg)
{
	if (!reg)
		return;
	upload_table_free(reg->uploads);
	free(reg);
}
