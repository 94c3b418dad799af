"""Manifests: PUT/GET/HEAD/DELETE by tag and digest, all four types, references, subject."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from drydock import (DOCKER_LIST, DOCKER_MANIFEST, OCI_CONFIG, OCI_INDEX, OCI_MANIFEST,  # noqa: E402
                     make_image, push_blob, sha256, sha512)


def err(r):
    return r.json()["errors"][0]


def put(http, base, repo, ref, body, ct=OCI_MANIFEST):
    return http.put(f"{base}/v2/{repo}/manifests/{ref}", data=body, headers={"Content-Type": ct})


def test_put_get_by_tag_and_digest(http, base):
    body = make_image(http, base, "m/basic")
    d = sha256(body)
    r = put(http, base, "m/basic", "v1", body)
    assert r.status_code == 201, r.text
    assert r.headers["Location"] == f"/v2/m/basic/manifests/{d}"
    assert r.headers["Docker-Content-Digest"] == d
    assert "OCI-Subject" not in r.headers
    for ref in ("v1", d):
        r = http.get(f"{base}/v2/m/basic/manifests/{ref}", headers={"Accept": OCI_MANIFEST})
        assert r.status_code == 200 and r.content == body
        assert r.headers["Content-Type"] == OCI_MANIFEST
        assert r.headers["Docker-Content-Digest"] == d
        h = http.head(f"{base}/v2/m/basic/manifests/{ref}")
        assert h.status_code == 200 and h.headers["Content-Length"] == str(len(body))
        assert h.headers["Docker-Content-Digest"] == d and h.content == b""
    # served in its stored type even when Accept does not list it (documented choice)
    r = http.get(f"{base}/v2/m/basic/manifests/v1", headers={"Accept": DOCKER_MANIFEST})
    assert r.status_code == 200 and r.headers["Content-Type"] == OCI_MANIFEST


def test_docker_schema2_and_list(http, base):
    body = make_image(http, base, "m/docker", media_type=DOCKER_MANIFEST)
    assert put(http, base, "m/docker", "amd64", body, DOCKER_MANIFEST).status_code == 201
    lst = json.dumps({"schemaVersion": 2, "mediaType": DOCKER_LIST, "manifests": [
        {"mediaType": DOCKER_MANIFEST, "digest": sha256(body), "size": len(body),
         "platform": {"architecture": "amd64", "os": "linux"}}]}).encode()
    r = put(http, base, "m/docker", "latest", lst, DOCKER_LIST)
    assert r.status_code == 201, r.text
    r = http.get(f"{base}/v2/m/docker/manifests/latest", headers={"Accept": DOCKER_LIST})
    assert r.headers["Content-Type"] == DOCKER_LIST and r.content == lst


def test_oci_index_and_missing_child(http, base):
    body = make_image(http, base, "m/index")
    assert put(http, base, "m/index", sha256(body), body).status_code == 201
    idx = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": sha256(body), "size": len(body)}]}
    r = put(http, base, "m/index", "multi", json.dumps(idx).encode(), OCI_INDEX)
    assert r.status_code == 201
    missing = sha256(b"no such manifest")
    idx["manifests"].append({"mediaType": OCI_MANIFEST, "digest": missing, "size": 3})
    r = put(http, base, "m/index", "broken", json.dumps(idx).encode(), OCI_INDEX)
    assert r.status_code == 400 and err(r)["code"] == "MANIFEST_BLOB_UNKNOWN"
    assert err(r)["detail"] == missing
    assert http.get(f"{base}/v2/m/index/manifests/broken").status_code == 404


def test_missing_blob(http, base):
    body = make_image(http, base, "m/missing")
    m = json.loads(body)
    m["layers"].append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                        "digest": sha256(b"never pushed"), "size": 12})
    r = put(http, base, "m/missing", "v1", json.dumps(m).encode())
    assert r.status_code == 400 and err(r)["code"] == "MANIFEST_BLOB_UNKNOWN"
    assert err(r)["detail"] == sha256(b"never pushed")
    # blobs of another repository do not count
    other = make_image(http, base, "m/elsewhere", seed=b"q")
    r = put(http, base, "m/missing2", "v1", other)
    assert r.status_code == 400 and err(r)["code"] == "MANIFEST_BLOB_UNKNOWN"


def test_descriptor_sizes_must_match(http, base):
    """A descriptor whose size differs from the blob's (or the child manifest's) is refused:
    the image spec says such content must not be trusted, so the registry must not store the
    lie (Distribution only checks that the blobs exist)."""
    body = make_image(http, base, "m/sizes")
    m = json.loads(body)
    for where, value in (("layers", 2 ** 63 - 1), ("layers", 0), ("config", m["config"]["size"] + 1)):
        bad = json.loads(body)
        if where == "layers":
            bad["layers"][0]["size"] = value
        else:
            bad["config"]["size"] = value
        r = put(http, base, "m/sizes", "v1", json.dumps(bad).encode())
        assert r.status_code == 400 and err(r)["code"] == "MANIFEST_INVALID", r.text
        label = "layers[0]" if where == "layers" else "config"
        have = m["layers"][0]["size"] if where == "layers" else m["config"]["size"]
        assert err(r)["detail"].startswith(f"{label}: size {value} differs from the {have} bytes of"), err(r)
    assert http.get(f"{base}/v2/m/sizes/manifests/v1").status_code == 404
    assert put(http, base, "m/sizes", "v1", body).status_code == 201
    idx = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": sha256(body), "size": len(body) + 1}]}
    r = put(http, base, "m/sizes", "multi", json.dumps(idx).encode(), OCI_INDEX)
    assert r.status_code == 400 and err(r)["detail"].startswith("manifests[0]: size"), r.text
    idx["manifests"][0]["size"] = len(body)
    assert put(http, base, "m/sizes", "multi", json.dumps(idx).encode(), OCI_INDEX).status_code == 201


def test_umoci_style_no_media_type(http, base):
    m = json.loads(make_image(http, base, "m/umoci"))
    del m["mediaType"]
    body = json.dumps(m).encode()
    r = put(http, base, "m/umoci", "latest", body, OCI_MANIFEST)
    assert r.status_code == 201
    assert http.get(f"{base}/v2/m/umoci/manifests/latest").headers["Content-Type"] == OCI_MANIFEST


def test_invalid_manifests(http, base):
    body = make_image(http, base, "m/invalid")
    cases = [b"", b"not json", b"[]", b'{"schemaVersion":1,"name":"x"}',
             json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": []}).encode()]
    for c in cases:
        r = put(http, base, "m/invalid", "v1", c)
        assert r.status_code == 400 and err(r)["code"] == "MANIFEST_INVALID", c
        assert err(r)["detail"]
    r = put(http, base, "m/invalid", "v1", body, DOCKER_MANIFEST)  # type mismatch
    assert r.status_code == 400 and err(r)["code"] == "MANIFEST_INVALID"
    r = put(http, base, "m/invalid", "v1", body, "text/plain")
    assert r.status_code == 400 and err(r)["code"] == "MANIFEST_INVALID"
    r = put(http, base, "m/invalid", sha256(b"other"), body)
    assert r.status_code == 400 and err(r)["code"] == "DIGEST_INVALID"
    r = put(http, base, "m/invalid", "sha256:abc", body)
    assert r.status_code == 400 and err(r)["code"] == "DIGEST_INVALID"
    r = put(http, base, "m/invalid", ".badtag", body)
    assert r.status_code == 400 and err(r)["code"] in ("MANIFEST_INVALID", "TAG_INVALID")
    assert put(http, base, "m/invalid", "v1", body).status_code == 201
    # a reference that no tag can match finds nothing: 404, as the OCI conformance suite
    # expects of GET and HEAD of ".INVALID_MANIFEST_NAME"; the detail says why
    for method in ("GET", "HEAD", "DELETE"):
        r = http.request(method, f"{base}/v2/m/invalid/manifests/.INVALID_MANIFEST_NAME")
        assert r.status_code == 404, (method, r.status_code)
        if method != "HEAD":
            assert err(r)["code"] == "MANIFEST_UNKNOWN" and "tag must match" in err(r)["detail"]
    assert http.get(f"{base}/v2/m/invalid/manifests/v1").status_code == 200
    big = b'{"schemaVersion":2,"pad":"' + b"x" * (4 * 1024 * 1024) + b'"}'
    r = put(http, base, "m/invalid", "big", big)
    assert r.status_code == 413 and err(r)["code"] == "SIZE_INVALID"


def test_put_by_sha512_digest(http, base):
    body = make_image(http, base, "m/sha512")
    r = put(http, base, "m/sha512", sha512(body), body)
    assert r.status_code == 201 and r.headers["Docker-Content-Digest"] == sha512(body)
    assert http.get(f"{base}/v2/m/sha512/manifests/{sha512(body)}").content == body


def test_unknown(http, base):
    r = http.get(f"{base}/v2/m/nothere/manifests/latest")
    assert r.status_code == 404 and err(r)["code"] == "NAME_UNKNOWN"
    make_image(http, base, "m/known")
    body = make_image(http, base, "m/known")
    put(http, base, "m/known", "v1", body)
    r = http.get(f"{base}/v2/m/known/manifests/v2")
    assert r.status_code == 404 and err(r)["code"] == "MANIFEST_UNKNOWN"
    r = http.get(f"{base}/v2/m/known/manifests/{sha256(b'x')}")
    assert r.status_code == 404 and err(r)["code"] == "MANIFEST_UNKNOWN"
    assert http.head(f"{base}/v2/m/known/manifests/v2").status_code == 404


def test_delete(http, base):
    body = make_image(http, base, "m/del")
    d = sha256(body)
    put(http, base, "m/del", "a", body)
    put(http, base, "m/del", "b", body)
    r = http.delete(f"{base}/v2/m/del/manifests/a")  # tag deletion
    assert r.status_code == 202
    assert http.get(f"{base}/v2/m/del/manifests/a").status_code == 404
    assert http.get(f"{base}/v2/m/del/manifests/{d}").status_code == 200
    assert http.delete(f"{base}/v2/m/del/manifests/a").status_code == 404
    r = http.delete(f"{base}/v2/m/del/manifests/{d}")
    assert r.status_code == 202
    assert http.get(f"{base}/v2/m/del/manifests/{d}").status_code == 404
    assert http.get(f"{base}/v2/m/del/manifests/b").status_code == 404  # its tags went too
    r = http.delete(f"{base}/v2/m/del/manifests/{d}")
    assert r.status_code == 404 and err(r)["code"] == "MANIFEST_UNKNOWN"


def test_subject_and_referrers(http, base):
    repo = "m/refs"
    body = make_image(http, base, repo)
    subject = sha256(body)
    assert put(http, base, repo, "v1", body).status_code == 201
    empty = push_blob(http, base, repo, b"{}")
    arts = []
    for kind, note in (("application/vnd.example.sbom", "sbom"), ("application/vnd.example.sig", "sig")):
        layer = push_blob(http, base, repo, note.encode())
        art = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": kind,
                          "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
                          "layers": [{"mediaType": "text/plain", "digest": layer, "size": len(note)}],
                          "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": len(body)},
                          "annotations": {"org.example.note": note}}).encode()
        r = put(http, base, repo, sha256(art), art)
        assert r.status_code == 201
        assert r.headers["OCI-Subject"] == subject
        arts.append((kind, art))
    r = http.get(f"{base}/v2/{repo}/referrers/{subject}")
    assert r.status_code == 200 and r.headers["Content-Type"] == OCI_INDEX
    idx = r.json()
    assert idx["schemaVersion"] == 2 and idx["mediaType"] == OCI_INDEX
    got = {m["digest"]: m for m in idx["manifests"]}
    assert set(got) == {sha256(a) for _, a in arts}
    for kind, a in arts:
        m = got[sha256(a)]
        assert m["artifactType"] == kind and m["size"] == len(a) and m["mediaType"] == OCI_MANIFEST
        assert m["annotations"]["org.example.note"] in ("sbom", "sig")
    assert "OCI-Filters-Applied" not in r.headers
    r = http.get(f"{base}/v2/{repo}/referrers/{subject}?artifactType=application/vnd.example.sig")
    assert r.headers["OCI-Filters-Applied"] == "artifactType"
    assert [m["artifactType"] for m in r.json()["manifests"]] == ["application/vnd.example.sig"]
    r = http.get(f"{base}/v2/{repo}/referrers/{subject}?artifactType=application/none")
    assert r.status_code == 200 and r.json()["manifests"] == []
    # an unknown subject, even in an unknown repository: an empty index, never 404
    for rp in (repo, "m/unknown-repo"):
        r = http.get(f"{base}/v2/{rp}/referrers/{sha256(b'nobody')}")
        assert r.status_code == 200 and r.json()["manifests"] == []
    r = http.get(f"{base}/v2/{repo}/referrers/sha256:bad")
    assert r.status_code == 400 and err(r)["code"] == "DIGEST_INVALID"
    # deleting a referrer removes it from the list
    http.delete(f"{base}/v2/{repo}/manifests/{sha256(arts[0][1])}")
    r = http.get(f"{base}/v2/{repo}/referrers/{subject}")
    assert [m["digest"] for m in r.json()["manifests"]] == [sha256(arts[1][1])]
    # artifactType falls back to the config media type
    cfg = push_blob(http, base, repo, b'{"k":1}')
    art = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                      "config": {"mediaType": "application/vnd.example.cfg+json", "digest": cfg, "size": 7},
                      "layers": [], "subject": {"mediaType": OCI_MANIFEST, "digest": subject,
                                                "size": len(body)}}).encode()
    assert put(http, base, repo, sha256(art), art).status_code == 201
    r = http.get(f"{base}/v2/{repo}/referrers/{subject}?artifactType=application/vnd.example.cfg%2Bjson")
    assert [m["digest"] for m in r.json()["manifests"]] == [sha256(art)]
    # also for an image config: the newest conformance suite's artifacts-with-subject/referrers
    img_cfg = push_blob(http, base, repo, b'{"architecture":"amd64","os":"linux"}')
    img = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                      "config": {"mediaType": OCI_CONFIG, "digest": img_cfg, "size": 37},
                      "layers": [], "subject": {"mediaType": OCI_MANIFEST, "digest": subject,
                                                "size": len(body)}}).encode()
    assert put(http, base, repo, sha256(img), img).status_code == 201
    listed = {m["digest"]: m for m in http.get(f"{base}/v2/{repo}/referrers/{subject}").json()["manifests"]}
    assert listed[sha256(img)]["artifactType"] == OCI_CONFIG
    r = http.get(f"{base}/v2/{repo}/referrers/{subject}", params={"artifactType": OCI_CONFIG})
    assert [m["digest"] for m in r.json()["manifests"]] == [sha256(img)]


def test_subject_may_be_absent(http, base):
    repo = "m/dangling"
    cfg = push_blob(http, base, repo, b"{}")
    ghost = sha256(b"pushed later")
    art = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "a/b",
                      "config": {"mediaType": OCI_CONFIG, "digest": cfg, "size": 2}, "layers": [],
                      "subject": {"mediaType": OCI_MANIFEST, "digest": ghost, "size": 1}}).encode()
    r = put(http, base, repo, "sig", art)
    assert r.status_code == 201 and r.headers["OCI-Subject"] == ghost
    assert len(http.get(f"{base}/v2/{repo}/referrers/{ghost}").json()["manifests"]) == 1
