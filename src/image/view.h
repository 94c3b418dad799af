/* view.h: the merged view of an image's layers, as a struct rootfs the inventory reads:
 * layers applied in order, whiteouts and opaque directories hiding lower content, symlinks
 * and hard links resolved inside the image (never outside it). Holds only what the layers
 * kept (files of interest, links, whiteouts). */
#ifndef DD_VIEW_H
#define DD_VIEW_H
#include <stddef.h>
#include "image/layer.h"
#include "inventory/rootfs.h"

struct view_slot;

struct view {
	struct rootfs base;
	struct arena *arena;
	struct view_slot *slots; /* open addressing, power-of-two size */
	size_t nslots, used;
	struct view_slot *dirs; /* every directory that has (or had) something under it */
	size_t ndirs, useddirs;
};

void view_init(struct view *v, struct arena *a);
/* Applies one layer on top; the layer's memory must outlive the view. */
void view_apply(struct view *v, const struct layer *l);
/* 1 when the layer changes anything the inventory reads (so it must be re-read). */
int layer_touches_inventory(const struct layer *l);

#endif
