/* api.c: the security API (see api.h). Reads the assessments the scanner stored; findings are
 * filtered and paged here from the stored report. Every endpoint passes access_check. */
#include "common/dd.h"
#include "assess/api.h"
#include "assess/azure.h"
#include "assess/idcache.h"
#include "auth/access.h"
#include "auth/accounts.h"
#include "auth/audit.h"
#include "http/range.h"
#include "assess/rules.h"
#include "assess/tables.h"
#include "assess/webhook.h"
#include "common/util.h"
#include "common/arena.h"
#include "common/strmap.h"
#include "common/buf.h"
#include "web/reply.h"
#include "web/router.h"
#include "scan/parts.h"
#include "scan/report.h"
#include "scan/scanner.h"
#include "store/meta_admin.h"
#include "store/meta_outbox.h"
#include "store/meta_repos.h"
#include "store/meta_scans.h"
#include "store/s3.h"
#include "store/space.h"
#include "vulndb/vulndb.h"
#include "scan/status.h"
#include "scan/vex.h"
#include "common/limits.h"
#include <jansson.h>

#define API_MAX_LIMIT 1000 /* findings per page */

int assess_api_route(const char *path)
{
	return !strncmp(path, "/api/v1/", 8) || !strcmp(path, "/metrics") || !strcmp(path, "/healthz") ||
	       !strncasecmp(path, "/providers/Microsoft.Security/", 30) || !strncasecmp(path, "/subscriptions/", 15) ||
	       !strncasecmp(path, "/providers/Microsoft.ResourceGraph/", 35);
}

static void ask_body(struct http_req *r);

/* web_error, and for a full disk (a rule or setting not stored) the message and detail the
 * registry's 507s give. */
static void api_error(struct http_req *r, int err, const char *detail)
{
	const char *message = NULL;
	if (err == DD_E_NO_SPACE) {
		struct assess_api *api = r->app;
		message = arena_printf(&r->arena, "%s: cannot %s what %s %.200s asks", dd_err_message(err),
				       strcmp(r->method, "DELETE") ? "store" : "record the deletion of", r->method, r->path);
		if (!detail)
			detail = web_no_space_detail(r, api->space);
	}
	web_error_msg(r, err, message, detail);
}


static int is_digest(const char *s) { return !strncmp(s, "sha256:", 7) || !strncmp(s, "sha512:", 7); }

/* The state of (repo, digest) as the API shows it, with its assessment when there is one. */
static const char *state_of(struct assess_api *api, struct arena *a, const char *repo, const char *digest,
			    struct assessment_rec *rec, int *has, int *pending)
{
	struct meta *m = api->meta;
	enum scan_job_state job = SCAN_JOB_NONE;
	*has = !m->scans->assessment_get(m, a, repo, digest, rec);
	m->scans->scan_job_state(m, repo, digest, &job);
	*pending = job != SCAN_JOB_NONE;
	if (*has)
		return rec->status;
	return job == SCAN_JOB_RUNNING ? "Scanning" : "Queued";
}

static int keep(json_t *f, const char *sev, const char *patchable, const char *id, const char *pkg,
		const char *tracker)
{
	if (tracker && *tracker) { /* a list, as severity */
		const char *t = json_string_value(json_object_get(f, "tracker_status"));
		int found = 0;
		for (const char *p = tracker; *p;) {
			size_t n = strcspn(p, ",");
			if (t && strlen(t) == n && !strncmp(p, t, n))
				found = 1;
			p += n + (p[n] == ',');
		}
		if (!found)
			return 0;
	}
	if (sev && *sev) {
		const char *s = json_string_value(json_object_get(f, "severity"));
		int found = 0;
		for (const char *p = sev; *p;) {
			size_t n = strcspn(p, ",");
			if (s && strlen(s) == n && !strncasecmp(p, s, n))
				found = 1;
			p += n + (p[n] == ',');
		}
		if (!found)
			return 0;
	}
	if (patchable && *patchable && json_is_true(json_object_get(f, "patchable")) != !strcmp(patchable, "true"))
		return 0;
	if (id && *id) {
		int match = !strcmp(json_string_value(json_object_get(f, "id")), id);
		json_t *al;
		size_t i;
		json_array_foreach(json_object_get(f, "aliases"), i, al) match |= !strcmp(json_string_value(al), id);
		if (!match)
			return 0;
	}
	if (pkg && *pkg && strcmp(json_string_value(json_object_get(f, "package")), pkg) &&
	    strcmp(json_string_value(json_object_get(f, "source_package")), pkg))
		return 0;
	return 1;
}

/* The image that ?repository=R&reference=TAG_OR_DIGEST names, when the caller may do `action`
 * on R: 0 with *repo and *m (no content), or -1 with the refusal answered. */
static int image_of(struct http_req *r, struct assess_api *api, enum access_action action, const char **repo,
		    struct manifest_rec *m)
{
	const char *ref = http_query(r, "reference");
	*repo = http_query(r, "repository");
	if (!*repo || !ref || !**repo || !*ref) {
		api_error(r, DD_E_USAGE, "give ?repository=NAME&reference=TAG_OR_DIGEST");
		return -1;
	}
	if (web_access(r, *repo, action))
		return -1;
	int rc = api->meta->repos->manifest_get(api->meta, &r->arena, *repo, ref, is_digest(ref), 0, m);
	if (rc) {
		api_error(r, rc, arena_printf(&r->arena, "'%s' in '%s'", ref, *repo));
		return -1;
	}
	return 0;
}

/* POST /api/v1/images/scan?repository=R&reference=REF: the image scanned again from its layers
 * (after a scanner upgrade, or a Failed scan), by those who may push to its repository. */
static void rescan_handle(struct http_req *r, struct assess_api *api)
{
	if (strcmp(r->method, "POST")) {
		api_error(r, DD_E_METHOD, NULL);
		return;
	}
	const char *repo;
	struct manifest_rec m;
	int queued, rc;
	if (image_of(r, api, ACCESS_PUSH, &repo, &m))
		return;
	if ((rc = api->meta->scans->scan_enqueue(api->meta, repo, m.digest, SCAN_PUSH, &queued))) {
		api_error(r, rc, arena_printf(&r->arena, "'%s' in '%s'", m.digest, repo));
		return;
	}
	if (queued) {
		audit_record(r, api->meta, "scan-request", arena_printf(&r->arena, "%s@%s", repo, m.digest), "");
		if (api->scanner)
			scanner_kick(api->scanner);
	}
	web_send_json(r, 202, json_pack("{s:s, s:s, s:b}", "repository", repo, "digest", m.digest, "queued", queued));
}

static void image_parts_json(struct http_req *r, struct assess_api *api, const char *repo, const char *digest,
			     json_t *o);

static void image_handle(struct http_req *r, struct assess_api *api)
{
	const char *repo;
	struct manifest_rec m;
	if (image_of(r, api, ACCESS_SECURITY_READ, &repo, &m))
		return;
	struct assessment_rec rec;
	int has, pending;
	const char *state = state_of(api, &r->arena, repo, m.digest, &rec, &has, &pending);
	json_t *o = json_pack("{s:s, s:s, s:s, s:b}", "repository", repo, "digest", m.digest, "status", state,
			      "reassessment_pending", has && pending);
	if (has) {
		json_object_set_new(o, "reason", json_string(rec.reason));
		json_object_set_new(o, "scanned_at", json_integer(rec.scanned_at));
		json_object_set_new(o, "scan_duration_ms", json_real(rec.duration_us / 1000.0));
		json_object_set_new(o, "database_generation", json_string(rec.db_generation));
		json_t *rep = *rec.report ? json_loads(rec.report, 0, NULL) : NULL;
		if (rep) {
			struct rule *rules;
			size_t nrules = 0;
			rules_load(api->meta, &r->arena, &rules, &nrules);
			report_versions(rep);
			json_object_set_new(o, "status", json_string(rules_apply(rules, nrules, repo, rep, rec.status)));
			void *tok; /* the catalogue for every finding, the texts for those returned */
			const struct vulndb *db = scanner_db_acquire(api->scanner, &tok);
			report_mark_known_exploited(db, rep);
			const char *keys[] = {"os", "ecosystem", "packages", "counts", "fix_plan", "layer_packages"};
			for (size_t i = 0; i < DD_ARRAY_LEN(keys); i++)
				json_object_set(o, keys[i], json_object_get(rep, keys[i]));
			const char *sev = http_query(r, "severity"), *pat = http_query(r, "patchable"),
				   *id = http_query(r, "id"), *pkg = http_query(r, "package"),
				   *kev = http_query(r, "known_exploited"), *tracker = http_query(r, "tracker_status");
			long limit = http_query(r, "limit") ? atol(http_query(r, "limit")) : 100;
			long offset = http_query(r, "offset") ? atol(http_query(r, "offset")) : 0;
			if (limit < 1 || limit > API_MAX_LIMIT)
				limit = API_MAX_LIMIT;
			if (offset < 0)
				offset = 0;
			json_t *out = json_array(), *f;
			size_t i, total = 0;
			json_array_foreach(json_object_get(rep, "findings"), i, f)
			{
				if (!keep(f, sev, pat, id, pkg, tracker) || (kev && *kev && json_is_null(json_object_get(f, "known_exploited")) ==
										   !strcmp(kev, "true")))
					continue;
				if ((long)total >= offset && (long)json_array_size(out) < limit)
					json_array_append(out, f);
				total++;
			}
			const char *eco = json_string_value(json_object_get(rep, "ecosystem"));
			json_array_foreach(out, i, f) report_hydrate(db, eco, f);
			scanner_db_release(api->scanner, tok);
			json_object_set_new(o, "total_findings", json_integer((json_int_t)total));
			json_object_set_new(o, "offset", json_integer(offset));
			json_object_set_new(o, "limit", json_integer(limit));
			json_object_set_new(o, "findings", out);
			json_decref(rep);
		}
	}
	image_parts_json(r, api, repo, m.digest, o);
	web_send_json(r, 200, o);
}

