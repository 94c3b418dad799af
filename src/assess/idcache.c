/* idcache.c: see idcache.h. An open-addressing map from "repo\ndigest" to the image's findings
 * hash and its ids, each id between newlines ("\nCVE-1\nDSA-2\n"), so that a look for one is a
 * substring search. */
#include "common/dd.h"
#include "assess/idcache.h"
#include "common/arena.h"
#include "common/buf.h"
#include "store/meta_scans.h"
#include <jansson.h>

#define IDCACHE_MAX_BYTES (64u << 20)

struct entry {
	char *key;  /* "repo\ndigest" */
	char *hash; /* the findings hash the ids are of */
	char *ids;  /* "\nid\nid\n", or "\n" */
};

static struct {
	pthread_mutex_t mu;
	struct entry *v;
	size_t n, cap, bytes;
} C = {.mu = PTHREAD_MUTEX_INITIALIZER};

static uint64_t hash_of(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static void clear_locked(void)
{
	for (size_t i = 0; i < C.cap; i++) {
		free(C.v[i].key);
		free(C.v[i].hash);
		free(C.v[i].ids);
	}
	free(C.v);
	C.v = NULL;
	C.n = C.cap = C.bytes = 0;
}

void idcache_clear(void)
{
	pthread_mutex_lock(&C.mu);
	clear_locked();
	pthread_mutex_unlock(&C.mu);
}

static struct entry *slot(struct entry *v, size_t cap, const char *key)
{
	size_t i = (size_t)(hash_of(key) & (cap - 1));
	while (v[i].key && strcmp(v[i].key, key))
		i = (i + 1) & (cap - 1);
	return &v[i];
}

/* The ids of key when its entry is of hash: a copy into the arena, or NULL. */
static const char *lookup(struct arena *a, const char *key, const char *hash)
{
	const char *ids = NULL;
	pthread_mutex_lock(&C.mu);
	if (C.cap) {
		struct entry *e = slot(C.v, C.cap, key);
		if (e->key && !strcmp(e->hash, hash))
			ids = arena_strdup(a, e->ids);
	}
	pthread_mutex_unlock(&C.mu);
	return ids;
}

static void store(const char *key, const char *hash, const char *ids)
{
	pthread_mutex_lock(&C.mu);
	size_t add = strlen(key) + strlen(hash) + strlen(ids) + 3 + sizeof(struct entry);
	if (C.bytes + add > IDCACHE_MAX_BYTES)
		clear_locked(); /* past the bound: start afresh */
	if (2 * (C.n + 1) > C.cap) {
		size_t cap = C.cap ? 2 * C.cap : 1024;
		struct entry *v = calloc(cap, sizeof(*v));
		if (!v) {
			pthread_mutex_unlock(&C.mu);
			return;
		}
		for (size_t i = 0; i < C.cap; i++)
			if (C.v[i].key)
				*slot(v, cap, C.v[i].key) = C.v[i];
		free(C.v);
		C.v = v;
		C.cap = cap;
	}
	struct entry *e = slot(C.v, C.cap, key);
	char *h = strdup(hash), *d = strdup(ids), *k = e->key ? e->key : strdup(key);
	if (!h || !d || !k) {
		free(h);
		free(d);
		if (!e->key)
			free(k);
		pthread_mutex_unlock(&C.mu);
		return;
	}
	if (!e->key)
		C.n++;
	else {
		free(e->hash);
		free(e->ids);
	}
	*e = (struct entry){k, h, d};
	C.bytes += add;
	pthread_mutex_unlock(&C.mu);
}

/* "\nid\nalias\n..." of a report's findings (arena text); "\n" when it has none or is not JSON. */
static const char *ids_of(struct arena *a, const char *report)
{
	struct buf b;
	buf_init(&b, DD_MAX_STORED_TEXT_BYTES);
	buf_puts(&b, "\n");
	json_t *rep = json_loads(report, 0, NULL), *f, *al;
	size_t i, k;
	json_array_foreach(json_object_get(rep, "findings"), i, f)
	{
		const char *id = json_string_value(json_object_get(f, "id"));
		if (id && !strchr(id, '\n'))
			buf_printf(&b, "%s\n", id);
		json_array_foreach(json_object_get(f, "aliases"), k, al)
		{
			const char *x = json_string_value(al);
			if (x && !strchr(x, '\n'))
				buf_printf(&b, "%s\n", x);
		}
	}
	json_decref(rep);
	const char *out = arena_strdup(a, b.data ? b.data : "\n");
	buf_release(&b);
	return out;
}

/* Whether ids ("\nid\n...") holds one of values. */
static int has_one(struct arena *a, const char *ids, const char *const *values, size_t nvalues, int icase)
{
	for (size_t i = 0; i < nvalues; i++) {
		const char *needle = arena_printf(a, "\n%s\n", values[i]);
		if (icase ? strcasestr(ids, needle) != NULL : strstr(ids, needle) != NULL)
			return 1;
	}
	return 0;
}

int idcache_images(struct meta *m, struct arena *a, const char *repo, const char *const *values, size_t nvalues,
		   int icase, struct assessment_rec **out, size_t *n)
{
	struct assessment_rec *v;
	size_t nv;
	int rc;
	*out = NULL;
	*n = 0;
	if ((rc = m->scans->assessment_stamps(m, a, repo, &v, &nv)))
		return rc;
	struct assessment_rec *hit = arena_alloc(a, (nv ? nv : 1) * sizeof(*hit));
	for (size_t i = 0; i < nv; i++) {
		struct arena t = {0}; /* this image's */
		const char *key = arena_printf(&t, "%s\n%s", v[i].repo, v[i].digest);
		const char *ids = lookup(&t, key, v[i].findings_hash);
		if (!ids) {
			const char *report, *hash;
			rc = m->scans->assessment_report(m, &t, v[i].repo, v[i].digest, &report, &hash);
			if (rc == DD_E_NOT_FOUND) { /* deleted since it was listed */
				arena_free(&t);
				rc = 0;
				continue;
			}
			if (rc) {
				arena_free(&t);
				return rc;
			}
			ids = ids_of(&t, report);
			store(key, hash, ids);
		}
		if (has_one(&t, ids, values, nvalues, icase))
			hit[(*n)++] = v[i];
		arena_free(&t);
	}
	*out = hit;
	return 0;
}
