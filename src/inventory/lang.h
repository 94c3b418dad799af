/* lang.h: application packages, the ones language package managers and toolchains leave in an
 * image: Python distributions (*.dist-info/METADATA, *.egg-info), npm packages
 * (node_modules/.../package.json; package-lock.json where no node_modules tree is), Rust crates
 * (Cargo.lock), Go modules and the standard library (the build information the Go linker embeds
 * in every binary) and the Node.js runtime (the release URL its official builds carry).
 *
 * Which files matter is decided from the path alone (lang_file_kind) or, for executables, from
 * their bytes as they stream past (struct lang_probe), so a layer is still read once and keeps
 * only what the parsers need. The parsers read one file's bytes, as the OS database parsers do;
 * a file that does not parse adds nothing (a node_modules tree holds test fixtures named
 * package.json), and it is counted. */
#ifndef DD_LANG_H
#define DD_LANG_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "common/limits.h"

struct arena;
struct inventory;

enum lang_file {
	LANG_NONE,
	LANG_PY_METADATA, /* site-/dist-packages: X.dist-info/METADATA, X.egg-info/PKG-INFO, a file X.egg-info */
	LANG_NPM_PACKAGE, /* node_modules/[@scope/]name/package.json */
	LANG_NPM_LOCK,    /* package-lock.json, outside node_modules */
	LANG_CARGO_LOCK,  /* Cargo.lock */
	LANG_DPKG_LIST,   /* var/lib/dpkg/info/X.list: the Python metadata dpkg installed (filtered) */
};

/* The kind of file at a normalised path ("usr/lib/...", no leading '/'). */
enum lang_file lang_file_kind(const char *path);
/* The most bytes a file of that kind may have (limits.h). */
uint64_t lang_file_limit(enum lang_file k);

struct archive;
/* The next data block of ar's current entry, as libarchive gives it: its length (in *buf), 0
 * at the entry's end, -1 on an error. The one way the Java archive reader and its callers pull
 * an entry's bytes. */
ssize_t lang_archive_block(struct archive *ar, const void **buf);

/* 1 for a Java archive's name (X.jar, X.war, X.ear): read as it streams past (lang_jar_read),
 * never kept. */
int lang_is_java_archive(const char *path);

/* A Java archive's bytes, pulled: the next block in *buf, its length; 0 at the end, -1 on an
 * error (the caller's why says which). */
typedef ssize_t (*lang_pull_fn)(void *ctx, const void **buf);

/* Reads a Java archive from its bytes, pulled from fn, with libarchive's streaming zip reader:
 * the Maven coordinates of each pom.properties (META-INF/maven/G/A/pom.properties), else the
 * manifest's (Implementation-Vendor-Id or Bundle-SymbolicName's group, Implementation-Title,
 * Implementation-Version), else the file name's (name-1.2.3.jar); and the same of the archives
 * nested in it. What it keeps (arena, *out, *len) starts with LANG_JAR_MAGIC and is what
 * lang_parse reads; NULL when the archive names nothing. Reads at most what it needs: the
 * caller drains the rest. Entries are counted up to DD_MAX_JAR_ENTRIES and metadata entries
 * read up to DD_MAX_JAR_META_READS over the archive and all it holds. */
#define LANG_JAR_MAGIC "drydock-java-archive 1\n"
/* 0, or DD_E_SCAN_LIMIT with *why (arena) for a decompression bomb: the entries' bytes are
 * counted, at every depth, against the outermost archive's as a layer's are (DD_MAX_LAYER_RATIO). */
int lang_jar_read(struct arena *a, const char *path, lang_pull_fn fn, void *ctx, const char **out, size_t *len,
		  const char **why);

/* What the probe keeps of an ELF executable starts with one of these: the Go build
 * information's own magic, the Node.js release URL, or (ours) before a Rust binary's
 * dependency list as cargo auditable embeds it (JSON, inflated from the .dep-v0 section). */
