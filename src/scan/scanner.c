/* scanner.c: the scan workers and the database watcher (see scanner.h).
 *
 * The database in use is held by reference: a worker takes it for one job, the watcher swaps
 * in a new one and the old mapping is closed when its last job ends. Jobs are claimed from
 * the metadata store, most urgent first (pushes before re-assessments), so a bulk
 * re-assessment never delays the scan of a new push by more than the job in hand. */
#include "common/dd.h"
#include "scan/scanner.h"
#include "common/arena.h"
#include "common/buf.h"
#include "common/digest.h"
#include "common/jsonmem.h"
#include "common/jsonscan.h"
#include "common/log.h"
#include "common/util.h"
#include "image/image.h"
#include "image/layer.h"
#include "image/layer_cache.h"
#include "image/manifest.h"
#include "inventory/inventory.h"
#include "inventory/sbom.h"
#include "events/events.h"
#include "events/hooks.h"
#include "scan/findings.h"
#include "scan/report.h"
#include "scan/sandbox.h"
#include "scan/vex.h"
#include "store/blobstore.h"
#include "store/meta_admin.h"
#include "store/meta_outbox.h"
#include "store/meta_repos.h"
#include "store/meta_scans.h"
#include "vulndb/vulndb.h"
#include "scan/status.h"
#include <jansson.h>

#define SCANNER_MAX_WORKERS 16
#define SCANNER_WATCH_MS 1000 /* how often the database file is checked for a new generation */

const double scanner_bucket_bounds[SCANNER_BUCKETS] = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120};

struct dbref {
	struct vulndb *db;
	int refs;
	char gen[17];
};

/* Re-assessments claimed and stored per transaction at most (stored in parts past
 * DD_MAX_SCAN_BATCH_BYTES). 128, not 32: 100,000 images gaining findings took 24.5 s against
 * 21.5 s, the commits' pages and syncs shared by four times as many images. */
#define SCANNER_BATCH 128
/* ... and fewer when they take longer: a worker claims about this much time's worth of jobs, at
 * the rate of its last batch, since a push that comes meanwhile waits for the batch in hand
 * (debian-min's re-assessment takes 0.3 ms and debian-wide's 2-3 ms on an idle machine; a
 * review measured 50 ms for debian-wide's under load, where 128 would hold a worker 6 s). */
#define SCANNER_BATCH_US 100000 /* DRYDOCK_SCAN_BATCH_MS changes it (1 to 600000 ms) */
#define SCANNER_BATCH_FIRST 8 /* claimed before a worker has timed a batch */
#define SEEN_GROUP 32         /* stored inventories read at once (struct batch_seen) */
#define SEEN_GROUP_BYTES (2 * 1024 * 1024) /* of them stored (compressed), the first aside */
#define LAYER_QUEUE 1024 /* blobs waiting for analysis; beyond, the image scan reads them itself */
#define LAYER_INFLIGHT 32 /* layer threads (at most SCANNER_MAX_WORKERS) and streams */
#define STREAMS_MAX 4 /* uploads analysed as their bytes arrive, at once */

struct scanner {
	struct scanner_config cfg;
	/* layers analysed as their blobs commit (in memory: a lost one is read by the image scan) */
	char *lq[LAYER_QUEUE];
	size_t lq_head, lq_n;
	char *inflight[LAYER_INFLIGHT];
	pthread_t layer_threads[SCANNER_MAX_WORKERS];
	int nlayer_threads;
	pthread_cond_t layer_wake, layer_done;
	char *db_path, *cache_dir;
	pthread_t workers[SCANNER_MAX_WORKERS], watcher;
	int nworkers, watching;
	pthread_mutex_t mu;
	pthread_cond_t wake;
	int stop, kicks, streams;
	struct dbref *cur;
	struct sandbox *sb; /* NULL: layers and package databases read in this process */
	struct stat db_st; /* the file last opened, or last refused */
	int db_seen;       /* db_st is set */
	struct scanner_stats st;
	/* the jobs this node's workers have claimed and not yet stored, whose leases the keeper
	 * renews (meta_scans.h's scan_renew) on a store shared by many nodes */
	int64_t held[SCANNER_MAX_WORKERS * SCANNER_BATCH];
	size_t nheld;
	pthread_t keeper; /* keeper_main, when keeping */
	int keeping;
	pthread_cond_t keeper_wake; /* signalled to stop it */
	int listening;              /* the store's notices of queued scans call on_notice */
	int64_t batch_us;           /* SCANNER_BATCH_US, or the environment's */
};

static struct dbref *db_take(struct scanner *s)
{
	pthread_mutex_lock(&s->mu);
	struct dbref *d = s->cur;
	if (d)
		d->refs++;
	pthread_mutex_unlock(&s->mu);
	return d;
}

static void db_release(struct scanner *s, struct dbref *d)
{
	if (!d)
		return;
	pthread_mutex_lock(&s->mu);
	int last = --d->refs == 0;
	pthread_mutex_unlock(&s->mu);
	if (last) {
		vulndb_close(d->db);
		free(d);
	}
}

/* Opens the database file when it changed (or first appears); queues re-assessments. */
static void db_check(struct scanner *s)
{
	struct stat st;
	if (stat(s->db_path, &st))
		return;
	if (s->db_seen && st.st_ino == s->db_st.st_ino && st.st_mtim.tv_sec == s->db_st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == s->db_st.st_mtim.tv_nsec && st.st_size == s->db_st.st_size)
		return;
	struct vulndb *db;
	const char *why;
	int rc = vulndb_open(s->db_path, &db, &why);
	if (!rc && (rc = vulndb_verify(db, &why))) { /* the whole file checked before it answers anything */
		log_warn("vulnerability database: %s", why); /* why is the database's: said before it is closed */
		vulndb_close(db);
		s->db_st = st;
		s->db_seen = 1;
		return;
	}
	if (rc) {
		log_warn("vulnerability database: %s", why);
		s->db_st = st; /* do not retry the same broken file every second */
		s->db_seen = 1;
		return;
	}
	struct dbref *d = calloc(1, sizeof(*d));
	if (!d) {
		vulndb_close(db);
		return;
	}
	d->db = db;
	d->refs = 1;
	snprintf(d->gen, sizeof(d->gen), "%016" PRIx64, vulndb_header(db)->generation);
	pthread_mutex_lock(&s->mu);
	struct dbref *old = s->cur;
	s->cur = d;
	s->db_st = st;
	s->db_seen = 1;
	snprintf(s->st.generation, sizeof(s->st.generation), "%s", d->gen);
	s->st.db_built_at = vulndb_header(db)->built_at;
	pthread_mutex_unlock(&s->mu);
	int replaced = old != NULL; /* put in place while the server runs, not found at its start */
	db_release(s, old);
	int64_t n = 0, newest_at = 0;
	int behind = 0;
	struct arena a = {0};
	const char *newest = NULL;
	/* many nodes, each with its database: the newest re-assesses; one behind scans pushes with its
	 * own until it is updated, and their results are made again by a node that has the newest */
	if (!s->cfg.meta->scans->db_generation_offer(s->cfg.meta, &a, d->gen, (int64_t)vulndb_header(db)->built_at,
						      replaced, &behind, &newest, &newest_at) && behind)
		log_warn("vulnerability database generation %s (built %" PRId64 ") is older than generation %s (built %"
			 PRId64 ") another node uses: this node re-assesses nothing until its database is updated",
			 d->gen, (int64_t)vulndb_header(db)->built_at, newest, newest_at);
	else {
		s->cfg.meta->scans->scan_enqueue_stale(s->cfg.meta, d->gen, &n);
		log_info("vulnerability database generation %s in use; %" PRId64 " images queued for re-assessment", d->gen,
			 n);
	}
	arena_free(&a);
	scanner_kick(s);
}

