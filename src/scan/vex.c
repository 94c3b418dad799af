/* vex.c: VEX documents (see vex.h). */
#include "common/dd.h"
#include "scan/vex.h"
#include "common/arena.h"
#include "common/limits.h"
#include "common/strmap.h"
#include "common/util.h"
#include "store/meta_admin.h"
#include <ctype.h>
#include <jansson.h>

#define VEX_MAX_FIELD 1024 /* bytes of one id, purl or justification */

static const char *const statuses[] = {"not_affected", "fixed", "affected", "under_investigation"};

int vex_suppresses(const char *status) { return !strcmp(status, "not_affected") || !strcmp(status, "fixed"); }

int vex_touch(struct meta *m)
{
	char v[37];
	util_uuid(v);
	return m->admin->setting_put(m, VEX_GENERATION_KEY, v);
}

struct reader {
	struct arena *a;
	struct vex_statement *v;
	size_t n, cap;
	const char *why;
};

static const char *str(struct reader *r, json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	if (!json_is_string(v) || !json_string_length(v) || json_string_length(v) > VEX_MAX_FIELD ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return NULL;
	return arena_strdup(r->a, json_string_value(v));
}

static int hexval(int c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1; }

/* s[0..n) percent-decoded (arena); a bad escape is kept as it is; NULL when it decodes to a NUL. */
static const char *decode(struct arena *a, const char *s, size_t n)
{
	char *out = arena_alloc(a, n + 1);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			out[k++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		} else
			out[k++] = s[i];
	}
	out[k] = 0;
	return strlen(out) == k ? out : NULL;
}

static int is_digest(const char *s)
{
	size_t want = !strncmp(s, "sha256:", 7) ? 64 : !strncmp(s, "sha512:", 7) ? 128 : 0;
	if (!want || strlen(s) != 7 + want)
		return 0;
	for (size_t i = 7; s[i]; i++)
		if (hexval(s[i]) < 0 || (s[i] >= 'A' && s[i] <= 'F'))
			return 0;
	return 1;
}

