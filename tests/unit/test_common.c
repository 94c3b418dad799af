/* test_common.c: error table, digests, buffers, arena, config, uuids. */
#include "unit.h"
#include <jansson.h>
#include "common/arena.h"
#include "common/buf.h"
#include "common/config.h"
#include "common/digest.h"
#include "common/netaddr.h"
#include "common/util.h"

static void test_err_table(void)
{
	CHECK(dd_err_http_status(DD_E_BLOB_UNKNOWN) == 404);
	CHECK_STR(dd_err_oci_code(DD_E_BLOB_UNKNOWN), "BLOB_UNKNOWN");
	CHECK(dd_err_http_status(DD_E_DIGEST_INVALID) == 400);
	CHECK(dd_err_http_status(DD_E_RANGE_INVALID) == 416);
	CHECK_STR(dd_err_oci_code(DD_E_MANIFEST_BLOB_UNKNOWN), "MANIFEST_BLOB_UNKNOWN");
	CHECK_STR(dd_err_oci_code(DD_E_NAME_UNKNOWN), "NAME_UNKNOWN");
	CHECK(dd_err_http_status(DD_E_TOOMANYREQUESTS) == 429);
	CHECK(dd_err_http_status(DD_E_NO_SPACE) == 507 && !strcmp(dd_err_oci_code(DD_E_NO_SPACE), "UNKNOWN"));
	CHECK_STR(dd_err_message(-1), "unknown error");
	CHECK_STR(dd_err_message(DD_E__COUNT), "unknown error");
	/* every entry has a message and a 3-digit status */
	for (int i = 0; i < DD_E__COUNT; i++) {
		CHECK(*dd_err_message(i));
		CHECK(dd_err_http_status(i) >= 200 && dd_err_http_status(i) < 600);
	}
	/* append-only: these numbers are stable */
	CHECK(DD_E_OK == 0 && DD_E_BLOB_UNKNOWN == 4 && DD_E_USAGE == 27);
}

static void test_digest_parse(void)
{
	struct digest d;
	const char *why;
	const char *good = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
	CHECK(digest_parse(good, strlen(good), &d, &why) == 0);
	CHECK(d.alg == DIGEST_SHA256);
	CHECK_STR(d.str, good);
	const char *bad[] = {"", "sha256", "sha256:", ":abc", "sha256:abc",
			     "sha256:2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824",
			     "md5:d41d8cd98f00b204e9800998ecf8427e", "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b982g",
			     "SHA256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", "sha256::",
			     "-sha256:00", "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b98244"};
	for (size_t i = 0; i < DD_ARRAY_LEN(bad); i++) {
		CHECK(digest_parse(bad[i], strlen(bad[i]), &d, &why) == DD_E_DIGEST_INVALID);
		CHECK(why && *why);
		CHECK(d.alg == DIGEST_NONE);
	}
	/* not NUL-terminated input: only n bytes are read */
	char buf[80];
	memcpy(buf, good, 71);
	buf[71] = 'X';
	CHECK(digest_parse(buf, 71, &d, &why) == 0);
	char big[200];
	memset(big, 'a', sizeof(big));
	memcpy(big, "sha512:", 7);
	CHECK(digest_parse(big, 135, &d, &why) == 0);
	CHECK(digest_parse(big, 136, &d, &why) == DD_E_DIGEST_INVALID);
}

