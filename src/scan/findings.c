/* findings.c: from an inventory and the database to findings and a fix plan.
 *
 * Each package is looked up by the name and version its feed uses (dpkg: the source
 * package and source version; apk: the origin; rpm: the binary name with epoch:version-
 * release, except Rocky Linux whose OSV names source RPMs). Entries of one vulnerability
 * are evaluated together (a record may list a package in several repository streams); an
 * entry that says "never affected" suppresses the vulnerability for that package. Then,
 * per package, an advisory (DSA, DLA, RHSA, ...) whose CVEs are all already findings is
 * folded into them as an alias, so one issue is reported once. */
#include "common/dd.h"
#include "scan/findings.h"
#include "common/arena.h"
#include "inventory/inventory.h"
#include "scan/match.h"

static int is_cve(const char *id) { return id[0] == 'C' && id[1] == 'V' && id[2] == 'E' && id[3] == '-'; }

/* The (name, version) the feeds of this ecosystem key a package by. */
static void feed_key(struct arena *a, const char *eco, const struct package *p, const char **name, const char **ver)
{
	*name = p->name;
	*ver = p->version;
	if (pkg_lang_ecosystem(p->type))
		return; /* application packages: as installed */
	if (p->type == PKG_DPKG || p->type == PKG_APK) {
		if (p->source_name && *p->source_name)
			*name = p->source_name;
		if (p->type == PKG_DPKG && p->source_version && *p->source_version)
			*ver = p->source_version;
	} else {
		if (!strncmp(eco, "Rocky Linux:", 12) && p->source_name && *p->source_name)
			*name = p->source_name;
		*ver = p->has_epoch ? arena_printf(a, "%ld:%s-%s", p->epoch, p->version, p->release)
				    : arena_printf(a, "%s-%s", p->version, p->release);
	}
}

static const char *distro_name(const char *eco)
{
	return eco; /* "Debian:12" reads well enough in a sentence */
}

/* Joins NULL-terminated pieces into one arena string (a printf-free sentence builder: one
 * remediation per finding, hundreds per image). */
static const char *join(struct arena *a, const char *const *parts)
{
	size_t n = 0;
	for (size_t i = 0; parts[i]; i++)
		n += strlen(parts[i]);
	char *out = arena_alloc(a, n + 1), *p = out;
	for (size_t i = 0; parts[i]; i++) {
		size_t k = strlen(parts[i]);
		memcpy(p, parts[i], k);
		p += k;
	}
	*p = 0;
	return out;
}

/* An application package's: what to upgrade, and where it is (the file that names it). */
static const char *lang_remediation(struct arena *a, const char *eco, const struct package *p, const char *fixed)
{
	const char *where = p->db_path ? p->db_path : "";
	if (p->type == PKG_GO && !strcmp(p->name, "stdlib"))
		return fixed ? arena_printf(a, "rebuild %s with Go %s or later", where, fixed)
			     : arena_printf(a, "no Go release fixes this yet (the Go standard library in %s)", where);
	if (!fixed)
		return arena_printf(a, "no fixed version of %s is available in %s yet; watch for an update or mitigate (%s)",
				    p->name, eco, where);
	/* Go module versions carry a 'v' the vulnerability database's fixes leave out */
	const char *v = p->type == PKG_GO && p->version[0] == 'v' && fixed[0] != 'v' ? "v" : "";
	return arena_printf(a, "upgrade %s from %s to %s%s or later (%s%s)", p->name, p->version, v, fixed,
			    p->type == PKG_GO ? "and rebuild " : p->type == PKG_CARGO ? "in " : "", where);
}

