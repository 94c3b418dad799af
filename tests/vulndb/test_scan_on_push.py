"""Scan on push end to end: real images pushed with skopeo to a live server, assessed by its
workers, read back through the security API and compared with `drydock scan` of the same
image; images that cannot be assessed; durability of the queue across restarts and kill -9;
re-assessment when the database file changes; the namespace switch, usage, metrics."""
import gzip
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time

import requests

from drydock import BIN, HOOKS_BIN, SHARED, VULNDATA, OCI_CONFIG, OCI_MANIFEST, Server, push_blob, sha256
from drydock import wait_assessed as wait


def skopeo_push(layout, url, repo_tag):
    subprocess.run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", f"oci:{layout}",
                    f"docker://{url.split('://')[1]}/{repo_tag}"], check=True, capture_output=True)


def server_with_db(tmp_path, db, *extra, env=None):
    data = tmp_path / "data"
    data.mkdir()
    if db:
        shutil.copy(db, data / "vulndb.ddb")
    return Server(str(data), extra_args=list(extra), env=env).start()


def push_layers(url, repo, tag, files, config=None, config_type=OCI_CONFIG, annotations=None):
    """An image of one gzip layer holding `files` {path: bytes} (none: no layer at all), with the
    manifest's `annotations` when given."""
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
        blob = gzip.compress(buf.getvalue(), mtime=0)  # the same files make the same blob
        layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                       "digest": push_blob(s, url, repo, blob), "size": len(blob)})
    doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
           "config": {"mediaType": config_type, "digest": push_blob(s, url, repo, cfg), "size": len(cfg)},
           "layers": layers}
    if annotations is not None:
        doc["annotations"] = annotations
    m = json.dumps(doc).encode()
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
        # the stored report has no texts: each finding returned gets them back from the database
        texts = lambda f: (f["id"], f["package"], f["summary"], f["description"], f["published"],  # noqa: E731
                           f["modified"], tuple(f["references"]))
        assert sorted(map(texts, a["findings"])) == sorted(map(texts, cli["findings"]))
        assert sum(bool(f["description"]) for f in a["findings"]) > len(a["findings"]) // 2
        # filters and pages
        hi = requests.get(f"{srv.url}/api/v1/images", params={"repository": "team/min", "reference": "1",
                                                               "severity": "CRITICAL,HIGH"}).json()
        assert hi["total_findings"] == a["counts"]["CRITICAL"] + a["counts"]["HIGH"]
        page = requests.get(f"{srv.url}/api/v1/images", params={"repository": "team/min", "reference": a["digest"],
                                                                 "limit": 5, "offset": 5}).json()
        assert [f["id"] for f in page["findings"]] == [f["id"] for f in a["findings"][5:10]]
        assert [texts(f) for f in page["findings"]] == [texts(f) for f in a["findings"][5:10]]
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
        assert 'drydock_http_requests_total{method="PUT",code="2xx"}' in metrics
        # storage and each feed's age
        got = dict(line.rsplit(" ", 1) for line in metrics.splitlines() if line and not line.startswith("#"))
        assert int(got["drydock_storage_blobs"]) == 2 and int(got["drydock_storage_blob_bytes"]) > 0
        assert int(got["drydock_storage_free_bytes"]) > 0 and int(got["drydock_webhook_backlog"]) == 0
        assert int(got['drydock_vulndb_feed_age_seconds{feed="debian-osv"}']) > 86400  # the snapshot is old
        assert requests.get(f"{srv.url}/healthz").json()["status"] == "ok"
        # unknown image: the registry's error JSON
        r = requests.get(f"{srv.url}/api/v1/images", params={"repository": "team/min", "reference": "nope"})
        assert r.status_code == 404 and r.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"
        # deleting the manifest deletes its assessment
        assert requests.delete(f"{srv.url}/v2/team/min/manifests/{a['digest']}").status_code == 202
        assert requests.get(f"{srv.url}/api/v1/summary").json()["images_by_status"] == {}
    finally:
        srv.stop()


