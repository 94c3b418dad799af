/* tables.c: securityresources and resources over the store (see tables.h). Each table is a scan
 * (query.h) that builds its rows one image at a time and hands them to the engine, which keeps
 * those that pass the query's leading `where`; what the hint rules out is never built. */
#include "common/dd.h"
#include "assess/tables.h"
#include "assess/api.h"
#include "assess/azure.h"
#include "assess/idcache.h"
#include "assess/rules.h"
#include "auth/access.h"
#include "common/arena.h"
#include "common/strmap.h"
#include "common/util.h"
#include "scan/parts.h"
#include "vulndb/vulndb.h"
#include "scan/status.h"
#include "store/meta_repos.h"
#include "store/blobstore.h"
#include "store/meta_scans.h"
#include <openssl/sha.h>

#define T_SUB_TYPE "microsoft.security/assessments/subassessments"
#define T_ASSESS_TYPE "microsoft.security/assessments"
#define T_REGISTRY_TYPE "microsoft.containerregistry/registries"
#define T_REPO_TYPE "microsoft.containerregistry/registries/repositories"
#define T_IMAGE_TYPE "microsoft.containerregistry/registries/repositories/images"

/* Resource Graph's columns, the same for both tables. */
enum col {
	C_ID, C_NAME, C_TYPE, C_TENANT, C_KIND, C_LOCATION, C_RG, C_SUB, C_MANAGED_BY, C_SKU, C_PLAN,
	C_PROPERTIES, C_TAGS, C_IDENTITY, C_ZONES, C_EXTENDED_LOCATION, NCOLS
};
static const struct query_column columns[NCOLS] = {
	{"id", QT_STRING},         {"name", QT_STRING},        {"type", QT_STRING},     {"tenantId", QT_STRING},
	{"kind", QT_STRING},       {"location", QT_STRING},    {"resourceGroup", QT_STRING},
	{"subscriptionId", QT_STRING}, {"managedBy", QT_STRING}, {"sku", QT_DYNAMIC},  {"plan", QT_DYNAMIC},
	{"properties", QT_DYNAMIC}, {"tags", QT_DYNAMIC},      {"identity", QT_DYNAMIC}, {"zones", QT_DYNAMIC},
	{"extendedLocation", QT_DYNAMIC},
};

/* What a finding's filter is about, once the hint's paths are read. */
enum field { F_NONE, F_REPO, F_DIGEST, F_SEVERITY, F_VULN, F_PACKAGE, F_NAME, F_SUB, F_TYPE, F_RTYPE };

/* A hint's filter the scans understand: the field, the keys whose rows have that path (a row of
 * another key has null there and cannot pass), and the values. */
struct tfilter {
	enum field field;
	unsigned keys;
	const struct query_filter *f;
};

struct tctx {
	struct assess_api *api;
	const struct assess_query *aq;
	struct arena *a;
	struct azure_names names;
	const char *rg_lower;
	struct rule *rules;
	size_t nrules;
	/* the scan under way */
	query_emit_fn emit;
	void *q;
	struct tfilter tf[32];
	int ntf;
	unsigned keys;        /* the keys whose sub-assessments may pass */
	int want_sub, want_assess, want_registry, want_repo, want_image;
	const char *repo;     /* one repository, when a filter names exactly one */
	const struct query_use *use; /* what the query reads of each column, NULL: everything */
	unsigned parts;       /* of a sub-assessment, what the query reads (enum azure_part) */
	int lite;             /* what it reads of additionalData is in azure_additional_lite's part */
	unsigned lite_groups; /* and which of its groups (enum az_lite) */
	int rc;               /* the engine's code that stopped the scan */
};

static int eq(const struct query_filter *f, const char *v, size_t i)
{
	return f->icase ? !strcasecmp(f->values[i], v) : !strcmp(f->values[i], v);
}

/* Whether value v is one of filter f's values. */
static int matches(const struct query_filter *f, const char *v)
{
	for (size_t i = 0; i < f->nvalues; i++)
		if (eq(f, v ? v : "", i))
			return 1;
	return 0;
}

static int path_is(const struct query_filter *f, int column, const char *const *path, int n)
{
	if (f->column != column || f->npath != n)
		return 0;
	for (int i = 0; i < n; i++)
		if (strcmp(f->path[i], path[i]))
			return 0;
	return 1;
}

#define ALL_KEYS ((1u << AZURE_NKEYS) - 1)
#define KEY(k) (1u << (k))

