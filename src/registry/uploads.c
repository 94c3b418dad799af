/* uploads.c: blob uploads: POST (session, monolithic ?digest=, cross-repository ?mount=),
 * PATCH (chunked with Content-Range, or streamed), PUT ?digest= (with or without a last
 * chunk), GET status and DELETE.
 *
 * Durability: the bytes of a PATCH are fdatasync'ed before the session's offset is moved in
 * the metadata store, so after a crash a session resumes at the last acknowledged byte (a
 * partial chunk beyond it is cut off). A PUT verifies the digest before the blob is committed
 * (fsync + rename); any failure cuts the upload back to where the request found it.
 *
 * The running hash of each live session is kept in memory (struct upload_table); when it is
 * missing (after a restart, or on another node) it is rebuilt by reading the staged bytes. */
#include "common/dd.h"
#include "registry.h"
#include "auth/access.h"
#include "common/log.h"
#include "common/util.h"
#include "events/events.h"
#include "http/range.h"
#include "store/blobstore.h"
#include "store/meta_repos.h"
#include "store/space.h"

#define NBUCKETS 256

struct upload_state {
	char id[37];
	int busy;
	int held;            /* busy, and held across the nodes too (meta.h's hold) with hold_token */
	int64_t hold_token;
	int64_t offset;         /* bytes hashed */
	struct hasher *hasher;  /* NULL when unknown */
	void *watch; /* a watcher reading these bytes as they arrive (events.h), or NULL */
	int64_t idle_since; /* when the last request using it ended */
	struct upload_state *next;
};

struct upload_table {
	pthread_mutex_t mu;
	struct meta *meta; /* whose hold keeps a busy session busy on every node */
	struct upload_state *b[NBUCKETS];
};

int upload_table_new(struct meta *meta, struct upload_table **out)
{
	struct upload_table *t = calloc(1, sizeof(*t));
	if (!t)
		return DD_E_NOMEM;
	t->meta = meta;
	pthread_mutex_init(&t->mu, NULL);
	*out = t;
	return 0;
}

void upload_table_free(struct upload_table *t)
{
	if (!t)
		return;
	for (int i = 0; i < NBUCKETS; i++) {
		struct upload_state *s = t->b[i];
		while (s) {
			struct upload_state *n = s->next;
			hasher_free(s->hasher);
			events_upload_end(s->watch, NULL);
			free(s);
			s = n;
		}
	}
	pthread_mutex_destroy(&t->mu);
	free(t);
}

static unsigned bucket(const char *id)
{
	unsigned h = 2166136261u;
	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 16777619u;
	return h % NBUCKETS;
}

/* Marks upload id busy in this process (table_acquire says what it gives). */
static int table_take(struct upload_table *t, const char *id, struct hasher **h, int64_t *off, void **watch)
{
	*h = NULL;
	*off = 0;
	*watch = NULL;
	pthread_mutex_lock(&t->mu);
	struct upload_state **pp = &t->b[bucket(id)], *s;
	for (s = *pp; s && strcmp(s->id, id); s = s->next)
		;
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s) {
			pthread_mutex_unlock(&t->mu);
			return DD_E_NOMEM;
		}
		snprintf(s->id, sizeof(s->id), "%s", id);
		s->next = *pp;
		*pp = s;
	}
	int rc = 0;
	if (s->busy)
		rc = DD_E_BUSY;
	else {
		s->busy = 1;
		*h = s->hasher;
		*off = s->offset;
		*watch = s->watch;
		s->hasher = NULL;
		s->watch = NULL;
	}
	pthread_mutex_unlock(&t->mu);
	return rc;
}

static struct upload_state *table_find(struct upload_table *t, const char *id)
{
	struct upload_state *s = t->b[bucket(id)];
	while (s && strcmp(s->id, id))
		s = s->next;
	return s;
}

/* Marks upload id busy, in this process and, on a store many nodes share, on every node (meta.h's
 * hold). On success *h, *off and *watch are the stored hash state and upload watch (ownership
 * moves to the caller; all may be NULL). DD_E_BUSY when another request, here or on another
 * node, holds it. */
