/* remote.c: images pulled from any registry over the OCI distribution API, for `drydock
 * scan host/repo:tag`. The manifest (an index resolved to a platform as for local layouts)
 * and then each layer the layer cache does not already hold are fetched into a temporary
 * directory, each checked against its digest when read; anonymous bearer tokens
 * (WWW-Authenticate: Bearer realm=...,service=...,scope=...) and basic credentials are
 * handled. https first; http only for loopback hosts or when the caller allows it. */
#include "common/dd.h"
#include "image.h"
#include "regauth.h"
#include "common/arena.h"
#include "common/digest.h"
#include "common/util.h"
#include "image/layer_cache.h"
#include <curl/curl.h>
#include <jansson.h>

#define REMOTE_MAX_MANIFEST (4 * 1024 * 1024)

struct remote {
	struct arena *a;
	const char *base;  /* https://host or http://host */
	const char *repo;
	const char *creds; /* user:pass or NULL */
	const char *token; /* bearer token once obtained */
	int progress;
};

struct sink {
	FILE *f;
	char *mem;
	size_t len, cap;
};

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
	struct sink *s = ctx;
	size_t k = size * n;
	if (s->f)
		return fwrite(p, 1, k, s->f);
	if (s->len + k > s->cap)
		return 0; /* over the limit: curl fails the transfer */
	memcpy(s->mem + s->len, p, k);
	s->len += k;
	return k;
}

struct hdrs {
	char auth[2048];
	char content_type[256];
};

static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
	struct hdrs *h = ctx;
	size_t k = size * n;
	if (k > 18 && !strncasecmp(p, "WWW-Authenticate:", 17))
		snprintf(h->auth, sizeof(h->auth), "%.*s", (int)(k - 17), p + 17);
	if (k > 14 && !strncasecmp(p, "Content-Type:", 13))
		snprintf(h->content_type, sizeof(h->content_type), "%.*s", (int)(k - 13), p + 13);
	return k;
}

static int progress_cb(void *p, curl_off_t total, curl_off_t now, curl_off_t ut, curl_off_t un)
{
	(void)ut;
	(void)un;
	const char *name = p;
	if (total > 0)
		fprintf(stderr, "\r  %.19s  %6.1f / %6.1f MB", name, now / 1e6, total / 1e6);
	return 0;
}

/* One GET; *status the HTTP status. */
static int get(struct remote *r, const char *url, const char *accept, struct sink *out, struct hdrs *h, long *status,
	       const char *label, const char **why)
{
	CURL *c = curl_easy_init();
	if (!c)
		return DD_E_NOMEM;
	struct curl_slist *hl = NULL;
	char ebuf[CURL_ERROR_SIZE] = "";
	if (accept)
		hl = curl_slist_append(hl, arena_printf(r->a, "Accept: %s", accept));
	if (r->token)
		hl = curl_slist_append(hl, arena_printf(r->a, "Authorization: Bearer %s", r->token));
	else if (r->creds) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERPWD, r->creds);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L); /* blobs are often redirected to storage */
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, h);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 15L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "drydock-scan");
	if (r->progress && label) {
		curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress_cb);
		curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)label);
	}
	CURLcode rc = curl_easy_perform(c);
	*status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	if (r->progress && label)
		fputc('\n', stderr);
	if (rc != CURLE_OK) {
		*why = arena_printf(r->a, "GET %s: %s", url, *ebuf ? ebuf : curl_easy_strerror(rc));
		return DD_E_IO;
	}
	return 0;
}

/* Value of key="..." in a WWW-Authenticate header. */
static const char *param(struct arena *a, const char *h, const char *key)
{
	const char *p = strstr(h, arena_printf(a, "%s=\"", key));
	if (!p)
		return NULL;
	p += strlen(key) + 2;
	return arena_strndup(a, p, strcspn(p, "\""));
}

