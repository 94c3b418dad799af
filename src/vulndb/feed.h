/* feed.h: reading feed files as the snapshots and the live downloads come: JSON Lines, plain
 * or compressed (xz, gzip, zstd, through libarchive's raw format: no new library), one
 * record at a time, each bounded. */
#ifndef DD_FEED_H
#define DD_FEED_H
#include <stddef.h>

/* Calls fn for every non-empty line of the file (the line is not NUL-terminated). fn returns
 * 0 to go on, anything else to stop with that code. 0, DD_E_IO, DD_E_TOO_LARGE (a line over
 * the limit) or fn's code; *why says which line or what failed (static or arena-free text). */
int feed_read_lines(const char *path, int (*fn)(void *ctx, const char *line, size_t len), void *ctx,
		    const char **why);

/* Calls fn for each file of a zip or tar archive (the osv.dev all.zip exports), or once for a
 * plain or compressed single file (name "data"); each file is read whole, at most max bytes.
 * fn returns nonzero to stop. 0, DD_E_IO, DD_E_TOO_LARGE or fn's code, with *why. */
int feed_read_files(const char *path, size_t max,
		    int (*fn)(void *ctx, const char *name, const char *data, size_t len), void *ctx,
		    const char **why);

#endif
