/* space.c: free space on the data directory's filesystem (statvfs) and the reserve file.
 *
 * The reserve is allocated with fallocate(2), so it holds real blocks without writing them;
 * where the filesystem cannot (EOPNOTSUPP), it is written with bytes that do not compress,
 * since zeros on a compressing filesystem would hold nothing. It is released by ftruncate(2)
 * and an fsync, which also makes a journaling filesystem hand the blocks back at once. */
#include "common/dd.h"
#include "space.h"
#include "common/log.h"
#include "common/util.h"
#include <sys/statvfs.h>

#define RESERVE_NAME "reserve"

struct space {
	char *path; /* the reserve file */
	char *dir;
	int64_t min_free, reserve;
	pthread_mutex_t mu; /* one change of the reserve file at a time in this process */
};

int space_open(const char *dir, int64_t min_free, int64_t reserve, struct space **out)
{
	*out = NULL;
	struct space *sp = calloc(1, sizeof(*sp));
	if (!sp)
		return DD_E_NOMEM;
	size_t n = strlen(dir) + sizeof("/" RESERVE_NAME);
	sp->dir = strdup(dir);
	sp->path = malloc(n);
	if (!sp->dir || !sp->path) {
		space_free(sp);
		return DD_E_NOMEM;
	}
	snprintf(sp->path, n, "%s/" RESERVE_NAME, dir);
	sp->min_free = min_free < 0 ? 0 : min_free;
	sp->reserve = reserve < 0 ? 0 : reserve;
	pthread_mutex_init(&sp->mu, NULL);
	*out = sp;
	return 0;
}

void space_free(struct space *sp)
{
	if (!sp)
		return;
	if (sp->path)
		pthread_mutex_destroy(&sp->mu);
	free(sp->path);
	free(sp->dir);
	free(sp);
}

/* What the reserve file holds on disk: its size, less any hole (a release in another process
 * racing a refill here can leave one). */
static int64_t reserve_held(struct space *sp)
{
	struct stat st;
	if (stat(sp->path, &st))
		return 0;
	int64_t blocks = (int64_t)st.st_blocks * 512;
	return blocks < (int64_t)st.st_size ? blocks : (int64_t)st.st_size;
}

const char *space_state_name(enum space_state s)
{
	return s == SPACE_OK ? "ok" : s == SPACE_LOW ? "low" : "full";
}

int space_stat(struct space *sp, struct space_stat *out)
{
	memset(out, 0, sizeof(*out));
	struct statvfs v;
	if (statvfs(sp->dir, &v)) {
		log_error("cannot read the free space of '%s': %s", sp->dir, strerror(errno));
		return DD_E_IO;
	}
	out->free_bytes = (int64_t)v.f_bavail * (int64_t)v.f_frsize;
	out->total_bytes = (int64_t)v.f_blocks * (int64_t)v.f_frsize;
	out->free_inodes = v.f_files ? (int64_t)v.f_favail : -1; /* tmpfs, btrfs: no fixed count */
	out->min_free = sp->min_free;
	out->reserve_wanted = sp->reserve;
	out->reserve_held = reserve_held(sp);
	int64_t missing = out->reserve_held < sp->reserve ? sp->reserve - out->reserve_held : 0;
	if (out->free_bytes < DD_SPACE_FULL_BYTES || (out->free_inodes >= 0 && out->free_inodes < DD_MIN_FREE_INODES) ||
	    (missing && out->free_bytes < sp->min_free + missing))
		out->state = SPACE_FULL;
	else if (out->free_bytes < sp->min_free)
		out->state = SPACE_LOW;
	else
		out->state = SPACE_OK;
	return 0;
}

