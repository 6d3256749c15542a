"""The banner as served: its pieces exist, and the README's SRI hash is true."""
import base64
import hashlib
import re
from pathlib import Path

import pytest

from banner.embed import RUNTIME_VERSION

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "banner_static" / "dist"


def test_one_runtime_version_everywhere():
    built = (DIST / "cmp.min.js").read_text()
    assert f'"{RUNTIME_VERSION}"' in built, "the built runtime does not carry package.json's version"
    assert f"/c/v/{RUNTIME_VERSION}/cmp.min.js" in (ROOT / "README.md").read_text()


def test_readme_sri_hash_matches_the_versioned_runtime():
    digest = base64.b64encode(hashlib.sha384((DIST / "cmp.min.js").read_bytes()).digest()).decode()
    readme = (ROOT / "README.md").read_text()
    assert re.search(r'integrity="sha384-([^"]+)"', readme).group(1) == digest


@pytest.mark.django_db
def test_versioned_runtime_and_stylesheet_are_served(client, demo_site):
    runtime = client.get(f"/c/v/{RUNTIME_VERSION}/cmp.min.js")
    assert runtime.status_code == 200
    assert runtime.content == (DIST / "cmp.min.js").read_bytes()
    assert "immutable" in runtime["Cache-Control"]
    assert client.get("/c/v/0.0.1/cmp.min.js").status_code == 404
    css = client.get("/c/cmp.css")
    assert css.status_code == 200 and css["Content-Type"].startswith("text/css")


@pytest.mark.django_db
@pytest.mark.parametrize("version, published", [
    ("1.1.0", "gQVf9OtAOvsWJtasVqHxu0Xz0mZ5dLASoBtooXl1AvoB3ro2Y7D/DIt7JUyNxMjl"),
    ("1.1.1", "DlMC2SxWPNwiq1XGietQyPLi522y2U4d88jI7SA6/3DsloHXQTt3G21Zx/kgGb8Z"),
    ("1.1.2", "aSeicWyn2cuS52xNS5C0znEqmDJeKj1VaYgs9XohEXpIH/AUBQIVxjFdCaxowFMD"),
    ("1.1.3", "Aja0lOZkYUEGAVppjjf6PB1C9z71RgumSFcORtOifNdZ4sSDTyauflrLJQsd8g+8"),
    ("1.2.0", "L8DIJZzJ6vGm92FT+aXB6go+YH44cAkCmL9fG6/CqoH0/v/2uIUvVVNk4tnkpcdz"),
    ("1.3.0", "GEL68WywICKiEq4AxEGHqYv57An2FUVGmGkbNvwRmKF0F3fRm7FnHB3s7f3dlK12"),
    ("1.4.0", "QgvwtcBABYOXundn2WIRIVOnZ/6fDWK6AVtnDn0MvrbLxspkCdXXmGrpuIUFHPix"),
])
def test_released_runtimes_keep_their_bytes(client, demo_site, version, published):
    # Each was published with this SRI hash in the README; sites may pin it.
    old = client.get(f"/c/v/{version}/cmp.min.js")
    assert old.status_code == 200
    assert f'"{version}"' in old.content.decode()
    digest = base64.b64encode(hashlib.sha384(old.content).digest()).decode()
    assert digest == published
    assert client.get("/c/v/..%2F..%2Fsettings/cmp.min.js").status_code == 404




def released_versions() -> list[str]:
    return sorted(path.name for path in (ROOT / "banner_static" / "releases").iterdir() if path.is_dir())


@pytest.mark.django_db
@pytest.mark.parametrize("version", released_versions() + [RUNTIME_VERSION])
def test_each_runtime_finds_the_files_it_pins_with_their_bytes(client, demo_site, version):
    # A runtime loads its GPP file and (from 1.5.0) its later file pinned by hashes built into it: each pin
    # must match a file served for that version, or the browser refuses it and the feature is gone.
    runtime = client.get(f"/c/v/{version}/cmp.min.js").content.decode()
    pins = set(re.findall(r'"(sha(?:256|384)-[A-Za-z0-9+/=]{44,64})"', runtime))
    served = {}
    for name in ("gpp.min.js", "later.min.js"):
        answer = client.get(f"/c/v/{version}/{name}")
        if answer.status_code == 200:
            served[name] = answer.content
    hashes = {name: {f"sha{n}-" + base64.b64encode(hashlib.new(f"sha{n}", body).digest()).decode() for n in (256, 384)}
              for name, body in served.items()}
    assert all(any(pin in h for h in hashes.values()) for pin in pins), (version, pins)
    # Every file served for a version is one its runtime loads (pinned), from 1.4.0 on.
    assert len(pins) == len(served)
