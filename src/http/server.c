/* server.c: connections, event loops, handler threads and HTTP/1.1.
 *
 * Event loops (one per CPU, epoll, edge-triggered) own the sockets: they accept, do TLS,
 * read request heads and bodies, and write responses (sendfile on plain HTTP, large TLS
 * records over OpenSSL). They never block and never run application code. A request whose
 * head is read becomes a stream handed to the handler threads, which run the application's
 * callbacks (begin, body for each piece read, end, done), one task at a time per stream, and
 * hand the stream back to its loop through the loop's mailbox. So a connection waiting on
 * the network (idle, slow, or ten thousand of them) costs a few hundred bytes and no thread,
 * and a handler waiting on disk or the database holds no loop.
 *
 * Bounds: connections in all (the idle one waiting longest is closed to admit a new one),
 * connections per client address, head size and fields, header and idle timeouts, body
 * bytes buffered per request and in all, handler threads. HTTP/2 lives in h2.c. */
#include "common/dd.h"
#include "serverInt.h"
#include "common/log.h"
#include "common/siphash.h"
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <semaphore.h>
#include <sys/uio.h>

#define IN_MIN (16 * 1024)          /* a connection's input buffer when first needed */
#define FILE_CHUNK (256 * 1024)     /* file bytes read per TLS write */
#define SMALL_BODY (16 * 1024)      /* a memory body this small goes out with the head */
#define LINGER_MS 2000              /* reading and dropping what a client still sends ... */
#define LINGER_BYTES (16 << 20)     /* ... after a response that ends the connection */
#define MIN_THREADS 4               /* handler threads kept when idle */
#define THREAD_IDLE_S 10            /* seconds an extra handler thread waits for work */
#define HANDLER_STACK (2 << 20)


/* Marks for epoll's data: the listening socket and the mailbox. Connections are pointers. */
static char mark_listen, mark_mail;

int64_t http_now_ms(void)
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

/* ---- responses (handler threads) ---- */

static void resp_release(struct http_resp *rs)
{
	if (!rs)
		return;
	free(rs->mem);
	rs->mem = NULL;
	if (rs->kind == RESP_FD && rs->fd >= 0) {
		/* out of the epoll set first: a copy of the fd in a child being spawned would keep it
		 * there, and its events would name a connection that is gone */
		if (rs->watch_epfd)
			epoll_ctl(rs->watch_epfd - 1, EPOLL_CTL_DEL, rs->fd, NULL);
		rs->watch_epfd = 0;
		close(rs->fd);
	}
	rs->fd = -1;
}

static struct http_resp *resp_new(struct http_req *r, int status, int kind, const char *content_type)
{
	resp_release(r->resp);
	struct http_resp *rs = arena_alloc(&r->arena, sizeof(*rs));
	rs->status = status;
	rs->kind = kind;
	rs->fd = -1;
	r->resp = rs;
	r->status = status;
	if (content_type)
		http_add_header(r, "Content-Type", content_type);
	return rs;
}

void http_respond(struct http_req *r, int status, const char *content_type, const void *data, size_t len)
{
	struct http_resp *rs = resp_new(r, status, RESP_MEM, content_type);
	if (len) {
		rs->mem = malloc(len);
		if (!rs->mem)
			abort(); /* as the arena: a request cannot continue without memory */
		memcpy(rs->mem, data, len);
	}
	rs->mem_len = len;
}

void http_respond_fd(struct http_req *r, int status, const char *content_type, int fd, int64_t off, int64_t len)
{
	struct http_resp *rs = resp_new(r, status, RESP_FD, content_type);
	rs->fd = fd;
	rs->off = off;
	rs->len = len;
}

void http_respond_stream(struct http_req *r, int status, const char *content_type, int fd, int64_t len)
{
	struct http_resp *rs = resp_new(r, status, RESP_FD, content_type);
	rs->fd = fd;
	rs->len = len;
	rs->stream = 1;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

int conn_watch_stream(struct conn *c, struct http_resp *rs)
{
	if (!rs || rs->watch_epfd)
		return rs ? 0 : -1;
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.ptr = (char *)c + 1};
	if (epoll_ctl(c->loop->epfd, EPOLL_CTL_ADD, rs->fd, &ev))
		return -1;
	rs->watch_epfd = c->loop->epfd + 1;
	return 0;
}

void http_respond_head(struct http_req *r, int status, const char *content_type, int64_t len)
{
	struct http_resp *rs = resp_new(r, status, RESP_HEAD, content_type);
	rs->len = len;
}

void http_add_header(struct http_req *r, const char *name, const char *value)
{
	struct http_resp *rs = r->resp;
	if (!rs)
		return;
	/* CR or LF in a value would split the response: the application never sends one, so
	 * such a header is dropped rather than sent. */
	if (strpbrk(name, "\r\n:") || strpbrk(value, "\r\n")) {
		log_error("response header '%s' dropped: it holds a line break", name);
		return;
	}
	if (rs->nhdrs == rs->hdrs_cap) {
		int cap = rs->hdrs_cap ? rs->hdrs_cap * 2 : 8;
		struct kv *n = arena_alloc(&r->arena, sizeof(*n) * (size_t)cap);
		if (rs->nhdrs)
			memcpy(n, rs->hdrs, sizeof(*n) * (size_t)rs->nhdrs);
		rs->hdrs = n;
		rs->hdrs_cap = cap;
	}
	rs->hdrs[rs->nhdrs++] = (struct kv){arena_strdup(&r->arena, name), arena_strdup(&r->arena, value)};
}

const char *http_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 416: return "Range Not Satisfiable";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

/* ---- request accessors (handler threads; the parsed request is read-only by then) ---- */

const char *http_header(struct http_req *r, const char *name)
{
	struct http_stream *s = r->stream;
	for (int i = 0; i < s->nheaders; i++)
		if (!strcasecmp(s->headers[i].name, name))
			return s->headers[i].value;
	return NULL;
}

const char *http_query(struct http_req *r, const char *name)
{
	struct http_stream *s = r->stream;
	for (int i = 0; i < s->nquery; i++)
		if (!strcmp(s->query[i].name, name))
			return s->query[i].value;
	return NULL;
}

int http_has_query(struct http_req *r, const char *name)
{
	struct http_stream *s = r->stream;
	for (int i = 0; i < s->nquery; i++)
		if (!strcmp(s->query[i].name, name))
			return 1;
	return 0;
}

void http_query_each(struct http_req *r, const char *name, void (*fn)(void *ctx, const char *value), void *ctx)
{
	struct http_stream *s = r->stream;
	for (int i = 0; i < s->nquery; i++)
		if (!strcmp(s->query[i].name, name))
			fn(ctx, s->query[i].value ? s->query[i].value : "");
}

static void client_addr_key(const struct sockaddr_storage *ss, unsigned char out[16]);

void http_client_addr(struct http_req *r, char *out, size_t cap)
{
	struct conn *c = r->stream->conn;
	const struct netaddr_list *trusted = &c->loop->srv->proxies;
	if (c->addr.ss_family != AF_INET && c->addr.ss_family != AF_INET6) {
		snprintf(out, cap, "unknown");
		return;
	}
	unsigned char peer[16], client[16];
	client_addr_key(&c->addr, peer);
	memcpy(client, peer, 16);
	if (trusted->n && netaddr_list_has(trusted, peer)) {
		struct http_stream *s = r->stream;
		const char *fields[DD_MAX_HEADER_FIELDS];
		int n = 0;
		for (int i = 0; i < s->nheaders && n < DD_MAX_HEADER_FIELDS; i++)
			if (!strcasecmp(s->headers[i].name, "X-Forwarded-For"))
				fields[n++] = s->headers[i].value;
		netaddr_forwarded_client(trusted, peer, fields, n, client);
	}
	netaddr_text(client, out, cap);
}

/* ---- streams ---- */

struct http_stream *stream_new(struct conn *c)
{
	struct http_stream *s = calloc(1, sizeof(*s));
	if (!s)
		abort();
	s->conn = c;
	s->req.stream = s;
	s->req.app = c->loop->srv->app.ctx;
	s->req.start_ns = now_ns();
	s->content_length = -1;
	c->nstreams++;
	return s;
}

/* Frees a stream whose done task ran (or that never began). Loop thread. A closed
 * connection is freed by its loop once it has no stream left. */