/* An anonymous (or credentialed) bearer token for the challenge in h. */
static int fetch_token(struct remote *r, const char *h, const char **why)
{
	const char *realm = param(r->a, h, "realm"), *service = param(r->a, h, "service"),
		   *scope = param(r->a, h, "scope");
	if (!realm) {
		*why = "the registry asks for authentication it does not describe";
		return DD_E_UNAUTHORIZED;
	}
	CURL *c = curl_easy_init();
	char *es = service ? curl_easy_escape(c, service, 0) : NULL, *esc = scope ? curl_easy_escape(c, scope, 0) : NULL;
	const char *url = arena_printf(r->a, "%s%sservice=%s&scope=%s", realm, strchr(realm, '?') ? "&" : "?",
				       es ? es : "", esc ? esc : arena_printf(r->a, "repository:%s:pull", r->repo));
	curl_free(es);
	curl_free(esc);
	curl_easy_cleanup(c);
	struct sink s = {.mem = arena_alloc(r->a, 1 << 20), .cap = 1 << 20};
	struct hdrs hh = {0};
	long status;
	int rc = get(r, url, NULL, &s, &hh, &status, NULL, why);
	if (rc)
		return rc;
	json_t *o = json_loadb(s.mem, s.len, 0, NULL);
	const char *t = json_string_value(json_object_get(o, "token"));
	if (!t)
		t = json_string_value(json_object_get(o, "access_token"));
	if (status != 200 || !t) {
		json_decref(o);
		*why = arena_printf(r->a, "the token service '%s' answered %ld", realm, status);
		return DD_E_UNAUTHORIZED;
	}
	r->token = arena_strdup(r->a, t);
	json_decref(o);
	return 0;
}

/* GET with one retry after a bearer challenge. */
static int get_auth(struct remote *r, const char *url, const char *accept, struct sink *out, struct hdrs *h,
		    long *status, const char *label, const char **why)
{
	int rc = get(r, url, accept, out, h, status, label, why);
	if (!rc && *status == 401 && !r->token && strstr(h->auth, "Bearer")) {
		if ((rc = fetch_token(r, h->auth, why)))
			return rc;
		if (out->f) {
			rewind(out->f);
			if (ftruncate(fileno(out->f), 0))
				return DD_E_IO;
		}
		out->len = 0;
		memset(h, 0, sizeof(*h));
		rc = get(r, url, accept, out, h, status, label, why);
	}
	if (!rc && *status != 200) {
		*why = arena_printf(r->a, "GET %s: HTTP %ld", url, *status);
		rc = *status == 401 || *status == 403 ? DD_E_UNAUTHORIZED
		     : *status == 404		      ? DD_E_NOT_FOUND
						      : DD_E_IO;
	}
	return rc;
}

static const char ACCEPT[] = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, "
			     "application/vnd.docker.distribution.manifest.list.v2+json, "
			     "application/vnd.docker.distribution.manifest.v2+json";

