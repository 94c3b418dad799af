"""Helpers the real-client tests (tests/clients: docker, buildah, ctr) share: running a
client, accounts made with `drydock user`, reading the server's access log (what was uploaded,
what was mounted), the registry's view of what a client pushed, and a two-platform OCI layout
to push as an image index."""
import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile
import time

import requests

from drydock import ADMIN_PASSWORD, BIN

ADMIN = ("admin", ADMIN_PASSWORD)
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFESTS = ",".join([OCI_INDEX, DOCKER_LIST, "application/vnd.oci.image.manifest.v1+json",
                      "application/vnd.docker.distribution.manifest.v2+json"])


def run(*args, ok=True, **kw):
    """Runs a client; with ok, a non-zero exit fails the test with its stderr."""
    p = subprocess.run(list(args), capture_output=True, text=True, timeout=600, **kw)
    if ok:
        assert p.returncode == 0, f"{args}: exit {p.returncode}\n{p.stdout[-2000:]}\n{p.stderr[-3000:]}"
    return p


def add_user(server, name, role):
    """An account made with the real `drydock user add`; returns its password."""
    pw = f"{name}-password"
    run(BIN, "user", "--data", server.data_dir, "add", name, "--password-stdin", "--role", role, input=pw + "\n")
    return pw


# one access-log line: "PUT /v2/a/b/manifests/v1 201 received 528B sent 348B 1.0ms HTTP/1.1"
ACCESS = re.compile(r"\binfo\s+([A-Z]+) (\S+) (\d{3}) received (\d+)B sent (\d+)B ")


def log_offset(server):
    return os.path.getsize(server.log_path)


def access_log(server, since=0):
    """The requests the server logged (--access-log) after offset SINCE:
    [(method, path, status, bytes received)]; the path is without its query string."""
    with open(server.log_path, errors="replace") as f:
        f.seek(since)
        return [(m[1], m[2], int(m[3]), int(m[4])) for m in ACCESS.finditer(f.read())]


def wait_access(server, since, pred, what, timeout=30):
    """The access log after SINCE once PRED(lines) holds (a request's line is written as it
    ends, which may be just after the client saw its answer); fails with WHAT and the lines."""
    deadline = time.time() + timeout
    while True:
        lines = access_log(server, since)
        if pred(lines) or time.time() > deadline:
            break
        time.sleep(0.1)
    assert pred(lines), f"{what}; the access log has:\n" + "\n".join(map(str, lines))
    return lines


def check_mounted(server, since, repo, layers, min_layer_size):
    """The push to REPO after log offset SINCE mounted LAYERS (a number) from another
    repository: that many POST /v2/REPO/blobs/uploads/ answered 201 with no body (a
    cross-repository mount; an upload is answered 202, a monolithic one carries the blob), and
    the PATCH/PUT uploads to REPO carried fewer bytes than the smallest layer (configs at
    most, never a layer)."""
    uploads = f"/v2/{repo}/blobs/uploads/"
    lines = wait_access(server, since, lambda ls: any(m == "PUT" and p.startswith(f"/v2/{repo}/manifests/") and st == 201
                                                      for m, p, st, _ in ls), f"no manifest PUT to {repo}")
    mounts = [l for l in lines if l[0] == "POST" and l[1] == uploads and l[2] == 201 and l[3] == 0]
    assert len(mounts) >= layers, f"{len(mounts)} mounts into {repo}, want {layers}:\n" + "\n".join(map(str, lines))
    uploaded = sum(rcv for m, p, st, rcv in lines if m in ("PATCH", "PUT") and p.startswith(uploads))
    assert uploaded < min_layer_size, f"{uploaded} bytes uploaded to {repo} besides the mounts:\n" + \
        "\n".join(map(str, lines))
    return lines


