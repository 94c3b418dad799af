"""The server itself: TLS bytes on the plain port, HTTPS, the event log, config errors."""
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile

import requests

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from drydock import BIN, OCI_MANIFEST, Server, make_image, sha256  # noqa: E402


def test_tls_bytes_on_plain_port_answered_at_once(server):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        try:
            with ctx.wrap_socket(sock, server_hostname="localhost"):
                raise AssertionError("TLS handshake unexpectedly succeeded")
        except ssl.SSLError as e:
            assert "WRONG_VERSION_NUMBER" in str(e) or "record" in str(e).lower() or "wrong" in str(e).lower()
    except socket.timeout:
        raise AssertionError("server waited on TLS bytes instead of answering")
    finally:
        sock.close()
    # and the raw answer is a plain HTTP 400 naming the problem
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sock.sendall(b"\x16\x03\x01\x00\x05hello")
    data = sock.recv(4096)
    sock.close()
    assert data.startswith(b"HTTP/1.1 400") and b"TLS handshake" in data
    # the server still serves plain HTTP afterwards
    assert requests.get(f"{server.url}/v2/").status_code == 200


def test_https(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    s = Server(tls=(str(cert), str(key))).start()
    try:
        r = requests.get(f"{s.url}/v2/", verify=str(cert))
        assert r.status_code == 200 and r.headers["Docker-Distribution-API-Version"] == "registry/2.0"
        with requests.Session() as http:
            http.verify = str(cert)
            http.trust_env = False  # else a CA bundle from the environment wins
            body = make_image(http, s.url, "tls/repo")
            r = http.put(f"{s.url}/v2/tls/repo/manifests/v1", data=body, headers={"Content-Type": OCI_MANIFEST})
            assert r.status_code == 201
        # plain HTTP to the TLS port is answered, not left hanging
        sock = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        sock.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 400")
        sock.close()
    finally:
        s.stop()


def test_event_log(tmp_path):
    log = tmp_path / "events.jsonl"
    s = Server(extra_args=["--event-log", str(log)]).start()
    try:
        with requests.Session() as http:
            body = make_image(http, s.url, "ev/repo")
            http.put(f"{s.url}/v2/ev/repo/manifests/v1", data=body, headers={"Content-Type": OCI_MANIFEST})
            http.delete(f"{s.url}/v2/ev/repo/manifests/{sha256(body)}")
    finally:
        s.stop()
    events = [json.loads(line) for line in log.read_text().splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds == ["blob.committed", "blob.committed", "manifest.put", "manifest.deleted"]
    put = events[2]
    assert put["repository"] == "ev/repo" and put["digest"] == sha256(body)
    assert put["mediaType"] == OCI_MANIFEST and put["tag"] == "v1" and put["size"] == len(body)


def test_config_file_and_errors(tmp_path):
    conf = tmp_path / "drydock.conf"
    conf.write_text("# test\nlisten = 127.0.0.1:0\nlog-level = warn\nbogus = 1\n")
    p = subprocess.run([BIN, "serve", "--config", str(conf)], capture_output=True, text=True, timeout=10)
    assert p.returncode == 2 and "bogus" in p.stderr and ":4:" in p.stderr
    p = subprocess.run([BIN, "serve", "--listen", "nonsense"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 2 and "nonsense" in p.stderr
    p = subprocess.run([BIN, "serve", "--tls-cert", "/x"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 2 and "go together" in p.stderr
    p = subprocess.run([BIN, "query"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 2 and "no query given" in p.stderr
    p = subprocess.run([BIN, "nope"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 2 and "unknown command" in p.stderr


def test_query_endpoints_answer_on_an_empty_registry(server):
    """With nothing pushed, the query endpoints answer empty tables, and the command reads the
    server's data directory the same way (tests/vulndb/test_query_api.py has the rest)."""
    r = requests.post(server.url + "/api/v1/query", json={"query": "securityresources | count"}, timeout=10)
    assert r.status_code == 200 and r.json()["rows"] == [[0]], r.text
    r = requests.post(server.url + "/providers/Microsoft.ResourceGraph/resources?api-version=2021-03-01",
                      json={"query": "resources | count"}, timeout=10)
    assert r.status_code == 200 and r.json()["data"] == [{"Count": 0}], r.text
    p = subprocess.run([BIN, "query", "--data", server.data_dir, "--format", "csv", "resources | count"],
                       capture_output=True, timeout=30)
    assert p.returncode == 0 and p.stdout == b"Count\r\n0\r\n", p.stderr
