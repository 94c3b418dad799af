/* meta_sql_scans.c: the metadata store's scans (meta_scans.h): the scan queue, assessments
 * (reports and inventories stored PACKED), their running totals (kept by the triggers of the
 * engines' schemas, and on SQLite by a batch's own tally of its updates), scans counted per
 * namespace and month, and scanning
 * per namespace. Job states and priorities are bound from their enums, never written as numbers
 * in the SQL. */
#include "common/dd.h"
#include "meta_sqlInt.h"
#include "common/arena.h"
#include "common/buf.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/util.h"

/* SCAN_JOB_DONE in statements; queuing a job whose row is DONE (SQLite) makes it a new job.
 * PostgreSQL has no DONE row and keeps DO NOTHING: its DO UPDATE locks every conflicting row even
 * where its WHERE is false, and a node storing a batch holds its jobs' rows (a deadlock, found
 * by a review helper). */
#define DONE_SQL "2"
_Static_assert(SCAN_JOB_DONE == 2, "DONE_SQL");
#define REVIVE_DONE                                                                                        \
	" ON CONFLICT(repo, digest) DO UPDATE SET state=excluded.state, priority=excluded.priority,"         \
	" enqueued=excluded.enqueued WHERE scan_jobs.state=" DONE_SQL
/* DONE rows deleted by a claim that finds nothing queued, 8,192 a claim: 100,000 in one
 * statement held the writers' lock half a second (a review helper's measure) */
#define DONE_SWEEP                                                                                         \
	"DELETE FROM scan_jobs WHERE id IN (SELECT id FROM scan_jobs WHERE state=" DONE_SQL " LIMIT 8192)"

int sq_scan_enqueue_unassessed(struct conn *c, const char *repo, const char *digest)
{
	return sq_exec_on(c, "queue scan",
			  "INSERT INTO scan_jobs(repo, digest, priority, state, enqueued) SELECT ?1,?2,?3,?4,?5"
			  " WHERE NOT EXISTS (SELECT 1 FROM assessments WHERE repo=?1 AND digest=?2)"
			  " ON CONFLICT(repo, digest) DO UPDATE SET priority=CASE WHEN scan_jobs.state=" DONE_SQL
			  " OR excluded.priority<scan_jobs.priority THEN excluded.priority ELSE scan_jobs.priority END,"
			  " state=CASE WHEN scan_jobs.state=" DONE_SQL " THEN excluded.state ELSE scan_jobs.state END,"
			  " enqueued=CASE WHEN scan_jobs.state=" DONE_SQL " THEN excluded.enqueued ELSE scan_jobs.enqueued END",
			  TEXT(repo), TEXT(digest), INT(SCAN_PUSH), INT(SCAN_JOB_QUEUED), INT(util_now()));
}

int sq_scans_forget(struct conn *c, const char *repo, const char *digest)
{
	int rc = sq_exec_on(c, "delete manifest", "DELETE FROM assessments WHERE repo=?1 AND digest=?2", TEXT(repo),
			    TEXT(digest));
	if (!rc)
		rc = sq_exec_on(c, "delete manifest", "DELETE FROM assessment_reports WHERE repo=?1 AND digest=?2",
				TEXT(repo), TEXT(digest));
	if (!rc)
		rc = sq_exec_on(c, "delete manifest", "DELETE FROM assessment_inventories WHERE repo=?1 AND digest=?2",
				TEXT(repo), TEXT(digest));
	if (!rc)
		rc = sq_exec_on(c, "delete manifest", "DELETE FROM scan_jobs WHERE repo=?1 AND digest=?2", TEXT(repo),
				TEXT(digest));
	return rc;
}

/* PostgreSQL, shared by many nodes: jobs whose lease ran out queued again, then one statement
 * claims the jobs (skipping those another node is claiming at that moment) with a lease. */
