/* webhook.c: the outbox deliverer and the targets' API (see webhook.h). */
#include "common/dd.h"
#include "assess/webhook.h"
#include "auth/access.h"
#include "auth/audit.h"
#include "common/arena.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/util.h"
#include "events/hooks.h"
#include "http/range.h"
#include "http/server.h"
#include "store/meta_outbox.h"
#include "web/reply.h"
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#define WEBHOOK_BATCH 32
#define WEBHOOK_MAX_DELAY 300 /* seconds between retries, at most */
#define WEBHOOK_TIMEOUT 10    /* seconds per POST */

struct webhook {
	struct meta *meta;
	int64_t give_up;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
};

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
	(void)p;
	(void)ctx;
	return size * n;
}

void webhook_sign(const char *secret, int64_t t, const char *body, size_t n, char out[72])
{
	char ts[24];
	int tn = snprintf(ts, sizeof(ts), "%" PRId64 ".", t);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdn = 0;
	/* HMAC over "<t>." then the body, as receivers compute it */
	size_t total = (size_t)tn + n;
	unsigned char *msg = malloc(total ? total : 1);
	if (!msg) {
		snprintf(out, 72, "sha256=");
		return;
	}
	memcpy(msg, ts, (size_t)tn);
	memcpy(msg + tn, body, n);
	HMAC(EVP_sha256(), secret, (int)strlen(secret), msg, total, md, &mdn);
	free(msg);
	char *p = out + snprintf(out, 72, "sha256=");
	for (unsigned i = 0; i < mdn && i < 32; i++)
		p += snprintf(p, 3, "%02x", md[i]);
}

/* The body sent to target t for event item e (arena): the event itself, or for format
 * "cloudevents" its CloudEvents 1.0 envelope. NULL when the stored event cannot be read. */
static const char *body_of(struct arena *a, const struct webhook_target *t, const struct outbox_item *e,
			   const char **content_type, const char **id)
{
	json_t *ev = json_loads(e->payload, 0, NULL);
	const char *i = json_string_value(json_object_get(ev, "id"));
	*id = i ? arena_strdup(a, i) : "";
	*content_type = "application/json";
	if (!ev || strcmp(t->format, "cloudevents")) {
		json_decref(ev);
		return e->payload;
	}
	const char *repo = json_string_value(json_object_get(ev, "repository"));
	const char *digest = json_string_value(json_object_get(ev, "digest"));
	json_int_t time = json_integer_value(json_object_get(ev, "time"));
	json_t *ce = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:O}", "specversion", "1.0", "id", *id, "source",
			       arena_printf(a, "/drydock/repositories/%s", repo ? repo : ""), "type",
			       arena_printf(a, "drydock.%s", e->type), "subject", digest ? digest : "", "time",
			       util_iso_time(a, (int64_t)time), "datacontenttype", "application/json", "data", ev);
	json_decref(ev);
	char *text = ce ? json_dumps(ce, JSON_COMPACT) : NULL;
	json_decref(ce);
	const char *out = text ? arena_strdup(a, text) : NULL;
	free(text);
	*content_type = "application/cloudevents+json";
	return out;
}

/* POSTs e to t: 0 on a 2xx answer, else 1 with *error (arena). */
static int post(CURL *c, struct arena *a, const struct webhook_target *t, const struct outbox_item *e,
		const char **error)
{
	const char *ctype, *id;
	const char *body = body_of(a, t, e, &ctype, &id);
	if (!body) {
		*error = "the stored event cannot be read";
		return 1;
	}
	struct curl_slist *h = curl_slist_append(NULL, arena_printf(a, "Content-Type: %s", ctype));
	h = curl_slist_append(h, arena_printf(a, "X-Drydock-Event-Id: %s", id));
	h = curl_slist_append(h, arena_printf(a, "X-Drydock-Event: %s", e->type));
	h = curl_slist_append(h, arena_printf(a, "X-Drydock-Delivery-Attempt: %d", e->attempts + 1));
	if (*t->secret) {
		int64_t now = util_now();
		char sig[72];
		webhook_sign(t->secret, now, body, strlen(body), sig);
		h = curl_slist_append(h, arena_printf(a, "X-Drydock-Timestamp: %" PRId64, now));
		h = curl_slist_append(h, arena_printf(a, "X-Drydock-Signature: %s", sig));
	}
	h = curl_slist_append(h, "Expect:");
	char err[CURL_ERROR_SIZE] = "";
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, t->url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)WEBHOOK_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	CURLcode rc = curl_easy_perform(c);
	long status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	if (rc == CURLE_OK && status >= 200 && status < 300)
		return 0;
	*error = rc != CURLE_OK ? arena_printf(a, "%s", *err ? err : curl_easy_strerror(rc))
				: arena_printf(a, "HTTP %ld", status);
	return 1;
}

