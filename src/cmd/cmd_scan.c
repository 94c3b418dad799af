/* cmd_scan.c: `drydock scan IMAGE`: the inventory of anything `drydock sbom` reads, matched
 * against the vulnerability database, as a table, JSON, SARIF, CycloneDX or SPDX; also an
 * image pulled from any registry (HOST[:PORT]/REPO[:TAG]). */
#include "common/dd.h"
#include "cmds.h"
#include "common/util.h"
#include "common/arena.h"
#include "input.h"
#include "inventory/inventory.h"
#include "inventory/sbom.h"
#include "scan/findings.h"
#include "scan/report.h"
#include "vulndb/vulndb.h"
#include "scan/status.h"

static const char usage[] =
	"usage: drydock scan [options] {ROOTFS_DIR | OCI_LAYOUT_DIR[:TAG] | ARCHIVE.tar[:TAG]}\n"
	"       drydock scan [options] --data DATA_DIR REPO:TAG|REPO@DIGEST\n"
	"       drydock scan [options] HOST[:PORT]/REPO[:TAG|@DIGEST]   (pulled from a registry with the login\n"
	"                      podman, skopeo, buildah or docker saved, or DRYDOCK_CREDS=user:password;\n"
	"                      DRYDOCK_PLAIN_HTTP=1 for http, DRYDOCK_INSECURE=1)\n"
	"options: --db FILE  --format table|json|sarif|cyclonedx|spdx  --severity LIST  --ignore-unfixed\n"
	"         --exit-code N (when findings remain after the filters)\n"
	"         --platform linux/ARCH[/VARIANT]  --cache DIR | --no-cache\n";
const char *const cmd_scan_usage = usage;

int cmd_scan(int argc, char **argv)
{
	const char *path = NULL, *dbpath = NULL, *format = "table", *data = NULL, *platform = NULL, *cache = NULL;
	int no_cache = 0, exit_code = 0;
	struct report_filter filter = {0};
	const char *why;
	util_tune_malloc();
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--db") && i + 1 < argc)
			dbpath = argv[++i];
		else if (!strcmp(a, "--format") && i + 1 < argc)
			format = argv[++i];
		else if (!strcmp(a, "--data") && i + 1 < argc)
			data = argv[++i];
		else if (!strcmp(a, "--platform") && i + 1 < argc)
			platform = argv[++i];
		else if (!strcmp(a, "--cache") && i + 1 < argc)
			cache = argv[++i];
		else if (!strcmp(a, "--no-cache"))
			no_cache = 1;
		else if (!strcmp(a, "--ignore-unfixed"))
			filter.ignore_unfixed = 1;
		else if (!strcmp(a, "--exit-code") && i + 1 < argc)
			exit_code = atoi(argv[++i]);
		else if (!strcmp(a, "--severity") && i + 1 < argc) {
			if (report_severities(argv[++i], &filter.severities, &why)) {
				fprintf(stderr, "drydock scan: --severity: %s\n", why);
				return 2;
			}
		} else if (a[0] == '-' || path) {
			fputs(usage, stderr);
			return 2;
		} else
			path = a;
	}
	if (!path || (strcmp(format, "table") && strcmp(format, "json") && strcmp(format, "sarif") &&
		      strcmp(format, "cyclonedx") && strcmp(format, "spdx"))) {
		if (path)
			fprintf(stderr, "drydock scan: unknown format '%s' (table, json, sarif, cyclonedx, spdx)\n", format);
		fputs(usage, stderr);
		return 2;
	}
	if (!dbpath)
		dbpath = vulndb_default_path();
	struct vulndb *db;
	if (vulndb_open(dbpath, &db, &why)) {
		fprintf(stderr, "drydock scan: no usable vulnerability database: %s\n"
				"  build one with 'drydock db update' (or 'drydock db import FEED_DIR' offline)\n",
			why);
		return 2;
	}
	struct arena a = {0};
	struct inventory inv;
	inventory_init(&inv, &a);
	struct sbom_subject subj;
	int rc = input_inventory(&a, data, path, platform, -1, no_cache ? NULL : cache ? cache : input_default_cache(),
				 &inv, &subj, &why);
	if (rc) {
		fprintf(stderr, "drydock scan: '%s': %s: %s\n", path, dd_err_message(rc), why ? why : "");
		arena_free(&a);
		vulndb_close(db);
		return 2;
	}
	struct scan_result r;
	rc = scan_match(&a, db, &inv, &r, &why);
	if (rc) {
		fprintf(stderr, "drydock scan: '%s': %s\n", path, why ? why : dd_err_message(rc));
	} else if (strcmp(format, "table")) {
		char *text = !strcmp(format, "json")	? report_json(db, &inv, &subj, &r, &filter)
			     : !strcmp(format, "sarif") ? report_sarif(&a, &inv, &subj, &r, &filter)
							: report_sbom_with_findings(&a, &inv, &subj, &r, &filter,
										    !strcmp(format, "spdx"));
		if (text) {
			puts(text);
			free(text);
		}
	} else
		report_table(stdout, &inv, &subj, &r, &filter, isatty(1));
	int status = rc ? 2 : 0;
	if (!rc && exit_code && report_status(&r, &filter) == STATUS_UNHEALTHY)
		status = exit_code;
	arena_free(&a);
	vulndb_close(db);
	return status;
}
