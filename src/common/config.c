/* config.c: the settings file and its keys. */
#include "dd.h"
#include "config.h"
#include "util.h"

void config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->listen, sizeof(c->listen), "127.0.0.1:5000");
	snprintf(c->data_dir, sizeof(c->data_dir), "drydock-data");
	snprintf(c->log_level, sizeof(c->log_level), "info");
	c->max_upload_sessions = DD_MAX_UPLOAD_SESSIONS;
	c->max_upload_sessions_per_account = DD_MAX_UPLOAD_SESSIONS_PER_ACCOUNT;
	c->min_free_space = DD_MIN_FREE_BYTES;
	c->reserve_space = DD_RESERVE_BYTES;
	c->upload_max_age = 24 * 3600;
	c->webhook_give_up = 24 * 3600;
	c->gc_grace = 3600;
	c->scan_workers = 2;
	c->scan_lease = 120;
	c->analyse_uploads = 1;
	c->sandbox = 1;
	c->auth = 1;
	snprintf(c->auth_service, sizeof(c->auth_service), "drydock");
	c->token_ttl = 300;
	c->http2 = 1;
	c->max_connections = DD_MAX_CONNECTIONS;
	c->max_connections_per_client = DD_MAX_CONNECTIONS_PER_CLIENT;
	c->idle_timeout = DD_CONNECTION_TIMEOUT;
	c->header_timeout = DD_HEADER_TIMEOUT;
	snprintf(c->azure_resource_group, sizeof(c->azure_resource_group), "drydock");
	c->s3_streams_per_client = DD_MAX_S3_STREAMS_PER_CLIENT;
	c->s3_upload_memory = DD_S3_UPLOAD_MEMORY;
}

/* A name that goes in an Azure resource id: 1 to 90 of letters, digits, '-', '_', '.', '(' and
 * ')' (Azure's resource group rule, the widest of the three). */
static int set_azure_name(char *dst, size_t cap, const char *v, int empty_ok, const char *msg, const char **why)
{
	size_t n = strlen(v);
	int ok = (n || empty_ok) && n <= 90 && n < cap;
	for (const char *p = v; ok && *p; p++)
		ok = isalnum((unsigned char)*p) || strchr("-_.()", *p);
	if (!ok) {
		*why = msg;
		return DD_E_CONFIG;
	}
	snprintf(dst, cap, "%s", v);
	return 0;
}

static int set_long(long *dst, const char *value, long lo, long hi, const char *msg, const char **why)
{
	char *end;
	errno = 0;
	long v = strtol(value, &end, 10);
	if (!*value || *end || errno || v < lo || v > hi) {
		*why = msg;
		return DD_E_CONFIG;
	}
	*dst = v;
	return 0;
}

/* A duration, in the one grammar of every setting and flag: "<n>" seconds, or "<n>s", "<n>m",
 * "<n>h", "<n>d". */
static int set_duration(long *dst, const char *value, long lo, long hi, const char *msg, const char **why)
{
	int64_t v;
	if (util_parse_duration(value, 1, lo, hi, &v)) {
		*why = msg;
		return DD_E_CONFIG;
	}
	*dst = (long)v;
	return 0;
}

/* An amount of bytes: "<n>", or with a unit, "512M", "2GiB" (powers of 1024). */
static int set_size(int64_t *dst, const char *value, int64_t max, const char *msg, const char **why)
{
	if (util_parse_size(value, max, dst)) {
		*why = msg;
		return DD_E_CONFIG;
	}
	return 0;
}

static int set_str(char *dst, size_t cap, const char *v, const char **why)
{
	if (strlen(v) >= cap) {
		*why = "value too long";
		return DD_E_CONFIG;
	}
	snprintf(dst, cap, "%s", v);
	return 0;
}

