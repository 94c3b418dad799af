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
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#define WEBHOOK_MAX_DELAY 300 /* seconds between retries of a failing target, at most */
#define WEBHOOK_TIMEOUT 10    /* seconds per POST */

/* One POST in flight: each target has at most one, so its events go in order, and a target
 * that never answers holds no other. */
struct flight {
	int used;
	int64_t target, event, created;
	int attempts;
	int internal;          /* may reach an internal address */
	char refused[96];      /* the internal address a connection was refused, or "" */
	CURL *c;
	struct curl_slist *h;
	char url[DD_MAX_WEBHOOK_URL + 1];
	char err[CURL_ERROR_SIZE];
};

struct webhook {
	struct meta *meta;
	int64_t give_up;
	pthread_t thread;
	pthread_mutex_t mu;
	CURLM *multi;
	int stop;
	struct flight flights[DD_MAX_WEBHOOKS + 1]; /* slots (the setting's target too); a used one is in flight */
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

/* The body sent to target t for event e (arena): the event itself, or for format
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

/* Whether a is an address a webhook of a namespace may not reach: loopback, link-local (the
 * cloud metadata services), private, unspecified or multicast. */
static int internal_address(const struct sockaddr *a)
{
	if (a->sa_family == AF_INET) {
		uint32_t v = ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr);
		return (v >> 24) == 127 || (v >> 24) == 10 || (v >> 24) == 0 || (v >> 16) == 0xa9fe ||
		       (v >> 20) == 0xac1 || (v >> 16) == 0xc0a8 || (v >> 28) == 0xe || (v >> 22) == (100 << 2 | 1);
	}
	if (a->sa_family == AF_INET6) {
		const uint8_t *b = ((const struct sockaddr_in6 *)a)->sin6_addr.s6_addr;
		static const uint8_t zero[10] = {0};
		if (!memcmp(b, zero, 10) && b[10] == 0xff && b[11] == 0xff) { /* ::ffff:a.b.c.d */
			struct sockaddr_in v4 = {.sin_family = AF_INET};
			memcpy(&v4.sin_addr, b + 12, 4);
			return internal_address((const struct sockaddr *)&v4);
		}
		static const uint8_t any[16] = {0};
		uint8_t one[16] = {0};
		one[15] = 1;
		return !memcmp(b, any, 16) || !memcmp(b, one, 16) || (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) ||
		       (b[0] & 0xfe) == 0xfc || b[0] == 0xff;
	}
	return 1;
}

/* curl's socket opener: a namespace's target connects to no internal address (checked on the
 * address connected to, so a name that resolves inside is refused too). */
static curl_socket_t open_socket(void *ctx, curlsocktype purpose, struct curl_sockaddr *addr)
{
	struct flight *f = ctx;
	(void)purpose;
	if (!f->internal && internal_address(&addr->addr)) {
		char host[INET6_ADDRSTRLEN] = "?";
		const void *in = addr->family == AF_INET ? (const void *)&((const struct sockaddr_in *)&addr->addr)->sin_addr
							 : (const void *)&((const struct sockaddr_in6 *)&addr->addr)->sin6_addr;
		inet_ntop(addr->family, in, host, sizeof(host));
		snprintf(f->refused, sizeof(f->refused), "%s", host);
		return CURL_SOCKET_BAD;
	}
	return socket(addr->family, addr->socktype, addr->protocol);
}

