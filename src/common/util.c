/* util.c: the helpers of util.h. */
#include "dd.h"
#include "util.h"
#include "arena.h"
#include "log.h"
#include <ftw.h>
#include <malloc.h>
#include <sys/file.h>
#include <openssl/rand.h>

int util_mkdirs(const char *path)
{
	char p[PATH_MAX];
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof(p))
		return DD_E_IO;
	memcpy(p, path, n + 1);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(p, 0755) && errno != EEXIST) {
			log_error("cannot create directory '%s': %s", p, strerror(errno));
			return util_io_err(errno);
		}
		*s = '/';
	}
	if (mkdir(p, 0755) && errno != EEXIST) {
		log_error("cannot create directory '%s': %s", p, strerror(errno));
		return util_io_err(errno);
	}
	return 0;
}

int util_io_err(int e) { return e == ENOSPC || e == EDQUOT ? DD_E_NO_SPACE : DD_E_IO; }

int util_lock_file(const char *path, int exclusive, int *fd)
{
	int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (f < 0) {
		log_error("cannot open '%s': %s", path, strerror(errno));
		return DD_E_IO;
	}
	while (flock(f, exclusive ? LOCK_EX : LOCK_SH)) {
		if (errno != EINTR) {
			log_error("cannot lock '%s': %s", path, strerror(errno));
			close(f);
			return DD_E_IO;
		}
	}
	*fd = f;
	return 0;
}

ssize_t util_read_full(int fd, void *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, (char *)buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

int util_fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return DD_E_IO;
	int rc = fsync(fd) ? DD_E_IO : 0;
	close(fd);
	return rc;
}

void util_uuid(char out[37])
{
	unsigned char r[16];
	if (RAND_bytes(r, sizeof(r)) != 1)
		abort();
	r[6] = (r[6] & 0x0f) | 0x40;
	r[8] = (r[8] & 0x3f) | 0x80;
	static const char hex[] = "0123456789abcdef";
	int k = 0;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[k++] = '-';
		out[k++] = hex[r[i] >> 4];
		out[k++] = hex[r[i] & 15];
	}
	out[k] = 0;
}

int util_is_uuid(const char *s, size_t n)
{
	if (n != 36)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	}
	return 1;
}

int util_read_file(const char *path, size_t max, char **data, size_t *len)
{
	*data = NULL;
	*len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return DD_E_IO;
	struct stat st;
	if (fstat(fd, &st) || st.st_size < 0) {
		close(fd);
		return DD_E_IO;
	}
	if ((size_t)st.st_size > max) {
		close(fd);
		return DD_E_TOO_LARGE;
	}
	char *d = malloc((size_t)st.st_size + 1);
	if (!d) {
		close(fd);
		return DD_E_NOMEM;
	}
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, d + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	d[got] = 0;
	*data = d;
	*len = got;
	return 0;
}

int64_t util_now(void) { return (int64_t)time(NULL); }

int util_parse_duration(const char *s, int64_t default_unit, int64_t min, int64_t max, int64_t *seconds)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	int64_t unit = !*end ? default_unit : !strcmp(end, "d") ? 86400 : !strcmp(end, "h") ? 3600
					    : !strcmp(end, "m")			? 60
					    : !strcmp(end, "s")			? 1
										: 0;
	if (end == s || errno || !unit || v < 0 || v > INT64_MAX / unit || v * unit < min || v * unit > max)
		return -1;
	*seconds = v * unit;
	return 0;
}

int util_parse_size(const char *s, int64_t max, int64_t *bytes)
{
	static const struct {
		const char *suffix;
		int shift;
	} units[] = {{"", 0},	  {"B", 0},    {"K", 10},   {"KiB", 10}, {"M", 20},
		     {"MiB", 20}, {"G", 30},   {"GiB", 30}, {"T", 40},	 {"TiB", 40}};
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (end == s || errno || v < 0 || !isdigit((unsigned char)*s))
		return -1;
	for (size_t i = 0; i < DD_ARRAY_LEN(units); i++) {
		if (strcmp(end, units[i].suffix))
			continue;
		if (v > (max >> units[i].shift))
			return -1;
		*bytes = (int64_t)v << units[i].shift;
		return 0;
	}
	return -1;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path) ? -1 : 0;
}

int util_rmtree(const char *path)
{
	return nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS) ? DD_E_IO : 0;
}

void util_tune_malloc(void)
{
	mallopt(M_ARENA_MAX, 2);
	mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
	mallopt(M_TRIM_THRESHOLD, 4 * 1024 * 1024);
}

const char *util_iso_time(struct arena *a, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char out[32];
	gmtime_r(&tt, &tm);
	if (!strftime(out, sizeof(out), "%Y-%m-%dT%H:%M:%SZ", &tm))
		out[0] = 0;
	return arena_strdup(a, out);
}