/* Delivers target t's waiting events in order until one fails: 1 when a full batch went (more
 * may wait). */
static int deliver_target(struct webhook *w, CURL *c, const struct webhook_target *t)
{
	struct arena a = {0};
	struct outbox_item *v;
	size_t n = 0;
	struct meta *m = w->meta;
	int more = 0;
	if (!m->outbox->outbox_batch(m, &a, t->id, WEBHOOK_BATCH, &v, &n)) {
		size_t i = 0;
		for (; i < n; i++) {
			const char *error;
			if (!post(c, &a, t, &v[i], &error)) {
				m->outbox->outbox_done(m, t->id, v[i].id);
				continue;
			}
			int64_t now = util_now();
			if (v[i].first_failed_at && now - v[i].first_failed_at >= w->give_up) {
				log_warn("webhook %" PRId64 " (%s): event %" PRId64 " given up after %d attempts over %" PRId64
					 " s: %s",
					 t->id, t->url, v[i].id, v[i].attempts + 1, now - v[i].first_failed_at, error);
				m->outbox->outbox_give_up(m, t->id, v[i].id, error);
				continue; /* the next event goes */
			}
			int64_t delay = (int64_t)1 << (v[i].attempts < 9 ? v[i].attempts : 9);
			if (delay > WEBHOOK_MAX_DELAY)
				delay = WEBHOOK_MAX_DELAY;
			log_warn("webhook %" PRId64 " (%s): event %" PRId64 " not delivered (%s); retrying in %" PRId64 " s",
				 t->id, t->url, v[i].id, error, delay);
			m->outbox->outbox_retry(m, t->id, v[i].id, now, now + delay, error);
			break; /* keep the order: later events wait for this one */
		}
		more = n == WEBHOOK_BATCH && i == n;
	}
	arena_free(&a);
	return more;
}

static void *deliver_main(void *arg)
{
	struct webhook *w = arg;
	CURL *c = curl_easy_init();
	for (;;) {
		pthread_mutex_lock(&w->mu);
		int stop = w->stop;
		pthread_mutex_unlock(&w->mu);
		if (stop || !c)
			break;
		struct arena a = {0};
		struct webhook_target *t;
		size_t n = 0;
		int more = 0;
		if (!w->meta->outbox->outbox_heads(w->meta, &a, util_now(), &t, &n))
			for (size_t i = 0; i < n; i++)
				more |= deliver_target(w, c, &t[i]);
		arena_free(&a);
		if (more)
			continue;
		pthread_mutex_lock(&w->mu);
		if (!w->stop) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			pthread_cond_timedwait(&w->cv, &w->mu, &ts);
		}
		pthread_mutex_unlock(&w->mu);
	}
	if (c)
		curl_easy_cleanup(c);
	return NULL;
}

struct webhook *webhook_start(struct meta *meta, int64_t give_up)
{
	struct webhook *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->meta = meta;
	w->give_up = give_up;
	curl_global_init(CURL_GLOBAL_DEFAULT); /* here, on the main thread, before any transfer */
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	if (pthread_create(&w->thread, NULL, deliver_main, w)) {
		free(w);
		return NULL;
	}
	return w;
}

void webhook_stop(struct webhook *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w);
}

/* ---- /api/v1/webhooks ---- */

int webhook_api_route(const char *path)
{
	return !strncmp(path, "/api/v1/webhooks", 16) && (!path[16] || path[16] == '/');
}

/* Whether the caller may manage a target of namespace ns ("": every namespace). */
static int may_manage(struct http_req *r, const char *ns)
{
	return *ns ? access_check_ns(r, ns, ACCESS_SETTINGS) : access_check(r, NULL, ACCESS_SETTINGS);
}

static json_t *target_json(struct arena *a, const struct webhook_target *t)
{
	json_t *ev = json_array();
	for (const char *p = t->events; *p;) {
		size_t n = strcspn(p, ",");
		json_array_append_new(ev, json_stringn(p, n));
		p += n + (p[n] == ',');
	}
	json_t *o = json_pack("{s:I, s:s, s:s, s:o, s:s, s:s, s:s, s:b}", "id", (json_int_t)t->id, "url", t->url,
			      "namespace", t->ns, "events", ev, "format", t->format, "origin", t->origin, "created",
			      util_iso_time(a, t->created), "signed", *t->secret != 0);
	json_object_set_new(o, "delivery",
			    json_pack("{s:I, s:I, s:I, s:s?, s:s?, s:s?}", "delivered", (json_int_t)t->delivered, "waiting",
				      (json_int_t)t->waiting, "given_up", (json_int_t)t->given_up, "failing_since",
				      t->failing_since ? util_iso_time(a, t->failing_since) : NULL, "next_attempt",
				      t->waiting && t->failing_since ? util_iso_time(a, t->next_at) : NULL, "last_error",
				      *t->last_error ? t->last_error : NULL));
	return o;
}

