/* build.c: the database builder. Records from any feed reader arrive as OSV-shaped records;
 * strings are interned into one pool, vulnerabilities merged by id (texts filled from
 * whichever feed has them, aliases and references united), and entries kept per
 * (ecosystem, package, vulnerability) from the most recently modified record. The file is
 * laid out as format.h describes and written atomically. Reading it is vulndb.c. */
#include "common/dd.h"
#include "vulndb/vulndb.h"
#include "common/arena.h"
#include "common/util.h"
#include "scan/match.h"
#include "version/version.h"
#include <math.h>
#include <openssl/rand.h>
#include <zlib.h>

#define VDB_MAX_ALIASES 64 /* ids kept per vulnerability (RHSA records relate up to hundreds) */
#define VDB_MAX_REFS 32    /* references kept per vulnerability */

/* a growable array of fixed-size items; aborts on out-of-memory like the arena */
struct vec {
	void *data;
	size_t n, cap, size;
};

static void *vec_push(struct vec *v)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 64;
		void *d = realloc(v->data, cap * v->size);
		if (!d)
			abort();
		v->data = d;
		v->cap = cap;
	}
	void *p = (char *)v->data + v->n++ * v->size;
	memset(p, 0, v->size);
	return p;
}
#define VEC(T) {NULL, 0, 0, sizeof(T)}
#define AT(v, T, i) (((T *)(v).data)[i])

/* a map from 64-bit hashes to u32 values, open addressing; the caller confirms equality */
struct map {
	uint64_t *hash;
	uint32_t *val; /* value + 1; 0 empty */
	size_t cap, n;
};

static void map_grow(struct map *m);
static void map_put(struct map *m, uint64_t h, uint32_t v)
{
	if ((m->n + 1) * 2 > m->cap)
		map_grow(m);
	size_t i = h & (m->cap - 1);
	while (m->val[i])
		i = (i + 1) & (m->cap - 1);
	m->hash[i] = h;
	m->val[i] = v + 1;
	m->n++;
}

static void map_grow(struct map *m)
{
	struct map old = *m;
	m->cap = old.cap ? old.cap * 2 : 1024;
	m->hash = calloc(m->cap, sizeof(*m->hash));
	m->val = calloc(m->cap, sizeof(*m->val));
	if (!m->hash || !m->val)
		abort();
	m->n = 0;
	for (size_t i = 0; i < old.cap; i++)
		if (old.val[i])
			map_put(m, old.hash[i], old.val[i] - 1);
	free(old.hash);
	free(old.val);
}

/* Calls eq(ctx, value) on each candidate for h; returns the first value it accepts, or -1. */
static int64_t map_get(const struct map *m, uint64_t h, int (*eq)(void *, uint32_t), void *ctx)
{
	if (!m->cap)
		return -1;
	for (size_t i = h & (m->cap - 1); m->val[i]; i = (i + 1) & (m->cap - 1))
		if (m->hash[i] == h && eq(ctx, m->val[i] - 1))
			return m->val[i] - 1;
	return -1;
}

static void map_release(struct map *m)
{
	free(m->hash);
	free(m->val);
}

struct bvuln {
	uint32_t id, summary, details, published, modified, cvss;
	struct vec ids, refs; /* uint32_t strings */
	uint16_t score10;
	uint8_t level, feed;
};

struct bkey {
	uint32_t eco, name;
};

struct bentry {
	int64_t mtime; /* the record's modified time */
	uint32_t key, vuln, seq, severity;
	uint32_t first_range, nranges; /* into b->ranges */
	uint32_t versions, nversions;  /* into b->lists */
	uint32_t imports, nimports;    /* into b->lists */
	uint8_t flags, level;
};

struct vdb_builder {
	struct vec pool; /* char */
	struct map strs; /* string hash -> offset */
	struct vec feeds, vulns, keys, entries, ranges, events, lists;
	struct map vulnmap, keymap;
	uint32_t seq; /* records added */
	struct vec ftimes; /* int64_t per feed: its files' newest time, for feeds without dates */
	struct vec kev;    /* struct vdb_kev */
};

