/* util.h: small filesystem and identifier helpers shared by the stores and the CLI. */
#ifndef DD_UTIL_H
#define DD_UTIL_H
#include <stddef.h>
#include <stdint.h>

/* mkdir -p; 0, DD_E_NO_SPACE or DD_E_IO (logged). */
int util_mkdirs(const char *path);
int util_fsync_dir(const char *path);
/* Writes a random RFC 4122 version-4 UUID (36 chars + NUL) into out. */
void util_uuid(char out[37]);
/* 1 when (s, n) has the shape util_uuid writes. */
int util_is_uuid(const char *s, size_t n);
/* Reads a whole file of at most max bytes into owned memory; 0, DD_E_IO or DD_E_TOO_LARGE. */
int util_read_file(const char *path, size_t max, char **data, size_t *len);
int64_t util_now(void);
struct arena;
/* t (seconds since the epoch) as "2026-12-06T01:02:03Z", in arena a. */
const char *util_iso_time(struct arena *a, int64_t t);
/* A span of time, "<n>d", "<n>h", "<n>m" or "<n>s" ("<n>" alone counts in default_unit
 * seconds: every setting and flag passes 1, so a bare number is seconds everywhere), into
 * *seconds: 0, or -1 when s is not one or is not in [min, max] seconds. */
int util_parse_duration(const char *s, int64_t default_unit, int64_t min, int64_t max, int64_t *seconds);
/* An amount of bytes, "<n>" or "<n>" with a unit: K, M, G, T (or KiB, MiB, GiB, TiB; all
 * powers of 1024), into *bytes: 0, or -1 when s is not one or is more than max. */
int util_parse_size(const char *s, int64_t max, int64_t *bytes);
/* The error code of a failed write's errno: DD_E_NO_SPACE for ENOSPC and EDQUOT (a full
 * filesystem or quota), DD_E_IO for anything else. */
int util_io_err(int e);
/* Reads up to n bytes from fd's current offset, looping over short reads (files, pipes and
 * sockets alike); the count read, or -1. */
ssize_t util_read_full(int fd, void *buf, size_t n);
/* Opens (creating) the lock file at path and takes flock(2) on it, shared or exclusive, waiting
 * for it: 0 with *fd (closing it drops the lock), or DD_E_IO, logged. */
int util_lock_file(const char *path, int exclusive, int *fd);
/* malloc as drydock serve runs it: two arenas (thread-per-connection would otherwise give
 * each busy thread its own, and memory freed in one is not reused by another); blocks of
 * more than 1 MiB (upload stream blocks) always mmap'd, so that they go back to the system
 * when freed; and up to
 * 4 MiB of freed heap kept rather than trimmed, so that a scan job's allocations do not fault
 * in fresh pages every time (a quarter of a match's cost). */
void util_tune_malloc(void);
/* rm -rf path (does not follow symlinks); 0 or DD_E_IO. */
int util_rmtree(const char *path);

#endif
