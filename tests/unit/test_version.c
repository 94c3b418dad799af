/* test_version.c: dpkg, rpm and apk version ordering: a few cases of our own always, and the
 * upstream tables of ../shared/testdata/version when that folder is there (DRYDOCK_SHARED
 * overrides where it is; without it those tests say they were skipped). */
#include "unit.h"
#include "version/version.h"
#include "common/arena.h"
#include "vulndb/langfeeds.h"
#include "vulndb/semver_range.h"

static int cmp3(enum version_scheme s, const char *a, const char *b)
{
	int c;
	const char *why;
	if (version_compare(s, a, strlen(a), b, strlen(b), &c, &why))
		return 99;
	return c;
}

static void test_dpkg_basics(void)
{
	CHECK(cmp3(VERSION_DPKG, "1.0", "1.0") == 0);
	CHECK(cmp3(VERSION_DPKG, "1.0~rc1", "1.0") == -1);
	CHECK(cmp3(VERSION_DPKG, "1:0.1", "2.0") == 1);
	CHECK(cmp3(VERSION_DPKG, "2.38.1-5+b1", "2.38.1-5") == 1);
	CHECK(cmp3(VERSION_DPKG, "1.0-1", "1.0-1~bpo1") == 1);
	CHECK(cmp3(VERSION_DPKG, "0:1.0", "1.0") == 0);
	CHECK(cmp3(VERSION_DPKG, "1.0a", "1.0+") == -1);
	CHECK(cmp3(VERSION_DPKG, "5:20.10.7~3-0~debian-buster", "5:20.10.7-0") == -1);
	const char *bad[] = {"", "1:5.#", "a1.0", ":1.0", "1:", "1.0-", "1 0", "x:1.0", "1.0-a#"};
	for (size_t i = 0; i < DD_ARRAY_LEN(bad); i++) {
		const char *why;
		CHECK(version_validate(VERSION_DPKG, bad[i], strlen(bad[i]), &why) == DD_E_VERSION_INVALID);
		CHECK(why && *why);
	}
	struct dpkg_version v;
	const char *why;
	CHECK(dpkg_version_parse("1:2.5.1-4", 9, &v, &why) == 0 && v.epoch == 1 && v.upstream_len == 5 && v.revision_len == 1);
}

static void test_rpm_basics(void)
{
	CHECK(cmp3(VERSION_RPM, "1:3.0.7-16.el9_2", "1:3.0.7-16.el9_2") == 0);
	CHECK(cmp3(VERSION_RPM, "1:3.0.7-16.el9_2", "1:3.0.7-24.el9") == -1);
	CHECK(cmp3(VERSION_RPM, "1:1.0-1", "2.0-1") == 1);
	CHECK(cmp3(VERSION_RPM, "1.0~rc1-1", "1.0-1") == -1);
	CHECK(cmp3(VERSION_RPM, "1.0^git1-1", "1.0-1") == 1);
	CHECK(rpm_vercmp("1.0^", 4, "1.0.1", 5) == -1);
	CHECK(rpm_vercmp("10", 2, "9", 1) == 1);
	CHECK(rpm_vercmp("a", 1, "1", 1) == -1);
	const char *why;
	CHECK(version_validate(VERSION_RPM, "x:1", 3, &why) == DD_E_VERSION_INVALID);
}

static void test_apk_basics(void)
{
	CHECK(cmp3(VERSION_APK, "3.1.0-r0", "3.1.0-r1") == -1);
	CHECK(cmp3(VERSION_APK, "1.2.3_rc1", "1.2.3") == -1);
	CHECK(cmp3(VERSION_APK, "1.2.3_p1", "1.2.3") == 1);
	CHECK(cmp3(VERSION_APK, "1.2.10", "1.2.9") == 1);
	CHECK(cmp3(VERSION_APK, "1.2a", "1.2") == 1);
	CHECK(cmp3(VERSION_APK, "1.01", "1.1") == -1);
	CHECK(apk_version_valid("0.1_pre2~1234abcd-r3", 20));
	CHECK(!apk_version_valid("1.0-r1-r2", 9));
	CHECK(apk_version_cmp("3.6.9", 5, "3.6", 3, 1) == 0);
	CHECK(apk_version_cmp("3.7", 3, "3.6", 3, 1) == 1);
}

