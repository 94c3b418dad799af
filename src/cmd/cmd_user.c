/* cmd_user.c: `drydock user`: accounts, robot accounts and role grants, kept in the data
 * directory's metadata store (a running server sees changes at once). */
#include "common/dd.h"
#include "cmds.h"
#include "auth/accounts.h"
#include "auth/audit.h"
#include "common/arena.h"
#include "common/config.h"
#include "common/util.h"
#include "store/meta.h"
#include <jansson.h>
#include <openssl/crypto.h>
#include <termios.h>

static const char usage_text[] =
	"usage: drydock user [--data DIR | --config FILE] COMMAND\n"
	"  add NAME [--role ROLE[:PATTERN]]... [--password-stdin | --generate]\n"
	"      a person; the password is asked twice at the terminal (no echo), read from stdin\n"
	"      when piped or with --password-stdin, or generated and printed once with --generate\n"
	"  add --robot NAME --role ROLE:PATTERN... [--expires 90d|12h|30m|60s|never]\n"
	"      a robot account 'robot$NAME' for CI; its secret is generated and printed once\n"
	"  del NAME\n"
	"  list [--json]\n"
	"  passwd NAME [--password-stdin | --generate]   as add (a robot gets a new generated secret)\n"
	"  role NAME grant|revoke ROLE[:PATTERN]\n"
	"  import HTPASSWD [--role ROLE[:PATTERN]]...   bcrypt entries, kept as they are\n"
	"roles: reader, writer, owner, admin, security-reader; PATTERN: a repository name or glob\n"
	"('team/*'), '*' (the default) for the whole registry. Run as root on a data directory another\n"
	"account owns (the service's), it runs as that account; the audit log still names root.\n";
const char *const cmd_user_usage = usage_text;

static int usage_err(const char *msg)
{
	if (msg)
		fprintf(stderr, "drydock user: %s\n", msg);
	fputs(usage_text, stderr);
	return 2;
}

static int parse_grant(struct arena *a, const char *s, int robot, struct grant *g)
{
	const char *colon = strchr(s, ':'), *why;
	char role[32];
	size_t rl = colon ? (size_t)(colon - s) : strlen(s);
	if (rl >= sizeof(role)) {
		fprintf(stderr, "drydock user: unknown role in '%s'\n", s);
		return -1;
	}
	memcpy(role, s, rl);
	role[rl] = 0;
	if (role_parse(role, &g->role)) {
		fprintf(stderr, "drydock user: unknown role '%s' (reader, writer, owner, admin, security-reader)\n", role);
		return -1;
	}
	g->pattern = colon ? arena_strdup(a, colon + 1) : "*";
	if (grant_pattern_check(g->pattern, &why)) {
		fprintf(stderr, "drydock user: '%s': %s\n", g->pattern, why);
		return -1;
	}
	if (g->role == ROLE_ADMIN && strcmp(g->pattern, "*")) {
		fprintf(stderr, "drydock user: admin is a registry-wide role (no pattern)\n");
		return -1;
	}
	if (robot && (g->role == ROLE_ADMIN || !colon)) {
		fprintf(stderr, "drydock user: a robot is scoped to repositories: give ROLE:PATTERN, and not admin\n");
		return -1;
	}
	return 0;
}

/* How a person's password is given: a line on stdin (--password-stdin, or stdin piped),
 * typed twice at the terminal without echo, or generated (--generate). Robots' secrets are
 * always generated. */
enum pw_source { PW_ASK, PW_STDIN, PW_GENERATE };

static int read_line(FILE *f, char *out, size_t cap, const char *what)
{
	if (!fgets(out, (int)cap, f)) {
		fprintf(stderr, "drydock user: no password %s\n", what);
		return -1;
	}
	size_t n = strcspn(out, "\r\n");
	if (out[n] == 0 && !feof(f)) {
		fprintf(stderr, "drydock user: password longer than 256 bytes\n");
		return -1;
	}
	out[n] = 0;
	if (!n) {
		fprintf(stderr, "drydock user: empty password\n");
		return -1;
	}
	return 0;
}

