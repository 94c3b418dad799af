"""Shared by every black-box suite: a passing test's temporary directory is removed once its
servers have stopped. A whole run writes about 13 GB there (data directories, built images),
and pytest keeps the last three runs; a failing test's directory stays to be looked at."""
import shutil

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        item._drydock_failed = True
    if report.when == "teardown" and not getattr(item, "_drydock_failed", False):
        path = getattr(item, "funcargs", {}).get("tmp_path")
        if path is not None:
            shutil.rmtree(path, ignore_errors=True)