void stream_free(struct http_stream *s)
{
	struct conn *c = s->conn;
	resp_release(s->req.resp);
	arena_free(&s->req.arena);
	if (s->h2_buf)
		__atomic_fetch_sub(&c->loop->srv->buffered, (int64_t)s->h2_cap, __ATOMIC_RELAXED);
	free(s->h2_buf);
	free(s);
	c->nstreams--;
}

void stream_add_header(struct http_stream *s, const char *name, size_t nlen, const char *value, size_t vlen)
{
	if (s->nheaders == s->headers_cap) {
		int cap = s->headers_cap ? s->headers_cap * 2 : 16;
		struct kv *n = arena_alloc(&s->req.arena, sizeof(*n) * (size_t)cap);
		if (s->nheaders)
			memcpy(n, s->headers, sizeof(*n) * (size_t)s->nheaders);
		s->headers = n;
		s->headers_cap = cap;
	}
	s->headers[s->nheaders++] = (struct kv){arena_strndup(&s->req.arena, name, nlen),
						arena_strndup(&s->req.arena, value, vlen)};
}

/* The request target: the path unescaped, the query split into decoded pairs. */
int stream_set_target(struct http_stream *s, const char *t, size_t n, const char **why)
{
	struct arena *a = &s->req.arena;
	if (n > DD_MAX_URL_BYTES * 4) {
		*why = "request target longer than 8 KiB";
		return DD_E_REQUEST_INVALID;
	}
	/* absolute-form (to a proxy, RFC 9112 3.2.2): keep the path */
	if (n > 7 && (!strncasecmp(t, "http://", 7) || (n > 8 && !strncasecmp(t, "https://", 8)))) {
		const char *p = memchr(t + 8, '/', n - 8);
		if (!p) {
			t = "/";
			n = 1;
		} else {
			n -= (size_t)(p - t);
			t = p;
		}
	}
	if (!n || t[0] != '/') {
		*why = "request target is not a path starting with '/'";
		return DD_E_REQUEST_INVALID;
	}
	const char *q = memchr(t, '?', n);
	size_t plen = q ? (size_t)(q - t) : n;
	char *path = arena_alloc_uninit(a, plen + 1);
	size_t len;
	if (h1_unescape(t, plen, 0, path, &len)) {
		*why = "request path holds a bad percent-escape or an encoded NUL";
		return DD_E_REQUEST_INVALID;
	}
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)path[i] < 0x20 || path[i] == 0x7f) {
			/* no name or reference holds one; refused here, no log line can be forged */
			*why = "request path holds an encoded control character";
			return DD_E_REQUEST_INVALID;
		}
	s->req.path = path;
	if (!q)
		return 0;
	const char *p = q + 1, *end = t + n;
	int count = 1;
	for (const char *k = p; k < end; k++)
		count += *k == '&';
	if (count > DD_MAX_HEADER_FIELDS) {
		*why = "more than 100 query parameters";
		return DD_E_REQUEST_INVALID;
	}
	s->query = arena_alloc(a, sizeof(*s->query) * (size_t)count);
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *e = amp ? amp : end;
		if (e > p) {
			const char *eq = memchr(p, '=', (size_t)(e - p));
			const char *ke = eq ? eq : e;
			char *k = arena_alloc_uninit(a, (size_t)(ke - p) + 1), *v = NULL;
			if (h1_unescape(p, (size_t)(ke - p), 1, k, &len)) {
				*why = "query parameter name holds a bad percent-escape or an encoded NUL";
				return DD_E_REQUEST_INVALID;
			}
			if (eq) {
				v = arena_alloc_uninit(a, (size_t)(e - eq));
				if (h1_unescape(eq + 1, (size_t)(e - eq - 1), 1, v, &len)) {
					*why = "query parameter value holds a bad percent-escape or an encoded NUL";
					return DD_E_REQUEST_INVALID;
				}
			}
			s->query[s->nquery++] = (struct kv){k, v};
		}
		p = e + (amp ? 1 : 0);
	}
	return 0;
}

/* ---- handler threads ---- */

static void *handler_main(void *arg);

static void loop_wake(struct loop *l)
{
	uint64_t one = 1;
	ssize_t w = write(l->evfd, &one, sizeof(one));
	(void)w;
}

static void loop_post(struct loop *l, struct http_stream *s)
{
	pthread_mutex_lock(&l->mu);
	s->next = l->mail;
	l->mail = s;
	int signal_it = !l->mail_signalled;
	l->mail_signalled = 1;
	pthread_mutex_unlock(&l->mu);
	if (signal_it)
		loop_wake(l);
}

/* Hands a stream to the handler threads (loop thread). Starts a thread when every one is
 * busy and the cap allows. */
/* A handler thread waiting for work: the dispatcher hands it a stream directly and posts its
 * semaphore (no shared condition variable for every thread to wake on and fight over). The
 * idle ones form a stack, so the thread that ran last, with warm caches, runs next. */
struct handler {
	struct handler *next_idle;
	struct http_stream *task;
	sem_t sem;
};

static void handler_spawn(struct http_server *srv)
{
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&at, HANDLER_STACK);
	pthread_t t;
	if (pthread_create(&t, &at, handler_main, srv)) {
		pthread_mutex_lock(&srv->pool_mu);
		srv->threads--;
		int none = !srv->threads;
		pthread_cond_broadcast(&srv->pool_idle_cv);
		pthread_mutex_unlock(&srv->pool_mu);
		if (none)
			log_error("cannot start a handler thread: %s", strerror(errno));
	}
	pthread_attr_destroy(&at);
}

/* Hands a stream to a handler thread (loop thread): an idle one if there is one, else the
 * queue, starting a thread when the cap allows. */
void stream_dispatch(struct http_stream *s, int task)
{
	struct http_server *srv = s->conn->loop->srv;
	s->task = task;
	s->busy = 1;
	s->next = NULL;
	pthread_mutex_lock(&srv->pool_mu);
	struct handler *h = srv->idle;
	if (h) {
		srv->idle = h->next_idle;
		srv->idle_threads--;
		h->task = s;
		pthread_mutex_unlock(&srv->pool_mu);
		sem_post(&h->sem);
		return;
	}
	if (srv->queue_tail)
		srv->queue_tail->next = s;
	else
		srv->queue_head = s;
	srv->queue_tail = s;
	srv->queued++;
	int spawn = srv->threads < DD_MAX_HANDLER_THREADS;
	if (spawn)
		srv->threads++;
	pthread_mutex_unlock(&srv->pool_mu);
	if (spawn)
		handler_spawn(srv);
}

static void h1_prepare(struct conn *c, struct http_stream *s);
static int conn_flush(struct conn *c);

static void run_task(struct http_server *srv, struct http_stream *s)
{
	struct http_req *r = &s->req;
	if (s->task == TASK_DONE) {
		if (srv->access_log && s->began)
			log_info("%s %s %d received %" PRId64 "B sent %" PRId64 "B %.1fms %s%s", r->method, r->path,
				 r->status, r->body_bytes,
				 s->h2_id ? (s->h2_sent > 0 ? s->h2_sent : 0)
					  : s->prepared ? s->conn->sent_total - s->sent_base : 0,
				 (double)(now_ns() - r->start_ns) / 1e6, s->h2_id ? "HTTP/2" : "HTTP/1.1",
				 s->aborted ? " (aborted)" : "");
		if (s->began)
			srv->app.done(r);
		s->done_ran = 1;
		return;
	}
	if (!s->began) {
		s->began = 1;
		srv->app.begin(r);
	}
	if (s->body_len) {
		r->body_bytes += (int64_t)s->body_len;
		if (!r->resp)
			srv->app.body(r, s->body, s->body_len);
	}
	if (s->body_complete && !r->resp && !s->ended) {
		s->ended = 1;
		srv->app.end(r);
		if (!r->resp) {
			log_error("handler set no response for %s %s", r->method, r->path);
			http_respond(r, 500, "text/plain", "internal error\n", 15);
		}
	}
	/* HTTP/1.1: the response goes out from here when the socket takes it at once, and the
	 * request ends here too: two hand-overs per request instead of four. The loop leaves
	 * the connection alone while this thread has its stream. */
	if (s->conn->proto == PROTO_H1 && r->resp && s->body_complete) {
		h1_prepare(s->conn, s);
		int w = conn_flush(s->conn);
		if (w > 0) {
			s->sent = 1;
			s->task = TASK_DONE;
			run_task(srv, s);
		} else if (w < 0) {
			s->send_failed = 1;
			s->aborted = 1;
			s->task = TASK_DONE;
			run_task(srv, s);
		}
	}
}

