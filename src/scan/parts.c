/* parts.c: parts.h. */
#include "common/dd.h"
#include "scan/parts.h"
#include "common/arena.h"
#include "image/manifest.h"

int image_parts(struct arena *a, const char *content, size_t len, const char *media_type, int *is_index,
		struct image_part **out, size_t *n, struct image_part *config)
{
	struct manifest_info info;
	const char *why;
	*out = NULL;
	*n = 0;
	int rc = manifest_parse(a, content, len, media_type, &info, &why);
	if (rc)
		return rc;
	*is_index = info.is_index;
	if (config)
		*config = info.is_index ? (struct image_part){0}
					: (struct image_part){.digest = info.config.digest,
							      .media_type = info.config.media_type,
							      .size = info.config.size};
	const struct manifest_desc *d = info.is_index ? info.manifests : info.layers;
	*n = info.is_index ? info.nmanifests : info.nlayers;
	*out = arena_alloc(a, (*n ? *n : 1) * sizeof(**out));
	for (size_t i = 0; i < *n; i++)
		(*out)[i] = (struct image_part){.digest = d[i].digest, .media_type = d[i].media_type,
						.platform = d[i].platform, .size = d[i].size};
	return 0;
}

int image_parts_is_index(const char *mt)
{
	return mt && (!strcmp(mt, MT_OCI_INDEX) || !strcmp(mt, MT_DOCKER_LIST));
}
