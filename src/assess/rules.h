/* rules.h: suppression rules and the per-namespace pull policy.
 * A rule matches findings by any of vulnerability id (or alias), package (binary or source),
 * severity (a list), repository (a glob, '*' spanning '/') and image digest (with a repository);
 * all fields it gives must match.
 * It may expire, and says why. Suppressed findings stay visible, marked with the rule, and no
 * longer count towards the image's status or counts. Rules apply when assessments are read,
 * so a new rule takes effect at once, without a re-scan. */
#ifndef DD_RULES_H
#define DD_RULES_H
#include <stddef.h>
#include <stdint.h>

struct arena;
struct meta;
struct vex_set;

struct rule {
	const char *id, *vulnerability, *package, *severity, *repository, *reason;
	const char *digest; /* one image (its manifest digest), of the repositories `repository` names */
	int64_t expires; /* unix seconds, 0 never */
	int64_t created;
	/* the VEX documents kept (scan/vex.h), all in one rule (rules_load's last): each statement
	 * applies by its own match (vulnerability or alias, image, package, version) in its
	 * document's repositories; NULL in an ordinary rule */
	const struct vex_set *vexset;
};

/* Parses a rule from untrusted JSON (a new rule: id and created are set by the caller).
 * 0, or DD_E_USAGE with *why naming the field. */
int rule_parse(struct arena *a, const char *json, size_t len, struct rule *out, const char **why);
/* Owned JSON text of r. */
char *rule_to_json(const struct rule *r);
/* The rules in force now (expired ones left out), then the statements of the VEX documents
 * kept (settings "vex/<id>": uploaded, or attached to an image as a referrer that is still
 * there), each as a rule: not_affected and fixed ones suppress findings, affected and
 * under_investigation ones mark them ("vex" on the finding). */
int rules_load(struct meta *m, struct arena *a, struct rule **out, size_t *n);

/* Applies rules to a stored report (a json_t *, changed in place): suppressed findings get
 * {"suppressed": {"rule", "reason"}}, counts cover the others (plus "suppressed": N).
 * Returns the status the image has under the rules (stored_status unless every finding is
 * suppressed: then "Healthy"). */
const char *rules_apply(const struct rule *rules, size_t n, const char *repo, void *report, const char *stored_status);

/* An assessment's stored counts ("C H M L N U F", meta.h) into by[severity] and *unfixed: 1,
 * or 0 when they are absent or malformed (read the report instead). */
int counts_parse(const char *counts, long long by[6], long long *unfixed);

/* 1 when some rule could suppress findings of repo (no repository pattern, or one that matches):
 * otherwise an assessment's stored counts and status stand as they are. */
int rules_cover(const struct rule *rules, size_t n, const char *repo);

/* The pull policy of a namespace (a setting, "policy/NS"): the lowest severity that blocks pulls
 * of an image (-1: none), whether a known-exploited finding blocks them whatever its severity,
 * the statuses that block them, and how UNKNOWN findings count. Nothing set: allow every pull. */
struct pull_policy {
	int threshold;
	int known_exploited;
	int unassessed, failed, not_applicable; /* refuse images not assessed yet, Failed, NotApplicable (an
						 * index excepted: its platforms are gated one by one) */
	int unknown_as; /* the severity an UNKNOWN finding counts as against threshold; -1: UNKNOWN's own */
};
void policy_get(struct meta *m, struct arena *a, const char *ns, struct pull_policy *p);
/* The policy as the API shows it (a json_t *, owned; ns NULL: as stored, without it). */
void *policy_json(const char *ns, const struct pull_policy *p);
/* A policy from the API's JSON: 0, or DD_E_USAGE with *why. */
int policy_parse(const char *body, size_t len, struct pull_policy *p, const char **why);

/* The pull gate: 0 when repo@digest may be pulled under its namespace's policy, else
 * DD_E_DENIED with *why naming the findings that block it (arena text). scanner: the
 * scanner whose database says which findings are known exploited (struct scanner *, or NULL). */
int policy_check_pull(void *scanner, struct meta *m, struct arena *a, const char *repo, const char *digest,
		      const char **why);

#endif
