/* api.c: the security API (see api.h). Reads the assessments the scanner stored; findings are
 * filtered and paged here from the stored report. Every endpoint passes access_check. */
#include "common/dd.h"
#include "assess/api.h"
#include "auth/access.h"
#include "auth/audit.h"
#include "http/range.h"
#include "assess/rules.h"
#include "common/util.h"
#include <openssl/sha.h>
#include "common/arena.h"
#include "registry/registry.h"
#include "scan/report.h"
#include "scan/scanner.h"
#include "store/meta_admin.h"
#include "store/meta_repos.h"
#include "store/meta_scans.h"
#include "store/space.h"
#include "vulndb/vulndb.h"
#include <jansson.h>

#define API_MAX_LIMIT 1000 /* findings per page */

int assess_api_route(const char *path)
{
	return !strncmp(path, "/api/v1/", 8) || !strcmp(path, "/metrics") || !strcmp(path, "/healthz") ||
	       !strncmp(path, "/providers/Microsoft.Security/", 30) || !strncmp(path, "/subscriptions/", 15);
}

static void ask_body(struct http_req *r);

static void send_json(struct http_req *r, int status, json_t *o)
{
	char *text = json_dumps(o, JSON_INDENT(2));
	json_decref(o);
	if (!text) {
		reg_error(r, DD_E_NOMEM, NULL);
		return;
	}
	http_respond(r, status, "application/json", text, strlen(text));
	free(text);
}

static int is_digest(const char *s) { return !strncmp(s, "sha256:", 7) || !strncmp(s, "sha512:", 7); }

/* The state of (repo, digest) as the API shows it, with its assessment when there is one. */
static const char *state_of(struct registry *reg, struct arena *a, const char *repo, const char *digest,
			    struct assessment_rec *rec, int *has, int *pending)
{
	struct meta *m = reg->meta;
	enum scan_job_state job = SCAN_JOB_NONE;
	*has = !m->scans->assessment_get(m, a, repo, digest, rec);
	m->scans->scan_job_state(m, repo, digest, &job);
	*pending = job != SCAN_JOB_NONE;
	if (*has)
		return rec->status;
	return job == SCAN_JOB_RUNNING ? "Scanning" : "Queued";
}

static int keep(json_t *f, const char *sev, const char *patchable, const char *id, const char *pkg)
{
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

static void image_handle(struct http_req *r, struct registry *reg)
{
	const char *repo = http_query(r, "repository"), *ref = http_query(r, "reference");
	if (!repo || !ref || !*repo || !*ref) {
		reg_error(r, DD_E_USAGE, "give ?repository=NAME&reference=TAG_OR_DIGEST");
		return;
	}
	if (reg_access(r, repo, ACCESS_SECURITY_READ))
		return;
	struct manifest_rec m;
	int rc = reg->meta->repos->manifest_get(reg->meta, &r->arena, repo, ref, is_digest(ref), 0, &m);
	if (rc) {
		reg_error(r, rc, arena_printf(&r->arena, "'%s' in '%s'", ref, repo));
		return;
	}
	struct assessment_rec rec;
	int has, pending;
	const char *state = state_of(reg, &r->arena, repo, m.digest, &rec, &has, &pending);
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
			rules_load(reg->meta, &r->arena, &rules, &nrules);
			json_object_set_new(o, "status", json_string(rules_apply(rules, nrules, repo, rep, rec.status)));
			const char *keys[] = {"os", "ecosystem", "packages", "counts", "fix_plan"};
			for (size_t i = 0; i < DD_ARRAY_LEN(keys); i++)
				json_object_set(o, keys[i], json_object_get(rep, keys[i]));
			const char *sev = http_query(r, "severity"), *pat = http_query(r, "patchable"),
				   *id = http_query(r, "id"), *pkg = http_query(r, "package");
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
				if (!keep(f, sev, pat, id, pkg))
					continue;
				if ((long)total >= offset && (long)json_array_size(out) < limit)
					json_array_append(out, f);
				total++;
			}
			void *tok; /* texts only for the findings returned */
			const struct vulndb *db = scanner_db_acquire(reg->scanner, &tok);
			const char *eco = json_string_value(json_object_get(rep, "ecosystem"));
			json_array_foreach(out, i, f) report_hydrate(db, eco, f);
			scanner_db_release(reg->scanner, tok);
			json_object_set_new(o, "total_findings", json_integer((json_int_t)total));
			json_object_set_new(o, "offset", json_integer(offset));
			json_object_set_new(o, "limit", json_integer(limit));
			json_object_set_new(o, "findings", out);
			json_decref(rep);
		}
	}
	send_json(r, 200, o);
}

