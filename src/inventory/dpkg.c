/* dpkg.c: dpkg's database: var/lib/dpkg/status, and the one-file-per-package
 * var/lib/dpkg/status.d/ of distroless images.
 *
 * A stanza is reported exactly when dpkg-query would list it as installed: it has a
 * Package and a valid Version, and its Status says "installed" as the current state; a
 * status.d stanza without a Status counts as installed (distroless writes none). A line
 * that is neither a field, a continuation nor blank makes the file corrupt, reported as such. */
#include "common/dd.h"
#include "inventory.h"
#include "common/arena.h"
#include "stanza.h"
#include "version/version.h"

enum { F_PACKAGE, F_VERSION, F_ARCH, F_SOURCE, F_STATUS, F_COUNT };
static const char *const field_names[F_COUNT] = {"Package", "Version", "Architecture", "Source", "Status"};

struct dpkg_stanza {
	const char *v[F_COUNT];
	size_t n[F_COUNT];
	int seen[F_COUNT];
};

static void trim(const char **s, size_t *n)
{
	while (*n && (**s == ' ' || **s == '\t'))
		(*s)++, (*n)--;
	while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
		(*n)--;
}

/* The third word of Status ("want flag current"), the current state. */
static int status_installed(const char *s, size_t n)
{
	int word = 0;
	size_t i = 0;
	while (i < n) {
		while (i < n && s[i] == ' ')
			i++;
		size_t start = i;
		while (i < n && s[i] != ' ')
			i++;
		if (i > start && ++word == 3)
			return i - start == 9 && !memcmp(s + start, "installed", 9);
	}
	return 0;
}

static void emit(struct inventory *inv, const char *path, struct dpkg_stanza *st, int status_d)
{
	struct arena *a = inv->arena;
	if (!st->seen[F_PACKAGE] || !st->n[F_PACKAGE] || !st->seen[F_VERSION] || !st->n[F_VERSION])
		return;
	struct dpkg_version ver;
	const char *why;
	if (dpkg_version_parse(st->v[F_VERSION], st->n[F_VERSION], &ver, &why))
		return; /* dpkg itself would not have installed it */
	if (st->seen[F_STATUS] ? !status_installed(st->v[F_STATUS], st->n[F_STATUS]) : !status_d)
		return;
	struct package *p = inventory_add(inv);
	p->type = PKG_DPKG;
	p->name = arena_strndup(a, st->v[F_PACKAGE], st->n[F_PACKAGE]);
	p->version = arena_strndup(a, st->v[F_VERSION], st->n[F_VERSION]);
	p->arch = arena_strndup(a, st->v[F_ARCH] ? st->v[F_ARCH] : "", st->n[F_ARCH]);
	p->status = arena_strndup(a, st->v[F_STATUS] ? st->v[F_STATUS] : "", st->n[F_STATUS]);
	p->source_name = p->name;
	p->source_version = p->version;
	p->db_path = path;
	if (st->seen[F_SOURCE] && st->n[F_SOURCE]) { /* "name" or "name (version)" */
		const char *s = st->v[F_SOURCE];
		size_t n = st->n[F_SOURCE], k = 0;
		while (k < n && s[k] != ' ' && s[k] != '(')
			k++;
		p->source_name = arena_strndup(a, s, k);
		const char *open = memchr(s, '(', n), *close = memrchr(s, ')', n);
		if (open && close && close > open) {
			const char *v = open + 1;
			size_t vn = (size_t)(close - v);
			trim(&v, &vn);
			if (vn)
				p->source_version = arena_strndup(a, v, vn);
		}
	}
}

int dpkg_parse(struct inventory *inv, const char *path, const char *data, size_t len, int status_d,
	       const char **why)
{
	*why = NULL;
	if (memchr(data, 0, len)) {
		*why = arena_printf(inv->arena, "'%s' has a NUL byte: not a dpkg status file", path);
		return DD_E_PKGDB_CORRUPT;
	}
	struct stanza_cursor c = {.p = data, .end = data + len};
	struct dpkg_stanza st;
	memset(&st, 0, sizeof(st));
	int in_stanza = 0;
	const char *line;
	size_t n;
	while (stanza_next_line(&c, &line, &n)) {
		if (n == 0) {
			if (in_stanza)
				emit(inv, path, &st, status_d);
			memset(&st, 0, sizeof(st));
			in_stanza = 0;
			continue;
		}
		if (line[0] == ' ' || line[0] == '\t') {
			if (!in_stanza) {
				*why = arena_printf(inv->arena, "'%s' line %zu: continuation line outside a stanza", path, c.line);
				return DD_E_PKGDB_CORRUPT;
			}
			continue; /* none of the fields we read spans lines */
		}
		const char *colon = memchr(line, ':', n);
		if (!colon || colon == line) {
			*why = arena_printf(inv->arena, "'%s' line %zu: not a 'Field: value' line", path, c.line);
			return DD_E_PKGDB_CORRUPT;
		}
		in_stanza = 1;
		size_t name_len = (size_t)(colon - line);
		for (int f = 0; f < F_COUNT; f++) {
			if (strlen(field_names[f]) == name_len && !strncasecmp(line, field_names[f], name_len)) {
				if (st.seen[f])
					break; /* the first occurrence counts */
				const char *v = colon + 1;
				size_t vn = n - name_len - 1;
				trim(&v, &vn);
				st.v[f] = v;
				st.n[f] = vn;
				st.seen[f] = 1;
				break;
			}
		}
	}
	if (in_stanza)
		emit(inv, path, &st, status_d);
	return 0;
}
