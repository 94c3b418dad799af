/* test_http1.c: request heads, body framing, chunked bodies, percent-decoding (src/http/http1.c)
 * and the keyed hash the server's per-client table uses (src/common/siphash.c). */
#include "unit.h"
#include "common/siphash.h"
#include "http/http1.h"

static int parse(const char *text, struct h1_head *h, const char **why)
{
	size_t scanned = 0, n = strlen(text);
	size_t end = h1_head_end(text, n, &scanned);
	if (!end)
		return -1; /* incomplete */
	return h1_parse_head(text, end, h, why);
}

static int field_is(const struct h1_head *h, const char *name, const char *value)
{
	const struct h1_field *f = h1_field_get(h, name);
	return f && f->value_len == strlen(value) && !memcmp(f->value, value, f->value_len);
}

static void test_head(void)
{
	struct h1_head h;
	const char *why;
	CHECK(parse("GET /v2/ HTTP/1.1\r\nHost: x\r\nAccept:  a/b , c \r\n\r\n", &h, &why) == 0);
	CHECK(h.method_len == 3 && !memcmp(h.method, "GET", 3) && h.minor == 1);
	CHECK(h.target_len == 4 && !memcmp(h.target, "/v2/", 4));
	CHECK(h.nfields == 2 && field_is(&h, "host", "x") && field_is(&h, "ACCEPT", "a/b , c"));
	/* bare LF line ends, empty lines before the request line, HTTP/1.0 */
	CHECK(parse("\r\nPUT /x HTTP/1.0\nA: 1\n\n", &h, &why) == 0 && h.minor == 0 && field_is(&h, "a", "1"));
	CHECK(parse("GET / HTTP/1.1\r\nHost: x\r\n", &h, &why) == -1); /* no blank line yet */
	/* RFC 9112 MUST-rejects: whitespace before the colon, obs-fold, a bare CR */
	CHECK(parse("GET / HTTP/1.1\r\nHost : x\r\n\r\n", &h, &why) == DD_E_REQUEST_INVALID);
	CHECK(parse("GET / HTTP/1.1\r\nA: 1\r\n  2\r\n\r\n", &h, &why) == DD_E_REQUEST_INVALID);
	CHECK(parse("GET / HTTP/1.1\r\nA: 1\r2\r\n\r\n", &h, &why) == DD_E_REQUEST_INVALID);
	CHECK(parse("GET / HTTP/1.1\r\nA: \x01\r\n\r\n", &h, &why) == DD_E_REQUEST_INVALID);
	CHECK(parse("GET  / HTTP/1.1\r\n\r\n", &h, &why) == DD_E_REQUEST_INVALID);
	CHECK(parse("GET / HTTP/1.1 \r\n\r\n", &h, &why) == DD_E_REQUEST_INVALID);
	CHECK(parse("G(T / HTTP/1.1\r\n\r\n", &h, &why) == DD_E_REQUEST_INVALID);
	CHECK(parse("GET / HTTP/2.0\r\n\r\n", &h, &why) == DD_E_HTTP_VERSION);
	CHECK(parse("GET / FTP/1.1\r\n\r\n", &h, &why) == DD_E_REQUEST_INVALID && why);
	/* too many fields */
	char big[8192];
	size_t n = (size_t)snprintf(big, sizeof(big), "GET / HTTP/1.1\r\n");
	for (int i = 0; i <= DD_MAX_HEADER_FIELDS; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "X-%d: v\r\n", i);
	snprintf(big + n, sizeof(big) - n, "\r\n");
	CHECK(parse(big, &h, &why) == DD_E_HEADERS_TOO_LARGE);
}

static void test_head_end_incremental(void)
{
	/* fed a byte at a time, the end is found exactly once, where it is */
	const char *t = "GET / HTTP/1.1\r\nHost: x\r\n\r\nBODY";
	size_t scanned = 0, found = 0;
	for (size_t i = 1; i <= strlen(t); i++) {
		size_t e = h1_head_end(t, i, &scanned);
		if (e && !found)
			found = e;
		CHECK(scanned <= i);
	}
	CHECK(found == strlen(t) - 4);
	/* a run of line ends is not a head */
	scanned = 0;
	CHECK(h1_head_end("\r\n\r\n\r\n", 6, &scanned) == 0);
}

