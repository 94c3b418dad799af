/* image.c: OCI image layouts (index.json, blobs/<alg>/<hex>) and the layer-by-layer
 * inventory of an image. */
#include "common/dd.h"
#include "image.h"
#include "store/blobstore.h"
#include "common/arena.h"
#include "common/digest.h"
#include "common/util.h"
#include "image/layer.h"
#include "image/layer_cache.h"
#include <sys/stat.h>
#include "image/manifest.h"
#include "image/view.h"
#include "inventory/inventory.h"
#include <jansson.h>
#include <sys/utsname.h>

/* Loads a JSON blob of the layout, verifying its digest. Returns owned json or NULL. */
static json_t *load_blob(struct arena *a, const char *dir, const char *digest, const char **why)
{
	struct digest d;
	const char *dwhy;
	if (digest_parse(digest, strlen(digest), &d, &dwhy)) {
		*why = arena_printf(a, "'%s': %s", digest, dwhy);
		return NULL;
	}
	const char *path = arena_printf(a, "%s/blobs/%s/%s", dir, digest_alg_name(d.alg), strchr(d.str, ':') + 1);
	char *data;
	size_t len;
	if (util_read_file(path, DD_MAX_MANIFEST_BYTES, &data, &len)) {
		*why = arena_printf(a, "cannot read blob '%s' (missing, or over 4 MiB)", digest);
		return NULL;
	}
	struct digest got;
	digest_of(d.alg, data, len, &got);
	if (strcmp(got.str, d.str)) {
		free(data);
		*why = arena_printf(a, "blob '%s' does not match its digest", digest);
		return NULL;
	}
	json_error_t err;
	json_t *j = json_loadb(data, len, 0, &err);
	free(data);
	if (!j)
		*why = arena_printf(a, "blob '%s' is not JSON: %s", digest, err.text);
	return j;
}

static const char *host_arch(void)
{
	struct utsname u;
	if (uname(&u))
		return "amd64";
	if (!strcmp(u.machine, "x86_64"))
		return "amd64";
	if (!strcmp(u.machine, "aarch64"))
		return "arm64";
	return "amd64";
}

static const char *platform_of(struct arena *a, json_t *d)
{
	json_t *p = json_object_get(d, "platform");
	const char *os = json_string_value(json_object_get(p, "os"));
	const char *arch = json_string_value(json_object_get(p, "architecture"));
	const char *variant = json_string_value(json_object_get(p, "variant"));
	if (!os || strcmp(os, "linux") || !arch)
		return NULL; /* attestation manifests say "unknown/unknown" */
	return variant ? arena_printf(a, "linux/%s/%s", arch, variant) : arena_printf(a, "linux/%s", arch);
}

/* Picks one of n platforms ("linux/ARCH[/VARIANT]"; NULL: not a Linux one) as img->want_*
 * say: its index and img->platform, or -1. */
static long pick(const char *const *platforms, size_t n, struct image *img)
{
	long first = -1, host = -1;
	int linux_n = 0;
	size_t hl = strlen(host_arch());
	for (size_t i = 0; i < n; i++) {
		const char *p = platforms[i];
		if (!p)
			continue;
		if (img->want_platform) {
			size_t wl = strlen(img->want_platform);
			if (!strcmp(p, img->want_platform) || (!strncmp(p, img->want_platform, wl) && p[wl] == '/')) {
				img->platform = p;
				return (long)i;
			}
			continue;
		}
		if (img->want_index >= 0) {
			if (linux_n++ == img->want_index) {
				img->platform = p;
				return (long)i;
			}
			continue;
		}
		if (first < 0)
			first = (long)i;
		if (host < 0 && !strncmp(p + 6, host_arch(), hl) && (p[6 + hl] == 0 || p[6 + hl] == '/'))
			host = (long)i;
	}
	if (img->want_platform || img->want_index >= 0)
		return -1;
	long at = host >= 0 ? host : first;
	if (at >= 0)
		img->platform = platforms[at];
	return at;
}

void *image_pick_platform(struct arena *a, void *manifests, struct image *img)
{
	size_t n = json_array_size(manifests);
	const char **p = arena_alloc(a, (n ? n : 1) * sizeof(*p));
	for (size_t i = 0; i < n; i++)
		p[i] = platform_of(a, json_array_get(manifests, i));
	long at = pick(p, n, img);
	return at < 0 ? NULL : json_array_get(manifests, (size_t)at);
}

