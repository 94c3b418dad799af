/* format.h: the on-disk layout of the compiled vulnerability database (internal to vulndb/).
 *
 * One file, little-endian, every reference a 32-bit offset or index, so the file is used in
 * place through mmap: a lookup hashes (ecosystem, package name) into `slots`, finds the key,
 * and reads that key's entries, ranges and events without parsing anything. Strings live
 * NUL-terminated in one pool whose offset 0 is the empty string (meaning "absent").
 *
 *   header | strings | feeds | ecosystems | vulns | lists | keys | slots | entries | ranges | events | kev
 *
 * The header's CRC-32 covers every byte after the header, so a torn or damaged file is
 * refused at open. Readers check every offset against its section before using it. */
#ifndef DD_VULNDB_FORMAT_H
#define DD_VULNDB_FORMAT_H
#include <stdint.h>

#define VDB_MAGIC "DDVULNDB"
#define VDB_FORMAT 4 /* 3: the known-exploited catalogue (VDB_KEV); 4: entries name Go packages */

enum vdb_section {
	VDB_STRINGS, /* bytes */
	VDB_FEEDS,   /* struct vdb_feed */
	VDB_ECOS,    /* struct vdb_eco */
	VDB_VULNS,   /* struct vdb_vuln */
	VDB_LISTS,   /* uint32_t string offsets (aliases, references) */
	VDB_KEYS,    /* struct vdb_key, sorted by (ecosystem, name) */
	VDB_SLOTS,   /* uint32_t key index + 1, 0 empty; a power of two, linear probing */
	VDB_ENTRIES, /* struct vdb_entry, grouped by key */
	VDB_RANGES,  /* struct vdb_range */
	VDB_EVENTS,  /* struct vdb_event */
	VDB_KEV,     /* struct vdb_kev, sorted by cve (strcmp), each cve once */
	VDB__SECTIONS
};

struct vdb_section_ref {
	uint32_t off;   /* from the start of the file */
	uint32_t count; /* items (bytes for VDB_STRINGS) */
};

struct vdb_header {
	char magic[8];
	uint32_t format;
	uint32_t header_size;
	uint64_t generation; /* random, new for every build */
	int64_t built_at;    /* unix seconds */
	uint64_t file_size;
	uint32_t crc32; /* of bytes [header_size, file_size) */
	uint32_t reserved;
	struct vdb_section_ref sections[VDB__SECTIONS];
};

struct vdb_feed {
	uint32_t name, kind, origin; /* strings: "debian-osv"; "record-dates" or "file-time" (where
				      * `snapshot` comes from); the directory or file read */
	uint32_t records, entries, skipped;
	int64_t snapshot; /* newest `modified` seen in the feed, or the file's time; unix seconds */
};

struct vdb_eco {
	uint32_t name; /* "Debian:12" */
	uint32_t keys, entries;
};

enum vdb_severity { VDB_SEV_UNKNOWN, VDB_SEV_NEGLIGIBLE, VDB_SEV_LOW, VDB_SEV_MEDIUM, VDB_SEV_HIGH, VDB_SEV_CRITICAL };

struct vdb_vuln {
	uint32_t id, summary, details, published, modified, cvss_vector;
	uint32_t aliases, naliases; /* into VDB_LISTS */
	uint32_t refs, nrefs;
	uint16_t cvss_score10; /* base score x 10, from the vector; 0xffff when none */
	uint8_t cvss_level;    /* enum vdb_severity from the score */
	uint8_t feed;
};

struct vdb_key {
	uint32_t ecosystem, name;
	uint32_t first_entry, nentries;
	uint32_t fixes, nfixes; /* VDB_LISTS: the fixed versions of the key's VDB_SIMPLE entries,
				 * distinct, in ascending order of the ecosystem's version scheme */
};

enum vdb_entry_flags {
	VDB_NOT_AFFECTED = 1, /* the feed says this package never had it ("0", not-affected) */
	VDB_UNFIXED = 2,      /* affected with no fixed version anywhere in the entry */
	VDB_SIMPLE = 4,       /* one range "introduced 0" [, "fixed X"] and nothing else; X is the
			       * key's fixes[fix - 1] (fix 0: no fix), so a scan ranks the installed
			       * version among the key's fixes once and then compares integers */
	/* bits 3-5: the distribution tracker's status of the package (enum vdb_tracker_status,
	 * shifted), 0 when the feed gives none: a file from before them reads as none */
	VDB_TRACKER_SHIFT = 3,
	VDB_TRACKER_MASK = 0x38,
};

/* The Ubuntu CVE tracker's statuses that make an entry. */
enum vdb_tracker_status { VDB_TRACK_NONE, VDB_TRACK_NEEDED, VDB_TRACK_NEEDS_TRIAGE, VDB_TRACK_DEFERRED,
			  VDB_TRACK_PENDING, VDB_TRACK_RELEASED, VDB_TRACK_NOT_AFFECTED };

struct vdb_entry {
	uint32_t vuln;
	uint32_t severity; /* string: the vendor's rating as given ("low", "Important", ...) */
	uint32_t first_range;
	uint32_t versions, nversions; /* VDB_LISTS: explicit versions not already in a range */
	uint16_t nranges;
	uint8_t flags;
	uint8_t level; /* enum vdb_severity from `severity`; UNKNOWN when the vendor gave none */
	uint32_t fix;  /* VDB_SIMPLE: 1 + the fix's index in the key's fixes; 0 when unfixed;
			* VDB_FIX_UNREADABLE when the fix is no valid version: the entry never applies */
	uint32_t imports, nimports; /* VDB_LISTS: Go, the packages the vulnerable code is in (none:
				     * the feed does not say) */
};
#define VDB_FIX_UNREADABLE 0xffffffffu

struct vdb_range {
	uint32_t first_event;
	uint16_t nevents;
	uint8_t type; /* enum osv_range_type */
	uint8_t pad;
};

/* A vulnerability known to be exploited (CISA's KEV catalogue): not a feed of affected
 * packages, a note on CVEs that findings carry. Strings. */
struct vdb_kev {
	uint32_t cve, date_added, due_date, action, name;
	uint32_t ransomware; /* 1: used in ransomware campaigns ("Known"), 0 unknown */
};

struct vdb_event {
	uint32_t version; /* string */
	uint32_t kind;    /* enum osv_event_kind */
};

/* The hash of a lookup key: FNV-1a 64 over "ecosystem\0name". */
static inline uint64_t vdb_hash(const char *eco, const char *name)
{
	uint64_t h = 1469598103934665603ULL;
	for (const unsigned char *p = (const unsigned char *)eco; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	h = (h ^ 0) * 1099511628211ULL;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return h;
}

#endif
