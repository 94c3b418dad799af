"""A/B benchmark of two drydock binaries (before and after a change), side by side in the same
run: rounds alternate between them so the machine's load falls on both alike. Scanning on (a
vulnerability database in place). Per round and binary, a fresh server: a skopeo push of
debian-big (wall, server CPU with its scan workers, push-to-assessed), a pull, then wrk on the
manifest (req/s, p99). Prints a Markdown table of medians and the ratio B / A. Not part of the
tests. Usage: ab.py --a OLD_BIN --b NEW_BIN --images IMAGES/oci --db DB [--rounds 5]"""
import argparse
import os
import shutil
import sys
import tempfile
import time

import requests

from bench import Registry, median, skopeo_pull, skopeo_push, wrk

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "lib"))
from drydock import wait_assessed  # noqa: E402


def one(bin_, layout, db, out):
    reg = Registry("drydock", bin_, db=db)
    reg.start()
    try:
        c0 = reg.cpu_s()
        push = skopeo_push(reg, layout, "ab/big")
        pushed = time.monotonic()
        img = wait_assessed(f"http://{reg.host}", "ab/big", "latest", timeout=300, every=0.01)
        assessed = time.monotonic() - pushed
        if img["status"] not in ("Healthy", "Unhealthy"):  # a failed scan is fast, and no measure
            raise SystemExit(f"{bin_}: the image was assessed {img['status']}: {img.get('reason')}")
        cpu = reg.cpu_s() - c0
        pull = skopeo_pull(reg, "ab/big", os.path.join(out, "pulled"))
        digest = requests.head(f"http://{reg.host}/v2/ab/big/manifests/latest",
                               headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}).headers[
                                   "Docker-Content-Digest"]
        rps, p99 = wrk(reg, f"/v2/ab/big/manifests/{digest}", 5)
        return {"push wall (s)": push, "push server CPU, scan included (s)": cpu, "push-to-assessed (s)": assessed,
                "pull wall (s)": pull, "manifest GET req/s": rps, "manifest GET p99 (ms)": p99}
    finally:
        reg.stop()
        shutil.rmtree(reg.dir, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--a", required=True, help="the binary before")
    ap.add_argument("--b", required=True, help="the binary after")
    ap.add_argument("--images", required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--image", default="debian-big", help="the OCI layout under --images to push")
    o = ap.parse_args()
    layout = os.path.join(o.images, o.image)
    out = tempfile.mkdtemp(prefix="ab-")
    res = {"a": {}, "b": {}}
    load = [os.getloadavg()[0]]
    for i in range(o.rounds):
        for k in (("a", "b") if i % 2 == 0 else ("b", "a")):
            for m, v in one(getattr(o, k), layout, o.db, out).items():
                res[k].setdefault(m, []).append(v)
    load.append(os.getloadavg()[0])
    shutil.rmtree(out, ignore_errors=True)
    print(f"Medians of {o.rounds} rounds, alternating; 1-minute load average {load[0]:.1f} at the start, "
          f"{load[1]:.1f} at the end.\n")
    print("| measure | A (before) | B (after) | B / A |\n|---|---|---|---|")
    for m in res["a"]:
        a, b = median(res["a"][m]), median(res["b"][m])
        print(f"| {m} | {a:.3f} | {b:.3f} | {b / a if a else float('nan'):.2f} |")


if __name__ == "__main__":
    main()
