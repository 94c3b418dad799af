/* access.h: the one access check every registry handler passes through. Accounts, tokens
 * and roles plug in here later; for now every request is allowed. */
#ifndef DD_ACCESS_H
#define DD_ACCESS_H

struct http_req;

/* ACCESS_BASE is the GET /v2/ probe that clients use to discover authentication. */
enum access_action {
	ACCESS_BASE,
	ACCESS_PULL,
	ACCESS_PUSH,
	ACCESS_DELETE,
	ACCESS_CATALOG,
	ACCESS_SECURITY_READ, /* assessments and findings (the security-reader role) */
	ACCESS_SETTINGS,      /* namespace settings */
	ACCESS_METRICS,
};

/* 0 when the request may perform action on repo (NULL for registry-wide actions), else
 * DD_E_UNAUTHORIZED or DD_E_DENIED. */
int access_check(struct http_req *r, const char *repo, enum access_action action);

#endif
