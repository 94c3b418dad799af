/* distro.c: readers for the Debian security tracker JSON and the Ubuntu CVE tracker JSON
 * (see distro.h for the status rules). Every array and object read is bounded. */
#include "common/dd.h"
#include "vulndb/distro.h"
#include "common/arena.h"
#include "version/version.h"
#include <jansson.h>

#define DISTRO_MAX_ITEMS 100000 /* releases, packages, references per record */

const char *debian_release_of(const char *c)
{
	static const char *const map[][2] = {
		{"buzz", "1.1"},   {"rex", "1.2"},      {"bo", "1.3"},        {"hamm", "2.0"},    {"slink", "2.1"},
		{"potato", "2.2"}, {"woody", "3.0"},    {"sarge", "3.1"},     {"etch", "4"},      {"lenny", "5"},
		{"squeeze", "6"},  {"wheezy", "7"},     {"jessie", "8"},      {"stretch", "9"},   {"buster", "10"},
		{"bullseye", "11"}, {"bookworm", "12"}, {"trixie", "13"},     {"forky", "14"},    {"duke", "15"},
	};
	for (size_t i = 0; i < DD_ARRAY_LEN(map); i++)
		if (!strcmp(c, map[i][0]))
			return map[i][1];
	return NULL;
}

const char *ubuntu_release_of(const char *c)
{
	static const char *const map[][2] = {
		{"warty", "4.10"},    {"hoary", "5.04"},    {"breezy", "5.10"},   {"dapper", "6.06"},
		{"edgy", "6.10"},     {"feisty", "7.04"},   {"gutsy", "7.10"},    {"hardy", "8.04"},
		{"intrepid", "8.10"}, {"jaunty", "9.04"},   {"karmic", "9.10"},   {"lucid", "10.04"},
		{"maverick", "10.10"}, {"natty", "11.04"},  {"oneiric", "11.10"}, {"precise", "12.04"},
		{"quantal", "12.10"}, {"raring", "13.04"},  {"saucy", "13.10"},   {"trusty", "14.04"},
		{"utopic", "14.10"},  {"vivid", "15.04"},   {"wily", "15.10"},    {"xenial", "16.04"},
		{"yakkety", "16.10"}, {"zesty", "17.04"},   {"artful", "17.10"},  {"bionic", "18.04"},
		{"cosmic", "18.10"},  {"disco", "19.04"},   {"eoan", "19.10"},    {"focal", "20.04"},
		{"groovy", "20.10"},  {"hirsute", "21.04"}, {"impish", "21.10"},  {"jammy", "22.04"},
		{"kinetic", "22.10"}, {"lunar", "23.04"},   {"mantic", "23.10"},  {"noble", "24.04"},
		{"oracular", "24.10"}, {"plucky", "25.04"}, {"questing", "25.10"},
	};
	for (size_t i = 0; i < DD_ARRAY_LEN(map); i++)
		if (!strcmp(c, map[i][0]))
			return map[i][1];
	return NULL;
}

static const char *str(struct arena *a, json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? arena_strdup(a, s) : NULL;
}

/* One range: introduced 0, then fixed `fixed` when given. */
static void set_range(struct arena *a, struct osv_affected *x, const char *fixed)
{
	x->ranges = arena_alloc(a, sizeof(*x->ranges));
	x->nranges = 1;
	x->ranges[0].type = OSV_RANGE_ECOSYSTEM;
	x->ranges[0].events = arena_alloc(a, 2 * sizeof(struct osv_event));
	x->ranges[0].events[0] = (struct osv_event){OSV_INTRODUCED, "0"};
	x->ranges[0].nevents = 1;
	if (fixed)
		x->ranges[0].events[x->ranges[0].nevents++] = (struct osv_event){OSV_FIXED, arena_strdup(a, fixed)};
}

static int dpkg_ok(const char *v)
{
	const char *why;
	return !version_validate(VERSION_DPKG, v, strlen(v), &why);
}

int debian_tracker_parse(struct arena *a, const char *data, size_t len, distro_record_fn fn, void *ctx,
			 size_t *skipped, const char **why)
{
	*why = NULL;
	*skipped = 0;
	json_error_t err;
	json_t *root = json_loadb(data, len, 0, &err);
	if (!root) {
		*why = arena_printf(a, "not JSON: %s (line %d)", err.text, err.line);
		return DD_E_FEED_INVALID;
	}
	int rc = 0;
	if (!json_is_object(root)) {
		*why = "not a Debian tracker file (the top level is not an object of packages)";
		rc = DD_E_FEED_INVALID;
		goto out;
	}
	const char *pkg, *cve;
	json_t *cves, *c;
	json_object_foreach(root, pkg, cves)
	{
		if (!json_is_object(cves))
			continue;
		json_object_foreach(cves, cve, c)
		{
			if (!*cve) { /* an entry needs an id to be reported by */
				(*skipped)++;
				continue;
			}
			json_t *rels = json_object_get(c, "releases");
			/* the real feed writes an empty `releases` as [] rather than {} */
			if (!json_is_object(rels) || json_object_size(rels) > DISTRO_MAX_ITEMS)
				continue;
			struct osv_record r = {.id = cve, .details = json_string_value(json_object_get(c, "description"))};
			r.affected = arena_alloc(a, (json_object_size(rels) + 1) * sizeof(*r.affected));
			const char *code;
			json_t *rel;
			json_object_foreach(rels, code, rel)
			{
				const char *num = debian_release_of(code);
				const char *status = json_string_value(json_object_get(rel, "status"));
				const char *fixed = json_string_value(json_object_get(rel, "fixed_version"));
				if (!num || !status)
					continue;
				struct osv_affected *x = &r.affected[r.naffected];
				memset(x, 0, sizeof(*x));
				x->ecosystem = arena_printf(a, "Debian:%s", num);
				x->name = pkg;
				x->urgency = str(a, rel, "urgency");
				if (!strcmp(status, "resolved")) {
					if (!fixed || (strcmp(fixed, "0") && !dpkg_ok(fixed))) {
						(*skipped)++;
						continue;
					}
					/* "0": never affected, kept as a not-affected marker */
					set_range(a, x, fixed);
				} else if (!strcmp(status, "open") || !strcmp(status, "undetermined")) {
					set_range(a, x, NULL);
				} else {
					(*skipped)++;
					continue;
				}
				r.naffected++;
			}
			if (r.naffected && (rc = fn(ctx, &r)))
				goto out;
		}
	}
out:
	json_decref(root);
	return rc;
}

