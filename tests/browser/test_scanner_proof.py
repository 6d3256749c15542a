"""The scanner on the proof page: five untagged trackers on their own host names and a leaky inline script.

The scan runs as the management command runs it, in real headless Chromium
behind the scanner's guard; the tracker host names reach the local proof
server through ``CMP_SCANNER_HOSTS`` only.
"""
import os

import pytest
from django.core.management import call_command

from consent.models import Site
from delivery.models import WebhookEndpoint
from delivery.webhooks import verify
from scanner.kinds import ACCEPT, BEFORE, REJECT
from scanner.models import Scan, Tracker, Violation
from tests.support.proof_shop import LEAK, MORE_TRACKERS, SERVER_SET, SERVER_SET_PATH, SESSION_KEY, SHOP, TRACKERS

pytestmark = pytest.mark.browser


def scan():
    call_command("scan_site", "demo", "--here", stdout=open(os.devnull, "w"))
    return Scan.objects.get()


def test_a_scan_classifies_the_five_trackers_and_reports_the_leak(proof, receiver):
    WebhookEndpoint.objects.create(site=Site.objects.get(key="demo"), url=receiver.url, event_type="scanner.violations_found")
    done = scan()
    assert done.status == Scan.DONE, (done.error, done.notes)
    assert done.pages_done == 1

    for host, (category, vendor) in {**TRACKERS, **MORE_TRACKERS}.items():
        tracker = Tracker.objects.get(kind="request", name=host)
        assert (tracker.category, tracker.vendor, tracker.classified_by) == (category, vendor, "catalogue"), host
        assert tracker.purpose in ("analytics", "advertising", "recognition"), host
        assert tracker.first_party is False

    leak = Violation.objects.get(tracker__name=LEAK, phase="before")
    assert leak.set_by == f"inline script in {proof.url}"
    assert leak.page == proof.url
    assert leak.tracker.purpose == "analytics" and leak.tracker.classified_by == "ocd"

    # What set each cookie, and its attributes, from the browser's jar.
    ga = Tracker.objects.get(kind="cookie", name="_ga")
    assert ga.set_by == f"http://www.googletagmanager.com:{proof.port}/gtag/js?id=G-PROOF"
    assert ga.domain == SHOP and ga.first_party and ga.same_site == "Lax" and ga.secure is False
    # Two years asked; Chromium keeps a cookie at most 400 days.
    assert 300 * 86400 < ga.lifetime_seconds <= 400 * 86400
    assert 86000 < Tracker.objects.get(kind="cookie", name="_gid").lifetime_seconds <= 86400
    chat = Tracker.objects.get(kind="local_storage", name="ZD-suid")
    assert chat.set_by == f"http://static.zdassets.com:{proof.port}/ekr/snippet.js"
    assert chat.domain == SHOP and chat.classified_by == "ocd"

    # A cookie a response set with Set-Cookie: set by that response (the server-side tag manager's
    # answer to the analytics script's hit), with the HttpOnly no script could have given it.
    fpid = Tracker.objects.get(kind="cookie", name=SERVER_SET)
    assert fpid.set_by == f"{proof.origin}{SERVER_SET_PATH}?v=2"
    assert (fpid.domain, fpid.first_party, fpid.http_only, fpid.purpose) == (SHOP, True, True, "analytics")
    assert fpid.violations.filter(phase=BEFORE, set_by=fpid.set_by).exists()
    # A sessionStorage key, by the script that wrote it; unknown to the database, it takes
    # that script's host's purpose from the catalogue.
    session = Tracker.objects.get(kind="session_storage", name=SESSION_KEY)
    assert session.set_by == f"http://analytics.tiktok.com:{proof.port}/i18n/pixel/events.js"
    assert (session.domain, session.purpose, session.classified_by) == (SHOP, "advertising", "catalogue")

    # Requests: what was fetched, and what made the request.
    def request(host):
        tracker = Tracker.objects.get(kind="request", name=host)
        return tracker.resource_type, tracker.initiator

    assert request("securepubads.g.doubleclick.net") == ("document", proof.url)       # the ad frame in the markup
    assert request("www.googletagmanager.com") == ("script", proof.url)               # a script in the markup
    assert request("mc.yandex.ru") == ("image", proof.url)                            # the pixel in the markup
    assert request("tr.snapchat.com") == ("image", f"http://sc-static.net:{proof.port}/scevent.min.js")  # made by a script
    assert request("platform.twitter.com") == ("script", proof.url)                   # its script, then its frame

    # Violations: before a choice and after "Reject all" (nothing held them yet), never after "Accept all".
    assert set(done.violations.values_list("phase", flat=True)) == {BEFORE, REJECT}
    assert not done.violations.filter(phase=ACCEPT).exists()
    for name in ("_ga", SERVER_SET, SESSION_KEY, "tr.snapchat.com", LEAK):
        assert set(done.violations.filter(tracker__name=name).values_list("phase", flat=True)) == {BEFORE, REJECT}, name

    # The platform's own cookie is essential: never a violation.
    own = Tracker.objects.get(kind="cookie", name="cmp_demo")
    assert own.classified_by == "platform" and not own.violations.exists()

    # The findings went out as a signed webhook.
    (headers, raw, body), = receiver.received
    assert verify(WebhookEndpoint.objects.get().secret, headers["X-CMP-Timestamp"], raw, headers["X-CMP-Signature"])
    assert body["type"] == "scanner.violations_found" and body["scan"] == done.pk
    assert body["violation_count"] == done.violation_count
    assert {"page": proof.url, "phase": "before", "kind": "cookie", "name": LEAK, "domain": SHOP, "purpose": "analytics",
            "set_by": f"inline script in {proof.url}"} in body["violations"]



