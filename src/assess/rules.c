/* rules.c: suppression rules and pull policies (see rules.h). Stored as settings
 * "suppression/<id>" and "policy/<namespace>" in the metadata store. */
#include "common/dd.h"
#include "assess/rules.h"
#include "common/arena.h"
#include "common/digest.h"
#include "common/util.h"
#include "store/meta_admin.h"
#include "store/meta_repos.h"
#include "store/meta_scans.h"
#include "vulndb/vulndb.h"
#include "scan/parts.h"
#include "scan/report.h"
#include "scan/scanner.h"
#include "scan/status.h"
#include "scan/vex.h"
#include "common/log.h"
#include "common/strmap.h"
#include <pthread.h>
#include <fnmatch.h>
#include <jansson.h>

#define RULE_MAX_FIELD 512 /* bytes of one rule field */

static int field(struct arena *a, json_t *o, const char *key, const char **out, const char **why)
{
	json_t *v = json_object_get(o, key);
	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || json_string_length(v) > RULE_MAX_FIELD) {
		*why = arena_printf(a, "'%s' must be a string of at most %d bytes", key, RULE_MAX_FIELD);
		return DD_E_USAGE;
	}
	*out = *json_string_value(v) ? arena_strdup(a, json_string_value(v)) : NULL;
	return 0;
}

int rule_parse(struct arena *a, const char *json, size_t len, struct rule *out, const char **why)
{
	memset(out, 0, sizeof(*out));
	*why = NULL;
	json_error_t err;
	json_t *o = json_loadb(json, len, 0, &err);
	int rc = 0;
	if (!json_is_object(o)) {
		*why = "the rule must be a JSON object";
		rc = DD_E_USAGE;
		goto out;
	}
	if ((rc = field(a, o, "vulnerability", &out->vulnerability, why)) ||
	    (rc = field(a, o, "package", &out->package, why)) || (rc = field(a, o, "severity", &out->severity, why)) ||
	    (rc = field(a, o, "repository", &out->repository, why)) || (rc = field(a, o, "reason", &out->reason, why)) ||
	    (rc = field(a, o, "id", &out->id, why)) || (rc = field(a, o, "digest", &out->digest, why)))
		goto out;
	struct digest d;
	const char *dwhy;
	if (out->digest && (digest_parse(out->digest, strlen(out->digest), &d, &dwhy) || strcmp(d.str, out->digest))) {
		*why = "digest is an image's manifest digest (sha256:<64 hex digits>)";
		rc = DD_E_USAGE;
		goto out;
	}
	if (out->digest && !out->repository) {
		*why = "a rule for one image (digest) names its repository too";
		rc = DD_E_USAGE;
		goto out;
	}
	if (!out->vulnerability && !out->package && !out->severity && !out->repository) {
		*why = "a rule needs at least one of vulnerability, package, severity, repository";
		rc = DD_E_USAGE;
		goto out;
	}
	if (!out->reason) {
		*why = "a rule needs a reason";
		rc = DD_E_USAGE;
		goto out;
	}
	if (out->severity) {
		unsigned mask;
		for (const char *p = out->severity; *p;) {
			size_t n = strcspn(p, ",");
			mask = 0;
			for (int s = 0; s <= VDB_SEV_CRITICAL; s++)
				if (strlen(vdb_severity_name(s)) == n && !strncasecmp(p, vdb_severity_name(s), n))
					mask = 1;
			if (!mask) {
				*why = "severity is a list of CRITICAL, HIGH, MEDIUM, LOW, NEGLIGIBLE, UNKNOWN";
				rc = DD_E_USAGE;
				goto out;
			}
			p += n + (p[n] == ',');
		}
	}
	json_t *e = json_object_get(o, "expires");
	if (json_is_integer(e) && json_integer_value(e) > 0)
		out->expires = json_integer_value(e);
	else if (e && !json_is_null(e)) {
		*why = "'expires' must be unix seconds";
		rc = DD_E_USAGE;
		goto out;
	}
	out->created = json_integer_value(json_object_get(o, "created"));
out:
	json_decref(o);
	return rc;
}