/* A product id: an image (*digest) or a package (*name, *version), or neither (0 returned). */
static int product(struct arena *a, const char *id, const char **digest, const char **name, const char **version,
		   const char **type)
{
	*digest = *name = *version = *type = NULL;
	if (!id)
		return 0;
	if (is_digest(id)) {
		*digest = id;
		return 1;
	}
	if (strncmp(id, "pkg:", 4)) { /* "registry/repo@sha256:..." */
		const char *at = strrchr(id, '@');
		if (at && is_digest(at + 1)) {
			*digest = at + 1;
			return 1;
		}
		return 0;
	}
	const char *p = id + 4;
	size_t end = strcspn(p, "?#");
	const char *type_end = memchr(p, '/', end);
	if (!type_end || type_end == p)
		return 0; /* no type */
	const char *path = type_end + 1;
	size_t plen = end - (size_t)(path - p);
	const char *at = memchr(path, '@', plen);
	size_t nlen = at ? (size_t)(at - path) : plen;
	const char *slash = NULL;
	for (size_t i = 0; i < nlen; i++)
		if (path[i] == '/')
			slash = path + i;
	const char *nm = slash ? slash + 1 : path;
	size_t nmlen = nlen - (size_t)(nm - path);
	if (!nmlen)
		return 0;
	const char *ver = at ? decode(a, at + 1, plen - nlen - 1) : NULL;
	if (at && (!ver || !*ver))
		return 0; /* "name@" says no version, not every version */
	if ((size_t)(type_end - p) == 3 && !strncasecmp(p, "oci", 3)) {
		if (!ver || !is_digest(ver))
			return 0;
		*digest = ver;
		return 1;
	}
	*name = decode(a, nm, nmlen);
	*version = ver;
	char *t = arena_strndup(a, p, (size_t)(type_end - p));
	for (char *c = t; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	*type = t;
	/* application packages are named with their namespace, as drydock names them: Maven's
	 * group:artifact, npm's @scope/name, a Go module's whole path */
	if (slash && *name && (!strcmp(t, "maven") || !strcmp(t, "npm") || !strcmp(t, "golang"))) {
		const char *ns = decode(a, path, (size_t)(slash - path));
		if (ns && *ns)
			*name = arena_printf(a, "%s%s%s", ns, !strcmp(t, "maven") ? ":" : "/", *name);
	}
	return *name && **name;
}

static struct vex_statement *add(struct reader *r, const struct vex_statement *tmpl)
{
	if (r->n == DD_MAX_VEX_STATEMENTS) {
		r->why = "more than 10000 statements (products times subcomponents)";
		return NULL;
	}
	r->v = arena_grow(r->a, r->v, r->n, &r->cap, sizeof(*r->v));
	r->v[r->n] = *tmpl;
	return &r->v[r->n++];
}

static int known_status(const char *s)
{
	for (size_t i = 0; s && i < DD_ARRAY_LEN(statuses); i++)
		if (!strcmp(s, statuses[i]))
			return 1;
	return 0;
}

/* One OpenVEX product (an object with "@id" or "identifiers", or a string in 0.0.1) with its
 * subcomponents: a statement each. */
static int openvex_product(struct reader *r, const struct vex_statement *base, json_t *prod, json_t *subs, size_t si,
			   size_t pi)
{
	const char *id = json_is_string(prod) && json_string_length(prod) <= VEX_MAX_FIELD
				 ? arena_strdup(r->a, json_string_value(prod))
				 : str(r, prod, "@id");
	if (!id && json_is_object(prod))
		id = str(r, json_object_get(prod, "identifiers"), "purl");
	struct vex_statement s = *base;
	const char *d, *nm, *ver, *ty;
	if (!product(r->a, id, &d, &nm, &ver, &ty)) {
		r->why = arena_printf(r->a, "statements[%zu].products[%zu]: an image digest, a pkg:oci purl or a package purl"
					    " (of at most 1024 bytes)", si, pi);
		return 1;
	}
	s.digest = d;
	s.package = nm;
	s.version = ver;
	s.type = ty;
	if (json_is_object(prod) && json_object_get(prod, "subcomponents"))
		subs = json_object_get(prod, "subcomponents");
	if (json_array_size(subs) && !d) {
		r->why = arena_printf(r->a, "statements[%zu].products[%zu]: subcomponents belong to an image product", si, pi);
		return 1;
	}
	if (!json_array_size(subs))
		return add(r, &s) ? 0 : 1;
	size_t k;
	json_t *sub;
	json_array_foreach(subs, k, sub)
	{
		const char *sid = json_is_string(sub) && json_string_length(sub) <= VEX_MAX_FIELD
					  ? arena_strdup(r->a, json_string_value(sub))
					  : str(r, sub, "@id");
		if (!sid && json_is_object(sub))
			sid = str(r, json_object_get(sub, "identifiers"), "purl");
		const char *d2, *n2, *v2, *t2;
		if (!product(r->a, sid, &d2, &n2, &v2, &t2) || !n2) {
			r->why = arena_printf(r->a, "statements[%zu].products[%zu].subcomponents[%zu]: a package purl", si, pi, k);
			return 1;
		}
		s.package = n2;
		s.version = v2;
		s.type = t2;
		if (!add(r, &s))
			return 1;
	}
	return 0;
}

static void aliases_of(struct reader *r, json_t *list, struct vex_statement *s, const char *member)
{
	size_t k;
	json_t *x;
	s->aliases = arena_alloc(r->a, (json_array_size(list) + 1) * sizeof(*s->aliases));
	json_array_foreach(list, k, x)
	{
		const char *v = json_is_string(x) ? json_string_value(x) : json_string_value(json_object_get(x, member));
		if (v && *v && strlen(v) <= VEX_MAX_FIELD && k < 64)
			s->aliases[s->naliases++] = arena_strdup(r->a, v);
	}
}

static int openvex(struct reader *r, json_t *doc)
{
	json_t *st = json_object_get(doc, "statements"), *x;
	if (!json_is_array(st)) {
		r->why = "an OpenVEX document has a statements array";
		return 1;
	}
	size_t i;
	json_array_foreach(st, i, x)
	{
		struct vex_statement s = {0};
		json_t *vul = json_object_get(x, "vulnerability");
		s.vulnerability = json_is_string(vul) ? str(r, x, "vulnerability") : str(r, vul, "name");
		if (!s.vulnerability && json_is_object(vul))
			s.vulnerability = str(r, vul, "@id");
		s.status = str(r, x, "status");
		if (!s.vulnerability) {
			r->why = arena_printf(r->a, "statements[%zu]: no vulnerability name", i);
			return 1;
		}
		if (!known_status(s.status)) {
			r->why = arena_printf(r->a, "statements[%zu]: status is one of not_affected, affected, fixed,"
						    " under_investigation", i);
			return 1;
		}
		if (json_is_object(vul))
			aliases_of(r, json_object_get(vul, "aliases"), &s, "name");
		s.justification = str(r, x, "justification");
		s.detail = str(r, x, "impact_statement");
		if (!s.detail)
			s.detail = str(r, x, "status_notes");
		json_t *products = json_object_get(x, "products"), *p;
		if (!json_array_size(products)) {
			r->why = arena_printf(r->a, "statements[%zu]: no products", i);
			return 1;
		}
		size_t k;
		json_array_foreach(products, k, p) if (openvex_product(r, &s, p, json_object_get(x, "subcomponents"), i, k))
			return 1;
	}
	return 0;
}

/* Each bom-ref of the components (nested ones too, 16 deep) of list to its purl, the first
 * kept: one walk, then a lookup per ref. */
static void purls_of_refs(struct arena *a, struct strmap *m, json_t *list, int depth, size_t *seen)
{
	size_t i;
	json_t *c;
	if (depth > 16)
		return;
	json_array_foreach(list, i, c)
	{
		if (++*seen > 4 * DD_MAX_VEX_STATEMENTS)
			return;
		const char *br = json_string_value(json_object_get(c, "bom-ref"));
		const char *purl = json_string_value(json_object_get(c, "purl"));
		int created;
		if (br && purl) {
			void **slot = strmap_slot(a, m, br, &created);
			if (created)
				*slot = (void *)purl;
		}
		purls_of_refs(a, m, json_object_get(c, "components"), depth + 1, seen);
	}
}

static int cyclonedx(struct reader *r, json_t *doc)
{
	json_t *vs = json_object_get(doc, "vulnerabilities"), *x;
	if (!json_is_array(vs)) {
		r->why = "a CycloneDX VEX document has a vulnerabilities array";
		return 1;
	}
	json_t *meta = json_object_get(json_object_get(doc, "metadata"), "component");
	struct strmap refs = {0};
	size_t i, seen = 0;
	purls_of_refs(r->a, &refs, json_object_get(doc, "components"), 0, &seen);
	json_array_foreach(vs, i, x)
	{
		json_t *an = json_object_get(x, "analysis");
		if (!an)
			continue; /* no analysis: not a VEX statement */
		const char *state = json_string_value(json_object_get(an, "state"));
		struct vex_statement s = {0};
		s.vulnerability = str(r, x, "id");
		if (!s.vulnerability) {
			r->why = arena_printf(r->a, "vulnerabilities[%zu]: no id", i);
			return 1;
		}
		s.status = !state ? NULL
			   : !strcmp(state, "not_affected") || !strcmp(state, "false_positive") ? "not_affected"
			   : !strcmp(state, "resolved") || !strcmp(state, "resolved_with_pedigree") ? "fixed"
			   : !strcmp(state, "exploitable")					   ? "affected"
			   : !strcmp(state, "in_triage")					   ? "under_investigation"
												   : NULL;
		if (!s.status) {
			r->why = arena_printf(r->a, "vulnerabilities[%zu].analysis.state: one of resolved, resolved_with_pedigree,"
						    " exploitable, in_triage, false_positive, not_affected", i);
			return 1;
		}
		aliases_of(r, json_object_get(x, "references"), &s, "id");
		s.justification = str(r, an, "justification");
		s.detail = str(r, an, "detail");
		json_t *affects = json_object_get(x, "affects"), *af;
		if (!json_array_size(affects)) {
			r->why = arena_printf(r->a, "vulnerabilities[%zu]: no affects", i);
			return 1;
		}
		size_t k;
		json_array_foreach(affects, k, af)
		{
			const char *ref = json_string_value(json_object_get(af, "ref"));
			if (!ref || strlen(ref) > VEX_MAX_FIELD) {
				r->why = arena_printf(r->a, "vulnerabilities[%zu].affects[%zu]: no ref", i, k);
				return 1;
			}
			const char *hash = !strncmp(ref, "urn:cdx:", 8) ? strchr(ref, '#') : NULL;
			const char *key = hash ? hash + 1 : ref;
			const char *purl = strmap_get(&refs, key);
			const char *mref = json_string_value(json_object_get(meta, "bom-ref"));
			if (!purl && mref && !strcmp(mref, key))
				purl = json_string_value(json_object_get(meta, "purl"));
			if (!purl)
				purl = key;
			if (json_object_get(af, "versions")) {
				r->why = arena_printf(r->a, "vulnerabilities[%zu].affects[%zu]: versions are not read: name the"
							    " version in the component's purl", i, k);
				return 1;
			}
			struct vex_statement one = s;
			if (!product(r->a, arena_strdup(r->a, purl), &one.digest, &one.package, &one.version, &one.type)) {
				r->why = arena_printf(r->a, "vulnerabilities[%zu].affects[%zu]: '%.100s' names no component with a"
							    " purl, image digest or pkg:oci purl", i, k, ref);
				return 1;
			}
			if (!add(r, &one))
				return 1;
		}
	}
	return 0;
}

int vex_parse(struct arena *a, const char *text, size_t len, const char **format, struct vex_statement **out,
	      size_t *n, const char **why)
{
	*out = NULL;
	*n = 0;
	*format = NULL;
	if (len > DD_MAX_VEX_BYTES) {
		*why = "a VEX document is at most 1 MiB";
		return DD_E_USAGE;
	}
	json_error_t err;
	json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
	if (!json_is_object(doc)) {
		*why = doc ? "a VEX document is a JSON object"
			   : arena_printf(a, "not JSON: %s (line %d, column %d)", err.text, err.line, err.column);
		json_decref(doc);
		return DD_E_USAGE;
	}
	struct reader r = {.a = a};
	const char *ctx = json_string_value(json_object_get(doc, "@context"));
	const char *bom = json_string_value(json_object_get(doc, "bomFormat"));
	int rc;
	if (ctx && !strncmp(ctx, "https://openvex.dev/ns/", 23)) {
		*format = "openvex";
		rc = openvex(&r, doc);
	} else if (bom && !strcmp(bom, "CycloneDX")) {
		*format = "cyclonedx";
		rc = cyclonedx(&r, doc);
	} else {
		r.why = "neither OpenVEX (@context https://openvex.dev/ns/v0.2.0) nor CycloneDX (bomFormat CycloneDX)";
		rc = 1;
	}
	json_decref(doc);
	if (rc) {
		*why = r.why;
		return DD_E_USAGE;
	}
	*out = r.v;
	*n = r.n;
	return 0;
}

/* Whether purl type t names packages of ecosystem eco. */
static int type_of_ecosystem(const char *t, const char *eco)
{
	static const struct {
		const char *type, *eco;
	} map[] = {{"deb", "Debian:"},      {"deb", "Ubuntu:"},	      {"apk", "Alpine:"},  {"rpm", "Red Hat"},
		   {"rpm", "Rocky Linux:"}, {"rpm", "AlmaLinux:"}, {"golang", "Go"},   {"npm", "npm"},
		   {"pypi", "PyPI"},	    {"cargo", "crates.io"}, {"maven", "Maven"}, {"gem", "RubyGems"},
		   {"nuget", "NuGet"},	    {"composer", "Packagist"}};
	int known = 0;
	for (size_t i = 0; i < DD_ARRAY_LEN(map); i++) {
		if (strcmp(map[i].type, t))
			continue;
		known = 1;
		if (!strncmp(eco, map[i].eco, strlen(map[i].eco)))
			return 1;
	}
	return !known; /* a type drydock does not know: the name decides */
}

int vex_applies(const struct vex_statement *s, const char *eco, const char *digest, const char *id,
		const char *const *aliases, size_t naliases, const char *package, const char *source,
		const char *version)
{
	if (s->digest && (!digest || strcmp(s->digest, digest)))
		return 0;
	if (s->type && eco && !type_of_ecosystem(s->type, eco))
		return 0;
	if (s->package && (!package || strcmp(s->package, package)) && (!source || strcmp(s->package, source)))
		return 0;
	if (s->version && (!version || strcmp(s->version, version)))
		return 0;
	int hit = !strcmp(s->vulnerability, id);
	for (size_t i = 0; !hit && i < naliases; i++)
		hit = !strcmp(s->vulnerability, aliases[i]);
	for (size_t i = 0; !hit && i < s->naliases; i++) {
		hit = !strcmp(s->aliases[i], id);
		for (size_t k = 0; !hit && k < naliases; k++)
			hit = !strcmp(s->aliases[i], aliases[k]);
	}
	return hit;
}
