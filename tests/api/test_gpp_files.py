"""The files the runtime loads (the GPP page API, what it does later), pinned with SRI, and the GPP stub in the site script."""
import base64
import hashlib
import re

import pytest

from banner.embed import RUNTIME_VERSION
from tests.api.test_embed_script import boot
from tests.support import ROOT

DIST = ROOT / "banner_static" / "dist"
pytestmark = pytest.mark.django_db


def sri(data: bytes) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(data).digest()).decode()


@pytest.mark.parametrize("name", ["gpp.min.js", "later.min.js"])
def test_the_runtime_pins_each_file_it_loads_with_its_sri_hash(client, demo_site, name):
    runtime = (DIST / "cmp.min.js").read_text()
    pinned = re.findall(r'"(sha256-[A-Za-z0-9+/=]{44})"', runtime)
    served = client.get(f"/c/v/{RUNTIME_VERSION}/{name}")
    assert served.status_code == 200 and served["Content-Type"].startswith("text/javascript")
    assert served.content == (DIST / name).read_bytes()
    # The file's hash is in the runtime: a site pinning the runtime pins this file with it.
    assert sri(served.content) in pinned and len(pinned) == 2
    assert "immutable" in served["Cache-Control"]
    # Loaded with crossorigin="anonymous" from the site's pages: SRI needs CORS.
    assert served["Access-Control-Allow-Origin"] == "*"
    assert client.get(f"/c/v/0.0.1/{name}").status_code == 404
    assert client.get(f"/c/v/..%2F..%2Fsettings/{name}").status_code == 404


def test_the_site_script_starts_with_the_gpp_stub_only_where_us_sections_apply(client, demo_site):
    runtime, stub = (DIST / "cmp.min.js").read_text(), (DIST / "gpp-stub.min.js").read_text()
    fields, code = boot(client.get("/c/demo.js", HTTP_CF_IPCOUNTRY="US", HTTP_CF_REGION_CODE="CA"))
    assert fields["config"]["us_privacy"]["gpp_sections"] == [7, 8]
    assert code == stub + runtime  # before the runtime: calls made before it are queued
    # The link's words come where the banner shows it: California's, not the limit-sensitive one's (the demo
    # site declares no sensitive data).
    assert fields["config"]["ui"]["privacy_choices"] == "Your Privacy Choices"
    assert "limit_sensitive" not in fields["config"]["ui"]
    fields, code = boot(client.get("/c/demo.js", HTTP_CF_IPCOUNTRY="FR"))
    assert fields["config"]["us_privacy"] is None
    assert code == runtime  # no window.__gpp outside the US
    assert "privacy_choices" not in fields["config"]["ui"]
