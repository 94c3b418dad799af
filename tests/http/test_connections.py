"""The server's connections under load and abuse: floods of partial requests, idle and slow
clients, the connection caps and timeouts, malformed requests, pipelining, 100-continue, and
HTTP/2 (curl over TLS with ALPN, and prior knowledge on the plain port)."""
import os
import re
import resource
import socket
import ssl
import subprocess
import sys
import threading
import time

import requests

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from drydock import OCI_MANIFEST, Server, make_image, sha256  # noqa: E402

# enough descriptors for a thousand-odd client sockets in this process
_soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(_hard, 65536), _hard))


def connect(port, source="127.0.0.1", timeout=10):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


def get(url, timeout=5):
    """A request that must be served promptly: before this change, new clients waited about
    10 s behind idle connections, and forever once the server had hung."""
    return requests.get(url, timeout=timeout)


def raw(port, data, timeout=10):
    """Sends bytes on a fresh connection, returns everything the server sends until it closes."""
    s = connect(port, timeout=timeout)
    s.sendall(data)
    out = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
    except socket.timeout:
        pass
    s.close()
    return out


def test_flood_of_partial_requests_does_not_hang(tmp_path):
    """Regression: about 520 connections that each send part of a request and close a few
    seconds later hung the server for good (libmicrohttpd 0.9.75's connection-limit path),
    /healthz never answered again and SIGTERM was ignored."""
    s = Server(data_dir=str(tmp_path)).start()
    try:
        for _round in range(2):
            socks = []
            for i in range(700):
                c = connect(s.port, source=f"127.0.0.{2 + i % 50}")
                c.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                socks.append(c)
            assert get(f"{s.url}/healthz").status_code == 200
            time.sleep(2)
            for c in socks:
                c.close()
        assert get(f"{s.url}/healthz").status_code == 200
        assert get(f"{s.url}/v2/").status_code == 200
    finally:
        s.stop()  # asserts a clean exit on SIGTERM within 10 s


def test_idle_and_slow_clients_do_not_delay_others(tmp_path):
    """300 idle connections filled the old acceptor's pending table and every new client then
    waited about 10 s; now idle and slow clients cost no thread and others are served."""
    s = Server(data_dir=str(tmp_path)).start()
    socks = []
    try:
        for i in range(1000):
            c = connect(s.port, source=f"127.0.0.{2 + i % 50}")
            if i % 2:
                c.sendall(b"GET /v2/ HTTP/1.1\r\nHo")  # slowloris: a head that never ends
            socks.append(c)
        with requests.Session() as http:
            for _ in range(20):
                assert http.get(f"{s.url}/v2/", timeout=30).status_code == 200
            body = make_image(http, s.url, "busy/repo")
            r = http.put(f"{s.url}/v2/busy/repo/manifests/v1", data=body, headers={"Content-Type": OCI_MANIFEST},
                         timeout=30)
            assert r.status_code == 201
    finally:
        for c in socks:
            c.close()
        s.stop()


def test_connection_cap_closes_the_longest_idle(tmp_path):
    s = Server(data_dir=str(tmp_path), extra_args=["--max-connections", "50"]).start()
    socks = []
    try:
        for i in range(60):
            socks.append(connect(s.port, source=f"127.0.0.{2 + i % 10}"))
        time.sleep(0.2)
        assert get(f"{s.url}/v2/").status_code == 200
        # the ones idle longest were closed to admit the later ones, whichever event loop held
        # them: at least the ten beyond the cap, and none of the newest ten
        closed, deadline = [], time.time() + 10
        while len(closed) < 10 and time.time() < deadline:  # each close seen, however late
            for i, c in enumerate(socks):
                if i in closed:
                    continue
                c.settimeout(0.01)
                try:
                    if c.recv(10) == b"":
                        closed.append(i)
                except socket.timeout:
                    pass
        assert len(closed) >= 10
        assert max(closed) < 50, closed
        socks[-1].sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")
        socks[-1].settimeout(5)
        assert socks[-1].recv(4096).startswith(b"HTTP/1.1 200")
    finally:
        for c in socks:
            c.close()
        s.stop()


