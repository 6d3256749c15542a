"""docker-compose.yml stays true: every application service starts, with the
compose file's own command and environment, against the local PostgreSQL and
Redis (no Docker engine runs here). Only the service hostnames, the database
credentials and the listening address are mapped to this machine."""
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DATABASE = "cmp_compose_test"
# What an operator would put in .env; everything else comes from the file.
OPERATOR_ENV = {"SECRET_KEY": "compose-test-" + "k" * 50, "CMP_SIGNING_KEYS": "k1:" + "A" * 43}
pytestmark = [pytest.mark.guarantee, pytest.mark.server]


def answers(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def interpolate(value: str) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error}, from OPERATOR_ENV."""
    def one(match):
        name, op, arg = match.group(1), match.group(2), match.group(3)
        if name in OPERATOR_ENV:
            return OPERATOR_ENV[name]
        if op == ":?":
            raise AssertionError(f"compose requires {name}: {arg}")
        return arg or ""
    return re.sub(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", one, str(value)).replace("$$", "$")


def local(env: dict, tmp_path) -> dict:
    """The service environment, pointed at this machine's servers."""
    mapped = dict(env)
    assert mapped["DATABASE_URL"].startswith("postgres://cmp:") and "@postgres:5432/cmp" in mapped["DATABASE_URL"]
    mapped["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{DATABASE}"
    for key in ("REDIS_URL", "CELERY_BROKER_URL"):
        number = int(mapped[key].rsplit("/", 1)[1])
        assert mapped[key].startswith("redis://redis:6379/")
        mapped[key] = f"redis://127.0.0.1:6379/{12 + number}"
    mapped["CMP_PRIVATE_FILES_DIR"] = str(tmp_path / "private")
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    keep["PATH"] = f"{BIN}:{keep.get('PATH', '')}"
    return {**keep, **mapped}


@pytest.fixture(scope="module")
def compose():
    if not (answers(5432) and answers(6379)):
        pytest.skip("needs PostgreSQL and Redis on 127.0.0.1 (CI has them)")
    spec = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    psql = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc"]
    subprocess.run(psql + [f"DROP DATABASE IF EXISTS {DATABASE}"], check=True, capture_output=True)
    subprocess.run(psql + [f"CREATE DATABASE {DATABASE}"], check=True, capture_output=True)
    yield spec["services"]
    subprocess.run(psql + [f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"], capture_output=True)


def service(services, name, tmp_path):
    svc = services[name]
    env = local({k: interpolate(v) for k, v in svc["environment"].items()}, tmp_path)
    return shlex.split(interpolate(svc["command"])), env


def start(command, env, log):
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def wait(condition, seconds, what, proc=None, log=None):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.3)
    detail = Path(log.name).read_text()[-3000:] if log else ""
    raise AssertionError(f"{what} within {seconds} s\n{detail}")


def test_the_compose_file_names_the_whole_stack(compose):
    assert {"web", "worker", "beat", "postgres", "redis", "migrate"} <= set(compose)
    for name in ("web", "worker", "beat", "postgres", "redis"):
        assert compose[name].get("healthcheck"), f"{name} has no health check"
    assert compose["postgres"]["image"].startswith("postgres:") and compose["redis"]["image"].startswith("redis:")
    assert compose["postgres"]["volumes"] and compose["redis"]["volumes"]
    for name in ("migrate", "web", "worker", "beat"):
        assert compose[name]["build"] == "."  # configuration only through the environment
        assert compose[name]["environment"]["DEBUG"] == "0"


def test_every_application_service_starts_and_becomes_healthy(compose, tmp_path):
    log = open(tmp_path / "services.log", "w")
    command, env = service(compose, "migrate", tmp_path)
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr

    port = socket.socket()
    port.bind(("127.0.0.1", 0))
    web_port = port.getsockname()[1]
    port.close()
    command, env = service(compose, "web", tmp_path)
    command = [f"127.0.0.1:{web_port}" if part == "0.0.0.0:8000" else part for part in command]
    env["WEB_CONCURRENCY"] = "2"
    procs = [start(command, env, log)]
    try:
        def answer(path):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{web_port}{path}", timeout=2) as r:
                    return r.status
            except urllib.error.HTTPError as error:
                return error.code
            except OSError:
                return None

        wait(lambda: answer("/healthz") == 200, 60, "web did not answer /healthz", procs[0], log)
        assert answer("/readyz") == 200  # database and cache reachable

        command, env = service(compose, "worker", tmp_path)
        procs.append(start(command + ["--hostname", f"compose-test-{web_port}@%h"], env, log))
        ping = [str(BIN / "celery"), "-A", "cmp", "inspect", "ping", "--timeout", "2"]
        wait(lambda: "pong" in subprocess.run(ping, cwd=ROOT, env=env, capture_output=True, text=True).stdout,
             90, "the worker did not answer celery inspect ping", procs[-1], log)

        command, env = service(compose, "beat", tmp_path)
        command = [str(tmp_path / "celerybeat-schedule") if part == "/tmp/celerybeat-schedule" else part for part in command]
        procs.append(start(command, env, log))
        wait(lambda: "beat: Starting" in Path(log.name).read_text(), 60, "beat did not start", procs[-1], log)
        time.sleep(2)
        assert procs[-1].poll() is None, "beat exited"
    finally:
        for proc in reversed(procs):
            stop(proc)
        log.close()