static int table_acquire(struct upload_table *t, const char *id, struct hasher **h, int64_t *off, void **watch)
{
	int rc = table_take(t, id, h, off, watch);
	if (rc || !t->meta->hold)
		return rc;
	int64_t token;
	if ((rc = t->meta->hold(t->meta, id, &token))) {
		pthread_mutex_lock(&t->mu);
		struct upload_state **pp = &t->b[bucket(id)], *s;
		while (strcmp((*pp)->id, id))
			pp = &(*pp)->next;
		s = *pp;
		s->busy = 0; /* as found: what it held goes back */
		s->hasher = *h;
		s->watch = *watch;
		if (!s->hasher && !s->watch) { /* nothing kept: no entry (the sweep looks at none such) */
			*pp = s->next;
			free(s);
		}
		pthread_mutex_unlock(&t->mu);
		*h = NULL;
		*watch = NULL;
		return rc;
	}
	pthread_mutex_lock(&t->mu);
	struct upload_state *s = table_find(t, id);
	s->held = 1;
	s->hold_token = token;
	pthread_mutex_unlock(&t->mu);
	return 0;
}

/* 0 when this request still holds upload id on every node (meta.h's held): else the hold went
 * with its connection, another node's request may have the session now, and this one writes
 * nothing more to it (DD_E_BUSY). */
static int table_held(struct upload_table *t, const char *id)
{
	pthread_mutex_lock(&t->mu);
	struct upload_state *s = table_find(t, id);
	int held = s && s->held;
	int64_t token = held ? s->hold_token : 0;
	pthread_mutex_unlock(&t->mu);
	return held ? t->meta->held(t->meta, token) : 0;
}

/* Releases upload id; keeps hash state h and upload watch w (owned) at offset, or forgets the
 * upload when gone. */
static void table_release(struct upload_table *t, const char *id, struct hasher *h, int64_t offset, int gone,
			  void *w)
{
	if (gone) {
		events_upload_end(w, NULL);
		w = NULL;
	}
	pthread_mutex_lock(&t->mu);
	struct upload_state **pp = &t->b[bucket(id)];
	while (*pp && strcmp((*pp)->id, id))
		pp = &(*pp)->next;
	struct upload_state *s = *pp;
	int held = s && s->held;
	int64_t token = held ? s->hold_token : 0;
	if (s)
		s->held = 0;
	if (s && gone) {
		*pp = s->next;
		hasher_free(s->hasher);
		free(s);
		hasher_free(h);
	} else if (s) {
		s->busy = 0;
		s->idle_since = util_now();
		hasher_free(s->hasher);
		s->hasher = h;
		s->offset = offset;
		s->watch = w;
		w = NULL;
	} else
		hasher_free(h);
	pthread_mutex_unlock(&t->mu);
	if (held) /* after this node is done with it */
		t->meta->unhold(t->meta, id, token);
	events_upload_end(w, NULL);
}

static void set_location_headers(struct http_req *r, const char *id, int64_t offset)
{
	struct reg_req *q = reg_of(r);
	http_add_header(r, "Location", arena_printf(&r->arena, "/v2/%s/blobs/uploads/%s", q->name, id));
	http_add_header(r, "Range", arena_printf(&r->arena, "0-%" PRId64, offset > 0 ? offset - 1 : 0));
	http_add_header(r, "Docker-Upload-UUID", id);
}

static void respond_blob_created(struct http_req *r, const char *digest)
{
	struct reg_req *q = reg_of(r);
	http_respond(r, 201, NULL, "", 0);
	http_add_header(r, "Location", arena_printf(&r->arena, "/v2/%s/blobs/%s", q->name, digest));
	http_add_header(r, "Docker-Content-Digest", digest);
}

/* Rebuilds the hash of the first `upto` bytes of the upload with algorithm alg. */
static int rehash(struct registry *reg, struct upload_file *f, enum digest_alg alg, int64_t upto, struct hasher **out)
{
	*out = NULL;
	struct hasher *h = hasher_new(alg);
	if (!h)
		return DD_E_NOMEM;
	size_t cap = 1 << 20;
	char *buf = malloc(cap);
	if (!buf) {
		hasher_free(h);
		return DD_E_NOMEM;
	}
	int64_t off = 0;
	int rc = 0;
	while (off < upto) {
		size_t want = upto - off < (int64_t)cap ? (size_t)(upto - off) : cap, got;
		if ((rc = reg->blobs->ops->upload_read(f, off, buf, want, &got)))
			break;
		if (got == 0) {
			rc = DD_E_IO;
			break;
		}
		hasher_update(h, buf, got);
		off += (int64_t)got;
	}
	free(buf);
	if (rc)
		hasher_free(h);
	else
		*out = h;
	return rc;
}

