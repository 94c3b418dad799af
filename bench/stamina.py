"""Stamina benchmark: drydock and Debian's docker-registry (Distribution 2.8) side by side under
the loads a registry meets in service, same machine, same run. drydock scans every push (a
vulnerability database in place) unless run without --db, which the report then says. Over
plain HTTP and HTTPS (a self-signed ECDSA P-256 certificate for 127.0.0.1; both registries
offer h2 in ALPN, so skopeo and curl --http2 speak HTTP/2 to both).

1. skopeo push and pull of debian-min and debian-big: wall time and server CPU; for drydock
   also push-to-assessed and the server CPU including the scan
2. HTTPS GET of debian-big's largest layer with curl, HTTP/1.1 and HTTP/2: MiB/s and server
   CPU seconds per GiB
3. 16 concurrent skopeo pushes of distinct images: aggregate MB/s, server CPU, push-to-assessed
4. 10,000 held connections (half idle, half slowloris; bench/connhold.py) while a probe client's
   GETs and a skopeo push run: probe latency and errors, push time, RSS, PSS and threads
5. wrk (2 threads, 64 connections) on a manifest, then on a blob, while skopeo pushes run beside
   it: errors, req/s, RSS before, right after and 10 s after
6. a burst of tiny images (200 a second for 10 s, 8 client threads): push rate, push-to-assessed,
   how long the scan queue takes to empty
7. catalog and tag-list paging with 100,000 repositories and 100,000 tags in one repository
8. RSS and PSS idle after the pushes

Writes a Markdown section. Not part of the tests.
"""
import argparse
import gzip
import http.client
import io
import itertools
import json
import os
import re
import resource
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from urllib.parse import urlsplit

import requests
import urllib3

from bench import ACCEPT, Registry, docker_registry_version, median, skopeo_pull, skopeo_push, biggest_layer

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "lib"))
from drydock import ASSESSED, LAYER as OCI_LAYER, OCI_CONFIG, OCI_MANIFEST, sha256, wait_assessed  # noqa: E402

KINDS = ("drydock", "docker-registry")
HERE = os.path.dirname(os.path.abspath(__file__))

urllib3.disable_warnings()  # the bench's own self-signed certificate


def insecure_context(alpn=("http/1.1",)):
    """A client context that accepts the bench's certificate, made once per ALPN list: making
    one loads the system's CA bundle (about 0.1 s here), which the probe used to time as if it
    were the server's."""
    alpn = tuple(alpn)
    if alpn not in _CONTEXTS:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(list(alpn))
        _CONTEXTS[alpn] = ctx
    return _CONTEXTS[alpn]


_CONTEXTS = {}


def api_session():
    """A requests session that accepts the bench's certificate (and ignores *_CA_BUNDLE)."""
    s = requests.Session()
    s.verify, s.trust_env = False, False
    return s


def make_cert(d):
    """A self-signed ECDSA P-256 certificate for 127.0.0.1; returns (cert, key) paths."""
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return cert, key


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))] if v else float("nan")


def order(run):
    return KINDS if run % 2 == 0 else KINDS[::-1]  # alternate which registry goes first, against drift


# --- images -------------------------------------------------------------------------------

