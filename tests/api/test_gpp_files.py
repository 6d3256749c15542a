"""The GPP page API's files: the versioned GPP file the runtime pins with SRI, and the stub in the site script."""
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
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


def test_the_runtime_pins_the_gpp_file_it_loads_with_its_sri_hash(client, demo_site):
    runtime = (DIST / "cmp.min.js").read_text()
    pinned = re.findall(r'"(sha384-[A-Za-z0-9+/=]{64})"', runtime)
    served = client.get(f"/c/v/{RUNTIME_VERSION}/gpp.min.js")
    assert served.status_code == 200 and served["Content-Type"].startswith("text/javascript")
    assert served.content == (DIST / "gpp.min.js").read_bytes()
    # The one hash in the runtime is the served file's: a site pinning the runtime pins the GPP file with it.
    assert pinned == [sri(served.content)]
    assert "immutable" in served["Cache-Control"]
    # Loaded with crossorigin="anonymous" from the site's pages: SRI needs CORS.
    assert served["Access-Control-Allow-Origin"] == "*"
    assert client.get("/c/v/0.0.1/gpp.min.js").status_code == 404
    assert client.get("/c/v/..%2F..%2Fsettings/gpp.min.js").status_code == 404


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