static void *handler_main(void *arg)
{
	struct http_server *srv = arg;
	struct handler self = {0};
	sem_init(&self.sem, 0, 0);
	pthread_mutex_lock(&srv->pool_mu);
	for (;;) {
		struct http_stream *s = srv->queue_head;
		if (s) {
			srv->queue_head = s->next;
			if (!srv->queue_head)
				srv->queue_tail = NULL;
			srv->queued--;
		} else {
			if (srv->pool_stop)
				break;
			self.task = NULL;
			self.next_idle = srv->idle;
			srv->idle = &self;
			srv->idle_threads++;
			pthread_mutex_unlock(&srv->pool_mu);
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += THREAD_IDLE_S;
			int rc;
			while ((rc = sem_timedwait(&self.sem, &until)) && errno == EINTR)
				;
			pthread_mutex_lock(&srv->pool_mu);
			if (!self.task) { /* timed out, or the server stops: leave the idle stack */
				struct handler **pp = &srv->idle;
				while (*pp && *pp != &self)
					pp = &(*pp)->next_idle;
				if (*pp) {
					*pp = self.next_idle;
					srv->idle_threads--;
				}
				if (rc == 0) /* the stop's post */
					continue;
				if (srv->threads > MIN_THREADS || srv->pool_stop)
					break;
				continue;
			}
			if (rc) { /* timed out as a task came: its post is on the way */
				pthread_mutex_unlock(&srv->pool_mu);
				while (sem_wait(&self.sem) && errno == EINTR)
					;
				pthread_mutex_lock(&srv->pool_mu);
			}
			s = self.task;
		}
		pthread_mutex_unlock(&srv->pool_mu);
		run_task(srv, s);
		loop_post(s->conn->loop, s);
		pthread_mutex_lock(&srv->pool_mu);
	}
	srv->threads--;
	pthread_cond_broadcast(&srv->pool_idle_cv);
	pthread_mutex_unlock(&srv->pool_mu);
	sem_destroy(&self.sem);
	return NULL;
}

/* ---- per-client connection counts ---- */

struct client_slot {
	struct client_slot *next;
	unsigned char addr[16];
	int count;
};

static struct siphash_key client_hash_key;

static void client_addr_key(const struct sockaddr_storage *ss, unsigned char out[16])
{
	memset(out, 0, 16);
	if (ss->ss_family == AF_INET) {
		out[10] = out[11] = 0xff; /* v4-mapped */
		memcpy(out + 12, &((const struct sockaddr_in *)ss)->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		memcpy(out, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
	}
}

/* Counts a connection from addr: 0, or DD_E_UNAVAILABLE at the per-client cap. */
static int client_acquire(struct http_server *srv, struct conn *c)
{
	unsigned char key[16];
	client_addr_key(&c->addr, key);
	c->client_key = (uint32_t)(siphash24(&client_hash_key, key, 16) & (srv->clients_cap - 1));
	int rc = 0;
	pthread_mutex_lock(&srv->clients_mu);
	struct client_slot *cs = srv->clients[c->client_key].next;
	while (cs && memcmp(cs->addr, key, 16))
		cs = cs->next;
	if (!cs) {
		cs = calloc(1, sizeof(*cs));
		if (!cs)
			rc = DD_E_NOMEM;
		else {
			memcpy(cs->addr, key, 16);
			cs->next = srv->clients[c->client_key].next;
			srv->clients[c->client_key].next = cs;
		}
	}
	if (!rc && srv->max_per_client && cs->count >= srv->max_per_client && !netaddr_list_has(&srv->proxies, key))
		rc = DD_E_UNAVAILABLE;
	if (!rc)
		cs->count++;
	pthread_mutex_unlock(&srv->clients_mu);
	return rc;
}

static void client_release(struct http_server *srv, struct conn *c)
{
	unsigned char key[16];
	client_addr_key(&c->addr, key);
	pthread_mutex_lock(&srv->clients_mu);
	struct client_slot **pp = &srv->clients[c->client_key].next;
	while (*pp && memcmp((*pp)->addr, key, 16))
		pp = &(*pp)->next;
	if (*pp && !--(*pp)->count) {
		struct client_slot *dead = *pp;
		*pp = dead->next;
		free(dead);
	}
	pthread_mutex_unlock(&srv->clients_mu);
}

/* ---- connections ---- */

static uint64_t idle_clock; /* orders idle connections across loops */

static void idle_remove(struct conn *c)
{
	if (!c->in_idle)
		return;
	struct loop *l = c->loop;
	if (c->idle_prev)
		c->idle_prev->idle_next = c->idle_next;
	else
		l->idle_head = c->idle_next;
	if (c->idle_next)
		c->idle_next->idle_prev = c->idle_prev;
	else
		l->idle_tail = c->idle_prev;
	c->idle_prev = c->idle_next = NULL;
	c->in_idle = 0;
	__atomic_sub_fetch(&l->nidle, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&l->idle_oldest, l->idle_head ? l->idle_head->idle_seq : UINT64_MAX, __ATOMIC_RELAXED);
}

static void idle_push(struct conn *c)
{
	struct loop *l = c->loop;
	idle_remove(c);
	c->idle_prev = l->idle_tail;
	c->idle_next = NULL;
	if (l->idle_tail)
		l->idle_tail->idle_next = c;
	else
		l->idle_head = c;
	l->idle_tail = c;
	c->in_idle = 1;
	c->idle_seq = __atomic_add_fetch(&idle_clock, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&l->nidle, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&l->idle_oldest, l->idle_head->idle_seq, __ATOMIC_RELAXED);
}

static void conn_timer(struct conn *c, int64_t ms)
{
	c->since_ms = http_now_ms();
	c->timeout_ms = ms;
}

static void in_release(struct conn *c)
{
	if (!c->in)
		return;
	__atomic_fetch_sub(&c->loop->srv->buffered, (int64_t)c->in_cap, __ATOMIC_RELAXED);
	free(c->in);
	c->in = NULL;
	c->in_len = c->in_cap = 0;
}

/* Makes room for `want` more input bytes, growing up to `cap` within the server's budget.
 * 0, or DD_E_NOMEM / DD_E_UNAVAILABLE (the budget is spent). */
static int in_reserve(struct conn *c, size_t want, size_t cap)
{
	if (c->in_cap - c->in_len >= want || (c->in_cap >= cap && c->in_len < c->in_cap))
		return 0;
	size_t n = c->in_cap ? c->in_cap : IN_MIN;
	while (n - c->in_len < want && n < cap)
		n *= 2;
	if (n > cap)
		n = cap;
	if (n <= c->in_cap)
		return c->in_len < c->in_cap ? 0 : DD_E_UNAVAILABLE;
	struct http_server *srv = c->loop->srv;
	int64_t grow = (int64_t)(n - c->in_cap);
	if (c->in_cap && __atomic_add_fetch(&srv->buffered, grow, __ATOMIC_RELAXED) > DD_MAX_BUFFERED_BYTES) {
		__atomic_fetch_sub(&srv->buffered, grow, __ATOMIC_RELAXED);
		return c->in_len < c->in_cap ? 0 : DD_E_UNAVAILABLE;
	}
	if (!c->in_cap)
		__atomic_add_fetch(&srv->buffered, grow, __ATOMIC_RELAXED);
	char *p = realloc(c->in, n);
	if (!p) {
		__atomic_fetch_sub(&srv->buffered, grow, __ATOMIC_RELAXED);
		return DD_E_NOMEM;
	}
	c->in = p;
	c->in_cap = n;
	return 0;
}

/* Drops the first n input bytes. */
static void in_consume(struct conn *c, size_t n)
{
	if (!n)
		return;
	if (n < c->in_len)
		memmove(c->in, c->in + n, c->in_len - n);
	c->in_len -= n;
	c->scanned = 0;
}

ssize_t conn_recv(struct conn *c, void *p, size_t n)
{
	if (c->ssl) {
		ERR_clear_error();
		int r = SSL_read(c->ssl, p, n > INT_MAX ? INT_MAX : (int)n);
		if (r > 0)
			return r;
		int e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_READ)
			return 0;
		if (e == SSL_ERROR_WANT_WRITE) {
			c->want_write = 1;
			return 0;
		}
		return -1;
	}
	for (;;) {
		ssize_t r = recv(c->fd, p, n, 0);
		if (r > 0)
			return r;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return 0;
		return -1;
	}
}

ssize_t conn_send(struct conn *c, const void *p, size_t n)
{
	if (!n)
		return 0;
	if (c->ssl) {
		ERR_clear_error();
		c->want_write = 0;
		int r = SSL_write(c->ssl, p, n > INT_MAX ? INT_MAX : (int)n);
		if (r > 0)
			return r;
		int e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_WRITE)
			return 0;
		if (e == SSL_ERROR_WANT_READ) {
			c->want_read = 1;
			return 0;
		}
		return -1;
	}
	for (;;) {
		ssize_t r = send(c->fd, p, n, MSG_NOSIGNAL);
		if (r >= 0)
			return r;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			return 0;
		return -1;
	}
}

