/* scan.c: the inventory of a root filesystem: which files to read, in which order, and how
 * the OS is classified (known, distroless, scratch). The files' formats are parsed in
 * os.c, dpkg.c, apk.c and rpm.c; where the files come from is the rootfs's business. */
#include "common/dd.h"
#include "inventory.h"
#include "common/arena.h"
#include "rootfs.h"
#include "lang.h"

struct scan {
	struct inventory *inv;
	struct rootfs *fs;
};

/* 1 read, 0 absent, minus an error code (as rootfs_ops.read). */
static int get(struct scan *s, const char *path, char **d, size_t *n, const char **why)
{
	return s->fs->ops->read(s->fs, s->inv->arena, path, d, n, why);
}

/* Red Hat family without os-release (CentOS 6, RHEL 6): "<Name> release <version> (...)". */
static int read_release_file(struct scan *s, const char **why)
{
	static const struct {
		const char *file, *id;
	} files[] = {
		{"etc/rocky-release", "rocky"},     {"etc/almalinux-release", "almalinux"}, {"etc/centos-release", "centos"},
		{"etc/fedora-release", "fedora"},   {"etc/oracle-release", "ol"},           {"etc/redhat-release", NULL},
		{"etc/system-release", NULL},
	};
	static const struct {
		const char *prefix, *id;
	} names[] = {
		{"Red Hat Enterprise Linux", "rhel"}, {"CentOS", "centos"},  {"Rocky Linux", "rocky"}, {"AlmaLinux", "almalinux"},
		{"Fedora", "fedora"},                 {"Oracle Linux", "ol"}, {"Amazon Linux", "amzn"},
	};
	for (size_t i = 0; i < DD_ARRAY_LEN(files); i++) {
		char *d;
		size_t n;
		int got = get(s, files[i].file, &d, &n, why);
		if (got < 0)
			return -got;
		if (got == 0)
			continue;
		const char *id = files[i].id;
		for (size_t k = 0; !id && k < DD_ARRAY_LEN(names); k++)
			if (!strncmp(d, names[k].prefix, strlen(names[k].prefix)))
				id = names[k].id;
		if (!id)
			continue;
		const char *rel = strstr(d, " release ");
		s->inv->os.id = id;
		if (rel) {
			rel += 9;
			s->inv->os.version_id = arena_strndup(s->inv->arena, rel, strspn(rel, "0123456789."));
		}
		s->inv->os.pretty_name = arena_strndup(s->inv->arena, d, strcspn(d, "\r\n"));
		s->inv->os.kind = OS_KNOWN;
		return 0;
	}
	return 0;
}

static int read_os(struct scan *s, const char **why)
{
	struct inventory *inv = s->inv;
	char *d;
	size_t n;
	int rc = get(s, "etc/os-release", &d, &n, why);
	if (rc == 0)
		rc = get(s, "usr/lib/os-release", &d, &n, why);
	if (rc < 0)
		return -rc;
	if (rc > 0 && (rc = os_release_parse(inv->arena, d, n, &inv->os, why)))
		return rc;
	/* Alpine: the exact release; Debian without os-release: debian_version */
	if ((rc = get(s, "etc/alpine-release", &d, &n, why)) < 0)
		return -rc;
	if (rc > 0) {
		if (!inv->os.id)
			inv->os.id = "alpine";
		inv->os.version_id = arena_strndup(inv->arena, d, strcspn(d, "\r\n"));
		inv->os.kind = OS_KNOWN;
	}
	if (!inv->os.id && (rc = read_release_file(s, why)))
		return rc;
	if (!inv->os.id && (rc = get(s, "etc/debian_version", &d, &n, why)) < 0)
		return -rc;
	if (!inv->os.id && rc > 0) {
		inv->os.id = "debian";
		inv->os.version_id = arena_strndup(inv->arena, d, strcspn(d, ".\r\n"));
		inv->os.kind = OS_KNOWN;
	}
	return 0;
}

