/* osv.c: the OSV record parser. Strings are copied into the arena; every array is bounded. */
#include "common/dd.h"
#include "osv.h"
#include "common/arena.h"
#include <jansson.h>

#define OSV_MAX_ITEMS 100000 /* affected entries, events, versions, references per record */

static const char *str(struct arena *a, json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? arena_strdup(a, s) : NULL;
}

/* An array of strings (non-strings skipped). */
static const char **strings(struct arena *a, json_t *arr, size_t *n)
{
	*n = 0;
	if (!json_is_array(arr))
		return NULL;
	size_t cap = json_array_size(arr);
	if (cap > OSV_MAX_ITEMS)
		cap = OSV_MAX_ITEMS;
	const char **v = arena_alloc(a, (cap ? cap : 1) * sizeof(*v));
	for (size_t i = 0; i < cap; i++) {
		const char *s = json_string_value(json_array_get(arr, i));
		if (s)
			v[(*n)++] = arena_strdup(a, s);
	}
	return v;
}

static int parse_range(struct arena *a, json_t *r, struct osv_range *out, const char **why)
{
	const char *type = json_string_value(json_object_get(r, "type"));
	if (!type)
		return arena_fail(a, why, DD_E_FEED_INVALID, "range without a type");
	if (!strcmp(type, "ECOSYSTEM"))
		out->type = OSV_RANGE_ECOSYSTEM;
	else if (!strcmp(type, "SEMVER"))
		out->type = OSV_RANGE_SEMVER;
	else if (!strcmp(type, "GIT"))
		out->type = OSV_RANGE_GIT;
	else
		return arena_fail(a, why, DD_E_FEED_INVALID, "unknown range type '%s'", type);
	json_t *events = json_object_get(r, "events");
	if (!json_is_array(events) || json_array_size(events) > OSV_MAX_ITEMS)
		return arena_fail(a, why, DD_E_FEED_INVALID, "range without an events array");
	out->events = arena_alloc(a, (json_array_size(events) + 1) * sizeof(*out->events));
	static const char *const keys[] = {"introduced", "fixed", "last_affected", "limit"};
	json_t *e;
	size_t i;
	json_array_foreach(events, i, e)
	{
		int found = 0;
		for (size_t k = 0; k < DD_ARRAY_LEN(keys); k++) {
			const char *v = json_string_value(json_object_get(e, keys[k]));
			if (v) {
				out->events[out->nevents].kind = (enum osv_event_kind)k;
				out->events[out->nevents++].version = arena_strdup(a, v);
				found = 1;
				break;
			}
		}
		if (!found)
			return arena_fail(a, why, DD_E_FEED_INVALID,
					  "event without introduced, fixed, last_affected or limit");
	}
	return 0;
}

int osv_parse(struct arena *a, const char *data, size_t len, struct osv_record *out, const char **why)
{
	memset(out, 0, sizeof(*out));
	*why = NULL;
	json_error_t err;
	json_t *root = json_loadb(data, len, 0, &err);
	if (!root)
		return arena_fail(a, why, DD_E_FEED_INVALID, "not JSON: %s", err.text);
	int rc = 0;
	if (!json_is_object(root) || !(out->id = str(a, root, "id")) || !*out->id) {
		rc = arena_fail(a, why, DD_E_FEED_INVALID, "not an OSV record (no id)");
		goto out;
	}
	out->withdrawn = json_object_get(root, "withdrawn") != NULL;
	out->summary = str(a, root, "summary");
	/* AlmaLinux and Rocky Linux put Red Hat's impact first in the summary: "Important: ..." */
	static const char *const impacts[] = {"Critical", "Important", "Moderate", "Low"};
	for (size_t k = 0; out->summary && k < DD_ARRAY_LEN(impacts); k++) {
		size_t n = strlen(impacts[k]);
		if (!strncmp(out->summary, impacts[k], n) && out->summary[n] == ':')
			out->severity = impacts[k];
	}
	out->details = str(a, root, "details");
	out->published = str(a, root, "published");
	out->modified = str(a, root, "modified");
	out->aliases = strings(a, json_object_get(root, "aliases"), &out->naliases);
	out->related = strings(a, json_object_get(root, "related"), &out->nrelated);
	json_t *s, *refs = json_object_get(root, "references"), *aff = json_object_get(root, "affected");
	size_t i;
	json_array_foreach(json_object_get(root, "severity"), i, s)
	{
		const char *t = json_string_value(json_object_get(s, "type"));
		if (t && !strcmp(t, "CVSS_V3"))
			out->cvss_v3 = str(a, s, "score");
	}
	if (json_is_array(refs)) {
		size_t n = json_array_size(refs) < OSV_MAX_ITEMS ? json_array_size(refs) : OSV_MAX_ITEMS;
		out->references = arena_alloc(a, (n ? n : 1) * sizeof(*out->references));
		for (i = 0; i < n; i++) {
			const char *u = json_string_value(json_object_get(json_array_get(refs, i), "url"));
			if (u)
				out->references[out->nreferences++] = arena_strdup(a, u);
		}
	}
	if (aff && (!json_is_array(aff) || json_array_size(aff) > OSV_MAX_ITEMS)) {
		rc = arena_fail(a, why, DD_E_FEED_INVALID, "%s: affected is not an array", out->id);
		goto out;
	}
	out->affected = arena_alloc(a, (json_array_size(aff) + 1) * sizeof(*out->affected));
	json_array_foreach(aff, i, s)
	{
		struct osv_affected *x = &out->affected[out->naffected];
		memset(x, 0, sizeof(*x)); /* the slot of a skipped entry is reused */
		json_t *pkg = json_object_get(s, "package"), *ranges = json_object_get(s, "ranges"), *r;
		x->ecosystem = str(a, pkg, "ecosystem");
		x->name = str(a, pkg, "name");
		x->versions = strings(a, json_object_get(s, "versions"), &x->nversions);
		json_t *es = json_object_get(s, "ecosystem_specific"), *imp = json_object_get(es, "imports"), *im;
		x->urgency = str(a, es, "urgency");
		if (json_is_array(imp)) { /* Go: the packages (and symbols) the vulnerable code is in */
			size_t n = json_array_size(imp) < OSV_MAX_ITEMS ? json_array_size(imp) : OSV_MAX_ITEMS, k;
			x->imports = arena_alloc(a, (n ? n : 1) * sizeof(*x->imports));
			json_array_foreach(imp, k, im)
			{
				const char *path = k < n ? json_string_value(json_object_get(im, "path")) : NULL;
				if (path && *path && strlen(path) <= OSV_MAX_IMPORT_PATH)
					x->imports[x->nimports++] = arena_strdup(a, path);
			}
		}
		if (ranges && (!json_is_array(ranges) || json_array_size(ranges) > OSV_MAX_ITEMS)) {
			rc = arena_fail(a, why, DD_E_FEED_INVALID, "%s: ranges is not an array", out->id);
			goto out;
		}
		x->ranges = arena_alloc(a, (json_array_size(ranges) + 1) * sizeof(*x->ranges));
		size_t j;
		json_array_foreach(ranges, j, r)
		{
			if ((rc = parse_range(a, r, &x->ranges[x->nranges], why))) {
				*why = arena_printf(a, "%s: %s", out->id, *why);
				goto out;
			}
			x->nranges++;
		}
		if (x->ecosystem && x->name) /* GIT-only entries have no package: not ours */
			out->naffected++;
	}
out:
	json_decref(root);
	return rc;
}
