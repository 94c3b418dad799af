/* blobstore_fs.c: the filesystem blob store.
 *
 * Layout under the root: blobs/<alg>/<2 hex>/<hex> for blobs, uploads/<id> for staging files,
 * gc.lock for the garbage collector's lock (flock(2), one open file per holder).
 * Commit is fsync(file), rename(2) into place, fsync(directory): after a crash a blob is
 * either absent or whole. It holds no metadata and knows nothing of repositories. */
#include "common/dd.h"
#include "blobstore.h"
#include "common/digest.h"
#include "common/log.h"
#include "common/util.h"
#include <dirent.h>
#include <sys/file.h>

struct blobstore_fs {
	struct blobstore base;
	char *root;
};

struct upload_file {
	int fd;
	char path[PATH_MAX];
};

static struct blobstore_fs *fs_of(struct blobstore *bs) { return (struct blobstore_fs *)bs; }

static int blob_path(struct blobstore_fs *fs, const char *digest, char *out, size_t cap)
{
	const char *colon = strchr(digest, ':');
	if (!colon || strlen(colon + 1) < 2)
		return DD_E_DIGEST_INVALID;
	int n = snprintf(out, cap, "%s/blobs/%.*s/%.2s/%s", fs->root, (int)(colon - digest), digest, colon + 1,
			 colon + 1);
	return n < 0 || (size_t)n >= cap ? DD_E_INTERNAL : 0;
}

static int fs_upload_open(struct blobstore *bs, const char *id, int create, struct upload_file **out, int64_t *size)
{
	*out = NULL;
	*size = 0;
	struct upload_file *u = calloc(1, sizeof(*u));
	if (!u)
		return DD_E_NOMEM;
	snprintf(u->path, sizeof(u->path), "%s/uploads/%s", fs_of(bs)->root, id);
	u->fd = open(u->path, O_RDWR | O_CLOEXEC | (create ? O_CREAT | O_EXCL : 0), 0644);
	if (u->fd < 0) {
		int e = errno;
		free(u);
		if (e == ENOENT)
			return DD_E_BLOB_UPLOAD_UNKNOWN;
		log_error("cannot open upload file '%s': %s", id, strerror(e));
		return util_io_err(e);
	}
	struct stat st;
	if (fstat(u->fd, &st)) {
		close(u->fd);
		free(u);
		return DD_E_IO;
	}
	*size = st.st_size;
	if (lseek(u->fd, 0, SEEK_END) < 0) {
		close(u->fd);
		free(u);
		return DD_E_IO;
	}
	*out = u;
	return 0;
}

