/* audit.h: appends to the audit log (pushes, deletes, rule, policy, setting and account
 * changes). A failure to record is logged, never fatal to the request that caused it. */
#ifndef DD_AUDIT_H
#define DD_AUDIT_H

struct http_req;
struct meta;

/* As the caller of request r (access_actor). detail: NULL or a short JSON object. */
void audit_record(struct http_req *r, struct meta *m, const char *action, const char *target, const char *detail);
void audit_record_as(struct meta *m, const char *actor, const char *action, const char *target, const char *detail);

#endif
