"""Tokens and logins over the live server: refresh tokens, expiry, tampering, tokens for
another repository, robot accounts, rate limiting, the first-start administrator, anonymous
pull, htpasswd import, and that no credential ever reaches the log."""
import base64
import http.client
import json
import os
import re
import subprocess
import time

import pytest
import requests

from authlib import ADMIN, add_user, basic, bearer, token, user
from drydock import BIN, Server, make_image


def b64(d):
    return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()


def unb64(s):
    return json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))


def push(s, url, repo, tag="1", seed=b"x"):
    m = make_image(s, url, repo, seed=seed)
    r = s.put(f"{url}/v2/{repo}/manifests/{tag}", data=m, headers={"Content-Type": json.loads(m)["mediaType"]})
    assert r.status_code == 201, r.text
    return m


@pytest.fixture
def srv():
    s = Server(auth=True, extra_args=["--scan-workers", "0"]).start()
    yield s
    s.stop()


def test_token_claims_are_what_the_roles_allow(srv):
    alice = add_user(srv, "alice", "reader:team/*", "writer:team/app")
    t = token(srv, alice, "repository:team/app:pull,push,delete", "repository:team/lib:pull,push",
              "repository:other/x:pull")
    assert t["expires_in"] == 300 and t["access_token"] == t["token"] and "refresh_token" not in t
    header, claims, _ = t["token"].split(".")
    assert unb64(header)["alg"] == "ES256"
    c = unb64(claims)
    assert c["sub"] == "alice" and c["aud"] == "drydock" and c["iss"] == "drydock"
    assert sorted((a["name"], tuple(a["actions"])) for a in c["access"]) == [
        ("team/app", ("pull", "push")), ("team/lib", ("pull",))]


def test_wrong_password_says_so_in_the_message(srv):
    """docker shows only the OCI error's message: a wrong password says so there, not only in
    the detail (it said "authentication required")."""
    r = basic(("admin", "not-the-password")).get(f"{srv.url}/v2/")
    assert r.status_code == 401
    e = r.json()["errors"][0]
    assert e["code"] == "UNAUTHORIZED" and "wrong" in e["message"] and e["detail"] == e["message"]
    anon = requests.get(f"{srv.url}/v2/").json()["errors"][0]
    assert anon["message"] == "authentication required"  # no credentials: the generic message


def test_overlong_service_is_refused(srv):
    """Regression: a service of 256+ characters was ignored (a token was issued), not refused."""
    long = "x" * 300
    r = requests.get(f"{srv.url}/auth/token", params={"service": long, "scope": "repository:a/b:pull"}, auth=ADMIN)
    assert r.status_code == 400 and "service longer than 255" in r.text
    r = requests.post(f"{srv.url}/auth/token", data={"grant_type": "password", "username": ADMIN[0],
                                                     "password": ADMIN[1], "service": long})
    assert r.status_code == 400 and "service longer than 255" in r.text
    assert requests.get(f"{srv.url}/auth/token", params={"service": "drydock"}, auth=ADMIN).status_code == 200


def test_refused_mount_challenge_names_the_source(srv):
    """Regression: the challenge to a refused cross-repository mount named only the target's
    scope, so a client that followed it never got the source's pull scope and every mount
    became a full upload."""
    m = push(basic(ADMIN), srv.url, "other/base")
    layer = json.loads(m)["layers"][0]["digest"]
    url = f"{srv.url}/v2/team/app/blobs/uploads/?mount={layer}&from=other/base"
    r = requests.post(url)
    assert r.status_code == 401
    scope = re.search(r'scope="([^"]*)"', r.headers["WWW-Authenticate"]).group(1)
    assert scope.split(" ") == ["repository:team/app:pull,push", "repository:other/base:pull"]
    # a client that asks for exactly those scopes gets a token that mounts
    carol = add_user(srv, "carol", "writer:team/*", "reader:other/*")
    t = token(srv, carol, *scope.split(" "))["token"]
    r = bearer(t).post(url)
    assert r.status_code == 201 and r.headers["Docker-Content-Digest"] == layer
    # with a token for the target only, the mount falls back to an upload session (202)
    t = token(srv, carol, "repository:team/app:pull,push")["token"]
    assert bearer(t).post(url).status_code == 202


