/* layer_cache.h: what a layer held for the inventory, stored by layer digest so a layer is
 * read once in its life however many images share it. One file per digest under a cache
 * directory, written atomically; a damaged or foreign file is a miss, never an error. */
#ifndef DD_LAYER_CACHE_H
#define DD_LAYER_CACHE_H
#include "image/layer.h"

/* 0 and *out filled (arena memory) on a hit; DD_E_NOT_FOUND on a miss. */
int layer_cache_get(const char *dir, const char *digest, struct arena *a, struct layer *out);
/* Stores l under digest; 0 or DD_E_IO (the caller goes on without the cache). */
int layer_cache_put(const char *dir, const char *digest, const struct layer *l);

#endif
