"""Application packages read from a real image's layers and matched against the real language
feeds: the image tests/images/build-app.sh builds (Go binaries from a Debian package, Python
distributions pip installed from Debian's wheels, a Python package dpkg installed, an npm tree
npm installed from the npm registry, a lock file alone, a Cargo.lock, a whiteout). The expected
findings were checked by hand against the feed records named below; Go's standard library is
checked against an independent reading of the Go vulnerability database."""
import json
import lzma
import os
import re
import shutil
import subprocess
import time

import pytest

from drydock import BIN, VULNDATA, cached_images


@pytest.fixture(scope="module")
def app():
    return os.path.join(cached_images("build-app.sh"), "app")


def run_json(*args):
    r = subprocess.run([BIN, *args], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def lang(pkgs):
    return sorted((p["type"], p["name"], p["version"], p["path"]) for p in pkgs if p.get("ecosystem"))


def test_app_image_inventory(app):
    doc = run_json("sbom", "--format", "json", app)
    got = lang(doc["packages"])
    std = [p for p in got if p[1] == "stdlib"]
    # age and age-keygen (Debian's package, built with Go): one toolchain, so one package naming both
    assert len(std) == 1 and std[0][3] == "usr/bin/age, usr/bin/age-keygen", std
    assert re.fullmatch(r"1\.\d+\.\d+", std[0][2])
    assert got == sorted([
        # pip's own install from Debian's wheels, under /usr/local
        ("python", "pip", "23.0.1", "usr/local/lib/python3.11/dist-packages/pip-23.0.1.dist-info/METADATA"),
        ("python", "setuptools", "66.1.1", "usr/local/lib/python3.11/dist-packages/setuptools-66.1.1.dist-info/METADATA"),
        ("python", "wheel", "0.38.4", "usr/local/lib/python3.11/dist-packages/wheel-0.38.4.dist-info/METADATA"),
        # the installed tree, where the third layer deleted minimist; the lock alone elsewhere
        ("npm", "lodash", "4.17.15", "srv/lock-only/package-lock.json, srv/web/node_modules/lodash/package.json"),
        ("npm", "minimist", "1.2.0", "srv/lock-only/package-lock.json"),
        # crates from the registry only: the workspace's own crate is not crates.io's
        ("cargo", "smallvec", "1.6.0", "srv/rust/Cargo.lock"),
        ("cargo", "time", "0.1.43", "srv/rust/Cargo.lock"),
        # cargo auditable's list in a binary's .dep-v0 section: crates.io's crates only
        ("cargo", "regex", "1.5.4", "usr/local/bin/rust-app"),
        # fastjar's jars: by pom.properties (the same version in the war's WEB-INF/lib: one
        # package naming both), by the manifest's bundle headers, by the file name alone
        ("maven", "org.apache.logging.log4j:log4j-core", "2.14.1",
         "srv/java/app.war!/WEB-INF/lib/log4j-core-2.14.1.jar, srv/java/log4j-core-2.14.1.jar"),
        ("maven", "org.apache.commons:commons-text", "1.9", "srv/java/commons-text.jar"),
        ("maven", "guava", "30.0-jre", "srv/java/guava-30.0-jre.jar"),
        std[0],
    ])
    # python3-six is dpkg's: reported once, as the OS package
    assert any(p["type"] == "dpkg" and p["name"] == "python3-six" for p in doc["packages"])
    purls = {p["name"]: p["purl"] for p in doc["packages"] if p.get("ecosystem")}
    assert purls["pip"] == "pkg:pypi/pip@23.0.1" and purls["lodash"] == "pkg:npm/lodash@4.17.15"
    assert purls["smallvec"] == "pkg:cargo/smallvec@1.6.0" and purls["stdlib"].startswith("pkg:golang/stdlib@1.")
    assert purls["org.apache.logging.log4j:log4j-core"] == "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"
    layers = {p["name"]: p["layer"] for p in doc["packages"]}
    assert layers["lodash"] == layers["pip"] == layers["age"] != layers["base-files"]
    cdx = run_json("sbom", "--format", "cyclonedx", app)
    comp = {c["name"]: c for c in cdx["components"]}
    assert comp["lodash"]["purl"] == "pkg:npm/lodash@4.17.15"
    props = {p["name"]: p["value"] for p in comp["smallvec"]["properties"]}
    assert props["drydock:package:path"] == "srv/rust/Cargo.lock" and props["drydock:package:type"] == "cargo"


def semver_key(v):
    """Go's stdlib versions as the Go vulnerability database writes them: X.Y.Z[-pre]."""
    core, _, pre = v.partition("-")
    nums = tuple(int(x) for x in core.split("."))
    nums += (0,) * (3 - len(nums))
    if not pre:
        return nums + (1,)
    return nums + (0, tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split(".")))


def go_affected(version, rng_events):
    """OSV's range evaluation, written again: sorted events, introduced opens, fixed closes."""
    key = semver_key(version)
    ev = sorted(rng_events, key=lambda e: (semver_key(list(e.values())[0]) if list(e.values())[0] != "0" else (-1,)))
    hit, fix = False, None
    for e in ev:
        kind, v = next(iter(e.items()))
        at = (-1,) if v == "0" else semver_key(v)
        if kind == "introduced" and key >= at:
            hit = True
        elif kind == "fixed":
            if key >= at:
                hit = False
            elif hit and fix is None:
                fix = v
        elif kind == "last_affected" and key > at:
            hit = False
    return hit, fix


