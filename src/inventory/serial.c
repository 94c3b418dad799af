/* serial.c: an inventory as compact text and back, so that a stored image can be re-matched
 * against a new vulnerability database without reading a layer again. The format is
 * drydock's own (stored in the metadata store, never exchanged) and cheap to read, since
 * re-assessing every stored image reads one per image: a header line and one line per
 * package, fields separated by tabs, with '\\', tab and newline escaped as \\\\, \\t, \\n, and
 * an absent field written as a lone \\0 (NUL marker "\\-"):
 *   DDINV1 <tab> kind <tab> id <tab> version_id <tab> codename <tab> pretty_name <tab> id_like
 *   type <tab> name <tab> version <tab> arch <tab> source_name <tab> source_version <tab> release
 *        <tab> epoch (-1: none) <tab> modularity_label <tab> layer <tab> path <tab> go_packages
 * (path, the file a package was read from, and go_packages, the packages of a Go module whose
 * code its binary holds, were added later: a line without them reads them as NULL).
 * Reading it back is bounded like any untrusted input. */
#include "common/dd.h"
#include "inventory/inventory.h"
#include "common/arena.h"
#include "common/buf.h"

#define SERIAL_MAX_BYTES (256 * 1024 * 1024)
#define SERIAL_MAGIC "DDINV1"

static void put(struct buf *b, const char *s, int last)
{
	if (!s)
		buf_puts(b, "\\-");
	else
		for (const char *p = s; *p; p++) {
			if (*p == '\\')
				buf_puts(b, "\\\\");
			else if (*p == '\t')
				buf_puts(b, "\\t");
			else if (*p == '\n')
				buf_puts(b, "\\n");
			else
				buf_append(b, p, 1);
		}
	buf_puts(b, last ? "\n" : "\t");
}

char *inventory_serialize(const struct inventory *inv)
{
	struct buf b;
	buf_init(&b, SERIAL_MAX_BYTES);
	char num[32];
	snprintf(num, sizeof(num), "%d", (int)inv->os.kind);
	put(&b, SERIAL_MAGIC, 0);
	put(&b, num, 0);
	put(&b, inv->os.id, 0);
	put(&b, inv->os.version_id, 0);
	put(&b, inv->os.codename, 0);
	put(&b, inv->os.pretty_name, 0);
	put(&b, inv->os.id_like, 1);
	for (size_t i = 0; i < inv->n; i++) {
		const struct package *k = &inv->pkgs[i];
		snprintf(num, sizeof(num), "%d", (int)k->type);
		put(&b, num, 0);
		put(&b, k->name, 0);
		put(&b, k->version, 0);
		put(&b, k->arch, 0);
		put(&b, k->source_name, 0);
		put(&b, k->source_version, 0);
		put(&b, k->release, 0);
		snprintf(num, sizeof(num), "%ld", k->has_epoch ? k->epoch : -1L);
		put(&b, num, 0);
		put(&b, k->modularity_label, 0);
		put(&b, k->layer, 0);
		put(&b, k->db_path, !k->go_packages);
		if (k->go_packages)
			put(&b, k->go_packages, 1);
	}
	if (b.len >= b.cap - 1) { /* over the cap: refuse rather than store half */
		buf_release(&b);
		return NULL;
	}
	char *out = b.data ? b.data : strdup("");
	return out;
}

/* Field [p, end) of the arena's copy, unescaped where it lies and ended with a NUL (the text
 * only shrinks, and its delimiter has been passed); NULL for the "\\-" marker. */
static const char *field(char *p, char *end)
{
	if (end - p == 2 && p[0] == '\\' && p[1] == '-')
		return NULL;
	char *out = p, *o = memchr(p, '\\', (size_t)(end - p));
	if (o)
		for (p = o; p < end; p++) {
			if (*p == '\\' && p + 1 < end) {
				p++;
				*o++ = *p == 't' ? '\t' : *p == 'n' ? '\n' : *p;
			} else
				*o++ = *p;
		}
	else
		o = end;
	*o = 0;
	return out;
}

/* Splits line [line, end) into up to max fields (what lies past the max-th is not read);
 * returns how many. */
static size_t split(char *line, char *end, const char **f, size_t max)
{
	size_t n = 0;
	char *start = line;
	while (n < max) {
		char *tab = memchr(start, '\t', (size_t)(end - start)), *fe = tab ? tab : end;
		f[n++] = field(start, fe);
		if (!tab)
			break;
		start = tab + 1;
	}
	return n;
}

int inventory_deserialize(struct inventory *inv, const char *text, size_t len, const char **why)
{
	*why = NULL;
	if (len > SERIAL_MAX_BYTES || len < sizeof(SERIAL_MAGIC) || memcmp(text, SERIAL_MAGIC "\t", 7)) {
		*why = "not a stored inventory";
		return DD_E_PKGDB_CORRUPT;
	}
	/* one copy, its fields unescaped in place: the packages' strings point into it */
	char *copy = arena_alloc(inv->arena, len + 1), *p = copy, *end = copy + len;
	memcpy(copy, text, len);
	*end = 0;
	const char *f[12];
	int first = 1;
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *le = nl ? nl : end;
		size_t n = split(p, le, f, DD_ARRAY_LEN(f));
		if (first) {
			if (n != 7) {
				*why = "stored inventory: bad header";
				return DD_E_PKGDB_CORRUPT;
			}
			inv->os.kind = (enum os_kind)atoi(f[1] ? f[1] : "0");
			inv->os.id = f[2];
			inv->os.version_id = f[3];
			inv->os.codename = f[4];
			inv->os.pretty_name = f[5];
			inv->os.id_like = f[6];
			first = 0;
		} else if (n >= 10 && n <= 12 && f[1]) {
			struct package *k = inventory_add(inv);
			int type = atoi(f[0] ? f[0] : "0");
			k->type = type > 0 && type <= PKG_TYPE_MAX ? (enum pkg_type)type : PKG_DPKG;
			k->name = f[1];
			k->version = f[2];
			k->arch = f[3];
			k->source_name = f[4];
			k->source_version = f[5];
			k->release = f[6];
			long e = f[7] ? atol(f[7]) : -1;
			k->has_epoch = e >= 0;
			k->epoch = e >= 0 ? e : 0;
			k->modularity_label = f[8];
			k->layer = f[9];
			k->db_path = n >= 11 ? f[10] : NULL;
			k->go_packages = n == 12 && k->type == PKG_GO ? f[11] : NULL;
		}
		p = nl ? nl + 1 : end;
	}
	return 0;
}
