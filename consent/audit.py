"""The tamper-evident audit log: hash chains, checkpoints, tombstones, verification.

Three layers, each checked by :func:`verify` (``manage.py verify_audit``):

1. **Event hash.** Each :class:`~consent.models.ConsentEvent` stores the
   SHA-256 of its canonical content (:func:`canonical_content`: a JSON object
   with sorted keys and no whitespace, holding every meaningful field, the
   visitor's UUID, the site key, ``created_at`` in ISO 8601 UTC and
   ``prev_hash``). Altering any field breaks it.
2. **Chain per visitor.** ``prev_hash`` is the hash of the same visitor's
   previous event (``""`` for the first). Writes already lock the visitor row
   (``writes._record``; a new visitor's row is inserted with its first
   event), so appends are serialised per visitor only, never on one global
   lock. Deleting or reordering events inside a chain breaks it.
3. **Checkpoints.** A periodic :func:`checkpoint` (Celery beat, and
   ``manage.py audit_checkpoint``) stores a Merkle root over ``(id, hash)`` of
   every event appended since the previous checkpoint, and the previous
   checkpoint's root, signed with the platform key. Deleting a whole
   visitor's chain, which leaves every remaining chain intact, changes a root.

Deleting is allowed on exactly one path, :func:`purge_visitors` (retention
and erasure call it through ``consent.purge``): it first writes a signed
tombstone (:class:`~consent.models.AuditPurge`) with each purged event's id,
visitor row id and hash (no personal data), then deletes inside
:func:`guard_lifted`, which sets the transaction-local PostgreSQL setting
``cmp.audit_purge`` that the trigger created by migration 0006 checks.
Checkpoints and chains verify with the tombstoned leaves standing in for the
deleted rows. See docs/audit.md.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone as dt_timezone

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from django.utils import timezone

HASH_VERSION = 1
GENESIS = ""
logger = logging.getLogger("consent.audit")
PURGE_SETTING = "cmp.audit_purge"
AUDITOR_GROUP = "auditor"
# Models the auditor group may view (and nothing else: no add, change, delete).
AUDITOR_MODELS = ("site", "purpose", "policyversion", "visitor", "consentevent", "auditcheckpoint", "auditpurge", "consentrollup")

# The fields of an event that its hash covers, besides site, visitor and time.
CONTENT_FIELDS = (
    "source", "choices", "signals", "decisions", "consent_mode", "regime", "policy_version",
    "banner_version", "language", "region", "ip_prefix", "user_agent",
)


# --- Canonical form and hashes ---------------------------------------------------

def canonical_json(value) -> bytes:
    """Stable JSON: sorted keys, no whitespace, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(dt_timezone.utc).isoformat(timespec="microseconds")


def canonical_content(*, site_key: str, visitor_uuid, created_at: datetime, prev_hash: str, **fields) -> dict:
    content = {name: fields[name] for name in CONTENT_FIELDS}
    content.update(
        v=HASH_VERSION, site=site_key, visitor=str(visitor_uuid), created_at=iso_utc(created_at), prev_hash=prev_hash
    )
    return content


def event_hash(content: dict) -> str:
    return hashlib.sha256(canonical_json(content)).hexdigest()


def merkle_leaf(event_id: int, hash_hex: str) -> bytes:
    return hashlib.sha256(b"\x00" + f"{event_id}:{hash_hex}".encode()).digest()


class MerkleBuilder:
    """RFC 6962-shaped Merkle tree hash, built from a stream in O(log n) memory."""

    def __init__(self):
        self._stack: list[tuple[int, bytes]] = []
        self.count = 0

    def add(self, event_id: int, hash_hex: str) -> None:
        size, node = 1, merkle_leaf(event_id, hash_hex)
        while self._stack and self._stack[-1][0] == size:
            _, left = self._stack.pop()
            node = hashlib.sha256(b"\x01" + left + node).digest()
            size *= 2
        self._stack.append((size, node))
        self.count += 1

    def root(self) -> str:
        if not self._stack:
            return hashlib.sha256(b"").hexdigest()
        node = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            node = hashlib.sha256(b"\x01" + left + node).digest()
        return node.hex()