def tar_gz(files):
    """A gzip'd tar of {path: bytes}; returns (compressed, uncompressed digest)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        for path, data in files.items():
            info = tarfile.TarInfo(path)
            info.size, info.mtime, info.mode = len(data), 1700000000, 0o644
            t.addfile(info, io.BytesIO(data))
    tar = raw.getvalue()
    return gzip.compress(tar, compresslevel=6, mtime=0), sha256(tar)


def write_blob(layout, data):
    d = sha256(data)
    path = os.path.join(layout, "blobs", "sha256", d.split(":")[1])
    with open(path, "wb") as f:
        f.write(data)
    return d


def make_variants(src, dest, n):
    """An OCI layout of n distinct images, tags v0..v(n-1): src's image (its blobs linked, not
    copied) with one tiny layer of its own on top, so each is a new image to scan. Returns
    (dest, bytes of one image: config and layers)."""
    os.makedirs(os.path.join(dest, "blobs", "sha256"))
    for name in os.listdir(os.path.join(src, "blobs", "sha256")):
        a, b = os.path.join(src, "blobs", "sha256", name), os.path.join(dest, "blobs", "sha256", name)
        try:
            os.link(a, b)
        except OSError:
            shutil.copy(a, b)
    idx = json.load(open(os.path.join(src, "index.json")))
    base = json.load(open(os.path.join(src, "blobs", *idx["manifests"][0]["digest"].split(":"))))
    cfg = json.load(open(os.path.join(src, "blobs", *base["config"]["digest"].split(":"))))
    manifests, size = [], 0
    for i in range(n):
        layer, diff = tar_gz({"etc/bench-variant": f"variant {i}\n".encode()})
        c = json.loads(json.dumps(cfg))
        c["rootfs"]["diff_ids"].append(diff)
        if "history" in c:
            c["history"].append({"created_by": f"bench variant {i}"})
        cb = json.dumps(c).encode()
        m = dict(base, config=dict(base["config"], digest=write_blob(dest, cb), size=len(cb)),
                 layers=base["layers"] + [{"mediaType": OCI_LAYER, "digest": write_blob(dest, layer),
                                           "size": len(layer)}])
        mb = json.dumps(m).encode()
        manifests.append({"mediaType": OCI_MANIFEST, "digest": write_blob(dest, mb), "size": len(mb),
                          "annotations": {"org.opencontainers.image.ref.name": f"v{i}"}})
        size = len(cb) + sum(x["size"] for x in m["layers"])
    with open(os.path.join(dest, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    with open(os.path.join(dest, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": manifests}, f)
    return dest, size


OS_RELEASE = b'''PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
'''
# a few packages at versions the Debian feeds know vulnerabilities of
PACKAGES = [("libssl3", "openssl", "3.0.9-1"), ("zlib1g", "zlib", "1:1.2.13.dfsg-1"),
            ("libc6", "glibc", "2.36-9+deb12u1"), ("libcurl4", "curl", "7.88.1-10"),
            ("perl-base", "perl", "5.36.0-7"), ("base-files", None, "12.4")]


def tiny_image(i):
    """Image i of the burst: a config and one gzip layer holding an os-release, a dpkg status
    file and a file of its own (so every layer is new and read). Returns its blobs and manifest."""
    status = "".join(f"Package: {p}\nStatus: install ok installed\nPriority: optional\nArchitecture: amd64\n"
                     + (f"Source: {s}\n" if s else "") + f"Version: {v}\nDescription: {p}\n\n"
                     for p, s, v in PACKAGES).encode()
    layer, diff = tar_gz({"etc/os-release": OS_RELEASE, "var/lib/dpkg/status": status,
                          "etc/bench-burst": f"{i}\n".encode()})
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                      "rootfs": {"type": "layers", "diff_ids": [diff]}}).encode()
    m = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                    "config": {"mediaType": OCI_CONFIG, "digest": sha256(cfg), "size": len(cfg)},
                    "layers": [{"mediaType": OCI_LAYER, "digest": sha256(layer), "size": len(layer)}]}).encode()
    return {"blobs": [cfg, layer], "manifest": m}


# --- a small HTTP/1.1 client: keep-alive, pipelining, plain or TLS ---------------------------

class Conn:
    """One keep-alive HTTP/1.1 connection. send() may be called several times before read():
    the requests are pipelined and their answers read in order."""

    def __init__(self, reg, timeout=60):
        s = socket.create_connection(("127.0.0.1", reg.port), timeout=timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.s = insecure_context().wrap_socket(s, server_hostname="127.0.0.1") if reg.tls else s
        self.buf = b""

    def close(self):
        self.s.close()

    def send(self, method, path, body=b"", ctype=None):
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
        if ctype:
            head += f"Content-Type: {ctype}\r\n"
        if method == "GET":
            head += f"Accept: {ACCEPT}\r\n"
        self.s.sendall(head.encode() + b"\r\n" + body)

    def _fill(self, need):
        while len(self.buf) < need:
            b = self.s.recv(262144)
            if not b:
                raise ConnectionError("connection closed by the server")
            self.buf += b

    def read(self):
        """The next answer: (status, headers with lowercase names, body)."""
        while b"\r\n\r\n" not in self.buf:
            self._fill(len(self.buf) + 1)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        h = {}
        for line in lines[1:]:
            k, v = line.split(":", 1)
            h[k.strip().lower()] = v.strip()
        if h.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                while b"\r\n" not in self.buf:
                    self._fill(len(self.buf) + 1)
                line, self.buf = self.buf.split(b"\r\n", 1)
                n = int(line.split(b";")[0], 16)
                self._fill(n + 2)
                body, self.buf = body + self.buf[:n], self.buf[n + 2:]
                if n == 0:
                    break
        else:
            n = int(h.get("content-length", "0"))
            self._fill(n)
            body, self.buf = self.buf[:n], self.buf[n:]
        return status, h, body

    def request(self, method, path, body=b"", ctype=None):
        self.send(method, path, body, ctype)
        return self.read()


def local(url):
    """A Location or Link target as a path with its query (Distribution answers absolute URLs)."""
    u = urlsplit(url)
    return u.path + ("?" + u.query if u.query else "")


def put_blob(c, repo, data):
    """The two-request upload both registries take (POST, then PUT with the digest)."""
    st, h, body = c.request("POST", f"/v2/{repo}/blobs/uploads/")
    assert st == 202, (st, body)
    loc = local(h["location"])
    st, h, body = c.request("PUT", loc + ("&" if "?" in loc else "?") + "digest=" + sha256(data), data,
                            "application/octet-stream")
    assert st == 201, (st, body)
    return sha256(data)


def put_image(c, repo, tag, img):
    for b in img["blobs"]:
        put_blob(c, repo, b)
    st, h, body = c.request("PUT", f"/v2/{repo}/manifests/{tag}", img["manifest"], OCI_MANIFEST)
    assert st == 201, (st, body)


# --- measuring a registry process -----------------------------------------------------------

def memory(reg, db=None):
    """RSS, its anonymous part, PSS (MiB), threads; with db: the vulnerability database's mapping."""
    m = {"RSS": reg.rss_kb() / 1024, "anonymous RSS": reg.rss_kb("RssAnon") / 1024, "PSS": reg.pss_kb() / 1024,
         "threads": reg.threads()}
    if reg.kind == "drydock" and db:
        m["vulnerability database mapped"] = reg.mapped_kb(db) / 1024
    return m


class Env:
    """What every phase shares: the binary, the database, the certificate, the images."""

    def __init__(self, a, tmp):
        self.a, self.tmp = a, tmp
        self.tls = make_cert(tmp)
        self.scanning = bool(a.db)
        self.variants, self.variant_bytes = make_variants(os.path.join(a.images, "debian-min"),
                                                          os.path.join(tmp, "variants"), a.variants)
        self.res = {}  # section -> measure -> kind -> [samples]
        self.notes = {}  # section -> [text]
        self.failures = []  # parts that did not run to their end
        self.load = []  # (part, the 1-minute load average at its start)

    def registry(self, kind, proto, root=None):
        extra = [] if self.scanning else ["--scan-workers", "0"]
        return Registry(kind, self.a.drydock, db=self.a.db, tls=self.tls if proto == "https" else None,
                        extra=extra, root=root)

    def add(self, section, measure, kind, v):
        self.res.setdefault(section, {}).setdefault(measure, {}).setdefault(kind, []).append(v)

    def note(self, section, text):
        self.notes.setdefault(section, []).append(text)

    def wait_assessed(self, reg, repo, ref, every=0.01):
        return wait_assessed(reg.url, repo, ref, timeout=900, every=every, limit=1, session=api_session())


PROTO = {"http": "HTTP", "https": "HTTPS"}


# --- 1, 2, 8: push and pull, blob GET, idle memory --------------------------------------------