/* Reads what the socket has into in[], up to cap bytes of buffer: >0 bytes read, 0 would
 * block (or the buffer is full and cannot grow), -1 end of stream or error. */
static ssize_t conn_fill(struct conn *c, size_t cap)
{
	if (in_reserve(c, 4096, cap) || c->in_len == c->in_cap)
		return 0;
	ssize_t r = conn_recv(c, c->in + c->in_len, c->in_cap - c->in_len);
	if (r > 0)
		c->in_len += (size_t)r;
	return r;
}

static void out_reset(struct conn *c)
{
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_off = c->out_cap = 0;
	c->mem = NULL;
	c->mem_len = c->mem_off = 0;
	c->file_fd = -1;
	c->file_left = 0;
	c->file_stream = 0;
	if (c->fbuf)
		__atomic_fetch_sub(&c->loop->srv->buffered, (int64_t)c->fbuf_cap, __ATOMIC_RELAXED);
	free(c->fbuf);
	c->fbuf = NULL;
	c->fbuf_len = c->fbuf_off = c->fbuf_cap = 0;
}

static void out_append(struct conn *c, const void *p, size_t n)
{
	if (!n)
		return; /* an empty body has no buffer at all */
	if (c->out_cap - c->out_len < n) {
		size_t cap = c->out_cap ? c->out_cap : 512;
		while (cap - c->out_len < n)
			cap *= 2;
		char *q = realloc(c->out, cap);
		if (!q)
			abort();
		c->out = q;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, p, n);
	c->out_len += n;
}

static void out_printf(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_printf(struct conn *c, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(tmp)) {
		out_append(c, tmp, (size_t)n);
		return;
	}
	char *big = malloc((size_t)n + 1);
	if (!big)
		abort();
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	out_append(c, big, (size_t)n);
	free(big);
}

/* Writes what is queued: the head, then a memory body, then a file body. 1 when all is
 * written, 0 when the socket would block, -1 on error. */
static int conn_flush(struct conn *c)
{
	for (;;) {
		ssize_t w;
		if (c->out_off < c->out_len) {
			if (!c->ssl && c->mem_off < c->mem_len) {
				struct iovec iov[2] = {{c->out + c->out_off, c->out_len - c->out_off},
						       {(void *)(c->mem + c->mem_off), c->mem_len - c->mem_off}};
				struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
				w = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
				if (w < 0 && (errno == EAGAIN || errno == EINTR))
					w = 0;
				if (w > 0) {
					size_t a = c->out_len - c->out_off;
					if ((size_t)w >= a) {
						c->out_off = c->out_len;
						c->mem_off += (size_t)w - a;
					} else
						c->out_off += (size_t)w;
				}
			} else {
				if (!c->ssl && c->file_left) { /* the head goes out with the file's first bytes */
					w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL | MSG_MORE);
					if (w < 0 && (errno == EAGAIN || errno == EINTR))
						w = 0;
				} else
					w = conn_send(c, c->out + c->out_off, c->out_len - c->out_off);
				if (w > 0)
					c->out_off += (size_t)w;
			}
		} else if (c->mem_off < c->mem_len) {
			w = conn_send(c, c->mem + c->mem_off, c->mem_len - c->mem_off);
			if (w > 0)
				c->mem_off += (size_t)w;
		} else if (c->file_left && !c->ssl && !c->file_stream) {
			off_t off = (off_t)c->file_off;
			size_t n = c->file_left > (1 << 30) ? (1 << 30) : (size_t)c->file_left;
			w = sendfile(c->fd, c->file_fd, &off, n);
			if (w < 0 && (errno == EAGAIN || errno == EINTR))
				w = 0;
			else if (w == 0) {
				log_error("a file being sent ended early (truncated under the server?)");
				return -1;
			}
			if (w > 0) {
				c->file_off += w;
				c->file_left -= w;
			}
		} else if (c->fbuf_off < c->fbuf_len || c->file_left) {
			if (c->fbuf_off == c->fbuf_len) {
				if (!c->fbuf) {
					/* large reads while the server's buffer budget lasts, small ones
					 * when thousands of clients read slowly at once */
					struct http_server *srv = c->loop->srv;
					size_t cap = FILE_CHUNK;
					if (__atomic_add_fetch(&srv->buffered, (int64_t)cap, __ATOMIC_RELAXED) >
					    DD_MAX_BUFFERED_BYTES) {
						__atomic_fetch_sub(&srv->buffered, (int64_t)cap - 16384, __ATOMIC_RELAXED);
						cap = 16384;
					}
					if (!(c->fbuf = malloc(cap))) {
						__atomic_fetch_sub(&srv->buffered, (int64_t)cap, __ATOMIC_RELAXED);
						return -1;
					}
					c->fbuf_cap = cap;
				}
				size_t n = c->file_left > (int64_t)c->fbuf_cap ? c->fbuf_cap : (size_t)c->file_left;
				ssize_t r = c->file_stream ? read(c->file_fd, c->fbuf, n)
							   : pread(c->file_fd, c->fbuf, n, (off_t)c->file_off);
				if (r < 0 && c->file_stream && errno == EINTR)
					continue;
				if (r < 0 && c->file_stream && errno == EAGAIN) {
					/* nothing yet: its bytes coming in bring the loop back here */
					if (conn_watch_stream(c, c->cur ? c->cur->req.resp : NULL))
						return -1;
					return 0;
				}
				if (r <= 0) {
					log_error("cannot read a file being sent: %s", r ? strerror(errno) : "it ended early");
					return -1;
				}
				c->fbuf_len = (size_t)r;
				c->fbuf_off = 0;
				c->file_off += r;
				c->file_left -= r;
			}
			w = conn_send(c, c->fbuf + c->fbuf_off, c->fbuf_len - c->fbuf_off);
			if (w > 0)
				c->fbuf_off += (size_t)w;
		} else {
			return 1;
		}
		if (w < 0)
			return -1;
		if (w == 0)
			return 0;
		c->sent_total += w;
		c->since_ms = http_now_ms();
	}
}

static void conn_unlink(struct conn *c, struct conn **head)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		*head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
}

static void conn_link(struct conn *c, struct conn **head)
{
	c->prev = NULL;
	c->next = *head;
	if (*head)
		(*head)->prev = c;
	*head = c;
}

/* Closes the socket; the connection moves to the loop's dead list, where the loop frees it
 * once its streams are done (their tasks may still be running). */
void conn_close(struct conn *c)
{
	if (c->closed)
		return;
	struct loop *l = c->loop;
	struct http_server *srv = l->srv;
	c->closed = 1;
	conn_unlink(c, &l->conns);
	conn_link(c, &l->dead);
	idle_remove(c);
	if (c->h2)
		h2_free(c);
	if (c->ssl) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	/* out of the epoll set before the close: close() takes it out only with the socket's last
	 * descriptor, and another process may hold a copy (a scan worker between its spawn and its
	 * exec), whose events would then name this connection after it is freed */
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	in_release(c);
	out_reset(c);
	client_release(srv, c);
	__atomic_fetch_sub(&srv->nconns, 1, __ATOMIC_RELAXED);
	struct http_stream *s = c->cur;
	if (s && !s->busy && srv->running) {
		s->aborted = 1;
		stream_dispatch(s, TASK_DONE);
	}
}

