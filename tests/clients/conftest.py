import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from drydock import Server  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="session")
def images():
    """The built test images (OCI layouts), from the cache outside the repository."""
    out = subprocess.run(["bash", os.path.join(HERE, "..", "images", "cached.sh")], check=True,
                         stdout=subprocess.PIPE, text=True).stdout.strip()
    return os.path.join(out, "oci")


@pytest.fixture(scope="module")
def server():
    s = Server().start()
    yield s
    s.stop()