static uint64_t hash_bytes(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

struct str_probe {
	struct vdb_builder *b;
	const char *s;
	size_t n;
};

static int str_eq(void *ctx, uint32_t off)
{
	struct str_probe *p = ctx;
	const char *have = (const char *)p->b->pool.data + off;
	return !strncmp(have, p->s, p->n) && have[p->n] == 0;
}

/* The pool offset of s (interned); 0 for NULL or "". */
static uint32_t intern(struct vdb_builder *b, const char *s)
{
	if (!s || !*s)
		return 0;
	size_t n = strlen(s);
	uint64_t h = hash_bytes(s, n);
	struct str_probe p = {b, s, n};
	int64_t off = map_get(&b->strs, h, str_eq, &p);
	if (off >= 0)
		return (uint32_t)off;
	uint32_t at = (uint32_t)b->pool.n;
	for (size_t i = 0; i <= n; i++)
		*(char *)vec_push(&b->pool) = s[i];
	map_put(&b->strs, h, at);
	return at;
}

static const char *S(const struct vdb_builder *b, uint32_t off) { return (const char *)b->pool.data + off; }

struct vdb_builder *vdb_builder_new(void)
{
	struct vdb_builder *b = calloc(1, sizeof(*b));
	if (!b)
		abort();
	b->pool = (struct vec)VEC(char);
	b->feeds = (struct vec)VEC(struct vdb_feed);
	b->vulns = (struct vec)VEC(struct bvuln);
	b->keys = (struct vec)VEC(struct bkey);
	b->entries = (struct vec)VEC(struct bentry);
	b->ranges = (struct vec)VEC(struct vdb_range);
	b->events = (struct vec)VEC(struct vdb_event);
	b->lists = (struct vec)VEC(uint32_t);
	b->ftimes = (struct vec)VEC(int64_t);
	b->kev = (struct vec)VEC(struct vdb_kev);
	*(char *)vec_push(&b->pool) = 0; /* offset 0: "" */
	return b;
}

void vdb_builder_free(struct vdb_builder *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->vulns.n; i++) {
		free(AT(b->vulns, struct bvuln, i).ids.data);
		free(AT(b->vulns, struct bvuln, i).refs.data);
	}
	free(b->pool.data);
	free(b->feeds.data);
	free(b->vulns.data);
	free(b->keys.data);
	free(b->entries.data);
	free(b->ranges.data);
	free(b->events.data);
	free(b->lists.data);
	free(b->ftimes.data);
	free(b->kev.data);
	map_release(&b->strs);
	map_release(&b->vulnmap);
	map_release(&b->keymap);
	free(b);
}

void vdb_builder_feed(struct vdb_builder *b, const char *name, const char *kind, const char *origin)
{
	struct vdb_feed *f = vec_push(&b->feeds);
	f->name = intern(b, name);
	f->kind = intern(b, kind);
	f->origin = intern(b, origin);
	vec_push(&b->ftimes);
}

static struct vdb_feed *cur_feed(struct vdb_builder *b)
{
	if (!b->feeds.n)
		vdb_builder_feed(b, "unnamed", "osv", "");
	return &AT(b->feeds, struct vdb_feed, b->feeds.n - 1);
}

void vdb_builder_skip(struct vdb_builder *b) { cur_feed(b)->skipped++; }

void vdb_builder_kev(struct vdb_builder *b, const char *cve, const char *date_added, const char *due_date,
		     const char *action, const char *name, int ransomware)
{
	struct vdb_feed *f = cur_feed(b);
	struct vdb_kev *k = vec_push(&b->kev);
	*k = (struct vdb_kev){.cve = intern(b, cve), .date_added = intern(b, date_added), .due_date = intern(b, due_date),
			      .action = intern(b, action), .name = intern(b, name), .ransomware = ransomware ? 1 : 0};
	f->records++;
	struct tm tm = {0};
	int y, mo, d;
	if (date_added && sscanf(date_added, "%4d-%2d-%2d", &y, &mo, &d) == 3) {
		tm.tm_year = y - 1900;
		tm.tm_mon = mo - 1;
		tm.tm_mday = d;
		int64_t t = (int64_t)timegm(&tm);
		if (t > f->snapshot)
			f->snapshot = t;
	}
}


void vdb_builder_feed_time(struct vdb_builder *b, int64_t t)
{
	cur_feed(b);
	int64_t *ft = &AT(b->ftimes, int64_t, b->feeds.n - 1);
	if (t > *ft)
		*ft = t;
}

