/* cmd_sbom.c: `drydock sbom PATH [--format json|cyclonedx|spdx]`: the inventory of a root
 * filesystem directory, or of an image in an OCI layout directory or a docker/oci archive.
 * Registry inputs are not built yet. */
#include "common/dd.h"
#include "cmds.h"
#include "common/arena.h"
#include "common/util.h"
#include "image/image.h"
#include "inventory/inventory.h"
#include "inventory/sbom.h"

static const char usage[] = "usage: drydock sbom {ROOTFS_DIR | OCI_LAYOUT_DIR[:TAG] | ARCHIVE.tar[:TAG]}\n"
			    "       drydock sbom --data DATA_DIR REPO:TAG|REPO@DIGEST   (an image in drydock's store)\n"
			    "                   [--format json|cyclonedx|spdx] [--cache DIR | --no-cache]\n"
			    "                   [--platform linux/ARCH[/VARIANT] | --all-platforms]\n"
			    "  ARCHIVE: docker-archive (docker save, skopeo) or oci-archive\n";

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

int cmd_sbom(int argc, char **argv)
{
	const char *path = NULL, *format = "json", *cache = NULL, *data = NULL, *platform = NULL;
	int no_cache = 0, all_platforms = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--format") && i + 1 < argc)
			format = argv[++i];
		else if (!strcmp(argv[i], "--cache") && i + 1 < argc)
			cache = argv[++i];
		else if (!strcmp(argv[i], "--no-cache"))
			no_cache = 1;
		else if (!strcmp(argv[i], "--data") && i + 1 < argc)
			data = argv[++i];
		else if (!strcmp(argv[i], "--platform") && i + 1 < argc)
			platform = argv[++i];
		else if (!strcmp(argv[i], "--all-platforms"))
			all_platforms = 1;
		else if (argv[i][0] == '-' || path) {
			fputs(usage, stderr);
			return 2;
		} else
			path = argv[i];
	}
	if (!path) {
		fputs(usage, stderr);
		return 2;
	}
	char default_cache[PATH_MAX];
	if (!cache && !no_cache) { /* $XDG_CACHE_HOME/drydock/layers, else ~/.cache/drydock/layers */
		const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
		if (xdg && *xdg)
			snprintf(default_cache, sizeof(default_cache), "%s/drydock/layers", xdg);
		else
			snprintf(default_cache, sizeof(default_cache), "%s/.cache/drydock/layers", home ? home : "/tmp");
		cache = default_cache;
	}
	if (no_cache)
		cache = NULL;
	enum sbom_format fmt;
	if (sbom_format_parse(format, &fmt)) {
		fprintf(stderr, "drydock sbom: unknown format '%s' (json, cyclonedx, spdx)\n", format);
		return 2;
	}
	if (platform && all_platforms) {
		fputs(usage, stderr);
		return 2;
	}
	int first = 1, rc = 0;
	for (int index = all_platforms ? 0 : -1;; index++) {
		struct arena a = {0};
		struct inventory inv;
		inventory_init(&inv, &a);
		struct image img = {.want_platform = platform, .want_index = index};
		const char *why = NULL;
		int is_image = 1;
		if (data) /* an image in drydock's own store */
			rc = image_open_store(&a, data, path, &img, &why);
		else
			rc = open_path(&a, path, &img, &is_image, &inv, &why);
		if (!rc && is_image)
			rc = image_inventory(&a, &img, cache, &inv, &why);
		if (img.tmpdir)
			util_rmtree(img.tmpdir);
		if (rc == DD_E_NOT_FOUND && all_platforms && !first) { /* past the last platform */
			rc = 0;
			arena_free(&a);
			break;
		}
		if (rc) {
			fprintf(stderr, "drydock sbom: '%s': %s: %s\n", path, dd_err_message(rc), why ? why : "");
			arena_free(&a);
			break;
		}
		struct sbom_subject subj = {.name = is_image ? img.name : path, .manifest = img.manifest_digest,
					    .platform = img.platform, .layers = is_image ? (int)img.nlayers : -1};
		char *text = sbom_render(&a, &inv, &subj, fmt);
		if (!text) {
			fprintf(stderr, "drydock sbom: out of memory\n");
			arena_free(&a);
			rc = DD_E_NOMEM;
			break;
		}
		if (all_platforms)
			fputs(first ? "[\n" : ",\n", stdout);
		fputs(text, stdout);
		free(text);
		first = 0;
		int single = !all_platforms || !img.platform || !*img.platform; /* not an index */
		arena_free(&a);
		if (single)
			break;
	}
	if (all_platforms && !first)
		fputs("\n]", stdout);
	if (!first)
		putchar('\n');
	return rc ? 1 : 0;
}
