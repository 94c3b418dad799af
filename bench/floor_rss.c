/* floor_rss.c: the memory a registry process costs before any registry code runs.
 *   floor-rss PORT DIR
 * A process that links only the four libraries drydock's serving path needs for its own
 * jobs (libmicrohttpd for HTTP, libcrypto for SHA-256, SQLite in WAL mode for metadata,
 * jansson for JSON), and uses each once per request: every POST body is hashed with
 * SHA-256 as it arrives, its digest is inserted into a SQLite table, and the answer is a
 * JSON object. No drydock code is linked. bench/bench.py pushes the same layers to it as to
 * the registries and reads its RSS: the floor that any process using these libraries
 * starts from. Not a test, and on purpose not built on common/dd.h: no drydock code. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static sqlite3 *db;
static pthread_mutex_t db_lock = PTHREAD_MUTEX_INITIALIZER;

struct upload {
	EVP_MD_CTX *md;
	long long size;
};

static int record(const char *hex, long long size)
{
	sqlite3_stmt *st;
	int rc;
	pthread_mutex_lock(&db_lock);
	rc = sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO blobs(digest, size) VALUES(?1, ?2)", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, hex, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, size);
		rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&db_lock);
	return rc;
}

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, json_t *body)
{
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (!text)
		return MHD_NO;
	struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(resp, "Content-Type", "application/json");
	enum MHD_Result ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
			      const char *version, const char *data, size_t *size, void **state)
{
	(void)cls, (void)version;
	if (strcmp(method, "POST"))
		return answer(c, 200, json_pack("{s:s}", "url", url));
	struct upload *u = *state;
	if (!u) {
		if (!(u = calloc(1, sizeof *u)) || !(u->md = EVP_MD_CTX_new()) ||
		    !EVP_DigestInit_ex(u->md, EVP_sha256(), NULL))
			return MHD_NO;
		*state = u;
		return MHD_YES;
	}
	if (*size) {
		EVP_DigestUpdate(u->md, data, *size);
		u->size += (long long)*size;
		*size = 0;
		return MHD_YES;
	}
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	EVP_DigestFinal_ex(u->md, md, &n);
	for (unsigned i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	if (record(hex, u->size) != SQLITE_OK)
		return answer(c, 500, json_pack("{s:s}", "error", sqlite3_errmsg(db)));
	return answer(c, 201, json_pack("{s:s,s:I}", "digest", hex, "size", (json_int_t)u->size));
}

static void done(void *cls, struct MHD_Connection *c, void **state, enum MHD_RequestTerminationCode why)
{
	(void)cls, (void)c, (void)why;
	struct upload *u = *state;
	if (u) {
		EVP_MD_CTX_free(u->md);
		free(u);
		*state = NULL;
	}
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: floor-rss PORT DIR\n");
		return 2;
	}
	char path[4096];
	snprintf(path, sizeof path, "%s/floor.db", argv[2]);
	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
			 "CREATE TABLE IF NOT EXISTS blobs(digest TEXT PRIMARY KEY, size INTEGER NOT NULL)",
			 NULL, NULL, NULL) != SQLITE_OK) {
		fprintf(stderr, "floor-rss: %s: %s\n", path, sqlite3_errmsg(db));
		return 1;
	}
	struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL,
						(uint16_t)atoi(argv[1]), NULL, NULL, handle, NULL,
						MHD_OPTION_NOTIFY_COMPLETED, done, NULL, MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "floor-rss: cannot listen on port %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	sigset_t set;
	int sig;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	sigwait(&set, &sig);
	MHD_stop_daemon(d);
	sqlite3_close(db);
	return 0;
}