#define LANG_GO_MAGIC "\xff Go buildinf:"
#define LANG_NODE_MAGIC "https://nodejs.org/download/release/v"
#define LANG_CARGO_MAGIC "drydock-cargo-auditable 1\n"
#define LANG_ELF_HEAD 4096

/* Looks through one executable's bytes as they stream past: the Go build information (its
 * magic is 16-byte aligned, so 1 position in 16 is compared) or, in a file named node, the
 * Node.js release URL; and keeps the ELF file's tail (what no segment loads) when it is small,
 * to find cargo auditable's .dep-v0 section by the section headers at its end. At most
 * DD_MAX_GO_BUILDINFO_BYTES are kept of the one, DD_MAX_ELF_TAIL_BYTES of the other. */
/* A few bytes at a known file offset, taken as they stream past. */
struct lang_grab {
	uint64_t off;
	unsigned n, got;
	unsigned char b[24];
};
#define LANG_GO_VERSIONS 32 /* places of "go1." remembered in an old Go binary */

/* Which packages a Go binary (Go 1.16 on) holds code of, from its function name table, read as
 * the file's bytes stream past (lang_gofuncs.c). */
#define LANG_GO_NAME_PREFIX 1024 /* bytes of a function's name looked at: the package comes first */
#define LANG_GO_MAX_PACKAGE 512  /* a package path longer than this is no package's */
enum lang_gofuncs_state {
	LANG_GOFUNCS_LOOKING,  /* for the table's header */
	LANG_GOFUNCS_HEADER,   /* taking a candidate header's bytes */
	LANG_GOFUNCS_NAMES,    /* reading the function names */
	LANG_GOFUNCS_READ,     /* read: looking on for a second table */
	LANG_GOFUNCS_UNUSABLE, /* two tables, or past a limit: says nothing */
};
struct lang_gofuncs {
	enum lang_gofuncs_state state, save_state; /* save_state: before a candidate header */
	int big, ptr;                              /* the binary's byte order and pointer size */
	int found;                                 /* a table's header was sound */
	unsigned char carry[7];                    /* the last bytes seen: a header across blocks */
	size_t ncarry;
	unsigned char hdr[8 + 8 * 8];
	unsigned hdr_n, hdr_got;
	uint64_t hdr_off;
	uint64_t lo, hi, next; /* the names' file range, and the next offset to read */
	char name[LANG_GO_NAME_PREFIX];
	size_t nname;
	char *pool; /* malloc: the packages, each NUL-ended */
	size_t pool_len, pool_cap;
	uint32_t *set; /* malloc: a hash set of pool offset + 1 */
	size_t set_cap, npkgs;
	size_t last_off, last_len; /* the package of the last name */
};
void lang_gofuncs_begin(struct lang_gofuncs *g, int big, int ptr);
/* The file's next n bytes, from file offset base, in order. */
void lang_gofuncs_feed(struct lang_gofuncs *g, uint64_t base, const unsigned char *d, size_t n);
/* The packages, sorted, each ended by a newline (arena), when one table was read whole and no
 * other seen; else NULL. The caller has fed the whole file. */
const char *lang_gofuncs_result(struct lang_gofuncs *g, struct arena *a, size_t *len);
void lang_gofuncs_free(struct lang_gofuncs *g);
/* What the probe hands on of a Go binary ends with this and that list, when it was read. */
#define LANG_GO_PACKAGES_MAGIC "\ndrydock-go-packages 1\n"

