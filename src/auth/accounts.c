/* accounts.c: the account store, password hashing and role evaluation (see accounts.h). */
#include "common/dd.h"
#include "accounts.h"
#include "common/arena.h"
#include "common/jsonmem.h"
#include "common/limits.h"
#include "store/meta_admin.h"
#include "common/util.h"
#include <crypt.h>
#include <fnmatch.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

static const char *const role_names[ROLE_COUNT] = {"reader", "writer", "owner", "admin", "security-reader"};

const char *role_name(enum role r) { return (unsigned)r < ROLE_COUNT ? role_names[r] : "?"; }

int role_parse(const char *s, enum role *out)
{
	for (int i = 0; i < ROLE_COUNT; i++)
		if (!strcmp(s, role_names[i])) {
			*out = (enum role)i;
			return 0;
		}
	return -1;
}

int account_name_check(const char *name, int robot, const char **why)
{
	size_t plen = strlen(ROBOT_PREFIX);
	if (robot != !strncmp(name, ROBOT_PREFIX, plen)) {
		*why = robot ? "robot account names start with 'robot$'" : "only robot account names start with 'robot$'";
		return -1;
	}
	const char *s = robot ? name + plen : name;
	size_t n = strlen(s);
	if (!n || strlen(name) > DD_MAX_ACCOUNT_NAME) {
		*why = "account names are 1 to 64 characters";
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || !strchr("._@-", c))) {
			*why = "account names are letters, digits and . _ @ - (starting with a letter or digit)";
			return -1;
		}
	}
	return 0;
}

int grant_pattern_check(const char *p, const char **why)
{
	size_t n = strlen(p);
	if (!n || n > DD_MAX_NAME_BYTES) {
		*why = "a repository pattern is 1 to 255 characters";
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("._-/*?[]!", c))) {
			*why = "a repository pattern is a lower-case repository name with * ? [...] globs";
			return -1;
		}
	}
	return 0;
}

/* ---- the store ---- */

int account_parse(struct arena *a, const char *name, const char *json, struct account *out)
{
	memset(out, 0, sizeof(*out));
	json_t *j = json_loads(json, JSON_REJECT_DUPLICATES, NULL);
	json_t *roles = json_object_get(j, "roles");
	const char *hash = json_string_value(json_object_get(j, "hash"));
	const char *kind = json_string_value(json_object_get(j, "kind"));
	if (!json_is_object(j) || !hash || !kind || !json_is_array(roles) || json_array_size(roles) > DD_MAX_GRANTS) {
		json_decref(j);
		return DD_E_IO;
	}
	out->name = arena_strdup(a, name);
	out->robot = !strcmp(kind, "robot");
	out->hash = arena_strdup(a, hash);
	out->created = json_integer_value(json_object_get(j, "created"));
	out->expires = json_integer_value(json_object_get(j, "expires"));
	out->gen = json_integer_value(json_object_get(j, "gen"));
	out->grants = arena_alloc(a, sizeof(struct grant) * (json_array_size(roles) + 1));
	size_t i;
	json_t *g;
	json_array_foreach(roles, i, g)
	{
		const char *rn = json_string_value(json_object_get(g, "role"));
		const char *pat = json_string_value(json_object_get(g, "scope"));
		enum role r;
		if (!rn || !pat || role_parse(rn, &r))
			continue;
		out->grants[out->ngrants].role = r;
		out->grants[out->ngrants++].pattern = arena_strdup(a, pat);
	}
	json_decref(j);
	return 0;
}

static char *key_of(struct arena *a, const char *name) { return arena_printf(a, "account/%s", name); }

int accounts_get(struct meta *m, struct arena *a, const char *name, struct account *out)
{
	const char *v;
	int rc = m->admin->setting_get(m, a, key_of(a, name), &v);
	if (rc)
		return rc;
	return account_parse(a, name, v, out);
}

/* The account's stored form: malloc'd JSON text. */
static char *account_text(const struct account *acc)
{
	json_t *roles = json_array();
	for (size_t i = 0; i < acc->ngrants; i++)
		json_array_append_new(roles, json_pack("{s:s, s:s}", "role", role_name(acc->grants[i].role), "scope",
						       acc->grants[i].pattern));
	json_t *j = json_pack("{s:s, s:s, s:o, s:I, s:I, s:I}", "kind", acc->robot ? "robot" : "user", "hash",
			      acc->hash, "roles", roles, "created", (json_int_t)acc->created, "expires",
			      (json_int_t)acc->expires, "gen", (json_int_t)acc->gen);
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	return text;
}

int accounts_put_new(struct meta *m, const struct account *acc, int *added)
{
	char *text = account_text(acc);
	if (!text)
		return DD_E_NOMEM;
	struct arena a = {0};
	int rc = m->admin->setting_add(m, key_of(&a, acc->name), text, added);
	arena_free(&a);
	free(text);
	return rc;
}

