/* cmd_query.c: `drydock query 'KQL'`: the query language over a running server (POST
 * /api/v1/query, page by page) or a data directory read in place (assess/tables.h), printed
 * as a table on a terminal, or as JSON or CSV. */
#include "common/dd.h"
#include "cmds.h"
#include "assess/api.h"
#include "assess/tables.h"
#include "common/buf.h"
#include "common/config.h"
#include "common/limits.h"
#include "store/blobstore.h"
#include "store/meta.h"
#include "vulndb/vulndb.h"
#include <curl/curl.h>
#include <jansson.h>

static const char usage_text[] =
	"usage: drydock query [--server URL [--user NAME:PASSWORD]] [--data DIR | --config FILE]\n"
	"                     [--format table|json|csv] 'KQL'\n"
	"  runs a Kusto (KQL) query over the tables securityresources (assessments and\n"
	"  sub-assessments, as Azure Resource Graph's) and resources (registries, repositories,\n"
	"  images); docs/query.md has the language, the tables and the limits.\n"
	"  --server URL      ask a running server (POST URL/api/v1/query): the rows the account may\n"
	"                    see; --user, or DRYDOCK_USER=NAME:PASSWORD, when it has authentication on\n"
	"  --data DIR        read the data directory in place, as its owner sees it (everything);\n"
	"                    the default, with the default data directory, when --server is not given\n"
	"  --config FILE     the server's file: its data directory and Azure names\n"
	"  --format FORMAT   table (default on a terminal), json ({\"columns\", \"rows\"}; the default\n"
	"                    otherwise) or csv (a header line, then RFC 4180 rows)\n"
	"Exit status: 0, 1 when the query fails (the message points at line and column), 2 on a\n"
	"usage error.\n";
const char *const cmd_query_usage = usage_text;

static int usage_err(const char *msg)
{
	if (msg)
		fprintf(stderr, "drydock query: %s\n", msg);
	fputs(usage_text, stderr);
	return 2;
}

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
	return buf_append(ctx, p, size * n) ? 0 : size * n;
}

/* One page from the server: 0 and the answer, or 1 after a message. */
static int ask(const char *url, const char *user, const char *text, long long skip, json_t **out)
{
	*out = NULL;
	CURL *c = curl_easy_init();
	if (!c)
		return 1;
	json_t *req = json_pack("{s:s, s:{s:i, s:I}}", "query", text, "options", "$top", DD_MAX_QUERY_PAGE, "$skip",
				(json_int_t)skip);
	char *body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	char endpoint[4096];
	snprintf(endpoint, sizeof(endpoint), "%s%s/api/v1/query", url,
		 *url && url[strlen(url) - 1] == '/' ? "." : "");
	struct buf resp;
	buf_init(&resp, (size_t)DD_MAX_QUERY_SERVER_BYTES);
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, endpoint);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (user) {
		curl_easy_setopt(c, CURLOPT_USERPWD, user);
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
	}
	CURLcode cc = curl_easy_perform(c);
	long status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	free(body);
	int rc = 1;
	if (cc != CURLE_OK)
		fprintf(stderr, "drydock query: %s: %s\n", endpoint, curl_easy_strerror(cc));
	else {
		json_t *o = json_loadb(resp.data ? resp.data : "", resp.len, 0, NULL);
		if (status == 200 && json_is_array(json_object_get(o, "rows"))) {
			*out = o;
			rc = 0;
		} else {
			json_t *e = json_array_get(json_object_get(o, "errors"), 0);
			const char *msg = json_string_value(json_object_get(e, "message"));
			fprintf(stderr, "drydock query: %s\n", msg ? msg : resp.data ? resp.data : "no answer");
			json_decref(o);
		}
	}
	buf_release(&resp);
	return rc;
}

/* The whole result from the server, page after page: {"columns", "rows"}. */
static int from_server(const char *url, const char *user, const char *text, json_t **out)
{
	json_t *all = NULL, *page;
	long long skip = 0;
	for (;;) {
		if (ask(url, user, text, skip, &page)) {
			json_decref(all);
			return 1;
		}
		json_t *rows = json_object_get(page, "rows");
		if (!all)
			all = json_pack("{s:O, s:[]}", "columns", json_object_get(page, "columns"), "rows");
		json_array_extend(json_object_get(all, "rows"), rows);
		skip += (long long)json_array_size(rows);
		int more = json_is_true(json_object_get(page, "truncated")) && json_array_size(rows) > 0;
		json_decref(page);
		if (!more)
			break;
	}
	*out = all;
	return 0;
}