static int claim_pg(struct meta *m, struct arena *a, size_t max, const char *generation, struct scan_job *out,
		    size_t *n)
{
	struct sq q;
	struct meta_sql *ms = (struct meta_sql *)m;
	int64_t lease = m->scan_lease > 0 ? m->scan_lease : META_SCAN_LEASE_DEFAULT;
	/* leases are read and set by the database's clock, the one clock every node shares. A job
	 * whose lease ran out is queued again first (the running are few: found by the index),
	 * skipping those a node is storing at that moment (locked in another order: a deadlock).
	 * Looked for at most once a second by a node: in a pass over 100,000 images, the index's
	 * entries of jobs run and gone made this statement 4 ms a claim, 15% of PostgreSQL's time */
	int64_t now = sq_mono_ns(), last = __atomic_load_n(&ms->leases_swept_ns, __ATOMIC_RELAXED);
	int rc = 0;
	if ((!last || now - last >= 1000000000) &&
	    __atomic_compare_exchange_n(&ms->leases_swept_ns, &last, now, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
		rc = sq_exec(m, "claim scans",
			     "UPDATE scan_jobs SET state=?1 WHERE id IN (SELECT id FROM scan_jobs WHERE state=?2 AND"
			     " lease_until<unixepoch() FOR UPDATE SKIP LOCKED)",
			     INT(SCAN_JOB_QUEUED), INT(SCAN_JOB_RUNNING));
		pthread_mutex_lock(&ms->hint.mu); /* what it queued again is read too */
		ms->hint.after = 0;
		ms->hint.epoch++;
		pthread_mutex_unlock(&ms->hint.mu);
	}
	if (rc)
		return rc;
	/* then one push, the oldest queued, or else up to max re-assessments, the oldest queued after
	 * the last this node claimed (only by a node whose database is the registry's: a statement
	 * that read every queued job, as this one did, made 100,000 re-assessments quadratic). */
	/* The index scan_jobs_next, (state, priority, id), is read in its own order, by ranges that
	 * make one value each: with statistics that know the queue is large, the planner took the
	 * primary key's order instead, and read every job claimed before (gone, or running) at each
	 * claim: 19 ms a claim, half of PostgreSQL's time in a pass over 100,000 images. Read from
	 * the start, the index's entries of the jobs claimed since the last vacuum still cost 4 ms a
	 * claim: re-assessments are read from the last this node claimed (ms->hint), and from the
	 * start when none are queued after it, and once a second, when expired leases are looked for
	 * (a job queued again, or skipped by a claim that failed, is read then). */
	for (int from_start = 0;; from_start = 1) {
		pthread_mutex_lock(&ms->hint.mu);
		int64_t after = from_start ? 0 : ms->hint.after;
		uint64_t epoch = ms->hint.epoch;
		pthread_mutex_unlock(&ms->hint.mu);
		sq_query(&q, m,
			 "WITH p AS (SELECT CASE WHEN EXISTS(SELECT 1 FROM scan_jobs WHERE state BETWEEN ?2 AND ?2"
			 " AND priority BETWEEN ?3 AND ?3) THEN ?3"
			 " WHEN ?6 IS NOT NULL AND ?6<>coalesce((SELECT value FROM settings WHERE key='vulndb/generation'),"
			 " ?6) THEN NULL"
			 " WHEN EXISTS(SELECT 1 FROM scan_jobs WHERE state BETWEEN ?2 AND ?2 AND priority BETWEEN ?7 AND ?7"
			 " AND id>?8) THEN ?7 END AS pr),"
			 " pick AS (SELECT j.id FROM scan_jobs j WHERE j.state BETWEEN ?2 AND ?2 AND j.priority BETWEEN"
			 " (SELECT pr FROM p) AND (SELECT pr FROM p) AND j.id>(SELECT CASE WHEN pr=?3 THEN 0 ELSE ?8 END"
			 " FROM p) ORDER BY j.state, j.priority, j.id"
			 " LIMIT (SELECT CASE WHEN pr=?3 THEN 1 ELSE ?1 END FROM p) FOR UPDATE SKIP LOCKED)"
			 " UPDATE scan_jobs s SET state=?4, lease_until=unixepoch()+?5 FROM pick WHERE s.id=pick.id"
			 " RETURNING s.id, s.repo, s.digest, s.priority",
			 INT(max), INT(SCAN_JOB_QUEUED), INT(SCAN_PUSH), INT(SCAN_JOB_RUNNING), INT(lease),
			 TEXT(generation), INT(SCAN_REASSESS), INT(after));
		int64_t last_id = 0;
		while (sq_row(&q) && *n < max) {
			struct scan_job *j = &out[(*n)++];
			j->id = sq_int(&q, 0);
			j->repo = sq_text(a, &q, 1);
			j->digest = sq_text(a, &q, 2);
			j->priority = (enum scan_priority)sq_int(&q, 3);
			if (j->priority == SCAN_REASSESS && j->id > last_id)
				last_id = j->id;
		}
		rc = sq_end(&q, "claim scans");
		/* another worker's later claim may have moved the hint on (kept: the later); one read from
		 * the start sets it where it got to, or back to the start when it found none (an idle
		 * queue: one statement a claim); one begun before the hint went back leaves it */
		pthread_mutex_lock(&ms->hint.mu);
		if (!rc && ms->hint.epoch == epoch) {
			if (last_id && (!after || last_id > ms->hint.after))
				ms->hint.after = last_id;
			else if (from_start && !*n)
				ms->hint.after = 0;
		}
		pthread_mutex_unlock(&ms->hint.mu);
		if (rc || *n || !after)
			break;
	}
	return rc ? rc : *n ? 0 : DD_E_NOT_FOUND;
}

static int ms_scan_claim(struct meta *m, struct arena *a, size_t max, const char *generation, struct scan_job **out,
			 size_t *n)
{
	*out = arena_alloc(a, (max + 1) * sizeof(**out));
	*n = 0;
	if (sq_dialect(m, NULL) == SQ_PG)
		return claim_pg(m, a, max, generation, *out, n);
	struct conn *c;
	int rc = sq_tx_begin_lazy(m, &c);
	if (!rc) {
		/* the oldest jobs of the most urgent priority queued: one push, or up to max others */
		struct sq q;
		sq_query_on(&q, c,
			    "SELECT id, repo, digest, priority FROM scan_jobs WHERE state=?2 AND"
			    " priority=(SELECT min(priority) FROM scan_jobs WHERE state=?2) ORDER BY id LIMIT"
			    " (CASE WHEN (SELECT min(priority) FROM scan_jobs WHERE state=?2)=?3 THEN 1 ELSE ?1 END)",
			    INT(max), INT(SCAN_JOB_QUEUED), INT(SCAN_PUSH));
		while (sq_row(&q) && *n < max) {
			struct scan_job *j = &(*out)[(*n)++];
			j->id = sq_int(&q, 0);
			j->repo = sq_text(a, &q, 1);
			j->digest = sq_text(a, &q, 2);
			j->priority = (enum scan_priority)sq_int(&q, 3);
		}
		rc = sq_end(&q, "next scan");
	}
	if (!rc && !*n) { /* none queued: rows of jobs done go (DONE_SWEEP) */
		rc = sq_tx_end(c, sq_exec_on(c, "clear done scans", DONE_SWEEP, NOARGS));
		return rc ? rc : DD_E_NOT_FOUND;
	}
	for (size_t i = 0; !rc && i < *n; i++)
		rc = sq_exec_on(c, "claim scan", "UPDATE scan_jobs SET state=?2 WHERE id=?1", INT((*out)[i].id),
				INT(SCAN_JOB_RUNNING));
	return sq_tx_end(c, rc);
}

/* One scan counted for its namespace and month. */
static int count_scan(struct conn *c, const struct scan_done *d)
{
	return sq_exec_on(c, "count scan",
			  "INSERT INTO scan_usage(namespace, month, scans) VALUES(?1,?2,1)"
			  " ON CONFLICT(namespace, month) DO UPDATE SET scans=scan_usage.scans+1",
			  TEXT(d->ns), TEXT(d->month));
}

/* What follows a stored assessment in its transaction (SQLite): its events, the month's count. */
static int complete_rest(struct conn *c, const struct scan_done *d)
{
	int rc = 0;
	for (size_t i = 0; !rc && i < d->nevents; i++)
		rc = sq_outbox_insert(c, &d->events[i]);
	if (!rc && d->ns)
		rc = count_scan(c, d);
	return rc;
}

/* A report and an inventory compressed before the write transaction (the writers wait for no
 * compression): NULL where a value is bound as PACKED instead. */
struct packed_pair {
	void *report, *inventory;
	size_t report_n, inventory_n;
};

static struct sq_arg packed_arg(const char *v, const void *z, size_t zn)
{
	return z ? BLOB(z, zn) : PACKED(v);
}

/* A batch's changes to the running totals (assessment_totals) and the history
 * (assessment_days), counted here as the update triggers (meta_sqlite.c's, meta_pg.c's) would
 * count them row by row, and written once at the batch's end (tally_write). The rows it counts
 * have `tallied` changed, so those triggers skip them. */
struct tally_row {
	char *key, *status; /* repository ('' for the registry) or "day/namespace"; status */
	long long v[9];     /* images, the seven counts, and uncounted (totals) or assessed (days) */
	int taken;          /* an image left it: removed when it holds none (the triggers' prune) */
};
struct tally {
	struct tally_row *totals, *days;
	size_t ntotals, ndays, cap_totals, cap_days;
	int err;
	int off; /* the triggers in place are not this version's: they count every update */
};

static struct tally_row *tally_at(struct tally *t, int days, const char *key, size_t key_n, const char *status)
{
	struct tally_row **v = days ? &t->days : &t->totals;
	size_t *n = days ? &t->ndays : &t->ntotals, *cap = days ? &t->cap_days : &t->cap_totals;
	for (size_t i = 0; i < *n; i++)
		if (strlen((*v)[i].key) == key_n && !memcmp((*v)[i].key, key, key_n) && !strcmp((*v)[i].status, status))
			return &(*v)[i];
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 8;
		struct tally_row *g = realloc(*v, nc * sizeof(*g));
		if (!g) {
			t->err = DD_E_NOMEM;
			return NULL;
		}
		*v = g, *cap = nc;
	}
	struct tally_row *e = &(*v)[*n];
	memset(e, 0, sizeof(*e));
	e->key = strndup(key, key_n);
	e->status = strdup(status);
	if (!e->key || !e->status) {
		free(e->key), free(e->status);
		t->err = DD_E_NOMEM;
		return NULL;
	}
	(*n)++;
	return e;
}

static void tally_free(struct tally *t)
{
	for (size_t i = 0; i < t->ntotals; i++)
		free(t->totals[i].key), free(t->totals[i].status);
	for (size_t i = 0; i < t->ndays; i++)
		free(t->days[i].key), free(t->days[i].status);
	free(t->totals), free(t->days);
	memset(t, 0, sizeof(*t));
}

/* Counts text as the triggers read it (meta_sqlite.c's COUNTS_OK, the text up to a NUL):
 * exactly seven numbers of 1 to 12 digits, no leading zero, single spaces between. 1 with v,
 * or 0: not counted (the image is `uncounted`). */
static int counts_read(const char *c, long long v[7])
{
	if (!c)
		return 0;
	for (int k = 0; k < 7; k++) {
		size_t n = 0;
		long long x = 0;
		while (c[n] >= '0' && c[n] <= '9' && n <= 12)
			x = x * 10 + (c[n++] - '0');
		if (!n || n > 12 || (n > 1 && c[0] == '0'))
			return 0;
		v[k] = x;
		c += n;
		if (k < 6 && *c++ != ' ')
			return 0;
	}
	return *c == 0;
}

/* One image's counts taken away from (sign -1) or added to (1) its repository's, the
 * registry's and (with its namespace) today's rows of status st. */
static void tally_image(struct tally *t, const char *repo, const char *day_ns, const char *st, const char *counts,
			int sign)
{
	long long v[7];
	int ok = counts_read(counts, v);
	const char *keys[3] = {repo, "", day_ns};
	for (int k = 0; k < 3; k++) {
		struct tally_row *e = tally_at(t, k == 2, keys[k], strlen(keys[k]), st);
		if (!e)
			return;
		e->v[0] += sign;
		for (int i = 0; ok && i < 7; i++)
			e->v[1 + i] += sign * v[i];
		if (k < 2 && !ok)
			e->v[8] += sign; /* uncounted (the history has no such column) */
		if (k < 2 && sign < 0)
			e->taken = 1;
	}
}

/* Row repo@digest read before the batch's update of it: *found, and whether the update's
 * status, counts and scanned_at differ from the row's (as the triggers' IS NOT compares them). */
struct tally_prev {
	int found, moved, rescanned, restatus;
	const char *status, *counts; /* counts: NULL when not text (never counted) */
	const char *day_ns;          /* "YYYY-MM-DD/namespace": the history's row, dated as a trigger would */
};

static int tally_read(struct conn *c, struct arena *a, const struct assessment_rec *r, struct tally_prev *p)
{
	memset(p, 0, sizeof(*p));
	struct sq q;
	sq_query_on(&q, c,
		    "SELECT status, iif(typeof(counts)='text', counts, NULL), status IS NOT ?3, counts IS NOT ?4,"
		    " scanned_at IS NOT ?5, date('now') || '/' || substr(repo, 1, instr(repo || '/', '/') - 1)"
		    " FROM assessments WHERE repo=?1 AND digest=?2",
		    TEXT(r->repo), TEXT(r->digest), TEXT(r->status), TEXT(r->counts ? r->counts : ""),
		    INT(r->scanned_at));
	if (sq_row(&q)) {
		p->found = 1;
		p->status = sq_text(a, &q, 0);
		p->counts = sq_text(a, &q, 1);
		p->restatus = (int)sq_int(&q, 2);
		p->moved = (int)sq_int(&q, 3);
		p->rescanned = (int)sq_int(&q, 4);
		p->day_ns = sq_text(a, &q, 5);
	}
	return sq_end(&q, "read assessment");
}