/* The jobs a worker claimed (n of them), held until it stored them: their leases renewed. */
static void held_add(struct scanner *s, const struct scan_job *jobs, size_t n)
{
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < n && s->nheld < DD_ARRAY_LEN(s->held); i++)
		s->held[s->nheld++] = jobs[i].id;
	pthread_mutex_unlock(&s->mu);
}
static void held_drop(struct scanner *s, const struct scan_job *jobs, size_t n)
{
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < s->nheld; k++)
			if (s->held[k] == jobs[i].id) {
				s->held[k] = s->held[--s->nheld];
				break;
			}
	pthread_mutex_unlock(&s->mu);
}

/* The lease keeper: every third of scan-lease (a tenth of a second at least), the leases of the
 * jobs held renewed, so that a long scan is not claimed again by another node while this one
 * makes it. A thread of its own: the watcher may spend seconds checking a new database. A
 * renewal that fails is tried again at the next turn. */
static void *keeper_main(void *arg)
{
	struct scanner *s = arg;
	struct meta *m = s->cfg.meta;
	int64_t every_ms = (m->scan_lease > 0 ? m->scan_lease : META_SCAN_LEASE_DEFAULT) * 1000 / 3;
	if (every_ms < 100)
		every_ms = 100;
	int64_t ids[DD_ARRAY_LEN(s->held)];
	pthread_mutex_lock(&s->mu);
	while (!s->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += every_ms / 1000;
		ts.tv_nsec += (every_ms % 1000) * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		while (!s->stop && pthread_cond_timedwait(&s->keeper_wake, &s->mu, &ts) != ETIMEDOUT)
			;
		size_t n = s->stop ? 0 : s->nheld;
		memcpy(ids, s->held, n * sizeof(*ids));
		pthread_mutex_unlock(&s->mu);
		int rc = n ? m->scans->scan_renew(m, ids, n) : 0;
		if (rc)
			log_warn("cannot renew the leases of %zu scans this node is making (tried again in %" PRId64
				 " ms): another node may make them too",
				 n, every_ms);
		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* The database watcher. Its first look, as the server starts, opens the database and checks
 * the whole file (its CRC) off the path that opens the port; images pushed meanwhile wait in the
 * queue, as they do while no database, or only a damaged one, is in place. */
static void *watcher_main(void *arg)
{
	struct scanner *s = arg;
	db_check(s);
	if (!s->cur)
		log_warn("no usable vulnerability database at '%s': pushed images stay queued until one is there "
			 "('drydock db update --db %s')",
			 s->db_path, s->db_path);
	pthread_mutex_lock(&s->mu);
	while (!s->stop) {
		pthread_mutex_unlock(&s->mu);
		db_check(s);
		pthread_mutex_lock(&s->mu);
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += SCANNER_WATCH_MS * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		if (!s->stop)
			pthread_cond_timedwait(&s->wake, &s->mu, &ts);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Reads a blob of the store as JSON (a config), NULL when absent, too large or not JSON. */
static json_t *blob_json(struct blobstore *bs, const char *digest)
{
	int fd;
	int64_t size;
	if (!digest || bs->ops->blob_open_fd(bs, digest, &fd, &size))
		return NULL;
	json_t *j = NULL;
	char *data = size >= 0 && size <= DD_MAX_CONFIG_BYTES * 16 ? malloc((size_t)size + 1) : NULL;
	if (data && util_read_full(fd, data, (size_t)size) == (ssize_t)size)
		j = json_loadb(data, (size_t)size, 0, NULL);
	free(data);
	close(fd);
	return j;
}

/* A VEX document attached to an image (an artifact whose subject it is): read from the
 * artifact's first layer and kept as the setting "vex/ref:<repo>@<digest>", which the rules
 * (assess/rules.c) apply to the subject, in its repository, while the artifact is there.
 * Returns the artifact's NotApplicable reason. */
static const char *vex_referrer(struct scanner *s, struct arena *a, const struct manifest_rec *m,
				const struct manifest_info *info)
{
	struct meta *meta = s->cfg.meta;
	int fd;
	int64_t size;
	if (!info->nlayers || s->cfg.blobs->ops->blob_open_fd(s->cfg.blobs, info->layers[0].digest, &fd, &size))
		return "a VEX document whose layer cannot be read";
	char *data = size >= 0 && size <= DD_MAX_VEX_BYTES ? arena_alloc(a, (size_t)size + 1) : NULL;
	int ok = data && util_read_full(fd, data, (size_t)size) == (ssize_t)size;
	close(fd);
	if (!ok)
		return "a VEX document over 1 MiB: not applied";
	const char *format, *why;
	struct vex_statement *st;
	size_t n;
	if (vex_parse(a, data, (size_t)size, &format, &st, &n, &why))
		return arena_printf(a, "a VEX document that cannot be read (%s): not applied", why);
	const char *key = arena_printf(a, "vex/ref:%s@%s", m->repo, m->digest), *pusher;
	if (meta->admin->setting_get(meta, a, arena_printf(a, VEX_PUSHER_PREFIX "%s@%s", m->repo, m->digest), &pusher))
		return arena_printf(a, "a VEX document not applied: it was not pushed by an owner of %s (a VEX document"
				       " changes what the pull gates let through, as a suppression rule does)", m->repo);
	const char **keys, **values;
	size_t have = 0, in_repo = 0;
	const char *old;
	if (meta->admin->setting_get(meta, a, key, &old)) {
		if (meta->admin->settings_list(meta, a, "vex/", &keys, &values, &have))
			return "a VEX document not applied: the documents kept cannot be read";
		const char *mine = arena_printf(a, "vex/ref:%s@", m->repo);
		for (size_t i = 0; i < have; i++)
			in_repo += !strncmp(keys[i], mine, strlen(mine));
		if (have >= DD_MAX_VEX_DOCUMENTS || in_repo >= DD_MAX_VEX_PER_REPOSITORY)
			return arena_printf(a, "a VEX document not applied: %d documents are kept at most, %d attached"
					       " in one repository", DD_MAX_VEX_DOCUMENTS, DD_MAX_VEX_PER_REPOSITORY);
	}
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s%}", "id", key + 4, "source", "referrer",
			      "repository", m->repo, "referrer", m->digest, "subject", info->subject, "format", format,
			      "statements", (json_int_t)n, "created", (json_int_t)util_now(), "document", data, (size_t)size);
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	int rc = text ? meta->admin->setting_put(meta, key, text) : DD_E_NOMEM;
	jsonmem_free(text);
	if (!rc)
		rc = vex_touch(meta);
	if (rc)
		return arena_printf(a, "a VEX document not applied: %s", dd_err_message(rc));
	return arena_printf(a, "a VEX document (%s, %zu statements) applied to %s", format, n, info->subject);
}

/* What the manifest is: NULL for a Linux image to scan, else why it is NotApplicable. */
static const char *not_applicable(struct scanner *s, struct arena *a, const struct manifest_rec *m)
{
	struct manifest_info info;
	const char *why;
	if (manifest_parse(a, m->content, (size_t)m->size, m->media_type, &info, &why))
		return arena_printf(a, "not a manifest drydock reads: %s", why);
	if (info.is_index)
		return "an image index: each platform's manifest is assessed on its own";
	const char *cmt = info.config.media_type;
	if (manifest_is_vex_type(*info.artifact_type ? info.artifact_type : cmt) && *info.subject)
		return vex_referrer(s, a, m, &info);
	if (strcmp(cmt, MT_OCI_CONFIG) && strcmp(cmt, MT_DOCKER_CONFIG))
		return arena_printf(a, "not an image (an artifact with config %s)", cmt);
	if (!info.nlayers)
		return "a scratch image: no layers, no operating system";
	why = NULL;
	json_t *c = blob_json(s->cfg.blobs, info.config.digest);
	const char *os = json_string_value(json_object_get(c, "os"));
	if (os && strcmp(os, "linux"))
		why = arena_printf(a, "a non-Linux image (os '%s')", os);
	json_decref(c);
	return why;
}

static const char *month_now(struct arena *a)
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	return arena_printf(a, "%04d-%02d", tm.tm_year + 1900, tm.tm_mon + 1);
}

static void *layer_main(void *arg)
{
	struct scanner *s = arg;
	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (!s->stop && !s->lq_n)
			pthread_cond_wait(&s->layer_wake, &s->mu);
		if (s->stop)
			break;
		char *digest = s->lq[s->lq_head];
		s->lq[s->lq_head] = NULL;
		s->lq_head = (s->lq_head + 1) % LAYER_QUEUE;
		s->lq_n--;
		if (!digest)
			continue; /* taken by an image scan */
		int slot = -1;
		for (int i = 0; i < LAYER_INFLIGHT && slot < 0; i++)
			if (!s->inflight[i])
				slot = i;
		if (slot < 0) { /* cannot happen with fewer threads than slots; drop it */
			free(digest);
			continue;
		}
		s->inflight[slot] = digest;
		pthread_mutex_unlock(&s->mu);
		const char *why;
		/* not a layer (a config): nothing cached */
		if (s->sb) {
			struct arena a = {0};
			sandbox_analyze_layer(s->sb, &a, s->cfg.blobs, digest, s->cache_dir, &why);
			arena_free(&a);
		} else
			image_analyze_layer(s->cfg.blobs, digest, s->cache_dir, &why);
		pthread_mutex_lock(&s->mu);
		s->inflight[slot] = NULL;
		free(digest);
		pthread_cond_broadcast(&s->layer_done);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* ---- layers analysed while they upload ----
 *
 * An upload's thread writes its bytes to the staging file and tells the stream how many it
 * appended; a thread of the stream's own reads them back from that file (the page cache, a
 * descriptor of its own) through the same layer reader, so that by the time the blob commits
 * its analysis is mostly done. No copy of the bytes is held: the upload never waits for the
 * reader, however far behind it falls. The reader takes exactly the bytes the upload
 * reported, which are the blob's when it commits (every cut-back ends the stream first), so
 * they are not hashed a second time. When the upload commits, the result goes into the layer
 * cache under its digest; anything else (a config blob, a cancelled upload, bytes cut back) is
 * thrown away and the commit-time analysis does the work as before. The stream is owned by
 * two: the upload (until stream_end) and its thread. */

struct layer_stream {
	struct scanner *s;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int fd;        /* the staging file, read with pread */
	uint64_t fed;  /* bytes the upload appended to it */
	uint64_t pos;  /* bytes the reader took (its thread's alone) */
	int scratch;   /* the file has no name (the S3 store's copy in memory): what was read is given back */
	uint64_t given; /* bytes given back so far */
	int waiting;   /* the reader sleeps until more bytes or the end */
	int eof, dead, ended, refs;
	char *digest;   /* the committed digest, NULL when cancelled */
	char *inflight; /* its entry in s->inflight while the analysis finishes */
};

static void stream_unref(struct layer_stream *ls)
{
	pthread_mutex_lock(&ls->mu);
	int last = --ls->refs == 0;
	pthread_mutex_unlock(&ls->mu);
	if (!last)
		return;
	close(ls->fd);
	free(ls->digest);
	pthread_mutex_destroy(&ls->mu);
	pthread_cond_destroy(&ls->cv);
	free(ls);
}

/* A scratch file's bytes already read, given back (holes punched) a MiB at a time, so that it
 * holds only what the reader has still to read. */
static void give_back(struct layer_stream *ls)
{
	uint64_t upto = ls->pos & ~(uint64_t)(1024 * 1024 - 1);
	if (!ls->scratch || upto <= ls->given)
		return;
	if (fallocate(ls->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)ls->given, (off_t)(upto - ls->given)))
		ls->scratch = 0;
	ls->given = upto;
}

