/* sandbox_worker.c: the sandboxed scan worker, `drydock scan-worker` (see sandbox.h; started
 * only by sandbox.c, never by hand), and the zygote that forks workers. A worker, in order:
 *
 *   1. warm up: run the code it will run on its own built-in inputs, so that what the libraries
 *      set up on first use (libarchive's character-set conversions, which load iconv's module
 *      cache; SQLite; qsort's look at the memory size) happens before the filter forbids it;
 *   2. confine itself (confine()): resource limits, no other descriptors, an unprivileged
 *      user when started by root, no_new_privs, then the seccomp filter;
 *   3. receive one task and its descriptors, answer with frames (sandboxInt.h), exit.
 *
 * The zygote (`scan-worker zygote`) does 1 for both kinds and 2 but for what would stop it
 * forking (no process, a worker's filter; its own allows fork), then forks a child per request
 * of the server: the child finishes its confinement (zygote_child()) and does 3. The zygote reads
 * no task; it only forks, and reaps.
 *
 * Nothing here opens a file, a socket or a process after step 2: the filter kills the
 * worker (SIGSYS) if anything tries. What it reads is untrusted; what it writes goes only to
 * its socket, which the server reads as untrusted too. */
#include "common/dd.h"
#include "scan/sandbox.h"
#include "scan/sandboxInt.h"
#include "common/arena.h"
#include "common/digest.h"
#include "image/image.h"
#include "image/layer.h"
#include "image/layer_cache.h"
#include "inventory/inventory.h"
#include <archive.h>
#include <archive_entry.h>
#include <grp.h>
#include <linux/capability.h>
#include <poll.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <sqlite3.h>
#include <jansson.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define SOCK SB_SOCK_FD


/* ---- answering ---- */

static void send_all(const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t k = write(SOCK, c, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			_exit(SB_EXIT_PROTOCOL); /* the server is gone */
		c += k;
		n -= (size_t)k;
	}
}

static void frame_head(int type, uint64_t len)
{
	unsigned char h[SB_FRAME_HEAD];
	h[0] = (unsigned char)type;
	memcpy(h + 1, &len, 8);
	send_all(h, sizeof(h));
}

static void frame(int type, const void *p, size_t n)
{
	frame_head(type, n);
	if (n)
		send_all(p, n);
}

static void send_error(int rc, const char *why)
{
	unsigned char buf[4 + SB_MAX_ERROR_TEXT];
	uint32_t code = (uint32_t)rc;
	size_t n = why ? strlen(why) : 0;
	if (n > SB_MAX_ERROR_TEXT)
		n = SB_MAX_ERROR_TEXT;
	memcpy(buf, &code, 4);
	if (n)
		memcpy(buf + 4, why, n);
	frame(SB_F_ERROR, buf, 4 + n);
}

static _Noreturn void fail(int rc, const char *why, int status)
{
	send_error(rc, why);
	_exit(status);
}

/* An allocation failed: the memory limit (RLIMIT_AS), which the server names. */
static void out_of_memory(size_t n)
{
	(void)n;
	fail(DD_E_NOMEM, "out of memory", SB_EXIT_NOMEM);
}

/* A layer's entry is encoded a field at a time: gathered here into large writes. */
struct outbuf {
	size_t n;
	char b[1 << 16];
};

static int send_cb(void *ctx, const void *p, size_t n)
{
	struct outbuf *o = ctx;
	if (o->n + n > sizeof(o->b)) {
		send_all(o->b, o->n);
		o->n = 0;
	}
	if (n > sizeof(o->b))
		send_all(p, n);
	else {
		memcpy(o->b + o->n, p, n);
		o->n += n;
	}
	return 0;
}

/* ---- input ---- */

struct input {
	int fd;
	uint32_t since; /* bytes since the last progress frame */
};

static ssize_t input_read(void *ctx, void *buf, size_t n)
{
	struct input *in = ctx;
	ssize_t k = read(in->fd, buf, n);
	if (k > 0 && (in->since += (uint32_t)k) >= SB_PROGRESS_BYTES) {
		in->since = 0;
		frame(SB_F_PROGRESS, NULL, 0);
	}
	return k;
}

struct memsrc {
	const unsigned char *p;
	size_t n;
};

static ssize_t mem_read(void *ctx, void *buf, size_t n)
{
	struct memsrc *m = ctx;
	if (n > m->n)
		n = m->n;
	memcpy(buf, m->p, n);
	m->p += n;
	m->n -= n;
	return (ssize_t)n;
}

/* ---- test hooks (a test build only: `make` links them into build/drydock-test-hooks) ---- */

#ifdef DD_TEST_HOOKS
/* With DRYDOCK_SANDBOX_TEST_HOOKS set, a layer whose etc/os-release says
 * DRYDOCK_TEST_HOOK=<what> makes its reader crash, hang, spin, open a file or fail naming its
 * pid, and DRYDOCK_TEST_HOOK=db-<what> does the same in the package database reader (stage
 * "db-"), so the tests can see each failure end only that scan, and each task in a process of
 * its own. */