def stdlib_expected(version):
    return go_expected("stdlib", version)


def go_expected(module, version):
    """The Go database's records for a module at a version, read again here: {id: fixed}."""
    version = version[1:] if version.startswith("v") else version
    out = {}
    with lzma.open(os.path.join(VULNDATA, "languages", "go-vulndb.osv.jsonl.xz"), "rt") as f:
        for line in f:
            r = json.loads(line)
            if r.get("withdrawn"):
                continue
            for a in r["affected"]:
                if a["package"]["name"] != module or a["package"]["ecosystem"] != "Go":
                    continue
                for rg in a.get("ranges", []):
                    if rg["type"] != "SEMVER":
                        continue
                    hit, fix = go_affected(version, rg["events"])
                    if hit:
                        out[r["id"]] = fix
    return out


def test_app_image_findings(full_db, app):
    r = run_json("scan", "--db", full_db, "--format", "json", app)
    assert r["ecosystem"] == "Debian:12" and r["status"] == "Unhealthy"
    mine = [f for f in r["findings"] if f.get("path")]
    by = {}
    for f in mine:
        by.setdefault((f["ecosystem"], f["package"]), {})[f["id"]] = f
    # PyPA PYSEC-2023-228 (CVE-2023-5752): pip before 23.3. setuptools 66.1.1 is past
    # PYSEC-2022-43012's fix (65.5.1), wheel 0.38.4 past PYSEC-2022-43017's (0.38.1).
    pip = by[("PyPI", "pip")]
    assert set(pip) == {"PYSEC-2023-228"} and pip["PYSEC-2023-228"]["fixed_version"] == "23.3"
    assert "CVE-2023-5752" in pip["PYSEC-2023-228"]["aliases"]
    assert ("PyPI", "setuptools") not in by and ("PyPI", "wheel") not in by and ("PyPI", "six") not in by
    # Node.js WG npm advisory 516: lodash >=4.17.15 <4.17.19 (368 and 493 are below 4.17.15);
    # minimist 1.2.0 has no advisory in this snapshot
    lo = by[("npm", "lodash")]
    assert set(lo) == {"NSWG-ECO-516"} and lo["NSWG-ECO-516"]["fixed_version"] == "4.17.19"
    assert "srv/web/node_modules/lodash/package.json" in lo["NSWG-ECO-516"]["remediation"]
    assert ("npm", "minimist") not in by
    # RustSec: RUSTSEC-2021-0003 (CVE-2021-25900) smallvec patched >= 1.6.1; RUSTSEC-2020-0071
    # (CVE-2020-26235) time: 0.1.43 is neither patched (>= 0.2.23) nor unaffected (= 0.2.0 ...
    # = 0.2.6), and the nearest safe version is 0.2.0; RUSTSEC-2026-0009 is unaffected below 0.3.6
    assert {i: f["fixed_version"] for i, f in by[("crates.io", "smallvec")].items()} == {"CVE-2021-25900": "1.6.1"}
    assert {i: f["fixed_version"] for i, f in by[("crates.io", "time")].items()} == {"CVE-2020-26235": "0.2.0"}
    # RUSTSEC-2022-0013 (CVE-2022-24713): regex patched >= 1.5.5, found in the binary's .dep-v0
    rx = by[("crates.io", "regex")]
    assert {i: f["fixed_version"] for i, f in rx.items()} == {"CVE-2022-24713": "1.5.5"}
    assert rx["CVE-2022-24713"]["path"] == "usr/local/bin/rust-app"
    # Go's standard library at the toolchain that built age, against the feed read again here
    std = by[("Go", "stdlib")]
    version = next(iter(std.values()))["installed_version"]
    want = stdlib_expected(version)
    assert want and {i: f["fixed_version"] for i, f in std.items()} == want
    for f in std.values():
        assert f["remediation"].startswith("rebuild usr/bin/age, usr/bin/age-keygen with Go ")
        assert f["severity"] in {"CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"}
    # GO-2023-1751 (CVE-2023-24539, html/template): fixed in 1.19.9 and 1.20.4
    if version.startswith("1.19.") and int(version.split(".")[2]) < 9:
        assert std["GO-2023-1751"]["fixed_version"] == "1.19.9"
    # a Go advisory without a vector of its own takes the one another feed gives its CVE
    assert any(f["severity_source"] == "cvss" for f in std.values())
    # one finding per issue and file set
    keys = [(f["id"], f["package"], f.get("path")) for f in r["findings"]]
    assert len(keys) == len(set(keys))


