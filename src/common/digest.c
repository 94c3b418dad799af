/* digest.c: digest parsing and OpenSSL EVP hashing. */
#include "dd.h"
#include "digest.h"
#include <openssl/evp.h>

struct hasher {
	enum digest_alg alg;
	EVP_MD_CTX *ctx;
};

const char *digest_alg_name(enum digest_alg alg)
{
	return alg == DIGEST_SHA256 ? "sha256" : alg == DIGEST_SHA512 ? "sha512" : "";
}

size_t digest_hex_len(enum digest_alg alg) { return alg == DIGEST_SHA256 ? 64 : alg == DIGEST_SHA512 ? 128 : 0; }

static int is_alg_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
static int is_alg_sep(char c) { return c == '+' || c == '.' || c == '_' || c == '-'; }
static int is_enc_char(char c)
{
	return isalnum((unsigned char)c) || c == '=' || c == '_' || c == '-';
}

int digest_parse(const char *s, size_t n, struct digest *out, const char **why)
{
	out->alg = DIGEST_NONE;
	out->str[0] = 0;
	*why = NULL;
	if (n == 0) {
		*why = "empty digest";
		return DD_E_DIGEST_INVALID;
	}
	if (n > DD_MAX_DIGEST_BYTES) {
		*why = "digest too long";
		return DD_E_DIGEST_INVALID;
	}
	const char *colon = memchr(s, ':', n);
	if (!colon) {
		*why = "digest lacks 'algorithm:' prefix";
		return DD_E_DIGEST_INVALID;
	}
	size_t alen = (size_t)(colon - s), elen = n - alen - 1;
	/* algorithm := component (separator component)*, component := [a-z0-9]+ */
	int prev_sep = 1;
	for (size_t i = 0; i < alen; i++) {
		if (is_alg_char(s[i]))
			prev_sep = 0;
		else if (is_alg_sep(s[i]) && !prev_sep)
			prev_sep = 1;
		else {
			*why = "malformed digest algorithm";
			return DD_E_DIGEST_INVALID;
		}
	}
	if (prev_sep) {
		*why = "malformed digest algorithm";
		return DD_E_DIGEST_INVALID;
	}
	if (elen == 0) {
		*why = "empty digest hex";
		return DD_E_DIGEST_INVALID;
	}
	for (size_t i = 0; i < elen; i++) {
		if (!is_enc_char(colon[1 + i])) {
			*why = "malformed digest encoding";
			return DD_E_DIGEST_INVALID;
		}
	}
	enum digest_alg alg = DIGEST_NONE;
	if (alen == 6 && !memcmp(s, "sha256", 6))
		alg = DIGEST_SHA256;
	else if (alen == 6 && !memcmp(s, "sha512", 6))
		alg = DIGEST_SHA512;
	else {
		*why = "unsupported digest algorithm (sha256 and sha512 are)";
		return DD_E_DIGEST_INVALID;
	}
	if (elen != digest_hex_len(alg)) {
		*why = alg == DIGEST_SHA256 ? "sha256 digest must have 64 hex digits" : "sha512 digest must have 128 hex digits";
		return DD_E_DIGEST_INVALID;
	}
	for (size_t i = 0; i < elen; i++) {
		char c = colon[1 + i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
			*why = "digest hex must be lowercase [0-9a-f]";
			return DD_E_DIGEST_INVALID;
		}
	}
	out->alg = alg;
	memcpy(out->str, s, n);
	out->str[n] = 0;
	return 0;
}

static const EVP_MD *md_of(enum digest_alg alg) { return alg == DIGEST_SHA512 ? EVP_sha512() : EVP_sha256(); }

struct hasher *hasher_new(enum digest_alg alg)
{
	struct hasher *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->alg = alg;
	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx || !EVP_DigestInit_ex(h->ctx, md_of(alg), NULL)) {
		hasher_free(h);
		return NULL;
	}
	return h;
}

void hasher_update(struct hasher *h, const void *p, size_t n) { EVP_DigestUpdate(h->ctx, p, n); }

struct hasher *hasher_dup(const struct hasher *h)
{
	struct hasher *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->alg = h->alg;
	c->ctx = EVP_MD_CTX_new();
	if (!c->ctx || !EVP_MD_CTX_copy_ex(c->ctx, h->ctx)) {
		hasher_free(c);
		return NULL;
	}
	return c;
}

static void to_digest(enum digest_alg alg, const unsigned char *md, unsigned len, struct digest *out)
{
	static const char hex[] = "0123456789abcdef";
	const char *name = digest_alg_name(alg);
	size_t k = strlen(name);
	memcpy(out->str, name, k);
	out->str[k++] = ':';
	for (unsigned i = 0; i < len; i++) {
		out->str[k++] = hex[md[i] >> 4];
		out->str[k++] = hex[md[i] & 15];
	}
	out->str[k] = 0;
	out->alg = alg;
}

void hasher_peek(const struct hasher *h, struct digest *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (!c)
		abort();
	EVP_MD_CTX_copy_ex(c, h->ctx);
	EVP_DigestFinal_ex(c, md, &len);
	EVP_MD_CTX_free(c);
	to_digest(h->alg, md, len, out);
}

enum digest_alg hasher_alg(const struct hasher *h) { return h->alg; }

void hasher_free(struct hasher *h)
{
	if (!h)
		return;
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

void digest_of(enum digest_alg alg, const void *p, size_t n, struct digest *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	EVP_Digest(p, n, md, &len, md_of(alg), NULL);
	to_digest(alg, md, len, out);
}
