/* test_names.c: repository name and tag grammars, and the /v2/ router. */
#include "unit.h"
#include "registry/names.h"

static int name_ok(const char *s)
{
	const char *why;
	return name_validate(s, strlen(s), &why) == 0;
}

static int tag_ok(const char *s)
{
	const char *why;
	return tag_validate(s, strlen(s), &why) == 0;
}

static void test_name_grammar(void)
{
	const char *good[] = {"a", "library/debian", "a.b_c__d-e---f/g", "0/1/2", "foo/bar-baz", "x__y"};
	const char *bad[] = {"", "A", "a/", "/a", "a//b", "a..b", "a___b", "-a", "a-", "a_", "a.", "a/.b", "a b", "a:b",
			     "a/B"};
	for (size_t i = 0; i < DD_ARRAY_LEN(good); i++)
		CHECK(name_ok(good[i]));
	for (size_t i = 0; i < DD_ARRAY_LEN(bad); i++)
		CHECK(!name_ok(bad[i]));
	char longname[300];
	memset(longname, 'a', sizeof(longname));
	const char *why;
	CHECK(name_validate(longname, 255, &why) == 0);
	CHECK(name_validate(longname, 256, &why) == DD_E_NAME_INVALID);
	CHECK(strstr(why, "255"));
}

static void test_tag_grammar(void)
{
	CHECK(tag_ok("latest"));
	CHECK(tag_ok("_x"));
	CHECK(tag_ok("v1.2.3-rc_1"));
	CHECK(tag_ok("A"));
	CHECK(!tag_ok(""));
	CHECK(!tag_ok(".x"));
	CHECK(!tag_ok("-x"));
	CHECK(!tag_ok("a/b"));
	CHECK(!tag_ok("a:b"));
	char t[200];
	memset(t, 'a', sizeof(t));
	const char *why;
	CHECK(tag_validate(t, 128, &why) == 0);
	CHECK(tag_validate(t, 129, &why) == DD_E_TAG_INVALID);
}

static struct route rt(const char *p)
{
	struct route r;
	if (route_parse(p, strlen(p), &r))
		r.kind = ROUTE_NONE;
	return r;
}

static int route_is(const char *p, enum route_kind k, const char *name, const char *arg)
{
	struct route r = rt(p);
	if (r.kind != k)
		return 0;
	if (name && (r.name_len != strlen(name) || memcmp(r.name, name, r.name_len)))
		return 0;
	if (arg && (r.arg_len != strlen(arg) || memcmp(r.arg, arg, r.arg_len)))
		return 0;
	return 1;
}

static void test_routes(void)
{
	CHECK(route_is("/v2/", ROUTE_BASE, NULL, NULL));
	CHECK(route_is("/v2", ROUTE_BASE, NULL, NULL));
	CHECK(route_is("/v2/_catalog", ROUTE_CATALOG, NULL, NULL));
	CHECK(route_is("/v2/a/b/tags/list", ROUTE_TAGS, "a/b", NULL));
	CHECK(route_is("/v2/a/manifests/latest", ROUTE_MANIFEST, "a", "latest"));
	CHECK(route_is("/v2/a/b/c/blobs/sha256:00", ROUTE_BLOB, "a/b/c", "sha256:00"));
	CHECK(route_is("/v2/a/blobs/uploads/", ROUTE_UPLOAD, "a", ""));
	CHECK(route_is("/v2/a/blobs/uploads/abc", ROUTE_UPLOAD, "a", "abc"));
	CHECK(route_is("/v2/x/blobs/blobs/uploads/", ROUTE_UPLOAD, "x/blobs", ""));
	CHECK(route_is("/v2/x/manifests/manifests/t", ROUTE_MANIFEST, "x/manifests", "t"));
	CHECK(route_is("/v2/a/referrers/sha256:00", ROUTE_REFERRERS, "a", "sha256:00"));
	CHECK(rt("/v3/a/manifests/x").kind == ROUTE_NONE);
	CHECK(rt("/v2/manifests/x").kind == ROUTE_NONE);
	CHECK(rt("/v2/a/tags/other").kind == ROUTE_NONE);
	CHECK(rt("/v2/a/unknown/x").kind == ROUTE_NONE);
	CHECK(rt("/").kind == ROUTE_NONE);
	CHECK(rt("/v2x").kind == ROUTE_NONE);
}

void suite_names(void)
{
	RUN(test_name_grammar);
	RUN(test_tag_grammar);
	RUN(test_routes);
}
