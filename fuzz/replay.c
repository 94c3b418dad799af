/* replay.c: runs every saved input under fuzz/corpus/<target>/ through its target, so seeds
 * and crash inputs are regression tests of the normal test run. Prints a summary line. */
#include "common/dd.h"
#include "common/util.h"
#include "fuzz.h"
#include <dirent.h>

static const struct {
	const char *name;
	int (*fn)(const uint8_t *, size_t);
} targets[] = {
	{"digest", fuzz_digest},
	{"names", fuzz_names},
	{"range", fuzz_range},
	{"s3xml", fuzz_s3xml},
	{"manifest", fuzz_manifest},
	{"version", fuzz_version},
	{"pkgdb", fuzz_pkgdb},
	{"layer", fuzz_layer},
	{"osv", fuzz_osv},
	{"secdb", fuzz_secdb},
	{"distro", fuzz_distro},
	{"vulndb", fuzz_vulndb},
	{"auth", fuzz_auth},
	{"jwt", fuzz_jwt},
	{"http1", fuzz_http1},
	{"sandbox", fuzz_sandbox},
	{"query", fuzz_query},
	{"admission", fuzz_admission},
	{"vex", fuzz_vex},
	{"langfeed", fuzz_langfeed},
	{"lang", fuzz_lang},
	{"netaddr", fuzz_netaddr},
};

int main(int argc, char **argv)
{
	const char *root = argc > 1 ? argv[1] : "fuzz/corpus";
	int files = 0;
	for (size_t t = 0; t < DD_ARRAY_LEN(targets); t++) {
		char dir[PATH_MAX];
		snprintf(dir, sizeof(dir), "%s/%s", root, targets[t].name);
		DIR *d = opendir(dir);
		if (!d) {
			fprintf(stderr, "fuzz-replay: no corpus '%s'\n", dir);
			return 1;
		}
		struct dirent *e;
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			char path[PATH_MAX + 256];
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			char *data;
			size_t len;
			if (util_read_file(path, 1 << 24, &data, &len))
				continue;
			targets[t].fn((const uint8_t *)data, len);
			free(data);
			files++;
		}
		closedir(d);
	}
	printf("fuzz-replay: %d inputs replayed without a broken invariant\n", files);
	return files ? 0 : 1;
}