/* Frees the dead connections that have no stream left. */
static void loop_bury(struct loop *l)
{
	for (struct conn *c = l->dead, *n; c; c = n) {
		n = c->next;
		if (!c->nstreams) {
			conn_unlink(c, &l->dead);
			free(c);
		}
	}
}

/* ---- HTTP/1.1 ---- */

static void conn_pump(struct conn *c);

/* Answers a request the server refuses itself (malformed, too large) and closes after. */
static void h1_fail(struct conn *c, int err, const char *why)
{
	int status = dd_err_http_status(err);
	char body[512];
	int n = snprintf(body, sizeof(body), "%s: %s\n", dd_err_message(err), why ? why : "");
	if (n < 0 || (size_t)n >= sizeof(body))
		n = (int)sizeof(body) - 1;
	out_reset(c);
	idle_remove(c);
	out_printf(c,
		   "HTTP/1.1 %d %s\r\nDate: %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
		   "Connection: close\r\n\r\n%.*s",
		   status, http_reason(status), http_date(), n, n, body);
	c->keep_alive = 0;
	c->h1 = H1_WRITE;
	conn_timer(c, c->loop->srv->idle_ms);
	log_debug("refused a request: %d %s", status, body);
}

/* A complete head at in[0..len): makes the stream and hands it to a handler. */
static void h1_begin(struct conn *c, size_t len)
{
	struct h1_head h;
	const char *why;
	int rc = h1_parse_head(c->in, len, &h, &why);
	if (rc) {
		h1_fail(c, rc, why);
		return;
	}
	int64_t length;
	int chunked;
	if ((rc = h1_body_framing(&h, &length, &chunked, &why))) {
		h1_fail(c, rc, why);
		return;
	}
	if (h.minor == 1 && !h1_field_get(&h, "Host")) {
		h1_fail(c, DD_E_REQUEST_INVALID, "an HTTP/1.1 request without a Host header");
		return;
	}
	struct http_stream *s = stream_new(c);
	struct arena *a = &s->req.arena;
	s->req.method = arena_strndup(a, h.method, h.method_len);
	if ((rc = stream_set_target(s, h.target, h.target_len, &why))) {
		stream_free(s);
		h1_fail(c, rc, why);
		return;
	}
	s->headers = arena_alloc(a, sizeof(*s->headers) * (size_t)(h.nfields ? h.nfields : 1));
	s->headers_cap = h.nfields ? h.nfields : 1;
	for (int i = 0; i < h.nfields; i++)
		stream_add_header(s, h.fields[i].name, h.fields[i].name_len, h.fields[i].value, h.fields[i].value_len);
	s->content_length = length;
	s->chunked = chunked;
	s->body_left = length > 0 ? length : 0;
	s->body_complete = !chunked && length <= 0;
	s->head_only = !strcmp(s->req.method, "HEAD");
	s->minor = h.minor;
	const struct h1_field *conn_hdr = h1_field_get(&h, "Connection");
	if (h.minor == 0)
		c->keep_alive = conn_hdr && h1_list_has(conn_hdr->value, conn_hdr->value_len, "keep-alive");
	else
		c->keep_alive = !(conn_hdr && h1_list_has(conn_hdr->value, conn_hdr->value_len, "close"));
	const struct h1_field *expect = h1_field_get(&h, "Expect");
	s->continue_pending = !s->body_complete && expect && h.minor == 1 && expect->value_len == 12 &&
			      !strncasecmp(expect->value, "100-continue", 12);
	in_consume(c, len);
	c->cur = s;
	idle_remove(c);
	c->timeout_ms = 0;
	/* a small body already read goes with the first task */
	if (!s->body_complete && c->in_len) {
		size_t consumed = 0, produced = 0;
		if (s->chunked) {
			if ((rc = h1_chunked_decode(&s->ch, c->in, c->in_len, c->in, &consumed, &produced, &why))) {
				c->cur = NULL;
				stream_free(s);
				h1_fail(c, rc, why);
				return;
			}
			s->body_complete = s->ch.done;
		} else {
			consumed = produced = c->in_len < (size_t)s->body_left ? c->in_len : (size_t)s->body_left;
			s->body_left -= (int64_t)produced;
			s->body_complete = !s->body_left;
		}
		s->body = c->in;
		s->body_len = produced;
		c->raw_off = consumed;
		if (produced)
			s->continue_pending = 0; /* the client did not wait for 100 Continue */
	}
	c->h1 = H1_TASK;
	stream_dispatch(s, TASK_RUN);
}

/* Reads body bytes into in[] and hands them to a handler in batches: a piece goes once the
 * buffer is full (DD_MAX_BODY_CHUNK), the body is complete or the stream ended.
 * Below that, the bytes wait in in[] (decoded in place: s->body_len decoded bytes at the front,
 * raw bytes from raw_off on) for the socket's next bytes. Handing over each read as it came
 * cost two thread wakeups per 20-30 KiB of a push (skopeo sends faster than one read's worth
 * per wakeup): a third of a push's server CPU without scanning, on a virtual machine where a
 * thread switch is dear. 1 when a task was
 * dispatched, 0 when waiting for the socket, -1 when the connection failed. */
static int h1_body(struct conn *c)
{
	struct http_stream *s = c->cur;
	ssize_t r;
	size_t cap;
again:
	r = 0;
	cap = DD_MAX_BODY_CHUNK;
	if (!s->chunked && (uint64_t)s->body_left + c->raw_off < cap)
		cap = (size_t)s->body_left + c->raw_off < IN_MIN ? IN_MIN : (size_t)s->body_left + c->raw_off;
	/* read until the socket is empty or the buffer full */
	while (c->in_len < c->in_cap || !c->in_cap || c->in_cap < cap) {
		r = conn_fill(c, cap);
		if (r <= 0)
			break;
		c->since_ms = http_now_ms();
	}
	if (r < 0 && !c->in_len)
		return -1;
	if (c->raw_off < c->in_len) {
		size_t consumed = 0, produced = 0;
		const char *why;
		if (s->chunked) {
			if (h1_chunked_decode(&s->ch, c->in + c->raw_off, c->in_len - c->raw_off, c->in + s->body_len,
					      &consumed, &produced, &why)) {
				log_debug("closing a connection: bad chunked body: %s", why);
				return -1;
			}
			s->body_complete = s->ch.done;
		} else {
			size_t raw = c->in_len - c->raw_off;
			consumed = produced = raw < (size_t)s->body_left ? raw : (size_t)s->body_left;
			s->body_left -= (int64_t)produced;
			s->body_complete = !s->body_left;
		}
		c->raw_off += consumed;
		s->body_len += produced;
	}
	/* the reads above stopped on an empty socket, not on a buffer that cannot take more */
	int room = c->in_cap - c->in_len >= 4096 || (c->in_cap >= cap && c->in_len < c->in_cap);
	if (!s->body_complete && r == 0 && room && s->body_len < DD_MAX_BODY_CHUNK)
		return 0; /* more is on its way: wait for it */
	if (!s->body_len && !s->body_complete) {
		size_t dropped = c->raw_off;
		in_consume(c, dropped); /* chunk framing only */
		c->raw_off = 0;
		if (r < 0)
			return -1;
		if ((r > 0 || !room) && dropped)
			goto again; /* the buffer filled, not the socket emptied: read on (edge-triggered) */
		return 0;
	}
	s->body = c->in;
	c->timeout_ms = 0;
	c->h1 = H1_TASK;
	stream_dispatch(s, TASK_RUN);
	return 1;
}

/* The handler set a response: queues the head and the body. */
/* Queues the response's head and body in the connection's output. Runs on the handler
 * thread that set the response (or on the loop): the loop does not touch the connection's
 * output while a handler has its stream, and this changes no state the loop reads. */
