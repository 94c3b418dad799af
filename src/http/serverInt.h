/* serverInt.h: the server's internals shared by server.c (connections, event loops,
 * handler threads, HTTP/1.1) and h2.c (HTTP/2). Not for applications: they see server.h. */
#ifndef DD_HTTP_SERVER_INT_H
#define DD_HTTP_SERVER_INT_H
#include "server.h"
#include "http1.h"
#include "common/netaddr.h"
#include <openssl/ssl.h>
#include <sys/socket.h>

struct kv {
	const char *name, *value; /* arena strings; value NULL for a query key without '=' */
};

/* What the application answered. Headers live in the request's arena; the memory body is
 * malloc'ed and the fd owned, both released with the stream. */
struct http_resp {
	int status;
	int kind; /* RESP_MEM, RESP_FD, RESP_HEAD */
	struct kv *hdrs;
	int nhdrs, hdrs_cap;
	char *mem;
	size_t mem_len;
	int fd;
	int64_t off, len; /* RESP_FD: the range; RESP_HEAD: the Content-Length */
	int stream;       /* RESP_FD: fd is a socket or pipe read in order from its start, not a file */
	int watch_epfd;   /* the epoll set that fd was added to, plus one; 0: none (removed before close) */
};
enum { RESP_MEM, RESP_FD, RESP_HEAD };

/* The task a handler thread runs for a stream. */
enum { TASK_RUN, TASK_DONE };

/* One request and its response: an HTTP/1.1 exchange or an HTTP/2 stream. */
struct http_stream {
	struct http_req req;
	struct conn *conn;
	struct http_stream *next;      /* the handler queue, a loop's mailbox */
	struct http_stream *h2_next;   /* h2: the connection's list of streams */
	int32_t h2_id;                 /* h2: the stream id */
	struct kv *headers, *query;
	int nheaders, nquery, headers_cap;
	int64_t content_length; /* -1: not given */
	int chunked;
	struct h1_chunked ch;
	int64_t body_left;      /* Content-Length framing: bytes still to read */
	/* The body bytes the next task hands to body(): set by the loop, read by the task. */
	const char *body;
	size_t body_len;
	int body_complete;      /* every body byte has been read (and handed over or queued) */
	int task;
	int busy;               /* a handler thread has it */
	int began, ended;
	int aborted;            /* the connection failed or timed out before the response was sent */
	int head_only;          /* HEAD: no body is sent */
	int minor;              /* h1: HTTP/1.minor */
	int continue_pending;   /* "Expect: 100-continue": answer it when the body is wanted */
	int finished;           /* loop: the done task came back (or the stream needs none) */
	int done_ran;           /* handler: the done task ran (read only at stop) */
	int responded;          /* loop: a task came back with a response set */
	int prepared;           /* h1: the response is in the connection's output */
	int64_t sent_base;      /* h1: the connection's bytes sent when the response was queued */
	int sent;               /* h1: the handler thread wrote it all, and ran done */
	int send_failed;        /* h1: the handler thread's write failed, and it ran done */
	int h2_headers_done;    /* h2: the request's headers are all here */
	int h2_eos;             /* h2: the request's last byte is here */
	int h2_closed;          /* h2: nghttp2 closed the stream */
	int h2_refused;         /* h2: its body had no room in the server's budget: reset, bytes dropped */
	int h2_submitted;       /* h2: the response was handed to nghttp2 */
	int h2_resp_done;       /* h2: the response's last frame was sent */
	size_t h2_hdr_bytes;    /* h2: the request's header list size (RFC 9113 6.5.2) */
	char *h2_buf;           /* h2: request body bytes received, not yet handed to a task */
	size_t h2_len, h2_cap, h2_handed;
	int64_t h2_sent;        /* h2: response body bytes given to nghttp2 */
	int h2_deferred;        /* h2: its streamed body had no bytes ready: resumed when they come */
};

enum conn_proto { PROTO_SNIFF, PROTO_TLS_HANDSHAKE, PROTO_H1, PROTO_H2 };
enum h1_state { H1_HEAD, H1_TASK, H1_BODY, H1_WRITE, H1_DONE_WAIT, H1_LINGER };

struct loop;
struct h2_conn;

