/* admission.c: the validating admission webhook (see admission.h). */
#include "common/dd.h"
#include "assess/admission.h"
#include "assess/api.h"
#include "assess/rules.h"
#include "auth/access.h"
#include "common/arena.h"
#include "common/limits.h"
#include "common/util.h"
#include "scan/parts.h"
#include "store/meta_repos.h"
#include "web/reply.h"
#include <jansson.h>

static int hex_only(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

int admission_ref_parse(struct arena *a, const char *text, struct image_ref *out)
{
	memset(out, 0, sizeof(*out));
	size_t len = strlen(text);
	if (!len || len > 4096 || strpbrk(text, " \t\r\n"))
		return 1;
	const char *at = strchr(text, '@');
	if (at) {
		const char *d = at + 1;
		if (!((!strncmp(d, "sha256:", 7) && strlen(d) == 71 && hex_only(d + 7, 64)) ||
		      (!strncmp(d, "sha512:", 7) && strlen(d) == 135 && hex_only(d + 7, 128))))
			return 1;
		out->digest = arena_strdup(a, d);
		len = (size_t)(at - text);
	}
	const char *name = arena_strndup(a, text, len);
	const char *slash = strchr(name, '/');
	if (slash) {
		size_t hn = (size_t)(slash - name);
		const char *first = arena_strndup(a, name, hn);
		if (strpbrk(first, ".:") || !strcmp(first, "localhost")) {
			out->host = first;
			name = slash + 1;
		}
	}
	const char *colon = strrchr(name, ':');
	if (colon && !strchr(colon, '/')) {
		out->tag = arena_strdup(a, colon + 1);
		name = arena_strndup(a, name, (size_t)(colon - name));
	}
	if (!*name || (out->tag && !*out->tag))
		return 1;
	out->repo = name;
	if (!out->tag && !out->digest)
		out->tag = "latest";
	return 0;
}

/* Whether host is one of the registry's names: the configured list, or else the Host header. */
static int host_is_ours(struct http_req *r, const struct assess_api *api, const char *host)
{
	if (!host)
		return 0;
	const char *list = api->admission.hosts && *api->admission.hosts ? api->admission.hosts : http_header(r, "Host");
	for (const char *p = list ? list : ""; *p;) {
		size_t n = strcspn(p, ",");
		while (n && p[n - 1] == ' ')
			n--;
		if (n == strlen(host) && !strncasecmp(p, host, n))
			return 1;
		p += strcspn(p, ",");
		p += *p == ',';
		while (*p == ' ')
			p++;
	}
	return 0;
}

/* 1 for the kinds whose pod spec the webhook reads. */
static int is_workload(const char *kind)
{
	static const char *const kinds[] = {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet",
					    "ReplicationController", "Job", "CronJob"};
	for (size_t i = 0; i < DD_ARRAY_LEN(kinds); i++)
		if (!strcmp(kind, kinds[i]))
			return 1;
	return 0;
}

/* The pod spec of the object a review is about, by its kind; NULL for a kind without one. */
static json_t *pod_spec(json_t *object, const char *kind)
{
	json_t *spec = json_object_get(object, "spec");
	if (!strcmp(kind, "Pod"))
		return spec;
	static const char *const templated[] = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet",
						"ReplicationController", "Job"};
	for (size_t i = 0; i < DD_ARRAY_LEN(templated); i++)
		if (!strcmp(kind, templated[i]))
			return json_object_get(json_object_get(spec, "template"), "spec");
	if (!strcmp(kind, "CronJob"))
		return json_object_get(
			json_object_get(json_object_get(json_object_get(spec, "jobTemplate"), "spec"), "template"), "spec");
	return NULL;
}

#define ADMISSION_MAX_IMAGES 256 /* container images looked at in one review */

struct verdict {
	struct arena *a;
	const char *denied;   /* the reasons, "; "-joined */
	json_t *warnings;
	const char **seen;    /* images checked already */
	size_t nseen;
	int over;             /* more images than are looked at */
	size_t checks;        /* pull-policy checks run (each image, each platform of an index) */
	size_t nreasons;      /* reasons to deny, named or not */
	const char **resolved; /* repo@digest checked already */
	size_t nresolved;
};

#define ADMISSION_MAX_REASONS 20 /* named in the message; the rest counted */

