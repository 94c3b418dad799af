/* sbom.h: an inventory as a document: drydock's own JSON, CycloneDX 1.5 JSON or SPDX 2.3
 * JSON, with package URLs (pkg:deb/debian/..., pkg:apk/alpine/..., pkg:rpm/...). */
#ifndef DD_SBOM_H
#define DD_SBOM_H
#include <stddef.h>

struct arena;
struct inventory;

enum sbom_format { SBOM_JSON, SBOM_CYCLONEDX, SBOM_SPDX };

struct sbom_subject {
	const char *name;     /* image or directory as the user named it */
	const char *manifest; /* image manifest digest, or NULL */
	const char *platform; /* or NULL */
	int layers;           /* -1 for a directory */
};

int sbom_format_parse(const char *s, enum sbom_format *out);
/* The package URL of p (arena string). */
const char *sbom_purl(struct arena *a, const struct inventory *inv, size_t i);
/* Returns the document as owned JSON text (free()), or NULL on out-of-memory. */
char *sbom_render(struct arena *a, const struct inventory *inv, const struct sbom_subject *subj,
		  enum sbom_format fmt);

#endif
