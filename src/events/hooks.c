/* hooks.c: the webhook events (see hooks.h). */
#include "common/dd.h"
#include "events/hooks.h"
#include "common/arena.h"
#include "common/jsonmem.h"
#include "common/util.h"

static const char *const types[] = {HOOK_IMAGE_PUSHED, HOOK_IMAGE_DELETED, HOOK_SCAN_COMPLETED, HOOK_SCAN_FAILED,
				    HOOK_FINDINGS_CHANGED};

int hook_types_valid(const char *list, const char **why)
{
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, ",");
		size_t k = 0;
		while (k < DD_ARRAY_LEN(types) && (strlen(types[k]) != n || strncmp(types[k], p, n)))
			k++;
		if (k == DD_ARRAY_LEN(types)) {
			*why = "events: a comma-separated list of image.pushed, image.deleted, scan.completed, scan.failed,"
			       " findings.changed";
			return 1;
		}
		p += n + (p[n] == ',');
	}
	return 0;
}

const char *hook_event(struct arena *a, const char *type, const char *repo, const char *digest, int64_t time,
		       json_t *fields)
{
	char id[37];
	util_uuid(id);
	json_t *e = json_pack("{s:s, s:s, s:I, s:s, s:s}", "id", id, "event", type, "time", (json_int_t)time,
			      "repository", repo, "digest", digest);
	if (e && fields)
		json_object_update(e, fields);
	json_decref(fields);
	char *text = e ? json_dumps(e, JSON_COMPACT) : NULL;
	json_decref(e);
	const char *out = text ? arena_strdup(a, text) : NULL;
	jsonmem_free(text); /* a scan worker's jansson may allocate from its region (jsonmem.h) */
	return out;
}