/* What the update triggers would have done for row r after its update from p (status too
 * unless `same_status`: the update left it as it was). */
static void tally_update(struct tally *t, const struct assessment_rec *r, const struct tally_prev *p, int same_status)
{
	const char *st = same_status ? p->status : r->status;
	if (p->moved || (!same_status && p->restatus)) {
		tally_image(t, r->repo, p->day_ns, p->status, p->counts, -1);
		tally_image(t, r->repo, p->day_ns, st, r->counts ? r->counts : "", 1);
	}
	if (p->rescanned) {
		struct tally_row *e = tally_at(t, 1, p->day_ns, strlen(p->day_ns), st);
		if (e)
			e->v[8]++;
	}
}

/* The batch's tally written: each row touched added to its stored one (made when there is
 * none), and a totals row an image left removed when it holds no image. */
static int tally_write(struct conn *c, struct tally *t)
{
	int rc = t->err;
	for (size_t i = 0; !rc && i < t->ntotals; i++) {
		const long long *v = t->totals[i].v;
		rc = sq_exec_on(c, "store assessment totals",
				"INSERT INTO assessment_totals(repo, status, images, critical, high, medium, low,"
				" negligible, unknown, unfixed, uncounted) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)"
				" ON CONFLICT(repo, status) DO UPDATE SET images=assessment_totals.images+excluded.images,"
				" critical=assessment_totals.critical+excluded.critical,"
				" high=assessment_totals.high+excluded.high, medium=assessment_totals.medium+excluded.medium,"
				" low=assessment_totals.low+excluded.low,"
				" negligible=assessment_totals.negligible+excluded.negligible,"
				" unknown=assessment_totals.unknown+excluded.unknown,"
				" unfixed=assessment_totals.unfixed+excluded.unfixed,"
				" uncounted=assessment_totals.uncounted+excluded.uncounted",
				TEXT(t->totals[i].key), TEXT(t->totals[i].status), INT(v[0]), INT(v[1]), INT(v[2]),
				INT(v[3]), INT(v[4]), INT(v[5]), INT(v[6]), INT(v[7]), INT(v[8]));
		if (!rc && t->totals[i].taken)
			rc = sq_exec_on(c, "store assessment totals",
					"DELETE FROM assessment_totals WHERE repo=?1 AND status=?2 AND images=0",
					TEXT(t->totals[i].key), TEXT(t->totals[i].status));
	}
	for (size_t i = 0; !rc && i < t->ndays; i++) {
		const long long *v = t->days[i].v;
		const char *day_ns = t->days[i].key; /* "YYYY-MM-DD/namespace" */
		rc = sq_exec_on(c, "store assessment history",
				"INSERT INTO assessment_days(day, ns, status, images, critical, high, medium, low,"
				" negligible, unknown, unfixed, assessed) VALUES(substr(?1, 1, instr(?1, '/') - 1),"
				" substr(?1, instr(?1, '/') + 1),?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)"
				" ON CONFLICT(day, ns, status) DO UPDATE SET images=assessment_days.images+excluded.images,"
				" critical=assessment_days.critical+excluded.critical,"
				" high=assessment_days.high+excluded.high, medium=assessment_days.medium+excluded.medium,"
				" low=assessment_days.low+excluded.low,"
				" negligible=assessment_days.negligible+excluded.negligible,"
				" unknown=assessment_days.unknown+excluded.unknown,"
				" unfixed=assessment_days.unfixed+excluded.unfixed,"
				" assessed=assessment_days.assessed+excluded.assessed",
				TEXT(day_ns), TEXT(t->days[i].status), INT(v[0]), INT(v[1]), INT(v[2]), INT(v[3]),
				INT(v[4]), INT(v[5]), INT(v[6]), INT(v[7]), INT(v[8]));
	}
	return rc;
}

/* `tallied` changed (whatever a tool left in it), or left as it is when ON is 0 */
#define TALLY_BUMP(ON) "iif(" ON ", iif(tallied IS 1, 2, 1), tallied)"

/* Whether the update triggers in place skip a tallied row (this version's): in the batch's
 * write transaction, so no other process can put others in before it commits. */
static int tally_on(struct conn *c, int *on)
{
	struct sq q;
	sq_query_on(&q, c,
		    "SELECT count(*) FROM sqlite_master WHERE type='trigger' AND name IN ('assessments_totals_update',"
		    " 'assessments_days_update', 'assessments_days_assessed') AND instr(sql, ?1) > 0",
		    TEXT(SQ_UNTALLIED));
	*on = sq_row(&q) && sq_int(&q, 0) == 3;
	return sq_end(&q, "read the triggers");
}

static int complete_one(struct conn *c, const struct scan_done *d, const struct packed_pair *pk, struct tally *t)
{
	const struct assessment_rec *r = &d->rec;
	/* by its name too: SQLite gives a deleted job's id to the next job queued, which may be
	 * another image's (PostgreSQL's identity never gives one twice) */
	int rc = sq_exec_on(c, "finish scan",
			    "UPDATE scan_jobs SET state=" DONE_SQL " WHERE id=?1 AND repo=?2 AND digest=?3 AND state<>" DONE_SQL,
			    INT(d->job), TEXT(r->repo), TEXT(r->digest));
	if (rc || sq_changes(c) == 0) /* the manifest was deleted while it was scanned */
		return rc;
	const char *gen = r->db_generation ? r->db_generation : "";
	struct arena a = {0};
	struct tally_prev p;
	rc = tally_read(c, &a, r, &p);
	if (!rc && d->unchanged) /* the same findings: counts fill rows stored before counts were */
		rc = sq_exec_on(c, "store assessment",
				"UPDATE assessments SET db_generation=?3, scanned_at=?4, duration_us=?5, counts=?6,"
				" tallied=" TALLY_BUMP("?7") " WHERE repo=?1 AND digest=?2",
				TEXT(r->repo), TEXT(r->digest), TEXT(gen), INT(r->scanned_at), INT(r->duration_us),
				TEXT(r->counts ? r->counts : ""), INT(!t->off));
	else if (!rc && p.found)
		rc = sq_exec_on(c, "store assessment",
				"UPDATE assessments SET status=?3, reason=?4, db_generation=?5, scanned_at=?6,"
				" duration_us=?7, findings_hash=?8, counts=?9, tallied=" TALLY_BUMP("?10")
				" WHERE repo=?1 AND digest=?2",
				TEXT(r->repo), TEXT(r->digest), TEXT(r->status), TEXT(r->reason ? r->reason : ""), TEXT(gen),
				INT(r->scanned_at), INT(r->duration_us), TEXT(r->findings_hash ? r->findings_hash : ""),
				TEXT(r->counts ? r->counts : ""), INT(!t->off));
	else if (!rc) /* the image's first: the insert triggers count it */
		rc = sq_exec_on(c, "store assessment",
				"INSERT INTO assessments(repo, digest, status, reason, db_generation, scanned_at,"
				" duration_us, findings_hash, counts) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9)",
				TEXT(r->repo), TEXT(r->digest), TEXT(r->status), TEXT(r->reason ? r->reason : ""), TEXT(gen),
				INT(r->scanned_at), INT(r->duration_us), TEXT(r->findings_hash ? r->findings_hash : ""),
				TEXT(r->counts ? r->counts : ""));
	if (!rc && p.found && !t->off)
		tally_update(t, r, &p, d->unchanged);
	arena_free(&a);
	if (rc || d->unchanged)
		return rc ? rc : complete_rest(c, d);
	rc = sq_exec_on(c, "store assessment",
			"INSERT INTO assessment_reports(repo, digest, report) VALUES(?1,?2,?3)"
			" ON CONFLICT(repo, digest) DO UPDATE SET report=excluded.report",
			TEXT(r->repo), TEXT(r->digest), packed_arg(r->report, pk->report, pk->report_n));
	if (!rc && !d->inventory_kept) /* a re-assessment of the stored inventory keeps it */
		rc = sq_exec_on(c, "store assessment",
				"INSERT INTO assessment_inventories(repo, digest, inventory) VALUES(?1,?2,?3)"
				" ON CONFLICT(repo, digest) DO UPDATE SET inventory=excluded.inventory",
				TEXT(r->repo), TEXT(r->digest), packed_arg(r->inventory, pk->inventory, pk->inventory_n));
	return rc ? rc : complete_rest(c, d);
}

/* PostgreSQL: a batch's assessments stored in a few statements over arrays, not a few per
 * image: each statement is a round trip made under the writers' lock (2,000 images gaining
 * findings: 612 a second in statements of one row each). text[] and bigint[] are bound as array
 * literals; bytea[] in the binary form (as hex in a literal, PostgreSQL spent a quarter of its
 * time storing 100,000 new reports on reading it back). */
/* Columns of one statement's rows, as array literals or binary bytea[]; err: an append failed
 * (out of memory, or past the bound), and the column is not to be sent. */
