/* match.c: OSV range evaluation. Per the OSV schema, a range's events are read in version
 * order (an "introduced" of "0" first); the version is affected when the last event at or
 * below it is an introduction, a version above a last_affected is not, and a limit bounds the
 * range. Any range (or the explicit versions list) saying affected makes it affected. */
#include "common/dd.h"
#include "match.h"
#include "common/arena.h"
#include "inventory/inventory.h"

int osv_ecosystem_scheme(const char *eco, enum version_scheme *out)
{
	static const struct {
		const char *prefix;
		enum version_scheme scheme;
	} map[] = {
		{"Debian", VERSION_DPKG},     {"Ubuntu", VERSION_DPKG},          {"Alpine", VERSION_APK},
		{"Red Hat", VERSION_RPM},     {"AlmaLinux", VERSION_RPM},        {"Rocky Linux", VERSION_RPM},
		{"openSUSE", VERSION_RPM},    {"SUSE", VERSION_RPM},             {"Mageia", VERSION_RPM},
		{"PyPI", VERSION_PEP440},     {"Go", VERSION_GO},                {"Maven", VERSION_MAVEN},
		/* SemVer 2.0's precedence, which golang.org/x/mod/semver follows (OSV SEMVER ranges) */
		{"npm", VERSION_GO},          {"crates.io", VERSION_GO},         {"Node.js", VERSION_GO},
	};
	for (size_t i = 0; i < DD_ARRAY_LEN(map); i++) {
		size_t n = strlen(map[i].prefix);
		if (!strncmp(eco, map[i].prefix, n) && (eco[n] == 0 || eco[n] == ':')) {
			*out = map[i].scheme;
			return 0;
		}
	}
	return DD_E_UNSUPPORTED;
}

/* -1, 0, 1; an invalid feed version sorts as "unknown" (returned as 2). */
static int cmp(enum version_scheme s, const char *a, const char *b)
{
	int c;
	const char *why;
	if (version_compare(s, a, strlen(a), b, strlen(b), &c, &why))
		return 2;
	return c;
}

static int is_zero(const char *v) { return !strcmp(v, "0"); }

/* Evaluates one range: walks the events in version order, as the schema says. */
static int range_affects(enum version_scheme s, const struct osv_range *r, const char *v, const char **fixed)
{
	int vulnerable = 0;
	size_t n = r->nevents;
	/* a small selection sort of indices by version ("0" introduced first); ranges have few events */
	size_t order[64];
	if (n > DD_ARRAY_LEN(order))
		n = DD_ARRAY_LEN(order);
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++) {
			const struct osv_event *x = &r->events[order[i]], *y = &r->events[order[j]];
			int c = is_zero(x->version) ? (is_zero(y->version) ? 0 : -1)
				: is_zero(y->version) ? 1
						      : cmp(s, x->version, y->version);
			/* at the same version, an introduction comes before what ends it */
			if (c == 1 || (c == 0 && y->kind == OSV_INTRODUCED && x->kind != OSV_INTRODUCED)) {
				size_t t = order[i];
				order[i] = order[j];
				order[j] = t;
			}
		}
	const char *next_fix = NULL;
	for (size_t k = 0; k < n; k++) {
		const struct osv_event *e = &r->events[order[k]];
		int c = is_zero(e->version) ? 1 : cmp(s, v, e->version); /* v against the event */
		if (c == 2)
			continue; /* an invalid version in the feed: ignored */
		switch (e->kind) {
		case OSV_INTRODUCED:
			if (c >= 0)
				vulnerable = 1;
			break;
		case OSV_FIXED:
			if (c >= 0)
				vulnerable = 0;
			else if (vulnerable && !next_fix)
				next_fix = e->version;
			break;
		case OSV_LAST_AFFECTED:
			if (c > 0)
				vulnerable = 0;
			break;
		case OSV_LIMIT:
			if (c >= 0)
				return 0; /* at or above a limit, nothing in this range applies */
			break;
		}
	}
	if (vulnerable)
		*fixed = next_fix;
	return vulnerable;
}

int osv_match(const struct osv_affected *aff, const char *version, struct match_result *out, const char **why)
{
	memset(out, 0, sizeof(*out));
	*why = NULL;
	enum version_scheme s;
	if (osv_ecosystem_scheme(aff->ecosystem ? aff->ecosystem : "", &s)) {
		*why = "unsupported ecosystem";
		return DD_E_UNSUPPORTED;
	}
	if (version_validate(s, version, strlen(version), why))
		return DD_E_VERSION_INVALID;
	for (size_t i = 0; i < aff->nversions; i++)
		if (cmp(s, version, aff->versions[i]) == 0)
			out->affected = 1;
	for (size_t i = 0; i < aff->nranges; i++) {
		const struct osv_range *r = &aff->ranges[i];
		if (r->type == OSV_RANGE_GIT)
			continue; /* commits, not package versions */
		const char *fixed = NULL;
		if (range_affects(s, r, version, &fixed)) {
			out->affected = 1;
			if (fixed && (!out->fixed || cmp(s, fixed, out->fixed) < 0))
				out->fixed = fixed;
		}
	}
	return 0;
}

int match_ecosystem(struct arena *a, const struct inventory *inv, const char **eco, const char **why)
{
	const char *id = inv->os.id, *ver = inv->os.version_id;
	*eco = NULL;
	*why = NULL;
	if (!id || !ver || !*ver) {
		*why = "the image's OS release is not known";
		return DD_E_UNSUPPORTED;
	}
	size_t major = strcspn(ver, ".");
	if (!strcmp(id, "debian"))
		*eco = arena_printf(a, "Debian:%.*s", (int)major, ver);
	else if (!strcmp(id, "alpine") && strstr(ver, "_alpha")) /* edge: "3.21_alpha20240807" */
		*eco = arena_strdup(a, "Alpine:edge");
	else if (!strcmp(id, "alpine")) { /* the secdb branch: major.minor */
		const char *dot = strchr(ver, '.');
		size_t mm = dot ? (size_t)(dot - ver) + 1 + strcspn(dot + 1, ".") : strlen(ver);
		*eco = arena_printf(a, "Alpine:v%.*s", (int)mm, ver);
	} else if (!strcmp(id, "ubuntu")) /* "22.04" */
		*eco = arena_printf(a, "Ubuntu:%s", ver);
	else if (!strcmp(id, "rhel")) /* Red Hat Enterprise Linux and UBI images */
		*eco = arena_printf(a, "Red Hat:%.*s", (int)major, ver);
	else if (!strcmp(id, "rocky"))
		*eco = arena_printf(a, "Rocky Linux:%.*s", (int)major, ver);
	else if (!strcmp(id, "almalinux"))
		*eco = arena_printf(a, "AlmaLinux:%.*s", (int)major, ver);
	else {
		*why = arena_printf(a, "no vulnerability feed covers '%s %s' yet", id, ver);
		return DD_E_UNSUPPORTED;
	}
	return 0;
}