# --- Signing keys (receipts, checkpoints, tombstones) ----------------------------

def signing_keys() -> list[tuple[str, bytes]]:
    """The key ring from ``CMP_RECEIPT_KEYS`` ("kid1:secret1,kid2:secret2"); the first signs.

    Without keys, DEBUG derives a development key ("dev") from SECRET_KEY;
    production refuses to sign.
    """
    ring = []
    for item in settings.CMP_RECEIPT_KEYS:
        kid, sep, secret = item.partition(":")
        if not sep or not kid.strip() or not secret.strip():
            raise ImproperlyConfigured("CMP_RECEIPT_KEYS must look like 'kid1:secret1,kid2:secret2'.")
        ring.append((kid.strip(), secret.strip().encode()))
    if not ring:
        if not settings.CMP_RECEIPT_DEV_KEY:  # DEBUG as the settings were loaded
            raise ImproperlyConfigured("Set CMP_RECEIPT_KEYS (e.g. 'k2026:<32+ random bytes>') to sign receipts and checkpoints.")
        ring.append(("dev", hmac.new(settings.SECRET_KEY.encode(), b"cmp-receipt-dev-key", hashlib.sha256).digest()))
    return ring


def sign(payload: dict) -> tuple[str, str]:
    """HMAC-SHA256 of the canonical payload with the active key: (key id, base64url signature)."""
    kid, secret = signing_keys()[0]
    return kid, _mac(secret, payload)


def signature_valid(payload: dict, kid: str, signature: str) -> bool:
    keys = dict(signing_keys())
    if kid not in keys:
        return False
    return hmac.compare_digest(_mac(keys[kid], payload), signature or "")


