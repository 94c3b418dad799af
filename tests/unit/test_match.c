/* test_match.c: OSV parsing and range semantics in each ecosystem's order. */
#include "unit.h"
#include "common/arena.h"
#include "common/util.h"
#include "inventory/inventory.h"
#include "scan/match.h"
#include "vulndb/alpine.h"
#include "vulndb/osv.h"

/* Builds an affected entry from "kind:version" strings (i introduced, f fixed, l
 * last_affected, x limit), one range. */
static struct osv_affected one_range(struct arena *a, const char *eco, const char *const *ev, size_t n)
{
	struct osv_affected x = {.ecosystem = eco, .name = "p"};
	x.ranges = arena_alloc(a, sizeof(*x.ranges));
	x.nranges = 1;
	x.ranges[0].type = OSV_RANGE_ECOSYSTEM;
	x.ranges[0].events = arena_alloc(a, n * sizeof(struct osv_event));
	x.ranges[0].nevents = n;
	for (size_t i = 0; i < n; i++) {
		x.ranges[0].events[i].kind = ev[i][0] == 'i' ? OSV_INTRODUCED : ev[i][0] == 'f' ? OSV_FIXED
					     : ev[i][0] == 'l' ? OSV_LAST_AFFECTED : OSV_LIMIT;
		x.ranges[0].events[i].version = ev[i] + 2;
	}
	return x;
}

static int hit(const struct osv_affected *x, const char *v, const char **fixed)
{
	struct match_result r;
	const char *why;
	if (osv_match(x, v, &r, &why))
		return -1;
	*fixed = r.fixed;
	return r.affected;
}

static void test_osv_ranges(void)
{
	struct arena a = {0};
	const char *fixed;
	const char *deb[] = {"i:0", "f:2.36-9+deb12u3"};
	struct osv_affected x = one_range(&a, "Debian:12", deb, 2);
	CHECK(hit(&x, "2.36-9+deb12u2", &fixed) == 1 && fixed && !strcmp(fixed, "2.36-9+deb12u3"));
	CHECK(hit(&x, "2.36-9+deb12u3", &fixed) == 0);
	CHECK(hit(&x, "2.36-9+deb12u10", &fixed) == 0); /* dpkg order, not string order */
	CHECK(hit(&x, "2.36-9", &fixed) == 1);
	/* unfixed: every version, no fixed version */
	const char *open[] = {"i:0"};
	x = one_range(&a, "Debian:12", open, 1);
	CHECK(hit(&x, "1:99", &fixed) == 1 && fixed == NULL);
	/* Alpine's "0": never affected */
	const char *zero[] = {"i:0", "f:0"};
	x = one_range(&a, "Alpine:v3.18", zero, 2);
	CHECK(hit(&x, "1.0-r0", &fixed) == 0);
	/* two windows, events given out of order */
	const char *two[] = {"f:2.5-r0", "i:2.0-r0", "f:1.5-r0", "i:1.0-r0"};
	x = one_range(&a, "Alpine:v3.18", two, 4);
	CHECK(hit(&x, "0.9-r0", &fixed) == 0);
	CHECK(hit(&x, "1.2-r0", &fixed) == 1 && !strcmp(fixed, "1.5-r0"));
	CHECK(hit(&x, "1.7-r0", &fixed) == 0);
	CHECK(hit(&x, "2.2-r0", &fixed) == 1 && !strcmp(fixed, "2.5-r0"));
	CHECK(hit(&x, "2.5-r0", &fixed) == 0);
	/* last_affected: up to and including it, and no known fix */
	const char *last[] = {"i:1:1.0-1.el9", "l:1:1.4-1.el9"};
	x = one_range(&a, "Rocky Linux:9", last, 2);
	CHECK(hit(&x, "1:1.4-1.el9", &fixed) == 1 && fixed == NULL);
	CHECK(hit(&x, "1:1.4-2.el9", &fixed) == 0);
	CHECK(hit(&x, "1.9-1.el9", &fixed) == 0); /* epoch 0 < 1 */
	/* limit bounds the range */
	const char *lim[] = {"i:0", "x:3.0"};
	x = one_range(&a, "Debian:12", lim, 2);
	CHECK(hit(&x, "2.9", &fixed) == 1);
	CHECK(hit(&x, "3.0", &fixed) == 0);
	/* explicit versions */
	x = one_range(&a, "Debian:12", deb, 0);
	const char *vs[] = {"1.0-1"};
	x.versions = vs;
	x.nversions = 1;
	CHECK(hit(&x, "1.0-1", &fixed) == 1 && hit(&x, "1.0-2", &fixed) == 0);
	/* an unknown ecosystem or an invalid installed version is an error, not "not affected" */
	x = one_range(&a, "Hackage", deb, 2);
	CHECK(hit(&x, "1.0", &fixed) == -1);
	x = one_range(&a, "Debian:12", deb, 2);
	CHECK(hit(&x, "not a version", &fixed) == -1);
	arena_free(&a);
}

