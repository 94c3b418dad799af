/* meta_sql_repos.c: the metadata store's registry data (meta_repos.h): repositories, the
 * blobs each may see, manifests and what they name, tags, referrers and upload sessions, for
 * both engines (meta_sqlInt.h). The schemas and transactions are the engines'; a push's scan job
 * and audit entry are queued through the scans' and the audit log's own statements. */
#include "common/dd.h"
#include "meta_sqlInt.h"
#include "common/arena.h"
#include "common/log.h"
#include "common/util.h"

/* Microseconds since the epoch: the order of upload sessions' use. */
static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int repo_add(struct conn *c, const char *repo)
{
	return sq_exec_on(c, "add repository", "INSERT INTO repos(name, created) VALUES(?1, ?2) ON CONFLICT DO NOTHING", TEXT(repo),
			  INT(util_now()));
}

static int repo_exists(struct meta *m, struct conn *c, const char *repo)
{
	struct sq q;
	sq_query_at(&q, m, c, "SELECT 1 FROM repos WHERE name=?1", TEXT(repo));
	return sq_one(&q, "repo lookup", DD_E_NAME_UNKNOWN);
}

static int ms_repo_exists(struct meta *m, const char *repo) { return repo_exists(m, NULL, repo); }

/* What a missing manifest or tag of repo is: DD_E_NAME_UNKNOWN when repo is missing too. */
static int manifest_unknown(struct conn *c, const char *repo)
{
	int rc = repo_exists(NULL, c, repo);
	return rc ? rc : DD_E_MANIFEST_UNKNOWN;
}

static int ms_blob_link(struct meta *m, const char *repo, const char *digest, int64_t size)
{
	struct conn *c;
	int rc = sq_tx_begin(m, &c);
	if (!rc)
		rc = repo_add(c, repo);
	if (!rc)
		rc = sq_exec_on(c, "add blob",
				"INSERT INTO blobs(digest, size, created) VALUES(?1, ?2, ?3)"
				" ON CONFLICT(digest) DO UPDATE SET created=excluded.created",
				TEXT(digest), INT(size), INT(util_now()));
	if (!rc)
		rc = sq_exec_on(c, "link blob", "INSERT INTO repo_blobs(repo, digest) VALUES(?1, ?2) ON CONFLICT DO NOTHING", TEXT(repo),
				TEXT(digest));
	return sq_tx_end(c, rc);
}

static int blob_linked(struct meta *m, struct conn *c, const char *repo, const char *digest, int64_t *size)
{
	struct sq q;
	sq_query_at(&q, m, c,
		    "SELECT b.size FROM repo_blobs r JOIN blobs b ON b.digest=r.digest WHERE r.repo=?1 AND r.digest=?2",
		    TEXT(repo), TEXT(digest));
	if (sq_row(&q) && size)
		*size = sq_int(&q, 0);
	return sq_one(&q, "blob lookup", DD_E_BLOB_UNKNOWN);
}

static int ms_blob_linked(struct meta *m, const char *repo, const char *digest, int64_t *size)
{
	if (size)
		*size = 0;
	return blob_linked(m, NULL, repo, digest, size);
}

static int ms_blob_unlink(struct meta *m, const char *repo, const char *digest)
{
	struct sq q;
	sq_query(&q, m, "DELETE FROM repo_blobs WHERE repo=?1 AND digest=?2", TEXT(repo), TEXT(digest));
	int rc = sq_done(&q, "unlink blob");
	return rc ? rc : q.changes ? 0 : DD_E_BLOB_UNKNOWN;
}