/* The paths of properties (and columns) the scans read a filter on, by field. */
static const struct tpath {
	int column;
	const char *path[4];
	int n;
	enum field field;
	unsigned keys; /* of securityresources' sub-assessments; resources reads them too */
} tpaths[] = {
	{C_TYPE, {0}, 0, F_TYPE, ALL_KEYS},
	{C_SUB, {0}, 0, F_SUB, ALL_KEYS},
	{C_NAME, {0}, 0, F_NAME, ALL_KEYS},
	{C_PROPERTIES, {"additionalData", "repositoryName"}, 2, F_REPO, KEY(AZURE_KEY_QUALYS)},
	{C_PROPERTIES, {"additionalData", "imageDigest"}, 2, F_DIGEST, KEY(AZURE_KEY_QUALYS)},
	{C_PROPERTIES, {"additionalData", "artifactDetails", "repositoryName"}, 3, F_REPO, KEY(AZURE_KEY_MDVM)},
	{C_PROPERTIES, {"additionalData", "artifactDetails", "digest"}, 3, F_DIGEST, KEY(AZURE_KEY_MDVM)},
	{C_PROPERTIES, {"additionalData", "vulnerabilityDetails", "cveId"}, 3, F_VULN, KEY(AZURE_KEY_MDVM)},
	{C_PROPERTIES, {"additionalData", "softwareDetails", "packageName"}, 3, F_PACKAGE, KEY(AZURE_KEY_MDVM)},
	{C_PROPERTIES, {"id"}, 1, F_VULN, ALL_KEYS},
	{C_PROPERTIES, {"status", "severity"}, 2, F_SEVERITY, ALL_KEYS},
	{C_PROPERTIES, {"additionalData", "assessedResourceType"}, 2, F_RTYPE, ALL_KEYS},
	/* resources' images */
	{C_PROPERTIES, {"repositoryName"}, 1, F_REPO, 0},
	{C_PROPERTIES, {"digest"}, 1, F_DIGEST, 0},
};

/* Reads the hint into c: which row kinds and keys can pass, and the filters to apply. */
static void read_hint(struct tctx *c, const struct query_hint *h)
{
	c->ntf = 0;
	c->keys = ALL_KEYS;
	c->want_sub = c->want_assess = c->want_registry = c->want_repo = c->want_image = 1;
	c->repo = NULL;
	c->use = h ? h->use : NULL;
	c->parts = AZP_ALL;
	c->lite = 0;
	if (c->use) {
		static const struct {
			const char *member;
			unsigned part;
		} members[] = {
			{"id", AZP_ID},		{"status", AZP_STATUS},	   {"displayName", AZP_TEXTS}, {"description", AZP_TEXTS},
			{"remediation", AZP_TEXTS}, {"impact", AZP_TEXTS},	   {"category", AZP_TEXTS},
			{"timeGenerated", AZP_TIME}, {"resourceDetails", AZP_RESOURCE}, {"additionalData", AZP_ADDITIONAL},
		};
		const struct query_use *p = &c->use[C_PROPERTIES];
		c->parts = c->use[C_ID].read || c->use[C_NAME].read ? AZP_ENVELOPE : 0;
		if (p->read && p->whole)
			c->parts = AZP_ALL;
		for (size_t i = 0; p->read && !p->whole && i < p->nmembers; i++)
			for (size_t k = 0; k < DD_ARRAY_LEN(members); k++)
				if (!strcmp(p->members[i], members[k].member))
					c->parts |= members[k].part;
		c->lite = p->read && !p->whole;
		c->lite_groups = 0;
		for (size_t i = 0; c->lite && i < p->npaths; i++)
			if (!strcmp(p->paths[i].names[0], "additionalData")) {
				unsigned g = azure_additional_lite_has(p->paths[i].names + 1, p->paths[i].n - 1);
				c->lite = g != 0;
				c->lite_groups |= g;
			}
	}
	for (size_t i = 0; h && i < h->n; i++) {
		const struct query_filter *f = &h->filters[i];
		for (size_t p = 0; p < DD_ARRAY_LEN(tpaths); p++) {
			const struct tpath *t = &tpaths[p];
			if (!path_is(f, t->column, t->path, t->n))
				continue;
			if (t->field == F_RTYPE) { /* which key's sub-assessments: the others cannot pass */
				for (int k = 0; k < AZURE_NKEYS; k++)
					if (!matches(f, azure_key_resource_type((enum azure_key)k)))
						c->keys &= ~KEY(k);
				if (c->ntf < (int)DD_ARRAY_LEN(c->tf))
					c->tf[c->ntf++] = (struct tfilter){t->field, t->keys, f}; /* for resources' rows */
				break;
			}
			if (t->field == F_TYPE) {
				c->want_sub &= matches(f, T_SUB_TYPE);
				c->want_assess &= matches(f, T_ASSESS_TYPE);
				c->want_registry &= matches(f, T_REGISTRY_TYPE);
				c->want_repo &= matches(f, T_REPO_TYPE);
				c->want_image &= matches(f, T_IMAGE_TYPE);
				break;
			}
			if (c->ntf == (int)DD_ARRAY_LEN(c->tf))
				break;
			c->tf[c->ntf++] = (struct tfilter){t->field, t->keys, f};
			if (t->field == F_REPO && f->nvalues == 1 && !f->icase && !c->repo)
				c->repo = f->values[0];
			break;
		}
	}
}

/* ---- securityresources ---- */

/* The tenant of subscription sub: a stable UUID-shaped name drawn from it (there is no
 * directory tenant here), into out. */
static const char *tenant_of(char out[37], const char *sub)
{
	unsigned char h[SHA256_DIGEST_LENGTH];
	char in[600];
	int n = snprintf(in, sizeof(in), "drydock tenant\n%s", sub);
	SHA256((const unsigned char *)in, n < (int)sizeof(in) ? (size_t)n : sizeof(in) - 1, h);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", h[0], h[1], h[2], h[3],
		 h[4], h[5], (h[6] & 0x0f) | 0x50, h[7], (h[8] & 0x3f) | 0x80, h[9], h[10], h[11], h[12], h[13], h[14],
		 h[15]);
	return out;
}

