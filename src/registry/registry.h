/* registry.h: the OCI Distribution v1.1 API over a blob store and a metadata store.
 * registry.c routes each request and owns the shared plumbing (error JSON, names, the
 * per-request state); uploads.c, blobs.c, manifests.c and lists.c hold the endpoints. */
#ifndef DD_REGISTRY_H
#define DD_REGISTRY_H
#include <stdint.h>
#include "auth/access.h"
#include "common/buf.h"
#include "common/digest.h"
#include "http/server.h"
#include "web/reply.h"
#include "names.h"

struct blobstore;
struct meta;
struct upload_file;
struct upload_table;

struct space;

struct registry {
	struct blobstore *blobs;
	struct meta *meta;
	int scan_on_push; /* queue an assessment with every manifest pushed; set by the caller */
	/* Whether repo@digest may be pulled (the security policies', assess/rules.h): 0, or an error
	 * with *why (arena text) that a manifest GET answers. NULL: every pull is allowed. */
	int (*pull_gate)(void *ctx, struct meta *m, struct arena *a, const char *repo, const char *digest,
			 const char **why);
	void *pull_gate_ctx;
	struct upload_table *uploads; /* in-memory hash state of live uploads */
	int64_t max_sessions;
	int64_t max_sessions_per_owner; /* of one account, or one client address without an account; 0: no cap */
	struct space *space; /* the free space of the data directory (borrowed; NULL: not watched) */
	int blob_redirect;   /* blob GETs answered 307 to the store's URL (a presigned S3 URL) */
};

/* Creates a registry over borrowed stores. Returns owned memory. */
int registry_new(struct blobstore *blobs, struct meta *meta, struct registry **out);
void registry_free(struct registry *reg);
/* Cancels upload sessions idle for more than max_age seconds and removes staging files
 * that no session owns (left by a crash). Safe while serving; returns how many it removed. */
int registry_purge_uploads(struct registry *reg, int64_t max_age);
/* Lets go of what this process holds for upload sessions it no longer serves: the hash state and
 * watch of a session another node finished or cancelled (nodes behind a balancer: the request
 * that ends an upload often reaches another node than the one that saw its bytes), and the
 * watch of one no request has moved on for a minute (the scanner gets back the stream it kept
 * for it). Returns how many it let go. The janitor runs it every few seconds. */
int registry_sweep_uploads(struct registry *reg);
/* The service (web/router.h) that answers the OCI API over reg: /v2, everything under it, and
 * the token endpoint; as the router's fallback it also answers unknown paths with the OCI error
 * JSON, as Distribution does. */
struct http_app registry_app(struct registry *reg);

/* The states of an upload session (uploads.c), written down as SQLite's pager.c writes down
 * its own. A session is three things: its row in the uploads table of the metadata store
 * (store/meta.h: repo, the acknowledged offset, `updated` for the janitor, owner and `touched`
 * for the per-account cap), its staging file uploads/<id> in the blob store
 * (store/blobstore.h), and its entry in the in-memory upload_table (busy flag, running hash,
 * the upload watcher reading it as it arrives, events/events.h), which a restart loses.
 *
 *          file created      row inserted
 *   POST ──────────────► STAGED ─────────────► OPEN(n) ◄─────────────────────┐
 *                          │                    │   ▲                        │ PATCH synced and
 *               refused by │       PATCH or PUT │   │ a failure, a client    │ acknowledged:
 *               a cap      │     takes the lock ▼   │ gone: cut back to n    │ OPEN(n + bytes)
 *                          │                  BUSY(n) ───────────────────────┘
 *                          │                    │ PUT, the digest matches
 *                          │                    ▼
 *                          │               COMMITTING ──────► GONE
 *                          └────────────────────────────────► GONE
 *   OPEN ── DELETE, janitor (idle > upload-max-age), owner's cap ──► CANCELLING ──► GONE
 *
 * STAGED: the staging file exists (empty), no row. session_create creates the file first and
 *   the row second (upload_create counts the caps; at the per-account cap evict_oldest cancels
 *   the owner's least recently touched session that no request is using, and it tries again,
 *   at most 4 times), so creating a session never leaves a row without its file. A cap that
 *   still refuses removes the file and answers 429. A monolithic POST ?digest= stays STAGED
 *   all its life: it never gets a row, its table entry is marked busy so the janitor leaves the
 *   file alone, and finish_put commits the file or uploads_done removes it. Crash: the file is
 *   an orphan no request can name; registry_purge_uploads (purge_orphan) removes it once it is
 *   older than upload-max-age.
 * OPEN(n): row and file agree. The row's offset n is what the client was told (202, Range
 *   0-(n-1)) and the first n bytes of the file are on disk (fdatasync'ed before the row
 *   moved); GET answers 204 with the same Range. The hash of those n bytes may be kept in the
 *   table. Crash: nothing is lost; the hash is rebuilt from the n bytes (rehash) on next use.
 * BUSY(n): one PATCH or PUT holds the session (session_open: table_acquire; another request
 *   gets DD_E_BUSY, 409, on this node or, when nodes share the store, on any other: meta.h's
 *   hold). session_open cuts the file back to n (bytes of a request never
 *   acknowledged) and checks that Content-Range starts at n (else 416 naming n); the body is
 *   appended beyond n. A PATCH ends in end_request: upload_sync, then upload_set_offset moves
 *   the row: OPEN(n + bytes), 202. An error while writing, a Content-Range whose length was
 *   not what came, a PUT whose digest does not match (undo) or a client gone mid-body
 *   (uploads_done) cut the file back to n: OPEN(n) again. Crash: the row still says n and the
 *   bytes past it are cut off when the session is next opened, so it resumes at n. A row
 *   update that committed before the 202 went out moves the session all the same: a retry
 *   whose Content-Range starts at n gets 416 with the new Range.
 * COMMITTING: finish_put, holding the blob store's gc lock shared: upload_commit fsyncs the
 *   file and renames it to blobs/<alg>/<xx>/<hex> (it leaves uploads/), blob_link records the
 *   blob in the repository, upload_delete removes the row, and the client gets 201. Crash
 *   before the rename: still OPEN, and the client's retry of the PUT works. Crash after it:
 *   the row has no file; the next request that names the session forgets the row
 *   (forget_if_orphan, BLOB_UPLOAD_UNKNOWN), as the janitor does once it is stale, and the
 *   client pushes the blob again. A renamed blob that was not linked yet has no record, and gc
 *   removes it after its grace period.
 * CANCELLING: a DELETE (uploads_begin; refused while the session is busy) and session_cancel
 *   (the janitor's stale sessions, evict_oldest; both skip a busy session) delete the row
 *   first and the file second. Crash between the two: an orphan file, purged as in STAGED.
 * GONE: neither row nor file; a request that names the id gets BLOB_UPLOAD_UNKNOWN.
 *
 * After a restart the table is empty, so no session is busy and every OPEN session resumes at
 * its row's offset. The janitor (registry_purge_uploads) runs at start and then every half
 * upload-max-age (at most hourly). */

