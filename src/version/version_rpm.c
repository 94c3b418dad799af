/* version_rpm.c: rpm's version ordering (rpmvercmp as in rpm 4.18, with '~' sorting before
 * everything and '^' after the end but before anything else), and epoch:version-release. */
#include "common/dd.h"
#include "version.h"

static int ascii_digit(char c) { return c >= '0' && c <= '9'; }
static int ascii_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int ascii_alnum(char c) { return ascii_digit(c) || ascii_alpha(c); }

int rpm_vercmp(const char *a, size_t an, const char *b, size_t bn)
{
	const char *ae = a + an, *be = b + bn;
	if (an == bn && !memcmp(a, b, an))
		return 0;
	while (a < ae || b < be) {
		while (a < ae && !ascii_alnum(*a) && *a != '~' && *a != '^')
			a++;
		while (b < be && !ascii_alnum(*b) && *b != '~' && *b != '^')
			b++;
		int ta = a < ae && *a == '~', tb = b < be && *b == '~';
		if (ta || tb) {
			if (!ta)
				return 1;
			if (!tb)
				return -1;
			a++, b++;
			continue;
		}
		int ca = a < ae && *a == '^', cb = b < be && *b == '^';
		if (ca || cb) {
			if (a >= ae)
				return -1;
			if (b >= be)
				return 1;
			if (!ca)
				return 1;
			if (!cb)
				return -1;
			a++, b++;
			continue;
		}
		if (a >= ae || b >= be)
			break;
		const char *sa = a, *sb = b;
		int numeric = ascii_digit(*a);
		if (numeric) {
			while (a < ae && ascii_digit(*a))
				a++;
			while (b < be && ascii_digit(*b))
				b++;
		} else {
			while (a < ae && ascii_alpha(*a))
				a++;
			while (b < be && ascii_alpha(*b))
				b++;
		}
		if (b == sb) /* different kinds of segment: a number is newer than letters */
			return numeric ? 1 : -1;
		if (numeric) {
			while (sa < a && *sa == '0')
				sa++;
			while (sb < b && *sb == '0')
				sb++;
			if (a - sa != b - sb)
				return a - sa > b - sb ? 1 : -1;
		}
		size_t la = (size_t)(a - sa), lb = (size_t)(b - sb);
		int r = memcmp(sa, sb, la < lb ? la : lb);
		if (r)
			return r < 0 ? -1 : 1;
		if (la != lb)
			return la < lb ? -1 : 1;
	}
	if (a >= ae && b >= be)
		return 0;
	return a >= ae ? -1 : 1;
}

struct evr {
	unsigned long long epoch;
	const char *v, *r;
	size_t vn, rn;
};

static void evr_split(const char *s, size_t n, struct evr *e)
{
	e->epoch = 0;
	const char *colon = memchr(s, ':', n);
	if (colon) {
		for (const char *p = s; p < colon && ascii_digit(*p); p++)
			e->epoch = e->epoch * 10 + (unsigned)(*p - '0');
		n -= (size_t)(colon + 1 - s);
		s = colon + 1;
	}
	const char *dash = memrchr(s, '-', n);
	e->v = s;
	e->vn = dash ? (size_t)(dash - s) : n;
	e->r = dash ? dash + 1 : "";
	e->rn = dash ? n - e->vn - 1 : 0;
}

int rpm_evr_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	struct evr x, y;
	evr_split(a, an, &x);
	evr_split(b, bn, &y);
	if (x.epoch != y.epoch)
		return x.epoch < y.epoch ? -1 : 1;
	int r = rpm_vercmp(x.v, x.vn, y.v, y.vn);
	return r ? r : rpm_vercmp(x.r, x.rn, y.r, y.rn);
}
