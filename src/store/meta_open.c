/* meta_open.c: the metadata store of a data directory: its SQLite file (meta.db), or the
 * PostgreSQL database the data directory records (the file `metadata`, written at the first
 * start given one, readable by the owner alone: it may hold a password). Every command run on
 * the data directory later (drydock gc, user, query, scan --data) finds it there. */
#include "common/dd.h"
#include "meta.h"
#include <fcntl.h>
#include <sys/stat.h>

static __thread char why_buf[4096];

/* The PostgreSQL connection recorded in data_dir: 1 with it in buf, 0 when none is. */
static int recorded(const char *data_dir, char *buf, size_t cap)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/metadata", data_dir);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, cap - 1, f);
	fclose(f);
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return *buf != 0;
}

int meta_dir_has(const char *data_dir)
{
	char path[PATH_MAX], buf[1024];
	snprintf(path, sizeof(path), "%s/meta.db", data_dir);
	return !access(path, F_OK) || recorded(data_dir, buf, sizeof(buf));
}

static int record(const char *data_dir, const char *conninfo)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	snprintf(path, sizeof(path), "%s/metadata", data_dir);
	snprintf(tmp, sizeof(tmp), "%s/metadata.tmp", data_dir);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return DD_E_IO;
	FILE *f = fdopen(fd, "w");
	int ok = f && fprintf(f, "%s\n", conninfo) > 0 && fflush(f) == 0 && fsync(fd) == 0;
	if (f)
		fclose(f);
	else
		close(fd);
	if (!ok || rename(tmp, path)) {
		unlink(tmp);
		return DD_E_IO;
	}
	return 0;
}

int meta_open_dir(const char *data_dir, const char *conninfo, struct meta **out, const char **why)
{
	*out = NULL;
	*why = NULL;
	char path[PATH_MAX], rec[1024];
	snprintf(path, sizeof(path), "%s/meta.db", data_dir);
	int have_rec = recorded(data_dir, rec, sizeof(rec));
	if (!conninfo || !*conninfo) {
		if (!have_rec)
			return meta_sqlite_open(path, out);
		conninfo = rec;
	} else if (!access(path, F_OK)) {
		snprintf(why_buf, sizeof(why_buf),
			 "data directory '%.1000s' keeps its metadata in meta.db: metadata = postgresql would leave it "
			 "behind (stop the server and move it: drydock migrate --data %.1000s --metadata URL)", data_dir,
			 data_dir);
		*why = why_buf;
		return DD_E_CONFIG;
	}
	int rc = meta_pg_open(conninfo, out);
	if (rc) {
		snprintf(why_buf, sizeof(why_buf), "cannot open the PostgreSQL metadata database (the log says why)");
		*why = why_buf;
		return rc;
	}
	if (!have_rec || strcmp(rec, conninfo)) {
		if ((rc = record(data_dir, conninfo))) {
			meta_free(*out);
			*out = NULL;
			snprintf(why_buf, sizeof(why_buf), "cannot write '%.1000s/metadata'", data_dir);
			*why = why_buf;
		}
	}
	return rc;
}
