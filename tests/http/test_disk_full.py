"""A full disk, for real: the data directory on a small tmpfs, pushed until it is full.

Pushes are refused with 507 and a message naming what could not be stored; /healthz says the
disk is low, then full, with the free bytes; a manifest DELETE and `drydock gc` still work
(the reserve file gives SQLite room to commit them) and free space; pushes work again
afterwards; and nothing that was acknowledged is lost, across a restart too.

Needs root: each test mounts a tmpfs (no loop device needed) and skips, saying why, only when
that is impossible (not root, or no permission to mount, as in an unprivileged container)."""
import json
import os
import subprocess
import sys
import time

import pytest
import requests

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from drydock import BIN, LAYER, ON_PG, ON_S3, OCI_CONFIG, OCI_MANIFEST, Server, sha256  # noqa: E402

MiB = 1 << 20
REPO = "disk/full"


@pytest.fixture
def small_fs(tmp_path):
    """A 64 MiB tmpfs of its own (umounted afterwards)."""
    mnt = tmp_path / "fs"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("needs root: mounts a 64 MiB tmpfs for the data directory")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if r.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({r.stderr.strip()}): needs root with the right to mount")
    try:
        yield str(mnt)
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def server_on(fs, tmp_path, *args):
    s = Server(data_dir=os.path.join(fs, "data"), extra_args=["--scan-workers", "0", *args])
    s.log_path = str(tmp_path / "server.log")  # the log must not need the full disk
    return s


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def fill(path, name, until_free=0):
    """Another user of the filesystem writes a file until less than until_free bytes are free
    (0: until the filesystem refuses another byte)."""
    fd = os.open(os.path.join(path, name), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        while free_bytes(path) >= max(until_free, 1):
            step = MiB if free_bytes(path) - until_free > MiB else 4096
            try:
                os.write(fd, os.urandom(step))
            except OSError:
                break
    finally:
        os.close(fd)


def image(tag, layer_bytes):
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "tag": tag}).encode()
    layer = os.urandom(layer_bytes)
    m = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                    "config": {"mediaType": OCI_CONFIG, "digest": sha256(cfg), "size": len(cfg)},
                    "layers": [{"mediaType": LAYER, "digest": sha256(layer), "size": len(layer)}]}).encode()
    return {"tag": tag, "config": cfg, "layer": layer, "manifest": m}


def push(http, base, img, chunked):
    """Pushes img (monolithic blob uploads, or sessions with PATCH and a closing PUT); returns the
    first answer that is not a success, or the manifest PUT's."""
    for blob in (img["config"], img["layer"]):
        if not chunked:
            r = http.post(f"{base}/v2/{REPO}/blobs/uploads/?digest={sha256(blob)}", data=blob)
            if r.status_code != 201:
                return r
            continue
        r = http.post(f"{base}/v2/{REPO}/blobs/uploads/")
        if r.status_code != 202:
            return r
        loc = base + r.headers["Location"]
        r = http.patch(loc, data=blob, headers={"Content-Range": f"0-{len(blob) - 1}"})
        if r.status_code != 202:
            return r
        r = http.put(f"{loc}?digest={sha256(blob)}")
        if r.status_code != 201:
            return r
    return http.put(f"{base}/v2/{REPO}/manifests/{img['tag']}", data=img["manifest"],
                    headers={"Content-Type": OCI_MANIFEST})


def no_space(r, *names):
    """The answer a push gets when there is no room: 507, the message naming what."""
    assert r.status_code == 507, (r.status_code, r.text)
    err = r.json()["errors"][0]
    assert err["code"] == "UNKNOWN"
    assert err["message"].startswith("no space left on the registry's storage: cannot "), err
    for n in names:
        assert n in err["message"], err
    assert "bytes free" in err["detail"] and "min-free-space" in err["detail"], err
    return err


def health(base):
    r = requests.get(f"{base}/healthz")
    assert r.status_code == 200, r.text  # a full disk still serves pulls and deletes: not 503
    return r.json()


def check_intact(http, base, kept, gone):
    for img in kept:
        r = http.get(f"{base}/v2/{REPO}/manifests/{img['tag']}", headers={"Accept": OCI_MANIFEST})
        assert r.status_code == 200 and r.content == img["manifest"], img["tag"]
        for blob in (img["config"], img["layer"]):
            r = http.get(f"{base}/v2/{REPO}/blobs/{sha256(blob)}")
            assert r.status_code == 200 and r.content == blob, img["tag"]
    for img in gone:
        assert http.get(f"{base}/v2/{REPO}/manifests/{sha256(img['manifest'])}").status_code == 404


