/* azure.h: the assessments and sub-assessments in the shape of Azure Security Center's
 * container registry vulnerability assessment (Microsoft.Security), from the stored
 * assessments. The object builders take no HTTP types, so a query table can build the same
 * objects; azure_handle answers the paths (docs/api.md). */
#ifndef DD_ASSESS_AZURE_H
#define DD_ASSESS_AZURE_H

#include <jansson.h>

struct arena;
struct assessment_rec;
struct assess_api;
struct http_req;

#define AZURE_ASSESSMENT "dbd0cb49-b563-45e7-9724-889e799fa648"

/* The sub-assessment of one finding f (a report finding, texts hydrated) of the stored
 * assessment rec, under scope ("" or "/subscriptions/NS"), found on registry host. Borrows
 * everything; returns a new reference; strings from arena a. */
json_t *azure_subassessment(struct arena *a, const char *scope, const char *host, const struct assessment_rec *rec,
			    json_t *f);
/* The assessment under scope, Unhealthy when unhealthy, of registry host. New reference. */
json_t *azure_assessment(struct arena *a, const char *scope, const char *host, int unhealthy);

/* Answers [/subscriptions/<ns>]/providers/Microsoft.Security/... over api. */
void azure_handle(struct http_req *r, struct assess_api *api);

#endif
