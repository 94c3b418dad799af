/* h2.c: HTTP/2 (RFC 9113) over nghttp2, for connections that chose "h2" in TLS ALPN or
 * opened with the HTTP/2 preface on a plain port. nghttp2 does the framing, HPACK, flow
 * control and the protocol's checks; this file maps its streams onto the server's streams
 * (the same application callbacks as HTTP/1.1, on handler threads) from the event loop.
 *
 * A request body is not acknowledged (no WINDOW_UPDATE) until a handler has taken it, so a
 * client can have at most one stream window (H2_STREAM_WINDOW) of body buffered per stream
 * and one connection window per connection: flow control is the backpressure. */
#include "common/dd.h"
#include "serverInt.h"
#include "common/log.h"
#include <nghttp2/nghttp2.h>

#define H2_STREAM_WINDOW (1 << 20)
#define H2_CONN_WINDOW (4 << 20)
#define H2_BODY_BATCH (H2_STREAM_WINDOW / 4) /* body bytes of a stream a handler is woken for */
#define H2_OUT_BATCH (64 * 1024) /* frames gathered into one TLS write: full-size records */
#define H2_READ (64 * 1024)

struct h2_conn {
	nghttp2_session *ng;
	int dirty; /* some stream may have work to hand to a handler */
};

static void stream_link(struct conn *c, struct http_stream *s)
{
	s->h2_next = c->h2_streams;
	c->h2_streams = s;
}

static void stream_unlink(struct conn *c, struct http_stream *s)
{
	struct http_stream **pp = &c->h2_streams;
	while (*pp && *pp != s)
		pp = &(*pp)->h2_next;
	if (*pp)
		*pp = s->h2_next;
}

/* ---- nghttp2 callbacks (loop thread) ---- */

static int on_begin_headers(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
	struct conn *c = ud;
	if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	struct http_stream *s = stream_new(c);
	s->h2_id = f->hd.stream_id;
	stream_link(c, s);
	nghttp2_session_set_stream_user_data(ng, f->hd.stream_id, s);
	return 0;
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *name, size_t nlen,
		     const uint8_t *value, size_t vlen, uint8_t flags, void *ud)
{
	(void)flags, (void)ud;
	if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	struct http_stream *s = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
	if (!s)
		return 0;
	struct arena *a = &s->req.arena;
	s->h2_hdr_bytes += nlen + vlen + 32;
	if (s->h2_hdr_bytes > DD_MAX_HEADER_BYTES || s->nheaders >= DD_MAX_HEADER_FIELDS)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* resets the stream */
	if (nlen && name[0] == ':') {
		if (nlen == 7 && !memcmp(name, ":method", 7))
			s->req.method = arena_strndup(a, (const char *)value, vlen);
		else if (nlen == 5 && !memcmp(name, ":path", 5)) {
			const char *why;
			if (stream_set_target(s, (const char *)value, vlen, &why)) {
				log_debug("HTTP/2 stream refused: %s", why);
				return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
			}
		} else if (nlen == 10 && !memcmp(name, ":authority", 10))
			stream_add_header(s, "host", 4, (const char *)value, vlen);
		return 0;
	}
	if (nlen == 4 && !memcmp(name, "host", 4))
		for (int i = 0; i < s->nheaders; i++)
			if (!strcmp(s->headers[i].name, "host"))
				return 0; /* :authority came first and wins */
	stream_add_header(s, (const char *)name, nlen, (const char *)value, vlen);
	return 0;
}

static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
	struct conn *c = ud;
	if (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA)
		return 0;
	struct http_stream *s = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
	if (!s)
		return 0;
	if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST) {
		if (!s->req.method || !s->req.path) {
			nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, f->hd.stream_id, NGHTTP2_PROTOCOL_ERROR);
			return 0;
		}
		s->head_only = !strcmp(s->req.method, "HEAD");
		const char *cl = NULL;
		for (int i = 0; i < s->nheaders; i++)
			if (!strcmp(s->headers[i].name, "content-length"))
				cl = s->headers[i].value;
		if (cl)
			s->content_length = strtoll(cl, NULL, 10); /* nghttp2 checked its syntax */
		s->h2_headers_done = 1;
	}
	if (f->hd.flags & NGHTTP2_FLAG_END_STREAM)
		s->h2_eos = 1;
	((struct h2_conn *)c->h2)->dirty = 1;
	return 0;
}

