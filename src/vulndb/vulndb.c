/* vulndb.c: opening the compiled database and looking packages up in it. The file is
 * mapped read-only; opening checks the header and that every section lies inside the file,
 * and each accessor checks the offsets it follows, so a damaged file gives DD_E_DB_INVALID or
 * empty answers, never a read outside the mapping. The CRC over the body is checked by reading
 * the file (not the mapping, so the process does not hold every page of it), before open
 * returns when another database is open in the process (a replacement: the one in use answers
 * meanwhile), else by a thread of its own while the caller starts; every lookup waits for
 * that check, and a database that fails it answers nothing (vulndb_verify says why). Building
 * it is in build.c. */
#include "common/dd.h"
#include "vulndb/vulndb.h"
#include "common/arena.h"
#include "common/log.h"
#include <isa-l/crc.h>
#include <stdatomic.h>
#include <sys/mman.h>

#define VDB_CHECK_CHUNK (512 * 1024) /* bytes read at a time for the checksum */

enum vdb_check { VDB_CHECK_PENDING, VDB_CHECK_GOOD, VDB_CHECK_BAD };

struct vulndb {
	const unsigned char *base;
	size_t len;
	int mapped;
	const struct vdb_header *h;
	const char *strings;
	size_t nstrings;
	const struct vdb_feed *feeds;
	const struct vdb_eco *ecos;
	const struct vdb_vuln *vulns;
	const uint32_t *lists;
	const struct vdb_key *keys;
	const uint32_t *slots;
	const struct vdb_entry *entries;
	const struct vdb_range *ranges;
	const struct vdb_event *events;
	const struct vdb_kev *kev;
	size_t n[VDB__SECTIONS];
	/* the checksum: enum vdb_check, set once; the thread that reads the file for it, if any */
	_Atomic int check;
	atomic_bool stop;
	int fd, checker_running;
	pthread_t checker;
	pthread_mutex_t mu;
	pthread_cond_t checked;
	char path[PATH_MAX], why[PATH_MAX + 128];
};

/* File-backed databases open in this process: with one, the next is checked before use. */
static atomic_int open_files;

static const size_t item_size[VDB__SECTIONS] = {
	[VDB_STRINGS] = 1,
	[VDB_FEEDS] = sizeof(struct vdb_feed),
	[VDB_ECOS] = sizeof(struct vdb_eco),
	[VDB_VULNS] = sizeof(struct vdb_vuln),
	[VDB_LISTS] = sizeof(uint32_t),
	[VDB_KEYS] = sizeof(struct vdb_key),
	[VDB_SLOTS] = sizeof(uint32_t),
	[VDB_ENTRIES] = sizeof(struct vdb_entry),
	[VDB_RANGES] = sizeof(struct vdb_range),
	[VDB_EVENTS] = sizeof(struct vdb_event),
	[VDB_KEV] = sizeof(struct vdb_kev),
};

static int invalid(const char **why, const char *what)
{
	*why = what;
	return DD_E_DB_INVALID;
}

