/* webhook.h: delivering the webhook outbox. Each completed assessment adds an event to the
 * outbox in the same transaction as the assessment itself, so a restart loses none; this
 * thread POSTs them in order to the configured URL and removes each on a 2xx answer, retrying
 * failures with a growing delay (1 s doubling to 5 min). Delivery is at least once: a crash
 * between the answer and the removal repeats an event, which receivers recognise by its
 * "id" (also sent as X-Drydock-Event-Id). */
#ifndef DD_WEBHOOK_H
#define DD_WEBHOOK_H

struct meta;
struct webhook;

/* Returns an owned deliverer (running), or NULL on failure. url and meta are borrowed. */
struct webhook *webhook_start(struct meta *meta, const char *url);
void webhook_stop(struct webhook *w);

/* The outbox event of a completed assessment (the scanner's outbox_payload): owned JSON text
 * (free()) with its id, status, counts per severity, digest and database generation; NULL when
 * out of memory. The event's shape is documented in docs/api.md. */
struct scan_outcome;
char *webhook_payload(const struct scan_outcome *o);

#endif
