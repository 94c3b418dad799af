/* test_auth.c: base64, the Authorization header and scope parsers, ES256 tokens, password
 * hashes, role evaluation and the login rate limiter. */
#include "unit.h"
#include "auth/accounts.h"
#include "auth/header.h"
#include "auth/jwt.h"
#include "auth/ratelimit.h"
#include "common/util.h"
#include <crypt.h>
#include <sys/stat.h>

static void test_base64(void)
{
	unsigned char out[64];
	size_t n;
	CHECK(b64_decode("YWRtaW46c2VjcmV0", 16, 0, out, sizeof(out), &n) == 0 && n == 12 && !memcmp(out, "admin:secret", 12));
	CHECK(b64_decode("YQ==", 4, 0, out, sizeof(out), &n) == 0 && n == 1 && out[0] == 'a');
	CHECK(b64_decode("YQ", 2, 0, out, sizeof(out), &n) != 0);    /* standard base64 needs padding */
	CHECK(b64_decode("YQ", 2, 1, out, sizeof(out), &n) == 0);    /* base64url does not */
	CHECK(b64_decode("YR==", 4, 0, out, sizeof(out), &n) != 0);  /* non-canonical trailing bits */
	CHECK(b64_decode("Y-_=", 4, 0, out, sizeof(out), &n) != 0);  /* url characters in standard */
	CHECK(b64_decode("Y+/A", 4, 1, out, sizeof(out), &n) != 0);  /* standard characters in url */
	CHECK(b64_decode("YWJjZA", 6, 1, out, 3, &n) != 0);          /* does not fit */
	char enc[16];
	CHECK(b64url_encode((const unsigned char *)"\xfb\xff", 2, enc) == 3 && !strcmp(enc, "-_8"));
}

static void test_authorization_header(void)
{
	struct credentials c;
	const char *why;
	CHECK(auth_parse_authorization(NULL, &c, &why) == 0 && c.kind == CRED_NONE);
	CHECK(auth_parse_authorization("Basic YWRtaW46c2VjOnJldA==", &c, &why) == 0 && c.kind == CRED_BASIC);
	CHECK_STR(c.user, "admin");
	CHECK_STR(c.pass, "sec:ret"); /* the password may hold ':' */
	CHECK(auth_parse_authorization("basic   YWRtaW46", &c, &why) == 0 && !strcmp(c.user, "admin") && !*c.pass);
	CHECK(auth_parse_authorization("Bearer abc.def.ghi ", &c, &why) == 0 && c.kind == CRED_BEARER && c.token_len == 11);
	CHECK(auth_parse_authorization("Basic OnBhc3M=", &c, &why) == DD_E_UNAUTHORIZED); /* empty user */
	CHECK(auth_parse_authorization("Basic bm9jb2xvbg==", &c, &why) == DD_E_UNAUTHORIZED && strstr(why, "':'"));
	CHECK(auth_parse_authorization("Basic !!!", &c, &why) == DD_E_UNAUTHORIZED);
	CHECK(auth_parse_authorization("Digest x", &c, &why) == DD_E_UNAUTHORIZED && strstr(why, "scheme"));
	CHECK(auth_parse_authorization("Bearer ", &c, &why) == DD_E_UNAUTHORIZED);
}

