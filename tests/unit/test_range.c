/* test_range.c: Range and Content-Range parsing. */
#include "unit.h"
#include "http/range.h"

static int rng(const char *h, int64_t size, int64_t *s, int64_t *e) { return range_parse(h, strlen(h), size, s, e); }

static void test_range(void)
{
	int64_t s, e;
	CHECK(rng("bytes=0-9", 100, &s, &e) == 0 && s == 0 && e == 9);
	CHECK(rng("bytes=10-", 100, &s, &e) == 0 && s == 10 && e == 99);
	CHECK(rng("bytes=-10", 100, &s, &e) == 0 && s == 90 && e == 99);
	CHECK(rng("bytes=-1000", 100, &s, &e) == 0 && s == 0 && e == 99);
	CHECK(rng("bytes=50-1000", 100, &s, &e) == 0 && s == 50 && e == 99);
	CHECK(rng("bytes=100-", 100, &s, &e) == DD_E_RANGE_INVALID);
	CHECK(rng("bytes=-0", 100, &s, &e) == DD_E_RANGE_INVALID);
	CHECK(rng("bytes=0-", 0, &s, &e) == DD_E_RANGE_INVALID);
	CHECK(rng("bytes=5-1", 100, &s, &e) == DD_E_USAGE);
	CHECK(rng("bytes=0-1,5-6", 100, &s, &e) == DD_E_USAGE);
	CHECK(rng("items=0-1", 100, &s, &e) == DD_E_USAGE);
	CHECK(rng("bytes=a-b", 100, &s, &e) == DD_E_USAGE);
	CHECK(rng("bytes=99999999999999999999-", 100, &s, &e) == DD_E_USAGE);
}

static int cr(const char *h, int64_t *s, int64_t *e) { return content_range_parse(h, strlen(h), s, e); }

static void test_content_range(void)
{
	int64_t s, e;
	CHECK(cr("0-99", &s, &e) == 0 && s == 0 && e == 99);
	CHECK(cr("bytes 100-199/*", &s, &e) == 0 && s == 100 && e == 199);
	CHECK(cr("bytes=5-5", &s, &e) == 0 && s == 5 && e == 5);
	CHECK(cr("9-0", &s, &e) == DD_E_RANGE_INVALID);
	CHECK(cr("x-1", &s, &e) == DD_E_RANGE_INVALID);
	CHECK(cr("", &s, &e) == DD_E_RANGE_INVALID);
	CHECK(cr("5", &s, &e) == DD_E_RANGE_INVALID);
	int64_t v;
	CHECK(parse_i64("0", 1, &v) == 0 && v == 0);
	CHECK(parse_i64("-1", 2, &v) == DD_E_USAGE);
	CHECK(parse_i64("", 0, &v) == DD_E_USAGE);
	CHECK(parse_i64("123456789012345678", 18, &v) == 0);
	CHECK(parse_i64("1234567890123456789", 19, &v) == DD_E_USAGE);
}

void suite_range(void)
{
	RUN(test_range);
	RUN(test_content_range);
}