char *rule_to_json(const struct rule *r)
{
	json_t *o = json_object();
	const char *k[] = {"id", "vulnerability", "package", "severity", "repository", "digest", "reason"};
	const char *v[] = {r->id, r->vulnerability, r->package, r->severity, r->repository, r->digest, r->reason};
	for (size_t i = 0; i < DD_ARRAY_LEN(k); i++)
		if (v[i])
			json_object_set_new(o, k[i], json_string(v[i]));
	json_object_set_new(o, "expires", r->expires ? json_integer(r->expires) : json_null());
	json_object_set_new(o, "created", json_integer(r->created));
	char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	return text;
}

/* The VEX documents kept, read once per change (the setting VEX_GENERATION_KEY changes with
 * every document added or removed) and shared by every request while they stand: each request
 * holds a reference, let go with its arena. Statements are found by vulnerability id or alias. */
#define VEX_MAX_ALL_STATEMENTS 100000 /* across the documents kept */

struct vex_doc {
	const char *key, *id, *scope; /* scope: a repository pattern, or NULL for every repository */
	const char *repo, *referrer;  /* a referrer's repository and manifest digest, or NULL */
	const char *subject;
};

struct vex_idx {
	uint32_t *v;
	size_t n, cap;
};

struct vex_set {
	int refs;
	const char *stamp;
	struct arena a;
	struct vex_doc *docs;
	size_t ndocs, capdocs;
	struct vex_statement *st;
	uint32_t *doc_of;
	size_t n, cap, capdoc;
	struct strmap by_id; /* vulnerability id or alias -> struct vex_idx */
	int covers_all;      /* a document of every repository */
};

static pthread_mutex_t vex_mu = PTHREAD_MUTEX_INITIALIZER;
static struct vex_set *vex_cur;

static void vex_set_release(void *p)
{
	struct vex_set *s = p;
	pthread_mutex_lock(&vex_mu);
	int last = --s->refs == 0;
	pthread_mutex_unlock(&vex_mu);
	if (last) {
		arena_free(&s->a);
		free(s);
	}
}

static void vex_index(struct vex_set *s, const char *key, uint32_t i)
{
	int created;
	void **slot = strmap_slot(&s->a, &s->by_id, key, &created);
	struct vex_idx *x = *slot;
	if (!x)
		*slot = x = arena_alloc(&s->a, sizeof(*x));
	if (x->n && x->v[x->n - 1] == i)
		return;
	x->v = arena_grow(&s->a, x->v, x->n, &x->cap, sizeof(*x->v));
	x->v[x->n++] = i;
}

