"""Query benchmark (issue 17): the query language over a registry holding N assessed images
(debian-min pushed once, then N-1 distinct manifests over its layers, each assessed by the
server as a push is), scanning on with the full database in place, over POST /api/v1/query:

  - `summarize count() by severity` over every sub-assessment (target: 1,000,000 rows in < 1 s)
  - "images with CVE-X" over every image (target: 10,000 images in < 50 ms), for a CVE the
    images have and for one they do not
  - the published Resource Graph sample that lists the container registry findings (first page)
  - the resources table's images, counted by status

Medians of --runs, the server's RSS after them. No peer runs: Azure Resource Graph is a cloud
service, and none of Distribution, zot, Harbor or Trivy has a query language.

    query.py --drydock BIN --db vulndb.ddb --images DIR [--images-stored N] [--runs R] [--out FILE]
             [--data DIR]

--data keeps the registry's data directory there, and a second run over the same directory
queries the images stored by the first instead of pushing them again.

Not part of the tests.
"""
import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

import requests

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "lib"))
from drydock import OCI_MANIFEST, Server, wait_assessed  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from scan import push  # noqa: E402

SUBS = "securityresources | where type == 'microsoft.security/assessments/subassessments'"


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def run(url, text, runs):
    """The median time of runs, and the last answer (an error's message when it failed: a limit)."""
    times, body = [], None
    for _ in range(runs):
        t = time.monotonic()
        r = requests.post(url + "/api/v1/query", json={"query": text, "options": {"$top": 1000}}, timeout=600)
        times.append(time.monotonic() - t)
        body = r.json() if r.status_code == 200 else {"error": r.json()["errors"][0]["message"], "totalRecords": 0,
                                                      "rows": []}
    return statistics.median(times), body


def populate(srv, images, stored):
    """debian-min pushed once as m/base, then stored - 1 distinct manifests over its layers in 100
    repositories, all assessed."""
    push(os.path.join(images, "debian-min"), srv.url, "m/base")
    base = wait_assessed(srv.url, "m/base", "1", timeout=300)
    s = requests.Session()
    m = json.loads(s.get(f"{srv.url}/v2/m/base/manifests/1", headers={"Accept": OCI_MANIFEST}).content)
    t = time.monotonic()
    repos = [f"ns{k % 10}/app{k}" for k in range(100)]  # 100 repositories in 10 namespaces
    for repo in repos:  # the layers mounted into each
        for d in [m["config"]["digest"]] + [x["digest"] for x in m["layers"]]:
            q = s.post(f"{srv.url}/v2/{repo}/blobs/uploads/", params={"mount": d, "from": "m/base"})
            assert q.status_code == 201, q.text
    for i in range(stored - 1):  # distinct manifests over the same layers
        m["annotations"] = {"n": str(i)}
        r = s.put(f"{srv.url}/v2/{repos[i % 100]}/manifests/v{i}", data=json.dumps(m),
                  headers={"Content-Type": OCI_MANIFEST})
        assert r.status_code == 201, r.text
    while True:
        h = requests.get(f"{srv.url}/healthz").json()
        if not h["scan_queue"] and not h["scanning"]:
            break
        time.sleep(0.5)
    print(f"# {stored} images stored and assessed in {time.monotonic() - t:.0f} s; "
          f"{base['counts']['total']} findings each", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--drydock", required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--images", required=True)
    ap.add_argument("--images-stored", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", help="write the section here (Markdown) instead of standard output")
    ap.add_argument("--data", help="the data directory, kept (reused when it holds a registry)")
    a = ap.parse_args()
    import drydock
    drydock.BIN = a.drydock
    tmp = tempfile.mkdtemp(prefix="drydock-bench-query-")
    data = a.data or os.path.join(tmp, "data")
    reuse = os.path.exists(os.path.join(data, "meta.db"))
    os.makedirs(data, exist_ok=True)
    if not reuse:
        shutil.copy(a.db, os.path.join(data, "vulndb.ddb"))
    srv = Server(data).start()
    try:
        if not reuse:
            populate(srv, a.images, a.images_stored)
        else:  # a restarted server fills its findings cache in the background: let it finish
            time.sleep(15)
        base = wait_assessed(srv.url, "m/base", "1", timeout=300)
        res = []
        el, body = run(srv.url, f"{SUBS} | summarize count() by severity = tostring(properties.status.severity)",
                       a.runs)
        rows = sum(r[1] for r in body["rows"])
        res.append((f"summarize count() by severity over {rows:,} sub-assessment rows (s)", el, "< 1 s (1,000,000 rows)"))
        el, body = run(srv.url, f"{SUBS} | where properties.status.severity == 'High' | count", a.runs)
        res.append((f"count of the High sub-assessments ({body['rows'][0][0] if body['rows'] else '-'}) (s)", el, ""))
        el, body = run(srv.url, "securityresources | summarize count() by type", a.runs)
        res.append(("summarize count() by type over the whole table (s)", el, ""))
        have = next(f for f in base["findings"] if f["id"].startswith("CVE-"))["id"]
        push(os.path.join(a.images, "debian-big"), srv.url, "m/big")  # one image of other findings
        big = wait_assessed(srv.url, "m/big", "1", timeout=300, limit=100000)
        base_ids = {f["id"] for f in wait_assessed(srv.url, "m/base", "1", limit=100000)["findings"]}
        rare = sorted(f["id"] for f in big["findings"] if f["id"].startswith("CVE-") and f["id"] not in base_ids)[0]
        for cve, label in ((have, "a CVE every image has"), (rare, "a CVE one image has"),
                           ("CVE-1999-0001", "a CVE no image has")):
            q = (f"{SUBS} | where properties.additionalData.vulnerabilityDetails.cveId == '{cve}'"
                 " | distinct digest = tostring(properties.additionalData.artifactDetails.digest),"
                 " repo = tostring(properties.additionalData.artifactDetails.repositoryName)")
            el, body = run(srv.url, q, a.runs)
            res.append((f"images with {label}, over {a.images_stored:,} images: {body['totalRecords']:,} found (s)",
                        el, "< 50 ms"))
        sample = open(os.path.join(os.path.dirname(__file__), "..", "tests", "vulndb", "test_query_api.py")).read()
        sample = sample.split('SAMPLE_LIST = """')[1].split('"""')[0]
        el, body = run(srv.url, sample, 1)
        what = body.get("error") or f"{body['totalRecords']:,} rows, first 1,000 returned"
        res.append((f"the published sample listing every finding ({what}) (s)", el, ""))
        el, body = run(srv.url, "resources | where type == 'microsoft.containerregistry/registries/repositories/images'"
                                " | summarize count() by status = tostring(properties.status)", a.runs)
        res.append((f"resources: images by status over {a.images_stored:,} images (s)", el, ""))
        lines = [f"## The query language over {a.images_stored:,} images (bench/query.py)", "",
                 "| query | median | target |", "|---|---|---|"]
        lines += [f"| {label} | {v:.3f} | {target} |" for label, v, target in res]
        lines.append(f"| server RSS after the queries (MiB) | {rss_mib(srv.proc.pid):.0f} | |")
        text = "\n".join(lines) + "\n"
        if a.out:
            with open(a.out, "w") as f:
                f.write(text + "\n")
        else:
            print(text)
    except Exception:
        print(open(srv.log_path).read()[-3000:], file=sys.stderr)
        raise
    finally:
        srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)  # --data's directory stays


if __name__ == "__main__":
    main()