/* Counts by severity of an assessment under the rules, added into acc; returns its status
 * under the rules (arena copy). The counts stored with it stand when no rule covers its
 * repository; otherwise (or for assessments stored before counts were) the report is read. */
static const char *add_counts(struct registry *reg, struct arena *a, const struct rule *rules, size_t nrules,
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
	if (reg->meta->scans->assessment_get(reg->meta, a, listed->repo, listed->digest, &full))
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
static int tally_images(struct registry *reg, struct arena *a, const struct rule *rules, size_t nrules,
			const char *repo, struct tally *t, json_t *images)
{
	struct assessment_rec *v;
	size_t n;
	int rc = reg->meta->scans->assessments_list(reg->meta, a, repo, &v, &n);
	for (size_t i = 0; i < n && !rc; i++) {
		json_int_t c[6] = {0}, u = 0;
		v[i].status = add_counts(reg, a, rules, nrules, &v[i], c, &u);
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
static int tally_registry(struct registry *reg, struct arena *a, struct http_req *r, const struct rule *rules,
			  size_t nrules, struct tally *t)
{
	struct meta *m = reg->meta;
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
			if ((rc = tally_images(reg, a, rules, nrules, v[i].repo, t, NULL)))
				return rc;
		} else
			for (size_t k = i; k < j; k++)
				tally_totals(t, &v[k]);
	}
	return 0;
}

static void list_handle(struct http_req *r, struct registry *reg, const char *repo)
{
	/* the registry-wide summary counts only the repositories the caller may see */
	if (repo ? reg_access(r, repo, ACCESS_SECURITY_READ) : reg_access(r, NULL, ACCESS_BASE))
		return;
	struct tally t = {.by_status = json_object()};
	json_t *images = repo ? json_array() : NULL;
	struct rule *rules;
	size_t nrules = 0;
	rules_load(reg->meta, &r->arena, &rules, &nrules);
	int rc = repo ? tally_images(reg, &r->arena, rules, nrules, repo, &t, images)
		      : tally_registry(reg, &r->arena, r, rules, nrules, &t);
	if (rc) {
		json_decref(t.by_status);
		json_decref(images);
		reg_error(r, rc, NULL);
		return;
	}
	int64_t queued = 0, running = 0;
	reg->meta->scans->scan_queue_depth(reg->meta, &queued, &running);
	json_t *o = json_pack("{s:o, s:o, s:I, s:I, s:I}", "images_by_status", t.by_status, "findings_by_severity",
			      sev_object(t.sev), "unfixed_findings", t.unfixed, "queued", (json_int_t)queued, "scanning",
			      (json_int_t)running);
	if (repo) {
		json_object_set_new(o, "repository", json_string(repo));
		json_object_set_new(o, "images", images);
	}
	send_json(r, 200, o);
}

static void usage_handle(struct http_req *r, struct registry *reg)
{
	if (reg_access(r, NULL, ACCESS_BASE))
		return;
	const char **ns, **month;
	int64_t *count;
	size_t n;
	if (reg->meta->scans->usage_list(reg->meta, &r->arena, &ns, &month, &count, &n)) {
		reg_error(r, DD_E_IO, NULL);
		return;
	}
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		if (!access_check_ns(r, ns[i], ACCESS_SECURITY_READ))
			json_array_append_new(a, json_pack("{s:s, s:s, s:I}", "namespace", ns[i], "month", month[i],
							   "scans", (json_int_t)count[i]));
	send_json(r, 200, json_pack("{s:o}", "usage", a));
}

/* /api/v1/namespaces/<ns>/scanning, GET or PUT ?enabled=true|false */
static void namespace_handle(struct http_req *r, struct registry *reg)
{
	const char *p = r->path + strlen("/api/v1/namespaces/");
	const char *slash = strchr(p, '/');
	if (!slash || (strcmp(slash, "/scanning") && strcmp(slash, "/policy")) || slash == p || (size_t)(slash - p) > 255) {
		reg_error(r, DD_E_NOT_FOUND, "use /api/v1/namespaces/NAMESPACE/scanning or .../policy");
		return;
	}
	const char *ns = arena_strndup(&r->arena, p, (size_t)(slash - p));
	if (!strcmp(slash, "/policy")) {
		if (!strcmp(r->method, "PUT")) {
			if (!reg_access_ns(r, ns, ACCESS_SETTINGS))
				ask_body(r);
		} else if (strcmp(r->method, "GET"))
			reg_error(r, DD_E_METHOD, NULL);
		else if (!reg_access_ns(r, ns, ACCESS_SECURITY_READ)) {
			int t = policy_threshold(reg->meta, &r->arena, ns);
			send_json(r, 200, json_pack("{s:s, s:o}", "namespace", ns, "deny_pull_at_or_above",
						    t < 0 ? json_null() : json_string(vdb_severity_name(t))));
		}
		return;
	}
	int enabled;
	if (!strcmp(r->method, "PUT")) {
		const char *e = http_query(r, "enabled");
		if (!e || (strcmp(e, "true") && strcmp(e, "false"))) {
			reg_error(r, DD_E_USAGE, "give ?enabled=true or ?enabled=false");
			return;
		}
		if (reg_access_ns(r, ns, ACCESS_SETTINGS))
			return;
		if (reg->meta->scans->ns_scanning_set(reg->meta, ns, !strcmp(e, "true"))) {
			reg_error(r, DD_E_IO, NULL);
			return;
		}
		audit_record(r, reg->meta, "scanning-set", ns, arena_printf(&r->arena, "{\"enabled\":%s}", e));
	} else if (strcmp(r->method, "GET")) {
		reg_error(r, DD_E_METHOD, NULL);
		return;
	} else if (reg_access_ns(r, ns, ACCESS_SECURITY_READ))
		return;
	reg->meta->scans->ns_scanning_get(reg->meta, ns, &enabled);
	send_json(r, 200, json_pack("{s:s, s:b}", "namespace", ns, "scanning", enabled));
}

static void metrics_handle(struct http_req *r, struct registry *reg)
{
	if (reg_access(r, NULL, ACCESS_METRICS))
		return;
	struct scanner_stats st = {0};
	if (reg->scanner)
		scanner_stats(reg->scanner, &st);
	int64_t queued = 0, running = 0;
	reg->meta->scans->scan_queue_depth(reg->meta, &queued, &running);
	struct buf b;
	buf_init(&b, 1 << 20);
	static const char *const states[] = {"Healthy", "Unhealthy", "NotApplicable", "Failed"};
	buf_puts(&b, "# HELP drydock_http_requests_total Requests answered since start, by method and status class.\n"
		     "# TYPE drydock_http_requests_total counter\n");
	for (int m = 0; m < 7; m++)
		for (int c = 1; c < 6; c++) {
			uint64_t v = __atomic_load_n(&reg->requests[m][c], __ATOMIC_RELAXED);
			if (v)
				buf_printf(&b, "drydock_http_requests_total{method=\"%s\",code=\"%dxx\"} %" PRIu64 "\n",
					   registry_methods[m], c, v);
		}
	buf_printf(&b, "# HELP drydock_layers_streamed_total Layers analysed while they uploaded.\n"
		       "# TYPE drydock_layers_streamed_total counter\ndrydock_layers_streamed_total %" PRIu64 "\n",
		   st.layers_streamed);
	buf_puts(&b, "# HELP drydock_scans_total Image assessments completed since start, by result.\n"
		     "# TYPE drydock_scans_total counter\n");
	for (size_t i = 0; i < DD_ARRAY_LEN(states); i++)
		buf_printf(&b, "drydock_scans_total{status=\"%s\"} %" PRIu64 "\n", states[i], st.by_status[i]);
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
	rules_load(reg->meta, &r->arena, &rules, &nrules);
	pthread_mutex_lock(&mu);
	if (!nrules || util_now() - cached_at >= 30) {
		struct tally t = {.by_status = json_object()};
		if (!tally_registry(reg, &r->arena, NULL, rules, nrules, &t)) {
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
	http_respond(r, 200, "text/plain; version=0.0.4", b.data ? b.data : "", b.len);
	buf_release(&b);
}

/* 503 only when the metadata store fails. A disk that is low or full makes the status
 * "degraded" but stays 200: the registry still serves pulls and deletes and frees space with gc,
 * and a probe that restarted it or took it out of a load balancer would stop exactly that. */
static void health_handle(struct http_req *r, struct registry *reg)
{
	struct scanner_stats st = {0};
	if (reg->scanner)
		scanner_stats(reg->scanner, &st);
	int64_t queued = 0, running = 0;
	int rc = reg->meta->scans->scan_queue_depth(reg->meta, &queued, &running);
	struct space_stat sp;
	int have_space = reg->space && !space_stat(reg->space, &sp);
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
	send_json(r, rc ? 503 : 200, o);
}

/* ---- suppression rules and pull policies ---- */

static void ask_body(struct http_req *r) { reg_of(r)->body = BODY_API; }

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

static void rules_handle(struct http_req *r, struct registry *reg)
{
	const char *p = r->path + strlen("/api/v1/suppressions");
	if (!strcmp(r->method, "POST") && !*p) {
		if (!reg_access(r, NULL, ACCESS_BASE)) /* the rule's own scope is checked once it is read */
			ask_body(r);
		return;
	}
	if (!strcmp(r->method, "DELETE") && *p == '/' && p[1]) {
		if (reg_access(r, NULL, ACCESS_BASE))
			return;
		const char *v;
		const char *key = arena_printf(&r->arena, "suppression/%s", p + 1);
		int rc = reg->meta->admin->setting_get(reg->meta, &r->arena, key, &v);
		if (rc || (rc = rule_access(r, rule_repository(&r->arena, v), ACCESS_SETTINGS))) {
			/* a rule the caller may not manage reads as one that does not exist */
			reg_error(r, DD_E_NOT_FOUND, arena_printf(&r->arena, "no suppression rule '%s'", p + 1));
			return;
		}
		reg->meta->admin->setting_delete(reg->meta, key);
		audit_record(r, reg->meta, "rule-delete", p + 1, v);
		http_respond(r, 204, NULL, "", 0);
		return;
	}
	if (strcmp(r->method, "GET") || *p) {
		reg_error(r, DD_E_METHOD, NULL);
		return;
	}
	if (reg_access(r, NULL, ACCESS_BASE))
		return;
	const char **keys, **values;
	size_t n;
	if (reg->meta->admin->settings_list(reg->meta, &r->arena, "suppression/", &keys, &values, &n)) {
		reg_error(r, DD_E_IO, NULL);
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
	send_json(r, 200, json_pack("{s:o}", "suppressions", a));
}

static void rule_create(struct http_req *r, struct registry *reg, const char *body, size_t len)
{
	struct rule rule;
	const char *why;
	if (rule_parse(&r->arena, body, len, &rule, &why)) {
		reg_error(r, DD_E_USAGE, why);
		return;
	}
	int arc = rule_access(r, rule.repository, ACCESS_SETTINGS);
	if (arc) {
		reg_error(r, arc, rule.repository && *rule.repository
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
	int rc = text ? reg->meta->admin->setting_put(reg->meta, arena_printf(&r->arena, "suppression/%s", id), text)
		      : DD_E_NOMEM;
	if (rc) {
		free(text);
		reg_error(r, rc, NULL);
		return;
	}
	audit_record(r, reg->meta, "rule-create", id, text);
	http_respond(r, 201, "application/json", text, strlen(text));
	http_add_header(r, "Location", arena_printf(&r->arena, "/api/v1/suppressions/%s", id));
	free(text);
}

/* /api/v1/namespaces/<ns>/policy: {"deny_pull_at_or_above": "HIGH"} (null or {} clears it) */
static void policy_set(struct http_req *r, struct registry *reg, const char *ns, const char *body, size_t len)
{
	json_t *o = json_loadb(body, len, 0, NULL);
	json_t *v = json_object_get(o, "deny_pull_at_or_above");
	const char *sev = json_string_value(v);
	int ok = json_is_object(o) && (!v || json_is_null(v) || sev);
	int found = 0;
	for (int s = 0; sev && s <= VDB_SEV_CRITICAL; s++)
		found |= !strcasecmp(sev, vdb_severity_name(s));
	if (!ok || (sev && !found)) {
		json_decref(o);
		reg_error(r, DD_E_USAGE, "the policy is {\"deny_pull_at_or_above\": \"CRITICAL|HIGH|MEDIUM|LOW|NEGLIGIBLE|UNKNOWN\"}"
					 " or {} to allow every pull");
		return;
	}
	const char *key = arena_printf(&r->arena, "policy/%s", ns);
	int rc;
	if (sev) {
		char *text = json_dumps(o, JSON_COMPACT);
		rc = reg->meta->admin->setting_put(reg->meta, key, text ? text : "{}");
		free(text);
	} else
		rc = reg->meta->admin->setting_delete(reg->meta, key);
	json_decref(o);
	if (rc) {
		reg_error(r, rc, NULL);
		return;
	}
	int t = policy_threshold(reg->meta, &r->arena, ns);
	audit_record(r, reg->meta, "policy-set", ns,
		     t < 0 ? "{}" : arena_printf(&r->arena, "{\"deny_pull_at_or_above\":\"%s\"}", vdb_severity_name(t)));
	send_json(r, 200, json_pack("{s:s, s:o}", "namespace", ns, "deny_pull_at_or_above",
				    t < 0 ? json_null() : json_string(vdb_severity_name(t))));
}

/* ---- the Microsoft.Security shape ---- */

#define AZURE_ASSESSMENT "dbd0cb49-b563-45e7-9724-889e799fa648"
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

static json_t *azure_sub(struct arena *a, const char *scope, const char *host, const struct assessment_rec *rec,
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

/* Whether an image of repository `listed` (one listed by assessments_list) is Unhealthy under the
 * rules, as the assessment reports it. */
static int azure_image_unhealthy(struct registry *reg, struct arena *a, const struct rule *rules, size_t nrules,
				 const struct assessment_rec *listed)
{
	long long c[6], u;
	if (!rules_cover(rules, nrules, listed->repo) && counts_parse(listed->counts, c, &u))
		return !strcmp(listed->status, "Unhealthy"); /* the stored status stands */
	struct assessment_rec full;
	if (reg->meta->scans->assessment_get(reg->meta, a, listed->repo, listed->digest, &full) || !*full.report)
		return 0;
	json_t *rep = json_loads(full.report, 0, NULL);
	int unhealthy = !strcmp(rules_apply(rules, nrules, full.repo, rep, full.status), "Unhealthy");
	json_decref(rep);
	return unhealthy;
}

/* Whether any image the caller may see, of namespace ns when not NULL, is Unhealthy under the
 * rules: from the running totals of the repositories no rule covers, image by image elsewhere. */
static int azure_unhealthy(struct registry *reg, struct arena *a, struct http_req *r, const char *ns,
			   const struct rule *rules, size_t nrules, int *unhealthy)
{
	struct meta *m = reg->meta;
	struct assessment_total *v;
	size_t n;
	int rc;
	*unhealthy = 0;
	if (!ns && !nrules && access_visible_all(r)) {
		if ((rc = m->scans->assessment_totals(m, a, "", &v, &n)))
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
	if ((rc = m->scans->assessment_totals(m, a, NULL, &v, &n)))
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
		if ((rc = m->scans->assessments_list(m, a, repo, &img, &ni)))
			return rc;
		for (size_t k = 0; k < ni && !*unhealthy; k++)
			*unhealthy = azure_image_unhealthy(reg, a, rules, nrules, &img[k]);
	}
	return 0;
}

/* [/subscriptions/<ns>]/providers/Microsoft.Security/assessments[/<key>[/subAssessments]] */
static void azure_handle(struct http_req *r, struct registry *reg)
{
	const char *p = r->path, *ns = NULL, *scope = "";
	if (!strncmp(p, "/subscriptions/", 15)) {
		const char *s = p + 15, *slash = strchr(s, '/');
		if (!slash || slash == s) {
			reg_error(r, DD_E_NOT_FOUND, "use /subscriptions/<namespace>/providers/Microsoft.Security/assessments");
			return;
		}
		ns = arena_strndup(&r->arena, s, (size_t)(slash - s));
		scope = arena_strndup(&r->arena, p, (size_t)(slash - p));
		p = slash;
	}
	static const char base[] = "/providers/Microsoft.Security/assessments";
	if (strncmp(p, base, sizeof(base) - 1)) {
		reg_error(r, DD_E_NOT_FOUND, "see docs/api.md for the Microsoft.Security shape");
		return;
	}
	p += sizeof(base) - 1;
	int list = !*p || !strcmp(p, "/");
	int one = !strcmp(p, "/" AZURE_ASSESSMENT);
	int subs = !strcmp(p, "/" AZURE_ASSESSMENT "/subAssessments");
	if (!list && !one && !subs) {
		reg_error(r, DD_E_NOT_FOUND, "the only assessment is " AZURE_ASSESSMENT);
		return;
	}
	if (strcmp(r->method, "GET")) {
		reg_error(r, DD_E_METHOD, NULL);
		return;
	}
	if (reg_access(r, NULL, ACCESS_BASE)) /* then only the repositories the caller may see */
		return;
	const char *host = http_header(r, "Host");
	host = host ? host : "drydock";
	struct rule *rules;
	size_t nrules = 0;
	rules_load(reg->meta, &r->arena, &rules, &nrules);
	struct assessment_rec *v = NULL;
	size_t n = 0;
	int unhealthy = 0, more = 0;
	/* the assessment alone: from the running totals; its sub-assessments: image by image */
	if (subs ? reg->meta->scans->assessments_list(reg->meta, &r->arena, NULL, &v, &n)
		 : azure_unhealthy(reg, &r->arena, r, ns, rules, nrules, &unhealthy)) {
		reg_error(r, DD_E_IO, NULL);
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
	const struct vulndb *db = subs ? scanner_db_acquire(reg->scanner, &tok) : NULL;
	for (size_t i = 0; i < n; i++) {
		size_t nl = strcspn(v[i].repo, "/");
		if ((ns && (strlen(ns) != nl || strncmp(ns, v[i].repo, nl))) || !access_visible(r, v[i].repo))
			continue;
		struct assessment_rec full;
		if (reg->meta->scans->assessment_get(reg->meta, &r->arena, v[i].repo, v[i].digest, &full) || !*full.report)
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
			json_array_append_new(value, azure_sub(&r->arena, scope, host, &full, f));
		}
		json_decref(rep);
	}
	if (subs)
		scanner_db_release(reg->scanner, tok);
	json_t *assessment = json_pack(
		"{s:s, s:s, s:s, s:{s:s, s:{s:s}, s:{s:s, s:s}, s:{s:s, s:s, s:s}}}", "type", "Microsoft.Security/assessments",
		"id", arena_printf(&r->arena, "%s/providers/Microsoft.Security/assessments/" AZURE_ASSESSMENT, scope), "name",
		AZURE_ASSESSMENT, "properties", "displayName", "Vulnerabilities in container registry images should be remediated",
		"status", "code", unhealthy ? "Unhealthy" : "Healthy", "resourceDetails", "source", "drydock", "id", host,
		"metadata", "severity", "High", "assessmentType", "BuiltIn", "description",
		"Container image vulnerability assessment scans the registry for security vulnerabilities and exposes "
		"detailed findings for each image.");
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

/* GET /api/v1/audit?after=ID&n=N: the audit log, oldest first, for admins. */
static void audit_handle(struct http_req *r, struct registry *reg)
{
	if (reg_access(r, NULL, ACCESS_AUDIT))
		return;
	const char *after_s = http_query(r, "after"), *n_s = http_query(r, "n");
	int64_t after = 0, max = 100;
	if ((after_s && parse_i64(after_s, strlen(after_s), &after)) || (n_s && (parse_i64(n_s, strlen(n_s), &max) || max < 1))) {
		reg_error(r, DD_E_USAGE, "after and n are non-negative integers (n at least 1)");
		return;
	}
	if (max > DD_MAX_AUDIT_PAGE)
		max = DD_MAX_AUDIT_PAGE;
	struct audit_rec *v;
	size_t n;
	if (reg->meta->admin->audit_list(reg->meta, &r->arena, after, (size_t)max, &v, &n)) {
		reg_error(r, DD_E_IO, NULL);
		return;
	}
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_pack("{s:I, s:s, s:s, s:s, s:s}", "id", (json_int_t)v[i].id, "time", iso_time(&r->arena, v[i].time),
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
	send_json(r, 200, o);
}

void assess_api_end(struct http_req *r, struct registry *reg, const char *body, size_t len)
{
	if (!strcmp(r->path, "/api/v1/suppressions"))
		rule_create(r, reg, body, len);
	else {
		const char *p = r->path + strlen("/api/v1/namespaces/");
		const char *slash = strchr(p, '/');
		policy_set(r, reg, arena_strndup(&r->arena, p, slash ? (size_t)(slash - p) : 0), body, len);
	}
}

void assess_api_handle(struct http_req *r, struct registry *reg)
{
	const char *p = r->path;
	if (!strncmp(p, "/providers/", 11) || !strncmp(p, "/subscriptions/", 15))
		azure_handle(r, reg);
	else if (!strncmp(p, "/api/v1/suppressions", 20))
		rules_handle(r, reg);
	else if (!strcmp(p, "/healthz"))
		health_handle(r, reg);
	else if (!strcmp(p, "/metrics"))
		metrics_handle(r, reg);
	else if (!strncmp(p, "/api/v1/namespaces/", 19))
		namespace_handle(r, reg);
	else if (strcmp(r->method, "GET"))
		reg_error(r, DD_E_METHOD, NULL);
	else if (!strcmp(p, "/api/v1/images"))
		image_handle(r, reg);
	else if (!strcmp(p, "/api/v1/repositories")) {
		const char *repo = http_query(r, "repository");
		if (!repo || !*repo)
			reg_error(r, DD_E_USAGE, "give ?repository=NAME");
		else
			list_handle(r, reg, repo);
	} else if (!strcmp(p, "/api/v1/summary"))
		list_handle(r, reg, NULL);
	else if (!strcmp(p, "/api/v1/usage"))
		usage_handle(r, reg);
	else if (!strcmp(p, "/api/v1/audit"))
		audit_handle(r, reg);
	else
		reg_error(r, DD_E_NOT_FOUND, "see docs/api.md for the security API");
}