const struct manifest_desc *image_pick_manifest(struct arena *a, const struct manifest_info *info, struct image *img)
{
	const char **p = arena_alloc(a, (info->nmanifests ? info->nmanifests : 1) * sizeof(*p));
	for (size_t i = 0; i < info->nmanifests; i++) {
		const char *pl = info->manifests[i].platform;
		p[i] = pl && !strncmp(pl, "linux/", 6) ? pl : NULL; /* attestation manifests say "unknown/unknown" */
	}
	long at = pick(p, info->nmanifests, img);
	return at < 0 ? NULL : &info->manifests[at];
}

void image_begin(struct arena *a, struct image *out, const char *name)
{
	const char *want = out->want_platform;
	int want_index = out->want_index, progress = out->progress;
	memset(out, 0, sizeof(*out));
	out->want_platform = want;
	out->want_index = want_index;
	out->progress = progress;
	out->name = arena_strdup(a, name);
	out->platform = "";
}

void image_split_ref(struct arena *a, const char *ref, const char **repo, const char **reference, int *is_digest)
{
	const char *at = strchr(ref, '@'), *slash = strrchr(ref, '/'), *colon = strrchr(ref, ':');
	*is_digest = 0;
	if (at) {
		*repo = arena_strndup(a, ref, (size_t)(at - ref));
		*reference = at + 1;
		*is_digest = 1;
	} else if (colon && (!slash || colon > slash)) {
		*repo = arena_strndup(a, ref, (size_t)(colon - ref));
		*reference = colon + 1;
	} else {
		*repo = ref;
		*reference = "latest";
	}
}

int image_open_oci_layout(struct arena *a, const char *dir, const char *tag, struct image *out, const char **why)
{
	image_begin(a, out, tag ? arena_printf(a, "%s:%s", dir, tag) : dir);
	*why = NULL;
	char *data;
	size_t len;
	if (util_read_file(arena_printf(a, "%s/index.json", dir), DD_MAX_MANIFEST_BYTES, &data, &len))
		return arena_fail(a, why, DD_E_IMAGE_INVALID, "'%s' has no readable index.json: not an OCI image layout",
				  dir);
	json_error_t err;
	json_t *index = json_loadb(data, len, 0, &err);
	free(data);
	if (!index)
		return arena_fail(a, why, DD_E_IMAGE_INVALID, "index.json is not JSON: %s", err.text);
	int rc = 0;
	json_t *root = NULL, *manifests = json_object_get(index, "manifests"), *desc = NULL, *d;
	size_t i;
	json_array_foreach(manifests, i, d)
	{
		const char *ref = json_string_value(
			json_object_get(json_object_get(d, "annotations"), "org.opencontainers.image.ref.name"));
		const char *colon = ref ? strrchr(ref, ':') : NULL; /* "name:tag" as skopeo writes it */
		if (!tag || (ref && (!strcmp(ref, tag) || (colon && !strcmp(colon + 1, tag))))) {
			desc = d;
			break;
		}
	}
	if (!desc) {
		rc = tag ? arena_fail(a, why, DD_E_IMAGE_INVALID, "no image tagged '%s' in the layout", tag)
			 : arena_fail(a, why, DD_E_IMAGE_INVALID, "the layout's index.json lists no image");
		goto out;
	}
	for (int depth = 0; depth < 4; depth++) {
		const char *digest = json_string_value(json_object_get(desc, "digest"));
		if (!digest) {
			rc = arena_fail(a, why, DD_E_IMAGE_INVALID, "a descriptor has no digest");
			goto out;
		}
		digest = arena_strdup(a, digest); /* desc may belong to root, released next */
		json_decref(root);
		if (!(root = load_blob(a, dir, digest, why))) {
			rc = DD_E_IMAGE_INVALID;
			goto out;
		}
		out->manifest_digest = arena_strdup(a, digest);
		json_t *sub = json_object_get(root, "manifests");
		if (!json_is_array(sub))
			break;
		if (!(desc = image_pick_platform(a, sub, out))) {
			*why = out->want_platform ? arena_printf(a, "the image index has no platform '%s'", out->want_platform)
			       : out->want_index >= 0 ? arena_printf(a, "the image index has no linux platform #%d", out->want_index + 1)
						      : "the image index has no linux platform";
			rc = out->want_platform || out->want_index >= 0 ? DD_E_NOT_FOUND : DD_E_IMAGE_INVALID;
			goto out;
		}
	}
	json_t *layers = json_object_get(root, "layers");
	if (!json_is_array(layers)) {
		rc = arena_fail(a, why, DD_E_IMAGE_INVALID, "manifest %s has no layers array", out->manifest_digest);
		goto out;
	}
	if ((rc = image_check_layer_count(a, arena_printf(a, "manifest %s", out->manifest_digest), json_array_size(layers), why)))
		goto out;
	out->nlayers = json_array_size(layers);
	out->layers = arena_alloc(a, (out->nlayers + 1) * sizeof(*out->layers));
	json_array_foreach(layers, i, d)
	{
		struct image_layer *l = &out->layers[i];
		const char *digest = json_string_value(json_object_get(d, "digest")), *dwhy;
		struct digest dg;
		if (!digest || digest_parse(digest, strlen(digest), &dg, &dwhy)) {
			rc = arena_fail(a, why, DD_E_IMAGE_INVALID, "layer %zu has no valid digest", i);
			goto out;
		}
		l->digest = arena_strdup(a, digest);
		const char *mt = json_string_value(json_object_get(d, "mediaType"));
		l->media_type = arena_strdup(a, mt ? mt : "");
		l->size = image_descriptor_size(d);
		l->file = arena_printf(a, "%s/blobs/%s/%s", dir, digest_alg_name(dg.alg), strchr(dg.str, ':') + 1);
	}
out:
	json_decref(root);
	json_decref(index);
	return rc;
}