/* Fills fd from `from` to `to` with bytes that do not compress (xorshift). */
static int write_incompressible(int fd, int64_t from, int64_t to)
{
	uint64_t block[2048]; /* 16 KiB */
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (size_t i = 0; i < DD_ARRAY_LEN(block); i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		block[i] = x;
	}
	for (int64_t off = from; off < to;) {
		size_t n = to - off < (int64_t)sizeof(block) ? (size_t)(to - off) : sizeof(block);
		ssize_t w = pwrite(fd, block, n, off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		off += w;
	}
	return 0;
}

/* Grows or shrinks the reserve file from held to size bytes (0: removed); 0, DD_E_NO_SPACE or
 * DD_E_IO. The caller holds sp->mu. */
static int reserve_resize(struct space *sp, int64_t held, int64_t size)
{
	int fd = open(sp->path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return util_io_err(errno);
	int rc = 0;
	if (size < held && ftruncate(fd, size))
		rc = util_io_err(errno);
	else if (size > held && fallocate(fd, 0, 0, size)) { /* from 0: fills any hole too */
		int e = errno;
		if (e == EOPNOTSUPP || e == ENOSYS) /* a filesystem without fallocate: write it */
			e = write_incompressible(fd, 0, size) ? errno : 0;
		if (e) {
			rc = util_io_err(e);
			if (ftruncate(fd, held)) /* what could not be had is not held */
				log_warn("cannot cut '%s' back: %s", sp->path, strerror(errno));
		}
	}
	if (fsync(fd) && !rc)
		rc = util_io_err(errno);
	close(fd);
	if (!size)
		unlink(sp->path);
	return rc;
}

int space_release(struct space *sp)
{
	if (!sp)
		return 0;
	pthread_mutex_lock(&sp->mu);
	int64_t held = reserve_held(sp), step = DD_RESERVE_STEP_BYTES;
	int64_t left = held > step ? held - step : 0;
	int released = held > 0 && !reserve_resize(sp, held, left);
	pthread_mutex_unlock(&sp->mu);
	if (released)
		log_warn("the disk is full: released %" PRId64 " KiB of the reserve '%s' so that a delete or a garbage "
			 "collection can commit (%" PRId64 " KiB left; it is rebuilt once there is room)",
			 (held - left) / 1024, sp->path, left / 1024);
	return released;
}

int space_refill(struct space *sp)
{
	if (!sp)
		return 0;
	pthread_mutex_lock(&sp->mu);
	int rc = 0;
	int64_t held = reserve_held(sp), grown = held;
	if (held > sp->reserve) /* reserve-space was lowered */
		rc = reserve_resize(sp, held, grown = sp->reserve);
	while (!rc && grown < sp->reserve) {
		struct space_stat st;
		if ((rc = space_stat(sp, &st)))
			break;
		int64_t step = sp->reserve - grown < DD_RESERVE_STEP_BYTES ? sp->reserve - grown : DD_RESERVE_STEP_BYTES;
		if (st.free_bytes - step < sp->min_free)
			break; /* no room above the floor: not yet */
		if ((rc = reserve_resize(sp, grown, grown + step)))
			break;
		grown += step;
	}
	pthread_mutex_unlock(&sp->mu);
	if (grown > held)
		log_info("the reserve '%s' holds %" PRId64 " of %" PRId64 " KiB", sp->path, grown / 1024,
			 sp->reserve / 1024);
	if (rc)
		log_warn("cannot grow the reserve '%s': %s", sp->path, dd_err_message(rc));
	return rc;
}

int space_admit(struct space *sp, int64_t n)
{
	if (!sp || n <= 0)
		return 0;
	struct space_stat st;
	if (space_stat(sp, &st))
		return 0; /* cannot tell: the write itself will say */
	if (st.reserve_held < st.reserve_wanted && st.free_bytes - n >= st.min_free + (st.reserve_wanted - st.reserve_held)) {
		space_refill(sp); /* room again: the reserve first */
		if (space_stat(sp, &st))
			return 0;
	}
	int64_t missing = st.reserve_held < st.reserve_wanted ? st.reserve_wanted - st.reserve_held : 0;
	if (st.free_bytes - n < st.min_free + missing || (st.free_inodes >= 0 && st.free_inodes < DD_MIN_FREE_INODES))
		return DD_E_NO_SPACE;
	return 0;
}
