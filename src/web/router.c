/* router.c: the router of router.h. The service chosen for a request is kept in r->route; the
 * service's own callbacks then run with r->app set to its ctx. */
#include "common/dd.h"
#include "router.h"
#include "reply.h"
#include <assert.h>

struct route_entry {
	route_match_fn match;
	struct http_app app;
};

struct router {
	struct route_entry routes[8];
	int nroutes;
	struct http_app fallback;
	int has_fallback;
	struct {
		const char *name, *value;
	} headers[4];
	int nheaders;
	uint64_t requests[ROUTER_METHODS][6];
};

const char *const router_methods[ROUTER_METHODS] = {"GET", "HEAD", "PUT", "POST", "PATCH", "DELETE", "other"};

int router_new(struct router **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : DD_E_NOMEM;
}

void router_free(struct router *rt) { free(rt); }

int router_add(struct router *rt, route_match_fn match, struct http_app app)
{
	if (!match) {
		rt->fallback = app;
		rt->has_fallback = 1;
		return 0;
	}
	if (rt->nroutes == (int)DD_ARRAY_LEN(rt->routes))
		return DD_E_TOO_LARGE;
	rt->routes[rt->nroutes].match = match;
	rt->routes[rt->nroutes++].app = app;
	return 0;
}

int router_add_header(struct router *rt, const char *name, const char *value)
{
	if (rt->nheaders == (int)DD_ARRAY_LEN(rt->headers))
		return DD_E_TOO_LARGE;
	rt->headers[rt->nheaders].name = name;
	rt->headers[rt->nheaders++].value = value;
	return 0;
}

void router_requests(const struct router *rt, uint64_t out[ROUTER_METHODS][6])
{
	for (int m = 0; m < ROUTER_METHODS; m++)
		for (int c = 0; c < 6; c++)
			out[m][c] = __atomic_load_n(&rt->requests[m][c], __ATOMIC_RELAXED);
}

static void add_headers(struct router *rt, struct http_req *r)
{
	for (int i = 0; i < rt->nheaders; i++)
		http_add_header(r, rt->headers[i].name, rt->headers[i].value);
}

static const struct http_app *chosen(struct http_req *r) { return r->route; }

static void on_begin(struct http_req *r)
{
	struct router *rt = r->app;
	r->router = rt;
	const struct http_app *app = NULL;
	for (int i = 0; i < rt->nroutes && !app; i++)
		if (rt->routes[i].match(r->path))
			app = &rt->routes[i].app;
	if (!app && rt->has_fallback)
		app = &rt->fallback;
	if (!app) {
		web_error(r, DD_E_NOT_FOUND, NULL);
		add_headers(rt, r);
		return;
	}
	r->route = app;
	r->app = app->ctx;
	app->begin(r);
	add_headers(rt, r);
}

static void on_body(struct http_req *r, const char *data, size_t n)
{
	const struct http_app *app = chosen(r);
	if (app && app->body)
		app->body(r, data, n);
}

static void on_end(struct http_req *r)
{
	const struct http_app *app = chosen(r);
	if (app && app->end)
		app->end(r);
	if (app)
		add_headers(r->router, r);
}

static void on_done(struct http_req *r)
{
	const struct http_app *app = chosen(r);
	struct router *rt = r->router; /* set by on_begin, which always runs first */
	assert(rt);
	int m = ROUTER_METHODS - 1, cls = r->status >= 100 && r->status < 600 ? r->status / 100 : 0;
	for (int i = 0; i < ROUTER_METHODS - 1; i++)
		if (!strcmp(r->method, router_methods[i]))
			m = i;
	__atomic_fetch_add(&rt->requests[m][cls], 1, __ATOMIC_RELAXED);
	if (app && app->done)
		app->done(r);
}

struct http_app router_app(struct router *rt)
{
	struct http_app app = {.ctx = rt, .begin = on_begin, .body = on_body, .end = on_end, .done = on_done};
	return app;
}
