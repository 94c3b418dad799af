/* test_stores.c: the filesystem blob store and the SQLite metadata store, on real files. */
#include "unit.h"
#include "common/arena.h"
#include "common/digest.h"
#include "common/util.h"
#include "assess/idcache.h"
#include "auth/ratelimit.h"
#include "events/events.h"
#include "store/blobstore.h"
#include "store/meta_admin.h"
#include "store/meta_repos.h"
#include "store/meta_scans.h"
#include "store/space.h"
#include "store/s3.h"
#include <pthread.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"

struct listing {
	size_t n;
	char last[160];
	int64_t mtime;
};

static void list_one(void *ctx, const char *digest, int64_t mtime)
{
	struct listing *l = ctx;
	l->n++;
	snprintf(l->last, sizeof(l->last), "%s", digest);
	l->mtime = mtime;
}

struct gc_waiter {
	struct blobstore *bs;
	int rc, done;
};

static void *take_shared(void *arg)
{
	struct gc_waiter *w = arg;
	int token;
	w->rc = w->bs->ops->gc_lock(w->bs, 0, &token);
	__atomic_store_n(&w->done, 1, __ATOMIC_SEQ_CST);
	if (!w->rc)
		w->bs->ops->gc_unlock(w->bs, token);
	return NULL;
}

static void test_blobstore_fs(void)
{
	char *dir = unit_tmpdir();
	struct blobstore *bs;
	CHECK(blobstore_fs_open(dir, &bs) == 0);
	struct upload_file *u;
	int64_t size;
	CHECK(bs->ops->upload_open(bs, "u1", 1, &u, &size) == 0 && size == 0);
	CHECK(bs->ops->upload_write(u, "hello world", 11) == 0);
	CHECK(bs->ops->upload_truncate(u, 5) == 0);
	char buf[16];
	size_t got;
	CHECK(bs->ops->upload_read(u, 0, buf, sizeof(buf), &got) == 0 && got == 5 && !memcmp(buf, "hello", 5));
	struct digest d;
	digest_of(DIGEST_SHA256, "hello", 5, &d);
	CHECK(bs->ops->blob_stat(bs, d.str, &size) == DD_E_BLOB_UNKNOWN);
	CHECK(bs->ops->upload_commit(bs, u, d.str) == 0);
	CHECK(bs->ops->blob_stat(bs, d.str, &size) == 0 && size == 5);
	CHECK(bs->ops->upload_open(bs, "u1", 0, &u, &size) == DD_E_BLOB_UPLOAD_UNKNOWN);
	/* committing the same content again drops the upload */
	CHECK(bs->ops->upload_open(bs, "u2", 1, &u, &size) == 0);
	CHECK(bs->ops->upload_write(u, "hello", 5) == 0);
	CHECK(bs->ops->upload_commit(bs, u, d.str) == 0);
	int fd;
	CHECK(bs->ops->blob_open_fd(bs, d.str, &fd, &size) == 0 && size == 5);
	close(fd);
	/* listing: the blob, not the upload, nor a file whose name is no digest */
	char odd[600];
	snprintf(odd, sizeof(odd), "%s/blobs/sha256/2c/not-a-digest", dir);
	FILE *f = fopen(odd, "w");
	CHECK(f != NULL);
	if (f)
		fclose(f);
	struct listing l = {0};
	CHECK(bs->ops->upload_open(bs, "u3", 1, &u, &size) == 0);
	bs->ops->upload_close(u);
	CHECK(bs->ops->blobs_each(bs, list_one, &l) == 0);
	CHECK(l.n == 1 && !strcmp(l.last, d.str) && l.mtime > 0);
	CHECK(bs->ops->blob_remove(bs, d.str) == 0);
	CHECK(bs->ops->blob_open_fd(bs, d.str, &fd, &size) == DD_E_BLOB_UNKNOWN);
	/* the gc lock: a commit (shared) waits while a collection (exclusive) holds it */
	struct gc_waiter w = {.bs = bs};
	int token;
	pthread_t t;
	CHECK(bs->ops->gc_lock(bs, 1, &token) == 0);
	CHECK(pthread_create(&t, NULL, take_shared, &w) == 0);
	usleep(20000);
	CHECK(!__atomic_load_n(&w.done, __ATOMIC_SEQ_CST)); /* cannot have it yet, however long it tried */
	bs->ops->gc_unlock(bs, token);
	pthread_join(t, NULL);
	CHECK(w.done && w.rc == 0);
	CHECK(bs->ops->gc_lock(bs, 0, &token) == 0); /* shared with another shared holder */
	int token2;
	CHECK(bs->ops->gc_lock(bs, 0, &token2) == 0);
	bs->ops->gc_unlock(bs, token2);
	bs->ops->gc_unlock(bs, token);
	bs->ops->free(bs);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
	free(dir);
}

/* DRYDOCK_TEST_PG: a PostgreSQL server's URL (its "postgres" database), set when the store's
 * tests run again on PostgreSQL (tests/run.sh, with tests/store/with_s3.py --pg): the tests that
 * use fresh_meta then run on a database of their own there, with the same expectations, but for
 * what is SQLite's own (its file's form, its migrations) or differs on purpose (on_pg). */
static const char *pg_server(void)
{
	const char *u = getenv("DRYDOCK_TEST_PG");
	return u && *u ? u : NULL;
}

/* A new metadata store: SQLite in a fresh directory (path: its file), or on PostgreSQL a new
 * database (path: its URL); remove_dir when done. */
static struct meta *fresh_meta(char **dir, char *path, size_t n)
{
	*dir = unit_tmpdir();
	snprintf(path, n, "%s/meta.db", *dir);
	struct meta *m = NULL;
	const char *server = pg_server();
	if (!server) {
		CHECK(meta_sqlite_open(path, &m) == 0);
		return m;
	}
	char name[64], cmd[96];
	snprintf(name, sizeof(name), "u_%ld_%d", (long)getpid(), rand());
	snprintf(cmd, sizeof(cmd), "CREATE DATABASE %s", name);
	PGconn *pg = PQconnectdb(server);
	PGresult *r = PQexec(pg, cmd);
	CHECK(PQresultStatus(r) == PGRES_COMMAND_OK);
	PQclear(r);
	PQfinish(pg);
	const char *slash = strrchr(server, '/');
	snprintf(path, n, "%.*s/%s", (int)(slash - server), server, name);
	CHECK(meta_pg_open(path, &m) == 0);
	return m;
}

static int on_pg(const char *path) { return !strncmp(path, "postgresql://", 13); }

/* Runs SQL on the store at path (a file, or a URL), as a tool other than drydock would. */
static void sql(const char *path, const char *text)
{
	if (on_pg(path)) {
		PGconn *pg = PQconnectdb(path);
		PGresult *r = PQexec(pg, text);
		int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
		CHECK(ok);
		if (!ok)
			fprintf(stderr, "  sql: %s\n", PQresultErrorMessage(r));
		PQclear(r);
		PQfinish(pg);
		return;
	}
	sqlite3 *db;
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	char *err = NULL;
	CHECK(sqlite3_exec(db, text, NULL, NULL, &err) == SQLITE_OK);
	if (err)
		fprintf(stderr, "  sql: %s\n", err);
	sqlite3_free(err);
	sqlite3_close(db);
}

static void remove_dir(char *dir)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
	free(dir);
}

static void test_meta_sqlite(void)
{
	char *dir, path[512];
	struct meta *m = fresh_meta(&dir, path, sizeof(path));
	if (!m)
		return;
	struct arena a = {0};
	int64_t size;
	CHECK(m->repos->repo_exists(m, "r") == DD_E_NAME_UNKNOWN);
	CHECK(m->repos->blob_link(m, "r", D1, 42) == 0);
	CHECK(m->repos->repo_exists(m, "r") == 0);
	CHECK(m->repos->blob_linked(m, "r", D1, &size) == 0 && size == 42);
	CHECK(m->repos->blob_linked(m, "other", D1, &size) == DD_E_BLOB_UNKNOWN);

	struct manifest_ref refs[] = {{D1, REF_BLOB, 0}};
	struct manifest_put p = {.rec = {.repo = "r", .digest = "sha256:aa", .media_type = "t", .artifact_type = "",
					 .subject = "", .annotations = "", .content = "{}", .size = 2},
				 .tag = "v1", .refs = refs, .nrefs = 1};
	const char *missing;
	CHECK(m->repos->manifest_put(m, &a, &p, &missing) == 0);
	struct manifest_ref bad_refs[] = {{"sha256:404", REF_BLOB, 0}};
	struct manifest_put p2 = p;
	p2.refs = bad_refs;
	p2.tag = "v2";
	CHECK(m->repos->manifest_put(m, &a, &p2, &missing) == DD_E_MANIFEST_BLOB_UNKNOWN);
	CHECK_STR(missing, "sha256:404");
	struct manifest_rec rec;
	CHECK(m->repos->manifest_get(m, &a, "r", "v1", 0, 1, &rec) == 0);
	CHECK_STR(rec.digest, "sha256:aa");
	CHECK(rec.size == 2 && !memcmp(rec.content, "{}", 2));
	CHECK(m->repos->manifest_get(m, &a, "r", "v2", 0, 1, &rec) == DD_E_MANIFEST_UNKNOWN);
	CHECK(m->repos->manifest_get(m, &a, "nope", "v1", 0, 1, &rec) == DD_E_NAME_UNKNOWN);

	/* tags sorted and paged */
	const char *names[] = {"c", "a", "b"};
	for (size_t i = 0; i < 3; i++) {
		p.tag = names[i];
		CHECK(m->repos->manifest_put(m, &a, &p, &missing) == 0);
	}
	const char **v;
	size_t n;
	int more;
	CHECK(m->repos->tags_list(m, &a, "r", "", 2, &v, &n, &more) == 0);
	CHECK(n == 2 && more && !strcmp(v[0], "a") && !strcmp(v[1], "b"));
	CHECK(m->repos->tags_list(m, &a, "r", "b", 2, &v, &n, &more) == 0);
	CHECK(n == 2 && !more && !strcmp(v[0], "c") && !strcmp(v[1], "v1"));
	CHECK(m->repos->tag_delete(m, "r", "a") == 0);
	CHECK(m->repos->tag_delete(m, "r", "a") == DD_E_MANIFEST_UNKNOWN);
	CHECK(m->repos->manifest_delete(m, "r", "sha256:aa") == 0);
	CHECK(m->repos->tags_list(m, &a, "r", "", 100, &v, &n, &more) == 0 && n == 0);

	/* uploads and the session cap */
	enum upload_cap cap;
	CHECK(m->repos->upload_create(m, "u1", "r", "alice", 1, 0, &cap) == 0 && cap == UPLOAD_CAP_NONE);
	CHECK(m->repos->upload_create(m, "u2", "r", "bob", 1, 0, &cap) == DD_E_TOOMANYREQUESTS && cap == UPLOAD_CAP_ALL);
	CHECK(m->repos->upload_set_offset(m, "u1", 0, 77) == 0);
	struct upload_rec ur;
	CHECK(m->repos->upload_get(m, &a, "u1", &ur) == 0 && ur.offset == 77 && !strcmp(ur.repo, "r"));
	/* moved by another request meanwhile: refused, left where that one put it */
	CHECK(m->repos->upload_set_offset(m, "u1", 0, 5) == DD_E_BUSY);
	CHECK(m->repos->upload_get(m, &a, "u1", &ur) == 0 && ur.offset == 77);
	CHECK(m->repos->upload_set_offset(m, "none", 0, 5) == DD_E_BLOB_UPLOAD_UNKNOWN);
	CHECK(m->repos->upload_delete(m, "u1") == 0);
	CHECK(m->repos->upload_get(m, &a, "u1", &ur) == DD_E_BLOB_UPLOAD_UNKNOWN);

	/* the cap of one owner leaves the others their room; its sessions are listed least recently
	 * used first, and a session moved on goes to the end */
	const char *ids[] = {"a1", "a2", "a3"};
	for (int i = 0; i < 3; i++)
		CHECK(m->repos->upload_create(m, ids[i], "r", "alice", 100, 3, &cap) == 0);
	CHECK(m->repos->upload_create(m, "a4", "r", "alice", 100, 3, &cap) == DD_E_TOOMANYREQUESTS && cap == UPLOAD_CAP_OWNER);
	CHECK(m->repos->upload_create(m, "b1", "r", "addr:127.0.0.1", 100, 3, &cap) == 0 && cap == UPLOAD_CAP_NONE);
	CHECK(m->repos->upload_create(m, "c1", "r", "carol", 100, 0, &cap) == 0); /* 0: no cap */
	CHECK(m->repos->upload_set_offset(m, "a1", 0, 5) == 0);
	const char **own;
	CHECK(m->repos->uploads_of_owner(m, &a, "alice", 10, &own, &n) == 0 && n == 3);
	CHECK(n == 3 && !strcmp(own[0], "a2") && !strcmp(own[1], "a3") && !strcmp(own[2], "a1"));
	CHECK(m->repos->uploads_of_owner(m, &a, "alice", 1, &own, &n) == 0 && n == 1 && !strcmp(own[0], "a2"));
	CHECK(m->repos->upload_delete(m, "a2") == 0);
	CHECK(m->repos->upload_create(m, "a4", "r", "alice", 100, 3, &cap) == 0);
	CHECK(m->repos->uploads_of_owner(m, &a, "nobody", 10, &own, &n) == 0 && n == 0);
	arena_free(&a);
	meta_free(m);
	remove_dir(dir);
}

/* Assessments: reports and inventories come back exactly as stored (they are kept compressed),
 * a re-assessment of the stored inventory rewrites only the report, rows written as text
 * before still read, and a damaged compressed value reads as empty instead of failing. */
static char *filler(const char *tag, size_t n)
{
	static const char unit[] = "{\"id\": \"CVE-2024-0001\", \"caf\xc3\xa9\"},\n";
	char *t = malloc(n + 1);
	for (size_t i = 0; i < n; i++)
		t[i] = unit[i % (sizeof(unit) - 1)];
	memcpy(t, tag, strlen(tag));
	t[n] = 0;
	return t;
}