int config_set(struct config *c, const char *key, const char *value, const char **why)
{
	*why = NULL;
	if (!strcmp(key, "listen"))
		return set_str(c->listen, sizeof(c->listen), value, why);
	if (!strcmp(key, "data"))
		return set_str(c->data_dir, sizeof(c->data_dir), value, why);
	if (!strcmp(key, "tls-cert"))
		return set_str(c->tls_cert, sizeof(c->tls_cert), value, why);
	if (!strcmp(key, "tls-key"))
		return set_str(c->tls_key, sizeof(c->tls_key), value, why);
	if (!strcmp(key, "log-level"))
		return set_str(c->log_level, sizeof(c->log_level), value, why);
	if (!strcmp(key, "event-log"))
		return set_str(c->event_log, sizeof(c->event_log), value, why);
	if (!strcmp(key, "analyse-uploads")) {
		if (strcmp(value, "true") && strcmp(value, "false")) {
			*why = "analyse-uploads must be true or false";
			return DD_E_CONFIG;
		}
		c->analyse_uploads = !strcmp(value, "true");
		return 0;
	}
	if (!strcmp(key, "sandbox")) {
		if (strcmp(value, "true") && strcmp(value, "false")) {
			*why = "sandbox must be true or false";
			return DD_E_CONFIG;
		}
		c->sandbox = !strcmp(value, "true");
		return 0;
	}
	if (!strcmp(key, "gc-delete-untagged")) {
		if (strcmp(value, "true") && strcmp(value, "false")) {
			*why = "gc-delete-untagged must be true or false";
			return DD_E_CONFIG;
		}
		c->gc_delete_untagged = !strcmp(value, "true");
		return 0;
	}
	if (!strcmp(key, "http2")) {
		if (strcmp(value, "true") && strcmp(value, "false")) {
			*why = "http2 must be true or false";
			return DD_E_CONFIG;
		}
		c->http2 = !strcmp(value, "true");
		return 0;
	}
	if (!strcmp(key, "max-connections"))
		return set_long(&c->max_connections, value, 16, 1000000,
				"max-connections must be an integer from 16 to 1000000", why);
	if (!strcmp(key, "max-connections-per-client"))
		return set_long(&c->max_connections_per_client, value, 0, 1000000,
				"max-connections-per-client must be an integer from 0 (no cap) to 1000000", why);
	if (!strcmp(key, "trusted-proxies")) {
		static char msg[200]; /* as config_load's: not thread-safe */
		char bad[128];
		if (netaddr_list_parse(value, &c->trusted_proxies, bad, sizeof(bad))) {
			snprintf(msg, sizeof(msg), "trusted-proxies: %s (a list of IP addresses and networks, ADDRESS/BITS)",
				 bad);
			*why = msg;
			return DD_E_CONFIG;
		}
		return 0;
	}
	if (!strcmp(key, "idle-timeout"))
		return set_duration(&c->idle_timeout, value, 1, 24 * 3600,
				    "idle-timeout must be a duration from 1s to 1d (a bare number is seconds; 30s, 2m, 1h)", why);
	if (!strcmp(key, "header-timeout"))
		return set_duration(&c->header_timeout, value, 1, 3600,
				    "header-timeout must be a duration from 1s to 1h (a bare number is seconds; 30s, 2m)", why);
	if (!strcmp(key, "access-log")) {
		if (strcmp(value, "true") && strcmp(value, "false")) {
			*why = "access-log must be true or false";
			return DD_E_CONFIG;
		}
		c->access_log = !strcmp(value, "true");
		return 0;
	}
	if (!strcmp(key, "max-upload-sessions"))
		return set_long(&c->max_upload_sessions, value, 1, 1000000,
				"max-upload-sessions must be an integer from 1 to 1000000", why);
	if (!strcmp(key, "max-upload-sessions-per-account"))
		return set_long(&c->max_upload_sessions_per_account, value, 0, 1000000,
				"max-upload-sessions-per-account must be an integer from 0 (no cap) to 1000000", why);
	if (!strcmp(key, "min-free-space"))
		return set_size(&c->min_free_space, value, 1LL << 50,
				"min-free-space must be a size: a number of bytes or with a unit, 0, 512M, 2G (K, M, G, T"
				" are powers of 1024)",
				why);
	if (!strcmp(key, "reserve-space"))
		return set_size(&c->reserve_space, value, 1LL << 40,
				"reserve-space must be a size: a number of bytes or with a unit, 0, 32M, 1G (K, M, G, T"
				" are powers of 1024)",
				why);
	if (!strcmp(key, "upload-max-age"))
		return set_duration(&c->upload_max_age, value, 1, 365L * 24 * 3600,
				    "upload-max-age must be a duration from 1s to 365d (a bare number is seconds; 12h, 1d)", why);
	if (!strcmp(key, "gc-interval"))
		return set_duration(&c->gc_interval, value, 0, 365L * 24 * 3600,
				    "gc-interval must be a duration from 0 (no collection) to 365d (a bare number is seconds; 30m, 6h)", why);
	if (!strcmp(key, "gc-grace"))
		return set_duration(&c->gc_grace, value, 0, 3650L * 24 * 3600,
				    "gc-grace must be a duration from 0 to 3650d (a bare number is seconds; 30m, 1h, 2d)", why);
	if (!strcmp(key, "webhook")) {
		if (*value && strncmp(value, "http://", 7) && strncmp(value, "https://", 8)) {
			*why = "webhook must be an http:// or https:// URL";
			return DD_E_CONFIG;
		}
		const char *host = strstr(value, "://");
		if (host && memchr(host + 3, '@', strcspn(host + 3, "/?#"))) {
			*why = "webhook: no user or password in the URL (set webhook-secret: deliveries are signed)";
			return DD_E_CONFIG;
		}
		return set_str(c->webhook, sizeof(c->webhook), value, why);
	}
	if (!strcmp(key, "admission-hosts"))
		return set_str(c->admission_hosts, sizeof(c->admission_hosts), value, why);
	if (!strcmp(key, "admission-other-images")) {
		if (strcmp(value, "allow") && strcmp(value, "deny")) {
			*why = "admission-other-images must be allow or deny";
			return DD_E_CONFIG;
		}
		c->admission_deny_other = !strcmp(value, "deny");
		return 0;
	}
	if (!strcmp(key, "webhook-secret"))
		return set_str(c->webhook_secret, sizeof(c->webhook_secret), value, why);
	if (!strcmp(key, "webhook-give-up"))
		return set_duration(&c->webhook_give_up, value, 1, 30L * 24 * 3600,
				    "webhook-give-up must be a duration from 1s to 30d (a bare number is seconds; 6h, 1d)", why);
	if (!strcmp(key, "auth")) {
		if (strcmp(value, "on") && strcmp(value, "off")) {
			*why = "auth must be on or off";
			return DD_E_CONFIG;
		}
		c->auth = !strcmp(value, "on");
		return 0;
	}
	if (!strcmp(key, "auth-realm")) {
		if ((*value && strncmp(value, "http://", 7) && strncmp(value, "https://", 8)) || strpbrk(value, "\"\\ ")) {
			*why = "auth-realm must be the token endpoint's http:// or https:// URL";
			return DD_E_CONFIG;
		}
		return set_str(c->auth_realm, sizeof(c->auth_realm), value, why);
	}
	if (!strcmp(key, "azure-subscription"))
		return set_azure_name(c->azure_subscription, sizeof(c->azure_subscription), value, 1,
				      "azure-subscription must be up to 90 letters, digits, '-', '_', '.', '(' or ')'", why);
	if (!strcmp(key, "azure-resource-group"))
		return set_azure_name(c->azure_resource_group, sizeof(c->azure_resource_group), value, 0,
				      "azure-resource-group must be 1 to 90 letters, digits, '-', '_', '.', '(' or ')'", why);
	if (!strcmp(key, "azure-registry"))
		return set_azure_name(c->azure_registry, sizeof(c->azure_registry), value, 1,
				      "azure-registry must be up to 90 letters, digits, '-', '_', '.', '(' or ')'", why);
	if (!strcmp(key, "auth-service")) {
		if (!*value || strpbrk(value, "\"\\ ")) {
			*why = "auth-service must be a non-empty word without quotes, backslashes or spaces";
			return DD_E_CONFIG;
		}
		return set_str(c->auth_service, sizeof(c->auth_service), value, why);
	}
	if (!strcmp(key, "token-ttl"))
		return set_duration(&c->token_ttl, value, 1, 24 * 3600,
				    "token-ttl must be a duration from 1s to 1d (a bare number is seconds; 5m, 1h)", why);
	if (!strcmp(key, "anonymous-pull"))
		return set_str(c->anonymous_pull, sizeof(c->anonymous_pull), value, why);
	if (!strcmp(key, "db"))
		return set_str(c->db, sizeof(c->db), value, why);
	if (!strcmp(key, "scan-workers"))
		return set_long(&c->scan_workers, value, 0, 16, "scan-workers must be an integer from 0 (off) to 16", why);
	if (!strcmp(key, "scan-lease"))
		return set_duration(&c->scan_lease, value, 1, 24 * 3600,
				    "scan-lease must be a duration from 1s to 1d (a bare number is seconds; 30s, 2m)", why);
	if (!strcmp(key, "storage")) {
		if (strcmp(value, "filesystem") && strcmp(value, "s3")) {
			*why = "storage must be filesystem or s3";
			return DD_E_CONFIG;
		}
		c->storage_s3 = !strcmp(value, "s3");
		return 0;
	}
	if (!strcmp(key, "metadata")) {
		if (*value && strncmp(value, "postgresql://", 13) && strncmp(value, "postgres://", 11) && !strchr(value, '=')) {
			*why = "metadata must be a PostgreSQL connection: postgresql://USER@HOST/DATABASE, or libpq's "
			       "key=value form (empty: the data directory's SQLite file)";
			return DD_E_CONFIG;
		}
		return set_str(c->metadata, sizeof(c->metadata), value, why);
	}
	if (!strcmp(key, "s3-endpoint"))
		return set_str(c->s3_endpoint, sizeof(c->s3_endpoint), value, why);
	if (!strcmp(key, "s3-bucket"))
		return set_str(c->s3_bucket, sizeof(c->s3_bucket), value, why);
	if (!strcmp(key, "s3-region"))
		return set_str(c->s3_region, sizeof(c->s3_region), value, why);
	if (!strcmp(key, "s3-access-key"))
		return set_str(c->s3_access_key, sizeof(c->s3_access_key), value, why);
	if (!strcmp(key, "s3-secret-key"))
		return set_str(c->s3_secret_key, sizeof(c->s3_secret_key), value, why);
	if (!strcmp(key, "s3-addressing")) {
		if (strcmp(value, "path") && strcmp(value, "virtual")) {
			*why = "s3-addressing must be path or virtual";
			return DD_E_CONFIG;
		}
		c->s3_virtual_host = !strcmp(value, "virtual");
		return 0;
	}
	if (!strcmp(key, "s3-streams-per-client"))
		return set_long(&c->s3_streams_per_client, value, 0, DD_MAX_S3_STREAMS,
				"s3-streams-per-client must be an integer from 0 (no cap) to 1024", why);
	if (!strcmp(key, "s3-upload-memory")) {
		int rc = set_size(&c->s3_upload_memory, value, 1LL << 40,
				  "s3-upload-memory must be a size of at least 16M (512M, 2G)", why);
		if (!rc && c->s3_upload_memory < 2 * DD_S3_PART_BYTES) {
			*why = "s3-upload-memory must be a size of at least 16M (512M, 2G)";
			rc = DD_E_CONFIG;
		}
		return rc;
	}
	if (!strcmp(key, "s3-redirect")) {
		if (strcmp(value, "true") && strcmp(value, "false")) {
			*why = "s3-redirect must be true or false";
			return DD_E_CONFIG;
		}
		c->s3_redirect = !strcmp(value, "true");
		return 0;
	}
	*why = "unknown setting";
	return DD_E_CONFIG;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = 0;
	return s;
}

