/* manifest.c: manifest validation with jansson. Depth is checked before parsing, and every
 * count is bounded by limits.h. */
#include "common/dd.h"
#include "manifest.h"
#include "common/arena.h"
#include "common/digest.h"
#include <jansson.h>

static const char *const known_types[] = {MT_OCI_MANIFEST, MT_OCI_INDEX, MT_DOCKER_MANIFEST, MT_DOCKER_LIST};

int manifest_type_known(const char *mt)
{
	for (size_t i = 0; i < DD_ARRAY_LEN(known_types); i++)
		if (!strcmp(mt, known_types[i]))
			return 1;
	return 0;
}

/* Nesting depth of JSON arrays and objects, ignoring brackets inside strings. */
static int json_depth_ok(const char *s, size_t n, int max)
{
	int depth = 0, in_str = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = 0;
		} else if (c == '"')
			in_str = 1;
		else if (c == '{' || c == '[') {
			if (++depth > max)
				return 0;
		} else if (c == '}' || c == ']')
			depth--;
	}
	return 1;
}

/* The media type of a Content-Type header without parameters, as an arena string. */
static const char *bare_type(struct arena *a, const char *ct)
{
	if (!ct)
		return NULL;
	size_t n = strcspn(ct, ";");
	while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
		n--;
	return arena_strndup(a, ct, n);
}

/* Checks a descriptor object; on success *digest is its digest (arena copy) and *size its size
 * (when size is not NULL), and *out (when not NULL) the whole descriptor. */
static int check_descriptor_full(struct arena *a, json_t *d, const char *where, const char **digest, int64_t *size,
				 struct manifest_desc *out, const char **why)
{
	if (!json_is_object(d))
		return arena_fail(a, why, DD_E_MANIFEST_INVALID, "%s is not a descriptor object", where);
	json_t *mt = json_object_get(d, "mediaType"), *dg = json_object_get(d, "digest"),
	       *sz = json_object_get(d, "size");
	if (!json_is_string(mt))
		return arena_fail(a, why, DD_E_MANIFEST_INVALID, "%s lacks a string mediaType", where);
	if (!json_is_string(dg))
		return arena_fail(a, why, DD_E_MANIFEST_INVALID, "%s lacks a string digest", where);
	if (!json_is_integer(sz) || json_integer_value(sz) < 0)
		return arena_fail(a, why, DD_E_MANIFEST_INVALID, "%s lacks a non-negative integer size", where);
	struct digest parsed;
	const char *dwhy;
	if (digest_parse(json_string_value(dg), json_string_length(dg), &parsed, &dwhy)) {
		*why = arena_printf(a, "%s digest: %s", where, dwhy);
		return DD_E_MANIFEST_INVALID;
	}
	*digest = arena_strdup(a, parsed.str);
	if (size)
		*size = (int64_t)json_integer_value(sz);
	if (out) {
		*out = (struct manifest_desc){.digest = *digest, .media_type = arena_strdup(a, json_string_value(mt)),
					      .size = (int64_t)json_integer_value(sz)};
		json_t *p = json_object_get(d, "platform");
		const char *os = json_string_value(json_object_get(p, "os"));
		const char *arch = json_string_value(json_object_get(p, "architecture"));
		const char *variant = json_string_value(json_object_get(p, "variant"));
		if (os && arch)
			out->platform = variant ? arena_printf(a, "%s/%s/%s", os, arch, variant) : arena_printf(a, "%s/%s", os, arch);
	}
	return 0;
}

static int check_descriptor(struct arena *a, json_t *d, const char *where, const char **digest, int64_t *size,
			    const char **why)
{
	return check_descriptor_full(a, d, where, digest, size, NULL, why);
}

static int nondistributable(const char *mt)
{
	return strstr(mt, "nondistributable") || strstr(mt, "foreign");
}

