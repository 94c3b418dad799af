/* siphash.h: SipHash-2-4 (Aumasson and Bernstein), a keyed hash for tables whose keys come
 * from clients (addresses, account names): without the key, nobody can choose keys that
 * collide. The key is random per process (siphash_key_random). */
#ifndef DD_SIPHASH_H
#define DD_SIPHASH_H
#include <stddef.h>
#include <stdint.h>

struct siphash_key {
	uint64_t k0, k1;
};

uint64_t siphash24(const struct siphash_key *key, const void *data, size_t len);
/* Fills key from the system's random source; 0 or DD_E_IO. */
int siphash_key_random(struct siphash_key *key);

#endif
