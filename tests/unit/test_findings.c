/* test_findings.c: the database (build, open, lookup, damage) and findings from real feeds.
 * The golden tests build one database from the real snapshots in ../shared/vulndata and
 * match small inventories of real package versions against it; each expectation was checked
 * by hand against the feed record named in the comment. */
#include "unit.h"
#include "common/arena.h"
#include "common/buf.h"
#include "common/util.h"
#include "inventory/inventory.h"
#include "scan/findings.h"
#include "scan/match.h"
#include "vulndb/distro.h"
#include "vulndb/vulndb.h"

/* ---- synthetic records through the builder ---- */

static struct osv_record rec(struct arena *a, const char *id, const char *modified, const char *eco,
			     const char *name, const char *fixed)
{
	struct osv_record r = {.id = id, .modified = modified};
	r.affected = arena_alloc(a, sizeof(*r.affected));
	r.naffected = 1;
	struct osv_affected *x = r.affected;
	x->ecosystem = eco;
	x->name = name;
	x->ranges = arena_alloc(a, sizeof(*x->ranges));
	x->nranges = 1;
	x->ranges[0].events = arena_alloc(a, 2 * sizeof(struct osv_event));
	x->ranges[0].events[x->ranges[0].nevents++] = (struct osv_event){OSV_INTRODUCED, "0"};
	if (fixed)
		x->ranges[0].events[x->ranges[0].nevents++] = (struct osv_event){OSV_FIXED, fixed};
	return r;
}

static struct vulndb *write_and_open(struct vdb_builder *b, char **path)
{
	char *dir = unit_tmpdir();
	*path = malloc(strlen(dir) + 16);
	snprintf(*path, strlen(dir) + 16, "%s/v.ddb", dir);
	free(dir);
	const char *why;
	CHECK(vdb_builder_write(b, *path, &why) == 0);
	struct vulndb *db = NULL;
	CHECK(vulndb_open(*path, &db, &why) == 0);
	return db;
}

static struct inventory one_pkg(struct arena *a, const char *os, const char *ver, struct package p)
{
	struct inventory inv;
	inventory_init(&inv, a);
	inv.os = (struct os_info){.kind = OS_KNOWN, .id = os, .version_id = ver};
	*inventory_add(&inv) = p;
	return inv;
}

static void test_db_build_and_damage(void)
{
	struct arena a = {0};
	struct vdb_builder *b = vdb_builder_new();
	vdb_builder_feed(b, "t", "osv", "test");
	struct osv_record r1 = rec(&a, "CVE-1", "2024-01-01T00:00:00Z", "Debian:12", "zlib", "1.2-2");
	struct osv_record r2 = rec(&a, "CVE-1", "2024-06-01T00:00:00Z", "Debian:12", "zlib", "1.2-3"); /* newer */
	struct osv_record r3 = rec(&a, "CVE-2", NULL, "Red Hat:enterprise_linux:9::baseos", "zlib", "1.2-3.el9");
	struct osv_record r4 = rec(&a, "CVE-3", NULL, "Ubuntu:22.04:LTS", "zlib", NULL);
	vdb_builder_add(b, &r2);
	vdb_builder_add(b, &r1);
	vdb_builder_add(b, &r3);
	vdb_builder_add(b, &r4);
	char *path;
	struct vulndb *db = write_and_open(b, &path);
	vdb_builder_free(b);
	if (!db)
		return;
	size_t n;
	const struct vdb_entry *e = vulndb_lookup(db, "Debian:12", "zlib", &n);
	CHECK(n == 1); /* the same package and CVE from two records: the newer one only */
	struct osv_affected x;
	vulndb_entry_affected(db, e, "Debian:12", "zlib", &a, &x);
	CHECK(x.nranges == 1 && x.ranges[0].nevents == 2 && !strcmp(x.ranges[0].events[1].version, "1.2-3"));
	CHECK(vulndb_lookup(db, "Red Hat:9", "zlib", &n) && n == 1); /* streams folded into the major release */
	CHECK(vulndb_lookup(db, "Ubuntu:22.04", "zlib", &n) && n == 1 && (e = vulndb_lookup(db, "Ubuntu:22.04", "zlib", &n)) &&
	      (e->flags & VDB_UNFIXED));
	CHECK(!vulndb_lookup(db, "Debian:12", "zlib1g", &n) && n == 0);
	CHECK(vulndb_has_ecosystem(db, "Debian:12") && !vulndb_has_ecosystem(db, "Debian:11"));
	vulndb_close(db);

	/* every damaged byte and every truncation is refused at open */
	char *data;
	size_t len;
	const char *why;
	CHECK(util_read_file(path, 1 << 26, &data, &len) == 0);
	struct vulndb *bad;
	CHECK(vulndb_open_mem(data, len, &bad, &why) == 0);
	vulndb_close(bad);
	data[len / 2] ^= 0x40;
	CHECK(vulndb_open_mem(data, len, &bad, &why) == DD_E_DB_INVALID && strstr(why, "checksum"));
	data[len / 2] ^= 0x40;
	CHECK(vulndb_open_mem(data, len - 1, &bad, &why) == DD_E_DB_INVALID);
	CHECK(vulndb_open_mem(data, 10, &bad, &why) == DD_E_DB_INVALID);
	memcpy(data, "NOTADB!!", 8);
	CHECK(vulndb_open_mem(data, len, &bad, &why) == DD_E_DB_INVALID && strstr(why, "magic"));
	free(data);
	free(path);
	arena_free(&a);
}