def phase_push_pull(env):
    a, S, M, B = env.a, "push", "memory", "blob"
    pulldir = os.path.join(env.tmp, "pull")
    for run in range(a.runs):
        for proto in a.protos:
            P = PROTO[proto]
            for kind in order(run):
                for img in ("debian-min", "debian-big"):
                    reg = env.registry(kind, proto).start()
                    try:
                        layout = os.path.join(a.images, img)
                        c0 = reg.cpu_s()
                        env.add(S, f"push {img}, {P} (s)", kind, skopeo_push(reg, layout, f"bench/{img}:1"))
                        env.add(S, f"server CPU, push {img}, {P} (s)", kind, reg.cpu_s() - c0)
                        if kind == "drydock" and env.scanning:
                            t = time.monotonic()
                            env.wait_assessed(reg, f"bench/{img}", "1")
                            env.add(S, f"push-to-assessed {img}, {P} (s)", kind, time.monotonic() - t)
                            env.add(S, f"server CPU, push and scan {img}, {P} (s)", kind, reg.cpu_s() - c0)
                        c2 = reg.cpu_s()
                        env.add(S, f"pull {img}, {P} (s)", kind, skopeo_pull(reg, f"bench/{img}:1", pulldir))
                        env.add(S, f"server CPU, pull {img}, {P} (s)", kind, reg.cpu_s() - c2)
                        if img != "debian-big":
                            continue
                        time.sleep(1)
                        for k, v in memory(reg, a.db).items():
                            env.add(M, f"{k} idle after debian-big's push and pull, {P}" +
                                    ("" if k == "threads" else " (MiB)"), kind, v)
                        if proto == "https":
                            blob_gets(env, reg, layout, B)
                    finally:
                        reg.stop()
    shutil.rmtree(pulldir, ignore_errors=True)


def blob_gets(env, reg, layout, section):
    digest, size = biggest_layer(layout)
    mib = size / 2**20
    for mode, label in (("--http1.1", "HTTP/1.1"), ("--http2", "HTTP/2")):
        c0, speeds = reg.cpu_s(), []
        for _ in range(env.a.gets):
            out = subprocess.run(["curl", "-sk", mode, "-o", "/dev/null", "-w",
                                  "%{speed_download} %{size_download} %{http_version}",
                                  f"{reg.url}/v2/bench/debian-big/blobs/{digest}"],
                                 check=True, capture_output=True, text=True).stdout.split()
            assert int(out[1]) == size and out[2] == label.split("/")[1], out
            speeds.append(float(out[0]) / 2**20)
        cpu = reg.cpu_s() - c0
        for s in speeds:
            env.add(section, f"HTTPS blob GET, {label}, {mib:.0f} MiB layer (MiB/s)", reg.kind, s)
        env.add(section, f"server CPU per GiB sent, HTTPS {label} (s)", reg.kind, cpu / (env.a.gets * size / 2**30))


# --- 3: concurrent pushers ------------------------------------------------------------------

def phase_concurrent(env):
    a, S = env.a, "concurrent"
    for run in range(a.conc_runs):
        for proto in a.protos:
            P = PROTO[proto]
            for kind in order(run):
                reg = env.registry(kind, proto).start()
                try:
                    n, ends, lat, errs = a.pushers, {}, {}, []
                    all_pushed = threading.Event()

                    def one(i):
                        ok = True
                        try:
                            skopeo_push(reg, env.variants, f"conc/p{i}:1", tag=f"v{i}")
                        except subprocess.CalledProcessError as e:
                            errs.append(e.stderr.decode()[-300:])
                            ok = False
                        ends[i] = time.monotonic()
                        if len(ends) == n:
                            all_pushed.set()
                        if ok and kind == "drydock" and env.scanning:
                            env.wait_assessed(reg, f"conc/p{i}", "1", every=0.05)
                            lat[i] = time.monotonic() - ends[i]

                    c0, t0 = reg.cpu_s(), time.monotonic()
                    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
                    for t in threads:
                        t.start()
                    all_pushed.wait()
                    wall, cpu = max(ends.values()) - t0, reg.cpu_s() - c0
                    for t in threads:
                        t.join()
                    env.add(S, f"{n} pushes, {P}: failed pushes", kind, len(errs))
                    if errs:
                        env.note(S, f"{kind}, {P}: failed pushes, for example {errs[:2]}")
                    env.add(S, f"{n} pushes, {P}: wall time (s)", kind, wall)
                    env.add(S, f"{n} pushes, {P}: aggregate MB/s", kind, n * env.variant_bytes / wall / 1e6)
                    env.add(S, f"{n} pushes, {P}: server CPU (s)", kind, cpu)
                    if lat:
                        env.add(S, f"{n} pushes, {P}: server CPU with the scans (s)", kind, reg.cpu_s() - c0)
                        env.add(S, f"{n} pushes, {P}: push-to-assessed p50 (s)", kind, pct(lat.values(), 50))
                        env.add(S, f"{n} pushes, {P}: push-to-assessed p99 (s)", kind, pct(lat.values(), 99))
                finally:
                    reg.stop()


# --- 4: 10,000 connections ------------------------------------------------------------------

class Holders:
    """bench/connhold.py processes holding a.conns connections between them."""

    def __init__(self, reg, a):
        per = a.conns // a.hold_procs
        self.procs = [subprocess.Popen([sys.executable, os.path.join(HERE, "connhold.py"), "--port", str(reg.port),
                                        "--conns", str(per), "--first", str(k * per), "--sources", "40"]
                                       + (["--tls"] if reg.tls else []),
                                       stdout=subprocess.PIPE, text=True) for k in range(a.hold_procs)]
        self.last = [None] * len(self.procs)
        for k, p in enumerate(self.procs):
            threading.Thread(target=self._read, args=(k, p), daemon=True).start()

    def _read(self, k, p):
        for line in p.stdout:
            self.last[k] = json.loads(line)

    def total(self, key):
        return sum(x[key] for x in self.last if x)

    def stop(self):
        for p in self.procs:
            p.send_signal(signal.SIGTERM)
        for p in self.procs:
            p.wait(60)
        time.sleep(0.2)


