/* cmd_serve.c: `drydock serve`: reads the configuration, opens the stores, serves until
 * SIGINT or SIGTERM. The work lives in registry/, store/ and http/. */
#include "common/dd.h"
#include "cmds.h"
#include "common/config.h"
#include "common/log.h"
#include "common/util.h"
#include "http/server.h"
#include "auth/access.h"
#include "auth/accounts.h"
#include "auth/jwt.h"
#include "image/layer_cache.h"
#include "events/events.h"
#include "registry/gc.h"
#include "registry/registry.h"
#include "web/router.h"
#include "web/ui.h"
#include "scan/scanner.h"
#include "assess/api.h"
#include "assess/idcache.h"
#include "assess/rules.h"
#include "assess/webhook.h"
#include "store/blobstore.h"
#include "store/meta.h"
#include "store/meta_outbox.h"
#include "store/space.h"
#include <jansson.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/syscall.h>

static const char usage_text[] =
	"usage: drydock serve [--config FILE] [--listen HOST:PORT] [--data DIR]\n"
	"                     [--tls-cert PEM --tls-key PEM] [--log-level debug|info|warn|error]\n"
	"                     [--access-log] [--event-log FILE] [--max-upload-sessions N]\n"
	"                     [--max-upload-sessions-per-account N] [--min-free-space SIZE] [--reserve-space SIZE]\n"
	"                     [--upload-max-age SECONDS] [--db FILE] [--scan-workers N] [--webhook URL]\n"
	"                     [--webhook-secret KEY] [--webhook-give-up SECONDS]\n"
	"                     [--admission-hosts HOST[:PORT],...] [--admission-other-images allow|deny]\n"
	"                     [--gc-interval SECONDS] [--gc-grace SECONDS] [--gc-delete-untagged true|false]\n"
	"                     [--analyse-uploads true|false] [--sandbox true|false] [--http2 true|false]\n"
	"                     [--max-connections N] [--max-connections-per-client N]\n"
	"                     [--idle-timeout SECONDS] [--header-timeout SECONDS] [--trusted-proxies ADDR[/BITS],...]\n"
	"                     [--auth on|off] [--auth-realm URL] [--auth-service NAME] [--token-ttl SECONDS]\n"
	"                     [--anonymous-pull PATTERN[,PATTERN...]]\n"
	"                     [--azure-subscription ID] [--azure-resource-group NAME] [--azure-registry NAME]\n"
	"  every flag is also a setting of the --config file: 'key = value' lines, '#' comments;\n"
	"  flags win over the file (drydock(1) says what each one does)\n";
const char *const cmd_serve_usage = usage_text;

struct event_log {
	int fd;
};

static void write_event(void *ctx, const struct event *ev)
{
	struct event_log *el = ctx;
	json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I}", "event", event_kind_name(ev->kind), "repository", ev->repo,
			      "digest", ev->digest, "size", (json_int_t)ev->size, "time", (json_int_t)util_now());
	if (ev->media_type)
		json_object_set_new(o, "mediaType", json_string(ev->media_type));
	if (ev->tag)
		json_object_set_new(o, "tag", json_string(ev->tag));
	char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!text)
		return;
	size_t n = strlen(text);
	char *line = malloc(n + 2);
	if (line) {
		memcpy(line, text, n);
		line[n] = '\n';
		ssize_t w = write(el->fd, line, n + 1); /* O_APPEND: one line, one write */
		(void)w;
		free(line);
	}
	free(text);
}

/* The janitor: purges stale upload sessions at start and then every half max-age (at most
 * hourly), collects garbage every gc_every seconds when that is set (first after one
 * interval), looks at the free space every DD_SPACE_CHECK_SECONDS (topping the reserve up when
 * there is room, saying when pushes stop and start again) and keeps the layer cache to the blobs
 * it describes, at start and every DD_LAYER_CACHE_TRIM_SECONDS, until stopped. */
struct janitor {
	struct registry *reg;
	int64_t max_age;
	int64_t gc_every;
	struct gc_options gc;
	enum space_state space_was;
	pthread_t thread, warmer;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop, running, warming;
};

