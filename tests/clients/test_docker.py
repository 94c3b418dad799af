"""docker against drydock with authentication on: a dockerd of the test's own (Debian's
docker.io, vfs storage, its own containerd; tests/lib/engines.py says how it is kept apart from
the system's) logs in, pushes, mounts the layers of a second push from the first repository,
pulls, pushes a manifest list (`docker manifest`) and pulls an OCI index; a wrong password and
a reader's push are refused; and over HTTPS dockerd verifies drydock's certificate against a CA
in its certs.d.

Plain HTTP on 127.0.0.1 needs no daemon setting: 127.0.0.0/8 is an insecure registry to dockerd
by default (it tries HTTPS first; drydock answers TLS bytes on a plain port with a plain 400, so
it falls back at once)."""
import json
import os
import shutil
import tempfile

import pytest

from clientlib import (DOCKER_LIST, OCI_INDEX, add_user, check_image, check_mounted, layout_image, log_offset,
                       registry_manifest, registry_raw, registry_status, run, sha256, tiny_layout,
                       two_platform_layout, wait_access)
from drydock import ADMIN_PASSWORD, Server
from engines import DOCKER, REGISTRY_NAME, Containerd, Dockerd, ipv6_loopback, missing

SERVER_ARGS = ["--scan-workers", "0", "--access-log"]


