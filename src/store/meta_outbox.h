/* meta_outbox.h: the part of the metadata store that holds the webhook outbox: events stored
 * durably, delivered and retried by the deliverer (assess/webhook.c). scan_complete
 * (meta_scans.h) adds a scan's event in the transaction that stores its assessment. */
#ifndef DD_META_OUTBOX_H
#define DD_META_OUTBOX_H
#include "meta.h"
#include <stddef.h>
#include <stdint.h>

struct arena;

struct meta_outbox_ops {
	int (*outbox_add)(struct meta *m, const char *payload);
	/* Up to max events due at `now` (id order): parallel arrays of ids, payloads, attempts. */
	int (*outbox_due)(struct meta *m, struct arena *a, int64_t now, size_t max, int64_t **ids,
			  const char ***payloads, int **attempts, size_t *n);
	int (*outbox_done)(struct meta *m, int64_t id);
	int (*outbox_retry)(struct meta *m, int64_t id, int64_t next_at);
	/* Events waiting, and of those the ones whose delivery failed at least once. */
	int (*outbox_backlog)(struct meta *m, int64_t *waiting, int64_t *failed);
};

#endif