static const char *remediation(struct arena *a, const char *eco, const struct package *p, const char *name,
			       const char *installed, const char *fixed, const char *vendor)
{
	if (pkg_lang_ecosystem(p->type))
		return lang_remediation(a, eco, p, fixed);
	if (!fixed) {
		if (vendor && !strncmp(vendor, "end-of-life", 11))
			return arena_printf(a, "%s is no longer supported with security updates in %s; replace it or "
					       "move to a newer release",
					    name, distro_name(eco));
		return join(a, (const char *const[]){"no fixed version of ", name, " is available in ", distro_name(eco),
						     " yet; watch for an update or mitigate", NULL});
	}
	int same = !strcmp(p->name, name) || (p->type != PKG_DPKG && !strcmp(p->version, installed)) ||
		   (p->type == PKG_DPKG && !strcmp(p->version, installed));
	if (p->type == PKG_RPM || p->type == PKG_APK || same)
		return join(a, (const char *const[]){"upgrade ", p->name, " from ", installed, " to ", fixed, " or later",
						     NULL});
	return arena_printf(a, "upgrade %s (%s, built from %s %s) to a version built from %s %s or later", p->name,
			    p->version, name, installed, name, fixed);
}

/* growable arrays in the arena */
#define GROW(a, v, n, cap)                                                                 \
	do {                                                                               \
		if ((n) == (cap)) {                                                        \
			size_t nc_ = (cap) ? (cap) * 2 : 16;                               \
			void *nv_ = arena_alloc_uninit((a), nc_ * sizeof(*(v)));           \
			if (n)                                                             \
				memcpy(nv_, (v), (n) * sizeof(*(v)));                      \
			(v) = nv_;                                                         \
			(cap) = nc_;                                                       \
		}                                                                          \
	} while (0)

struct hit {
	uint32_t vuln;
	const char *fixed;
	const struct vdb_entry *entry; /* the entry that decided (for the vendor severity) */
	const char **extra;            /* advisory ids folded in */
	size_t nextra, capextra;
	int dropped;
	const struct finding *first;   /* filled for the first binary package; copied for the others */
	const struct vdb_entry *all;   /* the package's entries of this vulnerability */
	size_t nall;
};

static int has_str(const char **v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i], s))
			return 1;
	return 0;
}

/* A finding of a distribution whose feed rates nothing (Alpine's secdb and OSV records carry
 * no severity) that no CVSS scores either: the worst rating another distribution (an
 * "OS:release" ecosystem, not a language's) gives the same vulnerability for a package of the
 * same name (source, else binary), with *source "distribution:<ecosystem>". 0 when none does,
 * or for other distributions, whose UNKNOWN is their own word ("not yet assigned"). */
static int other_rating(struct arena *a, const struct vulndb *db, const char *eco, const char *name,
			const char *binary, const char *id, enum vdb_severity *level, const char **source)
{
	int best = -1;
	const char *from = NULL;
	if (strncmp(eco, "Alpine:", 7))
		return 0;
	for (size_t i = 0; i < vulndb_necos(db); i++) {
		const char *other = vulndb_str(db, vulndb_eco(db, i)->name);
		if (!strchr(other, ':') || !strncmp(other, "Alpine:", 7))
			continue;
		for (int k = 0; k < 2; k++) {
			const char *nm = k ? binary : name;
			if (!nm || (k && name && !strcmp(nm, name)))
				continue;
			size_t n = 0;
			const struct vdb_entry *es = vulndb_lookup(db, other, nm, &n);
			const struct vdb_entry *e = es ? vulndb_entry_of(db, es, n, id) : NULL;
			if (e && e->level != VDB_SEV_UNKNOWN && e->level <= VDB_SEV_CRITICAL && (int)e->level > best) {
				best = e->level;
				from = other;
			}
		}
	}
	if (best < 0)
		return 0;
	*level = (enum vdb_severity)best;
	*source = arena_printf(a, "distribution:%s", from);
	return 1;
}