def test_once_the_banner_holds_what_the_scan_found_only_the_leak_stores_anything_before_a_choice(proof):
    first = scan()
    stored_first = set(first.violations.exclude(tracker__kind="request").values_list("tracker__name", flat=True))
    assert {"_ga", "_gid", "_ttp", "ZD-suid", LEAK} <= stored_first  # nothing held them yet
    Scan.objects.all().delete()
    # The banner now holds the hosts the first scan found (window.cmpBoot.block).
    second = scan()
    stored = set(second.violations.exclude(tracker__kind="request").values_list("tracker__name", flat=True))
    assert stored == {LEAK}
    # What still leaves before a choice is only what no script can stop: the preload
    # scanner's fetch of the scripts in the markup (and the ad frame's first request).
    hit_hosts = set(second.violations.filter(tracker__kind="request").values_list("tracker__name", flat=True))
    assert hit_hosts <= set(TRACKERS) | set(MORE_TRACKERS)
    # Accept all let everything run: recorded by this scan, and none of it a violation.
    for name in ("_ga", SERVER_SET, SESSION_KEY, "tr.snapchat.com"):
        tracker = Tracker.objects.get(name=name)
        assert tracker.last_seen == second.finished_at and not tracker.violations.filter(scan=second).exists(), name
    assert set(second.violations.values_list("phase", flat=True)) <= {BEFORE, REJECT}


def test_a_scan_of_the_held_page_classifies_the_five_and_reports_the_leak_alone(held_proof):
    done = scan()
    assert done.status == Scan.DONE, (done.error, done.notes)
    # Released by Accept all, every tracker was seen and classified from the catalogue...
    for host, (category, vendor) in {**TRACKERS, **MORE_TRACKERS}.items():
        tracker = Tracker.objects.get(kind="request", name=host)
        assert (tracker.category, tracker.vendor, tracker.classified_by) == (category, vendor, "catalogue"), host
        assert tracker.last_seen == done.finished_at
    assert {"_ga", "_gid", "_ttp", SERVER_SET, SESSION_KEY} <= set(Tracker.objects.values_list("name", flat=True))
    # ...and the only violation, before a choice and after Reject all, is the sixth: the leaky inline script.
    found = set(done.violations.values_list("tracker__name", "phase", "set_by"))
    assert found == {(LEAK, phase, f"inline script in {held_proof.url}") for phase in (BEFORE, REJECT)}
