/* jwt.c: ES256 JSON Web Tokens over OpenSSL (see jwt.h). */
#include "common/dd.h"
#include "jwt.h"
#include "header.h"
#include "common/limits.h"
#include "common/arena.h"
#include "common/log.h"
#include "store/meta_admin.h"
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

struct jwt_key {
	EVP_PKEY *pkey;
	char kid[48];
};

static int finish_key(EVP_PKEY *pkey, struct jwt_key **out)
{
	char group[32] = "";
	if (!EVP_PKEY_is_a(pkey, "EC") || !EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
									   sizeof(group), NULL) ||
	    strcmp(group, "prime256v1")) {
		EVP_PKEY_free(pkey);
		return DD_E_CONFIG;
	}
	struct jwt_key *k = calloc(1, sizeof(*k));
	if (!k) {
		EVP_PKEY_free(pkey);
		return DD_E_NOMEM;
	}
	k->pkey = pkey;
	unsigned char *der = NULL;
	int len = i2d_PUBKEY(pkey, &der);
	if (len > 0) {
		unsigned char h[SHA256_DIGEST_LENGTH];
		SHA256(der, (size_t)len, h);
		b64url_encode(h, 18, k->kid);
	}
	OPENSSL_free(der);
	*out = k;
	return 0;
}

int jwt_key_generate(struct jwt_key **out)
{
	*out = NULL;
	EVP_PKEY *pkey = EVP_EC_gen("P-256");
	return pkey ? finish_key(pkey, out) : DD_E_INTERNAL;
}

int jwt_key_open(const char *path, struct jwt_key **out)
{
	*out = NULL;
	FILE *f = fopen(path, "re");
	if (f) {
		EVP_PKEY *pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
		if (!pkey) {
			log_error("token key '%s' is not a PEM private key", path);
			return DD_E_CONFIG;
		}
		int rc = finish_key(pkey, out);
		if (rc == DD_E_CONFIG)
			log_error("token key '%s' is not an EC P-256 key", path);
		return rc;
	}
	if (errno != ENOENT) {
		log_error("cannot read token key '%s': %s", path, strerror(errno));
		return DD_E_IO;
	}
	int rc = jwt_key_generate(out);
	if (rc)
		return rc;
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FILE *w = fd >= 0 ? fdopen(fd, "w") : NULL;
	int ok = w && PEM_write_PrivateKey(w, (*out)->pkey, NULL, NULL, 0, NULL, NULL) == 1 && fflush(w) == 0 &&
		 fsync(fileno(w)) == 0;
	if (w)
		ok = (fclose(w) == 0) && ok;
	else if (fd >= 0)
		close(fd);
	if (!ok || rename(tmp, path)) {
		log_error("cannot write token key '%s': %s", path, strerror(errno));
		unlink(tmp);
		jwt_key_free(*out);
		*out = NULL;
		return DD_E_IO;
	}
	log_info("generated a token signing key in '%s'", path);
	return 0;
}

int jwt_key_shared(struct meta *m, struct jwt_key **out)
{
	*out = NULL;
	struct arena a = {0};
	const char *pem = NULL;
	int rc = m->admin->setting_get(m, &a, TOKEN_KEY_SETTING, &pem);
	if (rc == DD_E_NOT_FOUND) { /* the first node to start makes it; the others read that one */
		struct jwt_key *k;
		BIO *b = BIO_new(BIO_s_mem());
		char *text = NULL;
		long n = 0;
		rc = b ? jwt_key_generate(&k) : DD_E_NOMEM;
		if (!rc) {
			if (PEM_write_bio_PrivateKey(b, k->pkey, NULL, NULL, 0, NULL, NULL) != 1 ||
			    (n = BIO_get_mem_data(b, &text)) <= 0)
				rc = DD_E_INTERNAL;
			jwt_key_free(k);
		}
		int added = 0;
		if (!rc)
			rc = m->admin->setting_add(m, TOKEN_KEY_SETTING, arena_strndup(&a, text, (size_t)n), &added);
		BIO_free(b);
		if (!rc && added)
			log_info("generated a token signing key, kept in the shared metadata for every node");
		if (!rc)
			rc = m->admin->setting_get(m, &a, TOKEN_KEY_SETTING, &pem);
	}
	if (!rc) {
		BIO *b = BIO_new_mem_buf(pem, -1);
		EVP_PKEY *pkey = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
		BIO_free(b);
		rc = pkey ? finish_key(pkey, out) : DD_E_CONFIG;
		if (rc == DD_E_CONFIG)
			log_error("the token key in the shared metadata is not an EC P-256 private key");
	}
	arena_free(&a);
	return rc;
}

