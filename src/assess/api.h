/* api.h: the security API that `drydock serve` answers beside the OCI API: per-image
 * assessments with findings and fix plan, per-repository and registry-wide summaries, scan
 * usage per namespace and month, the per-namespace scanning switch, Prometheus metrics and a
 * health check, suppression rules and pull policies, and the assessments and sub-assessments
 * in the Microsoft.Security shape (azure.h). Routes under /api/v1/, /metrics, /healthz,
 * /providers/Microsoft.Security/ and /subscriptions/<namespace>/providers/... (docs/api.md). */
#ifndef DD_ASSESS_API_H
#define DD_ASSESS_API_H

#include "assess/admission.h"
#include "http/server.h"

struct meta;
struct router;
struct scanner;
struct space;
struct vulndb;

/* What the service reads; every pointer borrowed, and NULL when there is none (no scanner:
 * scanning is off). */
struct assess_api {
	struct meta *meta;
	struct scanner *scanner;
	struct space *space;          /* the data directory's free space, for /healthz */
	const struct router *router;  /* its request counters, for /metrics */
	/* where the registry sits in Azure's resource tree, for the Microsoft.Security shape:
	 * "" or NULL for the defaults (azure.h) */
	const char *azure_subscription, *azure_resource_group, *azure_registry;
	int tls; /* served over TLS: the scheme of the links it writes */
	/* with no request to tell them (`drydock query` on a data directory): the host clients push
	 * to, and the database that fills the findings' texts when there is no scanner */
	const char *host;
	const struct vulndb *db;
	/* the blobs, for the image configs the query tables read an image's platform from (NULL:
	 * no platform) */
	struct blobstore *blobs;
	struct admission_config admission; /* the admission webhook's (admission.h) */
};

/* 1 when path is one of the service's. */
int assess_api_route(const char *path);
/* The service (web/router.h) that answers those paths over api. */
struct http_app assess_api_app(struct assess_api *api);

#endif
