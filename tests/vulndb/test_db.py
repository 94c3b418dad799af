"""`drydock db import|update|info` over the real feed snapshots: what the database holds, that a
failed build or update leaves the previous database in place, that a damaged file is refused,
and downloads from a mirror served over loopback (conditional GET on the second run)."""
import http.server
import json
import os
import shutil
import subprocess
import threading
import zipfile

import pytest

from drydock import BIN, VULNDATA


def db(*args, env=None):
    return subprocess.run([BIN, "db", *args], capture_output=True, text=True, env=env)


def info(path):
    r = db("info", "--db", path, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_info_lists_every_feed_and_ecosystem(full_db):
    i = info(full_db)
    assert i["format"] == 4 and len(i["generation"]) == 16
    assert i["vulnerabilities"] > 80000
    ecos = {e["ecosystem"]: e for e in i["ecosystems"]}
    for e in ("Debian:12", "Debian:11", "Ubuntu:22.04", "Ubuntu:18.04", "Alpine:v3.18", "Alpine:edge",
              "Red Hat:9", "Rocky Linux:9", "AlmaLinux:9"):
        assert e in ecos and ecos[e]["entries"] > 0, e
    # Red Hat's CPE streams are folded into one ecosystem per major release
    assert not any(e.startswith("Red Hat:enterprise_linux") for e in ecos)
    feeds = {f["name"]: f for f in i["feeds"]}
    assert feeds["debian-osv"]["records"] == 44181
    assert feeds["ubuntu-cve-tracker"]["records"] >= 51478
    assert feeds["redhat-osv"]["records"] == 15175
    # snapshot times come from the records' own `modified` where the feed has them
    assert feeds["debian-osv"]["snapshot"].startswith("2025-02-12")
    text = db("info", "--db", full_db)
    assert text.returncode == 0 and "data up to" in text.stdout and "Debian (" in text.stdout
    assert len(text.stdout.splitlines()) < 60  # a summary by source and family (it printed ~670 lines)
    assert "warning:" in text.stdout and "days old" in text.stdout  # the test feeds are stale snapshots
    full = db("info", "--db", full_db, "--verbose")
    assert "Debian:12" in full.stdout and "debian-osv" in full.stdout and len(full.stdout.splitlines()) > 100


def test_failed_import_keeps_the_previous_database(tmp_path):
    path = str(tmp_path / "v.ddb")
    assert db("import", "--db", path, os.path.join(VULNDATA, "alpine-secdb", "v3.18")).returncode == 0
    before = info(path)["generation"]
    r = db("import", "--db", path, str(tmp_path / "no-such-feed"))
    assert r.returncode == 1 and "no-such-feed" in r.stderr and "not changed" in r.stderr
    assert info(path)["generation"] == before
    assert not [f for f in os.listdir(tmp_path) if ".tmp." in f]  # no temporary left behind


def test_damaged_database_is_refused(tmp_path):
    path = tmp_path / "v.ddb"
    assert db("import", "--db", str(path), os.path.join(VULNDATA, "alpine-secdb", "v3.18")).returncode == 0
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    r = db("info", "--db", str(path))
    assert r.returncode == 1 and "checksum" in r.stderr
    path.write_bytes(bytes(data[:100]))
    r = db("info", "--db", str(path))
    assert r.returncode == 1 and ("truncated" in r.stderr or "short" in r.stderr)
    r = db("info", "--db", str(tmp_path / "missing.ddb"))
    assert r.returncode == 1 and "missing.ddb" in r.stderr


def test_bad_records_are_skipped_and_counted(tmp_path):
    feed = tmp_path / "feed"
    feed.mkdir()
    good = json.load(open(os.path.join(VULNDATA, "debian-osv", "examples", "CVE-2023-4911.json")))
    (feed / "records.jsonl").write_text(json.dumps(good) + "\n{not json\n" + json.dumps({"no": "id"}) + "\n")
    path = str(tmp_path / "v.ddb")
    r = db("import", "--db", path, str(feed))
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("skipped a record") == 2 and "records.jsonl" in r.stderr
    f = info(path)["feeds"][0]
    assert f["records"] == 1 and f["skipped"] == 2


class Mirror:
    """A directory served over loopback HTTP (http.server answers If-Modified-Since with 304)."""

    def __init__(self, root):
        handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=root, **k)  # noqa: E731
        http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = "http://127.0.0.1:%d/" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_update_from_a_mirror(tmp_path):
    root = tmp_path / "mirror"
    (root / "debian").mkdir(parents=True)
    (root / "alpine" / "v3.18").mkdir(parents=True)
    (root / "osv" / "Debian").mkdir(parents=True)
    shutil.copy(os.path.join(VULNDATA, "debian-tracker-json-sample", "glvd-debian-security-tracker.json"),
                root / "debian" / "tracker.json")
    shutil.copy(os.path.join(VULNDATA, "alpine-secdb", "v3.18", "main.json"), root / "alpine" / "v3.18" / "main.json")
    with zipfile.ZipFile(root / "osv" / "Debian" / "all.zip", "w") as z:  # osv.dev's export shape
        for name in ("CVE-2023-4911.json", "DSA-5514-1.json"):
            z.write(os.path.join(VULNDATA, "debian-osv", "examples", name), name)
    m = Mirror(str(root))
    try:
        path = str(tmp_path / "data" / "vulndb.ddb")
        os.makedirs(os.path.dirname(path))
        r = db("update", "--db", path, "--mirror", m.url)
        assert r.returncode == 0, r.stderr
        assert "debian/tracker.json" in r.stderr and "downloaded" in r.stderr
        assert "failed" in r.stderr  # feeds the mirror lacks are reported, the rest still builds
        i = info(path)
        ecos = {e["ecosystem"] for e in i["ecosystems"]}
        assert {"Debian:12", "Alpine:v3.18"} <= ecos
        first = i["generation"]
        r = db("update", "--db", path, "--mirror", m.url)
        assert r.returncode == 0 and "unchanged" in r.stderr, r.stderr  # If-Modified-Since -> 304
        assert info(path)["generation"] != first  # rebuilt from the kept files
    finally:
        m.close()


