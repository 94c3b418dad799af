/* header.c: Authorization header, base64 and scope parsing (see header.h). */
#include "common/dd.h"
#include "header.h"
#include "registry/names.h"
#include <openssl/crypto.h>
#include <strings.h>

static int b64_value(unsigned char c, int url)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (url ? '-' : '+'))
		return 62;
	if (c == (url ? '_' : '/'))
		return 63;
	return -1;
}

int b64_decode(const char *in, size_t n, int url, unsigned char *out, size_t cap, size_t *outlen)
{
	size_t pad = 0;
	while (n > 0 && in[n - 1] == '=' && pad < 2)
		n--, pad++;
	if (!url && (n + pad) % 4)
		return -1;
	if (url && pad && (n + pad) % 4)
		return -1;
	if (n % 4 == 1)
		return -1;
	size_t need = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
	if (need > cap)
		return -1;
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		int v = b64_value((unsigned char)in[i], url);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	if (bits && (acc & ((1u << bits) - 1)))
		return -1; /* non-canonical: leftover bits must be zero */
	*outlen = o;
	return 0;
}

size_t b64url_encode(const unsigned char *in, size_t n, char *out)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t o = 0, i = 0;
	for (; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = a[v >> 18], out[o++] = a[(v >> 12) & 63], out[o++] = a[(v >> 6) & 63], out[o++] = a[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		out[o++] = a[v >> 18], out[o++] = a[(v >> 12) & 63];
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = a[v >> 18], out[o++] = a[(v >> 12) & 63], out[o++] = a[(v >> 6) & 63];
	}
	out[o] = 0;
	return o;
}

void credentials_clear(struct credentials *c) { OPENSSL_cleanse(c->pass, sizeof(c->pass)); }

int auth_parse_authorization(const char *value, struct credentials *out, const char **why)
{
	memset(out, 0, sizeof(*out));
	if (!value)
		return 0;
	while (*value == ' ')
		value++;
	if (!strncasecmp(value, "Bearer ", 7)) {
		const char *t = value + 7;
		while (*t == ' ')
			t++;
		size_t n = strlen(t);
		while (n && t[n - 1] == ' ')
			n--;
		if (!n || n > DD_MAX_TOKEN_BYTES) {
			*why = n ? "bearer token longer than 8 KiB" : "empty bearer token";
			return DD_E_UNAUTHORIZED;
		}
		out->kind = CRED_BEARER;
		out->token = t;
		out->token_len = n;
		return 0;
	}
	if (!strncasecmp(value, "Basic ", 6)) {
		const char *t = value + 6;
		while (*t == ' ')
			t++;
		size_t n = strlen(t);
		while (n && t[n - 1] == ' ')
			n--;
		unsigned char raw[DD_MAX_BASIC_BYTES + 1];
		size_t len;
		if (n > (DD_MAX_BASIC_BYTES + 2) / 3 * 4 || b64_decode(t, n, 0, raw, DD_MAX_BASIC_BYTES, &len)) {
			*why = "Basic credentials are not valid base64 of at most 1 KiB";
			return DD_E_UNAUTHORIZED;
		}
		unsigned char *colon = memchr(raw, ':', len);
		int rc = DD_E_UNAUTHORIZED;
		if (!colon)
			*why = "Basic credentials have no ':' between user and password";
		else if (memchr(raw, 0, len))
			*why = "Basic credentials contain a NUL byte";
		else if ((size_t)(colon - raw) > DD_MAX_ACCOUNT_NAME || colon == raw)
			*why = "user name empty or longer than 64 bytes";
		else if (len - (size_t)(colon - raw) - 1 > DD_MAX_PASSWORD_BYTES)
			*why = "password longer than 256 bytes";
		else {
			size_t ul = (size_t)(colon - raw), pl = len - ul - 1;
			memcpy(out->user, raw, ul);
			memcpy(out->pass, colon + 1, pl);
			out->kind = CRED_BASIC;
			rc = 0;
		}
		OPENSSL_cleanse(raw, sizeof(raw));
		return rc;
	}
	*why = "unsupported Authorization scheme (use Basic or Bearer)";
	return DD_E_UNAUTHORIZED;
}

static unsigned parse_actions(const char *s, size_t n)
{
	unsigned bits = 0;
	while (n) {
		const char *comma = memchr(s, ',', n);
		size_t len = comma ? (size_t)(comma - s) : n;
		if (len == 4 && !memcmp(s, "pull", 4))
			bits |= SCOPE_PULL;
		else if (len == 4 && !memcmp(s, "push", 4))
			bits |= SCOPE_PUSH;
		else if (len == 6 && !memcmp(s, "delete", 6))
			bits |= SCOPE_DELETE;
		else if (len == 1 && *s == '*')
			bits |= SCOPE_ALL;
		if (!comma)
			break;
		n -= len + 1;
		s = comma + 1;
	}
	return bits;
}

