/* meta_sql_admin.c: the metadata store's administration (meta_admin.h): settings, small
 * JSON documents by key (accounts, suppression rules, pull policies), and the audit log. */
#include "common/dd.h"
#include "meta_sqlInt.h"
#include "common/arena.h"

static int ms_setting_put(struct meta *m, const char *key, const char *value)
{
	return sq_exec(m, "store setting",
		       "INSERT INTO settings(key, value) VALUES(?1,?2) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
		       TEXT(key), TEXT(value));
}

static int ms_setting_add(struct meta *m, const char *key, const char *value, int *added)
{
	struct sq q;
	sq_query(&q, m, "INSERT INTO settings(key, value) VALUES(?1,?2) ON CONFLICT DO NOTHING", TEXT(key), TEXT(value));
	int rc = sq_done(&q, "store setting");
	*added = !rc && q.changes > 0;
	return rc;
}

static int ms_setting_delete(struct meta *m, const char *key)
{
	return sq_exec(m, "delete setting", "DELETE FROM settings WHERE key=?1", TEXT(key));
}

static int ms_setting_get(struct meta *m, struct arena *a, const char *key, const char **value)
{
	*value = NULL;
	struct sq q;
	sq_query(&q, m, "SELECT value FROM settings WHERE key=?1", TEXT(key));
	if (sq_row(&q))
		*value = sq_text(a, &q, 0);
	return sq_one(&q, "setting", DD_E_NOT_FOUND);
}

#define SETTINGS_MAX 10000 /* rules listed at once */

static int ms_settings_list(struct meta *m, struct arena *a, const char *prefix, const char ***keys,
			    const char ***values, size_t *n)
{
	*n = 0;
	size_t cap = 16;
	*keys = arena_alloc(a, cap * sizeof(**keys));
	*values = arena_alloc(a, cap * sizeof(**values));
	struct sq q;
	sq_query(&q, m, "SELECT key, value FROM settings WHERE substr(key, 1, length(?1))=?1 ORDER BY key LIMIT ?2",
		 TEXT(prefix), INT(SETTINGS_MAX));
	while (sq_row(&q)) {
		if (*n == cap) {
			const char **k = arena_alloc(a, 2 * cap * sizeof(*k)), **v = arena_alloc(a, 2 * cap * sizeof(*v));
			memcpy(k, *keys, cap * sizeof(*k));
			memcpy(v, *values, cap * sizeof(*v));
			*keys = k;
			*values = v;
			cap *= 2;
		}
		(*keys)[*n] = sq_text(a, &q, 0);
		(*values)[(*n)++] = sq_text(a, &q, 1);
	}
	return sq_end(&q, "settings");
}

int sq_audit_insert(struct conn *c, const struct audit_rec *e)
{
	return sq_exec_on(c, "audit", "INSERT INTO audit(time, actor, action, target, detail) VALUES(?1,?2,?3,?4,?5)",
			  INT(e->time), TEXT(e->actor), TEXT(e->action), TEXT(e->target),
			  TEXT(e->detail ? e->detail : ""));
}

/* In a write transaction, as the entries a push or a deletion adds: on PostgreSQL, the entries of
 * every node then commit in the order of their ids, and a reader paging by id misses none. */
static int ms_audit_add(struct meta *m, const struct audit_rec *e)
{
	struct conn *c;
	int rc = sq_tx_begin(m, &c);
	if (!rc)
		rc = sq_audit_insert(c, e);
	return sq_tx_end(c, rc);
}

static int ms_audit_list(struct meta *m, struct arena *a, int64_t after, size_t max, struct audit_rec **out,
			 size_t *n)
{
	*n = 0;
	*out = arena_alloc(a, sizeof(**out) * (max + 1));
	struct sq q;
	sq_query(&q, m, "SELECT id, time, actor, action, target, detail FROM audit WHERE id>?1 ORDER BY id LIMIT ?2",
		 INT(after), INT(max));
	while (sq_row(&q) && *n < max) {
		struct audit_rec *e = &(*out)[(*n)++];
		e->id = sq_int(&q, 0);
		e->time = sq_int(&q, 1);
		e->actor = sq_text(a, &q, 2);
		e->action = sq_text(a, &q, 3);
		e->target = sq_text(a, &q, 4);
		e->detail = sq_text(a, &q, 5);
	}
	return sq_end(&q, "audit");
}

const struct meta_admin_ops meta_sql_admin = {
	.setting_put = ms_setting_put,
	.setting_add = ms_setting_add,
	.setting_get = ms_setting_get,
	.setting_delete = ms_setting_delete,
	.settings_list = ms_settings_list,
	.audit_add = ms_audit_add,
	.audit_list = ms_audit_list,
};
