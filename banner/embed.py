"""Serves the banner: the per-site embed script and the versioned runtime.

- ``/c/<site>.js`` (the embed contract): everything the banner's first frame
  needs, in one compressed answer. A first line, ``window.cmpBoot={…}``,
  names the site and its Google Analytics ids (so ``ga-disable-<id>`` is set
  before any tag can run), carries what apps add through
  ``banner.signals.embed_boot`` (the hosts to hold), the site's config for the
  visitor's language (``Accept-Language``) and region (the country and region headers),
  with the site's theme, and the stylesheet; the runtime follows. Cached
  briefly and revalidated in the background (``stale-while-revalidate``),
  with an ETag for a cheap 304.
- ``/c/v/<version>/cmp.min.js``: the runtime alone, identical for every site,
  cached for a year; it reads the site from ``data-site``, fetches the config
  and stylesheet itself (in parallel), and can carry a Subresource Integrity hash.
- ``/c/v/<version>/later.min.js``: what the runtime of the same version loads, pinned by its SRI hash, the
  first time one of them is needed: the preferences dialog, the iframe placeholders, the clean-up of what
  declined purposes left behind (from 1.5.0 on; most page views need none of them).
- ``/c/v/<version>/gpp.min.js``: the IAB GPP page API (``window.__gpp``), which the runtime of the same
  version loads, pinned by its SRI hash, only where US sections apply (the config's ``us_privacy``); there,
  the site script also starts with the API's stub, so calls made before the runtime are queued.
- ``/c/cmp.css``: the banner's stylesheet.
"""
import base64
import gzip
import hashlib
import json
import re
import time
from functools import cache
from pathlib import Path

import brotli
from django.http import HttpResponse
from django.utils.cache import get_conditional_response, patch_vary_headers
from django.utils.http import quote_etag

from consent import client
from consent.models import Site
from consent.sites import site_rules

from .config import encoded_config, pick_language
from .signals import embed_boot

DIST = Path(__file__).resolve().parent.parent / "banner_static" / "dist"
RELEASES = DIST.parent / "releases"  # earlier versions, kept byte for byte (see its README)
VERSION_RE = re.compile(r"^\d+\.\d+\.\d+$")
LANGUAGE_ITEM_RE = re.compile(r"^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$")
# The site script: fresh for five minutes, then served at once while the browser revalidates it
# in the background for up to a day (a changed config shows from the next page view).
EMBED_CACHE_CONTROL = "public, max-age=300, stale-while-revalidate=86400"
IMMUTABLE = "public, max-age=31536000, immutable"
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
    rules = site_rules(site_key)
    if rules is None:
        return HttpResponse(f"/* no site '{site_key[:64]}' */", status=404, content_type="text/javascript")
    coding = _coding(request)
    region = client.region(request)
    key = (site_key, request.META.get("HTTP_ACCEPT_LANGUAGE", "")[:256], region, coding)
    memo = _scripts.get(key)
    if memo and memo[0] is rules and memo[1] > time.monotonic():
        etag, content = memo[2], memo[3]
    else:
        body = _site_script(site_key, request, region)
        if body is None:  # deleted since its rules were cached
            return HttpResponse(f"/* no site '{site_key[:64]}' */", status=404, content_type="text/javascript")
        etag = _etag(body)
        content = _encoded(body, etag, coding)
        if len(_scripts) >= MAX_SCRIPTS:
            _scripts.clear()  # many languages or regions asked for: start over rather than grow
        _scripts[key] = (rules, time.monotonic() + MEMO_SECONDS, etag, content)
    response = _respond(request, etag, content, coding, "text/javascript", EMBED_CACHE_CONTROL)
    # The config in it depends on the visitor's language and region: caches must key on both.
    patch_vary_headers(response, ["Accept-Language", *client.region_headers()])
    return response


# Site scripts this process built, per (site, Accept-Language, region, coding): (rules, until, etag, content).
# Kept while the site's rules are the same object (a change to the site replaces them, consent/sites.py),
# and a few seconds at most, for what changes beside the rules (the scanner's held hosts).
_scripts: dict[tuple, tuple] = {}
MAX_SCRIPTS = 1024
MEMO_SECONDS = 10


