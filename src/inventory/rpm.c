/* rpm.c: rpm's package database in its three formats, and the header blobs they hold.
 *
 * - SQLite (rpmdb.sqlite): table Packages(hnum, blob), read from memory with
 *   sqlite3_deserialize (the file's bytes, never a path in the image).
 * - Berkeley DB hash (Packages): pages read here, no libdb: the metadata page gives the page
 *   size and count; hash pages hold key/value pairs whose values point to chains of
 *   overflow pages carrying a header blob.
 * - NDB (Packages.db): a header, slot pages, and blobs addressed by the slots.
 *
 * A header blob is il (entry count), dl (data length), il 16-byte index entries (tag,
 * type, offset, count; big-endian) and dl bytes of data. Every count, offset, length and
 * chain is bounded by the file's size and by limits.h. Contents of a -wal file next to an
 * rpmdb.sqlite are not read (images ship the database checkpointed).
 *
 * A header's file list (DIRNAMES, BASENAMES and DIRINDEXES; OLDFILENAMES before rpm 4) says
 * which Python distributions the package installed: their .dist-info and .egg-info paths go
 * to lang_note_owned, so they are reported once, as this package. */
#include "common/dd.h"
#include "inventory.h"
#include "common/arena.h"
#include "lang.h"
#include <sqlite3.h>

enum {
	TAG_NAME = 1000,
	TAG_VERSION = 1001,
	TAG_RELEASE = 1002,
	TAG_EPOCH = 1003,
	TAG_VENDOR = 1011,
	TAG_LICENSE = 1014,
	TAG_ARCH = 1022,
	TAG_OLDFILENAMES = 1027,
	TAG_SOURCERPM = 1044,
	TAG_DIRINDEXES = 1116,
	TAG_BASENAMES = 1117,
	TAG_DIRNAMES = 1118,
	TAG_MODULARITYLABEL = 5096,
};
enum { TYPE_INT32 = 4, TYPE_STRING = 6, TYPE_STRING_ARRAY = 8, TYPE_I18NSTRING = 9 };

/* rpm's own sanity limits on a header (hdrchkTags / hdrchkData) */
#define MAX_INDEX_ENTRIES 0xffff
#define MAX_HEADER_DATA (256u * 1024 * 1024)

static uint32_t be32(const unsigned char *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static uint32_t le32(const unsigned char *p) { return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0]; }
static uint16_t le16(const unsigned char *p) { return (uint16_t)(p[1] << 8 | p[0]); }

static int corrupt(struct inventory *inv, const char **why, const char *path, const char *what)
{
	*why = arena_printf(inv->arena, "'%s': %s", path, what);
	return DD_E_PKGDB_CORRUPT;
}

/* The source package's name: "name-version-release.src.rpm" less its last two fields. */
static const char *source_name_of(struct arena *a, const char *srpm)
{
	size_t n = strlen(srpm);
	if (n > 8 && !strcmp(srpm + n - 8, ".src.rpm"))
		n -= 8;
	else if (n > 10 && !strcmp(srpm + n - 10, ".nosrc.rpm"))
		n -= 10;
	for (int i = 0; i < 2; i++) {
		const char *dash = memrchr(srpm, '-', n);
		if (!dash)
			return arena_strndup(a, srpm, n);
		n = (size_t)(dash - srpm);
	}
	return arena_strndup(a, srpm, n);
}

/* A string array entry of a header: count strings from off in the data. */
struct strs {
	uint32_t off, count;
	int set;
};

/* The next string of an array at *at (its end checked), or NULL past the data. */
static const char *next_str(const unsigned char *data, uint32_t dl, uint32_t *at, size_t *n)
{
	if (*at >= dl)
		return NULL;
	const unsigned char *nul = memchr(data + *at, 0, dl - *at);
	if (!nul)
		return NULL;
	const char *s = (const char *)data + *at;
	*n = (size_t)(nul - (data + *at));
	*at += (uint32_t)*n + 1;
	return s;
}

static int py_meta(const char *s, size_t n)
{
	while (n && s[n - 1] == '/')
		n--;
	return (n > 10 && !memcmp(s + n - 10, ".dist-info", 10)) || (n > 9 && !memcmp(s + n - 9, ".egg-info", 9));
}

