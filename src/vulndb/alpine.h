/* alpine.h: Alpine's secdb JSON (one file per branch and repository) turned into OSV-shaped
 * records, so one matcher serves every feed: each (origin package, id) becomes a record whose
 * affected entry is {ecosystem "Alpine:vX.Y", name origin, range introduced "0" .. fixed V}.
 * A fixed version "0" means "never affected" and stays so. secdb lists only fixes: it has no
 * unfixed entries and no severity. */
#ifndef DD_ALPINE_H
#define DD_ALPINE_H
#include "vulndb/osv.h"

struct alpine_secdb {
	const char *branch; /* "v3.18", "edge" */
	const char *repo;   /* "main", "community" */
	struct osv_record *records;
	size_t n;
	size_t skipped; /* entries whose fixed version is not a valid apk version */
};

/* 0, or DD_E_FEED_INVALID with *why. */
int alpine_secdb_parse(struct arena *a, const char *data, size_t len, struct alpine_secdb *out, const char **why);

#endif
