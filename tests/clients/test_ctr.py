"""containerd's ctr against drydock with authentication on, through a containerd of the test's
own (tests/lib/engines.py; native snapshotter): push and pull with `--user` (ctr has no login;
`--plain-http` for the loopback port), a push to a second repository that mounts every blob
ctr pulled from the first (containerd remembers where content came from), an OCI index with
two platforms pushed whole and pulled with every platform, and refusals: a wrong password, a
reader's push."""
import os
import shutil
import tempfile

import pytest

from clientlib import (OCI_INDEX, add_user, check_image, check_mounted, layout_archive, layout_image, log_offset,
                       registry_manifest, registry_raw, registry_status, run, sha256, two_platform_layout)
from drydock import Server
from engines import Containerd, missing


@pytest.fixture(scope="module")
def srv():
    s = Server(auth=True, extra_args=["--scan-workers", "0", "--access-log"]).start()
    yield s
    s.stop()
    shutil.rmtree(s.data_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def containerd():
    gone = missing("containerd", "ctr")
    if gone:
        pytest.skip(f"not installed: {', '.join(gone)} (scripts/deps.sh installs containerd)")
    root = tempfile.mkdtemp(prefix="drydock-containerd-")
    cd = Containerd(root)
    try:
        cd.start()
        yield cd
    finally:
        cd.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def accounts(srv):
    return {"dev": add_user(srv, "dev", "writer:team/*"), "viewer": add_user(srv, "viewer", "reader:team/*")}


def ctr(cd, *args, **kw):
    return run(*cd.ctr(*args), env=cd.env(), **kw)


def images_named(cd):
    return ctr(cd, "images", "ls", "--quiet").stdout.split()


def forget(cd):
    """Removes every image (their content goes with containerd's garbage collection)."""
    names = images_named(cd)
    if names:
        ctr(cd, "images", "rm", "--sync", *names)


def test_ctr_push_mount_pull(srv, containerd, accounts, images, tmp_path):
    host = f"127.0.0.1:{srv.port}"
    user = f"dev:{accounts['dev']}"
    layout = os.path.join(images, "debian-min")
    want, _ = layout_image(layout)
    archive = str(tmp_path / "min.tar")
    run("skopeo", "copy", "--quiet", f"oci:{layout}:latest", f"oci-archive:{archive}:latest")
    ctr(containerd, "images", "import", "--no-unpack", "--base-name", "drydock-tests/min", archive)
    os.unlink(archive)
    ctr(containerd, "images", "tag", "drydock-tests/min:latest", f"{host}/team/min:v1")

    # a wrong password: the token endpoint refuses it and nothing is pushed
    p = ctr(containerd, "images", "push", "--plain-http", "--user", "dev:wrong", f"{host}/team/min:v1", ok=False)
    assert p.returncode != 0 and "401 Unauthorized" in p.stderr, p.stderr
    assert registry_status(srv, "team/min", "v1") == 404

    # ctr pushes the compressed blobs it holds: the registry has the source's manifest, byte for byte
    ctr(containerd, "images", "push", "--plain-http", "--user", user, f"{host}/team/min:v1")
    raw = registry_raw(srv, "team/min", "v1")
    m = registry_manifest(srv, "team/min", "v1")[1]
    assert m["layers"] == want["layers"] and m["config"] == want["config"]
    check_image(srv, "team/min", m)

    # the reader pulls it into an empty store and unpacks it
    forget(containerd)
    ctr(containerd, "images", "pull", "--plain-http", "--user", f"viewer:{accounts['viewer']}", f"{host}/team/min:v1")
    out = ctr(containerd, "images", "check").stdout
    assert f"{host}/team/min:v1" in out and "complete" in out, out
    assert sha256(raw) in ctr(containerd, "images", "ls").stdout

    # and dev pushes what was pulled to another repository: every blob mounted, none uploaded
    since = log_offset(srv)
    ctr(containerd, "images", "tag", f"{host}/team/min:v1", f"{host}/team/copy:v1")
    ctr(containerd, "images", "push", "--plain-http", "--user", user, f"{host}/team/copy:v1")
    check_mounted(srv, since, "team/copy", len(m["layers"]) + 1, 1)  # the config too: no byte uploaded
    assert registry_raw(srv, "team/copy", "v1") == raw
    forget(containerd)


def test_ctr_oci_index(srv, containerd, accounts, images, tmp_path):
    host = f"127.0.0.1:{srv.port}"
    user = f"dev:{accounts['dev']}"
    index = two_platform_layout(os.path.join(images, "debian-min"), str(tmp_path / "index"))
    archive = layout_archive(str(tmp_path / "index"), str(tmp_path / "index.tar"))
    ctr(containerd, "images", "import", "--no-unpack", "--all-platforms", "--base-name", "drydock-tests/index",
        archive)
    os.unlink(archive)
    ctr(containerd, "images", "tag", "drydock-tests/index:latest", f"{host}/team/index:v1")
    ctr(containerd, "images", "push", "--plain-http", "--user", user, f"{host}/team/index:v1")
    ctype, got = registry_manifest(srv, "team/index", "v1")
    assert ctype == OCI_INDEX and got == index
    for e in index["manifests"]:
        m = registry_manifest(srv, "team/index", e["digest"])[1]
        assert check_image(srv, "team/index", m)["architecture"] == e["platform"]["architecture"]

    # every platform pulled back, then pushed to another repository: all mounted
    forget(containerd)
    ctr(containerd, "images", "pull", "--plain-http", "--all-platforms", "--user", f"viewer:{accounts['viewer']}",
        f"{host}/team/index:v1")
    since = log_offset(srv)
    ctr(containerd, "images", "tag", f"{host}/team/index:v1", f"{host}/team/index-copy:v1")
    ctr(containerd, "images", "push", "--plain-http", "--user", user, f"{host}/team/index-copy:v1")
    check_mounted(srv, since, "team/index-copy", 3, 1)  # the layer and both configs
    assert registry_manifest(srv, "team/index-copy", "v1") == (OCI_INDEX, index)
    forget(containerd)


def test_ctr_reader_push_refused(srv, containerd, accounts, images, tmp_path):
    host = f"127.0.0.1:{srv.port}"
    archive = str(tmp_path / "min.tar")
    run("skopeo", "copy", "--quiet", f"oci:{os.path.join(images, 'debian-min')}:latest",
        f"oci-archive:{archive}:latest")
    ctr(containerd, "images", "import", "--no-unpack", "--base-name", "drydock-tests/min", archive)
    os.unlink(archive)
    ctr(containerd, "images", "tag", "drydock-tests/min:latest", f"{host}/team/readonly:v1")
    p = ctr(containerd, "images", "push", "--plain-http", "--user", f"viewer:{accounts['viewer']}",
            f"{host}/team/readonly:v1", ok=False)
    assert p.returncode != 0 and "insufficient_scope" in p.stderr, p.stderr
    assert registry_status(srv, "team/readonly", "v1") == 404
    forget(containerd)