/* Python metadata named by a basename whose directory index is dir: noted by their order */
struct named {
	uint32_t dir, boff;
	size_t bn;
};
#define MAX_NAMED 256 /* per header; a package holds one or two distributions (past it: reported as found) */

static int named_cmp(const void *a, const void *b)
{
	const struct named *x = a, *y = b;
	return x->dir < y->dir ? -1 : x->dir > y->dir;
}

/* Notes the Python metadata a header's file list holds: a directory ending in .dist-info or
 * .egg-info (its files are the package's), and a file or directory so named. Each array is
 * walked once. A damaged list stops the noting there and nothing else: it names no package,
 * and the package itself is read as before file lists were (what it installed is then
 * reported as found). */
static void note_python_files(struct inventory *inv, const unsigned char *data, uint32_t dl, const struct strs *old,
			      const struct strs *base, const struct strs *dirs, const struct strs *idx)
{
	size_t n;
	const char *s;
	uint32_t at = old->off;
	for (uint32_t i = 0; old->set && i < old->count; i++) {
		if (!(s = next_str(data, dl, &at, &n)))
			return;
		if (py_meta(s, n))
			lang_note_owned(inv, s, n);
	}
	if (!base->set || !dirs->set || !idx->set || idx->count != base->count ||
	    (uint64_t)idx->off + 4ull * idx->count > dl)
		return;
	struct named named[MAX_NAMED];
	size_t nn = 0;
	at = base->off;
	for (uint32_t i = 0; i < base->count; i++) {
		if (!(s = next_str(data, dl, &at, &n)))
			return;
		if (py_meta(s, n) && nn < MAX_NAMED)
			named[nn++] = (struct named){be32(data + idx->off + 4 * i), (uint32_t)(s - (const char *)data), n};
	}
	if (nn > 1)
		qsort(named, nn, sizeof(*named), named_cmp);
	size_t k = 0;
	at = dirs->off;
	for (uint32_t i = 0; i < dirs->count; i++) {
		if (!(s = next_str(data, dl, &at, &n)))
			return;
		if (py_meta(s, n))
			lang_note_owned(inv, s, n);
		for (; k < nn && named[k].dir <= i; k++) {
			if (named[k].dir < i || n + named[k].bn > DD_MAX_PATH_BYTES)
				continue;
			char full[DD_MAX_PATH_BYTES + 1];
			memcpy(full, s, n);
			memcpy(full + n, data + named[k].boff, named[k].bn);
			lang_note_owned(inv, full, n + named[k].bn);
		}
	}
}