#define PG_COLS 9
#define PG_BYTEA_OID 17
#define PG_ARRAY_HEAD 20 /* ndim, flags, element type, then the one dimension's length and lower bound */
struct cols {
	struct buf c[PG_COLS];
	size_t elems[PG_COLS]; /* a binary column's elements */
	unsigned char bin[PG_COLS];
	size_t n; /* rows */
	int err;
};

static void put(struct cols *k, int i, const void *p, size_t n)
{
	if (!k->err && buf_append(&k->c[i], p, n))
		k->err = DD_E_TOO_LARGE;
}
static void arr_sep(struct cols *k, int i)
{
	if (k->c[i].len > 1)
		put(k, i, ",", 1);
}
static void arr_text(struct cols *k, int i, const char *v)
{
	arr_sep(k, i);
	put(k, i, "\"", 1);
	for (const char *p = v ? v : ""; *p;) {
		size_t run = strcspn(p, "\"\\");
		put(k, i, p, run);
		p += run;
		if (*p) {
			put(k, i, "\\", 1);
			put(k, i, p++, 1);
		}
	}
	put(k, i, "\"", 1);
}
static void arr_int(struct cols *k, int i, int64_t v)
{
	char t[24];
	arr_sep(k, i);
	put(k, i, t, (size_t)snprintf(t, sizeof(t), "%" PRId64, v));
}
static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16), p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}
/* Column i of k a binary bytea[] (arr_bytes), bound with BLOBS(c.data, c.len). */
static void cols_bytes(struct cols *k, int i)
{
	static const unsigned char head[PG_ARRAY_HEAD];
	k->c[i].len = 0;
	k->bin[i] = 1;
	put(k, i, head, sizeof(head)); /* filled at cols_close */
}
static void arr_bytes(struct cols *k, int i, const unsigned char *z, size_t n)
{
	unsigned char len[4];
	if (n > INT32_MAX) {
		k->err = DD_E_TOO_LARGE;
		return;
	}
	put_be32(len, (uint32_t)n);
	put(k, i, len, 4);
	put(k, i, z, n);
	k->elems[i]++;
}

static void cols_init(struct cols *k)
{
	memset(k, 0, sizeof(*k));
	for (int i = 0; i < PG_COLS; i++) {
		buf_init(&k->c[i], DD_MAX_STORED_TEXT_BYTES * (size_t)4);
		put(k, i, "{", 1);
	}
}
/* Every column's literal closed: 0, or the error of an append that failed. */
static int cols_close(struct cols *k)
{
	for (int i = 0; i < PG_COLS; i++) {
		if (!k->bin[i]) {
			put(k, i, "}", 1);
			continue;
		}
		if (!k->err && k->elems[i] > INT32_MAX)
			k->err = DD_E_TOO_LARGE;
		if (k->err)
			return k->err;
		unsigned char *h = (unsigned char *)k->c[i].data;
		put_be32(h, 1), put_be32(h + 4, 0), put_be32(h + 8, PG_BYTEA_OID);
		put_be32(h + 12, (uint32_t)k->elems[i]), put_be32(h + 16, 1);
	}
	return k->err;
}
static void cols_free(struct cols *k)
{
	for (int i = 0; i < PG_COLS; i++)
		buf_release(&k->c[i]);
}

/* PostgreSQL: the leases of jobs ids renewed, skipping rows a batch is storing at that moment
 * (locked in another order: a deadlock). */
static int ms_scan_renew(struct meta *m, const int64_t *ids, size_t n)
{
	if (!n || sq_dialect(m, NULL) != SQ_PG)
		return 0;
	struct cols k;
	cols_init(&k);
	for (size_t i = 0; i < n; i++)
		arr_int(&k, 0, ids[i]);
	int64_t lease = m->scan_lease > 0 ? m->scan_lease : META_SCAN_LEASE_DEFAULT;
	int rc = cols_close(&k);
	if (!rc)
		rc = sq_exec(m, "renew scan leases",
			     "UPDATE scan_jobs SET lease_until=unixepoch()+?3 WHERE id IN (SELECT id FROM scan_jobs WHERE"
			     " id=ANY(CAST(?1 AS BIGINT[])) AND state=?2 FOR UPDATE SKIP LOCKED)",
			     TEXT(k.c[0].data), INT(SCAN_JOB_RUNNING), INT(lease));
	cols_free(&k);
	return rc;
}


/* A value as PostgreSQL stores it packed (every non-empty value a frame): into column i. */
static int arr_packed(struct cols *k, int i, const char *v, const void *z, size_t zn)
{
	void *own = NULL;
	if (!z && v && *v && !(z = own = sq_pack(v, &zn)))
		return DD_E_NOMEM;
	arr_bytes(k, i, z, z ? zn : 0);
	free(own);
	return 0;
}

/* The arrays of a batch's statements (complete_pg), of the rows marked in kept. */
struct pg_batch {
	struct cols same, changed, reports, invs, requeue;
};

static void batch_free(struct pg_batch *t)
{
	cols_free(&t->same), cols_free(&t->changed), cols_free(&t->reports), cols_free(&t->invs);
	cols_free(&t->requeue);
}

/* An append that failed in any of t's columns. */
static int batch_err(struct pg_batch *t)
{
	struct cols *all[] = {&t->same, &t->changed, &t->reports, &t->invs, &t->requeue};
	for (size_t k = 0; k < DD_ARRAY_LEN(all); k++)
		if (all[k]->err)
			return all[k]->err;
	return 0;
}

/* t's literals closed, to be bound: 0, or the error of an append that failed. */
static int batch_close(struct pg_batch *t)
{
	struct cols *all[] = {&t->same, &t->changed, &t->reports, &t->invs, &t->requeue};
	for (size_t k = 0; k < DD_ARRAY_LEN(all); k++)
		cols_close(all[k]);
	return batch_err(t);
}

static int batch_fill(struct pg_batch *t, const struct scan_done *done, size_t n, const struct packed_pair *pk,
		      const char *kept)
{
	cols_init(&t->same), cols_init(&t->changed), cols_init(&t->reports), cols_init(&t->invs);
	cols_init(&t->requeue);
	cols_bytes(&t->reports, 2), cols_bytes(&t->invs, 2);
	int rc = 0;
	for (size_t i = 0; !rc && i < n; i++) {
		if (!kept[i])
			continue;
		const struct assessment_rec *r = &done[i].rec;
		const char *gen = r->db_generation ? r->db_generation : "";
		if (done[i].unchanged) {
			struct cols *k = &t->same;
			arr_text(k, 0, r->repo), arr_text(k, 1, r->digest), arr_text(k, 2, gen);
			arr_int(k, 3, r->scanned_at), arr_int(k, 4, r->duration_us);
			arr_text(k, 5, r->counts ? r->counts : "");
			k->n++;
		} else {
			struct cols *k = &t->changed;
			arr_text(k, 0, r->repo), arr_text(k, 1, r->digest);
			arr_text(k, 2, r->status), arr_text(k, 3, r->reason ? r->reason : "");
			arr_text(k, 4, gen), arr_int(k, 5, r->scanned_at), arr_int(k, 6, r->duration_us);
			arr_text(k, 7, r->findings_hash ? r->findings_hash : "");
			arr_text(k, 8, r->counts ? r->counts : "");
			k->n++;
			arr_text(&t->reports, 0, r->repo), arr_text(&t->reports, 1, r->digest);
			rc = arr_packed(&t->reports, 2, r->report, pk[i].report, pk[i].report_n);
			t->reports.n++;
			if (!rc && !done[i].inventory_kept) {
				arr_text(&t->invs, 0, r->repo), arr_text(&t->invs, 1, r->digest);
				rc = arr_packed(&t->invs, 2, r->inventory, pk[i].inventory, pk[i].inventory_n);
				t->invs.n++;
			}
		}
		if (scan_done_reassessable(&done[i])) { /* a push with nothing read is not read again */
			arr_text(&t->requeue, 0, r->repo), arr_text(&t->requeue, 1, r->digest);
			arr_text(&t->requeue, 2, gen);
			t->requeue.n++;
		}
	}
	return rc ? rc : batch_err(t);
}

/* The stored rows of the batch's kept images, read in one statement before its updates, tallied
 * as complete_one tallies each on SQLite (an image stored for the first time is inserted, and
 * counted by the insert trigger). */