static ssize_t stream_read(void *ctx, void *buf, size_t n)
{
	struct layer_stream *ls = ctx;
	pthread_mutex_lock(&ls->mu);
	while (ls->pos == ls->fed && !ls->eof && !ls->dead) {
		ls->waiting = 1;
		pthread_cond_wait(&ls->cv, &ls->mu);
	}
	ls->waiting = 0;
	uint64_t avail = ls->dead ? 0 : ls->fed - ls->pos;
	pthread_mutex_unlock(&ls->mu);
	if (!avail)
		return 0;
	ssize_t k = pread(ls->fd, buf, avail < n ? (size_t)avail : n, (off_t)ls->pos);
	if (k == 0) { /* shorter than reported: cut back under the reader, which is ended now */
		errno = EIO;
		return -1;
	}
	if (k > 0)
		ls->pos += (uint64_t)k;
	give_back(ls);
	return k;
}

/* The stream read here, by the layer reader in this thread (sandbox = false). 1 when its
 * result went into the layer cache. */
static int stream_in_process(struct layer_stream *ls, struct arena *a)
{
	struct layer l;
	const char *why;
	int rc = layer_read_stream(a, stream_read, ls, NULL, NULL, &l, &why);
	pthread_mutex_lock(&ls->mu);
	if (rc) { /* not a layer (a config), or a broken one: stop taking bytes */
		ls->dead = 1;
		pthread_cond_broadcast(&ls->cv);
	}
	while (!ls->ended)
		pthread_cond_wait(&ls->cv, &ls->mu);
	/* the whole blob read (layer_read_stream reads to the end), and nothing more */
	int keep = !rc && !ls->dead && ls->digest && ls->pos == ls->fed;
	pthread_mutex_unlock(&ls->mu);
	if (keep)
		layer_cache_put(ls->s->cache_dir, ls->digest, &l);
	return keep;
}

/* The stream handed to a sandboxed layer reader: this thread splices the bytes the upload
 * reports from the staging file into the worker's pipe, and stores its answer when the upload
 * commits. 1 when it went into the layer cache. */
static int stream_sandboxed(struct layer_stream *ls, struct arena *a)
{
	struct scanner *s = ls->s;
	/* the first byte: '{' is an image config (every push has one), not worth a worker */
	pthread_mutex_lock(&ls->mu);
	while (!ls->fed && !ls->eof && !ls->dead) {
		ls->waiting = 1;
		pthread_cond_wait(&ls->cv, &ls->mu);
	}
	ls->waiting = 0;
	int some = ls->fed > 0 && !ls->dead;
	pthread_mutex_unlock(&ls->mu);
	char first = 0;
	int config = some && pread(ls->fd, &first, 1, 0) == 1 && first == '{';
	struct sandbox_run *r = some && !config ? sandbox_stream_begin(s->sb) : NULL;
	int failed = !r;
	while (!failed) {
		pthread_mutex_lock(&ls->mu);
		while (ls->pos == ls->fed && !ls->eof && !ls->dead) {
			ls->waiting = 1;
			pthread_cond_wait(&ls->cv, &ls->mu);
		}
		ls->waiting = 0;
		uint64_t from = ls->pos, avail = ls->dead ? 0 : ls->fed - ls->pos;
		pthread_mutex_unlock(&ls->mu);
		if (!avail)
			break;
		if (sandbox_stream_feed(r, ls->fd, from, avail))
			failed = 1; /* not a layer (a config), a broken one, or a failed worker */
		else {
			ls->pos += avail;
			give_back(ls);
		}
	}
	pthread_mutex_lock(&ls->mu);
	if (failed) { /* stop taking bytes */
		ls->dead = 1;
		pthread_cond_broadcast(&ls->cv);
	}
	while (!ls->ended)
		pthread_cond_wait(&ls->cv, &ls->mu);
	int keep = !ls->dead && ls->digest && ls->pos == ls->fed;
	pthread_mutex_unlock(&ls->mu);
	if (r) {
		const char *why;
		if (sandbox_stream_end(r, a, keep ? ls->digest : NULL, s->cache_dir, &why)) {
			log_debug("layer %s, read as it uploaded: %s", ls->digest, why);
			keep = 0;
		}
	}
	return keep;
}

