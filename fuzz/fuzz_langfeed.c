/* fuzz_langfeed.c: the non-OSV language feeds' records (Node.js working group, RustSec) and the
 * npm and Cargo version ranges they hold. Invariants: every version an OSV range is given is a
 * valid SemVer version; a range's set holds its own lower bound when that is inclusive. */
#include "common/dd.h"
#include "common/arena.h"
#include "version/version.h"
#include "vulndb/langfeeds.h"
#include "vulndb/semver_range.h"
#include "fuzz.h"

static void check_record(const struct osv_record *r)
{
	const char *why;
	for (size_t i = 0; i < r->naffected; i++)
		for (size_t k = 0; k < r->affected[i].nranges; k++)
			for (size_t e = 0; e < r->affected[i].ranges[k].nevents; e++) {
				const char *v = r->affected[i].ranges[k].events[e].version;
				if (strcmp(v, "0") && go_version_valid(v, strlen(v), &why))
					abort();
			}
}

int fuzz_langfeed(const uint8_t *data, size_t size)
{
	struct arena a = {0};
	struct osv_record r;
	const char *why;
	size_t skipped;
	if (!npmwg_parse(&a, (const char *)data, size, &r, &why))
		check_record(&r);
	if (!nodecore_parse(&a, (const char *)data, size, &r, &why))
		check_record(&r);
	if (!rustsec_parse(&a, (const char *)data, size, &r, &skipped, &why) && !skipped)
		check_record(&r);
	char *text = arena_strndup(&a, (const char *)data, size);
	for (int d = 0; d < 2; d++) {
		struct sv_set s;
		if (sv_parse(&a, text, d ? SV_CARGO : SV_NPM, &s, &why))
			continue;
		for (size_t i = 0; i < s.n; i++) {
			if (s.v[i].lo.v && s.v[i].lo.incl && !sv_contains(&s, s.v[i].lo.v))
				abort();
			if (i && (!s.v[i].lo.v || !s.v[i - 1].hi.v))
				abort(); /* sorted and merged: only the first is open below, only the last above */
		}
		struct osv_range *or;
		size_t n;
		sv_to_osv(&a, &s, &or, &n);
		struct osv_record rec = {.naffected = 1};
		struct osv_affected af = {.ranges = or, .nranges = n};
		rec.affected = &af;
		check_record(&rec);
	}
	arena_free(&a);
	return 0;
}
DD_FUZZ_ENTRY(fuzz_langfeed)
