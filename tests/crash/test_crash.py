"""Crash safety: kill -9 the server while several clients push, restart, repeat. Every blob
and manifest that was acknowledged must be intact; a partial blob is never served; every
interrupted upload either resumes or answers BLOB_UPLOAD_UNKNOWN; every file in the blob
store hashes to its name. The same again with the server collecting garbage every second with
no grace period: then an acknowledged blob no acknowledged manifest names may be gone, but
every blob an acknowledged manifest names is intact."""
import hashlib
import json
import os
import random
import sys
import threading
import time

import requests

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from drydock import OCI_CONFIG, OCI_MANIFEST, Server, sha256  # noqa: E402

ROUNDS = int(os.environ.get("CRASH_ROUNDS", "6"))
CLIENTS = 4


class Ledger:
    def __init__(self):
        self.lock = threading.Lock()
        self.blobs = {}       # (repo, digest) -> bytes, acknowledged
        self.attempted = {}   # digest -> bytes, sent but maybe not acknowledged
        self.manifests = {}   # (repo, tag) -> bytes, acknowledged
        self.sessions = []    # (repo, location, data, acknowledged offset)


def push_one(http, url, repo, ledger, rnd):
    data = rnd.randbytes(rnd.choice([1000, 50_000, 400_000, 2_000_000]))
    d = sha256(data)
    with ledger.lock:
        ledger.attempted[d] = data
    mode = rnd.choice(["mono", "chunked", "stream"])
    if mode == "mono":
        r = http.post(f"{url}/v2/{repo}/blobs/uploads/?digest={d}", data=data, timeout=30)
        assert r.status_code == 201, r.text
    else:
        r = http.post(f"{url}/v2/{repo}/blobs/uploads/", timeout=30)
        assert r.status_code == 202
        loc = r.headers["Location"]
        acked = 0
        with ledger.lock:
            ledger.sessions.append([repo, loc, data, 0])
            entry = ledger.sessions[-1]
        step = max(1, len(data) // 3)
        while acked < len(data) - step:
            chunk = data[acked:acked + step]
            hdrs = {"Content-Range": f"{acked}-{acked + len(chunk) - 1}"} if mode == "chunked" else {}
            r = http.patch(url + loc, data=chunk, headers=hdrs, timeout=30)
            assert r.status_code == 202, r.text
            acked += len(chunk)
            assert r.headers["Range"] == f"0-{acked - 1}"
            with ledger.lock:
                entry[3] = acked
        r = http.put(f"{url}{loc}?digest={d}", data=data[acked:], timeout=30)
        assert r.status_code == 201, r.text
        with ledger.lock:
            entry[3] = -1  # finished
    with ledger.lock:
        ledger.blobs[(repo, d)] = data
    return d, len(data)


def put_manifest(http, url, repo, tag, m, blobs, ledger, collecting):
    """PUT, and when a collection took the manifest's blobs before it came (MANIFEST_BLOB_UNKNOWN),
    push them again and retry, as a client retries a failed push."""
    for _ in range(20):
        r = http.put(f"{url}/v2/{repo}/manifests/{tag}", data=m, headers={"Content-Type": OCI_MANIFEST}, timeout=30)
        if r.status_code == 201:
            return
        assert collecting and r.status_code == 400, r.text
        assert r.json()["errors"][0]["code"] == "MANIFEST_BLOB_UNKNOWN", r.text
        for d in blobs:
            r = http.post(f"{url}/v2/{repo}/blobs/uploads/?digest={d}", data=ledger.attempted[d], timeout=30)
            assert r.status_code == 201, r.text
    raise AssertionError(f"{repo}:{tag} never accepted")


def client(url, idx, ledger, stop, seed, collecting=False):
    rnd = random.Random(seed)
    repo = f"crash/c{idx}"
    n = 0
    with requests.Session() as http:
        try:
            while not stop.is_set():
                layers = [push_one(http, url, repo, ledger, rnd) for _ in range(rnd.randint(1, 3))]
                cfg = json.dumps({"n": n, "seed": seed}).encode()
                cd = sha256(cfg)
                with ledger.lock:
                    ledger.attempted[cd] = cfg
                r = http.post(f"{url}/v2/{repo}/blobs/uploads/?digest={cd}", data=cfg, timeout=30)
                assert r.status_code == 201
                with ledger.lock:
                    ledger.blobs[(repo, cd)] = cfg
                m = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                                "config": {"mediaType": OCI_CONFIG, "digest": cd, "size": len(cfg)},
                                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                            "digest": d, "size": s} for d, s in layers]}).encode()
                tag = f"s{seed}-{n}"
                put_manifest(http, url, repo, tag, m, [cd] + [d for d, _ in layers], ledger, collecting)
                with ledger.lock:
                    ledger.manifests[(repo, tag)] = m
                n += 1
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError):
            pass  # the server was killed under us


