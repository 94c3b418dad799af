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
