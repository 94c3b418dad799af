/* main.c: runs every unit suite and prints "N passed, N failed". */
#include "unit.h"
#include "common/log.h"
#include "common/util.h"

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

const char *unit_shared(void)
{
	const char *s = getenv("DRYDOCK_SHARED");
	return s && *s ? s : "../shared";
}

int unit_shared_file(const char *rel, char **data, size_t *len)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", unit_shared(), rel);
	if (util_read_file(path, 256 << 20, data, len)) {
		fprintf(stderr, "  skipped: '%s' not found (set DRYDOCK_SHARED)\n", path);
		return -1;
	}
	return 0;
}

/* Every directory handed out is removed when the run ends (UNIT_KEEP=1 keeps them to look at). */
static char *tmpdirs[256];
static int ntmpdirs;

char *unit_tmpdir(void)
{
	char tmpl[] = "/tmp/drydock-unit-XXXXXX";
	char *d = mkdtemp(tmpl);
	if (!d || ntmpdirs == (int)(sizeof(tmpdirs) / sizeof(tmpdirs[0])))
		abort();
	tmpdirs[ntmpdirs++] = strdup(d);
	return strdup(d);
}

static void remove_tmpdirs(void)
{
	for (int i = 0; i < ntmpdirs; i++) {
		if (!getenv("UNIT_KEEP"))
			util_rmtree(tmpdirs[i]);
		free(tmpdirs[i]);
	}
}

int main(void)
{
	/* Tests provoke errors on purpose (damaged rows, damaged databases) and check the codes the
	 * code returns: the log would print them as if something had gone wrong. UNIT_VERBOSE=1
	 * shows them. */
	if (!getenv("UNIT_VERBOSE"))
		log_set_level(LOG_OFF);
	suite_common();
	suite_names();
	suite_range();
	suite_manifest();
	suite_stores();
	suite_version();
	suite_match();
	suite_alpine();
	suite_findings();
	suite_auth();
	suite_rules();
	suite_http1();
	suite_azure();
	suite_query();
	suite_lang();
	remove_tmpdirs();
	printf("unit: %d passed, %d failed\n", unit_passed, unit_failed);
	return unit_failed ? 1 : 0;
}