/* Starts the POST of e to t as flight f: 0, or 1 when it cannot be made (*error). */
static int start(struct webhook *w, struct flight *f, const struct webhook_target *t, const struct outbox_item *e,
		 const char **error)
{
	struct arena a = {0};
	const char *ctype, *id;
	const char *body = body_of(&a, t, e, &ctype, &id);
	*f = (struct flight){.target = t->id, .event = e->id, .created = e->created, .attempts = e->attempts,
			     .internal = t->internal};
	/* used once the transfer is added, below */
	snprintf(f->url, sizeof(f->url), "%s", t->url);
	if (!body || !(f->c = curl_easy_init())) {
		*error = body ? "out of memory" : "the stored event cannot be read";
		arena_free(&a);
		return 1;
	}
	f->h = curl_slist_append(NULL, arena_printf(&a, "Content-Type: %s", ctype));
	f->h = curl_slist_append(f->h, arena_printf(&a, "X-Drydock-Event-Id: %s", id));
	f->h = curl_slist_append(f->h, arena_printf(&a, "X-Drydock-Event: %s", e->type));
	f->h = curl_slist_append(f->h, arena_printf(&a, "X-Drydock-Delivery-Attempt: %d", e->attempts + 1));
	if (*t->secret) {
		int64_t now = util_now();
		char sig[72];
		webhook_sign(t->secret, now, body, strlen(body), sig);
		f->h = curl_slist_append(f->h, arena_printf(&a, "X-Drydock-Timestamp: %" PRId64, now));
		f->h = curl_slist_append(f->h, arena_printf(&a, "X-Drydock-Signature: %s", sig));
	}
	f->h = curl_slist_append(f->h, "Expect:");
	curl_easy_setopt(f->c, CURLOPT_URL, t->url);
	curl_easy_setopt(f->c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(f->c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	curl_easy_setopt(f->c, CURLOPT_COPYPOSTFIELDS, body);
	curl_easy_setopt(f->c, CURLOPT_HTTPHEADER, f->h);
	curl_easy_setopt(f->c, CURLOPT_TIMEOUT, (long)WEBHOOK_TIMEOUT);
	curl_easy_setopt(f->c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(f->c, CURLOPT_ERRORBUFFER, f->err);
	curl_easy_setopt(f->c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(f->c, CURLOPT_PRIVATE, f);
	curl_easy_setopt(f->c, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	curl_easy_setopt(f->c, CURLOPT_OPENSOCKETDATA, f);
	arena_free(&a);
	if (curl_multi_add_handle(w->multi, f->c) != CURLM_OK) {
		curl_slist_free_all(f->h);
		f->h = NULL;
		*error = "the transfer cannot be started";
		return 1;
	}
	f->used = 1;
	return 0;
}

/* What a failed delivery of f (or of an event of f's target that could not be sent) does:
 * the target is tried again after 1, 2, 4 ... 300 s, and its events made `give_up` seconds
 * ago or more are given up. */
static void failed(struct webhook *w, int64_t target, int64_t event, const char *url, const char *error)
{
	struct arena a = {0};
	struct webhook_target *t;
	size_t n = 0;
	int64_t failures = 0;
	if (!w->meta->outbox->webhook_list(w->meta, &a, &t, &n))
		for (size_t i = 0; i < n; i++)
			if (t[i].id == target)
				failures = t[i].failures;
	arena_free(&a);
	int64_t now = util_now(), delay = (int64_t)1 << (failures < 9 ? failures : 9), given_up = 0;
	if (delay > WEBHOOK_MAX_DELAY)
		delay = WEBHOOK_MAX_DELAY;
	w->meta->outbox->outbox_failed(w->meta, target, event, now, now + delay, now - w->give_up, error, &given_up);
	char shown[160];
	webhook_url_shown(url, shown, sizeof(shown));
	log_warn("webhook %" PRId64 " (%s): event %" PRId64 " not delivered (%s); retrying in %" PRId64 " s%s", target,
		 shown, event, error, delay,
		 given_up ? "; events older than the give-up limit given up" : "");
}

/* Ends the finished transfers: a 2xx answer (whatever became of its body) is delivered. */
static void reap(struct webhook *w)
{
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(w->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		struct flight *f = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&f);
		long status = 0;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
		if (status >= 200 && status < 300)
			w->meta->outbox->outbox_done(w->meta, f->target, f->event);
		else {
			char error[CURL_ERROR_SIZE + 160];
			if (*f->refused)
				snprintf(error, sizeof(error),
					 "refused: %s is an internal address (only a target made by a registry-wide owner or"
					 " admin may reach one)", f->refused);
			else if (msg->data.result != CURLE_OK)
				snprintf(error, sizeof(error), "%s", *f->err ? f->err : curl_easy_strerror(msg->data.result));
			else
				snprintf(error, sizeof(error), "HTTP %ld", status);
			failed(w, f->target, f->event, f->url, error);
		}
		curl_multi_remove_handle(w->multi, f->c);
		curl_easy_cleanup(f->c);
		curl_slist_free_all(f->h);
		f->used = 0;
	}
}

/* A free slot, or NULL when target has a POST in flight or every slot is taken. */
static struct flight *slot_for(struct webhook *w, int64_t target)
{
	struct flight *free_slot = NULL;
	for (size_t i = 0; i < DD_ARRAY_LEN(w->flights); i++) {
		if (w->flights[i].used && w->flights[i].target == target)
			return NULL;
		if (!w->flights[i].used && !free_slot)
			free_slot = &w->flights[i];
	}
	return free_slot;
}

static void *deliver_main(void *arg)
{
	struct webhook *w = arg;
	for (;;) {
		pthread_mutex_lock(&w->mu);
		int stop = w->stop;
		pthread_mutex_unlock(&w->mu);
		if (stop)
			break;
		struct arena a = {0};
		struct webhook_target *t;
		struct outbox_item *h;
		size_t n = 0;
		if (!w->meta->outbox->outbox_heads(w->meta, &a, util_now(), &t, &h, &n))
			for (size_t i = 0; i < n; i++) {
				const char *error;
				struct flight *f = slot_for(w, t[i].id);
				if (f && start(w, f, &t[i], &h[i], &error)) {
					if (f->c)
						curl_easy_cleanup(f->c);
					failed(w, t[i].id, h[i].id, t[i].url, error);
				}
			}
		arena_free(&a);
		int running;
		curl_multi_perform(w->multi, &running);
		reap(w);
		/* a second at most: a new event, or a target's retry time, waits no longer */
		curl_multi_poll(w->multi, NULL, 0, 1000, NULL);
		curl_multi_perform(w->multi, &running);
		reap(w);
	}
	for (size_t i = 0; i < DD_ARRAY_LEN(w->flights); i++) { /* left in the outbox: sent again after a restart */
		if (!w->flights[i].used)
			continue;
		curl_multi_remove_handle(w->multi, w->flights[i].c);
		curl_easy_cleanup(w->flights[i].c);
		curl_slist_free_all(w->flights[i].h);
		w->flights[i].used = 0;
	}
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
	if (!(w->multi = curl_multi_init()) || pthread_create(&w->thread, NULL, deliver_main, w)) {
		if (w->multi)
			curl_multi_cleanup(w->multi);
		pthread_mutex_destroy(&w->mu);
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
	pthread_mutex_unlock(&w->mu);
	curl_multi_wakeup(w->multi);
	pthread_join(w->thread, NULL);
	curl_multi_cleanup(w->multi);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

void webhook_url_shown(const char *url, char *out, size_t cap)
{
	const char *s = strstr(url, "://");
	const char *host = s ? s + 3 : url;
	size_t auth = strcspn(host, "/?#");
	const char *at = memchr(host, '@', auth);
	if (at) /* credentials in the URL are not logged */
		snprintf(out, cap, "%.*s***@%s", (int)(host - url), url, at + 1);
	else
		snprintf(out, cap, "%s", url);
}

/* ---- /api/v1/webhooks ---- */

#define WEBHOOKS_PER_NAMESPACE 10 /* targets of one namespace (or of every one), at most */

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
	json_object_set_new(o, "internal_addresses", json_boolean(t->internal));
	json_object_set_new(o, "delivery",
			    json_pack("{s:I, s:I, s:I, s:I, s:s?, s:s?}", "delivered", (json_int_t)t->delivered, "waiting",
				      (json_int_t)t->waiting, "given_up", (json_int_t)t->given_up, "failures",
				      (json_int_t)t->failures, "next_attempt",
				      t->failures && t->retry_at ? util_iso_time(a, t->retry_at) : NULL, "last_error",
				      *t->last_error ? t->last_error : NULL));
	return o;
}

/* A namespace as the grammar of repository path components has it ([a-z0-9]+ joined by one
 * '.', '_', "__" or any number of '-'): "." and ".." are none. */
static int ns_valid(const char *ns)
{
	size_t n = strlen(ns);
	if (n > 255)
		return 0;
	for (size_t i = 0; i < n; i++) {
		int alnum = (ns[i] >= 'a' && ns[i] <= 'z') || (ns[i] >= '0' && ns[i] <= '9');
		if (alnum)
			continue;
		if (!i || i == n - 1 || !strchr("._-", ns[i]))
			return 0;
		if (ns[i] == '.' && strchr("._-", ns[i + 1]))
			return 0;
		if (ns[i] == '_' && ns[i + 1] == '_' && (i + 2 == n || strchr("._-", ns[i + 2])))
			return 0;
		if (ns[i] == '_' && strchr(".-", ns[i + 1]))
			return 0;
		if (ns[i] == '-' && strchr("._", ns[i + 1]))
			return 0;
	}
	return 1;
}

/* 0, or the reason url cannot be a target (curl's own parser reads it, as delivery will). */
static const char *url_problem(struct arena *a, const char *u)
{
	if ((strncmp(u, "http://", 7) && strncmp(u, "https://", 8)) || strlen(u) > DD_MAX_WEBHOOK_URL)
		return "url: an http:// or https:// URL of at most 1024 printable characters";
	for (const unsigned char *p = (const unsigned char *)u; *p; p++)
		if (*p <= ' ' || *p >= 0x7f)
			return "url: an http:// or https:// URL of at most 1024 printable characters";
	CURLU *h = curl_url();
	char *host = NULL, *user = NULL, *port = NULL;
	CURLUcode rc = h ? curl_url_set(h, CURLUPART_URL, u, 0) : CURLUE_OUT_OF_MEMORY;
	const char *why = NULL;
	if (rc != CURLUE_OK)
		why = arena_printf(a, "url: %s", curl_url_strerror(rc));
	else if (curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host || !*host)
		why = "url: it names no host";
	else if (curl_url_get(h, CURLUPART_USER, &user, 0) == CURLUE_OK && user)
		why = "url: no user or password in it (receivers check the signature instead: give a secret)";
	curl_free(host);
	curl_free(user);
	curl_free(port);
	curl_url_cleanup(h);
	return why;
}

static int known_once(const char *acc, const char *type)
{
	size_t n = strlen(type);
	for (const char *p = acc; *p;) {
		size_t k = strcspn(p, ",");
		if (k == n && !strncmp(p, type, n))
			return 1;
		p += k + (p[k] == ',');
	}
	return 0;
}

/* The events member: an array of type names or a comma-separated string (absent, null or "":
 * every type), as the comma-separated text stored, each type once. */
static int events_of(struct arena *a, json_t *v, const char **out, const char **why)
{
	static const char *const bad = "events: a list of image.pushed, image.deleted, scan.completed, scan.failed,"
				       " findings.changed (none for every type)";
	*out = "";
	if (!v || json_is_null(v) || (json_is_string(v) && !json_string_length(v)))
		return 0;
	const char *list = NULL;
	if (json_is_string(v))
		list = json_string_value(v);
	else if (json_is_array(v) && json_array_size(v)) {
		const char *acc = "";
		size_t i;
		json_t *x;
		json_array_foreach(v, i, x)
		{
			if (!json_is_string(x) || !json_string_length(x) || strchr(json_string_value(x), ',') || i >= 16) {
				*why = bad;
				return 1;
			}
			acc = arena_printf(a, "%s%s%s", acc, *acc ? "," : "", json_string_value(x));
		}
		list = acc;
	} else {
		*why = bad;
		return 1;
	}
	size_t n = strlen(list);
	if (!n || list[0] == ',' || list[n - 1] == ',' || strstr(list, ",,") || hook_types_valid(list, why)) {
		*why = bad;
		return 1;
	}
	const char *acc = "";
	for (const char *p = list; *p;) {
		size_t k = strcspn(p, ",");
		const char *type = arena_strndup(a, p, k);
		if (!known_once(acc, type))
			acc = arena_printf(a, "%s%s%s", acc, *acc ? "," : "", type);
		p += k + (p[k] == ',');
	}
	*out = acc;
	return 0;
}

static void create(struct http_req *r, struct meta *meta, const char *body, size_t len)
{
	json_error_t jerr;
	json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	const char *why = NULL;
	struct webhook_target t = {.origin = "api", .ns = "", .format = "drydock"};
	if (!o)
		why = arena_printf(&r->arena, "the body is not JSON: %s (line %d, column %d)", jerr.text, jerr.line,
				   jerr.column);
	else if (!json_is_object(o))
		why = "the body must be a JSON object: {\"url\", \"namespace\", \"events\", \"format\", \"secret\"}";
	const char *key;
	json_t *v;
	if (!why)
		json_object_foreach(o, key, v) if (strcmp(key, "url") && strcmp(key, "namespace") && strcmp(key, "events") &&
						   strcmp(key, "format") && strcmp(key, "secret"))
		{
			why = strlen(key) <= 64 && strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") ==
							   strlen(key)
				      ? arena_printf(&r->arena, "unknown member '%s' (url, namespace, events, format, secret)", key)
				      : "an unknown member (the members are url, namespace, events, format, secret)";
			break;
		}
	if (!why) {
		json_t *u = json_object_get(o, "url"), *ns = json_object_get(o, "namespace"), *f = json_object_get(o, "format"),
		       *s = json_object_get(o, "secret");
		if (!json_is_string(u))
			why = "url: an http:// or https:// URL of at most 1024 printable characters";
		else if ((why = url_problem(&r->arena, json_string_value(u))))
			;
		else if (ns && (!json_is_string(ns) || !ns_valid(json_string_value(ns))))
			why = "namespace: a repository's first path component (lowercase letters and digits, joined by"
			      " '.', '_' or '-'), or \"\" for every namespace";
		else if (f && (!json_is_string(f) || (strcmp(json_string_value(f), "drydock") &&
						       strcmp(json_string_value(f), "cloudevents"))))
			why = "format: \"drydock\" (the event itself) or \"cloudevents\" (a CloudEvents 1.0 envelope)";
		else if (s && (!json_is_string(s) || json_string_length(s) > DD_MAX_WEBHOOK_SECRET ||
			       strlen(json_string_value(s)) != json_string_length(s)))
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
	t.internal = !access_check(r, NULL, ACCESS_SETTINGS); /* a registry-wide owner's may reach inside */
	int rc = meta->outbox->webhook_add(meta, &t, DD_MAX_WEBHOOKS, WEBHOOKS_PER_NAMESPACE, &t.id);
	if (rc) {
		web_error(r, rc, rc == DD_E_USAGE ? arena_printf(&r->arena, "at most %d webhooks in all, and %d of %s, are"
									     " kept: delete one first", DD_MAX_WEBHOOKS,
								 WEBHOOKS_PER_NAMESPACE,
								 *t.ns ? arena_printf(&r->arena, "namespace '%s'", t.ns)
								       : "every namespace")
						  : NULL);
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
	if (!strcmp(p, "/"))
		p = ""; /* the list, with a trailing slash */
	if (!strcmp(r->method, "POST") && !*p) {
		if (!web_access(r, NULL, ACCESS_BASE)) /* the target's own scope is checked once it is read */
			*want_body = 1;
		return;
	}
	int del = !strcmp(r->method, "DELETE");
	if ((!del && strcmp(r->method, "GET") && strcmp(r->method, "HEAD")) || (del && !*p)) {
		web_error(r, DD_E_METHOD, NULL);
		http_add_header(r, "Allow", *p ? "GET, HEAD, DELETE" : "GET, HEAD, POST");
		return;
	}
	if (web_access(r, NULL, ACCESS_BASE))
		return;
	int64_t id = -1;
	if (*p) { /* a decimal id, as the list gives it: no sign, no leading zero */
		size_t k = strlen(p + 1);
		if (p[0] != '/' || !k || k > 18 || p[1] == '0' || strspn(p + 1, "0123456789") != k ||
		    parse_i64(p + 1, k, &id) || id < 1) {
			web_error(r, DD_E_NOT_FOUND, "no such webhook");
			return;
		}
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