/* Runs one "a b expected" table; returns lines checked, -1 when the file is absent. */
static int run_table(const char *file, int (*cmp)(const char *, size_t, const char *, size_t))
{
	char path[1024], line[1024];
	snprintf(path, sizeof(path), "%s/testdata/version/%s", unit_shared(), file);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	int n = 0;
	while (fgets(line, sizeof(line), f)) {
		char a[512], b[512];
		int want;
		if (sscanf(line, "%511s %511s %d", a, b, &want) != 3)
			continue;
		int got = cmp(a, strlen(a), b, strlen(b));
		got = got < 0 ? -1 : got > 0;
		if (got != want) {
			fprintf(stderr, "  %s: cmp(%s, %s) = %d, want %d\n", file, a, b, got, want);
			unit_failures_in_test++;
		}
		n++;
	}
	fclose(f);
	return n;
}

static int dpkg_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	int c;
	const char *why;
	if (version_compare(VERSION_DPKG, a, an, b, bn, &c, &why))
		return 99;
	return c;
}
static int rpm_cmp(const char *a, size_t an, const char *b, size_t bn) { return rpm_vercmp(a, an, b, bn); }
static int apk_cmp(const char *a, size_t an, const char *b, size_t bn) { return apk_version_cmp(a, an, b, bn, 0); }

static void check_table(const char *file, int (*cmp)(const char *, size_t, const char *, size_t), int min)
{
	int n = run_table(file, cmp);
	if (n < 0)
		fprintf(stderr, "  skipped: shared testdata '%s' not found (set DRYDOCK_SHARED)\n", file);
	else
		CHECK(n >= min);
}

static void test_dpkg_upstream_table(void) { check_table("dpkg-vercmp-upstream.txt", dpkg_cmp, 43); }
static void test_rpm_upstream_table(void) { check_table("rpm-vercmp-upstream.txt", rpm_cmp, 91); }
static void test_rpm_claircore_table(void) { check_table("rpm-vercmp-claircore.txt", rpm_cmp, 113); }
static void test_apk_upstream_table(void) { check_table("apk-vercmp-upstream.txt", apk_cmp, 738); }

static void test_apk_validity_table(void)
{
	char path[1024], line[512];
	snprintf(path, sizeof(path), "%s/testdata/version/apk-version-validity-upstream.txt", unit_shared());
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "  skipped: shared testdata apk-version-validity-upstream.txt not found\n");
		return;
	}
	int n = 0;
	while (fgets(line, sizeof(line), f)) {
		char v[256], verdict[32];
		if (sscanf(line, "%255s %31s", v, verdict) != 2)
			continue;
		int valid = apk_version_valid(v, strlen(v));
		if (valid != !strcmp(verdict, "valid")) {
			fprintf(stderr, "  apk validity of '%s': got %d, want %s\n", v, valid, verdict);
			unit_failures_in_test++;
		}
		n++;
	}
	fclose(f);
	CHECK(n >= 31);
}



/* node-semver's documented ranges (its README's tables) and Cargo's requirements (the Cargo
 * book), by membership of versions on each side of every bound. */
static int in_range(enum sv_dialect d, const char *range, const char *v)
{
	struct arena a = {0};
	struct sv_set s;
	const char *why;
	int r = sv_parse(&a, range, d, &s, &why) ? -1 : sv_contains(&s, v);
	arena_free(&a);
	return r;
}