def probe(reg, path):
    """One GET on a new connection; returns (seconds, error or None)."""
    t = time.monotonic()
    try:
        c = (http.client.HTTPSConnection("127.0.0.1", reg.port, timeout=10, context=insecure_context())
             if reg.tls else http.client.HTTPConnection("127.0.0.1", reg.port, timeout=10))
        c.request("GET", path, headers={"Accept": ACCEPT})
        r = c.getresponse()
        r.read()
        c.close()
        return time.monotonic() - t, None if r.status == 200 else f"HTTP {r.status}"
    except (OSError, http.client.HTTPException) as e:
        return time.monotonic() - t, type(e).__name__


def phase_connections(env):
    a, S = env.a, "connections"
    for proto in a.protos:
        P = PROTO[proto]
        for kind in KINDS:
            reg = env.registry(kind, proto).start()
            holders = None
            try:
                c = Conn(reg)
                put_image(c, "probe/base", "1", tiny_image(-1))
                c.close()
                time.sleep(1)
                before = memory(reg)
                holders, t0 = Holders(reg, a), time.monotonic()
                while holders.total("open") < a.conns * 0.995 and time.monotonic() - t0 < a.ramp_timeout:
                    time.sleep(0.5)
                ramp, open0, closed0 = time.monotonic() - t0, holders.total("open"), holders.total("closed")
                samples, stop = [], threading.Event()

                def sample():
                    while not stop.wait(1):
                        samples.append(dict(memory(reg), open=holders.total("open")))

                pushed = {}

                def push():
                    try:
                        pushed["s"] = skopeo_push(reg, os.path.join(a.images, "debian-min"), "probe/push:1")
                    except subprocess.CalledProcessError as e:
                        pushed["error"] = e.stderr.decode()[-300:]

                ts = [threading.Thread(target=sample), threading.Thread(target=push)]
                for t in ts:
                    t.start()
                lat, errors, t1, i = {"/v2/": [], "manifest GET": []}, {}, time.monotonic(), 0
                while time.monotonic() - t1 < a.probe_seconds or ts[1].is_alive():
                    d, err = probe(reg, "/v2/" if i % 2 == 0 else "/v2/probe/base/manifests/1")
                    lat["/v2/" if i % 2 == 0 else "manifest GET"].append(d)
                    i += 1
                    if err:
                        errors[err] = errors.get(err, 0) + 1
                    time.sleep(0.02)
                stop.set()
                ts[0].join()
                ts[1].join()
                held = holders.total("closed") - closed0
                peak = {k: max(s[k] for s in samples + [before]) for k in ("RSS", "PSS", "anonymous RSS", "threads")}
                holders.stop()
                holders = None
                base = f"{a.conns:,} connections, {P}"
                env.add(S, f"{base}: time the client took to open them all (s)", kind, ramp)
                env.add(S, f"{base}: open at the probe's start", kind, open0)
                env.add(S, f"{base}: fewest open during the probe", kind, min(s["open"] for s in samples))
                env.add(S, f"{base}: closed by the server during the probe (reopened)", kind, held)
                env.add(S, f"{base}: probe GETs", kind, i)
                for what, v in lat.items():
                    env.add(S, f"{base}: probe {what} p50 (ms)", kind, pct(v, 50) * 1000)
                    env.add(S, f"{base}: probe {what} p99 (ms)", kind, pct(v, 99) * 1000)
                    env.add(S, f"{base}: probe {what} max (ms)", kind, max(v) * 1000)
                env.add(S, f"{base}: probe errors", kind, sum(errors.values()))
                if errors:
                    env.note(S, f"{kind}, {P}: probe errors {errors}")
                if "error" in pushed:
                    env.note(S, f"{kind}, {P}: the push failed: {pushed['error']}")
                env.add(S, f"{base}: skopeo push of debian-min (s)", kind, pushed.get("s", float("nan")))
                env.add(S, f"{base}: RSS before them (MiB)", kind, before["RSS"])
                for k in ("RSS", "PSS", "anonymous RSS"):
                    env.add(S, f"{base}: peak {k} (MiB)", kind, peak[k])
                env.add(S, f"{base}: peak RSS less before, per connection (KiB)", kind,
                        (peak["RSS"] - before["RSS"]) * 1024 / a.conns)
                env.add(S, f"{base}: peak threads", kind, peak["threads"])
                time.sleep(2)
                env.add(S, f"{base}: RSS 2 s after they closed (MiB)", kind, memory(reg)["RSS"])
            finally:
                if holders:
                    holders.stop()
                reg.stop()


# --- 5: wrk with pushes beside it --------------------------------------------------------------

