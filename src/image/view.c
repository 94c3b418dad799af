/* view.c: the merged layer view. A hash table from path to the uppermost entry; deleting a
 * directory's contents walks the table (cheap: it holds only kept entries). */
#include "common/dd.h"
#include "view.h"
#include "common/arena.h"
#include "inventory/lang.h"

struct view_slot {
	const char *path; /* NULL: empty; "" never used */
	const struct lentry *e;
	int dead;
};

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

/* Finds path in table (*slots, *nslots, *used), growing it first when inserting. */
static struct view_slot *find_in(struct arena *a, struct view_slot **slots, size_t *nslots, size_t *used,
				 const char *path, int insert)
{
	if (insert && (*used + 1) * 2 > *nslots) {
		size_t n = *nslots ? *nslots * 2 : 256;
		struct view_slot *old = *slots;
		size_t oldn = *nslots;
		*slots = arena_alloc(a, n * sizeof(**slots));
		*nslots = n;
		*used = 0;
		for (size_t i = 0; i < oldn; i++) {
			if (old[i].path && !old[i].dead) {
				struct view_slot *s = find_in(a, slots, nslots, used, old[i].path, 1);
				*s = old[i];
				(*used)++;
			}
		}
	}
	if (!*nslots)
		return NULL;
	for (size_t i = hash(path) & (*nslots - 1);; i = (i + 1) & (*nslots - 1)) {
		struct view_slot *s = &(*slots)[i];
		if (!s->path)
			return insert ? s : NULL;
		if (!strcmp(s->path, path))
			return s;
	}
}

static struct view_slot *find(struct view *v, const char *path, int insert)
{
	return find_in(v->arena, &v->slots, &v->nslots, &v->used, path, insert);
}

/* Records every ancestor directory of path, so kill_under can skip directories that never
 * had anything under them (most entries: walking the table for each would be quadratic). */
static void note_ancestors(struct view *v, const char *path)
{
	for (const char *p = strrchr(path, '/'); p; p = memrchr(path, '/', (size_t)(p - path))) {
		const char *dir = arena_strndup(v->arena, path, (size_t)(p - path));
		struct view_slot *s = find_in(v->arena, &v->dirs, &v->ndirs, &v->useddirs, dir, 1);
		if (s->path)
			return; /* its ancestors are there already */
		s->path = dir;
		v->useddirs++;
	}
}

static int had_children(struct view *v, const char *dir)
{
	return !*dir || find_in(v->arena, &v->dirs, &v->ndirs, &v->useddirs, dir, 0) != NULL;
}

static void put(struct view *v, const struct lentry *e)
{
	note_ancestors(v, e->path);
	struct view_slot *s = find(v, e->path, 1);
	if (!s->path)
		v->used++;
	s->path = e->path;
	s->e = e;
	s->dead = 0;
}

static void kill(struct view *v, const char *path)
{
	struct view_slot *s = find(v, path, 0);
	if (s)
		s->dead = 1;
}

/* Hides everything strictly under dir ("" is the root). */
static void kill_under(struct view *v, const char *dir)
{
	if (!had_children(v, dir))
		return;
	size_t n = strlen(dir);
	for (size_t i = 0; i < v->nslots; i++) {
		struct view_slot *s = &v->slots[i];
		if (s->path && !s->dead && (n == 0 || (!strncmp(s->path, dir, n) && s->path[n] == '/')))
			s->dead = 1;
	}
}

void view_apply(struct view *v, const struct layer *l)
{
	/* whiteouts and opaque markers hide the lower layers only: apply them first */
	for (size_t i = 0; i < l->n; i++) {
		const struct lentry *e = &l->v[i];
		if (e->kind == LE_WHITEOUT) {
			kill(v, e->path);
			kill_under(v, e->path);
		} else if (e->kind == LE_OPAQUE)
			kill_under(v, e->path);
	}
	for (size_t i = 0; i < l->n; i++) {
		const struct lentry *e = &l->v[i];
		if (e->kind == LE_WHITEOUT || e->kind == LE_OPAQUE)
			continue;
		kill_under(v, e->path); /* a file or link replaces a directory of the lower layers */
		put(v, e);
	}
}

static const struct lentry *lookup(struct view *v, const char *path)
{
	struct view_slot *s = find(v, path, 0);
	return s && !s->dead ? s->e : NULL;
}

/* Resolves path inside the image, following symlinks in every component (and the last one
 * when follow_last). Writes the resolved path to out. 0, or -1 on too many hops. */
