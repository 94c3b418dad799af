/* blobstore_open.c: the blob store the settings name. */
#include "common/dd.h"
#include "blobstore.h"
#include "s3.h"
#include "common/config.h"

int blobstore_open_config(const struct config *c, struct blobstore **out, const char **why)
{
	*why = NULL;
	if (!c->storage_s3)
		return blobstore_fs_open(c->data_dir, out);
	const char *ak = *c->s3_access_key ? c->s3_access_key : getenv("AWS_ACCESS_KEY_ID");
	const char *sk = *c->s3_secret_key ? c->s3_secret_key : getenv("AWS_SECRET_ACCESS_KEY");
	struct s3_config sc = {.endpoint = c->s3_endpoint, .bucket = c->s3_bucket, .region = c->s3_region,
			       .access_key = ak, .secret_key = sk, .virtual_host = c->s3_virtual_host};
	return blobstore_s3_open(&sc, c->data_dir, out, why);
}
