/* fuzz_pkgdb.c: the dpkg, apk, os-release and rpm (header blob, SQLite, Berkeley DB, NDB)
 * parsers. The first byte picks the parser; every reported package has a non-empty name and
 * every error has a reason. */
#include "common/dd.h"
#include "common/arena.h"
#include "inventory/inventory.h"
#include "fuzz.h"

int fuzz_pkgdb(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	char *copy = malloc(size); /* exact size: ASan catches over-reads */
	if (!copy)
		return 0;
	memcpy(copy, data + 1, size - 1);
	struct arena a = {0};
	struct inventory inv;
	inventory_init(&inv, &a);
	const char *why = NULL;
	int rc;
	switch (data[0] % 8) {
	case 0:
		rc = dpkg_parse(&inv, "status", copy, size - 1, 0, &why);
		break;
	case 1:
		rc = dpkg_parse(&inv, "status.d/x", copy, size - 1, 1, &why);
		break;
	case 2:
		rc = apk_parse(&inv, "installed", copy, size - 1, &why);
		break;
	case 3:
		rc = os_release_parse(&a, copy, size - 1, &inv.os, &why);
		break;
	case 4:
		rc = rpm_header_parse(&inv, "blob", (const unsigned char *)copy, size - 1, &why);
		break;
	case 5:
		rc = rpm_sqlite_parse(&inv, "rpmdb.sqlite", copy, size - 1, &why);
		break;
	case 6:
		rc = rpm_bdb_parse(&inv, "Packages", copy, size - 1, &why);
		break;
	default:
		rc = rpm_ndb_parse(&inv, "Packages.db", copy, size - 1, &why);
		break;
	}
	if (rc && (!why || !*why))
		abort();
	for (size_t i = 0; i < inv.n; i++)
		if (!*inv.pkgs[i].name || (inv.pkgs[i].type != PKG_RPM && !*inv.pkgs[i].version))
			abort();
	arena_free(&a);
	free(copy);
	return 0;
}
DD_FUZZ_ENTRY(fuzz_pkgdb)
