/* import.c: feeding files and directories of feed data to the builder. The format of each
 * file is recognised from its content, not its name: OSV records (one JSON per file, JSON
 * Lines, or a zip of records like osv.dev's all.zip), Alpine secdb, the Debian tracker JSON
 * and the Ubuntu CVE tracker JSON, each plain or xz/gzip/zstd-compressed. A directory
 * is walked in name order; each directory holding feed files becomes one feed. A record a
 * reader rejects is counted as skipped (and the first few named on `warn`); a file that
 * cannot be read at all fails the import. */
#include "common/dd.h"
#include "vulndb/vulndb.h"
#include "common/arena.h"
#include "common/jsonmem.h"
#include "vulndb/alpine.h"
#include "vulndb/distro.h"
#include "vulndb/langfeeds.h"
#include "vulndb/kev.h"
#include "vulndb/feed.h"
#include <dirent.h>
#include <jansson.h>

/* One feed file read whole (the Debian tracker JSON is ~80 MB; an osv.dev record < 32 MiB). */
#define IMPORT_MAX_FILE (1024LL * 1024 * 1024)
#define IMPORT_MAX_DEPTH 8 /* directory nesting */

struct imp {
	pthread_mutex_t *lock; /* the builder's, while workers parse in parallel */
	struct vdb_builder *b;
	FILE *warn;
	const char *path;
	int warned;
};

static void skip(struct imp *im, const char *what, const char *why)
{
	vdb_builder_skip(im->b);
	if (im->warn && im->warned++ < 3)
		fprintf(im->warn, "warning: %s: skipped %s: %s\n", im->path, what, why ? why : "unusable");
}

static int add_rec(void *ctx, const struct osv_record *r)
{
	vdb_builder_add(((struct imp *)ctx)->b, r);
	return 0;
}

/* Parses one JSON Lines record and adds it (under the lock when workers share the builder). */
static void one_line(struct imp *im, int kind, const char *line, size_t len)
{
	struct arena a = {0};
	const char *why;
	struct osv_record r;
	size_t skipped = 0;
	int rc = kind == 2   ? ubuntu_uct_parse(&a, line, len, &r, &skipped, &why)
		 : kind == 6 ? npmwg_parse(&a, line, len, &r, &why)
		 : kind == 7 ? nodecore_parse(&a, line, len, &r, &why)
		 : kind == 8 ? rustsec_parse(&a, line, len, &r, &skipped, &why)
			     : osv_parse(&a, line, len, &r, &why);
	if (!rc && kind == 8 && skipped) { /* not a vulnerability of a version: nothing to add */
		if (im->lock)
			pthread_mutex_lock(im->lock);
		vdb_builder_skip(im->b);
		if (im->lock)
			pthread_mutex_unlock(im->lock);
		arena_free(&a);
		jsonmem_reset();
		return;
	}
	if (im->lock)
		pthread_mutex_lock(im->lock);
	if (rc)
		skip(im, "a record", why);
	else
		vdb_builder_add(im->b, &r);
	while (skipped--)
		vdb_builder_skip(im->b);
	if (im->lock)
		pthread_mutex_unlock(im->lock);
	arena_free(&a);
	jsonmem_reset(); /* every JSON value of this record is gone */
}

/* JSON Lines files are parsed by IMPORT_WORKERS threads: the reading thread decompresses and
 * cuts lines into batches, the workers parse them (jansson is most of the cost). */
#define IMPORT_WORKERS 2
#define IMPORT_BATCH (4u << 20) /* bytes of lines per batch */
#define IMPORT_QUEUE 4          /* batches waiting */

struct batch {
	char *data; /* lines, each NUL-terminated */
	size_t len;
};

struct pipe {
	struct imp *im;
	int kind;
	pthread_mutex_t mu, builder;
	pthread_cond_t more, room;
	struct batch q[IMPORT_QUEUE];
	size_t head, n;
	int done;
	struct batch cur;
};

static void *worker(void *arg)
{
	struct pipe *p = arg;
	struct imp im = *p->im;
	im.lock = &p->builder;
	jsonmem_begin();
	for (;;) {
		pthread_mutex_lock(&p->mu);
		while (!p->n && !p->done)
			pthread_cond_wait(&p->more, &p->mu);
		if (!p->n) {
			pthread_mutex_unlock(&p->mu);
			break;
		}
		struct batch b = p->q[p->head];
		p->head = (p->head + 1) % IMPORT_QUEUE;
		p->n--;
		pthread_cond_signal(&p->room);
		pthread_mutex_unlock(&p->mu);
		for (size_t off = 0; off < b.len;) {
			size_t n = strlen(b.data + off);
			one_line(&im, p->kind, b.data + off, n);
			off += n + 1;
		}
		free(b.data);
	}
	jsonmem_end();
	pthread_mutex_lock(&p->builder);
	p->im->warned = im.warned > p->im->warned ? im.warned : p->im->warned;
	pthread_mutex_unlock(&p->builder);
	return NULL;
}

