"""docker-compose.yml stays true: every application service starts, with the
compose file's own command and environment, against the local PostgreSQL and
Redis (no Docker engine runs here), and the proxy runs its repository
configuration (deploy/nginx/nginx.conf) with Debian's nginx, installed here
when missing. Only the service hostnames, the database credentials, the
listening addresses, the certificate's folder and the proxy's address are
mapped to this machine."""
import datetime
import http.client
import ipaddress
import os
import re
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
import yaml

from tests.support import missing

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
    assert mapped["CMP_TRUSTED_PROXIES"] == "172.30.0.10/32"  # the proxy's fixed address in the compose network
    mapped["CMP_TRUSTED_PROXIES"] = "127.0.0.1/32"  # here nginx connects from this machine
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
    for name in ("migrate", "web", "beat"):
        assert compose[name]["build"] == "."  # configuration only through the environment
    # Workers run scans: their image is the Dockerfile's stage with the scanner's extra and Chromium.
    assert compose["worker"]["build"] == {"context": ".", "target": "worker"}
    dockerfile = (ROOT / "Dockerfile").read_text()
    worker_stage = dockerfile.split("AS worker", 1)[1].split("\nFROM ", 1)[0]
    assert "requirements-scanner.txt" in worker_stage and "chromium" in worker_stage
    assert dockerfile.rstrip().rsplit("\nFROM ", 1)[1].startswith("base AS web")  # the default image is the web one
    for name in ("migrate", "web", "worker", "beat"):
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


# --- The proxy: deploy/nginx/nginx.conf, run by Debian's nginx ----------------------------------------------

NGINX_CONF = ROOT / "deploy" / "nginx" / "nginx.conf"


def needs_nginx():
    """nginx on PATH: installed with apt (Debian package nginx) when missing and we are root."""
    if shutil.which("nginx") is None and os.geteuid() == 0 and shutil.which("apt-get"):
        quiet = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-qq", "nginx"]
        if subprocess.run(install, env=quiet, capture_output=True, timeout=900).returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], env=quiet, capture_output=True, timeout=900)
            subprocess.run(install, env=quiet, capture_output=True, timeout=900)
    if shutil.which("nginx") is None:
        missing("needs nginx (Debian package nginx; could not install it)")


