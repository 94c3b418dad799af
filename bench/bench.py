"""Side-by-side benchmark: drydock vs Debian's docker-registry (Distribution 2.8).

For each registry, in the same run: skopeo push / re-push / pull wall time of debian-min and
debian-big (fresh data directory for every push so nothing is mounted or cached), manifest GET
requests/s and p99 with wrk (32 connections), large blob GET throughput with curl, and RSS
(idle, and peak under load). Reports medians of several runs and drydock/peer ratios. With
--db, drydock scans every push against that vulnerability database, as it does in service
(each layer inflated and read as it uploads), and debian-big is also pushed to a drydock with
no database, so the CPU the scan adds to a push shows beside the receive path's own.

Also the memory floor: bench/floor_rss.c, a process with only the libraries drydock's serving
path needs (OpenSSL's libssl and libcrypto, libnghttp2, SQLite, jansson) and no drydock code,
sent the same layers; with --db also the CPU floor of a scanned push: floor_rss.c's CPU while it
receives, hashes and writes debian-big's blobs, plus ISA-L's igzip inflating its layers.
"""
import argparse
import json
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import tempfile
import time

ACCEPT = ("application/vnd.oci.image.manifest.v1+json,"
          "application/vnd.docker.distribution.manifest.v2+json")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, proc):
    for _ in range(500):
        if proc.poll() is not None:
            raise RuntimeError("registry exited")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError("registry did not start")


class Registry:
    """One registry process on a fresh data directory and a free port. db: drydock's
    vulnerability database (scanning on; without it pushed images stay queued); tls: (cert,
    key) to serve HTTPS (both registries then offer h2 and http/1.1 in ALPN); extra: more
    drydock flags; root: where the data directory goes (default: the temporary directory)."""

    def __init__(self, kind, drydock_bin, floor_bin=None, db=None, tls=None, extra=(), root=None):
        self.kind, self.bin, self.proc, self.dir = kind, drydock_bin, None, None
        self.floor_bin, self.db, self.tls, self.extra, self.root = floor_bin, db, tls, list(extra), root

    def start(self):
        self.dir = tempfile.mkdtemp(prefix=f"bench-{self.kind}-", dir=self.root)
        self.port = free_port()
        log = open(os.path.join(self.dir, "log"), "w")
        if self.kind == "drydock":
            cmd = [self.bin, "serve", "--listen", f"127.0.0.1:{self.port}", "--data", f"{self.dir}/data",
                   "--log-level", "warn", "--auth", "off"]  # Distribution runs without auth too
            if self.db:
                cmd += ["--db", self.db]
            if self.tls:
                cmd += ["--tls-cert", self.tls[0], "--tls-key", self.tls[1]]
            cmd += self.extra
        elif self.kind == "floor":
            cmd = [self.floor_bin, str(self.port), self.dir]
        else:
            cfg = os.path.join(self.dir, "config.yml")
            tls = f"  tls:\n    certificate: {self.tls[0]}\n    key: {self.tls[1]}\n" if self.tls else ""
            with open(cfg, "w") as f:
                f.write(f"version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
                        f"storage:\n  filesystem:\n    rootdirectory: {self.dir}/data\n  delete:\n    enabled: true\n"
                        f"http:\n  addr: 127.0.0.1:{self.port}\n{tls}")
            cmd = ["docker-registry", "serve", cfg]
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        wait_port(self.port, self.proc)
        return self

    def stop(self):
        if self.proc:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
        self.proc = None

    def pids(self):
        """The process and its descendants (drydock's zygote and the sandboxed scan workers it
        forked, busy or spare)."""
        return descendants(self.proc.pid)

    def rss_kb(self, field="VmRSS"):
        """A /proc/PID/status field (kB, or a count), summed over the process and its children."""
        total = 0
        for pid in self.pids():
            try:
                with open(f"/proc/{pid}/status") as f:
                    total += next((int(line.split()[1]) for line in f if line.startswith(field + ":")), 0)
            except OSError:
                pass
        return total

    def pss_kb(self):
        total = 0
        for pid in self.pids():
            try:
                with open(f"/proc/{pid}/smaps_rollup") as f:
                    total += next((int(line.split()[1]) for line in f if line.startswith("Pss:")), 0)
            except OSError:
                pass
        return total

    def cpu_s(self):
        """CPU seconds of the process and of its descendants, live or ended: tree_cpu_s."""
        return tree_cpu_s(self.proc.pid)

    def threads(self):
        return self.rss_kb("Threads")

    def mapped_kb(self, path):
        """The resident kB of the mappings of the file path (e.g. drydock's vulnerability
        database) in the process and its children."""
        return sum(smaps_rss_kb(pid, os.path.realpath(path)) for pid in self.pids())

    @property
    def host(self):
        return f"127.0.0.1:{self.port}"

    @property
    def url(self):
        return f"{'https' if self.tls else 'http'}://{self.host}"