static void fill(struct arena *a, const struct vulndb *db, const char *eco, const struct package *p,
		 const char *name, const char *installed, const struct hit *h, struct finding *f)
{
	const struct vdb_vuln *v = vulndb_vuln(db, h->vuln);
	memset(f, 0, sizeof(*f));
	f->id = vulndb_str(db, v->id);
	f->pkg = p;
	f->matched_name = name;
	f->installed = installed;
	f->fixed = h->fixed;
	f->patchable = h->fixed != NULL;
	f->vendor_severity = h->entry->severity ? vulndb_str(db, h->entry->severity) : NULL;
	f->cvss_score = v->cvss_score10 == 0xffff ? -1 : v->cvss_score10 / 10.0;
	f->cvss_vector = v->cvss_vector ? vulndb_str(db, v->cvss_vector) : NULL;
	/* levels index per-severity counters: one out of range (a damaged file) counts as none */
	if (h->entry->level != VDB_SEV_UNKNOWN && h->entry->level <= VDB_SEV_CRITICAL) {
		f->severity = (enum vdb_severity)h->entry->level;
		f->severity_source = "vendor";
	} else if (v->cvss_score10 != 0xffff && v->cvss_level <= VDB_SEV_CRITICAL) {
		f->severity = (enum vdb_severity)v->cvss_level;
		f->severity_source = "cvss";
	} else if (!other_rating(a, db, eco, name, p->name, f->id, &f->severity, &f->severity_source)) {
		f->severity = VDB_SEV_UNKNOWN;
		f->severity_source = "none";
	}
	f->tracker_status = vdb_tracker_status_name(h->entry->flags);
	f->summary = v->summary ? vulndb_str(db, v->summary) : NULL;
	f->description = v->details ? vulndb_str(db, v->details) : NULL;
	f->published = v->published ? vulndb_str(db, v->published) : NULL;
	f->modified = v->modified ? vulndb_str(db, v->modified) : NULL;
	const uint32_t *ids = vulndb_list(db, v->aliases, v->naliases);
	size_t n = (ids ? v->naliases : 0) + h->nextra;
	f->aliases = arena_alloc(a, (n + 1) * sizeof(*f->aliases));
	for (size_t i = 0; ids && i < v->naliases; i++) /* unique in the database already */
		f->aliases[f->naliases++] = vulndb_str(db, ids[i]);
	for (size_t i = 0; i < h->nextra; i++)
		if (!has_str(f->aliases, f->naliases, h->extra[i]))
			f->aliases[f->naliases++] = h->extra[i];
	const uint32_t *refs = vulndb_list(db, v->refs, v->nrefs);
	f->db = db;
	f->reference_list = refs; /* materialised only when a report prints them */
	f->nreferences = refs ? v->nrefs : 0;
	f->remediation = remediation(a, eco, p, name, installed, h->fixed, f->vendor_severity);
}

/* The hits of one (feed name, version): evaluated once per scan, however many binary
 * packages come from that source package. */
struct memo {
	const char *eco, *name, *ver;
	struct hit *hits;
	size_t nh;
	int used;
};

/* RPM modules: a fix built for a module stream ("...module+el8..." or "...module_el8...")
 * applies only to packages of that module and stream, and a non-modular fix only to
 * non-modular packages; otherwise nodejs 10 from the nodejs:10 stream would "need" nodejs:12's
 * fixes. The stream comes from the advisory summary ("nodejs:12 security update"). */
static int modular_version(const char *v) { return v && (strstr(v, ".module+el") || strstr(v, ".module_el")); }

