/* status.h: the status of an image's assessment, and its one table of names. The names are
 * what the API, the webhook events, the metrics and the stored assessments (assessment_rec's
 * status text, store/meta_scans.h) say; they are also the Microsoft.Security status codes. */
#ifndef DD_SCAN_STATUS_H
#define DD_SCAN_STATUS_H

enum assessment_status {
	STATUS_HEALTHY,        /* assessed: no finding (or every one suppressed) */
	STATUS_UNHEALTHY,      /* assessed: findings */
	STATUS_NOT_APPLICABLE, /* not assessed, and why is said: an index, an artifact, scratch, a non-Linux
				* image, scanning disabled, an unsupported distribution */
	STATUS_FAILED,         /* the assessment could not be made: a broken layer, a limit, a worker that died */
};
#define ASSESSMENT_STATUSES 4

/* "Healthy", "Unhealthy", "NotApplicable" or "Failed" (static text). */
const char *assessment_status_name(enum assessment_status s);
/* The status named `name`: 0, or -1 when it names none. */
int assessment_status_parse(const char *name, enum assessment_status *out);
/* 1 when `name` (NULL allowed) is the name of s. */
int assessment_status_is(const char *name, enum assessment_status s);
/* How bad a status (or the API's "Queued", "Scanning") is, for the worst of an index's
 * platforms: lower is worse. Unhealthy, then Failed, then not assessed yet, then Healthy,
 * then NotApplicable, then any other text. */
int assessment_status_rank(const char *name);

#endif
