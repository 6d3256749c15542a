"""The plugin that keeps CI from passing without the guarantee tests (tests/guarantees.py).

Each case runs a small test file in a pytest of its own, with and without
``REQUIRE_GUARANTEES=1``, and reads its outcome.
"""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

FILE = '''
import pytest

@pytest.mark.guarantee
def test_needs_a_server():
    pytest.skip("needs PostgreSQL")

@pytest.mark.guarantee
@pytest.mark.skipif(True, reason="no redis-server")
def test_marked_skipif():
    pass

@pytest.fixture
def server():
    pytest.skip("no broker")

@pytest.mark.guarantee
def test_fixture_skips(server):
    pass

@pytest.mark.guarantee
def test_runs():
    assert True

@pytest.mark.guarantee
@pytest.mark.xfail(reason="known", strict=True)
def test_expected_failure():
    assert False

def test_an_ordinary_skip():
    pytest.skip("not a guarantee")
'''


def run(tmp_path, required):
    (tmp_path / "test_sample.py").write_text(FILE)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("REQUIRE_GUARANTEES", None)
    if required:
        env["REQUIRE_GUARANTEES"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:django", "-p", "no:cacheprovider", "-p", "tests.guarantees",
         "-rA", "-c", os.devnull, "--rootdir", str(tmp_path), str(tmp_path / "test_sample.py")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )


def test_guarantee_skips_fail_and_are_named_when_required(tmp_path):
    result = run(tmp_path, required=True)
    assert result.returncode == 1, result.stdout
    out = result.stdout
    for name, reason in (("test_needs_a_server", "needs PostgreSQL"), ("test_marked_skipif", "no redis-server"),
                         ("test_fixture_skips", "no broker")):
        assert f"FAILED test_sample.py::{name}" in out or f"ERROR test_sample.py::{name}" in out, out
        assert f"guarantee test skipped where REQUIRE_GUARANTEES=1: test_sample.py::{name}: {reason}" in out, out
    listed = out.split("3 guarantee tests did not run", 1)[1].split("short test summary", 1)[0]
    assert [w for w in listed.split() if w.startswith("test_sample.py")] == [
        "test_sample.py::test_fixture_skips", "test_sample.py::test_marked_skipif", "test_sample.py::test_needs_a_server"]
    assert "PASSED test_sample.py::test_runs" in out
    assert "XFAIL test_sample.py::test_expected_failure" in out
    assert "SKIPPED [1] test_sample.py" in out and "not a guarantee" in out  # an ordinary test may still skip
    assert "1 failed, 1 passed, 1 skipped, 1 xfailed, 2 errors" in out, out


def test_guarantee_tests_skip_on_a_laptop(tmp_path):
    result = run(tmp_path, required=False)
    assert result.returncode == 0, result.stdout
    assert "1 passed, 4 skipped, 1 xfailed" in result.stdout, result.stdout
    assert "guarantee tests did not run" not in result.stdout
