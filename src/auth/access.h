/* access.h: the one access check every endpoint passes through: who is asking (HTTP Basic,
 * a bearer token from /auth/token, or no one), and whether their roles allow the action. With
 * authentication off (`auth = off`) everything is allowed; see docs/security.md. */
#ifndef DD_ACCESS_H
#define DD_ACCESS_H
#include <stdint.h>

struct http_req;
struct meta;
struct jwt_key;
struct arena;
struct account;

/* ACCESS_BASE is the GET /v2/ probe that clients use to discover authentication. */
enum access_action {
	ACCESS_BASE,
	ACCESS_PULL,
	ACCESS_PUSH,
	ACCESS_DELETE,
	ACCESS_CATALOG,
	ACCESS_SECURITY_READ, /* assessments and findings (the security-reader role) */
	ACCESS_SETTINGS,      /* namespace settings, suppression rules, pull policy */
	ACCESS_METRICS,
	ACCESS_AUDIT, /* the audit log and the accounts (admins) */
};

struct auth_config {
	int enabled;
	struct meta *meta;
	struct jwt_key *key;
	const char *service;        /* the token audience, "drydock" by default */
	const char *realm;          /* token endpoint URL; NULL: derived from the request's Host */
	int tls;                    /* the server speaks HTTPS (for the derived realm) */
	int64_t token_ttl;          /* seconds an access token lives */
	const char *anonymous_pull; /* comma-separated repository patterns anyone may pull, "" none */
};

/* Installs the configuration (copied) for the process; 0 or DD_E_NOMEM. */
int access_init(const struct auth_config *cfg);
void access_shutdown(void);
const struct auth_config *access_config(void);

/* 0 when the request may perform action on repo (NULL for registry-wide actions), else
 * DD_E_UNAUTHORIZED (no or bad credentials, or a token without the scope), DD_E_DENIED
 * (known caller, not allowed) or DD_E_TOOMANYREQUESTS (login locked). The answer never depends
 * on whether repo exists. */
int access_check(struct http_req *r, const char *repo, enum access_action action);
/* The same for a namespace-wide action (the first path component, e.g. scanning settings). */
int access_check_ns(struct http_req *r, const char *ns, enum access_action action);
/* Why access_check refused (bad credentials, an expired token, ...), or NULL. */
const char *access_why(struct http_req *r);
/* Adds the headers that go with a refusal from access_check (WWW-Authenticate, Retry-After). */
void access_add_challenge(struct http_req *r, int err, const char *repo, enum access_action action);
/* The same, naming one more scope in the bearer challenge (a mount's source: "repository:FROM:pull"). */
void access_add_challenge_scope(struct http_req *r, int err, const char *repo, enum access_action action,
				const char *extra_scope);
/* 1 when the caller may see repo in listings (catalog, summaries): it may pull it or read its
 * assessments. Never answers a request. */
int access_visible(struct http_req *r, const char *repo);
/* 1 when access_visible is 1 for every repository there is or could be (authentication off, or a
 * grant on "*" that may pull or read assessments); 0 says nothing: ask access_visible. */
int access_visible_all(struct http_req *r);
/* 1 when the anonymous-pull patterns cover repo. */
int access_anonymous_may_pull(const char *repo);
/* Who is asking, for the audit log: the account name, "anonymous", or "-" when auth is off. */
const char *access_actor(struct http_req *r);

/* Checks user/password (rate-limited per account and client address); 0 with the account, or
 * DD_E_UNAUTHORIZED / DD_E_TOOMANYREQUESTS (*retry_after seconds). */
int access_login(struct http_req *r, const char *user, const char *pass, struct arena *a, struct account *out,
		 int64_t *retry_after);
/* The account a token's subject names, when it still exists and is usable. */
int access_account(const char *name, struct arena *a, struct account *out);

#endif
