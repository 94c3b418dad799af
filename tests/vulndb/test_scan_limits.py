"""Scan on push against hostile or odd layers: what a layer keeps is bounded (files only at the
package managers' paths, a limit per layer), decompression bombs are refused by their
compression ratio, and each refusal is a Failed assessment whose reason names the limit; a
1,001-layer image, an empty blob as a layer. The server's memory is checked after each push."""
import gzip
import io
import json
import os
import struct
import tarfile

import pytest
import requests

from drydock import OCI_CONFIG, OCI_MANIFEST, Server, push_blob, sha256
from drydock import wait_assessed as wait

GZ = "application/vnd.oci.image.layer.v1.tar+gzip"
ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
TAR = "application/vnd.oci.image.layer.v1.tar"
OS = b'ID=debian\nVERSION_ID="12"\n'
STATUS = (b"Package: zlib1g\nStatus: install ok installed\nArchitecture: amd64\nSource: zlib\n"
          b"Version: 1:1.2.13.dfsg-1\n\n")
LIMIT = "image over a scanning limit"


class Pattern(io.RawIOBase):
    """n bytes that deflate compresses about 500:1, like the package databases of a real
    attack (1 KiB of noise in every MiB, zeros besides): under the compression-ratio limit,
    so that only what a layer keeps can stop them."""
    NOISE = bytes((i * 7919 + (i >> 3) * 104729) & 0xff for i in range(1024))

    def __init__(self, n, noise=True):
        self.pos, self.n, self.noise = 0, n, noise

    def readable(self):
        return True

    def readinto(self, b):
        k = min(len(b), self.n - self.pos)
        view = memoryview(b)[:k]
        view[:] = bytes(k)
        off = self.pos % (1 << 20)
        if off < 1024 and self.noise:  # the noise at the start of each MiB
            m = min(1024 - off, k)
            view[:m] = self.NOISE[off:off + m]
        self.pos += k
        return k


def layer(files, how="gzip"):
    """A layer blob from {path: bytes, or (size,) for a Pattern of that size, or (size, 0) for
    that many zeros}."""
    raw = io.BytesIO()
    out = gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=6) if how == "gzip" else raw
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as t:
        for path, data in files.items():
            ti = tarfile.TarInfo(path)
            ti.mtime = 1700000000
            if isinstance(data, tuple):
                ti.size = data[0]
                t.addfile(ti, Pattern(*data))
            else:
                ti.size = len(data)
                t.addfile(ti, io.BytesIO(data))
    if how == "gzip":
        out.close()
    return raw.getvalue()


def zstd_bomb(size):
    """A zstd frame of one tar entry of `size` zero bytes, written by hand as RLE blocks of
    128 KiB, 4 bytes each: 60 GiB in 2 MB, the issue's bomb."""
    ti = tarfile.TarInfo("big.bin")
    ti.size, ti.mtime = size, 1700000000
    head = ti.tobuf(tarfile.GNU_FORMAT)
    blocks = [struct.pack("<I", len(head) << 3)[:3] + head]  # a raw block (type 0)
    left = size + (-size % 512) + 1024  # the data, its padding, the end-of-archive blocks
    rle = struct.pack("<I", ((128 << 10) << 3) | (1 << 1))[:3] + b"\0"
    blocks += [rle] * (left // (128 << 10))
    if left % (128 << 10):
        blocks.append(struct.pack("<I", ((left % (128 << 10)) << 3) | (1 << 1))[:3] + b"\0")
    last = bytearray(blocks[-1])
    last[0] |= 1  # Last_Block
    blocks[-1] = bytes(last)
    return struct.pack("<I", 0xFD2FB528) + bytes([0x00, 0x38]) + b"".join(blocks)  # window 128 KiB


def push(url, repo, layers, tag="1", sizes=None):
    """Pushes an image of the given (blob, media type) layers; returns the PUT's response."""
    s = requests.Session()
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers"}}).encode()
    digests = {}
    descs = []
    for i, (blob, mt) in enumerate(layers):
        d = sha256(blob)
        if d not in digests:
            digests[d] = push_blob(s, url, repo, blob)
        descs.append({"mediaType": mt, "digest": d, "size": sizes[i] if sizes else len(blob)})
    m = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                    "config": {"mediaType": OCI_CONFIG, "digest": push_blob(s, url, repo, cfg), "size": len(cfg)},
                    "layers": descs}).encode()
    return s.put(f"{url}/v2/{repo}/manifests/{tag}", data=m, headers={"Content-Type": OCI_MANIFEST})