static void test_scopes(void)
{
	struct scope_req s[DD_MAX_SCOPES];
	size_t n = 0;
	const char *why;
	CHECK(auth_parse_scopes("repository:team/app:pull,push registry:catalog:* repository:x:frobnicate", s,
				DD_MAX_SCOPES, &n, &why) == 0);
	CHECK(n == 2); /* unknown actions grant nothing, so the scope is dropped */
	CHECK(s[0].type == SCOPE_REPOSITORY && !strcmp(s[0].name, "team/app") && s[0].actions == (SCOPE_PULL | SCOPE_PUSH));
	CHECK(s[1].type == SCOPE_CATALOG);
	CHECK(auth_parse_scopes("repository:a:*", s, DD_MAX_SCOPES, &n, &why) == 0 && s[2].actions == SCOPE_ALL);
	CHECK(auth_parse_scopes("repository:Bad:pull", s, DD_MAX_SCOPES, &n, &why) == DD_E_USAGE);
	CHECK(auth_parse_scopes("nonsense", s, DD_MAX_SCOPES, &n, &why) == DD_E_USAGE);
	CHECK(auth_parse_scopes("other:thing:pull", s, DD_MAX_SCOPES, &n, &why) == 0 && n == 3); /* ignored */
	CHECK_STR(scope_actions_text(SCOPE_PULL | SCOPE_DELETE), "pull,delete");
	char v[64];
	const char *form = "grant_type=password&username=a%40b&scope=repository%3Ax%3Apull&password=p+q";
	CHECK(form_get(form, strlen(form), "username", v, sizeof(v)) == 0 && !strcmp(v, "a@b"));
	CHECK(form_get(form, strlen(form), "password", v, sizeof(v)) == 0 && !strcmp(v, "p q"));
	CHECK(form_get(form, strlen(form), "missing", v, sizeof(v)) == -1 && !*v);
	CHECK(form_get("a=%2", 4, "a", v, sizeof(v)) == -1); /* a cut escape */
	CHECK(form_get("a=%00", 5, "a", v, sizeof(v)) == -1); /* no NUL smuggled in */
}

static void test_jwt(void)
{
	struct jwt_key *k, *other;
	CHECK(jwt_key_generate(&k) == 0 && jwt_key_generate(&other) == 0);
	json_t *c = json_pack("{s:s, s:s, s:s, s:I, s:I}", "iss", "drydock", "aud", "svc", "sub", "alice", "exp",
			      (json_int_t)2000, "nbf", (json_int_t)900);
	char *t = jwt_sign(k, c);
	json_decref(c);
	CHECK(t != NULL);
	json_t *got;
	const char *why;
	CHECK(jwt_verify(k, t, strlen(t), 1000, "drydock", "svc", &got, &why) == 0);
	CHECK_STR(json_string_value(json_object_get(got, "sub")), "alice");
	json_decref(got);
	CHECK(jwt_verify(other, t, strlen(t), 1000, "drydock", "svc", &got, &why) == DD_E_UNAUTHORIZED &&
	      strstr(why, "signature"));
	CHECK(jwt_verify(k, t, strlen(t), 2000, "drydock", "svc", &got, &why) && strstr(why, "expired"));
	CHECK(jwt_verify(k, t, strlen(t), 800, "drydock", "svc", &got, &why) && strstr(why, "not valid yet"));
	CHECK(jwt_verify(k, t, strlen(t), 1000, "drydock", "other", &got, &why) && strstr(why, "another service"));
	CHECK(jwt_verify(k, t, strlen(t), 1000, "elsewhere", "svc", &got, &why) && strstr(why, "someone else"));
	/* "alg": "none" with the same claims */
	const char *dot = strchr(t, '.');
	const char *dot2 = strchr(dot + 1, '.');
	char none[4096];
	snprintf(none, sizeof(none), "eyJhbGciOiJub25lIn0%.*s.", (int)(dot2 - dot), dot);
	CHECK(jwt_verify(k, none, strlen(none), 1000, "drydock", "svc", &got, &why) && strstr(why, "ES256"));
	free(t);
	jwt_key_free(k);
	jwt_key_free(other);
	/* a key file is created once, then read back */
	char *dir = unit_tmpdir();
	char path[512];
	snprintf(path, sizeof(path), "%s/key.pem", dir);
	struct jwt_key *a, *b;
	CHECK(jwt_key_open(path, &a) == 0 && jwt_key_open(path, &b) == 0);
	CHECK_STR(jwt_key_id(a), jwt_key_id(b));
	struct stat st;
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	jwt_key_free(a);
	jwt_key_free(b);
	util_rmtree(dir);
	free(dir);
}

