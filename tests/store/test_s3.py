"""Blobs on S3 (storage = s3), against a real Ceph radosgw started here: real clients push and
pull through drydock, layers are scanned from S3 as they stream, chunked uploads survive a
restart (the node that finishes an upload did not see its first bytes) and a request cut off
mid-body, GETs are redirected to presigned URLs that serve ranges, bad settings are named at
start, and garbage collection removes from the bucket exactly what no manifest names."""
import gzip
import hashlib
import io
import json
import os
import re
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.parse
import zlib

import pytest
import requests

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from drydock import (BIN, VULNDATA, Server, cached_images, make_image, push_blob, sha256,  # noqa: E402
                     wait_assessed, OCI_MANIFEST)
import engines  # noqa: E402
import s3server  # noqa: E402

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def s3():
    if s3server.missing():
        pytest.fail(f"Ceph is missing ({', '.join(s3server.missing())}): run scripts/deps.sh")
    root = tempfile.mkdtemp(prefix="drydock-test-ceph-")
    srv = s3server.S3Server(root).start()
    yield srv
    srv.stop()
    subprocess.run(["rm", "-rf", root])


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("db") / "vulndb.ddb")
    subprocess.run([BIN, "db", "import", "--db", path, os.path.join(VULNDATA, "debian-osv"),
                    os.path.join(VULNDATA, "languages")], check=True, capture_output=True, timeout=600)
    return path


