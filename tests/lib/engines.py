"""Container engines that run as daemons, for the real-client tests (tests/clients): a
containerd and a dockerd of the test's own (the helpers those tests share are in clientlib.py).

Each daemon lives under one directory the test chooses (data, state, sockets, pidfile,
configuration, logins) and uses nothing of the system's daemons: no /etc/containerd/config.toml,
/etc/docker/daemon.json or /etc/docker/key.json, no socket or state under /run/containerd,
/run/docker or /var/lib, no ~/.docker. It runs in its own session and in a private mount
namespace (whatever it mounts goes away with it), gets SIGTERM if the test process dies, and
is stopped by stop() -- SIGTERM, then SIGKILL to its whole process group -- which the fixtures
call also when a test fails.

dockerd runs with the flags a machine without a bridge, iptables rules or a systemd cgroup
manager needs (DOCKERD_FLAGS), stores images with the vfs driver (plain copies, no overlay
mounts), and is given `--containerd` pointing at a containerd of the test's own: without it
dockerd uses a system containerd that happens to run (/run/containerd/containerd.sock), or
starts one of its own that a SIGKILL of dockerd leaves behind. Its trust key, by default
/etc/docker/key.json, is moved by daemon.json ("deprecated-key-path"; no flag); its plugin
directory, always /run/docker/plugins, is kept apart by a /run of its own (see below).

dockerd and registry certificates: dockerd reads a registry's CA only from
/etc/docker/certs.d/HOST:PORT/ca.crt (no flag or daemon.json setting moves that for a root
daemon), and it treats every registry that resolves into 127.0.0.0/8 as insecure -- it tries
HTTPS without verifying the certificate, then plain HTTP -- which is why the plain-HTTP tests
need no setting at all, and also why a TLS test on 127.0.0.1 would prove nothing. So in its
private mount namespace each dockerd here sees directories of the test's own bound over
/etc/docker (certs.d/ inside it) and /run, and a hosts file of the test's own bound over
/etc/hosts that maps REGISTRY_NAME to ::1: a registry reached by that name is loopback but not
in 127.0.0.0/8, so dockerd verifies its certificate against the CA the test puts in certs.d.
The system's /etc/docker, /etc/hosts and /run are never written. (docker 20.10 does not parse
an IPv6 literal as a registry host in an image reference, hence the name.)"""
import ctypes
import json
import os
import shlex
import shutil
import signal
import subprocess
import time

# the client of Debian's docker.io, which matches its dockerd (another docker earlier in PATH
# may be a different version)
DOCKER = "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else shutil.which("docker")

DOCKERD_FLAGS = [
    "--storage-driver", "vfs",             # no overlayfs mounts; every layer a plain copy
    "--iptables=false", "--ip-forward=false", "--ip-masq=false",  # no netfilter rules, no sysctl
    "--bridge=none",                       # no docker0 bridge to create
    "--userland-proxy=false",
    "--exec-opt", "native.cgroupdriver=cgroupfs",  # no systemd to ask for cgroups
]

# the name dockerd resolves to ::1 (see above); a reserved top-level domain, never on a network
REGISTRY_NAME = "registry.drydock.test"


