/* header.h: parsers for what a client sends to authenticate: the Authorization header (Basic
 * and Bearer), base64 in both alphabets, and the token endpoint's scope strings
 * ("repository:team/app:pull,push", "registry:catalog:*"). All input is untrusted and bounded
 * by limits.h. */
#ifndef DD_AUTH_HEADER_H
#define DD_AUTH_HEADER_H
#include <stddef.h>
#include "common/limits.h"

enum cred_kind { CRED_NONE, CRED_BASIC, CRED_BEARER };

struct credentials {
	enum cred_kind kind;
	char user[DD_MAX_ACCOUNT_NAME + 1];
	char pass[DD_MAX_PASSWORD_BYTES + 1];
	const char *token; /* Bearer: points into the header */
	size_t token_len;
};

/* Parses an Authorization header value (NULL: CRED_NONE). 0, or DD_E_UNAUTHORIZED with *why. */
int auth_parse_authorization(const char *value, struct credentials *out, const char **why);
/* Wipes the password. */
void credentials_clear(struct credentials *c);

/* Strict base64 (url: the URL-safe alphabet, padding optional; else the standard one, padding
 * required). 0 with *outlen, or -1 on a bad character, bad length or when cap is too small. */
int b64_decode(const char *in, size_t n, int url, unsigned char *out, size_t cap, size_t *outlen);
/* Unpadded base64url of n bytes into out (room for 4*(n+2)/3+1); returns the length. */
size_t b64url_encode(const unsigned char *in, size_t n, char *out);

enum scope_action { SCOPE_PULL = 1, SCOPE_PUSH = 2, SCOPE_DELETE = 4, SCOPE_ALL = 7 };
enum scope_type { SCOPE_REPOSITORY, SCOPE_CATALOG };

struct scope_req {
	enum scope_type type;
	char name[DD_MAX_NAME_BYTES + 1]; /* repository name; "" for the catalog */
	unsigned actions;                 /* SCOPE_* bits */
};

/* Parses one scope parameter (several scopes separated by spaces) and appends to out[*n..cap).
 * Unknown resource types and actions are ignored (a token server grants what it knows);
 * malformed text is DD_E_USAGE with *why. */
int auth_parse_scopes(const char *s, struct scope_req *out, size_t cap, size_t *n, const char **why);
/* "pull,push" for a set of SCOPE_* bits (static strings). */
const char *scope_actions_text(unsigned actions);

/* Calls fn for each value of `key` in an application/x-www-form-urlencoded body, decoded
 * (%XX and '+'); values longer than cap-1 bytes or with bad escapes are skipped. */
void form_each(const char *body, size_t n, const char *key, void (*fn)(void *ctx, const char *value), void *ctx);
/* The first value of key into out ("" when absent); 0, -1 when absent, or DD_E_TOO_LARGE
 * when its first value is longer than cap - 1 bytes. */
int form_get(const char *body, size_t n, const char *key, char *out, size_t cap);

#endif
