/* ratelimit.c: failed-login throttling (see ratelimit.h). */
#include "common/dd.h"
#include "ratelimit.h"

#define SLOTS 4096 /* power of two */
#define WINDOW 300 /* seconds over which failures count */
#define MAX_LOCK 900

struct slot {
	uint64_t key; /* 0: free */
	int64_t first, locked_until;
	int failures;
};

struct ratelimit {
	pthread_mutex_t mu;
	struct slot slots[SLOTS];
};

struct ratelimit *ratelimit_new(void)
{
	struct ratelimit *rl = calloc(1, sizeof(*rl));
	if (rl)
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

static uint64_t key_of(char kind, const char *s)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)(unsigned char)kind;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h ? h : 1;
}

/* The slot for key, or the slot to take over (free, else the stalest of the probe run). */
static struct slot *find(struct ratelimit *rl, uint64_t key, int create, int64_t now)
{
	struct slot *victim = NULL;
	for (unsigned i = 0; i < 8; i++) {
		struct slot *s = &rl->slots[(key + i) & (SLOTS - 1)];
		if (s->key == key)
			return s;
		int stale = !s->key || (s->locked_until <= now && now - s->first > WINDOW);
		if (stale && !victim)
			victim = s;
	}
	if (!create)
		return NULL;
	if (!victim) { /* all eight busy: the one locked for the shortest time gives way */
		victim = &rl->slots[key & (SLOTS - 1)];
		for (unsigned i = 1; i < 8; i++) {
			struct slot *s = &rl->slots[(key + i) & (SLOTS - 1)];
			if (s->locked_until < victim->locked_until)
				victim = s;
		}
	}
	memset(victim, 0, sizeof(*victim));
	victim->key = key;
	victim->first = now;
	return victim;
}

static int64_t wait_of(struct ratelimit *rl, uint64_t key, int64_t now)
{
	struct slot *s = find(rl, key, 0, now);
	return s && s->locked_until > now ? s->locked_until - now : 0;
}

int64_t ratelimit_check(struct ratelimit *rl, const char *account, const char *addr, int64_t now)
{
	pthread_mutex_lock(&rl->mu);
	int64_t a = account ? wait_of(rl, key_of('a', account), now) : 0;
	int64_t b = addr ? wait_of(rl, key_of('i', addr), now) : 0;
	pthread_mutex_unlock(&rl->mu);
	return a > b ? a : b;
}

static void fail(struct ratelimit *rl, uint64_t key, int free_failures, int64_t now)
{
	struct slot *s = find(rl, key, 1, now);
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
		fail(rl, key_of('a', account), LOGIN_FREE_FAILURES, now);
	if (addr)
		fail(rl, key_of('i', addr), ADDR_FREE_FAILURES, now);
	pthread_mutex_unlock(&rl->mu);
}

void ratelimit_succeeded(struct ratelimit *rl, const char *account)
{
	pthread_mutex_lock(&rl->mu);
	struct slot *s = find(rl, key_of('a', account), 0, 0);
	if (s)
		memset(s, 0, sizeof(*s));
	pthread_mutex_unlock(&rl->mu);
}