static int parse_root(struct arena *a, json_t *root, const char *ct, struct manifest_info *out, const char **why)
{
	if (!json_is_object(root))
		return arena_fail(a, why, DD_E_MANIFEST_INVALID, "manifest is not a JSON object");
	json_t *sv = json_object_get(root, "schemaVersion");
	if (!json_is_integer(sv))
		return arena_fail(a, why, DD_E_MANIFEST_INVALID, "manifest lacks an integer schemaVersion");
	if (json_integer_value(sv) != 2)
		return arena_fail(a, why, DD_E_MANIFEST_INVALID,
				  "only schemaVersion 2 is supported (Docker schema1 is not)");
	json_t *mt = json_object_get(root, "mediaType");
	if (mt && !json_is_string(mt))
		return arena_fail(a, why, DD_E_MANIFEST_INVALID, "mediaType is not a string");
	const char *body_type = mt ? json_string_value(mt) : NULL;
	const char *type = body_type;
	if (ct && *ct && strcmp(ct, "application/json") && strcmp(ct, "application/octet-stream")) {
		if (body_type && strcmp(body_type, ct))
			return arena_fail(a, why, DD_E_MANIFEST_INVALID,
					  "Content-Type does not match the manifest's mediaType '%s'", body_type);
		type = ct;
	}
	json_t *manifests = json_object_get(root, "manifests"), *layers = json_object_get(root, "layers"),
	       *config = json_object_get(root, "config");
	if (!type) /* no mediaType and no telling Content-Type: an OCI document by its shape */
		type = manifests ? MT_OCI_INDEX : MT_OCI_MANIFEST;
	if (!manifest_type_known(type))
		return arena_fail(a, why, DD_E_MANIFEST_INVALID, "unsupported manifest media type '%s'", type);
	out->media_type = arena_strdup(a, type);
	out->is_index = !strcmp(type, MT_OCI_INDEX) || !strcmp(type, MT_DOCKER_LIST);
	out->artifact_type = "";
	out->subject = "";
	out->annotations = "";

	json_t *at = json_object_get(root, "artifactType");
	if (at && !json_is_string(at))
		return arena_fail(a, why, DD_E_MANIFEST_INVALID, "artifactType is not a string");
	if (at)
		out->artifact_type = arena_strdup(a, json_string_value(at));

	json_t *subject = json_object_get(root, "subject");
	if (subject) {
		int rc = check_descriptor(a, subject, "subject", &out->subject, NULL, why);
		if (rc)
			return rc;
	}
	json_t *ann = json_object_get(root, "annotations");
	if (ann) {
		if (!json_is_object(ann))
			return arena_fail(a, why, DD_E_MANIFEST_INVALID, "annotations is not an object");
		const char *k;
		json_t *v;
		json_object_foreach(ann, k, v)
		{
			if (!json_is_string(v))
				return arena_fail(a, why, DD_E_MANIFEST_INVALID, "annotation '%s' is not a string", k);
		}
		/* written into the arena: jansson's own allocation may be a scan worker's bump region
		 * (common/jsonmem.h), which free() must never see */
		size_t n = json_dumpb(ann, NULL, 0, JSON_COMPACT | JSON_SORT_KEYS);
		char *text = arena_alloc(a, n + 1);
		if (n && json_dumpb(ann, text, n, JSON_COMPACT | JSON_SORT_KEYS) != n)
			return DD_E_NOMEM;
		out->annotations = text;
	}

	if (out->is_index) {
		if (!json_is_array(manifests))
			return arena_fail(a, why, DD_E_MANIFEST_INVALID, "index lacks a manifests array");
		if (config || layers)
			return arena_fail(a, why, DD_E_MANIFEST_INVALID, "an index has no config or layers");
		size_t n = json_array_size(manifests);
		if (n > DD_MAX_DESCRIPTORS)
			return arena_fail(a, why, DD_E_MANIFEST_INVALID, "index has more than 10000 manifests");
		out->refs = arena_alloc(a, (n ? n : 1) * sizeof(*out->refs));
		out->manifests = arena_alloc(a, (n ? n : 1) * sizeof(*out->manifests));
		for (size_t i = 0; i < n; i++) {
			json_t *d = json_array_get(manifests, i);
			const char *where = arena_printf(a, "manifests[%zu]", i);
			int rc = check_descriptor_full(a, d, where, &out->refs[i].digest, &out->refs[i].size, &out->manifests[i], why);
			if (rc)
				return rc;
			out->refs[i].kind = REF_MANIFEST;
		}
		out->nrefs = out->nmanifests = n;
		return 0;
	}
	if (manifests)
		return arena_fail(a, why, DD_E_MANIFEST_INVALID, "an image manifest has no manifests array");
	if (!config)
		return arena_fail(a, why, DD_E_MANIFEST_INVALID, "image manifest lacks config");
	if (!json_is_array(layers))
		return arena_fail(a, why, DD_E_MANIFEST_INVALID, "image manifest lacks a layers array");
	size_t n = json_array_size(layers);
	if (n > DD_MAX_DESCRIPTORS)
		return arena_fail(a, why, DD_E_MANIFEST_INVALID, "manifest has more than 10000 layers");
	out->refs = arena_alloc(a, (n + 1) * sizeof(*out->refs));
	out->layers = arena_alloc(a, (n ? n : 1) * sizeof(*out->layers));
	int rc = check_descriptor_full(a, config, "config", &out->refs[0].digest, &out->refs[0].size, &out->config, why);
	if (rc)
		return rc;
	out->refs[0].kind = REF_BLOB;
	const char *config_type = json_string_value(json_object_get(config, "mediaType"));
	/* distribution-spec, referrers: "if the artifactType is empty or missing in the image
	 * manifest, the value of artifactType MUST be set to the config descriptor mediaType" */
	if (!*out->artifact_type && config_type)
		out->artifact_type = arena_strdup(a, config_type);
	for (size_t i = 0; i < n; i++) {
		json_t *d = json_array_get(layers, i);
		const char *where = arena_printf(a, "layers[%zu]", i);
		const char *dg;
		int64_t size;
		if ((rc = check_descriptor_full(a, d, where, &dg, &size, &out->layers[i], why)))
			return rc;
		/* foreign layers live elsewhere by design: named, not required */
		int foreign = nondistributable(json_string_value(json_object_get(d, "mediaType")));
		out->refs[i + 1] = (struct manifest_ref){.digest = dg, .kind = foreign ? REF_FOREIGN : REF_BLOB, .size = size};
	}
	out->nrefs = n + 1;
	out->nlayers = n;
	return 0;
}

