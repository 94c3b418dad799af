"""Every role against every endpoint of a live server, in one table; then the same OCI calls
with bearer tokens, and the existence-leak checks (a caller who may not see a repository gets
the same answer for it as for one that does not exist)."""
import json
import os
import subprocess
import time

import pytest

from authlib import ADMIN, add_user, basic, bearer, token
from drydock import BIN, VULNDATA, Server, make_image, sha256

ROLES = ["reader", "writer", "owner", "admin", "secreader", "outsider", "anonymous"]
R, W, O, A, S, X, N = ROLES

# endpoint -> (method, path, body, roles allowed). Everyone else is refused: 401 when
# anonymous, 403 otherwise (HTTP Basic; bearer tokens below get 401 insufficient_scope).
AUTHED = {R, W, O, A, S, X}
MATRIX = {
    "base":             ("GET", "/v2/", None, AUTHED),
    "catalog":          ("GET", "/v2/_catalog", None, AUTHED),
    "manifest-get":     ("GET", "/v2/team/app/manifests/1", None, {R, W, O, A}),
    "manifest-head":    ("HEAD", "/v2/team/app/manifests/1", None, {R, W, O, A}),
    "blob-get":         ("GET", "/v2/team/app/blobs/{config}", None, {R, W, O, A}),
    "tags":             ("GET", "/v2/team/app/tags/list", None, {R, W, O, A}),
    "referrers":        ("GET", "/v2/team/app/referrers/{digest}", None, {R, W, O, A}),
    "blob-upload":      ("POST", "/v2/team/app/blobs/uploads/?digest={blob}", "blob", {W, O, A}),
    "manifest-put":     ("PUT", "/v2/team/app/manifests/push-{role}", "manifest", {W, O, A}),
    "tag-delete":       ("DELETE", "/v2/team/app/manifests/del-{role}", None, {O, A}),
    "image":            ("GET", "/api/v1/images?repository=team/app&reference=1", None, {R, W, O, A, S}),
    "repository":       ("GET", "/api/v1/repositories?repository=team/app", None, {R, W, O, A, S}),
    "summary":          ("GET", "/api/v1/summary", None, AUTHED),
    "usage":            ("GET", "/api/v1/usage", None, AUTHED),
    "scanning-get":     ("GET", "/api/v1/namespaces/team/scanning", None, {R, W, O, A, S}),
    "scanning-put":     ("PUT", "/api/v1/namespaces/team/scanning?enabled=true", None, {O, A}),
    "policy-get":       ("GET", "/api/v1/namespaces/team/policy", None, {R, W, O, A, S}),
    "policy-put":       ("PUT", "/api/v1/namespaces/team/policy", "{}", {O, A}),
    "rule-create":      ("POST", "/api/v1/suppressions", "rule", {O, A}),
    "rule-create-all":  ("POST", "/api/v1/suppressions", "rule-all", {A}),
    "rules":            ("GET", "/api/v1/suppressions", None, AUTHED),
    "azure":            ("GET", "/providers/Microsoft.Security/assessments?api-version=2021-06-01", None, AUTHED),
    "azure-sub":        ("GET", "/providers/Microsoft.Security/assessments/dbd0cb49-b563-45e7-9724-889e799fa648"
                                "/subAssessments?api-version=2019-01-01-preview", None, AUTHED),
    "azure-subs-all":   ("GET", "/subscriptions/team/providers/Microsoft.Security/subAssessments"
                                "?api-version=2019-01-01-preview", None, AUTHED),
    "metrics":          ("GET", "/metrics", None, {A}),
    "audit":            ("GET", "/api/v1/audit", None, {A}),
    "accounts":         ("GET", "/api/v1/accounts", None, {A}),
    "trend":            ("GET", "/api/v1/trend", None, AUTHED),
    "upgrades":         ("GET", "/api/v1/upgrades", None, AUTHED),
    "database":         ("GET", "/api/v1/database", None, AUTHED),
    "token":            ("GET", "/auth/token?service=drydock", None, AUTHED),
    "healthz":          ("GET", "/healthz", None, set(ROLES)),
}
OCI = [k for k, v in MATRIX.items() if v[1].startswith("/v2/")]