def run_wrk(url, seconds, conns):
    script = os.path.join(tempfile.gettempdir(), "bench-stamina-accept.lua")
    with open(script, "w") as f:
        f.write(f'wrk.headers["Accept"] = "{ACCEPT}"\n')
    out = subprocess.run(["wrk", "-t2", f"-c{conns}", f"-d{seconds}s", "--latency", "-s", script, url],
                         check=True, capture_output=True, text=True).stdout
    r = {"req/s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    r["p99 (ms)"] = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    r["socket errors"] = sum(int(x) for x in m.groups()) if m else 0
    r["which"] = m.group(0) if m else ""
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    r["non-2xx answers"] = int(m.group(1)) if m else 0
    return r


def phase_wrk(env):
    a, S = env.a, "wrk"
    blob = os.urandom(1 << 20)
    for proto in a.protos:
        P = PROTO[proto]
        for kind in KINDS:
            reg = env.registry(kind, proto).start()
            try:
                skopeo_push(reg, os.path.join(a.images, "debian-min"), "load/base:1")
                c = Conn(reg)
                digest = put_blob(c, "load/base", blob)
                c.close()
                time.sleep(2)
                before = memory(reg)
                stop, pushes, failures = threading.Event(), [], []

                def push_loop():
                    for i in itertools.count():
                        if stop.is_set():
                            return
                        t = time.monotonic()
                        try:
                            skopeo_push(reg, env.variants, f"load/p{i}:1", tag=f"v{a.pushers + i % (a.variants - a.pushers)}")
                            pushes.append(time.monotonic() - t)
                        except subprocess.CalledProcessError as e:
                            failures.append(e.stderr.decode()[-300:])

                pusher = threading.Thread(target=push_loop)
                pusher.start()
                half = a.wrk_seconds // 2
                rm = run_wrk(f"{reg.url}/v2/load/base/manifests/1", half, 64)
                rb = run_wrk(f"{reg.url}/v2/load/base/blobs/{digest}", half, 64)
                t_end = time.monotonic()
                after = memory(reg)
                stop.set()
                pusher.join()
                time.sleep(max(0.0, 10 - (time.monotonic() - t_end)))
                later = memory(reg)
                base = f"{P}"
                for what, r in (("manifest", rm), ("1 MiB blob", rb)):
                    env.add(S, f"{base}: {what} GET req/s", kind, r["req/s"])
                    env.add(S, f"{base}: {what} GET p99 (ms)", kind, r["p99 (ms)"])
                    env.add(S, f"{base}: {what} GET errors (socket errors + non-2xx)", kind,
                            r["socket errors"] + r["non-2xx answers"])
                    if r["socket errors"] + r["non-2xx answers"]:
                        env.note(S, f"{kind}, {P}, {what}: wrk's {r['which'] or 'socket errors: none'}; "
                                 f"non-2xx answers: {r['non-2xx answers']} (a timeout is a request wrk saw no "
                                 "answer to within its 2 s)")
                env.add(S, f"{base}: pushes done beside wrk", kind, len(pushes))
                env.add(S, f"{base}: pushes failed", kind, len(failures))
                env.add(S, f"{base}: median push time beside wrk (s)", kind, median(pushes))
                if failures:
                    env.note(S, f"{kind}, {P}: failed pushes: {failures[:3]}")
                for k in ("RSS", "PSS", "anonymous RSS"):
                    env.add(S, f"{base}: {k} before (MiB)", kind, before[k])
                    env.add(S, f"{base}: {k} right after (MiB)", kind, after[k])
                    env.add(S, f"{base}: {k} 10 s after (MiB)", kind, later[k])
            finally:
                reg.stop()


# --- 6: a burst of tiny images -----------------------------------------------------------------

def fdatasync_ms(d, n=100):
    """The median time of a 4 KiB write and fdatasync in directory d: what each durable
    commit waits for on this disk."""
    path = os.path.join(d, "fdatasync-probe")
    fd, times = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), []
    try:
        for _ in range(n):
            t = time.monotonic()
            os.pwrite(fd, b"x" * 4096, 0)
            os.fdatasync(fd)
            times.append(time.monotonic() - t)
    finally:
        os.close(fd)
        os.unlink(path)
    return median(times) * 1000


def tmpfs():
    """/dev/shm when it is a tmpfs with room (8 GiB free) for a registry's data, else None."""
    ok = os.path.isdir("/dev/shm") and shutil.disk_usage("/dev/shm").free > 8 << 30
    return "/dev/shm" if ok else None


def phase_burst(env):
    a, S = env.a, "burst"
    env.note(S, f"On this machine's disk (where both data directories are) a 4 KiB write and fdatasync takes "
             f"{fdatasync_ms(tempfile.gettempdir()):.1f} ms (median of 100, measured before the burst). Both "
             f"registries flush what a push writes before they answer: drydock each blob and its directory and "
             f"each SQLite commit (synchronous=FULL), Distribution every file it writes")
    n = int(a.burst_rate * a.burst_seconds)
    images = [tiny_image(i) for i in range(n)]
    shm = tmpfs()
    # on the disk over each protocol; then over HTTP with the data on tmpfs, where no flush waits
    # for the disk: what the registries themselves sustain
    runs = [(proto, PROTO[proto], None) for proto in a.protos] + (
        [("http", "HTTP, data on tmpfs", shm)] if shm and "http" in a.protos else [])
    for proto, P, root in runs:
        for kind in KINDS:
            reg = env.registry(kind, proto, root=root).start()
            try:
                done, errs, counter = [None] * n, [], itertools.count()
                t0 = time.monotonic() + 0.5

                def client():
                    c = Conn(reg)
                    while True:
                        i = next(counter)
                        if i >= n:
                            break
                        time.sleep(max(0.0, t0 + i / a.burst_rate - time.monotonic()))
                        try:
                            put_image(c, f"burst/i{i}", "1", images[i])
                        except (AssertionError, OSError) as e:
                            errs.append(repr(e)[:200])
                            c = Conn(reg)
                        done[i] = time.monotonic()
                    c.close()

                polls, stop = [], threading.Event()

                def poll():
                    s = api_session()
                    while not stop.is_set():
                        t = time.monotonic()
                        j = s.get(f"{reg.url}/api/v1/summary").json()
                        assessed = sum(v for k, v in j["images_by_status"].items() if k in ASSESSED)
                        polls.append((t, assessed, j["queued"] + j["scanning"], j["images_by_status"]))
                        if assessed >= n and j["queued"] + j["scanning"] == 0:
                            return
                        if t - t0 > a.drain_timeout:
                            return
                        time.sleep(0.05)

                scanning = kind == "drydock" and env.scanning
                poller = threading.Thread(target=poll)
                if scanning:
                    poller.start()
                c0 = reg.cpu_s()
                clients = [threading.Thread(target=client) for _ in range(a.burst_threads)]
                for t in clients:
                    t.start()
                for t in clients:
                    t.join()
                cpu = reg.cpu_s() - c0
                end = max(done)
                env.add(S, f"{P}: images pushed per second (asked: {a.burst_rate:g})", kind, n / (end - t0))
                env.add(S, f"{P}: failed pushes", kind, len(errs))
                env.add(S, f"{P}: server CPU during the burst (s)", kind, cpu)
                if errs:
                    env.note(S, f"{kind}, {P}: failed pushes, for example {errs[:3]}")
                if not scanning:
                    continue
                poller.join()
                stop.set()
                env.add(S, f"{P}: server CPU with the scans (s)", kind, reg.cpu_s() - c0)
                final = polls[-1]
                # the k-th image assessed against the k-th push completed (the queue is first in,
                # first out); to within the 50 ms between polls
                pushed = sorted(done)
                lat, k = [], 0
                for t, count, _, _ in polls:
                    while k < min(count, n):
                        lat.append(t - pushed[k])
                        k += 1
                env.add(S, f"{P}: push-to-assessed p50 (s)", kind, pct(lat, 50))
                env.add(S, f"{P}: push-to-assessed p99 (s)", kind, pct(lat, 99))
                env.add(S, f"{P}: push-to-assessed max (s)", kind, max(lat) if lat else float("nan"))
                env.add(S, f"{P}: queue empty after the last push (s)", kind, final[0] - end)
                env.add(S, f"{P}: deepest queue (queued + scanning)", kind, max(p[2] for p in polls))
                env.note(S, f"drydock, {P}: statuses at the end {final[3]}"
                         + ("" if k >= n else f"; only {k} of {n} assessed after {a.drain_timeout} s"))
            finally:
                reg.stop()