def _mac(secret: bytes, payload: dict) -> str:
    digest = hmac.new(secret, canonical_json(payload), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


# --- Appending -------------------------------------------------------------------

_LAST_HASH_SQL = "SELECT event_hash FROM consent_consentevent WHERE visitor_id = %s ORDER BY id DESC LIMIT 1"


def _last_hash(visitor) -> str | None:
    # One index lookup on (visitor_id, id); plain SQL, as this runs on every write
    # (the ORM query costs three times as much here: see bench/audit/RESULTS.md).
    with connection.cursor() as cursor:
        cursor.execute(_LAST_HASH_SQL, [visitor.pk])
        row = cursor.fetchone()
    return row[0] if row else None

def append_event(*, site_id: int, site_key: str, visitor, created_at: datetime, **fields):
    """Append one event to ``visitor``'s chain and return it.

    The caller holds the visitor's row lock (``select_for_update``) in the
    current transaction, which serialises the chain. A visitor not saved yet
    starts its chain: its row is inserted together with this first event
    (one statement on PostgreSQL), unless a row for it exists by then (a
    racing first write committed it); then nothing is inserted and the
    answer is None, and the caller goes on with the existing row.
    """
    from .models import ConsentEvent, insert_row

    new_visitor = visitor.pk is None
    prev_hash = GENESIS if new_visitor else _last_hash(visitor) or GENESIS
    content = canonical_content(
        site_key=site_key, visitor_uuid=visitor.uuid, created_at=created_at, prev_hash=prev_hash, **fields
    )
    event = ConsentEvent(
        site_id=site_id, visitor=visitor, created_at=created_at, prev_hash=prev_hash, event_hash=event_hash(content),
        **{name: fields[name] for name in CONTENT_FIELDS},
    )
    if new_visitor:
        return event if insert_row(visitor, ignore_conflicts=True, child=event) else None
    insert_row(event)
    return event


# --- The one purge path ----------------------------------------------------------

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
    """Delete ``visitors`` with all their events, leaving a signed tombstone.

    Returns ``(events deleted, tombstone or None)``. Whole chains only, so no
    remaining chain is ever cut.
    """
    from .models import AuditPurge, ConsentEvent, Visitor

    visitors = list(visitors)
    ids = [v.pk for v in visitors]
    events = ConsentEvent.objects.filter(visitor_id__in=ids)
    leaves = [[i, v, h] for i, v, h in events.order_by("id").values_list("id", "visitor_id", "event_hash").iterator(chunk_size=5000)]
    tombstone = None
    if leaves:
        sites = sorted({key for key in Visitor.objects.filter(pk__in=ids).values_list("site__key", flat=True)})
        tombstone = AuditPurge(
            reason=reason[:200], sites=sites, visitor_count=len(ids), event_count=len(leaves),
            first_event_id=leaves[0][0], last_event_id=leaves[-1][0], leaves=leaves,
        )
        tombstone.key_id, tombstone.signature = sign(_tombstone_payload(tombstone))
        tombstone.save()
    with guard_lifted():
        deleted = events._raw_delete(using=ConsentEvent.objects.db)
    Visitor.objects.filter(pk__in=ids).delete()
    return deleted, tombstone


def _tombstone_payload(t) -> dict:
    return {
        "kind": "cmp-audit-purge", "created_at": iso_utc(t.created_at), "reason": t.reason, "sites": t.sites,
        "visitor_count": t.visitor_count, "event_count": t.event_count, "leaves": t.leaves,
    }


# --- Checkpoints -----------------------------------------------------------------

def checkpoint(now=None, lag_seconds=None):
    """Record a checkpoint over the events appended since the last one; None if none were.

    Only events at least ``lag_seconds`` old (``CMP_AUDIT_CHECKPOINT_LAG_SECONDS``)
    set the upper bound, so a write still in flight (its id taken, not yet
    committed) is not skipped by the root. Safe to run twice at once: the
    unique ``after_event_id`` lets one win.
    """
    from .models import AuditCheckpoint, ConsentEvent

    now = now or timezone.now()
    lag = settings.CMP_AUDIT_CHECKPOINT_LAG_SECONDS if lag_seconds is None else lag_seconds
    try:
        with transaction.atomic():
            last = AuditCheckpoint.objects.select_for_update().order_by("-last_event_id").first()
            low = last.last_event_id if last else 0
            high = ConsentEvent.objects.filter(id__gt=low, created_at__lte=now - timedelta(seconds=lag)).aggregate(m=Max("id"))["m"]
            if high is None:
                return None
            builder, first = MerkleBuilder(), None
            for event_id, hash_hex in leaves_in_range(low, high):
                first = event_id if first is None else first
                builder.add(event_id, hash_hex)
            cp = AuditCheckpoint(
                created_at=now, after_event_id=low, first_event_id=first, last_event_id=high,
                event_count=builder.count, merkle_root=builder.root(), prev_root=last.merkle_root if last else "",
            )
            cp.key_id, cp.signature = sign(checkpoint_payload(cp))
            cp.save()
        # Ship this line off the machine (log collector) to anchor the root outside the database.
        logger.info("audit checkpoint %s events %s-%s root %s", cp.pk, low + 1, high, cp.merkle_root)
        return cp
    except IntegrityError:
        return None  # another checkpoint covering the same range won


def checkpoint_payload(cp) -> dict:
    return {
        "kind": "cmp-audit-checkpoint", "created_at": iso_utc(cp.created_at), "after_event_id": cp.after_event_id,
        "first_event_id": cp.first_event_id, "last_event_id": cp.last_event_id, "event_count": cp.event_count,
        "merkle_root": cp.merkle_root, "prev_root": cp.prev_root,
    }


def leaves_in_range(low: int, high: int):
    """(id, hash) of every event with ``low < id <= high``, live or tombstoned, in id order."""
    from .models import AuditPurge, ConsentEvent

    purged = []
    for leaves in AuditPurge.objects.filter(first_event_id__lte=high, last_event_id__gt=low).values_list("leaves", flat=True):
        purged.extend((leaf[0], leaf[2]) for leaf in leaves if low < leaf[0] <= high)
    purged.sort()
    live = ConsentEvent.objects.filter(id__gt=low, id__lte=high).order_by("id").values_list("id", "event_hash")
    return _merge(live.iterator(chunk_size=5000), iter(purged))


def _merge(a, b):
    """Merge two id-sorted streams of (id, hash)."""
    x, y = next(a, None), next(b, None)
    while x is not None or y is not None:
        if y is None or (x is not None and x[0] <= y[0]):
            yield x
            x = next(a, None)
        else:
            yield y
            y = next(b, None)


# --- Verification ----------------------------------------------------------------

@dataclass
class Problem:
    kind: str  # content, chain, checkpoint, tombstone
    message: str
    event_id: int | None = None

    def __str__(self):
        return self.message


@dataclass
class Report:
    events: int = 0
    visitors: int = 0
    checkpoints: int = 0
    tombstones: int = 0
    unchecked_tail: int = 0  # events after the last checkpoint
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, kind, message, event_id=None, limit=1000):
        if len(self.problems) < limit:
            self.problems.append(Problem(kind, message, event_id))