/* Counts by severity of an assessment under the rules, added into acc; returns its status
 * under the rules (arena copy). The counts stored with it stand when no rule covers its
 * repository; otherwise (or for assessments stored before counts were) the report is read. */
static const char *add_counts(struct assess_api *api, struct arena *a, const struct rule *rules, size_t nrules,
			      const struct assessment_rec *listed, json_int_t acc[6], json_int_t *unfixed)
{
	long long c[6], u;
	if (!rules_cover(rules, nrules, listed->repo) && counts_parse(listed->counts, c, &u)) {
		for (int s = 0; s < 6; s++)
			acc[s] += c[s];
		*unfixed += u;
		return listed->status;
	}
	struct assessment_rec full;
	if (api->meta->scans->assessment_get(api->meta, a, listed->repo, listed->digest, &full))
		return listed->status;
	json_t *rep = *full.report ? json_loads(full.report, 0, NULL) : NULL;
	const char *status = rep ? rules_apply(rules, nrules, full.repo, rep, full.status) : full.status;
	json_t *cj = json_object_get(rep, "counts");
	for (int s = 0; s < 6; s++)
		acc[s] += json_integer_value(json_object_get(cj, vdb_severity_name(s)));
	*unfixed += json_integer_value(json_object_get(cj, "unfixed"));
	status = arena_strdup(a, status);
	json_decref(rep);
	return status;
}

static json_t *sev_object(const json_int_t c[6])
{
	json_t *o = json_object();
	for (int s = 5; s >= 0; s--)
		json_object_set_new(o, vdb_severity_name(s), json_integer(c[s]));
	return o;
}

/* Into the image answer o: an image's "layers" (digest, size, media type, and the packages each
 * introduced, from the stored report; null when the report is from before it said), or an
 * index's "manifests" (each platform's status and counts under the rules) with the worst of
 * them; and the "referrers" (signatures, SBOMs, attestations) whose subject it is. */
static void image_parts_json(struct http_req *r, struct assess_api *api, const char *repo, const char *digest,
			     json_t *o)
{
	struct arena *a = &r->arena;
	struct meta *m = api->meta;
	struct manifest_rec full;
	struct image_part *v;
	size_t n;
	int is_index = 0;
	if (!m->repos->manifest_get(m, a, repo, digest, 1, 1, &full) &&
	    !image_parts(a, full.content, (size_t)full.size, full.media_type, &is_index, &v, &n, NULL)) {
		json_t *parts = json_array();
		if (!is_index) {
			json_t *lp = json_object_get(o, "layer_packages");
			for (size_t i = 0; i < n; i++) {
				json_t *pk = NULL, *x;
				size_t k;
				json_array_foreach(lp, k, x)
				{
					const char *layer = json_string_value(json_object_get(x, "layer"));
					if (layer && !strcmp(layer, v[i].digest))
						pk = json_object_get(x, "packages");
				}
				json_array_append_new(parts, json_pack("{s:s, s:s, s:I, s:o}", "digest", v[i].digest, "media_type",
								       v[i].media_type, "size", (json_int_t)v[i].size, "packages",
								       !lp ? json_null() : pk ? json_incref(pk) : json_array()));
			}
			json_object_set_new(o, "layers", parts);
		} else {
			struct rule *rules;
			size_t nrules = 0;
			rules_load(m, a, &rules, &nrules);
			const char *worst = NULL;
			for (size_t i = 0; i < n; i++) {
				struct assessment_rec rec;
				int has, pending;
				const char *st = state_of(api, a, repo, v[i].digest, &rec, &has, &pending);
				json_int_t c[6] = {0}, u = 0;
				if (has)
					st = add_counts(api, a, rules, nrules, &rec, c, &u);
				if (!worst || assessment_status_rank(st) < assessment_status_rank(worst))
					worst = st;
				json_array_append_new(parts, json_pack("{s:s, s:s, s:s?, s:I, s:s, s:o, s:I}", "digest", v[i].digest,
								       "media_type", v[i].media_type, "platform", v[i].platform,
								       "size", (json_int_t)v[i].size, "status", st, "counts",
								       sev_object(c), "unfixed", u));
			}
			json_object_set_new(o, "manifests", parts);
			if (worst)
				json_object_set_new(o, "worst_platform_status", json_string(worst));
		}
	}
	json_object_del(o, "layer_packages");
	struct manifest_rec *refs;
	size_t nrefs = 0;
	json_t *ra = json_array();
	if (!m->repos->referrers(m, a, repo, digest, NULL, &refs, &nrefs))
		for (size_t i = 0; i < nrefs; i++)
			json_array_append_new(ra, json_pack("{s:s, s:s, s:s, s:I, s:I}", "digest", refs[i].digest, "media_type",
							    refs[i].media_type, "artifact_type", refs[i].artifact_type, "size",
							    (json_int_t)refs[i].size, "created", (json_int_t)refs[i].created));
	json_object_set_new(o, "referrers", ra);
}

/* What the summary, a repository listing and /metrics count: images by status, findings by
 * severity (enum vdb_severity) and unfixed findings, under the rules. */
struct tally {
	json_t *by_status; /* status -> images */
	json_int_t sev[6], unfixed;
};

static void tally_status(struct tally *t, const char *status, json_int_t images)
{
	json_object_set_new(t->by_status, status,
			    json_integer(json_integer_value(json_object_get(t->by_status, status)) + images));
}

/* Adds the store's running totals of one status as they stand. */
static void tally_totals(struct tally *t, const struct assessment_total *x)
{
	tally_status(t, x->status, (json_int_t)x->images);
	for (int k = 0; k < 6; k++) /* CRITICAL first */
		t->sev[VDB_SEV_CRITICAL - k] += (json_int_t)x->severity[k];
	t->unfixed += (json_int_t)x->unfixed;
}

/* Adds every image of repo one by one (add_counts: a report is read where a rule covers repo
 * or the counts were not recorded), and lists each in images when not NULL. */
static int tally_images(struct assess_api *api, struct arena *a, const struct rule *rules, size_t nrules,
			const char *repo, struct tally *t, json_t *images)
{
	struct assessment_rec *v;
	size_t n;
	int rc = api->meta->scans->assessments_list(api->meta, a, repo, &v, &n);
	for (size_t i = 0; i < n && !rc; i++) {
		json_int_t c[6] = {0}, u = 0;
		v[i].status = add_counts(api, a, rules, nrules, &v[i], c, &u);
		for (int s = 0; s < 6; s++)
			t->sev[s] += c[s];
		t->unfixed += u;
		tally_status(t, v[i].status, 1);
		if (images)
			json_array_append_new(images, json_pack("{s:s, s:s, s:s, s:I, s:o}", "digest", v[i].digest, "status",
								v[i].status, "reason", v[i].reason, "scanned_at",
								(json_int_t)v[i].scanned_at, "counts", sev_object(c)));
	}
	return rc;
}

/* Registry-wide: everything the caller r may see (r NULL: everything, for /metrics). The store's
 * running totals stand for every repository no rule covers, so with no rule in force and a
 * caller who sees every repository this reads one row per status, whatever the number of
 * images; a repository some rule covers (or holding assessments stored before counts were) is
 * counted image by image from its reports, as the listing of that repository is. The same
 * numbers either way (tests/vulndb/test_totals.py). */
