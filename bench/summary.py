"""The key numbers of a benchmark run, on one page: picks rows out of the sections bench/run.sh
wrote (bench.py, stamina.py, scan.py) and prints them as one Markdown table, each with its
drydock / Distribution ratio from the same run. Rows a run did not produce are left out.

    summary.py SECTION.md... > summary.md

Not part of the tests.
"""
import re
import sys

# (label in the summary, the start of the row's first cell as its section writes it ({n}: any
# number), target); a row with none starts a group
ROWS = [
    ("Push and pull, scanning on (skopeo, fresh registry each time; medians)", None, None),
    ("push debian-big, HTTP: wall (s)", "push debian-big, HTTP (s)", "≤ 0.5"),
    ("push debian-big, HTTP: server CPU (s)", "server CPU, push debian-big, HTTP (s)", ""),
    ("push debian-big, HTTPS: wall (s)", "push debian-big, HTTPS (s)", "≤ 0.5"),
    ("push debian-big, HTTPS: server CPU (s)", "server CPU, push debian-big, HTTPS (s)", ""),
    ("pull debian-big, HTTP: wall (s)", "pull debian-big, HTTP (s)", "≤ 0.5"),
    ("pull debian-big, HTTP: server CPU (s)", "server CPU, pull debian-big, HTTP (s)", ""),
    ("pull debian-big, HTTPS: wall (s)", "pull debian-big, HTTPS (s)", "≤ 0.5"),
    ("pull debian-big, HTTPS: server CPU (s)", "server CPU, pull debian-big, HTTPS (s)", ""),
    ("push debian-min, HTTP: wall (s)", "push debian-min, HTTP (s)", "≤ 0.5"),
    ("push debian-min, HTTP: server CPU (s)", "server CPU, push debian-min, HTTP (s)", ""),
    ("push debian-min, HTTPS: wall (s)", "push debian-min, HTTPS (s)", "≤ 0.5"),
    ("push debian-min, HTTPS: server CPU (s)", "server CPU, push debian-min, HTTPS (s)", ""),
    ("debian-big push-to-assessed, HTTP (s)", "push-to-assessed debian-big, HTTP (s)", "≤ 1 s"),
    ("debian-big push-to-assessed, HTTPS (s)", "push-to-assessed debian-big, HTTPS (s)", "≤ 1 s"),
    ("CPU floor of a scanned debian-big push: receive, SHA-256, write + ISA-L inflate (s)",
     "**floor of a scanned push**", ""),
    ("HTTPS blob GET (curl, one stream)", None, None),
    ("HTTP/1.1 (MiB/s)", "HTTPS blob GET, HTTP/1.1", ""),
    ("HTTP/1.1: server CPU per GiB sent (s)", "server CPU per GiB sent, HTTPS HTTP/1.1", ""),
    ("HTTP/2 (MiB/s)", "HTTPS blob GET, HTTP/2", ""),
    ("HTTP/2: server CPU per GiB sent (s)", "server CPU per GiB sent, HTTPS HTTP/2", ""),
    ("Concurrent pushers, 16 by default (distinct images)", None, None),
    ("HTTP: aggregate MB/s", "{n} pushes, HTTP: aggregate MB/s", ""),
    ("HTTP: server CPU (s)", "{n} pushes, HTTP: server CPU (s)", ""),
    ("HTTP: push-to-assessed p50 / p99 (s)", ("{n} pushes, HTTP: push-to-assessed p50", "{n} pushes, HTTP: push-to-assessed p99"), ""),
    ("HTTPS: aggregate MB/s", "{n} pushes, HTTPS: aggregate MB/s", ""),
    ("HTTPS: server CPU (s)", "{n} pushes, HTTPS: server CPU (s)", ""),
    ("HTTPS: push-to-assessed p50 / p99 (s)", ("{n} pushes, HTTPS: push-to-assessed p50", "{n} pushes, HTTPS: push-to-assessed p99"), ""),
    ("10,000 held connections (by default), a probe on new connections and a skopeo push beside them", None, None),
    ("HTTP: probe GET /v2/ p99 (ms)", "{n} connections, HTTP: probe /v2/ p99", ""),
    ("HTTP: probe manifest GET p99 (ms)", "{n} connections, HTTP: probe manifest GET p99", ""),
    ("HTTP: probe errors", "{n} connections, HTTP: probe errors", "0"),
    ("HTTP: skopeo push of debian-min (s)", "{n} connections, HTTP: skopeo push", "succeeds"),
    ("HTTP: peak RSS (MiB)", "{n} connections, HTTP: peak RSS (MiB)", ""),
    ("HTTPS: probe GET /v2/ p99 (ms)", "{n} connections, HTTPS: probe /v2/ p99", ""),
    ("HTTPS: probe manifest GET p99 (ms)", "{n} connections, HTTPS: probe manifest GET p99", ""),
    ("HTTPS: probe errors", "{n} connections, HTTPS: probe errors", "0"),
    ("HTTPS: skopeo push of debian-min (s)", "{n} connections, HTTPS: skopeo push", "succeeds"),
    ("HTTPS: peak RSS (MiB)", "{n} connections, HTTPS: peak RSS (MiB)", ""),
    ("wrk, 64 connections, manifest then 1 MiB blob, skopeo pushes beside it", None, None),
    ("HTTP: manifest GET req/s", "HTTP: manifest GET req/s", "≥ 3"),
    ("HTTP: errors, manifest / blob", ("HTTP: manifest GET errors", "HTTP: 1 MiB blob GET errors"), "0"),
    ("HTTP: RSS before / right after (MiB)", ("HTTP: RSS before", "HTTP: RSS right after"), ""),
    ("HTTPS: manifest GET req/s", "HTTPS: manifest GET req/s", "≥ 3"),
    ("HTTPS: errors, manifest / blob", ("HTTPS: manifest GET errors", "HTTPS: 1 MiB blob GET errors"), "0"),
    ("HTTPS: RSS before / right after (MiB)", ("HTTPS: RSS before", "HTTPS: RSS right after"), ""),
    ("A burst of tiny images, 200 a second asked", None, None),
    ("HTTP: images pushed per second", "HTTP: images pushed per second", ""),
    ("HTTP: push-to-assessed p99 (s)", "HTTP: push-to-assessed p99", ""),
    ("HTTPS: images pushed per second", "HTTPS: images pushed per second", ""),
    ("HTTPS: push-to-assessed p99 (s)", "HTTPS: push-to-assessed p99", ""),
    ("HTTP, data on tmpfs: images pushed per second", "HTTP, data on tmpfs: images pushed per second", ""),
    ("HTTP, data on tmpfs: push-to-assessed p99 (s)", "HTTP, data on tmpfs: push-to-assessed p99", ""),
    ("Listing at 100,000 (walks with n=1000)", None, None),
    ("_catalog of 100,000 repositories, whole walk (s)", "catalog: whole walk", ""),
    ("tags/list of 100,000 tags, whole walk (s)", "tag list: whole walk", ""),
    ("Memory idle after debian-big's push and pull (HTTP)", None, None),
    ("RSS (MiB)", "RSS idle after debian-big's push and pull, HTTP", "≤ 0.25"),
    ("of which the vulnerability database's pages (MiB)",
     "vulnerability database mapped idle after debian-big's push and pull, HTTP", ""),
    ("anonymous RSS (MiB)", "anonymous RSS idle after debian-big's push and pull, HTTP", ""),
    ("PSS (MiB)", "PSS idle after debian-big's push and pull, HTTP", "≤ 0.25"),
    ("drydock alone (no peer scans)", None, None),
    ("debian-big push-to-assessed, cold (s, median)", "debian-big push-to-assessed, cold (s)", "≤ 1 s"),
    ("10,000 stored images re-assessed, findings changed (s)", "re-assessment wall time, other findings", "≤ 10 s"),
    ("10,000 stored images re-assessed, same findings (s)", "re-assessment wall time, same findings", "≤ 10 s"),
    ("match, debian-wide, 312 packages (ms)", "match, debian-wide", "< 1 ms"),
]
ALONE = {"drydock alone (no peer scans)"}


