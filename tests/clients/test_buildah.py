"""buildah (daemonless, vfs storage of the test's own) against drydock with authentication on:
login, push, a second push of the same layers to another repository (mounted), pull, an OCI
index made with `buildah manifest` and pushed with every image it lists, and refusals: a wrong
password, a reader's push."""
import os
import shutil
import tempfile

import pytest

from clientlib import (OCI_INDEX, add_user, check_image, check_mounted, layout_image, log_offset,
                       registry_manifest, registry_status, run, tiny_layout)
from drydock import Server
from engines import missing


@pytest.fixture(scope="module")
def srv():
    s = Server(auth=True, extra_args=["--scan-workers", "0", "--access-log"]).start()
    yield s
    s.stop()
    shutil.rmtree(s.data_dir, ignore_errors=True)


class Buildah:
    """buildah over a store of the test's own, with its own login file."""

    def __init__(self, root):
        self.root = root
        self.env = dict(os.environ, REGISTRY_AUTH_FILE=os.path.join(root, "auth.json"))

    def __call__(self, *args, **kw):
        return run("buildah", "--root", f"{self.root}/root", "--runroot", f"{self.root}/run",
                   "--storage-driver", "vfs", *args, env=self.env, **kw)


@pytest.fixture(scope="module")
def buildah():
    if missing("buildah"):
        pytest.skip("not installed: buildah (scripts/deps.sh installs it)")
    root = tempfile.mkdtemp(prefix="drydock-buildah-")
    try:
        yield Buildah(root)
    finally:
        b = Buildah(root)
        b("rm", "--all", ok=False)  # working containers, before their store goes
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def writer(srv, buildah):
    host = f"127.0.0.1:{srv.port}"
    pw = add_user(srv, "dev", "writer:team/*")
    buildah("login", "--tls-verify=false", "--username", "dev", "--password-stdin", host, input=pw + "\n")
    return host


def test_buildah_login_refuses_a_wrong_password(srv, buildah):
    host = f"127.0.0.1:{srv.port}"
    add_user(srv, "eve", "writer:team/*")
    p = buildah("login", "--tls-verify=false", "--username", "eve", "--password-stdin", host, input="wrong\n",
                ok=False)
    assert p.returncode != 0 and "invalid username/password" in p.stderr, p.stderr


def test_buildah_push_mount_pull(srv, buildah, writer, images):
    host = writer
    layout = os.path.join(images, "debian-min")
    want_m, want_cfg = layout_image(layout)
    local = buildah("pull", "--quiet", f"oci:{layout}:latest").stdout.strip()
    buildah("tag", local, f"{host}/team/min:v1")
    buildah("push", "--quiet", "--tls-verify=false", f"{host}/team/min:v1")
    ctype, m = registry_manifest(srv, "team/min", "v1")
    assert check_image(srv, "team/min", m)["rootfs"]["diff_ids"] == want_cfg["rootfs"]["diff_ids"]

    # the same image to another repository: its layers mounted from team/min
    since = log_offset(srv)
    buildah("push", "--quiet", "--tls-verify=false", f"{host}/team/min:v1", f"docker://{host}/team/copy:v1")
    check_mounted(srv, since, "team/copy", len(m["layers"]), min(l["size"] for l in m["layers"]))
    assert registry_manifest(srv, "team/copy", "v1")[1]["layers"] == m["layers"]

    # pull back into an empty store
    buildah("rmi", "--all", "--force")
    image_id = buildah("pull", "--quiet", "--tls-verify=false", f"{host}/team/copy:v1").stdout.strip()
    assert "sha256:" + image_id == m["config"]["digest"]
    out = buildah("inspect", "--type", "image", "--format", "{{.OCIv1.RootFS.DiffIDs}}", f"{host}/team/copy:v1").stdout
    assert out.strip() == "[" + " ".join(want_cfg["rootfs"]["diff_ids"]) + "]"


def test_buildah_manifest_push_oci_index(srv, buildah, writer, tmp_path):
    host = writer
    # a small image made here (what it holds does not matter; a commit of debian-min in vfs
    # copies and diffs its whole tree)
    tiny = tiny_layout(str(tmp_path / "tiny"), "buildah manifest push")
    local = buildah("pull", "--quiet", f"oci:{tiny}:latest").stdout.strip()
    # an arm64 twin: the same layer under a config that says arm64
    ctr = buildah("from", "--pull-never", "--quiet", local).stdout.strip()
    buildah("config", "--arch", "arm64", ctr)
    buildah("commit", "--quiet", "--rm", ctr, "drydock-tests/min-arm64")
    lst = f"{host}/team/list:v1"
    buildah("manifest", "create", lst)
    buildah("manifest", "add", lst, local)
    buildah("manifest", "add", "--arch", "arm64", lst, "drydock-tests/min-arm64")
    buildah("manifest", "push", "--all", "--format", "oci", "--tls-verify=false", lst, f"docker://{lst}")
    ctype, index = registry_manifest(srv, "team/list", "v1")
    assert ctype == OCI_INDEX and index["mediaType"] == OCI_INDEX
    assert sorted(e["platform"]["architecture"] for e in index["manifests"]) == ["amd64", "arm64"]
    for e in index["manifests"]:  # every image it lists was pushed with it, whole
        ctype, m = registry_manifest(srv, "team/list", e["digest"])
        assert ctype == e["mediaType"]
        assert check_image(srv, "team/list", m)["architecture"] == e["platform"]["architecture"]
    # pulling the index picks this machine's platform
    buildah("rmi", "--all", "--force")
    buildah("pull", "--quiet", "--tls-verify=false", lst)
    arch = buildah("inspect", "--type", "image", "--format", "{{.OCIv1.Architecture}}", lst).stdout.strip()
    assert arch == "amd64"


def test_buildah_reader_push_refused(srv, buildah, tmp_path):
    host = f"127.0.0.1:{srv.port}"
    pw = add_user(srv, "viewer", "reader:team/*")
    viewer = Buildah(buildah.root)
    viewer.env["REGISTRY_AUTH_FILE"] = str(tmp_path / "auth.json")
    viewer("login", "--tls-verify=false", "--username", "viewer", "--password-stdin", host, input=pw + "\n")
    local = viewer("pull", "--quiet", f"oci:{tiny_layout(str(tmp_path / 'tiny'), 'refused')}:latest").stdout.strip()
    p = viewer("push", "--quiet", "--tls-verify=false", local, f"docker://{host}/team/readonly:v1", ok=False)
    assert p.returncode != 0 and "denied" in p.stderr, p.stderr
    assert registry_status(srv, "team/readonly", "v1") == 404
