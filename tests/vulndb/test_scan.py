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
    f = by_id(r, "CVE-2019-19126", "libc6")
    assert f and f["fixed_version"] == "2.27-3ubuntu1.2" and f["severity"] == "LOW"


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


def test_registry_reference_is_not_implemented(full_db):
    r = scan(full_db, "registry.example:5000/team/app:1.0")
    assert r.returncode == 2 and "not implemented" in r.stderr


def test_report_formats(full_db, tmp_path):
    """SARIF 2.1.0, CycloneDX 1.5 and SPDX 2.3 checked against what their schemas require."""
    root = rootfs(tmp_path, 'ID=debian\nVERSION_ID="12"\n', os.path.join(PKGDB, "syft-statusd-coreutils"))
    ref = scan_json(full_db, root)
    n = len(ref["findings"])
    sarif = json.loads(scan(full_db, root, "--format", "sarif").stdout)
    assert sarif["version"] == "2.1.0" and len(sarif["runs"]) == 1
    run = sarif["runs"][0]
    assert run["tool"]["driver"]["name"] == "drydock"
    rules = run["tool"]["driver"]["rules"]
    assert len({r["id"] for r in rules}) == len(rules)
    assert len(run["results"]) == n
    for res in run["results"]:
        assert res["level"] in ("none", "note", "warning", "error") and res["message"]["text"]
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"]
        assert res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    looney = [r for r in rules if r["id"] == "CVE-2023-4911"][0]
    assert looney["properties"]["security-severity"] == "7.8" and looney["defaultConfiguration"]["level"] == "error"

    cdx = json.loads(scan(full_db, root, "--format", "cyclonedx").stdout)
    assert cdx["bomFormat"] == "CycloneDX" and cdx["specVersion"] == "1.5"
    refs = {c["bom-ref"] for c in cdx["components"]}
    assert len(cdx["vulnerabilities"]) == n
    for v in cdx["vulnerabilities"]:
        assert v["id"] and v["affects"][0]["ref"] in refs
        for r in v["ratings"]:
            assert r["severity"] in ("critical", "high", "medium", "low", "info", "none", "unknown")
    lv = [v for v in cdx["vulnerabilities"] if v["id"] == "CVE-2023-4911"][0]
    assert lv["ratings"][0]["score"] == 7.8 and lv["ratings"][0]["method"] == "CVSSv31"
    assert lv["recommendation"].startswith("upgrade libc6")

    spdx = json.loads(scan(full_db, root, "--format", "spdx").stdout)
    assert spdx["spdxVersion"] == "SPDX-2.3" and len(spdx["annotations"]) == n
    ids = {p["SPDXID"] for p in spdx["packages"]}
    libc = [p for p in spdx["packages"] if p["name"] == "libc6"][0]
    sec = [r for r in libc["externalRefs"] if r["referenceCategory"] == "SECURITY"]
    assert sec and all(r["referenceType"] == "advisory" and r["referenceLocator"] for r in sec)
    for a in spdx["annotations"]:
        assert a["annotationType"] == "REVIEW" and a["annotator"].startswith("Tool: ")
        assert any(i in a["comment"] for i in ids)
    # filters apply to every format
    hi = json.loads(scan(full_db, root, "--format", "sarif", "--severity", "CRITICAL,HIGH").stdout)
    assert len(hi["runs"][0]["results"]) == ref["counts"]["CRITICAL"] + ref["counts"]["HIGH"]