def verify(site=None, since=None, chains=True, checkpoints=True) -> Report:
    """Recompute every event hash, every visitor chain, every tombstone and checkpoint.

    ``site`` (a key) limits the event and chain checks to one site (checkpoints
    cover all sites, so they are checked whole). ``since`` (a datetime) starts
    at the first event created at or after it, trusting the stored hash of
    each chain's preceding event, and checks only checkpoints reaching it.
    """
    from .models import AuditCheckpoint, ConsentEvent, Site

    report = Report()
    start_id = 0
    if since is not None:
        first = ConsentEvent.objects.filter(created_at__gte=since).order_by("id").values_list("id", flat=True).first()
        start_id = (first - 1) if first is not None else (ConsentEvent.objects.aggregate(m=Max("id"))["m"] or 0)
    purged_heads = _verify_tombstones(report, start_id)
    if chains:
        site_keys = dict(Site.objects.values_list("id", "key"))
        events = ConsentEvent.objects.filter(id__gt=start_id)
        if site is not None:
            events = events.filter(site__key=site)
        _verify_chains(report, events, site_keys, purged_heads, trusted_start=start_id > 0)
    if checkpoints:
        _verify_checkpoints(report, AuditCheckpoint.objects.filter(last_event_id__gt=start_id).order_by("last_event_id"), start_id)
        last = AuditCheckpoint.objects.aggregate(m=Max("last_event_id"))["m"] or 0
        report.unchecked_tail = ConsentEvent.objects.filter(id__gt=max(last, start_id)).count()
    report.problems.sort(key=lambda p: (p.event_id is None, p.event_id or 0))
    return report


def _verify_tombstones(report, start_id) -> dict:
    """Check each tombstone's signature; return {visitor row id: set of purged hashes}."""
    from .models import AuditPurge

    heads: dict[int, set] = {}
    for t in AuditPurge.objects.order_by("id").iterator(chunk_size=100):
        report.tombstones += 1
        if not signature_valid(_tombstone_payload(t), t.key_id, t.signature):
            report.add("tombstone", f"tombstone {t.pk} ({t.reason}): signature does not match its content", t.first_event_id)
        for event_id, visitor_id, hash_hex in t.leaves:
            heads.setdefault(visitor_id, set()).add(hash_hex)
    return heads


def _verify_chains(report, events, site_keys, purged_heads, trusted_start):
    from .models import ConsentEvent

    rows = events.order_by("visitor_id", "id").values_list(
        "id", "visitor_id", "visitor__uuid", "site_id", "created_at", "prev_hash", "event_hash", *CONTENT_FIELDS
    )
    current_visitor, previous_hash = None, None
    for row in rows.iterator(chunk_size=5000):
        event_id, visitor_id, visitor_uuid, site_id, created_at, prev_hash, stored = row[:7]
        fields = dict(zip(CONTENT_FIELDS, row[7:]))
        report.events += 1
        if visitor_id != current_visitor:
            report.visitors += 1
            current_visitor = visitor_id
            if trusted_start:
                previous_hash = (
                    ConsentEvent.objects.filter(visitor_id=visitor_id, id__lt=event_id)
                    .order_by("-id").values_list("event_hash", flat=True).first()
                )
            else:
                previous_hash = None
            if previous_hash is None:
                # The first event of a chain links to nothing, or to a purged segment's head.
                previous_hash = prev_hash if (prev_hash == GENESIS or prev_hash in purged_heads.get(visitor_id, ())) else GENESIS
        content = canonical_content(
            site_key=site_keys.get(site_id, f"?{site_id}"), visitor_uuid=visitor_uuid, created_at=created_at,
            prev_hash=prev_hash, **fields,
        )
        if event_hash(content) != stored:
            report.add("content", f"event {event_id} (visitor {visitor_uuid}): stored hash does not match its content (altered)", event_id)
        if prev_hash != previous_hash:
            report.add(
                "chain",
                f"event {event_id} (visitor {visitor_uuid}): prev_hash {prev_hash[:12] or '(none)'}… does not link to the "
                f"visitor's previous event ({(previous_hash or '(none)')[:12]}…): an event was deleted, inserted or reordered",
                event_id,
            )
        previous_hash = stored


