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


# What makes a test need the real servers: a fixture that starts or reaches them, or a call that skips without them.
SERVER_FIXTURES = {"gunicorn", "broker", "worker", "server_behind_a_database_proxy", "cut_able_redis", "compose",
                   "outbox_waits_for_the_test"}
SERVER_CALLS = {"needs_postgresql", "needs_postgresql_and_redis", "require_postgresql", "needs_redis_server",
                "RedisServer", "needs_postgres"}


def _names(node) -> set:
    import ast

    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} | {
        n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}


def _module_fixtures_needing_servers(tree) -> set:
    """Fixtures of the module whose body reaches the servers (``shop`` calling needs_postgresql_and_redis...)."""
    import ast

    found = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and any("fixture" in _names(d) for d in node.decorator_list):
            if _names(node) & (SERVER_CALLS | SERVER_FIXTURES) or {a.arg for a in node.args.args} & SERVER_FIXTURES:
                found.add(node.name)
    return found


def test_every_test_that_needs_the_servers_is_marked_guarantee():
    """Otherwise it could skip in CI's server pass without anyone noticing."""
    import ast

    unmarked = []
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        tree = ast.parse(path.read_text())
        module_marked = any(isinstance(n, ast.Assign) and any(getattr(t, "id", "") == "pytestmark" for t in n.targets)
                            and "guarantee" in _names(n.value) for n in tree.body)
        needing = SERVER_FIXTURES | _module_fixtures_needing_servers(tree)
        for node in tree.body:
            if not (isinstance(node, ast.FunctionDef) and node.name.startswith("test_")):
                continue
            marked = module_marked or any("guarantee" in _names(d) for d in node.decorator_list)
            needs = ({a.arg for a in node.args.args} & needing or _names(node) & SERVER_CALLS
                     or any(_names(d) & SERVER_CALLS for d in node.decorator_list))
            if needs and not marked:
                unmarked.append(f"{path.relative_to(ROOT)}::{node.name}")
    assert unmarked == [], "needs PostgreSQL, Redis or a worker but is not marked guarantee"
