"""Real clients against a live drydock: skopeo and podman (daemonless, vfs) push and pull
real Debian images, and every layer digest and byte is compared."""
import hashlib
import json
import os
import shutil
import subprocess
import tempfile

import pytest
import requests

import sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))


def run(*args, **kw):
    p = subprocess.run(list(args), capture_output=True, text=True, timeout=600, **kw)
    assert p.returncode == 0, f"{args}: {p.stderr[-3000:]}"
    return p.stdout


def oci_manifest(layout):
    index = json.load(open(os.path.join(layout, "index.json")))
    d = index["manifests"][0]["digest"]
    return json.load(open(os.path.join(layout, "blobs", *d.split(":"))))


def registry_manifest(url, repo, ref):
    r = requests.get(f"{url}/v2/{repo}/manifests/{ref}", headers={"Accept": ",".join([
        "application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json"])})
    assert r.status_code == 200, r.text
    return r.json()


def check_blobs(url, repo, manifest):
    """Every referenced blob is served whole and hashes to its digest."""
    for desc in [manifest["config"]] + manifest["layers"]:
        alg, hexd = desc["digest"].split(":")
        h = hashlib.new(alg)
        size = 0
        with requests.get(f"{url}/v2/{repo}/blobs/{desc['digest']}", stream=True) as r:
            assert r.status_code == 200
            for chunk in r.iter_content(1 << 20):
                h.update(chunk)
                size += len(chunk)
        assert h.hexdigest() == hexd and size == desc["size"]


def layer_digests(m):
    return [l["digest"] for l in m["layers"]]


@pytest.mark.parametrize("name", ["debian-min", "debian-big"])
def test_skopeo_push_pull(images, server, name, tmp_path):
    host = f"127.0.0.1:{server.port}"
    src = os.path.join(images, name)
    # --dest-tls-verify=false: skopeo tries TLS first on this plain-HTTP port, then falls back
    run("skopeo", "copy", "--quiet", "--dest-tls-verify=false", f"oci:{src}:latest",
        f"docker://{host}/clients/{name}:v1")
    want = oci_manifest(src)
    got = registry_manifest(server.url, f"clients/{name}", "v1")
    assert layer_digests(got) == layer_digests(want)
    assert got["config"]["digest"] == want["config"]["digest"]
    check_blobs(server.url, f"clients/{name}", got)
    # pull back into a fresh layout and compare
    dst = tmp_path / "pulled"
    run("skopeo", "copy", "--quiet", "--src-tls-verify=false", f"docker://{host}/clients/{name}:v1",
        f"oci:{dst}:latest")
    pulled = oci_manifest(str(dst))
    assert layer_digests(pulled) == layer_digests(want)
    # inspect by digest works too
    raw = run("skopeo", "inspect", "--raw", "--tls-verify=false",
              f"docker://{host}/clients/{name}@" + "sha256:" + hashlib.sha256(
                  requests.get(f"{server.url}/v2/clients/{name}/manifests/v1").content).hexdigest())
    assert json.loads(raw)["layers"] == got["layers"]
    # re-push: every blob exists already
    run("skopeo", "copy", "--quiet", "--dest-tls-verify=false", f"oci:{src}:latest",
        f"docker://{host}/clients/{name}:v2")
    assert registry_manifest(server.url, f"clients/{name}", "v2") == got