static int validate(struct vulndb *db, const char **why)
{
	if (db->len < sizeof(struct vdb_header))
		return invalid(why, "the file is shorter than a database header");
	const struct vdb_header *h = (const void *)db->base;
	if (memcmp(h->magic, VDB_MAGIC, 8))
		return invalid(why, "not a drydock vulnerability database (bad magic)");
	if (h->format != VDB_FORMAT)
		return invalid(why, "unsupported database format version (rebuild it with 'drydock db import')");
	if (h->header_size != sizeof(*h) || h->file_size != db->len)
		return invalid(why, "the file's size does not match its header (truncated?)");
	for (int s = 0; s < VDB__SECTIONS; s++) {
		uint64_t off = h->sections[s].off, cnt = h->sections[s].count;
		if (off < h->header_size || off % 8 || off + cnt * item_size[s] > db->len)
			return invalid(why, "a section lies outside the file");
		db->n[s] = (size_t)cnt;
	}
	db->h = h;
#define SEC(s) ((const void *)(db->base + h->sections[s].off))
	db->strings = SEC(VDB_STRINGS);
	db->nstrings = db->n[VDB_STRINGS];
	if (!db->nstrings || db->strings[0] || db->strings[db->nstrings - 1])
		return invalid(why, "the string pool is not NUL-delimited");
	db->feeds = SEC(VDB_FEEDS);
	db->ecos = SEC(VDB_ECOS);
	db->vulns = SEC(VDB_VULNS);
	db->lists = SEC(VDB_LISTS);
	db->keys = SEC(VDB_KEYS);
	db->slots = SEC(VDB_SLOTS);
	db->entries = SEC(VDB_ENTRIES);
	db->ranges = SEC(VDB_RANGES);
	db->events = SEC(VDB_EVENTS);
	db->kev = SEC(VDB_KEV);
#undef SEC
	size_t ns = db->n[VDB_SLOTS];
	if (ns & (ns - 1))
		return invalid(why, "the hash table size is not a power of two");
	if (ns && ns <= db->n[VDB_KEYS])
		return invalid(why, "the hash table has no free slot");
	return 0;
}

#define CHECKSUM_BAD "checksum mismatch (the file is damaged)"

static struct vulndb *db_new(const void *data, size_t len)
{
	struct vulndb *db = calloc(1, sizeof(*db));
	if (!db)
		return NULL;
	db->base = data;
	db->len = len;
	db->fd = -1;
	atomic_init(&db->check, VDB_CHECK_PENDING);
	atomic_init(&db->stop, false);
	pthread_mutex_init(&db->mu, NULL);
	pthread_cond_init(&db->checked, NULL);
	return db;
}

static void db_free(struct vulndb *db)
{
	pthread_mutex_destroy(&db->mu);
	pthread_cond_destroy(&db->checked);
	if (db->fd >= 0)
		close(db->fd);
	free(db);
}

/* Records the checksum's verdict (once) and wakes whoever waits for it. */
static void check_done(struct vulndb *db, int good)
{
	pthread_mutex_lock(&db->mu);
	atomic_store_explicit(&db->check, good ? VDB_CHECK_GOOD : VDB_CHECK_BAD, memory_order_release);
	pthread_cond_broadcast(&db->checked);
	pthread_mutex_unlock(&db->mu);
}

/* The CRC of the body read from db->fd (pread: the pages go through the page cache, not into
 * the process): 1 when it matches the header, 0 when not, -1 when it cannot be read or the
 * check was stopped (*why says which). */
static int crc_file(struct vulndb *db, const char **why)
{
	unsigned char *buf = malloc(VDB_CHECK_CHUNK);
	if (!buf) {
		*why = "out of memory for the checksum";
		return -1;
	}
	uint32_t crc = 0;
	off_t off = (off_t)db->h->header_size, end = (off_t)db->len;
	int rc = 1;
	while (off < end) {
		if (atomic_load_explicit(&db->stop, memory_order_relaxed)) {
			*why = "closed before its checksum was checked";
			rc = -1;
			break;
		}
		size_t want = (size_t)(end - off) < VDB_CHECK_CHUNK ? (size_t)(end - off) : VDB_CHECK_CHUNK;
		ssize_t got = pread(db->fd, buf, want, off);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			*why = got < 0 ? "cannot read it for its checksum" : "it shrank while its checksum was checked";
			rc = -1;
			break;
		}
		crc = crc32_gzip_refl(crc, buf, (uint64_t)got); /* zlib's CRC-32 (build.c), faster */
		off += got;
	}
	free(buf);
	if (rc == 1 && crc != db->h->crc32) {
		*why = CHECKSUM_BAD;
		rc = 0;
	}
	return rc;
}

