/* input.c: opening what the user named (see input.h) and reading its inventory. */
#include "common/dd.h"
#include "input.h"
#include "common/arena.h"
#include "common/config.h"
#include "common/util.h"
#include "image/image.h"
#include "store/blobstore.h"
#include "store/meta.h"
#include "inventory/inventory.h"
#include "inventory/sbom.h"

const char *input_default_cache(void)
{
	static char path[PATH_MAX];
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	if (xdg && *xdg)
		snprintf(path, sizeof(path), "%s/drydock/layers", xdg);
	else
		snprintf(path, sizeof(path), "%s/.cache/drydock/layers", home ? home : "/tmp");
	return path;
}

/* A root filesystem directory (read into inv, *is_image = 0), an OCI layout DIR[:TAG] or an
 * archive FILE[:TAG] (opened into img). */
static int open_path(struct arena *a, const char *path, struct image *img, int *is_image, struct inventory *inv,
		     const char **why)
{
	char *dir = arena_strdup(a, path);
	const char *tag = NULL;
	struct stat st;
	if (stat(dir, &st)) {
		char *colon = strrchr(dir, ':');
		if (colon) {
			*colon = 0;
			tag = colon + 1;
		}
	}
	if (stat(dir, &st)) {
		*why = arena_printf(a, "cannot open it: %s", strerror(errno));
		return DD_E_IO;
	}
	if (!S_ISDIR(st.st_mode))
		return image_open_archive(a, dir, tag, img, &img->tmpdir, why);
	if (access(arena_printf(a, "%s/oci-layout", dir), F_OK) == 0)
		return image_open_oci_layout(a, dir, tag, img, why);
	*is_image = 0;
	return inventory_from_dir(inv, dir, why);
}

int input_is_remote(const char *path)
{
	const char *slash = strchr(path, '/');
	if (!slash || path[0] == '.' || path[0] == '/')
		return 0;
	size_t n = (size_t)(slash - path);
	return memchr(path, '.', n) || memchr(path, ':', n) || (n == 9 && !strncmp(path, "localhost", 9));
}

/* The blob store of a data directory: where its metadata says its blobs are. */
static int open_data_blobs(struct arena *a, const char *data_dir, struct blobstore **bs, const char **why)
{
	struct config c;
	config_defaults(&c);
	snprintf(c.data_dir, sizeof(c.data_dir), "%s", data_dir);
	struct meta *m = NULL;
	const char *w = NULL;
	int rc = meta_open_dir(data_dir, NULL, &m, &w);
	if (!rc)
		rc = blobstore_open_config(&c, m, bs, &w);
	meta_free(m);
	if (rc)
		*why = arena_printf(a, "cannot open the blobs of data directory '%s'%s%s", data_dir, w ? ": " : "",
				    w ? w : "");
	return rc;
}

int input_inventory(struct arena *a, const char *data_dir, const char *path, const char *platform, int index,
		    const char *cache, struct inventory *inv, struct sbom_subject *subj, const char **why)
{
	memset(subj, 0, sizeof(*subj));
	*why = NULL;
	struct image img = {.want_platform = platform, .want_index = index, .progress = isatty(2)};
	int is_image = 1, rc;
	struct stat st;
	struct blobstore *bs = NULL;
	if (data_dir) { /* an image in drydock's own store: read, never created */
		if (!meta_dir_has(data_dir)) {
			*why = arena_printf(a, "cannot open the metadata of data directory '%s'", data_dir);
			rc = DD_E_IMAGE_INVALID;
		} else if ((rc = open_data_blobs(a, data_dir, &bs, why)))
			;
		else
			rc = image_open_store(a, data_dir, bs, path, &img, why);
	}
	else if (input_is_remote(path) && stat(path, &st)) {
		struct remote_opts o = {.creds = getenv("DRYDOCK_CREDS"), .plain_http = !!getenv("DRYDOCK_PLAIN_HTTP"),
					.insecure = !!getenv("DRYDOCK_INSECURE"), .progress = isatty(2)};
		rc = image_open_remote(a, path, &o, cache, &img, why);
	}
	else
		rc = open_path(a, path, &img, &is_image, inv, why);
	if (!rc && is_image)
		rc = image_inventory(a, &img, cache, inv, why);
	if (img.tmpdir)
		util_rmtree(img.tmpdir);
	if (bs)
		bs->ops->free(bs);
	*subj = (struct sbom_subject){.name = is_image ? img.name : path, .manifest = img.manifest_digest,
				      .platform = img.platform, .layers = is_image ? (int)img.nlayers : -1};
	return rc;
}
