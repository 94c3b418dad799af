/* reply.h: the answers every service of the server shares (web/router.h): an error as the OCI
 * error JSON ({"errors":[{"code","message","detail"}]}, the shape docker, podman and skopeo
 * show), and an access refusal with its challenge headers. A service's own answers stay in it. */
#ifndef DD_WEB_REPLY_H
#define DD_WEB_REPLY_H
#include "auth/access.h"
#include "http/server.h"

/* Answers err as OCI error JSON with the error's message (or `message` when not NULL) and
 * `detail` when not NULL; a HEAD request gets the head only. Logs server errors. */
void web_error_msg(struct http_req *r, int err, const char *message, const char *detail);
void web_error(struct http_req *r, int err, const char *detail);
/* Answers status with o as indented JSON; takes o over (a NULL o, or no memory: a 500). */
struct json_t;
void web_send_json(struct http_req *r, int status, struct json_t *o);
/* The detail of a 507 (DD_E_NO_SPACE): the free space of the data directory and what to do
 * (arena text), or NULL when sp is NULL or cannot say. */
struct space;
const char *web_no_space_detail(struct http_req *r, struct space *sp);
/* access_check(), answering a refusal itself (the error JSON and the Basic or Bearer challenge);
 * returns its code. */
int web_access(struct http_req *r, const char *repo, enum access_action action);
/* The same, naming extra_scope too in a bearer challenge when refused. */
int web_access_scope(struct http_req *r, const char *repo, enum access_action action, const char *extra_scope);
/* The same for a namespace-wide action. */
int web_access_ns(struct http_req *r, const char *ns, enum access_action action);

#endif
