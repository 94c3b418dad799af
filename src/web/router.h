/* router.h: the one http_app of `drydock serve`. Each request goes, by its path, to the service
 * that answers it: the OCI API and its token endpoint (registry/), the security API, metrics,
 * health and the Microsoft.Security shape (assess/), and whatever is added later (a dashboard,
 * a query endpoint). A service is a struct http_app of its own: it sees r->app as its own ctx
 * and r->state as its own, and knows nothing of the others. The router also counts requests by
 * method and status class for /metrics and adds the headers every response carries. It holds
 * no service's code: cmd_serve.c wires them together. */
#ifndef DD_WEB_ROUTER_H
#define DD_WEB_ROUTER_H
#include <stdint.h>
#include "http/server.h"

struct router;

/* Whether a service answers path (unescaped, without the query string). */
typedef int (*route_match_fn)(const char *path);

/* Returns an owned router with no service. */
int router_new(struct router **out);
void router_free(struct router *rt);
/* Adds a service, tried in the order added; match NULL makes it the fallback, which answers
 * every path no other service matches (there is one; the last added wins). At most 8. Before
 * serving only. */
int router_add(struct router *rt, route_match_fn match, struct http_app app);
/* A header every response gets (e.g. Docker-Distribution-API-Version); at most 4; both borrowed
 * and kept. Before serving only. */
int router_add_header(struct router *rt, const char *name, const char *value);
/* The http_app that serves every request through rt. */
struct http_app router_app(struct router *rt);

/* Requests answered, by method (router_methods) and status class (0: none, 1xx ... 5xx). */
#define ROUTER_METHODS 7
extern const char *const router_methods[ROUTER_METHODS];
void router_requests(const struct router *rt, uint64_t out[ROUTER_METHODS][6]);

#endif