def _verify_checkpoints(report, checkpoints, start_id):
    from .models import AuditCheckpoint

    previous = None
    for cp in checkpoints.iterator(chunk_size=100):
        report.checkpoints += 1
        if previous is None and cp.after_event_id > 0:
            previous = AuditCheckpoint.objects.filter(last_event_id=cp.after_event_id).first()
            if previous is None:
                report.add("checkpoint", f"checkpoint {cp.pk}: the checkpoint ending at event {cp.after_event_id} is missing", cp.after_event_id + 1)
        elif previous is not None and cp.after_event_id != previous.last_event_id:
            report.add("checkpoint", f"checkpoint {cp.pk}: starts after event {cp.after_event_id}, but the previous one ends at {previous.last_event_id}", cp.after_event_id + 1)
        expected_prev = previous.merkle_root if previous is not None else ""
        if cp.prev_root != expected_prev and not (previous is None and cp.after_event_id > 0):
            report.add("checkpoint", f"checkpoint {cp.pk}: prev_root does not match the previous checkpoint's root", cp.after_event_id + 1)
        if not signature_valid(checkpoint_payload(cp), cp.key_id, cp.signature):
            report.add("checkpoint", f"checkpoint {cp.pk}: signature does not match its content (key {cp.key_id!r})", cp.after_event_id + 1)
        builder = MerkleBuilder()
        for event_id, hash_hex in leaves_in_range(cp.after_event_id, cp.last_event_id):
            builder.add(event_id, hash_hex)
        if builder.count != cp.event_count or builder.root() != cp.merkle_root:
            report.add(
                "checkpoint",
                f"checkpoint {cp.pk} (events {cp.after_event_id + 1}–{cp.last_event_id}): Merkle root differs "
                f"({builder.count} events now, {cp.event_count} when checkpointed): events in this range were deleted, "
                f"altered or reordered",
                cp.after_event_id + 1,
            )
        previous = cp


def chain_status(visitor) -> dict:
    """The chain of one visitor, checked: {"ok", "events", "problems"} (for the admin)."""
    from .models import ConsentEvent, Site

    purged = {}
    report = Report()
    site_keys = dict(Site.objects.filter(pk=visitor.site_id).values_list("id", "key"))
    _verify_chains(report, ConsentEvent.objects.filter(visitor_id=visitor.pk), site_keys, purged, trusted_start=False)
    return {"ok": report.ok, "events": report.events, "problems": [str(p) for p in report.problems]}


# --- Auditor group ---------------------------------------------------------------

def ensure_auditor_group(apps=None):
    """Create (or refresh) the ``auditor`` group: view permissions on the log, nothing else."""
    if apps is None:
        from django.apps import apps
    from django.contrib.auth.management import create_permissions

    app_config = apps.get_app_config("consent")
    if getattr(app_config, "models_module", None) is None:
        app_config.models_module = True  # a migration state stub: create_permissions skips apps without one
    create_permissions(app_config, apps=apps, verbosity=0)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=AUDITOR_GROUP)
    perms = Permission.objects.filter(
        content_type__app_label="consent", codename__in=[f"view_{m}" for m in AUDITOR_MODELS]
    )
    group.permissions.set(perms)
    return group
