"""The dashboard (issue 18): its files as the server serves them, and the pages in a real
browser (tests/browser/dashboard.mjs: Debian's chromium driven by playwright-core, installed
from the npm registry into a cache outside the repository, keyed by its lock file's hash).
Screenshots of the overview and an image page are kept in build/test-artefacts/."""
import hashlib
import json
import os
import shutil
import subprocess
import time

import pytest
import requests

from drydock import ADMIN_PASSWORD, Server
from drydock import wait_assessed as wait
from test_query_api import add_user, authenticated
from test_scan_on_push import CLEAN, distroless, push_layers

HERE = os.path.dirname(os.path.abspath(__file__))
BROWSER = os.path.join(HERE, "..", "browser")
ARTEFACTS = os.path.join(HERE, "..", "..", "build", "test-artefacts")
CACHE = os.environ.get("DRYDOCK_TEST_CACHE", "/var/cache/drydock-tests")


def playwright_modules():
    """playwright-core's node_modules, installed once per version of the lock file."""
    lock = open(os.path.join(BROWSER, "package-lock.json"), "rb").read()
    where = os.path.join(CACHE, "browser-" + hashlib.sha256(lock).hexdigest()[:16])
    if not os.path.isdir(os.path.join(where, "node_modules", "playwright-core")):
        tmp = where + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        for f in ("package.json", "package-lock.json"):
            shutil.copy(os.path.join(BROWSER, f), tmp)
        r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--prefix", tmp], capture_output=True, text=True,
                           timeout=600)
        assert r.returncode == 0, r.stdout + r.stderr
        shutil.rmtree(where, ignore_errors=True)
        os.rename(tmp, where)
    return os.path.join(where, "node_modules")


def server_with_auth(db, tmp_path):
    """A server with authentication on (the administrator's password ADMIN_PASSWORD) and db."""
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(db, data / "vulndb.ddb")
    return Server(str(data), auth=True).start()


def test_files_are_served_with_a_strict_policy(tmp_path):
    s = Server(str(tmp_path / "data")).start()
    try:
        r = requests.get(s.url + "/")
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
        assert '<script src="/ui/app.js"' in r.text
        csp = r.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert r.headers["X-Content-Type-Options"] == "nosniff" and r.headers["X-Frame-Options"] == "DENY"
        assert r.headers["Referrer-Policy"] == "no-referrer"
        for path, kind in (("/ui/app.js", "text/javascript"), ("/ui/app.css", "text/css")):
            r = requests.get(s.url + path)
            assert r.status_code == 200 and r.headers["Content-Type"].startswith(kind) and len(r.content) > 100
            again = requests.get(s.url + path, headers={"If-None-Match": r.headers["ETag"]})
            assert again.status_code == 304 and not again.content
        body = requests.get(s.url + "/ui/app.js").content
        assert requests.head(s.url + "/ui/app.js").headers["Content-Length"] == str(len(body))
        assert requests.get(s.url + "/ui/nothing.js").status_code == 404
        assert requests.get(s.url + "/ui/../meta.db").status_code == 404
        assert requests.post(s.url + "/", data="x").status_code == 405
        assert requests.get(s.url + "/v2/").status_code == 200  # the registry is still there
    finally:
        s.stop()


def test_changes_asked_by_another_site_are_refused(tmp_path):
    """A browser that keeps Basic credentials for the server (typed once into its prompt) would
    send them with a form or a no-cors fetch from any page: the security API makes no change on
    such a request. Same-origin requests and tools (no Origin, no Sec-Fetch-Site) go on."""
    s = Server(str(tmp_path / "data")).start()
    try:
        rule = {"vulnerability": "CVE-2023-4911", "reason": "x"}
        api = s.url + "/api/v1/suppressions"
        for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"},
                        {"Sec-Fetch-Site": "same-site"}, {"Origin": "null"}):
            r = requests.post(api, data=json_text(rule), headers=dict(headers, **{"Content-Type": "text/plain"}))
            assert r.status_code == 403 and "another site" in r.text, (headers, r.text)
            r = requests.put(s.url + "/api/v1/namespaces/team/scanning?enabled=false", headers=headers)
            assert r.status_code == 403, headers
        assert requests.get(api).json()["suppressions"] == []  # nothing was made
        host = s.url.split("://")[1]
        ok = [{}, {"Sec-Fetch-Site": "same-origin"}, {"Origin": "http://" + host}]
        for headers in ok:
            r = requests.post(api, json=rule, headers=headers)
            assert r.status_code == 201, (headers, r.text)
        r = requests.get(api, headers={"Origin": "https://evil.example"})  # reading is not a change
        assert r.status_code == 200 and len(r.json()["suppressions"]) == len(ok)
    finally:
        s.stop()


def json_text(o):
    import json
    return json.dumps(o)