int rpm_header_parse(struct inventory *inv, const char *path, const unsigned char *blob, size_t len,
		     const char **why)
{
	if (len < 8)
		return corrupt(inv, why, path, "rpm header shorter than 8 bytes");
	uint32_t il = be32(blob), dl = be32(blob + 4);
	if (il == 0 || il > MAX_INDEX_ENTRIES || dl > MAX_HEADER_DATA)
		return corrupt(inv, why, path, "rpm header counts out of range");
	size_t need = 8 + (size_t)il * 16 + dl;
	if (need > len)
		return corrupt(inv, why, path, "rpm header longer than its blob");
	const unsigned char *index = blob + 8, *data = index + (size_t)il * 16;
	const char *str[TAG_MODULARITYLABEL - TAG_NAME + 1] = {0};
	int has_epoch = 0;
	long epoch = 0;
	struct strs old = {0}, base = {0}, dirs = {0}, idx = {0};
	for (uint32_t i = 0; i < il; i++) {
		const unsigned char *e = index + (size_t)i * 16;
		uint32_t tag = be32(e), type = be32(e + 4), off = be32(e + 8), count = be32(e + 12);
		if (tag < TAG_NAME || tag > TAG_MODULARITYLABEL)
			continue;
		if (off >= dl)
			return corrupt(inv, why, path, "rpm header entry points outside its data");
		struct strs *list = tag == TAG_OLDFILENAMES ? &old : tag == TAG_BASENAMES ? &base
				  : tag == TAG_DIRNAMES	      ? &dirs
				  : tag == TAG_DIRINDEXES     ? &idx
							      : NULL;
		if (list) { /* of another type: damaged, and not read */
			if (type == (tag == TAG_DIRINDEXES ? TYPE_INT32 : TYPE_STRING_ARRAY))
				*list = (struct strs){off, count, 1};
			continue;
		}
		if (tag == TAG_EPOCH) {
			if (type != TYPE_INT32 || count < 1 || off > dl - 4)
				return corrupt(inv, why, path, "rpm EPOCH is not an int32");
			has_epoch = 1;
			epoch = (long)be32(data + off);
			continue;
		}
		if (type != TYPE_STRING && type != TYPE_STRING_ARRAY && type != TYPE_I18NSTRING)
			continue;
		const unsigned char *nul = memchr(data + off, 0, dl - off);
		if (!nul)
			return corrupt(inv, why, path, "rpm header string is not terminated");
		str[tag - TAG_NAME] = arena_strndup(inv->arena, (const char *)data + off, (size_t)(nul - (data + off)));
	}
	const char *name = str[TAG_NAME - TAG_NAME];
	if (!name || !*name)
		return 0; /* not a package header */
	note_python_files(inv, data, dl, &old, &base, &dirs, &idx);
	struct package *p = inventory_add(inv);
	p->type = PKG_RPM;
	p->name = name;
	p->version = str[TAG_VERSION - TAG_NAME] ? str[TAG_VERSION - TAG_NAME] : "";
	p->release = str[TAG_RELEASE - TAG_NAME] ? str[TAG_RELEASE - TAG_NAME] : "";
	p->arch = str[TAG_ARCH - TAG_NAME] ? str[TAG_ARCH - TAG_NAME] : "";
	p->has_epoch = has_epoch;
	p->epoch = epoch;
	p->sourcerpm = str[TAG_SOURCERPM - TAG_NAME] ? str[TAG_SOURCERPM - TAG_NAME] : "";
	p->source_name = *p->sourcerpm ? source_name_of(inv->arena, p->sourcerpm) : p->name;
	p->source_version = p->version;
	p->vendor = str[TAG_VENDOR - TAG_NAME] ? str[TAG_VENDOR - TAG_NAME] : "";
	p->license = str[TAG_LICENSE - TAG_NAME] ? str[TAG_LICENSE - TAG_NAME] : "";
	p->modularity_label = str[TAG_MODULARITYLABEL - TAG_NAME] ? str[TAG_MODULARITYLABEL - TAG_NAME] : "";
	p->status = "";
	p->db_path = path;
	return 0;
}

int rpm_sqlite_parse(struct inventory *inv, const char *path, const char *data, size_t len, const char **why)
{
	if (len < 100 || memcmp(data, "SQLite format 3", 16))
		return corrupt(inv, why, path, "not an SQLite database");
	sqlite3 *db = NULL;
	if (sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		return DD_E_NOMEM;
	}
	sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	/* rpm keeps its database in WAL mode (header bytes 18 and 19 = 2), which an in-memory
	 * database cannot open: read a copy marked as a rollback-journal database instead. The
	 * copy stays ours (no FREEONCLOSE); READONLY so SQLite never writes to it. */
	int rc = 0;
	unsigned char *copy = arena_alloc(inv->arena, len);
	memcpy(copy, data, len);
	if (copy[18] == 2 && copy[19] == 2)
		copy[18] = copy[19] = 1;
	if (sqlite3_deserialize(db, "main", copy, (sqlite3_int64)len, (sqlite3_int64)len,
				SQLITE_DESERIALIZE_READONLY) != SQLITE_OK) {
		rc = corrupt(inv, why, path, "SQLite cannot open it");
		goto out;
	}
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db, "SELECT blob FROM Packages", -1, &st, NULL) != SQLITE_OK) {
		rc = corrupt(inv, why, path, arena_printf(inv->arena, "no Packages table (%s)", sqlite3_errmsg(db)));
		goto out;
	}
	int r;
	while ((r = sqlite3_step(st)) == SQLITE_ROW && !rc)
		rc = rpm_header_parse(inv, path, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0), why);
	if (!rc && r != SQLITE_DONE)
		rc = corrupt(inv, why, path, arena_printf(inv->arena, "SQLite: %s", sqlite3_errmsg(db)));
	sqlite3_finalize(st);
