/* unit.h: a tiny test runner. A test is a void function; CHECK records a failure with its
 * file and line and goes on; RUN counts a test as failed when any CHECK in it failed. */
#ifndef DD_UNIT_H
#define DD_UNIT_H
#include "common/dd.h"

extern int unit_failures_in_test;
extern int unit_passed, unit_failed;

#define CHECK(cond)                                                                        \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
			unit_failures_in_test++;                                           \
		}                                                                          \
	} while (0)
#define CHECK_STR(a, b) CHECK(strcmp((a), (b)) == 0)
#define RUN(fn) unit_run(#fn, fn)

void unit_run(const char *name, void (*fn)(void));
/* Where ../shared is (DRYDOCK_SHARED overrides); borrowed string. */
const char *unit_shared(void);
/* Reads file `rel` of the shared folder into owned memory; 0, or prints that the test is
 * skipped and returns -1 when it is absent. */
int unit_shared_file(const char *rel, char **data, size_t *len);
/* A fresh empty directory for a test (owned string). */
char *unit_tmpdir(void);

void suite_common(void);
void suite_names(void);
void suite_range(void);
void suite_manifest(void);
void suite_stores(void);
void suite_version(void);
void suite_match(void);
void suite_alpine(void);
void suite_findings(void);
void suite_auth(void);
void suite_rules(void);
void suite_http1(void);
void suite_azure(void);
void suite_query(void);
void suite_lang(void);

#endif
