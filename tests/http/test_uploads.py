"""Uploads: sessions, chunked and streamed PATCH, PUT to close, status, cancel, mount."""
import os
import sys
import uuid

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from drydock import ON_S3, push_blob, sha256, sha512  # noqa: E402


def err_code(r):
    return r.json()["errors"][0]["code"]


def start(http, base, repo):
    r = http.post(f"{base}/v2/{repo}/blobs/uploads/")
    assert r.status_code == 202, r.text
    assert r.headers["Range"] == "0-0"
    assert r.headers["Docker-Upload-UUID"]
    loc = r.headers["Location"]
    assert loc == f"/v2/{repo}/blobs/uploads/{r.headers['Docker-Upload-UUID']}"
    return base + loc


def test_monolithic_post(http, base):
    data = b"monolithic"
    d = sha256(data)
    r = http.post(f"{base}/v2/up/mono/blobs/uploads/?digest={d}", data=data)
    assert r.status_code == 201
    assert r.headers["Location"] == f"/v2/up/mono/blobs/{d}"
    assert r.headers["Docker-Content-Digest"] == d
    assert http.get(f"{base}/v2/up/mono/blobs/{d}").content == data
    # wrong digest: rejected and nothing becomes visible
    r = http.post(f"{base}/v2/up/mono/blobs/uploads/?digest={sha256(b'other')}", data=b"not other")
    assert r.status_code == 400 and err_code(r) == "DIGEST_INVALID"
    assert http.get(f"{base}/v2/up/mono/blobs/{sha256(b'other')}").status_code == 404
    assert http.get(f"{base}/v2/up/mono/blobs/{sha256(b'not other')}").status_code == 404
    r = http.post(f"{base}/v2/up/mono/blobs/uploads/?digest=sha256:zz", data=b"x")
    assert r.status_code == 400 and err_code(r) == "DIGEST_INVALID"


def test_empty_blob(http, base):
    d = sha256(b"")
    r = http.post(f"{base}/v2/up/empty/blobs/uploads/?digest={d}", data=b"")
    assert r.status_code == 201
    r = http.get(f"{base}/v2/up/empty/blobs/{d}")
    assert r.status_code == 200 and r.content == b""


def test_chunked(http, base):
    data = os.urandom(3000)
    loc = start(http, base, "up/chunked")
    r = http.patch(loc, data=data[:1000], headers={"Content-Range": "0-999", "Content-Type": "application/octet-stream"})
    assert r.status_code == 202, r.text
    assert r.headers["Range"] == "0-999"
    assert base + r.headers["Location"] == loc
    # status
    r = http.get(loc)
    assert r.status_code == 204 and r.headers["Range"] == "0-999"
    # out of order: starts at 0 again, and overlapping
    for cr in ("0-999", "500-1499", "1500-2499"):
        r = http.patch(loc, data=data[:1000], headers={"Content-Range": cr})
        assert r.status_code == 416, cr
        assert r.headers["Range"] == "0-999"
        assert base + r.headers["Location"] == loc
    # a Content-Range that does not match the body length
    r = http.patch(loc, data=data[1000:1500], headers={"Content-Range": "1000-1999"})
    assert r.status_code == 416
    assert http.get(loc).headers["Range"] == "0-999"
    r = http.patch(loc, data=data[1000:2000], headers={"Content-Range": "1000-1999"})
    assert r.status_code == 202 and r.headers["Range"] == "0-1999"
    d = sha256(data)
    r = http.put(f"{loc}?digest={d}", data=data[2000:], headers={"Content-Range": "2000-2999"})
    assert r.status_code == 201, r.text
    assert r.headers["Docker-Content-Digest"] == d
    assert http.get(f"{base}/v2/up/chunked/blobs/{d}").content == data
    # the session is gone
    r = http.get(loc)
    assert r.status_code == 404 and err_code(r) == "BLOB_UPLOAD_UNKNOWN"


def test_streamed_patch_then_put_without_body(http, base):
    data = os.urandom(200000)
    loc = start(http, base, "up/stream")

    def gen():
        for i in range(0, len(data), 7000):
            yield data[i:i + 7000]
    r = http.patch(loc, data=gen())  # chunked transfer encoding, no Content-Range
    assert r.status_code == 202 and r.headers["Range"] == f"0-{len(data) - 1}"
    r = http.patch(loc, data=b"tail")
    assert r.status_code == 202 and r.headers["Range"] == f"0-{len(data) + 3}"
    d = sha256(data + b"tail")
    r = http.put(f"{loc}?digest={d}")
    assert r.status_code == 201
    assert http.get(f"{base}/v2/up/stream/blobs/{d}").content == data + b"tail"


