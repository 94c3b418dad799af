/* access.c: authentication of each request and the role check (see access.h and
 * docs/security.md).
 *
 * A request is resolved once to an identity: an account (HTTP Basic), a token (its subject
 * and the scopes it carries), or anonymous. On the OCI API a token's scopes decide, as in
 * the Docker token protocol; everywhere else (the security API, metrics) the token names its
 * account and the account's roles decide. */
#include "common/dd.h"
#include "access.h"
#include "accounts.h"
#include "header.h"
#include "jwt.h"
#include "ratelimit.h"
#include "common/arena.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/util.h"
#include "http/server.h"
#include "store/meta.h"
#include <fnmatch.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/rand.h>

static struct {
	struct auth_config cfg;
	char *service, *realm, *anonymous;
	struct ratelimit *rl;
	unsigned char mac_key[32];
	char dummy_hash[160]; /* checked for unknown accounts, so that they take as long as known ones */
	pthread_mutex_t mu;
	struct basic_cache {
		char name[DD_MAX_ACCOUNT_NAME + 1];
		unsigned char mac[32];
		char hash[160];
		int64_t until;
	} cache[256];
} A = {.mu = PTHREAD_MUTEX_INITIALIZER};

#define BASIC_CACHE_SECONDS 60
#define TOKEN_CACHE_SLOTS 1024

/* Verified tokens, by SHA-256 of their text, until they expire: an ES256 verification costs
 * ~80 us, five times what serving a small blob does, and clients reuse a token for minutes. */
static struct token_cache {
	pthread_mutex_t mu;
	struct token_slot {
		unsigned char hash[32];
		int64_t exp;
		char sub[DD_MAX_ACCOUNT_NAME + 1];
		struct scope_req *scopes; /* malloc'd */
		size_t nscopes;
	} slots[TOKEN_CACHE_SLOTS];
} T = {.mu = PTHREAD_MUTEX_INITIALIZER};

enum id_kind { ID_ANON, ID_ACCOUNT, ID_TOKEN };

struct identity {
	enum id_kind kind;
	int err;            /* credentials given but not valid */
	const char *why;    /* why not */
	int64_t retry_after; /* login locked */
	const char *name;   /* account (or token subject); NULL for anonymous */
	int have_acc, acc_err;
	struct account acc;
	struct scope_req *scopes; /* a token's grants */
	size_t nscopes;
};

int access_init(const struct auth_config *cfg)
{
	A.cfg = *cfg;
	A.service = strdup(cfg->service && *cfg->service ? cfg->service : "drydock");
	A.realm = cfg->realm && *cfg->realm ? strdup(cfg->realm) : NULL;
	A.anonymous = strdup(cfg->anonymous_pull ? cfg->anonymous_pull : "");
	A.rl = ratelimit_new(cfg->meta);
	if (!A.service || !A.anonymous || !A.rl || RAND_bytes(A.mac_key, sizeof(A.mac_key)) != 1)
		return DD_E_NOMEM;
	A.cfg.service = A.service;
	A.cfg.realm = A.realm;
	A.cfg.anonymous_pull = A.anonymous;
	if (cfg->enabled) {
		char pw[25];
		password_generate(pw, sizeof(pw));
		if (password_hash(pw, A.dummy_hash, sizeof(A.dummy_hash)))
			return DD_E_INTERNAL;
	}
	return 0;
}

void access_shutdown(void)
{
	for (size_t i = 0; i < TOKEN_CACHE_SLOTS; i++) {
		free(T.slots[i].scopes);
		memset(&T.slots[i], 0, sizeof(T.slots[i]));
	}
	free(A.service);
	free(A.realm);
	free(A.anonymous);
	ratelimit_free(A.rl);
	A.service = A.realm = A.anonymous = NULL;
	A.rl = NULL;
	memset(&A.cfg, 0, sizeof(A.cfg));
}

const struct auth_config *access_config(void) { return &A.cfg; }

/* ---- Basic: password checks, cached for a minute by an HMAC of the password ---- */

