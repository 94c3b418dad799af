/* fuzz_secdb.c: the Alpine secdb parser and the known-exploited catalogue's (the two JSON
 * documents that are not OSV). Every secdb record it yields has an id, the origin as its name,
 * and a fixed version that is "0" or a valid apk version; every catalogue entry a CVE id and a
 * date of the forms the parser promises. */
#include "common/dd.h"
#include "common/arena.h"
#include "version/version.h"
#include "vulndb/alpine.h"
#include "vulndb/kev.h"
#include "fuzz.h"

static void check_kev(void *ctx, const struct kev_entry *e)
{
	(void)ctx;
	if (strncmp(e->cve, "CVE-", 4) || strlen(e->cve) < 13 || strlen(e->date_added) != 10 ||
	    (*e->due_date && strlen(e->due_date) != 10) || !e->action || !e->name)
		abort();
}

int fuzz_secdb(const uint8_t *data, size_t size)
{
	char *copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	struct arena a = {0};
	struct alpine_secdb db;
	const char *why;
	if (alpine_secdb_parse(&a, copy, size, &db, &why) == 0) {
		for (size_t i = 0; i < db.n; i++) {
			const struct osv_affected *x = &db.records[i].affected[0];
			const char *fixed = x->ranges[0].events[1].version;
			if (!*db.records[i].id || !x->name || (strcmp(fixed, "0") && !apk_version_valid(fixed, strlen(fixed))))
				abort();
		}
	} else if (!why || !*why)
		abort();
	size_t skipped;
	if (kev_parse(&a, copy, size, check_kev, NULL, &skipped, &why) && (!why || !*why))
		abort();
	arena_free(&a);
	free(copy);
	return 0;
}
DD_FUZZ_ENTRY(fuzz_secdb)
