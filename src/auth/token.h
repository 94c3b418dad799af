/* token.h: the token endpoint (/auth/token) of the Docker/OCI token protocol: GET with HTTP
 * Basic (or anonymously, where anonymous pull is on) and `scope`, `service`, `offline_token`;
 * POST with an OAuth2 form (grant_type password or refresh_token). It grants each requested
 * scope only as far as the account's roles allow. */
#ifndef DD_TOKEN_H
#define DD_TOKEN_H
#include <jansson.h>
#include <stddef.h>

struct http_req;

#define TOKEN_PATH "/auth/token"
#define REFRESH_TOKEN_SECONDS (30 * 24 * 3600)

/* form: the POST body, NULL for GET. 0 with the JSON answer (owned), or an error code with
 * *why; DD_E_TOOMANYREQUESTS sets *retry_after. */
int token_issue(struct http_req *r, const char *form, size_t form_len, json_t **out, const char **why,
		int64_t *retry_after);

#endif