static int ns_valid(const char *ns)
{
	size_t n = strlen(ns);
	if (n > 255)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((ns[i] >= 'a' && ns[i] <= 'z') || (ns[i] >= '0' && ns[i] <= '9') || ns[i] == '.' || ns[i] == '_' ||
		      ns[i] == '-'))
			return 0;
	return 1;
}

static int url_valid(const char *u)
{
	if (strncmp(u, "http://", 7) && strncmp(u, "https://", 8))
		return 0;
	if (strlen(u) > DD_MAX_WEBHOOK_URL)
		return 0;
	for (const unsigned char *p = (const unsigned char *)u; *p; p++)
		if (*p <= ' ' || *p >= 0x7f)
			return 0;
	return u[strlen(u) - 1] != '/' || strlen(u) > 8;
}

/* The events member: an array of type names or a comma-separated string ("" or absent: every
 * type), as the comma-separated text stored. */
static int events_of(struct arena *a, json_t *v, const char **out, const char **why)
{
	*out = "";
	if (!v || json_is_null(v))
		return 0;
	if (json_is_string(v))
		*out = arena_strdup(a, json_string_value(v));
	else if (json_is_array(v)) {
		const char *acc = "";
		size_t i;
		json_t *x;
		json_array_foreach(v, i, x)
		{
			if (!json_is_string(x)) {
				*why = "events: an array of event type names";
				return 1;
			}
			acc = arena_printf(a, "%s%s%s", acc, *acc ? "," : "", json_string_value(x));
		}
		*out = acc;
	} else {
		*why = "events: an array of event type names";
		return 1;
	}
	return hook_types_valid(*out, why);
}

static void create(struct http_req *r, struct meta *meta, const char *body, size_t len)
{
	json_error_t jerr;
	json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	const char *why = NULL;
	struct webhook_target t = {.origin = "api", .ns = "", .format = "drydock"};
	if (!json_is_object(o))
		why = "the body must be a JSON object: {\"url\", \"namespace\", \"events\", \"format\", \"secret\"}";
	const char *key;
	json_t *v;
	if (!why)
		json_object_foreach(o, key, v) if (strcmp(key, "url") && strcmp(key, "namespace") && strcmp(key, "events") &&
						   strcmp(key, "format") && strcmp(key, "secret"))
		{
			why = arena_printf(&r->arena, "unknown member '%.64s' (url, namespace, events, format, secret)", key);
			break;
		}
	if (!why) {
		json_t *u = json_object_get(o, "url"), *ns = json_object_get(o, "namespace"), *f = json_object_get(o, "format"),
		       *s = json_object_get(o, "secret");
		if (!json_is_string(u) || !url_valid(json_string_value(u)))
			why = "url: an http:// or https:// URL of at most 1024 printable characters";
		else if (ns && (!json_is_string(ns) || !ns_valid(json_string_value(ns))))
			why = "namespace: a repository's first path component (lowercase letters, digits, '.', '_', '-'),"
			      " or \"\" for every namespace";
		else if (f && (!json_is_string(f) || (strcmp(json_string_value(f), "drydock") &&
						       strcmp(json_string_value(f), "cloudevents"))))
			why = "format: \"drydock\" (the event itself) or \"cloudevents\" (a CloudEvents 1.0 envelope)";
		else if (s && (!json_is_string(s) || json_string_length(s) > DD_MAX_WEBHOOK_SECRET))
			why = "secret: a string of at most 256 bytes (\"\" sends unsigned deliveries; left out, one is made)";
		else if (!events_of(&r->arena, json_object_get(o, "events"), &t.events, &why)) {
			t.url = arena_strdup(&r->arena, json_string_value(u));
			if (ns)
				t.ns = arena_strdup(&r->arena, json_string_value(ns));
			if (f)
				t.format = arena_strdup(&r->arena, json_string_value(f));
			if (s)
				t.secret = arena_strdup(&r->arena, json_string_value(s));
		}
	}
	json_decref(o);
	if (why) {
		web_error(r, DD_E_USAGE, why);
		return;
	}
	int arc = may_manage(r, t.ns);
	if (arc) {
		web_error(r, arc, *t.ns ? arena_printf(&r->arena, "a webhook of namespace '%s' needs the owner role there", t.ns)
					: "a webhook of every namespace needs a registry-wide owner or admin role");
		access_add_challenge(r, arc, NULL, ACCESS_SETTINGS);
		return;
	}
	struct webhook_target *all;
	size_t n;
	if (meta->outbox->webhook_list(meta, &r->arena, &all, &n)) {
		web_error(r, DD_E_IO, NULL);
		return;
	}
	if (n >= DD_MAX_WEBHOOKS) {
		web_error(r, DD_E_USAGE, "100 webhooks are kept at most: delete one first");
		return;
	}
	if (!t.secret) { /* one made here, shown in this answer only */
		unsigned char raw[24];
		if (RAND_bytes(raw, sizeof(raw)) != 1) {
			web_error(r, DD_E_INTERNAL, NULL);
			return;
		}
		char hex[2 * sizeof(raw) + 1];
		for (size_t i = 0; i < sizeof(raw); i++)
			snprintf(hex + 2 * i, 3, "%02x", raw[i]);
		t.secret = arena_printf(&r->arena, "whsec_%s", hex);
	}
	int rc = meta->outbox->webhook_add(meta, &t, &t.id);
	if (rc) {
		web_error(r, rc, NULL);
		return;
	}
	t.created = util_now();
	t.last_error = "";
	json_t *out = target_json(&r->arena, &t);
	char *detail = json_dumps(out, JSON_COMPACT); /* the secret is not recorded */
	audit_record(r, meta, "webhook-create", arena_printf(&r->arena, "%" PRId64, t.id), detail);
	free(detail);
	if (*t.secret)
		json_object_set_new(out, "secret", json_string(t.secret));
	web_send_json(r, 201, out);
	http_add_header(r, "Location", arena_printf(&r->arena, "/api/v1/webhooks/%" PRId64, t.id));
}