static int on_data_chunk(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data, size_t len, void *ud)
{
	(void)flags;
	struct conn *c = ud;
	struct http_stream *s = nghttp2_session_get_stream_user_data(ng, id);
	if (!s || s->responded || s->finished || s->h2_refused) { /* nobody reads it: give the window back */
		nghttp2_session_consume(ng, id, len);
		return 0;
	}
	if (!s->h2_buf) {
		/* a window's room (the body's length when it is less), within the bound on bodies read
		 * ahead of their handlers (DD_MAX_BUFFERED_BYTES, shared with HTTP/1.1's): past it the
		 * stream is refused, which a client may try again */
		struct http_server *srv = c->loop->srv;
		size_t cap = H2_STREAM_WINDOW;
		if (s->content_length >= 0 && s->content_length < (int64_t)cap)
			cap = s->content_length ? (size_t)s->content_length : 1;
		int over = __atomic_add_fetch(&srv->buffered, (int64_t)cap, __ATOMIC_RELAXED) > DD_MAX_BUFFERED_BYTES;
		if (over || !(s->h2_buf = malloc(cap))) {
			__atomic_fetch_sub(&srv->buffered, (int64_t)cap, __ATOMIC_RELAXED);
			log_info("refused an HTTP/2 stream's body: %s",
				 over ? "the server holds its bound of bodies read ahead" : "out of memory");
			s->h2_refused = 1;
			nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, id, NGHTTP2_REFUSED_STREAM);
			nghttp2_session_consume(ng, id, len);
			((struct h2_conn *)c->h2)->dirty = 1;
			return 0;
		}
		s->h2_cap = cap;
	}
	if (s->h2_len + len > s->h2_cap) /* the client ignored flow control (nghttp2 stops that first) */
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	memcpy(s->h2_buf + s->h2_len, data, len);
	s->h2_len += len;
	((struct h2_conn *)c->h2)->dirty = 1;
	return 0;
}

static int on_stream_close(nghttp2_session *ng, int32_t id, uint32_t error_code, void *ud)
{
	(void)error_code;
	struct conn *c = ud;
	struct http_stream *s = nghttp2_session_get_stream_user_data(ng, id);
	if (!s)
		return 0;
	nghttp2_session_set_stream_user_data(ng, id, NULL);
	s->h2_closed = 1;
	/* body bytes no handler took go back to the connection's window: the stream's own closes
	 * with it, and nobody will take them (a reset stream held up to a batch each, which else
	 * drained the window in a few dozen resets) */
	if (s->h2_len > s->h2_handed) {
		nghttp2_session_consume_connection(ng, s->h2_len - s->h2_handed);
		s->h2_len = s->h2_handed;
	}
	if (!s->h2_resp_done)
		s->aborted = 1;
	((struct h2_conn *)c->h2)->dirty = 1;
	return 0;
}

static int on_frame_send(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
	(void)ud;
	/* the response is complete while the request body is not: ask the client to stop */
	if ((f->hd.type == NGHTTP2_DATA || f->hd.type == NGHTTP2_HEADERS) && (f->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
		struct http_stream *s = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
		if (s)
			s->h2_resp_done = 1;
		if (s && !s->h2_eos)
			nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, f->hd.stream_id, NGHTTP2_NO_ERROR);
	}
	return 0;
}

