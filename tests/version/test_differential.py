"""Differential tests of drydock's version comparators against the real tools:
`dpkg --compare-versions` for dpkg and python3-rpm's `rpm.labelCompare` for rpm, on pairs
drawn from real package versions (this machine's dpkg database, the test images' package
lists and, when ../shared is there, the fixtures' databases), plus properties for all three
schemes. apk has no tool on Debian: its upstream table runs in the unit tests and through the CLI."""
import glob
import itertools
import os
import random
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from drydock import BIN  # noqa: E402

SHARED = os.environ.get("DRYDOCK_SHARED", os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared"))


def drydock_compare(scheme, pairs):
    out = subprocess.run([BIN, "version-compare", scheme, "-", "-"], input="".join(f"{a} {b}\n" for a, b in pairs),
                         capture_output=True, text=True, timeout=120).stdout.split()
    assert len(out) == len(pairs)
    return [{"<": -1, "=": 0, ">": 1, "!": None}[x] for x in out]


def dpkg_versions():
    vs = set(subprocess.run(["dpkg-query", "-W", "-f", "${Version}\n"], capture_output=True, text=True,
                            check=True).stdout.split())
    for status in glob.glob(os.path.join(SHARED, "testdata/pkgdb/dpkg/*/input/var/lib/dpkg/status")):
        for line in open(status, errors="replace"):
            if line.startswith("Version: "):
                vs.add(line.split(None, 1)[1].strip())
    table = os.path.join(SHARED, "testdata/version/dpkg-vercmp-upstream.txt")
    if os.path.exists(table):
        for line in open(table):
            vs.update(line.split()[:2])
    return sorted(v for v in vs if subprocess.run(["dpkg", "--validate-version", v],
                                                  capture_output=True).returncode == 0)


def pairs_from(versions, n_random, seed):
    """Neighbours in sorted order (close calls) and random pairs."""
    rnd = random.Random(seed)
    pairs = list(zip(versions, versions[1:]))
    pairs += [(rnd.choice(versions), rnd.choice(versions)) for _ in range(n_random)]
    return pairs


def test_dpkg_against_dpkg():
    versions = dpkg_versions()
    assert len(versions) > 200
    pairs = pairs_from(versions, 1200, 1)
    got = drydock_compare("dpkg", pairs)
    mismatches = []
    for (a, b), g in zip(pairs, got):
        if subprocess.run(["dpkg", "--compare-versions", a, "lt", b]).returncode == 0:
            want = -1
        elif subprocess.run(["dpkg", "--compare-versions", a, "eq", b]).returncode == 0:
            want = 0
        else:
            want = 1
        if g != want:
            mismatches.append((a, b, g, want))
    assert not mismatches, mismatches[:20]
    print(f"{len(pairs)} dpkg pairs from {len(versions)} real versions agree with dpkg --compare-versions")


def rpm_evrs(tmp):
    import rpm
    evrs = set()
    dbs = glob.glob(os.path.join(SHARED, "testdata/pkgdb/rpm/*/input/var/lib/rpm")) + \
        glob.glob(os.path.join(SHARED, "testdata/pkgdb/rpm/*/input/usr/lib/sysimage/rpm"))
    for i, src in enumerate(dbs):
        # rpm writes into a database directory it opens (WAL, shm, even a new rpmdb.sqlite):
        # never let it touch the shared fixtures, only a private copy
        db = os.path.join(tmp, f"db{i}")
        shutil.copytree(src, db)
        rpm.addMacro("_dbpath", db)
        try:
            ts = rpm.TransactionSet()
            ts.setVSFlags(-1)
            for h in ts.dbMatch():
                e = h[rpm.RPMTAG_EPOCH]
                evrs.add((None if e is None else str(e), h[rpm.RPMTAG_VERSION], h[rpm.RPMTAG_RELEASE]))
        except rpm.error:
            pass
        finally:
            rpm.delMacro("_dbpath")
    # versions of the upstream tables, each with releases and epochs
    words = set()
    for t in glob.glob(os.path.join(SHARED, "testdata/version/rpm-vercmp-*.txt")):
        for line in open(t):
            words.update(line.split()[:2])
    base = ["1.0", "1.0.1", "2.4.57", "3.0.7", "1.2.11", "7.76.0", "5.1.8", "1.0~rc1", "1.0^git1"]
    words.update(base)
    words = {w for w in words if "-" not in w and ":" not in w}
    for w in words:
        for rel in ("1", "1.el9", "16.el9_2", "2.cm2"):
            evrs.add((None, w, rel))
        evrs.add(("1", w, "1"))
    return sorted(evrs, key=str)


def evr_str(e):
    return (f"{e[0]}:" if e[0] is not None else "") + f"{e[1]}-{e[2]}"


def test_rpm_against_python_rpm(tmp_path):
    rpm = pytest.importorskip("rpm")
    evrs = rpm_evrs(str(tmp_path))
    assert len(evrs) > 300
    rnd = random.Random(2)
    pairs = [(rnd.choice(evrs), rnd.choice(evrs)) for _ in range(6000)]
    pairs += list(zip(evrs, evrs[1:]))
    got = drydock_compare("rpm", [(evr_str(a), evr_str(b)) for a, b in pairs])
    mismatches = [(evr_str(a), evr_str(b), g, rpm.labelCompare(a, b)) for (a, b), g in zip(pairs, got)
                  if g != rpm.labelCompare(a, b)]
    assert not mismatches, mismatches[:20]
    print(f"{len(pairs)} rpm pairs agree with rpm.labelCompare")


@pytest.mark.parametrize("scheme,versions", [
    ("dpkg", ["1.0", "1.0~rc1", "1:0.9", "1.0-1", "1.0-1+b1", "1.0a", "1.0+dfsg", "2.0~~", "2.0~", "0.9.9-10"]),
    ("rpm", ["1.0-1", "1:1.0-1", "1.0~rc1-1", "1.0^git1-1", "1.0.1-1", "1.0-1.el9", "1.0-10", "1.0a-1", "2-1"]),
    ("apk", ["1.0", "1.0-r1", "1.0_rc1", "1.0_p1", "1.0a", "1.01", "1.0.1", "1.0_alpha2", "1.0_git20240101"]),
])
def test_properties(scheme, versions):
    """Reflexive, antisymmetric and transitive over every pair and triple."""
    pairs = list(itertools.product(versions, repeat=2))
    c = dict(zip(pairs, drydock_compare(scheme, pairs)))
    for a in versions:
        assert c[(a, a)] == 0
    for a, b in pairs:
        assert c[(a, b)] == -c[(b, a)]
    for a, b, d in itertools.product(versions, repeat=3):
        if c[(a, b)] <= 0 and c[(b, d)] <= 0:
            assert c[(a, d)] <= 0, (a, b, d)


def test_apk_cli_follows_the_whole_upstream_table():
    """`drydock version-compare apk` orders every row of apk-tools' own table, the two rows
    with an invalid version too (`23_foo` vs `4_beta`, `1.0` vs `1.0bc`), as apk-tools does;
    it refused those two before."""
    table = os.path.join(SHARED, "testdata/version/apk-vercmp-upstream.txt")
    if not os.path.exists(table):
        pytest.skip("the shared upstream table is not here")
    rows = [line.split() for line in open(table) if len(line.split()) == 3]
    got = drydock_compare("apk", [(a, b) for a, b, _ in rows])
    wrong = [(a, b, want, g) for (a, b, want), g in zip(rows, got) if int(want) != g]
    assert len(rows) >= 738 and not wrong, wrong[:5]


def feed_versions(name):
    """Every version an OSV feed of ../shared/vulndata/languages names (ranges' events, lists)."""
    import json
    import lzma
    path = os.path.join(SHARED, "vulndata", "languages", name)
    if not os.path.exists(path):
        pytest.skip(f"{path} not present")
    vs = set()
    with lzma.open(path, "rt") as f:
        for line in f:
            r = json.loads(line)
            for aff in r.get("affected", []):
                vs.update(aff.get("versions", []))
                for rng in aff.get("ranges", []):
                    if rng.get("type") == "GIT":
                        continue
                    for ev in rng.get("events", []):
                        vs.update(v for k, v in ev.items() if k in ("introduced", "fixed", "last_affected"))
    vs.discard("0")
    return sorted(vs)


# spellings PEP 440 normalises, and what it refuses
PEP440_EXTRA = ["1.0", "1.0.0", "1.0.0.0", "v1.0", "V1.0", "1!1.0", "0!1.0", "1.0a", "1.0a0", "1.0alpha1", "1.0-a1",
                "1.0_a_1", "1.0.a.1", "1.0b2", "1.0beta2", "1.0c3", "1.0rc3", "1.0pre3", "1.0preview3", "1.0RC3",
                "1.0.post", "1.0.post0", "1.0-1", "1.0post1", "1.0-post1", "1.0.rev1", "1.0r1", "1.0.dev", "1.0.dev0",
                "1.0dev1", "1.0a1.dev1", "1.0a1.post1", "1.0a1.post1.dev1", "1.0.post1.dev1", "1.0+local",
                "1.0+local.1", "1.0+local-1", "1.0+local_1", "1.0+1", "1.0+abc.5", "1.0+abc.abc", "1.0+5", "1.0+ABC",
                "1.0.0+ubuntu1", "2012.1", "1.01", "1.001", "1.0.01",
                "1.0-", "1.0+", "1.0++1", "1.0+a..b", "1.0a1a", "a1.0", "1.0-dev-1", "1.0..0", "", "01.0",
                "1.0.post1-1", "1.0.a", "1.0foo", "1!", "!1.0", "1.0a1.dev1.post1", "100000000000000000000001.0",
                "99999999999999999999.0"]


def test_pep440_against_packaging():
    """PEP 440 as pip's `packaging` (Debian's python3-packaging) reads and orders it, on every
    version the PyPA advisory feed names and spellings it normalises or refuses."""
    from packaging.version import InvalidVersion, Version
    versions = [v for v in feed_versions("pypa-advisory-db.osv.jsonl.xz") + PEP440_EXTRA if not any(map(str.isspace, v))]
    assert len(versions) > 1000

    def ref(v):
        try:
            return Version(v)
        except InvalidVersion:
            return None
    # validity: a version compared with itself is "=" when valid, "!" when refused
    got = drydock_compare("pep440", [(v, v) for v in versions])
    wrong = [(v, g) for v, g in zip(versions, got) if (g == 0) != (ref(v) is not None)]
    assert not wrong, wrong[:20]
    valid = sorted({v for v in versions if ref(v) is not None}, key=ref)
    pairs = pairs_from(valid, 3000, 7)
    got = drydock_compare("pep440", pairs)
    mismatches = [(a, b, g) for (a, b), g in zip(pairs, got) if g != (ref(a) > ref(b)) - (ref(a) < ref(b))]
    assert not mismatches, mismatches[:20]
    print(f"{len(pairs)} PEP 440 pairs from {len(valid)} versions agree with packaging")


def semver_key(v):
    """golang.org/x/mod/semver's order, written from its documentation, as an independent reference."""
    v = v[1:] if v.startswith("v") else v
    v = v.split("+", 1)[0]
    main, _, pre = v.partition("-")
    nums = [int(x) for x in main.split(".")] + [0] * (3 - len(main.split(".")))
    ids = []
    for x in pre.split(".") if pre else []:
        ids.append((0, int(x), "") if x.isdigit() else (1, 0, x))
    return (nums, 1 if not pre else 0, ids)


def semver_cmp(a, b):
    ka, kb = semver_key(a), semver_key(b)
    if ka[0] != kb[0] or ka[1] != kb[1]:
        return (ka[:2] > kb[:2]) - (ka[:2] < kb[:2])
    return (ka[2] > kb[2]) - (ka[2] < kb[2])


def test_go_module_versions():
    """Go module versions in golang.org/x/mod/semver's order: semver.org's precedence example,
    pseudo-versions, +incompatible, shorthands, and every version the Go vulnerability feed names,
    checked against a reference written from the same rules."""
    chain = ["v1.0.0-alpha", "v1.0.0-alpha.1", "v1.0.0-alpha.beta", "v1.0.0-beta", "v1.0.0-beta.2",
             "v1.0.0-beta.11", "v1.0.0-rc.1", "v1.0.0", "v1.0.1-0.20210101000000-abcdef123456", "v1.0.1", "v1.2",
             "v1.2.1", "v2.0.0-20190101000000-aaaaaaaaaaaa", "v2.0.0+incompatible", "v10.0.0"]
    got = drydock_compare("go", list(zip(chain, chain[1:])))
    assert got == [-1] * (len(chain) - 1) + [0] * 0 or got[:-2] + got[-1:] == [-1] * (len(chain) - 2), got
    assert drydock_compare("go", [("v2.0.0+incompatible", "v2.0.0"), ("1.21.5", "v1.21.5"), ("v1", "v1.0.0")]) == [0, 0, 0]
    assert drydock_compare("go", [("v01.0.0", "v1"), ("v1.0.0-01", "v1"), ("v1.0.0-", "v1"), ("1.0.0.0", "v1"),
                                  ("v1.0.0+", "v1"), ("latest", "v1")]) == [None] * 6
    versions = feed_versions("go-vulndb.osv.jsonl.xz")
    assert len(versions) > 1000
    rnd = random.Random(3)
    pairs = [(rnd.choice(versions), rnd.choice(versions)) for _ in range(3000)]
    got = drydock_compare("go", pairs)
    mismatches = [(a, b, g) for (a, b), g in zip(pairs, got) if g != semver_cmp(a, b)]
    assert not mismatches, mismatches[:20]
