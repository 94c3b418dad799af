/* test_version.c: dpkg, rpm and apk version ordering: a few cases of our own always, and the
 * upstream tables of ../shared/testdata/version when that folder is there (DRYDOCK_SHARED
 * overrides where it is; without it those tests say they were skipped). */
#include "unit.h"
#include "version/version.h"

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

void suite_version(void)
{
	RUN(test_dpkg_basics);
	RUN(test_rpm_basics);
	RUN(test_apk_basics);
	RUN(test_dpkg_upstream_table);
	RUN(test_rpm_upstream_table);
	RUN(test_rpm_claircore_table);
	RUN(test_apk_upstream_table);
	RUN(test_apk_validity_table);
}
