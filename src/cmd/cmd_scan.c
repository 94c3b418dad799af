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
#include "scan/vex.h"
#include "common/limits.h"
#include <errno.h>
#include <time.h>

static const char usage[] =
	"usage: drydock scan [options] {ROOTFS_DIR | OCI_LAYOUT_DIR[:TAG] | ARCHIVE.tar[:TAG]}\n"
	"       drydock scan [options] --data DATA_DIR REPO:TAG|REPO@DIGEST\n"
	"       drydock scan [options] HOST[:PORT]/REPO[:TAG|@DIGEST]   (pulled from a registry with the login\n"
	"                      podman, skopeo, buildah or docker saved, or DRYDOCK_CREDS=user:password;\n"
	"                      DRYDOCK_PLAIN_HTTP=1 for http, DRYDOCK_INSECURE=1)\n"
	"options: --db FILE  --format table|json|sarif|cyclonedx|spdx  --severity LIST  --ignore-unfixed\n"
	"         --exit-code N (when findings remain after the filters)\n"
	"         --platform linux/ARCH[/VARIANT]  --cache DIR | --no-cache\n"
	"         --vex FILE (OpenVEX or CycloneDX; repeatable)  --ignorefile FILE (ID [PACKAGE] [exp:YYYY-MM-DD] a line)\n";
const char *const cmd_scan_usage = usage;

/* What --vex and --ignorefile say to leave out: VEX statements that suppress (not_affected,
 * fixed), and ignore-file entries, each an id with an optional package, in force until their
 * expiry. */
struct suppress {
	struct vex_statement *st;
	size_t n, cap;
	const char *digest; /* the image's manifest digest, for statements about an image */
	const char *eco;    /* the image's ecosystem, for the purl types of statements */
};

static int suppressed(void *ctx, const struct finding *f)
{
	const struct suppress *s = ctx;
	for (size_t i = s->n; i-- > 0;) /* the last statement that applies says (a later one overrides) */
		if ((vex_applies(&s->st[i], finding_ecosystem(f, s->eco), s->digest, f->id, f->aliases, f->naliases,
				 f->pkg->name, f->matched_name, f->pkg->version) ||
		     vex_applies(&s->st[i], finding_ecosystem(f, s->eco), s->digest, f->id, f->aliases, f->naliases,
				 f->pkg->name, f->matched_name, f->installed)))
			return vex_suppresses(s->st[i].status);
	return 0;
}

/* The file an option names (at most 1 MiB): 0, or 2 having said why it cannot be read. */
static int read_option_file(const char *option, const char *path, char **text, size_t *len)
{
	errno = 0;
	int rc = util_read_file(path, DD_MAX_VEX_BYTES, text, len);
	if (rc)
		fprintf(stderr, "drydock scan: %s '%s': %s\n", option, path,
			rc == DD_E_TOO_LARGE ? "over 1 MiB" : errno ? strerror(errno) : dd_err_message(rc));
	return rc ? 2 : 0;
}

static int add_vex(struct arena *a, struct suppress *s, const char *path)
{
	char *text;
	size_t len;
	int rc = read_option_file("--vex", path, &text, &len);
	if (rc)
		return rc;
	const char *format, *why;
	struct vex_statement *st;
	size_t n;
	rc = vex_parse(a, text, len, &format, &st, &n, &why);
	free(text);
	if (rc) {
		fprintf(stderr, "drydock scan: --vex '%s': %s\n", path, why);
		return 2;
	}
	for (size_t i = 0; i < n; i++) {
		s->st = arena_grow(a, s->st, s->n, &s->cap, sizeof(*s->st));
		s->st[s->n++] = st[i];
	}
	return 0;
}

/* An ignore file: "ID [PACKAGE] [exp:YYYY-MM-DD]" a line, '#' comments (Trivy's .trivyignore,
 * with a package). */