static void check_file(struct vulndb *db)
{
	const char *why = NULL;
	int good = crc_file(db, &why) == 1;
	if (!good)
		snprintf(db->why, sizeof(db->why), "'%s': %s", db->path, why);
	close(db->fd);
	db->fd = -1;
	check_done(db, good);
}

static void *checker_main(void *arg)
{
	struct vulndb *db = arg;
	check_file(db);
	if (atomic_load_explicit(&db->check, memory_order_acquire) == VDB_CHECK_BAD &&
	    !atomic_load_explicit(&db->stop, memory_order_relaxed))
		log_error("vulnerability database %s: it answers nothing until it is replaced", db->why);
	return NULL;
}

int vulndb_open_mem(const void *data, size_t len, struct vulndb **out, const char **why)
{
	*out = NULL;
	*why = NULL;
	struct vulndb *db = db_new(data, len);
	if (!db)
		return DD_E_NOMEM;
	int rc = validate(db, why);
	if (!rc) { /* bytes in memory: checked at once */
		uint32_t crc = crc32_gzip_refl(0, db->base + db->h->header_size, db->len - db->h->header_size);
		if (crc != db->h->crc32)
			rc = invalid(why, CHECKSUM_BAD);
	}
	if (rc) {
		db_free(db);
		return rc;
	}
	check_done(db, 1);
	*out = db;
	return 0;
}

int vulndb_open(const char *path, struct vulndb **out, const char **why)
{
	static __thread char msg[PATH_MAX + 128];
	*out = NULL;
	*why = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st)) {
		snprintf(msg, sizeof(msg), "cannot open '%s': %s", path, strerror(errno));
		*why = msg;
		if (fd >= 0)
			close(fd);
		return DD_E_IO;
	}
	if (st.st_size < (off_t)sizeof(struct vdb_header)) {
		close(fd);
		snprintf(msg, sizeof(msg), "'%s' is not a vulnerability database (too short)", path);
		*why = msg;
		return DD_E_DB_INVALID;
	}
	void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		snprintf(msg, sizeof(msg), "cannot map '%s': %s", path, strerror(errno));
		*why = msg;
		close(fd);
		return DD_E_IO;
	}
	struct vulndb *db = db_new(m, (size_t)st.st_size);
	int rc = db ? validate(db, why) : DD_E_NOMEM;
	if (rc) {
		snprintf(msg, sizeof(msg), "'%s': %s", path, db ? *why : dd_err_message(rc));
		*why = msg;
		if (db)
			db_free(db);
		munmap(m, (size_t)st.st_size);
		close(fd);
		return rc;
	}
	db->mapped = 1;
	db->fd = fd;
	snprintf(db->path, sizeof(db->path), "%s", path);
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	/* with another database open (a replacement), check before it can be used at all;
	 * otherwise while the caller goes on, and every lookup waits for the verdict */
	int now = atomic_fetch_add(&open_files, 1) > 0 || pthread_create(&db->checker, NULL, checker_main, db) != 0;
	if (now)
		check_file(db);
	else
		db->checker_running = 1;
	/* only the check made here decides the answer: the thread's, done or not, is the lookups'
	 * (open answers the same whichever of the two threads runs first) */
	if (now && atomic_load_explicit(&db->check, memory_order_acquire) == VDB_CHECK_BAD) {
		snprintf(msg, sizeof(msg), "%s", db->why);
		*why = msg;
		vulndb_close(db);
		return DD_E_DB_INVALID;
	}
	*out = db;
	return 0;
}

/* Waits for the checksum's verdict: 1 when the database may answer. */
static int usable(const struct vulndb *cdb)
{
	struct vulndb *db = (struct vulndb *)cdb; /* the verdict is state the lookups share */
	int c = atomic_load_explicit(&db->check, memory_order_acquire);
	if (c == VDB_CHECK_PENDING) {
		pthread_mutex_lock(&db->mu);
		while ((c = atomic_load_explicit(&db->check, memory_order_acquire)) == VDB_CHECK_PENDING)
			pthread_cond_wait(&db->checked, &db->mu);
		pthread_mutex_unlock(&db->mu);
	}
	return c == VDB_CHECK_GOOD;
}