static struct vex_set *vex_build(struct meta *m, const char *stamp, struct arena *gone_a, const char ***gone,
				 size_t *ngone)
{
	struct vex_set *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->refs = 1;
	s->stamp = arena_strdup(&s->a, stamp);
	struct arena tmp = {0};
	const char **keys, **values;
	size_t k = 0, gone_cap = 0;
	if (m->admin->settings_list(m, &tmp, "vex/", &keys, &values, &k))
		k = 0;
	for (size_t i = 0; i < k; i++) {
		json_t *o = json_loads(values[i], 0, NULL);
		const char *doc = json_string_value(json_object_get(o, "document"));
		const char *id = json_string_value(json_object_get(o, "id"));
		const char *repo = json_string_value(json_object_get(o, "repository"));
		const char *ref = json_string_value(json_object_get(o, "referrer"));
		const char *subject = json_string_value(json_object_get(o, "subject"));
		struct vex_doc d = {.key = arena_strdup(&s->a, keys[i]), .id = id ? arena_strdup(&s->a, id) : "",
				    .scope = repo && *repo ? arena_strdup(&s->a, repo) : NULL,
				    .repo = ref && repo ? arena_strdup(&s->a, repo) : NULL,
				    .referrer = ref ? arena_strdup(&s->a, ref) : NULL,
				    .subject = ref && subject ? arena_strdup(&s->a, subject) : NULL};
		struct manifest_rec mr;
		const char *format, *why;
		struct vex_statement *st;
		size_t ns = 0;
		int lookup = d.referrer ? m->repos->manifest_get(m, &tmp, d.repo, d.referrer, 1, 0, &mr) : 0;
		if (lookup == DD_E_MANIFEST_UNKNOWN || lookup == DD_E_NAME_UNKNOWN) {
			*gone = arena_grow(gone_a, *gone, *ngone, &gone_cap, sizeof(**gone)); /* forgotten once unlocked */
			(*gone)[(*ngone)++] = arena_strdup(gone_a, keys[i]);
		} else if (lookup) {
			json_decref(o); /* the store did not answer: left as it is, not applied this time */
			continue;
		} else if (doc && !vex_parse(&s->a, doc, strlen(doc), &format, &st, &ns, &why)) {
			if (s->n + ns > VEX_MAX_ALL_STATEMENTS) {
				log_warn("VEX document %s not applied: the documents kept hold over %d statements", d.id,
					 VEX_MAX_ALL_STATEMENTS);
				json_decref(o);
				continue;
			}
			s->docs = arena_grow(&s->a, s->docs, s->ndocs, &s->capdocs, sizeof(*s->docs));
			s->docs[s->ndocs] = d;
			s->covers_all |= !d.scope;
			for (size_t j = 0; j < ns; j++) {
				if (d.subject && !st[j].digest)
					st[j].digest = d.subject; /* a package of the image it is attached to */
				s->doc_of = arena_grow(&s->a, s->doc_of, s->n, &s->capdoc, sizeof(*s->doc_of));
				s->st = arena_grow(&s->a, s->st, s->n, &s->cap, sizeof(*s->st));
				s->st[s->n] = st[j];
				s->doc_of[s->n] = (uint32_t)s->ndocs;
				vex_index(s, st[j].vulnerability, (uint32_t)s->n);
				for (size_t al = 0; al < st[j].naliases; al++)
					vex_index(s, st[j].aliases[al], (uint32_t)s->n);
				s->n++;
			}
			s->ndocs++;
		}
		json_decref(o);
	}
	arena_free(&tmp);
	return s;
}

/* The VEX documents in force: a reference the request's arena lets go. The set is built again
 * when the generation setting has moved (read under the lock, so an older reader never labels
 * a newer set with its stamp); documents whose referrer is gone are dropped once unlocked. */
static struct vex_set *vex_current(struct meta *m, struct arena *a)
{
	const char **gone = NULL;
	size_t ngone = 0;
	pthread_mutex_lock(&vex_mu);
	const char *stamp = "";
	if (m->admin->setting_get(m, a, VEX_GENERATION_KEY, &stamp))
		stamp = "";
	if (!vex_cur || strcmp(vex_cur->stamp, stamp)) {
		struct vex_set *fresh = vex_build(m, stamp, a, &gone, &ngone), *old = vex_cur;
		if (fresh) {
			vex_cur = fresh;
			if (old && --old->refs == 0) {
				arena_free(&old->a);
				free(old);
			}
		}
	}
	struct vex_set *s = vex_cur;
	if (s)
		s->refs++;
	pthread_mutex_unlock(&vex_mu);
	for (size_t i = 0; i < ngone; i++) /* a referrer deleted (a collection): its document goes */
		m->admin->setting_delete(m, gone[i]);
	if (ngone)
		vex_touch(m);
	if (s)
		arena_defer(a, vex_set_release, s);
	return s;
}

int rules_load(struct meta *m, struct arena *a, struct rule **out, size_t *n)
{
	const char **keys, **values;
	size_t k, cap = 0;
	*out = NULL;
	*n = 0;
	int rc = m->admin->settings_list(m, a, "suppression/", &keys, &values, &k);
	if (rc)
		return rc;
	struct rule *v = arena_grow(a, NULL, 0, &cap, sizeof(*v));
	int64_t now = util_now();
	for (size_t i = 0; i < k; i++) {
		const char *why;
		struct rule r;
		if (rule_parse(a, values[i], strlen(values[i]), &r, &why) || (r.expires && r.expires <= now))
			continue;
		v = arena_grow(a, v, *n, &cap, sizeof(*v));
		v[(*n)++] = r;
	}
	struct vex_set *vs = vex_current(m, a);
	if (vs && vs->n) { /* one rule holds them all */
		v = arena_grow(a, v, *n, &cap, sizeof(*v));
		v[(*n)++] = (struct rule){.vexset = vs, .reason = "VEX"};
	}
	*out = v;
	return 0;
}