/* "2025-02-12T18:06:49Z" (or a date alone) to unix seconds; 0 when unreadable. */
static int64_t iso_time(const char *s)
{
	struct tm tm = {0};
	if (!s || sscanf(s, "%4d-%2d-%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday) != 3)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	if (strlen(s) >= 19 && (s[10] == 'T' || s[10] == ' '))
		sscanf(s + 11, "%2d:%2d:%2d", &tm.tm_hour, &tm.tm_min, &tm.tm_sec);
	return (int64_t)timegm(&tm);
}

/* Ecosystem names as scans ask for them. Returns an arena string or the input. */
static const char *normalise_eco(struct arena *a, const char *eco)
{
	static const char rh[] = "Red Hat:enterprise_linux:";
	if (!strncmp(eco, rh, sizeof(rh) - 1)) { /* one stream set per major release */
		const char *v = eco + sizeof(rh) - 1;
		size_t n = strspn(v, "0123456789."); /* "9", and RHEL 2.1 */
		if (n && (v[n] == ':' || v[n] == 0))
			return arena_printf(a, "Red Hat:%.*s", (int)n, v);
	}
	if (!strncmp(eco, "Ubuntu:", 7) && isdigit((unsigned char)eco[7])) { /* "Ubuntu:22.04:LTS" */
		size_t n = strcspn(eco + 7, ":");
		return arena_printf(a, "Ubuntu:%.*s", (int)n, eco + 7);
	}
	return eco;
}

struct key_probe {
	struct vdb_builder *b;
	uint32_t eco, name;
};

static int key_eq(void *ctx, uint32_t i)
{
	struct key_probe *p = ctx;
	const struct bkey *k = &AT(p->b->keys, struct bkey, i);
	return k->eco == p->eco && k->name == p->name;
}

static uint32_t key_of(struct vdb_builder *b, const char *eco, const char *name)
{
	struct key_probe p = {b, intern(b, eco), intern(b, name)};
	uint64_t h = vdb_hash(eco, name);
	int64_t k = map_get(&b->keymap, h, key_eq, &p);
	if (k >= 0)
		return (uint32_t)k;
	struct bkey *nk = vec_push(&b->keys);
	nk->eco = p.eco;
	nk->name = p.name;
	map_put(&b->keymap, h, (uint32_t)(b->keys.n - 1));
	return (uint32_t)(b->keys.n - 1);
}

struct vuln_probe {
	struct vdb_builder *b;
	uint32_t id;
};

static int vuln_eq(void *ctx, uint32_t i)
{
	struct vuln_probe *p = ctx;
	return AT(p->b->vulns, struct bvuln, i).id == p->id;
}

static void add_unique(struct vec *v, uint32_t s, size_t max)
{
	if (!s || v->n >= max)
		return;
	for (size_t i = 0; i < v->n; i++)
		if (AT(*v, uint32_t, i) == s)
			return;
	*(uint32_t *)vec_push(v) = s;
}

static uint32_t vuln_of(struct vdb_builder *b, const struct osv_record *r)
{
	struct vuln_probe p = {b, intern(b, r->id)};
	uint64_t h = vdb_hash(r->id, "");
	int64_t i = map_get(&b->vulnmap, h, vuln_eq, &p);
	struct bvuln *v;
	if (i < 0) {
		v = vec_push(&b->vulns);
		v->id = p.id;
		v->ids = (struct vec)VEC(uint32_t);
		v->refs = (struct vec)VEC(uint32_t);
		v->score10 = 0xffff;
		v->feed = (uint8_t)(b->feeds.n - 1);
		i = (int64_t)(b->vulns.n - 1);
		map_put(&b->vulnmap, h, (uint32_t)i);
	}
	v = &AT(b->vulns, struct bvuln, i);
	/* texts: the first feed that has one; the newest modified time */
	if (!v->summary)
		v->summary = intern(b, r->summary);
	if (!v->details)
		v->details = intern(b, r->details);
	if (!v->published)
		v->published = intern(b, r->published);
	if (r->modified && (!v->modified || iso_time(r->modified) > iso_time(S(b, v->modified))))
		v->modified = intern(b, r->modified);
	double score;
	if (r->cvss_v3 && v->score10 == 0xffff && !vdb_cvss3_score(r->cvss_v3, &score)) {
		v->cvss = intern(b, r->cvss_v3);
		v->score10 = (uint16_t)lround(score * 10);
		v->level = (uint8_t)vdb_severity_from_score(score);
	}
	for (size_t k = 0; k < r->naliases; k++)
		if (strcmp(r->aliases[k], r->id))
			add_unique(&v->ids, intern(b, r->aliases[k]), VDB_MAX_ALIASES);
	for (size_t k = 0; k < r->nrelated; k++)
		if (strcmp(r->related[k], r->id))
			add_unique(&v->ids, intern(b, r->related[k]), VDB_MAX_ALIASES);
	for (size_t k = 0; k < r->nreferences; k++)
		add_unique(&v->refs, intern(b, r->references[k]), VDB_MAX_REFS);
	return (uint32_t)i;
}

/* 1 when every non-GIT range is exactly "introduced 0, fixed 0" (never affected). */
static int never_affected(const struct osv_affected *x)
{
	int seen = 0;
	for (size_t i = 0; i < x->nranges; i++) {
		const struct osv_range *r = &x->ranges[i];
		if (r->type == OSV_RANGE_GIT)
			continue;
		if (r->nevents != 2 || r->events[0].kind != OSV_INTRODUCED || strcmp(r->events[0].version, "0") ||
		    r->events[1].kind != OSV_FIXED || strcmp(r->events[1].version, "0"))
			return 0;
		seen = 1;
	}
	return seen && !x->nversions;
}

static unsigned tracker_status(const char *s)
{
	static const char *const names[] = {"", "needed", "needs-triage", "deferred", "pending", "released",
					    "not-affected"};
	for (unsigned i = 1; s && i < DD_ARRAY_LEN(names); i++)
		if (!strcmp(s, names[i]))
			return i;
	return VDB_TRACK_NONE;
}

void vdb_builder_add(struct vdb_builder *b, const struct osv_record *r)
{
	if (r->withdrawn) { /* a withdrawn record matches nothing: counted as skipped */
		vdb_builder_skip(b);
		return;
	}
	struct vdb_feed *f = cur_feed(b);
	int64_t t = iso_time(r->modified);
	if (t > f->snapshot)
		f->snapshot = t;
	uint32_t seq = ++b->seq;
	int64_t vuln = -1;
	size_t kept = 0;
	struct arena a = {0};
	for (size_t i = 0; i < r->naffected; i++) {
		const struct osv_affected *x = &r->affected[i];
		enum version_scheme scheme;
		int usable = 0;
		for (size_t k = 0; k < x->nranges; k++)
			usable |= x->ranges[k].type != OSV_RANGE_GIT;
		if ((!usable && !x->nversions) || !x->ecosystem || !x->name || !*x->name)
			continue;
		const char *eco = normalise_eco(&a, x->ecosystem);
		if (vuln < 0)
			vuln = vuln_of(b, r);
		const char *name = x->name;
		char norm[256];
		if (!strcmp(eco, "PyPI") && pep503_name(name, strlen(name), norm, sizeof(norm)))
			name = norm; /* PEP 503, as installed distributions are named (inventory/lang.c) */
		struct bentry *e = vec_push(&b->entries);
		e->key = key_of(b, eco, name);
		e->vuln = (uint32_t)vuln;
		e->seq = seq;
		e->mtime = t;
		const char *sev = x->urgency ? x->urgency : r->severity;
		e->severity = intern(b, sev);
		e->level = (uint8_t)vdb_severity_from_vendor(sev);
		e->first_range = (uint32_t)b->ranges.n;
		int fixed = 0;
		for (size_t k = 0; k < x->nranges; k++) {
			const struct osv_range *or = &x->ranges[k];
			if (or->type == OSV_RANGE_GIT)
				continue;
			struct vdb_range *dr = vec_push(&b->ranges);
			dr->type = (uint8_t)or->type;
			dr->first_event = (uint32_t)b->events.n;
			dr->nevents = (uint16_t)(or->nevents > 0xffff ? 0xffff : or->nevents);
			for (size_t ev = 0; ev < dr->nevents; ev++) {
				struct vdb_event *de = vec_push(&b->events);
				de->kind = or->events[ev].kind;
				de->version = intern(b, or->events[ev].version);
				fixed |= or->events[ev].kind == OSV_FIXED;
			}
			e->nranges++;
		}
		/* explicit versions: only those the ranges do not already cover (OSV: the union) */
		e->versions = (uint32_t)b->lists.n;
		int known = !osv_ecosystem_scheme(eco, &scheme);
		for (size_t k = 0; k < x->nversions; k++) {
			struct match_result m = {0};
			const char *why;
			struct osv_affected ranges_only = *x;
			ranges_only.ecosystem = eco;
			ranges_only.nversions = 0;
			if (known && !osv_match(&ranges_only, x->versions[k], &m, &why) && m.affected)
				continue;
			*(uint32_t *)vec_push(&b->lists) = intern(b, x->versions[k]);
			e->nversions++;
		}
		e->imports = (uint32_t)b->lists.n;
		for (size_t k = 0; k < x->nimports; k++)
			*(uint32_t *)vec_push(&b->lists) = intern(b, x->imports[k]);
		e->nimports = (uint32_t)x->nimports;
		if (never_affected(x))
			e->flags |= VDB_NOT_AFFECTED;
		else if (!fixed)
			e->flags |= VDB_UNFIXED;
		e->flags |= (uint8_t)(tracker_status(x->status) << VDB_TRACKER_SHIFT);
		kept++;
	}
	arena_free(&a);
	f->records++;
	f->entries += (uint32_t)kept;
}

/* ---- writing ---- */

static const struct vdb_builder *sort_b; /* qsort has no context argument in C11 */

static int kev_cmp(const void *x, const void *y)
{
	const struct vdb_kev *a = x, *c = y;
	int r = strcmp(S(sort_b, a->cve), S(sort_b, c->cve));
	return r ? r : (a < c ? -1 : a > c);
}

static int entry_cmp(const void *x, const void *y)
{
	const struct bentry *a = x, *c = y;
	if (a->key != c->key) {
		const struct bkey *ka = &AT(sort_b->keys, struct bkey, a->key), *kc = &AT(sort_b->keys, struct bkey, c->key);
		int r = strcmp(S(sort_b, ka->eco), S(sort_b, kc->eco));
		if (!r)
			r = strcmp(S(sort_b, ka->name), S(sort_b, kc->name));
		return r;
	}
	if (a->vuln != c->vuln) {
		int r = strcmp(S(sort_b, AT(sort_b->vulns, struct bvuln, a->vuln).id),
			       S(sort_b, AT(sort_b->vulns, struct bvuln, c->vuln).id));
		if (r)
			return r;
		return a->vuln < c->vuln ? -1 : 1;
	}
	/* the newest record first, then the later one */
	if (a->mtime != c->mtime)
		return a->mtime > c->mtime ? -1 : 1;
	if (a->seq != c->seq)
		return a->seq > c->seq ? -1 : 1;
	return 0;
}

/* Fixed versions in the ecosystem's order (rank_scheme), ties by pool offset. */
static enum version_scheme rank_scheme;
static int fix_cmp(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, c = *(const uint32_t *)y;
	const char *sa = S(sort_b, a), *sc = S(sort_b, c), *why;
	int r = 0;
	if (a != c && !version_compare(rank_scheme, sa, strlen(sa), sc, strlen(sc), &r, &why) && r)
		return r;
	return a < c ? -1 : a > c;
}

/* The fix of an entry of the simple shape (format.h, VDB_SIMPLE): its string, 0 when it has
 * none, NOT_SIMPLE when the entry has another shape, UNREADABLE when its fix is no valid
 * version (Alpine's "0.8.21.r2"): no installed version can be placed below it. */
#define NOT_SIMPLE UINT32_MAX
#define UNREADABLE (UINT32_MAX - 1)
static uint32_t simple_fix(const struct vdb_builder *b, enum version_scheme scheme, const struct vdb_entry *d,
			   const struct vec *ranges, const struct vec *events)
{
	if ((d->flags & VDB_NOT_AFFECTED) || d->nranges != 1 || d->nversions)
		return NOT_SIMPLE;
	const struct vdb_range *r = &AT(*ranges, struct vdb_range, d->first_range);
	if (r->type != OSV_RANGE_ECOSYSTEM || !r->nevents || r->nevents > 2)
		return NOT_SIMPLE;
	const struct vdb_event *ev = &AT(*events, struct vdb_event, r->first_event);
	if (ev[0].kind != OSV_INTRODUCED || strcmp(S(b, ev[0].version), "0"))
		return NOT_SIMPLE;
	if (r->nevents == 1)
		return 0;
	const char *v = S(b, ev[1].version), *why;
	if (ev[1].kind != OSV_FIXED || !*v || !strcmp(v, "0"))
		return NOT_SIMPLE;
	return version_validate(scheme, v, strlen(v), &why) ? UNREADABLE : ev[1].version;
}

/* Marks each key's simple entries and lists their fixes in version order, so a scan ranks
 * the installed version among them with a binary search and decides every simple entry of
 * the package by comparing two integers. */
static void rank_fixes(struct vdb_builder *b, struct vec *keys, struct vec *ents, const struct vec *ranges,
		       const struct vec *events, struct vec *lists)
{
	uint32_t *fix = NULL, *sorted = NULL;
	size_t cap = 0;
	sort_b = b;
	for (size_t i = 0; i < keys->n; i++) {
		struct vdb_key *k = &AT(*keys, struct vdb_key, i);
		if (osv_ecosystem_scheme(S(b, k->ecosystem), &rank_scheme))
			continue;
		if (k->nentries > cap) {
			cap = k->nentries;
			fix = realloc(fix, cap * sizeof(*fix));
			sorted = realloc(sorted, cap * sizeof(*sorted));
			if (!fix || !sorted)
				abort();
		}
		size_t nf = 0, nu = 0;
		for (uint32_t j = 0; j < k->nentries; j++) {
			fix[j] = simple_fix(b, rank_scheme, &AT(*ents, struct vdb_entry, k->first_entry + j), ranges,
					    events);
			if (fix[j] && fix[j] < UNREADABLE)
				sorted[nf++] = fix[j];
		}
		if (nf > 1)
			qsort(sorted, nf, sizeof(*sorted), fix_cmp);
		for (size_t j = 0; j < nf; j++)
			if (!nu || sorted[nu - 1] != sorted[j])
				sorted[nu++] = sorted[j];
		k->fixes = (uint32_t)lists->n;
		k->nfixes = (uint32_t)nu;
		for (size_t j = 0; j < nu; j++)
			*(uint32_t *)vec_push(lists) = sorted[j];
		for (uint32_t j = 0; j < k->nentries; j++) {
			if (fix[j] == NOT_SIMPLE)
				continue;
			struct vdb_entry *d = &AT(*ents, struct vdb_entry, k->first_entry + j);
			d->flags |= VDB_SIMPLE;
			if (fix[j] == UNREADABLE)
				d->fix = VDB_FIX_UNREADABLE;
			else if (fix[j]) {
				const uint32_t *at = bsearch(&fix[j], sorted, nu, sizeof(*sorted), fix_cmp);
				d->fix = (uint32_t)(at - sorted) + 1;
			}
		}
	}
	free(fix);
	free(sorted);
}

static int id_cmp(const void *x, const void *y)
{
	return strcmp(S(sort_b, *(const uint32_t *)x), S(sort_b, *(const uint32_t *)y));
}

struct out {
	unsigned char *data;
	size_t len, cap;
};

static size_t out_put(struct out *o, const void *p, size_t n)
{
	while (o->len % 8)
		o->data[o->len++] = 0;
	size_t at = o->len;
	if (n)
		memcpy(o->data + o->len, p, n);
	o->len += n;
	return at;
}

/* 1 for the id of a language ecosystem's advisory (Go, PyPA, RustSec, GitHub, Node.js WG). */
static int language_advisory(const char *id)
{
	static const char *const prefixes[] = {"GO-", "PYSEC-", "RUSTSEC-", "GHSA-", "NSWG-"};
	for (size_t i = 0; i < DD_ARRAY_LEN(prefixes); i++)
		if (!strncmp(id, prefixes[i], strlen(prefixes[i])))
			return 1;
	return 0;
}

/* A language advisory with no CVSS vector of its own (the Go and PyPA databases carry none)
 * takes the one another feed gives its CVE, when it names exactly one: the vulnerability is
 * the same. (Distributions' records are left as they are: their severity is their own word.) */
static void cvss_from_aliases(struct vdb_builder *b)
{
	for (size_t i = 0; i < b->vulns.n; i++) {
		struct bvuln *v = &AT(b->vulns, struct bvuln, i);
		if (v->score10 != 0xffff || !language_advisory(S(b, v->id)))
			continue;
		uint32_t cve = 0;
		int ncve = 0;
		for (size_t k = 0; k < v->ids.n; k++)
			if (!strncmp(S(b, AT(v->ids, uint32_t, k)), "CVE-", 4))
				cve = AT(v->ids, uint32_t, k), ncve++;
		if (ncve != 1)
			continue;
		struct vuln_probe p = {b, cve};
		int64_t j = map_get(&b->vulnmap, vdb_hash(S(b, cve), ""), vuln_eq, &p);
		const struct bvuln *w = j >= 0 ? &AT(b->vulns, struct bvuln, j) : NULL;
		if (w && w->score10 != 0xffff) {
			v->cvss = w->cvss;
			v->score10 = w->score10;
			v->level = w->level;
		}
	}
}

int vdb_builder_write(struct vdb_builder *b, const char *path, const char **why)
{
	static __thread char msg[600];
	*why = NULL;
	cvss_from_aliases(b);
	/* entries: sorted by key then vulnerability, newest record first; keep one record's */
	sort_b = b;
	if (b->entries.n > 1)
		qsort(b->entries.data, b->entries.n, sizeof(struct bentry), entry_cmp);
	struct vec ents = VEC(struct vdb_entry), ranges = VEC(struct vdb_range), events = VEC(struct vdb_event);
	struct vec keys = VEC(struct vdb_key), ecos = VEC(struct vdb_eco), lists = VEC(uint32_t);
	struct vec vulns = VEC(struct vdb_vuln);
	for (size_t i = 0; i < b->entries.n; i++) {
		const struct bentry *e = &AT(b->entries, struct bentry, i);
		if (i && AT(b->entries, struct bentry, i - 1).key == e->key &&
		    AT(b->entries, struct bentry, i - 1).vuln == e->vuln) {
			/* same package and vulnerability: only more entries of the winning record */
			size_t j = i - 1;
			while (j && AT(b->entries, struct bentry, j - 1).key == e->key &&
			       AT(b->entries, struct bentry, j - 1).vuln == e->vuln)
				j--;
			if (AT(b->entries, struct bentry, j).seq != e->seq)
				continue;
		}
		if (!keys.n || AT(b->keys, struct bkey, e->key).eco != AT(keys, struct vdb_key, keys.n - 1).ecosystem ||
		    AT(b->keys, struct bkey, e->key).name != AT(keys, struct vdb_key, keys.n - 1).name) {
			struct vdb_key *k = vec_push(&keys);
			k->ecosystem = AT(b->keys, struct bkey, e->key).eco;
			k->name = AT(b->keys, struct bkey, e->key).name;
			k->first_entry = (uint32_t)ents.n;
			if (!ecos.n || AT(ecos, struct vdb_eco, ecos.n - 1).name != k->ecosystem)
				((struct vdb_eco *)vec_push(&ecos))->name = k->ecosystem;
			AT(ecos, struct vdb_eco, ecos.n - 1).keys++;
		}
		AT(keys, struct vdb_key, keys.n - 1).nentries++;
		AT(ecos, struct vdb_eco, ecos.n - 1).entries++;
		struct vdb_entry *d = vec_push(&ents);
		d->vuln = e->vuln;
		d->severity = e->severity;
		d->level = e->level;
		d->flags = e->flags;
		d->first_range = (uint32_t)ranges.n;
		d->nranges = (uint16_t)e->nranges;
		for (uint32_t r = 0; r < e->nranges; r++) {
			struct vdb_range *dr = vec_push(&ranges);
			*dr = AT(b->ranges, struct vdb_range, e->first_range + r);
			uint32_t first = dr->first_event;
			dr->first_event = (uint32_t)events.n;
			for (uint32_t k = 0; k < dr->nevents; k++)
				*(struct vdb_event *)vec_push(&events) = AT(b->events, struct vdb_event, first + k);
		}
		d->versions = (uint32_t)lists.n;
		d->nversions = e->nversions;
		for (uint32_t k = 0; k < e->nversions; k++)
			*(uint32_t *)vec_push(&lists) = AT(b->lists, uint32_t, e->versions + k);
		d->imports = (uint32_t)lists.n;
		d->nimports = e->nimports;
		for (uint32_t k = 0; k < e->nimports; k++)
			*(uint32_t *)vec_push(&lists) = AT(b->lists, uint32_t, e->imports + k);
	}
	rank_fixes(b, &keys, &ents, &ranges, &events, &lists);
	sort_b = b;
	for (size_t i = 0; i < b->vulns.n; i++) {
		struct bvuln *v = &AT(b->vulns, struct bvuln, i);
		/* ids in name order: the file does not depend on which parser thread came first */
		if (v->ids.n > 1)
			qsort(v->ids.data, v->ids.n, sizeof(uint32_t), id_cmp);
		struct vdb_vuln *d = vec_push(&vulns);
		d->id = v->id;
		d->summary = v->summary;
		d->details = v->details;
		d->published = v->published;
		d->modified = v->modified;
		d->cvss_vector = v->cvss;
		d->cvss_score10 = v->score10;
		d->cvss_level = v->level;
		d->feed = v->feed;
		d->aliases = (uint32_t)lists.n;
		d->naliases = (uint32_t)v->ids.n;
		for (size_t k = 0; k < v->ids.n; k++)
			*(uint32_t *)vec_push(&lists) = AT(v->ids, uint32_t, k);
		d->refs = (uint32_t)lists.n;
		d->nrefs = (uint32_t)v->refs.n;
		for (size_t k = 0; k < v->refs.n; k++)
			*(uint32_t *)vec_push(&lists) = AT(v->refs, uint32_t, k);
	}
	for (size_t i = 0; i < b->feeds.n; i++) { /* a feed without record dates: its files' time */
		struct vdb_feed *f = &AT(b->feeds, struct vdb_feed, i);
		f->kind = intern(b, f->snapshot ? "record-dates" : "file-time");
		if (!f->snapshot)
			f->snapshot = AT(b->ftimes, int64_t, i);
	}
	/* the catalogue by cve, each once */
	if (b->kev.n)
		qsort(b->kev.data, b->kev.n, sizeof(struct vdb_kev), kev_cmp);
	size_t nkev = 0;
	for (size_t i = 0; i < b->kev.n; i++) {
		struct vdb_kev *k = &AT(b->kev, struct vdb_kev, i);
		if (k->cve && (!nkev || strcmp(S(b, AT(b->kev, struct vdb_kev, nkev - 1).cve), S(b, k->cve))))
			AT(b->kev, struct vdb_kev, nkev++) = *k;
	}
	size_t nslots = 16;
	while (nslots < keys.n * 2)
		nslots *= 2;
	uint32_t *slots = calloc(nslots, sizeof(*slots));
	if (!slots)
		abort();
	for (size_t i = 0; i < keys.n; i++) {
		const struct vdb_key *k = &AT(keys, struct vdb_key, i);
		size_t s = vdb_hash(S(b, k->ecosystem), S(b, k->name)) & (nslots - 1);
		while (slots[s])
			s = (s + 1) & (nslots - 1);
		slots[s] = (uint32_t)i + 1;
	}

	struct vdb_header h = {0};
	memcpy(h.magic, VDB_MAGIC, 8);
	h.format = VDB_FORMAT;
	h.header_size = sizeof(h);
	if (RAND_bytes((unsigned char *)&h.generation, sizeof(h.generation)) != 1)
		abort();
	h.built_at = util_now();
	struct {
		const void *p;
		size_t n, size;
	} sec[VDB__SECTIONS] = {
		[VDB_STRINGS] = {b->pool.data, b->pool.n, 1},
		[VDB_FEEDS] = {b->feeds.data, b->feeds.n, sizeof(struct vdb_feed)},
		[VDB_ECOS] = {ecos.data, ecos.n, sizeof(struct vdb_eco)},
		[VDB_VULNS] = {vulns.data, vulns.n, sizeof(struct vdb_vuln)},
		[VDB_LISTS] = {lists.data, lists.n, sizeof(uint32_t)},
		[VDB_KEYS] = {keys.data, keys.n, sizeof(struct vdb_key)},
		[VDB_SLOTS] = {slots, nslots, sizeof(uint32_t)},
		[VDB_ENTRIES] = {ents.data, ents.n, sizeof(struct vdb_entry)},
		[VDB_RANGES] = {ranges.data, ranges.n, sizeof(struct vdb_range)},
		[VDB_EVENTS] = {events.data, events.n, sizeof(struct vdb_event)},
		[VDB_KEV] = {b->kev.data, nkev, sizeof(struct vdb_kev)},
	};
	size_t total = sizeof(h) + 8;
	for (int s = 0; s < VDB__SECTIONS; s++)
		total += sec[s].n * sec[s].size + 8;
	int rc = 0;
	struct out o = {0};
	char *tmp = NULL;
	int fd = -1;
	if (total > UINT32_MAX) {
		*why = "the database would be over 4 GiB";
		rc = DD_E_TOO_LARGE;
		goto out;
	}
	o.cap = total;
	o.data = calloc(1, total);
	if (!o.data)
		abort();
	out_put(&o, &h, sizeof(h));
	for (int s = 0; s < VDB__SECTIONS; s++) {
		h.sections[s].off = (uint32_t)out_put(&o, sec[s].p, sec[s].n * sec[s].size);
		h.sections[s].count = (uint32_t)sec[s].n;
	}
	h.file_size = o.len;
	h.crc32 = (uint32_t)crc32_z(crc32_z(0L, Z_NULL, 0), o.data + sizeof(h), o.len - sizeof(h));
	memcpy(o.data, &h, sizeof(h));

	size_t plen = strlen(path);
	tmp = malloc(plen + 16);
	if (!tmp)
		abort();
	snprintf(tmp, plen + 16, "%s.tmp.%d", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	size_t done = 0;
	while (fd >= 0 && done < o.len) {
		ssize_t w = write(fd, o.data + done, o.len - done);
		if (w <= 0)
			break;
		done += (size_t)w;
	}
	if (fd < 0 || done != o.len || fsync(fd) || close(fd) || rename(tmp, path)) {
		snprintf(msg, sizeof(msg), "cannot write '%s': %s", path, strerror(errno));
		*why = msg;
		rc = DD_E_IO;
		if (fd >= 0)
			unlink(tmp);
		fd = -1;
		goto out;
	}
	fd = -1;
	{
		char *dir = strdup(path), *slash = dir ? strrchr(dir, '/') : NULL;
		if (slash)
			*slash = 0;
		util_fsync_dir(slash ? (*dir ? dir : "/") : ".");
		free(dir);
	}
out:
	free(tmp);
	free(o.data);
	free(slots);
	free(ents.data);
	free(ranges.data);
	free(events.data);
	free(keys.data);
	free(ecos.data);
	free(lists.data);
	free(vulns.data);
	return rc;
}
