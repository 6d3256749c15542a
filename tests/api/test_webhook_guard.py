"""Webhooks reach only the public internet, over https, and nothing else.

An admin (or whoever takes over an admin session) could otherwise point an
endpoint at the platform's own network: loopback, private ranges, link-local
and the cloud metadata address, and read which internal ports answer from the
delivery errors. The rule (``delivery/addresses.py``): https only; the name is
resolved once, every address it gives must be public, and the POST connects to
that very address (a name that answers differently the second time changes
nothing); redirects are never followed; errors say what kind of failure, never
an address or a system message. Checked when an endpoint is saved and again
at each send. ``CMP_WEBHOOKS_ALLOW_LOCAL=1`` (development only, and this test
suite) also allows plain http and loopback receivers, never the rest.
"""
import socket
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection, connections, transaction
from django.test import Client, override_settings
from django.utils import timezone

from delivery import addresses, webhooks
from delivery.models import OutboxMessage, WebhookEndpoint
from tests.support import consent_body, write_url
from tests.support.receiver import Receiver

pytestmark = pytest.mark.django_db(transaction=True)
GUARDED = override_settings(CMP_WEBHOOKS_ALLOW_LOCAL=False)

# (url, words of the admin's error)
REFUSED_AT_SAVE = [
    ("http://hooks.example.com/cmp", "https"),
    ("https://127.0.0.1/hook", "not public"),
    ("https://127.1/hook", "valid URL"),  # Django's URL validator refuses it first
    ("https://localhost:8443/hook", "not public"),
    ("https://[::1]/hook", "not public"),
    ("https://[::ffff:127.0.0.1]/hook", "not public"),
    ("https://10.0.0.5/hook", "not public"),
    ("https://192.168.1.1/hook", "not public"),
    ("https://172.16.0.1/hook", "not public"),
    ("https://100.64.0.1/hook", "not public"),
    ("https://169.254.169.254/latest/meta-data/", "not public"),
    ("https://[fd00:ec2::254]/hook", "not public"),
    ("https://[fe80::1]/hook", "not public"),
    ("https://0.0.0.0/hook", "not public"),
    ("https://user:pw@hooks.example.com/hook", "user"),
    ("https://hooks.invalid/hook", "resolve"),
]


@pytest.fixture
def admin_client(demo_site):
    User.objects.create_superuser("dpo", "dpo@example.com", "pw")
    client = Client()
    client.force_login(User.objects.get(username="dpo"))
    return client


def add_endpoint(admin_client, demo_site, url):
    return admin_client.post("/admin/delivery/webhookendpoint/add/", {
        "site": demo_site.pk, "url": url, "event_type": "consent.decisions_changed", "secret": "s" * 64,
        "active": "on", "messages-TOTAL_FORMS": "0", "messages-INITIAL_FORMS": "0",
    })


@GUARDED
@pytest.mark.parametrize("url, words", REFUSED_AT_SAVE, ids=[u for u, _ in REFUSED_AT_SAVE])
def test_the_admin_refuses_internal_and_plain_http_urls(admin_client, demo_site, url, words):
    response = add_endpoint(admin_client, demo_site, url)
    assert response.status_code == 200, "saved: " + response.get("Location", "")
    assert words in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


@GUARDED
@pytest.mark.parametrize("typed", ["https://hooks.example.com/cmp", "hooks.example.com/cmp"])
def test_the_admin_saves_a_public_https_url(admin_client, demo_site, monkeypatch, typed):
    """Typed without its scheme, the address is taken as https (the only scheme allowed), not refused as http."""
    monkeypatch.setattr(addresses, "_getaddrinfo", lambda host, port: ["93.184.215.14"])
    response = add_endpoint(admin_client, demo_site, typed)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert WebhookEndpoint.objects.get().url == "https://hooks.example.com/cmp"


def test_the_development_setting_allows_plain_http_and_loopback_only(admin_client, demo_site):
    with override_settings(CMP_WEBHOOKS_ALLOW_LOCAL=True):
        assert add_endpoint(admin_client, demo_site, "http://127.0.0.1:9/hook").status_code == 302
        for url in ("https://10.0.0.5/hook", "http://169.254.169.254/latest/", "http://192.168.1.1/"):
            assert "not public" in add_endpoint(admin_client, demo_site, url).content.decode(), url
    assert WebhookEndpoint.objects.count() == 1


