/* langfeeds.c: the language feeds that are not OSV, read into OSV records (see langfeeds.h):
 * the Node.js security working group's npm advisories and Node.js runtime advisories, and
 * RustSec's advisories (their TOML front matter as JSON). Their version ranges (node-semver,
 * Cargo requirements) become OSV SEMVER ranges through semver_range.h. */
#include "common/dd.h"
#include "vulndb/langfeeds.h"
#include "common/arena.h"
#include "vulndb/semver_range.h"
#include <jansson.h>

#define LANG_MAX_ITEMS 1000 /* aliases, references, requirements per record */

static const char *str(struct arena *a, json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s && *s ? arena_strdup(a, s) : NULL;
}

static void strs(struct arena *a, json_t *list, const char ***out, size_t *n)
{
	size_t i, cap = json_array_size(list) < LANG_MAX_ITEMS ? json_array_size(list) : LANG_MAX_ITEMS;
	json_t *x;
	*out = arena_alloc(a, (cap + 2) * sizeof(**out));
	*n = 0;
	json_array_foreach(list, i, x) if (*n < cap && json_is_string(x) && json_string_length(x))
		(*out)[(*n)++] = arena_strdup(a, json_string_value(x));
}

static const char *cvss3(struct arena *a, json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));
	return v && !strncmp(v, "CVSS:3.", 7) ? arena_strdup(a, v) : NULL;
}

/* A record keyed by its first CVE when it has one (so it meets the other feeds' record of the
 * same vulnerability), its own id among the aliases. */
static void ids(struct arena *a, struct osv_record *r, const char *own, const char **cves, size_t ncves)
{
	r->id = ncves ? cves[0] : own;
	r->aliases = arena_alloc(a, (ncves + 2) * sizeof(*r->aliases));
	if (ncves)
		r->aliases[r->naliases++] = own;
	for (size_t i = 1; i < ncves; i++)
		r->aliases[r->naliases++] = cves[i];
}

static void affected(struct arena *a, struct osv_record *r, const char *eco, const char *name, const struct sv_set *s)
{
	r->affected = arena_alloc(a, sizeof(*r->affected));
	r->naffected = 1;
	r->affected[0].ecosystem = eco;
	r->affected[0].name = name;
	sv_to_osv(a, s, &r->affected[0].ranges, &r->affected[0].nranges);
}

int npmwg_parse(struct arena *a, const char *data, size_t len, struct osv_record *out, const char **why)
{
	memset(out, 0, sizeof(*out));
	json_error_t err;
	json_t *o = json_loadb(data, len, 0, &err);
	int rc = 0;
	const char *name = str(a, o, "module_name");
	const char *vuln = str(a, o, "vulnerable_versions"), *patched = str(a, o, "patched_versions");
	json_t *idv = json_object_get(o, "id");
	if (!json_is_object(o) || !name || !json_is_integer(idv) || (!vuln && !patched)) {
		*why = o ? "not a Node.js security working group npm advisory (module_name, id, vulnerable_versions)"
			 : arena_printf(a, "not JSON: %s", err.text);
		rc = DD_E_FEED_INVALID;
		goto out;
	}
	const char **cves;
	size_t ncves;
	strs(a, json_object_get(o, "cves"), &cves, &ncves);
	ids(a, out, arena_printf(a, "NSWG-ECO-%lld", (long long)json_integer_value(idv)), cves, ncves);
	out->summary = str(a, o, "title");
	out->details = str(a, o, "overview");
	out->published = str(a, o, "publish_date");
	out->modified = str(a, o, "updated_at");
	out->cvss_v3 = cvss3(a, o, "cvss_vector");
	strs(a, json_object_get(o, "references"), &out->references, &out->nreferences);
	struct sv_set s, p;
	if (vuln ? sv_parse(a, vuln, SV_NPM, &s, why) : sv_parse(a, patched, SV_NPM, &p, why)) {
		*why = arena_printf(a, "%s: %s", out->id, *why);
		rc = DD_E_FEED_INVALID;
		goto out;
	}
	if (!vuln)
		sv_complement(a, &p, &s);
	affected(a, out, "npm", name, &s);
out:
	json_decref(o);
	return rc;
}

