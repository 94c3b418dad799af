import os
import sys

import pytest
import requests

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from drydock import Server  # noqa: E402


@pytest.fixture(scope="module")
def server():
    s = Server().start()
    yield s
    s.stop()


@pytest.fixture
def base(server):
    return server.url


@pytest.fixture
def http():
    with requests.Session() as s:
        yield s
