"""pytest plugin for scenario tests (the e2e test, the dataplane integration tests): the test
functions of a module run in order against one sandbox, and a test marked ``@pytest.mark.must``
is a step the rest depend on. When a must step fails, every later test of the module fails at
once, naming it, instead of failing later for a reason that hides the first one (never a skip:
CI must show red). Load with ``-p steps`` (tests/pytest.cmake puts tests/support on the path).
"""

from __future__ import annotations

import pytest

_FAILED = pytest.StashKey[dict]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "must: a step the later tests of the module depend on")
    config.stash[_FAILED] = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if report.failed and item.get_closest_marker("must") is not None:
        item.config.stash[_FAILED].setdefault(item.module.__name__, item.name)


def pytest_runtest_setup(item: pytest.Item) -> None:
    failed = item.config.stash[_FAILED].get(item.module.__name__)
    if failed is not None:
        pytest.fail(f"not run: the step it depends on failed: {failed}", pytrace=False)
