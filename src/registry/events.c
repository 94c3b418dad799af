/* events.c: the subscriber list of events.h. */
#include "common/dd.h"
#include "events.h"

static struct {
	event_fn fn;
	void *ctx;
} subs[8];
static int nsubs;

int events_subscribe(event_fn fn, void *ctx)
{
	if (nsubs == (int)DD_ARRAY_LEN(subs))
		return DD_E_TOO_LARGE;
	subs[nsubs].fn = fn;
	subs[nsubs++].ctx = ctx;
	return 0;
}

void events_clear(void) { nsubs = 0; }

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