int nodecore_parse(struct arena *a, const char *data, size_t len, struct osv_record *out, const char **why)
{
	memset(out, 0, sizeof(*out));
	json_error_t err;
	json_t *o = json_loadb(data, len, 0, &err);
	int rc = 0;
	const char *vuln = str(a, o, "vulnerable"), *patched = str(a, o, "patched"), *file = str(a, o, "_file");
	if (!json_is_object(o) || !vuln || !file) {
		*why = o ? "not a Node.js security working group core advisory (vulnerable, patched)"
			 : arena_printf(a, "not JSON: %s", err.text);
		rc = DD_E_FEED_INVALID;
		goto out;
	}
	const char **cves;
	size_t ncves;
	json_t *cv = json_object_get(o, "cve");
	if (json_is_string(cv)) {
		cves = arena_alloc(a, 2 * sizeof(*cves));
		cves[0] = arena_strdup(a, json_string_value(cv));
		ncves = 1;
	} else
		strs(a, cv, &cves, &ncves);
	ids(a, out, arena_printf(a, "NSWG-CORE-%.*s", (int)strcspn(file, "."), file), cves, ncves);
	out->summary = str(a, o, "description");
	out->details = str(a, o, "overview");
	out->severity = str(a, o, "severity");
	const char *ref = str(a, o, "ref");
	if (ref) {
		out->references = arena_alloc(a, sizeof(*out->references));
		out->references[out->nreferences++] = ref;
	}
	struct sv_set v, p = {0}, notp, s;
	if (sv_parse(a, vuln, SV_NPM, &v, why) || (patched && sv_parse(a, patched, SV_NPM, &p, why))) {
		*why = arena_printf(a, "%s: %s", out->id, *why);
		rc = DD_E_FEED_INVALID;
		goto out;
	}
	sv_complement(a, &p, &notp); /* vulnerable, and not patched */
	sv_intersect(a, &v, &notp, &s);
	affected(a, out, "Node.js", "node", &s);
out:
	json_decref(o);
	return rc;
}

int rustsec_parse(struct arena *a, const char *data, size_t len, struct osv_record *out, size_t *skipped,
		  const char **why)
{
	memset(out, 0, sizeof(*out));
	*skipped = 0;
	json_error_t err;
	json_t *o = json_loadb(data, len, 0, &err);
	json_t *adv = json_object_get(o, "advisory"), *versions = json_object_get(o, "versions");
	const char *id = str(a, adv, "id"), *name = str(a, adv, "package");
	int rc = 0;
	if (!json_is_object(adv) || !id || !name) {
		*why = o ? "not a RustSec advisory (advisory.id, advisory.package)" : arena_printf(a, "not JSON: %s", err.text);
		rc = DD_E_FEED_INVALID;
		goto out;
	}
	if (json_object_get(adv, "informational") || json_object_get(adv, "withdrawn")) {
		*skipped = 1; /* "unmaintained" and the like say nothing of a version; a withdrawn one nothing at all */
		goto out;
	}
	const char **aliases;
	size_t nal;
	strs(a, json_object_get(adv, "aliases"), &aliases, &nal);
	const char **cves = arena_alloc(a, (nal + 1) * sizeof(*cves));
	size_t ncves = 0;
	for (size_t i = 0; i < nal; i++)
		if (!strncmp(aliases[i], "CVE-", 4))
			cves[ncves++] = aliases[i];
	ids(a, out, id, cves, ncves);
	for (size_t i = 0; i < nal; i++) /* the other aliases (GHSA) too */
		if (strncmp(aliases[i], "CVE-", 4)) {
			const char **v = arena_alloc(a, (out->naliases + 2) * sizeof(*v));
			memcpy(v, out->aliases, out->naliases * sizeof(*v));
			v[out->naliases++] = aliases[i];
			out->aliases = v;
		}
	out->published = str(a, adv, "date");
	out->cvss_v3 = cvss3(a, adv, "cvss");
	const char *md = str(a, o, "markdown"), *title = md ? strstr(md, "# ") : NULL;
	if (title)
		out->summary = arena_strndup(a, title + 2, strcspn(title + 2, "\n"));
	out->details = md;
	const char *url = str(a, adv, "url");
	if (url) {
		out->references = arena_alloc(a, sizeof(*out->references));
		out->references[out->nreferences++] = url;
	}
	/* affected: every version neither patched nor unaffected */
	struct sv_set fine = {0}, one, s;
	const char *lists[] = {"patched", "unaffected"};
	for (size_t l = 0; l < 2; l++) {
		size_t i;
		json_t *req;
		json_t *list = json_object_get(versions, lists[l]);
		if (json_array_size(list) > LANG_MAX_ITEMS) {
			*why = arena_printf(a, "%s: more than %d requirements", id, LANG_MAX_ITEMS);
			rc = DD_E_FEED_INVALID;
			goto out;
		}
		json_array_foreach(list, i, req)
		{
			if (!json_is_string(req) || sv_parse(a, json_string_value(req), SV_CARGO, &one, why)) {
				*why = arena_printf(a, "%s: versions.%s[%zu]: %s", id, lists[l], i,
						    json_is_string(req) ? *why : "not a string");
				rc = DD_E_FEED_INVALID;
				goto out;
			}
			sv_union(a, &fine, &one, &fine);
		}
	}
	sv_complement(a, &fine, &s);
	affected(a, out, "crates.io", name, &s);
out:
	json_decref(o);
	return rc;
}
