/* meta_sql_outbox.c: the metadata store's webhooks (meta_outbox.h): the targets, and the
 * events waiting for each, with their attempts and when each is next due. */
#include "common/dd.h"
#include "meta_sqlInt.h"
#include "common/arena.h"
#include "common/util.h"

int sq_outbox_insert(struct conn *c, const struct outbox_event *e)
{
	/* the namespace is the first path component of a name that has more than one: a name
	 * without '/' is in none, as the grants see it (access.h), and only a target of every
	 * namespace gets its events */
	char ns[256] = "";
	const char *slash = strchr(e->repo, '/');
	if (slash && (size_t)(slash - e->repo) < sizeof(ns))
		snprintf(ns, sizeof(ns), "%.*s", (int)(slash - e->repo), e->repo);
	else if (slash)
		snprintf(ns, sizeof(ns), "/"); /* no target has it */
	/* one row per target whose scope takes it */
	return sq_exec_on(c, "queue webhook",
			  "INSERT INTO outbox(target, type, payload, attempts, next_at, created)"
			  " SELECT id, ?1, ?3, 0, 0, unixepoch() FROM webhooks WHERE (ns='' OR ns=?2)"
			  " AND (events='' OR instr(',' || events || ',', ',' || ?1 || ',') > 0) ORDER BY id",
			  TEXT(e->type), TEXT(ns), TEXT(e->payload));
}

/* Seconds a node's claim on a target's deliveries lasts on PostgreSQL: past it (the node died
 * mid-POST, or had no free slot for it), another node takes the target over. Three POST
 * timeouts (assess/webhook.c). */
#define OUTBOX_LEASE 30

/* In a write transaction (as ms_audit_add, meta_sql_admin.c): events commit in the order of
 * their ids, the order they are delivered in. */
static int ms_outbox_add(struct meta *m, const struct outbox_event *e)
{
	struct conn *c;
	int rc = sq_tx_begin(m, &c);
	if (!rc)
		rc = sq_outbox_insert(c, e);
	return sq_tx_end(c, rc);
}

static int ms_outbox_heads(struct meta *m, struct arena *a, int64_t now, struct webhook_target **targets,
			   struct outbox_item **heads, size_t *n)
{
	size_t cap = 0, cap2 = 0;
	struct webhook_target *t = arena_grow(a, NULL, 0, &cap, sizeof(*t));
	struct outbox_item *h = arena_grow(a, NULL, 0, &cap2, sizeof(*h));
	*n = 0;
	struct sq q;
	/* on PostgreSQL, many nodes' deliverers: each target is claimed with a lease by one at a time
	 * (its lease ends with outbox_done or outbox_failed), so every event is sent by one node */
	sq_query(&q, m,
		 PG_OR("SELECT w.id, w.url, w.secret, w.format, o.id, o.type, o.payload, o.attempts, o.created, w.internal"
		       " FROM webhooks w JOIN outbox o ON o.id=(SELECT min(id) FROM outbox WHERE target=w.id)"
		       " WHERE w.retry_at<=?1 AND ?2 ORDER BY w.id", /* (?2, the lease, is true) */
		       "WITH due AS (SELECT w.id FROM webhooks w WHERE w.retry_at<=?1 AND w.lease_until<=unixepoch() AND"
		       " EXISTS(SELECT 1 FROM outbox WHERE target=w.id) FOR UPDATE SKIP LOCKED),"
		       " mine AS (UPDATE webhooks w SET lease_until=unixepoch()+?2 FROM due WHERE w.id=due.id"
		       " RETURNING w.id, w.url, w.secret, w.format, w.internal)"
		       " SELECT w.id, w.url, w.secret, w.format, o.id, o.type, o.payload, o.attempts, o.created, w.internal"
		       " FROM mine w JOIN outbox o ON o.id=(SELECT min(id) FROM outbox WHERE target=w.id) ORDER BY w.id"),
		 INT(now), INT(OUTBOX_LEASE));
	while (sq_row(&q)) {
		t = arena_grow(a, t, *n, &cap, sizeof(*t));
		h = arena_grow(a, h, *n, &cap2, sizeof(*h));
		t[*n] = (struct webhook_target){.id = sq_int(&q, 0), .url = sq_text(a, &q, 1), .secret = sq_text(a, &q, 2),
						.format = sq_text(a, &q, 3), .internal = (int)sq_int(&q, 9)};
		h[*n] = (struct outbox_item){.id = sq_int(&q, 4), .type = sq_text(a, &q, 5), .payload = sq_text(a, &q, 6),
					     .attempts = (int)sq_int(&q, 7), .created = sq_int(&q, 8)};
		(*n)++;
	}
	*targets = t;
	*heads = h;
	return sq_end(&q, "webhook heads");
}

