/* main.c: the drydock binary's entry point: a table of subcommands (git's git.c). */
#include "common/dd.h"
#include "cmds.h"
#include <pwd.h>

static const struct {
	const char *name;
	int (*fn)(int, char **);
	const char *const *usage; /* `drydock NAME --help` */
	const char *help;	  /* its line in `drydock --help` */
} commands[] = {
	{"serve", cmd_serve, &cmd_serve_usage, "run the registry"},
	{"version", cmd_version, &cmd_version_usage, "print the version"},
	{"version-compare", cmd_version_compare, &cmd_version_compare_usage,
	 "compare two package versions (dpkg, rpm, apk)"},
	{"sbom", cmd_sbom, &cmd_sbom_usage, "list the OS and packages of an image or root filesystem"},
	{"scan", cmd_scan, &cmd_scan_usage, "list the vulnerabilities of an image or root filesystem"},
	{"db", cmd_db, &cmd_db_usage, "build, update or describe the vulnerability database"},
	{"user", cmd_user, &cmd_user_usage, "manage accounts, robot accounts and roles"},
	{"gc", cmd_gc, &cmd_gc_usage, "remove the blobs no manifest names"},
	{"migrate", cmd_migrate, &cmd_migrate_usage, "move a data directory's blobs into an S3 bucket"},
	{"query", cmd_query, &cmd_query_usage, "run a Kusto (KQL) query over the findings, images and repositories"},
};

/* Not listed: the sandboxed scan worker the server starts (src/scan/sandbox.h). */
static const struct {
	const char *name;
	int (*fn)(int, char **);
} hidden[] = {
	{"scan-worker", cmd_scan_worker},
};

const char *cli_actor(void)
{
	static char actor[96];
	if (!*actor) {
		struct passwd *pw = getpwuid(geteuid());
		snprintf(actor, sizeof(actor), "cli:%s", pw ? pw->pw_name : "?");
	}
	return actor;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: drydock <command> [options]\n\ncommands:\n");
	for (size_t i = 0; i < DD_ARRAY_LEN(commands); i++)
		fprintf(f, "  %-16s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "  %-16s %s\n", "help [COMMAND]", "this list, or a command's options (as COMMAND --help)");
	fprintf(f, "\n`drydock COMMAND --help` shows a command's options; man drydock tells the whole story.\n");
}

/* `drydock NAME --help` and `drydock help NAME`: the command's usage on stdout, 0; 2 when there
 * is no such command. */
static int help(const char *name)
{
	for (size_t i = 0; i < DD_ARRAY_LEN(commands); i++)
		if (!strcmp(name, commands[i].name)) {
			fputs(*commands[i].usage, stdout);
			return 0;
		}
	fprintf(stderr, "drydock: unknown command '%s'\n", name);
	usage(stderr);
	return 2;
}

static int wants_help(int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    (!strcmp(argv[1], "help") && argc == 2)) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "--version"))
		return cmd_version(argc - 1, argv + 1);
	if (!strcmp(argv[1], "help"))
		return help(argv[2]);
	if (wants_help(argc - 2, argv + 2))
		return help(argv[1]);
	for (size_t i = 0; i < DD_ARRAY_LEN(commands); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	for (size_t i = 0; i < DD_ARRAY_LEN(hidden); i++)
		if (!strcmp(argv[1], hidden[i].name))
			return hidden[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "drydock: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
