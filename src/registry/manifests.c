/* manifests.c: GET, HEAD, PUT and DELETE of /v2/<name>/manifests/<reference>.
 *
 * Content negotiation: a manifest is served in the media type it was pushed with, whatever
 * the Accept header lists (the spec allows it; Distribution instead answers 404 to a client
 * that does not list the OCI type). See docs/api.md. */
#include "common/dd.h"
#include "registry.h"
#include "auth/audit.h"
#include "common/log.h"
#include "common/util.h"
#include "auth/access.h"
#include "events/events.h"
#include "events/hooks.h"
#include "http/range.h"
#include "image/manifest.h"
#include "store/meta_admin.h"
#include "store/meta_outbox.h"
#include "store/meta_repos.h"
#include "store/space.h"

/* Splits the reference into a digest or a tag and checks access for action, answering the
 * error itself. A reference that is neither a digest nor a valid tag names nothing that can
 * exist: a PUT of it is invalid (400), a GET, HEAD or DELETE finds nothing (404
 * MANIFEST_UNKNOWN, as Distribution answers and the OCI conformance suite expects of
 * `.INVALID_MANIFEST_NAME`). Access is checked first either way. */
static int parse_reference(struct http_req *r, enum access_action action, int *is_digest, struct digest *d)
{
	struct reg_req *q = reg_of(r);
	const char *why = NULL;
	int rc, bad_tag = 0;
	*is_digest = strchr(q->arg, ':') != NULL;
	if (*is_digest) {
		if ((rc = reg_digest(r, q->arg, d)))
			return rc;
	} else
		bad_tag = tag_validate(q->arg, strlen(q->arg), &why);
	if ((rc = web_access(r, q->name, action)))
		return rc;
	if (!bad_tag)
		return 0;
	rc = action == ACCESS_PUSH ? DD_E_TAG_INVALID : DD_E_MANIFEST_UNKNOWN;
	reg_error(r, rc, arena_printf(&r->arena, "'%.140s': %s", q->arg, why));
	return rc;
}

static void get_manifest(struct http_req *r, int head)
{
	struct reg_req *q = reg_of(r);
	struct registry *reg = q->reg;
	struct digest d;
	int is_digest, rc;
	if (parse_reference(r, ACCESS_PULL, &is_digest, &d))
		return;
	struct manifest_rec m;
	rc = reg->meta->repos->manifest_get(reg->meta, &r->arena, q->name, is_digest ? d.str : q->arg, is_digest, !head, &m);
	if (rc) {
		reg_error(r, rc, rc == DD_E_MANIFEST_UNKNOWN ? arena_printf(&r->arena, "'%s'", q->arg)
			  : rc == DD_E_NAME_UNKNOWN ? arena_printf(&r->arena, "'%s'", q->name) : NULL);
		return;
	}
	const char *why;
	if (reg->pull_gate && reg->pull_gate(reg->pull_gate_ctx, reg->meta, &r->arena, q->name, m.digest, &why)) {
		reg_error_msg(r, DD_E_DENIED, why, why); /* docker shows the message: say why */
		return;
	}
	const char *inm = http_header(r, "If-None-Match");
	if (inm && strstr(inm, m.digest)) {
		http_respond(r, 304, NULL, "", 0);
	} else if (head)
		http_respond_head(r, 200, m.media_type, m.size);
	else
		http_respond(r, 200, m.media_type, m.content, (size_t)m.size);
	http_add_header(r, "Docker-Content-Digest", m.digest);
	http_add_header(r, "ETag", arena_printf(&r->arena, "\"%s\"", m.digest));
}

