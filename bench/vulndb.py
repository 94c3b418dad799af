"""Vulnerability database benchmark: the build of every feed in a directory of feed files
(`drydock db import`, wall time and peak RSS), the file's size, and lookup and match costs
(`bench-vulndb`: ns per package lookup, ms per image match) for the test images. Medians.
No peer runs here: Trivy and Grype are not Debian packages, so targets are the issue's
absolute numbers."""
import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--drydock", required=True)
    ap.add_argument("--bench-vulndb", required=True)
    ap.add_argument("--feeds", required=True, help="a directory of feed files")
    ap.add_argument("--images", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench-vulndb-")
    db = os.path.join(tmp, "vulndb.ddb")
    build, rss = [], []
    for _ in range(a.runs):
        t = time.monotonic()
        p = subprocess.run(["/usr/bin/time", "-f", "%M", a.drydock, "db", "import", "--db", db, a.feeds],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        build.append(time.monotonic() - t)
        rss.append(int(p.stderr.strip().splitlines()[-1]) / 1024)
    info = json.loads(subprocess.run([a.drydock, "db", "info", "--db", db, "--json"], check=True,
                                     stdout=subprocess.PIPE, text=True).stdout)
    images = [os.path.join(a.images, n) for n in ("debian-min", "debian-big", "debian-wide")]
    rows = []
    for _ in range(a.runs):
        out = subprocess.run([a.bench_vulndb, db, *images], check=True, stdout=subprocess.PIPE, text=True).stdout
        rows.append([json.loads(l) for l in out.splitlines() if l.strip()])
    os.unlink(db)
    os.rmdir(tmp)
    per_image = {}
    for run in rows:
        for r in run:
            name = os.path.basename(r["image"])
            d = per_image.setdefault(name, {"r": r, "lookup": [], "match": [], "first": []})
            d["lookup"].append(r["lookup_ns_median"])
            d["match"].append(r["match_ms_median"])
            d["first"].append(r["match_first_ms"])
    lines = ["## Vulnerability database (`drydock db import`, matching)", "",
             f"All feeds of the snapshot folder, medians of {a.runs} builds; lookups and matches are medians "
             "of medians (bench/bench_vulndb.c: 21 rounds each). The first match of an image after opening the "
             "database is shown apart: it also faults in the pages of the mapping it reads (a server keeps them). "
             "debian-wide is the 300-package image of the target. No peer: Trivy and Grype are not Debian packages.",
             "", "| measure | value | target |", "|---|---|---|",
             f"| build of all feeds ({info['vulnerabilities']} vulnerabilities, {info['entries']} entries, "
             f"{len(info['feeds'])} feeds) | {statistics.median(build):.1f} s | well under a minute |",
             f"| peak RSS of the build | {statistics.median(rss):.0f} MiB | |",
             f"| file size | {info['size'] / 1e6:.1f} MB | |"]
    for name, d in per_image.items():
        r = d["r"]
        lines.append(f"| lookup, {name} ({r['packages']} packages) | {statistics.median(d['lookup']):.1f} ns per package "
                     "| < 1 µs |")
        lines.append(f"| match, {name} ({r['packages']} packages, {r['entries']} entries, {r['findings']} findings) "
                     f"| {statistics.median(d['match']):.3f} ms | < 1 ms for 300 packages |")
        lines.append(f"| first match after opening, {name} | {statistics.median(d['first']):.3f} ms | |")
    lines += ["", "Raw samples:", "", "```", json.dumps({"build_s": build, "rss_mib": rss, "images": rows}, indent=1),
              "```", ""]
    with open(a.out, "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines[:17]))


if __name__ == "__main__":
    main()
