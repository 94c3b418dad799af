import os
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(autouse=True)
def private_layer_cache(tmp_path, monkeypatch):
    """Each test gets its own layer cache, so no test sees another's layers."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


@pytest.fixture(scope="session")
def images():
    """The built test images (OCI layouts), from the cache outside the repository."""
    out = subprocess.run(["bash", os.path.join(HERE, "..", "images", "cached.sh")], check=True,
                         stdout=subprocess.PIPE, text=True).stdout.strip()
    return os.path.join(out, "oci")