def s3_client(s3):
    """Signed requests to the S3 service itself, to look at what drydock left in the bucket
    (curl's SigV4, with the payload hash radosgw wants)."""
    def call(method, path, query=""):
        url = f"{s3.endpoint}/{path}" + (f"?{query}" if query else "")
        p = subprocess.run(["curl", "-sS", "-X", method, "--aws-sigv4", "aws:amz:us-east-1:s3", "--user",
                            f"{s3server.ACCESS_KEY}:{s3server.SECRET_KEY}", "-H",
                            "x-amz-content-sha256: UNSIGNED-PAYLOAD", url],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        return p.stdout
    return call


def keys(s3, bucket):
    return re.findall(r"<Key>([^<]*)</Key>", s3_client(s3)("GET", bucket, "list-type=2"))


def multipart_uploads(s3, bucket):
    return re.findall(r"<UploadId>([^<]*)</UploadId>", s3_client(s3)("GET", bucket, "uploads="))


def start(s3, bucket, *extra, data_dir=None, db=None):
    args = s3.settings(bucket) + ["--scan-workers", "2" if db else "0"] + (["--db", db] if db else []) + list(extra)
    return Server(data_dir=data_dir, extra_args=args).start()


def layout_blobs(layout):
    d = os.path.join(layout, "blobs", "sha256")
    return {f"sha256:{n}": os.path.getsize(os.path.join(d, n)) for n in os.listdir(d)}


def image_blobs(layout):
    """The configs and layers of every image in an OCI layout."""
    def read(d):
        with open(os.path.join(layout, "blobs", "sha256", d[7:])) as f:
            return json.load(f)
    out, todo = set(), [m["digest"] for m in read_index(layout)["manifests"]]
    while todo:
        m = read(todo.pop())
        todo += [x["digest"] for x in m.get("manifests", [])]
        out |= {x["digest"] for x in ([m["config"]] if "config" in m else []) + m.get("layers", [])}
    return out


def read_index(layout):
    with open(os.path.join(layout, "index.json")) as f:
        return json.load(f)


def database_in_use(srv):
    """Waits until srv's vulnerability database is checked and in use: layers are read as they
    upload, and after their commit, only from then on."""
    deadline = time.time() + 60
    while not requests.get(f"{srv.url}/api/v1/database").json().get("generation") and time.time() < deadline:
        time.sleep(0.1)


def test_clients_push_pull_and_scan_through_s3(s3, db, tmp_path):
    images = cached_images()
    app = os.path.join(cached_images("build-app.sh"), "app")
    srv = start(s3, "clients", db=db)
    try:
        host = srv.url.split("//")[1]
        database_in_use(srv)
        for name, layout in (("big", os.path.join(images, "debian-big")), ("app", app)):
            subprocess.run(["skopeo", "copy", "--dest-tls-verify=false", f"oci:{layout}",
                            f"docker://{host}/{name}:1"], check=True, capture_output=True, timeout=600)
        # layers larger than a part went up as multipart uploads; every blob is in the bucket
        # under its digest, and nothing of the uploads is left behind
        stored = keys(s3, "clients")
        want = image_blobs(os.path.join(images, "debian-big")) | image_blobs(app)
        assert {f"blobs/sha256/{d[7:]}" for d in want} <= set(stored)
        assert not [k for k in stored if k.startswith("uploads/")], stored
        assert multipart_uploads(s3, "clients") == []
        metrics = requests.get(f"{srv.url}/metrics").text
        puts = int(re.search(r'drydock_s3_requests_total\{method="PUT"\} (\d+)', metrics).group(1))
        assert puts >= len(want)  # a part or a blob each at least
        assert int(re.search(r"drydock_s3_sent_bytes_total (\d+)", metrics).group(1)) >= sum(
            layout_blobs(os.path.join(images, "debian-big")).values()) * 0.9
        assert max(layout_blobs(os.path.join(images, "debian-big")).values()) > 8 * MiB  # the multipart path ran
        # scanned: the layers were read from S3
        big = wait_assessed(srv.url, "big", "1", timeout=300)
        assert big["status"] == "Unhealthy", big
        a = wait_assessed(srv.url, "app", "1", timeout=300)
        assert a["status"] == "Unhealthy", a
        # the layers were read as they uploaded, from a copy in memory: not fetched back from S3,
        # unless a copy was dropped (its reader fell 64 MiB behind, on a loaded machine): then
        # each such layer at most once
        metrics = requests.get(f"{srv.url}/metrics").text
        received = int(re.search(r"drydock_s3_received_bytes_total (\d+)", metrics).group(1))
        dropped = int(re.search(r"drydock_s3_scanner_copies_dropped_total (\d+)", metrics).group(1))
        total = sum(layout_blobs(os.path.join(images, "debian-big")).values()) + sum(layout_blobs(app).values())
        assert received < (total * 0.1 if not dropped else total * 1.1), (received, dropped)
        # pulled back whole, by skopeo and podman
        out = str(tmp_path / "pulled")
        subprocess.run(["skopeo", "copy", "--src-tls-verify=false", f"docker://{host}/big:1", f"oci:{out}"],
                       check=True, capture_output=True, timeout=600)
        assert layout_blobs(out) == layout_blobs(os.path.join(images, "debian-big"))
        for d in layout_blobs(out):
            with open(os.path.join(out, "blobs", "sha256", d[7:]), "rb") as f:
                assert sha256(f.read()) == d
        # podman pulls (following the redirects) and pushes back, mounting the layers it has
        store = tempfile.mkdtemp(prefix="drydock-podman-")
        podman = engines.podman(store)
        try:
            for args in (["pull", "-q", "--tls-verify=false", f"{host}/app:1"],
                         ["push", "-q", "--tls-verify=false", f"{host}/app:1", f"docker://{host}/app-copy:1"]):
                p = subprocess.run(podman + args, capture_output=True, text=True, timeout=600)
                assert p.returncode == 0, p.stderr
        finally:
            subprocess.run(["rm", "-rf", store])
        r = requests.get(f"{srv.url}/v2/app-copy/manifests/1",
                         headers={"Accept": "application/vnd.oci.image.manifest.v1+json,"
                                            "application/vnd.docker.distribution.manifest.v2+json"})
        assert r.status_code == 200
        for layer in r.json()["layers"]:
            g = requests.get(f"{srv.url}/v2/app-copy/blobs/{layer['digest']}")
            assert g.status_code == 200 and sha256(g.content) == layer["digest"]
    finally:
        srv.stop()


def test_blob_get_redirects_to_a_presigned_url_that_serves_ranges(s3):
    srv = start(s3, "redirects", "--s3-redirect", "true")
    try:
        data = os.urandom(3 * MiB + 17)
        d = push_blob(requests, srv.url, "r", data)
        r = requests.get(f"{srv.url}/v2/r/blobs/{d}", allow_redirects=False)
        assert r.status_code == 307
        loc = r.headers["Location"]
        assert loc.startswith(s3.endpoint + "/redirects/blobs/sha256/" + d[7:] + "?")
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query)
        assert q["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"] and q["X-Amz-Expires"] == ["1200"]
        assert r.headers["Docker-Content-Digest"] == d
        assert requests.get(loc).content == data  # no credentials but the URL's
        r = requests.get(f"{srv.url}/v2/r/blobs/{d}", headers={"Range": "bytes=1000-1999"})
        assert r.status_code == 206 and r.content == data[1000:2000]
        # a tampered URL is refused by S3
        bad = loc.replace("X-Amz-Expires=1200", "X-Amz-Expires=99999")
        assert requests.get(bad).status_code == 403
        # HEAD is answered by drydock itself, with the size
        r = requests.head(f"{srv.url}/v2/r/blobs/{d}")
        assert r.status_code == 200 and int(r.headers["Content-Length"]) == len(data)
        # a blob in no repository's records is unknown, and not redirected
        r = requests.get(f"{srv.url}/v2/other/blobs/{d}", allow_redirects=False)
        assert r.status_code == 404
    finally:
        srv.stop()