def gc(data_dir):
    time.sleep(1.1)  # the grace period counts whole seconds: a blob of this second is kept even by --grace 0
    r = subprocess.run([BIN, "gc", "--data", data_dir, "--grace", "0"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout + r.stderr


@pytest.mark.skipif(ON_S3, reason="blobs on S3 take no room on the data directory's disk")
def test_full_disk_refuses_pushes_and_still_deletes(small_fs, tmp_path):
    s = server_on(small_fs, tmp_path, "--min-free-space", "16M", "--reserve-space", "8M").start()
    http, base = requests.Session(), s.url
    try:
        h = health(base)["storage"]
        assert h["state"] == "ok" and h["reserve_bytes"] == 8 * MiB == h["reserve_target_bytes"]
        assert h["min_free_bytes"] == 16 * MiB
        assert os.path.getsize(os.path.join(s.data_dir, "reserve")) == 8 * MiB

        # push until the registry says there is no room left above min-free-space
        pushed = []
        while True:
            img = image(f"v{len(pushed)}", 2 * MiB)
            r = push(http, base, img, chunked=len(pushed) % 2 == 1)
            if r.status_code != 201:
                break
            pushed.append(img)
            assert len(pushed) < 40, "64 MiB held more than 40 images of 2 MiB"
        assert len(pushed) >= 8
        no_space(r, f"'{REPO}'")
        assert free_bytes(small_fs) > 8 * MiB  # refused at the floor, long before the disk is full

        # another user of the filesystem takes it under the floor: low, and pushes are refused
        # (a new session, a manifest), the reserve still whole
        fill(small_fs, "other-a", until_free=12 * MiB)
        h = health(base)
        assert h["status"] == "degraded" and h["storage"]["state"] == "low", h
        assert h["storage"]["free_bytes"] < 16 * MiB and h["storage"]["reserve_bytes"] == 8 * MiB
        no_space(http.post(f"{base}/v2/{REPO}/blobs/uploads/"), f"start an upload in '{REPO}'")
        no_space(http.put(f"{base}/v2/{REPO}/manifests/again", data=pushed[1]["manifest"],
                          headers={"Content-Type": OCI_MANIFEST}), f"manifest '{REPO}:again'")

        # a restart empties SQLite's WAL, so a delete needs new room; then the disk fills up
        s.restart()
        base = s.url
        fill(small_fs, "other-b")
        h = health(base)
        assert h["status"] == "degraded" and h["storage"]["state"] == "full", h
        assert h["storage"]["free_bytes"] < 4 * MiB
        no_space(http.post(f"{base}/v2/{REPO}/blobs/uploads/?digest={sha256(b'x' * 10)}", data=b"x" * 10),
                 sha256(b"x" * 10))

        # a delete still commits: a step of the reserve is given back for it
        first = pushed.pop(0)
        r = http.delete(f"{base}/v2/{REPO}/manifests/{sha256(first['manifest'])}")
        assert r.status_code == 202, r.text
        assert health(base)["storage"]["reserve_bytes"] < 8 * MiB

        # what it gave back is taken too; drydock gc (another process) still commits, with
        # the next step, and frees the image's blobs
        fill(small_fs, "other-c")
        out = gc(s.data_dir)
        assert "removed 0 blobs" not in out, out
        for blob in (first["config"], first["layer"]):
            assert http.get(f"{base}/v2/{REPO}/blobs/{sha256(blob)}").status_code == 404

        # the space is freed by deleting and collecting: pushes work again, and the reserve is
        # made whole before any push may use the room
        gone = [first]
        while len(pushed) > 3:
            img = pushed.pop(0)
            r = http.delete(f"{base}/v2/{REPO}/manifests/{sha256(img['manifest'])}")
            assert r.status_code == 202, r.text
            gone.append(img)
        gc(s.data_dir)
        h = health(base)
        assert h["storage"]["free_bytes"] >= 16 * MiB + 8 * MiB, h
        new = image("after", 2 * MiB)
        r = push(http, base, new, chunked=True)
        assert r.status_code == 201, r.text
        pushed.append(new)
        h = health(base)
        assert h["status"] == "ok" and h["storage"]["state"] == "ok", h
        assert h["storage"]["reserve_bytes"] == 8 * MiB, h

        # nothing acknowledged is lost, nothing deleted comes back, also after a restart
        check_intact(http, base, pushed, gone)
        s.restart()
        check_intact(http, s.url, pushed, gone)
        with open(s.log_path) as f:
            log = f.read()
        assert "released" in log and "reserve" in log, log[-3000:]
    finally:
        s.stop()


@pytest.mark.skipif(ON_PG, reason="metadata on PostgreSQL takes no room on the data directory's disk")
def test_without_reserve_a_full_disk_cannot_even_delete(small_fs, tmp_path):
    """What the reserve is for: with none (reserve-space 0), a delete on a full disk is answered
    507 naming the deletion (SQLite has no room for it), and works once there is room again."""
    s = server_on(small_fs, tmp_path, "--min-free-space", "0", "--reserve-space", "0").start()
    http = requests.Session()
    try:
        imgs = [image(f"v{i}", MiB) for i in range(3)]
        for i, img in enumerate(imgs):
            assert push(http, s.url, img, chunked=i == 1).status_code == 201
        assert not os.path.exists(os.path.join(s.data_dir, "reserve"))
        s.restart()  # an empty WAL: the delete needs new room
        fill(small_fs, "other")
        digest = sha256(imgs[0]["manifest"])
        r = http.delete(f"{s.url}/v2/{REPO}/manifests/{digest}")
        assert r.status_code == 507, r.text
        err = r.json()["errors"][0]
        assert err["message"] == (f"no space left on the registry's storage: cannot record the deletion of "
                                  f"manifest '{REPO}@{digest}'"), err
        assert health(s.url)["storage"]["state"] == "full"
        os.unlink(os.path.join(small_fs, "other"))
        assert http.delete(f"{s.url}/v2/{REPO}/manifests/{digest}").status_code == 202
        check_intact(http, s.url, imgs[1:], imgs[:1])
    finally:
        s.stop()
