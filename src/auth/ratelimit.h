/* ratelimit.h: failed-login throttling per account and per client address. After
 * LOGIN_FREE_FAILURES failures for one account (ADDR_FREE_FAILURES from one address, which
 * may be a whole office behind NAT) within five minutes, it is locked for 30 s, doubling with each
 * further failure up to 15 minutes; a success clears the account's (not the address's) count.
 * A fixed table with a keyed hash: memory stays bounded whatever a client sends, and a slot
 * counting failures is never given to another name (names made to collide cannot reset an
 * account's count); when an attack fills the table, names without a slot share one that
 * locks (fail closed).
 *
 * On a store many nodes share (PostgreSQL), the failures are counted there as well, so that a
 * balancer spreading one client's guesses over the nodes locks the account after the same five
 * as one node does: a login waits for the later of the two locks (the store's counts every
 * node's failures; the node's own keeps counting when the store cannot be reached). The store
 * keys are SHA-256 digests of the names, never the names a client typed. A login reads the
 * store once (its two keys and their overflows), a failure writes it twice, and a success once
 * when the store had a count of the account. */
#ifndef DD_RATELIMIT_H
#define DD_RATELIMIT_H
#include <stdint.h>

#define LOGIN_FREE_FAILURES 5
#define ADDR_FREE_FAILURES 20

struct ratelimit;

struct meta;

/* shared: the store the nodes share (its throttle), or NULL to count in memory only. */
struct ratelimit *ratelimit_new(struct meta *shared);
void ratelimit_free(struct ratelimit *rl);
/* 0 when a login for (account, addr) may be tried now, else the seconds to wait. *counted (when
 * not NULL): 0 when the shared store has no count of account, for ratelimit_succeeded. */
int64_t ratelimit_check(struct ratelimit *rl, const char *account, const char *addr, int64_t now, int *counted);
void ratelimit_failed(struct ratelimit *rl, const char *account, const char *addr, int64_t now);
/* counted: what ratelimit_check said (1 when not known). */
void ratelimit_succeeded(struct ratelimit *rl, const char *account, int counted);
/* One login of account at a time on this node, from a second look at its count to after its
 * own (ratelimit_leave with what this returned): else every guess in flight when the fifth
 * failure was counted would have been checked against the count before it, and let through.
 * Logins of other accounts wait only when they share a stripe, and only while a password is
 * checked (a password this node saw succeed needs no turn). */
unsigned ratelimit_enter(struct ratelimit *rl, const char *account);
void ratelimit_leave(struct ratelimit *rl, unsigned stripe);

#endif