static void *stream_main(void *arg)
{
	struct layer_stream *ls = arg;
	struct scanner *s = ls->s;
	struct arena a = {0};
	int keep = s->sb ? stream_sandboxed(ls, &a) : stream_in_process(ls, &a);
	arena_free(&a);
	pthread_mutex_lock(&s->mu);
	for (int k = 0; k < LAYER_INFLIGHT && ls->inflight; k++)
		if (s->inflight[k] == ls->inflight) {
			free(s->inflight[k]);
			s->inflight[k] = NULL;
		}
	s->streams--;
	s->st.layers_streamed += keep;
	pthread_cond_broadcast(&s->layer_done);
	pthread_mutex_unlock(&s->mu);
	stream_unref(ls);
	return NULL;
}

static void *stream_begin(void *ctx, int fd)
{
	struct scanner *s = ctx;
	if (!s) {
		close(fd);
		return NULL;
	}
	pthread_mutex_lock(&s->mu);
	int ok = s->cfg.stream_uploads && !s->stop && s->cur && s->streams < STREAMS_MAX;
	if (ok)
		s->streams++;
	pthread_mutex_unlock(&s->mu);
	if (!ok) {
		close(fd);
		return NULL;
	}
	struct layer_stream *ls = calloc(1, sizeof(*ls));
	pthread_t t;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (ls) {
		struct stat st;
		ls->s = s;
		ls->fd = fd;
		ls->scratch = !fstat(fd, &st) && st.st_nlink == 0;
		ls->refs = 2;
		pthread_mutex_init(&ls->mu, NULL);
		pthread_cond_init(&ls->cv, NULL);
	}
	if (!ls || pthread_create(&t, &attr, stream_main, ls)) {
		if (ls) {
			pthread_mutex_destroy(&ls->mu);
			pthread_cond_destroy(&ls->cv);
			free(ls);
		}
		close(fd);
		ls = NULL;
		pthread_mutex_lock(&s->mu);
		s->streams--;
		pthread_mutex_unlock(&s->mu);
	}
	pthread_attr_destroy(&attr);
	return ls;
}

static int stream_feed(void *watch, size_t n)
{
	struct layer_stream *ls = watch;
	pthread_mutex_lock(&ls->mu);
	if (!ls->dead) {
		ls->fed += n;
		if (ls->waiting)
			pthread_cond_signal(&ls->cv);
	}
	int rc = ls->dead ? -1 : 0;
	pthread_mutex_unlock(&ls->mu);
	return rc;
}

static void stream_end(void *watch, const char *digest)
{
	struct layer_stream *ls = watch;
	if (!ls)
		return;
	struct scanner *s = ls->s;
	char *mark = NULL;
	if (digest) { /* the commit's event and image scans wait for this analysis */
		pthread_mutex_lock(&s->mu);
		for (int k = 0; k < LAYER_INFLIGHT && !mark; k++)
			if (!s->inflight[k] && (mark = strdup(digest)))
				s->inflight[k] = mark;
		pthread_mutex_unlock(&s->mu);
	}
	pthread_mutex_lock(&ls->mu);
	ls->inflight = mark;
	ls->digest = digest ? strdup(digest) : NULL;
	ls->eof = ls->ended = 1;
	if (!ls->digest)
		ls->dead = 1;
	pthread_cond_broadcast(&ls->cv);
	pthread_mutex_unlock(&ls->mu);
	stream_unref(ls);
}

/* The scanner reads layers while they upload: the registry's upload watcher (events.h). */
static const struct upload_watcher stream_watcher = {.begin = stream_begin, .feed = stream_feed, .end = stream_end};

/* Before an image scan: layers being analysed are waited for; queued ones are taken out of
 * the queue (the image scan reads them now rather than twice). */
static void claim_layers(struct scanner *s, const struct image *img)
{
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < img->nlayers; i++) {
		const char *d = img->layers[i].digest;
		if (!d)
			continue;
		for (size_t k = 0; k < s->lq_n; k++) {
			size_t at = (s->lq_head + k) % LAYER_QUEUE;
			if (s->lq[at] && !strcmp(s->lq[at], d)) {
				free(s->lq[at]);
				s->lq[at] = NULL; /* a hole: skipped when reached */
			}
		}
		for (;;) {
			int busy = 0;
			for (int k = 0; k < LAYER_INFLIGHT; k++)
				busy |= s->inflight[k] && !strcmp(s->inflight[k], d);
			if (!busy || s->stop)
				break;
			pthread_cond_wait(&s->layer_done, &s->mu);
		}
	}
	pthread_mutex_unlock(&s->mu);
}

/* A digest of what an assessment says (status, reason, and each finding's id, package,
 * versions and severity): equal digests mean the stored report still holds. */
static const char *findings_hash(struct arena *a, const struct scan_result *r)
{
	uint64_t h = 1469598103934665603ULL;
#define MIX(str)                                                                   \
	do {                                                                       \
		for (const unsigned char *p_ = (const unsigned char *)(str); *p_; p_++) \
			h = (h ^ *p_) * 1099511628211ULL;                          \
		h = (h ^ 0xff) * 1099511628211ULL;                                 \
	} while (0)
	MIX(r->unsupported ? r->unsupported : "");
	for (size_t i = 0; i < r->n; i++) {
		const struct finding *f = &r->findings[i];
		char sev[32];
		snprintf(sev, sizeof(sev), "%d/%d", (int)f->severity, (int)(f->cvss_score * 10));
		MIX(f->id);
		MIX(f->pkg->name);
		MIX(f->installed);
		MIX(f->fixed ? f->fixed : "-");
		MIX(sev);
		MIX(f->vendor_severity ? f->vendor_severity : "");
		if (f->tracker_status) /* only where there is one: other images' hashes stay as they were */
			MIX(f->tracker_status);
		for (size_t k = 0; k < f->naliases; k++)
			MIX(f->aliases[k]);
	}
#undef MIX
	return arena_printf(a, "%016" PRIx64 "-%zu", h, r->n);
}

static int cmp_str(const void *x, const void *y) { return strcmp(*(const char *const *)x, *(const char *const *)y); }

/* The same keys read straight from the text the compact writer makes (report_json_compact:
 * each finding starts {"id":..,"aliases":[..],"package":..): 0, or -1 for any other text. */