/* The subscription of repository repo (azure_subscription_of) without an allocation: the
 * configured one, or the namespace copied into buf (cap bytes); NULL when it does not fit. */
static const char *sub_of(const struct tctx *c, const char *repo, char *buf, size_t cap)
{
	if (*c->names.subscription)
		return c->names.subscription;
	size_t n = strcspn(repo, "/");
	if (n >= cap)
		return NULL;
	memcpy(buf, repo, n);
	buf[n] = 0;
	return buf;
}

static int in_scope(const struct tctx *c, const char *sub)
{
	if (!c->aq->nsubscriptions)
		return 1;
	for (size_t i = 0; i < c->aq->nsubscriptions; i++)
		if (!strcasecmp(c->aq->subscriptions[i], sub))
			return 1;
	return 0;
}

static struct qval str(const char *s) { return qv_str(s ? s : "", s ? strlen(s) : 0); }

/* One row of Resource Graph's columns (id, name, properties, of type `type` in subscription
 * sub); 0, or the engine's code that stops the scan. */
static int emit_cols(struct tctx *c, const char *type, const char *sub, const char *id, const char *name,
		     json_t *props)
{
	char tenant[37];
	struct qval row[NCOLS];
	for (int i = 0; i < NCOLS; i++)
		row[i] = columns[i].type == QT_STRING ? str("") : qv_null();
	row[C_ID] = str(id);
	row[C_NAME] = str(name);
	row[C_TYPE] = str(type);
	if (!c->use || c->use[C_TENANT].read)
		row[C_TENANT] = str(tenant_of(tenant, sub));
	row[C_RG] = str(c->rg_lower);
	row[C_SUB] = str(sub);
	row[C_PROPERTIES] = qv_dyn(props);
	return c->emit(c->q, row);
}

/* The same for object o ({id, name, properties}). */
static int emit_row(struct tctx *c, const char *type, const char *sub, json_t *o)
{
	return emit_cols(c, type, sub, json_string_value(json_object_get(o, "id")),
			 json_string_value(json_object_get(o, "name")), json_object_get(o, "properties"));
}

/* Whether a filter on a field of an image (repository, digest, subscription) rules out image
 * (repo, digest) under every key left; keys narrows to those a filter restricts. */
static int image_passes(struct tctx *c, const char *repo, const char *digest, unsigned *keys)
{
	*keys = c->keys;
	for (int i = 0; i < c->ntf; i++) {
		const struct tfilter *t = &c->tf[i];
		const char *v = t->field == F_REPO ? repo : t->field == F_DIGEST ? digest : NULL;
		char buf[512];
		if (t->field == F_SUB && !(v = sub_of(c, repo, buf, sizeof(buf))))
			v = azure_subscription_of(c->a, &c->names, repo);
		if (!v)
			continue;
		*keys &= t->keys;
		if (!matches(t->f, v))
			return 0;
	}
	return *keys != 0;
}

/* Whether the caller may see image rec and it is in the query's scope, and a filter on the image
 * does not rule it out: 1, 0, or -1 with c->rc when the scan must stop. */
static int image_wanted(struct tctx *c, const struct assessment_rec *rec, unsigned *keys)
{
	if ((c->rc = c->emit(c->q, NULL))) /* the time limit, however many images are skipped */
		return -1;
	char buf[512];
	const char *sub = sub_of(c, rec->repo, buf, sizeof(buf));
	return in_scope(c, sub ? sub : azure_subscription_of(c->a, &c->names, rec->repo)) &&
	       image_passes(c, rec->repo, rec->digest, keys);
}

static int sub_want_image(void *ctx, const struct assessment_rec *rec)
{
	struct tctx *c = ctx;
	unsigned keys;
	int w = image_wanted(c, rec, &keys);
	if (w <= 0)
		return w;
	/* a vulnerability id: only an image whose report names it somewhere */
	for (int i = 0; i < c->ntf; i++) {
		const struct tfilter *t = &c->tf[i];
		if (t->field != F_VULN)
			continue;
		int any = 0;
		for (size_t k = 0; k < t->f->nvalues && !any; k++)
			any = t->f->icase ? strcasestr(rec->report, t->f->values[k]) != NULL
					  : strstr(rec->report, t->f->values[k]) != NULL;
		if (!any)
			return 0;
	}
	return 1;
}

/* Whether finding x of image rec can pass the filters under key k (the image's own were read). */
static int finding_passes(struct tctx *c, enum azure_key k, const struct assessment_rec *rec,
			  const struct idc_finding *x)
{
	for (int i = 0; i < c->ntf; i++) {
		const struct tfilter *t = &c->tf[i];
		if (!(t->keys & KEY(k)))
			return 0;
		int hit = 1;
		switch (t->field) {
		case F_SEVERITY:
			hit = matches(t->f, azure_severity(x->severity));
			break;
		case F_VULN:
			hit = matches(t->f, x->id);
			for (size_t j = 0; j < x->naliases && !hit; j++)
				hit = matches(t->f, x->aliases[j]);
			break;
		case F_PACKAGE:
			hit = matches(t->f, x->package);
			break;
		case F_NAME:
			hit = matches(t->f, azure_subassessment_name_of(c->a, rec->repo, rec->digest, x->id, x->package, x->path, x->version));
			break;
		default:
			break;
		}
		if (!hit)
			return 0;
	}
	return 1;
}