static void delete_manifest(struct http_req *r)
{
	struct reg_req *q = reg_of(r);
	struct registry *reg = q->reg;
	struct digest d;
	int is_digest, rc;
	if (parse_reference(r, ACCESS_DELETE, &is_digest, &d))
		return;
	/* deleting needs room in SQLite too: on a full disk a step of the reserve is released for it */
	if (is_digest)
		SPACE_RETRY(reg->space, rc, reg->meta->repos->manifest_delete(reg->meta, q->name, d.str));
	else
		SPACE_RETRY(reg->space, rc, reg->meta->repos->tag_delete(reg->meta, q->name, q->arg));
	if (rc) {
		reg_error(r, rc, rc == DD_E_MANIFEST_UNKNOWN ? arena_printf(&r->arena, "'%s'", q->arg) : NULL);
		return;
	}
	if (is_digest) {
		struct event ev = {.kind = EVENT_MANIFEST_DELETED, .repo = q->name, .digest = d.str};
		events_emit(&ev);
		audit_record(r, reg->meta, "delete", arena_printf(&r->arena, "%s@%s", q->name, d.str), NULL);
		const char *text = hook_event(&r->arena, HOOK_IMAGE_DELETED, q->name, d.str, util_now(),
					      json_pack("{s:s}", "actor", access_actor(r)));
		struct outbox_event hook = {.type = HOOK_IMAGE_DELETED, .repo = q->name, .payload = text};
		if (text && reg->meta->outbox->outbox_add(reg->meta, &hook))
			log_warn("cannot queue the webhook event of the deletion of %s@%s", q->name, d.str);
	} else
		audit_record(r, reg->meta, "tag-delete", arena_printf(&r->arena, "%s:%s", q->name, q->arg), NULL);
	http_respond(r, 202, NULL, "", 0);
}

void manifests_begin(struct http_req *r)
{
	struct reg_req *q = reg_of(r);
	if (!strcmp(r->method, "GET") || !strcmp(r->method, "HEAD")) {
		get_manifest(r, r->method[0] == 'H');
		return;
	}
	if (!strcmp(r->method, "DELETE")) {
		delete_manifest(r);
		return;
	}
	if (strcmp(r->method, "PUT")) {
		reg_error(r, DD_E_METHOD, NULL);
		return;
	}
	struct digest d;
	int is_digest;
	if (parse_reference(r, ACCESS_PUSH, &is_digest, &d))
		return;
	const char *cl = http_header(r, "Content-Length");
	int64_t len;
	if (cl && !parse_i64(cl, strlen(cl), &len) && len > DD_MAX_MANIFEST_BYTES) {
		reg_error(r, DD_E_TOO_LARGE, "manifest larger than 4 MiB");
		return;
	}
	int64_t n = reg_body_bytes(r);
	if (reg_admit(r, n > 0 ? n : 1))
		return;
	q->body = BODY_MANIFEST;
}

/* Every descriptor's size must be that of the blob or manifest it names, where the repository
 * holds it (one it lacks is left to manifest_put, which answers MANIFEST_BLOB_UNKNOWN): the
 * image spec says content whose length differs from its descriptor's must not be trusted, so a
 * registry that stores the lie serves every client content it must refuse. (Distribution checks
 * only that the blobs exist; OpenShift's registry refuses a size that differs, as here.) */
static int check_sizes(struct http_req *r, struct registry *reg, const char *repo, const struct manifest_info *info,
		       const char **why)
{
	for (size_t i = 0; i < info->nrefs; i++) {
		const struct manifest_ref *ref = &info->refs[i];
		int64_t have;
		if (ref->kind == REF_MANIFEST) {
			struct manifest_rec m;
			if (reg->meta->repos->manifest_get(reg->meta, &r->arena, repo, ref->digest, 1, 0, &m))
				continue;
			have = m.size;
		} else if (reg->meta->repos->blob_linked(reg->meta, repo, ref->digest, &have))
			continue;
		if (have == ref->size)
			continue;
		const char *where = info->is_index ? arena_printf(&r->arena, "manifests[%zu]", i)
				    : i == 0	   ? "config"
						   : arena_printf(&r->arena, "layers[%zu]", i - 1);
		*why = arena_printf(&r->arena, "%s: size %" PRId64 " differs from the %" PRId64 " bytes of '%s'", where,
				    ref->size, have, ref->digest);
		return DD_E_MANIFEST_INVALID;
	}
	return 0;
}

