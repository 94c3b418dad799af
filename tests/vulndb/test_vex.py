"""VEX: OpenVEX 0.2 and CycloneDX documents uploaded through /api/v1/vex or attached to an image
as an OCI referrer, applied to the findings as they are read (not_affected and fixed suppress,
naming the statement; affected and under_investigation mark); `drydock scan --vex` and
`--ignorefile` for CI."""
import json
import os
import subprocess

import requests

from drydock import BIN, push_blob, sha256
from drydock import wait_assessed as wait
from test_scan_on_push import distroless, server_with_db

OPENVEX = "application/vnd.openvex+json"
EMPTY = "application/vnd.oci.empty.v1+json"


def openvex(*statements):
    return {"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/2026-12-06",
            "author": "security team", "timestamp": "2026-12-06T09:00:00Z", "version": 1,
            "statements": list(statements)}


def stmt(vuln, status, products, **extra):
    return dict({"vulnerability": {"name": vuln}, "products": products, "status": status}, **extra)


def image(api, repo, ref="1"):
    return requests.get(f"{api}/images", params={"repository": repo, "reference": ref, "limit": 1000}).json()


def attach(url, repo, subject, subject_size, doc):
    """Pushes doc as an OpenVEX artifact whose subject is repo@subject: its manifest digest."""
    s = requests.Session()
    body = json.dumps(doc).encode()
    layer = push_blob(s, url, repo, body)
    cfg = push_blob(s, url, repo, b"{}")
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "artifactType": OPENVEX, "config": {"mediaType": EMPTY, "digest": cfg, "size": 2},
                           "layers": [{"mediaType": OPENVEX, "digest": layer, "size": len(body)}],
                           "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": subject,
                                       "size": subject_size}}).encode()
    d = sha256(manifest)
    r = s.put(f"{url}/v2/{repo}/manifests/{d}", data=manifest,
              headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    assert r.status_code == 201, r.text
    return d


def test_vex_uploaded_and_attached(full_db, tmp_path):
    srv = server_with_db(tmp_path, full_db)
    api = f"{srv.url}/api/v1"
    try:
        digest = distroless(srv.url, "v/app")
        other = distroless(srv.url, "v/app", tag="2")  # the same image: one digest
        assert other == digest
        a = wait(srv.url, "v/app", "1")
        f1, f2 = a["findings"][0], a["findings"][1]
        total = a["counts"]["total"]
        # what is not a VEX document, named
        for body, word in (("nope", "not JSON"), (json.dumps({"a": 1}), "neither OpenVEX"),
                           (json.dumps(dict(openvex(), **{"@context": "https://openvex.dev/nsXYZ"})), "neither OpenVEX"),
                           (json.dumps(openvex()), "no statement"),
                           (json.dumps(openvex(stmt("CVE-1", "fixed", ["pkg:/openssl"]))), "products[0]"),
                           (json.dumps(openvex(stmt("CVE-1", "fixed", ["pkg:deb/debian/openssl@"]))), "products[0]"),
                           (json.dumps(openvex(stmt("CVE-1", "fixed", ["pkg:deb/debian/open%00ssl"]))), "products[0]"),
                           (json.dumps(openvex(stmt("CVE-1", "fixed", ["pkg:deb/debian/" + "x" * 2000]))), "1024 bytes"),
                           (json.dumps(openvex(stmt("CVE-1", "fixed", [{"@id": "pkg:deb/debian/openssl",
                                                                         "subcomponents": [{"@id": "pkg:deb/debian/x"}]}]))),
                            "subcomponents belong to an image"),
                           (json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.5", "vulnerabilities": [
                               {"id": "CVE-1", "analysis": {"state": 1}, "affects": [{"ref": "pkg:deb/debian/x"}]}]}),
                            "analysis.state"),
                           (json.dumps(openvex(stmt("CVE-1", "maybe", ["pkg:deb/debian/x"]))), "status"),
                           (json.dumps(openvex(stmt("CVE-1", "fixed", []))), "products"),
                           (json.dumps(openvex(stmt("CVE-1", "fixed", ["https://example.com/x"]))), "products[0]"),
                           (json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.5", "vulnerabilities": [
                               {"id": "CVE-1", "analysis": {"state": "not_affected"}}]}), "affects")):
            r = requests.post(f"{api}/vex", data=body)
            assert r.status_code == 400 and word in r.text, (word, r.text)
        doc = openvex(stmt(f1["id"], "not_affected", [f"pkg:deb/debian/{f1['package']}"],
                           justification="vulnerable_code_not_in_execute_path", impact_statement="never called"),
                      stmt(f2["id"], "under_investigation", [f"pkg:oci/app@{digest.replace(':', '%3A')}"]))
        r = requests.post(f"{api}/vex", params={"repository": "v/../other/x"}, data=json.dumps(doc))
        assert r.status_code == 400 and "repository" in r.text
        r = requests.post(f"{api}/vex", params={"repository": "v/*"}, data=json.dumps(doc))
        assert r.status_code == 201, r.text
        made = r.json()
        assert made["format"] == "openvex" and made["statements"] == 2 and made["repository"] == "v/*"
        b = image(api, "v/app")
        g1 = next(f for f in b["findings"] if f["id"] == f1["id"] and f["package"] == f1["package"])
        g2 = next(f for f in b["findings"] if f["id"] == f2["id"] and f["package"] == f2["package"])
        assert g1["suppressed"]["vex"]["status"] == "not_affected" and g1["suppressed"]["rule"] == made["id"]
        assert g1["suppressed"]["vex"]["justification"] == "vulnerable_code_not_in_execute_path"
        assert g1["suppressed"]["vex"]["detail"] == "never called"
        assert "suppressed" not in g2 and g2["vex"]["status"] == "under_investigation"
        hits = sum(1 for f in a["findings"] if f["id"] == f1["id"] and f["package"] == f1["package"])
        assert b["counts"]["total"] == total - hits and b["counts"]["suppressed"] == hits
        listed = requests.get(f"{api}/vex").json()["documents"]
        assert [(d["id"], d["source"]) for d in listed] == [(made["id"], "api")] and "document" not in listed[0]
        assert requests.get(f"{api}/vex/{made['id']}").json() == doc
        assert requests.delete(f"{api}/vex/{made['id']}").status_code == 204
        assert image(api, "v/app")["counts"]["total"] == total

        # attached to the image: its package statements hold for that image only
        distroless(srv.url, "v/other")
        wait(srv.url, "v/other", "1")
        size = len(requests.get(f"{srv.url}/v2/v/app/manifests/{digest}").content)
        ref = attach(srv.url, "v/app", digest, size, openvex(stmt(f1["id"], "fixed", [f"pkg:deb/debian/{f1['package']}"])))
        art = wait(srv.url, "v/app", ref)
        assert art["status"] == "NotApplicable" and "a VEX document (openvex, 1 statements) applied to" in art["reason"]
        b = image(api, "v/app")
        g1 = next(f for f in b["findings"] if f["id"] == f1["id"] and f["package"] == f1["package"])
        assert g1["suppressed"]["vex"]["status"] == "fixed" and g1["suppressed"]["vex"]["image"] == digest
        o = image(api, "v/other")
        assert o["counts"]["total"] == total, [f for f in o["findings"] if "suppressed" in f or "vex" in f]  # another repository's image: untouched
        listed = requests.get(f"{api}/vex").json()["documents"]
        assert [d["source"] for d in listed] == ["referrer"] and listed[0]["subject"] == digest
        r = requests.delete(f"{api}/vex/{listed[0]['id']}")
        assert r.status_code == 400 and "referrer" in r.text
        # the referrer deleted: its statements go with it, and so does the document
        assert requests.delete(f"{srv.url}/v2/v/app/manifests/{ref}").status_code == 202
        assert image(api, "v/app")["counts"]["total"] == total
        assert requests.get(f"{api}/vex").json()["documents"] == []
        # a namespace's uploads are capped (20), whoever else is near theirs
        small = json.dumps(openvex(stmt("CVE-0000-0001", "fixed", ["pkg:deb/debian/x"])))
        for i in range(20):
            assert requests.post(f"{api}/vex", params={"repository": "v/*"}, data=small).status_code == 201
        r = requests.post(f"{api}/vex", params={"repository": "v/app"}, data=small)
        assert r.status_code == 400 and "20 uploaded for one namespace" in r.text
        assert requests.post(f"{api}/vex", params={"repository": "w/*"}, data=small).status_code == 201
    finally:
        srv.stop()


