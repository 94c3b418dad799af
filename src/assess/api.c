/* api.c: the security API (see api.h). Reads the assessments the scanner stored; findings are
 * filtered and paged here from the stored report. Every endpoint passes access_check. */
#include "common/dd.h"
#include "assess/api.h"
#include "common/arena.h"
#include "registry/registry.h"
#include "scan/scanner.h"
#include "store/meta.h"
#include "vulndb/vulndb.h"
#include <jansson.h>

#define API_MAX_LIMIT 1000 /* findings per page */

int assess_api_route(const char *path)
{
	return !strncmp(path, "/api/v1/", 8) || !strcmp(path, "/metrics") || !strcmp(path, "/healthz");
}

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
	int job = -1;
	*has = !m->ops->assessment_get(m, a, repo, digest, rec);
	m->ops->scan_job_state(m, repo, digest, &job);
	*pending = job >= 0;
	if (*has)
		return rec->status;
	return job == 1 ? "Scanning" : "Queued";
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
	int rc = reg->meta->ops->manifest_get(reg->meta, &r->arena, repo, ref, is_digest(ref), 0, &m);
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
			json_object_set_new(o, "total_findings", json_integer((json_int_t)total));
			json_object_set_new(o, "offset", json_integer(offset));
			json_object_set_new(o, "limit", json_integer(limit));
			json_object_set_new(o, "findings", out);
			json_decref(rep);
		}
	}
	send_json(r, 200, o);
}

/* Counts by severity of a stored report, added into acc. */
static void add_counts(const char *report, json_int_t acc[6], json_int_t *unfixed)
{
	json_t *rep = *report ? json_loads(report, 0, NULL) : NULL;
	json_t *c = json_object_get(rep, "counts");
	for (int s = 0; s < 6; s++)
		acc[s] += json_integer_value(json_object_get(c, vdb_severity_name(s)));
	*unfixed += json_integer_value(json_object_get(c, "unfixed"));
	json_decref(rep);
}

static json_t *sev_object(const json_int_t c[6])
{
	json_t *o = json_object();
	for (int s = 5; s >= 0; s--)
		json_object_set_new(o, vdb_severity_name(s), json_integer(c[s]));
	return o;
}

static void list_handle(struct http_req *r, struct registry *reg, const char *repo)
{
	if (reg_access(r, repo, ACCESS_SECURITY_READ))
		return;
	struct assessment_rec *v;
	size_t n;
	int rc = reg->meta->ops->assessments_list(reg->meta, &r->arena, repo, &v, &n);
	if (rc) {
		reg_error(r, rc, NULL);
		return;
	}
	json_t *images = json_array(), *by_status = json_object();
	json_int_t total[6] = {0}, unfixed = 0;
	for (size_t i = 0; i < n; i++) {
		struct assessment_rec full;
		json_int_t c[6] = {0}, u = 0;
		if (!reg->meta->ops->assessment_get(reg->meta, &r->arena, v[i].repo, v[i].digest, &full))
			add_counts(full.report, c, &u);
		for (int s = 0; s < 6; s++)
			total[s] += c[s];
		unfixed += u;
		json_object_set_new(by_status, v[i].status,
				    json_integer(json_integer_value(json_object_get(by_status, v[i].status)) + 1));
		if (repo)
			json_array_append_new(images, json_pack("{s:s, s:s, s:s, s:I, s:o}", "digest", v[i].digest, "status",
								v[i].status, "reason", v[i].reason, "scanned_at",
								(json_int_t)v[i].scanned_at, "counts", sev_object(c)));
	}
	int64_t queued = 0, running = 0;
	reg->meta->ops->scan_queue_depth(reg->meta, &queued, &running);
	json_t *o = json_pack("{s:o, s:o, s:I, s:I, s:I}", "images_by_status", by_status, "findings_by_severity",
			      sev_object(total), "unfixed_findings", unfixed, "queued", (json_int_t)queued, "scanning",
			      (json_int_t)running);
	if (repo) {
		json_object_set_new(o, "repository", json_string(repo));
		json_object_set_new(o, "images", images);
	} else
		json_decref(images);
	send_json(r, 200, o);
}

