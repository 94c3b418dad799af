/* feed.c: line reader over libarchive's raw format, so .xz, .gz, .zst and plain files read
 * alike. Lines are assembled in a capped buffer. */
#include "common/dd.h"
#include "feed.h"
#include "common/buf.h"
#include <archive.h>

/* One feed record (an OSV record with a long `versions` list can reach a few MiB). */
#define FEED_MAX_LINE (32 * 1024 * 1024)

int feed_read_lines(const char *path, int (*fn)(void *ctx, const char *line, size_t len), void *ctx,
		    const char **why)
{
	static __thread char msg[512];
	*why = NULL;
	struct archive *ar = archive_read_new();
	if (!ar)
		return DD_E_NOMEM;
	archive_read_support_filter_all(ar);
	archive_read_support_format_raw(ar);
	struct buf line;
	buf_init(&line, FEED_MAX_LINE);
	int rc = 0;
	struct archive_entry *ent;
	if (archive_read_open_filename(ar, path, 1 << 20) != ARCHIVE_OK ||
	    archive_read_next_header(ar, &ent) != ARCHIVE_OK) {
		snprintf(msg, sizeof(msg), "cannot read feed '%s': %s", path, archive_error_string(ar));
		*why = msg;
		rc = DD_E_IO;
		goto out;
	}
	size_t lineno = 0;
	char chunk[1 << 16];
	for (;;) {
		la_ssize_t n = archive_read_data(ar, chunk, sizeof(chunk));
		if (n < 0) {
			snprintf(msg, sizeof(msg), "feed '%s' is damaged: %s", path, archive_error_string(ar));
			*why = msg;
			rc = DD_E_IO;
			goto out;
		}
		if (n == 0)
			break;
		const char *p = chunk, *end = chunk + n;
		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t k = nl ? (size_t)(nl - p) : (size_t)(end - p);
			if (buf_append(&line, p, k)) {
				snprintf(msg, sizeof(msg), "feed '%s' line %zu is longer than %d bytes", path, lineno + 1,
					 FEED_MAX_LINE);
				*why = msg;
				rc = DD_E_TOO_LARGE;
				goto out;
			}
			p += k;
			if (!nl)
				break;
			p++;
			lineno++;
			if (line.len && (rc = fn(ctx, line.data, line.len)))
				goto out;
			buf_reset(&line);
		}
	}
	if (line.len)
		rc = fn(ctx, line.data, line.len);
out:
	buf_release(&line);
	archive_read_free(ar);
	return rc;
}