def test_scan_with_vex_and_an_ignore_file(full_db, images, tmp_path):
    layout = os.path.join(images, "debian-min")

    def scan(*extra):
        p = subprocess.run([BIN, "scan", "--db", full_db, "--format", "json", *extra, layout], capture_output=True,
                           text=True)
        return p.returncode, (json.loads(p.stdout) if p.returncode == 0 else None), p.stderr

    rc, base, _ = scan()
    assert rc == 0
    f = base["findings"]
    digest = base["manifest"]
    first, second, third = f[0], f[1], f[2]
    vex = tmp_path / "vex.json"
    vex.write_text(json.dumps(openvex(
        stmt(first["id"], "not_affected", [{"@id": f"pkg:oci/debian-min@{digest.replace(':', '%3A')}",
                                            "subcomponents": [{"@id": f"pkg:deb/debian/{first['package']}@"
                                                                      f"{first['package_version']}?arch=amd64"}]}],
             justification="component_not_present"),
        stmt(second["id"], "affected", [f"pkg:deb/debian/{second['package']}"]),
        # another image's statement does not apply here
        stmt(third["id"], "not_affected", ["sha256:" + "0" * 64]))))
    cdx = tmp_path / "cdx.json"
    cdx.write_text(json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
                               "components": [{"bom-ref": "p1", "name": third["package"],
                                               "purl": f"pkg:deb/debian/{third['package']}"}],
                               "vulnerabilities": [{"id": third["id"], "analysis": {"state": "false_positive"},
                                                    "affects": [{"ref": "urn:cdx:3e671687/1#p1"}]}]}))
    ignore = tmp_path / "ignore"
    ignore.write_text(f"# accepted risks\n{second['id']} {second['package']}\nCVE-2001-0001 exp:2001-01-01\n"
                      f"{second['id']} not-this-package\n")

    def left(result, finding):
        return sum(1 for x in result["findings"] if x["id"] == finding["id"] and x["package"] == finding["package"])

    rc, got, err = scan("--vex", str(vex))
    assert rc == 0 and left(got, first) == 0 and left(got, second) == 1 and left(got, third) == 1, err
    assert "1 finding left out" in err
    # a later statement overrides an earlier one; a purl of another ecosystem's type names nothing here
    later = tmp_path / "later.json"
    later.write_text(json.dumps(openvex(stmt(first["id"], "affected", [f"pkg:deb/debian/{first['package']}"]),
                                        stmt(third["id"], "not_affected", [f"pkg:npm/{third['package']}"]))))
    rc, got, err = scan("--vex", str(vex), "--vex", str(later))
    assert rc == 0 and left(got, first) == 1 and left(got, third) == 1 and "0 findings left out" in err, err
    cdxv = tmp_path / "cdxv.json"
    cdxv.write_text(json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.5", "vulnerabilities": [
        {"id": "CVE-1", "analysis": {"state": "not_affected"},
         "affects": [{"ref": "pkg:deb/debian/x", "versions": [{"version": "1.0", "status": "unaffected"}]}]}]}))
    rc, _, err = scan("--vex", str(cdxv))
    assert rc == 2 and "versions are not read" in err
    rc, got, err = scan("--vex", str(vex), "--vex", str(cdx), "--ignorefile", str(ignore))
    assert rc == 0 and left(got, first) == left(got, second) == left(got, third) == 0
    assert got["counts"]["total"] == base["counts"]["total"] - 3 and "3 findings left out" in err
    # an expired entry ignores nothing; a bad one is named, once
    for bad in ("CVE-1 pkg exp:yesterday\n", "CVE-1 exp:2030-02-30\n", "CVE-1 a b c\n"):
        (tmp_path / "bad").write_text(bad)
        rc, _, err = scan("--ignorefile", str(tmp_path / "bad"))
        assert rc == 2 and err.count("line 1") == 1 and "YYYY-MM-DD" in err, (bad, err)
    rc, _, err = scan("--vex", str(tmp_path / "missing.json"))
    assert rc == 2 and "No such file" in err
    (tmp_path / "notvex").write_text('{"hello": 1}')
    rc, _, err = scan("--vex", str(tmp_path / "notvex"))
    assert rc == 2 and "neither OpenVEX" in err


