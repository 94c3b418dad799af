/* test_azure.c: the Microsoft.Security object builders (assess/azure.c) without a server:
 * resource ids from the configured names, the cvss dictionary by version, both keys' shapes
 * from one finding, suppressed findings, the stable name. */
#include "unit.h"
#include "assess/azure.h"
#include "common/arena.h"
#include "store/meta_scans.h"

static const struct azure_names names = {.subscription = "", .resource_group = "drydock", .registry = "acme",
					 .host = "acme.example:5000"};
static const struct assessment_rec rec = {.repo = "team/app", .digest = "sha256:abcd", .status = "Unhealthy",
					  .scanned_at = 1700000000};

static json_t *finding(const char *vector)
{
	json_t *f = json_pack("{s:s, s:[s], s:s, s:s, s:s, s:s, s:b, s:s, s:s, s:s, s:[s]}", "id", "DSA-1-1", "aliases",
			      "CVE-2024-0001", "package", "libc6", "package_version", "2.36-9", "installed_version",
			      "2.36-9", "fixed_version", "2.36-10", "patchable", 1, "severity", "CRITICAL", "remediation",
			      "upgrade", "published", "2024-01-02T03:04:05Z", "references", "https://example.test/a");
	if (vector)
		json_object_set_new(f, "cvss", json_pack("{s:f, s:s}", "score", 9.8, "vector", vector));
	else
		json_object_set_new(f, "cvss", json_null());
	return f;
}

static const char *path(json_t *o, const char *p)
{
	char key[64];
	while (o && *p) {
		size_t n = strcspn(p, ".");
		snprintf(key, sizeof(key), "%.*s", (int)n, p);
		o = json_object_get(o, key);
		p += n + (p[n] == '.');
	}
	return json_string_value(o);
}

static void test_ids(void)
{
	struct arena a = {0};
	CHECK_STR(azure_subscription_of(&a, &names, "team/app/x"), "team");
	struct azure_names fixed = names;
	fixed.subscription = "0b06d9ea-afe6-4779-bd59-30e5c2d9d13f";
	CHECK_STR(azure_subscription_of(&a, &fixed, "team/app"), "0b06d9ea-afe6-4779-bd59-30e5c2d9d13f");
	CHECK_STR(azure_registry_id(&a, &names, "team"),
		  "/subscriptions/team/resourceGroups/drydock/providers/Microsoft.ContainerRegistry/registries/acme");
	json_t *f = finding("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H");
	json_t *q = azure_subassessment(&a, &names, AZURE_KEY_QUALYS, &rec, NULL, "Debian:12", f);
	json_t *m = azure_subassessment(&a, &names, AZURE_KEY_MDVM, &rec, NULL, "Debian:12", f);
	const char *name = azure_subassessment_name(&a, rec.repo, rec.digest, f);
	CHECK_STR(path(q, "name"), name);
	CHECK_STR(path(m, "name"), name); /* the same finding under both keys */
	CHECK_STR(path(q, "id"), arena_printf(&a,
					      "/subscriptions/team/resourceGroups/drydock/providers/Microsoft.ContainerRegistry"
					      "/registries/acme/providers/Microsoft.Security/assessments/" AZURE_KEY_QUALYS_NAME
					      "/subAssessments/%s",
					      name));
	CHECK(strstr(path(m, "id"), "/assessments/" AZURE_KEY_MDVM_NAME "/subAssessments/") != NULL);
	CHECK(azure_key_find("C0B7CFC6-3172-465A-B378-53C7FF2CC0D5") == AZURE_KEY_MDVM && azure_key_find("x") < 0);
	json_decref(q);
	json_decref(m);
	json_decref(f);
	arena_free(&a);
}

