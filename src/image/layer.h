/* layer.h: reading one image layer (a tar stream, gzip- or zstd-compressed or plain) once,
 * keeping only what an inventory needs: the files at the paths the package managers and the
 * os files use (and where distributions place them behind links), every symlink and hard
 * link, and every whiteout. Nothing is unpacked to disk. */
#ifndef DD_LAYER_H
#define DD_LAYER_H
#include <stddef.h>
#include <sys/types.h>
#include <stdint.h>

struct arena;

/* LE_DROPPED: a regular file that might have been a link's target, noted (path only) but not
 * kept, over DD_MAX_LAYER_SPARE_BYTES; reading it through the view fails naming the limit.
 * LE_DERIVED: what the layer reader found in a file as it streamed past (an executable's Go
 * build information, a Java archive's Maven coordinates: inventory/lang.h), never the file's
 * bytes, so no file can pass for it; the view reads it as no file. */
enum lentry_kind { LE_FILE, LE_SYMLINK, LE_HARDLINK, LE_WHITEOUT, LE_OPAQUE, LE_DROPPED, LE_DERIVED };

struct lentry {
	enum lentry_kind kind;
	const char *path;   /* normalised: no leading "/" or "./", no "." or ".." components */
	const char *target; /* symlink target as written; hardlink target normalised */
	const char *data;   /* LE_FILE and LE_DERIVED only */
	size_t len;
};

struct layer {
	struct lentry *v;
	size_t n, cap;
	uint64_t entries, bytes; /* tar entries and uncompressed bytes read */
	uint64_t kept;           /* bytes kept: entries, paths, targets, data (DD_MAX_LAYER_KEPT_BYTES) */
	uint64_t blob_bytes;     /* bytes of the blob read (0 for a layer from the cache) */
};

/* The bytes an entry costs to keep, as counted against DD_MAX_LAYER_KEPT_BYTES. */
uint64_t layer_entry_cost(const struct lentry *e);

struct digest;

/* Reads a layer from fd (compressed or not), always to the end of the blob: the bytes after
 * the tar's end too, and a gzip or zstd stream to its end (within the limits), so that its
 * checksum and length are checked. When want is not NULL, the bytes read must hash to it (DD_E_DIGEST_INVALID
 * otherwise); when got is not NULL it receives their sha256 (or want's algorithm); with
 * neither, nothing is hashed. 0, or DD_E_LAYER_INVALID / DD_E_SCAN_LIMIT with *why naming the entry or
 * the limit. A blob of no bytes at all is an empty layer. Memory comes from arena. */
int layer_read_fd(struct arena *a, int fd, const struct digest *want, struct digest *got, struct layer *out,
		  const char **why);

/* The same from any byte source: fn reads up to n bytes (0 at the end, -1 with errno). */
typedef ssize_t (*layer_read_fn)(void *ctx, void *buf, size_t n);
int layer_read_stream(struct arena *a, layer_read_fn fn, void *ctx, const struct digest *want, struct digest *got,
		      struct layer *out, const char **why);

/* The limit of limits.h named `builtin`, or lower when the environment variable env says so
 * (an operator's or a test's choice; never higher). */
uint64_t layer_limit(const char *env, uint64_t builtin);

struct archive;
/* A libarchive reader for image tars: gzip, zstd or no compression, tar formats only (no
 * other archive format is accepted from untrusted input). Owned; archive_read_free it. */
struct archive *layer_tar_reader(void);

/* 1 when a file at this normalised path is one the inventory reads. */
int layer_path_of_interest(const char *path);
/* 1 when a link at this normalised path can change what the inventory reads: the path is one a
 * layer keeps a file at, or a directory on the way to one. */
int layer_path_on_the_way(const char *path);

#endif
