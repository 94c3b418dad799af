/* layer_cache.h: what a layer held for the inventory, stored by layer digest so a layer is
 * read once in its life however many images share it. One file per digest under a cache
 * directory, written atomically; a damaged or foreign file is a miss, never an error. */
#ifndef DD_LAYER_CACHE_H
#define DD_LAYER_CACHE_H
#include "image/layer.h"

/* Where drydock serve keeps its layer cache, under the data directory. */
#define LAYER_CACHE_SUBDIR "cache/layers"

/* 0 and *out filled (arena memory) on a hit; DD_E_NOT_FOUND on a miss. */
int layer_cache_get(const char *dir, const char *digest, struct arena *a, struct layer *out);
/* Stores l under digest; 0 or DD_E_IO (the caller goes on without the cache). */
int layer_cache_put(const char *dir, const char *digest, const struct layer *l);
/* Drops the entry of digest, if any (the blob is gone); 0 or DD_E_IO. */
int layer_cache_remove(const char *dir, const char *digest);

#endif
