"""Blobs on S3, side by side: drydock on the filesystem (the embedded defaults), drydock on S3,
drydock on PostgreSQL + S3 as one node and as three nodes behind nginx (an upload session's
requests to one node, x3, or every request round robin, x3rr), and Debian's
docker-registry (Distribution) on S3, all against one real Ceph radosgw and one PostgreSQL
started here, in alternating rounds. Per round and registry: skopeo push and pull wall time of
an image, the registry's CPU (every node, drydock's sandboxed scan workers counted), radosgw's
and PostgreSQL's CPU over the push, for drydock the S3 requests and bytes of the push (from
/metrics) and on PostgreSQL its transactions and rows written over the push (pg_stat_database: idle
nodes' polling counted too), and the statements and write transactions drydock ran on its
metadata (its /metrics).
With --db, drydock scans every push, as in service, and push-to-assessed is measured too.

    /usr/bin/python3 bench/s3.py --images DIR --db DB [--image debian-big] [--rounds 5] [--kinds ...]
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import requests

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "lib"))
from bench import cpu_of, free_port, wait_port, tree_cpu_s, median  # noqa: E402
import s3server  # noqa: E402
import pgserver  # noqa: E402
from balancer import Balancer  # noqa: E402


def radosgw_pid(s3):
    return next(p.pid for p in s3.procs if os.path.basename(p.args[0]) == "radosgw")


class Reg:
    def __init__(self, kind, binary, s3, db=None, pg=None):
        self.kind, self.bin, self.s3, self.db, self.pg = kind, binary, s3, db, pg
        self.nodes, self.lb, self.url = [], None, None

    def start(self, bucket):
        self.dir = tempfile.mkdtemp(prefix=f"bench-s3-{self.kind}-")
        self.port = free_port()
        log = open(os.path.join(self.dir, "log"), "w")
        if self.kind.startswith("drydock"):
            cmd = [self.bin, "serve", "--listen", f"127.0.0.1:{self.port}", "--data", f"{self.dir}/data",
                   "--log-level", "warn", "--auth", "off"]
            cmd += ["--db", self.db] if self.db else ["--scan-workers", "0"]
            if self.kind != "drydock-fs":
                cmd += self.s3.settings(bucket)
            if self.kind.startswith("drydock-pg"):
                self.url = self.pg.new_database()
                cmd += ["--metadata", self.url]
            if self.kind.startswith("drydock-pg-s3-x3"):  # two more nodes like it, nginx in front
                for i in (1, 2):
                    port = free_port()
                    c = [x.replace(f"127.0.0.1:{self.port}", f"127.0.0.1:{port}").replace(
                        f"{self.dir}/data", f"{self.dir}/data{i}") for x in cmd]
                    p = subprocess.Popen(c, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
                    wait_port(port, p)
                    self.nodes.append((p, port))
        else:
            cfg = os.path.join(self.dir, "config.yml")
            with open(cfg, "w") as f:
                f.write(f"""version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  s3:
    region: us-east-1
    regionendpoint: {self.s3.endpoint}
    bucket: {bucket}
    accesskey: {s3server.ACCESS_KEY}
    secretkey: {s3server.SECRET_KEY}
    secure: false
    v4auth: true
  redirect:
    disable: true
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{self.port}
""")
            s3server_bucket(self.s3, bucket)
            cmd = ["docker-registry", "serve", cfg]
        # AWS_CA_BUNDLE (set on some machines) makes Distribution's AWS SDK refuse its own
        # transport at start; the endpoint here is plain HTTP
        env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=env)
        wait_port(self.port, self.proc)
        self.nodes.insert(0, (self.proc, self.port))
        self.host = f"127.0.0.1:{self.port}"
        if len(self.nodes) > 1:
            # x3: an upload session's requests to one node, as docs/deployment.md advises; x3rr: round robin
            self.lb = Balancer(os.path.join(self.dir, "nginx"), [port for _, port in self.nodes],
                               sticky_uploads=self.kind == "drydock-pg-s3-x3")
            self.host = f"127.0.0.1:{self.lb.port}"
        return self

    def cpu(self):
        return sum(tree_cpu_s(p.pid) for p, _ in self.nodes)

    def stop(self):
        if self.lb:
            self.lb.stop()
        for p, _ in self.nodes:
            p.terminate()
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    def metrics(self):
        if not self.kind.startswith("drydock"):
            return {}
        out = {}
        for _, port in self.nodes:
            text = requests.get(f"http://127.0.0.1:{port}/metrics").text
            for m, n in re.findall(r'drydock_s3_requests_total\{method="(\w+)"\} (\d+)', text):
                out[m] = out.get(m, 0) + int(n)
            for k in ("sent", "received"):
                m = re.search(rf"drydock_s3_{k}_bytes_total (\d+)", text)
                out[k] = out.get(k, 0) + (int(m.group(1)) if m else 0)
            for k, name in (("md statements", "statements"), ("md write transactions", "write_transactions")):
                m = re.search(rf"drydock_metadata_{name}_total (\d+)", text)
                out[k] = out.get(k, 0) + (int(m.group(1)) if m else 0)
        if self.url:  # this database's transactions and rows written, as PostgreSQL counts them
            row = pgserver.psql(self.url, "SELECT xact_commit, tup_inserted + tup_updated + tup_deleted FROM"
                                " pg_stat_database WHERE datname=current_database()").strip().split("|")
            out["pg transactions"], out["pg rows written"] = int(row[0]), int(row[1])
        return out


def s3server_bucket(s3, bucket):
    """Distribution does not make its bucket."""
    subprocess.run(["curl", "-sS", "-f", "-X", "PUT", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user",
                    f"{s3server.ACCESS_KEY}:{s3server.SECRET_KEY}", "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD",
                    f"{s3.endpoint}/{bucket}"], check=True, capture_output=True)


def timed(cmd):
    t = time.monotonic()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.monotonic() - t


def wait_assessed(port, repo, tag, t0):
    while time.monotonic() - t0 < 300:
        r = requests.get(f"http://127.0.0.1:{port}/api/v1/images", params={"repository": repo, "reference": tag})
        if r.status_code == 200 and r.json()["status"] in ("Healthy", "Unhealthy", "NotApplicable", "Failed"):
            return time.monotonic() - t0
        time.sleep(0.01)
    raise RuntimeError("not assessed")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", required=True)
    ap.add_argument("--image", default="debian-big")
    ap.add_argument("--db")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--drydock", default=os.path.join(os.path.dirname(__file__), "..", "build", "drydock"))
    ap.add_argument("--kinds", default="drydock-fs,drydock-s3,drydock-pg-s3,drydock-pg-s3-x3,drydock-pg-s3-x3rr,"
                    "docker-registry-s3")
    a = ap.parse_args()
    layout = os.path.join(a.images, a.image)
    root = tempfile.mkdtemp(prefix="bench-ceph-")
    s3 = s3server.S3Server(root).start()
    pg = pgserver.PgServer(tempfile.mkdtemp(prefix="bench-pg-"))
    pg.start()
    pg_pid = int(open(os.path.join(pg.data, "postmaster.pid")).readline())
    res = {}
    try:
        for rnd in range(a.rounds):
            order = a.kinds.split(",")
            order = order[rnd % len(order):] + order[:rnd % len(order)]
            for kind in order:
                reg = Reg(kind, a.drydock, s3, a.db if kind.startswith("drydock") else None, pg).start(
                    f"b{rnd}-{kind}")
                try:
                    host = reg.host
                    m0, c0, g0, p0 = reg.metrics(), reg.cpu(), cpu_of(radosgw_pid(s3)), tree_cpu_s(pg_pid)
                    t0 = time.monotonic()
                    push = timed(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", f"oci:{layout}",
                                  f"docker://{host}/bench:1"])
                    assessed = wait_assessed(reg.port, "bench", "1", t0) - push if a.db and kind.startswith("drydock") \
                        else None
                    time.sleep(0.5)  # what the push started (scans) ends
                    if reg.url:
                        time.sleep(1.5)  # PostgreSQL's statistics of its sessions reach pg_stat_database
                    m1, c1, g1, p1 = reg.metrics(), reg.cpu(), cpu_of(radosgw_pid(s3)), tree_cpu_s(pg_pid)
                    dest = os.path.join(reg.dir, "pulled")
                    c2 = reg.cpu()
                    pull = timed(["skopeo", "copy", "--quiet", "--src-tls-verify=false", f"docker://{host}/bench:1",
                                  f"dir:{dest}"])
                    c3 = reg.cpu()
                    r = res.setdefault(kind, {})
                    r.setdefault("push wall s", []).append(push)
                    r.setdefault("push CPU s", []).append(c1 - c0)
                    r.setdefault("radosgw CPU s over the push", []).append(g1 - g0)
                    if reg.url:
                        r.setdefault("PostgreSQL CPU s over the push", []).append(p1 - p0)
                    r.setdefault("pull wall s", []).append(pull)
                    r.setdefault("pull CPU s", []).append(c3 - c2)
                    if assessed is not None:
                        r.setdefault("push to assessed s", []).append(assessed)
                    for k in m1:
                        if k.startswith("pg "):
                            r.setdefault(f"PostgreSQL {k[3:]} per push (scan included)", []).append(m1[k] - m0[k])
                        elif k.startswith("md "):
                            r.setdefault(f"metadata {k[3:]} per push (scan included)", []).append(m1[k] - m0[k])
                        elif k not in ("sent", "received"):
                            r.setdefault(f"S3 {k} requests per push", []).append(m1[k] - m0.get(k, 0))
                    if m1:
                        r.setdefault("S3 MiB sent per push", []).append((m1["sent"] - m0.get("sent", 0)) / 2**20)
                    print(kind, {k: round(v[-1], 3) for k, v in r.items()}, flush=True)
                finally:
                    reg.stop()
    finally:
        s3.stop()
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(pg.root, ignore_errors=True)
    keys = []
    for r in res.values():
        keys += [k for k in r if k not in keys]
    kinds = list(res)
    print(f"\n{a.image}, {a.rounds} rounds, medians\n")
    print("| measure | " + " | ".join(kinds) + " |")
    print("|---|" + "---|" * len(kinds))
    for k in keys:
        print(f"| {k} | " + " | ".join(f"{median(res[x][k]):.3f}" if k in res[x] else "-" for x in kinds) + " |")


if __name__ == "__main__":
    main()