def test_the_pages_in_a_browser(full_db, tmp_path):
    if not shutil.which("chromium") or not shutil.which("node"):
        pytest.fail("chromium and node are needed (scripts/deps.sh installs them)")
    modules = playwright_modules()
    s = server_with_auth(full_db, tmp_path)
    try:
        pusher = add_user(s, "pusher", "writer:*")
        reader, reader_pw = add_user(s, "reader", "security-reader:team/*")
        owner, owner_pw = add_user(s, "owner", "owner:team/*")
        with authenticated(pusher):
            distroless(s.url, "team/app")
            distroless(s.url, "other/app")  # not the reader's: never shown to them
            push_layers(s.url, "team/clean", "1", CLEAN)
            # uploaded text that is markup: an OS name and a package's name
            hostile = push_layers(s.url, "other/hostile", "1", {
                "etc/os-release": b'PRETTY_NAME="<img src=x onerror=window.pwned=4>"\nID=debian\nVERSION_ID="12"\n',
                "var/lib/dpkg/status": b"Package: evil<script>window.pwned=5</script>\nStatus: install ok installed\n"
                                       b"Architecture: amd64\nVersion: 1.0\n\n"})
        admin = ("admin", ADMIN_PASSWORD)
        wait(s.url, "other/hostile", "1", session=_session(admin))
        a = wait(s.url, "team/app", "1", session=_session(admin))
        wait(s.url, "other/app", "1", session=_session(admin))
        cve = next(f["id"] for f in a["findings"] if f["id"].startswith("CVE-"))
        os.makedirs(ARTEFACTS, exist_ok=True)
        env = dict(os.environ, URL=s.url, MODULES=modules, READER=reader, READER_PASSWORD=reader_pw, OWNER=owner,
                   OWNER_PASSWORD=owner_pw, ADMIN_PASSWORD=ADMIN_PASSWORD, CVE=cve,
                   IMAGE="#/image/team%2Fapp@" + a["digest"].replace(":", "%3A"), OUT=os.path.abspath(ARTEFACTS),
                   HOSTILE="#/image/other%2Fhostile@" + hostile.replace(":", "%3A"))
        r = subprocess.run(["node", os.path.join(BROWSER, "dashboard.mjs")], env=env, capture_output=True, text=True,
                           timeout=300)
        print(r.stdout)
        assert r.returncode == 0, r.stdout + r.stderr
        for shot in ("overview.png", "image.png"):
            assert os.path.getsize(os.path.join(ARTEFACTS, shot)) > 10000
    finally:
        s.stop()


def _session(creds):
    x = requests.Session()
    x.auth = creds
    return x


def test_an_image_scanned_again_on_request(full_db, tmp_path):
    """POST /api/v1/images/scan (the image page's button): those who may push to the repository
    queue a scan that reads the image again; others are refused; the audit log names who asked."""
    s = server_with_auth(full_db, tmp_path)
    try:
        writer = add_user(s, "w", "writer:team/*")
        reader = add_user(s, "r", "security-reader:team/*")
        with authenticated(writer):
            distroless(s.url, "team/app")
        admin = _session(("admin", ADMIN_PASSWORD))
        first = wait(s.url, "team/app", "1", session=admin)
        url = s.url + "/api/v1/images/scan"
        r = _session(reader).post(url, params={"repository": "team/app", "reference": "1"})
        assert r.status_code == 403, r.text
        r = _session(writer).get(url, params={"repository": "team/app", "reference": "1"})
        assert r.status_code == 405
        r = _session(writer).post(url, params={"repository": "team/app", "reference": "nope"})
        assert r.status_code == 404
        r = _session(writer).post(url, params={"repository": "team/app"})
        assert r.status_code == 400 and "reference" in r.text
        time.sleep(1.1)  # scanned_at counts seconds: the new one must differ
        r = _session(writer).post(url, params={"repository": "team/app", "reference": "1"})
        assert r.status_code == 202 and r.json()["queued"] is True and r.json()["digest"] == first["digest"], r.text
        again = first
        deadline = time.time() + 60
        while again["scanned_at"] == first["scanned_at"] and time.time() < deadline:
            time.sleep(0.2)
            again = wait(s.url, "team/app", "1", session=admin)
        assert again["scanned_at"] > first["scanned_at"] and again["counts"] == first["counts"]
        log = admin.get(s.url + "/api/v1/audit").json()["entries"]
        assert any(e["action"] == "scan-request" and e["actor"] == "w" and e["target"] == "team/app@" + first["digest"]
                   for e in log), log
    finally:
        s.stop()