static int ms_outbox_done(struct meta *m, int64_t target, int64_t id)
{
	struct conn *c;
	int rc = sq_tx_begin(m, &c);
	if (!rc)
		rc = sq_exec_on(c, "webhook delivered", "DELETE FROM outbox WHERE id=?1", INT(id));
	if (!rc)
		rc = sq_exec_on(c, "webhook delivered",
				PG_OR("UPDATE webhooks SET delivered=delivered+1, failures=0, retry_at=0 WHERE id=?1",
				      "UPDATE webhooks SET delivered=delivered+1, failures=0, retry_at=0, lease_until=0 WHERE id=?1"),
				INT(target));
	return sq_tx_end(c, rc);
}

static int ms_outbox_failed(struct meta *m, int64_t target, int64_t id, int64_t now, int64_t retry_at,
			    int64_t give_up_before, const char *error, int64_t *given_up)
{
	struct conn *c;
	*given_up = 0;
	int rc = sq_tx_begin(m, &c);
	if (!rc)
		rc = sq_exec_on(c, "webhook failed", "UPDATE outbox SET attempts=attempts+1 WHERE id=?1", INT(id));
	if (!rc)
		rc = sq_exec_on(c, "webhook failed", "DELETE FROM outbox WHERE target=?1 AND created<=?2", INT(target),
				INT(give_up_before));
	if (!rc)
		*given_up = sq_changes(c);
	if (!rc)
		rc = sq_exec_on(c, "webhook failed",
				PG_OR("UPDATE webhooks SET failures=failures+1, retry_at=?2, last_error=?3, last_error_at=?4,"
				      " given_up=given_up+?5 WHERE id=?1",
				      "UPDATE webhooks SET failures=failures+1, retry_at=?2, last_error=?3, last_error_at=?4,"
				      " given_up=given_up+?5, lease_until=0 WHERE id=?1"),
				INT(target), INT(retry_at), TEXT(error), INT(now), INT(*given_up));
	if (!rc && *given_up) /* the registry's total, which deleting a target does not lower */
		rc = sq_exec_on(c, "webhook failed",
				"INSERT INTO settings(key, value) VALUES('webhooks/given-up', CAST(?1 AS TEXT)) ON CONFLICT(key)"
				" DO UPDATE SET value=CAST(CAST(settings.value AS BIGINT)+?1 AS TEXT)",
				INT(*given_up));
	return sq_tx_end(c, rc);
}

static int ms_outbox_backlog(struct meta *m, int64_t *waiting, int64_t *failed, int64_t *given_up)
{
	struct sq q;
	*waiting = *failed = *given_up = 0;
	sq_query(&q, m,
		 "SELECT count(*), coalesce(sum(CASE WHEN attempts > 0 THEN 1 ELSE 0 END), 0),"
		 " (SELECT coalesce(CAST(value AS BIGINT), 0) FROM settings WHERE key='webhooks/given-up') FROM outbox",
		 NOARGS);
	if (sq_row(&q)) {
		*waiting = sq_int(&q, 0);
		*failed = sq_int(&q, 1);
		*given_up = sq_int(&q, 2);
	}
	return sq_end(&q, "outbox backlog");
}

