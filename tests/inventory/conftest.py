import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from drydock import cached_images  # noqa: E402


@pytest.fixture(autouse=True)
def private_layer_cache(tmp_path, monkeypatch):
    """Each test gets its own layer cache, so no test sees another's layers."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


@pytest.fixture(scope="session")
def images():
    """The built test images (OCI layouts), from the cache outside the repository."""
    return cached_images()
