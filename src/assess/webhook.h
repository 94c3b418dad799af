/* webhook.h: delivering the webhook outbox (store/meta_outbox.h), and the API that manages its
 * targets (/api/v1/webhooks).
 *
 * Events (events/hooks.h) join the outbox of each target that wants them in the transaction of
 * the change they tell of, so a restart loses none. One thread POSTs them, target by target,
 * in order, each target's one at a time (a target that never answers holds up no other): while its
 * oldest fails, the target is tried again after 1, 2, 4 ... up to 300 s, and when a delivery
 * fails, its events made `give_up` seconds ago or more are given up (removed, counted on the
 * target and in /metrics); the next one then goes. Delivery is at least once: a crash between the
 * answer and the removal repeats an event, which receivers recognise by its "id" (also in the
 * X-Drydock-Event-Id header). A target with a secret gets each body signed:
 * X-Drydock-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">, with the timestamp in
 * X-Drydock-Timestamp, so a receiver can refuse replays. A target of format "cloudevents" gets
 * each event as a CloudEvents 1.0 JSON envelope (structured mode) whose data is the event. */
#ifndef DD_WEBHOOK_H
#define DD_WEBHOOK_H
#include <stddef.h>
#include <stdint.h>

struct meta;
struct webhook;
struct http_req;

/* Returns an owned deliverer (running), or NULL on failure. meta is borrowed. */
struct webhook *webhook_start(struct meta *meta, int64_t give_up);
void webhook_stop(struct webhook *w);

/* url as logged (at most cap bytes): any user:password@ replaced by ***@. */
void webhook_url_shown(const char *url, char *out, size_t cap);

/* The signature header's value for body at time t with secret: "sha256=<64 hex>" into out. */
void webhook_sign(const char *secret, int64_t t, const char *body, size_t n, char out[72]);

/* /api/v1/webhooks[/ID]: whether path is one, and its handler (body: the request's, once read;
 * NULL at the start, when *want_body says whether to read one). */
int webhook_api_route(const char *path);
void webhook_api(struct http_req *r, struct meta *meta, const char *body, size_t len, int *want_body);

#endif