static void test_semver_ranges(void)
{
	static const struct {
		enum sv_dialect d;
		const char *range, *in, *out;
	} t[] = {
		{SV_NPM, "1.2.7 || >=1.2.9 <2.0.0", "1.2.7", "1.2.8"},
		{SV_NPM, "1.2.7 || >=1.2.9 <2.0.0", "1.4.6", "2.0.0"},
		{SV_NPM, ">=1.2.7 <1.3.0", "1.2.99", "1.3.0"},
		{SV_NPM, "1.2.3 - 2.3.4", "2.3.4", "2.3.5"},
		{SV_NPM, "1.2 - 2.3.4", "1.2.0", "1.1.9"},
		{SV_NPM, "1.2.3 - 2.3", "2.3.99", "2.4.0"},
		{SV_NPM, "1.2.3 - 2", "2.99.0", "3.0.0"},
		{SV_NPM, "1.x", "1.99.0", "2.0.0"},
		{SV_NPM, "1.2.x", "1.2.99", "1.3.0"},
		{SV_NPM, "1", "1.0.0", "2.0.0"},
		{SV_NPM, "1.2", "1.2.5", "1.3.0"},
		{SV_NPM, "~1.2.3", "1.2.9", "1.3.0"},
		{SV_NPM, "~1.2", "1.2.0", "1.3.0"},
		{SV_NPM, "~1", "1.9.9", "2.0.0"},
		{SV_NPM, "~0.2", "0.2.9", "0.3.0"},
		{SV_NPM, "~1.2.3-beta.2", "1.2.3-beta.4", "1.2.3-beta.1"},
		{SV_NPM, "^1.2.3", "1.9.9", "2.0.0"},
		{SV_NPM, "^0.2.3", "0.2.9", "0.3.0"},
		{SV_NPM, "^0.0.3", "0.0.3", "0.0.4"},
		{SV_NPM, "^1.2.x", "1.2.0", "2.0.0"},
		{SV_NPM, "^0.0.x", "0.0.9", "0.1.0"},
		{SV_NPM, "^0.0", "0.0.9", "0.1.0"},
		{SV_NPM, "^1.x", "1.0.0", "2.0.0"},
		{SV_NPM, "^0.x", "0.99.0", "1.0.0"},
		{SV_NPM, ">1.2", "1.3.0", "1.2.9"},
		{SV_NPM, "<1.2", "1.1.9", "1.2.0"},
		{SV_NPM, "<=1.2", "1.2.9", "1.3.0"},
		{SV_NPM, ">= 4.17.0 < 4.17.21", "4.17.20", "4.17.21"},
		{SV_NPM, "<=4.17.15", "4.17.15", "4.17.16"},
		{SV_NPM, ">1.2.3", "1.2.4-0", "1.2.3"},
		{SV_CARGO, "^0.9.5", "0.9.9", "0.10.0"},
		{SV_CARGO, ">= 0.9.1", "1.0.0", "0.9.0"},
		{SV_CARGO, "0.3", "0.3.9", "0.4.0"},
		{SV_CARGO, ">= 1.2.0, < 1.5", "1.4.9", "1.5.0"},
		{SV_CARGO, "= 1.0.0", "1.0.0", "1.0.1"},
		{SV_CARGO, "~1.2.3", "1.2.9", "1.3.0"},
		{SV_CARGO, "<0.1.0", "0.0.9", "0.1.0"},
	};
	for (size_t i = 0; i < DD_ARRAY_LEN(t); i++) {
		int in = in_range(t[i].d, t[i].range, t[i].in), out = in_range(t[i].d, t[i].range, t[i].out);
		if (in != 1 || out != 0) {
			fprintf(stderr, "  range '%s': %s -> %d (want 1), %s -> %d (want 0)\n", t[i].range, t[i].in, in,
				t[i].out, out);
			unit_failures_in_test++;
		}
	}
	const char *bad[] = {"1.2.3.4.5", ">=", "1.2.3 - ", "abc", "^", ">=1.2.3 <", "1.2.3-", "1.2.3 garbage"};
	for (size_t i = 0; i < DD_ARRAY_LEN(bad); i++)
		if (in_range(SV_NPM, bad[i], "1.0.0") != -1) {
			fprintf(stderr, "  range '%s' read\n", bad[i]);
			unit_failures_in_test++;
		}
	/* sets: RustSec's "neither patched nor unaffected", and their OSV ranges */
	struct arena a = {0};
	struct sv_set p, u, both, s;
	const char *why;
	CHECK(!sv_parse(&a, ">= 1.5.1", SV_CARGO, &p, &why) && !sv_parse(&a, "< 1.0.0", SV_CARGO, &u, &why));
	sv_union(&a, &p, &u, &both);
	sv_complement(&a, &both, &s);
	CHECK(s.n == 1 && sv_contains(&s, "1.0.0") && sv_contains(&s, "1.5.0") && !sv_contains(&s, "1.5.1") &&
	      !sv_contains(&s, "0.9.9"));
	struct osv_range *r;
	size_t nr;
	sv_to_osv(&a, &s, &r, &nr);
	CHECK(nr == 1 && r[0].nevents == 2 && !strcmp(r[0].events[0].version, "1.0.0") &&
	      r[0].events[1].kind == OSV_FIXED && !strcmp(r[0].events[1].version, "1.5.1"));
	CHECK(!sv_parse(&a, ">1.2.3 <=2.0.0", SV_NPM, &s, &why));
	sv_to_osv(&a, &s, &r, &nr);
	CHECK(nr == 1 && !strcmp(r[0].events[0].version, "1.2.4-0") && r[0].events[1].kind == OSV_LAST_AFFECTED);
	CHECK(!sv_parse(&a, "8.x || 7.x", SV_NPM, &p, &why) && !sv_parse(&a, "^8.1.4 || ^7.10.1", SV_NPM, &u, &why));
	sv_complement(&a, &u, &both);
	sv_intersect(&a, &p, &both, &s);
	CHECK(s.n == 2 && sv_contains(&s, "8.1.3") && !sv_contains(&s, "8.1.4") && sv_contains(&s, "7.10.0") &&
	      !sv_contains(&s, "7.10.1") && !sv_contains(&s, "9.0.0"));
	arena_free(&a);
}