static void deny(struct verdict *v, const char *why)
{
	if (v->nreasons++ < ADMISSION_MAX_REASONS)
		v->denied = *v->denied ? arena_printf(v->a, "%s; %s", v->denied, why) : why;
}

/* 1 when one more policy check may run (ADMISSION_MAX_IMAGES in all, platforms counted);
 * denies once when none may. */
static int budget(struct verdict *v)
{
	if (v->checks < ADMISSION_MAX_IMAGES) {
		v->checks++;
		return 1;
	}
	v->over = 1; /* said first, in the answer */
	return 0;
}

/* Checks repo@digest, or each platform of an index there, by its namespace's pull policy. */
static void check_digest(struct http_req *r, struct assess_api *api, struct verdict *v, const char *shown,
			 const char *repo, const char *digest)
{
	struct arena *a = v->a;
	struct manifest_rec m;
	if (api->meta->repos->manifest_get(api->meta, a, repo, digest, 1, 1, &m)) {
		deny(v, arena_printf(a, "image %s: not on this registry", shown));
		return;
	}
	const char *key = arena_printf(a, "%s@%s", repo, digest), *why;
	for (size_t i = 0; i < v->nresolved; i++) /* tags and digests of the same image: checked once */
		if (!strcmp(v->resolved[i], key))
			return;
	if (!budget(v))
		return;
	v->resolved[v->nresolved++] = key;
	if (policy_check_pull(api->scanner, api->meta, a, repo, digest, &why)) {
		deny(v, arena_printf(a, "image %s: %s", shown, why));
		return;
	}
	int is_index;
	struct image_part *parts;
	size_t n;
	if (!image_parts_is_index(m.media_type) ||
	    image_parts(a, m.content, (size_t)m.size, m.media_type, &is_index, &parts, &n, NULL) || !is_index)
		return;
	for (size_t i = 0; i < n && budget(v); i++) /* each platform the cluster's nodes may pull */
		if (policy_check_pull(api->scanner, api->meta, a, repo, parts[i].digest, &why))
			deny(v, arena_printf(a, "image %s (platform %s, %s): %s", shown,
					     parts[i].platform ? parts[i].platform : "unknown", parts[i].digest, why));
	(void)r;
}

static void check_image(struct http_req *r, struct assess_api *api, struct verdict *v, const char *container,
			const char *image)
{
	struct arena *a = v->a;
	for (size_t i = 0; i < v->nseen; i++)
		if (!strcmp(v->seen[i], image))
			return;
	if (v->nseen >= ADMISSION_MAX_IMAGES) {
		v->over = 1;
		return;
	}
	v->seen[v->nseen++] = image;
	struct image_ref ref;
	if (admission_ref_parse(a, image, &ref)) {
		deny(v, arena_printf(a, "container %.100s: '%.200s' is not an image reference", container, image));
		return;
	}
	if (!host_is_ours(r, api, ref.host)) {
		if (api->admission.deny_other)
			deny(v, arena_printf(a, "image %.300s is not from this registry (admission-other-images = deny)", image));
		else
			json_array_append_new(v->warnings,
					      json_string(arena_printf(a, "image %.300s is not from this registry: not checked", image)));
		return;
	}
	if (access_check(r, ref.repo, ACCESS_PULL)) {
		deny(v, arena_printf(a, "image %.300s: the webhook's account may not pull %s", image, ref.repo));
		return;
	}
	const char *digest = ref.digest;
	if (!digest) {
		struct manifest_rec m;
		if (api->meta->repos->manifest_get(api->meta, a, ref.repo, ref.tag, 0, 0, &m)) {
			deny(v, arena_printf(a, "image %.300s: tag '%.128s' of %.256s is not on this registry", image, ref.tag,
					     ref.repo));
			return;
		}
		digest = m.digest;
	}
	check_digest(r, api, v, arena_printf(a, "%.300s%s%s", image, ref.digest ? "" : " = ", ref.digest ? "" : digest),
		     ref.repo, digest);
}

static void review_error(struct http_req *r, const char *why) { web_error(r, DD_E_USAGE, why); }

