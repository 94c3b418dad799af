/* cmd_migrate.c: `drydock migrate`: moves a data directory's metadata from SQLite into
 * PostgreSQL (store/meta_copy.c; the server stopped), and its blobs from the filesystem into an
 * S3 bucket, checking each blob's digest on the way, then records where they are now
 * (store/meta_open.c, store/blobstore_open.c). Blobs: safe while the server runs on the
 * filesystem (blobs never change); run again once it is stopped, it copies what came since. */
#include "common/dd.h"
#include "cmds.h"
#include "common/config.h"
#include "common/digest.h"
#include "common/util.h"
#include "auth/jwt.h"
#include "store/blobstore.h"
#include "store/meta.h"
#include "store/meta_admin.h"
#include <sys/file.h>

static const char usage_text[] =
	"usage: drydock migrate [--data DIR] [--config FILE] [--metadata postgresql://USER@HOST/DB]\n"
	"                       [--storage s3 --s3-endpoint URL --s3-bucket NAME [--s3-region R]\n"
	"                        [--s3-addressing path|virtual] [--s3-access-key K --s3-secret-key S]]\n"
	"  --metadata: copies the data directory's metadata (meta.db) into the PostgreSQL database, which\n"
	"  must be empty, in one transaction, with the token signing key; then meta.db is renamed\n"
	"  meta.db.migrated and the data directory records the database: `drydock serve` started on it\n"
	"  afterwards (and every node given the same database) uses it. The server must be stopped.\n"
	"  --storage s3: copies every blob of the data directory's filesystem store into the S3 bucket (each one read\n"
	"  back through its digest; those already there are skipped), then records that the data\n"
	"  directory keeps its blobs in that bucket: `drydock serve` started on it afterwards uses the\n"
	"  bucket (the keys come from the settings or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY).\n"
	"  Safe while the server runs; to finish, stop the server, run it again (it copies what came\n"
	"  meanwhile) and start the server. The files under DIR/blobs stay: remove them once it serves.\n"
	"  Every setting of drydock serve is accepted (--config FILE, then flags override it).\n";
const char *const cmd_migrate_usage = usage_text;

struct digests {
	char **v;
	size_t n, cap;
	int oom;
};

static void collect(void *ctx, const char *digest, int64_t mtime)
{
	(void)mtime;
	struct digests *d = ctx;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 1024;
		char **v = realloc(d->v, cap * sizeof(*v));
		if (!v) {
			d->oom = 1;
			return;
		}
		d->v = v;
		d->cap = cap;
	}
	if (!(d->v[d->n] = strdup(digest)))
		d->oom = 1;
	else
		d->n++;
}

/* Copies one blob: 0, or an error with *why. */
static int copy_blob(struct blobstore *from, struct blobstore *to, const char *digest, int64_t *bytes,
		     const char **why)
{
	int fd;
	int64_t size;
	*why = NULL;
	int rc = from->ops->blob_open_fd(from, digest, &fd, &size);
	if (rc) {
		*why = "cannot open it";
		return rc;
	}
	struct digest want, got;
	const char *dwhy;
	if (digest_parse(digest, strlen(digest), &want, &dwhy)) {
		close(fd);
		*why = "not a digest";
		return DD_E_DIGEST_INVALID;
	}
	struct hasher *h = hasher_new(want.alg);
	char id[37], *buf = malloc(1 << 20);
	util_uuid(id);
	struct upload_file *u = NULL;
	int64_t n = 0;
	rc = h && buf ? to->ops->upload_open(to, id, 1, &u, &n) : DD_E_NOMEM;
	while (!rc) {
		ssize_t r = util_read_full(fd, buf, 1 << 20);
		if (r < 0) {
			rc = DD_E_IO;
			*why = "cannot read it";
		}
		if (r <= 0)
			break;
		hasher_update(h, buf, (size_t)r);
		rc = to->ops->upload_write(u, buf, (size_t)r);
		n += r;
	}
	close(fd);
	free(buf);
	if (!rc) {
		hasher_peek(h, &got);
		if (strcmp(got.str, want.str) || n != size) {
			*why = "its file's bytes do not match its digest (a damaged file: not copied)";
			rc = DD_E_DIGEST_INVALID;
		}
	}
	hasher_free(h);
	if (!rc) {
		rc = to->ops->upload_commit(to, u, digest); /* closes u */
		u = NULL;
		*bytes += n;
	}
	if (u) {
		to->ops->upload_close(u);
		to->ops->upload_remove(to, id);
	}
	if (rc && !*why)
		*why = dd_err_message(rc);
	return rc;
}

/* The metadata of c's data directory into PostgreSQL at c->metadata: 0, or 1 with the reason
 * written. Refused while a server runs on the data directory (it holds serve.lock). */
