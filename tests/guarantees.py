"""The guarantee tests may not skip where the servers are promised: a pytest plugin.

A test marked ``guarantee`` shows one of the README's promises against the
real thing (PostgreSQL, Redis, a Celery worker and broker, gunicorn, a
killed process...). On a laptop without those servers it skips and says
why. When ``REQUIRE_GUARANTEES=1`` (set by ``.ci/run`` for its PostgreSQL
and Redis pass), a skip of such a test is turned into a failure that names
the test and the reason it gave (an ERROR when the skip came from a fixture or a
``skipif``, a FAILED otherwise), and they are listed again at the end, so CI
cannot pass without the guarantees.
An expected failure (``xfail``) is left alone.
"""
import os

import pytest

VARIABLE = "REQUIRE_GUARANTEES"


def required() -> bool:
    return os.environ.get(VARIABLE) == "1"


def pytest_configure(config):
    config.addinivalue_line("markers", "guarantee: shows a README promise against real servers; "
                                       f"may not skip when {VARIABLE}=1 (.ci/run's server pass)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not (report.skipped and required() and item.get_closest_marker("guarantee")) or hasattr(report, "wasxfail"):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = f"guarantee test skipped where {VARIABLE}=1: {item.nodeid}: {reason.removeprefix('Skipped: ')}"


def pytest_terminal_summary(terminalreporter):
    if not required():
        return
    reports = terminalreporter.stats.get("failed", []) + terminalreporter.stats.get("error", [])
    skipped = sorted({r.nodeid for r in reports if "guarantee test skipped" in str(r.longrepr)})
    if skipped:
        terminalreporter.section(f"{len(skipped)} guarantee tests did not run")
        for nodeid in skipped:
            terminalreporter.write_line(nodeid)
