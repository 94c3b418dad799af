"""The sandboxed scan workers (src/scan/sandbox.c): every layer is read, and every image's
package databases parsed, in a `drydock scan-worker` process confined before it reads a byte.
Seen from outside: the workers' /proc status (an unprivileged user, no_new_privs, a seccomp
filter, no capability, only their own descriptors, the resource limits); a layer that makes its
reader crash, hang, spin, open a file or run out of memory fails that one scan with the reason
and never the server, whose next scan gets a fresh worker and succeeds; the same findings with
the sandbox as without; no worker outlives the server.

The crash, hang, spin and open cases use the test hooks of build/drydock-test-hooks (a layer
whose etc/os-release says DRYDOCK_TEST_HOOK=<what>, honoured only by that binary and only with
DRYDOCK_SANDBOX_TEST_HOOKS set); the memory case is a real layer, a 200 MiB dpkg database,
under a lowered memory limit."""
import json
import os
import pwd
import shutil
import signal
import subprocess
import time

import pytest
import requests

from drydock import BIN, HOOKS_BIN, OCI_CONFIG, OCI_MANIFEST, Server, push_blob, sha256
from drydock import wait_assessed as wait
from test_scan_limits import GZ, OS, STATUS, layer, push

FAILED = "a sandboxed scan worker failed"


def hooked(what):
    """A layer whose reader, in the hooks binary, does `what`."""
    return layer({"etc/os-release": OS + b"DRYDOCK_TEST_HOOK=" + what.encode() + b"\n",
                  "var/lib/dpkg/status": STATUS})


def start(tmp_path, db, name, binary=None, env=None, extra=()):
    data = tmp_path / name
    data.mkdir()
    try:  # the server only reads it: a link spares 150 MB a server
        os.link(db, data / "vulndb.ddb")
    except OSError:
        shutil.copy(db, data / "vulndb.ddb")
    return Server(str(data), binary=binary, env=env, extra_args=list(extra)).start()


