/* meta_sqlite_outbox.c: the SQLite backend's webhooks (meta_outbox.h): the targets, and the
 * events waiting for each, with their attempts and when each is next due. */
#include "common/dd.h"
#include "meta_sqliteInt.h"
#include "common/arena.h"
#include "common/util.h"

int sq_outbox_insert(struct meta *m, struct conn *c, const struct outbox_event *e)
{
	char ns[256];
	size_t n = strcspn(e->repo, "/");
	snprintf(ns, sizeof(ns), "%.*s", (int)(n < sizeof(ns) ? n : 0), e->repo);
	/* one row per target whose scope takes it */
	return sq_exec_at(m, c, "queue webhook",
			  "INSERT INTO outbox(target, type, payload, attempts, next_at, first_failed_at)"
			  " SELECT id, ?1, ?3, 0, 0, 0 FROM webhooks WHERE (ns='' OR ns=?2)"
			  " AND (events='' OR instr(',' || events || ',', ',' || ?1 || ',') > 0) ORDER BY id",
			  TEXT(e->type), TEXT(ns), TEXT(e->payload));
}

static int ms_outbox_add(struct meta *m, const struct outbox_event *e) { return sq_outbox_insert(m, NULL, e); }

static int ms_outbox_heads(struct meta *m, struct arena *a, int64_t now, struct webhook_target **out, size_t *n)
{
	size_t cap = 0;
	struct webhook_target *v = arena_grow(a, NULL, 0, &cap, sizeof(*v));
	*n = 0;
	struct sq q;
	sq_query(&q, m,
		 "SELECT w.id, w.url, w.secret, w.format, o.next_at FROM webhooks w JOIN outbox o"
		 " ON o.id=(SELECT min(id) FROM outbox WHERE target=w.id) WHERE o.next_at<=?1 ORDER BY w.id",
		 INT(now));
	while (sq_row(&q)) {
		v = arena_grow(a, v, *n, &cap, sizeof(*v));
		v[*n] = (struct webhook_target){.id = sq_int(&q, 0), .url = sq_text(a, &q, 1), .secret = sq_text(a, &q, 2),
						.format = sq_text(a, &q, 3), .next_at = sq_int(&q, 4)};
		(*n)++;
	}
	*out = v;
	return sq_end(&q, "webhook heads");
}

static int ms_outbox_batch(struct meta *m, struct arena *a, int64_t target, size_t max, struct outbox_item **out,
			   size_t *n)
{
	*n = 0;
	*out = arena_alloc(a, (max + 1) * sizeof(**out));
	struct sq q;
	sq_query(&q, m,
		 "SELECT id, type, payload, attempts, first_failed_at FROM outbox WHERE target=?1 ORDER BY id LIMIT ?2",
		 INT(target), INT(max));
	while (sq_row(&q) && *n < max)
		(*out)[(*n)++] = (struct outbox_item){.id = sq_int(&q, 0), .type = sq_text(a, &q, 1),
						      .payload = sq_text(a, &q, 2), .attempts = (int)sq_int(&q, 3),
						      .first_failed_at = sq_int(&q, 4)};
	return sq_end(&q, "webhook batch");
}

static int ms_outbox_done(struct meta *m, int64_t target, int64_t id)
{
	struct conn *c;
	int rc = sq_tx_begin(m, &c);
	if (!rc)
		rc = sq_exec_on(c, "webhook delivered", "DELETE FROM outbox WHERE id=?1", INT(id));
	if (!rc)
		rc = sq_exec_on(c, "webhook delivered", "UPDATE webhooks SET delivered=delivered+1 WHERE id=?1", INT(target));
	return sq_tx_end(c, rc);
}

static int ms_outbox_retry(struct meta *m, int64_t target, int64_t id, int64_t now, int64_t next_at, const char *error)
{
	struct conn *c;
	int rc = sq_tx_begin(m, &c);
	if (!rc)
		rc = sq_exec_on(c, "webhook retry",
				"UPDATE outbox SET attempts=attempts+1, next_at=?2,"
				" first_failed_at=iif(first_failed_at=0, ?3, first_failed_at) WHERE id=?1",
				INT(id), INT(next_at), INT(now));
	if (!rc)
		rc = sq_exec_on(c, "webhook retry", "UPDATE webhooks SET last_error=?2, last_error_at=?3 WHERE id=?1",
				INT(target), TEXT(error), INT(now));
	return sq_tx_end(c, rc);
}

static int ms_outbox_give_up(struct meta *m, int64_t target, int64_t id, const char *error)
{
	struct conn *c;
	int rc = sq_tx_begin(m, &c);
	if (!rc)
		rc = sq_exec_on(c, "webhook given up", "DELETE FROM outbox WHERE id=?1", INT(id));
	if (!rc)
		rc = sq_exec_on(c, "webhook given up",
				"UPDATE webhooks SET given_up=given_up+1, last_error=?2, last_error_at=?3 WHERE id=?1",
				INT(target), TEXT(error), INT(util_now()));
	return sq_tx_end(c, rc);
}

static int ms_outbox_backlog(struct meta *m, int64_t *waiting, int64_t *failed, int64_t *given_up)
{
	struct sq q;
	*waiting = *failed = *given_up = 0;
	sq_query(&q, m,
		 "SELECT count(*), coalesce(sum(attempts > 0), 0), (SELECT coalesce(sum(given_up), 0) FROM webhooks)"
		 " FROM outbox",
		 NOARGS);
	if (sq_row(&q)) {
		*waiting = sq_int(&q, 0);
		*failed = sq_int(&q, 1);
		*given_up = sq_int(&q, 2);
	}
	return sq_end(&q, "outbox backlog");
}