def write_and_deliver(api, receiver_url, visitor_id):
    """A write whose webhook goes to ``receiver_url`` (saved before the guard applies, as an old row would be)."""
    from consent.models import Site

    WebhookEndpoint.objects.create(site=Site.objects.get(key="demo"), url=receiver_url)
    assert api.post(write_url(), consent_body(visitor_id), format="json").status_code == 201
    return OutboxMessage.objects.get()


@GUARDED
@pytest.mark.parametrize("scheme, error", [("http", "refused: webhooks must use https"),
                                           ("https", "refused: the address is not public")])
def test_a_loopback_receiver_gets_nothing_at_send(api, demo_site, receiver, visitor_id, scheme, error):
    message = write_and_deliver(api, receiver.url.replace("http:", f"{scheme}:"), visitor_id)
    assert receiver.requests == []
    assert message.status == "pending" and message.last_status_code is None
    assert message.last_error == error


@GUARDED
def test_a_name_that_now_resolves_inside_is_refused_at_send(api, demo_site, receiver, visitor_id, monkeypatch):
    """Saved while public; the name now answers 127.0.0.1 (DNS rebinding): refused, nothing sent."""
    monkeypatch.setattr(addresses, "_getaddrinfo", lambda host, port: ["127.0.0.1"])
    message = write_and_deliver(api, f"https://hooks.example.com:{receiver.port}/hook", visitor_id)
    assert receiver.requests == [] and message.last_error == "refused: the address is not public"


def test_the_post_connects_to_the_address_it_checked(api, demo_site, receiver, visitor_id, monkeypatch):
    """The name is resolved once; a second answer (10.0.0.1) is never asked for, let alone used."""
    answers = iter([["127.0.0.1"], ["10.0.0.1"]])
    asked = []

    def resolve(host, port):
        asked.append(host)
        return next(answers)

    monkeypatch.setattr(addresses, "_getaddrinfo", resolve)
    real = socket.getaddrinfo

    def only_addresses(host, *args, **kwargs):
        assert host != "hooks.test", "the name was resolved a second time"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", only_addresses)
    message = write_and_deliver(api, f"http://hooks.test:{receiver.port}/hook", visitor_id)
    assert message.status == "delivered" and asked == ["hooks.test"]
    assert receiver.received[0][0]["Host"] == f"hooks.test:{receiver.port}"


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirects_are_not_followed(api, demo_site, visitor_id, status):
    inside = Receiver().start()
    try:
        redirecting = Receiver(status=status, headers={"Location": inside.url}).start()
        message = write_and_deliver(api, redirecting.url, visitor_id)
        assert len(redirecting.received) == 1 and inside.requests == []
        assert (message.status, message.last_status_code, message.last_error) == ("pending", status, f"HTTP {status}")
        redirecting.stop()
    finally:
        inside.stop()


def test_errors_carry_no_internal_detail(api, demo_site, receiver, visitor_id):
    receiver.stop()  # a closed port: the system's message would name it
    message = write_and_deliver(api, receiver.url, visitor_id)
    assert message.last_error == "could not connect"
    assert str(receiver.port) not in message.last_error and "refused" not in message.last_error


def test_the_post_runs_after_the_claim_commits_and_holds_no_lock(api, demo_site, visitor_id):
    """While the receiver holds the POST, another connection sees the claim and can lock the row at once."""
    seen = []

    def look(body):
        try:
            with transaction.atomic():
                row = OutboxMessage.objects.select_for_update(nowait=connection.vendor == "postgresql").get()
                seen.append((row.attempts, row.next_attempt_at > timezone.now(), row.status))
        finally:
            connections.close_all()  # this thread's own connection

    receiver = Receiver(on_post=look).start()
    try:
        message = write_and_deliver(api, receiver.url, visitor_id)
    finally:
        receiver.stop()
    assert seen == [(1, True, "pending")]  # claimed and committed before the POST; not locked during it
    assert message.status == "delivered" and message.attempts == 1


def test_a_claimed_message_is_left_alone_until_its_claim_runs_out(api, demo_site, receiver, visitor_id):
    receiver.stop()
    message = write_and_deliver(api, receiver.url, visitor_id)
    receiver = Receiver(port=receiver.port).start()
    try:
        OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now() + webhooks.CLAIM)
        assert webhooks.deliver(message.pk) == "pending" and receiver.requests == []  # another worker holds it
        later = timezone.now() + webhooks.CLAIM + timedelta(seconds=1)
        assert webhooks.deliver(message.pk, now=later) == "delivered"
    finally:
        receiver.stop()

