/* input.h: what `drydock sbom` and `drydock scan` read: a root filesystem directory, an OCI
 * layout DIR[:TAG], a docker/oci archive FILE[:TAG], REPO:TAG / REPO@DIGEST in drydock's own
 * store (with data_dir), or HOST[:PORT]/REPO[:TAG|@DIGEST] pulled from a registry (credentials
 * in DRYDOCK_CREDS=user:password; DRYDOCK_PLAIN_HTTP, DRYDOCK_INSECURE). Shared by the commands so they accept exactly the same inputs. */
#ifndef DD_INPUT_H
#define DD_INPUT_H

struct arena;
struct inventory;
struct sbom_subject;

/* $XDG_CACHE_HOME/drydock/layers, else ~/.cache/drydock/layers (static storage). */
const char *input_default_cache(void);

/* 1 when path looks like HOST[:PORT]/REPO[:TAG] (a registry reference): a first component with
 * a '.' or ':' or "localhost". */
int input_is_remote(const char *path);

/* Reads the inventory of `path` into inv (initialised by the caller) and describes it in
 * subj (arena strings). index: -1 for the chosen platform, else the index-th linux platform
 * of an index (DD_E_NOT_FOUND past the last). 0 or an error with *why. */
int input_inventory(struct arena *a, const char *data_dir, const char *path, const char *platform, int index,
		    const char *cache, struct inventory *inv, struct sbom_subject *subj, const char **why);

#endif