def test_trusted_proxies_have_no_per_client_cap(tmp_path):
    # a load balancer's connections carry many clients: the per-client cap is not its
    s = Server(data_dir=str(tmp_path), extra_args=["--max-connections-per-client", "3",
                                                   "--trusted-proxies", "127.0.0.5"]).start()
    socks = []
    try:
        for source, served in (("127.0.0.5", 8), ("127.0.0.6", 3)):
            for i in range(8):
                c = connect(s.port, source=source)
                socks.append(c)
                c.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 198.51.100.1\r\n\r\n")
                answer = c.recv(4096)
                assert answer.startswith(b"HTTP/1.1 200" if i < served else b"HTTP/1.1 503"), (source, i, answer)
    finally:
        for c in socks:
            c.close()
        s.stop()


def test_per_client_cap(tmp_path):
    s = Server(data_dir=str(tmp_path), extra_args=["--max-connections-per-client", "20"]).start()
    socks = []
    try:
        for _ in range(20):
            socks.append(connect(s.port, source="127.0.0.5"))
        for c in socks:  # each answered, so each was accepted and counted before the 21st comes
            c.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")
            assert c.recv(4096).startswith(b"HTTP/1.1 200")
        extra = connect(s.port, source="127.0.0.5")
        extra.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = extra.recv(4096)
        extra.close()
        assert answer.startswith(b"HTTP/1.1 503") and b"max-connections-per-client" in answer
        # another address is served
        c = connect(s.port, source="127.0.0.6")
        c.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")
        assert c.recv(4096).startswith(b"HTTP/1.1 200")
        c.close()
        # and the capped address is served again once its connections close
        for c in socks:
            c.close()
        socks = []
        deadline = time.time() + 10
        while True:  # once the server has seen the closes
            c = connect(s.port, source="127.0.0.5")
            c.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = c.recv(4096)
            c.close()
            if answer.startswith(b"HTTP/1.1 200") or time.time() > deadline:
                break
            time.sleep(0.1)
        assert answer.startswith(b"HTTP/1.1 200"), answer
    finally:
        for c in socks:
            c.close()
        s.stop()


def test_header_and_idle_timeouts(tmp_path):
    s = Server(data_dir=str(tmp_path), extra_args=["--header-timeout", "1", "--idle-timeout", "2"]).start()
    try:
        slow = connect(s.port, timeout=10)
        slow.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n")
        idle = connect(s.port, timeout=10)
        idle.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")
        assert idle.recv(4096).startswith(b"HTTP/1.1 200")
        t0 = time.time()
        assert slow.recv(10) == b""  # closed: the head did not end within the header timeout
        assert idle.recv(10) == b""  # closed: nothing asked within the idle timeout
        assert time.time() - t0 < 9
        slow.close()
        idle.close()
    finally:
        s.stop()


