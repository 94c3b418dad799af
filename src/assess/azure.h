/* azure.h: the assessments and sub-assessments in the shape of Azure Security Center's
 * (Microsoft Defender for Cloud's) container registry vulnerability assessment
 * (Microsoft.Security, api-version 2019-01-01-preview for sub-assessments, 2020-01-01 and
 * 2021-06-01 for assessments), built from the stored assessments. Two assessment keys are
 * served from the same findings: the 2020 one ("ContainerRegistryVulnerability",
 * additionalData with cve, cvss, patchable, imageDigest ...) and its current replacement
 * ("AzureContainerRegistryVulnerability", additionalData with vulnerabilityDetails,
 * artifactDetails, softwareDetails).
 *
 * The object builders take no HTTP types, so a query table (securityresources) builds the
 * same objects; azure_handle answers the REST paths (docs/api.md). */
#ifndef DD_ASSESS_AZURE_H
#define DD_ASSESS_AZURE_H

#include <jansson.h>
#include <stdint.h>

struct arena;
struct assessment_rec;
struct rule;
struct assess_api;
struct http_req;

/* The assessment keys, in the order they are listed. */
enum azure_key { AZURE_KEY_QUALYS, AZURE_KEY_MDVM, AZURE_NKEYS };
#define AZURE_KEY_QUALYS_NAME "dbd0cb49-b563-45e7-9724-889e799fa648"
#define AZURE_KEY_MDVM_NAME "c0b7cfc6-3172-465a-b378-53c7ff2cc0d5"

/* The key's name (its GUID). */
const char *azure_key_name(enum azure_key k);
/* The assessedResourceType of key k's sub-assessments (ContainerRegistryVulnerability, ...). */
const char *azure_key_resource_type(enum azure_key k);
/* The key named `name` (case-insensitive), or -1. */
int azure_key_find(const char *name);

/* Where the registry sits in Azure's resource tree: the resource id of the registry is
 * /subscriptions/S/resourceGroups/G/providers/Microsoft.ContainerRegistry/registries/R.
 * Every pointer borrowed. */
struct azure_names {
	const char *subscription;   /* the configured one; "" makes each namespace a subscription */
	const char *resource_group; /* never empty */
	const char *registry;       /* never empty */
	const char *host;           /* registryHost: the host (and port) clients push to */
};

/* The subscription of repository repo: the configured one, else repo's namespace. Arena string. */
const char *azure_subscription_of(struct arena *a, const struct azure_names *n, const char *repo);
/* The resource id of the registry in subscription sub. Arena string. */
const char *azure_registry_id(struct arena *a, const struct azure_names *n, const char *sub);

/* What an assessment reports over the images it covers. */
struct azure_state {
	const char *code;            /* "Healthy", "Unhealthy" or "NotApplicable" (no image assessed) */
	int64_t first_evaluation;    /* earliest assessment of an image it covers; 0: none */
	int64_t status_change;       /* when the status last changed, as far as the store tells; 0: none */
};

/* The assessment of key k on the registry of subscription sub (NULL: every registry, an
 * aggregate whose id has no resource part). Borrows everything; returns a new reference. */
json_t *azure_assessment(struct arena *a, const struct azure_names *n, enum azure_key k, const char *sub,
			 const struct azure_state *st);

/* What the store knows of an image beyond its assessment; any field may be NULL or 0. */
struct azure_image {
	const char *media_type; /* the manifest's */
	int64_t pushed;         /* when the manifest was stored */
	const char *const *tags;
	size_t ntags;
};

/* The parts of a sub-assessment a caller wants built (azure_subassessment, azure_walk): the id
 * and name around it, and each member of its properties. */
enum azure_part {
	AZP_ENVELOPE = 1 << 0,   /* id, name */
	AZP_ID = 1 << 1,         /* properties.id */
	AZP_STATUS = 1 << 2,     /* properties.status */
	AZP_TEXTS = 1 << 3,      /* properties.displayName, description, remediation, impact, category */
	AZP_TIME = 1 << 4,       /* properties.timeGenerated */
	AZP_RESOURCE = 1 << 5,   /* properties.resourceDetails */
	AZP_ADDITIONAL = 1 << 6, /* properties.additionalData */
	AZP_ALL = (1 << 7) - 1,
};

/* The sub-assessment of key k for one finding f (a report finding with its texts; "suppressed"
 * set by the rules when one applies) of the stored assessment rec, whose report names the
 * ecosystem eco ("Debian:12", may be NULL). Its name is azure_subassessment_name. Borrows
 * everything; returns a new reference; strings from arena a. */
json_t *azure_subassessment(struct arena *a, const struct azure_names *n, enum azure_key k,
			    const struct assessment_rec *rec, const struct azure_image *img, const char *eco, json_t *f);
/* The same with only `parts` (enum azure_part) built: type is always there, properties when any
 * of its members is asked for. */
json_t *azure_subassessment_parts(struct arena *a, const struct azure_names *n, enum azure_key k,
				  const struct assessment_rec *rec, const struct azure_image *img, const char *eco, json_t *f,
				  unsigned parts);
/* The stable UUID-shaped name of finding f of image (repo, digest): the same under both keys. */
const char *azure_subassessment_name(struct arena *a, const char *repo, const char *digest, json_t *f);
/* The same from the finding's id, package, and for an application package its files and version
 * (path "" or NULL for an OS package, whose name alone is unique in an image; one lock file may
 * name two versions of one package). */
