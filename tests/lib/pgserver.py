"""A real PostgreSQL for tests: Debian's server, a cluster made by initdb in a temporary
directory and run by an unprivileged user (PostgreSQL refuses to run as root), listening on a
loopback port of its own with trust authentication for loopback clients alone. Ready in a few
seconds. Each drydock server of a test gets a database of its own (new_database)."""
import glob
import os
import pwd
import shutil
import socket
import subprocess
import time
import uuid

USER = "drydock"  # the cluster's superuser, the name drydock connects as


def bindir():
    """The newest installed server's programs, or None."""
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(d.split("/")[-2]))
    return dirs[-1] if dirs and os.access(os.path.join(dirs[-1], "initdb"), os.X_OK) else None


def missing():
    """What this machine lacks to run one (scripts/deps.sh installs it)."""
    return [] if bindir() and shutil.which("psql") else ["postgresql"]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    def __init__(self, root, run_as="nobody"):
        self.root = root
        self.data = os.path.join(root, "pgdata")
        self.port = _free_port()
        self.run_as = run_as if os.geteuid() == 0 else None
        self.bin = bindir()

    def url(self, db="postgres"):
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{db}"

    def _as_user(self, args):
        if not self.run_as:
            return args
        return ["setpriv", f"--reuid={self.run_as}", f"--regid={pwd.getpwnam(self.run_as).pw_gid}",
                "--clear-groups", "--"] + args

    def _run(self, *args):
        p = subprocess.run(self._as_user(list(args)), capture_output=True, text=True, timeout=120,
                           cwd=self.root, env=dict(os.environ, LC_ALL="C.UTF-8"))
        if p.returncode:
            raise RuntimeError(f"{' '.join(args)}: {p.returncode}\n{p.stdout[-2000:]}{p.stderr[-2000:]}")
        return p.stdout

    def start(self):
        os.makedirs(self.root, exist_ok=True)
        if self.run_as:
            pw = pwd.getpwnam(self.run_as)
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        self._run(os.path.join(self.bin, "initdb"), "-D", self.data, "-U", USER, "--auth=trust",
                  "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync")
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write(f"listen_addresses = '127.0.0.1'\nport = {self.port}\n"
                    f"unix_socket_directories = '{self.root}'\nfsync = off\nmax_connections = 300\n"
                    "shared_buffers = 64MB\n")
        with open(os.path.join(self.data, "pg_hba.conf"), "w") as f:
            f.write("host all all 127.0.0.1/32 trust\nlocal all all trust\n")
        self._run(os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-l", os.path.join(self.root, "pg.log"),
                  "-w", "-t", "60", "start")

    def psql(self, sql, db="postgres"):
        p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", self.url(db), "-c", sql],
                           capture_output=True, text=True, timeout=60)
        if p.returncode:
            raise RuntimeError(f"psql {sql!r}: {p.stderr}")
        return p.stdout

    def new_database(self):
        """A database of its own for one drydock server: its connection URL."""
        return create_database(self.url())

    def stop(self):
        if os.path.exists(os.path.join(self.data, "postmaster.pid")):
            subprocess.run(self._as_user([os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-m", "immediate",
                                          "-w", "stop"]), capture_output=True, timeout=60, cwd=self.root)

    def wait_ready(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                self.psql("SELECT 1")
                return
            except RuntimeError:
                time.sleep(0.2)
        raise RuntimeError("PostgreSQL did not come up")


def psql(url, sql):
    p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", url, "-c", sql],
                       capture_output=True, text=True, timeout=60)
    if p.returncode:
        raise RuntimeError(f"psql {sql!r}: {p.stderr}")
    return p.stdout


def create_database(url):
    """A new database in the server of url (a URL ending in a database's name): its URL."""
    name = "t_" + uuid.uuid4().hex[:20]
    psql(url, f"CREATE DATABASE {name}")
    return url.rsplit("/", 1)[0] + "/" + name
