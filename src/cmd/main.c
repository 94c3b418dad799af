/* main.c: the drydock binary's entry point: a table of subcommands (git's git.c). */
#include "common/dd.h"
#include "cmds.h"
#include <pwd.h>

static const struct {
	const char *name;
	int (*fn)(int, char **);
	const char *help;
} commands[] = {
	{"serve", cmd_serve, "run the registry"},
	{"version", cmd_version, "print the version"},
	{"version-compare", cmd_version_compare, "compare two package versions (dpkg, rpm, apk)"},
	{"sbom", cmd_sbom, "list the OS and packages of a root filesystem"},
	{"scan", cmd_scan, "list the vulnerabilities of an image or root filesystem"},
	{"db", cmd_db, "build, update or describe the vulnerability database"},
	{"user", cmd_user, "manage accounts, robot accounts and roles"},
	{"gc", cmd_gc, "remove the blobs no manifest names"},
};

static const char *const not_yet[] = {"query"};

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
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\nnot implemented yet: query\n");
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	for (size_t i = 0; i < DD_ARRAY_LEN(commands); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	for (size_t i = 0; i < DD_ARRAY_LEN(hidden); i++)
		if (!strcmp(argv[1], hidden[i].name))
			return hidden[i].fn(argc - 1, argv + 1);
	for (size_t i = 0; i < DD_ARRAY_LEN(not_yet); i++) {
		if (!strcmp(argv[1], not_yet[i])) {
			fprintf(stderr, "drydock: '%s' is not implemented yet\n", argv[1]);
			return 3;
		}
	}
	fprintf(stderr, "drydock: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
