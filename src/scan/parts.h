/* parts.h: what an image page shows of a stored manifest (its layers, or an index's manifests
 * with their platforms), read by the one manifest parser (image/manifest.h) for the security
 * API, which reads no manifest itself. */
#ifndef DD_PARTS_H
#define DD_PARTS_H
#include <stddef.h>
#include <stdint.h>

struct arena;

struct image_part {
	const char *digest, *media_type;
	const char *platform; /* an index's manifest: "OS/ARCH[/VARIANT]", or NULL */
	int64_t size;
};

/* The layers of an image manifest (*is_index 0), or the manifests of an index (*is_index 1),
 * in order, and, when config is not NULL, an image manifest's config (zeroed for an index): 0
 * with an arena array, or an error code (not a manifest drydock reads). */
int image_parts(struct arena *a, const char *content, size_t len, const char *media_type, int *is_index,
		struct image_part **out, size_t *n, struct image_part *config);

/* 1 when mt is the media type of an index (OCI image index, Docker manifest list). */
int image_parts_is_index(const char *mt);

#endif