void webhook_api(struct http_req *r, struct meta *meta, const char *body, size_t len, int *want_body)
{
	if (body) {
		create(r, meta, body, len);
		return;
	}
	const char *p = r->path + 16;
	if (!strcmp(r->method, "POST") && !*p) {
		if (!web_access(r, NULL, ACCESS_BASE)) /* the target's own scope is checked once it is read */
			*want_body = 1;
		return;
	}
	int del = !strcmp(r->method, "DELETE");
	if ((!del && strcmp(r->method, "GET") && strcmp(r->method, "HEAD")) || (del && !*p)) {
		web_error(r, DD_E_METHOD, NULL);
		return;
	}
	if (web_access(r, NULL, ACCESS_BASE))
		return;
	int64_t id = -1;
	if (*p && (p[0] != '/' || parse_i64(p + 1, strlen(p + 1), &id) || id < 1)) {
		web_error(r, DD_E_NOT_FOUND, "no such webhook");
		return;
	}
	struct webhook_target *v;
	size_t n;
	if (meta->outbox->webhook_list(meta, &r->arena, &v, &n)) {
		web_error(r, DD_E_IO, NULL);
		return;
	}
	json_t *a = json_array();
	const struct webhook_target *one = NULL;
	for (size_t i = 0; i < n; i++) {
		if (may_manage(r, v[i].ns) || (id > 0 && v[i].id != id))
			continue; /* a target the caller may not manage reads as one that does not exist */
		one = &v[i];
		json_array_append_new(a, target_json(&r->arena, &v[i]));
	}
	if (id > 0 && !one) {
		json_decref(a);
		web_error(r, DD_E_NOT_FOUND, arena_printf(&r->arena, "no webhook %" PRId64, id));
		return;
	}
	if (!del) {
		if (id > 0) {
			json_t *o = json_incref(json_array_get(a, 0));
			json_decref(a);
			web_send_json(r, 200, o);
		} else
			web_send_json(r, 200, json_pack("{s:o}", "webhooks", a));
		return;
	}
	json_decref(a);
	if (!strcmp(one->origin, "config")) {
		web_error(r, DD_E_USAGE, "this webhook is the server's webhook setting: change the setting to remove it");
		return;
	}
	int rc = meta->outbox->webhook_delete(meta, id);
	if (rc) {
		web_error(r, rc, NULL);
		return;
	}
	audit_record(r, meta, "webhook-delete", arena_printf(&r->arena, "%" PRId64, id), NULL);
	http_respond(r, 204, NULL, "", 0);
}