@pytest.fixture(scope="module")
def world():
    # a small real database, so that every pushed image gets an assessment
    srv = Server(auth=True)
    db = os.path.join(srv.data_dir, "vulndb.ddb")
    subprocess.run([BIN, "db", "import", "--db", db, os.path.join(VULNDATA, "alpine-secdb", "edge")],
                   check=True, capture_output=True, timeout=120)
    srv.start()
    creds = {A: ADMIN, N: None}
    creds[R] = add_user(srv, "reader", "reader:team/*")
    creds[W] = add_user(srv, "writer", "writer:team/*")
    creds[O] = add_user(srv, "owner", "owner:team/*")
    creds[S] = add_user(srv, "secreader", "security-reader:team/*")
    creds[X] = add_user(srv, "outsider", "writer:other/*")
    admin = basic(ADMIN)
    manifest = make_image(admin, srv.url, "team/app")
    tags = ["1"] + [f"del-{r}" for r in ROLES] + [f"del-bearer-{r}" for r in ROLES]
    for t in tags:
        assert admin.put(f"{srv.url}/v2/team/app/manifests/{t}", data=manifest,
                         headers={"Content-Type": json.loads(manifest)["mediaType"]}).status_code == 201
    other = make_image(admin, srv.url, "other/x", seed=b"o")
    assert admin.put(f"{srv.url}/v2/other/x/manifests/1", data=other,
                     headers={"Content-Type": json.loads(other)["mediaType"]}).status_code == 201
    yield {"srv": srv, "creds": creds, "manifest": manifest, "digest": sha256(manifest),
           "config": json.loads(manifest)["config"]["digest"]}
    srv.stop()


def call(w, s, key, role):
    method, path, body, _ = MATRIX[key]
    blob = b"blob-" + role.encode()
    path = path.format(config=w["config"], digest=w["digest"], blob=sha256(blob), role=role)
    data, headers = None, {}
    if body == "blob":
        data = blob
    elif body == "manifest":
        data, headers = w["manifest"], {"Content-Type": json.loads(w["manifest"])["mediaType"]}
    elif body == "rule":
        data = json.dumps({"vulnerability": "CVE-2000-0001", "repository": "team/*", "reason": "matrix"})
    elif body == "rule-all":
        data = json.dumps({"vulnerability": "CVE-2000-0001", "reason": "matrix"})
    elif body:
        data = body
    return s.request(method, w["srv"].url + path, data=data, headers=headers)


@pytest.mark.parametrize("role", ROLES)
def test_role_matrix_basic(world, role):
    s = basic(world["creds"][role])
    wrong = []
    for key, (method, path, body, allowed) in MATRIX.items():
        r = call(world, s, key, role)
        if role in allowed:
            ok = r.status_code < 400
        else:
            ok = r.status_code == (401 if role == N else 403)
            if ok and method != "HEAD" and "/Microsoft.Security/" in path:  # Azure's error shape there
                code = r.json()["error"]["code"]
                ok = code == ("AuthenticationFailed" if role == N else "AuthorizationFailed")
            elif ok and method != "HEAD":
                code = r.json()["errors"][0]["code"]
                ok = code == ("UNAUTHORIZED" if role == N else "DENIED")
            if role == N:  # the challenge that starts the token flow (the token endpoint asks for Basic)
                want = "Basic realm=" if key == "token" else "Bearer realm="
                ok = ok and want in r.headers.get("WWW-Authenticate", "")
        if not ok:
            wrong.append(f"{key}: {r.status_code} {r.text[:200]}")
    assert not wrong, f"{role}: " + "; ".join(wrong)


@pytest.mark.parametrize("role", [r for r in ROLES if r != N])
def test_role_matrix_bearer(world, role):
    """The OCI endpoints with a token asked for every action on team/app and the catalog: the
    token carries only what the role allows, and a missing scope is 401 insufficient_scope."""
    t = token(world["srv"], world["creds"][role], "repository:team/app:pull,push,delete", "registry:catalog:*")
    s = bearer(t["token"])
    wrong = []
    for key in OCI:
        method, path, body, allowed = MATRIX[key]
        r = call(world, s, key, "bearer-" + role)
        if role in allowed:
            ok = r.status_code < 400
        else:
            ok = r.status_code == 401 and 'error="insufficient_scope"' in r.headers.get("WWW-Authenticate", "")
        if not ok:
            wrong.append(f"{key}: {r.status_code} {r.headers.get('WWW-Authenticate')} {r.text[:200]}")
    assert not wrong, f"{role}: " + "; ".join(wrong)


@pytest.mark.parametrize("role", [R, S, N])
def test_no_existence_leak(world, role):
    """other/x exists, other/nothing does not: a caller who may not see other/ cannot tell."""
    s = basic(world["creds"][role])
    url = world["srv"].url
    d = world["digest"]
    for path in ["/v2/{}/manifests/1", "/v2/{}/tags/list", f"/v2/{{}}/blobs/{d}", f"/v2/{{}}/referrers/{d}",
                 "/api/v1/images?repository={}&reference=1", "/api/v1/repositories?repository={}"]:
        a = s.get(url + path.format("other/x"))
        b = s.get(url + path.format("other/nothing"))
        assert (a.status_code, a.text) == (b.status_code, b.text), path
        assert a.status_code in (401, 403), path
        h = s.head(url + path.format("other/x"))
        assert h.status_code == s.head(url + path.format("other/nothing")).status_code