int accounts_put(struct meta *m, const struct account *acc)
{
	char *text = account_text(acc);
	if (!text)
		return DD_E_NOMEM;
	struct arena a = {0};
	int rc = m->admin->setting_put(m, key_of(&a, acc->name), text);
	arena_free(&a);
	free(text);
	return rc;
}

int accounts_delete(struct meta *m, const char *name)
{
	struct arena a = {0};
	const char *v;
	int rc = m->admin->setting_get(m, &a, key_of(&a, name), &v);
	if (!rc)
		rc = m->admin->setting_delete(m, key_of(&a, name));
	arena_free(&a);
	return rc;
}

int accounts_list(struct meta *m, struct arena *a, struct account **out, size_t *n)
{
	const char **keys, **values;
	size_t k;
	*out = NULL;
	*n = 0;
	int rc = m->admin->settings_list(m, a, "account/", &keys, &values, &k);
	if (rc)
		return rc;
	*out = arena_alloc(a, sizeof(struct account) * (k + 1));
	for (size_t i = 0; i < k && *n < DD_MAX_ACCOUNTS; i++)
		if (!account_parse(a, keys[i] + strlen("account/"), values[i], &(*out)[*n]))
			(*n)++;
	return 0;
}

/* ---- passwords ---- */

int password_hash(const char *pass, char *out, size_t cap)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	if (!crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof(salt)))
		return DD_E_INTERNAL;
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	if (!cd)
		return DD_E_NOMEM;
	const char *h = crypt_rn(pass, salt, cd, sizeof(*cd));
	int rc = h && *h != '*' && strlen(h) < cap ? 0 : DD_E_INTERNAL;
	if (!rc)
		snprintf(out, cap, "%s", h);
	OPENSSL_cleanse(cd, sizeof(*cd));
	free(cd);
	return rc;
}

int password_check(const char *hash, const char *pass)
{
	if (!password_hash_supported(hash))
		return 0;
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	if (!cd)
		return 0;
	const char *h = crypt_rn(pass, hash, cd, sizeof(*cd));
	size_t n = strlen(hash);
	int ok = h && *h != '*' && strlen(h) == n && CRYPTO_memcmp(h, hash, n) == 0;
	OPENSSL_cleanse(cd, sizeof(*cd));
	free(cd);
	return ok;
}

int password_hash_supported(const char *hash)
{
	static const char *const prefixes[] = {"$y$", "$2y$", "$2b$", "$2a$", "$6$", "$7$", "$gy$"};
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(*prefixes); i++)
		if (!strncmp(hash, prefixes[i], strlen(prefixes[i])))
			return 1;
	return 0;
}

void password_generate(char *out, size_t cap)
{
	static const char alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
	unsigned char r[24];
	if (RAND_bytes(r, sizeof(r)) != 1)
		abort(); /* no randomness: never hand out a guessable credential */
	size_t n = cap - 1 < sizeof(r) ? cap - 1 : sizeof(r);
	for (size_t i = 0; i < n; i++)
		out[i] = alphabet[r[i] % (sizeof(alphabet) - 1)];
	out[n] = 0;
}

