/* config.h: drydock's settings, read from a "key = value" file and then overridden by
 * command-line flags. Unknown keys are errors that name the key and the line. */
#ifndef DD_CONFIG_H
#define DD_CONFIG_H
#include <stdint.h>
#include "netaddr.h"

struct config {
	char listen[256];     /* host:port */
	char data_dir[1024];
	char tls_cert[1024];  /* PEM files; both empty for plain HTTP */
	char tls_key[1024];
	char log_level[16];
	char event_log[1024]; /* JSON lines of registry events, empty for none */
	int access_log;
	long max_upload_sessions; /* open upload sessions at once */
	long max_upload_sessions_per_account; /* of one account (or client address); 0: no cap */
	int64_t min_free_space;   /* bytes kept free on the data directory's filesystem; 0: none */
	int64_t reserve_space;    /* bytes of the reserve file that keeps deletes and gc working; 0: none */
	long upload_max_age;      /* seconds an idle upload session is kept */
	long gc_interval;         /* seconds between garbage collections in the server; 0: none */
	long gc_grace;            /* seconds a blob (or untagged manifest) is kept after its upload */
	int gc_delete_untagged;   /* the server's collections also delete untagged manifests */
	char db[1024];            /* vulnerability database; empty: DATA/vulndb.ddb */
	long scan_workers;        /* scan worker threads; 0 turns scanning off */
	long scan_lease;          /* seconds a scan claimed on PostgreSQL stays this node's */
	int analyse_uploads;      /* read layers as they upload (default), not only once committed */
	int sandbox;              /* read layers and package databases in sandboxed workers (default) */
	char webhook[1024];       /* URL that receives every webhook event (a target of origin "config"), or empty */
	char webhook_secret[256]; /* its signing key (HMAC-SHA256); empty: deliveries unsigned */
	long webhook_give_up;     /* seconds an event of any target is retried before it is given up */
	char admission_hosts[1024]; /* names the cluster pulls from this registry under; empty: the Host header */
	int admission_deny_other;   /* the admission webhook denies images of other registries */
	int auth;                 /* accounts and tokens required (default); 0: everyone may do everything */
	char auth_realm[1024];    /* token endpoint URL announced to clients; empty: from the Host header */
	char auth_service[256];   /* the token audience */
	long token_ttl;           /* seconds an access token lives */
	char anonymous_pull[1024]; /* comma-separated repository patterns anyone may pull; empty: none */
	int http2;                /* offer HTTP/2 (TLS ALPN h2, and prior knowledge on plain HTTP) */
	long max_connections;     /* open connections in all */
	long max_connections_per_client; /* from one client address; 0: no cap */
	long idle_timeout;        /* seconds a connection may wait between requests or stall */
	long header_timeout;      /* seconds from a request head's first byte to its end */
	struct netaddr_list trusted_proxies; /* whose X-Forwarded-For names the client; none: n 0 */
	/* the registry's place in Azure's resource tree, for the Microsoft.Security shape */
	char azure_subscription[128];  /* empty: each namespace is a subscription */
	char azure_resource_group[128]; /* default "drydock" */
	char azure_registry[128];       /* empty: the host name clients use (the Host header's) */
	/* where the metadata is: empty for the data directory's SQLite file (meta.db), else a
	 * PostgreSQL connection ("postgresql://user@host/db" or libpq's "key=value" form) */
	char metadata[1024];
	/* where blobs are kept: the data directory, or an S3 bucket */
	int storage_s3;
	char s3_endpoint[512];    /* http(s)://host[:port] */
	char s3_bucket[64];
	char s3_region[64];       /* empty: us-east-1 */
	char s3_access_key[256];  /* empty: AWS_ACCESS_KEY_ID */
	char s3_secret_key[256];  /* empty: AWS_SECRET_ACCESS_KEY */
	int s3_virtual_host;      /* bucket.host addressing instead of host/bucket */
	int s3_redirect;          /* blob GETs answered 307 with a presigned S3 URL, not served through drydock */
	long s3_streams_per_client; /* blob GETs streaming from S3 at once for one client address; 0: no cap */
	int64_t s3_upload_memory;   /* bytes all uploads to S3 may hold in buffers at once */
};

void config_defaults(struct config *c);
/* Sets key to value; 0 or DD_E_CONFIG with *why. */
int config_set(struct config *c, const char *key, const char *value, const char **why);
/* Reads a config file; on error *why names the line (static buffer, not thread-safe). */
int config_load(struct config *c, const char *path, const char **why);
/* Splits "host:port" / "[v6]:port" / ":port"; 0 or DD_E_CONFIG. host receives "" for any. */
int config_split_listen(const char *listen, char *host, unsigned hostcap, int *port);

#endif
