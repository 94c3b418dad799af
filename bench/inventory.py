"""Inventory benchmark: drydock sbom of debian-big against the floor of one decompression
pass (`gzip -dc` of its layers to /dev/null, same run), the same image with every layer in
the cache, and peak RSS while reading a 1 GB layer. Medians of several runs."""
import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import time


def timed(cmd, **kw):
    t = time.monotonic()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, **kw)
    return time.monotonic() - t


def peak_rss_mib(cmd):
    p = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    return int(p.stderr.strip().splitlines()[-1]) / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--drydock", required=True)
    ap.add_argument("--images", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    layout = os.path.join(a.images, "debian-big")
    idx = json.load(open(os.path.join(layout, "index.json")))
    man = json.load(open(os.path.join(layout, "blobs", *idx["manifests"][0]["digest"].split(":"))))
    blobs = [os.path.join(layout, "blobs", *l["digest"].split(":")) for l in man["layers"]]
    tmp = tempfile.mkdtemp(prefix="bench-inventory-")
    res = {"gzip -dc of the layers (s)": [], "drydock sbom, cold (s)": [], "drydock sbom, all layers cached (ms)": [],
           "drydock version, the process floor (ms)": []}
    try:
        for run in range(a.runs):
            res["gzip -dc of the layers (s)"].append(
                timed(["sh", "-c", " ".join(f"gzip -dc < {b} > /dev/null;" for b in blobs)]))
            cache = os.path.join(tmp, f"cache{run}")
            res["drydock sbom, cold (s)"].append(timed([a.drydock, "sbom", layout, "--cache", cache]))
            for _ in range(5):
                res["drydock sbom, all layers cached (ms)"].append(
                    1000 * timed([a.drydock, "sbom", layout, "--cache", cache]))
                res["drydock version, the process floor (ms)"].append(1000 * timed([a.drydock, "version"]))
        # a 1 GB layer: one large file and a dpkg status, gzip-compressed
        big = os.path.join(tmp, "big")
        os.makedirs(f"{big}/rootfs/var/lib/dpkg")
        with open(f"{big}/rootfs/var/lib/dpkg/status", "w") as f:
            f.write("Package: a\nVersion: 1.0\nStatus: install ok installed\n\n")
        subprocess.run(["sh", "-c", f"head -c 1000000000 /dev/urandom > {big}/rootfs/blob"], check=True)
        subprocess.run(["sh", "-c", f"tar -C {big}/rootfs -c . | gzip -1 > {big}/layer.tar.gz"], check=True)
        layer = open(f"{big}/layer.tar.gz", "rb").read()
        import hashlib
        d = hashlib.sha256(layer).hexdigest()
        lay = os.path.join(tmp, "layout")
        os.makedirs(f"{lay}/blobs/sha256")
        os.rename(f"{big}/layer.tar.gz", f"{lay}/blobs/sha256/{d}")
        cfg = b'{"architecture":"amd64","os":"linux"}'
        cd = hashlib.sha256(cfg).hexdigest()
        open(f"{lay}/blobs/sha256/{cd}", "wb").write(cfg)
        m = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                   "digest": "sha256:" + cd, "size": len(cfg)},
                        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                    "digest": "sha256:" + d, "size": len(layer)}]}).encode()
        md = hashlib.sha256(m).hexdigest()
        open(f"{lay}/blobs/sha256/{md}", "wb").write(m)
        open(f"{lay}/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
        open(f"{lay}/index.json", "w").write(json.dumps({"schemaVersion": 2, "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + md, "size": len(m)}]}))
        shutil.rmtree(big)
        res["peak RSS reading a 1 GB layer (MiB)"] = [peak_rss_mib([a.drydock, "sbom", lay, "--no-cache"])]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in res.items()}
    ratio = med["drydock sbom, cold (s)"] / med["gzip -dc of the layers (s)"]
    lines = ["## Inventory (`drydock sbom`)", "",
             f"debian-big ({len(blobs)} layers), medians of {a.runs} runs, same machine and run.", "",
             "| measure | value | target |", "|---|---|---|",
             f"| gzip -dc of the layers | {med['gzip -dc of the layers (s)']:.3f} s | the floor |",
             f"| drydock sbom, cold | {med['drydock sbom, cold (s)']:.3f} s ({ratio:.2f}x gzip -dc) | ≤ 1.2x gzip -dc |",
             f"| drydock sbom, all layers cached (whole process) | {med['drydock sbom, all layers cached (ms)']:.1f} ms | |",
             f"| the same less the process floor (`drydock version`: {med['drydock version, the process floor (ms)']:.1f} ms, "
             "the harness's fork and exec, and dynamic linking) | "
             f"{med['drydock sbom, all layers cached (ms)'] - med['drydock version, the process floor (ms)']:.1f} ms | < 10 ms |",
             f"| peak RSS reading a 1 GB layer | {med['peak RSS reading a 1 GB layer (MiB)']:.1f} MiB | < 64 MiB |",
             "", "Raw samples:", "", "```", json.dumps(res, indent=1), "```", ""]
    with open(a.out, "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines[:9]))


if __name__ == "__main__":
    main()