static int tally_registry(struct assess_api *api, struct arena *a, struct http_req *r, const struct rule *rules,
			  size_t nrules, struct tally *t)
{
	struct meta *m = api->meta;
	struct assessment_total *v;
	size_t n;
	int all = !r || access_visible_all(r), rc;
	if (all && !nrules) {
		if ((rc = m->scans->assessment_totals(m, a, "", &v, &n)))
			return rc;
		int64_t uncounted = 0;
		for (size_t i = 0; i < n; i++)
			uncounted += v[i].uncounted;
		if (!uncounted) {
			for (size_t i = 0; i < n; i++)
				tally_totals(t, &v[i]);
			return 0;
		}
	}
	if ((rc = m->scans->assessment_totals(m, a, NULL, &v, &n)))
		return rc;
	for (size_t i = 0, j; i < n; i = j) { /* one repository: entries i..j-1, one per status */
		int64_t uncounted = 0;
		for (j = i; j < n && !strcmp(v[j].repo, v[i].repo); j++)
			uncounted += v[j].uncounted;
		if (!all && !access_visible(r, v[i].repo))
			continue;
		if (uncounted || rules_cover(rules, nrules, v[i].repo)) {
			if ((rc = tally_images(api, a, rules, nrules, v[i].repo, t, NULL)))
				return rc;
		} else
			for (size_t k = i; k < j; k++)
				tally_totals(t, &v[k]);
	}
	return 0;
}

static void list_handle(struct http_req *r, struct assess_api *api, const char *repo)
{
	/* the registry-wide summary counts only the repositories the caller may see */
	if (repo ? web_access(r, repo, ACCESS_SECURITY_READ) : web_access(r, NULL, ACCESS_BASE))
		return;
	struct tally t = {.by_status = json_object()};
	json_t *images = repo ? json_array() : NULL;
	struct rule *rules;
	size_t nrules = 0;
	rules_load(api->meta, &r->arena, &rules, &nrules);
	int rc = repo ? tally_images(api, &r->arena, rules, nrules, repo, &t, images)
		      : tally_registry(api, &r->arena, r, rules, nrules, &t);
	if (rc) {
		json_decref(t.by_status);
		json_decref(images);
		api_error(r, rc, NULL);
		return;
	}
	int64_t queued = 0, running = 0;
	api->meta->scans->scan_queue_depth(api->meta, &queued, &running);
	json_t *o = json_pack("{s:o, s:o, s:I, s:I, s:I}", "images_by_status", t.by_status, "findings_by_severity",
			      sev_object(t.sev), "unfixed_findings", t.unfixed, "queued", (json_int_t)queued, "scanning",
			      (json_int_t)running);
	if (repo) {
		json_object_set_new(o, "repository", json_string(repo));
		json_object_set_new(o, "images", images);
	}
	web_send_json(r, 200, o);
}

static void usage_handle(struct http_req *r, struct assess_api *api)
{
	if (web_access(r, NULL, ACCESS_BASE))
		return;
	const char **ns, **month;
	int64_t *count;
	size_t n;
	if (api->meta->scans->usage_list(api->meta, &r->arena, &ns, &month, &count, &n)) {
		api_error(r, DD_E_IO, NULL);
		return;
	}
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		if (!access_check_ns(r, ns[i], ACCESS_SECURITY_READ))
			json_array_append_new(a, json_pack("{s:s, s:s, s:I}", "namespace", ns[i], "month", month[i],
							   "scans", (json_int_t)count[i]));
	web_send_json(r, 200, json_pack("{s:o}", "usage", a));
}

/* /api/v1/database: the vulnerability database in use, and each feed's age (a feed whose newest
 * data is older than VDB_STALE_DAYS is stale). */
static void database_handle(struct http_req *r, struct assess_api *api)
{
	if (web_access(r, NULL, ACCESS_BASE))
		return;
	void *tok;
	const struct vulndb *db = api->scanner ? scanner_db_acquire(api->scanner, &tok) : NULL;
	if (!db) {
		web_send_json(r, 200, json_pack("{s:n, s:[], s:i}", "generation", "feeds", "stale_after_days", VDB_STALE_DAYS));
		return;
	}
	const struct vdb_header *h = vulndb_header(db);
	int64_t now = util_now();
	json_t *feeds = json_array();
	for (size_t i = 0; i < vulndb_nfeeds(db); i++) {
		const struct vdb_feed *f = vulndb_feed(db, i);
		json_t *o = json_pack("{s:s, s:s, s:I, s:I}", "name", vulndb_str(db, f->name), "kind", vulndb_str(db, f->kind),
				      "records", (json_int_t)f->records, "skipped", (json_int_t)f->skipped);
		if (f->snapshot > 0) {
			json_object_set_new(o, "snapshot", json_string(util_iso_time(&r->arena, f->snapshot)));
			json_object_set_new(o, "age_days", json_integer((json_int_t)((now - f->snapshot) / 86400)));
			json_object_set_new(o, "stale", json_boolean(now - f->snapshot > VDB_STALE_DAYS * 86400));
		}
		json_array_append_new(feeds, o);
	}
	json_t *out = json_pack("{s:s, s:s, s:o, s:i}", "generation", arena_printf(&r->arena, "%016" PRIx64, h->generation),
				"built_at", util_iso_time(&r->arena, h->built_at), "feeds", feeds, "stale_after_days",
				VDB_STALE_DAYS);
	scanner_db_release(api->scanner, tok);
	web_send_json(r, 200, out);
}

/* Query parameter `name`, a number from 1 to max (dflt when absent): 0 with *out, or -1 with
 * the 400 answered. */
static int query_number(struct http_req *r, const char *name, long dflt, long max, long *out)
{
	const char *v = http_query(r, name);
	char *end = NULL;
	*out = v ? strtol(v, &end, 10) : dflt;
	if (v && (!*v || *end || *out < 1 || *out > max)) {
		api_error(r, DD_E_USAGE, arena_printf(&r->arena, "%s is a number from 1 to %ld", name, max));
		return -1;
	}
	return 0;
}

/* /api/v1/upgrades?limit=N: the steps of the stored fix plans (one per source package: from the
 * installed version to the highest fixed version among its findings) summed over every image the
 * caller may read, by source package and target version: the upgrades that clear most findings. */
#define UPGRADES_MAX 100

struct upgrade {
	const char *source, *to;
	json_int_t clears, images;
	int worst;
};

struct upgrades_walk {
	struct http_req *r;
	struct arena *a;
	struct upgrade *v;
	size_t n, cap;
	struct strmap at; /* "SOURCE\tTO" -> 1 + its index in v */
};

static int upgrades_image(void *ctx, const struct assessment_rec *rec)
{
	struct upgrades_walk *w = ctx;
	if (!access_visible(w->r, rec->repo) || !rec->report)
		return 0;
	/* the plan alone: it follows the findings, and the report's own writer put this text there
	 * (inside a string it would be escaped) */
	static const char key[] = "],\"fix_plan\":";
	const char *p = strstr(rec->report, key);
	if (!p)
		return 0; /* no plan (nothing to fix, or a report from before plans) */
	p += sizeof(key) - 1;
	json_t *plan = json_loadb(p, strlen(p), JSON_DISABLE_EOF_CHECK, NULL);
	size_t i;
	json_t *step;
	json_array_foreach(plan, i, step)
	{
		const char *src = json_string_value(json_object_get(step, "source")),
			   *to = json_string_value(json_object_get(step, "to"));
		json_int_t clears = json_integer_value(json_object_get(step, "clears"));
		if (!src || !to || clears <= 0)
			continue;
		int created;
		void **slot = strmap_slot(w->a, &w->at, arena_printf(w->a, "%s\t%s", src, to), &created);
		if (created) {
			w->v = arena_grow(w->a, w->v, w->n, &w->cap, sizeof(*w->v));
			w->v[w->n++] = (struct upgrade){.source = arena_strdup(w->a, src), .to = arena_strdup(w->a, to),
							.worst = VDB_SEV_UNKNOWN};
			*slot = (void *)(uintptr_t)w->n;
		}
		size_t k = (size_t)(uintptr_t)*slot - 1;
		w->v[k].clears += clears;
		w->v[k].images++;
		int worst = vdb_severity_of_name(json_string_value(json_object_get(step, "worst")));
		if (worst > w->v[k].worst)
			w->v[k].worst = worst;
	}
	json_decref(plan);
	return 0;
}

static int upgrade_order(const void *x, const void *y)
{
	const struct upgrade *a = x, *b = y;
	if (a->clears != b->clears)
		return a->clears > b->clears ? -1 : 1;
	if (a->images != b->images)
		return a->images > b->images ? -1 : 1;
	int c = strcmp(a->source, b->source);
	return c ? c : strcmp(a->to, b->to);
}

static void upgrades_handle(struct http_req *r, struct assess_api *api)
{
	if (web_access(r, NULL, ACCESS_BASE))
		return;
	long limit;
	if (query_number(r, "limit", 10, UPGRADES_MAX, &limit))
		return;
	struct upgrades_walk w = {.r = r, .a = &r->arena};
	if (api->meta->scans->assessments_each(api->meta, NULL, upgrades_image, &w)) {
		api_error(r, DD_E_IO, NULL);
		return;
	}
	if (w.n)
		qsort(w.v, w.n, sizeof(*w.v), upgrade_order);
	json_t *out = json_array();
	for (size_t i = 0; i < w.n && (long)i < limit; i++)
		json_array_append_new(out, json_pack("{s:s, s:s, s:I, s:I, s:s}", "source", w.v[i].source, "to", w.v[i].to,
						     "clears", w.v[i].clears, "images", w.v[i].images, "worst",
						     vdb_severity_name(w.v[i].worst)));
	web_send_json(r, 200, json_pack("{s:o, s:I, s:b}", "upgrades", out, "total", (json_int_t)w.n,
					"before_suppression_rules", 1));
}

