/* meta_sql.c: the statement helpers of meta_sqlInt.h, passed to the engine that runs the store
 * or connection at hand (meta_sqlite.c, meta_pg.c). */
#include "common/dd.h"
#include "meta_sqlInt.h"
#include "common/arena.h"
#include "common/log.h"
#include <zstd.h>

void meta_sql_init(struct meta_sql *ms, const struct sq_engine *eng, void (*free_fn)(struct meta *m), int max,
		   int (*open_conn)(struct meta_sql *ms, struct conn **out), void (*close_conn)(struct conn *c),
		   int (*reusable)(struct conn *c))
{
	ms->base.repos = &meta_sql_repos;
	ms->base.scans = &meta_sql_scans;
	ms->base.admin = &meta_sql_admin;
	ms->base.outbox = &meta_sql_outbox;
	ms->base.free = free_fn;
	ms->eng = eng;
	pthread_mutex_init(&ms->hint.mu, NULL);
	struct sq_pool *p = &ms->pool;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->freed, NULL);
	p->max = max;
	p->open_conn = open_conn;
	p->close_conn = close_conn;
	p->reusable = reusable;
}

void meta_sql_fini(struct meta_sql *ms)
{
	struct sq_pool *p = &ms->pool;
	while (p->idle) {
		struct conn *c = p->idle;
		p->idle = c->next;
		p->close_conn(c);
	}
	pthread_mutex_destroy(&p->mu);
	pthread_mutex_destroy(&ms->hint.mu);
	pthread_cond_destroy(&p->freed);
}

int sq_pool_get(struct meta_sql *ms, struct conn **out)
{
	struct sq_pool *p = &ms->pool;
	struct conn *c;
	for (;;) {
		pthread_mutex_lock(&p->mu);
		while (!p->idle && p->open >= p->max)
			pthread_cond_wait(&p->freed, &p->mu);
		c = p->idle;
		if (c)
			p->idle = c->next;
		else
			p->open++;
		pthread_mutex_unlock(&p->mu);
		if (!c || !p->reusable || p->reusable(c))
			break;
		p->close_conn(c); /* gone bad while idle (the server ended it): another */
		pthread_mutex_lock(&p->mu);
		p->open--;
		pthread_mutex_unlock(&p->mu);
	}
	if (c) {
		*out = c;
		return 0;
	}
	int rc = p->open_conn(ms, out);
	if (rc) {
		*out = NULL;
		pthread_mutex_lock(&p->mu);
		p->open--;
		pthread_cond_signal(&p->freed);
		pthread_mutex_unlock(&p->mu);
	}
	return rc;
}

void sq_pool_put(struct meta_sql *ms, struct conn *c)
{
	struct sq_pool *p = &ms->pool;
	int drop = p->reusable && !p->reusable(c);
	if (drop)
		p->close_conn(c);
	pthread_mutex_lock(&p->mu);
	if (drop)
		p->open--;
	else {
		c->next = p->idle;
		p->idle = c;
	}
	pthread_cond_signal(&p->freed);
	pthread_mutex_unlock(&p->mu);
}

static const struct sq_engine *eng_of(struct meta *m, struct conn *c)
{
	return c ? c->eng : ((struct meta_sql *)m)->eng;
}

enum sq_dialect sq_dialect(struct meta *m, struct conn *c) { return eng_of(m, c)->dialect; }

static int64_t statements, transactions, write_ns; /* atomic: meta_counts */

void meta_counts(int64_t *s, int64_t *t, int64_t *ns)
{
	*s = __atomic_load_n(&statements, __ATOMIC_RELAXED);
	*t = __atomic_load_n(&transactions, __ATOMIC_RELAXED);
	*ns = __atomic_load_n(&write_ns, __ATOMIC_RELAXED);
}

int64_t sq_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A write transaction began (its lock granted when it returned 0): counted and timed. */
static int began(struct conn *c, int rc)
{
	__atomic_add_fetch(&transactions, 1, __ATOMIC_RELAXED);
	if (c)
		c->tx_began_ns = rc ? 0 : sq_mono_ns();
	return rc;
}

void sq_counted(void) { __atomic_add_fetch(&statements, 1, __ATOMIC_RELAXED); }

void sq_start(struct sq *q, struct meta *m, struct conn *c, const char *sql, const struct sq_arg *args, size_t n)
{
	sq_counted();
	eng_of(m, c)->start(q, m, c, sql, args, n);
}

int sq_run(struct meta *m, struct conn *c, const char *what, const char *sql, const struct sq_arg *args, size_t n)
{
	struct sq q;
	sq_start(&q, m, c, sql, args, n);
	return sq_done(&q, what);
}

