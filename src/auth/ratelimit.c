/* ratelimit.c: failed-login throttling (see ratelimit.h). */
#include "common/dd.h"
#include "ratelimit.h"
#include "common/digest.h"
#include "common/siphash.h"
#include "store/meta.h"

#define SLOTS 16384 /* power of two */
#define PROBE 16
#define WINDOW 300 /* seconds over which failures count */
#define MAX_LOCK 900
#define STRIPES 256 /* logins of different accounts wait for each other only when they share one */

struct slot {
	uint64_t key; /* 0: free */
	int64_t first, locked_until;
	int failures;
};

/* A slot that counts failures (in its window, or locked) is never taken from its key. Keys
 * hash with a per-process secret, so nobody can choose names that land on an account's slots;
 * a key whose probe run is all busy (the table filled by an attack) counts in its kind's shared
 * overflow slot, which locks every such key together: fail closed, never open. */
struct ratelimit {
	pthread_mutex_t mu;
	struct siphash_key hash_key;
	struct slot slots[SLOTS];
	struct slot overflow[2]; /* accounts, addresses */
	struct meta *shared;     /* the store's counts too, or NULL */
	pthread_mutex_t stripes[STRIPES]; /* one login of an account at a time here (ratelimit_enter) */
};

struct ratelimit *ratelimit_new(struct meta *shared)
{
	struct ratelimit *rl = calloc(1, sizeof(*rl));
	if (!rl)
		return NULL;
	rl->shared = shared && shared->throttle ? shared : NULL;
	if (siphash_key_random(&rl->hash_key)) {
		free(rl);
		return NULL;
	}
	pthread_mutex_init(&rl->mu, NULL);
	for (int i = 0; i < STRIPES; i++)
		pthread_mutex_init(&rl->stripes[i], NULL);
	return rl;
}

void ratelimit_free(struct ratelimit *rl)
{
	if (!rl)
		return;
	pthread_mutex_destroy(&rl->mu);
	for (int i = 0; i < STRIPES; i++)
		pthread_mutex_destroy(&rl->stripes[i]);
	free(rl);
}

static uint64_t key_of(struct ratelimit *rl, char kind, const char *s)
{
	size_t n = strlen(s);
	char buf[DD_MAX_TOKEN_BYTES + 2];
	if (n > DD_MAX_TOKEN_BYTES)
		n = DD_MAX_TOKEN_BYTES;
	buf[0] = kind;
	memcpy(buf + 1, s, n);
	uint64_t h = siphash24(&rl->hash_key, buf, n + 1);
	return h ? h : 1;
}

static int counting(const struct slot *s, int64_t now)
{
	return s->key && (s->locked_until > now || now - s->first <= WINDOW);
}

/* The slot of key; with create, a free or spent slot of its probe run taken for it, else its
 * kind's overflow slot. Without create, NULL when key has no slot and there is room for one. */
static struct slot *find(struct ratelimit *rl, char kind, uint64_t key, int create, int64_t now)
{
	struct slot *room = NULL;
	for (unsigned i = 0; i < PROBE; i++) {
		struct slot *s = &rl->slots[(key + i) & (SLOTS - 1)];
		if (s->key == key)
			return s;
		if (!room && !counting(s, now))
			room = s;
	}
	struct slot *over = &rl->overflow[kind == 'i'];
	if (!room)
		return over;
	if (!create)
		return NULL;
	memset(room, 0, sizeof(*room));
	room->key = key;
	room->first = now;
	return room;
}

static int64_t wait_of(struct ratelimit *rl, char kind, const char *name, int64_t now)
{
	struct slot *s = find(rl, kind, key_of(rl, kind, name), 0, now);
	return s && s->locked_until > now ? s->locked_until - now : 0;
}

/* Seconds a key is locked for at its failures-th failure: none before free_failures, then 30
 * s, doubling with each further failure up to MAX_LOCK. */
static int64_t lock_for(int64_t failures, int free_failures)
{
	if (failures < free_failures)
		return 0;
	int64_t shift = failures - free_failures;
	int64_t lock = shift > 5 ? MAX_LOCK : 30LL << shift;
	return lock > MAX_LOCK ? MAX_LOCK : lock;
}

static void fail(struct ratelimit *rl, char kind, const char *name, int free_failures, int64_t now)
{
	struct slot *s = find(rl, kind, key_of(rl, kind, name), 1, now);
	if (now - s->first > WINDOW && s->locked_until <= now) {
		s->first = now;
		s->failures = 0;
	}
	s->failures++;
	int64_t lock = lock_for(s->failures, free_failures);
	if (lock)
		s->locked_until = now + lock;
}

/* ---- the counts of the store the nodes share ---- */

/* The store's key of name: its kind, then its SHA-256 (no name a client typed is stored, a
 * password typed as one among them); "" for none. overflow: the kind's overflow key. */