int ubuntu_uct_parse(struct arena *a, const char *data, size_t len, struct osv_record *out, size_t *skipped,
		     const char **why)
{
	memset(out, 0, sizeof(*out));
	*why = NULL;
	*skipped = 0;
	json_error_t err;
	json_t *root = json_loadb(data, len, 0, &err);
	if (!root) {
		*why = arena_printf(a, "not JSON: %s", err.text);
		return DD_E_FEED_INVALID;
	}
	int rc = 0;
	json_t *pkgs = json_object_get(root, "packages");
	if (!json_is_object(root) || !(out->id = str(a, root, "candidate")) || !*out->id) {
		*why = "not an Ubuntu CVE tracker record (no candidate)";
		rc = DD_E_FEED_INVALID;
		goto out;
	}
	const char *desc = json_string_value(json_object_get(root, "description"));
	const char *udesc = json_string_value(json_object_get(root, "ubuntu_description"));
	out->details = udesc && *udesc ? arena_printf(a, "%s\n\n%s", desc ? desc : "", udesc)
				       : (desc ? arena_strdup(a, desc) : NULL);
	out->severity = str(a, root, "priority");
	out->published = str(a, root, "public_date");
	/* "nvd": " CVSS:3.1/AV:L/... [7.8 HIGH]": the vector is the first word */
	json_t *cv;
	const char *src;
	json_object_foreach(json_object_get(root, "cvss"), src, cv)
	{
		const char *s = json_string_value(cv);
		if (!s)
			continue;
		while (*s == ' ')
			s++;
		if (!strncmp(s, "CVSS:3.", 7) && !out->cvss_v3)
			out->cvss_v3 = arena_strndup(a, s, strcspn(s, " "));
	}
	json_t *refs = json_object_get(root, "references");
	if (json_is_array(refs)) {
		size_t n = json_array_size(refs) < DISTRO_MAX_ITEMS ? json_array_size(refs) : DISTRO_MAX_ITEMS;
		out->references = arena_alloc(a, (n + 1) * sizeof(*out->references));
		for (size_t i = 0; i < n; i++) {
			const char *u = json_string_value(json_array_get(refs, i));
			if (u)
				out->references[out->nreferences++] = arena_strdup(a, u);
		}
	}
	if (pkgs && !json_is_object(pkgs)) {
		*why = arena_printf(a, "%s: packages is not an object", out->id);
		rc = DD_E_FEED_INVALID;
		goto out;
	}
	size_t cap = 0;
	const char *code, *name;
	json_t *rel, *p;
	json_object_foreach(pkgs, code, rel)
		cap += json_is_object(rel) ? json_object_size(rel) : 0;
	if (cap > DISTRO_MAX_ITEMS) {
		*why = arena_printf(a, "%s: more than %d package entries", out->id, DISTRO_MAX_ITEMS);
		rc = DD_E_FEED_INVALID;
		goto out;
	}
	out->affected = arena_alloc(a, (cap + 1) * sizeof(*out->affected));
	json_object_foreach(pkgs, code, rel)
	{
		const char *num = ubuntu_release_of(code);
		if (!num || !json_is_object(rel))
			continue;
		json_object_foreach(rel, name, p)
		{
			const char *status = json_string_value(json_object_get(p, "status"));
			const char *note = json_string_value(json_object_get(p, "note"));
			if (!status)
				continue;
			struct osv_affected *x = &out->affected[out->naffected];
			memset(x, 0, sizeof(*x));
			x->ecosystem = arena_printf(a, "Ubuntu:%s", num);
			x->name = arena_strdup(a, name);
			x->urgency = str(a, p, "priority"); /* a per-package priority overrides the CVE's */
			x->status = arena_strdup(a, status);
			if (!strcmp(status, "released")) {
				if (!note || !dpkg_ok(note)) { /* a fix with no version: cannot compare */
					(*skipped)++;
					continue;
				}
				set_range(a, x, note);
			} else if (!strcmp(status, "needed") || !strcmp(status, "needs-triage") ||
				   !strcmp(status, "pending") || !strcmp(status, "deferred")) {
				set_range(a, x, NULL);
			} else if (!strcmp(status, "not-affected")) {
				set_range(a, x, "0");
			} else {
				continue; /* DNE, ignored */
			}
			out->naffected++;
		}
	}
out:
	json_decref(root);
	return rc;
}