static void collect(struct janitor *j)
{
	struct gc_result r;
	int rc = gc_run(j->reg->meta, j->reg->blobs, &j->gc, &r);
	if (rc)
		log_error("gc: stopped: %s", dd_err_message(rc));
	if (r.manifests || r.blobs || r.orphans)
		log_info("gc: removed %" PRId64 " untagged manifests, %" PRId64 " blobs no manifest names (%" PRId64
			 " bytes) and %" PRId64 " files with no record (%" PRId64 " bytes)",
			 r.manifests, r.blobs, r.bytes, r.orphans, r.orphan_bytes);
}

/* Tops the reserve up when there is room and says when the state of the disk changes. */
static void watch_space(struct janitor *j)
{
	struct space_stat st;
	struct space *sp = j->reg->space;
	if (!sp)
		return;
	space_refill(sp);
	if (space_stat(sp, &st) || st.state == j->space_was)
		return;
	if (st.state == SPACE_OK)
		log_info("disk space: %" PRId64 " MiB free again: pushes are admitted", st.free_bytes >> 20);
	else
		log_warn("disk space %s: %" PRId64 " MiB free, the reserve holds %" PRId64 " of %" PRId64 " MiB: pushes are "
			 "refused (507) until %" PRId64 " MiB are free (min-free-space); delete images and run gc",
			 space_state_name(st.state), st.free_bytes >> 20, st.reserve_held >> 20, st.reserve_wanted >> 20,
			 (st.min_free + st.reserve_wanted - st.reserve_held) >> 20);
	j->space_was = st.state;
}

static void trim_cache(struct janitor *j)
{
	struct gc_cache_result r;
	int rc = gc_trim_cache(j->reg->blobs, j->gc.cache_dir, 0, NULL, &r);
	if (rc)
		log_error("layer cache: %s", dd_err_message(rc));
}

static int janitor_stopping(void *arg)
{
	struct janitor *j = arg;
	pthread_mutex_lock(&j->mu);
	int stop = j->stop;
	pthread_mutex_unlock(&j->mu);
	return stop;
}

/* The findings the query tables read, filled from the reports once after the start, in a
 * thread of its own (a large registry takes minutes; the janitor's disk watch must not wait). */
static void *warmer_main(void *arg)
{
	struct janitor *j = arg;
	int64_t t0 = util_now();
	/* at the lowest priority: requests and scans first (a start with a new vulnerability
	 * database re-assesses every image while this reads every report) */
	if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19))
		log_debug("findings cache: cannot lower its priority: %s", strerror(errno));
	int rc = idcache_warm(j->reg->meta, janitor_stopping, j);
	if (rc)
		log_warn("findings cache: %s (queries read the reports they need)", dd_err_message(rc));
	else if (!janitor_stopping(j))
		log_debug("findings cache: filled in %" PRId64 " s", util_now() - t0);
	return NULL;
}

#define UPLOAD_SWEEP_SECONDS 10 /* registry_sweep_uploads */

