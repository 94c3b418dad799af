/* stanza.h: a cursor over "Field: value" stanzas separated by blank lines, the shape shared
 * by dpkg's status files and apk's installed database. Internal to inventory/. */
#ifndef DD_STANZA_H
#define DD_STANZA_H
#include <stddef.h>

struct stanza_cursor {
	const char *p, *end;
	size_t line; /* 1-based number of the line at p */
};

struct field {
	const char *name, *value;
	size_t name_len, value_len;
	size_t line;
};

/* Next line of the file, without its newline; 0 at the end. */
int stanza_next_line(struct stanza_cursor *c, const char **line, size_t *len);

#endif
