/* http1.c: the HTTP/1.1 request head parser, the chunked body decoder and percent-decoding.
 * Strict where leniency lets two parsers disagree about where a request ends (RFC 9112's
 * MUSTs: whitespace before a colon, obs-fold, bare CR, conflicting framing); lenient only
 * where RFC 9112 allows it (bare LF line ends, empty lines before the request line). */
#include "common/dd.h"
#include "http1.h"

/* Bytes of empty lines skipped before a request line: RFC 9112 asks to skip at least one
 * (clients that end a body with an extra CRLF); more is not a request. */
#define H1_MAX_LEADING 4

/* tchar (RFC 9110 5.6.2) */
static int is_tchar(unsigned char c)
{
	if (isalnum(c))
		return 1;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* field-vchar / obs-text / SP / HTAB */
static int is_value_char(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

size_t h1_head_end(const char *p, size_t n, size_t *scanned)
{
	/* A head ends at an empty line: "\n\r\n" or "\n\n". Leading empty lines are skipped by
	 * the parser, so a buffer that starts with them is not a complete head. */
	size_t i = *scanned;
	size_t lead = 0;
	while (lead < n && lead < H1_MAX_LEADING && (p[lead] == '\r' || p[lead] == '\n'))
		lead++;
	if (i < lead)
		i = lead;
	for (; i < n; i++) {
		if (p[i] != '\n')
			continue;
		if (i + 1 < n && p[i + 1] == '\n')
			return i + 2;
		if (i + 2 < n && p[i + 1] == '\r' && p[i + 2] == '\n')
			return i + 3;
		if (i + 2 >= n) /* the blank line may still be arriving: look here again */
			break;
	}
	*scanned = i;
	return 0;
}

/* One line of (p, n) from *pos: sets [*start, *end) without its line end and moves *pos
 * past it. 0, or DD_E_REQUEST_INVALID for a CR not followed by LF or no line end. */
static int next_line(const char *p, size_t n, size_t *pos, size_t *start, size_t *end)
{
	size_t i = *pos;
	*start = i;
	for (; i < n; i++) {
		if (p[i] == '\n') {
			*end = i;
			*pos = i + 1;
			return 0;
		}
		if (p[i] == '\r') {
			if (i + 1 < n && p[i + 1] == '\n') {
				*end = i;
				*pos = i + 2;
				return 0;
			}
			return DD_E_REQUEST_INVALID;
		}
	}
	return DD_E_REQUEST_INVALID;
}

static int parse_request_line(const char *p, size_t s, size_t e, struct h1_head *h, const char **why)
{
	size_t i = s;
	while (i < e && is_tchar((unsigned char)p[i]))
		i++;
	if (i == s || i >= e || p[i] != ' ') {
		*why = "malformed request line: the method is not a token followed by one space";
		return DD_E_REQUEST_INVALID;
	}
	h->method = p + s;
	h->method_len = i - s;
	size_t t = ++i;
	while (i < e && (unsigned char)p[i] > 0x20 && p[i] != 0x7f)
		i++;
	if (i == t || i >= e || p[i] != ' ') {
		*why = "malformed request line: the target is empty or holds a space or control character";
		return DD_E_REQUEST_INVALID;
	}
	h->target = p + t;
	h->target_len = i - t;
	i++;
	size_t vl = e - i;
	if (vl != 8 || memcmp(p + i, "HTTP/", 5) || !isdigit((unsigned char)p[i + 5]) || p[i + 6] != '.' ||
	    !isdigit((unsigned char)p[i + 7])) {
		*why = "malformed request line: no HTTP version after the target";
		return DD_E_REQUEST_INVALID;
	}
	if (p[i + 5] != '1') {
		*why = "only HTTP/1.0 and HTTP/1.1 are spoken here (and HTTP/2 over TLS with ALPN)";
		return DD_E_HTTP_VERSION;
	}
	h->minor = p[i + 7] == '0' ? 0 : 1;
	return 0;
}

int h1_parse_head(const char *p, size_t n, struct h1_head *h, const char **why)
{
	memset(h, 0, sizeof(*h));
	*why = NULL;
	size_t pos = 0, s, e;
	while (pos < n && pos < H1_MAX_LEADING && (p[pos] == '\r' || p[pos] == '\n')) {
		if (p[pos] == '\r' && (pos + 1 >= n || p[pos + 1] != '\n')) {
			*why = "a carriage return not followed by a line feed";
			return DD_E_REQUEST_INVALID;
		}
		pos += p[pos] == '\r' ? 2 : 1;
	}
	h->skipped = pos;
	if (next_line(p, n, &pos, &s, &e)) {
		*why = "a carriage return not followed by a line feed in the request line";
		return DD_E_REQUEST_INVALID;
	}
	int rc = parse_request_line(p, s, e, h, why);
	if (rc)
		return rc;
	for (;;) {
		if (next_line(p, n, &pos, &s, &e)) {
			*why = "a header line not ended by CRLF";
			return DD_E_REQUEST_INVALID;
		}
		if (s == e)
			break; /* the blank line */
		if (p[s] == ' ' || p[s] == '\t') {
			*why = "a folded header line (obs-fold)";
			return DD_E_REQUEST_INVALID;
		}
		size_t i = s;
		while (i < e && is_tchar((unsigned char)p[i]))
			i++;
		if (i == s || i >= e || p[i] != ':') {
			*why = "a header line that is not a field name followed by a colon";
			return DD_E_REQUEST_INVALID;
		}
		if (h->nfields == DD_MAX_HEADER_FIELDS) {
			*why = "more than 100 header fields";
			return DD_E_HEADERS_TOO_LARGE;
		}
		struct h1_field *f = &h->fields[h->nfields++];
		f->name = p + s;
		f->name_len = i - s;
		i++;
		while (i < e && (p[i] == ' ' || p[i] == '\t'))
			i++;
		size_t ve = e;
		while (ve > i && (p[ve - 1] == ' ' || p[ve - 1] == '\t'))
			ve--;
		for (size_t k = i; k < ve; k++)
			if (!is_value_char((unsigned char)p[k])) {
				*why = "a control character in a header value";
				return DD_E_REQUEST_INVALID;
			}
		f->value = p + i;
		f->value_len = ve - i;
	}
	h->len = pos;
	return 0;
}

static int name_is(const struct h1_field *f, const char *name)
{
	size_t n = strlen(name);
	return f->name_len == n && !strncasecmp(f->name, name, n);
}

const struct h1_field *h1_field_get(const struct h1_head *h, const char *name)
{
	for (int i = 0; i < h->nfields; i++)
		if (name_is(&h->fields[i], name))
			return &h->fields[i];
	return NULL;
}

int h1_list_has(const char *v, size_t n, const char *token)
{
	size_t tl = strlen(token), i = 0;
	while (i < n) {
		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		size_t s = i;
		while (i < n && v[i] != ',')
			i++;
		size_t e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - s == tl && !strncasecmp(v + s, token, tl))
			return 1;
	}
	return 0;
}

int h1_body_framing(const struct h1_head *h, int64_t *length, int *chunked, const char **why)
{
	*length = -1;
	*chunked = 0;
	*why = NULL;
	int te = 0;
	for (int i = 0; i < h->nfields; i++) {
		const struct h1_field *f = &h->fields[i];
		if (name_is(f, "Content-Length")) {
			int64_t v = 0;
			if (!f->value_len || f->value_len > 18) {
				*why = "Content-Length is not a number of at most 18 digits";
				return DD_E_REQUEST_INVALID;
			}
			for (size_t k = 0; k < f->value_len; k++) {
				if (!isdigit((unsigned char)f->value[k])) {
					*why = "Content-Length is not a number of at most 18 digits";
					return DD_E_REQUEST_INVALID;
				}
				v = v * 10 + (f->value[k] - '0');
			}
			if (*length >= 0 && *length != v) {
				*why = "two Content-Length headers that differ";
				return DD_E_REQUEST_INVALID;
			}
			*length = v;
		} else if (name_is(f, "Transfer-Encoding")) {
			if (te++ || f->value_len != 7 || strncasecmp(f->value, "chunked", 7)) {
				*why = "Transfer-Encoding other than a single 'chunked'";
				return DD_E_NOT_IMPLEMENTED;
			}
			*chunked = 1;
		}
	}
	if (*chunked && *length >= 0) {
		*why = "both Content-Length and Transfer-Encoding";
		return DD_E_REQUEST_INVALID;
	}
	if (*chunked && h->minor == 0) {
		*why = "Transfer-Encoding in an HTTP/1.0 request";
		return DD_E_REQUEST_INVALID;
	}
	return 0;
}

enum { CH_SIZE, CH_EXT, CH_SIZE_LF, CH_DATA, CH_DATA_CR, CH_DATA_LF, CH_TRAILER, CH_TRAILER_LF, CH_DONE };

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int h1_chunked_decode(struct h1_chunked *c, const char *in, size_t n, char *out, size_t *consumed,
		      size_t *produced, const char **why)
{
	size_t i = 0, o = 0;
	*why = NULL;
	while (i < n && c->state != CH_DONE) {
		unsigned char b = (unsigned char)in[i];
		switch (c->state) {
		case CH_SIZE: {
			int v = hexval(b);
			if (v >= 0) {
				if (++c->aux > 15) {
					*why = "a chunk size of more than 15 hex digits";
					return DD_E_REQUEST_INVALID;
				}
				c->left = c->left * 16 + (uint64_t)v;
				i++;
				break;
			}
			if (!c->aux) {
				*why = "a chunk that does not start with its size in hex";
				return DD_E_REQUEST_INVALID;
			}
			if (b == ';' || b == ' ' || b == '\t') {
				c->state = CH_EXT;
				c->aux = 0;
			} else if (b == '\r') {
				c->state = CH_SIZE_LF;
			} else if (b == '\n') {
				c->state = c->left ? CH_DATA : CH_TRAILER;
				c->aux = 0;
			} else {
				*why = "a chunk size followed by something other than an extension or CRLF";
				return DD_E_REQUEST_INVALID;
			}
			i++;
			break;
		}
		case CH_EXT:
			if (b == '\r')
				c->state = CH_SIZE_LF;
			else if (b == '\n') {
				c->state = c->left ? CH_DATA : CH_TRAILER;
				c->aux = 0;
			} else if (!is_value_char(b)) {
				*why = "a control character in a chunk extension";
				return DD_E_REQUEST_INVALID;
			} else if (++c->aux > DD_MAX_HEADER_BYTES) {
				*why = "a chunk extension longer than the header limit";
				return DD_E_REQUEST_INVALID;
			}
			i++;
			break;
		case CH_SIZE_LF:
			if (b != '\n') {
				*why = "a chunk size line not ended by CRLF";
				return DD_E_REQUEST_INVALID;
			}
			c->state = c->left ? CH_DATA : CH_TRAILER;
			c->aux = 0;
			i++;
			break;
		case CH_DATA: {
			size_t k = n - i;
			if ((uint64_t)k > c->left)
				k = (size_t)c->left;
			if (out + o != in + i)
				memmove(out + o, in + i, k);
			o += k;
			i += k;
			c->left -= k;
			if (!c->left)
				c->state = CH_DATA_CR;
			break;
		}
		case CH_DATA_CR:
			if (b == '\n') {
				c->state = CH_SIZE;
			} else if (b == '\r') {
				c->state = CH_DATA_LF;
			} else {
				*why = "chunk data longer than its size (no CRLF after it)";
				return DD_E_REQUEST_INVALID;
			}
			c->aux = 0;
			i++;
			break;
		case CH_DATA_LF:
			if (b != '\n') {
				*why = "chunk data not followed by CRLF";
				return DD_E_REQUEST_INVALID;
			}
			c->state = CH_SIZE;
			i++;
			break;
		case CH_TRAILER:
			/* trailer lines are read and dropped; an empty one ends the body */
			if (b == '\n') {
				if (!c->aux) {
					c->state = CH_DONE;
					c->done = 1;
				}
				c->aux = 0;
			} else if (b == '\r') {
				c->state = CH_TRAILER_LF;
			} else if (!is_value_char(b) && b != ':') {
				*why = "a control character in a trailer";
				return DD_E_REQUEST_INVALID;
			} else if (++c->aux > DD_MAX_HEADER_BYTES) {
				*why = "trailers longer than the header limit";
				return DD_E_REQUEST_INVALID;
			}
			i++;
			break;
		case CH_TRAILER_LF:
			if (b != '\n') {
				*why = "a trailer line not ended by CRLF";
				return DD_E_REQUEST_INVALID;
			}
			if (!c->aux) {
				c->state = CH_DONE;
				c->done = 1;
			} else {
				c->state = CH_TRAILER;
				c->aux = 0;
			}
			i++;
			break;
		}
	}
	*consumed = i;
	*produced = o;
	return 0;
}

int h1_unescape(const char *s, size_t n, int plus_space, char *out, size_t *out_len)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (ch == '%') {
			int a = i + 2 < n ? hexval((unsigned char)s[i + 1]) : -1;
			int b = i + 2 < n ? hexval((unsigned char)s[i + 2]) : -1;
			if (a < 0 || b < 0 || (a == 0 && b == 0)) {
				*out_len = 0;
				out[0] = 0;
				return DD_E_REQUEST_INVALID;
			}
			ch = (char)(a * 16 + b);
			i += 2;
		} else if (ch == '+' && plus_space) {
			ch = ' ';
		}
		out[o++] = ch;
	}
	out[o] = 0;
	*out_len = o;
	return 0;
}
