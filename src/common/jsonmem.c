/* jsonmem.c: see jsonmem.h. The region is reserved once per thread (virtual memory only;
 * pages are touched as used) and falls back to malloc when a document outgrows it. */
#include "common/dd.h"
#include "jsonmem.h"
#include <jansson.h>
#include <sys/mman.h>

#define JSONMEM_REGION (2ULL * 1024 * 1024 * 1024) /* per thread, reserved, not committed */

static __thread char *base;
static __thread size_t used;
static __thread int active;

static void *jm_malloc(size_t n)
{
	if (active && base) {
		size_t need = (n + 15) & ~(size_t)15;
		if (used + need <= JSONMEM_REGION) {
			void *p = base + used;
			used += need;
			return p;
		}
	}
	return malloc(n);
}

static void jm_free(void *p)
{
	if (base && (char *)p >= base && (char *)p < base + JSONMEM_REGION)
		return; /* released by jsonmem_reset */
	free(p);
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static void install(void) { json_set_alloc_funcs(jm_malloc, jm_free); }

void jsonmem_begin(void)
{
	pthread_once(&once, install);
	if (!base) {
		void *m = mmap(NULL, JSONMEM_REGION, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			       -1, 0);
		if (m == MAP_FAILED)
			return; /* malloc it is */
		base = m;
	}
	used = 0;
	active = 1;
}

void jsonmem_reset(void) { used = 0; }

void jsonmem_end(void)
{
	active = 0;
	used = 0;
	if (base) /* give the touched pages back; the reservation stays for the next import */
		madvise(base, JSONMEM_REGION, MADV_DONTNEED);
}

void jsonmem_free(void *p) { jm_free(p); }