def test_rpm_image_pushed_with_skopeo_and_podman(full_db, rpm_images, tmp_path):
    """rpm-min (a Rocky Linux 9.2 rpm database, packages split from their source RPMs as the
    distribution does): matched on the source RPM against the real Rocky feed. Each expected
    finding was checked by hand in rocky-osv (see tests/images/build-rpm.sh): curl and glibc
    below their RLSA fixes, openssl below RLSA-2024:6783; zlib and bash at or above theirs."""
    srv = server_with_db(tmp_path, full_db)
    store = tempfile.mkdtemp(prefix="drydock-podman-")  # short: podman's run directory holds sockets
    podman = ["podman", "--root", f"{store}/root", "--runroot", f"{store}/run", "--tmpdir", f"{store}/tmp", "--storage-driver", "vfs",
              "--cgroup-manager", "cgroupfs", "--events-backend", "none"]
    try:
        layout = os.path.join(rpm_images, "rpm-min")
        skopeo_push(layout, srv.url, "rocky/min:1")
        a = wait(srv.url, "rocky/min", "1")
        assert a["status"] == "Unhealthy" and a["ecosystem"] == "Rocky Linux:9", a
        got = sorted((f["package"], f["id"], f["fixed_version"]) for f in a["findings"])
        assert got == [("curl", "RLSA-2023:5763", "7.76.1-23.el9_2.4"),
                       ("glibc", "RLSA-2024:3339", "2.34-100.el9_4.2"),
                       ("glibc-common", "RLSA-2024:3339", "2.34-100.el9_4.2"),
                       ("libcurl", "RLSA-2023:5763", "7.76.1-23.el9_2.4"),
                       ("openssl-libs", "RLSA-2024:6783", "1:3.0.7-28.el9_4")]
        ossl = next(f for f in a["findings"] if f["package"] == "openssl-libs")
        assert ossl["source_package"] == "openssl" and "upgrade openssl-libs from 1:3.0.7-16.el9_2" in ossl["remediation"]
        assert sorted((s["source"], s["to"], s["clears"]) for s in a["fix_plan"]) == [
            ("curl", "7.76.1-23.el9_2.4", 2), ("glibc", "2.34-100.el9_4.2", 2), ("openssl", "1:3.0.7-28.el9_4", 1)]
        cli = json.loads(subprocess.run([BIN, "scan", "--db", full_db, "--format", "json", layout], check=True,
                                         capture_output=True, text=True).stdout)
        key = lambda f: (f["id"], f["package"], f["fixed_version"], f["severity"])  # noqa: E731
        assert sorted(map(key, a["findings"])) == sorted(map(key, cli["findings"]))
        # the same image through podman: pulled, tagged, pushed to another repository
        host = srv.url.split("://")[1]
        subprocess.run([*podman, "pull", "-q", "--tls-verify=false", f"{host}/rocky/min:1"], check=True,
                       capture_output=True)
        subprocess.run([*podman, "push", "-q", "--tls-verify=false", f"{host}/rocky/min:1",
                        f"docker://{host}/rocky/again:1"], check=True, capture_output=True)
        b = wait(srv.url, "rocky/again", "1")
        assert sorted(map(key, b["findings"])) == sorted(map(key, a["findings"]))
    finally:
        srv.stop()
        shutil.rmtree(store, ignore_errors=True)


def oci_blobs(layout):
    """(manifest bytes, config bytes, [layer bytes]) of an OCI layout's image."""
    idx = json.load(open(os.path.join(layout, "index.json")))
    blob = lambda d: open(os.path.join(layout, "blobs", *d.split(":")), "rb").read()  # noqa: E731
    m = blob(idx["manifests"][0]["digest"])
    doc = json.loads(m)
    return m, blob(doc["config"]["digest"]), [blob(l["digest"]) for l in doc["layers"]]


