"""Writes synthetic rpm seeds for fuzz/corpus/pkgdb: a header blob and an NDB file holding it
(made here from the formats' definitions, not copied from any fixture)."""
import struct
import sys

out = sys.argv[1]


def header(tags):
    index, data = b"", b""
    for tag, typ, val in tags:
        if typ == 4:
            while len(data) % 4:
                data += b"\0"
            off, payload = len(data), struct.pack(">I", val)
        else:
            off, payload = len(data), val.encode() + b"\0"
        index += struct.pack(">IIII", tag, typ, off, 1)
        data += payload
    return struct.pack(">II", len(tags), len(data)) + index + data


blob = header([(1000, 6, "zlib"), (1001, 6, "1.2.11"), (1002, 6, "39.el9"), (1003, 4, 1), (1022, 6, "x86_64"),
               (1044, 6, "zlib-1.2.11-39.el9.src.rpm"), (1011, 6, "Example"), (1014, 6, "zlib")])
open(f"{out}/rpm-header", "wb").write(b"\x04" + blob)
# NDB: header (RpmP, version 0, generation, 1 slot page), slots from index 2, blobs in 16-byte blocks
page = bytearray(4096)
page[0:16] = b"RpmP" + struct.pack("<III", 0, 1, 1)
slots = []
for i in range(2, 256):
    slots.append(struct.pack("<4sIII", b"Slot", 0, 0, 0))
blk = 4096 // 16
slots[0] = struct.pack("<4sIII", b"Slot", 1, blk, (16 + len(blob) + 15) // 16)
page[32:] = b"".join(slots)
body = struct.pack("<4sIII", b"BlbS", 1, 0, len(blob)) + blob
body += b"\0" * (-len(body) % 16)
open(f"{out}/rpm-ndb", "wb").write(b"\x07" + bytes(page) + body)

# Berkeley DB hash (rpm's Packages): a 4-byte instance number mapped to a header blob, made by
# db5.3_load (Debian's db5.3-util) with 512-byte pages so the blob lands on overflow pages.
import os
import shutil
import subprocess
import tempfile

if shutil.which("db5.3_load"):
    big = header([(1000, 6, "hello"), (1001, 6, "0.0.1"), (1002, 6, "rls"), (1003, 4, 1), (1022, 6, "x86_64"),
                  (1044, 6, "hello-0.0.1-rls.src.rpm"), (1014, 6, "GPL " + "x" * 900)])
    tmp = tempfile.mkdtemp()
    with open(f"{tmp}/dump", "w") as f:
        f.write("VERSION=3\nformat=bytevalue\ntype=hash\ndb_pagesize=512\nHEADER=END\n")
        f.write(f" {struct.pack('<I', 1).hex()}\n {big.hex()}\nDATA=END\n")
    subprocess.run(["db5.3_load", "-f", f"{tmp}/dump", f"{tmp}/Packages"], check=True)
    open(f"{out}/rpm-bdb", "wb").write(b"\x06" + open(f"{tmp}/Packages", "rb").read())
    shutil.rmtree(tmp)
