/* events.h: internal events the registry emits, for the scan queue and later webhooks.
 * A blob commit and a manifest PUT each emit exactly one event, after the data is durable.
 * Subscribers run synchronously on the emitting thread and must not block for long. */
#ifndef DD_EVENTS_H
#define DD_EVENTS_H
#include <stdint.h>

enum event_kind { EVENT_BLOB_COMMITTED, EVENT_MANIFEST_PUT, EVENT_MANIFEST_DELETED };

struct event {
	enum event_kind kind;
	const char *repo;
	const char *digest;
	const char *media_type; /* manifests only; NULL for blobs */
	const char *tag;        /* the tag a manifest PUT moved, or NULL */
	int64_t size;
};

typedef void (*event_fn)(void *ctx, const struct event *ev);

/* Adds a subscriber; at most 8. Not thread-safe: subscribe before serving. */
int events_subscribe(event_fn fn, void *ctx);
void events_clear(void);
void events_emit(const struct event *ev);
const char *event_kind_name(enum event_kind k);

#endif