@pytest.fixture(scope="module")
def dockerd():
    gone = missing("dockerd", DOCKER or "docker", "containerd", "ctr")
    if gone:
        pytest.skip(f"not installed: {', '.join(gone)} (scripts/deps.sh installs docker.io and containerd)")
    root = tempfile.mkdtemp(prefix="drydock-docker-")
    cd = Containerd(os.path.join(root, "containerd"))
    dd = Dockerd(os.path.join(root, "dockerd"), cd)
    try:
        cd.start()
        dd.start()
        yield dd
    finally:
        dd.stop()
        cd.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def srv():
    s = Server(auth=True, extra_args=SERVER_ARGS).start()
    yield s
    s.stop()
    shutil.rmtree(s.data_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def source(images, dockerd, tmp_path_factory):
    """debian-min loaded into dockerd as drydock-tests/min:latest (from a docker-archive made
    by skopeo); returns (its OCI layout, its image ID)."""
    layout = os.path.join(images, "debian-min")
    tar = str(tmp_path_factory.mktemp("docker") / "min.tar")
    run("skopeo", "copy", "--quiet", f"oci:{layout}:latest", f"docker-archive:{tar}:drydock-tests/min:latest")
    run(*dockerd.cli("load", "--quiet", "--input", tar))
    os.unlink(tar)
    image_id = run(*dockerd.cli("image", "inspect", "--format", "{{.Id}}", "drydock-tests/min:latest")).stdout.strip()
    # docker's image ID is its config's digest, which skopeo kept
    assert image_id == layout_image(layout)[0]["config"]["digest"]
    return layout, image_id


@pytest.fixture(scope="module")
def writer(srv, dockerd):
    """dev, who may push team/*, logged in to srv; returns (HOST:PORT, dev's password)."""
    host = f"127.0.0.1:{srv.port}"
    pw = add_user(srv, "dev", "writer:team/*")
    run(*dockerd.cli("login", "--username", "dev", "--password-stdin", host), input=pw + "\n")
    return host, pw


def forget_images(dockerd):
    """Removes every image from dockerd, so that the next pull downloads every layer."""
    ids = set(run(*dockerd.cli("images", "--all", "--quiet")).stdout.split())
    if ids:
        run(*dockerd.cli("rmi", "--force", *ids))


def diff_ids(dockerd, ref):
    return json.loads(run(*dockerd.cli("image", "inspect", ref)).stdout)[0]["RootFS"]["Layers"]


def test_docker_login_refuses_a_wrong_password(srv, dockerd):
    host = f"127.0.0.1:{srv.port}"
    add_user(srv, "eve", "writer:team/*")
    since = log_offset(srv)
    p = run(*dockerd.cli("login", "--username", "eve", "--password-stdin", host), input="wrong\n", ok=False)
    assert p.returncode != 0 and "unauthorized" in p.stderr, p.stderr
    wait_access(srv, since, lambda ls: any(path == "/auth/token" and st == 401 for m, path, st, _ in ls),
                "the token endpoint did not refuse the login")
    assert not os.path.exists(os.path.join(dockerd.client_config, "config.json")) or \
        host not in open(os.path.join(dockerd.client_config, "config.json")).read()


def test_docker_push_mount_pull(srv, dockerd, source, writer):
    layout, image_id = source
    host = writer[0]
    run(*dockerd.cli("tag", "drydock-tests/min:latest", f"{host}/team/min:v1"))
    run(*dockerd.cli("push", f"{host}/team/min:v1"))
    ctype, m = registry_manifest(srv, "team/min", "v1")
    assert ctype == "application/vnd.docker.distribution.manifest.v2+json"
    assert m["config"]["digest"] == image_id
    # docker recompresses the layers it pushes; what they hold is the source's
    assert check_image(srv, "team/min", m)["rootfs"]["diff_ids"] == layout_image(layout)[1]["rootfs"]["diff_ids"]

    # the same layers to another repository: mounted, not uploaded again
    since = log_offset(srv)
    run(*dockerd.cli("tag", "drydock-tests/min:latest", f"{host}/team/copy:v1"))
    out = run(*dockerd.cli("push", f"{host}/team/copy:v1")).stdout
    assert "Mounted from team/min" in out, out
    check_mounted(srv, since, "team/copy", len(m["layers"]), min(l["size"] for l in m["layers"]))
    assert registry_manifest(srv, "team/copy", "v1")[1] == m

    # pull into a daemon that holds none of it
    forget_images(dockerd)
    out = run(*dockerd.cli("pull", f"{host}/team/min:v1")).stdout
    assert "Pull complete" in out, out
    assert run(*dockerd.cli("image", "inspect", "--format", "{{.Id}}", f"{host}/team/min:v1")).stdout.strip() == image_id
    assert diff_ids(dockerd, f"{host}/team/min:v1") == layout_image(layout)[1]["rootfs"]["diff_ids"]
    run(*dockerd.cli("tag", f"{host}/team/min:v1", "drydock-tests/min:latest"))


def test_docker_manifest_list_and_oci_index(srv, dockerd, source, writer, tmp_path):
    layout, image_id = source
    host, pw = writer
    run(*dockerd.cli("tag", "drydock-tests/min:latest", f"{host}/team/min:v1"))
    run(*dockerd.cli("push", "--quiet", f"{host}/team/min:v1"))
    run(*dockerd.cli("tag", "drydock-tests/min:latest", f"{host}/team/twin:v1"))
    run(*dockerd.cli("push", "--quiet", f"{host}/team/twin:v1"))
    # `docker manifest`: the client speaks to the registry itself, with the same login
    lst = f"{host}/team/list:v1"
    run(*dockerd.cli("manifest", "create", "--insecure", lst, f"{host}/team/min:v1", f"{host}/team/twin:v1"))
    run(*dockerd.cli("manifest", "annotate", "--arch", "arm64", lst, f"{host}/team/twin:v1"))
    run(*dockerd.cli("manifest", "push", "--insecure", "--purge", lst))
    ctype, index = registry_manifest(srv, "team/list", "v1")
    assert ctype == DOCKER_LIST
    assert sorted(e["platform"]["architecture"] for e in index["manifests"]) == ["amd64", "arm64"]
    assert {e["digest"] for e in index["manifests"]} == {sha256(registry_raw(srv, "team/min", "v1"))}
    out = json.loads(run(*dockerd.cli("manifest", "inspect", "--insecure", lst)).stdout)
    assert out["mediaType"] == DOCKER_LIST and len(out["manifests"]) == 2

    # an OCI index (docker 20.10 cannot make one, and Debian 12 has no buildx), pushed with
    # skopeo and pulled by docker, which takes this machine's platform from it; the image is a
    # small one made here (what it holds does not matter, and debian-min costs seconds a pull)
    tiny = tiny_layout(str(tmp_path / "tiny"), "docker pulls an OCI index")
    two_platform_layout(tiny, str(tmp_path / "index"))
    run("skopeo", "copy", "--quiet", "--all", "--dest-tls-verify=false", "--dest-creds", f"dev:{pw}",
        f"oci:{tmp_path / 'index'}:latest", f"docker://{host}/team/index:v1")
    ctype, index = registry_manifest(srv, "team/index", "v1")
    assert ctype == OCI_INDEX and len(index["manifests"]) == 2
    out = run(*dockerd.cli("pull", f"{host}/team/index:v1")).stdout
    assert "Pull complete" in out, out
    m, cfg = layout_image(tiny)
    assert run(*dockerd.cli("image", "inspect", "--format", "{{.Id}} {{.Architecture}}",
                            f"{host}/team/index:v1")).stdout.split() == [m["config"]["digest"], "amd64"]
    assert diff_ids(dockerd, f"{host}/team/index:v1") == cfg["rootfs"]["diff_ids"]


def test_docker_reader_push_refused(srv, dockerd, source):
    host = f"127.0.0.1:{srv.port}"
    pw = add_user(srv, "viewer", "reader:team/*")
    cfg = tempfile.mkdtemp(prefix="drydock-docker-login-")  # viewer's own logins
    try:
        cli = [DOCKER, "--host", f"unix://{dockerd.socket}", "--config", cfg]
        run(*cli, "login", "--username", "viewer", "--password-stdin", host, input=pw + "\n")
        run(*cli, "tag", "drydock-tests/min:latest", f"{host}/team/readonly:v1")
        p = run(*cli, "push", f"{host}/team/readonly:v1", ok=False)
        assert p.returncode != 0 and "denied" in p.stderr, p.stderr
        assert registry_status(srv, "team/readonly", "v1") == 404
        run(*cli, "rmi", f"{host}/team/readonly:v1")
    finally:
        shutil.rmtree(cfg, ignore_errors=True)


def test_docker_https_verifies_the_certificate(dockerd, tmp_path):
    """dockerd verifies a registry's certificate only when the registry is not in 127.0.0.0/8,
    so drydock listens on ::1 and dockerd reaches it by a name that its own /etc/hosts maps
    there (engines.py); the CA goes where dockerd reads it, certs.d/NAME:PORT/ca.crt."""
    if not ipv6_loopback():
        pytest.skip("no IPv6 loopback (::1) on this machine: dockerd skips certificate verification for "
                    "every registry in 127.0.0.0/8, so HTTPS can only be checked on ::1")
    tiny = tiny_layout(str(tmp_path / "tiny"), "docker over HTTPS")
    m, cfg = layout_image(tiny)
    tar = str(tmp_path / "tiny.tar")
    run("skopeo", "copy", "--quiet", f"oci:{tiny}:latest", f"docker-archive:{tar}:drydock-tests/tiny:latest")
    run(*dockerd.cli("load", "--quiet", "--input", tar))
    cert, key = str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "2",
        "-subj", f"/CN={REGISTRY_NAME}", "-addext", f"subjectAltName=DNS:{REGISTRY_NAME},IP:::1")
    srv = Server(auth=True, host="::1", tls=(cert, key), extra_args=SERVER_ARGS).start()
    try:
        reg = f"{REGISTRY_NAME}:{srv.port}"
        p = run(*dockerd.cli("login", "--username", "admin", "--password-stdin", reg), input="x\n", ok=False)
        assert p.returncode != 0 and "certificate signed by unknown authority" in p.stderr, p.stderr
        dockerd.trust_ca(reg, cert)
        run(*dockerd.cli("login", "--username", "admin", "--password-stdin", reg), input=ADMIN_PASSWORD + "\n")
        run(*dockerd.cli("tag", "drydock-tests/tiny:latest", f"{reg}/tls/tiny:v1"))
        run(*dockerd.cli("push", f"{reg}/tls/tiny:v1"))
        assert registry_manifest(srv, "tls/tiny", "v1", verify=cert)[1]["config"]["digest"] == m["config"]["digest"]
        run(*dockerd.cli("rmi", f"{reg}/tls/tiny:v1", "drydock-tests/tiny:latest"))
        out = run(*dockerd.cli("pull", f"{reg}/tls/tiny:v1")).stdout
        assert "Pull complete" in out, out
        assert diff_ids(dockerd, f"{reg}/tls/tiny:v1") == cfg["rootfs"]["diff_ids"]
        run(*dockerd.cli("rmi", f"{reg}/tls/tiny:v1"))
        log = open(srv.log_path).read()
        assert "PUT /v2/tls/tiny/manifests/v1 201" in log
    finally:
        srv.stop()
        shutil.rmtree(srv.data_dir, ignore_errors=True)