static int report_keys_fast(struct arena *a, const char *report, const char ***out, size_t *n)
{
	const char *p = strstr(report, "\"findings\":["); /* no string holds an unescaped quote */
	if (!p)
		return -1;
	p += strlen("\"findings\":[");
	size_t cap = 0;
	const char **v = NULL;
	*n = 0;
	while (*p != ']') {
		const char *id, *pkg;
		if (!jscan_starts(&p, "{\"id\":\"") || !(id = jscan_plain_string(a, &p)) ||
		    !jscan_starts(&p, ",\"aliases\":") || !jscan_skip_value(&p) || !jscan_starts(&p, ",\"package\":\"") ||
		    !(pkg = jscan_plain_string(a, &p)))
			return -1;
		while (*p == ',') { /* the finding's other fields */
			p++;
			if (*p != '"' || !jscan_skip_value(&p) || *p != ':')
				return -1;
			p++;
			if (!jscan_skip_value(&p))
				return -1;
		}
		if (*p++ != '}')
			return -1;
		v = arena_grow(a, v, *n, &cap, sizeof(*v));
		v[(*n)++] = arena_printf(a, "%s %s", id, pkg);
		if (*p == ',')
			p++;
		else if (*p != ']')
			return -1;
	}
	*out = v ? v : arena_alloc(a, sizeof(*v));
	return 0;
}

/* "id package" of each finding of a stored report (arena), sorted. */
static const char **report_keys(struct arena *a, const char *report, size_t *n)
{
	*n = 0;
	const char **v;
	if (!report_keys_fast(a, report, &v, n)) {
		qsort(v, *n, sizeof(*v), cmp_str);
		return v;
	}
	*n = 0;
	json_t *o = json_loads(report, 0, NULL), *f;
	json_t *fs = json_object_get(o, "findings");
	v = arena_alloc(a, (json_array_size(fs) + 1) * sizeof(*v));
	size_t i;
	json_array_foreach(fs, i, f)
	{
		const char *id = json_string_value(json_object_get(f, "id"));
		const char *pkg = json_string_value(json_object_get(f, "package"));
		if (id && pkg)
			v[(*n)++] = arena_printf(a, "%s %s", id, pkg);
	}
	json_decref(o);
	qsort(v, *n, sizeof(*v), cmp_str);
	return v;
}

/* The fields of a findings.changed event: the findings of r that the stored report of the
 * image lacks ("new", with their severity and fix) and those it had that r lacks ("resolved");
 * NULL when both are empty (only a severity or a fix moved) or the report cannot be read. */
static json_t *findings_changes(struct meta *meta, struct arena *a, const struct scan_job *job,
				const struct scan_result *r)
{
	const char *report = NULL, *hash;
	if (meta->scans->assessment_report(meta, a, job->repo, job->digest, &report, &hash) || !report || !*report)
		return NULL;
	size_t nold, nnew = 0;
	const char **old = report_keys(a, report, &nold);
	const char **now = arena_alloc(a, (r->n + 1) * sizeof(*now));
	for (size_t i = 0; i < r->n; i++)
		now[nnew++] = arena_printf(a, "%s %s", r->findings[i].id, r->findings[i].pkg->name);
	qsort(now, nnew, sizeof(*now), cmp_str);
	json_t *added = json_array(), *gone = json_array();
	for (size_t i = 0; i < r->n; i++) {
		const struct finding *f = &r->findings[i];
		const char *key = arena_printf(a, "%s %s", f->id, f->pkg->name);
		if (!bsearch(&key, old, nold, sizeof(*old), cmp_str))
			json_array_append_new(added, json_pack("{s:s, s:s, s:s, s:s}", "id", f->id, "package",
							       f->pkg->name, "severity", vdb_severity_name(f->severity),
							       "fixed_version", f->fixed ? f->fixed : ""));
	}
	for (size_t i = 0; i < nold; i++)
		if ((!i || strcmp(old[i], old[i - 1])) && !bsearch(&old[i], now, nnew, sizeof(*now), cmp_str)) {
			size_t sp = strcspn(old[i], " ");
			json_array_append_new(gone, json_pack("{s:s%, s:s}", "id", old[i], sp, "package", old[i] + sp + 1));
		}
	if (!json_array_size(added) && !json_array_size(gone)) {
		json_decref(added);
		json_decref(gone);
		return NULL;
	}
	return json_pack("{s:o, s:o}", "new", added, "resolved", gone);
}

/* The webhook events of an assessment (events/hooks.h) into done (arena a): scan.completed, or
 * scan.failed, with its counts; and findings.changed when `changes` (taken) says what moved. */
static void scan_events(struct arena *a, const struct assessment_rec *rec, int reassessment, const size_t *by_sev,
			size_t nfind, size_t unfixed, json_t *changes, struct scan_done *done)
{
	struct outbox_event *ev = arena_alloc(a, 2 * sizeof(*ev));
	size_t n = 0;
	json_t *counts = json_object();
	for (int k = VDB_SEV_CRITICAL; k >= 0; k--)
		json_object_set_new(counts, vdb_severity_name(k), json_integer((json_int_t)by_sev[k]));
	json_object_set_new(counts, "total", json_integer((json_int_t)nfind));
	json_object_set_new(counts, "unfixed", json_integer((json_int_t)unfixed));
	json_t *fields = json_pack("{s:s, s:s, s:O, s:s, s:b}", "status", rec->status, "reason", rec->reason, "counts",
				   counts, "database_generation", rec->db_generation, "reassessment", reassessment);
	const char *type = assessment_status_is(rec->status, STATUS_FAILED) ? HOOK_SCAN_FAILED : HOOK_SCAN_COMPLETED;
	const char *text = hook_event(a, type, rec->repo, rec->digest, rec->scanned_at, fields);
	if (text)
		ev[n++] = (struct outbox_event){.type = type, .repo = rec->repo, .payload = text};
	if (changes) {
		json_object_set_new(changes, "status", json_string(rec->status));
		json_object_set(changes, "counts", counts);
		json_object_set_new(changes, "database_generation", json_string(rec->db_generation));
		text = hook_event(a, HOOK_FINDINGS_CHANGED, rec->repo, rec->digest, rec->scanned_at, changes);
		if (text)
			ev[n++] = (struct outbox_event){.type = HOOK_FINDINGS_CHANGED, .repo = rec->repo, .payload = text};
	}
	json_decref(counts);
	done->events = ev;
	done->nevents = n;
}

/* What the jobs of one batch read once: the scanning setting of the last namespace (a batch's
 * images are mostly one repository's; a statement an image was a fifth of PostgreSQL's
 * statements in a pass over 100,000 images). */
struct batch_seen {
	struct arena *a; /* the batch's */
	const char *ns;
	int enabled;
	/* re-assessments: the stored inventories of jobs [from, from + n), read in one statement
	 * (one an image was two fifths of PostgreSQL's statements), into an arena of their own
	 * freed at the next group's read: a group holds at most SEEN_GROUP inventories, of at most
	 * SEEN_GROUP_BYTES stored (and the first, whatever its size) */
	struct arena group;
	const struct scan_job *from;
	size_t n;
	int single; /* a group's read failed: the rest of the batch is read one by one */
	const char *inv[SEEN_GROUP], *hash[SEEN_GROUP];
};

/* The stored inventory and findings hash of job (jobs[0..njobs) in order), from its group. */
static int seen_inventory(struct scanner *s, struct batch_seen *seen, const struct scan_job *jobs, size_t njobs,
			  const struct scan_job *job, const char **inv, const char **hash)
{
	struct meta *meta = s->cfg.meta;
	if (!seen->single && (!seen->from || job < seen->from || job >= seen->from + seen->n)) {
		arena_free(&seen->group);
		size_t left = (size_t)(jobs + njobs - job);
		seen->from = job;
		if (meta->scans->assessment_inventories(meta, &seen->group, job, left < SEEN_GROUP ? left : SEEN_GROUP,
							SEEN_GROUP_BYTES, seen->inv, seen->hash, &seen->n) ||
		    !seen->n) {
			seen->single = 1;
			seen->from = NULL;
		}
	}
	if (seen->single) {
		arena_free(&seen->group); /* the job before is done with its own */
		return meta->scans->assessment_inventory(meta, &seen->group, job->repo, job->digest, inv, hash);
	}
	*inv = seen->inv[job - seen->from];
	*hash = seen->hash[job - seen->from];
	return *inv ? 0 : DD_E_NOT_FOUND;
}

