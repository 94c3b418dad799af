/* manifest.h: the one parser of manifests (OCI image manifest and index, Docker schema2
 * manifest and manifest list), from untrusted bytes. It validates and returns everything its
 * users need: the registry (media type, the descriptors a manifest references, subject,
 * artifact type, annotations), the scanner (is it an image, its config's media type, its
 * layers) and the image readers (layers, and the platforms of an index's manifests). It does
 * not look anything up: the caller checks that the references exist. Results are allocated
 * from the caller's arena. */
#ifndef DD_MANIFEST_H
#define DD_MANIFEST_H
#include <stddef.h>
#include <stdint.h>
#include "store/meta_repos.h"

#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"

struct arena;

/* A descriptor of the manifest: its config, a layer, or a manifest of an index. */
struct manifest_desc {
	const char *digest;     /* canonical */
	const char *media_type;
	int64_t size;
	const char *platform;   /* a manifest of an index: "OS/ARCH" or "OS/ARCH/VARIANT" when its
				 * descriptor has a platform with both, else NULL */
};

struct manifest_info {
	const char *media_type;
	int is_index;
	const char *artifact_type; /* "" when none */
	const char *subject;       /* digest, "" when none */
	const char *annotations;   /* compact JSON object text, "" when none */
	struct manifest_ref *refs; /* config and layers, or child manifests */
	size_t nrefs;
	struct manifest_desc config;     /* an image manifest's; zeroed in an index */
	struct manifest_desc *layers;    /* an image manifest's, in order */
	size_t nlayers;
	struct manifest_desc *manifests; /* an index's, in order */
	size_t nmanifests;
};

/* Parses (data, len). content_type is the request's Content-Type (may be NULL). Returns 0,
 * or DD_E_MANIFEST_INVALID / DD_E_DIGEST_INVALID with *why naming what is wrong (an arena
 * string). */
int manifest_parse(struct arena *a, const char *data, size_t len, const char *content_type,
		   struct manifest_info *out, const char **why);

/* 1 when mt is one of the four manifest media types drydock stores. */
int manifest_type_known(const char *mt);
/* 1 when t is an artifact type under which a VEX document is attached to an image (OpenVEX,
 * CycloneDX). */
int manifest_is_vex_type(const char *t);
/* The setting that names who pushed VEX referrer REPO@DIGEST with the owner role on REPO: the
 * registry writes it before the manifest, and without it the scanner applies nothing (a VEX
 * document changes what the pull gates let through, as a suppression rule does). */
#define VEX_PUSHER_PREFIX "vex-pusher/"

#endif
