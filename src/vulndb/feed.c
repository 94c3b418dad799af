/* feed.c: line reader over libarchive's raw format, so .xz, .gz, .zst and plain files read
 * alike. Lines are assembled in a capped buffer. */
#include "common/dd.h"
#include "feed.h"
#include "common/buf.h"
#include <archive.h>
#include <archive_entry.h>

/* One feed record (an OSV record with a long `versions` list can reach a few MiB). */
#define FEED_MAX_LINE (32 * 1024 * 1024)

/* Opens path for reading through libarchive: compressed or plain, and with `archives` also zip
 * and tar. NULL on failure with msg filled. */
static struct archive *feed_open(const char *path, int archives, char *msg, size_t n)
{
	struct archive *ar = archive_read_new();
	if (!ar) {
		snprintf(msg, n, "out of memory");
		return NULL;
	}
	archive_read_support_filter_all(ar);
	if (archives) {
		archive_read_support_format_zip(ar);
		archive_read_support_format_tar(ar);
	}
	archive_read_support_format_raw(ar);
	if (archive_read_open_filename(ar, path, 1 << 20) != ARCHIVE_OK) {
		snprintf(msg, n, "cannot read feed '%s': %s", path, archive_error_string(ar));
		archive_read_free(ar);
		return NULL;
	}
	return ar;
}

int feed_read_lines(const char *path, int (*fn)(void *ctx, const char *line, size_t len), void *ctx,
		    const char **why)
{
	static __thread char msg[512];
	*why = NULL;
	struct archive *ar = feed_open(path, 0, msg, sizeof(msg));
	if (!ar) {
		*why = msg;
		return DD_E_IO;
	}
	struct buf line;
	buf_init(&line, FEED_MAX_LINE);
	int rc = 0;
	struct archive_entry *ent;
	if (archive_read_next_header(ar, &ent) != ARCHIVE_OK) {
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

int feed_read_files(const char *path, size_t max,
		    int (*fn)(void *ctx, const char *name, const char *data, size_t len), void *ctx,
		    const char **why)
{
	static __thread char msg[512];
	*why = NULL;
	struct archive *ar = feed_open(path, 1, msg, sizeof(msg));
	if (!ar) {
		*why = msg;
		return DD_E_IO;
	}
	struct buf data;
	buf_init(&data, max);
	int rc = 0;
	struct archive_entry *ent;
	for (;;) {
		int r = archive_read_next_header(ar, &ent);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
			snprintf(msg, sizeof(msg), "feed '%s' is damaged: %s", path, archive_error_string(ar));
			*why = msg;
			rc = DD_E_IO;
			goto out;
		}
		const char *name = archive_entry_pathname(ent);
		if (archive_entry_filetype(ent) != AE_IFREG && archive_format(ar) != ARCHIVE_FORMAT_RAW)
			continue;
		buf_reset(&data);
		char chunk[1 << 16];
		la_ssize_t n;
		while ((n = archive_read_data(ar, chunk, sizeof(chunk))) > 0)
			if (buf_append(&data, chunk, (size_t)n)) {
				snprintf(msg, sizeof(msg), "'%s' in feed '%s' is larger than %zu bytes",
					 name ? name : "data", path, max);
				*why = msg;
				rc = DD_E_TOO_LARGE;
				goto out;
			}
		if (n < 0) {
			snprintf(msg, sizeof(msg), "feed '%s' is damaged: %s", path, archive_error_string(ar));
			*why = msg;
			rc = DD_E_IO;
			goto out;
		}
		if ((rc = fn(ctx, name ? name : "data", data.data ? data.data : "", data.len)))
			goto out;
	}
out:
	buf_release(&data);
	archive_read_free(ar);
	return rc;
}