/* One "type:name:actions"; the name may itself hold ':' (type is before the first, actions
 * after the last). */
static int parse_one(const char *s, size_t n, struct scope_req *out, int *keep, const char **why)
{
	*keep = 0;
	const char *c1 = memchr(s, ':', n);
	const char *c2 = NULL;
	for (size_t i = n; i > 0; i--)
		if (s[i - 1] == ':') {
			c2 = s + i - 1;
			break;
		}
	if (!c1 || c1 == c2) {
		*why = "a scope is TYPE:NAME:ACTIONS";
		return DD_E_USAGE;
	}
	size_t tl = (size_t)(c1 - s), nl = (size_t)(c2 - c1 - 1);
	unsigned actions = parse_actions(c2 + 1, n - (size_t)(c2 + 1 - s));
	memset(out, 0, sizeof(*out));
	if (tl == 10 && !memcmp(s, "repository", 10)) {
		const char *nwhy;
		if (nl > DD_MAX_NAME_BYTES || name_validate(c1 + 1, nl, &nwhy)) {
			*why = "a repository scope names an invalid repository";
			return DD_E_USAGE;
		}
		out->type = SCOPE_REPOSITORY;
		memcpy(out->name, c1 + 1, nl);
		out->actions = actions;
		*keep = actions != 0;
	} else if (tl == 8 && !memcmp(s, "registry", 8) && nl == 7 && !memcmp(c1 + 1, "catalog", 7)) {
		out->type = SCOPE_CATALOG;
		out->actions = actions ? SCOPE_ALL : 0;
		*keep = actions != 0;
	}
	return 0;
}

int auth_parse_scopes(const char *s, struct scope_req *out, size_t cap, size_t *n, const char **why)
{
	size_t len = strlen(s);
	if (len > DD_MAX_URL_BYTES) {
		*why = "scope longer than 2 KiB";
		return DD_E_USAGE;
	}
	while (*s) {
		while (*s == ' ')
			s++;
		if (!*s)
			break;
		const char *end = strchr(s, ' ');
		size_t l = end ? (size_t)(end - s) : strlen(s);
		if (*n >= cap) {
			*why = "more than 32 scopes in one request";
			return DD_E_USAGE;
		}
		int keep;
		int rc = parse_one(s, l, &out[*n], &keep, why);
		if (rc)
			return rc;
		if (keep)
			(*n)++;
		s += l;
	}
	return 0;
}

const char *scope_actions_text(unsigned a)
{
	static const char *const t[8] = {"", "pull", "push", "pull,push", "delete", "pull,delete", "push,delete",
					 "pull,push,delete"};
	return t[a & 7];
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Decodes (s, n) into out; -1 on a bad escape or when it does not fit. */
static int form_decode(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '+')
			c = ' ';
		else if (c == '%') {
			if (i + 2 >= n)
				return -1;
			int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
			if (h < 0 || l < 0 || (h == 0 && l == 0))
				return -1;
			c = (char)(h * 16 + l);
			i += 2;
		}
		if (o + 1 >= cap)
			return -1;
		out[o++] = c;
	}
	out[o] = 0;
	return 0;
}

void form_each(const char *body, size_t n, const char *key, void (*fn)(void *ctx, const char *value), void *ctx)
{
	size_t klen = strlen(key);
	char value[DD_MAX_URL_BYTES + 1];
	const char *p = body, *end = body + n;
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *pe = amp ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(pe - p));
		if (eq && (size_t)(eq - p) == klen && !memcmp(p, key, klen) &&
		    !form_decode(eq + 1, (size_t)(pe - eq - 1), value, sizeof(value)))
			fn(ctx, value);
		p = pe + 1;
	}
}

struct first {
	char *out;
	size_t cap;
	int found, too_long;
};

static void take_first(void *ctx, const char *v)
{
	struct first *f = ctx;
	if (f->found || f->too_long)
		return;
	if (strlen(v) < f->cap) {
		snprintf(f->out, f->cap, "%s", v);
		f->found = 1;
	} else
		f->too_long = 1;
}

int form_get(const char *body, size_t n, const char *key, char *out, size_t cap)
{
	struct first f = {out, cap, 0, 0};
	*out = 0;
	form_each(body, n, key, take_first, &f);
	return f.found ? 0 : f.too_long ? DD_E_TOO_LARGE : -1;
}