def test_blob_bytes_stream_through_drydock_over_http1_and_http2(s3, tmp_path):
    """The default: drydock reads the bytes from S3 as they stream and sends them on (here over
    HTTPS), so clients need not reach S3. Ranges are asked of S3 as ranges."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                    "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    srv = Server(extra_args=s3.settings("proxied") + ["--scan-workers", "0"], tls=(str(cert), str(key))).start()
    http = requests.Session()
    http.verify = str(cert)
    http.trust_env = False
    try:
        data = os.urandom(20 * MiB + 3)
        d = push_blob(http, srv.url, "p", data)
        r = http.get(f"{srv.url}/v2/p/blobs/{d}", allow_redirects=False)
        assert r.status_code == 200 and r.content == data
        assert r.headers["Docker-Content-Digest"] == d and int(r.headers["Content-Length"]) == len(data)
        r = http.get(f"{srv.url}/v2/p/blobs/{d}", headers={"Range": f"bytes={9 * MiB}-{11 * MiB}"})
        assert r.status_code == 206 and r.content == data[9 * MiB:11 * MiB + 1]
        assert r.headers["Content-Range"] == f"bytes {9 * MiB}-{11 * MiB}/{len(data)}"
        # several at once on one HTTP/2 connection, and a range
        args = ["curl", "-sS", "-f", "--http2", "--cacert", str(cert), "--parallel", "--parallel-max", "6"]
        for i in range(6):
            args += ["-o", str(tmp_path / f"o{i}"), f"{srv.url}/v2/p/blobs/{d}"]
        p = subprocess.run(args + ["-w", "%{http_version} "], capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        assert p.stdout.split() == ["2"] * 6
        for i in range(6):
            assert (tmp_path / f"o{i}").read_bytes() == data
        p = subprocess.run(["curl", "-sS", "--http2", "--cacert", str(cert), "-r", "5-9", f"{srv.url}/v2/p/blobs/{d}"],
                           capture_output=True, timeout=60)
        assert p.stdout == data[5:10]
        # the bytes gone from S3 (behind drydock's back): an error, not a hang or a short body taken as whole
        s3_client(s3)("DELETE", f"proxied/blobs/sha256/{d[7:]}")
        r = http.get(f"{srv.url}/v2/p/blobs/{d}")
        assert r.status_code == 404 and "missing from storage" in r.text
    finally:
        srv.stop()


def test_one_client_holds_a_share_of_the_streams(s3):
    """A client that asks for many blobs and reads none holds at most 64 S3 streams; beyond
    them it is answered 429 at once, and the streams it let go are free again."""
    srv = start(s3, "shares")
    socks = []
    try:
        data = os.urandom(12 * MiB)
        d = push_blob(requests, srv.url, "s", data)
        for _ in range(70):
            sk = socket.create_connection(("127.0.0.1", srv.port))
            sk.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sk.sendall(f"GET /v2/s/blobs/{d} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            socks.append(sk)
        codes = []
        for sk in socks:
            sk.settimeout(30)
            head = b""
            while b"\r\n" not in head:
                head += sk.recv(1)
            codes.append(int(head.split()[1]))
        assert codes.count(200) == 64 and codes.count(429) == 6, codes
        for sk in socks:
            sk.close()
        socks = []
        deadline = time.time() + 30
        while time.time() < deadline:  # the getters see their readers gone
            r = requests.get(f"{srv.url}/v2/s/blobs/{d}")
            if r.status_code == 200:
                break
            time.sleep(0.5)
        assert r.status_code == 200 and r.content == data
    finally:
        for sk in socks:
            sk.close()
        srv.stop()


def test_stalled_uploads_hold_bounded_memory(s3):
    """Clients that send most of a part and stall hold upload memory only up to
    s3-upload-memory: beyond it a PATCH is answered 503 at once, the server answers others,
    and the memory is theirs again once those clients go. One client (an account, or an
    address when anonymous) holds at most a quarter of it, or two parts: another client pushes
    while the first stalls as many uploads as it likes."""
    srv = start(s3, "memory", "--s3-upload-memory", "32M")
    socks = []
    try:
        codes = []
        for _ in range(8):
            r = requests.post(f"{srv.url}/v2/m/blobs/uploads/")
            u = urllib.parse.urlsplit(srv.url + r.headers["Location"])
            sk = socket.create_connection(("127.0.0.1", srv.port))
            sk.sendall((f"PATCH {u.path}?{u.query} HTTP/1.1\r\nHost: x\r\n"
                        f"Content-Type: application/octet-stream\r\nContent-Length: {20 * MiB}\r\n\r\n").encode())
            sk.settimeout(60)
            sk.sendall(os.urandom(7 * MiB))  # most of a part (all of it read by the server), then nothing more
            socks.append(sk)
        # the answers of the refused come whenever the server gets to them (a loaded machine
        # is slow): waited for, the others never answer
        codes = [0] * len(socks)
        deadline = time.time() + 60
        while time.time() < deadline and codes.count(503) < 3:
            for i, sk in enumerate(socks):
                if codes[i]:
                    continue
                sk.settimeout(0.2)
                try:
                    head = sk.recv(64)
                except (socket.timeout, OSError):
                    continue
                codes[i] = int(head.split()[1]) if head.startswith(b"HTTP/1.1") else -1
        # 56 MiB asked by one client, whose share is 16 of the 32: at most 2 hold a part's buffer,
        # so at least 3 are refused (how many more depends on how much of their bytes the server
        # has read)
        assert codes.count(503) >= 3 and codes.count(0) >= 1 and -1 not in codes, codes
        assert requests.get(f"{srv.url}/v2/").status_code == 200
        # another client (another address) pushes a blob of two parts meanwhile
        head = post_blob(srv.port, "m", os.urandom(9 * MiB), source="127.0.0.2")
        assert head.startswith(b"HTTP/1.1 201"), head
        for sk in socks:
            sk.close()
        socks = []
        data = os.urandom(9 * MiB)
        deadline = time.time() + 30
        while time.time() < deadline:  # the stalled requests end when their clients go
            r = requests.post(f"{srv.url}/v2/m/blobs/uploads/?digest={sha256(data)}", data=data)
            if r.status_code == 201:
                break
            time.sleep(0.5)
        assert r.status_code == 201, r.text
    finally:
        for sk in socks:
            sk.close()
        srv.stop()


def memfd_bytes(pid):
    """What the server holds in memory files (the copies of uploads its scanner reads)."""
    total = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("/memfd:drydock-upload"):
                total += os.stat(f"/proc/{pid}/fd/{fd}").st_blocks * 512
        except OSError:
            pass
    return total


def post_head(port, repo, digest, length, source="127.0.0.1"):
    """A socket that sent a monolithic upload's head (its body is the caller's to send)."""
    sk = socket.create_connection(("127.0.0.1", port), source_address=(source, 0))
    sk.settimeout(60)
    sk.sendall((f"POST /v2/{repo}/blobs/uploads/?digest={digest} HTTP/1.1\r\nHost: x\r\n"
                f"Content-Type: application/octet-stream\r\nContent-Length: {length}\r\n\r\n").encode())
    return sk


def post_blob(port, repo, blob, source="127.0.0.1"):
    """A monolithic upload of blob on a connection of its own: the whole answer, body and all
    (the server may answer before it has read the body: what is left unsent is dropped)."""
    sk = post_head(port, repo, sha256(blob), len(blob), source)
    try:
        sk.sendall(blob)
    except OSError:
        pass
    out = b""
    while b"\r\n\r\n" not in out or len(out.split(b"\r\n\r\n", 1)[1]) < int(
            re.search(rb"(?i)content-length: (\d+)", out.split(b"\r\n\r\n", 1)[0]).group(1)):
        more = sk.recv(65536)
        if not more:
            break
        out += more
    sk.close()
    return out


def test_copies_of_uploads_nobody_reads_hold_bounded_memory(s3, db):
    """The copy of an upload kept in memory for the scanner (which reads a layer as it uploads)
    counts against s3-upload-memory and the client's share with the buffers: an upload whose
    bytes nobody reads (not a layer the scanner can read) no longer keeps up to 64 MiB each.
    Found by attacking the share; the push goes on, and another client still pushes."""
    srv = start(s3, "mirror", "--s3-upload-memory", "32M", db=db)
    sk = None
    try:
        sk = post_head(srv.port, "m", "sha256:" + "0" * 64, 60 * MiB)
        for _ in range(40):  # 40 MiB of bytes no scanner reads, then nothing more
            sk.sendall(os.urandom(MiB))
        deadline, held = time.time() + 30, None
        while time.time() < deadline:  # what the server holds once it has read them
            time.sleep(1)
            now = memfd_bytes(srv.proc.pid)
            if held == now:
                break
            held = now
        assert held <= 16 * MiB, held  # the client's share (a quarter of 32 MiB, or two parts)
        head = post_blob(srv.port, "m", os.urandom(9 * MiB), source="127.0.0.2")
        assert head.startswith(b"HTTP/1.1 201"), head
    finally:
        if sk:
            sk.close()
        srv.stop()


def random_layer(size):
    """A gzipped tar of one file of random bytes: a layer the scanner reads as it uploads."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as t:
        data = os.urandom(size)
        info = tarfile.TarInfo("data.bin")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), compresslevel=1)