static void test_meta_assessments(void)
{
	char *dir, path[512];
	struct meta *m = fresh_meta(&dir, path, sizeof(path));
	if (!m)
		return;
	struct arena a = {0};
	struct manifest_ref refs[] = {{D1, REF_BLOB, 0}};
	CHECK(m->repos->blob_link(m, "r", D1, 42) == 0);
	struct manifest_put p = {.rec = {.repo = "r", .digest = "sha256:aa", .media_type = "t", .artifact_type = "",
					 .subject = "", .annotations = "", .content = "{}", .size = 2},
				 .tag = "v1", .refs = refs, .nrefs = 1, .queue_scan = 1};
	const char *missing;
	CHECK(m->repos->manifest_put(m, &a, &p, &missing) == 0);
	struct scan_job *jobs;
	size_t n;
	CHECK(m->scans->scan_claim(m, &a, 8, NULL, &jobs, &n) == 0 && n == 1);
	char *report = filler("report-1", 100000), *inventory = filler("inventory", 20000);
	struct scan_done d = {.job = jobs[0].id,
			      .rec = {.repo = "r", .digest = "sha256:aa", .status = "Unhealthy", .reason = "",
				      .report = report, .inventory = inventory, .db_generation = "g1",
				      .findings_hash = "h1", .counts = "1 2 3 4 5 6 7", .scanned_at = 1,
				      .duration_us = 2}};
	CHECK(m->scans->scan_complete(m, &d, 1) == 0);
	struct assessment_rec got;
	CHECK(m->scans->assessment_get(m, &a, "r", "sha256:aa", &got) == 0);
	CHECK(!strcmp(got.report, report) && !strcmp(got.inventory, inventory) && !strcmp(got.status, "Unhealthy") &&
	      !strcmp(got.counts, "1 2 3 4 5 6 7"));
	sqlite3 *db; /* stored compressed: a zstd frame, far smaller than the text */
	sqlite3_stmt *st;
	if (!on_pg(path)) {
		CHECK(sqlite3_open(path, &db) == SQLITE_OK);
		CHECK(sqlite3_prepare_v2(db, "SELECT typeof(report), length(report) FROM assessment_reports", -1, &st, NULL) ==
		      SQLITE_OK);
		CHECK(sqlite3_step(st) == SQLITE_ROW && !strcmp((const char *)sqlite3_column_text(st, 0), "blob") &&
		      sqlite3_column_int(st, 1) < 10000);
		sqlite3_finalize(st);
		sqlite3_close(db);
	}
	const char *inv, *hash;
	CHECK(m->scans->assessment_inventory(m, &a, "r", "sha256:aa", &inv, &hash) == 0 && !strcmp(inv, inventory) &&
	      !strcmp(hash, "h1"));
	/* a batch's at once: in the jobs' order, none where nothing is stored (names an array's
	 * text must quote) */
	struct scan_job few[] = {{.repo = "r", .digest = "sha256:none"}, {.repo = "r", .digest = "sha256:aa"},
				 {.repo = "a \"b\",{c}", .digest = "sha256:x'y"}};
	const char *invs[3] = {"x", "x", "x"}, *hashes[3] = {"x", "x", "x"};
	for (size_t from = 0, got = 0; from < 3; from += got) { /* a prefix each time, at least one */
		CHECK(m->scans->assessment_inventories(m, &a, few + from, 3 - from, 1 << 20, invs + from, hashes + from,
						       &got) == 0 &&
		      got >= 1 && got <= 3 - from);
		CHECK(!on_pg(path) || got == 3); /* PostgreSQL: the three in one statement */
		if (!got)
			break;
	}
	CHECK(!invs[0] && !hashes[0] && invs[1] && !strcmp(invs[1], inventory) && !strcmp(hashes[1], "h1") && !invs[2] &&
	      !hashes[2]);
	/* past the bytes asked for, the rest is left for the next call (the first always answered) */
	struct scan_job twice[] = {{.repo = "r", .digest = "sha256:aa"}, {.repo = "r", .digest = "sha256:aa"}};
	size_t first = 0;
	CHECK(m->scans->assessment_inventories(m, &a, twice, 2, 1, invs, hashes, &first) == 0 && first == 1 && invs[0] &&
	      !strcmp(invs[0], inventory));

	/* re-assessed from the stored inventory: a new report, the inventory as it was */
	int64_t queued = 0;
	CHECK(m->scans->scan_enqueue_stale(m, "g2", &queued) == 0 && queued == 1);
	CHECK(m->scans->scan_claim(m, &a, 8, NULL, &jobs, &n) == 0 && n == 1);
	char *report2 = filler("report-2", 50000);
	d.job = jobs[0].id;
	d.inventory_kept = 1;
	d.rec.report = report2;
	d.rec.inventory = "";
	d.rec.db_generation = "g2";
	d.rec.findings_hash = "h2";
	CHECK(m->scans->scan_complete(m, &d, 1) == 0);
	CHECK(m->scans->assessment_get(m, &a, "r", "sha256:aa", &got) == 0);
	CHECK(!strcmp(got.report, report2) && !strcmp(got.inventory, inventory) && !strcmp(got.db_generation, "g2"));

	/* a row written as text (before compression) and a damaged compressed value */
	if (!on_pg(path)) {
		CHECK(sqlite3_open(path, &db) == SQLITE_OK);
		CHECK(sqlite3_exec(db,
				   "UPDATE assessment_reports SET report='{\"old\": true}';"
				   "UPDATE assessment_inventories SET inventory=x'28b52ffd2005010000'",
				   NULL, NULL, NULL) == SQLITE_OK);
		sqlite3_close(db);
		CHECK(m->scans->assessment_get(m, &a, "r", "sha256:aa", &got) == 0);
		CHECK(!strcmp(got.report, "{\"old\": true}") && !strcmp(got.inventory, ""));
	} else { /* PostgreSQL stores every non-empty value as a frame: a damaged one reads as "" */
		sql(path, "UPDATE assessment_inventories SET inventory='\\x28b52ffd2005010000'::bytea");
		CHECK(m->scans->assessment_get(m, &a, "r", "sha256:aa", &got) == 0);
		CHECK(!strcmp(got.report, report2) && !strcmp(got.inventory, ""));
	}
	free(report);
	free(report2);
	free(inventory);
	arena_free(&a);
	meta_free(m);
	remove_dir(dir);
}

/* What gc may collect: blobs no manifest names (a foreign layer counts as named), last
 * uploaded or mounted before the cutoff; forgetting re-checks both. */
static void test_meta_unreferenced(void)
{
	char *dir, path[512];
	struct meta *m = fresh_meta(&dir, path, sizeof(path));
	if (!m)
		return;
	struct arena a = {0};
	const char *blob[4] = {"sha256:a1", "sha256:b2", "sha256:c3", "sha256:d4"};
	for (int i = 0; i < 4; i++)
		CHECK(m->repos->blob_link(m, i == 3 ? "s" : "r", blob[i], 10 + i) == 0);
	struct manifest_ref refs[] = {{"sha256:a1", REF_BLOB, 0}, {"sha256:b2", REF_FOREIGN, 0}};
	struct manifest_put p = {.rec = {.repo = "r", .digest = "sha256:m1", .media_type = "t", .artifact_type = "",
					 .subject = "", .annotations = "", .content = "{}", .size = 2},
				 .tag = "v1", .refs = refs, .nrefs = 2};
	const char *missing, **v;
	int64_t *sizes;
	size_t n;
	CHECK(m->repos->manifest_put(m, &a, &p, &missing) == 0);
	int64_t later = util_now() + 10;
	CHECK(m->repos->blobs_unreferenced(m, &a, util_now() - 10, "", 10, &v, &sizes, &n) == 0 && n == 0); /* grace */
	CHECK(m->repos->blobs_unreferenced(m, &a, later, "", 10, &v, &sizes, &n) == 0 && n == 2);
	CHECK_STR(v[0], "sha256:c3");
	CHECK_STR(v[1], "sha256:d4");
	CHECK(sizes[0] == 12 && sizes[1] == 13);
	CHECK(m->repos->blobs_unreferenced(m, &a, later, "sha256:c3", 10, &v, &sizes, &n) == 0 && n == 1);
	CHECK_STR(v[0], "sha256:d4");
	CHECK(m->repos->blobs_unreferenced(m, &a, later, "", 1, &v, &sizes, &n) == 0 && n == 1);
	CHECK(m->repos->blob_forget(m, "sha256:a1", later) == DD_E_NOT_FOUND); /* named */
	CHECK(m->repos->blob_forget(m, "sha256:c3", util_now() - 10) == DD_E_NOT_FOUND); /* within the grace */
	CHECK(m->repos->blob_forget(m, "sha256:d4", later) == 0);
	CHECK(m->repos->blob_known(m, "sha256:d4") == DD_E_BLOB_UNKNOWN);
	CHECK(m->repos->blob_linked(m, "s", "sha256:d4", NULL) == DD_E_BLOB_UNKNOWN);
	CHECK(m->repos->blob_known(m, "sha256:c3") == 0);
	/* the manifest goes: its blobs are named by nothing */
	CHECK(m->repos->manifest_delete(m, "r", "sha256:m1") == 0);
	CHECK(m->repos->blobs_unreferenced(m, &a, later, "", 10, &v, &sizes, &n) == 0 && n == 3);
	arena_free(&a);
	meta_free(m);
	remove_dir(dir);
}

/* A data directory from before a column was added: opening adds it, old rows read with it empty. */
/* Referrers stored before an image manifest without artifactType was given its config's media
 * type get it once when the data directory is opened. */
static void test_meta_referrer_migration(void)
{
	char *dir = unit_tmpdir(), path[512];
	snprintf(path, sizeof(path), "%s/meta.db", dir);
	struct meta *m = NULL;
	CHECK(meta_sqlite_open(path, &m) == 0);
	if (!m)
		return;
	meta_free(m);
	sqlite3 *db;
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db,
			   "DELETE FROM settings WHERE key='migrated.referrer-artifact-type';"
			   "INSERT INTO manifests(repo, digest, media_type, artifact_type, subject, annotations, size, content,"
			   " created) VALUES('r', 'sha256:ref', 'application/vnd.oci.image.manifest.v1+json', '', 'sha256:s',"
			   " '', 2, '{\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\"}}', 1),"
			   " ('r', 'sha256:idx', 'application/vnd.oci.image.index.v1+json', '', 'sha256:s', '', 2,"
			   " '{\"manifests\":[]}', 1);",
			   NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	CHECK(meta_sqlite_open(path, &m) == 0);
	if (m)
		meta_free(m);
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	sqlite3_stmt *st;
	CHECK(sqlite3_prepare_v2(db, "SELECT digest, artifact_type FROM manifests ORDER BY digest", -1, &st, NULL) ==
	      SQLITE_OK);
	CHECK(sqlite3_step(st) == SQLITE_ROW && !strcmp((const char *)sqlite3_column_text(st, 1), ""));
	CHECK(sqlite3_step(st) == SQLITE_ROW &&
	      !strcmp((const char *)sqlite3_column_text(st, 1), "application/vnd.oci.image.config.v1+json"));
	sqlite3_finalize(st);
	sqlite3_close(db);
	remove_dir(dir);
}

/* Stores manifest digest of repo naming blob D1 (tagged tag, or untagged for NULL), its scan
 * queued with queue_scan: manifest_put's answer. */
static int put_image(struct meta *m, struct arena *a, const char *repo, const char *digest, const char *tag,
		     int queue_scan)
{
	struct manifest_ref refs[] = {{D1, REF_BLOB, 0}};
	struct manifest_put p = {.rec = {.repo = repo, .digest = digest, .media_type = "t", .artifact_type = "",
					 .subject = "", .annotations = "", .content = "{}", .size = 2},
				 .refs = refs, .nrefs = 1, .tag = tag, .queue_scan = queue_scan};
	const char *missing;
	return m->repos->manifest_put(m, a, &p, &missing);
}

/* Manifest `digest` of repository r (over blob D1, linked before) put with its scan queued, and
 * that scan claimed: the job's id (0 when a step failed, checked). */
static int64_t claimed_scan(struct meta *m, struct arena *a, const char *digest)
{
	struct scan_job *jobs;
	size_t n = 0;
	CHECK(put_image(m, a, "r", digest, NULL, 1) == 0);
	CHECK(m->scans->scan_claim(m, a, 8, NULL, &jobs, &n) == 0 && n == 1);
	return n == 1 ? jobs[0].id : 0;
}

/* The findings cache reads reports of the compact writer's form without jansson, and any other
 * JSON with it: the same findings give the same list, whichever read them. */
static int idc_collect(void *ctx, const struct assessment_rec *rec, const char *key, const struct idc_finding *f,
		       size_t n)
{
	char *out = ctx;
	size_t len = strlen(out);
	len += (size_t)snprintf(out + len, 4096 - len, "%s %s %zu:", rec->digest, key, n);
	for (size_t i = 0; i < n && len < 4000; i++) {
		len += (size_t)snprintf(out + len, 4096 - len, " [%s|%s|%s|%s|%s", f[i].id, f[i].package, f[i].severity,
					f[i].path, f[i].version);
		for (size_t k = 0; k < f[i].naliases && len < 4000; k++)
			len += (size_t)snprintf(out + len, 4096 - len, "|%s", f[i].aliases[k]);
		len += (size_t)snprintf(out + len, 4096 - len, "]");
	}
	snprintf(out + len, 4096 - len, "\n");
	return 0;
}

static void test_idcache_reports(void)
{
	char *dir, path[512];
	struct meta *m = fresh_meta(&dir, path, sizeof(path));
	if (!m)
		return;
	struct arena a = {0};
	static const char *const reports[] = {
		/* the compact writer's form: read without jansson */
		"{\"image\":\"r\",\"findings\":[{\"id\":\"CVE-1\",\"aliases\":[\"GHSA-x\",7,\"DSA-1\"],\"package\":\"p\","
		"\"package_version\":\"1.0\",\"cvss\":{\"score\":1.0,\"vector\":\"a,b}\"},\"remediation\":\"say \\\"hi\\\"\","
		"\"severity\":\"HIGH\"},{\"id\":\"CVE-2\",\"aliases\":[],\"package\":\"q\",\"package_version\":null,"
		"\"path\":\"/app/q.jar\",\"severity\":\"LOW\"}],\"fix_plan\":[]}",
		/* the same findings spaced and escaped: read by jansson */
		"{\"findings\": [{\"id\": \"CVE-\\u0031\", \"aliases\": [\"GHSA-x\", 7, \"DSA-1\"], \"package\": \"p\","
		" \"package_version\": \"1.0\", \"severity\": \"HIGH\"}, {\"id\": \"CVE-2\", \"package\": \"q\","
		" \"path\": \"/app/q.jar\", \"severity\": \"LOW\"}]}",
		/* not JSON, and no findings */
		"{\"findings\":[{\"id\":", "{\"findings\":[]}"};
	CHECK(m->repos->blob_link(m, "r", D1, 42) == 0);
	for (size_t i = 0; i < DD_ARRAY_LEN(reports); i++) {
		char digest[80];
		snprintf(digest, sizeof(digest), "sha256:%064zu", i);
		struct scan_done d = {.job = claimed_scan(m, &a, digest),
				      .rec = {.repo = "r", .digest = digest, .status = "Unhealthy", .reason = "",
					      .report = reports[i], .inventory = "", .db_generation = "g",
					      .findings_hash = "h", .counts = "0 1 0 1 0 0 0", .scanned_at = 1}};
		CHECK(m->scans->scan_complete(m, &d, 1) == 0);
	}
	char got[4096] = "";
	idcache_clear();
	CHECK(idcache_each(m, "r", idc_collect, got) == 0);
	char want_list[] = "2: [CVE-1|p|HIGH||1.0|GHSA-x|DSA-1] [CVE-2|q|LOW|/app/q.jar|]";
	char *first = strstr(got, "sha256:0000000000000000000000000000000000000000000000000000000000000000 ");
	char *second = strstr(got, "sha256:0000000000000000000000000000000000000000000000000000000000000001 ");
	CHECK(first && second && strstr(first, want_list) && strstr(second, want_list));
	if (first && second) /* one list: the same key */
		CHECK(!strncmp(first + 72, second + 72, 64));
	CHECK(strstr(got, "0000000000002 ") && strstr(got, "0000000000003 "));
	CHECK(strstr(strstr(got, "0000000000002 ") ? strstr(got, "0000000000002 ") : got, " 0:") != NULL);
	if (!first || !second)
		fprintf(stderr, "  got: %s\n", got);
	idcache_clear();
	meta_free(m);
	arena_free(&a);
	remove_dir(dir);
}

