/* regauth.c: saved registry logins (see regauth.h). The files are containers-auth.json(5) and
 * docker's config.json, which share one shape: {"auths": {KEY: {"auth": base64(user:password)}},
 * "credHelpers": {HOST: NAME}, "credsStore": NAME}; a helper is the program
 * docker-credential-NAME, asked with `get` and the server on stdin, answering
 * {"Username": ..., "Secret": ...}. Identity tokens (a Username of "<token>") are not used. */
#include "common/dd.h"
#include "regauth.h"
#include "auth/header.h"
#include "common/util.h"
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#define AUTHFILE_MAX (1 << 20)    /* an auth file: a few KiB in practice */
#define HELPER_OUT_MAX (64 * 1024) /* what a credential helper may print */
#define HELPER_WAIT_MS 10000       /* a helper that does not answer in this long is given up */

extern char **environ;

/* "https://host:port/v1/" -> "host:port"; "host/ns/repo" stays. Arena-owned. */
static const char *normalize_key(struct arena *a, const char *k)
{
	if (!strncmp(k, "https://", 8))
		k += 8;
	else if (!strncmp(k, "http://", 7))
		k += 7;
	size_t n = strlen(k);
	while (n && k[n - 1] == '/')
		n--;
	if (n >= 3 && (!strncmp(k + n - 3, "/v1", 3) || !strncmp(k + n - 3, "/v2", 3)))
		n -= 3;
	return arena_strndup(a, k, n);
}

/* Runs docker-credential-NAME get for server; "user:password" or NULL. */
static const char *from_helper(struct arena *a, const char *name, const char *server)
{
	if (!*name || strpbrk(name, "/ \t"))
		return NULL;
	char prog[256];
	snprintf(prog, sizeof(prog), "docker-credential-%s", name);
	int in[2], out[2];
	if (pipe2(in, O_CLOEXEC))
		return NULL;
	if (pipe2(out, O_CLOEXEC)) {
		close(in[0]);
		close(in[1]);
		return NULL;
	}
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	char *argv[] = {prog, (char *)"get", NULL};
	pid_t pid;
	int rc = posix_spawnp(&pid, prog, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(out[1]);
	if (rc) {
		close(in[1]);
		close(out[0]);
		return NULL;
	}
	void (*old)(int) = signal(SIGPIPE, SIG_IGN);
	ssize_t w = write(in[1], server, strlen(server));
	(void)w;
	close(in[1]);
	char *buf = arena_alloc(a, HELPER_OUT_MAX + 1);
	size_t len = 0;
	for (;;) {
		struct pollfd p = {.fd = out[0], .events = POLLIN};
		if (poll(&p, 1, HELPER_WAIT_MS) <= 0)
			break;
		ssize_t r = read(out[0], buf + len, HELPER_OUT_MAX - len);
		if (r <= 0 || (len += (size_t)r) == HELPER_OUT_MAX)
			break;
	}
	close(out[0]);
	signal(SIGPIPE, old);
	int status;
	if (waitpid(pid, &status, WNOHANG) == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		return NULL; /* "credentials not found" is an exit status of 1 */
	json_t *o = json_loadb(buf, len, 0, NULL);
	const char *u = json_string_value(json_object_get(o, "Username"));
	const char *s = json_string_value(json_object_get(o, "Secret"));
	const char *creds = u && s && *u && strcmp(u, "<token>") ? arena_printf(a, "%s:%s", u, s) : NULL;
	json_decref(o);
	return creds;
}

/* An "auths" entry: {"auth": base64(user:password)} or {"username", "password"}. */
static const char *from_entry(struct arena *a, json_t *e)
{
	const char *b64 = json_string_value(json_object_get(e, "auth"));
	if (b64 && *b64) {
		size_t n = strlen(b64), len;
		unsigned char *raw = arena_alloc(a, n + 1);
		if (b64_decode(b64, n, 0, raw, n, &len) || !memchr(raw, ':', len) || memchr(raw, 0, len))
			return NULL;
		return arena_strndup(a, (const char *)raw, len);
	}
	const char *u = json_string_value(json_object_get(e, "username"));
	const char *p = json_string_value(json_object_get(e, "password"));
	return u && p && *u ? arena_printf(a, "%s:%s", u, p) : NULL;
}

/* Looks in one file; NULL when it has nothing for host. */
static const char *from_file(struct arena *a, const char *path, const char *host, const char *repo)
{
	char *text;
	size_t len;
	if (util_read_file(path, AUTHFILE_MAX, &text, &len))
		return NULL;
	json_t *root = json_loadb(text, len, 0, NULL);
	free(text);
	if (!json_is_object(root)) {
		json_decref(root);
		return NULL;
	}
	const char *creds = NULL, *key;
	json_t *v;
	json_object_foreach(json_object_get(root, "credHelpers"), key, v)
	{
		if (!creds && json_is_string(v) && !strcmp(normalize_key(a, key), host))
			creds = from_helper(a, json_string_value(v), host);
	}
	/* the most specific entry: host/ns/repo, host/ns, ..., host */
	size_t best = 0;
	json_object_foreach(json_object_get(root, "auths"), key, v)
	{
		if (creds && !best)
			break;
		const char *k = normalize_key(a, key);
		size_t hl = strlen(host), kl = strlen(k);
		if (strncmp(k, host, hl) || (k[hl] && k[hl] != '/'))
			continue;
		if (k[hl] == '/') { /* a repository prefix: must name repo or a namespace of it */
			size_t pl = kl - hl - 1, rl = strlen(repo);
			if (pl > rl || strncmp(k + hl + 1, repo, pl) || (repo[pl] && repo[pl] != '/'))
				continue;
		}
		const char *c = kl >= best ? from_entry(a, v) : NULL;
		if (c) {
			creds = c;
			best = kl + 1;
		}
	}
	const char *store = json_string_value(json_object_get(root, "credsStore"));
	if (!creds && store)
		creds = from_helper(a, store, host);
	json_decref(root);
	return creds;
}

const char *regauth_lookup(struct arena *a, const char *host, const char *repo, const char **source)
{
	*source = NULL;
	const char *home = getenv("HOME"), *e;
	const char *paths[5] = {0};
	size_t n = 0;
	if ((e = getenv("REGISTRY_AUTH_FILE")) && *e)
		paths[n++] = e;
	if ((e = getenv("XDG_RUNTIME_DIR")) && *e)
		paths[n++] = arena_printf(a, "%s/containers/auth.json", e);
	else
		paths[n++] = arena_printf(a, "/run/containers/%u/auth.json", (unsigned)getuid());
	if ((e = getenv("XDG_CONFIG_HOME")) && *e)
		paths[n++] = arena_printf(a, "%s/containers/auth.json", e);
	else if (home)
		paths[n++] = arena_printf(a, "%s/.config/containers/auth.json", home);
	if ((e = getenv("DOCKER_CONFIG")) && *e)
		paths[n++] = arena_printf(a, "%s/config.json", e);
	else if (home)
		paths[n++] = arena_printf(a, "%s/.docker/config.json", home);
	for (size_t i = 0; i < n; i++) {
		const char *c = from_file(a, paths[i], host, repo);
		if (c) {
			*source = paths[i];
			return c;
		}
	}
	return NULL;
}
