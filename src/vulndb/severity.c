/* severity.c: one severity scale for every feed. The vendor's own rating comes first (Debian
 * urgency, Ubuntu priority, the Red Hat family's impact), the CVSS v3 base score computed
 * from the vector second (FIRST's CVSS v3.1 specification, section 7.1). */
#include "common/dd.h"
#include "vulndb/vulndb.h"
#include <math.h>

const char *vdb_severity_name(enum vdb_severity s)
{
	static const char *const names[] = {"UNKNOWN", "NEGLIGIBLE", "LOW", "MEDIUM", "HIGH", "CRITICAL"};
	return (unsigned)s < DD_ARRAY_LEN(names) ? names[s] : "UNKNOWN";
}

enum vdb_severity vdb_severity_of_name(const char *name)
{
	for (int s = VDB_SEV_CRITICAL; s > VDB_SEV_UNKNOWN; s--)
		if (name && !strcmp(name, vdb_severity_name(s)))
			return s;
	return VDB_SEV_UNKNOWN;
}

enum vdb_severity vdb_severity_from_vendor(const char *raw)
{
	static const struct {
		const char *word;
		enum vdb_severity s;
	} map[] = {
		/* Debian tracker urgency ("unimportant": Debian will not fix, no security impact) */
		{"unimportant", VDB_SEV_NEGLIGIBLE},
		/* Ubuntu priority */
		{"negligible", VDB_SEV_NEGLIGIBLE},
		{"low", VDB_SEV_LOW},
		{"medium", VDB_SEV_MEDIUM},
		{"high", VDB_SEV_HIGH},
		{"critical", VDB_SEV_CRITICAL},
		/* Red Hat / AlmaLinux / Rocky impact */
		{"moderate", VDB_SEV_MEDIUM},
		{"important", VDB_SEV_HIGH},
	};
	if (!raw)
		return VDB_SEV_UNKNOWN;
	/* the tracker marks a derived urgency with a trailing '*' or '**' */
	size_t n = strlen(raw);
	while (n && raw[n - 1] == '*')
		n--;
	for (size_t i = 0; i < DD_ARRAY_LEN(map); i++)
		if (strlen(map[i].word) == n && !strncasecmp(raw, map[i].word, n))
			return map[i].s;
	return VDB_SEV_UNKNOWN; /* "not yet assigned", "untriaged", "end-of-life", ... */
}

enum vdb_severity vdb_severity_from_score(double s)
{
	if (s >= 9.0)
		return VDB_SEV_CRITICAL;
	if (s >= 7.0)
		return VDB_SEV_HIGH;
	if (s >= 4.0)
		return VDB_SEV_MEDIUM;
	if (s > 0.0)
		return VDB_SEV_LOW;
	return VDB_SEV_NEGLIGIBLE; /* 0.0 is CVSS "None" */
}

/* CVSS v3.1's Roundup: the smallest one-decimal number >= x, free of float noise. */
static double roundup31(double x)
{
	long i = lround(x * 100000.0);
	if (i % 10000 == 0)
		return (double)i / 100000.0;
	return (floor((double)i / 10000.0) + 1.0) / 10.0;
}

int vdb_cvss3_score(const char *vector, double *score)
{
	*score = 0;
	int v31;
	if (!strncmp(vector, "CVSS:3.1/", 9))
		v31 = 1;
	else if (!strncmp(vector, "CVSS:3.0/", 9))
		v31 = 0;
	else
		return DD_E_FEED_INVALID;
	/* metric letters in the order we store them; each must appear exactly once */
	static const char *const metrics[] = {"AV", "AC", "PR", "UI", "S", "C", "I", "A"};
	char val[8] = {0};
	const char *p = vector + 9;
	while (*p) {
		const char *colon = strchr(p, ':');
		if (!colon)
			return DD_E_FEED_INVALID;
		size_t klen = (size_t)(colon - p);
		const char *v = colon + 1;
		size_t vlen = strcspn(v, "/");
		int known = 0;
		for (size_t m = 0; m < DD_ARRAY_LEN(metrics); m++)
			if (strlen(metrics[m]) == klen && !strncmp(p, metrics[m], klen)) {
				if (val[m] || vlen != 1)
					return DD_E_FEED_INVALID;
				val[m] = v[0];
				known = 1;
			}
		(void)known; /* temporal and environmental metrics do not change the base score */
		p = v + vlen;
		if (*p == '/')
			p++;
	}
	double av, ac, pr, ui, cia[3];
	int changed;
	switch (val[0]) {
	case 'N': av = 0.85; break;
	case 'A': av = 0.62; break;
	case 'L': av = 0.55; break;
	case 'P': av = 0.2; break;
	default: return DD_E_FEED_INVALID;
	}
	switch (val[1]) {
	case 'L': ac = 0.77; break;
	case 'H': ac = 0.44; break;
	default: return DD_E_FEED_INVALID;
	}
	switch (val[4]) {
	case 'U': changed = 0; break;
	case 'C': changed = 1; break;
	default: return DD_E_FEED_INVALID;
	}
	switch (val[2]) {
	case 'N': pr = 0.85; break;
	case 'L': pr = changed ? 0.68 : 0.62; break;
	case 'H': pr = changed ? 0.5 : 0.27; break;
	default: return DD_E_FEED_INVALID;
	}
	switch (val[3]) {
	case 'N': ui = 0.85; break;
	case 'R': ui = 0.62; break;
	default: return DD_E_FEED_INVALID;
	}
	for (int i = 0; i < 3; i++)
		switch (val[5 + i]) {
		case 'H': cia[i] = 0.56; break;
		case 'L': cia[i] = 0.22; break;
		case 'N': cia[i] = 0; break;
		default: return DD_E_FEED_INVALID;
		}
	double iss = 1 - (1 - cia[0]) * (1 - cia[1]) * (1 - cia[2]);
	double impact = changed ? 7.52 * (iss - 0.029) - 3.25 * pow(iss - 0.02, 15) : 6.42 * iss;
	double expl = 8.22 * av * ac * pr * ui;
	if (impact <= 0)
		return 0;
	double base = changed ? fmin(1.08 * (impact + expl), 10) : fmin(impact + expl, 10);
	*score = v31 ? roundup31(base) : ceil(base * 10.0 - 1e-9) / 10.0;
	return 0;
}

const char *vdb_tracker_status_name(unsigned flags)
{
	static const char *const names[] = {NULL, "needed", "needs-triage", "deferred", "pending", "released",
					    "not-affected"};
	unsigned k = (flags & VDB_TRACKER_MASK) >> VDB_TRACKER_SHIFT;
	return k < DD_ARRAY_LEN(names) ? names[k] : NULL;
}