static int ms_webhook_add(struct meta *m, const struct webhook_target *t, int64_t *id)
{
	struct conn *c;
	int rc = sq_tx_begin(m, &c);
	if (!rc)
		rc = sq_exec_on(c, "add webhook",
				"INSERT INTO webhooks(url, secret, ns, events, format, origin, created)"
				" VALUES(?1,?2,?3,?4,?5,?6,?7)",
				TEXT(t->url), TEXT(t->secret), TEXT(t->ns), TEXT(t->events), TEXT(t->format),
				TEXT(t->origin), INT(util_now()));
	if (!rc) {
		struct sq q;
		sq_query_on(&q, c, "SELECT last_insert_rowid()", NOARGS);
		*id = sq_row(&q) ? sq_int(&q, 0) : 0;
		rc = sq_end(&q, "add webhook");
	}
	return sq_tx_end(c, rc);
}

static int ms_webhook_list(struct meta *m, struct arena *a, struct webhook_target **out, size_t *n)
{
	size_t cap = 0;
	struct webhook_target *v = arena_grow(a, NULL, 0, &cap, sizeof(*v));
	*n = 0;
	struct sq q;
	sq_query(&q, m,
		 "SELECT w.id, w.url, w.secret, w.ns, w.events, w.format, w.origin, w.created, w.delivered, w.given_up,"
		 " w.last_error, (SELECT count(*) FROM outbox WHERE target=w.id),"
		 " coalesce((SELECT first_failed_at FROM outbox WHERE target=w.id ORDER BY id LIMIT 1), 0),"
		 " coalesce((SELECT next_at FROM outbox WHERE target=w.id ORDER BY id LIMIT 1), 0)"
		 " FROM webhooks w ORDER BY w.id",
		 NOARGS);
	while (sq_row(&q)) {
		v = arena_grow(a, v, *n, &cap, sizeof(*v));
		v[*n] = (struct webhook_target){
			.id = sq_int(&q, 0), .url = sq_text(a, &q, 1), .secret = sq_text(a, &q, 2), .ns = sq_text(a, &q, 3),
			.events = sq_text(a, &q, 4), .format = sq_text(a, &q, 5), .origin = sq_text(a, &q, 6),
			.created = sq_int(&q, 7), .delivered = sq_int(&q, 8), .given_up = sq_int(&q, 9),
			.last_error = sq_text(a, &q, 10), .waiting = sq_int(&q, 11), .failing_since = sq_int(&q, 12),
			.next_at = sq_int(&q, 13)};
		(*n)++;
	}
	*out = v;
	return sq_end(&q, "webhooks");
}

static int ms_webhook_delete(struct meta *m, int64_t id)
{
	struct conn *c;
	int rc = sq_tx_begin(m, &c);
	if (!rc)
		rc = sq_exec_on(c, "delete webhook", "DELETE FROM webhooks WHERE id=?1", INT(id));
	if (!rc && sq_changes(c) == 0)
		rc = DD_E_NOT_FOUND;
	if (!rc)
		rc = sq_exec_on(c, "delete webhook", "DELETE FROM outbox WHERE target=?1", INT(id));
	return sq_tx_end(c, rc);
}

static int ms_webhook_config(struct meta *m, const char *url, const char *secret)
{
	struct conn *c;
	int rc = sq_tx_begin(m, &c);
	if (!rc && !*url) {
		/* the option is gone: so are its target and what waited for it (and the events of a data
		 * directory from before targets, which were the option's) */
		rc = sq_exec_on(c, "webhook option",
				"DELETE FROM outbox WHERE target=0 OR target IN (SELECT id FROM webhooks WHERE origin='config')",
				NOARGS);
		if (!rc)
			rc = sq_exec_on(c, "webhook option", "DELETE FROM webhooks WHERE origin='config'", NOARGS);
		return sq_tx_end(c, rc);
	}
	if (!rc)
		rc = sq_exec_on(c, "webhook option", "UPDATE webhooks SET url=?1, secret=?2 WHERE origin='config'", TEXT(url),
				TEXT(secret));
	if (!rc && sq_changes(c) == 0)
		rc = sq_exec_on(c, "webhook option",
				"INSERT INTO webhooks(url, secret, ns, events, format, origin, created)"
				" VALUES(?1, ?2, '', '', 'drydock', 'config', ?3)",
				TEXT(url), TEXT(secret), INT(util_now()));
	if (!rc) /* events stored before targets were the option's, and told of assessments */
		rc = sq_exec_on(c, "webhook option",
				"UPDATE outbox SET target=(SELECT id FROM webhooks WHERE origin='config'),"
				" type=iif(type='', 'scan.completed', type) WHERE target=0",
				NOARGS);
	return sq_tx_end(c, rc);
}

const struct meta_outbox_ops meta_sqlite_outbox = {
	.outbox_add = ms_outbox_add,
	.outbox_heads = ms_outbox_heads,
	.outbox_batch = ms_outbox_batch,
	.outbox_done = ms_outbox_done,
	.outbox_retry = ms_outbox_retry,
	.outbox_give_up = ms_outbox_give_up,
	.outbox_backlog = ms_outbox_backlog,
	.webhook_add = ms_webhook_add,
	.webhook_list = ms_webhook_list,
	.webhook_delete = ms_webhook_delete,
	.webhook_config = ms_webhook_config,
};
