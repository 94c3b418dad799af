/* hooks.h: the webhook events: their types and the JSON text each is sent as (docs/api.md,
 * "Webhooks"). The registry and the scanner build them here and store them in the outbox
 * (store/meta_outbox.h) in the transaction of the change they tell of; assess/webhook.c
 * delivers them. */
#ifndef DD_HOOKS_H
#define DD_HOOKS_H
#include <jansson.h>
#include <stdint.h>

struct arena;

#define HOOK_IMAGE_PUSHED "image.pushed"
#define HOOK_IMAGE_DELETED "image.deleted"
#define HOOK_SCAN_COMPLETED "scan.completed"
#define HOOK_SCAN_FAILED "scan.failed"
#define HOOK_FINDINGS_CHANGED "findings.changed"

/* Whether `list` is a comma-separated list of known types ("" is every type): 0, or 1 with
 * *why (static text). */
int hook_types_valid(const char *list, const char **why);

/* The JSON text of an event (arena): {"id": a new UUID, "event": type, "time", "repository",
 * "digest"} and the members of `fields` (a JSON object, taken; NULL for none). NULL when out of
 * memory. */
const char *hook_event(struct arena *a, const char *type, const char *repo, const char *digest, int64_t time,
		       json_t *fields);

#endif
