"""Image inventories: real Debian images (read layer by layer, compared with what umoci
unpacks and dpkg-query reads), and small images built here to exercise every layer
compression, every whiteout form, links, and broken blobs."""
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from drydock import BIN  # noqa: E402


def sbom(target, ok=True):
    p = subprocess.run([BIN, "sbom", target], capture_output=True, text=True, timeout=300)
    if ok:
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout)
    return p


def test_debian_images_against_umoci_and_dpkg_query(images, tmp_path):
    for name in ("debian-min", "debian-big"):
        got = sbom(os.path.join(images, name))
        assert got["os"]["id"] == "debian" and got["os"]["version_id"] == "12"
        bundle = tmp_path / name
        subprocess.run(["umoci", "unpack", "--image", f"{images}/{name}:latest", str(bundle)], check=True,
                       capture_output=True)
        out = subprocess.run(["dpkg-query", f"--admindir={bundle}/rootfs/var/lib/dpkg", "-W", "-f",
                              "${db:Status-Status} ${Package} ${Version} ${Architecture} ${source:Package} "
                              "${source:Version}\n"], capture_output=True, text=True, check=True).stdout
        want = sorted(tuple(line.split()[1:]) for line in out.splitlines() if line.startswith("installed "))
        have = sorted((p["name"], p["version"], p["arch"], p["source_name"], p["source_version"])
                      for p in got["packages"])
        assert have == want and len(have) > 80
        # the same as reading the unpacked root filesystem
        assert sbom(str(bundle / "rootfs"))["packages"] == [
            {k: v for k, v in p.items() if k != "layer"} for p in got["packages"]]
        layers = json.load(open(os.path.join(images, name, "blobs", *got["image"]["manifest"].split(":"))))["layers"]
        assert got["image"]["layers"] == len(layers)
        if name == "debian-min":
            base = {p["name"] for p in got["packages"]}
            assert {p["layer"] for p in got["packages"]} == {layers[0]["digest"]}
        else:
            # base packages come from the shared first layer, the rest from the layers above it
            for p in got["packages"]:
                assert (p["layer"] == layers[0]["digest"]) == (p["name"] in base), p["name"]
            assert {p["layer"] for p in got["packages"]} == {layers[0]["digest"], layers[1]["digest"],
                                                             layers[2]["digest"]}


# ---- small images built here ----

