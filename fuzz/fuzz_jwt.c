/* fuzz_jwt.c: token verification. No input forges a token (a key is made per process, so
 * nothing here was signed by it); a token signed from the input's claims verifies, and the
 * same token with any one character changed does not. */
#include "common/dd.h"
#include "auth/jwt.h"
#include "common/limits.h"
#include "fuzz.h"

static struct jwt_key *key(void)
{
	static struct jwt_key *k;
	if (!k && jwt_key_generate(&k))
		abort();
	return k;
}

int fuzz_jwt(const uint8_t *data, size_t size)
{
	json_t *claims;
	const char *why;
	if (jwt_verify(key(), (const char *)data, size, 1000, "drydock", "drydock", &claims, &why) == 0)
		abort();
	if (!why)
		abort();

	/* round trip: the input as a subject, signed, verified, then one character changed */
	if (size > 512 || size < 2 || memchr(data + 1, 0, size - 1))
		return 0; /* claims with NUL are refused on reading (jansson), so no round trip */
	json_t *c = json_pack("{s:s%, s:s, s:s, s:I}", "sub", (const char *)data + 1, size - 1, "iss", "drydock", "aud",
			      "drydock", "exp", (json_int_t)2000);
	if (!c)
		return 0; /* not UTF-8 */
	char *t = jwt_sign(key(), c);
	json_decref(c);
	if (!t)
		abort();
	size_t n = strlen(t);
	if (jwt_verify(key(), t, n, 1000, "drydock", "drydock", &claims, &why))
		abort();
	json_decref(claims);
	if (jwt_verify(key(), t, n, 2000, "drydock", "drydock", &claims, &why) == 0)
		abort(); /* expired */
	size_t at = data[0] * n / 256;
	char was = t[at];
	t[at] = was == 'A' ? 'B' : was == '.' ? 'x' : 'A';
	if (jwt_verify(key(), t, n, 1000, "drydock", "drydock", &claims, &why) == 0)
		abort();
	free(t);
	return 0;
}
DD_FUZZ_ENTRY(fuzz_jwt)
