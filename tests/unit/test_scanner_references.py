"""The scanner's references and parsers: the Open Cookie Database, the tag-host catalogue,
purposes for categories, hostile sitemaps, and the address guard."""
import http.server
import ipaddress
import shutil
import socket
import struct
import threading
import time

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from consent.decisions import Purpose
from scanner import catalogue, cookiedb
from scanner.classify import purpose_for
from scanner.guard import Guard
from scanner.sitemap import fetcher, locations, pages_from

DEFAULTS = (Purpose("authentication", True), Purpose("security", True), Purpose("analytics", False),
            Purpose("advertising", False), Purpose("recognition", False))


def test_cookie_database_matches_exact_names_then_the_longest_prefix():
    db = cookiedb.database()
    assert len(db) > 2000
    assert db.match("_ga").platform == "Google Analytics" and not db.match("_ga").prefix
    ga4 = db.match("_ga_ABC123XYZ")
    assert ga4.name == "_ga_" and ga4.prefix and ga4.category == "analytics"
    assert db.match("_fbp").category == "advertising"
    assert db.match("_hjSessionUser_12345").name == "_hjSessionUser_"
    assert db.match("no-such-cookie-anywhere") is None


def test_refresh_takes_a_newer_file_and_refuses_a_wrong_one(tmp_path, monkeypatch):
    snapshot = tmp_path / "open-cookie-database.csv"
    shutil.copy(cookiedb.SNAPSHOT, snapshot)
    monkeypatch.setattr(cookiedb, "SNAPSHOT", snapshot)
    cookiedb.database.cache_clear()
    newer = tmp_path / "newer.csv"
    newer.write_text(snapshot.read_text() + "x-1,Proof Analytics,Analytics,_proof_id,,Test entry,1 year,Proof,,0\n")
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("name,category\n_ga,Analytics\n")
    try:
        with pytest.raises(CommandError, match="columns"):
            call_command("refresh_cookie_database", str(wrong))
        assert cookiedb.database().match("_proof_id") is None  # unchanged
        bad_row = tmp_path / "bad.csv"
        bad_row.write_text(snapshot.read_text() + "x-2,P,Sometimes,_x,,d,1 year,P,,0\n")
        with pytest.raises(CommandError, match="line"):
            call_command("refresh_cookie_database", str(bad_row))
        call_command("refresh_cookie_database", str(newer), stdout=open("/dev/null", "w"))
        assert snapshot.read_text() == newer.read_text()
        assert cookiedb.database().match("_proof_id").platform == "Proof Analytics"
    finally:
        cookiedb.database.cache_clear()


def test_catalogue_has_the_common_hosts_of_each_kind():
    hosts = catalogue.hosts()
    assert len(hosts) >= 100
    kinds = {kind: sum(1 for c, _ in hosts.values() if c == kind) for kind in catalogue.CATEGORIES}
    assert set(c for c, _ in hosts.values()) == set(catalogue.CATEGORIES)
    assert all(count >= 10 for count in kinds.values()), kinds


def test_a_catalogued_host_covers_its_subdomains_and_the_most_specific_wins():
    assert catalogue.lookup("region1.google-analytics.com") == ("analytics", "Google Analytics")
    assert catalogue.lookup("connect.facebook.net") == ("advertising", "Meta Pixel")
    assert catalogue.lookup("static.xx.fbcdn.net") == ("social", "Facebook")
    assert catalogue.lookup("notgoogle-analytics.com") is None
    assert catalogue.lookup("google-analytics.com.evil.test") is None
    assert catalogue.lookup("com") is None


@pytest.mark.parametrize("category, expected", [
    ("analytics", "analytics"), ("advertising", "advertising"), ("social", "advertising"), ("video", "advertising"),
    ("chat", "recognition"), ("personalization", "recognition"), ("necessary", "security"), ("security", "security"),
    ("functional", ""),
])
def test_categories_become_the_default_purposes(category, expected):
    assert purpose_for(category, DEFAULTS) == expected


def test_a_site_purpose_named_after_the_category_takes_it():
    purposes = (*DEFAULTS, Purpose("social", False), Purpose("functional", False))
    assert purpose_for("social", purposes) == "social"
    assert purpose_for("functional", purposes) == "functional"
    assert purpose_for("necessary", (Purpose("essentials", True),)) == "essentials"
    assert purpose_for("analytics", (Purpose("essentials", True),)) == ""


@pytest.mark.parametrize("kind, name, essential", [
    ("cookie", "cmp_demo", True), ("storage", "cmp_demo_checked", True), ("storage", "cmp_other_checked", False),
])
def test_the_banners_own_cookie_and_storage_key_are_essential(kind, name, essential):
    from types import SimpleNamespace

    from scanner.classify import classify

    rules = SimpleNamespace(key="demo", purposes=DEFAULTS)
    found = classify(kind, name, "shop.example", "https://cmp.example/c/demo.js", rules)
    assert (found.purpose == "security") is essential, found


def sitemap(urls, open_end=True):
    body = "".join(f"<url><loc>{u}</loc></url>" for u in urls)
    return (f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{body}'
            + ("</urlset>" if open_end else "")).encode()


