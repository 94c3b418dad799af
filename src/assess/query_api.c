/* query_api.c: the query language over HTTP (see tables.h): POST /api/v1/query, and Resource
 * Graph's POST /providers/Microsoft.ResourceGraph/resources with its request and answer shapes
 * and its errors, so that its clients and scripts can point here. */
#include "common/dd.h"
#include "assess/tables.h"
#include "assess/api.h"
#include "assess/azure.h"
#include "auth/access.h"
#include "common/arena.h"
#include "common/limits.h"
#include "web/reply.h"
#include <jansson.h>
#include <stdatomic.h>

#define RG_PREFIX "/providers/Microsoft.ResourceGraph/"

static atomic_int running; /* queries under way, server-wide */

int query_api_route(const char *path)
{
	return !strcmp(path, "/api/v1/query") || !strncasecmp(path, RG_PREFIX, strlen(RG_PREFIX));
}

static int is_rg(struct http_req *r) { return !strncasecmp(r->path, RG_PREFIX, strlen(RG_PREFIX)); }

/* A bad request in the endpoint's own shape: Resource Graph's CloudError with details, or the
 * security API's error JSON with the position. line 0: no position. */
static void query_error(struct http_req *r, int status, const char *code, const char *message, int line, int column)
{
	if (is_rg(r)) {
		json_t *d = json_pack("{s:s, s:s}", "code", code, "message", message);
		if (line) {
			json_object_set_new(d, "line", json_integer(line));
			json_object_set_new(d, "characterPositionInLine", json_integer(column - 1));
		}
		web_send_json(r, status,
			      json_pack("{s:{s:s, s:s, s:[o]}}", "error", "code", status == 400 ? "BadRequest" : code,
					"message", status == 400 ? "Please check the query and the request." : message,
					"details", d));
		return;
	}
	json_t *e = json_pack("{s:s, s:s}", "code", code, "message", message);
	if (line)
		json_object_set_new(e, "detail", json_pack("{s:i, s:i}", "line", line, "column", column));
	web_send_json(r, status, json_pack("{s:[o]}", "errors", e));
}

/* The api-versions of Resource Graph's resources operation. */
static const char *const rg_versions[] = {"2019-04-01", "2020-04-01-preview", "2021-03-01", "2021-06-01-preview",
					  "2022-10-01", "2024-04-01", NULL};

void query_api_begin(struct http_req *r, struct assess_api *api, void (*ask_body)(struct http_req *r))
{
	(void)api;
	int rg = is_rg(r);
	if (rg && strcasecmp(r->path, RG_PREFIX "resources")) {
		azure_error(r, 404, "ResourceNotFound",
			    "the Resource Graph operation here is POST /providers/Microsoft.ResourceGraph/resources");
		return;
	}
	if (strcmp(r->method, "POST")) {
		query_error(r, 405, rg ? "MethodNotAllowed" : "UNSUPPORTED", "a query is sent with POST", 0, 0);
		http_add_header(r, "Allow", "POST"); /* on the response just set */
		return;
	}
	if (rg ? azure_access(r) : web_access(r, NULL, ACCESS_BASE)) /* then each row as the caller's roles allow */
		return;
	if (rg) {
		const char *v = http_query(r, "api-version");
		int known = 0;
		for (const char *const *k = rg_versions; v && *k && !known; k++)
			known = !strcmp(v, *k);
		if (!v || !*v) {
			azure_error(r, 400, "MissingApiVersionParameter",
				    "The api-version query parameter (?api-version=) is required for all requests.");
			return;
		}
		if (!known) {
			azure_error(r, 400, "InvalidApiVersionParameter",
				    arena_printf(&r->arena,
						 "The api-version '%.64s' is invalid. The supported versions are '2019-04-01,"
						 "2020-04-01-preview,2021-03-01,2021-06-01-preview,2022-10-01,2024-04-01'.",
						 v));
			return;
		}
	}
	ask_body(r);
}

/* A non-negative integer option (a JSON number, or a string of digits as Resource Graph's
 * $skipToken is): 0, or -1 when it is something else. */
static int option_count(json_t *o, const char *name, long long dflt, long long *out)
{
	json_t *v = json_object_get(o, name);
	*out = dflt;
	if (!v)
		return 0;
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = json_integer_value(v);
		return 0;
	}
	const char *s = json_string_value(v);
	if (!s || !*s || strlen(s) > 15 || strspn(s, "0123456789") != strlen(s))
		return -1;
	*out = atoll(s);
	return 0;
}

