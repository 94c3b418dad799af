/* lists.c: tag lists, the catalog and the referrers index, with n/last pagination and a
 * Link header whenever more entries follow. */
#include "common/dd.h"
#include "registry.h"
#include "auth/access.h"
#include "http/range.h"
#include "image/manifest.h"
#include "store/meta_repos.h"
#include <jansson.h>

/* Reads n and last. *limit is the page size (capped at DD_MAX_PAGE; a Link header then
 * tells the client that more follow, so the cap is never silent). */
static int page_args(struct http_req *r, int64_t *limit, const char **last, int64_t *asked)
{
	const char *n = http_query(r, "n");
	*last = http_query(r, "last");
	if (!*last)
		*last = "";
	*limit = DD_MAX_PAGE;
	*asked = -1;
	if (n) {
		if (parse_i64(n, strlen(n), asked)) {
			reg_error(r, DD_E_PAGINATION_INVALID, arena_printf(&r->arena, "n='%.32s' is not a non-negative integer", n));
			return DD_E_PAGINATION_INVALID;
		}
		if (*asked < *limit)
			*limit = *asked;
	}
	return 0;
}

static void send_json(struct http_req *r, json_t *doc, const char *content_type)
{
	char *text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	if (!text) {
		reg_error(r, DD_E_NOMEM, NULL);
		return;
	}
	if (!strcmp(r->method, "HEAD"))
		http_respond_head(r, 200, content_type, (int64_t)strlen(text));
	else
		http_respond(r, 200, content_type, text, strlen(text));
	free(text);
}

static void send_page(struct http_req *r, const char *base, const char *key, const char *name, const char **v,
		      size_t n, int more, int64_t limit)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, json_string(v[i]));
	json_t *doc = name ? json_pack("{s:s, s:o}", "name", name, key, arr) : json_pack("{s:o}", key, arr);
	send_json(r, doc, "application/json");
	if (more && n > 0)
		http_add_header(r, "Link", arena_printf(&r->arena, "<%s?n=%" PRId64 "&last=%s>; rel=\"next\"", base, limit,
							v[n - 1]));
}

static int read_method(struct http_req *r)
{
	if (!strcmp(r->method, "GET") || !strcmp(r->method, "HEAD"))
		return 0;
	reg_error(r, DD_E_METHOD, NULL);
	return DD_E_METHOD;
}

void tags_handle(struct http_req *r)
{
	struct reg_req *q = reg_of(r);
	struct registry *reg = q->reg;
	int64_t limit, asked;
	const char *last, **v;
	size_t n;
	int more, rc;
	if (read_method(r) || page_args(r, &limit, &last, &asked))
		return;
	if (web_access(r, q->name, ACCESS_PULL))
		return;
	if ((rc = reg->meta->repos->tags_list(reg->meta, &r->arena, q->name, last, limit, &v, &n, &more))) {
		reg_error(r, rc, rc == DD_E_NAME_UNKNOWN ? arena_printf(&r->arena, "'%s'", q->name) : NULL);
		return;
	}
	send_page(r, arena_printf(&r->arena, "/v2/%s/tags/list", q->name), "tags", q->name, v, n, more, limit);
}

void catalog_handle(struct http_req *r)
{
	struct reg_req *q = reg_of(r);
	struct registry *reg = q->reg;
	int64_t limit, asked;
	const char *last, **v;
	size_t n;
	int more, rc;
	if (read_method(r) || page_args(r, &limit, &last, &asked))
		return;
	if (web_access(r, NULL, ACCESS_CATALOG))
		return;
	if (!access_config()->enabled) {
		if ((rc = reg->meta->repos->catalog(reg->meta, &r->arena, last, limit, &v, &n, &more))) {
			reg_error(r, rc, NULL);
			return;
		}
		send_page(r, "/v2/_catalog", "repositories", NULL, v, n, more, limit);
		return;
	}
	/* Only what the caller may see: read the catalog in chunks, keep the visible names, and
	 * look one visible name past the page so that the Link header is only sent when more
	 * follow. */
	const char **page = arena_alloc(&r->arena, sizeof(char *) * (size_t)(limit + 1));
	size_t got = 0;
	more = 0;
	const char *cursor = last;
	while (limit > 0 && !more) {
		int chunk_more;
		if ((rc = reg->meta->repos->catalog(reg->meta, &r->arena, cursor, 1000, &v, &n, &chunk_more))) {
			reg_error(r, rc, NULL);
			return;
		}
		for (size_t i = 0; i < n && !more; i++) {
			if (!access_visible(r, v[i]))
				continue;
			if ((int64_t)got == limit)
				more = 1;
			else
				page[got++] = v[i];
		}
		if (!chunk_more || !n)
			break;
		cursor = v[n - 1];
	}
	send_page(r, "/v2/_catalog", "repositories", NULL, page, got, more, limit);
}

void referrers_handle(struct http_req *r)
{
	struct reg_req *q = reg_of(r);
	struct registry *reg = q->reg;
	struct digest d;
	int rc;
	if (read_method(r) || reg_digest(r, q->arg, &d))
		return;
	if (web_access(r, q->name, ACCESS_PULL))
		return;
	const char *at = http_query(r, "artifactType");
	if (at && !*at)
		at = NULL;
	struct manifest_rec *v;
	size_t n;
	if ((rc = reg->meta->repos->referrers(reg->meta, &r->arena, q->name, d.str, at, &v, &n))) {
		reg_error(r, rc, NULL);
		return;
	}
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *desc = json_pack("{s:s, s:s, s:I}", "mediaType", v[i].media_type, "digest", v[i].digest, "size",
					 (json_int_t)v[i].size);
		if (*v[i].artifact_type)
			json_object_set_new(desc, "artifactType", json_string(v[i].artifact_type));
		if (*v[i].annotations) {
			json_t *ann = json_loads(v[i].annotations, 0, NULL);
			if (ann)
				json_object_set_new(desc, "annotations", ann);
		}
		json_array_append_new(arr, desc);
	}
	json_t *doc = json_pack("{s:i, s:s, s:o}", "schemaVersion", 2, "mediaType", MT_OCI_INDEX, "manifests", arr);
	send_json(r, doc, MT_OCI_INDEX);
	if (at)
		http_add_header(r, "OCI-Filters-Applied", "artifactType");
}