def test_a_sitemap_of_a_million_urls_is_read_only_up_to_the_limit():
    data = sitemap(f"https://shop.example/p/{i}" for i in range(1_000_000))
    started = time.monotonic()
    pages, nested = locations(data, 50)
    assert pages == [f"https://shop.example/p/{i}" for i in range(50)] and nested == []
    assert time.monotonic() - started < 1.0  # stopped at the limit, not after a million


def test_a_cut_or_hostile_sitemap_gives_what_came_before_the_problem():
    cut = sitemap([f"https://shop.example/{i}" for i in range(5)])[:-40]
    assert locations(cut, 50)[0] == [f"https://shop.example/{i}" for i in range(4)]
    laughs = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
              b'<urlset><url><loc>&lol2;</loc></url></urlset>')
    assert locations(laughs, 50) == ([], [])
    external = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                b'<urlset><url><loc>&e;</loc></url></urlset>')
    assert locations(external, 50) == ([], [])


def test_sitemap_pages_stay_on_the_site_and_an_index_is_followed_one_level():
    files = {
        "https://shop.example/sitemap.xml": (
            b'<sitemapindex><sitemap><loc>https://shop.example/a.xml</loc></sitemap>'
            b'<sitemap><loc>https://elsewhere.example/b.xml</loc></sitemap></sitemapindex>'),
        "https://shop.example/a.xml": sitemap(["https://shop.example/1", "https://elsewhere.example/2", "https://shop.example/3"]),
    }
    asked = []

    def fetch(url):
        asked.append(url)
        return files.get(url)

    assert pages_from(fetch, ["https://shop.example/"], 10) == ["https://shop.example/1", "https://shop.example/3"]
    assert asked == ["https://shop.example/sitemap.xml", "https://shop.example/a.xml"]


@pytest.mark.parametrize("address, allowed", [
    ("93.184.216.34", True), ("2606:2800:220:1:248:1893:25c8:1946", True),
    ("127.0.0.1", False), ("10.1.2.3", False), ("192.168.0.1", False), ("172.16.0.1", False), ("169.254.169.254", False),
    ("100.64.0.1", False), ("0.0.0.0", False), ("::1", False), ("fe80::1", False), ("fd00::1", False),
    ("::ffff:127.0.0.1", False), ("::ffff:169.254.169.254", False),
])
def test_the_guard_allows_public_addresses_only(address, allowed):
    assert Guard().allowed(address) is allowed


def socks_connect(port, host: str, target_port: int):
    """A SOCKS5 CONNECT by name, as Chromium sends it; returns (reply code, socket)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"\x05\x01\x00")
    assert s.recv(2) == b"\x05\x00"
    name = host.encode()
    s.sendall(b"\x05\x01\x00\x03" + bytes([len(name)]) + name + struct.pack("!H", target_port))
    return s.recv(10)[1], s


@pytest.fixture
def sender():
    """A server on 127.0.0.5 that answers every connection with 3 MiB."""
    server = socket.socket()
    server.bind(("127.0.0.5", 0))
    server.listen()
    accepted = []

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            accepted.append(conn)
            try:
                conn.sendall(b"x" * (3 * 1024 * 1024))
            except OSError:
                pass
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[1], accepted
    server.close()


def test_the_guard_refuses_private_addresses_and_caps_what_a_connection_carries(sender):
    port, accepted = sender
    guard = Guard(hosts={"internal.test": "127.0.0.5", "allowed.test": "127.0.0.5"}, max_bytes=1024 * 1024).start()
    try:
        code, s = socks_connect(guard.port, "internal.test", port)
        s.close()
        assert code == 2 and accepted == []  # refused by the rules, never connected
        assert guard.refused == [("internal.test", "127.0.0.5")]
        guard.private_networks = (ipaddress.ip_network("127.0.0.5/32"),)
        code, s = socks_connect(guard.port, "allowed.test", port)
        assert code == 0
        received = 0
        while chunk := s.recv(65536):
            received += len(chunk)
        s.close()
        assert 1024 * 1024 - 65536 <= received <= 1024 * 1024
    finally:
        guard.stop()


def test_the_sitemap_reader_checks_every_redirect_and_stops_at_its_byte_limit(sender):
    internal_port, accepted = sender

    class Site(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/sitemap.xml":
                self.send_response(302)
                self.send_header("Location", f"http://internal.test:{internal_port}/sitemap.xml")
                self.end_headers()
            else:
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"y" * (2 * 1024 * 1024))

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.2", 0), Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    guard = Guard(private_networks=(ipaddress.ip_network("127.0.0.2/32"),),
                  hosts={"site.test": "127.0.0.2", "internal.test": "127.0.0.5"}).start()
    try:
        fetch = fetcher(guard, max_bytes=1000)
        assert fetch(f"http://site.test:{port}/sitemap.xml") is None
        assert accepted == [] and guard.refused == [("internal.test", "127.0.0.5")]
        assert len(fetch(f"http://site.test:{port}/big.xml")) == 1000
        assert fetch("file:///etc/passwd") is None and fetch(f"http://127.0.0.5:{internal_port}/") is None
        assert accepted == []
    finally:
        guard.stop()
        server.shutdown()
        server.server_close()