static void push(struct pipe *p)
{
	if (!p->cur.len)
		return;
	pthread_mutex_lock(&p->mu);
	while (p->n == IMPORT_QUEUE)
		pthread_cond_wait(&p->room, &p->mu);
	p->q[(p->head + p->n) % IMPORT_QUEUE] = p->cur;
	p->n++;
	pthread_cond_signal(&p->more);
	pthread_mutex_unlock(&p->mu);
	p->cur = (struct batch){0};
}

/* The reader a JSON Lines file needs, from its first record: 2 the Ubuntu CVE tracker, 6 the
 * Node.js working group's npm advisories, 7 its Node.js runtime advisories, 8 RustSec's, else
 * 1 OSV. */
static int line_kind(const char *line, size_t len)
{
#define HAS(s) (memmem(line, len, s, sizeof(s) - 1) != NULL)
	if (memmem(line, len < 256 ? len : 256, "\"candidate\"", 11))
		return 2;
	if (len > 12 && !strncmp(line, "{\"advisory\":", 12))
		return 8;
	if (HAS("\"module_name\":") && HAS("\"vulnerable_versions\":"))
		return 6;
	if (HAS("\"vulnerable\":") && HAS("\"patched\":") && HAS("\"_file\":"))
		return 7;
	return 1;
#undef HAS
}

static int cut_line(void *ctx, const char *line, size_t len)
{
	struct pipe *p = ctx;
	if (!p->kind) /* the first record says which reader the file needs */
		p->kind = line_kind(line, len);
	if (p->cur.len && p->cur.len + len + 1 > IMPORT_BATCH)
		push(p);
	if (!p->cur.data) {
		p->cur.data = malloc(len + 1 > IMPORT_BATCH ? len + 1 : IMPORT_BATCH);
		if (!p->cur.data)
			abort();
	}
	memcpy(p->cur.data + p->cur.len, line, len);
	p->cur.data[p->cur.len + len] = 0;
	p->cur.len += len + 1;
	if (memchr(line, 0, len)) /* a NUL inside a line would cut it short: not JSON anyway */
		p->cur.len -= len + 1;
	return 0;
}