def podman(store):
    """podman with a store of its own under directory `store` (vfs: plain copies), no systemd."""
    return ["podman", "--root", f"{store}/root", "--runroot", f"{store}/run", "--tmpdir", f"{store}/tmp",
            "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "none"]


def missing(*tools):
    """The names among TOOLS that are not installed (for a skip that says what is missing)."""
    return [t for t in tools if not (t and (os.path.isabs(t) and os.access(t, os.X_OK) or shutil.which(t)))]


def ipv6_loopback():
    """True when ::1 can be bound here (IPv6 may be off on a machine)."""
    import socket
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def _tail(path, n=4000):
    try:
        with open(path, errors="replace") as f:
            return f.read()[-n:]
    except OSError:
        return ""


def _die_with_parent():
    """preexec_fn: SIGTERM when the process that started the daemon dies (kept across the
    execs of unshare and sh, which run in place)."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class _Daemon:
    name = "daemon"

    def __init__(self, root):
        self.root = root
        os.makedirs(root, exist_ok=True)
        self.log_path = os.path.join(root, f"{self.name}.log")
        self.proc = None

    def _spawn(self, args, binds=()):
        """Starts ARGS in a new session and a private mount namespace, where each (SRC, DST)
        of BINDS is bound over DST first."""
        script = "".join(f"mount --bind {shlex.quote(s)} {shlex.quote(d)} && " for s, d in binds) + 'exec "$@"'
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "--",
                                      "sh", "-c", script, "sh"] + args,
                                     stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True, preexec_fn=_die_with_parent)
        log.close()

    def _wait_ready(self, probe, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log()}")
            if subprocess.run(probe, capture_output=True, timeout=30).returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not come up in {timeout}s:\n{self.log()}")

    def stop(self, timeout=30):
        """SIGTERM, then SIGKILL to the whole process group; safe to call twice."""
        p, self.proc = self.proc, None
        if p is None:
            return
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(p.pid, signal.SIGKILL)  # whatever it started and left behind
        except ProcessLookupError:
            pass
        if p.poll() is None:
            p.wait()

    def log(self):
        return _tail(self.log_path)


class Containerd(_Daemon):
    """containerd with its root, state, sockets and configuration under ROOT. ctr() speaks to
    it in the namespace "drydock-tests" with the native snapshotter (plain copies: no overlay
    mounts)."""
    name = "containerd"

    def __init__(self, root):
        super().__init__(root)
        self.address = os.path.join(root, "containerd.sock")

    def start(self):
        cfg = os.path.join(self.root, "config.toml")
        with open(cfg, "w") as f:
            f.write(f"""version = 2
root = "{self.root}/root"
state = "{self.root}/state"
# only what pulling, pushing and storing images needs: no CRI (CNI, sandboxes), and no
# snapshotters that probe devices or file systems or mount
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.overlayfs"]
[grpc]
  address = "{self.address}"
[ttrpc]
  address = "{self.address}.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "{self.root}/opt"
""")
        self._spawn(["containerd", "--config", cfg])
        self._wait_ready(["ctr", "--address", self.address, "version"])
        return self

    def ctr(self, *args):
        return ["ctr", "--address", self.address, "--namespace", "drydock-tests"] + list(args)

    def env(self):
        return dict(os.environ, CONTAINERD_SNAPSHOTTER="native")


class Dockerd(_Daemon):
    """dockerd with its data root, exec root, pidfile, socket, daemon.json, trust key and the
    client's configuration (logins) under ROOT, using CONTAINERD (a started Containerd)."""
    name = "dockerd"

    def __init__(self, root, containerd):
        super().__init__(root)
        self.containerd = containerd
        self.socket = os.path.join(root, "docker.sock")
        self.etc = os.path.join(root, "etc-docker")  # its /etc/docker
        os.makedirs(os.path.join(self.etc, "certs.d"), exist_ok=True)
        self.hosts = os.path.join(root, "hosts")     # its /etc/hosts
        with open(self.hosts, "w") as f:
            f.write(f"127.0.0.1 localhost\n::1 {REGISTRY_NAME}\n")
        self.run_dir = os.path.join(root, "run")     # its /run
        os.makedirs(self.run_dir, exist_ok=True)
        self.client_config = os.path.join(root, "client")  # DOCKER_CONFIG: logins live there
        os.makedirs(self.client_config, exist_ok=True)

    def trust_ca(self, host, ca_file):
        """Make dockerd trust CA_FILE for the registry HOST:PORT (read at each connection)."""
        d = os.path.join(self.etc, "certs.d", host)
        os.makedirs(d, exist_ok=True)
        shutil.copy(ca_file, os.path.join(d, "ca.crt"))

    def start(self):
        cfg = os.path.join(self.root, "daemon.json")
        with open(cfg, "w") as f:
            # the daemon's trust key, by default /etc/docker/key.json (there is no flag for it)
            json.dump({"deprecated-key-path": os.path.join(self.root, "key.json")}, f)
        args = ["dockerd", "--config-file", cfg,
                "--data-root", os.path.join(self.root, "data"),
                "--exec-root", os.path.join(self.root, "exec"),
                "--pidfile", os.path.join(self.root, "docker.pid"),
                "--host", f"unix://{self.socket}",
                "--containerd", self.containerd.address,
                "--containerd-namespace", "drydock-tests-moby",
                "--containerd-plugins-namespace", "drydock-tests-plugins"] + DOCKERD_FLAGS
        binds = [(self.hosts, "/etc/hosts")]
        if os.path.isdir("/etc/docker"):  # docker.io ships it; without it only plain HTTP works
            binds.append((self.etc, "/etc/docker"))
        # its /run: dockerd makes /run/docker/plugins whatever its exec root (plugin sockets)
        binds.append((self.run_dir, "/run"))
        self._spawn(args, binds)
        self._wait_ready(self.cli("version"))
        return self

    def cli(self, *args):
        """The argv of a docker command against this daemon, with the test's own logins."""
        return [DOCKER, "--host", f"unix://{self.socket}", "--config", self.client_config] + list(args)
