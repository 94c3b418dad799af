/* vex.h: VEX documents (OpenVEX 0.2, and CycloneDX 1.4-1.6 used as VEX) read into statements,
 * and whether a statement applies to a finding. Untrusted input: a document is at most
 * DD_MAX_VEX_BYTES, and yields at most DD_MAX_VEX_STATEMENTS statements.
 *
 * A statement says of one vulnerability (its id, or any alias of it) and one product what is
 * known: not_affected (with a justification), fixed, affected, or under_investigation. A
 * product is an image (its manifest digest: a "pkg:oci/NAME@sha256%3A..." purl or a bare
 * digest), optionally narrowed to one package of it (an OpenVEX subcomponent), or a package
 * (a purl: its name, and its version when given) in whatever image holds it. CycloneDX states
 * are mapped: not_affected and false_positive to not_affected, resolved and
 * resolved_with_pedigree to fixed, exploitable to affected, in_triage to under_investigation. */
#ifndef DD_VEX_H
#define DD_VEX_H
#include <stddef.h>

struct arena;
struct finding;

struct vex_statement {
	const char *vulnerability;
	const char **aliases;
	size_t naliases;
	const char *digest;           /* the image's manifest digest, or NULL: any image */
	const char *package, *version; /* a package name (binary or source) and version, or NULL */
	const char *type;             /* the package purl's type ("deb", "apk", "rpm", "npm", ...), or NULL */
	const char *status;           /* not_affected, fixed, affected, under_investigation */
	const char *justification;    /* or NULL */
	const char *detail;           /* the impact statement or analysis detail, or NULL */
};

/* Reads a document: 0 with *format ("openvex" or "cyclonedx") and arena statements, or
 * DD_E_USAGE with *why (arena text) naming what is wrong. */
int vex_parse(struct arena *a, const char *text, size_t len, const char **format, struct vex_statement **out,
	      size_t *n, const char **why);

/* 1 when status suppresses the findings it names (not_affected, fixed). */
int vex_suppresses(const char *status);

/* Whether s applies to a finding of ecosystem eco ("Debian:12"; NULL: unknown) in image `digest`
 * (NULL: unknown) with id and aliases, of package (binary) or source (the name the feed keys it
 * by), installed at version. A package purl's type must be the ecosystem's (deb: Debian,
 * Ubuntu; apk: Alpine; rpm: Red Hat, Rocky, AlmaLinux; golang, npm, pypi, cargo, maven, ...). */
int vex_applies(const struct vex_statement *s, const char *eco, const char *digest, const char *id,
		const char *const *aliases, size_t naliases, const char *package, const char *source,
		const char *version);

/* The setting that changes whenever a VEX document is kept or dropped (settings "vex/..."):
 * readers keep what they read of them until it does. */
#define VEX_GENERATION_KEY "vex-generation"
struct meta;
int vex_touch(struct meta *m);


#endif
