"""`make install` into a staging root (DESTDIR, PREFIX=/usr) and what it puts there: the
binary, whose every command answers --help; the man page, which renders without a warning and
names every option the commands' --help lists; the systemd units, which systemd-analyze
verifies; the account and configuration files. Then the commands the server prints on its
first start, run as printed with the installed binary on PATH; a root-run `drydock user` and
`drydock gc` on a data directory another account owns; and `make uninstall`."""
import os
import pathlib
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest
import requests

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from drydock import BIN  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
UNITS = ("drydock.service", "drydock-db-update.service", "drydock-db-update.timer")


def make_env():
    """The environment of a make run from a test: none of the outer make's jobserver."""
    env = dict(os.environ)
    for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"):
        env.pop(k, None)
    return env


def flavour():
    """make's arguments for the build the tests run on (build/ or build-<sanitizers>/)."""
    d = os.path.dirname(os.path.realpath(BIN))
    if os.path.dirname(d) != REPO or not os.path.basename(d).startswith("build"):
        pytest.skip(f"DRYDOCK_BIN is not a build of this repository: {BIN}")
    name = os.path.basename(d)
    return [] if name == "build" else ["SANITIZER=" + name[len("build-"):].replace("-", ",")]


def make(*args, ok=True):
    p = subprocess.run(["make", "--no-print-directory", "-C", REPO, *flavour(), *args], capture_output=True,
                       text=True, env=make_env(), timeout=900)
    if ok:
        assert p.returncode == 0, f"make {' '.join(args)}: {p.stdout[-2000:]}\n{p.stderr[-3000:]}"
    return p


def run(*args, ok=True, **kw):
    p = subprocess.run(list(args), capture_output=True, text=True, timeout=120, **kw)
    if ok:
        assert p.returncode == 0, f"{args}: {p.returncode}\n{p.stdout[-2000:]}\n{p.stderr[-3000:]}"
    return p


@pytest.fixture(scope="module")
def dest(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("destdir"))
    make("install", f"DESTDIR={root}", "PREFIX=/usr")
    return root


def installed(dest, path):
    return os.path.join(dest, path.lstrip("/"))


def commands(drydock):
    """The commands `drydock --help` lists, and those it names as not implemented yet."""
    out = run(drydock, "--help").stdout
    listed = re.findall(r"^  ([a-z][a-z-]*) ", out.split("commands:", 1)[1], re.M)
    listed = [c for c in listed if c != "help"]
    later = re.search(r"^not implemented yet: (.*)$", out, re.M)
    return listed, (later.group(1).replace(",", " ").split() if later else [])


def test_files_in_place(dest):
    files = {"/usr/bin/drydock": 0o755, "/usr/share/man/man1/drydock.1": 0o644,
             "/usr/lib/sysusers.d/drydock.conf": 0o644, "/etc/drydock/drydock.conf": 0o644}
    files.update({f"/usr/lib/systemd/system/{u}": 0o644 for u in UNITS})
    for path, mode in files.items():
        st = os.stat(installed(dest, path))
        assert st.st_mode & 0o777 == mode, f"{path}: mode {oct(st.st_mode & 0o777)}"
    with open(installed(dest, "/usr/bin/drydock"), "rb") as a, open(BIN, "rb") as b:
        assert a.read() == b.read(), "the installed binary is not the one built"
    unit = open(installed(dest, "/usr/lib/systemd/system/drydock.service")).read()
    assert "ExecStart=/usr/bin/drydock serve --config /etc/drydock/drydock.conf\n" in unit
    for u in UNITS:
        assert "@" not in open(installed(dest, f"/usr/lib/systemd/system/{u}")).read().replace("@system-service", "")
    conf = open(installed(dest, "/etc/drydock/drydock.conf")).read()
    assert re.search(r"^data = /var/lib/drydock$", conf, re.M)
    assert re.search(r"^u drydock ", open(installed(dest, "/usr/lib/sysusers.d/drydock.conf")).read(), re.M)


def test_every_command_has_help(dest):
    drydock = installed(dest, "/usr/bin/drydock")
    listed, later = commands(drydock)
    assert {"serve", "scan", "sbom", "db", "user", "gc", "version", "version-compare"} <= set(listed)
    for cmd in listed + later:
        for args in ([cmd, "--help"], [cmd, "-h"], ["help", cmd]):
            p = run(drydock, *args)
            assert p.stdout.startswith(f"usage: drydock {cmd}"), f"{args}: {p.stdout[:200]}"
            assert p.stderr == "", f"{args}: {p.stderr}"
    # and within a subcommand's own words
    for args in (["db", "update", "--help"], ["user", "add", "--help"], ["gc", "--dry-run", "--help"]):
        p = run(drydock, *args)
        assert p.stdout.startswith(f"usage: drydock {args[0]}"), args
    p = run(drydock, "help", "nosuch", ok=False)
    assert p.returncode == 2 and "unknown command 'nosuch'" in p.stderr
    assert run(drydock, "--version").stdout.startswith("drydock ")