def self_signed(folder: Path) -> Path:
    """A certificate for localhost, as an operator's would sit in deploy/nginx/certs/."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True)
    (folder / "fullchain.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "privkey.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return folder / "fullchain.pem"


def local_nginx_conf(folder: Path, web_port: int, http_port: int, https_port: int) -> Path:
    """The repository's configuration with this machine's ports, certificate folder and log."""
    text = NGINX_CONF.read_text()
    for old, new in [
        ("server web:8000;", f"server 127.0.0.1:{web_port};"),
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("listen [::]:80;", ""),
        ("listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;"),
        ("listen [::]:443 ssl;", ""),
        ("/etc/nginx/certs/", f"{folder / 'certs'}/"),
        ("http {", f"http {{\n    access_log {folder / 'access.log'};"),
    ]:
        assert text.count(old) == (2 if old == "/etc/nginx/certs/" else 1), f"deploy/nginx/nginx.conf changed: {old}"
        text = text.replace(old, new)
    conf = folder / "nginx.conf"
    conf.write_text(text)
    return conf


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for one in sockets:
        one.bind(("127.0.0.1", 0))
    ports = [one.getsockname()[1] for one in sockets]
    for one in sockets:
        one.close()
    return ports


def test_the_proxy_is_the_only_published_service(compose):
    published = {name for name, svc in compose.items() if svc.get("ports")}
    assert published == {"proxy"}, published
    proxy = compose["proxy"]
    assert proxy["image"].startswith("nginx:")  # the official image
    assert "./deploy/nginx/nginx.conf:/etc/nginx/nginx.conf:ro" in proxy["volumes"]
    assert proxy["networks"]["default"]["ipv4_address"] + "/32" == interpolate(
        compose["web"]["environment"]["CMP_TRUSTED_PROXIES"])
    assert interpolate(compose["web"]["environment"]["CMP_CLIENT_IP_HEADER"]) == "X-Forwarded-For"


def test_behind_the_proxy_slow_bodies_and_forged_addresses_change_nothing(compose, tmp_path):
    needs_nginx()
    log = open(tmp_path / "services.log", "w")
    command, env = service(compose, "migrate", tmp_path)
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    seed = subprocess.run([str(BIN / "python"), "manage.py", "seed_demo"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert seed.returncode == 0, seed.stdout + seed.stderr

    web_port, http_port, https_port = free_ports(3)
    command, env = service(compose, "web", tmp_path)
    command = [f"127.0.0.1:{web_port}" if part == "0.0.0.0:8000" else part for part in command]
    # Two sync workers, as in the issue; a small write limit, counted under keys of this run alone.
    env.update(WEB_CONCURRENCY="2", CMP_RATE_WRITES_PER_IP="3/3600", CACHE_KEY_PREFIX=f"compose-{uuid.uuid4().hex}")
    folder = tmp_path / "nginx"
    cafile = self_signed(folder / "certs")
    conf = local_nginx_conf(folder, web_port, http_port, https_port)
    nginx = ["nginx", "-p", str(folder), "-c", str(conf), "-e", str(folder / "error.log"),
             "-g", f"daemon off; pid {folder / 'nginx.pid'};" + (" user root root;" if os.geteuid() == 0 else "")]
    procs = [start(command, env, log), start(nginx, os.environ.copy(), log)]
    context = ssl.create_default_context(cafile=str(cafile))
    held = []
    try:
        def https(method, path, body=None, headers=None, timeout=5):
            connection = http.client.HTTPSConnection("localhost", https_port, context=context, timeout=timeout)
            try:
                connection.request(method, path, body=body, headers=headers or {})
                response = connection.getresponse()
                return response.status, dict(response.getheaders()), response.read()
            finally:
                connection.close()

        def healthy():
            try:
                return https("GET", "/healthz", timeout=2)[0] == 200
            except OSError:
                return False

        wait(healthy, 60, "/healthz through the proxy", procs[0], log)

        # Plain http: only the probe; everything else goes to https.
        plain = http.client.HTTPConnection("127.0.0.1", http_port, timeout=5)
        plain.request("GET", "/healthz")
        assert plain.getresponse().status == 200
        plain.close()
        plain = http.client.HTTPConnection("127.0.0.1", http_port, timeout=5)
        plain.request("GET", "/privacy/requests/demo/", headers={"Host": "localhost"})
        answer = plain.getresponse()
        assert answer.status == 301 and answer.getheader("Location") == "https://localhost/privacy/requests/demo/"
        plain.close()

        # 50 clients each send headers and half a body, then stall: nginx holds them; gunicorn sees none.
        gunicorn_posts = Path(log.name).read_text().count("POST /api/v1/sites/demo/consents")
        for _ in range(50):
            raw = socket.create_connection(("127.0.0.1", https_port), timeout=5)
            tls = context.wrap_socket(raw, server_hostname="localhost")
            tls.sendall(b"POST /api/v1/sites/demo/consents HTTP/1.1\r\nHost: localhost\r\n"
                        b"Content-Type: text/plain\r\nContent-Length: 2000\r\n\r\n" + b'{"visitor_id": "' + b"0" * 500)
            held.append(tls)
        started = time.monotonic()
        status, _, _ = https("GET", "/healthz", timeout=5)
        elapsed = time.monotonic() - started
        print(f"/healthz through the proxy behind 50 stalled bodies: {elapsed * 1000:.0f} ms")
        assert status == 200 and elapsed < 1.0, f"/healthz took {elapsed:.2f} s behind 50 stalled bodies"
        assert Path(log.name).read_text().count("POST /api/v1/sites/demo/consents") == gunicorn_posts

        # A client's own X-Forwarded-For picks neither its rate-limit bucket nor its recorded address.
        codes = []
        for n in range(5):
            body = json_body()
            codes.append(https("POST", "/api/v1/sites/demo/consents", body,
                               {"Content-Type": "application/json", "X-Forwarded-For": f"203.0.113.{n}"})[0])
        prefixes = subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", DATABASE, "-Atc",
             "SELECT DISTINCT ip_prefix FROM consent_consentevent"], capture_output=True, text=True, check=True)
        assert codes == [201, 201, 201, 429, 429], codes
        assert prefixes.stdout.split() == ["127.0.0.0/24"]

        # Bodies over the limit never reach the app; compression: brotli and gzip from the app, kept through nginx.
        raw = socket.create_connection(("127.0.0.1", https_port), timeout=5)
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(b"POST /privacy/requests/demo/ HTTP/1.1\r\nHost: localhost\r\n"
                        b"Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 7340032\r\n\r\n")
            assert tls.recv(100).startswith(b"HTTP/1.1 413")
        for coding in ("br", "gzip"):
            status, headers, _ = https("GET", "/c/demo.js", headers={"Accept-Encoding": coding})
            assert status == 200 and headers.get("Content-Encoding") == coding, (coding, headers)
        status, headers, _ = https("POST", "/api/v1/sites/demo/consents", json_body(),
                                   {"Content-Type": "application/json", "Accept-Encoding": "gzip"})
        assert "Content-Encoding" not in headers  # no-store answers stay uncompressed (BREACH), nginx adds nothing
    finally:
        for tls in held:
            tls.close()
        for proc in reversed(procs):
            stop(proc)
        log.close()


def json_body():
    """A first write of a new visitor (its id derived from its token)."""
    import json

    from tests.support import consent_body, new_visitor_id

    return json.dumps(consent_body(new_visitor_id()))
