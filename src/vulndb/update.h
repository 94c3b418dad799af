/* update.h: `drydock db update`: download the default feeds (or the same paths under a
 * mirror) into a feeds/ directory beside the database, then build the database from them. */
#ifndef DD_UPDATE_H
#define DD_UPDATE_H
#include <stdio.h>

/* Downloads every feed with libcurl (conditional GET against the copy already held, resume of
 * a partial download, progress on a terminal), then builds `path` atomically from what was
 * fetched. When nothing could be downloaded and fallback_dir is set, imports it instead.
 * Says on `log` what it did. 0, or an error code (the previous database stays in place). */
int vulndb_update(const char *path, const char *mirror, const char *fallback_dir, FILE *log);

#endif
