/* idcache.c: see idcache.h. Two open-addressing maps: "repo\ndigest" to the image's findings
 * hash and the key of its ids, and that key (the ids' SHA-256) to the ids, each between newlines
 * ("\nCVE-1\nDSA-2\n"), so that a look for one is a substring search and images with the same ids
 * share one copy. */
#include "common/dd.h"
#include "assess/idcache.h"
#include "common/arena.h"
#include "common/buf.h"
#include "store/meta_scans.h"
#include <jansson.h>
#include <openssl/sha.h>

#define IDCACHE_MAX_BYTES (256u << 20)

/* A map of strings to strings: open addressing, keys and values malloc'ed. */
struct smap {
	char **k, **v;
	size_t n, cap;
};

static struct {
	pthread_mutex_t mu;
	struct smap images; /* "repo\ndigest" -> "its findings hash\nthe key of its ids" */
	struct smap ids;    /* SHA-256 of the ids -> "\nid\n...": images with the same ids share it */
	size_t bytes;
} C = {.mu = PTHREAD_MUTEX_INITIALIZER};

static uint64_t hash_of(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static void smap_clear(struct smap *m)
{
	for (size_t i = 0; i < m->cap; i++) {
		free(m->k[i]);
		free(m->v[i]);
	}
	free(m->k);
	free(m->v);
	memset(m, 0, sizeof(*m));
}

static void clear_locked(void)
{
	smap_clear(&C.images);
	smap_clear(&C.ids);
	C.bytes = 0;
}

void idcache_clear(void)
{
	pthread_mutex_lock(&C.mu);
	clear_locked();
	pthread_mutex_unlock(&C.mu);
}

static size_t smap_slot(const struct smap *m, const char *key)
{
	size_t i = (size_t)(hash_of(key) & (m->cap - 1));
	while (m->k[i] && strcmp(m->k[i], key))
		i = (i + 1) & (m->cap - 1);
	return i;
}

static const char *smap_get(const struct smap *m, const char *key)
{
	return m->cap ? m->v[smap_slot(m, key)] : NULL;
}

/* Sets key to value (copies); 0, or -1 out of memory. */
static int smap_put(struct smap *m, const char *key, const char *value)
{
	if (2 * (m->n + 1) > m->cap) {
		struct smap b = {.cap = m->cap ? 2 * m->cap : 1024};
		b.k = calloc(b.cap, sizeof(*b.k));
		b.v = calloc(b.cap, sizeof(*b.v));
		if (!b.k || !b.v) {
			free(b.k);
			free(b.v);
			return -1;
		}
		for (size_t i = 0; i < m->cap; i++)
			if (m->k[i]) {
				size_t j = smap_slot(&b, m->k[i]);
				b.k[j] = m->k[i];
				b.v[j] = m->v[i];
			}
		b.n = m->n;
		free(m->k);
		free(m->v);
		*m = b;
	}
	size_t i = smap_slot(m, key);
	char *v = strdup(value), *k = m->k[i] ? m->k[i] : strdup(key);
	if (!v || !k) {
		free(v);
		if (!m->k[i])
			free(k);
		return -1;
	}
	if (!m->k[i])
		m->n++;
	free(m->v[i]);
	m->k[i] = k;
	m->v[i] = v;
	return 0;
}

/* The SHA-256 of ids, in hex: the key its list is shared under (content-addressed, so that no
 * image can make its list stand for another's). */
static const char *ids_key(struct arena *a, const char *ids)
{
	unsigned char h[SHA256_DIGEST_LENGTH];
	SHA256((const unsigned char *)ids, strlen(ids), h);
	char *out = arena_alloc(a, 2 * SHA256_DIGEST_LENGTH + 1);
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
		snprintf(out + 2 * i, 3, "%02x", h[i]);
	return out;
}

/* The ids of key when its entry is of findings hash `hash`: a copy into the arena, or NULL. */
static const char *lookup(struct arena *a, const char *key, const char *hash)
{
	const char *ids = NULL;
	pthread_mutex_lock(&C.mu);
	const char *e = smap_get(&C.images, key), *v; /* "findings hash\nids key" */
	size_t hl = strlen(hash);
	if (e && !strncmp(e, hash, hl) && e[hl] == '\n' && (v = smap_get(&C.ids, e + hl + 1)))
		ids = arena_strdup(a, v);
	pthread_mutex_unlock(&C.mu);
	return ids;
}

static void store(struct arena *a, const char *key, const char *hash, const char *ids)
{
	const char *ik = ids_key(a, ids), *e = arena_printf(a, "%s\n%s", hash, ik);
	pthread_mutex_lock(&C.mu);
	size_t add = strlen(key) + strlen(e) + 2 * sizeof(char *) + 2;
	int have = smap_get(&C.ids, ik) != NULL;
	if (!have)
		add += strlen(ik) + strlen(ids) + 2 * sizeof(char *) + 2;
	if (C.bytes + add > IDCACHE_MAX_BYTES) {
		clear_locked(); /* past the bound: start afresh */
		have = 0;
	}
	if (!smap_put(&C.images, key, e) && (have || !smap_put(&C.ids, ik, ids)))
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
			store(&t, key, hash, ids);
		}
		if (has_one(&t, ids, values, nvalues, icase))
			hit[(*n)++] = v[i];
		arena_free(&t);
	}
	*out = hit;
	return 0;
}
