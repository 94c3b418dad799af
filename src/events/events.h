/* events.h: what the registry tells the rest of the server, and nothing else: the seam between
 * the registry (which publishes) and the scanner, the event log and webhooks (which listen).
 * It belongs to neither side: the registry includes no header of its listeners, and they none
 * of the registry's.
 *
 * Two kinds of listeners:
 * - events: a blob committed, a manifest pushed or deleted. Each is published exactly once,
 *   after the data is durable. Subscribers run synchronously on the publishing thread and must
 *   not block for long.
 * - an upload watcher: one listener (the scanner) that may read a blob's bytes while they
 *   arrive, from the upload's staging file, so that its analysis is mostly done by the time the
 *   blob commits.
 * Listeners register before serving and stay until the server has stopped; nothing here is
 * locked. */
#ifndef DD_EVENTS_H
#define DD_EVENTS_H
#include <stddef.h>
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

/* Adds a subscriber; at most 8 (DD_E_TOO_LARGE beyond). */
int events_subscribe(event_fn fn, void *ctx);
/* Forgets every subscriber and the upload watcher. */
void events_clear(void);
void events_emit(const struct event *ev);
const char *event_kind_name(enum event_kind k);

/* ---- bytes of a blob as they upload ---- */

/* What a watcher implements (every field set). begin: a new upload's first bytes were written
 * to its staging file; fd is a read descriptor of that file, taken over in every case. Returns
 * the watcher's handle for this upload, or NULL when it does not want it. feed: n more bytes
 * were appended to the file, in order; nonzero when the watcher gave up (feed no more). end:
 * exactly once per handle, with the digest the upload committed as (the bytes fed were the
 * blob's), or NULL when the upload was cancelled or its bytes are about to be cut back: a handle
 * is ended before the file it reads is truncated and is never fed after that. */
struct upload_watcher {
	void *(*begin)(void *ctx, int fd);
	int (*feed)(void *watch, size_t n);
	void (*end)(void *watch, const char *digest);
};

/* Sets the one upload watcher (NULL: none). The watcher and ctx must outlive every handle it
 * began: a handle is ended by the watcher that began it, even after another is set. */
void events_watch_uploads(const struct upload_watcher *w, void *ctx);
/* Unsets the watcher if ctx is its ctx: no new upload is handed to it. */
void events_unwatch_uploads(void *ctx);
/* 1 when a watcher is set: the publisher need not open a descriptor otherwise. */
int events_uploads_watched(void);
/* The publisher's side of the calls above; end(NULL handle) does nothing, begin without a
 * watcher closes fd and returns NULL. */
void *events_upload_begin(int fd);
int events_upload_feed(void *watch, size_t n);
void events_upload_end(void *watch, const char *digest);

#endif
