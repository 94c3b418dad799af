/* inventory.h: what is installed in an image or a root filesystem: the OS and the packages,
 * with the fields vulnerability matching needs. The parsers of package databases and of
 * os-release live in dpkg.c, apk.c, rpm.c and os.c; each reads one file's bytes (pointer,
 * length), never the filesystem, so the same code serves directories, tar layers and fuzzers.
 * All strings are allocated from the inventory's arena. */
#ifndef DD_INVENTORY_H
#define DD_INVENTORY_H
#include <stddef.h>
#include <stdint.h>
#include "common/strmap.h"

struct arena;
struct package;

/* OS packages, then application packages (lang.c), each in its language's ecosystem. */
enum pkg_type { PKG_DPKG, PKG_APK, PKG_RPM, PKG_PYPI, PKG_NPM, PKG_GO, PKG_CARGO, PKG_NODEJS, PKG_MAVEN };
#define PKG_TYPE_MAX PKG_MAVEN

/* The OSV ecosystem an application package is matched in ("PyPI", "npm", "Go", "crates.io",
 * "Node.js", "Maven"), or NULL for an OS package. */
const char *pkg_lang_ecosystem(enum pkg_type t);
/* The files an application package was read from, one per element (its db_path lists them
 * comma-separated when one version was found in several: inventory/scan.c), or the database
 * file of an OS package: an arena array, *n elements. */
const char **pkg_paths(struct arena *a, const struct package *p, size_t *n);
/* A short name of the type: "dpkg", "apk", "rpm", "python", "npm", "go", "cargo", "nodejs",
 * "maven". */
const char *pkg_type_name(enum pkg_type t);

struct package {
	enum pkg_type type;
	const char *name;
	const char *version;        /* dpkg: Version verbatim; apk: V; rpm: VERSION */
	const char *arch;
	const char *source_name;    /* dpkg: Source name or the binary's; apk: origin; rpm: from SOURCERPM */
	const char *source_version; /* dpkg: "(version)" of Source or Version */
	const char *status;         /* dpkg: the Status field, "" if absent */
	const char *license;        /* apk: L */
	/* rpm */
	int has_epoch;
	long epoch;
	const char *release;
	const char *sourcerpm;
	const char *modularity_label;
	const char *vendor;
	const char *db_path; /* the database file it came from, relative to the root; for an
			      * application package the file that names it (METADATA, package.json,
			      * the Go binary...) */
	const char *layer;   /* digest of the layer that introduced it (images only) */
	const char *go_packages; /* Go modules: those of its packages whose code the binary holds,
				  * each ended by a newline ("": none); NULL when not known */
};

enum os_kind { OS_UNKNOWN, OS_KNOWN, OS_DISTROLESS, OS_SCRATCH };

struct os_info {
	enum os_kind kind;
	const char *id;         /* os-release ID, e.g. "debian", "alpine", "rocky" */
	const char *version_id; /* e.g. "12", "3.18.0" */
	const char *codename;   /* VERSION_CODENAME, e.g. "bookworm" */
	const char *pretty_name;
	const char *id_like;
};

struct inventory {
	struct arena *arena;
	struct os_info os;
	struct package *pkgs;
	size_t n, cap;
	struct strmap owned;  /* Python metadata paths the OS package manager installed (lang.h) */
	size_t lang_skipped;  /* application metadata files that said nothing usable */
	int lang_over;        /* a package over DD_MAX_LANG_PACKAGES was met */
};

void inventory_init(struct inventory *inv, struct arena *a);
/* Returns a zeroed package appended to inv. */
struct package *inventory_add(struct inventory *inv);
/* Sorts packages by type, name, version, arch, path. */
void inventory_sort(struct inventory *inv);

/* Parsers: 0, or DD_E_PKGDB_CORRUPT with *why naming the line or byte (arena string).
 * `path` is the file's path in the image, recorded on each package. */
int dpkg_parse(struct inventory *inv, const char *path, const char *data, size_t len, int status_d,
	       const char **why);
int apk_parse(struct inventory *inv, const char *path, const char *data, size_t len, const char **why);

/* rpm: one header blob; the three database formats holding them. */
int rpm_header_parse(struct inventory *inv, const char *path, const unsigned char *blob, size_t len,
		     const char **why);
int rpm_sqlite_parse(struct inventory *inv, const char *path, const char *data, size_t len, const char **why);
int rpm_bdb_parse(struct inventory *inv, const char *path, const char *data, size_t len, const char **why);
int rpm_ndb_parse(struct inventory *inv, const char *path, const char *data, size_t len, const char **why);

/* os-release: fills os from KEY=value lines; 0 or DD_E_PKGDB_CORRUPT. */
int os_release_parse(struct arena *a, const char *data, size_t len, struct os_info *os, const char **why);

/* The inventory as compact text (serial.c), owned (free()), NULL on out-of-memory; and back
 * into inv (arena strings). 0 or DD_E_PKGDB_CORRUPT. */
char *inventory_serialize(const struct inventory *inv);
int inventory_deserialize(struct inventory *inv, const char *text, size_t len, const char **why);

/* Reads the inventory of a root filesystem directory. */
int inventory_from_dir(struct inventory *inv, const char *root, const char **why);

#endif