void *account_json(const struct account *acc)
{
	char exp[32] = "";
	if (acc->expires) {
		time_t t = (time_t)acc->expires;
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(exp, sizeof(exp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	}
	json_t *roles = json_array();
	for (size_t k = 0; k < acc->ngrants; k++)
		json_array_append_new(roles, json_pack("{s:s, s:s}", "role", role_name(acc->grants[k].role), "scope",
						       acc->grants[k].pattern));
	return json_pack("{s:s, s:s, s:o, s:I, s:o}", "name", acc->name, "kind", acc->robot ? "robot" : "user", "expires",
			 acc->expires ? json_string(exp) : json_null(), "created", (json_int_t)acc->created, "roles", roles);
}

/* ---- roles ---- */

static int role_allows(enum role r, enum access_action action)
{
	switch (action) {
	case ACCESS_BASE:
	case ACCESS_CATALOG:
		return 1;
	case ACCESS_PULL:
		return r == ROLE_READER || r == ROLE_WRITER || r == ROLE_OWNER || r == ROLE_ADMIN;
	case ACCESS_PUSH:
		return r == ROLE_WRITER || r == ROLE_OWNER || r == ROLE_ADMIN;
	case ACCESS_DELETE:
	case ACCESS_SETTINGS:
		return r == ROLE_OWNER || r == ROLE_ADMIN;
	case ACCESS_SECURITY_READ:
		return 1;
	case ACCESS_METRICS:
		return r == ROLE_SECURITY_READER || r == ROLE_ADMIN;
	case ACCESS_AUDIT:
		return r == ROLE_ADMIN;
	}
	return 0;
}

static int usable(const struct account *acc, int64_t now) { return !acc->expires || acc->expires > now; }

int account_allows(const struct account *acc, const char *repo, enum access_action action, int64_t now)
{
	if (!usable(acc, now))
		return 0;
	for (size_t i = 0; i < acc->ngrants; i++) {
		const struct grant *g = &acc->grants[i];
		if (!role_allows(g->role, action))
			continue;
		if (!strcmp(g->pattern, "*") || (repo && !fnmatch(g->pattern, repo, 0)))
			return 1;
	}
	return 0;
}

int account_allows_ns(const struct account *acc, const char *ns, enum access_action action, int64_t now)
{
	if (!usable(acc, now))
		return 0;
	char probe[DD_MAX_NAME_BYTES + 2];
	snprintf(probe, sizeof(probe), "%s/", ns);
	for (size_t i = 0; i < acc->ngrants; i++) {
		const struct grant *g = &acc->grants[i];
		size_t pl = strlen(g->pattern);
		if (!role_allows(g->role, action))
			continue;
		if (!strcmp(g->pattern, "*") ||
		    (pl && g->pattern[pl - 1] == '*' && !fnmatch(g->pattern, probe, 0)))
			return 1;
	}
	return 0;
}

int accounts_bootstrap(struct meta *m, const char *user_cmd, FILE *notice)
{
	struct arena a = {0};
	struct account *list;
	size_t n;
	int rc = accounts_list(m, &a, &list, &n);
	if (rc || n) {
		arena_free(&a);
		return rc;
	}
	const char *user = getenv("DRYDOCK_ADMIN_USER"), *given = getenv("DRYDOCK_ADMIN_PASSWORD"), *why;
	user = user && *user ? user : "admin";
	char pass[DD_MAX_PASSWORD_BYTES + 1], hash[160];
	if (account_name_check(user, 0, &why)) {
		fprintf(notice, "drydock: DRYDOCK_ADMIN_USER '%s': %s\n", user, why);
		arena_free(&a);
		return DD_E_CONFIG;
	}
	if (given && *given) {
		if (strlen(given) > DD_MAX_PASSWORD_BYTES) {
			fprintf(notice, "drydock: DRYDOCK_ADMIN_PASSWORD is longer than 256 bytes\n");
			arena_free(&a);
			return DD_E_CONFIG;
		}
		snprintf(pass, sizeof(pass), "%s", given);
	} else
		password_generate(pass, 25);
	rc = password_hash(pass, hash, sizeof(hash));
	struct grant g = {ROLE_ADMIN, "*"};
	struct account acc = {.name = user, .hash = hash, .created = util_now(), .grants = &g, .ngrants = 1};
	int added = 1;
	if (!rc)
		rc = accounts_put_new(m, &acc, &added);
	if (!rc && !added) /* another node starting at the same time made it */
		;
	else if (!rc && !(given && *given))
		fprintf(notice,
			"drydock: first start: created the administrator account '%s' with password %s\n"
			"drydock: it is shown only this once; change it with `%s passwd %s`\n",
			user, pass, user_cmd, user);
	else if (!rc)
		fprintf(notice, "drydock: first start: created the administrator account '%s' (password from "
				"DRYDOCK_ADMIN_PASSWORD)\n", user);
	fflush(notice);
	OPENSSL_cleanse(pass, sizeof(pass));
	arena_free(&a);
	return rc;
}

int htpasswd_parse_line(const char *line, size_t n, char *user, size_t ucap, char *hash, size_t hcap,
			const char **why)
{
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' '))
		n--;
	size_t i = 0;
	while (i < n && line[i] == ' ')
		i++;
	if (i == n || line[i] == '#')
		return 1;
	if (n > DD_MAX_HTPASSWD_LINE) {
		*why = "line longer than 1 KiB";
		return -1;
	}
	const char *colon = memchr(line + i, ':', n - i);
	if (!colon) {
		*why = "no ':' between user and hash";
		return -1;
	}
	size_t ul = (size_t)(colon - line) - i, hl = n - (size_t)(colon + 1 - line);
	if (!ul || ul >= ucap || !hl || hl >= hcap || memchr(line, 0, n)) {
		*why = "user or hash empty or too long";
		return -1;
	}
	memcpy(user, line + i, ul);
	user[ul] = 0;
	memcpy(hash, colon + 1, hl);
	hash[hl] = 0;
	if (account_name_check(user, 0, why))
		return -1;
	if (strncmp(hash, "$2y$", 4) && strncmp(hash, "$2b$", 4) && strncmp(hash, "$2a$", 4)) {
		*why = "only bcrypt entries ($2y$, made by `htpasswd -B`) can be imported";
		return -1;
	}
	return 0;
}
