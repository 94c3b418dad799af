"""Start and stop a real `drydock serve` on loopback for black-box tests."""
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import weakref

import requests

BIN = os.environ.get("DRYDOCK_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "drydock")
# the same binary with the sandboxed scan worker's test hooks (make builds both)
HOOKS_BIN = os.environ.get("DRYDOCK_HOOKS_BIN") or os.path.join(os.path.dirname(BIN), "drydock-test-hooks")
# the shared folder of real data (feeds, package databases), beside the repository unless set
SHARED = os.environ.get("DRYDOCK_SHARED", os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared"))
VULNDATA = os.path.join(SHARED, "vulndata")
# DRYDOCK_TEST_S3: the commands the tests run on a data directory (drydock gc) find its bucket
# from its records, and its keys here
if os.environ.get("DRYDOCK_TEST_S3"):
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "DRYDOCKTESTKEY000001")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "drydock-test-secret-key-0000000000000001")
ON_S3 = bool(os.environ.get("DRYDOCK_TEST_S3"))
ON_PG = bool(os.environ.get("DRYDOCK_TEST_PG"))
# the first-start administrator of servers started with auth=True
ADMIN_PASSWORD = "admin-password-for-tests"


class Server:
    """One drydock process over a data directory; restartable, killable."""

    def __init__(self, data_dir=None, extra_args=(), tls=None, auth=False, env=None, host="127.0.0.1",
                 binary=None):
        """auth=False runs with `auth = off` (the registry-core tests speak to an open
        registry); auth=True keeps the default, with the administrator's password from
        ADMIN_PASSWORD. host: the loopback address to listen on, "127.0.0.1" or "::1".
        binary: another drydock binary (HOOKS_BIN) than BIN."""
        self.binary = binary
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="drydock-test-")
        if not data_dir:  # a directory of its own: gone with this object (a test's end), server and all
            weakref.finalize(self, _discard, self.__dict__)
        os.makedirs(self.data_dir, exist_ok=True)
        self.extra_args = (["--auth", "off"] if not auth else []) + list(extra_args)
        # DRYDOCK_TEST_S3=ENDPOINT: every server keeps its blobs in a bucket of its own there
        # (the suites run again over S3: tests/store/with_s3.py)
        # (a data directory made before finds its bucket from its records)
        if os.environ.get("DRYDOCK_TEST_S3") and "--storage" not in self.extra_args and \
                not os.path.exists(os.path.join(self.data_dir, "meta.db")):
            import uuid
            import s3server
            self.extra_args += ["--storage", "s3", "--s3-endpoint", os.environ["DRYDOCK_TEST_S3"],
                                "--s3-bucket", "t-" + uuid.uuid4().hex[:20],
                                "--s3-access-key", s3server.ACCESS_KEY, "--s3-secret-key", s3server.SECRET_KEY]
        # DRYDOCK_TEST_PG=URL (a PostgreSQL's "postgres" database): every server keeps its metadata
        # in a database of its own there (tests/store/with_s3.py --pg)
        if os.environ.get("DRYDOCK_TEST_PG") and "--metadata" not in self.extra_args and \
                not os.path.exists(os.path.join(self.data_dir, "meta.db")) and \
                not os.path.exists(os.path.join(self.data_dir, "metadata")):
            import pgserver
            self.extra_args += ["--metadata", pgserver.create_database(os.environ["DRYDOCK_TEST_PG"])]
        self.env = dict(os.environ, **{"DRYDOCK_ADMIN_PASSWORD": ADMIN_PASSWORD, **(env or {})})
        self.tls = tls  # (cert, key) or None
        self.proc = None
        self.port = None
        self.host = f"[{host}]" if ":" in host else host  # as it goes in a URL or HOST:PORT
        self.log_path = os.path.join(self.data_dir, "server.log")

    @property
    def url(self):
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    def start(self):
        args = [self.binary or BIN, "serve", "--listen", f"{self.host}:{self.port or 0}",
                "--data", self.data_dir, "--log-level", "info"] + self.extra_args
        if self.tls:
            args += ["--tls-cert", self.tls[0], "--tls-key", self.tls[1]]
        log = open(self.log_path, "a")
        start_len = os.path.getsize(self.log_path)
        self.proc = subprocess.Popen(args, stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=self.env)
        deadline = time.time() + 20
        while time.time() < deadline:
            with open(self.log_path) as f:
                f.seek(start_len)
                m = re.search(r"serving https?://\S+:(\d+),", f.read())
            if m:
                self.port = int(m.group(1))
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"drydock exited: {open(self.log_path).read()[-2000:]}")
            time.sleep(0.02)
        raise RuntimeError("drydock did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            rc = self.proc.returncode
            self.proc = None
            self.check_log()
            assert rc == 0, f"drydock exited with {rc} on SIGTERM"
        self.proc = None

    def check_log(self):
        """Sanitizer reports (SANITIZER=address/undefined builds) fail the test."""
        with open(self.log_path, errors="replace") as f:
            text = f.read()
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            assert marker not in text, f"sanitizer report in {self.log_path}:\n{text[-4000:]}"

    def kill9(self):
        if self.proc:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def restart(self):
        self.stop()
        return self.start()


def _discard(state):
    """A Server's own data directory removed, its process killed first if a test left it running."""
    proc = state.get("proc")
    if proc and proc.poll() is None:
        proc.kill()
        proc.wait()
    shutil.rmtree(state["data_dir"], ignore_errors=True)


def cached_images(script="build.sh"):
    """The OCI layouts built by tests/images/SCRIPT, from the cache outside the repository
    (built first when the cache has no copy made by the current script)."""
    out = subprocess.run(["bash", os.path.join(os.path.dirname(__file__), "..", "images", "cached.sh"), script],
                         check=True, stdout=subprocess.PIPE, text=True).stdout.strip()
    return os.path.join(out, "oci")


ASSESSED = {"Healthy", "Unhealthy", "NotApplicable", "Failed"}


def wait_assessed(url, repo, ref, timeout=120, want=None, every=0.1, limit=1000, session=None):
    """Polls the security API until repo:ref has a final status (want, when given)."""
    s = session or requests
    deadline = time.time() + timeout
    r = None
    while time.time() < deadline:
        r = s.get(f"{url}/api/v1/images", params={"repository": repo, "reference": ref, "limit": limit})
        if r.status_code == 200 and r.json()["status"] in ASSESSED and (want is None or r.json()["status"] == want):
            return r.json()
        time.sleep(every)
    raise AssertionError(f"{repo}:{ref} not assessed in {timeout}s: "
                         f"{r.status_code if r is not None else '-'} {r.text[:500] if r is not None else ''}")


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def sha512(data):
    return "sha512:" + hashlib.sha512(data).hexdigest()


def push_blob(s, base, repo, data):
    """Monolithic upload; returns the digest."""
    d = sha256(data)
    r = s.post(f"{base}/v2/{repo}/blobs/uploads/?digest={d}", data=data)
    assert r.status_code == 201, r.text
    return d


OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def make_image(s, base, repo, seed=b"x", media_type=OCI_MANIFEST, extra=None):
    """Pushes a config and a layer; returns the manifest bytes (not yet pushed)."""
    config = json.dumps({"architecture": "amd64", "os": "linux", "seed": seed.decode()}).encode()
    layer = b"layer-" + seed
    cd, ld = push_blob(s, base, repo, config), push_blob(s, base, repo, layer)
    m = {"schemaVersion": 2, "mediaType": media_type,
         "config": {"mediaType": OCI_CONFIG if media_type == OCI_MANIFEST else
                    "application/vnd.docker.container.image.v1+json", "digest": cd, "size": len(config)},
         "layers": [{"mediaType": LAYER if media_type == OCI_MANIFEST else
                     "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": ld, "size": len(layer)}]}
    if extra:
        m.update(extra)
    return json.dumps(m).encode()
