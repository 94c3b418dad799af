/* cmd_gc.c: `drydock gc`: removes the blobs no manifest names (src/registry/gc.c), safe to
 * run while drydock serve runs on the same data directory. */
#include "common/dd.h"
#include "cmds.h"
#include "common/config.h"
#include "common/util.h"
#include "image/layer_cache.h"
#include "registry/gc.h"
#include "store/blobstore.h"
#include "store/meta.h"
#include "store/space.h"

static const char usage_text[] =
	"usage: drydock gc [--data DIR | --config FILE] [--grace DURATION] [--delete-untagged] [--dry-run]\n"
	"                  [--list]\n"
	"  removes the blobs that no manifest of any repository names (config, layers), and files in\n"
	"  the blob store that the metadata does not record, and keeps the layer cache to the blobs it\n"
	"  describes; safe while the registry runs, and on a full disk (a step of the server's reserve\n"
	"  file is given back when SQLite has no room to commit).\n"
	"  --config FILE     the server's file: its data, gc-grace and gc-delete-untagged\n"
	"  --grace DURATION  keep blobs uploaded or mounted within this time (default 1h; 30m, 12h,\n"
	"                    2d, 0s), so that pushes whose manifest is still to come keep their layers\n"
	"  --delete-untagged also delete the manifests no tag points to, no index names and no subject\n"
	"                    holds (older than the grace period), then the blobs they alone named;\n"
	"                    an image pushed only by digest goes too\n"
	"  --dry-run         say what would be removed, remove nothing (of nested untagged indexes,\n"
	"                    only the outermost are counted)\n"
	"  --list            print each manifest and blob removed (blobs with their size in bytes)\n"
	"Without --delete-untagged no manifest is touched: delete them through the API first.\n"
	"Run as root on a data directory another account owns (the service's), it runs as that account.\n";
const char *const cmd_gc_usage = usage_text;

static int usage_err(const char *msg)
{
	if (msg)
		fprintf(stderr, "drydock gc: %s\n", msg);
	fputs(usage_text, stderr);
	return 2;
}

static double mib(int64_t bytes) { return (double)bytes / (1024.0 * 1024.0); }

int cmd_gc(int argc, char **argv)
{
	struct config c;
	const char *why;
	config_defaults(&c);
	for (int i = 1; i + 1 < argc; i++) { /* the file first: flags override it */
		if (!strcmp(argv[i], "--config") && config_load(&c, argv[++i], &why)) {
			fprintf(stderr, "drydock gc: %s\n", why);
			return 2;
		}
	}
	struct gc_options o = {.grace = c.gc_grace, .delete_untagged = c.gc_delete_untagged};
	int list = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--dry-run"))
			o.dry_run = 1;
		else if (!strcmp(a, "--list"))
			list = 1;
		else if (!strcmp(a, "--delete-untagged"))
			o.delete_untagged = 1;
		else if (i + 1 >= argc)
			return usage_err(NULL);
		else if (!strcmp(a, "--config"))
			i++;
		else if (!strcmp(a, "--data"))
			snprintf(c.data_dir, sizeof(c.data_dir), "%s", argv[++i]);
		else if (!strcmp(a, "--grace")) {
			if (util_parse_duration(argv[++i], 1, 0, 3650L * 86400, &o.grace))
				return usage_err("--grace takes a duration from 0 to 3650d: 30m, 1h, 2d (a bare number is seconds)");
		} else
			return usage_err(NULL);
	}
	char path[PATH_MAX];
	if (cli_data_meta(c.data_dir, "gc", path, sizeof(path)))
		return 1;
	struct meta *m = NULL;
	struct blobstore *bs = NULL;
	why = NULL;
	int rc = meta_open_dir(c.data_dir, NULL, &m, &why);
	if (!rc)
		rc = blobstore_open_config(&c, m, &bs, &why);
	if (rc) {
		fprintf(stderr, "drydock gc: cannot open '%s': %s\n", c.data_dir, bs ? dd_err_message(rc) : why ? why : dd_err_message(rc));
		if (m)
			meta_free(m);
		return 1;
	}
	char cache[PATH_MAX];
	snprintf(cache, sizeof(cache), "%s/" LAYER_CACHE_SUBDIR, c.data_dir);
	o.cache_dir = cache;
	struct space *sp = NULL; /* only released from here: the server tops it up again */
	if (!o.dry_run && space_open(c.data_dir, c.min_free_space, c.reserve_space, &sp)) {
		fprintf(stderr, "drydock gc: out of memory\n");
		bs->ops->free(bs);
		meta_free(m);
		return 1;
	}
	o.space = sp;
	o.list = list || o.dry_run ? stdout : NULL;
	o.actor = cli_actor();
	struct gc_result r;
	rc = gc_run(m, bs, &o, &r);
	const char *verb = o.dry_run ? "would remove" : "removed";
	if (o.delete_untagged)
		printf("%s %" PRId64 " untagged manifests\n", verb, r.manifests);
	printf("%s %" PRId64 " blobs no manifest names (%.1f MiB) and %" PRId64
	       " files with no record (%.1f MiB); kept what was uploaded or mounted in the last %" PRId64 " s\n",
	       verb, r.blobs, mib(r.bytes), r.orphans, mib(r.orphan_bytes), o.grace);
	if (r.cache.entries)
		printf("%s %" PRId64 " layer cache entries (%.1f MiB): of blobs gone, or beyond the bytes of the blobs they"
		       " describe\n",
		       verb, r.cache.entries, mib(r.cache.bytes));
	if (rc)
		fprintf(stderr, "drydock gc: stopped: %s\n", dd_err_message(rc));
	space_free(sp);
	bs->ops->free(bs);
	meta_free(m);
	return rc ? 1 : 0;
}
