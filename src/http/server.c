/* server.c: libmicrohttpd in thread-per-connection mode, fed by our own acceptor.
 *
 * The acceptor peeks at each new connection's first byte: on a plain-HTTP port a TLS
 * handshake record (0x16) is answered with a plain 400 and closed at once (skopeo and podman
 * try TLS first, then fall back to http only after an answer); on a TLS port a non-TLS first
 * byte gets the same treatment. Everything else goes to libmicrohttpd via MHD_add_connection.
 * A thread per connection lets handlers block on disk and database work. */
#include "common/dd.h"
#include "server.h"
#include "common/log.h"
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#define PENDING_MAX 256
#define PENDING_WAIT_MS 10000

struct pending {
	int fd;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	int64_t deadline_ms;
};

struct http_server {
	struct MHD_Daemon *mhd;
	struct http_app app;
	int listen_fd;
	int wake[2];
	int tls;
	int access_log;
	pthread_t acceptor;
	volatile int running;
	struct pending pending[PENDING_MAX];
	int npending;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- responses ---- */

int http_responded(struct http_req *r) { return r->resp != NULL; }

static void set_resp(struct http_req *r, int status, struct MHD_Response *resp, const char *content_type)
{
	if (!resp)
		abort(); /* libmicrohttpd only fails here on out-of-memory */
	if (r->resp)
		MHD_destroy_response(r->resp);
	r->resp = resp;
	r->status = status;
	if (content_type)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
}

void http_respond(struct http_req *r, int status, const char *content_type, const void *data, size_t len)
{
	set_resp(r, status, MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY), content_type);
}

void http_respond_fd(struct http_req *r, int status, const char *content_type, int fd, int64_t off, int64_t len)
{
	set_resp(r, status, MHD_create_response_from_fd_at_offset64((uint64_t)len, fd, (uint64_t)off), content_type);
}

static ssize_t no_body(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)cls, (void)pos, (void)buf, (void)max;
	return MHD_CONTENT_READER_END_OF_STREAM;
}

void http_respond_head(struct http_req *r, int status, const char *content_type, int64_t len)
{
	/* libmicrohttpd never sends a body for HEAD, but takes Content-Length from the size. */
	set_resp(r, status, MHD_create_response_from_callback((uint64_t)len, 4096, no_body, NULL, NULL),
		 content_type);
}

void http_add_header(struct http_req *r, const char *name, const char *value)
{
	if (r->resp)
		MHD_add_response_header(r->resp, name, value);
}

/* ---- request accessors ---- */

const char *http_header(struct http_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *http_query(struct http_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

int http_has_query(struct http_req *r, const char *name)
{
	const char *v = NULL;
	return MHD_lookup_connection_value_n(r->conn, MHD_GET_ARGUMENT_KIND, name, strlen(name), &v, NULL) == MHD_YES;
}

struct each_ctx {
	const char *name;
	void (*fn)(void *ctx, const char *value);
	void *ctx;
};

static enum MHD_Result each_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind;
	struct each_ctx *e = cls;
	if (key && !strcmp(key, e->name))
		e->fn(e->ctx, value ? value : "");
	return MHD_YES;
}

void http_query_each(struct http_req *r, const char *name, void (*fn)(void *ctx, const char *value), void *ctx)
{
	struct each_ctx e = {name, fn, ctx};
	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, each_arg, &e);
}

void http_client_addr(struct http_req *r, char *out, size_t cap)
{
	snprintf(out, cap, "unknown");
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (!ci || !ci->client_addr)
		return;
	const struct sockaddr *sa = ci->client_addr;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)cap);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)cap);
}

/* ---- the libmicrohttpd callbacks ---- */