out:
	sqlite3_close(db);
	return rc;
}

/* ---- Berkeley DB hash ---- */

#define BDB_HASH_MAGIC 0x061561
#define BDB_PAGE_HEADER 26
enum { P_HASH_UNSORTED = 2, P_OVERFLOW = 7, P_HASHMETA = 8, P_HASH = 13, H_OFFPAGE = 3 };

struct bdb {
	const unsigned char *data;
	size_t len;
	uint32_t pagesize, npages;
	int swapped;
	unsigned char *used; /* a bit per page: already read as part of an overflow chain */
};

static uint32_t bdb32(const struct bdb *b, const unsigned char *p) { return b->swapped ? be32(p) : le32(p); }
static uint16_t bdb16(const struct bdb *b, const unsigned char *p)
{
	return b->swapped ? (uint16_t)(p[0] << 8 | p[1]) : le16(p);
}

/* Concatenates an overflow chain into one arena buffer of at most tlen bytes. Every page is
 * read at most once in the whole file (a chain that loops, or two items that share pages, is
 * damage), so the work and the memory stay within the file's size whatever the items say. */
static int bdb_chain(struct inventory *inv, const char *path, struct bdb *b, uint32_t pgno, uint32_t tlen,
		     const char **why)
{
	if (tlen > MAX_HEADER_DATA)
		return corrupt(inv, why, path, "Berkeley DB item larger than an rpm header can be");
	if (tlen > (uint64_t)b->npages * (b->pagesize - BDB_PAGE_HEADER))
		return corrupt(inv, why, path, "Berkeley DB item larger than the file");
	unsigned char *out = arena_alloc_uninit(inv->arena, tlen ? tlen : 1);
	size_t got = 0;
	while (pgno) {
		if (pgno >= b->npages)
			return corrupt(inv, why, path, "Berkeley DB overflow chain leaves the file");
		if (b->used[pgno / 8] & (1u << (pgno % 8)))
			return corrupt(inv, why, path, "Berkeley DB overflow page read twice (a chain that loops or is shared)");
		b->used[pgno / 8] |= (unsigned char)(1u << (pgno % 8));
		const unsigned char *pg = b->data + (size_t)pgno * b->pagesize;
		if (pg[25] != P_OVERFLOW)
			return corrupt(inv, why, path, "Berkeley DB overflow chain reaches a non-overflow page");
		size_t used = bdb16(b, pg + 22); /* on overflow pages: bytes used */
		if (used > b->pagesize - BDB_PAGE_HEADER || used > tlen - got)
			return corrupt(inv, why, path, "Berkeley DB overflow page overruns its item");
		memcpy(out + got, pg + BDB_PAGE_HEADER, used);
		got += used;
		pgno = bdb32(b, pg + 16);
	}
	if (got != tlen)
		return corrupt(inv, why, path, "Berkeley DB item shorter than announced");
	return rpm_header_parse(inv, path, out, got, why);
}

