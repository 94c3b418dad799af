/* names.h: the OCI distribution-spec grammars for repository names and tags, and the
 * splitting of a /v2/ request path into (name, endpoint, last segment). Pure functions over
 * (pointer, length); no allocation. */
#ifndef DD_NAMES_H
#define DD_NAMES_H
#include <stddef.h>

/* 0 or DD_E_NAME_INVALID with *why. Grammar:
 * [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*, <= 255 bytes. */
int name_validate(const char *s, size_t n, const char **why);
/* 0 or DD_E_TAG_INVALID with *why. Grammar: [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}. */
int tag_validate(const char *s, size_t n, const char **why);

enum route_kind {
	ROUTE_NONE,
	ROUTE_BASE,      /* /v2/ */
	ROUTE_CATALOG,   /* /v2/_catalog */
	ROUTE_TAGS,      /* /v2/<name>/tags/list */
	ROUTE_MANIFEST,  /* /v2/<name>/manifests/<reference> */
	ROUTE_BLOB,      /* /v2/<name>/blobs/<digest> */
	ROUTE_UPLOAD,    /* /v2/<name>/blobs/uploads/ and /v2/<name>/blobs/uploads/<id> */
	ROUTE_REFERRERS, /* /v2/<name>/referrers/<digest> */
};

struct route {
	enum route_kind kind;
	const char *name; /* points into the path; not NUL-terminated */
	size_t name_len;
	const char *arg; /* reference, digest or upload id; may be empty */
	size_t arg_len;
};

/* Splits a path (without query string). Returns 0, DD_E_NOT_FOUND for paths that are not
 * registry endpoints. The name is not validated here. */
int route_parse(const char *path, size_t n, struct route *out);

#endif
