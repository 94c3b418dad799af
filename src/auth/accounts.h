/* accounts.h: user and robot accounts, their passwords and their role grants, kept in the
 * metadata store's settings ("account/<name>" → a small JSON document) so that every metadata
 * backend holds them. Passwords are hashed with yescrypt through libcrypt; bcrypt hashes from
 * an htpasswd file are kept and checked as they are. */
#ifndef DD_ACCOUNTS_H
#define DD_ACCOUNTS_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "auth/access.h"

struct arena;
struct meta;

enum role { ROLE_READER, ROLE_WRITER, ROLE_OWNER, ROLE_ADMIN, ROLE_SECURITY_READER, ROLE_COUNT };

struct grant {
	enum role role;
	const char *pattern; /* "*" for registry-wide, "team/<any>", "team/app": fnmatch(3) globs */
};

struct account {
	const char *name;
	int robot;
	const char *hash; /* crypt(3) text */
	int64_t created;
	int64_t expires; /* unix seconds, 0 for never */
	int64_t gen;     /* bumped on password change: refresh tokens of older generations stop working */
	struct grant *grants;
	size_t ngrants;
};

#define ROBOT_PREFIX "robot$"

const char *role_name(enum role r);
/* 0 with *out, or -1 for an unknown name. */
int role_parse(const char *s, enum role *out);
/* 0 when `name` may name an account (robots: "robot$" + the same), else -1 with *why. */
int account_name_check(const char *name, int robot, const char **why);
/* A grant's pattern: a repository name, optionally with * ? [..] globs, or "*". */
int grant_pattern_check(const char *pattern, const char **why);

int accounts_get(struct meta *m, struct arena *a, const char *name, struct account *out);
int accounts_put(struct meta *m, const struct account *acc);
/* Stores a new account unless one of its name is there: *added 1 when this call stored it. */
int accounts_put_new(struct meta *m, const struct account *acc, int *added);
int accounts_delete(struct meta *m, const char *name);
int accounts_list(struct meta *m, struct arena *a, struct account **out, size_t *n);
/* An account as `drydock user list --json` and GET /api/v1/accounts show it (a json_t *, owned):
 * name, kind, created, expires, roles; never its password hash. */
void *account_json(const struct account *acc);
/* Parses a stored account document; 0 or DD_E_IO (corrupt). */
int account_parse(struct arena *a, const char *name, const char *json, struct account *out);

/* yescrypt hash of pass into out (cap >= 128); 0 or DD_E_INTERNAL. */
int password_hash(const char *pass, char *out, size_t cap);
/* 1 when pass matches the crypt(3) hash (yescrypt, bcrypt $2y$/$2b$/$2a$, sha512crypt). */
int password_check(const char *hash, const char *pass);
/* A hash this build can check (for htpasswd import). */
int password_hash_supported(const char *hash);
/* A random password of 24 characters from [A-Za-z0-9] into out (cap >= 25). */
void password_generate(char *out, size_t cap);

/* Whether the account's grants allow action on repo (NULL: a registry-wide action, which needs
 * a grant on "*"). Expired robots are allowed nothing. */
int account_allows(const struct account *acc, const char *repo, enum access_action action, int64_t now);
/* The same for a whole namespace (namespace settings): the grant must cover every repository
 * under ns/ (the pattern "*", "ns/" followed by "*", or ns itself). */
int account_allows_ns(const struct account *acc, const char *ns, enum access_action action, int64_t now);

/* One htpasswd line "user:hash" (blank lines and '#' comments: 1, nothing to take). 0 with
 * user and hash, 1 to skip, or -1 with *why. */
int htpasswd_parse_line(const char *line, size_t n, char *user, size_t ucap, char *hash, size_t hcap,
			const char **why);

/* At first start (no account at all): creates an admin account on "*", named by
 * DRYDOCK_ADMIN_USER (default "admin") with DRYDOCK_ADMIN_PASSWORD, or a generated password
 * printed once to `notice` with the command that changes it: user_cmd, the command line that
 * manages this registry's accounts ("drydock user --data /var/lib/drydock"; borrowed).
 * 0 or an error. */
int accounts_bootstrap(struct meta *m, const char *user_cmd, FILE *notice);

#endif