static int sub_want(void *ctx, enum azure_key k, const struct assessment_rec *rec, json_t *f)
{
	struct tctx *c = ctx;
	unsigned keys;
	if (!image_passes(c, rec->repo, rec->digest, &keys) || !(keys & KEY(k)))
		return 0;
	json_t *al, *aliases = json_object_get(f, "aliases");
	size_t i, n = 0;
	const char *few[16], **v = json_array_size(aliases) <= DD_ARRAY_LEN(few)
					  ? few
					  : arena_alloc(c->a, json_array_size(aliases) * sizeof(*v));
	json_array_foreach(aliases, i, al) if (json_is_string(al)) v[n++] = json_string_value(al);
	const char *id = json_string_value(json_object_get(f, "id")), *pkg = json_string_value(json_object_get(f, "package"));
	struct idc_finding x = {.id = id ? id : "", .package = pkg ? pkg : "",
				.severity = json_string_value(json_object_get(f, "severity")), .aliases = v, .naliases = n};
	return finding_passes(c, k, rec, &x);
}

static int sub_emit(void *ctx, enum azure_key k, const struct assessment_rec *rec, json_t *o)
{
	(void)k;
	struct tctx *c = ctx;
	char buf[512];
	const char *sub = sub_of(c, rec->repo, buf, sizeof(buf));
	int rc = emit_row(c, T_SUB_TYPE, sub ? sub : azure_subscription_of(c->a, &c->names, rec->repo), o);
	json_decref(o);
	if (rc) {
		c->rc = rc;
		return rc;
	}
	return 0;
}

/* ---- sub-assessments from the findings cache ----
 * When a query reads no more of a sub-assessment than its id, name, properties.id,
 * properties.status and the part of properties.additionalData that names the image, the CVE,
 * the severity and the package, its rows come from the findings cache (idcache.h), with no
 * report read or parsed: those parts need a finding's id, aliases, package and severity alone.
 * Images a suppression rule may cover are read as the walk reads them (their status depends on
 * the rules). */
#define FAST_PARTS (AZP_ENVELOPE | AZP_ID | AZP_STATUS)

static int fast_enough(const struct tctx *c)
{
	return c->use && !(c->parts & ~(FAST_PARTS | AZP_ADDITIONAL)) && (!(c->parts & AZP_ADDITIONAL) || c->lite);
}

/* What the findings of one list pass (passes_of). */
struct memo {
	const unsigned char *pass;
	int any;
};

struct fast {
	struct tctx *c;
	struct azure_walk *w;
	struct strmap memo; /* passes_of's (struct memo), by list key */
	json_t *status_only[3]; /* {"status"} of each Azure severity, built when first needed */
	const struct assessment_rec *rec; /* the image at hand */
	json_t *image[AZURE_NKEYS];       /* its part of additionalData, when built */
	/* the vulnerabilityDetails of each finding of the list last read (images in a row often
	 * share their list: built once for them all), by the list's key */
	char vuln_key[2 * 32 + 1];
	json_t **vuln;
	size_t nvuln;
	const struct idc_finding *vuln_first; /* the findings of the image at hand (same content) */
};

static void vuln_drop(struct fast *fs)
{
	for (size_t i = 0; i < fs->nvuln; i++)
		json_decref(fs->vuln[i]);
	free(fs->vuln);
	fs->vuln = NULL;
	fs->nvuln = 0;
	fs->vuln_key[0] = 0;
}

/* Keeps the list of key `key` (n findings) as the one whose vulnerabilityDetails vuln_of gives,
 * when the query reads that group. */
static void vuln_list(struct fast *fs, const char *key, size_t n)
{
	if (!(fs->c->lite_groups & AZ_LITE_VULN) || !(fs->c->parts & AZP_ADDITIONAL) || !strcmp(fs->vuln_key, key))
		return;
	vuln_drop(fs);
	if (strlen(key) >= sizeof(fs->vuln_key) || !(fs->vuln = calloc(n ? n : 1, sizeof(*fs->vuln))))
		return; /* built for each row instead */
	fs->nvuln = n;
	snprintf(fs->vuln_key, sizeof(fs->vuln_key), "%s", key);
}

/* The vulnerabilityDetails of finding x (of the list vuln_list kept), built on first use; NULL:
 * azure_additional_lite builds it. */
static json_t *vuln_of(struct fast *fs, const struct idc_finding *x)
{
	if (!fs->vuln)
		return NULL;
	size_t i = (size_t)(x - fs->vuln_first);
	if (i >= fs->nvuln)
		return NULL;
	if (!fs->vuln[i])
		fs->vuln[i] = azure_additional_lite_vuln(x->id, x->aliases, x->naliases, x->severity);
	return fs->vuln[i];
}