def test_scratch_with_a_go_binary(full_db, tmp_path):
    """No OS at all (FROM scratch) and a Go binary: its standard library is still matched."""
    root = tmp_path / "rootfs"
    (root / "app").mkdir(parents=True)
    go = None
    for cand in ("/usr/bin/ctr", "/usr/bin/skopeo", "/usr/bin/podman", "/usr/bin/containerd"):
        if os.path.exists(cand):
            go = cand
            break
    if not go:
        pytest.skip("no Go binary from a Debian package on this machine")
    with open(go, "rb") as src, open(root / "app" / "server", "wb") as dst:
        dst.write(src.read())
    os.chmod(root / "app" / "server", 0o755)
    r = run_json("scan", "--db", full_db, "--format", "json", str(root))
    assert r["status"] == "Unhealthy" and r["ecosystem"] is None
    assert {f["ecosystem"] for f in r["findings"]} == {"Go"}
    assert all(f["path"] == "app/server" and f["package"] == "stdlib" for f in r["findings"])
    # nothing to match at all is still not "healthy"
    (root / "app" / "server").unlink()
    r = run_json("scan", "--db", full_db, "--format", "json", str(root))
    assert r["status"] == "NotApplicable"


@pytest.fixture(scope="module")
def oldgo():
    return os.path.join(cached_images("build-oldgo.sh"), "oldgo")


def test_go_binaries_before_1_18(full_db, oldgo, tmp_path):
    """Go 1.13 to 1.17 wrote build information that points to its strings instead of holding
    them, and the strings come earlier in the file than the pointers: Debian 11's age (Go 1.15.9,
    GOPATH mode: a version, no module list) and npm's esbuild-linux-64 0.8.57 (go1.16, module
    mode: golang.org/x/sys in its list; its version is followed in the file by other bytes,
    and "go1.13" appears elsewhere in it). Read from the image's layer as it streams and from a
    directory; matched against the Go database read again here."""
    esb = "srv/node_modules/esbuild-linux-64/bin/esbuild"
    want = sorted([("go", "stdlib", "1.15.9", "usr/bin/age, usr/bin/age-keygen"),
                   ("go", "stdlib", "1.16.0", esb),
                   ("go", "golang.org/x/sys", "v0.0.0-20200501145240-bc7a7d42d5c3", esb),
                   ("npm", "esbuild-linux-64", "0.8.57", "srv/node_modules/esbuild-linux-64/package.json")])
    assert lang(run_json("sbom", "--format", "json", oldgo)["packages"]) == want
    import tarfile
    with open(os.path.join(oldgo, "index.json")) as f:
        man = json.load(open(os.path.join(oldgo, "blobs", *json.load(f)["manifests"][0]["digest"].split(":"))))
    with tarfile.open(os.path.join(oldgo, "blobs", *man["layers"][0]["digest"].split(":"))) as t:
        t.extractall(tmp_path / "rootfs")
    assert lang(run_json("sbom", "--format", "json", str(tmp_path / "rootfs"))["packages"]) == want
    r = run_json("scan", "--db", full_db, "--format", "json", oldgo)
    assert r["status"] == "Unhealthy"
    by = {}
    for f in r["findings"]:
        by.setdefault((f["package"], f["installed_version"]), {})[f["id"]] = f["fixed_version"]
    for module, version in (("stdlib", "1.15.9"), ("stdlib", "1.16.0"),
                            ("golang.org/x/sys", "v0.0.0-20200501145240-bc7a7d42d5c3")):
        exp = go_expected(module, version)
        assert exp and by.get((module, version)) == exp, (module, version)
    # GO-2022-0493 (CVE-2022-29526): golang.org/x/sys/unix before 0.0.0-20220412211240-33da011f77ad
    assert by[("golang.org/x/sys", "v0.0.0-20200501145240-bc7a7d42d5c3")]["GO-2022-0493"] == \
        "0.0.0-20220412211240-33da011f77ad"


def old_go_elf(layout, size=0x3000):
    """A small ELF laid out as Go 1.13-1.17 lay theirs out: Go's build ID note in the first page,
    then what `layout` puts where (offset: bytes), the build information holding pointers."""
    import struct
    va = 0x400000
    f = bytearray(size)
    f[0:16] = b"\x7fELF\x02\x01\x01" + bytes(9)
    struct.pack_into("<HHIQQQIHHHHHH", f, 16, 2, 0x3e, 1, va, 0x40, 0, 0, 64, 56, 1, 64, 0, 0)
    struct.pack_into("<IIQQQQQQ", f, 0x40, 1, 5, 0, va, va, size, size, 0x1000)  # one PT_LOAD
    struct.pack_into("<III", f, 0xf4, 4, 4, 4)
    f[0x100:0x108] = b"Go\0\0abcd"
    for off, b in layout(va).items():
        f[off:off + len(b)] = b
    return bytes(f)


GO_MOD_START = bytes.fromhex("3077af0c9274080241e1c107e6d618e6")
GO_MOD_END = bytes.fromhex("f932433186182072008242104116d8f2")