# --- 7: catalog and tag-list paging -------------------------------------------------------------

def fill(reg, names, work, threads):
    """Runs work(conn, part) over threads keep-alive connections, each with its share of
    names; returns the unexpected answers work reported."""
    errs = []

    def run(part):
        c = Conn(reg)
        errs.extend(work(c, part))
        c.close()

    ts = [threading.Thread(target=run, args=(names[k::threads],)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return errs


def clone_tree(src, dests):
    """Copies the directory tree src to each path of dests (directories and small files)."""
    dirs, files = [], []
    for root, ds, fs in os.walk(src):
        rel = os.path.relpath(root, src)
        dirs.append("" if rel == "." else rel)
        for f in fs:
            files.append((os.path.join(rel, f) if rel != "." else f, open(os.path.join(root, f), "rb").read()))
    for d in dests:
        for r in dirs:
            os.mkdir(os.path.join(d, r) if r else d)
        for r, data in files:
            with open(os.path.join(d, r), "wb") as f:
                f.write(data)


def walk(reg, first, key, limit):
    """Follows Link headers from first for at most limit seconds; returns (seconds, pages,
    entries, whether it reached the end)."""
    c = Conn(reg, timeout=limit)
    t, path, pages, entries = time.monotonic(), first, 0, 0
    while path:
        st, h, body = c.request("GET", path)
        assert st == 200, (st, body[:200])
        pages += 1
        entries += len(json.loads(body)[key] or [])
        link = h.get("link")
        path = local(link[link.index("<") + 1:link.index(">")]) if link else None
        if time.monotonic() - t > limit:
            break
    c.close()
    return time.monotonic() - t, pages, entries, path is None


def phase_listing(env):
    a, S = env.a, "listing"
    root = tmpfs()
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    m = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                    "config": {"mediaType": OCI_CONFIG, "digest": sha256(cfg), "size": len(cfg)},
                    "layers": []}).encode()
    repos = [f"list/r{i:06d}" for i in range(a.repos)]
    tags = [f"t{i:06d}" for i in range(a.tags)]

    def add_repos(c, part):
        """Mount, then manifest PUT, one request at a time (no request after a POST is
        pipelined, as RFC 9112 asks of clients); a refused pair is tried once more."""
        bad = []
        for name in part:
            for _ in range(2):
                st1, h, b1 = c.request("POST", f"/v2/{name}/blobs/uploads/?mount={sha256(cfg)}&from=list/tags")
                st2, h, b2 = c.request("PUT", f"/v2/{name}/manifests/1", m, OCI_MANIFEST)
                if st1 == st2 == 201:
                    break
                bad.append(f"{name}: mount {st1}, then manifest PUT {st2} {b2[:160].decode(errors='replace')}")
        return bad

    def add_tags(c, part, window=16):
        """Manifest PUTs (idempotent) pipelined, up to window answers outstanding."""
        bad, pending = [], []
        for i, tag in enumerate(part + [None] * window):
            if tag is not None:
                c.send("PUT", f"/v2/list/tags/manifests/{tag}", m, OCI_MANIFEST)
                pending.append(tag)
            if len(pending) >= window or (tag is None and pending):
                st, h, body = c.read()
                t = pending.pop(0)
                if st != 201:
                    bad.append(f"{t}: manifest PUT {st} {body[:160].decode(errors='replace')}")
        return bad

    for kind in KINDS:
        reg = env.registry(kind, "http", root=root).start()
        try:
            c = Conn(reg)
            put_blob(c, "list/tags", cfg)
            c.close()
            # drydock through its API, every repository and tag; Distribution's first api_fill
            # through its API, the rest copied from the files it wrote for the first
            by_api = (a.repos, a.tags) if kind == "drydock" else (min(a.api_fill, a.repos), min(a.api_fill, a.tags))
            t = time.monotonic()
            errs = fill(reg, repos[:by_api[0]], add_repos, 16)
            env.add(S, "new repositories per second through the API (mount + manifest PUT, 16 clients)", kind,
                    by_api[0] / (time.monotonic() - t))
            t = time.monotonic()
            errs += fill(reg, tags[:by_api[1]], add_tags, 8)
            env.add(S, "tags per second through the API (manifest PUT, 8 clients, pipelined)", kind,
                    by_api[1] / (time.monotonic() - t))
            env.add(S, "refused pushes during the fill (each tried once more)", kind, len(errs))
            if errs:
                env.note(S, f"{kind}: {len(errs)} refused during the fill, for example: " + "; ".join(errs[:3]))
            if kind != "drydock":
                top = os.path.join(reg.dir, "data", "docker", "registry", "v2", "repositories")
                t = time.monotonic()
                clone_tree(os.path.join(top, repos[0]), [os.path.join(top, r) for r in repos[by_api[0]:]])
                tagdir = os.path.join(top, "list", "tags", "_manifests", "tags")
                clone_tree(os.path.join(tagdir, tags[0]), [os.path.join(tagdir, x) for x in tags[by_api[1]:]])
                env.note(S, f"docker-registry: repositories {by_api[0]:,} to {a.repos:,} and tags {by_api[1]:,} "
                         f"to {a.tags:,} copied from the files it wrote for the first ({time.monotonic() - t:.0f} s)")
                c = Conn(reg)
                for path in (f"/v2/{repos[-1]}/manifests/1", f"/v2/list/tags/manifests/{tags[-1]}"):
                    st, h, body = c.request("GET", path)
                    assert st == 200, (path, st, body[:200])
                c.close()
            elif env.scanning:
                t = time.monotonic()
                s = api_session()
                while True:
                    h = s.get(f"{reg.url}/healthz").json()
                    if h["scan_queue"] + h["scanning"] == 0 or time.monotonic() - t > a.drain_timeout:
                        break
                    time.sleep(0.5)
                env.note(S, f"drydock: its {a.repos:,} new images were assessed (NotApplicable: no layers) "
                         f"{time.monotonic() - t:.0f} s after the last push; the walks ran after that")
            for label, first, key, want in (
                    ("catalog", "/v2/_catalog?n=1000", "repositories", a.repos + 1),
                    ("tag list", "/v2/list/tags/tags/list?n=1000", "tags", a.tags)):
                secs, pages, entries, whole = walk(reg, first, key, a.walk_timeout)
                env.add(S, f"{label}: whole walk, n=1000 (s)", kind, secs)
                env.add(S, f"{label}: pages", kind, pages)
                env.add(S, f"{label}: entries", kind, entries)
                if not whole:
                    env.note(S, f"{kind}: the {label} walk was stopped after {a.walk_timeout} s")
                elif entries != want:
                    env.note(S, f"{kind}: the {label} walk listed {entries:,} entries, {want:,} expected")
            for k, v in memory(reg, a.db).items():
                env.add(S, f"{k} after the fill" + ("" if k == "threads" else " (MiB)"), kind, v)
        finally:
            reg.stop()
    if root:
        env.note(S, "Both data directories on tmpfs (/dev/shm) for this part: the fill measures the "
                 "registries' CPU, not the disk's flushes, and the walks read the same memory either way")


