"""drydock gc: removes exactly the blobs no manifest names (and files with no record), after a
grace period, while the registry keeps serving; nothing a stored manifest needs is ever removed."""
import glob
import json
import os
import subprocess
import sys
import threading
import time

import pytest
import requests

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from drydock import (BIN, LAYER, ON_S3, OCI_CONFIG, OCI_INDEX, OCI_MANIFEST, Server, make_image, push_blob,  # noqa: E402
                     sha256)

FOREIGN = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"


@pytest.fixture
def srv():
    s = Server().start()
    yield s
    s.stop()


def gc(srv, *args):
    r = subprocess.run([BIN, "gc", "--data", srv.data_dir, "--list", *args], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    listed = {line.split()[0] for line in r.stdout.splitlines() if line.startswith("sha256:")}
    return listed, r.stdout


def blob_file(srv, digest):
    hexd = digest.split(":")[1]
    return os.path.join(srv.data_dir, "blobs", "sha256", hexd[:2], hexd)


def put_manifest(http, base, repo, ref, body):
    return http.put(f"{base}/v2/{repo}/manifests/{ref}", data=body, headers={"Content-Type": OCI_MANIFEST})


def manifest(config, config_body, layers):
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                       "config": {"mediaType": OCI_CONFIG, "digest": config, "size": len(config_body)},
                       "layers": [{"mediaType": mt, "digest": sha256(b), "size": len(b)} for mt, b in layers]}).encode()


def test_collects_only_what_no_manifest_names(srv):
    http, base = requests.Session(), srv.url
    one = make_image(http, base, "gc/one", seed=b"one")
    assert put_manifest(http, base, "gc/one", "v1", one).status_code == 201
    one_config, one_layer = json.loads(one)["config"]["digest"], json.loads(one)["layers"][0]["digest"]
    # gc/two names gc/one's layer (mounted), its own config, and a foreign layer it pushed anyway
    cfg2 = b'{"architecture":"amd64","os":"linux","two":1}'
    foreign = b"foreign layer bytes"
    r = http.post(f"{base}/v2/gc/two/blobs/uploads/?mount={one_layer}&from=gc/one")
    assert r.status_code == 201
    push_blob(http, base, "gc/two", cfg2)
    push_blob(http, base, "gc/two", foreign)
    two = manifest(sha256(cfg2), cfg2, [(LAYER, b"layer-one"), (FOREIGN, foreign)])
    assert put_manifest(http, base, "gc/two", "v1", two).status_code == 201
    stray = push_blob(http, base, "gc/one", b"a blob no manifest names")
    # gc/one's manifest goes: its config is named by nothing now, its layer still by gc/two
    assert http.delete(f"{base}/v2/gc/one/manifests/{sha256(one)}").status_code == 202
    time.sleep(1.1)  # the grace period counts whole seconds

    listed, out = gc(srv, "--grace", "0s")
    assert listed == {one_config, stray}, out
    assert "removed 2 blobs" in out and "0 files with no record" in out
    for d in (one_config, stray):
        assert not os.path.exists(blob_file(srv, d))
        assert http.get(f"{base}/v2/gc/one/blobs/{d}").status_code == 404
    for d, body in ((one_layer, b"layer-one"), (sha256(cfg2), cfg2), (sha256(foreign), foreign)):
        r = http.get(f"{base}/v2/gc/two/blobs/{d}")
        assert r.status_code == 200 and r.content == body, d
    assert http.get(f"{base}/v2/gc/two/manifests/v1").content == two
    listed, out = gc(srv, "--grace", "0s")  # nothing more to do
    assert "removed 0 blobs" in out


def test_grace_dry_run_and_reupload(srv):
    http, base = requests.Session(), srv.url
    stray = push_blob(http, base, "gc/grace", b"stray bytes")
    time.sleep(1.1)
    listed, out = gc(srv)  # default grace: an hour
    assert not listed and "removed 0 blobs" in out
    listed, out = gc(srv, "--grace", "0s", "--dry-run")
    assert listed == {stray} and "would remove 1 blobs" in out
    assert http.get(f"{base}/v2/gc/grace/blobs/{stray}").status_code == 200  # a dry run removes nothing
    # uploading the same bytes again restarts its grace period (times are whole seconds: a
    # blob last uploaded at second S goes once S < now - grace). 5 s: a gc's start on PostgreSQL
    # and S3 (a connection, a bucket check) may take more than a second on a loaded machine
    time.sleep(6.1)
    push_blob(http, base, "gc/grace", b"stray bytes")
    listed, out = gc(srv, "--grace", "5s")
    assert not listed, out
    assert http.get(f"{base}/v2/gc/grace/blobs/{stray}").status_code == 200
    time.sleep(6.1)
    listed, out = gc(srv, "--grace", "5s")
    assert listed == {stray}
    assert http.get(f"{base}/v2/gc/grace/blobs/{stray}").status_code == 404