static int import_lines(struct imp *im, const char *path, const char **why)
{
	struct pipe p = {.im = im};
	pthread_mutex_init(&p.mu, NULL);
	pthread_mutex_init(&p.builder, NULL);
	pthread_cond_init(&p.more, NULL);
	pthread_cond_init(&p.room, NULL);
	pthread_t t[IMPORT_WORKERS];
	int started = 0;
	for (; started < IMPORT_WORKERS; started++)
		if (pthread_create(&t[started], NULL, worker, &p))
			break;
	int rc = feed_read_lines(path, cut_line, &p, why);
	push(&p);
	pthread_mutex_lock(&p.mu);
	p.done = 1;
	pthread_cond_broadcast(&p.more);
	pthread_mutex_unlock(&p.mu);
	for (int i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	if (!started) /* no thread could start: parse here */
		while (p.n) {
			struct batch b = p.q[p.head];
			p.head = (p.head + 1) % IMPORT_QUEUE;
			p.n--;
			for (size_t off = 0; off < b.len; off += strlen(b.data + off) + 1)
				one_line(im, p.kind, b.data + off, strlen(b.data + off));
			free(b.data);
		}
	pthread_mutex_destroy(&p.mu);
	pthread_mutex_destroy(&p.builder);
	pthread_cond_destroy(&p.more);
	pthread_cond_destroy(&p.room);
	return rc;
}

static void add_kev(void *ctx, const struct kev_entry *e)
{
	vdb_builder_kev(ctx, e->cve, e->date_added, e->due_date, e->action, e->name, e->ransomware);
}

/* A whole JSON document: which feed is it? */
static int one_doc(void *ctx, const char *name, const char *data, size_t len)
{
	struct imp *im = ctx;
	struct arena a = {0};
	const char *why = NULL;
	json_error_t err;
	/* a cheap look at the top-level keys decides; the readers then parse for real */
	json_t *root = json_loadb(data, len, JSON_DISABLE_EOF_CHECK, &err);
	int kind = 0; /* 1 OSV, 2 UCT, 3 secdb, 4 tracker, 5 the known-exploited catalogue */
	if (json_is_object(root)) {
		if (kev_is_catalogue(root))
			kind = 5;
		else if (json_object_get(root, "candidate"))
			kind = 2;
		else if (json_is_array(json_object_get(root, "packages")) && json_object_get(root, "distroversion"))
			kind = 3;
		else if (json_is_string(json_object_get(root, "id")))
			kind = 1;
		else {
			const char *k;
			json_t *v, *c;
			json_object_foreach(root, k, v)
			{
				const char *cve;
				json_object_foreach(v, cve, c)
				{
					if (json_object_get(c, "releases"))
						kind = 4;
					break;
				}
				break;
			}
		}
	}
	json_decref(root);
	size_t skipped = 0;
	int rc = 0;
	struct osv_record r;
	switch (kind) {
	case 1:
		if ((rc = osv_parse(&a, data, len, &r, &why)))
			skip(im, name, why);
		else
			vdb_builder_add(im->b, &r);
		break;
	case 2:
		if ((rc = ubuntu_uct_parse(&a, data, len, &r, &skipped, &why)))
			skip(im, name, why);
		else
			vdb_builder_add(im->b, &r);
		break;
	case 3: {
		struct alpine_secdb db;
		if ((rc = alpine_secdb_parse(&a, data, len, &db, &why))) {
			skip(im, name, why);
			break;
		}
		for (size_t i = 0; i < db.n; i++)
			vdb_builder_add(im->b, &db.records[i]);
		skipped = db.skipped;
		break;
	}
	case 4:
		if ((rc = debian_tracker_parse(&a, data, len, add_rec, im, &skipped, &why)))
			skip(im, name, why);
		break;
	case 5:
		if ((rc = kev_parse(&a, data, len, add_kev, im->b, &skipped, &why)))
			skip(im, name, why);
		break;
	default:
		skip(im, name, root ? "not a known feed format" : "not JSON");
	}
	while (skipped--)
		vdb_builder_skip(im->b);
	arena_free(&a);
	jsonmem_reset();
	return 0; /* a bad document is skipped, the archive goes on */
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && !strcmp(s + n - k, suffix);
}

/* A file we read: JSON (.json), JSON Lines (.jsonl), either compressed, or a zip. */
static int feed_file_kind(const char *name)
{
	static const char *const comp[] = {"", ".xz", ".gz", ".zst"};
	for (size_t i = 0; i < DD_ARRAY_LEN(comp); i++) {
		char s[16];
		snprintf(s, sizeof(s), ".jsonl%s", comp[i]);
		if (ends_with(name, s))
			return 2;
		snprintf(s, sizeof(s), ".json%s", comp[i]);
		if (ends_with(name, s))
			return 1;
	}
	return ends_with(name, ".zip") ? 1 : 0;
}

static int import_file(struct imp *im, const char *path, const char **why)
{
	im->path = path;
	im->warned = 0;
	struct stat st;
	if (!stat(path, &st))
		vdb_builder_feed_time(im->b, (int64_t)st.st_mtime);
	if (feed_file_kind(path) == 2)
		return import_lines(im, path, why);
	return feed_read_files(path, (size_t)IMPORT_MAX_FILE, one_doc, im, why);
}

static int name_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int import_dir(struct imp *im, const char *dir, const char *label, int depth, const char **why)
{
	static __thread char msg[600];
	if (depth > IMPORT_MAX_DEPTH)
		return 0;
	DIR *d = opendir(dir);
	if (!d) {
		snprintf(msg, sizeof(msg), "cannot read directory '%s': %s", dir, strerror(errno));
		*why = msg;
		return DD_E_IO;
	}
	size_t n = 0, cap = 64;
	char **names = malloc(cap * sizeof(*names));
	struct dirent *e;
	while (names && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **nn = realloc(names, 2 * cap * sizeof(*names));
			if (!nn)
				break;
			names = nn;
			cap *= 2;
		}
		names[n++] = strdup(e->d_name);
	}
	closedir(d);
	if (!names)
		return DD_E_NOMEM;
	qsort(names, n, sizeof(*names), name_cmp);
	int rc = 0, started = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		size_t plen = strlen(dir) + strlen(names[i]) + 2;
		char *p = malloc(plen), *sub = malloc(strlen(label) + strlen(names[i]) + 2);
		if (!p || !sub)
			abort();
		snprintf(p, plen, "%s/%s", dir, names[i]);
		snprintf(sub, strlen(label) + strlen(names[i]) + 2, "%s%s%s", label, *label ? "/" : "", names[i]);
		struct stat st;
		if (!stat(p, &st) && S_ISDIR(st.st_mode))
			rc = import_dir(im, p, sub, depth + 1, why);
		else if (!stat(p, &st) && S_ISREG(st.st_mode) && feed_file_kind(names[i])) {
			if (!started) { /* one feed per directory that holds feed files */
				vdb_builder_feed(im->b, *label ? label : dir, "feed", dir);
				started = 1;
			}
			rc = import_file(im, p, why);
		}
		free(p);
		free(sub);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

int vdb_import_path(struct vdb_builder *b, const char *path, FILE *warn, const char **why)
{
	static __thread char msg[600];
	*why = NULL;
	struct imp im = {.b = b, .warn = warn};
	struct stat st;
	if (stat(path, &st)) {
		snprintf(msg, sizeof(msg), "cannot read '%s': %s", path, strerror(errno));
		*why = msg;
		return DD_E_IO;
	}
	jsonmem_begin();
	int rc;
	if (S_ISDIR(st.st_mode))
		rc = import_dir(&im, path, "", 0, why);
	else {
		const char *base = strrchr(path, '/');
		vdb_builder_feed(b, base ? base + 1 : path, "feed", path);
		rc = import_file(&im, path, why);
	}
	jsonmem_end();
	return rc;
}