static ssize_t data_read(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t length, uint32_t *flags,
			 nghttp2_data_source *src, void *ud)
{
	(void)ng, (void)id, (void)ud;
	struct http_stream *s = src->ptr;
	struct http_resp *rs = s->req.resp;
	int64_t total = rs->kind == RESP_MEM ? (int64_t)rs->mem_len : rs->len;
	int64_t left = total - s->h2_sent;
	size_t n = left < (int64_t)length ? (size_t)left : length;
	if (rs->kind == RESP_MEM) {
		memcpy(buf, rs->mem + s->h2_sent, n);
	} else if (n) {
		ssize_t r;
		do
			r = rs->stream ? read(rs->fd, buf, n) : pread(rs->fd, buf, n, (off_t)(rs->off + s->h2_sent));
		while (r < 0 && errno == EINTR);
		if (r < 0 && rs->stream && errno == EAGAIN) {
			/* nothing yet: resumed when its bytes come (h2_resume_streams) */
			if (conn_watch_stream(s->conn, rs))
				return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
			s->h2_deferred = 1;
			return NGHTTP2_ERR_DEFERRED;
		}
		if (r <= 0) {
			log_error("cannot read a file being sent: %s", r ? strerror(errno) : "it ended early");
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
		}
		n = (size_t)r;
	}
	s->h2_sent += (int64_t)n;
	if (s->h2_sent == total)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

/* ---- streams and tasks ---- */

static void lower_copy(char *dst, const char *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = (char)tolower((unsigned char)src[i]);
}

static void submit_response(struct conn *c, struct http_stream *s)
{
	struct h2_conn *h = c->h2;
	struct http_resp *rs = s->req.resp;
	struct arena *a = &s->req.arena;
	int st = rs->status;
	int has_len = st >= 200 && st != 204 && st != 304;
	int64_t len = rs->kind == RESP_MEM ? (int64_t)rs->mem_len : rs->len;
	nghttp2_nv *nv = arena_alloc(a, sizeof(*nv) * (size_t)(rs->nhdrs + 3));
	size_t n = 0;
	char *status = arena_printf(a, "%d", st);
	nv[n++] = (nghttp2_nv){(uint8_t *)":status", (uint8_t *)status, 7, strlen(status), NGHTTP2_NV_FLAG_NONE};
	const char *date = http_date();
	nv[n++] = (nghttp2_nv){(uint8_t *)"date", (uint8_t *)date, 4, strlen(date), NGHTTP2_NV_FLAG_NO_COPY_NAME};
	for (int i = 0; i < rs->nhdrs; i++) {
		size_t nl = strlen(rs->hdrs[i].name);
		char *name = arena_alloc_uninit(a, nl + 1);
		lower_copy(name, rs->hdrs[i].name, nl);
		nv[n++] = (nghttp2_nv){(uint8_t *)name, (uint8_t *)rs->hdrs[i].value, nl, strlen(rs->hdrs[i].value),
				       NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE};
	}
	if (has_len) {
		char *cl = arena_printf(a, "%" PRId64, len);
		nv[n++] = (nghttp2_nv){(uint8_t *)"content-length", (uint8_t *)cl, 14, strlen(cl),
				       NGHTTP2_NV_FLAG_NO_COPY_NAME};
	}
	nghttp2_data_provider dp = {.source.ptr = s, .read_callback = data_read};
	int body = has_len && !s->head_only && rs->kind != RESP_HEAD && len > 0;
	s->h2_sent = 0;
	s->h2_submitted = 1;
	int rv = nghttp2_submit_response(h->ng, s->h2_id, nv, n, body ? &dp : NULL);
	if (rv)
		nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE, s->h2_id, NGHTTP2_INTERNAL_ERROR);
}

/* Hands a stream the work that is ready, if it is not with a handler already. Body bytes wait
 * for a batch (H2_BODY_BATCH; handing over each read as it came cost two thread wakeups per
 * DATA frame or two) unless the stream's body is complete or `hold` is 0: the connection holds
 * so much unhanded that the client's connection window could run out before a stream fills a
 * batch. The bytes held stay under a quarter of H2_CONN_WINDOW and each stream's under a
 * quarter of its window, so a client is never left waiting for a WINDOW_UPDATE that needs a
 * batch to come. */
