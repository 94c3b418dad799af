/* events.c: the subscriber list and the upload watcher of events.h. */
#include "common/dd.h"
#include "events.h"
#include <stdlib.h>
#include <unistd.h>

static struct {
	event_fn fn;
	void *ctx;
} subs[8];
static int nsubs;
static const struct upload_watcher *watcher;
static void *watcher_ctx;

int events_subscribe(event_fn fn, void *ctx)
{
	if (nsubs == (int)DD_ARRAY_LEN(subs))
		return DD_E_TOO_LARGE;
	subs[nsubs].fn = fn;
	subs[nsubs++].ctx = ctx;
	return 0;
}

void events_clear(void)
{
	nsubs = 0;
	watcher = NULL;
	watcher_ctx = NULL;
}

void events_emit(const struct event *ev)
{
	for (int i = 0; i < nsubs; i++)
		subs[i].fn(subs[i].ctx, ev);
}

const char *event_kind_name(enum event_kind k)
{
	switch (k) {
	case EVENT_BLOB_COMMITTED:
		return "blob.committed";
	case EVENT_MANIFEST_PUT:
		return "manifest.put";
	case EVENT_MANIFEST_DELETED:
		return "manifest.deleted";
	}
	return "unknown";
}

void events_watch_uploads(const struct upload_watcher *w, void *ctx)
{
	watcher = w;
	watcher_ctx = ctx;
}

void events_unwatch_uploads(void *ctx)
{
	if (watcher_ctx == ctx) {
		watcher = NULL;
		watcher_ctx = NULL;
	}
}

int events_uploads_watched(void) { return watcher != NULL; }

/* A handle given to the publisher: the watcher's own, with the watcher that made it, so that a
 * handle still held when the watcher is unset is ended by the watcher that began it. */
struct upload_watch {
	const struct upload_watcher *w;
	void *h;
};

void *events_upload_begin(int fd)
{
	const struct upload_watcher *w = watcher;
	struct upload_watch *u = w ? malloc(sizeof(*u)) : NULL;
	if (!u) {
		close(fd);
		return NULL;
	}
	u->w = w;
	if (!(u->h = w->begin(watcher_ctx, fd))) {
		free(u);
		return NULL;
	}
	return u;
}

int events_upload_feed(void *watch, size_t n)
{
	struct upload_watch *u = watch;
	return u ? u->w->feed(u->h, n) : -1;
}

void events_upload_end(void *watch, const char *digest)
{
	struct upload_watch *u = watch;
	if (!u)
		return;
	u->w->end(u->h, digest);
	free(u);
}
