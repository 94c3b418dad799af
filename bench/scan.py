"""Scan benchmark (issue 5): push-to-assessed latency of debian-min and debian-big (a fresh
server each time, so layers are read cold, analysed as they upload), the push itself with and
without that, the same after a re-push to another repository (layers already analysed), the
cold push-to-assessed and the CPU the server spends on a push (its own, and its scan workers')
with the scanner's sandbox and without it (`sandbox = false`), the re-assessment rate when the
database changes under N stored images, and `drydock scan` of debian-big's docker-archive
against `gzip -dc` of its layers. Medians and p95. No peer runs: Harbor, zot and Trivy are not
Debian packages. --only-push measures the pushes alone, --only-reassess the rest;
--stored-image LAYOUT makes the stored images another image's (the application image)."""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import requests

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "lib"))
from drydock import OCI_MANIFEST, Server, wait_assessed  # noqa: E402
from bench import tree_cpu_s  # noqa: E402


def wait(url, repo, ref):
    return wait_assessed(url, repo, ref, timeout=300, every=0.005, limit=1)  # polled often, answers kept small


def push(layout, url, repo):
    subprocess.run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", f"oci:{layout}",
                    f"docker://{url.split('://')[1]}/{repo}:1"], check=True, capture_output=True)


def cpu_s(pid):
    """CPU seconds of the server and of every process below it, live or ended (the zygote and
    the scan workers it forked and reaped): bench.tree_cpu_s."""
    return tree_cpu_s(pid)


def p95(v):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(0.95 * (len(v) - 1))))]