def peak_rss(srv):
    with open(f"/proc/{srv.proc.pid}/status") as f:
        return next(int(line.split()[1]) << 10 for line in f if line.startswith("VmHWM:"))


@pytest.fixture(scope="module")
def srv(full_db, tmp_path_factory):
    data = tmp_path_factory.mktemp("limits") / "data"
    data.mkdir()
    with open(full_db, "rb") as src, open(data / "vulndb.ddb", "wb") as dst:
        dst.write(src.read())
    s = Server(str(data)).start()
    yield s
    s.stop()


def test_files_named_like_package_databases_elsewhere_are_not_kept(srv):
    """The issue's layer: 40 files of 20 MB named 'status' under junk/ beside the real
    database (800 MB from a 1.7 MB upload): the server kept them all (3.56 GB of RSS, 800 MB
    in the layer cache). Only the package managers' paths are kept now (and what fits in the
    small budget for files a link might point at)."""
    files = {f"junk/d{i}/status": (20 << 20,) for i in range(40)}
    files.update({"etc/os-release": OS, "var/lib/dpkg/status": STATUS})
    blob = layer(files)
    assert len(blob) < 4 << 20
    assert push(srv.url, "lim/junk", [(blob, GZ)]).status_code == 201
    a = wait(srv.url, "lim/junk", "1", timeout=300)
    assert a["status"] in ("Healthy", "Unhealthy") and a["packages"] == 1, a
    cached = os.path.join(srv.data_dir, "cache", "layers", sha256(blob).replace(":", "-"))
    assert os.path.getsize(cached) < 33 << 20  # one 20 MB file within the 32 MiB for possible link targets
    assert peak_rss(srv) < 1 << 30


def test_a_layer_keeps_at_most_its_limit(srv):
    """Files at a package manager's own path count against the per-layer limit (384 MiB):
    20 dpkg status.d files of 20 MB are refused, naming the limit, and never all held."""
    files = {f"var/lib/dpkg/status.d/p{i}": (20 << 20,) for i in range(20)}
    files["etc/os-release"] = OS
    assert push(srv.url, "lim/kept", [(layer(files), GZ)]).status_code == 201
    a = wait(srv.url, "lim/kept", "1", timeout=300)
    assert a["status"] == "Failed" and a["reason"].startswith(LIMIT), a
    assert "per-layer limit" in a["reason"] and "402653184 bytes" in a["reason"], a["reason"]
    assert peak_rss(srv) < 1 << 30


def test_decompression_bombs_are_refused_by_their_ratio(srv):
    """A 2 MB zstd layer of 60 GiB (it held a worker 17 s before) and a 260 KB gzip layer of
    256 MiB: Failed at once, the reason naming the compression-ratio limit (not 'request body
    too large')."""
    z = zstd_bomb(60 << 30)
    assert len(z) < 2 << 20
    g = layer({"big.bin": (256 << 20, 0)})
    for repo, blob, mt in (("lim/zstd", z, ZSTD), ("lim/gzip", g, GZ)):
        assert push(srv.url, repo, [(blob, mt)]).status_code == 201
    for repo in ("lim/zstd", "lim/gzip"):
        a = wait(srv.url, repo, "1", timeout=300)
        assert a["status"] == "Failed" and a["reason"].startswith(LIMIT), a
        assert "compression-ratio limit" in a["reason"] and "decompression bomb" in a["reason"], a["reason"]
        assert "request body too large" not in a["reason"]


def test_too_many_layers(srv):
    """It said 'has no layers array'."""
    ok = layer({"etc/os-release": OS, "var/lib/dpkg/status": STATUS})
    r = push(srv.url, "lim/many", [(ok, GZ)] * 1001)
    assert r.status_code == 201, r.text
    a = wait(srv.url, "lim/many", "1")
    assert a["status"] == "Failed" and a["reason"].startswith(LIMIT), a
    assert "has 1001 layers, more than the 1000 an image may have" in a["reason"], a["reason"]


def test_an_empty_blob_is_an_empty_layer(srv):
    """No bytes at all as a layer (plain or said to be gzip): an empty layer, not 'not a tar'."""
    ok = layer({"etc/os-release": OS, "var/lib/dpkg/status": STATUS})
    assert push(srv.url, "lim/empty", [(b"", TAR), (ok, GZ), (b"", GZ)]).status_code == 201
    a = wait(srv.url, "lim/empty", "1")
    assert a["status"] in ("Healthy", "Unhealthy") and a["packages"] == 1, a