/* A blob any manifest names (as a blob or a foreign layer) is referenced. */
static int ms_blobs_unreferenced(struct meta *m, struct arena *a, int64_t before, const char *after, size_t max,
				 const char ***digests, int64_t **sizes, size_t *n)
{
	*digests = arena_alloc(a, (max + 1) * sizeof(**digests));
	*sizes = arena_alloc(a, (max + 1) * sizeof(**sizes));
	*n = 0;
	struct sq q;
	sq_query(&q, m,
		 "SELECT b.digest, b.size FROM blobs b WHERE b.digest>?1 AND b.created<?2 AND"
		 " NOT EXISTS(SELECT 1 FROM manifest_refs r WHERE r.child=b.digest AND r.kind<>?4)"
		 " ORDER BY b.digest LIMIT ?3",
		 TEXT(after), INT(before), INT(max), INT(REF_MANIFEST));
	while (sq_row(&q) && *n < max) {
		(*digests)[*n] = sq_text(a, &q, 0);
		(*sizes)[(*n)++] = sq_int(&q, 1);
	}
	return sq_end(&q, "unreferenced blobs");
}

static int ms_blob_forget(struct meta *m, const char *digest, int64_t before)
{
	struct conn *c;
	int rc = sq_tx_begin(m, &c);
	if (!rc)
		rc = sq_exec_on(c, "forget blob",
				"DELETE FROM blobs WHERE digest=?1 AND created<?2 AND"
				" NOT EXISTS(SELECT 1 FROM manifest_refs r WHERE r.child=?1 AND r.kind<>?3)",
				TEXT(digest), INT(before), INT(REF_MANIFEST));
	if (!rc && sq_changes(c) == 0)
		rc = DD_E_NOT_FOUND; /* referenced or linked again meanwhile */
	if (!rc)
		rc = sq_exec_on(c, "forget blob links", "DELETE FROM repo_blobs WHERE digest=?1", TEXT(digest));
	return sq_tx_end(c, rc);
}

static int ms_blob_known(struct meta *m, const char *digest)
{
	struct sq q;
	sq_query(&q, m, "SELECT 1 FROM blobs WHERE digest=?1", TEXT(digest));
	return sq_one(&q, "blob lookup", DD_E_BLOB_UNKNOWN);
}

static int ms_blob_totals(struct meta *m, int64_t *count, int64_t *bytes)
{
	struct sq q;
	*count = *bytes = 0;
	sq_query(&q, m, "SELECT count(*), coalesce(sum(size), 0) FROM blobs", NOARGS);
	if (sq_row(&q)) {
		*count = sq_int(&q, 0);
		*bytes = sq_int(&q, 1);
	}
	return sq_end(&q, "blob totals");
}

static int manifest_exists(struct conn *c, const char *repo, const char *digest)
{
	struct sq q;
	sq_query_on(&q, c, "SELECT 1 FROM manifests WHERE repo=?1 AND digest=?2", TEXT(repo), TEXT(digest));
	return sq_one(&q, "manifest lookup", DD_E_MANIFEST_UNKNOWN);
}

static int ms_manifest_put(struct meta *m, struct arena *a, const struct manifest_put *p, const char **missing)
{
	const struct manifest_rec *r = &p->rec;
	struct conn *c;
	*missing = NULL;
	int rc = sq_tx_begin(m, &c);
	for (size_t i = 0; !rc && i < p->nrefs; i++) {
		const struct manifest_ref *ref = &p->refs[i];
		if (ref->kind == REF_FOREIGN)
			continue;
		rc = ref->kind == REF_BLOB ? blob_linked(NULL, c, r->repo, ref->digest, NULL)
					   : manifest_exists(c, r->repo, ref->digest);
		if (rc == DD_E_BLOB_UNKNOWN || rc == DD_E_MANIFEST_UNKNOWN) {
			*missing = arena_strdup(a, ref->digest);
			rc = DD_E_MANIFEST_BLOB_UNKNOWN;
		}
	}
	if (!rc)
		rc = repo_add(c, r->repo);
	if (!rc)
		rc = sq_exec_on(c, "add manifest",
				"INSERT INTO manifests(repo, digest, media_type, artifact_type, subject,"
				" annotations, size, content, created) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9) ON CONFLICT DO NOTHING",
				TEXT(r->repo), TEXT(r->digest), TEXT(r->media_type), TEXT(r->artifact_type),
				TEXT(r->subject), TEXT(r->annotations), INT(r->size), BLOB(r->content, r->size),
				INT(util_now()));
	for (size_t i = 0; !rc && i < p->nrefs; i++)
		rc = sq_exec_on(c, "add manifest reference",
				"INSERT INTO manifest_refs(repo, parent, child, kind) VALUES(?1,?2,?3,?4) ON CONFLICT DO NOTHING",
				TEXT(r->repo), TEXT(r->digest), TEXT(p->refs[i].digest), INT(p->refs[i].kind));
	if (!rc && p->tag)
		rc = sq_exec_on(c, "set tag",
				"INSERT INTO tags(repo, name, digest, updated) VALUES(?1,?2,?3,?4)"
				" ON CONFLICT(repo, name) DO UPDATE SET digest=excluded.digest, updated=excluded.updated",
				TEXT(r->repo), TEXT(p->tag), TEXT(r->digest), INT(util_now()));
	if (!rc && p->queue_scan) /* a manifest pushed again (a re-tag) is not scanned again */
		rc = sq_scan_enqueue_unassessed(c, r->repo, r->digest);
	if (!rc && p->audit)
		rc = sq_audit_insert(c, p->audit);
	if (!rc && p->event)
		rc = sq_outbox_insert(c, p->event);
	return sq_tx_end(c, rc);
}