/* Asks at the terminal on stdin, twice, echo off; restores the terminal whatever happens. */
static int ask_password(const char *name, char *out, size_t cap)
{
	struct termios old, quiet;
	if (tcgetattr(0, &old))
		return read_line(stdin, out, cap, "on stdin");
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	quiet.c_lflag |= ECHONL;
	char again[DD_MAX_PASSWORD_BYTES + 2];
	int rc = -1;
	/* echo off before the prompt: what is typed after it never shows */
	if (tcsetattr(0, TCSANOW, &quiet))
		return read_line(stdin, out, cap, "on stdin");
	fprintf(stderr, "new password for '%s': ", name);
	fflush(stderr);
	if (!read_line(stdin, out, cap, "typed")) {
		fprintf(stderr, "again: ");
		fflush(stderr);
		if (!read_line(stdin, again, sizeof(again), "typed")) {
			if (strcmp(out, again))
				fprintf(stderr, "drydock user: the two passwords differ; nothing changed\n");
			else
				rc = 0;
		}
	}
	tcsetattr(0, TCSANOW, &old);
	OPENSSL_cleanse(again, sizeof(again));
	return rc;
}

static int set_password(struct account *acc, enum pw_source src, char *hash, size_t hcap)
{
	char pass[DD_MAX_PASSWORD_BYTES + 2];
	int generate = acc->robot || src == PW_GENERATE;
	if (generate)
		password_generate(pass, 25);
	else if (src == PW_STDIN || !isatty(0)) {
		if (read_line(stdin, pass, sizeof(pass), "on stdin"))
			return -1;
	} else if (ask_password(acc->name, pass, sizeof(pass)))
		return -1;
	int rc = password_hash(pass, hash, hcap);
	if (!rc && generate)
		printf("%s %s: %s\n", acc->robot ? "secret for" : "password for", acc->name, pass);
	OPENSSL_cleanse(pass, sizeof(pass));
	if (rc)
		fprintf(stderr, "drydock user: cannot hash the password\n");
	acc->hash = hash;
	return rc ? -1 : 0;
}

static const char *grants_text(struct arena *a, const struct account *acc)
{
	const char *s = "";
	for (size_t i = 0; i < acc->ngrants; i++)
		s = arena_printf(a, "%s%s%s:%s", s, i ? "," : "", role_name(acc->grants[i].role), acc->grants[i].pattern);
	return *s ? s : "-";
}

