/* fuzz_distro.c: the Debian tracker JSON and Ubuntu CVE tracker readers, and the CVSS v3
 * scorer. The first byte picks the target. Every record yielded names a known release
 * ecosystem and a package, starts its range at "0", and any fixed version is "0" or a valid
 * dpkg version; every score is within 0..10. */
#include "common/dd.h"
#include "common/arena.h"
#include "version/version.h"
#include "vulndb/distro.h"
#include "vulndb/vulndb.h"
#include "fuzz.h"

static void check(const struct osv_record *r, const char *prefix)
{
	if (!r->id || !*r->id)
		abort();
	for (size_t i = 0; i < r->naffected; i++) {
		const struct osv_affected *x = &r->affected[i];
		const char *why;
		if (strncmp(x->ecosystem, prefix, strlen(prefix)) || !x->name || x->nranges != 1)
			abort();
		const struct osv_range *g = &x->ranges[0];
		if (g->nevents < 1 || g->events[0].kind != OSV_INTRODUCED || strcmp(g->events[0].version, "0"))
			abort();
		if (g->nevents == 2 && strcmp(g->events[1].version, "0") &&
		    version_validate(VERSION_DPKG, g->events[1].version, strlen(g->events[1].version), &why))
			abort();
	}
}

static int on_tracker(void *ctx, const struct osv_record *r)
{
	(void)ctx;
	check(r, "Debian:");
	return 0;
}

int fuzz_distro(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	char *copy = malloc(size);
	if (!copy)
		return 0;
	memcpy(copy, data + 1, size - 1);
	copy[size - 1] = 0;
	struct arena a = {0};
	const char *why = NULL;
	size_t skipped;
	switch (data[0] % 3) {
	case 0:
		if (debian_tracker_parse(&a, copy, size - 1, on_tracker, NULL, &skipped, &why) && (!why || !*why))
			abort();
		break;
	case 1: {
		struct osv_record r;
		if (ubuntu_uct_parse(&a, copy, size - 1, &r, &skipped, &why) == 0)
			check(&r, "Ubuntu:");
		else if (!why || !*why)
			abort();
		break;
	}
	default: {
		double s;
		if (vdb_cvss3_score(copy, &s) == 0 && (s < 0 || s > 10))
			abort();
		vdb_severity_from_vendor(copy);
	}
	}
	arena_free(&a);
	free(copy);
	return 0;
}
DD_FUZZ_ENTRY(fuzz_distro)