static const char *hooked(const struct layer *l, const char *stage, size_t *left)
{
	if (!getenv("DRYDOCK_SANDBOX_TEST_HOOKS"))
		return NULL;
	for (size_t i = 0; i < l->n; i++) {
		const struct lentry *e = &l->v[i];
		if (e->kind != LE_FILE || strcmp(e->path, "etc/os-release"))
			continue;
		const char *k = memmem(e->data, e->len, "DRYDOCK_TEST_HOOK=", 18);
		if (!k)
			continue;
		k += 18;
		size_t sn = strlen(stage);
		*left = e->len - (size_t)(k - e->data);
		if (*left < sn || memcmp(k, stage, sn))
			continue;
		*left -= sn;
		return k + sn;
	}
	return NULL;
}

static void test_hook(const struct layer *l, const char *stage)
{
	size_t left;
	const char *k = hooked(l, stage, &left);
	if (k) {
		if (left >= 5 && !memcmp(k, "crash", 5)) {
			/* SIGSEGV: a page never mapped (mmap_min_addr), not NULL, which UBSan would catch */
			int *volatile nowhere = (int *)(uintptr_t)16;
			*nowhere = 1;
		}
		if (left >= 4 && !memcmp(k, "hang", 4)) {
			char c;
			for (;;)
				if (read(SOCK, &c, 1) <= 0) /* the server sends nothing more: blocks */
					_exit(SB_EXIT_PROTOCOL);
		}
		if (left >= 4 && !memcmp(k, "spin", 4))
			for (volatile unsigned long n = 0;; n++)
				;
		if (left >= 3 && !memcmp(k, "pid", 3)) { /* which process read it: a fresh one per task */
			char say[32];
			snprintf(say, sizeof(say), "pid %d", (int)getpid());
			fail(DD_E_INTERNAL, say, SB_EXIT_FAILED);
		}
		if (left >= 4 && !memcmp(k, "open", 4)) {
			int fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC);
			fail(DD_E_INTERNAL, fd >= 0 ? "opened a file" : "open failed", SB_EXIT_FAILED);
		}
	}
}
#else
static const char *hooked(const struct layer *l, const char *stage, size_t *left)
{
	(void)l;
	(void)stage;
	(void)left;
	return NULL;
}

static void test_hook(const struct layer *l, const char *stage)
{
	(void)l;
	(void)stage;
}
#endif

/* ---- the tasks ---- */

static _Noreturn void task_layer(int in_fd, const char *text)
{
	struct arena a = {0};
	size_t wlen = strlen(text);
	struct digest want;
	const char *why;
	if (wlen && digest_parse(text, wlen, &want, &why))
		fail(DD_E_DIGEST_INVALID, "the task names no valid digest", SB_EXIT_PROTOCOL);
	struct input in = {.fd = in_fd};
	struct layer l;
	int rc = layer_read_stream(&a, input_read, &in, wlen ? &want : NULL, NULL, &l, &why);
	if (rc)
		fail(rc, why ? why : dd_err_message(rc), SB_EXIT_FAILED);
	test_hook(&l, "");
	static struct outbuf out;
	frame_head(SB_F_LAYER, layer_cache_encoded_size(&l));
	layer_cache_encode(&l, send_cb, &out);
	send_all(out.b, out.n);
	/* and the layer's inventory as if it were an image of its own, which spares an image of one
	 * layer a second worker. Not when a test asks the package database reader to fail: that
	 * reader must be the one to fail. */
	size_t left;
	if (hooked(&l, "db-", &left))
		_exit(0);
	struct image_merge *m = image_merge_begin(&a, 1);
	if (image_merge_add(m, &l, "", &why))
		_exit(0);
	struct inventory inv;
	inventory_init(&inv, &a);
	image_merge_end(m, &inv);
	char *inv_text = inventory_serialize(&inv);
	if (inv_text)
		frame(SB_F_INVENTORY, inv_text, strlen(inv_text));
	_exit(0);
}

static _Noreturn void task_inventory(const int *fds, size_t nfds, char *text)
{
	struct arena a = {0};
	size_t n = 0;
	for (const char *p = text; *p; p++)
		n += *p == '\n';
	if (n > DD_MAX_LAYERS)
		fail(DD_E_SCAN_LIMIT, "too many layers", SB_EXIT_PROTOCOL);
	struct layer *held = arena_alloc(&a, (nfds ? nfds : 1) * sizeof(*held));
	char *loaded = arena_alloc(&a, nfds ? nfds : 1);
	struct image_merge *m = image_merge_begin(&a, n);
	char *line = text;
	for (uint32_t i = 0; i < n; i++) {
		char *nl = strchr(line, '\n'), *tab = memchr(line, '\t', (size_t)(nl - line));
		*nl = 0;
		char *end;
		unsigned long idx = tab ? strtoul(tab + 1, &end, 10) : nfds;
		if (!tab || *end || idx >= nfds)
			fail(DD_E_INTERNAL, "a malformed task", SB_EXIT_PROTOCOL);
		*tab = 0;
		if (!loaded[idx]) {
			if (layer_cache_read_fd(fds[idx], &a, &held[idx])) {
				frame(SB_F_DAMAGED, &i, 4);
				_exit(SB_EXIT_FAILED);
			}
			loaded[idx] = 1;
			test_hook(&held[idx], "db-");
		}
		const char *why;
		int rc = image_merge_add(m, &held[idx], line, &why);
		if (rc)
			fail(rc, why ? why : dd_err_message(rc), SB_EXIT_FAILED);
		frame(SB_F_PROGRESS, NULL, 0);
		line = nl + 1;
	}
	struct inventory inv;
	inventory_init(&inv, &a);
	image_merge_end(m, &inv);
	char *out = inventory_serialize(&inv);
	if (!out)
		fail(DD_E_SCAN_LIMIT, "the inventory is larger than an inventory may be", SB_EXIT_FAILED);
	frame(SB_F_INVENTORY, out, strlen(out));
	_exit(0);
}

