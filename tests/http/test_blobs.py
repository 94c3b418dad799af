"""Blobs: GET/HEAD with Range and ETag, DELETE, and their errors."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from drydock import push_blob, sha256  # noqa: E402


def err_code(r):
    return r.json()["errors"][0]["code"]


def test_base(http, base):
    r = http.get(f"{base}/v2/")
    assert r.status_code == 200
    assert r.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    assert r.json() == {}
    assert http.head(f"{base}/v2/").status_code == 200


def test_unknown_endpoint(http, base):
    r = http.get(f"{base}/v2/a/unknown/x")
    assert r.status_code == 404
    assert "errors" in r.json()
    assert http.get(f"{base}/nothing").status_code == 404


def test_get_head_range(http, base):
    data = os.urandom(10000)
    d = push_blob(http, base, "blobs/range", data)
    r = http.get(f"{base}/v2/blobs/range/blobs/{d}")
    assert r.status_code == 200 and r.content == data
    assert r.headers["Docker-Content-Digest"] == d
    assert r.headers["ETag"] == f'"{d}"'
    assert r.headers["Accept-Ranges"] == "bytes"
    assert "max-age" in r.headers["Cache-Control"]
    assert r.headers["Content-Type"] == "application/octet-stream"
    h = http.head(f"{base}/v2/blobs/range/blobs/{d}")
    assert h.status_code == 200 and h.headers["Content-Length"] == "10000" and h.content == b""
    r = http.get(f"{base}/v2/blobs/range/blobs/{d}", headers={"Range": "bytes=100-199"})
    assert r.status_code == 206 and r.content == data[100:200]
    assert r.headers["Content-Range"] == "bytes 100-199/10000"
    r = http.get(f"{base}/v2/blobs/range/blobs/{d}", headers={"Range": "bytes=-10"})
    assert r.status_code == 206 and r.content == data[-10:]
    r = http.get(f"{base}/v2/blobs/range/blobs/{d}", headers={"Range": "bytes=9990-"})
    assert r.status_code == 206 and r.content == data[9990:]
    r = http.get(f"{base}/v2/blobs/range/blobs/{d}", headers={"Range": "bytes=20000-"})
    assert r.status_code == 416 and r.headers["Content-Range"] == "bytes */10000"
    r = http.get(f"{base}/v2/blobs/range/blobs/{d}", headers={"If-None-Match": f'"{d}"'})
    assert r.status_code == 304 and r.content == b""


def test_blob_errors(http, base):
    d = push_blob(http, base, "blobs/err", b"abc")
    r = http.get(f"{base}/v2/blobs/err/blobs/sha256:1234")
    assert r.status_code == 400 and err_code(r) == "DIGEST_INVALID"
    assert "64 hex" in r.json()["errors"][0]["detail"]
    r = http.get(f"{base}/v2/blobs/err/blobs/notadigest")
    assert r.status_code == 400 and err_code(r) == "DIGEST_INVALID"
    r = http.get(f"{base}/v2/blobs/err/blobs/{sha256(b'missing')}")
    assert r.status_code == 404 and err_code(r) == "BLOB_UNKNOWN"
    h = http.head(f"{base}/v2/blobs/err/blobs/{sha256(b'missing')}")
    assert h.status_code == 404 and h.content == b""
    # a blob is visible only in the repositories it was pushed or mounted to
    r = http.get(f"{base}/v2/blobs/other/blobs/{d}")
    assert r.status_code == 404 and err_code(r) == "BLOB_UNKNOWN"
    r = http.get(f"{base}/v2/Blobs/Err/blobs/{d}")
    assert r.status_code == 400 and err_code(r) == "NAME_INVALID"
    r = http.put(f"{base}/v2/blobs/err/blobs/{d}", data=b"x")
    assert r.status_code == 405 and err_code(r) == "UNSUPPORTED"


def test_delete_blob(http, base):
    d = push_blob(http, base, "blobs/del", b"to be deleted")
    r = http.delete(f"{base}/v2/blobs/del/blobs/{d}")
    assert r.status_code == 202
    r = http.get(f"{base}/v2/blobs/del/blobs/{d}")
    assert r.status_code == 404 and err_code(r) == "BLOB_UNKNOWN"
    r = http.delete(f"{base}/v2/blobs/del/blobs/{d}")
    assert r.status_code == 404 and err_code(r) == "BLOB_UNKNOWN"


def test_long_name(http, base):
    name = "a" * 256
    r = http.get(f"{base}/v2/{name}/tags/list")
    assert r.status_code == 400 and err_code(r) == "NAME_INVALID"
    assert "255" in r.json()["errors"][0]["detail"]
    name = "/".join(["a" * 50] * 5) + "/abcde"  # 256 bytes with slashes
    r = http.get(f"{base}/v2/{name}/tags/list")
    assert r.status_code == 400 and err_code(r) == "NAME_INVALID"


def test_keepalive(http, base):
    # a GET without body must not cost a new connection
    r1 = http.get(f"{base}/v2/")
    r2 = http.get(f"{base}/v2/blobs/x/blobs/sha256:00")
    assert r1.headers.get("Connection", "").lower() != "close"
    assert r2.headers.get("Connection", "").lower() != "close"
