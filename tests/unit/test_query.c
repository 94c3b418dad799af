/* test_query.c: the Kusto engine against a golden table: queries over a small fixed data set
 * (Resource Graph's securityresources and resources, and a table of every type with nulls),
 * each with the rows Kusto's documented semantics give; then errors with their position. */
#include "unit.h"
#include "query/query.h"

#define SUB "/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.ContainerRegistry/registries/"
#define ASSESS "/providers/Microsoft.Security/assessments/dbd0cb49-b563-45e7-9724-889e799fa648"

static const struct query_column sec_cols[] = {
	{"id", QT_STRING}, {"name", QT_STRING}, {"type", QT_STRING}, {"tenantId", QT_STRING},
	{"kind", QT_STRING}, {"location", QT_STRING}, {"resourceGroup", QT_STRING},
	{"subscriptionId", QT_STRING}, {"properties", QT_DYNAMIC}, {"tags", QT_DYNAMIC},
};

static const char *const sec_rows[][3] = {
	/* id, type, properties */
	{SUB "reg1" ASSESS "/subassessments/s1", "microsoft.security/assessments/subassessments",
	 "{\"id\":\"CVE-2021-0001\",\"displayName\":\"openssl: overflow\",\"status\":{\"code\":\"Unhealthy\",\"severity\":\"High\"},"
	 "\"additionalData\":{\"repositoryName\":\"app\",\"imageDigest\":\"sha256:aaa\",\"patchable\":true,"
	 "\"cve\":[{\"title\":\"CVE-2021-0001\"},{\"title\":\"CVE-2021-0002\"}],\"cvss\":{\"3.0\":{\"base\":7.5}}}}"},
	{SUB "reg1" ASSESS "/subassessments/s2", "microsoft.security/assessments/subassessments",
	 "{\"id\":\"CVE-2022-0003\",\"displayName\":\"zlib: leak\",\"status\":{\"code\":\"Unhealthy\",\"severity\":\"Medium\"},"
	 "\"additionalData\":{\"repositoryName\":\"app\",\"imageDigest\":\"sha256:aaa\",\"patchable\":false,"
	 "\"cve\":[{\"title\":\"CVE-2022-0003\"}],\"cvss\":{\"3.0\":{\"base\":5}}}}"},
	{SUB "reg2" ASSESS "/subassessments/s3", "microsoft.security/assessments/subassessments",
	 "{\"id\":\"CVE-2023-0004\",\"displayName\":\"curl: bypass\",\"status\":{\"code\":\"Unhealthy\",\"severity\":\"High\"},"
	 "\"additionalData\":{\"repositoryName\":\"web\",\"imageDigest\":\"sha256:bbb\",\"patchable\":true,"
	 "\"cve\":[],\"cvss\":{\"3.0\":{\"base\":8.1}}}}"},
	{SUB "reg2" ASSESS "/subassessments/s4", "microsoft.security/assessments/subassessments",
	 "{\"id\":\"CVE-2020-0005\",\"displayName\":\"bash: old\",\"status\":{\"code\":\"Unhealthy\",\"severity\":\"Low\"},"
	 "\"additionalData\":{\"repositoryName\":\"web\",\"imageDigest\":\"sha256:bbb\"}}"},
	{SUB "reg1" ASSESS, "microsoft.security/assessments",
	 "{\"displayName\":\"Container registry images should have vulnerability findings resolved\","
	 "\"status\":{\"code\":\"Unhealthy\"}}"},
	{"/subscriptions/sub1/providers/Microsoft.Security/pricings/Containers", "microsoft.security/pricings", "null"},
};

static const struct query_column res_cols[] = {
	{"id", QT_STRING}, {"name", QT_STRING}, {"type", QT_STRING}, {"location", QT_STRING}, {"tags", QT_DYNAMIC},
};

static const struct query_column num_cols[] = {
	{"x", QT_LONG}, {"r", QT_REAL}, {"s", QT_STRING}, {"d", QT_DATETIME},
	{"t", QT_TIMESPAN}, {"b", QT_BOOL}, {"j", QT_DYNAMIC},
};

#define NSEC DD_ARRAY_LEN(sec_rows)
static struct qval sec_vals[NSEC * DD_ARRAY_LEN(sec_cols)];
static struct qval res_vals[3 * DD_ARRAY_LEN(res_cols)];
static struct qval num_vals[4 * DD_ARRAY_LEN(num_cols)];
static json_t *keep[64];
static size_t nkeep;
static struct query_table tables[3];
static struct query_tables all = {tables, 3};

static json_t *J(const char *s)
{
	json_t *j = json_loads(s, JSON_DECODE_ANY, NULL);
	if (!j)
		abort();
	keep[nkeep++] = j;
	return j;
}

static struct qval S(const char *s) { return qv_str(s, strlen(s)); }