def test_manifest_after_its_blobs_were_collected_is_refused(srv):
    http, base = requests.Session(), srv.url
    body = make_image(http, base, "gc/late", seed=b"late")
    time.sleep(1.1)
    gc(srv, "--grace", "0s")
    r = put_manifest(http, base, "gc/late", "v1", body)
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == "MANIFEST_BLOB_UNKNOWN"
    make_image(http, base, "gc/late", seed=b"late")  # the client pushes its blobs again
    assert put_manifest(http, base, "gc/late", "v1", body).status_code == 201


@pytest.mark.skipif(ON_S3, reason="writes blob files into the data directory: storage = filesystem")
def test_files_with_no_record(srv):
    old = sha256(b"orphan")
    young = sha256(b"young orphan")
    for d, body in ((old, b"orphan"), (young, b"young orphan")):
        os.makedirs(os.path.dirname(blob_file(srv, d)), exist_ok=True)
        with open(blob_file(srv, d), "wb") as f:
            f.write(body)
    two_hours_ago = time.time() - 7200
    os.utime(blob_file(srv, old), (two_hours_ago, two_hours_ago))
    odd = os.path.join(srv.data_dir, "blobs", "sha256", "zz")
    os.makedirs(odd, exist_ok=True)
    with open(os.path.join(odd, "not-a-digest"), "w") as f:
        f.write("x")
    listed, out = gc(srv)  # default grace: the young one stays
    assert listed == {old} and "1 files with no record" in out, out
    assert not os.path.exists(blob_file(srv, old))
    assert os.path.exists(blob_file(srv, young)) and os.path.exists(os.path.join(odd, "not-a-digest"))


def test_concurrent_pushes_lose_nothing(srv):
    """gc with no grace at all, over and over, while four clients push: a push may be refused
    (its blobs went before its manifest came) and is retried, but every manifest the registry
    accepted keeps every blob it names, byte for byte."""
    base = srv.url
    stop = threading.Event()
    runs, errors, began = [], [], []

    def collector():
        while not stop.is_set():
            t0 = time.time()
            r = subprocess.run([BIN, "gc", "--data", srv.data_dir, "--grace", "0s"], capture_output=True,
                               text=True)
            runs.append(r.returncode)
            began.append(t0)  # a run that began then has ended
            if r.returncode:
                errors.append(r.stderr)

    accepted, refused = [], []

    def pusher(k):
        http = requests.Session()
        for i in range(12):
            repo, seed = f"gc/busy{k}", f"{k}-{i}".encode()
            for attempt in range(20):
                body = make_image(http, base, repo, seed=seed)
                if i % 3 == 0 and attempt == 0:  # a whole collection between the blobs and the manifest
                    pushed, deadline = time.time(), time.time() + 120
                    while not any(t0 >= pushed + 1.05 for t0 in began) and time.time() < deadline:
                        time.sleep(0.05)  # (one begun once the blobs' second has passed removes them)
                r = put_manifest(http, base, repo, f"t{i}", body)
                if r.status_code == 201:
                    accepted.append((repo, body))
                    break
                assert r.status_code == 400 and r.json()["errors"][0]["code"] == "MANIFEST_BLOB_UNKNOWN", r.text
                refused.append(repo)
            else:
                errors.append(f"{repo} t{i} never accepted")

    t = threading.Thread(target=collector)
    t.start()
    pushers = [threading.Thread(target=pusher, args=(k,)) for k in range(4)]
    for p in pushers:
        p.start()
    for p in pushers:
        p.join()
    stop.set()
    t.join()
    assert not errors, errors
    assert len(runs) >= 3 and len(accepted) == 48
    assert len(refused) >= 16, refused  # each pause let a collection in: the refusal path was taken
    gc(srv, "--grace", "0s")
    http = requests.Session()
    for repo, body in accepted:
        m = json.loads(body)
        for desc in [m["config"]] + m["layers"]:
            r = http.get(f"{base}/v2/{repo}/blobs/{desc['digest']}")
            assert r.status_code == 200 and sha256(r.content) == desc["digest"], (repo, desc)
    if not ON_S3:  # (on S3 the blob listing is tests/store/test_s3.py's)
        leftovers = glob.glob(os.path.join(srv.data_dir, "blobs", "sha256", "*", "*"))
        assert len(leftovers) == 2 * len(accepted)  # each image: its own config and layer, nothing else