# --- report ---------------------------------------------------------------------------------

SECTIONS = {
    "push": ("Push and pull, scanning on", lambda a: (
        f"skopeo copy of the test images into a fresh registry each time (so nothing is mounted or cached), "
        f"then back out into a directory; medians of {a.runs} runs. Server CPU is utime+stime of the registry "
        f"process and of every process below it, live or ended (/proc/PID/stat; drydock's zygote and the sandboxed scan workers it forks) across the command. For drydock, push-to-assessed is the time from skopeo's "
        f"exit until the security API gives the image a final status (polled every 10 ms), and the CPU with the "
        f"scan is read once the image is assessed. Over HTTPS skopeo speaks HTTP/2 to both registries.")),
    "blob": ("HTTPS blob GET", lambda a: (
        f"curl -k of debian-big's largest layer from the HTTPS registry, forced to HTTP/1.1 and to HTTP/2; "
        f"{a.gets} GETs per protocol in each of the {a.runs} runs, median of all; server CPU per GiB over the "
        f"same GETs.")),
    "concurrent": ("Concurrent pushers", lambda a: (
        f"{a.pushers} skopeo pushes started together, each a different image (debian-min with a tiny layer of "
        f"its own on top) into its own repository; wall time from the start to the last push's end, aggregate "
        f"MB/s of image bytes (config and layers) over that time; for drydock push-to-assessed of each image "
        f"(polled every 50 ms). " + (f"Median of {a.conc_runs} runs." if a.conc_runs > 1 else "One run."))),
    "connections": ("10,000 connections", lambda a: (
        f"bench/connhold.py ({a.hold_procs} processes) holds {a.conns:,} connections open from 127.0.0.2 to "
        f"127.0.0.41: half idle (connected, nothing sent), half slowloris (an unfinished request head, one byte "
        f"every 5 s), each opened again 0.2 to 1.2 s after the server closes it. Once they are open, a probe client "
        f"on 127.0.0.1 sends GET /v2/ and a manifest GET by turns, each on a new connection (TLS handshake "
        f"included over HTTPS), for {a.probe_seconds} s and until a skopeo push of debian-min, started at the "
        f"same time, ends. RSS, PSS and threads are sampled each second; the peak is shown. drydock closes a "
        f"request head unfinished 30 s after its first byte (header-timeout) and an idle connection after 120 s; "
        f"Distribution closes neither, so over HTTPS drydock also does a TLS handshake for each connection "
        f"opened again during the probe. The time to open them all is mostly the client's own (Python's TLS "
        f"handshakes, on the same cores as the server).")),
    "wrk": ("Sustained load with pushes beside it", lambda a: (
        f"wrk -t2 -c64 for {a.wrk_seconds // 2} s on a manifest, then {a.wrk_seconds // 2} s on a 1 MiB blob, "
        f"while skopeo pushes one distinct image after another into new repositories (debian-min's base layer is "
        f"mounted from the repository that holds it, as skopeo does; the top layer, config and manifest are new). "
        f"Errors are wrk's socket errors (connect, read, write, timeout) plus non-2xx answers, and must be 0. "
        f"Over HTTPS wrk speaks HTTP/1.1. RSS, PSS and anonymous RSS just before wrk starts, right after it ends, "
        f"and 10 s after (drydock's RSS and PSS include the pages of the vulnerability database it maps).")),
    "burst": ("A burst of tiny images", lambda a: (
        f"{int(a.burst_rate * a.burst_seconds):,} images, {a.burst_rate:g} a second for {a.burst_seconds:g} s, "
        f"each into its own repository by {a.burst_threads} client threads on keep-alive connections: a config "
        f"and one gzip layer (an os-release, a dpkg status file of six Debian 12 packages, and a file of its own, "
        f"so every layer is new) uploaded with POST then PUT, then the manifest PUT. For drydock GET "
        f"/api/v1/summary every 50 ms counts the assessed images; the k-th image assessed is set against the k-th "
        f"push completed (the push queue is first in, first out), to within the 50 ms. Each push waits for its "
        f"flushes to reach the disk, so on a shared disk the rate follows the disk's fdatasync time (in the note "
        f"below); the rows marked 'data on tmpfs' put both data directories in memory, where no flush waits.")),
    "listing": ("Catalog and tag-list paging", lambda a: (
        f"{a.repos:,} repositories holding one tiny manifest each (a config blob shared by all, mounted into each), "
        f"and {a.tags:,} tags of one manifest in one repository, pushed over plain HTTP by keep-alive "
        f"connections (the tags' PUTs pipelined). Then one client walks GET /v2/_catalog?n=1000 and GET "
        f"/v2/list/tags/tags/list?n=1000, following Link headers to the end.")),
    "memory": ("Memory idle after the pushes", lambda a: (
        "Read 1 s after debian-big's push and pull (the same registries as the first table). drydock's figures, "
        "here and in every part, are the sums over the server and its sandboxed scan-worker processes (two spare "
        "ones wait for the next layer and image). drydock's RSS "
        "includes the pages of the vulnerability database it maps (its own row): the pages its lookups have "
        "read, file pages that the page cache holds anyway and the kernel may drop and read again; anonymous "
        "RSS is each process's own memory; PSS divides shared pages among the processes that map them. The "
        f"catalog part above shows the same after {a.repos:,} repositories.")),
}