def test_a_layer_within_the_clients_share_is_pushed_while_the_scanner_reads_it(s3, db):
    """An upload's buffers come before its copy for the scanner: what the copy held that the
    scanner had not read yet (up to a MiB, read and given back a MiB at a time) made the second
    part's buffer not fit in the client's share, and a layer of 9 MiB was answered 503 (found by
    CI). Now the copy is dropped and the push goes on; the scan reads the layer from S3."""
    srv = start(s3, "ownshare", "--s3-upload-memory", "32M", db=db)
    try:
        for size in (9 * MiB, 20 * MiB):
            blob = random_layer(size)
            head = post_blob(srv.port, "own", blob)
            assert head.startswith(b"HTTP/1.1 201"), head
            r = requests.get(f"{srv.url}/v2/own/blobs/{sha256(blob)}", timeout=60)
            assert r.status_code == 200 and r.content == blob
        deadline = time.time() + 30
        while memfd_bytes(srv.proc.pid) and time.time() < deadline:
            time.sleep(0.2)  # the scanner's reader holds the copy until its thread ends
        assert memfd_bytes(srv.proc.pid) == 0
        # past the share, a push is refused with a reason: another upload of the client's stalls
        # holding a part's buffer, and this one cannot have its two
        a = post_head(srv.port, "own", "sha256:" + "0" * 64, 60 * MiB)
        a.sendall(os.urandom(5 * MiB))
        time.sleep(2)
        head = post_blob(srv.port, "own", blob)
        a.close()
        assert head.startswith(b"HTTP/1.1 503") and b"memory for uploads in progress is taken" in head, head
    finally:
        srv.stop()


