"""`drydock scan` end to end: real images and real package databases matched against the
database built from the real feeds. The expected findings below were checked by hand against
the feed records named in each test."""
import json
import os
import shutil
import subprocess

import pytest

from drydock import BIN, SHARED

SEVERITIES = {"CRITICAL", "HIGH", "MEDIUM", "LOW", "NEGLIGIBLE", "UNKNOWN"}
PKGDB = os.path.join(SHARED, "testdata", "pkgdb", "dpkg")


def scan(db, target, *args):
    return subprocess.run([BIN, "scan", "--db", db, *args, target], capture_output=True, text=True)


def scan_json(db, target, *args):
    r = scan(db, target, "--format", "json", *args)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def rootfs(tmp_path, os_release, pkgdb_dir):
    """A root filesystem with an os-release and a real package database from the shared folder."""
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "os-release").write_text(os_release)
    shutil.copytree(os.path.join(pkgdb_dir, "input", "var"), root / "var")
    return str(root)


def by_id(report, vid, pkg):
    hits = [f for f in report["findings"] if f["id"] == vid and f["package"] == pkg]
    assert len(hits) <= 1, hits  # one finding per issue and package
    return hits[0] if hits else None


def test_debian_image(full_db, images):
    r = scan_json(full_db, os.path.join(images, "debian-min"))
    assert r["ecosystem"] == "Debian:12" and r["status"] == "Unhealthy"
    assert r["counts"]["total"] == len(r["findings"]) > 0
    assert sum(r["counts"][s] for s in SEVERITIES) == r["counts"]["total"]
    for f in r["findings"]:
        assert f["severity"] in SEVERITIES and f["remediation"]
        assert f["patchable"] == (f["fixed_version"] is not None)
        assert f["source_package"] and f["installed_version"]
    # today's bookworm packages are newer than the feed snapshot: what is left has no fix in it
    assert r["counts"]["unfixed"] == r["counts"]["total"]
    # no issue is reported twice for one package
    keys = [(f["id"], f["package"]) for f in r["findings"]]
    assert len(keys) == len(set(keys))
    high = scan_json(full_db, os.path.join(images, "debian-min"), "--severity", "CRITICAL,HIGH")
    assert {f["severity"] for f in high["findings"]} <= {"CRITICAL", "HIGH"}
    assert len(high["findings"]) == r["counts"]["CRITICAL"] + r["counts"]["HIGH"]
    fixed_only = scan_json(full_db, os.path.join(images, "debian-min"), "--ignore-unfixed")
    assert fixed_only["status"] == "Healthy" and fixed_only["findings"] == []
    code = scan(full_db, os.path.join(images, "debian-min"), "--exit-code", "7")
    assert code.returncode == 7 and "Fix plan" not in code.stdout and "Unhealthy" in code.stdout


def test_old_bookworm_packages(full_db, tmp_path):
    """syft's distroless status.d fixture: bookworm libc6 2.36-9+deb12u1 (source glibc).
    Debian OSV CVE-2023-4911: Debian:12 glibc fixed 2.36-9+deb12u3; DSA-5514-1 fixes exactly
    that CVE, so it is an alias of the one finding."""
    root = rootfs(tmp_path, 'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n',
                  os.path.join(PKGDB, "syft-statusd-coreutils"))
    r = scan_json(full_db, root)
    f = by_id(r, "CVE-2023-4911", "libc6")
    assert f and f["fixed_version"] == "2.36-9+deb12u3" and f["patchable"]
    assert f["remediation"] == "upgrade libc6 from 2.36-9+deb12u1 to 2.36-9+deb12u3 or later"
    assert "DSA-5514-1" in f["aliases"] and not by_id(r, "DSA-5514-1", "libc6")
    assert f["cvss"]["score"] == 7.8 and f["severity"] == "HIGH" and f["severity_source"] == "cvss"
    steps = {s["source"]: s for s in r["fix_plan"]}
    assert "glibc" in steps and "libc6" in steps["glibc"]["packages"]
    assert steps["glibc"]["clears"] == len([x for x in r["findings"] if x["source_package"] == "glibc" and x["patchable"]])
    table = scan(full_db, root)
    assert "Fix plan" in table.stdout and "CVE-2023-4911" in table.stdout