static void stream_kick(struct conn *c, struct http_stream *s, int hold)
{
	struct h2_conn *h = c->h2;
	if (s->busy || s->finished)
		return;
	if (s->h2_closed) {
		if (!s->began && !s->responded) { /* reset before it began: nothing to tell the app */
			s->finished = 1;
			return;
		}
		stream_dispatch(s, TASK_DONE);
		return;
	}
	if (!s->h2_headers_done)
		return; /* headers still coming */
	if (s->responded) {
		if (!s->h2_submitted)
			submit_response(c, s);
		return;
	}
	int eos = s->h2_eos;
	if (s->began && !s->h2_len && (!eos || s->ended))
		return;
	if (s->began && !eos && hold && s->h2_len < H2_BODY_BATCH)
		return;
	s->body = s->h2_buf;
	s->body_len = s->h2_len;
	s->h2_handed = s->h2_len;
	s->body_complete = eos; /* every byte received is handed over now */
	(void)h;
	stream_dispatch(s, TASK_RUN);
}

void h2_task_done(struct conn *c, struct http_stream *s)
{
	if (s->task == TASK_DONE) {
		stream_unlink(c, s);
		stream_free(s);
		return;
	}
	s->responded = s->req.resp != NULL;
	size_t handed = s->h2_handed;
	s->body = NULL;
	s->body_len = 0;
	s->h2_handed = 0;
	if (c->closed) {
		s->aborted = 1;
		stream_dispatch(s, TASK_DONE);
		return;
	}
	struct h2_conn *h = c->h2;
	if (handed) {
		memmove(s->h2_buf, s->h2_buf + handed, s->h2_len - handed);
		s->h2_len -= handed;
		if (!s->h2_closed)
			nghttp2_session_consume(h->ng, s->h2_id, handed);
		else
			nghttp2_session_consume_connection(h->ng, handed);
	}
	if (s->responded && s->h2_len) { /* a response before the whole body: drop what came */
		if (!s->h2_closed)
			nghttp2_session_consume(h->ng, s->h2_id, s->h2_len);
		s->h2_len = 0;
	}
	h->dirty = 1;
}

/* ---- the connection ---- */

