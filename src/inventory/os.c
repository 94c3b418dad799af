/* os.c: os-release (KEY=value, shell-style quoting) into struct os_info. */
#include "common/dd.h"
#include "inventory.h"
#include "common/arena.h"
#include "stanza.h"

/* Unquotes a value: "..." with backslash escapes, '...' literal, or bare. */
static const char *unquote(struct arena *a, const char *v, size_t n)
{
	while (n && (*v == ' ' || *v == '\t'))
		v++, n--;
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
		char q = v[0];
		char *out = arena_alloc(a, n);
		size_t k = 0;
		for (size_t i = 1; i < n - 1; i++) {
			if (q == '"' && v[i] == '\\' && i + 1 < n - 1)
				i++;
			out[k++] = v[i];
		}
		out[k] = 0;
		return out;
	}
	return arena_strndup(a, v, n);
}

int os_release_parse(struct arena *a, const char *data, size_t len, struct os_info *os, const char **why)
{
	*why = NULL;
	if (memchr(data, 0, len)) {
		*why = "os-release has a NUL byte";
		return DD_E_PKGDB_CORRUPT;
	}
	struct stanza_cursor c = {.p = data, .end = data + len};
	const char *line;
	size_t n;
	while (stanza_next_line(&c, &line, &n)) {
		while (n && (*line == ' ' || *line == '\t'))
			line++, n--;
		if (!n || line[0] == '#')
			continue;
		const char *eq = memchr(line, '=', n);
		if (!eq)
			continue; /* systemd ignores such lines too */
		size_t kn = (size_t)(eq - line);
		const char *v = unquote(a, eq + 1, n - kn - 1);
		if (kn == 2 && !memcmp(line, "ID", 2))
			os->id = v;
		else if (kn == 10 && !memcmp(line, "VERSION_ID", 10))
			os->version_id = v;
		else if (kn == 16 && !memcmp(line, "VERSION_CODENAME", 16))
			os->codename = v;
		else if (kn == 11 && !memcmp(line, "PRETTY_NAME", 11))
			os->pretty_name = v;
		else if (kn == 7 && !memcmp(line, "ID_LIKE", 7))
			os->id_like = v;
	}
	if (os->id)
		os->kind = OS_KNOWN;
	return 0;
}
