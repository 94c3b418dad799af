/* fuzz_vulndb.c: opening a database file and walking it. The harness repairs the header's
 * CRC first (when the input is long enough to hold a header), so mutations reach the
 * structure behind it: whatever the sections say, opening either refuses the file or every
 * lookup, list and entry read stays inside the mapping (ASan checks), matching an entry
 * never fails on the feed's side, and a whole scan of a small Debian 12 inventory (the ranked
 * fixes of simple entries, the general range walk, advisories folded into CVEs, the fix
 * plan) reads only what the accessors check. */
#include "common/dd.h"
#include "common/arena.h"
#include "inventory/inventory.h"
#include "scan/findings.h"
#include "scan/match.h"
#include "vulndb/vulndb.h"
#include "fuzz.h"
#include <zlib.h>

int fuzz_vulndb(const uint8_t *data, size_t size)
{
	unsigned char *copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (size >= sizeof(struct vdb_header)) {
		struct vdb_header h;
		memcpy(&h, copy, sizeof(h));
		h.file_size = size;
		h.crc32 = (uint32_t)crc32_z(crc32_z(0L, Z_NULL, 0), copy + sizeof(h), size - sizeof(h));
		memcpy(copy, &h, sizeof(h));
	}
	struct vulndb *db;
	const char *why;
	if (vulndb_open_mem(copy, size, &db, &why)) {
		if (!why || !*why)
			abort();
		free(copy);
		return 0;
	}
	struct arena a = {0};
	for (size_t i = 0; i < vulndb_nfeeds(db); i++)
		(void)strlen(vulndb_str(db, vulndb_feed(db, i)->name));
	for (size_t i = 0; i < vulndb_necos(db); i++) {
		const char *eco = vulndb_str(db, vulndb_eco(db, i)->name);
		vulndb_has_ecosystem(db, eco);
		size_t n;
		const struct vdb_entry *e = vulndb_lookup(db, eco, "openssl", &n);
		for (size_t k = 0; e && k < n && k < 64; k++) {
			struct osv_affected x;
			struct match_result m;
			vulndb_entry_affected(db, &e[k], eco, "openssl", &a, &x);
			osv_match(&x, "1.0", &m, &why);
			const struct vdb_vuln *v = vulndb_vuln(db, e[k].vuln);
			if (v) {
				(void)strlen(vulndb_str(db, v->id));
				const uint32_t *l = vulndb_list(db, v->aliases, v->naliases);
				for (size_t j = 0; l && j < v->naliases; j++)
					(void)strlen(vulndb_str(db, l[j]));
			}
		}
	}
	/* the known-exploited catalogue: every note's strings, and lookups in and out of it */
	static const char *const ids[] = {"CVE-2023-4911", "CVE-0000-0000", "CVE-9999-99999999", ""};
	for (size_t i = 0; i < vulndb_nkev(db) && i < 64; i++) /* each found again by its own id */
		(void)vulndb_kev(db, vulndb_str(db, vulndb_kev_at(db, i)->cve));
	for (size_t i = 0; i < DD_ARRAY_LEN(ids); i++) {
		const struct vdb_kev *k = vulndb_kev_of(db, ids[i], ids, DD_ARRAY_LEN(ids));
		if (k)
			(void)(strlen(vulndb_str(db, k->cve)) + strlen(vulndb_str(db, k->action)) +
			       strlen(vulndb_str(db, k->date_added)) + strlen(vulndb_str(db, k->name)));
	}
	struct vdb_pkg pk;
	if (vulndb_lookup_pkg(db, "Debian:12", "openssl", &pk))
		for (size_t k = 0; k < pk.nfixes; k++)
			(void)strlen(vulndb_str(db, pk.fixes[k]));
	struct inventory inv;
	inventory_init(&inv, &a);
	inv.os = (struct os_info){.kind = OS_KNOWN, .id = "debian", .version_id = "12"};
	static const char *const pkgs[][3] = {
		{"libssl3", "openssl", "3.0.9-1"}, {"openssl", "openssl", "3.0.11-1~deb12u2"}, {"zlib1g", "zlib", "1:1.2.13"}};
	for (size_t k = 0; k < DD_ARRAY_LEN(pkgs); k++) {
		struct package *p = inventory_add(&inv);
		p->type = PKG_DPKG;
		p->name = pkgs[k][0];
		p->source_name = pkgs[k][1];
		p->version = p->source_version = pkgs[k][2];
	}
	struct scan_result res;
	if (!scan_match(&a, db, &inv, &res, &why))
		for (size_t k = 0; k < res.n; k++)
			(void)strlen(res.findings[k].remediation);
	arena_free(&a);
	vulndb_close(db);
	free(copy);
	return 0;
}
DD_FUZZ_ENTRY(fuzz_vulndb)
