"""`drydock scan --format sarif|cyclonedx|spdx` checked against the structure their
specifications require (SARIF 2.1.0, CycloneDX 1.5, SPDX 2.3 JSON): required members and
their types, the enumerations, identifier grammars, and that every internal reference
resolves. The findings they carry are the same as `--format json` says."""
import json
import os
import re
import subprocess

import pytest

from drydock import BIN

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture(scope="module")
def outputs(full_db, images):
    layout = os.path.join(images, "debian-min")
    out = {}
    for fmt in ("json", "sarif", "cyclonedx", "spdx"):
        p = subprocess.run([BIN, "scan", "--db", full_db, "--format", fmt, layout], capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        out[fmt] = json.loads(p.stdout)
    return out


def test_sarif_2_1_0(outputs):
    s, ref = outputs["sarif"], outputs["json"]
    assert s["version"] == "2.1.0" and s["$schema"].endswith("sarif-2.1.0.json")
    assert isinstance(s["runs"], list) and len(s["runs"]) == 1
    run = s["runs"][0]
    driver = run["tool"]["driver"]
    assert isinstance(driver["name"], str) and driver["name"]
    rules = driver["rules"]
    ids = [r["id"] for r in rules]
    assert len(ids) == len(set(ids)), "reportingDescriptor ids are unique"
    for r in rules:
        assert isinstance(r["id"], str) and r["shortDescription"]["text"]
        assert r["defaultConfiguration"]["level"] in ("none", "note", "warning", "error")
        sev = r["properties"].get("security-severity")
        assert sev is None or 0.0 <= float(sev) <= 10.0
        if "helpUri" in r:
            assert re.match(r"^https?://", r["helpUri"])
    assert len(run["results"]) == ref["counts"]["total"]
    for res in run["results"]:
        assert res["level"] in ("none", "note", "warning", "error")
        assert isinstance(res["message"]["text"], str) and res["message"]["text"]
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"], "ruleIndex points at its rule"
        for loc in res["locations"]:
            assert isinstance(loc["physicalLocation"]["artifactLocation"]["uri"], str)
    assert {r["ruleId"] for r in run["results"]} == {f["id"] for f in ref["findings"]}


def test_cyclonedx_1_5(outputs):
    c, ref = outputs["cyclonedx"], outputs["json"]
    assert c["bomFormat"] == "CycloneDX" and c["specVersion"] == "1.5" and c["version"] >= 1
    assert re.match(r"^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", c["serialNumber"])
    assert ISO.match(c["metadata"]["timestamp"])
    types = {"application", "framework", "library", "container", "platform", "operating-system", "device",
             "device-driver", "firmware", "file", "machine-learning-model", "data"}
    refs = set()
    for comp in c["components"] + [c["metadata"]["component"]]:
        assert comp["type"] in types and isinstance(comp["name"], str) and comp["name"]
        if "bom-ref" in comp:
            assert comp["bom-ref"] not in refs, "bom-refs are unique"
            refs.add(comp["bom-ref"])
        if "purl" in comp:
            assert comp["purl"].startswith("pkg:")
    assert len(c["vulnerabilities"]) > 0
    for v in c["vulnerabilities"]:
        assert isinstance(v["id"], str) and v["bom-ref"] not in refs
        for rating in v.get("ratings", []):
            assert rating["severity"] in ("critical", "high", "medium", "low", "info", "none", "unknown")
            if "method" in rating:
                assert rating["method"] in ("CVSSv2", "CVSSv3", "CVSSv31", "CVSSv4", "OWASP", "SSVC", "other")
            if "score" in rating:
                assert 0 <= rating["score"] <= 10
        assert v["affects"], "a vulnerability affects something"
        for a in v["affects"]:
            assert a["ref"] in refs, f"affects.ref {a['ref']} names a component"
        for adv in v.get("advisories", []):
            assert adv["url"].startswith("http")
    pairs = {(a["ref"], v["id"]) for v in c["vulnerabilities"] for a in v["affects"]}
    assert len(pairs) == ref["counts"]["total"]


def test_spdx_2_3(outputs):
    p, ref = outputs["spdx"], outputs["json"]
    assert p["spdxVersion"] == "SPDX-2.3" and p["dataLicense"] == "CC0-1.0" and p["SPDXID"] == "SPDXRef-DOCUMENT"
    assert isinstance(p["name"], str) and p["name"]
    assert re.match(r"^[a-z]+://[^#]+$", p["documentNamespace"]), "an absolute URI without '#'"
    assert ISO.match(p["creationInfo"]["created"])
    assert p["creationInfo"]["creators"] and all(re.match(r"^(Tool|Organization|Person): .+", x)
                                                  for x in p["creationInfo"]["creators"])
    idre = re.compile(r"^SPDXRef-[A-Za-z0-9.-]+$")
    ids = {"SPDXRef-DOCUMENT"}
    for pkg in p["packages"]:
        assert idre.match(pkg["SPDXID"]) and pkg["SPDXID"] not in ids
        ids.add(pkg["SPDXID"])
        assert isinstance(pkg["name"], str) and pkg["name"]
        assert pkg["downloadLocation"] in ("NOASSERTION", "NONE") or "://" in pkg["downloadLocation"]
        assert isinstance(pkg.get("filesAnalyzed", False), bool)
        for r in pkg.get("externalRefs", []):
            assert r["referenceCategory"] in ("OTHER", "PERSISTENT-ID", "SECURITY", "PACKAGE-MANAGER",
                                              "PACKAGE_MANAGER", "PERSISTENT_ID")
            if r["referenceType"] == "purl":
                assert r["referenceLocator"].startswith("pkg:")
        if "primaryPackagePurpose" in pkg:
            assert pkg["primaryPackagePurpose"] in ("APPLICATION", "FRAMEWORK", "LIBRARY", "CONTAINER",
                                                    "OPERATING-SYSTEM", "DEVICE", "FIRMWARE", "SOURCE", "ARCHIVE",
                                                    "FILE", "INSTALL", "OTHER")
    kinds = {"DESCRIBES", "CONTAINS", "DEPENDS_ON", "CONTAINED_BY", "DESCRIBED_BY", "OTHER"}
    for r in p["relationships"]:
        assert r["relationshipType"] in kinds
        assert r["spdxElementId"] in ids and r["relatedSpdxElement"] in ids, r
    assert any(r["relationshipType"] == "DESCRIBES" and r["spdxElementId"] == "SPDXRef-DOCUMENT"
               for r in p["relationships"])
    notes = p.get("annotations", [])
    for a in notes:
        assert a["annotationType"] in ("REVIEW", "OTHER") and ISO.match(a["annotationDate"])
        assert re.match(r"^(Tool|Organization|Person): .+", a["annotator"]) and a["comment"]
    assert len(notes) == ref["counts"]["total"], "one annotation per finding"
    assert len([x for x in p["packages"] if x["SPDXID"] != "SPDXRef-Subject"]) == ref["packages"]