def test_vex_attached_by_a_writer_is_not_applied(full_db, tmp_path):
    """A VEX document lets findings through the pull gates as a suppression rule does: attached by
    an account that may push but not manage the repository's rules, it is kept and not applied."""
    from drydock import ADMIN_PASSWORD
    from test_dashboard import _session, server_with_auth
    from test_query_api import add_user, authenticated
    s = server_with_auth(full_db, tmp_path)
    try:
        admin = _session(("admin", ADMIN_PASSWORD))
        writer = add_user(s, "wr", "writer:team/*")
        owner = add_user(s, "ow", "owner:team/*")
        with authenticated(writer):
            digest = distroless(s.url, "team/app")
        a = wait(s.url, "team/app", "1", session=admin)
        f1 = a["findings"][0]
        size = len(admin.get(f"{s.url}/v2/team/app/manifests/{digest}").content)
        doc = openvex(stmt(f1["id"], "not_affected", [f"pkg:deb/debian/{f1['package']}"]))
        with authenticated(writer):
            ref = attach(s.url, "team/app", digest, size, doc)
        art = wait(s.url, "team/app", ref, session=admin)
        assert "not pushed by an owner of team/app" in art["reason"], art["reason"]
        api = f"{s.url}/api/v1"
        assert admin.get(f"{api}/images", params={"repository": "team/app", "reference": "1"}).json()["counts"] == a["counts"]
        assert admin.get(f"{api}/vex").json()["documents"] == []
        doc["statements"][0]["status"] = "fixed"  # another document: another digest
        with authenticated(owner):
            ref = attach(s.url, "team/app", digest, size, doc)
        art = wait(s.url, "team/app", ref, session=admin)
        assert "applied to" in art["reason"], art["reason"]
        b = admin.get(f"{api}/images", params={"repository": "team/app", "reference": "1", "limit": 1000}).json()
        assert b["counts"]["total"] < a["counts"]["total"] and b["counts"]["suppressed"] >= 1
    finally:
        s.stop()
