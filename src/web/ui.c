/* ui.c: the dashboard's embedded files (see ui.h). */
#include "common/dd.h"
#include "web/ui.h"
#include "web/reply.h"

#define UI_CSP                                                                                            \
	"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " \
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

static char etags[16][24]; /* one per file, "\"<64-bit FNV-1a of the bytes>\"" */
static pthread_once_t etags_once = PTHREAD_ONCE_INIT;

static void etags_init(void)
{
	for (size_t i = 0; ui_files[i].path && i < DD_ARRAY_LEN(etags); i++) {
		uint64_t h = 1469598103934665603ULL;
		for (size_t k = 0; k < ui_files[i].len; k++)
			h = (h ^ ui_files[i].data[k]) * 1099511628211ULL;
		snprintf(etags[i], sizeof(etags[i]), "\"%016llx\"", (unsigned long long)h);
	}
}

int ui_route(const char *path) { return !strcmp(path, "/") || !strncmp(path, "/ui/", 4); }

static void on_begin(struct http_req *r)
{
	size_t i = 0;
	while (ui_files[i].path && strcmp(ui_files[i].path, r->path))
		i++;
	if (strcmp(r->method, "GET") && strcmp(r->method, "HEAD")) {
		web_error(r, DD_E_METHOD, NULL);
		http_add_header(r, "Allow", "GET, HEAD");
		return;
	}
	if (!ui_files[i].path || i >= DD_ARRAY_LEN(etags)) {
		web_error_msg(r, DD_E_NOT_FOUND, "no such page", NULL);
		return;
	}
	pthread_once(&etags_once, etags_init);
	const struct ui_file *f = &ui_files[i];
	const char *inm = http_header(r, "If-None-Match");
	if (inm && strstr(inm, etags[i]))
		http_respond(r, 304, NULL, NULL, 0);
	else if (!strcmp(r->method, "HEAD"))
		http_respond_head(r, 200, f->type, (int64_t)f->len);
	else
		http_respond(r, 200, f->type, f->data, f->len);
	/* after the response is set: its headers */
	http_add_header(r, "Content-Security-Policy", UI_CSP);
	http_add_header(r, "X-Content-Type-Options", "nosniff");
	http_add_header(r, "X-Frame-Options", "DENY");
	http_add_header(r, "Referrer-Policy", "no-referrer");
	http_add_header(r, "Cache-Control", "no-cache");
	http_add_header(r, "ETag", etags[i]);
}

static void on_end(struct http_req *r) { (void)r; }

struct http_app ui_app(void) { return (struct http_app){.begin = on_begin, .end = on_end}; }
