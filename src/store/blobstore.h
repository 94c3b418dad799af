/* blobstore.h: the content-addressed blob store interface and its upload files.
 *
 * A backend implements struct blobstore_ops (blobstore_fs.c, blobstore_s3.c). Blobs are
 * shared by all repositories: which repository may see which blob is metadata (meta.h).
 * An upload is a named, append-only staging object that becomes a blob only through
 * upload_commit, after the caller has verified its digest; a blob is never visible
 * half-written. */
#ifndef DD_BLOBSTORE_H
#define DD_BLOBSTORE_H
#include <stddef.h>
#include <stdint.h>
#include "common/digest.h"

struct blobstore;
struct upload_file;

/* Reads sequentially from an upload or blob; returns bytes read, 0 at end, -1 on error. */
typedef long (*blob_read_fn)(void *ctx, void *buf, size_t n);

struct blobstore_ops {
	/* Opens the staging file of upload `id`, creating it when `create`. *size is its length. */
	int (*upload_open)(struct blobstore *bs, const char *id, int create, struct upload_file **out,
			   int64_t *size);
	int (*upload_write)(struct upload_file *u, const void *p, size_t n);
	/* Makes the bytes written so far durable. */
	int (*upload_sync)(struct upload_file *u);
	int (*upload_truncate)(struct upload_file *u, int64_t size);
	/* Reads the upload from its start (used to rebuild a hash after a restart). */
	int (*upload_read)(struct upload_file *u, int64_t off, void *p, size_t n, size_t *got);
	/* A new read-only descriptor of the upload's staging file (pread(2) from offset 0), owned
	 * by the caller and still valid after the upload commits or is removed: the scanner reads
	 * a layer's bytes back from it while the rest uploads, instead of holding a copy.
	 * DD_E_UNSUPPORTED when the backend keeps no local file. */
	int (*upload_open_fd)(struct upload_file *u, int *fd);
	/* The digest of all the upload's bytes, read back from the store: for a node that did
	 * not see its first bytes (another node's upload, or one from before a restart). */
	int (*upload_digest)(struct upload_file *u, enum digest_alg alg, struct digest *out);
	/* Durably moves the upload to blob `digest` (already verified). If the blob exists,
	 * the upload is dropped instead. Closes u in all cases. */
	int (*upload_commit)(struct blobstore *bs, struct upload_file *u, const char *digest);
	void (*upload_close)(struct upload_file *u);
	/* Names the account (the registry's session owner) an open upload is for, so that the
	 * memory its buffers hold counts against that account's share (NULL op: no such memory):
	 * 0, or DD_E_UNAVAILABLE when that share is taken already. */
	int (*upload_owner)(struct upload_file *u, const char *owner);
	int (*upload_remove)(struct blobstore *bs, const char *id);
	/* Calls fn for each staging object last written before `before` (unix seconds). */
	int (*uploads_each_older)(struct blobstore *bs, int64_t before, void (*fn)(void *ctx, const char *id),
				  void *ctx);
	/* 0 with *size, or DD_E_BLOB_UNKNOWN. */
	int (*blob_stat)(struct blobstore *bs, const char *digest, int64_t *size);
	/* Opens blob for reading: a file descriptor the HTTP layer may sendfile() from, owned by
	 * the caller. 0 or DD_E_BLOB_UNKNOWN. */
	int (*blob_open_fd)(struct blobstore *bs, const char *digest, int *fd, int64_t *size);
	int (*blob_remove)(struct blobstore *bs, const char *digest);
	/* Optional (NULL when blob_open_fd's descriptor serves): bytes [off, off + len) of the
	 * blob as a socket read in order, filled as they come from the store, for the client at
	 * address `client` (each client has a share of the streams: beyond it,
	 * DD_E_TOOMANYREQUESTS). DD_E_BLOB_UNKNOWN when it is gone. */
	int (*blob_stream)(struct blobstore *bs, const char *digest, int64_t off, int64_t len, const char *client,
			   int *fd);
	/* Optional (NULL when the store has none): a URL a client may GET the blob from for
	 * `expires` seconds, owned by the caller, or NULL. */
	char *(*blob_url)(struct blobstore *bs, const char *digest, long expires);
	/* Calls fn for each stored blob with its last modification time (unix seconds). Names
	 * that are not digests are skipped. */
	int (*blobs_each)(struct blobstore *bs, void (*fn)(void *ctx, const char *digest, int64_t mtime),
			  void *ctx);
	/* The garbage collector's lock, across processes: held shared around committing a blob
	 * and recording it in the metadata, exclusive while the collector forgets blobs and
	 * removes them, so a blob is never removed between its commit (which finds the same bytes
	 * already there and keeps them) and its record. *token goes back to gc_unlock. */
	int (*gc_lock)(struct blobstore *bs, int exclusive, int *token);
	void (*gc_unlock)(struct blobstore *bs, int token);
	void (*free)(struct blobstore *bs);
};

struct blobstore {
	const struct blobstore_ops *ops;
};

/* Filesystem backend rooted at dir (created if missing). Returns an owned store. */
int blobstore_fs_open(const char *dir, struct blobstore **out);

/* S3 backend (blobstore_s3.c): the bucket is made when missing; lock_dir holds the garbage
 * collector's lock file. On error *why names what is wrong (the setting or S3's answer). */
struct s3_config;
int blobstore_s3_open(const struct s3_config *c, const char *lock_dir, struct blobstore **out, const char **why);
struct meta;
/* An S3 store's garbage collector's lock becomes m's, shared by every node of m (meta.h): m
 * outlives the store. Other stores are left as they are. */
void blobstore_s3_share_lock(struct blobstore *b, struct meta *m);

/* The store of data directory c->data_dir, whose metadata is m: the one its settings name
 * (storage = filesystem or s3), else the one it recorded (blobstore_open.c); *why as above, or
 * NULL. */
struct config;
int blobstore_open_config(const struct config *c, struct meta *m, struct blobstore **out, const char **why);
/* The S3 store c's settings name, whatever the data directory records; and the record that
 * makes the data directory keep its blobs there (drydock migrate). */
int blobstore_open_s3_settings(const struct config *c, struct blobstore **out, const char **why);
int blobstore_record_s3(const struct config *c, struct meta *m);

#endif
