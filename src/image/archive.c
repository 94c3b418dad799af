/* archive.c: image archives: docker-archive (`docker save`, skopeo: manifest.json, a config,
 * layer tars) and oci-archive (a tarred OCI layout). The outer tar is unpacked into a private
 * temporary directory (regular files and directories only, paths kept inside it, total size
 * bounded), then read like a layout. */
#include "common/dd.h"
#include "image.h"
#include "common/arena.h"
#include "common/digest.h"
#include "common/util.h"
#include "image/layer.h"
#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>

/* Unpacks the archive at path into dir. */
static int unpack(struct arena *a, const char *path, const char *dir, const char **why)
{
	struct archive *ar = layer_tar_reader();
	if (!ar)
		return DD_E_NOMEM;
	int rc = 0;
	if (archive_read_open_filename(ar, path, 1 << 20) != ARCHIVE_OK) {
		rc = arena_fail(a, why, DD_E_IMAGE_INVALID, "not a tar archive: %s", archive_error_string(ar));
		goto out;
	}
	uint64_t total = 0, entries = 0;
	struct archive_entry *ent;
	int r;
	while ((r = archive_read_next_header(ar, &ent)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		if (++entries > 100000) {
			rc = arena_fail(a, why, DD_E_IMAGE_INVALID, "image archive has more than 100000 entries");
			break;
		}
		const char *name = archive_entry_pathname(ent);
		mode_t type = archive_entry_filetype(ent);
		if (!name || (type != AE_IFREG && type != AE_IFDIR))
			continue; /* links and devices have no place in an image archive */
		/* keep the path inside dir: no absolute paths, no ".." */
		if (name[0] == '/' || strstr(name, "..") || strlen(name) > DD_MAX_PATH_BYTES)
			continue;
		const char *dest = arena_printf(a, "%s/%s", dir, name);
		if (type == AE_IFDIR) {
			util_mkdirs(dest);
			continue;
		}
		char *parent = arena_strdup(a, dest);
		*strrchr(parent, '/') = 0;
		if (util_mkdirs(parent)) {
			rc = arena_fail(a, why, DD_E_IMAGE_INVALID, "cannot unpack into '%s'", parent);
			break;
		}
		int fd = open(dest, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0) {
			rc = arena_fail(a, why, DD_E_IMAGE_INVALID, "cannot write '%s'", dest);
			break;
		}
		const void *blk;
		size_t n;
		la_int64_t off;
		while ((r = archive_read_data_block(ar, &blk, &n, &off)) == ARCHIVE_OK) {
			total += n;
			if (total > (uint64_t)DD_MAX_LAYER_BYTES) {
				rc = arena_fail(a, why, DD_E_IMAGE_INVALID, "image archive larger than 64 GiB");
				break;
			}
			if (pwrite(fd, blk, n, off) != (ssize_t)n) {
				rc = arena_fail(a, why, DD_E_IMAGE_INVALID, "cannot write '%s'", dest);
				break;
			}
		}
		close(fd);
		if (!rc && r != ARCHIVE_EOF)
			rc = arena_fail(a, why, DD_E_IMAGE_INVALID, "damaged archive: %s", archive_error_string(ar));
		if (rc)
			break;
	}
	if (!rc && r != ARCHIVE_EOF)
		rc = arena_fail(a, why, DD_E_IMAGE_INVALID, "damaged archive: %s", archive_error_string(ar));
out:
	archive_read_free(ar);
	return rc;
}

/* docker-archive: manifest.json lists [{Config, RepoTags, Layers}]. */
static int open_docker(struct arena *a, const char *dir, const char *tag, struct image *out, const char **why)
{
	char *data;
	size_t len;
	if (util_read_file(arena_printf(a, "%s/manifest.json", dir), DD_MAX_MANIFEST_BYTES, &data, &len))
		return arena_fail(a, why, DD_E_IMAGE_INVALID,
				  "neither an oci-archive (no oci-layout) nor a docker-archive (no manifest.json)");
	json_error_t err;
	json_t *m = json_loadb(data, len, 0, &err);
	free(data);
	if (!json_is_array(m)) {
		json_decref(m);
		return arena_fail(a, why, DD_E_IMAGE_INVALID, "manifest.json is not a JSON array: %s", err.text);
	}
	json_t *pick = NULL, *e, *t;
	size_t i, j;
	json_array_foreach(m, i, e)
	{
		if (!tag) {
			pick = e;
			break;
		}
		json_array_foreach(json_object_get(e, "RepoTags"), j, t)
		{
			const char *s = json_string_value(t);
			const char *colon = s ? strrchr(s, ':') : NULL;
			if (s && (!strcmp(s, tag) || (colon && !strcmp(colon + 1, tag))))
				pick = e;
		}
		if (pick)
			break;
	}
	int rc = 0;
	json_t *layers = json_object_get(pick, "Layers");
	if (!pick || !json_is_array(layers)) {
		rc = tag ? arena_fail(a, why, DD_E_IMAGE_INVALID, "no image tagged '%s' in the archive", tag)
			 : arena_fail(a, why, DD_E_IMAGE_INVALID, "manifest.json names no image with layers");
		goto out;
	}
	if ((rc = image_check_layer_count(a, "manifest.json's image", json_array_size(layers), why)))
		goto out;
	out->manifest_digest = "";
	out->nlayers = json_array_size(layers);
	out->layers = arena_alloc(a, (out->nlayers + 1) * sizeof(*out->layers));
	json_array_foreach(layers, i, e)
	{
		const char *p = json_string_value(e);
		if (!p || p[0] == '/' || strstr(p, "..")) {
			rc = arena_fail(a, why, DD_E_IMAGE_INVALID, "manifest.json names a layer outside the archive");
			goto out;
		}
		out->layers[i].file = arena_printf(a, "%s/%s", dir, p);
		out->layers[i].digest = NULL; /* computed while reading */
		out->layers[i].media_type = "application/vnd.docker.image.rootfs.diff.tar";
		out->layers[i].size = -1; /* manifest.json gives none */
	}
out:
	json_decref(m);
	return rc;
}

int image_open_archive(struct arena *a, const char *path, const char *tag, struct image *out, char **tmpdir,
		       const char **why)
{
	*why = NULL;
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char *dir = arena_printf(a, "%s/drydock-archive-XXXXXX", base);
	if (!mkdtemp(dir)) {
		*why = arena_printf(a, "cannot create a temporary directory under '%s'", base);
		return DD_E_IO;
	}
	*tmpdir = dir;
	int rc = unpack(a, path, dir, why);
	if (rc)
		return rc;
	if (access(arena_printf(a, "%s/oci-layout", dir), F_OK) == 0)
		rc = image_open_oci_layout(a, dir, tag, out, why);
	else
		rc = open_docker(a, dir, tag, out, why);
	out->tmpdir = dir; /* image_open_oci_layout cleared it */
	out->name = tag ? arena_printf(a, "%s:%s", path, tag) : arena_strdup(a, path);
	out->platform = out->platform ? out->platform : "";
	return rc;
}