def test_put_errors_keep_session(http, base):
    loc = start(http, base, "up/puterr")
    assert http.patch(loc, data=b"abc").status_code == 202
    r = http.put(loc, data=b"def")
    assert r.status_code == 400 and err_code(r) == "DIGEST_INVALID"
    r = http.put(f"{loc}?digest={sha256(b'wrong')}", data=b"def")
    assert r.status_code == 400 and err_code(r) == "DIGEST_INVALID"
    assert sha256(b"abcdef") in r.json()["errors"][0]["detail"]
    # the failed final chunk was cut back: the session still holds "abc"
    assert http.get(loc).headers["Range"] == "0-2"
    r = http.put(f"{loc}?digest={sha256(b'abcdef')}", data=b"def")
    assert r.status_code == 201


def test_sha512(http, base):
    data = os.urandom(5000)
    d = sha512(data)
    r = http.post(f"{base}/v2/up/sha512/blobs/uploads/?digest={d}", data=data)
    assert r.status_code == 201 and r.headers["Docker-Content-Digest"] == d
    assert http.get(f"{base}/v2/up/sha512/blobs/{d}").content == data
    loc = start(http, base, "up/sha512")
    assert http.patch(loc, data=data[:100]).status_code == 202
    r = http.put(f"{loc}?digest={d}", data=data[100:])
    assert r.status_code == 201


def test_cancel_and_unknown(http, base):
    loc = start(http, base, "up/cancel")
    assert http.patch(loc, data=b"x").status_code == 202
    r = http.delete(loc)
    assert r.status_code == 204
    for method in ("GET", "PATCH", "PUT", "DELETE"):
        r = http.request(method, loc + ("?digest=" + sha256(b"x") if method == "PUT" else ""), data=b"x")
        assert r.status_code == 404 and err_code(r) == "BLOB_UPLOAD_UNKNOWN", method
    r = http.get(f"{base}/v2/up/cancel/blobs/uploads/{uuid.uuid4()}")
    assert r.status_code == 404 and err_code(r) == "BLOB_UPLOAD_UNKNOWN"
    r = http.get(f"{base}/v2/up/cancel/blobs/uploads/..%2f..%2fmeta.db")
    assert r.status_code in (404,)
    # a session belongs to its repository
    loc = start(http, base, "up/owner")
    other = loc.replace("/up/owner/", "/up/thief/")
    r = http.patch(other, data=b"x")
    assert r.status_code == 404 and err_code(r) == "BLOB_UPLOAD_UNKNOWN"


def test_mount(http, base):
    d = push_blob(http, base, "up/src", b"mount me")
    r = http.post(f"{base}/v2/up/dst/blobs/uploads/?mount={d}&from=up/src")
    assert r.status_code == 201
    assert r.headers["Location"] == f"/v2/up/dst/blobs/{d}"
    assert r.headers["Docker-Content-Digest"] == d
    assert http.get(f"{base}/v2/up/dst/blobs/{d}").content == b"mount me"
    # not in the source: an ordinary session instead
    r = http.post(f"{base}/v2/up/dst/blobs/uploads/?mount={sha256(b'nope')}&from=up/src")
    assert r.status_code == 202 and r.headers["Location"].startswith("/v2/up/dst/blobs/uploads/")
    r = http.post(f"{base}/v2/up/dst2/blobs/uploads/?mount={d}&from=up/other")
    assert r.status_code == 202
    r = http.post(f"{base}/v2/up/dst/blobs/uploads/?mount=sha256:bad&from=up/src")
    assert r.status_code == 400 and err_code(r) == "DIGEST_INVALID"


def test_session_limit():
    from drydock import Server
    import requests
    s = Server(extra_args=["--max-upload-sessions", "2"]).start()
    try:
        with requests.Session() as http:
            for _ in range(2):
                assert http.post(f"{s.url}/v2/lim/blobs/uploads/").status_code == 202
            r = http.post(f"{s.url}/v2/lim/blobs/uploads/")
            assert r.status_code == 429 and err_code(r) == "TOOMANYREQUESTS"
            assert "limit 2" in r.json()["errors"][0]["detail"]
    finally:
        s.stop()


