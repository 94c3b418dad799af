/* reply.c: the shared answers of reply.h. */
#include "common/dd.h"
#include "reply.h"
#include "common/log.h"
#include "store/space.h"
#include <jansson.h>

void web_error(struct http_req *r, int err, const char *detail) { web_error_msg(r, err, NULL, detail); }

void web_send_json(struct http_req *r, int status, json_t *o)
{
	char *text = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
	json_decref(o);
	if (!text) {
		web_error(r, DD_E_NOMEM, NULL);
		return;
	}
	http_respond(r, status, "application/json", text, strlen(text));
	free(text);
}

const char *web_no_space_detail(struct http_req *r, struct space *sp)
{
	struct space_stat st;
	if (!sp || space_stat(sp, &st))
		return NULL;
	return arena_printf(&r->arena,
			    "%" PRId64 " bytes free on the data directory's filesystem; pushes are refused while"
			    " fewer than %" PRId64 " (min-free-space) and the reserve of %" PRId64
			    " (reserve-space) would be left; delete images and run garbage collection",
			    st.free_bytes, st.min_free, st.reserve_wanted);
}

void web_error_msg(struct http_req *r, int err, const char *message, const char *detail)
{
	json_t *e = json_pack("{s:s, s:s}", "code", dd_err_oci_code(err), "message",
			      message ? message : dd_err_message(err));
	if (detail)
		json_object_set_new(e, "detail", json_string(detail));
	json_t *doc = json_pack("{s:[o]}", "errors", e);
	char *text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	int status = dd_err_http_status(err);
	if (!text) {
		http_respond(r, 500, "text/plain", "out of memory\n", 14);
		return;
	}
	size_t len = strlen(text);
	if (!strcmp(r->method, "HEAD"))
		http_respond_head(r, status, "application/json", (int64_t)len);
	else
		http_respond(r, status, "application/json", text, len);
	free(text);
	if (err == DD_E_METHOD || err == DD_E_NOT_IMPLEMENTED) /* the client's choice, not a fault here */
		log_debug("%s %s: %s", r->method, r->path, dd_err_message(err));
	else if (err == DD_E_NO_SPACE) /* the disk's state, said once by the janitor: not a fault here */
		log_warn("%s %s: %s", r->method, r->path, message ? message : dd_err_message(err));
	else if (dd_err_http_status(err) >= 500)
		log_error("%s %s: %s%s%s", r->method, r->path, dd_err_message(err), detail ? ": " : "",
			  detail ? detail : "");
}

/* Answers a refusal of access_check with its error JSON and challenge headers. */
static int refused(struct http_req *r, int rc, const char *repo, enum access_action action, const char *extra)
{
	if (rc) {
		/* credentials that failed say why in the message too: docker shows only the message */
		const char *why = access_why(r);
		web_error_msg(r, rc, why, why);
		access_add_challenge_scope(r, rc, repo, action, extra);
	}
	return rc;
}

int web_access(struct http_req *r, const char *repo, enum access_action action)
{
	return refused(r, access_check(r, repo, action), repo, action, NULL);
}

int web_access_scope(struct http_req *r, const char *repo, enum access_action action, const char *extra_scope)
{
	return refused(r, access_check(r, repo, action), repo, action, extra_scope);
}

int web_access_ns(struct http_req *r, const char *ns, enum access_action action)
{
	return refused(r, access_check_ns(r, ns, action), NULL, action, NULL);
}