def stat_fields(pid):
    """/proc/PID/stat's fields after the command name: [0] state, [1] ppid, [11] utime, ..."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def descendants(root):
    """root and every live process below it (children, their children, ...)."""
    kids = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                kids.setdefault(int(stat_fields(p)[1]), []).append(int(p))
            except (OSError, IndexError, ValueError):
                pass  # gone meanwhile
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += kids.get(p, [])
    return out


def cpu_of(pid):
    """CPU seconds of process pid alone (its own, not its children's)."""
    with open(f"/proc/{pid}/stat") as f:
        v = f.read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in v[11:13]) / os.sysconf("SC_CLK_TCK")


def tree_cpu_s(root):
    """CPU seconds of root and of every process below it, live or ended. Each live process
    counts its own time and its reaped children's (cutime, cstime, which hold their reaped
    children's in turn): drydock's scan workers are forked by its zygote and reaped by it, so the
    zygote's cutime holds those that ended, and those still running count themselves."""
    total = 0
    for pid in descendants(root):
        try:
            total += sum(int(x) for x in stat_fields(pid)[11:15])  # utime stime cutime cstime
        except (OSError, IndexError, ValueError):
            pass  # gone meanwhile: counted by its parent once reaped
    return total / os.sysconf("SC_CLK_TCK")


def smaps_rss_kb(pid, path):
    """The resident kB of process pid's mappings of the file path (0 once it is gone)."""
    total, inside = 0, False
    try:
        f = open(f"/proc/{pid}/smaps")
    except OSError:
        return 0
    with f:
        for line in f:
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                inside = line.rstrip().endswith(" " + path)
            elif inside and line.startswith("Rss:"):
                total += int(line.split()[1])
    return total


def timed(cmd):
    t = time.monotonic()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.monotonic() - t


def skopeo_push(reg, layout, ref, tag="latest"):
    return timed(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", f"oci:{layout}:{tag}",
                  f"docker://{reg.host}/{ref}"])


def skopeo_pull(reg, ref, dest):
    shutil.rmtree(dest, ignore_errors=True)
    return timed(["skopeo", "copy", "--quiet", "--src-tls-verify=false", f"docker://{reg.host}/{ref}",
                  f"dir:{dest}"])


def wrk(reg, path, seconds):
    script = os.path.join(tempfile.gettempdir(), "bench-accept.lua")
    with open(script, "w") as f:
        f.write(f'wrk.headers["Accept"] = "{ACCEPT}"\n')
    out = subprocess.run(["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency", "-s", script,
                          f"http://{reg.host}{path}"], check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    p99 = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if non2xx:
        raise RuntimeError(f"wrk saw errors: {out}")
    return rps, p99


def blob_get(reg, repo, digest):
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{speed_download} %{size_download}",
                          f"http://{reg.host}/v2/{repo}/blobs/{digest}"], check=True, capture_output=True,
                         text=True).stdout.split()
    return float(out[0]) / 1e6


def biggest_layer(layout):
    idx = json.load(open(os.path.join(layout, "index.json")))
    d = idx["manifests"][0]["digest"]
    m = json.load(open(os.path.join(layout, "blobs", *d.split(":"))))
    layer = max(m["layers"], key=lambda l: l["size"])
    return layer["digest"], layer["size"]


def layers(layout):
    """The gzip layers of the layout's first image, as paths."""
    idx = json.load(open(os.path.join(layout, "index.json")))
    m = json.load(open(os.path.join(layout, "blobs", *idx["manifests"][0]["digest"].split(":"))))
    return [os.path.join(layout, "blobs", *x["digest"].split(":")) for x in m["layers"]
            if x["mediaType"].endswith("gzip")]


def inflate_cpu_s(layout):
    """CPU seconds (user + system) ISA-L's igzip takes to inflate the layout's gzip layers, the
    inflate a scanned push does; None when igzip is not installed."""
    if not shutil.which("igzip"):
        return None
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    for path in layers(layout):
        subprocess.run(["igzip", "-dc", path], check=True, stdout=subprocess.DEVNULL)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime


