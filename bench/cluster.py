"""Many nodes, side by side: a burst of small pushes (a config and a layer of a few KiB and a
manifest each, every one distinct, all scanned) from C client threads for S seconds, against one
drydock node on PostgreSQL + S3 and against three behind nginx (a repository's uploads and
manifests to one node, tests/lib/balancer.py), all on one real PostgreSQL and one real radosgw
started here, in alternating rounds. Per setup: pushes acknowledged per second, the CPU of the
nodes, of PostgreSQL and of radosgw per push, and what each push costs the database (drydock's
write transactions and statements, from /metrics) and S3 (its requests), and how long the writers' lock of the database (meta_pg.c: one for every
node) was held. On one machine three
nodes share its cores with PostgreSQL and radosgw: the counts, not the rate, say what a cluster
of real machines needs (bench/RESULTS.md, "Many nodes").

    /usr/bin/python3 bench/cluster.py --db DB [--seconds 20] [--clients 8] [--rounds 3]

With --wake N instead: two nodes, one taking pushes with no scan workers and one scanning; N
small images pushed one at a time to the first, each timed from its manifest's 201 to its
assessment (read on the first node): how soon an idle node of the cluster starts on a scan
another node queued (it is told by PostgreSQL's NOTIFY, or finds it at its next poll).
"""
import argparse
import contextlib
import concurrent.futures
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import requests

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "lib"))
from bench import cpu_of, free_port, tree_cpu_s, wait_port  # noqa: E402
from balancer import Balancer  # noqa: E402
from drydock import OCI_MANIFEST, make_image  # noqa: E402
import pgserver  # noqa: E402
import s3server  # noqa: E402


def counters(ports):
    out = {}
    for port in ports:
        text = requests.get(f"http://127.0.0.1:{port}/metrics").text
        for name in ("metadata_statements", "metadata_write_transactions"):
            out[name] = out.get(name, 0) + int(re.search(rf"^drydock_{name}_total (\d+)", text, re.M).group(1))
        out["write s"] = out.get("write s", 0) + float(
            re.search(r"^drydock_metadata_write_seconds_total ([0-9.]+)", text, re.M).group(1))
        out["s3 requests"] = out.get("s3 requests", 0) + sum(
            int(n) for n in re.findall(r'^drydock_s3_requests_total\{[^}]*\} (\d+)', text, re.M))
    return out


def burst(url, seconds, clients, tag):
    done, stop = [0], time.monotonic() + seconds
    lock = threading.Lock()

    def client(k):
        s = requests.Session()
        i = 0
        while time.monotonic() < stop:
            repo = f"b{tag}/c{k}/i{i}"
            m = make_image(s, url, repo, seed=f"{tag}-{k}-{i}".encode())
            if s.put(f"{url}/v2/{repo}/manifests/1", data=m, headers={"Content-Type": OCI_MANIFEST}).status_code == 201:
                with lock:
                    done[0] += 1
            i += 1
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    return done[0]


@contextlib.contextmanager
def services():
    """A real radosgw and PostgreSQL for the run, and a directory for the nodes: (root, s3, pg)."""
    root = tempfile.mkdtemp(prefix="bench-cluster-")
    s3 = s3server.S3Server(os.path.join(root, "ceph"))
    os.makedirs(s3.root)
    pg = pgserver.PgServer(tempfile.mkdtemp(prefix="bench-cluster-pg-"))
    try:
        s3.start()
        pg.start()
        yield root, s3, pg
    finally:
        s3.stop()
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(pg.root, ignore_errors=True)


