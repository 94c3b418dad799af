/* update.c: downloading the feeds. The live URLs are the ones each distribution publishes;
 * with a mirror, the same relative paths are fetched under it (so a mirror is a plain
 * directory served over HTTP). Files land in <db dir>/feeds/<path>; a download goes to
 * .part first and is renamed only when complete, so a failed update never damages the copy
 * kept from the last one. */
#include "common/dd.h"
#include "vulndb/update.h"
#include "common/util.h"
#include "vulndb/vulndb.h"
#include <curl/curl.h>

static const struct source {
	const char *rel; /* the path under feeds/ and under a mirror */
	const char *url; /* the live URL */
} sources[] = {
	{"debian/tracker.json", "https://security-tracker.debian.org/tracker/data/json"},
	{"osv/Debian/all.zip", "https://osv-vulnerabilities.storage.googleapis.com/Debian/all.zip"},
	{"osv/Ubuntu/all.zip", "https://osv-vulnerabilities.storage.googleapis.com/Ubuntu/all.zip"},
	{"osv/Alpine/all.zip", "https://osv-vulnerabilities.storage.googleapis.com/Alpine/all.zip"},
	{"osv/Red Hat/all.zip", "https://osv-vulnerabilities.storage.googleapis.com/Red%20Hat/all.zip"},
	{"osv/AlmaLinux/all.zip", "https://osv-vulnerabilities.storage.googleapis.com/AlmaLinux/all.zip"},
	{"osv/Rocky Linux/all.zip", "https://osv-vulnerabilities.storage.googleapis.com/Rocky%20Linux/all.zip"},
#define ALPINE(v) {"alpine/" v "/main.json", "https://secdb.alpinelinux.org/" v "/main.json"}, \
		  {"alpine/" v "/community.json", "https://secdb.alpinelinux.org/" v "/community.json"}
	ALPINE("v3.16"), ALPINE("v3.17"), ALPINE("v3.18"), ALPINE("v3.19"), ALPINE("v3.20"), ALPINE("v3.21"),
	ALPINE("v3.22"), ALPINE("edge"),
#undef ALPINE
};

struct progress {
	FILE *log;
	const char *name;
	int tty;
	int64_t last;
};

static int on_progress(void *p, curl_off_t total, curl_off_t now, curl_off_t ut, curl_off_t un)
{
	(void)ut;
	(void)un;
	struct progress *pr = p;
	if (!pr->tty || now == pr->last)
		return 0;
	pr->last = now;
	if (total > 0)
		fprintf(pr->log, "\r  %-28s %6.1f / %6.1f MB", pr->name, now / 1e6, total / 1e6);
	else
		fprintf(pr->log, "\r  %-28s %6.1f MB", pr->name, now / 1e6);
	fflush(pr->log);
	return 0;
}

/* Fetches url into dest. 0 fetched or unchanged (*changed says which), else nonzero. */
static int fetch(const char *url, const char *dest, FILE *log, const char *name, int *changed, int *offline,
		 char *err, size_t errlen)
{
	*changed = 0;
	*offline = 0;
	size_t n = strlen(dest) + 8;
	char *part = malloc(n);
	if (!part)
		return 1;
	snprintf(part, n, "%s.part", dest);
	struct stat st, pst;
	int have = !stat(dest, &st), resume = !stat(part, &pst) && pst.st_size > 0;
	int rc = 1;
	for (int attempt = 0; attempt < 2 && rc; attempt++) {
		FILE *f = fopen(part, resume ? "ab" : "wb");
		if (!f) {
			snprintf(err, errlen, "cannot write '%s': %s", part, strerror(errno));
			break;
		}
		CURL *c = curl_easy_init();
		char ebuf[CURL_ERROR_SIZE] = "";
		struct progress pr = {log, name, isatty(fileno(log)), -1};
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
		curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L); /* a stalled transfer fails, not hangs */
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
		curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
		curl_easy_setopt(c, CURLOPT_FILETIME, 1L);
		curl_easy_setopt(c, CURLOPT_USERAGENT, "drydock-db-update");
		curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(c, CURLOPT_XFERINFODATA, &pr);
		if (resume)
			curl_easy_setopt(c, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)pst.st_size);
		else if (have) { /* unchanged since the copy we hold: 304, nothing to fetch */
			curl_easy_setopt(c, CURLOPT_TIMECONDITION, (long)CURL_TIMECOND_IFMODSINCE);
			curl_easy_setopt(c, CURLOPT_TIMEVALUE_LARGE, (curl_off_t)st.st_mtime);
		}
		CURLcode cr = curl_easy_perform(c);
		long code = 0, unmet = 0;
		curl_off_t ftime = -1;
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
		curl_easy_getinfo(c, CURLINFO_CONDITION_UNMET, &unmet);
		curl_easy_getinfo(c, CURLINFO_FILETIME_T, &ftime);
		curl_easy_cleanup(c);
		int closed = fclose(f);
		if (pr.tty && pr.last >= 0)
			fputc('\n', log);
		if (cr == CURLE_OK && (unmet || code == 304)) {
			unlink(part);
			rc = 0;
		} else if (cr == CURLE_OK && !closed) {
			if (rename(part, dest)) {
				snprintf(err, errlen, "cannot rename '%s': %s", part, strerror(errno));
				break;
			}
			if (ftime > 0) {
				struct timespec ts[2] = {{(time_t)ftime, 0}, {(time_t)ftime, 0}};
				utimensat(AT_FDCWD, dest, ts, 0);
			}
			*changed = 1;
			rc = 0;
		} else if (resume && (cr == CURLE_RANGE_ERROR || code == 416)) {
			unlink(part); /* the server cannot resume: start over once */
			resume = 0;
		} else {
			snprintf(err, errlen, "%s", *ebuf ? ebuf : curl_easy_strerror(cr));
			*offline = cr == CURLE_COULDNT_RESOLVE_HOST || cr == CURLE_COULDNT_CONNECT ||
				   cr == CURLE_OPERATION_TIMEDOUT || cr == CURLE_COULDNT_RESOLVE_PROXY;
			break;
		}
	}
	free(part);
	return rc;
}