static void test_hasher(void)
{
	struct digest d, e;
	digest_of(DIGEST_SHA256, "hello", 5, &d);
	CHECK_STR(d.str, "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
	digest_of(DIGEST_SHA512, "", 0, &d);
	CHECK_STR(d.str, "sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e");
	struct hasher *h = hasher_new(DIGEST_SHA256);
	hasher_update(h, "he", 2);
	struct hasher *c = hasher_dup(h);
	hasher_update(h, "llo", 3);
	hasher_peek(h, &d);
	CHECK_STR(d.str, "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
	hasher_peek(h, &e); /* peeking does not disturb the state */
	CHECK_STR(d.str, e.str);
	hasher_update(c, "llo", 3);
	hasher_peek(c, &e);
	CHECK_STR(d.str, e.str);
	hasher_free(h);
	hasher_free(c);
}

static void test_buf_cap(void)
{
	struct buf b;
	buf_init(&b, 10);
	CHECK(buf_append(&b, "12345", 5) == 0);
	CHECK(buf_puts(&b, "67890") == 0);
	CHECK(buf_append(&b, "x", 1) == DD_E_TOO_LARGE);
	CHECK(b.len == 10);
	CHECK_STR(b.data, "1234567890");
	buf_reset(&b);
	CHECK(buf_printf(&b, "%d-%s", 42, "a") == 0);
	CHECK_STR(b.data, "42-a");
	buf_release(&b);
	CHECK(b.data == NULL);
	/* room made ahead: an empty buffer reads "", the cap still holds, appends fill the room */
	buf_init(&b, 10);
	CHECK(buf_room(&b, 1000) == 0 && b.data && !*b.data && b.alloc == 11 && b.len == 0);
	CHECK(buf_append(&b, "12345", 5) == 0 && b.alloc == 11 && buf_room(&b, 3) == 0 && b.alloc == 11);
	CHECK(buf_append(&b, "678901", 6) == DD_E_TOO_LARGE && buf_puts(&b, "67890") == 0);
	CHECK_STR(b.data, "1234567890");
	buf_release(&b);
	buf_init(&b, 1 << 20);
	CHECK(buf_append(&b, "ab", 2) == 0 && buf_room(&b, 100) == 0 && b.alloc >= 103 && !strcmp(b.data, "ab"));
	buf_release(&b);
}

static void test_buf_json_str(void)
{
	struct buf b;
	buf_init(&b, 1024);
	CHECK(buf_json_str(&b, "a\"b\\c\n\x01") == 0);
	CHECK_STR(b.data, "\"a\\\"b\\\\c\\u000a\\u0001\"");
	buf_reset(&b);
	CHECK(buf_json_str(&b, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xb3") == 0); /* valid UTF-8 passes */
	CHECK_STR(b.data, "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xb3\"");
	buf_reset(&b);
	CHECK(buf_json_str(&b, "x\xff\xc3(\xed\xa0\x80y") == 0); /* stray, cut, surrogate */
	CHECK_STR(b.data, "\"x\\ufffd\\ufffd(\\ufffd\\ufffd\\ufffdy\"");
	json_t *j = json_loads(b.data, JSON_DECODE_ANY, NULL);
	CHECK(j != NULL);
	json_decref(j);
	buf_reset(&b);
	CHECK(buf_json_str(&b, NULL) == 0 && !strcmp(b.data, "null"));
	buf_reset(&b); /* as UTF-8 text: the same replacements, nothing escaped */
	CHECK(buf_utf8(&b, "x\xff\xc3(\xed\xa0\x80y \"caf\xc3\xa9\"") == 0);
	CHECK_STR(b.data, "x\xef\xbf\xbd\xef\xbf\xbd(\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdy \"caf\xc3\xa9\"");
	buf_release(&b);
}

/* The old escaping, a byte at a time: the word-at-a-time scan must give the same text. */
static void json_str_bytewise(struct buf *b, const unsigned char *p)
{
	buf_append(b, "\"", 1);
	for (; *p; p++) {
		size_t n = 0;
		if (*p >= 0x20 && *p != '"' && *p != '\\') {
			n = *p < 0x80 ? 1 : *p >= 0xc2 && *p <= 0xdf ? 2 : *p >= 0xe0 && *p <= 0xef ? 3 : *p >= 0xf0 && *p <= 0xf4 ? 4 : 0;
			for (size_t i = 1; i < n; i++)
				if ((p[i] & 0xc0) != 0x80)
					n = 0;
			if ((n == 3 && ((*p == 0xe0 && p[1] < 0xa0) || (*p == 0xed && p[1] > 0x9f))) ||
			    (n == 4 && ((*p == 0xf0 && p[1] < 0x90) || (*p == 0xf4 && p[1] > 0x8f))))
				n = 0;
		}
		char esc[8];
		if (n) {
			buf_append(b, p, n);
			p += n - 1;
		} else if (*p == '"' || *p == '\\') {
			buf_append(b, "\\", 1);
			buf_append(b, p, 1);
		} else if (*p < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", *p);
			buf_append(b, esc, 6);
		} else
			buf_append(b, "\\ufffd", 6);
	}
	buf_append(b, "\"", 1);
}

static void test_buf_json_str_words(void)
{
	/* every byte class at every place of a word: plain, the two escaped, controls, the
	 * edges of the tests (0x1f, 0x20, 0x7f, 0x80), UTF-8 leads and continuations */
	static const unsigned char alphabet[] = {'a', 'z', '"', '\\', 0x01, 0x1f, 0x20, 0x21, 0x5b, 0x5d,
						 0x7f, 0x80, 0xbf, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0xff};
	struct buf got, want;
	buf_init(&got, 4096);
	buf_init(&want, 4096);
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	for (int round = 0; round < 20000; round++) {
		unsigned char s[48];
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		size_t n = (size_t)(seed >> 33) % (sizeof(s) - 1), rare = (size_t)(seed >> 20) % 4;
		for (size_t i = 0; i < n; i++) {
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			/* mostly plain, so whole plain words come before and after the others */
			size_t k = (size_t)(seed >> 33);
			s[i] = k % 8 < rare ? alphabet[(k / 8) % sizeof(alphabet)] : (unsigned char)('a' + k % 26);
		}
		s[n] = 0;
		buf_reset(&got);
		buf_reset(&want);
		CHECK(buf_json_str(&got, (const char *)s) == 0);
		json_str_bytewise(&want, s);
		if (strcmp(got.data, want.data)) {
			CHECK_STR(got.data, want.data);
			break;
		}
	}
	buf_release(&got);
	buf_release(&want);
}

static void test_arena(void)
{
	struct arena a = {0};
	char *s = arena_printf(&a, "%s/%d", "x", 5);
	CHECK_STR(s, "x/5");
	char *big = arena_alloc(&a, 100000);
	CHECK(big[99999] == 0);
	CHECK_STR(arena_strndup(&a, "abcdef", 3), "abc");
	const char *why = NULL;
	int rc = arena_fail(&a, &why, DD_E_MANIFEST_INVALID, "'%s' has %zu layers", "x", (size_t)3);
	CHECK(rc == DD_E_MANIFEST_INVALID);
	CHECK(why && !strcmp(why, "'x' has 3 layers"));
	arena_free(&a);
	CHECK(a.head == NULL);
}

static void test_uuid(void)
{
	char a[37], b[37];
	util_uuid(a);
	util_uuid(b);
	CHECK(util_is_uuid(a, 36));
	CHECK(strcmp(a, b) != 0);
	CHECK(!util_is_uuid("../../etc/passwd", 16));
	CHECK(!util_is_uuid("0123456789012345678901234567890123456", 36));
}

static void test_duration(void)
{
	int64_t v = -1;
	CHECK(util_parse_duration("90d", 86400, 1, 1000L * 86400, &v) == 0 && v == 90 * 86400);
	CHECK(util_parse_duration("12h", 86400, 1, 1000L * 86400, &v) == 0 && v == 12 * 3600);
	CHECK(util_parse_duration("30m", 0, 0, 86400, &v) == 0 && v == 1800);
	CHECK(util_parse_duration("0s", 0, 0, 86400, &v) == 0 && v == 0);
	CHECK(util_parse_duration("7", 86400, 1, 1000L * 86400, &v) == 0 && v == 7 * 86400);
	v = -1;
	CHECK(util_parse_duration("7", 0, 0, 86400, &v) == -1 && v == -1); /* no default unit */
	CHECK(util_parse_duration("", 1, 0, 86400, &v) == -1);
	CHECK(util_parse_duration("h", 1, 0, 86400, &v) == -1);
	CHECK(util_parse_duration("-1s", 1, 0, 86400, &v) == -1);
	CHECK(util_parse_duration("2w", 1, 0, 86400, &v) == -1);
	/* sizes: bytes, or powers of 1024 */
	CHECK(util_parse_size("0", 1LL << 40, &v) == 0 && v == 0);
	CHECK(util_parse_size("4096", 1LL << 40, &v) == 0 && v == 4096);
	CHECK(util_parse_size("512M", 1LL << 40, &v) == 0 && v == 512LL << 20);
	CHECK(util_parse_size("512MiB", 1LL << 40, &v) == 0 && v == 512LL << 20);
	CHECK(util_parse_size("2G", 1LL << 40, &v) == 0 && v == 2LL << 30);
	CHECK(util_parse_size("1TiB", 1LL << 40, &v) == 0 && v == 1LL << 40);
	CHECK(util_parse_size("2T", 1LL << 40, &v) == -1); /* over max */
	CHECK(util_parse_size("9999999999999999999G", 1LL << 62, &v) == -1);
	CHECK(util_parse_size("1.5G", 1LL << 40, &v) == -1);
	CHECK(util_parse_size("-1", 1LL << 40, &v) == -1);
	CHECK(util_parse_size(" 1", 1LL << 40, &v) == -1);
	CHECK(util_parse_size("1 G", 1LL << 40, &v) == -1);
	CHECK(util_parse_size("1GB", 1LL << 40, &v) == -1); /* GB would read as 10^9 to some: refused */
	CHECK(util_parse_size("", 1LL << 40, &v) == -1);
	CHECK(util_parse_duration("1hh", 1, 0, 86400, &v) == -1);
	CHECK(util_parse_duration("0s", 1, 1, 86400, &v) == -1);   /* below min */
	CHECK(util_parse_duration("2d", 1, 0, 86400, &v) == -1);   /* above max */
	CHECK(util_parse_duration("9223372036854775807d", 1, 0, INT64_MAX, &v) == -1); /* overflow */
}

static void test_config(void)
{
	struct config c;
	const char *why;
	config_defaults(&c);
	CHECK_STR(c.listen, "127.0.0.1:5000");
	CHECK(config_set(&c, "listen", "0.0.0.0:5443", &why) == 0);
	CHECK(config_set(&c, "nonsense", "1", &why) == DD_E_CONFIG);
	CHECK_STR(why, "unknown setting");
	CHECK(config_set(&c, "access-log", "maybe", &why) == DD_E_CONFIG);
	CHECK(c.gc_interval == 0 && c.gc_grace == 3600 && !c.gc_delete_untagged);
	CHECK(config_set(&c, "gc-interval", "86400", &why) == 0 && c.gc_interval == 86400);
	CHECK(config_set(&c, "gc-interval", "-1", &why) == DD_E_CONFIG && strstr(why, "gc-interval"));
	CHECK(config_set(&c, "gc-grace", "0", &why) == 0 && c.gc_grace == 0);
	/* one grammar for durations in settings and flags: a bare number is seconds, or a unit */
	CHECK(config_set(&c, "gc-grace", "2h", &why) == 0 && c.gc_grace == 7200);
	CHECK(config_set(&c, "upload-max-age", "1d", &why) == 0 && c.upload_max_age == 86400);
	CHECK(c.min_free_space == DD_MIN_FREE_BYTES && c.reserve_space == DD_RESERVE_BYTES);
	CHECK(c.max_upload_sessions_per_account == DD_MAX_UPLOAD_SESSIONS_PER_ACCOUNT);
	CHECK(config_set(&c, "min-free-space", "2G", &why) == 0 && c.min_free_space == 2LL << 30);
	CHECK(config_set(&c, "min-free-space", "0", &why) == 0 && c.min_free_space == 0);
	CHECK(config_set(&c, "min-free-space", "10%", &why) == DD_E_CONFIG && strstr(why, "min-free-space"));
	CHECK(config_set(&c, "reserve-space", "64MiB", &why) == 0 && c.reserve_space == 64LL << 20);
	CHECK(config_set(&c, "reserve-space", "2T", &why) == DD_E_CONFIG);
	CHECK(config_set(&c, "max-upload-sessions-per-account", "0", &why) == 0 && c.max_upload_sessions_per_account == 0);
	CHECK(config_set(&c, "max-upload-sessions-per-account", "-1", &why) == DD_E_CONFIG);
	CHECK(config_set(&c, "token-ttl", "5m", &why) == 0 && c.token_ttl == 300);
	CHECK(config_set(&c, "idle-timeout", "2w", &why) == DD_E_CONFIG && strstr(why, "idle-timeout"));
	int64_t sec;
	CHECK(util_parse_duration("0", 1, 0, 10, &sec) == 0 && sec == 0);
	CHECK(util_parse_duration("90", 1, 0, 100, &sec) == 0 && sec == 90);
	CHECK(config_set(&c, "gc-delete-untagged", "true", &why) == 0 && c.gc_delete_untagged);
	CHECK(config_set(&c, "gc-delete-untagged", "yes", &why) == DD_E_CONFIG);
	/* the names in Azure resource ids: no '/', no empty resource group */
	CHECK(!*c.azure_subscription && !strcmp(c.azure_resource_group, "drydock") && !*c.azure_registry);
	CHECK(config_set(&c, "azure-subscription", "0b06d9ea-afe6-4779-bd59-30e5c2d9d13f", &why) == 0);
	CHECK(config_set(&c, "azure-subscription", "", &why) == 0 && !*c.azure_subscription);
	CHECK(config_set(&c, "azure-resource-group", "rg-prod_(1).x", &why) == 0);
	CHECK(config_set(&c, "azure-resource-group", "", &why) == DD_E_CONFIG && strstr(why, "azure-resource-group"));
	CHECK(config_set(&c, "azure-registry", "acme/x", &why) == DD_E_CONFIG && strstr(why, "azure-registry"));
	CHECK(config_set(&c, "azure-registry", "acme", &why) == 0 && !strcmp(c.azure_registry, "acme"));
	char host[64];
	int port;
	CHECK(config_split_listen("127.0.0.1:5000", host, sizeof(host), &port) == 0 && port == 5000);
	CHECK_STR(host, "127.0.0.1");
	CHECK(config_split_listen("[::1]:80", host, sizeof(host), &port) == 0 && port == 80);
	CHECK_STR(host, "::1");
	CHECK(config_split_listen(":0", host, sizeof(host), &port) == 0 && port == 0 && !*host);
	CHECK(config_split_listen("localhost", host, sizeof(host), &port) == DD_E_CONFIG);
	CHECK(config_split_listen("h:99999", host, sizeof(host), &port) == DD_E_CONFIG);
	char *dir = unit_tmpdir();
	char path[512];
	snprintf(path, sizeof(path), "%s/c.conf", dir);
	FILE *f = fopen(path, "w");
	fputs("# comment\nlisten = 127.0.0.1:6000\n\ndata=/x\nbogus = 1\n", f);
	fclose(f);
	config_defaults(&c);
	CHECK(config_load(&c, path, &why) == DD_E_CONFIG);
	CHECK(strstr(why, ":5:") && strstr(why, "bogus"));
	CHECK_STR(c.listen, "127.0.0.1:6000");
	CHECK_STR(c.data_dir, "/x");
	unlink(path);
	rmdir(dir);
	free(dir);
}

/* the client an X-Forwarded-For names, walked from a trusted peer */
static const char *forwarded(const char *trusted, const char *peer, const char *const *fields, int n)
{
	static char out[64];
	struct netaddr_list l;
	char why[128];
	unsigned char p[16], c[16];
	if (netaddr_list_parse(trusted, &l, why, sizeof(why)) || netaddr_parse(peer, strlen(peer), p))
		return "bad";
	netaddr_forwarded_client(&l, p, fields, n, c);
	netaddr_text(c, out, sizeof(out));
	return out;
}

static void test_netaddr(void)
{
	unsigned char a[16], b[16];
	char t[64], why[128];
	/* addresses, with a port or brackets */
	CHECK(netaddr_parse("192.0.2.7", 9, a) == 0);
	netaddr_text(a, t, sizeof(t));
	CHECK_STR(t, "192.0.2.7");
	CHECK(netaddr_parse("192.0.2.7:8080", 14, b) == 0 && !memcmp(a, b, 16));
	CHECK(netaddr_parse("[2001:db8::1]:443", 17, a) == 0);
	netaddr_text(a, t, sizeof(t));
	CHECK_STR(t, "2001:db8::1");
	CHECK(netaddr_parse("2001:db8::1", 11, b) == 0 && !memcmp(a, b, 16));
	CHECK(netaddr_parse("[2001:db8::1]", 13, b) == 0 && !memcmp(a, b, 16));
	const char *bad[] = {"", "unknown", "192.0.2", "192.0.2.256", "[192.0.2.1]", "192.0.2.1:", "192.0.2.1:123456",
			     "[::1", "[::1]x", "::1:80:", "1.2.3.4 ", "_hidden", "::1%eth0"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		CHECK(netaddr_parse(bad[i], strlen(bad[i]), a) == -1);
	/* lists: addresses and networks, each entry that is wrong named */
	struct netaddr_list l;
	CHECK(netaddr_list_parse("", &l, why, sizeof(why)) == 0 && l.n == 0);
	CHECK(netaddr_list_parse(" 10.0.0.0/8, 127.0.0.1 ::1,fd00::/8 ", &l, why, sizeof(why)) == 0 && l.n == 4);
	const char *in[] = {"10.200.3.4", "127.0.0.1", "::1", "fd12::9"}, *out[] = {"11.0.0.1", "127.0.0.2", "::2", "fe00::1"};
	for (int i = 0; i < 4; i++) {
		CHECK(netaddr_parse(in[i], strlen(in[i]), a) == 0 && netaddr_list_has(&l, a));
		CHECK(netaddr_parse(out[i], strlen(out[i]), a) == 0 && !netaddr_list_has(&l, a));
	}
	CHECK(netaddr_list_parse("10.1.2.3/8", &l, why, sizeof(why)) == 0); /* host bits dropped */
	CHECK(netaddr_parse("10.9.9.9", 8, a) == 0 && netaddr_list_has(&l, a));
	CHECK(netaddr_list_parse("0.0.0.0/0", &l, why, sizeof(why)) == 0);
	CHECK(netaddr_parse("203.0.113.5", 11, a) == 0 && netaddr_list_has(&l, a));
	CHECK(netaddr_parse("2001:db8::5", 11, a) == 0 && !netaddr_list_has(&l, a)); /* IPv4's /0 is not IPv6's */
	/* an IPv6 network holds no IPv4 client, even one that covers ::ffff:0:0/96 */
	CHECK(netaddr_list_parse("::/0, ::ffff:10.0.0.0/8", &l, why, sizeof(why)) == 0);
	CHECK(netaddr_parse("9.9.9.9", 7, a) == 0 && !netaddr_list_has(&l, a));
	CHECK(netaddr_parse("2001:db8::5", 11, a) == 0 && netaddr_list_has(&l, a));
	CHECK(netaddr_list_parse("::ffff:10.0.0.0/104", &l, why, sizeof(why)) == 0);
	CHECK(netaddr_parse("10.1.2.3", 8, a) == 0 && netaddr_list_has(&l, a));
	CHECK(netaddr_parse("11.1.2.3", 8, a) == 0 && !netaddr_list_has(&l, a));
	CHECK(netaddr_list_parse("10.0.0.0/33", &l, why, sizeof(why)) == -1 && strstr(why, "'10.0.0.0/33'") &&
	      strstr(why, "0 to 32"));
	CHECK(netaddr_list_parse("::/129", &l, why, sizeof(why)) == -1 && strstr(why, "0 to 128"));
	CHECK(netaddr_list_parse("127.0.0.1, nginx", &l, why, sizeof(why)) == -1 && strstr(why, "'nginx'"));
	CHECK(netaddr_list_parse("10.0.0.0/", &l, why, sizeof(why)) == -1);
	CHECK(netaddr_list_parse("10.0.0.0/8x", &l, why, sizeof(why)) == -1);
	CHECK(netaddr_list_parse("127.0.0.1:80", &l, why, sizeof(why)) == -1);
	char many[64 * 48] = "";
	for (int i = 0; i < 65; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "10.0.0.%d,", i);
	CHECK(netaddr_list_parse(many, &l, why, sizeof(why)) == -1 && strstr(why, "64 entries"));
	/* the setting holds a list of 64 entries however long its text (64 IPv6 /128: 2,600 bytes) */
	struct config c;
	const char *cwhy;
	config_defaults(&c);
	many[0] = 0;
	for (int i = 0; i < 64; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "2001:0db8:0000:0000:0000:0000:%04x:%04x/128, ", i, i);
	CHECK(strlen(many) > 2000 && config_set(&c, "trusted-proxies", many, &cwhy) == 0 && c.trusted_proxies.n == 64);
	CHECK(config_set(&c, "trusted-proxies", "10.0.0.1, 10.0.0.0/99", &cwhy) == DD_E_CONFIG &&
	      strstr(cwhy, "'10.0.0.0/99'"));
	/* the walk: from a trusted peer, leftwards while the hop is trusted */
	const char *one[] = {"198.51.100.7"};
	CHECK_STR(forwarded("127.0.0.1", "127.0.0.1", one, 1), "198.51.100.7");
	CHECK_STR(forwarded("", "127.0.0.1", one, 1), "127.0.0.1");            /* none trusted */
	CHECK_STR(forwarded("10.0.0.1", "127.0.0.1", one, 1), "127.0.0.1");    /* not this peer */
	CHECK_STR(forwarded("127.0.0.1", "127.0.0.1", NULL, 0), "127.0.0.1"); /* no header */
	const char *spoofed[] = {"203.0.113.9, 198.51.100.7"}; /* the client wrote the first entry */
	CHECK_STR(forwarded("127.0.0.1", "127.0.0.1", spoofed, 1), "198.51.100.7");
	const char *chain[] = {"203.0.113.9, 198.51.100.7,10.0.0.5"}; /* through two proxies */
	CHECK_STR(forwarded("127.0.0.1 10.0.0.0/8", "127.0.0.1", chain, 1), "198.51.100.7");
	const char *fields[] = {"203.0.113.9", "198.51.100.7", "10.0.0.5"}; /* the same, as three fields */
	CHECK_STR(forwarded("127.0.0.1 10.0.0.0/8", "127.0.0.1", fields, 3), "198.51.100.7");
	const char *inside[] = {"10.0.0.9, 10.0.0.5"}; /* every hop trusted: the leftmost */
	CHECK_STR(forwarded("127.0.0.1 10.0.0.0/8", "127.0.0.1", inside, 1), "10.0.0.9");
	const char *junk[] = {"198.51.100.7, unknown"}; /* not an address: the proxy that passed it */
	CHECK_STR(forwarded("127.0.0.1", "127.0.0.1", junk, 1), "127.0.0.1");
	const char *ported[] = {" [2001:db8::7]:5000 ,, 192.0.2.1:99 ,"};
	CHECK_STR(forwarded("127.0.0.1 192.0.2.1", "127.0.0.1", ported, 1), "2001:db8::7");
	const char *empty[] = {""};
	CHECK_STR(forwarded("127.0.0.1", "127.0.0.1", empty, 1), "127.0.0.1");
}

void suite_common(void)
{
	RUN(test_buf_json_str);
	RUN(test_buf_json_str_words);
	RUN(test_err_table);
	RUN(test_digest_parse);
	RUN(test_hasher);
	RUN(test_buf_cap);
	RUN(test_arena);
	RUN(test_uuid);
	RUN(test_duration);
	RUN(test_config);
	RUN(test_netaddr);
}
