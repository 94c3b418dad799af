/* meta.h: the metadata store interface: repositories, which blobs each may see, manifests,
 * tags, referrers and upload sessions. A backend implements struct meta_ops (meta_sqlite.c
 * now; PostgreSQL later). Strings passed in are borrowed; results that hold strings are
 * allocated from the caller's arena. Every call is safe from any thread. */
#ifndef DD_META_H
#define DD_META_H
#include <stddef.h>
#include <stdint.h>

struct arena;
struct meta;

struct manifest_rec {
	const char *repo;
	const char *digest;
	const char *media_type;
	const char *artifact_type; /* "" when none */
	const char *subject;       /* "" when none */
	const char *annotations;   /* JSON object text, "" when none */
	const char *content;
	int64_t size;
	int64_t created;
};

enum ref_kind { REF_BLOB, REF_MANIFEST };
struct manifest_ref {
	const char *digest;
	enum ref_kind kind;
};

struct manifest_put {
	struct manifest_rec rec;
	const char *tag; /* NULL when pushed by digest */
	const struct manifest_ref *refs;
	size_t nrefs;
};

struct upload_rec {
	const char *id;
	const char *repo;
	int64_t offset; /* bytes acknowledged to the client */
	int64_t created;
};

struct meta_ops {
	int (*repo_exists)(struct meta *m, const char *repo);
	/* Records blob (digest, size) and lets repo see it (creating repo). */
	int (*blob_link)(struct meta *m, const char *repo, const char *digest, int64_t size);
	/* 0 with *size when repo may see the blob, else DD_E_BLOB_UNKNOWN. */
	int (*blob_linked)(struct meta *m, const char *repo, const char *digest, int64_t *size);
	int (*blob_unlink)(struct meta *m, const char *repo, const char *digest);
	/* Stores a manifest and moves its tag, atomically. DD_E_MANIFEST_BLOB_UNKNOWN when a
	 * reference is missing, naming it in *missing (arena copy). */
	int (*manifest_put)(struct meta *m, struct arena *a, const struct manifest_put *p, const char **missing);
	/* reference is a tag or a digest. DD_E_NAME_UNKNOWN or DD_E_MANIFEST_UNKNOWN when absent.
	 * with_content 0 leaves content NULL (for HEAD). */
	int (*manifest_get)(struct meta *m, struct arena *a, const char *repo, const char *reference, int is_digest,
			    int with_content, struct manifest_rec *out);
	/* Deletes a manifest and every tag that points to it. */
	int (*manifest_delete)(struct meta *m, const char *repo, const char *digest);
	int (*tag_delete)(struct meta *m, const char *repo, const char *tag);
	/* Up to limit names after `last` ("" for the start), sorted; *more when others follow. */
	int (*tags_list)(struct meta *m, struct arena *a, const char *repo, const char *last, int64_t limit,
			 const char ***out, size_t *n, int *more);
	int (*catalog)(struct meta *m, struct arena *a, const char *last, int64_t limit, const char ***out,
		       size_t *n, int *more);
	/* Manifests of repo whose subject is `subject`, filtered by artifact type when non-NULL. */
	int (*referrers)(struct meta *m, struct arena *a, const char *repo, const char *subject,
			 const char *artifact_type, struct manifest_rec **out, size_t *n);
	int (*upload_create)(struct meta *m, const char *id, const char *repo, int64_t max_sessions);
	int (*upload_get)(struct meta *m, struct arena *a, const char *id, struct upload_rec *out);
	int (*upload_set_offset)(struct meta *m, const char *id, int64_t offset);
	int (*upload_delete)(struct meta *m, const char *id);
	/* Ids of up to max sessions not touched since `before` (unix seconds), oldest first. */
	int (*uploads_stale)(struct meta *m, struct arena *a, int64_t before, size_t max, const char ***ids,
			     size_t *n);
	void (*free)(struct meta *m);
};

struct meta {
	const struct meta_ops *ops;
};

/* SQLite backend in file `path` (WAL). Returns an owned store. */
int meta_sqlite_open(const char *path, struct meta **out);

#endif
