/* api.h: the security API that `drydock serve` answers beside the OCI API: per-image
 * assessments with findings and fix plan, per-repository and registry-wide summaries, scan
 * usage per namespace and month, the per-namespace scanning switch, Prometheus metrics and a
 * health check, suppression rules and pull policies, and the assessments and sub-assessments
 * in the Microsoft.Security shape. Routes under /api/v1/, /metrics, /healthz,
 * /providers/Microsoft.Security/ and /subscriptions/<namespace>/providers/... (docs/api.md). */
#ifndef DD_ASSESS_API_H
#define DD_ASSESS_API_H

struct http_req;
struct registry;

/* 1 when path is one of ours (the request is then answered), else 0. */
int assess_api_route(const char *path);
#include <stddef.h>
/* Answers the request, or asks for its body (POST/PUT of a JSON document), which then
 * arrives in assess_api_end. */
void assess_api_handle(struct http_req *r, struct registry *reg);
void assess_api_end(struct http_req *r, struct registry *reg, const char *body, size_t len);

#endif