int config_load(struct config *c, const char *path, const char **why)
{
	static char msg[512];
	char *data;
	size_t len;
	*why = NULL;
	int rc = util_read_file(path, DD_MAX_CONFIG_BYTES, &data, &len);
	if (rc) {
		snprintf(msg, sizeof(msg), "cannot read config '%s'%s", path, rc == DD_E_TOO_LARGE ? " (over 64 KiB)" : "");
		*why = msg;
		return DD_E_CONFIG;
	}
	int lineno = 0;
	rc = 0;
	for (char *line = data, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		lineno++;
		char *s = trim(line);
		if (!*s || *s == '#')
			continue;
		char *eq = strchr(s, '=');
		if (!eq) {
			snprintf(msg, sizeof(msg), "%s:%d: expected 'key = value'", path, lineno);
			rc = DD_E_CONFIG;
			break;
		}
		*eq = 0;
		const char *w;
		char *k = trim(s), *v = trim(eq + 1);
		if (config_set(c, k, v, &w)) {
			snprintf(msg, sizeof(msg), "%s:%d: '%s': %s", path, lineno, k, w);
			rc = DD_E_CONFIG;
			break;
		}
	}
	free(data);
	if (rc)
		*why = msg;
	return rc;
}

int config_split_listen(const char *listen, char *host, unsigned hostcap, int *port)
{
	const char *colon = strrchr(listen, ':');
	if (!colon)
		return DD_E_CONFIG;
	const char *h = listen;
	size_t hl = (size_t)(colon - listen);
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']')
		h++, hl -= 2;
	if (hl >= hostcap)
		return DD_E_CONFIG;
	memcpy(host, h, hl);
	host[hl] = 0;
	char *end;
	long p = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || p < 0 || p > 65535)
		return DD_E_CONFIG;
	*port = (int)p;
	return 0;
}