static int has_body(struct http_req *r)
{
	const char *cl = http_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl)
		return strcmp(cl, "0") != 0;
	return http_header(r, MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	struct http_server *s = cls;
	struct http_req *r = *con_cls;
	(void)version;
	if (!r) {
		r = calloc(1, sizeof(*r));
		if (!r)
			return MHD_NO;
		r->conn = conn;
		r->method = method;
		r->path = url;
		r->app = s->app.ctx;
		r->start_ns = now_ns();
		*con_cls = r;
		s->app.begin(r);
		/* Queueing now makes libmicrohttpd close the connection after the reply (the body
		 * is never read), so do it only when a body is coming; otherwise answer on the
		 * next call and keep the connection alive. */
		if (r->resp && has_body(r))
			goto queue;
		return MHD_YES;
	}
	if (*upload_data_size) {
		r->body_bytes += (int64_t)*upload_data_size;
		if (!r->resp)
			s->app.body(r, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (!r->resp)
		s->app.end(r);
	if (!r->resp) {
		log_error("handler set no response for %s %s", method, url);
		http_respond(r, 500, "text/plain", "internal error\n", 15);
	}
queue:;
	enum MHD_Result ok = MHD_queue_response(conn, (unsigned)r->status, r->resp);
	MHD_destroy_response(r->resp);
	r->resp = NULL;
	return ok;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct http_server *s = cls;
	struct http_req *r = *con_cls;
	(void)conn;
	if (!r)
		return;
	if (s->access_log)
		log_info("%s %s %d %" PRId64 "B in %.1fms%s", r->method, r->path, r->status, r->body_bytes,
			 (double)(now_ns() - r->start_ns) / 1e6, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (aborted)");
	s->app.done(r);
	if (r->resp)
		MHD_destroy_response(r->resp);
	arena_free(&r->arena);
	free(r);
	*con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char msg[512];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = 0;
	log_debug("libmicrohttpd: %s", msg);
}

/* ---- the acceptor ---- */

static void reject(int fd, const char *why)
{
	char resp[256];
	int n = snprintf(resp, sizeof(resp),
			 "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n"
			 "Content-Length: %zu\r\n\r\n%s\n",
			 strlen(why) + 1, why);
	ssize_t w = send(fd, resp, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)w;
	shutdown(fd, SHUT_RDWR);
	close(fd);
}

static void hand_over(struct http_server *s, struct pending *p)
{
	int one = 1;
	setsockopt(p->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (MHD_add_connection(s->mhd, p->fd, (struct sockaddr *)&p->addr, p->addrlen) != MHD_YES)
		log_warn("connection refused by the HTTP server: %s", strerror(errno));
}

/* Decides a pending connection whose first byte arrived (or that closed). */
static void sniff(struct http_server *s, struct pending *p)
{
	unsigned char b;
	ssize_t n = recv(p->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		close(p->fd);
	} else if (!s->tls && b == 0x16) {
		reject(p->fd, "client sent a TLS handshake to a plain-HTTP port");
	} else if (s->tls && b != 0x16) {
		reject(p->fd, "client sent plain HTTP to a TLS port");
	} else {
		hand_over(s, p);
	}
	p->fd = -1;
}

static void *acceptor_main(void *arg)
{
	struct http_server *s = arg;
	struct pollfd fds[PENDING_MAX + 2];
	while (s->running) {
		fds[0] = (struct pollfd){.fd = s->wake[0], .events = POLLIN};
		fds[1] = (struct pollfd){.fd = s->listen_fd, .events = s->npending < PENDING_MAX ? POLLIN : 0};
		int64_t now = now_ms(), wait = 1000;
		for (int i = 0; i < s->npending; i++) {
			fds[2 + i] = (struct pollfd){.fd = s->pending[i].fd, .events = POLLIN};
			if (s->pending[i].deadline_ms - now < wait)
				wait = s->pending[i].deadline_ms - now;
		}
		int rc = poll(fds, (nfds_t)(2 + s->npending), wait < 0 ? 0 : (int)wait);
		if (rc < 0 && errno != EINTR)
			break;
		if (!s->running)
			break;
		now = now_ms();
		int k = 0;
		for (int i = 0; i < s->npending; i++) {
			struct pending *p = &s->pending[i];
			if (fds[2 + i].revents)
				sniff(s, p);
			else if (p->deadline_ms <= now) {
				hand_over(s, p); /* a slow client: libmicrohttpd's timeout applies */
				p->fd = -1;
			}
			if (p->fd >= 0)
				s->pending[k++] = *p;
		}
		s->npending = k;
		if (fds[1].revents & POLLIN) {
			for (;;) {
				if (s->npending == PENDING_MAX)
					break;
				struct pending *p = &s->pending[s->npending];
				p->addrlen = sizeof(p->addr);
				p->fd = accept4(s->listen_fd, (struct sockaddr *)&p->addr, &p->addrlen,
						SOCK_CLOEXEC | SOCK_NONBLOCK);
				if (p->fd < 0)
					break;
				p->deadline_ms = now + PENDING_WAIT_MS;
				s->npending++;
				sniff(s, p); /* data often arrives with the connection */
				if (p->fd < 0)
					s->npending--;
			}
		}
	}
	for (int i = 0; i < s->npending; i++)
		close(s->pending[i].fd);
	s->npending = 0;
	return NULL;
}

static int listen_on(const char *host, int port, int *fd_out, int *port_out)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
	struct addrinfo *res = NULL;
	char portstr[16];
	snprintf(portstr, sizeof(portstr), "%d", port);
	int e = getaddrinfo(host && *host ? host : NULL, portstr, &hints, &res);
	if (e) {
		log_error("cannot resolve listen address '%s': %s", host ? host : "", gai_strerror(e));
		return DD_E_CONFIG;
	}
	int fd = -1;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
		if (fd < 0)
			continue;
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 1024) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		log_error("cannot listen on '%s:%d': %s", host ? host : "", port, strerror(errno));
		return DD_E_CONFIG;
	}
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	*port_out = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						   : ((struct sockaddr_in *)&ss)->sin_port);
	*fd_out = fd;
	return 0;
}