/* The columns fill_rec reads, in its order. */
#define MANIFEST_COLUMNS "digest, media_type, artifact_type, subject, annotations, size, created"

static void fill_rec(struct arena *a, const struct sq *q, const char *repo, struct manifest_rec *out)
{
	out->repo = repo;
	out->digest = sq_text(a, q, 0);
	out->media_type = sq_text(a, q, 1);
	out->artifact_type = sq_text(a, q, 2);
	out->subject = sq_text(a, q, 3);
	out->annotations = sq_text(a, q, 4);
	out->size = sq_int(q, 5);
	out->created = sq_int(q, 6);
}

static int ms_manifest_get(struct meta *m, struct arena *a, const char *repo, const char *reference, int is_digest,
			   int with_content, struct manifest_rec *out)
{
	memset(out, 0, sizeof(*out));
	struct conn *c;
	int rc = sq_conn_get(m, &c);
	if (rc)
		return rc;
	const char *digest = reference;
	struct sq q;
	int found;
	if (!is_digest) {
		sq_query_on(&q, c, "SELECT digest FROM tags WHERE repo=?1 AND name=?2", TEXT(repo), TEXT(reference));
		if ((found = sq_row(&q)))
			digest = sq_text(a, &q, 0);
		if (!(rc = sq_end(&q, "tag lookup")) && !found)
			rc = manifest_unknown(c, repo);
	}
	if (!rc) {
		if (with_content)
			sq_query_on(&q, c, "SELECT " MANIFEST_COLUMNS ", content FROM manifests WHERE repo=?1 AND digest=?2",
				    TEXT(repo), TEXT(digest));
		else
			sq_query_on(&q, c, "SELECT " MANIFEST_COLUMNS " FROM manifests WHERE repo=?1 AND digest=?2", TEXT(repo),
				    TEXT(digest));
		int damaged = 0;
		if ((found = sq_row(&q))) {
			fill_rec(a, &q, repo, out);
			size_t n = 0;
			if (with_content && ((out->content = sq_blob(a, &q, 7, &n)), (int64_t)n != out->size)) {
				log_error("manifest %s of %s: %zu bytes stored, %" PRId64 " recorded", digest, repo, n,
					  out->size);
				damaged = 1; /* never served as its recorded size */
			}
		}
		if (!(rc = sq_end(&q, "manifest lookup")) && !found)
			rc = manifest_unknown(c, repo);
		if (!rc && damaged)
			rc = DD_E_IO;
	}
	sq_conn_put(c);
	return rc;
}

/* A manifest of repository m.repo that no tag points to, no index there names (a reference of
 * kind REF_MANIFEST, bound to parameter KIND), and whose subject, if it has one, the repository
 * no longer holds (gc --delete-untagged). */
