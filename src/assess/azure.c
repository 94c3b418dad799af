/* azure.c: the Microsoft.Security shape (see azure.h): the assessment and its sub-assessments,
 * one per (finding, image), built from the stored assessments with the suppression rules
 * applied. It holds no state of its own and reads nothing but the metadata store and the
 * vulnerability database's texts. */
#include "common/dd.h"
#include "assess/azure.h"
#include "assess/api.h"
#include "assess/rules.h"
#include "auth/access.h"
#include "common/arena.h"
#include "web/reply.h"
#include "scan/report.h"
#include "scan/scanner.h"
#include "store/meta.h"
#include "vulndb/vulndb.h"
#include <openssl/sha.h>

static void send_json(struct http_req *r, int status, json_t *o)
{
	char *text = json_dumps(o, JSON_INDENT(2));
	json_decref(o);
	if (!text) {
		web_error(r, DD_E_NOMEM, NULL);
		return;
	}
	http_respond(r, status, "application/json", text, strlen(text));
	free(text);
}

#define AZURE_PAGE 1000 /* sub-assessments per page; nextLink for the rest */

static const char *azure_severity(const char *s)
{
	if (!strcmp(s, "CRITICAL") || !strcmp(s, "HIGH"))
		return "High";
	if (!strcmp(s, "MEDIUM"))
		return "Medium";
	return "Low";
}

/* A stable UUID-shaped name for (repo, digest, id, package). */
static const char *stable_guid(struct arena *a, const char *repo, const char *digest, const char *id, const char *pkg)
{
	unsigned char h[SHA256_DIGEST_LENGTH];
	const char *in = arena_printf(a, "%s\n%s\n%s\n%s", repo, digest, id, pkg);
	SHA256((const unsigned char *)in, strlen(in), h);
	return arena_printf(a, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", h[0], h[1], h[2],
			    h[3], h[4], h[5], (h[6] & 0x0f) | 0x50, h[7], (h[8] & 0x3f) | 0x80, h[9], h[10], h[11], h[12],
			    h[13], h[14], h[15]);
}

static const char *iso_time(struct arena *a, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	char buf[32];
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return arena_strdup(a, buf);
}

json_t *azure_subassessment(struct arena *a, const char *scope, const char *host, const struct assessment_rec *rec,
			    json_t *f)
{
	const char *id = json_string_value(json_object_get(f, "id"));
	const char *pkg = json_string_value(json_object_get(f, "package"));
	const char *name = stable_guid(a, rec->repo, rec->digest, id, pkg);
	json_t *cves = json_array(), *al, *refs = json_array(), *ref;
	size_t i;
	if (!strncmp(id, "CVE-", 4))
		json_array_append_new(cves, json_pack("{s:s, s:s}", "title", id, "link",
						      arena_printf(a, "https://nvd.nist.gov/vuln/detail/%s", id)));
	json_array_foreach(json_object_get(f, "aliases"), i, al)
	{
		const char *x = json_string_value(al);
		if (x && !strncmp(x, "CVE-", 4))
			json_array_append_new(cves, json_pack("{s:s, s:s}", "title", x, "link",
							      arena_printf(a, "https://nvd.nist.gov/vuln/detail/%s", x)));
	}
	json_array_foreach(json_object_get(f, "references"), i, ref)
		json_array_append_new(refs, json_pack("{s:s, s:O}", "title", id, "link", ref));
	json_t *cv = json_object_get(f, "cvss");
	json_t *cvss = json_is_object(cv) ? json_pack("{s:{s:O, s:O}}", "3.0", "base", json_object_get(cv, "score"),
						      "cvssVectorString", json_object_get(cv, "vector"))
					  : json_null();
	json_t *supp = json_object_get(f, "suppressed");
	const char *desc = json_string_value(json_object_get(f, "description"));
	const char *summary = json_string_value(json_object_get(f, "summary"));
	json_t *status = json_pack("{s:s, s:s, s:o, s:s}", "code", supp ? "NotApplicable" : "Unhealthy", "severity",
				   azure_severity(json_string_value(json_object_get(f, "severity"))), "cause",
				   supp ? json_string("Exempt") : json_null(), "description",
				   supp ? json_string_value(json_object_get(supp, "reason"))
					: "The image has a package with this vulnerability");
	json_t *props = json_pack(
		"{s:s, s:s, s:o, s:O, s:s, s:s, s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s, s:o, s:o, s:O, s:O, s:o, s:s, s:s, s:s}}",
		"id", id, "displayName", summary && *summary ? summary : arena_printf(a, "%s in %s", id, pkg), "status", status,
		"remediation", json_object_get(f, "remediation"), "impact",
		arena_printf(a, "%s %s (%s) in this image is affected", pkg,
			     json_string_value(json_object_get(f, "package_version")),
			     json_string_value(json_object_get(f, "severity"))),
		"category", "OS package", "description", desc ? desc : id, "timeGenerated", iso_time(a, rec->scanned_at),
		"resourceDetails", "source", "drydock", "id",
		arena_printf(a, "/repositories/%s/images/%s", rec->repo, rec->digest), "additionalData",
		"assessedResourceType", "ContainerRegistryVulnerability", "type", "Vulnerability", "cve", cves, "cvss", cvss,
		"patchable", json_object_get(f, "patchable"), "publishedTime", json_object_get(f, "published"),
		"vendorReferences", refs, "imageDigest", rec->digest, "repositoryName", rec->repo, "registryHost", host);
	return json_pack("{s:s, s:s, s:s, s:o}", "type", "Microsoft.Security/assessments/subAssessments", "id",
			 arena_printf(a, "%s/providers/Microsoft.Security/assessments/" AZURE_ASSESSMENT "/subAssessments/%s",
				      scope, name),
			 "name", name, "properties", props);
}

