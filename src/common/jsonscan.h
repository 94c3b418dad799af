/* jsonscan.h: reading JSON text the project's own compact writers made, without building a
 * tree (a report of thousands of findings parsed by jansson costs tens of times more). Every
 * function fails (NULL or 0) on text it does not expect, and callers then parse with jansson:
 * these are fast paths, never the only reader. */
#ifndef DD_JSONSCAN_H
#define DD_JSONSCAN_H
#include <stddef.h>

struct arena;

/* A JSON string without escapes at *p (just past its opening quote): copied to the arena, *p
 * past its closing quote; NULL when it has an escape or no end. */
const char *jscan_plain_string(struct arena *a, const char **p);
/* *p past the JSON value at it: a string, an object or array (the strings in it skipped
 * whole), or a scalar (up to the next ',', '}' or ']'); 0 when it does not end. */
int jscan_skip_value(const char **p);
/* *p past literal lit when the text there starts with it: 1, else 0 (*p unmoved). */
int jscan_starts(const char **p, const char *lit);
#endif
