/* kev.h: CISA's catalogue of known exploited vulnerabilities (KEV): not a feed of affected
 * packages but a note on CVEs, which findings carry (`known_exploited`). The file as CISA
 * publishes it: {"catalogVersion", "vulnerabilities": [{"cveID", "dateAdded", "dueDate",
 * "requiredAction", "vulnerabilityName", "knownRansomwareCampaignUse", ...}]}. */
#ifndef DD_KEV_H
#define DD_KEV_H
#include <stddef.h>

struct arena;

struct kev_entry {
	const char *cve, *date_added, *due_date, *action, *name;
	int ransomware;
};

/* 1 when the document (parsed JSON, a json_t *) looks like the catalogue. */
int kev_is_catalogue(const void *root);
/* Each well-formed entry of the catalogue to fn (strings in a; an entry without a CVE id of
 * the form CVE-YYYY-NNNN or a date YYYY-MM-DD is counted in *skipped). 0, or DD_E_FEED_INVALID
 * with *why when it is not the catalogue. */
int kev_parse(struct arena *a, const char *data, size_t len, void (*fn)(void *ctx, const struct kev_entry *e),
	      void *ctx, size_t *skipped, const char **why);

#endif
