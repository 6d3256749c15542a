"""The inventory as it is read and kept: the declaration (JSON and HTML), the blocking rules,
one scan per site, the owner's classification across rescans, the admin's scan button and violations list,
the command's queued scan, the weekly schedule."""
import re
import subprocess
import sys
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.utils import timezone

from cmp.celery import app as celery_app
from delivery.models import OutboxMessage, WebhookEndpoint
from delivery.outbox import queue_event
from scanner import scans
from scanner.models import Scan, ScanSettings, Tracker
from scanner.observations import Item, PagePass
from scanner.tasks import schedule_weekly_scans
from tests.support import ROOT, embed_boot

pytestmark = pytest.mark.django_db
ORIGIN = "https://shop.example.com"


@pytest.fixture
def inventory(demo_site):
    def add(kind, name, domain, purpose, **fields):
        return Tracker.objects.create(site=demo_site, kind=kind, name=name, domain=domain, purpose=purpose, **fields)

    add("cookie", "_ga", "shop.example.com", "analytics", vendor="Google Analytics", lifetime_seconds=34560000,
        classified_by="ocd", description="ID used to identify users")
    add("cookie", "_ga_XYZ", "shop.example.com", "analytics", vendor="Google Analytics", prefix="_ga_", classified_by="ocd")
    add("local_storage", "ZD-suid", "shop.example.com", "analytics", vendor="Zendesk", classified_by="ocd")
    add("cookie", "_fbp", "shop.example.com", "advertising", vendor="Facebook", classified_by="ocd")
    add("cookie", "sessionid", "shop.example.com", "authentication", classified_by="owner")
    add("cookie", "<script>alert(1)</script>", "shop.example.com", "", set_by="inline script in https://shop.example.com/")
    add("request", "www.googletagmanager.com", "www.googletagmanager.com", "analytics", vendor="Google Tag Manager",
        classified_by="catalogue", first_party=False)
    add("request", "cdn.shop-images.example", "cdn.shop-images.example", "authentication", classified_by="owner",
        first_party=False)
    add("request", "static.hotjar.com", "static.hotjar.com", "security", classified_by="owner", first_party=False)
    return demo_site


def test_the_declaration_lists_cookies_and_vendors_per_purpose(client, inventory):
    answer = client.get("/api/v1/sites/demo/declaration?lang=fr")
    assert answer.status_code == 200
    body = answer.json()
    purposes = {p["key"]: p for p in body["purposes"]}
    assert body["language"] == "fr" and purposes["analytics"]["name"] == "Mesure d'audience"
    assert [c["name"] for c in purposes["analytics"]["cookies"]] == ["_ga", "_ga_XYZ", "ZD-suid"]
    assert purposes["analytics"]["cookies"][0] == {
        "name": "_ga", "kind": "cookie", "domain": "shop.example.com", "vendor": "Google Analytics",
        "lifetime_seconds": 34560000, "first_party": True, "description": "ID used to identify users"}
    assert purposes["analytics"]["vendors"] == [{"name": "Google Tag Manager", "hosts": ["www.googletagmanager.com"]}]
    assert purposes["authentication"]["essential"] is True
    assert [c["name"] for c in purposes["authentication"]["cookies"]] == ["sessionid"]
    assert body["unclassified"] == 1
    again = client.get("/api/v1/sites/demo/declaration?lang=fr", HTTP_IF_NONE_MATCH=answer["ETag"])
    assert again.status_code == 304


def test_the_declaration_answers_the_sites_origins_only(client, inventory):
    mine = client.get("/api/v1/sites/demo/declaration", HTTP_ORIGIN=ORIGIN)
    assert mine["Access-Control-Allow-Origin"] == ORIGIN
    stranger = client.get("/api/v1/sites/demo/declaration", HTTP_ORIGIN="https://evil.example")
    assert "Access-Control-Allow-Origin" not in stranger