static int cmd_add(struct meta *m, struct arena *a, int argc, char **argv)
{
	int robot = 0;
	enum pw_source src = PW_ASK;
	const char *name = NULL, *expires = NULL, *why;
	struct grant *grants = arena_alloc(a, sizeof(struct grant) * (size_t)(argc + 1));
	size_t ng = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--robot"))
			robot = 1;
		else if (!strcmp(argv[i], "--password-stdin"))
			src = PW_STDIN;
		else if (!strcmp(argv[i], "--generate"))
			src = PW_GENERATE;
		else if (!strcmp(argv[i], "--role") && i + 1 < argc) {
			if (ng >= DD_MAX_GRANTS)
				return usage_err("too many roles");
			grants[ng].role = ROLE_READER;
			if (parse_grant(a, argv[++i], 0, &grants[ng]))
				return 1;
			ng++;
		} else if (!strcmp(argv[i], "--expires") && i + 1 < argc)
			expires = argv[++i];
		else if (argv[i][0] != '-' && !name)
			name = argv[i];
		else
			return usage_err(arena_printf(a, "unexpected argument '%s'", argv[i]));
	}
	if (!name)
		return usage_err("add needs a NAME");
	if (robot && strncmp(name, ROBOT_PREFIX, strlen(ROBOT_PREFIX)))
		name = arena_printf(a, ROBOT_PREFIX "%s", name);
	if (account_name_check(name, robot, &why)) {
		fprintf(stderr, "drydock user: '%s': %s\n", name, why);
		return 1;
	}
	for (size_t i = 0; robot && i < ng; i++)
		if (grants[i].role == ROLE_ADMIN || !strcmp(grants[i].pattern, "*") ) {
			fprintf(stderr, "drydock user: a robot is scoped to repositories: give ROLE:PATTERN, and not admin\n");
			return 1;
		}
	if (robot && !ng) {
		fprintf(stderr, "drydock user: a robot needs at least one --role ROLE:PATTERN\n");
		return 1;
	}
	struct account old;
	if (!accounts_get(m, a, name, &old)) {
		fprintf(stderr, "drydock user: account '%s' exists (use passwd or role)\n", name);
		return 1;
	}
	int64_t now = util_now(), exp = 0;
	if (expires && strcmp(expires, "never")) {
		int64_t span;
		if (util_parse_duration(expires, 1, 1, 36500L * 86400, &span)) {
			fprintf(stderr, "drydock user: --expires takes a time from now (90d, 12h, 30m, 60s; seconds when "
					"no unit) or 'never'\n");
			return 1;
		}
		exp = now + span;
	} else if (!expires && robot)
		exp = now + 90 * 86400;
	char hash[160];
	struct account acc = {.name = name, .robot = robot, .created = now, .expires = exp, .grants = grants,
			      .ngrants = ng};
	if (set_password(&acc, src, hash, sizeof(hash)))
		return 1;
	int rc = accounts_put(m, &acc);
	if (rc) {
		fprintf(stderr, "drydock user: cannot store '%s': %s\n", name, dd_err_message(rc));
		return 1;
	}
	audit_record_as(m, cli_actor(), robot ? "robot-add" : "user-add", name,
			arena_printf(a, "{\"roles\":\"%s\",\"expires\":%lld}", grants_text(a, &acc), (long long)exp));
	fprintf(stderr, "added %s '%s' (%s)%s\n", robot ? "robot" : "user", name, grants_text(a, &acc),
		exp ? arena_printf(a, ", expires in %lld s", (long long)(exp - now)) : "");
	return 0;
}

static int load(struct meta *m, struct arena *a, const char *name, struct account *acc)
{
	int rc = accounts_get(m, a, name, acc);
	if (rc)
		fprintf(stderr, "drydock user: no account '%s'\n", name);
	return rc ? 1 : 0;
}

static int cmd_passwd(struct meta *m, struct arena *a, int argc, char **argv)
{
	enum pw_source src = PW_ASK;
	if (argc == 3 && !strcmp(argv[2], "--password-stdin"))
		src = PW_STDIN;
	else if (argc == 3 && !strcmp(argv[2], "--generate"))
		src = PW_GENERATE;
	else if (argc != 2)
		return usage_err("passwd NAME [--password-stdin | --generate]");
	struct account acc;
	char hash[160];
	if (load(m, a, argv[1], &acc) || set_password(&acc, src, hash, sizeof(hash)))
		return 1;
	acc.gen++;
	int rc = accounts_put(m, &acc);
	if (rc) {
		fprintf(stderr, "drydock user: cannot store '%s': %s\n", acc.name, dd_err_message(rc));
		return 1;
	}
	audit_record_as(m, cli_actor(), "passwd", acc.name, NULL);
	fprintf(stderr, "changed the password of '%s'; its refresh tokens no longer work\n", acc.name);
	return 0;
}