int counts_parse(const char *counts, long long by[VDB_SEV_CRITICAL + 1], long long *unfixed)
{
	long long v[7];
	const char *p = counts ? counts : "";
	for (int k = 0; k < 7; k++) {
		char *end;
		errno = 0;
		if (!isdigit((unsigned char)*p))
			return 0;
		v[k] = strtoll(p, &end, 10);
		if (errno || (k < 6 ? *end != ' ' : *end != 0))
			return 0;
		p = end + (k < 6);
	}
	for (int s = VDB_SEV_CRITICAL, k = 0; s >= 0; s--, k++)
		by[s] = v[k];
	*unfixed = v[6];
	return 1;
}

static int in_list(const char *list, const char *word)
{
	size_t w = strlen(word);
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, ",");
		if (n == w && !strncasecmp(p, word, n))
			return 1;
		p += n + (p[n] == ',');
	}
	return 0;
}

static int vex_matches(const struct vex_statement *st, const char *eco, const char *digest, json_t *f)
{
	const char *al[64];
	size_t nal = 0, i;
	json_t *x;
	json_array_foreach(json_object_get(f, "aliases"), i, x) if (nal < DD_ARRAY_LEN(al) && json_is_string(x))
		al[nal++] = json_string_value(x);
	const char *id = json_string_value(json_object_get(f, "id"));
	const char *pkg = json_string_value(json_object_get(f, "package"));
	const char *src = json_string_value(json_object_get(f, "source_package"));
	const char *ver = json_string_value(json_object_get(f, "package_version"));
	const char *inst = json_string_value(json_object_get(f, "compared_version"));
	const char *own = json_string_value(json_object_get(f, "ecosystem"));
	if (own && *own) /* the finding's own (an application package's), where the report says it */
		eco = own;
	if (!inst) /* a report from before compared_version: installed_version was the compared one */
		inst = json_string_value(json_object_get(f, "installed_version"));
	return id && (vex_applies(st, eco, digest, id, al, nal, pkg, src, ver) ||
		      (inst && (!ver || strcmp(inst, ver)) && vex_applies(st, eco, digest, id, al, nal, pkg, src, inst)));
}

static int matches(const struct rule *r, const char *repo, const char *digest, json_t *f)
{
	if (r->repository && fnmatch(r->repository, repo, 0))
		return 0;
	if (r->vexset)
		return 0; /* vex_find reads those */
	if (r->digest && (!digest || strcmp(r->digest, digest)))
		return 0;
	if (r->severity && !in_list(r->severity, json_string_value(json_object_get(f, "severity"))))
		return 0;
	if (r->package && strcmp(r->package, json_string_value(json_object_get(f, "package"))) &&
	    strcmp(r->package, json_string_value(json_object_get(f, "source_package"))))
		return 0;
	if (r->vulnerability) {
		int hit = !strcmp(r->vulnerability, json_string_value(json_object_get(f, "id")));
		json_t *al;
		size_t i;
		json_array_foreach(json_object_get(f, "aliases"), i, al) hit |= !strcmp(r->vulnerability, json_string_value(al));
		if (!hit)
			return 0;
	}
	return 1;
}

static int doc_covers(const struct vex_doc *d, const char *repo)
{
	return d->referrer ? !strcmp(d->repo, repo) : !d->scope || !fnmatch(d->scope, repo, 0);
}

int rules_cover(const struct rule *rules, size_t n, const char *repo)
{
	for (size_t i = 0; i < n; i++) {
		const struct vex_set *vs = rules[i].vexset;
		if (vs) {
			for (size_t d = 0; d < vs->ndocs; d++)
				if (doc_covers(&vs->docs[d], repo))
					return 1;
		} else if (!rules[i].repository || !fnmatch(rules[i].repository, repo, 0))
			return 1;
	}
	return 0;
}

/* The statements of vs about finding f of repo's image digest: the first that suppresses it
 * (*sup), else the first that marks it (*mark). */
