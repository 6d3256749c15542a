"""``/c/<site>.js``: one answer with all the banner's first frame needs, and the caching around it."""
import gzip
import re

import brotli
import pytest

from banner.embed import RUNTIME_VERSION, accepted_languages
from tests.support import ROOT
from tests.support import embed_boot as boot

DIST = ROOT / "banner_static" / "dist"
pytestmark = pytest.mark.django_db


def test_the_site_script_carries_site_ga_ids_config_stylesheet_and_runtime(client, demo_site):
    fields, rest = boot(client.get("/c/demo.js", HTTP_ACCEPT_LANGUAGE="en"))
    assert fields["site"] == "demo" and fields["ga"] == ["G-DEMO12345"]
    assert fields["css"] == (DIST / "cmp.min.css").read_text()
    assert rest == (DIST / "cmp.min.js").read_text()
    config = client.get("/api/v1/sites/demo/config?lang=en").json()
    assert fields["config"] == config  # the same answer as the config API's: no second request needed
    assert fields["config"]["theme"]["position"] == "bar"


def test_the_config_inside_follows_the_visitors_language_and_region(client, demo_site):
    fields, _ = boot(client.get("/c/demo.js", HTTP_ACCEPT_LANGUAGE="de-DE, fr-CA;q=0.8, en;q=0.5", HTTP_CF_IPCOUNTRY="US"))
    assert fields["config"]["language"] == "fr" and fields["config"]["regime"] == "opt_out"
    assert fields["config"]["ui"]["accept_all"] != "Accept all"  # French strings
    fields, _ = boot(client.get("/c/demo.js", HTTP_ACCEPT_LANGUAGE="ja", HTTP_CF_IPCOUNTRY="FR"))
    assert fields["config"]["language"] == "en" and fields["config"]["regime"] == "opt_in"  # the site's default


def test_the_theme_travels_inside_the_site_script(client, demo_site):
    demo_site.theme_position, demo_site.theme_mode, demo_site.theme_accent = "box", "auto", "#005a32"
    demo_site.theme_font, demo_site.theme_radius = 'Georgia, "Times New Roman", serif', 12
    demo_site.theme_logo_url = "https://shop.example.com/logo.svg"
    demo_site.full_clean()
    demo_site.save()
    theme = boot(client.get("/c/demo.js"))[0]["config"]["theme"]
    assert theme["position"] == "box" and theme["logo"] == "https://shop.example.com/logo.svg"
    assert "--ac:#005a32" in theme["css"] and "--r:12px" in theme["css"]
    assert '--font:Georgia, "Times New Roman", serif' in theme["css"]
    assert "@media(prefers-color-scheme:dark)" in theme["css"]


def test_the_site_script_is_cached_briefly_and_revalidated_in_the_background(client, demo_site):
    response = client.get("/c/demo.js")
    assert response["Cache-Control"] == "public, max-age=300, stale-while-revalidate=86400"
    assert {"Accept-Language", "CF-IPCountry"} <= {v.strip() for v in response["Vary"].split(",")}
    assert response["Access-Control-Allow-Origin"] == "*"
    assert re.fullmatch(r'"[0-9a-f]{32}"', response["ETag"])


def test_a_revalidation_gets_a_304_until_something_changes(client, demo_site):
    etag = client.get("/c/demo.js")["ETag"]
    again = client.get("/c/demo.js", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again.content == b""
    assert again["ETag"] == etag and "stale-while-revalidate" in again["Cache-Control"]
    demo_site.theme_position = "modal"
    demo_site.save()
    changed = client.get("/c/demo.js", HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag


def test_the_site_script_goes_out_compressed_and_a_compressed_etag_revalidates(client, demo_site):
    plain = client.get("/c/demo.js").content
    response = client.get("/c/demo.js", HTTP_ACCEPT_ENCODING="gzip, deflate, br")
    assert response["Content-Encoding"] == "br" and "Accept-Encoding" in response["Vary"]
    assert brotli.decompress(response.content) == plain and len(response.content) < len(plain) / 2.5
    assert client.get("/c/demo.js", HTTP_ACCEPT_ENCODING="br", HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304
    zipped = client.get("/c/demo.js", HTTP_ACCEPT_ENCODING="gzip, br;q=0")
    assert zipped["Content-Encoding"] == "gzip" and gzip.decompress(zipped.content) == plain
    assert int(zipped["Content-Length"]) == len(zipped.content)


def test_the_versioned_runtime_is_immutable_and_revalidates(client, demo_site):
    response = client.get(f"/c/v/{RUNTIME_VERSION}/cmp.min.js")
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"
    assert client.get(f"/c/v/{RUNTIME_VERSION}/cmp.min.js", HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304


def test_unknown_site_is_a_404_script(client, demo_site):
    response = client.get("/c/nope.js")
    assert response.status_code == 404 and response.content.startswith(b"/*")


@pytest.mark.parametrize("header, expected", [
    ("fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5", ["fr-CH", "fr", "en", "de"]),
    ("en;q=0.1, de", ["de", "en"]),
    ("de;q=0, en", ["en"]),
    ("", []),
    ("<script>, ;q=x, en;q=abc, pt-BR", ["pt-BR"]),
])
def test_accept_language_is_read_in_order_of_preference(header, expected):
    assert accepted_languages(header) == expected


def test_the_site_script_skips_the_session_and_csrf_middleware(client, demo_site):
    response = client.get("/c/demo.js", HTTP_ACCEPT_ENCODING="br")
    assert not response.cookies  # no session or CSRF cookie
    assert "Cookie" not in response["Vary"]
    assert int(response["Content-Length"]) == len(response.content)
    head = client.head("/c/demo.js")  # anything but GET takes the usual path
    assert head.status_code == 200 and head["ETag"] == client.get("/c/demo.js")["ETag"]