def test_the_dialogs_declaration_is_worded_per_purpose_in_the_visitors_language(client, inventory):
    answer = client.get("/api/v1/sites/demo/declaration/dialog?lang=fr-CA", HTTP_ORIGIN=ORIGIN)
    assert answer.status_code == 200 and answer["Access-Control-Allow-Origin"] == ORIGIN
    assert answer["Cache-Control"] == "public, max-age=300" and "Origin" in answer["Vary"]
    body = answer.json()
    assert body["language"] == "fr"
    # Only purposes with something to declare; recognition has nothing.
    assert set(body["purposes"]) == {"analytics", "advertising", "authentication", "security"}
    analytics = body["purposes"]["analytics"]
    assert analytics["summary"] == "Cookies et fournisseurs (4)"
    assert [analytics["lists"][0][0], *[line.replace("\xa0", " ") for line in analytics["lists"][0][1]]] == [
        "Cookies et stockage", "_ga · Google Analytics · shop.example.com · 1 année",  # Django's own French
        "_ga_XYZ · Google Analytics · shop.example.com · session", "ZD-suid · Zendesk · shop.example.com · localStorage"]
    assert analytics["lists"][1:] == [
        ["Fournisseurs", ["Google Tag Manager: www.googletagmanager.com"]],
    ]
    # A vendor known only by its host is named once; the unclassified item is nowhere.
    assert body["purposes"]["security"]["lists"] == [["Fournisseurs", ["static.hotjar.com"]]]
    assert "<script>" not in answer.content.decode()
    again = client.get("/api/v1/sites/demo/declaration/dialog?lang=fr-CA", HTTP_IF_NONE_MATCH=answer["ETag"])
    assert again.status_code == 304
    english = client.get("/api/v1/sites/demo/declaration/dialog").json()["purposes"]["analytics"]
    assert english["summary"] == "Cookies and vendors (4)" and english["lists"][0][1][0].endswith(" · 1 year")


@pytest.mark.parametrize("seconds, words", [(None, "session"), (59, "1 minute"), (7200, "2 hours"), (86400 * 3, "3 days"),
                                            (86400 * 90, "3 months"), (86400 * 800, "2 years")])
def test_a_cookie_lifetime_in_words(seconds, words):
    from scanner.inventory import duration

    assert duration(seconds).replace("\xa0", " ") == words


@pytest.mark.parametrize("path", ["/api/v1/sites/nope/declaration", "/api/v1/sites/nope/trackers", "/declaration/nope/",
                                  "/api/v1/sites/nope/declaration/dialog",
                                  "/api/v1/sites/" + "x" * 300 + "/trackers", "/declaration/%00%3Cscript%3E/"])
def test_an_unknown_site_is_a_404_that_says_so(client, db, path):
    answer = client.get(path)
    assert answer.status_code == 404
    assert answer.json()["error"] in ("unknown_site", "not_found")


def test_the_declaration_page_escapes_what_pages_named_and_may_be_framed_by_the_site_only(client, inventory):
    page = client.get("/declaration/demo/?lang=en")
    assert page.status_code == 200
    html = page.content.decode()
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" not in html  # unclassified: not listed
    assert "_ga" in html and "Google Tag Manager" in html and "Analytics" in html
    assert f"frame-ancestors {ORIGIN}" in page["Content-Security-Policy"]
    assert "script-src" not in page["Content-Security-Policy"] and "default-src 'none'" in page["Content-Security-Policy"]
    assert "X-Frame-Options" not in page


