/* access.c: allow-all access policy (no accounts yet; see docs/security.md). */
#include "common/dd.h"
#include "access.h"

int access_check(struct http_req *r, const char *repo, enum access_action action)
{
	(void)r, (void)repo, (void)action;
	return 0;
}