/* Receives the task: its head, text (NUL-terminated, owned) and descriptors. */
static void recv_task(struct sb_task_head *h, char **text, int *fds, size_t maxfds, size_t *nfds)
{
	size_t got = 0, need = sizeof(*h);
	char *t = NULL;
	*nfds = 0;
	for (;;) {
		unsigned char buf[4096];
		union {
			struct cmsghdr align;
			char b[CMSG_SPACE(sizeof(int) * SB_FDS_PER_MSG)];
		} ctl;
		size_t want = need - got < sizeof(buf) ? need - got : sizeof(buf);
		if (got >= need) {
			if (*nfds == h->nfds)
				break;
			want = 1; /* the byte each further batch of descriptors comes with */
		}
		struct iovec iov = {.iov_base = buf, .iov_len = want};
		struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof(ctl.b)};
		ssize_t k = recvmsg(SOCK, &msg, MSG_CMSG_CLOEXEC);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0 || (msg.msg_flags & MSG_CTRUNC))
			_exit(SB_EXIT_PROTOCOL); /* the server is gone (a spare never used), or too many descriptors */
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			size_t m = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			if (*nfds + m > maxfds)
				fail(DD_E_INTERNAL, "too many descriptors", SB_EXIT_PROTOCOL);
			memcpy(fds + *nfds, CMSG_DATA(c), m * sizeof(int));
			*nfds += m;
		}
		if (got >= need)
			continue; /* a batch's byte */
		size_t at = got;
		got += (size_t)k;
		if (at < sizeof(*h)) {
			size_t part = (size_t)k < sizeof(*h) - at ? (size_t)k : sizeof(*h) - at;
			memcpy((char *)h + at, buf, part);
			if (at + part == sizeof(*h)) {
				if (h->magic != SB_TASK_MAGIC || h->text_len > SB_MAX_TASK_TEXT || h->nfds > maxfds)
					fail(DD_E_INTERNAL, "a malformed task", SB_EXIT_PROTOCOL);
				need = sizeof(*h) + h->text_len;
				t = malloc(h->text_len + 1);
				if (!t)
					out_of_memory(h->text_len);
			}
			if ((size_t)k > part)
				memcpy(t, buf + part, (size_t)k - part);
		} else
			memcpy(t + (at - sizeof(*h)), buf, (size_t)k);
	}
	t[h->text_len] = 0;
	if (strlen(t) != h->text_len)
		fail(DD_E_INTERNAL, "a malformed task", SB_EXIT_PROTOCOL);
	*text = t;
}

/* ---- warming up ---- */

static void warm_entry(struct archive *w, const char *path, unsigned type, const char *target, const char *data)
{
	struct archive_entry *e = archive_entry_new();
	if (!e)
		return;
	archive_entry_set_pathname(e, path); /* as bytes: a non-ASCII one gets hdrcharset=BINARY */
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_uname(e, "root");
	archive_entry_set_gname(e, "root");
	archive_entry_set_mtime(e, 1700000000, 5);
	if (type == AE_IFLNK)
		archive_entry_set_symlink_utf8(e, target);
	else if (target)
		archive_entry_set_hardlink_utf8(e, target);
	archive_entry_set_size(e, data && !target ? (la_int64_t)strlen(data) : 0);
	archive_write_header(w, e);
	if (data && !target)
		archive_write_data(w, data, strlen(data));
	archive_entry_free(e);
}

/* A zip entry of `len` bytes (stored or deflated). */
static void warm_zip_entry(struct archive *w, const char *path, const void *data, size_t len, int store)
{
	struct archive_entry *e = archive_entry_new();
	if (!e)
		return;
	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)len);
	archive_write_set_options(w, store ? "zip:compression=store" : "zip:compression=deflate");
	archive_write_header(w, e);
	archive_write_data(w, data, len);
	archive_entry_free(e);
}

/* A Java archive in out (cap bytes): a manifest, a pom.properties, an entry whose name is not
 * UTF-8 and not flagged so (libarchive converts it from CP437 through iconv, whose modules it
 * loads on first use), and, when inner is given, that archive stored as a nested jar. Its
 * length, or 0. */