static int from_data(const struct config *c, const char *text, json_t **out)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/meta.db", c->data_dir);
	if (!meta_dir_has(c->data_dir)) {
		fprintf(stderr, "drydock query: no data directory at '%s' (give --data, or --server)\n", c->data_dir);
		return 1;
	}
	struct meta *meta;
	const char *why_meta;
	if (meta_open_dir(c->data_dir, NULL, &meta, &why_meta)) {
		fprintf(stderr, "drydock query: cannot open the metadata of '%s'%s%s\n", c->data_dir, why_meta ? ": " : "",
			why_meta ? why_meta : "");
		return 1;
	}
	struct vulndb *db = NULL;
	const char *why;
	snprintf(path, sizeof(path), "%s", *c->db ? c->db : "");
	if (!*c->db)
		snprintf(path, sizeof(path), "%s/vulndb.ddb", c->data_dir);
	if (!access(path, F_OK) && vulndb_open(path, &db, &why))
		db = NULL; /* the findings' texts stay empty */
	struct blobstore *blobs = NULL;
	if (blobstore_open_config(c, meta, &blobs, &why))
		blobs = NULL; /* no platforms */
	struct assess_api api = {.meta = meta, .db = db, .host = "localhost", .blobs = blobs,
				 .azure_subscription = c->azure_subscription, .azure_resource_group = c->azure_resource_group,
				 .azure_registry = c->azure_registry};
	struct assess_query aq = {0};
	struct query_result r;
	struct query_error e;
	int rc = assess_query_run(&api, &aq, text, strlen(text), &r, &e);
	if (rc)
		fprintf(stderr, "drydock query: line %d, column %d: %s\n", e.line, e.column, e.message);
	else {
		struct buf b;
		buf_init(&b, SIZE_MAX);
		if (!assess_query_page_json(&r, 0, r.nrows, PAGE_TABLE, &b))
			*out = json_loadb(b.data, b.len, 0, NULL);
		buf_release(&b);
		query_result_free(&r);
		if (!*out) {
			fprintf(stderr, "drydock query: the result is too large to print\n");
			rc = 1;
		}
	}
	if (db)
		vulndb_close(db);
	if (blobs)
		blobs->ops->free(blobs);
	meta_free(meta);
	return rc ? 1 : 0;
}

/* A value as text: strings as they are, the rest as JSON; null as "". */
static char *text_of(json_t *v)
{
	if (json_is_string(v))
		return strdup(json_string_value(v));
	if (json_is_null(v))
		return strdup("");
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

static void print_csv_field(const char *s)
{
	if (!s[strcspn(s, ",\"\r\n")]) {
		fputs(s, stdout);
		return;
	}
	putchar('"');
	for (; *s; s++) {
		if (*s == '"')
			putchar('"');
		putchar(*s);
	}
	putchar('"');
}

#define CELL_MAX 60 /* characters of a cell a terminal table shows */

/* Display width of UTF-8 text: code points (a wide character counts one). */
static size_t width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		w += ((unsigned char)*s & 0xC0) != 0x80;
	return w;
}

static void print_cell(const char *s, size_t w)
{
	size_t shown = 0;
	const char *p = s;
	for (; *p && shown < w; p++) {
		if (((unsigned char)*p & 0xC0) != 0x80 && ++shown > w)
			break;
		putchar(*p == '\n' || *p == '\t' ? ' ' : *p);
	}
	while (((unsigned char)*p & 0xC0) == 0x80) /* the rest of the last character */
		putchar(*p++);
	for (; shown < w; shown++)
		putchar(' ');
}

