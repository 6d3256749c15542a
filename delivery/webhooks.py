"""Telling a site's back end when a visitor's decisions change: the signed POST and its retries.

Delivery uses a transactional outbox: the write that changes a visitor's
decisions also inserts one :class:`~delivery.models.OutboxMessage` per active
endpoint, in the same transaction (``delivery/outbox.py``). Celery then
delivers each message (:func:`deliver`): a signed JSON POST, retried with
exponential backoff for up to 24 hours. A crash or a broker outage loses
nothing, because the messages are rows in the database and a periodic sweep
re-enqueues any that are due; a retry never changes consent again, because
delivery only reads the message.

Only public https receivers are reached (``delivery/addresses.py``): the
name is resolved once, every address must be public, the connection goes to
the address checked, a redirect is never followed (it counts as a failed
attempt), and an error is stored as its kind alone ("could not connect",
"timed out", "HTTP 500"), never a system message naming an address or port.
No row is locked while posting: :func:`deliver` claims the message and
commits, posts, then records the result in a second transaction.

Receivers check the signature and drop duplicates by ``id``::

    X-CMP-Event-Id: 6f1c…            (the message id, stable across retries)
    X-CMP-Timestamp: 1764031200      (Unix seconds of this attempt)
    X-CMP-Signature: v1=<hex HMAC-SHA256(secret, f"{timestamp}.{raw body}")>
"""
from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import socket
import ssl
import time
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from . import addresses
from .models import OutboxMessage

USER_AGENT = "cmp-webhooks/1"
TIMEOUT_SECONDS = 10
FIRST_RETRY = timedelta(seconds=30)
LONGEST_WAIT = timedelta(hours=1)
GIVE_UP_AFTER = timedelta(hours=24)
CLAIM = timedelta(seconds=3 * TIMEOUT_SECONDS)  # a claimed message is left alone this long by others
KEPT = timedelta(days=30)  # delivered and failed messages, then pruned (delivery/tasks.py)
logger = logging.getLogger(__name__)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"v1={digest}"


def verify(secret: str, timestamp: str, body: bytes, signature: str, *, tolerance=300, now=None) -> bool:
    """What a receiver does: a fresh timestamp and a matching signature."""
    try:
        age = abs((now or time.time()) - int(timestamp))
    except (TypeError, ValueError):
        return False
    return age <= tolerance and hmac.compare_digest(sign(secret, int(timestamp), body), signature)


def next_attempt_after(attempts: int, first_created, now) -> object | None:
    """When to try again after ``attempts`` failures, or None to give up.

    30 s, 1 min, 2 min, … doubling up to one hour between attempts, for 24
    hours after the change.
    """
    doublings = min(max(attempts - 1, 0), 16)  # past an hour already; keeps the number small
    wait = min(FIRST_RETRY * (2**doublings), LONGEST_WAIT)
    when = now + wait
    return when if when <= first_created + GIVE_UP_AFTER else None


def payload(message_id, event_type: str, site_key: str, at, fields: dict) -> dict:
    """Every message's body: its id, type, time and site, then the event's own fields."""
    return {"id": str(message_id), "type": event_type, "created": at.isoformat(), "site": site_key, **fields}


def decisions_fields(visitor_uuid, before: dict, after: dict, consent_mode: dict, policy_version, gpp=None) -> dict:
    """The fields of a ``consent.decisions_changed`` message; ``gpp`` is the GPP string of ``after``."""
    return {
        "visitor_id": str(visitor_uuid),
        "policy_version": policy_version,
        "decisions": after,
        "previous_decisions": before,
        "consent_mode": consent_mode,
        "gpp": gpp,
    }


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Plain http (development only) to the checked address; the Host header keeps the name."""

    def __init__(self, target: addresses.Target, timeout):
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """TLS to the checked address, verifying the certificate for the name."""

    def __init__(self, target: addresses.Target, timeout):
        super().__init__(target.host, target.port, timeout=timeout, context=ssl.create_default_context())
        self._address = target.address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(url: str, secret: str, message_id, body: dict) -> tuple[int | None, str]:
    """One delivery attempt; returns (HTTP status or None, error text safe to store and show)."""
    try:
        target = addresses.resolve(url)
    except addresses.Refused as refused:
        return None, str(refused)
    raw = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
    timestamp = int(time.time())
    kind = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = kind(target, TIMEOUT_SECONDS)
    try:
        connection.request("POST", target.path, body=raw, headers={
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-CMP-Event-Id": str(message_id),
            "X-CMP-Timestamp": str(timestamp),
            "X-CMP-Signature": sign(secret, timestamp, raw),
        })
        status = connection.getresponse().status  # never followed: a 3xx is a failed attempt
    except TimeoutError:
        return None, "timed out"
    except ssl.SSLError:
        return None, "TLS handshake failed"
    except (OSError, http.client.HTTPException):
        return None, "could not connect"
    finally:
        connection.close()
    return status, "" if 200 <= status < 300 else f"HTTP {status}"


def deliver(message_id, now=None) -> str:
    """Try to deliver one message if it is due; returns its status afterwards.

    Safe to run twice or concurrently: a message is claimed in a short
    transaction (its next attempt moved :data:`CLAIM` ahead, so others leave it
    alone), the POST runs after that commit with no lock held, and the result
    is recorded in a second transaction. A worker that dies mid-POST leaves
    the claim to run out; the sweep then hands the message over again.
    """
    now = now or timezone.now()
    with transaction.atomic():
        # Lock the message only (of=self): locking its endpoint too would make
        # concurrent deliveries to one endpoint skip each other.
        message = (
            OutboxMessage.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("endpoint").filter(pk=message_id).first()
        )
        if message is None:
            return "busy_or_gone"
        if message.status != OutboxMessage.PENDING or message.next_attempt_at > now:
            return message.status
        message.attempts += 1
        message.next_attempt_at = now + CLAIM
        message.save(update_fields=["attempts", "next_attempt_at"])
    status, error = post(message.endpoint.url, message.endpoint.secret, message.id, message.payload)
    with transaction.atomic():
        message = OutboxMessage.objects.select_for_update(of=("self",)).filter(pk=message_id).first()
        if message is None:
            return "busy_or_gone"
        message.last_status_code, message.last_error = status, error
        if status is not None and 200 <= status < 300:
            message.status, message.delivered_at = OutboxMessage.DELIVERED, now
        else:
            retry_at = next_attempt_after(message.attempts, message.created_at, now)
            if retry_at is None:
                message.status = OutboxMessage.FAILED
            else:
                message.next_attempt_at = retry_at
        message.save()
        return message.status


def due_message_ids(now=None, limit=500) -> list[str]:
    now = now or timezone.now()
    due = OutboxMessage.objects.filter(status=OutboxMessage.PENDING, next_attempt_at__lte=now)
    return [str(i) for i in due.order_by("next_attempt_at").values_list("id", flat=True)[:limit]]


def prune(now=None) -> int:
    """Delete delivered and failed messages older than ``KEPT``; returns how many."""
    now = now or timezone.now()
    done = OutboxMessage.objects.filter(status__in=[OutboxMessage.DELIVERED, OutboxMessage.FAILED],
                                        created_at__lt=now - KEPT)
    return done.delete()[0]
