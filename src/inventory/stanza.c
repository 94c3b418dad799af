/* stanza.c: line iteration for the stanza-shaped package databases. */
#include "common/dd.h"
#include "stanza.h"

int stanza_next_line(struct stanza_cursor *c, const char **line, size_t *len)
{
	if (c->p >= c->end)
		return 0;
	const char *nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
	*line = c->p;
	*len = nl ? (size_t)(nl - c->p) : (size_t)(c->end - c->p);
	if (*len && (*line)[*len - 1] == '\r')
		(*len)--;
	c->p = nl ? nl + 1 : c->end;
	c->line++;
	return 1;
}
