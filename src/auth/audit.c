/* audit.c: the audit log writer (see audit.h). */
#include "common/dd.h"
#include "audit.h"
#include "access.h"
#include "common/log.h"
#include "common/util.h"
#include "store/meta_admin.h"

void audit_record_as(struct meta *m, const char *actor, const char *action, const char *target, const char *detail)
{
	struct audit_rec e = {.time = util_now(), .actor = actor, .action = action, .target = target,
			      .detail = detail ? detail : ""};
	int rc = m->admin->audit_add(m, &e);
	if (rc)
		log_error("cannot record '%s %s' by '%s' in the audit log: %s", action, target, actor, dd_err_message(rc));
}

void audit_record(struct http_req *r, struct meta *m, const char *action, const char *target, const char *detail)
{
	audit_record_as(m, access_actor(r), action, target, detail);
}
