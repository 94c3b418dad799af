"""A real S3 service for tests: a one-node Ceph cluster (one monitor, one OSD keeping its data
in memory) with radosgw in front, all under one temporary directory, on loopback ports of its
own, each daemon in the foreground of its own process group. Ready in a few seconds."""
import os
import signal
import socket
import subprocess
import time
import uuid

import requests

ACCESS_KEY = "DRYDOCKTESTKEY000001"
SECRET_KEY = "drydock-test-secret-key-0000000000000001"
TOOLS = ("ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "ceph-authtool", "monmaptool", "ceph")


def missing():
    """The Ceph programs this machine lacks (scripts/deps.sh installs them)."""
    return [t for t in TOOLS if not any(os.access(os.path.join(d, t), os.X_OK)
                                        for d in os.environ.get("PATH", "/usr/bin").split(":") + ["/usr/bin"])]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class S3Server:
    def __init__(self, root):
        self.root = root
        self.conf = os.path.join(root, "ceph.conf")
        self.procs = []
        self.mon_port = _free_port()
        self.port = _free_port()
        self.env = dict(os.environ, CEPH_CONF=self.conf)

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def _run(self, *args, stdin=None):
        p = subprocess.run(args, env=self.env, capture_output=True, text=True, timeout=120, input=stdin)
        if p.returncode:
            raise RuntimeError(f"{' '.join(args)}: {p.returncode}\n{p.stdout[-2000:]}{p.stderr[-2000:]}")
        return p.stdout

    def _spawn(self, *args):
        log = open(os.path.join(self.root, "log", f"{os.path.basename(args[0])}.out"), "a")
        self.procs.append(subprocess.Popen(list(args) + ["-f"], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                           stdin=subprocess.DEVNULL, start_new_session=True))
        log.close()

    def _wait(self, what, ok, timeout=90):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for p in self.procs:
                if p.poll() is not None:
                    raise RuntimeError(f"{p.args[0]} exited with {p.returncode} before {what}:\n{self.log()}")
            if ok():
                return
            time.sleep(0.2)
        raise RuntimeError(f"{what} did not happen in {timeout}s:\n{self.log()}")

    def log(self):
        out = []
        d = os.path.join(self.root, "log")
        for name in sorted(os.listdir(d)):
            with open(os.path.join(d, name), errors="replace") as f:
                out.append(f"--- {name}\n{f.read()[-1500:]}")
        return "\n".join(out)

    def start(self):
        r = self.root
        for d in ("mon/a", "osd/0", "rgw/a", "keys", "run", "log"):
            os.makedirs(os.path.join(r, d), exist_ok=True)
        fsid = str(uuid.uuid4())
        with open(self.conf, "w") as f:
            f.write(f"""[global]
fsid = {fsid}
mon initial members = a
mon host = v2:127.0.0.1:{self.mon_port}
public addr = 127.0.0.1
ms bind ipv6 = false
ms bind msgr1 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
keyring = {r}/keys/$name.keyring
run dir = {r}/run
admin socket = {r}/run/$name.asok
pid file = {r}/run/$name.pid
log file = {r}/log/$name.log
mon data = {r}/mon/$id
osd data = {r}/osd/$id
rgw data = {r}/rgw/$id
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
mon data avail warn = 1
mon data avail crit = 0
auth allow insecure global id reclaim = false

[mon]
keyring = {r}/mon/$id/keyring
mon cluster log file = {r}/log/cluster.log
paxos propose interval = 0.1
paxos min wait = 0.01

[osd]
osd objectstore = memstore
memstore device bytes = 4294967296
osd memory target = 939524096
osd op num shards = 1
osd op num threads per shard = 2

[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:{self.port} tcp_nodelay=1
rgw thread pool size = 32
rgw dns name = localhost
rgw enable usage log = false
""")
        k = f"{r}/keys"
        self._run("ceph-authtool", "--create-keyring", f"{k}/mon-init.keyring", "--gen-key", "-n", "mon.",
                  "--cap", "mon", "allow *")
        self._run("ceph-authtool", "--create-keyring", f"{k}/client.admin.keyring", "--gen-key", "-n", "client.admin",
                  "--cap", "mon", "allow *", "--cap", "osd", "allow *", "--cap", "mgr", "allow *")
        self._run("ceph-authtool", f"{k}/mon-init.keyring", "--import-keyring", f"{k}/client.admin.keyring")
        self._run("monmaptool", "--create", "--fsid", fsid, "--addv", "a", f"[v2:127.0.0.1:{self.mon_port}]",
                  f"{r}/monmap")
        self._run("ceph-mon", "--mkfs", "-i", "a", "--monmap", f"{r}/monmap", "--keyring", f"{k}/mon-init.keyring")
        self._spawn("ceph-mon", "-i", "a")
        self._wait("the monitor answering",
                   lambda: subprocess.run(["ceph", "-s", "--connect-timeout", "5"], env=self.env,
                                          capture_output=True, timeout=30).returncode == 0)
        osd_uuid = str(uuid.uuid4())
        osd_id = self._run("ceph", "osd", "new", osd_uuid).strip()
        assert osd_id == "0", osd_id
        self._run("ceph-osd", "-i", "0", "--mkfs", "--mkkey", "--osd-uuid", osd_uuid, "--no-mon-config")
        self._run("ceph", "auth", "add", "osd.0", "osd", "allow *", "mon", "allow profile osd", "mgr",
                  "allow profile osd", "-i", f"{k}/osd.0.keyring")
        self._spawn("ceph-osd", "-i", "0")
        self._wait("the OSD up", lambda: "osd.0 up" in subprocess.run(
            ["ceph", "osd", "dump"], env=self.env, capture_output=True, text=True, timeout=30).stdout)
        self._run("ceph", "auth", "get-or-create", "client.rgw.a", "mon", "allow rw", "osd", "allow rwx", "mgr",
                  "allow rw", "-o", f"{k}/client.rgw.a.keyring")
        self._spawn("radosgw", "-n", "client.rgw.a")

        def answers():
            try:
                requests.get(self.endpoint, timeout=2)
                return True
            except requests.RequestException:
                return False
        self._wait("radosgw answering", answers)
        self._run("radosgw-admin", "user", "create", "--uid=drydock", "--display-name=drydock tests",
                  f"--access-key={ACCESS_KEY}", f"--secret-key={SECRET_KEY}")
        return self

    def stop(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in reversed(self.procs):
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            if p.poll() is None:
                p.wait()
        self.procs = []

    def settings(self, bucket):
        """drydock serve flags that keep blobs in BUCKET of this S3 service."""
        return ["--storage", "s3", "--s3-endpoint", self.endpoint, "--s3-bucket", bucket,
                "--s3-access-key", ACCESS_KEY, "--s3-secret-key", SECRET_KEY]