def slow_layer(size):
    """A gzipped tar that is slow to read: about 850 bytes out for each byte in (under the
    ratio a layer reader refuses), so its reader stays far behind its upload."""
    head = tarfile.TarInfo("z.bin")
    head.size = 8 * 1024 ** 3 - 1
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    out = c.compress(head.tobuf(format=tarfile.GNU_FORMAT)) + c.flush(zlib.Z_FULL_FLUSH)
    d = zlib.compressobj(9, zlib.DEFLATED, -15)
    seg = d.compress(b"\0" * (MiB - 200) + os.urandom(200)) + d.flush(zlib.Z_FULL_FLUSH)
    return out + seg * ((size - len(out)) // len(seg))


def test_a_stop_gives_up_a_slow_layer_read_for_the_cache(db, tmp_path):
    """A layer is read for the layer cache as it uploads and once it commits; a stop does not
    wait for a slow one, whose worker is killed (a stop waited for one for more than the 10 s
    this harness gives, on a loaded machine: a container runtime kills the registry then).
    (A scan's own reads go on to their end: tests/vulndb, the batch a worker holds is stored.)"""
    srv = Server(data_dir=str(tmp_path / "d"), extra_args=["--db", db, "--scan-workers", "2",
                                                           "--log-level", "debug"]).start()
    try:
        database_in_use(srv)
        blob = slow_layer(24 * MiB)
        r = requests.post(f"{srv.url}/v2/slow/blobs/uploads/?digest={sha256(blob)}", data=blob, timeout=120)
        assert r.status_code == 201, r.text
    finally:
        srv.stop()  # its exit status is 0
    with open(srv.log_path, errors="replace") as f:
        log = f.read()
    assert "a layer read for the cache alone, given up: the scanner stops" in log, log[-3000:]


def test_a_copy_dropped_for_memory_is_given_back_at_once(s3, db):
    """The scanner's copy of an upload dropped to make room for the upload's buffers was closed
    on the upload's side only: the reader's own descriptor kept what it had not read, uncounted,
    until it got through it (found by attacking the change: a slow layer held 17 MiB past
    s3-upload-memory for seconds). Now it is emptied as it is dropped; the push goes on."""
    srv = start(s3, "dropped", "--s3-upload-memory", "32M", db=db)
    try:
        head = post_blob(srv.port, "slow", slow_layer(24 * MiB))
        assert head.startswith(b"HTTP/1.1 201"), head
        assert memfd_bytes(srv.proc.pid) == 0  # the reader is still seconds behind the upload
        assert requests.get(f"{srv.url}/v2/", timeout=10).status_code == 200
        metrics = requests.get(f"{srv.url}/metrics", timeout=10).text
        assert int(re.search(r"drydock_s3_scanner_copies_dropped_total (\d+)", metrics).group(1)) == 1
    finally:
        srv.stop()


def test_chunked_upload_continues_after_a_restart_and_a_cut_off_request(s3, tmp_path):
    """The restarted server has no hash of the first bytes: it checks the digest by reading the
    completed upload back from S3. A PATCH cut off mid-body leaves the upload where it was."""
    data_dir = str(tmp_path / "data")
    srv = start(s3, "chunked", data_dir=data_dir)
    try:
        blob = os.urandom(21 * MiB + 5)
        d = sha256(blob)
        r = requests.post(f"{srv.url}/v2/c/blobs/uploads/")
        assert r.status_code == 202
        loc = srv.url + r.headers["Location"] if r.headers["Location"].startswith("/") else r.headers["Location"]
        first = 10 * MiB
        r = requests.patch(loc, data=blob[:first], headers={"Content-Type": "application/octet-stream",
                                                              "Content-Range": f"0-{first - 1}"})
        assert r.status_code == 202, r.text
        loc = srv.url + r.headers["Location"] if r.headers["Location"].startswith("/") else r.headers["Location"]
        # a PATCH that announces 9 MiB, sends 5 and hangs up (one more part went to S3 meanwhile)
        u = urllib.parse.urlsplit(loc)
        sock = socket.create_connection((srv.url.split("//")[1].rsplit(":", 1)[0], srv.port))
        sock.sendall((f"PATCH {u.path}?{u.query} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
                      f"Content-Length: {9 * MiB}\r\n\r\n").encode())
        sock.sendall(blob[first:first + 5 * MiB])
        sock.close()
        srv.restart()
        r = requests.get(loc.replace(loc.split("//")[1].split("/")[0], srv.url.split("//")[1]))
        assert r.status_code == 204, r.text
        assert r.headers["Range"] == f"0-{first - 1}"
        loc = srv.url + urllib.parse.urlsplit(loc).path + "?" + urllib.parse.urlsplit(loc).query
        r = requests.patch(loc, data=blob[first:], headers={"Content-Type": "application/octet-stream",
                                                            "Content-Range": f"{first}-{len(blob) - 1}"})
        assert r.status_code == 202, r.text
        loc = srv.url + r.headers["Location"] if r.headers["Location"].startswith("/") else r.headers["Location"]
        # the wrong digest is refused and nothing becomes visible; the right one commits
        wrong = sha256(b"not it")
        r = requests.put(loc + ("&" if "?" in loc else "?") + f"digest={wrong}")
        assert r.status_code == 400 and "DIGEST_INVALID" in r.text
        assert f"blobs/sha256/{wrong[7:]}" not in keys(s3, "chunked")
        srv.restart()
        r = requests.put(loc.replace(loc.split("//")[1].split("/")[0], srv.url.split("//")[1]) +
                         ("&" if "?" in loc else "?") + f"digest={d}")
        assert r.status_code == 201, r.text
        r = requests.get(f"{srv.url}/v2/c/blobs/{d}")
        assert r.status_code == 200 and hashlib.sha256(r.content).hexdigest() == d[7:]
        assert [k for k in keys(s3, "chunked") if k.startswith("uploads/")] == []
        assert multipart_uploads(s3, "chunked") == []
    finally:
        srv.stop()


def cut_off_patch(srv, loc, body, announced):
    """A PATCH that announces `announced` bytes, sends body and hangs up."""
    u = urllib.parse.urlsplit(loc)
    sock = socket.create_connection(("127.0.0.1", srv.port))
    sock.sendall((f"PATCH {u.path}?{u.query} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
                  f"Content-Length: {announced}\r\n\r\n").encode())
    sock.sendall(body)
    time.sleep(0.5)  # its part goes up meanwhile
    sock.close()


@pytest.mark.parametrize("restart", [False, True])
def test_parts_of_a_cut_off_request_never_reach_a_blob(s3, tmp_path, restart):
    """Bytes X cut off after a part of them went up, then bytes Y from the same offset: the
    blob is Y, byte for byte (the cut-off request's multipart upload is not the upload's), and
    nothing of either is left in S3."""
    srv = start(s3, "cutoff-" + ("restart" if restart else "live"), data_dir=str(tmp_path / "d"))
    bucket = "cutoff-" + ("restart" if restart else "live")
    try:
        x, y = os.urandom(9 * MiB), os.urandom(9 * MiB)
        r = requests.post(f"{srv.url}/v2/c/blobs/uploads/")
        loc = srv.url + r.headers["Location"]
        cut_off_patch(srv, loc, x, 10 * MiB)
        if restart:
            srv.restart()
            loc = srv.url + urllib.parse.urlsplit(loc).path + "?" + urllib.parse.urlsplit(loc).query
        r = requests.get(loc)
        assert r.status_code == 204 and r.headers["Range"] == "0-0", r.headers
        deadline = time.time() + 60
        while True:  # the cut-off request may still be ending on a slow machine: its session is busy
            r = requests.patch(loc, data=y, headers={"Content-Type": "application/octet-stream"})
            if r.status_code != 409 or "in use by another request" not in r.text or time.time() > deadline:
                break
            time.sleep(0.2)
        assert r.status_code == 202, r.text
        loc = srv.url + r.headers["Location"]
        d = sha256(y)
        r = requests.put(loc + ("&" if "?" in loc else "?") + f"digest={d}")
        assert r.status_code == 201, r.text
        got = requests.get(f"{srv.url}/v2/c/blobs/{d}").content
        assert got == y
        assert [k for k in keys(s3, bucket) if k.startswith("uploads/")] == []
        assert multipart_uploads(s3, bucket) == []
    finally:
        srv.stop()


def test_gc_removes_from_the_bucket_what_no_manifest_names(s3, tmp_path):
    data_dir = str(tmp_path / "data")
    srv = start(s3, "collect", data_dir=data_dir)
    s = requests.Session()
    try:
        keep = make_image(s, srv.url, "g", seed=b"keep")
        assert s.put(f"{srv.url}/v2/g/manifests/keep", data=keep,
                     headers={"Content-Type": OCI_MANIFEST}).status_code == 201
        drop = make_image(s, srv.url, "g", seed=b"drop")
        r = s.put(f"{srv.url}/v2/g/manifests/drop", data=drop, headers={"Content-Type": OCI_MANIFEST})
        assert r.status_code == 201
        assert s.delete(f"{srv.url}/v2/g/manifests/{r.headers['Docker-Content-Digest']}").status_code == 202
        # an abandoned upload session with a part in S3
        r = s.post(f"{srv.url}/v2/g/blobs/uploads/")
        loc = srv.url + r.headers["Location"] if r.headers["Location"].startswith("/") else r.headers["Location"]
        assert s.patch(loc, data=os.urandom(9 * MiB)).status_code == 202
    finally:
        srv.stop()
    time.sleep(1.5)  # past the second of the last upload: --grace 0 keeps blobs of this very second
    # the data directory knows where its blobs are: gc needs only the keys (from the environment)
    env = dict(os.environ, AWS_ACCESS_KEY_ID=s3server.ACCESS_KEY, AWS_SECRET_ACCESS_KEY=s3server.SECRET_KEY)
    p = subprocess.run([BIN, "gc", "--data", data_dir, "--grace", "0"], capture_output=True, text=True, timeout=300,
                       env=env)
    assert p.returncode == 0, p.stderr
    left = {k for k in keys(s3, "collect") if k.startswith("blobs/")}
    km = json.loads(keep)
    assert left == {f"blobs/sha256/{x['digest'][7:]}" for x in [km["config"]] + km["layers"]}, (left, p.stdout)
    # and a multipart upload whose tails are gone (a removal cut short by a crash)
    import uuid
    orphan = str(uuid.uuid4())
    s3_client(s3)("POST", f"collect/uploads/{orphan}/data", "uploads=")
    assert len(multipart_uploads(s3, "collect")) == 2
    time.sleep(1.5)
    # the abandoned upload goes when it is older than upload-max-age (here: at once)
    srv = start(s3, "collect", "--upload-max-age", "1", data_dir=data_dir)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and (multipart_uploads(s3, "collect") or
                                          [k for k in keys(s3, "collect") if k.startswith("uploads/")]):
            time.sleep(0.5)
        assert multipart_uploads(s3, "collect") == []
        assert [k for k in keys(s3, "collect") if k.startswith("uploads/")] == []
    finally:
        srv.stop()


def test_bad_s3_settings_are_named_at_start(s3, tmp_path):
    def fails(*args):
        p = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--data", str(tmp_path / "d"), "--auth", "off",
                            *args], capture_output=True, text=True, timeout=60)
        assert p.returncode != 0
        return p.stderr
    settings = s3.settings("named")
    wrong_secret = settings[:-1] + ["not-the-secret"]
    assert "SignatureDoesNotMatch" in fails(*wrong_secret)
    wrong_key = list(settings)
    wrong_key[wrong_key.index("--s3-access-key") + 1] = "NOSUCHKEY"
    assert "InvalidAccessKeyId" in fails(*wrong_key)
    with socket.socket() as sk:
        sk.bind(("127.0.0.1", 0))
        closed = sk.getsockname()[1]
    nowhere = list(settings)
    nowhere[nowhere.index("--s3-endpoint") + 1] = f"http://127.0.0.1:{closed}"
    assert "S3 endpoint does not answer" in fails(*nowhere)
    assert "s3-bucket" in fails(*(settings[:settings.index("--s3-bucket") + 1] + ["Bad_Bucket"] +
                                  settings[settings.index("--s3-bucket") + 2:]))
    assert "s3-endpoint must start with http" in fails("--storage", "s3", "--s3-endpoint", "s3.example.com",
                                                       "--s3-bucket", "b-1")
    assert "s3-redirect must be true or false" in fails(*settings, "--s3-redirect", "yes")
    assert "s3-streams-per-client must be" in fails(*settings, "--s3-streams-per-client", "5000")
    assert "s3-upload-memory must be" in fails(*settings, "--s3-upload-memory", "1M")
    assert "storage must be filesystem or s3" in fails("--storage", "ceph")