static size_t warm_jar(unsigned char *out, size_t cap, const unsigned char *inner, size_t inner_len)
{
	size_t used = 0;
	struct archive *w = archive_write_new();
	if (!w || archive_write_set_format_zip(w) || archive_write_open_memory(w, out, cap, &used)) {
		archive_write_free(w);
		return 0;
	}
	static const char mf[] = "Manifest-Version: 1.0\r\nImplementation-Title: x\r\nImplementation-Version: 1\r\n\r\n";
	static const char pom[] = "groupId=g\nartifactId=a\nversion=1.0\n";
	warm_zip_entry(w, "META-INF/MANIFEST.MF", mf, sizeof(mf) - 1, 0);
	warm_zip_entry(w, "META-INF/maven/g/a/pom.properties", pom, sizeof(pom) - 1, 0);
	warm_zip_entry(w, "cafX.txt", "x", 1, 0);
	if (inner)
		warm_zip_entry(w, "WEB-INF/lib/a-1.0.jar", inner, inner_len, 1);
	archive_write_close(w);
	archive_write_free(w);
	for (unsigned char *p = out; (p = memmem(p, used - (size_t)(p - out), "cafX", 4)); p += 4)
		p[3] = 0xe9; /* "caf\xe9": Latin-1 bytes, in neither header flagged UTF-8 */
	return used;
}

/* A tar of what the layer reader meets in real layers: PAX headers (long and non-ASCII
 * names, sub-second times), links, whiteouts, kept files, application metadata and a Java
 * archive holding another. Read once before the filter. */
static void warm_up_layer(void)
{
	/* a zip entry's DOS time goes through mktime, which looks at /etc/localtime at every call
	 * (newfstatat, which the filter forbids): the worker's zone is a rule instead, as no time it
	 * reads is shown in local time */
	setenv("TZ", "UTC0", 1);
	tzset();
	struct tm tm = {.tm_year = 100, .tm_mday = 1, .tm_isdst = -1};
	time_t t = mktime(&tm);
	localtime_r(&t, &tm);
	static unsigned char inner[4096], war[16384];
	size_t inner_len = warm_jar(inner, sizeof(inner), NULL, 0);
	size_t war_len = inner_len ? warm_jar(war, sizeof(war), inner, inner_len) : 0;
	static char tarbuf[64 * 1024];
	size_t used = 0;
	struct archive *w = archive_write_new();
	if (!w || archive_write_set_format_pax(w) || archive_write_open_memory(w, tarbuf, sizeof(tarbuf), &used)) {
		archive_write_free(w);
		return;
	}
	warm_entry(w, "etc/os-release", AE_IFREG, NULL, "ID=debian\nVERSION_ID=\"12\"\n");
	warm_entry(w, "var/lib/dpkg/status", AE_IFREG, NULL, "Package: a\nStatus: install ok installed\nVersion: 1\n\n");
	warm_entry(w, "usr/share/doc/caf\xc3\xa9/x", AE_IFREG, NULL, "");
	warm_entry(w, "usr/share/a/path/long/enough/that/it/needs/a/pax/header/because/it/is/longer/than/the/hundred/"
		      "bytes/of/a/ustar/name/field/x",
		   AE_IFREG, NULL, "");
	warm_entry(w, "lib", AE_IFLNK, "usr/lib", NULL);
	warm_entry(w, "var/lib/dpkg/status-old", AE_IFREG, "var/lib/dpkg/status", NULL);
	warm_entry(w, "etc/.wh.gone", AE_IFREG, NULL, "");
	warm_entry(w, "usr/.wh..wh..opq", AE_IFREG, NULL, "");
	warm_entry(w, "srv/node_modules/a/package.json", AE_IFREG, NULL, "{\"name\":\"a\",\"version\":\"1.0.0\"}");
	warm_entry(w, "usr/lib/python3/site-packages/a-1.dist-info/METADATA", AE_IFREG, NULL, "Name: a\nVersion: 1\n\n");
	if (war_len) {
		struct archive_entry *e = archive_entry_new();
		if (e) {
			archive_entry_set_pathname(e, "srv/app.war");
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_perm(e, 0644);
			archive_entry_set_size(e, (la_int64_t)war_len);
			archive_write_header(w, e);
			archive_write_data(w, war, war_len);
			archive_entry_free(e);
		}
	}
	archive_write_close(w);
	archive_write_free(w);
	struct arena a = {0};
	struct memsrc src = {(const unsigned char *)tarbuf, used};
	struct layer l;
	struct digest got;
	const char *why;
	layer_read_stream(&a, mem_read, &src, NULL, &got, &l, &why);
	arena_free(&a);
}

static void add_file(struct arena *a, struct layer *l, const char *path, const void *data, size_t len)
{
	struct lentry *v = arena_alloc(a, (l->n + 1) * sizeof(*v));
	if (l->n)
		memcpy(v, l->v, l->n * sizeof(*v));
	v[l->n] = (struct lentry){.kind = LE_FILE, .path = path, .data = data, .len = len};
	l->v = v;
	l->n++;
	l->kept += layer_entry_cost(&v[l->n - 1]);
}

/* An rpm database in SQLite's format with an empty Packages table (SQLite set up, its first
 * deserialisation done). NULL when SQLite will not. */