/* Runs one job into *done (arena memory); the caller stores a batch of them at once. Returns
 * the bytes of the report and inventory it holds. */
static size_t run_job(struct scanner *s, struct dbref *d, const struct scan_job *jobs, size_t njobs,
		      const struct scan_job *job, int listened, struct batch_seen *seen, struct arena *out_arena,
		      struct scan_done *done)
{
	struct meta *meta = s->cfg.meta;
	struct arena a = {0};
	int64_t t0 = now_us();
	struct assessment_rec rec = {.repo = job->repo, .digest = job->digest, .reason = "", .report = "",
				     .inventory = "", .db_generation = d->gen};
	const char *ns = arena_strndup(&a, job->repo, strcspn(job->repo, "/"));
	struct inventory inv;
	inventory_init(&inv, &a);
	const char *why = NULL;
	int enabled = 1, have_inv = 0, rc;
	size_t by_sev[VDB_SEV_CRITICAL + 1] = {0}, nfind = 0, unfixed = 0;
	const char *stored = "", *old_hash = "";
	int unchanged = 0, inventory_kept = 0, metered = 0;
	json_t *changes = NULL; /* a re-assessment's new and resolved findings */
	char *rep = NULL;       /* the report (malloc'd), copied once into out_arena */
	if (seen->ns && !strcmp(seen->ns, ns)) {
		enabled = seen->enabled;
	} else if (!meta->scans->ns_scanning_get(meta, ns, &enabled)) {
		seen->ns = arena_strdup(seen->a, ns);
		seen->enabled = enabled;
	}
	if (!enabled) {
		rec.status = assessment_status_name(STATUS_NOT_APPLICABLE);
		rec.reason = arena_printf(&a, "scanning is disabled for namespace '%s'", ns);
		goto store;
	}
	/* a re-assessment: the stored inventory, no layer read */
	if (job->priority == SCAN_REASSESS && !seen_inventory(s, seen, jobs, njobs, job, &stored, &old_hash) &&
	    *stored &&
	    !inventory_deserialize(&inv, stored, strlen(stored), &why))
		have_inv = 1;
	if (!have_inv) {
		struct manifest_rec m;
		if ((rc = meta->repos->manifest_get(meta, &a, job->repo, job->digest, 1, 1, &m))) {
			rec.status = assessment_status_name(STATUS_FAILED);
			rec.reason = arena_printf(&a, "the manifest cannot be read: %s", dd_err_message(rc));
			goto store;
		}
		const char *na = not_applicable(s, &a, &m);
		if (na) {
			rec.status = assessment_status_name(STATUS_NOT_APPLICABLE);
			rec.reason = na;
			goto store;
		}
		metered = 1; /* an image whose layers are read: what usage counts (not an index, an
			      * artifact, scratch, a non-Linux image, or a namespace with scanning off) */
		struct image img = {.want_index = -1};
		const char *ref = arena_printf(&a, "%s@%s", job->repo, job->digest);
		rc = image_open_store_meta(&a, meta, s->cfg.blobs, ref, &img, &why);
		if (!rc) {
			claim_layers(s, &img);
			rc = s->sb ? sandbox_image_inventory(s->sb, &a, &img, s->cache_dir, &inv, &why)
				   : image_inventory(&a, &img, s->cache_dir, &inv, &why);
		}
		if (rc) {
			rec.status = assessment_status_name(STATUS_FAILED);
			rec.reason = arena_printf(&a, "%s: %s", dd_err_message(rc), why ? why : "");
			goto store;
		}
		if (!inv.n && inv.os.kind != OS_KNOWN) {
			rec.status = assessment_status_name(STATUS_NOT_APPLICABLE);
			rec.reason = "no operating system and no packages found (a scratch-based image)";
			goto store;
		}
	}
	{
		if (have_inv)
			rec.inventory = stored; /* unchanged: no layer was read */
		else {
			char *text = inventory_serialize(&inv);
			rec.inventory = text ? arena_strdup(&a, text) : "";
			free(text);
		}
		struct scan_result r;
		if ((rc = scan_match(&a, d->db, &inv, &r, &why))) {
			rec.status = assessment_status_name(STATUS_FAILED);
			rec.reason = why ? why : dd_err_message(rc);
			goto store;
		}
		struct report_filter none = {0};
		struct sbom_subject subj = {.name = job->repo, .manifest = job->digest, .layers = -1};
		rec.status = assessment_status_name(report_status(&r, &none));
		rec.reason = r.unsupported ? r.unsupported : "";
		rec.findings_hash = findings_hash(&a, &r);
		for (int k = 0; k <= VDB_SEV_CRITICAL; k++)
			by_sev[k] = r.by_severity[k];
		nfind = r.n;
		unfixed = r.unfixed;
		if (listened && have_inv && *old_hash && strcmp(old_hash, rec.findings_hash))
			changes = findings_changes(meta, &a, job, &r); /* reads the old report: only for a target */
		if (have_inv && *old_hash && !strcmp(old_hash, rec.findings_hash)) {
			unchanged = 1; /* same findings: the stored report and inventory stand */
			rec.inventory = "";
		} else {
			if (have_inv) {
				inventory_kept = 1; /* only the report is rewritten */
				rec.inventory = "";
			}
			rep = report_json_compact(d->db, &inv, &subj, &r);
			rec.report = rep ? rep : "";
		}
	}
store:
	/* a reason may name what an image holds: stored as UTF-8 (PostgreSQL refuses other text,
	 * and with it the whole batch of assessments) */
	{
		struct buf u;
		buf_init(&u, strlen(rec.reason) * 3 + 16); /* every byte may become three */
		if (buf_utf8(&u, rec.reason))
			rec.reason = "the reason is not UTF-8 and could not be stored";
		else if (strcmp(u.data, rec.reason))
			rec.reason = arena_strdup(&a, u.data);
		buf_release(&u);
	}
	rec.counts = arena_printf(&a, "%zu %zu %zu %zu %zu %zu %zu", by_sev[VDB_SEV_CRITICAL], by_sev[VDB_SEV_HIGH],
				  by_sev[VDB_SEV_MEDIUM], by_sev[VDB_SEV_LOW], by_sev[VDB_SEV_NEGLIGIBLE],
				  by_sev[VDB_SEV_UNKNOWN], unfixed);
	rec.scanned_at = util_now();
	rec.duration_us = now_us() - t0;
	/* everything the batch store needs, copied out of this job's arena */
	struct arena *o = out_arena;
	*done = (struct scan_done){.job = job->id, .unchanged = unchanged, .inventory_kept = inventory_kept,
				   .ns = job->priority == SCAN_PUSH && metered ? arena_strdup(o, ns) : NULL,
				   .month = arena_strdup(o, month_now(&a))};
	done->rec = rec;
	done->rec.repo = arena_strdup(o, rec.repo);
	done->rec.digest = arena_strdup(o, rec.digest);
	done->rec.status = arena_strdup(o, rec.status);
	done->rec.reason = arena_strdup(o, rec.reason);
	size_t report_n = strlen(rec.report), inventory_n = strlen(rec.inventory);
	done->rec.report = arena_strndup(o, rec.report, report_n);
	done->rec.inventory = arena_strndup(o, rec.inventory, inventory_n);
	jsonmem_free(rep);
	done->rec.db_generation = arena_strdup(o, rec.db_generation);
	done->rec.findings_hash = rec.findings_hash ? arena_strdup(o, rec.findings_hash) : "";
	done->rec.counts = arena_strdup(o, rec.counts);
	if (listened) /* no webhook target: no event would be kept */
		scan_events(o, &done->rec, job->priority == SCAN_REASSESS, by_sev, nfind, unfixed, changes, done);
	if (job->priority == SCAN_PUSH)
		log_info("assessed %s@%s: %s%s%s (%.3f s)", job->repo, job->digest, rec.status, *rec.reason ? ": " : "",
			 rec.reason, rec.duration_us / 1e6);
	double secs = rec.duration_us / 1e6;
	pthread_mutex_lock(&s->mu);
	s->st.completed++;
	s->st.failed += assessment_status_is(rec.status, STATUS_FAILED);
	enum assessment_status st;
	if (!assessment_status_parse(rec.status, &st))
		s->st.by_status[st]++;
	for (int b = 0; b < SCANNER_BUCKETS; b++)
		s->st.latency_le[b] += secs <= scanner_bucket_bounds[b];
	s->st.latency_sum += secs;
	pthread_mutex_unlock(&s->mu);
	arena_free(&a);
	return report_n + inventory_n;
}

