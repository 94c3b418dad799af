/* meta_admin.h: the part of the metadata store that holds administration: settings (accounts,
 * suppression rules, pull policies, each a small JSON document by key) and the audit log (meta.h
 * says how the parts fit). What the settings mean is the callers' business (auth/accounts.c,
 * assess/rules.c). */
#ifndef DD_META_ADMIN_H
#define DD_META_ADMIN_H
#include "meta.h"
#include <stddef.h>
#include <stdint.h>

struct arena;

/* The audit log: who did what to which repository, rule or account, when. */
struct audit_rec {
	int64_t id, time;
	const char *actor;  /* account name, "anonymous", "-" (auth off) or "cli:<user>" */
	const char *action; /* "push", "delete", "tag-delete", "blob-delete", "gc-delete", "rule-create", ... */
	const char *target; /* "repo@digest", "repo:tag", a rule id, an account name */
	const char *detail; /* "" or a short JSON object */
};

struct meta_admin_ops {
	/* Settings by key ("account/<name>", "suppression/<id>", "policy/<namespace>"). */
	int (*setting_put)(struct meta *m, const char *key, const char *value);
	/* Stores the setting unless key is there already: *added 1 when this call stored it (of nodes
	 * starting at once, one makes the first administrator and the token key). */
	int (*setting_add)(struct meta *m, const char *key, const char *value, int *added);
	/* DD_E_NOT_FOUND when absent. */
	int (*setting_get)(struct meta *m, struct arena *a, const char *key, const char **value);
	int (*setting_delete)(struct meta *m, const char *key);
	/* Keys starting with prefix, in key order, and their values: parallel arrays. */
	int (*settings_list)(struct meta *m, struct arena *a, const char *prefix, const char ***keys,
			     const char ***values, size_t *n);
	int (*audit_add)(struct meta *m, const struct audit_rec *e);
	/* Up to max entries with id > after, oldest first (arena array). */
	int (*audit_list)(struct meta *m, struct arena *a, int64_t after, size_t max, struct audit_rec **out,
			  size_t *n);
};

#endif