static int module_applies(const struct vulndb *db, const struct vdb_entry *e, const char *fixed, const char *label,
			  int pkg_modular)
{
	int entry_modular = modular_version(fixed);
	if (entry_modular != pkg_modular)
		return 0;
	if (!entry_modular || !label || !*label)
		return 1;
	/* "nodejs:10:8030020210304194401:..." -> "nodejs:10" */
	const char *c1 = strchr(label, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	size_t n = c2 ? (size_t)(c2 - label) : strlen(label);
	const struct vdb_vuln *v = vulndb_vuln(db, e->vuln);
	const char *summary = v ? vulndb_str(db, v->summary) : "";
	int named = 0;
	for (const char *p = summary; *p;) {
		size_t w = strcspn(p, " ,");
		const char *colon = memchr(p, ':', w);
		if (colon && colon > p && colon + 1 < p + w && isdigit((unsigned char)colon[1])) {
			named = 1; /* the summary names module streams: ours must be one of them */
			if (w == n && !strncmp(p, label, n))
				return 1;
		}
		p += w;
		while (*p == ' ' || *p == ',')
			p++;
	}
	return !named;
}

/* The index of the hit whose vulnerability id is `id`, or -1 (hits sorted by id). */
static long find_hit(const struct vulndb *db, const struct hit *hits, size_t nh, const char *id)
{
	size_t lo = 0, hi = nh;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(vulndb_str(db, vulndb_vuln(db, hits[mid].vuln)->id), id);
		if (!c)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static void compute_hits(struct arena *a, const struct vulndb *db, const char *eco, const char *name, const char *ver,
			 const char *label, struct hit **out, size_t *nout)
{
	int rpm = !strncmp(eco, "Red Hat:", 8) || !strncmp(eco, "AlmaLinux:", 10) || !strncmp(eco, "Rocky Linux:", 12);
	int pkg_modular = modular_version(ver) || (label && *label);
	*out = NULL;
	*nout = 0;
	struct vdb_pkg pk;
	if (!vulndb_lookup_pkg(db, eco, name, &pk))
		return;
	const struct vdb_entry *es = pk.entries;
	size_t n = pk.n;
	enum version_scheme scheme;
	const char *why;
	struct version_key key;
	if (osv_ecosystem_scheme(eco, &scheme) || version_prepare(scheme, ver, strlen(ver), &key, &why))
		return; /* an installed version no comparison can read matches nothing */
	/* the installed version's rank among the package's fixes: fixes[0, rank) are at or below
	 * it, so a simple entry applies exactly when its fix's index is rank or more */
	size_t rank = 0, hi = pk.nfixes;
	while (rank < hi) {
		size_t mid = rank + (hi - rank) / 2;
		const char *f = vulndb_str(db, pk.fixes[mid]);
		int c = 0;
		if (!version_compare_key(&key, f, strlen(f), &c, &why) && c < 0)
			hi = mid;
		else
			rank = mid + 1;
	}
	struct hit *hits = NULL;
	size_t nh = 0, caph = 0;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		int affected = 0, suppressed = 0;
		const char *fixed = NULL;
		uint32_t fixed_rank = 0; /* 1 + fixed's index in pk.fixes when it came from a simple entry */
		const struct vdb_entry *decided = &es[i];
		for (; j < n && es[j].vuln == es[i].vuln; j++) {
			if (es[j].flags & VDB_NOT_AFFECTED) {
				suppressed = 1;
				continue;
			}
			struct match_result m = {0};
			uint32_t m_rank = 0;
			if (es[j].flags & VDB_SIMPLE) {
				/* introduced 0 [, fixed X]: affected below X; never when X cannot be read
				 * (VDB_FIX_UNREADABLE) or lies outside the list (a damaged file) */
				m_rank = es[j].fix;
				if (m_rank > pk.nfixes || (m_rank && m_rank - 1 < rank))
					continue;
				m.fixed = m_rank ? vulndb_str(db, pk.fixes[m_rank - 1]) : NULL;
				if (rpm && !module_applies(db, &es[j], m.fixed, label, pkg_modular))
					continue;
				m.affected = 1;
			} else {
				struct osv_affected x;
				vulndb_entry_affected(db, &es[j], eco, name, a, &x);
				if (osv_match(&x, ver, &m, &why) || !m.affected)
					continue;
				if (rpm && !module_applies(db, &es[j], m.fixed, label, pkg_modular))
					continue;
			}
			if (!affected)
				decided = &es[j];
			affected = 1;
			if (!m.fixed)
				continue;
			int lower = !fixed;
			if (!lower && m_rank && fixed_rank)
				lower = m_rank < fixed_rank;
			else if (!lower) {
				int c = 0;
				lower = !version_compare(scheme, m.fixed, strlen(m.fixed), fixed, strlen(fixed), &c, &why) &&
					c < 0;
			}
			if (lower) {
				fixed = m.fixed; /* the lowest fix above the installed version */
				fixed_rank = m_rank;
				decided = &es[j];
			}
		}
		if (affected && !suppressed && vulndb_vuln(db, es[i].vuln)) {
			GROW(a, hits, nh, caph);
			if (fixed && fixed[0] == '0' && fixed[1] == ':')
				fixed += 2; /* epoch 0 is no epoch: "upgrade curl to 7.76.1-23.el9_2.4" */
			hits[nh++] = (struct hit){.vuln = es[i].vuln, .fixed = fixed, .entry = decided, .all = &es[i],
						  .nall = j - i};
		}
		i = j;
	}
	/* fold advisories into the CVE findings they fix; hits are in id order (the database keeps
	 * each package's entries sorted by id), so a CVE is found by binary search */
	for (size_t i = 0; i < nh; i++) {
		const struct vdb_vuln *v = vulndb_vuln(db, hits[i].vuln);
		const char *id = vulndb_str(db, v->id);
		if (is_cve(id))
			continue;
		const uint32_t *ids = vulndb_list(db, v->aliases, v->naliases);
		size_t cves = 0, covered = 0;
		for (size_t k = 0; ids && k < v->naliases; k++) {
			const char *alias = vulndb_str(db, ids[k]);
			if (!is_cve(alias))
				continue;
			cves++;
			covered += find_hit(db, hits, nh, alias) >= 0;
		}
		if (!cves || covered != cves)
			continue; /* the advisory covers something no CVE finding does: it stays */
		hits[i].dropped = 1;
		for (size_t k = 0; k < v->naliases; k++) {
			long m = find_hit(db, hits, nh, vulndb_str(db, ids[k]));
			if (m >= 0 && (size_t)m != i) {
				GROW(a, hits[m].extra, hits[m].nextra, hits[m].capextra);
				hits[m].extra[hits[m].nextra++] = id;
			}
		}
	}
	*out = hits;
	*nout = nh;
}

static uint64_t memo_hash(const char *name, const char *ver) { return vdb_hash(name, ver); }

/* Whether line (s, n) is one of the lines of list (each ended by a newline). */
static int has_line(const char *list, const char *s, size_t n)
{
	for (const char *l = list, *nl; (nl = strchr(l, '\n')); l = nl + 1)
		if ((size_t)(nl - l) == n && !memcmp(l, s, n))
			return 1;
	return 0;
}

/* A Go finding's packages, those its advisory says the vulnerable code is in (each entry's of
 * the vulnerability, once), and whether the binary holds code of any of them. */
static void go_reach(struct arena *a, const struct vulndb *db, const struct hit *h, const struct package *p,
		     struct finding *f)
{
	f->imported = -1;
	f->imports = NULL;
	f->nimports = 0;
	size_t total = 0;
	for (size_t e = 0; e < h->nall; e++)
		total += vulndb_list(db, h->all[e].imports, h->all[e].nimports) ? h->all[e].nimports : 0;
	if (!total)
		return;
	const char **v = arena_alloc(a, total * sizeof(*v));
	for (size_t e = 0; e < h->nall; e++) {
		const uint32_t *l = vulndb_list(db, h->all[e].imports, h->all[e].nimports);
		for (size_t k = 0; l && k < h->all[e].nimports; k++) {
			const char *path = vulndb_str(db, l[k]);
			if (*path && !has_str(v, f->nimports, path))
				v[f->nimports++] = path;
		}
	}
	f->imports = v;
	if (!f->nimports || !p->go_packages)
		return;
	f->imported = 0;
	for (size_t k = 0; k < f->nimports && !f->imported; k++)
		f->imported = has_line(p->go_packages, v[k], strlen(v[k]));
}

/* Matches one package: appends its findings. */
static void match_package(struct arena *a, const struct vulndb *db, const char *eco, const struct package *p,
			  struct memo *memo, size_t nmemo, struct finding **fv, size_t *fn, size_t *fcap)
{
	const char *name, *ver;
	feed_key(a, eco, p, &name, &ver);
	size_t i = (size_t)(memo_hash(name, ver) + (uint64_t)p->type * 0x9e3779b97f4a7c15ull) & (nmemo - 1);
	while (memo[i].used && (strcmp(memo[i].eco, eco) || strcmp(memo[i].name, name) || strcmp(memo[i].ver, ver)))
		i = (i + 1) & (nmemo - 1);
	struct memo *m = &memo[i];
	if (!m->used) {
		*m = (struct memo){.eco = eco, .name = name, .ver = ver, .used = 1};
		compute_hits(a, db, eco, name, ver, p->modularity_label, &m->hits, &m->nh);
	}
	for (size_t k = 0; k < m->nh; k++) {
		struct hit *h = &m->hits[k];
		if (h->dropped)
			continue;
		GROW(a, *fv, *fn, *fcap);
		struct finding *f = &(*fv)[*fn];
		if (h->first) { /* another binary of the same source: only the package differs */
			*f = *h->first;
			f->pkg = p;
			f->remediation = remediation(a, eco, p, name, ver, h->fixed, f->vendor_severity);
		} else {
			fill(a, db, eco, p, name, ver, h, f);
			struct finding *keep = arena_alloc(a, sizeof(*keep));
			*keep = *f;
			h->first = keep;
		}
		if (p->type == PKG_GO)
			go_reach(a, db, h, p, f);
		else
			f->imported = -1;
		(*fv)[(*fn)++].family = i;
	}
}

static int finding_cmp(const void *x, const void *y)
{
	const struct finding *a = x, *b = y;
	if (a->severity != b->severity)
		return a->severity > b->severity ? -1 : 1;
	int r = strcmp(a->pkg->name, b->pkg->name);
	return r ? r : strcmp(a->id, b->id);
}

static int step_cmp(const void *x, const void *y)
{
	const struct fix_step *a = x, *b = y;
	if (a->worst != b->worst)
		return a->worst > b->worst ? -1 : 1;
	if (a->clears != b->clears)
		return a->clears > b->clears ? -1 : 1;
	return strcmp(a->source, b->source);
}

/* The fix plan: one step per package family (source package), to the highest fixed version
 * among its findings, which clears every patchable finding of the family. Upgrades of
 * different families are independent, so this is the fewest upgrades that clear the most. */
static void plan(struct arena *a, const char *eco, size_t nfamilies, struct scan_result *r)
{
	size_t *step_of = arena_alloc(a, nfamilies * sizeof(*step_of)); /* family -> step + 1 */
	size_t cap = 0;
	for (size_t i = 0; i < r->n; i++) {
		const struct finding *f = &r->findings[i];
		if (!f->patchable)
			continue;
		struct fix_step *s = step_of[f->family] ? &r->plan[step_of[f->family] - 1] : NULL;
		if (!s) {
			GROW(a, r->plan, r->nplan, cap);
			step_of[f->family] = r->nplan + 1;
			s = &r->plan[r->nplan++];
			memset(s, 0, sizeof(*s));
			s->source = f->matched_name;
			s->ecosystem = finding_ecosystem(f, eco);
			s->path = pkg_lang_ecosystem(f->pkg->type) ? f->pkg->db_path : NULL;
			s->from = f->installed;
			s->to = f->fixed;
			s->packages = arena_alloc(a, 64 * sizeof(*s->packages));
		}
		int c = 0;
		const char *why;
		enum version_scheme scheme;
		if (!osv_ecosystem_scheme(finding_ecosystem(f, eco), &scheme) &&
		    !version_compare(scheme, f->fixed, strlen(f->fixed), s->to, strlen(s->to), &c, &why) && c > 0)
			s->to = f->fixed;
		if (!has_str(s->packages, s->npackages, f->pkg->name) && s->npackages < 64)
			s->packages[s->npackages++] = f->pkg->name;
		s->clears++;
		s->by_severity[f->severity]++;
		if (f->severity > s->worst)
			s->worst = f->severity;
	}
	if (r->nplan > 1)
		qsort(r->plan, r->nplan, sizeof(*r->plan), step_cmp);
}

int scan_match(struct arena *a, const struct vulndb *db, const struct inventory *inv, struct scan_result *out,
	       const char **why)
{
	memset(out, 0, sizeof(*out));
	*why = NULL;
	const char *eco = NULL;
	int rc = vulndb_verify(db, why); /* a damaged database answers no scan, not an empty one */
	if (rc)
		return rc;
	size_t nlang = 0;
	for (size_t i = 0; i < inv->n; i++)
		nlang += pkg_lang_ecosystem(inv->pkgs[i].type) != NULL;
	/* the OS's packages are matched in its ecosystem; when no feed covers it, an image with
	 * application packages still has theirs matched (a Go binary on scratch), and says so */
	const char *os_why = NULL;
	if (match_ecosystem(a, inv, &eco, why)) {
		os_why = *why;
		*why = NULL;
		eco = NULL;
	} else if (!vulndb_has_ecosystem(db, eco)) {
		os_why = arena_printf(a, "the vulnerability database has no data for %s", eco);
		eco = NULL;
	}
	if (os_why && !nlang) {
		out->unsupported = os_why;
		return 0;
	}
	if (!inv->n) { /* nothing to match is not "no vulnerabilities" */
		out->unsupported = arena_printf(a, "no installed package found (the operating system is %s %s): nothing to match",
						inv->os.id ? inv->os.id : "", inv->os.version_id ? inv->os.version_id : "");
		return 0;
	}
	if (os_why && inv->n > nlang)
		out->note = arena_printf(a, "%s: only the application packages were matched", os_why);
	out->ecosystem = eco;
	size_t cap = 0, nmemo = 16;
	while (nmemo < 2 * inv->n)
		nmemo *= 2;
	/* room for about four findings per package (debian-big has 836 for 200): one array, not
	 * eight doublings of it */
	cap = inv->n * 4 + 16;
	out->findings = arena_alloc_uninit(a, cap * sizeof(*out->findings));
	struct memo *memo = arena_alloc(a, nmemo * sizeof(*memo));
	for (size_t i = 0; i < inv->n; i++) {
		const char *pe = pkg_lang_ecosystem(inv->pkgs[i].type);
		if (pe || eco)
			match_package(a, db, pe ? pe : eco, &inv->pkgs[i], memo, nmemo, &out->findings, &out->n, &cap);
	}
	if (out->n > 1)
		qsort(out->findings, out->n, sizeof(*out->findings), finding_cmp);
	for (size_t i = 0; i < out->n; i++) {
		out->by_severity[out->findings[i].severity]++;
		out->unfixed += !out->findings[i].patchable;
	}
	plan(a, eco, nmemo, out);
	return 0;
}

size_t scan_drop(struct arena *a, struct scan_result *r, int (*drop)(void *ctx, const struct finding *f), void *ctx)
{
	size_t k = 0, nfam = 1;
	for (size_t i = 0; i < r->n; i++) {
		if (drop(ctx, &r->findings[i]))
			continue;
		r->findings[k++] = r->findings[i];
	}
	size_t dropped = r->n - k;
	r->n = k;
	memset(r->by_severity, 0, sizeof(r->by_severity));
	r->unfixed = 0;
	for (size_t i = 0; i < r->n; i++) {
		r->by_severity[r->findings[i].severity]++;
		r->unfixed += !r->findings[i].patchable;
		if (r->findings[i].family >= nfam)
			nfam = r->findings[i].family + 1;
	}
	r->plan = NULL;
	r->nplan = 0;
	plan(a, r->ecosystem, nfam, r);
	return dropped;
}

const char *finding_ecosystem(const struct finding *f, const char *os_eco)
{
	const char *e = pkg_lang_ecosystem(f->pkg->type);
	return e ? e : os_eco ? os_eco : "";
}

const char *finding_reference(const struct finding *f, size_t i)
{
	return i < f->nreferences ? vulndb_str(f->db, f->reference_list[i]) : "";
}