def test_session_survives_restart():
    from drydock import Server
    import requests
    s = Server().start()
    try:
        with requests.Session() as http:
            data = os.urandom(100000)
            loc = start(http, s.url, "up/restart")
            path = loc[len(s.url):]
            assert http.patch(loc, data=data[:60000]).status_code == 202
        s.restart()
        with requests.Session() as http:
            r = http.get(s.url + path)
            assert r.status_code == 204 and r.headers["Range"] == "0-59999"
            r = http.patch(s.url + path, data=data[60000:], headers={"Content-Range": "60000-99999"})
            assert r.status_code == 202
            r = http.put(f"{s.url}{path}?digest={sha256(data)}")
            assert r.status_code == 201
            assert http.get(f"{s.url}/v2/up/restart/blobs/{sha256(data)}").content == data
    finally:
        s.stop()


@pytest.mark.skipif(ON_S3, reason="looks at staging files in the data directory: storage = filesystem")
def test_stale_sessions_purged():
    from drydock import Server
    import requests
    import time
    s = Server(extra_args=["--upload-max-age", "2"]).start()
    try:
        with requests.Session() as http:
            old = start(http, s.url, "up/stale")
            assert http.patch(old, data=b"abandoned").status_code == 202
            # a staging file no session owns (as a crash can leave), two minutes old
            orphan = os.path.join(s.data_dir, "uploads", str(uuid.uuid4()))
            open(orphan, "wb").write(b"x")
            os.utime(orphan, (time.time() - 120, time.time() - 120))
            # and one that is not a session id at all: left alone
            stray = os.path.join(s.data_dir, "uploads", "not-an-upload")
            open(stray, "wb").write(b"x")
            os.utime(stray, (time.time() - 120, time.time() - 120))
            deadline = time.time() + 30
            while time.time() < deadline and http.get(old).status_code != 404:
                time.sleep(0.5)
            r = http.get(old)
            assert r.status_code == 404 and err_code(r) == "BLOB_UPLOAD_UNKNOWN"
            assert not os.path.exists(os.path.join(s.data_dir, "uploads", old.rsplit("/", 1)[1]))
            while time.time() < deadline and os.path.exists(orphan):
                time.sleep(0.5)
            assert not os.path.exists(orphan)
            assert os.path.exists(stray)
            # a session in use is kept: touch it every half second for longer than max-age
            live = start(http, s.url, "up/stale")
            data = b""
            for i in range(8):
                r = http.patch(live, data=b"x")
                assert r.status_code == 202, r.text
                data += b"x"
                time.sleep(0.5)
            r = http.put(f"{live}?digest={sha256(data)}")
            assert r.status_code == 201
    finally:
        s.stop()


def test_client_gone_mid_patch(http, base, server):
    import socket
    import time
    loc = start(http, base, "up/abort")
    assert http.patch(loc, data=b"a" * 1000).status_code == 202
    path = loc[len(base):]
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(f"PATCH {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n"
                 "Content-Type: application/octet-stream\r\n\r\n".encode() + b"b" * 5000)
    time.sleep(0.2)
    sock.close()
    # the half-sent chunk is not acknowledged and is cut off; the session goes on
    deadline = time.time() + 30
    while time.time() < deadline:
        r = http.get(loc)
        if r.status_code == 204 and r.headers["Range"] == "0-999":
            r = http.patch(loc, data=b"c" * 10, headers={"Content-Range": "1000-1009"})
            if r.status_code == 202:
                break
        time.sleep(0.1)
    assert r.status_code == 202 and r.headers["Range"] == "0-1009"
    d = sha256(b"a" * 1000 + b"c" * 10)
    assert http.put(f"{loc}?digest={d}").status_code == 201
    assert http.get(f"{base}/v2/up/abort/blobs/{d}").content == b"a" * 1000 + b"c" * 10


def test_concurrent_same_blob_and_tag(base):
    import json
    import threading
    import requests
    from drydock import OCI_CONFIG, OCI_MANIFEST
    data = os.urandom(300000)
    d = sha256(data)
    results = []

    def worker(i):
        with requests.Session() as s:
            r = s.post(f"{base}/v2/up/race/blobs/uploads/?digest={d}", data=data)
            cfg = json.dumps({"i": i}).encode()
            rc = s.post(f"{base}/v2/up/race/blobs/uploads/?digest={sha256(cfg)}", data=cfg)
            m = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                            "config": {"mediaType": OCI_CONFIG, "digest": sha256(cfg), "size": len(cfg)},
                            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                        "digest": d, "size": len(data)}]}).encode()
            rm = s.put(f"{base}/v2/up/race/manifests/latest", data=m, headers={"Content-Type": OCI_MANIFEST})
            results.append((r.status_code, rc.status_code, rm.status_code, m))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r[:3] for r in results] == [(201, 201, 201)] * 8
    assert requests.get(f"{base}/v2/up/race/blobs/{d}").content == data
    # the tag points at one of the pushed manifests, whole
    body = requests.get(f"{base}/v2/up/race/manifests/latest").content
    assert body in [r[3] for r in results]


