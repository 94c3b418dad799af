"""Kill -9 cycles: drydock is killed with SIGKILL again and again (50 times by default) while
clients push images that the scanner really assesses (real Debian package databases, matched
against a real vulnerability database), a deleter deletes acknowledged manifests and the
server collects garbage every second with no grace period. After every restart:

- every acknowledged manifest that no acknowledged DELETE removed is served, byte for byte,
  by tag and by digest, and so is every blob it names;
- every acknowledged DELETE holds (the manifest stays gone);
- an unacknowledged blob is absent or whole, never partial;
- every file in the blob store hashes to its name.

At the end every acknowledged image must reach Healthy or Unhealthy (not Failed, not stuck
in Queued or Scanning). Reports cycles, what was acknowledged, restart times and how long the
last assessments took. Writes a Markdown section. Not part of the tests (tests/crash runs
six rounds of the same idea on every `make check`).

    bench/killcycles.py --drydock build/drydock --db VULNDB --images OCI_DIR --out FILE
"""
import argparse
import gzip
import io
import json
import os
import random
import sys
import tarfile
import threading
import time

import requests

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "lib"))
import drydock  # noqa: E402
from drydock import ASSESSED, LAYER, OCI_CONFIG, OCI_MANIFEST, Server, sha256  # noqa: E402

PUSHERS = 4


def debian_files(oci_dir):
    """os-release and the dpkg status paragraphs of the first image in an OCI layout."""
    index = json.load(open(os.path.join(oci_dir, "index.json")))
    blob = lambda d: os.path.join(oci_dir, "blobs", *d.split(":"))  # noqa: E731
    manifest = json.load(open(blob(index["manifests"][0]["digest"])))
    found = {}
    for layer in manifest["layers"]:
        with tarfile.open(blob(layer["digest"]), "r:*") as t:
            for m in t:
                name = m.name.lstrip("./")
                if name in ("etc/os-release", "usr/lib/os-release", "var/lib/dpkg/status") and m.isfile():
                    found[name] = t.extractfile(m).read()
    os_release = found.get("etc/os-release") or found["usr/lib/os-release"]
    paragraphs = [p for p in found["var/lib/dpkg/status"].decode().split("\n\n") if p.strip()]
    return os_release, paragraphs


def make_layer(rnd, os_release, paragraphs):
    """A small real layer: os-release, a dpkg status of a random subset of the real packages,
    and a file of random bytes that makes it unique."""
    status = "\n\n".join(rnd.sample(paragraphs, rnd.randint(5, min(40, len(paragraphs))))) + "\n"
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as t:
        for name, data in (("etc/os-release", os_release), ("var/lib/dpkg/status", status.encode()),
                           ("opt/app/data.bin", rnd.randbytes(rnd.choice([1_000, 100_000, 1_000_000])))):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            t.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), 1)


class Ledger:
    def __init__(self):
        self.lock = threading.Lock()
        self.attempted = {}      # digest -> bytes: sent, maybe not acknowledged
        self.manifests = {}      # (repo, tag) -> manifest bytes, acknowledged and not deleted
        self.deleted = {}        # (repo, digest) -> tag: acknowledged DELETEs
        self.in_doubt = set()    # (repo, tag): a DELETE sent and never answered
        self.pushes = 0
        self.deletes = 0


def upload(http, url, repo, data, rnd, ledger):
    d = sha256(data)
    with ledger.lock:
        ledger.attempted[d] = data
    if rnd.random() < 0.5:
        r = http.post(f"{url}/v2/{repo}/blobs/uploads/?digest={d}", data=data, timeout=60)
        assert r.status_code == 201, r.text
        return d
    r = http.post(f"{url}/v2/{repo}/blobs/uploads/", timeout=60)
    assert r.status_code == 202, r.text
    loc = r.headers["Location"]
    half = len(data) // 2
    r = http.patch(url + loc, data=data[:half], headers={"Content-Range": f"0-{half - 1}"}, timeout=60)
    assert r.status_code == 202, r.text
    r = http.put(f"{url}{loc}?digest={d}", data=data[half:], timeout=60)
    assert r.status_code == 201, r.text
    return d


