/* jsonmem.h: a bump allocator for jansson while bulk-parsing feeds. Parsing a gigabyte of
 * feed JSON makes millions of tiny allocations that are all freed together a moment later;
 * between jsonmem_begin and jsonmem_end, the calling thread's jansson allocations come from
 * one region that is reset at the end, and frees into it cost nothing. Other threads, and
 * this one outside the bracket, use malloc as before. Every JSON value created inside the
 * bracket must be freed (json_decref) before jsonmem_end. */
#ifndef DD_JSONMEM_H
#define DD_JSONMEM_H
void jsonmem_begin(void);
/* Forgets everything allocated since jsonmem_begin (or the last jsonmem_reset). */
void jsonmem_reset(void);
void jsonmem_end(void);
/* Frees text that jansson allocated (json_dumps) whether or not it came from the region:
 * inside the bracket, use it instead of free() for such text. */
void jsonmem_free(void *p);
#endif
