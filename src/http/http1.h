/* http1.h: HTTP/1.1 request heads, chunked request bodies and percent-encoding, parsed from
 * untrusted bytes (RFC 9112). Pure functions over (pointer, length): no allocation, no I/O.
 * The server (server.c) owns the buffers; nothing here knows of sockets or of the registry. */
#ifndef DD_HTTP1_H
#define DD_HTTP1_H
#include <stddef.h>
#include <stdint.h>

struct h1_field {
	const char *name, *value; /* borrowed from the parsed buffer, not NUL-terminated */
	size_t name_len, value_len;
};

struct h1_head {
	const char *method, *target;
	size_t method_len, target_len;
	int minor; /* HTTP/1.minor: 0 or 1 */
	struct h1_field fields[DD_MAX_HEADER_FIELDS];
	int nfields;
	size_t skipped; /* empty lines before the request line (RFC 9112 2.2 lets a server skip them) */
	size_t len;     /* bytes from the start of the buffer through the blank line ending the head */
};

/* Finds the end of a request head in (p, n). *scanned carries the search position between
 * calls as bytes arrive, so a head that trickles in is scanned once in all (slow clients
 * cannot make the server do quadratic work). Returns the head's length including its blank
 * line, or 0 when more bytes are needed. */
size_t h1_head_end(const char *p, size_t n, size_t *scanned);

/* Parses a complete request head (p, n), n as h1_head_end gave it. 0, or
 * DD_E_REQUEST_INVALID / DD_E_HTTP_VERSION with *why a fixed reason. Fields borrow from p. */
int h1_parse_head(const char *p, size_t n, struct h1_head *h, const char **why);

/* The request's body framing from its fields: *length the Content-Length (-1 if none) and
 * *chunked set for "Transfer-Encoding: chunked". 0, or DD_E_REQUEST_INVALID with *why for
 * framing a proxy could read another way (both headers, differing lengths: request
 * smuggling), or DD_E_NOT_IMPLEMENTED for a transfer coding other than chunked. */
int h1_body_framing(const struct h1_head *h, int64_t *length, int *chunked, const char **why);

/* The first field named `name` (case-insensitive), or NULL. */
const struct h1_field *h1_field_get(const struct h1_head *h, const char *name);

/* 1 when the comma-separated list value (v, n) holds `token` (case-insensitive). */
int h1_list_has(const char *v, size_t n, const char *token);

/* A chunked body decoder (RFC 9112 7.1), streaming: state kept between calls. */
struct h1_chunked {
	int state;
	uint64_t left;   /* bytes left in the current chunk */
	size_t aux;      /* bytes of chunk size digits, extensions or trailers seen */
	int done;        /* the last chunk and its trailers were read */
};

/* Decodes from (in, n): copies chunk data to out (which may be in itself: out <= in, the
 * data only moves towards the front), sets *consumed and *produced. Stops at the end of the
 * body (c->done). 0 (more input may be needed: *consumed == n unless done), or
 * DD_E_REQUEST_INVALID with *why. Chunk extensions and trailers are read and dropped, each
 * bounded by DD_MAX_HEADER_BYTES. */
int h1_chunked_decode(struct h1_chunked *c, const char *in, size_t n, char *out, size_t *consumed,
		      size_t *produced, const char **why);

/* Percent-decodes (s, n) into out (room for n + 1 bytes; NUL-terminated). With plus_space,
 * '+' becomes a space (query strings, as form encoding and Go's ParseQuery read them).
 * 0 with *out_len, or DD_E_REQUEST_INVALID for a bad escape or an encoded NUL. */
int h1_unescape(const char *s, size_t n, int plus_space, char *out, size_t *out_len);

#endif