static int fs_upload_write(struct upload_file *u, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = write(u->fd, c, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			log_error("cannot write '%s': %s", u->path, strerror(errno));
			return util_io_err(errno);
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static int fs_upload_sync(struct upload_file *u)
{
	if (fdatasync(u->fd)) {
		log_error("cannot sync '%s': %s", u->path, strerror(errno));
		return util_io_err(errno);
	}
	return 0;
}

static int fs_upload_truncate(struct upload_file *u, int64_t size)
{
	if (ftruncate(u->fd, size) || lseek(u->fd, size, SEEK_SET) < 0)
		return DD_E_IO;
	return 0;
}

static int fs_upload_read(struct upload_file *u, int64_t off, void *p, size_t n, size_t *got)
{
	*got = 0;
	for (;;) {
		ssize_t r = pread(u->fd, p, n, off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return DD_E_IO;
		*got = (size_t)r;
		return 0;
	}
}

static int fs_upload_open_fd(struct upload_file *u, int *fd)
{
	*fd = open(u->path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0) {
		log_error("cannot open upload file '%s': %s", u->path, strerror(errno));
		return DD_E_IO;
	}
	return 0;
}

static int fs_upload_digest(struct upload_file *u, enum digest_alg alg, struct digest *out)
{
	struct hasher *h = hasher_new(alg);
	char *buf = malloc(1 << 20);
	int rc = h && buf ? 0 : DD_E_NOMEM;
	for (off_t off = 0; !rc;) {
		ssize_t r = pread(u->fd, buf, 1 << 20, off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			rc = DD_E_IO;
		if (r <= 0)
			break;
		hasher_update(h, buf, (size_t)r);
		off += r;
	}
	if (!rc)
		hasher_peek(h, out);
	hasher_free(h);
	free(buf);
	return rc;
}

static void fs_upload_close(struct upload_file *u)
{
	if (!u)
		return;
	close(u->fd);
	free(u);
}

static int fs_upload_commit(struct blobstore *bs, struct upload_file *u, const char *digest)
{
	struct blobstore_fs *fs = fs_of(bs);
	char dst[PATH_MAX], dir[PATH_MAX];
	int rc = blob_path(fs, digest, dst, sizeof(dst));
	if (rc)
		goto out;
	struct stat st;
	if (stat(dst, &st) == 0) { /* content-addressed: the same bytes are already there */
		unlink(u->path);
		goto out;
	}
	if (fsync(u->fd)) {
		log_error("cannot fsync '%s': %s", u->path, strerror(errno));
		rc = util_io_err(errno);
		goto out;
	}
	snprintf(dir, sizeof(dir), "%s", dst);
	*strrchr(dir, '/') = 0;
	if ((rc = util_mkdirs(dir)))
		goto out;
	if (rename(u->path, dst)) {
		log_error("cannot rename '%s' to '%s': %s", u->path, dst, strerror(errno));
		rc = util_io_err(errno);
		goto out;
	}
	rc = util_fsync_dir(dir);
out:
	fs_upload_close(u);
	return rc;
}

static int fs_upload_remove(struct blobstore *bs, const char *id)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/uploads/%s", fs_of(bs)->root, id);
	if (unlink(p) && errno != ENOENT)
		return DD_E_IO;
	return 0;
}

static int fs_uploads_each_older(struct blobstore *bs, int64_t before, void (*fn)(void *ctx, const char *id),
				 void *ctx)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/uploads", fs_of(bs)->root);
	DIR *d = opendir(dir);
	if (!d)
		return DD_E_IO;
	struct dirent *e;
	while ((e = readdir(d))) {
		struct stat st;
		if (e->d_name[0] == '.' || fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode))
			continue;
		if (st.st_mtime < before)
			fn(ctx, e->d_name);
	}
	closedir(d);
	return 0;
}

static int fs_blob_stat(struct blobstore *bs, const char *digest, int64_t *size)
{
	char p[PATH_MAX];
	*size = 0;
	int rc = blob_path(fs_of(bs), digest, p, sizeof(p));
	if (rc)
		return rc;
	struct stat st;
	if (stat(p, &st))
		return errno == ENOENT ? DD_E_BLOB_UNKNOWN : DD_E_IO;
	*size = st.st_size;
	return 0;
}

static int fs_blob_open_fd(struct blobstore *bs, const char *digest, int *fd, int64_t *size)
{
	char p[PATH_MAX];
	*fd = -1;
	*size = 0;
	int rc = blob_path(fs_of(bs), digest, p, sizeof(p));
	if (rc)
		return rc;
	int f = open(p, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return errno == ENOENT ? DD_E_BLOB_UNKNOWN : DD_E_IO;
	struct stat st;
	if (fstat(f, &st)) {
		close(f);
		return DD_E_IO;
	}
	*fd = f;
	*size = st.st_size;
	return 0;
}

static int fs_blob_remove(struct blobstore *bs, const char *digest)
{
	char p[PATH_MAX];
	int rc = blob_path(fs_of(bs), digest, p, sizeof(p));
	if (rc)
		return rc;
	if (unlink(p) && errno != ENOENT)
		return DD_E_IO;
	return 0;
}

/* Walks blobs/<alg>/<2 hex>/ for one algorithm. */
static void each_in_alg(const char *dir, const char *alg, void (*fn)(void *ctx, const char *digest, int64_t mtime),
			void *ctx)
{
	DIR *top = opendir(dir);
	if (!top)
		return;
	struct dirent *e;
	while ((e = readdir(top))) {
		if (strlen(e->d_name) != 2 || e->d_name[0] == '.')
			continue;
		int sub = openat(dirfd(top), e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		DIR *d = sub < 0 ? NULL : fdopendir(sub);
		if (!d) {
			if (sub >= 0)
				close(sub);
			continue;
		}
		struct dirent *f;
		while ((f = readdir(d))) {
			char dg[DD_MAX_DIGEST_BYTES + 1];
			struct digest parsed;
			const char *why;
			struct stat st;
			int n = snprintf(dg, sizeof(dg), "%s:%s", alg, f->d_name);
			if (n < 0 || (size_t)n >= sizeof(dg) || digest_parse(dg, (size_t)n, &parsed, &why) ||
			    strncmp(f->d_name, e->d_name, 2) || fstatat(dirfd(d), f->d_name, &st, AT_SYMLINK_NOFOLLOW) ||
			    !S_ISREG(st.st_mode))
				continue;
			fn(ctx, parsed.str, (int64_t)st.st_mtime);
		}
		closedir(d);
	}
	closedir(top);
}

static int fs_blobs_each(struct blobstore *bs, void (*fn)(void *ctx, const char *digest, int64_t mtime), void *ctx)
{
	static const char *const algs[] = {"sha256", "sha512"};
	for (size_t i = 0; i < DD_ARRAY_LEN(algs); i++) {
		char dir[PATH_MAX];
		snprintf(dir, sizeof(dir), "%s/blobs/%s", fs_of(bs)->root, algs[i]);
		each_in_alg(dir, algs[i], fn, ctx);
	}
	return 0;
}

static int fs_gc_lock(struct blobstore *bs, int exclusive, int *token)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/gc.lock", fs_of(bs)->root);
	return util_lock_file(p, exclusive, token);
}

static void fs_gc_unlock(struct blobstore *bs, int token)
{
	(void)bs;
	close(token); /* drops the lock */
}

static void fs_free(struct blobstore *bs)
{
	struct blobstore_fs *fs = fs_of(bs);
	free(fs->root);
	free(fs);
}

static const struct blobstore_ops fs_ops = {
	.upload_open = fs_upload_open,
	.upload_write = fs_upload_write,
	.upload_sync = fs_upload_sync,
	.upload_truncate = fs_upload_truncate,
	.upload_read = fs_upload_read,
	.upload_open_fd = fs_upload_open_fd,
	.upload_digest = fs_upload_digest,
	.upload_commit = fs_upload_commit,
	.upload_close = fs_upload_close,
	.upload_remove = fs_upload_remove,
	.uploads_each_older = fs_uploads_each_older,
	.blob_stat = fs_blob_stat,
	.blob_open_fd = fs_blob_open_fd,
	.blob_remove = fs_blob_remove,
	.blobs_each = fs_blobs_each,
	.gc_lock = fs_gc_lock,
	.gc_unlock = fs_gc_unlock,
	.free = fs_free,
};

int blobstore_fs_open(const char *dir, struct blobstore **out)
{
	*out = NULL;
	char p[PATH_MAX];
	int rc;
	snprintf(p, sizeof(p), "%s/uploads", dir);
	if ((rc = util_mkdirs(p)))
		return rc;
	snprintf(p, sizeof(p), "%s/blobs", dir);
	if ((rc = util_mkdirs(p)))
		return rc;
	struct blobstore_fs *fs = calloc(1, sizeof(*fs));
	if (!fs || !(fs->root = strdup(dir))) {
		free(fs);
		return DD_E_NOMEM;
	}
	fs->base.ops = &fs_ops;
	*out = &fs->base;
	return 0;
}