def rendered_man(dest, width=250):
    page = installed(dest, "/usr/share/man/man1/drydock.1")
    env = dict(os.environ, MANWIDTH=str(width), MAN_KEEP_FORMATTING="", LC_ALL="C.UTF-8")
    p = run("man", "--warnings=w", "-E", "UTF-8", "-l", page, env=env)
    return p


def test_man_page_renders_without_warnings(dest):
    if not shutil.which("man"):
        pytest.skip("man-db is not installed (scripts/deps.sh installs it)")
    for width in (80, 250):
        p = rendered_man(dest, width)
        assert p.stderr == "", f"warnings at {width} columns:\n{p.stderr}"
        assert "DRYDOCK(1)" in p.stdout


def test_man_page_covers_every_command_and_option(dest):
    """Every command and every option that a command's --help lists is in drydock(1), and so
    is every setting of `drydock serve` (the same names as its flags)."""
    if not shutil.which("man"):
        pytest.skip("man-db is not installed (scripts/deps.sh installs it)")
    text = re.sub(r".\x08", "", rendered_man(dest).stdout).replace("\u2010", "-").replace("\u2212", "-")
    drydock = installed(dest, "/usr/bin/drydock")
    listed, later = commands(drydock)
    missing = []
    for cmd in listed + later:
        if not re.search(rf"^ +drydock {re.escape(cmd)}\b", text, re.M):
            missing.append(f"section for '{cmd}'")
        usage = run(drydock, cmd, "--help").stdout
        for opt in sorted(set(re.findall(r"(?<![\w-])--([a-z0-9][a-z0-9-]*)", usage))):
            if cmd == "serve" and opt != "config":
                # a setting of the configuration file, also a flag: a tag line under CONFIGURATION
                conf = text.split("\nCONFIGURATION\n", 1)[-1].split("\nENVIRONMENT\n", 1)[0]
                if not re.search(rf"^ {{7}}(?:\S.*[ ,])?{re.escape(opt)}(?![\w-])", conf, re.M):
                    missing.append(f"setting '{opt}' under CONFIGURATION")
            elif not re.search(rf"(?<![\w-])--{re.escape(opt)}(?![\w-])", text):
                missing.append(f"{cmd} --{opt}")
    for sub in ("add", "del", "list", "passwd", "role", "import"):
        if not re.search(rf"^ +{sub}\b", text, re.M):
            missing.append(f"user {sub}")
    assert not missing, "drydock(1) lacks: " + ", ".join(missing)


def test_units_verify(dest, tmp_path):
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed")
    # the units as installed, with the binary's path pointing into the staging root
    for u in UNITS:
        text = open(installed(dest, f"/usr/lib/systemd/system/{u}")).read()
        (tmp_path / u).write_text(text.replace("/usr/bin/drydock", installed(dest, "/usr/bin/drydock")))
    env = dict(os.environ, MANPATH=installed(dest, "/usr/share/man"))  # Documentation=man:drydock(1)
    p = run("systemd-analyze", "verify", *[str(tmp_path / u) for u in UNITS], ok=False, env=env)
    assert p.returncode == 0 and p.stdout == "" and p.stderr == "", p.stdout + p.stderr
    unit = open(installed(dest, "/usr/lib/systemd/system/drydock.service")).read()
    for want in ("NoNewPrivileges=yes", "ProtectSystem=strict", "ReadWritePaths=/var/lib/drydock", "PrivateTmp=yes",
                 "StateDirectory=drydock", "KillSignal=SIGTERM", "User=drydock"):
        assert re.search(rf"^{re.escape(want)}$", unit, re.M), want


def test_sysusers_creates_the_account(dest, tmp_path):
    if not shutil.which("systemd-sysusers"):
        pytest.skip("systemd-sysusers is not installed")
    (tmp_path / "etc").mkdir()
    run("systemd-sysusers", f"--root={tmp_path}", installed(dest, "/usr/lib/sysusers.d/drydock.conf"))
    account = [l for l in open(tmp_path / "etc" / "passwd") if l.startswith("drydock:")]
    assert len(account) == 1 and account[0].rstrip().endswith(":/var/lib/drydock:/usr/sbin/nologin"), account


