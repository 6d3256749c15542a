"""Checking the log end to end (``manage.py verify_audit``).

:func:`verify` recomputes every event hash, every visitor chain
(:mod:`consent.chain`), every tombstone's signature (:mod:`audit.purge`) and
every checkpoint (:mod:`audit.checkpoints`), and reports each break with the
first event it concerns.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Max

from consent.chain import CONTENT_FIELDS, GENESIS, canonical_content, event_hash
from consent.models import ConsentEvent, Site

from .checkpoints import MerkleBuilder, checkpoint_payload, leaves_in_range
from .models import AuditCheckpoint, AuditPurge
from .purge import tombstone_payload
from .signing import signature_valid


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
    heads: dict[int, set] = {}
    for t in AuditPurge.objects.order_by("id").iterator(chunk_size=100):
        report.tombstones += 1
        if not signature_valid(tombstone_payload(t), t.key_id, t.signature):
            report.add("tombstone", f"tombstone {t.pk} ({t.reason}): signature does not match its content", t.first_event_id)
        for _event_id, visitor_id, hash_hex in t.leaves:
            heads.setdefault(visitor_id, set()).add(hash_hex)
    return heads


def _verify_chains(report, events, site_keys, purged_heads, trusted_start):
    rows = events.order_by("visitor_id", "id").values_list(
        "id", "visitor_id", "visitor__uuid", "site_id", "created_at", "prev_hash", "event_hash", *CONTENT_FIELDS
    )
    current_visitor, previous_hash = None, None
    for row in rows.iterator(chunk_size=5000):
        event_id, visitor_id, visitor_uuid, site_id, created_at, prev_hash, stored = row[:7]
        fields = dict(zip(CONTENT_FIELDS, row[7:], strict=True))
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
    purged = {}
    report = Report()
    site_keys = dict(Site.objects.filter(pk=visitor.site_id).values_list("id", "key"))
    _verify_chains(report, ConsentEvent.objects.filter(visitor_id=visitor.pk), site_keys, purged, trusted_start=False)
    return {"ok": report.ok, "events": report.events, "problems": [str(p) for p in report.problems]}