def test_skopeo_docker_format_and_tags(images, server):
    host = f"127.0.0.1:{server.port}"
    src = os.path.join(images, "debian-min")
    run("skopeo", "copy", "--quiet", "--format", "v2s2", "--dest-tls-verify=false", f"oci:{src}:latest",
        f"docker://{host}/clients/docker-fmt:v1")
    r = requests.get(f"{server.url}/v2/clients/docker-fmt/manifests/v1",
                     headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"})
    assert r.headers["Content-Type"] == "application/vnd.docker.distribution.manifest.v2+json"
    check_blobs(server.url, "clients/docker-fmt", r.json())
    tags = json.loads(run("skopeo", "list-tags", "--tls-verify=false", f"docker://{host}/clients/docker-fmt"))
    assert tags["Tags"] == ["v1"]
    run("skopeo", "delete", "--tls-verify=false", f"docker://{host}/clients/docker-fmt:v1")
    assert requests.get(f"{server.url}/v2/clients/docker-fmt/manifests/v1").status_code == 404


def test_podman_pull_push(images, server, tmp_path):
    host = f"127.0.0.1:{server.port}"
    src = os.path.join(images, "debian-big")
    run("skopeo", "copy", "--quiet", "--dest-tls-verify=false", f"oci:{src}:latest",
        f"docker://{host}/podman/src:v1")
    want = registry_manifest(server.url, "podman/src", "v1")
    store = tempfile.mkdtemp(prefix="drydock-podman-")
    podman = ["podman", "--root", f"{store}/root", "--runroot", f"{store}/run", "--tmpdir", f"{store}/tmp", "--storage-driver", "vfs",
              "--cgroup-manager", "cgroupfs", "--events-backend", "none"]
    try:
        run(*podman, "pull", "-q", "--tls-verify=false", f"{host}/podman/src:v1")
        run(*podman, "push", "-q", "--tls-verify=false", f"{host}/podman/src:v1", f"docker://{host}/podman/dst:v1")
        got = registry_manifest(server.url, "podman/dst", "v1")
        # podman reuses the compressed blobs it pulled (cross-repository mounts)
        assert layer_digests(got) == layer_digests(want)
        check_blobs(server.url, "podman/dst", got)
        # and pulls back its own push
        run(*podman, "rmi", "-a", "-f")
        run(*podman, "pull", "-q", "--tls-verify=false", f"{host}/podman/dst:v1")
        out = run(*podman, "image", "inspect", f"{host}/podman/dst:v1")
        cfg = requests.get(f"{server.url}/v2/podman/dst/blobs/{got['config']['digest']}").json()
        assert json.loads(out)[0]["RootFS"]["Layers"] == cfg["rootfs"]["diff_ids"]
    finally:
        shutil.rmtree(store, ignore_errors=True)


def test_skopeo_and_podman_over_https(images, tmp_path):
    """Real Go TLS clients against drydock's HTTPS, verifying the certificate. Debian 12's
    skopeo and podman (containers/image) offer no ALPN, so they speak HTTP/1.1 over TLS, with
    Distribution as here; HTTP/2 is tested with curl in tests/http/test_connections.py."""
    from drydock import Server
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
        "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1")
    certs = tmp_path / "certs.d"
    certs.mkdir()
    shutil.copy(cert, certs / "ca.crt")
    s = Server(tls=(str(cert), str(key)), extra_args=["--access-log"]).start()
    store = tempfile.mkdtemp(prefix="drydock-podman-")
    try:
        host = f"127.0.0.1:{s.port}"
        src = os.path.join(images, "debian-big")
        run("skopeo", "copy", "--quiet", "--dest-cert-dir", str(certs), f"oci:{src}:latest",
            f"docker://{host}/tls/big:v1")
        run("skopeo", "copy", "--quiet", "--src-cert-dir", str(certs), f"docker://{host}/tls/big:v1",
            f"oci:{tmp_path}/pulled:latest")
        assert layer_digests(oci_manifest(str(tmp_path / "pulled"))) == layer_digests(oci_manifest(src))
        # podman pulls it and pushes it to another repository over the same HTTPS
        podman = ["podman", "--root", f"{store}/root", "--runroot", f"{store}/run", "--tmpdir", f"{store}/tmp", "--storage-driver", "vfs",
                  "--cgroup-manager", "cgroupfs", "--events-backend", "none"]
        run(*podman, "pull", "-q", "--cert-dir", str(certs), f"{host}/tls/big:v1")
        run(*podman, "push", "-q", "--cert-dir", str(certs), f"{host}/tls/big:v1", f"docker://{host}/tls/copy:v1")
        pushed = json.loads(run("skopeo", "inspect", "--raw", "--cert-dir", str(certs), f"docker://{host}/tls/copy:v1"))
        assert layer_digests(pushed) == layer_digests(oci_manifest(src))
        # without the CA the client must refuse
        p = subprocess.run(["skopeo", "inspect", f"docker://{host}/tls/big:v1"], capture_output=True, text=True,
                           timeout=60)
        assert p.returncode != 0 and "certificate" in p.stderr
    finally:
        shutil.rmtree(store, ignore_errors=True)
        s.stop()
    log = open(s.log_path).read()
    assert "PUT /v2/tls/big/manifests/v1 201" in log and "PUT /v2/tls/copy/manifests/v1 201" in log