static int64_t dt(const char *s)
{
	struct tm tm = {0};
	if (!strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
		abort();
	return (int64_t)timegm(&tm) * QT_TICKS_PER_SECOND;
}

static void setup(void)
{
	if (tables[0].name)
		return;
	size_t nc = DD_ARRAY_LEN(sec_cols);
	for (size_t i = 0; i < NSEC; i++) {
		struct qval *r = &sec_vals[i * nc];
		const char *id = sec_rows[i][0];
		const char *slash = strrchr(id, '/');
		r[0] = S(id);
		r[1] = S(slash + 1);
		r[2] = S(sec_rows[i][1]);
		r[3] = S("tenant1");
		r[4] = S("");
		r[5] = S(i < 2 ? "westeurope" : "eastus");
		r[6] = S(i == 5 ? "" : "rg1");
		r[7] = S("sub1");
		r[8] = qv_dyn(J(sec_rows[i][2]));
		r[9] = qv_dyn(NULL);
	}
	tables[0] = (struct query_table){"securityresources", sec_cols, nc, sec_vals, NSEC, NULL, NULL, 0};

	nc = DD_ARRAY_LEN(res_cols);
	const char *ids[] = {SUB "reg1", SUB "reg2", "/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/vm1"};
	const char *types[] = {"microsoft.containerregistry/registries", "microsoft.containerregistry/registries",
			       "microsoft.compute/virtualmachines"};
	const char *locs[] = {"westeurope", "eastus", "westeurope"};
	const char *tagv[] = {"{\"env\":\"prod\",\"team\":\"sec\"}", "{}", "null"};
	for (size_t i = 0; i < 3; i++) {
		struct qval *r = &res_vals[i * nc];
		r[0] = S(ids[i]);
		r[1] = S(strrchr(ids[i], '/') + 1);
		r[2] = S(types[i]);
		r[3] = S(locs[i]);
		r[4] = qv_dyn(J(tagv[i]));
	}
	tables[1] = (struct query_table){"resources", res_cols, nc, res_vals, 3, NULL, NULL, 0};

	nc = DD_ARRAY_LEN(num_cols);
	struct qval *n = num_vals;
	n[0] = qv_long(1), n[1] = qv_real(1.5), n[2] = S("a"), n[3] = qv_ticks(QT_DATETIME, dt("2024-01-01T00:00:00"));
	n[4] = qv_ticks(QT_TIMESPAN, 3600 * QT_TICKS_PER_SECOND), n[5] = qv_bool(1), n[6] = qv_dyn(J("[1,2,3]"));
	n += nc;
	n[0] = qv_null(), n[1] = qv_null(), n[2] = S(""), n[3] = qv_null(), n[4] = qv_null(), n[5] = qv_null(), n[6] = qv_null();
	n += nc;
	n[0] = qv_long(3), n[1] = qv_real(-2.25), n[2] = S("B"), n[3] = qv_ticks(QT_DATETIME, dt("2024-01-02T12:00:00"));
	n[4] = qv_ticks(QT_TIMESPAN, QT_TICKS_PER_DAY), n[5] = qv_bool(0), n[6] = qv_dyn(J("{\"k\":\"v\"}"));
	n += nc;
	n[0] = qv_long(2), n[1] = qv_real(0), n[2] = S("a"), n[3] = qv_ticks(QT_DATETIME, dt("2023-12-31T23:59:59"));
	n[4] = qv_ticks(QT_TIMESPAN, -1800 * QT_TICKS_PER_SECOND), n[5] = qv_bool(1), n[6] = qv_dyn(J("[]"));
	tables[2] = (struct query_table){"nums", num_cols, nc, num_vals, 4, NULL, NULL, 0};
}

static struct query_limits fixed_now(void)
{
	struct query_limits l = {0};
	l.now = dt("2024-01-10T00:00:00");
	return l;
}

/* Runs q; returns its JSON, or "error: message" (owned). */
static char *run(const char *text)
{
	setup();
	struct query_result r;
	struct query_error e;
	struct query_limits l = fixed_now();
	int rc = query_run(text, strlen(text), &all, &l, &r, &e);
	struct buf b;
	buf_init(&b, 1 << 24);
	if (rc) {
		buf_printf(&b, "error: %s", e.message);
	} else {
		query_result_json(&r, &b);
		for (size_t i = 0; i < r.nrows; i++) /* rows are as wide as the columns */
			(void)r.rows[i][r.ncolumns ? r.ncolumns - 1 : 0];
		query_result_free(&r);
	}
	char *s = strdup(b.data ? b.data : "");
	buf_release(&b);
	return s;
}

/* The "rows" part of a result. */
static void check_rows(const char *text, const char *rows, int line)
{
	char *got = run(text);
	const char *p = strstr(got, "\"rows\":");
	int ok = !strncmp(rows, "error: ", 7) && !strcmp(got, rows);
	if (p && !ok) {
		p += 7;
		size_t n = strlen(p);
		ok = n && strlen(rows) == n - 1 && !memcmp(p, rows, n - 1);
	}
	if (!ok) {
		fprintf(stderr, "  test_query.c:%d: %s\n    want %s\n    got  %s\n", line, text, rows, p ? p : got);
		unit_failures_in_test++;
	}
	free(got);
}

static void check_columns(const char *text, const char *cols, int line)
{
	char *got = run(text);
	const char *p = strstr(got, "\"columns\":");
	const char *end = p ? strstr(p, ",\"rows\"") : NULL;
	int ok = p && end && (size_t)(end - p - 10) == strlen(cols) && !memcmp(p + 10, cols, strlen(cols));
	if (!ok) {
		fprintf(stderr, "  test_query.c:%d: %s\n    want %s\n    got  %s\n", line, text, cols, got);
		unit_failures_in_test++;
	}
	free(got);
}

#define ROWS(q, r) check_rows(q, r, __LINE__)
#define COLS(q, c) check_columns(q, c, __LINE__)

static void test_resource_graph(void)
{
	ROWS("securityresources | where type == \"microsoft.security/assessments/subassessments\" "
	     "| extend sev = tostring(properties.status.severity) | summarize count() by sev",
	     "[[\"High\",2],[\"Medium\",1],[\"Low\",1]]");
	COLS("securityresources | where type == \"microsoft.security/assessments/subassessments\" "
	     "| extend sev = tostring(properties.status.severity) | summarize count() by sev",
	     "[{\"name\":\"sev\",\"type\":\"string\"},{\"name\":\"count_\",\"type\":\"long\"}]");
	ROWS("securityresources | where type == 'microsoft.security/assessments' "
	     "| parse id with registryResourceId '/providers/Microsoft.Security/assessments/' * "
	     "| project registryResourceId",
	     "[[\"" SUB "reg1\"]]");
	ROWS("securityresources | where type =~ 'Microsoft.Security/Assessments/SubAssessments' "
	     "| extend registry = tostring(split(id, '/providers/Microsoft.ContainerRegistry/registries/')[1]) "
	     "| extend registry = tostring(split(registry, '/')[0]) | summarize n = count() by registry | order by registry asc",
	     "[[\"reg1\",2],[\"reg2\",2]]");
	/* subassessments joined to their registry in resources */
	ROWS("securityresources | where type == 'microsoft.security/assessments/subassessments' "
	     "| parse id with registryId '/providers/Microsoft.Security/assessments/' * "
	     "| join kind=inner (resources | where type == 'microsoft.containerregistry/registries' "
	     "| project registryId = id, registryName = name, regLocation = location) on registryId "
	     "| project name, registryName, regLocation | order by name asc",
	     "[[\"s1\",\"reg1\",\"westeurope\"],[\"s2\",\"reg1\",\"westeurope\"],[\"s3\",\"reg2\",\"eastus\"],[\"s4\",\"reg2\",\"eastus\"]]");
	/* mv-expand over the CVE array */
	ROWS("securityresources | where type endswith 'subassessments' | mv-expand cve = properties.additionalData.cve "
	     "| project name, title = tostring(cve.title)",
	     "[[\"s1\",\"CVE-2021-0001\"],[\"s1\",\"CVE-2021-0002\"],[\"s2\",\"CVE-2022-0003\"],[\"s4\",\"\"]]");
	ROWS("securityresources | where isnotempty(properties.additionalData.cvss) "
	     "| project name, score = todouble(properties.additionalData.cvss.[\"3.0\"].base) | order by score desc",
	     "[[\"s3\",8.1],[\"s1\",7.5],[\"s2\",5]]");
	ROWS("securityresources | extend a = properties[\"additionalData\"] | where a[\"patchable\"] == true | project name",
	     "[[\"s1\"],[\"s3\"]]");
	ROWS("securityresources | summarize repos = make_set(tostring(properties.additionalData.repositoryName)) "
	     "by tostring(properties.status.code)",
	     "[[\"Unhealthy\",[\"app\",\"web\",\"\"]],[\"\",[\"\"]]]");
	COLS("securityresources | summarize count() by tostring(properties.status.code)",
	     "[{\"name\":\"properties_status_code\",\"type\":\"string\"},{\"name\":\"count_\",\"type\":\"long\"}]");
	ROWS("securityresources | where properties.status.severity in ('High', 'Medium') "
	     "| summarize high = countif(properties.status.severity == 'High'), total = count()",
	     "[[2,3]]");
	ROWS("securityresources | where type has 'subassessments' "
	     "| summarize arg_max(todouble(properties.additionalData.cvss['3.0'].base), name) by location "
	     "| order by location asc",
	     "[[\"eastus\",8.1,\"s3\"],[\"westeurope\",7.5,\"s1\"]]");
	ROWS("resources | where type == 'microsoft.containerregistry/registries' | project name, env = tostring(tags.env)",
	     "[[\"reg1\",\"prod\"],[\"reg2\",\"\"]]");
}

static void test_tabular(void)
{
	ROWS("nums | count", "[[4]]");
	ROWS("nums | where x > 1 | project x", "[[3],[2]]");
	ROWS("nums | where x != 1 | project x", "[[null],[3],[2]]");
	ROWS("nums | where isnull(x) | project s", "[[\"\"]]");
	ROWS("nums | take 2 | project x", "[[1],[null]]");
	ROWS("nums | limit 0 | project x", "[]");
	ROWS("nums | order by x asc | project x", "[[null],[1],[2],[3]]");
	ROWS("nums | order by x | project x", "[[3],[2],[1],[null]]");
	ROWS("nums | sort by x desc nulls first | project x", "[[null],[3],[2],[1]]");
	ROWS("nums | order by s asc, x desc | project s, x", "[[\"\",null],[\"B\",3],[\"a\",2],[\"a\",1]]");
	ROWS("nums | top 2 by r | project r", "[[1.5],[0]]");
	ROWS("nums | top 1 by d asc | project d", "[[null]]");
	ROWS("nums | distinct s", "[[\"a\"],[\"\"],[\"B\"]]");
	ROWS("nums | distinct s, b | count", "[[3]]");
	ROWS("nums | project-away j, d, t, b | take 1", "[[1,1.5,\"a\"]]");
	COLS("nums | project-away j, d, t, b, r | project-rename value = x",
	     "[{\"name\":\"value\",\"type\":\"long\"},{\"name\":\"s\",\"type\":\"string\"}]");
	ROWS("nums | project-away [\"j\"], d*, t, b | take 1 | project-away r", "[[1,\"a\"]]");
	ROWS("nums | extend y = x * 2, z = y + 1 | project y, z", "[[2,3],[null,null],[6,7],[4,5]]");
	ROWS("nums | extend x = strcat(s, '!') | project x | take 1", "[[\"a!\"]]");
	COLS("nums | project x + 1, [\"my col\"] = x", "[{\"name\":\"Column1\",\"type\":\"long\"},{\"name\":\"my col\",\"type\":\"long\"}]");
	ROWS("nums | summarize count(), sum(x), min(x), max(x), avg(x), dcount(s)", "[[4,6,1,3,2,3]]");
	COLS("nums | summarize count(), sum(x), min(x), max(x), avg(x), dcount(s)",
	     "[{\"name\":\"count_\",\"type\":\"long\"},{\"name\":\"sum_x\",\"type\":\"long\"},{\"name\":\"min_x\",\"type\":\"long\"},"
	     "{\"name\":\"max_x\",\"type\":\"long\"},{\"name\":\"avg_x\",\"type\":\"real\"},{\"name\":\"dcount_s\",\"type\":\"long\"}]");
	ROWS("nums | where x > 100 | summarize count(), sum(x), make_list(x)", "[[0,null,[]]]");
	ROWS("nums | where x > 100 | summarize count() by s", "[]");
	ROWS("nums | summarize by s", "[[\"a\"],[\"\"],[\"B\"]]");
	ROWS("nums | summarize make_list(x), make_set(s), sum(r), max(d) by b",
	     "[[true,[1,2],[\"a\"],1.5,\"2024-01-01T00:00:00Z\"],[null,[],[\"\"],null,null],[false,[3],[\"B\"],-2.25,\"2024-01-02T12:00:00Z\"]]");
	ROWS("nums | summarize make_bag(j)", "[[{\"k\":\"v\"}]]");
	ROWS("nums | summarize arg_min(x, *) | project x, s", "[[1,\"a\"]]");
	ROWS("nums | summarize total = sum(t)", "[[\"1.00:30:00\"]]");
	ROWS("nums | summarize count() by bin(d, 1d) | order by d asc",
	     "[[null,1],[\"2023-12-31T00:00:00Z\",1],[\"2024-01-01T00:00:00Z\",1],[\"2024-01-02T00:00:00Z\",1]]");
	ROWS("nums | mv-expand j | project x, j", "[[1,1],[1,2],[1,3],[null,null],[3,{\"k\":\"v\"}]]");
	ROWS("nums | mv-expand kind=array j | where x == 3 | project j", "[[[\"k\",\"v\"]]]");
	ROWS("nums | mv-expand with_itemindex=i e = j to typeof(long) limit 2 | project x, i, e",
	     "[[1,0,1],[1,1,2],[null,0,null],[3,0,null]]");
	ROWS("nums | project x | union (nums | project s) | count", "[[8]]");
	COLS("union (nums | project x), (nums | project x, s) | take 0",
	     "[{\"name\":\"x\",\"type\":\"long\"},{\"name\":\"s\",\"type\":\"string\"}]");
	ROWS("let T = nums | where x >= 2; T | join kind=leftouter (nums | project x, s2 = strcat(s, s)) on x | project x, s2",
	     "[[3,\"BB\"],[2,\"aa\"]]");
	ROWS("nums | join kind=leftouter (nums | where x == 1 | project x, y = 10) on x | project x, y",
	     "[[1,10],[null,null],[3,null],[2,null]]");
	ROWS("nums | join kind=leftanti (nums | where x == 1) on x | project x", "[[null],[3],[2]]");
	ROWS("nums | where x == 1 | join kind=rightanti (nums) on x | project x", "[[null],[3],[2]]");
	ROWS("nums | project a = s | join (nums | project b = s, x) on $left.a == $right.b | project a, x",
	     "[[\"a\",1],[\"a\",2],[\"\",null],[\"B\",3]]");
	ROWS("nums | project a = s | join kind=inner (nums | project b = s, x) on $left.a == $right.b | count", "[[6]]");
	COLS("nums | project x, s | join (nums | project x, s) on x | take 0",
	     "[{\"name\":\"x\",\"type\":\"long\"},{\"name\":\"s\",\"type\":\"string\"},{\"name\":\"x1\",\"type\":\"long\"},"
	     "{\"name\":\"s1\",\"type\":\"string\"}]");
	ROWS("let n = 2; nums | where x == n | project s", "[[\"a\"]]");
	ROWS("let lim = 1d; nums | where t >= lim | project x", "[[3]]");
	ROWS("print a = 1, b = 'x'", "[[1,\"x\"]]");
	ROWS("nums | parse s with v:long | project v | take 1", "[[null]]");
	ROWS("print s = 'key=42; name=bob' | parse s with 'key=' k:long '; name=' n | project k, n", "[[42,\"bob\"]]");
	ROWS("print s = 'key=x4; name=bob' | parse s with 'key=' k:long '; name=' n | project k, n", "[[null,\"\"]]");
	ROWS("print s = 'a-1-b' | parse kind=regex s with x '-[0-9]-' y | project x, y", "[[\"a\",\"b\"]]");
	ROWS("print s = 'nothing' | parse s with 'key=' k | project k", "[[\"\"]]");
}

static void test_scalars(void)
{
	ROWS("print tolong('x'), tolong('12'), toint('7'), todouble('1.5'), tobool('TRUE'), tobool('no')",
	     "[[null,12,7,1.5,true,null]]");
	ROWS("print tostring(1.5), tostring(true), tostring(dynamic([1,'a'])), tostring(int(null))",
	     "[[\"1.5\",\"true\",\"[1,\\\"a\\\"]\",\"\"]]");
	ROWS("print strlen('héllo'), tolower('AbC'), toupper('aBc'), substring('abcdef', 2, 3), substring('abc', 5)",
	     "[[5,\"abc\",\"ABC\",\"cde\",\"\"]]");
	ROWS("print indexof('abcabc', 'c'), indexof('abcabc', 'c', 3), indexof('abc', 'z'), indexof('abcabc', 'b', 0, 6, 2)",
	     "[[2,5,-1,4]]");
	ROWS("print trim(' ', '  a b  '), trim_start('x+', 'xxaxx'), trim_end('x+', 'xxaxx')", "[[\"a b\",\"axx\",\"xxa\"]]");
	ROWS("print replace_string('a.b.c', '.', '::'), strcat('a', 1, true)", "[[\"a::b::c\",\"a1true\"]]");
	ROWS("print split('a/b/c', '/'), split('a/b/c', '/', 1), split('abc', '/')[0], split('a', '/')[5]",
	     "[[[\"a\",\"b\",\"c\"],[\"b\"],\"abc\",null]]");
	ROWS("print extract('([0-9]+)', 1, 'ab123c'), extract('(?i)CVE-(\\\\d+)', 1, 'cve-2021'), extract('z', 0, 'a')",
	     "[[\"123\",\"2021\",\"\"]]");
	ROWS("print extract('([0-9]+)', 1, 'ab123c', typeof(long)) + 1", "[[124]]");
	ROWS("print pack('a', 1, 'b', 'x'), bag_pack('k', dynamic(null)), array_length(dynamic([1,2])), array_length('x')",
	     "[[{\"a\":1,\"b\":\"x\"},{\"k\":null},2,null]]");
	ROWS("print strcat_array(dynamic(['a', 1, {'k': 2}, null]), ', '), strcat_array(dynamic([]), '-'), strcat_array('x', '-')",
	     "[[\"a, 1, {\\\"k\\\":2}, \",\"\",\"\"]]");
	ROWS("print iif(1 > 2, 'a', 'b'), iff(bool(null), 1, 2), case(false, 1, true, 2, 3), case(false, 1, 9)",
	     "[[\"b\",2,2,9]]");
	ROWS("print isnull(long(null)), isnull(''), isempty(''), isempty(long(null)), isnotempty('a'), isnull(dynamic(null))",
	     "[[true,false,true,true,true,true]]");
	ROWS("print coalesce(long(null), 2, 3), coalesce('', 'b'), not(true), not(bool(null))", "[[2,\"b\",false,null]]");
	ROWS("print ago(1d), now(), now(-1h)",
	     "[[\"2024-01-09T00:00:00Z\",\"2024-01-10T00:00:00Z\",\"2024-01-09T23:00:00Z\"]]");
	ROWS("print datetime(2024-01-01) + 1d, datetime(2024-01-02) - datetime(2024-01-01), 1h / 30m, 2d / 4",
	     "[[\"2024-01-02T00:00:00Z\",\"1.00:00:00\",2,\"12:00:00\"]]");
	ROWS("print todatetime('2024-03-01T10:20:30.5Z'), totimespan('01:02:03'), time(1.02:00:00), timespan(90m)",
	     "[[\"2024-03-01T10:20:30.5000000Z\",\"01:02:03\",\"1.02:00:00\",\"01:30:00\"]]");
	ROWS("print bin(7, 5), bin(-7, 5), bin(7.5, 2.5), bin(datetime(2024-01-01T13:00:00), 1d), bin(long(null), 5)",
	     "[[5,-10,7.5,\"2024-01-01T00:00:00Z\",null]]");
	ROWS("print 7 / 2, 7 % 3, 7.0 / 2, 1 / 0, -5 / 2", "[[3,1,3.5,null,-2]]");
	ROWS("print parse_json('{\"a\":{\"b\":[1,2]}}').a.b[1], todynamic('x'), parse_json('[1]')[-1]", "[[2,null,1]]");
	ROWS("print d = dynamic({'a': \"x\", 'b': [true]}) | project d.a, d['b'][0], d.c", "[[\"x\",true,null]]");
	ROWS("print 'it''s'", "error: expected '|' or end of query but found ''s''");
	ROWS("print @'c:\\x', \"q\\\"\", 'tab\\t.'", "[[\"c:\\\\x\",\"q\\\"\",\"tab\\u0009.\"]]");
}

static void test_operators(void)
{
	ROWS("print 'abc' == 'abc', 'abc' == 'ABC', 'abc' =~ 'ABC', 'abc' != 'ABC', 'abc' !~ 'ABC'",
	     "[[true,false,true,true,false]]");
	ROWS("print long(null) == long(null), long(null) == 1, long(null) != 1, long(null) != long(null), long(null) < 1",
	     "[[null,false,true,null,null]]");
	ROWS("print 'Hello World' contains 'lo w', 'Hello' contains_cs 'hel', 'Hello' !contains 'z', 'Hello' !contains_cs 'H'",
	     "[[true,false,true,false]]");
	ROWS("print 'the quick-fox' has 'quick', 'the quick-fox' has 'qui', 'a b' has 'A', 'abc' !has 'b', 'Ab' has_cs 'ab'",
	     "[[true,false,true,true,false]]");
	ROWS("print 'abcdef' startswith 'ABC', 'abcdef' endswith 'def', 'abc' startswith_cs 'A', 'abc' !startswith 'b', 'abc' !endswith 'c'",
	     "[[true,true,false,true,false]]");
	ROWS("print 'b' in ('a', 'b'), 'B' in ('a', 'b'), 'B' in~ ('a', 'b'), 'c' !in ('a', 'b'), 2 in (dynamic([1, 2])), long(null) in (1)",
	     "[[true,false,true,true,true,false]]");
	ROWS("print 'a quick fox' has_any ('slow', 'fox'), 'a quick fox' has_any ('ox'), 'a quick fox' has_all ('quick', 'A'), "
	     "'a quick fox' has_all (dynamic(['quick', 'dog'])), 'x' has_any (dynamic([]))",
	     "[[true,false,true,false,false]]");
	ROWS("print 5 between (1 .. 5), 6 between (1 .. 5), 6 !between (1 .. 5), datetime(2024-01-01T05:00:00) between (datetime(2024-01-01) .. 6h)",
	     "[[true,false,true,true]]");
	ROWS("print 'ab12' matches regex '[a-z]+[0-9]+', 'AB' matches regex '^[a-z]+$', 'AB' matches regex '(?i)^[a-z]+$'",
	     "[[true,false,true]]");
	ROWS("print true and bool(null), false and bool(null), true or bool(null), false or bool(null), not(1 == 1 or 2 == 3)",
	     "[[null,false,true,null,false]]");
	ROWS("print 1 + 2 * 3, (1 + 2) * 3, -2 - -3, 2.5 * 2, 1 < 2 and 3 > 2", "[[7,9,1,5,true]]");
	ROWS("nums | where s == 'a' and x > 1 or x == 3 | project x", "[[3],[2]]");
	ROWS("nums | where b | project x", "[[1],[2]]");
	ROWS("nums | where j has '2' | project x", "[[1]]");
	ROWS("nums | where d > ago(9d) | project x", "[[3]]");
	ROWS("nums | where d >= ago(9d) | project x", "[[1],[3]]");
	ROWS("nums | where r between (-3 .. 0) | project x", "[[3],[2]]");
	ROWS("// a comment\nnums // trailing\n| count", "[[4]]");
}


/* Every operator on empty input, and the edges of conversions and aggregates. */
static void test_edges(void)
{
	ROWS("nums | where false | extend y = x | project y", "[]");
	ROWS("nums | where false | summarize count() by s", "[]");
	ROWS("nums | where false | summarize count(), dcount(s), avg(x), max(s), make_set(s), arg_max(x, s)",
	     "[[0,0,null,\"\",[],null,\"\"]]");
	ROWS("nums | where false | join kind=leftouter (nums) on x | count", "[[0]]");
	ROWS("nums | join kind=leftouter (nums | where false | project x, y = 1) on x | project x, y",
	     "[[1,null],[null,null],[3,null],[2,null]]");
	ROWS("nums | where false | mv-expand j | order by x | top 1 by x | distinct x | count", "[[0]]");
	ROWS("nums | take 100 | count", "[[4]]");
	ROWS("nums | summarize dcount(x), countif(b), countif(x > 1), sum(x) + 0", "[[3,2,2,6]]");
	ROWS("nums | summarize pct = 100.0 * countif(b) / count(), n = strcat(s, '-', count()) by s",
	     "[[\"a\",100,\"a-2\"],[\"\",0,\"-1\"],[\"B\",0,\"B-1\"]]");
	COLS("nums | summarize pct = 100.0 * countif(b) / count(), n = strcat(s, '-', count()) by s",
	     "[{\"name\":\"s\",\"type\":\"string\"},{\"name\":\"pct\",\"type\":\"real\"},{\"name\":\"n\",\"type\":\"string\"}]");
	ROWS("nums | summarize x = iif(count() > 3, 'many', 'few')", "[[\"many\"]]");
	ROWS("nums | summarize y = x + count()", "error: unknown column or name 'x'");
	ROWS("nums | summarize y = arg_max(x, s) + 1", "error: arg_max() cannot be part of an expression");
	ROWS("nums | summarize dcount(x), countif(b), countif(x > 1)", "[[3,2,2]]");
	ROWS("nums | summarize s1 = sum(r), mn = min(s), mx = max(s), a = avg(r)", "[[-0.75,\"\",\"a\",-0.25]]");
	ROWS("print split('a/b/c', '/')[-1], split('a/b/c', '/')[3], split('', '/')[0], split('a//b', '//')[1], split('ab', '')[0]",
	     "[[\"c\",null,\"\",\"b\",\"ab\"]]");
	ROWS("print toint(3000000000), tolong(1.9), tolong(true), todouble('1e3'), todouble('x'), tolong(' 42 ')",
	     "[[null,1,1,1000,null,42]]");
	ROWS("print todatetime('2024-02-30'), todatetime('x'), todatetime('2024-01-01 10:00'), totimespan('2h'), totimespan('x')",
	     "[[\"2024-03-01T00:00:00Z\",null,\"2024-01-01T10:00:00Z\",\"02:00:00\",null]]");
	ROWS("nums | where x == 3 | mv-expand j | project j", "[[{\"k\":\"v\"}]]");
	ROWS("nums | where x == 2 | mv-expand j | count", "[[0]]");
	ROWS("nums | extend x = tostring(x) | project x", "[[\"1\"],[\"\"],[\"3\"],[\"2\"]]");
	COLS("nums | extend x = tostring(x) | project x", "[{\"name\":\"x\",\"type\":\"string\"}]");
	ROWS("let a = 2; let b = a * 3; print b", "[[6]]");
	ROWS("let l = dynamic(['a', 'z']); nums | where s in (l) | project x", "[[1],[2]]");
	ROWS("union withsource=T nums, (nums | take 1) | summarize count() by T", "[[\"nums\",5]]");
	ROWS("print x = 1 | where x == 1 | project y = x * 2", "[[2]]");
	ROWS("datatable(a:long, b:string, c:dynamic) [1, 'x', dynamic([1]), 2, \"y\", dynamic(null),] | extend d = a * 2",
	     "[[1,\"x\",[1],2],[2,\"y\",null,4]]");
	ROWS("let T = datatable(k:string) ['a', 'B']; nums | join kind=leftsemi (T | project s = k) on s | project x",
	     "[[1],[3],[2]]");
	ROWS("datatable(a:long) [1, 2, 3]", "[[1],[2],[3]]");
	ROWS("datatable(a:long, b:long) [1, 2, 3]", "error: datatable has 3 values, not a multiple of its 2 columns");
	ROWS("nums | where 'x'", "error: where needs a bool predicate, not string");
	ROWS("nums | summarize arg_max(r, x) by b | order by r asc", "[[null,null,null],[false,-2.25,3],[true,1.5,1]]");
	ROWS("nums | order by t asc | project t", "[[null],[\"-00:30:00\"],[\"01:00:00\"],[\"1.00:00:00\"]]");
	ROWS("nums | order by j asc | project x", "[[null],[1],[2],[3]]");
	ROWS("nums | summarize count() by j | count", "[[4]]");
	ROWS("print 9223372036854775807 + 1, -9223372036854775807 - 2, 1e308 * 10, 0.0 / 0", "[[-9223372036854775808,9223372036854775807,\"Infinity\",\"NaN\"]]");
	ROWS("print a = dynamic([1,2,3]), b = dynamic(['x']) | mv-expand a, b", "[[1,\"x\"],[2,null],[3,null]]");
	ROWS("print 'the quick' hasprefix 'qu', 'the quick' hassuffix 'ick', 'B' !in~ ('b'), long(null) !between (1 .. 2)",
	     "[[true,true,false,null]]");
	COLS("print x = 1 | summarize count() by x, x",
	     "[{\"name\":\"x\",\"type\":\"long\"},{\"name\":\"x1\",\"type\":\"long\"},{\"name\":\"count_\",\"type\":\"long\"}]");
	ROWS("print d = datetime(null), t = timespan(null) | extend e = d + t", "[[null,null,null]]");
	ROWS("print x = 'a' | extend x = 1, y = x + 1", "[[1,2]]");
	ROWS("print x = 5 | extend y = x between (1 .. 3), z = isnull(x / 0)", "[[5,false,true]]");
}

static void check_error(const char *text, int line, int column, const char *msg, int at)
{
	setup();
	struct query_result r;
	struct query_error e;
	int rc = query_run(text, strlen(text), &all, NULL, &r, &e);
	if (rc == 0 || e.line != line || e.column != column || !strstr(e.message, msg)) {
		fprintf(stderr, "  test_query.c:%d: %s\n    want %d:%d %s\n    got  rc %d %d:%d %s\n", at, text, line, column,
			msg, rc, e.line, e.column, e.message);
		unit_failures_in_test++;
		if (rc == 0)
			query_result_free(&r);
	}
}

#define ERR(q, l, c, m) check_error(q, l, c, m, __LINE__)

static void test_errors(void)
{
	ERR("nums | where", 1, 13, "expected an expression but found end of query");
	ERR("nums | where x ==", 1, 18, "expected an expression");
	ERR("nums\n| summarize count() by", 2, 23, "expected an expression");
	ERR("nums | project x,\n  (1 + 2", 2, 9, "expected ')' but found end of query");
	ERR("nums | frobnicate", 1, 8, "unknown query operator 'frobnicate'");
	ERR("nosuch | count", 1, 1, "unknown table 'nosuch'");
	ERR("nums | where y > 1", 1, 14, "unknown column or name 'y'");
	ERR("nums | extend z = nosuch(x)", 1, 19, "unknown function 'nosuch'");
	ERR("nums | where s == 1", 1, 16, "cannot compare string with long");
	ERR("nums | extend z = s + 1", 1, 21, "cannot apply '+' to string and long");
	ERR("nums | project count()", 1, 16, "aggregate");
	ERR("nums | summarize tolower(s)", 1, 18, "expected an aggregate function");
	ERR("nums | where s == 'abc", 1, 19, "unterminated string literal");
	ERR("nums | take 1 2", 1, 15, "expected '|' or end of query but found '2'");
	ERR("nums | join (nums) on nosuch", 1, 23, "unknown column 'nosuch'");
	ERR("nums | where s matches regex '('", 1, 30, "invalid regex");
	ERR("print x = datetime(2024-13-01)", 1, 20, "invalid datetime literal");
	ERR("print x = substring('a')", 1, 11, "substring() takes 2 to 3 arguments, not 1");
	ERR("nums | where x ~ 1", 1, 16, "unexpected character");
	ERR("print x = 1 | order x", 1, 21, "expected 'by' but found 'x'");
	ERR("print x = 1 | project-rename y = z", 1, 34, "unknown column 'z'");
	ERR("print x = 1\n| parse x with", 2, 15, "expected a parse pattern but found end of query");
	ERR("print x = 1 | join kind=sideways (nums) on x", 1, 20, "unknown join kind 'sideways'");
	ERR("let T = nums | count;\nT | where Count > 'a'", 2, 17, "cannot compare long with string");
}

static void test_limits(void)
{
	setup();
	struct query_result r;
	struct query_error e;
	struct query_limits l = {0};
	/* nesting */
	char deep[4096];
	size_t n = 0;
	n += (size_t)snprintf(deep, sizeof(deep), "print x = ");
	for (int i = 0; i < 200; i++)
		deep[n++] = '(';
	deep[n++] = '1';
	for (int i = 0; i < 200; i++)
		deep[n++] = ')';
	CHECK(query_run(deep, n, &all, NULL, &r, &e) == DD_E_TOO_LARGE && strstr(e.message, "nesting"));
	/* rows */
	l.max_rows = 5;
	const char *j = "nums | join kind=inner (nums) on b";
	CHECK(query_run(j, strlen(j), &all, &l, &r, &e) == 0 && r.nrows == 5);
	query_result_free(&r);
	const char *m = "nums | mv-expand a = range_missing";
	CHECK(query_run(m, strlen(m), &all, &l, &r, &e) == DD_E_USAGE);
	const char *big = "nums | join kind=inner (nums) on b | join kind=inner (nums) on b";
	CHECK(query_run(big, strlen(big), &all, &l, &r, &e) == DD_E_TOO_LARGE && strstr(e.message, "rows"));
	/* text */
	l.max_rows = 0;
	l.max_text_bytes = 10;
	CHECK(query_run("nums | count", 12, &all, &l, &r, &e) == DD_E_TOO_LARGE);
	/* memory */
	l.max_text_bytes = 0;
	l.max_bytes = 4096;
	const char *mem = "nums | extend a = strcat(s, s, s) | join (nums) on x";
	CHECK(query_run(mem, strlen(mem), &all, &l, &r, &e) == DD_E_TOO_LARGE && strstr(e.message, "memory"));
	/* text is (pointer, length): nothing after len is read */
	CHECK(query_run("nums | count; garbage", 12, &all, NULL, &r, &e) == 0 && r.nrows == 1);
	query_result_free(&r);
}

/* What the scan saw: its hint's first filter, the calls, and whether it ended each one
 * (returned) rather than being jumped over. */
static struct {
	int calls, returned;
	size_t nfilters;
	char filter[128];
} seen;

static int scan_rows(void *ctx, const struct query_hint *h, query_emit_fn emit, void *q)
{
	(void)ctx;
	seen.calls++;
	seen.nfilters = h ? h->n : 0;
	seen.filter[0] = 0;
	if (h && h->n) {
		const struct query_filter *f = &h->filters[0];
		size_t o = (size_t)snprintf(seen.filter, sizeof(seen.filter), "%d%s", f->column, f->icase ? "~" : "");
		for (int i = 0; i < f->npath; i++)
			o += (size_t)snprintf(seen.filter + o, sizeof(seen.filter) - o, ".%s", f->path[i]);
		for (size_t i = 0; i < f->nvalues; i++)
			o += (size_t)snprintf(seen.filter + o, sizeof(seen.filter) - o, "%s%s", i ? "|" : "=", f->values[i]);
	}
	for (int64_t i = 0; i < 1000; i++) {
		char name[16];
		snprintf(name, sizeof(name), "n%d", (int)(i % 7));
		struct qval row[2] = {qv_long(i), qv_str(name, strlen(name))};
		int rc = emit(q, row);
		if (rc) {
			seen.returned++;
			return rc;
		}
	}
	seen.returned++;
	return 0;
}

static void test_scan_table(void)
{
	static const struct query_column cols[] = {{"i", QT_LONG}, {"name", QT_STRING}};
	struct query_table t = {"gen", cols, 2, NULL, 0, scan_rows, NULL, 0};
	struct query_tables ts = {&t, 1};
	struct query_result r;
	struct query_error e;
	const char *q = "gen | summarize c = count(), s = sum(i) by name | order by name asc | take 2";
	CHECK(query_run(q, strlen(q), &ts, NULL, &r, &e) == 0);
	struct buf b;
	buf_init(&b, 1 << 20);
	query_result_json(&r, &b);
	CHECK_STR(b.data, "{\"columns\":[{\"name\":\"name\",\"type\":\"string\"},{\"name\":\"c\",\"type\":\"long\"},"
			  "{\"name\":\"s\",\"type\":\"long\"}],\"rows\":[[\"n0\",143,71071],[\"n1\",143,71214]]}");
	buf_release(&b);
	query_result_free(&r);
	struct query_limits l = {.max_rows = 100};
	CHECK(query_run("gen | take 5", 12, &ts, &l, &r, &e) == DD_E_TOO_LARGE); /* all 1000 rows read first */
	/* a count or a summarize right after the table (and its wheres) is fed the rows as they
	 * arrive: none is kept, so the row limit counts only its groups */
	CHECK(query_run("gen | count", 11, &ts, &l, &r, &e) == 0 && r.rows[0][0].u.i == 1000);
	query_result_free(&r);
	q = "gen | where i > 10 | summarize n = count(), m = max(name), a = arg_max(i, name) by name | order by name asc";
	CHECK(query_run(q, strlen(q), &ts, &l, &r, &e) == 0 && r.nrows == 7);
	CHECK(r.rows[0][1].u.i == 141 && !strcmp(r.rows[0][2].u.s, "n0") && r.rows[0][3].u.i == 994);
	CHECK(!strcmp(r.rows[6][0].u.s, "n6") && r.rows[6][1].u.i == 141 && r.rows[6][3].u.i == 993);
	query_result_free(&r);
	/* a distinct right after the table (and its wheres) is fed as rows arrive too: the same
	 * rows, in the same order, as over rows kept first */
	const char *dq[] = {"gen | where i < 50 | distinct name, m = i % 3, tostring(i / 20)",
			    "gen | extend zz = 1 | where i < 50 | distinct name, m = i % 3, tostring(i / 20)"};
	struct buf db[2];
	for (int k = 0; k < 2; k++) {
		buf_init(&db[k], 1 << 20);
		CHECK(query_run(dq[k], strlen(dq[k]), &ts, NULL, &r, &e) == 0 && r.nrows == 50);
		query_result_json(&r, &db[k]);
		query_result_free(&r);
	}
	if (strcmp(db[0].data, db[1].data))
		fprintf(stderr, "%.300s\n%.300s\n", db[0].data, db[1].data);
	CHECK_STR(db[0].data, db[1].data);
	buf_release(&db[0]);
	buf_release(&db[1]);
	/* a streamed distinct is not the table: a second read of it in the same query reads rows */
	q = "gen | distinct name | union (gen | where i < 3 | project name) | count";
	CHECK(query_run(q, strlen(q), &ts, NULL, &r, &e) == 0 && r.rows[0][0].u.i == 10);
	query_result_free(&r);
	q = "gen | distinct name | join kind=inner (gen | project name, i) on name | count";
	CHECK(query_run(q, strlen(q), &ts, NULL, &r, &e) == 0 && r.rows[0][0].u.i == 1000);
	query_result_free(&r);
	/* leading wheres: applied as rows arrive (only the kept rows count against max_rows), and
	 * their equalities given to the scan as a hint */
	memset(&seen, 0, sizeof(seen));
	q = "gen | where name == 'n3' and i < 100 | where i > 10 | count";
	CHECK(query_run(q, strlen(q), &ts, &l, &r, &e) == 0 && r.nrows == 1 && r.rows[0][0].u.i == 12);
	query_result_free(&r);
	CHECK(seen.calls == 1 && seen.nfilters == 1);
	CHECK_STR(seen.filter, "1=n3");
	q = "gen | where name in~ ('N1', 'n2') | where tostring(name) =~ 'N2' | count";
	CHECK(query_run(q, strlen(q), &ts, NULL, &r, &e) == 0 && r.rows[0][0].u.i == 143);
	query_result_free(&r);
	CHECK(seen.nfilters == 2);
	CHECK_STR(seen.filter, "1~=N1|n2");
	/* an or, a negation, a non-literal: no filter; the where still applies */
	q = "gen | where name == 'n1' or i == 1 | where name != 'x' | where name == strcat('n', '2') | count";
	CHECK(query_run(q, strlen(q), &ts, NULL, &r, &e) == 0 && r.rows[0][0].u.i == 0);
	query_result_free(&r);
	CHECK(seen.nfilters == 0);
	/* a table named twice with its own filters: scanned twice */
	seen.calls = 0;
	q = "gen | where name == 'n1' | join kind=inner (gen | where name == 'n1' | where i < 20) on i | count";
	CHECK(query_run(q, strlen(q), &ts, NULL, &r, &e) == 0 && r.rows[0][0].u.i == 3);
	query_result_free(&r);
	CHECK(seen.calls == 2);
	/* a failure while rows arrive (the row limit; a bad regex in the where) ends the scan through
	 * its own return, never by jumping over it */
	seen.calls = seen.returned = 0;
	CHECK(query_run("gen | where i >= 0 | take 1", 27, &ts, &l, &r, &e) == DD_E_TOO_LARGE);
	q = "gen | where name matches regex strcat('(', name) | count";
	CHECK(query_run(q, strlen(q), &ts, NULL, &r, &e) == DD_E_USAGE && e.column > 1);
	CHECK(seen.calls == 2 && seen.returned == 2);
}

/* What a scan was told the query reads of its dynamic column d: "whole", or its paths. */
static char used[256];

static int scan_use(void *ctx, const struct query_hint *h, query_emit_fn emit, void *q)
{
	(void)ctx;
	(void)emit;
	(void)q;
	const struct query_use *u = &h->use[1];
	size_t o = 0;
	used[0] = 0;
	if (!u->read)
		snprintf(used, sizeof(used), "none");
	else if (u->whole)
		snprintf(used, sizeof(used), "whole");
	for (size_t i = 0; u->read && !u->whole && i < u->npaths; i++)
		for (int k = 0; k < u->paths[i].n; k++)
			o += (size_t)snprintf(used + o, sizeof(used) - o, "%s%s", k ? "." : i ? ";" : "", u->paths[i].names[k]);
	return 0;
}

/* The member paths a query reads of a dynamic column, given to its scan (query_use). */
static void test_use_paths(void)
{
	static const struct query_column cols[] = {{"i", QT_LONG}, {"d", QT_DYNAMIC}};
	struct query_table t = {"t", cols, 2, NULL, 0, scan_use, NULL, 0};
	struct query_tables ts = {&t, 1};
	static const struct {
		const char *q, *want;
	} cases[] = {
		{"t | project x = d.a.b, y = d['c'][0].e", "a.b;c"},
		{"t | where d.a.b == 1 | summarize count() by tostring(d.a.b)", "a.b"},
		{"t | project x = d.a[0], y = d.a[0]", "a"},
		{"t | project x = d[strcat('a')]", "whole"},
		{"t | project d", "whole"},
		{"t | project i", "none"},
		{"t | project x = d.a.b.c.d.e.f.g.h", "a.b.c.d.e.f"},
		{"t | join kind=inner (t) on i | project x = d1.q", "q"},
	};
	for (size_t i = 0; i < DD_ARRAY_LEN(cases); i++) {
		struct query_result r;
		struct query_error e;
		CHECK(query_run(cases[i].q, strlen(cases[i].q), &ts, NULL, &r, &e) == 0);
		query_result_free(&r);
		if (strcmp(used, cases[i].want))
			fprintf(stderr, "%s: read %s\n", cases[i].q, used);
		CHECK_STR(used, cases[i].want);
	}
}

/* summarize count() by one column over many rows: the hot path. */
static void test_summarize_speed(void)
{
	size_t n = 1000000;
	static const struct query_column cols[] = {{"severity", QT_STRING}, {"id", QT_LONG}};
	struct qval *rows = malloc(sizeof(*rows) * 2 * n);
	static const char *const sev[] = {"Low", "Medium", "High", "Critical", "Unknown"};
	for (size_t i = 0; i < n; i++) {
		rows[2 * i] = qv_str(sev[i % 5], strlen(sev[i % 5]));
		rows[2 * i + 1] = qv_long((int64_t)i);
	}
	struct query_table t = {"findings", cols, 2, rows, n, NULL, NULL, 0};
	struct query_tables ts = {&t, 1};
	struct query_result r;
	struct query_error e;
	const char *q = "findings | summarize count() by severity";
	int64_t t0 = 0;
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	CHECK(query_run(q, strlen(q), &ts, NULL, &r, &e) == 0);
	clock_gettime(CLOCK_MONOTONIC, &b);
	t0 = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
	CHECK(r.nrows == 5 && r.rows[0][1].u.i == 200000);
	if (getenv("UNIT_VERBOSE"))
		fprintf(stderr, "  summarize count() by severity over %zu rows: %" PRId64 " ms\n", n, t0);
	query_result_free(&r);
	free(rows);
}

static void teardown(void)
{
	for (size_t i = 0; i < nkeep; i++)
		json_decref(keep[i]);
	nkeep = 0;
	memset(tables, 0, sizeof(tables));
}

void suite_query(void)
{
	RUN(test_resource_graph);
	RUN(test_tabular);
	RUN(test_scalars);
	RUN(test_operators);
	RUN(test_edges);
	RUN(test_errors);
	RUN(test_limits);
	RUN(test_scan_table);
	RUN(test_use_paths);
	RUN(test_summarize_speed);
	teardown();
}