def start(drydock, data, cwd, env):
    """The installed server on a free port; returns (process, port, first-start notice)."""
    log = open(os.path.join(cwd, "server.log"), "w+")
    p = subprocess.Popen([drydock, "serve", "--listen", "127.0.0.1:0", "--data", data, "--scan-workers", "0"],
                         cwd=cwd, env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    deadline = time.time() + 30
    while time.time() < deadline:
        text = open(log.name).read()
        m = re.search(r"serving http://\S+:(\d+),", text)
        if m:
            return p, int(m.group(1)), text
        assert p.poll() is None, text
        time.sleep(0.05)
    p.kill()
    raise AssertionError("the installed drydock did not start: " + open(log.name).read())


def stop(p):
    p.send_signal(signal.SIGTERM)
    assert p.wait(20) == 0


@pytest.mark.parametrize("on_path", [True, False])
def test_first_start_commands_work_as_printed(dest, tmp_path, on_path):
    """The first start prints the administrator's password and the command that changes it;
    that command, pasted into a shell in another directory, changes it."""
    bindir = installed(dest, "/usr/bin")
    drydock = os.path.join(bindir, "drydock")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRYDOCK_")}
    env["PATH"] = (bindir + ":" if on_path else "") + "/usr/sbin:/usr/bin:/sbin:/bin"
    work = tmp_path / "work"
    work.mkdir()
    p, port, log = start(drydock, "relative data", str(work), env)  # a space, so it is quoted
    try:
        m = re.search(r"with password (\S+)\n.*change it with `([^`]+)`", log)
        assert m, log
        old, cmd = m.group(1), m.group(2)
        data = str(work / "relative data")
        assert cmd == f"{'drydock' if on_path else drydock} user --data '{data}' passwd admin"
        url = f"http://127.0.0.1:{port}/v2/"
        assert requests.get(url, auth=("admin", old)).status_code == 200
        # as printed, from elsewhere; piped, the new password is read from stdin
        run("sh", "-c", cmd, input="a-new-admin-password\n", cwd=str(tmp_path), env=env)
        assert requests.get(url, auth=("admin", "a-new-admin-password")).status_code == 200
        assert requests.get(url, auth=("admin", old)).status_code == 401
    finally:
        stop(p)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_root_runs_as_the_data_directorys_owner(dest, tmp_path):
    """Root running `drydock user` or `drydock gc` on a data directory another account owns
    (as the service's is) works as that account: nothing it creates there is root's."""
    drydock = installed(dest, "/usr/bin/drydock")
    nobody = pwd.getpwnam("nobody")
    top = tempfile.mkdtemp(prefix="drydock-owned-")  # pytest's own tree is root's alone (0700)
    os.chmod(top, 0o755)
    data = pathlib.Path(top) / "data"
    data.mkdir()
    os.chown(data, nobody.pw_uid, nobody.pw_gid)
    run(drydock, "user", "--data", str(data), "add", "bob", "--generate")
    run(drydock, "gc", "--data", str(data), "--dry-run")
    run(drydock, "gc", "--data", str(data))
    owners = {}
    for root, dirs, files in os.walk(data):
        for name in dirs + files:
            owners[os.path.join(root, name)] = os.lstat(os.path.join(root, name)).st_uid
    assert owners and all(uid == nobody.pw_uid for uid in owners.values()), owners
    out = run(drydock, "user", "--data", str(data), "list").stdout
    assert re.search(r"^bob ", out, re.M)
    # the audit log names who ran it
    audit = run("sqlite3", str(data / "meta.db"), "select actor, action from audit").stdout
    assert "cli:root|user-add" in audit
    # db update as root on a database there: the feeds directory it makes is the owner's too
    p = run(drydock, "db", "update", "--db", str(data / "vulndb.ddb"), "--mirror", "http://127.0.0.1:9/",
            ok=False, env={k: v for k, v in os.environ.items() if k != "DRYDOCK_FEEDS_DIR"})
    assert p.returncode != 0
    for root, dirs, files in os.walk(data):
        for name in dirs + files:
            assert os.lstat(os.path.join(root, name)).st_uid == nobody.pw_uid, name
    shutil.rmtree(top)


def test_uninstall(tmp_path):
    root = str(tmp_path / "dest")
    make("install", f"DESTDIR={root}", "PREFIX=/usr/local")
    assert os.path.exists(f"{root}/usr/local/etc/drydock/drydock.conf")
    assert os.path.exists(f"{root}/usr/local/lib/systemd/system/drydock.service")
    unit = open(f"{root}/usr/local/lib/systemd/system/drydock.service").read()
    assert "ExecStart=/usr/local/bin/drydock serve --config /usr/local/etc/drydock/drydock.conf\n" in unit
    # a changed configuration survives both a second install and the uninstall
    conf = f"{root}/usr/local/etc/drydock/drydock.conf"
    with open(conf, "a") as f:
        f.write("gc-interval = 1d\n")
    p = make("install", f"DESTDIR={root}", "PREFIX=/usr/local")
    assert "keeping" in p.stdout and open(conf).read().endswith("gc-interval = 1d\n")
    p = make("uninstall", f"DESTDIR={root}", "PREFIX=/usr/local")
    left = [os.path.join(d, f) for d, _, files in os.walk(root) for f in files]
    assert left == [conf], left
    os.remove(conf)
    make("install", f"DESTDIR={root}", "PREFIX=/usr/local")
    make("uninstall", f"DESTDIR={root}", "PREFIX=/usr/local")
    assert [os.path.join(d, f) for d, _, files in os.walk(root) for f in files] == []
