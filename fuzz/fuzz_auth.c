/* fuzz_auth.c: what a client sends to authenticate, through every parser that reads it: the
 * Authorization header, token-request scopes, the OAuth2 form body and htpasswd lines. Each
 * result stays inside its limits and inside the input. */
#include "common/dd.h"
#include "auth/accounts.h"
#include "auth/header.h"
#include "fuzz.h"

static void check_value(void *ctx, const char *v)
{
	(void)ctx;
	if (strlen(v) > DD_MAX_URL_BYTES)
		abort();
}

int fuzz_auth(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	size_t n = strlen(s); /* a header value ends at the first NUL */

	struct credentials c;
	const char *why;
	if (auth_parse_authorization(s, &c, &why) == 0) {
		if (c.kind == CRED_BASIC) {
			size_t ul = strlen(c.user), pl = strlen(c.pass);
			if (!ul || ul > DD_MAX_ACCOUNT_NAME || pl > DD_MAX_PASSWORD_BYTES || strchr(c.user, ':'))
				abort();
		} else if (c.kind == CRED_BEARER) {
			if (!c.token_len || c.token_len > DD_MAX_TOKEN_BYTES || c.token < s || c.token + c.token_len > s + n)
				abort();
		} else if (*s && strspn(s, " ") != n)
			abort(); /* a non-empty header is Basic, Bearer or an error */
		credentials_clear(&c);
	} else if (!why)
		abort();

	struct scope_req sc[DD_MAX_SCOPES];
	size_t k = 0;
	if (auth_parse_scopes(s, sc, DD_MAX_SCOPES, &k, &why) == 0 || k) {
		if (k > DD_MAX_SCOPES)
			abort();
		for (size_t i = 0; i < k; i++)
			if (!sc[i].actions || sc[i].actions > SCOPE_ALL || strlen(sc[i].name) > DD_MAX_NAME_BYTES ||
			    (sc[i].type == SCOPE_REPOSITORY && !*sc[i].name))
				abort();
	}

	form_each(data ? (const char *)data : "", size, "scope", check_value, NULL);
	char out[64];
	if (form_get(data ? (const char *)data : "", size, "grant_type", out, sizeof(out)) == 0 && strlen(out) >= sizeof(out))
		abort();

	char user[DD_MAX_ACCOUNT_NAME + 1], hash[160];
	int rc = htpasswd_parse_line(s, n, user, sizeof(user), hash, sizeof(hash), &why);
	if (rc == 0 && (!*user || !*hash || strncmp(hash, "$2", 2)))
		abort();

	unsigned char raw[64];
	size_t len;
	if (b64_decode(s, n, 1, raw, sizeof(raw), &len) == 0) {
		char back[128];
		if (len > sizeof(raw) || b64url_encode(raw, len, back) > sizeof(back) - 1)
			abort();
		/* canonical: re-encoding gives the input back (without padding) */
		size_t bl = strlen(back), in = n;
		while (in && s[in - 1] == '=')
			in--;
		if (bl != in || memcmp(back, s, bl))
			abort();
	}
	free(s);
	return 0;
}
DD_FUZZ_ENTRY(fuzz_auth)
