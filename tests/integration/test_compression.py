"""gunicorn compresses what ``make run`` does (tests/browser/test_first_hour.py checks that one):
brotli where asked, else gzip, with Vary; never pages for one person, never the lookup."""
import os
import subprocess
import sys

from tests.support import ROOT, check_compression, free_port, wait_until_serving


def test_gunicorn_compresses_dynamic_answers(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", DEBUG="1")
    for args in (["migrate", "--noinput", "-v0"], ["seed_demo"]):
        subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True)
    port = free_port()
    with open(tmp_path / "gunicorn.log", "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "cmp.wsgi", "--config", "cmp/gunicorn.conf.py",
                                 "-w", "1", "-b", f"127.0.0.1:{port}"], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
        try:
            wait_until_serving(f"http://127.0.0.1:{port}/healthz", proc)
            check_compression(f"http://127.0.0.1:{port}")
        finally:
            proc.terminate()
            proc.wait(timeout=20)
