/* jwt.h: JSON Web Tokens signed with ES256 (ECDSA P-256, SHA-256), the registry token format
 * that docker, podman and skopeo carry as opaque bearer tokens. The key is generated on first
 * use and kept in a PEM file (mode 0600). Verification accepts ES256 only: "none", HMAC and
 * every other algorithm are refused, so a token can never choose how it is checked. */
#ifndef DD_JWT_H
#define DD_JWT_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct jwt_key;

/* Loads the private key in `path`, or creates one there (atomically, 0600). */
int jwt_key_open(const char *path, struct jwt_key **out);
/* A fresh key in memory (tests, fuzzing). */
int jwt_key_generate(struct jwt_key **out);
/* The key every node of a store shared by many (meta.h's `shared`) signs with, kept in its
 * settings: made by the first node that finds none. */
#define TOKEN_KEY_SETTING "auth/token-key"
struct meta;
int jwt_key_shared(struct meta *m, struct jwt_key **out);
void jwt_key_free(struct jwt_key *k);
/* The key id written into each token header ("kid"). */
const char *jwt_key_id(const struct jwt_key *k);

/* Signs the claims; owned text, NULL on failure. */
char *jwt_sign(const struct jwt_key *k, json_t *claims);

/* Checks the token's form, algorithm and signature, then its claims: `exp` in the future,
 * `nbf` (when present) not later than now + 60 s, `iss` and `aud` equal to the given ones.
 * 0 with the claims (a new reference), or DD_E_UNAUTHORIZED with *why (static text). */
int jwt_verify(const struct jwt_key *k, const char *token, size_t n, int64_t now, const char *issuer,
	       const char *audience, json_t **claims, const char **why);

#endif