/* Whose a new session is, for max-upload-sessions-per-account: the account, or the client
 * address when there is none (auth off). Account names hold no ':', so neither can pass for the
 * other. Arena memory. */
static const char *session_owner(struct http_req *r)
{
	const char *actor = access_actor(r);
	if (strcmp(actor, "-") && strcmp(actor, "anonymous"))
		return actor;
	char addr[64];
	http_client_addr(r, addr, sizeof(addr));
	return arena_printf(&r->arena, "addr:%s", addr);
}

/* Cancels session id (its row, then its file) unless a request is using it: 1 when it went. */
static int session_cancel(struct registry *reg, const char *id)
{
	struct hasher *h;
	void *w;
	int64_t off;
	if (table_acquire(reg->uploads, id, &h, &off, &w))
		return 0; /* in use right now */
	int rc;
	SPACE_RETRY(reg->space, rc, reg->meta->repos->upload_delete(reg->meta, id));
	if (!rc || rc == DD_E_BLOB_UPLOAD_UNKNOWN)
		rc = reg->blobs->ops->upload_remove(reg->blobs, id);
	table_release(reg->uploads, id, h, off, 1, w);
	return !rc;
}

/* At its cap an account makes room by cancelling its own least recently used session that no
 * request is using: what it left open costs it, never another account. 1 when one went. */
static int evict_oldest(struct registry *reg, const char *owner)
{
	struct arena a = {0};
	const char **ids;
	size_t n;
	int done = 0;
	if (!reg->meta->repos->uploads_of_owner(reg->meta, &a, owner, 16, &ids, &n))
		for (size_t i = 0; i < n && !done; i++)
			if ((done = session_cancel(reg, ids[i])))
				log_info("upload session %s of '%s' cancelled to admit a new one (max-upload-sessions-per-account"
					 " %" PRId64 ")", ids[i], owner, reg->max_sessions_per_owner);
	arena_free(&a);
	return done;
}

/* Starts the session: the staging file first, then the row, so that a crash in between
 * leaves only an orphan file (removed by gc), never a row without its file. *why says which cap
 * refused it (arena text). */
static int session_create(struct http_req *r, char id[37], const char **why)
{
	struct reg_req *q = reg_of(r);
	struct registry *reg = q->reg;
	const char *owner = session_owner(r);
	*why = NULL;
	util_uuid(id);
	struct upload_file *f;
	int64_t size;
	int rc = reg->blobs->ops->upload_open(reg->blobs, id, 1, &f, &size);
	if (rc)
		return rc;
	reg->blobs->ops->upload_close(f);
	enum upload_cap cap;
	for (int tries = 0;; tries++) { /* others of the account may take the room made meanwhile */
		rc = reg->meta->repos->upload_create(reg->meta, id, q->name, owner, reg->max_sessions,
						   reg->max_sessions_per_owner, &cap);
		if (rc != DD_E_TOOMANYREQUESTS || cap != UPLOAD_CAP_OWNER || tries == 4 || !evict_oldest(reg, owner))
			break;
	}
	if (rc)
		reg->blobs->ops->upload_remove(reg->blobs, id);
	int addr = !strncmp(owner, "addr:", 5);
	if (rc == DD_E_TOOMANYREQUESTS && cap == UPLOAD_CAP_OWNER)
		*why = arena_printf(&r->arena,
				    "%s '%s' has %" PRId64 " upload sessions open, all in use by requests right now"
				    " (max-upload-sessions-per-account)",
				    addr ? "client address" : "account", addr ? owner + 5 : owner, reg->max_sessions_per_owner);
	else if (rc == DD_E_TOOMANYREQUESTS)
		*why = arena_printf(&r->arena, "too many open upload sessions (limit %" PRId64 ", max-upload-sessions)",
				    reg->max_sessions);
	return rc;
}

/* A row whose staging file is gone belongs to an upload whose PUT committed the blob but
 * crashed before the row was deleted: forget it and answer BLOB_UPLOAD_UNKNOWN. */
