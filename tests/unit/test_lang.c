/* test_lang.c: application packages (inventory/lang.c): which paths are read, the probe over
 * executables as their bytes stream past in blocks of any size, and each format's parser. The
 * Go build information is built here in the layout the Go linker writes (Go 1.18 and later:
 * the 32-byte header, then varint-prefixed strings, the module list between its sentinels). */
#include "unit.h"
#include "common/arena.h"
#include "inventory/inventory.h"
#include "inventory/lang.h"
#include "version/version.h"

static void test_file_kinds(void)
{
	static const struct {
		const char *path;
		enum lang_file kind;
	} cases[] = {
		{"usr/local/lib/python3.11/dist-packages/pip-23.0.1.dist-info/METADATA", LANG_PY_METADATA},
		{"app/.venv/lib/python3.12/site-packages/Jinja2-2.10.dist-info/METADATA", LANG_PY_METADATA},
		{"usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO", LANG_PY_METADATA},
		{"usr/lib/python3/dist-packages/six-1.16.0.egg-info", LANG_PY_METADATA},
		{"usr/lib/python3/dist-packages/six-1.16.0.egg-info/top_level.txt", LANG_NONE},
		{"srv/pip-23.0.1.dist-info/METADATA", LANG_NONE}, /* not in site- or dist-packages */
		{"usr/local/lib/python3.11/dist-packages/pip/_vendor/x.dist-info/RECORD", LANG_NONE},
		{"srv/web/node_modules/lodash/package.json", LANG_NPM_PACKAGE},
		{"node_modules/lodash/package.json", LANG_NPM_PACKAGE},
		{"srv/web/node_modules/@babel/core/package.json", LANG_NPM_PACKAGE},
		{"srv/web/node_modules/a/node_modules/b/package.json", LANG_NPM_PACKAGE},
		{"srv/web/node_modules/lodash/test/fixtures/package.json", LANG_NONE},
		{"srv/web/node_modules/@babel/package.json", LANG_NONE}, /* a scope is no package */
		{"srv/web/node_modules/.bin/package.json", LANG_NONE},
		{"srv/web/package.json", LANG_NONE},
		{"srv/web/package-lock.json", LANG_NPM_LOCK},
		{"srv/web/node_modules/x/package-lock.json", LANG_NONE},
		{"srv/rust/Cargo.lock", LANG_CARGO_LOCK},
		{"var/lib/dpkg/info/python3-six.list", LANG_DPKG_LIST},
		{"var/lib/dpkg/info/x/y.list", LANG_NONE},
		{"usr/bin/age", LANG_NONE},
	};
	for (size_t i = 0; i < DD_ARRAY_LEN(cases); i++) {
		enum lang_file k = lang_file_kind(cases[i].path);
		if (k != cases[i].kind)
			fprintf(stderr, "  %s: %d, want %d\n", cases[i].path, (int)k, (int)cases[i].kind);
		CHECK(k == cases[i].kind);
	}
}

static void test_pep503(void)
{
	char out[64];
	CHECK(pep503_name("Jinja2", 6, out, sizeof(out)) == 6 && !strcmp(out, "jinja2"));
	CHECK(pep503_name("jw.util", 7, out, sizeof(out)) && !strcmp(out, "jw-util"));
	CHECK(pep503_name("Foo__Bar-.baz", 13, out, sizeof(out)) && !strcmp(out, "foo-bar-baz"));
	CHECK(pep503_name("", 0, out, sizeof(out)) == 0);
	CHECK(pep503_name("abcdefgh", 8, out, 4) == 0); /* does not fit */
}

