/* idcache.c: see idcache.h. Two open-addressing maps: "repo\ndigest" to the image's findings
 * hash and its list, and a list's key (the SHA-256 of its findings) to the list, so that images
 * with the same findings share one copy. A list is one allocation (header, findings, alias
 * arrays, strings), counted by references: the map's, one per image entry, one per caller
 * reading it. */
#include "common/dd.h"
#include "assess/idcache.h"
#include "common/arena.h"
#include "common/jsonscan.h"
#include "store/meta_scans.h"
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#define IDCACHE_MAX_BYTES (256u << 20)

struct list {
	char key[2 * SHA256_DIGEST_LENGTH + 1];
	size_t n, bytes;
	int refs;
	struct idc_finding *f;
};

struct entry {
	char *name; /* "repo\ndigest" */
	char *hash; /* its findings hash when the entry was filled */
	struct list *l;
};

/* A map of names to entries (open addressing). */
struct emap {
	struct entry *v;
	size_t n, cap;
};

/* A map of keys to lists. */
struct lmap {
	struct list **v;
	size_t n, cap;
};

static struct {
	pthread_mutex_t mu;
	struct emap images;
	struct lmap lists;
	size_t bytes;
} C = {.mu = PTHREAD_MUTEX_INITIALIZER};

static uint64_t hash_of(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static void unref_locked(struct list *l)
{
	if (l && !--l->refs)
		free(l);
}

static void clear_locked(void)
{
	for (size_t i = 0; i < C.images.cap; i++)
		if (C.images.v[i].name) {
			free(C.images.v[i].name);
			free(C.images.v[i].hash);
			unref_locked(C.images.v[i].l);
		}
	for (size_t i = 0; i < C.lists.cap; i++)
		unref_locked(C.lists.v[i]);
	free(C.images.v);
	free(C.lists.v);
	memset(&C.images, 0, sizeof(C.images));
	memset(&C.lists, 0, sizeof(C.lists));
	C.bytes = 0;
}

void idcache_clear(void)
{
	pthread_mutex_lock(&C.mu);
	clear_locked();
	pthread_mutex_unlock(&C.mu);
}

static size_t eslot(const struct emap *m, const char *name)
{
	size_t i = (size_t)(hash_of(name) & (m->cap - 1));
	while (m->v[i].name && strcmp(m->v[i].name, name))
		i = (i + 1) & (m->cap - 1);
	return i;
}

static size_t lslot(const struct lmap *m, const char *key)
{
	size_t i = (size_t)(hash_of(key) & (m->cap - 1));
	while (m->v[i] && strcmp(m->v[i]->key, key))
		i = (i + 1) & (m->cap - 1);
	return i;
}

/* Room for one more in each map: 0, or -1 out of memory. */
static int grow_locked(void)
{
	if (2 * (C.images.n + 1) > C.images.cap) {
		struct emap b = {.cap = C.images.cap ? 2 * C.images.cap : 1024, .n = C.images.n};
		if (!(b.v = calloc(b.cap, sizeof(*b.v))))
			return -1;
		for (size_t i = 0; i < C.images.cap; i++)
			if (C.images.v[i].name)
				b.v[eslot(&b, C.images.v[i].name)] = C.images.v[i];
		free(C.images.v);
		C.images = b;
	}
	if (2 * (C.lists.n + 1) > C.lists.cap) {
		struct lmap b = {.cap = C.lists.cap ? 2 * C.lists.cap : 256, .n = C.lists.n};
		if (!(b.v = calloc(b.cap, sizeof(*b.v))))
			return -1;
		for (size_t i = 0; i < C.lists.cap; i++)
			if (C.lists.v[i])
				b.v[lslot(&b, C.lists.v[i]->key)] = C.lists.v[i];
		free(C.lists.v);
		C.lists = b;
	}
	return 0;
}

/* The list of image `name` when its entry is of findings hash `hash`, with a reference the
 * caller drops (release), or NULL. */
static struct list *lookup(const char *name, const char *hash)
{
	struct list *l = NULL;
	pthread_mutex_lock(&C.mu);
	if (C.images.cap) {
		struct entry *e = &C.images.v[eslot(&C.images, name)];
		if (e->name && !strcmp(e->hash, hash) && (l = e->l))
			l->refs++;
	}
	pthread_mutex_unlock(&C.mu);
	return l;
}

static void release(struct list *l)
{
	pthread_mutex_lock(&C.mu);
	unref_locked(l);
	pthread_mutex_unlock(&C.mu);
}

/* Keeps l (the caller's reference, a new list) for image name at findings hash `hash`: the list
 * the caller now holds a reference to (l, or the same findings kept before, l freed). */
static struct list *store(const char *name, const char *hash, struct list *l)
{
	pthread_mutex_lock(&C.mu);
	size_t add = strlen(name) + strlen(hash) + sizeof(struct entry) * 2 + 2;
	int shared = C.lists.cap && C.lists.v[lslot(&C.lists, l->key)]; /* its list is kept: no new bytes */
	if (C.bytes + add + (shared ? 0 : l->bytes) > IDCACHE_MAX_BYTES)
		clear_locked(); /* past the bound: start afresh (lists in use live on in their callers) */
	if (grow_locked()) {
		pthread_mutex_unlock(&C.mu);
		return l; /* not kept: the caller's alone */
	}
	struct list **have = &C.lists.v[lslot(&C.lists, l->key)];
	if (*have) { /* the same findings as another image's */
		free(l);
		l = *have;
		l->refs++;
	} else {
		*have = l;
		l->refs++; /* the map's */
		C.lists.n++;
		C.bytes += l->bytes;
	}
	struct entry *e = &C.images.v[eslot(&C.images, name)];
	char *h = strdup(hash), *nm = e->name ? NULL : strdup(name);
	if (!h || (!e->name && !nm)) {
		free(h);
		free(nm);
		pthread_mutex_unlock(&C.mu);
		return l; /* the list is kept for others; this image's entry is not */
	}
	if (e->name) {
		free(e->hash);
		unref_locked(e->l);
	} else {
		e->name = nm;
		C.images.n++;
		C.bytes += add;
	}
	e->hash = h;
	e->l = l;
	l->refs++; /* the entry's */
	pthread_mutex_unlock(&C.mu);
	return l;
}

/* A report finding's fields the lists keep, as read (NULL: absent or not a string): id,
 * package, severity, path, package_version, in the order a list copies them. */
#define NFIELDS 5
static const char *const field_names[NFIELDS] = {"id", "package", "severity", "path", "package_version"};

struct raw {
	const char *f[NFIELDS];
	const char **aliases;
	size_t naliases;
};

/* The findings read straight from the compact writer's text (report_json_compact), their
 * strings unescaped-free: 0, or -1 for any other text (raw_json reads it). */
static int raw_fast(struct arena *a, const char *report, struct raw **out, size_t *n)
{
	const char *p = strstr(report, "\"findings\":["); /* no string holds an unescaped quote */
	if (!p)
		return -1;
	p += strlen("\"findings\":[");
	size_t cap = 0;
	struct raw *v = NULL;
	*n = 0;
	while (*p != ']') {
		if (*p++ != '{')
			return -1;
		v = arena_grow(a, v, *n, &cap, sizeof(*v));
		struct raw *x = &v[(*n)++];
		memset(x, 0, sizeof(*x));
		size_t acap = 0;
		while (*p != '}') {
			const char *key = ++p; /* past the key's opening quote */
			if (key[-1] != '"')
				return -1;
			while (*p && *p != '"' && *p != '\\')
				p++;
			if (*p != '"' || p[1] != ':')
				return -1;
			size_t kn = (size_t)(p - key);
			p += 2;
			int k = -1;
			for (int j = 0; j < NFIELDS && k < 0; j++)
				if (strlen(field_names[j]) == kn && !memcmp(key, field_names[j], kn))
					k = j;
			if (k >= 0 && *p == '"') {
				p++;
				if (!(x->f[k] = jscan_plain_string(a, &p)))
					return -1;
			} else if (kn == 7 && !memcmp(key, "aliases", 7) && *p == '[') {
				for (p++; *p != ']';) {
					if (*p == '"') {
						p++;
						x->aliases = arena_grow(a, x->aliases, x->naliases, &acap, sizeof(*x->aliases));
						if (!(x->aliases[x->naliases++] = jscan_plain_string(a, &p)))
							return -1;
					} else if (!jscan_skip_value(&p)) {
						return -1;
					}
					if (*p == ',')
						p++;
					else if (*p != ']')
						return -1;
				}
				p++;
			} else if (!jscan_skip_value(&p)) {
				return -1;
			}
			if (*p == ',')
				p++;
			else if (*p != '}')
				return -1;
		}
		p++;
		if (*p == ',')
			p++;
		else if (*p != ']')
			return -1;
	}
	*out = v;
	return 0;
}

/* The same from any JSON text, by jansson (a report of no findings, or not JSON: none). */
static void raw_json(struct arena *a, const char *report, struct raw **out, size_t *n)
{
	json_t *rep = json_loads(report, 0, NULL), *fs = json_object_get(rep, "findings"), *f, *al;
	size_t i, k;
	*n = json_array_size(fs);
	*out = arena_alloc(a, (*n + 1) * sizeof(**out));
	json_array_foreach(fs, i, f)
	{
		struct raw *x = &(*out)[i];
		memset(x, 0, sizeof(*x));
		for (int j = 0; j < NFIELDS; j++) {
			const char *v = json_string_value(json_object_get(f, field_names[j]));
			x->f[j] = v ? arena_strdup(a, v) : NULL;
		}
		json_t *as = json_object_get(f, "aliases");
		x->aliases = arena_alloc(a, (json_array_size(as) + 1) * sizeof(*x->aliases));
		json_array_foreach(as, k, al) if (json_is_string(al))
			x->aliases[x->naliases++] = arena_strdup(a, json_string_value(al));
	}
	json_decref(rep);
}

/* The list of a report's findings (one per report finding; none when it has no findings or is
 * not JSON), with one reference, or NULL out of memory. */
static struct list *list_of(const char *report)
{
	struct arena t = {0};
	struct raw *v;
	size_t n, nal = 0, text = 0;
	if (raw_fast(&t, report, &v, &n))
		raw_json(&t, report, &v, &n);
	for (size_t i = 0; i < n; i++) {
		for (int j = 0; j < NFIELDS; j++)
			text += strlen(v[i].f[j] ? v[i].f[j] : "") + 1;
		nal += v[i].naliases;
		for (size_t k = 0; k < v[i].naliases; k++)
			text += strlen(v[i].aliases[k]) + 1;
	}
	size_t bytes = sizeof(struct list) + n * sizeof(struct idc_finding) + nal * sizeof(char *) + text;
	struct list *l = calloc(1, bytes);
	EVP_MD_CTX *sha = l ? EVP_MD_CTX_new() : NULL;
	if (!l || !sha || !EVP_DigestInit_ex(sha, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(sha);
		free(l);
		arena_free(&t);
		return NULL;
	}
	l->n = n;
	l->bytes = bytes;
	l->refs = 1;
	l->f = (struct idc_finding *)(l + 1);
	const char **aliases = (const char **)(l->f + n);
	char *p = (char *)(aliases + nal);
#define COPY(dst, src)                                          \
	do {                                                    \
		const char *s_ = (src) ? (src) : "";            \
		size_t len_ = strlen(s_) + 1;                   \
		memcpy(p, s_, len_);                            \
		EVP_DigestUpdate(sha, p, len_);                 \
		(dst) = p;                                      \
		p += len_;                                      \
	} while (0)
	for (size_t i = 0; i < n; i++) {
		struct idc_finding *x = &l->f[i];
		COPY(x->id, v[i].f[0]);
		COPY(x->package, v[i].f[1]);
		COPY(x->severity, v[i].f[2]);
		COPY(x->path, v[i].f[3]);
		COPY(x->version, v[i].f[4]);
		x->aliases = aliases;
		for (size_t k = 0; k < v[i].naliases; k++)
			COPY(aliases[x->naliases++], v[i].aliases[k]);
		aliases += x->naliases;
		char count[24];
		int cn = snprintf(count, sizeof(count), "%zu", x->naliases); /* the fields' boundaries, hashed */
		EVP_DigestUpdate(sha, count, (size_t)cn + 1);
	}
#undef COPY
	unsigned char h[SHA256_DIGEST_LENGTH];
	EVP_DigestFinal_ex(sha, h, NULL);
	EVP_MD_CTX_free(sha);
	for (int j = 0; j < SHA256_DIGEST_LENGTH; j++)
		snprintf(l->key + 2 * j, 3, "%02x", h[j]);
	arena_free(&t);
	return l;
}

/* The list of the image rec (repo, digest, findings hash) with a reference, filled from its
 * report when the cache has none; NULL with *rc: 0 when it was deleted since it was listed,
 * else the store's error (or DD_E_NOMEM). */
static struct list *get(struct meta *m, const struct assessment_rec *rec, int *rc)
{
	struct arena t = {0}; /* used on a miss alone: a hit allocates nothing */
	char buf[1024];
	int bn = snprintf(buf, sizeof(buf), "%s\n%s", rec->repo, rec->digest);
	const char *name = bn >= 0 && (size_t)bn < sizeof(buf) ? buf : arena_printf(&t, "%s\n%s", rec->repo, rec->digest);
	const char *report, *hash;
	struct list *l = lookup(name, rec->findings_hash);
	*rc = 0;
	if (!l) {
		*rc = m->scans->assessment_report(m, &t, rec->repo, rec->digest, &report, &hash);
		if (*rc == DD_E_NOT_FOUND) /* deleted since it was listed */
			*rc = 0;
		else if (!*rc && !(l = list_of(report)))
			*rc = DD_E_NOMEM;
		else if (!*rc)
			l = store(name, hash, l);
	}
	arena_free(&t);
	return l;
}

static int is(const char *v, const char *want, int icase)
{
	return icase ? !strcasecmp(v, want) : !strcmp(v, want);
}

/* Whether list l has a finding whose id or alias is one of values. */
static int has_one(const struct list *l, const char *const *values, size_t nvalues, int icase)
{
	for (size_t i = 0; i < l->n; i++)
		for (size_t v = 0; v < nvalues; v++) {
			if (is(l->f[i].id, values[v], icase))
				return 1;
			for (size_t k = 0; k < l->f[i].naliases; k++)
				if (is(l->f[i].aliases[k], values[v], icase))
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
		struct list *l = get(m, &v[i], &rc);
		if (rc)
			return rc;
		if (l && has_one(l, values, nvalues, icase))
			hit[(*n)++] = v[i];
		if (l)
			release(l);
	}
	*out = hit;
	return 0;
}

int idcache_each(struct meta *m, const char *repo, idcache_fn fn, void *ctx)
{
	struct arena a = {0};
	struct assessment_rec *v;
	size_t nv;
	int rc = m->scans->assessment_stamps(m, &a, repo, &v, &nv);
	for (size_t i = 0; i < nv && !rc; i++) {
		struct list *l = get(m, &v[i], &rc);
		if (l) {
			rc = fn(ctx, &v[i], l->key, l->f, l->n);
			release(l);
		}
	}
	arena_free(&a);
	return rc;
}

struct warming {
	int (*stop)(void *ctx);
	void *ctx;
};

static int warm_one(void *ctx, const struct assessment_rec *rec, const char *key, const struct idc_finding *f,
		    size_t n)
{
	struct warming *w = ctx;
	(void)rec;
	(void)key;
	(void)f;
	(void)n;
	return w->stop(w->ctx) ? -1 : 0;
}

int idcache_warm(struct meta *m, int (*stop)(void *ctx), void *ctx)
{
	struct warming w = {stop, ctx};
	int rc = idcache_each(m, NULL, warm_one, &w);
	return rc == -1 ? 0 : rc;
}