def test_session_cap_per_account():
    """One account cannot hold every upload session: at max-upload-sessions-per-account its own
    least recently used session that no request is using is cancelled to admit a new one, others'
    are never touched, and only when all of its sessions are in use is it refused, with a 429
    that names the cap."""
    import base64
    import socket
    import subprocess
    import time
    import requests
    from drydock import BIN, Server
    s = Server(auth=True, extra_args=["--max-upload-sessions", "100", "--max-upload-sessions-per-account", "3"])
    s.start()
    try:
        creds = {}
        for name in ("alice", "bob", "carol"):
            creds[name] = (name, f"pw-{name}-secret")
            p = subprocess.run([BIN, "user", "--data", s.data_dir, "add", name, "--password-stdin",
                                "--role", "writer:team/*"], input=creds[name][1] + "\n", capture_output=True,
                               text=True, timeout=30)
            assert p.returncode == 0, p.stderr
        alice, bob, carol = (requests.Session() for _ in range(3))
        alice.auth, bob.auth, carol.auth = creds["alice"], creds["bob"], creds["carol"]

        a = [start(alice, s.url, "team/a") for _ in range(3)]
        assert alice.patch(a[0], data=b"moved on").status_code == 202  # a[0] is now the most recently used
        b = [start(bob, s.url, "team/b") for _ in range(3)]
        a.append(start(alice, s.url, "team/a"))  # at the cap: a[1], the least recently used, goes
        r = alice.get(a[1])
        assert r.status_code == 404 and err_code(r) == "BLOB_UPLOAD_UNKNOWN"
        assert all(alice.get(u).status_code == 204 for u in (a[0], a[2], a[3]))
        assert all(bob.get(u).status_code == 204 for u in b)  # bob's are his
        a.append(start(alice, s.url, "team/a"))  # then a[2]
        assert alice.get(a[2]).status_code == 404 and alice.get(a[0]).status_code == 204
        d = sha256(b"moved on")
        assert alice.put(f"{a[0]}?digest={d}").status_code == 201  # what was kept works on

        # every one of carol's sessions in use by a request (a PATCH whose body is still coming):
        # nothing to cancel, so a new one is refused, naming the cap
        c = [start(carol, s.url, "team/c") for _ in range(3)]
        auth = base64.b64encode(b"carol:pw-carol-secret").decode()
        import select

        def hold(u):  # a PATCH whose body is still coming, on a connection of its own
            sock = socket.create_connection(("127.0.0.1", s.port))
            sock.sendall(f"PATCH {u[len(s.url):]} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {auth}\r\n"
                         "Content-Length: 10\r\n\r\n12345".encode())
            return sock

        socks = []
        for u in c:  # each is held by its PATCH once a second request finds it busy
            sock = hold(u)
            deadline = time.time() + 30
            while carol.patch(u, data=b"").status_code != 409:
                assert time.time() < deadline, f"{u} never held by its PATCH"
                if select.select([sock], [], [], 0)[0]:
                    # the probe had the session when the held PATCH came, which was answered
                    # 409 itself: hold it again
                    sock.close()
                    sock = hold(u)
                time.sleep(0.05)
            socks.append(sock)
        r = carol.post(f"{s.url}/v2/team/c/blobs/uploads/")
        assert r.status_code == 429 and err_code(r) == "TOOMANYREQUESTS", r.text
        assert r.json()["errors"][0]["message"] == (
            "account 'carol' has 3 upload sessions open, all in use by requests right now"
            " (max-upload-sessions-per-account)")
        assert start(bob, s.url, "team/b")  # another account is not held up
        for sock in socks:
            sock.sendall(b"67890")
            assert sock.recv(4096).startswith(b"HTTP/1.1 202")
            sock.close()
        assert start(carol, s.url, "team/c")  # idle again: the oldest makes room
    finally:
        s.stop()


def test_session_cap_per_client_address():
    """Without accounts (auth off) the cap counts per client address."""
    from drydock import Server
    import requests
    s = Server(extra_args=["--max-upload-sessions-per-account", "2"]).start()
    try:
        with requests.Session() as http:
            u = [start(http, s.url, "up/addr") for _ in range(3)]
            assert http.get(u[0]).status_code == 404
            assert http.get(u[1]).status_code == 204 and http.get(u[2]).status_code == 204
    finally:
        s.stop()
