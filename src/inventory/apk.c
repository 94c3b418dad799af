/* apk.c: Alpine's lib/apk/db/installed: stanzas of "K:value" lines separated by blank
 * lines. A stanza is reported when it has P (name) and V (version); only the first
 * occurrence of a key counts. A line that is not "K:value" makes the file corrupt. Directories
 * (F) of Python metadata are noted as the OS's (lang.h). */
#include "common/dd.h"
#include "inventory.h"
#include "common/arena.h"
#include "stanza.h"
#include "lang.h"

struct apk_stanza {
	const char *name, *version, *arch, *origin, *license;
	size_t nn, vn, an, on, ln;
};

static void emit(struct inventory *inv, const char *path, const struct apk_stanza *st)
{
	if (!st->name || !st->nn || !st->version || !st->vn)
		return;
	struct arena *a = inv->arena;
	struct package *p = inventory_add(inv);
	p->type = PKG_APK;
	p->name = arena_strndup(a, st->name, st->nn);
	p->version = arena_strndup(a, st->version, st->vn);
	p->arch = arena_strndup(a, st->arch ? st->arch : "", st->an);
	p->source_name = arena_strndup(a, st->origin ? st->origin : "", st->on);
	p->source_version = p->version;
	p->license = arena_strndup(a, st->license ? st->license : "", st->ln);
	p->status = "";
	p->db_path = path;
}

static void keep_first(const char **v, size_t *vn, const char *value, size_t n)
{
	if (!*v) {
		*v = value;
		*vn = n;
	}
}

int apk_parse(struct inventory *inv, const char *path, const char *data, size_t len, const char **why)
{
	*why = NULL;
	if (memchr(data, 0, len)) {
		*why = arena_printf(inv->arena, "'%s' has a NUL byte: not an apk database", path);
		return DD_E_PKGDB_CORRUPT;
	}
	struct stanza_cursor c = {.p = data, .end = data + len};
	struct apk_stanza st;
	memset(&st, 0, sizeof(st));
	const char *line;
	size_t n;
	while (stanza_next_line(&c, &line, &n)) {
		if (n == 0) {
			emit(inv, path, &st);
			memset(&st, 0, sizeof(st));
			continue;
		}
		if (n < 2 || line[1] != ':') {
			*why = arena_printf(inv->arena, "'%s' line %zu: not a 'K:value' line", path, c.line);
			return DD_E_PKGDB_CORRUPT;
		}
		const char *v = line + 2;
		size_t vn = n - 2;
		switch (line[0]) {
		case 'P':
			keep_first(&st.name, &st.nn, v, vn);
			break;
		case 'V':
			keep_first(&st.version, &st.vn, v, vn);
			break;
		case 'A':
			keep_first(&st.arch, &st.an, v, vn);
			break;
		case 'o':
			keep_first(&st.origin, &st.on, v, vn);
			break;
		case 'L':
			keep_first(&st.license, &st.ln, v, vn);
			break;
		case 'F': /* a directory the package installed: Python metadata is the package's */
			if ((vn > 10 && !memcmp(v + vn - 10, ".dist-info", 10)) || (vn > 9 && !memcmp(v + vn - 9, ".egg-info", 9)))
				lang_note_owned(inv, v, vn);
			break;
		default:
			break;
		}
	}
	emit(inv, path, &st);
	return 0;
}
