/* range.h: parsers for the Range request header of blob GETs ("bytes=a-b", "bytes=a-",
 * "bytes=-n") and the Content-Range header of chunked upload PATCHes ("a-b", also accepted
 * as "bytes a-b" or "bytes a-b/total"). Pure functions over (pointer, length). */
#ifndef DD_RANGE_H
#define DD_RANGE_H
#include <stddef.h>
#include <stdint.h>

/* For a blob of `size` bytes: 0 with [*start, *end] inclusive; DD_E_RANGE_INVALID when the
 * range cannot be satisfied; DD_E_USAGE when the header is malformed or has several ranges
 * (the caller then ignores it and serves the whole blob, as RFC 9110 allows). */
int range_parse(const char *s, size_t n, int64_t size, int64_t *start, int64_t *end);

/* Content-Range of an upload chunk: 0 with inclusive [*start, *end], or DD_E_RANGE_INVALID. */
int content_range_parse(const char *s, size_t n, int64_t *start, int64_t *end);

/* Parses a non-negative decimal integer filling all of (s, n); 0 or DD_E_USAGE. */
int parse_i64(const char *s, size_t n, int64_t *out);

#endif