/* GET /api/v1/known-exploited: the vulnerabilities of CISA's known-exploited catalogue (in the
 * database in use) that findings of the images the caller may read have, most images first, with
 * the catalogue's note and the packages they are in; read from the findings cache (no report). */
struct kev_hit {
	const struct vdb_kev *k;
	json_int_t images;
	json_t *packages; /* object: package -> true */
};

struct kev_walk {
	struct http_req *r;
	struct arena *a;
	const struct vulndb *db;
	struct strmap memo;  /* list key -> struct kev_list * (what each shared list has) */
	struct strmap byid;  /* cve -> 1 + index in v */
	struct kev_hit *v;
	size_t n, cap;
	json_int_t images;
};

struct kev_list {
	size_t n;
	const struct vdb_kev **k;
	const char **pkg;
};

static int kev_image(void *ctx, const struct assessment_rec *rec, const char *key, const struct idc_finding *f, size_t n)
{
	struct kev_walk *w = ctx;
	if (!access_visible(w->r, rec->repo))
		return 0;
	int created;
	struct kev_list **l = (struct kev_list **)strmap_slot(w->a, &w->memo, key, &created);
	if (created) {
		*l = arena_alloc(w->a, sizeof(**l));
		for (size_t i = 0; i < n; i++) {
			const struct vdb_kev *k = vulndb_kev_of(w->db, f[i].id, f[i].aliases, f[i].naliases);
			if (!k)
				continue;
			if (!(*l)->k) {
				(*l)->k = arena_alloc(w->a, n * sizeof(*(*l)->k));
				(*l)->pkg = arena_alloc(w->a, n * sizeof(*(*l)->pkg));
			}
			(*l)->k[(*l)->n] = k;
			(*l)->pkg[(*l)->n++] = arena_strdup(w->a, f[i].package);
		}
	}
	w->images += (*l)->n > 0;
	for (size_t i = 0; i < (*l)->n; i++) {
		const struct vdb_kev *k = (*l)->k[i];
		void **slot = strmap_slot(w->a, &w->byid, vulndb_str(w->db, k->cve), &created);
		if (created) {
			w->v = arena_grow(w->a, w->v, w->n, &w->cap, sizeof(*w->v));
			w->v[w->n++] = (struct kev_hit){.k = k, .packages = json_object()};
			*slot = (void *)(uintptr_t)w->n;
		}
		struct kev_hit *h = &w->v[(uintptr_t)*slot - 1];
		int first = 1; /* one image counts once per vulnerability, whatever its packages */
		for (size_t j = 0; j < i; j++)
			first &= (*l)->k[j] != k;
		h->images += first;
		json_object_set_new(h->packages, (*l)->pkg[i], json_true());
	}
	return 0;
}

static int kev_order(const void *x, const void *y)
{
	const struct kev_hit *a = x, *b = y;
	if (a->images != b->images)
		return a->images > b->images ? -1 : 1;
	return a->k < b->k ? -1 : a->k > b->k; /* the catalogue is sorted by cve */
}

static void kev_handle(struct http_req *r, struct assess_api *api)
{
	if (web_access(r, NULL, ACCESS_BASE))
		return;
	void *tok;
	struct kev_walk w = {.r = r, .a = &r->arena};
	w.db = api->scanner ? scanner_db_acquire(api->scanner, &tok) : NULL;
	json_t *out = json_array();
	int rc = w.db && vulndb_nkev(w.db) ? idcache_each(api->meta, NULL, kev_image, &w) : 0;
	if (w.n)
		qsort(w.v, w.n, sizeof(*w.v), kev_order);
	for (size_t i = 0; i < w.n; i++) {
		const struct vdb_kev *k = w.v[i].k;
		const char *due = vulndb_str(w.db, k->due_date), *key;
		json_t *pk = json_array(), *val;
		json_object_foreach(w.v[i].packages, key, val) json_array_append_new(pk, json_string(key));
		json_decref(w.v[i].packages);
		json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:s?, s:s, s:b, s:I, s:o}", "cve", vulndb_str(w.db, k->cve),
						     "name", vulndb_str(w.db, k->name), "date_added",
						     vulndb_str(w.db, k->date_added), "due_date", *due ? due : NULL,
						     "required_action", vulndb_str(w.db, k->action), "ransomware",
						     (int)k->ransomware, "images", w.v[i].images, "packages", pk));
	}
	json_t *o = json_pack("{s:o, s:I, s:I}", "vulnerabilities", out, "images", w.images, "catalogue",
			      (json_int_t)(w.db ? vulndb_nkev(w.db) : 0));
	if (w.db)
		scanner_db_release(api->scanner, tok);
	if (rc) {
		json_decref(o);
		api_error(r, rc, NULL);
		return;
	}
	web_send_json(r, 200, o);
}

#define TREND_MAX_DAYS 366

/* The UTC day t + off days, "YYYY-MM-DD", into out. */
static void utc_day(time_t t, int off, char out[16])
{
	t += (time_t)off * 86400;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 16, "%Y-%m-%d", &tm);
}

/* /api/v1/trend?days=N: the running totals (before suppression rules) at the end of each of the
 * last N UTC days (30 by default, today last, the level so far) and the assessments written each
 * day, summed over the namespaces the caller may read. */
static void trend_handle(struct http_req *r, struct assess_api *api)
{
	if (web_access(r, NULL, ACCESS_BASE))
		return;
	long days;
	if (query_number(r, "days", 30, TREND_MAX_DAYS, &days))
		return;
	time_t now = time(NULL);
	char since[16], day[16];
	utc_day(now, -(int)(days - 1), since);
	struct assessment_day *v;
	size_t n;
	if (api->meta->scans->assessment_days(api->meta, &r->arena, since, &v, &n)) {
		api_error(r, DD_E_IO, NULL);
		return;
	}
	json_t *by_status = json_object(), *out = json_array();
	json_int_t sev[6] = {0}, unfixed = 0;
	const char *ns_seen = NULL;
	int ns_ok = 0;
	size_t i = 0;
	for (long k = -1; k < days; k++) { /* k = -1: the days before `since` */
		if (k >= 0)
			utc_day(now, (int)(k - days + 1), day);
		json_int_t assessed = 0;
		for (; i < n && (k < 0 ? !*v[i].day : !strcmp(v[i].day, day)); i++) {
			if (!ns_seen || strcmp(ns_seen, v[i].ns)) { /* rows come by namespace within a day */
				ns_seen = v[i].ns;
				ns_ok = !access_check_ns(r, v[i].ns, ACCESS_SECURITY_READ);
			}
			if (!ns_ok)
				continue;
			json_object_set_new(by_status, v[i].status,
					    json_integer(json_integer_value(json_object_get(by_status, v[i].status)) +
							 (json_int_t)v[i].images));
			for (int s = 0; s < 6; s++) /* CRITICAL first */
				sev[VDB_SEV_CRITICAL - s] += (json_int_t)v[i].severity[s];
			unfixed += (json_int_t)v[i].unfixed;
			assessed += (json_int_t)v[i].assessed;
		}
		if (k < 0)
			continue;
		json_t *st = json_object();
		const char *key;
		json_t *val;
		json_object_foreach(by_status, key, val)
			if (json_integer_value(val)) /* a status with no image left is left out, as in the summary */
				json_object_set_new(st, key, json_integer(json_integer_value(val)));
		json_array_append_new(out, json_pack("{s:s, s:o, s:o, s:I, s:I}", "day", day, "images_by_status", st,
						     "findings_by_severity", sev_object(sev), "unfixed_findings", unfixed,
						     "assessed", assessed));
	}
	json_decref(by_status);
	web_send_json(r, 200, json_pack("{s:o, s:b}", "days", out, "before_suppression_rules", 1));
}

