/* limits.h: every size drydock reads from untrusted input is bounded here, with the reason.
 * (SQLite's sqliteLimit.h.) Each limit, when exceeded, becomes a clear error naming it. */
#ifndef DD_LIMITS_H
#define DD_LIMITS_H

/* Manifests and indexes: Distribution and the OCI spec suggest 4 MiB; real ones are < 100 KiB. */
#define DD_MAX_MANIFEST_BYTES (4 * 1024 * 1024)
/* JSON nesting accepted in a manifest (jansson is recursive). */
#define DD_MAX_JSON_DEPTH 64
/* Descriptors in one manifest (layers) or index (manifests): far above any real image. */
#define DD_MAX_DESCRIPTORS 10000
/* Repository name: the spec's grammar plus Distribution's 255-byte cap for name + host. */
#define DD_MAX_NAME_BYTES 255
/* Tag: the spec's grammar allows 128 characters. */
#define DD_MAX_TAG_BYTES 128
/* Digest string: "sha512:" + 128 hex is the longest we accept. */
#define DD_MAX_DIGEST_BYTES 135
/* Request path: name + "/blobs/uploads/" + uuid, with slack; longer is a 404/400. */
#define DD_MAX_URL_BYTES 2048
/* Request headers per connection (libmicrohttpd connection memory pool). */
#define DD_MAX_HEADER_BYTES (64 * 1024)
/* One blob: layers of tens of GiB exist (ML images); refuse beyond 64 GiB. */
#define DD_MAX_BLOB_BYTES (64LL * 1024 * 1024 * 1024)
/* Open upload sessions at once (each is a temp file and a row). */
#define DD_MAX_UPLOAD_SESSIONS 4096
/* Concurrent HTTP connections (each holds a thread in thread-per-connection mode). */
#define DD_MAX_CONNECTIONS 512
/* Seconds an idle connection may hold a thread. */
#define DD_CONNECTION_TIMEOUT 120
/* Page size for tags and catalog when the client asks for more (a Link header says so). */
#define DD_MAX_PAGE 10000
/* Referrers returned in one response (a Link header would page them; see docs/api.md). */
#define DD_MAX_REFERRERS 10000
/* One package database or os-release file read into memory (dpkg status of a large image is a
 * few MiB; rpmdb.sqlite of a full distribution ~100 MiB). */
#define DD_MAX_PKGDB_FILE_BYTES (256 * 1024 * 1024)
/* One layer, uncompressed: the largest real layers are tens of GiB (ML images); beyond this a
 * layer is treated as a decompression bomb. */
#define DD_MAX_LAYER_BYTES (64LL * 1024 * 1024 * 1024)
/* Tar entries in one layer (a full distribution has ~100k files). */
#define DD_MAX_LAYER_ENTRIES 5000000
/* A path inside a layer (PATH_MAX). */
#define DD_MAX_PATH_BYTES 4096
/* Symlinks followed while resolving one path inside an image (Linux's MAXSYMLINKS). */
#define DD_MAX_SYMLINK_HOPS 40
/* Layers in one image. */
#define DD_MAX_LAYERS 1000
/* Config file size and line length. */
#define DD_MAX_CONFIG_BYTES (64 * 1024)
/* An Authorization header's credentials: a bearer token (ours are ~600 bytes; JWTs from
 * other issuers with many scopes stay well under this), or Basic user:password decoded. */
#define DD_MAX_TOKEN_BYTES (8 * 1024)
#define DD_MAX_BASIC_BYTES 1024
/* Account names (user, robot) and passwords. */
#define DD_MAX_ACCOUNT_NAME 64
#define DD_MAX_PASSWORD_BYTES 256
/* Scopes asked for in one token request, and the body of a token POST (an OAuth2 form). */
#define DD_MAX_SCOPES 32
#define DD_MAX_TOKEN_FORM_BYTES (16 * 1024)
/* Role grants held by one account, and accounts kept (the store is a settings table). */
#define DD_MAX_GRANTS 256
#define DD_MAX_ACCOUNTS 10000
/* One htpasswd line. */
#define DD_MAX_HTPASSWD_LINE 1024
/* Audit entries returned in one page. */
#define DD_MAX_AUDIT_PAGE 1000

/* A stored report or inventory, unpacked (meta_sqlite keeps them zstd-compressed): debian-big's
 * report is 0.5 MB, so this is far above any image's, and a damaged row cannot make a reader
 * allocate without bound. */
#define DD_MAX_STORED_TEXT_BYTES (256 * 1024 * 1024)

#endif