static void vex_find(const struct vex_set *vs, const char *repo, const char *eco, const char *digest, json_t *f,
		     uint32_t *sup, uint32_t *mark)
{
	*sup = *mark = UINT32_MAX;
	const char *keys[65];
	size_t nk = 0, i;
	json_t *x;
	keys[nk++] = json_string_value(json_object_get(f, "id"));
	json_array_foreach(json_object_get(f, "aliases"), i, x) if (nk < DD_ARRAY_LEN(keys) && json_is_string(x))
		keys[nk++] = json_string_value(x);
	uint32_t last = UINT32_MAX; /* a later statement says more than an earlier one (OpenVEX) */
	for (size_t k = 0; k < nk; k++) {
		const struct vex_idx *ix = keys[k] ? strmap_get(&vs->by_id, keys[k]) : NULL;
		for (size_t j = 0; ix && j < ix->n; j++) {
			uint32_t t = ix->v[j];
			if ((last == UINT32_MAX || t > last) && doc_covers(&vs->docs[vs->doc_of[t]], repo) &&
			    vex_matches(&vs->st[t], eco, digest, f))
				last = t;
		}
	}
	if (last == UINT32_MAX)
		return;
	if (vex_suppresses(vs->st[last].status))
		*sup = last;
	else
		*mark = last; /* affected, under_investigation: said, not suppressed */
}

/* What statement t of vs says of a finding, as the finding shows it. */
static json_t *vex_json(const struct vex_set *vs, uint32_t t)
{
	const struct vex_statement *st = &vs->st[t];
	json_t *o = json_pack("{s:s, s:s, s:s}", "document", vs->docs[vs->doc_of[t]].id, "status", st->status,
			      "vulnerability", st->vulnerability);
	if (st->justification)
		json_object_set_new(o, "justification", json_string(st->justification));
	if (st->detail)
		json_object_set_new(o, "detail", json_string(st->detail));
	if (st->digest)
		json_object_set_new(o, "image", json_string(st->digest));
	if (st->package)
		json_object_set_new(o, "package", json_string(st->package));
	if (st->version)
		json_object_set_new(o, "version", json_string(st->version));
	return o;
}

const char *rules_apply(const struct rule *rules, size_t n, const char *repo, void *report, const char *stored_status)
{
	json_t *rep = report, *f;
	size_t i;
	json_int_t by[VDB_SEV_CRITICAL + 1] = {0}, total = 0, unfixed = 0, suppressed = 0;
	const char *digest = json_string_value(json_object_get(rep, "manifest")); /* the image's */
	const char *eco = json_string_value(json_object_get(rep, "ecosystem"));
	json_array_foreach(json_object_get(rep, "findings"), i, f)
	{
		const struct rule *hit = NULL;
		const struct vex_set *vs = NULL;
		uint32_t vsup = UINT32_MAX, vmark = UINT32_MAX;
		for (size_t k = 0; k < n && !hit; k++) {
			if (rules[k].vexset) {
				vs = rules[k].vexset;
				vex_find(vs, repo, eco, digest, f, &vsup, &vmark);
			} else if (matches(&rules[k], repo, digest, f))
				hit = &rules[k];
		}
		if (hit || vsup != UINT32_MAX) {
			json_t *sup;
			if (hit)
				sup = json_pack("{s:s, s:s}", "rule", hit->id ? hit->id : "", "reason", hit->reason ? hit->reason : "");
			else {
				const struct vex_statement *st = &vs->st[vsup];
				sup = json_pack("{s:s, s:o, s:o}", "rule", vs->docs[vs->doc_of[vsup]].id, "reason",
						st->justification ? json_sprintf("VEX %s: %s", st->status, st->justification)
								  : json_sprintf("VEX %s", st->status),
						"vex", vex_json(vs, vsup));
			}
			json_object_set_new(f, "suppressed", sup);
			suppressed++;
			continue;
		}
		if (vmark != UINT32_MAX)
			json_object_set_new(f, "vex", vex_json(vs, vmark));
		const char *sev = json_string_value(json_object_get(f, "severity"));
		for (int s = 0; s <= VDB_SEV_CRITICAL; s++)
			if (sev && !strcmp(sev, vdb_severity_name(s)))
				by[s]++;
		total++;
		unfixed += !json_is_true(json_object_get(f, "patchable"));
	}
	if (!suppressed)
		return stored_status;
	json_t *counts = json_object();
	for (int s = VDB_SEV_CRITICAL; s >= 0; s--)
		json_object_set_new(counts, vdb_severity_name(s), json_integer(by[s]));
	json_object_set_new(counts, "total", json_integer(total));
	json_object_set_new(counts, "unfixed", json_integer(unfixed));
	json_object_set_new(counts, "suppressed", json_integer(suppressed));
	json_object_set_new(rep, "counts", counts);
	return assessment_status_is(stored_status, STATUS_UNHEALTHY) && !total ? assessment_status_name(STATUS_HEALTHY)
										  : stored_status;
}

