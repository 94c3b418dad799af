"""Real clients through the token flow of a server with authentication on: podman login,
push and pull; skopeo login and --creds; curl with Basic and with a bearer token; drydock's
own registry client (`drydock scan HOST/REPO:TAG`)."""
import json
import os
import shutil
import subprocess
import tempfile

import pytest

from drydock import ADMIN_PASSWORD, BIN, Server


def run(*args, ok=True, **kw):
    p = subprocess.run(list(args), capture_output=True, text=True, timeout=600, **kw)
    if ok:
        assert p.returncode == 0, f"{args}: {p.stderr[-3000:]}"
    return p


def add_user(srv, name, role):
    run(BIN, "user", "--data", srv.data_dir, "add", name, "--password-stdin", "--role", role,
        input=f"{name}-password\n")
    return f"{name}-password"


@pytest.fixture(scope="module")
def srv():
    s = Server(auth=True, extra_args=["--scan-workers", "0"]).start()
    yield s
    s.stop()


def test_podman_login_push_pull(images, srv, tmp_path):
    host = f"127.0.0.1:{srv.port}"
    pw = add_user(srv, "dev", "writer:team/*")
    auth = str(tmp_path / "auth.json")
    store = tempfile.mkdtemp(prefix="drydock-podman-")
    podman = ["podman", "--root", f"{store}/root", "--runroot", f"{store}/run", "--tmpdir", f"{store}/tmp", "--storage-driver", "vfs",
              "--cgroup-manager", "cgroupfs", "--events-backend", "none"]
    env = dict(os.environ, REGISTRY_AUTH_FILE=auth)
    try:
        # a wrong password is refused at login
        p = run(*podman, "login", "--tls-verify=false", "-u", "dev", "--password-stdin", host,
                input="wrong\n", env=env, ok=False)
        assert p.returncode != 0 and "invalid username/password" in p.stderr
        run(*podman, "login", "--tls-verify=false", "-u", "dev", "--password-stdin", host, input=pw + "\n", env=env)
        image_id = run(*podman, "pull", "-q", f"oci:{os.path.join(images, 'debian-min')}:latest",
                       env=env).stdout.strip()
        run(*podman, "tag", image_id, f"{host}/team/min:v1", env=env)
        run(*podman, "push", "-q", "--tls-verify=false", f"{host}/team/min:v1", env=env)
        run(*podman, "rmi", "-a", "-f", env=env)
        run(*podman, "pull", "-q", "--tls-verify=false", f"{host}/team/min:v1", env=env)
        # outside its role: push to another namespace fails
        p = run(*podman, "push", "-q", "--tls-verify=false", f"{host}/team/min:v1", f"docker://{host}/ops/min:v1",
                env=env, ok=False)
        assert p.returncode != 0
        run(*podman, "logout", host, env=env)
        p = run(*podman, "pull", "-q", "--tls-verify=false", f"{host}/team/min:v1", env=env, ok=False)
        assert p.returncode != 0 and ("authentication required" in p.stderr or "unauthorized" in p.stderr.lower())
    finally:
        shutil.rmtree(store, ignore_errors=True)


def test_skopeo_creds_and_login(images, srv, tmp_path):
    host = f"127.0.0.1:{srv.port}"
    pw = add_user(srv, "ci", "writer:ci/*")
    src = f"oci:{os.path.join(images, 'debian-min')}:latest"
    run("skopeo", "copy", "--quiet", "--dest-tls-verify=false", "--dest-creds", f"ci:{pw}", src,
        f"docker://{host}/ci/min:v1")
    p = run("skopeo", "copy", "--quiet", "--dest-tls-verify=false", "--dest-creds", "ci:wrong", src,
            f"docker://{host}/ci/min:v2", ok=False)
    assert p.returncode != 0 and ("unauthorized" in p.stderr.lower() or "invalid username/password" in p.stderr)
    auth = str(tmp_path / "auth.json")
    env = dict(os.environ, REGISTRY_AUTH_FILE=auth)
    run("skopeo", "login", "--tls-verify=false", "-u", "ci", "-p", pw, host, env=env)
    out = run("skopeo", "inspect", "--tls-verify=false", f"docker://{host}/ci/min:v1", env=env).stdout
    assert json.loads(out)["Name"] == f"{host}/ci/min"
    run("skopeo", "copy", "--quiet", "--src-tls-verify=false", f"docker://{host}/ci/min:v1",
        f"oci:{tmp_path}/pulled:latest", env=env)
    assert os.path.exists(tmp_path / "pulled" / "index.json")