void manifests_end(struct http_req *r)
{
	struct reg_req *q = reg_of(r);
	struct registry *reg = q->reg;
	if (q->err) {
		reg_error(r, q->err, q->why);
		return;
	}
	struct digest ref, got;
	int is_digest = strchr(q->arg, ':') != NULL;
	const char *why;
	if (is_digest)
		digest_parse(q->arg, strlen(q->arg), &ref, &why); /* checked in manifests_begin */
	const char *data = q->manifest.data ? q->manifest.data : "";
	size_t len = q->manifest.len;
	struct manifest_info info;
	int rc = manifest_parse(&r->arena, data, len, http_header(r, "Content-Type"), &info, &why);
	if (rc) {
		reg_error(r, rc, why);
		return;
	}
	digest_of(is_digest ? ref.alg : DIGEST_SHA256, data, len, &got);
	if (is_digest && strcmp(ref.str, got.str)) {
		reg_error(r, DD_E_DIGEST_INVALID, arena_printf(&r->arena, "manifest is %s, not %s", got.str, ref.str));
		return;
	}
	if ((rc = check_sizes(r, reg, q->name, &info, &why))) {
		reg_error(r, rc, why);
		return;
	}
	struct manifest_put p = {
		.rec = {.repo = q->name, .digest = got.str, .media_type = info.media_type,
			.artifact_type = info.artifact_type, .subject = info.subject, .annotations = info.annotations,
			.content = data, .size = (int64_t)len},
		.tag = is_digest ? NULL : q->arg,
		.refs = info.refs,
		.nrefs = info.nrefs,
		.queue_scan = reg->scan_on_push,
	};
	/* one transaction, one fsync: the manifest, its tag, its assessment job, its audit entry */
	struct audit_rec audit = {.time = util_now(), .actor = access_actor(r), .action = "push",
				  .target = arena_printf(&r->arena, "%s@%s", q->name, got.str),
				  .detail = p.tag ? arena_printf(&r->arena, "{\"tag\":\"%s\"}", p.tag) : ""};
	p.audit = &audit;
	if (*info.subject && manifest_is_vex_type(*info.artifact_type ? info.artifact_type : info.config.media_type) &&
	    !access_check(r, q->name, ACCESS_SETTINGS) &&
	    (rc = reg->meta->admin->setting_put(reg->meta, arena_printf(&r->arena, VEX_PUSHER_PREFIX "%s@%s", q->name,
									got.str),
					       audit.actor))) {
		reg_error(r, rc, NULL);
		return;
	}
	json_t *fields = json_pack("{s:s, s:I, s:s}", "media_type", info.media_type, "size", (json_int_t)len, "actor",
				   audit.actor);
	if (fields && p.tag)
		json_object_set_new(fields, "tag", json_string(p.tag));
	struct outbox_event hook = {.type = HOOK_IMAGE_PUSHED, .repo = q->name,
				    .payload = hook_event(&r->arena, HOOK_IMAGE_PUSHED, q->name, got.str, audit.time, fields)};
	p.event = hook.payload ? &hook : NULL;
	const char *missing;
	rc = reg->meta->repos->manifest_put(reg->meta, &r->arena, &p, &missing);
	if (rc) {
		reg_error(r, rc, missing);
		return;
	}
	struct event ev = {.kind = EVENT_MANIFEST_PUT, .repo = q->name, .digest = got.str,
			   .media_type = info.media_type, .tag = p.tag, .size = (int64_t)len};
	events_emit(&ev);
	http_respond(r, 201, NULL, "", 0);
	http_add_header(r, "Location", arena_printf(&r->arena, "/v2/%s/manifests/%s", q->name, got.str));
	http_add_header(r, "Docker-Content-Digest", got.str);
	if (*info.subject)
		http_add_header(r, "OCI-Subject", info.subject);
}