def post_blobs(reg, layout):
    """Sends every blob of the layout to the floor process, as a push sends them."""
    for name in sorted(os.listdir(os.path.join(layout, "blobs", "sha256"))):
        subprocess.run(["curl", "-sf", "-o", "/dev/null", "-X", "POST", "-H", "Content-Type: application/octet-stream",
                        "--data-binary", "@" + os.path.join(layout, "blobs", "sha256", name),
                        f"http://{reg.host}/upload"], check=True)


UNSCANNED = "scanning off"


def median(v):
    return statistics.median(v) if v else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--drydock", required=True)
    ap.add_argument("--images", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--floor-rss", required=True, help="the bench/floor_rss.c binary")
    ap.add_argument("--db", help="drydock's vulnerability database: scanning on (without: images stay queued)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--wrk-seconds", type=int, default=8)
    a = ap.parse_args()
    kinds = ["drydock", "docker-registry"]
    res = {k: {} for k in kinds}

    def add(kind, key, v):
        res[kind].setdefault(key, []).append(v)

    load0 = os.getloadavg()[0]
    pulldir = tempfile.mkdtemp(prefix="bench-pull-")
    floor = {}
    for run in range(a.runs):
        for img in ("debian-min", "debian-big"):  # what skopeo costs with no registry at all
            dest = os.path.join(pulldir, "floor")
            shutil.rmtree(dest, ignore_errors=True)
            floor.setdefault(img, []).append(timed(["skopeo", "copy", "--quiet",
                                                    f"oci:{os.path.join(a.images, img)}:latest", f"dir:{dest}"]))
        for kind in (kinds if run % 2 == 0 else kinds[::-1]):  # alternate order against drift
            for img in ("debian-min", "debian-big"):
                reg = Registry(kind, a.drydock, db=a.db).start()
                try:
                    layout = os.path.join(a.images, img)
                    c0 = reg.cpu_s()
                    add(kind, f"push {img}", skopeo_push(reg, layout, f"bench/{img}:v1"))
                    c1 = reg.cpu_s()
                    add(kind, f"re-push {img}", skopeo_push(reg, layout, f"bench/{img}:v1"))
                    c2 = reg.cpu_s()
                    add(kind, f"pull {img}", skopeo_pull(reg, f"bench/{img}:v1", os.path.join(pulldir, "p")))
                    c3 = reg.cpu_s()
                    add(kind, f"server CPU s, push {img}", c1 - c0)
                    add(kind, f"server CPU s, pull {img}", c3 - c2)
                    if img == "debian-big":
                        add(kind, "RSS idle after push (MiB)", reg.rss_kb() / 1024)
                        add(kind, "anonymous RSS idle after push (MiB)", reg.rss_kb("RssAnon") / 1024)
                        add(kind, "PSS idle after push (MiB)", reg.pss_kb() / 1024)
                        if kind == "drydock" and a.db:
                            add(kind, "of which the vulnerability database mapped (MiB)", reg.mapped_kb(a.db) / 1024)
                        digest, size = biggest_layer(layout)
                        add(kind, f"blob GET MB/s ({size // 1000000} MB layer)",
                            median([blob_get(reg, f"bench/{img}", digest) for _ in range(3)]))
                        if run < 3:
                            rps, p99 = wrk(reg, f"/v2/bench/{img}/manifests/v1", a.wrk_seconds)
                            add(kind, "manifest GET req/s (32 conns)", rps)
                            add(kind, "manifest GET p99 (ms)", p99)
                            add(kind, "RSS peak under load (MiB)", reg.rss_kb("VmHWM") / 1024)
                            add(kind, "anonymous RSS after load (MiB)", reg.rss_kb("RssAnon") / 1024)
                            add(kind, "PSS after load (MiB)", reg.pss_kb() / 1024)
                finally:
                    reg.stop()
            if kind == "drydock" and a.db:  # the same push with nothing scanned: what the scan adds
                reg = Registry(kind, a.drydock).start()
                try:
                    c0 = reg.cpu_s()
                    add(kind, f"push debian-big, {UNSCANNED}", skopeo_push(reg, os.path.join(a.images, "debian-big"),
                                                                            "bench/debian-big:v1"))
                    add(kind, f"server CPU s, push debian-big, {UNSCANNED}", reg.cpu_s() - c0)
                finally:
                    reg.stop()
    shutil.rmtree(pulldir, ignore_errors=True)
    lib_floor, cpu_floor = {}, {}
    for run in range(a.runs):
        reg = Registry("floor", a.drydock, a.floor_rss).start()
        try:
            c0 = reg.cpu_s()
            post_blobs(reg, os.path.join(a.images, "debian-big"))
            cpu_floor.setdefault("receive, hash and write", []).append(reg.cpu_s() - c0)
            for key, v in (("RSS", reg.rss_kb()), ("anonymous RSS", reg.rss_kb("RssAnon")), ("PSS", reg.pss_kb())):
                lib_floor.setdefault(key, []).append(v / 1024)
        finally:
            reg.stop()
        if a.db:
            v = inflate_cpu_s(os.path.join(a.images, "debian-big"))
            if v is not None:
                cpu_floor.setdefault("ISA-L inflate", []).append(v)

    lower_better = lambda k: not ("req/s" in k or "MB/s" in k)  # noqa: E731
    lines = ["## Side by side: push, pull, GET, memory", "",
             f"drydock vs Debian's docker-registry (Distribution {docker_registry_version()}), same machine, "
             f"same run, {time.strftime('%Y-%m-%d')}. {os.cpu_count()} cores. Medians of {a.runs} runs "
             f"(wrk: {min(3, a.runs)} runs). Ratio = drydock / docker-registry; the target column says which way is better. " + (
                 "drydock scans every push (a vulnerability database of every feed in place): its push figures "
                 "include reading the layers as they upload." if a.db else
                 "drydock ran without a vulnerability database (DRYDOCK_FEEDS_DIR unset): scanning off."),
             "", "Produced by `make bench` (bench/run.sh, bench/bench.py). Machines here are shared and noisy: "
             f"read ratios, not absolute numbers (1-minute load average {load0:.1f} at the start, "
             f"{os.getloadavg()[0]:.1f} at the end).", "",
             "| measure | drydock | docker-registry | ratio | target |", "|---|---|---|---|---|"]
    targets = {"push": "≤ 0.5", "re-push": "≤ 0.5", "pull": "≤ 0.5", "manifest GET req/s": "≥ 3",
               "RSS": "≤ 0.25", "anonymous RSS": "≤ 0.25", "PSS": "≤ 0.25"}
    for key in res["drydock"]:
        peer = key.replace(f", {UNSCANNED}", "")  # Distribution scans nothing: its plain push
        d, p = median(res["drydock"][key]), median(res["docker-registry"].get(peer, []))
        tgt = next((v for k, v in targets.items() if key.startswith(k)), "")
        unit = "s" if key.split()[0] in ("push", "re-push", "pull") else ""
        if p != p:  # drydock's alone
            lines.append(f"| {key} | {d:.3f}{unit} | — | — | |")
            continue
        ratio = d / p if p else float("nan")
        lines.append(f"| {key} | {d:.3f}{unit} | {p:.3f}{unit} | {ratio:.2f} | {tgt} |")
    if a.db:
        lines += ["", f"Rows marked '{UNSCANNED}': debian-big pushed to a drydock with no vulnerability database, "
                  "so nothing is inflated or read, against the same Distribution push; the difference between its "
                  "server CPU and the scanned push's is what reading the layers as they upload costs."]
    lines += ["", "### Reading the memory figures", "", "Total RSS counts the pages of the shared libraries drydock links (libc, OpenSSL, nghttp2, SQLite, libarchive, libcurl and what they load), pages every other process using them shares; the Go peer is one static binary, so its RSS is its own. " + ("With scanning on, drydock's RSS and PSS also count the pages of the vulnerability database it maps (its own row): the pages its lookups have read, file pages of the page cache, which the kernel may drop and read again. " if a.db else "") + "PSS divides each shared page among its users, and anonymous RSS is the process's own memory: those are the fair comparisons. drydock's figures, and its CPU, are the sums over the server and its sandboxed scan-worker processes.", "", "### Where push and pull time goes", "",
              "The client floor: `skopeo copy oci:IMAGE dir:OUT`, the same copy with no registry and no network "
              "at all (median of the same runs):", "",
              "| image | skopeo alone | push to drydock | push to docker-registry | pull from drydock | "
              "pull from docker-registry |", "|---|---|---|---|---|---|"]
    floor_lines = ["", "### The libraries' own floor", "",
                   "`bench/floor_rss.c` links only the libraries drydock's serving path needs for its own jobs "
                   "(OpenSSL's libssl for TLS and libcrypto for SHA-256, libnghttp2 for HTTP/2, SQLite in WAL mode, "
                   "jansson) and no drydock code: it sets up a TLS context offering h2 and an HTTP/2 session as an "
                   "HTTPS server does, then answers HTTP/1.1 on one thread with blocking sockets (its own few lines, "
                   "no HTTP library): it hashes each POSTed body with SHA-256 and writes it to a file as it arrives, "
                   "flushes the file and renames it to its digest, inserts the digest into SQLite and answers JSON. "
                   "It is sent debian-big's blobs, then measured idle like the registries "
                   f"(median of {a.runs} runs):", "",
                   "| measure, idle after debian-big's blobs | libraries alone | drydock | docker-registry | "
                   "libraries alone / docker-registry |", "|---|---|---|---|---|"]
    for key in ("RSS", "anonymous RSS", "PSS"):
        full = f"{key} idle after push (MiB)"
        f_, d_, p_ = median(lib_floor[key]), median(res["drydock"][full]), median(res["docker-registry"][full])
        floor_lines.append(f"| {key} (MiB) | {f_:.3f} | {d_:.3f} | {p_:.3f} | {f_ / p_:.2f} |")
    rss_floor = median(lib_floor["RSS"]) / median(res["docker-registry"]["RSS idle after push (MiB)"])
    floor_lines += ["", f"The libraries alone come to {rss_floor:.2f}x Distribution's total RSS: " + (
        "above the 0.25x target before one line of registry code runs, so no program built on these "
        "libraries can meet that target as stated; the process's own memory is the anonymous RSS row."
        if rss_floor > 0.25 else "below the 0.25x target, which leaves room for registry code.")]
    if "ISA-L inflate" in cpu_floor:
        rx, inf = median(cpu_floor["receive, hash and write"]), median(cpu_floor["ISA-L inflate"])
        dd, off = median(res["drydock"]["server CPU s, push debian-big"]), median(
            res["drydock"].get(f"server CPU s, push debian-big, {UNSCANNED}", []))
        pp = median(res["docker-registry"]["server CPU s, push debian-big"])
        floor_lines += ["", "### The CPU floor of a scanned push", "",
                        "What a push of debian-big costs in CPU at the least when every layer is read as it uploads: "
                        "its blobs received over HTTP/1.1, hashed with SHA-256, written and flushed by floor-rss "
                        "above (its CPU time, utime + stime, while curl POSTs them), plus ISA-L inflating its gzip "
                        "layers (`igzip -dc` to /dev/null, the library drydock inflates with). Medians of "
                        f"{a.runs} runs; the registries' rows are the table's above.", "",
                        "| debian-big push | server CPU s | / docker-registry |", "|---|---|---|"]
        for label, v in (("receive, SHA-256, write (floor-rss, no registry code)", rx),
                         ("ISA-L inflate of the layers (igzip -dc)", inf),
                         ("**floor of a scanned push** (the sum)", rx + inf),
                         ("drydock, scanning on", dd), (f"drydock, {UNSCANNED}", off),
                         ("docker-registry (scans nothing)", pp)):
            floor_lines.append(f"| {label} | {v:.3f} | {v / pp:.2f} |")
        floor_lines += ["", f"With scanning on, drydock's push takes {dd / pp:.2f}x Distribution's server CPU "
                        f"({UNSCANNED}: {off / pp:.2f}x). The same work done by the libraries alone, with no registry "
                        f"code, takes {(rx + inf) / pp:.2f}x, and drydock's scanned push {dd / (rx + inf):.2f}x of "
                        "that (CPU times are counted in 10 ms ticks and move with the machine's load). Inflating "
                        f"the layers, work Distribution does not do, costs {inf / pp:.2f}x Distribution's whole push "
                        "by itself" + (": a registry that reads every layer as it uploads cannot spend less CPU on a "
                                       "push than Distribution does." if inf >= pp else ".")]
    for img in ("debian-min", "debian-big"):
        lines.append(f"| {img} | {median(floor[img]):.3f}s | {median(res['drydock'][f'push {img}']):.3f}s | "
                     f"{median(res['docker-registry'][f'push {img}']):.3f}s | "
                     f"{median(res['drydock'][f'pull {img}']):.3f}s | "
                     f"{median(res['docker-registry'][f'pull {img}']):.3f}s |")
    alone = {img: median(floor[img]) / median(res["docker-registry"][f"push {img}"]) for img in floor}
    lines += ["", "skopeo's own work (reading, hashing, writing the image), with no registry at all, takes "
              + " and ".join(f"{alone[img]:.2f}x of a push of {img} to Distribution" for img in alone)
              + ": that part of the wall time is the client's, and no registry can push in less than it. What the "
              "registry itself spends is its CPU time, in the table above (`server CPU s`).",
              *floor_lines, "", "Raw samples:", "", "```",
              json.dumps({"floor": floor, "libraries alone": lib_floor, "CPU floor": cpu_floor, **res}, indent=1), "```", ""]
    with open(a.out, "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines[:len(lines) - 4]))


def docker_registry_version():
    out = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "docker-registry"], capture_output=True,
                         text=True).stdout
    return out or "?"


if __name__ == "__main__":
    main()