#define UNTAGGED(KIND)                                                                                     \
	" NOT EXISTS(SELECT 1 FROM tags t WHERE t.repo=m.repo AND t.digest=m.digest) AND"                       \
	" NOT EXISTS(SELECT 1 FROM manifest_refs r WHERE r.repo=m.repo AND r.child=m.digest AND r.kind=" KIND \
	") AND (m.subject='' OR NOT EXISTS(SELECT 1 FROM manifests s WHERE s.repo=m.repo AND s.digest=m.subject))"

/* Deletes a manifest; with untagged_before >= 0 only if it is untagged (UNTAGGED) and was
 * stored before then, else DD_E_NOT_FOUND. */
static int manifest_delete(struct meta *m, const char *repo, const char *digest, int64_t untagged_before)
{
	struct conn *c;
	int rc = sq_tx_begin(m, &c);
	if (!rc && untagged_before >= 0)
		rc = sq_exec_on(c, "delete manifest",
				"DELETE FROM manifests AS m WHERE m.repo=?1 AND m.digest=?2 AND m.created<?3 AND" UNTAGGED("?4"),
				TEXT(repo), TEXT(digest), INT(untagged_before), INT(REF_MANIFEST));
	else if (!rc)
		rc = sq_exec_on(c, "delete manifest", "DELETE FROM manifests WHERE repo=?1 AND digest=?2", TEXT(repo),
				TEXT(digest));
	if (!rc && sq_changes(c) == 0)
		rc = untagged_before >= 0 ? DD_E_NOT_FOUND : manifest_unknown(c, repo);
	/* its tags, references, assessment and queued scan go with it */
	if (!rc)
		rc = sq_exec_on(c, "delete manifest", "DELETE FROM tags WHERE repo=?1 AND digest=?2", TEXT(repo),
				TEXT(digest));
	if (!rc)
		rc = sq_exec_on(c, "delete manifest", "DELETE FROM manifest_refs WHERE repo=?1 AND parent=?2", TEXT(repo),
				TEXT(digest));
	if (!rc)
		rc = sq_scans_forget(c, repo, digest);
	return sq_tx_end(c, rc);
}

static int ms_manifest_delete(struct meta *m, const char *repo, const char *digest)
{
	return manifest_delete(m, repo, digest, -1);
}

static int ms_manifest_forget_untagged(struct meta *m, const char *repo, const char *digest, int64_t before)
{
	return manifest_delete(m, repo, digest, before < 0 ? 0 : before);
}

static int ms_manifests_untagged(struct meta *m, struct arena *a, int64_t before, const char *after_repo,
				 const char *after_digest, size_t max, const char ***repos, const char ***digests,
				 size_t *n)
{
	*repos = arena_alloc(a, (max + 1) * sizeof(**repos));
	*digests = arena_alloc(a, (max + 1) * sizeof(**digests));
	*n = 0;
	struct sq q;
	sq_query(&q, m,
		 "SELECT m.repo, m.digest FROM manifests m WHERE (m.repo, m.digest)>(?1, ?2) AND m.created<?3 AND"
		 UNTAGGED("?5") " ORDER BY m.repo, m.digest LIMIT ?4",
		 TEXT(after_repo), TEXT(after_digest), INT(before), INT(max), INT(REF_MANIFEST));
	while (sq_row(&q) && *n < max) {
		(*repos)[*n] = sq_text(a, &q, 0);
		(*digests)[(*n)++] = sq_text(a, &q, 1);
	}
	return sq_end(&q, "untagged manifests");
}

static int ms_tag_delete(struct meta *m, const char *repo, const char *tag)
{
	/* a write transaction (the writer's connection), not a pooled connection that would wait
	 * for the write lock while readers wait for it */
	struct conn *c;
	int rc = sq_tx_begin(m, &c);
	if (!rc)
		rc = sq_exec_on(c, "delete tag", "DELETE FROM tags WHERE repo=?1 AND name=?2", TEXT(repo), TEXT(tag));
	if (!rc && sq_changes(c) == 0)
		rc = manifest_unknown(c, repo);
	return sq_tx_end(c, rc);
}