def test_a_hostile_name_in_a_classified_item_is_shown_as_text(client, inventory):
    Tracker.objects.filter(name="<script>alert(1)</script>").update(purpose="analytics")
    html = client.get("/declaration/demo/").content.decode()
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_blocking_rules_hold_hosts_and_names_per_optional_purpose(client, inventory):
    rules = client.get("/api/v1/sites/demo/trackers").json()
    assert set(rules) == {"hosts", "essential", "cookies", "storage"}
    assert set(rules["hosts"]) <= {"analytics", "advertising", "recognition"}
    assert "google-analytics.com" in rules["hosts"]["analytics"] and "doubleclick.net" in rules["hosts"]["advertising"]
    assert "intercom.io" in rules["hosts"]["recognition"]
    assert "cdn.shop-images.example" not in sum(rules["hosts"].values(), [])  # the owner said: essential
    assert "hotjar.com" in rules["hosts"]["analytics"]          # the catalogue's parent domain stays...
    assert "static.hotjar.com" not in sum(rules["hosts"].values(), [])  # ...but the owner's host is not blocked,
    assert rules["essential"] == ["cdn.shop-images.example", "static.hotjar.com"]  # even under its parent
    assert rules["cookies"] == {"analytics": ["_ga", "_ga_*"], "advertising": ["_fbp"]}
    assert rules["storage"] == {"analytics": ["ZD-suid"]}


def test_the_embed_script_holds_the_inventorys_hosts_with_the_owners_essential_ones_under_their_parent(
        client, inventory):
    Tracker.objects.create(site=inventory, kind="request", name="hotjar.com", domain="hotjar.com", purpose="analytics",
                           classified_by="catalogue", first_party=False)
    fields, _ = embed_boot(client.get("/c/demo.js"))
    # The owner's static.hotjar.com never waits, though hotjar.com covers it (the banner lets the most
    # specific listing win); cdn.shop-images.example is essential too, but nothing listed covers it.
    assert fields["block"] == {"analytics": ["hotjar.com", "www.googletagmanager.com"], "": ["static.hotjar.com"]}


def test_one_scan_per_site_at_a_time(demo_site):
    first = scans.create_scan(demo_site, "command")
    with pytest.raises(scans.ScanRunning, match=f"scan {first.pk} queued"):
        scans.create_scan(demo_site, "admin")
    with pytest.raises(IntegrityError), transaction.atomic():  # the database holds the rule too
        Scan.objects.create(site=demo_site, trigger="task", status=Scan.RUNNING)
    assert scans.claim(first.pk).status == Scan.RUNNING
    assert scans.claim(first.pk) is None  # a second delivery of the task does not run it again


