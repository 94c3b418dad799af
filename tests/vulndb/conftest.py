import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from drydock import BIN, VULNDATA, cached_images  # noqa: E402


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Each test gets its own cache directory (layer cache, default database path)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.delenv("DRYDOCK_DB", raising=False)
    monkeypatch.delenv("DRYDOCK_FEEDS_DIR", raising=False)


@pytest.fixture(scope="session")
def full_db(tmp_path_factory):
    """The database built from every real feed snapshot, once per test session."""
    if not os.path.isdir(VULNDATA):
        pytest.skip("../shared/vulndata not present (set DRYDOCK_SHARED)")
    path = str(tmp_path_factory.mktemp("db") / "vulndb.ddb")
    r = subprocess.run([BIN, "db", "import", "--db", path, VULNDATA], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return path


@pytest.fixture(scope="session")
def images():
    """The built test images (OCI layouts), from the cache outside the repository."""
    return cached_images()


@pytest.fixture(scope="session")
def rpm_images():
    """rpm-min (tests/images/build-rpm.sh), from the same cache."""
    return cached_images("build-rpm.sh")