void query_api_body(struct http_req *r, struct assess_api *api, const char *body, size_t len)
{
	int rg = is_rg(r);
	json_error_t je;
	json_t *req = json_loadb(body, len, 0, &je), *opts;
	const char *text = json_string_value(json_object_get(req, "query"));
	const char *bad = NULL;
	if (!json_is_object(req))
		bad = arena_printf(&r->arena, "the body is not a JSON object: %s", je.text);
	else if (!text)
		bad = "the body names no query: {\"query\": \"securityresources | take 5\"}";
	opts = json_object_get(req, "options");
	if (!bad && opts && !json_is_object(opts))
		bad = "options is an object: {\"$top\": 100, \"$skip\": 0}";
	long long top, skip, token;
	if (!bad && (option_count(opts, "$top", rg ? DD_RG_PAGE : DD_QUERY_PAGE, &top) || top < 1 ||
		     option_count(opts, "$skip", 0, &skip) || option_count(opts, "$skipToken", 0, &token)))
		bad = "$top is an integer of at least 1; $skip and $skipToken are non-negative integers";
	const char *format = json_string_value(json_object_get(opts, "resultFormat"));
	format = format ? arena_strdup(&r->arena, format) : NULL; /* beyond the body's release below */
	if (!bad && json_object_get(opts, "resultFormat") && (!format || (strcmp(format, "table") && strcmp(format, "objectArray"))))
		bad = "resultFormat is \"table\" or \"objectArray\"";
	json_t *subs = json_object_get(req, "subscriptions");
	size_t nsubs = json_array_size(subs);
	const char **sv = arena_alloc(&r->arena, (nsubs + 1) * sizeof(*sv));
	for (size_t i = 0; !bad && i < nsubs; i++)
		if (!(sv[i] = json_string_value(json_array_get(subs, i))))
			bad = "subscriptions is an array of subscription ids";
	if (!bad && subs && !json_is_array(subs))
		bad = "subscriptions is an array of subscription ids";
	if (bad) {
		query_error(r, 400, rg ? "InvalidRequestContent" : "QUERY_INVALID", bad, 0, 0);
		json_decref(req);
		return;
	}
	if (top > (rg ? DD_MAX_RG_PAGE : DD_MAX_QUERY_PAGE))
		top = rg ? DD_MAX_RG_PAGE : DD_MAX_QUERY_PAGE;
	skip += token;
	if (atomic_fetch_add(&running, 1) >= DD_MAX_QUERIES_RUNNING) {
		atomic_fetch_sub(&running, 1);
		query_error(r, 429, rg ? "RateLimiting" : "TOOMANYREQUESTS",
			    arena_printf(&r->arena, "%d queries are running already: try again in a moment",
					 DD_MAX_QUERIES_RUNNING),
			    0, 0);
		http_add_header(r, "Retry-After", "1");
		json_decref(req);
		return;
	}
	struct query_limits lim = {.max_bytes = DD_MAX_QUERY_SERVER_BYTES};
	struct assess_query aq = {.r = r, .subscriptions = sv, .nsubscriptions = nsubs, .limits = &lim};
	struct query_result res;
	struct query_error err;
	int rc = assess_query_run(api, &aq, text, strlen(text), &res, &err);
	json_decref(req);
	if (rc) {
		atomic_fetch_sub(&running, 1);
		const char *code = rc == DD_E_USAGE ? (rg ? "InvalidQuery" : "QUERY_INVALID")
				   : rc == DD_E_TOO_LARGE ? (rg ? "QueryLimitExceeded" : "QUERY_LIMIT")
							  : (rg ? "InternalServerError" : "UNKNOWN");
		int status = rc == DD_E_USAGE || rc == DD_E_TOO_LARGE ? 400 : 500;
		query_error(r, status, code, arena_printf(&r->arena, "line %d, column %d: %s", err.line, err.column, err.message),
			    err.line, err.column);
		return;
	}
	struct buf out;
	buf_init(&out, (size_t)DD_MAX_QUERY_SERVER_BYTES);
	size_t total = res.nrows, first = (size_t)skip < total ? (size_t)skip : total;
	size_t count = total - first < (size_t)top ? total - first : (size_t)top;
	int more = first + count < total;
	int e = buf_printf(&out, "{\"totalRecords\":%zu,\"count\":%zu,", total, count);
	if (rg) {
		e = e || buf_puts(&out, "\"data\":") ||
		    assess_query_page_json(&res, first, count,
					   !format || !strcmp(format, "objectArray") ? PAGE_OBJECTS : PAGE_TABLE, &out) ||
		    buf_printf(&out, ",\"facets\":[],\"resultTruncated\":\"%s\"", more ? "true" : "false");
		if (more)
			e = e || buf_printf(&out, ",\"$skipToken\":\"%zu\"", first + count);
	} else {
		e = e || assess_query_page_json(&res, first, count, PAGE_MEMBERS, &out) ||
		    buf_printf(&out, ",\"truncated\":%s", more ? "true" : "false");
	}
	e = e || buf_puts(&out, "}\n");
	query_result_free(&res);
	if (e)
		query_error(r, 500, rg ? "InternalServerError" : "UNKNOWN", "the answer is too large to write", 0, 0);
	else
		http_respond(r, 200, "application/json", out.data, out.len);
	buf_release(&out);
	atomic_fetch_sub(&running, 1); /* the result and its answer are gone: the next may run */
}