def fmt(v):
    if v != v:
        return "—"
    if float(v).is_integer():
        return f"{int(v):,}"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.3f}"


def report(env, started):
    a = env.a
    lines = ["## Under load and at scale", "",
             f"drydock vs Debian's docker-registry (Distribution {docker_registry_version()}), same machine, same "
             f"run, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, {(time.monotonic() - started) / 60:.0f} "
             f"minutes. Produced by `make bench` (bench/stamina.py). " + (
                 "**Scanning on**: drydock had a vulnerability database of every feed in DRYDOCK_FEEDS_DIR and "
                 "scanned every image pushed to it." if env.scanning else
                 "**Scanning off**: DRYDOCK_FEEDS_DIR was not set, so drydock had no vulnerability database and "
                 "ran with `--scan-workers 0`; no push-to-assessed figures."),
             "Both registries without authentication; HTTPS with a self-signed ECDSA P-256 certificate. The "
             "machine is shared and noisy: read the ratios (drydock / docker-registry, same run), not the "
             "absolute numbers. The 1-minute load average at the start of each part (other work on the machine "
             f"as well as this benchmark's): {', '.join(f'{n} {v:.1f}' for n, v in env.load)}.", ""]
    for f in env.failures:
        lines += [f"**Not measured to the end**: {f}", ""]
    for key, (title, text) in SECTIONS.items():
        rows = env.res.get(key)
        if not rows:
            continue
        lines += [f"### {title}", "", text(a), "", "| measure | drydock | docker-registry | ratio |",
                  "|---|---|---|---|"]
        for measure, by in rows.items():
            d, p = median(by.get("drydock", [])), median(by.get("docker-registry", []))
            ratio = f"{d / p:.2f}" if p and p == p and d == d else "—"
            lines.append(f"| {measure} | {fmt(d)} | {fmt(p)} | {ratio} |")
        for n in env.notes.get(key, []):
            lines += ["", n + "."]
        lines.append("")
    lines += ["Raw samples:", "", "```", json.dumps(env.res, indent=1), "```", ""]
    with open(a.out, "w") as f:
        f.write("\n".join(lines))


PHASES = {"push": phase_push_pull, "concurrent": phase_concurrent, "connections": phase_connections,
          "wrk": phase_wrk, "burst": phase_burst, "listing": phase_listing}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--drydock", required=True)
    ap.add_argument("--db", help="a vulnerability database (scanning on); without it drydock runs with scanning off")
    ap.add_argument("--images", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--phases", default=",".join(PHASES))
    ap.add_argument("--protos", default="http,https")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--gets", type=int, default=5, help="blob GETs per protocol and run")
    ap.add_argument("--pushers", type=int, default=16)
    ap.add_argument("--conc-runs", type=int, default=1)
    ap.add_argument("--variants", type=int, default=64, help="distinct images made from debian-min")
    ap.add_argument("--conns", type=int, default=10000)
    ap.add_argument("--hold-procs", type=int, default=4)
    ap.add_argument("--ramp-timeout", type=float, default=120)
    ap.add_argument("--probe-seconds", type=float, default=25)
    ap.add_argument("--wrk-seconds", type=int, default=60)
    ap.add_argument("--burst-rate", type=float, default=200)
    ap.add_argument("--burst-seconds", type=float, default=10)
    ap.add_argument("--burst-threads", type=int, default=8)
    ap.add_argument("--drain-timeout", type=float, default=600)
    ap.add_argument("--repos", type=int, default=100000)
    ap.add_argument("--tags", type=int, default=100000)
    ap.add_argument("--api-fill", type=int, default=2000,
                    help="repositories and tags pushed to docker-registry through its API (the rest: copies)")
    ap.add_argument("--walk-timeout", type=float, default=600)
    a = ap.parse_args()
    a.protos = a.protos.split(",")
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # for the registries and the probe
    started = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="bench-stamina-")
    try:
        env = Env(a, tmp)
        for name in a.phases.split(","):
            t = time.monotonic()
            env.load.append((name, os.getloadavg()[0]))
            try:
                PHASES[name](env)
            except Exception as e:  # the other parts still run; the report says what failed
                env.failures.append(f"the {name} part stopped on {type(e).__name__}: {str(e)[:300]}")
                print(f"stamina: {name}: {e!r}", file=sys.stderr, flush=True)
            print(f"stamina: {name} took {time.monotonic() - t:.0f} s", file=sys.stderr, flush=True)
            report(env, started)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