static unsigned char *empty_rpmdb(sqlite3_int64 *len)
{
	sqlite3 *db = NULL;
	unsigned char *out = NULL;
	if (sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
	    sqlite3_exec(db, "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB NOT NULL)", NULL, NULL, NULL) ==
		    SQLITE_OK)
		out = sqlite3_serialize(db, "main", len, 0);
	sqlite3_close(db);
	return out;
}

/* Merges a small image of each kind (dpkg, apk, rpm). */
static void warm_up_inventory(void)
{
	struct arena a = {0};
	char *status = arena_alloc(&a, 64 * 200);
	size_t n = 0;
	for (int i = 0; i < 64; i++) /* enough packages that qsort takes its large-array path */
		n += (size_t)snprintf(status + n, 200, "Package: p%02d\nStatus: install ok installed\nVersion: 1.%d\n"
						       "Architecture: amd64\n\n", i, i);
	static const char apk[] = "P:musl\nV:1.2.4-r2\nA:x86_64\no:musl\n\n";
	static const char os[] = "ID=debian\nVERSION_ID=\"12\"\n";
	sqlite3_int64 rlen = 0;
	unsigned char *rpmdb = empty_rpmdb(&rlen);
	/* application metadata: jansson seeds its hash tables from /dev/urandom on first use */
	static const char pkg[] = "{\"name\":\"a\",\"version\":\"1.0.0\"}";
	static const char lock[] = "{\"lockfileVersion\":3,\"packages\":{\"node_modules/b\":{\"version\":\"2.0.0\"}}}";
	static const char meta[] = "Metadata-Version: 2.1\nName: c\nVersion: 3\n";
	static const char cargo[] = "[[package]]\nname = \"d\"\nversion = \"4.0.0\"\nsource = \"registry+x\"\n";
	json_object_seed(0);
	struct layer l[3] = {{0}};
	add_file(&a, &l[0], "etc/os-release", os, sizeof(os) - 1);
	add_file(&a, &l[0], "var/lib/dpkg/status", status, n);
	add_file(&a, &l[0], "srv/node_modules/a/package.json", pkg, sizeof(pkg) - 1);
	add_file(&a, &l[0], "opt/package-lock.json", lock, sizeof(lock) - 1);
	add_file(&a, &l[0], "usr/lib/python3/site-packages/c-3.dist-info/METADATA", meta, sizeof(meta) - 1);
	add_file(&a, &l[0], "opt/Cargo.lock", cargo, sizeof(cargo) - 1);
	add_file(&a, &l[1], "lib/apk/db/installed", apk, sizeof(apk) - 1);
	if (rpmdb)
		add_file(&a, &l[2], "var/lib/rpm/rpmdb.sqlite", rpmdb, (size_t)rlen);
	for (int i = 0; i < 3; i++) {
		const char *why;
		struct image_merge *m = image_merge_begin(&a, 1);
		image_merge_add(m, &l[i], "sha256:0", &why);
		struct inventory inv;
		inventory_init(&inv, &a);
		image_merge_end(m, &inv);
		free(inventory_serialize(&inv));
	}
	sqlite3_free(rpmdb);
	arena_free(&a);
}

/* ---- confinement ---- */

struct args {
	int kind; /* SB_LAYER, SB_INVENTORY, or 0 for the zygote */
	int drop; /* started by root: become uid/gid */
	uid_t uid;
	gid_t gid;
	uint64_t memory[SB_INVENTORY + 1], cpu, files; /* memory[kind] */
};

static int limit(int what, uint64_t soft, uint64_t hard)
{
	struct rlimit r = {.rlim_cur = (rlim_t)soft, .rlim_max = (rlim_t)hard};
	return setrlimit(what, &r);
}

/* Allows sys when its argument arg compares with a (and b, for SCMP_CMP_MASKED_EQ's value). */
static int allow_if(scmp_filter_ctx f, int sys, unsigned arg, enum scmp_compare op, scmp_datum_t a, scmp_datum_t b)
{
	struct scmp_arg_cmp c = {.arg = arg, .op = op, .datum_a = a, .datum_b = b};
	return seccomp_rule_add_array(f, SCMP_ACT_ALLOW, sys, 1, &c);
}

/* The seccomp filter: everything not listed kills the process (SIGSYS). A worker's, or with
 * zygote set the zygote's: the worker's calls, and what forking a child and that child's
 * confinement need (the child adds a worker's filter on top, which forbids them again). */
