/* dir.c: the inventory of a root filesystem directory. Every path is resolved inside the
 * root (openat2 RESOLVE_IN_ROOT): a symlink in the image such as etc/os-release ->
 * /usr/lib/os-release is followed within the image, never out of it. */
#include "common/dd.h"
#include "inventory.h"
#include "common/arena.h"
#include "common/log.h"
#include <dirent.h>
#include <linux/openat2.h>
#include <sys/syscall.h>

struct root {
	int fd;
	struct inventory *inv;
};

static int open_in_root(struct root *r, const char *path, int flags)
{
	struct open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC), .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
	return (int)syscall(SYS_openat2, r->fd, path, &how, sizeof(how));
}

/* Reads a regular file of the image into the arena; 1 when read, 0 when absent, -1 when too
 * large or unreadable (*why set). */
static int read_in_root(struct root *r, const char *path, char **data, size_t *len, const char **why)
{
	*data = NULL;
	*len = 0;
	int fd = open_in_root(r, path, O_RDONLY);
	if (fd < 0)
		return 0;
	struct stat st;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return 0;
	}
	if (st.st_size > DD_MAX_PKGDB_FILE_BYTES) {
		close(fd);
		*why = arena_printf(r->inv->arena, "'%s' is larger than the %d MiB limit for a package database", path,
				    DD_MAX_PKGDB_FILE_BYTES >> 20);
		return -1;
	}
	char *d = arena_alloc(r->inv->arena, (size_t)st.st_size + 1);
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, d + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	*data = d;
	*len = got;
	return 1;
}

static int read_os(struct root *r, const char **why)
{
	struct inventory *inv = r->inv;
	char *d;
	size_t n;
	int rc = read_in_root(r, "etc/os-release", &d, &n, why);
	if (rc == 0)
		rc = read_in_root(r, "usr/lib/os-release", &d, &n, why);
	if (rc < 0)
		return DD_E_TOO_LARGE;
	if (rc > 0 && (rc = os_release_parse(inv->arena, d, n, &inv->os, why)))
		return rc;
	/* Alpine: the exact release; Debian without os-release: debian_version */
	if (read_in_root(r, "etc/alpine-release", &d, &n, why) > 0) {
		size_t k = strcspn(d, "\r\n");
		if (!inv->os.id)
			inv->os.id = "alpine";
		inv->os.version_id = arena_strndup(inv->arena, d, k);
		inv->os.kind = OS_KNOWN;
	}
	if (!inv->os.id && read_in_root(r, "etc/debian_version", &d, &n, why) > 0) {
		inv->os.id = "debian";
		inv->os.version_id = arena_strndup(inv->arena, d, strcspn(d, ".\r\n"));
		inv->os.kind = OS_KNOWN;
	}
	return 0;
}

static int read_dpkg(struct root *r, const char **why)
{
	char *d;
	size_t n;
	int rc = read_in_root(r, "var/lib/dpkg/status", &d, &n, why);
	if (rc < 0)
		return DD_E_TOO_LARGE;
	if (rc > 0 && (rc = dpkg_parse(r->inv, "var/lib/dpkg/status", d, n, 0, why)))
		return rc;
	int dfd = open_in_root(r, "var/lib/dpkg/status.d", O_RDONLY | O_DIRECTORY);
	if (dfd < 0)
		return 0;
	DIR *dir = fdopendir(dfd);
	if (!dir) {
		close(dfd);
		return 0;
	}
	/* sorted, so the result does not depend on readdir order */
	struct dirent **names = NULL;
	int count = 0, cap = 0;
	struct dirent *e;
	rc = 0;
	while ((e = readdir(dir))) {
		size_t l = strlen(e->d_name);
		if (e->d_name[0] == '.' || (l > 8 && !strcmp(e->d_name + l - 8, ".md5sums")))
			continue;
		if (count == cap) {
			cap = cap ? cap * 2 : 32;
			struct dirent **nn = arena_alloc(r->inv->arena, (size_t)cap * sizeof(*nn));
			if (count)
				memcpy(nn, names, (size_t)count * sizeof(*nn));
			names = nn;
		}
		names[count] = arena_alloc(r->inv->arena, sizeof(struct dirent));
		memcpy(names[count++], e, sizeof(struct dirent));
	}
	closedir(dir);
	for (int i = 0; i < count && !rc; i++) {
		const char *path = arena_printf(r->inv->arena, "var/lib/dpkg/status.d/%s", names[i]->d_name);
		int got = read_in_root(r, path, &d, &n, why);
		if (got < 0)
			rc = DD_E_TOO_LARGE;
		else if (got > 0)
			rc = dpkg_parse(r->inv, path, d, n, 1, why);
	}
	if (!rc && count && !r->inv->os.id) { /* distroless: Debian packages, no os-release */
		r->inv->os.kind = OS_DISTROLESS;
		r->inv->os.id = "debian";
	}
	return rc;
}

static int read_apk(struct root *r, const char **why)
{
	char *d;
	size_t n;
	int rc = read_in_root(r, "lib/apk/db/installed", &d, &n, why);
	if (rc < 0)
		return DD_E_TOO_LARGE;
	return rc > 0 ? apk_parse(r->inv, "lib/apk/db/installed", d, n, why) : 0;
}

static int read_rpm(struct root *r, const char **why)
{
	static const char *const dirs[] = {"usr/lib/sysimage/rpm", "var/lib/rpm"};
	static const struct {
		const char *file;
		int (*parse)(struct inventory *, const char *, const char *, size_t, const char **);
	} formats[] = {
		{"rpmdb.sqlite", rpm_sqlite_parse},
		{"Packages.db", rpm_ndb_parse},
		{"Packages", rpm_bdb_parse},
	};
	/* The first database found is the one rpm uses: sysimage first (newer distributions
	 * link var/lib/rpm to it), then sqlite, ndb, bdb. */
	for (size_t i = 0; i < DD_ARRAY_LEN(dirs); i++) {
		for (size_t f = 0; f < DD_ARRAY_LEN(formats); f++) {
			const char *path = arena_printf(r->inv->arena, "%s/%s", dirs[i], formats[f].file);
			char *d;
			size_t n;
			int got = read_in_root(r, path, &d, &n, why);
			if (got < 0)
				return DD_E_TOO_LARGE;
			if (got > 0)
				return formats[f].parse(r->inv, path, d, n, why);
		}
	}
	return 0;
}

int inventory_from_dir(struct inventory *inv, const char *root, const char **why)
{
	*why = NULL;
	struct root r = {.inv = inv};
	r.fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r.fd < 0) {
		*why = arena_printf(inv->arena, "cannot open directory '%s': %s", root, strerror(errno));
		return DD_E_IO;
	}
	int rc = read_os(&r, why);
	if (!rc)
		rc = read_dpkg(&r, why);
	if (!rc)
		rc = read_apk(&r, why);
	if (!rc)
		rc = read_rpm(&r, why);
	close(r.fd);
	if (!rc && !inv->os.id && inv->n == 0)
		inv->os.kind = OS_SCRATCH;
	inventory_sort(inv);
	return rc;
}