static int tally_pg(struct conn *c, const struct scan_done *done, size_t n, const char *kept, struct tally *tl)
{
	struct cols k;
	cols_init(&k);
	size_t *at = malloc((n ? n : 1) * sizeof(*at)), m = 0;
	for (size_t i = 0; at && i < n; i++) {
		if (!kept[i])
			continue;
		const struct assessment_rec *r = &done[i].rec;
		arr_text(&k, 0, r->repo), arr_text(&k, 1, r->digest), arr_text(&k, 2, r->status);
		arr_text(&k, 3, r->counts ? r->counts : ""), arr_int(&k, 4, r->scanned_at);
		at[m++] = i;
	}
	int rc = at ? cols_close(&k) : DD_E_NOMEM;
	if (!rc && m) {
		struct arena a = {0};
		struct sq q;
		sq_query_on(&q, c,
			    "SELECT v.i, a.status, a.counts, CASE WHEN a.status IS DISTINCT FROM v.st THEN 1 ELSE 0 END,"
			    " CASE WHEN a.counts IS DISTINCT FROM v.c THEN 1 ELSE 0 END,"
			    " CASE WHEN a.scanned_at IS DISTINCT FROM v.t THEN 1 ELSE 0 END,"
			    " to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD') || '/' || split_part(a.repo, '/', 1)"
			    " FROM unnest(CAST(?1 AS TEXT[]), CAST(?2 AS TEXT[]), CAST(?3 AS TEXT[]), CAST(?4 AS TEXT[]),"
			    " CAST(?5 AS BIGINT[])) WITH ORDINALITY AS v(repo, digest, st, c, t, i)"
			    " JOIN assessments a ON a.repo=v.repo AND a.digest=v.digest",
			    TEXT(k.c[0].data), TEXT(k.c[1].data), TEXT(k.c[2].data), TEXT(k.c[3].data),
			    TEXT(k.c[4].data));
		while (sq_row(&q)) {
			int64_t j = sq_int(&q, 0);
			if (j < 1 || (size_t)j > m)
				continue;
			size_t i = at[j - 1];
			struct tally_prev p = {.found = 1};
			p.status = sq_text(&a, &q, 1);
			p.counts = sq_text(&a, &q, 2); /* NULL reads "": not counted either way */
			p.restatus = (int)sq_int(&q, 3);
			p.moved = (int)sq_int(&q, 4);
			p.rescanned = (int)sq_int(&q, 5);
			p.day_ns = sq_text(&a, &q, 6);
			tally_update(tl, &done[i].rec, &p, done[i].unchanged);
		}
		rc = sq_end(&q, "read assessments");
		arena_free(&a);
	}
	cols_free(&k);
	free(at);
	return rc;
}

/* The batch's statements, in the write transaction on c; t was filled for every row (before
 * the transaction: the writers wait for no array text), and again here when a job is gone. */
static int complete_pg(struct conn *c, const struct scan_done *done, size_t n, const struct packed_pair *pk,
		       struct pg_batch *t)
{
	struct cols ids;
	cols_init(&ids);
	for (size_t i = 0; i < n; i++)
		arr_int(&ids, 0, done[i].job);
	char *kept = calloc(n ? n : 1, 1);
	size_t nkept = 0;
	int rc = kept ? cols_close(&ids) : DD_E_NOMEM;
	if (!rc) { /* the jobs still there: the others' manifests were deleted while they were scanned */
		struct sq q;
		sq_query_on(&q, c, "DELETE FROM scan_jobs WHERE id = ANY(CAST(?1 AS BIGINT[])) RETURNING id",
			    TEXT(ids.c[0].data));
		while (sq_row(&q)) {
			int64_t id = sq_int(&q, 0);
			for (size_t i = 0; i < n; i++)
				if (done[i].job == id && !kept[i])
					kept[i] = 1, nkept++;
		}
		rc = sq_end(&q, "finish scans");
	}
	cols_free(&ids);
	if (!rc && nkept < n) {
		batch_free(t);
		rc = batch_fill(t, done, n, pk, kept);
	}
	struct tally tl = {0};
	if (!rc)
		rc = tally_pg(c, done, n, kept, &tl);
	if (!rc)
		rc = batch_close(t);
	if (!rc && t->same.n)
		rc = sq_exec_on(c, "store assessments",
				"UPDATE assessments a SET db_generation=v.g, scanned_at=v.t, duration_us=v.d, counts=v.c,"
				" tallied=CASE WHEN a.tallied=1 THEN 2 ELSE 1 END FROM unnest(CAST(?1 AS TEXT[]), CAST(?2 AS TEXT[]), CAST(?3 AS TEXT[]),"
				" CAST(?4 AS BIGINT[]), CAST(?5 AS BIGINT[]), CAST(?6 AS TEXT[])) AS v(repo, digest, g, t, d, c)"
				" WHERE a.repo=v.repo AND a.digest=v.digest",
				TEXT(t->same.c[0].data), TEXT(t->same.c[1].data), TEXT(t->same.c[2].data),
				TEXT(t->same.c[3].data), TEXT(t->same.c[4].data), TEXT(t->same.c[5].data));
	if (!rc && t->changed.n)
		rc = sq_exec_on(c, "store assessments",
				"INSERT INTO assessments(repo, digest, status, reason, db_generation, scanned_at,"
				" duration_us, findings_hash, counts) SELECT * FROM unnest(CAST(?1 AS TEXT[]),"
				" CAST(?2 AS TEXT[]), CAST(?3 AS TEXT[]), CAST(?4 AS TEXT[]), CAST(?5 AS TEXT[]),"
				" CAST(?6 AS BIGINT[]), CAST(?7 AS BIGINT[]), CAST(?8 AS TEXT[]), CAST(?9 AS TEXT[]))"
				" ON CONFLICT(repo, digest) DO UPDATE SET status=excluded.status, reason=excluded.reason,"
				" db_generation=excluded.db_generation, scanned_at=excluded.scanned_at,"
				" duration_us=excluded.duration_us, findings_hash=excluded.findings_hash,"
				" counts=excluded.counts, tallied=CASE WHEN assessments.tallied=1 THEN 2 ELSE 1 END",
				TEXT(t->changed.c[0].data), TEXT(t->changed.c[1].data), TEXT(t->changed.c[2].data),
				TEXT(t->changed.c[3].data), TEXT(t->changed.c[4].data), TEXT(t->changed.c[5].data),
				TEXT(t->changed.c[6].data), TEXT(t->changed.c[7].data), TEXT(t->changed.c[8].data));
	if (!rc && t->reports.n)
		rc = sq_exec_on(c, "store assessments",
				"INSERT INTO assessment_reports(repo, digest, report) SELECT * FROM unnest(CAST(?1 AS TEXT[]),"
				" CAST(?2 AS TEXT[]), CAST(?3 AS BYTEA[])) ON CONFLICT(repo, digest) DO UPDATE SET"
				" report=excluded.report",
				TEXT(t->reports.c[0].data), TEXT(t->reports.c[1].data),
				BLOBS(t->reports.c[2].data, t->reports.c[2].len));
	if (!rc && t->invs.n)
		rc = sq_exec_on(c, "store assessments",
				"INSERT INTO assessment_inventories(repo, digest, inventory) SELECT * FROM"
				" unnest(CAST(?1 AS TEXT[]), CAST(?2 AS TEXT[]), CAST(?3 AS BYTEA[])) ON CONFLICT(repo, digest)"
				" DO UPDATE SET inventory=excluded.inventory",
				TEXT(t->invs.c[0].data), TEXT(t->invs.c[1].data),
				BLOBS(t->invs.c[2].data, t->invs.c[2].len));
	/* many nodes: an assessment made with another database than the newest a node has offered
	 * (db_generation_offer) is made again by a node that has the newest */
	if (!rc && t->requeue.n)
		rc = sq_exec_on(c, "queue re-assessment",
				"INSERT INTO scan_jobs(repo, digest, priority, state, enqueued) SELECT v.repo, v.digest,"
				" ?4, ?5, ?6 FROM unnest(CAST(?1 AS TEXT[]), CAST(?2 AS TEXT[]), CAST(?3 AS TEXT[]))"
				" AS v(repo, digest, g) WHERE EXISTS(SELECT 1 FROM settings WHERE key='vulndb/generation'"
				" AND value<>v.g) ON CONFLICT DO NOTHING",
				TEXT(t->requeue.c[0].data), TEXT(t->requeue.c[1].data), TEXT(t->requeue.c[2].data),
				INT(SCAN_REASSESS), INT(SCAN_JOB_QUEUED), INT(util_now()));
	for (size_t i = 0; !rc && i < n; i++) {
		if (!kept[i])
			continue;
		for (size_t k = 0; !rc && k < done[i].nevents; k++)
			rc = sq_outbox_insert(c, &done[i].events[k]);
		if (!rc && done[i].ns)
			rc = count_scan(c, &done[i]);
	}
	if (!rc)
		rc = tally_write(c, &tl);
	tally_free(&tl);
	free(kept);
	return rc;
}

static void *prepack(const char *v, size_t *zn)
{
	return v && strnlen(v, SQ_PACK_MIN) >= SQ_PACK_MIN ? sq_pack(v, zn) : NULL;
}

