/* err.h: the one table of drydock error codes.
 *
 * Written once as an X-macro (libuv's UV_ERRNO_MAP) that generates the enum, the message
 * strings, and for the HTTP layer the status code and the OCI error code. Append only;
 * never renumber: the numbers appear in logs and, later, in stored job results. */
#ifndef DD_ERR_H
#define DD_ERR_H

/* X(name, http status, OCI code, message) */
#define DD_ERR_MAP(X)                                                                              \
	X(OK, 200, "", "success")                                                                  \
	X(NOMEM, 500, "UNKNOWN", "out of memory")                                                  \
	X(IO, 500, "UNKNOWN", "storage i/o error")                                                 \
	X(INTERNAL, 500, "UNKNOWN", "internal error")                                              \
	X(BLOB_UNKNOWN, 404, "BLOB_UNKNOWN", "blob unknown to registry")                           \
	X(BLOB_UPLOAD_INVALID, 400, "BLOB_UPLOAD_INVALID", "blob upload invalid")                  \
	X(BLOB_UPLOAD_UNKNOWN, 404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry")      \
	X(DIGEST_INVALID, 400, "DIGEST_INVALID", "provided digest did not match uploaded content") \
	X(MANIFEST_BLOB_UNKNOWN, 400, "MANIFEST_BLOB_UNKNOWN",                                     \
	  "manifest references a manifest or blob unknown to registry")                            \
	X(MANIFEST_INVALID, 400, "MANIFEST_INVALID", "manifest invalid")                           \
	X(MANIFEST_UNKNOWN, 404, "MANIFEST_UNKNOWN", "manifest unknown to registry")               \
	X(NAME_INVALID, 400, "NAME_INVALID", "invalid repository name")                            \
	X(NAME_UNKNOWN, 404, "NAME_UNKNOWN", "repository name not known to registry")              \
	X(SIZE_INVALID, 400, "SIZE_INVALID", "provided length did not match content length")       \
	X(UNAUTHORIZED, 401, "UNAUTHORIZED", "authentication required")                            \
	X(DENIED, 403, "DENIED", "requested access to the resource is denied")                     \
	X(UNSUPPORTED, 405, "UNSUPPORTED", "the operation is unsupported")                         \
	X(TOOMANYREQUESTS, 429, "TOOMANYREQUESTS", "too many requests")                            \
	X(RANGE_INVALID, 416, "BLOB_UPLOAD_INVALID", "requested range not satisfiable")            \
	X(TAG_INVALID, 400, "MANIFEST_INVALID", "invalid tag")                                     \
	X(PAGINATION_INVALID, 400, "PAGINATION_NUMBER_INVALID", "invalid number of results requested") \
	X(TOO_LARGE, 413, "SIZE_INVALID", "request body too large")                                \
	X(NOT_FOUND, 404, "NOT_FOUND", "no such endpoint")                                         \
	X(METHOD, 405, "UNSUPPORTED", "method not allowed")                                        \
	X(BUSY, 409, "BLOB_UPLOAD_INVALID", "upload is in use by another request")                 \
	X(NOT_IMPLEMENTED, 501, "UNSUPPORTED", "not implemented")                                  \
	X(CONFIG, 500, "UNKNOWN", "invalid configuration")                                         \
	X(USAGE, 400, "UNKNOWN", "invalid arguments")                                             \
	X(VERSION_INVALID, 400, "UNKNOWN", "invalid version")                                     \
	X(PKGDB_CORRUPT, 422, "UNKNOWN", "corrupt package database")                              \
	X(LAYER_INVALID, 422, "UNKNOWN", "invalid image layer")                                   \
	X(IMAGE_INVALID, 422, "UNKNOWN", "invalid image")                                         \
	X(FEED_INVALID, 422, "UNKNOWN", "invalid vulnerability feed record")                      \
	X(DB_INVALID, 500, "UNKNOWN", "invalid vulnerability database file")                      \
	X(REQUEST_INVALID, 400, "UNKNOWN", "malformed HTTP request")                              \
	X(HEADERS_TOO_LARGE, 431, "UNKNOWN", "request header fields too large")                   \
	X(HTTP_VERSION, 505, "UNKNOWN", "HTTP version not supported")                             \
	X(UNAVAILABLE, 503, "UNAVAILABLE", "service unavailable")                                 \
	X(SCAN_LIMIT, 422, "UNKNOWN", "image over a scanning limit")                              \
	X(NO_SPACE, 507, "UNKNOWN", "no space left on the registry's storage")                    \
	X(SANDBOX, 422, "UNKNOWN", "a sandboxed scan worker failed")

enum dd_err {
#define X(name, status, code, msg) DD_E_##name,
	DD_ERR_MAP(X)
#undef X
	DD_E__COUNT
};

const char *dd_err_message(int err);
const char *dd_err_oci_code(int err);
int dd_err_http_status(int err);

#endif