def test_old_go_build_information_takes_only_what_its_pointers_name(tmp_path):
    """What an old Go binary's pointers name, and nothing else: a module list embedded before
    the real one (another binary's, uncompressed) is not taken for it, nor is the span from a
    lone start sentinel to the real list's end; the version is the "go1." the string header
    names, with the length it gives."""
    import struct
    real = GO_MOD_START + b"path\tex\nmod\tex\t(devel)\t\ndep\tgolang.org/x/text\tv0.3.0\th1:abc=\n" + GO_MOD_END
    decoy = GO_MOD_START + b"path\tdecoy\nmod\tdecoy\t(devel)\t\ndep\tgolang.org/x/decoy\tv9.9.9\th1:x=\n" + GO_MOD_END

    def layout(first):
        def place(va):
            out = {0x1000: b"go1.13.go xx go1.12 ", 0x1100: b"go1.16gopher", 0x1200: first, 0x1400: real,
                   0x2000: b"\xff Go buildinf:" + bytes([8, 0]) + struct.pack("<QQ", va + 0x2100, va + 0x2110),
                   0x2100: struct.pack("<QQQQ", va + 0x1100, 6, va + 0x1400, len(real))}
            return out
        return place

    for name, first in (("decoy", decoy), ("lone", GO_MOD_START + b"junk" * 20), ("none", b"")):
        root = tmp_path / name
        root.mkdir()
        (root / "app").write_bytes(old_go_elf(layout(first)))
        os.chmod(root / "app", 0o755)
        got = {(p["name"], p["version"]) for p in run_json("sbom", "--format", "json", str(root))["packages"]}
        assert ("stdlib", "1.16.0") in got, (name, got)
        assert not any("decoy" in n or "junk" in n for n, _ in got), (name, got)
        if name == "none":
            assert ("golang.org/x/text", "v0.3.0") in got, got


def go_record_imports(module):
    """The Go database's packages per record for a module, read again here: {id: {paths}}."""
    out = {}
    with lzma.open(os.path.join(VULNDATA, "languages", "go-vulndb.osv.jsonl.xz"), "rt") as f:
        for line in f:
            r = json.loads(line)
            for a in r["affected"]:
                if a["package"]["name"] == module and a["package"]["ecosystem"] == "Go":
                    for i in (a.get("ecosystem_specific") or {}).get("imports", []):
                        out.setdefault(r["id"], set()).add(i["path"])
    return out


def holds(binary, package):
    """Whether a Go binary names a function of the package: in its function name table each name
    follows a NUL, and the linker writes the dots of a path's last element as %2e."""
    head, _, last = package.rpartition("/")
    name = (head + "/" if head else "") + last.replace(".", "%2e")
    return b"\0" + name.encode() + b"." in binary


def layout_files(layout, wanted):
    """The files at the paths `wanted` from an OCI layout's layers (the last layer's copy)."""
    import tarfile
    with open(os.path.join(layout, "index.json")) as f:
        man = json.load(open(os.path.join(layout, "blobs", *json.load(f)["manifests"][0]["digest"].split(":"))))
    out = {}
    for layer in man["layers"]:
        with tarfile.open(os.path.join(layout, "blobs", *layer["digest"].split(":"))) as t:
            for m in t.getmembers():
                name = m.name.lstrip("./")
                if name in wanted and m.isfile():
                    out[name] = t.extractfile(m).read()
    return out


def check_go_reach(report, files, unknown=()):
    """Each Go finding names the packages its record names, and says whether a binary it was
    found in holds code of one of them, as the binaries' bytes say (not known for the versions
    in `unknown`, whose binaries have no function name table to read)."""
    seen = {True: 0, False: 0}
    records = {}
    for f in report["findings"]:
        if f["ecosystem"] != "Go":
            continue
        if f["package"] not in records:
            records[f["package"]] = go_record_imports(f["package"])
        want = records[f["package"]].get(f["id"], set())
        assert set(f.get("vulnerable_packages", [])) == want, f
        if not want or f["installed_version"] in unknown:
            assert "imported" not in f, f
            continue
        bins = [files[p] for p in f["path"].split(", ")]
        assert f["imported"] == any(holds(b, p) for b in bins for p in want), f
        seen[f["imported"]] += 1
    return seen