void admission_handle(struct http_req *r, struct assess_api *api, const char *body, size_t len)
{
	json_error_t jerr;
	json_t *rev = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!rev) {
		review_error(r, arena_printf(&r->arena, "the body is not JSON: %s (line %d, column %d)", jerr.text, jerr.line,
					     jerr.column));
		return;
	}
	const char *version = json_string_value(json_object_get(rev, "apiVersion"));
	json_t *req = json_object_get(rev, "request");
	const char *uid = json_string_value(json_object_get(req, "uid"));
	if (!json_is_object(rev) || !version || (strcmp(version, "admission.k8s.io/v1") &&
						 strcmp(version, "admission.k8s.io/v1beta1"))) {
		json_decref(rev);
		review_error(r, "the body must be an AdmissionReview of apiVersion admission.k8s.io/v1");
		return;
	}
	const char *kind = json_string_value(json_object_get(rev, "kind"));
	if (!kind || strcmp(kind, "AdmissionReview") || !json_is_object(req) || !uid) {
		json_decref(rev);
		review_error(r, "an AdmissionReview needs kind \"AdmissionReview\" and a request with a uid");
		return;
	}
	struct verdict v = {.a = &r->arena, .denied = "", .warnings = json_array(),
			    .seen = arena_alloc(&r->arena, (ADMISSION_MAX_IMAGES + 1) * sizeof(*v.seen)),
			    .resolved = arena_alloc(&r->arena, (ADMISSION_MAX_IMAGES + 1) * sizeof(*v.resolved))};
	const char *op = json_string_value(json_object_get(req, "operation"));
	const char *okind = json_string_value(json_object_get(json_object_get(req, "kind"), "kind"));
	json_t *object = json_object_get(req, "object");
	int runs = !op || (strcmp(op, "DELETE") && strcmp(op, "CONNECT")); /* a deletion runs nothing */
	int handled = okind && is_workload(okind);
	json_t *spec = handled && json_is_object(object) ? pod_spec(object, okind) : NULL;
	const char *said = json_string_value(json_object_get(object, "kind"));
	if (runs && handled && said && strcmp(said, okind))
		deny(&v, arena_printf(&r->arena, "the object is a %.64s, the request says a %s", said, okind));
	if (runs && handled && !json_is_object(spec))
		deny(&v, arena_printf(&r->arena, "the %s has no pod spec drydock can read", okind));
	static const char *const lists[] = {"initContainers", "containers", "ephemeralContainers"};
	for (size_t l = 0; runs && json_is_object(spec) && l < DD_ARRAY_LEN(lists); l++) {
		size_t i;
		json_t *c, *list = json_object_get(spec, lists[l]);
		if (list && !json_is_array(list)) {
			deny(&v, arena_printf(&r->arena, "%s is not a list", lists[l]));
			continue;
		}
		json_array_foreach(list, i, c)
		{
			const char *image = json_string_value(json_object_get(c, "image"));
			const char *name = json_string_value(json_object_get(c, "name"));
			if (!image)
				deny(&v, arena_printf(&r->arena, "%s[%zu] has no image drydock can read", lists[l], i));
			else
				check_image(r, api, &v, name ? name : "?", image);
		}
	}
	if (v.nreasons > ADMISSION_MAX_REASONS)
		v.denied = arena_printf(&r->arena, "%s; and %zu more", v.denied, v.nreasons - ADMISSION_MAX_REASONS);
	if (v.over)
		v.denied = arena_printf(&r->arena, "over 256 distinct images and platforms: not checked%s%s",
					*v.denied ? "; " : "", v.denied);
	int allowed = !*v.denied;
	json_t *resp = json_pack("{s:s, s:b}", "uid", uid, "allowed", allowed);
	if (!allowed) {
		const char *msg = arena_printf(&r->arena, "drydock refuses %s %s: %s", okind ? okind : "the object",
					       json_string_value(json_object_get(req, "name")) ? json_string_value(json_object_get(req, "name")) : "",
					       v.denied);
		json_object_set_new(resp, "status", json_pack("{s:i, s:s, s:s}", "code", 403, "reason", "Forbidden", "message", msg));
	}
	if (json_array_size(v.warnings))
		json_object_set(resp, "warnings", v.warnings);
	json_decref(v.warnings);
	json_t *out = json_pack("{s:s, s:s, s:o}", "apiVersion", version, "kind", "AdmissionReview", "response", resp);
	json_decref(rev); /* version and uid were copied into out above */
	web_send_json(r, 200, out);
}