def test_delete_untagged(srv):
    http, base, repo = requests.Session(), srv.url, "gc/untagged"

    def image(seed, tag=None):
        body = make_image(http, base, repo, seed=seed)
        r = put_manifest(http, base, repo, tag or sha256(body), body)
        assert r.status_code == 201, r.text
        return sha256(body), body

    def index(children, tag=None):
        body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": d, "size": len(b)} for d, b in children]}).encode()
        r = http.put(f"{base}/v2/{repo}/manifests/{tag or sha256(body)}", data=body,
                     headers={"Content-Type": OCI_INDEX})
        assert r.status_code == 201, r.text
        return sha256(body), body

    empty = push_blob(http, base, repo, b"{}")

    def referrer(subject, note):
        body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/x.note",
                           "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
                           "layers": [{"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2}],
                           "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": 1},
                           "annotations": {"note": note}}).encode()
        assert put_manifest(http, base, repo, sha256(body), body).status_code == 201
        return sha256(body), body

    tagged = image(b"tagged", "keep")
    by_digest = image(b"by-digest")
    c1, c2 = image(b"child1"), image(b"child2")
    multi = index([c1, c2], "multi")
    inner = image(b"inner")
    outer = index([inner])  # an untagged index: it goes first, then the child it alone named
    r_kept = referrer(tagged[0], "on a tagged image")
    r_orphaned = referrer(by_digest[0], "on an image that goes")
    r_lost = referrer(sha256(b"never pushed"), "on nothing")
    keep = [tagged, c1, c2, multi, r_kept]
    gone = [by_digest, outer, inner, r_orphaned, r_lost]
    time.sleep(1.1)

    listed, out = gc(srv, "--delete-untagged")  # the default grace keeps everything this young
    assert "removed 0 untagged manifests" in out
    listed, out = gc(srv, "--grace", "0s")  # without the flag no manifest is touched
    assert "untagged" not in out
    for d, _ in gone:
        assert http.get(f"{base}/v2/{repo}/manifests/{d}").status_code == 200
    _, out = gc(srv, "--grace", "0s", "--delete-untagged", "--dry-run")
    round_one = {line.split("@")[1].split()[0] for line in out.splitlines() if "(untagged manifest)" in line}
    assert round_one == {by_digest[0], outer[0], r_lost[0]}, out
    assert http.get(f"{base}/v2/{repo}/manifests/{by_digest[0]}").status_code == 200

    listed, out = gc(srv, "--grace", "0s", "--delete-untagged")
    deleted = {line.split("@")[1].split()[0] for line in out.splitlines() if "(untagged manifest)" in line}
    assert deleted == {d for d, _ in gone}, out
    for d, _ in gone:
        assert http.get(f"{base}/v2/{repo}/manifests/{d}").status_code == 404
    for d, body in keep:
        r = http.get(f"{base}/v2/{repo}/manifests/{d}")
        assert r.status_code == 200 and r.content == body
        m = json.loads(body)
        for desc in ([m["config"]] + m["layers"]) if "config" in m else []:
            assert http.get(f"{base}/v2/{repo}/blobs/{desc['digest']}").status_code == 200
    for d, body in (by_digest, inner):  # the blobs only the deleted images named went with them
        m = json.loads(body)
        for desc in [m["config"]] + m["layers"]:
            assert desc["digest"] in listed
            assert not os.path.exists(blob_file(srv, desc["digest"]))
    assert empty not in listed  # still named by the referrer that stays
    refs = http.get(f"{base}/v2/{repo}/referrers/{tagged[0]}").json()["manifests"]
    assert [x["digest"] for x in refs] == [r_kept[0]]
    audit = http.get(f"{base}/api/v1/audit?n=1000").json()
    entries = audit["entries"] if isinstance(audit, dict) else audit
    gc_entries = {e["target"] for e in entries if e["action"] == "gc-delete"}
    assert gc_entries == {f"{repo}@{d}" for d, _ in gone}


