/* cmd_db.c: `drydock db import|update|info`: build the vulnerability database from feed
 * files, download the feeds and build it, or describe the database in place. The work is in
 * vulndb/ (import.c, build.c, update.c); this file parses arguments and prints. */
#include "common/dd.h"
#include "cmds.h"
#include "common/config.h"
#include "common/util.h"
#include "vulndb/update.h"
#include "vulndb/vulndb.h"
#include <jansson.h>

static const char usage[] =
	"usage: drydock db import [--db FILE | --config FILE] PATH...\n"
	"                                                 build the database from feed files or directories\n"
	"       drydock db update [--db FILE | --config FILE] [--mirror URL] [--fallback-dir DIR]\n"
	"                                                 download the default feeds and build the database\n"
	"       drydock db info [--db FILE | --config FILE] [--verbose | --json]\n"
	"                                                 the header, feeds and ecosystems by family, age;\n"
	"                                                 --verbose: every feed and release\n"
	"The database is FILE, else the server's (its --config file's db, else DATA/vulndb.ddb), else\n"
	"$DRYDOCK_DB, else $XDG_CACHE_HOME/drydock/vulndb.ddb (~/.cache/drydock/vulndb.ddb).\n"
	"Run as root on the database of a data directory another account owns (the service's), update\n"
	"runs as that account, so that the files it writes there stay the server's.\n";
const char *const cmd_db_usage = usage;

/* "3 days" style age of a unix time */
static void age(char *out, size_t n, int64_t t)
{
	int64_t d = util_now() - t;
	if (t <= 0)
		snprintf(out, n, "unknown age");
	else if (d < 3600)
		snprintf(out, n, "%" PRId64 " minutes old", d / 60);
	else if (d < 2 * 86400)
		snprintf(out, n, "%" PRId64 " hours old", d / 3600);
	else
		snprintf(out, n, "%" PRId64 " days old", d / 86400);
}

static void iso(char *out, size_t n, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The newest feed snapshot: how fresh the data is (not when the file was built). Feeds whose
 * records carry dates say it best; a file's time (a copy's, perhaps) only when none do. */
static int64_t newest_snapshot(const struct vulndb *db)
{
	int64_t dated = 0, any = 0;
	for (size_t i = 0; i < vulndb_nfeeds(db); i++) {
		const struct vdb_feed *f = vulndb_feed(db, i);
		if (f->snapshot > any)
			any = f->snapshot;
		if (!strcmp(vulndb_str(db, f->kind), "record-dates") && f->snapshot > dated)
			dated = f->snapshot;
	}
	return dated ? dated : any;
}

int db_print_summary(const char *path, FILE *f)
{
	struct vulndb *db;
	const char *why;
	if (vulndb_open(path, &db, &why) || (db && vulndb_verify(db, &why))) {
		fprintf(stderr, "drydock db: %s\n", why);
		vulndb_close(db);
		return 1;
	}
	char a[64], b[64];
	age(a, sizeof(a), newest_snapshot(db));
	iso(b, sizeof(b), newest_snapshot(db));
	fprintf(f, "database %s: %zu vulnerabilities, %zu feeds, data up to %s (%s)\n", path, vulndb_nvulns(db),
		vulndb_nfeeds(db), b, a);
	vulndb_close(db);
	return 0;
}


/* Every feed and ecosystem, a line each (`db info --verbose`). */
static void print_all(const struct vulndb *db)
{
	char snap[32];
	printf("\nfeeds:\n");
	for (size_t i = 0; i < vulndb_nfeeds(db); i++) {
		const struct vdb_feed *fd = vulndb_feed(db, i);
		iso(snap, sizeof(snap), fd->snapshot);
		printf("  %-36s %8u records %9u entries %6u skipped  %s (%s)  %s\n", vulndb_str(db, fd->name),
		       fd->records, fd->entries, fd->skipped, snap, vulndb_str(db, fd->kind), vulndb_str(db, fd->origin));
	}
	printf("\necosystems:\n");
	for (size_t i = 0; i < vulndb_necos(db); i++) {
		const struct vdb_eco *e = vulndb_eco(db, i);
		printf("  %-36s %7u packages %9u entries\n", vulndb_str(db, e->name), e->keys, e->entries);
	}
}

/* The length of a name's family: "alpine-secdb/v3.18" -> "alpine-secdb", "Debian:12" -> "Debian". */
static size_t family_len(const char *name, const char *seps)
{
	size_t n = strcspn(name, seps);
	return n ? n : strlen(name);
}