static void test_shapes(void)
{
	struct arena a = {0};
	json_t *f = finding("AV:N/AC:L/Au:N/C:P/I:P/A:P"); /* a version 2 vector */
	json_t *q = azure_subassessment(&a, &names, AZURE_KEY_QUALYS, &rec, NULL, "Debian:12", f);
	json_t *qd = json_object_get(json_object_get(q, "properties"), "additionalData");
	CHECK(json_is_object(json_object_get(json_object_get(qd, "cvss"), "2.0")));
	CHECK(json_is_null(json_object_get(json_object_get(qd, "cvss"), "3.0")));
	CHECK_STR(path(qd, "assessedResourceType"), "ContainerRegistryVulnerability");
	CHECK_STR(path(qd, "imageName"), "team/app");
	CHECK_STR(path(qd, "registryHost"), "acme.example:5000");
	CHECK_STR(path(q, "properties.resourceDetails.source"), "Azure");
	CHECK_STR(path(q, "properties.status.cause"), "");
	CHECK_STR(path(q, "properties.status.severity"), "High");
	json_decref(q);
	const char *tags[] = {"1", "latest"};
	struct azure_image img = {.media_type = "application/vnd.oci.image.manifest.v1+json", .pushed = 1690000000,
				  .tags = tags, .ntags = 2};
	json_t *m = azure_subassessment(&a, &names, AZURE_KEY_MDVM, &rec, &img, "Debian:12", f);
	json_t *md = json_object_get(json_object_get(m, "properties"), "additionalData");
	CHECK_STR(path(md, "assessedResourceType"), "AzureContainerRegistryVulnerability");
	CHECK_STR(path(md, "vulnerabilityDetails.cveId"), "CVE-2024-0001"); /* the alias that is a CVE */
	CHECK_STR(path(md, "softwareDetails.fixStatus"), "FixAvailable");
	CHECK_STR(path(md, "softwareDetails.fixedVersion"), "2.36-10");
	CHECK_STR(path(md, "softwareDetails.osDetails.osName"), "Debian");
	CHECK_STR(path(md, "softwareDetails.osDetails.osVersion"), "12");
	CHECK_STR(path(md, "artifactDetails.lastPushedToRegistryUTC"), "2023-07-22T04:26:40Z");
	CHECK(json_array_size(json_object_get(json_object_get(md, "artifactDetails"), "tags")) == 2);
	CHECK(!json_object_get(md, "cvssV30Score")); /* the score is version 2 */
	CHECK_STR(path(m, "properties.displayName"), "DSA-1-1");
	json_decref(m);
	/* no score at all: both versions null; suppressed: NotApplicable, Exempt, the rule's reason */
	json_object_set_new(f, "cvss", json_null());
	json_object_set_new(f, "patchable", json_false());
	json_object_set_new(f, "fixed_version", json_null());
	json_object_set_new(f, "suppressed", json_pack("{s:s}", "reason", "not reachable"));
	m = azure_subassessment(&a, &names, AZURE_KEY_MDVM, &rec, NULL, NULL, f);
	md = json_object_get(json_object_get(m, "properties"), "additionalData");
	json_t *cvss = json_object_get(json_object_get(md, "vulnerabilityDetails"), "cvss");
	CHECK(json_is_null(json_object_get(cvss, "2.0")) && json_is_null(json_object_get(cvss, "3.0")));
	CHECK_STR(path(md, "softwareDetails.fixStatus"), "NoFixAvailable");
	CHECK_STR(path(md, "softwareDetails.fixedVersion"), "");
	CHECK_STR(path(m, "properties.status.code"), "NotApplicable");
	CHECK_STR(path(m, "properties.status.cause"), "Exempt");
	CHECK_STR(path(m, "properties.status.description"), "not reachable");
	json_decref(m);
	json_decref(f);
	arena_free(&a);
}

static void test_assessment(void)
{
	struct arena a = {0};
	struct azure_state st = {.code = "Unhealthy", .first_evaluation = 1700000000, .status_change = 1700000100};
	json_t *o = azure_assessment(&a, &names, AZURE_KEY_MDVM, "team", &st);
	CHECK_STR(path(o, "name"), AZURE_KEY_MDVM_NAME);
	CHECK_STR(path(o, "properties.resourceDetails.id"),
		  "/subscriptions/team/resourceGroups/drydock/providers/Microsoft.ContainerRegistry/registries/acme");
	CHECK_STR(path(o, "properties.status.firstEvaluationDate"), "2023-11-14T22:13:20Z");
	CHECK_STR(path(o, "properties.status.statusChangeDate"), "2023-11-14T22:15:00Z");
	CHECK_STR(path(o, "properties.metadata.assessmentType"), "BuiltIn");
	CHECK_STR(path(o, "properties.metadata.severity"), "High");
	json_decref(o);
	st = (struct azure_state){.code = "Healthy"}; /* nothing assessed: no dates */
	o = azure_assessment(&a, &names, AZURE_KEY_QUALYS, NULL, &st);
	CHECK_STR(path(o, "id"), "/providers/Microsoft.Security/assessments/" AZURE_KEY_QUALYS_NAME);
	CHECK(!path(o, "properties.status.firstEvaluationDate"));
	json_decref(o);
	arena_free(&a);
}

void suite_azure(void)
{
	RUN(test_ids);
	RUN(test_shapes);
	RUN(test_assessment);
}
