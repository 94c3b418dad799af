/* test_rules.c: what decides whether an assessment's stored counts stand (assess/rules.c):
 * the counts string written with each assessment, and whether any rule covers a repository. */
#include "unit.h"
#include "assess/rules.h"

static void test_counts_parse(void)
{
	long long by[6], unfixed;
	CHECK(counts_parse("1 2 3 4 5 6 7", by, &unfixed));
	CHECK(by[5] == 1 && by[4] == 2 && by[3] == 3 && by[2] == 4 && by[1] == 5 && by[0] == 6 && unfixed == 7);
	CHECK(counts_parse("0 0 0 0 0 0 0", by, &unfixed) && unfixed == 0);
	/* absent (stored before counts were) or malformed: read the report instead */
	static const char *const bad[] = {"",          "1 2 3 4 5 6",   "1 2 3 4 5 6 7 8", "1 2 3 4 5 6 x",
					  " 1 2 3 4 5 6 7", "1  2 3 4 5 6 7", "-1 2 3 4 5 6 7", "1 2 3 4 5 6 7 ",
					  "99999999999999999999 0 0 0 0 0 0"};
	for (size_t i = 0; i < DD_ARRAY_LEN(bad); i++)
		CHECK(!counts_parse(bad[i], by, &unfixed));
	CHECK(!counts_parse(NULL, by, &unfixed));
}

static void test_rules_cover(void)
{
	struct rule rules[] = {{.id = "a", .vulnerability = "CVE-1", .repository = "team/*", .reason = "x"},
			       {.id = "b", .package = "zlib", .repository = "other/app", .reason = "y"}};
	CHECK(rules_cover(rules, 2, "team/app") && rules_cover(rules, 2, "team/a/b") && rules_cover(rules, 2, "other/app"));
	CHECK(!rules_cover(rules, 2, "other/web") && !rules_cover(rules, 2, "teams/app") && !rules_cover(rules, 0, "team/app"));
	struct rule everywhere = {.id = "c", .severity = "LOW", .reason = "z"}; /* no repository: every one */
	CHECK(rules_cover(&everywhere, 1, "any/thing"));
}

void suite_rules(void)
{
	RUN(test_counts_parse);
	RUN(test_rules_cover);
}