def pusher(url, idx, cycle, ledger, stop, failures, os_release, paragraphs):
    rnd = random.Random(cycle * 1000 + idx)
    repo = f"kill/p{idx}"
    n = 0
    with requests.Session() as http:
        try:
            while not stop.is_set():
                layer = make_layer(rnd, os_release, paragraphs)
                cfg = json.dumps({"architecture": "amd64", "os": "linux", "cycle": cycle, "n": n}).encode()
                for _ in range(20):  # gc with no grace may take blobs before the manifest names them
                    ld, cd = upload(http, url, repo, layer, rnd, ledger), upload(http, url, repo, cfg, rnd, ledger)
                    m = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                                    "config": {"mediaType": OCI_CONFIG, "digest": cd, "size": len(cfg)},
                                    "layers": [{"mediaType": LAYER, "digest": ld, "size": len(layer)}]}).encode()
                    tag = f"c{cycle}-{n}"
                    r = http.put(f"{url}/v2/{repo}/manifests/{tag}", data=m,
                                 headers={"Content-Type": OCI_MANIFEST}, timeout=60)
                    if r.status_code == 201:
                        break
                    assert r.status_code == 400 and r.json()["errors"][0]["code"] == "MANIFEST_BLOB_UNKNOWN", r.text
                else:
                    raise AssertionError(f"{repo}:{tag} never accepted")
                with ledger.lock:
                    ledger.manifests[(repo, tag)] = m
                    ledger.pushes += 1
                n += 1
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError):
            pass  # killed under us
        except AssertionError as e:
            failures.append(e)


def deleter(url, cycle, ledger, stop, failures):
    rnd = random.Random(cycle)
    with requests.Session() as http:
        try:
            while not stop.is_set():
                time.sleep(rnd.uniform(0.05, 0.3))
                with ledger.lock:
                    if len(ledger.manifests) < 20:
                        continue
                    key = rnd.choice(sorted(ledger.manifests))
                    m = ledger.manifests.pop(key)
                    ledger.in_doubt.add(key)
                repo, tag = key
                r = http.delete(f"{url}/v2/{repo}/manifests/{sha256(m)}", timeout=60)
                assert r.status_code == 202, r.text
                with ledger.lock:
                    ledger.in_doubt.discard(key)
                    ledger.deleted[(repo, sha256(m))] = tag
                    ledger.deletes += 1
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError):
            pass
        except AssertionError as e:
            failures.append(e)