def test_data_directory_keeps_to_its_storage(s3, tmp_path):
    """A data directory made on S3 is refused with another bucket, and one whose blobs are on the
    filesystem is refused on S3 (it would lose them); without storage settings it finds its bucket."""
    data_dir = str(tmp_path / "on-s3")
    srv = start(s3, "kept", data_dir=data_dir)
    srv.stop()
    p = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--data", data_dir, "--auth", "off",
                        *s3.settings("other-bucket")], capture_output=True, text=True, timeout=60)
    assert p.returncode != 0 and "keeps its blobs elsewhere" in p.stderr and '"bucket":"kept"' in p.stderr
    env = {"AWS_ACCESS_KEY_ID": s3server.ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": s3server.SECRET_KEY}
    srv = Server(data_dir=data_dir, extra_args=["--scan-workers", "0"], env=env).start()
    try:
        data = os.urandom(1000)
        d = sha256(data)
        assert requests.post(f"{srv.url}/v2/k/blobs/uploads/?digest={d}", data=data).status_code == 201
        assert f"blobs/sha256/{d[7:]}" in keys(s3, "kept")
    finally:
        srv.stop()
    fs_dir = str(tmp_path / "on-fs")
    srv = Server(data_dir=fs_dir, extra_args=["--scan-workers", "0", "--storage", "filesystem"]).start()
    try:
        assert requests.post(f"{srv.url}/v2/k/blobs/uploads/?digest={d}", data=data).status_code == 201
    finally:
        srv.stop()
    p = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--data", fs_dir, "--auth", "off",
                        *s3.settings("kept2")], capture_output=True, text=True, timeout=60)
    assert p.returncode != 0 and "holds 1 blobs on the filesystem" in p.stderr