static void *janitor_main(void *arg)
{
	struct janitor *j = arg;
	int64_t every = j->max_age / 2 < 1 ? 1 : j->max_age / 2 > 3600 ? 3600 : j->max_age / 2;
	int64_t now = util_now(), next_purge = now, next_gc = j->gc_every ? now + j->gc_every : INT64_MAX;
	int64_t next_space = now, next_trim = now, next_sweep = now + UPLOAD_SWEEP_SECONDS;
	pthread_mutex_lock(&j->mu);
	while (!j->stop) {
		pthread_mutex_unlock(&j->mu);
		if ((now = util_now()) >= next_purge) {
			registry_purge_uploads(j->reg, j->max_age);
			next_purge = now + every;
		}
		if (now >= next_sweep) {
			registry_sweep_uploads(j->reg);
			next_sweep = now + UPLOAD_SWEEP_SECONDS;
		}
		if (now >= next_gc) {
			collect(j); /* trims the layer cache too */
			next_gc = util_now() + j->gc_every;
			next_trim = util_now() + DD_LAYER_CACHE_TRIM_SECONDS;
		}
		if (now >= next_trim) {
			trim_cache(j);
			next_trim = util_now() + DD_LAYER_CACHE_TRIM_SECONDS;
		}
		if (now >= next_space) {
			watch_space(j);
			next_space = util_now() + DD_SPACE_CHECK_SECONDS;
		}
		pthread_mutex_lock(&j->mu);
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		int64_t next = next_purge < next_gc ? next_purge : next_gc;
		next = next < next_trim ? next : next_trim;
		next = next < next_space ? next : next_space;
		next = next < next_sweep ? next : next_sweep;
		until.tv_sec += next > now ? next - now : 1;
		while (!j->stop && pthread_cond_timedwait(&j->cv, &j->mu, &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&j->mu);
	return NULL;
}

static void janitor_stop(struct janitor *j)
{
	if (!j->running)
		return;
	pthread_mutex_lock(&j->mu);
	j->stop = 1;
	pthread_cond_signal(&j->cv);
	pthread_mutex_unlock(&j->mu);
	pthread_join(j->thread, NULL);
	if (j->warming)
		pthread_join(j->warmer, NULL);
	j->running = j->warming = 0;
}

static int parse_args(int argc, char **argv, struct config *c)
{
	const char *why;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--config") && i + 1 < argc) {
			if (config_load(c, argv[++i], &why)) {
				fprintf(stderr, "drydock serve: %s\n", why);
				return DD_E_CONFIG;
			}
		}
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--access-log")) {
			c->access_log = 1;
			continue;
		}
		if (strncmp(a, "--", 2) || i + 1 >= argc) {
			fprintf(stderr, "drydock serve: unexpected argument '%s'\n%s", a, usage_text);
			return DD_E_USAGE;
		}
		const char *v = argv[++i];
		if (!strcmp(a, "--config"))
			continue;
		if (config_set(c, a + 2, v, &why)) {
			fprintf(stderr, "drydock serve: '%s': %s\n%s", a, why, usage_text);
			return DD_E_USAGE;
		}
	}
	return 0;
}

static int is_loopback(const char *host)
{
	return !strcmp(host, "localhost") || !strncmp(host, "127.", 4) || !strcmp(host, "::1");
}