/* A file's CRC is checked by a thread of its own when nothing else is open (lookups wait for it,
 * and a damaged file answers nothing: no entries, no ecosystem, a scan that fails), and before
 * open returns when another database is open (a replacement is refused whole). */
static void test_checksum_after_open(void)
{
	struct arena a = {0};
	struct vdb_builder *b = vdb_builder_new();
	vdb_builder_feed(b, "t", "osv", "test");
	struct osv_record r1 = rec(&a, "CVE-1", "2024-01-01T00:00:00Z", "Debian:12", "zlib", "1.2-2");
	vdb_builder_add(b, &r1);
	char *path, *damaged;
	struct vulndb *db = write_and_open(b, &path);
	vdb_builder_free(b);
	if (!db)
		return;
	const char *why;
	size_t n;
	CHECK(vulndb_verify(db, &why) == 0 && !why);
	CHECK(vulndb_lookup(db, "Debian:12", "zlib", &n) && n == 1);
	vulndb_close(db);
	char *data;
	size_t len;
	CHECK(util_read_file(path, 1 << 26, &data, &len) == 0);
	data[len - 3] ^= 0x40; /* in the body: the header and every section still look right */
	damaged = malloc(strlen(path) + 8);
	snprintf(damaged, strlen(path) + 8, "%s.bad", path);
	FILE *f = fopen(damaged, "wb");
	CHECK(f && fwrite(data, 1, len, f) == len && fclose(f) == 0);
	free(data);

	/* nothing else open: it opens, and answers nothing once its check fails */
	CHECK(vulndb_open(damaged, &db, &why) == 0);
	if (db) {
		CHECK(vulndb_verify(db, &why) == DD_E_DB_INVALID && strstr(why, "checksum") && strstr(why, ".bad"));
		CHECK(!vulndb_lookup(db, "Debian:12", "zlib", &n) && n == 0);
		CHECK(!vulndb_has_ecosystem(db, "Debian:12"));
		struct inventory inv = one_pkg(&a, "debian", "12",
					       (struct package){.type = PKG_DPKG, .name = "zlib", .version = "1.2-1"});
		struct scan_result res;
		CHECK(scan_match(&a, db, &inv, &res, &why) == DD_E_DB_INVALID && strstr(why, "checksum"));
		vulndb_close(db);
	}
	/* with a good one open, the damaged one is refused at open */
	struct vulndb *good = NULL;
	CHECK(vulndb_open(path, &good, &why) == 0);
	CHECK(vulndb_open(damaged, &db, &why) == DD_E_DB_INVALID && !db && strstr(why, "checksum"));
	CHECK(vulndb_open(path, &db, &why) == 0 && vulndb_verify(db, &why) == 0);
	vulndb_close(db);
	vulndb_close(good);
	/* closed while its check may still run */
	CHECK(vulndb_open(path, &db, &why) == 0);
	vulndb_close(db);
	unlink(damaged);
	unlink(path);
	free(damaged);
	free(path);
	arena_free(&a);
}

/* Simple entries ("introduced 0" [, "fixed X"]) are decided by the installed version's rank
 * among the package's fixes, which the builder sorts in dpkg order, not string order. */
static const struct finding *find_id(const struct scan_result *r, const char *id)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->findings[i].id, id))
			return &r->findings[i];
	return NULL;
}

static void test_ranked_fixes(void)
{
	struct arena a = {0};
	struct vdb_builder *b = vdb_builder_new();
	vdb_builder_feed(b, "t", "osv", "test");
	static const char *const fixes[][2] = {
		{"CVE-10", "1.10-1"},        {"CVE-11", "1.9-1"}, {"CVE-12", "1:0.5-1"},
		{"CVE-13", "1.9-1~deb12u1"}, {"CVE-14", NULL},    {"CVE-18", "0"},
		{"CVE-19", "1.9 beta"}, /* no dpkg version: the fix cannot be placed, the entry never applies */
	};
	for (size_t i = 0; i < DD_ARRAY_LEN(fixes); i++) {
		struct osv_record r = rec(&a, fixes[i][0], NULL, "Debian:12", "pkg", fixes[i][1]);
		vdb_builder_add(b, &r);
	}
	/* one record listing the package twice: the lowest fix above the installed version wins */
	struct osv_record r16 = rec(&a, "CVE-16", NULL, "Debian:12", "pkg", "1.10-2");
	struct osv_record second = rec(&a, "CVE-16", NULL, "Debian:12", "pkg", "1.9-2");
	struct osv_affected *two = arena_alloc(&a, 2 * sizeof(*two));
	two[0] = r16.affected[0];
	two[1] = second.affected[0];
	r16.affected = two;
	r16.naffected = 2;
	vdb_builder_add(b, &r16);
	/* not the simple shape: the general range walk */
	struct osv_record r17 = rec(&a, "CVE-17", NULL, "Debian:12", "pkg", "1.9-3");
	r17.affected[0].ranges[0].events[0].version = "1.9-1";
	vdb_builder_add(b, &r17);
	char *path;
	struct vulndb *db = write_and_open(b, &path);
	vdb_builder_free(b);
	if (!db)
		return;
	struct vdb_pkg pk;
	CHECK(vulndb_lookup_pkg(db, "Debian:12", "pkg", &pk) && pk.n == 10 && pk.nfixes == 6);
	static const char *const order[] = {"1.9-1~deb12u1", "1.9-1", "1.9-2", "1.10-1", "1.10-2", "1:0.5-1"};
	for (size_t i = 0; i < pk.nfixes && i < DD_ARRAY_LEN(order); i++)
		CHECK(!strcmp(vulndb_str(db, pk.fixes[i]), order[i]));
	for (size_t i = 0; i < pk.n; i++) {
		const char *id = vulndb_str(db, vulndb_vuln(db, pk.entries[i].vuln)->id);
		int simple = strcmp(id, "CVE-17") && strcmp(id, "CVE-18"); /* fixed "0": never affected */
		CHECK(!!(pk.entries[i].flags & VDB_SIMPLE) == simple);
		CHECK(strcmp(id, "CVE-19") || pk.entries[i].fix == VDB_FIX_UNREADABLE);
	}

	struct inventory inv = one_pkg(&a, "debian", "12",
				       (struct package){.type = PKG_DPKG, .name = "libpkg1", .version = "1.9-1",
							.source_name = "pkg", .source_version = "1.9-1"});
	struct scan_result r;
	const char *why;
	CHECK(scan_match(&a, db, &inv, &r, &why) == 0 && r.n == 5);
	const struct finding *f;
	CHECK((f = find_id(&r, "CVE-10")) && !strcmp(f->fixed, "1.10-1"));
	CHECK((f = find_id(&r, "CVE-12")) && !strcmp(f->fixed, "1:0.5-1"));
	CHECK((f = find_id(&r, "CVE-14")) && !f->fixed && !f->patchable);
	CHECK((f = find_id(&r, "CVE-16")) && !strcmp(f->fixed, "1.9-2"));
	CHECK((f = find_id(&r, "CVE-17")) && !strcmp(f->fixed, "1.9-3"));
	CHECK(!find_id(&r, "CVE-11") && !find_id(&r, "CVE-13") && !find_id(&r, "CVE-18") && !find_id(&r, "CVE-19"));
	/* above every fix: only the unfixed one is left */
	inv.pkgs[0].version = inv.pkgs[0].source_version = "2:1-1";
	CHECK(scan_match(&a, db, &inv, &r, &why) == 0 && r.n == 1 && find_id(&r, "CVE-14"));
	/* below every fix */
	inv.pkgs[0].version = inv.pkgs[0].source_version = "1.0-1";
	CHECK(scan_match(&a, db, &inv, &r, &why) == 0 && r.n == 6 && !find_id(&r, "CVE-17") &&
	      (f = find_id(&r, "CVE-13")) && !strcmp(f->fixed, "1.9-1~deb12u1"));
	vulndb_close(db);
	unlink(path);
	free(path);
	arena_free(&a);
}