def test_go_findings_say_whether_the_binary_holds_the_package(full_db, app, oldgo, tmp_path):
    """Where the Go database names the packages the vulnerable code is in, a finding names them
    and says whether the binary holds code of any (its function name table, which no strip
    removes, names every function the linker kept). Checked against the binaries' own bytes:
    Debian's age (Go 1.19: no net/http, so its HTTP advisories are not in it), npm's esbuild
    (Go 1.16: golang.org/x/sys/unix and net/http in it, html/template not), and Go 1.15's age, whose table says nothing."""
    r = run_json("scan", "--db", full_db, "--format", "json", app)
    seen = check_go_reach(r, layout_files(app, {"usr/bin/age", "usr/bin/age-keygen"}))
    assert seen[True] and seen[False], seen
    std = {f["id"]: f for f in r["findings"] if f["package"] == "stdlib"}
    # GO-2023-1751 (CVE-2023-24539) is in html/template, which age does not use
    assert std["GO-2023-1751"]["vulnerable_packages"] == ["html/template"] and std["GO-2023-1751"]["imported"] is False
    esb = "srv/node_modules/esbuild-linux-64/bin/esbuild"
    r = run_json("scan", "--db", full_db, "--format", "json", oldgo)
    seen = check_go_reach(r, layout_files(oldgo, {esb}), unknown={"1.15.9"})
    assert seen[True] and seen[False], seen
    xsys = next(f for f in r["findings"] if f["id"] == "GO-2022-0493" and f["package"] == "golang.org/x/sys")
    assert xsys["vulnerable_packages"] == ["golang.org/x/sys/unix"] and xsys["imported"] is True
    sb = {p["name"] + " " + p["version"]: p for p in run_json("sbom", "--format", "json", oldgo)["packages"]}
    assert sb["golang.org/x/sys v0.0.0-20200501145240-bc7a7d42d5c3"]["go_packages"] == ["golang.org/x/sys/unix"]
    assert "html/template" not in sb["stdlib 1.16.0"]["go_packages"] and "net/http" in sb["stdlib 1.16.0"]["go_packages"]
    assert "go_packages" not in sb["stdlib 1.15.9"]
    # the same in SARIF's properties, and CycloneDX's analysis of what the binary does not hold
    sarif = run_json("scan", "--db", full_db, "--format", "sarif", app)
    res = next(x for x in sarif["runs"][0]["results"] if x["ruleId"] == "GO-2023-1751")
    assert res["properties"]["imported"] is False and res["properties"]["vulnerablePackages"] == ["html/template"]
    cdx = run_json("scan", "--db", full_db, "--format", "cyclonedx", app)
    v = next(x for x in cdx["vulnerabilities"] if x["id"] == "GO-2023-1751")
    assert v["analysis"]["state"] == "not_affected" and v["analysis"]["justification"] == "code_not_present"
    table = subprocess.run([BIN, "scan", "--db", full_db, app], capture_output=True, text=True).stdout
    line = next(l for l in table.splitlines() if " GO-2023-1751 " in l)
    assert line.endswith("(the binary holds no code of html/template)"), line


def go_elf(tables, names=None, mods=None, size=0x3000, info_at=0x2800, extra=None):
    """A small Go 1.20 ELF: Go's build ID note in the first page, the build information (1.18
    form) at info_at, and a function name table (pclntab header, then the names) at each offset
    of `tables` (a header whose offsets are not sound where the value is None); `extra` puts
    more bytes where it says."""
    import struct
    names = names or [b"internal/cpu.Initialize", b"runtime.main", b"net/http.(*Client).Do",
                      b"net/http.(*Transport).roundTrip.func1", b"github.com/a/b/x.F",
                      b"github.com/a/b/x.G[github.com/zzz/q.T]", b"github.com/a/b/v2/y.(*T[go.shape.int]).M",
                      b"gopkg.in/yaml%2ev3.Unmarshal", b"type:.eq.net/smtp.Client", b"go:buildid",
                      b"type..eq.archive/zip.File", b"github.com/old/mod/sub.Func", b"example.com/app/z.F",
                      b"main.main", b"main.init.0"]
    blob = b"".join(n + b"\0" for n in names)
    mods = mods or (b"path\texample.com/app\nmod\texample.com/app\t(devel)\t\n"
                    b"dep\tgithub.com/a/b\tv1.0.0\th1:x=\ndep\tgithub.com/a/b/v2\tv2.1.0\th1:y=\n"
                    b"dep\tgopkg.in/yaml.v3\tv3.0.0\th1:z=\ndep\tgithub.com/old/mod\tv1.0.0\n"
                    b"=>\tgithub.com/new/mod\tv1.2.0\th1:w=\n")
    ver, mod = b"go1.20.1", GO_MOD_START + mods + GO_MOD_END
    info = b"\xff Go buildinf:" + bytes([8, 2]) + bytes(16) + bytes([len(ver)]) + ver
    info += bytes([len(mod) & 0x7f | 0x80, len(mod) >> 7]) + mod

    def place(va):
        out = dict(extra or {})
        out[info_at] = info
        for off, sound in tables.items():
            fn = 96  # after the 72-byte header, aligned as the linker aligns it
            end = fn + len(blob) if sound else 8
            out[off] = struct.pack("<IBBBBQQQQQQQQ", 0xfffffff1, 0, 0, 1, 8, len(names), 3, va + 0x400,
                                   fn, end, end, end, end) + bytes(24) + (blob if sound else b"")
        return out
    return old_go_elf(place, size)


def test_go_function_names_give_each_module_its_packages(full_db, tmp_path):
    """The packages a Go binary holds code of, from the function names its pclntab lists: the
    package is what precedes the first dot after the last slash, generic arguments left out, the
    linker's %2e read as a dot; the compiler's own names (type:, go:, type..) and the main
    package are no package's; each module gets its own (the longest path that fits), a replaced
    one under its replacement's path. A header that is not sound is passed over; two tables
    (another Go binary inside this one) say nothing, since which is this binary's is unknown."""
    def sbom(tables):
        root = tmp_path / ("t" + "-".join(f"{o:x}{int(bool(s))}" for o, s in tables.items()))
        root.mkdir()
        (root / "app").write_bytes(go_elf(tables))
        os.chmod(root / "app", 0o755)
        return root, {p["name"]: p.get("go_packages") for p in run_json("sbom", "--format", "json", str(root))["packages"]}

    want = {"stdlib": ["internal/cpu", "net/http", "runtime"], "github.com/a/b": ["github.com/a/b/x"],
            "github.com/a/b/v2": ["github.com/a/b/v2/y"], "gopkg.in/yaml.v3": ["gopkg.in/yaml.v3"],
            "github.com/new/mod": ["github.com/new/mod/sub"]}
    root, got = sbom({0x1000: True})
    assert got == want
    assert sbom({0x1000: None, 0x1400: True})[1] == want  # a header that is not sound, then the table
    assert sbom({0x1000: True, 0x1c00: True})[1] == {m: None for m in want}
    r = run_json("scan", "--db", full_db, "--format", "json", str(root))
    std = [f for f in r["findings"] if f["package"] == "stdlib" and f.get("vulnerable_packages")]
    assert any(f["imported"] and "net/http" in f["vulnerable_packages"] for f in std)
    assert any(f["imported"] is False and f["vulnerable_packages"] == ["html/template"] for f in std)
    for f in std:
        assert f["imported"] == bool(set(f["vulnerable_packages"]) & set(want["stdlib"])), f