struct lang_probe {
	int state;    /* 0 before the first bytes, 1 looking, 2 keeping, 3 done, 4 old Go: see below */
	int node;     /* looking for the Node.js URL (else the Go magic) */
	uint64_t off; /* bytes of the file seen */
	unsigned char carry[64];
	size_t ncarry;
	uint64_t carry_off; /* file offset of carry[0] */
	char *out;
	size_t len, cap, want; /* want: bytes to keep in all, once known */
	unsigned char head[LANG_ELF_HEAD]; /* the ELF header and program headers */
	size_t nhead;
	int tail_state;                /* 0 undecided, 1 keeping, 2 not */
	uint64_t tail_start, tail_end; /* file offsets: where no segment loads, to the headers' end */
	unsigned char *tail;           /* malloc: freed by lang_probe_result or lang_probe_abandon */
	uint64_t shoff;                /* the section headers, from the ELF header */
	unsigned shnum, shentsize, shstrndx;
	int elf64, big_endian;
	/* Go before 1.18 (lang.c, "old Go"): its build information holds pointers to the Go version
	 * and module list, which lie before it in the file. In a file with Go's build ID note, the
	 * places of "go1." and the module list between its sentinels are kept as they pass; the
	 * version's string header, after the build information, says which "go1." is the version
	 * and how long (state 4 waits for it). */
	int go_note;
	struct lang_grab go_ver[LANG_GO_VERSIONS];
	int ngo_ver;
	struct lang_grab go_hdr; /* the version's (pointer, length) */
	struct lang_grab go_mhdr; /* the module list's (pointer, length) */
	unsigned char scarry[15]; /* the last bytes seen, for a pattern across blocks */
	size_t nscarry;
	int mod_state;      /* 0 looking for the module list's first sentinel, 1 keeping, 2 kept */
	uint64_t mod_off;   /* where it starts */
	char *mod;          /* malloc: freed by lang_probe_result or lang_probe_abandon */
	size_t mod_len, mod_cap;
	const char *go_old_version; /* arena, once resolved */
	int mod_named;              /* the module list kept is the one the pointer names */
	uint64_t go_at;             /* where the build information starts: only what lies before it counts */
	struct lang_gofuncs funcs;  /* in a file with Go's build ID note */
};
/* Starts a probe for the file at path (its name decides what is looked for). */
void lang_probe_begin(struct lang_probe *p, const char *path);
/* The file's next n bytes (in order from offset 0): 1 while more bytes could matter, 0 when
 * done (nothing there, or all kept). */
int lang_probe_feed(struct lang_probe *p, struct arena *a, const void *data, size_t n);
/* What was kept (arena memory), or NULL: Go's or Node's bytes, else the Rust dependency list
 * inflated from the tail. Frees what the probe held. */
const char *lang_probe_result(struct lang_probe *p, struct arena *a, size_t *len);
/* Frees what the probe held, for a file not read to its end. */
void lang_probe_abandon(struct lang_probe *p);

/* Keeps, of a dpkg .list file's lines, those naming Python metadata (the lines end in
 * ".dist-info" or ".egg-info"): the rest of the file is of no use and can be large. Filters
 * (data, len) in place; returns the new length. */
size_t lang_dpkg_list_filter(char *data, size_t len);
/* The same over a stream: feed the file's bytes in order, then take what was kept (arena). */
struct lang_list_filter {
	char line[DD_MAX_PATH_BYTES + 2];
	size_t n;
	int overlong; /* the current line is longer than a path: dropped */
	char *out;
	size_t len, cap;
};
void lang_list_filter_feed(struct lang_list_filter *f, struct arena *a, const void *data, size_t n);
const char *lang_list_filter_end(struct lang_list_filter *f, struct arena *a, size_t *len);

/* Adds the packages one file holds: a file of a kind lang_file_kind names, or (derived) what a
 * probe or the Java archive reader kept (told apart by its first bytes: only then). Python
 * distributions that the OS package manager installed (lang_note_owned) are left to it. The
 * number added; 0 for a file that says nothing usable. */
size_t lang_parse(struct inventory *inv, const char *path, const char *data, size_t len, int derived);

/* Notes that the OS package manager installed the Python metadata at path (a directory or file
 * ending in .dist-info or .egg-info, from the root). */
void lang_note_owned(struct inventory *inv, const char *path, size_t n);


#endif