/* The properties of a row of key k for finding x: NULL (none read), or a new reference. */
static json_t *fast_props(struct fast *fs, enum azure_key k, const struct idc_finding *x)
{
	unsigned parts = fs->c->parts;
	if (!(parts & (AZP_ID | AZP_STATUS | AZP_ADDITIONAL)))
		return NULL;
	json_t *status = azure_subassessment_status(x->severity);
	if (parts & (AZP_ID | AZP_ADDITIONAL)) {
		json_t *p = json_object();
		if (parts & AZP_ID)
			json_object_set_new(p, "id", json_string(x->id));
		if (parts & AZP_STATUS)
			json_object_set(p, "status", status);
		if ((parts & AZP_ADDITIONAL) && !fs->image[k]) /* the image's part, once per image */
			fs->image[k] = azure_additional_lite_image(&fs->c->names, k, fs->rec);
		if (parts & AZP_ADDITIONAL)
			json_object_set_new(p, "additionalData",
					    azure_additional_lite(k, fs->c->lite_groups, fs->image[k], vuln_of(fs, x), x->id,
								  x->aliases, x->naliases, x->package, x->path, x->severity));
		return p;
	}
	const char *sev = azure_severity(x->severity);
	int i = !strcmp(sev, "High") ? 0 : !strcmp(sev, "Medium") ? 1 : 2;
	if (!fs->status_only[i])
		fs->status_only[i] = json_pack("{s:O}", "status", status);
	return json_incref(fs->status_only[i]);
}

/* Which findings of the list of key `key` (f, n) can pass the filters on a finding (severity,
 * vulnerability id, package), under which keys (bit k): an array of n, remembered by list (images
 * share lists; the key is of their content). NULL when a filter on the name asks for the image
 * too (finding_passes then decides each), or out of memory. *any: some finding can pass. */
static const unsigned char *passes_of(struct fast *fs, const char *key, const struct assessment_rec *rec,
				      const struct idc_finding *f, size_t n, int *any)
{
	struct tctx *c = fs->c;
	*any = 1;
	for (int i = 0; i < c->ntf; i++)
		if (c->tf[i].field == F_NAME)
			return NULL;
	int created;
	struct memo **m = (struct memo **)strmap_slot(c->a, &fs->memo, key, &created);
	if (!created) {
		*any = (*m)->any;
		return (*m)->pass;
	}
	unsigned char *pass = arena_alloc(c->a, n ? n : 1);
	int some = 0;
	for (size_t i = 0; i < n; i++) {
		pass[i] = 0;
		for (int k = 0; k < AZURE_NKEYS; k++)
			if (finding_passes(c, (enum azure_key)k, rec, &f[i]))
				pass[i] |= (unsigned char)KEY(k);
		some |= pass[i] != 0;
	}
	*m = arena_alloc(c->a, sizeof(**m));
	**m = (struct memo){pass, some};
	*any = some;
	return pass;
}

static int fast_image(void *ctx, const struct assessment_rec *rec, const char *key, const struct idc_finding *f,
		      size_t n)
{
	struct fast *fs = ctx;
	struct tctx *c = fs->c;
	unsigned keys;
	if (c->aq->r && !access_visible(c->aq->r, rec->repo))
		return 0;
	int w = image_wanted(c, rec, &keys);
	if (w <= 0)
		return w < 0 ? c->rc : 0;
	int any;
	const unsigned char *pass = passes_of(fs, key, rec, f, n, &any);
	if (!any) /* no finding can pass, whatever the rules say */
		return 0;
	if (c->nrules && rules_cover(c->rules, c->nrules, rec->repo)) {
		fs->w->only = rec;
		fs->w->nonly = 1;
		int rc = azure_walk(c->api, c->a, c->aq->r, fs->w);
		return c->rc ? c->rc : rc;
	}
	struct arena a = {0}, *outer = c->a; /* this image's */
	c->a = &a;
	fs->rec = rec;
	vuln_list(fs, key, n);
	fs->vuln_first = f; /* this image's copy of the list's content */
	char buf[512];
	const char *sub = sub_of(c, rec->repo, buf, sizeof(buf));
	if (!sub)
		sub = azure_subscription_of(&a, &c->names, rec->repo);
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		const char *name = NULL;
		for (int k = 0; k < AZURE_NKEYS && !rc; k++) {
			if (!(keys & KEY(k)) || !(pass ? (pass[i] & KEY(k)) != 0 : finding_passes(c, (enum azure_key)k, rec, &f[i])))
				continue;
			const char *id = NULL;
			if (c->parts & AZP_ENVELOPE) {
				if (!name)
					name = azure_subassessment_name_of(&a, rec->repo, rec->digest, f[i].id, f[i].package, f[i].path, f[i].version);
				id = azure_subassessment_id(&a, &c->names, (enum azure_key)k, rec->repo, name);
			}
			json_t *props = fast_props(fs, (enum azure_key)k, &f[i]);
			rc = emit_cols(c, T_SUB_TYPE, sub, id, name, props);
			json_decref(props);
		}
	}
	for (int k = 0; k < AZURE_NKEYS; k++) {
		json_decref(fs->image[k]);
		fs->image[k] = NULL;
	}
	c->a = outer;
	arena_free(&a);
	if (rc)
		c->rc = rc;
	return rc;
}

static int scan_subs_fast(struct tctx *c, struct azure_walk *w)
{
	struct fast fs = {.c = c, .w = w};
	int rc = idcache_each(c->api->meta, c->repo, fast_image, &fs);
	for (int i = 0; i < 3; i++)
		json_decref(fs.status_only[i]);
	vuln_drop(&fs);
	return c->rc ? c->rc : rc;
}

static int scan_securityresources1(struct tctx *c);

