/* rootfs_dir.c: a directory on disk as a struct rootfs. Every path is resolved inside the
 * root (openat2 RESOLVE_IN_ROOT): a symlink such as etc/os-release -> /usr/lib/os-release is
 * followed within the image, never out of it. */
#include "common/dd.h"
#include "rootfs.h"
#include "common/arena.h"
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

static const struct rootfs_ops dir_ops = {.read = dir_read, .list = dir_list};

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