static void test_severity(void)
{
	double s;
	/* vectors from the real feeds, scores as NVD and Red Hat publish them */
	CHECK(vdb_cvss3_score("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", &s) == 0 && s == 7.8); /* CVE-2023-4911 */
	CHECK(vdb_cvss3_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", &s) == 0 && s == 9.8);
	CHECK(vdb_cvss3_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", &s) == 0 && s == 6.1);
	CHECK(vdb_cvss3_score("CVSS:3.0/AV:L/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N", &s) == 0 && s == 7.7); /* RHSA-2025:1611 */
	CHECK(vdb_cvss3_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", &s) == 0 && s == 0);
	CHECK(vdb_cvss3_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", &s) == 0 && s == 10.0);
	CHECK(vdb_cvss3_score("CVSS:3.1/AV:N/AC:L", &s) == DD_E_FEED_INVALID);             /* incomplete */
	CHECK(vdb_cvss3_score("CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", &s) == DD_E_FEED_INVALID);
	CHECK(vdb_cvss3_score("AV:N/AC:L/Au:N/C:P/I:P/A:P", &s) == DD_E_FEED_INVALID);     /* v2 */
	CHECK(vdb_severity_from_vendor("unimportant") == VDB_SEV_NEGLIGIBLE);
	CHECK(vdb_severity_from_vendor("high**") == VDB_SEV_HIGH); /* the tracker's derived mark */
	CHECK(vdb_severity_from_vendor("Important") == VDB_SEV_HIGH);
	CHECK(vdb_severity_from_vendor("Moderate") == VDB_SEV_MEDIUM);
	CHECK(vdb_severity_from_vendor("not yet assigned") == VDB_SEV_UNKNOWN);
	CHECK(vdb_severity_from_vendor("untriaged") == VDB_SEV_UNKNOWN);
	CHECK(vdb_severity_from_score(9.0) == VDB_SEV_CRITICAL && vdb_severity_from_score(3.9) == VDB_SEV_LOW);
}

/* The Ubuntu CVE tracker's statuses, on a record shaped like the real ones. */
static void test_uct_quirks(void)
{
	struct arena a = {0};
	const char *j = "{\"candidate\":\"CVE-2099-1\",\"priority\":\"medium\",\"description\":\"d\","
			"\"cvss\":{\"nvd\":\" CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H [7.8 HIGH]\"},"
			"\"packages\":{"
			"\"jammy\":{\"glibc\":{\"name\":\"glibc\",\"status\":\"released\",\"note\":\"2.35-0ubuntu3.4\"},"
			"\"eglibc\":{\"name\":\"eglibc\",\"status\":\"DNE\"},"
			"\"zlib\":{\"name\":\"zlib\",\"status\":\"needs-triage\",\"priority\":\"low\"},"
			"\"bash\":{\"name\":\"bash\",\"status\":\"not-affected\",\"note\":\"5.1-6\"},"
			"\"tar\":{\"name\":\"tar\",\"status\":\"released\"},"
			"\"vim\":{\"name\":\"vim\",\"status\":\"ignored\",\"note\":\"end of life\"}},"
			"\"esm-infra/focal\":{\"glibc\":{\"name\":\"glibc\",\"status\":\"released\",\"note\":\"1\"}},"
			"\"upstream\":{\"glibc\":{\"name\":\"glibc\",\"status\":\"needs-triage\"}}}}";
	struct osv_record r;
	size_t skipped;
	const char *why;
	CHECK(ubuntu_uct_parse(&a, j, strlen(j), &r, &skipped, &why) == 0);
	CHECK(skipped == 1); /* tar: released with no version cannot be compared */
	CHECK(r.naffected == 3);   /* glibc fixed, zlib unfixed, bash never affected; DNE/ignored/ESM/upstream: none */
	CHECK_STR(r.cvss_v3, "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H");
	CHECK_STR(r.severity, "medium");
	for (size_t i = 0; i < r.naffected; i++) {
		CHECK_STR(r.affected[i].ecosystem, "Ubuntu:22.04");
		if (!strcmp(r.affected[i].name, "zlib"))
			CHECK(r.affected[i].urgency && !strcmp(r.affected[i].urgency, "low") && r.affected[i].ranges[0].nevents == 1);
		if (!strcmp(r.affected[i].name, "bash"))
			CHECK_STR(r.affected[i].ranges[0].events[1].version, "0");
	}
	CHECK(ubuntu_uct_parse(&a, "{\"id\":1}", 8, &r, &skipped, &why) == DD_E_FEED_INVALID);
	CHECK(ubuntu_release_of("noble") && !strcmp(ubuntu_release_of("noble"), "24.04") && !ubuntu_release_of("esm-infra/focal"));
	arena_free(&a);
}

/* Feed quirks on records shaped like the real ones (../shared/vulndata/README.md):
 * - the tracker JSON writes an empty `releases` as [] (chromium-browser CVE-2022-0358);
 *   fixed_version "0" is never affected; urgency may carry a derived mark ("high**");
 * - OSV Alpine entries use fixed "0" for never affected;
 * - an OSV entry may list explicit `versions` and no ranges;
 * - entries with only GIT ranges and no package are upstream commits, not packages. */
static int count_rec(void *ctx, const struct osv_record *r)
{
	(*(size_t *)ctx) += r->naffected;
	return 0;
}

static void test_feed_quirks(void)
{
	struct arena a = {0};
	const char *why;
	size_t skipped, naff = 0;
	const char *t = "{\"chromium-browser\":{\"CVE-2022-0358\":{\"description\":\"x\",\"releases\":[]}},"
			"\"prototypejs\":{\"CVE-2007-2383\":{\"releases\":{\"buster\":{\"status\":\"resolved\","
			"\"fixed_version\":\"0\",\"urgency\":\"unimportant\"},\"sid\":{\"status\":\"open\"}}},"
			"\"CVE-2008-7220\":{\"releases\":{\"buster\":{\"status\":\"resolved\",\"fixed_version\":"
			"\"1.6.0.2-1\",\"urgency\":\"high**\"}}}}}";
	CHECK(debian_tracker_parse(&a, t, strlen(t), count_rec, &naff, &skipped, &why) == 0);
	CHECK(naff == 2 && skipped == 0); /* [] gives nothing; sid is not a release */
	CHECK(debian_tracker_parse(&a, "[1]", 3, count_rec, &naff, &skipped, &why) == DD_E_FEED_INVALID);

	struct vdb_builder *b = vdb_builder_new();
	vdb_builder_feed(b, "q", "osv", "test");
	struct osv_record alp = rec(&a, "CVE-2022-1292", NULL, "Alpine:v3.18", "openssl", "0");
	struct osv_record vers = rec(&a, "CVE-2099-9", NULL, "Debian:12", "zlib", NULL);
	vers.affected[0].nranges = 0;
	static const char *listed[] = {"1:1.2.13.dfsg-1"};
	vers.affected[0].versions = listed;
	vers.affected[0].nversions = 1;
	struct osv_record git = rec(&a, "CVE-2099-10", NULL, "Debian:12", "zlib", NULL);
	git.affected[0].ranges[0].type = OSV_RANGE_GIT;
	vdb_builder_add(b, &alp);
	vdb_builder_add(b, &vers);
	vdb_builder_add(b, &git);
	char *path;
	struct vulndb *db = write_and_open(b, &path);
	vdb_builder_free(b);
	if (!db)
		return;
	size_t n;
	const struct vdb_entry *e = vulndb_lookup(db, "Alpine:v3.18", "openssl", &n);
	CHECK(n == 1 && (e->flags & VDB_NOT_AFFECTED));
	CHECK(vulndb_lookup(db, "Debian:12", "zlib", &n) && n == 1); /* the GIT-only entry is not kept */
	struct scan_result r;
	struct inventory inv = one_pkg(&a, "debian", "12",
				       (struct package){.type = PKG_DPKG, .name = "zlib1g", .version = "1:1.2.13.dfsg-1",
							.source_name = "zlib", .source_version = "1:1.2.13.dfsg-1"});
	CHECK(scan_match(&a, db, &inv, &r, &why) == 0 && r.n == 1 && !strcmp(r.findings[0].id, "CVE-2099-9"));
	inv.pkgs[0].source_version = "1:1.2.13.dfsg-2"; /* not in the list: not affected */
	CHECK(scan_match(&a, db, &inv, &r, &why) == 0 && r.n == 0);
	inv = one_pkg(&a, "alpine", "3.18.4",
		      (struct package){.type = PKG_APK, .name = "libcrypto3", .version = "3.1.0-r0", .source_name = "openssl"});
	CHECK(scan_match(&a, db, &inv, &r, &why) == 0 && r.n == 0);
	vulndb_close(db);
	unlink(path);
	free(path);
	arena_free(&a);
}

/* ---- golden tests on a database built from the real snapshots ---- */

static struct vulndb *golden;
static char *golden_path;

static struct vulndb *golden_db(void)
{
	if (golden)
		return golden;
	static const char *const feeds[] = {
		"vulndata/debian-osv/cve.jsonl.xz", "vulndata/debian-osv/dsa.jsonl.xz",
		"vulndata/debian-tracker-json-sample", "vulndata/alpine-secdb/v3.18",
		"vulndata/rocky-osv", "vulndata/almalinux-osv", "vulndata/ubuntu-cve-tracker/uct.jsonl.xz",
		"vulndata/redhat-osv",
	};
	char p[1024];
	snprintf(p, sizeof(p), "%s/vulndata", unit_shared());
	if (access(p, R_OK)) {
		fprintf(stderr, "  skipped: '%s' not found (set DRYDOCK_SHARED)\n", p);
		return NULL;
	}
	struct vdb_builder *b = vdb_builder_new();
	const char *why;
	for (size_t i = 0; i < DD_ARRAY_LEN(feeds); i++) {
		snprintf(p, sizeof(p), "%s/%s", unit_shared(), feeds[i]);
		CHECK(vdb_import_path(b, p, NULL, &why) == 0);
	}
	golden = write_and_open(b, &golden_path);
	vdb_builder_free(b);
	return golden;
}

static const struct finding *find(const struct scan_result *r, const char *id, const char *pkg)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->findings[i].id, id) && !strcmp(r->findings[i].pkg->name, pkg))
			return &r->findings[i];
	return NULL;
}

static int has_alias(const struct finding *f, const char *id)
{
	for (size_t i = 0; f && i < f->naliases; i++)
		if (!strcmp(f->aliases[i], id))
			return 1;
	return 0;
}

/* Debian 12 libc6 2.36-9+deb12u1 (source glibc):
 * - CVE-2023-4911 (Looney Tunables): Debian:12 glibc fixed 2.36-9+deb12u3 (debian-osv);
 *   DSA-5514-1 fixes exactly that CVE, so it is an alias, not a second finding;
 * - CVE-2010-4756: only {"introduced":"0"}, urgency "unimportant": unfixed, NEGLIGIBLE;
 * - CVE-2024-33601 (tracker JSON sample): bookworm resolved in 2.36-9+deb12u7. */
static void test_golden_debian(void)
{
	struct vulndb *db = golden_db();
	if (!db)
		return;
	struct arena a = {0};
	struct inventory inv = one_pkg(&a, "debian", "12",
				       (struct package){.type = PKG_DPKG, .name = "libc6", .version = "2.36-9+deb12u1",
							.arch = "amd64", .source_name = "glibc",
							.source_version = "2.36-9+deb12u1"});
	struct scan_result r;
	const char *why;
	CHECK(scan_match(&a, db, &inv, &r, &why) == 0 && !r.unsupported);
	CHECK_STR(r.ecosystem, "Debian:12");
	const struct finding *f = find(&r, "CVE-2023-4911", "libc6");
	CHECK(f && f->patchable && !strcmp(f->fixed, "2.36-9+deb12u3"));
	CHECK(f && !strcmp(f->remediation, "upgrade libc6 from 2.36-9+deb12u1 to 2.36-9+deb12u3 or later"));
	CHECK(has_alias(f, "DSA-5514-1"));
	CHECK(!find(&r, "DSA-5514-1", "libc6"));
	CHECK(f && f->cvss_score == 7.8 && f->cvss_vector && f->description && f->nreferences > 0);
	const struct finding *old = find(&r, "CVE-2010-4756", "libc6");
	CHECK(old && !old->patchable && !old->fixed && old->severity == VDB_SEV_NEGLIGIBLE &&
	      !strcmp(old->severity_source, "vendor") && strstr(old->remediation, "no fixed version of glibc"));
	f = find(&r, "CVE-2024-33601", "libc6");
	CHECK(f && !strcmp(f->fixed, "2.36-9+deb12u7"));
	CHECK(r.unfixed > 0 && r.unfixed < r.n);
	/* the fix plan: one step for glibc, to the highest fix among its findings */
	CHECK(r.nplan == 1 && !strcmp(r.plan[0].source, "glibc") && r.plan[0].npackages == 1);
	CHECK(r.nplan == 1 && r.plan[0].clears == r.n - r.unfixed);
	/* a binNMU: the binary version differs from the source version it was built from */
	inv.pkgs[0].version = "2.36-9+deb12u1+b1";
	CHECK(scan_match(&a, db, &inv, &r, &why) == 0);
	f = find(&r, "CVE-2023-4911", "libc6");
	CHECK(f && strstr(f->remediation, "built from glibc 2.36-9+deb12u3"));
	/* at the fixed version the finding goes */
	inv.pkgs[0].version = inv.pkgs[0].source_version = "2.36-9+deb12u3";
	CHECK(scan_match(&a, db, &inv, &r, &why) == 0 && !find(&r, "CVE-2023-4911", "libc6"));
	/* Debian 15 has no data: unsupported, never "no vulnerabilities" */
	inv.os.version_id = "15";
	CHECK(scan_match(&a, db, &inv, &r, &why) == 0 && r.unsupported && r.n == 0);
	arena_free(&a);
}

/* The tracker JSON's quirks: fixed_version "0" is never affected (prototypejs CVE-2007-2383,
 * buster); chromium CVE-2022-0456 is fixed in bookworm at 98.0.4758.80-1 and open with urgency
 * end-of-life in buster; `releases: []` (chromium-browser) is read as no releases. */
static void test_golden_tracker(void)
{
	struct vulndb *db = golden_db();
	if (!db)
		return;
	struct arena a = {0};
	struct scan_result r;
	const char *why;
	struct inventory inv = one_pkg(&a, "debian", "10",
				       (struct package){.type = PKG_DPKG, .name = "libjs-prototype", .version = "1.7.1-3",
							.source_name = "prototypejs", .source_version = "1.7.1-3"});
	CHECK(scan_match(&a, db, &inv, &r, &why) == 0 && !find(&r, "CVE-2007-2383", "libjs-prototype"));
	inv = one_pkg(&a, "debian", "10",
		      (struct package){.type = PKG_DPKG, .name = "chromium", .version = "90.0-1", .source_name = "chromium",
				       .source_version = "90.0-1"});
	CHECK(scan_match(&a, db, &inv, &r, &why) == 0);
	const struct finding *f = find(&r, "CVE-2022-0456", "chromium");
	CHECK(f && !f->patchable && f->vendor_severity && !strcmp(f->vendor_severity, "end-of-life") &&
	      strstr(f->remediation, "no longer supported"));
	inv.os.version_id = "12";
	CHECK(scan_match(&a, db, &inv, &r, &why) == 0);
	f = find(&r, "CVE-2022-0456", "chromium");
	CHECK(f && f->patchable && !strcmp(f->fixed, "98.0.4758.80-1"));
	arena_free(&a);
}

/* Ubuntu 22.04 libc6 2.35-0ubuntu3.3: UCT CVE-2023-4911 jammy/glibc released 2.35-0ubuntu3.4,
 * priority high. */
static void test_golden_ubuntu(void)
{
	struct vulndb *db = golden_db();
	if (!db)
		return;
	struct arena a = {0};
	struct inventory inv = one_pkg(&a, "ubuntu", "22.04",
				       (struct package){.type = PKG_DPKG, .name = "libc6", .version = "2.35-0ubuntu3.3",
							.source_name = "glibc", .source_version = "2.35-0ubuntu3.3"});
	struct scan_result r;
	const char *why;
	CHECK(scan_match(&a, db, &inv, &r, &why) == 0 && !r.unsupported);
	const struct finding *f = find(&r, "CVE-2023-4911", "libc6");
	CHECK(f && !strcmp(f->fixed, "2.35-0ubuntu3.4") && f->severity == VDB_SEV_HIGH &&
	      !strcmp(f->severity_source, "vendor"));
	arena_free(&a);
}

/* Alpine 3.18 libcrypto3 3.1.0-r0 (origin openssl) against the real secdb: CVE-2023-2650 is
 * fixed in 3.1.1-r0; CVE-2022-1292 is listed under "0" (never affected); musl 1.2.4-r0 and
 * zlib 1.2.13-r1 have no fix above them in 3.18. */
static void test_golden_alpine(void)
{
	struct vulndb *db = golden_db();
	if (!db)
		return;
	struct arena a = {0};
	struct inventory inv;
	inventory_init(&inv, &a);
	inv.os = (struct os_info){.kind = OS_KNOWN, .id = "alpine", .version_id = "3.18.0"};
	const char *pk[][3] = {{"libcrypto3", "3.1.0-r0", "openssl"}, {"musl", "1.2.4-r0", "musl"},
			       {"zlib", "1.2.13-r1", "zlib"}};
	for (size_t i = 0; i < 3; i++)
		*inventory_add(&inv) = (struct package){.type = PKG_APK, .name = pk[i][0], .version = pk[i][1],
							.source_name = pk[i][2], .arch = "x86_64"};
	struct scan_result r;
	const char *why;
	CHECK(scan_match(&a, db, &inv, &r, &why) == 0 && !strcmp(r.ecosystem, "Alpine:v3.18"));
	for (size_t i = 0; i < r.n; i++)
		CHECK_STR(r.findings[i].pkg->name, "libcrypto3");
	const struct finding *f = find(&r, "CVE-2023-2650", "libcrypto3");
	/* secdb has no rating; Debian's record of the same CVE brings its CVSS v3 vector */
	CHECK(f && !strcmp(f->fixed, "3.1.1-r0") && !strcmp(f->severity_source, "cvss"));
	CHECK(!find(&r, "CVE-2022-1292", "libcrypto3"));
	CHECK(r.n >= 5 && r.nplan == 1 && !strcmp(r.plan[0].source, "openssl"));
	inv.os.id = "slackware";
	CHECK(scan_match(&a, db, &inv, &r, &why) == 0 && r.unsupported && strstr(r.unsupported, "slackware"));
	arena_free(&a);
}

/* Rocky Linux 9: source RPM names; openssl-libs 1:3.0.7-16.el9_2 is affected by
 * RLSA-2024:6783 (fixed 1:3.0.7-28.el9_4, related CVE-2024-6119, "Moderate: openssl security
 * update" = MEDIUM) and not by RLSA-2023:0946 (fixed 1:3.0.1-47.el9_1).
 * AlmaLinux 9 names binary RPMs: openssl-libs itself. */
static void test_golden_rpm(void)
{
	struct vulndb *db = golden_db();
	if (!db)
		return;
	struct arena a = {0};
	struct package p = {.type = PKG_RPM, .name = "openssl-libs", .version = "3.0.7", .release = "16.el9_2",
			    .has_epoch = 1, .epoch = 1, .arch = "x86_64", .source_name = "openssl"};
	struct inventory inv = one_pkg(&a, "rocky", "9.2", p);
	struct scan_result r;
	const char *why;
	CHECK(scan_match(&a, db, &inv, &r, &why) == 0);
	const struct finding *f = find(&r, "RLSA-2024:6783", "openssl-libs");
	CHECK(f && !strcmp(f->fixed, "1:3.0.7-28.el9_4") && f->severity == VDB_SEV_MEDIUM &&
	      !strcmp(f->vendor_severity, "Moderate"));
	CHECK(f && has_alias(f, "CVE-2024-6119"));
	CHECK(!find(&r, "RLSA-2023:0946", "openssl-libs"));
	CHECK(f && !strcmp(f->remediation, "upgrade openssl-libs from 1:3.0.7-16.el9_2 to 1:3.0.7-28.el9_4 or later"));
	inv = one_pkg(&a, "almalinux", "9.2", p);
	CHECK(scan_match(&a, db, &inv, &r, &why) == 0 && r.n > 0);
	for (size_t i = 0; i < r.n; i++)
		CHECK(!strncmp(r.findings[i].id, "ALSA-", 5) || !strncmp(r.findings[i].id, "ALBA-", 5) ||
		      !strncmp(r.findings[i].id, "ALEA-", 5));
	arena_free(&a);
}

/* RPM modules (AlmaLinux 8): nodejs 1:10.23.1 from the nodejs:10 stream is fixed by
 * ALSA-2021:0735 ("nodejs:10 security update", fixed 1:10.24.0-1.module_el8.3.0+2047+b07ac28e
 * among others) and must not be told to take ALSA-2021:3623 ("nodejs:12", 1:12.22.5), which
 * rpm order alone would report; a non-modular nodejs gets neither. */
static void test_golden_modules(void)
{
	struct vulndb *db = golden_db();
	if (!db)
		return;
	struct arena a = {0};
	struct package p = {.type = PKG_RPM, .name = "nodejs", .version = "10.23.1", .release = "1.module_el8.3.0+2047+b07ac28e",
			    .has_epoch = 1, .epoch = 1, .arch = "x86_64", .source_name = "nodejs",
			    .modularity_label = "nodejs:10:8030020201124152102:229f0a1c"};
	struct inventory inv = one_pkg(&a, "almalinux", "8.3", p);
	struct scan_result r;
	const char *why;
	CHECK(scan_match(&a, db, &inv, &r, &why) == 0);
	const struct finding *f = find(&r, "ALSA-2021:0735", "nodejs");
	CHECK(f && !strncmp(f->fixed, "1:10.24.0-1.module_el8", 22));
	CHECK(!find(&r, "ALSA-2021:3623", "nodejs"));
	inv.pkgs[0].modularity_label = NULL;
	inv.pkgs[0].release = "1.el8";
	CHECK(scan_match(&a, db, &inv, &r, &why) == 0);
	CHECK(!find(&r, "ALSA-2021:0735", "nodejs") && !find(&r, "ALSA-2021:3623", "nodejs"));
	arena_free(&a);
}

/* Red Hat (RHEL 9, UBI): binary RPM names, the CPE streams of enterprise_linux:9 folded into
 * "Red Hat:9". RHSA-2024:2447 fixes openssl-libs at 1:3.0.7-27.el9 (baseos). */
static void test_golden_redhat(void)
{
	struct vulndb *db = golden_db();
	if (!db)
		return;
	struct arena a = {0};
	struct package p = {.type = PKG_RPM, .name = "openssl-libs", .version = "3.0.7", .release = "24.el9",
			    .has_epoch = 1, .epoch = 1, .arch = "x86_64", .source_name = "openssl"};
	struct inventory inv = one_pkg(&a, "rhel", "9.3", p);
	struct scan_result r;
	const char *why;
	CHECK(scan_match(&a, db, &inv, &r, &why) == 0 && !strcmp(r.ecosystem, "Red Hat:9"));
	const struct finding *f = find(&r, "RHSA-2024:2447", "openssl-libs");
	CHECK(f && !strcmp(f->fixed, "1:3.0.7-27.el9"));
	for (size_t i = 0; i < r.n; i++)
		CHECK(!strncmp(r.findings[i].id, "RH", 2));
	arena_free(&a);
}


/* ---- stored inventories: the in-place reader against the field-by-field copy it replaced ---- */

static const char *ref_field(struct arena *a, const char *p, const char *end)
{
	if (end - p == 2 && p[0] == '\\' && p[1] == '-')
		return NULL;
	char *out = arena_alloc(a, (size_t)(end - p) + 1), *o = out;
	for (; p < end; p++) {
		if (*p == '\\' && p + 1 < end) {
			p++;
			*o++ = *p == 't' ? '\t' : *p == 'n' ? '\n' : *p;
		} else
			*o++ = *p;
	}
	*o = 0;
	return out;
}

static void put_str(struct buf *b, const char *s) { buf_puts(b, s ? s : "<null>"); buf_puts(b, "|"); }

/* What inventory_deserialize read, in want_fields' shape. */
static void got_fields(const struct inventory *inv, struct buf *out)
{
	put_str(out, inv->os.id);
	put_str(out, inv->os.version_id);
	put_str(out, inv->os.codename);
	put_str(out, inv->os.pretty_name);
	put_str(out, inv->os.id_like);
	for (size_t i = 0; i < inv->n; i++) {
		const struct package *k = &inv->pkgs[i];
		char num[48];
		snprintf(num, sizeof(num), "%d/%d/%ld", (int)k->type, k->has_epoch, k->epoch);
		put_str(out, num);
		const char *f[] = {k->name, k->version, k->arch, k->source_name, k->source_version, k->release,
				   k->modularity_label, k->layer, k->db_path, k->go_packages};
		for (size_t j = 0; j < DD_ARRAY_LEN(f); j++)
			put_str(out, f[j]);
	}
}

/* The fields the reader before the in-place one kept, converted as inventory_deserialize does;
 * 0, or -1 for a bad header. */
static int want_fields(struct arena *a, const char *text, size_t len, struct buf *out)
{
	const char *p = text, *end = text + len;
	int first = 1;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *le = nl ? nl : end, *start = p, *f[12];
		size_t n = 0;
		for (const char *q = p; q <= le && n < 12; q++)
			if (q == le || *q == '\t') {
				f[n++] = ref_field(a, start, q);
				start = q + 1;
			}
		if (first) {
			if (n != 7)
				return -1;
			for (int i = 2; i < 7; i++)
				put_str(out, f[i]);
			first = 0;
		} else if (n >= 10 && n <= 12 && f[1]) {
			int type = atoi(f[0] ? f[0] : "0");
			type = type > 0 && type <= PKG_TYPE_MAX ? type : PKG_DPKG;
			long e = f[7] ? atol(f[7]) : -1;
			char num[48];
			snprintf(num, sizeof(num), "%d/%d/%ld", type, e >= 0, e >= 0 ? e : 0);
			put_str(out, num);
			const char *g[] = {f[1], f[2], f[3], f[4], f[5], f[6], f[8], f[9], n >= 11 ? f[10] : NULL,
					   n == 12 && type == PKG_GO ? f[11] : NULL};
			for (size_t j = 0; j < DD_ARRAY_LEN(g); j++)
				put_str(out, g[j]);
		}
		p = nl ? nl + 1 : end;
	}
	return 0;
}

