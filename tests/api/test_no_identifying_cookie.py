"""The README's cookie promise: the banner, the API and the NAI pages set no identifying cookie on the platform's host.

Every page and API a visitor's browser reaches is called as the browser
would (the banner's embed, config, write and lookup, the receipts, the
demo page, the NAI pages, the privacy request form, filled and sent, the
receipt checker, the log proofs, the cookie declaration). The NAI opt-out
sets its fixed value ``OPT_OUT``, which names no one; the one other cookie is
Django's CSRF cookie, set by the privacy request form only (the README says
so). The admin's session and CSRF cookies are for staff who sign in.
"""
import pytest
from django.test import Client

from tests.support import consent_body, form_fields, lookup_url, write_url

pytestmark = pytest.mark.django_db


def set_cookies(response) -> dict:
    return {name: morsel.value for name, morsel in response.cookies.items()}


def test_no_page_or_api_a_visitor_reaches_sets_an_identifying_cookie(demo_site, visitor_id):
    browser = Client(enforce_csrf_checks=True)  # as a browser: CSRF checked, cookies kept between requests
    seen = {}

    def visit(method, path, **kwargs):
        response = getattr(browser, method)(path, **kwargs)
        assert response.status_code < 500, (path, response.status_code)
        seen[f"{method.upper()} {path}"] = set_cookies(response)
        return response

    visit("get", "/demo/")
    visit("get", "/c/demo.js")
    visit("get", "/c/cmp.css")
    visit("get", "/api/v1/sites/demo/config?lang=en")
    written = visit("post", write_url(), data=consent_body(visitor_id), content_type="application/json")
    assert written.status_code == 201
    token = written.json()["token"]
    visit("get", lookup_url(visitor_id))
    visit("get", f"/api/v1/sites/demo/visitors/{visitor_id}/receipts", HTTP_AUTHORIZATION=f"Bearer {token}")
    for path in ("/.well-known/gpc.json", "/.well-known/jwks.json", "/verify/", "/api/v1/sites/demo/log",
                 "/api/v1/sites/demo/declaration", "/api/v1/sites/demo/trackers", "/declaration/demo/",
                 "/nai/status", "/nai/status.gif", "/healthz"):
        visit("get", path)
    form = visit("get", "/privacy/requests/demo/")
    fields = form_fields(form.content.decode())
    fields.update(kind="know", email="someone@example.com")
    visit("post", "/privacy/requests/demo/", data=fields)
    opted_out = visit("get", "/nai/optout")
    visit("get", "/nai/optin")

    assert set_cookies(opted_out) == {"cmp_nai_optout": "OPT_OUT"}  # the one cookie, and it names no one
    others = {where: set(cookies) for where, cookies in seen.items() if cookies and where != "GET /nai/optout"}
    assert others == {
        "GET /nai/optin": {"cmp_nai_optout"},  # opting in again only removes it (an empty value)
        "GET /privacy/requests/demo/": {"csrftoken"},  # the form's CSRF protection, and nothing else
    }, others
    assert seen["GET /nai/optin"]["cmp_nai_optout"] == ""