static int forget_if_orphan(struct registry *reg, const char *id, int rc)
{
	if (rc == DD_E_BLOB_UPLOAD_UNKNOWN)
		reg->meta->repos->upload_delete(reg->meta, id);
	return rc;
}

static void post_begin(struct http_req *r)
{
	struct reg_req *q = reg_of(r);
	struct registry *reg = q->reg;
	int rc;
	const char *mount = http_query(r, "mount"), *from = http_query(r, "from"), *dg = http_query(r, "digest");
	const char *why;
	/* a refused mount's challenge names the source's pull scope too (as Distribution's does), so
	 * a client that follows it gets a token that lets the mount happen */
	int from_ok = mount && from && !name_validate(from, strlen(from), &why);
	if (web_access_scope(r, q->name, ACCESS_PUSH,
			     from_ok ? arena_printf(&r->arena, "repository:%s:pull", from) : NULL))
		return;
	if (mount && from) {
		struct digest d;
		int64_t size;
		if (reg_digest(r, mount, &d))
			return;
		if (from_ok && !access_check(r, from, ACCESS_PULL) &&
		    !reg->meta->repos->blob_linked(reg->meta, from, d.str, &size) &&
		    !reg->blobs->ops->blob_stat(reg->blobs, d.str, &size)) {
			if ((rc = reg->meta->repos->blob_link(reg->meta, q->name, d.str, size))) {
				reg_error(r, rc, NULL);
				return;
			}
			respond_blob_created(r, d.str);
			return;
		}
		/* not mountable: fall through to an ordinary upload session, as the spec says */
	}
	if (dg) { /* monolithic: the body is the blob */
		if (reg_digest(r, dg, &q->want))
			return;
		int64_t n = reg_body_bytes(r);
		if (reg_admit(r, n > 0 ? n : 1))
			return;
		char *id = arena_alloc(&r->arena, 37);
		util_uuid(id);
		q->upload_id = id;
		int64_t size;
		if ((rc = reg->blobs->ops->upload_open(reg->blobs, id, 1, &q->file, &size))) {
			reg_error(r, rc, NULL);
			return;
		}
		if (reg->blobs->ops->upload_owner && /* its buffers count against the client's share */
		    (rc = reg->blobs->ops->upload_owner(q->file, session_owner(r)))) {
			reg->blobs->ops->upload_close(q->file);
			q->file = NULL;
			reg->blobs->ops->upload_remove(reg->blobs, id);
			reg_error(r, rc, NULL);
			return;
		}
		q->monolithic = 1; /* from here on uploads_done removes the staging file */
		q->finishing = 1;
		q->body = BODY_UPLOAD;
		struct hasher *none;
		void *no_watch;
		int64_t off;
		if (!table_acquire(reg->uploads, id, &none, &off, &no_watch)) /* so the purge leaves it alone */
			q->locked = 1;
		q->hasher = hasher_new(q->want.alg);
		if (!q->hasher) {
			reg_error(r, DD_E_NOMEM, NULL);
			uploads_done(r);
		}
		return;
	}
	char id[37];
	if (reg_admit(r, 1)) /* a new session: bytes to come */
		return;
	if ((rc = session_create(r, id, &why))) {
		if (rc == DD_E_TOOMANYREQUESTS)
			reg_error_msg(r, rc, why, why); /* docker shows the message: say which cap */
		else
			reg_error(r, rc, NULL);
		return;
	}
	http_respond(r, 202, NULL, "", 0);
	set_location_headers(r, id, 0);
}

/* Opens an existing session for PATCH or PUT: checks it belongs to this repository, takes
 * its lock, cuts unacknowledged bytes, checks Content-Range, and readies the hash. */