json_t *azure_assessment(struct arena *a, const char *scope, const char *host, int unhealthy)
{
	return json_pack(
		"{s:s, s:s, s:s, s:{s:s, s:{s:s}, s:{s:s, s:s}, s:{s:s, s:s, s:s}}}", "type", "Microsoft.Security/assessments",
		"id", arena_printf(a, "%s/providers/Microsoft.Security/assessments/" AZURE_ASSESSMENT, scope), "name",
		AZURE_ASSESSMENT, "properties", "displayName", "Vulnerabilities in container registry images should be remediated",
		"status", "code", unhealthy ? "Unhealthy" : "Healthy", "resourceDetails", "source", "drydock", "id", host,
		"metadata", "severity", "High", "assessmentType", "BuiltIn", "description",
		"Container image vulnerability assessment scans the registry for security vulnerabilities and exposes "
		"detailed findings for each image.");
}

/* Whether an image of repository `listed` (one listed by assessments_list) is Unhealthy under the
 * rules, as the assessment reports it. */
static int azure_image_unhealthy(struct assess_api *api, struct arena *a, const struct rule *rules, size_t nrules,
				 const struct assessment_rec *listed)
{
	long long c[6], u;
	if (!rules_cover(rules, nrules, listed->repo) && counts_parse(listed->counts, c, &u))
		return !strcmp(listed->status, "Unhealthy"); /* the stored status stands */
	struct assessment_rec full;
	if (api->meta->ops->assessment_get(api->meta, a, listed->repo, listed->digest, &full) || !*full.report)
		return 0;
	json_t *rep = json_loads(full.report, 0, NULL);
	int unhealthy = !strcmp(rules_apply(rules, nrules, full.repo, rep, full.status), "Unhealthy");
	json_decref(rep);
	return unhealthy;
}

/* Whether any image the caller may see, of namespace ns when not NULL, is Unhealthy under the
 * rules: from the running totals of the repositories no rule covers, image by image elsewhere. */
static int azure_unhealthy(struct assess_api *api, struct arena *a, struct http_req *r, const char *ns,
			   const struct rule *rules, size_t nrules, int *unhealthy)
{
	struct meta *m = api->meta;
	struct assessment_total *v;
	size_t n;
	int rc;
	*unhealthy = 0;
	if (!ns && !nrules && access_visible_all(r)) {
		if ((rc = m->ops->assessment_totals(m, a, "", &v, &n)))
			return rc;
		int64_t uncounted = 0;
		for (size_t i = 0; i < n; i++) {
			uncounted += v[i].uncounted;
			*unhealthy |= !strcmp(v[i].status, "Unhealthy");
		}
		if (!uncounted)
			return 0;
		*unhealthy = 0;
	}
	if ((rc = m->ops->assessment_totals(m, a, NULL, &v, &n)))
		return rc;
	for (size_t i = 0, j; i < n && !*unhealthy; i = j) { /* one repository: entries i..j-1 */
		int64_t uncounted = 0;
		int any = 0;
		for (j = i; j < n && !strcmp(v[j].repo, v[i].repo); j++) {
			uncounted += v[j].uncounted;
			any |= !strcmp(v[j].status, "Unhealthy");
		}
		const char *repo = v[i].repo;
		size_t nl = strcspn(repo, "/");
		if ((ns && (strlen(ns) != nl || strncmp(ns, repo, nl))) || !access_visible(r, repo))
			continue;
		if (!uncounted && !rules_cover(rules, nrules, repo)) {
			*unhealthy = any;
			continue;
		}
		struct assessment_rec *img;
		size_t ni;
		if ((rc = m->ops->assessments_list(m, a, repo, &img, &ni)))
			return rc;
		for (size_t k = 0; k < ni && !*unhealthy; k++)
			*unhealthy = azure_image_unhealthy(api, a, rules, nrules, &img[k]);
	}
	return 0;
}