static uint64_t lcg(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return *s >> 33;
}

static const char *rand_field(struct arena *a, uint64_t *seed)
{
	static const char alphabet[] = "ab-\\\t\nt0:~+.";
	size_t n = lcg(seed) % 9;
	if (n == 8)
		return NULL;
	char *s = arena_alloc(a, n + 1);
	for (size_t i = 0; i < n; i++)
		s[i] = alphabet[lcg(seed) % (sizeof(alphabet) - 1)];
	return s;
}

static void test_inventory_read_in_place(void)
{
	uint64_t seed = 0x243f6a8885a308d3ULL;
	for (int round = 0; round < 3000; round++) {
		struct arena a = {0};
		struct inventory inv, back;
		inventory_init(&inv, &a);
		inv.os.kind = OS_KNOWN;
		inv.os.id = rand_field(&a, &seed);
		inv.os.pretty_name = rand_field(&a, &seed);
		size_t npkg = lcg(&seed) % 6;
		for (size_t i = 0; i < npkg; i++) {
			struct package *k = inventory_add(&inv);
			k->type = (enum pkg_type)(lcg(&seed) % (PKG_TYPE_MAX + 1));
			k->name = rand_field(&a, &seed);
			if (!k->name)
				k->name = "n";
			k->version = rand_field(&a, &seed);
			k->source_name = rand_field(&a, &seed);
			k->has_epoch = lcg(&seed) % 2;
			k->epoch = k->has_epoch ? (long)(lcg(&seed) % 5) : 0;
			k->layer = rand_field(&a, &seed);
			k->db_path = rand_field(&a, &seed);
			k->go_packages = k->type == PKG_GO ? rand_field(&a, &seed) : NULL;
		}
		char *text = inventory_serialize(&inv);
		CHECK(text != NULL);
		if (!text) {
			arena_free(&a);
			break;
		}
		size_t len = strlen(text);
		/* the text as written, then changed: bytes replaced by the format's own, cut short */
		for (int change = 0; change < 4; change++) {
			if (change) {
				static const char bytes[] = "\t\n\\-0a";
				for (size_t c = lcg(&seed) % 4 + 1; c && len > 7; c--)
					text[7 + lcg(&seed) % (len - 7)] = bytes[lcg(&seed) % (sizeof(bytes) - 1)];
				if (lcg(&seed) % 3 == 0 && len > 8)
					len = 7 + lcg(&seed) % (len - 7);
			}
			const char *why;
			struct buf got, want;
			buf_init(&got, 1 << 20);
			buf_init(&want, 1 << 20);
			inventory_init(&back, &a);
			int rc = inventory_deserialize(&back, text, len, &why);
			int want_rc = want_fields(&a, text, len, &want);
			CHECK(!rc == !want_rc);
			if (!rc) {
				got_fields(&back, &got);
				if (strcmp(got.data ? got.data : "", want.data ? want.data : "")) {
					CHECK_STR(got.data ? got.data : "", want.data ? want.data : "");
					change = 4, round = 3000;
				}
				if (!change) { /* unchanged: what was written is read back */
					struct buf orig;
					buf_init(&orig, 1 << 20);
					got_fields(&inv, &orig);
					CHECK_STR(got.data ? got.data : "", orig.data ? orig.data : "");
					buf_release(&orig);
				}
			}
			buf_release(&got);
			buf_release(&want);
		}
		free(text);
		arena_free(&a);
	}
}

void suite_findings(void)
{
	RUN(test_inventory_read_in_place);
	RUN(test_db_build_and_damage);
	RUN(test_checksum_after_open);
	RUN(test_ranked_fixes);
	RUN(test_severity);
	RUN(test_uct_quirks);
	RUN(test_feed_quirks);
	RUN(test_golden_debian);
	RUN(test_golden_tracker);
	RUN(test_golden_ubuntu);
	RUN(test_golden_alpine);
	RUN(test_golden_rpm);
	RUN(test_golden_modules);
	RUN(test_golden_redhat);
	if (golden) {
		vulndb_close(golden);
		unlink(golden_path);
		free(golden_path);
		golden = NULL;
	}
}