static void store_key(char kind, const char *name, char key[72], char overflow[4])
{
	snprintf(overflow, 4, "%c:~", kind);
	*key = 0;
	if (!name)
		return;
	size_t n = strlen(name);
	struct digest d;
	digest_of(DIGEST_SHA256, name, n > DD_MAX_TOKEN_BYTES ? DD_MAX_TOKEN_BYTES : n, &d);
	snprintf(key, 72, "%c:%.64s", kind, d.str + strlen("sha256:"));
}

static unsigned stripe_of(struct ratelimit *rl, const char *account)
{
	return account ? (unsigned)(key_of(rl, 'a', account) % STRIPES) : 0;
}

/* The later of the store's locks of account and addr; a key without a count takes its overflow's
 * while the store is full. */
static int64_t shared_wait(struct ratelimit *rl, const char *account, const char *addr, int64_t now, int *counted)
{
	char keys[4][72], over[2][4];
	store_key('a', account, keys[0], over[0]);
	store_key('i', addr, keys[2], over[1]);
	snprintf(keys[1], sizeof(keys[1]), "%s", *keys[0] ? over[0] : "");
	snprintf(keys[3], sizeof(keys[3]), "%s", *keys[2] ? over[1] : "");
	const char *k[4] = {keys[0], keys[1], keys[2], keys[3]};
	int64_t until[4];
	int present[4], full;
	if (rl->shared->throttle->read(rl->shared, k, 4, now, until, present, &full))
		return 0; /* the node's own count holds meanwhile */
	*counted = present[0];
	int64_t latest = 0;
	for (int i = 0; i < 4; i += 2) {
		int64_t u = present[i] ? until[i] : full ? until[i + 1] : 0;
		if (u > latest)
			latest = u;
	}
	return latest > now ? latest - now : 0;
}

static void shared_fail(struct ratelimit *rl, char kind, const char *name, int free_failures, int64_t now)
{
	char key[72], over[4];
	store_key(kind, name, key, over);
	int64_t failures, lock;
	int is_over;
	if (!rl->shared->throttle->fail(rl->shared, key, over, now, WINDOW, &failures, &is_over) &&
	    (lock = lock_for(failures, free_failures)))
		rl->shared->throttle->lock(rl->shared, is_over ? over : key, now + lock);
}

int64_t ratelimit_check(struct ratelimit *rl, const char *account, const char *addr, int64_t now, int *counted)
{
	int none;
	if (!counted)
		counted = &none;
	*counted = 1; /* unless the store says it has no count: then a success has nothing to clear there */
	pthread_mutex_lock(&rl->mu);
	int64_t a = account ? wait_of(rl, 'a', account, now) : 0;
	int64_t b = addr ? wait_of(rl, 'i', addr, now) : 0;
	pthread_mutex_unlock(&rl->mu);
	int64_t c = rl->shared ? shared_wait(rl, account, addr, now, counted) : 0;
	if (b > a)
		a = b;
	return c > a ? c : a;
}

void ratelimit_failed(struct ratelimit *rl, const char *account, const char *addr, int64_t now)
{
	pthread_mutex_lock(&rl->mu);
	if (account)
		fail(rl, 'a', account, LOGIN_FREE_FAILURES, now);
	if (addr)
		fail(rl, 'i', addr, ADDR_FREE_FAILURES, now);
	pthread_mutex_unlock(&rl->mu);
	if (rl->shared && account)
		shared_fail(rl, 'a', account, LOGIN_FREE_FAILURES, now);
	if (rl->shared && addr)
		shared_fail(rl, 'i', addr, ADDR_FREE_FAILURES, now);
}

void ratelimit_succeeded(struct ratelimit *rl, const char *account, int counted)
{
	pthread_mutex_lock(&rl->mu);
	uint64_t key = key_of(rl, 'a', account);
	for (unsigned i = 0; i < PROBE; i++) { /* only its own slot: the overflow stays */
		struct slot *s = &rl->slots[(key + i) & (SLOTS - 1)];
		if (s->key == key)
			memset(s, 0, sizeof(*s));
	}
	pthread_mutex_unlock(&rl->mu);
	if (rl->shared && counted) { /* the store had a count when checked, or could not say */
		char k[72], over[4];
		store_key('a', account, k, over);
		rl->shared->throttle->clear(rl->shared, k);
	}
}

unsigned ratelimit_enter(struct ratelimit *rl, const char *account)
{
	unsigned stripe = stripe_of(rl, account);
	pthread_mutex_lock(&rl->stripes[stripe]);
	return stripe;
}

void ratelimit_leave(struct ratelimit *rl, unsigned stripe) { pthread_mutex_unlock(&rl->stripes[stripe]); }