def test_go_package_lists_that_cannot_be_trusted_say_nothing(tmp_path):
    """Found by attacking the reader: packages at go.etcd.io and go.uber.org are packages, not
    the compiler's go.* names; a candidate header that is no table, across the 64 KiB reads of a
    directory scan, hides no table behind it (two tables still say nothing); and names that
    were rewritten (no runtime package, or a module none of whose packages is named) leave its
    modules not known rather than holding nothing."""
    def sbom(name, data):
        root = tmp_path / name
        root.mkdir()
        (root / "app").write_bytes(data)
        os.chmod(root / "app", 0o755)
        return {p["name"]: p.get("go_packages") for p in run_json("sbom", "--format", "json", str(root))["packages"]}

    mods = (b"path\texample.com/app\nmod\texample.com/app\t(devel)\t\n"
            b"dep\tgo.etcd.io/bbolt\tv1.3.6\th1:x=\ndep\tgo.uber.org/zap\tv1.21.0\th1:y=\n"
            b"dep\tgithub.com/a/b\tv1.0.0\th1:z=\n")
    names = [b"runtime.main", b"go.etcd.io/bbolt.Open", b"go.uber.org/zap.(*Logger).Info", b"go.buildid",
             b"go.shape.int", b"go.(*struct { F int }).M", b"type..eq.go.etcd.io/bbolt.DB", b"github.com/a/b.F"]
    got = sbom("goprefix", go_elf({0x1000: True}, names=names, mods=mods))
    assert got == {"stdlib": ["runtime"], "go.etcd.io/bbolt": ["go.etcd.io/bbolt"],
                   "go.uber.org/zap": ["go.uber.org/zap"], "github.com/a/b": ["github.com/a/b"]}, got
    # 8 bytes that start like a header at 0xffe0, a table at 0xffe8 inside its 72 bytes (across
    # the first 64 KiB read), another table at 0x11000: two tables, so nothing is known
    fake = b"\xf1\xff\xff\xff\x00\x00\x01\x08"
    two = go_elf({0xffe8: True, 0x11000: True}, size=0x13000, info_at=0x12800, extra={0xffe0: fake})
    assert set(sbom("masked-two", two).values()) == {None}
    one = go_elf({0xffe8: True}, size=0x13000, info_at=0x12800, extra={0xffe0: fake})
    assert sbom("masked-one", one)["stdlib"] == ["internal/cpu", "net/http", "runtime"]
    # rewritten names: no runtime package, then a module with none of its packages named
    assert set(sbom("no-runtime", go_elf({0x1000: True}, names=[b"a.F", b"net/http.Get"])).values()) == {None}
    got = sbom("no-module-package", go_elf({0x1000: True}, names=[b"runtime.main", b"github.com/a/b/x.F"]))
    assert got["github.com/a/b"] == ["github.com/a/b/x"] and got["github.com/a/b/v2"] is None


MAVEN_OSV = os.path.join(os.path.dirname(os.path.abspath(__file__)), "maven-osv")