/* The non-OSV language feeds' records, as the files of ../shared/vulndata/languages write them. */
static void test_language_feeds(void)
{
	struct arena a = {0};
	struct osv_record r;
	const char *why;
	size_t skipped;
	const char *npm = "{\"id\":1,\"updated_at\":\"2016-04-28\",\"title\":\"Arbitrary JavaScript Execution\","
			  "\"module_name\":\"bassmaster\",\"publish_date\":\"2014-09-27\",\"cves\":[\"CVE-2014-7205\"],"
			  "\"vulnerable_versions\":\"<=1.5.1\",\"patched_versions\":\">=1.5.2\","
			  "\"cvss_vector\":\"CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:L/A:N\"}";
	CHECK(!npmwg_parse(&a, npm, strlen(npm), &r, &why));
	CHECK(!strcmp(r.id, "CVE-2014-7205") && r.naliases == 1 && !strcmp(r.aliases[0], "NSWG-ECO-1"));
	CHECK(r.naffected == 1 && !strcmp(r.affected[0].ecosystem, "npm") && !strcmp(r.affected[0].name, "bassmaster"));
	CHECK(r.affected[0].nranges == 1 && r.affected[0].ranges[0].events[1].kind == OSV_LAST_AFFECTED &&
	      !strcmp(r.affected[0].ranges[0].events[1].version, "1.5.1") && r.cvss_v3);
	const char *core = "{\"cve\":[\"CVE-2017-1000381\"],\"vulnerable\":\"8.x || 7.x\","
			   "\"patched\":\"^8.1.4 || ^7.10.1\",\"description\":\"memory overread\",\"severity\":\"high\","
			   "\"_file\":\"1.json\"}";
	CHECK(!nodecore_parse(&a, core, strlen(core), &r, &why));
	CHECK(!strcmp(r.id, "CVE-2017-1000381") && !strcmp(r.aliases[0], "NSWG-CORE-1") &&
	      !strcmp(r.affected[0].ecosystem, "Node.js") && r.affected[0].nranges == 2 && !strcmp(r.severity, "high"));
	const char *rust = "{\"advisory\":{\"id\":\"RUSTSEC-2020-0105\",\"package\":\"abi_stable\",\"aliases\":"
			   "[\"CVE-2020-36212\",\"GHSA-vq23-5h4f-vwpv\"],\"date\":\"2020-12-21\"},"
			   "\"versions\":{\"patched\":[\">= 0.9.1\"]},\"markdown\":\"\\n# Update unsound DrainFilter\\nbody\"}";
	CHECK(!rustsec_parse(&a, rust, strlen(rust), &r, &skipped, &why) && !skipped);
	CHECK(!strcmp(r.id, "CVE-2020-36212") && r.naliases == 2 && !strcmp(r.summary, "Update unsound DrainFilter"));
	CHECK(!strcmp(r.affected[0].ecosystem, "crates.io") && r.affected[0].ranges[0].nevents == 2 &&
	      !strcmp(r.affected[0].ranges[0].events[0].version, "0") &&
	      !strcmp(r.affected[0].ranges[0].events[1].version, "0.9.1"));
	const char *info = "{\"advisory\":{\"id\":\"RUSTSEC-2021-0001\",\"package\":\"x\",\"informational\":"
			   "\"unmaintained\"},\"versions\":{\"patched\":[]}}";
	CHECK(!rustsec_parse(&a, info, strlen(info), &r, &skipped, &why) && skipped == 1);
	const char *badrange = "{\"advisory\":{\"id\":\"RUSTSEC-2021-0002\",\"package\":\"x\"},"
			       "\"versions\":{\"patched\":[\">= banana\"]}}";
	CHECK(rustsec_parse(&a, badrange, strlen(badrange), &r, &skipped, &why) == DD_E_FEED_INVALID && why &&
	      strstr(why, "versions.patched[0]"));
	arena_free(&a);
}