def two_platform_layout(src, dst):
    """Writes at DST an OCI layout whose "latest" is an image index of SRC's image (an OCI
    layout, tag latest) for linux/amd64 and a linux/arm64 twin (the same layers, a config
    that says arm64); returns the index. Blobs are hard links, or copies across file systems."""
    idx = json.load(open(os.path.join(src, "index.json")))
    mdesc = next(m for m in idx["manifests"] if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == "latest")
    os.makedirs(os.path.join(dst, "blobs", "sha256"), exist_ok=True)

    def blob(data):
        h = hashlib.sha256(data).hexdigest()
        with open(os.path.join(dst, "blobs", "sha256", h), "wb") as f:
            f.write(data)
        return {"digest": "sha256:" + h, "size": len(data)}

    def read(d):
        return open(os.path.join(src, "blobs", *d.split(":")), "rb").read()

    raw = read(mdesc["digest"])
    manifest = json.loads(raw)
    for d in [manifest["config"]] + manifest["layers"]:
        s, t = os.path.join(src, "blobs", *d["digest"].split(":")), os.path.join(dst, "blobs", *d["digest"].split(":"))
        if not os.path.exists(t):
            try:
                os.link(s, t)
            except OSError:
                shutil.copyfile(s, t)
    config = json.loads(read(manifest["config"]["digest"]))
    config["architecture"] = "arm64"
    arm = dict(manifest, config=dict(manifest["config"], **blob(json.dumps(config).encode())))
    entries = [dict(mediaType=mdesc["mediaType"], **blob(data), platform={"architecture": a, "os": "linux"})
               for data, a in ((raw, "amd64"), (json.dumps(arm).encode(), "arm64"))]
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries}
    idesc = dict(mediaType=index["mediaType"], **blob(json.dumps(index).encode()),
                 annotations={"org.opencontainers.image.ref.name": "latest"})
    with open(os.path.join(dst, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [idesc]}, f)
    with open(os.path.join(dst, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion": "1.0.0"}')
    return index


def layout_archive(layout, tar_path):
    """An oci-archive (a tar of the layout) that `ctr images import` reads."""
    with tarfile.open(tar_path, "w", dereference=True) as t:
        for name in ("oci-layout", "index.json", "blobs"):
            t.add(os.path.join(layout, name), arcname=name)
    return tar_path


def registry_manifest(server, repo, ref, verify=True):
    """(Content-Type, parsed manifest) of REPO:REF as the registry serves it to the admin."""
    r = requests.get(f"{server.url}/v2/{repo}/manifests/{ref}", headers={"Accept": MANIFESTS}, auth=ADMIN,
                     verify=verify)
    assert r.status_code == 200, f"{repo}:{ref}: {r.status_code} {r.text[:500]}"
    return r.headers["Content-Type"], r.json()


def registry_raw(server, repo, ref, verify=True):
    """The manifest's bytes as the registry serves them to the admin."""
    r = requests.get(f"{server.url}/v2/{repo}/manifests/{ref}", headers={"Accept": MANIFESTS}, auth=ADMIN,
                     verify=verify)
    assert r.status_code == 200, f"{repo}:{ref}: {r.status_code} {r.text[:500]}"
    return r.content


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def registry_status(server, repo, ref, verify=True):
    return requests.get(f"{server.url}/v2/{repo}/manifests/{ref}", headers={"Accept": MANIFESTS}, auth=ADMIN,
                        verify=verify).status_code


def registry_blob(server, repo, digest, verify=True):
    """The blob's bytes, checked against its digest."""
    r = requests.get(f"{server.url}/v2/{repo}/blobs/{digest}", auth=ADMIN, verify=verify)
    assert r.status_code == 200, f"{repo}@{digest}: {r.status_code}"
    alg, hexd = digest.split(":")
    assert hashlib.new(alg, r.content).hexdigest() == hexd
    return r.content


def check_image(server, repo, manifest, verify=True):
    """Every blob MANIFEST names is served whole from REPO; returns the image's config."""
    for d in manifest["layers"]:
        r = requests.get(f"{server.url}/v2/{repo}/blobs/{d['digest']}", auth=ADMIN, verify=verify, stream=True)
        assert r.status_code == 200, f"{repo}@{d['digest']}: {r.status_code}"
        h, size = hashlib.sha256(), 0
        for chunk in r.iter_content(1 << 20):
            h.update(chunk)
            size += len(chunk)
        assert "sha256:" + h.hexdigest() == d["digest"] and size == d["size"]
    return json.loads(registry_blob(server, repo, manifest["config"]["digest"], verify))


def layout_image(layout):
    """(manifest, config) of the image tagged latest in the OCI layout LAYOUT."""
    idx = json.load(open(os.path.join(layout, "index.json")))
    d = next(m for m in idx["manifests"] if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == "latest")
    m = json.load(open(os.path.join(layout, "blobs", *d["digest"].split(":"))))
    return m, json.load(open(os.path.join(layout, "blobs", *m["config"]["digest"].split(":"))))


def tiny_layout(dst, text, arch="amd64"):
    """Writes at DST an OCI layout (tag latest) of a one-layer image that holds /hello.txt
    with TEXT: for the tests where what an image holds does not matter, only that it goes
    through (the Debian images cost a client seconds to unpack and recompress)."""
    import gzip
    import io
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        data = text.encode()
        info = tarfile.TarInfo("hello.txt")
        info.size, info.mode, info.mtime = len(data), 0o644, 1700000000
        t.addfile(info, io.BytesIO(data))
    layer = gzip.compress(raw.getvalue(), mtime=0)
    os.makedirs(os.path.join(dst, "blobs", "sha256"), exist_ok=True)

    def blob(media_type, data):
        h = hashlib.sha256(data).hexdigest()
        with open(os.path.join(dst, "blobs", "sha256", h), "wb") as f:
            f.write(data)
        return {"mediaType": media_type, "digest": "sha256:" + h, "size": len(data)}

    config = {"architecture": arch, "os": "linux", "created": "2023-11-14T22:13:20Z",
              "config": {"Cmd": ["/hello.txt"]},
              "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(raw.getvalue()).hexdigest()]},
              "history": [{"created": "2023-11-14T22:13:20Z", "created_by": "drydock tests"}]}
    m = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
         "config": blob("application/vnd.oci.image.config.v1+json", json.dumps(config).encode()),
         "layers": [blob("application/vnd.oci.image.layer.v1.tar+gzip", layer)]}
    d = blob(m["mediaType"], json.dumps(m).encode())
    d["annotations"] = {"org.opencontainers.image.ref.name": "latest"}
    with open(os.path.join(dst, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [d]}, f)
    with open(os.path.join(dst, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion": "1.0.0"}')
    return dst
