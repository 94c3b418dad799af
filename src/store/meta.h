/* meta.h: the metadata store: struct meta, how one is opened and freed.
 *
 * The store is four interfaces, one per concern, each a table of operations in a header of its
 * own; a caller includes the part it uses:
 *   meta_repos.h   what repositories hold: blobs, manifests, tags, referrers, upload sessions
 *   meta_scans.h   the scan queue, assessments and their totals, scan usage, scanning per namespace
 *   meta_admin.h   settings (accounts, suppression rules, pull policies) and the audit log
 *   meta_outbox.h  the webhook outbox
 * Two engines implement all four with the same SQL (meta_sqlInt.h): SQLite (meta_sqlite.c),
 * the embedded default, and PostgreSQL (meta_pg.c), shared by many nodes. Every operation takes
 * the store as its first argument: m->repos->blob_link(m, ...). Strings passed in are borrowed;
 * results that hold strings are allocated from the caller's arena. Every call is safe from any
 * thread. Nothing here knows about SQL. */
#ifndef DD_META_H
#define DD_META_H
#include <stdint.h>
#include <stdio.h>

struct meta_repos_ops;
struct meta_scans_ops;
struct meta_admin_ops;
struct meta_outbox_ops;
struct meta_throttle_ops;

#define META_SCAN_LEASE_DEFAULT 120 /* seconds (struct meta's scan_lease) */

struct meta {
	const struct meta_repos_ops *repos;
	const struct meta_scans_ops *scans;
	const struct meta_admin_ops *admin;
	const struct meta_outbox_ops *outbox;
	void (*free)(struct meta *m);
	/* Seconds a scan claimed on a store shared by many nodes (PostgreSQL) stays the claiming
	 * node's: past it, another node claims it again (its node died, or is slow: a scan made twice
	 * stores the same; the claiming node renews the lease of the jobs it holds, scan_renew).
	 * 0: META_SCAN_LEASE_DEFAULT. */
	int64_t scan_lease;
	/* 1 when other nodes share the store (PostgreSQL): what a node would otherwise keep in its data
	 * directory for itself (the token signing key, the collector's lock) is kept in the store */
	int shared;
	/* When shared: the garbage collector's lock across every node (blobstore.h's gc_lock), else
	 * NULL. The token goes back to unlock. */
	int (*lock)(struct meta *m, int exclusive, int *token);
	void (*unlock)(struct meta *m, int token);
	/* When shared: holds upload session id for one request across every node, so that a request
	 * for it on another node gets DD_E_BUSY, as one on the same node does (registry/uploads.c's
	 * table), until unhold is given the token back. A node that dies lets go of its holds with
	 * it. NULL when not shared. */
	int (*hold)(struct meta *m, const char *id, int64_t *token);
	void (*unhold)(struct meta *m, const char *id, int64_t token);
	/* 0 when what hold gave token for is still held: the connection that holds it is the same and
	 * answers now (the server ending it, or a link that failed, let go of it), else DD_E_BUSY. A
	 * request asks before it writes what it holds. */
	int (*held)(struct meta *m, int64_t token);
	/* When shared: calls fn(ctx) from a thread of the store's soon after any node queued scans
	 * (a push, a re-assessment, a scan asked for, a lease run out when claims noticed it), so that
	 * idle workers of every node start at once rather than at their next poll. fn NULL: no more
	 * calls once it returns. NULL when not shared (the process's own events say it). */
	int (*listen)(struct meta *m, void (*fn)(void *ctx), void *ctx);
	/* When shared: failed logins counted across every node (below), else NULL. */
	const struct meta_throttle_ops *throttle;
};

/* Failed logins counted by key, across the nodes sharing a store (auth/ratelimit.c says what
 * they mean; a node counts in its memory as well). About META_THROTTLE_KEYS keys are kept, the
 * spent ones removed by each node once a minute, when it also counts them: past the cap, a key
 * without a count counts in its overflow key instead, whose lock then holds for every key without
 * a count of its own (fail closed). */
#define META_THROTTLE_KEYS 100000
struct meta_throttle_ops {
	/* One more failure of key (of overflow when the store is full and key has no count) at now:
	 * a new count when the last began over window seconds before and is not locked. *failures is
	 * the count, *over 1 when it is overflow's. */
	int (*fail)(struct meta *m, const char *key, const char *overflow, int64_t now, int64_t window,
		    int64_t *failures, int *over);
	/* Locks key until `until` (a later lock it has stays). */
	int (*lock)(struct meta *m, const char *key, int64_t until);
	/* For keys[0..n) ("" for none), in one statement: until[i] its lock (0 for none), present[i]
	 * whether it has a count; *full whether new keys count in their overflow (at now). */
	int (*read)(struct meta *m, const char *const *keys, size_t n, int64_t now, int64_t *until, int *present,
		    int *full);
	/* Forgets key's count (a success). */
	int (*clear)(struct meta *m, const char *key);
};

/* SQLite backend in file `path` (WAL). Returns an owned store. */
int meta_sqlite_open(const char *path, struct meta **out);
/* PostgreSQL backend at `conninfo` (libpq's "postgresql://..." or "key=value" form), its schema
 * made or brought up to date. Returns an owned store. */
int meta_pg_open(const char *conninfo, struct meta **out);

/* The metadata store of data directory data_dir: PostgreSQL at conninfo when it is given (and
 * recorded in the data directory for the commands run on it later), else the one the data
 * directory records, else its SQLite file. *why says what was wrong on DD_E_CONFIG. */
int meta_open_dir(const char *data_dir, const char *conninfo, struct meta **out, const char **why);
/* Copies the SQLite metadata in sqlite_path into the empty PostgreSQL database at conninfo (its
 * schema made first), all of it in one transaction; progress (or NULL) gets a line per table.
 * *why says what was wrong. */
int meta_copy_to_pg(const char *sqlite_path, const char *conninfo, FILE *progress, const char **why);
/* Whether data_dir holds registry metadata (its SQLite file, or a PostgreSQL database's record). */
int meta_dir_has(const char *data_dir);

/* Statements and write transactions the stores of this process have run since it started, and
 * the nanoseconds its write transactions held the writers' lock (for /metrics: a push's share
 * of the database's work, whichever engine; on PostgreSQL the lock is every node's). */
void meta_counts(int64_t *statements, int64_t *write_transactions, int64_t *write_ns);
/* WAL checkpoints the SQLite stores of this process have run beside their writers that copied
 * pages into the file (for /metrics and tests; 0 on PostgreSQL). */
int64_t meta_checkpoints(void);

/* Closes a store and frees it; NULL is ignored. */
static inline void meta_free(struct meta *m)
{
	if (m)
		m->free(m);
}

#endif