int vulndb_update(const char *path, const char *mirror, const char *fallback_dir, FILE *log)
{
	size_t n = strlen(path) + 64;
	char *dir = malloc(n), *feeds = malloc(n);
	if (!dir || !feeds)
		return DD_E_NOMEM;
	snprintf(dir, n, "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;
	else
		snprintf(dir, n, ".");
	snprintf(feeds, n, "%s/feeds", dir);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	size_t ok = 0, failed = 0, changed = 0, held = 0, unreachable = 0;
	fprintf(log, "downloading feeds%s%s into %s\n", mirror ? " from mirror " : "", mirror ? mirror : "", feeds);
	for (size_t i = 0; i < DD_ARRAY_LEN(sources); i++) {
		const struct source *s = &sources[i];
		char url[1024], dest[4096], err[CURL_ERROR_SIZE + 600] = "";
		if (mirror) {
			/* the mirror holds the same relative paths; spaces escaped */
			size_t k = (size_t)snprintf(url, sizeof(url), "%s%s", mirror,
						    mirror[strlen(mirror) - 1] == '/' ? "" : "/");
			for (const char *p = s->rel; *p && k + 4 < sizeof(url); p++)
				k += (size_t)(*p == ' ' ? snprintf(url + k, 4, "%%20") : snprintf(url + k, 2, "%c", *p));
		} else
			snprintf(url, sizeof(url), "%s", s->url);
		snprintf(dest, sizeof(dest), "%s/%s", feeds, s->rel);
		char *d = strdup(dest), *sl = d ? strrchr(d, '/') : NULL;
		if (sl) {
			*sl = 0;
			util_mkdirs(d);
		}
		free(d);
		int ch = 0, offline = 0;
		struct stat st;
		if (!ok && unreachable >= 3) { /* nothing answered three times: offline, stop waiting */
			failed++;
			held += !stat(dest, &st);
			continue;
		}
		if (!fetch(url, dest, log, s->rel, &ch, &offline, err, sizeof(err))) {
			ok++;
			changed += (size_t)ch;
			fprintf(log, "  %-28s %s\n", s->rel, ch ? "downloaded" : "unchanged");
		} else {
			failed++;
			unreachable += (size_t)offline;
			held += !stat(dest, &st);
			fprintf(log, "  %-28s failed: %s%s\n", s->rel, err,
				!stat(dest, &st) ? " (keeping the copy from the last update)" : "");
		}
	}
	curl_global_cleanup();
	if (!ok && unreachable >= 3)
		fprintf(log, "  (the network looks unreachable: the remaining feeds were not tried)\n");
	const char *why;
	int rc;
	struct vdb_builder *b = vdb_builder_new();
	if (!ok && !held) {
		if (!fallback_dir) {
			fprintf(log, "drydock db update: no feed could be downloaded (offline?); "
				     "name a directory of feed files with --fallback-dir or DRYDOCK_FEEDS_DIR\n");
			rc = DD_E_IO;
			goto out;
		}
		fprintf(log, "no feed could be downloaded: importing the local feed directory %s instead\n",
			fallback_dir);
		rc = vdb_import_path(b, fallback_dir, log, &why);
	} else {
		fprintf(log, "%zu feeds downloaded or current, %zu changed, %zu failed; building %s\n", ok, changed,
			failed, path);
		rc = vdb_import_path(b, feeds, log, &why);
	}
	if (!rc)
		rc = vdb_builder_write(b, path, &why);
	if (rc)
		fprintf(log, "drydock db update: %s (the previous database, if any, is unchanged)\n", why);
out:
	vdb_builder_free(b);
	free(dir);
	free(feeds);
	return rc;
}