int rpm_bdb_parse(struct inventory *inv, const char *path, const char *data, size_t len, const char **why)
{
	struct bdb b = {.data = (const unsigned char *)data, .len = len};
	if (len < 512)
		return corrupt(inv, why, path, "shorter than a Berkeley DB metadata page");
	if (le32(b.data + 12) == BDB_HASH_MAGIC)
		b.swapped = 0;
	else if (be32(b.data + 12) == BDB_HASH_MAGIC)
		b.swapped = 1;
	else
		return corrupt(inv, why, path, "not a Berkeley DB hash database");
	b.pagesize = bdb32(&b, b.data + 20);
	if (b.pagesize < 512 || b.pagesize > 65536 || (b.pagesize & (b.pagesize - 1)))
		return corrupt(inv, why, path, "Berkeley DB page size is not a power of two from 512 to 65536");
	if (b.data[24] != 0)
		return corrupt(inv, why, path, "Berkeley DB is encrypted");
	if (b.data[25] != P_HASHMETA)
		return corrupt(inv, why, path, "Berkeley DB first page is not hash metadata");
	uint32_t last = bdb32(&b, b.data + 32);
	if ((uint64_t)last + 1 > len / b.pagesize)
		return corrupt(inv, why, path, "Berkeley DB is shorter than its last page number says");
	b.npages = last + 1;
	b.used = arena_alloc(inv->arena, b.npages / 8 + 1);
	for (uint32_t pgno = 1; pgno < b.npages; pgno++) {
		const unsigned char *pg = b.data + (size_t)pgno * b.pagesize;
		if (pg[25] != P_HASH && pg[25] != P_HASH_UNSORTED)
			continue;
		uint16_t entries = bdb16(&b, pg + 20);
		if ((size_t)BDB_PAGE_HEADER + (size_t)entries * 2 > b.pagesize)
			return corrupt(inv, why, path, "Berkeley DB hash page index overruns the page");
		for (uint16_t i = 1; i < entries; i += 2) { /* key, value, key, value... */
			uint16_t off = bdb16(&b, pg + BDB_PAGE_HEADER + (size_t)i * 2);
			if (off >= b.pagesize)
				return corrupt(inv, why, path, "Berkeley DB hash item outside its page");
			if (pg[off] != H_OFFPAGE)
				continue; /* inline items are index records, not packages */
			if ((size_t)off + 12 > b.pagesize)
				return corrupt(inv, why, path, "Berkeley DB off-page item overruns its page");
			int rc = bdb_chain(inv, path, &b, bdb32(&b, pg + off + 4), bdb32(&b, pg + off + 8), why);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* ---- NDB ---- */

#define NDB_SLOT_PAGE 4096
#define NDB_BLOB_BLOCK 16

int rpm_ndb_parse(struct inventory *inv, const char *path, const char *data, size_t len, const char **why)
{
	const unsigned char *d = (const unsigned char *)data;
	if (len < 32 || memcmp(d, "RpmP", 4))
		return corrupt(inv, why, path, "not an rpm NDB database");
	if (le32(d + 4) != 0)
		return corrupt(inv, why, path, "unsupported NDB version");
	uint32_t npages = le32(d + 12);
	if (npages == 0 || npages > 2048 || (size_t)npages * NDB_SLOT_PAGE > len)
		return corrupt(inv, why, path, "NDB slot page count out of range");
	size_t nslots = (size_t)npages * (NDB_SLOT_PAGE / 16);
	/* a bit per 16-byte block: blobs may not overlap, so that the headers parsed add up to at
	 * most the file's size whatever the slots say */
	unsigned char *used = arena_alloc(inv->arena, len / NDB_BLOB_BLOCK / 8 + 1);
	for (size_t i = 2; i < nslots; i++) { /* slots 0 and 1 are the file header */
		const unsigned char *s = d + i * 16;
		if (memcmp(s, "Slot", 4))
			return corrupt(inv, why, path, "NDB slot without its magic");
		uint32_t pkg = le32(s + 4), blk = le32(s + 8);
		if (pkg == 0)
			continue;
		size_t off = (size_t)blk * NDB_BLOB_BLOCK;
		if (off > len || len - off < 16)
			return corrupt(inv, why, path, "NDB slot points outside the file");
		const unsigned char *h = d + off;
		if (memcmp(h, "BlbS", 4) || le32(h + 4) != pkg)
			return corrupt(inv, why, path, "NDB blob header does not match its slot");
		uint32_t blen = le32(h + 12);
		if (blen > len - off - 16)
			return corrupt(inv, why, path, "NDB blob longer than the file");
		for (size_t blk_i = off / NDB_BLOB_BLOCK; blk_i < (off + 16 + blen + NDB_BLOB_BLOCK - 1) / NDB_BLOB_BLOCK;
		     blk_i++) {
			if (used[blk_i / 8] & (1u << (blk_i % 8)))
				return corrupt(inv, why, path, "NDB blobs overlap (two slots name the same bytes)");
			used[blk_i / 8] |= (unsigned char)(1u << (blk_i % 8));
		}
		int rc = rpm_header_parse(inv, path, h + 16, blen, why);
		if (rc)
			return rc;
	}
	return 0;
}