def test_malformed_requests_get_clear_answers(server):
    cases = [
        (b"GET /v2/ HTTP/1.1\r\nHost : x\r\n\r\n", b"400", b"field name followed by a colon"),
        (b"GET /v2/ HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", b"400", b"obs-fold"),
        (b"GET /v2/ HTTP/1.1\r\n\r\n", b"400", b"Host"),
        (b"GET /v2/ HTTP/3.0\r\nHost: x\r\n\r\n", b"505", b"HTTP/1.0 and HTTP/1.1"),
        (b"POST /v2/ HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", b"400",
         b"both Content-Length and Transfer-Encoding"),
        (b"POST /v2/ HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", b"400", b"differ"),
        (b"POST /v2/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", b"501", b"chunked"),
        (b"GET /v2/%zz HTTP/1.1\r\nHost: x\r\n\r\n", b"400", b"percent-escape"),
        (b"GET /v2/a%0Ab HTTP/1.1\r\nHost: x\r\n\r\n", b"400", b"control character"),
        (b"GET /v2/ HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 70000 + b"\r\n\r\n", b"431", b"64 KiB"),
    ]
    for req, status, why in cases:
        out = raw(server.port, req)
        assert out.startswith(b"HTTP/1.1 " + status), (req[:60], out[:200])
        assert why in out, (req[:60], out)
    assert get(f"{server.url}/v2/").status_code == 200


def test_pipelined_requests_answered_in_order(server):
    out = raw(server.port, b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n"
                           b"GET /v2/nope/tags/list HTTP/1.1\r\nHost: x\r\n\r\n"
                           b"GET /v2/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert re.findall(rb"HTTP/1\.1 (\d{3}) ", out) == [b"200", b"404", b"200"]


def test_http10_keep_alive_only_when_asked(server):
    c = connect(server.port)
    c.sendall(b"GET /v2/ HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    first = c.recv(4096)
    assert first.startswith(b"HTTP/1.1 200") and b"Connection: keep-alive" in first
    c.sendall(b"GET /v2/ HTTP/1.0\r\n\r\n")  # no keep-alive: answered, then closed
    rest = b""
    while True:
        b = c.recv(4096)
        if not b:
            break
        rest += b
    c.close()
    assert rest.startswith(b"HTTP/1.1 200") and b"Connection: close" in rest


def test_expect_100_continue_and_chunked_upload(server):
    data = os.urandom(300000)
    digest = sha256(data)
    c = connect(server.port)
    c.sendall(f"POST /v2/cont/repo/blobs/uploads/?digest={digest} HTTP/1.1\r\nHost: x\r\n"
              f"Expect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
    assert c.recv(4096) == b"HTTP/1.1 100 Continue\r\n\r\n"
    for i in range(0, len(data), 70000):
        piece = data[i:i + 70000]
        c.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
    c.sendall(b"0\r\n\r\n")
    answer = c.recv(4096)
    c.close()
    assert answer.startswith(b"HTTP/1.1 201"), answer
    assert requests.get(f"{server.url}/v2/cont/repo/blobs/{digest}").content == data


def test_bodies_in_small_pieces_with_pauses_end_at_once(server):
    """The server hands body bytes to a handler in batches of up to 1 MiB (fewer thread wakeups
    on a push); a body whose pieces are smaller than that, with pauses between them, must still be
    read to its end and answered as soon as its last byte (or chunked terminator) is there,
    also when the terminator comes alone, split, or with a pipelined request behind it."""
    data = os.urandom(200000)
    digest = sha256(data)

    def answer(c):
        c.settimeout(30)  # a server waiting for a batch that never comes would time out here
        out = b""
        while b"\r\n\r\n" not in out:
            b = c.recv(4096)
            assert b, out
            out += b
        return out

    # Content-Length, in 10 pieces a pause apart
    c = connect(server.port)
    c.sendall(f"POST /v2/pieces/a/blobs/uploads/?digest={digest} HTTP/1.1\r\nHost: x\r\n"
              f"Content-Length: {len(data)}\r\n\r\n".encode())
    for i in range(0, len(data), 20000):
        c.sendall(data[i:i + 20000])
        time.sleep(0.05)
    assert answer(c).startswith(b"HTTP/1.1 201")
    c.close()
    # chunked, the terminator split and sent after pauses, a request pipelined behind it
    c = connect(server.port)
    c.sendall(f"POST /v2/pieces/b/blobs/uploads/?digest={digest} HTTP/1.1\r\nHost: x\r\n"
              f"Transfer-Encoding: chunked\r\n\r\n".encode())
    for i in range(0, len(data), 30000):
        piece = data[i:i + 30000]
        c.sendall(b"%x\r\n" % len(piece) + piece[:100])
        time.sleep(0.03)
        c.sendall(piece[100:] + b"\r\n")
    time.sleep(0.1)
    c.sendall(b"0\r\n")
    time.sleep(0.1)
    c.sendall(b"\r\nGET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")
    first = answer(c)
    assert first.startswith(b"HTTP/1.1 201"), first
    rest = first.split(b"\r\n\r\n", 1)[1]
    while b"HTTP/1.1 200" not in rest:
        b = c.recv(4096)
        assert b, rest
        rest += b
    c.close()
    # a PATCH of 100 bytes alone: the session moves on at once
    r = requests.post(f"{server.url}/v2/pieces/c/blobs/uploads/")
    loc = r.headers["Location"]
    loc = loc if loc.startswith("http") else server.url + loc
    c = connect(server.port)
    path = loc.split(str(server.port), 1)[1]
    c.sendall(f"PATCH {path} HTTP/1.1\r\nHost: x\r\nContent-Range: 0-99\r\nContent-Length: 100\r\n"
              f"Content-Type: application/octet-stream\r\n\r\n".encode())
    time.sleep(0.1)
    c.sendall(data[:100])
    assert answer(c).startswith(b"HTTP/1.1 202")
    c.close()
    for repo in ("a", "b"):
        assert requests.get(f"{server.url}/v2/pieces/{repo}/blobs/{digest}").content == data


def test_early_answer_to_a_body_is_read_by_the_client(server):
    """The server answers before reading a body (a refused upload); it then drains what the
    client still sends, so the client reads the answer instead of a connection reset."""
    c = connect(server.port)
    c.sendall(b"PATCH /v2/x/y/blobs/uploads/no-such-session HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n\r\n")
    try:
        c.sendall(os.urandom(1000000))
    except OSError:
        pass
    answer = c.recv(4096)
    c.close()
    assert answer.startswith(b"HTTP/1.1 404") and b"Connection: close" in answer, answer[:300]


def test_stop_with_connections_and_an_upload_open(tmp_path):
    s = Server(data_dir=str(tmp_path)).start()
    socks = [connect(s.port) for _ in range(100)]
    up = connect(s.port)
    up.sendall(b"POST /v2/stop/repo/blobs/uploads/?digest=sha256:" + b"0" * 64 +
               b" HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n" + b"x" * 100000)
    time.sleep(0.3)
    t0 = time.time()
    s.stop()  # SIGTERM: exits 0
    assert time.time() - t0 < 10
    for c in socks + [up]:
        c.close()


def tls_server(tmp_path, extra=()):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                    "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return Server(data_dir=str(tmp_path / "data"), tls=(str(cert), str(key)), extra_args=list(extra)).start(), cert


def curl(*args):
    p = subprocess.run(["curl", "-sS", *args], capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_http2_over_tls(tmp_path):
    s, cert = tls_server(tmp_path)
    try:
        data = os.urandom(3 * 1024 * 1024 + 17)
        (tmp_path / "blob").write_bytes(data)
        digest = sha256(data)
        out = curl("--http2", "--cacert", str(cert), "-o", "/dev/null", "-w", "%{http_version} %{http_code}",
                   "-X", "POST", "--data-binary", f"@{tmp_path / 'blob'}",
                   f"{s.url}/v2/h2/repo/blobs/uploads/?digest={digest}")
        assert out == b"2 201"
        got = curl("--http2", "--cacert", str(cert), f"{s.url}/v2/h2/repo/blobs/{digest}")
        assert got == data
        head = curl("--http2", "--cacert", str(cert), "-I", f"{s.url}/v2/h2/repo/blobs/{digest}")
        assert head.startswith(b"HTTP/2 200") and f"content-length: {len(data)}".encode() in head
        part = curl("--http2", "--cacert", str(cert), "-r", "5-14", f"{s.url}/v2/h2/repo/blobs/{digest}")
        assert part == data[5:15]
        # many streams on one connection, answered each with its own body
        urls = [f"{s.url}/v2/h2/repo/blobs/{digest}" if i % 2 else f"{s.url}/v2/" for i in range(20)]
        outs = curl("--http2", "--cacert", str(cert), "--parallel", "--parallel-max", "20",
                    *sum([["-o", str(tmp_path / f"o{i}"), u] for i, u in enumerate(urls)], []))
        assert outs == b""
        for i in range(20):
            assert (tmp_path / f"o{i}").read_bytes() == (data if i % 2 else b"{}")
        # a client that offers only http/1.1 gets it
        assert curl("--http1.1", "--cacert", str(cert), "-o", "/dev/null", "-w", "%{http_version}",
                    f"{s.url}/v2/") == b"1.1"
        # python's client (ALPN http/1.1) pushes an image over the same port
        with requests.Session() as http:
            http.verify = str(cert)
            http.trust_env = False
            body = make_image(http, s.url, "h2/img")
            assert http.put(f"{s.url}/v2/h2/img/manifests/v1", data=body,
                            headers={"Content-Type": OCI_MANIFEST}).status_code == 201
        m = curl("--http2", "--cacert", str(cert), "-H", f"Accept: {OCI_MANIFEST}", f"{s.url}/v2/h2/img/manifests/v1")
        assert m == body
    finally:
        s.stop()


def test_http2_many_small_bodies_on_one_connection(tmp_path):
    """Body bytes of an HTTP/2 stream wait for a batch before a handler is woken, but never so
    many that the client's connection window runs out: 40 uploads of 200 KB each (8 MB in all,
    twice the connection window, each below a batch) on one connection all end, with the right
    bytes."""
    s, cert = tls_server(tmp_path)
    try:
        args, digests = [], []
        for i in range(40):
            data = os.urandom(200000 + i)
            (tmp_path / f"b{i}").write_bytes(data)
            digests.append(sha256(data))
            args += ["--http2", "--cacert", str(cert), "-X", "POST", "--data-binary", f"@{tmp_path / f'b{i}'}",
                     "-o", "/dev/null", "-w", "%{http_version} %{http_code} %{num_connects}\n",
                     f"{s.url}/v2/h2many/r{i}/blobs/uploads/?digest={digests[i]}"]
            if i < 39:
                args.append("--next")
        p = subprocess.run(["curl", "-sS", "--parallel", "--parallel-max", "40", *args],
                           capture_output=True, timeout=60)
        assert p.returncode == 0, p.stderr
        lines = p.stdout.decode().split("\n")[:-1]
        assert len(lines) == 40 and all(ln.startswith("2 201") for ln in lines), lines
        assert sum(int(ln.split()[2]) for ln in lines) == 1, lines  # one connection for all
        for i in range(40):
            assert curl("--http2", "--cacert", str(cert), f"{s.url}/v2/h2many/r{i}/blobs/{digests[i]}") == \
                (tmp_path / f"b{i}").read_bytes()
    finally:
        s.stop()


def test_http2_reset_uploads_give_their_window_back(server):
    """A stream's body bytes wait for a batch; a client that resets its uploads mid-body must
    get the bytes they held back in the connection's flow-control window. Before, 21 resets of
    200 KB uploads left the window at 0 and every later upload on the connection hung."""
    from h2raw import H2
    h = H2(server.port)
    try:
        h.poll(0.2)
        part = os.urandom(200000)
        for i in range(30):
            sid = h.request("POST", f"/v2/h2reset/r{i}/blobs/uploads/?digest={sha256(part + b'x')}")
            assert h.data(sid, part, timeout=5) == len(part), i
            h.poll(0.05)
            h.reset(sid)
        data = os.urandom(1 << 20)
        sid = h.request("POST", f"/v2/h2reset/final/blobs/uploads/?digest={sha256(data)}")
        assert h.data(sid, data, end=True, timeout=10) == len(data)
        assert h.wait(sid)  # answered; the blob below says it was stored
    finally:
        h.close()
    assert requests.get(f"{server.url}/v2/h2reset/final/blobs/{sha256(data)}").content == data


def test_http2_bodies_read_ahead_are_bounded(server):
    """An HTTP/2 stream's body takes a window's room (1 MiB; less when its length says so) and
    counts against the bound on bodies read ahead of their handlers (256 MiB), as HTTP/1.1's
    do: past it, streams are refused (REFUSED_STREAM, which a client may retry) instead of
    growing without end (300 connections x 4 streams held 311 MiB past the bound); once the
    streams holding it are gone, bodies have room again."""
    from h2raw import H2
    conns = []
    try:
        for k in range(3):
            h = H2(server.port)
            conns.append(h)
            h.poll(0.1)
            for i in range(100):  # each holds a byte of a manifest, waiting for a batch, and its room
                sid = h.request("PUT", f"/v2/h2bound/c{k}/manifests/s{i}",
                                headers=[("content-type", "application/vnd.oci.image.manifest.v1+json")])
                h.data(sid, b"{")
            h.poll(0.3)
        deadline = time.time() + 10
        while True:  # every refusal read, however far behind the server's loops are
            refused = sum(1 for h in conns for c in h.rst.values() if c == 7)
            held = sum(1 for h in conns for s in h.win if s not in h.ended)
            if held <= 256 or time.time() > deadline:
                break
            for h in conns:
                h.poll(0.05)
        assert refused and held <= 256, (refused, held)
        assert requests.get(f"{server.url}/v2/").status_code == 200  # the server answers others
    finally:
        for h in conns:
            h.close()
    # the held streams are gone with their connections: bodies have room again
    time.sleep(0.5)
    data = os.urandom(300000)
    r = requests.post(f"{server.url}/v2/h2bound/after/blobs/uploads/?digest={sha256(data)}", data=data)
    assert r.status_code == 201


def test_chunked_trailers_longer_than_the_buffer(server):
    """A chunked body whose trailers fill the 1 MiB buffer with framing alone: the reader drops
    it and reads on (the socket's readiness is edge-triggered: waiting would never wake)."""
    c = connect(server.port)
    c.settimeout(30)
    c.sendall(f"POST /v2/trailers/a/blobs/uploads/?digest={sha256(b'hello')} HTTP/1.1\r\nHost: x\r\n"
              f"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n".encode())
    trailers = b"".join(b"X-T%d: %s\r\n" % (i, b"v" * 1000) for i in range(1100)) + b"\r\n"
    cut = (1 << 20) - 20000
    for i in range(0, cut, 65536):
        c.sendall(trailers[i:min(i + 65536, cut)])
        time.sleep(0.01)
    time.sleep(0.2)
    c.sendall(trailers[cut:])
    assert c.recv(4096).startswith(b"HTTP/1.1 201")
    c.close()


def test_http2_off_and_prior_knowledge(tmp_path, server):
    assert curl("--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_version} %{http_code}",
                f"{server.url}/v2/") == b"2 200"
    s, cert = tls_server(tmp_path, extra=["--http2", "false"])
    try:
        assert curl("--http2", "--cacert", str(cert), "-o", "/dev/null", "-w", "%{http_version}",
                    f"{s.url}/v2/") == b"1.1"
    finally:
        s.stop()


def test_tls_connections_many_and_clean(tmp_path):
    """TLS handshakes from many threads at once, and partial TLS handshakes that stall, leave
    the server serving."""
    s, cert = tls_server(tmp_path)
    try:
        stalled = []
        for _ in range(200):
            c = connect(s.port)
            c.sendall(b"\x16\x03\x01\x00\xff\x01")  # the start of a ClientHello, never finished
            stalled.append(c)
        errors = []

        def worker():
            try:
                with requests.Session() as http:
                    http.verify = str(cert)
                    http.trust_env = False  # else a CA bundle from the environment wins
                    for _ in range(10):
                        assert http.get(f"{s.url}/v2/", timeout=10).status_code == 200
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=worker) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors[:3]
        for c in stalled:
            c.close()
        ctx = ssl.create_default_context(cafile=str(cert))
        with socket.create_connection(("127.0.0.1", s.port), timeout=10) as raw_sock:
            with ctx.wrap_socket(raw_sock, server_hostname="127.0.0.1") as t:
                t.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")
                assert t.recv(4096).startswith(b"HTTP/1.1 200")
    finally:
        s.stop()


def server_socket_fd(pid, server_port, client_port):
    """The descriptor number, in process pid, of the accepted socket whose peer is client_port."""
    inode = None
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for line in f:
                fields = line.split()
                local, remote = fields[1].rsplit(":", 1), fields[2].rsplit(":", 1)
                if int(local[1], 16) == server_port and int(remote[1], 16) == client_port:
                    inode = fields[9]
    assert inode, "no such connection"
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]":
                return int(fd)
        except OSError:
            pass
    raise AssertionError("the server holds no descriptor of the connection")


def pidfd_getfd(pid, fd):
    """A copy, in this process, of descriptor fd of process pid (pidfd_getfd(2), Linux 5.6)."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    try:
        got = libc.syscall(438, pidfd, fd, 0)  # SYS_pidfd_getfd on every architecture
        if got < 0:
            raise OSError(ctypes.get_errno(), "pidfd_getfd")
        return got
    finally:
        os.close(pidfd)


def test_a_closed_connection_copied_elsewhere_raises_no_event(tmp_path):
    """Regression: a connection's socket left the event loop's epoll set only when its last
    descriptor closed, but another process can hold a copy for a while: the sandboxed scan
    workers are spawned from the server's threads, and the child holds copies of every descriptor
    until it execs. An event on such a socket after the server closed it and freed the connection
    was a use after free (AddressSanitizer saw it in a push while workers started). Here the copy
    is taken with pidfd_getfd; the server closes the connection (its idle timeout), the client
    then sends more and hangs up, and the server must neither crash nor touch the freed
    connection (the sanitizer build reports it)."""
    s = Server(data_dir=str(tmp_path), extra_args=["--idle-timeout", "1"]).start()
    copy = None
    try:
        c = connect(s.port)
        c.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")
        assert c.recv(65536).startswith(b"HTTP/1.1 200")
        copy = pidfd_getfd(s.proc.pid, server_socket_fd(s.proc.pid, s.port, c.getsockname()[1]))
        # closed after 1 s idle (the sweep runs every second), then freed by its loop
        link = f"socket:[{os.fstat(copy).st_ino}]"

        def held():
            for fd in os.listdir(f"/proc/{s.proc.pid}/fd"):
                try:
                    if os.readlink(f"/proc/{s.proc.pid}/fd/{fd}") == link:
                        return True
                except OSError:
                    pass
            return False
        deadline = time.time() + 10
        while held() and time.time() < deadline:
            time.sleep(0.1)
        assert not held(), "the idle connection was not closed"
        time.sleep(1.5)
        for _ in range(3):  # events on the socket the server closed
            try:
                c.sendall(b"more bytes")
            except OSError:
                break
            time.sleep(0.2)
        c.close()
        time.sleep(0.5)
        assert s.proc.poll() is None, "the server died: " + open(s.log_path, errors="replace").read()[-3000:]
        assert get(f"{s.url}/v2/").status_code == 200
    finally:
        if copy is not None:
            os.close(copy)
        s.stop()  # and no sanitizer report in its log