def _site_script(site_key: str, request, region: str | None) -> str | None:
    row = Site.objects.filter(key=site_key).values_list("ga_measurement_ids", "languages").first()
    if row is None:
        return None
    ga_ids, languages = row
    fields = {"site": site_key, "ga": ga_ids or []}
    for _receiver, extra in embed_boot.send(sender=None, site_key=site_key):
        fields.update(extra or {})
    language = pick_language(languages, accepted_languages(request.META.get("HTTP_ACCEPT_LANGUAGE", "")))
    encoded = encoded_config(site_key, language, region)
    if encoded is None:
        return None
    boot = json.dumps(fields, separators=(",", ":"))[:-1]
    css = json.dumps(_built("cmp.min.css"), ensure_ascii=False)
    # The GPP stub only where US sections apply: elsewhere there is no window.__gpp at all.
    stub = _built("gpp-stub.min.js") if json.loads(encoded[0]).get("us_privacy") is not None else ""
    return f'window.cmpBoot={boot},"config":{encoded[0].decode()},"css":{css}}};\n{stub}{_built("cmp.min.js")}'


def accepted_languages(header: str, limit: int = 8) -> list[str]:
    """The languages of an ``Accept-Language`` header, most wanted first (at most ``limit``; ``*`` and junk left out)."""
    weighted = []
    for index, item in enumerate(header.split(",")[:32]):
        code, _, params = item.strip().partition(";")
        code = code.strip()
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                continue
        if weight > 0 and LANGUAGE_ITEM_RE.match(code):
            weighted.append((-weight, index, code))
    return [code for _w, _i, code in sorted(weighted)][:limit]


def versioned_runtime(request, version):
    """The runtime of one version, forever the same bytes (sites pin it with SRI)."""
    return _versioned(request, version, "cmp.min.js")


def versioned_gpp(request, version):
    """The GPP page API of one version, forever the same bytes (that version's runtime pins it with SRI)."""
    return _versioned(request, version, "gpp.min.js")


def versioned_later(request, version):
    """What the runtime of one version loads on first need (the dialog, placeholders, clean-up), pinned likewise."""
    return _versioned(request, version, "later.min.js")


def _versioned(request, version, name):
    if version == RUNTIME_VERSION:
        body = _built(name)
    elif VERSION_RE.match(version) and (RELEASES / version / name).is_file():
        body = _released(version, name)
    else:
        return HttpResponse(f"/* no {name} of version {version[:16]} */", status=404, content_type="text/javascript")
    return _cached(request, body, "text/javascript", IMMUTABLE)


@cache
def _released(version: str, name: str = "cmp.min.js") -> str:
    return (RELEASES / version / name).read_text(encoding="utf-8")


def stylesheet(request):
    return _cached(request, _built("cmp.min.css"), "text/css", "public, max-age=86400")


def _cached(request, body: str, content_type: str, cache_control: str) -> HttpResponse:
    etag, coding = _etag(body), _coding(request)
    return _respond(request, etag, _encoded(body, etag, coding), coding, content_type, cache_control)


def _etag(body: str) -> str:
    return quote_etag(hashlib.sha256(body.encode()).hexdigest()[:32])


def _respond(request, etag: str, content: bytes, coding: str | None, content_type: str, cache_control: str):
    # Weak comparison: a compressed answer's ETag is weak (another representation, RFC 9110 8.8.1).
    response = get_conditional_response(request, etag=etag)
    if response is None:
        response = HttpResponse(content, content_type=f"{content_type}; charset=utf-8")
        response["Content-Length"] = str(len(content))
        if coding:
            response["Content-Encoding"] = coding
    response["ETag"] = f"W/{etag}" if coding else etag
    response["Cache-Control"] = cache_control
    patch_vary_headers(response, ["Accept-Encoding"])
    # The banner's files are loaded by other sites' pages.
    response["Access-Control-Allow-Origin"] = "*"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


def _coding(request) -> str | None:
    """brotli where the browser takes it, else gzip, else none (a coding with q=0 is refused)."""
    offered = {}
    for item in request.META.get("HTTP_ACCEPT_ENCODING", "").split(","):
        name, _, params = item.partition(";")
        weight = params.strip().removeprefix("q=").strip()
        offered[name.strip().lower()] = weight not in ("0", "0.0", "0.00", "0.000")
    return next((coding for coding in ("br", "gzip") if offered.get(coding)), None)


# Compressed bodies, once per body and coding at the highest level (the same few bodies are asked for all
# day: a site's script per language and region, the runtime, the stylesheet); they hold no secret (no BREACH).
_compressed: dict[tuple[str, str], bytes] = {}
MAX_COMPRESSED = 256


def _encoded(body: str, etag: str, coding: str | None) -> bytes:
    if coding is None:
        return body.encode()
    key = (etag, coding)
    if key not in _compressed:
        if len(_compressed) >= MAX_COMPRESSED:
            _compressed.clear()
        data = body.encode()
        _compressed[key] = brotli.compress(data, quality=11) if coding == "br" else gzip.compress(data, 9, mtime=0)
    return _compressed[key]
