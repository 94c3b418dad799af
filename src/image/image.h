/* image.h: images as the inventory sees them: a manifest's ordered layers, found in an OCI
 * image layout directory; and the inventory of such an image, read layer by layer. */
#ifndef DD_IMAGE_H
#define DD_IMAGE_H
#include <stddef.h>
#include <stdint.h>

struct arena;
struct inventory;

struct blobstore;

struct image_layer {
	const char *digest; /* NULL: computed while reading (docker-archive) */
	const char *media_type;
	int64_t size;     /* the descriptor's, -1 when none gives one (a docker-archive) */
	const char *file;         /* where its bytes are, or NULL when `store` holds them */
	struct blobstore *store;  /* holds its bytes as blob `digest` (borrowed), or NULL */
};

/* Opens a layer's bytes for reading (from its file, or its blob store): 0 with an owned
 * descriptor, or DD_E_IMAGE_INVALID with *why (arena text). */
int image_layer_open(struct arena *a, const struct image_layer *il, int *fd, const char **why);

struct image {
	/* set by the caller before opening, kept by the open functions */
	const char *want_platform; /* "linux/arm64[/v8]", or NULL */
	int want_index;            /* with no want_platform: the n-th linux platform; -1: this machine's */
	int progress;              /* image_inventory says on stderr which layer it reads (a terminal) */
	/* filled by the open functions */
	const char *name;            /* what the user named */
	const char *manifest_digest;
	const char *platform;        /* "linux/amd64", or "" when the manifest names none */
	struct image_layer *layers;
	size_t nlayers;
	char *tmpdir; /* an archive's unpacked copy, to remove when done (or NULL) */
};

/* Clears out for an open function, keeping the caller's want_* fields; names it `name`. */
void image_begin(struct arena *a, struct image *out, const char *name);
/* Splits REPO@DIGEST or REPO[:TAG] (the tag after the last ':' past the last '/'; "latest"
 * when absent) into arena strings. */
void image_split_ref(struct arena *a, const char *ref, const char **repo, const char **reference, int *is_digest);

/* Opens image `tag` (NULL: the only one, or the first) of an OCI layout directory; an index
 * is resolved to the platform the caller asked for in out->want_*, by default the linux one
 * of this machine's architecture, else the first linux one. DD_E_NOT_FOUND when the asked
 * platform is not there. */
int image_open_oci_layout(struct arena *a, const char *dir, const char *tag, struct image *out, const char **why);

/* Opens image `tag` of a docker-archive or oci-archive tar, unpacked into *tmpdir (arena
 * string; the caller removes it, even on error; pass &out->tmpdir). */
int image_open_archive(struct arena *a, const char *path, const char *tag, struct image *out, char **tmpdir,
		       const char **why);

/* Opens REPO:TAG or REPO@DIGEST held by a drydock data directory: its manifest from the data
 * directory's metadata (meta.db), its layers from blob store bs (borrowed; it must outlive the
 * image's use). */
int image_open_store(struct arena *a, const char *data_dir, struct blobstore *bs, const char *ref, struct image *out,
		     const char **why);
/* The same through a metadata store the caller has open (the server's). */
struct meta;
int image_open_store_meta(struct arena *a, struct meta *m, struct blobstore *bs, const char *ref, struct image *out,
			  const char **why);

/* Picks a descriptor from an index's manifests array (a json_t *) as img->want_* say;
 * returns it (borrowed) and sets img->platform, or NULL. */
void *image_pick_platform(struct arena *a, void *manifests, struct image *img);
/* The same over a parsed index (image/manifest.h): the descriptor picked (borrowed), or NULL. */
struct manifest_info;
struct manifest_desc;
const struct manifest_desc *image_pick_manifest(struct arena *a, const struct manifest_info *info, struct image *img);

/* Reads every layer once (digests, and sizes where a descriptor gives one, verified), merges
 * them, and fills inv; each package's `layer` is the digest of the layer that introduced it.
 * What the layers keep may not pass DD_MAX_IMAGE_KEPT_BYTES in all (DD_E_SCAN_LIMIT). With cache_dir, a layer already
 * read is taken from the layer cache instead, and a new one is stored there. */
int image_inventory(struct arena *a, const struct image *img, const char *cache_dir, struct inventory *inv,
		    const char **why);

/* image_inventory's steps, for a caller that reads the layers itself (the sandboxed worker,
 * from the layer cache): begin for an image of nlayers layers (arena memory); add each layer
 * in order, named by its digest (l and digest must outlive the merge): 0, or DD_E_SCAN_LIMIT
 * (DD_MAX_IMAGE_KEPT_BYTES) or a parser's error with *why; end fills inv. */
struct image_merge;
struct layer;
struct image_merge *image_merge_begin(struct arena *a, size_t nlayers);
int image_merge_add(struct image_merge *m, const struct layer *l, const char *digest, const char **why);
void image_merge_end(struct image_merge *m, struct inventory *inv);
/* DD_E_IMAGE_INVALID with *why when il's descriptor gives a size its blob does not have. */
int image_check_layer_size(struct arena *a, const struct image_layer *il, const char **why);

/* DD_E_SCAN_LIMIT with *why when the image `subject` ("manifest sha256:...") has n layers,
 * over DD_MAX_LAYERS; else 0. */
int image_check_layer_count(struct arena *a, const char *subject, size_t n, const char **why);
/* The size of a descriptor (a json_t *), -1 when it has none (or a negative one). */
int64_t image_descriptor_size(const void *desc);

/* Pulling from a registry (remote.c). */
struct remote_opts {
	const char *creds; /* "user:password" or NULL (anonymous) */
	int plain_http;    /* http only */
	int insecure;      /* allow falling back to http off loopback */
	int progress;      /* download progress on stderr */
};
/* Opens HOST[:PORT]/REPO[:TAG|@DIGEST]: fetches the manifest (an index resolved as for OCI
 * layouts) and each layer that cache_dir does not hold into out->tmpdir (the caller removes
 * it, even on error). The layers' digests are checked when image_inventory reads them. */
int image_open_remote(struct arena *a, const char *ref, const struct remote_opts *o, const char *cache_dir,
		      struct image *out, const char **why);

/* Reads blob `digest` of bs as a layer into the layer cache (nothing when it is there already), so that
 * a later image_inventory finds it. A blob that is not a layer (a config) gives an error and
 * caches nothing. 0 or an error code (*why is a static text or NULL). */
int image_analyze_layer(struct blobstore *bs, const char *digest, const char *cache_dir, const char **why);

#endif
