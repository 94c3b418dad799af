/* token.c: the token endpoint (see token.h and docs/security.md). */
#include "common/dd.h"
#include "token.h"
#include "access.h"
#include "accounts.h"
#include "header.h"
#include "jwt.h"
#include "common/arena.h"
#include "common/limits.h"
#include "common/util.h"
#include "http/server.h"
#include <openssl/crypto.h>
#include <openssl/rand.h>

struct scopes {
	struct scope_req s[DD_MAX_SCOPES];
	size_t n;
	int err;
	const char *why;
};

static void add_scope(void *ctx, const char *value)
{
	struct scopes *sc = ctx;
	if (!sc->err)
		sc->err = auth_parse_scopes(value, sc->s, DD_MAX_SCOPES, &sc->n, &sc->why);
}

static const char *iso_now(struct arena *a, int64_t t)
{
	struct tm tm;
	time_t tt = (time_t)t;
	gmtime_r(&tt, &tm);
	return arena_printf(a, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			    tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static const char *jti(struct arena *a)
{
	unsigned char r[16];
	char out[32];
	RAND_bytes(r, sizeof(r));
	b64url_encode(r, sizeof(r), out);
	return arena_strdup(a, out);
}

/* The scopes granted to acc (NULL: anonymous), as the token's "access" claim. */
static json_t *grant(const struct account *acc, const struct scopes *sc, int64_t now)
{
	json_t *access = json_array();
	for (size_t i = 0; i < sc->n; i++) {
		const struct scope_req *s = &sc->s[i];
		if (s->type == SCOPE_CATALOG) {
			if (acc)
				json_array_append_new(access, json_pack("{s:s, s:s, s:[s]}", "type", "registry", "name",
									"catalog", "actions", "*"));
			continue;
		}
		unsigned allowed = 0;
		if (acc) {
			allowed |= account_allows(acc, s->name, ACCESS_PULL, now) ? SCOPE_PULL : 0;
			allowed |= account_allows(acc, s->name, ACCESS_PUSH, now) ? SCOPE_PUSH : 0;
			allowed |= account_allows(acc, s->name, ACCESS_DELETE, now) ? SCOPE_DELETE : 0;
		} else if (access_anonymous_may_pull(s->name)) {
			allowed = SCOPE_PULL; /* anonymous: pull where the anonymous-pull patterns say so */
		}
		unsigned got = s->actions & allowed;
		if (!got)
			continue;
		json_t *acts = json_array();
		if (got & SCOPE_PULL)
			json_array_append_new(acts, json_string("pull"));
		if (got & SCOPE_PUSH)
			json_array_append_new(acts, json_string("push"));
		if (got & SCOPE_DELETE)
			json_array_append_new(acts, json_string("delete"));
		json_array_append_new(access, json_pack("{s:s, s:s, s:o}", "type", "repository", "name", s->name,
							"actions", acts));
	}
	return access;
}

static char *sign(json_t *claims)
{
	char *t = jwt_sign(access_config()->key, claims);
	json_decref(claims);
	return t;
}

int token_issue(struct http_req *r, const char *form, size_t form_len, json_t **out, const char **why,
		int64_t *retry_after)
{
	*out = NULL;
	*retry_after = 0;
	const struct auth_config *cfg = access_config();
	struct arena *a = &r->arena;
	struct scopes sc = {.n = 0};
	char service[256] = "", grant_type[32] = "", offline[16] = "";
	struct account acc;
	int have = 0, rc;
	if (!cfg->enabled) {
		*why = "authentication is off on this registry: no token is needed";
		return DD_E_NOT_FOUND;
	}
	if (form) {
		if (form_len > DD_MAX_TOKEN_FORM_BYTES) {
			*why = "token request body larger than 16 KiB";
			return DD_E_TOO_LARGE;
		}
		if (form_get(form, form_len, "service", service, sizeof(service)) == DD_E_TOO_LARGE) {
			*why = "service longer than 255 characters";
			return DD_E_USAGE;
		}
		form_get(form, form_len, "grant_type", grant_type, sizeof(grant_type));
		form_get(form, form_len, "access_type", offline, sizeof(offline));
		form_each(form, form_len, "scope", add_scope, &sc);
		if (!strcmp(grant_type, "password")) {
			char user[DD_MAX_ACCOUNT_NAME + 1], pass[DD_MAX_PASSWORD_BYTES + 1];
			if (form_get(form, form_len, "username", user, sizeof(user)) ||
			    form_get(form, form_len, "password", pass, sizeof(pass))) {
				*why = "grant_type=password needs username and password";
				return DD_E_UNAUTHORIZED;
			}
			rc = access_login(r, user, pass, a, &acc, retry_after);
			OPENSSL_cleanse(pass, sizeof(pass));
			if (rc) {
				*why = rc == DD_E_TOOMANYREQUESTS ? "too many failed logins; try again later"
								  : "user name or password is wrong";
				return rc;
			}
			have = 1;
		} else if (!strcmp(grant_type, "refresh_token")) {
			char *rt = arena_alloc(a, DD_MAX_TOKEN_BYTES + 1);
			json_t *claims;
			if (form_get(form, form_len, "refresh_token", rt, DD_MAX_TOKEN_BYTES + 1)) {
				*why = "grant_type=refresh_token needs refresh_token";
				return DD_E_UNAUTHORIZED;
			}
			if (jwt_verify(cfg->key, rt, strlen(rt), util_now(), "drydock", cfg->service, &claims, why))
				return DD_E_UNAUTHORIZED;
			const char *use = json_string_value(json_object_get(claims, "use"));
			const char *sub = json_string_value(json_object_get(claims, "sub"));
			json_int_t gen = json_integer_value(json_object_get(claims, "gen"));
			int ok = use && !strcmp(use, "refresh") && sub && !access_account(sub, a, &acc) && acc.gen == gen;
			json_decref(claims);
			if (!ok) {
				*why = "refresh token is no longer valid (password changed or account removed)";
				return DD_E_UNAUTHORIZED;
			}
			have = 1;
		} else {
			*why = "grant_type must be password or refresh_token";
			return DD_E_USAGE;
		}
		if (!strcmp(offline, "offline"))
			snprintf(offline, sizeof(offline), "true");
	} else {
		const char *s = http_query(r, "service");
		if (s && strlen(s) >= sizeof(service)) {
			*why = "service longer than 255 characters";
			return DD_E_USAGE;
		}
		if (s)
			snprintf(service, sizeof(service), "%s", s);
		s = http_query(r, "offline_token");
		if (s && !strcmp(s, "true"))
			snprintf(offline, sizeof(offline), "true");
		http_query_each(r, "scope", add_scope, &sc);
		struct credentials c;
		if (auth_parse_authorization(http_header(r, "Authorization"), &c, why))
			return DD_E_UNAUTHORIZED;
		if (c.kind == CRED_BASIC) {
			rc = access_login(r, c.user, c.pass, a, &acc, retry_after);
			credentials_clear(&c);
			if (rc) {
				*why = rc == DD_E_TOOMANYREQUESTS ? "too many failed logins; try again later"
								  : "user name or password is wrong";
				return rc;
			}
			have = 1;
		} else if (c.kind == CRED_BEARER) {
			*why = "ask for a token with Basic credentials or a refresh token, not a bearer token";
			return DD_E_UNAUTHORIZED;
		} else if (!*cfg->anonymous_pull) {
			*why = "anonymous access is off on this registry: log in";
			return DD_E_UNAUTHORIZED;
		}
	}
	if (*service && strcmp(service, cfg->service)) {
		*why = "unknown service";
		return DD_E_USAGE;
	}
	if (sc.err) {
		*why = sc.why;
		return sc.err;
	}
	int64_t now = util_now();
	json_t *claims = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:s, s:o}", "iss", "drydock", "sub",
				   have ? acc.name : "", "aud", cfg->service, "exp", (json_int_t)(now + cfg->token_ttl),
				   "nbf", (json_int_t)now, "iat", (json_int_t)now, "jti", jti(a), "use", "access", "access",
				   grant(have ? &acc : NULL, &sc, now));
	char *token = sign(claims);
	if (!token)
		return DD_E_INTERNAL;
	json_t *o = json_pack("{s:s, s:s, s:I, s:s}", "token", token, "access_token", token, "expires_in",
			      (json_int_t)cfg->token_ttl, "issued_at", iso_now(a, now));
	free(token);
	if (have && !strcmp(offline, "true")) {
		json_t *rc_claims = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:I}", "iss", "drydock", "sub", acc.name,
					      "aud", cfg->service, "exp", (json_int_t)(now + REFRESH_TOKEN_SECONDS), "iat",
					      (json_int_t)now, "jti", jti(a), "use", "refresh", "gen", (json_int_t)acc.gen);
		char *refresh = sign(rc_claims);
		if (refresh)
			json_object_set_new(o, "refresh_token", json_string(refresh));
		free(refresh);
	}
	*out = o;
	return 0;
}