static void test_osv_parse(void)
{
	struct arena a = {0};
	struct osv_record r;
	const char *why;
	const char *rec = "{\"id\":\"CVE-2023-4911\",\"related\":[\"DSA-5514-1\"],\"details\":\"d\","
			  "\"severity\":[{\"type\":\"CVSS_V3\",\"score\":\"CVSS:3.1/AV:L\"}],"
			  "\"references\":[{\"type\":\"WEB\",\"url\":\"https://example.org\"}],"
			  "\"affected\":[{\"package\":{\"ecosystem\":\"Debian:12\",\"name\":\"glibc\"},"
			  "\"ranges\":[{\"type\":\"ECOSYSTEM\",\"events\":[{\"introduced\":\"0\"},{\"fixed\":\"2.36-9+deb12u3\"}]}],"
			  "\"ecosystem_specific\":{\"urgency\":\"not yet assigned\"}},"
			  "{\"package\":{},\"ranges\":[{\"type\":\"GIT\",\"repo\":\"x\",\"events\":[{\"introduced\":\"abc\"}]}]}]}";
	CHECK(osv_parse(&a, rec, strlen(rec), &r, &why) == 0);
	CHECK_STR(r.id, "CVE-2023-4911");
	CHECK(r.nrelated == 1 && !strcmp(r.related[0], "DSA-5514-1"));
	CHECK_STR(r.cvss_v3, "CVSS:3.1/AV:L");
	CHECK(r.nreferences == 1);
	CHECK(r.naffected == 1); /* the GIT-only entry has no package */
	CHECK_STR(r.affected[0].name, "glibc");
	CHECK_STR(r.affected[0].urgency, "not yet assigned");
	CHECK(r.affected[0].nranges == 1 && r.affected[0].ranges[0].nevents == 2);
	const char *bad[] = {"", "[]", "{}", "{\"id\":\"x\",\"affected\":{}}",
			     "{\"id\":\"x\",\"affected\":[{\"package\":{\"ecosystem\":\"Debian:12\",\"name\":\"p\"},"
			     "\"ranges\":[{\"type\":\"ECOSYSTEM\",\"events\":[{\"bogus\":\"1\"}]}]}]}",
			     "{\"id\":\"x\",\"affected\":[{\"ranges\":[{\"type\":\"WHAT\",\"events\":[]}]}]}"};
	for (size_t i = 0; i < DD_ARRAY_LEN(bad); i++) {
		CHECK(osv_parse(&a, bad[i], strlen(bad[i]), &r, &why) == DD_E_FEED_INVALID);
		CHECK(why && *why);
	}
	arena_free(&a);
}

