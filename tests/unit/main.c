/* main.c: runs every unit suite and prints "N passed, N failed". */
#include "unit.h"

int unit_failures_in_test, unit_passed, unit_failed;

void unit_run(const char *name, void (*fn)(void))
{
	unit_failures_in_test = 0;
	fn();
	if (unit_failures_in_test) {
		unit_failed++;
		fprintf(stderr, "FAIL %s\n", name);
	} else {
		unit_passed++;
		if (getenv("UNIT_VERBOSE"))
			fprintf(stderr, "ok   %s\n", name);
	}
}

char *unit_tmpdir(void)
{
	char tmpl[] = "/tmp/drydock-unit-XXXXXX";
	char *d = mkdtemp(tmpl);
	if (!d)
		abort();
	return strdup(d);
}

int main(void)
{
	suite_common();
	suite_names();
	suite_range();
	suite_manifest();
	suite_stores();
	suite_version();
	suite_match();
	suite_alpine();
	suite_match_inventory();
	printf("unit: %d passed, %d failed\n", unit_passed, unit_failed);
	return unit_failed ? 1 : 0;
}