static void test_passwords(void)
{
	char h[160];
	CHECK(password_hash("s3cret", h, sizeof(h)) == 0 && !strncmp(h, "$y$", 3));
	CHECK(password_check(h, "s3cret"));
	CHECK(!password_check(h, "s3creT"));
	/* a bcrypt hash as `htpasswd -B` writes it ($2y$), made here through libcrypt */
	char salt[CRYPT_GENSALT_OUTPUT_SIZE], made[160];
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	const char *x = crypt_gensalt_rn("$2y$", 5, NULL, 0, salt, sizeof(salt)) ? crypt_rn("secret", salt, cd, sizeof(*cd))
										: NULL;
	snprintf(made, sizeof(made), "%s", x ? x : "");
	free(cd);
	CHECK(!strncmp(made, "$2y$05$", 7));
	CHECK(password_check(made, "secret") && !password_check(made, "Secret"));
	CHECK(!password_check("$apr1$x$y", "x")); /* Apache MD5 is refused, never guessed at */
	CHECK(!password_check("", ""));
	char user[65], hash[160];
	const char *why;
	CHECK(htpasswd_parse_line("alice:$2y$05$abc\n", 16, user, sizeof(user), hash, sizeof(hash), &why) == 0 &&
	      !strcmp(user, "alice") && !strcmp(hash, "$2y$05$abc"));
	CHECK(htpasswd_parse_line("# comment", 9, user, sizeof(user), hash, sizeof(hash), &why) == 1);
	CHECK(htpasswd_parse_line("bob:{SHA}xyz", 12, user, sizeof(user), hash, sizeof(hash), &why) == -1);
	CHECK(htpasswd_parse_line("nocolon", 7, user, sizeof(user), hash, sizeof(hash), &why) == -1);
}

static void test_roles(void)
{
	struct grant g[] = {{ROLE_READER, "team/*"}, {ROLE_OWNER, "ops/app"}, {ROLE_SECURITY_READER, "sec/*"}};
	struct account a = {.name = "u", .grants = g, .ngrants = 3};
	CHECK(account_allows(&a, "team/app", ACCESS_PULL, 0));
	CHECK(account_allows(&a, "team/deep/app", ACCESS_PULL, 0)); /* '*' spans '/' */
	CHECK(!account_allows(&a, "team/app", ACCESS_PUSH, 0));
	CHECK(!account_allows(&a, "teamx/app", ACCESS_PULL, 0));
	CHECK(account_allows(&a, "ops/app", ACCESS_DELETE, 0));
	CHECK(!account_allows(&a, "ops/app2", ACCESS_PULL, 0));
	CHECK(account_allows(&a, "sec/x", ACCESS_SECURITY_READ, 0));
	CHECK(!account_allows(&a, "sec/x", ACCESS_PULL, 0)); /* security readers never pull */
	CHECK(!account_allows(&a, NULL, ACCESS_METRICS, 0));  /* registry-wide needs '*' */
	CHECK(!account_allows(&a, NULL, ACCESS_AUDIT, 0));
	CHECK(account_allows_ns(&a, "team", ACCESS_SECURITY_READ, 0));
	CHECK(!account_allows_ns(&a, "team", ACCESS_SETTINGS, 0));
	CHECK(!account_allows_ns(&a, "ops", ACCESS_SETTINGS, 0)); /* owner of one repository, not of ops/ */
	struct grant adm = {ROLE_ADMIN, "*"};
	struct account root = {.name = "root", .grants = &adm, .ngrants = 1};
	CHECK(account_allows(&root, NULL, ACCESS_AUDIT, 0) && account_allows_ns(&root, "x", ACCESS_SETTINGS, 0));
	struct account robot = {.name = "robot$ci", .robot = 1, .grants = g, .ngrants = 1, .expires = 100};
	CHECK(account_allows(&robot, "team/app", ACCESS_PULL, 99));
	CHECK(!account_allows(&robot, "team/app", ACCESS_PULL, 100)); /* expired */
	const char *why;
	CHECK(account_name_check("robot$ci", 1, &why) == 0);
	CHECK(account_name_check("robot$ci", 0, &why) == -1);
	CHECK(account_name_check("ci", 1, &why) == -1);
	CHECK(account_name_check("a:b", 0, &why) == -1); /* ':' would break Basic */
	CHECK(account_name_check("alice@example.com", 0, &why) == 0);
	CHECK(grant_pattern_check("team/*", &why) == 0 && grant_pattern_check("Team", &why) == -1);
}