/* The real record of ../shared/vulndata (skipped when absent): glibc in bookworm. */
static void test_osv_real_record(void)
{
	char *buf;
	size_t n;
	if (unit_shared_file("vulndata/debian-osv/examples/CVE-2023-4911.json", &buf, &n))
		return;
	struct arena a = {0};
	struct osv_record r;
	const char *why;
	CHECK(osv_parse(&a, buf, n, &r, &why) == 0);
	int seen = 0;
	for (size_t i = 0; i < r.naffected; i++) {
		if (strcmp(r.affected[i].ecosystem, "Debian:12"))
			continue;
		seen = 1;
		CHECK_STR(r.affected[i].name, "glibc");
		const char *fixed;
		CHECK(hit(&r.affected[i], "2.36-9+deb12u1", &fixed) == 1 && !strcmp(fixed, "2.36-9+deb12u3"));
		CHECK(hit(&r.affected[i], "2.36-9+deb12u4", &fixed) == 0);
	}
	CHECK(seen);
	free(buf);
	arena_free(&a);
}

void suite_match(void)
{
	RUN(test_osv_real_record);
	RUN(test_osv_ranges);
	RUN(test_osv_parse);
}

/* Alpine secdb from ../shared/vulndata (skipped when absent): openssl in v3.18. */
static void test_alpine_secdb(void)
{
	char *data;
	size_t len;
	if (unit_shared_file("vulndata/alpine-secdb/v3.18/main.json", &data, &len))
		return;
	struct arena a = {0};
	struct alpine_secdb db;
	const char *why;
	CHECK(alpine_secdb_parse(&a, data, len, &db, &why) == 0);
	CHECK_STR(db.branch, "v3.18");
	CHECK_STR(db.repo, "main");
	CHECK(db.n > 1000);
	int found = 0, never = 0;
	for (size_t i = 0; i < db.n; i++) {
		struct osv_affected *x = &db.records[i].affected[0];
		if (strcmp(x->name, "openssl"))
			continue;
		struct match_result m;
		if (!strcmp(db.records[i].id, "CVE-2023-2650")) { /* fixed in 3.1.1-r0 */
			found = 1;
			CHECK(osv_match(x, "3.1.0-r0", &m, &why) == 0 && m.affected && !strcmp(m.fixed, "3.1.1-r0"));
			CHECK(osv_match(x, "3.1.1-r0", &m, &why) == 0 && !m.affected);
		}
		if (!strcmp(db.records[i].id, "CVE-2022-1292")) { /* listed under "0": never affected */
			never = 1;
			CHECK(osv_match(x, "1.0-r0", &m, &why) == 0 && !m.affected);
		}
	}
	CHECK(found && never);
	free(data);
	arena_free(&a);
}

static void test_alpine_quirks(void)
{
	struct arena a = {0};
	struct alpine_secdb db;
	const char *why;
	const char *j = "{\"distroversion\":\"v3.8\",\"reponame\":\"main\",\"packages\":["
			"{\"pkg\":{\"name\":\"irssi\",\"secfixes\":{\"0.8.21.r2\":[\"CVE-2017-5193\"],"
			"\"1.1.1-r0\":[\"CVE-2017-2887 TALOS-2017-0394\",\"XSA-1\"]}}}]}";
	CHECK(alpine_secdb_parse(&a, j, strlen(j), &db, &why) == 0);
	CHECK(db.skipped == 1); /* not an apk version: skipped, never "unfixed" */
	CHECK(db.n == 3);
	CHECK_STR(db.records[0].id, "CVE-2017-2887");
	CHECK_STR(db.records[1].id, "TALOS-2017-0394");
	CHECK_STR(db.records[2].id, "XSA-1");
	CHECK_STR(db.records[0].affected[0].ecosystem, "Alpine:v3.8");
	CHECK(alpine_secdb_parse(&a, "{}", 2, &db, &why) == DD_E_FEED_INVALID);
	arena_free(&a);
}

void suite_alpine(void)
{
	RUN(test_alpine_secdb);
	RUN(test_alpine_quirks);
}