static int cmd_role(struct meta *m, struct arena *a, int argc, char **argv)
{
	struct account acc;
	if (argc == 2) {
		if (load(m, a, argv[1], &acc))
			return 1;
		printf("%s\n", grants_text(a, &acc));
		return 0;
	}
	if (argc != 4 || (strcmp(argv[2], "grant") && strcmp(argv[2], "revoke")))
		return usage_err("role NAME grant|revoke ROLE[:PATTERN]");
	if (load(m, a, argv[1], &acc))
		return 1;
	struct grant g;
	if (parse_grant(a, argv[3], acc.robot, &g))
		return 1;
	size_t at = acc.ngrants;
	for (size_t i = 0; i < acc.ngrants; i++)
		if (acc.grants[i].role == g.role && !strcmp(acc.grants[i].pattern, g.pattern))
			at = i;
	if (!strcmp(argv[2], "grant")) {
		if (at < acc.ngrants) {
			fprintf(stderr, "'%s' already has %s on %s\n", acc.name, role_name(g.role), g.pattern);
			return 0;
		}
		if (acc.ngrants >= DD_MAX_GRANTS) {
			fprintf(stderr, "drydock user: '%s' has %d grants already\n", acc.name, DD_MAX_GRANTS);
			return 1;
		}
		struct grant *ng = arena_alloc(a, sizeof(*ng) * (acc.ngrants + 1));
		memcpy(ng, acc.grants, sizeof(*ng) * acc.ngrants);
		ng[acc.ngrants++] = g;
		acc.grants = ng;
	} else {
		if (at == acc.ngrants) {
			fprintf(stderr, "drydock user: '%s' has no %s on %s\n", acc.name, role_name(g.role), g.pattern);
			return 1;
		}
		memmove(&acc.grants[at], &acc.grants[at + 1], sizeof(*acc.grants) * (acc.ngrants - at - 1));
		acc.ngrants--;
	}
	int rc = accounts_put(m, &acc);
	if (rc) {
		fprintf(stderr, "drydock user: cannot store '%s': %s\n", acc.name, dd_err_message(rc));
		return 1;
	}
	audit_record_as(m, cli_actor(), !strcmp(argv[2], "grant") ? "role-grant" : "role-revoke", acc.name,
			arena_printf(a, "{\"role\":\"%s\",\"scope\":\"%s\"}", role_name(g.role), g.pattern));
	fprintf(stderr, "%s: %s\n", acc.name, grants_text(a, &acc));
	return 0;
}

static int cmd_del(struct meta *m, struct arena *a, int argc, char **argv)
{
	if (argc != 2)
		return usage_err("del NAME");
	int rc = accounts_delete(m, argv[1]);
	if (rc) {
		fprintf(stderr, "drydock user: no account '%s'\n", argv[1]);
		return 1;
	}
	audit_record_as(m, cli_actor(), "user-del", argv[1], NULL);
	(void)a;
	fprintf(stderr, "removed '%s'\n", argv[1]);
	return 0;
}

static int cmd_list(struct meta *m, struct arena *a, int argc, char **argv)
{
	int as_json = argc == 2 && !strcmp(argv[1], "--json");
	if (argc > 1 && !as_json)
		return usage_err("list [--json]");
	struct account *v;
	size_t n;
	if (accounts_list(m, a, &v, &n)) {
		fprintf(stderr, "drydock user: cannot read the accounts\n");
		return 1;
	}
	json_t *arr = json_array();
	if (!as_json)
		printf("%-32s %-6s %-20s %s\n", "NAME", "KIND", "EXPIRES", "ROLES");
	for (size_t i = 0; i < n; i++) {
		char exp[32] = "never";
		if (v[i].expires) {
			time_t t = (time_t)v[i].expires;
			struct tm tm;
			gmtime_r(&t, &tm);
			strftime(exp, sizeof(exp), "%Y-%m-%dT%H:%M:%SZ", &tm);
		}
		if (as_json)
			json_array_append_new(arr, account_json(&v[i]));
		else
			printf("%-32s %-6s %-20s %s\n", v[i].name, v[i].robot ? "robot" : "user", exp, grants_text(a, &v[i]));
	}
	if (as_json) {
		char *t = json_dumps(arr, JSON_INDENT(2));
		printf("%s\n", t ? t : "[]");
		free(t);
	}
	json_decref(arr);
	return 0;
}