static int read_dpkg(struct scan *s, const char **why)
{
	char *d;
	size_t n;
	int rc = get(s, "var/lib/dpkg/status", &d, &n, why);
	if (rc < 0)
		return -rc;
	if (rc > 0 && (rc = dpkg_parse(s->inv, "var/lib/dpkg/status", d, n, 0, why)))
		return rc;
	const char **names;
	size_t count, found = 0;
	s->fs->ops->list(s->fs, s->inv->arena, "var/lib/dpkg/status.d", &names, &count);
	for (size_t i = 0; i < count; i++) {
		size_t l = strlen(names[i]);
		if (names[i][0] == '.' || (l > 8 && !strcmp(names[i] + l - 8, ".md5sums")))
			continue;
		const char *path = arena_printf(s->inv->arena, "var/lib/dpkg/status.d/%s", names[i]);
		int got = get(s, path, &d, &n, why);
		if (got < 0)
			return -got;
		if (got > 0 && (rc = dpkg_parse(s->inv, path, d, n, 1, why)))
			return rc;
		found += got > 0;
	}
	if (found && !s->inv->os.id) { /* distroless: Debian packages, no os-release */
		s->inv->os.kind = OS_DISTROLESS;
		s->inv->os.id = "debian";
	}
	return 0;
}

static int read_apk(struct scan *s, const char **why)
{
	char *d;
	size_t n;
	int rc = get(s, "lib/apk/db/installed", &d, &n, why);
	if (rc < 0)
		return -rc;
	return rc > 0 ? apk_parse(s->inv, "lib/apk/db/installed", d, n, why) : 0;
}

static int read_rpm(struct scan *s, const char **why)
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
			const char *path = arena_printf(s->inv->arena, "%s/%s", dirs[i], formats[f].file);
			char *d;
			size_t n;
			int got = get(s, path, &d, &n, why);
			if (got < 0)
				return -got;
			if (got > 0)
				return formats[f].parse(s->inv, path, d, n, why);
		}
	}
	return 0;
}

static int file_cmp(const void *x, const void *y)
{
	return strcmp(((const struct rootfs_file *)x)->path, ((const struct rootfs_file *)y)->path);
}

/* The directories with an npm tree installed in them (the part of each package.json's path
 * before its first "node_modules/", "" for the root): a lock file there is not read. */
static void installed_trees(struct arena *a, const struct rootfs_file *v, size_t n, struct strmap *dirs)
{
	for (size_t i = 0; i < n; i++) {
		if (v[i].derived || lang_file_kind(v[i].path) != LANG_NPM_PACKAGE)
			continue;
		const char *p = v[i].path, *at = !strncmp(p, "node_modules/", 13) ? p : strstr(p, "/node_modules/");
		if (!at)
			continue;
		int created;
		*strmap_slot(a, dirs, arena_strndup(a, p, (size_t)(at - p) + (at != p)), &created) = (void *)1;
	}
}

/* Application packages, after the OS's (which say what the OS installed). */
static int read_lang(struct scan *s, const char **why)
{
	struct rootfs_file *v;
	size_t n;
	if (!s->fs->ops->app_files)
		return 0;
	int rc = s->fs->ops->app_files(s->fs, s->inv->arena, &v, &n, why);
	if (rc < 0)
		return -rc;
	if (n > 1)
		qsort(v, n, sizeof(*v), file_cmp);
	for (size_t i = 0; i < n; i++)
		if (!v[i].derived && lang_file_kind(v[i].path) == LANG_DPKG_LIST)
			lang_parse(s->inv, v[i].path, v[i].data, v[i].len, 0);
	struct strmap trees = {0};
	installed_trees(s->inv->arena, v, n, &trees);
	for (size_t i = 0; i < n; i++) {
		enum lang_file k = v[i].derived ? LANG_NONE : lang_file_kind(v[i].path);
		if (k == LANG_DPKG_LIST)
			continue;
		if (k == LANG_NPM_LOCK && trees.n) { /* the installed tree, when there is one, says more */
			const char *slash = strrchr(v[i].path, '/');
			size_t dl = slash ? (size_t)(slash - v[i].path) + 1 : 0;
			if (strmap_get(&trees, arena_strndup(s->inv->arena, v[i].path, dl)))
				continue;
		}
		lang_parse(s->inv, arena_strdup(s->inv->arena, v[i].path), v[i].data, v[i].len, v[i].derived);
		if (s->inv->lang_over) { /* never a report that leaves packages out without saying so */
			*why = arena_printf(s->inv->arena, "more than %d packages with the application packages (at '%s')",
					    DD_MAX_LANG_PACKAGES, v[i].path);
			return DD_E_SCAN_LIMIT;
		}
	}
	return 0;
}