/* Collects column 0 of up to limit rows of q and ends it; *more when a limit+1'th row exists. */
static int collect_names(struct sq *q, struct arena *a, int64_t limit, const char ***out, size_t *n, int *more)
{
	size_t cap = 0, k = 0;
	const char **v = arena_grow(a, NULL, 0, &cap, sizeof(*v));
	*more = 0;
	while (sq_row(q)) {
		if ((int64_t)k == limit) {
			*more = 1;
			break;
		}
		v = arena_grow(a, v, k, &cap, sizeof(*v));
		v[k++] = sq_text(a, q, 0);
	}
	int rc = sq_end(q, "list");
	if (rc)
		return rc;
	*out = v;
	*n = k;
	return 0;
}

static int ms_tags_list(struct meta *m, struct arena *a, const char *repo, const char *last, int64_t limit,
			const char ***out, size_t *n, int *more)
{
	*out = NULL;
	*n = 0;
	*more = 0;
	struct conn *c;
	int rc = sq_conn_get(m, &c);
	if (rc)
		return rc;
	if (!(rc = repo_exists(NULL, c, repo))) {
		struct sq q;
		sq_query_on(&q, c, "SELECT name FROM tags WHERE repo=?1 AND name>?2 ORDER BY name LIMIT ?3", TEXT(repo),
			    TEXT(last), INT(limit + 1));
		rc = collect_names(&q, a, limit, out, n, more);
	}
	sq_conn_put(c);
	return rc;
}

static int ms_catalog(struct meta *m, struct arena *a, const char *last, int64_t limit, const char ***out, size_t *n,
		      int *more)
{
	*out = NULL;
	*n = 0;
	*more = 0;
	struct sq q;
	sq_query(&q, m, "SELECT name FROM repos WHERE name>?1 ORDER BY name LIMIT ?2", TEXT(last), INT(limit + 1));
	return collect_names(&q, a, limit, out, n, more);
}

static int ms_tags_of(struct meta *m, struct arena *a, const char *repo, const char *digest, size_t max,
		      const char ***out, size_t *n, int *more)
{
	*n = 0;
	*more = 0;
	*out = arena_alloc(a, (max + 1) * sizeof(**out));
	struct sq q;
	sq_query(&q, m, "SELECT name FROM tags WHERE repo=?1 AND digest=?2 ORDER BY name LIMIT ?3", TEXT(repo),
		 TEXT(digest), INT(max + 1));
	while (sq_row(&q)) {
		if (*n == max) {
			*more = 1;
			break;
		}
		(*out)[(*n)++] = sq_text(a, &q, 0);
	}
	return sq_end(&q, "tags of an image");
}

static int ms_images_list(struct meta *m, struct arena *a, const char *repo, struct image_row **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	struct sq q;
	sq_query(&q, m,
		 PG_OR("SELECT m.repo, m.digest, m.media_type, m.artifact_type, m.subject, m.size, m.created,"
		       " (SELECT group_concat(name, char(10)) FROM (SELECT name FROM tags t WHERE t.repo=m.repo AND"
		       " t.digest=m.digest ORDER BY name)), s.repo IS NOT NULL, s.status, s.counts, s.scanned_at"
		       " FROM manifests m LEFT JOIN assessments s ON s.repo=m.repo AND s.digest=m.digest"
		       " WHERE ?1 IS NULL OR m.repo=?1 ORDER BY m.repo, m.digest",
		       "SELECT m.repo, m.digest, m.media_type, m.artifact_type, m.subject, m.size, m.created,"
		       " (SELECT string_agg(name, chr(10) ORDER BY name) FROM tags t WHERE t.repo=m.repo AND"
		       " t.digest=m.digest), s.repo IS NOT NULL, s.status, s.counts, s.scanned_at"
		       " FROM manifests m LEFT JOIN assessments s ON s.repo=m.repo AND s.digest=m.digest"
		       " WHERE ?1 IS NULL OR m.repo=?1 ORDER BY m.repo, m.digest"),
		 TEXT(repo));
	size_t cap = 0;
	struct image_row *v = NULL;
	while (sq_row(&q)) {
		v = arena_grow(a, v, *n, &cap, sizeof(*v));
		struct image_row *x = &v[(*n)++];
		x->rec.repo = sq_text(a, &q, 0);
		x->rec.digest = sq_text(a, &q, 1);
		x->rec.media_type = sq_text(a, &q, 2);
		x->rec.artifact_type = sq_text(a, &q, 3);
		x->rec.subject = sq_text(a, &q, 4);
		x->rec.annotations = "";
		x->rec.size = sq_int(&q, 5);
		x->rec.created = sq_int(&q, 6);
		x->tags = sq_text(a, &q, 7);
		if (sq_int(&q, 8)) {
			x->status = sq_text(a, &q, 9);
			x->counts = sq_text(a, &q, 10);
			x->scanned_at = sq_int(&q, 11);
		}
	}
	*out = v;
	return sq_end(&q, "images list");
}

