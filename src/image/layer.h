/* layer.h: reading one image layer (a tar stream, gzip- or zstd-compressed or plain) once,
 * keeping only what an inventory needs: the files of interest (package databases,
 * os-release...), every symlink, and every whiteout. Nothing is unpacked to disk. */
#ifndef DD_LAYER_H
#define DD_LAYER_H
#include <stddef.h>
#include <sys/types.h>
#include <stdint.h>

struct arena;

enum lentry_kind { LE_FILE, LE_SYMLINK, LE_HARDLINK, LE_WHITEOUT, LE_OPAQUE };

struct lentry {
	enum lentry_kind kind;
	const char *path;   /* normalised: no leading "/" or "./", no "." or ".." components */
	const char *target; /* symlink target as written; hardlink target normalised */
	const char *data;   /* LE_FILE only */
	size_t len;
};

struct layer {
	struct lentry *v;
	size_t n, cap;
	uint64_t entries, bytes; /* tar entries and uncompressed bytes read */
};

struct digest;

/* Reads a layer from fd (compressed or not), always to the end of the blob: the bytes after
 * the tar's end too, and a gzip stream to its end, so that its checksum and length are
 * checked. When want is not NULL, the bytes read must hash to it (DD_E_DIGEST_INVALID
 * otherwise); when got is not NULL it receives their sha256 (or want's algorithm); with
 * neither, nothing is hashed. 0, or DD_E_LAYER_INVALID / DD_E_TOO_LARGE with *why naming the entry or
 * the limit. Memory comes from arena. */
int layer_read_fd(struct arena *a, int fd, const struct digest *want, struct digest *got, struct layer *out,
		  const char **why);

/* The same from any byte source: fn reads up to n bytes (0 at the end, -1 with errno). */
typedef ssize_t (*layer_read_fn)(void *ctx, void *buf, size_t n);
int layer_read_stream(struct arena *a, layer_read_fn fn, void *ctx, const struct digest *want, struct digest *got,
		      struct layer *out, const char **why);

struct archive;
/* A libarchive reader for image tars: gzip, zstd or no compression, tar formats only (no
 * other archive format is accepted from untrusted input). Owned; archive_read_free it. */
struct archive *layer_tar_reader(void);

/* 1 when a file at this normalised path is one the inventory reads. */
int layer_path_of_interest(const char *path);

#endif