int h2_start(struct conn *c)
{
	struct h2_conn *h = calloc(1, sizeof(*h));
	if (!h)
		return DD_E_NOMEM;
	nghttp2_session_callbacks *cb;
	if (nghttp2_session_callbacks_new(&cb)) {
		free(h);
		return DD_E_NOMEM;
	}
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
	nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
	nghttp2_option *opt;
	if (nghttp2_option_new(&opt)) {
		nghttp2_session_callbacks_del(cb);
		free(h);
		return DD_E_NOMEM;
	}
	nghttp2_option_set_no_auto_window_update(opt, 1);
	nghttp2_option_set_max_outbound_ack(opt, 1000);
	nghttp2_option_set_max_settings(opt, 32);
	int rv = nghttp2_session_server_new2(&h->ng, cb, c, opt);
	nghttp2_option_del(opt);
	nghttp2_session_callbacks_del(cb);
	if (rv) {
		free(h);
		return DD_E_NOMEM;
	}
	nghttp2_settings_entry iv[] = {
		{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, DD_MAX_H2_STREAMS},
		{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2_STREAM_WINDOW},
		{NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, DD_MAX_HEADER_BYTES},
		{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
	};
	if (nghttp2_submit_settings(h->ng, NGHTTP2_FLAG_NONE, iv, DD_ARRAY_LEN(iv)) ||
	    nghttp2_session_set_local_window_size(h->ng, NGHTTP2_FLAG_NONE, 0, H2_CONN_WINDOW)) {
		nghttp2_session_del(h->ng);
		free(h);
		return DD_E_NOMEM;
	}
	c->h2 = h;
	c->proto = PROTO_H2;
	return 0;
}

int h2_idle(struct conn *c)
{
	for (struct http_stream *s = c->h2_streams; s; s = s->h2_next)
		if (s->busy)
			return 0;
	return 1;
}

void h2_free(struct conn *c)
{
	struct h2_conn *h = c->h2;
	if (!h)
		return;
	struct http_server *srv = c->loop->srv;
	for (struct http_stream *s = c->h2_streams, *n; s; s = n) {
		n = s->h2_next;
		if (s->busy || s->finished || !srv->running)
			continue;
		if (!s->began) {
			stream_unlink(c, s);
			stream_free(s);
			continue;
		}
		s->aborted = 1;
		stream_dispatch(s, TASK_DONE);
	}
	nghttp2_session_del(h->ng);
	free(h);
	c->h2 = NULL;
}

/* Gathers frames into out[] (up to H2_OUT_BATCH) and writes them. 1 when nothing is left to
 * write, 0 when the socket would block, -1 on error. */
static int h2_write(struct conn *c)
{
	struct h2_conn *h = c->h2;
	for (;;) {
		if (c->out_off == c->out_len) {
			c->out_off = c->out_len = 0;
			while (c->out_len < H2_OUT_BATCH) {
				const uint8_t *d;
				ssize_t n = nghttp2_session_mem_send(h->ng, &d);
				if (n < 0)
					return -1;
				if (n == 0)
					break;
				if (c->out_cap - c->out_len < (size_t)n) {
					size_t cap = c->out_cap ? c->out_cap : H2_OUT_BATCH;
					while (cap - c->out_len < (size_t)n)
						cap *= 2;
					char *p = realloc(c->out, cap);
					if (!p)
						return -1;
					c->out = p;
					c->out_cap = cap;
				}
				memcpy(c->out + c->out_len, d, (size_t)n);
				c->out_len += (size_t)n;
			}
			if (!c->out_len) {
				if (!c->h2_streams && c->out_cap) { /* idle: give the buffer back */
					free(c->out);
					c->out = NULL;
					c->out_cap = 0;
				}
				return 1;
			}
		}
		ssize_t w = conn_send(c, c->out + c->out_off, c->out_len - c->out_off);
		if (w < 0)
			return -1;
		if (w == 0)
			return 0;
		c->out_off += (size_t)w;
		c->since_ms = http_now_ms();
	}
}

void h2_resume_streams(struct conn *c)
{
	for (struct http_stream *s = c->h2_streams; s; s = s->h2_next)
		if (s->h2_deferred && !s->h2_closed) {
			s->h2_deferred = 0;
			nghttp2_session_resume_data(c->h2->ng, s->h2_id);
		}
}

int h2_pump(struct conn *c)
{
	struct h2_conn *h = c->h2;
	for (int round = 0; round < 64; round++) {
		int progress = 0;
		/* input */
		if (nghttp2_session_want_read(h->ng) && !c->eof) {
			char buf[H2_READ];
			for (;;) {
				ssize_t r = conn_recv(c, buf, sizeof(buf));
				if (r == 0)
					break;
				if (r < 0) {
					c->eof = 1;
					break;
				}
				c->since_ms = http_now_ms();
				progress = 1;
				ssize_t used = nghttp2_session_mem_recv(h->ng, (const uint8_t *)buf, (size_t)r);
				if (used < 0) {
					log_debug("HTTP/2 connection closed: %s", nghttp2_strerror((int)used));
					h2_write(c); /* a GOAWAY, if nghttp2 made one */
					return -1;
				}
			}
		}
		/* streams */
		if (h->dirty) {
			h->dirty = 0;
			size_t held = 0;
			for (struct http_stream *s = c->h2_streams; s; s = s->h2_next)
				if (!s->busy)
					held += s->h2_len;
			int hold = held < H2_CONN_WINDOW / 4;
			for (struct http_stream *s = c->h2_streams, *n; s; s = n) {
				n = s->h2_next;
				stream_kick(c, s, hold);
				if (s->finished && !s->busy) {
					stream_unlink(c, s);
					stream_free(s);
				}
			}
		}
		/* output */
		int w = h2_write(c);
		if (w < 0)
			return -1;
		if (w == 0)
			return 0; /* EPOLLOUT brings us back */
		if (h->dirty)
			continue;
		if (!progress)
			break;
	}
	if (c->eof || (!nghttp2_session_want_read(h->ng) && !nghttp2_session_want_write(h->ng)))
		return -1; /* the client is gone, or both sides said GOAWAY */
	c->timeout_ms = c->loop->srv->idle_ms;
	return 0;
}