int manifest_parse(struct arena *a, const char *data, size_t len, const char *content_type,
		   struct manifest_info *out, const char **why)
{
	memset(out, 0, sizeof(*out));
	*why = NULL;
	if (len == 0)
		return arena_fail(a, why, DD_E_MANIFEST_INVALID, "manifest is empty");
	if (len > DD_MAX_MANIFEST_BYTES)
		return arena_fail(a, why, DD_E_MANIFEST_INVALID, "manifest larger than 4 MiB");
	if (!json_depth_ok(data, len, DD_MAX_JSON_DEPTH))
		return arena_fail(a, why, DD_E_MANIFEST_INVALID, "manifest JSON nested deeper than 64 levels");
	json_error_t err;
	json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &err);
	if (!root) {
		*why = arena_printf(a, "manifest is not valid JSON: %s at byte %d", err.text, err.position);
		return DD_E_MANIFEST_INVALID;
	}
	int rc = parse_root(a, root, bare_type(a, content_type), out, why);
	json_decref(root);
	return rc;
}

int manifest_is_vex_type(const char *t)
{
	return t && (!strcmp(t, "application/vnd.openvex+json") || !strcmp(t, "application/vnd.cyclonedx+json") ||
		     !strcmp(t, "application/vnd.cyclonedx.vex+json"));
}
