/* webhook.c: the outbox deliverer (see webhook.h). */
#include "common/dd.h"
#include "assess/webhook.h"
#include "common/arena.h"
#include "common/log.h"
#include "common/util.h"
#include "scan/scanner.h"
#include "store/meta_outbox.h"
#include "store/meta_scans.h"
#include "vulndb/vulndb.h"
#include <curl/curl.h>
#include <jansson.h>

#define WEBHOOK_BATCH 32
#define WEBHOOK_MAX_DELAY 300 /* seconds between retries, at most */
#define WEBHOOK_TIMEOUT 10    /* seconds per POST */

struct webhook {
	struct meta *meta;
	char *url;
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

static int post(CURL *c, const char *url, const char *payload, const char *event_id, long *status)
{
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	char idh[128];
	snprintf(idh, sizeof(idh), "X-Drydock-Event-Id: %s", event_id);
	h = curl_slist_append(h, idh);
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)WEBHOOK_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	CURLcode rc = curl_easy_perform(c);
	*status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	curl_slist_free_all(h);
	return rc == CURLE_OK && *status >= 200 && *status < 300 ? 0 : 1;
}

/* The "id" of an event payload (our own JSON: "{"id":"<uuid>",...") for the header. */
static void event_id(const char *payload, char out[40])
{
	const char *p = strstr(payload, "\"id\":\"");
	size_t n = p ? strcspn(p + 6, "\"") : 0;
	snprintf(out, 40, "%.*s", (int)(n < 39 ? n : 0), p ? p + 6 : "");
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
		int64_t *ids;
		const char **payloads;
		int *attempts;
		size_t n = 0;
		w->meta->outbox->outbox_due(w->meta, &a, util_now(), WEBHOOK_BATCH, &ids, &payloads, &attempts, &n);
		int failed = 0;
		for (size_t i = 0; i < n && !failed; i++) {
			char id[40];
			long status;
			event_id(payloads[i], id);
			if (!post(c, w->url, payloads[i], id, &status)) {
				w->meta->outbox->outbox_done(w->meta, ids[i]);
				continue;
			}
			int64_t delay = (int64_t)1 << (attempts[i] < 9 ? attempts[i] : 9);
			if (delay > WEBHOOK_MAX_DELAY)
				delay = WEBHOOK_MAX_DELAY;
			log_warn("webhook %s: event %s not delivered (HTTP %ld); retrying in %" PRId64 " s", w->url, id, status,
				 delay);
			w->meta->outbox->outbox_retry(w->meta, ids[i], util_now() + delay);
			failed = 1; /* keep the order: later events wait for this one */
		}
		arena_free(&a);
		if (n == WEBHOOK_BATCH && !failed)
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

struct webhook *webhook_start(struct meta *meta, const char *url)
{
	struct webhook *w = calloc(1, sizeof(*w));
	if (!w || !(w->url = strdup(url))) {
		free(w);
		return NULL;
	}
	w->meta = meta;
	curl_global_init(CURL_GLOBAL_DEFAULT); /* here, on the main thread, before any transfer */
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	if (pthread_create(&w->thread, NULL, deliver_main, w)) {
		free(w->url);
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
	free(w->url);
	free(w);
}

char *webhook_payload(const struct scan_outcome *o)
{
	const struct assessment_rec *rec = o->rec;
	char id[37];
	util_uuid(id);
	json_t *counts = json_object();
	for (int k = VDB_SEV_CRITICAL; k >= 0; k--)
		json_object_set_new(counts, vdb_severity_name(k), json_integer((json_int_t)o->by_severity[k]));
	json_object_set_new(counts, "total", json_integer((json_int_t)o->findings));
	json_object_set_new(counts, "unfixed", json_integer((json_int_t)o->unfixed));
	json_t *e = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:o, s:s, s:b}", "id", id, "event",
			      "assessment.completed", "time", (json_int_t)rec->scanned_at, "repository", rec->repo, "digest",
			      rec->digest, "status", rec->status, "reason", rec->reason, "counts", counts,
			      "database_generation", rec->db_generation, "reassessment", o->reassessment);
	char *text = json_dumps(e, JSON_COMPACT);
	json_decref(e);
	return text;
}
