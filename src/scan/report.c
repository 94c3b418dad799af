/* report.c: rendering scan results (see report.h). */
#include "common/dd.h"
#include "common/buf.h"
#include "scan/report.h"
#include "common/arena.h"
#include "inventory/inventory.h"
#include "inventory/sbom.h"
#include <jansson.h>
#include <math.h>

int report_severities(const char *list, unsigned *mask, const char **why)
{
	*mask = 0;
	const char *p = list;
	while (*p) {
		size_t n = strcspn(p, ",");
		int found = 0;
		for (int s = VDB_SEV_UNKNOWN; s <= VDB_SEV_CRITICAL; s++)
			if (strlen(vdb_severity_name(s)) == n && !strncasecmp(p, vdb_severity_name(s), n)) {
				*mask |= 1u << s;
				found = 1;
			}
		if (!found) {
			*why = "severities are CRITICAL, HIGH, MEDIUM, LOW, NEGLIGIBLE, UNKNOWN (comma-separated)";
			return DD_E_USAGE;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

int report_keep(const struct report_filter *f, const struct finding *x)
{
	if (f->severities && !(f->severities & (1u << x->severity)))
		return 0;
	return !(f->ignore_unfixed && !x->patchable);
}

enum assessment_status report_status(const struct scan_result *r, const struct report_filter *f)
{
	if (r->unsupported)
		return STATUS_NOT_APPLICABLE;
	for (size_t i = 0; i < r->n; i++)
		if (report_keep(f, &r->findings[i]))
			return STATUS_UNHEALTHY;
	return STATUS_HEALTHY;
}

static json_t *strs(const char *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static json_t *opt(const char *s) { return s && *s ? json_string(s) : json_null(); }

static char *render_json(const struct vulndb *db, const struct inventory *inv, const struct sbom_subject *subj,
			 const struct scan_result *r, const struct report_filter *f, int compact);

char *report_json(const struct vulndb *db, const struct inventory *inv, const struct sbom_subject *subj,
		  const struct scan_result *r, const struct report_filter *f)
{
	return render_json(db, inv, subj, r, f, 0);
}

/* ---- the compact report, written directly: the server stores one per assessment, and
 * re-assessing 10,000 images built 10,000 jansson trees only to print them ---- */

/* A key and its colon: keys are literals with nothing to escape */
#define jkey(b, key) buf_append((b), "\"" key "\":", sizeof("\"" key "\":") - 1)

static void jopt(struct buf *b, const char *s) { buf_json_str(b, s && *s ? s : NULL); }

static void jstrs(struct buf *b, const char *const *v, size_t n)
{
	buf_append(b, "[", 1);
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_append(b, ",", 1);
		buf_json_str(b, v[i]);
	}
	buf_append(b, "]", 1);
}

/* ',"cvss":{"score":S,"vector":' with S as "%.1f" writes it: without printf's float formatting
 * (a twentieth of a report's time) when the score is a whole number of tenths, as CVSS
 * scores are; printf for any other. */
static void score_tenths(struct buf *b, double score)
{
	double t = score * 10;
	if (score >= 0 && score <= 1000 && fabs(t - nearbyint(t)) < 1e-6) {
		unsigned v = (unsigned)nearbyint(t), w = v / 10;
		char s[16], *p = s + sizeof(s);
		*--p = (char)('0' + v % 10);
		*--p = '.';
		do
			*--p = (char)('0' + w % 10);
		while (w /= 10);
		buf_append(b, ",\"cvss\":{\"score\":", 17);
		buf_append(b, p, (size_t)(s + sizeof(s) - p));
		buf_append(b, ",\"vector\":", 10);
	} else
		buf_printf(b, ",\"cvss\":{\"score\":%.1f,\"vector\":", score);
}

/* The layers that introduced packages, each once, in the order the inventory first names them
 * (owned array of the packages' own strings; NULL and *n 0 when none or out of memory). */
static const char **layers_of(const struct inventory *inv, size_t *n)
{
	*n = 0;
	const char **v = inv->n ? malloc(inv->n * sizeof(*v)) : NULL;
	for (size_t i = 0; v && i < inv->n; i++) {
		const char *l = inv->pkgs[i].layer;
		size_t k = 0;
		while (l && *l && k < *n && strcmp(v[k], l))
			k++;
		if (l && *l && k == *n)
			v[(*n)++] = l;
	}
	return v;
}

char *report_json_compact(const struct vulndb *db, const struct inventory *inv, const struct sbom_subject *subj,
			  const struct scan_result *r)
{
	struct report_filter none = {0};
	struct buf b;
	buf_init(&b, (size_t)1 << 30);
	/* about what a finding and a package take (a report of 74 findings over 88 packages: 55 KB),
	 * made room for at once; short, it grows as any buffer does */
	buf_room(&b, 512 + r->n * 768 + inv->n * 64);
	size_t by[VDB_SEV_CRITICAL + 1] = {0}, unfixed = 0;
	for (size_t i = 0; i < r->n; i++) {
		by[r->findings[i].severity]++;
		unfixed += !r->findings[i].patchable;
	}
	buf_append(&b, "{", 1);
	jkey(&b, "image"), jopt(&b, subj->name);
	buf_append(&b, ",", 1), jkey(&b, "manifest"), jopt(&b, subj->manifest);
	buf_append(&b, ",", 1), jkey(&b, "platform"), jopt(&b, subj->platform);
	buf_append(&b, ",", 1), jkey(&b, "os");
	buf_append(&b, "{", 1), jkey(&b, "id"), jopt(&b, inv->os.id);
	buf_append(&b, ",", 1), jkey(&b, "version_id"), jopt(&b, inv->os.version_id);
	buf_append(&b, ",", 1), jkey(&b, "pretty_name"), jopt(&b, inv->os.pretty_name);
	buf_append(&b, "}", 1);
	buf_append(&b, ",", 1), jkey(&b, "ecosystem"), jopt(&b, r->ecosystem);
	buf_append(&b, ",", 1), jkey(&b, "status"), buf_json_str(&b, assessment_status_name(report_status(r, &none)));
	if (r->unsupported)
		buf_append(&b, ",", 1), jkey(&b, "reason"), buf_json_str(&b, r->unsupported);
	if (r->note)
		buf_append(&b, ",", 1), jkey(&b, "note"), buf_json_str(&b, r->note);
	const struct vdb_header *h = vulndb_header(db);
	buf_printf(&b, ",\"packages\":%zu,\"database\":{\"generation\":\"%016" PRIx64 "\",\"built_at\":%" PRId64 "}",
		   inv->n, h->generation, (int64_t)h->built_at);
	buf_puts(&b, ",\"counts\":{");
	for (int s = VDB_SEV_CRITICAL; s >= VDB_SEV_UNKNOWN; s--)
		buf_printf(&b, "\"%s\":%zu,", vdb_severity_name(s), by[s]);
	buf_printf(&b, "\"total\":%zu,\"unfixed\":%zu},\"findings\":[", r->n, unfixed);
	for (size_t i = 0; i < r->n; i++) {
		const struct finding *x = &r->findings[i];
		buf_puts(&b, i ? ",{" : "{");
		jkey(&b, "id"), buf_json_str(&b, x->id);
		buf_append(&b, ",", 1), jkey(&b, "aliases"), jstrs(&b, x->aliases, x->naliases);
		buf_append(&b, ",", 1), jkey(&b, "package"), buf_json_str(&b, x->pkg->name);
		buf_append(&b, ",", 1), jkey(&b, "package_version"), jopt(&b, x->pkg->version);
		buf_append(&b, ",", 1), jkey(&b, "ecosystem"), buf_json_str(&b, finding_ecosystem(x, r->ecosystem));
		if (pkg_lang_ecosystem(x->pkg->type))
			buf_append(&b, ",", 1), jkey(&b, "path"), jopt(&b, x->pkg->db_path);
		buf_append(&b, ",", 1), jkey(&b, "source_package"), buf_json_str(&b, x->matched_name);
		buf_append(&b, ",", 1), jkey(&b, "installed_version"),
			buf_json_str(&b, x->pkg->version && *x->pkg->version ? x->pkg->version : x->installed);
		buf_append(&b, ",", 1), jkey(&b, "compared_version"), buf_json_str(&b, x->installed);
		buf_append(&b, ",", 1), jkey(&b, "fixed_version"), jopt(&b, x->fixed);
		if (x->tracker_status)
			buf_append(&b, ",", 1), jkey(&b, "tracker_status"), buf_json_str(&b, x->tracker_status);
		buf_puts(&b, x->patchable ? ",\"patchable\":true" : ",\"patchable\":false");
		buf_append(&b, ",", 1), jkey(&b, "severity"), buf_json_str(&b, vdb_severity_name(x->severity));
		buf_append(&b, ",", 1), jkey(&b, "severity_source"), buf_json_str(&b, x->severity_source);
		buf_append(&b, ",", 1), jkey(&b, "vendor_severity"), jopt(&b, x->vendor_severity);
		if (x->cvss_score >= 0) {
			score_tenths(&b, x->cvss_score);
			jopt(&b, x->cvss_vector);
			buf_append(&b, "}", 1);
		} else
			buf_puts(&b, ",\"cvss\":null");
		buf_append(&b, ",", 1), jkey(&b, "remediation"), buf_json_str(&b, x->remediation);
		buf_append(&b, ",", 1), jkey(&b, "layer"), jopt(&b, x->pkg->layer);
		if (x->nimports) {
			buf_append(&b, ",", 1), jkey(&b, "vulnerable_packages"), jstrs(&b, x->imports, x->nimports);
			if (x->imported >= 0)
				buf_puts(&b, x->imported ? ",\"imported\":true" : ",\"imported\":false");
		}
		buf_append(&b, "}", 1);
	}
	buf_puts(&b, "],\"fix_plan\":[");
	for (size_t i = 0; i < r->nplan; i++) {
		const struct fix_step *st = &r->plan[i];
		buf_puts(&b, i ? ",{" : "{");
		jkey(&b, "source"), buf_json_str(&b, st->source);
		buf_append(&b, ",", 1), jkey(&b, "ecosystem"), buf_json_str(&b, st->ecosystem ? st->ecosystem : "");
		if (st->path)
			buf_append(&b, ",", 1), jkey(&b, "path"), buf_json_str(&b, st->path);
		buf_append(&b, ",", 1), jkey(&b, "packages"), jstrs(&b, st->packages, st->npackages);
		buf_append(&b, ",", 1), jkey(&b, "from"), buf_json_str(&b, st->from);
		buf_append(&b, ",", 1), jkey(&b, "to"), buf_json_str(&b, st->to);
		buf_printf(&b, ",\"clears\":%zu,\"worst\":\"%s\",\"by_severity\":{", (size_t)st->clears,
			   vdb_severity_name(st->worst));
		int first = 1;
		for (int k = VDB_SEV_CRITICAL; k >= VDB_SEV_UNKNOWN; k--)
			if (st->by_severity[k]) {
				buf_printf(&b, "%s\"%s\":%zu", first ? "" : ",", vdb_severity_name(k), (size_t)st->by_severity[k]);
				first = 0;
			}
		buf_puts(&b, "}}");
	}
	buf_puts(&b, "],\"layer_packages\":[");
	size_t nl = 0;
	const char **layers = layers_of(inv, &nl);
	for (size_t l = 0; l < nl; l++) {
		buf_puts(&b, l ? ",{" : "{");
		jkey(&b, "layer"), buf_json_str(&b, layers[l]);
		buf_puts(&b, ",\"packages\":[");
		int first = 1;
		for (size_t i = 0; i < inv->n; i++)
			if (inv->pkgs[i].layer && !strcmp(inv->pkgs[i].layer, layers[l])) {
				buf_puts(&b, first ? "{" : ",{");
				jkey(&b, "name"), buf_json_str(&b, inv->pkgs[i].name);
				buf_append(&b, ",", 1), jkey(&b, "version"), jopt(&b, inv->pkgs[i].version);
				buf_append(&b, "}", 1);
				first = 0;
			}
		buf_puts(&b, "]}");
	}
	free(layers);
	if (buf_puts(&b, "]}")) { /* a report over 1 GiB, or no memory */
		buf_release(&b);
		return NULL;
	}
	return b.data; /* malloc'd: free() or jsonmem_free() */
}

static void set_texts(json_t *j, const char *summary, const char *description, const char *published,
		      const char *modified, const char *const *refs, size_t nrefs)
{
	json_object_set_new(j, "summary", opt(summary));
	json_object_set_new(j, "description", opt(description));
	json_object_set_new(j, "published", opt(published));
	json_object_set_new(j, "modified", opt(modified));
	json_object_set_new(j, "references", strs(refs, nrefs));
}

/* The known-exploited note on a vulnerability (its id or an alias), or JSON null. */
static json_t *kev_json(const struct vulndb *db, const char *id, const char *const *aliases, size_t n)
{
	const struct vdb_kev *k = db ? vulndb_kev_of(db, id, aliases, n) : NULL;
	if (!k)
		return json_null();
	const char *due = vulndb_str(db, k->due_date);
	return json_pack("{s:s, s:s, s:s?, s:s, s:s, s:b}", "cve", vulndb_str(db, k->cve), "date_added",
			 vulndb_str(db, k->date_added), "due_date", *due ? due : NULL, "required_action",
			 vulndb_str(db, k->action), "name", vulndb_str(db, k->name), "ransomware", (int)k->ransomware);
}

void report_versions(void *report)
{
	json_t *f;
	size_t i;
	json_array_foreach(json_object_get(report, "findings"), i, f)
	{
		if (json_object_get(f, "compared_version"))
			continue;
		json_t *inst = json_object_get(f, "installed_version"), *bin = json_object_get(f, "package_version");
		json_object_set(f, "compared_version", inst ? inst : json_null());
		if (json_is_string(bin) && json_string_length(bin))
			json_object_set(f, "installed_version", bin);
	}
}

size_t report_mark_known_exploited(const struct vulndb *db, void *report)
{
	json_t *rep = report, *f;
	size_t i, hits = 0;
	json_array_foreach(json_object_get(rep, "findings"), i, f)
	{
		const char *ids[64];
		size_t n = 0, k;
		json_t *al;
		json_array_foreach(json_object_get(f, "aliases"), k, al) if (n < DD_ARRAY_LEN(ids) && json_is_string(al))
			ids[n++] = json_string_value(al);
		json_t *kj = kev_json(db, json_string_value(json_object_get(f, "id")), ids, n);
		hits += !json_is_null(kj) && !json_object_get(f, "suppressed");
		json_object_set_new(f, "known_exploited", kj);
	}
	json_t *c = json_object_get(rep, "counts");
	if (json_is_object(c))
		json_object_set_new(c, "known_exploited", json_integer((json_int_t)hits));
	return hits;
}

void report_hydrate(const struct vulndb *db, const char *ecosystem, void *finding)
{
	json_t *f = finding;
	const char *own = json_string_value(json_object_get(f, "ecosystem"));
	if (own && *own) /* the finding's own: an application package's is not the OS's */
		ecosystem = own;
	if (!db || !ecosystem || !json_is_object(f) || json_object_get(f, "description"))
		return;
	const char *id = json_string_value(json_object_get(f, "id"));
	const char *name = json_string_value(json_object_get(f, "source_package"));
	size_t n = 0;
	const struct vdb_entry *e = name && id ? vulndb_lookup(db, ecosystem, name, &n) : NULL;
	e = e ? vulndb_entry_of(db, e, n, id) : NULL;
	const struct vdb_vuln *v = e ? vulndb_vuln(db, e->vuln) : NULL;
	if (!v) { /* not in this database any more: no texts */
		set_texts(f, NULL, NULL, NULL, NULL, NULL, 0);
		return;
	}
	const uint32_t *refs = vulndb_list(db, v->refs, v->nrefs);
	const char *rv[64];
	size_t nr = 0;
	for (size_t k = 0; refs && k < v->nrefs && nr < DD_ARRAY_LEN(rv); k++)
		rv[nr++] = vulndb_str(db, refs[k]);
	set_texts(f, vulndb_str(db, v->summary), vulndb_str(db, v->details), vulndb_str(db, v->published),
		  vulndb_str(db, v->modified), rv, nr);
}

static char *render_json(const struct vulndb *db, const struct inventory *inv, const struct sbom_subject *subj,
			 const struct scan_result *r, const struct report_filter *f, int compact)
{
	json_t *o = json_object(), *counts = json_object(), *list = json_array(), *plan = json_array();
	json_object_set_new(o, "image", opt(subj->name));
	json_object_set_new(o, "manifest", opt(subj->manifest));
	json_object_set_new(o, "platform", opt(subj->platform));
	json_object_set_new(o, "os", json_pack("{s:o, s:o, s:o}", "id", opt(inv->os.id), "version_id",
					       opt(inv->os.version_id), "pretty_name", opt(inv->os.pretty_name)));
	json_object_set_new(o, "ecosystem", opt(r->ecosystem));
	json_object_set_new(o, "status", json_string(assessment_status_name(report_status(r, f))));
	if (r->unsupported)
		json_object_set_new(o, "reason", json_string(r->unsupported));
	if (r->note)
		json_object_set_new(o, "note", json_string(r->note));
	json_object_set_new(o, "packages", json_integer((json_int_t)inv->n));
	const struct vdb_header *h = vulndb_header(db);
	char gen[17];
	snprintf(gen, sizeof(gen), "%016" PRIx64, h->generation);
	json_object_set_new(o, "database", json_pack("{s:s, s:I}", "generation", gen, "built_at", (json_int_t)h->built_at));
	size_t by[VDB_SEV_CRITICAL + 1] = {0}, unfixed = 0, kept = 0, known = 0;
	for (size_t i = 0; i < r->n; i++) {
		const struct finding *x = &r->findings[i];
		if (!report_keep(f, x))
			continue;
		kept++;
		by[x->severity]++;
		unfixed += !x->patchable;
		json_t *j = json_object();
		json_object_set_new(j, "id", json_string(x->id));
		json_object_set_new(j, "aliases", strs(x->aliases, x->naliases));
		json_object_set_new(j, "package", json_string(x->pkg->name));
		json_object_set_new(j, "package_version", opt(x->pkg->version));
		json_object_set_new(j, "ecosystem", json_string(finding_ecosystem(x, r->ecosystem)));
		if (pkg_lang_ecosystem(x->pkg->type))
			json_object_set_new(j, "path", opt(x->pkg->db_path));
		json_object_set_new(j, "source_package", json_string(x->matched_name));
		json_object_set_new(j, "installed_version",
				    json_string(x->pkg->version && *x->pkg->version ? x->pkg->version : x->installed));
		json_object_set_new(j, "compared_version", json_string(x->installed));
		json_object_set_new(j, "fixed_version", opt(x->fixed));
		if (x->tracker_status)
			json_object_set_new(j, "tracker_status", json_string(x->tracker_status));
		json_object_set_new(j, "patchable", json_boolean(x->patchable));
		json_object_set_new(j, "severity", json_string(vdb_severity_name(x->severity)));
		json_object_set_new(j, "severity_source", json_string(x->severity_source));
		json_object_set_new(j, "vendor_severity", opt(x->vendor_severity));
		json_object_set_new(j, "cvss", x->cvss_score >= 0 ? json_pack("{s:f, s:o}", "score", x->cvss_score, "vector",
									      opt(x->cvss_vector))
								 : json_null());
		if (x->nimports) {
			json_object_set_new(j, "vulnerable_packages", strs(x->imports, x->nimports));
			if (x->imported >= 0)
				json_object_set_new(j, "imported", json_boolean(x->imported));
		}
		if (!compact) {
			const char *refs[64];
			size_t nr = 0;
			for (; nr < x->nreferences && nr < DD_ARRAY_LEN(refs); nr++)
				refs[nr] = finding_reference(x, nr);
			set_texts(j, x->summary, x->description, x->published, x->modified, refs, nr);
		}
		json_object_set_new(j, "remediation", json_string(x->remediation));
		json_object_set_new(j, "layer", opt(x->pkg->layer));
		if (!compact) {
			json_t *kj = kev_json(db, x->id, x->aliases, x->naliases);
			known += !json_is_null(kj);
			json_object_set_new(j, "known_exploited", kj);
		}
		json_array_append_new(list, j);
	}
	for (int s = VDB_SEV_CRITICAL; s >= VDB_SEV_UNKNOWN; s--)
		json_object_set_new(counts, vdb_severity_name(s), json_integer((json_int_t)by[s]));
	json_object_set_new(counts, "total", json_integer((json_int_t)kept));
	json_object_set_new(counts, "unfixed", json_integer((json_int_t)unfixed));
	if (!compact)
		json_object_set_new(counts, "known_exploited", json_integer((json_int_t)known));
	json_object_set_new(o, "counts", counts);
	json_object_set_new(o, "findings", list);
	for (size_t i = 0; i < r->nplan; i++) {
		const struct fix_step *s = &r->plan[i];
		json_t *sev = json_object();
		for (int k = VDB_SEV_CRITICAL; k >= VDB_SEV_UNKNOWN; k--)
			if (s->by_severity[k])
				json_object_set_new(sev, vdb_severity_name(k), json_integer((json_int_t)s->by_severity[k]));
		json_t *step = json_pack("{s:s, s:s, s:o, s:s, s:s, s:I, s:s, s:o}", "source", s->source, "ecosystem",
					 s->ecosystem ? s->ecosystem : "", "packages", strs(s->packages, s->npackages), "from",
					 s->from, "to", s->to, "clears", (json_int_t)s->clears, "worst",
					 vdb_severity_name(s->worst), "by_severity", sev);
		if (s->path)
			json_object_set_new(step, "path", json_string(s->path));
		json_array_append_new(plan, step);
	}
	json_object_set_new(o, "fix_plan", plan);
	json_t *lp = json_array();
	size_t nl = 0;
	const char **layers = layers_of(inv, &nl);
	for (size_t l = 0; l < nl; l++) {
		json_t *pk = json_array();
		for (size_t i = 0; i < inv->n; i++)
			if (inv->pkgs[i].layer && !strcmp(inv->pkgs[i].layer, layers[l]))
				json_array_append_new(pk, json_pack("{s:s, s:o}", "name", inv->pkgs[i].name, "version",
								    opt(inv->pkgs[i].version)));
		json_array_append_new(lp, json_pack("{s:s, s:o}", "layer", layers[l], "packages", pk));
	}
	free(layers);
	json_object_set_new(o, "layer_packages", lp);
	char *text = json_dumps(o, compact ? JSON_COMPACT : JSON_INDENT(2));
	json_decref(o);
	return text;
}

static const char *colour(enum vdb_severity s)
{
	switch (s) {
	case VDB_SEV_CRITICAL: return "\033[1;31m";
	case VDB_SEV_HIGH: return "\033[31m";
	case VDB_SEV_MEDIUM: return "\033[33m";
	case VDB_SEV_LOW: return "\033[36m";
	default: return "\033[2m";
	}
}

void report_table(FILE *out, const struct inventory *inv, const struct sbom_subject *subj, const struct scan_result *r,
		  const struct report_filter *f, int color)
{
	const char *os = inv->os.pretty_name ? inv->os.pretty_name : inv->os.id ? inv->os.id : "unknown OS";
	fprintf(out, "%s (%s, %zu packages)\n", subj->name ? subj->name : "image", os, inv->n);
	if (r->unsupported) {
		fprintf(out, "NotApplicable: %s\n", r->unsupported);
		return;
	}
	size_t by[VDB_SEV_CRITICAL + 1] = {0}, kept = 0, unfixed = 0;
	for (size_t i = 0; i < r->n; i++)
		if (report_keep(f, &r->findings[i])) {
			kept++;
			by[r->findings[i].severity]++;
			unfixed += !r->findings[i].patchable;
		}
	fprintf(out, "%s: %zu findings (", assessment_status_name(report_status(r, f)), kept);
	for (int s = VDB_SEV_CRITICAL; s >= VDB_SEV_UNKNOWN; s--)
		fprintf(out, "%s%zu %s", s == VDB_SEV_CRITICAL ? "" : ", ", by[s], vdb_severity_name(s));
	fprintf(out, "), %zu without a fix\n", unfixed);
	/* grouped by package, each package's findings worst first */
	const struct package *done[4096];
	size_t ndone = 0;
	for (size_t i = 0; i < r->n; i++) {
		const struct package *p = r->findings[i].pkg;
		int seen = 0;
		for (size_t k = 0; k < ndone; k++)
			seen |= done[k] == p;
		if (seen || !report_keep(f, &r->findings[i]))
			continue;
		if (ndone < DD_ARRAY_LEN(done))
			done[ndone++] = p;
		fprintf(out, "\n%s %s", p->name, p->version ? p->version : "");
		if (strcmp(p->name, r->findings[i].matched_name))
			fprintf(out, " (source %s %s)", r->findings[i].matched_name, r->findings[i].installed);
		fputc('\n', out);
		for (size_t j = i; j < r->n; j++) {
			const struct finding *x = &r->findings[j];
			if (x->pkg != p || !report_keep(f, x))
				continue;
			fprintf(out, "  %s%-10s%s %-18s %-26s %s%s%s%s\n", color ? colour(x->severity) : "",
				vdb_severity_name(x->severity), color ? "\033[0m" : "", x->id,
				x->fixed ? x->fixed : "(no fix yet)", x->remediation,
				x->imported == 0 ? " (the binary holds no code of " : "",
				x->imported == 0 ? x->imports[0] : "", x->imported == 0 ? (x->nimports > 1 ? ", nor of the others named)" : ")") : "");
		}
	}
	if (r->nplan) {
		fprintf(out, "\nFix plan (%zu upgrades):\n", r->nplan);
		for (size_t i = 0; i < r->nplan; i++) {
			const struct fix_step *s = &r->plan[i];
			fprintf(out, "  %zu. upgrade %s (", i + 1, s->source);
			for (size_t k = 0; k < s->npackages; k++)
				fprintf(out, "%s%s", k ? ", " : "", s->packages[k]);
			fprintf(out, ") from %s to %s or later: clears %zu (worst %s)\n", s->from, s->to, s->clears,
				vdb_severity_name(s->worst));
		}
	}
}

/* ---- SARIF 2.1.0, CycloneDX 1.5 and SPDX 2.3 ---- */

static const char *sarif_level(enum vdb_severity s)
{
	return s >= VDB_SEV_HIGH ? "error" : s == VDB_SEV_MEDIUM ? "warning" : "note";
}

char *report_sarif(struct arena *a, const struct inventory *inv, const struct sbom_subject *subj,
		   const struct scan_result *r, const struct report_filter *f)
{
	json_t *rules = json_array(), *results = json_array();
	const char *target = subj->name ? subj->name : "image";
	for (size_t i = 0; i < r->n; i++) {
		const struct finding *x = &r->findings[i];
		if (!report_keep(f, x))
			continue;
		/* one rule per vulnerability id */
		size_t idx = json_array_size(rules), k;
		json_t *rule;
		json_array_foreach(rules, k, rule) if (!strcmp(json_string_value(json_object_get(rule, "id")), x->id)) idx = k;
		if (idx == json_array_size(rules)) {
			const char *text = x->summary && *x->summary ? x->summary : x->description && *x->description ? x->description : x->id;
			json_t *props = json_pack("{s:[s, s, s]}", "tags", "security", "vulnerability", vdb_severity_name(x->severity));
			if (x->cvss_score >= 0) {
				char sc[16];
				snprintf(sc, sizeof(sc), "%.1f", x->cvss_score);
				json_object_set_new(props, "security-severity", json_string(sc));
			}
			json_t *nr = json_pack("{s:s, s:s, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:o}", "id", x->id, "name", x->id,
					       "shortDescription", "text", x->id, "fullDescription", "text", text, "help",
					       "text", x->remediation, "defaultConfiguration", "level", sarif_level(x->severity),
					       "properties", props);
			json_object_set_new(nr, "helpUri", json_string(arena_printf(a, "https://osv.dev/vulnerability/%s", x->id)));
			json_array_append_new(rules, nr);
		}
		char msg[1024];
		snprintf(msg, sizeof(msg), "%s %s in %s %s (%s): %s", vdb_severity_name(x->severity), x->id, x->pkg->name,
			 x->pkg->version ? x->pkg->version : "", x->fixed ? "fix available" : "no fix yet", x->remediation);
		/* one location per file that names the package */
		size_t np = 0;
		const char **paths = pkg_paths(a, x->pkg, &np);
		json_t *locs = json_array();
		for (size_t k = 0; k < (np ? np : 1); k++)
			json_array_append_new(locs, json_pack("{s:{s:{s:s}}, s:{s:s}}", "physicalLocation", "artifactLocation",
							      "uri", np ? paths[k] : target, "message", "text", target));
		json_t *res =
			json_pack("{s:s, s:I, s:s, s:{s:s}, s:o, s:{s:s, s:s, s:o, s:b}}", "ruleId", x->id, "ruleIndex",
				  (json_int_t)idx, "level", sarif_level(x->severity), "message", "text", msg, "locations", locs,
				  "properties", "package", x->pkg->name, "installedVersion", x->installed, "fixedVersion",
				  x->fixed ? json_string(x->fixed) : json_null(), "patchable", x->patchable);
		if (x->nimports) {
			json_t *props = json_object_get(res, "properties");
			json_object_set_new(props, "vulnerablePackages", strs(x->imports, x->nimports));
			if (x->imported >= 0)
				json_object_set_new(props, "imported", json_boolean(x->imported));
		}
		json_array_append_new(results, res);
	}
	json_t *o = json_pack("{s:s, s:s, s:[{s:{s:{s:s, s:s, s:o}}, s:o}]}", "$schema",
			      "https://json.schemastore.org/sarif-2.1.0.json", "version", "2.1.0", "runs", "tool", "driver",
			      "name", "drydock", "semanticVersion", "0.1.0", "rules", rules, "results", results);
	(void)inv;
	char *text = json_dumps(o, JSON_INDENT(2));
	json_decref(o);
	return text;
}

/* The inventory document of sbom.c with the findings added in each format's own place. */
char *report_sbom_with_findings(struct arena *a, const struct inventory *inv, const struct sbom_subject *subj,
				const struct scan_result *r, const struct report_filter *f, int spdx)
{
	char *base = sbom_render(a, inv, subj, spdx ? SBOM_SPDX : SBOM_CYCLONEDX);
	json_t *doc = base ? json_loads(base, 0, NULL) : NULL;
	free(base);
	if (!doc)
		return NULL;
	if (!spdx) {
		json_t *vulns = json_array();
		for (size_t i = 0; i < r->n; i++) {
			const struct finding *x = &r->findings[i];
			if (!report_keep(f, x))
				continue;
			size_t idx = (size_t)(x->pkg - inv->pkgs);
			const char *ref = arena_printf(a, "%s#%zu", sbom_purl(a, inv, idx), idx);
			json_t *ratings = json_array();
			char sev[16];
			snprintf(sev, sizeof(sev), "%s", vdb_severity_name(x->severity));
			for (char *p = sev; *p; p++)
				*p = (char)tolower((unsigned char)*p);
			json_t *rating = json_pack("{s:s}", "severity", !strcmp(sev, "negligible") ? "info" : sev);
			if (x->cvss_score >= 0) {
				json_object_set_new(rating, "score", json_real(x->cvss_score));
				json_object_set_new(rating, "method",
						    json_string(x->cvss_vector && !strncmp(x->cvss_vector, "CVSS:3.0", 8) ? "CVSSv3"
															  : "CVSSv31"));
				if (x->cvss_vector)
					json_object_set_new(rating, "vector", json_string(x->cvss_vector));
			}
			json_array_append_new(ratings, rating);
			json_t *v = json_pack("{s:s, s:s, s:o, s:s, s:s, s:[{s:s, s:[{s:s, s:s}]}]}", "bom-ref",
					      arena_printf(a, "vuln-%zu", i), "id", x->id, "ratings", ratings, "description",
					      x->description && *x->description ? x->description : x->id, "recommendation",
					      x->remediation, "affects", "ref", ref, "versions", "version", x->installed, "status",
					      "affected");
			json_t *adv = json_array();
			for (size_t k = 0; k < x->nreferences; k++)
				json_array_append_new(adv, json_pack("{s:s}", "url", finding_reference(x, k)));
			json_object_set_new(v, "advisories", adv);
			if (x->naliases) {
				json_t *rel = json_array();
				for (size_t k = 0; k < x->naliases; k++)
					json_array_append_new(rel, json_pack("{s:s}", "id", x->aliases[k]));
				json_object_set_new(v, "references", rel);
			}
			if (x->published && *x->published)
				json_object_set_new(v, "published", json_string(x->published));
			if (x->imported == 0) /* none of the packages the advisory names is in the binary */
				json_object_set_new(v, "analysis",
						    json_pack("{s:s, s:s, s:s}", "state", "not_affected", "justification",
							      "code_not_present", "detail",
							      arena_printf(a, "the binary holds no code of %s", x->imports[0])));
			json_array_append_new(vulns, v);
		}
		json_object_set_new(doc, "vulnerabilities", vulns);
	} else {
		/* SPDX 2.3 has no vulnerability section: each affected package gets SECURITY advisory
		 * references and an annotation per finding (as SPDX 2.3 tools exchange them). */
		json_t *pkgs = json_object_get(doc, "packages"), *ann = json_array();
		for (size_t i = 0; i < r->n; i++) {
			const struct finding *x = &r->findings[i];
			if (!report_keep(f, x))
				continue;
			size_t idx = (size_t)(x->pkg - inv->pkgs);
			json_t *p = json_array_get(pkgs, idx + 1); /* [0] is the subject */
			if (!p)
				continue;
			json_t *refs = json_object_get(p, "externalRefs");
			if (!refs) {
				refs = json_array();
				json_object_set_new(p, "externalRefs", refs);
			}
			json_array_append_new(refs, json_pack("{s:s, s:s, s:s}", "referenceCategory", "SECURITY", "referenceType",
							      "advisory", "referenceLocator",
							      x->nreferences ? finding_reference(x, 0)
									     : arena_printf(a, "https://osv.dev/vulnerability/%s", x->id)));
			json_array_append_new(
				ann, json_pack("{s:s, s:s, s:s, s:s}", "annotationDate",
					       json_string_value(json_object_get(json_object_get(doc, "creationInfo"), "created")),
					       "annotationType", "REVIEW", "annotator", "Tool: drydock", "comment",
					       arena_printf(a, "%s %s affects %s (%s) %s: %s", vdb_severity_name(x->severity), x->id,
							    json_string_value(json_object_get(p, "SPDXID")), x->pkg->name, x->installed,
							    x->remediation)));
		}
		json_object_set_new(doc, "annotations", ann);
	}
	char *text = json_dumps(doc, JSON_INDENT(2));
	json_decref(doc);
	return text;
}