static int session_open(struct http_req *r, enum digest_alg alg)
{
	struct reg_req *q = reg_of(r);
	struct registry *reg = q->reg;
	struct upload_rec rec;
	int rc;
	if (!util_is_uuid(q->arg, strlen(q->arg)))
		return DD_E_BLOB_UPLOAD_UNKNOWN;
	if ((rc = reg->meta->repos->upload_get(reg->meta, &r->arena, q->arg, &rec)))
		return rc;
	if (strcmp(rec.repo, q->name))
		return DD_E_BLOB_UPLOAD_UNKNOWN;
	q->upload_id = rec.id;
	struct hasher *h;
	int64_t hoff;
	if ((rc = table_acquire(reg->uploads, rec.id, &h, &hoff, &q->watch)))
		return rc;
	q->locked = 1;
	if (q->watch && hoff != rec.offset) { /* its bytes and the acknowledged ones differ */
		events_upload_end(q->watch, NULL);
		q->watch = NULL;
	}
	int64_t size;
	if ((rc = reg->blobs->ops->upload_open(reg->blobs, rec.id, 0, &q->file, &size))) {
		hasher_free(h);
		return forget_if_orphan(reg, rec.id, rc);
	}
	if (reg->blobs->ops->upload_owner && /* its buffers count against the client's share */
	    (rc = reg->blobs->ops->upload_owner(q->file, session_owner(r)))) {
		reg->blobs->ops->upload_close(q->file);
		q->file = NULL;
		hasher_free(h);
		return rc;
	}
	if (size != rec.offset) { /* bytes of an unacknowledged request, e.g. before a crash */
		if (size < rec.offset) {
			log_error("upload '%s' has %" PRId64 " bytes, %" PRId64 " acknowledged", rec.id, size, rec.offset);
			hasher_free(h);
			return DD_E_IO;
		}
		if ((rc = reg->blobs->ops->upload_truncate(q->file, rec.offset))) {
			hasher_free(h);
			return rc;
		}
	}
	q->start_offset = q->offset = rec.offset;
	const char *cr = http_header(r, "Content-Range");
	if (cr) {
		if (content_range_parse(cr, strlen(cr), &q->range_start, &q->range_end) || q->range_start != rec.offset) {
			hasher_free(h);
			q->why = arena_printf(&r->arena, "Content-Range '%.64s' does not start at offset %" PRId64, cr,
					      rec.offset);
			return DD_E_RANGE_INVALID;
		}
	}
	if (h && (hoff != rec.offset || hasher_alg(h) != alg)) {
		hasher_free(h);
		h = NULL;
	}
	/* a store that cannot read an upload back (S3) checks the digest at the end instead */
	if (!h && (rc = rehash(reg, q->file, alg, rec.offset, &h)) && rc != DD_E_UNSUPPORTED)
		return rc;
	q->hasher = h;
	q->body = BODY_UPLOAD;
	return 0;
}

static void session_error(struct http_req *r, int rc)
{
	struct reg_req *q = reg_of(r);
	reg_error(r, rc, q->why);
	if (rc == DD_E_RANGE_INVALID && q->upload_id) {
		set_location_headers(r, q->upload_id, q->start_offset);
	}
}

void uploads_begin(struct http_req *r)
{
	struct reg_req *q = reg_of(r);
	struct registry *reg = q->reg;
	int rc;
	if (!strcmp(r->method, "POST")) {
		if (*q->arg) {
			reg_error(r, DD_E_METHOD, NULL);
			return;
		}
		post_begin(r);
		return;
	}
	if (!*q->arg) {
		reg_error(r, DD_E_METHOD, NULL);
		return;
	}
	int is_get = !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD");
	if (web_access(r, q->name, ACCESS_PUSH))
		return;
	if (is_get || !strcmp(r->method, "DELETE")) {
		struct upload_rec rec;
		if (!util_is_uuid(q->arg, strlen(q->arg)))
			rc = DD_E_BLOB_UPLOAD_UNKNOWN;
		else
			rc = reg->meta->repos->upload_get(reg->meta, &r->arena, q->arg, &rec);
		if (!rc && strcmp(rec.repo, q->name))
			rc = DD_E_BLOB_UPLOAD_UNKNOWN;
		if (rc) {
			reg_error(r, rc, NULL);
			return;
		}
		if (is_get) {
			struct upload_file *f;
			int64_t size;
			if ((rc = forget_if_orphan(reg, rec.id, reg->blobs->ops->upload_open(reg->blobs, rec.id, 0, &f, &size)))) {
				reg_error(r, rc, NULL);
				return;
			}
			reg->blobs->ops->upload_close(f);
			http_respond(r, 204, NULL, "", 0);
			set_location_headers(r, rec.id, rec.offset);
			return;
		}
		struct hasher *h;
		void *w;
		int64_t off;
		if ((rc = table_acquire(reg->uploads, rec.id, &h, &off, &w))) {
			reg_error(r, rc, NULL);
			return;
		}
		SPACE_RETRY(reg->space, rc, reg->meta->repos->upload_delete(reg->meta, rec.id));
		if (!rc)
			rc = reg->blobs->ops->upload_remove(reg->blobs, rec.id);
		table_release(reg->uploads, rec.id, h, off, 1, w);
		if (rc)
			reg_error(r, rc, NULL);
		else
			http_respond(r, 204, NULL, "", 0);
		return;
	}
	enum digest_alg alg = DIGEST_SHA256;
	if (!strcmp(r->method, "PUT")) {
		const char *dg = http_query(r, "digest");
		if (!dg) {
			reg_error(r, DD_E_DIGEST_INVALID, "PUT to close an upload needs ?digest=");
			return;
		}
		if (reg_digest(r, dg, &q->want))
			return;
		alg = q->want.alg;
		q->finishing = 1;
	} else if (strcmp(r->method, "PATCH")) {
		reg_error(r, DD_E_METHOD, NULL);
		return;
	}
	if (reg_admit(r, reg_body_bytes(r))) /* a closing PUT without a body stores nothing new */
		return;
	if ((rc = session_open(r, alg))) {
		session_error(r, rc);
		uploads_done(r); /* release the session before the client can retry */
	}
}