/* Each assessment's findings hash beside its name (what the query tables' cache checks), for
 * the registry and for one repository: sorted by bytes, repository then digest, whatever order
 * they were stored in, with the hash of the last assessment. */
static void assess_hashed(struct meta *m, const char *repo, const char *digest, const char *status,
			  const char *counts, int how, int64_t scanned_at, const char *hash);

static void stamp_one(struct meta *m, const char *repo, const char *digest, const char *hash)
{
	assess_hashed(m, repo, digest, "Unhealthy", "0 1 0 0 0 0 1", 0, 1, hash);
}

static char *stamps_text(struct meta *m, struct arena *a, const char *repo)
{
	struct assessment_rec *v;
	size_t n;
	if (m->scans->assessment_stamps(m, a, repo, &v, &n))
		return "(failed)";
	char *out = "";
	for (size_t i = 0; i < n; i++)
		out = arena_printf(a, "%s%s@%s=%s ", out, v[i].repo, v[i].digest + 7, v[i].findings_hash);
	return out;
}

static void test_meta_stamps(void)
{
	char *dir, path[512];
	struct meta *m = fresh_meta(&dir, path, sizeof(path));
	if (!m)
		return;
	/* '-' (0x2d) sorts before '/' (0x2f) and 'B' before 'a' by bytes, not in a locale's order */
	stamp_one(m, "a/x", "sha256:b2", "h1");
	stamp_one(m, "a", "sha256:c3", "h2");
	stamp_one(m, "a-b", "sha256:a1", "h3");
	stamp_one(m, "a", "sha256:B9", "h4");
	stamp_one(m, "a", "sha256:a1", "h5");
	stamp_one(m, "Z", "sha256:a1", "h6");
	stamp_one(m, "a", "sha256:c3", "h7"); /* assessed again: its new hash */
	struct arena a = {0};
	CHECK_STR(stamps_text(m, &a, NULL), "Z@a1=h6 a@B9=h4 a@a1=h5 a@c3=h7 a-b@a1=h3 a/x@b2=h1 ");
	CHECK_STR(stamps_text(m, &a, "a"), "a@B9=h4 a@a1=h5 a@c3=h7 ");
	CHECK_STR(stamps_text(m, &a, "none"), "");
	arena_free(&a);
	meta_free(m);
	remove_dir(dir);
}

/* Writers and readers on many threads at once: transactions (manifests with tags), writes
 * outside any (blob links, upload offsets) and reads, all kept. SQLite makes every write on one
 * connection under its lock, and reads on the pool's. */
struct busy_writer {
	struct meta *m;
	int k, errors;
};

static void *busy_write(void *arg)
{
	struct busy_writer *w = arg;
	struct arena a = {0};
	for (int i = 0; i < 40; i++) {
		char repo[32], digest[80], tag[16], id[32];
		snprintf(repo, sizeof(repo), "busy/%d", w->k);
		snprintf(digest, sizeof(digest), "sha256:%064d", w->k * 1000 + i);
		snprintf(tag, sizeof(tag), "t%d", i);
		snprintf(id, sizeof(id), "up-%d-%d", w->k, i);
		struct manifest_rec got;
		enum upload_cap cap;
		struct upload_rec ur;
		w->errors += (w->m->repos->blob_link(w->m, repo, D1, 42) != 0);
		w->errors += (put_image(w->m, &a, repo, digest, tag, 0) != 0);
		w->errors += (w->m->repos->upload_create(w->m, id, repo, "", 1000000, 0, &cap) != 0);
		w->errors += (w->m->repos->upload_set_offset(w->m, id, 0, i + 1) != 0);
		w->errors += (w->m->repos->manifest_get(w->m, &a, repo, tag, 0, 0, &got) != 0);
		w->errors += (w->m->repos->upload_get(w->m, &a, id, &ur) != 0) || ur.offset != i + 1;
		arena_free(&a);
	}
	return NULL;
}

static void test_meta_busy_threads(void)
{
	char *dir, path[512];
	struct meta *m = fresh_meta(&dir, path, sizeof(path));
	if (!m)
		return;
	struct busy_writer w[4];
	pthread_t t[4];
	for (int k = 0; k < 4; k++) {
		w[k] = (struct busy_writer){.m = m, .k = k};
		CHECK(pthread_create(&t[k], NULL, busy_write, &w[k]) == 0);
	}
	for (int k = 0; k < 4; k++) {
		pthread_join(t[k], NULL);
		CHECK(w[k].errors == 0);
	}
	struct arena a = {0};
	for (int k = 0; k < 4; k++) {
		char repo[32];
		snprintf(repo, sizeof(repo), "busy/%d", k);
		const char **tags;
		size_t n = 0;
		int more;
		CHECK(m->repos->tags_list(m, &a, repo, "", 100, &tags, &n, &more) == 0 && n == 40 && !more);
	}
	arena_free(&a);
	meta_free(m);
	remove_dir(dir);
}

/* A scan that ends after its manifest was deleted, and a new job took its job's id (SQLite gives
 * a deleted row's id to the next row): it stores nothing and leaves the other image's job
 * queued. It deleted the other job and stored an assessment of the deleted image, and the other
 * image was never assessed. */
static void test_scan_job_id_reused(void)
{
	char *dir, path[512];
	struct meta *m = fresh_meta(&dir, path, sizeof(path));
	if (!m)
		return;
	struct arena a = {0};
	CHECK(m->repos->blob_link(m, "r", D1, 42) == 0);
	const char *gone = "sha256:0000000000000000000000000000000000000000000000000000000000000001";
	const char *kept = "sha256:0000000000000000000000000000000000000000000000000000000000000002";
	int64_t job = claimed_scan(m, &a, gone);
	CHECK(m->repos->manifest_delete(m, "r", gone) == 0);
	CHECK(put_image(m, &a, "r", kept, NULL, 1) == 0);
	struct scan_done d = {.job = job,
			      .rec = {.repo = "r", .digest = gone, .status = "Healthy", .reason = "", .report = "{}",
				      .inventory = "inv", .db_generation = "g", .findings_hash = "h",
				      .counts = "0 0 0 0 0 0 0", .scanned_at = 5}};
	CHECK(m->scans->scan_complete(m, &d, 1) == 0);
	struct assessment_rec got;
	CHECK(m->scans->assessment_get(m, &a, "r", gone, &got) == DD_E_NOT_FOUND);
	struct scan_job *jobs;
	size_t n = 0;
	CHECK(m->scans->scan_claim(m, &a, 8, NULL, &jobs, &n) == 0 && n == 1 && !strcmp(jobs[0].digest, kept));
	d.unchanged = 1; /* and the same through the path of the same findings */
	CHECK(m->scans->scan_complete(m, &d, 1) == 0);
	n = 0;
	int64_t queued = 0, running = 0;
	CHECK(m->scans->scan_queue_depth(m, &queued, &running) == 0 && queued + running == 1);
	arena_free(&a);
	meta_free(m);
	remove_dir(dir);
}

/* Tag deletes waiting for the write lock (another process holds it: drydock gc, drydock user)
 * hold no connection of the readers' pool: a read is answered meanwhile. They took pooled
 * connections and waited with them, so eight of them left reads waiting for the other
 * process (SQLite). */
struct tag_deleter {
	struct meta *m;
	int k, rc;
};

static void *delete_tag(void *arg)
{
	struct tag_deleter *t = arg;
	char tag[16];
	snprintf(tag, sizeof(tag), "t%d", t->k);
	t->rc = t->m->repos->tag_delete(t->m, "r", tag);
	return NULL;
}

struct reader {
	struct meta *m;
	int done, rc;
};