static int severity_of_text(const char *sev)
{
	for (int s = 0; sev && s <= VDB_SEV_CRITICAL; s++)
		if (!strcasecmp(sev, vdb_severity_name(s)))
			return s;
	return -1;
}

static const char *const policy_keys[] = {"deny_pull_at_or_above", "deny_known_exploited", "deny_unassessed",
					  "deny_failed", "deny_not_applicable", "unknown_as"};

int policy_parse(const char *body, size_t len, struct pull_policy *p, const char **why)
{
	*p = (struct pull_policy){.threshold = -1, .unknown_as = -1};
	json_t *o = json_loadb(body, len, 0, NULL), *v;
	const char *key;
	int ok = json_is_object(o);
	json_object_foreach(o, key, v)
	{
		int known = 0;
		for (size_t i = 0; i < DD_ARRAY_LEN(policy_keys); i++)
			known |= !strcmp(key, policy_keys[i]);
		int sev = !strcmp(key, "deny_pull_at_or_above") || !strcmp(key, "unknown_as");
		if (!known || (json_is_null(v) ? 0 : sev ? severity_of_text(json_string_value(v)) < 0 : !json_is_boolean(v)))
			ok = 0;
	}
	if (ok) {
		p->threshold = severity_of_text(json_string_value(json_object_get(o, "deny_pull_at_or_above")));
		p->unknown_as = severity_of_text(json_string_value(json_object_get(o, "unknown_as")));
		p->known_exploited = json_is_true(json_object_get(o, "deny_known_exploited"));
		p->unassessed = json_is_true(json_object_get(o, "deny_unassessed"));
		p->failed = json_is_true(json_object_get(o, "deny_failed"));
		p->not_applicable = json_is_true(json_object_get(o, "deny_not_applicable"));
	}
	json_decref(o);
	if (!ok)
		*why = "the policy is {\"deny_pull_at_or_above\": \"CRITICAL|HIGH|MEDIUM|LOW|NEGLIGIBLE|UNKNOWN\", "
		       "\"unknown_as\": a severity, \"deny_known_exploited\", \"deny_unassessed\", \"deny_failed\", "
		       "\"deny_not_applicable\": true|false}, any left out, or {} to allow every pull";
	return ok ? 0 : DD_E_USAGE;
}

void policy_get(struct meta *m, struct arena *a, const char *ns, struct pull_policy *p)
{
	const char *v, *why;
	if (m->admin->setting_get(m, a, arena_printf(a, "policy/%s", ns), &v) || policy_parse(v, strlen(v), p, &why))
		*p = (struct pull_policy){.threshold = -1, .unknown_as = -1};
}

void *policy_json(const char *ns, const struct pull_policy *p)
{
	json_t *o = json_pack("{s:o, s:b, s:b, s:b, s:b, s:o}", "deny_pull_at_or_above",
			      p->threshold < 0 ? json_null() : json_string(vdb_severity_name(p->threshold)),
			      "deny_known_exploited", p->known_exploited, "deny_unassessed", p->unassessed, "deny_failed",
			      p->failed, "deny_not_applicable", p->not_applicable, "unknown_as",
			      p->unknown_as < 0 ? json_null() : json_string(vdb_severity_name(p->unknown_as)));
	if (ns)
		json_object_set_new(o, "namespace", json_string(ns));
	return o;
}