def test_catalog_and_summaries_show_only_what_the_caller_may_see(world):
    url = world["srv"].url
    cat = {r: basic(world["creds"][r]).get(f"{url}/v2/_catalog").json()["repositories"] for r in [R, S, X, A]}
    assert cat[R] == cat[S] == ["team/app"]
    assert cat[X] == ["other/x"]
    assert cat[A] == ["other/x", "team/app"]
    # paging a filtered catalog: one per page, a Link only while more follow
    r = basic(ADMIN).get(f"{url}/v2/_catalog?n=1")
    assert r.json()["repositories"] == ["other/x"] and "Link" in r.headers
    r = basic(world["creds"][R]).get(f"{url}/v2/_catalog?n=1")
    assert r.json()["repositories"] == ["team/app"] and "Link" not in r.headers
    # the security summary counts only visible repositories, once the images are assessed
    deadline = time.time() + 30
    while time.time() < deadline:
        total = sum(basic(ADMIN).get(f"{url}/api/v1/summary").json()["images_by_status"].values())
        if total == 2:
            break
        time.sleep(0.1)
    assert total == 2
    for role, want in [(R, 1), (X, 1), (S, 1)]:
        got = basic(world["creds"][role]).get(f"{url}/api/v1/summary").json()["images_by_status"]
        assert sum(got.values()) == want, (role, got)


def test_audit_log_names_who_did_what(world):
    url = world["srv"].url
    entries = basic(ADMIN).get(f"{url}/api/v1/audit?n=1000").json()["entries"]
    seen = {(e["actor"], e["action"]) for e in entries}
    assert ("admin", "push") in seen
    assert ("owner", "tag-delete") in seen
    assert ("cli:" + __import__("pwd").getpwuid(__import__("os").geteuid()).pw_name, "user-add") in seen
    pushes = [e for e in entries if e["action"] == "push" and e["actor"] == "admin"]
    assert pushes[0]["target"].startswith("team/app@sha256:") and "time" in pushes[0]
    # paging
    first = basic(ADMIN).get(f"{url}/api/v1/audit?n=2").json()
    assert len(first["entries"]) == 2 and "next" in first
    nxt = basic(ADMIN).get(url + first["next"]).json()["entries"]
    assert nxt[0]["id"] == first["entries"][1]["id"] + 1


def test_accounts_listed_for_admins_without_hashes(world):
    """GET /api/v1/accounts: each account with its kind and roles, as `drydock user list --json`
    gives them, never a password hash."""
    srv = world["srv"]
    r = basic(ADMIN).get(f"{srv.url}/api/v1/accounts")
    assert r.status_code == 200
    got = {a["name"]: a for a in r.json()["accounts"]}
    assert got["secreader"]["roles"] == [{"role": "security-reader", "scope": "team/*"}]
    assert got["owner"]["kind"] == "user" and got["owner"]["expires"] is None and not got["owner"]["expired"]
    cli = json.loads(subprocess.run([BIN, "user", "--data", srv.data_dir, "list", "--json"], check=True,
                                    capture_output=True, text=True).stdout)
    assert {a["name"]: a for a in cli} == {n: {k: v for k, v in a.items() if k != "expired"} for n, a in got.items()}
    assert "hash" not in r.text and not any(p in r.text for p in ("$y$", "$2b$", "$2y$", "$6$", "$7$", "$gy$"))


def test_owner_of_one_repository_has_no_namespace_powers(world):
    """Regression: a grant on the exact repository `team` (or `team/x`) passed the namespace
    check for `team` (or `team/x`): its owner could switch scanning off for team/*, set the
    pull policy and hide findings of repositories it cannot even pull."""
    srv = world["srv"]
    narrow = basic(add_user(srv, "narrow-owner", "owner:team", "owner:team/x"))
    api = f"{srv.url}/api/v1"
    assert narrow.put(f"{api}/namespaces/team/scanning?enabled=false").status_code == 403
    assert narrow.put(f"{api}/namespaces/team/policy", data="{}").status_code == 403
    assert narrow.put(f"{api}/namespaces/team/x/scanning?enabled=false").status_code in (403, 404)
    for pattern in ("team/*", "team/x/*"):
        r = narrow.post(f"{api}/suppressions", data=json.dumps(
            {"vulnerability": "CVE-2000-0002", "repository": pattern, "reason": "narrow"}))
        assert r.status_code == 403, (pattern, r.text)
    # what the grants do cover: rules on exactly those repositories
    for repo in ("team", "team/x"):
        r = narrow.post(f"{api}/suppressions", data=json.dumps(
            {"vulnerability": "CVE-2000-0002", "repository": repo, "reason": "narrow"}))
        assert r.status_code == 201, (repo, r.text)
    # and scanning for team/* is still on
    assert basic(ADMIN).get(f"{api}/namespaces/team/scanning").json()["scanning"] is True