int http_server_start(const struct http_config *cfg, const struct http_app *app, struct http_server **out,
		      int *port_out)
{
	*out = NULL;
	struct http_server *s = calloc(1, sizeof(*s));
	if (!s)
		return DD_E_NOMEM;
	s->app = *app;
	s->tls = cfg->tls_cert_pem != NULL;
	s->access_log = cfg->access_log;
	s->wake[0] = s->wake[1] = -1;
	int rc = listen_on(cfg->host, cfg->port, &s->listen_fd, port_out);
	if (rc) {
		free(s);
		return rc;
	}
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_NO_LISTEN_SOCKET |
			 MHD_USE_ITC | MHD_USE_ERROR_LOG;
	if (s->tls)
		flags |= MHD_USE_TLS;
	struct MHD_OptionItem opts[] = {
		{MHD_OPTION_CONNECTION_LIMIT, DD_MAX_CONNECTIONS, NULL},
		{MHD_OPTION_CONNECTION_TIMEOUT, DD_CONNECTION_TIMEOUT, NULL},
		{MHD_OPTION_CONNECTION_MEMORY_LIMIT, DD_MAX_HEADER_BYTES, NULL},
		{MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL},
		{s->tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, (void *)cfg->tls_cert_pem},
		{s->tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, (void *)cfg->tls_key_pem},
		{MHD_OPTION_END, 0, NULL},
	};
	s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
				  MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	if (!s->mhd) {
		log_error("cannot start the HTTP server%s", s->tls ? " (check the TLS certificate and key)" : "");
		close(s->listen_fd);
		free(s);
		return DD_E_CONFIG;
	}
	if (pipe2(s->wake, O_CLOEXEC | O_NONBLOCK)) {
		MHD_stop_daemon(s->mhd);
		close(s->listen_fd);
		free(s);
		return DD_E_IO;
	}
	s->running = 1;
	if (pthread_create(&s->acceptor, NULL, acceptor_main, s)) {
		http_server_stop(s);
		return DD_E_INTERNAL;
	}
	*out = s;
	return 0;
}

void http_server_stop(struct http_server *s)
{
	if (!s)
		return;
	if (s->running) {
		s->running = 0;
		ssize_t w = write(s->wake[1], "x", 1);
		(void)w;
		pthread_join(s->acceptor, NULL);
	}
	MHD_stop_daemon(s->mhd);
	close(s->listen_fd);
	close(s->wake[0]);
	close(s->wake[1]);
	free(s);
}