def test_image_parts_for_the_image_page(full_db, images, tmp_path):
    """What the image page shows beside the findings: an image's layers, bottom first, with
    their sizes and the packages each introduced (a layer that introduced none: an empty list);
    an index's platforms, each with its status and counts under the rules, and the worst of them;
    the referrers (an SBOM, a signature) whose subject the image is."""
    from test_scan_on_push import server_with_db, push_layers, CLEAN
    from drydock import push_blob, sha256
    srv = server_with_db(tmp_path, full_db)
    try:
        url = srv.url
        subprocess.run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false",
                        f"oci:{os.path.join(images, 'debian-big')}", f"docker://127.0.0.1:{srv.port}/t/big:1"],
                       check=True, capture_output=True)
        a = wait(url, "t/big", "1", limit=1)
        m = requests.get(f"{url}/v2/t/big/manifests/1", headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}).json()
        assert [x["digest"] for x in a["layers"]] == [x["digest"] for x in m["layers"]]
        assert [x["size"] for x in a["layers"]] == [x["size"] for x in m["layers"]]
        counts = [len(x["packages"]) for x in a["layers"]]
        assert sum(counts) == a["packages"] and counts[0] > 0, counts
        assert any(p["name"] == "libc6" and p["version"] for x in a["layers"] for p in x["packages"])
        assert "layer_packages" not in a and a["referrers"] == []

        # an index of two platforms, one unhealthy and one healthy
        unhealthy = push_layers(url, "t/multi", "amd64", {
            "etc/os-release": b'ID=debian\nVERSION_ID="12"\n',
            "var/lib/dpkg/status": b"Package: zlib1g\nStatus: install ok installed\nArchitecture: amd64\n"
                                   b"Source: zlib\nVersion: 1:1.2.13.dfsg-1\n\n"})
        healthy = push_layers(url, "t/multi", "arm64", CLEAN)
        wait(url, "t/multi", "amd64")
        wait(url, "t/multi", "arm64")
        index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": d,
             "size": len(requests.get(f"{url}/v2/t/multi/manifests/{d}").content),
             "platform": {"os": "linux", "architecture": arch}} for d, arch in ((healthy, "arm64"), (unhealthy, "amd64"))]})
        r = requests.put(f"{url}/v2/t/multi/manifests/1", data=index,
                         headers={"Content-Type": "application/vnd.oci.image.index.v1+json"})
        assert r.status_code == 201, r.text
        # the index's own row is queued until the scanner marks it (NotApplicable: an index has no packages)
        i = wait(url, "t/multi", "1")
        assert [(p["platform"], p["status"]) for p in i["manifests"]] == [("linux/arm64", "Healthy"),
                                                                          ("linux/amd64", "Unhealthy")]
        assert i["worst_platform_status"] == "Unhealthy" and i["manifests"][1]["counts"]["CRITICAL"] >= 0
        assert sum(i["manifests"][1]["counts"].values()) > 0 and "layers" not in i
        # the resources table says the same of the index row (the image list filters on it)
        q = requests.post(f"{url}/api/v1/query", json={"query": "resources | where name == "
                          f"'t/multi@{i['digest']}' | project w = tostring(properties.worstPlatformStatus), "
                          "s = tostring(properties.status), p = strcat_array(properties.platforms, ',')"}).json()
        assert q["rows"] == [["Unhealthy", "NotApplicable", "linux/arm64,linux/amd64"]], q
        # every finding of the unhealthy platform suppressed: the worst is Healthy now
        rule = requests.post(f"{url}/api/v1/suppressions", json={"repository": "t/multi", "reason": "accepted",
                                                                 "severity": "CRITICAL,HIGH,MEDIUM,LOW,NEGLIGIBLE,UNKNOWN"})
        assert rule.status_code == 201, rule.text
        i = requests.get(f"{url}/api/v1/images", params={"repository": "t/multi", "reference": "1"}).json()
        assert i["worst_platform_status"] == "Healthy", i["manifests"]

        # referrers: an SBOM of the image, then listed on it
        cfg = b"{}"
        sbom = b'{"spdxVersion": "SPDX-2.3"}'
        s = requests.Session()
        art = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                          "artifactType": "application/spdx+json",
                          "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": push_blob(s, url, "t/big", cfg),
                                     "size": len(cfg)},
                          "layers": [{"mediaType": "application/spdx+json", "digest": push_blob(s, url, "t/big", sbom),
                                      "size": len(sbom)}],
                          "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": a["digest"],
                                      "size": len(requests.get(f"{url}/v2/t/big/manifests/1").content)}}).encode()
        assert s.put(f"{url}/v2/t/big/manifests/sbom", data=art,
                     headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"}).status_code == 201
        a = requests.get(f"{url}/api/v1/images", params={"repository": "t/big", "reference": "1", "limit": 1}).json()
        assert [(x["digest"], x["artifact_type"], x["size"]) for x in a["referrers"]] == [
            (sha256(art), "application/spdx+json", len(art))]
    finally:
        srv.stop()
