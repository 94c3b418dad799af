/* rootfs_dir.c: a directory on disk as a struct rootfs. Every path is resolved inside the
 * root (openat2 RESOLVE_IN_ROOT): a symlink such as etc/os-release -> /usr/lib/os-release is
 * followed within the image, never out of it. */
#include "common/dd.h"
#include "rootfs.h"
#include "common/arena.h"
#include "lang.h"
#include <dirent.h>
#include <linux/openat2.h>
#include <sys/syscall.h>

static int open_in_root(struct rootfs_dir *d, const char *path, int flags)
{
	struct open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC), .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
	return (int)syscall(SYS_openat2, d->fd, path, &how, sizeof(how));
}

static int dir_read(struct rootfs *fs, struct arena *a, const char *path, char **data, size_t *len, const char **why)
{
	struct rootfs_dir *d = (struct rootfs_dir *)fs;
	*data = NULL;
	*len = 0;
	int fd = open_in_root(d, path, O_RDONLY);
	if (fd < 0)
		return 0;
	struct stat st;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return 0;
	}
	if (st.st_size > DD_MAX_PKGDB_FILE_BYTES) {
		close(fd);
		*why = arena_printf(a, "'%s' is larger than the %d MiB limit for a package database", path,
				    DD_MAX_PKGDB_FILE_BYTES >> 20);
		return -DD_E_SCAN_LIMIT;
	}
	char *buf = arena_alloc(a, (size_t)st.st_size + 1);
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			close(fd);
			*why = arena_printf(a, "cannot read '%s': %s", path, strerror(errno));
			return -DD_E_IO;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	*data = buf;
	*len = got;
	return 1;
}

static int name_cmp(const void *x, const void *y) { return strcmp(*(const char *const *)x, *(const char *const *)y); }

static int dir_list(struct rootfs *fs, struct arena *a, const char *dir, const char ***names, size_t *n)
{
	struct rootfs_dir *d = (struct rootfs_dir *)fs;
	*names = NULL;
	*n = 0;
	int dfd = open_in_root(d, dir, O_RDONLY | O_DIRECTORY);
	if (dfd < 0)
		return 0;
	DIR *dp = fdopendir(dfd);
	if (!dp) {
		close(dfd);
		return 0;
	}
	size_t cap = 0, k = 0;
	const char **v = NULL;
	struct dirent *e;
	while ((e = readdir(dp))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (k == cap) {
			cap = cap ? cap * 2 : 32;
			const char **nv = arena_alloc(a, cap * sizeof(*nv));
			if (k)
				memcpy(nv, v, k * sizeof(*nv));
			v = nv;
		}
		v[k++] = arena_strdup(a, e->d_name);
	}
	closedir(dp);
	if (k)
		qsort(v, k, sizeof(*v), name_cmp);
	*names = v;
	*n = k;
	return 0;
}

/* ---- the application files, by a walk of the tree ---- */

struct walk {
	struct arena *a;
	struct rootfs_file *v;
	size_t n, cap;
	uint64_t entries, kept;
	dev_t dev; /* the root's filesystem: the walk does not leave it */
	const char **why;
};

static int walk_add(struct walk *w, const char *path, const char *data, size_t len, int derived)
{
	if ((w->kept += len) > DD_MAX_IMAGE_KEPT_BYTES) { /* as an image's layers may keep */
		*w->why = arena_printf(w->a, "the directory's application metadata is over %lld bytes (at '%s')",
				       (long long)DD_MAX_IMAGE_KEPT_BYTES, path);
		return -DD_E_SCAN_LIMIT;
	}
	w->v = arena_grow(w->a, w->v, w->n, &w->cap, sizeof(*w->v));
	w->v[w->n++] = (struct rootfs_file){path, data, len, derived};
	return 0;
}

/* A Java archive's bytes for lang_jar_read, read from its file. */
struct fd_feed {
	int fd;
	char buf[1 << 16];
};

static ssize_t fd_block(void *ctx, const void **buf)
{
	struct fd_feed *f = ctx;
	for (;;) {
		ssize_t n = read(f->fd, f->buf, sizeof(f->buf));
		if (n < 0 && errno == EINTR)
			continue;
		*buf = f->buf;
		return n;
	}
}

/* One regular file (fd): read whole when its kind is known, a Java archive as it streams, else
 * probed. */