static void test_ratelimit(void)
{
	struct ratelimit *rl = ratelimit_new(NULL);
	for (int i = 0; i < LOGIN_FREE_FAILURES - 1; i++)
		ratelimit_failed(rl, "alice", "10.0.0.1", 1000);
	CHECK(ratelimit_check(rl, "alice", "10.0.0.1", 1000, NULL) == 0);
	ratelimit_failed(rl, "alice", "10.0.0.1", 1000);
	CHECK(ratelimit_check(rl, "alice", "10.0.0.2", 1000, NULL) == 30); /* the account is locked */
	CHECK(ratelimit_check(rl, "bob", "10.0.0.1", 1000, NULL) == 0);    /* the address is not, yet */
	CHECK(ratelimit_check(rl, "alice", "10.0.0.2", 1030, NULL) == 0);
	ratelimit_failed(rl, "alice", "10.0.0.1", 1030);
	CHECK(ratelimit_check(rl, "alice", NULL, 1030, NULL) == 60); /* doubled */
	ratelimit_succeeded(rl, "alice", 1);
	CHECK(ratelimit_check(rl, "alice", NULL, 1030, NULL) == 0);
	for (int i = 0; i < ADDR_FREE_FAILURES; i++) /* spraying many accounts from one address */
		ratelimit_failed(rl, NULL, "10.9.9.9", 2000);
	CHECK(ratelimit_check(rl, "carol", "10.9.9.9", 2000, NULL) > 0);
	ratelimit_free(rl);
}

/* Regression: failures for other names (that need not exist) evicted the slot counting a
 * victim's failures, so a guesser who cycled colliding names was never locked out. */
static void test_ratelimit_no_eviction(void)
{
	struct ratelimit *rl = ratelimit_new(NULL);
	char name[32];
	for (int round = 0; round < 8; round++) {
		ratelimit_failed(rl, "victim", NULL, 1000 + round);
		for (int i = 0; i < 5000; i++) { /* names whose slots may collide with the victim's */
			snprintf(name, sizeof(name), "junk-%d-%d", round, i);
			ratelimit_failed(rl, name, NULL, 1000 + round);
		}
	}
	CHECK(ratelimit_check(rl, "victim", NULL, 1010, NULL) > 0);
	/* a full table: an account it cannot track shares a slot that locks, it is not let through */
	struct ratelimit *full = ratelimit_new(NULL);
	for (int i = 0; i < 200000; i++) {
		snprintf(name, sizeof(name), "fill-%d", i);
		ratelimit_failed(full, name, NULL, 5000);
	}
	for (int i = 0; i < 64; i++)
		ratelimit_failed(full, "late-victim", NULL, 5001);
	CHECK(ratelimit_check(full, "late-victim", NULL, 5001, NULL) > 0);
	ratelimit_free(full);
	ratelimit_free(rl);
}

void suite_auth(void)
{
	RUN(test_base64);
	RUN(test_authorization_header);
	RUN(test_scopes);
	RUN(test_jwt);
	RUN(test_passwords);
	RUN(test_roles);
	RUN(test_ratelimit);
	RUN(test_ratelimit_no_eviction);
}