static int ms_scan_complete(struct meta *m, const struct scan_done *done, size_t n)
{
	struct packed_pair *pk = calloc(n ? n : 1, sizeof(*pk));
	if (!pk)
		return DD_E_NOMEM;
	for (size_t i = 0; i < n; i++)
		if (!done[i].unchanged) {
			pk[i].report = prepack(done[i].rec.report, &pk[i].report_n);
			if (!done[i].inventory_kept)
				pk[i].inventory = prepack(done[i].rec.inventory, &pk[i].inventory_n);
		}
	int pg = sq_dialect(m, NULL) == SQ_PG, rc = 0;
	struct pg_batch t;
	memset(&t, 0, sizeof(t));
	if (pg) {
		char *all = malloc(n ? n : 1);
		if (all)
			memset(all, 1, n ? n : 1);
		rc = all ? batch_fill(&t, done, n, pk, all) : DD_E_NOMEM;
		free(all);
	}
	struct conn *c = NULL;
	if (!rc)
		rc = sq_tx_begin_lazy(m, &c);
	if (!rc && pg)
		rc = complete_pg(c, done, n, pk, &t);
	else {
		struct tally t = {0};
		int on = 0;
		static int warned;
		if (!rc)
			rc = tally_on(c, &on);
		if (!rc && !on) {
			t.off = 1;
			if (!__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED))
				log_warn("the assessments' triggers in meta.db are another version's: stored scans are"
					 " counted by them (is another drydock version using this data directory?)");
		}
		for (size_t i = 0; i < n && !rc; i++)
			rc = complete_one(c, &done[i], &pk[i], &t);
		if (!rc)
			rc = tally_write(c, &t);
		tally_free(&t);
	}
	rc = sq_tx_end(c, rc);
	if (pg)
		batch_free(&t);
	for (size_t i = 0; i < n; i++) {
		free(pk[i].report);
		free(pk[i].inventory);
	}
	free(pk);
	return rc;
}

static int ms_scan_recover(struct meta *m)
{
	struct conn *c;
	int rc = sq_conn_get(m, &c);
	if (rc)
		return rc;
	/* one node's start: every running job was this process's. Many nodes on PostgreSQL: a
	 * running job is another node's until its lease runs out (claim_pg) */
	if (sq_dialect(m, NULL) != SQ_PG)
		rc = sq_exec_on(c, "requeue scans", "UPDATE scan_jobs SET state=?1 WHERE state=?2", INT(SCAN_JOB_QUEUED),
				INT(SCAN_JOB_RUNNING));
	if (!rc && sq_dialect(m, NULL) != SQ_PG) /* and no DONE row is left to queue again below */
		rc = sq_exec_on(c, "clear done scans", "DELETE FROM scan_jobs WHERE state=" DONE_SQL, NOARGS);
	if (!rc)
		rc = sq_exec_on(c, "queue missing scans",
				"INSERT INTO scan_jobs(repo, digest, priority, state, enqueued)"
				" SELECT m.repo, m.digest, ?2, ?3, ?1 FROM manifests m WHERE NOT EXISTS (SELECT 1 FROM"
				" assessments a WHERE a.repo=m.repo AND a.digest=m.digest) ON CONFLICT DO NOTHING",
				INT(util_now()), INT(SCAN_PUSH), INT(SCAN_JOB_QUEUED));
	sq_conn_put(c);
	return rc;
}

/* A Failed assessment with an inventory failed in matching (a database that turned out damaged,
 * say): tried again whenever a database is put in place, even of the same build. */
static int ms_scan_enqueue_stale(struct meta *m, const char *generation, int64_t *queued)
{
	*queued = 0;
	struct sq q;
	/* SQLite: queued in the order the inventories lie in the file, so that the workers read
	 * them page after page, not one page an image; length() reads no value, only its size */
	sq_query(&q, m,
		 PG_OR("INSERT INTO scan_jobs(repo, digest, priority, state, enqueued)"
		       " SELECT a.repo, a.digest, ?3, ?4, ?2 FROM assessments a JOIN assessment_inventories i"
		       " ON i.repo=a.repo AND i.digest=a.digest WHERE (a.db_generation<>?1 OR a.status='Failed')"
		       " AND length(i.inventory)>0 ORDER BY i.rowid" REVIVE_DONE,
		       "INSERT INTO scan_jobs(repo, digest, priority, state, enqueued)"
		       " SELECT a.repo, a.digest, ?3, ?4, ?2 FROM assessments a JOIN assessment_inventories i"
		       " ON i.repo=a.repo AND i.digest=a.digest WHERE (a.db_generation<>?1 OR a.status='Failed')"
		       " AND i.inventory<>'' ON CONFLICT DO NOTHING"),
		 TEXT(generation), INT(util_now()), INT(SCAN_REASSESS), INT(SCAN_JOB_QUEUED));
	int rc = sq_done(&q, "queue re-assessments");
	if (!rc)
		*queued = q.changes;
	/* PostgreSQL plans by the table's statistics: ones taken while the queue was empty (or none
	 * yet) made the claims' and the leases' statements scan the whole table for each row, once
	 * 100,000 jobs were queued (a claim took 14 ms, a look for leases run out 37 s). Taken
	 * again now, not at autovacuum's next round */
	if (!rc && *queued >= 1000 && sq_dialect(m, NULL) == SQ_PG &&
	    sq_exec(m, "take the scan queue's statistics", "ANALYZE scan_jobs", NOARGS))
		log_warn("the scan queue's statistics were not taken again: autovacuum takes them at its next round");
	return rc;
}

static int ms_db_generation_offer(struct meta *m, struct arena *a, const char *generation, int64_t built_at,
				  int replaced, int *behind, const char **newest, int64_t *newest_built_at)
{
	*behind = 0;
	*newest = generation;
	*newest_built_at = built_at;
	if (!m->shared)
		return 0;
	struct conn *c;
	int rc = sq_tx_begin(m, &c);
	const char *g = "";
	int64_t b = 0;
	if (!rc) {
		struct sq q;
		sq_query_on(&q, c,
			    "SELECT (SELECT value FROM settings WHERE key='vulndb/generation'),"
			    " (SELECT CAST(value AS BIGINT) FROM settings WHERE key='vulndb/built-at')",
			    NOARGS);
		if (sq_row(&q)) {
			g = sq_text(a, &q, 0);
			b = sq_int(&q, 1);
		}
		rc = sq_end(&q, "database generation");
	}
	if (!rc && !replaced && *g && (b > built_at || (b == built_at && strcmp(g, generation) > 0))) {
		*behind = 1;
		*newest = g;
		*newest_built_at = b;
	} else if (!rc && strcmp(g, generation)) {
		rc = sq_exec_on(c, "database generation",
				"INSERT INTO settings(key, value) VALUES('vulndb/generation', ?1)"
				" ON CONFLICT(key) DO UPDATE SET value=excluded.value",
				TEXT(generation));
		if (!rc)
			rc = sq_exec_on(c, "database generation",
					"INSERT INTO settings(key, value) VALUES('vulndb/built-at', CAST(?1 AS TEXT))"
					" ON CONFLICT(key) DO UPDATE SET value=excluded.value",
					INT(built_at));
	}
	return sq_tx_end(c, rc);
}

static int ms_scan_enqueue(struct meta *m, const char *repo, const char *digest, enum scan_priority p, int *queued)
{
	*queued = 0;
	struct sq q;
	sq_query(&q, m,
		 PG_OR("INSERT INTO scan_jobs(repo, digest, priority, state, enqueued) SELECT repo, digest, ?3, ?4, ?5"
		       " FROM manifests WHERE repo=?1 AND digest=?2" REVIVE_DONE,
		       "INSERT INTO scan_jobs(repo, digest, priority, state, enqueued) SELECT repo, digest, ?3, ?4, ?5"
		       " FROM manifests WHERE repo=?1 AND digest=?2 ON CONFLICT DO NOTHING"),
		 TEXT(repo), TEXT(digest), INT(p), INT(SCAN_JOB_QUEUED), INT(util_now()));
	int rc = sq_done(&q, "queue a scan");
	if (rc)
		return rc;
	*queued = q.changes > 0;
	if (*queued)
		return 0;
	sq_query(&q, m, "SELECT 1 FROM manifests WHERE repo=?1 AND digest=?2", TEXT(repo), TEXT(digest));
	int have = sq_row(&q);
	if ((rc = sq_end(&q, "queue a scan")))
		return rc;
	return have ? 0 : DD_E_MANIFEST_UNKNOWN;
}

static int ms_scan_job_state(struct meta *m, const char *repo, const char *digest, enum scan_job_state *state)
{
	*state = SCAN_JOB_NONE;
	struct sq q;
	sq_query(&q, m, "SELECT state FROM scan_jobs WHERE repo=?1 AND digest=?2 AND state<>" DONE_SQL, TEXT(repo),
		 TEXT(digest));
	if (sq_row(&q))
		*state = (enum scan_job_state)sq_int(&q, 0);
	return sq_end(&q, "scan state");
}