static int walk_file(struct walk *w, int fd, const char *path, const struct stat *st)
{
	enum lang_file kind = lang_file_kind(path);
	if (kind != LANG_NONE) {
		uint64_t max = lang_file_limit(kind);
		if ((uint64_t)st->st_size > max) {
			*w->why = arena_printf(w->a, "'%s' is larger than the %" PRIu64 "-byte limit for its kind of file", path, max);
			return -DD_E_SCAN_LIMIT;
		}
		char *buf = arena_alloc_uninit(w->a, (size_t)st->st_size + 1);
		size_t got = 0;
		while (got < (size_t)st->st_size) {
			ssize_t n = read(fd, buf + got, (size_t)st->st_size - got);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			got += (size_t)n;
		}
		if (kind == LANG_DPKG_LIST)
			got = lang_dpkg_list_filter(buf, got);
		return walk_add(w, path, buf, got, 0);
	}
	if (lang_is_java_archive(path)) {
		struct fd_feed f = {.fd = fd};
		const char *kept;
		size_t len;
		if (lang_jar_read(w->a, path, fd_block, &f, &kept, &len, w->why))
			return -DD_E_SCAN_LIMIT;
		return kept ? walk_add(w, path, kept, len, 1) : 0;
	}
	if (!(st->st_mode & 0111) || st->st_size < 64 || st->st_size > DD_MAX_LAYER_BYTES)
		return 0; /* a file larger than any layer may be is no executable of an image */
	struct lang_probe p;
	lang_probe_begin(&p, path);
	char chunk[1 << 16];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || !lang_probe_feed(&p, w->a, chunk, (size_t)n))
			break;
	}
	size_t len;
	const char *kept = lang_probe_result(&p, w->a, &len);
	return kept ? walk_add(w, path, kept, len, 1) : 0;
}

/* Walks directory dfd (owned; closed here) at path (relative to the root, "" for it). */
static int walk_dir(struct walk *w, int dfd, const char *path, int depth)
{
	DIR *dp = fdopendir(dfd);
	if (!dp) {
		close(dfd);
		return 0;
	}
	int rc = 0;
	struct dirent *e;
	while (!rc && (e = readdir(dp))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (++w->entries > DD_MAX_LAYER_ENTRIES) {
			*w->why = arena_printf(w->a, "the directory has more than %d entries", DD_MAX_LAYER_ENTRIES);
			rc = -DD_E_SCAN_LIMIT;
			break;
		}
		if (e->d_type != DT_DIR && e->d_type != DT_REG && e->d_type != DT_UNKNOWN)
			continue;
		size_t pl = strlen(path), nl = strlen(e->d_name);
		if (pl + nl + 2 > DD_MAX_PATH_BYTES)
			continue;
		const char *sub = pl ? arena_printf(w->a, "%s/%s", path, e->d_name) : arena_strdup(w->a, e->d_name);
		int fd = openat(dirfd(dp), e->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0)
			continue;
		struct stat st;
		if (fstat(fd, &st)) {
			close(fd);
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			/* not into another filesystem (a host's /proc, /sys, /dev, /run, a mount), as
			 * find -xdev; nor the kernel's trees of a root that has them on one */
			if (depth >= 256 || st.st_dev != w->dev ||
			    (!*path && (!strcmp(e->d_name, "proc") || !strcmp(e->d_name, "sys") || !strcmp(e->d_name, "dev")))) {
				close(fd);
				continue;
			}
			rc = walk_dir(w, fd, sub, depth + 1);
			continue;
		}
		if (S_ISREG(st.st_mode))
			rc = walk_file(w, fd, sub, &st);
		close(fd);
	}
	closedir(dp);
	return rc;
}

static int dir_app_files(struct rootfs *fs, struct arena *a, struct rootfs_file **files, size_t *n, const char **why)
{
	struct rootfs_dir *d = (struct rootfs_dir *)fs;
	struct walk w = {.a = a, .why = why};
	struct stat st;
	int fd = openat(d->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0 && fstat(fd, &st)) {
		close(fd);
		fd = -1;
	}
	if (fd >= 0)
		w.dev = st.st_dev;
	int rc = fd < 0 ? 0 : walk_dir(&w, fd, "", 0);
	*files = w.v;
	*n = w.n;
	return rc;
}

static const struct rootfs_ops dir_ops = {.read = dir_read, .list = dir_list, .app_files = dir_app_files};

int rootfs_dir_open(struct rootfs_dir *d, const char *path)
{
	d->base.ops = &dir_ops;
	d->fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return d->fd < 0 ? DD_E_IO : 0;
}

void rootfs_dir_close(struct rootfs_dir *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
}