int policy_check_pull(void *scanner, struct meta *m, struct arena *a, const char *repo, const char *digest,
		      const char **why)
{
	*why = NULL;
	const char *ns = arena_strndup(a, repo, strcspn(repo, "/"));
	struct pull_policy pol;
	policy_get(m, a, ns, &pol);
	int t = pol.threshold;
	if (t < 0 && !pol.known_exploited && !pol.unassessed && !pol.failed && !pol.not_applicable)
		return 0; /* no policy */
	struct assessment_rec rec;
	int has = !m->scans->assessment_get(m, a, repo, digest, &rec);
	const char *status_gate = NULL;
	if (!has && pol.unassessed)
		status_gate = "not assessed yet";
	else if (has && pol.failed && assessment_status_is(rec.status, STATUS_FAILED))
		status_gate = arena_printf(a, "Failed (%s)", rec.reason);
	else if (has && pol.not_applicable && assessment_status_is(rec.status, STATUS_NOT_APPLICABLE)) {
		struct manifest_rec mr; /* an index is let through: its platforms are gated one by one */
		if (m->repos->manifest_get(m, a, repo, digest, 1, 0, &mr) || !image_parts_is_index(mr.media_type))
			status_gate = arena_printf(a, "NotApplicable (%s)", rec.reason);
	}
	if (status_gate) {
		*why = arena_printf(a, "namespace '%s' refuses pulls of images that are %s; this image is %s", ns,
				    !has ? "not assessed yet" : assessment_status_is(rec.status, STATUS_FAILED) ? "Failed"
											     : "NotApplicable",
				    status_gate);
		return DD_E_DENIED;
	}
	if ((t < 0 && !pol.known_exploited) || !has || !*rec.report)
		return 0; /* no finding gate, or not assessed yet */
	struct rule *rules;
	size_t nrules = 0, i, hits = 0, exploited = 0;
	rules_load(m, a, &rules, &nrules);
	long long c[VDB_SEV_CRITICAL + 1], unfixed;
	if (!pol.known_exploited && !rules_cover(rules, nrules, repo) && counts_parse(rec.counts, c, &unfixed)) {
		long long at_or_above = 0; /* the stored counts stand: the report is read only to name findings */
		for (int s = t; s <= VDB_SEV_CRITICAL; s++)
			at_or_above += s == VDB_SEV_UNKNOWN && pol.unknown_as >= 0 ? 0 : c[s];
		if (pol.unknown_as >= t)
			at_or_above += c[VDB_SEV_UNKNOWN];
		if (!at_or_above)
			return 0;
	}
	json_t *rep = json_loads(rec.report, 0, NULL), *f;
	rules_apply(rules, nrules, repo, rep, rec.status);
	if (pol.known_exploited && scanner) {
		void *tok;
		const struct vulndb *db = scanner_db_acquire(scanner, &tok);
		report_mark_known_exploited(db, rep);
		scanner_db_release(scanner, tok);
	}
	char *list = arena_strdup(a, "");
	json_array_foreach(json_object_get(rep, "findings"), i, f)
	{
		if (json_object_get(f, "suppressed"))
			continue;
		const char *sev = json_string_value(json_object_get(f, "severity"));
		int level = -1, known = pol.known_exploited && json_is_object(json_object_get(f, "known_exploited"));
		for (int s = 0; sev && s <= VDB_SEV_CRITICAL; s++)
			if (!strcmp(sev, vdb_severity_name(s)))
				level = s;
		if (level == VDB_SEV_UNKNOWN && pol.unknown_as >= 0)
			level = pol.unknown_as;
		if (!known && (t < 0 || level < t))
			continue;
		exploited += known;
		if (hits++ < 5)
			list = arena_printf(a, "%s%s%s %s%s in %s", list, *list ? ", " : "", sev, json_string_value(json_object_get(f, "id")),
					    known ? " (known exploited)" : "", json_string_value(json_object_get(f, "package")));
	}
	json_decref(rep);
	if (!hits)
		return 0;
	const char *rule = t < 0 ? "known-exploited findings"
			   : pol.known_exploited ? arena_printf(a, "%s or worse findings, or known-exploited ones", vdb_severity_name(t))
						 : arena_printf(a, "%s or worse findings", vdb_severity_name(t));
	*why = arena_printf(a, "namespace '%s' refuses pulls of images with %s; this image has %zu%s: %s%s", ns, rule, hits,
			    exploited ? arena_printf(a, " (%zu known exploited)", exploited) : "", list, hits > 5 ? ", ..." : "");
	return DD_E_DENIED;
}
