/* meta_outbox.h: the part of the metadata store that holds the webhooks: the targets events are
 * sent to, and the outbox of events waiting for each, stored durably, delivered in order and
 * retried by the deliverer (assess/webhook.c). scan_complete (meta_scans.h) and manifest_put
 * (meta_repos.h) add their events in the transaction that makes the change they tell of.
 *
 * An event is stored once per target that wants it: a target scoped to a namespace (a
 * repository's first path component; "" for every one) and to a set of event types ("" for
 * every type, else a comma-separated list). */
#ifndef DD_META_OUTBOX_H
#define DD_META_OUTBOX_H
#include "meta.h"
#include <stddef.h>
#include <stdint.h>

struct arena;

/* An event to add: its type ("image.pushed", ...), its repository (for the targets' scope)
 * and its JSON text. */
struct outbox_event {
	const char *type, *repo, *payload;
};

/* A target. origin "config" is the one of the server's --webhook option (kept in step with it
 * at start), "api" one made through the API. */
struct webhook_target {
	int64_t id;
	const char *url, *secret, *ns, *events, *format, *origin;
	int64_t created;
	int internal; /* may reach loopback, link-local and private addresses (made by a registry-wide
		       * owner or admin, or the setting's) */
	/* what the store counts of its deliveries (webhook_list only) */
	int64_t waiting, delivered, given_up, failures, retry_at;
	const char *last_error;
};

/* A target's oldest waiting event. */
struct outbox_item {
	int64_t id, created;
	const char *type, *payload;
	int attempts;
};

struct meta_outbox_ops {
	int (*outbox_add)(struct meta *m, const struct outbox_event *e);
	/* Each target with an event waiting whose retry time has come (at `now`): the target (id,
	 * url, secret, format) and its oldest event, in parallel arena arrays. */
	int (*outbox_heads)(struct meta *m, struct arena *a, int64_t now, struct webhook_target **targets,
			    struct outbox_item **heads, size_t *n);
	/* Event id delivered: removed, and the target's failures cleared. */
	int (*outbox_done)(struct meta *m, int64_t target, int64_t id);
	/* Event id's delivery failed at `now` with `error`: its target is tried again at retry_at,
	 * and every event of the target made at or before give_up_before is given up (removed,
	 * counted on the target and in the registry's total): *given_up. */
	int (*outbox_failed)(struct meta *m, int64_t target, int64_t id, int64_t now, int64_t retry_at,
			     int64_t give_up_before, const char *error, int64_t *given_up);
	/* Events waiting, those whose delivery failed at least once, and those ever given up. */
	int (*outbox_backlog)(struct meta *m, int64_t *waiting, int64_t *failed, int64_t *given_up);

	/* Adds target t (id, created and counts ignored) as *id, unless `max` targets are there, or
	 * max_ns of t's namespace: DD_E_USAGE. */
	int (*webhook_add)(struct meta *m, const struct webhook_target *t, int64_t max, int64_t max_ns, int64_t *id);
	/* Whether any target is there (*any 1) to take events: the scanner builds none when not. */
	int (*webhook_any)(struct meta *m, int *any);
	/* Every target (secrets included: the caller leaves them out of what it shows), by id. */
	int (*webhook_list)(struct meta *m, struct arena *a, struct webhook_target **out, size_t *n);
	/* Removes a target and its waiting events; DD_E_NOT_FOUND when there is none. */
	int (*webhook_delete)(struct meta *m, int64_t id);
	/* The target of origin "config": url ("" removes it and its waiting events) and secret. */
	int (*webhook_config)(struct meta *m, const char *url, const char *secret);
};

#endif
