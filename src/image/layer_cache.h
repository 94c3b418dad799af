/* layer_cache.h: what a layer held for the inventory, stored by layer digest so a layer is
 * read once in its life however many images share it. One file per digest under a cache
 * directory, written atomically; a damaged or foreign file is a miss, never an error. */
#ifndef DD_LAYER_CACHE_H
#define DD_LAYER_CACHE_H
#include "image/layer.h"
#include <limits.h>

/* Where drydock serve keeps its layer cache, under the data directory. */
#define LAYER_CACHE_SUBDIR "cache/layers"

/* 0 and *out filled (arena memory) on a hit; DD_E_NOT_FOUND on a miss. */
int layer_cache_get(const char *dir, const char *digest, struct arena *a, struct layer *out);
/* Stores l under digest; 0 or DD_E_IO (the caller goes on without the cache). */
int layer_cache_put(const char *dir, const char *digest, const struct layer *l);
/* Drops the entry of digest, if any (the blob is gone); 0 or DD_E_IO. */
int layer_cache_remove(const char *dir, const char *digest);

/* The same entries by descriptor, for the sandboxed scan workers (src/scan/sandbox.c), which
 * read layers and entries but never open a file, and hand a layer back in the cache's format.
 *
 * The entry of digest opened read-only: a descriptor the caller owns, or -1 on a miss (the
 * file is not checked here; layer_cache_read_fd does that). */
int layer_cache_open(const char *dir, const char *digest);
/* Reads an entry from fd (a cache file, or any file holding an entry's bytes), checked as
 * layer_cache_get checks one: 0 and *out filled (arena memory), or DD_E_NOT_FOUND when it is
 * damaged or not an entry. fd stays the caller's. */
int layer_cache_read_fd(int fd, struct arena *a, struct layer *out);
/* l in the cache's format: its length, and its bytes passed to fn in order (0, or the first
 * non-zero value fn returned). */
typedef int (*layer_cache_write_fn)(void *ctx, const void *p, size_t n);
uint64_t layer_cache_encoded_size(const struct layer *l);
int layer_cache_encode(const struct layer *l, layer_cache_write_fn fn, void *ctx);
/* Copies an entry of len bytes read from fn (untrusted: a worker's answer) into fd, checking
 * its head, size and checksum as it goes: 0, DD_E_IO (fn or the write failed), or
 * DD_E_LAYER_INVALID (not an entry) with *why (static text). */
int layer_cache_receive(int fd, layer_read_fn fn, void *ctx, uint64_t len, const char **why);
/* An entry being written aside (its file beside the entry of digest) and renamed into place
 * once whole: begin (0, or DD_E_IO: no cache to write to), then commit (0 or DD_E_IO) or abort.
 * t->fd is the file's descriptor until then. */
struct layer_cache_tmp {
	int fd;
	char tmp[PATH_MAX], path[PATH_MAX];
};
int layer_cache_begin(const char *dir, const char *digest, struct layer_cache_tmp *t);
int layer_cache_commit(struct layer_cache_tmp *t);
void layer_cache_abort(struct layer_cache_tmp *t);

#endif