static int ms_referrers(struct meta *m, struct arena *a, const char *repo, const char *subject,
			const char *artifact_type, struct manifest_rec **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	struct sq q;
	sq_query(&q, m,
		 /* by the index manifests_subject, which holds the rows with a subject alone: named
		  * (SQLite preferred the primary key) and its condition said (PostgreSQL uses it then);
		  * every manifest of the repository was read, 37 ms an image's page at 100,000 images
		  * in one repository */
		 PG_OR("SELECT " MANIFEST_COLUMNS " FROM manifests INDEXED BY manifests_subject WHERE repo=?1"
		       " AND subject=?2 AND subject<>'' AND (?3 IS NULL OR artifact_type=?3) ORDER BY created, digest"
		       " LIMIT ?4",
		       "SELECT " MANIFEST_COLUMNS " FROM manifests WHERE repo=?1 AND subject=?2 AND subject<>'' AND"
		       " (?3 IS NULL OR artifact_type=?3) ORDER BY created, digest LIMIT ?4"),
		 TEXT(repo), TEXT(subject), TEXT(artifact_type), INT(DD_MAX_REFERRERS));
	size_t cap = 0, k = 0;
	struct manifest_rec *v = arena_grow(a, NULL, 0, &cap, sizeof(*v));
	while (sq_row(&q)) {
		v = arena_grow(a, v, k, &cap, sizeof(*v));
		fill_rec(a, &q, repo, &v[k++]);
	}
	*out = v;
	*n = k;
	return sq_end(&q, "referrers");
}

/* Column 0 of the first row; 0 when the query fails (what is written next fails then too). */
static int64_t count_of(struct sq *q)
{
	int64_t count = sq_row(q) ? sq_int(q, 0) : 0;
	sq_end(q, NULL);
	return count;
}

static int ms_upload_create(struct meta *m, const char *id, const char *repo, const char *owner, int64_t max_sessions,
			    int64_t max_per_owner, enum upload_cap *cap)
{
	*cap = UPLOAD_CAP_NONE;
	struct conn *c;
	struct sq q;
	int rc = sq_tx_begin(m, &c);
	if (!rc) {
		sq_query_on(&q, c, "SELECT count(*) FROM uploads", NOARGS);
		if (count_of(&q) >= max_sessions) {
			*cap = UPLOAD_CAP_ALL;
			rc = DD_E_TOOMANYREQUESTS;
		}
	}
	if (!rc && max_per_owner > 0) {
		sq_query_on(&q, c, "SELECT count(*) FROM uploads WHERE owner=?1", TEXT(owner));
		if (count_of(&q) >= max_per_owner) {
			*cap = UPLOAD_CAP_OWNER;
			rc = DD_E_TOOMANYREQUESTS;
		}
	}
	if (!rc)
		rc = sq_exec_on(c, "add upload",
				"INSERT INTO uploads(id, repo, \"offset\", created, updated, owner, touched)"
				" VALUES(?1,?2,0,?3,?3,?4,?5)",
				TEXT(id), TEXT(repo), INT(util_now()), TEXT(owner), INT(now_us()));
	return sq_tx_end(c, rc);
}