def _at_terminal(args, answers):
    """Runs a command with a pseudo-terminal as its stdin and stderr, answering each prompt."""
    import pty
    import select
    master, slave = pty.openpty()
    p = subprocess.Popen(args, stdin=slave, stdout=subprocess.PIPE, stderr=slave, close_fds=True)
    os.close(slave)
    seen, pending = b"", list(answers)
    deadline = time.time() + 60
    while p.poll() is None and time.time() < deadline:
        r, _, _ = select.select([master], [], [], 0.2)
        if r:
            try:
                seen += os.read(master, 4096)
            except OSError:
                break
        if pending and seen.rstrip().endswith(b":"):
            os.write(master, pending.pop(0).encode() + b"\n")
            seen += b"<answered>"
    out = p.communicate(timeout=30)[0]
    # what it wrote just before it exited: still in the terminal, unread when the loop saw it end
    while select.select([master], [], [], 0.2)[0]:
        try:
            more = os.read(master, 4096)
        except OSError:
            break
        if not more:
            break
        seen += more
    os.close(master)
    return p.returncode, seen, out


def test_passwd_asks_at_the_terminal(srv):
    """`drydock user passwd` (which the first-start banner recommends) asks twice at a terminal,
    without echo; it used to replace the password with a generated one without asking."""
    add_user(srv, "tina", "reader:team/*", password="old-password-1")
    cmd = [BIN, "user", "--data", srv.data_dir, "passwd", "tina"]
    rc, seen, out = _at_terminal(cmd, ["first-try", "second-try"])
    assert rc != 0 and b"differ" in seen and b"first-try" not in seen  # no echo
    assert basic(("tina", "old-password-1")).get(f"{srv.url}/v2/").status_code == 200
    rc, seen, out = _at_terminal(cmd, ["typed-password-2", "typed-password-2"])
    assert rc == 0 and b"typed-password-2" not in seen and b"typed-password-2" not in out
    assert basic(("tina", "typed-password-2")).get(f"{srv.url}/v2/").status_code == 200
    # piped: read from stdin; --generate: a new one printed once
    p = subprocess.run(cmd, input="piped-password-3\n", capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "piped-password-3" not in p.stdout
    assert basic(("tina", "piped-password-3")).get(f"{srv.url}/v2/").status_code == 200
    p = subprocess.run(cmd + ["--generate"], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    new = re.search(r"password for tina: (\S+)", p.stdout).group(1)
    assert basic(("tina", new)).get(f"{srv.url}/v2/").status_code == 200


def test_bad_tokens_are_refused(srv):
    push(basic(ADMIN), srv.url, "team/app")
    push(basic(ADMIN), srv.url, "team/other")
    good = token(srv, ADMIN, "repository:team/app:pull")["token"]
    url = f"{srv.url}/v2/team/app/manifests/1"
    assert bearer(good).get(url).status_code == 200

    def refused(tok, error):
        r = bearer(tok).get(url)
        assert r.status_code == 401, r.text
        assert r.json()["errors"][0]["code"] == "UNAUTHORIZED"
        assert f'error="{error}"' in r.headers["WWW-Authenticate"]
        assert 'scope="repository:team/app:pull"' in r.headers["WWW-Authenticate"]

    h, c, sig = good.split(".")
    # a token for another repository
    other = token(srv, ADMIN, "repository:team/other:pull")["token"]
    refused(other, "insufficient_scope")
    # a changed signature, changed claims, and "alg": "none"
    flipped = sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]
    refused(f"{h}.{c}.{flipped}", "invalid_token")
    claims = unb64(c)
    claims["access"][0]["actions"] = ["pull", "push"]
    refused(f"{h}.{b64(claims)}.{sig}", "invalid_token")
    refused(f"{b64({'alg': 'none', 'typ': 'JWT'})}.{c}.", "invalid_token")
    refused(f"{b64({'alg': 'HS256', 'typ': 'JWT'})}.{c}.{sig}", "invalid_token")
    refused("not-a-token", "invalid_token")
    # a refresh token is not an access token
    rt = token(srv, ADMIN, offline=True)["refresh_token"]
    refused(rt, "invalid_token")


def test_expired_token(tmp_path):
    # 3 s: a token lives its ttl in whole seconds, so a ttl of 1 s left a loaded machine less than
    # a request's time to use it
    s = Server(auth=True, extra_args=["--token-ttl", "3", "--scan-workers", "0"]).start()
    try:
        push(basic(ADMIN), s.url, "team/app")
        t = token(s, ADMIN, "repository:team/app:pull")["token"]
        assert bearer(t).get(f"{s.url}/v2/team/app/manifests/1").status_code == 200
        time.sleep(4.1)
        r = bearer(t).get(f"{s.url}/v2/team/app/manifests/1")
        assert r.status_code == 401 and "expired" in r.text
    finally:
        s.stop()


def test_refresh_token_and_password_change(srv):
    bob = add_user(srv, "bob", "writer:team/*")
    rt = token(srv, bob, offline=True)["refresh_token"]
    form = {"grant_type": "refresh_token", "refresh_token": rt, "service": "drydock",
            "scope": "repository:team/app:pull,push", "client_id": "test"}
    r = requests.post(f"{srv.url}/auth/token", data=form)
    assert r.status_code == 200, r.text
    assert unb64(r.json()["access_token"].split(".")[1])["access"][0]["actions"] == ["pull", "push"]
    # the OAuth2 password grant, as docker uses it
    r = requests.post(f"{srv.url}/auth/token", data={"grant_type": "password", "username": bob[0],
                                                      "password": bob[1], "service": "drydock",
                                                      "access_type": "offline"})
    assert r.status_code == 200 and "refresh_token" in r.json()
    # a new password retires every refresh token of the old one
    user(srv, "passwd", "bob", "--password-stdin", password="a-new-password")
    r = requests.post(f"{srv.url}/auth/token", data=form)
    assert r.status_code == 401 and "no longer valid" in r.text
    assert basic(bob).get(f"{srv.url}/v2/").status_code == 401
    assert basic(("bob", "a-new-password")).get(f"{srv.url}/v2/").status_code == 200
    # bad requests to the token endpoint say what was wrong
    r = requests.post(f"{srv.url}/auth/token", data={"grant_type": "client_credentials"})
    assert r.status_code == 400 and "grant_type" in r.text
    r = requests.get(f"{srv.url}/auth/token", params={"service": "elsewhere"}, auth=ADMIN)
    assert r.status_code == 400 and "unknown service" in r.text
    r = requests.get(f"{srv.url}/auth/token", params={"scope": "repository:UPPER:pull"}, auth=ADMIN)
    assert r.status_code == 400 and "invalid repository" in r.text
    r = requests.post(f"{srv.url}/auth/token", data="x" * 20000)
    assert r.status_code == 413


def test_wrong_passwords_are_rate_limited(srv):
    carol = add_user(srv, "carol", "reader:team/*")
    for _ in range(5):
        r = basic(("carol", "wrong")).get(f"{srv.url}/v2/")
        assert r.status_code == 401 and r.json()["errors"][0]["code"] == "UNAUTHORIZED"
    # locked now, even with the right password, and the answer says for how long
    r = basic(carol).get(f"{srv.url}/v2/")
    assert r.status_code == 429 and r.json()["errors"][0]["code"] == "TOOMANYREQUESTS"
    assert 0 < int(r.headers["Retry-After"]) <= 30
    r = requests.get(f"{srv.url}/auth/token", auth=carol)
    assert r.status_code == 429
    # other accounts from the same address are not locked by five failures
    assert basic(ADMIN).get(f"{srv.url}/v2/").status_code == 200
    # an unknown account fails the same way as a wrong password
    r = basic(("nobody", "x")).get(f"{srv.url}/v2/")
    assert r.status_code == 401


def _login(port, creds, source, forwarded=None):
    """GET /v2/ with Basic credentials from a loopback source address, with an X-Forwarded-For."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    headers = {"Authorization": "Basic " + base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()}
    if forwarded:
        headers["X-Forwarded-For"] = forwarded
    c.request("GET", "/v2/", headers=headers)
    status = c.getresponse().status
    c.close()
    return status


def test_clients_behind_a_trusted_proxy_are_throttled_apart(tmp_path):
    # 127.0.0.5 is the load balancer; 127.0.0.6 a client that reaches the node directly
    s = Server(data_dir=str(tmp_path), auth=True,
               extra_args=["--scan-workers", "0", "--trusted-proxies", "127.0.0.5, 10.0.0.0/8"]).start()
    try:
        # twenty failures, each for another name, lock the address they come from...
        for i in range(20):
            assert _login(s.port, (f"guess{i}", "x"), "127.0.0.5", "198.51.100.1, 10.1.1.1") == 401
        assert _login(s.port, ADMIN, "127.0.0.5", "198.51.100.1") == 429
        # ...which is the client the balancer names, not the balancer: others log in through it
        assert _login(s.port, ADMIN, "127.0.0.5", "198.51.100.2") == 200
        assert _login(s.port, ADMIN, "127.0.0.5") == 200
        # the entry a client writes itself (the leftmost) is not believed
        assert _login(s.port, ADMIN, "127.0.0.5", "198.51.100.2, 198.51.100.1") == 429
        # nor is the header of a peer that is not a trusted proxy
        for i in range(20):
            assert _login(s.port, (f"guess{i}", "x"), "127.0.0.6", "198.51.100.3") == 401
        assert _login(s.port, ADMIN, "127.0.0.6", "198.51.100.4") == 429
        assert _login(s.port, ADMIN, "127.0.0.5", "198.51.100.3") == 200
    finally:
        s.stop()
    log = open(s.log_path).read()
    assert "failed login for 'guess0' from 198.51.100.1" in log
    assert "failed login for 'guess0' from 127.0.0.6" in log


def test_trusted_proxies_that_are_not_addresses_are_refused(tmp_path):
    r = subprocess.run([BIN, "serve", "--data", str(tmp_path), "--trusted-proxies", "127.0.0.1, nginx"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "trusted-proxies: 'nginx' is not an IP address" in r.stderr + r.stdout


def test_robot_accounts_are_scoped_and_expire(srv):
    out = user(srv, "add", "--robot", "ci", "--role", "writer:team/*", "--expires", "10s").stdout
    made = time.time()
    secret = re.search(r"secret for robot\$ci: (\S+)", out).group(1)
    robot = ("robot$ci", secret)
    s = basic(robot)
    push(s, srv.url, "team/app")
    assert s.get(f"{srv.url}/v2/team/app/manifests/1").status_code == 200
    assert s.get(f"{srv.url}/v2/other/app/manifests/1").status_code == 403
    # robots cannot be admins nor registry-wide
    p = subprocess.run([BIN, "user", "--data", srv.data_dir, "add", "--robot", "x", "--role", "admin"],
                       capture_output=True, text=True)
    assert p.returncode != 0 and "scoped to repositories" in p.stderr
    time.sleep(max(0.0, made + 10.2 - time.time()))  # 10 s from its making, in whole seconds
    assert s.get(f"{srv.url}/v2/team/app/manifests/1").status_code == 401
    assert requests.get(f"{srv.url}/auth/token", auth=robot).status_code == 401


def test_first_start_generates_and_prints_the_admin_password_once(tmp_path):
    s = Server(auth=True, extra_args=["--scan-workers", "0"])
    s.env.pop("DRYDOCK_ADMIN_PASSWORD")
    s.start()
    try:
        log = open(s.log_path).read()
        m = re.search(r"created the administrator account 'admin' with password (\S+)", log)
        assert m, log
        pw = m.group(1)
        assert len(pw) >= 20
        assert basic(("admin", pw)).get(f"{s.url}/v2/").status_code == 200
        assert basic(("admin", "admin")).get(f"{s.url}/v2/").status_code == 401
        s.restart()
        assert open(s.log_path).read().count("created the administrator account") == 1
    finally:
        s.stop()


def test_anonymous_pull_where_configured():
    s = Server(auth=True, extra_args=["--scan-workers", "0", "--anonymous-pull", "public/*"]).start()
    try:
        push(basic(ADMIN), s.url, "public/app")
        push(basic(ADMIN), s.url, "private/app")
        anon = requests.Session()
        assert anon.get(f"{s.url}/v2/public/app/manifests/1").status_code == 200
        assert anon.get(f"{s.url}/v2/private/app/manifests/1").status_code == 401
        # an anonymous token carries pull on public/ only
        t = requests.get(f"{s.url}/auth/token",
                         params=[("scope", "repository:public/app:pull,push"),
                                 ("scope", "repository:private/app:pull")]).json()["token"]
        assert unb64(t.split(".")[1])["access"] == [{"type": "repository", "name": "public/app",
                                                     "actions": ["pull"]}]
        assert bearer(t).get(f"{s.url}/v2/public/app/manifests/1").status_code == 200
        r = anon.post(f"{s.url}/v2/public/app/blobs/uploads/")
        assert r.status_code == 401 and 'scope="repository:public/app:pull,push"' in r.headers["WWW-Authenticate"]
    finally:
        s.stop()


def test_htpasswd_bcrypt_entries_are_imported_as_they_are(srv, tmp_path):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt  # Debian's python3 (3.11) still has it; it is libcrypt's bcrypt
    h = crypt.crypt("from-htpasswd", crypt.mksalt(crypt.METHOD_BLOWFISH)).replace("$2b$", "$2y$", 1)
    f = tmp_path / "htpasswd"
    f.write_text(f"# made by htpasswd -B\ndave:{h}\n\n")
    user(srv, "import", str(f), "--role", "reader:team/*")
    meta = subprocess.run(["sqlite3", os.path.join(srv.data_dir, "meta.db"),
                           "SELECT value FROM settings WHERE key='account/dave'"], capture_output=True, text=True)
    assert json.loads(meta.stdout)["hash"] == h
    assert basic(("dave", "from-htpasswd")).get(f"{srv.url}/v2/").status_code == 200
    assert basic(("dave", "wrong")).get(f"{srv.url}/v2/").status_code == 401
    f.write_text("eve:$apr1$abc$def\n")
    p = subprocess.run([BIN, "user", "--data", srv.data_dir, "import", str(f)], capture_output=True, text=True)
    assert p.returncode != 0 and "only bcrypt" in p.stderr


def test_credentials_never_reach_the_log(tmp_path):
    s = Server(auth=True, extra_args=["--access-log", "--log-level", "debug", "--scan-workers", "0"]).start()
    try:
        frank = add_user(s, "frank", "writer:team/*", password="frank-very-secret")
        push(basic(frank), s.url, "team/app")
        t = token(s, frank, "repository:team/app:pull", offline=True)
        bearer(t["token"]).get(f"{s.url}/v2/team/app/manifests/1")
        basic(("frank", "frank-wrong-guess")).get(f"{s.url}/v2/")
        # a name made to forge log lines is not written out
        r = requests.get(f"{s.url}/v2/", headers={"Authorization": "Basic " + base64.b64encode(
            b"x\n2026-01-01T00:00:00Z info  forged line:pw").decode()})
        assert r.status_code == 401
        requests.post(f"{s.url}/auth/token", data={"grant_type": "refresh_token", "refresh_token": t["refresh_token"]})
    finally:
        s.stop()
    log = open(s.log_path).read()
    for secret in ["frank-very-secret", "frank-wrong-guess", t["token"], t["refresh_token"],
                   base64.b64encode(b"frank:frank-very-secret").decode()]:
        assert secret not in log
    assert "failed login for 'frank'" in log
    assert "forged line" not in log and "failed login for a malformed account name" in log