/* Feeds and ecosystems grouped by family, a line each, and the feeds whose data is stale. */
static void print_summary(const struct vulndb *db)
{
	char snap[32], ag[64];
	printf("\nfeeds (by source; every feed with --verbose):\n");
	size_t nf = vulndb_nfeeds(db), stale = 0;
	const struct vdb_feed *oldest = NULL;
	for (size_t i = 0; i < nf; i++) {
		const char *name = vulndb_str(db, vulndb_feed(db, i)->name);
		size_t fl = family_len(name, "/");
		int seen = 0;
		for (size_t j = 0; j < i && !seen; j++) {
			const char *other = vulndb_str(db, vulndb_feed(db, j)->name);
			seen = family_len(other, "/") == fl && !strncmp(other, name, fl);
		}
		if (seen)
			continue;
		uint64_t records = 0, entries = 0, skipped = 0;
		int64_t newest = 0;
		size_t count = 0;
		for (size_t j = i; j < nf; j++) {
			const struct vdb_feed *fd = vulndb_feed(db, j);
			const char *other = vulndb_str(db, fd->name);
			if (family_len(other, "/") != fl || strncmp(other, name, fl))
				continue;
			count++;
			records += fd->records;
			entries += fd->entries;
			skipped += fd->skipped;
			if (fd->snapshot > newest)
				newest = fd->snapshot;
		}
		iso(snap, sizeof(snap), newest);
		char label[96];
		snprintf(label, sizeof(label), count > 1 ? "%.*s (%zu feeds)" : "%.*s", (int)fl, name, count);
		printf("  %-36s %8" PRIu64 " records %9" PRIu64 " entries %6" PRIu64 " skipped  data up to %.10s\n", label,
		       records, entries, skipped, snap);
	}
	for (size_t i = 0; i < nf; i++) {
		const struct vdb_feed *fd = vulndb_feed(db, i);
		if (fd->snapshot > 0 && util_now() - fd->snapshot > VDB_STALE_DAYS * 86400) {
			stale++;
			if (!oldest || fd->snapshot < oldest->snapshot)
				oldest = fd;
		}
	}
	printf("\necosystems (by family; every release with --verbose):\n");
	size_t ne = vulndb_necos(db);
	for (size_t i = 0; i < ne; i++) {
		const char *name = vulndb_str(db, vulndb_eco(db, i)->name);
		size_t fl = family_len(name, ":");
		int seen = 0;
		for (size_t j = 0; j < i && !seen; j++) {
			const char *other = vulndb_str(db, vulndb_eco(db, j)->name);
			seen = family_len(other, ":") == fl && !strncmp(other, name, fl);
		}
		if (seen)
			continue;
		uint64_t keys = 0, entries = 0;
		size_t count = 0;
		for (size_t j = i; j < ne; j++) {
			const struct vdb_eco *e = vulndb_eco(db, j);
			const char *other = vulndb_str(db, e->name);
			if (family_len(other, ":") != fl || strncmp(other, name, fl))
				continue;
			count++;
			keys += e->keys;
			entries += e->entries;
		}
		char label[96];
		snprintf(label, sizeof(label), count > 1 ? "%.*s (%zu releases)" : "%.*s", (int)fl, name, count);
		printf("  %-36s %7" PRIu64 " packages %9" PRIu64 " entries\n", label, keys, entries);
	}
	if (stale) {
		age(ag, sizeof(ag), oldest->snapshot);
		printf("\nwarning: %zu of %zu feeds hold data more than %d days old (the oldest, %s, is %s); "
		       "`drydock db update` fetches fresh feeds\n",
		       stale, nf, VDB_STALE_DAYS, vulndb_str(db, oldest->name), ag);
	}
}

static int info(const char *path, int as_json, int verbose)
{
	struct vulndb *db;
	const char *why;
	if (vulndb_open(path, &db, &why) || (db && vulndb_verify(db, &why))) {
		fprintf(stderr, "drydock db info: %s\n", why);
		vulndb_close(db);
		return 1;
	}
	const struct vdb_header *h = vulndb_header(db);
	char built[32], snap[32], ag[64];
	iso(built, sizeof(built), h->built_at);
	iso(snap, sizeof(snap), newest_snapshot(db));
	age(ag, sizeof(ag), newest_snapshot(db));
	if (as_json) {
		json_t *o = json_pack("{s:s, s:i, s:s, s:s, s:s, s:I, s:I, s:I, s:I}", "path", path, "format",
				      (int)h->format, "generation", "", "built_at", built, "data_up_to", snap, "size",
				      (json_int_t)h->file_size, "vulnerabilities", (json_int_t)vulndb_nvulns(db),
				      "packages", (json_int_t)h->sections[VDB_KEYS].count, "entries",
				      (json_int_t)h->sections[VDB_ENTRIES].count);
		char gen[17];
		snprintf(gen, sizeof(gen), "%016" PRIx64, h->generation);
		json_object_set_new(o, "generation", json_string(gen));
		json_t *feeds = json_array(), *ecos = json_array();
		for (size_t i = 0; i < vulndb_nfeeds(db); i++) {
			const struct vdb_feed *fd = vulndb_feed(db, i);
			iso(snap, sizeof(snap), fd->snapshot);
			json_array_append_new(feeds, json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "name",
							       vulndb_str(db, fd->name), "origin", vulndb_str(db, fd->origin),
							       "snapshot", snap, "snapshot_from", vulndb_str(db, fd->kind), "records", (json_int_t)fd->records,
							       "entries", (json_int_t)fd->entries, "skipped",
							       (json_int_t)fd->skipped));
		}
		for (size_t i = 0; i < vulndb_necos(db); i++) {
			const struct vdb_eco *e = vulndb_eco(db, i);
			json_array_append_new(ecos, json_pack("{s:s, s:I, s:I}", "ecosystem", vulndb_str(db, e->name),
							      "packages", (json_int_t)e->keys, "entries",
							      (json_int_t)e->entries));
		}
		json_object_set_new(o, "known_exploited", json_integer((json_int_t)vulndb_nkev(db)));
		json_object_set_new(o, "feeds", feeds);
		json_object_set_new(o, "ecosystems", ecos);
		json_dumpf(o, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(o);
	} else {
		printf("database:        %s\n", path);
		printf("format:          %u\n", h->format);
		printf("generation:      %016" PRIx64 "\n", h->generation);
		printf("built:           %s\n", built);
		printf("data up to:      %s (%s)\n", snap, ag);
		printf("size:            %" PRIu64 " bytes\n", h->file_size);
		printf("vulnerabilities: %zu\n", vulndb_nvulns(db));
		printf("packages:        %u (ecosystem, name) keys, %u entries\n", h->sections[VDB_KEYS].count,
		       h->sections[VDB_ENTRIES].count);
		printf("known exploited: %zu CVEs\n", vulndb_nkev(db));
		if (verbose)
			print_all(db);
		else
			print_summary(db);
	}
	vulndb_close(db);
	return 0;
}

