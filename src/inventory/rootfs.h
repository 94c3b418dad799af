/* rootfs.h: a read-only root filesystem the inventory reads from: a directory on disk
 * (rootfs_dir.c) or the merged view of an image's layers (image/view.c). Paths are relative
 * to the root ("etc/os-release"); symlinks are resolved inside the root by the backend. */
#ifndef DD_ROOTFS_H
#define DD_ROOTFS_H
#include <stddef.h>

struct arena;
struct rootfs;
struct rootfs_file;

struct rootfs_ops {
	/* Reads a regular file into arena memory: 1 when read, 0 when absent (or not a regular
	 * file), or minus an error code with *why when it cannot be read (-DD_E_SCAN_LIMIT: over
	 * a limit; -DD_E_IO). */
	int (*read)(struct rootfs *fs, struct arena *a, const char *path, char **data, size_t *len, const char **why);
	/* Names of the entries of directory `dir`, sorted; 0 when absent. */
	int (*list)(struct rootfs *fs, struct arena *a, const char *dir, const char ***names, size_t *n);
	/* Every file an application package parser reads (lang.h): the files lang_file_kind names,
	 * and what a probe or the Java archive reader derived from a file (derived set). Regular files
	 * only, never through a link. *files (arena) in any order. 0, or minus an error code with
	 * *why (a file over its limit, or one that cannot be read). */
	int (*app_files)(struct rootfs *fs, struct arena *a, struct rootfs_file **files, size_t *n, const char **why);
};

struct rootfs_file {
	const char *path;
	const char *data;
	size_t len;
	int derived; /* what a probe or the Java archive reader kept (lang.h), not the file's bytes */
};

struct rootfs {
	const struct rootfs_ops *ops;
};

struct inventory;

/* Fills inv from fs: OS, then dpkg, apk and rpm databases. 0, or an error with *why. */
int inventory_from_rootfs(struct inventory *inv, struct rootfs *fs, const char **why);

/* A directory on disk as a rootfs (every path resolved with openat2 RESOLVE_IN_ROOT). */
struct rootfs_dir {
	struct rootfs base;
	int fd;
};
int rootfs_dir_open(struct rootfs_dir *d, const char *path);
void rootfs_dir_close(struct rootfs_dir *d);

#endif