static int load_filter(int zygote)
{
	scmp_filter_ctx f = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!f)
		return -1;
	static const int plain[] = {
		/* its descriptors: the task's, the socket; reading a cache entry through a mapping */
		SCMP_SYS(read), SCMP_SYS(readv), SCMP_SYS(pread64), SCMP_SYS(write), SCMP_SYS(writev),
		SCMP_SYS(lseek), SCMP_SYS(close), SCMP_SYS(recvmsg),
		/* memory (mmap and mprotect below, never executable) */
		SCMP_SYS(brk), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(madvise),
		/* ending, and what libc's abort() and locks use */
		SCMP_SYS(exit), SCMP_SYS(exit_group), SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigprocmask),
		/* a call interrupted by a stop (^Z, a debugger) resumes with this once continued */
		SCMP_SYS(restart_syscall),
		SCMP_SYS(futex), SCMP_SYS(getpid), SCMP_SYS(gettid),
		/* clocks (usually the vDSO, without a system call) and random bytes */
		SCMP_SYS(clock_gettime), SCMP_SYS(gettimeofday), SCMP_SYS(getrandom),
	};
	int rc = 0;
	for (size_t i = 0; i < DD_ARRAY_LEN(plain) && !rc; i++)
		rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, plain[i], 0);
	static const int forking[] = {
		/* requests (descriptors attached), notes, the children's ends */
		SCMP_SYS(recvmsg), SCMP_SYS(sendmsg), SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(wait4),
		SCMP_SYS(waitid), SCMP_SYS(pidfd_open), SCMP_SYS(pidfd_send_signal), SCMP_SYS(kill),
		/* a fork's child (glibc's set_robust_list), then its confinement: its socket as descriptor
		 * 3, a process group of its own, its limits, its filter */
		SCMP_SYS(set_robust_list), SCMP_SYS(dup2), SCMP_SYS(dup3), SCMP_SYS(close_range),
		SCMP_SYS(setpgid), SCMP_SYS(prlimit64), SCMP_SYS(setrlimit), SCMP_SYS(seccomp),
		/* any thread of its own: a child's own filter allows only its own */
		SCMP_SYS(tgkill),
	};
	for (size_t i = 0; zygote && i < DD_ARRAY_LEN(forking) && !rc; i++)
		rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, forking[i], 0);
	/* fork() is clone with these flags, and nothing else may be (no thread, no namespace);
	 * clone3 says it is not there, so a libc that tries it first falls back */
	if (!rc && zygote)
		rc = allow_if(f, SCMP_SYS(clone), 0, SCMP_CMP_EQ, CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD, 0);
	if (!rc && zygote)
		rc = seccomp_rule_add(f, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	/* libseccomp sets no_new_privs (set already) as it loads a child's filter */
	if (!rc && zygote)
		rc = allow_if(f, SCMP_SYS(prctl), 0, SCMP_CMP_EQ, PR_SET_NO_NEW_PRIVS, 0);
	if (!rc)
		rc = allow_if(f, SCMP_SYS(mmap), 2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);
	if (!rc)
		rc = allow_if(f, SCMP_SYS(mprotect), 2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);
	/* abort() signals itself, and nothing else */
	if (!rc && !zygote)
		rc = allow_if(f, SCMP_SYS(tgkill), 0, SCMP_CMP_EQ, (scmp_datum_t)getpid(), 0);
	/* asking where the signal stack is, never setting one: AddressSanitizer asks before every
	 * call of a function that does not return (the plain build never does) */
	if (!rc)
		rc = allow_if(f, SCMP_SYS(sigaltstack), 0, SCMP_CMP_EQ, 0, 0);
	if (!rc)
		rc = seccomp_attr_set(f, SCMP_FLTATR_CTL_NNP, 1);
	if (!rc)
		rc = seccomp_load(f);
	seccomp_release(f);
	return rc ? -1 : 0;
}

/* Its own limits, which a worker the zygote forks sets too (its memory and CPU are its own). */
static int worker_limits(const struct args *g, int kind)
{
	int bad = 0;
#ifndef SB_ASAN /* AddressSanitizer reserves terabytes of shadow memory: no limit fits */
	bad |= limit(RLIMIT_AS, g->memory[kind], g->memory[kind]);
#else
	(void)kind;
#endif
	bad |= limit(RLIMIT_CPU, g->cpu, g->cpu + 5); /* SIGXCPU at the soft limit, SIGKILL at the hard one */
	return bad;
}

/* NULL, or what could not be done. A worker (g->kind) confines itself all the way; the zygote
 * (kind 0) leaves out what would stop it forking (no process, the worker's filter) and what is
 * a child's own (memory: the larger kind's here, each child lowers it to its own; CPU time,
 * counted from zero in each child, while the zygote lives as long as the server). */
static const char *confine(const struct args *g)
{
	int bad = 0;
	if (g->kind)
		bad |= worker_limits(g, g->kind);
#ifndef SB_ASAN
	else { /* the larger kind's: each child lowers it to its own */
		uint64_t most = g->memory[SB_INVENTORY] > g->memory[SB_LAYER] ? g->memory[SB_INVENTORY] : g->memory[SB_LAYER];
		bad |= limit(RLIMIT_AS, most, most);
	}
#endif
	bad |= limit(RLIMIT_FSIZE, 0, 0);
	bad |= limit(RLIMIT_NOFILE, g->files, g->files);
	bad |= limit(RLIMIT_CORE, 0, 0);
	bad |= limit(RLIMIT_MEMLOCK, 0, 0);
	bad |= limit(RLIMIT_MSGQUEUE, 0, 0);
	if (bad)
		return "cannot set its resource limits";
	if (syscall(SYS_close_range, SOCK + 1, ~0U, 0))
		return "cannot close its other descriptors";
	if (g->drop) {
		if (setgroups(0, NULL) || setresgid(g->gid, g->gid, g->gid) || setresuid(g->uid, g->uid, g->uid))
			return "cannot drop to the unprivileged user";
		uid_t r, e, s;
		gid_t rg, eg, sg;
		if (getresuid(&r, &e, &s) || r != g->uid || e != g->uid || s != g->uid || getresgid(&rg, &eg, &sg) ||
		    rg != g->gid || eg != g->gid || sg != g->gid || (g->uid && !setresuid(0, 0, 0)))
			return "the unprivileged user did not stick";
	}
	/* no capability left (a server started with file capabilities keeps some across exec) */
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2] = {{0}};
	if (syscall(SYS_capset, &hdr, data))
		return "cannot drop its capabilities";
	if (g->kind && limit(RLIMIT_NPROC, 0, 0))
		return "cannot set its resource limits";
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return "cannot set no_new_privs";
	if (load_filter(!g->kind))
		return "cannot install its seccomp filter";
	return NULL;
}