static void test_framing(void)
{
	struct h1_head h;
	const char *why;
	int64_t len;
	int chunked;
	CHECK(parse("POST / HTTP/1.1\r\nContent-Length: 12\r\n\r\n", &h, &why) == 0);
	CHECK(h1_body_framing(&h, &len, &chunked, &why) == 0 && len == 12 && !chunked);
	CHECK(parse("POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n", &h, &why) == 0);
	CHECK(h1_body_framing(&h, &len, &chunked, &why) == 0 && len == -1 && chunked);
	CHECK(parse("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", &h, &why) == 0);
	CHECK(h1_body_framing(&h, &len, &chunked, &why) == 0 && len == 1);
	/* request smuggling shapes */
	CHECK(parse("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", &h, &why) == 0);
	CHECK(h1_body_framing(&h, &len, &chunked, &why) == DD_E_REQUEST_INVALID);
	CHECK(parse("POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", &h, &why) == 0);
	CHECK(h1_body_framing(&h, &len, &chunked, &why) == DD_E_REQUEST_INVALID);
	CHECK(parse("POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\n", &h, &why) == 0);
	CHECK(h1_body_framing(&h, &len, &chunked, &why) == DD_E_REQUEST_INVALID);
	CHECK(parse("POST / HTTP/1.1\r\nContent-Length: 1234567890123456789\r\n\r\n", &h, &why) == 0);
	CHECK(h1_body_framing(&h, &len, &chunked, &why) == DD_E_REQUEST_INVALID);
	CHECK(parse("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", &h, &why) == 0);
	CHECK(h1_body_framing(&h, &len, &chunked, &why) == DD_E_NOT_IMPLEMENTED);
	CHECK(parse("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", &h, &why) == 0);
	CHECK(h1_body_framing(&h, &len, &chunked, &why) == DD_E_REQUEST_INVALID);
	CHECK(h1_list_has("keep-alive, Close", 17, "close") && !h1_list_has("closed", 6, "close"));
}

/* Decodes all of `in`, in pieces of `step` bytes, into out; returns the error or 0. */
static int dechunk(const char *in, size_t step, char *out, size_t *out_len, int *done)
{
	struct h1_chunked c = {0};
	char buf[1024];
	size_t n = strlen(in), have = 0, o = 0, fed = 0;
	const char *why;
	while (fed < n || have) {
		size_t k = n - fed < step ? n - fed : step;
		memcpy(buf + have, in + fed, k);
		have += k;
		fed += k;
		size_t used, produced;
		int rc = h1_chunked_decode(&c, buf, have, buf, &used, &produced, &why);
		if (rc)
			return rc;
		memcpy(out + o, buf, produced);
		o += produced;
		memmove(buf, buf + used, have - used);
		have -= used;
		if (c.done || (!k && have))
			break;
	}
	*out_len = o;
	*done = c.done;
	return 0;
}

static void test_chunked(void)
{
	char out[256];
	size_t n;
	int done;
	const char *body = "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n";
	for (size_t step = 1; step < 12; step++) {
		CHECK(dechunk(body, step, out, &n, &done) == 0 && done && n == 11 && !memcmp(out, "hello world", 11));
	}
	CHECK(dechunk("A\nabcdefghij\n0\n\n", 3, out, &n, &done) == 0 && done && n == 10);
	CHECK(dechunk("5\r\nhello\r\n", 4, out, &n, &done) == 0 && !done && n == 5);
	CHECK(dechunk("5\r\nhelloX\r\n", 4, out, &n, &done) == DD_E_REQUEST_INVALID);
	CHECK(dechunk("x\r\n", 4, out, &n, &done) == DD_E_REQUEST_INVALID);
	CHECK(dechunk("ffffffffffffffff\r\n", 4, out, &n, &done) == DD_E_REQUEST_INVALID);
	CHECK(dechunk("5\rX", 4, out, &n, &done) == DD_E_REQUEST_INVALID);
}

static void test_unescape(void)
{
	char out[64];
	size_t n;
	CHECK(h1_unescape("/v2/a%2Fb/x", 11, 0, out, &n) == 0 && !strcmp(out, "/v2/a/b/x") && n == 9);
	CHECK(h1_unescape("a+b%20c", 7, 1, out, &n) == 0 && !strcmp(out, "a b c"));
	CHECK(h1_unescape("a+b", 3, 0, out, &n) == 0 && !strcmp(out, "a+b"));
	CHECK(h1_unescape("%zz", 3, 0, out, &n) == DD_E_REQUEST_INVALID);
	CHECK(h1_unescape("%4", 2, 0, out, &n) == DD_E_REQUEST_INVALID);
	CHECK(h1_unescape("%00", 3, 0, out, &n) == DD_E_REQUEST_INVALID);
}

static void test_siphash(void)
{
	/* the reference vector of the SipHash paper: key 00..0f, message 00..0e */
	struct siphash_key k = {0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL};
	unsigned char msg[15];
	for (int i = 0; i < 15; i++)
		msg[i] = (unsigned char)i;
	CHECK(siphash24(&k, msg, 15) == 0xa129ca6149be45e5ULL);
	CHECK(siphash24(&k, msg, 0) == 0x726fdb47dd0e0e31ULL);
}

void suite_http1(void)
{
	RUN(test_head);
	RUN(test_head_end_incremental);
	RUN(test_framing);
	RUN(test_chunked);
	RUN(test_unescape);
	RUN(test_siphash);
}