static int ms_scan_queue_depth(struct meta *m, int64_t *queued, int64_t *running)
{
	*queued = *running = 0;
	struct sq q;
	/* counted in the index scan_jobs_next, not the rows (the health check asks often; 100,000
	 * queued re-assessments: a twentieth of the CPU while they ran, polled every 50 ms) */
	sq_query(&q, m,
		 "SELECT (SELECT count(*) FROM scan_jobs WHERE state=?1), (SELECT count(*) FROM scan_jobs WHERE state=?2)",
		 INT(SCAN_JOB_QUEUED), INT(SCAN_JOB_RUNNING));
	if (sq_row(&q)) {
		*queued = sq_int(&q, 0);
		*running = sq_int(&q, 1);
	}
	return sq_end(&q, "queue depth");
}

static int ms_assessment_get(struct meta *m, struct arena *a, const char *repo, const char *digest,
			     struct assessment_rec *out)
{
	memset(out, 0, sizeof(*out));
	struct sq q;
	sq_query(&q, m,
		 "SELECT a.status, a.reason, r.report, i.inventory, a.db_generation, a.scanned_at, a.duration_us,"
		 " a.counts FROM assessments a LEFT JOIN assessment_reports r ON r.repo=a.repo AND r.digest=a.digest"
		 " LEFT JOIN assessment_inventories i ON i.repo=a.repo AND i.digest=a.digest"
		 " WHERE a.repo=?1 AND a.digest=?2",
		 TEXT(repo), TEXT(digest));
	if (sq_row(&q)) {
		out->repo = arena_strdup(a, repo);
		out->digest = arena_strdup(a, digest);
		out->status = sq_text(a, &q, 0);
		out->reason = sq_text(a, &q, 1);
		out->report = sq_unpacked(a, &q, 2);
		out->inventory = sq_unpacked(a, &q, 3);
		out->db_generation = sq_text(a, &q, 4);
		out->scanned_at = sq_int(&q, 5);
		out->duration_us = sq_int(&q, 6);
		out->counts = sq_text(a, &q, 7);
	}
	return sq_one(&q, "assessment", DD_E_NOT_FOUND);
}

/* The packed column `col` ("report" or "inventory") of (repo, digest), with its findings hash. */
static int packed_of(struct meta *m, struct arena *a, const char *repo, const char *digest, const char *col,
		     const char **text, const char **findings_hash)
{
	*text = *findings_hash = NULL;
	struct sq q;
	if (!strcmp(col, "report")) /* statements are literals: the column is chosen here, not passed in */
		sq_query(&q, m,
			 "SELECT r.report, a.findings_hash FROM assessments a LEFT JOIN assessment_reports r"
			 " ON r.repo=a.repo AND r.digest=a.digest WHERE a.repo=?1 AND a.digest=?2",
			 TEXT(repo), TEXT(digest));
	else
		sq_query(&q, m,
			 "SELECT i.inventory, a.findings_hash FROM assessments a LEFT JOIN assessment_inventories i"
			 " ON i.repo=a.repo AND i.digest=a.digest WHERE a.repo=?1 AND a.digest=?2",
			 TEXT(repo), TEXT(digest));
	if (sq_row(&q)) {
		*text = sq_unpacked(a, &q, 0);
		*findings_hash = sq_text(a, &q, 1);
	}
	return sq_one(&q, col, DD_E_NOT_FOUND);
}

static int ms_assessment_inventory(struct meta *m, struct arena *a, const char *repo, const char *digest,
				   const char **inventory, const char **findings_hash)
{
	return packed_of(m, a, repo, digest, "inventory", inventory, findings_hash);
}

static int ms_assessment_inventories(struct meta *m, struct arena *a, const struct scan_job *jobs, size_t n,
				     int64_t max_bytes, const char **inventory, const char **findings_hash,
				     size_t *answered)
{
	for (size_t i = 0; i < n; i++)
		inventory[i] = findings_hash[i] = NULL;
	*answered = 0;
	if (!n)
		return 0;
	int rc = 0;
	if (sq_dialect(m, NULL) != SQ_PG) {
		rc = packed_of(m, a, jobs[0].repo, jobs[0].digest, "inventory", &inventory[0], &findings_hash[0]);
		*answered = 1;
		return rc == DD_E_NOT_FOUND ? 0 : rc;
	}
	struct cols k;
	cols_init(&k);
	for (size_t i = 0; i < n; i++) {
		arr_text(&k, 0, jobs[i].repo), arr_text(&k, 1, jobs[i].digest);
		k.n++;
	}
	rc = cols_close(&k);
	if (!rc) {
		/* the stored bytes of the rows before each: those past max_bytes are answered next time
		 * (their inventories not sent), the first always */
		struct sq q;
		sq_query(&q, m,
			 "SELECT k, CASE WHEN before < ?3 THEN inventory END, findings_hash, CASE WHEN before < ?3 THEN 1"
			 " ELSE 0 END FROM (SELECT v.k, i.inventory, a.findings_hash, coalesce(sum(octet_length(i.inventory))"
			 " OVER (ORDER BY v.k ROWS UNBOUNDED PRECEDING), 0) - coalesce(octet_length(i.inventory), 0) AS before"
			 " FROM unnest(CAST(?1 AS TEXT[]), CAST(?2 AS TEXT[])) WITH ORDINALITY AS v(repo, digest, k)"
			 " JOIN assessments a ON a.repo=v.repo AND a.digest=v.digest LEFT JOIN assessment_inventories i"
			 " ON i.repo=a.repo AND i.digest=a.digest) x ORDER BY k",
			 TEXT(k.c[0].data), TEXT(k.c[1].data), INT(max_bytes));
		size_t upto = n; /* the first job not answered */
		while (sq_row(&q)) {
			int64_t j = sq_int(&q, 0);
			if (j < 1 || (size_t)j > n)
				continue;
			if (!sq_int(&q, 3)) {
				if ((size_t)j - 1 < upto)
					upto = (size_t)j - 1;
				continue;
			}
			inventory[j - 1] = sq_unpacked(a, &q, 1);
			findings_hash[j - 1] = sq_text(a, &q, 2);
		}
		rc = sq_end(&q, "inventories");
		for (size_t i = upto; i < n; i++) /* (rows the order gave before the cut are beyond it) */
			inventory[i] = findings_hash[i] = NULL;
		*answered = upto ? upto : 1;
	}
	cols_free(&k);
	return rc;
}

/* What listings read of an assessment: its small columns. */
#define LIST_COLUMNS "repo, digest, status, reason, db_generation, scanned_at, duration_us, counts"

/* Rows read per statement: the statement (and its connection) is done before fn runs, which may
 * read the store itself on the pool's other connections. */
#define EACH_BATCH 32

static int ms_assessments_each(struct meta *m, const char *repo,
			       int (*fn)(void *ctx, const struct assessment_rec *rec), void *ctx)
{
	char *last_repo = strdup(""), *last_digest = strdup("");
	int rc = 0, more = 1;
	while (!rc && more && last_repo && last_digest) {
		struct arena a = {0};
		struct assessment_rec v[EACH_BATCH];
		size_t n = 0;
		struct sq q;
		sq_query(&q, m,
			 "SELECT a.repo, a.digest, a.status, a.reason, r.report, a.db_generation, a.scanned_at,"
			 " a.duration_us, a.counts, a.findings_hash FROM assessments a LEFT JOIN assessment_reports r"
			 " ON r.repo=a.repo AND r.digest=a.digest WHERE (?1 IS NULL OR a.repo=?1)"
			 " AND (a.repo, a.digest) > (?2, ?3) ORDER BY a.repo, a.digest LIMIT ?4",
			 TEXT(repo), TEXT(last_repo), TEXT(last_digest), INT(EACH_BATCH));
		while (n < EACH_BATCH && sq_row(&q)) {
			struct assessment_rec *x = &v[n++];
			memset(x, 0, sizeof(*x));
			x->inventory = "";
			x->repo = sq_text(&a, &q, 0);
			x->digest = sq_text(&a, &q, 1);
			x->status = sq_text(&a, &q, 2);
			x->reason = sq_text(&a, &q, 3);
			x->report = sq_unpacked(&a, &q, 4);
			x->db_generation = sq_text(&a, &q, 5);
			x->scanned_at = sq_int(&q, 6);
			x->duration_us = sq_int(&q, 7);
			x->counts = sq_text(&a, &q, 8);
			x->findings_hash = sq_text(&a, &q, 9);
		}
		rc = sq_end(&q, "assessments");
		more = n == EACH_BATCH;
		if (n) {
			free(last_repo);
			free(last_digest);
			last_repo = strdup(v[n - 1].repo);
			last_digest = strdup(v[n - 1].digest);
		}
		for (size_t i = 0; i < n && !rc; i++)
			rc = fn(ctx, &v[i]);
		arena_free(&a);
	}
	if (!rc && (!last_repo || !last_digest))
		rc = DD_E_NOMEM;
	free(last_repo);
	free(last_digest);
	return rc;
}

static int cmp_stamp(const void *x, const void *y)
{
	const struct assessment_rec *a = x, *b = y;
	int c = strcmp(a->repo, b->repo);
	return c ? c : strcmp(a->digest, b->digest);
}

