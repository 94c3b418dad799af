"""What authentication costs per request: manifest GETs (wrk, 32 connections) against drydock
with auth off, with HTTP Basic and with a bearer token, and against Debian's docker-registry
without auth and with its htpasswd (bcrypt) auth, same machine, same run. Writes a Markdown
section. Not part of the tests."""
import argparse
import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import warnings

import requests

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt  # libcrypt's bcrypt, for docker-registry's htpasswd file

from bench import docker_registry_version, free_port, median, wait_port

PASSWORD = "bench-password"
ACCEPT = "application/vnd.oci.image.manifest.v1+json"


def start(kind, auth):
    d = tempfile.mkdtemp(prefix=f"bench-auth-{kind}-")
    port = free_port()
    env = dict(os.environ, DRYDOCK_ADMIN_PASSWORD=PASSWORD)
    if kind == "drydock":
        cmd = [BIN, "serve", "--listen", f"127.0.0.1:{port}", "--data", f"{d}/data", "--log-level", "warn",
               "--scan-workers", "0"] + ([] if auth else ["--auth", "off"])
    else:
        cfg = os.path.join(d, "config.yml")
        text = (f"version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
                f"storage:\n  filesystem:\n    rootdirectory: {d}/data\n"
                f"http:\n  addr: 127.0.0.1:{port}\n")
        if auth:  # htpasswd -B (cost 5, as Apache's htpasswd writes it)
            h = crypt.crypt(PASSWORD, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=32))
            with open(os.path.join(d, "htpasswd"), "w") as f:
                f.write(f"admin:{h}\n")
            text += f"auth:\n  htpasswd:\n    realm: bench\n    path: {d}/htpasswd\n"
        with open(cfg, "w") as f:
            f.write(text)
        cmd = ["docker-registry", "serve", cfg]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    wait_port(port, proc)
    return proc, port, d


def push_manifest(base, auth):
    s = requests.Session()
    s.auth = auth
    cfg = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
    layer = b"bench-layer"
    digests = []
    for blob in (cfg, layer):
        dg = "sha256:" + hashlib.sha256(blob).hexdigest()
        r = s.post(f"{base}/v2/bench/app/blobs/uploads/", headers={"Content-Length": "0"})
        assert r.status_code == 202, r.text
        loc = r.headers["Location"]
        loc = loc if loc.startswith("http") else base + loc
        r = s.put(loc + ("&" if "?" in loc else "?") + f"digest={dg}", data=blob,
                  headers={"Content-Type": "application/octet-stream"})
        assert r.status_code == 201, r.text
        digests.append((dg, len(blob)))
    m = json.dumps({"schemaVersion": 2, "mediaType": ACCEPT,
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digests[0][0],
                               "size": digests[0][1]},
                    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digests[1][0],
                                "size": digests[1][1]}]}).encode()
    r = s.put(f"{base}/v2/bench/app/manifests/v1", data=m, headers={"Content-Type": ACCEPT})
    assert r.status_code == 201, r.text


def wrk(port, header, seconds):
    script = os.path.join(tempfile.gettempdir(), "bench-auth.lua")
    with open(script, "w") as f:
        f.write(f'wrk.headers["Accept"] = "{ACCEPT}"\n')
        if header:
            f.write(f'wrk.headers["Authorization"] = "{header}"\n')
    out = subprocess.run(["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency", "-s", script,
                          f"http://127.0.0.1:{port}/v2/bench/app/manifests/v1"], check=True, capture_output=True,
                         text=True).stdout
    if re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out):
        raise RuntimeError(f"wrk saw errors: {out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    return rps, float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]


def main():
    global BIN
    ap = argparse.ArgumentParser()
    ap.add_argument("--drydock", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    a = ap.parse_args()
    BIN = a.drydock
    basic = "Basic " + base64.b64encode(f"admin:{PASSWORD}".encode()).decode()
    cases = [("drydock", False, "none"), ("drydock", True, "basic"), ("drydock", True, "bearer"),
             ("docker-registry", False, "none"), ("docker-registry", True, "basic")]
    res = {}
    for run in range(a.runs):
        for kind, auth, how in (cases if run % 2 == 0 else cases[::-1]):
            proc, port, d = start(kind, auth)
            try:
                base = f"http://127.0.0.1:{port}"
                push_manifest(base, ("admin", PASSWORD) if auth else None)
                header = None
                if how == "basic":
                    header = basic
                elif how == "bearer":
                    header = "Bearer " + requests.get(f"{base}/auth/token", params={"scope": "repository:bench/app:pull"},
                                                      auth=("admin", PASSWORD)).json()["token"]
                res.setdefault((kind, how), []).append(wrk(port, header, a.seconds))
            finally:
                proc.terminate()
                proc.wait(10)
                shutil.rmtree(d, ignore_errors=True)
    base_rps = median([r for r, _ in res[("docker-registry", "none")]])
    lines = ["## What authentication costs per request", "",
             f"Manifest GET with wrk (2 threads, 32 connections, {a.seconds} s), medians of {a.runs} runs, "
             f"{time.strftime('%Y-%m-%d')}, Distribution {docker_registry_version()}. docker-registry's htpasswd "
             "auth checks bcrypt (cost 5, as `htpasswd -B` writes it) on every request; drydock checks a "
             "password once a minute (then an HMAC) and a token's signature once per token. Produced by "
             "`bench/auth.py` (part of `make bench`).", "",
             "| registry | credentials | req/s | p99 (ms) | req/s vs docker-registry without auth |",
             "|---|---|---|---|---|"]
    for kind, auth, how in cases:
        v = res[(kind, how)]
        rps, p99 = median([r for r, _ in v]), median([p for _, p in v])
        lines.append(f"| {kind} | {how} | {rps:.0f} | {p99:.2f} | {rps / base_rps:.2f} |")
    with open(a.out, "w") as f:
        f.write("\n".join(lines + [""]))


if __name__ == "__main__":
    main()