static int import(const char *path, char **paths, int n)
{
	struct vdb_builder *b = vdb_builder_new();
	const char *why;
	for (int i = 0; i < n; i++) {
		if (vdb_import_path(b, paths[i], stderr, &why)) {
			fprintf(stderr, "drydock db import: %s (the database was not changed)\n", why);
			vdb_builder_free(b);
			return 1;
		}
	}
	int rc = vdb_builder_write(b, path, &why);
	vdb_builder_free(b);
	if (rc) {
		fprintf(stderr, "drydock db import: %s (the database was not changed)\n", why);
		return 1;
	}
	return db_print_summary(path, stdout);
}

int cmd_db(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage, stderr);
		return 2;
	}
	const char *sub = argv[1], *path = NULL, *mirror = NULL, *fallback = getenv("DRYDOCK_FEEDS_DIR"), *why;
	struct config c;
	char from_config[PATH_MAX];
	int as_json = 0, verbose = 0, npaths = 0;
	char **paths = calloc((size_t)argc, sizeof(*paths));
	if (!paths)
		return 1;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--db") && i + 1 < argc)
			path = argv[++i];
		else if (!strcmp(a, "--config") && i + 1 < argc) {
			config_defaults(&c);
			if (config_load(&c, argv[++i], &why)) {
				fprintf(stderr, "drydock db: %s\n", why);
				free(paths);
				return 2;
			}
			if (!path) {
				if (*c.db)
					snprintf(from_config, sizeof(from_config), "%s", c.db);
				else
					snprintf(from_config, sizeof(from_config), "%s/vulndb.ddb", c.data_dir);
				path = from_config;
			}
		} else if (!strcmp(a, "--mirror") && i + 1 < argc)
			mirror = argv[++i];
		else if (!strcmp(a, "--fallback-dir") && i + 1 < argc)
			fallback = argv[++i];
		else if (!strcmp(a, "--json"))
			as_json = 1;
		else if (!strcmp(a, "--verbose") || !strcmp(a, "-v"))
			verbose = 1;
		else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "drydock db: unknown option '%s'\n%s", a, usage);
			free(paths);
			return 2;
		} else
			paths[npaths++] = argv[i];
	}
	if (!path)
		path = vulndb_default_path();
	int rc = 2;
	if (!strcmp(sub, "info") && !npaths)
		rc = info(path, as_json, verbose);
	else if (!strcmp(sub, "import") && npaths) {
		char *dir = strdup(path), *slash = dir ? strrchr(dir, '/') : NULL;
		if (slash && slash != dir) {
			*slash = 0;
			util_mkdirs(dir);
		}
		free(dir);
		rc = import(path, paths, npaths);
	} else if (!strcmp(sub, "update") && !npaths) {
		/* as the owner of the database's directory: the feeds it keeps there stay theirs */
		char *dir = strdup(path), *slash = dir ? strrchr(dir, '/') : NULL;
		if (slash)
			*slash = 0;
		if (dir && cli_become_owner(slash == dir ? "/" : slash ? dir : ".", "db update"))
			rc = 1;
		else
			rc = vulndb_update(path, mirror, fallback, stderr) ? 1 : db_print_summary(path, stdout);
		free(dir);
	} else
		fputs(usage, stderr);
	free(paths);
	return rc;
}