def test_migrate_moves_a_registry_onto_s3(s3, tmp_path):
    """drydock migrate copies a filesystem registry's blobs into a bucket (each read back through
    its digest), again only what is missing, and the data directory then serves from S3."""
    images = cached_images()
    data_dir = str(tmp_path / "data")
    srv = Server(data_dir=data_dir, extra_args=["--scan-workers", "0"]).start()
    host = srv.url.split("//")[1]
    try:
        subprocess.run(["skopeo", "copy", "--dest-tls-verify=false", f"oci:{os.path.join(images, 'debian-min')}",
                        f"docker://{host}/moved:1"], check=True, capture_output=True, timeout=600)
    finally:
        srv.stop()
    on_fs = {f"sha256:{n}" for _, _, files in os.walk(os.path.join(data_dir, "blobs", "sha256")) for n in files}
    env = dict(os.environ, AWS_ACCESS_KEY_ID=s3server.ACCESS_KEY, AWS_SECRET_ACCESS_KEY=s3server.SECRET_KEY)
    where = ["--storage", "s3", "--s3-endpoint", s3.endpoint, "--s3-bucket", "moved"]
    p = subprocess.run([BIN, "migrate", "--data", data_dir, *where], capture_output=True, text=True, timeout=600,
                       env=env)
    assert p.returncode == 0, p.stderr
    assert f"{len(on_fs)} blobs copied" in p.stdout and "0 there already, 0 failed" in p.stdout, p.stdout
    assert {f"sha256:{k.split('/')[-1]}" for k in keys(s3, "moved") if k.startswith("blobs/")} == on_fs
    p = subprocess.run([BIN, "migrate", "--data", data_dir, *where], capture_output=True, text=True, timeout=600,
                       env=env)
    assert p.returncode == 0 and f"0 blobs copied (0.0 MiB), {len(on_fs)} there already" in p.stdout, p.stdout
    # the files go; the data directory serves from its bucket, named nowhere but in its records
    subprocess.run(["rm", "-rf", os.path.join(data_dir, "blobs")], check=True)
    srv = Server(data_dir=data_dir, extra_args=["--scan-workers", "0"], env={
        "AWS_ACCESS_KEY_ID": s3server.ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": s3server.SECRET_KEY}).start()
    try:
        out = str(tmp_path / "pulled")
        subprocess.run(["skopeo", "copy", "--src-tls-verify=false", f"docker://{host.split(':')[0]}:{srv.port}/moved:1",
                        f"oci:{out}"], check=True, capture_output=True, timeout=600)
        assert image_blobs(out) <= on_fs and len(image_blobs(out)) >= 2
    finally:
        srv.stop()
    # a damaged file is named and not copied, and the data directory stays on the filesystem
    bad_dir = str(tmp_path / "bad")
    srv = Server(data_dir=bad_dir, extra_args=["--scan-workers", "0"]).start()
    try:
        data = os.urandom(5000)
        d = sha256(data)
        assert requests.post(f"{srv.url}/v2/b/blobs/uploads/?digest={d}", data=data).status_code == 201
    finally:
        srv.stop()
    with open(os.path.join(bad_dir, "blobs", "sha256", d[7:9], d[7:]), "r+b") as f:
        f.write(b"X")
    p = subprocess.run([BIN, "migrate", "--data", bad_dir, "--storage", "s3", "--s3-endpoint", s3.endpoint,
                        "--s3-bucket", "moved-bad"], capture_output=True, text=True, timeout=600, env=env)
    assert p.returncode == 1 and d in p.stderr and "do not match its digest" in p.stderr, p.stderr
    assert "0 blobs copied" in p.stdout and "1 failed" in p.stdout
    assert [k for k in keys(s3, "moved-bad") if k.startswith("blobs/")] == []
    srv = Server(data_dir=bad_dir, extra_args=["--scan-workers", "0"]).start()  # still the filesystem
    try:
        assert requests.head(f"{srv.url}/v2/b/blobs/{d}").status_code == 200
    finally:
        srv.stop()