/* Receives one task on the socket and does it (the worker, confined). */
static _Noreturn void serve(int kind)
{
	struct sb_task_head h;
	char *text;
	static int fds[DD_SANDBOX_FILES];
	size_t nfds;
	recv_task(&h, &text, fds, kind == SB_LAYER ? 1 : DD_MAX_LAYERS, &nfds);
	if ((int)h.kind != kind || (kind == SB_LAYER && nfds != 1))
		fail(DD_E_INTERNAL, "a task of the wrong kind", SB_EXIT_PROTOCOL);
	if (kind == SB_LAYER)
		task_layer(fds[0], text);
	task_inventory(fds, nfds, text);
}

/* ---- the zygote ---- */

/* Rewrites the command line the zygote was started with (argv[0] "scan-worker" to the end of
 * the last argument) into a worker's, so that ps and /proc show which kind this one is. */
static void retitle(int argc, char **argv, int kind)
{
	char *area = argv[0], *end = argv[argc - 1] + strlen(argv[argc - 1]) + 1, title[256];
	int n = snprintf(title, sizeof(title), "%s%c%s%c%s%c%s%c%s%c%s%c%s", argv[0], 0,
			 kind == SB_LAYER ? "layer" : "inventory", 0, argv[2], 0, argv[3], 0,
			 argv[kind == SB_LAYER ? 4 : 5], 0, argv[6], 0, argv[7]);
	size_t len = n < 0 ? 0 : (size_t)n + 1 < sizeof(title) ? (size_t)n + 1 : sizeof(title);
	if (len > (size_t)(end - area))
		len = (size_t)(end - area);
	memcpy(area, title, len);
	memset(area + len, 0, (size_t)(end - area) - len);
	end[-1] = 0;
}

/* The forked child: the rest of a worker's confinement on top of the zygote's (its socket as
 * descriptor 3 and no other, a process group of its own, its memory and CPU limits, no process,
 * a worker's filter), then one task, as a spawned worker. */
static _Noreturn void zygote_child(struct args *g, int kind, int sock, int argc, char **argv)
{
	arena_set_oom_handler(out_of_memory);
	if (dup2(sock, SOCK) != SOCK)
		_exit(SB_EXIT_CONFINE);
	const char *why = NULL;
	if (setpgid(0, 0))
		why = "cannot have a process group of its own";
	else if (syscall(SYS_close_range, SOCK + 1, ~0U, 0))
		why = "cannot close its other descriptors";
	else if (worker_limits(g, kind) || limit(RLIMIT_NPROC, 0, 0))
		why = "cannot set its resource limits";
	else if (load_filter(0))
		why = "cannot install its seccomp filter";
	if (why)
		fail(DD_E_SANDBOX, why, SB_EXIT_CONFINE);
	g->kind = kind;
	retitle(argc, argv, kind);
	serve(kind);
}

/* One note to the server about a child (never blocks, never raises SIGPIPE: a server thread that
 * stopped listening loses it). fd: a descriptor to attach, or -1. */