static int cmd_import(struct meta *m, struct arena *a, int argc, char **argv)
{
	if (argc < 2)
		return usage_err("import HTPASSWD [--role ROLE[:PATTERN]]...");
	struct grant *grants = arena_alloc(a, sizeof(struct grant) * (size_t)(argc + 1));
	size_t ng = 0;
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--role") || i + 1 >= argc)
			return usage_err(arena_printf(a, "unexpected argument '%s'", argv[i]));
		if (parse_grant(a, argv[++i], 0, &grants[ng]))
			return 1;
		ng++;
	}
	FILE *f = fopen(argv[1], "re");
	if (!f) {
		fprintf(stderr, "drydock user: cannot open '%s': %s\n", argv[1], strerror(errno));
		return 1;
	}
	char line[DD_MAX_HTPASSWD_LINE + 2];
	int lineno = 0, added = 0, bad = 0;
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		char user[DD_MAX_ACCOUNT_NAME + 1], hash[160];
		const char *why;
		size_t n = strlen(line);
		if (n == sizeof(line) - 1 && line[n - 1] != '\n') {
			fprintf(stderr, "%s:%d: line longer than 1 KiB\n", argv[1], lineno);
			bad = 1;
			int c;
			while ((c = fgetc(f)) != EOF && c != '\n')
				;
			continue;
		}
		int rc = htpasswd_parse_line(line, n, user, sizeof(user), hash, sizeof(hash), &why);
		if (rc == 1)
			continue;
		if (rc) {
			fprintf(stderr, "%s:%d: %s\n", argv[1], lineno, why);
			bad = 1;
			continue;
		}
		struct account acc;
		if (!accounts_get(m, a, user, &acc)) {
			acc.hash = arena_strdup(a, hash);
			acc.gen++;
		} else
			acc = (struct account){.name = arena_strdup(a, user), .hash = arena_strdup(a, hash),
					       .created = util_now(), .grants = grants, .ngrants = ng};
		if (accounts_put(m, &acc)) {
			fprintf(stderr, "%s:%d: cannot store '%s'\n", argv[1], lineno, user);
			bad = 1;
			continue;
		}
		audit_record_as(m, cli_actor(), "user-import", user, NULL);
		added++;
	}
	fclose(f);
	fprintf(stderr, "imported %d account%s from '%s'%s\n", added, added == 1 ? "" : "s", argv[1],
		bad ? " (some lines were refused, above)" : "");
	return bad ? 1 : 0;
}

int cmd_user(int argc, char **argv)
{
	struct config c;
	config_defaults(&c);
	const char *why;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (i + 1 >= argc)
			return usage_err(NULL);
		if (!strcmp(argv[i], "--config")) {
			if (config_load(&c, argv[++i], &why)) {
				fprintf(stderr, "drydock user: %s\n", why);
				return 2;
			}
		} else if (!strcmp(argv[i], "--data"))
			snprintf(c.data_dir, sizeof(c.data_dir), "%s", argv[++i]);
		else
			return usage_err(NULL);
	}
	if (i >= argc)
		return usage_err(NULL);
	if (cli_become_owner(c.data_dir, "user"))
		return 1;
	char path[PATH_MAX];
	struct meta *m = NULL;
	if (util_mkdirs(c.data_dir))
		return 1;
	snprintf(path, sizeof(path), "%s/meta.db", c.data_dir);
	const char *why_meta = NULL;
	int rc = meta_open_dir(c.data_dir, c.metadata, &m, &why_meta);
	if (rc) {
		fprintf(stderr, "drydock user: cannot open '%s': %s\n", path, why_meta ? why_meta : dd_err_message(rc));
		return 1;
	}
	struct arena a = {0};
	const char *cmd = argv[i];
	int sub_argc = argc - i;
	char **sub = argv + i;
	if (!strcmp(cmd, "add"))
		rc = cmd_add(m, &a, sub_argc, sub);
	else if (!strcmp(cmd, "del"))
		rc = cmd_del(m, &a, sub_argc, sub);
	else if (!strcmp(cmd, "list"))
		rc = cmd_list(m, &a, sub_argc, sub);
	else if (!strcmp(cmd, "passwd"))
		rc = cmd_passwd(m, &a, sub_argc, sub);
	else if (!strcmp(cmd, "role"))
		rc = cmd_role(m, &a, sub_argc, sub);
	else if (!strcmp(cmd, "import"))
		rc = cmd_import(m, &a, sub_argc, sub);
	else
		rc = usage_err(arena_printf(&a, "unknown command '%s'", cmd));
	arena_free(&a);
	meta_free(m);
	return rc;
}