static void *read_manifest(void *arg)
{
	struct reader *r = arg;
	struct arena a = {0};
	struct manifest_rec got;
	r->rc = r->m->repos->manifest_get(r->m, &a, "r", "kept", 0, 0, &got);
	arena_free(&a);
	__atomic_store_n(&r->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void test_meta_waiting_writers_leave_reads(void)
{
	char *dir, path[512];
	struct meta *m = fresh_meta(&dir, path, sizeof(path));
	if (!m)
		return;
	if (on_pg(path))
		goto out;
	struct arena a = {0};
	CHECK(m->repos->blob_link(m, "r", D1, 42) == 0);
	for (int k = 0; k <= 8; k++) {
		char tag[16];
		snprintf(tag, sizeof(tag), k == 8 ? "kept" : "t%d", k);
		CHECK(put_image(m, &a, "r", "sha256:0000000000000000000000000000000000000000000000000000000000000009", tag, 0) == 0);
	}
	sqlite3 *other;
	CHECK(sqlite3_open(path, &other) == SQLITE_OK);
	CHECK(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK);
	struct tag_deleter t[8];
	pthread_t th[8], rt;
	for (int k = 0; k < 8; k++) {
		t[k] = (struct tag_deleter){.m = m, .k = k};
		CHECK(pthread_create(&th[k], NULL, delete_tag, &t[k]) == 0);
	}
	usleep(200000); /* the deletes are waiting for the lock */
	struct reader r = {.m = m};
	CHECK(pthread_create(&rt, NULL, read_manifest, &r) == 0);
	for (int i = 0; i < 1000 && !__atomic_load_n(&r.done, __ATOMIC_SEQ_CST); i++) /* up to 10 s */
		usleep(10000);
	CHECK(__atomic_load_n(&r.done, __ATOMIC_SEQ_CST)); /* answered while the lock was still held */
	sqlite3_exec(other, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(other);
	pthread_join(rt, NULL);
	CHECK(r.rc == 0);
	for (int k = 0; k < 8; k++) {
		pthread_join(th[k], NULL);
		CHECK(t[k].rc == 0);
	}
	arena_free(&a);
out:
	meta_free(m);
	remove_dir(dir);
}

/* A node renews the leases of the scans it holds: on PostgreSQL, a renewed job is not claimed
 * again past its first lease; one no longer renewed is, once its lease runs out (by the
 * database's clock, in whole seconds). SQLite: renewing does nothing and fails nothing. */
static void test_scan_renew(void)
{
	char *dir, path[512];
	struct meta *m = fresh_meta(&dir, path, sizeof(path));
	if (!m)
		return;
	struct arena a = {0};
	m->scan_lease = 1;
	CHECK(m->repos->blob_link(m, "r", D1, 42) == 0);
	int64_t id = claimed_scan(m, &a, "sha256:aa"), gone = 999999;
	struct scan_job *jobs;
	size_t n = 0;
	int64_t ids[] = {id, gone};
	CHECK(m->scans->scan_renew(m, ids, 0) == 0);
	if (on_pg(path)) {
		for (int i = 0; i < 2; i++) {
			usleep(1100000);
			CHECK(m->scans->scan_renew(m, ids, 2) == 0);
		}
		CHECK(m->scans->scan_claim(m, &a, 8, NULL, &jobs, &n) == DD_E_NOT_FOUND);
		usleep(2100000);
		CHECK(m->scans->scan_claim(m, &a, 8, NULL, &jobs, &n) == 0 && n == 1 && jobs[0].id == id);
	} else {
		CHECK(m->scans->scan_renew(m, ids, 2) == 0);
		CHECK(m->scans->scan_claim(m, &a, 8, NULL, &jobs, &n) == DD_E_NOT_FOUND);
	}
	arena_free(&a);
	meta_free(m);
	remove_dir(dir);
}

/* Re-assessments are claimed oldest first and none is left behind: on PostgreSQL a node reads
 * the queue from the last re-assessment it claimed, and from the start when none is queued after
 * it (here, one queued again as an expired lease is, behind the others); a push queued meanwhile
 * is claimed first (both engines). */
static void test_scan_claim_leaves_none_behind(void)
{
	char *dir, path[512];
	struct meta *m = fresh_meta(&dir, path, sizeof(path));
	if (!m)
		return;
	struct arena a = {0};
	struct scan_job *jobs;
	size_t n = 0;
	char digest[7][80];
	CHECK(m->repos->blob_link(m, "r", D1, 42) == 0);
	for (int i = 0; i < 7; i++) {
		int queued = 0;
		snprintf(digest[i], sizeof(digest[i]), "sha256:e%d", i);
		CHECK(put_image(m, &a, "r", digest[i], NULL, 0) == 0);
		if (i < 6)
			CHECK(m->scans->scan_enqueue(m, "r", digest[i], SCAN_REASSESS, &queued) == 0 && queued);
	}
	CHECK(m->scans->scan_claim(m, &a, 2, NULL, &jobs, &n) == 0 && n == 2);
	CHECK(n == 2 && strcmp(jobs[0].digest, jobs[1].digest) && /* e0 and e1, in either order */
	      (!strcmp(jobs[0].digest, digest[0]) || !strcmp(jobs[0].digest, digest[1])) &&
	      (!strcmp(jobs[1].digest, digest[0]) || !strcmp(jobs[1].digest, digest[1])));
	char *again = arena_printf(&a, "UPDATE scan_jobs SET state=%d WHERE digest='%s'", SCAN_JOB_QUEUED, digest[0]);
	sql(path, again);
	int queued = 0;
	CHECK(m->scans->scan_enqueue(m, "r", digest[6], SCAN_PUSH, &queued) == 0 && queued);
	CHECK(m->scans->scan_claim(m, &a, 2, NULL, &jobs, &n) == 0 && n == 1 && jobs[0].priority == SCAN_PUSH &&
	      !strcmp(jobs[0].digest, digest[6]));
	int seen[7] = {0}, claims = 0;
	while (m->scans->scan_claim(m, &a, 2, NULL, &jobs, &n) == 0 && claims++ < 10)
		for (size_t i = 0; i < n; i++)
			for (int k = 0; k < 7; k++)
				seen[k] += !strcmp(jobs[i].digest, digest[k]) && jobs[i].priority == SCAN_REASSESS;
	for (int k = 0; k < 6; k++)
		CHECK(seen[k] == (k != 1)); /* e0 again, e2 to e5 once; e1 is still running */
	CHECK(seen[6] == 0);
	arena_free(&a);
	meta_free(m);
	remove_dir(dir);
}

/* A batch of done scans stored at once: one whose manifest was deleted while it was scanned is
 * dropped, the others stored (both engines: PostgreSQL stores a batch in statements over arrays). */
static void test_scan_complete_batch(void)
{
	char *dir, path[512];
	struct meta *m = fresh_meta(&dir, path, sizeof(path));
	if (!m)
		return;
	struct arena a = {0};
	CHECK(m->repos->blob_link(m, "r", D1, 42) == 0);
	struct scan_done d[3];
	struct scan_job *jobs;
	size_t n;
	char *big = filler("a \"quoted\\\" report", 3000);
	for (int i = 0; i < 3; i++) {
		char *digest = arena_printf(&a, "sha256:%064d", i);
		d[i] = (struct scan_done){.job = claimed_scan(m, &a, digest),
					  .rec = {.repo = "r", .digest = digest, .status = "Unhealthy", .reason = "r\"1",
						  .report = i ? big : "{}", .inventory = i == 1 ? big : "", .db_generation = "g",
						  .findings_hash = "h", .counts = "1 0 0 0 0 0 0", .scanned_at = 5 + i}};
	}
	CHECK(m->repos->manifest_delete(m, "r", d[1].rec.digest) == 0);
	CHECK(m->scans->scan_complete(m, d, 3) == 0);
	struct assessment_rec got;
	CHECK(m->scans->assessment_get(m, &a, "r", d[0].rec.digest, &got) == 0 && !strcmp(got.report, "{}") &&
	      !strcmp(got.reason, "r\"1") && got.scanned_at == 5);
	CHECK(m->scans->assessment_get(m, &a, "r", d[1].rec.digest, &got) == DD_E_NOT_FOUND);
	CHECK(m->scans->assessment_get(m, &a, "r", d[2].rec.digest, &got) == 0 && !strcmp(got.report, big) &&
	      !strcmp(got.inventory, ""));
	/* again with the same findings: only the generation and time move */
	int64_t queued = 0;
	CHECK(m->scans->scan_enqueue_stale(m, "g2", &queued) == 0 && queued == 0); /* no inventory: none */
	for (int i = 0; i < 3; i += 2) {
		int q1;
		CHECK(m->scans->scan_enqueue(m, "r", d[i].rec.digest, SCAN_REASSESS, &q1) == 0 && q1);
		CHECK(m->scans->scan_claim(m, &a, 8, NULL, &jobs, &n) == 0 && n == 1);
		d[i].job = jobs[0].id;
		d[i].unchanged = 1;
		d[i].rec.db_generation = "g2";
		d[i].rec.scanned_at = 9;
	}
	struct scan_done again[2] = {d[0], d[2]};
	CHECK(m->scans->scan_complete(m, again, 2) == 0);
	CHECK(m->scans->assessment_get(m, &a, "r", d[2].rec.digest, &got) == 0 && !strcmp(got.report, big) &&
	      !strcmp(got.db_generation, "g2") && got.scanned_at == 9);
	int64_t qd, running;
	CHECK(m->scans->scan_queue_depth(m, &qd, &running) == 0 && qd == 0 && running == 0);
	free(big);
	meta_free(m);
	arena_free(&a);
	remove_dir(dir);
}

static void test_meta_migration(void)
{
	char *dir = unit_tmpdir(), path[512];
	snprintf(path, sizeof(path), "%s/meta.db", dir);
	sqlite3 *db;
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db,
			   "CREATE TABLE assessments(repo TEXT NOT NULL, digest TEXT NOT NULL, status TEXT NOT NULL,"
			   " reason TEXT NOT NULL, report TEXT NOT NULL, inventory TEXT NOT NULL, db_generation TEXT NOT NULL,"
			   " scanned_at INTEGER NOT NULL, duration_us INTEGER NOT NULL, findings_hash TEXT NOT NULL DEFAULT '',"
			   " PRIMARY KEY(repo, digest)) WITHOUT ROWID;"
			   "INSERT INTO assessments VALUES('r', 'sha256:aa', 'Healthy', '', '{}', 'inv', 'g', 1, 2, 'h');"
			   "CREATE INDEX assessments_list ON assessments(repo, digest, status, reason, db_generation,"
			   " scanned_at, duration_us);"
			   "CREATE TABLE uploads(id TEXT PRIMARY KEY, repo TEXT NOT NULL, offset INTEGER NOT NULL,"
			   " created INTEGER NOT NULL, updated INTEGER NOT NULL) WITHOUT ROWID;"
			   "INSERT INTO uploads VALUES('old', 'r', 3, 1, 1);",
			   NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	struct meta *m = NULL;
	CHECK(meta_sqlite_open(path, &m) == 0);
	if (!m)
		return;
	struct arena a = {0};
	struct assessment_rec got, *v;
	size_t n;
	CHECK(m->scans->assessment_get(m, &a, "r", "sha256:aa", &got) == 0 && !strcmp(got.report, "{}") &&
	      !strcmp(got.inventory, "inv") && !strcmp(got.counts, ""));
	CHECK(m->scans->assessments_list(m, &a, NULL, &v, &n) == 0 && n == 1 && !strcmp(v[0].counts, ""));
	/* a session from before owners were recorded is kept, and counts for no one's cap */
	struct upload_rec ur;
	enum upload_cap cap;
	CHECK(m->repos->upload_get(m, &a, "old", &ur) == 0 && ur.offset == 3);
	CHECK(m->repos->upload_create(m, "new", "r", "alice", 10, 1, &cap) == 0);
	/* the reports and inventories moved out of the assessments' rows, which listings read */
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	sqlite3_stmt *st;
	CHECK(sqlite3_prepare_v2(db,
				 "SELECT (SELECT count(*) FROM pragma_table_info('assessments') WHERE name IN"
				 " ('report', 'inventory')), (SELECT count(*) FROM sqlite_master WHERE name='assessments_list')",
				 -1, &st, NULL) == SQLITE_OK);
	CHECK(sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 0 && sqlite3_column_int(st, 1) == 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	meta_free(m);
	CHECK(meta_sqlite_open(path, &m) == 0); /* and once more: nothing left to add */
	if (m)
		meta_free(m);
	arena_free(&a);
	remove_dir(dir);
}

/* The running totals against a recount of every assessment: counts "%d %d ..." of seven numbers
 * below 10^12 add up, anything else counts as `uncounted`. */
static int canonical_counts(const char *c, long long v[7])
{
	char again[200];
	if (sscanf(c, "%lld %lld %lld %lld %lld %lld %lld", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6]) != 7)
		return 0;
	for (int k = 0; k < 7; k++)
		if (v[k] < 0 || v[k] >= 1000000000000LL)
			return 0;
	snprintf(again, sizeof(again), "%lld %lld %lld %lld %lld %lld %lld", v[0], v[1], v[2], v[3], v[4], v[5], v[6]);
	return !strcmp(again, c);
}

struct recount {
	char repo[64], status[32];
	long long images, c[7], uncounted;
};

static struct recount *recount_at(struct recount *t, size_t *n, const char *repo, const char *status)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp(t[i].repo, repo) && !strcmp(t[i].status, status))
			return &t[i];
	struct recount *x = &t[(*n)++];
	memset(x, 0, sizeof(*x));
	snprintf(x->repo, sizeof(x->repo), "%s", repo);
	snprintf(x->status, sizeof(x->status), "%s", status);
	return x;
}

/* 1 when assessment_totals (per repository and registry-wide) equal a recount; *images: how many. */
static int totals_match(struct meta *m, long long *images)
{
	struct arena a = {0};
	struct assessment_rec *v;
	struct assessment_total *t, *g;
	size_t n, nt, ng, nr = 0;
	struct recount want[64];
	int ok = m->scans->assessments_list(m, &a, NULL, &v, &n) == 0 && n < 20 &&
		 m->scans->assessment_totals(m, &a, NULL, &t, &nt) == 0 && m->scans->assessment_totals(m, &a, "", &g, &ng) == 0;
	for (size_t i = 0; ok && i < n; i++) {
		long long c[7];
		int counted = canonical_counts(v[i].counts, c);
		for (int pass = 0; pass < 2; pass++) {
			struct recount *x = recount_at(want, &nr, pass ? "" : v[i].repo, v[i].status);
			x->images++;
			x->uncounted += !counted;
			for (int k = 0; k < 7 && counted; k++)
				x->c[k] += c[k];
		}
	}
	size_t seen = 0;
	for (size_t pass = 0; ok && pass < 2; pass++)
		for (size_t i = 0; ok && i < (pass ? ng : nt); i++) {
			const struct assessment_total *x = pass ? &g[i] : &t[i];
			struct recount *w = recount_at(want, &nr, x->repo, x->status);
			ok = w->images == x->images && w->uncounted == x->uncounted && w->c[6] == x->unfixed;
			for (int k = 0; k < 6; k++)
				ok &= w->c[k] == x->severity[k];
			seen++;
		}
	ok &= seen == nr; /* and no recounted (repository, status) the totals lack */
	*images = (long long)n;
	arena_free(&a);
	return ok;
}

/* Stores an assessment of repo@digest (a new manifest and its job, or a re-assessment): how 0 stores
 * the whole row, 1 the same findings (only touched), 2 a new report of the stored inventory. */
static void assess_at(struct meta *m, const char *repo, const char *digest, const char *status, const char *counts,
		      int how, int64_t scanned_at);

static void assess(struct meta *m, const char *repo, const char *digest, const char *status, const char *counts,
		   int how)
{
	assess_at(m, repo, digest, status, counts, how, 1);
}

/* assess, at time scanned_at */
static void assess_at(struct meta *m, const char *repo, const char *digest, const char *status, const char *counts,
		      int how, int64_t scanned_at)
{
	assess_hashed(m, repo, digest, status, counts, how, scanned_at, "h");
}

/* assess_at, with findings hash `hash` */
static void assess_hashed(struct meta *m, const char *repo, const char *digest, const char *status,
			  const char *counts, int how, int64_t scanned_at, const char *hash)
{
	struct arena a = {0};
	struct scan_job *jobs;
	size_t n;
	const char *missing;
	struct manifest_put p = {.rec = {.repo = repo, .digest = digest, .media_type = "t", .artifact_type = "",
					 .subject = "", .annotations = "", .content = "{}", .size = 2},
				 .tag = NULL, .queue_scan = 1};
	CHECK(m->repos->manifest_put(m, &a, &p, &missing) == 0);
	int queued; /* a manifest put again is not queued again (a re-tag): queued as Scan again does */
	CHECK(m->scans->scan_enqueue(m, repo, digest, SCAN_PUSH, &queued) == 0);
	CHECK(m->scans->scan_claim(m, &a, 1, NULL, &jobs, &n) == 0 && n == 1);
	struct scan_done d = {.job = jobs[0].id, .unchanged = how == 1, .inventory_kept = how == 2,
			      .rec = {.repo = repo, .digest = digest, .status = status, .reason = "", .report = "{}",
				      .inventory = "inv", .db_generation = "g", .findings_hash = hash, .counts = counts,
				      .scanned_at = scanned_at, .duration_us = 1}};
	CHECK(m->scans->scan_complete(m, &d, 1) == 0);
	arena_free(&a);
}


static void test_meta_totals(void)
{
	char *dir, path[512];
	struct meta *m = fresh_meta(&dir, path, sizeof(path));
	if (!m)
		return;
	long long images;
	struct arena a = {0};
	struct assessment_total *t;
	size_t n;
	CHECK(m->scans->assessment_totals(m, &a, "", &t, &n) == 0 && n == 0);
	/* pushes: statuses, repositories, a repository's listing */
	assess(m, "r1", "sha256:a1", "Unhealthy", "1 2 3 4 5 6 7", 0);
	assess(m, "r1", "sha256:a2", "Unhealthy", "0 1 0 2 0 3 4", 0);
	assess(m, "r1", "sha256:a3", "NotApplicable", "0 0 0 0 0 0 0", 0);
	assess(m, "r2/x", "sha256:b1", "Failed", "0 0 0 0 0 0 0", 0);
	assess(m, "r2/x", "sha256:b2", "Healthy", "0 0 0 0 7 0 0", 0);
	CHECK(totals_match(m, &images) && images == 5);
	/* an assessed manifest put again (a re-tag) queues no scan */
	const char *missing;
	struct manifest_put again = {.rec = {.repo = "r1", .digest = "sha256:a1", .media_type = "t", .artifact_type = "",
					     .subject = "", .annotations = "", .content = "{}", .size = 2},
				     .tag = "retag", .queue_scan = 1};
	int64_t queued = -1, running = -1;
	CHECK(m->repos->manifest_put(m, &a, &again, &missing) == 0);
	CHECK(m->scans->scan_queue_depth(m, &queued, &running) == 0 && queued == 0 && running == 0);
	CHECK(m->scans->assessment_totals(m, &a, "r1", &t, &n) == 0 && n == 2);
	CHECK(!strcmp(t[0].status, "NotApplicable") && t[0].images == 1 && !strcmp(t[1].status, "Unhealthy") &&
	      t[1].images == 2 && t[1].severity[0] == 1 && t[1].severity[1] == 3 && t[1].unfixed == 11);
	/* re-assessments: other findings (the row rewritten), the same findings with counts filled in
	 * (only touched), a status that changes */
	assess(m, "r1", "sha256:a1", "Unhealthy", "2 0 0 0 0 0 1", 0);
	assess(m, "r1", "sha256:a2", "Unhealthy", "0 1 0 2 0 3 5", 1);
	assess(m, "r2/x", "sha256:b2", "Unhealthy", "0 9 0 0 7 0 0", 2);
	assess(m, "r1", "sha256:a3", "NotApplicable", "0 0 0 0 0 0 0", 1);
	CHECK(totals_match(m, &images) && images == 5);
	/* counts in no form drydock writes (and none at all: stored before counts were) */
	sql(path, "UPDATE assessments SET counts='' WHERE digest='sha256:a1';"
		  "UPDATE assessments SET counts='01 2 3 4 5 6 7' WHERE digest='sha256:a2';"
		  "UPDATE assessments SET counts='-1 0 0 0 0 0 0' WHERE digest='sha256:a3';"
		  "UPDATE assessments SET counts='1 2 3' WHERE digest='sha256:b1';"
		  "UPDATE assessments SET counts='1000000000000 0 0 0 0 0 0' WHERE digest='sha256:b2';");
	CHECK(totals_match(m, &images));
	CHECK(m->scans->assessment_totals(m, &a, "", &t, &n) == 0);
	long long uncounted = 0;
	for (size_t i = 0; i < n; i++)
		uncounted += t[i].uncounted;
	CHECK(uncounted == 5);
	sql(path, "UPDATE assessments SET counts='1 1 1 1 1 1 1' WHERE digest IN ('sha256:a1', 'sha256:b2');"
		  "UPDATE assessments SET status='Healthy' WHERE digest='sha256:a3';");
	CHECK(totals_match(m, &images));
	/* deletes: a manifest (its assessment goes with it), an untagged one collected */
	CHECK(m->repos->manifest_delete(m, "r1", "sha256:a1") == 0);
	CHECK(totals_match(m, &images) && images == 4);
	CHECK(m->repos->manifest_forget_untagged(m, "r2/x", "sha256:b1", util_now() + 10) == 0);
	CHECK(totals_match(m, &images) && images == 3);
	/* reopened, the totals are as they were; a data directory from before them gets them */
	meta_free(m);
	if (on_pg(path))
		goto out;
	CHECK(meta_sqlite_open(path, &m) == 0);
	if (!m)
		goto out;
	CHECK(totals_match(m, &images) && images == 3);
	meta_free(m);
	sql(path, "DROP TRIGGER assessments_totals_insert; DROP TRIGGER assessments_totals_delete;"
		  "DROP TRIGGER assessments_totals_update; DROP TABLE assessment_totals;");
	CHECK(meta_sqlite_open(path, &m) == 0);
	if (!m)
		goto out;
	CHECK(totals_match(m, &images) && images == 3);
	assess(m, "r3", "sha256:c1", "Unhealthy", "5 0 0 0 0 0 5", 0);
	CHECK(totals_match(m, &images) && images == 4);
	/* counts with a NUL inside (a tool other than drydock): read up to it, as counts_parse does,
	 * and the row can still be changed and deleted */
	sql(path, "UPDATE assessments SET counts='1 2 3 4 5 6 7' || char(0) || '9 9' WHERE digest='sha256:c1'");
	CHECK(totals_match(m, &images) && images == 4);
	assess(m, "r3", "sha256:c1", "Unhealthy", "0 0 0 0 0 0 1", 0);
	CHECK(totals_match(m, &images) && images == 4);
	sql(path, "UPDATE assessments SET counts='1 2 3 4 5 6 7' || char(0) || '9 9' WHERE digest='sha256:c1'");
	CHECK(m->repos->manifest_delete(m, "r3", "sha256:c1") == 0);
	CHECK(totals_match(m, &images) && images == 3);
	meta_free(m);
out:
	arena_free(&a);
	remove_dir(dir);
}

/* Triggers of the version before, which cut the counts with ltrim and CAST: made again when the
 * directory is opened (a stand-in that keeps no totals, so the totals tell whether it was). */
static int64_t sql_int(const char *path, const char *query);

static void test_meta_totals_triggers_replaced(void)
{
	char *dir, path[512];
	struct meta *m = fresh_meta(&dir, path, sizeof(path));
	if (!m)
		return;
	long long images;
	assess(m, "r1", "sha256:a1", "Unhealthy", "1 2 3 4 5 6 7", 0);
	meta_free(m);
	if (on_pg(path))
		goto out;
	sql(path, "DROP TRIGGER assessments_totals_update; CREATE TRIGGER assessments_totals_update AFTER UPDATE OF"
		  " counts ON assessments BEGIN SELECT ltrim(NEW.counts, '0123456789'); END;");
	CHECK(meta_sqlite_open(path, &m) == 0);
	if (!m)
		goto out;
	assess(m, "r1", "sha256:a1", "Unhealthy", "2 0 0 0 0 0 1", 0);
	CHECK(totals_match(m, &images) && images == 1);
	meta_free(m);
	/* this version's own are kept: opened again, the schema is not changed */
	int64_t v0 = sql_int(path, "PRAGMA schema_version");
	CHECK(meta_sqlite_open(path, &m) == 0);
	meta_free(m);
	CHECK(v0 > 0 && sql_int(path, "PRAGMA schema_version") == v0);
out:
	remove_dir(dir);
}

/* fresh_meta, SQLite only: NULL on PostgreSQL (its directory removed) */
static struct meta *fresh_sqlite(char **dir, char *path, size_t n)
{
	struct meta *m = fresh_meta(dir, path, n);
	if (m && on_pg(path)) {
		meta_free(m);
		remove_dir(*dir);
		return NULL;
	}
	return m;
}

/* Rows of a query, every column as text, one line each (the whole dump in *out, malloc'd). */
static void sql_dump(const char *path, const char *query, char **out)
{
	if (on_pg(path)) {
		struct buf b;
		buf_init(&b, 1 << 20);
		buf_append(&b, "", 0);
		PGconn *pg = PQconnectdb(path);
		PGresult *r = PQexec(pg, query);
		CHECK(PQresultStatus(r) == PGRES_TUPLES_OK);
		for (int i = 0; i < PQntuples(r); i++) {
			for (int j = 0; j < PQnfields(r); j++)
				buf_printf(&b, "%s%s", j ? "|" : "", PQgetisnull(r, i, j) ? "NULL" : PQgetvalue(r, i, j));
			buf_append(&b, "\n", 1);
		}
		PQclear(r);
		PQfinish(pg);
		*out = b.data;
		return;
	}
	sqlite3 *db;
	sqlite3_stmt *st = NULL;
	struct buf b;
	buf_init(&b, 1 << 20);
	buf_append(&b, "", 0);
	CHECK(sqlite3_open(path, &db) == SQLITE_OK && sqlite3_prepare_v2(db, query, -1, &st, NULL) == SQLITE_OK);
	while (st && sqlite3_step(st) == SQLITE_ROW) {
		for (int i = 0; i < sqlite3_column_count(st); i++) {
			const unsigned char *v = sqlite3_column_text(st, i);
			buf_printf(&b, "%s%s", i ? "|" : "", v ? (const char *)v : "NULL");
		}
		buf_append(&b, "\n", 1);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	*out = b.data;
}

/* The scans' store counts a batch's updates in the totals and the history itself (both engines:
 * the rows' `tallied` changed, the update triggers skipping them): random batches of re-assessments
 * stored by scan_complete in one directory, the same updates made by plain SQL in another (the
 * triggers count them), and the two directories' totals and history compared row for row.
 * Statuses move, counts change into and out of forms that are not counted, scans land in the
 * same second as the one before (no assessment counted then), images share a batch. */
static void test_meta_tally_as_triggers(void)
{
	char *da, *db, pa[512], pb[512];
	struct meta *ma = fresh_meta(&da, pa, sizeof(pa));
	if (!ma)
		return;
	struct meta *mb = fresh_meta(&db, pb, sizeof(pb));
	if (!mb) {
		meta_free(ma);
		remove_dir(da);
		return;
	}
	static const char *const repos[] = {"r1", "ns/a", "ns/b/c"};
	static const char *const statuses[] = {"Healthy", "Unhealthy", "NotApplicable", "Failed"};
	static const char *const counts[] = {"1 2 3 4 5 6 7", "0 0 0 0 0 0 0", "2 0 0 0 0 0 1", "01 2 3 4 5 6 7", "",
					     "1 2 3", "1000000000000 0 0 0 0 0 0", "999999999999 0 0 0 0 0 0",
					     "0 0 0 0 7 0 0", "1 2 3 4 5 6 7 ", "1  2 3 4 5 6 7",
					     "12345678901234567890123 0 0 0 0 0 0"};
	char digest[9][16];
	for (int i = 0; i < 9; i++) {
		snprintf(digest[i], sizeof(digest[i]), "sha256:d%d", i);
		assess(ma, repos[i % 3], digest[i], "Unhealthy", "1 2 3 4 5 6 7", 0);
		assess(mb, repos[i % 3], digest[i], "Unhealthy", "1 2 3 4 5 6 7", 0);
	}
	/* a value no version writes (on SQLite, one where adding 1 changes nothing) */
	sql(pa, on_pg(pa) ? "UPDATE assessments SET tallied=-7 WHERE digest='sha256:d0'"
			  : "UPDATE assessments SET tallied=9.3e18 WHERE digest='sha256:d0'");
	uint64_t seed = 12345;
#define NEXT(n) ((seed = seed * 6364136223846793005ULL + 1442695040888963407ULL), (size_t)(seed >> 33) % (n))
	for (int round = 0; round < 100; round++) {
		struct arena a = {0};
		size_t k = 1 + NEXT(4), first = NEXT(9), n = 0;
		struct scan_done d[4];
		struct scan_job *jobs;
		for (size_t j = 0; j < k; j++) {
			size_t i = (first + j * 2) % 9; /* k distinct images */
			int queued;
			CHECK(ma->scans->scan_enqueue(ma, repos[i % 3], digest[i], SCAN_REASSESS, &queued) == 0);
		}
		CHECK(ma->scans->scan_claim(ma, &a, 4, NULL, &jobs, &n) == 0 && n == k);
		struct buf upd;
		buf_init(&upd, 1 << 16);
		for (size_t j = 0; j < n; j++) {
			int how = (int)NEXT(2); /* 0: the findings changed, 1: the same (counts only) */
			const char *st = statuses[NEXT(4)], *c = counts[NEXT(DD_ARRAY_LEN(counts))];
			int64_t at = 1 + (int64_t)NEXT(3);
			d[j] = (struct scan_done){.job = jobs[j].id, .unchanged = how, .inventory_kept = 1,
						  .rec = {.repo = jobs[j].repo, .digest = jobs[j].digest, .status = st,
							  .reason = "", .report = "{}", .inventory = "", .db_generation = "g",
							  .findings_hash = "h", .counts = c, .scanned_at = at, .duration_us = 1}};
			if (how)
				buf_printf(&upd, "UPDATE assessments SET counts='%s', scanned_at=%" PRId64, c, at);
			else
				buf_printf(&upd, "UPDATE assessments SET status='%s', counts='%s', scanned_at=%" PRId64, st, c,
					   at);
			buf_printf(&upd, " WHERE repo='%s' AND digest='%s';", jobs[j].repo, jobs[j].digest);
		}
		CHECK(ma->scans->scan_complete(ma, d, n) == 0);
		sql(pb, upd.data);
		buf_release(&upd);
		arena_free(&a);
		/* after every batch: a difference that a later one would undo is seen too */
		char *ta, *tb, *ha, *hb, *ra, *rb;
		sql_dump(pa, "SELECT * FROM assessment_totals ORDER BY repo, status", &ta);
		sql_dump(pb, "SELECT * FROM assessment_totals ORDER BY repo, status", &tb);
		sql_dump(pa, "SELECT * FROM assessment_days ORDER BY day, ns, status", &ha);
		sql_dump(pb, "SELECT * FROM assessment_days ORDER BY day, ns, status", &hb);
		sql_dump(pa, "SELECT repo, digest, status, counts, scanned_at FROM assessments ORDER BY 1, 2", &ra);
		sql_dump(pb, "SELECT repo, digest, status, counts, scanned_at FROM assessments ORDER BY 1, 2", &rb);
		int same = !strcmp(ra, rb) && !strcmp(ta, tb) && !strcmp(ha, hb);
		CHECK_STR(ra, rb); /* the same rows, */
		CHECK_STR(ta, tb); /* the same totals */
		CHECK_STR(ha, hb); /* and the same history */
		free(ta), free(tb), free(ha), free(hb), free(ra), free(rb);
		if (!same)
			break;
	}
#undef NEXT
	long long images;
	CHECK(totals_match(ma, &images) && images == 9);
	/* and the store counted its batches itself (the triggers did in the other directory) */
	CHECK(sql_int(pa, "SELECT count(*) FROM assessments WHERE tallied IN (1, 2)") > 0);
	CHECK(sql_int(pb, "SELECT count(*) FROM assessments WHERE tallied IN (1, 2)") == 0);
	meta_free(ma);
	meta_free(mb);
	remove_dir(da);
	remove_dir(db);
}

/* Another version's update triggers put back while the server runs (an older `drydock gc` opening
 * the directory): they count every update, so the scans' store leaves its batches to them
 * instead of counting them a second time. */
static void test_meta_tally_other_triggers(void)
{
	char *dir, path[512];
	struct meta *m = fresh_sqlite(&dir, path, sizeof(path));
	if (!m)
		return;
	long long images;
	assess(m, "r1", "sha256:a1", "Unhealthy", "1 2 3 4 5 6 7", 0);
	assess(m, "ns/x", "sha256:a2", "Healthy", "0 0 0 0 0 0 0", 0);
	/* the update triggers made again without the guard, as the version before made them */
	sqlite3 *db;
	sqlite3_stmt *st = NULL;
	struct buf again;
	buf_init(&again, 1 << 20);
	CHECK(sqlite3_open(path, &db) == SQLITE_OK &&
	      sqlite3_prepare_v2(db, "SELECT name, replace(sql, 'NEW.tallied IS OLD.tallied AND ', '') FROM sqlite_master"
				     " WHERE type='trigger' AND instr(sql, 'NEW.tallied IS OLD.tallied')", -1, &st, NULL) == SQLITE_OK);
	int n = 0;
	while (st && sqlite3_step(st) == SQLITE_ROW) {
		buf_printf(&again, "DROP TRIGGER %s; %s;", sqlite3_column_text(st, 0), sqlite3_column_text(st, 1));
		n++;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	CHECK(n == 3);
	sql(path, again.data);
	buf_release(&again);
	assess(m, "r1", "sha256:a1", "Unhealthy", "2 0 0 0 0 0 1", 0); /* the findings changed */
	assess_at(m, "ns/x", "sha256:a2", "Unhealthy", "0 0 1 0 0 0 0", 0, 2); /* and the status */
	assess_at(m, "ns/x", "sha256:a2", "Unhealthy", "0 0 1 0 0 0 0", 1, 3); /* the same findings */
	CHECK(totals_match(m, &images) && images == 2);
	/* the history: both images once, today, the three assessments of ns counted */
	CHECK(sql_int(path, "SELECT sum(images) FROM assessment_days") == 2);
	CHECK(sql_int(path, "SELECT sum(critical) FROM assessment_days") == 2);
	CHECK(sql_int(path, "SELECT sum(assessed) FROM assessment_days WHERE ns='ns'") == 3);
	meta_free(m);
	remove_dir(dir);
}

/* A stream of write transactions with no pause (84 MB, 150 pages each) keeps the WAL within
 * 16,000 pages and one transaction: the writer waits for the thread's checkpoint and runs one. */
static void test_meta_wal_bounded(void)
{
	char *dir, path[512], wal[600];
	struct meta *m = fresh_sqlite(&dir, path, sizeof(path));
	if (!m)
		return;
	snprintf(wal, sizeof(wal), "%s-wal", path);
	size_t n = 600 << 10;
	char *v = filler("big", n); /* settings are stored as they are */
	off_t most = 0;
	for (int k = 0; k < 140; k++) {
		char key[32];
		snprintf(key, sizeof(key), "big/%d", k);
		v[k % 1000] = (char)('a' + k % 26);
		CHECK(m->admin->setting_put(m, key, v) == 0);
		struct stat st;
		if (!stat(wal, &st) && st.st_size > most)
			most = st.st_size;
	}
	CHECK(most > 0 && most <= (off_t)(16000 + 200) * (4096 + 24) + 32);
	free(v);
	meta_free(m);
	remove_dir(dir);
}

/* The WAL is checkpointed by the store's own thread beside the writers, not left to grow until the
 * writer checkpoints itself (past 16,000 pages): after 1,300 pages are written, the file itself
 * grows (only a checkpoint copies pages into it) and a checkpoint is counted, waited for up to
 * 20 s; the data reads back. */
static void test_meta_checkpointed_beside(void)
{
	char *dir, path[512];
	struct meta *m = fresh_sqlite(&dir, path, sizeof(path));
	if (!m)
		return;
	int64_t before = meta_checkpoints();
	size_t n = 64 << 10;
	char *v = filler("big", n); /* settings are stored as they are */
	for (int k = 0; k < 80; k++) { /* 5 MB, 1,300 pages and more */
		char key[32];
		snprintf(key, sizeof(key), "big/%d", k);
		v[0] = (char)('a' + k % 26);
		CHECK(m->admin->setting_put(m, key, v) == 0);
	}
	struct stat st = {0};
	for (int i = 0; i < 2000 && (meta_checkpoints() == before || st.st_size < (4 << 20)); i++) {
		usleep(10000);
		stat(path, &st);
	}
	CHECK(meta_checkpoints() > before && st.st_size >= (4 << 20));
	struct arena a = {0};
	const char *got;
	CHECK(m->admin->setting_get(m, &a, "big/79", &got) == 0 && strlen(got) == n && got[0] == 'a' + 79 % 26);
	arena_free(&a);
	free(v);
	meta_free(m);
	remove_dir(dir);
}

/* A data directory whose assessments table is keyed by name (WITHOUT ROWID, as before): made a
 * rowid table when opened, its rows in the order of the inventories, with its triggers and
 * running totals as they were (and no index of the findings hashes, which is dropped). */
static void test_meta_assessments_ordered(void)
{
	char *dir, path[512];
	struct meta *m = fresh_meta(&dir, path, sizeof(path));
	if (!m)
		return;
	int sqlite = !on_pg(path);
	/* stored in an order that is not the names' */
	assess(m, "r", "sha256:cc", "Unhealthy", "1 0 0 0 0 0 1", 0);
	assess(m, "r", "sha256:aa", "Healthy", "0 0 0 0 0 0 0", 0);
	assess(m, "q", "sha256:bb", "Unhealthy", "0 2 0 0 0 0 2", 0);
	meta_free(m);
	m = NULL;
	if (!sqlite)
		goto out;
	sql(path, "CREATE TABLE keyed(repo TEXT NOT NULL, digest TEXT NOT NULL, status TEXT NOT NULL,"
		  " reason TEXT NOT NULL, db_generation TEXT NOT NULL, scanned_at INTEGER NOT NULL,"
		  " duration_us INTEGER NOT NULL, findings_hash TEXT NOT NULL DEFAULT '', counts TEXT NOT NULL DEFAULT '',"
		  " PRIMARY KEY(repo, digest)) WITHOUT ROWID;"
		  "INSERT INTO keyed SELECT repo, digest, status, reason, db_generation, scanned_at, duration_us,"
		  " findings_hash, counts FROM assessments;"
		  "DROP TABLE assessments; ALTER TABLE keyed RENAME TO assessments;");
	CHECK(meta_sqlite_open(path, &m) == 0);
	if (!m)
		goto out;
	sqlite3 *db;
	sqlite3_stmt *st;
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK(sqlite3_prepare_v2(db,
				 "SELECT (SELECT wr FROM pragma_table_list WHERE schema='main' AND name='assessments'),"
				 " (SELECT group_concat(digest, ' ') FROM (SELECT digest FROM assessments ORDER BY rowid)),"
				 " (SELECT count(*) FROM sqlite_master WHERE type='trigger' AND tbl_name='assessments'),"
				 " (SELECT count(*) FROM sqlite_master WHERE name='assessments_stamps'),"
				 " (SELECT count(*) FROM sqlite_master WHERE name='assessments_ordered')",
				 -1, &st, NULL) == SQLITE_OK);
	CHECK(sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 0 &&
	      !strcmp((const char *)sqlite3_column_text(st, 1), "sha256:cc sha256:aa sha256:bb") &&
	      sqlite3_column_int(st, 2) == 7 && sqlite3_column_int(st, 3) == 0 && sqlite3_column_int(st, 4) == 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	long long images;
	CHECK(totals_match(m, &images) && images == 3);
	/* the triggers made again keep the totals through changes */
	assess(m, "r", "sha256:aa", "Unhealthy", "0 0 3 0 0 0 3", 0);
	assess(m, "q", "sha256:dd", "Healthy", "0 0 0 0 0 0 0", 0);
	CHECK(m->repos->manifest_delete(m, "r", "sha256:cc") == 0);
	CHECK(totals_match(m, &images) && images == 3);
	struct arena a = {0};
	struct assessment_rec got;
	CHECK(m->scans->assessment_get(m, &a, "q", "sha256:bb", &got) == 0 && !strcmp(got.counts, "0 2 0 0 0 0 2") &&
	      !strcmp(got.report, "{}"));
	arena_free(&a);
out:
	if (m)
		meta_free(m);
	remove_dir(dir);
}

/* The history (assessment_days) through pushes, re-assessments with the same findings and with
 * others, an UPDATE of several rows by another tool, and a delete: each day's deltas sum to the
 * level, and every write of an assessment at a new time is counted as assessed (both engines:
 * PostgreSQL counts an UPDATE once a statement). */
static void test_meta_days(void)
{
	char *dir, path[512];
	struct meta *m = fresh_meta(&dir, path, sizeof(path));
	if (!m)
		return;
	assess_at(m, "r1", "sha256:a1", "Unhealthy", "1 2 3 4 5 6 7", 0, 10);
	assess_at(m, "r1/x", "sha256:a2", "Healthy", "0 0 0 0 0 0 0", 0, 10);
	assess_at(m, "r1", "sha256:a1", "Unhealthy", "1 2 3 4 5 6 7", 1, 20); /* the same findings */
	assess_at(m, "r1", "sha256:a1", "Unhealthy", "0 1 0 0 0 0 1", 0, 30); /* others */
	assess_at(m, "r2", "sha256:b1", "Unhealthy", "0 0 2 0 0 0 2", 0, 30);
	sql(path, "UPDATE assessments SET status='Healthy', counts='0 0 0 0 0 0 0' WHERE repo LIKE 'r1%'");
	CHECK(m->repos->manifest_delete(m, "r1/x", "sha256:a2") == 0);
	char today[16];
	time_t now = time(NULL);
	struct tm tm;
	strftime(today, sizeof(today), "%Y-%m-%d", gmtime_r(&now, &tm));
	struct arena a = {0};
	struct assessment_day *d;
	size_t n;
	CHECK(m->scans->assessment_days(m, &a, today, &d, &n) == 0);
	/* by namespace and status: images, the six severities, unfixed, assessed */
	static const struct {
		const char *ns, *status;
		int64_t v[9];
	} want[] = {
		{"r1", "Healthy", {1, 0, 0, 0, 0, 0, 0, 0, 1}},
		{"r1", "Unhealthy", {0, 0, 0, 0, 0, 0, 0, 0, 3}},
		{"r2", "Unhealthy", {1, 0, 0, 2, 0, 0, 0, 2, 1}},
	};
	for (size_t w = 0; w < DD_ARRAY_LEN(want); w++) {
		int64_t got[9] = {0};
		for (size_t i = 0; i < n; i++) {
			if (strcmp(d[i].ns, want[w].ns) || strcmp(d[i].status, want[w].status))
				continue;
			got[0] += d[i].images;
			for (int k = 0; k < 6; k++)
				got[1 + k] += d[i].severity[k];
			got[7] += d[i].unfixed;
			got[8] += d[i].assessed;
		}
		CHECK(!memcmp(got, want[w].v, sizeof(got)));
		if (memcmp(got, want[w].v, sizeof(got)))
			fprintf(stderr, "  %s %s: %lld images, %lld unfixed, %lld assessed\n", want[w].ns, want[w].status,
				(long long)got[0], (long long)got[7], (long long)got[8]);
	}
	long long images;
	CHECK(totals_match(m, &images) && images == 2);
	arena_free(&a);
	meta_free(m);
	remove_dir(dir);
}

/* The numbers the store writes for reference kinds, job priorities and job states are on disk:
 * they stay what data directories already hold, and rows written by an older drydock read
 * as they did. */
static int64_t sql_int(const char *path, const char *query)
{
	if (on_pg(path)) {
		PGconn *pg = PQconnectdb(path);
		PGresult *r = PQexec(pg, query);
		int64_t v = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) ? strtoll(PQgetvalue(r, 0, 0), NULL, 10)
										  : -100;
		PQclear(r);
		PQfinish(pg);
		return v;
	}
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v = -100;
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK(sqlite3_prepare_v2(db, query, -1, &st, NULL) == SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void test_meta_stored_values(void)
{
	char *dir, path[512];
	struct meta *m = fresh_meta(&dir, path, sizeof(path));
	if (!m)
		return;
	struct arena a = {0};
	const char *missing;
	CHECK(m->repos->blob_link(m, "r", D1, 42) == 0);
	struct manifest_put child = {.rec = {.repo = "r", .digest = "sha256:c", .media_type = "t", .artifact_type = "",
					     .subject = "", .annotations = "", .content = "{}", .size = 2}};
	CHECK(m->repos->manifest_put(m, &a, &child, &missing) == 0);
	struct manifest_ref refs[] = {{D1, REF_BLOB, 0}, {"sha256:c", REF_MANIFEST, 0}, {"sha256:f", REF_FOREIGN, 0}};
	struct manifest_put index = child;
	index.rec.digest = "sha256:i";
	index.tag = "v1";
	index.refs = refs;
	index.nrefs = 3;
	index.queue_scan = 1;
	CHECK(m->repos->manifest_put(m, &a, &index, &missing) == 0);
	CHECK(sql_int(path, "SELECT kind FROM manifest_refs WHERE child='" D1 "'") == 0);
	CHECK(sql_int(path, "SELECT kind FROM manifest_refs WHERE child='sha256:c'") == 1);
	CHECK(sql_int(path, "SELECT kind FROM manifest_refs WHERE child='sha256:f'") == 2);
	CHECK(sql_int(path, "SELECT priority FROM scan_jobs WHERE digest='sha256:i'") == 0);
	CHECK(sql_int(path, "SELECT state FROM scan_jobs WHERE digest='sha256:i'") == 0);
	enum scan_job_state state;
	CHECK(m->scans->scan_job_state(m, "r", "sha256:i", &state) == 0 && state == SCAN_JOB_QUEUED);
	struct scan_job *jobs;
	size_t n;
	CHECK(m->scans->scan_claim(m, &a, 8, NULL, &jobs, &n) == 0 && n == 1 && jobs[0].priority == SCAN_PUSH);
	CHECK(sql_int(path, "SELECT state FROM scan_jobs WHERE digest='sha256:i'") == 1);
	CHECK(m->scans->scan_job_state(m, "r", "sha256:i", &state) == 0 && state == SCAN_JOB_RUNNING);
	CHECK(m->scans->scan_job_state(m, "r", "sha256:none", &state) == 0 && state == SCAN_JOB_NONE);
	/* the index names the child: gc keeps it; the blob and the foreign layer are named */
	const char **repos, **digests;
	CHECK(m->repos->manifests_untagged(m, &a, util_now() + 10, "", "", 10, &repos, &digests, &n) == 0 && n == 0);
	int64_t *sizes;
	CHECK(m->repos->blobs_unreferenced(m, &a, util_now() + 10, "", 10, &digests, &sizes, &n) == 0 && n == 0);
	/* rows an older drydock wrote: a running re-assessment, a queued push */
	sql(path, "INSERT INTO manifests(repo, digest, media_type, artifact_type, subject, annotations, size, content,"
		  " created) VALUES('r', 'sha256:o1', 't', '', '', '', 2, '{}', 1), ('r', 'sha256:o2', 't', '', '', '', 2,"
		  " '{}', 1);"
		  "INSERT INTO scan_jobs(repo, digest, priority, state, enqueued) VALUES('r', 'sha256:o1', 1, 1, 1),"
		  " ('r', 'sha256:o2', 0, 0, 1);");
	int64_t queued, running;
	CHECK(m->scans->scan_queue_depth(m, &queued, &running) == 0 && queued == 1 && running == 2);
	CHECK(m->scans->scan_recover(m) == 0); /* and the child, never queued, gets a job */
	if (on_pg(path)) {
		/* many nodes: a running job stays its node's until its lease runs out (sha256:i's runs two
		 * minutes; sha256:o1's, written with none, has run out) */
		CHECK(m->scans->scan_queue_depth(m, &queued, &running) == 0 && queued == 2 && running == 2);
		usleep(1100000); /* a node looks for leases run out at most once a second */
	} else {
		CHECK(m->scans->scan_queue_depth(m, &queued, &running) == 0 && queued == 4 && running == 0);
		CHECK(m->scans->scan_claim(m, &a, 8, NULL, &jobs, &n) == 0 && n == 1 && jobs[0].priority == SCAN_PUSH &&
		      !strcmp(jobs[0].digest, "sha256:i"));
	}
	CHECK(m->scans->scan_claim(m, &a, 8, NULL, &jobs, &n) == 0 && n == 1 && !strcmp(jobs[0].digest, "sha256:o2"));
	CHECK(m->scans->scan_claim(m, &a, 8, NULL, &jobs, &n) == 0 && n == 1 && !strcmp(jobs[0].digest, "sha256:c"));
	CHECK(m->scans->scan_claim(m, &a, 8, NULL, &jobs, &n) == 0 && n == 1 && jobs[0].priority == SCAN_REASSESS &&
	      !strcmp(jobs[0].digest, "sha256:o1"));
	CHECK(m->scans->scan_claim(m, &a, 8, NULL, &jobs, &n) == DD_E_NOT_FOUND);
	arena_free(&a);
	meta_free(m);
	remove_dir(dir);
}

/* A job whose assessment is stored is no job, whatever its row holds until it is cleared (SQLite
 * keeps it DONE until nothing is queued, or the next start): queuing the image again, by a push,
 * Scan again or a new database, makes it a job; a manifest deleted takes its row. */
static void complete_claimed(struct meta *m, struct arena *a, const char *digest, const char *gen,
			     enum scan_priority want)
{
	struct scan_job *jobs;
	size_t n = 0;
	CHECK(m->scans->scan_claim(m, a, 8, NULL, &jobs, &n) == 0 && n == 1 && jobs[0].priority == want &&
	      !strcmp(jobs[0].digest, digest));
	struct scan_done d = {.job = n ? jobs[0].id : 0,
			      .rec = {.repo = "r", .digest = digest, .status = "Healthy", .reason = "", .report = "{}",
				      .inventory = "inv", .db_generation = gen, .findings_hash = gen,
				      .counts = "0 0 0 0 0 0 0", .scanned_at = 1, .duration_us = 1}};
	CHECK(m->scans->scan_complete(m, &d, 1) == 0);
}

static void test_meta_jobs_done(void)
{
	char *dir, path[512];
	struct meta *m = fresh_meta(&dir, path, sizeof(path));
	if (!m)
		return;
	int sqlite = !on_pg(path);
	struct arena a = {0};
	const char *missing;
	struct manifest_put p = {.rec = {.repo = "r", .digest = "sha256:d1", .media_type = "t", .artifact_type = "",
					 .subject = "", .annotations = "", .content = "{}", .size = 2},
				 .queue_scan = 1};
	CHECK(m->repos->manifest_put(m, &a, &p, &missing) == 0);
	p.rec.digest = "sha256:d2";
	CHECK(m->repos->manifest_put(m, &a, &p, &missing) == 0);
	complete_claimed(m, &a, "sha256:d1", "g1", SCAN_PUSH);
	complete_claimed(m, &a, "sha256:d2", "g1", SCAN_PUSH);
	enum scan_job_state state;
	int64_t queued, running;
	CHECK(m->scans->scan_job_state(m, "r", "sha256:d1", &state) == 0 && state == SCAN_JOB_NONE);
	CHECK(m->scans->scan_queue_depth(m, &queued, &running) == 0 && queued == 0 && running == 0);
	if (sqlite)
		CHECK(sql_int(path, "SELECT count(*) FROM scan_jobs WHERE state=2") == 2);
	/* Scan again: a job again, as urgent as a push */
	int q = 0;
	CHECK(m->scans->scan_enqueue(m, "r", "sha256:d1", SCAN_PUSH, &q) == 0 && q == 1);
	CHECK(m->scans->scan_job_state(m, "r", "sha256:d1", &state) == 0 && state == SCAN_JOB_QUEUED);
	CHECK(m->scans->scan_queue_depth(m, &queued, &running) == 0 && queued == 1 && running == 0);
	complete_claimed(m, &a, "sha256:d1", "g1", SCAN_PUSH);
	/* a new database: both re-assessed */
	int64_t stale = 0;
	CHECK(m->scans->scan_enqueue_stale(m, "g2", &stale) == 0 && stale == 2);
	CHECK(m->scans->scan_queue_depth(m, &queued, &running) == 0 && queued == 2 && running == 0);
	struct scan_job *jobs;
	size_t n = 0;
	CHECK(m->scans->scan_claim(m, &a, 8, NULL, &jobs, &n) == 0 && n == 2 && jobs[0].priority == SCAN_REASSESS);
	for (size_t i = 0; i < n; i++) {
		struct scan_done d = {.job = jobs[i].id,
				      .rec = {.repo = "r", .digest = jobs[i].digest, .status = "Healthy", .reason = "",
					      .report = "{}", .inventory = "inv", .db_generation = "g2",
					      .findings_hash = "g2", .counts = "0 0 0 0 0 0 0", .scanned_at = 2,
					      .duration_us = 1}};
		CHECK(m->scans->scan_complete(m, &d, 1) == 0);
	}
	struct assessment_rec got;
	CHECK(m->scans->assessment_get(m, &a, "r", "sha256:d2", &got) == 0 && !strcmp(got.db_generation, "g2"));
	CHECK(m->scans->scan_enqueue_stale(m, "g2", &stale) == 0 && stale == 0);
	/* nothing queued: the claim that finds none clears the rows */
	CHECK(m->scans->scan_claim(m, &a, 8, NULL, &jobs, &n) == DD_E_NOT_FOUND);
	if (sqlite)
		CHECK(sql_int(path, "SELECT count(*) FROM scan_jobs") == 0);
	/* a start clears them too, and a deleted manifest takes its row */
	CHECK(m->scans->scan_enqueue(m, "r", "sha256:d1", SCAN_PUSH, &q) == 0 && q == 1);
	complete_claimed(m, &a, "sha256:d1", "g2", SCAN_PUSH);
	CHECK(m->scans->scan_enqueue(m, "r", "sha256:d2", SCAN_PUSH, &q) == 0 && q == 1);
	complete_claimed(m, &a, "sha256:d2", "g2", SCAN_PUSH);
	CHECK(m->repos->manifest_delete(m, "r", "sha256:d2") == 0);
	if (sqlite)
		CHECK(sql_int(path, "SELECT count(*) FROM scan_jobs") == 1);
	CHECK(m->scans->scan_recover(m) == 0);
	if (sqlite)
		CHECK(sql_int(path, "SELECT count(*) FROM scan_jobs") == 0);
	CHECK(m->scans->scan_queue_depth(m, &queued, &running) == 0 && queued == 0 && running == 0);
	/* and a clean stop: an older drydock opening the directory next finds none */
	CHECK(m->scans->scan_enqueue(m, "r", "sha256:d1", SCAN_PUSH, &q) == 0 && q == 1);
	complete_claimed(m, &a, "sha256:d1", "g2", SCAN_PUSH);
	if (sqlite)
		CHECK(sql_int(path, "SELECT count(*) FROM scan_jobs") == 1);
	arena_free(&a);
	meta_free(m);
	if (sqlite)
		CHECK(sql_int(path, "SELECT count(*) FROM scan_jobs") == 0);
	remove_dir(dir);
}

/* On PostgreSQL, the engine sets what it relies on for its sessions, whatever the database's
 * defaults: bytea read as hex (a manifest's bytes come back as stored, not the escape form's
 * text) and READ COMMITTED (a write transaction's checks see what committed before its lock). */
static void test_meta_pg_session(void)
{
	if (!pg_server())
		return;
	char *dir, path[512];
	struct meta *m = fresh_meta(&dir, path, sizeof(path));
	if (!m)
		return;
	meta_free(m);
	char set[700];
	snprintf(set, sizeof(set),
		 "ALTER DATABASE %s SET bytea_output='escape'; ALTER DATABASE %s SET default_transaction_isolation="
		 "'repeatable read'",
		 strrchr(path, '/') + 1, strrchr(path, '/') + 1);
	sql(path, set);
	CHECK(meta_pg_open(path, &m) == 0);
	if (!m)
		return;
	struct arena a = {0};
	const char content[] = "{\"a\":\"\\u00e9 \\\\ \\n\", \"b\": \"\xc3\xa9\"}";
	struct manifest_put p = {.rec = {.repo = "r", .digest = "sha256:aa", .media_type = "t", .artifact_type = "",
					 .subject = "", .annotations = "", .content = content,
					 .size = (int64_t)strlen(content)},
				 .tag = "v1"};
	const char *missing;
	CHECK(m->repos->manifest_put(m, &a, &p, &missing) == 0);
	struct manifest_rec got;
	CHECK(m->repos->manifest_get(m, &a, "r", "v1", 0, 1, &got) == 0 && got.content &&
	      !strcmp(got.content, content) && got.size == (int64_t)strlen(content));
	arena_free(&a);
	meta_free(m);
	remove_dir(dir);
}

/* Two nodes on one new store: m, and *other a second store on m's database. On SQLite (no other
 * node) NULL, with shared_only(m) checked first: what only a shared store has is absent. */
static struct meta *two_nodes(char **dir, char *path, size_t n, struct meta **other, int (*shared_only)(struct meta *))
{
	*other = NULL;
	struct meta *m = fresh_meta(dir, path, n);
	if (m && !on_pg(path)) {
		CHECK(shared_only(m));
		meta_free(m);
		remove_dir(*dir);
		return NULL;
	}
	if (m)
		CHECK(meta_pg_open(path, other) == 0);
	if (m && !*other) {
		meta_free(m);
		return NULL;
	}
	return m;
}

static int no_holds(struct meta *m) { return !m->hold && !m->unhold && !m->held; }
static int no_throttle(struct meta *m) { return !m->throttle; }
static int no_listen(struct meta *m) { return !m->listen; }

/* An upload session held by a request on one node is refused to a request on another until it
 * is given back, or until the node holding it dies (its session, and its locks, end). Only a
 * shared store holds across nodes; SQLite has one process, whose own table holds. */
static void test_upload_hold(void)
{
	char *dir, path[512];
	struct meta *other, *m = two_nodes(&dir, path, sizeof(path), &other, no_holds);
	if (!m)
		return;
	const char *id = "3b1f0c2e-8d4a-4e55-9b7e-2f0a6c1d9e11", *id2 = "7c2d1e3f-9a5b-4c66-8d8f-3a1b7d2e0f22";
	int64_t t1, t2, t3;
	CHECK(m->hold(m, id, &t1) == 0);
	CHECK(other->hold(other, id, &t2) == DD_E_BUSY);
	CHECK(other->hold(other, id2, &t2) == 0); /* another session is not held up */
	m->unhold(m, id, t1);
	CHECK(other->hold(other, id, &t3) == 0);
	CHECK(m->hold(m, id, &t1) == DD_E_BUSY);
	CHECK(m->hold(m, id2, &t1) == DD_E_BUSY);
	meta_free(other); /* the node holding both dies: the server lets go as its session ends */
	int rc1 = DD_E_BUSY, rc2 = DD_E_BUSY;
	for (int i = 0; i < 100 && rc1 == DD_E_BUSY; i++)
		if ((rc1 = m->hold(m, id, &t1)) == DD_E_BUSY)
			usleep(50000);
	for (int i = 0; i < 100 && rc2 == DD_E_BUSY; i++)
		if ((rc2 = m->hold(m, id2, &t2)) == DD_E_BUSY)
			usleep(50000);
	CHECK(rc1 == 0 && rc2 == 0);
	CHECK(m->held(m, t1) == 0);
	/* the server ends the holding session: its holds go with it (held says so), and the next hold
	 * opens another */
	sql(path, "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype='advisory' AND granted"
		  " AND database=(SELECT oid FROM pg_database WHERE datname=current_database())");
	int gone = 0;
	for (int i = 0; i < 100 && !(gone = m->held(m, t1) == DD_E_BUSY); i++)
		usleep(50000);
	CHECK(gone);
	CHECK(meta_pg_open(path, &other) == 0);
	if (other) {
		for (int i = 0; i < 50 && other->hold(other, id, &t3) == DD_E_BUSY; i++)
			usleep(100000);
		other->unhold(other, id, t3);
		meta_free(other);
	}
	m->unhold(m, id, t1); /* on a session that is no more: nothing to give back */
	CHECK(m->hold(m, id, &t1) == 0 && t1 != t2);
	m->unhold(m, id, t1);
	meta_free(m);
	remove_dir(dir);
}

/* Failed logins spread over two nodes lock the account after five, as on one node; a success
 * on either clears it; a count starts again after its window; with the store's keys all taken,
 * a key without a count of its own is locked with the overflow (fail closed). SQLite has no
 * other node: the memory count alone. */
static void test_login_throttle_shared(void)
{
	char *dir, path[512];
	struct meta *other, *m = two_nodes(&dir, path, sizeof(path), &other, no_throttle);
	if (!m)
		return;
	struct ratelimit *a = ratelimit_new(m), *b = ratelimit_new(other);
	CHECK(a && b);
	if (!a || !b) {
		meta_free(m);
		meta_free(other);
		return;
	}
	for (int i = 0; i < 3; i++)
		ratelimit_failed(a, "alice", "10.0.0.1", 1000);
	for (int i = 0; i < 2; i++)
		ratelimit_failed(b, "alice", "10.0.0.2", 1000);
	CHECK(ratelimit_check(a, "alice", "10.0.0.3", 1000, NULL) == 30); /* locked on both nodes */
	CHECK(ratelimit_check(b, "alice", "10.0.0.3", 1010, NULL) == 20);
	CHECK(ratelimit_check(b, "bob", "10.0.0.1", 1010, NULL) == 0);
	ratelimit_failed(a, "alice", "10.0.0.1", 1030);
	int counted = 0;
	CHECK(ratelimit_check(b, "alice", NULL, 1030, &counted) == 60 && counted); /* doubled, whichever node */
	ratelimit_succeeded(b, "alice", counted);
	CHECK(ratelimit_check(b, "alice", NULL, 1030, &counted) == 0 && !counted); /* cleared: none to clear next */
	CHECK(ratelimit_check(a, "alice", NULL, 1030, NULL) == 0);
	for (int i = 0; i < 4; i++)
		ratelimit_failed(b, "carol", NULL, 2000);
	ratelimit_failed(a, "carol", NULL, 2000 + 301); /* the window passed: a new count */
	CHECK(ratelimit_check(a, "carol", NULL, 2301, NULL) == 0);
	/* the store's keys all taken (by others' spraying, made here at once): late names count, and
	 * lock, together */
	ratelimit_failed(a, "dave", NULL, 5000);
	char fill[160];
	snprintf(fill, sizeof(fill),
		 "INSERT INTO login_failures(key, first, failures) SELECT 'x:' || g, 5000, 1 FROM generate_series(1, %d) g",
		 META_THROTTLE_KEYS);
	sql(path, fill);
	for (int i = 0; i < LOGIN_FREE_FAILURES + 4; i++)
		ratelimit_failed(b, i % 2 ? "late-1" : "late-2", NULL, 5001);
	/* a node sees the store full once it counted it (once a minute) */
	CHECK(ratelimit_check(a, "late-3", NULL, 5061, NULL) == 30 * 16 - 60);
	CHECK(ratelimit_check(a, "dave", NULL, 5061, NULL) == 0); /* one counting already counts as its own */
	ratelimit_free(a);
	ratelimit_free(b);
	meta_free(other);
	meta_free(m);
	remove_dir(dir);
}

static int notices;
static void count_notice(void *ctx)
{
	(void)ctx;
	__atomic_add_fetch(&notices, 1, __ATOMIC_RELAXED);
}

/* Waits up to 5 s for a notice: whether one came (a notice is sent at a commit, and the listener
 * reads it from its socket). */
static int notice_came(void)
{
	for (int i = 0; i < 500 && !__atomic_load_n(&notices, __ATOMIC_RELAXED); i++)
		usleep(10000);
	return __atomic_exchange_n(&notices, 0, __ATOMIC_RELAXED) > 0;
}

/* A node listening is told when any node queues scans: a push's, a lease run out; not when they
 * are claimed, renewed or stored. No listening on SQLite: its one process's events say it. */
static void test_scan_notices(void)
{
	char *dir, path[512];
	struct meta *other, *m = two_nodes(&dir, path, sizeof(path), &other, no_listen);
	if (!m)
		return;
	struct arena a = {0};
	notices = 0;
	CHECK(m->listen(m, count_notice, NULL) == 0);
	for (int i = 0; i < 1000 && sql_int(path, "SELECT count(*) FROM pg_stat_activity WHERE"
						" datname=current_database() AND query='LISTEN drydock_scans'") != 1; i++)
		usleep(10000); /* its LISTEN runs on its thread: a notice before it is not heard */
	other->scan_lease = 1;
	CHECK(other->repos->blob_link(other, "r", D1, 42) == 0);
	int64_t id = claimed_scan(other, &a, "sha256:aa"); /* queued (a notice), then claimed (none) */
	CHECK(notice_came());
	CHECK(other->scans->scan_renew(other, &id, 1) == 0);
	usleep(300000);
	CHECK(!notice_came());
	sleep(2); /* the lease runs out: the next claim queues it again, and says so */
	struct scan_job *jobs;
	size_t n = 0;
	CHECK(other->scans->scan_claim(other, &a, 8, NULL, &jobs, &n) == 0 && n == 1);
	CHECK(notice_came());
	CHECK(m->listen(m, NULL, NULL) == 0); /* no more calls */
	CHECK(put_image(other, &a, "r", "sha256:bb", NULL, 1) == 0);
	usleep(300000);
	CHECK(!notice_came());
	arena_free(&a);
	meta_free(other);
	meta_free(m); /* stops the listener */
	remove_dir(dir);
}

static int seen;
static void count_event(void *ctx, const struct event *ev)
{
	(void)ctx;
	if (ev->kind == EVENT_MANIFEST_PUT && !strcmp(ev->repo, "r"))
		seen++;
}

static void test_events(void)
{
	events_clear();
	CHECK(events_subscribe(count_event, NULL) == 0);
	struct event ev = {.kind = EVENT_MANIFEST_PUT, .repo = "r", .digest = D1};
	events_emit(&ev);
	ev.kind = EVENT_BLOB_COMMITTED;
	events_emit(&ev);
	CHECK(seen == 1);
	CHECK_STR(event_kind_name(EVENT_BLOB_COMMITTED), "blob.committed");
	events_clear();
}

/* A watcher that records what it was told, by handle. */
struct fake_watch {
	size_t fed;
	int ended;
	char digest[80];
};
static struct fake_watch watches[2];
static int nwatches;
static void *fake_begin(void *ctx, int fd)
{
	close(fd);
	if (ctx == (void *)1 || nwatches == 2)
		return NULL; /* does not want it */
	return &watches[nwatches++];
}
static int fake_feed(void *w, size_t n)
{
	((struct fake_watch *)w)->fed += n;
	return 0;
}
static void fake_end(void *w, const char *digest)
{
	struct fake_watch *f = w;
	f->ended++;
	snprintf(f->digest, sizeof(f->digest), "%s", digest ? digest : "-");
}
static const struct upload_watcher fake_watcher = {.begin = fake_begin, .feed = fake_feed, .end = fake_end};

static void test_upload_watcher(void)
{
	events_clear();
	CHECK(!events_uploads_watched());
	CHECK(events_upload_begin(open("/dev/null", O_RDONLY)) == NULL); /* none: the fd is closed */
	int ctx;
	events_watch_uploads(&fake_watcher, &ctx);
	CHECK(events_uploads_watched());
	void *a = events_upload_begin(open("/dev/null", O_RDONLY));
	void *b = events_upload_begin(open("/dev/null", O_RDONLY));
	CHECK(a && b);
	CHECK(events_upload_feed(a, 10) == 0 && events_upload_feed(a, 5) == 0);
	events_upload_end(a, D1);
	CHECK(watches[0].fed == 15 && watches[0].ended == 1);
	CHECK_STR(watches[0].digest, D1);
	events_unwatch_uploads(NULL); /* not its ctx: still watched */
	CHECK(events_uploads_watched());
	events_unwatch_uploads(&ctx);
	CHECK(!events_uploads_watched());
	events_upload_end(b, NULL); /* a handle held across the unwatch is ended by its own watcher */
	CHECK(watches[1].ended == 1);
	CHECK_STR(watches[1].digest, "-");
	events_upload_end(NULL, D1);                 /* nothing */
	CHECK(events_upload_feed(NULL, 1) == -1);
	events_watch_uploads(&fake_watcher, (void *)1); /* a watcher that declines */
	CHECK(events_upload_begin(open("/dev/null", O_RDONLY)) == NULL);
	events_clear();
}

static int64_t file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) ? -1 : (int64_t)st.st_size;
}

/* The reserve file: made in steps while there is room above the floor, given back a step at a
 * time, made again; pushes (space_admit) refused below the floor, never what stores nothing. */
static void test_space(void)
{
	char *dir = unit_tmpdir(), path[512];
	snprintf(path, sizeof(path), "%s/reserve", dir);
	const int64_t MiB = 1024 * 1024, want = 10 * MiB; /* steps of 4, 4 and 2 MiB */
	struct space *sp;
	struct space_stat st;
	CHECK(space_open(dir, 0, want, &sp) == 0);
	CHECK(space_stat(sp, &st) == 0 && st.reserve_held == 0 && st.reserve_wanted == want && st.free_bytes > 0);
	if (st.free_bytes < 64 * MiB) { /* the steps below need room on the temporary directory */
		fprintf(stderr, "  skipped: less than 64 MiB free in '%s'\n", dir);
		space_free(sp);
		remove_dir(dir);
		return;
	}
	CHECK(file_size(path) == -1); /* opening makes nothing */
	CHECK(space_refill(sp) == 0 && file_size(path) == want);
	CHECK(space_stat(sp, &st) == 0 && st.reserve_held == want && st.state == SPACE_OK);
	CHECK(space_admit(sp, 1) == 0 && space_admit(sp, 0) == 0);
	CHECK(space_release(sp) == 1 && file_size(path) == want - 4 * MiB);
	CHECK(space_release(sp) == 1 && file_size(path) == want - 8 * MiB);
	CHECK(space_release(sp) == 1 && file_size(path) == -1); /* all given back: no file */
	CHECK(space_release(sp) == 0);
	CHECK(space_admit(sp, 1) == 0 && file_size(path) == want); /* room again: the reserve first */
	space_free(sp);

	/* a floor above what the filesystem could ever have free: pushes refused, the reserve not
	 * made (it would eat into the floor), and what stores nothing still admitted */
	CHECK(space_open(dir, 1LL << 60, want, &sp) == 0);
	CHECK(space_release(sp) == 1 && space_release(sp) == 1 && space_release(sp) == 1 && file_size(path) == -1);
	CHECK(space_admit(sp, 1) == DD_E_NO_SPACE && space_admit(sp, 0) == 0);
	CHECK(space_refill(sp) == 0 && file_size(path) == -1);
	CHECK(space_stat(sp, &st) == 0 && st.state == SPACE_FULL); /* no reserve to fall back on */
	space_free(sp);
	CHECK(space_open(dir, 1LL << 60, 0, &sp) == 0);
	CHECK(space_stat(sp, &st) == 0 && st.state == SPACE_LOW && st.reserve_wanted == 0);
	CHECK(space_admit(sp, 100) == DD_E_NO_SPACE);
	space_free(sp);
	CHECK(space_admit(NULL, 1LL << 60) == 0 && space_release(NULL) == 0);
	CHECK(!strcmp(space_state_name(SPACE_OK), "ok") && !strcmp(space_state_name(SPACE_FULL), "full"));
	remove_dir(dir);
}

/* Signature Version 4 against the worked examples of Amazon's S3 documentation
 * ("Signature calculations for the Authorization header" and "for query string parameters"). */
static void test_s3_signing(void)
{
	const char *secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", *date = "20130524T000000Z";
	const char *empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
	char sig[65], hdrs[512], auth[512];
	snprintf(hdrs, sizeof(hdrs), "host:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\nx-amz-content-sha256:%s\n"
		 "x-amz-date:%s\n", empty, date);
	s3_signature(secret, "us-east-1", date, "GET", "/test.txt", "", hdrs, "host;range;x-amz-content-sha256;x-amz-date",
		     empty, sig);
	CHECK_STR(sig, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
	s3_sign("AKIAIOSFODNN7EXAMPLE", secret, "us-east-1", date, "GET", "/test.txt", "", hdrs,
		"host;range;x-amz-content-sha256;x-amz-date", empty, auth, sizeof(auth));
	CHECK_STR(auth, "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
			"SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
			"Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
	/* GET Bucket (list objects): a query string */
	snprintf(hdrs, sizeof(hdrs), "host:examplebucket.s3.amazonaws.com\nx-amz-content-sha256:%s\nx-amz-date:%s\n", empty,
		 date);
	s3_signature(secret, "us-east-1", date, "GET", "/", "max-keys=2&prefix=J", hdrs, "host;x-amz-content-sha256;x-amz-date",
		     empty, sig);
	CHECK_STR(sig, "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
	/* a presigned URL */
	s3_signature(secret, "us-east-1", date, "GET", "/test.txt",
		     "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2F"
		     "aws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host",
		     "host:examplebucket.s3.amazonaws.com\n", "host", "UNSIGNED-PAYLOAD", sig);
	CHECK_STR(sig, "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
	struct buf b;
	buf_init(&b, 1024);
	CHECK(s3_uri_encode(&b, "a b/c~d+e=f%\xc3\xa9", 1) == 0);
	CHECK_STR(b.data, "a%20b/c~d%2Be%3Df%25%C3%A9");
	buf_reset(&b);
	CHECK(s3_uri_encode(&b, "uploads/x", 0) == 0);
	CHECK_STR(b.data, "uploads%2Fx");
	buf_release(&b);
	char out[64];
	CHECK(s3_xml_text("<R><ETag>&quot;abc&quot;</ETag></R>", "ETag", out, sizeof(out)) == 0);
	CHECK_STR(out, "\"abc\"");
	CHECK(s3_xml_text("<R><ETag>x</ETag></R>", "Key", out, sizeof(out)) == -1);
	CHECK(s3_xml_text("<R><Key>0123456789</Key></R>", "Key", out, 8) == -1);
	/* settings are checked before any request */
	struct s3 *s;
	const char *why;
	struct s3_config c = {.endpoint = "ftp://x", .bucket = "b-1", .access_key = "a", .secret_key = "s"};
	CHECK(s3_open(&c, &s, &why) == DD_E_CONFIG && strstr(why, "http"));
	c.endpoint = "http://127.0.0.1:1/path";
	CHECK(s3_open(&c, &s, &why) == DD_E_CONFIG && strstr(why, "no path"));
	c.endpoint = "http://127.0.0.1:1";
	c.bucket = "Upper";
	CHECK(s3_open(&c, &s, &why) == DD_E_CONFIG && strstr(why, "s3-bucket"));
	c.bucket = "bucket";
	c.secret_key = "";
	CHECK(s3_open(&c, &s, &why) == DD_E_CONFIG && strstr(why, "secret"));
	c.secret_key = secret;
	c.access_key = "AKIAIOSFODNN7EXAMPLE";
	CHECK(s3_open(&c, &s, &why) == 0);
	char *url = s3_presign_get(s, "blobs/sha256/ab", 1369353600, 86400);
	CHECK(url && !strncmp(url, "http://127.0.0.1:1/bucket/blobs/sha256/ab?X-Amz-Algorithm=AWS4-HMAC-SHA256&"
				   "X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&"
				   "X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=",
			     strlen("http://127.0.0.1:1/bucket/blobs/sha256/ab?X-Amz-Algorithm=AWS4-HMAC-SHA256&"
				    "X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&"
				    "X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=")));
	free(url);
	s3_free(s);
}

void suite_stores(void)
{
	RUN(test_s3_signing);
	RUN(test_space);
	RUN(test_blobstore_fs);
	RUN(test_meta_sqlite);
	RUN(test_meta_assessments);
	RUN(test_idcache_reports);
	RUN(test_meta_stamps);
	RUN(test_scan_complete_batch);
	RUN(test_scan_renew);
	RUN(test_scan_claim_leaves_none_behind);
	RUN(test_scan_job_id_reused);
	RUN(test_meta_waiting_writers_leave_reads);
	RUN(test_meta_busy_threads);
	RUN(test_meta_unreferenced);
	RUN(test_meta_migration);
	RUN(test_meta_assessments_ordered);
	RUN(test_meta_referrer_migration);
	RUN(test_meta_totals);
	RUN(test_meta_totals_triggers_replaced);
	RUN(test_meta_tally_as_triggers);
	RUN(test_meta_tally_other_triggers);
	RUN(test_meta_checkpointed_beside);
	RUN(test_meta_wal_bounded);
	RUN(test_meta_days);
	RUN(test_meta_stored_values);
	RUN(test_meta_jobs_done);
	RUN(test_meta_pg_session);
	RUN(test_upload_hold);
	RUN(test_login_throttle_shared);
	RUN(test_scan_notices);
	RUN(test_events);
	RUN(test_upload_watcher);
}