def test_a_scan_whose_worker_died_is_taken_over_or_replaced(demo_site, settings):
    scan = scans.create_scan(demo_site, "command")
    scans.claim(scan.pk)
    Scan.objects.filter(pk=scan.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert scans.claim(scan.pk).attempts == 2  # the task's redelivery takes it over
    Scan.objects.filter(pk=scan.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    replacement = scans.create_scan(demo_site, "admin")
    scan.refresh_from_db()
    assert scan.status == Scan.FAILED and "Abandoned" in scan.error
    assert replacement.status == Scan.QUEUED
    assert scans.claim(scan.pk) is None


def test_a_scan_with_no_page_fails_saying_why_and_writes_nothing(demo_site):
    demo_site.allowed_origins = []
    demo_site.save()
    scan = scans.create_scan(demo_site, "command")
    assert scans.run(scan.pk, open_browser=lambda: pytest.fail("no browser is opened for nothing")) == Scan.FAILED
    scan.refresh_from_db()
    assert scan.status == Scan.FAILED and "no page to open" in scan.error
    assert not Tracker.objects.exists()


@pytest.fixture
def staff(client, db):
    client.force_login(User.objects.create_superuser("owner", "owner@example.com", "pw"))
    return client


def test_the_owner_classifies_an_unknown_item_and_later_scans_keep_it(staff, inventory):
    unknown = Tracker.objects.get(name="<script>alert(1)</script>")
    answer = staff.post(f"/admin/scanner/tracker/{unknown.pk}/change/", {"purpose": "authentication"})
    assert answer.status_code == 302
    unknown.refresh_from_db()
    assert (unknown.purpose, unknown.classified_by) == ("authentication", "owner")
    refused = staff.post(f"/admin/scanner/tracker/{unknown.pk}/change/", {"purpose": "no-such-purpose"})
    assert refused.status_code == 200 and b"Select a valid choice" in refused.content
    listing = staff.get("/admin/scanner/tracker/?classified=no")
    assert listing.status_code == 200 and b"_ga" not in listing.content


def test_the_admin_button_starts_a_scan(staff, demo_site, django_capture_on_commit_callbacks):
    demo_site.allowed_origins = []  # nothing to open: the scan ends at once, without a browser
    demo_site.save()
    config = ScanSettings.objects.create(site=demo_site, urls=[], use_sitemap=False)
    form = {"site": demo_site.pk, "urls": "[]", "page_limit": 50, "weekly": "on", "_scan_now": "Save and scan now"}
    with django_capture_on_commit_callbacks(execute=True):
        answer = staff.post(f"/admin/scanner/scansettings/{config.pk}/change/", form, follow=True)
    assert answer.status_code == 200
    scan = Scan.objects.get()
    assert scan.trigger == "admin"
    assert f"Scan {scan.pk} of demo queued." in answer.content.decode()
    assert scan.status == Scan.FAILED and "no page to open" in scan.error  # it ran (eagerly here)


def test_settings_refuse_what_is_not_a_url(staff, demo_site):
    form = {"site": demo_site.pk, "urls": '["javascript:alert(1)"]', "page_limit": 50}
    answer = staff.post("/admin/scanner/scansettings/add/", form)
    assert answer.status_code == 200 and b"is not an http(s) URL" in answer.content
    answer = staff.post("/admin/scanner/scansettings/add/", {**form, "urls": "[]", "page_limit": 100000})
    assert b"Must be between 1 and 500" in answer.content


def test_the_weekly_scan_is_scheduled_and_queues_each_site_once(demo_site, django_capture_on_commit_callbacks):
    entry = celery_app.conf.beat_schedule["weekly-scans"]
    assert entry["task"] == "scanner.tasks.schedule_weekly_scans"
    assert entry["schedule"].day_of_week == {1}
    # Queued only (the hand-over to a worker waits for a commit that this test never makes).
    with django_capture_on_commit_callbacks() as handovers:
        assert schedule_weekly_scans() == 1
        assert schedule_weekly_scans() == 0  # one is already queued
    assert Scan.objects.get(site=demo_site).trigger == "schedule" and len(handovers) == 1
    ScanSettings.objects.create(site=demo_site, weekly=False)
    Scan.objects.all().delete()
    assert schedule_weekly_scans() == 0


def test_an_endpoint_gets_only_the_event_types_it_lists(demo_site):
    decisions_only = WebhookEndpoint.objects.create(site=demo_site, url="http://127.0.0.1:9/hooks")
    findings = WebhookEndpoint.objects.create(site=demo_site, url="http://127.0.0.1:9/scans", event_type="scanner.violations_found")
    assert decisions_only.event_type == "consent.decisions_changed"
    with transaction.atomic():
        ids = queue_event(demo_site, "scanner.violations_found", {"scan": 1, "violation_count": 0, "violations": []})
    assert [str(m.id) for m in OutboxMessage.objects.filter(endpoint=findings)] == ids
    assert not OutboxMessage.objects.filter(endpoint=decisions_only).exists()
    with pytest.raises(ValueError, match="unknown event type"):
        queue_event(demo_site, "scanner.nonsense", {})


def test_the_web_process_never_imports_the_browser():
    code = ("import os, sys; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'cmp.settings'); os.environ['DEBUG'] = '1'\n"
            "import django; django.setup()\n"
            "from django.urls import get_resolver; get_resolver().url_patterns\n"
            "import cmp.wsgi, scanner.admin, scanner.tasks, scanner.views, cmp.celery\n"
            "from django.contrib import admin; admin.autodiscover()\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('playwright', 'defusedxml', 'publicsuffixlist') "
            "or m in ('scanner.chromium', 'scanner.sitemap')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# What Chromium's passes over the proof page give (scanner.chromium), as plain records.
PAGE = "https://shop.example.com/"
INLINE = f"inline script in {PAGE}"
GTAG = "https://www.googletagmanager.com/gtag/js?id=G-1"


def passes():
    ab = Item("cookie", "shop_ab", "shop.example.com", True, INLINE, 3600, False, "Lax", False)
    ga = Item("cookie", "_ga", "shop.example.com", True, GTAG, 34560000, False, "Lax", False)
    gtm = Item("request", "www.googletagmanager.com", "www.googletagmanager.com", False, PAGE,
               resource_type="script", initiator=PAGE)
    return [PagePass(PAGE, "before", [ab, gtm]), PagePass(PAGE, "reject", [ab]), PagePass(PAGE, "accept", [ab, ga, gtm])]


def recorded(site, monkeypatch, at):
    """A whole scan of ``site`` recorded at ``at``, as a worker records it once every page is seen."""
    monkeypatch.setattr(scans, "timezone", type("Clock", (), {"now": staticmethod(lambda: at)}))
    scan = scans.claim(scans.create_scan(site, "task").pk)
    scans.record(scan, passes())
    scan.refresh_from_db()
    assert scan.status == Scan.DONE
    return scan


def test_a_rescan_keeps_the_owners_classification_and_first_seen_and_moves_last_seen(staff, demo_site, monkeypatch):
    first_at = timezone.now() - timedelta(days=7)
    first = recorded(demo_site, monkeypatch, first_at)
    ab, ga = Tracker.objects.get(name="shop_ab"), Tracker.objects.get(name="_ga")
    assert (ab.purpose, ab.classified_by) == ("", "")             # unknown to both references
    assert (ga.purpose, ga.classified_by) == ("analytics", "ocd")
    assert set(first.violations.values_list("tracker__name", "phase")) == {
        ("shop_ab", "before"), ("shop_ab", "reject"), ("www.googletagmanager.com", "before")}

    # The owner says what the unknown cookie is, and overrides the database on _ga.
    for tracker, purpose in ((ab, "authentication"), (ga, "recognition")):
        answer = staff.post(f"/admin/scanner/tracker/{tracker.pk}/change/", {"purpose": purpose})
        assert answer.status_code == 302

    second = recorded(demo_site, monkeypatch, first_at + timedelta(days=7))
    for tracker, purpose in ((ab, "authentication"), (ga, "recognition")):
        tracker.refresh_from_db()
        assert (tracker.purpose, tracker.classified_by) == (purpose, "owner"), tracker.name
        assert tracker.first_seen == first_at
        assert tracker.last_seen == first_at + timedelta(days=7)
    assert Tracker.objects.get(name="www.googletagmanager.com").first_seen == first_at
    assert Tracker.objects.filter(site=demo_site).count() == 3  # updated in place, not added again
    # The owner's word also decides the findings: an essential cookie is no violation.
    assert set(second.violations.values_list("tracker__name", "phase")) == {("www.googletagmanager.com", "before")}


def test_the_violations_list_shows_page_item_phase_and_what_set_it(staff, demo_site, monkeypatch):
    recorded(demo_site, monkeypatch, timezone.now())
    listing = staff.get("/admin/scanner/violation/")
    assert listing.status_code == 200
    rows = {cells("phase", row): row for row in re.findall(r"<tr>.*?</tr>", listing.content.decode(), re.S)
            if "shop_ab" in row}
    assert set(rows) == {"Before any choice", "After Reject all"}
    for row in rows.values():
        assert (cells("page", row), cells("tracker", row), cells("set_by", row)) == (
            PAGE, "Cookie shop_ab (shop.example.com)", INLINE)
    before = staff.get("/admin/scanner/violation/?phase=before").content.decode()
    assert {(cells("tracker", row), cells("phase", row)) for row in re.findall(r"<tr>.*?</tr>", before, re.S)
            if "field-phase" in row} == {
        ("Cookie shop_ab (shop.example.com)", "Before any choice"),
        ("Request to www.googletagmanager.com", "Before any choice")}


def cells(field, row):
    """The text of the changelist cell of ``field`` in ``row``."""
    found = re.search(rf'class="field-{field}[^"]*">(?:<a [^>]*>)?(.*?)(?:</a>)?</t[dh]>', row, re.S)
    return found and found.group(1)


def test_scan_site_without_here_queues_the_scan_for_a_worker(demo_site, django_capture_on_commit_callbacks):
    demo_site.allowed_origins = []  # nothing to open: the worker's run ends at once, without a browser
    demo_site.save()
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True) as handovers:
        call_command("scan_site", "demo", stdout=out)
        scan = Scan.objects.get()
        # Queued, not run here: the command returns before any worker has it.
        assert (scan.trigger, scan.status) == ("command", Scan.QUEUED)
        assert out.getvalue().startswith(f"Scan {scan.pk} of demo: queued, 0 pages")
        with pytest.raises(CommandError, match=f"already has scan {scan.pk} queued"):
            call_command("scan_site", "demo", stdout=StringIO())
    assert len(handovers) == 1
    scan.refresh_from_db()
    # The task got it after the commit (eagerly here) and ran it.
    assert scan.status == Scan.FAILED and "no page to open" in scan.error and scan.attempts == 1


def test_hold_markup_holds_the_trackers_of_a_sites_html_files_in_place(inventory, tmp_path):
    page, plain = tmp_path / "index.html", tmp_path / "about.html"
    page.write_text('<p>Été</p>\r\n<script src="https://www.googletagmanager.com/gtag/js"></script>\n'
                    '<iframe src="https://x.doubleclick.net/ad"></iframe><img src="https://cdn.shop-images.example/a.png">'
                    '<script src="https://static.hotjar.com/c.js"></script>', encoding="utf-8")
    plain.write_text('<script src="/app.js"></script>', encoding="utf-8")
    out = StringIO()
    call_command("hold_markup", "demo", str(page), str(plain), stdout=out)
    assert out.getvalue().splitlines() == [f"{page}: held", f"{plain}: nothing to hold"]
    assert page.read_bytes().decode() == (  # its line endings kept
        '<p>Été</p>\r\n<script src="https://www.googletagmanager.com/gtag/js" type="text/plain" '
        'data-cmp-purpose="analytics"></script>\n<iframe data-src="https://x.doubleclick.net/ad" '
        'data-cmp-purpose="advertising"></iframe><img src="https://cdn.shop-images.example/a.png">'
        '<script src="https://static.hotjar.com/c.js"></script>')  # what the owner calls essential, under hotjar.com
    assert plain.read_text(encoding="utf-8") == '<script src="/app.js"></script>'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["about.html", "index.html"]


def test_hold_markup_filters_standard_input_to_standard_output(inventory, monkeypatch):
    monkeypatch.setattr("sys.stdin", StringIO('<img src="//mc.yandex.ru/watch/1">'))
    out = StringIO()
    call_command("hold_markup", "demo", stdout=out)
    assert out.getvalue() == '<img data-src="//mc.yandex.ru/watch/1" data-cmp-purpose="analytics">'


def test_hold_markup_refuses_an_unknown_site_or_an_unreadable_file_and_writes_nothing(inventory, tmp_path):
    good, bad = tmp_path / "good.html", tmp_path / "bad.html"
    good.write_text('<script src="https://www.googletagmanager.com/gtag/js"></script>', encoding="utf-8")
    bad.write_bytes(b"<p>\xff\xfe</p>")
    with pytest.raises(CommandError, match="No site with key 'nope'"):
        call_command("hold_markup", "nope", str(good))
    with pytest.raises(CommandError, match=f"Cannot read {bad} as UTF-8"):
        call_command("hold_markup", "demo", str(good), str(bad))
    with pytest.raises(CommandError, match="Cannot read .*missing.html"):
        call_command("hold_markup", "demo", str(tmp_path / "missing.html"))
    assert "data-cmp-purpose" not in good.read_text(encoding="utf-8")
