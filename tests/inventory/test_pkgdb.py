"""Package database parsers on real data: every dpkg, apk and rpm (SQLite, Berkeley DB, NDB)
vector of ../shared/testdata (other scanners' public fixtures, compared as sets with their
expected.jsonl), this machine's own root filesystem against dpkg-query, and an rpmdb made
here by Debian's rpm and rpmbuild against `rpm -qa`."""
import glob
import json
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from drydock import BIN  # noqa: E402

SHARED = os.environ.get("DRYDOCK_SHARED", os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared"))
VECTORS = sorted(glob.glob(os.path.join(SHARED, "testdata/pkgdb/*/*/expected.jsonl")))
VECTORS = [os.path.dirname(v) for v in VECTORS]

FIELDS = {
    "dpkg": {"name": "name", "version": "version", "epoch": "epoch", "upstream": "upstream",
             "revision": "revision", "arch": "arch", "source": "source_name", "source_version": "source_version"},
    "apk": {"name": "name", "version": "version", "arch": "arch", "origin": "origin"},
    "rpm": {"name": "name", "epoch": "epoch", "version": "version", "release": "release", "arch": "arch",
            "sourcerpm": "sourcerpm", "source_name": "source_name"},
}


def sbom(root):
    p = subprocess.run([BIN, "sbom", root], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


@pytest.mark.skipif(not VECTORS, reason="../shared/testdata not present (set DRYDOCK_SHARED)")
@pytest.mark.parametrize("vector", VECTORS, ids=[os.path.relpath(v, os.path.join(SHARED, "testdata/pkgdb"))
                                                  for v in VECTORS])
def test_vector(vector):
    kind = os.path.basename(os.path.dirname(vector))
    fields = FIELDS[kind]
    # scalibr-statusfield: drydock follows dpkg's own rule for Status (see the testdata README)
    expected = [json.loads(line) for line in open(os.path.join(vector, "expected.jsonl")) if line.strip()]
    got = sbom(os.path.join(vector, "input"))["packages"]
    want = sorted(tuple(str(e[k]) for k in fields) for e in expected)
    have = sorted(tuple(str(p.get(v, "")) for v in fields.values()) for p in got)
    assert have == want


def test_host_root_against_dpkg_query():
    """This machine is Debian: its own dpkg database, read as a root filesystem."""
    out = subprocess.run(["dpkg-query", "-W", "-f", "${db:Status-Status} ${Package} ${Version} ${Architecture} "
                          "${source:Package} ${source:Version}\n"], capture_output=True, text=True, check=True).stdout
    want = sorted(tuple(line.split()[1:]) for line in out.splitlines() if line.startswith("installed "))
    got = sbom("/")
    assert got["os"]["id"] == "debian" and got["os"]["kind"] == "known"
    have = sorted((p["name"], p["version"], p["arch"], p["source_name"], p["source_version"])
                  for p in got["packages"] if p["type"] == "dpkg")
    assert have == want and len(have) > 100


def test_corrupt_database_is_an_error(tmp_path):
    st = tmp_path / "var/lib/dpkg"
    st.mkdir(parents=True)
    (st / "status").write_bytes(b"Package: a\nVersion: 1.0\nStatus: install ok installed\n\n\x89PNG garbage\n")
    p = subprocess.run([BIN, "sbom", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "corrupt" in p.stderr and "var/lib/dpkg/status" in p.stderr
    apk = tmp_path / "lib/apk/db"
    apk.mkdir(parents=True)
    (st / "status").write_text("")
    (apk / "installed").write_text("P:musl\nV:1.2.4-r0\nthis is not apk\n")
    p = subprocess.run([BIN, "sbom", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "line 3" in p.stderr


def first_bdb_header(path):
    """The first package's rpm header in a real Berkeley DB hash Packages file (little-endian)."""
    import struct
    d = open(path, "rb").read()
    pagesize, last = struct.unpack_from("<I", d, 20)[0], struct.unpack_from("<I", d, 32)[0]
    for pgno in range(1, last + 1):
        pg = d[pgno * pagesize:(pgno + 1) * pagesize]
        if pg[25] not in (2, 13):
            continue
        entries = struct.unpack_from("<H", pg, 20)[0]
        for i in range(1, entries, 2):
            off = struct.unpack_from("<H", pg, 26 + i * 2)[0]
            if pg[off] == 3:  # H_OFFPAGE: the chain's first page and the item's length
                chain, tlen = struct.unpack_from("<II", pg, off + 4)
                out = b""
                while chain:
                    op = d[chain * pagesize:(chain + 1) * pagesize]
                    out += op[26:26 + struct.unpack_from("<H", op, 22)[0]]
                    chain = struct.unpack_from("<I", op, 16)[0]
                assert len(out) == tlen
                return out
    raise AssertionError("no package in " + path)


def bdb_file(header, items, pagesize=4096):
    """A Berkeley DB hash Packages file whose one hash page holds ITEMS off-page items that all
    name the same overflow chain, which holds HEADER."""
    import struct
    room = pagesize - 26
    chain = [header[i:i + room] for i in range(0, len(header), room)]
    npages = 2 + len(chain)
    meta = bytearray(pagesize)
    struct.pack_into("<I", meta, 12, 0x061561)
    struct.pack_into("<I", meta, 20, pagesize)
    meta[25] = 8  # P_HASHMETA
    struct.pack_into("<I", meta, 32, npages - 1)
    hp = bytearray(pagesize)
    hp[25] = 13  # P_HASH
    struct.pack_into("<H", hp, 20, 2 * items)
    item_off = 26 + 2 * 2 * items
    for i in range(items):
        struct.pack_into("<H", hp, 26 + (2 * i) * 2, item_off)      # the key (not read)
        struct.pack_into("<H", hp, 26 + (2 * i + 1) * 2, item_off)  # the value: off-page
    hp[item_off] = 3
    struct.pack_into("<II", hp, item_off + 4, 2, len(header))
    pages = [bytes(meta), bytes(hp)]
    for k, part in enumerate(chain):
        op = bytearray(pagesize)
        op[25] = 7  # P_OVERFLOW
        struct.pack_into("<I", op, 16, 2 + k + 1 if k + 1 < len(chain) else 0)
        struct.pack_into("<H", op, 22, len(part))
        op[26:26 + len(part)] = part
        pages.append(bytes(op))
    return b"".join(pages)


@pytest.mark.skipif(not VECTORS, reason="../shared/testdata not present (set DRYDOCK_SHARED)")
def test_berkeley_db_pages_are_read_once(tmp_path):
    """A hostile rpm Berkeley DB cannot make the parser do more work or hold more memory than
    its size: items that share an overflow chain (each read again, a package per item) and an
    item announcing more bytes than the file has (an allocation of up to 256 MiB per item) are
    refused as damage, naming it."""
    header = first_bdb_header(os.path.join(SHARED, "testdata/pkgdb/rpm/syft-dive-bdb/input/var/lib/rpm/Packages"))
    rpmdir = tmp_path / "var/lib/rpm"
    rpmdir.mkdir(parents=True)
    (rpmdir / "Packages").write_bytes(bdb_file(header, 1))
    got = sbom(str(tmp_path))["packages"]
    assert len(got) == 1 and got[0]["type"] == "rpm"  # the file is well formed with one item

    (rpmdir / "Packages").write_bytes(bdb_file(header, 200))
    p = subprocess.run([BIN, "sbom", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "overflow page read twice" in p.stderr, p.stderr

    import struct
    d = bytearray(bdb_file(header, 1))
    off = 4096 + 26 + 4  # the one item's length
    struct.pack_into("<I", d, off + 8, 200 * 1024 * 1024)
    (rpmdir / "Packages").write_bytes(bytes(d))
    p = subprocess.run([BIN, "sbom", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "item larger than the file" in p.stderr, p.stderr


def test_symlinks_stay_inside_the_root(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "usr/lib").mkdir(parents=True)
    (tmp_path / "usr/lib/os-release").write_text('ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n')
    os.symlink("/usr/lib/os-release", tmp_path / "etc/os-release")  # absolute: resolved in the root
    (tmp_path / "var/lib/dpkg").mkdir(parents=True)
    os.symlink("/etc/passwd", tmp_path / "var/lib/dpkg/status")  # must not read the host's file
    got = sbom(str(tmp_path))
    assert got["os"] == {"kind": "known", "id": "debian", "version_id": "12", "codename": "bookworm"}
    assert got["packages"] == []


def test_scratch_and_distroless(tmp_path):
    assert sbom(str(tmp_path))["os"]["kind"] == "scratch"
    d = tmp_path / "var/lib/dpkg/status.d"
    d.mkdir(parents=True)
    (d / "libc6").write_text("Package: libc6\nVersion: 2.36-9+deb12u4\nArchitecture: amd64\nSource: glibc\n")
    (d / "libc6.md5sums").write_text("d41d8cd98f00b204e9800998ecf8427e  lib/x\n")
    got = sbom(str(tmp_path))
    assert got["os"]["kind"] == "distroless"
    assert [(p["name"], p["source_name"], p["source_version"]) for p in got["packages"]] == \
        [("libc6", "glibc", "2.36-9+deb12u4")]


def test_rpmdb_made_by_rpm(tmp_path):
    """A real SQLite rpmdb written by Debian's rpm 4.18, with packages built by rpmbuild."""
    top, root = tmp_path / "rpmbuild", tmp_path / "root"
    specs = [("openssl-libs", "1", "3.0.7", "16.el9_2"), ("zlib", "0", "1.2.11", "39.el9"),
             ("harness-hello", "0", "1.0", "1.el9")]
    for d in ("SPECS", "RPMS", "BUILD", "BUILDROOT", "SOURCES", "SRPMS"):
        (top / d).mkdir(parents=True)
    for name, epoch, ver, rel in specs:
        (top / "SPECS" / f"{name}.spec").write_text(
            f"Name: {name}\n" + (f"Epoch: {epoch}\n" if epoch != "0" else "") +
            f"Version: {ver}\nRelease: {rel}\nSummary: test\nLicense: MIT\nBuildArch: x86_64\n"
            "%global debug_package %{nil}\n%global __os_install_post %{nil}\n"
            "%description\ntest package\n%install\nmkdir -p %{buildroot}/usr/share/doc/" + name +
            "\necho x > %{buildroot}/usr/share/doc/" + name + "/README\n%files\n/usr/share/doc/" + name + "/README\n")
        subprocess.run(["rpmbuild", "--quiet", "--define", f"_topdir {top}", "--define", "_build_id_links none",
                        "-bb", str(top / "SPECS" / f"{name}.spec")], check=True, capture_output=True)
    (root / "var/lib/rpm").mkdir(parents=True)
    rpm = ["rpm", "--root", str(root), "--dbpath", "/var/lib/rpm"]
    subprocess.run(rpm + ["--initdb"], check=True)
    subprocess.run(rpm + ["-i", "--nodeps", "--noscripts", "--ignorearch"] +
                   glob.glob(str(top / "RPMS/x86_64/*.rpm")), check=True, capture_output=True)
    want = sorted(subprocess.run(rpm + ["-qa", "--qf", "%{NAME} %{EPOCHNUM} %{VERSION} %{RELEASE} %{ARCH}\\n"],
                                 check=True, capture_output=True, text=True).stdout.split("\n"))
    want = [w for w in want if w]
    for f in glob.glob(str(root / "var/lib/rpm/rpmdb.sqlite-*")):  # as images ship it
        os.unlink(f)
    got = sbom(str(root))["packages"]
    have = sorted(f"{p['name']} {p['epoch'] or 0} {p['version']} {p['release']} {p['arch']}" for p in got)
    assert have == want and len(have) == 3


def test_python_packages_rpm_installed_are_reported_once(tmp_path):
    """rpm's file lists say which Python distributions the OS installed (reported once, as rpm
    packages): a dist-info directory, an egg-info directory and a distutils egg-info file, each
    from an rpm built by rpmbuild and installed by Debian's rpm. What pip installed beside them is
    a PyPI package, in /usr/local and also in /usr/lib's site-packages (as `pip install` as root
    does on CentOS 7), where no rpm owns it."""
    top, root = tmp_path / "rpmbuild", tmp_path / "root"
    site = "/usr/lib/python3.9/site-packages"
    owned = {"python3-requests": [f"{site}/requests-2.25.1.dist-info/METADATA",
                                  f"{site}/requests-2.25.1.dist-info/RECORD"],
             "python3-chardet": [f"{site}/chardet-4.0.0-py3.9.egg-info/PKG-INFO"],
             "python3-six": [f"{site}/six-1.15.0-py3.9.egg-info"]}
    meta = {"python3-requests": ("requests", "2.25.1"), "python3-chardet": ("chardet", "4.0.0"),
            "python3-six": ("six", "1.15.0")}
    for d in ("SPECS", "RPMS", "BUILD", "BUILDROOT", "SOURCES", "SRPMS"):
        (top / d).mkdir(parents=True)
    for name, files in owned.items():
        (top / "SOURCES" / f"{name}.meta").write_text(
            "Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % meta[name])
        install = "".join(f"install -D -m644 %{{_sourcedir}}/{name}.meta %{{buildroot}}{f}\n" for f in files)
        # the dist-info and egg-info directories are listed as directories (all they hold is
        # the package's), the distutils egg-info as the file it is
        listed = os.path.dirname(files[0]) if files[0].endswith(("METADATA", "PKG-INFO")) else files[0]
        (top / "SPECS" / f"{name}.spec").write_text(
            f"Name: {name}\nVersion: 1\nRelease: 1.el9\nSummary: test\nLicense: MIT\nBuildArch: noarch\n"
            "%global debug_package %{nil}\n%global __os_install_post %{nil}\n"
            f"%description\ntest package\n%install\n{install}%files\n{listed}\n")
        subprocess.run(["rpmbuild", "--quiet", "--define", f"_topdir {top}", "--define", "_build_id_links none",
                        "-bb", str(top / "SPECS" / f"{name}.spec")], check=True, capture_output=True)
    (root / "var/lib/rpm").mkdir(parents=True)
    rpm = ["rpm", "--root", str(root), "--dbpath", "/var/lib/rpm"]
    subprocess.run(rpm + ["--initdb"], check=True)
    subprocess.run(rpm + ["-i", "--nodeps", "--noscripts", "--ignorearch"] +
                   glob.glob(str(top / "RPMS/noarch/*.rpm")), check=True, capture_output=True)
    for f in glob.glob(str(root / "var/lib/rpm/rpmdb.sqlite-*")):
        os.unlink(f)
    for d, name, ver in ((f"usr/local/lib/python3.9/site-packages", "urllib3", "1.26.5"),
                         (site.lstrip("/"), "idna", "2.10")):  # pip's, not rpm's
        m = root / d / f"{name}-{ver}.dist-info"
        m.mkdir(parents=True)
        (m / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {ver}\n")
    (root / "etc").mkdir()
    (root / "etc/os-release").write_text('ID="rhel"\nVERSION_ID="9.3"\n')
    got = sbom(str(root))["packages"]
    assert sorted(p["name"] for p in got if p["type"] == "rpm") == sorted(owned)
    assert sorted((p["name"], p["version"]) for p in got if p["type"] == "python") == [("idna", "2.10"),
                                                                                    ("urllib3", "1.26.5")], got


def test_damaged_rpm_file_lists_keep_their_packages(tmp_path):
    """A package header whose file list is damaged (DIRINDEXES of the wrong type, BASENAMES
    counting more names than it holds) is still the package it names: only the file list is
    not read. Before, the whole database was refused as corrupt."""
    import sqlite3
    import struct
    test_python_packages_rpm_installed_are_reported_once(tmp_path)
    db = tmp_path / "root/var/lib/rpm/rpmdb.sqlite"
    con = sqlite3.connect(db)
    rows = con.execute("SELECT hnum, blob FROM Packages").fetchall()
    for k, (hnum, blob) in enumerate(rows):
        b = bytearray(blob)
        il = struct.unpack(">I", b[:4])[0]
        for i in range(il):
            e = 8 + 16 * i
            tag = struct.unpack(">I", b[e:e + 4])[0]
            if tag == 1116 and k % 2 == 0:  # DIRINDEXES as a string
                b[e + 4:e + 8] = struct.pack(">I", 6)
            if tag == 1117 and k % 2 == 1:  # BASENAMES naming a million files
                b[e + 12:e + 16] = struct.pack(">I", 1000000)
        con.execute("UPDATE Packages SET blob=? WHERE hnum=?", (bytes(b), hnum))
    con.commit()
    con.close()
    got = sbom(str(tmp_path / "root"))["packages"]
    assert sorted(p["name"] for p in got if p["type"] == "rpm") == \
        ["python3-chardet", "python3-requests", "python3-six"]


def test_red_hat_release_files(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/redhat-release").write_text("CentOS release 6.10 (Final)\n")
    got = sbom(str(tmp_path))["os"]
    assert (got["id"], got["version_id"], got["kind"]) == ("centos", "6.10", "known")
    (tmp_path / "etc/rocky-release").write_text("Rocky Linux release 9.2 (Blue Onyx)\n")
    got = sbom(str(tmp_path))["os"]
    assert (got["id"], got["version_id"]) == ("rocky", "9.2")
    (tmp_path / "etc/os-release").write_text('ID="rhel"\nVERSION_ID="9.3"\n')  # os-release wins
    got = sbom(str(tmp_path))["os"]
    assert (got["id"], got["version_id"]) == ("rhel", "9.3")


@pytest.mark.skipif(not VECTORS, reason="../shared/testdata not present (set DRYDOCK_SHARED)")
def test_ndb_slots_may_not_share_a_blob(tmp_path):
    """Every slot of a real NDB Packages.db made to name the first package's blob: before, each
    slot parsed it again (up to 524,288 slots over one large blob); now overlapping blobs are
    damage, named."""
    import shutil
    import struct
    src = os.path.join(SHARED, "testdata/pkgdb/rpm/go-rpmdb-sle15-ndb/input")
    root = tmp_path / "root"
    shutil.copytree(src, root)
    db = root / "usr/lib/sysimage/rpm/Packages.db"
    d = bytearray(db.read_bytes())
    npages = struct.unpack_from("<I", d, 12)[0]
    slots = [i for i in range(2, npages * 256) if d[i * 16:i * 16 + 4] == b"Slot" and struct.unpack_from("<I", d, i * 16 + 4)[0]]
    assert len(slots) > 2
    first = d[slots[0] * 16:slots[0] * 16 + 16]
    for i in slots[1:]:
        d[i * 16:i * 16 + 16] = first
    db.write_bytes(bytes(d))
    p = subprocess.run([BIN, "sbom", str(root)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "NDB blobs overlap" in p.stderr, p.stderr
