/* cmd_sbom.c: `drydock sbom PATH [--format json|cyclonedx|spdx]`: the inventory of a root
 * filesystem directory, or of an image in an OCI layout directory or a docker/oci archive.
 * Images in a registry (HOST[:PORT]/REPO[:TAG]) are pulled over the OCI API (input.c). */
#include "common/dd.h"
#include "cmds.h"
#include "common/arena.h"
#include "common/util.h"
#include "image/image.h"
#include "inventory/inventory.h"
#include "inventory/sbom.h"
#include "input.h"

static const char usage[] = "usage: drydock sbom {ROOTFS_DIR | OCI_LAYOUT_DIR[:TAG] | ARCHIVE.tar[:TAG]}\n"
			    "       drydock sbom --data DATA_DIR REPO:TAG|REPO@DIGEST   (an image in drydock's store)\n"
			    "                   [--format json|cyclonedx|spdx] [--cache DIR | --no-cache]\n"
			    "                   [--platform linux/ARCH[/VARIANT] | --all-platforms]\n"
			    "  ARCHIVE: docker-archive (docker save, skopeo) or oci-archive\n";
const char *const cmd_sbom_usage = usage;

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
	if (!cache && !no_cache)
		cache = input_default_cache();
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
		struct sbom_subject subj;
		const char *why = NULL;
		rc = input_inventory(&a, data, path, platform, index, cache, &inv, &subj, &why);
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
		int single = !all_platforms || !subj.platform || !*subj.platform; /* not an index */
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