/* A statement that could not start (q->c NULL) holds its error in q->rc. */
int sq_row(struct sq *q) { return q->c ? q->c->eng->row(q) : 0; }
int sq_end(struct sq *q, const char *what) { return q->c ? q->c->eng->end(q, what) : q->rc; }
int sq_done(struct sq *q, const char *what) { return q->c ? q->c->eng->done(q, what) : q->rc; }
int sq_one(struct sq *q, const char *what, int absent) { return q->c ? q->c->eng->one(q, what, absent) : q->rc; }
char *sq_text(struct arena *a, const struct sq *q, int i) { return q->c->eng->text(a, q, i); }
char *sq_unpacked(struct arena *a, const struct sq *q, int i) { return q->c->eng->unpacked(a, q, i); }
int64_t sq_int(const struct sq *q, int i) { return q->c->eng->integer(q, i); }
char *sq_blob(struct arena *a, const struct sq *q, int i, size_t *n) { return q->c->eng->blob(a, q, i, n); }
int sq_conn_get(struct meta *m, struct conn **out) { return eng_of(m, NULL)->conn_get(m, out); }
void sq_conn_put(struct conn *c) { c->eng->conn_put(c); }
int64_t sq_changes(struct conn *c) { return c->eng->changes(c); }
int sq_tx_begin(struct meta *m, struct conn **c)
{
	int rc = eng_of(m, NULL)->tx_begin(m, c, 0);
	return began(*c, rc);
}

int sq_tx_begin_lazy(struct meta *m, struct conn **c)
{
	int rc = eng_of(m, NULL)->tx_begin(m, c, 1);
	return began(*c, rc);
}

int sq_tx_end(struct conn *c, int rc)
{
	if (!c)
		return rc;
	int64_t t0 = c->tx_began_ns;
	rc = c->eng->tx_end(c, rc); /* c is back in the pool: t0 read before */
	if (t0)
		__atomic_add_fetch(&write_ns, sq_mono_ns() - t0, __ATOMIC_RELAXED);
	return rc;
}

/* Each thread's compression and decompression contexts, made at its first use and kept: one
 * made and freed per value cost more than the compression of a report (allocations of hundreds
 * of KB, and the heap grown and trimmed each time). */
struct zctx {
	ZSTD_CCtx *c;
	ZSTD_DCtx *d;
};
static pthread_key_t zkey;
static pthread_once_t zonce = PTHREAD_ONCE_INIT;

static void zctx_free(void *p)
{
	struct zctx *z = p;
	ZSTD_freeCCtx(z->c);
	ZSTD_freeDCtx(z->d);
	free(z);
}

static void zkey_make(void) { pthread_key_create(&zkey, zctx_free); }

/* This thread's contexts (either may be NULL out of memory). */
static struct zctx *zctx(void)
{
	pthread_once(&zonce, zkey_make);
	struct zctx *z = pthread_getspecific(zkey);
	if (!z && (z = calloc(1, sizeof(*z))) && pthread_setspecific(zkey, z)) {
		free(z);
		z = NULL;
	}
	if (z && !z->c)
		z->c = ZSTD_createCCtx();
	if (z && !z->d)
		z->d = ZSTD_createDCtx();
	return z;
}

void *sq_pack(const char *v, size_t *zn)
{
	size_t n = strlen(v), cap = ZSTD_compressBound(n);
	struct zctx *zc = zctx();
	void *out = zc && zc->c ? malloc(cap) : NULL;
	size_t z = out ? ZSTD_compressCCtx(zc->c, out, cap, v, n, 1) : 0;
	if (!out || ZSTD_isError(z)) {
		free(out);
		return NULL;
	}
	*zn = z;
	return out;
}

char *sq_unpack(struct arena *a, const void *z, size_t zn)
{
	unsigned long long n = z ? ZSTD_getFrameContentSize(z, zn) : ZSTD_CONTENTSIZE_ERROR;
	if (n == ZSTD_CONTENTSIZE_ERROR || n == ZSTD_CONTENTSIZE_UNKNOWN || n > DD_MAX_STORED_TEXT_BYTES) {
		log_error("a stored assessment value is damaged (not a zstd frame of known size)");
		return arena_strdup(a, "");
	}
	struct zctx *zc = zctx();
	if (!zc || !zc->d) {
		log_error("out of memory reading a stored assessment value");
		return arena_strdup(a, "");
	}
	char *out = arena_alloc_uninit(a, (size_t)n + 1);
	size_t got = ZSTD_decompressDCtx(zc->d, out, (size_t)n, z, zn);
	if (ZSTD_isError(got) || got != n || memchr(out, 0, (size_t)n)) {
		log_error("a stored assessment value is damaged: %s",
			  ZSTD_isError(got) ? ZSTD_getErrorName(got) : "wrong length or a NUL byte");
		return arena_strdup(a, "");
	}
	out[n] = 0;
	return out;
}
