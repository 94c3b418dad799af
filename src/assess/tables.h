/* tables.h: the query language's tables over the store, and a query run over them: the same
 * for POST /api/v1/query, Resource Graph's POST /providers/Microsoft.ResourceGraph/resources
 * and `drydock query`.
 *
 *   securityresources  one row per assessment and per sub-assessment, in Resource Graph's
 *                      columns, `properties` the Microsoft.Security object (azure.h)
 *   resources          one row per registry, repository and image
 *
 * Rows are built as the query reads them, image by image, and the query's leading `where`
 * filters on type, repository, digest, severity, vulnerability id, package, name and
 * subscription are applied before a row is built (query.h's hint): a repository through the
 * store's index, a vulnerability id by a look at the stored report's text before it is parsed.
 * Only the repositories the caller may see (access_visible) give rows. docs/query.md lists the
 * columns and the ids. */
#ifndef DD_ASSESS_TABLES_H
#define DD_ASSESS_TABLES_H

#include "common/buf.h"
#include "query/query.h"

struct assess_api;
struct http_req;

/* What a run is given beyond the text: the request it answers (NULL: the data directory's owner,
 * who sees everything) and the subscriptions it is scoped to (Resource Graph's "subscriptions":
 * only rows of those; none: every one). */
struct assess_query {
	struct http_req *r;
	const char *const *subscriptions;
	size_t nsubscriptions;
	const struct query_limits *limits; /* NULL: the defaults */
};

/* Runs text over the tables: as query_run (query.h), out owned by the caller. */
int assess_query_run(struct assess_api *api, const struct assess_query *aq, const char *text, size_t len,
		     struct query_result *out, struct query_error *err);

/* Appends rows [skip, skip + top) of r as JSON: as a table ({"columns":[{"name","type"}],
 * "rows":[[...]]}), as the table's two members alone ("columns":[...],"rows":[...]), or as an
 * array of objects, one per row, by column name. */
enum page_form { PAGE_TABLE, PAGE_MEMBERS, PAGE_OBJECTS };
int assess_query_page_json(const struct query_result *r, size_t skip, size_t top, enum page_form form,
			   struct buf *out);

/* The HTTP side (query_api.c): whether path is one of the query endpoints; the request's
 * beginning (method, access, api-version), which calls ask_body when the body is wanted; the body. */
int query_api_route(const char *path);
void query_api_begin(struct http_req *r, struct assess_api *api, void (*ask_body)(struct http_req *r));
void query_api_body(struct http_req *r, struct assess_api *api, const char *body, size_t len);

#endif