/* /api/v1/namespaces/<ns>/scanning, GET or PUT ?enabled=true|false */
static void namespace_handle(struct http_req *r, struct assess_api *api)
{
	const char *p = r->path + strlen("/api/v1/namespaces/");
	const char *slash = strchr(p, '/');
	if (!slash || (strcmp(slash, "/scanning") && strcmp(slash, "/policy")) || slash == p || (size_t)(slash - p) > 255) {
		api_error(r, DD_E_NOT_FOUND, "use /api/v1/namespaces/NAMESPACE/scanning or .../policy");
		return;
	}
	const char *ns = arena_strndup(&r->arena, p, (size_t)(slash - p));
	if (strspn(ns, "abcdefghijklmnopqrstuvwxyz0123456789._-") != strlen(ns)) { /* no repository lives there */
		api_error(r, DD_E_NAME_INVALID, "a namespace is the first component of repository names: a-z, 0-9, '.', "
						 "'_' and '-'");
		return;
	}
	if (!strcmp(slash, "/policy")) {
		if (!strcmp(r->method, "PUT")) {
			if (!web_access_ns(r, ns, ACCESS_SETTINGS))
				ask_body(r);
		} else if (strcmp(r->method, "GET"))
			api_error(r, DD_E_METHOD, NULL);
		else if (!web_access_ns(r, ns, ACCESS_SECURITY_READ)) {
			struct pull_policy pol;
			policy_get(api->meta, &r->arena, ns, &pol);
			web_send_json(r, 200, policy_json(ns, &pol));
		}
		return;
	}
	int enabled;
	if (!strcmp(r->method, "PUT")) {
		const char *e = http_query(r, "enabled");
		if (!e || (strcmp(e, "true") && strcmp(e, "false"))) {
			api_error(r, DD_E_USAGE, "give ?enabled=true or ?enabled=false");
			return;
		}
		if (web_access_ns(r, ns, ACCESS_SETTINGS))
			return;
		if (api->meta->scans->ns_scanning_set(api->meta, ns, !strcmp(e, "true"))) {
			api_error(r, DD_E_IO, NULL);
			return;
		}
		audit_record(r, api->meta, "scanning-set", ns, arena_printf(&r->arena, "{\"enabled\":%s}", e));
	} else if (strcmp(r->method, "GET")) {
		api_error(r, DD_E_METHOD, NULL);
		return;
	} else if (web_access_ns(r, ns, ACCESS_SECURITY_READ))
		return;
	api->meta->scans->ns_scanning_get(api->meta, ns, &enabled);
	web_send_json(r, 200, json_pack("{s:s, s:b}", "namespace", ns, "scanning", enabled));
}

static void metrics_handle(struct http_req *r, struct assess_api *api)
{
	if (web_access(r, NULL, ACCESS_METRICS))
		return;
	struct scanner_stats st = {0};
	if (api->scanner)
		scanner_stats(api->scanner, &st);
	int64_t queued = 0, running = 0;
	api->meta->scans->scan_queue_depth(api->meta, &queued, &running);
	struct buf b;
	buf_init(&b, 1 << 20);
	buf_puts(&b, "# HELP drydock_http_requests_total Requests answered since start, by method and status class.\n"
		     "# TYPE drydock_http_requests_total counter\n");
	uint64_t requests[ROUTER_METHODS][6] = {{0}};
	if (api->router)
		router_requests(api->router, requests);
	for (int m = 0; m < ROUTER_METHODS; m++)
		for (int c = 1; c < 6; c++)
			if (requests[m][c])
				buf_printf(&b, "drydock_http_requests_total{method=\"%s\",code=\"%dxx\"} %" PRIu64 "\n",
					   router_methods[m], c, requests[m][c]);
	buf_printf(&b, "# HELP drydock_layers_streamed_total Layers analysed while they uploaded.\n"
		       "# TYPE drydock_layers_streamed_total counter\ndrydock_layers_streamed_total %" PRIu64 "\n",
		   st.layers_streamed);
	buf_printf(&b, "# HELP drydock_scan_notices_total Notices that a node of the cluster queued scans (PostgreSQL).\n"
		       "# TYPE drydock_scan_notices_total counter\ndrydock_scan_notices_total %" PRIu64 "\n",
		   st.notices);
	buf_printf(&b, "# HELP drydock_scan_worker_tasks_total Tasks given to sandboxed scan workers, by what they read.\n"
		       "# TYPE drydock_scan_worker_tasks_total counter\n"
		       "drydock_scan_worker_tasks_total{reader=\"layer\"} %" PRIu64 "\n"
		       "drydock_scan_worker_tasks_total{reader=\"package-databases\"} %" PRIu64 "\n"
		       "# HELP drydock_scan_inventories_from_layer_total Images of one layer whose package list came with "
		       "the reading of that layer (no second worker).\n"
		       "# TYPE drydock_scan_inventories_from_layer_total counter\n"
		       "drydock_scan_inventories_from_layer_total %" PRIu64 "\n",
		   st.worker_layer_tasks, st.worker_inventory_tasks, st.inventories_spared);
	buf_puts(&b, "# HELP drydock_scans_total Image assessments completed since start, by result.\n"
		     "# TYPE drydock_scans_total counter\n");
	for (int i = 0; i < ASSESSMENT_STATUSES; i++)
		buf_printf(&b, "drydock_scans_total{status=\"%s\"} %" PRIu64 "\n", assessment_status_name(i), st.by_status[i]);
	buf_puts(&b, "# HELP drydock_scan_duration_seconds Time from claiming a scan job to storing its assessment.\n"
		     "# TYPE drydock_scan_duration_seconds histogram\n");
	for (int i = 0; i < SCANNER_BUCKETS; i++)
		buf_printf(&b, "drydock_scan_duration_seconds_bucket{le=\"%g\"} %" PRIu64 "\n", scanner_bucket_bounds[i],
			   st.latency_le[i]);
	buf_printf(&b, "drydock_scan_duration_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n", st.completed);
	buf_printf(&b, "drydock_scan_duration_seconds_sum %.6f\ndrydock_scan_duration_seconds_count %" PRIu64 "\n",
		   st.latency_sum, st.completed);
	buf_printf(&b, "# HELP drydock_scan_queue_depth Scan jobs waiting or running.\n"
		       "# TYPE drydock_scan_queue_depth gauge\n"
		       "drydock_scan_queue_depth{state=\"queued\"} %" PRId64 "\n"
		       "drydock_scan_queue_depth{state=\"running\"} %" PRId64 "\n",
		   queued, running);
	/* findings by severity in every stored assessment, as the summary counts them: from the
	 * running totals at every scrape; while rules are in force (the repositories they cover are
	 * counted image by image) at most every 30 s, so scrapes stay cheap with many images */
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	static json_int_t cached[6];
	static int64_t cached_at;
	json_int_t total[6] = {0};
	struct rule *rules;
	size_t nrules = 0;
	rules_load(api->meta, &r->arena, &rules, &nrules);
	pthread_mutex_lock(&mu);
	if (!nrules || util_now() - cached_at >= 30) {
		struct tally t = {.by_status = json_object()};
		if (!tally_registry(api, &r->arena, NULL, rules, nrules, &t)) {
			memcpy(cached, t.sev, sizeof(cached));
			cached_at = nrules ? util_now() : 0;
		}
		json_decref(t.by_status);
	}
	memcpy(total, cached, sizeof(total));
	pthread_mutex_unlock(&mu);
	buf_puts(&b, "# HELP drydock_findings Findings in the latest assessment of every stored image, by severity.\n"
		     "# TYPE drydock_findings gauge\n");
	for (int s = 5; s >= 0; s--)
		buf_printf(&b, "drydock_findings{severity=\"%s\"} %lld\n", vdb_severity_name(s), (long long)total[s]);
	buf_printf(&b, "# HELP drydock_vulndb_built_timestamp_seconds Build time of the vulnerability database in use.\n"
		       "# TYPE drydock_vulndb_built_timestamp_seconds gauge\n"
		       "drydock_vulndb_built_timestamp_seconds %" PRId64 "\n",
		   st.db_built_at);
	void *tok;
	const struct vulndb *db = api->scanner ? scanner_db_acquire(api->scanner, &tok) : NULL;
	if (db) {
		int64_t now = util_now();
		buf_puts(&b, "# HELP drydock_vulndb_feed_age_seconds How old each feed's newest data is.\n"
			     "# TYPE drydock_vulndb_feed_age_seconds gauge\n");
		for (size_t i = 0; i < vulndb_nfeeds(db); i++) {
			const struct vdb_feed *f = vulndb_feed(db, i);
			if (f->snapshot <= 0)
				continue;
			buf_puts(&b, "drydock_vulndb_feed_age_seconds{feed=\"");
			for (const char *p = vulndb_str(db, f->name); *p; p++) /* a label value, escaped */
				buf_puts(&b, *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : *p == '\n' ? "\\n" : (char[2]){*p, 0});
			buf_printf(&b, "\"} %" PRId64 "\n", now - f->snapshot);
		}
		scanner_db_release(api->scanner, tok);
	}
	int64_t waiting = 0, failed = 0, given_up = 0, blobs = 0, bytes = 0;
	if (!api->meta->outbox->outbox_backlog(api->meta, &waiting, &failed, &given_up))
		buf_printf(&b, "# HELP drydock_webhook_backlog Webhook events waiting to be delivered.\n"
			       "# TYPE drydock_webhook_backlog gauge\ndrydock_webhook_backlog %" PRId64 "\n"
			       "# HELP drydock_webhook_failing Of those, the events whose delivery failed at least once.\n"
			       "# TYPE drydock_webhook_failing gauge\ndrydock_webhook_failing %" PRId64 "\n"
			       "# HELP drydock_webhook_given_up_total Webhook events dropped after failing for the"
			       " give-up limit (the targets there are).\n"
			       "# TYPE drydock_webhook_given_up_total counter\ndrydock_webhook_given_up_total %" PRId64 "\n",
			   waiting, failed, given_up);
	if (!api->meta->repos->blob_totals(api->meta, &blobs, &bytes))
		buf_printf(&b, "# HELP drydock_storage_blobs Blobs stored (each once).\n"
			       "# TYPE drydock_storage_blobs gauge\ndrydock_storage_blobs %" PRId64 "\n"
			       "# HELP drydock_storage_blob_bytes Bytes of the blobs stored.\n"
			       "# TYPE drydock_storage_blob_bytes gauge\ndrydock_storage_blob_bytes %" PRId64 "\n",
			   blobs, bytes);
	struct space_stat sp;
	if (api->space && !space_stat(api->space, &sp))
		buf_printf(&b, "# HELP drydock_storage_free_bytes Free bytes of the data directory's file system.\n"
			       "# TYPE drydock_storage_free_bytes gauge\ndrydock_storage_free_bytes %" PRId64 "\n",
			   sp.free_bytes);
	int64_t statements, transactions, write_ns;
	meta_counts(&statements, &transactions, &write_ns);
	buf_printf(&b, "# HELP drydock_metadata_statements_total Statements run on the metadata store (reads too).\n"
		       "# TYPE drydock_metadata_statements_total counter\ndrydock_metadata_statements_total %" PRId64 "\n"
		       "# HELP drydock_metadata_write_transactions_total Write transactions of several statements on the "
		       "metadata store (a single-statement write is one statement, not counted here).\n"
		       "# TYPE drydock_metadata_write_transactions_total counter\n"
		       "drydock_metadata_write_transactions_total %" PRId64 "\n"
		       "# HELP drydock_metadata_write_seconds_total Time write transactions held the writers' lock "
		       "(SQLite's, or on PostgreSQL the one every node's writers share).\n"
		       "# TYPE drydock_metadata_write_seconds_total counter\n"
		       "drydock_metadata_write_seconds_total %.6f\n",
		   statements, transactions, (double)write_ns / 1e9);
	buf_printf(&b, "# HELP drydock_metadata_checkpoints_total WAL checkpoints run beside the writers (SQLite).\n"
		       "# TYPE drydock_metadata_checkpoints_total counter\ndrydock_metadata_checkpoints_total %" PRId64 "\n",
		   meta_checkpoints());
	int64_t s3n[S3_NMETHODS], s3_sent, s3_received, s3_all = 0;
	s3_counts(s3n, &s3_sent, &s3_received);
	for (int i = 0; i < S3_NMETHODS; i++)
		s3_all += s3n[i];
	if (s3_all) { /* storage = s3 */
		buf_puts(&b, "# HELP drydock_s3_requests_total Requests made to S3, by method.\n"
			     "# TYPE drydock_s3_requests_total counter\n");
		for (int i = 0; i < S3_NMETHODS; i++)
			buf_printf(&b, "drydock_s3_requests_total{method=\"%s\"} %" PRId64 "\n", s3_method_names[i], s3n[i]);
		buf_printf(&b, "# HELP drydock_s3_sent_bytes_total Body bytes sent to S3.\n"
			       "# TYPE drydock_s3_sent_bytes_total counter\ndrydock_s3_sent_bytes_total %" PRId64 "\n"
			       "# HELP drydock_s3_received_bytes_total Body bytes received from S3.\n"
			       "# TYPE drydock_s3_received_bytes_total counter\ndrydock_s3_received_bytes_total %" PRId64 "\n"
			       "# HELP drydock_s3_scanner_copies_dropped_total Uploads' copies for the scanner dropped (its"
			       " reader too far behind, or the memory for uploads taken): each layer read back from S3.\n"
			       "# TYPE drydock_s3_scanner_copies_dropped_total counter\n"
			       "drydock_s3_scanner_copies_dropped_total %" PRId64 "\n",
			   s3_sent, s3_received, s3_copies_dropped());
	}
	http_respond(r, 200, "text/plain; version=0.0.4", b.data ? b.data : "", b.len);
	buf_release(&b);
}