static int scan_securityresources(void *ctx, const struct query_hint *h, query_emit_fn emit, void *q)
{
	struct tctx *c = ctx;
	struct arena sa = {0}, *outer = c->a; /* this scan's, released when it returns */
	c->emit = emit;
	c->q = q;
	c->rc = 0;
	c->a = &sa;
	read_hint(c, h);
	int rc = scan_securityresources1(c);
	c->a = outer;
	arena_free(&sa);
	return rc;
}

static int scan_securityresources1(struct tctx *c)
{
	int rc = 0;
	if (c->want_assess) {
		json_t *value = json_array(), *o;
		size_t i;
		rc = azure_assessments_append(c->api, c->a, c->aq->r, &c->names, c->rules, c->nrules, NULL, -1, value);
		json_array_foreach(value, i, o)
		{
			const char *id = json_string_value(json_object_get(o, "id"));
			const char *s = id && !strncmp(id, "/subscriptions/", 15) ? id + 15 : "";
			const char *sub = arena_strndup(c->a, s, strcspn(s, "/"));
			if (rc || !in_scope(c, sub))
				continue;
			rc = emit_row(c, T_ASSESS_TYPE, sub, o);
		}
		json_decref(value);
		if (rc)
			return rc;
	}
	if (!c->want_sub || !c->keys)
		return 0;
	int keys[AZURE_NKEYS], nkeys = 0;
	for (int k = 0; k < AZURE_NKEYS; k++)
		keys[nkeys++] = k;
	struct azure_walk w = {.names = &c->names, .rules = c->rules, .nrules = c->nrules, .keys = keys, .nkeys = nkeys,
			       .repo = c->repo, .want_image = sub_want_image, .want = sub_want, .emit = sub_emit, .ctx = c,
			       .parts = c->parts ? c->parts : AZP_STATUS /* something; nothing reads it */};
	if (fast_enough(c))
		return scan_subs_fast(c, &w);
	/* a vulnerability id asked for: only the images whose findings have it (the id cache) */
	for (int i = 0; i < c->ntf; i++)
		if (c->tf[i].field == F_VULN) {
			const struct query_filter *f = c->tf[i].f;
			struct assessment_rec *only;
			size_t n;
			if (idcache_images(c->api->meta, c->a, c->repo, f->values, f->nvalues, f->icase, &only, &n))
				break; /* every image, then */
			w.only = only;
			w.nonly = n;
			break;
		}
	rc = azure_walk(c->api, c->a, c->aq->r, &w);
	return c->rc ? c->rc : rc;
}

/* ---- resources ---- */

static json_t *counts_json(const char *counts)
{
	long long by[6], unfixed;
	if (!counts || !counts_parse(counts, by, &unfixed))
		return json_null();
	/* by[] is indexed by enum vdb_severity (counts_parse) */
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "critical", (json_int_t)by[VDB_SEV_CRITICAL], "high",
			 (json_int_t)by[VDB_SEV_HIGH], "medium", (json_int_t)by[VDB_SEV_MEDIUM], "low",
			 (json_int_t)by[VDB_SEV_LOW], "negligible", (json_int_t)by[VDB_SEV_NEGLIGIBLE], "unknown",
			 (json_int_t)by[VDB_SEV_UNKNOWN], "unfixed", (json_int_t)unfixed);
}

static int emit_resource(struct tctx *c, struct arena *a, const char *type, const char *sub, const char *id,
			 const char *name, json_t *props)
{
	json_t *o = json_pack("{s:s, s:s, s:o}", "id", id, "name", name, "properties", props);
	(void)a;
	int rc = emit_row(c, type, sub, o);
	json_decref(o);
	return rc;
}

/* Whether the filters on subscription, repository, digest and name let row (sub, repo, digest,
 * name) through; repo and digest are NULL in rows without them. */
static int resource_passes(struct tctx *c, const char *sub, const char *repo, const char *digest, const char *name)
{
	for (int i = 0; i < c->ntf; i++) {
		const struct tfilter *t = &c->tf[i];
		if ((t->field == F_REPO || t->field == F_DIGEST) && t->keys) /* a sub-assessment's path: null here */
			return 0;
		const char *v = t->field == F_REPO ? repo : t->field == F_DIGEST ? digest : t->field == F_NAME ? name
							  : t->field == F_SUB ? sub : "";
		if (t->field == F_SEVERITY || t->field == F_VULN || t->field == F_PACKAGE || t->field == F_RTYPE) /* paths these rows lack */
			return 0;
		if (t->field == F_NONE || t->field == F_TYPE)
			continue;
		if (!v || !matches(t->f, v))
			return 0;
	}
	return 1;
}

/* Whether the query reads member `name` of properties (or all of it). */
static int reads_member(const struct tctx *c, const char *name)
{
	const struct query_use *p = c->use ? &c->use[C_PROPERTIES] : NULL;
	if (!p || p->whole)
		return !p || p->read;
	for (size_t i = 0; i < p->nmembers; i++)
		if (!strcmp(p->members[i], name))
			return 1;
	return 0;
}

/* "os/architecture[/variant]" of o (an image config, or a descriptor's platform), or NULL. */
static const char *platform_name(struct arena *a, json_t *o)
{
	const char *os = json_string_value(json_object_get(o, "os"));
	const char *arch = json_string_value(json_object_get(o, "architecture"));
	const char *variant = json_string_value(json_object_get(o, "variant"));
	if (!os || !arch)
		return NULL;
	return variant && *variant ? arena_printf(a, "%s/%s/%s", os, arch, variant) : arena_printf(a, "%s/%s", os, arch);
}