const char *azure_subassessment_name_of(struct arena *a, const char *repo, const char *digest, const char *id,
					const char *package, const char *path, const char *version);
/* properties.status of the sub-assessment of a finding of severity `severity` (the report's:
 * CRITICAL, HIGH, ...) that no rule suppresses: one shared object per Azure severity, read-only,
 * never released (a caller may hold it without a reference). */
json_t *azure_subassessment_status(const char *severity);
/* properties.additionalData of a sub-assessment as far as the paths below it that
 * azure_additional_lite_has names: the image's names, and the finding's CVE, severity and package.
 * A query that reads no other path of additionalData sees the same values as in the whole object.
 * azure_additional_lite_has: the group (enum az_lite) that path (n names below additionalData)
 * lies in, or 0 when it is not in that part.
 * azure_additional_lite_image: the part of key k that is the image's, the same for each of its
 * findings (a new reference). azure_additional_lite: key k's object for one finding with the
 * groups asked for, given that part (borrowed); a new reference. */
enum az_lite { AZ_LITE_TOP = 1, AZ_LITE_VULN = 2, AZ_LITE_ARTIFACT = 4, AZ_LITE_SOFTWARE = 8 };
unsigned azure_additional_lite_has(const char *const *path, int n);
json_t *azure_additional_lite_image(const struct azure_names *n, enum azure_key k, const struct assessment_rec *rec);
json_t *azure_additional_lite(enum azure_key k, unsigned groups, json_t *image, json_t *vuln, const char *id,
			      const char *const *aliases, size_t naliases, const char *package, const char *path,
			      const char *severity);
/* The group AZ_LITE_VULN of one finding (a new reference): the same for every image that has
 * it, so a caller may build it once and pass it to azure_additional_lite as vuln (NULL: built
 * there). */
json_t *azure_additional_lite_vuln(const char *id, const char *const *aliases, size_t naliases, const char *severity);
/* The sub-assessment's id under key k of the finding named `name` of an image of repo. */
const char *azure_subassessment_id(struct arena *a, const struct azure_names *n, enum azure_key k, const char *repo,
				   const char *name);
/* The Azure severity (High, Medium, Low) of a report's severity (CRITICAL, HIGH, ...; NULL: Low). */
const char *azure_severity(const char *severity);

/* The names of the registry as request r reaches it (its Host header), or with no request (NULL:
 * `drydock query` on a data directory) as api->host names it; the configured names first. */
void azure_names_of(struct assess_api *api, struct arena *a, struct http_req *r, struct azure_names *n);

/* Appends to value the assessments (key k, or both when k < 0) of the registries in scope: the
 * configured subscription's, namespace ns's (when not NULL), else one per namespace holding an
 * image r may see (r NULL: every image, as the data directory's owner sees them). */
int azure_assessments_append(struct assess_api *api, struct arena *a, struct http_req *r, const struct azure_names *n,
			     const struct rule *rules, size_t nrules, const char *ns, int k, json_t *value);

/* A walk over the sub-assessments of the images r may see (r NULL: all), image by image, finding
 * by finding, key by key, with the suppression rules applied. The callbacks let a caller skip
 * what it does not want before it is built: */
#define AZURE_WALK_STOP (-1) /* emit's way to end the walk early, not an error */
struct azure_walk {
	const struct azure_names *names;
	const struct rule *rules;
	size_t nrules;
	const int *keys; /* enum azure_key, in the order built */
	int nkeys;
	const char *ns;   /* only this namespace, when not NULL */
	const char *repo; /* only this repository, when not NULL (read through the store's index) */
	/* only these images, in this order (their repo and digest), when only is not NULL */
	const struct assessment_rec *only;
	size_t nonly;
	/* An image's stored assessment (its report still text): 1 reads it, 0 skips it, -1 ends the
	 * walk. NULL: all. */
	int (*want_image)(void *ctx, const struct assessment_rec *rec);
	/* A finding (texts not filled yet) under key k: 1 builds its sub-assessment, 0 skips it,
	 * -1 ends the walk. NULL: all. */
	int (*want)(void *ctx, enum azure_key k, const struct assessment_rec *rec, json_t *f);
	/* A sub-assessment built (the reference is the callee's) from image rec: 0 goes on,
	 * AZURE_WALK_STOP ends the walk, another code ends it and is returned. */
	int (*emit)(void *ctx, enum azure_key k, const struct assessment_rec *rec, json_t *sub);
	unsigned parts; /* what to build of each (enum azure_part); 0: everything */
	void *ctx;
};
int azure_walk(struct assess_api *api, struct arena *a, struct http_req *r, const struct azure_walk *w);

/* Answers status with Azure's error shape (CloudError): {"error": {"code", "message"}}. */
void azure_error(struct http_req *r, int status, const char *code, const char *message);
/* access_check(r, NULL, ACCESS_BASE), a refusal answered in Azure's shape (with the challenge):
 * 0 when the caller may go on (to see only what its roles allow), else the error answered. */
int azure_access(struct http_req *r);

/* Answers [scope]/providers/Microsoft.Security/... over api, errors in Azure's shape. */
void azure_handle(struct http_req *r, struct assess_api *api);

#endif
