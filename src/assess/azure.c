/* azure.c: the Microsoft.Security shape (see azure.h): the assessments and their
 * sub-assessments, one per (finding, image, key), built from the stored assessments with the
 * suppression rules applied. It holds no state of its own and reads nothing but the metadata
 * store and the vulnerability database's texts.
 *
 * The shapes follow the published REST specification of Microsoft.Security
 * (subAssessments.json of 2019-01-01-preview, assessments.json and assessmentMetadata.json of
 * 2021-06-01, the common ResourceDetails and CloudError types) and Defender for Cloud's
 * documentation of the container registry sub-assessments; docs/api.md maps every field. */
#include "common/dd.h"
#include "assess/azure.h"
#include "assess/api.h"
#include "assess/rules.h"
#include "auth/access.h"
#include "common/arena.h"
#include "common/util.h"
#include "web/reply.h"
#include "scan/report.h"
#include "scan/scanner.h"
#include "store/meta_repos.h"
#include "store/meta_scans.h"
#include "vulndb/vulndb.h"
#include "scan/status.h"
#include <openssl/sha.h>

#define AZURE_PAGE 1000 /* sub-assessments per page; nextLink for the rest */
#define AZURE_MAX_TAGS 1000 /* tags of an image listed in its artifactDetails */
#define AZURE_SUB_API "2019-01-01-preview" /* the one version of the sub-assessments API */

/* What each key says of itself (its assessment metadata). The names and descriptions are the
 * service's; the remediation text is ours. */
static const struct key_info {
	const char *name, *display, *description, *policy, *resource_type;
} keys[AZURE_NKEYS] = {
	[AZURE_KEY_QUALYS] = {AZURE_KEY_QUALYS_NAME,
			      "Container registry images should have vulnerability findings resolved (powered by Qualys)",
			      "Container image vulnerability assessment scans your registry for security vulnerabilities "
			      "and exposes detailed findings for each image. Resolving the vulnerabilities can greatly "
			      "improve your containers' security posture and protect them from attacks.",
			      "/providers/Microsoft.Authorization/policyDefinitions/5f0f936f-2f01-4bf5-b6be-d423792fa562",
			      "ContainerRegistryVulnerability"},
	[AZURE_KEY_MDVM] = {AZURE_KEY_MDVM_NAME,
			    "Azure registry container images should have vulnerabilities resolved (powered by Microsoft "
			    "Defender Vulnerability Management)",
			    "Container image vulnerability assessment scans your registry for commonly known vulnerabilities "
			    "(CVEs) and provides a detailed vulnerability report for each image. Resolving vulnerabilities "
			    "can greatly improve your security posture, ensuring images are safe to use prior to deployment.",
			    "/providers/Microsoft.Authorization/policyDefinitions/090c7b07-b4ed-4561-ad20-e9075f3ccaff",
			    "AzureContainerRegistryVulnerability"},
};

#define REMEDIATION_TEXT                                                                                           \
	"Upgrade the affected packages to the fixed versions that each finding names (or rebuild the image on an "     \
	"updated base image), push the image again and delete the vulnerable one."

const char *azure_key_name(enum azure_key k) { return keys[k].name; }
const char *azure_key_resource_type(enum azure_key k) { return keys[k].resource_type; }

int azure_key_find(const char *name)
{
	for (int k = 0; k < AZURE_NKEYS; k++)
		if (!strcasecmp(name, keys[k].name))
			return k;
	return -1;
}


