/* report.h: a scan result for people (a table grouped by package, the fix plan at the end,
 * severity colours on a terminal) and for programs (drydock's JSON, which the security API
 * serves too). Filters apply to both. */
#ifndef DD_REPORT_H
#define DD_REPORT_H
#include <stdio.h>
#include "scan/findings.h"
#include "scan/status.h"

struct inventory;
struct sbom_subject;

struct report_filter {
	unsigned severities;  /* bit per enum vdb_severity; 0 = all */
	int ignore_unfixed;
};

/* Parses "HIGH,CRITICAL" into a severity mask; 0 or DD_E_USAGE with *why. */
int report_severities(const char *list, unsigned *mask, const char **why);
int report_keep(const struct report_filter *f, const struct finding *x);

/* Healthy, Unhealthy or NotApplicable (scan/status.h), after filtering. */
enum assessment_status report_status(const struct scan_result *r, const struct report_filter *f);

/* Owned JSON text (free()), or NULL on out-of-memory. */
char *report_json(const struct vulndb *db, const struct inventory *inv, const struct sbom_subject *subj,
		  const struct scan_result *r, const struct report_filter *f);
/* The same without the vulnerabilities' texts (summary, description, dates, references):
 * what the server stores per image; report_hydrate puts the texts back into the findings a
 * reader asks for. */
char *report_json_compact(const struct vulndb *db, const struct inventory *inv, const struct sbom_subject *subj,
			  const struct scan_result *r);
/* Fills the texts of one finding of a compact report (a json_t *, changed in place) from db,
 * for the report's ecosystem; texts stay empty when db no longer has the vulnerability. */
void report_hydrate(const struct vulndb *db, const char *ecosystem, void *finding);
/* Sets each finding's `known_exploited` in a report (a json_t *, changed in place) from db's
 * known-exploited catalogue (`{cve, date_added, due_date, required_action, name, ransomware}`,
 * or null), and `counts.known_exploited` (findings not suppressed); returns that count. Read
 * from the database in use, so a catalogue update reaches every stored report. */
size_t report_mark_known_exploited(const struct vulndb *db, void *report);
/* A stored report (json_t *) written before findings had compared_version, read as one written
 * now: installed_version the binary package's version, compared_version the one compared (for
 * Debian, the source package's). */
void report_versions(void *report);
void report_table(FILE *out, const struct inventory *inv, const struct sbom_subject *subj, const struct scan_result *r,
		  const struct report_filter *f, int color);

/* SARIF 2.1.0 (one rule per vulnerability, one result per finding); owned text. */
struct arena;
char *report_sarif(struct arena *a, const struct inventory *inv, const struct sbom_subject *subj,
		   const struct scan_result *r, const struct report_filter *f);
/* The CycloneDX 1.5 document (components and a vulnerabilities section) or the SPDX 2.3
 * document (SECURITY advisory references and an annotation per finding); owned text. */
char *report_sbom_with_findings(struct arena *a, const struct inventory *inv, const struct sbom_subject *subj,
				const struct scan_result *r, const struct report_filter *f, int spdx);

#endif
