"""The one way consent events leave the log: retention and erasure.

Everything else refuses to change or delete an event (the model, its
queryset, and on PostgreSQL a trigger: consent migration 0006). This path
deletes whole visitors with all their events, so the log never holds half a
history: it first writes a signed tombstone (:class:`~audit.models.AuditPurge`)
with each purged event's id, visitor row id and hash (no personal data), then
deletes inside :func:`guard_lifted`, which sets the transaction-local
PostgreSQL setting ``cmp.audit_purge`` that the trigger checks. Site logs
(``audit/log.py``) keep each logged event's hash anyway, and take a purged
event not logged yet from its tombstone; chains and the checkpoints of before
the logs verify with the tombstoned leaves standing in for the deleted rows.
"""
from __future__ import annotations

from contextlib import contextmanager

from django.db import connection, models, transaction

from consent.chain import iso_utc
from consent.lookups import forget_people, forget_visitors
from consent.models import ConsentEvent, Person, Visitor
from consent.people import browsers_of

from .models import AuditPurge
from .signing import TOMBSTONE, sign

PURGE_SETTING = "cmp.audit_purge"


@contextmanager
def guard_lifted():
    """Let the current transaction UPDATE or DELETE consent events.

    On PostgreSQL this sets ``cmp.audit_purge = on`` for the transaction only
    (``set_config(..., true)``), which the append-only trigger checks, and
    sets it back afterwards. Only :func:`purge_visitors` uses it in the
    product; tests use it to play the attacker.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("guard_lifted() must run inside transaction.atomic().")
    _set_purge(True)
    try:
        yield
    except BaseException:
        raise  # the transaction is rolled back, and its setting with it
    else:
        _set_purge(False)


def _set_purge(on: bool) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config(%s, %s, true)", [PURGE_SETTING, "on" if on else "off"])


@transaction.atomic
def purge_visitors(visitors, reason: str):
    """Delete ``visitors`` with all their events, leaving one signed tombstone per site.

    Returns ``(events deleted, tombstones)``. Whole chains only, so no
    remaining chain is ever cut. The people they were linked to lose them
    (and their cached shared choices are retired); a person left with no
    browser is deleted, so no hash of a subject outlives its last browser.
    """
    ids = [v.pk for v in visitors]
    people = {v.person_id for v in visitors} - {None}
    forget_people(*people)
    events = ConsentEvent.objects.filter(visitor_id__in=ids).order_by("id")
    by_site: dict[str, list] = {}
    for event_id, visitor_id, hash_hex, site_key in events.values_list("id", "visitor_id", "event_hash", "site__key").iterator(chunk_size=5000):
        by_site.setdefault(site_key, []).append([event_id, visitor_id, hash_hex])
    tombstones = [
        save_tombstone(reason=reason[:200], sites=[site_key], visitor_count=len({leaf[1] for leaf in leaves}),
                       event_count=len(leaves), first_event_id=leaves[0][0], last_event_id=leaves[-1][0], leaves=leaves)
        for site_key, leaves in sorted(by_site.items())
    ]
    with guard_lifted():
        # A plain QuerySet: the model's own (AppendOnlyQuerySet) refuses to delete.
        deleted, _ = models.QuerySet(ConsentEvent).filter(visitor_id__in=ids).delete()
    Visitor.objects.filter(pk__in=ids).delete()
    Person.objects.filter(pk__in=people, browsers__isnull=True).delete()
    return deleted, tombstones


def save_tombstone(**fields) -> AuditPurge:
    """A tombstone of ``fields`` (those of :class:`~audit.models.AuditPurge`), signed and saved."""
    tombstone = AuditPurge(**fields)
    tombstone.key_id, tombstone.signature = sign(tombstone_payload(tombstone), TOMBSTONE)
    tombstone.save()
    return tombstone


def tombstone_payload(t) -> dict:
    """What a tombstone's signature covers (a dropped month's also its partition and id range)."""
    payload = {
        "kind": "cmp-audit-purge", "created_at": iso_utc(t.created_at), "reason": t.reason, "sites": t.sites,
        "visitor_count": t.visitor_count, "event_count": t.event_count, "leaves": t.leaves,
    }
    if t.partition:
        payload.update(partition=t.partition, first_event_id=t.first_event_id, last_event_id=t.last_event_id)
    return payload


@transaction.atomic
def erase_visitor(site, visitor_uuid, reason: str) -> int:
    """Erase a browser's visitor record and all its events (the right to delete), and with it every browser
    linked to the same person, on any site of the group, and the person; returns the events erased."""
    visitor = Visitor.objects.select_for_update().filter(site=site, uuid=visitor_uuid).first()
    forget_visitors(site.key, visitor_uuid)
    if visitor is None:
        return 0
    browsers = browsers_of(visitor)
    list(Visitor.objects.select_for_update().filter(pk__in=[b.pk for b in browsers]).values_list("pk"))  # locked
    for browser in browsers:
        forget_visitors(browser.site.key, browser.uuid)
    deleted, _tombstones = purge_visitors(browsers, reason)
    return deleted
