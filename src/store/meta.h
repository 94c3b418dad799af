/* meta.h: the metadata store: struct meta, how one is opened and freed.
 *
 * The store is four interfaces, one per concern, each a table of operations in a header of its
 * own; a caller includes the part it uses:
 *   meta_repos.h   what repositories hold: blobs, manifests, tags, referrers, upload sessions
 *   meta_scans.h   the scan queue, assessments and their totals, scan usage, scanning per namespace
 *   meta_admin.h   settings (accounts, suppression rules, pull policies) and the audit log
 *   meta_outbox.h  the webhook outbox
 * A backend implements all four (meta_sqlite.c now; PostgreSQL later). Every operation takes
 * the store as its first argument: m->repos->blob_link(m, ...). Strings passed in are borrowed;
 * results that hold strings are allocated from the caller's arena. Every call is safe from any
 * thread. Nothing here knows about SQL. */
#ifndef DD_META_H
#define DD_META_H

struct meta_repos_ops;
struct meta_scans_ops;
struct meta_admin_ops;
struct meta_outbox_ops;

struct meta {
	const struct meta_repos_ops *repos;
	const struct meta_scans_ops *scans;
	const struct meta_admin_ops *admin;
	const struct meta_outbox_ops *outbox;
	void (*free)(struct meta *m);
};

/* SQLite backend in file `path` (WAL). Returns an owned store. */
int meta_sqlite_open(const char *path, struct meta **out);

/* Closes a store and frees it; NULL is ignored. */
static inline void meta_free(struct meta *m)
{
	if (m)
		m->free(m);
}

#endif