def number(cell):
    cell = cell.strip().rstrip("s").replace(",", "")
    try:
        return float(cell)
    except ValueError:
        return None


def rows(paths):
    """Every table row of the files: its first cell -> its other cells (the first one written wins)."""
    out = {}
    for path in paths:
        with open(path) as f:
            for line in f:
                if line.startswith("| ") and not line.startswith("|---"):
                    cells = [c.strip() for c in line.strip().strip("|").split("|")]
                    out.setdefault(cells[0], cells[1:])
    return out


def find(table, prefix):
    """The cells of the first row whose first cell starts with prefix, where {n} is any number."""
    pattern = re.escape(prefix).replace(re.escape("{n}"), r"[\d,]+")
    return next((v for k, v in table.items() if re.match(pattern, k)), None)


def fmt(v):
    if v is None:
        return "—"
    if v == int(v):
        return f"{int(v):,}"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.1f}" if abs(v) >= 10 else f"{v:.3f}"


def render(table, label, key, target, alone):
    """The summary's row for label, or None when the run did not produce it."""
    if alone:  # one value, the median, first
        r = find(table, key)
        return r and f"| {label} | {fmt(number(r[0].split()[0]))} | — | — | {target} |"
    if label.startswith("CPU floor"):  # the floor table: value, then / docker-registry
        r = find(table, key)
        return r and f"| {label} | {r[0]} | — | {r[1]} of Distribution's push | |"
    keys = key if isinstance(key, tuple) else (key,)
    found = [find(table, k) for k in keys]
    if not all(found):
        return None
    d = [number(r[0]) for r in found]
    p = [number(r[1]) for r in found]
    ratio = "—"
    if len(keys) == 1 and d[0] is not None and p[0]:
        r = d[0] / p[0]
        ratio = f"{r:.2f}" if r >= 0.1 else f"{r:.2g}"
    return f"| {label} | {' / '.join(map(fmt, d))} | {' / '.join(map(fmt, p))} | {ratio} | {target} |"


def main():
    table = rows(sys.argv[1:])
    out = ["# Benchmark results", "",
           "drydock against Debian's docker-registry (CNCF Distribution 2.8), both on this machine in the same "
           "run, produced by `make bench` (bench/run.sh); each section below says how it measures. The machines "
           "are shared and noisy: compare the ratios, measured side by side, rather than absolute numbers.", "",
           "## Key numbers", "",
           "The rows below picked from the sections that follow, same run; drydock scanning every push "
           "unless a row says otherwise. Ratio = drydock / docker-registry (Distribution); where the "
           "ratio is for a target, the target column says which way is better.", "",
           "| measure | drydock | docker-registry | ratio | target |", "|---|---|---|---|---|"]
    alone, group = False, None
    for label, key, target in ROWS:
        if key is None:
            group, alone = f"| **{label}** | | | | |", label in ALONE
            continue
        row = render(table, label, key, target, alone)
        if row and group:  # a group's title only above rows the run produced
            out.append(group)
            group = None
        if row:
            out.append(row)
    print("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
