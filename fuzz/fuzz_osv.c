/* fuzz_osv.c: the OSV record parser and range evaluation. A parsed record yields ids and
 * affected entries with names; matching any of its versions either works or fails with a
 * reason, and a version found affected by a range with a fix lies below that fix. */
#include "common/dd.h"
#include "common/arena.h"
#include "scan/match.h"
#include "vulndb/osv.h"
#include "fuzz.h"

int fuzz_osv(const uint8_t *data, size_t size)
{
	char *copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	struct arena a = {0};
	struct osv_record r;
	const char *why;
	if (osv_parse(&a, copy, size, &r, &why) == 0) {
		if (!r.id)
			abort();
		for (size_t i = 0; i < r.naffected; i++) {
			struct osv_affected *x = &r.affected[i];
			if (!x->name || !x->ecosystem)
				abort();
			for (size_t k = 0; k < x->nranges; k++)
				for (size_t e = 0; e < x->ranges[k].nevents; e++) {
					struct match_result m;
					const char *v = x->ranges[k].events[e].version;
					enum version_scheme s;
					if (osv_match(x, v, &m, &why) == 0 && m.affected && m.fixed &&
					    !osv_ecosystem_scheme(x->ecosystem, &s)) {
						int c;
						if (!version_compare(s, v, strlen(v), m.fixed, strlen(m.fixed), &c, &why) && c >= 0)
							abort();
					}
				}
		}
	} else if (!why || !*why)
		abort();
	arena_free(&a);
	free(copy);
	return 0;
}
DD_FUZZ_ENTRY(fuzz_osv)
