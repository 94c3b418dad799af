/* meta_sqlite_outbox.c: the SQLite backend's webhook outbox (meta_outbox.h): events waiting to
 * be delivered, each with its attempts and when it is next due. */
#include "common/dd.h"
#include "meta_sqliteInt.h"
#include "common/arena.h"

int sq_outbox_insert(struct meta *m, struct conn *c, const char *payload)
{
	return sq_exec_at(m, c, "queue webhook", "INSERT INTO outbox(payload, attempts, next_at) VALUES(?1, 0, 0)",
			  TEXT(payload));
}

static int ms_outbox_add(struct meta *m, const char *payload) { return sq_outbox_insert(m, NULL, payload); }

static int ms_outbox_due(struct meta *m, struct arena *a, int64_t now, size_t max, int64_t **ids,
			 const char ***payloads, int **attempts, size_t *n)
{
	*n = 0;
	*ids = arena_alloc(a, (max + 1) * sizeof(**ids));
	*payloads = arena_alloc(a, (max + 1) * sizeof(**payloads));
	*attempts = arena_alloc(a, (max + 1) * sizeof(**attempts));
	struct sq q;
	sq_query(&q, m, "SELECT id, payload, attempts FROM outbox WHERE next_at<=?1 ORDER BY id LIMIT ?2", INT(now),
		 INT(max));
	while (sq_row(&q) && *n < max) {
		(*ids)[*n] = sq_int(&q, 0);
		(*payloads)[*n] = sq_text(a, &q, 1);
		(*attempts)[(*n)++] = (int)sq_int(&q, 2);
	}
	return sq_end(&q, "outbox");
}

static int ms_outbox_done(struct meta *m, int64_t id)
{
	return sq_exec(m, "webhook delivered", "DELETE FROM outbox WHERE id=?1", INT(id));
}

static int ms_outbox_retry(struct meta *m, int64_t id, int64_t next_at)
{
	return sq_exec(m, "webhook retry", "UPDATE outbox SET attempts=attempts+1, next_at=?2 WHERE id=?1", INT(id),
		       INT(next_at));
}

static int ms_outbox_backlog(struct meta *m, int64_t *waiting, int64_t *failed)
{
	struct sq q;
	*waiting = *failed = 0;
	sq_query(&q, m, "SELECT count(*), coalesce(sum(attempts > 0), 0) FROM outbox", NOARGS);
	if (sq_row(&q)) {
		*waiting = sq_int(&q, 0);
		*failed = sq_int(&q, 1);
	}
	return sq_end(&q, "outbox backlog");
}

const struct meta_outbox_ops meta_sqlite_outbox = {
	.outbox_add = ms_outbox_add,
	.outbox_due = ms_outbox_due,
	.outbox_done = ms_outbox_done,
	.outbox_retry = ms_outbox_retry,
	.outbox_backlog = ms_outbox_backlog,
};