static void h1_prepare(struct conn *c, struct http_stream *s)
{
	struct http_resp *rs = s->req.resp;
	int st = rs->status;
	out_reset(c);
	out_printf(c, "HTTP/1.1 %d %s\r\nDate: %s\r\n", st, http_reason(st), http_date());
	for (int i = 0; i < rs->nhdrs; i++)
		out_printf(c, "%s: %s\r\n", rs->hdrs[i].name, rs->hdrs[i].value);
	int64_t len = rs->kind == RESP_MEM ? (int64_t)rs->mem_len : rs->len;
	if (st >= 200 && st != 204 && st != 304)
		out_printf(c, "Content-Length: %" PRId64 "\r\n", len);
	if (!c->keep_alive || !s->body_complete)
		out_printf(c, "Connection: close\r\n");
	else if (s->minor == 0)
		out_printf(c, "Connection: keep-alive\r\n"); /* HTTP/1.0 closes unless told */
	out_append(c, "\r\n", 2);
	if (!s->head_only && st >= 200 && st != 204 && st != 304) {
		if (rs->kind == RESP_MEM) {
			if (c->ssl && rs->mem_len <= SMALL_BODY)
				out_append(c, rs->mem, rs->mem_len);
			else {
				c->mem = rs->mem;
				c->mem_len = rs->mem_len;
			}
		} else if (rs->kind == RESP_FD) {
			c->file_fd = rs->fd;
			c->file_off = rs->off;
			c->file_left = rs->len;
			c->file_stream = rs->stream;
		}
	}
	s->prepared = 1;
	s->sent_base = c->sent_total;
}

/* The request is over (its done ran): the connection waits for the next one, or ends. */
static void h1_next(struct conn *c, struct http_stream *s)
{
	c->cur = NULL;
	stream_free(s);
	if (c->closed)
		return;
	out_reset(c);
	if (!c->keep_alive) {
		c->h1 = H1_LINGER;
		return;
	}
	c->h1 = H1_HEAD;
	if (!c->in_len)
		in_release(c);
	idle_push(c);
	conn_timer(c, c->loop->srv->idle_ms);
}

/* A handler task of the current stream came back. */
static void h1_task_done(struct conn *c, struct http_stream *s)
{
	if (s->task == TASK_RUN || s->sent) { /* the body slice it was given is used up */
		s->body = NULL;
		s->body_len = 0;
		if (!c->closed)
			in_consume(c, c->raw_off);
		c->raw_off = 0;
	}
	if (s->send_failed) { /* the handler thread's write failed; its done ran */
		c->cur = NULL;
		stream_free(s);
		conn_close(c);
		return;
	}
	if (s->task == TASK_DONE) {
		h1_next(c, s);
		return;
	}
	if (c->closed) {
		s->aborted = 1;
		stream_dispatch(s, TASK_DONE);
		return;
	}
	if (s->req.resp) {
		if (!s->body_complete)
			c->keep_alive = 0; /* the rest of the body is not read */
		if (!s->prepared)
			h1_prepare(c, s);
		c->h1 = H1_WRITE;
		conn_timer(c, c->loop->srv->idle_ms);
		return;
	}
	/* the handler wants the body */
	if (s->continue_pending) {
		s->continue_pending = 0;
		out_reset(c);
		out_append(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
	}
	c->h1 = H1_BODY;
	conn_timer(c, c->loop->srv->idle_ms);
}

static void h1_pump(struct conn *c)
{
	struct http_server *srv = c->loop->srv;
	for (;;) {
		if (c->closed)
			return;
		switch (c->h1) {
		case H1_HEAD: {
			if (c->in_len) {
				size_t end = h1_head_end(c->in, c->in_len, &c->scanned);
				if (end) {
					h1_begin(c, end);
					continue;
				}
				if (c->in_len >= DD_MAX_HEADER_BYTES) {
					h1_fail(c, DD_E_HEADERS_TOO_LARGE, "request head larger than 64 KiB");
					continue;
				}
			}
			if (c->eof) {
				conn_close(c);
				return;
			}
			size_t had = c->in_len;
			if (in_reserve(c, 1024, DD_MAX_HEADER_BYTES)) {
				h1_fail(c, DD_E_UNAVAILABLE, "the server is short of memory for request heads");
				continue;
			}
			ssize_t r = conn_fill(c, DD_MAX_HEADER_BYTES);
			if (r == 0) {
				if (c->want_write && c->ssl)
					return; /* TLS needs to write first: EPOLLOUT brings us back */
				return;
			}
			if (r < 0) {
				c->eof = 1;
				continue;
			}
			if (!had) /* the first byte of a head: the header timeout starts */
				conn_timer(c, srv->header_ms);
			continue;
		}
		case H1_TASK:
		case H1_DONE_WAIT:
			return;
		case H1_BODY: {
			if (c->out_off < c->out_len) { /* 100 Continue */
				int w = conn_flush(c);
				if (w < 0) {
					conn_close(c);
					return;
				}
				if (!w)
					return;
				out_reset(c);
			}
			int r = h1_body(c);
			if (r < 0) {
				conn_close(c);
				return;
			}
			return;
		}
		case H1_WRITE: {
			int w = conn_flush(c);
			if (w < 0) {
				conn_close(c);
				return;
			}
			if (!w)
				return;
			if (c->cur) {
				c->h1 = H1_DONE_WAIT;
				c->timeout_ms = 0;
				stream_dispatch(c->cur, TASK_DONE);
				return;
			}
			c->h1 = H1_LINGER; /* a refusal written */
			continue;
		}
		case H1_LINGER: {
			if (c->linger_left == 0) {
				/* stop sending, drain what the client still sends so that closing does not
				 * reset the connection before it read the response */
				if (c->ssl)
					SSL_shutdown(c->ssl);
				shutdown(c->fd, SHUT_WR);
				c->linger_left = LINGER_BYTES;
				conn_timer(c, LINGER_MS);
			}
			char drop[16384];
			for (;;) {
				ssize_t r = conn_recv(c, drop, sizeof(drop));
				if (r == 0)
					return;
				if (r < 0 || (c->linger_left -= r) <= 0) {
					conn_close(c);
					return;
				}
			}
		}
		}
	}
}

/* ---- TLS ---- */

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
		       unsigned int inlen, void *arg)
{
	(void)ssl;
	struct http_server *srv = arg;
	const unsigned char *h1 = NULL;
	for (unsigned i = 0; i < inlen;) {
		unsigned n = in[i];
		if (i + 1 + n > inlen)
			break;
		if (srv->http2 && n == 2 && !memcmp(in + i + 1, "h2", 2)) {
			*out = in + i + 1;
			*outlen = 2;
			return SSL_TLSEXT_ERR_OK;
		}
		if (n == 8 && !memcmp(in + i + 1, "http/1.1", 8))
			h1 = in + i + 1;
		i += 1 + n;
	}
	if (h1) {
		*out = h1;
		*outlen = 8;
		return SSL_TLSEXT_ERR_OK;
	}
	return SSL_TLSEXT_ERR_NOACK;
}

static void log_ssl_errors(const char *what)
{
	unsigned long e;
	char msg[256];
	while ((e = ERR_get_error())) {
		ERR_error_string_n(e, msg, sizeof(msg));
		log_error("%s: %s", what, msg);
	}
}

static SSL_CTX *tls_context(struct http_server *srv, const char *cert_pem, const char *key_pem)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
				      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
	/* AES-128-GCM first: as safe for this use and the fastest with AES instructions */
	SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256");
	SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL:!MD5:!RC4:!3DES");
	int ok = 0;
	BIO *b = BIO_new_mem_buf(cert_pem, -1);
	X509 *x = b ? PEM_read_bio_X509_AUX(b, NULL, NULL, NULL) : NULL;
	if (x && SSL_CTX_use_certificate(ctx, x) == 1) {
		ok = 1;
		X509 *chain;
		while ((chain = PEM_read_bio_X509(b, NULL, NULL, NULL)))
			if (SSL_CTX_add0_chain_cert(ctx, chain) != 1) {
				X509_free(chain);
				ok = 0;
			}
		ERR_clear_error(); /* the end of the PEM text */
	}
	X509_free(x);
	BIO_free(b);
	b = ok ? BIO_new_mem_buf(key_pem, -1) : NULL;
	EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	ok = ok && k && SSL_CTX_use_PrivateKey(ctx, k) == 1 && SSL_CTX_check_private_key(ctx) == 1;
	EVP_PKEY_free(k);
	BIO_free(b);
	if (!ok) {
		log_ssl_errors("TLS certificate or key");
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select, srv);
	return ctx;
}

/* ---- the connection state machine ---- */

static void reject(struct conn *c, const char *why)
{
	out_reset(c);
	out_printf(c,
		   "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n"
		   "Content-Length: %zu\r\n\r\n%s\n",
		   strlen(why) + 1, why);
	/* plain bytes, also on a TLS port: the client is not speaking TLS */
	ssize_t w = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)w;
	shutdown(c->fd, SHUT_RDWR);
	conn_close(c);
}

static const char h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