int cmd_serve(int argc, char **argv)
{
	struct config c;
	util_tune_malloc();
	/* SIGINT and SIGTERM blocked before any thread starts, so that every thread inherits the
	 * mask and only the sigwait below takes them: one arriving while the server stops (a second
	 * ^C, a stop finishing a scan) waits, where it once reached a thread that did not block it
	 * and ended the process half-way through its stop */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	config_defaults(&c);
	if (parse_args(argc, argv, &c))
		return 2;
	enum log_level lvl;
	if (log_parse_level(c.log_level, &lvl)) {
		fprintf(stderr, "drydock serve: unknown log level '%s'\n", c.log_level);
		return 2;
	}
	log_set_level(lvl);
	char host[256];
	int port;
	if (config_split_listen(c.listen, host, sizeof(host), &port)) {
		fprintf(stderr, "drydock serve: cannot parse listen address '%s' (want HOST:PORT)\n", c.listen);
		return 2;
	}
	if (!!*c.tls_cert != !!*c.tls_key) {
		fprintf(stderr, "drydock serve: --tls-cert and --tls-key go together\n");
		return 2;
	}
	char *cert = NULL, *key = NULL;
	size_t len;
	if (*c.tls_cert && (util_read_file(c.tls_cert, 1 << 20, &cert, &len) ||
			    util_read_file(c.tls_key, 1 << 20, &key, &len))) {
		fprintf(stderr, "drydock serve: cannot read TLS certificate '%s' or key '%s'\n", c.tls_cert, c.tls_key);
		free(cert);
		return 1;
	}
	if (!cert && !is_loopback(host))
		log_warn("serving plain HTTP on '%s': docker and podman require TLS for registries not on loopback",
			 c.listen);

	char path[PATH_MAX];
	struct blobstore *blobs = NULL;
	const char *why_store = NULL;
	struct meta *meta = NULL;
	struct registry *reg = NULL;
	struct http_server *srv = NULL;
	struct event_log el = {.fd = -1};
	int rc = util_mkdirs(c.data_dir);

	/* from here on the data directory is absolute, so that the commands the server prints
	 * (the first-start notice, the missing database) work from any directory */
	char abs_data[PATH_MAX];
	if (!rc && realpath(c.data_dir, abs_data) && strlen(abs_data) < sizeof(c.data_dir))
		memcpy(c.data_dir, abs_data, strlen(abs_data) + 1);
	/* held shared while the server runs: drydock migrate moves the metadata only with none running */
	snprintf(path, sizeof(path), "%s/serve.lock", c.data_dir);
	int serve_lock = rc ? -1 : open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (!rc && (serve_lock < 0 || flock(serve_lock, LOCK_SH | LOCK_NB))) {
		why_store = "drydock migrate is moving this data directory's metadata: start the server when it is done";
		rc = DD_E_CONFIG;
	}
	if (!rc)
		rc = meta_open_dir(c.data_dir, c.metadata, &meta, &why_store);
	if (!rc)
		meta->scan_lease = c.scan_lease;
	if (!rc)
		rc = blobstore_open_config(&c, meta, &blobs, &why_store);
	struct jwt_key *token_key = NULL;
	if (!rc && c.auth) {
		snprintf(path, sizeof(path), "%s/token-key.pem", c.data_dir);
		rc = meta->shared ? jwt_key_shared(meta, &token_key) : jwt_key_open(path, &token_key);
		if (!rc) {
			char user_cmd[3 * PATH_MAX];
			snprintf(user_cmd, sizeof(user_cmd), "%s user --data %s", cli_self(), cli_quote(c.data_dir, 0));
			rc = accounts_bootstrap(meta, user_cmd, stderr);
		}
	} else if (!rc)
		log_warn("authentication is off (auth = off): anyone who can reach %s may pull, push and delete",
			 c.listen);
	struct auth_config ac = {.enabled = c.auth, .meta = meta, .key = token_key, .service = c.auth_service,
				 .realm = c.auth_realm, .tls = cert != NULL, .token_ttl = c.token_ttl,
				 .anonymous_pull = c.anonymous_pull};
	if (!rc)
		rc = access_init(&ac);
	if (!rc)
		rc = registry_new(blobs, meta, &reg);
	struct space *space = NULL;
	if (!rc && !(rc = space_open(c.data_dir, c.min_free_space, c.reserve_space, &space))) {
		space_refill(space); /* before the first push: the room it needs comes first */
		reg->space = space;
	}
	if (!rc) {
		reg->blob_redirect = c.storage_s3 && c.s3_redirect;
		reg->pull_gate = policy_check_pull;
		reg->max_sessions = c.max_upload_sessions;
		reg->max_sessions_per_owner = c.max_upload_sessions_per_account;
		if (!c.max_upload_sessions_per_account || c.max_upload_sessions_per_account >= c.max_upload_sessions)
			log_warn("max-upload-sessions-per-account (%ld) does not stay under max-upload-sessions (%ld): one "
				 "account can hold every upload session and leave the others 429",
				 c.max_upload_sessions_per_account, c.max_upload_sessions);
	}
	char gc_cache[PATH_MAX];
	snprintf(gc_cache, sizeof(gc_cache), "%s/" LAYER_CACHE_SUBDIR, c.data_dir);
	struct janitor jan = {.reg = reg, .max_age = c.upload_max_age, .gc_every = c.gc_interval,
			      .gc = {.grace = c.gc_grace, .delete_untagged = c.gc_delete_untagged,
				     .cache_dir = gc_cache, .actor = "gc", .space = space},
			      .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
	if (!rc && *c.event_log) {
		el.fd = open(c.event_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		if (el.fd < 0) {
			log_error("cannot open event log '%s': %s", c.event_log, strerror(errno));
			rc = DD_E_CONFIG;
		} else
			events_subscribe(write_event, &el);
	}
	struct scanner *scanner = NULL;
	if (!rc && c.scan_workers > 0) {
		char dbpath[PATH_MAX];
		snprintf(dbpath, sizeof(dbpath), "%s", *c.db ? c.db : "");
		if (!*c.db)
			snprintf(dbpath, sizeof(dbpath), "%s/vulndb.ddb", c.data_dir);
		struct scanner_config sc = {.meta = meta, .blobs = blobs, .data_dir = c.data_dir, .db_path = dbpath,
					    .workers = (int)c.scan_workers,
					    .stream_uploads = c.analyse_uploads, .sandbox = c.sandbox};
		const char *why;
		rc = scanner_start(&sc, &scanner, &why);
		if (rc)
			log_error("cannot start the scanner: %s%s%s", dd_err_message(rc), why ? ": " : "", why ? why : "");
		else {
			reg->scan_on_push = 1;
			reg->pull_gate_ctx = scanner; /* its database says which findings are known exploited */
		}
		if (!rc && !c.sandbox)
			log_warn("sandbox = false: pushed layers and package databases are parsed inside the server process");
	}
	if (!rc && !scanner && meta->shared)
		reg->scan_on_push = 1; /* scanning nodes of the cluster take what this one queues */
	struct webhook *hook = NULL;
	if (!rc && meta->outbox->webhook_config(meta, c.webhook, c.webhook_secret))
		log_warn("cannot record the webhook setting's target");
	if (!rc && !(hook = webhook_start(meta, c.webhook_give_up))) {
		log_error("cannot start the webhook deliverer");
		rc = DD_E_INTERNAL;
	}
	/* the services, each on its paths: the security API, metrics and health; the OCI API on /v2 and
	 * the token endpoint, as the fallback: it answers unknown paths with its error JSON, as
	 * Distribution does */
	struct router *router = NULL;
	struct assess_api api = {.meta = meta, .scanner = scanner, .space = space, .blobs = blobs,
				 .azure_subscription = c.azure_subscription, .azure_resource_group = c.azure_resource_group,
				 .azure_registry = c.azure_registry, .tls = !!*c.tls_cert,
				 .admission = {.hosts = c.admission_hosts, .deny_other = c.admission_deny_other}};
	struct http_app app;
	if (!rc && !(rc = router_new(&router))) {
		api.router = router;
		router_add(router, assess_api_route, assess_api_app(&api));
		router_add(router, ui_route, ui_app());
		router_add(router, NULL, registry_app(reg));
		router_add_header(router, "Docker-Distribution-API-Version", "registry/2.0");
	}
	if (!rc) {
		app = router_app(router);
		struct http_config hc = {.host = host, .port = port, .tls_cert_pem = cert, .tls_key_pem = key,
					 .access_log = c.access_log, .http2 = c.http2,
					 .max_connections = c.max_connections,
					 .max_connections_per_client = c.max_connections_per_client,
					 .idle_timeout = c.idle_timeout, .header_timeout = c.header_timeout,
					 .trusted_proxies = &c.trusted_proxies};
		int bound = 0;
		rc = http_server_start(&hc, &app, &srv, &bound);
		if (!rc) {
			log_info("drydock serving %s://%s:%d, data in '%s'", cert ? "https" : "http", *host ? host : "*",
				 bound, c.data_dir);
			fflush(stdout);
		}
	}
	if (!rc && !pthread_create(&jan.thread, NULL, janitor_main, &jan)) {
		jan.running = 1;
		jan.warming = !pthread_create(&jan.warmer, NULL, warmer_main, &jan);
	}
	if (!rc) {
		int sig;
		sigwait(&set, &sig);
		log_info("signal %d: stopping", sig);
	}
	http_server_stop(srv);
	janitor_stop(&jan);
	router_free(router);
	registry_free(reg); /* ends the upload streams the scanner is reading */
	scanner_stop(scanner);
	webhook_stop(hook);
	access_shutdown();
	jwt_key_free(token_key);
	if (meta)
		meta_free(meta);
	if (blobs)
		blobs->ops->free(blobs);
	space_free(space);
	if (el.fd >= 0)
		close(el.fd);
	if (serve_lock >= 0)
		close(serve_lock);
	free(cert);
	free(key);
	if (rc)
		fprintf(stderr, "drydock serve: %s\n", why_store ? why_store : dd_err_message(rc));
	return rc ? 1 : 0;
}