static int ms_assessment_stamps(struct meta *m, struct arena *a, const char *repo, struct assessment_rec **out,
				size_t *n)
{
	*out = NULL;
	*n = 0;
	struct sq q;
	/* the rows in the table's order (a repository's by its key), sorted here: no index holds the
	 * hashes, which change with every re-assessment that changes findings */
	if (repo)
		sq_query(&q, m, "SELECT repo, digest, findings_hash FROM assessments WHERE repo=?1", TEXT(repo));
	else
		sq_query(&q, m, "SELECT repo, digest, findings_hash FROM assessments", NOARGS);
	size_t cap = 0;
	struct assessment_rec *v = NULL;
	while (sq_row(&q)) {
		v = arena_grow(a, v, *n, &cap, sizeof(*v));
		struct assessment_rec *x = &v[(*n)++];
		x->repo = sq_text(a, &q, 0);
		x->digest = sq_text(a, &q, 1);
		x->findings_hash = sq_text(a, &q, 2);
		x->status = x->reason = x->report = x->inventory = x->db_generation = x->counts = "";
	}
	int rc = sq_end(&q, "assessment stamps");
	if (!rc && *n > 1)
		qsort(v, *n, sizeof(*v), cmp_stamp);
	*out = v;
	return rc;
}

static int ms_assessment_report(struct meta *m, struct arena *a, const char *repo, const char *digest,
				const char **report, const char **findings_hash)
{
	return packed_of(m, a, repo, digest, "report", report, findings_hash);
}

static int ms_assessments_list(struct meta *m, struct arena *a, const char *repo, struct assessment_rec **out,
			       size_t *n)
{
	*out = NULL;
	*n = 0;
	struct sq q;
	if (repo)
		sq_query(&q, m, "SELECT " LIST_COLUMNS " FROM assessments WHERE repo=?1 ORDER BY repo, digest", TEXT(repo));
	else
		sq_query(&q, m, "SELECT " LIST_COLUMNS " FROM assessments ORDER BY repo, digest", NOARGS);
	size_t cap = 0;
	struct assessment_rec *v = NULL;
	while (sq_row(&q)) {
		v = arena_grow(a, v, *n, &cap, sizeof(*v));
		struct assessment_rec *x = &v[(*n)++];
		x->repo = sq_text(a, &q, 0);
		x->digest = sq_text(a, &q, 1);
		x->status = sq_text(a, &q, 2);
		x->reason = sq_text(a, &q, 3);
		x->report = x->inventory = "";
		x->db_generation = sq_text(a, &q, 4);
		x->scanned_at = sq_int(&q, 5);
		x->duration_us = sq_int(&q, 6);
		x->counts = sq_text(a, &q, 7);
	}
	*out = v;
	return sq_end(&q, "assessments");
}

#define TOTALS_SELECT                                                                                     \
	"SELECT repo, status, images, critical, high, medium, low, negligible, unknown, unfixed, uncounted" \
	" FROM assessment_totals"

static int ms_assessment_totals(struct meta *m, struct arena *a, const char *repo, struct assessment_total **out,
				size_t *n)
{
	*out = NULL;
	*n = 0;
	struct sq q;
	if (repo)
		sq_query(&q, m, TOTALS_SELECT " WHERE repo=?1 AND images<>0 ORDER BY status", TEXT(repo));
	else
		sq_query(&q, m, TOTALS_SELECT " WHERE repo<>'' AND images<>0 ORDER BY repo, status", NOARGS);
	size_t cap = 0;
	struct assessment_total *v = NULL;
	while (sq_row(&q)) {
		if (*n == cap) {
			size_t nc = cap ? cap * 2 : 8;
			struct assessment_total *nv = arena_alloc(a, nc * sizeof(*nv));
			if (*n)
				memcpy(nv, v, *n * sizeof(*nv));
			v = nv;
			cap = nc;
		}
		struct assessment_total *x = &v[(*n)++];
		x->repo = sq_text(a, &q, 0);
		x->status = sq_text(a, &q, 1);
		x->images = sq_int(&q, 2);
		for (int k = 0; k < 6; k++)
			x->severity[k] = sq_int(&q, 3 + k);
		x->unfixed = sq_int(&q, 9);
		x->uncounted = sq_int(&q, 10);
	}
	*out = v;
	return sq_end(&q, "assessment totals");
}

static int ms_assessment_days(struct meta *m, struct arena *a, const char *since, struct assessment_day **out,
			      size_t *n)
{
	*out = NULL;
	*n = 0;
	struct sq q;
	/* the days before `since`: the running totals less every change since (the triggers keep both
	 * in the same transactions), so older history is never read however long it grows */
	sq_query(&q, m,
		 "SELECT '' AS d, ns, status, sum(images), sum(critical), sum(high), sum(medium), sum(low),"
		 " sum(negligible), sum(unknown), sum(unfixed), 0 FROM ("
		 " SELECT substr(repo, 1, instr(repo || '/', '/') - 1) AS ns, status, images, critical, high, medium, low,"
		 " negligible, unknown, unfixed FROM assessment_totals WHERE repo<>''"
		 " UNION ALL SELECT ns, status, -images, -critical, -high, -medium, -low, -negligible, -unknown, -unfixed"
		 " FROM assessment_days WHERE day >= ?1) AS t GROUP BY ns, status"
		 " UNION ALL SELECT day, ns, status, sum(images), sum(critical), sum(high), sum(medium), sum(low),"
		 " sum(negligible), sum(unknown), sum(unfixed), sum(assessed) FROM assessment_days WHERE day >= ?1"
		 " GROUP BY day, ns, status ORDER BY 1, 2, 3",
		 TEXT(since));
	size_t cap = 0;
	struct assessment_day *v = NULL;
	while (sq_row(&q)) {
		v = arena_grow(a, v, *n, &cap, sizeof(*v));
		struct assessment_day *x = &v[(*n)++];
		x->day = sq_text(a, &q, 0);
		x->ns = sq_text(a, &q, 1);
		x->status = sq_text(a, &q, 2);
		x->images = sq_int(&q, 3);
		for (int k = 0; k < 6; k++)
			x->severity[k] = sq_int(&q, 4 + k);
		x->unfixed = sq_int(&q, 10);
		x->assessed = sq_int(&q, 11);
	}
	*out = v;
	return sq_end(&q, "assessment history");
}

#define USAGE_MAX 256 /* (namespace, month) rows listed */

static int ms_usage_list(struct meta *m, struct arena *a, const char ***ns, const char ***month, int64_t **count,
			 size_t *n)
{
	*n = 0;
	*ns = arena_alloc(a, USAGE_MAX * sizeof(**ns));
	*month = arena_alloc(a, USAGE_MAX * sizeof(**month));
	*count = arena_alloc(a, USAGE_MAX * sizeof(**count));
	struct sq q;
	sq_query(&q, m, "SELECT namespace, month, scans FROM scan_usage ORDER BY namespace, month", NOARGS);
	while (sq_row(&q) && *n < USAGE_MAX) {
		(*ns)[*n] = sq_text(a, &q, 0);
		(*month)[*n] = sq_text(a, &q, 1);
		(*count)[(*n)++] = sq_int(&q, 2);
	}
	return sq_end(&q, "usage");
}

static int ms_ns_scanning_get(struct meta *m, const char *ns, int *enabled)
{
	*enabled = 1;
	struct sq q;
	sq_query(&q, m, "SELECT scanning FROM namespace_settings WHERE namespace=?1", TEXT(ns));
	if (sq_row(&q))
		*enabled = sq_int(&q, 0) != 0;
	return sq_end(&q, "namespace setting");
}

static int ms_ns_scanning_set(struct meta *m, const char *ns, int enabled)
{
	return sq_exec(m, "namespace setting",
		       "INSERT INTO namespace_settings(namespace, scanning) VALUES(?1,?2)"
		       " ON CONFLICT(namespace) DO UPDATE SET scanning=excluded.scanning",
		       TEXT(ns), INT(enabled));
}

const struct meta_scans_ops meta_sql_scans = {
	.scan_claim = ms_scan_claim,
	.scan_complete = ms_scan_complete,
	.scan_renew = ms_scan_renew,
	.scan_recover = ms_scan_recover,
	.scan_enqueue_stale = ms_scan_enqueue_stale,
	.db_generation_offer = ms_db_generation_offer,
	.scan_enqueue = ms_scan_enqueue,
	.scan_job_state = ms_scan_job_state,
	.scan_queue_depth = ms_scan_queue_depth,
	.assessment_get = ms_assessment_get,
	.assessment_inventory = ms_assessment_inventory,
	.assessment_inventories = ms_assessment_inventories,
	.assessments_each = ms_assessments_each,
	.assessment_stamps = ms_assessment_stamps,
	.assessment_report = ms_assessment_report,
	.assessments_list = ms_assessments_list,
	.assessment_totals = ms_assessment_totals,
	.assessment_days = ms_assessment_days,
	.usage_list = ms_usage_list,
	.ns_scanning_get = ms_ns_scanning_get,
	.ns_scanning_set = ms_ns_scanning_set,
};