int vulndb_verify(const struct vulndb *db, const char **why)
{
	*why = NULL;
	if (usable(db))
		return 0;
	*why = db->why;
	return DD_E_DB_INVALID;
}

void vulndb_close(struct vulndb *db)
{
	if (!db)
		return;
	if (db->checker_running) {
		atomic_store(&db->stop, true);
		pthread_join(db->checker, NULL);
	}
	if (db->mapped) {
		munmap((void *)db->base, db->len);
		atomic_fetch_sub(&open_files, 1);
	}
	db_free(db);
}

const struct vdb_header *vulndb_header(const struct vulndb *db) { return db->h; }

const char *vulndb_str(const struct vulndb *db, uint32_t off)
{
	return off < db->nstrings ? db->strings + off : "";
}

size_t vulndb_nfeeds(const struct vulndb *db) { return db->n[VDB_FEEDS]; }
const struct vdb_feed *vulndb_feed(const struct vulndb *db, size_t i)
{
	return i < db->n[VDB_FEEDS] ? &db->feeds[i] : NULL;
}
size_t vulndb_necos(const struct vulndb *db) { return db->n[VDB_ECOS]; }
const struct vdb_eco *vulndb_eco(const struct vulndb *db, size_t i)
{
	return i < db->n[VDB_ECOS] ? &db->ecos[i] : NULL;
}

int vulndb_has_ecosystem(const struct vulndb *db, const char *eco)
{
	if (!usable(db))
		return 0;
	for (size_t i = 0; i < db->n[VDB_ECOS]; i++)
		if (!strcmp(vulndb_str(db, db->ecos[i].name), eco))
			return db->ecos[i].entries > 0;
	return 0;
}

size_t vulndb_nkev(const struct vulndb *db) { return db->n[VDB_KEV]; }
const struct vdb_kev *vulndb_kev_at(const struct vulndb *db, size_t i) { return i < db->n[VDB_KEV] ? &db->kev[i] : NULL; }