static int resolve(struct view *v, const char *path, int follow_last, char *out, size_t cap)
{
	char todo[2 * DD_MAX_PATH_BYTES + 2];
	size_t tn = strlen(path);
	if (tn >= sizeof(todo))
		return -1;
	memcpy(todo, path, tn + 1);
	size_t k = 0; /* out holds the resolved prefix, without leading '/' */
	out[0] = 0;
	int hops = 0;
	const char *p = todo;
	while (*p) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		const char *s = p;
		while (*p && *p != '/')
			p++;
		size_t n = (size_t)(p - s);
		if (n == 1 && s[0] == '.')
			continue;
		if (n == 2 && s[0] == '.' && s[1] == '.') { /* never above the root */
			char *slash = memrchr(out, '/', k);
			k = slash ? (size_t)(slash - out) : 0;
			out[k] = 0;
			continue;
		}
		size_t save = k;
		if (k + n + 2 > cap)
			return -1;
		if (k)
			out[k++] = '/';
		memcpy(out + k, s, n);
		k += n;
		out[k] = 0;
		const struct lentry *e = lookup(v, out);
		int last = !*p || !p[strspn(p, "/")];
		if (e && e->kind == LE_SYMLINK && (!last || follow_last)) {
			if (++hops > DD_MAX_SYMLINK_HOPS)
				return -1;
			char rest[2 * DD_MAX_PATH_BYTES + 2];
			int m = snprintf(rest, sizeof(rest), "%s/%s", e->target, p);
			if (m < 0 || (size_t)m >= sizeof(rest))
				return -1;
			k = e->target[0] == '/' ? 0 : save; /* absolute: from the image's root */
			out[k] = 0;
			memcpy(todo, rest, (size_t)m + 1);
			p = todo;
		}
	}
	return 0;
}

static int view_read(struct rootfs *fs, struct arena *a, const char *path, char **data, size_t *len, const char **why)
{
	struct view *v = (struct view *)fs;
	char r[DD_MAX_PATH_BYTES + 2];
	const char *asked = path;
	*data = NULL;
	*len = 0;
	for (int hops = 0; hops < DD_MAX_SYMLINK_HOPS; hops++) {
		if (resolve(v, path, 1, r, sizeof(r)))
			return 0;
		const struct lentry *e = lookup(v, r);
		if (!e)
			return 0;
		if (e->kind == LE_FILE) {
			*data = (char *)e->data;
			*len = e->len;
			return 1;
		}
		if (e->kind == LE_DROPPED) {
			*why = arena_printf(a,
					    "'%s' leads to '%s', which its layer did not keep: files named like a package "
					    "database outside the package managers' paths are kept up to %d bytes per layer",
					    asked, e->path, DD_MAX_LAYER_SPARE_BYTES);
			return -DD_E_SCAN_LIMIT;
		}
		if (e->kind != LE_HARDLINK)
			return 0;
		path = e->target; /* hard link targets are paths from the image's root */
	}
	return 0;
}

static int name_cmp(const void *x, const void *y) { return strcmp(*(const char *const *)x, *(const char *const *)y); }

static int view_list(struct rootfs *fs, struct arena *a, const char *dir, const char ***names, size_t *n)
{
	struct view *v = (struct view *)fs;
	char r[DD_MAX_PATH_BYTES + 2];
	*names = NULL;
	*n = 0;
	if (resolve(v, dir, 1, r, sizeof(r)))
		return 0;
	size_t rl = strlen(r), k = 0;
	const char **out = arena_alloc(a, (v->used + 1) * sizeof(*out));
	for (size_t i = 0; i < v->nslots; i++) {
		struct view_slot *s = &v->slots[i];
		if (!s->path || s->dead || strncmp(s->path, r, rl) || s->path[rl] != '/')
			continue;
		const char *name = s->path + rl + 1;
		if (!strchr(name, '/'))
			out[k++] = name;
	}
	qsort(out, k, sizeof(*out), name_cmp);
	*names = out;
	*n = k;
	return 0;
}

/* The files the application parsers read: the kept ones lang_file_kind names, and what the
 * layer reader derived from executables and Java archives. */
static int view_app_files(struct rootfs *fs, struct arena *a, struct rootfs_file **files, size_t *n, const char **why)
{
	struct view *v = (struct view *)fs;
	size_t k = 0;
	(void)why;
	struct rootfs_file *out = arena_alloc(a, (v->used + 1) * sizeof(*out));
	for (size_t i = 0; i < v->nslots; i++) {
		struct view_slot *s = &v->slots[i];
		if (!s->path || s->dead)
			continue;
		const struct lentry *e = s->e;
		if (e->kind == LE_DERIVED || (e->kind == LE_FILE && lang_file_kind(e->path) != LANG_NONE))
			out[k++] = (struct rootfs_file){e->path, e->data, e->len, e->kind == LE_DERIVED};
	}
	*files = out;
	*n = k;
	return 0;
}

static const struct rootfs_ops view_ops = {.read = view_read, .list = view_list, .app_files = view_app_files};

void view_init(struct view *v, struct arena *a)
{
	memset(v, 0, sizeof(*v));
	v->base.ops = &view_ops;
	v->arena = a;
}

int layer_touches_inventory(const struct layer *l)
{
	/* kept files, whiteouts and hard links may all matter; a symlink only when it lies on the
	 * way to a path of interest */
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].kind != LE_SYMLINK || layer_path_on_the_way(l->v[i].path))
			return 1;
	return 0;
}