def test_server_collects_on_a_schedule():
    s = Server(extra_args=["--gc-interval", "1", "--gc-grace", "0", "--gc-delete-untagged", "true"]).start()
    try:
        http, base = requests.Session(), s.url
        kept = make_image(http, base, "gc/sched", seed=b"kept")
        assert put_manifest(http, base, "gc/sched", "v1", kept).status_code == 201
        untagged = make_image(http, base, "gc/sched", seed=b"untagged")
        assert put_manifest(http, base, "gc/sched", sha256(untagged), untagged).status_code == 201
        stray = push_blob(http, base, "gc/sched", b"stray, collected by the server itself")
        deadline = time.time() + 60
        while time.time() < deadline and http.get(f"{base}/v2/gc/sched/blobs/{stray}").status_code != 404:
            time.sleep(0.2)
        assert http.get(f"{base}/v2/gc/sched/blobs/{stray}").status_code == 404
        while time.time() < deadline and http.get(f"{base}/v2/gc/sched/manifests/{sha256(untagged)}").status_code != 404:
            time.sleep(0.2)
        assert http.get(f"{base}/v2/gc/sched/manifests/{sha256(untagged)}").status_code == 404
        assert http.get(f"{base}/v2/gc/sched/manifests/v1").content == kept
        for desc in [json.loads(kept)["config"]] + json.loads(kept)["layers"]:
            assert http.get(f"{base}/v2/gc/sched/blobs/{desc['digest']}").status_code == 200
        while time.time() < deadline and "gc: removed" not in open(s.log_path).read():
            time.sleep(0.2)  # logged when the whole run ends, after the blob's 404
        with open(s.log_path) as f:
            assert "gc: removed" in f.read()
    finally:
        s.stop()


def test_settings_from_the_config_file(srv, tmp_path):
    http, base = requests.Session(), srv.url
    stray = push_blob(http, base, "gc/conf", b"stray, for the config file's grace")
    conf = tmp_path / "drydock.conf"
    conf.write_text(f"data = {srv.data_dir}\ngc-grace = 0\n")
    time.sleep(1.1)
    r = subprocess.run([BIN, "gc", "--config", str(conf), "--grace", "1h"], capture_output=True, text=True)
    assert r.returncode == 0 and "removed 0 blobs" in r.stdout, r.stdout + r.stderr  # the flag wins
    r = subprocess.run([BIN, "gc", "--config", str(conf)], capture_output=True, text=True)
    assert r.returncode == 0 and "removed 1 blobs" in r.stdout, r.stdout + r.stderr
    assert http.get(f"{base}/v2/gc/conf/blobs/{stray}").status_code == 404


def test_layer_cache_kept_to_the_blobs_it_describes(srv):
    """The layer cache (DATA/cache/layers, what each layer held, by digest) never outgrows the blobs
    it describes: gc removes the entries of blobs that are gone, temporary files an interrupted
    write left, and, beyond the blobs' bytes (with 64 MiB of slack), the entries largest next to
    their blob; what fits, and files that are not entries, stay."""
    http, base = requests.Session(), srv.url
    m = make_image(http, base, "gc/cache", seed=b"cache")
    assert put_manifest(http, base, "gc/cache", "v1", m).status_code == 201
    config, layer = json.loads(m)["config"]["digest"], json.loads(m)["layers"][0]["digest"]
    cache = os.path.join(srv.data_dir, "cache", "layers")
    os.makedirs(cache, exist_ok=True)

    def entry(digest):
        return os.path.join(cache, digest.replace(":", "-"))

    open(entry(layer), "wb").write(b"x" * 100)  # fits: kept
    gone = sha256(b"a blob that was never stored, or was collected")
    open(entry(gone), "wb").write(b"x" * 100)
    with open(entry(config), "wb") as f:  # 100 MiB for a blob of a few dozen bytes
        f.truncate(100 << 20)
    stale = entry(layer) + ".tmp-AbC123"
    open(stale, "wb").write(b"half")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    fresh = entry(layer) + ".tmp-XyZ789"  # a write in progress
    open(fresh, "wb").write(b"half")
    foreign = os.path.join(cache, "README")
    open(foreign, "wb").write(b"not an entry")

    r = subprocess.run([BIN, "gc", "--data", srv.data_dir, "--dry-run"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "would remove 3 layer cache entries" in r.stdout, r.stdout + r.stderr
    assert os.path.exists(entry(config)) and os.path.exists(entry(gone)) and os.path.exists(stale)

    listed, out = gc(srv, "--grace", "1h")
    assert "removed 3 layer cache entries (100.0 MiB)" in out, out
    assert "cache/layers/" + os.path.basename(entry(gone)) + " 100 (layer cache: its blob is gone)" in out
    assert not os.path.exists(entry(gone)) and not os.path.exists(entry(config)) and not os.path.exists(stale)
    assert os.path.exists(entry(layer)) and os.path.exists(fresh) and os.path.exists(foreign)
    assert listed == set(), out  # no blob went: only the cache was trimmed
    assert http.get(f"{base}/v2/gc/cache/manifests/v1").content == m