def test_old_ubuntu_packages(full_db, tmp_path):
    """trivy's Ubuntu 18.04 status fixture. UCT: CVE-2018-25032 bionic zlib released
    1:1.2.11.dfsg-0ubuntu2.1, priority medium; CVE-2019-19126 bionic glibc released
    2.27-3ubuntu1.2, priority low."""
    root = rootfs(tmp_path, 'ID=ubuntu\nVERSION_ID="18.04"\nVERSION_CODENAME=bionic\n',
                  os.path.join(PKGDB, "trivy-ubuntu1804-status"))
    r = scan_json(full_db, root)
    assert r["ecosystem"] == "Ubuntu:18.04"
    f = by_id(r, "CVE-2018-25032", "zlib1g")
    assert f and f["fixed_version"] == "1:1.2.11.dfsg-0ubuntu2.1" and f["severity"] == "MEDIUM"
    assert f["vendor_severity"] == "medium" and f["severity_source"] == "vendor"
    assert f["tracker_status"] == "released"
    f = by_id(r, "CVE-2019-19126", "libc6")
    assert f and f["fixed_version"] == "2.27-3ubuntu1.2" and f["severity"] == "LOW"
    # the binary's version as installed, and the one compared (Ubuntu keys by source package)
    assert f["installed_version"] == f["package_version"] and f["compared_version"]
    # every finding keeps the tracker's word (fixed ones "released"; unfixed: needed, needs-triage,
    # deferred, pending) and can be filtered on it
    states = {(x.get("tracker_status"), x["patchable"]) for x in r["findings"]}
    assert states and all(s == "released" if p else s in ("needed", "needs-triage", "deferred", "pending")
                          for s, p in states), states


def test_alpine_findings_rated_by_another_distribution(full_db, tmp_path):
    """Alpine's feeds rate nothing: a finding no CVSS scores takes the worst rating another
    distribution gives the same CVE for a package of the same name, and says whose."""
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "os-release").write_text('ID=alpine\nVERSION_ID=3.18.4\n')
    shutil.copytree(os.path.join(PKGDB, "..", "apk", "trivy-apk", "input", "lib"), root / "lib")
    r = scan_json(full_db, str(root))
    assert r["ecosystem"].startswith("Alpine:")
    others = [f for f in r["findings"] if f["severity_source"].startswith("distribution:")]
    assert others and all(f["severity"] != "UNKNOWN" and f["cvss"] is None and f["vendor_severity"] is None
                          for f in others)
    assert all(f["severity_source"].split(":", 1)[1].split(":")[0] in ("Ubuntu", "Debian", "Red Hat", "Rocky Linux",
                                                                      "AlmaLinux") for f in others), others[0]
    # a finding that has a CVSS score keeps it
    assert all(f["severity_source"] in ("cvss", "none") or f in others for f in r["findings"])


def test_unsupported_os_is_not_healthy(full_db, tmp_path):
    root = rootfs(tmp_path, 'ID=slackware\nVERSION_ID="15.0"\n', os.path.join(PKGDB, "syft-statusd-coreutils"))
    r = scan_json(full_db, root)
    assert r["status"] == "NotApplicable" and "slackware" in r["reason"] and r["findings"] == []


def test_without_a_database(tmp_path, images):
    r = scan(str(tmp_path / "none.ddb"), os.path.join(images, "debian-min"))
    assert r.returncode == 2 and "db update" in r.stderr and "none.ddb" in r.stderr
    r = subprocess.run([BIN, "scan", "--db", str(tmp_path / "none.ddb"), "--format", "xml", "x"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "unknown format" in r.stderr


def test_scan_pulls_from_a_registry(full_db, images, tmp_path):
    """`drydock scan HOST:PORT/REPO:TAG` pulls over the OCI API (http on loopback) and finds
    what a scan of the same image on disk finds; a second scan takes the layers from the cache."""
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
    from drydock import Server
    srv = Server(str(tmp_path / "reg")).start()
    try:
        host = srv.url.split("://")[1]
        subprocess.run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false",
                        "oci:" + os.path.join(images, "debian-min"), f"docker://{host}/team/min:1"],
                       check=True, capture_output=True)
        local = scan_json(full_db, os.path.join(images, "debian-min"))
        remote = scan_json(full_db, f"{host}/team/min:1")
        key = lambda f: (f["id"], f["package"], f["installed_version"])  # noqa: E731
        assert sorted(map(key, remote["findings"])) == sorted(map(key, local["findings"]))
        assert remote["manifest"] == local["manifest"]
        again = scan_json(full_db, f"{host}/team/min@{remote['manifest']}")
        assert len(again["findings"]) == len(remote["findings"])
        r = scan(full_db, f"{host}/team/nope:1")
        assert r.returncode == 2 and "404" in r.stderr
    finally:
        srv.stop()
