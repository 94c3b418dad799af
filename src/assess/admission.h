/* admission.h: a Kubernetes validating admission webhook (POST /api/v1/admission) that speaks
 * admission.k8s.io/v1 AdmissionReview. For a Pod, and the pod template of a Deployment,
 * StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job or CronJob, it resolves the
 * image of each container, init container and ephemeral container that is on this registry
 * (by tag or digest; an index's every platform) and allows or denies the object by each image
 * namespace's pull policy (rules.h), the denial naming the findings. Images from elsewhere
 * follow a configured default. docs/api.md, "Admission". */
#ifndef DD_ADMISSION_H
#define DD_ADMISSION_H
#include <stddef.h>

struct arena;
struct http_req;
struct assess_api;

struct admission_config {
	/* host[:port] names under which the cluster pulls from this registry, comma-separated;
	 * "" or NULL: the Host the review is sent to */
	const char *hosts;
	int deny_other; /* deny images from other registries (default: allow them, with a warning) */
};

/* An image reference as a container spec gives it: [HOST[:PORT]/]PATH[:TAG][@DIGEST]. */
struct image_ref {
	const char *host; /* NULL: none (Docker Hub) */
	const char *repo, *tag, *digest; /* tag "latest" when neither tag nor digest is given; digest NULL: none */
};
/* Parses untrusted text (at most 4096 bytes, no white space; a digest sha256 or sha512 in lower
 * hex): 0 with arena strings, or 1 when it is no image reference. */
int admission_ref_parse(struct arena *a, const char *text, struct image_ref *out);

/* The answer to a review (body, len): 200 with the AdmissionReview response, or 400 naming
 * what the review lacks. */
void admission_handle(struct http_req *r, struct assess_api *api, const char *body, size_t len);

#endif