static void note(int to, int what, int value, int fd)
{
	struct sb_note n = {.what = (uint32_t)what, .value = value};
	struct iovec iov = {.iov_base = &n, .iov_len = sizeof(n)};
	union {
		struct cmsghdr align;
		char b[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	if (fd >= 0) {
		msg.msg_control = ctl.b;
		msg.msg_controllen = CMSG_SPACE(sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	while (sendmsg(to, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && errno == EINTR)
		;
}

struct kid {
	pid_t pid;
	int pidfd, note; /* its end: readable once it exited; where its notes go */
};

/* The zygote's loop (single-threaded): a request forks a child; a child's end is reaped and
 * noted. Never returns. */
static _Noreturn void zygote_serve(struct args *g, int argc, char **argv)
{
	/* two descriptors a child, within RLIMIT_NOFILE with the standard three, the control socket
	 * and a request's two */
	static struct kid kids[(DD_SANDBOX_FILES - 6) / 2];
	static struct pollfd pf[(DD_SANDBOX_FILES - 6) / 2 + 1];
	size_t n = 0;
	for (;;) {
		pf[0] = (struct pollfd){.fd = SOCK, .events = POLLIN};
		for (size_t i = 0; i < n; i++)
			pf[i + 1] = (struct pollfd){.fd = kids[i].pidfd, .events = POLLIN};
		if (poll(pf, n + 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			_exit(SB_EXIT_PROTOCOL);
		}
		for (size_t i = n; i-- > 0;) { /* from the end: the last one moves into a slot seen already */
			int st;
			if (!pf[i + 1].revents || waitpid(kids[i].pid, &st, WNOHANG) != kids[i].pid)
				continue;
			note(kids[i].note, SB_N_ENDED, st, -1);
			close(kids[i].note);
			close(kids[i].pidfd);
			kids[i] = kids[--n];
		}
		if (!pf[0].revents)
			continue;
		struct sb_fork req;
		int fds[2] = {-1, -1};
		size_t nfds = 0;
		union {
			struct cmsghdr align;
			char b[CMSG_SPACE(sizeof(int) * 2)];
		} ctl;
		struct iovec iov = {.iov_base = &req, .iov_len = sizeof(req)};
		struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof(ctl.b)};
		ssize_t k = recvmsg(SOCK, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		if (k < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (k <= 0) { /* the server is gone: so are its workers */
			for (size_t i = 0; i < n; i++)
				syscall(SYS_pidfd_send_signal, kids[i].pidfd, SIGKILL, NULL, 0);
			for (size_t i = 0; i < n; i++)
				while (waitpid(kids[i].pid, NULL, 0) < 0 && errno == EINTR)
					;
			_exit(0);
		}
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
				for (size_t j = 0; j < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); j++) {
					int fd;
					memcpy(&fd, CMSG_DATA(c) + j * sizeof(int), sizeof(int));
					if (nfds < 2)
						fds[nfds++] = fd;
					else
						close(fd);
				}
		if (k != sizeof(req) || req.magic != SB_FORK_MAGIC || (req.kind != SB_LAYER && req.kind != SB_INVENTORY) ||
		    nfds != 2) {
			for (size_t j = 0; j < nfds; j++)
				close(fds[j]);
			continue;
		}
		if (n == DD_ARRAY_LEN(kids)) {
			note(fds[1], SB_N_FAILED, EMFILE, -1);
			close(fds[0]);
			close(fds[1]);
			continue;
		}
		pid_t pid = fork();
		if (pid == 0)
			zygote_child(g, (int)req.kind, fds[0], argc, argv);
		int e = errno, pidfd = pid > 0 ? (int)syscall(SYS_pidfd_open, pid, 0) : -1;
		close(fds[0]);
		if (pidfd < 0) {
			if (pid > 0) {
				e = errno;
				kill(pid, SIGKILL); /* not reaped: still this child */
				while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
					;
			}
			note(fds[1], SB_N_FAILED, e, -1);
			close(fds[1]);
			continue;
		}
		note(fds[1], SB_N_FORKED, pid, pidfd);
		kids[n++] = (struct kid){.pid = pid, .pidfd = pidfd, .note = fds[1]};
	}
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (!*s || *end || errno)
		return -1;
	*out = v;
	return 0;
}

int sandbox_worker_main(int argc, char **argv)
{
	/* argv: scan-worker KIND UID GID MEMORY CPU FILES, or
	 * scan-worker zygote UID GID LAYER_MEMORY INVENTORY_MEMORY CPU FILES */
	struct args g = {0};
	uint64_t uid = 0, gid = 0;
	int zygote = argc == 8 && !strcmp(argv[1], "zygote"), bad = 1;
	if (zygote)
		bad = parse_u64(argv[4], &g.memory[SB_LAYER]) || parse_u64(argv[5], &g.memory[SB_INVENTORY]);
	else if (argc == 7 && (!strcmp(argv[1], "layer") || !strcmp(argv[1], "inventory")))
		bad = parse_u64(argv[4], &g.memory[!strcmp(argv[1], "layer") ? SB_LAYER : SB_INVENTORY]);
	if (bad || parse_u64(argv[argc - 2], &g.cpu) || parse_u64(argv[argc - 1], &g.files)) {
		fprintf(stderr, "drydock scan-worker: started only by drydock serve\n");
		_exit(2);
	}
	g.kind = zygote ? 0 : !strcmp(argv[1], "layer") ? SB_LAYER : SB_INVENTORY;
	if (strcmp(argv[2], "-")) {
		if (parse_u64(argv[2], &uid) || parse_u64(argv[3], &gid))
			_exit(2);
		g.drop = 1;
		g.uid = (uid_t)uid;
		g.gid = (gid_t)gid;
	}
	if (!zygote)
		arena_set_oom_handler(out_of_memory);
	if (g.kind != SB_INVENTORY)
		warm_up_layer();
	if (g.kind != SB_LAYER)
		warm_up_inventory();
	const char *why = confine(&g);
	if (why && zygote) /* the server starts workers itself: their own confinement says why it fails */
		_exit(SB_EXIT_ZYGOTE);
	if (why)
		fail(DD_E_SANDBOX, why, SB_EXIT_CONFINE);
	/* confined: from here on, only the task's descriptors and the socket */
	if (zygote)
		zygote_serve(&g, argc, argv);
	serve(g.kind);
}
