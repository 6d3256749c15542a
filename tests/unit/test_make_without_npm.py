"""`make test` needs no npm while the committed banner build is current (README, "Set-up")."""
import os
import subprocess

import pytest

from tests.support import ROOT

NODE_PROGRAMS = {"npm", "npx", "node", "corepack"}


@pytest.mark.slow
def test_make_test_runs_without_npm(tmp_path):
    # A PATH like this machine's, with Node's programs left out: a user's laptop without Node.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for folder in os.environ["PATH"].split(os.pathsep):
        if not os.path.isdir(folder):
            continue
        for name in os.listdir(folder):
            link = bin_dir / name
            if name not in NODE_PROGRAMS and not link.exists() and os.access(os.path.join(folder, name), os.X_OK):
                link.symlink_to(os.path.join(folder, name))
    env = {**os.environ, "PATH": str(bin_dir), "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    for inherited in ("REDIS_URL", "MAKEFLAGS", "MFLAGS", "MAKELEVEL"):  # a `make test X=...` around this test
        env.pop(inherited, None)                                         # must not reach the make below
    run = subprocess.run(["make", "--no-print-directory", "test", "PYTEST_ARGS=--collect-only -q tests/unit/test_identity.py"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "npm not found" in run.stdout
    assert "tests collected" in run.stdout or "test_identity.py" in run.stdout