def test_update_offline_falls_back_or_keeps_the_old_database(tmp_path):
    path = str(tmp_path / "vulndb.ddb")
    dead = "http://127.0.0.1:9/"  # discard port: nothing listens
    r = db("update", "--db", path, "--mirror", dead)
    assert r.returncode == 1 and "fallback-dir" in r.stderr and not os.path.exists(path)
    fallback = os.path.join(VULNDATA, "alpine-secdb", "v3.18")
    r = db("update", "--db", path, "--mirror", dead, "--fallback-dir", fallback)
    assert r.returncode == 0 and "importing the local feed directory" in r.stderr, r.stderr
    gen = info(path)["generation"]
    env = dict(os.environ, DRYDOCK_FEEDS_DIR=str(tmp_path / "nothing-here"))
    r = db("update", "--db", path, "--mirror", dead, env=env)
    assert r.returncode == 1 and "unchanged" in r.stderr
    assert info(path)["generation"] == gen


def test_run_script_prepares_a_database_offline(tmp_path):
    """The README's run command: offline, it imports DRYDOCK_FEEDS_DIR and says how old the data is;
    run again within 12 hours, it keeps the database."""
    root = os.path.join(os.path.dirname(__file__), "..", "..")
    env = dict(os.environ, DRYDOCK_DATA=str(tmp_path / "data"), DRYDOCK_FEEDS_MIRROR="http://127.0.0.1:9/",
               DRYDOCK_FEEDS_DIR=os.path.join(VULNDATA, "alpine-secdb", "v3.18"))
    r = subprocess.run([os.path.join(root, "scripts", "run.sh"), "--prepare-only"], env=env, capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    assert "importing the local feed directory" in r.stderr and "vulnerability data up to" in r.stderr
    assert os.path.exists(tmp_path / "data" / "vulndb.ddb")
    r = subprocess.run([os.path.join(root, "scripts", "run.sh"), "--prepare-only"], env=env, capture_output=True,
                       text=True)
    assert r.returncode == 0 and "fresh" in r.stderr, r.stderr
