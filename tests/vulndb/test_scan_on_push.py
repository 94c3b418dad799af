"""Scan on push end to end: real images pushed with skopeo to a live server, assessed by its
workers, read back through the security API and compared with `drydock scan` of the same
image; images that cannot be assessed; durability of the queue across restarts and kill -9;
re-assessment when the database file changes; the namespace switch, usage, metrics."""
import gzip
import io
import json
import os
import shutil
import subprocess
import tarfile
import time

import pytest
import requests

from drydock import BIN, SHARED, VULNDATA, OCI_CONFIG, OCI_MANIFEST, Server, push_blob, sha256

FINAL = {"Healthy", "Unhealthy", "NotApplicable", "Failed"}


def wait(url, repo, ref, timeout=120, want=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = requests.get(f"{url}/api/v1/images", params={"repository": repo, "reference": ref, "limit": 1000})
        if r.status_code == 200 and r.json()["status"] in FINAL and (want is None or r.json()["status"] == want):
            return r.json()
        time.sleep(0.1)
    raise AssertionError(f"{repo}:{ref} not assessed in {timeout}s: {r.status_code} {r.text[:500]}")


def skopeo_push(layout, url, repo_tag):
    subprocess.run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", f"oci:{layout}",
                    f"docker://{url.split('://')[1]}/{repo_tag}"], check=True, capture_output=True)


def server_with_db(tmp_path, db, *extra):
    data = tmp_path / "data"
    data.mkdir()
    if db:
        shutil.copy(db, data / "vulndb.ddb")
    return Server(str(data), extra_args=list(extra)).start()