/* 503 only when the metadata store fails. A disk that is low or full makes the status
 * "degraded" but stays 200: the registry still serves pulls and deletes and frees space with gc,
 * and a probe that restarted it or took it out of a load balancer would stop exactly that. */
static void health_handle(struct http_req *r, struct assess_api *api)
{
	struct scanner_stats st = {0};
	if (api->scanner)
		scanner_stats(api->scanner, &st);
	int64_t queued = 0, running = 0;
	int rc = api->meta->scans->scan_queue_depth(api->meta, &queued, &running);
	struct space_stat sp;
	int have_space = api->space && !space_stat(api->space, &sp);
	int degraded = rc || (have_space && sp.state != SPACE_OK);
	json_t *o = json_pack("{s:s, s:b, s:o, s:I, s:I}", "status", degraded ? "degraded" : "ok", "metadata", !rc,
			      "vulnerability_database", *st.generation ? json_string(st.generation) : json_null(),
			      "scan_queue", (json_int_t)queued, "scanning", (json_int_t)running);
	if (have_space)
		json_object_set_new(o, "storage",
				    json_pack("{s:s, s:I, s:I, s:I, s:I}", "state", space_state_name(sp.state), "free_bytes",
					      (json_int_t)sp.free_bytes, "min_free_bytes", (json_int_t)sp.min_free,
					      "reserve_bytes", (json_int_t)sp.reserve_held, "reserve_target_bytes",
					      (json_int_t)sp.reserve_wanted));
	web_send_json(r, rc ? 503 : 200, o);
}

/* ---- suppression rules and pull policies ---- */

/* The per-request state of the service: a JSON body being read, when one was asked for. */
struct api_req {
	struct buf body;
	int want_body, err;
};

static void ask_body(struct http_req *r) { ((struct api_req *)r->state)->want_body = 1; }

/* Access to a suppression rule is access to the repositories it covers: an exact name is that
 * repository, "NS/..." followed by "*" is the namespace NS, and anything wider (or no pattern:
 * every repository) needs a registry-wide grant. */
static int rule_access(struct http_req *r, const char *pattern, enum access_action action)
{
	if (!pattern || !*pattern || !strcmp(pattern, "*"))
		return access_check(r, NULL, action);
	size_t n = strlen(pattern);
	if (!strpbrk(pattern, "*?["))
		return access_check(r, pattern, action);
	if (n > 2 && !strcmp(pattern + n - 2, "/*") && !strpbrk(pattern, "?[") && !memchr(pattern, '*', n - 1))
		return access_check_ns(r, arena_strndup(&r->arena, pattern, n - 2), action);
	return access_check(r, NULL, action);
}

static const char *rule_repository(struct arena *a, const char *json)
{
	json_t *o = json_loads(json, 0, NULL);
	const char *p = json_string_value(json_object_get(o, "repository"));
	const char *out = p ? arena_strdup(a, p) : NULL;
	json_decref(o);
	return out;
}

static void rules_handle(struct http_req *r, struct assess_api *api)
{
	const char *p = r->path + strlen("/api/v1/suppressions");
	if (!strcmp(r->method, "POST") && !*p) {
		if (!web_access(r, NULL, ACCESS_BASE)) /* the rule's own scope is checked once it is read */
			ask_body(r);
		return;
	}
	if (!strcmp(r->method, "DELETE") && *p == '/' && p[1]) {
		if (web_access(r, NULL, ACCESS_BASE))
			return;
		const char *v;
		const char *key = arena_printf(&r->arena, "suppression/%s", p + 1);
		int rc = api->meta->admin->setting_get(api->meta, &r->arena, key, &v);
		if (rc || (rc = rule_access(r, rule_repository(&r->arena, v), ACCESS_SETTINGS))) {
			/* a rule the caller may not manage reads as one that does not exist */
			api_error(r, DD_E_NOT_FOUND, arena_printf(&r->arena, "no suppression rule '%s'", p + 1));
			return;
		}
		api->meta->admin->setting_delete(api->meta, key);
		audit_record(r, api->meta, "rule-delete", p + 1, v);
		http_respond(r, 204, NULL, "", 0);
		return;
	}
	if (strcmp(r->method, "GET") || *p) {
		api_error(r, DD_E_METHOD, NULL);
		return;
	}
	if (web_access(r, NULL, ACCESS_BASE))
		return;
	const char **keys, **values;
	size_t n;
	if (api->meta->admin->settings_list(api->meta, &r->arena, "suppression/", &keys, &values, &n)) {
		api_error(r, DD_E_IO, NULL);
		return;
	}
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_loads(values[i], 0, NULL);
		const char *pat = json_string_value(json_object_get(o, "repository"));
		if (o && pat && *pat && rule_access(r, pat, ACCESS_SECURITY_READ)) {
			json_decref(o);
			continue;
		}
		if (o) {
			json_int_t exp = json_integer_value(json_object_get(o, "expires"));
			json_object_set_new(o, "expired", json_boolean(exp && exp <= util_now()));
			json_array_append_new(a, o);
		}
	}
	web_send_json(r, 200, json_pack("{s:o}", "suppressions", a));
}