def start_node(a, s3, data, url, bucket, extra=()):
    """A drydock node on metadata url and bucket: (process, port)."""
    port = free_port()
    log = open(data + ".log", "w")
    p = subprocess.Popen([a.drydock, "serve", "--listen", f"127.0.0.1:{port}", "--data", data, "--log-level", "warn",
                          "--auth", "off", "--db", a.db, "--metadata", url] + list(extra) + s3.settings(bucket),
                         stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    wait_port(port, p)
    return p, port


def wake(a):
    times = []
    with services() as (root, s3, pg):
        for rnd in range(a.rounds):
            url, procs, ports = pg.new_database(), [], []
            for i, workers in enumerate((0, 1)):
                p, port = start_node(a, s3, os.path.join(root, f"w{rnd}-{i}"), url, f"wake{rnd}",
                                     ["--scan-workers", str(workers)])
                procs.append(p)
                ports.append(port)
            try:
                base = f"http://127.0.0.1:{ports[0]}"
                s = requests.Session()
                time.sleep(3)  # the scanning node has found its database
                for i in range(a.wake):
                    repo = f"wake/r{rnd}i{i}"
                    m = make_image(s, base, repo, seed=f"w{rnd}-{i}".encode())
                    assert s.put(f"{base}/v2/{repo}/manifests/1", data=m,
                                 headers={"Content-Type": OCI_MANIFEST}).status_code == 201
                    t = time.monotonic()
                    while s.get(f"{base}/api/v1/images", params={"repository": repo, "reference": "1"}).json().get(
                            "status") not in ("Healthy", "Unhealthy", "NotApplicable", "Failed"):
                        assert time.monotonic() - t < 60, "not assessed"
                        time.sleep(0.005)
                    times.append(time.monotonic() - t)
                    time.sleep(0.3)  # the scanning node idle again
            finally:
                for p in procs:
                    p.terminate()
                    p.wait(30)
    times.sort()
    print(f"{len(times)} pushes to a node without workers: push to assessed median {statistics.median(times):.3f} s,"
          f" p10 {times[len(times) // 10]:.3f} s, p90 {times[len(times) * 9 // 10]:.3f} s, max {times[-1]:.3f} s")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--drydock", default=os.path.join(os.path.dirname(__file__), "..", "build", "drydock"))
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--wake", type=int, default=0)
    a = ap.parse_args()
    if a.wake:
        return wake(a)
    res = {}
    with services() as (root, s3, pg):
        pg_pid = int(open(os.path.join(pg.data, "postmaster.pid")).readline())
        rgw = next(p.pid for p in s3.procs if os.path.basename(p.args[0]) == "radosgw")
        for rnd in range(a.rounds):
            for n in ((1, 3) if rnd % 2 == 0 else (3, 1)):
                url = pg.new_database()
                bucket = f"c{rnd}n{n}"
                procs, ports = [], []
                for i in range(n):
                    p, port = start_node(a, s3, os.path.join(root, f"r{rnd}n{n}-{i}"), url, bucket)
                    procs.append(p)
                    ports.append(port)
                lb = Balancer(os.path.join(root, f"nginx-{rnd}-{n}"), ports, sticky_uploads=True) if n > 1 else None
                base = f"http://127.0.0.1:{lb.port}" if lb else f"http://127.0.0.1:{ports[0]}"
                try:
                    c0, p0, g0, m0 = (sum(tree_cpu_s(p.pid) for p in procs), tree_cpu_s(pg_pid), cpu_of(rgw),
                                      counters(ports))
                    t = time.monotonic()
                    pushed = burst(base, a.seconds, a.clients, f"{rnd}{n}")
                    el = time.monotonic() - t
                    c1, p1, g1, m1 = (sum(tree_cpu_s(p.pid) for p in procs), tree_cpu_s(pg_pid), cpu_of(rgw),
                                      counters(ports))
                    r = res.setdefault(f"{n} node{'s' if n > 1 else ''}", {})
                    r.setdefault("pushes acknowledged per second", []).append(pushed / el)
                    r.setdefault("drydock CPU ms per push (every node)", []).append((c1 - c0) * 1000 / pushed)
                    r.setdefault("PostgreSQL CPU ms per push", []).append((p1 - p0) * 1000 / pushed)
                    r.setdefault("radosgw CPU ms per push", []).append((g1 - g0) * 1000 / pushed)
                    for k in m1:
                        if k != "write s":
                            r.setdefault(f"{k.replace('_', ' ')} per push", []).append((m1[k] - m0[k]) / pushed)
                    tx = m1["metadata_write_transactions"] - m0["metadata_write_transactions"]
                    r.setdefault("writers' lock held per write transaction (ms)", []).append(
                        (m1["write s"] - m0["write s"]) * 1000 / tx)
                    r.setdefault("writers' lock busy (share of the burst)", []).append((m1["write s"] - m0["write s"]) / el)
                    r.setdefault("metadata write transactions per second", []).append(
                        (m1["metadata_write_transactions"] - m0["metadata_write_transactions"]) / el)
                    print(n, {k: round(v[-1], 2) for k, v in r.items()}, flush=True)
                finally:
                    if lb:
                        lb.stop()
                    for p in procs:
                        p.terminate()
                        p.wait(30)
    keys = list(next(iter(res.values())))
    print(f"\n{a.clients} clients, {a.seconds} s a burst, {a.rounds} rounds, medians\n")
    print("| measure | " + " | ".join(res) + " |")
    print("|---|" + "---|" * len(res))
    for k in keys:
        print(f"| {k} | " + " | ".join(f"{statistics.median(res[x][k]):.2f}" for x in res) + " |")


if __name__ == "__main__":
    main()