def test_layers_read_while_uploading(full_db, images, tmp_path):
    """A layer is analysed as its bytes arrive, whatever the upload goes through on the way:
    chunks, a refused out-of-order chunk, a request cut off mid-body (its bytes cut back), a
    wrong digest at PUT, a cancelled twin upload. The assessment equals `drydock scan`."""
    import socket
    srv = server_with_db(tmp_path, full_db)
    try:
        layout = os.path.join(images, "debian-min")
        manifest, config, layers = oci_blobs(layout)
        layer = layers[0]
        s = requests.Session()
        url = srv.url
        # a cancelled upload of the same bytes, half sent
        r = s.post(f"{url}/v2/up/min/blobs/uploads/")
        r = s.patch(url + r.headers["Location"], data=layer[: len(layer) // 2])
        assert r.status_code == 202
        assert s.delete(url + r.headers["Location"]).status_code == 204
        # the real one, in chunks
        r = s.post(f"{url}/v2/up/min/blobs/uploads/")
        loc = r.headers["Location"]
        c1 = 3 << 20
        r = s.patch(url + loc, data=layer[:c1], headers={"Content-Range": f"0-{c1 - 1}"})
        assert r.status_code == 202, r.text
        r = s.patch(url + loc, data=layer[c1 + 5: c1 + 10], headers={"Content-Range": f"{c1 + 5}-{c1 + 9}"})
        assert r.status_code == 416
        # a request cut off mid-body: its bytes are cut back
        host, port = url.split("://")[1].split(":")
        sock = socket.create_connection((host, int(port)))
        path = loc if loc.startswith("/") else "/" + loc.split("/", 3)[3]
        sock.sendall(f"PATCH {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/octet-stream\r\n"
                     f"Content-Length: {len(layer) - c1}\r\nContent-Range: {c1}-{len(layer) - 1}\r\n\r\n".encode())
        sock.sendall(layer[c1: c1 + (1 << 20)])
        time.sleep(0.3)
        sock.close()
        deadline = time.time() + 10
        while time.time() < deadline:
            st = s.get(url + loc)
            if st.status_code == 204 and st.headers["Range"] == f"0-{c1 - 1}":
                break
            time.sleep(0.05)
        assert st.headers["Range"] == f"0-{c1 - 1}", st.headers
        r = s.patch(url + loc, data=layer[c1:], headers={"Content-Range": f"{c1}-{len(layer) - 1}"})
        assert r.status_code == 202, r.text
        r = s.put(url + loc + ("&" if "?" in loc else "?") + "digest=sha256:" + "0" * 64)
        assert r.status_code == 400 and r.json()["errors"][0]["code"] == "DIGEST_INVALID"
        r = s.put(url + loc + ("&" if "?" in loc else "?") + "digest=" + sha256(layer))
        assert r.status_code == 201, r.text
        push_blob(s, url, "up/min", config)
        r = s.put(f"{url}/v2/up/min/manifests/1", data=manifest, headers={"Content-Type": OCI_MANIFEST})
        assert r.status_code == 201, r.text
        a = wait(url, "up/min", "1")
        cli = json.loads(subprocess.run([BIN, "scan", "--db", full_db, "--format", "json", layout], check=True,
                                        capture_output=True, text=True).stdout)
        key = lambda f: (f["id"], f["package"], f["fixed_version"], f["severity"])  # noqa: E731
        assert sorted(map(key, a["findings"])) == sorted(map(key, cli["findings"]))
        # a plain push (skopeo) is read as it uploads: its layer is counted
        skopeo_push(os.path.join(images, "debian-big"), url, "up/big:1")
        wait(url, "up/big", "1")
        metrics = requests.get(f"{url}/metrics").text
        streamed = int(next(l.split()[1] for l in metrics.splitlines()
                            if l.startswith("drydock_layers_streamed_total")))
        assert streamed >= 3, streamed  # debian-big's three new layers (its base layer is debian-min's)
    finally:
        srv.stop()


# an os-release and a dpkg database whose one package no feed knows: Healthy (an image with no
# package database at all is NotApplicable: nothing to match)
CLEAN = {"etc/os-release": b'ID=debian\nVERSION_ID="12"\n',
         "var/lib/dpkg/status": b"Package: drydock-clean\nStatus: install ok installed\nArchitecture: amd64\n"
                                b"Version: 1.0\n\n"}


def test_annotated_manifests_are_assessed(full_db, tmp_path):
    """A manifest with annotations (as buildah and docker buildx write them) is assessed like any
    other: its annotations were once freed with the wrong allocator inside the scan workers,
    which aborted the server."""
    srv = server_with_db(tmp_path, full_db)
    try:
        for i in range(3):
            push_layers(srv.url, "t/annotated", f"v{i}", CLEAN,
                        annotations={"org.opencontainers.image.created": "2026-12-06T00:00:00Z", "n": str(i)})
            assert wait(srv.url, "t/annotated", f"v{i}")["status"] == "Healthy"
        assert requests.get(f"{srv.url}/healthz").status_code == 200
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
        # a name no repository can have: refused, saying why (bytes that are not UTF-8 were a 500)
        for bad in ("%FF", "%C3%A9", "Team"):
            for method in ("GET", "PUT"):
                r = requests.request(method, f"{srv.url}/api/v1/namespaces/{bad}/scanning", params={"enabled": "false"})
                assert r.status_code == 400 and r.json()["errors"][0]["code"] == "NAME_INVALID", (bad, r.text)
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
        srv.extra_args = ["--auth", "off"]
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


def copies_reassessed(full_db, images, tmp_path, image, count, env=None):
    """A server (debug log, one worker) with an Alpine-only database, `image` pushed and `count`
    - 1 more manifests over its layers (annotations told apart), all assessed; then the full
    database put in place and every one re-assessed. Returns the log written while it
    re-assessed, read after the server stopped (a batch's lines follow its commit)."""
    small = tmp_path / "alpine-only.ddb"
    r = subprocess.run([BIN, "db", "import", "--db", str(small), os.path.join(VULNDATA, "alpine-secdb", "v3.18")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    srv = server_with_db(tmp_path, str(small), "--log-level", "debug", "--scan-workers", "1", env=env)
    try:
        skopeo_push(os.path.join(images, image), srv.url, "copies/img:0")
        assert wait(srv.url, "copies/img", "0")["status"] == "NotApplicable"
        s = requests.Session()
        m = json.loads(s.get(f"{srv.url}/v2/copies/img/manifests/0", headers={"Accept": OCI_MANIFEST}).content)
        for i in range(1, count):
            m["annotations"] = {"copy": str(i)}
            r = s.put(f"{srv.url}/v2/copies/img/manifests/{i}", data=json.dumps(m),
                      headers={"Content-Type": OCI_MANIFEST})
            assert r.status_code == 201, r.text
        for i in range(count):
            wait(srv.url, "copies/img", str(i))
        before = os.path.getsize(srv.log_path)  # the pushes' batches are logged before this
        shutil.copy(full_db, os.path.join(srv.data_dir, "vulndb.ddb.new"))
        os.rename(os.path.join(srv.data_dir, "vulndb.ddb.new"), os.path.join(srv.data_dir, "vulndb.ddb"))
        for i in range(count):
            wait(srv.url, "copies/img", str(i), want="Unhealthy", timeout=300)
    finally:
        srv.stop()
    with open(srv.log_path) as f:
        f.seek(before)
        return f.read()


def test_reassessment_batch_bounded_in_bytes(full_db, images, tmp_path):
    """A worker stores a batch of re-assessments in parts of at most 16 MiB of reports (and
    another image's worth): 41 images of debian-big, a report of about half a megabyte each,
    gaining their findings at once, are not all held until the batch's end (claimed at once: the
    claims' time bound set out of the way)."""
    log = copies_reassessed(full_db, images, tmp_path, "debian-big", 41, env={"DRYDOCK_SCAN_BATCH_MS": "600000"})
    parts = [tuple(int(x) for x in m.groups())
             for m in re.finditer(r"stored (\d+) assessments of a batch of (\d+) \((\d+) bytes\)", log)]
    parts = [p for p in parts if p[1] > 1]  # a push's own line may come after the log was measured
    assert sum(p[0] for p in parts) == 41 and len(parts) >= 2, parts
    assert sum(p[2] for p in parts) > 16 * 1024 * 1024, parts  # the bound had to act
    for count, _, size in parts:  # each part ended at the first report past the bound
        assert size - size / count <= 16 * 1024 * 1024, parts


def test_slow_reassessments_claimed_few_at_a_time(full_db, images, tmp_path):
    """A worker claims about 100 ms of re-assessments at the rate of its last batch, not 128 of
    whatever size (a push that comes meanwhile waits for the batch in hand): 60 images of
    debian-wide, re-assessed at once. Each claim is checked against the time per image the
    server itself logged for the batch before it (claims of 128 fail it)."""
    log = copies_reassessed(full_db, images, tmp_path, "debian-wide", 60)
    batches = [tuple(int(x) for x in m.groups())
               for m in re.finditer(r"assessed (\d+) images in a batch \((\d+) asked for\), (\d+) us each", log)]
    assert sum(b[0] for b in batches) == 60 and len(batches) >= 2, batches
    for prev, cur in zip(batches, batches[1:]):
        assert cur[1] <= max(1, 100_000 // max(prev[2], 1)), batches


def test_database_replaced_while_a_batch_runs(full_db, images, tmp_path):
    """A database put in place while a batch of re-assessments runs: the batch stores what it
    made with the database before, and its images are queued again, so every image ends on the
    database in place (before, the batch's images stayed on the one before until a restart). The
    test build holds a batch of re-assessments while a file exists; the file goes once the other
    database is in place and its re-assessments queued."""
    alpine = []
    for name in ("alpine-1.ddb", "alpine-2.ddb"):  # the same feed, two generations
        path = tmp_path / name
        r = subprocess.run([BIN, "db", "import", "--db", str(path), os.path.join(VULNDATA, "alpine-secdb", "v3.18")],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        alpine.append(str(path))
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(alpine[0], data / "vulndb.ddb")
    hold = tmp_path / "hold"
    srv = Server(str(data), extra_args=["--scan-workers", "1"], binary=HOOKS_BIN,
                 env={"DRYDOCK_TEST_BATCH_HOLD": str(hold)}).start()

    def put_in_place(db):
        shutil.copy(db, os.path.join(srv.data_dir, "vulndb.ddb.new"))
        os.rename(os.path.join(srv.data_dir, "vulndb.ddb.new"), os.path.join(srv.data_dir, "vulndb.ddb"))
        want = json.loads(subprocess.run([BIN, "db", "info", "--db", db, "--json"], check=True, capture_output=True,
                                         text=True).stdout)["generation"]
        deadline = time.time() + 60
        while requests.get(f"{srv.url}/api/v1/database").json().get("generation") != want:
            assert time.time() < deadline
            time.sleep(0.05)
        return want

    try:
        skopeo_push(os.path.join(images, "debian-min"), srv.url, "held/img:0")
        assert wait(srv.url, "held/img", "0")["status"] == "NotApplicable"
        s = requests.Session()
        m = json.loads(s.get(f"{srv.url}/v2/held/img/manifests/0", headers={"Accept": OCI_MANIFEST}).content)
        for i in range(1, 12):
            m["annotations"] = {"copy": str(i)}
            r = s.put(f"{srv.url}/v2/held/img/manifests/{i}", data=json.dumps(m), headers={"Content-Type": OCI_MANIFEST})
            assert r.status_code == 201, r.text
        for i in range(12):
            wait(srv.url, "held/img", str(i))
        hold.write_text("")
        put_in_place(full_db)
        deadline = time.time() + 60
        while not requests.get(f"{srv.url}/healthz").json()["scanning"]:  # a batch claimed, held
            assert time.time() < deadline
            time.sleep(0.05)
        last = put_in_place(alpine[1])
        while f"vulnerability database generation {last} in use" not in open(srv.log_path).read():
            assert time.time() < deadline  # its re-assessments queued (the held batch's left running)
            time.sleep(0.05)
        assert requests.get(f"{srv.url}/healthz").json()["scanning"]  # still held
        hold.unlink()
        deadline = time.time() + 120
        while True:
            h = requests.get(f"{srv.url}/healthz").json()
            gens = {s.get(f"{srv.url}/api/v1/images", params={"repository": "held/img", "reference": str(i)}).json()
                    .get("database_generation") for i in range(12)}
            if not h["scan_queue"] and not h["scanning"] and gens == {last}:
                break
            assert time.time() < deadline, (h, gens, last)
            time.sleep(0.5)
        for i in range(12):
            assert wait(srv.url, "held/img", str(i))["status"] == "NotApplicable"
        # a push with nothing to read (no stored inventory), held likewise: not read again for
        # the database put in place meanwhile, as a new database re-assesses no such image
        hold.write_text("")
        push_layers(srv.url, "held/scratch", "1", {"hello.txt": b"hello"})
        deadline = time.time() + 60
        while not requests.get(f"{srv.url}/healthz").json()["scanning"]:
            assert time.time() < deadline
            time.sleep(0.05)
        newest = put_in_place(alpine[0])
        while f"vulnerability database generation {newest} in use" not in open(srv.log_path).read():
            assert time.time() < deadline
            time.sleep(0.05)
        hold.unlink()
        for i in range(12):
            wait(srv.url, "held/img", str(i))
        deadline = time.time() + 60
        while requests.get(f"{srv.url}/healthz").json()["scan_queue"] or \
                requests.get(f"{srv.url}/healthz").json()["scanning"]:
            assert time.time() < deadline
            time.sleep(0.1)
        scratch = wait(srv.url, "held/scratch", "1")
        assert scratch["status"] == "NotApplicable" and scratch["database_generation"] == last, scratch
        assert "queued again" not in open(srv.log_path).read().split(f"generation {newest} in use")[-1]
    finally:
        srv.stop()


def distroless(url, repo, tag="1"):
    status_d = open(os.path.join(SHARED, "testdata/pkgdb/dpkg/syft-statusd-coreutils/input/var/lib/dpkg/status.d/"
                                 "coreutils-relationships"), "rb").read()
    osr = b'PRETTY_NAME="Distroless"\nID=debian\nVERSION_ID="12"\n'
    return push_layers(url, repo, tag, {"etc/os-release": osr, "var/lib/dpkg/status.d/coreutils": status_d})


def test_suppressions_and_pull_policy(full_db, tmp_path):
    srv = server_with_db(tmp_path, full_db)
    try:
        distroless(srv.url, "t/app")
        a = wait(srv.url, "t/app", "1")
        assert a["status"] == "Unhealthy"
        total = a["counts"]["total"]
        api = f"{srv.url}/api/v1"
        # a rule needs a reason and a valid severity list
        r = requests.post(f"{api}/suppressions", json={"vulnerability": "CVE-2023-4911"})
        assert r.status_code == 400 and "reason" in r.text
        r = requests.post(f"{api}/suppressions", json={"severity": "SEVERE", "reason": "x"})
        assert r.status_code == 400 and "severity" in r.text
        r = requests.post(f"{api}/suppressions", json={"vulnerability": "CVE-2023-4911", "reason": "not reachable here"})
        assert r.status_code == 201, r.text
        rule = r.json()["id"]
        r = requests.post(f"{api}/suppressions", json={"vulnerability": "CVE-2024-33601", "repository": "other/*",
                                                       "reason": "elsewhere only"})
        assert r.status_code == 201
        b = requests.get(f"{api}/images", params={"repository": "t/app", "reference": "1", "limit": 1000}).json()
        hit = [f for f in b["findings"] if f["id"] == "CVE-2023-4911"]
        assert hit and hit[0]["suppressed"] == {"rule": rule, "reason": "not reachable here"}
        other = [f for f in b["findings"] if f["id"] == "CVE-2024-33601"]
        assert other and "suppressed" not in other[0]  # the repository pattern does not match
        assert b["counts"]["total"] == total - len(hit) and b["counts"]["suppressed"] == len(hit)
        # the pull gate
        r = requests.put(f"{api}/namespaces/t/policy", json={"deny_pull_at_or_above": "SEVERE"})
        assert r.status_code == 400
        assert requests.put(f"{api}/namespaces/t/policy", json={"deny_pull_at_or_above": "HIGH"}).status_code == 200
        r = requests.get(f"{srv.url}/v2/t/app/manifests/1", headers={"Accept": OCI_MANIFEST})
        high = [f for f in b["findings"] if f["severity"] in ("HIGH", "CRITICAL") and "suppressed" not in f]
        assert high, "the fixture has HIGH findings besides the suppressed one"
        assert r.status_code == 403 and r.json()["errors"][0]["code"] == "DENIED"
        assert high[0]["id"] in r.json()["errors"][0]["detail"]
        # clients such as docker show only the message: it says why, not just "denied"
        assert r.json()["errors"][0]["message"].startswith("namespace 't' refuses pulls of images with HIGH")
        assert "CVE-2023-4911" not in r.json()["errors"][0]["detail"]  # suppressed findings do not block
        # suppress everything: Healthy, and the pull goes through
        r = requests.post(f"{api}/suppressions", json={"severity": "CRITICAL,HIGH,MEDIUM,LOW,NEGLIGIBLE,UNKNOWN",
                                                       "repository": "t/*", "reason": "accepted risk"})
        assert r.status_code == 201
        c = requests.get(f"{api}/images", params={"repository": "t/app", "reference": "1"}).json()
        assert c["status"] == "Healthy" and c["counts"]["total"] == 0
        s = requests.get(f"{api}/summary").json()  # a rule covers t/app: its report is read
        assert s["images_by_status"] == {"Healthy": 1} and sum(s["findings_by_severity"].values()) == 0
        assert requests.get(f"{srv.url}/v2/t/app/manifests/1", headers={"Accept": OCI_MANIFEST}).status_code == 200
        assert requests.delete(f"{api}/suppressions/{r.json()['id']}").status_code == 204
        assert requests.delete(f"{api}/suppressions/{r.json()['id']}").status_code == 404
        assert requests.get(f"{srv.url}/v2/t/app/manifests/1").status_code == 403
        assert requests.put(f"{api}/namespaces/t/policy", json={}).json()["deny_pull_at_or_above"] is None
        assert requests.get(f"{srv.url}/v2/t/app/manifests/1").status_code == 200
        rules = requests.get(f"{api}/suppressions").json()["suppressions"]
        assert len(rules) == 2 and all(not x["expired"] for x in rules)
        # no rule covers t/app any more: the counts stored with the assessment decide
        for x in rules:
            assert requests.delete(f"{api}/suppressions/{x['id']}").status_code == 204
        s = requests.get(f"{api}/summary").json()
        assert s["images_by_status"] == {"Unhealthy": 1} and s["unfixed_findings"] == a["counts"]["unfixed"]
        assert s["findings_by_severity"] == {k: a["counts"][k] for k in s["findings_by_severity"]}
        one = requests.get(f"{api}/repositories", params={"repository": "t/app"}).json()["images"][0]
        assert one["counts"] == s["findings_by_severity"] and one["status"] == "Unhealthy"
        assert requests.put(f"{api}/namespaces/t/policy", json={"deny_pull_at_or_above": "CRITICAL"}).status_code == 200
        want = 403 if a["counts"]["CRITICAL"] else 200
        assert requests.get(f"{srv.url}/v2/t/app/manifests/1").status_code == want
    finally:
        srv.stop()


def test_podman_push_is_assessed(full_db, images, tmp_path):
    """podman (daemonless, vfs) pulls an image and pushes it to another repository: its layers
    come by cross-repository mount (no upload, no blob commit) and the assessment equals the
    first one's."""
    import tempfile
    srv = server_with_db(tmp_path, full_db)
    store = tempfile.mkdtemp(prefix="drydock-podman-")
    host = srv.url.split("://")[1]
    podman = ["podman", "--root", f"{store}/root", "--runroot", f"{store}/run", "--tmpdir", f"{store}/tmp", "--storage-driver", "vfs",
              "--cgroup-manager", "cgroupfs", "--events-backend", "none"]
    try:
        skopeo_push(os.path.join(images, "debian-min"), srv.url, "pm/src:1")
        first = wait(srv.url, "pm/src", "1")
        subprocess.run(podman + ["pull", "-q", "--tls-verify=false", f"{host}/pm/src:1"], check=True,
                       capture_output=True)
        subprocess.run(podman + ["push", "-q", "--tls-verify=false", f"{host}/pm/src:1", f"docker://{host}/pm/dst:1"],
                       check=True, capture_output=True)
        second = wait(srv.url, "pm/dst", "1")
        key = lambda f: (f["id"], f["package"], f["fixed_version"])  # noqa: E731
        assert second["status"] == first["status"] == "Unhealthy"
        assert sorted(map(key, second["findings"])) == sorted(map(key, first["findings"]))
    finally:
        subprocess.run(podman + ["rmi", "-a", "-f"], capture_output=True)
        shutil.rmtree(store, ignore_errors=True)
        srv.stop()


def test_an_os_without_packages_is_not_applicable(full_db, tmp_path):
    """An image whose operating system is known but which has no package database at all is
    NotApplicable with the reason, not Healthy with "no vulnerabilities"; one with a database
    whose packages have no finding is Healthy. `drydock scan` says the same of such a tree."""
    srv = server_with_db(tmp_path, full_db)
    try:
        push_layers(srv.url, "t/bare", "1", {"etc/os-release": b'ID=debian\nVERSION_ID="12"\n'})
        a = wait(srv.url, "t/bare", "1")
        assert a["status"] == "NotApplicable" and a["packages"] == 0, a
        assert a["reason"] == "no installed package found (the operating system is debian 12): nothing to match"
        push_layers(srv.url, "t/clean", "1", CLEAN)
        c = wait(srv.url, "t/clean", "1")
        assert c["status"] == "Healthy" and c["packages"] == 1 and not c["findings"], c
    finally:
        srv.stop()
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/os-release").write_bytes(b'ID=debian\nVERSION_ID="12"\n')
    out = json.loads(subprocess.run([BIN, "scan", "--db", full_db, "--format", "json", str(root)], check=True,
                                    capture_output=True, text=True).stdout)
    assert out["status"] == "NotApplicable" and "no installed package found" in out["reason"]


def test_a_rule_for_one_image(full_db, tmp_path):
    """A suppression rule scoped to one image digest (with its repository) suppresses that
    image's findings only; another image of the same repository keeps them. A digest without a
    repository, or one that is not a digest, is refused with the reason."""
    srv = server_with_db(tmp_path, full_db)
    try:
        api = f"{srv.url}/api/v1/suppressions"
        one = distroless(srv.url, "t/app", "1")
        two = push_layers(srv.url, "t/app", "2", {**CLEAN, "var/lib/dpkg/status": (
            b"Package: zlib1g\nStatus: install ok installed\nArchitecture: amd64\nSource: zlib\n"
            b"Version: 1:1.2.13.dfsg-1\n\n")})
        a1, a2 = wait(srv.url, "t/app", "1"), wait(srv.url, "t/app", "2")
        assert a1["status"] == a2["status"] == "Unhealthy"
        r = requests.post(api, json={"repository": "t/app", "digest": one, "reason": "this build is retired"})
        assert r.status_code == 201, r.text
        assert r.json()["digest"] == one
        a1 = requests.get(f"{srv.url}/api/v1/images", params={"repository": "t/app", "reference": "1"}).json()
        a2 = requests.get(f"{srv.url}/api/v1/images", params={"repository": "t/app", "reference": "2"}).json()
        assert a1["status"] == "Healthy" and a1["counts"]["suppressed"] == len(a1["findings"]) > 0
        assert all(f["suppressed"]["reason"] == "this build is retired" for f in a1["findings"])
        assert a2["status"] == "Unhealthy" and not any("suppressed" in f for f in a2["findings"]), two
        for bad, word in (({"digest": one, "reason": "x"}, "repository"),
                          ({"repository": "t/app", "digest": "sha256:abc", "reason": "x"}, "digest")):
            r = requests.post(api, json=bad)
            assert r.status_code == 400 and word in r.text, r.text
    finally:
        srv.stop()


def test_status_gates_and_unknown(full_db, tmp_path):
    """A namespace that wants nothing unscanned to run refuses pulls of images not assessed yet
    (scanning off for it, so nothing ever is), Failed and NotApplicable, each gate on its own and
    only when asked; an index is let through (its platforms are gated one by one). UNKNOWN
    findings count as a chosen severity against the threshold."""
    srv = server_with_db(tmp_path, full_db)
    accept = {"Accept": f"{OCI_MANIFEST}, application/vnd.oci.image.index.v1+json"}
    pull = lambda repo, ref="1": requests.get(f"{srv.url}/v2/{repo}/manifests/{ref}", headers=accept)  # noqa: E731
    policy = lambda ns, body: requests.put(f"{srv.url}/api/v1/namespaces/{ns}/policy", json=body)  # noqa: E731
    try:
        push_layers(srv.url, "g/failed", "1", None)  # no layer at all: NotApplicable (scratch)
        failed = push_layers(srv.url, "g/broken", "1", {"etc/os-release": b'ID=debian\nVERSION_ID="12"\n'})
        wait(srv.url, "g/broken", "1")
        # a layer that is not gzip: Failed
        s = requests.Session()
        blob = b"this is not a layer"
        cfg = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers"}}).encode()
        m = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                        "config": {"mediaType": OCI_CONFIG, "digest": push_blob(s, srv.url, "g/bad", cfg), "size": len(cfg)},
                        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                    "digest": push_blob(s, srv.url, "g/bad", blob), "size": len(blob)}]}).encode()
        assert s.put(f"{srv.url}/v2/g/bad/manifests/1", data=m, headers={"Content-Type": OCI_MANIFEST}).status_code == 201
        assert wait(srv.url, "g/bad", "1")["status"] == "Failed"
        assert wait(srv.url, "g/failed", "1")["status"] == "NotApplicable"
        # an index of the NotApplicable image
        index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": failed, "size": len(pull("g/broken").content),
             "platform": {"os": "linux", "architecture": "amd64"}}]})
        assert requests.put(f"{srv.url}/v2/g/broken/manifests/multi", data=index,
                            headers={"Content-Type": "application/vnd.oci.image.index.v1+json"}).status_code == 201
        assert all(pull(r).status_code == 200 for r in ("g/failed", "g/broken", "g/bad"))
        # scanning off for namespace h: its images are never assessed
        assert requests.put(f"{srv.url}/api/v1/namespaces/h/scanning", params={"enabled": "false"}).status_code == 200

        assert policy("g", {"deny_failed": True}).status_code == 200
        r = pull("g/bad")
        assert r.status_code == 403 and "refuses pulls of images that are Failed" in r.text, r.text
        assert pull("g/failed").status_code == 200 and pull("g/broken").status_code == 200
        assert policy("g", {"deny_not_applicable": True}).status_code == 200
        assert pull("g/bad").status_code == 200
        r = pull("g/failed")
        assert r.status_code == 403 and "NotApplicable (" in r.text, r.text
        assert pull("g/broken", "multi").status_code == 200  # the index itself
        assert pull("g/broken").status_code == 403  # its platform

        assert policy("h", {"deny_unassessed": True}).status_code == 200
        push_layers(srv.url, "h/app", "1", CLEAN)
        st = wait(srv.url, "h/app", "1")
        assert st["status"] == "NotApplicable"  # scanning disabled: assessed as NotApplicable, not unassessed
        assert pull("h/app").status_code == 200

        # UNKNOWN findings: under a LOW threshold they do not count, as HIGH they do
        distroless(srv.url, "u/app")
        a = wait(srv.url, "u/app", "1")
        assert a["counts"]["UNKNOWN"] > 0 and a["counts"]["CRITICAL"] == 0
        assert policy("u", {"deny_pull_at_or_above": "CRITICAL"}).status_code == 200
        assert pull("u/app").status_code == 200
        assert policy("u", {"deny_pull_at_or_above": "CRITICAL", "unknown_as": "CRITICAL"}).json()["unknown_as"] == "CRITICAL"
        r = pull("u/app")
        assert r.status_code == 403 and "UNKNOWN CVE-" in r.text, r.text
        for bad in ({"unknown_as": "SEVERE"}, {"deny_failed": 1}, {"deny_everything": True}):
            assert policy("u", bad).status_code == 400, bad
    finally:
        srv.stop()