void uploads_body(struct http_req *r, const char *data, size_t n)
{
	struct reg_req *q = reg_of(r);
	struct registry *reg = q->reg;
	if (q->offset + (int64_t)n > DD_MAX_BLOB_BYTES) {
		q->err = DD_E_TOO_LARGE;
		q->why = "blob larger than 64 GiB";
		return;
	}
	int rc = 0;
	if (q->offset + (int64_t)n > q->admitted) { /* room for the next MiB? others write meanwhile too */
		rc = space_admit(reg->space, (int64_t)n + DD_MAX_BODY_CHUNK);
		q->admitted = q->offset + (int64_t)n + DD_MAX_BODY_CHUNK;
	}
	if (!rc)
		rc = reg->blobs->ops->upload_write(q->file, data, n);
	if (rc) {
		q->err = rc;
		if (rc == DD_E_UNAVAILABLE && !q->why)
			q->why = "the memory for uploads in progress is taken (this client's share, or all of it): "
				 "try again shortly";
		return;
	}
	if (q->hasher)
		hasher_update(q->hasher, data, n);
	if (q->offset == 0 && !q->watch && !q->watch_tried && events_uploads_watched()) { /* a new blob */
		int fd;
		q->watch_tried = 1;
		if (!reg->blobs->ops->upload_open_fd(q->file, &fd))
			q->watch = events_upload_begin(fd);
	}
	if (q->watch && events_upload_feed(q->watch, n)) {
		events_upload_end(q->watch, NULL);
		q->watch = NULL;
	}
	q->offset += (int64_t)n;
}

/* Cuts the upload back to where this request found it and answers err. */
static void undo(struct http_req *r, int err, const char *why)
{
	struct reg_req *q = reg_of(r);
	struct registry *reg = q->reg;
	if (q->file && q->offset != q->start_offset && !q->hold_lost) {
		events_upload_end(q->watch, NULL); /* it read bytes that are cut back now */
		q->watch = NULL;
		if (reg->blobs->ops->upload_truncate(q->file, q->start_offset))
			log_error("cannot cut upload '%s' back to %" PRId64, q->upload_id, q->start_offset);
		hasher_free(q->hasher);
		q->hasher = NULL; /* rebuilt from the file next time */
		q->offset = q->start_offset;
	}
	reg_error(r, err, why);
	if (err == DD_E_RANGE_INVALID && !q->monolithic)
		set_location_headers(r, q->upload_id, q->start_offset);
}