int image_open_remote(struct arena *a, const char *ref, const struct remote_opts *o, const char *cache_dir,
		      struct image *out, const char **why)
{
	image_begin(a, out, ref);
	*why = NULL;
	/* host[:port]/repo[:tag|@digest] */
	const char *slash = strchr(ref, '/');
	if (!slash) {
		*why = "expected HOST[:PORT]/REPOSITORY[:TAG|@DIGEST]";
		return DD_E_USAGE;
	}
	const char *host = arena_strndup(a, ref, (size_t)(slash - ref));
	const char *repo, *reference;
	int is_digest;
	image_split_ref(a, slash + 1, &repo, &reference, &is_digest);
	int loopback = !strncmp(host, "127.", 4) || !strncmp(host, "localhost", 9) || !strncmp(host, "[::1]", 5);
	struct remote r = {.a = a, .repo = repo, .creds = o->creds, .progress = o->progress};
	if (!r.creds) { /* the login podman, skopeo, buildah or docker saved for this registry */
		const char *source;
		r.creds = regauth_lookup(a, host, repo, &source);
		if (r.creds && o->progress)
			fprintf(stderr, "using the login for %s saved in %s\n", host, source);
	}
	char *dir = arena_printf(a, "%s/drydock-pull-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir)) {
		*why = "cannot create a temporary directory";
		return DD_E_IO;
	}
	out->tmpdir = dir;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	struct sink s = {.mem = arena_alloc(a, REMOTE_MAX_MANIFEST), .cap = REMOTE_MAX_MANIFEST};
	struct hdrs h = {0};
	long status = 0;
	int rc = 1;
	const char *schemes[] = {o->plain_http ? "http" : "https", "http"};
	for (int i = 0; i < (o->plain_http || !(loopback || o->insecure) ? 1 : 2) && rc; i++) {
		r.base = arena_printf(a, "%s://%s", schemes[i], host);
		s.len = 0;
		rc = get_auth(&r, arena_printf(a, "%s/v2/%s/manifests/%s", r.base, repo, reference), ACCEPT, &s, &h, &status,
			      NULL, why);
	}
	if (rc)
		return rc;
	json_t *m = json_loadb(s.mem, s.len, 0, NULL);
	const char *mdigest = NULL;
	for (int depth = 0; depth < 2 && json_is_array(json_object_get(m, "manifests")); depth++) {
		json_t *pick = image_pick_platform(a, json_object_get(m, "manifests"), out);
		const char *d = json_string_value(json_object_get(pick, "digest"));
		if (!d) {
			json_decref(m);
			*why = arena_printf(a, "the index of '%s' has no such linux platform", ref);
			return DD_E_NOT_FOUND;
		}
		mdigest = arena_strdup(a, d);
		s.len = 0;
		memset(&h, 0, sizeof(h));
		json_decref(m);
		if ((rc = get_auth(&r, arena_printf(a, "%s/v2/%s/manifests/%s", r.base, repo, mdigest), ACCEPT, &s, &h,
				   &status, NULL, why)))
			return rc;
		m = json_loadb(s.mem, s.len, 0, NULL);
	}
	json_t *layers = json_object_get(m, "layers"), *l;
	if (!json_is_array(layers)) {
		json_decref(m);
		*why = arena_printf(a, "'%s' is not an image manifest", ref);
		return DD_E_IMAGE_INVALID;
	}
	if ((rc = image_check_layer_count(a, arena_printf(a, "manifest of '%s'", ref), json_array_size(layers), why))) {
		json_decref(m);
		return rc;
	}
	if (!mdigest) {
		struct digest md;
		digest_of(DIGEST_SHA256, s.mem, s.len, &md);
		mdigest = arena_strdup(a, md.str);
	}
	out->manifest_digest = mdigest;
	out->nlayers = json_array_size(layers);
	out->layers = arena_alloc(a, (out->nlayers + 1) * sizeof(*out->layers));
	size_t i;
	json_array_foreach(layers, i, l)
	{
		const char *d = json_string_value(json_object_get(l, "digest")), *dwhy;
		struct digest p;
		if (!d || digest_parse(d, strlen(d), &p, &dwhy)) {
			rc = DD_E_IMAGE_INVALID;
			*why = arena_printf(a, "layer %zu of '%s' has no valid digest", i + 1, ref);
			break;
		}
		out->layers[i].digest = arena_strdup(a, p.str);
		out->layers[i].media_type = "";
		out->layers[i].size = image_descriptor_size(l);
		out->layers[i].file = arena_printf(a, "%s/layer-%zu", dir, i);
		struct layer cached;
		struct arena tmp = {0};
		int hit = cache_dir && !layer_cache_get(cache_dir, p.str, &tmp, &cached);
		arena_free(&tmp);
		if (hit)
			continue; /* read before: image_inventory takes it from the cache */
		FILE *f = fopen(out->layers[i].file, "wb");
		if (!f) {
			rc = DD_E_IO;
			*why = "cannot write a temporary file";
			break;
		}
		struct sink fs = {.f = f};
		memset(&h, 0, sizeof(h));
		rc = get_auth(&r, arena_printf(a, "%s/v2/%s/blobs/%s", r.base, repo, p.str), NULL, &fs, &h, &status, p.str,
			      why);
		if (fclose(f) && !rc) {
			rc = DD_E_IO;
			*why = "cannot write a temporary file";
		}
		if (rc)
			break;
	}
	json_decref(m);
	return rc;
}
