/* status.c: the table of status.h. */
#include "common/dd.h"
#include "scan/status.h"

static const char *const names[ASSESSMENT_STATUSES] = {
	[STATUS_HEALTHY] = "Healthy",
	[STATUS_UNHEALTHY] = "Unhealthy",
	[STATUS_NOT_APPLICABLE] = "NotApplicable",
	[STATUS_FAILED] = "Failed",
};

const char *assessment_status_name(enum assessment_status s)
{
	return (unsigned)s < ASSESSMENT_STATUSES ? names[s] : "Failed";
}

int assessment_status_parse(const char *name, enum assessment_status *out)
{
	for (int i = 0; name && i < ASSESSMENT_STATUSES; i++)
		if (!strcmp(name, names[i])) {
			*out = (enum assessment_status)i;
			return 0;
		}
	return -1;
}

int assessment_status_is(const char *name, enum assessment_status s)
{
	return name && !strcmp(name, assessment_status_name(s));
}

int assessment_status_rank(const char *name)
{
	static const char *const order[] = {"Unhealthy", "Failed", "Scanning", "Queued", "Healthy", "NotApplicable"};
	for (size_t i = 0; name && i < DD_ARRAY_LEN(order); i++)
		if (!strcmp(name, order[i]))
			return (int)i;
	return (int)DD_ARRAY_LEN(order);
}