struct conn {
	struct loop *loop;
	struct conn *prev, *next;           /* the loop's connections */
	struct conn *idle_prev, *idle_next; /* the loop's idle connections, oldest first */
	int in_idle;
	uint64_t idle_seq; /* the order in which it joined an idle list, across all loops */
	int fd;
	SSL *ssl;
	int proto;
	int h1;                 /* enum h1_state */
	int closed;             /* the socket is closed; on the loop's dead list until no stream is left */
	int nstreams;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	uint32_t client_key;    /* the per-client table's key for this address */
	int64_t since_ms;       /* start of what the timeout measures */
	int64_t timeout_ms;     /* 0: none (a handler has the request) */
	/* input */
	char *in;
	size_t in_len, in_cap;
	size_t scanned;         /* h1_head_end's position */
	size_t raw_off;         /* bytes of in[] a running task's body slice covers */
	int eof;
	int want_read;          /* the peer's TLS wants our write before it can read (and reverse) */
	int want_write;
	/* HTTP/1.1 */
	struct http_stream *cur;
	int keep_alive;
	int64_t linger_left;
	/* output */
	char *out;
	size_t out_len, out_off, out_cap;
	const char *mem;        /* a response body from memory, after out */
	size_t mem_len, mem_off;
	int64_t sent_total;     /* bytes written on this connection (HTTP/1.1: for the access log) */
	int file_fd;            /* a response body from a file, after out and mem */
	int64_t file_off, file_left;
	int file_stream;        /* the body's fd is read in order (a socket, a pipe), not pread */
	char *fbuf;             /* TLS: file bytes read, not yet written */
	size_t fbuf_len, fbuf_off, fbuf_cap;
	/* HTTP/2 */
	struct h2_conn *h2;
	struct http_stream *h2_streams; /* linked by h2_next */
};

/* An event loop thread: its connections, and the mailbox where handler threads return
 * streams. */
struct loop {
	struct http_server *srv;
	int epfd, evfd;
	pthread_t thread;
	pthread_mutex_t mu;
	struct http_stream *mail; /* tasks done, newest first */
	int mail_signalled;
	struct conn *conns;                  /* every open connection of this loop */
	struct conn *dead;                   /* closed ones, freed when their streams are */
	struct conn *idle_head, *idle_tail;  /* the idle ones, oldest first */
	int nidle;                           /* atomic: read by other loops */
	uint64_t idle_oldest;                /* atomic: idle_seq of the oldest idle one; UINT64_MAX if none */
	int evict_wanted;                    /* atomic: idle connections other loops asked to close */
	int64_t next_sweep;
};

/* The server: shared by every loop and handler thread. */
/* A streamed body's fd is waited on in the loop's epoll set with the connection's address
 * plus one, told apart from the connection's own socket by that low bit. Returns 0 or -1. */
int conn_watch_stream(struct conn *c, struct http_resp *rs);

struct http_server {
	struct http_app app;
	int listen_fd;
	int tls;
	int http2;
	int access_log;
	SSL_CTX *ssl_ctx;
	long max_conns, max_per_client;
	struct netaddr_list proxies; /* trusted_proxies (none: n 0) */
	int64_t idle_ms, header_ms;
	int nloops;
	struct loop *loops;
	volatile int running;
	int nconns;             /* atomic */
	int64_t buffered;       /* atomic: bytes of request bodies in buffers */
	pthread_mutex_t clients_mu;
	struct client_slot *clients;
	size_t clients_cap;
	/* handler threads */
	pthread_mutex_t pool_mu;
	pthread_cond_t pool_idle_cv;
	struct handler *idle;   /* idle handler threads, last idle first */
	struct http_stream *queue_head, *queue_tail;
	int queued, threads, idle_threads, pool_stop;
};

/* server.c, for h2.c */
int64_t http_now_ms(void);
struct http_stream *stream_new(struct conn *c);
void stream_dispatch(struct http_stream *s, int task);
void stream_free(struct http_stream *s);
void stream_add_header(struct http_stream *s, const char *name, size_t nlen, const char *value, size_t vlen);
int stream_set_target(struct http_stream *s, const char *target, size_t len, const char **why);
const char *http_reason(int status);
/* The Date header's value, cached per thread for the second. Borrowed. */
const char *http_date(void);
/* Writes to the socket (TLS or plain): bytes written, 0 when it would block, -1 on error. */
ssize_t conn_send(struct conn *c, const void *p, size_t n);
/* Reads: bytes read, 0 when it would block, -1 on EOF or error. */
ssize_t conn_recv(struct conn *c, void *p, size_t n);
void conn_close(struct conn *c);

/* h2.c */
int h2_start(struct conn *c);
/* Feeds input and writes output; -1 when the connection is over. */
int h2_pump(struct conn *c);
/* Resumes the streams whose streamed bodies waited for bytes (their fd became readable). */
void h2_resume_streams(struct conn *c);
/* A task of one of the connection's streams came back. */
void h2_task_done(struct conn *c, struct http_stream *s);
void h2_free(struct conn *c);
int h2_idle(struct conn *c);

#endif
