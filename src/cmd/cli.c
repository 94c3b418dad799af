/* cli.c: what the subcommands need to know about how they were run: the name under which a
 * command line printed for the user finds this binary again, shell quoting for such lines, and
 * running as the owner of a data directory when started by root. Nothing here touches the
 * registry's data itself. */
#include "common/dd.h"
#include "store/meta.h"
#include "cmds.h"
#include <grp.h>
#include <pwd.h>

const char *cli_self(void)
{
	static char self[PATH_MAX];
	if (*self)
		return self;
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0) {
		snprintf(self, sizeof(self), "drydock");
		return self;
	}
	exe[n] = 0;
	/* "drydock" when a PATH lookup of that name finds this very file */
	const char *path = getenv("PATH");
	struct stat mine, st;
	if (path && !stat(exe, &mine)) {
		for (const char *p = path; *p;) {
			size_t len = strcspn(p, ":");
			char cand[PATH_MAX];
			if (len && len < sizeof(cand) - 9) {
				snprintf(cand, sizeof(cand), "%.*s/drydock", (int)len, p);
				if (!access(cand, X_OK)) {
					if (!stat(cand, &st) && st.st_dev == mine.st_dev && st.st_ino == mine.st_ino) {
						snprintf(self, sizeof(self), "drydock");
						return self;
					}
					break; /* another drydock comes first on PATH */
				}
			}
			p += len;
			if (*p == ':')
				p++;
		}
	}
	snprintf(self, sizeof(self), "%s", cli_quote(exe, 0));
	return self;
}

const char *cli_quote(const char *s, int slot)
{
	static char bufs[2][2 * PATH_MAX + 3];
	char *out = bufs[slot & 1];
	if (*s && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./:@%+=,-") == strlen(s))
		return s;
	size_t o = 0, cap = sizeof(bufs[0]);
	out[o++] = '\'';
	for (; *s && o + 5 < cap; s++) {
		if (*s == '\'') {
			memcpy(out + o, "'\\''", 4);
			o += 4;
		} else
			out[o++] = *s;
	}
	out[o++] = '\'';
	out[o] = 0;
	return out;
}

int cli_become_owner(const char *dir, const char *cmd)
{
	struct stat st;
	if (geteuid() != 0 || stat(dir, &st) || st.st_uid == 0)
		return 0;
	(void)cli_actor(); /* the audit log names who ran the command, not whom it became */
	struct passwd *pw = getpwuid(st.st_uid);
	gid_t gid = pw ? pw->pw_gid : st.st_gid;
	if ((pw ? initgroups(pw->pw_name, gid) : setgroups(0, NULL)) || setgid(gid) || setuid(st.st_uid)) {
		fprintf(stderr, "drydock %s: cannot run as the owner of '%s' (uid %u): %s\n", cmd, dir,
			(unsigned)st.st_uid, strerror(errno));
		return 1;
	}
	if (access(dir, R_OK | W_OK | X_OK)) {
		fprintf(stderr, "drydock %s: '%s' belongs to uid %u, who cannot reach it: %s\n", cmd, dir,
			(unsigned)st.st_uid, strerror(errno));
		return 1;
	}
	return 0;
}

int cli_data_meta(const char *dir, const char *cmd, char *path, size_t cap)
{
	if (cli_become_owner(dir, cmd))
		return 1;
	snprintf(path, cap, "%s/meta.db", dir);
	if (!meta_dir_has(dir)) {
		fprintf(stderr, "drydock %s: '%s' holds no registry data (no meta.db)\n", cmd, dir);
		return 1;
	}
	return 0;
}
