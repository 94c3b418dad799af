/* store_image.c: images held by a drydock data directory (the registry's own store): the
 * manifest from the metadata store, the layers from the filesystem blob store. */
#include "common/dd.h"
#include "image.h"
#include "common/arena.h"
#include "common/digest.h"
#include "store/meta_repos.h"
#include <jansson.h>

static int bad(struct arena *a, const char **why, const char *fmt, const char *arg)
{
	*why = arena_printf(a, fmt, arg);
	return DD_E_IMAGE_INVALID;
}

int image_open_store(struct arena *a, const char *data_dir, const char *ref, struct image *out, const char **why)
{
	struct meta *m;
	*why = NULL;
	if (meta_sqlite_open(arena_printf(a, "%s/meta.db", data_dir), &m))
		return bad(a, why, "cannot open the metadata of data directory '%s'", data_dir);
	int rc = image_open_store_meta(a, m, data_dir, ref, out, why);
	meta_free(m);
	return rc;
}

int image_open_store_meta(struct arena *a, struct meta *m, const char *data_dir, const char *ref, struct image *out,
			  const char **why)
{
	image_begin(a, out, ref);
	*why = NULL;
	const char *repo, *reference;
	int is_digest;
	image_split_ref(a, ref, &repo, &reference, &is_digest);
	int rc = 0;
	json_t *root = NULL;
	for (int depth = 0; depth < 4; depth++) {
		struct manifest_rec rec;
		rc = m->repos->manifest_get(m, a, repo, reference, is_digest, 1, &rec);
		if (rc) {
			*why = arena_printf(a, "'%s@%s': %s", repo, reference, dd_err_message(rc));
			rc = DD_E_IMAGE_INVALID;
			break;
		}
		out->manifest_digest = rec.digest;
		json_decref(root);
		root = json_loadb(rec.content, (size_t)rec.size, 0, NULL);
		json_t *sub = json_object_get(root, "manifests");
		if (!json_is_array(sub))
			break;
		json_t *pick = image_pick_platform(a, sub, out);
		if (!pick || !json_string_value(json_object_get(pick, "digest"))) {
			*why = arena_printf(a, "index of '%s' has no such linux platform", ref);
			rc = out->want_platform || out->want_index >= 0 ? DD_E_NOT_FOUND : DD_E_IMAGE_INVALID;
			break;
		}
		reference = arena_strdup(a, json_string_value(json_object_get(pick, "digest")));
		is_digest = 1;
	}
	if (!rc) {
		json_t *layers = json_object_get(root, "layers"), *d;
		size_t i;
		if (!json_is_array(layers))
			rc = bad(a, why, "manifest of '%s' has no layers array", ref);
		else if (!(rc = image_check_layer_count(a, arena_printf(a, "manifest of '%s'", ref), json_array_size(layers), why))) {
			out->nlayers = json_array_size(layers);
			out->layers = arena_alloc(a, (out->nlayers + 1) * sizeof(*out->layers));
			json_array_foreach(layers, i, d)
			{
				const char *dg = json_string_value(json_object_get(d, "digest")), *dwhy;
				struct digest p;
				if (!dg || digest_parse(dg, strlen(dg), &p, &dwhy)) {
					rc = bad(a, why, "manifest of '%s' has a layer without a valid digest", ref);
					break;
				}
				const char *hex = strchr(p.str, ':') + 1;
				out->layers[i].digest = arena_strdup(a, p.str);
				out->layers[i].file = arena_printf(a, "%s/blobs/%s/%.2s/%s", data_dir,
								   digest_alg_name(p.alg), hex, hex);
				out->layers[i].media_type = "";
				out->layers[i].size = image_descriptor_size(d);
			}
		}
	}
	json_decref(root);
	return rc;
}
