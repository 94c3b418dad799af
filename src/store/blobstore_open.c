/* blobstore_open.c: the blob store of a data directory.
 *
 * The data directory records where its blobs are (the setting "storage/blobs": the filesystem,
 * or an S3 endpoint, bucket, region and addressing; never the keys), at the first start that
 * keeps them in S3. So every command run on it later (drydock gc, query, scan --data) finds
 * them without being told again, and a server started with other storage settings than the
 * ones its metadata was written with is refused instead of losing track of every blob. */
#include "common/dd.h"
#include "blobstore.h"
#include "meta_admin.h"
#include "meta_repos.h"
#include "s3.h"
#include "common/arena.h"
#include "common/config.h"
#include <jansson.h>

static __thread char why_buf[4096];

static char *s3_record(const struct config *c)
{
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s}", "storage", "s3", "endpoint", c->s3_endpoint, "bucket",
			      c->s3_bucket, "region", *c->s3_region ? c->s3_region : "us-east-1", "addressing",
			      c->s3_virtual_host ? "virtual" : "path");
	char *out = j ? json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
	json_decref(j);
	return out;
}

int blobstore_open_s3_settings(const struct config *c, struct blobstore **out, const char **why)
{
	const char *ak = *c->s3_access_key ? c->s3_access_key : getenv("AWS_ACCESS_KEY_ID");
	const char *sk = *c->s3_secret_key ? c->s3_secret_key : getenv("AWS_SECRET_ACCESS_KEY");
	struct s3_config sc = {.endpoint = c->s3_endpoint, .bucket = c->s3_bucket, .region = c->s3_region,
			       .access_key = ak, .secret_key = sk, .virtual_host = c->s3_virtual_host,
			       .streams_per_client = c->s3_streams_per_client, .upload_memory = c->s3_upload_memory};
	return blobstore_s3_open(&sc, c->data_dir, out, why);
}

int blobstore_open_config(const struct config *c, struct meta *m, struct blobstore **out, const char **why)
{
	*why = NULL;
	*out = NULL;
	struct arena a = {0};
	const char *rec = NULL;
	int rc = m->admin->setting_get(m, &a, "storage/blobs", &rec);
	if (rc && rc != DD_E_NOT_FOUND)
		goto done;
	rc = 0;
	json_t *j = rec ? json_loads(rec, 0, NULL) : NULL;
	const char *kind = j ? json_string_value(json_object_get(j, "storage")) : NULL;
	struct config use = *c;
	if (!c->storage_s3 && kind && !strcmp(kind, "s3")) { /* told nothing: where the blobs are */
		const char *e = json_string_value(json_object_get(j, "endpoint"));
		const char *b = json_string_value(json_object_get(j, "bucket"));
		const char *r = json_string_value(json_object_get(j, "region"));
		const char *ad = json_string_value(json_object_get(j, "addressing"));
		snprintf(use.s3_endpoint, sizeof(use.s3_endpoint), "%s", e ? e : "");
		snprintf(use.s3_bucket, sizeof(use.s3_bucket), "%s", b ? b : "");
		snprintf(use.s3_region, sizeof(use.s3_region), "%s", r ? r : "");
		use.s3_virtual_host = ad && !strcmp(ad, "virtual");
		use.storage_s3 = 1;
	} else if (c->storage_s3) {
		char *want = s3_record(c);
		int64_t blobs = 0, bytes = 0;
		if (!want)
			rc = DD_E_NOMEM;
		else if (rec && strcmp(rec, want)) {
			snprintf(why_buf, sizeof(why_buf),
				 "data directory '%.1000s' keeps its blobs elsewhere (%.1200s), not in %.1200s: start it with the settings "
				 "it was made with", c->data_dir, rec, want);
			*why = why_buf;
			rc = DD_E_CONFIG;
		} else if (!rec && !(rc = m->repos->blob_totals(m, &blobs, &bytes)) && blobs) {
			snprintf(why_buf, sizeof(why_buf),
				 "data directory '%.1000s' holds %" PRId64 " blobs on the filesystem: storage = s3 would lose "
				 "them (moving them to S3 is not implemented yet)", c->data_dir, blobs);
			*why = why_buf;
			rc = DD_E_CONFIG;
		}
		if (!rc && !rec) { /* the bucket answers before the data directory is bound to it */
			if (!(rc = blobstore_open_s3_settings(c, out, why)))
				rc = m->admin->setting_put(m, "storage/blobs", want);
			if (!rc && m->shared)
				blobstore_s3_share_lock(*out, m);
			free(want);
			json_decref(j);
			goto done;
		}
		free(want);
	}
	json_decref(j);
	if (!rc)
		rc = use.storage_s3 ? blobstore_open_s3_settings(&use, out, why) : blobstore_fs_open(c->data_dir, out);
	if (!rc && m->shared)
		blobstore_s3_share_lock(*out, m);
done:
	if (rc && *out) {
		(*out)->ops->free(*out);
		*out = NULL;
	}
	arena_free(&a);
	return rc;
}

int blobstore_record_s3(const struct config *c, struct meta *m)
{
	char *rec = s3_record(c);
	int rc = rec ? m->admin->setting_put(m, "storage/blobs", rec) : DD_E_NOMEM;
	free(rec);
	return rc;
}
