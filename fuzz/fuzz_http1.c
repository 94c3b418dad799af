/* fuzz_http1.c: the HTTP/1.1 head parser, the chunked decoder and percent-decoding.
 * Invariants: every field lies inside the head; a head found byte by byte is the head found
 * at once; the chunked decoder gives the same bytes and the same verdict whether its input
 * comes at once or a byte at a time, and when it is decoded in place as the server's HTTP/1.1
 * reader batches a body (decoded bytes kept at the front of the buffer, each new piece decoded
 * from where the raw bytes start, behind them); decoding never grows the data. The first byte of the
 * input picks where the head ends and the body (decoded as chunked) begins. */
#include "common/dd.h"
#include "http/http1.h"
#include "http/serverInt.h"
#include "fuzz.h"

static int inside(const char *p, size_t n, const char *q, size_t qn) { return q >= p && q + qn <= p + n; }

static void check_head(const char *p, size_t n)
{
	size_t scanned = 0, end = h1_head_end(p, n, &scanned);
	size_t s2 = 0, end2 = 0;
	for (size_t i = 1; i <= n && !end2; i++)
		end2 = h1_head_end(p, i, &s2);
	if (end != end2 || end > n)
		abort();
	if (!end)
		return;
	struct h1_head h;
	const char *why;
	int rc = h1_parse_head(p, end, &h, &why);
	if (rc) {
		if (!why)
			abort();
		return;
	}
	if (h.len > end || !inside(p, end, h.method, h.method_len) || !inside(p, end, h.target, h.target_len))
		abort();
	for (int i = 0; i < h.nfields; i++)
		if (!inside(p, end, h.fields[i].name, h.fields[i].name_len) ||
		    !inside(p, end, h.fields[i].value, h.fields[i].value_len) || !h.fields[i].name_len)
			abort();
	int64_t len;
	int chunked;
	if (!h1_body_framing(&h, &len, &chunked, &why) && chunked && len != -1)
		abort();
	char *t = malloc(h.target_len + 1);
	size_t tl;
	if (t && !h1_unescape(h.target, h.target_len, 1, t, &tl) && (tl > h.target_len || t[tl]))
		abort();
	free(t);
	struct http_stream st = {.content_length = -1};
	if (!stream_set_target(&st, h.target, h.target_len, &why)) {
		const char *p = st.req.path;
		if (!p || p[0] != '/')
			abort();
		for (; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				abort();
		for (int i = 0; i < st.nquery; i++)
			if (!st.query[i].name)
				abort();
	} else if (!why)
		abort();
	arena_free(&st.req.arena);
}

static int decode(const char *p, size_t n, size_t step, char *out, size_t *outn, int *done)
{
	struct h1_chunked c = {0};
	char *buf = malloc(n + 1);
	size_t have = 0, fed = 0, o = 0;
	int rc = 0;
	const char *why;
	while (buf && fed < n && !c.done) {
		size_t k = n - fed < step ? n - fed : step;
		memcpy(buf + have, p + fed, k);
		have += k;
		fed += k;
		size_t used, produced;
		if ((rc = h1_chunked_decode(&c, buf, have, buf, &used, &produced, &why)))
			break;
		if (produced > used || used > have)
			abort();
		memcpy(out + o, buf, produced);
		o += produced;
		memmove(buf, buf + used, have - used);
		have -= used;
	}
	free(buf);
	*outn = o;
	*done = c.done;
	return rc;
}

/* As h1_body batches a body: every piece appended to one buffer and decoded in place behind
 * the bytes decoded before it, nothing moved until the end. */
static int decode_batched(const char *p, size_t n, size_t step, char *out, size_t *outn, int *done)
{
	struct h1_chunked c = {0};
	char *buf = malloc(n + 1);
	size_t have = 0, raw = 0, dec = 0;
	int rc = 0;
	const char *why;
	while (buf && have < n && !c.done) {
		size_t k = n - have < step ? n - have : step;
		memcpy(buf + have, p + have, k);
		have += k;
		size_t used, produced;
		if ((rc = h1_chunked_decode(&c, buf + raw, have - raw, buf + dec, &used, &produced, &why)))
			break;
		if (produced > used || used > have - raw)
			abort();
		raw += used;
		dec += produced;
	}
	if (buf)
		memcpy(out, buf, dec);
	free(buf);
	*outn = dec;
	*done = c.done;
	return rc;
}

int fuzz_http1(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t split = (size_t)data[0] * (size - 1) / 255;
	const char *p = (const char *)data + 1;
	size_t n = size - 1;
	check_head(p, split);
	char *a = malloc(n + 1), *b = malloc(n + 1);
	if (a && b) {
		size_t an, bn;
		int ad, bd;
		int ra = decode(p + split, n - split, n + 1, a, &an, &ad);
		int rb = decode(p + split, n - split, 1, b, &bn, &bd);
		if (ra != rb || (!ra && (an != bn || ad != bd || memcmp(a, b, an))) || an > n - split)
			abort();
		int rc = decode_batched(p + split, n - split, 1 + data[0] % 7, b, &bn, &bd);
		if (ra != rc || (!ra && (an != bn || ad != bd || memcmp(a, b, an))))
			abort();
	}
	free(a);
	free(b);
	return 0;
}
DD_FUZZ_ENTRY(fuzz_http1)
