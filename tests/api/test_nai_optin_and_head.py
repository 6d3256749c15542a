"""The NAI opt-in is a first-party, top-level act; every GET endpoint also answers HEAD.

An ``<img src=".../nai/optin">`` (or a fetch, an iframe) on any web page
would otherwise clear a visitor's opt-out. Browsers say where a request comes
from in ``Sec-Fetch-*`` headers, which a page cannot set: a cross-site
opt-in counts only as a top-level navigation (a link the person followed).
The opt-out may come from anywhere.
"""
import re
import uuid

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from consent.client import NAI_COOKIE, NAI_OPT_OUT

pytestmark = pytest.mark.django_db

NAVIGATION = {"HTTP_SEC_FETCH_SITE": "cross-site", "HTTP_SEC_FETCH_MODE": "navigate", "HTTP_SEC_FETCH_DEST": "document"}
# (name, Sec-Fetch-* headers of what a hostile page can make the browser send)
CROSS_SITE_SUBRESOURCES = [
    ("an image", {"HTTP_SEC_FETCH_SITE": "cross-site", "HTTP_SEC_FETCH_MODE": "no-cors", "HTTP_SEC_FETCH_DEST": "image"}),
    ("a fetch", {"HTTP_SEC_FETCH_SITE": "cross-site", "HTTP_SEC_FETCH_MODE": "cors", "HTTP_SEC_FETCH_DEST": "empty"}),
    ("a script", {"HTTP_SEC_FETCH_SITE": "cross-site", "HTTP_SEC_FETCH_MODE": "no-cors", "HTTP_SEC_FETCH_DEST": "script"}),
    ("an iframe", {"HTTP_SEC_FETCH_SITE": "cross-site", "HTTP_SEC_FETCH_MODE": "navigate", "HTTP_SEC_FETCH_DEST": "iframe"}),
    ("a nested navigation", {"HTTP_SEC_FETCH_SITE": "cross-site", "HTTP_SEC_FETCH_MODE": "nested-navigate",
                             "HTTP_SEC_FETCH_DEST": "document"}),
]


def opted_out(client):
    client.cookies[NAI_COOKIE] = NAI_OPT_OUT


def cleared(response) -> bool:
    morsel = response.cookies.get(NAI_COOKIE)
    return morsel is not None and morsel.value == "" and morsel["max-age"] == 0


@pytest.mark.parametrize("name, headers", CROSS_SITE_SUBRESOURCES, ids=[c[0] for c in CROSS_SITE_SUBRESOURCES])
def test_a_cross_site_subresource_cannot_opt_back_in(client, demo_site, name, headers):
    opted_out(client)
    response = client.get("/nai/optin", **headers)
    assert response.status_code == 403, response.content
    assert response.json()["error"] == "cross_site_opt_in"
    assert "top-level" in response.json()["detail"]
    assert not cleared(response)
    assert client.get("/nai/status").json()["opted_out"] is True


@pytest.mark.parametrize("headers", [
    NAVIGATION,
    {"HTTP_SEC_FETCH_SITE": "same-origin", "HTTP_SEC_FETCH_MODE": "no-cors", "HTTP_SEC_FETCH_DEST": "image"},
    {"HTTP_SEC_FETCH_SITE": "none", "HTTP_SEC_FETCH_MODE": "navigate", "HTTP_SEC_FETCH_DEST": "document"},
    {},  # a browser that sends no Sec-Fetch-* headers, or curl
], ids=["cross-site top-level link", "same origin", "typed in the address bar", "no fetch metadata"])
def test_a_first_party_or_top_level_opt_in_clears_the_cookie(client, demo_site, headers):
    opted_out(client)
    response = client.get("/nai/optin", **headers)
    assert response.status_code == 200
    assert cleared(response)


@pytest.mark.parametrize("name, headers", CROSS_SITE_SUBRESOURCES, ids=[c[0] for c in CROSS_SITE_SUBRESOURCES])
def test_the_opt_out_may_come_from_anywhere(client, demo_site, name, headers):
    response = client.get("/nai/optout", **headers)
    assert response.status_code == 200
    assert response.cookies[NAI_COOKIE].value == NAI_OPT_OUT


# Values for the URL conf's parameters: each route is asked with real-looking arguments.
ARGUMENTS = {"site_key": "demo", "visitor_id": str(uuid.uuid4()), "code": "not-a-code", "request_id": str(uuid.uuid4()),
             "token": "not-a-token"}


def _get_routes():
    from banner.embed import RUNTIME_VERSION

    arguments = {**ARGUMENTS, "version": RUNTIME_VERSION}
    routes = []

    def walk(patterns, prefix):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if route.startswith(("admin/", "static/")):
                continue  # Django's own views (they answer HEAD); the admin needs a login
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern):
                routes.append("/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: arguments[m.group(1)], route))

    walk(get_resolver().url_patterns, "")
    return routes


ROUTES = _get_routes()


def test_the_url_conf_walk_finds_every_route():
    assert "/nai/optin" in ROUTES and "/api/v1/sites/demo/config" in ROUTES and "/healthz" in ROUTES
    assert not [r for r in ROUTES if "<" in r], ROUTES


@pytest.mark.parametrize("url", ROUTES)
def test_every_get_endpoint_answers_head(client, demo_site, url):
    got = client.get(url)
    if got.status_code == 405:
        return  # not a GET endpoint (none today)
    head = client.head(url)
    assert head.status_code == got.status_code, (url, head.status_code, head.content[:200])
    assert head.content == b""
    assert head.get("Content-Type") == got.get("Content-Type")