static void rule_create(struct http_req *r, struct assess_api *api, const char *body, size_t len)
{
	struct rule rule;
	const char *why;
	if (rule_parse(&r->arena, body, len, &rule, &why)) {
		api_error(r, DD_E_USAGE, why);
		return;
	}
	int arc = rule_access(r, rule.repository, ACCESS_SETTINGS);
	if (arc) {
		api_error(r, arc, rule.repository && *rule.repository
					  ? arena_printf(&r->arena, "managing rules for '%s' needs the owner role there",
							 rule.repository)
					  : "a rule for every repository needs a registry-wide owner or admin role");
		access_add_challenge(r, arc, NULL, ACCESS_SETTINGS);
		return;
	}
	char id[37];
	util_uuid(id);
	rule.id = id;
	rule.created = util_now();
	char *text = rule_to_json(&rule);
	int rc = text ? api->meta->admin->setting_put(api->meta, arena_printf(&r->arena, "suppression/%s", id), text)
		      : DD_E_NOMEM;
	if (rc) {
		free(text);
		api_error(r, rc, NULL);
		return;
	}
	audit_record(r, api->meta, "rule-create", id, text);
	http_respond(r, 201, "application/json", text, strlen(text));
	http_add_header(r, "Location", arena_printf(&r->arena, "/api/v1/suppressions/%s", id));
	free(text);
}

/* /api/v1/vex[/ID]: VEX documents uploaded (scan/vex.h), kept as settings "vex/<id>" beside the
 * ones attached to images as referrers ("vex/ref:<repo>@<digest>", listed, removed with their
 * referrer). Access is that of a suppression rule over the same repositories. */
static void vex_handle(struct http_req *r, struct assess_api *api)
{
	const char *p = r->path + strlen("/api/v1/vex");
	if (!strcmp(r->method, "POST") && !*p) {
		if (!web_access(r, NULL, ACCESS_BASE)) /* the document's scope is checked once it is read */
			ask_body(r);
		return;
	}
	int del = !strcmp(r->method, "DELETE");
	if ((!del && strcmp(r->method, "GET")) || (del && !*p) || (*p && (p[0] != '/' || !p[1] || strlen(p) > 200))) {
		api_error(r, *p && p[0] != '/' ? DD_E_NOT_FOUND : DD_E_METHOD, NULL);
		return;
	}
	if (web_access(r, NULL, ACCESS_BASE))
		return;
	const char **keys, **values;
	size_t n;
	if (api->meta->admin->settings_list(api->meta, &r->arena, "vex/", &keys, &values, &n)) {
		api_error(r, DD_E_IO, NULL);
		return;
	}
	json_t *list = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_loads(values[i], 0, NULL);
		const char *id = json_string_value(json_object_get(o, "id"));
		const char *repo = json_string_value(json_object_get(o, "repository"));
		const char *ref = json_string_value(json_object_get(o, "referrer"));
		struct manifest_rec mr;
		if (ref && repo &&
		    api->meta->repos->manifest_get(api->meta, &r->arena, repo, ref, 1, 0, &mr) == DD_E_MANIFEST_UNKNOWN) {
			api->meta->admin->setting_delete(api->meta, keys[i]); /* its referrer is gone: so is it */
			vex_touch(api->meta);
			json_decref(o);
			continue;
		}
		enum access_action need = del ? ACCESS_SETTINGS : ACCESS_SECURITY_READ;
		if (!o || !id || rule_access(r, repo && *repo ? repo : NULL, need) || (*p && strcmp(id, p + 1))) {
			json_decref(o); /* a document the caller may not see reads as one that does not exist */
			continue;
		}
		if (*p && !del) { /* the document itself */
			const char *doc = json_string_value(json_object_get(o, "document"));
			http_respond(r, 200, "application/json", arena_strdup(&r->arena, doc ? doc : "{}"), doc ? strlen(doc) : 2);
			json_decref(o);
			json_decref(list);
			return;
		}
		if (*p) {
			json_decref(list);
			if (strcmp(json_string_value(json_object_get(o, "source")), "api")) {
				json_decref(o);
				api_error(r, DD_E_USAGE, "this document is attached to an image: delete its referrer manifest");
				return;
			}
			json_decref(o);
			api->meta->admin->setting_delete(api->meta, keys[i]);
			vex_touch(api->meta);
			audit_record(r, api->meta, "vex-delete", p + 1, NULL);
			http_respond(r, 204, NULL, "", 0);
			return;
		}
		json_object_del(o, "document");
		json_array_append_new(list, o);
	}
	if (*p) {
		json_decref(list);
		api_error(r, DD_E_NOT_FOUND, arena_printf(&r->arena, "no VEX document '%s'", p + 1));
		return;
	}
	web_send_json(r, 200, json_pack("{s:o}", "documents", list));
}

static void vex_create(struct http_req *r, struct assess_api *api, const char *body, size_t len)
{
	const char *scope = http_query(r, "repository"), *format, *why;
	struct vex_statement *st;
	size_t n;
	if (vex_parse(&r->arena, body, len, &format, &st, &n, &why)) {
		api_error(r, DD_E_USAGE, why);
		return;
	}
	if (scope && (!*scope || strlen(scope) > 255 || strspn(scope, "abcdefghijklmnopqrstuvwxyz0123456789._-/*") !=
								      strlen(scope) ||
		      strstr(scope, "..") || strstr(scope, "//") || scope[0] == '/')) {
		api_error(r, DD_E_USAGE, "repository: a repository name or pattern (NS/*) of at most 255 bytes");
		return;
	}
	if (!n) {
		api_error(r, DD_E_USAGE, "the document has no statement to apply");
		return;
	}
	int arc = rule_access(r, scope, ACCESS_SETTINGS);
	if (arc) {
		api_error(r, arc, scope ? arena_printf(&r->arena, "VEX for '%s' needs the owner role there", scope)
				       : "VEX for every repository needs a registry-wide owner or admin role"
					 " (or give ?repository=NS/*)");
		access_add_challenge(r, arc, NULL, ACCESS_SETTINGS);
		return;
	}
	const char **keys, **values;
	size_t have;
	if (api->meta->admin->settings_list(api->meta, &r->arena, "vex/", &keys, &values, &have)) {
		api_error(r, DD_E_IO, NULL);
		return;
	}
	size_t ns_len = scope ? strcspn(scope, "/") : 0, in_ns = 0;
	for (size_t i = 0; i < have; i++) { /* uploaded for the same namespace (or for every one) */
		const char *k = keys[i] + 4;
		if (!strncmp(k, "ref:", 4))
			continue;
		json_t *o = json_loads(values[i], 0, NULL);
		const char *rs = json_string_value(json_object_get(o, "repository"));
		in_ns += rs && (scope ? strlen(rs) >= ns_len && !strncmp(rs, scope, ns_len) &&
					    (rs[ns_len] == '/' || !rs[ns_len])
				      : !*rs);
		json_decref(o);
	}
	if (have >= DD_MAX_VEX_DOCUMENTS || in_ns >= DD_MAX_VEX_PER_NAMESPACE) {
		api_error(r, DD_E_USAGE,
			  arena_printf(&r->arena, "%d VEX documents are kept at most, %d uploaded for one namespace (or for"
						  " every repository): delete one first",
				       DD_MAX_VEX_DOCUMENTS, DD_MAX_VEX_PER_NAMESPACE));
		return;
	}
	char id[37];
	util_uuid(id);
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s%}", "id", id, "source", "api", "repository",
			      scope ? scope : "", "format", format, "statements", (json_int_t)n, "created",
			      (json_int_t)util_now(), "document", body, len);
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	int rc = text ? api->meta->admin->setting_put(api->meta, arena_printf(&r->arena, "vex/%s", id), text) : DD_E_NOMEM;
	free(text);
	if (!rc)
		rc = vex_touch(api->meta);
	if (rc) {
		json_decref(o);
		api_error(r, rc, NULL);
		return;
	}
	json_object_del(o, "document");
	char *detail = json_dumps(o, JSON_COMPACT);
	audit_record(r, api->meta, "vex-create", id, detail);
	free(detail);
	web_send_json(r, 201, o);
	http_add_header(r, "Location", arena_printf(&r->arena, "/api/v1/vex/%s", id));
}

/* /api/v1/namespaces/<ns>/policy: rules.h's struct pull_policy as JSON (any key left out; {}
 * clears it) */
