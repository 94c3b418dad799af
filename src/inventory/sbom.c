/* sbom.c: rendering an inventory as drydock JSON, CycloneDX 1.5 or SPDX 2.3, and package
 * URLs per the purl specification (percent-encoded versions, type-specific namespaces), for OS
 * and application packages alike. */
#include "common/dd.h"
#include "sbom.h"
#include "common/arena.h"
#include "common/buf.h"
#include "common/util.h"
#include "inventory.h"
#include "version/version.h"
#include <jansson.h>

#ifndef DD_VERSION
#define DD_VERSION "0.1.0-dev"
#endif

int sbom_format_parse(const char *s, enum sbom_format *out)
{
	if (!strcmp(s, "json"))
		*out = SBOM_JSON;
	else if (!strcmp(s, "cyclonedx"))
		*out = SBOM_CYCLONEDX;
	else if (!strcmp(s, "spdx"))
		*out = SBOM_SPDX;
	else
		return DD_E_USAGE;
	return 0;
}

/* purl percent-encoding: unreserved characters stay, everything else is %XX. */
static void enc(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (isalnum(c) || c == '.' || c == '-' || c == '_' || c == '~')
			buf_append(b, s, 1);
		else {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};
			buf_append(b, e, 3);
		}
	}
}

static const char *lower(struct arena *a, const char *s)
{
	char *o = arena_strdup(a, s ? s : "");
	for (char *p = o; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return o;
}

/* enc() of each '/'-separated segment of s, the slashes kept (a Go module path's namespace). */
static void enc_path(struct buf *b, const char *s)
{
	for (const char *p = s; *p;) {
		size_t n = strcspn(p, "/");
		char seg[DD_MAX_PATH_BYTES + 1];
		if (n > DD_MAX_PATH_BYTES)
			n = DD_MAX_PATH_BYTES;
		memcpy(seg, p, n);
		seg[n] = 0;
		enc(b, seg);
		p += n;
		if (*p == '/') {
			buf_puts(b, "/");
			p++;
		}
	}
}

/* pkg:pypi/name@v, pkg:npm/%40scope/name@v, pkg:golang/host/path@v, pkg:cargo/name@v,
 * pkg:maven/group/artifact@v, and the Node.js runtime as pkg:generic/node@v. */
static const char *lang_purl(struct arena *a, const struct package *p)
{
	struct buf b;
	buf_init(&b, 1 << 16);
	switch (p->type) {
	case PKG_PYPI: buf_puts(&b, "pkg:pypi/"), enc(&b, p->name); break;
	case PKG_NPM:
		buf_puts(&b, "pkg:npm/");
		if (p->name[0] == '@' && strchr(p->name, '/')) {
			const char *slash = strchr(p->name, '/');
			enc(&b, arena_strndup(a, p->name, (size_t)(slash - p->name)));
			buf_puts(&b, "/");
			enc(&b, slash + 1);
		} else
			enc(&b, p->name);
		break;
	case PKG_GO: buf_puts(&b, "pkg:golang/"), enc_path(&b, p->name); break;
	case PKG_CARGO: buf_puts(&b, "pkg:cargo/"), enc(&b, p->name); break;
	case PKG_MAVEN: { /* pkg:maven/group/artifact (a name without a group has no namespace) */
		const char *colon = strchr(p->name, ':');
		buf_puts(&b, "pkg:maven/");
		if (colon) {
			enc(&b, arena_strndup(a, p->name, (size_t)(colon - p->name)));
			buf_puts(&b, "/");
			enc(&b, colon + 1);
		} else
			enc(&b, p->name);
		break;
	}
	default: buf_puts(&b, "pkg:generic/"), enc(&b, p->name); break;
	}
	buf_puts(&b, "@");
	enc(&b, p->version);
	const char *out = arena_strdup(a, b.data ? b.data : "");
	buf_release(&b);
	return out;
}

const char *sbom_purl(struct arena *a, const struct inventory *inv, size_t i)
{
	const struct package *p = &inv->pkgs[i];
	if (pkg_lang_ecosystem(p->type))
		return lang_purl(a, p);
	const char *os = inv->os.id ? lower(a, inv->os.id) : NULL;
	struct buf b;
	buf_init(&b, 1 << 16);
	const char *type = p->type == PKG_DPKG ? "deb" : p->type == PKG_APK ? "apk" : "rpm";
	const char *ns = os ? os : p->type == PKG_DPKG ? "debian" : p->type == PKG_APK ? "alpine" : "unknown";
	buf_printf(&b, "pkg:%s/", type);
	enc(&b, ns);
	buf_puts(&b, "/");
	enc(&b, p->name);
	buf_puts(&b, "@");
	if (p->type == PKG_RPM) {
		enc(&b, p->version);
		buf_puts(&b, "-");
		enc(&b, p->release);
	} else
		enc(&b, p->version);
	int q = 0;
#define QUAL(k, v)                                    \
	do {                                          \
		buf_puts(&b, q++ ? "&" k "=" : "?" k "="); \
		enc(&b, v);                           \
	} while (0)
	if (p->arch && *p->arch)
		QUAL("arch", p->arch);
	if (inv->os.id && inv->os.version_id)
		QUAL("distro", arena_printf(a, "%s-%s", os, inv->os.version_id));
	if (p->type == PKG_RPM && p->has_epoch)
		QUAL("epoch", arena_printf(a, "%ld", p->epoch));
	if (p->source_name && *p->source_name && strcmp(p->source_name, p->name))
		QUAL("upstream", p->source_name);
#undef QUAL
	const char *out = arena_strdup(a, b.data ? b.data : "");
	buf_release(&b);
	return out;
}

static void set(json_t *o, const char *k, const char *v)
{
	if (v)
		json_object_set_new(o, k, json_string(v));
}

static const char *kind_name(enum os_kind k)
{
	return k == OS_KNOWN ? "known" : k == OS_DISTROLESS ? "distroless" : k == OS_SCRATCH ? "scratch" : "unknown";
}

static json_t *native(struct arena *a, const struct inventory *inv, const struct sbom_subject *subj)
{
	json_t *os = json_object();
	set(os, "kind", kind_name(inv->os.kind));
	set(os, "id", inv->os.id);
	set(os, "version_id", inv->os.version_id);
	set(os, "codename", inv->os.codename);
	set(os, "pretty_name", inv->os.pretty_name);
	json_t *pkgs = json_array();
	for (size_t i = 0; i < inv->n; i++) {
		const struct package *p = &inv->pkgs[i];
		json_t *o = json_object();
		set(o, "type", pkg_type_name(p->type));
		set(o, "name", p->name);
		set(o, "version", p->version);
		set(o, "arch", p->arch);
		set(o, "source_name", p->source_name);
		set(o, "source_version", p->source_version);
		if (p->type == PKG_DPKG) {
			struct dpkg_version v;
			const char *why;
			if (!dpkg_version_parse(p->version, strlen(p->version), &v, &why)) {
				json_object_set_new(o, "epoch", json_integer((json_int_t)v.epoch));
				json_object_set_new(o, "upstream", json_stringn(v.upstream, v.upstream_len));
				json_object_set_new(o, "revision", json_stringn(v.revision, v.revision_len));
			}
			set(o, "status", p->status);
		}
		if (p->type == PKG_APK) {
			set(o, "origin", p->source_name);
			set(o, "license", p->license);
		}
		if (p->type == PKG_RPM) {
			json_object_set_new(o, "epoch", p->has_epoch ? json_integer(p->epoch) : json_null());
			set(o, "release", p->release);
			set(o, "sourcerpm", p->sourcerpm);
			set(o, "vendor", p->vendor);
			set(o, "license", p->license);
			if (p->modularity_label && *p->modularity_label)
				set(o, "modularity_label", p->modularity_label);
		}
		set(o, "ecosystem", pkg_lang_ecosystem(p->type));
		set(o, "purl", sbom_purl(a, inv, i));
		set(o, pkg_lang_ecosystem(p->type) ? "path" : "db", p->db_path);
		set(o, "layer", p->layer);
		if (p->type == PKG_GO && p->go_packages) { /* those whose code the binary holds */
			json_t *gp = json_array();
			for (const char *l = p->go_packages, *nl; (nl = strchr(l, '\n')); l = nl + 1)
				json_array_append_new(gp, json_stringn(l, (size_t)(nl - l)));
			json_object_set_new(o, "go_packages", gp);
		}
		json_array_append_new(pkgs, o);
	}
	json_t *doc = json_pack("{s:o, s:o}", "os", os, "packages", pkgs);
	if (subj->layers >= 0) {
		json_t *im = json_object();
		set(im, "name", subj->name);
		set(im, "manifest", subj->manifest);
		set(im, "platform", subj->platform);
		json_object_set_new(im, "layers", json_integer(subj->layers));
		json_object_set_new(doc, "image", im);
	}
	return doc;
}

static const char *now_iso(struct arena *a)
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	return arena_printf(a, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			    tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static json_t *property(const char *name, const char *value)
{
	return json_pack("{s:s, s:s}", "name", name, "value", value ? value : "");
}

static json_t *cyclonedx(struct arena *a, const struct inventory *inv, const struct sbom_subject *subj)
{
	char uuid[37];
	util_uuid(uuid);
	json_t *comps = json_array();
	if (inv->os.id) {
		json_t *os = json_pack("{s:s, s:s, s:s}", "type", "operating-system", "bom-ref", "os", "name",
				       inv->os.id);
		set(os, "version", inv->os.version_id);
		set(os, "description", inv->os.pretty_name);
		json_array_append_new(comps, os);
	}
	for (size_t i = 0; i < inv->n; i++) {
		const struct package *p = &inv->pkgs[i];
		const char *purl = sbom_purl(a, inv, i);
		json_t *c = json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", "library", "bom-ref",
				      arena_printf(a, "%s#%zu", purl, i), "name", p->name, "version",
				      p->type == PKG_RPM ? arena_printf(a, "%s%s%s-%s", p->has_epoch ? arena_printf(a, "%ld", p->epoch) : "",
								       p->has_epoch ? ":" : "", p->version, p->release)
							 : p->version,
				      "purl", purl);
		if (p->license && *p->license)
			json_object_set_new(c, "licenses", json_pack("[{s:{s:s}}]", "license", "name", p->license));
		json_t *props = json_array();
		json_array_append_new(props, property("drydock:package:type", pkg_type_name(p->type)));
		if (p->source_name)
			json_array_append_new(props, property("drydock:package:source_name", p->source_name));
		if (p->source_version)
			json_array_append_new(props, property("drydock:package:source_version", p->source_version));
		if (p->layer)
			json_array_append_new(props, property("drydock:layer", p->layer));
		size_t np = 0;
		const char **paths = pkg_lang_ecosystem(p->type) ? pkg_paths(a, p, &np) : NULL;
		for (size_t k = 0; k < np; k++) /* one property per file that names it */
			json_array_append_new(props, property("drydock:package:path", paths[k]));
		json_object_set_new(c, "properties", props);
		json_array_append_new(comps, c);
	}
	json_t *subject = json_pack("{s:s, s:s, s:s}", "type", subj->layers >= 0 ? "container" : "file", "bom-ref",
				    "subject", "name", subj->name ? subj->name : "");
	if (subj->manifest && *subj->manifest)
		set(subject, "version", subj->manifest);
	json_t *meta = json_pack("{s:s, s:{s:[{s:s, s:s, s:s}]}, s:o}", "timestamp", now_iso(a), "tools", "components",
				 "type", "application", "name", "drydock", "version", DD_VERSION, "component", subject);
	return json_pack("{s:s, s:s, s:s, s:i, s:o, s:o}", "bomFormat", "CycloneDX", "specVersion", "1.5",
			 "serialNumber", arena_printf(a, "urn:uuid:%s", uuid), "version", 1, "metadata", meta,
			 "components", comps);
}

static json_t *spdx(struct arena *a, const struct inventory *inv, const struct sbom_subject *subj)
{
	char uuid[37];
	util_uuid(uuid);
	json_t *pkgs = json_array(), *rels = json_array();
	const char *name = subj->name ? subj->name : "image";
	json_t *root = json_pack("{s:s, s:s, s:s, s:b, s:s, s:s}", "SPDXID", "SPDXRef-Subject", "name", name,
				 "downloadLocation", "NOASSERTION", "filesAnalyzed", 0, "licenseConcluded", "NOASSERTION",
				 "licenseDeclared", "NOASSERTION");
	if (subj->manifest && *subj->manifest)
		set(root, "versionInfo", subj->manifest);
	json_object_set_new(root, "primaryPackagePurpose", json_string(subj->layers >= 0 ? "CONTAINER" : "SOURCE"));
	json_array_append_new(pkgs, root);
	json_array_append_new(rels, json_pack("{s:s, s:s, s:s}", "spdxElementId", "SPDXRef-DOCUMENT",
					      "relationshipType", "DESCRIBES", "relatedSpdxElement", "SPDXRef-Subject"));
	for (size_t i = 0; i < inv->n; i++) {
		const struct package *p = &inv->pkgs[i];
		const char *id = arena_printf(a, "SPDXRef-Package-%zu", i + 1);
		json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:b, s:s, s:s, s:s}", "SPDXID", id, "name", p->name,
				      "versionInfo",
				      p->type == PKG_RPM ? arena_printf(a, "%s-%s", p->version, p->release) : p->version,
				      "downloadLocation", "NOASSERTION", "filesAnalyzed", 0, "licenseConcluded",
				      "NOASSERTION", "licenseDeclared", "NOASSERTION", "primaryPackagePurpose", "LIBRARY");
		if (p->license && *p->license) /* distro license fields are not always SPDX expressions */
			set(o, "licenseComments", arena_printf(a, "declared by the package: %s", p->license));
		if (p->source_name && strcmp(p->source_name, p->name))
			set(o, "sourceInfo", arena_printf(a, "built from source package %s", p->source_name));
		json_object_set_new(o, "externalRefs",
				    json_pack("[{s:s, s:s, s:s}]", "referenceCategory", "PACKAGE-MANAGER", "referenceType",
					      "purl", "referenceLocator", sbom_purl(a, inv, i)));
		json_array_append_new(pkgs, o);
		json_array_append_new(rels, json_pack("{s:s, s:s, s:s}", "spdxElementId", "SPDXRef-Subject",
						      "relationshipType", "CONTAINS", "relatedSpdxElement", id));
	}
	json_t *info = json_pack("{s:s, s:[s]}", "created", now_iso(a), "creators",
				 arena_printf(a, "Tool: drydock-%s", DD_VERSION));
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o}", "spdxVersion", "SPDX-2.3", "dataLicense", "CC0-1.0",
			 "SPDXID", "SPDXRef-DOCUMENT", "name", name, "documentNamespace",
			 arena_printf(a, "https://spdx.org/spdxdocs/drydock-%s", uuid), "creationInfo", info, "packages",
			 pkgs, "relationships", rels);
}

char *sbom_render(struct arena *a, const struct inventory *inv, const struct sbom_subject *subj, enum sbom_format fmt)
{
	json_t *doc = fmt == SBOM_CYCLONEDX ? cyclonedx(a, inv, subj) : fmt == SBOM_SPDX ? spdx(a, inv, subj)
											  : native(a, inv, subj);
	if (!doc)
		return NULL;
	char *text = json_dumps(doc, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	json_decref(doc);
	return text;
}
