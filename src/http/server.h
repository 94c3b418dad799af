/* server.h: the HTTP server: HTTP/1.1 and, over TLS, HTTP/2; requests with streamed bodies;
 * responses from memory or from a file descriptor (sendfile, or large TLS records); bounded
 * connections and timeouts. It knows nothing of the registry: an application plugs in
 * through struct http_app, whose callbacks run on handler threads and may block on disk and
 * database work, while the network is served by event loops that never block. */
#ifndef DD_HTTP_SERVER_H
#define DD_HTTP_SERVER_H
#include <stddef.h>
#include <stdint.h>
#include "common/arena.h"

struct http_stream;
struct http_resp;
struct netaddr_list;

struct http_req {
	const char *method;
	const char *path; /* unescaped, without the query string */
	struct arena arena;
	void *app;   /* the http_app's ctx */
	void *state; /* the application's per-request state */
	const void *route; /* the service a router chose for it (web/router.h), or NULL */
	void *router;      /* that router, or NULL */
	void *auth;  /* who is asking, resolved once by the access check */
	int status;
	struct http_resp *resp;
	int64_t body_bytes;
	int64_t start_ns;
	struct http_stream *stream; /* the server's side of the request */
};

/* The callbacks of one request run one at a time, in this order, on handler threads. */
struct http_app {
	void *ctx;
	/* First call, headers read. May set a response (the body is then not read). */
	void (*begin)(struct http_req *r);
	/* A piece of the body; called only while no response is set. */
	void (*body)(struct http_req *r, const char *data, size_t n);
	/* Whole body read; must set a response unless begin or body did. */
	void (*end)(struct http_req *r);
	/* The request is over (sent, failed or aborted): release per-request state. */
	void (*done)(struct http_req *r);
};

struct http_config {
	const char *host;
	int port;
	const char *tls_cert_pem; /* both NULL for plain HTTP */
	const char *tls_key_pem;
	int access_log;
	int http2;                   /* offer h2 in TLS ALPN (and take h2 prior knowledge on plain HTTP) */
	long max_connections;        /* 0: DD_MAX_CONNECTIONS */
	long max_connections_per_client; /* 0: no cap */
	/* reverse proxies (load balancers): a request from one is from the client its
	 * X-Forwarded-For names (http_client_addr), and their connections have no per-client cap;
	 * NULL: none (the header is ignored) */
	const struct netaddr_list *trusted_proxies;
	long idle_timeout;           /* seconds; 0: DD_CONNECTION_TIMEOUT */
	long header_timeout;         /* seconds; 0: DD_HEADER_TIMEOUT */
	int loops;                   /* event loop threads; 0: one per CPU, at most 8 */
};

struct http_server;

/* Binds and starts serving. *port_out receives the bound port (for port 0). Owned result. */
int http_server_start(const struct http_config *cfg, const struct http_app *app, struct http_server **out,
		      int *port_out);
/* Stops accepting, lets handlers that are running finish, calls done for every request
 * still open, and frees the server. */
void http_server_stop(struct http_server *s);

/* Request accessors: borrowed strings valid for the request, NULL when absent. */
const char *http_header(struct http_req *r, const char *name);
const char *http_query(struct http_req *r, const char *name);
/* 1 when the query string has `name`, even with an empty value. */
int http_has_query(struct http_req *r, const char *name);

/* Calls fn for every value of query parameter `name`, in order (scope= may repeat). */
void http_query_each(struct http_req *r, const char *name, void (*fn)(void *ctx, const char *value), void *ctx);
/* The client's address as text ("unknown" when not known): the peer's, or, when the peer is a
 * trusted proxy, the client its X-Forwarded-For names (netaddr_forwarded_client). */
void http_client_addr(struct http_req *r, char *out, size_t cap);

/* Responses: set once per request (a second call replaces the first). The data is copied. */
void http_respond(struct http_req *r, int status, const char *content_type, const void *data, size_t len);
/* Serves [off, off+len) of fd; takes ownership of fd. */
void http_respond_fd(struct http_req *r, int status, const char *content_type, int fd, int64_t off, int64_t len);
/* A body of len bytes read in order from fd (a socket or a pipe another thread fills), owned
 * from here on; a body that ends short closes the connection (the client sees it cut off). */
void http_respond_stream(struct http_req *r, int status, const char *content_type, int fd, int64_t len);
/* Headers-only response whose Content-Length is `len` (for HEAD). */
void http_respond_head(struct http_req *r, int status, const char *content_type, int64_t len);
void http_add_header(struct http_req *r, const char *name, const char *value);

#endif