void azure_error(struct http_req *r, int status, const char *code, const char *message)
{
	web_send_json(r, status, json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", message));
}

const char *azure_severity(const char *s)
{
	if (!s)
		return "Low";
	if (!strcmp(s, "CRITICAL") || !strcmp(s, "HIGH"))
		return "High";
	if (!strcmp(s, "MEDIUM"))
		return "Medium";
	return "Low";
}

static const char *str_of(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

const char *azure_subscription_of(struct arena *a, const struct azure_names *n, const char *repo)
{
	if (*n->subscription)
		return n->subscription;
	return arena_strndup(a, repo, strcspn(repo, "/"));
}

const char *azure_registry_id(struct arena *a, const struct azure_names *n, const char *sub)
{
	return arena_printf(a, "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.ContainerRegistry/registries/%s", sub,
			    n->resource_group, n->registry);
}

const char *azure_subassessment_name(struct arena *a, const char *repo, const char *digest, json_t *f)
{
	return azure_subassessment_name_of(a, repo, digest, str_of(f, "id"), str_of(f, "package"),
					   json_string_value(json_object_get(f, "path")), str_of(f, "package_version"));
}

const char *azure_subassessment_name_of(struct arena *a, const char *repo, const char *digest, const char *id,
					const char *package, const char *path, const char *version)
{
	unsigned char h[SHA256_DIGEST_LENGTH];
	const char *in = path && *path ? arena_printf(a, "%s\n%s\n%s\n%s\n%s\n%s", repo, digest, id, package, path,
						      version ? version : "")
				       : arena_printf(a, "%s\n%s\n%s\n%s", repo, digest, id, package);
	SHA256((const unsigned char *)in, strlen(in), h);
	return arena_printf(a, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", h[0], h[1], h[2],
			    h[3], h[4], h[5], (h[6] & 0x0f) | 0x50, h[7], (h[8] & 0x3f) | 0x80, h[9], h[10], h[11], h[12],
			    h[13], h[14], h[15]);
}

/* ---- the objects ---- */

json_t *azure_assessment(struct arena *a, const struct azure_names *n, enum azure_key k, const char *sub,
			 const struct azure_state *st)
{
	const struct key_info *ki = &keys[k];
	const char *resource = sub ? azure_registry_id(a, n, sub) : "";
	int unhealthy = assessment_status_is(st->code, STATUS_UNHEALTHY);
	json_t *status = json_pack("{s:s, s:s, s:s}", "code", st->code, "cause", "", "description",
				   unhealthy ? "The resource is unhealthy" : "The resource is healthy");
	if (st->first_evaluation)
		json_object_set_new(status, "firstEvaluationDate", json_string(util_iso_time(a, st->first_evaluation)));
	if (st->status_change)
		json_object_set_new(status, "statusChangeDate", json_string(util_iso_time(a, st->status_change)));
	json_t *metadata = json_pack("{s:s, s:s, s:s, s:s, s:s, s:[s], s:s, s:b}", "displayName", ki->display,
				     "policyDefinitionId", ki->policy, "description", ki->description,
				     "remediationDescription", REMEDIATION_TEXT, "severity", "High", "categories",
				     "Compute", "assessmentType", "BuiltIn", "preview", 0);
	return json_pack("{s:s, s:s, s:s, s:{s:{s:s, s:s}, s:s, s:o, s:{}, s:o}}", "type", "Microsoft.Security/assessments",
			 "id", arena_printf(a, "%s/providers/Microsoft.Security/assessments/%s", resource, ki->name), "name",
			 ki->name, "properties", "resourceDetails", "source", "Azure", "id", sub ? resource : "/",
			 "displayName", ki->display, "status", status, "additionalData", "metadata", metadata);
}

static json_t *cve_links(struct arena *a, json_t *f)
{
	json_t *cves = json_array(), *al;
	size_t i;
	const char *id = str_of(f, "id");
	if (!strncmp(id, "CVE-", 4))
		json_array_append_new(cves, json_pack("{s:s, s:s}", "title", id, "link",
						      arena_printf(a, "https://nvd.nist.gov/vuln/detail/%s", id)));
	json_array_foreach(json_object_get(f, "aliases"), i, al)
	{
		const char *x = json_string_value(al);
		if (x && !strncmp(x, "CVE-", 4))
			json_array_append_new(cves, json_pack("{s:s, s:s}", "title", x, "link",
							      arena_printf(a, "https://nvd.nist.gov/vuln/detail/%s", x)));
	}
	return cves;
}

/* {"2.0": {base, cvssVectorString} | null, "3.0": ... | null} from the finding's one score: a
 * vector that starts "CVSS:3" is version 3, one without a prefix version 2; a bare score 3. */
static json_t *cvss_of(json_t *f, double *v3)
{
	json_t *cv = json_object_get(f, "cvss"), *score = json_object_get(cv, "score");
	const char *vec = json_string_value(json_object_get(cv, "vector"));
	json_t *o = json_pack("{s:n, s:n}", "2.0", "3.0");
	*v3 = -1;
	if (!json_is_number(score))
		return o;
	int two = vec && *vec && strncmp(vec, "CVSS:", 5);
	json_t *d = json_pack("{s:O}", "base", score);
	if (vec && *vec)
		json_object_set_new(d, "cvssVectorString", json_string(vec));
	json_object_set_new(o, two ? "2.0" : "3.0", d);
	if (!two)
		*v3 = json_number_value(score);
	return o;
}

static json_t *sub_status(json_t *f)
{
	json_t *supp = json_object_get(f, "suppressed");
	const char *sev = azure_severity(json_string_value(json_object_get(f, "severity")));
	if (supp) {
		const char *why = json_string_value(json_object_get(supp, "reason"));
		return json_pack("{s:s, s:s, s:s, s:s}", "code", assessment_status_name(STATUS_NOT_APPLICABLE), "severity", sev, "cause", "Exempt",
				 "description", why ? why : "Exempt");
	}
	return json_pack("{s:s, s:s, s:s, s:s}", "code", assessment_status_name(STATUS_UNHEALTHY), "severity", sev, "cause", "", "description",
			 "The resource is unhealthy");
}

static json_t *shared_status[3]; /* High, Medium, Low */
static pthread_once_t shared_once = PTHREAD_ONCE_INIT;

static void shared_init(void)
{
	static const char *const sev[] = {"HIGH", "MEDIUM", "LOW"};
	for (int i = 0; i < 3; i++) {
		json_t *f = json_pack("{s:s}", "severity", sev[i]);
		shared_status[i] = sub_status(f);
		json_decref(f);
	}
}

json_t *azure_subassessment_status(const char *severity)
{
	pthread_once(&shared_once, shared_init);
	const char *s = azure_severity(severity);
	return shared_status[!strcmp(s, "High") ? 0 : !strcmp(s, "Medium") ? 1 : 2];
}

/* The CVE a finding is known by: its id when that is one, else its first CVE alias, else its id. */
static const char *cve_id_of(const char *id, const char *const *aliases, size_t n)
{
	if (!strncmp(id, "CVE-", 4))
		return id;
	for (size_t i = 0; i < n; i++)
		if (!strncmp(aliases[i], "CVE-", 4))
			return aliases[i];
	return id;
}

#define SOFTWARE_CATEGORY "OS"
/* An application package's (Defender's MDVM results say "Language", with the language in
 * softwareDetails.language: "python", ...). */
#define LANGUAGE_CATEGORY "Language"

/* softwareDetails.language of a finding in ecosystem eco ("" for an OS package). */
static const char *language_of(const char *eco)
{
	static const struct {
		const char *eco, *language;
	} map[] = {{"PyPI", "python"}, {"npm", "javascript"}, {"Node.js", "javascript"}, {"Go", "go"}, {"crates.io", "rust"}, {"Maven", "java"}};
	for (size_t i = 0; eco && i < DD_ARRAY_LEN(map); i++)
		if (!strcmp(eco, map[i].eco))
			return map[i].language;
	return "";
}
#define QUALYS_TYPE "Vulnerability"

/* artifactDetails without its tags, media type and push time. */
static json_t *artifact_of(const struct azure_names *n, const struct assessment_rec *rec)
{
	return json_pack("{s:s, s:s, s:s, s:s}", "repositoryName", rec->repo, "registryHost", n->host, "artifactType",
			 "ContainerImage", "digest", rec->digest);
}

/* The 2020 shape's members that name the image (the rest describe the finding). */
static json_t *qualys_names_of(const struct azure_names *n, const struct assessment_rec *rec)
{
	return json_pack("{s:s, s:s, s:s, s:s}", "imageDigest", rec->digest, "repositoryName", rec->repo, "registryHost",
			 n->host, "imageName", rec->repo);
}

/* ... and those that are the same for every finding of an image. */
static json_t *qualys_image_of(const struct azure_names *n, const struct assessment_rec *rec)
{
	json_t *o = json_pack("{s:s, s:s}", "assessedResourceType", keys[AZURE_KEY_QUALYS].resource_type, "type", QUALYS_TYPE);
	json_object_update_new(o, qualys_names_of(n, rec));
	return o;
}

/* The paths below additionalData that the lite objects hold, under either key. */
static const char *const lite_paths[][2] = {
	{"assessedResourceType", NULL},	 {"type", NULL},	     {"imageDigest", NULL},
	{"repositoryName", NULL},	 {"registryHost", NULL},     {"imageName", NULL},
	{"vulnerabilityDetails", "cveId"}, {"vulnerabilityDetails", "severity"},
	{"artifactDetails", "repositoryName"}, {"artifactDetails", "registryHost"},
	{"artifactDetails", "artifactType"}, {"artifactDetails", "digest"},
	{"softwareDetails", "packageName"}, {"softwareDetails", "category"},
};

unsigned azure_additional_lite_has(const char *const *path, int n)
{
	static const char *const groups[] = {"vulnerabilityDetails", "artifactDetails", "softwareDetails"};
	for (size_t i = 0; i < DD_ARRAY_LEN(lite_paths); i++) {
		int depth = lite_paths[i][1] ? 2 : 1;
		if (n < depth || strcmp(path[0], lite_paths[i][0]) || (depth == 2 && strcmp(path[1], lite_paths[i][1])))
			continue;
		for (size_t g = 0; g < DD_ARRAY_LEN(groups); g++)
			if (!strcmp(path[0], groups[g]))
				return AZ_LITE_VULN << g;
		return AZ_LITE_TOP;
	}
	return 0;
}

json_t *azure_additional_lite_image(const struct azure_names *n, enum azure_key k, const struct assessment_rec *rec)
{
	return k == AZURE_KEY_QUALYS ? qualys_image_of(n, rec) : artifact_of(n, rec);
}

json_t *azure_additional_lite_vuln(const char *id, const char *const *aliases, size_t naliases, const char *severity)
{
	return json_pack("{s:s, s:s}", "severity", azure_severity(severity), "cveId", cve_id_of(id, aliases, naliases));
}

json_t *azure_additional_lite(enum azure_key k, unsigned groups, json_t *image, json_t *vuln, const char *id,
			      const char *const *aliases, size_t naliases, const char *package, const char *path,
			      const char *severity)
{
	if (k == AZURE_KEY_QUALYS)
		return json_incref(image);
	json_t *o = json_pack("{s:s}", "assessedResourceType", keys[AZURE_KEY_MDVM].resource_type);
	if ((groups & AZ_LITE_VULN) && vuln)
		json_object_set(o, "vulnerabilityDetails", vuln);
	else if (groups & AZ_LITE_VULN)
		json_object_set_new(o, "vulnerabilityDetails", azure_additional_lite_vuln(id, aliases, naliases, severity));
	if (groups & AZ_LITE_ARTIFACT)
		json_object_set(o, "artifactDetails", image);
	if (groups & AZ_LITE_SOFTWARE)
		json_object_set_new(o, "softwareDetails",
				    json_pack("{s:s, s:s}", "packageName", package, "category",
					      path && *path ? LANGUAGE_CATEGORY : SOFTWARE_CATEGORY));
	return o;
}

/* The 2020 shape: additionalData of type ContainerRegistryVulnerability. */
static json_t *additional_qualys(struct arena *a, const struct azure_names *n, const struct assessment_rec *rec,
				 json_t *f)
{
	json_t *refs = json_array(), *ref;
	size_t i;
	const char *id = str_of(f, "id");
	json_array_foreach(json_object_get(f, "references"), i, ref)
		if (json_is_string(ref))
			json_array_append_new(refs, json_pack("{s:s, s:O}", "title", id, "link", ref));
	double v3;
	json_t *pub = json_object_get(f, "published");
	json_t *o = json_pack("{s:s, s:s, s:o, s:o, s:b, s:O, s:o}", "assessedResourceType",
			      keys[AZURE_KEY_QUALYS].resource_type, "type", QUALYS_TYPE, "cve", cve_links(a, f), "cvss",
			      cvss_of(f, &v3), "patchable", json_is_true(json_object_get(f, "patchable")), "publishedTime",
			      json_is_string(pub) ? pub : json_null(), "vendorReferences", refs);
	json_object_update_new(o, qualys_names_of(n, rec));
	return o;
}

/* "Debian:12" -> ("Debian", "12"); no ecosystem: ("", ""). */
static void os_of(struct arena *a, const char *eco, const char **name, const char **version)
{
	*name = *version = "";
	if (!eco || !*eco)
		return;
	size_t c = strcspn(eco, ":");
	*name = arena_strndup(a, eco, c);
	*version = eco[c] ? eco + c + 1 : "";
}

/* The current shape: additionalData of type AzureContainerRegistryVulnerability. */
static json_t *additional_mdvm(struct arena *a, const struct azure_names *n, const struct assessment_rec *rec,
			       const struct azure_image *img, const char *eco, json_t *f)
{
	const char *id = str_of(f, "id");
	json_t *refs = cve_links(a, f), *ref, *al;
	size_t i;
	json_array_foreach(json_object_get(f, "references"), i, ref)
		if (json_is_string(ref))
			json_array_append_new(refs, json_pack("{s:s, s:O}", "title", id, "link", ref));
	const char *few[16], **aliases = json_array_size(json_object_get(f, "aliases")) <= DD_ARRAY_LEN(few)
						   ? few
						   : arena_alloc(a, json_array_size(json_object_get(f, "aliases")) * sizeof(*aliases));
	size_t nal = 0;
	json_array_foreach(json_object_get(f, "aliases"), i, al) if (json_is_string(al)) aliases[nal++] = json_string_value(al);
	double v3;
	json_t *cvss = cvss_of(f, &v3);
	const char *sev = azure_severity(json_string_value(json_object_get(f, "severity")));
	json_t *vuln = json_pack("{s:s, s:s, s:o, s:[], s:o}", "severity", sev, "cveId", cve_id_of(id, aliases, nal), "cvss",
				 cvss, "workarounds", "references", refs);
	json_t *pub = json_object_get(f, "published"), *mod = json_object_get(f, "modified");
	if (json_is_string(pub))
		json_object_set(vuln, "publishedDate", pub);
	if (json_is_string(mod))
		json_object_set(vuln, "lastModifiedDate", mod);
	json_t *tags = json_array();
	for (size_t t = 0; img && t < img->ntags; t++)
		json_array_append_new(tags, json_string(img->tags[t]));
	json_t *art = artifact_of(n, rec);
	json_object_set_new(art, "tags", tags);
	if (img && img->media_type)
		json_object_set_new(art, "mediaType", json_string(img->media_type));
	if (img && img->pushed)
		json_object_set_new(art, "lastPushedToRegistryUTC", json_string(util_iso_time(a, img->pushed)));
	const char *osname, *osver;
	os_of(a, eco, &osname, &osver);
	const char *fixed = json_string_value(json_object_get(f, "fixed_version"));
	int patchable = json_is_true(json_object_get(f, "patchable"));
	/* the vendor of an OS package is its distribution; of an application package, its ecosystem's
	 * registry (there is no CPE vendor to name) */
	const char *lang = language_of(str_of(f, "ecosystem"));
	char *vendor = arena_strdup(a, *lang ? str_of(f, "ecosystem") : osname);
	for (char *p = vendor; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	json_t *soft = json_pack("{s:{s:s, s:s, s:s}, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:[]}", "osDetails",
				 "osPlatform", "linux", "osName", osname, "osVersion", osver, "packageName",
				 str_of(f, "package"), "category",
				 *language_of(str_of(f, "ecosystem")) ? LANGUAGE_CATEGORY : SOFTWARE_CATEGORY, "language",
				 language_of(str_of(f, "ecosystem")), "vendor", vendor, "version",
				 json_string_value(json_object_get(f, "package_version"))
				     ? json_string_value(json_object_get(f, "package_version"))
				     : str_of(f, "installed_version"),
				 "fixedVersion", fixed ? fixed : "", "fixStatus",
				 patchable ? "FixAvailable" : "NoFixAvailable", "evidence");
	json_t *o = json_pack("{s:s, s:o, s:o, s:o}", "assessedResourceType", keys[AZURE_KEY_MDVM].resource_type,
			      "vulnerabilityDetails", vuln, "artifactDetails", art, "softwareDetails", soft);
	if (v3 >= 0)
		json_object_set_new(o, "cvssV30Score", json_real(v3));
	return o;
}

json_t *azure_subassessment(struct arena *a, const struct azure_names *n, enum azure_key k,
			    const struct assessment_rec *rec, const struct azure_image *img, const char *eco, json_t *f)
{
	return azure_subassessment_parts(a, n, k, rec, img, eco, f, AZP_ALL);
}

const char *azure_subassessment_id(struct arena *a, const struct azure_names *n, enum azure_key k, const char *repo,
				   const char *name)
{
	return arena_printf(a, "%s/providers/Microsoft.Security/assessments/%s/subAssessments/%s",
			    azure_registry_id(a, n, azure_subscription_of(a, n, repo)), keys[k].name, name);
}

json_t *azure_subassessment_parts(struct arena *a, const struct azure_names *n, enum azure_key k,
				  const struct assessment_rec *rec, const struct azure_image *img, const char *eco, json_t *f,
				  unsigned parts)
{
	const char *id = str_of(f, "id"), *pkg = str_of(f, "package");
	json_t *o = json_pack("{s:s}", "type", "Microsoft.Security/assessments/subAssessments");
	if (parts & AZP_ENVELOPE) {
		const char *name = azure_subassessment_name(a, rec->repo, rec->digest, f);
		json_object_set_new(o, "id", json_string(azure_subassessment_id(a, n, k, rec->repo, name)));
		json_object_set_new(o, "name", json_string(name));
	}
	if (!(parts & ~AZP_ENVELOPE))
		return o;
	json_t *props = json_object();
	if (parts & AZP_ID)
		json_object_set_new(props, "id", json_string(id));
	if (parts & AZP_STATUS)
		json_object_set_new(props, "status", sub_status(f));
	if (parts & AZP_TEXTS) {
		const char *desc = json_string_value(json_object_get(f, "description"));
		const char *summary = json_string_value(json_object_get(f, "summary"));
		const char *remediation = json_string_value(json_object_get(f, "remediation"));
		json_object_set_new(props, "remediation", json_string(remediation ? remediation : ""));
		json_object_set_new(props, "description", json_string(desc && *desc ? desc : id));
		if (k == AZURE_KEY_QUALYS) {
			json_object_set_new(props, "displayName",
					    json_string(summary && *summary ? summary : arena_printf(a, "%s in %s", id, pkg)));
			json_object_set_new(props, "impact",
					    json_string(arena_printf(a, "%s %s (%s) in this image is affected", pkg,
								     str_of(f, "package_version"), str_of(f, "severity"))));
			json_object_set_new(props, "category", json_string(*language_of(str_of(f, "ecosystem")) ? "Language package"
													       : "OS package"));
		} else
			json_object_set_new(props, "displayName", json_string(id));
	}
	if (parts & AZP_TIME)
		json_object_set_new(props, "timeGenerated", json_string(util_iso_time(a, rec->scanned_at)));
	if (parts & AZP_RESOURCE)
		json_object_set_new(props, "resourceDetails",
				    json_pack("{s:s, s:s}", "source", "Azure", "id",
					      arena_printf(a, "/repositories/%s/images/%s", rec->repo, rec->digest)));
	if (parts & AZP_ADDITIONAL)
		json_object_set_new(props, "additionalData", k == AZURE_KEY_QUALYS ? additional_qualys(a, n, rec, f)
										 : additional_mdvm(a, n, rec, img, eco, f));
	json_object_set_new(o, "properties", props);
	return o;
}

/* ---- the REST paths ---- */

/* A parsed request path: [scope]/providers/Microsoft.Security/<what>. */
struct azure_req {
	const char *ns;  /* the namespace the scope stands for, or NULL for every one */
	int none;        /* the scope names no registry of this server: nothing in it */
	enum { W_ASSESSMENTS, W_ASSESSMENT, W_SUBS, W_SUB, W_SUBS_ALL } what;
	int key;          /* W_ASSESSMENT, W_SUBS, W_SUB */
	const char *name; /* W_SUB */
	long skip, top;
};

/* Consumes "/lit" (case-insensitive, as Azure Resource Manager reads paths) at *p. */
static int literal(const char **p, const char *lit)
{
	size_t n = strlen(lit);
	if ((*p)[0] != '/' || strncasecmp(*p + 1, lit, n) || ((*p)[1 + n] && (*p)[1 + n] != '/'))
		return 0;
	*p += 1 + n;
	return 1;
}

/* Consumes "/value" at *p: an arena copy, or NULL when there is none. */
static const char *segment(struct arena *a, const char **p)
{
	if ((*p)[0] != '/' || !(*p)[1] || (*p)[1] == '/')
		return NULL;
	size_t n = strcspn(*p + 1, "/");
	const char *v = arena_strndup(a, *p + 1, n);
	*p += 1 + n;
	return v;
}

/* 0, or a message for a 404. */
static const char *parse_path(struct arena *a, const char *p, const struct azure_names *n, struct azure_req *q)
{
	memset(q, 0, sizeof(*q));
	q->key = -1;
	if (literal(&p, "subscriptions")) {
		const char *s = segment(a, &p), *g, *reg;
		if (!s)
			return "the subscription id is missing";
		if (*n->subscription)
			q->none |= !!strcasecmp(s, n->subscription);
		else
			q->ns = s;
		if (literal(&p, "resourceGroups")) {
			if (!(g = segment(a, &p)))
				return "the resource group name is missing";
			q->none |= !!strcasecmp(g, n->resource_group);
			const char *save = p;
			if (literal(&p, "providers") && literal(&p, "Microsoft.ContainerRegistry")) {
				if (!literal(&p, "registries") || !(reg = segment(a, &p)))
					return "use .../providers/Microsoft.ContainerRegistry/registries/<name>";
				q->none |= !!strcasecmp(reg, n->registry);
			} else
				p = save;
		}
	}
	if (!literal(&p, "providers") || !literal(&p, "Microsoft.Security"))
		return "see docs/api.md for the Microsoft.Security paths";
	if (literal(&p, "subAssessments")) {
		q->what = W_SUBS_ALL;
		return *p ? "no such path under subAssessments" : NULL;
	}
	if (!literal(&p, "assessments"))
		return "the Microsoft.Security resources served are assessments and subAssessments";
	q->what = W_ASSESSMENTS;
	if (!*p || !strcmp(p, "/"))
		return NULL;
	const char *key = segment(a, &p);
	if (!key || (q->key = azure_key_find(key)) < 0)
		return arena_printf(a, "the assessment '%s' is not found: the assessments are " AZURE_KEY_QUALYS_NAME
				       " and " AZURE_KEY_MDVM_NAME, key ? key : "");
	q->what = W_ASSESSMENT;
	if (!*p)
		return NULL;
	if (!literal(&p, "subAssessments"))
		return "no such path under the assessment";
	q->what = W_SUBS;
	if (!*p || !strcmp(p, "/"))
		return NULL;
	q->what = W_SUB;
	if (!(q->name = segment(a, &p)) || *p)
		return "no such path under subAssessments";
	return NULL;
}

static int in_scope(const struct azure_req *q, const char *repo)
{
	if (q->none)
		return 0;
	size_t nl = strcspn(repo, "/");
	return !q->ns || (strlen(q->ns) == nl && !strncmp(q->ns, repo, nl));
}

/* Whether an image of repository `listed` (one listed by assessments_list) is Unhealthy under the
 * rules, as the assessment reports it. */
static int azure_image_unhealthy(struct assess_api *api, struct arena *a, const struct rule *rules, size_t nrules,
				 const struct assessment_rec *listed)
{
	long long c[6], u;
	if (!rules_cover(rules, nrules, listed->repo) && counts_parse(listed->counts, c, &u))
		return assessment_status_is(listed->status, STATUS_UNHEALTHY); /* the stored status stands */
	struct assessment_rec full;
	if (api->meta->scans->assessment_get(api->meta, a, listed->repo, listed->digest, &full) || !*full.report)
		return 0;
	json_t *rep = json_loads(full.report, 0, NULL);
	int unhealthy = assessment_status_is(rules_apply(rules, nrules, full.repo, rep, full.status), STATUS_UNHEALTHY);
	json_decref(rep);
	return unhealthy;
}
/* Whether any image the caller may see, of namespace ns when not NULL, is Unhealthy under the
 * rules: from the running totals of the repositories no rule covers, image by image elsewhere. */
static int azure_unhealthy(struct assess_api *api, struct arena *a, struct http_req *r, const char *ns,
			   const struct rule *rules, size_t nrules, int *unhealthy)
{
	struct meta *m = api->meta;
	struct assessment_total *v;
	size_t n;
	int rc;
	*unhealthy = 0;
	if (!ns && !nrules && access_visible_all(r)) {
		if ((rc = m->scans->assessment_totals(m, a, "", &v, &n)))
			return rc;
		int64_t uncounted = 0;
		for (size_t i = 0; i < n; i++) {
			uncounted += v[i].uncounted;
			*unhealthy |= assessment_status_is(v[i].status, STATUS_UNHEALTHY);
		}
		if (!uncounted)
			return 0;
		*unhealthy = 0;
	}
	if ((rc = m->scans->assessment_totals(m, a, NULL, &v, &n)))
		return rc;
	for (size_t i = 0, j; i < n && !*unhealthy; i = j) { /* one repository: entries i..j-1 */
		int64_t uncounted = 0;
		int any = 0;
		for (j = i; j < n && !strcmp(v[j].repo, v[i].repo); j++) {
			uncounted += v[j].uncounted;
			any |= assessment_status_is(v[j].status, STATUS_UNHEALTHY);
		}
		const char *repo = v[i].repo;
		size_t nl = strcspn(repo, "/");
		if ((ns && (strlen(ns) != nl || strncmp(ns, repo, nl))) || !access_visible(r, repo))
			continue;
		if (!uncounted && !rules_cover(rules, nrules, repo)) {
			*unhealthy = any;
			continue;
		}
		struct assessment_rec *img;
		size_t ni;
		if ((rc = m->scans->assessments_list(m, a, repo, &img, &ni)))
			return rc;
		for (size_t k = 0; k < ni && !*unhealthy; k++)
			*unhealthy = azure_image_unhealthy(api, a, rules, nrules, &img[k]);
	}
	return 0;
}

/* The state of the assessment over the images of namespace ns (NULL: every one) that the caller
 * may see, v[0..n-1] being every stored assessment (assessments_list). The dates come from the
 * stored assessments, before suppression rules: the first evaluation is the earliest image
 * assessment; the status changed, for Unhealthy, when the earliest Unhealthy image was assessed,
 * for Healthy, at the latest image assessment. */
static int assessment_state(struct assess_api *api, struct arena *a, struct http_req *r, const char *ns,
			    const struct rule *rules, size_t nrules, const struct assessment_rec *v, size_t n,
			    struct azure_state *st)
{
	int unhealthy, rc;
	memset(st, 0, sizeof(*st));
	if ((rc = azure_unhealthy(api, a, r, ns, rules, nrules, &unhealthy)))
		return rc;
	st->code = assessment_status_name(unhealthy ? STATUS_UNHEALTHY : STATUS_HEALTHY);
	int64_t first = 0, first_bad = 0, last = 0;
	struct azure_req q = {.ns = ns};
	for (size_t i = 0; i < n; i++) {
		if (!in_scope(&q, v[i].repo) || !access_visible(r, v[i].repo) || !v[i].scanned_at)
			continue;
		int64_t t = v[i].scanned_at;
		first = !first || t < first ? t : first;
		last = t > last ? t : last;
		if (assessment_status_is(v[i].status, STATUS_UNHEALTHY))
			first_bad = !first_bad || t < first_bad ? t : first_bad;
	}
	st->first_evaluation = first;
	st->status_change = unhealthy && first_bad ? first_bad : last;
	return 0;
}

/* The namespaces that hold an assessed image the caller may see, distinct. */
static int visible_namespaces(struct assess_api *api, struct arena *a, struct http_req *r, const char ***out,
			      size_t *nout)
{
	struct assessment_total *v;
	size_t n;
	int rc;
	*out = NULL;
	*nout = 0;
	if ((rc = api->meta->scans->assessment_totals(api->meta, a, NULL, &v, &n)))
		return rc;
	const char **ns = arena_alloc(a, (n + 1) * sizeof(*ns));
	size_t k = 0;
	for (size_t i = 0; i < n; i++) { /* by repository ("a", "a-b/c", "a/c": not always adjacent) */
		const char *repo = v[i].repo;
		size_t nl = strcspn(repo, "/"), j = k;
		if (!access_visible(r, repo))
			continue;
		while (j > 0 && !(strlen(ns[j - 1]) == nl && !strncmp(ns[j - 1], repo, nl)))
			j--;
		if (!j)
			ns[k++] = arena_strndup(a, repo, nl);
	}
	*out = ns;
	*nout = k;
	return 0;
}

/* The tags of image (repo, digest), the first AZURE_MAX_TAGS, into img. */
static void image_tags(struct meta *m, struct arena *a, const char *repo, const char *digest, struct azure_image *img)
{
	int more;
	img->tags = NULL;
	img->ntags = 0;
	if (m->repos->tags_of(m, a, repo, digest, AZURE_MAX_TAGS, (const char ***)&img->tags, &img->ntags, &more))
		img->ntags = 0;
}

/* A walk under way: azure_walk's state for each image the store gives. */
struct walking {
	struct assess_api *api;
	struct http_req *r;
	const struct azure_walk *w;
	const struct vulndb *db;
	unsigned parts;
	int stop;
};

static int walk_image(void *ctx, const struct assessment_rec *full)
{
	struct walking *g = ctx;
	const struct azure_walk *w = g->w;
	struct meta *m = g->api->meta;
	size_t nl = strcspn(full->repo, "/");
	if ((w->ns && (strlen(w->ns) != nl || strncmp(w->ns, full->repo, nl))) || (g->r && !access_visible(g->r, full->repo)) ||
	    !*full->report)
		return 0;
	int wanted = w->want_image ? w->want_image(w->ctx, full) : 1;
	if (wanted <= 0)
		return wanted < 0 ? AZURE_WALK_STOP : 0;
	struct arena ia = {0}; /* the image's: released before the next */
	json_t *rep = json_loads(full->report, 0, NULL), *f;
	const char *eco = arena_strdup(&ia, str_of(rep, "ecosystem"));
	rules_apply(w->rules, w->nrules, full->repo, rep, full->status); /* marks the suppressed findings */
	struct azure_image img = {0};
	int have_img = 0, rc = 0;
	size_t k;
	json_array_foreach(json_object_get(rep, "findings"), k, f)
	{
		int hydrated = 0;
		for (int j = 0; j < w->nkeys && !g->stop; j++) {
			int want = w->want ? w->want(w->ctx, w->keys[j], full, f) : 1;
			if (want < 0)
				g->stop = 1;
			if (want <= 0)
				continue;
			if (!hydrated && (g->parts & (AZP_TEXTS | AZP_ADDITIONAL)))
				report_hydrate(g->db, eco, f); /* texts only for the findings built */
			hydrated = 1;
			if (w->keys[j] == AZURE_KEY_MDVM && !have_img && (g->parts & AZP_ADDITIONAL)) {
				struct manifest_rec mr;
				if (!m->repos->manifest_get(m, &ia, full->repo, full->digest, 1, 0, &mr)) {
					img.media_type = mr.media_type;
					img.pushed = mr.created;
				}
				image_tags(m, &ia, full->repo, full->digest, &img);
				have_img = 1;
			}
			json_t *o = azure_subassessment_parts(&ia, w->names, w->keys[j], full, &img, eco, f, g->parts);
			if ((rc = w->emit(w->ctx, w->keys[j], full, o)))
				g->stop = 1;
			if (rc == AZURE_WALK_STOP)
				rc = 0;
		}
		if (g->stop)
			break;
	}
	json_decref(rep);
	arena_free(&ia);
	return rc ? rc : g->stop ? AZURE_WALK_STOP : 0;
}

int azure_walk(struct assess_api *api, struct arena *a, struct http_req *r, const struct azure_walk *w)
{
	(void)a;
	void *tok = NULL; /* the database that fills the texts of the sub-assessments built */
	struct walking g = {.api = api, .r = r, .w = w, .parts = w->parts ? w->parts : AZP_ALL};
	g.db = api->db ? api->db : scanner_db_acquire(api->scanner, &tok);
	int rc = 0;
	if (!w->only)
		rc = api->meta->scans->assessments_each(api->meta, w->repo, walk_image, &g);
	for (size_t i = 0; w->only && i < w->nonly && !rc; i++) {
		struct arena ia = {0};
		struct assessment_rec full;
		int got = api->meta->scans->assessment_get(api->meta, &ia, w->only[i].repo, w->only[i].digest, &full);
		if (got && got != DD_E_NOT_FOUND) /* one deleted since it was listed is passed over */
			rc = got;
		else if (!got)
			rc = walk_image(&g, &full);
		arena_free(&ia);
	}
	scanner_db_release(api->scanner, tok);
	return rc == AZURE_WALK_STOP ? 0 : rc;
}

/* What the REST listing collects: one sub-assessment by name, or a page. */
struct rest_walk {
	struct arena *a;
	const char *name; /* the one wanted, or NULL for a page */
	long skip, top, seen;
	json_t *value;    /* the page */
	json_t *found;    /* the one wanted */
	int more;
};

static int rest_want(void *ctx, enum azure_key k, const struct assessment_rec *rec, json_t *f)
{
	(void)k;
	struct rest_walk *w = ctx;
	if (w->name)
		return !strcasecmp(w->name, azure_subassessment_name(w->a, rec->repo, rec->digest, f));
	if (w->seen++ < w->skip)
		return 0;
	if ((long)json_array_size(w->value) >= w->top) {
		w->more = 1;
		return -1;
	}
	return 1;
}

static int rest_emit(void *ctx, enum azure_key k, const struct assessment_rec *rec, json_t *o)
{
	(void)k;
	(void)rec;
	struct rest_walk *w = ctx;
	if (!w->name) {
		json_array_append_new(w->value, o);
		return 0;
	}
	w->found = o;
	return AZURE_WALK_STOP; /* the one wanted */
}

static int plain_host(const char *h)
{
	if (!h || !*h || strlen(h) > 255)
		return 0;
	for (; *h; h++)
		if (!isalnum((unsigned char)*h) && !strchr(".-:[]", *h))
			return 0;
	return 1;
}

/* The path as it goes in a URL: bytes outside RFC 3986's pchar set and '/' percent-encoded. */
static const char *url_path(struct arena *a, const char *p)
{
	size_t n = strlen(p);
	char *out = arena_alloc(a, 3 * n + 1), *o = out;
	for (; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (isalnum(c) || strchr("-._~!$&'()*+,;=:@/", c))
			*o++ = (char)c;
		else
			o += snprintf(o, 4, "%%%02X", c);
	}
	*o = 0;
	return out;
}

static int one_of(const char *v, const char *const *set)
{
	for (; *set; set++)
		if (!strcmp(v, *set))
			return 1;
	return 0;
}

/* Reads a non-negative count from query parameter name; 0 with *out, or a 400 answered. */
static int query_count(struct http_req *r, const char *name, long lo, long dflt, long *out)
{
	const char *s = http_query(r, name);
	*out = dflt;
	if (!http_has_query(r, name))
		return 0;
	char *end;
	errno = 0;
	long v = s ? strtol(s, &end, 10) : 0;
	if (!s || !*s || *end || errno || v < lo) {
		azure_error(r, 400, "InvalidQueryParameterValue",
			    arena_printf(&r->arena, "the value of '%s' must be an integer of at least %ld", name, lo));
		return -1;
	}
	*out = v;
	return 0;
}

int azure_access(struct http_req *r)
{
	int rc = access_check(r, NULL, ACCESS_BASE);
	if (rc) {
		int status = dd_err_http_status(rc);
		const char *msg = access_why(r);
		azure_error(r, status,
			    status == 401   ? "AuthenticationFailed"
			    : status == 429 ? "TooManyRequests"
					    : "AuthorizationFailed",
			    msg && *msg ? msg : dd_err_message(rc));
		access_add_challenge(r, rc, NULL, ACCESS_BASE); /* headers go on the response just set */
		return rc;
	}
	return 0;
}

void azure_names_of(struct assess_api *api, struct arena *a, struct http_req *r, struct azure_names *n)
{
	const char *host = r ? http_header(r, "Host") : api->host;
	host = plain_host(host) ? host : "localhost";
	n->subscription = api->azure_subscription ? api->azure_subscription : "";
	n->resource_group = api->azure_resource_group && *api->azure_resource_group ? api->azure_resource_group : "drydock";
	n->registry = api->azure_registry;
	n->host = host;
	if (!n->registry || !*n->registry) { /* the host name, without the port */
		size_t len = *host == '[' ? strcspn(host, "]") + 1 : strcspn(host, ":");
		n->registry = arena_strndup(a, host, len);
	}
}

int azure_assessments_append(struct assess_api *api, struct arena *a, struct http_req *r, const struct azure_names *n,
			     const struct rule *rules, size_t nrules, const char *ns, int key, json_t *value)
{
	/* the registries in scope: the configured subscription's, or one per namespace */
	const char **list = NULL;
	size_t nl = 0;
	int rc;
	if (*n->subscription || ns) {
		list = arena_alloc(a, sizeof(*list));
		list[nl++] = *n->subscription ? n->subscription : ns;
	} else if ((rc = visible_namespaces(api, a, r, &list, &nl)))
		return rc;
	struct assessment_rec *v = NULL; /* every stored assessment, for the dates */
	size_t nv = 0;
	if (nl && (rc = api->meta->scans->assessments_list(api->meta, a, NULL, &v, &nv)))
		return rc;
	for (size_t i = 0; i < nl; i++) {
		struct azure_state st;
		if ((rc = assessment_state(api, a, r, *n->subscription ? NULL : list[i], rules, nrules, v, nv, &st)))
			return rc;
		for (int k = 0; k < AZURE_NKEYS; k++)
			if (key < 0 || k == key)
				json_array_append_new(value, azure_assessment(a, n, k, list[i], &st));
	}
	return 0;
}

void azure_handle(struct http_req *r, struct assess_api *api)
{
	struct arena *a = &r->arena;
	struct azure_names n;
	azure_names_of(api, a, r, &n);
	const char *host = n.host;
	struct azure_req q;
	const char *why = parse_path(a, r->path, &n, &q);
	if (why) {
		azure_error(r, 404, "ResourceNotFound", why);
		return;
	}
	if (strcmp(r->method, "GET")) {
		azure_error(r, 405, "MethodNotAllowed", "the Microsoft.Security resources are read-only here: use GET");
		http_add_header(r, "Allow", "GET");
		return;
	}
	if (azure_access(r)) /* then only the repositories the caller may see */
		return;
	/* api-version: required, one the operation has */
	static const char *const assessment_versions[] = {"2019-01-01-preview", "2020-01-01", "2021-06-01", NULL};
	static const char *const sub_versions[] = {AZURE_SUB_API, NULL};
	int subs = q.what == W_SUBS || q.what == W_SUB || q.what == W_SUBS_ALL;
	const char *version = http_query(r, "api-version");
	if (!version || !*version) {
		azure_error(r, 400, "MissingApiVersionParameter",
			    "The api-version query parameter (?api-version=) is required for all requests.");
		return;
	}
	if (!one_of(version, subs ? sub_versions : assessment_versions)) {
		azure_error(r, 400, "InvalidApiVersionParameter",
			    arena_printf(a, "The api-version '%s' is invalid. The supported versions are '%s'.", version,
					 subs ? AZURE_SUB_API : "2019-01-01-preview,2020-01-01,2021-06-01"));
		return;
	}
	/* the OData options: none is documented for these operations but $expand on one assessment;
	 * an option that would change the answer is refused, never ignored */
	static const char *const odata[] = {"$filter", "$select", "$orderby", "$search", "$count",
					    "$apply",  "$skip",   "$expand", NULL};
	for (const char *const *o = odata; *o; o++) {
		if (!http_has_query(r, *o))
			continue;
		const char *ev = http_query(r, *o);
		if (!strcmp(*o, "$expand") && q.what == W_ASSESSMENT && ev &&
		    (!strcmp(ev, "links") || !strcmp(ev, "metadata")))
			continue; /* metadata is always there; links to Azure's portal have no meaning here */
		azure_error(r, 400, "InvalidQueryParameter",
			    arena_printf(a, "the query option '%s' is not supported on this operation%s", *o,
					 !strcmp(*o, "$skip") ? ": page with the nextLink ($skipToken)" : ""));
		return;
	}
	int paged = q.what == W_SUBS || q.what == W_SUBS_ALL;
	static const char *const paging[] = {"$top", "$skipToken", NULL};
	for (const char *const *o = paging; *o && !paged; o++)
		if (http_has_query(r, *o)) {
			azure_error(r, 400, "InvalidQueryParameter",
				    arena_printf(a, "the query option '%s' is not supported on this operation", *o));
			return;
		}
	if (query_count(r, "$skipToken", 0, 0, &q.skip) || query_count(r, "$top", 1, AZURE_PAGE, &q.top))
		return;
	if (q.top > AZURE_PAGE)
		q.top = AZURE_PAGE;
	struct rule *rules;
	size_t nrules = 0;
	rules_load(api->meta, a, &rules, &nrules);
	if (q.what == W_ASSESSMENT && q.none) {
		azure_error(r, 404, "ResourceNotFound", "the scope names no registry of this server");
		return;
	}
	if (q.what == W_ASSESSMENT && !*n.subscription && !q.ns) {
		/* one assessment asked for with no subscription: the aggregate of every registry */
		struct assessment_rec *v = NULL;
		size_t nv = 0;
		struct azure_state st;
		if (api->meta->scans->assessments_list(api->meta, a, NULL, &v, &nv) ||
		    assessment_state(api, a, r, NULL, rules, nrules, v, nv, &st)) {
			azure_error(r, 500, "InternalServerError", "cannot read the assessments");
			return;
		}
		web_send_json(r, 200, azure_assessment(a, &n, q.key, NULL, &st));
		return;
	}
	if (q.what == W_ASSESSMENT || q.what == W_ASSESSMENTS) {
		json_t *value = json_array();
		if (!q.none && azure_assessments_append(api, a, r, &n, rules, nrules, q.ns,
							q.what == W_ASSESSMENT ? q.key : -1, value)) {
			json_decref(value);
			azure_error(r, 500, "InternalServerError", "cannot read the assessments");
			return;
		}
		if (q.what == W_ASSESSMENT) {
			json_t *one = json_incref(json_array_get(value, 0));
			json_decref(value);
			web_send_json(r, 200, one);
		} else
			web_send_json(r, 200, json_pack("{s:o}", "value", value));
		return;
	}
	struct rest_walk w = {.a = a, .name = q.what == W_SUB ? q.name : NULL, .skip = q.skip, .top = q.top,
			      .value = json_array()};
	int keys[AZURE_NKEYS], nkeys = 0;
	for (int k = 0; k < AZURE_NKEYS; k++)
		if (q.what == W_SUBS_ALL || k == q.key)
			keys[nkeys++] = k;
	struct azure_walk aw = {.names = &n, .rules = rules, .nrules = nrules, .keys = keys, .nkeys = nkeys,
				.ns = q.ns, .want = rest_want, .emit = rest_emit, .ctx = &w};
	if (!q.none && azure_walk(api, a, r, &aw)) {
		json_decref(w.value);
		azure_error(r, 500, "InternalServerError", "cannot read the assessments");
		return;
	}
	if (q.what == W_SUB) {
		json_decref(w.value);
		if (!w.found)
			azure_error(r, 404, "ResourceNotFound",
				    arena_printf(a, "the sub-assessment '%s' is not found in this scope", q.name));
		else
			web_send_json(r, 200, w.found);
		return;
	}
	json_t *o = json_pack("{s:o}", "value", w.value);
	if (w.more) {
		const char *top = http_has_query(r, "$top") ? arena_printf(a, "&$top=%ld", q.top) : "";
		json_object_set_new(o, "nextLink",
				    json_string(arena_printf(a, "%s://%s%s?api-version=%s&$skipToken=%ld%s",
							     api->tls ? "https" : "http", host, url_path(a, r->path),
							     AZURE_SUB_API, q.skip + q.top, top)));
	}
	web_send_json(r, 200, o);
}
