"""A page on an origin the site does not list: no banner, one console warning naming the origin and the setting."""

import pytest

from consent import refused_origins
from tests.support import wait_until

pytestmark = pytest.mark.browser


def test_an_unlisted_origin_gets_a_warning_naming_it_and_the_setting(page, demo):
    page.context.grant_permissions(["local-network-access"])  # the platform stands for a public one
    refused_origins._noted.clear()
    elsewhere = demo.replace("localhost", "127.0.0.1")
    assert elsewhere != demo, "the page must be on another origin than the platform"
    warnings = []
    page.on("console", lambda m: m.type == "warning" and warnings.append(m.text))
    page.route(f"{elsewhere}/blog/", lambda route: route.fulfill(status=200, content_type="text/html", body=(
        f'<!doctype html><html lang="en"><head><script src="{demo}/c/demo.js"></script></head><body><p>Blog</p>'
        '<script type="text/plain" data-cmp-purpose="analytics">window.tagRan = true;</script></body></html>')))
    page.goto(f"{elsewhere}/blog/")
    page.wait_for_function("window.cmp && window.cmp.ready")
    page.evaluate("window.cmp.ready")
    ours = [w for w in warnings if w.startswith("Consent banner:")]
    assert ours == [f'Consent banner: {elsewhere} is not one of the allowed origins of site "demo", so no banner is '
                    'shown and no choice is saved. Add it under "Allowed origins" in the site\'s settings (admin: Sites, demo).']
    assert page.locator("#cmp-root").count() == 0
    assert page.evaluate("window.tagRan") is None
    # The platform noted the refusal for the site's admin page (its Allow button).
    wait_until(lambda: elsewhere in [origin for origin, _ in refused_origins.refused_recently("demo")],
               what="the refusal to be noted")