def tar_bytes(entries):
    """entries: (path, kind, payload): kind file/symlink/hardlink/dir."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for path, kind, payload in entries:
            ti = tarfile.TarInfo(path)
            ti.mtime = 1700000000
            if kind == "file":
                data = payload.encode() if isinstance(payload, str) else payload
                ti.size = len(data)
                t.addfile(ti, io.BytesIO(data))
            elif kind == "dir":
                ti.type = tarfile.DIRTYPE
                t.addfile(ti)
            elif kind == "symlink":
                ti.type, ti.linkname = tarfile.SYMTYPE, payload
                t.addfile(ti)
            elif kind == "hardlink":
                ti.type, ti.linkname = tarfile.LNKTYPE, payload
                t.addfile(ti)
    return buf.getvalue()


def compress(data, how):
    if how == "gzip":
        return subprocess.run(["gzip", "-n", "-c"], input=data, capture_output=True, check=True).stdout
    if how == "zstd":
        return subprocess.run(["zstd", "-q", "-c"], input=data, capture_output=True, check=True).stdout
    return data


def make_layout(root, layers):
    """layers: list of (tar bytes, compression). Writes an OCI layout, returns its path."""
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def put(data):
        d = hashlib.sha256(data).hexdigest()
        (blobs / d).write_bytes(data)
        return "sha256:" + d, len(data)
    descs = []
    for tar, how in layers:
        d, n = put(compress(tar, how))
        mt = {"gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
              "zstd": "application/vnd.oci.image.layer.v1.tar+zstd"}.get(how, "application/vnd.oci.image.layer.v1.tar")
        descs.append({"mediaType": mt, "digest": d, "size": n})
    cd, cn = put(b'{"architecture":"amd64","os":"linux"}')
    md, mn = put(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                             "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd,
                                        "size": cn}, "layers": descs}).encode())
    (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": mn,
         "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}))
    return str(root), descs


def stanza(name, version, status="install ok installed"):
    return f"Package: {name}\nStatus: {status}\nArchitecture: amd64\nVersion: {version}\n\n"


def names(doc, typ):
    return sorted(p["name"] for p in doc["packages"] if p["type"] == typ)


def test_compressions_and_whiteouts(tmp_path):
    l1 = tar_bytes([("etc/", "dir", None), ("usr/lib/os-release", "file", 'ID=debian\nVERSION_ID="12"\n'),
                    ("etc/os-release", "symlink", "../usr/lib/os-release"),
                    ("var/lib/dpkg/status", "file", stanza("a", "1.0") + stanza("b", "2.0")),
                    ("lib/apk/db/installed", "file", "P:musl\nV:1.2.4-r0\nA:x86_64\no:musl\n\n"),
                    ("var/lib/dpkg/status.d/c", "file", stanza("c", "3.0"))])
    # zstd: the apk database is whited out, dpkg's status replaced
    l2 = tar_bytes([("lib/apk/db/.wh.installed", "file", ""),
                    ("var/lib/dpkg/status", "file", stanza("a", "1.1"))])
    # plain: status.d hidden by an opaque marker, then a new one added
    l3 = tar_bytes([("var/lib/dpkg/status.d/.wh..wh..opq", "file", ""),
                    ("var/lib/dpkg/status.d/d", "file", stanza("d", "4.0"))])
    layout, descs = make_layout(tmp_path / "img", [(l1, "gzip"), (l2, "zstd"), (l3, "plain")])
    got = sbom(layout)
    assert got["os"]["id"] == "debian"  # through a relative symlink
    assert names(got, "apk") == []
    assert sorted((p["name"], p["version"], p["layer"]) for p in got["packages"]) == [
        ("a", "1.1", descs[1]["digest"]), ("d", "4.0", descs[2]["digest"])]
    tagged = sbom(layout + ":latest")
    assert tagged["packages"] == got["packages"] and tagged["image"]["name"].endswith(":latest")
    p = sbom(layout + ":nope", ok=False)
    assert p.returncode == 1 and "nope" in p.stderr


def test_whiteout_of_a_directory_and_links(tmp_path):
    l1 = tar_bytes([("var/lib/dpkg/status", "file", stanza("a", "1.0")),
                    ("etc/alpine-release", "file", "3.18.4\n"),
                    ("lib/apk/db/installed", "file", "P:zlib\nV:1.2.13-r1\no:zlib\n\n"),
                    ("usr/lib/sysimage/rpm/x", "file", "")])
    l2 = tar_bytes([("var/lib/.wh.dpkg", "file", ""),  # the whole dpkg directory goes
                    # hard link to the apk database under another name, then the original removed:
                    # the link still holds the content
                    ("lib/apk/db/installed.bak", "hardlink", "lib/apk/db/installed"),
                    ("etc/os-release", "symlink", "/../../../etc/hostname")])  # stays inside the image
    layout, _ = make_layout(tmp_path / "img", [(l1, "gzip"), (l2, "gzip")])
    got = sbom(layout)
    assert names(got, "dpkg") == []
    assert names(got, "apk") == ["zlib"]
    assert got["os"]["id"] == "alpine" and got["os"]["version_id"] == "3.18.4"


def test_db_replaced_by_symlink(tmp_path):
    l1 = tar_bytes([("var/lib/dpkg/status", "file", stanza("old", "1.0"))])
    l2 = tar_bytes([("var/lib/dpkg", "symlink", "/srv/dpkg"),
                    ("srv/dpkg/status", "file", stanza("new", "2.0"))])
    layout, _ = make_layout(tmp_path / "img", [(l1, "gzip"), (l2, "plain")])
    assert names(sbom(layout), "dpkg") == ["new"]


def test_corrupt_layers_are_errors(tmp_path):
    l1 = tar_bytes([("var/lib/dpkg/status", "file", stanza("a", "1.0"))])
    layout, descs = make_layout(tmp_path / "img", [(l1, "gzip")])
    blob = tmp_path / "img/blobs/sha256" / descs[0]["digest"].split(":")[1]
    data = bytearray(blob.read_bytes())
    data[-12] ^= 0xff  # inside the gzip stream
    blob.write_bytes(bytes(data))
    p = sbom(layout, ok=False)
    assert p.returncode == 1 and descs[0]["digest"] in p.stderr
    # not a tar at all
    layout2, descs2 = make_layout(tmp_path / "img2", [(b"this is not a tar file" * 40, "gzip")])
    p = sbom(layout2, ok=False)
    assert p.returncode == 1 and descs2[0]["digest"] in p.stderr
    # a corrupt package database inside a valid layer names the file and the layer
    l3 = tar_bytes([("var/lib/dpkg/status", "file", "Package: a\n\x00binary")])
    layout3, descs3 = make_layout(tmp_path / "img3", [(l3, "plain")])
    p = sbom(layout3, ok=False)
    assert p.returncode == 1 and "var/lib/dpkg/status" in p.stderr and descs3[0]["digest"] in p.stderr


def test_archives_match_the_layout(images, tmp_path):
    layout = os.path.join(images, "debian-min")
    want = sbom(layout)
    for fmt in ("docker-archive", "oci-archive"):
        tar = tmp_path / f"{fmt}.tar"
        subprocess.run(["skopeo", "copy", "-q", f"oci:{layout}:latest", f"{fmt}:{tar}:example/min:v1"],
                       check=True, capture_output=True)
        for target in (str(tar), f"{tar}:v1"):
            got = sbom(target)
            strip = lambda pkgs: [{k: v for k, v in p.items() if k != "layer"} for p in pkgs]  # noqa: E731
            assert strip(got["packages"]) == strip(want["packages"]), target
            assert got["os"] == want["os"]
        if fmt == "docker-archive":
            # docker-archive layers are uncompressed: identified by their diffID
            cfg = json.load(open(os.path.join(layout, "blobs", *want["image"]["manifest"].split(":"))))["config"]
            diff_ids = json.load(open(os.path.join(layout, "blobs", *cfg["digest"].split(":"))))["rootfs"]["diff_ids"]
            assert {p["layer"] for p in got["packages"]} == {diff_ids[0]}
        else:
            assert {p["layer"] for p in got["packages"]} == {p["layer"] for p in want["packages"]}
    p = sbom(str(tmp_path / "docker-archive.tar") + ":nope", ok=False)
    assert p.returncode == 1 and "nope" in p.stderr
    (tmp_path / "junk.tar").write_bytes(b"not a tar" * 100)
    p = sbom(str(tmp_path / "junk.tar"), ok=False)
    assert p.returncode == 1 and "tar" in p.stderr
    assert not [d for d in os.listdir(os.environ.get("TMPDIR", "/tmp")) if d.startswith("drydock-archive-") and
                os.path.getmtime(os.path.join(os.environ.get("TMPDIR", "/tmp"), d)) > os.path.getmtime(str(tar))]


def test_cyclonedx_and_spdx(images):
    layout = os.path.join(images, "debian-min")
    native = sbom(layout)
    p = subprocess.run([BIN, "sbom", layout, "--format", "cyclonedx"], capture_output=True, text=True, check=True)
    cdx = json.loads(p.stdout)
    assert cdx["bomFormat"] == "CycloneDX" and cdx["specVersion"] == "1.5"
    assert cdx["serialNumber"].startswith("urn:uuid:") and cdx["metadata"]["component"]["type"] == "container"
    libs = [c for c in cdx["components"] if c["type"] == "library"]
    oses = [c for c in cdx["components"] if c["type"] == "operating-system"]
    assert oses == [{"type": "operating-system", "bom-ref": "os", "name": "debian", "version": "12",
                     "description": "Debian GNU/Linux 12 (bookworm)"}]
    assert len(libs) == len(native["packages"])
    assert len({c["bom-ref"] for c in libs}) == len(libs)
    for c, n in zip(libs, native["packages"]):
        assert c["purl"] == n["purl"] and c["name"] == n["name"] and c["version"] == n["version"]
        quoted = urllib.parse.quote(n["name"], safe=".-_~")
        assert c["purl"].startswith(f"pkg:deb/debian/{quoted}@") and "distro=debian-12" in c["purl"]
        assert "+" not in c["purl"] and ":" not in c["purl"][4:]
    libc = next(c for c in libs if c["name"] == "libc6")
    assert "upstream=glibc" in libc["purl"]
    p = subprocess.run([BIN, "sbom", layout, "--format", "spdx"], capture_output=True, text=True, check=True)
    spdx = json.loads(p.stdout)
    assert spdx["spdxVersion"] == "SPDX-2.3" and spdx["dataLicense"] == "CC0-1.0"
    ids = [x["SPDXID"] for x in spdx["packages"]]
    assert len(ids) == len(set(ids)) == len(native["packages"]) + 1
    purls = [r["referenceLocator"] for x in spdx["packages"] for r in x.get("externalRefs", [])]
    assert purls == [n["purl"] for n in native["packages"]]
    rel = {(r["spdxElementId"], r["relationshipType"]) for r in spdx["relationships"]}
    assert ("SPDXRef-DOCUMENT", "DESCRIBES") in rel and ("SPDXRef-Subject", "CONTAINS") in rel
    p = subprocess.run([BIN, "sbom", layout, "--format", "xml"], capture_output=True, text=True)
    assert p.returncode == 2 and "xml" in p.stderr


def test_purls_of_each_type(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/os-release").write_text("ID=rocky\nVERSION_ID=9.2\n")
    (tmp_path / "lib/apk/db").mkdir(parents=True)
    (tmp_path / "lib/apk/db/installed").write_text("P:libcrypto3\nV:3.1.0-r0\nA:x86_64\no:openssl\n\n")
    (tmp_path / "var/lib/dpkg").mkdir(parents=True)
    (tmp_path / "var/lib/dpkg/status").write_text(
        "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nSource: glibc (2.36-9)\n"
        "Version: 1:2.36-9+deb12u4\n\n")
    got = {p["type"]: p["purl"] for p in sbom(str(tmp_path))["packages"]}
    assert got["dpkg"] == "pkg:deb/rocky/libc6@1%3A2.36-9%2Bdeb12u4?arch=amd64&distro=rocky-9.2&upstream=glibc"
    assert got["apk"] == "pkg:apk/rocky/libcrypto3@3.1.0-r0?arch=x86_64&distro=rocky-9.2&upstream=openssl"


def test_layer_cache(images, tmp_path):
    layout = os.path.join(images, "debian-big")
    cache = tmp_path / "cache"
    first = subprocess.run([BIN, "sbom", layout, "--cache", str(cache)], capture_output=True, text=True, check=True)
    files = sorted(os.listdir(cache))
    manifest = json.loads(first.stdout)["image"]["manifest"]
    layers = json.load(open(os.path.join(layout, "blobs", *manifest.split(":"))))["layers"]
    assert files == sorted(l["digest"].replace(":", "-") for l in layers)
    second = subprocess.run([BIN, "sbom", layout, "--cache", str(cache)], capture_output=True, text=True, check=True)
    assert second.stdout == first.stdout
    # a damaged cache file is a miss: the layer is read again and the file rewritten
    victim = cache / files[0]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x55
    victim.write_bytes(bytes(data))
    third = subprocess.run([BIN, "sbom", layout, "--cache", str(cache)], capture_output=True, text=True, check=True)
    assert third.stdout == first.stdout and victim.read_bytes() != bytes(data)
    # the cache is used: with every blob gone, the cached layers still answer
    copy = tmp_path / "layout"
    subprocess.run(["cp", "-a", layout, str(copy)], check=True)
    for l in layers:
        os.unlink(copy / "blobs" / "sha256" / l["digest"].split(":")[1])
    fourth = subprocess.run([BIN, "sbom", str(copy), "--cache", str(cache)], capture_output=True, text=True, check=True)
    assert json.loads(fourth.stdout)["packages"] == json.loads(first.stdout)["packages"]
    p = subprocess.run([BIN, "sbom", str(copy), "--no-cache"], capture_output=True, text=True)
    assert p.returncode == 1 and "cannot open its blob" in p.stderr


def test_rpmdb_in_an_image_layer(tmp_path):
    """An rpmdb written by Debian's rpm (SQLite backend), shipped in a layer of an image whose
    lower layer has Rocky's os-release; an upper layer removes one package's files only."""
    top, root = tmp_path / "rpmbuild", tmp_path / "root"
    for d in ("SPECS", "RPMS", "BUILD", "BUILDROOT", "SOURCES", "SRPMS"):
        (top / d).mkdir(parents=True)
    for name, ver, rel in (("zlib", "1.2.11", "39.el9"), ("bash", "5.1.8", "6.el9_1")):
        (top / "SPECS" / f"{name}.spec").write_text(
            f"Name: {name}\nVersion: {ver}\nRelease: {rel}\nSummary: t\nLicense: MIT\nBuildArch: x86_64\n"
            "%global debug_package %{nil}\n%description\nt\n%files\n")
        subprocess.run(["rpmbuild", "--quiet", "--define", f"_topdir {top}", "-bb",
                        str(top / "SPECS" / f"{name}.spec")], check=True, capture_output=True)
    (root / "var/lib/rpm").mkdir(parents=True)
    rpm = ["rpm", "--root", str(root), "--dbpath", "/var/lib/rpm"]
    subprocess.run(rpm + ["--initdb"], check=True)
    subprocess.run(rpm + ["-i", "--nodeps", "--noscripts", "--justdb"] +
                   [str(p) for p in (top / "RPMS/x86_64").iterdir()], check=True, capture_output=True)
    db = (root / "var/lib/rpm/rpmdb.sqlite").read_bytes()
    l1 = tar_bytes([("etc/os-release", "file", 'ID="rocky"\nVERSION_ID="9.2"\n')])
    l2 = tar_bytes([("usr/lib/sysimage/rpm/rpmdb.sqlite", "file", db),
                    ("var/lib/rpm", "symlink", "../../usr/lib/sysimage/rpm")])
    layout, descs = make_layout(tmp_path / "img", [(l1, "gzip"), (l2, "zstd")])
    got = sbom(layout)
    assert got["os"]["id"] == "rocky"
    assert sorted((p["name"], p["version"], p["release"], p["layer"]) for p in got["packages"]) == [
        ("bash", "5.1.8", "6.el9_1", descs[1]["digest"]), ("zlib", "1.2.11", "39.el9", descs[1]["digest"])]
    assert all(p["purl"].startswith("pkg:rpm/rocky/") and "distro=rocky-9.2" in p["purl"] for p in got["packages"])


def test_image_in_drydocks_store(images, tmp_path):
    """An image pushed to a running drydock, read back from its data directory by tag and by
    manifest digest: the same inventory as the OCI layout it was pushed from."""
    from drydock import Server
    layout = os.path.join(images, "debian-min")
    s = Server(data_dir=str(tmp_path / "data")).start()
    try:
        subprocess.run(["skopeo", "copy", "-q", "--dest-tls-verify=false", f"oci:{layout}:latest",
                        f"docker://127.0.0.1:{s.port}/team/min:v1"], check=True, capture_output=True)
    finally:
        s.stop()
    want = sbom(layout)["packages"]
    got = subprocess.run([BIN, "sbom", "--data", str(tmp_path / "data"), "team/min:v1"], capture_output=True,
                         text=True, check=True)
    doc = json.loads(got.stdout)
    assert doc["packages"] == want
    by_digest = subprocess.run([BIN, "sbom", "--data", str(tmp_path / "data"), "team/min@" + doc["image"]["manifest"]],
                               capture_output=True, text=True, check=True)
    assert json.loads(by_digest.stdout)["packages"] == want
    p = subprocess.run([BIN, "sbom", "--data", str(tmp_path / "data"), "team/min:nope"], capture_output=True, text=True)
    assert p.returncode == 1 and "manifest unknown" in p.stderr


def test_limits_stop_bombs(tmp_path):
    """A layer that expands far beyond its size, too many entries, an oversized database:
    each is refused with an error naming the limit (the limits are lowered for the test
    through the environment, as an operator may)."""
    zeros = b"\0" * (48 << 20)  # under the 64 MiB after which the compression ratio counts
    l1 = tar_bytes([("big.bin", "file", zeros), ("var/lib/dpkg/status", "file", stanza("a", "1.0"))])
    for how in ("gzip", "zstd"):
        layout, descs = make_layout(tmp_path / how, [(l1, how)])
        assert os.path.getsize(os.path.join(layout, "blobs/sha256", descs[0]["digest"].split(":")[1])) < 1 << 20
        env = dict(os.environ, DRYDOCK_MAX_LAYER_BYTES=str(16 << 20))
        p = subprocess.run([BIN, "sbom", layout, "--no-cache"], capture_output=True, text=True, env=env)
        assert p.returncode == 1 and "decompression bomb" in p.stderr and "big.bin" in p.stderr
        assert "image over a scanning limit" in p.stderr and "request body too large" not in p.stderr, p.stderr
        assert names(sbom(layout), "dpkg") == ["a"]  # within the built-in limit it reads fine
    many = tar_bytes([(f"f{i}", "file", "") for i in range(200)])
    layout, _ = make_layout(tmp_path / "many", [(many, "plain")])
    p = subprocess.run([BIN, "sbom", layout, "--no-cache"], capture_output=True, text=True,
                       env=dict(os.environ, DRYDOCK_MAX_LAYER_ENTRIES="100"))
    assert p.returncode == 1 and "more than 100 entries" in p.stderr
    fat = tar_bytes([("var/lib/dpkg/status", "file", stanza("a", "1.0") * 1000)])
    layout, _ = make_layout(tmp_path / "fat", [(fat, "gzip")])
    p = subprocess.run([BIN, "sbom", layout, "--no-cache"], capture_output=True, text=True,
                       env=dict(os.environ, DRYDOCK_MAX_PKGDB_BYTES="10000"))
    assert p.returncode == 1 and "var/lib/dpkg/status" in p.stderr and "limit" in p.stderr
    deep = tar_bytes([("a/" * 2100 + "x", "file", "")])
    layout, _ = make_layout(tmp_path / "deep", [(deep, "plain")])
    p = sbom(layout, ok=False)
    assert p.returncode == 1 and "longer than 4096" in p.stderr


def test_multi_platform_index(tmp_path):
    root = tmp_path / "idx"
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def put(data):
        d = hashlib.sha256(data).hexdigest()
        (blobs / d).write_bytes(data)
        return {"digest": "sha256:" + d, "size": len(data)}

    def image(pkg, arch):
        layer = put(compress(tar_bytes([("var/lib/dpkg/status", "file", stanza(pkg, "1.0"))]), "gzip"))
        cfg = put(json.dumps({"architecture": arch, "os": "linux"}).encode())
        return put(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                               "config": dict(cfg, mediaType="application/vnd.oci.image.config.v1+json"),
                               "layers": [dict(layer, mediaType="application/vnd.oci.image.layer.v1.tar+gzip")]})
                   .encode())
    mt = "application/vnd.oci.image.manifest.v1+json"
    entries = [dict(image("on-arm", "arm64"), mediaType=mt, platform={"os": "linux", "architecture": "arm64",
                                                                        "variant": "v8"}),
               dict(image("attest", "unknown"), mediaType=mt, platform={"os": "unknown", "architecture": "unknown"}),
               dict(image("on-amd", "amd64"), mediaType=mt, platform={"os": "linux", "architecture": "amd64"})]
    idx = put(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                          "manifests": entries}).encode())
    (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [
        dict(idx, mediaType="application/vnd.oci.image.index.v1+json")]}))
    got = sbom(str(root))
    assert names(got, "dpkg") == ["on-amd"] and got["image"]["platform"] == "linux/amd64"
    p = subprocess.run([BIN, "sbom", str(root), "--platform", "linux/arm64"], capture_output=True, text=True, check=True)
    doc = json.loads(p.stdout)
    assert names(doc, "dpkg") == ["on-arm"] and doc["image"]["platform"] == "linux/arm64/v8"
    p = subprocess.run([BIN, "sbom", str(root), "--all-platforms"], capture_output=True, text=True, check=True)
    docs = json.loads(p.stdout)
    assert [(d["image"]["platform"], names(d, "dpkg")) for d in docs] == [
        ("linux/arm64/v8", ["on-arm"]), ("linux/amd64", ["on-amd"])]
    p = subprocess.run([BIN, "sbom", str(root), "--platform", "linux/s390x"], capture_output=True, text=True)
    assert p.returncode == 1 and "linux/s390x" in p.stderr
    # a plain image with --all-platforms: one document in the array
    layout, _ = make_layout(tmp_path / "one", [(tar_bytes([("var/lib/dpkg/status", "file", stanza("x", "1"))]), "gzip")])
    p = subprocess.run([BIN, "sbom", layout, "--all-platforms"], capture_output=True, text=True, check=True)
    assert [names(d, "dpkg") for d in json.loads(p.stdout)] == [["x"]]


def test_compression_ratio_limit(tmp_path):
    """Past 64 MiB out, a layer may not expand beyond 1000 times the compressed bytes read:
    gzip's ceiling (about 1030:1, a stream of nothing but zeros) and any zstd bomb are refused
    there, however far the 64 GiB limit is; real layers (2-10:1) never come near."""
    zeros = tar_bytes([("var/lib/dpkg/status", "file", stanza("a", "1.0")), ("disk.img", "file", b"\0" * (80 << 20))])
    for how in ("gzip", "zstd"):
        layout, descs = make_layout(tmp_path / how, [(zeros, how)])
        p = subprocess.run([BIN, "sbom", layout, "--no-cache"], capture_output=True, text=True)
        assert p.returncode == 1 and "image over a scanning limit" in p.stderr, p.stderr
        assert "1000 times its compressed size at 'disk.img'" in p.stderr and "compression-ratio limit" in p.stderr
    # an operator may lower it: 80 MB of text (about 10:1) passes 1000:1 and fails 2:1
    text = tar_bytes([("var/lib/dpkg/status", "file", "".join(stanza(f"p{i}", f"1.{i}") for i in range(20000))),
                      ("usr/share/doc/all.txt", "file", "".join(stanza(f"p{i}", f"1.{i}") for i in range(1000000)))])
    layout, _ = make_layout(tmp_path / "text", [(text, "gzip")])
    assert len(names(sbom(layout), "dpkg")) == 20000
    p = subprocess.run([BIN, "sbom", layout, "--no-cache"], capture_output=True, text=True,
                       env=dict(os.environ, DRYDOCK_MAX_LAYER_RATIO="2"))
    assert p.returncode == 1 and "more than 2 times its compressed size" in p.stderr, p.stderr


def test_links_to_where_distributions_put_the_files(tmp_path):
    """Only the package managers' paths are kept, and where real images put those files behind
    a link: Red Hat's etc/redhat-release -> ../usr/lib/redhat-release, a merged /usr's
    lib -> usr/lib over apk's database. A file that a link elsewhere points at is kept in a
    small budget, whichever comes first in the tar, or in another layer."""
    l1 = tar_bytes([("etc/redhat-release", "symlink", "../usr/lib/redhat-release"),
                    ("usr/lib/redhat-release", "file", "Red Hat Enterprise Linux release 9.4 (Plow)\n"),
                    ("lib", "symlink", "usr/lib"),
                    ("usr/lib/apk/db/installed", "file", "P:musl\nV:1.2.4-r0\nA:x86_64\no:musl\n\n")])
    layout, _ = make_layout(tmp_path / "rh", [(l1, "gzip")])
    got = sbom(layout)
    assert (got["os"]["id"], got["os"]["version_id"]) == ("rhel", "9.4")
    assert names(got, "apk") == ["musl"]
    # the file before the link in one layer; the file in one layer and the link in the next
    before = tar_bytes([("srv/dpkg/status", "file", stanza("moved", "1.0")), ("var/lib/dpkg", "symlink", "/srv/dpkg")])
    layout, _ = make_layout(tmp_path / "before", [(before, "gzip")])
    assert names(sbom(layout), "dpkg") == ["moved"]
    layout, _ = make_layout(tmp_path / "across", [(tar_bytes([("opt/db/status", "file", stanza("later", "2.0"))]), "gzip"),
                                                  (tar_bytes([("var/lib/dpkg", "symlink", "../../opt/db")]), "gzip")])
    assert names(sbom(layout), "dpkg") == ["later"]
    # beyond the budget (32 MiB a layer) such a file is noted, not kept: reached through a
    # link, the inventory fails naming the limit rather than report without it
    big = "".join(stanza(f"p{i}", "1.0") for i in range(600000))
    assert len(big) > 32 << 20
    layout, _ = make_layout(tmp_path / "spare", [(tar_bytes([("opt/db/status", "file", big)]), "gzip"),
                                                 (tar_bytes([("var/lib/dpkg", "symlink", "/opt/db")]), "gzip")])
    p = subprocess.run([BIN, "sbom", layout, "--no-cache"], capture_output=True, text=True)
    assert p.returncode == 1 and "image over a scanning limit" in p.stderr, p.stderr
    assert "'var/lib/dpkg/status' leads to 'opt/db/status', which its layer did not keep" in p.stderr


def test_kept_bytes_per_layer_and_per_image(tmp_path):
    """What the layers keep is bounded per layer (384 MiB) and per image (1 GiB); lowered here
    through the environment, as an operator may."""
    status = "".join(stanza(f"p{i}", "1.0") for i in range(20000))  # about 1.1 MB
    l1 = tar_bytes([("var/lib/dpkg/status", "file", status)])
    l2 = tar_bytes([("var/lib/dpkg/status", "file", status + stanza("q", "2.0"))])
    layout, descs = make_layout(tmp_path / "img", [(l1, "gzip"), (l2, "gzip")])
    assert len(names(sbom(layout), "dpkg")) == 20001
    p = subprocess.run([BIN, "sbom", layout, "--no-cache"], capture_output=True, text=True,
                       env=dict(os.environ, DRYDOCK_MAX_LAYER_KEPT_BYTES="1000000"))
    assert p.returncode == 1 and "layer keeps more than 1000000 bytes" in p.stderr, p.stderr
    assert "per-layer limit" in p.stderr and "var/lib/dpkg/status" in p.stderr
    for cache in ("--no-cache", "--cache"):  # read, or taken from the cache: the same sum
        args = [BIN, "sbom", layout, cache] + ([str(tmp_path / "cache")] if cache == "--cache" else [])
        subprocess.run(args, capture_output=True, check=True)
        p = subprocess.run(args, capture_output=True, text=True,
                           env=dict(os.environ, DRYDOCK_MAX_IMAGE_KEPT_BYTES="2000000"))
        assert p.returncode == 1 and "image keeps more than 2000000 bytes" in p.stderr, p.stderr
        assert "per-image limit" in p.stderr and descs[1]["digest"] in p.stderr


def test_descriptor_sizes_are_checked(tmp_path):
    """A layer whose descriptor gives another size than its blob's is refused (the image spec:
    content whose length differs must not be trusted), the blob itself being fine."""
    l1 = tar_bytes([("var/lib/dpkg/status", "file", stanza("a", "1.0"))])
    layout, descs = make_layout(tmp_path / "img", [(l1, "gzip")])
    assert names(sbom(layout), "dpkg") == ["a"]
    idx = json.load(open(os.path.join(layout, "index.json")))
    mpath = os.path.join(layout, "blobs", *idx["manifests"][0]["digest"].split(":"))
    m = json.load(open(mpath))
    m["layers"][0]["size"] = 2 ** 63 - 1
    data = json.dumps(m).encode()
    d = hashlib.sha256(data).hexdigest()
    (tmp_path / "img/blobs/sha256" / d).write_bytes(data)
    idx["manifests"][0].update(digest="sha256:" + d, size=len(data))
    (tmp_path / "img/index.json").write_text(json.dumps(idx))
    p = subprocess.run([BIN, "sbom", layout, "--no-cache"], capture_output=True, text=True)
    assert p.returncode == 1 and "its descriptor gives 9223372036854775807 bytes" in p.stderr, p.stderr
    assert f"its blob has {descs[0]['size']}" in p.stderr