#define SCANNER_STORE_US 20000 /* a push's assessment waits at most this for others to share its commit */

#ifdef DD_TEST_HOOKS
/* A test build only (build/drydock-test-hooks): with DRYDOCK_TEST_BATCH_HOLD=FILE a batch waits
 * while FILE exists (two minutes at most) before it is stored, so that a test can put a database
 * in place while one runs. */
static void test_pause(void)
{
	const char *f = getenv("DRYDOCK_TEST_BATCH_HOLD");
	for (int i = 0; f && !access(f, F_OK) && i < 12000; i++)
		usleep(10000);
}
#else
#define test_pause() ((void)0)
#endif

/* A database put in place while a batch ran: its scan_enqueue_stale may have come before the
 * batch was stored, and left the batch's jobs as they were (RUNNING), so what the batch stored,
 * made with the database before, would stay until the next start (found by a review helper, 1
 * pass in 6 of a few thousand images with databases swapped back and forth). Queued again as
 * re-assessments, those with a stored inventory (reassessable[i]), as scan_enqueue_stale queues
 * them: an image whose scan failed or found nothing to read is not read again for a database.
 * One queued already, or stored after that enqueue re-queued it, stays one job. */
static void requeue_if_replaced(struct scanner *s, const struct dbref *d, const struct scan_job *jobs,
				const char *reassessable, size_t n)
{
	pthread_mutex_lock(&s->mu);
	int replaced = s->cur && strcmp(s->cur->gen, d->gen);
	pthread_mutex_unlock(&s->mu);
	if (!replaced)
		return;
	size_t again = 0;
	for (size_t i = 0; i < n; i++) {
		int queued = 0;
		if (reassessable[i] &&
		    !s->cfg.meta->scans->scan_enqueue(s->cfg.meta, jobs[i].repo, jobs[i].digest, SCAN_REASSESS, &queued))
			again += queued != 0;
	}
	if (again)
		log_info("%zu of %zu images assessed with database generation %s, replaced meanwhile, queued again",
			 again, n, d->gen);
}

static void store_done(struct scanner *s, struct scan_done *done, size_t n)
{
	if (!n)
		return;
	int rc = s->cfg.meta->scans->scan_complete(s->cfg.meta, done, n);
	if (rc)
		log_error("cannot store %zu assessments: %s", n, dd_err_message(rc));
}

static void *worker_main(void *arg)
{
	struct scanner *s = arg;
	jsonmem_begin(); /* this thread's JSON is per job: a bump region, reset after each batch */
	size_t want = SCANNER_BATCH_FIRST; /* jobs to claim (SCANNER_BATCH_US) */
	for (;;) {
		pthread_mutex_lock(&s->mu);
		int stop = s->stop;
		pthread_mutex_unlock(&s->mu);
		if (stop)
			break;
		struct dbref *d = db_take(s);
		struct arena a = {0};
		struct scan_job *jobs;
		size_t n = 0;
		int rc = d ? s->cfg.meta->scans->scan_claim(s->cfg.meta, &a, want, d->gen, &jobs, &n) : DD_E_NOT_FOUND;
		int64_t began = now_us();
		if (!rc) {
			held_add(s, jobs, n);
			struct scan_done *done = arena_alloc(&a, n * sizeof(*done));
			char *reassessable = arena_alloc(&a, n); /* a stored inventory: requeue_if_replaced */
			int listened = 1; /* a webhook target to take this batch's events (a target added
					   * meanwhile gets the events of the batches after it) */
			s->cfg.meta->outbox->webhook_any(s->cfg.meta, &listened);
			size_t stored = 0, bytes = 0;
			int64_t since = now_us();
			struct arena out = {0}; /* the assessments not yet stored */
			struct batch_seen seen = {.a = &a};
			for (size_t i = 0; i < n; i++) {
				bytes += run_job(s, d, jobs, n, &jobs[i], listened, &seen, &out, &done[i]);
				reassessable[i] = (char)scan_done_reassessable(&done[i]);
				/* pushes' assessments are stored every SCANNER_STORE_US, so the first of a
				 * batch does not wait for the last; re-assessments in whole batches, or
				 * at DD_MAX_SCAN_BATCH_BYTES */
				if (i + 1 < n && ((jobs[i].priority == SCAN_PUSH && now_us() - since > SCANNER_STORE_US) ||
						  bytes > DD_MAX_SCAN_BATCH_BYTES)) {
					store_done(s, done + stored, i + 1 - stored);
					log_debug("stored %zu assessments of a batch of %zu (%zu bytes)", i + 1 - stored, n,
						  bytes);
					arena_free(&out);
					stored = i + 1;
					bytes = 0;
					since = now_us();
				}
			}
			test_pause();
			store_done(s, done + stored, n - stored);
			log_debug("stored %zu assessments of a batch of %zu (%zu bytes)", n - stored, n, bytes);
			arena_free(&out);
			arena_free(&seen.group);
			held_drop(s, jobs, n);
			requeue_if_replaced(s, d, jobs, reassessable, n);
			int64_t each = (now_us() - began) / (int64_t)n;
			if (n > 1 || jobs[0].priority == SCAN_REASSESS)
				log_debug("assessed %zu images in a batch (%zu asked for), %" PRId64 " us each", n, want, each);
			if (jobs[0].priority == SCAN_REASSESS) { /* a push's time says nothing of theirs */
				want = each > 0 ? (size_t)(s->batch_us / each) : SCANNER_BATCH;
				want = want < 1 ? 1 : want > SCANNER_BATCH ? SCANNER_BATCH : want;
			}
		}
		db_release(s, d);
		arena_free(&a);
		jsonmem_reset();
		if (rc) { /* nothing to do (or no database yet): sleep until kicked */
			pthread_mutex_lock(&s->mu);
			if (!s->stop && !s->kicks) { /* until a kick is left for it: a notice wakes one worker */
				struct timespec ts;
				clock_gettime(CLOCK_REALTIME, &ts);
				ts.tv_sec += 2;
				while (!s->stop && !s->kicks && pthread_cond_timedwait(&s->wake, &s->mu, &ts) != ETIMEDOUT)
					;
			}
			if (s->kicks)
				s->kicks--;
			pthread_mutex_unlock(&s->mu);
		}
	}
	jsonmem_end();
	return NULL;
}