void jwt_key_free(struct jwt_key *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

const char *jwt_key_id(const struct jwt_key *k) { return k->kid; }

static char *b64url_json(json_t *j)
{
	char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	if (!text)
		return NULL;
	size_t n = strlen(text);
	char *out = malloc(4 * (n + 2) / 3 + 1);
	if (out)
		b64url_encode((const unsigned char *)text, n, out);
	free(text);
	return out;
}

char *jwt_sign(const struct jwt_key *k, json_t *claims)
{
	json_t *hdr = json_pack("{s:s, s:s, s:s}", "alg", "ES256", "typ", "JWT", "kid", k->kid);
	char *h = b64url_json(hdr), *c = b64url_json(claims);
	json_decref(hdr);
	char *out = NULL;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char der[80], raw[64];
	size_t derlen = sizeof(der);
	ECDSA_SIG *sig = NULL;
	if (!h || !c || !ctx)
		goto done;
	size_t hl = strlen(h), cl = strlen(c);
	char *input = malloc(hl + cl + 2 + 88);
	if (!input)
		goto done;
	memcpy(input, h, hl);
	input[hl] = '.';
	memcpy(input + hl + 1, c, cl + 1);
	if (EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k->pkey) != 1 ||
	    EVP_DigestSign(ctx, der, &derlen, (unsigned char *)input, hl + 1 + cl) != 1) {
		free(input);
		goto done;
	}
	const unsigned char *p = der;
	sig = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
	const BIGNUM *r, *s;
	if (!sig) {
		free(input);
		goto done;
	}
	ECDSA_SIG_get0(sig, &r, &s);
	if (BN_bn2binpad(r, raw, 32) != 32 || BN_bn2binpad(s, raw + 32, 32) != 32) {
		free(input);
		goto done;
	}
	input[hl + 1 + cl] = '.';
	b64url_encode(raw, 64, input + hl + 2 + cl);
	out = input;
done:
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(ctx);
	free(h);
	free(c);
	return out;
}

static json_t *decode_json(const char *s, size_t n)
{
	unsigned char buf[DD_MAX_TOKEN_BYTES];
	size_t len;
	if (b64_decode(s, n, 1, buf, sizeof(buf), &len))
		return NULL;
	json_t *j = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, NULL);
	if (j && !json_is_object(j)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

static int check_sig(const struct jwt_key *k, const char *input, size_t n, const char *sig64, size_t sn)
{
	unsigned char raw[64];
	size_t len;
	if (b64_decode(sig64, sn, 1, raw, sizeof(raw), &len) || len != 64)
		return -1;
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(raw, 32, NULL), *s = BN_bin2bn(raw + 32, 32, NULL);
	if (!sig || !r || !s || !ECDSA_SIG_set0(sig, r, s)) {
		BN_free(r);
		BN_free(s);
		ECDSA_SIG_free(sig);
		return -1;
	}
	unsigned char *der = NULL;
	int derlen = i2d_ECDSA_SIG(sig, &der);
	ECDSA_SIG_free(sig);
	int ok = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (derlen > 0 && ctx && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, k->pkey) == 1 &&
	    EVP_DigestVerify(ctx, der, (size_t)derlen, (const unsigned char *)input, n) == 1)
		ok = 1;
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(der);
	return ok ? 0 : -1;
}

int jwt_verify(const struct jwt_key *k, const char *token, size_t n, int64_t now, const char *issuer,
	       const char *audience, json_t **claims, const char **why)
{
	*claims = NULL;
	if (n > DD_MAX_TOKEN_BYTES) {
		*why = "token longer than 8 KiB";
		return DD_E_UNAUTHORIZED;
	}
	const char *d1 = memchr(token, '.', n);
	const char *d2 = d1 ? memchr(d1 + 1, '.', n - (size_t)(d1 + 1 - token)) : NULL;
	if (!d1 || !d2 || memchr(d2 + 1, '.', n - (size_t)(d2 + 1 - token))) {
		*why = "token is not a JWT (three dot-separated parts)";
		return DD_E_UNAUTHORIZED;
	}
	json_t *hdr = decode_json(token, (size_t)(d1 - token));
	const char *alg = hdr ? json_string_value(json_object_get(hdr, "alg")) : NULL;
	if (!hdr || !alg || strcmp(alg, "ES256") || json_object_get(hdr, "crit")) {
		*why = hdr ? "token algorithm is not ES256" : "token header is not base64url JSON";
		json_decref(hdr);
		return DD_E_UNAUTHORIZED;
	}
	json_decref(hdr);
	if (check_sig(k, token, (size_t)(d2 - token), d2 + 1, n - (size_t)(d2 + 1 - token))) {
		*why = "token signature is invalid";
		return DD_E_UNAUTHORIZED;
	}
	json_t *c = decode_json(d1 + 1, (size_t)(d2 - d1 - 1));
	if (!c) {
		*why = "token claims are not base64url JSON";
		return DD_E_UNAUTHORIZED;
	}
	json_t *exp = json_object_get(c, "exp"), *nbf = json_object_get(c, "nbf");
	const char *iss = json_string_value(json_object_get(c, "iss"));
	const char *aud = json_string_value(json_object_get(c, "aud"));
	if (!json_is_integer(exp) || json_integer_value(exp) <= now)
		*why = "token has expired";
	else if (nbf && (!json_is_integer(nbf) || json_integer_value(nbf) > now + 60))
		*why = "token is not valid yet";
	else if (!iss || strcmp(iss, issuer))
		*why = "token was issued by someone else";
	else if (!aud || strcmp(aud, audience))
		*why = "token is for another service";
	else {
		*claims = c;
		return 0;
	}
	json_decref(c);
	return DD_E_UNAUTHORIZED;
}