static int ms_webhook_add(struct meta *m, const struct webhook_target *t, int64_t max, int64_t max_ns, int64_t *id)
{
	struct conn *c;
	int rc = sq_tx_begin(m, &c);
	if (!rc) { /* counted in the transaction that adds: requests at once cannot pass the caps together */
		struct sq q;
		sq_query_on(&q, c, "SELECT count(*), coalesce(sum(CASE WHEN ns=?1 THEN 1 ELSE 0 END), 0) FROM webhooks",
			    TEXT(t->ns));
		if (sq_row(&q) && (sq_int(&q, 0) >= max || sq_int(&q, 1) >= max_ns))
			rc = DD_E_USAGE;
		int qrc = sq_end(&q, "count webhooks");
		if (!rc)
			rc = qrc;
	}
	if (!rc) {
		struct sq q;
		sq_query_on(&q, c,
			    "INSERT INTO webhooks(url, secret, ns, events, format, origin, created, internal)"
			    " VALUES(?1,?2,?3,?4,?5,?6,?7,?8) RETURNING id",
			    TEXT(t->url), TEXT(t->secret), TEXT(t->ns), TEXT(t->events), TEXT(t->format), TEXT(t->origin),
			    INT(util_now()), INT(t->internal));
		*id = sq_row(&q) ? sq_int(&q, 0) : 0;
		rc = sq_done(&q, "add webhook");
	}
	return sq_tx_end(c, rc);
}

static int ms_webhook_any(struct meta *m, int *any)
{
	*any = 1; /* on an error, events are built: none is lost */
	struct sq q;
	sq_query(&q, m, "SELECT EXISTS(SELECT 1 FROM webhooks)", NOARGS);
	if (sq_row(&q))
		*any = sq_int(&q, 0) != 0;
	return sq_end(&q, "webhook targets");
}

static int ms_webhook_list(struct meta *m, struct arena *a, struct webhook_target **out, size_t *n)
{
	size_t cap = 0;
	struct webhook_target *v = arena_grow(a, NULL, 0, &cap, sizeof(*v));
	*n = 0;
	struct sq q;
	sq_query(&q, m,
		 "SELECT w.id, w.url, w.secret, w.ns, w.events, w.format, w.origin, w.created, w.delivered, w.given_up,"
		 " w.last_error, (SELECT count(*) FROM outbox WHERE target=w.id), w.failures, w.retry_at, w.internal"
		 " FROM webhooks w ORDER BY w.id",
		 NOARGS);
	while (sq_row(&q)) {
		v = arena_grow(a, v, *n, &cap, sizeof(*v));
		v[*n] = (struct webhook_target){
			.id = sq_int(&q, 0), .url = sq_text(a, &q, 1), .secret = sq_text(a, &q, 2), .ns = sq_text(a, &q, 3),
			.events = sq_text(a, &q, 4), .format = sq_text(a, &q, 5), .origin = sq_text(a, &q, 6),
			.created = sq_int(&q, 7), .delivered = sq_int(&q, 8), .given_up = sq_int(&q, 9),
			.last_error = sq_text(a, &q, 10), .waiting = sq_int(&q, 11), .failures = sq_int(&q, 12),
			.retry_at = sq_int(&q, 13), .internal = (int)sq_int(&q, 14)};
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
		rc = sq_exec_on(c, "webhook option", "UPDATE webhooks SET url=?1, secret=?2, failures=0, retry_at=0 WHERE origin='config'", TEXT(url),
				TEXT(secret));
	if (!rc && sq_changes(c) == 0)
		rc = sq_exec_on(c, "webhook option",
				"INSERT INTO webhooks(url, secret, ns, events, format, origin, created, internal)"
				" VALUES(?1, ?2, '', '', 'drydock', 'config', ?3, 1)",
				TEXT(url), TEXT(secret), INT(util_now()));
	if (!rc) /* events stored before targets were the option's, and told of assessments */
		rc = sq_exec_on(c, "webhook option",
				"UPDATE outbox SET target=(SELECT id FROM webhooks WHERE origin='config'),"
				" type=CASE WHEN type='' THEN 'scan.completed' ELSE type END,"
				" created=CASE WHEN created=0 THEN unixepoch() ELSE created END"
				" WHERE target=0",
				NOARGS);
	return sq_tx_end(c, rc);
}

const struct meta_outbox_ops meta_sql_outbox = {
	.outbox_add = ms_outbox_add,
	.outbox_heads = ms_outbox_heads,
	.outbox_done = ms_outbox_done,
	.outbox_failed = ms_outbox_failed,
	.outbox_backlog = ms_outbox_backlog,
	.webhook_add = ms_webhook_add,
	.webhook_any = ms_webhook_any,
	.webhook_list = ms_webhook_list,
	.webhook_delete = ms_webhook_delete,
	.webhook_config = ms_webhook_config,
};