def verify(url, data_dir, ledger):
    named = set()
    with requests.Session() as http:
        for (repo, tag), m in ledger.manifests.items():
            for ref in (tag, sha256(m)):
                r = http.get(f"{url}/v2/{repo}/manifests/{ref}", headers={"Accept": OCI_MANIFEST})
                assert r.status_code == 200 and r.content == m, f"lost acknowledged manifest {repo}:{ref}"
            doc = json.loads(m)
            for x in [doc["config"]] + doc["layers"]:
                named.add((repo, x["digest"]))
        for repo, d in named:
            r = http.get(f"{url}/v2/{repo}/blobs/{d}")
            assert r.status_code == 200 and r.content == ledger.attempted[d], f"lost blob {repo}@{d}"
        for (repo, d), tag in ledger.deleted.items():
            r = http.get(f"{url}/v2/{repo}/manifests/{d}", headers={"Accept": OCI_MANIFEST})
            assert r.status_code == 404, f"deleted manifest {repo}@{d} ({tag}) came back: {r.status_code}"
        # a sample of unacknowledged or collected blobs: absent or whole
        sample = random.Random(len(ledger.attempted)).sample(sorted(ledger.attempted), min(200, len(ledger.attempted)))
        for d in sample:
            for i in range(PUSHERS):
                r = http.get(f"{url}/v2/kill/p{i}/blobs/{d}")
                assert r.status_code in (200, 404), r.text
                if r.status_code == 200:
                    assert r.content == ledger.attempted[d], f"partial blob served {d}"
    root = os.path.join(data_dir, "blobs")
    files = 0
    for alg in os.listdir(root):
        import hashlib
        for dirpath, _, names in os.walk(os.path.join(root, alg)):
            for f in names:
                with open(os.path.join(dirpath, f), "rb") as fh:
                    assert hashlib.new(alg, fh.read()).hexdigest() == f, f"corrupt blob file {f}"
                files += 1
    return files


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--drydock", required=True)
    ap.add_argument("--db", required=True, help="a vulnerability database: the scanner really matches")
    ap.add_argument("--images", required=True, help="the test images' OCI directory (debian-min is read)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--cycles", type=int, default=50)
    args = ap.parse_args()
    drydock.BIN = os.path.abspath(args.drydock)
    os_release, paragraphs = debian_files(os.path.join(args.images, "debian-min"))

    s = Server(extra_args=["--gc-interval", "1", "--gc-grace", "0", "--db", os.path.abspath(args.db)])
    s.start()
    ledger = Ledger()
    rnd = random.Random(42)
    restarts, lived = [], []
    t0 = time.time()
    try:
        for cycle in range(args.cycles):
            stop, failures = threading.Event(), []
            threads = [threading.Thread(target=pusher, args=(s.url, i, cycle, ledger, stop, failures,
                                                             os_release, paragraphs)) for i in range(PUSHERS)]
            threads.append(threading.Thread(target=deleter, args=(s.url, cycle, ledger, stop, failures)))
            for t in threads:
                t.start()
            live = rnd.uniform(0.5, 3.0)
            lived.append(live)
            time.sleep(live)
            s.kill9()
            stop.set()
            for t in threads:
                t.join(120)
            assert not failures, failures
            # a DELETE never answered: either outcome is right; settle which one it was
            t1 = time.time()
            s.start()
            restarts.append(time.time() - t1)
            with requests.Session() as http:
                for repo, tag in sorted(ledger.in_doubt):
                    r = http.get(f"{s.url}/v2/{repo}/manifests/{tag}", headers={"Accept": OCI_MANIFEST})
                    assert r.status_code in (200, 404), r.text
                    if r.status_code == 200:
                        ledger.manifests[(repo, tag)] = r.content
            ledger.in_doubt.clear()
            files = verify(s.url, s.data_dir, ledger)
            print(f"cycle {cycle + 1}: {ledger.pushes} pushes and {ledger.deletes} deletes acknowledged, "
                  f"{len(ledger.manifests)} images live, {files} blob files, restart {restarts[-1]:.2f} s",
                  flush=True)
        # every live image ends assessed
        t1 = time.time()
        statuses = {}
        with requests.Session() as http:
            for repo, tag in sorted(ledger.manifests):
                doc = drydock.wait_assessed(s.url, repo, tag, timeout=300, session=http)
                statuses[doc["status"]] = statuses.get(doc["status"], 0) + 1
                assert doc["status"] in ("Healthy", "Unhealthy"), f"{repo}:{tag} ended {doc['status']}: {doc.get('reason')}"
        settle = time.time() - t1
        log = open(s.log_path, errors="replace").read()
        gc_runs = log.count("gc: removed")
    finally:
        s.stop()
    restarts.sort()
    text = f"""### Kill -9 cycles (`bench/killcycles.py`)

{args.cycles} cycles of: {PUSHERS} clients pushing images with real Debian package databases (each a
fresh small layer: a random subset of debian-min's dpkg status, assessed against the full
vulnerability database), one client deleting acknowledged manifests, garbage collection every
second with no grace period; after {min(lived):.1f} to {max(lived):.1f} s, SIGKILL; restart; check.

| | |
|---|---|
| cycles | {args.cycles} |
| pushes acknowledged | {ledger.pushes} |
| deletes acknowledged | {ledger.deletes} |
| images live at the end | {len(ledger.manifests)} |
| collections that removed something (log) | {gc_runs} |
| acknowledged manifest or blob lost, deleted manifest back, partial or corrupt blob | 0 (checked after every restart) |
| restart after kill -9 to port open, median / max | {restarts[len(restarts) // 2]:.2f} s / {restarts[-1]:.2f} s |
| live images assessed at the end | {', '.join(f'{k} {v}' for k, v in sorted(statuses.items()))} (none Failed, Queued or Scanning) |
| reading all live images' assessments after the last restart (each waited for) | {settle:.1f} s |
| total run | {time.time() - t0:.0f} s |
"""
    with open(args.out, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
