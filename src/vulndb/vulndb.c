/* vulndb.c: opening the compiled database and looking packages up in it. The file is
 * mapped read-only; opening checks the header, the CRC and that every section lies inside
 * the file, and each accessor checks the offsets it follows, so a damaged file gives
 * DD_E_DB_INVALID or empty answers, never a read outside the mapping. Building it is in
 * build.c. */
#include "common/dd.h"
#include "vulndb/vulndb.h"
#include "common/arena.h"
#include <sys/mman.h>
#include <zlib.h>

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
	size_t n[VDB__SECTIONS];
};

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
	uLong crc = crc32_z(0L, Z_NULL, 0);
	crc = crc32_z(crc, db->base + h->header_size, db->len - h->header_size);
	if ((uint32_t)crc != h->crc32)
		return invalid(why, "checksum mismatch (the file is damaged)");
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
#undef SEC
	size_t ns = db->n[VDB_SLOTS];
	if (ns & (ns - 1))
		return invalid(why, "the hash table size is not a power of two");
	if (ns && ns <= db->n[VDB_KEYS])
		return invalid(why, "the hash table has no free slot");
	return 0;
}

int vulndb_open_mem(const void *data, size_t len, struct vulndb **out, const char **why)
{
	*out = NULL;
	*why = NULL;
	struct vulndb *db = calloc(1, sizeof(*db));
	if (!db)
		return DD_E_NOMEM;
	db->base = data;
	db->len = len;
	int rc = validate(db, why);
	if (rc) {
		free(db);
		return rc;
	}
	*out = db;
	return 0;
}

int vulndb_open(const char *path, struct vulndb **out, const char **why)
{
	static __thread char msg[512];
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
	close(fd);
	if (m == MAP_FAILED) {
		snprintf(msg, sizeof(msg), "cannot map '%s': %s", path, strerror(errno));
		*why = msg;
		return DD_E_IO;
	}
	int rc = vulndb_open_mem(m, (size_t)st.st_size, out, why);
	if (rc) {
		munmap(m, (size_t)st.st_size);
		snprintf(msg, sizeof(msg), "'%s': %s", path, *why);
		*why = msg;
		return rc;
	}
	(*out)->mapped = 1;
	return 0;
}

void vulndb_close(struct vulndb *db)
{
	if (!db)
		return;
	if (db->mapped)
		munmap((void *)db->base, db->len);
	free(db);
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
	for (size_t i = 0; i < db->n[VDB_ECOS]; i++)
		if (!strcmp(vulndb_str(db, db->ecos[i].name), eco))
			return db->ecos[i].entries > 0;
	return 0;
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
	if (!ns)
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

