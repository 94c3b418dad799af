/* kev.c: kev.h. */
#include "common/dd.h"
#include "vulndb/kev.h"
#include "common/arena.h"
#include <ctype.h>
#include <jansson.h>

#define KEV_MAX_TEXT 4096 /* a field longer than this is cut: it is shown, never parsed */

int kev_is_catalogue(const void *root)
{
	return json_is_array(json_object_get(root, "vulnerabilities")) && json_object_get(root, "catalogVersion");
}

static int cve_ok(const char *s)
{
	if (!s || strncmp(s, "CVE-", 4))
		return 0;
	s += 4;
	for (int i = 0; i < 4; i++)
		if (!isdigit((unsigned char)*s++))
			return 0;
	if (*s++ != '-')
		return 0;
	size_t n = 0;
	for (; isdigit((unsigned char)*s); s++)
		n++;
	return !*s && n >= 4 && n <= 12;
}

static int date_ok(const char *s)
{
	if (!s || strlen(s) != 10)
		return 0;
	for (int i = 0; i < 10; i++)
		if (i == 4 || i == 7 ? s[i] != '-' : !isdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

static const char *text(struct arena *a, json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	if (!s)
		return "";
	return strlen(s) > KEV_MAX_TEXT ? arena_strndup(a, s, KEV_MAX_TEXT) : arena_strdup(a, s);
}

int kev_parse(struct arena *a, const char *data, size_t len, void (*fn)(void *ctx, const struct kev_entry *e),
	      void *ctx, size_t *skipped, const char **why)
{
	*skipped = 0;
	json_t *root = json_loadb(data, len, 0, NULL);
	if (!kev_is_catalogue(root)) {
		json_decref(root);
		*why = "not the known exploited vulnerabilities catalogue (no catalogVersion and vulnerabilities)";
		return DD_E_FEED_INVALID;
	}
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(root, "vulnerabilities"), i, v)
	{
		const char *cve = json_string_value(json_object_get(v, "cveID"));
		const char *added = json_string_value(json_object_get(v, "dateAdded"));
		if (!cve_ok(cve) || !date_ok(added)) {
			(*skipped)++;
			continue;
		}
		const char *due = json_string_value(json_object_get(v, "dueDate"));
		const char *rw = json_string_value(json_object_get(v, "knownRansomwareCampaignUse"));
		struct kev_entry e = {.cve = arena_strdup(a, cve), .date_added = arena_strdup(a, added),
				      .due_date = date_ok(due) ? arena_strdup(a, due) : "",
				      .action = text(a, v, "requiredAction"), .name = text(a, v, "vulnerabilityName"),
				      .ransomware = rw && !strcmp(rw, "Known")};
		fn(ctx, &e);
	}
	json_decref(root);
	return 0;
}