static void policy_set(struct http_req *r, struct assess_api *api, const char *ns, const char *body, size_t len)
{
	struct pull_policy pol;
	const char *why;
	if (policy_parse(body, len, &pol, &why)) {
		api_error(r, DD_E_USAGE, why);
		return;
	}
	const char *skey = arena_printf(&r->arena, "policy/%s", ns);
	int rc;
	if (pol.threshold >= 0 || pol.known_exploited || pol.unassessed || pol.failed || pol.not_applicable ||
	    pol.unknown_as >= 0) {
		json_t *stored = policy_json(NULL, &pol);
		char *text = json_dumps(stored, JSON_COMPACT);
		rc = api->meta->admin->setting_put(api->meta, skey, text ? text : "{}");
		free(text);
		json_decref(stored);
	} else
		rc = api->meta->admin->setting_delete(api->meta, skey);
	if (rc) {
		api_error(r, rc, NULL);
		return;
	}
	json_t *shown = policy_json(ns, &pol);
	char *detail = json_dumps(shown, JSON_COMPACT);
	audit_record(r, api->meta, "policy-set", ns, detail ? arena_strdup(&r->arena, detail) : "{}");
	free(detail);
	web_send_json(r, 200, shown);
}

/* GET /api/v1/accounts: every account with its roles, never a password hash (admins). */
static void accounts_handle(struct http_req *r, struct assess_api *api)
{
	if (web_access(r, NULL, ACCESS_AUDIT))
		return;
	struct account *v;
	size_t n;
	if (accounts_list(api->meta, &r->arena, &v, &n)) {
		api_error(r, DD_E_IO, NULL);
		return;
	}
	int64_t now = util_now();
	json_t *out = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *o = account_json(&v[i]);
		json_object_set_new(o, "expired", json_boolean(v[i].expires && v[i].expires <= now));
		json_array_append_new(out, o);
	}
	web_send_json(r, 200, json_pack("{s:o}", "accounts", out));
}

/* GET /api/v1/audit?after=ID&n=N: the audit log, oldest first, for admins. */
static void audit_handle(struct http_req *r, struct assess_api *api)
{
	if (web_access(r, NULL, ACCESS_AUDIT))
		return;
	const char *after_s = http_query(r, "after"), *n_s = http_query(r, "n");
	int64_t after = 0, max = 100;
	if ((after_s && parse_i64(after_s, strlen(after_s), &after)) || (n_s && (parse_i64(n_s, strlen(n_s), &max) || max < 1))) {
		api_error(r, DD_E_USAGE, "after and n are non-negative integers (n at least 1)");
		return;
	}
	if (max > DD_MAX_AUDIT_PAGE)
		max = DD_MAX_AUDIT_PAGE;
	struct audit_rec *v;
	size_t n;
	if (api->meta->admin->audit_list(api->meta, &r->arena, after, (size_t)max, &v, &n)) {
		api_error(r, DD_E_IO, NULL);
		return;
	}
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_pack("{s:I, s:s, s:s, s:s, s:s}", "id", (json_int_t)v[i].id, "time", util_iso_time(&r->arena, v[i].time),
				      "actor", v[i].actor, "action", v[i].action, "target", v[i].target);
		json_t *d = *v[i].detail ? json_loads(v[i].detail, 0, NULL) : NULL;
		if (d)
			json_object_set_new(e, "detail", d);
		json_array_append_new(a, e);
	}
	json_t *o = json_pack("{s:o}", "entries", a);
	if (n == (size_t)max)
		json_object_set_new(o, "next", json_string(arena_printf(&r->arena, "/api/v1/audit?after=%" PRId64 "&n=%" PRId64,
								      v[n - 1].id, max)));
	web_send_json(r, 200, o);
}

static void body_read(struct http_req *r, struct assess_api *api, const char *body, size_t len)
{
	if (query_api_route(r->path))
		query_api_body(r, api, body, len);
	else if (!strcmp(r->path, "/api/v1/suppressions"))
		rule_create(r, api, body, len);
	else if (webhook_api_route(r->path))
		webhook_api(r, api->meta, body, len, NULL);
	else if (!strcmp(r->path, "/api/v1/vex"))
		vex_create(r, api, body, len);
	else if (!strcmp(r->path, "/api/v1/admission"))
		admission_handle(r, api, body, len);
	else {
		const char *p = r->path + strlen("/api/v1/namespaces/");
		const char *slash = strchr(p, '/');
		policy_set(r, api, arena_strndup(&r->arena, p, slash ? (size_t)(slash - p) : 0), body, len);
	}
}

static void route(struct http_req *r, struct assess_api *api)
{
	const char *p = r->path;
	if (query_api_route(p))
		query_api_begin(r, api, ask_body);
	else if (!strncasecmp(p, "/providers/", 11) || !strncasecmp(p, "/subscriptions/", 15)) /* paths read as Azure does */
		azure_handle(r, api);
	else if (!strncmp(p, "/api/v1/suppressions", 20))
		rules_handle(r, api);
	else if (!strncmp(p, "/api/v1/vex", 11) && (!p[11] || p[11] == '/'))
		vex_handle(r, api);
	else if (webhook_api_route(p))
		webhook_api(r, api->meta, NULL, 0, &((struct api_req *)r->state)->want_body);
	else if (!strcmp(p, "/api/v1/admission")) {
		if (strcmp(r->method, "POST"))
			api_error(r, DD_E_METHOD, "POST an AdmissionReview (admission.k8s.io/v1)");
		else if (!web_access(r, NULL, ACCESS_BASE)) /* each image's repository is checked as it is read */
			ask_body(r);
	}
	else if (!strcmp(p, "/healthz"))
		health_handle(r, api);
	else if (!strcmp(p, "/metrics"))
		metrics_handle(r, api);
	else if (!strncmp(p, "/api/v1/namespaces/", 19))
		namespace_handle(r, api);
	else if (!strcmp(p, "/api/v1/images/scan"))
		rescan_handle(r, api);
	else if (strcmp(r->method, "GET"))
		api_error(r, DD_E_METHOD, NULL);
	else if (!strcmp(p, "/api/v1/images"))
		image_handle(r, api);
	else if (!strcmp(p, "/api/v1/repositories")) {
		const char *repo = http_query(r, "repository");
		if (!repo || !*repo)
			api_error(r, DD_E_USAGE, "give ?repository=NAME");
		else
			list_handle(r, api, repo);
	} else if (!strcmp(p, "/api/v1/summary"))
		list_handle(r, api, NULL);
	else if (!strcmp(p, "/api/v1/usage"))
		usage_handle(r, api);
	else if (!strcmp(p, "/api/v1/trend"))
		trend_handle(r, api);
	else if (!strcmp(p, "/api/v1/database"))
		database_handle(r, api);
	else if (!strcmp(p, "/api/v1/upgrades"))
		upgrades_handle(r, api);
	else if (!strcmp(p, "/api/v1/known-exploited"))
		kev_handle(r, api);
	else if (!strcmp(p, "/api/v1/audit"))
		audit_handle(r, api);
	else if (!strcmp(p, "/api/v1/accounts"))
		accounts_handle(r, api);
	else
		api_error(r, DD_E_NOT_FOUND, "see docs/api.md for the security API");
}

/* Whether a browser sent r from a page of another site: its Sec-Fetch-Site says so, or, from a
 * browser that sends none, its Origin names another host than the request's. Such a request
 * rides on credentials the browser keeps for this server (HTTP Basic, once typed into its
 * prompt), so no change is made on its say-so; tools (curl, scripts) send neither header. */
static int cross_site(struct http_req *r)
{
	const char *site = http_header(r, "Sec-Fetch-Site");
	if (site)
		return strcmp(site, "same-origin") && strcmp(site, "none");
	const char *origin = http_header(r, "Origin"), *host = http_header(r, "Host");
	if (!origin)
		return 0;
	const char *o = strstr(origin, "://");
	return !o || !host || strcasecmp(o + 3, host);
}

static void on_begin(struct http_req *r)
{
	struct api_req *q = arena_alloc(&r->arena, sizeof(*q));
	buf_init(&q->body, DD_MAX_MANIFEST_BYTES);
	r->state = q;
	if (strlen(r->path) > DD_MAX_URL_BYTES) {
		api_error(r, DD_E_NOT_FOUND, NULL);
		return;
	}
	if (strcmp(r->method, "GET") && strcmp(r->method, "HEAD") && cross_site(r)) {
		api_error(r, DD_E_DENIED, "a change asked by a page of another site is refused (Sec-Fetch-Site, Origin)");
		return;
	}
	route(r, r->app);
}

static void on_body(struct http_req *r, const char *data, size_t n)
{
	struct api_req *q = r->state;
	if (!q->want_body || q->err)
		return;
	if (buf_append(&q->body, data, n)) {
		q->err = DD_E_TOO_LARGE;
		buf_release(&q->body);
	}
}

static void on_end(struct http_req *r)
{
	struct api_req *q = r->state;
	if (q->err)
		api_error(r, q->err, "request body larger than 4 MiB");
	else if (q->want_body)
		body_read(r, r->app, q->body.data ? q->body.data : "", q->body.len);
	else
		api_error(r, DD_E_NOT_FOUND, NULL); /* a handler that answered nothing at begin */
}

static void on_done(struct http_req *r)
{
	struct api_req *q = r->state;
	if (q)
		buf_release(&q->body);
}

struct http_app assess_api_app(struct assess_api *api)
{
	struct http_app app = {.ctx = api, .begin = on_begin, .body = on_body, .end = on_end, .done = on_done};
	return app;
}