static void usage_handle(struct http_req *r, struct registry *reg)
{
	if (reg_access(r, NULL, ACCESS_SECURITY_READ))
		return;
	const char **ns, **month;
	int64_t *count;
	size_t n;
	if (reg->meta->ops->usage_list(reg->meta, &r->arena, &ns, &month, &count, &n)) {
		reg_error(r, DD_E_IO, NULL);
		return;
	}
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_pack("{s:s, s:s, s:I}", "namespace", ns[i], "month", month[i], "scans",
						   (json_int_t)count[i]));
	send_json(r, 200, json_pack("{s:o}", "usage", a));
}

/* /api/v1/namespaces/<ns>/scanning, GET or PUT ?enabled=true|false */
static void namespace_handle(struct http_req *r, struct registry *reg)
{
	const char *p = r->path + strlen("/api/v1/namespaces/");
	const char *slash = strchr(p, '/');
	if (!slash || strcmp(slash, "/scanning") || slash == p || (size_t)(slash - p) > 255) {
		reg_error(r, DD_E_NOT_FOUND, "use /api/v1/namespaces/NAMESPACE/scanning");
		return;
	}
	const char *ns = arena_strndup(&r->arena, p, (size_t)(slash - p));
	int enabled;
	if (!strcmp(r->method, "PUT")) {
		const char *e = http_query(r, "enabled");
		if (!e || (strcmp(e, "true") && strcmp(e, "false"))) {
			reg_error(r, DD_E_USAGE, "give ?enabled=true or ?enabled=false");
			return;
		}
		if (reg_access(r, ns, ACCESS_SETTINGS))
			return;
		if (reg->meta->ops->ns_scanning_set(reg->meta, ns, !strcmp(e, "true"))) {
			reg_error(r, DD_E_IO, NULL);
			return;
		}
	} else if (strcmp(r->method, "GET")) {
		reg_error(r, DD_E_METHOD, NULL);
		return;
	} else if (reg_access(r, ns, ACCESS_SECURITY_READ))
		return;
	reg->meta->ops->ns_scanning_get(reg->meta, ns, &enabled);
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
	reg->meta->ops->scan_queue_depth(reg->meta, &queued, &running);
	struct buf b;
	buf_init(&b, 1 << 20);
	static const char *const states[] = {"Healthy", "Unhealthy", "NotApplicable", "Failed"};
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
	struct assessment_rec *v;
	size_t n;
	json_int_t total[6] = {0}, unfixed = 0;
	if (!reg->meta->ops->assessments_list(reg->meta, &r->arena, NULL, &v, &n))
		for (size_t i = 0; i < n; i++) {
			struct assessment_rec full;
			if (!reg->meta->ops->assessment_get(reg->meta, &r->arena, v[i].repo, v[i].digest, &full))
				add_counts(full.report, total, &unfixed);
		}
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

static void health_handle(struct http_req *r, struct registry *reg)
{
	struct scanner_stats st = {0};
	if (reg->scanner)
		scanner_stats(reg->scanner, &st);
	int64_t queued = 0, running = 0;
	int rc = reg->meta->ops->scan_queue_depth(reg->meta, &queued, &running);
	json_t *o = json_pack("{s:s, s:b, s:o, s:I}", "status", rc ? "degraded" : "ok", "metadata", !rc,
			      "vulnerability_database", *st.generation ? json_string(st.generation) : json_null(),
			      "scan_queue", (json_int_t)queued);
	send_json(r, rc ? 503 : 200, o);
}

void assess_api_handle(struct http_req *r, struct registry *reg)
{
	const char *p = r->path;
	if (!strcmp(p, "/healthz"))
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
	else
		reg_error(r, DD_E_NOT_FOUND, "see docs/api.md for the security API");
}
