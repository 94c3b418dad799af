/* names.c: name and tag grammars, and the /v2/ path router. */
#include "common/dd.h"
#include "names.h"

static int lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

int name_validate(const char *s, size_t n, const char **why)
{
	*why = NULL;
	if (n == 0) {
		*why = "repository name is empty";
		return DD_E_NAME_INVALID;
	}
	if (n > DD_MAX_NAME_BYTES) {
		*why = "repository name longer than 255 bytes";
		return DD_E_NAME_INVALID;
	}
	size_t i = 0;
	for (;;) {
		/* one path component: [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)* */
		if (i >= n || !lower_alnum(s[i]))
			goto bad;
		while (i < n && lower_alnum(s[i]))
			i++;
		while (i < n && s[i] != '/') {
			if (s[i] == '.')
				i++;
			else if (s[i] == '_') {
				i++;
				if (i < n && s[i] == '_')
					i++;
			} else if (s[i] == '-') {
				while (i < n && s[i] == '-')
					i++;
			} else
				goto bad;
			if (i >= n || !lower_alnum(s[i]))
				goto bad;
			while (i < n && lower_alnum(s[i]))
				i++;
		}
		if (i == n)
			return 0;
		i++; /* the '/' */
	}
bad:
	*why = "repository name must match [a-z0-9]+((.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((.|_|__|-+)[a-z0-9]+)*)*";
	return DD_E_NAME_INVALID;
}

int tag_validate(const char *s, size_t n, const char **why)
{
	*why = NULL;
	if (n == 0 || n > DD_MAX_TAG_BYTES) {
		*why = "tag must be 1 to 128 characters";
		return DD_E_TAG_INVALID;
	}
	if (!(isalnum((unsigned char)s[0]) || s[0] == '_'))
		goto bad;
	for (size_t i = 1; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '.' || s[i] == '-'))
			goto bad;
	return 0;
bad:
	*why = "tag must match [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}";
	return DD_E_TAG_INVALID;
}

static int seg_is(const char *s, size_t n, const char *lit) { return strlen(lit) == n && !memcmp(s, lit, n); }

int route_parse(const char *path, size_t n, struct route *out)
{
	memset(out, 0, sizeof(*out));
	if (n < 3 || memcmp(path, "/v2", 3))
		return DD_E_NOT_FOUND;
	if (n == 3 || (n == 4 && path[3] == '/')) {
		out->kind = ROUTE_BASE;
		return 0;
	}
	if (path[3] != '/')
		return DD_E_NOT_FOUND;
	const char *p = path + 4;
	size_t len = n - 4;
	if (seg_is(p, len, "_catalog")) {
		out->kind = ROUTE_CATALOG;
		return 0;
	}
	/* last segment, then the keyword before it */
	const char *slash = memrchr(p, '/', len);
	if (!slash)
		return DD_E_NOT_FOUND;
	const char *last = slash + 1;
	size_t last_len = len - (size_t)(last - p);
	size_t pre_len = (size_t)(slash - p);
	const char *kw_slash = memrchr(p, '/', pre_len);
	if (!kw_slash)
		return DD_E_NOT_FOUND;
	const char *kw = kw_slash + 1;
	size_t kw_len = pre_len - (size_t)(kw - p);
	size_t name_len = (size_t)(kw_slash - p);

	if (seg_is(kw, kw_len, "uploads") && name_len >= 6) {
		const char *b = memrchr(p, '/', name_len);
		if (b && seg_is(b + 1, name_len - (size_t)(b + 1 - p), "blobs")) {
			out->kind = ROUTE_UPLOAD;
			name_len = (size_t)(b - p);
			goto done;
		}
	}
	if (seg_is(kw, kw_len, "blobs"))
		out->kind = ROUTE_BLOB;
	else if (seg_is(kw, kw_len, "manifests"))
		out->kind = ROUTE_MANIFEST;
	else if (seg_is(kw, kw_len, "referrers"))
		out->kind = ROUTE_REFERRERS;
	else if (seg_is(kw, kw_len, "tags") && seg_is(last, last_len, "list"))
		out->kind = ROUTE_TAGS;
	else
		return DD_E_NOT_FOUND;
done:
	if (name_len == 0)
		return DD_E_NOT_FOUND;
	out->name = p;
	out->name_len = name_len;
	if (out->kind != ROUTE_TAGS) {
		out->arg = last;
		out->arg_len = last_len;
	}
	return 0;
}
