/* alpine.c: the secdb parser. Quirks of the real data it tolerates: ids that are not CVEs
 * (XSA-, GHSA-, ...), two ids in one string separated by a space, version keys that are not
 * valid apk versions (skipped and counted: an unusable fix must not become "unfixed"). */
#include "common/dd.h"
#include "alpine.h"
#include "common/arena.h"
#include "version/version.h"
#include <jansson.h>

#define SECDB_MAX_RECORDS 1000000

/* Appends a record for (origin, id) fixed in `fixed` (arena strings). */
static int add(struct arena *a, struct alpine_secdb *db, size_t *cap, const char *eco, const char *origin,
	       const char *id, const char *fixed)
{
	if (db->n == *cap) {
		if (*cap >= SECDB_MAX_RECORDS)
			return DD_E_TOO_LARGE;
		size_t nc = *cap ? *cap * 2 : 1024;
		struct osv_record *v = arena_alloc(a, nc * sizeof(*v));
		if (db->n)
			memcpy(v, db->records, db->n * sizeof(*v));
		db->records = v;
		*cap = nc;
	}
	struct osv_record *r = &db->records[db->n++];
	memset(r, 0, sizeof(*r));
	r->id = id;
	r->affected = arena_alloc(a, sizeof(*r->affected));
	r->naffected = 1;
	struct osv_affected *x = r->affected;
	x->ecosystem = eco;
	x->name = origin;
	x->ranges = arena_alloc(a, sizeof(*x->ranges));
	x->nranges = 1;
	x->ranges->type = OSV_RANGE_ECOSYSTEM;
	x->ranges->events = arena_alloc(a, 2 * sizeof(*x->ranges->events));
	x->ranges->nevents = 2;
	x->ranges->events[0] = (struct osv_event){OSV_INTRODUCED, "0"};
	x->ranges->events[1] = (struct osv_event){OSV_FIXED, fixed};
	return 0;
}

int alpine_secdb_parse(struct arena *a, const char *data, size_t len, struct alpine_secdb *out, const char **why)
{
	memset(out, 0, sizeof(*out));
	*why = NULL;
	json_error_t err;
	json_t *root = json_loadb(data, len, 0, &err);
	if (!root)
		return arena_fail(a, why, DD_E_FEED_INVALID, "secdb is not JSON: %s", err.text);
	int rc = 0;
	const char *branch = json_string_value(json_object_get(root, "distroversion"));
	json_t *pkgs = json_object_get(root, "packages");
	if (!branch || !json_is_array(pkgs)) {
		rc = arena_fail(a, why, DD_E_FEED_INVALID, "not an Alpine secdb file (no distroversion or packages)");
		goto out;
	}
	out->branch = arena_strdup(a, branch);
	const char *repo = json_string_value(json_object_get(root, "reponame"));
	out->repo = arena_strdup(a, repo ? repo : "");
	const char *eco = arena_printf(a, "Alpine:%s", out->branch);
	size_t cap = 0, i;
	json_t *p;
	json_array_foreach(pkgs, i, p)
	{
		json_t *pkg = json_object_get(p, "pkg");
		const char *name = json_string_value(json_object_get(pkg, "name"));
		json_t *fixes = json_object_get(pkg, "secfixes");
		if (!name || !json_is_object(fixes))
			continue;
		const char *origin = arena_strdup(a, name), *ver;
		json_t *ids;
		json_object_foreach(fixes, ver, ids)
		{
			if (strcmp(ver, "0") && !apk_version_valid(ver, strlen(ver))) {
				out->skipped += json_array_size(ids);
				continue;
			}
			const char *fixed = arena_strdup(a, ver);
			json_t *idv;
			size_t j;
			json_array_foreach(ids, j, idv)
			{
				const char *s = json_string_value(idv);
				if (!s)
					continue;
				/* "CVE-2017-2887 TALOS-2017-0394": one fix, several ids */
				while (*s) {
					size_t k = strcspn(s, " \t");
					if (k && (rc = add(a, out, &cap, eco, origin, arena_strndup(a, s, k), fixed))) {
						*why = "secdb file has more than a million entries";
						goto out;
					}
					s += k;
					s += strspn(s, " \t");
				}
			}
		}
	}
out:
	json_decref(root);
	return rc;
}
