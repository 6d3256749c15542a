"""A site owner's first hour, against ``make run`` itself (the embedded default, as the README says).

One ``make run`` serves every test here. They show: the dashboard gets its
numbers from the scheduled jobs within a minute or so of a few choices, with no
broker (point 6); the README's "Your site in five minutes" commands, run as
written, give a snippet that shows the banner on a page of another origin,
which remembers the choice across reloads (point 1); a site made in the admin
does the same (point 2); request emails link to the port served (point 5).
They also take the README's screenshots (UPDATE_SCREENSHOTS=1 writes them to
docs/screenshots/).
"""
import os
import re
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.support import ROOT, check_compression, consent_body, http, lookup_url, make_run, new_visitor_id, wait_until, write_url

pytestmark = pytest.mark.browser
SCREENSHOTS = ROOT / "docs" / "screenshots"
BANNER = "#cmp-root >> section.banner"
DIALOG = "#cmp-root >> dialog.prefs"
PASSWORD = "first-hour-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with make_run(tmp_path_factory.mktemp("make-run")) as (base, env, log):
        manage("createsuperuser", "--noinput", "--username", "owner", "--email", "owner@example.com",
               env={**env, "DJANGO_SUPERUSER_PASSWORD": PASSWORD})
        yield base, env, log


def manage(*args, env):
    return subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "manage.py", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=True).stdout


def screenshot_path(name, tmp_path) -> Path:
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(exist_ok=True)
        return SCREENSHOTS / name
    return tmp_path / name


@pytest.fixture
def context(browser):
    # Stands for the platform being on the public internet: a public https page may then call it.
    context = browser.new_context(viewport={"width": 1280, "height": 800}, device_scale_factor=1)
    context.grant_permissions(["local-network-access"])
    yield context
    context.close()


def sign_in(page, base):
    page.goto(base + "/admin/login/")
    page.fill("#id_username", "owner")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")


def site_page(context, origin, snippet):
    """A page of the owner's site on ``origin``: the pasted snippet and one tag gated on analytics."""
    html = (f'<!doctype html><html lang="en"><head><title>Shop</title>{snippet}</head><body><h1>Shop</h1>'
            '<script type="text/plain" data-cmp-purpose="analytics">window.analyticsRuns = '
            '(window.analyticsRuns || 0) + 1;</script></body></html>')
    context.route(origin + "/", lambda route: route.fulfill(body=html, content_type="text/html"))


def choose_and_reload(context, origin, base, site):
    """Accept all on a first visit, then reload: the banner stays away and the tag runs; the API agrees."""
    page = context.new_page()
    page.goto(origin + "/")
    page.locator(BANNER).wait_for(state="visible")
    assert page.evaluate("window.analyticsRuns || 0") == 0
    page.locator(f"{BANNER} >> button[data-action='accept']").click()
    page.wait_for_function("window.analyticsRuns === 1")
    cookie = f"cmp_{site}"
    confirmed = f"(() => {{ const m = document.cookie.match(/{cookie}=[^;]*!([a-z]*)(?:;|$)/); return !!m && !m[1].includes('q'); }})()"
    page.wait_for_function(confirmed)  # the server has it
    page.reload()
    page.wait_for_function("window.cmp && window.cmp.ready")
    page.evaluate("window.cmp.ready")
    page.wait_for_function("window.analyticsRuns === 1")
    assert page.locator(BANNER).is_hidden()
    visitor = page.evaluate("window.cmp.visitorId")
    status, answer = http("GET", base + lookup_url(visitor, site))
    assert status == 200 and answer["needs_choice"] is False
    assert answer["decisions"]["analytics"] == {"granted": True, "reason": "choice"}
    page.close()


def test_dashboard_counts_a_few_choices_within_about_a_minute(served, context, tmp_path):
    base, _, log = served
    for choices in ({"analytics": True, "advertising": True, "recognition": True},
                    {"analytics": False, "advertising": False, "recognition": False},
                    {"analytics": True, "advertising": False, "recognition": False},
                    {"analytics": True, "advertising": True, "recognition": True}):
        status, _ = http("POST", base + write_url(), consent_body(new_visitor_id(), choices=choices))
        assert status == 201
    page = context.new_page()
    sign_in(page, base)
    dashboard = base + "/admin/consent/consentevent/dashboard/?site=demo&days=7"

    def computed():
        page.goto(dashboard)
        return "not computed yet" not in page.content()

    # The today's-rollups job runs every minute under run_schedule (started by make run); the
    # two-day one every quarter hour, so either may be the one that counts them first.
    wait_until(computed, 180, "the scheduled rollups to count the choices", every=3)
    assert re.search(r"\b4 events from", page.content())
    # The job logs its run once it has returned, just after its rows are committed.
    ran = re.compile(r"Ran refresh-rollups(-today)? \(audit\.tasks\.refresh_rollups\)")
    wait_until(lambda: ran.search(log.read_text()), 30, "the schedule to log the job's run")
    page.screenshot(path=str(screenshot_path("dashboard-make-run.png", tmp_path)), full_page=True)