static void on_event(void *ctx, const struct event *ev)
{
	struct scanner *s = ctx;
	if (ev->kind == EVENT_BLOB_COMMITTED) {
		/* a layer is read while the rest of the image uploads; configs are tiny and fail fast */
		char *d = strdup(ev->digest);
		pthread_mutex_lock(&s->mu);
		/* without a database nothing is matched yet: the image scan reads layers when one comes */
		int busy = 0;
		for (int k = 0; d && k < LAYER_INFLIGHT; k++)
			busy |= s->inflight[k] && !strcmp(s->inflight[k], d);
		if (d && !busy && s->cur && s->lq_n < LAYER_QUEUE && s->nlayer_threads) {
			s->lq[(s->lq_head + s->lq_n) % LAYER_QUEUE] = d;
			s->lq_n++;
			d = NULL;
			pthread_cond_signal(&s->layer_wake);
		}
		pthread_mutex_unlock(&s->mu);
		free(d);
		return;
	}
	if (ev->kind == EVENT_MANIFEST_DELETED) { /* a VEX referrer's document goes with it */
		struct arena a = {0};
		struct meta *m = s->cfg.meta;
		const char *key = arena_printf(&a, "vex/ref:%s@%s", ev->repo, ev->digest), *v;
		if (!m->admin->setting_get(m, &a, key, &v) && !m->admin->setting_delete(m, key))
			vex_touch(m);
		m->admin->setting_delete(m, arena_printf(&a, VEX_PUSHER_PREFIX "%s@%s", ev->repo, ev->digest));
		arena_free(&a);
		return;
	}
	if (ev->kind != EVENT_MANIFEST_PUT)
		return;
	/* the registry queued the job with the manifest (one transaction); wake a worker */
	scanner_kick(s);
}

void scanner_kick(struct scanner *s)
{
	pthread_mutex_lock(&s->mu);
	s->kicks = s->nworkers;
	pthread_cond_broadcast(&s->wake);
	pthread_mutex_unlock(&s->mu);
}

/* A node of the cluster (this one too) queued scans (meta.h's listen): an idle worker claims
 * now, not at its next poll. */
static void on_notice(void *ctx)
{
	struct scanner *s = ctx;
	pthread_mutex_lock(&s->mu);
	s->st.notices++;
	if (s->kicks < s->nworkers) /* one idle worker claims: every node hears every notice */
		s->kicks++;
	pthread_cond_broadcast(&s->wake);
	pthread_mutex_unlock(&s->mu);
}

int scanner_start(const struct scanner_config *c, struct scanner **out, const char **why)
{
	*out = NULL;
	*why = NULL;
	struct scanner *s = calloc(1, sizeof(*s));
	if (!s)
		return DD_E_NOMEM;
	s->cfg = *c;
	s->db_path = strdup(c->db_path);
	size_t n = strlen(c->data_dir) + 32;
	s->cache_dir = malloc(n);
	if (!s->db_path || !s->cache_dir) {
		scanner_stop(s);
		return DD_E_NOMEM;
	}
	snprintf(s->cache_dir, n, "%s/" LAYER_CACHE_SUBDIR, c->data_dir);
	s->batch_us = SCANNER_BATCH_US;
	const char *ms = getenv("DRYDOCK_SCAN_BATCH_MS");
	char *end;
	long v = ms ? strtol(ms, &end, 10) : 0;
	if (ms && *ms && !*end && v >= 1 && v <= 600000)
		s->batch_us = (int64_t)v * 1000;
	else if (ms)
		log_warn("DRYDOCK_SCAN_BATCH_MS must be a number of milliseconds from 1 to 600000; using %d",
			 SCANNER_BATCH_US / 1000);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->wake, NULL);
	pthread_cond_init(&s->layer_wake, NULL);
	pthread_cond_init(&s->layer_done, NULL);
	pthread_cond_init(&s->keeper_wake, NULL);
	int rc = c->meta->scans->scan_recover(c->meta);
	if (!rc && c->sandbox)
		rc = sandbox_new(&s->sb, why);
	if (rc) {
		scanner_stop(s);
		return rc;
	}
	events_subscribe(on_event, s);
	if (c->stream_uploads)
		events_watch_uploads(&stream_watcher, s);
	int want = c->workers < 1 ? 1 : c->workers > SCANNER_MAX_WORKERS ? SCANNER_MAX_WORKERS : c->workers;
	for (int i = 0; i < want; i++)
		if (!pthread_create(&s->workers[s->nworkers], NULL, worker_main, s))
			s->nworkers++;
	for (int i = 0; i < want && i < LAYER_INFLIGHT; i++)
		if (!pthread_create(&s->layer_threads[s->nlayer_threads], NULL, layer_main, s))
			s->nlayer_threads++;
	if (!pthread_create(&s->watcher, NULL, watcher_main, s))
		s->watching = 1;
	if (c->meta->shared && !pthread_create(&s->keeper, NULL, keeper_main, s))
		s->keeping = 1; /* leases are the shared store's (one process's claims are reset at its start) */
	if (c->meta->listen && !c->meta->listen(c->meta, on_notice, s))
		s->listening = 1;
	*out = s;
	return 0;
}

void scanner_stop(struct scanner *s)
{
	if (!s)
		return;
	events_unwatch_uploads(s); /* no new upload is handed to it now */
	if (s->listening)
		s->cfg.meta->listen(s->cfg.meta, NULL, NULL); /* nor a notice */
	sandbox_stop_background(s->sb); /* the layers read for the cache alone are not waited for */
	pthread_mutex_lock(&s->mu);
	s->stop = 1;
	pthread_cond_broadcast(&s->wake);
	pthread_cond_broadcast(&s->layer_wake);
	pthread_cond_broadcast(&s->layer_done);
	pthread_cond_broadcast(&s->keeper_wake);
	while (s->streams > 0) /* the uploads ended every stream; their threads finish now */
		pthread_cond_wait(&s->layer_done, &s->mu);
	pthread_mutex_unlock(&s->mu);
	for (int i = 0; i < s->nworkers; i++)
		pthread_join(s->workers[i], NULL);
	for (int i = 0; i < s->nlayer_threads; i++)
		pthread_join(s->layer_threads[i], NULL);
	for (size_t k = 0; k < s->lq_n; k++)
		free(s->lq[(s->lq_head + k) % LAYER_QUEUE]);
	if (s->watching)
		pthread_join(s->watcher, NULL);
	if (s->keeping)
		pthread_join(s->keeper, NULL);
	if (s->cur)
		db_release(s, s->cur);
	sandbox_free(s->sb); /* every thread that used it is joined, every stream ended */
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->wake);
	pthread_cond_destroy(&s->layer_wake);
	pthread_cond_destroy(&s->layer_done);
	pthread_cond_destroy(&s->keeper_wake);
	free(s->db_path);
	free(s->cache_dir);
	free(s);
}

void scanner_stats(struct scanner *s, struct scanner_stats *out)
{
	pthread_mutex_lock(&s->mu);
	*out = s->st;
	pthread_mutex_unlock(&s->mu);
	if (s->sb) {
		struct sandbox_counts c;
		sandbox_counts(s->sb, &c);
		out->worker_layer_tasks = c.layer_tasks;
		out->worker_inventory_tasks = c.inventory_tasks;
		out->inventories_spared = c.inventories_spared;
	}
}

const struct vulndb *scanner_db_acquire(struct scanner *s, void **token)
{
	struct dbref *d = s ? db_take(s) : NULL;
	*token = d;
	return d ? d->db : NULL;
}

void scanner_db_release(struct scanner *s, void *token)
{
	if (s)
		db_release(s, token);
}