@pytest.fixture(scope="module")
def maven_db(tmp_path_factory):
    """The real feeds and a user's OSV directory (a small Maven set in GitHub's format)."""
    path = str(tmp_path_factory.mktemp("mdb") / "vulndb.ddb")
    r = subprocess.run([BIN, "db", "import", "--db", path, VULNDATA, MAVEN_OSV], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return path


def test_java_archives_matched_in_maven_order(maven_db, app):
    r = run_json("scan", "--db", maven_db, "--format", "json", app)
    mv = {f["id"]: f for f in r["findings"] if f["ecosystem"] == "Maven"}
    # log4j-core 2.14.1, by Maven's order: in GHSA-jfh8-c2jp-5v3q's [2.13.0, 2.15.0),
    # GHSA-7rjr-3q55-vv33's [2.13.0, 2.16.0) and GHSA-8489-44mv-ggj8's [2.13.0, 2.17.1);
    # commons-text 1.9 in GHSA-599f-7c49-w659's [1.5, 1.10.0) (1.10.0 is above 1.9, not below)
    assert {i: (f["package"], f["fixed_version"]) for i, f in mv.items()} == {
        "GHSA-jfh8-c2jp-5v3q": ("org.apache.logging.log4j:log4j-core", "2.15.0"),
        "GHSA-7rjr-3q55-vv33": ("org.apache.logging.log4j:log4j-core", "2.16.0"),
        "GHSA-8489-44mv-ggj8": ("org.apache.logging.log4j:log4j-core", "2.17.1"),
        "GHSA-599f-7c49-w659": ("org.apache.commons:commons-text", "1.10.0"),
    }
    log4shell = mv["GHSA-jfh8-c2jp-5v3q"]
    assert log4shell["severity"] == "CRITICAL" and log4shell["aliases"] == ["CVE-2021-44228"]
    assert log4shell["known_exploited"] is not None  # CISA's catalogue names CVE-2021-44228
    assert "srv/java/app.war!/WEB-INF/lib/log4j-core-2.14.1.jar" in log4shell["path"]
    # one upgrade clears the three log4j findings
    step = [s for s in r["fix_plan"] if s["source"] == "org.apache.logging.log4j:log4j-core"]
    assert len(step) == 1 and step[0]["to"] == "2.17.1" and step[0]["clears"] == 3
    # a jar known by its file name only has no group: nothing in Maven's namespace to match
    assert not [f for f in r["findings"] if f["package"] == "guava"]
    sarif = run_json("scan", "--db", maven_db, "--format", "sarif", app)
    assert any(res["ruleId"] == "GHSA-jfh8-c2jp-5v3q" for res in sarif["runs"][0]["results"])


def sbom_dir(root):
    return subprocess.run([BIN, "sbom", "--format", "json", str(root)], capture_output=True, text=True)


def test_hostile_application_files(tmp_path):
    """What a hostile pusher could put in a layer: a zip bomb in a jar, bytes that pretend to be
    what the layer reader derives, a Go replacement with no name."""
    import io
    import zipfile
    root = tmp_path / "rootfs"
    (root / "app").mkdir(parents=True)
    zeros = io.BytesIO()
    with zipfile.ZipFile(zeros, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("META-INF/maven/g/a/pom.properties", "groupId=g\nartifactId=a\nversion=1\n")
        for i in range(3):
            z.writestr(f"blob{i}.bin", b"\0" * (64 << 20))
    (root / "app" / "bomb.jar").write_bytes(zeros.getvalue())
    r = sbom_dir(root)
    assert r.returncode != 0 and "app/bomb.jar" in r.stderr and "decompression bomb" in r.stderr, r.stderr
    (root / "app" / "bomb.jar").unlink()
    # a METADATA that starts with what the Java archive reader keeps is still a METADATA
    meta = root / "usr/lib/python3/site-packages/x-1.dist-info"
    meta.mkdir(parents=True)
    (meta / "METADATA").write_text("drydock-java-archive 1\norg.apache.logging.log4j:log4j-core\t2.14.1\tfake.jar\n")
    doc = json.loads(sbom_dir(root).stdout)
    assert not [p for p in doc["packages"] if p["type"] == "maven"]
    # a package-lock.json per directory, many of them: each read once, each a package
    for i in range(300):
        d = root / "srv" / f"d{i}"
        d.mkdir(parents=True)
        (d / "package-lock.json").write_text('{"packages":{"node_modules/left-pad":{"version":"1.3.0"}}}')
    doc = json.loads(sbom_dir(root).stdout)
    lp = [p for p in doc["packages"] if p["name"] == "left-pad"]
    assert len(lp) == 1 and lp[0]["path"].endswith(", and 284 more")


def test_vex_for_application_packages(maven_db, app, tmp_path):
    """VEX statements name application packages by their purls, namespace included, and apply to
    them only: pkg:maven/G/A to group:artifact, pkg:npm/NAME to the npm package; a pkg:deb
    statement of the same name does not reach them."""
    doc = {"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/app",
           "author": "security team", "timestamp": "2026-12-06T09:00:00Z", "version": 1,
           "statements": [
               {"vulnerability": {"name": "CVE-2021-44228"}, "status": "not_affected",
                "justification": "vulnerable_code_not_in_execute_path",
                "products": ["pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"]},
               {"vulnerability": {"name": "NSWG-ECO-516"}, "status": "not_affected",
                "justification": "vulnerable_code_not_present", "products": ["pkg:deb/debian/lodash"]},
           ]}
    vex = tmp_path / "vex.json"
    vex.write_text(json.dumps(doc))
    r = run_json("scan", "--db", maven_db, "--format", "json", "--vex", str(vex), app)
    ids = {f["id"] for f in r["findings"]}
    assert "GHSA-jfh8-c2jp-5v3q" not in ids  # its alias is the statement's CVE, its purl the package's
    assert "GHSA-7rjr-3q55-vv33" in ids      # another CVE of the same package stays
    assert "NSWG-ECO-516" in ids             # a Debian package's statement is not lodash's
    doc["statements"][1]["products"] = ["pkg:npm/lodash@4.17.15"]
    vex.write_text(json.dumps(doc))
    r = run_json("scan", "--db", maven_db, "--format", "json", "--vex", str(vex), app)
    assert "NSWG-ECO-516" not in {f["id"] for f in r["findings"]}


def test_served_language_findings(maven_db, app, tmp_path):
    """Pushed with skopeo to a live server: the image API gives language findings their texts
    (looked up in their own ecosystem), the Microsoft.Security sub-assessments name each finding
    once (a lock file may name two versions of one package) and call it a language package, and
    the SARIF of the same findings gives one location per file."""
    import requests
    from drydock import wait_assessed
    from test_scan_on_push import server_with_db, skopeo_push
    srv = server_with_db(tmp_path, maven_db)
    try:
        skopeo_push(app, srv.url, "team/app:1")
        img = wait_assessed(srv.url, "team/app", "1", timeout=300)
        assert img["status"] == "Unhealthy", img
        mine = [f for f in img["findings"] if f.get("path")]
        assert mine and all(f["ecosystem"] != "Debian:12" for f in mine)
        log4shell = next(f for f in mine if f["id"] == "GHSA-jfh8-c2jp-5v3q")
        assert log4shell["description"] and log4shell["references"] and log4shell["published"]
        names = {}
        for key, lang_category in (("dbd0cb49-b563-45e7-9724-889e799fa648", None),
                                   ("c0b7cfc6-3172-465a-b378-53c7ff2cc0d5", "Language")):
            r = requests.get(f"{srv.url}/providers/Microsoft.Security/assessments/{key}/subAssessments",
                             params={"api-version": "2019-01-01-preview"})
            assert r.status_code == 200, r.text
            subs = r.json()["value"]
            while r.json().get("nextLink"):
                r = requests.get(r.json()["nextLink"])
                subs += r.json()["value"]
            ids = [s["name"] for s in subs]
            assert len(ids) == len(set(ids)) == len(img["findings"])
            for s in subs:
                if s["properties"]["id"] == "GHSA-jfh8-c2jp-5v3q":
                    if lang_category:
                        sw = s["properties"]["additionalData"]["softwareDetails"]
                        assert sw["category"] == "Language" and sw["language"] == "java" and sw["vendor"] == "maven"
                    else:
                        assert s["properties"]["category"] == "Language package"
            names[key] = ids
        # Go findings say whether the binary holds the vulnerable package, as the CLI does; and
        # still do once re-assessed from the stored inventory under another database
        go = {f["id"]: f.get("imported") for f in img["findings"] if f["ecosystem"] == "Go"}
        cli = run_json("scan", "--db", maven_db, "--format", "json", app)
        assert go == {f["id"]: f.get("imported") for f in cli["findings"] if f["ecosystem"] == "Go"}
        assert set(go.values()) == {True, False}, go
        go_db = tmp_path / "go-only.ddb"
        r = subprocess.run([BIN, "db", "import", "--db", str(go_db),
                            os.path.join(VULNDATA, "languages", "go-vulndb.osv.jsonl.xz")], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        shutil.copy(go_db, os.path.join(srv.data_dir, "vulndb.ddb.new"))
        os.rename(os.path.join(srv.data_dir, "vulndb.ddb.new"), os.path.join(srv.data_dir, "vulndb.ddb"))
        deadline = time.time() + 120
        while True:
            again = requests.get(f"{srv.url}/api/v1/images",
                                 params={"repository": "team/app", "reference": "1", "limit": 1000}).json()
            if again.get("database_generation") != img["database_generation"] or time.time() > deadline:
                break
            time.sleep(0.2)
        assert again["database_generation"] != img["database_generation"], again
        assert {f["id"]: f.get("imported") for f in again["findings"] if f["ecosystem"] == "Go"} == go
    finally:
        srv.stop()
    sarif = run_json("scan", "--db", maven_db, "--format", "sarif", app)
    res = next(x for x in sarif["runs"][0]["results"] if x["ruleId"] == "GHSA-jfh8-c2jp-5v3q")
    assert sorted(l["physicalLocation"]["artifactLocation"]["uri"] for l in res["locations"]) == [
        "srv/java/app.war!/WEB-INF/lib/log4j-core-2.14.1.jar", "srv/java/log4j-core-2.14.1.jar"]
    r = run_json("scan", "--db", maven_db, "--format", "json", app)
    step = next(s for s in r["fix_plan"] if s["source"] == "org.apache.logging.log4j:log4j-core")
    assert step["ecosystem"] == "Maven" and "srv/java/log4j-core-2.14.1.jar" in step["path"]


def test_over_the_package_limit_is_an_error(tmp_path):
    """More application packages than an image may have (200,000) is refused naming the limit,
    never reported as if the rest were all there. The file is made on another filesystem
    (/dev/shm) and removed at the end: the other build's suite, running at the same time, reads
    this machine's root filesystem (test_pkgdb.py), which must not find it."""
    import pathlib
    import shutil
    import tempfile
    top = pathlib.Path(tempfile.mkdtemp(dir="/dev/shm" if os.path.isdir("/dev/shm") else tmp_path))
    try:
        root = top / "rootfs" / "srv"
        root.mkdir(parents=True)
        pk = {f"node_modules/p{i}": {"version": "1.0.0"} for i in range(200001)}
        (root / "package-lock.json").write_text(json.dumps({"lockfileVersion": 3, "packages": pk}))
        r = sbom_dir(top / "rootfs")
        assert r.returncode != 0 and "200000" in r.stderr and "application packages" in r.stderr, r.stderr[-500:]
    finally:
        shutil.rmtree(top, ignore_errors=True)
