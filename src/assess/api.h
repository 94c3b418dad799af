/* api.h: the security API that `drydock serve` answers beside the OCI API: per-image
 * assessments with findings and fix plan, per-repository and registry-wide summaries, scan
 * usage per namespace and month, the per-namespace scanning switch, Prometheus metrics and a
 * health check. Routes under /api/v1/, /metrics and /healthz (docs/api.md). */
#ifndef DD_ASSESS_API_H
#define DD_ASSESS_API_H

struct http_req;
struct registry;

/* 1 when path is one of ours (the request is then answered), else 0. */
int assess_api_route(const char *path);
void assess_api_handle(struct http_req *r, struct registry *reg);

#endif