def test_unassessed_gate(full_db, tmp_path):
    """An image no scanner has assessed (a registry run without scan workers) is refused under
    deny_unassessed, and allowed without it."""
    (tmp_path / "noscan").mkdir()
    srv = server_with_db(tmp_path / "noscan", full_db, "--scan-workers", "0")
    try:
        push_layers(srv.url, "n/app", "1", CLEAN)
        get = lambda: requests.get(f"{srv.url}/v2/n/app/manifests/1", headers={"Accept": OCI_MANIFEST})  # noqa: E731
        assert get().status_code == 200
        assert requests.put(f"{srv.url}/api/v1/namespaces/n/policy", json={"deny_unassessed": True}).status_code == 200
        r = get()
        assert r.status_code == 403 and "refuses pulls of images that are not assessed yet" in r.text, r.text
    finally:
        srv.stop()


def test_usage_counts_scanned_images(full_db, tmp_path):
    """Usage counts what was scanned: one per image whose layers were read (an index's platforms
    each once), never the index, an artifact, a re-tag, a re-assessment or a push to a namespace
    with scanning off."""
    srv = server_with_db(tmp_path, full_db)
    usage = lambda: {u["namespace"]: u["scans"] for u in requests.get(f"{srv.url}/api/v1/usage").json()["usage"]}  # noqa: E731
    try:
        a = distroless(srv.url, "m/app", "1")
        b = push_layers(srv.url, "m/app", "2", CLEAN)
        wait(srv.url, "m/app", "1")
        wait(srv.url, "m/app", "2")
        assert usage() == {"m": 2}
        index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": d, "size": len(requests.get(
                f"{srv.url}/v2/m/app/manifests/{d}", headers={"Accept": OCI_MANIFEST}).content),
             "platform": {"os": "linux", "architecture": arch}} for d, arch in ((a, "amd64"), (b, "arm64"))]})
        assert requests.put(f"{srv.url}/v2/m/app/manifests/multi", data=index,
                            headers={"Content-Type": "application/vnd.oci.image.index.v1+json"}).status_code == 201
        wait(srv.url, "m/app", "multi")
        assert usage() == {"m": 2}, ("index", usage())
        m1 = requests.get(f"{srv.url}/v2/m/app/manifests/1", headers={"Accept": OCI_MANIFEST}).content
        assert requests.put(f"{srv.url}/v2/m/app/manifests/retag", data=m1,
                            headers={"Content-Type": OCI_MANIFEST}).status_code == 201
        time.sleep(0.5)
        assert usage() == {"m": 2}, ("retag", usage())
        push_layers(srv.url, "m/art", "1", {"sbom.json": b"{}"}, config={"x": 1},
                    config_type="application/vnd.example.artifact+json")
        wait(srv.url, "m/art", "1")
        assert requests.put(f"{srv.url}/api/v1/namespaces/off/scanning", params={"enabled": "false"}).status_code == 200
        push_layers(srv.url, "off/app", "1", CLEAN)
        wait(srv.url, "off/app", "1")
        time.sleep(0.5)
        assert usage() == {"m": 2}, usage()
    finally:
        srv.stop()


