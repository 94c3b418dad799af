/* floor_rss.c: the memory a registry process costs before any registry code runs.
 *   floor-rss PORT DIR
 * A process that links only the libraries drydock's serving path needs for its own jobs
 * (OpenSSL's libssl for TLS and libcrypto for SHA-256, libnghttp2 for HTTP/2, SQLite in WAL
 * mode for metadata, jansson for JSON) and uses each of them: at start it sets up a TLS
 * server context that offers h2 in ALPN and an HTTP/2 server session, as a registry serving
 * HTTPS does; then it answers HTTP/1.1 on 127.0.0.1:PORT, one connection at a time on one
 * thread, with blocking sockets. Every POST body is hashed with SHA-256 and written to a file
 * in DIR as it arrives, the file flushed (fdatasync) and renamed to its digest, the digest
 * inserted into a SQLite table, and the answer is a JSON object. No drydock code is linked.
 * bench/bench.py sends it the same layers as the registries and reads its RSS, the floor that
 * any process using these libraries starts from, and its CPU time, the floor of receiving,
 * hashing and writing a push's blobs. Not a test, and on purpose not built on common/dd.h:
 * no drydock code. */
#define _GNU_SOURCE /* memmem */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <nghttp2/nghttp2.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define HEAD_MAX 65536 /* a request head, as drydock bounds it */

static sqlite3 *db;
static const char *dir; /* where the bodies are written */
static sqlite3_stmt *insert;

/* The TLS context and HTTP/2 session a registry serving HTTPS sets up; kept for the life of
 * the process so their libraries stay as used as in a server. */
static SSL_CTX *tls;
static nghttp2_session *h2;

static int select_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
		       unsigned inlen, void *arg)
{
	(void)ssl, (void)arg;
	return nghttp2_select_next_protocol((unsigned char **)out, outlen, in, inlen) == 1 ? SSL_TLSEXT_ERR_OK
											     : SSL_TLSEXT_ERR_NOACK;
}

static int libraries_init(void)
{
	nghttp2_session_callbacks *cb;
	if (!(tls = SSL_CTX_new(TLS_server_method())) || nghttp2_session_callbacks_new(&cb))
		return -1;
	SSL_CTX_set_alpn_select_cb(tls, select_alpn, NULL);
	int rc = nghttp2_session_server_new(&h2, cb, NULL);
	nghttp2_session_callbacks_del(cb);
	return rc ? -1 : 0;
}

/* A connection's buffered input: what was read past the request head belongs to the body. */
struct conn {
	int fd;
	char buf[HEAD_MAX];
	size_t len;
};

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w, n -= (size_t)w;
	}
	return 0;
}

static int answer(int fd, int status, json_t *body)
{
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (!text)
		return -1;
	char head[256];
	int n = snprintf(head, sizeof head,
			 "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n", status,
			 status == 201 ? "Created" : status == 200 ? "OK" : status == 400 ? "Bad Request" : "Error",
			 strlen(text));
	int rc = send_all(fd, head, (size_t)n) || send_all(fd, text, strlen(text)) ? -1 : 0;
	free(text);
	return rc;
}

/* The value of header name in head (NUL-terminated, CRLF lines), or NULL. */
static const char *header(const char *head, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = strstr(head, "\r\n"); p && p[2] != '\r'; p = strstr(p + 2, "\r\n")) {
		if (!strncasecmp(p + 2, name, n) && p[2 + n] == ':') {
			const char *v = p + 3 + n;
			while (*v == ' ' || *v == '\t')
				v++;
			return v;
		}
	}
	return NULL;
}

static int record(const char *hex, long long size)
{
	sqlite3_reset(insert);
	sqlite3_bind_text(insert, 1, hex, -1, SQLITE_STATIC);
	sqlite3_bind_int64(insert, 2, size);
	return sqlite3_step(insert) == SQLITE_DONE ? 0 : -1;
}

/* Hashes a body of length bytes (the part already buffered first) and writes it to DIR/upload
 * as it arrives, flushes and renames it to DIR/<digest>; answers with its digest. */