/* A Go varint. */
static size_t put_uvarint(unsigned char *o, size_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		o[n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	o[n++] = (unsigned char)v;
	return n;
}

/* The build information block: header, version, module list with its sentinels. */
static size_t go_blob(unsigned char *o, const char *gover, const char *mods)
{
	static const char start[17] = "0w\xaf\x0c\x92t\x08\x02" "A\xe1\xc1\x07\xe6\xd6\x18\xe6";
	static const char end[17] = "\xf9" "2C1\x86\x18 r\x00\x82" "B\x10" "A\x16\xd8\xf2";
	memset(o, 0, 32);
	memcpy(o, LANG_GO_MAGIC, 14);
	o[14] = 8;
	o[15] = 2;
	size_t n = 32;
	n += put_uvarint(o + n, strlen(gover));
	memcpy(o + n, gover, strlen(gover));
	n += strlen(gover);
	size_t ml = strlen(mods) + 32;
	n += put_uvarint(o + n, ml);
	memcpy(o + n, start, 16);
	memcpy(o + n + 16, mods, strlen(mods));
	memcpy(o + n + 16 + strlen(mods), end, 16);
	return n + ml;
}

static const char *const MODS = "path\texample.com/cmd/app\n"
				"mod\texample.com/app\t(devel)\t\n"
				"dep\tgolang.org/x/net\tv0.7.0\th1:abc=\n"
				"dep\tgithub.com/old/x\tv1.0.0\th1:def=\n"
				"=>\tgithub.com/new/x\tv1.2.0\th1:ghi=\n"
				"dep\texample.com/local\tv0.0.0\n"
				"=>\t../local\t\t\n"
				"build\t-compiler=gc\n";

static const struct package *find(const struct inventory *inv, const char *name)
{
	for (size_t i = 0; i < inv->n; i++)
		if (!strcmp(inv->pkgs[i].name, name))
			return &inv->pkgs[i];
	return NULL;
}

static void test_go_buildinfo(void)
{
	struct arena a = {0};
	struct inventory inv;
	inventory_init(&inv, &a);
	unsigned char blob[2048];
	size_t n = go_blob(blob, "go1.21rc2", MODS);
	CHECK(lang_parse(&inv, "usr/bin/app", (const char *)blob, n, 1) == 3);
	const struct package *p = find(&inv, "stdlib");
	CHECK(p && !strcmp(p->version, "1.21.0-rc.2") && p->type == PKG_GO && !strcmp(p->db_path, "usr/bin/app"));
	CHECK((p = find(&inv, "golang.org/x/net")) && !strcmp(p->version, "v0.7.0"));
	CHECK((p = find(&inv, "github.com/new/x")) && !strcmp(p->version, "v1.2.0")); /* the replacement */
	CHECK(!find(&inv, "github.com/old/x") && !find(&inv, "example.com/local") && !find(&inv, "example.com/app"));
	/* toolchain versions as the Go vulnerability database writes them */
	static const char *const vers[][2] = {{"go1.19.8", "1.19.8"}, {"go1.20", "1.20.0"},
					      {"go1.22.1 X:boringcrypto", "1.22.1"}, {"go1.21beta1", "1.21.0-beta.1"}};
	for (size_t i = 0; i < DD_ARRAY_LEN(vers); i++) {
		inventory_init(&inv, &a);
		n = go_blob(blob, vers[i][0], "path\tx\n");
		lang_parse(&inv, "b", (const char *)blob, n, 1);
		CHECK(inv.n == 1 && !strcmp(inv.pkgs[0].version, vers[i][1]));
	}
	/* a replacement without a name (or with a control byte in it) is no module */
	inventory_init(&inv, &a);
	n = go_blob(blob, "go1.20", "dep\tgolang.org/x/net\tv0.1.0\th1:\n=>\t\tv0.2.0\t\ndep\ta\tv1\n=>\ta\x01b\tv2\t\n");
	CHECK(lang_parse(&inv, "b", (const char *)blob, n, 1) == 1 && !strcmp(inv.pkgs[0].name, "stdlib"));
	inventory_init(&inv, &a);
	n = go_blob(blob, "devel go1.23-abcdef", "path\tx\n");
	CHECK(lang_parse(&inv, "b", (const char *)blob, n, 1) == 0 && inv.lang_skipped == 1);
	/* cut short anywhere: never a read past the end, never a half line */
	n = go_blob(blob, "go1.19.8", MODS);
	for (size_t cut = 0; cut < n; cut++) {
		inventory_init(&inv, &a);
		char *copy = malloc(cut ? cut : 1);
		memcpy(copy, blob, cut);
		lang_parse(&inv, "b", copy, cut, 1);
		for (size_t i = 0; i < inv.n; i++)
			CHECK(strchr(inv.pkgs[i].version, '\n') == NULL && strchr(inv.pkgs[i].name, '\t') == NULL);
		free(copy);
	}
	arena_free(&a);
}

/* Feeds file (n bytes) to a probe in blocks of `block` bytes. */
static const char *probe_in_blocks(struct arena *a, const char *path, const unsigned char *file, size_t n,
				   size_t block, size_t *len)
{
	static struct lang_probe p;
	lang_probe_begin(&p, path);
	for (size_t off = 0; off < n; off += block)
		if (!lang_probe_feed(&p, a, file + off, off + block > n ? n - off : block))
			break;
	return lang_probe_result(&p, a, len);
}

static void test_probe(void)
{
	struct arena a = {0};
	size_t n = 70000;
	unsigned char *file = calloc(1, n);
	memcpy(file, "\x7f" "ELF", 4);
	unsigned char blob[2048];
	size_t bn = go_blob(blob, "go1.19.8", MODS);
	/* a decoy magic at an offset that is not 16-byte aligned, then the real one */
	memcpy(file + 40001, LANG_GO_MAGIC, 14);
	memcpy(file + 50000, blob, bn);
	static const size_t blocks[] = {1, 3, 7, 13, 16, 512, 4096, 10240, 65536, 70000};
	for (size_t i = 0; i < DD_ARRAY_LEN(blocks); i++) {
		size_t len;
		const char *kept = probe_in_blocks(&a, "usr/bin/app", file, n, blocks[i], &len);
		CHECK(kept && len == bn && !memcmp(kept, blob, bn));
	}
	size_t len;
	file[0] = 'X'; /* not ELF: nothing is looked at */
	CHECK(!probe_in_blocks(&a, "usr/bin/app", file, n, 4096, &len));
	/* Node.js's release URL, in a file named node */
	memset(file, 0, n);
	memcpy(file, "\x7f" "ELF", 4);
	const char *url = "https://nodejs.org/download/release/v20.10.0/node-v20.10.0-headers.tar.gz";
	memcpy(file + 33333, url, strlen(url));
	for (size_t i = 0; i < DD_ARRAY_LEN(blocks); i++) {
		const char *kept = probe_in_blocks(&a, "usr/local/bin/node", file, n, blocks[i], &len);
		struct inventory inv;
		inventory_init(&inv, &a);
		CHECK(kept && lang_parse(&inv, "usr/local/bin/node", kept, len, 1) == 1 && !strcmp(inv.pkgs[0].name, "node") &&
		      !strcmp(inv.pkgs[0].version, "20.10.0") && inv.pkgs[0].type == PKG_NODEJS);
	}
	CHECK(!probe_in_blocks(&a, "usr/local/bin/other", file, n, 4096, &len)); /* only a file named node */
	free(file);
	arena_free(&a);
}

static size_t parse(struct inventory *inv, const char *path, const char *text)
{
	return lang_parse(inv, path, text, strlen(text), 0);
}

static void test_formats(void)
{
	struct arena a = {0};
	struct inventory inv;
	inventory_init(&inv, &a);
	const char *py = "usr/local/lib/python3.11/dist-packages/Jinja2-2.10.dist-info/METADATA";
	CHECK(parse(&inv, py, "Metadata-Version: 2.1\r\nName: Jinja2\r\nVersion: 2.10\r\n\r\nName: other\n") == 1);
	CHECK(!strcmp(inv.pkgs[0].name, "jinja2") && !strcmp(inv.pkgs[0].version, "2.10") && inv.pkgs[0].type == PKG_PYPI);
	CHECK(parse(&inv, py, "Metadata-Version: 2.1\n\nName: x\nVersion: 1\n") == 0); /* the body is not headers */
	/* the OS package manager's: left to it */
	const char *deb = "usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO";
	CHECK(parse(&inv, "var/lib/dpkg/info/python3-six.list", "/usr\n/usr/lib/python3/dist-packages/six-1.16.0.egg-info\n") == 0);
	CHECK(parse(&inv, deb, "Name: six\nVersion: 1.16.0\n") == 0);
	char list[] = "/usr\n/usr/lib/python3/dist-packages/six.py\n/usr/lib/python3/dist-packages/six-1.16.0.egg-info\n";
	size_t fl = lang_dpkg_list_filter(list, strlen(list));
	CHECK(fl == strlen("/usr/lib/python3/dist-packages/six-1.16.0.egg-info\n") && !memcmp(list, "/usr/lib/python3/", 17));

	size_t before = inv.n;
	CHECK(parse(&inv, "a/node_modules/@types/node/package.json", "{\"name\":\"@types/node\",\"version\":\"20.1.0\"}") == 1);
	CHECK(parse(&inv, "a/node_modules/x/package.json", "{\"name\":\"x\"}") == 0); /* no version */
	CHECK(parse(&inv, "a/node_modules/x/package.json", "{\"name\":\"x\",\"version\":\"1\",\"name\":\"y\"}") == 0);
	CHECK(parse(&inv, "a/node_modules/x/package.json", "not json") == 0);
	const char *v3 = "{\"lockfileVersion\":3,\"packages\":{\"\":{\"name\":\"web\"},"
			 "\"node_modules/lodash\":{\"version\":\"4.17.15\"},"
			 "\"node_modules/a/node_modules/@s/b\":{\"version\":\"1.0.0\"},"
			 "\"node_modules/ws\":{\"link\":true,\"resolved\":\"packages/ws\"},"
			 "\"node_modules/alias\":{\"name\":\"real\",\"version\":\"2.0.0\"}}}";
	CHECK(parse(&inv, "srv/web/package-lock.json", v3) == 3);
	CHECK(find(&inv, "lodash") && find(&inv, "@s/b") && find(&inv, "real") && !find(&inv, "ws"));
	const char *v1 = "{\"lockfileVersion\":1,\"dependencies\":{\"minimist\":{\"version\":\"1.2.0\","
			 "\"dependencies\":{\"deep\":{\"version\":\"0.1.0\"}}}}}";
	CHECK(parse(&inv, "srv/old/package-lock.json", v1) == 2 && find(&inv, "deep"));
	for (size_t i = before; i < inv.n; i++)
		CHECK(inv.pkgs[i].type == PKG_NPM);

	const char *lock = "version = 3\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\n\n"
			   "[[package]]\nname = \"smallvec\"\nversion = \"1.6.0\"\n"
			   "source = \"registry+https://github.com/rust-lang/crates.io-index\"\n\n"
			   "[[package]]\nname = \"gitdep\"\nversion = \"0.1.0\"\nsource = \"git+https://x/y#abc\"\n\n"
			   "[metadata]\nx = \"y\"\n";
	before = inv.n;
	CHECK(parse(&inv, "srv/Cargo.lock", lock) == 1);
	CHECK(inv.n == before + 1 && !strcmp(inv.pkgs[before].name, "smallvec") && inv.pkgs[before].type == PKG_CARGO);
	arena_free(&a);
}

void suite_lang(void)
{
	RUN(test_file_kinds);
	RUN(test_pep503);
	RUN(test_go_buildinfo);
	RUN(test_probe);
	RUN(test_formats);
}
