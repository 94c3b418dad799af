/* digest.h: content digests ("sha256:<64 hex>", "sha512:<128 hex>"): parsing untrusted digest
 * strings and hashing bytes with OpenSSL. Other algorithms of the spec's grammar parse as
 * well-formed but unsupported. */
#ifndef DD_DIGEST_H
#define DD_DIGEST_H
#include <stddef.h>

enum digest_alg { DIGEST_NONE, DIGEST_SHA256, DIGEST_SHA512 };

struct digest {
	enum digest_alg alg;
	char str[DD_MAX_DIGEST_BYTES + 1]; /* canonical "alg:hex" */
};

/* Parses (s, n). Returns 0, or DD_E_DIGEST_INVALID with *why set to a fixed reason. */
int digest_parse(const char *s, size_t n, struct digest *out, const char **why);
const char *digest_alg_name(enum digest_alg alg);
size_t digest_hex_len(enum digest_alg alg);

struct hasher; /* opaque; owned by whoever created it */
struct hasher *hasher_new(enum digest_alg alg);
void hasher_update(struct hasher *h, const void *p, size_t n);
/* Returns an owned copy of h's state (NULL on out-of-memory). */
struct hasher *hasher_dup(const struct hasher *h);
/* Writes the digest of everything hashed so far into out; h stays usable. */
void hasher_peek(const struct hasher *h, struct digest *out);
enum digest_alg hasher_alg(const struct hasher *h);
void hasher_free(struct hasher *h);

/* One-shot digest of (p, n). */
void digest_of(enum digest_alg alg, const void *p, size_t n, struct digest *out);

#endif