static int upload(struct conn *c, long long length)
{
	char tmp[4096], final[4096 + 2 * EVP_MAX_MD_SIZE];
	snprintf(tmp, sizeof tmp, "%s/upload", dir);
	int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (out < 0 || !md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL))
		goto fail;
	long long left = length;
	size_t have = (long long)c->len < left ? c->len : (size_t)left;
	EVP_DigestUpdate(md, c->buf, have);
	if (write(out, c->buf, have) != (ssize_t)have)
		goto fail;
	memmove(c->buf, c->buf + have, c->len - have);
	c->len -= have, left -= (long long)have;
	while (left > 0) {
		ssize_t r = recv(c->fd, c->buf, left < (long long)sizeof c->buf ? (size_t)left : sizeof c->buf, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			goto fail;
		EVP_DigestUpdate(md, c->buf, (size_t)r);
		if (write(out, c->buf, (size_t)r) != r)
			goto fail;
		left -= r;
	}
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	EVP_DigestFinal_ex(md, d, &n);
	EVP_MD_CTX_free(md);
	md = NULL;
	for (unsigned i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	snprintf(final, sizeof final, "%s/%s", dir, hex);
	int bad = fdatasync(out);
	bad |= close(out);
	out = -1;
	if (bad || rename(tmp, final))
		goto fail;
	if (record(hex, length))
		return answer(c->fd, 500, json_pack("{s:s}", "error", sqlite3_errmsg(db)));
	return answer(c->fd, 201, json_pack("{s:s,s:I}", "digest", hex, "size", (json_int_t)length));
fail:
	EVP_MD_CTX_free(md);
	if (out >= 0)
		close(out);
	return -1;
}

/* Serves one connection's requests until it closes or sends something this does not take. */
static void serve(int fd)
{
	struct conn *c = calloc(1, sizeof *c);
	if (!c)
		return;
	c->fd = fd;
	for (;;) {
		char *end;
		while (!(end = memmem(c->buf, c->len, "\r\n\r\n", 4))) {
			if (c->len == sizeof c->buf - 1)
				goto out;
			ssize_t r = recv(fd, c->buf + c->len, sizeof c->buf - 1 - c->len, 0);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				goto out;
			c->len += (size_t)r;
		}
		size_t head_len = (size_t)(end - c->buf) + 4;
		char head[HEAD_MAX];
		memcpy(head, c->buf, head_len - 2);
		head[head_len - 2] = '\0'; /* keeps the last header's CRLF */
		memmove(c->buf, c->buf + head_len, c->len - head_len);
		c->len -= head_len;
		char method[8] = "", path[1024] = "";
		if (sscanf(head, "%7s %1023s", method, path) != 2) {
			answer(fd, 400, json_pack("{s:s}", "error", "bad request line"));
			goto out;
		}
		const char *cl = header(head, "Content-Length");
		long long length = cl ? strtoll(cl, NULL, 10) : 0;
		if (header(head, "Transfer-Encoding") || length < 0) {
			answer(fd, 400, json_pack("{s:s}", "error", "a Content-Length is required"));
			goto out;
		}
		const char *expect = header(head, "Expect");
		if (expect && !strncasecmp(expect, "100-continue", 12) &&
		    send_all(fd, "HTTP/1.1 100 Continue\r\n\r\n", 25))
			goto out;
		if (strcmp(method, "POST") ? answer(fd, 200, json_pack("{s:s}", "url", path)) : upload(c, length))
			goto out;
	}
out:
	free(c);
	close(fd);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: floor-rss PORT DIR\n");
		return 2;
	}
	char path[4096];
	dir = argv[2];
	snprintf(path, sizeof path, "%s/floor.db", dir);
	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
			 "CREATE TABLE IF NOT EXISTS blobs(digest TEXT PRIMARY KEY, size INTEGER NOT NULL)",
			 NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO blobs(digest, size) VALUES(?1, ?2)", -1, &insert,
			       NULL) != SQLITE_OK) {
		fprintf(stderr, "floor-rss: %s: %s\n", path, sqlite3_errmsg(db));
		return 1;
	}
	if (libraries_init()) {
		fprintf(stderr, "floor-rss: cannot set up TLS and HTTP/2\n");
		return 1;
	}
	int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 64)) {
		fprintf(stderr, "floor-rss: cannot listen on port %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	for (;;) { /* SIGTERM ends the process: nothing is left to flush, each insert committed */
		int fd = accept(s, NULL, NULL);
		if (fd >= 0)
			serve(fd);
		else if (errno != EINTR)
			return 1;
	}
}
