"""Tags list and catalog: pagination with n/last and Link; their errors."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from drydock import OCI_MANIFEST, Server, make_image  # noqa: E402
import requests  # noqa: E402


def err(r):
    return r.json()["errors"][0]


def test_tags_pagination(http, base):
    body = make_image(http, base, "l/tags")
    tags = sorted(f"t{i:02d}" for i in range(25)) + ["latest"]
    for t in tags:
        r = http.put(f"{base}/v2/l/tags/manifests/{t}", data=body, headers={"Content-Type": OCI_MANIFEST})
        assert r.status_code == 201
    r = http.get(f"{base}/v2/l/tags/tags/list")
    assert r.status_code == 200
    assert r.json() == {"name": "l/tags", "tags": sorted(tags)}
    assert "Link" not in r.headers
    seen, url = [], f"{base}/v2/l/tags/tags/list?n=10"
    while url:
        r = http.get(url)
        assert r.status_code == 200
        page = r.json()["tags"]
        assert len(page) <= 10
        seen += page
        link = r.headers.get("Link")
        if link:
            assert link.endswith('>; rel="next"') and link.startswith("</v2/l/tags/tags/list?n=10&last=")
            url = base + link[1:link.index(">")]
        else:
            url = None
    assert seen == sorted(tags)
    r = http.get(f"{base}/v2/l/tags/tags/list?n=3&last=t10")
    assert r.json()["tags"] == ["t11", "t12", "t13"]
    r = http.get(f"{base}/v2/l/tags/tags/list?n=5&last=t24")
    assert r.json()["tags"] == [] and "Link" not in r.headers
    r = http.get(f"{base}/v2/l/tags/tags/list?n=2&last=latest")
    assert r.json()["tags"] == ["t00", "t01"] and "Link" in r.headers
    r = http.get(f"{base}/v2/l/tags/tags/list?n=0")
    assert r.status_code == 200 and r.json()["tags"] == []
    for bad in ("abc", "-1", ""):
        r = http.get(f"{base}/v2/l/tags/tags/list?n={bad}")
        assert r.status_code == 400 and err(r)["code"] == "PAGINATION_NUMBER_INVALID", bad


def test_values_that_are_not_utf8_are_never_a_server_error(http, base):
    """A query value of bytes that are not UTF-8: SQLite compares them as bytes (200), PostgreSQL
    refuses text that is not UTF-8 (400, naming the request); never a 5xx."""
    body = make_image(http, base, "l/utf")
    assert http.put(f"{base}/v2/l/utf/manifests/1", data=body, headers={"Content-Type": OCI_MANIFEST}).status_code == 201
    digest = "sha256:" + "0" * 64
    for url in ("/v2/_catalog?last=%FF", "/v2/l/utf/tags/list?last=%C3", f"/v2/l/utf/referrers/{digest}?artifactType=%FF"):
        r = http.get(base + url)
        assert r.status_code in (200, 400), (url, r.status_code, r.text)


def test_tags_unknown_repo(http, base):
    r = http.get(f"{base}/v2/l/nothing/tags/list")
    assert r.status_code == 404 and err(r)["code"] == "NAME_UNKNOWN"


def test_catalog_pagination():
    s = Server().start()
    try:
        with requests.Session() as http:
            repos = sorted(f"cat/r{i:03d}" for i in range(30)) + ["other"]
            for rp in repos:
                make_image(http, s.url, rp)
            r = http.get(f"{s.url}/v2/_catalog")
            assert r.json() == {"repositories": sorted(repos)} and "Link" not in r.headers
            seen, url = [], f"{s.url}/v2/_catalog?n=7"
            while url:
                r = http.get(url)
                seen += r.json()["repositories"]
                link = r.headers.get("Link")
                url = s.url + link[1:link.index(">")] if link else None
            assert seen == sorted(repos)
            r = http.get(f"{s.url}/v2/_catalog?n=2&last=cat/r010")
            assert r.json()["repositories"] == ["cat/r011", "cat/r012"]
            r = http.get(f"{s.url}/v2/_catalog?n=x")
            assert r.status_code == 400 and err(r)["code"] == "PAGINATION_NUMBER_INVALID"
            assert http.post(f"{s.url}/v2/_catalog").status_code == 405
    finally:
        s.stop()
