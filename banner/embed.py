"""Serves the banner: the per-site embed script and the versioned runtime.

- ``/c/<site>.js`` (the embed contract): a one-line bootstrap naming the site
  and its Google Analytics ids, so ``ga-disable-<id>`` is set before any tag
  can run (and what apps add through ``banner.signals.embed_boot``: the hosts
  to hold), followed by the runtime.
- ``/c/v/<version>/cmp.min.js``: the runtime alone, identical for every site,
  cached for a year; it reads the site from ``data-site`` and can carry a
  Subresource Integrity hash.
- ``/c/cmp.css``: the banner's stylesheet.
"""
import base64
import hashlib
import json
import re
from functools import cache
from pathlib import Path

from django.http import HttpResponse
from django.utils.cache import get_conditional_response
from django.utils.http import quote_etag

from consent.models import Site
from consent.sites import site_rules

from .signals import embed_boot

DIST = Path(__file__).resolve().parent.parent / "banner_static" / "dist"
RELEASES = DIST.parent / "releases"  # earlier versions, kept byte for byte (see its README)
VERSION_RE = re.compile(r"^\d+\.\d+\.\d+$")
# One version for the runtime: package.json's (the build puts it in the runtime; tests/api/test_banner_build.py checks).
RUNTIME_VERSION = json.loads((DIST.parent / "package.json").read_text())["version"]


@cache
def _built(name: str) -> str:
    return (DIST / name).read_text(encoding="utf-8")


def embed_snippets(base_url: str, site_key: str) -> tuple[str, str]:
    """The two ways to embed ``site_key``'s banner: the site's script, and the runtime pinned with SRI."""
    base = base_url.rstrip("/")
    integrity = "sha384-" + base64.b64encode(hashlib.sha384(_built("cmp.min.js").encode()).digest()).decode()
    return (
        f'<script src="{base}/c/{site_key}.js"></script>',
        f'<script src="{base}/c/v/{RUNTIME_VERSION}/cmp.min.js" data-site="{site_key}"\n'
        f'        integrity="{integrity}" crossorigin="anonymous"></script>',
    )


def embed_script(request, site_key):
    if site_rules(site_key) is None:
        return HttpResponse(f"/* no site '{site_key[:64]}' */", status=404, content_type="text/javascript")
    ga_ids = Site.objects.filter(key=site_key).values_list("ga_measurement_ids", flat=True).first() or []
    fields = {"site": site_key, "ga": ga_ids}
    for _receiver, extra in embed_boot.send(sender=None, site_key=site_key):
        fields.update(extra or {})
    boot = json.dumps(fields, separators=(",", ":"))
    body = f"window.cmpBoot={boot};\n{_built('cmp.min.js')}"
    # Short-lived: the GA ids may change; the ETag makes revalidation cheap.
    return _cached(request, body, "text/javascript", "public, max-age=300")


def versioned_runtime(request, version):
    """The runtime of one version, forever the same bytes (sites pin it with SRI)."""
    if version == RUNTIME_VERSION:
        body = _built("cmp.min.js")
    elif VERSION_RE.match(version) and (RELEASES / version / "cmp.min.js").is_file():
        body = _released(version)
    else:
        return HttpResponse(f"/* no runtime {version[:16]} */", status=404, content_type="text/javascript")
    return _cached(request, body, "text/javascript", "public, max-age=31536000, immutable")


@cache
def _released(version: str) -> str:
    return (RELEASES / version / "cmp.min.js").read_text(encoding="utf-8")


def stylesheet(request):
    return _cached(request, _built("cmp.min.css"), "text/css", "public, max-age=86400")


def _cached(request, body: str, content_type: str, cache_control: str) -> HttpResponse:
    etag = quote_etag(hashlib.sha256(body.encode()).hexdigest()[:32])
    # Weak comparison: a compressed answer's ETag came back weakened (cmp/compression.py).
    response = get_conditional_response(request, etag=etag) or HttpResponse(
        body, content_type=f"{content_type}; charset=utf-8")
    response["ETag"] = etag
    response["Cache-Control"] = cache_control
    # The banner's files are loaded by other sites' pages.
    response["Access-Control-Allow-Origin"] = "*"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response