static int migrate_metadata(const struct config *c)
{
	char path[PATH_MAX], lock[PATH_MAX];
	snprintf(path, sizeof(path), "%s/meta.db", c->data_dir);
	if (access(path, F_OK)) {
		printf("'%s' keeps its metadata in PostgreSQL already\n", c->data_dir);
		return 0;
	}
	snprintf(lock, sizeof(lock), "%s/serve.lock", c->data_dir);
	int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB)) {
		fprintf(stderr, "drydock migrate: a server runs on '%s': stop it first (its metadata must not change "
				"while it is copied)\n", c->data_dir);
		if (fd >= 0)
			close(fd);
		return 1;
	}
	const char *why;
	int rc = meta_copy_to_pg(path, c->metadata, stderr, &why);
	if (rc) {
		fprintf(stderr, "drydock migrate: the metadata stays in '%s': %s\n", path, why ? why : dd_err_message(rc));
		close(fd);
		return 1;
	}
	/* the token signing key goes with it: tokens signed before stay good */
	struct meta *m = NULL;
	char key[PATH_MAX], *pem = NULL;
	size_t n;
	snprintf(key, sizeof(key), "%s/token-key.pem", c->data_dir);
	if (!util_read_file(key, 64 * 1024, &pem, &n) && !(rc = meta_pg_open(c->metadata, &m))) {
		int added;
		rc = m->admin->setting_add(m, TOKEN_KEY_SETTING, pem, &added);
		meta_free(m);
		m = NULL;
	}
	free(pem);
	static const char *const files[] = {"", "-wal", "-shm"};
	for (size_t i = 0; !rc && i < DD_ARRAY_LEN(files); i++) {
		char from[PATH_MAX + 8], to[PATH_MAX + 24];
		snprintf(from, sizeof(from), "%s%s", path, files[i]);
		snprintf(to, sizeof(to), "%s.migrated%s", path, files[i]);
		if (rename(from, to) && errno != ENOENT)
			rc = DD_E_IO;
	}
	if (!rc)
		rc = meta_open_dir(c->data_dir, c->metadata, &m, &why); /* records the database */
	meta_free(m);
	close(fd);
	if (rc) {
		fprintf(stderr, "drydock migrate: copied, but cannot switch '%s' to it: %s\n", c->data_dir,
			dd_err_message(rc));
		return 1;
	}
	printf("'%s' now keeps its metadata in PostgreSQL (the SQLite file is kept as meta.db.migrated): start "
	       "drydock serve on it, and any other node with the same metadata and storage settings\n", c->data_dir);
	return 0;
}

int cmd_migrate(int argc, char **argv)
{
	struct config c;
	const char *why;
	config_defaults(&c);
	for (int i = 1; i + 1 < argc; i++) /* the file first: flags override it */
		if (!strcmp(argv[i], "--config") && config_load(&c, argv[++i], &why)) {
			fprintf(stderr, "drydock migrate: %s\n", why);
			return 2;
		}
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help")) {
			fputs(usage_text, stdout);
			return 0;
		}
		if (strncmp(argv[i], "--", 2) || i + 1 >= argc) {
			fprintf(stderr, "drydock migrate: unexpected '%s'\n%s", argv[i], usage_text);
			return 2;
		}
		if (strcmp(argv[i], "--config") && config_set(&c, argv[i] + 2, argv[i + 1], &why)) {
			fprintf(stderr, "drydock migrate: --%s: %s\n", argv[i] + 2, why);
			return 2;
		}
		i++;
	}
	if (!c.storage_s3 && !*c.metadata) {
		fprintf(stderr, "drydock migrate: say where to: --metadata postgresql://..., or --storage s3 and the "
				"bucket's settings\n%s", usage_text);
		return 2;
	}
	char path[PATH_MAX];
	if (cli_data_meta(c.data_dir, "migrate", path, sizeof(path)))
		return 1;
	if (*c.metadata && migrate_metadata(&c))
		return 1;
	if (!c.storage_s3)
		return 0;
	struct meta *m = NULL;
	struct blobstore *fs = NULL, *s3 = NULL;
	why = NULL;
	int rc = meta_open_dir(c.data_dir, NULL, &m, &why);
	if (!rc)
		rc = blobstore_fs_open(c.data_dir, &fs);
	if (!rc)
		rc = blobstore_open_s3_settings(&c, &s3, &why);
	if (rc) {
		fprintf(stderr, "drydock migrate: %s\n", why ? why : dd_err_message(rc));
		goto out;
	}
	struct digests d = {0};
	fs->ops->blobs_each(fs, collect, &d);
	if (d.oom) {
		rc = DD_E_NOMEM;
		fprintf(stderr, "drydock migrate: out of memory listing the blobs\n");
	}
	int64_t copied = 0, present = 0, failed = 0, bytes = 0;
	for (size_t i = 0; !rc && i < d.n; i++) {
		int64_t size;
		if (!s3->ops->blob_stat(s3, d.v[i], &size)) {
			present++;
			continue;
		}
		const char *bwhy;
		if (copy_blob(fs, s3, d.v[i], &bytes, &bwhy)) {
			fprintf(stderr, "drydock migrate: %s: %s\n", d.v[i], bwhy);
			failed++;
		} else
			copied++;
		if ((copied + failed) % 100 == 0)
			fprintf(stderr, "drydock migrate: %zu of %zu blobs looked at\n", i + 1, d.n);
	}
	for (size_t i = 0; i < d.n; i++)
		free(d.v[i]);
	free(d.v);
	if (!rc) {
		printf("%" PRId64 " blobs copied (%.1f MiB), %" PRId64 " there already, %" PRId64 " failed\n", copied,
		       (double)bytes / 1048576.0, present, failed);
		if (failed) {
			fprintf(stderr, "drydock migrate: the data directory still keeps its blobs on the filesystem: "
					"mend or remove the blobs named above (drydock gc), then run it again\n");
			rc = DD_E_IO;
		} else if ((rc = blobstore_record_s3(&c, m)))
			fprintf(stderr, "drydock migrate: cannot record the bucket in the metadata: %s\n", dd_err_message(rc));
		else
			printf("'%s' now keeps its blobs in bucket '%s' at %s: restart drydock serve on it (its own files "
			       "under %s/blobs can go once it serves)\n",
			       c.data_dir, c.s3_bucket, c.s3_endpoint, c.data_dir);
	}
out:
	if (s3)
		s3->ops->free(s3);
	if (fs)
		fs->ops->free(fs);
	meta_free(m);
	return rc ? 1 : 0;
}