def push_layers(url, repo, tag, files, config=None, config_type=OCI_CONFIG):
    """An image of one gzip layer holding `files` {path: bytes} (none: no layer at all)."""
    s = requests.Session()
    cfg = json.dumps(config or {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers"}}).encode()
    layers = []
    if files is not None:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as t:
            for path, data in files.items():
                info = tarfile.TarInfo(path)
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
        blob = gzip.compress(buf.getvalue())
        layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                       "digest": push_blob(s, url, repo, blob), "size": len(blob)})
    m = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                    "config": {"mediaType": config_type, "digest": push_blob(s, url, repo, cfg), "size": len(cfg)},
                    "layers": layers}).encode()
    r = s.put(f"{url}/v2/{repo}/manifests/{tag}", data=m, headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 201, r.text
    return sha256(m)


def test_push_is_assessed_like_drydock_scan(full_db, images, tmp_path):
    srv = server_with_db(tmp_path, full_db)
    try:
        skopeo_push(os.path.join(images, "debian-min"), srv.url, "team/min:1")
        a = wait(srv.url, "team/min", "1")
        assert a["status"] == "Unhealthy" and a["ecosystem"] == "Debian:12"
        cli = json.loads(subprocess.run([BIN, "scan", "--db", full_db, "--format", "json",
                                         os.path.join(images, "debian-min")], check=True, capture_output=True,
                                        text=True).stdout)
        key = lambda f: (f["id"], f["package"], f["fixed_version"], f["severity"])  # noqa: E731
        assert sorted(map(key, a["findings"])) == sorted(map(key, cli["findings"]))
        assert a["total_findings"] == cli["counts"]["total"] == a["counts"]["total"]
        # filters and pages
        hi = requests.get(f"{srv.url}/api/v1/images", params={"repository": "team/min", "reference": "1",
                                                               "severity": "CRITICAL,HIGH"}).json()
        assert hi["total_findings"] == a["counts"]["CRITICAL"] + a["counts"]["HIGH"]
        page = requests.get(f"{srv.url}/api/v1/images", params={"repository": "team/min", "reference": a["digest"],
                                                                 "limit": 5, "offset": 5}).json()
        assert [f["id"] for f in page["findings"]] == [f["id"] for f in a["findings"][5:10]]
        one = a["findings"][0]
        by_id = requests.get(f"{srv.url}/api/v1/images", params={"repository": "team/min", "reference": "1",
                                                                  "id": one["id"], "package": one["package"]}).json()
        assert by_id["total_findings"] >= 1 and all(f["id"] == one["id"] or one["id"] in f["aliases"]
                                                    for f in by_id["findings"])
        summary = requests.get(f"{srv.url}/api/v1/summary").json()
        assert summary["images_by_status"] == {"Unhealthy": 1}
        assert summary["findings_by_severity"]["CRITICAL"] == a["counts"]["CRITICAL"]
        usage = requests.get(f"{srv.url}/api/v1/usage").json()["usage"]
        assert [u["namespace"] for u in usage] == ["team"] and usage[0]["scans"] == 1
        metrics = requests.get(f"{srv.url}/metrics").text
        assert 'drydock_scans_total{status="Unhealthy"} 1' in metrics
        assert "drydock_scan_duration_seconds_count 1" in metrics
        assert requests.get(f"{srv.url}/healthz").json()["status"] == "ok"
        # unknown image: the registry's error JSON
        r = requests.get(f"{srv.url}/api/v1/images", params={"repository": "team/min", "reference": "nope"})
        assert r.status_code == 404 and r.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"
        # deleting the manifest deletes its assessment
        assert requests.delete(f"{srv.url}/v2/team/min/manifests/{a['digest']}").status_code == 202
        assert requests.get(f"{srv.url}/api/v1/summary").json()["images_by_status"] == {}
    finally:
        srv.stop()


def test_images_that_cannot_be_assessed(full_db, tmp_path):
    """Distroless-style (dpkg status.d, syft's real bookworm fixture with libc6 2.36-9+deb12u1),
    scratch (one static file), no layers, an artifact, a non-Linux image, a disabled namespace."""
    srv = server_with_db(tmp_path, full_db)
    try:
        status_d = open(os.path.join(SHARED, "testdata/pkgdb/dpkg/syft-statusd-coreutils/input/var/lib/dpkg/status.d/"
                                     "coreutils-relationships"), "rb").read()
        osr = b'PRETTY_NAME="Distroless"\nID=debian\nVERSION_ID="12"\n'
        push_layers(srv.url, "t/distroless", "1", {"etc/os-release": osr, "var/lib/dpkg/status.d/coreutils": status_d})
        push_layers(srv.url, "t/scratch", "1", {"hello": b"\x7fELF static binary"})
        push_layers(srv.url, "t/empty", "1", None)
        push_layers(srv.url, "t/artifact", "1", {"x": b"y"}, config={"k": "v"},
                    config_type="application/vnd.example.thing.v1+json")
        push_layers(srv.url, "t/windows", "1", {"x": b"y"}, config={"os": "windows", "architecture": "amd64"})
        assert requests.put(f"{srv.url}/api/v1/namespaces/off/scanning", params={"enabled": "false"}).status_code == 200
        push_layers(srv.url, "off/app", "1", {"etc/os-release": osr, "var/lib/dpkg/status.d/coreutils": status_d})
        d = wait(srv.url, "t/distroless", "1")
        assert d["status"] == "Unhealthy"
        hit = [f for f in d["findings"] if f["id"] == "CVE-2023-4911" and f["package"] == "libc6"]
        assert hit and hit[0]["fixed_version"] == "2.36-9+deb12u3"
        for repo, words in (("t/scratch", "no operating system"), ("t/empty", "scratch"),
                            ("t/artifact", "not an image"), ("t/windows", "non-Linux"),
                            ("off/app", "disabled for namespace 'off'")):
            a = wait(srv.url, repo, "1")
            assert a["status"] == "NotApplicable" and words in a["reason"], (repo, a)
        assert requests.get(f"{srv.url}/api/v1/namespaces/off/scanning").json()["scanning"] is False
        assert requests.get(f"{srv.url}/api/v1/namespaces/team/scanning").json()["scanning"] is True
    finally:
        srv.stop()


def test_queue_survives_restart_and_kill9(full_db, images, tmp_path):
    # pushed while scanning is off: the start-up recovery queues what was never assessed
    srv = server_with_db(tmp_path, full_db, "--scan-workers", "0")
    try:
        digests = [push_layers(srv.url, f"q/app{i}", "1", {"f": b"%d" % i}) for i in range(3)]
        r = requests.get(f"{srv.url}/api/v1/images", params={"repository": "q/app0", "reference": "1"}).json()
        assert r["status"] == "Queued"
        srv.stop()
        srv.extra_args = []
        srv.start()
        for i in range(3):
            assert wait(srv.url, f"q/app{i}", digests[i])["status"] == "NotApplicable"
        # killed right after the manifest PUT, before (or while) scanning
        skopeo_push(os.path.join(images, "debian-min"), srv.url, "q/min:1")
        srv.kill9()
        srv.start()
        assert wait(srv.url, "q/min", "1")["status"] == "Unhealthy"
    finally:
        srv.stop()


def test_new_database_reassesses_without_reading_layers(full_db, images, tmp_path):
    small = tmp_path / "alpine-only.ddb"
    r = subprocess.run([BIN, "db", "import", "--db", str(small), os.path.join(VULNDATA, "alpine-secdb", "v3.18")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    srv = server_with_db(tmp_path, str(small))
    try:
        skopeo_push(os.path.join(images, "debian-min"), srv.url, "re/min:1")
        first = wait(srv.url, "re/min", "1")
        assert first["status"] == "NotApplicable" and "Debian:12" in first["reason"]
        # the layers are gone: a re-assessment must come from the stored inventory
        shutil.rmtree(os.path.join(srv.data_dir, "cache"), ignore_errors=True)
        os.rename(os.path.join(srv.data_dir, "blobs"), str(tmp_path / "blobs-away"))
        # `drydock db import` writes beside the database and renames over it
        shutil.copy(full_db, os.path.join(srv.data_dir, "vulndb.ddb.new"))
        os.rename(os.path.join(srv.data_dir, "vulndb.ddb.new"), os.path.join(srv.data_dir, "vulndb.ddb"))
        second = wait(srv.url, "re/min", "1", want="Unhealthy")
        assert second["database_generation"] != first["database_generation"]
        assert second["total_findings"] > 0
        usage = requests.get(f"{srv.url}/api/v1/usage").json()["usage"]
        assert usage[0]["scans"] == 1  # a re-assessment is not a new scan
    finally:
        if os.path.exists(tmp_path / "blobs-away"):
            os.rename(str(tmp_path / "blobs-away"), os.path.join(srv.data_dir, "blobs"))
        srv.stop()