/* Sets an image's platform on p: `platform` from the config of an image manifest, or, for an
 * index, `platforms`, those its manifests name, and `worstPlatformStatus`, the worst status of
 * those manifests among the rows of its repository in v (by repository: x is v[at]); nothing when neither is known
 * (an artifact, a config that is not an image's, one over DD_MAX_IMAGE_CONFIG_BYTES, no blob
 * store). The manifest is read by the one manifest parser (scan/parts.h). */
static void set_platform(struct tctx *c, struct arena *a, const struct image_row *x, json_t *p,
			 const struct image_row *v, size_t n, size_t at)
{
	struct meta *m = c->api->meta;
	struct manifest_rec mr;
	struct image_part *parts, cfg;
	size_t np;
	int is_index;
	if (m->repos->manifest_get(m, a, x->rec.repo, x->rec.digest, 1, 1, &mr) || !mr.content ||
	    image_parts(a, mr.content, (size_t)mr.size, mr.media_type, &is_index, &parts, &np, &cfg))
		return;
	if (is_index) {
		json_t *names = json_array();
		const char *worst = NULL;
		size_t lo = at, hi = at + 1;
		while (lo > 0 && !strcmp(v[lo - 1].rec.repo, x->rec.repo))
			lo--;
		while (hi < n && !strcmp(v[hi].rec.repo, x->rec.repo))
			hi++;
		for (size_t i = 0; i < np; i++) {
			if (parts[i].platform)
				json_array_append_new(names, json_string(parts[i].platform));
			for (size_t j = lo; j < hi; j++)
				if (!strcmp(v[j].rec.digest, parts[i].digest)) {
					const char *st = v[j].status ? v[j].status : "Queued";
					if (!worst || assessment_status_rank(st) < assessment_status_rank(worst))
						worst = st;
				}
		}
		json_object_set_new(p, "platforms", names);
		if (worst)
			json_object_set_new(p, "worstPlatformStatus", json_string(worst));
		return;
	}
	struct blobstore *bs = c->api->blobs;
	int fd;
	int64_t size;
	if (!bs || !cfg.digest ||
	    (strcmp(cfg.media_type, "application/vnd.oci.image.config.v1+json") &&
	     strcmp(cfg.media_type, "application/vnd.docker.container.image.v1+json")) ||
	    bs->ops->blob_open_fd(bs, cfg.digest, &fd, &size))
		return;
	if (size > 0 && size <= DD_MAX_IMAGE_CONFIG_BYTES) {
		char *buf = arena_alloc_uninit(a, (size_t)size);
		if (util_read_full(fd, buf, (size_t)size) == size) {
			json_t *conf = json_loadb(buf, (size_t)size, 0, NULL);
			const char *name = platform_name(a, conf);
			if (name)
				json_object_set_new(p, "platform", json_string(name));
			json_decref(conf);
		}
	}
	close(fd);
}

static int scan_resources1(struct tctx *c);

static int scan_resources(void *ctx, const struct query_hint *h, query_emit_fn emit, void *q)
{
	struct tctx *c = ctx;
	struct arena sa = {0}, *outer = c->a; /* this scan's, released when it returns */
	c->emit = emit;
	c->q = q;
	c->a = &sa;
	read_hint(c, h);
	int rc = scan_resources1(c);
	c->a = outer;
	arena_free(&sa);
	return rc;
}