static void finish_put(struct http_req *r)
{
	struct reg_req *q = reg_of(r);
	struct registry *reg = q->reg;
	struct digest got;
	int rc = 0;
	if (q->hasher)
		hasher_peek(q->hasher, &got);
	else if ((rc = reg->blobs->ops->upload_digest(q->file, q->want.alg, &got))) {
		undo(r, rc, "cannot read the upload back to check its digest");
		return;
	}
	if (strcmp(got.str, q->want.str)) {
		undo(r, DD_E_DIGEST_INVALID,
		     arena_printf(&r->arena, "content is %s, not %s", got.str, q->want.str));
		return;
	}
	if ((rc = table_held(reg->uploads, q->upload_id))) {
		q->hold_lost = 1;
		undo(r, rc, "the upload session's hold across the nodes was lost (its database connection ended): try again");
		return;
	}
	int lock;
	if ((rc = reg->blobs->ops->gc_lock(reg->blobs, 0, &lock))) {
		undo(r, rc, "cannot take the blob store's lock");
		return;
	}
	struct upload_file *f = q->file;
	q->file = NULL;
	/* under the gc lock: a collection cannot remove the blob between these two */
	rc = reg->blobs->ops->upload_commit(reg->blobs, f, got.str);
	if (!rc)
		rc = reg->meta->repos->blob_link(reg->meta, q->name, got.str, q->offset);
	reg->blobs->ops->gc_unlock(reg->blobs, lock);
	if (rc) {
		reg_error(r, rc, NULL);
		return;
	}
	if (!q->monolithic && reg->meta->repos->upload_delete(reg->meta, q->upload_id))
		log_warn("cannot delete finished upload '%s'", q->upload_id);
	q->monolithic = 2; /* done: nothing to clean up */
	events_upload_end(q->watch, got.str); /* before the event: the event's analysis waits for it */
	q->watch = NULL;
	struct event ev = {.kind = EVENT_BLOB_COMMITTED, .repo = q->name, .digest = got.str, .size = q->offset};
	events_emit(&ev);
	respond_blob_created(r, got.str);
}

static void end_request(struct http_req *r);

/* The reply is set here, and the session released before it is sent: a client may send its
 * next request on another connection as soon as it reads this one's reply. */
void uploads_end(struct http_req *r)
{
	end_request(r);
	uploads_done(r);
}

static void end_request(struct http_req *r)
{
	struct reg_req *q = reg_of(r);
	struct registry *reg = q->reg;
	if (q->err) {
		undo(r, q->err, q->why);
		return;
	}
	if (q->range_start >= 0 && q->offset - q->start_offset != q->range_end - q->range_start + 1) {
		undo(r, DD_E_RANGE_INVALID,
		     arena_printf(&r->arena, "Content-Range %" PRId64 "-%" PRId64 " announced %" PRId64 " bytes, got %" PRId64,
				  q->range_start, q->range_end, q->range_end - q->range_start + 1, q->offset - q->start_offset));
		return;
	}
	if (q->finishing) {
		finish_put(r);
		return;
	}
	int rc = table_held(reg->uploads, q->upload_id);
	if (rc) {
		q->hold_lost = 1;
		undo(r, rc, "the upload session's hold across the nodes was lost (its database connection ended): try again");
		return;
	}
	rc = q->offset != q->start_offset ? reg->blobs->ops->upload_sync(q->file) : 0;
	if (!rc && (rc = reg->meta->repos->upload_set_offset(reg->meta, q->upload_id, q->start_offset, q->offset)) ==
			   DD_E_BUSY)
		q->hold_lost = 1; /* another request moved it: what is there is the other's */
	if (rc) {
		undo(r, rc, NULL);
		return;
	}
	q->start_offset = q->offset;
	http_respond(r, 202, NULL, "", 0);
	set_location_headers(r, q->upload_id, q->offset);
}

void uploads_done(struct http_req *r)
{
	struct reg_req *q = reg_of(r);
	struct registry *reg = q->reg;
	void *w = q->offset == q->start_offset ? q->watch : NULL;
	if (!w) /* before the cut-back below: the watcher reads the file */
		events_upload_end(q->watch, NULL);
	q->watch = NULL;
	if (q->file) {
		if (q->monolithic != 1 && q->offset != q->start_offset && !q->hold_lost) /* aborted mid-body: cut back */
			reg->blobs->ops->upload_truncate(q->file, q->start_offset);
		/* closed before a monolithic upload's staging is removed: the close waits for what
		 * is still being written (a part going up to S3 would outlive the removal) */
		reg->blobs->ops->upload_close(q->file);
		q->file = NULL;
		if (q->monolithic == 1)
			reg->blobs->ops->upload_remove(reg->blobs, q->upload_id);
	}
	if (q->locked) {
		int gone = q->monolithic != 0; /* committed, or a monolithic upload's file removed */
		struct hasher *keep = q->offset == q->start_offset ? q->hasher : NULL;
		if (!keep)
			hasher_free(q->hasher);
		table_release(reg->uploads, q->upload_id, keep, q->start_offset, gone, w);
		q->locked = 0;
	} else {
		hasher_free(q->hasher);
		events_upload_end(w, NULL);
	}
	q->hasher = NULL;
}