/* One application package per (type, name, version): the files that name the same version (Go's
 * standard library in every binary built by one toolchain, a module in two node_modules trees)
 * are listed together in its path, so that one issue is one finding. Packages sorted. */
#define MAX_PATHS_LISTED 16

/* The Go packages of n copies of one module (a standard library in several binaries): each
 * package any copy holds, once, sorted; NULL when a copy's are not known. */
static int line_cmp(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }
static const char *merged_go_packages(struct arena *a, const struct package *p, size_t n)
{
	size_t lines = 0, bytes = 0;
	for (size_t i = 0; i < n; i++) {
		if (!p[i].go_packages)
			return NULL;
		for (const char *s = p[i].go_packages; *s; s++)
			lines += *s == '\n';
		bytes += strlen(p[i].go_packages);
	}
	const char **v = arena_alloc(a, (lines + 1) * sizeof(*v));
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		for (const char *s = p[i].go_packages, *nl; (nl = strchr(s, '\n')); s = nl + 1)
			v[k++] = arena_strndup(a, s, (size_t)(nl - s));
	qsort(v, k, sizeof(*v), line_cmp);
	char *out = arena_alloc(a, bytes + 1), *w = out;
	for (size_t i = 0; i < k; i++)
		if (!i || strcmp(v[i], v[i - 1])) {
			size_t m = strlen(v[i]);
			memcpy(w, v[i], m);
			w[m] = '\n';
			w += m + 1;
		}
	*w = 0;
	return out;
}
static void merge_copies(struct inventory *inv)
{
	size_t w = 0;
	for (size_t i = 0; i < inv->n;) {
		struct package *p = &inv->pkgs[i];
		size_t j = i + 1;
		if (pkg_lang_ecosystem(p->type))
			while (j < inv->n && inv->pkgs[j].type == p->type && !strcmp(inv->pkgs[j].name, p->name) &&
			       !strcmp(inv->pkgs[j].version, p->version))
				j++;
		if (j - i > 1) {
			size_t len = 0, listed = j - i < MAX_PATHS_LISTED ? j - i : MAX_PATHS_LISTED;
			for (size_t k = i; k < i + listed; k++)
				len += strlen(inv->pkgs[k].db_path) + 2;
			size_t cap = len + 48, at = 0;
			char *paths = arena_alloc(inv->arena, cap);
			for (size_t k = i; k < i + listed; k++)
				at += (size_t)snprintf(paths + at, cap - at, "%s%s", k > i ? ", " : "", inv->pkgs[k].db_path);
			if (j - i > listed)
				snprintf(paths + at, cap - at, ", and %zu more", j - i - listed);
			p->db_path = paths;
			p->go_packages = merged_go_packages(inv->arena, inv->pkgs + i, j - i);
		}
		inv->pkgs[w++] = *p;
		i = j;
	}
	inv->n = w;
}

int inventory_from_rootfs(struct inventory *inv, struct rootfs *fs, const char **why)
{
	*why = NULL;
	struct scan s = {.inv = inv, .fs = fs};
	int rc = read_os(&s, why);
	if (!rc)
		rc = read_dpkg(&s, why);
	if (!rc)
		rc = read_apk(&s, why);
	if (!rc)
		rc = read_rpm(&s, why);
	size_t os_packages = inv->n;
	if (!rc)
		rc = read_lang(&s, why);
	if (!rc && !inv->os.id && os_packages == 0)
		inv->os.kind = OS_SCRATCH;
	inventory_sort(inv);
	merge_copies(inv);
	return rc;
}

int inventory_from_dir(struct inventory *inv, const char *root, const char **why)
{
	struct rootfs_dir d;
	*why = NULL;
	if (rootfs_dir_open(&d, root)) {
		*why = arena_printf(inv->arena, "cannot open directory '%s': %s", root, strerror(errno));
		return DD_E_IO;
	}
	int rc = inventory_from_rootfs(inv, &d.base, why);
	rootfs_dir_close(&d);
	return rc;
}
