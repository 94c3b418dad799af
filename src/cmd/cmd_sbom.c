/* cmd_sbom.c: `drydock sbom PATH [--format json]`: the inventory of a root filesystem
 * directory, or of an image in an OCI layout directory or a docker/oci archive, as drydock
 * JSON. Registry inputs and the CycloneDX/SPDX formats are not built yet and say so. */
#include "common/dd.h"
#include "cmds.h"
#include "common/arena.h"
#include "common/util.h"
#include "image/image.h"
#include "inventory/inventory.h"
#include "version/version.h"
#include <jansson.h>

static const char usage[] = "usage: drydock sbom {ROOTFS_DIR | OCI_LAYOUT_DIR[:TAG] | ARCHIVE.tar[:TAG]} [--format json]\n"
			    "  ARCHIVE: docker-archive (docker save, skopeo) or oci-archive\n";

static const char *kind_name(enum os_kind k)
{
	switch (k) {
	case OS_KNOWN:
		return "known";
	case OS_DISTROLESS:
		return "distroless";
	case OS_SCRATCH:
		return "scratch";
	default:
		return "unknown";
	}
}

static void set_str(json_t *o, const char *k, const char *v)
{
	if (v)
		json_object_set_new(o, k, json_string(v));
}

static json_t *package_json(const struct package *p)
{
	static const char *const types[] = {"dpkg", "apk", "rpm"};
	json_t *o = json_object();
	set_str(o, "type", types[p->type]);
	set_str(o, "name", p->name);
	set_str(o, "version", p->version);
	set_str(o, "arch", p->arch);
	set_str(o, "source_name", p->source_name);
	set_str(o, "source_version", p->source_version);
	if (p->type == PKG_DPKG) {
		struct dpkg_version v;
		const char *why;
		if (!dpkg_version_parse(p->version, strlen(p->version), &v, &why)) {
			json_object_set_new(o, "epoch", json_integer((json_int_t)v.epoch));
			json_object_set_new(o, "upstream", json_stringn(v.upstream, v.upstream_len));
			json_object_set_new(o, "revision", json_stringn(v.revision, v.revision_len));
		}
		set_str(o, "status", p->status);
	}
	if (p->type == PKG_APK) {
		set_str(o, "origin", p->source_name);
		set_str(o, "license", p->license);
	}
	if (p->type == PKG_RPM) {
		json_object_set_new(o, "epoch", p->has_epoch ? json_integer(p->epoch) : json_null());
		set_str(o, "release", p->release);
		set_str(o, "sourcerpm", p->sourcerpm);
		set_str(o, "vendor", p->vendor);
		set_str(o, "license", p->license);
		if (*p->modularity_label)
			set_str(o, "modularity_label", p->modularity_label);
	}
	set_str(o, "db", p->db_path);
	set_str(o, "layer", p->layer);
	return o;
}

int cmd_sbom(int argc, char **argv)
{
	const char *path = NULL, *format = "json";
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--format") && i + 1 < argc)
			format = argv[++i];
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
	if (strcmp(format, "json")) {
		fprintf(stderr, "drydock sbom: format '%s' is not implemented yet (json is)\n", format);
		return 3;
	}
	/* an OCI layout, optionally DIR:TAG */
	char *dir = strdup(path);
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
		fprintf(stderr, "drydock sbom: cannot open '%s': %s\n", path, strerror(errno));
		free(dir);
		return 1;
	}
	struct arena a = {0};
	struct inventory inv;
	inventory_init(&inv, &a);
	const char *why;
	char marker[PATH_MAX];
	snprintf(marker, sizeof(marker), "%s/oci-layout", dir);
	struct image img = {0};
	char *tmpdir = NULL;
	int is_image = !S_ISDIR(st.st_mode) || access(marker, F_OK) == 0, rc;
	if (!S_ISDIR(st.st_mode))
		rc = image_open_archive(&a, dir, tag, &img, &tmpdir, &why);
	else if (is_image)
		rc = image_open_oci_layout(&a, dir, tag, &img, &why);
	else
		rc = inventory_from_dir(&inv, dir, &why);
	if (!rc && is_image)
		rc = image_inventory(&a, &img, &inv, &why);
	if (tmpdir)
		util_rmtree(tmpdir);
	free(dir);
	if (rc) {
		fprintf(stderr, "drydock sbom: '%s': %s: %s\n", path, dd_err_message(rc), why ? why : "");
		arena_free(&a);
		return 1;
	}
	json_t *os = json_object();
	set_str(os, "kind", kind_name(inv.os.kind));
	set_str(os, "id", inv.os.id);
	set_str(os, "version_id", inv.os.version_id);
	set_str(os, "codename", inv.os.codename);
	set_str(os, "pretty_name", inv.os.pretty_name);
	json_t *pkgs = json_array();
	for (size_t i = 0; i < inv.n; i++)
		json_array_append_new(pkgs, package_json(&inv.pkgs[i]));
	json_t *doc = json_pack("{s:o, s:o}", "os", os, "packages", pkgs);
	if (is_image) {
		json_t *im = json_pack("{s:s, s:s, s:s, s:i}", "name", img.name, "manifest", img.manifest_digest,
				       "platform", img.platform, "layers", (int)img.nlayers);
		json_object_set_new(doc, "image", im);
	}
	json_dumpf(doc, stdout, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	putchar('\n');
	json_decref(doc);
	arena_free(&a);
	return 0;
}