def status(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def scan_processes():
    """{pid: (ppid, kind)} of every drydock scan-worker process: kind "zygote", "layer" or
    "inventory" (a worker the zygote forked shows a worker's command line)."""
    out = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            if len(argv) > 2 and argv[1] == b"scan-worker":
                out[int(p)] = (int(status(p)["PPid"]), argv[2].decode())
        except (OSError, KeyError, ValueError):
            continue  # gone meanwhile
    return out


def zygote(server_pid):
    """The pid of the server's zygote (the fork server its workers come from), or None."""
    return next((p for p, (pp, kind) in scan_processes().items() if pp == server_pid and kind == "zygote"), None)


def workers(server_pid):
    """{pid: kind} of the scan workers of the server: those its zygote forked, and any it
    started itself."""
    procs = scan_processes()
    parents = {server_pid} | {p for p, (pp, kind) in procs.items() if pp == server_pid and kind == "zygote"}
    return {p: kind for p, (pp, kind) in procs.items() if pp in parents and kind != "zygote"}


def busy_reader(server_pid):
    """A confined layer reader holding a task's descriptor (the blob, or the upload's pipe), or
    None; a spare still warming up, before its filter, may hold other descriptors."""
    for pid, kind in workers(server_pid).items():
        try:
            if kind == "layer" and status(pid)["Seccomp"].strip() == "2" and len(os.listdir(f"/proc/{pid}/fd")) > 4:
                return pid
        except (OSError, KeyError):
            pass
    return None


def wait_for(cond, timeout=60, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError(f"no {what} within {timeout}s")


def limits(pid):
    """/proc/PID/limits as {name: (soft, hard)}."""
    out = {}
    with open(f"/proc/{pid}/limits") as f:
        next(f)
        for line in f:
            name, rest = line[:26].strip(), line[26:].split()
            out[name] = (rest[0], rest[1])
    return out


def asan(pid):
    """Whether process pid runs a build with AddressSanitizer, whose workers have no
    address-space limit (the sanitizer reserves terabytes of shadow memory)."""
    with open(f"/proc/{pid}/maps") as f:
        return "libasan" in f.read()


def assert_confined(pid, expect_uid):
    st = status(pid)
    assert st["Seccomp"].strip() == "2", st  # a filter
    assert st["NoNewPrivs"].strip() == "1", st
    assert st["Uid"].split() == [str(expect_uid)] * 4, st
    assert int(st["CapEff"], 16) == 0 and int(st["CapPrm"], 16) == 0, st
    lim = limits(pid)
    assert lim["Max file size"] == ("0", "0"), lim
    assert lim["Max open files"] == ("1008", "1008"), lim
    assert lim["Max cpu time"][0] == "600", lim
    assert lim["Max address space"][0] in (str(1 << 30), str(3 << 30)) or asan(pid), lim
    assert lim["Max core file size"] == ("0", "0"), lim
    fds = {int(fd): os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
    assert all(fds[k] == "/dev/null" for k in (0, 1, 2)), fds
    assert fds[3].startswith("socket:"), fds
    return fds


def unprivileged_uid():
    if os.geteuid() != 0:
        return os.geteuid()
    try:
        return pwd.getpwnam("nobody").pw_uid
    except KeyError:
        return 65534


def test_workers_are_confined_before_any_task(full_db, tmp_path):
    """The spare workers, started before anything was pushed, are already confined: an
    unprivileged user, no_new_privs, the seccomp filter, no capability, the limits, and no
    descriptor but /dev/null and their socket."""
    srv = start(tmp_path, full_db, "spares")
    try:
        w = wait_for(lambda: (lambda w: w if sorted(w.values()) == ["inventory", "layer"] else None)(
            workers(srv.proc.pid)), what="spare workers")
        for pid, kind in w.items():
            wait_for(lambda: status(pid)["Seccomp"].strip() == "2", what="the filter")
            fds = assert_confined(pid, unprivileged_uid())
            assert set(fds) == {0, 1, 2, 3}, fds
            # a process group of its own (a terminal's ^C is the server's to handle), in the
            # server's session: a session of its own is a scheduling group of its own, in which
            # a worker took 2-3 times as long to read a layer on a busy machine
            assert os.getpgid(pid) == pid and os.getsid(pid) == os.getsid(srv.proc.pid)
            if not asan(pid):
                assert limits(pid)["Max address space"][0] == str(1 << 30 if kind == "layer" else 3 << 30)
        # the zygote they were forked from is confined as far as a process that forks may be:
        # its filter (another one, which allows fork) and no_new_privs, the user, no capability,
        # no descriptor but its control socket; CPU time and no process are its children's
        z = zygote(srv.proc.pid)
        assert z and all(status(pid)["PPid"].strip() == str(z) for pid in w), (z, w)
        st = status(z)
        assert st["Seccomp"].strip() == "2" and st["NoNewPrivs"].strip() == "1", st
        assert st["Uid"].split() == [str(unprivileged_uid())] * 4 and int(st["CapEff"], 16) == 0, st
        lim = limits(z)
        assert lim["Max file size"] == ("0", "0") and lim["Max open files"] == ("1008", "1008"), lim
        assert lim["Max address space"][0] == str(3 << 30) or asan(z), lim
        fds = {int(fd): os.readlink(f"/proc/{z}/fd/{fd}") for fd in os.listdir(f"/proc/{z}/fd")}
        assert fds[0] == fds[1] == fds[2] == "/dev/null" and fds[3].startswith("socket:"), fds
        w[z] = "zygote"
    finally:
        srv.stop()
    # no worker outlives its server
    wait_for(lambda: not any(os.path.exists(f"/proc/{p}") and b"scan-worker" in open(f"/proc/{p}/cmdline", "rb").read()
                             for p in w), what="the workers' end")


def test_a_hanging_reader_is_confined_and_stopped(full_db, tmp_path):
    """A reader that stops making progress (it blocks, in the hooks binary) is seen at work
    under the same confinement, holding only its socket and the layer's bytes, and is killed
    after DRYDOCK_MAX_SANDBOX_STALL_SECONDS: that scan fails saying so; the next one works."""
    srv = start(tmp_path, full_db, "hang", binary=HOOKS_BIN,
                env={"DRYDOCK_SANDBOX_TEST_HOOKS": "1", "DRYDOCK_MAX_SANDBOX_STALL_SECONDS": "5"})
    try:
        assert push(srv.url, "sb/hang", [(hooked("hang"), GZ)]).status_code == 201

        pid = wait_for(lambda: busy_reader(srv.proc.pid), what="a busy layer reader")
        fds = assert_confined(pid, unprivileged_uid())
        assert set(fds) == {0, 1, 2, 3, 4}, fds
        assert fds[4].startswith("pipe:") or "/blobs/" in fds[4] or "/uploads/" in fds[4], fds
        a = wait(srv.url, "sb/hang", "1", timeout=300)
        assert a["status"] == "Failed", a
        assert a["reason"].startswith(FAILED) and "the layer reader made no progress for 5 s and was stopped" in \
            a["reason"], a["reason"]
        assert push(srv.url, "sb/after", [(hooked("none"), GZ)]).status_code == 201
        b = wait(srv.url, "sb/after", "1", timeout=300)
        assert b["status"] in ("Healthy", "Unhealthy") and b["packages"] == 1, b
    finally:
        srv.stop()


@pytest.mark.parametrize("what,reason", [
    ("crash", "the layer reader crashed (signal 11, SIGSEGV)"),
    ("open", "the layer reader made a system call its sandbox forbids and was killed (SIGSYS)"),
    ("db-crash", "the package database reader crashed (signal 11, SIGSEGV)"),
    ("db-open", "the package database reader made a system call its sandbox forbids and was killed (SIGSYS)"),
])
def test_a_failing_reader_fails_only_its_scan(full_db, tmp_path, what, reason):
    """A layer reader or a package database reader that crashes, or tries to open a file
    (which the filter answers with SIGSYS), fails that scan with the reason; the server goes
    on, and scans the next image (pushed after, and one pushed at the same time) with fresh
    workers."""
    srv = start(tmp_path, full_db, what, binary=HOOKS_BIN, env={"DRYDOCK_SANDBOX_TEST_HOOKS": "1"})
    try:
        pid = srv.proc.pid
        assert push(srv.url, "sb/bad", [(hooked(what), GZ)]).status_code == 201
        assert push(srv.url, "sb/good", [(hooked("none"), GZ)]).status_code == 201
        a = wait(srv.url, "sb/bad", "1", timeout=300)
        assert a["status"] == "Failed" and a["reason"].startswith(FAILED) and reason in a["reason"], a
        g = wait(srv.url, "sb/good", "1", timeout=300)
        assert g["status"] in ("Healthy", "Unhealthy") and g["packages"] == 1, g
        assert push(srv.url, "sb/next", [(layer({"etc/os-release": OS, "var/lib/dpkg/status": STATUS}), GZ)],
                    tag="2").status_code == 201
        n = wait(srv.url, "sb/next", "2", timeout=300)
        assert n["status"] in ("Healthy", "Unhealthy") and n["packages"] == 1, n
        assert srv.proc.poll() is None and srv.proc.pid == pid
        assert requests.get(f"{srv.url}/healthz").json()["status"] == "ok"
        # the layer cache is the server's: written by it, never by a worker
        cache = os.path.join(srv.data_dir, "cache", "layers")
        assert all(os.stat(os.path.join(cache, f)).st_uid == os.geteuid() for f in os.listdir(cache))
    finally:
        srv.stop()


def test_a_fresh_worker_per_task(full_db, tmp_path):
    """Each layer and each image's package databases are read by a process of its own: the
    readers of five images (each fails naming its pid, in the hooks binary) are five processes,
    none of them the zygote, which is the same one throughout."""
    srv = start(tmp_path, full_db, "fresh", binary=HOOKS_BIN, env={"DRYDOCK_SANDBOX_TEST_HOOKS": "1"})
    try:
        z = wait_for(lambda: zygote(srv.proc.pid), what="the zygote")
        pids = []
        for i, what in enumerate(["pid", "db-pid", "pid", "db-pid", "pid"]):
            img = layer({"etc/os-release": OS + b"DRYDOCK_TEST_HOOK=" + what.encode() + b"\n",
                         "var/lib/dpkg/status": STATUS, f"etc/n{i}": b"x"})  # a layer never read before
            assert push(srv.url, f"sb/fresh{i}", [(img, GZ)]).status_code == 201
            a = wait(srv.url, f"sb/fresh{i}", "1", timeout=300)
            assert a["status"] == "Failed" and " failed: pid " in a["reason"], a
            assert ("package database reader" if what == "db-pid" else "layer reader") in a["reason"], a
            pids.append(int(a["reason"].rsplit(" ", 1)[1]))
        assert len(set(pids)) == 5 and z not in pids and srv.proc.pid not in pids, pids
        assert zygote(srv.proc.pid) == z
    finally:
        srv.stop()


def test_the_zygote_killed_is_replaced(full_db, tmp_path):
    """The zygote killed (SIGKILL) while spare workers it forked wait: the next push is
    assessed as before, by workers of a new zygote; the old one is reaped."""
    srv = start(tmp_path, full_db, "zygote")
    try:
        z = wait_for(lambda: zygote(srv.proc.pid), what="the zygote")
        wait_for(lambda: len(workers(srv.proc.pid)) == 2, what="spare workers")
        os.kill(z, signal.SIGKILL)
        for i in range(2):
            assert push(srv.url, f"sb/after{i}", [(layer({"etc/os-release": OS, "var/lib/dpkg/status": STATUS,
                                                          f"etc/n{i}": b"x"}), GZ)]).status_code == 201
            a = wait(srv.url, f"sb/after{i}", "1", timeout=300)
            assert a["status"] in ("Healthy", "Unhealthy") and a["packages"] == 1, a
        z2 = zygote(srv.proc.pid)
        assert z2 and z2 != z, (z, z2)
        assert not os.path.exists(f"/proc/{z}"), "the old zygote is reaped"
        assert srv.proc.poll() is None and requests.get(f"{srv.url}/healthz").json()["status"] == "ok"
    finally:
        srv.stop()


def test_stopped_and_continued_workers_live_on(full_db, tmp_path):
    """Regression: the zygote and its spare workers stopped and continued (^Z and fg of a server
    in a terminal's foreground, a debugger, kill -STOP/-CONT) resume their interrupted system
    call with restart_syscall, which their filters forbade: the kernel killed them (SIGSYS).
    Now they live on, and the next push is read by the same zygote's workers."""
    srv = start(tmp_path, full_db, "stopped")
    try:
        z = wait_for(lambda: zygote(srv.proc.pid), what="the zygote")
        spares = wait_for(lambda: len(workers(srv.proc.pid)) == 2 and workers(srv.proc.pid), what="spare workers")
        time.sleep(0.5)  # all of them waiting in a system call
        for p in [z, *spares]:
            os.kill(p, signal.SIGSTOP)
        time.sleep(0.2)
        for p in [z, *spares]:
            os.kill(p, signal.SIGCONT)
        time.sleep(0.5)
        for p in [z, *spares]:
            assert os.path.exists(f"/proc/{p}") and status(p)["State"][0] != "Z", f"process {p} died"
        assert push(srv.url, "sb/cont", [(layer({"etc/os-release": OS, "var/lib/dpkg/status": STATUS,
                                                  "etc/cont": b"x"}), GZ)]).status_code == 201
        a = wait(srv.url, "sb/cont", "1", timeout=300)
        assert a["status"] == "Unhealthy" and a["packages"] == 1, a
        assert zygote(srv.proc.pid) == z
    finally:
        srv.stop()


def test_stop_with_a_hanging_reader_survives_a_second_sigterm(full_db, tmp_path):
    """Regression: the server stopping waits for the scan in progress, here a reader that hangs
    until its stall limit; a second SIGTERM meanwhile (a second ^C) reached a scanner thread,
    which did not block it, and killed the process half-way through its stop (-15). Now it
    waits: the stop ends cleanly once the reader is stopped."""
    srv = start(tmp_path, full_db, "stop", binary=HOOKS_BIN,
                env={"DRYDOCK_SANDBOX_TEST_HOOKS": "1", "DRYDOCK_MAX_SANDBOX_STALL_SECONDS": "5"})
    try:
        assert push(srv.url, "sb/hang", [(hooked("hang"), GZ)]).status_code == 201
        wait_for(lambda: busy_reader(srv.proc.pid), what="a busy layer reader")
        t = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert srv.proc.poll() is None, "the stop should wait for the hanging reader"
        srv.proc.send_signal(signal.SIGTERM)
        assert srv.proc.wait(60) == 0
        assert time.monotonic() - t < 30
    finally:
        srv.stop()


def test_cpu_limit(full_db, tmp_path):
    """A reader that spins is killed at its CPU time limit (lowered to 1 s here; SIGXCPU)."""
    srv = start(tmp_path, full_db, "spin", binary=HOOKS_BIN, extra=("--analyse-uploads", "false"),
                env={"DRYDOCK_SANDBOX_TEST_HOOKS": "1", "DRYDOCK_MAX_SANDBOX_CPU_SECONDS": "1"})
    try:
        assert push(srv.url, "sb/spin", [(hooked("spin"), GZ)]).status_code == 201
        a = wait(srv.url, "sb/spin", "1", timeout=300)
        assert a["status"] == "Failed" and "the layer reader exceeded its CPU time limit (1 s)" in a["reason"], a
        assert srv.proc.poll() is None
    finally:
        srv.stop()


def test_memory_limit_with_a_real_layer(full_db, tmp_path):
    """No hook: a layer whose dpkg database is 200 MiB (within the per-file limit, 400 KB
    pushed) read under a memory limit lowered to 160 MiB fails naming the limit; a normal image
    is assessed after it by the same server."""
    srv = start(tmp_path, full_db, "memory", env={"DRYDOCK_MAX_SANDBOX_MEMORY": str(160 << 20)})
    try:
        if asan(srv.proc.pid):
            pytest.skip("AddressSanitizer build: its workers have no address-space limit")
        big = layer({"etc/os-release": OS, "var/lib/dpkg/status": (200 << 20,)})
        assert len(big) < 1 << 20
        assert push(srv.url, "sb/big", [(big, GZ)]).status_code == 201
        a = wait(srv.url, "sb/big", "1", timeout=300)
        assert a["status"] == "Failed" and a["reason"].startswith(FAILED), a
        assert "the layer reader exceeded its memory limit (160 MiB)" in a["reason"], a["reason"]
        assert push(srv.url, "sb/small", [(layer({"etc/os-release": OS, "var/lib/dpkg/status": STATUS}), GZ)]
                    ).status_code == 201
        b = wait(srv.url, "sb/small", "1", timeout=300)
        assert b["status"] in ("Healthy", "Unhealthy") and b["packages"] == 1, b
    finally:
        srv.stop()


def worker_counts(url):
    """(layer reader tasks, package database reader tasks, images whose inventory came with
    their one layer's reading) from /metrics."""
    text = requests.get(f"{url}/metrics").text
    got = {}
    for line in text.splitlines():
        for key in ('drydock_scan_worker_tasks_total{reader="layer"}',
                    'drydock_scan_worker_tasks_total{reader="package-databases"}',
                    "drydock_scan_inventories_from_layer_total"):
            if line.startswith(key + " "):
                got[key] = int(line.split()[-1])
    assert len(got) == 3, text
    return tuple(got.values())


def test_an_image_of_one_layer_needs_one_worker(full_db, tmp_path):
    """A layer reader also sends its layer's package list as if the layer were an image: an
    image of that one layer is assessed from it without a package database reader, with the
    same packages, findings and layer as a reader that merges it (after a restart, when the
    list is no longer kept). An image of two layers still has its layers merged by a reader."""
    srv = start(tmp_path, full_db, "one")
    try:
        one = layer({"etc/os-release": OS, "var/lib/dpkg/status": STATUS, "etc/one": b"1"})
        assert push(srv.url, "sb/one", [(one, GZ)]).status_code == 201
        first = wait(srv.url, "sb/one", "1", timeout=300)
        assert first["status"] == "Unhealthy" and first["packages"] == 1, first
        assert worker_counts(srv.url) == (1, 0, 1)
        base, top = layer({"etc/base": b"b"}), layer({"etc/os-release": OS, "var/lib/dpkg/status": STATUS})
        assert push(srv.url, "sb/two", [(base, GZ), (top, GZ)]).status_code == 201
        two = wait(srv.url, "sb/two", "1", timeout=300)
        assert two["status"] == "Unhealthy" and two["packages"] == 1, two
        assert worker_counts(srv.url) == (3, 1, 1)
        srv.stop()
        srv.start()
        # a new image of the same layer, which is not uploaded again (the repository has it): its
        # entry is in the layer cache, its package list no longer in memory
        cfg = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers"}, "n": 2}).encode()
        m = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                        "config": {"mediaType": OCI_CONFIG, "digest": push_blob(requests.Session(), srv.url, "sb/one", cfg),
                                   "size": len(cfg)},
                        "layers": [{"mediaType": GZ, "digest": sha256(one), "size": len(one)}]}).encode()
        assert requests.put(f"{srv.url}/v2/sb/one/manifests/again", data=m,
                            headers={"Content-Type": OCI_MANIFEST}).status_code == 201
        again = wait(srv.url, "sb/one", "again", timeout=300)
        assert worker_counts(srv.url) == (0, 1, 0)
        assert findings(again) == findings(first) and findings(first)
        assert {f["layer"] for f in first["findings"]} == {sha256(one)}
    finally:
        srv.stop()


def findings(a):
    return sorted((f["id"], f["package"], f["installed_version"], f["fixed_version"], f["severity"], f["layer"])
                  for f in a["findings"])


@pytest.mark.parametrize("image", ["debian-min", "rpm-min"])
def test_same_assessment_with_and_without_the_sandbox(full_db, images, rpm_images, tmp_path, image):
    """dpkg and rpm (SQLite) images assessed by the sandboxed workers and by the server
    itself (sandbox = false): the same packages, findings and layers that introduced them."""
    layout = os.path.join(images if image.startswith("debian") else rpm_images, image)
    got = {}
    for sandbox in ("true", "false"):
        srv = start(tmp_path, full_db, f"{image}-{sandbox}", extra=("--sandbox", sandbox))
        try:
            subprocess.run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", f"oci:{layout}",
                            f"docker://127.0.0.1:{srv.port}/sb/img:1"], check=True, capture_output=True)
            a = wait(srv.url, "sb/img", "1", timeout=300, limit=100000)
            assert a["status"] == "Unhealthy", a
            got[sandbox] = a
            if sandbox == "false":
                assert not workers(srv.proc.pid)
        finally:
            srv.stop()
    assert got["true"]["packages"] == got["false"]["packages"] > 0
    assert findings(got["true"]) == findings(got["false"]) and findings(got["true"])


def test_kill9_leaves_no_worker(full_db, tmp_path):
    """The server killed with SIGKILL: its zygote sees its socket close, kills the spare
workers and exits."""
    srv = start(tmp_path, full_db, "kill9")
    w = wait_for(lambda: (lambda w: w if len(w) == 2 else None)(workers(srv.proc.pid)), what="spare workers")
    w[zygote(srv.proc.pid)] = "zygote"
    srv.kill9()

    def alive(p):
        try:
            with open(f"/proc/{p}/status") as f:
                return "State:\tZ" not in f.read()
        except OSError:
            return False
    wait_for(lambda: not any(alive(p) for p in w), what="the workers' end")