/* ---- internal to the registry module ---- */

enum body_mode { BODY_DISCARD, BODY_UPLOAD, BODY_MANIFEST, BODY_TOKEN };

struct reg_req {
	struct registry *reg;
	struct route route;
	const char *name; /* validated repository name (arena) */
	const char *arg;  /* route argument (arena), "" when none */
	enum body_mode body;
	int err;          /* an error met while reading the body, answered at the end */
	const char *why;  /* its detail */
	/* uploads */
	const char *upload_id;
	struct upload_file *file;
	struct hasher *hasher;
	int64_t start_offset, offset;
	int64_t admitted; /* the offset up to which the free space was checked (store/space.h) */
	int64_t range_start, range_end; /* Content-Range of this request, or -1 */
	int locked, monolithic, finishing;
	int hold_lost; /* the session's hold across nodes went (meta.h's held): its file is left as it is */
	struct digest want; /* PUT/POST ?digest= */
	void *watch; /* a watcher reading this upload as it arrives (events/events.h), or NULL */
	int watch_tried;
	/* manifests */
	struct buf manifest;
};

struct reg_req *reg_of(struct http_req *r);
/* Answers with the OCI error JSON for err; detail may be NULL. DD_E_NO_SPACE without a message
 * gets one naming what the request could not store, and, without a detail, the free space. */
/* The same with a message of its own instead of the error's generic one (clients such as docker
 * show only the message). */
void reg_error_msg(struct http_req *r, int err, const char *message, const char *detail);
void reg_error(struct http_req *r, int err, const char *detail);
/* Parses a digest route argument or query value, answering DIGEST_INVALID itself on error. */
int reg_digest(struct http_req *r, const char *s, struct digest *out);
/* Refuses a request that would store n more bytes (a body; 1 for a new upload session) when the
 * disk has no room for them above min-free-space, answering 507 itself: returns its code. */
int reg_admit(struct http_req *r, int64_t n);
/* The bytes a request's body announces: Content-Length, or 1 when it is chunked or unknown (some
 * is coming), 0 when there is none. */
int64_t reg_body_bytes(struct http_req *r);

void uploads_begin(struct http_req *r);
void uploads_body(struct http_req *r, const char *data, size_t n);
void uploads_end(struct http_req *r);
void uploads_done(struct http_req *r);
int upload_table_new(struct meta *meta, struct upload_table **out);
void upload_table_free(struct upload_table *t);

void blobs_handle(struct http_req *r);
void manifests_begin(struct http_req *r);
void manifests_end(struct http_req *r);
void tags_handle(struct http_req *r);
void catalog_handle(struct http_req *r);
void referrers_handle(struct http_req *r);

#endif