def readme_commands(section: str) -> list[str]:
    readme = (ROOT / "README.md").read_text()
    body = readme.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", body, re.S).group(1)
    return [line for line in block.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_readme_site_in_five_minutes_as_written(served, context):
    base, env, _ = served
    printed = ""
    for command in readme_commands("Your site in five minutes"):
        printed += subprocess.run(["bash", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True,
                                  check=True).stdout
    # The snippet points at the port served (CMP_PUBLIC_URL follows PORT).
    snippet = re.search(r'<script src="[^"]+/c/shop\.js"></script>', printed).group(0)
    assert snippet == f'<script src="{base}/c/shop.js"></script>'
    pinned = re.search(r'<script src="[^"]+/cmp\.min\.js" data-site="shop"\s+integrity="sha384-[^"]+" '
                       r'crossorigin="anonymous"></script>', printed)
    assert pinned, printed
    site_page(context, "https://shop.example", snippet)
    choose_and_reload(context, "https://shop.example", base, "shop")
    # The pinned snippet works as printed too (its hash is the runtime's).
    site_page(context, "https://shop.example", pinned.group(0).replace("\n", " "))
    page = context.new_page()
    page.goto("https://shop.example/")
    page.wait_for_function("window.cmp && window.cmp.ready")
    page.close()


def test_a_site_made_in_the_admin_remembers_a_choice(served, context, tmp_path):
    base, _, _ = served
    page = context.new_page()
    sign_in(page, base)
    page.goto(base + "/admin/consent/site/add/")
    page.fill("#id_key", "boutique")
    page.fill("#id_name", "Boutique")
    page.fill("#id_allowed_origins", "https://boutique.example")
    page.check("input[name=languages][value=fr]")
    page.fill("#id_policy_url", "https://boutique.example/confidentialite")
    page.click("input[name=_save]")
    snippet = page.locator("pre.cmp-snippet").first.inner_text()
    assert snippet == f'<script src="{base}/c/boutique.js"></script>'
    page.set_viewport_size({"width": 1366, "height": 900})
    page.screenshot(path=str(screenshot_path("site-form.png", tmp_path)), full_page=False)
    page.close()
    site_page(context, "https://boutique.example", snippet)
    choose_and_reload(context, "https://boutique.example", base, "boutique")


def test_request_emails_link_to_the_port_served(served, context):
    base, _, log = served
    page = context.new_page()
    page.goto(base + "/privacy/requests/demo/")
    page.check("input[name=kind][value=know]")
    page.fill("#id_email", "someone@example.org")
    page.click("button[type=submit]")
    page.wait_for_selector("text=Check your email")
    wait_until(lambda: "/privacy/requests/verify/" in log.read_text(), 30, "the verification email")
    links = re.findall(r"(https?://[^/\s]+)/privacy/requests/verify/", log.read_text())
    assert links and set(links) == {base}
    assert "No hostname was supplied" not in log.read_text()


def test_screenshots_of_what_a_visitor_sees(served, browser, tmp_path):
    base, _, _ = served
    for name, viewport in (("desktop", {"width": 1280, "height": 800}), ("375", {"width": 375, "height": 740})):
        context = browser.new_context(viewport=viewport, device_scale_factor=1)
        try:
            page = context.new_page()
            page.goto(base + "/demo/")
            page.locator(BANNER).wait_for(state="visible")
            if name == "desktop":
                page.screenshot(path=str(screenshot_path("first-visit.png", tmp_path)))
            page.locator(f"{BANNER} >> button[data-action='customize']").click()
            page.locator(DIALOG).wait_for(state="visible")
            page.screenshot(path=str(screenshot_path(f"preferences-{name}.png", tmp_path)))
        finally:
            context.close()


def test_readme_shows_each_screenshot():
    readme = (ROOT / "README.md").read_text()
    for name in ("first-visit", "preferences-desktop", "preferences-375", "site-form", "dashboard-make-run"):
        assert f"(docs/screenshots/{name}.png)" in readme
        assert (SCREENSHOTS / f"{name}.png").stat().st_size > 5_000




def test_make_run_compresses_dynamic_answers(served):
    check_compression(served[0])
