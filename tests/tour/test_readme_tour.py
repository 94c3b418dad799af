"""README.md's tour, run as written: every ```sh block of the section "A short tour", in order,
in one bash (so variables set by one block serve the next) with `set -euo pipefail`, against a
real server this test starts with authentication on, as `scripts/run.sh` would: a data
directory ./drydock-data with a vulnerability database built from the real Debian feeds. The
tour runs in a directory of its own, where `build` is the build under test and `scripts` the
repository's. The only change made to the text: the address in the line
`DRYDOCK=127.0.0.1:5000` becomes the server's. The clients are the real skopeo and podman
(podman with a store, configuration and login file of the test's own)."""
import os
import re
import shutil
import subprocess
import sys

import pytest
import requests

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from drydock import BIN, VULNDATA, Server  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ADDRESS_LINE = re.compile(r"^DRYDOCK=127\.0\.0\.1:5000(?=\s)", re.M)


def tour_blocks():
    """The shell blocks of README.md's "A short tour" section, in order."""
    text = open(os.path.join(REPO, "README.md")).read()
    m = re.search(r"^## A short tour\n(.*?)(?=^## )", text, re.M | re.S)
    assert m, "README.md has no section '## A short tour'"
    blocks = re.findall(r"^```sh\n(.*?)^```", m.group(1), re.M | re.S)
    assert len(blocks) >= 5, "the tour has fewer shell blocks than expected"
    return blocks


def test_tour_blocks_are_self_contained():
    """Nothing in the tour stands for what the reader must fill in."""
    for i, block in enumerate(tour_blocks(), 1):
        for bad in ("...", "/path/to", "$PASSWORD", "$PW ", "$SECRET", "/tmp/"):
            assert bad not in block, f"block {i} uses {bad!r}:\n{block}"
    assert ADDRESS_LINE.search(tour_blocks()[0]), "the first block no longer sets DRYDOCK=127.0.0.1:5000"


@pytest.fixture
def tour_env(tmp_path):
    """The tour's directory and environment, and a server on its ./drydock-data."""
    if not os.path.isdir(os.path.join(VULNDATA, "debian-osv")):
        pytest.skip("../shared/vulndata not present (set DRYDOCK_SHARED)")
    for tool in ("skopeo", "podman", "umoci", "jq", "openssl", "curl", "dpkg-query"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed (scripts/deps.sh installs it)")
    top = tmp_path / "tour"
    top.mkdir()
    os.symlink(os.path.dirname(os.path.realpath(BIN)), top / "build")
    os.symlink(os.path.join(REPO, "scripts"), top / "scripts")
    data = top / "drydock-data"
    data.mkdir()
    # what scripts/run.sh does offline with DRYDOCK_FEEDS_DIR: a database in DATA/vulndb.ddb
    r = subprocess.run([BIN, "db", "import", "--db", str(data / "vulndb.ddb"), os.path.join(VULNDATA, "debian-osv")],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    # podman and skopeo keep their store, settings and logins here, not in the machine's
    home, run = tmp_path / "home", tmp_path / "run"
    home.mkdir()
    run.mkdir(mode=0o700)
    (tmp_path / "storage.conf").write_text(
        f'[storage]\ndriver = "vfs"\ngraphroot = "{tmp_path}/storage"\nrunroot = "{run}/storage"\n')
    (tmp_path / "containers.conf").write_text(  # a libpod tmp dir of its own: /run/libpod is shared
        f'[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "none"\ntmp_dir = "{run}/libpod"\n'
        f'image_copy_tmp_dir = "{tmp_path}"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DRYDOCK_", "XDG_", "REGISTRY_AUTH"))}
    env.update(HOME=str(home), XDG_RUNTIME_DIR=str(run), XDG_CACHE_HOME=str(tmp_path / "cache"),
               XDG_CONFIG_HOME=str(home / ".config"), CONTAINERS_STORAGE_CONF=str(tmp_path / "storage.conf"),
               CONTAINERS_CONF=str(tmp_path / "containers.conf"), TMPDIR=str(tmp_path))
    srv = Server(data_dir=str(data), auth=True).start()
    yield top, env, srv
    srv.stop()
    # the images in the test's own podman store (vfs: every layer a full copy)
    subprocess.run(["podman", "rmi", "--all", "--force"], env=env, capture_output=True, timeout=120)
    shutil.rmtree(tmp_path / "storage", ignore_errors=True)


def test_readme_tour_runs_as_written(tour_env):
    top, env, srv = tour_env
    blocks = tour_blocks()
    blocks[0] = ADDRESS_LINE.sub(f"DRYDOCK=127.0.0.1:{srv.port}", blocks[0])
    script = ["set -euo pipefail",
              'trap \'echo "@@ block $BLOCK failed (exit $?): $BASH_COMMAND" >&2\' ERR']
    for i, block in enumerate(blocks, 1):
        script += [f"BLOCK={i}", f'echo "@@ block {i}" >&2', block, f'echo "@@ block {i} exit 0" >&2']
    p = subprocess.run(["bash", "-c", "\n".join(script)], cwd=top, env=env, capture_output=True, text=True,
                       timeout=1200, stdin=subprocess.DEVNULL)
    log = p.stdout[-6000:] + "\n--- stderr ---\n" + p.stderr[-8000:]
    done = re.findall(r"^@@ block (\d+) exit 0$", p.stderr, re.M)
    assert p.returncode == 0 and len(done) == len(blocks), \
        f"blocks run to the end: {len(done)} of {len(blocks)}\n{log}"
    srv.check_log()
    # what the tour did is in the registry
    admin = requests.get(f"{srv.url}/v2/_catalog", auth=("admin", "admin-password-for-tests"))
    assert admin.status_code == 401, "the tour changes the administrator's password"
    assert os.path.getsize(top / "image.tar") > 1 << 20
    findings = open(top / "app-findings.json").read()
    assert '"zlib1g"' in findings or '"libc6"' in findings, findings[:2000]
    assert "robot$ci" in p.stdout and "alice" in p.stdout