static void conn_pump(struct conn *c)
{
	struct http_server *srv = c->loop->srv;
	while (!c->closed) {
		if (c->proto == PROTO_SNIFF) {
			unsigned char b[24];
			ssize_t n = recv(c->fd, b, sizeof(b), MSG_PEEK);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return;
			if (n <= 0) {
				conn_close(c);
				return;
			}
			if (!srv->tls && b[0] == 0x16) {
				reject(c, "client sent a TLS handshake to a plain-HTTP port");
				return;
			}
			if (srv->tls && b[0] != 0x16) {
				reject(c, "client sent plain HTTP to a TLS port");
				return;
			}
			if (srv->tls) {
				c->ssl = SSL_new(srv->ssl_ctx);
				if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) {
					conn_close(c);
					return;
				}
				c->proto = PROTO_TLS_HANDSHAKE;
				conn_timer(c, srv->header_ms);
				continue;
			}
			if (srv->http2 && (size_t)n < sizeof(b) && !memcmp(b, h2_preface, (size_t)n))
				return; /* maybe the HTTP/2 preface: wait for all of it */
			if (srv->http2 && (size_t)n == sizeof(b) && !memcmp(b, h2_preface, sizeof(b))) {
				if (h2_start(c)) {
					conn_close(c);
					return;
				}
				continue;
			}
			c->proto = PROTO_H1;
			c->h1 = H1_HEAD;
			continue;
		}
		if (c->proto == PROTO_TLS_HANDSHAKE) {
			ERR_clear_error();
			int r = SSL_accept(c->ssl);
			if (r != 1) {
				int e = SSL_get_error(c->ssl, r);
				if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
					return;
				log_debug("TLS handshake failed");
				ERR_clear_error();
				conn_close(c);
				return;
			}
			const unsigned char *alpn = NULL;
			unsigned alen = 0;
			SSL_get0_alpn_selected(c->ssl, &alpn, &alen);
			conn_timer(c, srv->idle_ms);
			if (alen == 2 && !memcmp(alpn, "h2", 2)) {
				if (h2_start(c)) {
					conn_close(c);
					return;
				}
			} else {
				c->proto = PROTO_H1;
				c->h1 = H1_HEAD;
			}
			continue;
		}
		if (c->proto == PROTO_H2) {
			if (h2_pump(c) < 0)
				conn_close(c);
			return;
		}
		h1_pump(c);
		return;
	}
}

/* ---- event loops ---- */

const char *http_date(void)
{
	static __thread time_t sec;
	static __thread char date[40];
	time_t now = time(NULL);
	if (now != sec) {
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		sec = now;
	}
	return date;
}

/* Closes the connection of this loop idle longest, to admit a new one. 1 if one was. */
static int evict_idle(struct loop *l)
{
	struct conn *c = l->idle_head;
	if (!c)
		return 0;
	log_debug("closing an idle connection to admit a new one (max-connections reached)");
	conn_close(c);
	return 1;
}

static void refuse(int fd, const char *why)
{
	char resp[256];
	int n = snprintf(resp, sizeof(resp),
			 "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nConnection: close\r\n"
			 "Retry-After: 1\r\nContent-Length: %zu\r\n\r\n%s\n",
			 strlen(why) + 1, why);
	ssize_t w = send(fd, resp, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)w;
	close(fd);
}

/* At max-connections: closes the connection idle longest across all loops. When another loop
 * holds it, that loop is asked to close its oldest idle one (the cap is then passed by one for a
 * moment). A loop with closes already asked of it counts only if it has idle ones beyond those.
 * 0 when no connection is idle anywhere. The other loops' counts are read without a lock: in a
 * burst a loop with closes pending still shows its oldest and may be asked again (closing its
 * next oldest), and a loop caught between its two updates may be passed over; either way an idle
 * connection is closed, or at worst one new connection is answered 503 for a moment. */
static int make_room(struct loop *l)
{
	struct http_server *srv = l->srv;
	struct loop *best = NULL;
	uint64_t oldest = UINT64_MAX;
	for (int i = 0; i < srv->nloops; i++) {
		struct loop *o = &srv->loops[i];
		int spare = __atomic_load_n(&o->nidle, __ATOMIC_RELAXED) - __atomic_load_n(&o->evict_wanted, __ATOMIC_RELAXED);
		uint64_t at = __atomic_load_n(&o->idle_oldest, __ATOMIC_RELAXED);
		if (spare > 0 && at < oldest) {
			oldest = at;
			best = o;
		}
	}
	if (!best || best == l)
		return evict_idle(l);
	__atomic_add_fetch(&best->evict_wanted, 1, __ATOMIC_RELAXED);
	loop_wake(best);
	return 1;
}

static void admit(struct loop *l, int fd, const struct sockaddr_storage *addr, socklen_t addrlen)
{
	struct http_server *srv = l->srv;
	if (__atomic_load_n(&srv->nconns, __ATOMIC_RELAXED) >= srv->max_conns && !make_room(l)) {
		refuse(fd, "too many connections: the server is at max-connections, and none is idle");
		return;
	}
	struct conn *c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->loop = l;
	c->fd = fd;
	c->file_fd = -1;
	c->addr = *addr;
	c->addrlen = addrlen;
	if (client_acquire(srv, c)) {
		free(c);
		refuse(fd, "too many connections from this address: the server is at max-connections-per-client");
		return;
	}
	__atomic_add_fetch(&srv->nconns, 1, __ATOMIC_RELAXED);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	conn_link(c, &l->conns);
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev)) {
		conn_close(c);
		return;
	}
	idle_push(c);
	conn_timer(c, srv->idle_ms);
	conn_pump(c);
}

static int reserve_fd = -1; /* closed to accept-and-close when the process runs out of fds */

static void loop_accept(struct loop *l)
{
	struct http_server *srv = l->srv;
	for (int i = 0; i < 64 && srv->running; i++) {
		struct sockaddr_storage addr;
		socklen_t al = sizeof(addr);
		int fd = accept4(srv->listen_fd, (struct sockaddr *)&addr, &al, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				/* out of descriptors: refuse one waiting client instead of spinning */
				if (!evict_idle(l) && reserve_fd >= 0) {
					close(reserve_fd);
					fd = accept4(srv->listen_fd, NULL, NULL, SOCK_CLOEXEC);
					if (fd >= 0)
						refuse(fd, "the server is out of file descriptors");
					reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
				}
				log_warn("out of file descriptors accepting connections");
			}
			return;
		}
		admit(l, fd, &addr, al);
	}
}

static void loop_mail(struct loop *l)
{
	uint64_t v;
	ssize_t r = read(l->evfd, &v, sizeof(v));
	(void)r;
	pthread_mutex_lock(&l->mu);
	struct http_stream *s = l->mail;
	l->mail = NULL;
	l->mail_signalled = 0;
	pthread_mutex_unlock(&l->mu);
	/* oldest first */
	struct http_stream *rev = NULL;
	while (s) {
		struct http_stream *n = s->next;
		s->next = rev;
		rev = s;
		s = n;
	}
	for (int want = __atomic_exchange_n(&l->evict_wanted, 0, __ATOMIC_RELAXED); want > 0; want--)
		evict_idle(l);
	for (s = rev; s;) {
		struct http_stream *n = s->next;
		struct conn *c = s->conn;
		s->busy = 0;
		if (c->proto == PROTO_H2) {
			h2_task_done(c, s);
			if (!c->closed && h2_pump(c) < 0)
				conn_close(c);
		} else {
			h1_task_done(c, s);
			if (!c->closed)
				conn_pump(c);
		}
		s = n; /* c stays allocated until loop_bury */
	}
}

static void loop_sweep(struct loop *l)
{
	int64_t now = http_now_ms();
	for (struct conn *c = l->conns, *n; c; c = n) {
		n = c->next;
		if (c->closed || !c->timeout_ms || now - c->since_ms < c->timeout_ms)
			continue;
		if (c->proto == PROTO_H2 && !h2_idle(c))
			continue; /* a handler has one of its streams */
		if (c->proto == PROTO_H2 && c->h2_streams)
			log_info("closing an HTTP/2 connection: no progress of its streams in %" PRId64 " s",
				 c->timeout_ms / 1000);
		else if (c->proto == PROTO_H1 && c->cur)
			log_info("closing a connection: no progress of its request in %" PRId64 " s", c->timeout_ms / 1000);
		conn_close(c);
	}
}