static void mac_of(const char *user, const char *pass, unsigned char out[32])
{
	size_t len = 32, ul = strlen(user), pl = strlen(pass);
	unsigned char msg[DD_MAX_ACCOUNT_NAME + DD_MAX_PASSWORD_BYTES + 2];
	memcpy(msg, user, ul);
	msg[ul] = 0;
	memcpy(msg + ul + 1, pass, pl);
	if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, A.mac_key, sizeof(A.mac_key), msg, ul + 1 + pl, out, 32,
		       &len))
		RAND_bytes(out, 32); /* never matches a cached entry */
	OPENSSL_cleanse(msg, sizeof(msg));
}

static struct basic_cache *cache_slot(const char *user)
{
	uint32_t h = 2166136261u;
	for (const char *p = user; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return &A.cache[h % 256];
}

static int cached_ok(const char *user, const char *pass, const char *hash, int64_t now)
{
	unsigned char mac[32];
	mac_of(user, pass, mac);
	pthread_mutex_lock(&A.mu);
	struct basic_cache *c = cache_slot(user);
	int ok = c->until > now && !strcmp(c->name, user) && !strcmp(c->hash, hash) && !CRYPTO_memcmp(c->mac, mac, 32);
	pthread_mutex_unlock(&A.mu);
	return ok;
}

static void cache_put(const char *user, const char *pass, const char *hash, int64_t now)
{
	if (strlen(hash) >= sizeof(A.cache[0].hash))
		return;
	unsigned char mac[32];
	mac_of(user, pass, mac);
	pthread_mutex_lock(&A.mu);
	struct basic_cache *c = cache_slot(user);
	snprintf(c->name, sizeof(c->name), "%s", user);
	snprintf(c->hash, sizeof(c->hash), "%s", hash);
	memcpy(c->mac, mac, 32);
	c->until = now + BASIC_CACHE_SECONDS;
	pthread_mutex_unlock(&A.mu);
}

int access_account(const char *name, struct arena *a, struct account *out)
{
	if (!name || !*name || access_config()->meta == NULL)
		return DD_E_UNAUTHORIZED;
	int rc = accounts_get(A.cfg.meta, a, name, out);
	if (rc)
		return DD_E_UNAUTHORIZED;
	if (out->expires && out->expires <= util_now())
		return DD_E_UNAUTHORIZED;
	return 0;
}

/* A login: its lock looked at, the account read, the password checked, the outcome counted. A
 * password this node saw succeed within the last minute (the cache) needs only the look at the
 * lock; any other is checked in its account's turn on this node (ratelimit_enter), the lock
 * looked at again then, so that guesses sent at once are checked one after another against the
 * count each left. */
int access_login(struct http_req *r, const char *user, const char *pass, struct arena *a, struct account *out,
		 int64_t *retry_after)
{
	char addr[64];
	http_client_addr(r, addr, sizeof(addr));
	int64_t now = util_now();
	int counted;
	if ((*retry_after = ratelimit_check(A.rl, user, addr, now, &counted)))
		return DD_E_TOOMANYREQUESTS;
	int rc = accounts_get(A.cfg.meta, a, user, out);
	int live = !rc && !(out->expires && out->expires <= now);
	if (live && cached_ok(user, pass, out->hash, now)) {
		ratelimit_succeeded(A.rl, user, counted);
		return 0;
	}
	unsigned stripe = ratelimit_enter(A.rl, user);
	int ok = 0;
	if ((*retry_after = ratelimit_check(A.rl, user, addr, now, &counted))) {
		ratelimit_leave(A.rl, stripe);
		return DD_E_TOOMANYREQUESTS;
	}
	if (rc)
		password_check(A.dummy_hash, pass);
	else
		ok = password_check(out->hash, pass) && live;
	if (!ok)
		ratelimit_failed(A.rl, user, addr, now);
	else
		ratelimit_succeeded(A.rl, user, counted);
	ratelimit_leave(A.rl, stripe);
	if (!ok) {
		const char *why;
		/* the name is the client's: logged only when it is a name an account could have */
		if (account_name_check(user, !strncmp(user, ROBOT_PREFIX, strlen(ROBOT_PREFIX)), &why))
			log_info("failed login for a malformed account name from %s", addr);
		else
			log_info("failed login for '%s' from %s", user, addr);
		return DD_E_UNAUTHORIZED;
	}
	cache_put(user, pass, out->hash, now);
	return 0;
}

/* ---- resolving the identity of a request ---- */

static int parse_token_scopes(struct arena *a, json_t *claims, struct identity *id)
{
	json_t *acc = json_object_get(claims, "access");
	if (acc && !json_is_array(acc))
		return -1;
	size_t n = json_array_size(acc);
	if (n > DD_MAX_SCOPES)
		return -1;
	id->scopes = arena_alloc(a, sizeof(struct scope_req) * (n + 1));
	size_t i;
	json_t *e;
	json_array_foreach(acc, i, e)
	{
		const char *type = json_string_value(json_object_get(e, "type"));
		const char *name = json_string_value(json_object_get(e, "name"));
		json_t *actions = json_object_get(e, "actions");
		if (!type || !name || !json_is_array(actions) || strlen(name) > DD_MAX_NAME_BYTES)
			return -1;
		struct scope_req *s = &id->scopes[id->nscopes];
		if (!strcmp(type, "repository"))
			s->type = SCOPE_REPOSITORY;
		else if (!strcmp(type, "registry") && !strcmp(name, "catalog"))
			s->type = SCOPE_CATALOG;
		else
			continue;
		snprintf(s->name, sizeof(s->name), "%s", s->type == SCOPE_REPOSITORY ? name : "");
		size_t k;
		json_t *act;
		json_array_foreach(actions, k, act)
		{
			const char *t = json_string_value(act);
			if (!t)
				continue;
			if (!strcmp(t, "pull"))
				s->actions |= SCOPE_PULL;
			else if (!strcmp(t, "push"))
				s->actions |= SCOPE_PUSH;
			else if (!strcmp(t, "delete"))
				s->actions |= SCOPE_DELETE;
			else if (!strcmp(t, "*"))
				s->actions |= SCOPE_ALL;
		}
		id->nscopes++;
	}
	return 0;
}

static struct identity *resolve(struct http_req *r)
{
	if (r->auth)
		return r->auth;
	struct identity *id = arena_alloc(&r->arena, sizeof(*id));
	r->auth = id;
	struct credentials c;
	const char *why = NULL;
	if (auth_parse_authorization(http_header(r, "Authorization"), &c, &why)) {
		id->err = DD_E_UNAUTHORIZED;
		id->why = why;
		return id;
	}
	if (c.kind == CRED_BASIC) {
		id->kind = ID_ACCOUNT;
		int rc = access_login(r, c.user, c.pass, &r->arena, &id->acc, &id->retry_after);
		credentials_clear(&c);
		if (rc) {
			id->err = rc;
			id->why = rc == DD_E_TOOMANYREQUESTS ? "too many failed logins; try again later"
							     : "user name or password is wrong";
			return id;
		}
		id->name = id->acc.name;
		id->have_acc = 1;
	} else if (c.kind == CRED_BEARER) {
		id->kind = ID_TOKEN;
		unsigned char h[32];
		SHA256((const unsigned char *)c.token, c.token_len, h);
		int64_t now = util_now();
		struct token_slot *slot = &T.slots[(h[0] | h[1] << 8) % TOKEN_CACHE_SLOTS];
		pthread_mutex_lock(&T.mu);
		if (slot->exp > now && !memcmp(slot->hash, h, 32)) {
			id->nscopes = slot->nscopes;
			id->scopes = arena_alloc(&r->arena, sizeof(struct scope_req) * (slot->nscopes + 1));
			memcpy(id->scopes, slot->scopes, sizeof(struct scope_req) * slot->nscopes);
			id->name = *slot->sub ? arena_strdup(&r->arena, slot->sub) : NULL;
			pthread_mutex_unlock(&T.mu);
			return id;
		}
		pthread_mutex_unlock(&T.mu);
		json_t *claims;
		if (jwt_verify(A.cfg.key, c.token, c.token_len, util_now(), "drydock", A.service, &claims, &why)) {
			id->err = DD_E_UNAUTHORIZED;
			id->why = why;
			return id;
		}
		const char *use = json_string_value(json_object_get(claims, "use"));
		const char *sub = json_string_value(json_object_get(claims, "sub"));
		if (!use || strcmp(use, "access") || !sub || parse_token_scopes(&r->arena, claims, id)) {
			id->err = DD_E_UNAUTHORIZED;
			id->why = "not an access token";
		} else {
			if (*sub)
				id->name = arena_strdup(&r->arena, sub);
			struct scope_req *copy = malloc(sizeof(struct scope_req) * (id->nscopes + 1));
			if (copy && strlen(sub) <= DD_MAX_ACCOUNT_NAME) {
				memcpy(copy, id->scopes, sizeof(struct scope_req) * id->nscopes);
				pthread_mutex_lock(&T.mu);
				free(slot->scopes);
				memcpy(slot->hash, h, 32);
				slot->exp = json_integer_value(json_object_get(claims, "exp"));
				snprintf(slot->sub, sizeof(slot->sub), "%s", sub);
				slot->scopes = copy;
				slot->nscopes = id->nscopes;
				pthread_mutex_unlock(&T.mu);
			} else
				free(copy);
		}
		json_decref(claims);
	}
	return id;
}

/* The account behind a token, loaded on first need. */
static const struct account *account_of(struct http_req *r, struct identity *id)
{
	if (!id->have_acc && !id->acc_err && id->name)
		id->acc_err = access_account(id->name, &r->arena, &id->acc) ? 1 : 0, id->have_acc = !id->acc_err;
	return id->have_acc ? &id->acc : NULL;
}

int access_anonymous_may_pull(const char *repo)
{
	const char *p = A.anonymous;
	char pat[DD_MAX_NAME_BYTES + 1];
	while (repo && *p) {
		size_t n = strcspn(p, ",");
		if (n && n <= DD_MAX_NAME_BYTES) {
			memcpy(pat, p, n);
			pat[n] = 0;
			if (!fnmatch(pat, repo, 0))
				return 1;
		}
		p += n + (p[n] == ',');
	}
	return 0;
}

static int on_oci_api(struct http_req *r) { return !strncmp(r->path, "/v2/", 4) || !strcmp(r->path, "/v2"); }

static unsigned scope_bit(enum access_action a)
{
	return a == ACCESS_PULL ? SCOPE_PULL : a == ACCESS_PUSH ? SCOPE_PUSH : a == ACCESS_DELETE ? SCOPE_DELETE : 0;
}

static int token_grants(const struct identity *id, const char *repo, enum access_action action)
{
	if (action == ACCESS_BASE)
		return 1;
	for (size_t i = 0; i < id->nscopes; i++) {
		const struct scope_req *s = &id->scopes[i];
		if (action == ACCESS_CATALOG && s->type == SCOPE_CATALOG)
			return 1;
		if (repo && s->type == SCOPE_REPOSITORY && !strcmp(s->name, repo) && (s->actions & scope_bit(action)))
			return 1;
	}
	return 0;
}

static int check(struct http_req *r, const char *repo, const char *ns, enum access_action action)
{
	if (!A.cfg.enabled)
		return 0;
	struct identity *id = resolve(r);
	if (id->err)
		return id->err;
	int oci = on_oci_api(r);
	if (id->kind == ID_TOKEN && oci && action <= ACCESS_CATALOG)
		return token_grants(id, repo, action) ? 0 : DD_E_UNAUTHORIZED;
	const struct account *acc = account_of(r, id);
	if (!acc) {
		if (id->kind == ID_TOKEN && id->name)
			return DD_E_UNAUTHORIZED; /* the token's account is gone or expired */
		if (action == ACCESS_PULL && access_anonymous_may_pull(repo))
			return 0;
		return DD_E_UNAUTHORIZED;
	}
	if (action == ACCESS_BASE || action == ACCESS_CATALOG)
		return 0;
	int64_t now = util_now();
	int ok = ns ? account_allows_ns(acc, ns, action, now) : account_allows(acc, repo, action, now);
	return ok ? 0 : DD_E_DENIED;
}

int access_check(struct http_req *r, const char *repo, enum access_action action)
{
	return check(r, repo, NULL, action);
}

int access_check_ns(struct http_req *r, const char *ns, enum access_action action)
{
	return check(r, NULL, ns, action);
}

int access_visible(struct http_req *r, const char *repo)
{
	if (!A.cfg.enabled)
		return 1;
	struct identity *id = resolve(r);
	if (id->err)
		return 0;
	const struct account *acc = account_of(r, id);
	if (!acc)
		return !id->name && access_anonymous_may_pull(repo);
	int64_t now = util_now();
	return account_allows(acc, repo, ACCESS_PULL, now) || account_allows(acc, repo, ACCESS_SECURITY_READ, now);
}

int access_visible_all(struct http_req *r)
{
	if (!A.cfg.enabled)
		return 1;
	struct identity *id = resolve(r);
	const struct account *acc = id->err ? NULL : account_of(r, id);
	if (!acc)
		return 0; /* anonymous callers see repositories pattern by pattern */
	int64_t now = util_now(); /* a grant on "*" (account_allows with no repository) covers every one */
	return account_allows(acc, NULL, ACCESS_PULL, now) || account_allows(acc, NULL, ACCESS_SECURITY_READ, now);
}

const char *access_why(struct http_req *r)
{
	struct identity *id = r->auth;
	return id && id->err ? id->why : NULL;
}

const char *access_actor(struct http_req *r)
{
	if (!A.cfg.enabled)
		return "-";
	struct identity *id = resolve(r);
	return !id->err && id->name ? id->name : "anonymous";
}

/* A host[:port] as a client sent it, when it is only that. */
static int plain_host(const char *h)
{
	if (!h || !*h || strlen(h) > 255)
		return 0;
	for (; *h; h++)
		if (!((*h >= 'a' && *h <= 'z') || (*h >= 'A' && *h <= 'Z') || (*h >= '0' && *h <= '9') ||
		      strchr(".-:[]", *h)))
			return 0;
	return 1;
}

void access_add_challenge(struct http_req *r, int err, const char *repo, enum access_action action)
{
	access_add_challenge_scope(r, err, repo, action, NULL);
}

void access_add_challenge_scope(struct http_req *r, int err, const char *repo, enum access_action action,
				const char *extra_scope)
{
	struct identity *id = r->auth;
	if (err == DD_E_TOOMANYREQUESTS && id) {
		http_add_header(r, "Retry-After", arena_printf(&r->arena, "%lld", (long long)id->retry_after));
		return;
	}
	if (err != DD_E_UNAUTHORIZED)
		return;
	const char *realm = A.realm;
	if (!realm) {
		const char *host = http_header(r, "Host");
		realm = arena_printf(&r->arena, "%s://%s/auth/token", A.cfg.tls ? "https" : "http",
				     plain_host(host) ? host : "localhost");
	}
	const char *scope = NULL;
	if (action == ACCESS_CATALOG)
		scope = "registry:catalog:*";
	else if (repo && (action == ACCESS_PULL || action == ACCESS_PUSH || action == ACCESS_DELETE))
		scope = arena_printf(&r->arena, "repository:%s:%s", repo,
				     action == ACCESS_PULL ? "pull" : action == ACCESS_PUSH ? "pull,push" : "delete");
	if (extra_scope) /* scopes are space-separated in one parameter (Docker's token spec) */
		scope = scope ? arena_printf(&r->arena, "%s %s", scope, extra_scope) : extra_scope;
	const char *error = "";
	if (id && id->kind == ID_TOKEN)
		error = id->err ? ",error=\"invalid_token\"" : ",error=\"insufficient_scope\"";
	http_add_header(r, "WWW-Authenticate",
			arena_printf(&r->arena, "Bearer realm=\"%s\",service=\"%s\"%s%s%s%s", realm, A.service,
				     scope ? ",scope=\"" : "", scope ? scope : "", scope ? "\"" : "", error));
	if (!on_oci_api(r))
		http_add_header(r, "WWW-Authenticate", "Basic realm=\"drydock\"");
}