const struct vdb_kev *vulndb_kev(const struct vulndb *db, const char *id)
{
	size_t lo = 0, hi = db->n[VDB_KEV];
	if (!id || strncmp(id, "CVE-", 4))
		return NULL;
	while (lo < hi) { /* sorted by the builder; a damaged order only misses */
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(vulndb_str(db, db->kev[mid].cve), id);
		if (!c)
			return &db->kev[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct vdb_kev *vulndb_kev_of(const struct vulndb *db, const char *id, const char *const *ids, size_t n)
{
	const struct vdb_kev *k = vulndb_kev(db, id);
	for (size_t i = 0; !k && i < n; i++)
		k = vulndb_kev(db, ids[i]);
	return k;
}

size_t vulndb_nvulns(const struct vulndb *db) { return db->n[VDB_VULNS]; }
const struct vdb_vuln *vulndb_vuln(const struct vulndb *db, uint32_t i)
{
	return i < db->n[VDB_VULNS] ? &db->vulns[i] : NULL;
}

const uint32_t *vulndb_list(const struct vulndb *db, uint32_t first, uint32_t n)
{
	if ((uint64_t)first + n > db->n[VDB_LISTS])
		return NULL;
	return db->lists + first;
}

static const struct vdb_key *find_key(const struct vulndb *db, const char *eco, const char *name)
{
	size_t ns = db->n[VDB_SLOTS];
	if (!ns || !usable(db))
		return NULL;
	size_t mask = ns - 1;
	for (size_t i = (size_t)vdb_hash(eco, name) & mask, probes = 0; probes < ns; i = (i + 1) & mask, probes++) {
		uint32_t k = db->slots[i];
		if (!k || k - 1 >= db->n[VDB_KEYS])
			return NULL;
		const struct vdb_key *key = &db->keys[k - 1];
		if (strcmp(vulndb_str(db, key->name), name) || strcmp(vulndb_str(db, key->ecosystem), eco))
			continue;
		if ((uint64_t)key->first_entry + key->nentries > db->n[VDB_ENTRIES])
			return NULL;
		return key;
	}
	return NULL;
}

const struct vdb_entry *vulndb_lookup(const struct vulndb *db, const char *eco, const char *name, size_t *n)
{
	const struct vdb_key *key = find_key(db, eco, name);
	*n = key ? key->nentries : 0;
	return key ? db->entries + key->first_entry : NULL;
}

int vulndb_lookup_pkg(const struct vulndb *db, const char *eco, const char *name, struct vdb_pkg *out)
{
	memset(out, 0, sizeof(*out));
	const struct vdb_key *key = find_key(db, eco, name);
	if (!key || !key->nentries)
		return 0;
	out->entries = db->entries + key->first_entry;
	out->n = key->nentries;
	out->fixes = vulndb_list(db, key->fixes, key->nfixes);
	out->nfixes = out->fixes ? key->nfixes : 0;
	return 1;
}

void vulndb_entry_affected(const struct vulndb *db, const struct vdb_entry *e, const char *eco, const char *name,
			   struct arena *a, struct osv_affected *out)
{
	memset(out, 0, sizeof(*out));
	out->ecosystem = eco;
	out->name = name;
	out->urgency = e->severity ? vulndb_str(db, e->severity) : NULL;
	if ((uint64_t)e->first_range + e->nranges <= db->n[VDB_RANGES]) {
		out->ranges = arena_alloc(a, (e->nranges + 1u) * sizeof(*out->ranges));
		for (uint32_t r = 0; r < e->nranges; r++) {
			const struct vdb_range *dr = &db->ranges[e->first_range + r];
			if ((uint64_t)dr->first_event + dr->nevents > db->n[VDB_EVENTS] || dr->type > OSV_RANGE_GIT)
				continue;
			struct osv_range *or = &out->ranges[out->nranges++];
			or->type = (enum osv_range_type)dr->type;
			or->events = arena_alloc(a, (dr->nevents + 1u) * sizeof(*or->events));
			for (uint32_t k = 0; k < dr->nevents; k++) {
				const struct vdb_event *ev = &db->events[dr->first_event + k];
				if (ev->kind > OSV_LIMIT)
					continue;
				or->events[or->nevents].kind = (enum osv_event_kind)ev->kind;
				or->events[or->nevents++].version = vulndb_str(db, ev->version);
			}
		}
	}
	const uint32_t *vs = vulndb_list(db, e->versions, e->nversions);
	if (vs && e->nversions) {
		out->versions = arena_alloc(a, e->nversions * sizeof(*out->versions));
		for (uint32_t i = 0; i < e->nversions; i++)
			out->versions[out->nversions++] = vulndb_str(db, vs[i]);
	}
}

const char *vulndb_default_path(void)
{
	static char path[4096];
	const char *env = getenv("DRYDOCK_DB"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	if (env && *env)
		return env;
	if (xdg && *xdg)
		snprintf(path, sizeof(path), "%s/drydock/vulndb.ddb", xdg);
	else
		snprintf(path, sizeof(path), "%s/.cache/drydock/vulndb.ddb", home && *home ? home : "/tmp");
	return path;
}

const struct vdb_entry *vulndb_entry_of(const struct vulndb *db, const struct vdb_entry *e, size_t n, const char *id)
{
	size_t lo = 0, hi = n; /* the first whose id is not below */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct vdb_vuln *c = vulndb_vuln(db, e[mid].vuln);
		if (c && strcmp(vulndb_str(db, c->id), id) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	const struct vdb_vuln *v = lo < n ? vulndb_vuln(db, e[lo].vuln) : NULL;
	return v && !strcmp(vulndb_str(db, v->id), id) ? &e[lo] : NULL;
}