static int scan_resources1(struct tctx *c)
{
	struct meta *m = c->api->meta;
	struct image_row *v;
	size_t n;
	int rc;
	if ((rc = m->repos->images_list(m, c->a, c->repo, &v, &n)))
		return rc;
	const char *last_repo = NULL;
	struct strmap given = {0}; /* the subscriptions given their registry row */
	int added;
	for (size_t i = 0; i < n && !rc; i++) {
		struct image_row *x = &v[i];
		if ((rc = c->emit(c->q, NULL))) /* the time limit, however many images are skipped */
			break;
		struct arena a = {0};
		const char *repo = x->rec.repo, *sub = azure_subscription_of(&a, &c->names, repo);
		if ((c->aq->r && !access_visible(c->aq->r, repo)) || !in_scope(c, sub)) {
			arena_free(&a);
			continue;
		}
		const char *reg = azure_registry_id(&a, &c->names, sub);
		/* a registry row before the first image of each subscription (images by repository:
		 * a namespace's repositories are not always adjacent, so remember those given) */
		if (c->want_registry && resource_passes(c, sub, NULL, NULL, c->names.registry) &&
		    (strmap_slot(c->a, &given, sub, &added), added))
			rc = emit_resource(c, &a, T_REGISTRY_TYPE, sub, reg, c->names.registry,
					   json_pack("{s:s, s:s, s:s}", "loginServer", c->names.host, "provisioningState",
						     "Succeeded", "resourceGroup", c->names.resource_group));
		if (!rc && c->want_repo && (!last_repo || strcmp(last_repo, repo)) && resource_passes(c, sub, repo, NULL, repo)) {
			size_t images = 0, tagged = 0;
			for (size_t j = i; j < n && !strcmp(v[j].rec.repo, repo); j++) {
				images++;
				tagged += *v[j].tags != 0;
			}
			rc = emit_resource(c, &a, T_REPO_TYPE, sub, arena_printf(&a, "%s/repositories/%s", reg, repo), repo,
					   json_pack("{s:s, s:s, s:I, s:I}", "repositoryName", repo, "registryHost",
						     c->names.host, "imageCount", (json_int_t)images, "taggedImageCount",
						     (json_int_t)tagged));
		}
		last_repo = repo;
		const char *name = arena_printf(&a, "%s@%s", repo, x->rec.digest);
		if (!rc && c->want_image && resource_passes(c, sub, repo, x->rec.digest, name)) {
			json_t *tags = json_array();
			for (const char *t = x->tags; *t;) {
				size_t l = strcspn(t, "\n");
				json_array_append_new(tags, json_stringn(t, l));
				t += l + (t[l] == '\n');
			}
			const char *status = x->status ? x->status : "Queued";
			json_t *p = json_pack("{s:s, s:s, s:s, s:o, s:s, s:I, s:s, s:s, s:o}", "repositoryName", repo, "registryHost",
					      c->names.host, "digest", x->rec.digest, "tags", tags, "mediaType",
					      x->rec.media_type, "size", (json_int_t)x->rec.size, "pushedAt",
					      util_iso_time(&a, x->rec.created), "status", status, "counts", counts_json(x->counts));
			if (*x->rec.artifact_type)
				json_object_set_new(p, "artifactType", json_string(x->rec.artifact_type));
			if (*x->rec.subject)
				json_object_set_new(p, "subject", json_string(x->rec.subject));
			if (x->scanned_at)
				json_object_set_new(p, "scannedAt", json_string(util_iso_time(&a, x->scanned_at)));
			/* the platform reads a manifest and a config: only when asked; the worst platform
			 * of an index reads its manifest alone, and is asked by every status filter */
			if (reads_member(c, "platform") || reads_member(c, "platforms") ||
			    (reads_member(c, "worstPlatformStatus") && image_parts_is_index(x->rec.media_type)))
				set_platform(c, &a, x, p, v, n, i);
			rc = emit_resource(c, &a, T_IMAGE_TYPE, sub,
					   arena_printf(&a, "%s/repositories/%s/images/%s", reg, repo, x->rec.digest), name, p);
		}
		arena_free(&a);
	}
	return rc;
}

int assess_query_run(struct assess_api *api, const struct assess_query *aq, const char *text, size_t len,
		     struct query_result *out, struct query_error *err)
{
	struct arena a = {0};
	struct tctx c = {.api = api, .aq = aq, .a = &a};
	azure_names_of(api, &a, aq->r, &c.names);
	char *rg = arena_strdup(&a, c.names.resource_group);
	for (char *p = rg; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	c.rg_lower = rg;
	if (rules_load(api->meta, &a, &c.rules, &c.nrules)) { /* unapplied rules would show what they suppress */
		memset(out, 0, sizeof(*out));
		memset(err, 0, sizeof(*err));
		err->line = err->column = 1;
		snprintf(err->message, sizeof(err->message), "cannot read the suppression rules");
		arena_free(&a);
		return DD_E_IO;
	}
	struct tctx c2 = c; /* each table its own scan state */
	const struct query_table tables[] = {
		{.name = "securityresources", .columns = columns, .ncolumns = NCOLS, .scan = scan_securityresources, .ctx = &c,
		 .any_case = 1},
		{.name = "resources", .columns = columns, .ncolumns = NCOLS, .scan = scan_resources, .ctx = &c2,
		 .any_case = 1},
	};
	struct query_tables ts = {tables, DD_ARRAY_LEN(tables)};
	int rc = query_run(text, len, &ts, aq->limits, out, err);
	arena_free(&a);
	return rc;
}

int assess_query_page_json(const struct query_result *r, size_t skip, size_t top, enum page_form form,
			   struct buf *out)
{
	int objects = form == PAGE_OBJECTS;
	int rc = buf_puts(out, objects ? "[" : form == PAGE_TABLE ? "{\"columns\":[" : "\"columns\":[");
	for (size_t c = 0; !objects && c < r->ncolumns && !rc; c++)
		rc = buf_printf(out, "%s{\"name\":", c ? "," : "") || buf_json_str(out, r->columns[c].name) ||
		     buf_printf(out, ",\"type\":\"%s\"}", query_type_name(r->columns[c].type));
	if (!objects && !rc)
		rc = buf_puts(out, "],\"rows\":[");
	size_t end = skip < r->nrows ? (top < r->nrows - skip ? skip + top : r->nrows) : skip;
	for (size_t i = skip; i < end && !rc; i++) {
		rc = buf_puts(out, i > skip ? (objects ? ",{" : ",[") : (objects ? "{" : "["));
		for (size_t c = 0; c < r->ncolumns && !rc; c++) {
			if (c)
				rc = buf_puts(out, ",");
			if (objects && !rc)
				rc = buf_json_str(out, r->columns[c].name) || buf_puts(out, ":");
			if (!rc)
				rc = query_value_json(&r->rows[i][c], out);
		}
		if (!rc)
			rc = buf_puts(out, objects ? "}" : "]");
	}
	if (!rc)
		rc = buf_puts(out, form == PAGE_TABLE ? "]}" : "]");
	return rc;
}