int image_check_layer_count(struct arena *a, const char *subject, size_t n, const char **why)
{
	if (n <= DD_MAX_LAYERS)
		return 0;
	*why = arena_printf(a, "%s has %zu layers, more than the %d an image may have", subject, n, DD_MAX_LAYERS);
	return DD_E_SCAN_LIMIT;
}

int64_t image_descriptor_size(const void *desc)
{
	json_t *sz = json_object_get((const json_t *)desc, "size");
	return json_is_integer(sz) && json_integer_value(sz) >= 0 ? (int64_t)json_integer_value(sz) : -1;
}

/* Key of a package for "already there in the layer below". */
static int same_pkg(const struct package *a, const struct package *b)
{
	return a->type == b->type && !strcmp(a->name, b->name) && !strcmp(a->version, b->version) &&
	       !strcmp(a->arch ? a->arch : "", b->arch ? b->arch : "") &&
	       !strcmp(a->release ? a->release : "", b->release ? b->release : "");
}

struct image_merge {
	struct arena *a;
	struct view v;
	struct inventory prev;
	uint64_t kept, max_kept;
	size_t i, n;
	int read_any;
};

struct image_merge *image_merge_begin(struct arena *a, size_t nlayers)
{
	struct image_merge *m = arena_alloc(a, sizeof(*m));
	m->a = a;
	view_init(&m->v, a);
	inventory_init(&m->prev, a);
	m->max_kept = layer_limit("DRYDOCK_MAX_IMAGE_KEPT_BYTES", DD_MAX_IMAGE_KEPT_BYTES);
	m->n = nlayers;
	return m;
}

int image_merge_add(struct image_merge *m, const struct layer *l, const char *digest, const char **why)
{
	struct arena *a = m->a;
	size_t i = m->i++;
	m->kept += l->kept;
	if (m->kept > m->max_kept) {
		*why = arena_printf(a,
				    "image keeps more than %" PRIu64 " bytes of package databases, os files and links "
				    "(at layer %s, the %zu. of %zu), over the per-image limit",
				    m->max_kept, digest, i + 1, m->n);
		return DD_E_SCAN_LIMIT;
	}
	view_apply(&m->v, l);
	if (!layer_touches_inventory(l) && m->read_any)
		return 0;
	struct inventory cur;
	inventory_init(&cur, a);
	int rc = inventory_from_rootfs(&cur, &m->v.base, why);
	if (rc) {
		*why = arena_printf(a, "after layer %s: %s", digest, *why);
		return rc;
	}
	for (size_t k = 0; k < cur.n; k++) {
		cur.pkgs[k].layer = digest;
		for (size_t j = 0; j < m->prev.n; j++) /* both sorted; a linear merge would do too */
			if (same_pkg(&cur.pkgs[k], &m->prev.pkgs[j])) {
				cur.pkgs[k].layer = m->prev.pkgs[j].layer;
				break;
			}
	}
	m->prev = cur;
	m->read_any = 1;
	return 0;
}

void image_merge_end(struct image_merge *m, struct inventory *inv)
{
	const char *why;
	if (!m->read_any)
		inventory_from_rootfs(&m->prev, &m->v.base, &why);
	struct arena *keep = inv->arena;
	*inv = m->prev;
	inv->arena = keep;
}

