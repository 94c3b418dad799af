/* regauth.h: the logins that podman, skopeo, buildah and docker saved, found as they find them,
 * so that `drydock scan HOST/REPO` pulls with the same credentials without being told. Reads
 * files and runs credential helpers; holds nothing. */
#ifndef DD_REGAUTH_H
#define DD_REGAUTH_H
#include "common/arena.h"

/* Credentials for repository repo on registry host ("host[:port]"), as "user:password" owned by
 * the arena, or NULL when nothing is saved. Looked for, first found wins, in: $REGISTRY_AUTH_FILE,
 * $XDG_RUNTIME_DIR/containers/auth.json (/run/containers/UID/auth.json without it),
 * $XDG_CONFIG_HOME/containers/auth.json (~/.config/...), $DOCKER_CONFIG/config.json
 * (~/.docker/config.json); in each, a credential helper named for the host (credHelpers), then the
 * most specific "auths" entry (host/namespace/repo before host), then the file's credsStore
 * helper. *source names where they came from (static or arena text) for messages. */
const char *regauth_lookup(struct arena *a, const char *host, const char *repo, const char **source);

#endif
