/* test_manifest.c: manifest validation. */
#include "unit.h"
#include "common/arena.h"
#include "image/manifest.h"

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"

static int parse(struct arena *a, const char *json, const char *ct, struct manifest_info *mi, const char **why)
{
	return manifest_parse(a, json, strlen(json), ct, mi, why);
}

static void test_image_manifest(void)
{
	struct arena a = {0};
	struct manifest_info mi;
	const char *why;
	const char *m = "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_MANIFEST "\","
			"\"config\":{\"mediaType\":\"" MT_OCI_CONFIG "\",\"digest\":\"" D1 "\",\"size\":10},"
			"\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"" D2 "\",\"size\":5}],"
			"\"annotations\":{\"b\":\"2\",\"a\":\"1\"}}";
	CHECK(parse(&a, m, MT_OCI_MANIFEST, &mi, &why) == 0);
	CHECK_STR(mi.media_type, MT_OCI_MANIFEST);
	CHECK(!mi.is_index);
	CHECK(mi.nrefs == 2);
	CHECK_STR(mi.refs[0].digest, D1);
	CHECK_STR(mi.refs[1].digest, D2);
	CHECK(mi.refs[0].kind == REF_BLOB && mi.refs[1].kind == REF_BLOB);
	CHECK(mi.refs[0].size == 10 && mi.refs[1].size == 5); /* checked against the blobs at the PUT */
	CHECK_STR(mi.annotations, "{\"a\":\"1\",\"b\":\"2\"}");
	/* a foreign layer is named (gc keeps it when pushed) but not required */
	const char *f = "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_MANIFEST "\","
			"\"config\":{\"mediaType\":\"" MT_OCI_CONFIG "\",\"digest\":\"" D1 "\",\"size\":10},"
			"\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip\","
			"\"digest\":\"" D2 "\",\"size\":5}]}";
	CHECK(parse(&a, f, MT_OCI_MANIFEST, &mi, &why) == 0);
	CHECK(mi.nrefs == 2 && mi.refs[1].kind == REF_FOREIGN);
	CHECK_STR(mi.refs[1].digest, D2);
	CHECK_STR(mi.artifact_type, MT_OCI_CONFIG); /* none given: the config's media type (referrers API) */
	/* no mediaType field (umoci): Content-Type names it */
	const char *u = "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" MT_OCI_CONFIG "\",\"digest\":\"" D1
			"\",\"size\":1},\"layers\":[]}";
	CHECK(parse(&a, u, MT_OCI_MANIFEST, &mi, &why) == 0);
	CHECK(parse(&a, u, NULL, &mi, &why) == 0);
	CHECK_STR(mi.media_type, MT_OCI_MANIFEST);
	/* mismatch between Content-Type and mediaType */
	CHECK(parse(&a, m, MT_DOCKER_MANIFEST, &mi, &why) == DD_E_MANIFEST_INVALID);
	CHECK(strstr(why, "Content-Type"));
	arena_free(&a);
}

static void test_artifact_and_subject(void)
{
	struct arena a = {0};
	struct manifest_info mi;
	const char *why;
	const char *m = "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_MANIFEST "\","
			"\"config\":{\"mediaType\":\"application/vnd.example.sbom\",\"digest\":\"" D1 "\",\"size\":2},"
			"\"layers\":[],\"subject\":{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" D2 "\",\"size\":3}}";
	CHECK(parse(&a, m, NULL, &mi, &why) == 0);
	CHECK_STR(mi.artifact_type, "application/vnd.example.sbom");
	CHECK_STR(mi.subject, D2);
	arena_free(&a);
}

static void test_index(void)
{
	struct arena a = {0};
	struct manifest_info mi;
	const char *why;
	const char *m = "{\"schemaVersion\":2,\"mediaType\":\"" MT_DOCKER_LIST "\",\"manifests\":["
			"{\"mediaType\":\"" MT_DOCKER_MANIFEST "\",\"digest\":\"" D1 "\",\"size\":7,\"platform\":{}}]}";
	CHECK(parse(&a, m, MT_DOCKER_LIST, &mi, &why) == 0);
	CHECK(mi.is_index && mi.nrefs == 1 && mi.refs[0].kind == REF_MANIFEST);
	CHECK(parse(&a, "{\"schemaVersion\":2,\"manifests\":[]}", NULL, &mi, &why) == 0);
	CHECK_STR(mi.media_type, MT_OCI_INDEX);
	arena_free(&a);
}

static void test_invalid(void)
{
	struct arena a = {0};
	struct manifest_info mi;
	const char *why;
	const char *bad[] = {
		"", "[]", "{", "{\"schemaVersion\":1}", "{\"schemaVersion\":\"2\"}",
		"{\"schemaVersion\":2,\"mediaType\":\"text/plain\"}",
		"{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_MANIFEST "\",\"layers\":[]}",
		"{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_MANIFEST "\",\"config\":{\"mediaType\":\"x\",\"digest\":\"sha256:zz\",\"size\":1},\"layers\":[]}",
		"{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_MANIFEST "\",\"config\":{\"mediaType\":\"x\",\"digest\":\"" D1 "\",\"size\":-1},\"layers\":[]}",
		"{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX "\",\"manifests\":[1]}",
		"{\"schemaVersion\":2,\"schemaVersion\":2}",
		"{\"schemaVersion\":2,\"annotations\":{\"a\":1},\"manifests\":[]}",
	};
	for (size_t i = 0; i < DD_ARRAY_LEN(bad); i++) {
		int rc = parse(&a, bad[i], NULL, &mi, &why);
		CHECK(rc == DD_E_MANIFEST_INVALID);
		CHECK(why && *why);
	}
	/* nesting bomb */
	char deep[400];
	memset(deep, '[', 200);
	memset(deep + 200, ']', 200);
	CHECK(manifest_parse(&a, deep, sizeof(deep), NULL, &mi, &why) == DD_E_MANIFEST_INVALID);
	CHECK(strstr(why, "deeper"));
	arena_free(&a);
}

void suite_manifest(void)
{
	RUN(test_image_manifest);
	RUN(test_artifact_and_subject);
	RUN(test_index);
	RUN(test_invalid);
}