static void *loop_main(void *arg)
{
	struct loop *l = arg;
	struct http_server *srv = l->srv;
	struct epoll_event evs[256];
	while (srv->running) {
		int n = epoll_wait(l->epfd, evs, (int)DD_ARRAY_LEN(evs), 1000);
		if (n < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;
			if (p == &mark_listen)
				loop_accept(l);
			else if (p == &mark_mail)
				loop_mail(l);
			else {
				/* a connection's socket, or (address + 1) a streamed body it waits on */
				struct conn *c = (struct conn *)((uintptr_t)p & ~(uintptr_t)1);
				if ((uintptr_t)p & 1) {
					if (!c->closed) {
						if (c->proto == PROTO_H2)
							h2_resume_streams(c);
						conn_pump(c);
					}
					continue;
				}
				if (!c->closed) {
					if ((evs[i].events & (EPOLLERR | EPOLLHUP)) && c->proto == PROTO_H1 &&
					    c->h1 == H1_HEAD && !c->in_len) {
						conn_close(c);
						continue;
					}
					conn_pump(c);
				}
			}
		}
		int64_t now = http_now_ms();
		if (now >= l->next_sweep) {
			loop_sweep(l);
			l->next_sweep = now + 1000;
		}
		if (l->dead)
			loop_bury(l);
	}
	return NULL;
}

/* ---- start and stop ---- */

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
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 4096) == 0)
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

/* The connection cap: as configured, within the open-file limit (raised to its maximum). */
static long connection_cap(long want)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl))
		return want;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	/* files, the database, blobs being read and written need descriptors too */
	long room = rl.rlim_cur == RLIM_INFINITY ? want : (long)rl.rlim_cur - 1024;
	if (room < 64)
		room = 64;
	if (want > room) {
		log_warn("max-connections lowered from %ld to %ld by the open-file limit (ulimit -n %lu)", want, room,
			 (unsigned long)rl.rlim_cur);
		return room;
	}
	return want;
}

static void loops_free(struct http_server *s)
{
	for (int i = 0; i < s->nloops; i++) {
		struct loop *l = &s->loops[i];
		if (l->epfd >= 0)
			close(l->epfd);
		if (l->evfd >= 0)
			close(l->evfd);
		pthread_mutex_destroy(&l->mu);
	}
	free(s->loops);
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
	s->http2 = cfg->http2;
	s->access_log = cfg->access_log;
	s->max_conns = connection_cap(cfg->max_connections > 0 ? cfg->max_connections : DD_MAX_CONNECTIONS);
	s->max_per_client = cfg->max_connections_per_client;
	if (cfg->trusted_proxies)
		s->proxies = *cfg->trusted_proxies;
	s->idle_ms = (cfg->idle_timeout > 0 ? cfg->idle_timeout : DD_CONNECTION_TIMEOUT) * 1000;
	s->header_ms = (cfg->header_timeout > 0 ? cfg->header_timeout : DD_HEADER_TIMEOUT) * 1000;
	pthread_mutex_init(&s->clients_mu, NULL);
	pthread_mutex_init(&s->pool_mu, NULL);
	pthread_cond_init(&s->pool_idle_cv, NULL);
	s->clients_cap = 4096;
	s->clients = calloc(s->clients_cap, sizeof(*s->clients));
	if (!s->clients || siphash_key_random(&client_hash_key)) {
		free(s->clients);
		free(s);
		return DD_E_NOMEM;
	}
	if (reserve_fd < 0)
		reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (s->tls && !(s->ssl_ctx = tls_context(s, cfg->tls_cert_pem, cfg->tls_key_pem))) {
		log_error("cannot start the HTTP server: check the TLS certificate and key");
		free(s->clients);
		free(s);
		return DD_E_CONFIG;
	}
	int rc = listen_on(cfg->host, cfg->port, &s->listen_fd, port_out);
	if (rc) {
		SSL_CTX_free(s->ssl_ctx);
		free(s->clients);
		free(s);
		return rc;
	}
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	s->nloops = cfg->loops > 0 ? cfg->loops : cpus < 1 ? 1 : cpus > 8 ? 8 : (int)cpus;
	s->loops = calloc((size_t)s->nloops, sizeof(*s->loops));
	if (!s->loops) {
		close(s->listen_fd);
		SSL_CTX_free(s->ssl_ctx);
		free(s->clients);
		free(s);
		return DD_E_NOMEM;
	}
	s->running = 1;
	int started = 0;
	for (int i = 0; i < s->nloops; i++) {
		struct loop *l = &s->loops[i];
		l->srv = s;
		pthread_mutex_init(&l->mu, NULL);
		l->idle_oldest = UINT64_MAX;
		l->epfd = epoll_create1(EPOLL_CLOEXEC);
		l->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		struct epoll_event lev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = &mark_listen};
		struct epoll_event mev = {.events = EPOLLIN, .data.ptr = &mark_mail};
		if (l->epfd < 0 || l->evfd < 0 || epoll_ctl(l->epfd, EPOLL_CTL_ADD, s->listen_fd, &lev) ||
		    epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->evfd, &mev)) {
			rc = DD_E_IO;
			break;
		}
	}
	for (int i = 0; !rc && i < s->nloops; i++) {
		if (pthread_create(&s->loops[i].thread, NULL, loop_main, &s->loops[i])) {
			rc = DD_E_INTERNAL;
			break;
		}
		started++;
	}
	if (rc) {
		s->running = 0;
		for (int i = 0; i < started; i++) {
			uint64_t one = 1;
			ssize_t w = write(s->loops[i].evfd, &one, sizeof(one));
			(void)w;
			pthread_join(s->loops[i].thread, NULL);
		}
		loops_free(s);
		close(s->listen_fd);
		SSL_CTX_free(s->ssl_ctx);
		free(s->clients);
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

/* At stop, with no loop or handler thread left: every request still open gets its done
 * callback here, then the connection is freed. */
static void conn_reap(struct http_server *srv, struct conn *c)
{
	struct http_stream *list[2] = {c->cur, c->h2_streams};
	c->cur = NULL;
	c->h2_streams = NULL;
	for (int i = 0; i < 2; i++) {
		for (struct http_stream *st = list[i], *n; st; st = n) {
			n = i ? st->h2_next : NULL;
			if (st->began && !st->done_ran)
				srv->app.done(&st->req);
			stream_free(st);
		}
	}
	if (!c->closed)
		conn_close(c);
	free(c);
}

void http_server_stop(struct http_server *s)
{
	if (!s)
		return;
	s->running = 0;
	for (int i = 0; i < s->nloops; i++) {
		uint64_t one = 1;
		ssize_t w = write(s->loops[i].evfd, &one, sizeof(one));
		(void)w;
	}
	for (int i = 0; i < s->nloops; i++)
		pthread_join(s->loops[i].thread, NULL);
	close(s->listen_fd);
	/* Handlers that are running finish and queued tasks still run (one may be finishing an
	 * upload); then the threads end. Nothing dispatches any more: the loops are gone. */
	pthread_mutex_lock(&s->pool_mu);
	s->pool_stop = 1;
	for (struct handler *h = s->idle; h; h = h->next_idle)
		sem_post(&h->sem);
	while (s->threads > 0)
		pthread_cond_wait(&s->pool_idle_cv, &s->pool_mu);
	pthread_mutex_unlock(&s->pool_mu);
	for (int i = 0; i < s->nloops; i++) {
		struct loop *l = &s->loops[i];
		l->mail = NULL; /* each stream there is still its connection's */
		while (l->conns) {
			struct conn *c = l->conns;
			conn_close(c); /* moves it to the dead list */
		}
		while (l->dead) {
			struct conn *c = l->dead;
			conn_unlink(c, &l->dead);
			c->closed = 1;
			conn_reap(s, c);
		}
	}
	loops_free(s);
	SSL_CTX_free(s->ssl_ctx);
	for (size_t i = 0; i < s->clients_cap; i++)
		while (s->clients[i].next) {
			struct client_slot *n = s->clients[i].next;
			s->clients[i].next = n->next;
			free(n);
		}
	free(s->clients);
	pthread_mutex_destroy(&s->clients_mu);
	pthread_mutex_destroy(&s->pool_mu);
	pthread_cond_destroy(&s->pool_idle_cv);
	free(s);
}
