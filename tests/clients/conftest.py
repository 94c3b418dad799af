import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from drydock import Server, cached_images  # noqa: E402



@pytest.fixture(scope="session")
def images():
    """The built test images (OCI layouts), from the cache outside the repository."""
    return cached_images()


@pytest.fixture(scope="module")
def server():
    s = Server().start()
    yield s
    s.stop()
