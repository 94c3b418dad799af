/* cmd_version_compare.c: `drydock version-compare {dpkg|rpm|apk|pep440|go|maven} A B` prints <, = or >
 * (an invalid dpkg or rpm version is refused; apk-tools orders invalid versions, and so does
 * this, with a note on stderr).
 * With "-" for A and B it reads "A B" pairs from standard input, one result per line (for
 * differential tests against the real tools). */
#include "common/dd.h"
#include "cmds.h"
#include "version/version.h"

static const char usage[] = "usage: drydock version-compare {dpkg|rpm|apk|pep440|go|maven} A B\n"
			    "       drydock version-compare {dpkg|rpm|apk|pep440|go|maven} - -   (pairs \"A B\" on stdin)\n"
			    "  prints <, = or > as A sorts before, equal to or after B in that package manager's order\n";
const char *const cmd_version_compare_usage = usage;

static int one(enum version_scheme s, const char *a, size_t an, const char *b, size_t bn)
{
	int cmp;
	const char *why;
	if (s == VERSION_APK && (!apk_version_valid(a, an) || !apk_version_valid(b, bn))) {
		/* apk-tools orders invalid versions too (the tokens before the invalid part decide,
		 * then the kinds of the next ones): do as it does, and say so */
		fprintf(stderr, "drydock version-compare: '%.*s' is not a valid apk version; ordered as apk-tools orders it\n",
			(int)(apk_version_valid(a, an) ? bn : an), apk_version_valid(a, an) ? b : a);
		cmp = apk_version_cmp(a, an, b, bn, 0);
		puts(cmp < 0 ? "<" : cmp > 0 ? ">" : "=");
		return 0;
	}
	if (version_compare(s, a, an, b, bn, &cmp, &why)) {
		fprintf(stderr, "drydock version-compare: '%.*s' vs '%.*s': %s\n", (int)an, a, (int)bn, b, why);
		puts("!");
		return 1;
	}
	puts(cmp < 0 ? "<" : cmp > 0 ? ">" : "=");
	return 0;
}

int cmd_version_compare(int argc, char **argv)
{
	enum version_scheme s;
	if (argc != 4 || version_scheme_parse(argv[1], &s)) {
		fputs(usage, stderr);
		return 2;
	}
	if (strcmp(argv[2], "-") || strcmp(argv[3], "-"))
		return one(s, argv[2], strlen(argv[2]), argv[3], strlen(argv[3])) ? 2 : 0;
	char line[4096];
	int bad = 0;
	while (fgets(line, sizeof(line), stdin)) {
		size_t n = strcspn(line, "\r\n");
		line[n] = 0;
		char *sp = strchr(line, ' ');
		if (!sp) {
			fprintf(stderr, "drydock version-compare: expected 'A B', got '%s'\n", line);
			puts("!");
			bad = 1;
			continue;
		}
		bad |= one(s, line, (size_t)(sp - line), sp + 1, strlen(sp + 1));
	}
	return bad ? 1 : 0;
}
