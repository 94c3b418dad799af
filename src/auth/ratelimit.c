/* ratelimit.c: failed-login throttling (see ratelimit.h). */
#include "common/dd.h"
#include "ratelimit.h"
#include "common/siphash.h"

#define SLOTS 16384 /* power of two */
#define PROBE 16
#define WINDOW 300 /* seconds over which failures count */
#define MAX_LOCK 900

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
};

struct ratelimit *ratelimit_new(void)
{
	struct ratelimit *rl = calloc(1, sizeof(*rl));
	if (!rl)
		return NULL;
	if (siphash_key_random(&rl->hash_key)) {
		free(rl);
		return NULL;
	}
	pthread_mutex_init(&rl->mu, NULL);
	return rl;
}

void ratelimit_free(struct ratelimit *rl)
{
	if (!rl)
		return;
	pthread_mutex_destroy(&rl->mu);
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

int64_t ratelimit_check(struct ratelimit *rl, const char *account, const char *addr, int64_t now)
{
	pthread_mutex_lock(&rl->mu);
	int64_t a = account ? wait_of(rl, 'a', account, now) : 0;
	int64_t b = addr ? wait_of(rl, 'i', addr, now) : 0;
	pthread_mutex_unlock(&rl->mu);
	return a > b ? a : b;
}

static void fail(struct ratelimit *rl, char kind, const char *name, int free_failures, int64_t now)
{
	struct slot *s = find(rl, kind, key_of(rl, kind, name), 1, now);
	if (now - s->first > WINDOW && s->locked_until <= now) {
		s->first = now;
		s->failures = 0;
	}
	s->failures++;
	if (s->failures >= free_failures) {
		int shift = s->failures - free_failures;
		int64_t lock = shift > 5 ? MAX_LOCK : 30LL << shift;
		s->locked_until = now + (lock > MAX_LOCK ? MAX_LOCK : lock);
	}
}

void ratelimit_failed(struct ratelimit *rl, const char *account, const char *addr, int64_t now)
{
	pthread_mutex_lock(&rl->mu);
	if (account)
		fail(rl, 'a', account, LOGIN_FREE_FAILURES, now);
	if (addr)
		fail(rl, 'i', addr, ADDR_FREE_FAILURES, now);
	pthread_mutex_unlock(&rl->mu);
}

void ratelimit_succeeded(struct ratelimit *rl, const char *account)
{
	pthread_mutex_lock(&rl->mu);
	uint64_t key = key_of(rl, 'a', account);
	for (unsigned i = 0; i < PROBE; i++) { /* only its own slot: the overflow stays */
		struct slot *s = &rl->slots[(key + i) & (SLOTS - 1)];
		if (s->key == key)
			memset(s, 0, sizeof(*s));
	}
	pthread_mutex_unlock(&rl->mu);
}
