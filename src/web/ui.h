/* ui.h: the dashboard's files (ui/ in the source tree), embedded in the binary at build time by
 * scripts/embed.sh and served at / and /ui/ with the headers a page of the registry needs: a
 * strict Content-Security-Policy (its own scripts and styles only), no framing, no sniffing, no
 * referrer, and an ETag. The page reads the security API and the query language with a bearer
 * token of the signed-in account (docs/ui.md); serving it needs no credentials, as it holds
 * no data. */
#ifndef DD_WEB_UI_H
#define DD_WEB_UI_H
#include <stddef.h>
#include "http/server.h"

struct ui_file {
	const char *path, *type;
	const unsigned char *data;
	size_t len;
};
/* Ends with an entry whose path is NULL (generated: build/gen/ui_files.c). */
extern const struct ui_file ui_files[];

/* Whether the dashboard answers path: "/" and "/ui/...". */
int ui_route(const char *path);
/* The service that answers those paths. */
struct http_app ui_app(void);

#endif