/* [/subscriptions/<ns>]/providers/Microsoft.Security/assessments[/<key>[/subAssessments]] */
void azure_handle(struct http_req *r, struct assess_api *api)
{
	const char *p = r->path, *ns = NULL, *scope = "";
	if (!strncmp(p, "/subscriptions/", 15)) {
		const char *s = p + 15, *slash = strchr(s, '/');
		if (!slash || slash == s) {
			web_error(r, DD_E_NOT_FOUND, "use /subscriptions/<namespace>/providers/Microsoft.Security/assessments");
			return;
		}
		ns = arena_strndup(&r->arena, s, (size_t)(slash - s));
		scope = arena_strndup(&r->arena, p, (size_t)(slash - p));
		p = slash;
	}
	static const char base[] = "/providers/Microsoft.Security/assessments";
	if (strncmp(p, base, sizeof(base) - 1)) {
		web_error(r, DD_E_NOT_FOUND, "see docs/api.md for the Microsoft.Security shape");
		return;
	}
	p += sizeof(base) - 1;
	int list = !*p || !strcmp(p, "/");
	int one = !strcmp(p, "/" AZURE_ASSESSMENT);
	int subs = !strcmp(p, "/" AZURE_ASSESSMENT "/subAssessments");
	if (!list && !one && !subs) {
		web_error(r, DD_E_NOT_FOUND, "the only assessment is " AZURE_ASSESSMENT);
		return;
	}
	if (strcmp(r->method, "GET")) {
		web_error(r, DD_E_METHOD, NULL);
		return;
	}
	if (web_access(r, NULL, ACCESS_BASE)) /* then only the repositories the caller may see */
		return;
	const char *host = http_header(r, "Host");
	host = host ? host : "drydock";
	struct rule *rules;
	size_t nrules = 0;
	rules_load(api->meta, &r->arena, &rules, &nrules);
	struct assessment_rec *v = NULL;
	size_t n = 0;
	int unhealthy = 0, more = 0;
	/* the assessment alone: from the running totals; its sub-assessments: image by image */
	if (subs ? api->meta->ops->assessments_list(api->meta, &r->arena, NULL, &v, &n)
		 : azure_unhealthy(api, &r->arena, r, ns, rules, nrules, &unhealthy)) {
		web_error(r, DD_E_IO, NULL);
		return;
	}
	long skip = http_query(r, "$skip") ? atol(http_query(r, "$skip")) : 0;
	long top = http_query(r, "$top") ? atol(http_query(r, "$top")) : AZURE_PAGE;
	if (top < 1 || top > AZURE_PAGE)
		top = AZURE_PAGE;
	if (skip < 0)
		skip = 0;
	json_t *value = json_array();
	long seen = 0;
	void *tok = NULL; /* the database that fills the texts of the sub-assessments returned */
	const struct vulndb *db = subs ? scanner_db_acquire(api->scanner, &tok) : NULL;
	for (size_t i = 0; i < n; i++) {
		size_t nl = strcspn(v[i].repo, "/");
		if ((ns && (strlen(ns) != nl || strncmp(ns, v[i].repo, nl))) || !access_visible(r, v[i].repo))
			continue;
		struct assessment_rec full;
		if (api->meta->ops->assessment_get(api->meta, &r->arena, v[i].repo, v[i].digest, &full) || !*full.report)
			continue;
		json_t *rep = json_loads(full.report, 0, NULL), *f;
		const char *eco = json_string_value(json_object_get(rep, "ecosystem"));
		rules_apply(rules, nrules, full.repo, rep, full.status); /* marks the suppressed findings */
		size_t k;
		json_array_foreach(json_object_get(rep, "findings"), k, f)
		{
			if (seen++ < skip)
				continue;
			if ((long)json_array_size(value) >= top) {
				more = 1;
				break;
			}
			report_hydrate(db, eco, f); /* texts only for the findings returned */
			json_array_append_new(value, azure_subassessment(&r->arena, scope, host, &full, f));
		}
		json_decref(rep);
	}
	if (subs)
		scanner_db_release(api->scanner, tok);
	json_t *assessment = azure_assessment(&r->arena, scope, host, unhealthy);
	if (one) {
		json_decref(value);
		send_json(r, 200, assessment);
		return;
	}
	json_t *o;
	if (list) {
		json_decref(value);
		o = json_pack("{s:[o]}", "value", assessment);
	} else {
		json_decref(assessment);
		o = json_pack("{s:o}", "value", value);
		if (more)
			json_object_set_new(o, "nextLink",
					    json_string(arena_printf(&r->arena, "%s?$skip=%ld&$top=%ld", r->path, skip + top, top)));
	}
	send_json(r, 200, o);
}