def test_ubuntu_tracker_status_kept_and_filtered(full_db, tmp_path):
    """Ubuntu's tracker says of an unfixed CVE needed, needs-triage, deferred or pending: each
    finding keeps it, and the image API filters on it (?tracker_status=)."""
    srv = server_with_db(tmp_path, full_db)
    try:
        status = (b"Package: binutils\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.38-4ubuntu2\n\n"
                  b"Package: libxml2\nStatus: install ok installed\nArchitecture: amd64\n"
                  b"Version: 2.9.13+dfsg-1build1\n\n")
        push_layers(srv.url, "u/app", "1", {"etc/os-release": b'ID=ubuntu\nVERSION_ID="22.04"\nVERSION_CODENAME=jammy\n',
                                            "var/lib/dpkg/status": status})
        a = wait(srv.url, "u/app", "1")
        states = {f.get("tracker_status") for f in a["findings"]}
        assert {"needed", "needs-triage"} <= states, states
        for want in ("needs-triage", "needed,deferred"):
            got = requests.get(f"{srv.url}/api/v1/images", params={"repository": "u/app", "reference": "1",
                                                                   "tracker_status": want, "limit": 1000}).json()
            assert got["findings"] and all(f["tracker_status"] in want.split(",") for f in got["findings"])
            assert len(got["findings"]) == sum(f.get("tracker_status") in want.split(",") for f in a["findings"])
    finally:
        srv.stop()