static void print_table(json_t *cols, json_t *rows)
{
	size_t nc = json_array_size(cols), nr = json_array_size(rows);
	size_t *w = calloc(nc + 1, sizeof(*w));
	for (size_t c = 0; c < nc; c++)
		w[c] = width(json_string_value(json_object_get(json_array_get(cols, c), "name")));
	for (size_t i = 0; i < nr; i++)
		for (size_t c = 0; c < nc; c++) {
			char *t = text_of(json_array_get(json_array_get(rows, i), c));
			size_t n = width(t);
			w[c] = n > w[c] ? (n > CELL_MAX ? CELL_MAX : n) : w[c];
			free(t);
		}
	for (size_t c = 0; c < nc; c++) {
		print_cell(json_string_value(json_object_get(json_array_get(cols, c), "name")), w[c]);
		fputs(c + 1 < nc ? "  " : "\n", stdout);
	}
	for (size_t c = 0; c < nc; c++) {
		for (size_t k = 0; k < w[c]; k++)
			putchar('-');
		fputs(c + 1 < nc ? "  " : "\n", stdout);
	}
	for (size_t i = 0; i < nr; i++)
		for (size_t c = 0; c < nc; c++) {
			char *t = text_of(json_array_get(json_array_get(rows, i), c));
			if (width(t) > w[c] && w[c] > 1) {
				print_cell(t, w[c] - 1);
				fputs("…", stdout);
			} else
				print_cell(t, w[c]);
			free(t);
			fputs(c + 1 < nc ? "  " : "\n", stdout);
		}
	printf("(%zu row%s)\n", nr, nr == 1 ? "" : "s");
	free(w);
}

int cmd_query(int argc, char **argv)
{
	struct config c;
	const char *why, *server = NULL, *user = getenv("DRYDOCK_USER"), *format = NULL, *text = NULL;
	config_defaults(&c);
	for (int i = 1; i + 1 < argc; i++) { /* the file first: flags override it */
		if (!strcmp(argv[i], "--config") && config_load(&c, argv[++i], &why)) {
			fprintf(stderr, "drydock query: %s\n", why);
			return 2;
		}
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] != '-' || !a[1]) {
			if (text)
				return usage_err("give the query as one argument (quote it)");
			text = a;
		} else if (i + 1 >= argc)
			return usage_err(NULL);
		else if (!strcmp(a, "--config"))
			i++;
		else if (!strcmp(a, "--data"))
			snprintf(c.data_dir, sizeof(c.data_dir), "%s", argv[++i]);
		else if (!strcmp(a, "--server"))
			server = argv[++i];
		else if (!strcmp(a, "--user"))
			user = argv[++i];
		else if (!strcmp(a, "--format"))
			format = argv[++i];
		else
			return usage_err(NULL);
	}
	if (!text)
		return usage_err("no query given");
	if (!strcmp(text, "-")) { /* the query from standard input */
		static char in[DD_MAX_QUERY_TEXT_BYTES + 1];
		size_t n = fread(in, 1, sizeof(in) - 1, stdin);
		in[n] = 0;
		text = in;
	}
	if (!format)
		format = isatty(STDOUT_FILENO) ? "table" : "json";
	if (strcmp(format, "table") && strcmp(format, "json") && strcmp(format, "csv"))
		return usage_err("--format is table, json or csv");
	json_t *res = NULL;
	if (server) {
		if (from_server(server, user, text, &res))
			return 1;
	} else {
		if (cli_become_owner(c.data_dir, "query") || from_data(&c, text, &res))
			return 1;
	}
	json_t *cols = json_object_get(res, "columns"), *rows = json_object_get(res, "rows");
	if (!strcmp(format, "json")) {
		json_dumpf(res, stdout, JSON_COMPACT);
		putchar('\n');
	} else if (!strcmp(format, "csv")) {
		for (size_t k = 0; k < json_array_size(cols); k++) {
			if (k)
				putchar(',');
			print_csv_field(json_string_value(json_object_get(json_array_get(cols, k), "name")));
		}
		fputs("\r\n", stdout);
		for (size_t i = 0; i < json_array_size(rows); i++) {
			for (size_t k = 0; k < json_array_size(cols); k++) {
				char *t = text_of(json_array_get(json_array_get(rows, i), k));
				if (k)
					putchar(',');
				print_csv_field(t);
				free(t);
			}
			fputs("\r\n", stdout);
		}
	} else
		print_table(cols, rows);
	json_decref(res);
	return fflush(stdout) ? 1 : 0;
}