def test_curl_basic_and_bearer(srv):
    url = srv.url
    out = run("curl", "-s", "-u", f"admin:{ADMIN_PASSWORD}", f"{url}/v2/_catalog").stdout
    assert "repositories" in json.loads(out)
    out = run("curl", "-s", "-u", f"admin:{ADMIN_PASSWORD}",
              f"{url}/auth/token?service=drydock&scope=registry:catalog:*").stdout
    tok = json.loads(out)["token"]
    out = run("curl", "-s", "-H", f"Authorization: Bearer {tok}", f"{url}/v2/_catalog").stdout
    assert "repositories" in json.loads(out)
    out = run("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-u", "admin:wrong", f"{url}/v2/").stdout
    assert out == "401"


def test_drydock_reads_images_through_the_token_flow(images, srv):
    host = f"127.0.0.1:{srv.port}"
    run("skopeo", "copy", "--quiet", "--dest-tls-verify=false", "--dest-creds", f"admin:{ADMIN_PASSWORD}",
        f"oci:{os.path.join(images, 'debian-min')}:latest", f"docker://{host}/scan/min:v1")
    env = dict(os.environ, DRYDOCK_PLAIN_HTTP="1", DRYDOCK_CREDS=f"admin:{ADMIN_PASSWORD}")
    out = run(BIN, "sbom", f"{host}/scan/min:v1", env=env).stdout
    assert json.loads(out)["os"]["kind"] == "known"
    env.pop("DRYDOCK_CREDS")
    p = run(BIN, "sbom", f"{host}/scan/min:v1", env=env, ok=False)
    assert p.returncode != 0 and "authentication required" in p.stderr and "answered 401" in p.stderr


def test_drydock_uses_the_login_the_clients_saved(images, srv, tmp_path):
    """`drydock scan HOST/REPO` pulls with the login podman, skopeo, buildah or docker saved
    (it ignored them, and needed DRYDOCK_CREDS)."""
    import base64
    host = f"127.0.0.1:{srv.port}"
    run("skopeo", "copy", "--quiet", "--dest-tls-verify=false", "--dest-creds", f"admin:{ADMIN_PASSWORD}",
        f"oci:{os.path.join(images, 'debian-min')}:latest", f"docker://{host}/saved/min:v1")
    home = tmp_path / "home"
    runtime = tmp_path / "run"
    home.mkdir()
    runtime.mkdir()
    base = {k: v for k, v in os.environ.items()
            if k not in ("DRYDOCK_CREDS", "REGISTRY_AUTH_FILE", "DOCKER_CONFIG", "XDG_CONFIG_HOME")}
    env = dict(base, HOME=str(home), XDG_RUNTIME_DIR=str(runtime), DRYDOCK_PLAIN_HTTP="1")

    def sbom(ok=True):
        p = run(BIN, "sbom", f"{host}/saved/min:v1", env=env, ok=ok)
        return p

    p = sbom(ok=False)
    assert p.returncode != 0 and "answered 401" in p.stderr  # nothing saved yet
    # skopeo login writes $XDG_RUNTIME_DIR/containers/auth.json, as podman and buildah do
    run("skopeo", "login", "--tls-verify=false", "-u", "admin", "-p", ADMIN_PASSWORD, host, env=env)
    assert json.loads(sbom().stdout)["os"]["kind"] == "known"
    # docker's config.json, keyed with a scheme and a repository-specific entry that wins
    os.remove(runtime / "containers" / "auth.json")
    (home / ".docker").mkdir()
    good = base64.b64encode(f"admin:{ADMIN_PASSWORD}".encode()).decode()
    bad = base64.b64encode(b"admin:wrong").decode()
    (home / ".docker" / "config.json").write_text(json.dumps({"auths": {
        f"http://{host}": {"auth": bad}, f"{host}/saved": {"auth": good}, "other.example:5000": {"auth": bad}}}))
    assert json.loads(sbom().stdout)["os"]["kind"] == "known"
    # a credential helper named for the host
    bindir = tmp_path / "bin"
    bindir.mkdir()
    helper = bindir / "docker-credential-fortest"
    helper.write_text("#!/bin/sh\nread server\n[ \"$server\" = \"%s\" ] || exit 1\n"
                      "printf '{\"ServerURL\":\"%%s\",\"Username\":\"admin\",\"Secret\":\"%s\"}' \"$server\"\n"
                      % (host, ADMIN_PASSWORD))
    helper.chmod(0o755)
    (home / ".docker" / "config.json").write_text(json.dumps({"credHelpers": {host: "fortest"}}))
    env["PATH"] = f"{bindir}:{env['PATH']}"
    assert json.loads(sbom().stdout)["os"]["kind"] == "known"