static int add_ignorefile(struct arena *a, struct suppress *s, const char *path)
{
	char *text;
	size_t len;
	int rc = read_option_file("--ignorefile", path, &text, &len);
	if (rc)
		return rc;
	time_t now = time(NULL);
	int line = 0;
	rc = 0;
	for (char *p = text, *end; p < text + len && !rc; p = end + 1) {
		end = memchr(p, '\n', (size_t)(text + len - p));
		if (!end)
			end = text + len;
		line++;
		char *l = arena_strndup(a, p, (size_t)(end - p));
		char *hash = strchr(l, '#');
		if (hash)
			*hash = 0;
		char *tok[4], *save = NULL;
		int nt = 0;
		for (char *t = strtok_r(l, " \t\r", &save); t && nt < 4; t = strtok_r(NULL, " \t\r", &save))
			tok[nt++] = t;
		if (!nt)
			continue;
		if (nt == 4) {
			fprintf(stderr, "drydock scan: --ignorefile '%s' line %d: ID [PACKAGE] [exp:YYYY-MM-DD]\n", path, line);
			rc = 2;
			break;
		}
		struct vex_statement st = {.vulnerability = tok[0], .status = "not_affected"};
		for (int k = 1; k < nt; k++) {
			if (!strncmp(tok[k], "exp:", 4)) {
				struct tm tm = {0}, asked, back;
				char *rest = strptime(tok[k] + 4, "%Y-%m-%d", &tm);
				asked = tm; /* timegm moves 2030-02-30 on to March: it is no date */
				time_t t = rest && !*rest ? timegm(&tm) : (time_t)-1;
				if (t == (time_t)-1 || !gmtime_r(&t, &back) || back.tm_mday != asked.tm_mday ||
				    back.tm_mon != asked.tm_mon) {
					fprintf(stderr, "drydock scan: --ignorefile '%s' line %d: expiry is exp:YYYY-MM-DD\n", path, line);
					rc = 2;
					break;
				}
				if (timegm(&tm) + 86400 <= now)
					st.vulnerability = NULL; /* expired: no longer ignored */
			} else if (k == 1)
				st.package = tok[k];
			else {
				fprintf(stderr, "drydock scan: --ignorefile '%s' line %d: ID [PACKAGE] [exp:YYYY-MM-DD]\n", path, line);
				rc = 2;
				break;
			}
		}
		if (!rc && st.vulnerability) {
			s->st = arena_grow(a, s->st, s->n, &s->cap, sizeof(*s->st));
			s->st[s->n++] = st;
		}
	}
	free(text);
	return rc;
}

int cmd_scan(int argc, char **argv)
{
	const char *path = NULL, *dbpath = NULL, *format = "table", *data = NULL, *platform = NULL, *cache = NULL;
	int no_cache = 0, exit_code = 0;
	struct report_filter filter = {0};
	const char *why;
	struct arena sa = {0}; /* what --vex and --ignorefile read */
	struct suppress sup = {0};
	int used_suppress = 0;
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
				arena_free(&sa);
				return 2;
			}
		} else if ((!strcmp(a, "--vex") || !strcmp(a, "--ignorefile")) && i + 1 < argc) {
			used_suppress = 1;
			if (a[2] == 'v' ? add_vex(&sa, &sup, argv[++i]) : add_ignorefile(&sa, &sup, argv[++i])) {
				arena_free(&sa);
				return 2;
			}
		} else if (a[0] == '-' || path) {
			fputs(usage, stderr);
			arena_free(&sa);
			return 2;
		} else
			path = a;
	}
	if (!path || (strcmp(format, "table") && strcmp(format, "json") && strcmp(format, "sarif") &&
		      strcmp(format, "cyclonedx") && strcmp(format, "spdx"))) {
		if (path)
			fprintf(stderr, "drydock scan: unknown format '%s' (table, json, sarif, cyclonedx, spdx)\n", format);
		fputs(usage, stderr);
		arena_free(&sa);
		return 2;
	}
	if (!dbpath)
		dbpath = vulndb_default_path();
	struct vulndb *db;
	if (vulndb_open(dbpath, &db, &why)) {
		fprintf(stderr, "drydock scan: no usable vulnerability database: %s\n"
				"  build one with 'drydock db update' (or 'drydock db import FEED_DIR' offline)\n",
			why);
		arena_free(&sa);
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
		arena_free(&sa);
		vulndb_close(db);
		return 2;
	}
	struct scan_result r;
	rc = scan_match(&a, db, &inv, &r, &why);
	if (!rc && used_suppress) {
		sup.digest = subj.manifest;
		sup.eco = r.ecosystem;
		size_t gone = scan_drop(&a, &r, suppressed, &sup);
		fprintf(stderr, "drydock scan: %zu finding%s left out by --vex/--ignorefile\n", gone, gone == 1 ? "" : "s");
	}
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
	arena_free(&sa);
	vulndb_close(db);
	return status;
}
