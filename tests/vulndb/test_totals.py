"""The summary, /metrics and the Microsoft.Security assessment read running totals that the
store keeps with every assessment change; these tests recompute everything image by image from
the reports (/api/v1/images, rules applied) and compare, after pushes, re-assessments when the
database changes, deletes, rule changes (new, removed, expired), a restricted caller, rows
stored before counts were, a data directory from before the totals, and restarts."""
import gzip
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import time

import requests

from drydock import ADMIN_PASSWORD, BIN, OCI_MANIFEST, SHARED, VULNDATA, Server, push_blob, sha256
from drydock import wait_assessed

SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "NEGLIGIBLE", "UNKNOWN")
ADMIN = ("admin", ADMIN_PASSWORD)
OSR = b'PRETTY_NAME="Distroless"\nID=debian\nVERSION_ID="12"\n'


def status_d(fixture, name):
    with open(os.path.join(SHARED, "testdata/pkgdb/dpkg", fixture, "input/var/lib/dpkg/status.d", name), "rb") as f:
        return f.read()


def push_image(s, url, repo, tag, files=None, layer=None):
    """An image of one gzip layer holding `files` {path: bytes}, or of the raw blob `layer`."""
    if layer is None:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as t:
            for path, data in files.items():
                info = tarfile.TarInfo(path)
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
        layer = gzip.compress(buf.getvalue(), mtime=0)
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers"}}).encode()
    m = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                               "digest": push_blob(s, url, repo, cfg), "size": len(cfg)},
                    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                "digest": push_blob(s, url, repo, layer), "size": len(layer)}]}).encode()
    r = s.put(f"{url}/v2/{repo}/manifests/{tag}", data=m, headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 201, r.text
    return sha256(m)


def distroless(s, url, repo, tag, fixture="syft-statusd-coreutils", name="coreutils-relationships", extra=b""):
    """A Debian 12 image of one status.d file (`extra` makes another digest of it)."""
    files = {"etc/os-release": OSR + extra, f"var/lib/dpkg/status.d/{name}": status_d(fixture, name)}
    return push_image(s, url, repo, tag, files)


def settle(s, url):
    """Waits until no assessment is queued or running."""
    deadline = time.time() + 180
    while time.time() < deadline:
        h = s.get(f"{url}/healthz").json()
        if not h["scan_queue"] and not h["scanning"]:
            return
        time.sleep(0.1)
    raise AssertionError("the scan queue did not drain")


def recompute(s, url, reports=True):
    """Per repository: images by status, findings by severity and unfixed findings, image by image
    as each repository's listing counts them (the code the summary ran before the totals: the
    counts stored with an assessment where no rule covers it and they read as numbers, else
    its report). With `reports`, each image is also read on its own (/api/v1/images: its
    report, the rules applied) and must say the same."""
    out = {}
    catalog = s.get(f"{url}/v2/_catalog").json()["repositories"]
    for repo in catalog:
        listing = s.get(f"{url}/api/v1/repositories", params={"repository": repo}).json()
        t = {"images_by_status": {}, "findings_by_severity": dict.fromkeys(SEVERITIES, 0), "unfixed_findings": 0}
        for img in listing["images"]:
            t["images_by_status"][img["status"]] = t["images_by_status"].get(img["status"], 0) + 1
            for k in SEVERITIES:
                t["findings_by_severity"][k] += img["counts"][k]
            if reports:
                a = s.get(f"{url}/api/v1/images", params={"repository": repo, "reference": img["digest"],
                                                          "limit": 1}).json()
                counts = a.get("counts") or {}
                assert img["status"] == a["status"], (repo, img, a["status"])
                assert img["counts"] == {k: counts.get(k, 0) for k in SEVERITIES}, (repo, img, counts)
        # the listing's own totals (unfixed is only there)
        assert listing["images_by_status"] == t["images_by_status"], (repo, listing, t)
        assert listing["findings_by_severity"] == t["findings_by_severity"], (repo, listing, t)
        t["unfixed_findings"] = listing["unfixed_findings"]
        if reports:
            assert t["unfixed_findings"] == sum(
                (s.get(f"{url}/api/v1/images", params={"repository": repo, "reference": img["digest"], "limit": 1})
                 .json().get("counts") or {}).get("unfixed", 0) for img in listing["images"])
        out[repo] = t
    return out


def add_up(per_repo, keep=lambda repo: True):
    t = {"images_by_status": {}, "findings_by_severity": dict.fromkeys(SEVERITIES, 0), "unfixed_findings": 0}
    for repo, x in per_repo.items():
        if not keep(repo):
            continue
        for k, v in x["images_by_status"].items():
            t["images_by_status"][k] = t["images_by_status"].get(k, 0) + v
        for k in SEVERITIES:
            t["findings_by_severity"][k] += x["findings_by_severity"][k]
        t["unfixed_findings"] += x["unfixed_findings"]
    return t


def metrics_findings(s, url):
    text = s.get(f"{url}/metrics").text
    return {m.group(1): int(m.group(2)) for m in re.finditer(r'^drydock_findings\{severity="(\w+)"\} (\d+)$', text, re.M)}


def azure_status(s, url, ns=None):
    scope = f"/subscriptions/{ns}" if ns else ""
    r = s.get(f"{url}{scope}/providers/Microsoft.Security/assessments/dbd0cb49-b563-45e7-9724-889e799fa648",
              params={"api-version": "2021-06-01"})
    assert r.status_code == 200, r.text
    return r.json()["properties"]["status"]["code"]


def check(s, url, reader=None, metrics=True, reports=True):
    """Every registry-wide answer equals the image-by-image recomputation."""
    settle(s, url)
    per_repo = recompute(s, url, reports)
    want = add_up(per_repo)
    got = s.get(f"{url}/api/v1/summary").json()
    for k in ("images_by_status", "findings_by_severity", "unfixed_findings"):
        assert got[k] == want[k], (k, got[k], want[k])
    if metrics:  # with no rule in force /metrics is as fresh as the summary
        assert metrics_findings(s, url) == want["findings_by_severity"]
    unhealthy = lambda keep: any(x["images_by_status"].get("Unhealthy") for r, x in per_repo.items() if keep(r))
    assert azure_status(s, url) == ("Unhealthy" if unhealthy(lambda r: True) else "Healthy")
    for ns in {r.split("/")[0] for r in per_repo}:
        want_ns = "Unhealthy" if unhealthy(lambda r: r.split("/")[0] == ns) else "Healthy"
        assert azure_status(s, url, ns) == want_ns, ns
    if reader:  # a caller who sees only t/*: only those repositories count
        session, pattern = reader
        mine = add_up(per_repo, lambda r: r.startswith(pattern))
        got = session.get(f"{url}/api/v1/summary").json()
        for k in ("images_by_status", "findings_by_severity", "unfixed_findings"):
            assert got[k] == mine[k], (k, got[k], mine[k])
        assert azure_status(session, url) == ("Unhealthy" if unhealthy(lambda r: r.startswith(pattern)) else "Healthy")
    return want


def test_running_totals_match_a_full_recount(full_db, tmp_path):
    other_db = tmp_path / "dsa-only.ddb"  # the same inventories, other findings
    r = subprocess.run([BIN, "db", "import", "--db", str(other_db), os.path.join(VULNDATA, "debian-osv", "dsa.jsonl.xz")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    srv, s, reader = with_reader(full_db, tmp_path, "t/*")
    try:
        url = srv.url
        # several repositories and namespaces, several images each, every status
        for i in range(3):
            distroless(s, url, "t/app", f"v{i}", extra=b"#%d\n" % i)
        distroless(s, url, "t/lib", "1", "syft-statusd-multiple", "multiple")
        distroless(s, url, "u/app", "1")
        distroless(s, url, "u/app", "2", "syft-statusd-multiple", "multiple", extra=b"#2\n")
        push_image(s, url, "u/static", "1", {"hello": b"\x7fELF static binary"})  # NotApplicable
        push_image(s, url, "v/broken", "1", layer=b"this is not gzip")  # Failed
        assert s.put(f"{url}/api/v1/namespaces/off/scanning", params={"enabled": "false"}).status_code == 200
        distroless(s, url, "off/app", "1")
        before = check(s, url, (reader, "t/"))
        assert set(before["images_by_status"]) == {"Unhealthy", "NotApplicable", "Failed"}
        assert before["findings_by_severity"]["HIGH"] > 0 and before["unfixed_findings"] > 0

        # the database changes: every image re-assessed from its stored inventory
        def swap(db):
            """Puts db in place and waits until an image is re-assessed with it (the rest are queued
            with it at once; check() waits for the queue)."""
            gen = s.get(f"{url}/healthz").json()["vulnerability_database"]
            shutil.copy(db, os.path.join(srv.data_dir, "vulndb.ddb.new"))
            os.rename(os.path.join(srv.data_dir, "vulndb.ddb.new"), os.path.join(srv.data_dir, "vulndb.ddb"))
            deadline = time.time() + 60
            while time.time() < deadline:
                new = s.get(f"{url}/healthz").json()["vulnerability_database"]
                a = s.get(f"{url}/api/v1/images", params={"repository": "t/lib", "reference": "1", "limit": 1}).json()
                if new != gen and a["database_generation"] == new:
                    return
                time.sleep(0.1)
            raise AssertionError("t/lib was not re-assessed")
        swap(str(other_db))
        after = check(s, url, (reader, "t/"))
        assert after["findings_by_severity"] != before["findings_by_severity"]
        swap(full_db)
        assert check(s, url, (reader, "t/")) == before

        # deletes: a manifest (its assessment goes), a tag only (nothing changes)
        digest = s.get(f"{url}/api/v1/images", params={"repository": "t/app", "reference": "v1"}).json()["digest"]
        assert s.delete(f"{url}/v2/t/app/manifests/{digest}").status_code == 202
        assert s.delete(f"{url}/v2/u/app/manifests/2").status_code == 202
        fewer = check(s, url, (reader, "t/"))
        assert sum(fewer["images_by_status"].values()) == sum(before["images_by_status"].values()) - 1

        # rules: one vulnerability everywhere, everything in one repository, an expiring one
        api = f"{url}/api/v1/suppressions"
        r1 = s.post(api, json={"vulnerability": "CVE-2023-4911", "reason": "not reachable"}).json()["id"]
        check(s, url, (reader, "t/"), metrics=False)
        r2 = s.post(api, json={"severity": ",".join(SEVERITIES), "repository": "u/*", "reason": "accepted"}).json()["id"]
        ruled = check(s, url, (reader, "t/"), metrics=False)
        assert ruled["images_by_status"].get("Healthy"), ruled  # u/app: every finding suppressed
        expires = int(time.time()) + 8  # in force through the check's 30 requests on a loaded machine
        s.post(api, json={"package": "libc6", "repository": "t/*", "reason": "soon", "expires": expires})
        check(s, url, (reader, "t/"), metrics=False)
        while time.time() <= expires + 1:  # no longer in force: as if it had never been
            time.sleep(0.2)
        check(s, url, (reader, "t/"), metrics=False)
        for rid in (r1, r2):
            assert s.delete(f"{api}/{rid}").status_code == 204
        assert check(s, url, (reader, "t/")) == fewer

        # a restart reads the totals as they were left
        srv.restart()
        url = srv.url
        assert metrics_findings(s, url) == fewer["findings_by_severity"]  # the first scrape after it
        assert check(s, url, (reader, "t/")) == fewer

        # rows stored before counts were (their reports are read), counts in a form drydock never
        # writes but reads as numbers ("01"), and a data directory from before the totals
        srv.stop()
        db = sqlite3.connect(os.path.join(srv.data_dir, "meta.db"))
        db.execute("UPDATE assessments SET counts='' WHERE repo='t/app'")
        db.commit()
        assert db.execute("SELECT sum(uncounted) FROM assessment_totals WHERE repo=''").fetchone()[0] == 2
        srv.start()
        url = srv.url
        assert check(s, url, (reader, "t/")) == fewer
        srv.stop()
        db.execute("UPDATE assessments SET counts='01 2 3 4 5 6 7' WHERE repo='u/app'")
        for trigger in ("insert", "delete", "update"):
            db.execute(f"DROP TRIGGER assessments_totals_{trigger}")
        db.execute("DROP TABLE assessment_totals")
        db.execute("UPDATE assessments SET counts='0 1 0 0 0 0 1' WHERE repo='v/broken'")
        db.commit()
        db.close()
        srv.start()
        url = srv.url
        odd = check(s, url, (reader, "t/"), reports=False)
        u = s.get(f"{url}/api/v1/repositories", params={"repository": "u/app"}).json()
        n = len(u["images"])  # two: deleting tag 2 left its manifest
        assert n == 2 and u["findings_by_severity"] == dict(zip(SEVERITIES, (n, 2 * n, 3 * n, 4 * n, 5 * n, 6 * n)))
        assert s.get(f"{url}/api/v1/repositories", params={"repository": "v/broken"}).json()["unfixed_findings"] == 1
        assert odd != fewer
        # new pushes after all that
        distroless(s, url, "t/app", "again", extra=b"#again\n")
        distroless(s, url, "w/new", "1")
        wait_assessed(url, "w/new", "1", session=s)
        check(s, url, (reader, "t/"), reports=False)
    finally:
        srv.stop()


def with_reader(db, tmp_path, pattern):
    """A server with authentication and database db: it, an admin's session and the session of
    a security reader of `pattern`."""
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(db, data / "vulndb.ddb")
    srv = Server(str(data), auth=True).start()
    s = requests.Session()
    s.auth = ADMIN
    p = subprocess.run([BIN, "user", "--data", srv.data_dir, "add", "sec", "--password-stdin", "--role",
                        f"security-reader:{pattern}"], input="pw-sec-secret\n", capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    reader = requests.Session()
    reader.auth = ("sec", "pw-sec-secret")
    return srv, s, reader


def trend(s, url, days):
    r = s.get(f"{url}/api/v1/trend", params={"days": days})
    assert r.status_code == 200, r.text
    out = r.json()["days"]
    assert len(out) == days and out == sorted(out, key=lambda d: d["day"])
    return out


def level(day):
    return {k: day[k] for k in ("images_by_status", "findings_by_severity", "unfixed_findings")}


def test_trend_by_day(full_db, tmp_path):
    """/api/v1/trend: the totals at the end of each UTC day and the assessments written that day,
    summed over the namespaces the caller may read. Today's level is the summary's (no rule in
    force); days without a change carry the level before them; a day's changes (a delete, a
    push) move that day's level only; the days before the ones asked for are folded into the
    first; a data directory from before the history starts it with today's totals."""
    srv, s, reader = with_reader(full_db, tmp_path, "t/*")
    try:
        url = srv.url
        distroless(s, url, "t/app", "v0")
        u = distroless(s, url, "u/app", "1", "syft-statusd-multiple", "multiple")
        push_image(s, url, "u/static", "1", {"hello": b"\x7fELF static binary"})  # NotApplicable
        want = check(s, url, (reader, "t/"))
        mine = {k: reader.get(f"{url}/api/v1/summary").json()[k]
                for k in ("images_by_status", "findings_by_severity", "unfixed_findings")}
        days = trend(s, url, 3)
        assert level(days[-1]) == want and days[-1]["assessed"] == 3
        assert all(not d["images_by_status"] and not d["assessed"] for d in days[:-1])
        seen = trend(reader, url, 3)
        assert level(seen[-1]) == mine and seen[-1]["assessed"] == 1 and mine != want

        # the history two days older: those days keep their level, later ones carry it
        srv.stop()
        db = sqlite3.connect(os.path.join(srv.data_dir, "meta.db"))
        db.execute("UPDATE assessment_days SET day=date(day, '-2 days')")
        db.commit()
        srv.start()
        url = srv.url
        days = trend(s, url, 3)
        assert [level(d) for d in days] == [want] * 3 and [d["assessed"] for d in days] == [3, 0, 0]
        # today: one image deleted, one pushed
        assert s.delete(f"{url}/v2/u/app/manifests/{u}").status_code == 202
        distroless(s, url, "t/app", "v1", extra=b"#1\n")
        now = check(s, url, (reader, "t/"))
        days = trend(s, url, 3)
        assert [level(d) for d in days] == [want, want, now] and now != want
        assert [d["assessed"] for d in days] == [3, 0, 1]
        assert level(trend(s, url, 1)[0]) == now  # the days before folded in
        assert level(trend(reader, url, 3)[0]) == mine

        # a data directory from before the history: it starts today, from the totals
        srv.stop()
        for trigger in ("insert", "delete", "update", "assessed"):
            db.execute(f"DROP TRIGGER assessments_days_{trigger}")
        db.execute("DROP TABLE assessment_days")
        db.commit()
        db.close()
        srv.start()
        url = srv.url
        days = trend(s, url, 2)
        assert not days[0]["images_by_status"] and level(days[1]) == now and days[1]["assessed"] == 0
        distroless(s, url, "t/app", "v2", extra=b"#2\n")
        later = check(s, url, (reader, "t/"))
        assert level(trend(s, url, 1)[0]) == later and later != now

        for bad in ("0", "367", "x", ""):
            r = s.get(f"{url}/api/v1/trend", params={"days": bad})
            assert r.status_code == 400 and "days" in r.text, (bad, r.text)
    finally:
        srv.stop()


def test_upgrades_and_database(full_db, tmp_path):
    """/api/v1/upgrades sums the stored fix plans (one step per source package, to the highest
    fixed version of its findings) by source package and target version over the images the
    caller may read, most findings cleared first; /api/v1/database names each feed with its age
    and whether it is stale."""
    srv, s, reader = with_reader(full_db, tmp_path, "t/*")
    try:
        url = srv.url
        distroless(s, url, "t/app", "1")
        distroless(s, url, "t/app", "2", extra=b"#2\n")
        distroless(s, url, "t/lib", "1", "syft-statusd-multiple", "multiple")
        distroless(s, url, "u/app", "1", "syft-statusd-multiple", "multiple", extra=b"#u\n")
        settle(s, url)

        def expected(keep):
            want = {}
            for repo in s.get(f"{url}/v2/_catalog").json()["repositories"]:
                if not keep(repo):
                    continue
                for img in s.get(f"{url}/api/v1/repositories", params={"repository": repo}).json()["images"]:
                    a = s.get(f"{url}/api/v1/images", params={"repository": repo, "reference": img["digest"],
                                                              "limit": 1}).json()
                    for step in a.get("fix_plan") or []:
                        k = (step["source"], step["to"])
                        c, n = want.get(k, (0, 0))
                        want[k] = (c + step["clears"], n + 1)
            return want

        def got(session, limit=100):
            r = session.get(f"{url}/api/v1/upgrades", params={"limit": limit})
            assert r.status_code == 200, r.text
            return r.json()

        everything = expected(lambda r: True)
        assert everything and any(n > 1 for c, n in everything.values())
        g = got(s)
        assert g["total"] == len(everything) and g["before_suppression_rules"]
        assert {(u["source"], u["to"]): (u["clears"], u["images"]) for u in g["upgrades"]} == everything
        order = [(-u["clears"], -u["images"], u["source"], u["to"]) for u in g["upgrades"]]
        assert order == sorted(order)
        assert got(s, 1)["upgrades"] == g["upgrades"][:1]
        mine = expected(lambda r: r.startswith("t/"))
        assert {(u["source"], u["to"]): (u["clears"], u["images"]) for u in got(reader)["upgrades"]} == mine
        assert mine != everything
        for bad in ("0", "101", "x"):
            assert s.get(f"{url}/api/v1/upgrades", params={"limit": bad}).status_code == 400

        d = reader.get(f"{url}/api/v1/database").json()
        assert d["generation"] == s.get(f"{url}/healthz").json()["vulnerability_database"]
        assert d["stale_after_days"] == 7 and len(d["feeds"]) > 5
        dated = [f for f in d["feeds"] if "age_days" in f]
        assert dated and all(f["stale"] == (f["age_days"] > 7 or (f["age_days"] == 7 and f["stale"])) for f in dated)
        assert any(f["stale"] for f in dated)  # the test feeds are old snapshots
        assert all(f["records"] >= 0 and f["name"] and f["kind"] for f in d["feeds"])
    finally:
        srv.stop()