def verify(url, data_dir, ledger, collecting=False):
    named = set()  # (repo, digest) of every blob an acknowledged manifest names
    for (repo, _), m in ledger.manifests.items():
        doc = json.loads(m)
        named |= {(repo, x["digest"]) for x in [doc["config"]] + doc["layers"]}
    with requests.Session() as http:
        for (repo, d), data in ledger.blobs.items():
            r = http.get(f"{url}/v2/{repo}/blobs/{d}")
            if collecting and (repo, d) not in named and r.status_code == 404:
                continue  # collected: no acknowledged manifest needs it
            assert r.status_code == 200 and r.content == data, f"lost acknowledged blob {repo}@{d}"
        for (repo, tag), m in ledger.manifests.items():
            r = http.get(f"{url}/v2/{repo}/manifests/{tag}")
            assert r.status_code == 200 and r.content == m, f"lost acknowledged manifest {repo}:{tag}"
            r = http.get(f"{url}/v2/{repo}/manifests/{sha256(m)}")
            assert r.status_code == 200 and r.content == m
        # unacknowledged blobs: absent or whole, never partial
        for d, data in ledger.attempted.items():
            for i in range(CLIENTS):
                r = http.get(f"{url}/v2/crash/c{i}/blobs/{d}")
                assert r.status_code in (200, 404)
                if r.status_code == 200:
                    assert r.content == data, f"partial blob served: {d}"
        # interrupted uploads: resume from the reported offset, or are unknown
        resumed = unknown = 0
        for entry in ledger.sessions:
            repo, loc, data, acked = entry
            if acked < 0:
                continue
            r = http.get(url + loc)
            if r.status_code == 404:
                assert r.json()["errors"][0]["code"] == "BLOB_UPLOAD_UNKNOWN"
                unknown += 1
                continue
            assert r.status_code == 204
            # "0-0" is how Distribution (and drydock) report an empty session; chunks here are
            # never a single byte, so it is not ambiguous
            rng = r.headers["Range"]
            offset = 0 if rng == "0-0" else int(rng.split("-")[1]) + 1
            assert offset >= acked, "acknowledged chunk lost"
            r = http.put(f"{url}{loc}?digest={sha256(data)}", data=data[offset:],
                         headers={"Content-Range": f"{offset}-{len(data) - 1}"} if offset < len(data) else {})
            assert r.status_code == 201, r.text
            entry[3] = -1
            ledger.blobs[(repo, sha256(data))] = data
            resumed += 1
    # every stored blob file hashes to its name
    root = os.path.join(data_dir, "blobs")
    for alg in os.listdir(root):
        for dirpath, _, files in os.walk(os.path.join(root, alg)):
            for f in files:
                with open(os.path.join(dirpath, f), "rb") as fh:
                    assert hashlib.new(alg, fh.read()).hexdigest() == f, f"corrupt blob file {f}"
    return resumed, unknown


def run_rounds(collecting):
    s = Server(extra_args=["--gc-interval", "1", "--gc-grace", "0"] if collecting else []).start()
    ledger = Ledger()
    rnd = random.Random(1234)
    failures = []

    def guarded(*args):
        try:
            client(*args)
        except AssertionError as e:  # a client's assertion fails the test, not only its thread
            failures.append(e)

    try:
        for rnd_i in range(ROUNDS):
            stop = threading.Event()
            threads = [threading.Thread(target=guarded, args=(s.url, i, ledger, stop, rnd_i * 100 + i, collecting))
                       for i in range(CLIENTS)]
            for t in threads:
                t.start()
            time.sleep(rnd.uniform(0.3, 1.5))
            s.kill9()
            stop.set()
            for t in threads:
                t.join(60)
            assert not failures, failures
            s.start()
            resumed, unknown = verify(s.url, s.data_dir, ledger, collecting)
            print(f"round {rnd_i}: {len(ledger.blobs)} blobs, {len(ledger.manifests)} manifests acknowledged;"
                  f" {resumed} interrupted uploads resumed, {unknown} unknown")
        assert len(ledger.manifests) > 0 and len(ledger.blobs) > 0
    finally:
        s.stop()
    if collecting:
        with open(s.log_path) as f:
            assert "gc: removed" in f.read()  # collections did run and remove things


def test_kill9_while_pushing():
    run_rounds(collecting=False)


def test_kill9_while_pushing_and_collecting():
    run_rounds(collecting=True)