def more(a, tmp, res):
    """The re-assessment of N stored images and `drydock scan` against gzip -dc."""
    # re-assessment of N stored images when the database file changes
    data = os.path.join(tmp, "many")
    os.makedirs(data)
    shutil.copy(a.db, os.path.join(data, "vulndb.ddb"))
    srv = Server(data).start()
    try:
        push(a.stored_image or os.path.join(a.images, "debian-min"), srv.url, "m/base")
        base = wait(srv.url, "m/base", "1")
        s = requests.Session()
        m = json.loads(s.get(f"{srv.url}/v2/m/base/manifests/1", headers={"Accept": OCI_MANIFEST}).content)
        for i in range(a.stored - 1):  # distinct manifests over the same layers
            m["annotations"] = {"n": str(i)}
            r = s.put(f"{srv.url}/v2/m/base/manifests/v{i}", data=json.dumps(m),
                      headers={"Content-Type": OCI_MANIFEST})
            assert r.status_code == 201, r.text
        while requests.get(f"{srv.url}/healthz").json()["scan_queue"] or \
                requests.get(f"{srv.url}/healthz").json()["scanning"]:
            time.sleep(0.5)
        def swap(path, label):
            # the new generation answers before its re-assessments are queued (one statement
            # queues them all): done once they were seen queued, or the images sampled (first,
            # middle, last) carry the new generation, and the queue is empty
            want = json.loads(subprocess.run([a.drydock, "db", "info", "--db", path, "--json"], check=True,
                                             capture_output=True, text=True).stdout)["generation"]
            refs = ["1", "v0", f"v{(a.stored - 1) // 2}", f"v{a.stored - 2}"] if a.stored > 1 else ["1"]
            def depth():
                h = s.get(f"{srv.url}/healthz").json()
                return h["scan_queue"] + h["scanning"]
            def sampled():
                return all(s.get(f"{srv.url}/api/v1/images", params={"repository": "m/base", "reference": ref,
                                                                    "limit": 1}).json().get("database_generation")
                           == want for ref in refs)
            t = time.monotonic()
            shutil.copy(path, os.path.join(data, "vulndb.ddb.new"))
            os.rename(os.path.join(data, "vulndb.ddb.new"), os.path.join(data, "vulndb.ddb"))
            queued = False
            while True:
                if not queued and s.get(f"{srv.url}/api/v1/database").json().get("generation") == want:
                    queued = depth() > 0 or sampled()
                if queued and depth() == 0:
                    break
                time.sleep(0.05)
            el = time.monotonic() - t
            res[f"re-assessment, {label} (images/s)"] = [a.stored / el]
            res[f"re-assessment wall time, {label} (s)"] = [el]
        if a.same_db:
            swap(a.same_db, "same findings (the feeds rebuilt)")
        swap(a.small_db, "other findings (another feed set)")
    finally:
        srv.stop()
    # drydock scan of the docker-archive of debian-big, cold, against gzip -dc of its layers
    arch = os.path.join(tmp, "big.tar")
    subprocess.run(["skopeo", "copy", "--quiet", "oci:" + os.path.join(a.images, "debian-big"),
                    f"docker-archive:{arch}:big:1"], check=True, capture_output=True)
    layout = os.path.join(a.images, "debian-big")
    idx = json.load(open(os.path.join(layout, "index.json")))
    man = json.load(open(os.path.join(layout, "blobs", *idx["manifests"][0]["digest"].split(":"))))
    blobs = [os.path.join(layout, "blobs", *l["digest"].split(":")) for l in man["layers"]]
    gz, sc = [], []
    for _ in range(a.runs):
        t = time.monotonic()
        subprocess.run(["sh", "-c", " ".join(f"gzip -dc < {b} > /dev/null;" for b in blobs)], check=True)
        gz.append(time.monotonic() - t)
        t = time.monotonic()
        subprocess.run([a.drydock, "scan", "--db", a.db, "--no-cache", "--format", "json", arch], check=True,
                       stdout=subprocess.DEVNULL)
        sc.append(time.monotonic() - t)
    res["gzip -dc of debian-big's layers (s)"] = gz
    res["drydock scan debian-big docker-archive, cold (s)"] = sc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--drydock", required=True)
    ap.add_argument("--db", required=True, help="a vulnerability database built from all feeds")
    ap.add_argument("--small-db", help="a database with other data (a different generation); not with --only-push")
    ap.add_argument("--same-db", help="the same feeds built again (a new generation, the same findings)")
    ap.add_argument("--images", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--stored", type=int, default=10000)
    ap.add_argument("--only-push", action="store_true", help="the pushes alone: no re-assessment, no drydock scan")
    ap.add_argument("--only-reassess", action="store_true", help="the re-assessment and drydock scan alone")
    ap.add_argument("--stored-image", help="the OCI layout whose manifest the stored images repeat (default debian-min)")
    a = ap.parse_args()
    if not a.only_push and not a.small_db:
        ap.error("--small-db is required (unless --only-push)")
    os.environ["DRYDOCK_BIN"] = a.drydock
    res = {}
    tmp = tempfile.mkdtemp(prefix="bench-scan-")
    try:
        for name in () if a.only_reassess else ("debian-min", "debian-big"):
            layout = os.path.join(a.images, name)
            cold, warm, pushes, pushes_off, cold_nosb, warm_nosb, cpu, cpu_nosb = [], [], [], [], [], [], [], []
            for run in range(a.runs):
                data = os.path.join(tmp, f"{name}-{run}")
                os.makedirs(data)
                shutil.copy(a.db, os.path.join(data, "vulndb.ddb"))
                # the push alone with layers read only once committed (analyse-uploads = false)
                srv = Server(data, extra_args=["--analyse-uploads", "false"]).start()
                try:
                    t = time.monotonic()
                    push(layout, srv.url, "b/off")
                    pushes_off.append(time.monotonic() - t)
                finally:
                    srv.stop()
                shutil.rmtree(data)
                os.makedirs(data)
                shutil.copy(a.db, os.path.join(data, "vulndb.ddb"))
                srv = Server(data).start()
                try:
                    c = cpu_s(srv.proc.pid)
                    t = time.monotonic()
                    push(layout, srv.url, "b/first")
                    pushes.append(time.monotonic() - t)
                    t = time.monotonic()
                    wait(srv.url, "b/first", "1")
                    cold.append(time.monotonic() - t)
                    cpu.append(cpu_s(srv.proc.pid) - c)
                    push(layout, srv.url, "b/second")
                    t = time.monotonic()
                    wait(srv.url, "b/second", "1")
                    warm.append(time.monotonic() - t)
                finally:
                    srv.stop()
                shutil.rmtree(data)
                # the same cold push with layers and package databases parsed in the server itself
                os.makedirs(data)
                shutil.copy(a.db, os.path.join(data, "vulndb.ddb"))
                srv = Server(data, extra_args=["--sandbox", "false"]).start()
                try:
                    c = cpu_s(srv.proc.pid)
                    push(layout, srv.url, "b/first")
                    t = time.monotonic()
                    wait(srv.url, "b/first", "1")
                    cold_nosb.append(time.monotonic() - t)
                    cpu_nosb.append(cpu_s(srv.proc.pid) - c)
                    push(layout, srv.url, "b/second")
                    t = time.monotonic()
                    wait(srv.url, "b/second", "1")
                    warm_nosb.append(time.monotonic() - t)
                finally:
                    srv.stop()
                shutil.rmtree(data)
            res[f"{name} push wall time, layers read as they upload (s)"] = pushes
            res[f"{name} push wall time, layers read once committed (s)"] = pushes_off
            res[f"{name} push-to-assessed, cold (s)"] = cold
            res[f"{name} push-to-assessed, layers already analysed (s)"] = warm
            res[f"{name} push-to-assessed, cold, sandbox = false (s)"] = cold_nosb
            res[f"{name} push-to-assessed, layers already analysed, sandbox = false (s)"] = warm_nosb
            res[f"{name} server CPU, cold push to assessed, workers included (s)"] = cpu
            res[f"{name} server CPU, cold push to assessed, sandbox = false (s)"] = cpu_nosb
        if not a.only_push:
            more(a, tmp, res)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in res.items()}
    lines = ["## Scan on push and `drydock scan`", "",
             f"Medians (and p95) of {a.runs} runs, same machine and run; a fresh server for each cold push. "
             "No peer: Harbor, zot and Trivy are not Debian packages.", "",
             "| measure | median | p95 | target |", "|---|---|---|---|"]
    targets = {"debian-big push-to-assessed, cold (s)": "≤ 1 s",
               "debian-big push-to-assessed, layers already analysed (s)": "≤ 0.1 s",
               "debian-min push-to-assessed, cold (s)": "≤ 1 s",
               "debian-min push-to-assessed, layers already analysed (s)": "≤ 0.1 s",
               "debian-big push-to-assessed, cold, sandbox = false (s)": "≤ 1 s",
               "re-assessment, same findings (the feeds rebuilt) (images/s)": "≥ 1000/s (10,000 in 10 s)",
               "re-assessment, other findings (another feed set) (images/s)": "≥ 1000/s (10,000 in 10 s)"}
    for k, v in res.items():
        lines.append(f"| {k} | {med[k]:.3f} | {p95(v):.3f} | {targets.get(k, '')} |")
    if not a.only_push:
        ratio = med["drydock scan debian-big docker-archive, cold (s)"] / med["gzip -dc of debian-big's layers (s)"]
        lines += [f"| drydock scan / gzip -dc | {ratio:.2f}x | | |", "",
                  f"Re-assessment: {a.stored} stored images (distinct manifests over "
                  f"{os.path.basename(a.stored_image or 'debian-min')}'s layers); the "
                  "database file replaced, timed until the queue is empty: first by the same feeds built again (a "
                  "new generation, the same findings: the usual daily update, where only the generation is "
                  "rewritten), then by a database of other feeds (every image's findings change and its report is "
                  "rewritten)."]
    lines += ["", "Server CPU: the server process's user and system time from before the push to its assessment, "
              "with its children's (the scan workers that ended, and the spare workers started meanwhile).", "",
              "Raw samples:", "", "```", json.dumps(res, indent=1), "```", ""]
    with open(a.out, "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines[:14]))


if __name__ == "__main__":
    main()