/* How long an upload's watch is kept with no request moving the upload on. */
#define WATCH_IDLE_S 60
#define SWEEP_MAX 256 /* states looked at per sweep */

int registry_sweep_uploads(struct registry *reg)
{
	struct upload_table *t = reg->uploads;
	char ids[SWEEP_MAX][37];
	size_t n = 0;
	pthread_mutex_lock(&t->mu);
	for (int i = 0; i < NBUCKETS && n < SWEEP_MAX; i++)
		for (struct upload_state *s = t->b[i]; s && n < SWEEP_MAX; s = s->next)
			if (!s->busy && (s->watch || s->hasher))
				memcpy(ids[n++], s->id, sizeof(s->id));
	pthread_mutex_unlock(&t->mu);
	int swept = 0;
	int64_t now = util_now();
	for (size_t i = 0; i < n; i++) {
		struct arena a = {0};
		struct upload_rec rec;
		struct hasher *h;
		void *w;
		int64_t off;
		if (table_take(t, ids[i], &h, &off, &w)) /* this node's state only: no hold on others */
			continue; /* a request has it: not idle */
		int rc = reg->meta->repos->upload_get(reg->meta, &a, ids[i], &rec);
		arena_free(&a);
		if (rc == DD_E_BLOB_UPLOAD_UNKNOWN) { /* finished or cancelled by another node */
			table_release(t, ids[i], h, off, 1, w);
			swept++;
			continue;
		}
		pthread_mutex_lock(&t->mu);
		struct upload_state *s = t->b[bucket(ids[i])];
		while (s && strcmp(s->id, ids[i]))
			s = s->next;
		int idle = s && s->idle_since && now - s->idle_since >= WATCH_IDLE_S;
		pthread_mutex_unlock(&t->mu);
		if (idle && w) {
			events_upload_end(w, NULL); /* the scan reads the blob once it is committed */
			w = NULL;
			swept++;
		}
		table_release(t, ids[i], h, off, 0, w);
	}
	return swept;
}

struct purge_ctx {
	struct registry *reg;
	struct arena *a;
	int removed;
};

/* A staging file with no session row: a crash between creating it and recording it, or an
 * interrupted monolithic upload. Busy ids are skipped. */
static void purge_orphan(void *ctx, const char *id)
{
	struct purge_ctx *p = ctx;
	struct registry *reg = p->reg;
	struct upload_rec rec;
	struct hasher *h;
	void *w;
	int64_t off;
	if (!util_is_uuid(id, strlen(id)) || reg->meta->repos->upload_get(reg->meta, p->a, id, &rec) != DD_E_BLOB_UPLOAD_UNKNOWN)
		return;
	if (table_acquire(reg->uploads, id, &h, &off, &w))
		return;
	if (!reg->blobs->ops->upload_remove(reg->blobs, id))
		p->removed++;
	table_release(reg->uploads, id, h, off, 1, w);
}

int registry_purge_uploads(struct registry *reg, int64_t max_age)
{
	struct arena a = {0};
	struct purge_ctx p = {.reg = reg, .a = &a};
	int64_t before = util_now() - max_age;
	const char **ids;
	size_t n;
	if (!reg->meta->repos->uploads_stale(reg->meta, &a, before, 1000, &ids, &n)) {
		for (size_t i = 0; i < n; i++)
			p.removed += session_cancel(reg, ids[i]); /* one in use is not stale after all */
	}
	/* staging files older than the cutoff with no row; a monolithic upload in progress
	 * is busy in the table, or its file is younger */
	reg->blobs->ops->uploads_each_older(reg->blobs, before, purge_orphan, &p);
	arena_free(&a);
	if (p.removed)
		log_info("purged %d stale upload session(s) or staging file(s)", p.removed);
	return p.removed;
}