static int ms_uploads_of_owner(struct meta *m, struct arena *a, const char *owner, size_t max, const char ***ids,
			       size_t *n)
{
	int more;
	*ids = NULL;
	*n = 0;
	struct sq q;
	sq_query(&q, m, "SELECT id FROM uploads WHERE owner=?1 ORDER BY touched, id LIMIT ?2", TEXT(owner),
		 INT(max + 1));
	return collect_names(&q, a, (int64_t)max, ids, n, &more);
}

static int ms_upload_get(struct meta *m, struct arena *a, const char *id, struct upload_rec *out)
{
	memset(out, 0, sizeof(*out));
	struct sq q;
	sq_query(&q, m, "SELECT repo, \"offset\", created FROM uploads WHERE id=?1", TEXT(id));
	if (sq_row(&q)) {
		out->id = arena_strdup(a, id);
		out->repo = sq_text(a, &q, 0);
		out->offset = sq_int(&q, 1);
		out->created = sq_int(&q, 2);
	}
	return sq_one(&q, "upload lookup", DD_E_BLOB_UPLOAD_UNKNOWN);
}

static int ms_upload_set_offset(struct meta *m, const char *id, int64_t from, int64_t offset)
{
	struct sq q;
	sq_query(&q, m, "UPDATE uploads SET \"offset\"=?2, updated=?3, touched=?4 WHERE id=?1 AND \"offset\"=?5", TEXT(id),
		 INT(offset), INT(util_now()), INT(now_us()), INT(from));
	int rc = sq_done(&q, "update upload");
	if (rc || q.changes)
		return rc;
	struct arena a = {0};
	struct upload_rec rec;
	rc = ms_upload_get(m, &a, id, &rec);
	arena_free(&a);
	return rc ? rc : DD_E_BUSY;
}

static int ms_upload_delete(struct meta *m, const char *id)
{
	struct sq q;
	sq_query(&q, m, "DELETE FROM uploads WHERE id=?1", TEXT(id));
	int rc = sq_done(&q, "delete upload");
	return rc ? rc : q.changes ? 0 : DD_E_BLOB_UPLOAD_UNKNOWN;
}

static int ms_uploads_stale(struct meta *m, struct arena *a, int64_t before, size_t max, const char ***ids,
			    size_t *n)
{
	int more;
	*ids = NULL;
	*n = 0;
	struct sq q;
	sq_query(&q, m, "SELECT id FROM uploads WHERE updated<?1 ORDER BY updated LIMIT ?2", INT(before), INT(max + 1));
	return collect_names(&q, a, (int64_t)max, ids, n, &more);
}

const struct meta_repos_ops meta_sql_repos = {
	.repo_exists = ms_repo_exists,
	.blob_link = ms_blob_link,
	.blob_linked = ms_blob_linked,
	.blob_unlink = ms_blob_unlink,
	.blobs_unreferenced = ms_blobs_unreferenced,
	.blob_forget = ms_blob_forget,
	.blob_known = ms_blob_known,
	.blob_totals = ms_blob_totals,
	.manifest_put = ms_manifest_put,
	.manifest_get = ms_manifest_get,
	.manifest_delete = ms_manifest_delete,
	.manifests_untagged = ms_manifests_untagged,
	.manifest_forget_untagged = ms_manifest_forget_untagged,
	.tag_delete = ms_tag_delete,
	.tags_list = ms_tags_list,
	.catalog = ms_catalog,
	.tags_of = ms_tags_of,
	.images_list = ms_images_list,
	.referrers = ms_referrers,
	.upload_create = ms_upload_create,
	.upload_get = ms_upload_get,
	.upload_set_offset = ms_upload_set_offset,
	.upload_delete = ms_upload_delete,
	.uploads_stale = ms_uploads_stale,
	.uploads_of_owner = ms_uploads_of_owner,
};