/* Maven's order: the sequences of Maven's own ComparableVersion tests, each strictly
 * ascending, and its equal spellings. */
static void maven_ascending(const char *const *v, size_t n)
{
	const char *why;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++) {
			int c = 2;
			CHECK(!version_compare(VERSION_MAVEN, v[i], strlen(v[i]), v[j], strlen(v[j]), &c, &why));
			int want = i < j ? -1 : i > j;
			if (c != want)
				fprintf(stderr, "  maven %s vs %s: %d, want %d\n", v[i], v[j], c, want);
			CHECK(c == want);
		}
}

static void test_maven_order(void)
{
	static const char *const qualifiers[] = {
		"1-alpha2snapshot", "1-alpha2", "1-alpha-123", "1-beta-2", "1-beta123", "1-m2", "1-m11", "1-rc", "1-cr2",
		"1-rc123", "1-SNAPSHOT", "1", "1-sp", "1-sp2", "1-sp123", "1-abc", "1-def", "1-pom-1", "1-1-snapshot",
		"1-1", "1-2", "1-123"};
	static const char *const numbers[] = {"2.0", "2-1", "2.0.a", "2.0.0.a", "2.0.2", "2.0.123", "2.1.0", "2.1-a",
					      "2.1b", "2.1-c", "2.1-1", "2.1.0.1", "2.2", "2.123", "11.a2", "11.a11",
					      "11.b2", "11.b11", "11.m2", "11.m11", "11", "11.a", "11b", "11c", "11m"};
	maven_ascending(qualifiers, DD_ARRAY_LEN(qualifiers));
	maven_ascending(numbers, DD_ARRAY_LEN(numbers));
	/* the issue's example, and log4j's releases around Log4Shell */
	static const char *const log4j[] = {"2.0-alpha1", "2.0-beta9", "2.0-rc1", "2.0", "2.0-sp", "2.3.1", "2.12.2",
					    "2.14.1", "2.15.0", "2.16.0", "2.17.1"};
	maven_ascending(log4j, DD_ARRAY_LEN(log4j));
	static const char *const same[][2] = {{"1", "1.0"}, {"1", "1.0.0"}, {"1.0-ga", "1"}, {"1final", "1"}, {"1-release", "1"},
					      {"1cr", "1rc"}, {"1a1", "1-alpha-1"}, {"1b2", "1-beta-2"}, {"1m3", "1-milestone-3"},
					      {"1X", "1x"}, {"1.0.0-0", "1"}, {"007", "7"}};
	for (size_t i = 0; i < DD_ARRAY_LEN(same); i++) {
		int c = 2;
		const char *why;
		CHECK(!version_compare(VERSION_MAVEN, same[i][0], strlen(same[i][0]), same[i][1], strlen(same[i][1]), &c, &why));
		if (c)
			fprintf(stderr, "  maven %s vs %s: %d, want 0\n", same[i][0], same[i][1], c);
		CHECK(c == 0);
	}
	const char *why;
	CHECK(version_validate(VERSION_MAVEN, "1.0 beta", 8, &why) == DD_E_VERSION_INVALID);
	CHECK(version_validate(VERSION_MAVEN, "", 0, &why) == DD_E_VERSION_INVALID);
	char big[300];
	memset(big, '1', sizeof(big));
	CHECK(version_validate(VERSION_MAVEN, big, sizeof(big), &why) == DD_E_VERSION_INVALID);
	memset(big, 0, sizeof(big));
	for (size_t i = 0; i + 2 < 256; i += 2)
		memcpy(big + i, "x.", 2); /* the most qualifiers one version can hold */
	CHECK(!version_validate(VERSION_MAVEN, big, strlen(big), &why));
}

void suite_version(void)
{
	RUN(test_maven_order);
	RUN(test_dpkg_basics);
	RUN(test_rpm_basics);
	RUN(test_apk_basics);
	RUN(test_dpkg_upstream_table);
	RUN(test_rpm_upstream_table);
	RUN(test_rpm_claircore_table);
	RUN(test_apk_upstream_table);
	RUN(test_apk_validity_table);
	RUN(test_semver_ranges);
	RUN(test_language_feeds);
}
