/* store_image.c: images held by a drydock data directory (the registry's own store): the
 * manifest from the metadata store, the layers from the blob store (blobstore.h). */
#include "common/dd.h"
#include "image.h"
#include "common/arena.h"
#include "common/digest.h"
#include "image/manifest.h"
#include "store/meta_repos.h"

int image_open_store(struct arena *a, const char *data_dir, struct blobstore *bs, const char *ref, struct image *out,
		     const char **why)
{
	struct meta *m;
	*why = NULL;
	const char *w;
	if (meta_open_dir(data_dir, NULL, &m, &w))
		return arena_fail(a, why, DD_E_IMAGE_INVALID, "cannot open the metadata of data directory '%s'",
				  data_dir);
	int rc = image_open_store_meta(a, m, bs, ref, out, why);
	meta_free(m);
	return rc;
}

int image_open_store_meta(struct arena *a, struct meta *m, struct blobstore *bs, const char *ref, struct image *out,
			  const char **why)
{
	image_begin(a, out, ref);
	*why = NULL;
	const char *repo, *reference;
	int is_digest;
	image_split_ref(a, ref, &repo, &reference, &is_digest);
	struct manifest_info info;
	for (int depth = 0;; depth++) {
		struct manifest_rec rec;
		int rc = m->repos->manifest_get(m, a, repo, reference, is_digest, 1, &rec);
		if (rc) {
			*why = arena_printf(a, "'%s@%s': %s", repo, reference, dd_err_message(rc));
			return DD_E_IMAGE_INVALID;
		}
		out->manifest_digest = rec.digest;
		const char *mwhy;
		if (manifest_parse(a, rec.content, (size_t)rec.size, rec.media_type, &info, &mwhy)) {
			*why = arena_printf(a, "manifest of '%s': %s", ref, mwhy);
			return DD_E_IMAGE_INVALID;
		}
		if (!info.is_index)
			break;
		if (depth == 3)
			return arena_fail(a, why, DD_E_IMAGE_INVALID, "'%s' is an index of indexes nested too deep", ref);
		const struct manifest_desc *pick = image_pick_manifest(a, &info, out);
		if (!pick) {
			*why = arena_printf(a, "index of '%s' has no such linux platform", ref);
			return out->want_platform || out->want_index >= 0 ? DD_E_NOT_FOUND : DD_E_IMAGE_INVALID;
		}
		reference = pick->digest;
		is_digest = 1;
	}
	int rc = image_check_layer_count(a, arena_printf(a, "manifest of '%s'", ref), info.nlayers, why);
	if (rc)
		return rc;
	out->nlayers = info.nlayers;
	out->layers = arena_alloc(a, (out->nlayers + 1) * sizeof(*out->layers));
	for (size_t i = 0; i < info.nlayers; i++)
		out->layers[i] = (struct image_layer){.digest = info.layers[i].digest, .media_type = "",
						      .size = info.layers[i].size, .store = bs};
	return 0;
}