int image_inventory(struct arena *a, const struct image *img, const char *cache_dir, struct inventory *inv,
		    const char **why)
{
	struct image_merge *m = image_merge_begin(a, img->nlayers);
	*why = NULL;
	int rc = 0;
	for (size_t i = 0; i < img->nlayers; i++) {
		const struct image_layer *il = &img->layers[i];
		struct layer *l = arena_alloc(a, sizeof(*l));
		struct digest want, got;
		const char *dwhy, *name = il->digest ? il->digest : il->file, *digest = il->digest;
		if ((rc = image_check_layer_size(a, il, why)))
			return rc;
		if (!digest || layer_cache_get(cache_dir, digest, a, l)) {
			if (il->digest)
				digest_parse(il->digest, strlen(il->digest), &want, &dwhy);
			int fd;
			if ((rc = image_layer_open(a, il, &fd, why)))
				return rc;
			if (img->progress) {
				struct stat st;
				fprintf(stderr, "\r\033[Kreading layer %zu/%zu (%.1f MB)", i + 1, img->nlayers,
					fstat(fd, &st) ? 0.0 : (double)st.st_size / 1e6);
				fflush(stderr);
			}
			rc = layer_read_fd(a, fd, il->digest ? &want : NULL, &got, l, why);
			close(fd);
			if (img->progress) {
				fputs("\r\033[K", stderr);
				fflush(stderr);
			}
			if (rc) {
				*why = arena_printf(a, "layer %s: %s", name, *why);
				return rc;
			}
			if (!digest)
				digest = arena_strdup(a, got.str);
			if (cache_dir)
				layer_cache_put(cache_dir, digest, l);
		}
		if ((rc = image_merge_add(m, l, digest, why)))
			return rc;
	}
	image_merge_end(m, inv);
	return 0;
}

int image_layer_open(struct arena *a, const struct image_layer *il, int *fd, const char **why)
{
	const char *name = il->digest ? il->digest : il->file;
	int64_t size;
	*fd = -1;
	if (il->store) {
		int rc = il->digest ? il->store->ops->blob_open_fd(il->store, il->digest, fd, &size) : DD_E_BLOB_UNKNOWN;
		if (rc) {
			*why = arena_printf(a, "layer %s: cannot open its blob: %s", name ? name : "?",
					    rc == DD_E_BLOB_UNKNOWN ? strerror(ENOENT) : dd_err_message(rc));
			return DD_E_IMAGE_INVALID;
		}
		return 0;
	}
	if ((*fd = open(il->file, O_RDONLY | O_CLOEXEC)) < 0) {
		*why = arena_printf(a, "layer %s: cannot open its blob: %s", name, strerror(errno));
		return DD_E_IMAGE_INVALID;
	}
	return 0;
}

int image_check_layer_size(struct arena *a, const struct image_layer *il, const char **why)
{
	/* the descriptor's size is the blob's (a client must not trust content whose length
	 * differs); a blob already gone is answered from the cache */
	struct stat st;
	int64_t size = -1;
	if (il->store) {
		if (il->digest && il->store->ops->blob_stat(il->store, il->digest, &size))
			size = -1;
	} else if (!stat(il->file, &st))
		size = st.st_size;
	if (il->size >= 0 && size >= 0 && size != il->size) {
		*why = arena_printf(a, "layer %s: its descriptor gives %" PRId64 " bytes, its blob has %" PRId64,
				    il->digest ? il->digest : il->file, il->size, size);
		return DD_E_IMAGE_INVALID;
	}
	return 0;
}

int image_analyze_layer(struct blobstore *bs, const char *digest, const char *cache_dir, const char **why)
{
	struct arena a = {0};
	struct layer l;
	struct digest want, got;
	const char *dwhy;
	*why = NULL;
	int rc = 0;
	if (!layer_cache_get(cache_dir, digest, &a, &l))
		goto out; /* read before: nothing to do */
	if (digest_parse(digest, strlen(digest), &want, &dwhy)) {
		*why = "not a digest";
		rc = DD_E_DIGEST_INVALID;
		goto out;
	}
	int fd;
	int64_t size;
	if (bs->ops->blob_open_fd(bs, digest, &fd, &size)) {
		*why = "cannot open the blob";
		rc = DD_E_IO;
		goto out;
	}
	memset(&l, 0, sizeof(l));
	rc = layer_read_fd(&a, fd, &want, &got, &l, why);
	close(fd);
	if (!rc)
		rc = layer_cache_put(cache_dir, digest, &l);
	if (*why)
		*why = NULL; /* arena text: gone with the arena */
out:
	arena_free(&a);
	return rc;
}
